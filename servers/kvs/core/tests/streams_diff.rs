//! The differential test of the stream commands without consumer groups:
//! seeded random XADD (explicit and `ms-*` IDs, NOMKSTREAM, MAXLEN and
//! MINID with `=`, `~` and LIMIT), XLEN, XRANGE, XREVRANGE (exclusive
//! bounds, COUNT), XDEL, XTRIM, XSETID and XREAD (without BLOCK; the
//! blocking one is `blocking_diff`'s), consumer groups, and XINFO (its
//! clock-made times masked), with junk arguments among them,
//! on two streams and a string, against a real Redis 7.0: replies and
//! keyspace events must be the same after every command. Auto IDs (`*`)
//! are left out: they come from the clocks, which differ.
//!
//! Environment: as `redis_diff` (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`,
//! `KVS_DIFF_SEED`), and `KVS_STREAMS_ROUNDS` (default 3000 commands).

mod common;

use common::{Differ, Rng, count, key_prefix, seed};
use kvs_core::Protocol;

const KEYS: [&str; 3] = ["x1", "x2", "str"];
/// Where DUMP payloads are restored: Redis's into both, and kvs-core's.
const COPIES: [&str; 3] = ["theirs", "ours", "fresh"];

fn one(r: &mut Rng, from: &[&str]) -> String {
    r.pick(from).to_string()
}

/// An ID near the others: small milliseconds and sequence numbers, so
/// that IDs meet, and now and then an edge.
fn id(r: &mut Rng) -> String {
    match r.below(12) {
        0 => one(
            r,
            &[
                "0-0",
                "0-1",
                "18446744073709551615-18446744073709551615",
                "x",
                "1-x",
                "-",
                "+",
            ],
        ),
        1 => r.range(0, 30).to_string(),
        _ => format!("{}-{}", r.range(0, 30), r.range(0, 3)),
    }
}

/// An ID near the newest entries (XADD's clock).
fn recent(r: &mut Rng, clock: u64) -> String {
    format!("{}-{}", clock.saturating_sub(r.below(4)), r.below(2))
}

fn bound(r: &mut Rng, end: bool) -> String {
    match r.below(6) {
        0 => (if end { "+" } else { "-" }).to_string(),
        1 => format!("({}", id(r)),
        _ => id(r),
    }
}

fn trim_args(r: &mut Rng, out: &mut Vec<String>) {
    if r.chance(2) {
        out.push(one(r, &["MAXLEN", "MINID", "maxlen"]));
    }
    if r.chance(2) {
        out.push(one(r, &["=", "~"]));
    }
    if r.chance(6) {
        out.push(one(r, &["x", "-1"]));
    } else if out.last().is_some_and(|w| w.eq_ignore_ascii_case("minid")) || r.chance(3) {
        out.push(id(r));
    } else {
        out.push(r.range(0, 12).to_string());
    }
    if r.chance(4) {
        out.push("LIMIT".into());
        out.push(one(r, &["0", "1", "5", "100", "-1"]));
    }
}

