//! The binary protocol over an in-process store: every opcode's
//! responses (as memcached 1.6.18 sends them, checked against the real
//! server), the quiet variants, hostile input (truncated headers, lying
//! lengths, a wrong magic, oversized bodies), and pipelined requests cut
//! at every byte.

mod common;

use common::{Client, in_pieces};
use memcached::binary::READ_BUFFER;
use memcached::{Flow, OUTPUT_HIGH_WATER};
use proptest::prelude::*;

// The opcodes.
const GET: u8 = 0x00;
const SET: u8 = 0x01;
const ADD: u8 = 0x02;
const REPLACE: u8 = 0x03;
const DELETE: u8 = 0x04;
const INCR: u8 = 0x05;
const DECR: u8 = 0x06;
const QUIT: u8 = 0x07;
const FLUSH: u8 = 0x08;
const GETQ: u8 = 0x09;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const GETK: u8 = 0x0c;
const GETKQ: u8 = 0x0d;
const APPEND: u8 = 0x0e;
const PREPEND: u8 = 0x0f;
const STAT: u8 = 0x10;
const SETQ: u8 = 0x11;
const ADDQ: u8 = 0x12;
const REPLACEQ: u8 = 0x13;
const DELETEQ: u8 = 0x14;
const INCRQ: u8 = 0x15;
const DECRQ: u8 = 0x16;
const QUITQ: u8 = 0x17;
const FLUSHQ: u8 = 0x18;
const APPENDQ: u8 = 0x19;
const PREPENDQ: u8 = 0x1a;
const VERBOSITY: u8 = 0x1b;
const TOUCH: u8 = 0x1c;
const GAT: u8 = 0x1d;
const GATQ: u8 = 0x1e;
const SASL_LIST: u8 = 0x20;
const SASL_AUTH: u8 = 0x21;
const GATK: u8 = 0x23;
const GATKQ: u8 = 0x24;

/// A request, its lengths as they should be unless overridden.
#[derive(Clone, Default)]
struct Req {
    op: u8,
    key: Vec<u8>,
    extras: Vec<u8>,
    value: Vec<u8>,
    cas: u64,
    opaque: u32,
    key_len: Option<u16>,
    body_len: Option<u32>,
}

impl Req {
    fn new(op: u8) -> Req {
        Req {
            op,
            opaque: 0xdead_beef,
            ..Req::default()
        }
    }
    fn key(mut self, k: &[u8]) -> Req {
        self.key = k.to_vec();
        self
    }
    fn extras(mut self, e: &[u8]) -> Req {
        self.extras = e.to_vec();
        self
    }
    fn value(mut self, v: &[u8]) -> Req {
        self.value = v.to_vec();
        self
    }
    fn cas(mut self, c: u64) -> Req {
        self.cas = c;
        self
    }
    fn opaque(mut self, o: u32) -> Req {
        self.opaque = o;
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let key_len = self.key_len.unwrap_or(self.key.len() as u16);
        let body = self
            .body_len
            .unwrap_or((self.extras.len() + self.key.len() + self.value.len()) as u32);
        let mut out = vec![0x80, self.op];
        out.extend(key_len.to_be_bytes());
        out.push(self.extras.len() as u8);
        out.extend([0, 0, 0]);
        out.extend(body.to_be_bytes());
        out.extend(self.opaque.to_be_bytes());
        out.extend(self.cas.to_be_bytes());
        out.extend(&self.extras);
        out.extend(&self.key);
        out.extend(&self.value);
        out
    }
}

fn set_extras(flags: u32, exptime: u32) -> Vec<u8> {
    let mut e = flags.to_be_bytes().to_vec();
    e.extend(exptime.to_be_bytes());
    e
}

fn set(op: u8, key: &[u8], flags: u32, value: &[u8]) -> Req {
    Req::new(op)
        .key(key)
        .extras(&set_extras(flags, 0))
        .value(value)
}

fn arith(op: u8, key: &[u8], delta: u64, initial: u64, exptime: u32) -> Req {
    let mut e = delta.to_be_bytes().to_vec();
    e.extend(initial.to_be_bytes());
    e.extend(exptime.to_be_bytes());
    Req::new(op).key(key).extras(&e)
}

/// A response, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Resp {
    op: u8,
    status: u16,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
    opaque: u32,
    cas: u64,
}

