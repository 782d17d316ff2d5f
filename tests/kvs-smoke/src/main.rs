//! `kvs-smoke`: a Basalt component that runs a script of commands against
//! the kvs server (channel `kvs`) and checks each reply's RESP2 bytes. It
//! attaches the shared region its argument `region` names, if any, for
//! the large value. It prints one line per check and
//! a summary:
//!
//! ```text
//! kvs-smoke: ok SET/GET
//! kvs-smoke: FAIL INCR: INCR n: expected ":42\r\n", got ":41\r\n"
//! kvs-smoke: 13 passed, 1 failed
//! ```
//!
//! With the argument `crashes = N` it then faults the server N times in a
//! row (`DEBUG SEGFAULT`, which the server's `enable-debug-command`
//! argument must allow), checking each time that it comes back as the
//! next generation and knows how the previous one ended:
//!
//! ```text
//! kvs-smoke: ok 10 faults in a row, the store back each time
//! ```
//!
//! With the argument `exit = "on-success"` it then ends the QEMU self-test
//! run through `DebugExit` (success when nothing failed); otherwise it
//! exits, with status 0 when nothing failed.

#![cfg_attr(target_os = "none", no_std, no_main)]
// The script is portable so that its tests run on the host; there only
// the tests use it.
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use kvs_api::Connection;
use libcap::rpc::Transport;

/// Bytes of the large value.
const LARGE: usize = 64 * 1024;
/// How many GETs the expiry check makes before giving up.
const EXPIRY_POLLS: usize = 200_000;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kvs-smoke is a Basalt component that init starts; \
         see docs/kvs.md (cargo xtask run --config config/kvs-test)"
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

/// Checks that failed.
#[derive(Debug)]
#[allow(dead_code)] // read only by `Debug`
struct Failed(u32);

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failed> {
    use libcap::log::info;

    let args = args::Args::bind(start);
    let exit_when_done = matches!(&args, Ok(a) if a.exit == Some(args::Exit::OnSuccess));
    let mut report = |what: &str, result: &Result<(), String>| match result {
        Ok(()) => info!("ok {what}"),
        Err(e) => info!("FAIL {what}: {e}"),
    };
    let (passed, failed) = match args {
        Err(e) => {
            report("arguments", &Err(format!("{e}")));
            (0, 1)
        }
        Ok(args) => {
            let region = args
                .region
                .map(|r| (r.name, kvs_api::SharedBuf::from_region(r.cap)));
            match Connection::open(kvs_api::KvsClient::from(args.kvs.cap), region) {
                Ok(mut kvs) => {
                    let (mut passed, mut failed) = script(&mut kvs, &mut report);
                    if let Some(n) = args.crashes {
                        let result = crashes(&mut kvs, n);
                        report(
                            &format!("{n} faults in a row, the store back each time"),
                            &result,
                        );
                        if result.is_ok() {
                            passed += 1;
                        } else {
                            failed += 1;
                        }
                    }
                    (passed, failed)
                }
                Err(e) => {
                    report("connect", &Err(format!("{e:?}")));
                    (0, 1)
                }
            }
        }
    };
    info!("{passed} passed, {failed} failed");
    if exit_when_done {
        // Returns only outside self-test mode; then exit normally.
        libcap::syscall::try_debug_exit(failed == 0);
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failed(failed))
    }
}

/// Runs every check against `kvs`, passing each outcome to `report`;
/// returns how many passed and failed.
fn script<T: Transport>(
    kvs: &mut Connection<T>,
    report: &mut dyn FnMut(&str, &Result<(), String>),
) -> (u32, u32) {
    type Check<T> = fn(&mut Connection<T>) -> Result<(), String>;
    let checks: [(&str, Check<T>); 13] = [
        ("SET/GET", set_get),
        ("INCR", incr),
        ("EXPIRE+TTL", expire_ttl),
        ("PX expiry", px_expiry),
        ("HSET/HGET", hset_hget),
        ("LPUSH/LRANGE", lpush_lrange),
        ("ZADD/ZRANGE WITHSCORES", zadd_zrange),
        ("MULTI/EXEC", multi_exec),
        ("WATCH aborts EXEC", watch),
        ("WRONGTYPE", wrongtype),
        ("64 KiB value through the shared region", large_value),
        ("SELECT 1 isolation", select_isolation),
        ("unknown command", unknown_command),
    ];
    let (mut passed, mut failed) = (0, 0);
    for (what, check) in checks {
        let result = check(kvs);
        if result.is_ok() {
            passed += 1;
        } else {
            failed += 1;
        }
        report(what, &result);
    }
    (passed, failed)
}

