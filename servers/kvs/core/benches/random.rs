//! The commands Redis documents as O(1) (RANDOMKEY, SRANDMEMBER, SPOP,
//! HRANDFIELD, ZRANDMEMBER) and the scans it documents as O(1) per call
//! for a fixed COUNT (SCAN, SSCAN, HSCAN, ZSCAN COUNT 10, following the
//! cursor), against collections of growing size, through the store's own
//! `execute`: the time per call must not grow with the size (but for the
//! caches'). SPOP is timed with the SADD that puts the member back, so
//! that the set keeps its size. Prints nanoseconds per call, the median
//! of 5 runs of 10,000 calls.

mod common;

use common::{fill, per_call, run};
use kvs_core::{Session, Store};

fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

/// The cursor in a SCAN-family reply (`*2 $n cursor …`).
fn cursor(reply: &[u8]) -> Vec<u8> {
    let text = &reply[reply.iter().position(|&b| b == b'\n').unwrap() + 1..];
    let text = &text[text.iter().position(|&b| b == b'\n').unwrap() + 1..];
    text[..text.iter().position(|&b| b == b'\r').unwrap()].to_vec()
}

fn main() {
    let names = [
        "RANDOMKEY",
        "SRANDMEMBER",
        "SPOP+SADD",
        "HRANDFIELD",
        "ZRANDMEMBER",
        "SCAN",
        "SSCAN",
        "HSCAN",
        "ZSCAN",
    ];
    print!("{:>10}", "size");
    for n in names {
        print!(" {n:>12}");
    }
    println!();
    for size in [1_000u64, 10_000, 100_000, 1_000_000] {
        let mut store = Store::new();
        let mut s = Session::new();
        let member = |i: u64| format!("m{i}").into_bytes();
        fill(&mut store, &mut s, "MSET", "", size, |i| {
            vec![member(i), b"v".to_vec()]
        });
        fill(&mut store, &mut s, "SADD", "s", size, |i| vec![member(i)]);
        fill(&mut store, &mut s, "HSET", "h", size, |i| {
            vec![member(i), b"v".to_vec()]
        });
        fill(&mut store, &mut s, "ZADD", "z", size, |i| {
            vec![i.to_string().into_bytes(), member(i)]
        });
        let mut figures = Vec::new();
        for (name, command) in [
            ("RANDOMKEY", args(&[b"RANDOMKEY"])),
            ("SRANDMEMBER", args(&[b"SRANDMEMBER", b"s"])),
            ("HRANDFIELD", args(&[b"HRANDFIELD", b"h"])),
            ("ZRANDMEMBER", args(&[b"ZRANDMEMBER", b"z"])),
        ] {
            let ns = per_call(|_| {
                std::hint::black_box(run(&mut store, &mut s, &command));
            });
            figures.push((name, ns));
        }
        let ns = per_call(|_| {
            let popped = run(&mut store, &mut s, &args(&[b"SPOP", b"s"]));
            // `$len\r\nmember\r\n`: put it back.
            let at = popped.iter().position(|&b| b == b'\n').unwrap() + 1;
            let m = popped[at..popped.len() - 2].to_vec();
            run(&mut store, &mut s, &[b"SADD".to_vec(), b"s".to_vec(), m]);
        });
        figures.push(("SPOP+SADD", ns));
        for (name, key) in [("SCAN", ""), ("SSCAN", "s"), ("HSCAN", "h"), ("ZSCAN", "z")] {
            let mut at = b"0".to_vec();
            let ns = per_call(|_| {
                let mut command = vec![name.as_bytes().to_vec()];
                if !key.is_empty() {
                    command.push(key.as_bytes().to_vec());
                }
                command.extend([at.clone(), b"COUNT".to_vec(), b"10".to_vec()]);
                at = cursor(&run(&mut store, &mut s, &command));
            });
            figures.push((name, ns));
        }
        print!("{size:>10}");
        for n in names {
            let ns = figures.iter().find(|(f, _)| *f == n).unwrap().1;
            print!(" {ns:>12}");
        }
        println!();
    }
}