impl Resp {
    fn ok(op: u8) -> Resp {
        Resp {
            op,
            status: 0,
            extras: vec![],
            key: vec![],
            value: vec![],
            opaque: 0xdead_beef,
            cas: 0,
        }
    }
    fn err(op: u8, status: u16, text: &str) -> Resp {
        Resp {
            status,
            value: text.as_bytes().to_vec(),
            ..Resp::ok(op)
        }
    }
}

/// Splits a response stream; panics on anything but whole responses.
fn parse(mut bytes: &[u8]) -> Vec<Resp> {
    let mut out = vec![];
    while !bytes.is_empty() {
        assert!(bytes.len() >= 24, "a truncated header: {bytes:?}");
        assert_eq!(bytes[0], 0x81, "response magic");
        assert_eq!(bytes[5], 0, "data type");
        let key_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let ext = usize::from(bytes[4]);
        let body = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
        assert!(body >= key_len + ext);
        let b = &bytes[24..24 + body];
        out.push(Resp {
            op: bytes[1],
            status: u16::from_be_bytes([bytes[6], bytes[7]]),
            extras: b[..ext].to_vec(),
            key: b[ext..ext + key_len].to_vec(),
            value: b[ext + key_len..].to_vec(),
            opaque: u32::from_be_bytes(bytes[12..16].try_into().unwrap()),
            cas: u64::from_be_bytes(bytes[16..24].try_into().unwrap()),
        });
        bytes = &bytes[24 + body..];
    }
    out
}

/// The binary protocol's side of a client.
trait Binary {
    fn ask(&mut self, reqs: &[Req]) -> (Vec<Resp>, Flow);
    fn one(&mut self, req: Req) -> Resp;
}

impl Binary for Client {
    /// Sends the requests pipelined; the responses, and whether the
    /// connection stays.
    fn ask(&mut self, reqs: &[Req]) -> (Vec<Resp>, Flow) {
        let bytes: Vec<u8> = reqs.iter().flat_map(|r| r.bytes()).collect();
        let (out, flow) = self.send(&bytes);
        (parse(&out), flow)
    }

    fn one(&mut self, req: Req) -> Resp {
        let (mut r, flow) = self.ask(&[req]);
        assert_eq!((r.len(), flow), (1, Flow::Open), "{r:?}");
        r.remove(0)
    }
}

fn hit(op: u8, flags: u32, value: &[u8], cas: u64) -> Resp {
    Resp {
        extras: flags.to_be_bytes().to_vec(),
        value: value.to_vec(),
        cas,
        ..Resp::ok(op)
    }
}

fn number(op: u8, n: u64, cas: u64) -> Resp {
    Resp {
        value: n.to_be_bytes().to_vec(),
        cas,
        ..Resp::ok(op)
    }
}

const NOT_FOUND: &str = "Not found";
const EXISTS: &str = "Data exists for key.";

#[test]
fn get_set_and_kin() {
    let mut c = Client::new();
    assert_eq!(c.one(Req::new(GET).key(b"a")), Resp::err(GET, 1, NOT_FOUND));
    // A GETK miss names the key, without the text.
    assert_eq!(
        c.one(Req::new(GETK).key(b"a")),
        Resp {
            status: 1,
            key: b"a".to_vec(),
            ..Resp::ok(GETK)
        }
    );
    let stored = c.one(set(SET, b"a", 5, b"hello"));
    assert_eq!((stored.op, stored.status, stored.value.len()), (SET, 0, 0));
    let cas = stored.cas;
    assert_ne!(cas, 0);
    assert_eq!(c.one(Req::new(GET).key(b"a")), hit(GET, 5, b"hello", cas));
    assert_eq!(
        c.one(Req::new(GETK).key(b"a")),
        Resp {
            key: b"a".to_vec(),
            ..hit(GETK, 5, b"hello", cas)
        }
    );
    // Quiet gets answer hits.
    let (r, _) = c.ask(&[Req::new(GETQ).key(b"a"), Req::new(GETKQ).key(b"a")]);
    assert_eq!(
        r,
        [
            hit(GETQ, 5, b"hello", cas),
            Resp {
                key: b"a".to_vec(),
                ..hit(GETKQ, 5, b"hello", cas)
            }
        ]
    );
    assert_eq!(c.one(set(ADD, b"a", 0, b"x")), Resp::err(ADD, 2, EXISTS));
    assert_eq!(
        c.one(set(REPLACE, b"b", 0, b"x")),
        Resp::err(REPLACE, 1, NOT_FOUND)
    );
    let added = c.one(set(ADD, b"b", 0, b"x"));
    assert_eq!((added.status, added.cas > cas), (0, true));
    let replaced = c.one(set(REPLACE, b"b", 7, b"yy"));
    assert_eq!(
        c.one(Req::new(GET).key(b"b")),
        hit(GET, 7, b"yy", replaced.cas)
    );
    // A CAS unique makes any of the three a CAS store.
    assert_eq!(
        c.one(set(SET, b"b", 0, b"z").cas(replaced.cas + 100)),
        Resp::err(SET, 2, EXISTS)
    );
    assert_eq!(
        c.one(set(ADD, b"b", 0, b"z").cas(replaced.cas + 100)),
        Resp::err(ADD, 2, EXISTS)
    );
    assert_eq!(
        c.one(set(SET, b"nope", 0, b"z").cas(1)),
        Resp::err(SET, 1, NOT_FOUND)
    );
    let swapped = c.one(set(REPLACE, b"b", 0, b"z").cas(replaced.cas));
    assert_eq!(swapped.status, 0);
    // An empty value, and flags of all ones.
    c.one(set(SET, b"e", u32::MAX, b""));
    let e = c.one(Req::new(GET).key(b"e"));
    assert_eq!((e.extras, e.value), (vec![0xff; 4], vec![]));
}