/// Faults the server `n` times with `DEBUG SEGFAULT`: each call is cut
/// short by the fault, and the connection learns from the restarted
/// server (one generation on, told that its predecessor faulted) that
/// the command had no effect, and sets itself up with it. Only the boot
/// test can fault a real server, so this exists on the target alone.
#[cfg(target_os = "none")]
fn crashes<T: Transport>(kvs: &mut Connection<T>, n: u64) -> Result<(), String> {
    use kvs_api::Error;
    let first = generation(kvs)?;
    for i in 1..=n {
        match kvs.command(&[b"DEBUG", b"SEGFAULT"]) {
            Err(Error::Interrupted {
                replied: 0,
                applied: 0,
            }) => {}
            other => return Err(format!("DEBUG SEGFAULT {i} answered {other:?}")),
        }
        expect(kvs, &[b"PING"], b"+PONG\r\n").map_err(|e| format!("after fault {i}: {e}"))?;
        let now = generation(kvs)?;
        if now != first + i {
            return Err(format!(
                "generation {now} after fault {i}, not {}",
                first + i
            ));
        }
        let info = call(kvs, &[b"INFO", b"server"])?;
        if !info
            .windows(b"basalt_last_exit:page fault".len())
            .any(|w| w == b"basalt_last_exit:page fault")
        {
            return Err(format!("after fault {i}, INFO says: {}", show(&info)));
        }
    }
    Ok(())
}

/// The server's `basalt_generation`, from `INFO server`.
#[cfg(target_os = "none")]
fn generation<T: Transport>(kvs: &mut Connection<T>) -> Result<u64, String> {
    let info = call(kvs, &[b"INFO", b"server"])?;
    let text = String::from_utf8_lossy(&info);
    text.split("basalt_generation:")
        .nth(1)
        .and_then(|rest| rest.split('\r').next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("no basalt_generation in INFO: {}", show(&info)))
}

/// At most 60 bytes of `bytes`, escaped.
fn show(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(60)
        .flat_map(|&b| b.escape_ascii())
        .map(char::from)
        .collect();
    if bytes.len() > 60 {
        s.push_str(&format!("... ({} bytes)", bytes.len()));
    }
    s
}

fn command_line(args: &[&[u8]]) -> String {
    let words: Vec<String> = args.iter().map(|a| show(a)).collect();
    words.join(" ")
}

/// Runs `args`; the reply, or what went wrong.
fn call<T: Transport>(kvs: &mut Connection<T>, args: &[&[u8]]) -> Result<Vec<u8>, String> {
    kvs.command(args)
        .map_err(|e| format!("{}: {e:?}", command_line(args)))
}

/// Runs `args` and wants `expected` (RESP2 bytes) back.
fn expect<T: Transport>(
    kvs: &mut Connection<T>,
    args: &[&[u8]],
    expected: &[u8],
) -> Result<(), String> {
    let reply = call(kvs, args)?;
    if reply == expected {
        Ok(())
    } else {
        Err(format!(
            "{}: expected \"{}\", got \"{}\"",
            command_line(args),
            show(expected),
            show(&reply)
        ))
    }
}

fn set_get<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"SET", b"greeting", b"hello"], b"+OK\r\n")?;
    expect(kvs, &[b"GET", b"greeting"], b"$5\r\nhello\r\n")?;
    expect(kvs, &[b"GET", b"missing"], b"$-1\r\n")
}

