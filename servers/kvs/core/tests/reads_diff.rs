//! The differential test of the read commands whose replies RESP3 types
//! apart (maps, sets, doubles, pairs, nulls), in both protocols: seeded
//! random writes and reads on a few small keys of each type go to a
//! kvs-core [`Store`] and to a real Redis 7.0, and every reply (and every
//! keyspace event) must be the same, byte for byte; in the RESP3 run both
//! sides said `HELLO 3`.
//!
//! Covered: GET, MGET, HGETALL, HMGET, HRANDFIELD, HSCAN, SMEMBERS,
//! SINTER, SUNION, SDIFF, SRANDMEMBER, SPOP, SSCAN, SMISMEMBER, ZSCORE,
//! ZMSCORE, ZINCRBY, ZADD INCR, ZRANGE (by rank, score and lex, REV,
//! WITHSCORES), ZRANGEBYSCORE, ZREVRANGE, ZPOPMIN and ZPOPMAX with and
//! without a count, ZRANDMEMBER, ZUNION, ZINTER and ZDIFF WITHSCORES,
//! ZSCAN, ZRANK, LPOP with a count, LPOS, XRANGE, XREAD, XINFO STREAM,
//! and MULTI/EXEC around them (EXEC's array holds each reply as its
//! command writes it).
//!
//! Sets of words are hash tables in Redis, listed in its hash order: the
//! replies of the commands that list them are compared by shape and as
//! multisets of their elements. Counts of SPOP and SRANDMEMBER are
//! never below the set's size, so that both sides keep the same members.
//!
//! Environment: as `redis_diff` (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`,
//! `KVS_DIFF_SEED`), and `KVS_READS_ROUNDS` (default 3000 commands).

mod common;

use common::{Differ, Rng, count, key_prefix, reply_len, seed};
use kvs_core::Protocol;

const HASHES: [&str; 2] = ["h1", "h2"];
const SETS: [&str; 3] = ["t1", "t2", "i1"];
const ZSETS: [&str; 2] = ["z1", "z2"];
const ANY: [&str; 6] = ["s1", "h1", "t1", "z1", "l1", "missing"];
const MEMBERS: [&str; 5] = ["a", "b", "c", "dd", "e"];
const NUMBERS: [&str; 4] = ["1", "2", "30", "-4"];
const SCORES: [&str; 7] = ["1", "2.5", "-3", "0", "1e3", "inf", "-inf"];

fn w(s: &str) -> String {
    s.to_string()
}

/// One command: a write that fills the keys, or a read.
fn command(r: &mut Rng, p: &str, clock: &mut u64) -> Vec<String> {
    let k = |r: &mut Rng, from: &[&str]| format!("{p}{}", r.pick(from));
    let m = |r: &mut Rng| r.pick(&MEMBERS).to_string();
    let sc = |r: &mut Rng| r.pick(&SCORES).to_string();
    let ws = |r: &mut Rng, c: &mut Vec<String>| {
        if r.chance(2) {
            c.push(w("WITHSCORES"));
        }
    };
    let mut c: Vec<String> = match r.below(40) {
        0 => vec![w("SET"), k(r, &["s1", "s2"]), m(r)],
        1 => vec![w("HSET"), k(r, &HASHES), m(r), m(r)],
        2 => vec![w("SADD"), k(r, &["t1", "t2"]), m(r), m(r)],
        3 => vec![w("SADD"), format!("{p}i1"), r.pick(&NUMBERS).to_string()],
        4 => vec![w("ZADD"), k(r, &ZSETS), sc(r), m(r)],
        5 => vec![w("RPUSH"), format!("{p}l1"), m(r), m(r)],
        6 => {
            *clock += 1 + r.below(3);
            vec![w("XADD"), format!("{p}x"), format!("{clock}-1"), m(r), m(r)]
        }
        7 => vec![w("GET"), k(r, &ANY)],
        8 => vec![w("MGET"), k(r, &ANY), k(r, &ANY)],
        9 => vec![w("HGETALL"), k(r, &ANY)],
        10 => vec![w("HMGET"), k(r, &HASHES), m(r), m(r)],
        11 => {
            let mut c = vec![w("HRANDFIELD"), k(r, &HASHES), w("20")];
            if r.chance(2) {
                c.push(w("WITHVALUES"));
            }
            c
        }
        12 => vec![w("HSCAN"), k(r, &HASHES), w("0")],
        13 => vec![w("SMEMBERS"), k(r, &SETS)],
        14 => vec![
            r.pick(&["SINTER", "SUNION", "SDIFF"]).to_string(),
            k(r, &SETS),
            k(r, &SETS),
        ],
        15 => vec![w("SRANDMEMBER"), k(r, &SETS), w("20")],
        16 if r.chance(4) => vec![w("SPOP"), k(r, &SETS), w("20")],
        17 => vec![w("SSCAN"), k(r, &SETS), w("0")],
        18 => vec![w("SMISMEMBER"), k(r, &SETS), m(r), m(r)],
        19 => vec![w("ZSCORE"), k(r, &ZSETS), m(r)],
        20 => vec![w("ZMSCORE"), k(r, &ZSETS), m(r), m(r)],
        21 => vec![w("ZINCRBY"), k(r, &ZSETS), sc(r), m(r)],
        22 => vec![w("ZADD"), k(r, &ZSETS), w("INCR"), sc(r), m(r)],
        23 => {
            let mut c = vec![w("ZRANGE"), k(r, &ZSETS)];
            match r.below(3) {
                0 => c.extend([w("0"), w("-1")]),
                1 => c.extend([w("-inf"), w("+inf"), w("BYSCORE")]),
                _ => c.extend([w("-"), w("+"), w("BYLEX")]),
            }
            if r.chance(3) {
                c.push(w("REV"));
                let n = c.len();
                c.swap(n - 3, n - 4);
            }
            ws(r, &mut c);
            c
        }
        24 => {
            let mut c = vec![w("ZRANGEBYSCORE"), k(r, &ZSETS), w("-inf"), w("inf")];
            ws(r, &mut c);
            c
        }
        25 => {
            let mut c = vec![w("ZREVRANGE"), k(r, &ZSETS), w("0"), w("2")];
            ws(r, &mut c);
            c
        }
        26 => {
            let mut c = vec![r.pick(&["ZPOPMIN", "ZPOPMAX"]).to_string(), k(r, &ZSETS)];
            if r.chance(2) {
                c.push(r.pick(&["1", "2", "0"]).to_string());
            }
            c
        }
        27 => {
            let mut c = vec![w("ZRANDMEMBER"), k(r, &ZSETS), w("20")];
            ws(r, &mut c);
            c
        }
        28 => {
            let mut c = vec![
                r.pick(&["ZUNION", "ZINTER", "ZDIFF"]).to_string(),
                w("2"),
                k(r, &ZSETS),
                k(r, &ZSETS),
            ];
            ws(r, &mut c);
            c
        }
        29 => vec![w("ZSCAN"), k(r, &ZSETS), w("0")],
        30 => vec![w("ZRANK"), k(r, &ZSETS), m(r)],
        31 => vec![w("LPOP"), format!("{p}l1"), w("2")],
        32 => vec![w("LPOS"), format!("{p}l1"), m(r), w("COUNT"), w("0")],
        33 => vec![
            w("XRANGE"),
            format!("{p}x"),
            w("-"),
            w("+"),
            w("COUNT"),
            w("3"),
        ],
        34 => vec![
            w("XREAD"),
            w("COUNT"),
            w("2"),
            w("STREAMS"),
            format!("{p}x"),
            k(r, &["x", "missing"]),
            w("0"),
            w("0"),
        ],
        35 => vec![w("XINFO"), w("STREAM"), format!("{p}x")],
        36 => vec![w("TYPE"), k(r, &ANY)],
        37 => vec![w("DEL"), k(r, &ANY)],
        _ => vec![w("EXISTS"), k(r, &ANY)],
    };
    if c.is_empty() {
        c.push(w("PING"));
    }
    c
}

