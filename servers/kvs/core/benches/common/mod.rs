//! What the store's host benches share: filling a store in batches, and
//! timing a command per call (the median of 5 runs of 10,000 calls).

use kvs_core::{Session, Store};
use std::time::Instant;

/// Runs `args` in the store.
pub fn run(store: &mut Store, s: &mut Session, args: &[Vec<u8>]) -> Vec<u8> {
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    let mut out = Vec::new();
    store.execute(s, &refs, 0).encode_resp2(&mut out);
    out
}

/// Fills key `key` by `command key item... ` in batches of 1000 items,
/// `item(i)` giving item `i`'s arguments, for `i` in `0..size`.
pub fn fill(
    store: &mut Store,
    s: &mut Session,
    command: &str,
    key: &str,
    size: u64,
    item: impl Fn(u64) -> Vec<Vec<u8>>,
) {
    for chunk in (0..size).collect::<Vec<_>>().chunks(1000) {
        let mut args: Vec<Vec<u8>> = vec![command.as_bytes().to_vec()];
        if !key.is_empty() {
            args.push(key.as_bytes().to_vec());
        }
        for &i in chunk {
            args.extend(item(i));
        }
        run(store, s, &args);
    }
}

/// Nanoseconds per call of `call(i)` (the median of 5 runs of 10,000
/// calls; `i` counts the calls).
pub fn per_call(mut call: impl FnMut(u64)) -> u128 {
    let mut runs: Vec<u128> = (0..5u64)
        .map(|r| {
            let start = Instant::now();
            for i in 0..10_000u64 {
                call(r * 10_000 + i);
            }
            start.elapsed().as_nanos() / 10_000
        })
        .collect();
    runs.sort_unstable();
    runs[runs.len() / 2]
}
