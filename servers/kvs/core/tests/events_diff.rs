//! The differential test of keyspace notifications over the write
//! commands of every family: seeded random commands from templates
//! (strings, lists, hashes, sets, sorted sets, expiry, RENAME, COPY,
//! MOVE, the STORE commands, bitmaps, HyperLogLog) on a few keys of each
//! type go to a kvs-core [`Store`] and to a real Redis 7.0, both with
//! `notify-keyspace-events KEAn`. After every command the reply and the
//! events (each `db:event:key`, as a subscriber to `__keyevent@*__:*`
//! hears them) must be the same. Expiry is only set far in the future or
//! in the past (the clocks differ).
//!
//! Environment: as `redis_diff` (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`,
//! `KVS_DIFF_SEED`), and `KVS_EVENTS_ROUNDS` (default 3000 commands).

mod common;

use common::{Differ, Rng, count, key_prefix, seed};
use kvs_core::Protocol;

/// The keys, by what they usually hold (any command may meet any type).
const STRINGS: [&str; 3] = ["s1", "s2", "n"];
const LISTS: [&str; 2] = ["l1", "l2"];
const HASHES: [&str; 2] = ["h1", "h2"];
const SETS: [&str; 2] = ["t1", "t2"];
const ZSETS: [&str; 2] = ["z1", "z2"];
const ANY: [&str; 6] = ["s1", "n", "l1", "h1", "t1", "z1"];
const FIELDS: [&str; 3] = ["a", "b", "c"];
const NUMS: [&str; 5] = ["1", "2", "-1", "0", "x"];

fn w(s: &str) -> String {
    s.to_string()
}

fn one(r: &mut Rng, from: &[&str]) -> String {
    r.pick(from).to_string()
}

