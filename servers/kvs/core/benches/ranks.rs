//! ZRANK and ZRANGE by rank against sorted sets of growing size, through
//! the store's own `execute`: with ranks in O(log n) the time per call
//! grows with the size's logarithm, not with the size. Prints the median
//! of 5 runs of 10,000 calls per size, in nanoseconds per call.

use kvs_core::{Session, Store};
use std::time::Instant;

fn median(mut v: Vec<u128>) -> u128 {
    v.sort_unstable();
    v[v.len() / 2]
}

fn main() {
    println!(
        "{:>10} {:>14} {:>22}",
        "members", "ZRANK ns/call", "ZRANGE (10) ns/call"
    );
    for size in [1_000u64, 10_000, 100_000, 1_000_000] {
        let mut store = Store::new();
        let mut s = Session::new();
        let key = b"z".to_vec();
        for chunk in (0..size).collect::<Vec<_>>().chunks(1000) {
            let mut args: Vec<Vec<u8>> = vec![b"ZADD".to_vec(), key.clone()];
            for i in chunk {
                args.push(((i * 7919) % size).to_string().into_bytes());
                args.push(format!("m{i}").into_bytes());
            }
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            store.execute(&mut s, &refs, 0);
        }
        let mut run = |make: &dyn Fn(u64) -> Vec<Vec<u8>>| {
            let runs: Vec<u128> = (0..5)
                .map(|r| {
                    let start = Instant::now();
                    for i in 0..10_000u64 {
                        let args = make((i * 104_729 + r) % size);
                        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                        std::hint::black_box(store.execute(&mut s, &refs, 0));
                    }
                    start.elapsed().as_nanos() / 10_000
                })
                .collect();
            median(runs)
        };
        let rank = run(&|i| {
            vec![
                b"ZRANK".to_vec(),
                b"z".to_vec(),
                format!("m{i}").into_bytes(),
            ]
        });
        let range = run(&|i| {
            let start = i.to_string().into_bytes();
            let stop = (i + 9).to_string().into_bytes();
            vec![b"ZRANGE".to_vec(), b"z".to_vec(), start, stop]
        });
        println!("{size:>10} {rank:>14} {range:>22}");
    }
}
