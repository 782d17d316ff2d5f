//! `kvs-crash`: the client of the power-cut test (`cargo xtask test`,
//! "kvs: power cut"). Argument `mode`:
//!
//! - `write`: runs rounds of three commands against the kvs server
//!   (channel `kvs`) — `SET crash:<i> v<i>`, `INCR crash:count`,
//!   `RPUSH crash:list <i>` — and after each round's last reply prints
//!   `kvs-crash: acked <i>`, for ever: the test kills QEMU mid-stream.
//! - `verify`: reads what survived and checks that it is exactly the
//!   first commands of that stream, in order (no hole, nothing later
//!   without everything earlier). It prints
//!   `kvs-crash: recovered <n> rounds` (rounds whose SET survived) or
//!   `kvs-crash: FAIL <why>`, then ends the run through `DebugExit`.
//!
//! The test compares `<n>` with the last `acked` line before the kill:
//! under `fsync = always` every acknowledged round must be there.
//!
//! With `interrupt = "yes"` (and a kvs server that has `DEBUG SEGFAULT`),
//! `verify` then sends one round of `INCR crash:fate`, `DEBUG SEGFAULT`,
//! `INCR crash:fate`: the server faults in the middle, and the client
//! must learn that the first command took effect and the last did not —
//! and find the counter one higher. It prints
//! `kvs-crash: a round cut by a crash: 1 of 3 commands took effect, and the store holds it`.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use kvs_api::Connection;
use libcap::rpc::Transport;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kvs-crash is a Basalt component that init starts; \
         see docs/testing.md (the power-cut test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(run);

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), String> {
    use libcap::log::{error, info};

    let args = args::Args::bind(start).map_err(|e| format!("{e}"))?;
    let client = kvs_api::KvsClient::from(args.kvs.cap);
    let mut kvs = Connection::open(client, None).map_err(|e| format!("connect: {e:?}"))?;
    match args.mode {
        Some(args::Mode::Write) => loop_rounds(&mut kvs, |i| info!("acked {i}")),
        Some(args::Mode::Verify) => {
            let interrupt = args.interrupt == Some(args::Interrupt::Yes);
            let result = verify(&mut kvs).and_then(|n| {
                info!("recovered {n} rounds");
                if interrupt {
                    interrupted_round(&mut kvs)?;
                    info!("a round cut by a crash: 1 of 3 commands took effect, and the store holds it");
                }
                Ok(n)
            });
            if let Err(e) = &result {
                error!("FAIL {e}");
            }
            libcap::syscall::try_debug_exit(result.is_ok());
            result.map(|_| ())
        }
        None => Err(String::from(
            "no argument mode: use \"write\" or \"verify\"",
        )),
    }
}

/// The commands of round `i`.
fn round(i: u64) -> [Vec<Vec<u8>>; 3] {
    let words = |ws: &[&str]| ws.iter().map(|w| w.as_bytes().to_vec()).collect();
    [
        words(&["SET", &format!("crash:{i}"), &format!("v{i}")]),
        words(&["INCR", "crash:count"]),
        words(&["RPUSH", "crash:list", &format!("{i}")]),
    ]
}

/// Runs rounds 0, 1, ... calling `acked(i)` once round `i` is answered;
/// returns only if a command fails.
fn loop_rounds<T: Transport>(
    kvs: &mut Connection<T>,
    mut acked: impl FnMut(u64),
) -> Result<(), String> {
    for i in 0.. {
        for command in round(i) {
            let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
            let reply = kvs
                .command(&args)
                .map_err(|e| format!("round {i}: {e:?}"))?;
            if reply.first() == Some(&b'-') {
                return Err(format!("round {i}: {}", String::from_utf8_lossy(&reply)));
            }
        }
        acked(i);
    }
    Ok(())
}

fn get<T: Transport>(kvs: &mut Connection<T>, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    kvs.command(args).map_err(|e| format!("{e:?}"))
}

fn bulk(value: &str) -> Vec<u8> {
    format!("${}\r\n{value}\r\n", value.len()).into_bytes()
}

/// The value of counter `key` (0 when missing).
fn counter<T: Transport>(kvs: &mut Connection<T>, key: &[u8]) -> Result<u64, String> {
    match get(kvs, &[b"GET", key])?.as_slice() {
        b"$-1\r\n" => Ok(0),
        reply => String::from_utf8_lossy(reply)
            .lines()
            .nth(1)
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(|| {
                format!(
                    "{} holds {}",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(reply)
                )
            }),
    }
}

