//! What the tests against a real Redis 7.0 share: finding the server the
//! environment names, a connection that reads up to a marker, a seeded
//! generator, the seed and length a run takes from the environment, and
//! RESP framing.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One connection to Redis: sends, and reads up to a marker's answer.
pub struct Remote {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Remote {
    /// Connects to `addr` (reads wait at most 10 s).
    pub fn connect(addr: SocketAddr) -> Remote {
        let stream = TcpStream::connect(addr).expect("connect to redis");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Remote {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to redis");
    }

    /// What arrives until nothing has for `window` (for a connection
    /// that may be held, which cannot be asked to PING).
    pub fn quiet(&mut self, window: Duration) -> Vec<u8> {
        self.stream.set_read_timeout(Some(window)).expect("timeout");
        let mut chunk = [0u8; 65536];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => break,
                Err(e) => panic!("read from redis: {e}"),
            }
        }
        self.stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        std::mem::take(&mut self.buf)
    }

    /// Everything before the answer to `PING marker`, in either form
    /// (`$marker`, or `[pong, marker]` from a subscribed RESP2
    /// connection).
    pub fn until(&mut self, marker: &[u8]) -> Vec<u8> {
        let plain = [format!("${}\r\n", marker.len()).as_bytes(), marker, b"\r\n"].concat();
        let sub = [b"*2\r\n$4\r\npong\r\n".as_slice(), &plain].concat();
        let find = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).position(|w| w == needle);
        loop {
            for end in [&sub, &plain] {
                if let Some(at) = find(&self.buf, end) {
                    let out = self.buf[..at].to_vec();
                    self.buf.drain(..at + end.len());
                    return out;
                }
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read from redis");
            assert!(n > 0, "redis closed a connection");
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// A small deterministic generator (xorshift64*), so that a seed replays.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The Redis 7.0 of `KVS_DIFF_ADDR` (default 127.0.0.1:7777), as
/// kvs-core's differential test finds it; `None` (with a message) when
/// there is none, which `KVS_DIFF_REQUIRED=1` turns into a failure.
pub fn server(test: &str) -> Option<SocketAddr> {
    let addr = std::env::var("KVS_DIFF_ADDR").unwrap_or_else(|_| "127.0.0.1:7777".into());
    let required = std::env::var("KVS_DIFF_REQUIRED").is_ok_and(|v| v == "1");
    let why = match addr.parse::<SocketAddr>() {
        Err(e) => format!("bad KVS_DIFF_ADDR {addr}: {e}"),
        Ok(a) => match TcpStream::connect_timeout(&a, Duration::from_secs(2)) {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = s.write_all(b"INFO server\r\n");
                let mut buf = vec![0u8; 8192];
                let n = s.read(&mut buf).unwrap_or(0);
                if String::from_utf8_lossy(&buf[..n]).contains("redis_version:7.0.") {
                    return Some(a);
                }
                format!("{addr} is not Redis 7.0")
            }
            Err(e) => format!("nothing answers on {addr}: {e}"),
        },
    };
    assert!(!required, "KVS_DIFF_REQUIRED=1: {why}");
    eprintln!("{test}: skipped, {why}");
    None
}

/// The run's seed (`<var>_SEED`, else from the clock; odd, as the
/// generator wants) and length (`<var>_<what>`, else `default`).
pub fn seed_and_length(var: &str, what: &str, default: u64) -> (u64, u64) {
    let number = |name: String| std::env::var(name).ok().and_then(|s| s.parse().ok());
    let seed = number(format!("{var}_SEED")).unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    }) | 1;
    let length = number(format!("{var}_{what}")).unwrap_or(default);
    (seed, length)
}

/// `args` as a multibulk request.
pub fn multibulk<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The length of the whole RESP2 reply at the start of `b`, if it is all
/// there.
pub fn reply_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let n = || -> i64 {
        std::str::from_utf8(&b[1..line_end])
            .unwrap()
            .parse()
            .unwrap()
    };
    let after = line_end + 2;
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
        b'$' | b'=' | b'!' => Some(after + n() as usize + 2).filter(|&end| b.len() >= end),
        b'*' | b'~' | b'>' => aggregate(n()),
        b'%' => aggregate(2 * n()),
        other => panic!("not a RESP reply: {:?}", other as char),
    }
}