/// A consumer group's command: XGROUP's subcommands, XREADGROUP
/// (without BLOCK), XACK, XPENDING, XCLAIM and XAUTOCLAIM, over two
/// groups and three
/// consumers.
fn group_command(r: &mut Rng, key: String, clock: u64) -> Vec<String> {
    let group = one(r, &["g1", "g2", "g1", "nog"]);
    let consumer = one(r, &["c1", "c2", "c3"]);
    let mut c: Vec<String> = Vec::new();
    match r.below(11) {
        9 | 10 => {
            c.push("XINFO".into());
            match r.below(7) {
                0 => c.extend(["GROUPS".into(), key]),
                1 => c.extend(["CONSUMERS".into(), key, group]),
                2 => c.extend(["STREAM".into(), key]),
                3 | 4 => {
                    c.extend(["STREAM".into(), key, "FULL".into()]);
                    if r.chance(2) {
                        c.push("COUNT".into());
                        c.push(one(r, &["0", "1", "2", "-1", "x"]));
                    }
                }
                5 => c.push(one(r, &["HELP", "FOO", "STREAM"])),
                _ => {
                    c.extend(["STREAM".into(), key]);
                    c.push(one(r, &["FULL", "full", "x"]));
                    c.push(one(r, &["COUNT", "x"]));
                }
            }
        }
        8 => {
            c.extend(["XAUTOCLAIM".into(), key, group, consumer, "0".into()]);
            c.push(match r.below(4) {
                0 => "-".into(),
                1 => format!("({}", recent(r, clock)),
                _ => recent(r, clock),
            });
            if r.chance(2) {
                c.push("COUNT".into());
                c.push(one(r, &["1", "2", "3", "0", "x"]));
            }
            if r.chance(3) {
                c.push("JUSTID".into());
            }
        }
        0 => {
            c.extend(["XGROUP".into(), "CREATE".into(), key, group]);
            c.push(if r.chance(3) { "$".into() } else { id(r) });
            if r.chance(2) {
                c.push("MKSTREAM".into());
            }
            if r.chance(4) {
                c.push("ENTRIESREAD".into());
                c.push(one(r, &["-1", "3", "-2"]));
            }
        }
        1 => {
            let sub = one(
                r,
                &["SETID", "DESTROY", "CREATECONSUMER", "DELCONSUMER", "FOO"],
            );
            c.extend(["XGROUP".into(), sub.clone(), key, group]);
            match sub.as_str() {
                "SETID" => c.push(if r.chance(3) { "$".into() } else { id(r) }),
                "CREATECONSUMER" | "DELCONSUMER" => c.push(consumer),
                _ => {}
            }
        }
        2 | 3 => {
            c.extend(["XREADGROUP".into(), "GROUP".into(), group, consumer]);
            if r.chance(2) {
                c.push("COUNT".into());
                c.push(one(r, &["1", "2", "0"]));
            }
            if r.chance(4) {
                c.push("NOACK".into());
            }
            c.extend(["STREAMS".into(), key]);
            c.push(if r.chance(3) { id(r) } else { ">".into() });
        }
        4 => {
            c.extend(["XACK".into(), key, group]);
            for _ in 0..r.range(1, 3) {
                c.push(if r.chance(3) { id(r) } else { recent(r, clock) });
            }
        }
        5 => {
            c.extend(["XPENDING".into(), key, group]);
            if r.chance(2) {
                if r.chance(4) {
                    c.extend(["IDLE".into(), "0".into()]);
                }
                c.extend([bound(r, false), bound(r, true)]);
                c.push(one(r, &["10", "1", "0", "-1", "x"]));
                if r.chance(2) {
                    c.push(consumer);
                }
            }
        }
        _ => {
            c.extend(["XCLAIM".into(), key, group, consumer, "0".into()]);
            for _ in 0..r.range(1, 3) {
                c.push(if r.chance(3) { id(r) } else { recent(r, clock) });
            }
            for opt in ["JUSTID", "FORCE"] {
                if r.chance(3) {
                    c.push(opt.into());
                }
            }
            if r.chance(3) {
                c.extend(["RETRYCOUNT".into(), one(r, &["0", "5", "x"])]);
            }
            if r.chance(4) {
                c.extend(["LASTID".into(), id(r)]);
            }
        }
    }
    c
}

/// XINFO's reply with what the clocks made zeroed: the value after an
/// `idle` or a `seen-time`, and every time in milliseconds since 1970
/// (FULL's delivery times).
fn mask_clocks(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    let mut after_clock_name = false;
    for line in text.split_inclusive("\r\n") {
        let bare = line.trim_end();
        let clock_value = bare
            .strip_prefix(':')
            .and_then(|n| n.parse::<i64>().ok())
            .is_some_and(|n| after_clock_name || n >= 1_000_000_000_000);
        if clock_value {
            out.push_str(":0\r\n");
        } else {
            out.push_str(line);
        }
        if !bare.starts_with('$') {
            after_clock_name = bare == "idle" || bare == "seen-time";
        }
    }
    out.into_bytes()
}

