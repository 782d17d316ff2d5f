//! The end-to-end boot test of `config/default`: the system `cargo xtask
//! run --release` boots, driven from the host with Debian's `redis-cli`,
//! `curl` and `redis-benchmark` through QEMU's user networking, powered
//! off (QEMU killed) and booted again on the same disk.

use crate::machine::{HostPorts, Machine, NicModel, StorageModel, answers_redis, free_port};
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::redisbench;
use crate::{Result, fail};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long a boot may take until both front ends answer.
const BOOT_TIMEOUT: Duration = Duration::from_secs(420);

/// The issue's `redis-benchmark` run against the rebooted system, and the
/// tests it must report (`-t lrange` fills a list, then reads 100, 300,
/// 500 and 600 of its elements).
const BENCHMARK_ARGS: [&str; 5] = [
    "-q",
    "-n",
    "10000",
    "-t",
    "set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,lrange,mset",
];
const BENCHMARK_TESTS: [&str; 18] = [
    "SET",
    "GET",
    "INCR",
    "LPUSH",
    "RPUSH",
    "LPOP",
    "RPOP",
    "SADD",
    "HSET",
    "SPOP",
    "ZADD",
    "ZPOPMIN",
    "LPUSH (needed to benchmark LRANGE)",
    "LRANGE_100 (first 100 elements)",
    "LRANGE_300 (first 300 elements)",
    "LRANGE_500 (first 500 elements)",
    "LRANGE_600 (first 600 elements)",
    "MSET (10 keys)",
];
/// How long that run may take: about 2 minutes in a release build under
/// TCG on a 2-core host.
const BENCHMARK_TIMEOUT: Duration = Duration::from_secs(600);

/// How long one `redis-cli` or `curl` call may take (coreutils' `timeout`
/// stops it): seconds for a system that answers, bounded for one that
/// hangs.
const CALL_TIMEOUT_SECS: u32 = 60;

/// The guest's RAM: less than `cargo xtask run` gives, so that the
/// floods that fill the store's share of it stay short under TCG (with
/// memcached's heap in config/default the store still gets about 70 MiB).
pub const MEMORY_MIB: u64 = 320;

/// Idle connections opened to the HTTP port: more than its socket quota
/// in config/default (440 of the net server's 1140), fewer than the
/// front end's `max-connections` (1000), so that only the quota stops
/// them.
const IDLE_HTTP: usize = 1000;

/// Connections to RESP held open beside them: more than its listener's
/// backlog (64 sockets), so that RESP needs sockets the HTTP connections
/// would have taken without the quota.
const RESP_BESIDE: usize = 100;

/// Runs `program` with `args` (and `input` on its standard input) for at
/// most [`CALL_TIMEOUT_SECS`]; its standard output, or why it failed.
fn run(program: &str, args: &[&str], input: Option<&[u8]>) -> Result<String> {
    run_for(CALL_TIMEOUT_SECS, program, args, input)
}

