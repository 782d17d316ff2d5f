//! The wire's differential test: the same byte streams go to the front end
//! (over the real kvs server, in-process) and to a real Redis 7.0 over
//! TCP, cut into the same random pieces, and the bytes that come back
//! must be the same, and so must whether the connection is closed at the
//! end. The streams mix multibulk and inline commands (quotes, escapes,
//! blank lines), pipelining, transactions, unknown commands and wrong
//! arities, and end, some of them, in a protocol error: a malformed
//! length, a missing `$`, unbalanced quotes, an oversized count line.
//!
//! It takes its server from the environment as kvs-core's differential
//! test does (`KVS_DIFF_ADDR`, default 127.0.0.1:7777; `KVS_DIFF_REQUIRED=1`
//! fails without one, which `cargo xtask test` sets with a private
//! redis-server; otherwise it prints why and compares nothing).
//! `WIRE_DIFF_SEED` replays a run (the seed is printed), `WIRE_DIFF_STREAMS`
//! (default 300) sets how many streams. Its keys start with a prefix of
//! their own and are deleted at the end.
//!
//! How the end is told apart: after the stream, both get `DISCARD` (to
//! end a transaction the stream left open) and `ECHO <end>` in a piece of
//! their own. A connection still open answers the ECHO, so everything
//! before has been answered; a closed one answers nothing (Redis closes
//! the socket; the front end says `Flow::Close`).

mod common;

use common::redis::{Rng, multibulk, seed_and_length, server};
use common::*;
use resp::Flow;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One command, as a client library or a person would type it.
fn command(r: &mut Rng, key: &dyn Fn(&str) -> String) -> Vec<Vec<u8>> {
    let k = key(r.pick(&["a", "b", "n", "l", "h"]));
    let v = r
        .pick(&["v", "hello world", "", "42", "-7", "x\"y", "3.5"])
        .to_string();
    let words: Vec<String> = match r.below(18) {
        0 => vec!["SET".into(), k, v],
        1 => vec!["GET".into(), k],
        2 => vec!["INCR".into(), k],
        3 => vec!["DEL".into(), k],
        4 => vec!["APPEND".into(), k, v],
        5 => vec!["RPUSH".into(), k, v, "z".into()],
        6 => vec!["LRANGE".into(), k, "0".into(), "-1".into()],
        7 => vec!["HSET".into(), k, "f".into(), v],
        8 => vec!["HGET".into(), k, "f".into()],
        9 => vec!["EXISTS".into(), k.clone(), k],
        10 => vec!["PING".into()],
        11 => vec!["ECHO".into(), v],
        12 => vec![r.pick(&["MULTI", "EXEC", "DISCARD"]).to_string()],
        13 => vec!["FOOBAR".into(), v],
        14 => vec![r.pick(&["GET", "SET", "INCR", "ECHO"]).to_string()],
        // The front end's own (queued by it inside MULTI).
        15 => match r.below(7) {
            0 => vec!["CLIENT".into(), "GETNAME".into()],
            1 => vec!["CLIENT".into(), r.pick(&["NOPE", "ID"]).to_string(), v],
            2 => vec!["PUBLISH".into(), k, v],
            3 => vec!["PUBSUB".into(), "NUMSUB".into(), k],
            4 => vec!["CONFIG".into(), "GET".into(), "maxclients".into()],
            5 => vec!["ROLE".into()],
            _ => vec!["HELLO".into(), "4".into()],
        },
        16 => vec!["PING".into(), v],
        _ => vec!["TYPE".into(), k],
    };
    words.into_iter().map(String::into_bytes).collect()
}

/// `args` as an inline request: bare words where they can be, else in
/// double quotes with escapes, or single quotes; LF or CRLF.
fn inline(r: &mut Rng, args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(r.pick::<&[u8]>(&[b" ", b"  ", b"\t"]));
        }
        let plain = !a.is_empty()
            && a.iter()
                .all(|&b| b.is_ascii_graphic() && b != b'"' && b != b'\'');
        match (plain, r.below(3)) {
            (true, 0 | 1) => out.extend_from_slice(a),
            (_, 2) if !a.contains(&b'\'') => {
                out.push(b'\'');
                out.extend_from_slice(a);
                out.push(b'\'');
            }
            _ => {
                out.push(b'"');
                for &b in a.iter() {
                    match b {
                        b'"' => out.extend_from_slice(b"\\\""),
                        b' ' if r.below(2) == 0 => out.extend_from_slice(b"\\x20"),
                        b => out.push(b),
                    }
                }
                out.push(b'"');
            }
        }
    }
    out.extend_from_slice(r.pick::<&[u8]>(&[b"\r\n", b"\n"]));
    out
}

/// A malformed request that Redis answers with a protocol error and a
/// close.
fn broken(r: &mut Rng) -> Vec<u8> {
    r.pick::<&[u8]>(&[
        b"*x\r\n",
        b"*01\r\n",
        b"*2147483648\r\n",
        b"*1\r\n$x\r\n",
        b"*1\r\n$-1\r\n",
        b"*1\r\n$04\r\nPING\r\n",
        b"*1\r\n:1\r\n",
        b"*2\r\n$4\r\nECHO\r\n+x\r\n",
        b"PING \"a\r\n",
        b"ECHO 'a\r\n",
        b"ECHO \"a\"b\r\n",
    ])
    .to_vec()
}