fn incr<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"SET", b"n", b"41"], b"+OK\r\n")?;
    expect(kvs, &[b"INCR", b"n"], b":42\r\n")?;
    expect(kvs, &[b"INCRBY", b"n", b"-50"], b":-8\r\n")?;
    expect(
        kvs,
        &[b"INCR", b"greeting"],
        b"-ERR value is not an integer or out of range\r\n",
    )
}

fn expire_ttl<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"SET", b"e", b"v"], b"+OK\r\n")?;
    expect(kvs, &[b"TTL", b"e"], b":-1\r\n")?;
    expect(kvs, &[b"EXPIRE", b"e", b"100"], b":1\r\n")?;
    let ttl = call(kvs, &[b"TTL", b"e"])?;
    if ttl != b":100\r\n" && ttl != b":99\r\n" {
        return Err(format!("TTL e: expected 100 or 99, got \"{}\"", show(&ttl)));
    }
    expect(kvs, &[b"PERSIST", b"e"], b":1\r\n")?;
    expect(kvs, &[b"TTL", b"e"], b":-1\r\n")
}

/// A key set to live 1 ms is gone a little later (the server's clock
/// moves).
fn px_expiry<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"SET", b"short", b"v", b"PX", b"1"], b"+OK\r\n")?;
    for _ in 0..EXPIRY_POLLS {
        if call(kvs, &[b"GET", b"short"])? == b"$-1\r\n" {
            return expect(kvs, &[b"EXISTS", b"short"], b":0\r\n");
        }
    }
    Err(format!("`short` still there after {EXPIRY_POLLS} GETs"))
}

fn hset_hget<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"HSET", b"h", b"f1", b"a", b"f2", b"b"], b":2\r\n")?;
    expect(kvs, &[b"HGET", b"h", b"f2"], b"$1\r\nb\r\n")?;
    expect(kvs, &[b"HGET", b"h", b"f3"], b"$-1\r\n")?;
    expect(kvs, &[b"HLEN", b"h"], b":2\r\n")
}

fn lpush_lrange<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"LPUSH", b"l", b"a", b"b", b"c"], b":3\r\n")?;
    expect(
        kvs,
        &[b"LRANGE", b"l", b"0", b"-1"],
        b"*3\r\n$1\r\nc\r\n$1\r\nb\r\n$1\r\na\r\n",
    )?;
    expect(kvs, &[b"LRANGE", b"l", b"5", b"9"], b"*0\r\n")
}

fn zadd_zrange<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(
        kvs,
        &[b"ZADD", b"z", b"2", b"b", b"1", b"a", b"3.5", b"c"],
        b":3\r\n",
    )?;
    expect(
        kvs,
        &[b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"],
        b"*6\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$3\r\n3.5\r\n",
    )
}

fn multi_exec<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"MULTI"], b"+OK\r\n")?;
    expect(kvs, &[b"INCR", b"m"], b"+QUEUED\r\n")?;
    expect(kvs, &[b"SET", b"x", b"y"], b"+QUEUED\r\n")?;
    expect(kvs, &[b"EXEC"], b"*2\r\n:1\r\n+OK\r\n")?;
    expect(kvs, &[b"GET", b"x"], b"$1\r\ny\r\n")
}

fn watch<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"WATCH", b"w"], b"+OK\r\n")?;
    expect(kvs, &[b"SET", b"w", b"changed"], b"+OK\r\n")?;
    expect(kvs, &[b"MULTI"], b"+OK\r\n")?;
    expect(kvs, &[b"SET", b"w", b"by-exec"], b"+QUEUED\r\n")?;
    expect(kvs, &[b"EXEC"], b"*-1\r\n")?;
    expect(kvs, &[b"GET", b"w"], b"$7\r\nchanged\r\n")
}