#[test]
fn quiet_variants_send_only_errors() {
    let mut c = Client::new();
    let (r, flow) = c.ask(&[
        set(SETQ, b"a", 0, b"1").opaque(1),
        set(ADDQ, b"a", 0, b"1").opaque(2),
        set(REPLACEQ, b"z", 0, b"1").opaque(3),
        set(REPLACEQ, b"a", 0, b"2").opaque(4),
        Req::new(GETQ).key(b"z").opaque(5),
        Req::new(GETKQ).key(b"z").opaque(6),
        Req::new(DELETEQ).key(b"z").opaque(7),
        Req::new(APPENDQ).key(b"a").value(b"x").opaque(8),
        Req::new(PREPENDQ).key(b"z").value(b"x").opaque(9),
        arith(INCRQ, b"n", 1, 5, 0).opaque(10),
        arith(DECRQ, b"m", 1, 5, u32::MAX).opaque(11),
        arith(INCRQ, b"a", 1, 0, 0).opaque(12),
        Req::new(GETKQ).key(b"a").opaque(13),
        Req::new(DELETEQ).key(b"a").opaque(14),
        Req::new(FLUSHQ).opaque(15),
        Req::new(NOOP).opaque(16),
    ]);
    assert_eq!(flow, Flow::Open);
    let summary: Vec<(u8, u16, u32)> = r.iter().map(|r| (r.op, r.status, r.opaque)).collect();
    assert_eq!(
        summary,
        [
            (ADDQ, 2, 2),
            (REPLACEQ, 1, 3),
            (DELETEQ, 1, 7),
            (PREPENDQ, 5, 9),
            (DECRQ, 1, 11),
            (INCRQ, 6, 12),
            (GETKQ, 0, 13),
            (NOOP, 0, 16),
        ]
    );
    // REPLACEQ and APPENDQ did their work without a word.
    assert_eq!(r[6].value, b"2x");
    // QUITQ closes without a word.
    assert_eq!(Client::new().ask(&[Req::new(QUITQ)]), (vec![], Flow::Close));
}