/// One stream: commands, blank lines and null arrays between them, and
/// maybe a protocol error at the end.
fn stream(r: &mut Rng, key: &dyn Fn(&str) -> String) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..1 + r.below(12) {
        match r.below(10) {
            0 => out.extend_from_slice(r.pick::<&[u8]>(&[b"\r\n", b"\n", b"*0\r\n", b"*-1\r\n"])),
            1..=4 => {
                let args = command(r, key);
                out.extend(inline(r, &args));
            }
            _ => out.extend(multibulk(&command(r, key))),
        }
    }
    if r.below(4) == 0 {
        out.extend(broken(r));
    }
    out
}

/// `bytes` cut into random pieces.
fn pieces(r: &mut Rng, bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let n = match r.below(3) {
            0 => bytes.len() - at,
            _ => (1 + r.below(8) as usize).min(bytes.len() - at),
        };
        out.push(bytes[at..at + n].to_vec());
        at += n;
    }
    out
}

/// What Redis sends back for `pieces`, then `end` in a piece of its own,
/// and whether it closed the connection.
fn redis_side(
    addr: SocketAddr,
    pieces: &[Vec<u8>],
    end: &[u8],
    expect_end: &[u8],
) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(addr).expect("connect to redis");
    s.set_nodelay(true).expect("nodelay");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    for p in pieces {
        // A closed connection refuses the rest, as a socket does.
        if s.write_all(p).is_err() {
            break;
        }
        // Lets the server read each piece on its own.
        std::thread::sleep(Duration::from_micros(200));
    }
    let _ = s.write_all(end);
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        if out.ends_with(expect_end) {
            out.truncate(out.len() - expect_end.len());
            return (out, false);
        }
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return (out, true),
            Err(e) => panic!(
                "reading from redis: {e} (so far {:?})",
                out.escape_ascii().to_string()
            ),
        }
    }
}

/// The same through the front end.
fn basalt_side(fe: &mut Fe, pieces: &[Vec<u8>], end: &[u8], expect_end: &[u8]) -> (Vec<u8>, bool) {
    let mut conn = connect(fe);
    let mut out = Vec::new();
    let mut closed = false;
    for p in pieces.iter().chain([&end.to_vec()]) {
        let (bytes, flow) = drive(&mut conn, fe, p);
        out.extend(bytes);
        if flow == Flow::Close {
            closed = true;
            break;
        }
    }
    fe.disconnect(conn);
    if !closed {
        assert!(
            out.ends_with(expect_end),
            "the front end did not answer the final ECHO: {:?}",
            out.escape_ascii().to_string()
        );
        out.truncate(out.len() - expect_end.len());
    }
    (out, closed)
}

#[test]
fn the_wire_matches_redis() {
    let Some(addr) = server("wire_diff") else {
        return;
    };
    let (seed, streams) = seed_and_length("WIRE_DIFF", "STREAMS", 300);
    eprintln!("wire_diff: seed {seed} (WIRE_DIFF_SEED={seed} replays it), {streams} streams");
    let prefix = format!("wirediff:{}:{seed}:", std::process::id());
    let key = |k: &str| format!("{prefix}{k}");
    let end_token = format!("{prefix}end");
    // DISCARD first, so that a MULTI the stream left open does not queue
    // the ECHO (outside one it is an error, the same on both sides).
    let mut end = multibulk(&[b"DISCARD".to_vec()]);
    end.extend(multibulk(&[
        b"ECHO".to_vec(),
        end_token.clone().into_bytes(),
    ]));
    let expect_end = format!("${}\r\n{end_token}\r\n", end_token.len()).into_bytes();
    let (mut fe, _) = frontend();
    let mut r = Rng(seed);
    let mut closes = 0;
    for i in 0..streams {
        let bytes = stream(&mut r, &key);
        let cut = pieces(&mut r, &bytes);
        let (theirs, their_close) = redis_side(addr, &cut, &end, &expect_end);
        let (ours, our_close) = basalt_side(&mut fe, &cut, &end, &expect_end);
        closes += u64::from(their_close);
        assert!(
            theirs == ours && their_close == our_close,
            "stream {i} (seed {seed}) differs\n input:  {:?}\n pieces: {}\n redis:  {:?}{}\n basalt: {:?}{}",
            bytes.escape_ascii().to_string(),
            cut.len(),
            theirs.escape_ascii().to_string(),
            if their_close { " (closed)" } else { "" },
            ours.escape_ascii().to_string(),
            if our_close { " (closed)" } else { "" },
        );
    }
    // Leave nothing behind on a shared server.
    let mut s = TcpStream::connect(addr).expect("connect to redis");
    let keys: Vec<Vec<u8>> = ["a", "b", "n", "l", "h"]
        .iter()
        .map(|k| key(k).into_bytes())
        .collect();
    let mut del = vec![b"DEL".to_vec()];
    del.extend(keys);
    s.write_all(&multibulk(&del)).expect("DEL");
    let mut buf = [0u8; 64];
    let _ = s.read(&mut buf);
    eprintln!("wire_diff: {streams} streams the same, {closes} of them closed by a protocol error");
}
