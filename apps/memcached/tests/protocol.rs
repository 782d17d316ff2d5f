//! The protocol over an in-process store: every command's replies and
//! errors, partial and pipelined input, and a property test with an
//! oracle.

mod common;

use common::{Client, in_pieces, request};
use memcached::Flow;
use proptest::prelude::*;

#[test]
fn pipelined_gets_of_large_items_stall_at_the_high_water_mark() {
    let mut c = Client::new();
    let value = vec![b'v'; 40_000];
    let mut set = b"set big 0 0 40000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(c.send(&set).0, b"STORED\r\n");
    let one = 40_000 + b"VALUE big 0 40000\r\n\r\nEND\r\n".len();
    let (out, flow) = c.send(&b"get big\r\n".repeat(5));
    // Two replies pass 64 KiB: the other three wait.
    assert_eq!((out.len(), flow), (2 * one, Flow::Open));
    assert!(c.conn.stalled());
    let (out, _) = c.send(b"");
    assert_eq!(out.len(), 2 * one);
    assert!(c.conn.stalled());
    let (out, _) = c.send(b"");
    assert_eq!(out.len(), one);
    assert!(!c.conn.stalled());
}

#[test]
fn storage_and_retrieval() {
    let mut c = Client::new();
    assert_eq!(c.say("set a 5 0 3\r\nabc\r\n"), "STORED\r\n");
    assert_eq!(c.say("add a 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
    assert_eq!(c.say("replace b 0 0 1\r\nx\r\n"), "NOT_STORED\r\n");
    assert_eq!(c.say("append a 9 9 2\r\nde\r\n"), "STORED\r\n");
    assert_eq!(c.say("prepend a 0 0 1\r\n_\r\n"), "STORED\r\n");
    assert_eq!(
        c.say("get a b a\r\n"),
        "VALUE a 5 6\r\n_abcde\r\nVALUE a 5 6\r\n_abcde\r\nEND\r\n"
    );
    let gets = c.say("gets a\r\n");
    let cas: u64 = gets.split_whitespace().nth(4).unwrap().parse().unwrap();
    assert_eq!(
        c.say(&format!("cas a 0 0 1 {}\r\nz\r\n", cas + 1)),
        "EXISTS\r\n"
    );
    assert_eq!(c.say(&format!("cas a 0 0 1 {cas}\r\nz\r\n")), "STORED\r\n");
    assert_eq!(c.say("cas nope 0 0 1 1\r\nz\r\n"), "NOT_FOUND\r\n");
    assert_eq!(c.say("set q 0 0 1 noreply\r\nq\r\n"), "");
    assert_eq!(
        c.say("touch a 100\r\ntouch nope 1\r\n"),
        "TOUCHED\r\nNOT_FOUND\r\n"
    );
    assert_eq!(c.say("gat 100 a\r\n"), "VALUE a 0 1\r\nz\r\nEND\r\n");
    assert_eq!(
        c.say("delete a\r\ndelete a\r\ndelete q noreply\r\n"),
        "DELETED\r\nNOT_FOUND\r\n"
    );
    assert_eq!(
        c.say("set n 0 0 3\r\n100\r\ndecr n 1\r\nget n\r\n"),
        "STORED\r\n99\r\nVALUE n 0 3\r\n99 \r\nEND\r\n"
    );
    assert_eq!(c.say("incr n 18446744073709551615\r\n"), "98\r\n");
    assert_eq!(c.say("incr nope 1\r\n"), "NOT_FOUND\r\n");
    assert_eq!(
        c.say("set s 0 0 1\r\nx\r\nincr s 1\r\n"),
        "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
    );
    assert_eq!(c.say("flush_all\r\nget n\r\n"), "OK\r\nEND\r\n");
    assert_eq!(c.say("version\r\n"), "VERSION 1.6.18-basalt\r\n");
    assert_eq!(c.say("verbosity 1\r\nverbosity 1 noreply\r\n"), "OK\r\n");
}

#[test]
fn errors_are_memcacheds() {
    let mut c = Client::new();
    for (input, reply) in [
        ("\r\n", "ERROR\r\n"),
        ("x\r\n", "ERROR\r\n"),
        ("GET a\r\n", "ERROR\r\n"),
        ("get\r\n", "ERROR\r\n"),
        ("set a 0 0\r\n", "ERROR\r\n"),
        (
            "set a 0 0 -1\r\nab\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        (
            "set a x 0 1\r\nb\r\n",
            "CLIENT_ERROR bad command line format\r\nERROR\r\n",
        ),
        (
            "set a 0 0 1\r\nxyz\r\n",
            "CLIENT_ERROR bad data chunk\r\nERROR\r\n",
        ),
        (
            "incr a x\r\n",
            "CLIENT_ERROR invalid numeric delta argument\r\n",
        ),
        ("touch a x\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        ("gat x a\r\n", "CLIENT_ERROR invalid exptime argument\r\n"),
        (
            "delete a 1\r\n",
            "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
        ),
        ("delete a x noreply\r\n", ""),
        (
            "flush_all x\r\n",
            "CLIENT_ERROR invalid exptime argument\r\n",
        ),
        ("verbosity\r\n", "ERROR\r\n"),
        ("stats bogus\r\n", "ERROR\r\n"),
        (
            "stats detail\r\n",
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n",
        ),
        ("mz a\r\n", "ERROR\r\n"),
        ("mg a v v\r\n", "CLIENT_ERROR duplicate flag\r\n"),
        ("mg a !\r\n", "CLIENT_ERROR invalid flag\r\n"),
        ("ms a x\r\n", "CLIENT_ERROR bad command line format\r\n"),
        (
            "ms a 1 Mx\r\nb\r\n",
            "CLIENT_ERROR invalid mode for ms M token\r\n",
        ),
        ("md a !\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        (
            "ma a Mx\r\n",
            "CLIENT_ERROR invalid mode for ma M token\r\n",
        ),
        ("shutdown\r\n", "ERROR: shutdown not enabled\r\n"),
    ] {
        assert_eq!(c.say(input), reply, "{input:?}");
    }
    let long = format!("get {}\r\n", "k".repeat(251));
    assert_eq!(c.say(&long), "CLIENT_ERROR bad command line format\r\n");
    let big = format!(
        "set a 0 0 2000000\r\n{}\r\nget a\r\n",
        "x".repeat(2_000_000)
    );
    assert_eq!(
        c.say(&big),
        "SERVER_ERROR object too large for cache\r\nEND\r\n"
    );
}

#[test]
fn meta_commands() {
    let mut c = Client::new();
    assert_eq!(c.say("ms k 2 T0 F3\r\nhi\r\n"), "HD\r\n");
    assert_eq!(
        c.say("mg k v f s t k Oxy\r\n"),
        "VA 2 f3 s2 t-1 kk Oxy\r\nhi\r\n"
    );
    assert_eq!(c.say("mg nope v\r\nmg nope v q\r\nmn\r\n"), "EN\r\nMN\r\n");
    assert_eq!(c.say("ms k 1 q\r\nx\r\nms k 1 ME\r\ny\r\n"), "NS\r\n");
    assert_eq!(c.say("md k q\r\nmd k\r\n"), "NF\r\n");
    assert_eq!(
        c.say("ma n N0 J10 v\r\nma n D5 MD v\r\n"),
        "VA 2\r\n10\r\nVA 1\r\n5\r\n"
    );
    assert_eq!(c.say("ma nope\r\n"), "NF\r\n");
    assert_eq!(c.say("me nope\r\n"), "EN\r\n");
    assert!(c.say("me n\r\n").starts_with("ME n exp=-1 la=0 cas="));
    assert_eq!(c.say("mg v N30 s\r\nmg v s\r\n"), "HD s0 W\r\nHD s0 Z\r\n");
}

#[test]
fn input_may_come_in_pieces_and_pipelined() {
    let stream = b"set a 0 0 5\r\nhello\r\nget a\r\nmg a v\r\ndelete a\r\nget a\r\n";
    let mut whole = Client::new();
    let (expected, _) = whole.send(stream);
    for cut in 1..stream.len() {
        let mut c = Client::new();
        let (mut out, _) = c.send(&stream[..cut]);
        out.extend(c.send(&stream[cut..]).0);
        assert_eq!(out, expected, "cut at {cut}");
    }
    let mut c = Client::new();
    let mut out = Vec::new();
    for b in stream {
        out.extend(c.send(&[*b]).0);
    }
    assert_eq!(out, expected);
}

#[test]
fn closing() {
    assert_eq!(
        Client::new().send(b"quit\r\nget a\r\n"),
        (vec![], Flow::Close)
    );
    assert_eq!(
        Client::new().send(b"GET / HTTP/1.1\r\n"),
        (vec![], Flow::Close)
    );
    assert_eq!(Client::new().send(&[b'x'; 3000]).1, Flow::Close);
    let mut c = Client::new();
    assert_eq!(c.send(b"get ").1, Flow::Open);
    assert_eq!(
        c.send(&[b'k'; 3000]).1,
        Flow::Open,
        "a long get line may grow"
    );
    assert_eq!(c.send(&[b'k'; 300_000]).1, Flow::Close, "… up to a bound");
}

proptest! {
    /// Any bytes, in any pieces: no panic, the input buffered stays
    /// bounded, and well-formed requests get exactly their replies, in
    /// order, each ending with `\r\n`.
    #[test]
    fn never_panics_and_stays_bounded(reqs in prop::collection::vec(request(), 1..20), cuts in prop::collection::vec(1usize..50, 1..10)) {
        let mut c = Client::new();
        let stream: Vec<u8> = reqs.concat();
        let (out, _) = in_pieces(&stream, &cuts, |piece| c.send(piece));
        prop_assert!(out.is_empty() || out.ends_with(b"\r\n"));
        // An oracle on well-formed requests alone: after an `mn`, the
        // replies end with `MN`.
        let (o, flow) = c.send(b"\r\nmn\r\n");
        if flow == Flow::Open && !o.is_empty() {
            prop_assert!(o.ends_with(b"MN\r\n"), "{:?}", String::from_utf8_lossy(&o));
        }
    }

    /// The well-formed requests alone: one reply per request, in order.
    #[test]
    fn one_reply_each(keys in prop::collection::vec(0u8..3, 1..30)) {
        let mut c = Client::new();
        let mut stream = Vec::new();
        for k in &keys {
            stream.extend(format!("set k{k} 0 0 1\r\nx\r\nmg k{k} s\r\ndelete k{k}\r\n").bytes());
        }
        let (out, _) = c.send(&stream);
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
        prop_assert_eq!(lines.len(), keys.len() * 3);
        for chunk in lines.chunks(3) {
            prop_assert_eq!(chunk, &["STORED", "HD s1", "DELETED"][..]);
        }
    }
}