#[test]
fn incr_decr() {
    let mut c = Client::new();
    let created = c.one(arith(INCR, b"n", 1, 10, 0));
    assert_eq!(created, number(INCR, 10, created.cas));
    let up = c.one(arith(INCR, b"n", 5, 10, 0));
    assert_eq!(up, number(INCR, 15, up.cas));
    assert!(up.cas > created.cas);
    let down = c.one(arith(DECR, b"n", 100, 10, 0));
    assert_eq!(down, number(DECR, 0, down.cas));
    // 0xffffffff: a miss is not found, nothing is created.
    assert_eq!(
        c.one(arith(INCR, b"m", 1, 10, u32::MAX)),
        Resp::err(INCR, 1, NOT_FOUND)
    );
    assert_eq!(c.one(Req::new(GET).key(b"m")), Resp::err(GET, 1, NOT_FOUND));
    // A created item holds the initial value, as text, with flags 0.
    let d = c.one(arith(DECR, b"q", 1, 77, 0));
    assert_eq!(c.one(Req::new(GET).key(b"q")), hit(GET, 0, b"77", d.cas));
    c.one(set(SET, b"s", 3, b"abc"));
    assert_eq!(
        c.one(arith(INCR, b"s", 1, 0, 0)),
        Resp::err(INCR, 6, "Non-numeric server-side value for incr or decr")
    );
    assert_eq!(
        c.one(arith(INCR, b"n", 1, 0, 0).cas(12345)),
        Resp::err(INCR, 2, EXISTS)
    );
    // Wrapping at 2^64, and a shorter number padded in place.
    c.one(set(SET, b"w", 0, b"18446744073709551615"));
    let w = c.one(arith(INCR, b"w", 2, 0, 0));
    assert_eq!(w, number(INCR, 1, w.cas));
    assert_eq!(
        c.one(Req::new(GET).key(b"w")).value,
        b"1                   "
    );
    c.one(set(SET, b"p", 0, b"100"));
    c.one(arith(DECR, b"p", 1, 0, 0));
    assert_eq!(c.one(Req::new(GET).key(b"p")).value, b"99 ");
}

#[test]
fn delete_append_prepend_touch() {
    let mut c = Client::new();
    c.one(set(SET, b"a", 3, b"abc"));
    assert_eq!(
        c.one(Req::new(DELETE).key(b"a").cas(12345)),
        Resp::err(DELETE, 2, EXISTS)
    );
    assert_eq!(c.one(Req::new(DELETE).key(b"a")), Resp::ok(DELETE));
    assert_eq!(
        c.one(Req::new(DELETE).key(b"a")),
        Resp::err(DELETE, 1, NOT_FOUND)
    );
    assert_eq!(
        c.one(Req::new(APPEND).key(b"a").value(b"x")),
        Resp::err(APPEND, 5, "Not stored.")
    );
    c.one(set(SET, b"a", 3, b"abc"));
    c.one(Req::new(APPEND).key(b"a").value(b"DEF"));
    let p = c.one(Req::new(PREPEND).key(b"a").value(b"012"));
    assert_eq!(p.status, 0);
    assert_eq!(
        c.one(Req::new(GET).key(b"a")),
        hit(GET, 3, b"012abcDEF", p.cas)
    );
    assert_eq!(
        c.one(Req::new(APPEND).key(b"a").value(b"x").cas(p.cas + 1)),
        Resp::err(APPEND, 2, EXISTS)
    );
    // TOUCH answers the item's flags and CAS unique.
    let t = c.one(Req::new(TOUCH).key(b"a").extras(&100u32.to_be_bytes()));
    assert_eq!(
        t,
        Resp {
            extras: 3u32.to_be_bytes().to_vec(),
            cas: p.cas,
            ..Resp::ok(TOUCH)
        }
    );
    assert_eq!(
        c.one(Req::new(TOUCH).key(b"z").extras(&[0; 4])),
        Resp::err(TOUCH, 1, NOT_FOUND)
    );
    let ttl = 100u32.to_be_bytes();
    assert_eq!(
        c.one(Req::new(GAT).key(b"a").extras(&ttl)),
        hit(GAT, 3, b"012abcDEF", p.cas)
    );
    let (r, _) = c.ask(&[
        Req::new(GATQ).key(b"z").extras(&ttl),
        Req::new(GATKQ).key(b"z").extras(&ttl),
        Req::new(GATK).key(b"z").extras(&ttl),
        Req::new(GATKQ).key(b"a").extras(&ttl),
    ]);
    assert_eq!(
        r,
        [
            Resp {
                status: 1,
                key: b"z".to_vec(),
                ..Resp::ok(GATK)
            },
            Resp {
                key: b"a".to_vec(),
                ..hit(GATKQ, 3, b"012abcDEF", p.cas)
            }
        ]
    );
    // An expiry in the past (an absolute time) expires the item.
    c.one(
        Req::new(TOUCH)
            .key(b"a")
            .extras(&1_000_000_000u32.to_be_bytes()),
    );
    assert_eq!(c.one(Req::new(GET).key(b"a")), Resp::err(GET, 1, NOT_FOUND));
}