/// Whether the reply of `words` lists a hash-table set, random members
/// or a scan's batch in an order of its own: compared by shape and as a
/// multiset. (kvs-core lists hash-table sets in its own hash order; a
/// count past the size returns every member, but in its order. Intsets,
/// small hashes and small sorted sets it lists and scans as Redis does:
/// those are compared byte for byte.)
fn unordered(words: &[String]) -> bool {
    let intset = words.get(1).is_some_and(|k| k.ends_with(":i1"));
    match words[0].to_ascii_uppercase().as_str() {
        "SMEMBERS" | "SSCAN" => !intset,
        name => matches!(
            name,
            "SINTER" | "SUNION" | "SDIFF" | "SRANDMEMBER" | "SPOP" | "HRANDFIELD" | "ZRANDMEMBER"
        ),
    }
}

/// A reply as its shape (types and aggregate lengths) and its leaves,
/// sorted: an order-blind view.
fn multiset(reply: &[u8]) -> Vec<u8> {
    let len = reply_len(reply).unwrap_or(reply.len());
    let mut shape = Vec::new();
    let mut leaves: Vec<&[u8]> = Vec::new();
    let mut at = 0;
    while at < len {
        let line_end = at + reply[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        let leaf_len = match reply[at] {
            b'*' | b'~' | b'%' => {
                shape.extend_from_slice(&reply[at..line_end]);
                shape.push(b' ');
                at = line_end + 2;
                continue;
            }
            _ => reply_len(&reply[at..]).unwrap(),
        };
        shape.push(reply[at]);
        leaves.push(&reply[at..at + leaf_len]);
        at += leaf_len;
    }
    leaves.sort();
    shape.extend(leaves.concat());
    shape
}

fn run(protocol: Protocol) {
    let seed = seed();
    let rounds = count("KVS_READS_ROUNDS", 3000);
    let prefix = key_prefix("readsdiff");
    let Some(mut d) = Differ::new("reads_diff", &prefix, seed, &[], protocol) else {
        return;
    };
    let mut r = Rng(seed);
    let mut clock = 0;
    for _ in 0..rounds {
        let words = command(&mut r, &prefix, &mut clock);
        let transaction = r.chance(10) && !unordered(&words);
        if transaction {
            d.step(&[w("MULTI")]);
            d.step(&words);
            let more = command(&mut r, &prefix, &mut clock);
            if !unordered(&more) {
                d.step(&more);
            }
            d.step(&[w("EXEC")]);
        } else if unordered(&words) {
            d.step_with(&words, multiset);
        } else {
            d.step(&words);
        }
    }
    let tally: Vec<String> = d
        .tally
        .iter()
        .map(|(name, (none, some))| format!("{name} {some}+{none}"))
        .collect();
    let keys: Vec<&str> = HASHES
        .iter()
        .chain(&SETS)
        .chain(&ZSETS)
        .chain(&["s1", "s2", "l1", "x"])
        .copied()
        .collect();
    d.finish(&keys);
    eprintln!(
        "reads_diff ({protocol:?}): all {rounds} replies the same (replies with data + errors, nils or empty ones: {})",
        tally.join(", ")
    );
}

#[test]
fn reads_match_redis_7_0() {
    run(Protocol::Resp2);
}

#[test]
fn resp3_reads_match_redis_7_0() {
    run(Protocol::Resp3);
}
