//! memcached's own conformance checker, `memccapable` (Debian's
//! `libmemcached-tools`), against the front end: a TCP server on a free
//! port of 127.0.0.1 runs the protocol over an in-process store, one
//! thread per connection (text served in rounds, binary at once, as the
//! component serves them), and `memccapable -a` (its ASCII tests) and
//! `memccapable -b` (its binary tests) must each print `All tests
//! passed`.
//!
//! Without `memccapable` the test says so and passes, unless
//! `MC_DIFF_REQUIRED=1` (as `cargo xtask test` sets): then it fails.

use kvs_api::mc::Local;
use memcached::round::Batch;
use memcached::{Connection, Flow, Frontend, Limits};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

type Shared = Arc<Mutex<(Local<fn() -> u64>, Frontend, Batch)>>;

/// Serves one client until it closes or the protocol closes.
fn serve(mut stream: TcpStream, shared: Shared) {
    let mut conn = Connection::new(Limits::default());
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let mut input = &buf[..n];
        loop {
            let mut out = Vec::new();
            let flow = {
                let mut guard = shared.lock().unwrap();
                let (cache, front, batch) = &mut *guard;
                let now = now_ms() / 1000;
                if conn.speaks_binary(input) {
                    conn.receive(input, cache, front, now, &mut out)
                } else {
                    // Rounds of this connection alone: the lock is held
                    // until none of its calls waits.
                    let mut flow = conn.receive_round(input, batch, front, now, &mut out);
                    while flow == Flow::Wait {
                        batch.run(cache, usize::MAX);
                        flow = conn.receive_round(&[], batch, front, now, &mut out);
                    }
                    flow
                }
            };
            if stream.write_all(&out).is_err() || flow == Flow::Close {
                return;
            }
            input = &[];
            if !conn.stalled() {
                break;
            }
        }
    }
}

/// Runs `memccapable` with `only` (`-a` or `-b`) against `port`: every
/// test must pass, and there must be at least `least` of them, named
/// with `prefix`.
fn memccapable(port: u16, only: &str, prefix: &str, least: usize) -> usize {
    let output = Command::new("timeout")
        .args([
            "120",
            "memccapable",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            only,
        ])
        .output()
        .expect("run memccapable");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("All tests passed"),
        "memccapable {only}:\n{text}"
    );
    let ran = text.lines().filter(|l| l.starts_with(prefix)).count();
    assert!(ran >= least, "memccapable {only} ran {ran} tests:\n{text}");
    ran
}

#[test]
fn memccapable_tests_pass() {
    let required = std::env::var("MC_DIFF_REQUIRED").is_ok_and(|v| v == "1");
    if Command::new("memccapable").arg("-h").output().is_err() {
        assert!(
            !required,
            "MC_DIFF_REQUIRED=1: no memccapable (apt-get install libmemcached-tools)"
        );
        eprintln!("memccapable: not installed, skipped");
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().unwrap().port();
    let cache = Local {
        store: kvs_core::Store::new(),
        clock: now_ms as fn() -> u64,
    };
    let front = Frontend::new(port, now_ms() / 1000);
    let shared: Shared = Arc::new(Mutex::new((cache, front, Batch::default())));
    let server = shared.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
            let shared = server.clone();
            std::thread::spawn(move || serve(stream, shared));
        }
    });
    let ascii = memccapable(port, "-a", "ascii ", 10);
    // memccapable 1.0.18 has 27 binary tests.
    let binary = memccapable(port, "-b", "binary ", 27);
    eprintln!("memccapable: {ascii} ASCII tests and {binary} binary tests passed");
}