#[test]
fn the_rest() {
    let mut c = Client::new();
    assert_eq!(c.one(Req::new(NOOP)), Resp::ok(NOOP));
    assert_eq!(
        c.one(Req::new(VERSION)),
        Resp {
            value: b"1.6.18-basalt".to_vec(),
            ..Resp::ok(VERSION)
        }
    );
    c.one(set(SET, b"a", 0, b"x"));
    assert_eq!(c.one(Req::new(FLUSH)), Resp::ok(FLUSH));
    assert_eq!(c.one(Req::new(GET).key(b"a")), Resp::err(GET, 1, NOT_FOUND));
    // A delay: the item lives until then.
    c.one(set(SET, b"a", 0, b"x"));
    assert_eq!(
        c.one(Req::new(FLUSH).extras(&100u32.to_be_bytes())),
        Resp::ok(FLUSH)
    );
    assert_eq!(c.one(Req::new(GET).key(b"a")).status, 0);
    assert_eq!(
        c.ask(&[Req::new(QUIT), Req::new(NOOP)]),
        (vec![Resp::ok(QUIT)], Flow::Close)
    );
    // Unknown opcodes, and SASL (off): the body is thrown away.
    let mut c = Client::new();
    let (r, flow) = c.ask(&[
        Req::new(0xee),
        Req::new(SASL_LIST),
        Req::new(SASL_AUTH).key(b"PLAIN").value(b"\0u\0p"),
        Req::new(NOOP),
    ]);
    assert_eq!(flow, Flow::Open);
    let ops: Vec<(u8, u16)> = r.iter().map(|r| (r.op, r.status)).collect();
    assert_eq!(
        ops,
        [
            (0xee, 0x81),
            (SASL_LIST, 0x81),
            (SASL_AUTH, 0x81),
            (NOOP, 0)
        ]
    );
    assert_eq!(r[0].value, b"Unknown command");
    // VERBOSITY is unknown too: its 4 bytes of extras are read, then 4
    // more are thrown away (memcached counts the body from after the
    // key).
    let mut bytes = Req::new(VERBOSITY).extras(&[0; 4]).bytes();
    bytes.extend(b"abcd");
    bytes.extend(Req::new(NOOP).bytes());
    let (out, flow) = c.send(&bytes);
    assert_eq!(
        (parse(&out), flow),
        (
            vec![
                Resp::err(VERBOSITY, 0x81, "Unknown command"),
                Resp::ok(NOOP)
            ],
            Flow::Open
        )
    );
    // Without those bytes, the next header loses its first 4.
    let mut bytes = Req::new(VERBOSITY).extras(&[0; 4]).bytes();
    bytes.extend(Req::new(NOOP).bytes());
    let (out, flow) = c.send(&bytes);
    assert_eq!((parse(&out).len(), flow), (1, Flow::Open));
    assert_eq!(c.send(&[0; 4]), (vec![], Flow::Close), "a wrong magic");
}

#[test]
fn unknown_opcodes_swallow_their_body_from_after_the_key() {
    let mut c = Client::new();
    let mut bytes = Req::new(0x50).key(b"k").extras(b"ee").value(b"vvv").bytes();
    // body 6: after the head (extras, key), 6 more bytes go: the value
    // and 3 more.
    bytes.extend(b"123");
    bytes.extend(Req::new(NOOP).bytes());
    let (out, flow) = c.send(&bytes);
    assert_eq!(flow, Flow::Open);
    let r = parse(&out);
    assert_eq!(
        r,
        [Resp::err(0x50, 0x81, "Unknown command"), Resp::ok(NOOP)]
    );
}

#[test]
fn stats() {
    let mut c = Client::new();
    let (r, _) = c.ask(&[Req::new(STAT)]);
    assert!(r.len() > 20);
    let last = r.last().unwrap();
    assert_eq!(last, &Resp::ok(STAT));
    assert!(r[..r.len() - 1].iter().all(|s| s.op == STAT
        && s.status == 0
        && !s.key.is_empty()
        && s.cas == 0
        && s.opaque == 0xdead_beef));
    assert_eq!(r[0].key, b"pid");
    let version = r.iter().find(|s| s.key == b"version").unwrap();
    assert_eq!(version.value, b"1.6.18-basalt");
    for (group, first) in [
        (&b"settings"[..], &b"maxbytes"[..]),
        (b"sizes", b"sizes_status"),
        (b"detail dump", b"detailed"),
    ] {
        let (r, _) = c.ask(&[Req::new(STAT).key(group)]);
        assert_eq!(r[0].key, first, "{group:?}");
        assert_eq!(r.last().unwrap(), &Resp::ok(STAT));
    }
    for empty in [&b"reset"[..], b"detail on", b"detail off"] {
        assert_eq!(c.ask(&[Req::new(STAT).key(empty)]).0, [Resp::ok(STAT)]);
    }
    for unknown in [&b"bogus"[..], b"detail", b"detail x", b"conns"] {
        assert_eq!(
            c.ask(&[Req::new(STAT).key(unknown)]).0,
            [Resp::err(STAT, 1, NOT_FOUND)]
        );
    }
    c.one(set(SET, b"a", 0, b"x"));
    let (r, _) = c.ask(&[Req::new(STAT).key(b"items")]);
    assert_eq!(r[0].key, b"items:1:number");
    assert_eq!(r[0].value, b"1");
}

