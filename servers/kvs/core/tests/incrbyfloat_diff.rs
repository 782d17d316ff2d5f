//! INCRBYFLOAT and HINCRBYFLOAT against a real Redis 7.0, which computes
//! them in x87 `long double`: seeded chains of increments of every size
//! (integers, short and long decimals, exponents from 1e-30 to 1e30,
//! negative ones, increments that cancel), on values SET or HSET to such
//! numbers, must give the same digits, byte for byte, as must the errors
//! (not a float, overflow to infinity, `inf`, grammar mistakes). Long
//! chains matter: there Redis's 64-bit significand and an `f64` drift
//! apart.
//!
//! Environment: as `redis_diff` (`KVS_DIFF_ADDR`, `KVS_DIFF_REQUIRED`,
//! `KVS_DIFF_SEED`), and `KVS_FLOAT_ROUNDS` (default 3000 commands).

mod common;

use common::{Differ, Rng, count, key_prefix, seed};
use kvs_core::Protocol;

/// A number as a client might write one.
fn number(r: &mut Rng) -> String {
    let sign = if r.chance(3) { "-" } else { "" };
    match r.below(10) {
        0 => format!("{sign}{}", r.below(1000)),
        1 => format!("{sign}{}.{}", r.below(100), r.below(100)),
        2 => format!("{sign}0.{:03}", r.below(1000)),
        3 => {
            let digits: String = (0..1 + r.below(25))
                .map(|_| char::from(b'0' + r.below(10) as u8))
                .collect();
            format!("{sign}{}.{digits}", r.below(10_000))
        }
        4 => format!("{sign}{}e{}", 1 + r.below(99), r.range(-30, 30)),
        5 => format!("{sign}{}.{}E+{}", r.below(10), r.below(1000), r.below(20)),
        6 => format!("{sign}0.5"),
        7 => format!("{sign}{}", r.below(1 << 62) as i64),
        8 => format!("{sign}.{}", r.below(1000)),
        _ => format!("{sign}{}.", r.below(100)),
    }
}

/// Something that is no float, or overflows, or is infinite.
fn bad(r: &mut Rng) -> String {
    r.pick(&[
        "abc", "1e", "1.2.3", " 1", "nan", "inf", "-inf", "1e5000", "1e-5000", "", "0x10",
    ])
    .to_string()
}

fn run(protocol: Protocol) {
    let prefix = key_prefix("incrbyfloat_diff");
    let seed = seed();
    let Some(mut d) = Differ::new("incrbyfloat_diff", &prefix, seed, &[], protocol) else {
        return;
    };
    let mut r = Rng(seed);
    let key = |r: &mut Rng| format!("{prefix}{}", r.pick(&["f1", "f2", "h"]));
    for _ in 0..count("KVS_FLOAT_ROUNDS", 3000) {
        let k = key(&mut r);
        let words: Vec<String> = match r.below(20) {
            0 => vec!["SET".into(), k, number(&mut r)],
            1 => vec!["INCRBYFLOAT".into(), k, bad(&mut r)],
            2 => vec![
                "HSET".into(),
                format!("{prefix}h"),
                r.pick(&["a", "b"]).to_string(),
                number(&mut r),
            ],
            3 | 4 => vec![
                "HINCRBYFLOAT".into(),
                format!("{prefix}h"),
                r.pick(&["a", "b"]).to_string(),
                if r.chance(8) {
                    bad(&mut r)
                } else {
                    number(&mut r)
                },
            ],
            5 => vec!["GET".into(), k],
            6 => vec!["DEL".into(), k],
            // A far bigger value, now and then: overflow tests.
            7 if r.chance(10) => vec!["SET".into(), k, "1e4932".into()],
            _ => vec!["INCRBYFLOAT".into(), k, number(&mut r)],
        };
        d.step(&words);
    }
    d.finish(&["f1", "f2", "h"]);
}

#[test]
fn increments_match_redis_7_0() {
    run(Protocol::Resp2);
}

#[test]
fn resp3_increments_match_redis_7_0() {
    run(Protocol::Resp3);
}
