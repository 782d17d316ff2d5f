//! What a script costs next to the commands it runs, through the store's
//! own `execute`: GET and INCR alone; the same through `EVALSHA` (a call
//! to the cached script, `redis.call` and the conversions); a script that
//! loops over Lua alone (a sum of 1..100, string building); and a
//! function through `FCALL`. Prints nanoseconds per call, the median of 5
//! runs of 10,000 calls. A measurement, not a test: docs/scripting.md
//! has its figures.

mod common;

use common::{fill, per_call, run};
use kvs_core::{Session, Store};

fn args(words: &[&[u8]]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.to_vec()).collect()
}

/// `SCRIPT LOAD body`: the SHA1 it answers.
fn load(store: &mut Store, s: &mut Session, body: &[u8]) -> Vec<u8> {
    let reply = run(store, s, &args(&[b"SCRIPT", b"LOAD", body]));
    // `$40\r\n<sha>\r\n`
    reply[5..45].to_vec()
}

fn main() {
    let mut store = Store::new();
    let mut s = Session::new();
    fill(&mut store, &mut s, "MSET", "", 1, |_| {
        args(&[b"k", b"value"])
    });
    let get = load(&mut store, &mut s, b"return redis.call('GET', KEYS[1])");
    let incr = load(&mut store, &mut s, b"return redis.call('INCR', KEYS[1])");
    let sum = load(
        &mut store,
        &mut s,
        b"local n = 0 for i = 1, 100 do n = n + i end return n",
    );
    let text = load(
        &mut store,
        &mut s,
        b"local t = {} for i = 1, 20 do t[#t + 1] = tostring(i) end return table.concat(t, ',')",
    );
    run(
        &mut store,
        &mut s,
        &args(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=b\nredis.register_function('get', function(keys) return redis.call('GET', keys[1]) end)",
        ]),
    );
    let cases: Vec<(&str, Vec<Vec<u8>>)> = vec![
        ("GET", args(&[b"GET", b"k"])),
        ("EVALSHA get", args(&[b"EVALSHA", &get, b"1", b"k"])),
        ("FCALL get", args(&[b"FCALL", b"get", b"1", b"k"])),
        ("INCR", args(&[b"INCR", b"n"])),
        ("EVALSHA incr", args(&[b"EVALSHA", &incr, b"1", b"n"])),
        ("EVALSHA sum 1..100", args(&[b"EVALSHA", &sum, b"0"])),
        ("EVALSHA concat 20", args(&[b"EVALSHA", &text, b"0"])),
    ];
    for (name, command) in cases {
        let ns = per_call(|_| {
            std::hint::black_box(run(&mut store, &mut s, &command));
        });
        println!("{name:>20} {ns:>8} ns");
    }
}
