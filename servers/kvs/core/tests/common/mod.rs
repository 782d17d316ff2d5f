//! What the differential tests share: a connection to the real Redis
//! server, RESP2 framing, the random source, and the rule for skipping
//! when there is no Redis 7.0 to compare with.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kvs_core::{Protocol, Session, Store};

/// A connection to the real server.
pub struct Redis {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Redis {
    /// Connects, or says why not.
    pub fn connect(addr: &str) -> Result<Redis, String> {
        let addr: SocketAddr = addr
            .parse()
            .map_err(|e| format!("bad address {addr}: {e}"))?;
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .map_err(|e| format!("nothing answers on {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .map_err(|e| e.to_string())?;
        Ok(Redis {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends one command without reading its reply.
    pub fn send(&mut self, args: &[Vec<u8>]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            out.extend_from_slice(a);
            out.extend_from_slice(b"\r\n");
        }
        self.stream.write_all(&out).expect("write to redis");
    }

    /// The next reply's bytes (waiting up to the read timeout, 20 s).
    pub fn reply(&mut self) -> Vec<u8> {
        loop {
            if !self.buf.is_empty()
                && let Some(n) = reply_len(&self.buf)
            {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read from redis");
            assert!(n > 0, "redis closed the connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends one command and returns its reply's bytes.
    pub fn call(&mut self, args: &[Vec<u8>]) -> Vec<u8> {
        self.send(args);
        self.reply()
    }
}

/// Connects to the Redis 7.0 at `KVS_DIFF_ADDR` (default
/// 127.0.0.1:7777) for test `test`, with its version; `None` (after
/// [`skip`]) when there is none.
pub fn redis_7_0(test: &str) -> Option<(Redis, String, String)> {
    let addr = std::env::var("KVS_DIFF_ADDR").unwrap_or_else(|_| "127.0.0.1:7777".into());
    let mut redis = match Redis::connect(&addr) {
        Ok(r) => r,
        Err(why) => {
            skip(
                test,
                &format!(
                    "{why} (start one with `redis-server --port 7777 --save '' --appendonly no --daemonize yes`)"
                ),
            );
            return None;
        }
    };
    let info = redis.call(&[b"INFO".to_vec(), b"server".to_vec()]);
    let info = String::from_utf8_lossy(&info);
    let version = info
        .lines()
        .find_map(|l| l.strip_prefix("redis_version:"))
        .unwrap_or("unknown")
        .to_string();
    if !version.starts_with("7.0.") {
        skip(test, &format!("{addr} runs Redis {version}, not 7.0.x"));
        return None;
    }
    Some((redis, version, addr))
}

/// Says why test `test` compared nothing; fails where a comparison is
/// required (`KVS_DIFF_REQUIRED=1`, as `cargo xtask test` sets it).
pub fn skip(test: &str, why: &str) {
    assert!(
        std::env::var("KVS_DIFF_REQUIRED").as_deref() != Ok("1"),
        "{test}: no comparison made, and one is required: {why}"
    );
    eprintln!("{test}: SKIPPED, no comparison made: {why}");
}

/// The seed in `KVS_DIFF_SEED`, or one from the clock.
pub fn seed() -> u64 {
    std::env::var("KVS_DIFF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        })
}

/// The number in environment variable `var`, or `default`.
pub fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// A prefix for the keys of one run of a test on a shared server.
pub fn key_prefix(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{test}:{}:{nanos}:", std::process::id())
}

/// The bulk strings of a flat array reply (a message, a PING's pong in
/// subscribed mode).
fn bulks(b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(end) = b.windows(2).position(|w| w == b"\r\n") else {
        return out;
    };
    let n: usize = std::str::from_utf8(&b[1..end])
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    let mut at = end + 2;
    for _ in 0..n {
        let Some(line) = b[at..].windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let len: usize = std::str::from_utf8(&b[at + 1..at + line])
            .unwrap()
            .parse()
            .unwrap();
        out.push(b[at + line + 2..at + line + 2 + len].to_vec());
        at += line + 4 + len;
    }
    out
}

/// A subscriber to every keyspace event (`__keyevent@*__:*`) on the real
/// server, keeping those of the test's keys.
pub struct Events {
    sub: Redis,
    prefix: Vec<u8>,
}

impl Events {
    pub fn subscribe(addr: &str, prefix: &str) -> Events {
        let mut sub = Redis::connect(addr).expect("a subscriber");
        sub.call(&[b"PSUBSCRIBE".to_vec(), b"__keyevent@*__:*".to_vec()]);
        Events {
            sub,
            prefix: prefix.as_bytes().to_vec(),
        }
    }

    /// The events since the last call, as `db:event:key`: a PING after
    /// them comes back after every message published before it.
    pub fn since(&mut self) -> Vec<String> {
        self.sub.send(&[b"PING".to_vec()]);
        let mut out = Vec::new();
        loop {
            let reply = self.sub.reply();
            let parts = bulks(&reply);
            if parts.first().is_some_and(|p| p == b"pong") {
                return out;
            }
            let [kind, _, channel, key] = &parts[..] else {
                panic!("not a message: {:?}", String::from_utf8_lossy(&reply));
            };
            assert_eq!(kind, b"pmessage");
            if !key.starts_with(&self.prefix) {
                continue;
            }
            let channel = String::from_utf8_lossy(channel);
            let (db, event) = channel
                .strip_prefix("__keyevent@")
                .and_then(|c| c.split_once("__:"))
                .expect("a keyevent channel");
            out.push(format!("{db}:{event}:{}", String::from_utf8_lossy(key)));
        }
    }
}

/// The store's events since the last call, as [`Events::since`] shows
/// Redis's.
pub fn store_events(store: &mut Store, prefix: &str) -> Vec<String> {
    let (_, events) = store.take_events();
    events
        .into_iter()
        .filter(|e| e.key.starts_with(prefix.as_bytes()))
        .map(|e| format!("{}:{}:{}", e.db, e.name, String::from_utf8_lossy(&e.key)))
        .collect()
}

/// Held while a test sets the server's parameters: the tests of one
/// binary run at once, and they set the same ones.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// One session of a kvs-core [`Store`] beside one connection to Redis,
/// both with the same parameters and keyspace events on, and speaking the
/// same protocol: each command goes to both, and its reply and its events
/// must be the same.
pub struct Differ {
    _alone: std::sync::MutexGuard<'static, ()>,
    pub redis: Redis,
    pub store: Store,
    session: Session,
    events: Events,
    prefix: String,
    seed: u64,
    history: Vec<String>,
    /// Events heard so far.
    pub heard: usize,
    /// Parameters to set back on Redis at the end.
    restore: Vec<(String, String)>,
    /// Per command name: replies that were errors, nils or empty, and the
    /// others (what the comparison covered).
    pub tally: std::collections::BTreeMap<String, (usize, usize)>,
}

impl Differ {
    /// For test `test` (its name), with keys under `prefix`: the
    /// parameters `params` (name, value, and the value to set back) on
    /// both, `notify-keyspace-events KEAn` among them, and replies in
    /// `protocol`. `None` when there is no Redis 7.0 ([`redis_7_0`] says
    /// why).
    pub fn new(
        test: &str,
        prefix: &str,
        seed: u64,
        params: &[(&str, &str, &str)],
        protocol: Protocol,
    ) -> Option<Differ> {
        let alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
        let (mut redis, version, addr) = redis_7_0(test)?;
        eprintln!(
            "{test}: Redis {version} at {addr}, {protocol:?}, seed {seed} (KVS_DIFF_SEED={seed} repeats it), keys {prefix}*"
        );
        if protocol == Protocol::Resp3 {
            let hello = redis.call(&[b"HELLO".to_vec(), b"3".to_vec()]);
            assert!(hello.starts_with(b"%"), "HELLO 3: {hello:?}");
        }
        let mut session = Session::new();
        session.set_protocol(protocol);
        let mut store = Store::new();
        let mut restore = Vec::new();
        for &(name, value, back) in [("notify-keyspace-events", "KEAn", "")]
            .iter()
            .chain(params)
        {
            redis.call(&[
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                name.as_bytes().to_vec(),
                value.as_bytes().to_vec(),
            ]);
            store.configure(name, value).unwrap();
            restore.push((name.to_string(), back.to_string()));
        }
        let events = Events::subscribe(&addr, prefix);
        Some(Differ {
            _alone: alone,
            redis,
            store,
            session,
            events,
            prefix: prefix.to_string(),
            seed,
            history: Vec::new(),
            heard: 0,
            restore,
            tally: Default::default(),
        })
    }

    /// Runs `words` on both and compares the replies and the events
    /// (panicking with the seed and the last commands if they differ).
    pub fn step(&mut self, words: &[String]) {
        self.step_with(words, |r| r.to_vec());
    }

    /// [`step`](Self::step), comparing the replies as `normalize` makes
    /// them (what depends on the clocks, which differ, masked).
    pub fn step_with(&mut self, words: &[String], normalize: fn(&[u8]) -> Vec<u8>) {
        let args: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
        self.step_args(&args, normalize);
    }

    /// [`step_with`](Self::step_with) for arguments that are bytes (a
    /// DUMP payload).
    pub fn step_args(&mut self, args: &[Vec<u8>], normalize: fn(&[u8]) -> Vec<u8>) {
        self.history.push(
            args.iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" "),
        );
        let theirs = self.redis.call(args);
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut ours = Vec::new();
        self.store
            .execute(&mut self.session, &refs, 1_700_000_000_000)
            .encode(self.session.protocol(), &mut ours);
        let (ours, theirs) = (normalize(&ours), normalize(&theirs));
        let name = String::from_utf8_lossy(&args[0]).to_uppercase();
        let counts = self.tally.entry(name).or_default();
        if theirs.starts_with(b"-")
            || theirs == b"*-1\r\n"
            || theirs == b"$-1\r\n"
            || theirs == b"_\r\n"
            || theirs == b"*0\r\n"
        {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        let their_events = self.events.since();
        let our_events = store_events(&mut self.store, &self.prefix);
        let i = self.history.len() - 1;
        let last = self.history[self.history.len().saturating_sub(20)..].join("\n  ");
        let seed = self.seed;
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "seed {seed}, command {i}: the replies differ; the commands:\n  {last}"
        );
        assert_eq!(
            our_events, their_events,
            "seed {seed}, command {i}: the events differ; the commands:\n  {last}"
        );
        self.heard += their_events.len();
    }

    /// What kvs-core's store answers `args` with, in a session of its own
    /// (database 0, RESP2), outside the comparison: its DUMP payloads.
    pub fn ours(&mut self, args: &[Vec<u8>]) -> kvs_core::Reply {
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        self.store
            .execute(&mut Session::new(), &refs, 1_700_000_000_000)
    }

    /// Sets the parameters back on Redis and deletes `keys` (under the
    /// prefix) in databases 1 and 0.
    pub fn finish(mut self, keys: &[&str]) {
        for (name, value) in &self.restore {
            self.redis.call(&[
                b"CONFIG".to_vec(),
                b"SET".to_vec(),
                name.as_bytes().to_vec(),
                value.as_bytes().to_vec(),
            ]);
        }
        for db in ["1", "0"] {
            self.redis
                .call(&[b"SELECT".to_vec(), db.as_bytes().to_vec()]);
            let mut del = vec![b"DEL".to_vec()];
            del.extend(
                keys.iter()
                    .map(|k| format!("{}{k}", self.prefix).into_bytes()),
            );
            self.redis.call(&del);
        }
    }
}

/// The length of the whole RESP2 or RESP3 reply at the start of `b`, if it is
/// all there.
pub fn reply_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let head = &b[1..line_end];
    let after = line_end + 2;
    let n = || -> i64 { std::str::from_utf8(head).unwrap().parse().unwrap() };
    let aggregate = |count: i64| {
        let mut at = after;
        for _ in 0..count {
            at += reply_len(&b[at..])?;
        }
        Some(at)
    };
    match b[0] {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'*' if n() < 0 => Some(after),
        b'$' | b'=' | b'!' => {
            let end = after + n() as usize + 2;
            (b.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' => aggregate(n()),
        b'%' => aggregate(2 * n()),
        other => panic!("not a RESP reply: {:?}", other as char),
    }
}

/// The random commands' source: SplitMix64.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
}
