//! `cargo xtask fuzz redis`: the differential tests against a real Redis
//! 7.0 (kvs-core's and resp's, in release builds), long: each runs
//! `sequences` commands (steps, streams) for each of K seeds from N,
//! against a `redis-server` of its own. `cargo xtask test` runs them
//! short, with seeds from the clock; a failure here names the seed and
//! the command that replays it.

use crate::build;
use crate::tools::{PrivateRedis, private_redis};
use crate::{Result, fail};

/// Each differential test: its package, its name, and the variables
/// that set its length and its seed.
const TESTS: [(&str, &str, &str, &str); 10] = [
    ("kvs-core", "redis_diff", "KVS_DIFF_ROUNDS", "KVS_DIFF_SEED"),
    (
        "kvs-core",
        "reads_diff",
        "KVS_READS_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    (
        "kvs-core",
        "streams_diff",
        "KVS_STREAMS_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    (
        "kvs-core",
        "events_diff",
        "KVS_EVENTS_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    (
        "kvs-core",
        "incrbyfloat_diff",
        "KVS_FLOAT_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    (
        "kvs-core",
        "blocking_diff",
        "KVS_BLOCK_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    (
        "kvs-core",
        "scripting_diff",
        "KVS_SCRIPT_ROUNDS",
        "KVS_DIFF_SEED",
    ),
    ("resp", "wire_diff", "WIRE_DIFF_STREAMS", "WIRE_DIFF_SEED"),
    (
        "resp",
        "pubsub_diff",
        "PUBSUB_DIFF_STEPS",
        "PUBSUB_DIFF_SEED",
    ),
    (
        "resp",
        "tracking_diff",
        "TRACKING_DIFF_STEPS",
        "TRACKING_DIFF_SEED",
    ),
];

/// Runs every test for seeds `seed .. seed + seeds`, `sequences` long;
/// fails on the first that does not pass.
pub fn run(seed: u64, seeds: u64, sequences: u64) -> Result<()> {
    let redis = private_redis()?;
    for seed in seed..seed + seeds {
        for test in TESTS {
            one(&redis, test, seed, sequences)?;
        }
    }
    println!(
        "fuzz redis: {} tests × {seeds} seeds × {sequences} the same as redis-server's",
        TESTS.len()
    );
    Ok(())
}

fn one(
    redis: &PrivateRedis,
    (package, test, length, seed_var): (&str, &str, &str, &str),
    seed: u64,
    sequences: u64,
) -> Result<()> {
    let started = std::time::Instant::now();
    let mut c = build::cargo();
    c.args(["test", "--release", "-p", package, "--test", test])
        .env("KVS_DIFF_ADDR", format!("127.0.0.1:{}", redis.port))
        .env("KVS_DIFF_OWN_SERVER", "1")
        .env("KVS_DIFF_REQUIRED", "1")
        .env(length, sequences.to_string())
        .env(seed_var, seed.to_string());
    let output = c.output()?;
    if !output.status.success() {
        // The test's own words: the commands before the difference.
        let text = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for line in tail.into_iter().rev() {
            eprintln!("{line}");
        }
        return Err(fail!(
            "{test} failed with seed {seed}; replay it with\n  \
             {seed_var}={seed} {length}={sequences} KVS_DIFF_REQUIRED=1 cargo test --release -p {package} --test {test}\n  \
             against a redis-server 7.0 on 127.0.0.1:7777 (KVS_DIFF_ADDR names another)"
        ));
    }
    println!(
        "ok   {test}, seed {seed}, {sequences} ({:.0} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