fn command(r: &mut Rng, p: &str) -> Vec<String> {
    let k = |r: &mut Rng, from: &[&str]| format!("{p}{}", r.pick(from));
    let f = |r: &mut Rng| r.pick(&FIELDS).to_string();
    let n = |r: &mut Rng| r.pick(&NUMS).to_string();
    match r.below(56) {
        0 => vec![w("SET"), k(r, &STRINGS), f(r)],
        1 => vec![w("SET"), k(r, &STRINGS), f(r), w("EX"), w("1000")],
        2 => vec![w("SET"), k(r, &STRINGS), f(r), w("NX")],
        3 => vec![w("SET"), k(r, &STRINGS), f(r), w("KEEPTTL"), w("GET")],
        4 => vec![w("SETEX"), k(r, &STRINGS), w("1000"), f(r)],
        5 => vec![w("SETNX"), k(r, &STRINGS), f(r)],
        6 => vec![w("MSET"), k(r, &STRINGS), f(r), k(r, &STRINGS), f(r)],
        7 => vec![w("MSETNX"), k(r, &STRINGS), f(r), k(r, &STRINGS), f(r)],
        8 => vec![w("GETSET"), k(r, &STRINGS), f(r)],
        9 => vec![w("GETDEL"), k(r, &ANY)],
        10 => vec![w("GETEX"), k(r, &ANY), one(r, &["EX", "PERSIST", "PXAT"])]
            .into_iter()
            .chain(r.chance(2).then(|| w("1000")))
            .collect(),
        11 => vec![one(r, &["INCR", "DECR"]), k(r, &["n", "s1", "l1"])],
        12 => vec![
            one(r, &["INCRBY", "DECRBY", "INCRBYFLOAT"]),
            k(r, &["n", "s1"]),
            n(r),
        ],
        13 => vec![w("APPEND"), k(r, &ANY), f(r)],
        14 => vec![w("SETRANGE"), k(r, &STRINGS), one(r, &["0", "3"]), f(r)],
        15 => vec![w("SETBIT"), k(r, &STRINGS), one(r, &["0", "9"]), w("1")],
        16 => vec![
            w("BITFIELD"),
            k(r, &STRINGS),
            w("SET"),
            w("u8"),
            w("0"),
            n(r),
        ],
        17 => vec![
            w("BITOP"),
            w("OR"),
            k(r, &STRINGS),
            k(r, &STRINGS),
            k(r, &ANY),
        ],
        18 => vec![w("PFADD"), k(r, &["p1", "p2"]), f(r)],
        19 => vec![
            w("PFMERGE"),
            k(r, &["p1", "p2"]),
            k(r, &["p1", "p2", "none"]),
        ],
        20 => vec![
            one(r, &["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
            k(r, &LISTS),
            f(r),
            f(r),
        ],
        21 => vec![one(r, &["LPOP", "RPOP"]), k(r, &LISTS)]
            .into_iter()
            .chain(r.chance(2).then(|| one(r, &["1", "3"])))
            .collect(),
        22 => vec![w("LINSERT"), k(r, &LISTS), w("BEFORE"), f(r), f(r)],
        23 => vec![w("LSET"), k(r, &LISTS), one(r, &["0", "-1", "9"]), f(r)],
        24 => vec![
            w("LTRIM"),
            k(r, &LISTS),
            one(r, &["0", "1", "5"]),
            one(r, &["-1", "0"]),
        ],
        25 => vec![w("LREM"), k(r, &LISTS), w("0"), f(r)],
        26 => vec![
            w("LMOVE"),
            k(r, &LISTS),
            k(r, &LISTS),
            one(r, &["LEFT", "RIGHT"]),
            one(r, &["LEFT", "RIGHT"]),
        ],
        27 => vec![w("RPOPLPUSH"), k(r, &LISTS), k(r, &LISTS)],
        28 => vec![
            w("LMPOP"),
            w("2"),
            k(r, &LISTS),
            k(r, &LISTS),
            w("RIGHT"),
            w("COUNT"),
            w("2"),
        ],
        29 => vec![
            one(r, &["HSET", "HMSET", "HSETNX"]),
            k(r, &HASHES),
            f(r),
            f(r),
        ],
        30 => vec![w("HDEL"), k(r, &HASHES), f(r), f(r)],
        31 => vec![
            one(r, &["HINCRBY", "HINCRBYFLOAT"]),
            k(r, &HASHES),
            f(r),
            n(r),
        ],
        32 => vec![w("SADD"), k(r, &SETS), f(r), f(r)],
        33 => vec![w("SREM"), k(r, &SETS), f(r)],
        34 => vec![w("SMOVE"), k(r, &SETS), k(r, &SETS), f(r)],
        35 => vec![
            one(r, &["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            k(r, &SETS),
            k(r, &SETS),
            k(r, &SETS),
        ],
        36 => vec![w("ZADD"), k(r, &ZSETS), n(r), f(r)],
        37 => vec![
            w("ZADD"),
            k(r, &ZSETS),
            one(r, &["INCR", "NX", "XX", "GT"]),
            n(r),
            f(r),
        ],
        38 => vec![w("ZINCRBY"), k(r, &ZSETS), n(r), f(r)],
        39 => vec![w("ZREM"), k(r, &ZSETS), f(r)],
        40 => vec![one(r, &["ZPOPMIN", "ZPOPMAX"]), k(r, &ZSETS)],
        41 => vec![w("ZREMRANGEBYSCORE"), k(r, &ZSETS), w("-inf"), n(r)],
        42 => vec![w("ZREMRANGEBYRANK"), k(r, &ZSETS), w("0"), w("0")],
        43 => vec![w("ZREMRANGEBYLEX"), k(r, &ZSETS), w("-"), w("[b")],
        44 => vec![
            one(r, &["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
            k(r, &ZSETS),
            w("2"),
            k(r, &ZSETS),
            k(r, &ZSETS),
        ],
        45 => vec![
            w("ZRANGESTORE"),
            k(r, &ZSETS),
            k(r, &ZSETS),
            w("0"),
            one(r, &["-1", "0"]),
        ],
        46 => vec![w("ZMPOP"), w("1"), k(r, &ZSETS), one(r, &["MIN", "MAX"])],
        47 => vec![
            one(r, &["EXPIRE", "PEXPIRE"]),
            k(r, &ANY),
            one(r, &["100000", "-5"]),
        ],
        48 => vec![w("EXPIREAT"), k(r, &ANY), one(r, &["99999999999", "1"])],
        49 => vec![w("PERSIST"), k(r, &ANY)],
        50 => vec![one(r, &["DEL", "UNLINK"]), k(r, &ANY), k(r, &ANY)],
        51 => vec![one(r, &["RENAME", "RENAMENX"]), k(r, &ANY), k(r, &ANY)],
        52 => vec![w("COPY"), k(r, &ANY), k(r, &ANY)]
            .into_iter()
            .chain(r.chance(2).then(|| w("REPLACE")))
            .collect(),
        53 => vec![w("MOVE"), k(r, &ANY), w("1")],
        54 => vec![
            w("SORT"),
            k(r, &["l1", "t1", "z1"]),
            w("ALPHA"),
            w("STORE"),
            k(r, &LISTS),
        ],
        _ => vec![w("SELECT"), one(r, &["0", "0", "1"])],
    }
}

#[test]
fn keyspace_events_match_redis_7_0() {
    run(Protocol::Resp2);
}

/// The same in RESP3: every reply as Redis writes it to a client that
/// said `HELLO 3`.
#[test]
fn resp3_replies_match_redis_7_0() {
    run(Protocol::Resp3);
}

fn run(protocol: Protocol) {
    let seed = seed();
    let rounds = count("KVS_EVENTS_ROUNDS", 3000);
    let prefix = key_prefix("eventsdiff");
    let Some(mut d) = Differ::new("events_diff", &prefix, seed, &[], protocol) else {
        return;
    };
    let mut r = Rng(seed);
    for _ in 0..rounds {
        d.step(&command(&mut r, &prefix));
    }
    let heard = d.heard;
    let keys: Vec<&str> = STRINGS
        .iter()
        .chain(&LISTS)
        .chain(&HASHES)
        .chain(&SETS)
        .chain(&ZSETS)
        .chain(&["p1", "p2"])
        .copied()
        .collect();
    d.finish(&keys);
    eprintln!("events_diff: all {rounds} replies and {heard} events the same");
}