#[test]
fn the_first_byte_picks_the_protocol() {
    // Text stays text: a binary request is a line like any other.
    let mut c = Client::new();
    let mut bytes = b"version\r\n".to_vec();
    bytes.extend(Req::new(NOOP).bytes());
    assert_eq!(c.send(&bytes).0, b"VERSION 1.6.18-basalt\r\nERROR\r\n");
    // Binary stays binary: a text line is a wrong magic, which closes.
    let mut c = Client::new();
    let mut bytes = Req::new(NOOP).bytes();
    bytes.extend(b"version\r\n                ");
    let (out, flow) = c.send(&bytes);
    assert_eq!((parse(&out), flow), (vec![Resp::ok(NOOP)], Flow::Close));
    // No byte decides nothing.
    let mut c = Client::new();
    assert_eq!(c.send(b""), (vec![], Flow::Open));
    assert_eq!(c.send(&Req::new(NOOP).bytes()).1, Flow::Open);
}

#[test]
fn bad_lengths_and_extras_close() {
    let cases: Vec<(Req, u16)> = vec![
        // key longer than the body: Unknown command.
        (
            Req {
                body_len: Some(1),
                ..Req::new(GET).key(b"abc")
            },
            0x81,
        ),
        (
            Req {
                body_len: Some(1),
                ..Req::new(0x55).key(b"abc")
            },
            0x81,
        ),
        (
            Req {
                body_len: Some(8),
                ..set(SET, b"abc", 0, b"")
            },
            0x81,
        ),
        // Invalid arguments.
        (Req::new(GET).key(&[b'k'; 251]), 4),
        (Req::new(0x55).key(&[b'k'; 251]), 4),
        (Req::new(GET), 4),
        (Req::new(GET).key(b"a").extras(b"1234"), 4),
        (Req::new(GET).key(b"a").value(b"zz"), 4),
        (Req::new(SET).key(b"a").value(b"x"), 4),
        (Req::new(SET).key(b"a").extras(b"1234").value(b"x"), 4),
        (set(SET, b"", 0, b"x"), 4),
        (Req::new(DELETE).key(b"a").extras(b"1234"), 4),
        (Req::new(INCR).key(b"a").extras(&[0; 8]), 4),
        (arith(INCR, b"a", 1, 1, 0).value(b"x"), 4),
        (Req::new(VERSION).value(b"x"), 4),
        (Req::new(NOOP).key(b"x"), 4),
        (Req::new(QUIT).key(b"x"), 4),
        (Req::new(FLUSH).extras(&[0; 8]), 4),
        (Req::new(FLUSH).key(b"k"), 4),
        (Req::new(FLUSH).extras(&[0; 4]).value(b"zzzz"), 4),
        (Req::new(TOUCH).key(b"a"), 4),
        (Req::new(TOUCH).key(b"a").extras(&[0; 8]), 4),
        (Req::new(GAT).extras(&[0; 4]), 4),
        (Req::new(STAT).extras(b"1234"), 4),
        (Req::new(APPEND).key(b"a").extras(&set_extras(0, 0)), 4),
        (Req::new(SASL_LIST).key(b"k"), 4),
        (Req::new(SASL_AUTH).key(b"k").extras(b"1234"), 4),
    ];
    for (req, status) in cases {
        let mut c = Client::new();
        c.one(set(SET, b"a", 0, b"1"));
        let (r, flow) = c.ask(&[req.clone(), Req::new(NOOP)]);
        let text = if status == 4 {
            "Invalid arguments"
        } else {
            "Unknown command"
        };
        assert_eq!(
            (r, flow),
            (vec![Resp::err(req.op, status, text)], Flow::Close),
            "{:?}",
            req.bytes()
        );
        // Closed: nothing more is read.
        assert_eq!(c.send(&Req::new(NOOP).bytes()), (vec![], Flow::Close));
    }
}