/// XPENDING's extended reply with its idle times (clock-made) zeroed:
/// every other integer, from the first.
fn mask_idle(reply: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(reply);
    let mut out = String::new();
    let mut n = 0;
    for line in text.split_inclusive("\r\n") {
        if line.starts_with(':') {
            if n % 2 == 0 {
                out.push_str(":0\r\n");
            } else {
                out.push_str(line);
            }
            n += 1;
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

fn command(r: &mut Rng, p: &str, clock: &mut u64) -> Vec<String> {
    let key = |r: &mut Rng| format!("{p}{}", one(r, &KEYS));
    let mut c: Vec<String> = Vec::new();
    match r.below(22) {
        14..=21 => {
            let k = key(r);
            return group_command(r, k, *clock);
        }
        0..=4 => {
            c.push("XADD".into());
            c.push(key(r));
            if r.chance(8) {
                c.push("NOMKSTREAM".into());
            }
            if r.chance(3) {
                trim_args(r, &mut c);
            }
            // Mostly a later millisecond than the last (the IDs of the
            // others come from the same small range), so that most
            // entries go in.
            c.push(match r.below(4) {
                0 | 1 => {
                    *clock += r.below(3);
                    format!("{clock}-*")
                }
                2 => format!("{}-*", r.range(0, 30)),
                _ => id(r),
            });
            for _ in 0..r.range(0, 2) {
                c.push(one(r, &["f", "g"]));
                c.push(one(r, &["1", "v"]));
            }
            if r.chance(10) {
                c.push("odd".into());
            }
        }
        5 => c.extend(["XLEN".to_string(), key(r)]),
        6 | 7 => {
            let rev = r.chance(2);
            c.push((if rev { "XREVRANGE" } else { "XRANGE" }).into());
            c.push(key(r));
            let (a, b) = (bound(r, !rev), bound(r, rev));
            c.extend([a, b]);
            if r.chance(2) {
                c.push("COUNT".into());
                c.push(one(r, &["0", "1", "2", "5", "-1", "x"]));
            }
        }
        8 => {
            c.extend(["XDEL".to_string(), key(r)]);
            for _ in 0..r.range(1, 3) {
                c.push(id(r));
            }
        }
        9 => {
            c.extend(["XTRIM".to_string(), key(r)]);
            trim_args(r, &mut c);
        }
        10 => {
            c.extend(["XSETID".to_string(), key(r), id(r)]);
            if r.chance(2) {
                c.push("ENTRIESADDED".into());
                c.push(one(r, &["0", "5", "100", "-1"]));
            }
            if r.chance(2) {
                c.push("MAXDELETEDID".into());
                c.push(id(r));
            }
        }
        11 | 12 => {
            c.push("XREAD".into());
            if r.chance(2) {
                c.push("COUNT".into());
                c.push(one(r, &["0", "1", "2", "-1", "x"]));
            }
            c.push("STREAMS".into());
            let n = r.range(1, 2);
            let keys: Vec<String> = (0..n).map(|_| key(r)).collect();
            let ids: Vec<String> = (0..n)
                .map(|_| if r.chance(4) { "$".to_string() } else { id(r) })
                .collect();
            c.extend(keys);
            c.extend(ids);
            if r.chance(10) {
                c.pop();
            }
        }
        _ => match r.below(4) {
            0 => c.extend(["DEL".to_string(), key(r)]),
            1 => c.extend(["SET".to_string(), format!("{p}str"), "v".into()]),
            2 => c.extend(["TYPE".to_string(), key(r)]),
            _ => c.extend(["OBJECT".to_string(), "ENCODING".into(), key(r)]),
        },
    }
    c
}

/// DUMP of a stream, both ways: Redis's payload RESTOREd on both sides,
/// and kvs-core's RESTOREd on both (Redis must take it), each to a key of
/// its own; then the copies are read on both sides (every entry, and
/// XINFO STREAM FULL, its clock-made times masked), and must be the same.
/// A DUMP of the streams the test plays with is not compared byte for
/// byte (its groups' times come from the clocks, and Redis keeps XDEL'd
/// entries in its listpacks), but that of a stream made afresh by XADDs
/// (entries with the first's fields and others, across nodes) is.
fn dump_and_restore(d: &mut Differ, r: &mut Rng, p: &str) {
    let fresh = format!("{p}fresh");
    d.step(&["DEL".to_string(), fresh.clone()]);
    for i in 0..r.range(1, 12) {
        let mut xadd = vec![
            "XADD".to_string(),
            fresh.clone(),
            format!("{}-{}", 1 + i / 3, i % 3),
        ];
        for _ in 0..r.range(1, 3) {
            xadd.push(one(r, &["f", "g", "field"]));
            xadd.push(one(
                r,
                &["1", "v", "-7", "a longer value, past a few bytes"],
            ));
        }
        d.step(&xadd);
    }
    d.step(&["DUMP".to_string(), fresh]);
    let key = format!("{p}{}", one(r, &KEYS[..2]));
    let theirs = d.redis.call(&[b"DUMP".to_vec(), key.clone().into_bytes()]);
    let ours = match d.ours(&[b"DUMP".to_vec(), key.clone().into_bytes()]) {
        kvs_core::Reply::Bulk(payload) => payload,
        other => panic!("DUMP {key}: {other:?}"),
    };
    // `$len\r\npayload\r\n`, or nil for a missing key on both sides.
    let theirs = theirs
        .iter()
        .position(|&b| b == b'\n')
        .filter(|_| theirs.starts_with(b"$") && !theirs.starts_with(b"$-1"))
        .map(|at| theirs[at + 1..theirs.len() - 2].to_vec());
    assert_eq!(
        theirs.is_some(),
        ours.is_some(),
        "DUMP {key}: a payload on one side only"
    );
    let (Some(theirs), Some(ours)) = (theirs, ours) else {
        return;
    };
    for (copy, payload) in COPIES.iter().zip([theirs, ours]) {
        let copy = format!("{p}{copy}");
        let restore = [
            b"RESTORE".to_vec(),
            copy.clone().into_bytes(),
            b"0".to_vec(),
            payload,
            b"REPLACE".to_vec(),
        ];
        d.step_args(&restore, |r| r.to_vec());
        d.step(&["XRANGE".to_string(), copy.clone(), "-".into(), "+".into()]);
        d.step_with(
            &[
                "XINFO".to_string(),
                "STREAM".into(),
                copy.clone(),
                "FULL".into(),
            ],
            mask_clocks,
        );
        d.step(&["XLEN".to_string(), copy]);
    }
}

#[test]
fn streams_match_redis_7_0() {
    run(Protocol::Resp2);
}

/// The same in RESP3: XREAD's and XINFO's maps among them.
#[test]
fn resp3_streams_match_redis_7_0() {
    run(Protocol::Resp3);
}

fn run(protocol: Protocol) {
    let seed = seed();
    let rounds = count("KVS_STREAMS_ROUNDS", 3000);
    let prefix = key_prefix("streamsdiff");
    // Small nodes, so that approximate trimming's whole nodes come into
    // play with few entries: of 3 entries whatever their bytes for even
    // seeds, of at most 6 and fewer than 70 bytes (a few entries of these
    // short fields, fewer when their names differ from the first's) for
    // odd ones.
    let (entries, bytes) = if seed.is_multiple_of(2) {
        ("3", "0")
    } else {
        ("6", "70")
    };
    let params = [
        ("stream-node-max-entries", entries, "100"),
        ("stream-node-max-bytes", bytes, "4096"),
    ];
    let Some(mut d) = Differ::new("streams_diff", &prefix, seed, &params, protocol) else {
        return;
    };
    let mut r = Rng(seed);
    // Past the small IDs the others use.
    let mut clock = 31;
    for _ in 0..rounds {
        if r.chance(25) {
            dump_and_restore(&mut d, &mut r, &prefix);
            continue;
        }
        let words = command(&mut r, &prefix, &mut clock);
        if words[0] == "XPENDING" && words.len() > 3 {
            d.step_with(&words, mask_idle);
        } else if words[0] == "XINFO" {
            d.step_with(&words, mask_clocks);
        } else {
            d.step(&words);
        }
    }
    let heard = d.heard;
    let tally: Vec<String> = d
        .tally
        .iter()
        .map(|(name, (none, some))| format!("{name} {some}+{none}"))
        .collect();
    d.finish(&[KEYS.as_slice(), COPIES.as_slice()].concat());
    eprintln!(
        "streams_diff: all {rounds} replies and {heard} events the same (replies with data + errors, nils or empty ones: {})",
        tally.join(", ")
    );
}