fn wrongtype<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(
        kvs,
        &[b"LPUSH", b"greeting", b"x"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )?;
    expect(
        kvs,
        &[b"GET", b"h"],
        b"-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
}

fn large_value<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    if kvs.region_len() == 0 {
        return Err("no shared region attached".into());
    }
    let value: Vec<u8> = (0..LARGE).map(|i| (i * 7 % 251) as u8).collect();
    expect(kvs, &[b"SET", b"large", &value], b"+OK\r\n")?;
    let mut wanted = format!("${LARGE}\r\n").into_bytes();
    wanted.extend_from_slice(&value);
    wanted.extend_from_slice(b"\r\n");
    expect(kvs, &[b"GET", b"large"], &wanted)?;
    expect(
        kvs,
        &[b"STRLEN", b"large"],
        format!(":{LARGE}\r\n").as_bytes(),
    )
}

fn select_isolation<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(kvs, &[b"SELECT", b"1"], b"+OK\r\n")?;
    let result = (|| {
        expect(kvs, &[b"GET", b"greeting"], b"$-1\r\n")?;
        expect(kvs, &[b"SET", b"greeting", b"db1"], b"+OK\r\n")?;
        expect(kvs, &[b"DBSIZE"], b":1\r\n")
    })();
    expect(kvs, &[b"SELECT", b"0"], b"+OK\r\n")?;
    result?;
    expect(kvs, &[b"GET", b"greeting"], b"$5\r\nhello\r\n")
}

fn unknown_command<T: Transport>(kvs: &mut Connection<T>) -> Result<(), String> {
    expect(
        kvs,
        &[b"NOSUCHCOMMAND", b"a"],
        b"-ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' \r\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvs::{Kvs, KvsClient, KvsServer, SharedBuf};
    use libcap::rpc::Local;
    use std::boxed::Box;
    use std::cell::Cell;
    use std::rc::Rc;

    type Server = KvsServer<Box<dyn FnMut() -> u64>>;

    /// A server whose clock moves 1 ms per request, and a connection
    /// with a `size`-byte region (none if 0).
    fn run_script(size: usize) -> (u32, u32, Vec<String>) {
        let now = Rc::new(Cell::new(1_700_000_000_000u64));
        let clock = now.clone();
        let tick = Box::new(move || {
            clock.set(clock.get() + 1);
            clock.get()
        }) as Box<dyn FnMut() -> u64>;
        let mem: &'static mut [u8] = Box::leak(vec![0u8; size.max(1)].into_boxed_slice());
        let base = mem.as_mut_ptr();
        let mut regions = Vec::new();
        let mut ours = None;
        if size > 0 {
            // SAFETY: leaked; the two sides take turns (synchronous calls).
            unsafe {
                regions.push(("buf".into(), SharedBuf::new(base, size).expect("not null")));
                ours = Some(("buf", SharedBuf::new(base, size).expect("not null")));
            }
        }
        let server = Local::new(KvsServer::new(tick, regions), Server::rpc_dispatch);
        let mut kvs = Connection::open(KvsClient::new(&server), ours).unwrap();
        let mut lines = Vec::new();
        let (p, f) = script(&mut kvs, &mut |what, r| {
            lines.push(match r {
                Ok(()) => format!("ok {what}"),
                Err(e) => format!("FAIL {what}: {e}"),
            })
        });
        (p, f, lines)
    }

    #[test]
    fn the_script_passes_against_the_server() {
        let (passed, failed, lines) = run_script(128 * 1024);
        assert_eq!((passed, failed), (13, 0), "{lines:#?}");
    }

    #[test]
    fn without_a_region_only_the_large_value_fails() {
        let (passed, failed, lines) = run_script(0);
        assert_eq!((passed, failed), (12, 1), "{lines:#?}");
        assert_eq!(
            lines[10],
            "FAIL 64 KiB value through the shared region: no shared region attached"
        );
    }

    #[test]
    fn a_small_region_fails_the_large_value_with_a_reason() {
        let (_, failed, lines) = run_script(4096);
        assert_eq!(failed, 1);
        assert!(lines[10].contains("TooLarge"), "{}", lines[10]);
    }
}