#[test]
fn a_longer_body_is_read_as_the_next_request() {
    // TOUCH and STAT do not check their body's length: what follows
    // their key is the next request, as in memcached.
    let mut c = Client::new();
    let (r, _) = c.ask(&[Req::new(TOUCH)
        .key(b"zz")
        .extras(&[0; 4])
        .value(&Req::new(NOOP).opaque(7).bytes())]);
    assert_eq!(
        r,
        [
            Resp::err(TOUCH, 1, NOT_FOUND),
            Resp {
                opaque: 7,
                ..Resp::ok(NOOP)
            }
        ]
    );
    let (r, _) = c.ask(&[Req::new(STAT)
        .key(b"reset")
        .value(&Req::new(NOOP).opaque(7).bytes())]);
    assert_eq!(r.len(), 2);
}

#[test]
fn hostile_headers() {
    // A truncated header waits, answering nothing.
    let mut c = Client::new();
    let noop = Req::new(NOOP).bytes();
    assert_eq!(c.send(&noop[..10]), (vec![], Flow::Open));
    assert_eq!(parse(&c.send(&noop[10..]).0), [Resp::ok(NOOP)]);
    // A head waits for its key.
    let mut c = Client::new();
    let get = Req::new(GET).key(&[b'k'; 200]).bytes();
    assert_eq!(c.send(&get[..100]), (vec![], Flow::Open));
    assert_eq!(c.send(&get[100..]).0.len(), 24 + 9);
    // A wrong magic mid-stream closes without a reply.
    let mut c = Client::new();
    assert_eq!(parse(&c.send(&noop).0), [Resp::ok(NOOP)]);
    let mut bad = Req::new(NOOP).bytes();
    bad[0] = 0x81;
    assert_eq!(c.send(&bad), (vec![], Flow::Close));
    assert_eq!(c.send(&noop), (vec![], Flow::Close));
    // A head longer than memcached's read buffer: it waits until more
    // than that is in, then closes.
    let mut c = Client::new();
    let huge = Req {
        key_len: Some(20_000),
        body_len: Some(20_000),
        ..Req::new(GET)
    }
    .bytes();
    assert_eq!(c.send(&huge), (vec![], Flow::Open));
    assert_eq!(c.send(&vec![b'k'; READ_BUFFER - 24]), (vec![], Flow::Open));
    assert_eq!(c.send(b"k"), (vec![], Flow::Close));
    // One that fits is answered.
    let mut c = Client::new();
    let fits = Req::new(0x55).key(&vec![b'k'; READ_BUFFER - 24]).bytes();
    assert_eq!(
        parse(&c.send(&fits).0),
        [Resp::err(0x55, 4, "Invalid arguments")]
    );
}

#[test]
fn values_over_item_size_max_are_refused_and_thrown_away() {
    let mut c = Client::new();
    c.one(set(SET, b"old", 0, b"x"));
    c.one(set(SET, b"kept", 0, b"x"));
    // The largest item that fits: 56 + key and NUL + value and CRLF.
    let fits = vec![b'v'; (1 << 20) - 56 - 4 - 2];
    assert_eq!(c.one(set(SET, b"big", 0, &fits)).status, 0);
    let big = vec![b'v'; 1 << 20];
    // Sent in pieces: the refused body is thrown away as it comes.
    let mut bytes = set(SET, b"old", 0, &big).bytes();
    bytes.extend(set(ADD, b"kept", 0, &big).bytes());
    bytes.extend(Req::new(APPENDQ).key(b"kept").value(&big).bytes());
    bytes.extend(Req::new(GET).key(b"old").bytes());
    bytes.extend(Req::new(GET).key(b"kept").bytes());
    let mut out = Vec::new();
    for piece in bytes.chunks(60_000) {
        let (o, flow) = c.send(piece);
        assert_eq!(flow, Flow::Open);
        out.extend(o);
    }
    let r = parse(&out);
    let statuses: Vec<(u8, u16)> = r.iter().map(|r| (r.op, r.status)).collect();
    // A SET too large drops the old item; ADD and APPEND leave it.
    assert_eq!(
        statuses,
        [(SET, 3), (ADD, 3), (APPENDQ, 3), (GET, 1), (GET, 0)]
    );
    assert_eq!(r[0].value, b"Too large.");
    // A body of 4 GiB is as refused, and thrown away as it comes.
    let mut c = Client::new();
    let r = Req {
        body_len: Some(u32::MAX),
        ..set(SET, b"h", 0, b"")
    };
    let (out, flow) = c.send(&r.bytes());
    assert_eq!((parse(&out).len(), flow), (1, Flow::Open));
    for _ in 0..100 {
        assert_eq!(c.send(&[0x80; 65536]), (vec![], Flow::Open));
    }
}