/// [`run`] with a limit of `secs` seconds.
fn run_for(secs: u32, program: &str, args: &[&str], input: Option<&[u8]>) -> Result<String> {
    let limit = secs.to_string();
    let mut child = Command::new("timeout")
        .arg(&limit)
        .arg(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| fail!("cannot run timeout {program}: {e} (coreutils' timeout)"))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(data)?;
    }
    let out = child.wait_with_output()?;
    match out.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
        Some(124) => Err(fail!(
            "{program} {}: no answer within {CALL_TIMEOUT_SECS} s",
            args.join(" ")
        )),
        Some(126 | 127) => Err(fail!("cannot run {program} (install redis-tools and curl)")),
        _ => Err(fail!(
            "{program} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// `redis-cli -p port args...`, its output trimmed.
fn redis(port: u16, args: &[&str]) -> Result<String> {
    let p = port.to_string();
    let mut all = vec!["-p", &p];
    all.extend_from_slice(args);
    Ok(run("redis-cli", &all, None)?.trim_end().to_string())
}

fn expect(what: &str, got: Result<String>, wanted: &str) -> Result<()> {
    let got = got?;
    if got == wanted {
        Ok(())
    } else {
        Err(fail!("{what}: expected {wanted:?}, got {got:?}"))
    }
}

/// `curl` on `path` of the HTTP port: the status code and the body.
fn curl(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<(String, String)> {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut args = vec!["-s", "-X", method, "-w", "\n%{http_code}", &url];
    if let Some(b) = body {
        args.extend_from_slice(&["-d", b]);
    }
    let out = run("curl", &args, None)?;
    let (body, code) = out.rsplit_once('\n').unwrap_or(("", &out));
    Ok((code.to_string(), body.to_string()))
}

/// The first boot's checks.
/// Under `fsync = everysec` (config/default), an answered write is
/// flushed within a second even when the store then goes idle: after a
/// first write (which flushes at once) a second one is answered unflushed,
/// and 2.5 s of quiet later the disk has had another flush (QEMU's block
/// statistics count them). A store that flushed only on its next write
/// would leave it unflushed for good.
fn idle_flush(redis_port: u16, qmp: &Path) -> Result<()> {
    let r = |args: &[&str]| redis(redis_port, args);
    expect("SET", r(&["set", "everysec:first", "1"]), "OK")?;
    let before = crate::qmp::flushes(qmp)?;
    expect("SET", r(&["set", "everysec:second", "2"]), "OK")?;
    std::thread::sleep(Duration::from_millis(2500));
    let after = crate::qmp::flushes(qmp)?;
    if after <= before {
        return Err(fail!(
            "an answered write under everysec was not flushed after 2.5 s of quiet ({before} flushes before it, {after} after)"
        ));
    }
    Ok(())
}

/// The flood that used to crash the store (fourteen 4 MB APPENDs to one
/// key took down a 48 MiB heap): 4 MB APPENDs to one key until past
/// `maxmemory`. The first ones grow the value, the rest are refused with
/// Redis's `-OOM` (the boot fails on a `PANIC` or a restart in the serial
/// log); reads still work, a GET of the value answers it or refuses it as
/// too large to send, and deleting it makes room.
fn append_flood(redis_port: u16) -> Result<()> {
    const CHUNK: usize = 4_000_000;
    let appends = maxmemory(redis_port)? / CHUNK + 3;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
    s.set_read_timeout(Some(Duration::from_secs(CALL_TIMEOUT_SECS.into())))?;
    let chunk = vec![b'x'; CHUNK];
    let mut replies = Vec::new();
    for _ in 0..appends {
        s.write_all(format!("*3\r\n$6\r\nAPPEND\r\n$5\r\nflood\r\n${CHUNK}\r\n").as_bytes())?;
        s.write_all(&chunk)?;
        s.write_all(b"\r\n")?;
        replies.push(read_line(&mut s)?);
    }
    let grew = replies.iter().filter(|r| r.starts_with(':')).count();
    let oom = "-OOM command not allowed when used memory > 'maxmemory'.";
    let refused = replies.iter().filter(|r| *r == oom).count();
    if grew == 0 || refused == 0 || grew + refused != replies.len() {
        return Err(fail!(
            "{appends} APPENDs of 4 MB answered {replies:?} (wanted growth, then {oom:?})"
        ));
    }
    let r = |args: &[&str]| redis(redis_port, args);
    expect("GET during the flood", r(&["get", "a"]), "2")?;
    // The whole value, or (when it is larger than a reply can be) the
    // store's refusal.
    let got = r(&["get", "flood"])?;
    if got.len() != grew * CHUNK && !got.starts_with("ERR the reply would be too large") {
        return Err(fail!("GET of the flooded value answered {got:.200?}"));
    }
    expect(
        "STRLEN",
        r(&["strlen", "flood"]),
        &(grew * CHUNK).to_string(),
    )?;
    expect("DEL", r(&["del", "flood"]), "1")?;
    expect("SET after the DEL", r(&["set", "after-flood", "1"]), "OK")
}

/// Under `allkeys-lru` the store makes room instead of refusing: values
/// of 100 kB, 20 MB more than `maxmemory` in all, all go in, keys are
/// evicted (INFO's `evicted_keys` grows), and a key read between the
/// writes stays. Then back to `noeviction`, and the store emptied.
fn lru_eviction(redis_port: u16) -> Result<()> {
    let r = |args: &[&str]| redis(redis_port, args);
    let sets = maxmemory(redis_port)? / 100_000 + 200;
    expect(
        "CONFIG SET",
        r(&["config", "set", "maxmemory-policy", "allkeys-lru"]),
        "OK",
    )?;
    expect("SET", r(&["set", "hot", "1"]), "OK")?;
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
    s.set_read_timeout(Some(Duration::from_secs(CALL_TIMEOUT_SECS.into())))?;
    let value = "v".repeat(100_000);
    for i in 0..sets {
        let key = format!("lru:{i}");
        s.write_all(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n*2\r\n$3\r\nGET\r\n$3\r\nhot\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        )?;
        let set = read_line(&mut s)?;
        let mut get = read_line(&mut s)?;
        if get == "$1" {
            get = read_line(&mut s)?;
        }
        if set != "+OK" || get != "1" {
            return Err(fail!(
                "under allkeys-lru, SET {key} answered {set:?} and GET hot {get:?}"
            ));
        }
    }
    let stats = r(&["info", "stats"])?;
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_keys:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if evicted == 0 {
        return Err(fail!(
            "{sets} values of 100 kB under allkeys-lru evicted nothing: {stats:?}"
        ));
    }
    expect("the key read all along", r(&["get", "hot"]), "1")?;
    expect(
        "CONFIG SET",
        r(&["config", "set", "maxmemory-policy", "noeviction"]),
        "OK",
    )?;
    // The store is full: what comes next starts from an empty one.
    expect("FLUSHALL", r(&["flushall"]), "OK")
}

/// What a client cannot make the front end hold: `CONFIG SET` above the
/// caps the component set from its memory is refused; a bulk string
/// longer than the store can take is refused at its header; a command
/// that outgrows `client-query-buffer-limit` closes its connection; and
/// connections that together would pass the clients' memory are closed
/// (`evicted_clients`), while the store keeps answering.
fn oversized_queries(redis_port: u16) -> Result<()> {
    let r = |args: &[&str]| redis(redis_port, args);
    let refused = r(&["config", "set", "proto-max-bulk-len", "512mb"])?;
    if !refused.starts_with(
        "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be between 1048576 and ",
    ) {
        return Err(fail!("CONFIG SET proto-max-bulk-len 512mb answered {refused:?}"));
    }
    let connect = || -> Result<TcpStream> {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(s)
    };
    // What a closed connection answers: nothing more, or a reset.
    let answer = |s: &mut TcpStream| {
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        got
    };
    let header = |len: usize| format!("*3\r\n$3\r\nSET\r\n$1\r\nq\r\n${len}\r\n");
    let mut s = connect()?;
    s.write_all(header(64 << 20).as_bytes())?;
    let got = answer(&mut s);
    if got != b"-ERR Protocol error: invalid bulk length\r\n" {
        return Err(fail!(
            "a 64 MiB bulk string's header got {:?} (wanted the error, then the close)",
            String::from_utf8_lossy(&got)
        ));
    }
    // Streams `total` bytes of a bulk string; whether the front end closed
    // the connection before they all went (a write fails, or a read sees
    // the end).
    let stream = |s: &mut TcpStream, total: usize| -> bool {
        let chunk = vec![b'x'; 64 * 1024];
        let mut sent = 0;
        while sent < total {
            if s.write_all(&chunk).is_err() {
                return true;
            }
            sent += chunk.len();
        }
        false
    };
    expect(
        "CONFIG SET",
        r(&["config", "set", "client-query-buffer-limit", "1mb"]),
        "OK",
    )?;
    let mut s = connect()?;
    s.write_all(header(4_000_000).as_bytes())?;
    let cut = stream(&mut s, 3_000_000) || answer(&mut s).is_empty();
    if !cut {
        return Err(fail!(
            "a command past client-query-buffer-limit 1mb was not closed"
        ));
    }
    // Redis's 1 GiB default is capped by the clients' memory.
    let refused = r(&["config", "set", "client-query-buffer-limit", "1gb"])?;
    let cap: u64 = refused
        .strip_prefix("ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be between 1048576 and ")
        .and_then(|rest| rest.strip_suffix(" inclusive"))
        .and_then(|n| n.parse().ok())
        .filter(|&n| n < 1 << 30)
        .ok_or_else(|| fail!("CONFIG SET client-query-buffer-limit 1gb answered {refused:?}"))?;
    expect(
        "CONFIG SET",
        r(&[
            "config",
            "set",
            "client-query-buffer-limit",
            &cap.to_string(),
        ]),
        "OK",
    )?;
    // Four connections, 7 MB of a command each: more than the 22 MiB
    // the clients may hold together.
    let mut hogs = Vec::new();
    for _ in 0..4 {
        let mut s = connect()?;
        s.write_all(header(8_000_000).as_bytes())?;
        stream(&mut s, 7_000_000);
        hogs.push(s);
    }
    expect(
        "PING while the clients' memory is full",
        r(&["ping"]),
        "PONG",
    )?;
    let stats = r(&["info", "stats"])?;
    let evicted: u64 = stats
        .lines()
        .find_map(|l| l.strip_prefix("evicted_clients:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if evicted == 0 {
        return Err(fail!(
            "four connections holding 7 MB each evicted none: {stats:?}"
        ));
    }
    drop(hogs);
    expect("SET after them", r(&["set", "after-hogs", "1"]), "OK")
}

/// Sends a GET of a missing path on `s`; the start of the answer's status
/// line (`HTTP/1.1 404`), or `None` if the guest reset the connection
/// (QEMU then closes the host's side).
fn http_status(s: &mut TcpStream, what: &str) -> Result<Option<Vec<u8>>> {
    if s.write_all(b"GET /idle HTTP/1.1\r\nHost: h\r\n\r\n")
        .is_err()
    {
        return Ok(None);
    }
    let mut got = Vec::new();
    let mut buf = [0u8; 512];
    while got.len() < 12 {
        match s.read(&mut buf) {
            Ok(0) => return Ok(None),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
            Err(e) => return Err(fail!("{what}: neither answered nor closed: {e}")),
        }
    }
    got.truncate(12);
    Ok(Some(got))
}

/// The net server's socket quotas: [`IDLE_HTTP`] connections to the HTTP
/// port, each answered once (a 404: it paces the connections, which QEMU
/// accepts on the host before the guest sees them, and shows which the
/// guest took) and then left open, idle. HTTP holds its quota of them and
/// the net server resets the rest; meanwhile RESP accepts [`RESP_BESIDE`]
/// connections, held open together, each answering PING. Without the
/// quota HTTP would hold all 1000 of the 1140 sockets and RESP's 65th
/// connection would be reset. Once they all close, HTTP answers again.
fn idle_http_connections(redis_port: u16, http_port: u16) -> Result<()> {
    let started = Instant::now();
    let connect = |port: u16| -> Result<TcpStream> {
        let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_nodelay(true)?;
        Ok(s)
    };
    let mut idle = Vec::new();
    let mut reset = 0;
    for i in 0..IDLE_HTTP {
        let mut s = connect(http_port)?;
        match http_status(&mut s, &format!("HTTP connection {i}"))? {
            Some(line) if line == b"HTTP/1.1 404" => idle.push(s),
            Some(line) => {
                return Err(fail!(
                    "HTTP connection {i} answered {:?}",
                    String::from_utf8_lossy(&line)
                ));
            }
            None => reset += 1,
        }
    }
    if idle.is_empty() || reset == 0 {
        return Err(fail!(
            "of {IDLE_HTTP} HTTP connections {} were served and {reset} reset: \
             the HTTP front end's socket quota should stop them part way",
            idle.len()
        ));
    }
    let mut beside = Vec::new();
    for i in 0..RESP_BESIDE {
        let mut s = connect(redis_port)?;
        s.write_all(b"*1\r\n$4\r\nPING\r\n")?;
        let pong = read_line(&mut s).map_err(|e| {
            fail!(
                "RESP connection {i} beside {} idle HTTP connections: {}",
                idle.len(),
                e.0
            )
        })?;
        if pong != "+PONG" {
            return Err(fail!("RESP connection {i}: PING answered {pong:?}"));
        }
        beside.push(s);
    }
    let held = idle.len();
    drop(idle);
    drop(beside);
    // HTTP's sockets come back as its connections close.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut s = connect(http_port)?;
        let answer = http_status(&mut s, "HTTP after the idle connections")?;
        if answer.as_deref() == Some(b"HTTP/1.1 404") {
            break;
        }
        if Instant::now() >= deadline {
            return Err(fail!(
                "HTTP does not answer 30 s after its idle connections closed"
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    println!(
        "     {IDLE_HTTP} idle HTTP connections: {held} held, {reset} reset at the quota; \
         {RESP_BESIDE} RESP connections beside them ({:.1} s)",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `maxmemory`, from `INFO memory`.
fn maxmemory(redis_port: u16) -> Result<usize> {
    let info = redis(redis_port, &["info", "memory"])?;
    info.lines()
        .find_map(|l| l.strip_prefix("maxmemory:"))
        .and_then(|v| v.trim().parse().ok())
        .filter(|&m| m > 0)
        .ok_or_else(|| fail!("INFO memory shows no maxmemory: {info:?}"))
}

/// One reply line (without its CRLF).
fn read_line(s: &mut TcpStream) -> Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while !line.ends_with(b"\r\n") {
        if s.read(&mut byte)? == 0 {
            return Err(fail!(
                "the connection closed after {:?}",
                String::from_utf8_lossy(&line)
            ));
        }
        line.push(byte[0]);
    }
    line.truncate(line.len() - 2);
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn first_boot(ports: Ports, qmp: &Path) -> Result<()> {
    let (redis_port, http_port) = (ports.redis, ports.http);
    idle_flush(redis_port, qmp)?;
    pubsub(redis_port)?;
    client_side_caching(redis_port)?;
    client_pause(redis_port)?;
    job_queue(redis_port)?;
    client_library("redis_py.py", redis_port)?;
    let r = |args: &[&str]| redis(redis_port, args);
    // A function library, which the log keeps across the power cut.
    expect("FUNCTION LOAD", r(&["function", "load", VISITS]), "e2e")?;
    expect("FCALL", r(&["fcall", "visits", "1", "fk"]), "1")?;
    expect("SET", r(&["set", "a", "1"]), "OK")?;
    expect("GET", r(&["get", "a"]), "1")?;
    expect("INCR", r(&["incr", "a"]), "2")?;
    expect("EXPIRE", r(&["expire", "a", "1000"]), "1")?;
    let ttl: u64 = r(&["ttl", "a"])?.parse().unwrap_or(0);
    if !(990..=1000).contains(&ttl) {
        return Err(fail!("TTL after EXPIRE 1000 is {ttl}"));
    }
    expect("HSET", r(&["hset", "h", "f", "v"]), "1")?;
    expect("HGET", r(&["hget", "h", "f"]), "v")?;
    expect("LPUSH", r(&["lpush", "l", "x", "y", "z"]), "3")?;
    expect("LRANGE", r(&["lrange", "l", "0", "-1"]), "z\ny\nx")?;
    expect("ZADD", r(&["zadd", "z", "2", "b", "1", "a"]), "2")?;
    expect("ZRANGE", r(&["zrange", "z", "0", "-1"]), "a\nb")?;
    expect(
        "XADD",
        r(&["xadd", "events", "1-1", "type", "signup"]),
        "1-1",
    )?;
    expect(
        "XADD",
        r(&["xadd", "events", "1-*", "type", "login"]),
        "1-2",
    )?;
    expect("XDEL", r(&["xdel", "events", "1-1"]), "1")?;
    // A consumer group with an entry delivered and not acknowledged.
    expect(
        "XGROUP CREATE",
        r(&["xgroup", "create", "events", "workers", "0"]),
        "OK",
    )?;
    expect(
        "XREADGROUP",
        r(&[
            "xreadgroup",
            "group",
            "workers",
            "w1",
            "streams",
            "events",
            ">",
        ]),
        "events\n1-2\ntype\nlogin",
    )?;
    // A transaction, through one connection (commands on stdin).
    let p = redis_port.to_string();
    let multi = run(
        "redis-cli",
        &["-p", &p],
        Some(b"MULTI\nINCR n\nINCR n\nEXEC\n"),
    )?;
    if multi.trim_end() != "OK\nQUEUED\nQUEUED\n1\n2" {
        return Err(fail!("MULTI/EXEC answered {multi:?}"));
    }
    // 10,000 commands in one pipeline.
    let mut pipeline = Vec::new();
    for i in 0..10_000 {
        let (k, v) = (format!("p:{i}"), format!("{i}"));
        pipeline.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n${}\r\n{v}\r\n",
                k.len(),
                v.len()
            )
            .as_bytes(),
        );
    }
    let piped = run("redis-cli", &["-p", &p, "--pipe"], Some(&pipeline))?;
    if !piped.contains("errors: 0, replies: 10000") {
        return Err(fail!("redis-cli --pipe: {piped:?}"));
    }
    expect("GET after the pipeline", r(&["get", "p:9999"]), "9999")?;
    // A protocol error: Redis's words, then the connection closes.
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    s.write_all(b"*1\r\n$x\r\n")?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)?;
    if answer != b"-ERR Protocol error: invalid bulk length\r\n" {
        return Err(fail!(
            "a bad bulk length got {:?} (wanted the error, then the close)",
            String::from_utf8_lossy(&answer)
        ));
    }
    // The REST interface.
    let c = |m: &str, path: &str, body: Option<&str>| curl(http_port, m, path, body);
    let created = c("PUT", "/kv/k", Some("v"))?;
    let read = c("GET", "/kv/k", None)?;
    let deleted = c("DELETE", "/kv/gone", None)?;
    let bad = c("GET", "/kv/%zz", None)?;
    let kept = c("PUT", "/kv/kept", Some("yes"))?;
    let seen = [
        (created.0.as_str(), "201", "PUT"),
        (read.0.as_str(), "200", "GET"),
        (deleted.0.as_str(), "404", "DELETE of a missing key"),
        (bad.0.as_str(), "400", "a bad percent escape"),
        (kept.0.as_str(), "201", "PUT"),
    ];
    for (got, wanted, what) in seen {
        if got != wanted {
            return Err(fail!("curl {what}: status {got}, wanted {wanted}"));
        }
    }
    if read.1 != "v" {
        return Err(fail!("curl GET /kv/k gave {:?}", read.1));
    }
    idle_http_connections(redis_port, http_port)?;
    append_flood(redis_port)?;
    // Last: memcached's items share the store's memory (memccapable's
    // fill much of this small machine's), and the flood above has to
    // find Redis's keys alone.
    memcached_first(ports.memcached)?;
    client_library("pymemcache_client.py", ports.memcached)?;
    // The items are no Redis keys: the namespaces are apart.
    expect("EXISTS mk", redis(redis_port, &["exists", "mk"]), "0")
}

/// The function library the first boot loads and the second calls.
const VISITS: &str = "#!lua name=e2e\nredis.register_function('visits', function(keys) return redis.call('incr', keys[1]) end)";

/// The second boot's checks: what the first wrote is there.
fn second_boot(ports: Ports) -> Result<()> {
    let (redis_port, http_port) = (ports.redis, ports.http);
    memcached_after_reboot(ports.memcached)?;
    expect(
        "FCALL of a library loaded before the power cut",
        redis(redis_port, &["fcall", "visits", "1", "fk"]),
        "2",
    )?;
    expect(
        "GET a after the reboot",
        redis(redis_port, &["get", "a"]),
        "2",
    )?;
    expect(
        "a pipelined key after the reboot",
        redis(redis_port, &["get", "p:5000"]),
        "5000",
    )?;
    expect(
        "LRANGE after the reboot",
        redis(redis_port, &["lrange", "l", "0", "-1"]),
        "z\ny\nx",
    )?;
    expect(
        "a stream after the reboot",
        redis(redis_port, &["xrange", "events", "-", "+"]),
        "1-2\ntype\nlogin",
    )?;
    expect(
        "a consumer group's pending entry after the reboot",
        redis(redis_port, &["xpending", "events", "workers"]),
        "1\n1-2\n1-2\nw1\n1",
    )?;
    // The log holds the consumers' pops, those that served blocked
    // clients included: replayed, the queue is empty.
    expect(
        "the job queue after the reboot",
        redis(redis_port, &["llen", "jobs"]),
        "0",
    )?;
    expect(
        "the jobs moved after the reboot",
        redis(redis_port, &["llen", "jobs:done"]),
        &JOBS.to_string(),
    )?;
    let (code, body) = curl(http_port, "GET", "/kv/kept", None)?;
    if (code.as_str(), body.as_str()) != ("200", "yes") {
        return Err(fail!("curl GET /kv/kept after the reboot: {code} {body:?}"));
    }
    Ok(())
}

/// Sends `request` on `stream` and reads until the bytes read end with
/// `end` (or fails after 10 s).
fn exchange(stream: &mut TcpStream, request: &[u8], end: &[u8]) -> Result<Vec<u8>> {
    stream.write_all(request)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(end) {
        if Instant::now() > deadline {
            return Err(fail!(
                "waited 10 s for {:?}, got {:?}",
                String::from_utf8_lossy(end),
                String::from_utf8_lossy(&got)
            ));
        }
        match stream.read(&mut buf) {
            Ok(0) => {
                return Err(fail!(
                    "the connection closed; got {:?}",
                    String::from_utf8_lossy(&got)
                ));
            }
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(got)
}

fn connect(port: u16) -> Result<TcpStream> {
    let s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_millis(500)))?;
    Ok(s)
}

/// Pub/Sub across two connections: a subscriber that sends nothing gets
/// the message another connection publishes (the front end's mailbox and
/// the stream server's `woken`, on the target).
fn pubsub(redis_port: u16) -> Result<()> {
    let mut sub = connect(redis_port)?;
    let mut publisher = connect(redis_port)?;
    exchange(
        &mut sub,
        b"SUBSCRIBE news\r\n",
        b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n",
    )?;
    exchange(&mut publisher, b"PUBLISH news hello\r\n", b":1\r\n")?;
    let message = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    exchange(&mut sub, b"", message)?;
    Ok(())
}

/// RESP3 and client-side caching across two connections: after `HELLO
/// 3` a score is a double; a connection that tracks and read a key gets
/// an invalidation push, sending nothing, when another connection
/// changes it (the store's mail, the front end's mailbox and the stream
/// server's `woken`, on the target).
fn client_side_caching(redis_port: u16) -> Result<()> {
    let mut cache = connect(redis_port)?;
    let mut writer = connect(redis_port)?;
    exchange(&mut cache, b"HELLO 3\r\n", b"$7\r\nmodules\r\n*0\r\n")?;
    exchange(
        &mut cache,
        b"ZADD scores 1.5 m\r\nZSCORE scores m\r\nCLIENT TRACKING on\r\nGET cached\r\n",
        b":1\r\n,1.5\r\n+OK\r\n_\r\n",
    )?;
    exchange(&mut writer, b"SET cached v\r\n", b"+OK\r\n")?;
    let push = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$6\r\ncached\r\n";
    exchange(&mut cache, b"", push)?;
    Ok(())
}

/// CLIENT PAUSE on the target: a write another connection sends waits
/// (a read shows it has not run), and runs when the pause's time is up
/// with nothing else sent: the stream server woke for it (the front end's
/// due time, the net client's timed wait).
fn client_pause(redis_port: u16) -> Result<()> {
    let mut pauser = connect(redis_port)?;
    let mut writer = connect(redis_port)?;
    exchange(&mut pauser, b"CLIENT PAUSE 3000 WRITE\r\n", b"+OK\r\n")?;
    writer.write_all(b"SET paused v\r\n")?;
    exchange(&mut pauser, b"GET paused\r\n", b"$-1\r\n")?;
    exchange(&mut writer, b"", b"+OK\r\n")?;
    exchange(&mut pauser, b"GET paused\r\n", b"$1\r\nv\r\n")?;
    Ok(())
}

/// Runs the real client library's script `script` (in `tests/clients`,
/// Debian's python3 with python3-redis and python3-pymemcache) against
/// `port`: it must print `ok`.
fn client_library(script: &str, port: u16) -> Result<()> {
    let path = crate::build::root().join("tests/clients").join(script);
    let path = path.to_string_lossy().into_owned();
    let out = run_for(120, "/usr/bin/python3", &[&path, &port.to_string()], None)?;
    if out.trim_end() != "ok" {
        return Err(fail!("{script}: {out}"));
    }
    Ok(())
}

/// Consumers and jobs of [`job_queue`].
const CONSUMERS: usize = 50;
const JOBS: usize = 400;

/// A work queue: 50 consumers blocked in `BLMOVE jobs jobs:done` (what a
/// reliable queue does), a producer that pushes 400 jobs once all 50
/// wait; every job reaches exactly one consumer, and each consumer goes
/// on until the queue stays empty for its timeout.
fn job_queue(redis_port: u16) -> Result<()> {
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
            s.set_read_timeout(Some(Duration::from_secs(60)))?;
            Ok(std::thread::spawn(move || -> Result<Vec<String>> {
                let mut got = Vec::new();
                loop {
                    s.write_all(b"BLMOVE jobs jobs:done RIGHT LEFT 3\r\n")?;
                    match read_bulk(&mut s)? {
                        Some(job) => got.push(job),
                        None => return Ok(got),
                    }
                }
            }))
        })
        .collect::<Result<_>>()?;
    // All of them wait before the first job comes.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = redis(redis_port, &["info", "clients"])?;
        if info.contains(&format!("blocked_clients:{CONSUMERS}")) {
            break;
        }
        if Instant::now() > deadline {
            return Err(fail!("the consumers never all blocked: {info}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut producer = connect(redis_port)?;
    for batch in 0..JOBS / 100 {
        let mut push = String::from("LPUSH jobs");
        for i in batch * 100..(batch + 1) * 100 {
            push.push_str(&format!(" job:{i}"));
        }
        push.push_str("\r\n");
        exchange(&mut producer, push.as_bytes(), b"\r\n")?;
    }
    let mut seen = Vec::new();
    for c in consumers {
        seen.extend(c.join().map_err(|_| fail!("a consumer panicked"))??);
    }
    seen.sort();
    let mut wanted: Vec<String> = (0..JOBS).map(|i| format!("job:{i}")).collect();
    wanted.sort();
    if seen != wanted {
        return Err(fail!(
            "the consumers got {} jobs ({} distinct), wanted each of {JOBS} once",
            seen.len(),
            {
                let mut d = seen.clone();
                d.dedup();
                d.len()
            }
        ));
    }
    expect(
        "LLEN jobs:done",
        redis(redis_port, &["llen", "jobs:done"]),
        &JOBS.to_string(),
    )
}

/// Reads one bulk-string reply from `s`: `None` for the nil array a
/// BLMOVE that timed out answers (Redis 7.0's).
fn read_bulk(s: &mut TcpStream) -> Result<Option<String>> {
    let header = read_line(s)?;
    if header == "*-1" {
        return Ok(None);
    }
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail!("wanted a bulk string, got {header:?}"))?;
    let mut data = vec![0u8; len + 2];
    s.read_exact(&mut data)?;
    data.truncate(len);
    Ok(Some(String::from_utf8_lossy(&data).into_owned()))
}

/// memcached's text and meta protocols on the memcached front end.
fn memcached_first(port: u16) -> Result<()> {
    let mut c = connect(port)?;
    let version = exchange(&mut c, b"version\r\n", b"\r\n")?;
    if !version.starts_with(b"VERSION 1.6") {
        return Err(fail!(
            "memcached version: {:?}",
            String::from_utf8_lossy(&version)
        ));
    }
    exchange(&mut c, b"set mk 5 0 5\r\nhello\r\n", b"STORED\r\n")?;
    exchange(
        &mut c,
        b"get mk nope\r\n",
        b"VALUE mk 5 5\r\nhello\r\nEND\r\n",
    )?;
    exchange(
        &mut c,
        b"set n 0 0 2\r\n41\r\nincr n 1\r\n",
        b"STORED\r\n42\r\n",
    )?;
    exchange(&mut c, b"mg mk v f\r\n", b"VA 5 f5\r\nhello\r\n")?;
    // A value through the kvs region (larger than a message).
    let big = vec![b'x'; 300_000];
    let mut set = b"set big 0 0 300000\r\n".to_vec();
    set.extend_from_slice(&big);
    set.extend_from_slice(b"\r\n");
    exchange(&mut c, &set, b"STORED\r\n")?;
    let got = exchange(&mut c, b"get big\r\n", b"END\r\n")?;
    if got.len() != b"VALUE big 0 300000\r\n\r\nEND\r\n".len() + big.len() {
        return Err(fail!("get big: {} bytes", got.len()));
    }
    // memcached's own checker: every ASCII test, then every binary one.
    let p = port.to_string();
    for only in ["-a", "-b"] {
        // Its tests store thousands of items: give it the emulator's time.
        let report = run_for(
            300,
            "memccapable",
            &["-h", "127.0.0.1", "-p", &p, only],
            None,
        )?;
        if !report.contains("All tests passed") {
            return Err(fail!("memccapable {only}:\n{report}"));
        }
    }
    Ok(())
}

/// The items are a cache: a restart of the machine empties it.
fn memcached_after_reboot(port: u16) -> Result<()> {
    let mut c = connect(port)?;
    exchange(&mut c, b"get mk\r\n", b"END\r\n").and_then(|got| {
        if got == b"END\r\n" {
            Ok(())
        } else {
            Err(fail!(
                "get mk after the reboot: {:?}",
                String::from_utf8_lossy(&got)
            ))
        }
    })
}

/// The issue's `redis-benchmark` run: fails on an error in its output, a
/// test without its rate, a failure status or [`BENCHMARK_TIMEOUT`];
/// prints each test's rate.
fn benchmark(redis_port: u16, log: &Path) -> Result<()> {
    let started = Instant::now();
    let output = redisbench::run(
        crate::machine::local(redis_port),
        &BENCHMARK_ARGS,
        BENCHMARK_TIMEOUT,
        log,
    )?;
    let rates = redisbench::check(&output, &BENCHMARK_TESTS)?;
    println!(
        "     redis-benchmark {} ({:.0} s), requests/s:",
        BENCHMARK_ARGS.join(" "),
        started.elapsed().as_secs_f64()
    );
    for r in rates {
        println!("       {:<36} {:>8.0}", r.test, r.per_second);
    }
    Ok(())
}

/// The host ports forwarded to config/default's front ends.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ports {
    pub redis: u16,
    pub http: u16,
    pub memcached: u16,
}

/// Boots `image` with the system's devices on `disk` and free host ports;
/// once the front ends answer, runs `checks` (with the ports and QEMU's
/// QMP socket), then kills QEMU (a power cut). The serial log goes to
/// `log`.
pub(crate) fn boot(
    image: &Path,
    machine_for: &dyn Fn(HostPorts) -> Result<Machine>,
    disk: &Path,
    log: &Path,
    accel: Accel,
    checks: &dyn Fn(Ports, &Path) -> Result<()>,
) -> Result<()> {
    boot_on(Firmware::Bios, image, machine_for, disk, log, accel, checks)
}

/// [`boot`] under `firmware`.
fn boot_on(
    firmware: Firmware,
    image: &Path,
    machine_for: &dyn Fn(HostPorts) -> Result<Machine>,
    disk: &Path,
    log: &Path,
    accel: Accel,
    checks: &dyn Fn(Ports, &Path) -> Result<()>,
) -> Result<()> {
    let ports = Ports {
        redis: free_port()?,
        http: free_port()?,
        memcached: free_port()?,
    };
    let redis_port = ports.redis;
    let qmp = log.with_extension("qmp");
    let _ = std::fs::remove_file(&qmp);
    let machine = machine_for(HostPorts {
        redis: Some(ports.redis),
        http: Some(ports.http),
        memcached: Some(ports.memcached),
    })?;
    let mut vm = Vm::new(image, Media::Cdrom, firmware, accel)?;
    vm.memory_mib(machine.memory_mib);
    let args = machine.qemu_args(disk);
    vm.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
    vm.args(&["-qmp", &crate::qmp::arg(&qmp)]);
    let ready = |serial: &str| {
        serial.contains("resp: listening on port")
            && serial.contains("http: listening on port")
            && serial.contains("memcached: listening on port")
            && answers_redis(crate::machine::local(redis_port))
    };
    let served = vm.serve(log, BOOT_TIMEOUT, ready, || checks(ports, &qmp))?;
    let serial = served.serial;
    let failure = |e: crate::Error| {
        fail!(
            "{}\n---- serial log ({}) ----\n{serial}\n---- end of serial log ----",
            e.0,
            log.display()
        )
    };
    // Nothing may restart either: each component serves at generation 1.
    for bad in [
        "KERNEL FAULT",
        "KERNEL PANIC",
        "PANIC",
        "faulted",
        "exited with status",
        "(generation 2",
    ] {
        if serial.contains(bad) {
            return Err(failure(fail!("the serial log has `{bad}`")));
        }
    }
    // The store's heap is its share of this machine (config/default).
    if served.result.is_some() && !serial.contains("init: kvs gets a heap of ") {
        return Err(failure(fail!(
            "init did not give kvs its share of the machine"
        )));
    }
    match served.result {
        Some(r) => r.map_err(failure),
        None => Err(failure(match served.status {
            Some(s) => fail!("QEMU exited (status {s}) before the front ends answered"),
            None => fail!("the front ends did not answer within {BOOT_TIMEOUT:?}"),
        })),
    }
}

/// The boards' devices: config/default booted on QEMU's e1000 with a
/// SATA disk on q35's AHCI controller under SeaBIOS, and on its e1000e
/// with an NVMe disk under OVMF (`machine_for` gives the machine with that card and disk, chosen
/// as `cargo xtask run --nic --storage` do). Each: DHCP, a 1 MiB value
/// through redis-cli both ways and curl's `/health`, an answered write
/// flushed within a second of quiet (counted in QEMU's block statistics,
/// which leave NVMe's flushes out), then a power cut
/// (QEMU killed) and a reboot on the same disk that finds the data; the serial logs must
/// name the drivers and their interrupts (the e1000's INTx line, as init
/// routed it through the firmware's ACPI tables).
pub fn run_cards(
    image: &Path,
    machine_for: &dyn Fn(HostPorts, NicModel, StorageModel) -> Result<Machine>,
    dir: &Path,
    accel: Accel,
) -> Result<()> {
    let e1000: &[&str] = &[
        "net: e1000 8086:100e at configuration page",
        "has no MSI: INTA# goes to GSI",
        "net: interrupts: INTx on line",
        "block: ahci 8086:2922",
        "block: interrupts: MSI on line",
    ];
    let e1000e: &[&str] = &[
        "net: e1000 8086:10d3 at configuration page",
        "net: interrupts: MSI-X entry 0 on line",
        "block: nvme 1b36:0010",
        "block: interrupts: MSI-X entry 0 on line",
    ];
    let value: String = (0..1 << 20)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    for (nic, storage, firmware, said) in [
        (NicModel::E1000, StorageModel::Ahci, Firmware::Bios, e1000),
        (NicModel::E1000e, StorageModel::Nvme, Firmware::Uefi, e1000e),
    ] {
        let name = format!("{nic:?}-{storage:?}").to_lowercase();
        let disk = dir.join(format!("{name}-disk.img"));
        let file = std::fs::File::create(&disk)?;
        file.set_len(crate::machine::DISK_BYTES)?;
        let machine = |ports| machine_for(ports, nic, storage);
        let first = dir.join(format!("{name}-first.log"));
        boot_on(
            firmware,
            image,
            &machine,
            &disk,
            &first,
            accel,
            &|ports, qmp| {
                // Frames of every size, both ways, across both rings' wraps.
                let port = ports.redis.to_string();
                let set = run(
                    "redis-cli",
                    &["-p", &port, "-x", "set", "big"],
                    Some(value.as_bytes()),
                );
                expect("SET", set.map(|s| s.trim_end().to_string()), "OK")?;
                let got = redis(ports.redis, &["get", "big"])?;
                if got != value {
                    return Err(fail!(
                        "GET big: {} bytes back, not the 1 MiB set",
                        got.len()
                    ));
                }
                let (code, _) = curl(ports.http, "GET", "/health", None)?;
                expect("GET /health", Ok(code), "200")?;
                if storage != StorageModel::Nvme {
                    return idle_flush(ports.redis, qmp);
                }
                // QEMU's NVMe controller leaves its flushes out of the
                // block statistics `idle_flush` counts: the same writes and
                // quiet, then the power cut and the reboot check the rest.
                for (k, v) in [("everysec:first", "1"), ("everysec:second", "2")] {
                    expect("SET", redis(ports.redis, &["set", k, v]), "OK")?;
                }
                std::thread::sleep(Duration::from_millis(2500));
                Ok(())
            },
        )
        .map_err(|e| fail!("{name}, first boot: {}", e.0))?;
        // QEMU was killed: a power cut. The same disk again.
        let second = dir.join(format!("{name}-second.log"));
        boot_on(
            firmware,
            image,
            &machine,
            &disk,
            &second,
            accel,
            &|ports, _| {
                let got = redis(ports.redis, &["get", "big"])?;
                if got != value {
                    return Err(fail!(
                        "after the power cut, GET big: {} bytes, not the 1 MiB set",
                        got.len()
                    ));
                }
                expect(
                    "GET after the power cut",
                    redis(ports.redis, &["get", "everysec:second"]),
                    "2",
                )
            },
        )
        .map_err(|e| fail!("{name}, after the power cut: {}", e.0))?;
        for log in [&first, &second] {
            let serial = std::fs::read_to_string(log)?;
            if let Some(line) = said.iter().find(|l| !serial.contains(*l)) {
                return Err(fail!(
                    "{name}: the serial log ({}) lacks {line:?}",
                    log.display()
                ));
            }
        }
    }
    Ok(())
}

/// The test: a fresh disk, the first boot's checks, a power cut, the
/// second boot's checks on the same disk, eviction under `allkeys-lru`
/// and the issue's `redis-benchmark` run.
pub fn run_default(
    image: &Path,
    machine_for: &dyn Fn(HostPorts) -> Result<Machine>,
    dir: &Path,
    accel: Accel,
) -> Result<()> {
    let disk = dir.join("default-disk.img");
    let file = std::fs::File::create(&disk)?;
    file.set_len(crate::machine::DISK_BYTES)?;
    boot(
        image,
        machine_for,
        &disk,
        &dir.join("default-first.log"),
        accel,
        &first_boot,
    )?;
    let benchmark_log = dir.join("default-redis-benchmark.log");
    boot(
        image,
        machine_for,
        &disk,
        &dir.join("default-second.log"),
        accel,
        &|ports, _| {
            second_boot(ports)?;
            oversized_queries(ports.redis)?;
            lru_eviction(ports.redis)?;
            benchmark(ports.redis, &benchmark_log)
        },
    )
}