/// One round whose second command faults the server: the client must be
/// told the first took effect and the third had none, and the store must
/// agree. Only a real server faults, so this exists on the target alone.
#[cfg(target_os = "none")]
fn interrupted_round<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    let before = counter(kvs, b"crash:fate")?;
    let mut request = Vec::new();
    for args in [
        &[&b"INCR"[..], b"crash:fate"][..],
        &[b"DEBUG", b"SEGFAULT"],
        &[b"INCR", b"crash:fate"],
    ] {
        let mut encoded = Vec::new();
        kvs_api::proto::encode_command(args, &mut encoded);
        kvs_api::proto::push_round_entry(1, &encoded, &mut request);
    }
    let mut replies = Vec::new();
    match kvs.round(&request, &mut replies) {
        Err(kvs_api::Error::Interrupted {
            replied: 0,
            applied: 1,
        }) => {}
        other => return Err(format!("the round cut by a crash answered {other:?}")),
    }
    let after = counter(kvs, b"crash:fate")?;
    if after != before + 1 {
        return Err(format!(
            "crash:fate went from {before} to {after}; one INCR took effect"
        ));
    }
    Ok(())
}

/// Checks that the store holds a prefix of the command stream; the
/// number of rounds whose SET survived.
fn verify<T: Transport>(kvs: &mut Connection<T>) -> Result<u64, String> {
    let mut sets = 0u64;
    while get(kvs, &[b"EXISTS", format!("crash:{sets}").as_bytes()])? == b":1\r\n" {
        let value = get(kvs, &[b"GET", format!("crash:{sets}").as_bytes()])?;
        if value != bulk(&format!("v{sets}")) {
            return Err(format!(
                "crash:{sets} holds {}",
                String::from_utf8_lossy(&value)
            ));
        }
        sets += 1;
    }
    // Nothing of a later round without the rounds before it.
    for later in sets + 1..sets + 50 {
        if get(kvs, &[b"EXISTS", format!("crash:{later}").as_bytes()])? != b":0\r\n" {
            return Err(format!("crash:{later} survived but crash:{sets} did not"));
        }
    }
    let count = counter(kvs, b"crash:count")?;
    let len = get(kvs, &[b"LLEN", b"crash:list"])?;
    let len: u64 = String::from_utf8_lossy(&len)
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .map_err(|_| format!("LLEN answered {}", String::from_utf8_lossy(&len)))?;
    // The stream is SET, INCR, RPUSH per round: a prefix of it has
    // sets >= count >= len >= sets - 1.
    if !(sets >= count && count >= len && len + 1 >= sets) {
        return Err(format!(
            "not a prefix of the stream: {sets} SETs, count {count}, list length {len}"
        ));
    }
    for i in 0..len {
        let item = get(kvs, &[b"LINDEX", b"crash:list", format!("{i}").as_bytes()])?;
        if item != bulk(&format!("{i}")) {
            return Err(format!(
                "crash:list[{i}] holds {}",
                String::from_utf8_lossy(&item)
            ));
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs::{Kvs, KvsClient, KvsServer, ManualClock};
    use libcap::rpc::Local;

    type Server = KvsServer<ManualClock>;

    fn server() -> Local<Server> {
        Local::new(
            KvsServer::new(ManualClock(0), Vec::new()),
            Server::rpc_dispatch,
        )
    }

    #[test]
    fn a_whole_stream_verifies() {
        let s = server();
        let mut kvs = Connection::open(KvsClient::new(&s), None).unwrap();
        let mut acked = Vec::new();
        // Stop the endless loop by failing a command after 20 rounds.
        let mut rounds = 0;
        let _ = loop_rounds(&mut kvs, |i| {
            acked.push(i);
            rounds += 1;
            if rounds == 20 {
                let mut k = Connection::open(KvsClient::new(&s), None).unwrap();
                k.command(&[b"SET", b"crash:count", b"not a number"])
                    .unwrap();
            }
        });
        assert_eq!(acked, (0..20).collect::<Vec<_>>());
        // The INCR of round 20 failed: repair the counter, then verify.
        kvs.command(&[b"SET", b"crash:count", b"20"]).unwrap();
        assert_eq!(verify(&mut kvs), Ok(21));
    }

    #[test]
    fn holes_and_wrong_values_are_found() {
        let s = server();
        let mut kvs = Connection::open(KvsClient::new(&s), None).unwrap();
        for i in 0..5 {
            for c in round(i) {
                let args: Vec<&[u8]> = c.iter().map(Vec::as_slice).collect();
                kvs.command(&args).unwrap();
            }
        }
        assert_eq!(verify(&mut kvs), Ok(5));
        kvs.command(&[b"DEL", b"crash:2"]).unwrap();
        assert!(verify(&mut kvs).unwrap_err().contains("crash:3 survived"));
        kvs.command(&[b"SET", b"crash:2", b"v9"]).unwrap();
        assert!(verify(&mut kvs).unwrap_err().contains("crash:2 holds"));
        kvs.command(&[b"SET", b"crash:2", b"v2"]).unwrap();
        kvs.command(&[b"RPUSH", b"crash:list", b"x"]).unwrap();
        assert!(verify(&mut kvs).unwrap_err().contains("not a prefix"));
    }
}