#[test]
fn pipelined_gets_of_large_items_stall_at_the_high_water_mark() {
    let mut c = Client::new();
    c.one(set(SET, b"big", 0, &vec![b'v'; 40_000]));
    let one = 24 + 4 + 40_000;
    let gets: Vec<Req> = (0..5).map(|_| Req::new(GET).key(b"big")).collect();
    let bytes: Vec<u8> = gets.iter().flat_map(Req::bytes).collect();
    let (out, flow) = c.send(&bytes);
    assert!(OUTPUT_HIGH_WATER < 2 * one);
    assert_eq!((out.len(), flow), (2 * one, Flow::Open));
    assert!(c.conn.stalled());
    assert_eq!(c.send(b"").0.len(), 2 * one);
    assert_eq!(c.send(b"").0.len(), one);
    assert!(!c.conn.stalled());
}

/// A pipeline of every kind of request: values, quiet ones, a swallowed
/// body, stats.
fn pipeline() -> Vec<u8> {
    let ttl = 100u32.to_be_bytes();
    let reqs = [
        set(SET, b"a", 1, b"hello"),
        set(SETQ, b"b", 2, b"x"),
        Req::new(GETQ).key(b"zz"),
        Req::new(GETK).key(b"a"),
        arith(INCR, b"n", 3, 7, 0),
        arith(DECRQ, b"n", 1, 7, 0),
        Req::new(APPEND).key(b"a").value(b"!"),
        // Unknown: its body is swallowed from after its key, one byte
        // more than the value (the filler below).
        Req::new(0x60).key(b"k").value(b"abc"),
        Req::new(NOOP),
        Req::new(GAT).key(b"b").extras(&ttl),
        Req::new(STAT).key(b"settings"),
        Req::new(DELETEQ).key(b"a"),
        Req::new(GET).key(b"a"),
        Req::new(TOUCH).key(b"n").extras(&ttl),
        Req::new(VERSION),
        Req::new(NOOP),
    ];
    let mut out = Vec::new();
    for r in &reqs {
        out.extend(r.bytes());
        if r.op == 0x60 {
            out.push(b'!');
        }
    }
    out
}

#[test]
fn input_may_come_in_pieces() {
    let stream = pipeline();
    let (expected, flow) = Client::new().send(&stream);
    assert_eq!(flow, Flow::Open);
    assert!(parse(&expected).len() > 20);
    for cut in 1..stream.len() {
        let mut c = Client::new();
        let (mut out, _) = c.send(&stream[..cut]);
        out.extend(c.send(&stream[cut..]).0);
        assert_eq!(out, expected, "cut at {cut}");
    }
    let mut c = Client::new();
    let mut out = Vec::new();
    for b in &stream {
        out.extend(c.send(&[*b]).0);
    }
    assert_eq!(out, expected);
}

proptest! {
    /// Any bytes after a binary first byte, in any pieces: no panic, and
    /// what is sent is whole responses.
    #[test]
    fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400), cuts in prop::collection::vec(1usize..40, 1..8)) {
        let mut c = Client::new();
        let mut stream = vec![0x80];
        stream.extend(bytes);
        let (out, _) = in_pieces(&stream, &cuts, |piece| c.send(piece));
        parse(&out);
    }

    /// Headers with plausible opcodes and lying lengths: no panic, whole
    /// responses.
    #[test]
    fn lying_lengths(reqs in prop::collection::vec((0u8..0x28, 0u16..300, 0u8..30, 0u32..400, prop::collection::vec(any::<u8>(), 0..300)), 1..6)) {
        let mut c = Client::new();
        let mut stream = Vec::new();
        for (op, key_len, ext, body, tail) in reqs {
            let mut r = Req::new(op).extras(&vec![0; usize::from(ext)]);
            r.key_len = Some(key_len);
            r.body_len = Some(body);
            stream.extend(r.bytes());
            stream.extend(tail);
        }
        let (out, _) = c.send(&stream);
        parse(&out);
    }
}
