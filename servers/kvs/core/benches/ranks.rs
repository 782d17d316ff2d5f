//! ZRANK and ZRANGE by rank against sorted sets of growing size, through
//! the store's own `execute`: with ranks in O(log n) the time per call
//! grows with the size's logarithm, not with the size. Prints the median
//! of 5 runs of 10,000 calls per size, in nanoseconds per call.

mod common;

use common::{fill, per_call, run};
use kvs_core::{Session, Store};

fn main() {
    println!(
        "{:>10} {:>14} {:>22}",
        "members", "ZRANK ns/call", "ZRANGE (10) ns/call"
    );
    for size in [1_000u64, 10_000, 100_000, 1_000_000] {
        let mut store = Store::new();
        let mut s = Session::new();
        fill(&mut store, &mut s, "ZADD", "z", size, |i| {
            vec![
                ((i * 7919) % size).to_string().into_bytes(),
                format!("m{i}").into_bytes(),
            ]
        });
        let rank = per_call(|i| {
            let i = (i * 104_729) % size;
            let args = vec![
                b"ZRANK".to_vec(),
                b"z".to_vec(),
                format!("m{i}").into_bytes(),
            ];
            std::hint::black_box(run(&mut store, &mut s, &args));
        });
        let range = per_call(|i| {
            let i = (i * 104_729) % size;
            let start = i.to_string().into_bytes();
            let stop = (i + 9).to_string().into_bytes();
            let args = vec![b"ZRANGE".to_vec(), b"z".to_vec(), start, stop];
            std::hint::black_box(run(&mut store, &mut s, &args));
        });
        println!("{size:>10} {rank:>14} {range:>22}");
    }
}
