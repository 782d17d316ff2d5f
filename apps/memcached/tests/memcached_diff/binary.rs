//! The differential test's binary steps: pipelined binary requests on a
//! binary connection of each side, over the same items as the text
//! connection's (the steps interleave), and the connection-closing
//! requests at the end of a seed.
//!
//! Each side's responses are split into packets and compared field by
//! field: magic, opcode, status, lengths, data type, opaque, extras, key
//! and value exactly; CAS uniques through the same one-to-one map as the
//! text replies' (a request carries the unique its side last saw for the
//! key, or the same bogus one); a number's space padding left by an
//! in-place incr/decr taken out of both (as for text); the version
//! string; and a STAT series by its names (every name the front end
//! sends must be one memcached sends, class numbers aside). Expiry times
//! are never a second or two away (as in the text steps) and stay below
//! 2^31 (past it memcached keeps the time, the store clamps it to 2038,
//! which `mg … t` would show).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use memcached::Flow;

use super::{CasMap, Gen, Ours, Rng, Seen, now_s};

const GET: u8 = 0x00;
const SET: u8 = 0x01;
const INCR: u8 = 0x05;
const DECR: u8 = 0x06;
const QUIT: u8 = 0x07;
const FLUSH: u8 = 0x08;
const NOOP: u8 = 0x0a;
const VERSION: u8 = 0x0b;
const APPEND: u8 = 0x0e;
const PREPEND: u8 = 0x0f;
const STAT: u8 = 0x10;
const QUITQ: u8 = 0x17;
const TOUCH: u8 = 0x1c;

/// Which CAS unique a request carries.
#[derive(Clone, Copy, Debug)]
enum Cas {
    None,
    /// The one this side last saw for the key (the bogus one if none).
    Seen,
    Bogus,
}

/// One binary request of a step.
#[derive(Clone, Debug)]
pub struct Req {
    op: u8,
    key: Vec<u8>,
    extras: Vec<u8>,
    value: Vec<u8>,
    cas: Cas,
    opaque: u32,
    /// Bytes sent after it: what an unknown opcode's swallow eats.
    filler: Vec<u8>,
}

impl Req {
    fn new(op: u8) -> Req {
        Req {
            op,
            key: vec![],
            extras: vec![],
            value: vec![],
            cas: Cas::None,
            opaque: 0,
            filler: vec![],
        }
    }

    fn render(&self, seen: &Seen, bogus: u64, out: &mut Vec<u8>) {
        let key = String::from_utf8_lossy(&self.key).into_owned();
        let cas = match self.cas {
            Cas::None => 0,
            Cas::Seen => seen.0.get(&key).copied().unwrap_or(bogus),
            Cas::Bogus => bogus,
        };
        out.extend([0x80, self.op]);
        out.extend((self.key.len() as u16).to_be_bytes());
        out.extend([self.extras.len() as u8, 0, 0, 0]);
        let body = self.extras.len() + self.key.len() + self.value.len();
        out.extend((body as u32).to_be_bytes());
        out.extend(self.opaque.to_be_bytes());
        out.extend(cas.to_be_bytes());
        out.extend(&self.extras);
        out.extend(&self.key);
        out.extend(&self.value);
        out.extend(&self.filler);
    }
}

/// A binary step: requests sent together, then a NOOP whose response
/// ends the step's responses.
pub struct Step {
    reqs: Vec<Req>,
    stats: bool,
}

impl Step {
    /// The bytes one side sends (its NOOP included).
    pub fn render(&self, seen: &Seen, bogus: u64, end: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for r in &self.reqs {
            r.render(seen, bogus, &mut out);
        }
        let mut noop = Req::new(NOOP);
        noop.opaque = end;
        noop.render(seen, bogus, &mut out);
        out
    }

    /// A short description, for the failure message.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .reqs
            .iter()
            .map(|r| {
                format!(
                    "{:#04x} {:?} ext {} val {} {:?}",
                    r.op,
                    String::from_utf8_lossy(&r.key[..r.key.len().min(20)]),
                    hex(&r.extras),
                    r.value.len(),
                    r.cas
                )
            })
            .collect();
        format!("binary [{}]", parts.join("; "))
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn exptime(rng: &mut Rng) -> u32 {
    let now = now_s() as u32;
    match rng.below(8) {
        0..=3 => 0,
        4 => 100_000,
        5 => now + 100_000,
        // An absolute time in the past: expired at once.
        6 => now - 1000,
        // 30 days is still relative; one more second is 1970: expired.
        _ => [2_592_000, 2_592_001][rng.below(2)],
    }
}

fn flags(rng: &mut Rng) -> u32 {
    match rng.below(6) {
        0..=3 => 0,
        4 => u32::MAX,
        _ => rng.below(70_000) as u32,
    }
}

fn cas(rng: &mut Rng) -> Cas {
    match rng.below(10) {
        0 | 1 => Cas::Seen,
        2 => Cas::Bogus,
        _ => Cas::None,
    }
}

/// A key of at most 250 bytes (a longer one closes the connection: see
/// `closing`).
fn key(g: &mut Gen) -> Vec<u8> {
    let k = g.key();
    if k.len() > 250 {
        vec![b'x'; 250]
    } else {
        k.into_bytes()
    }
}

fn request(g: &mut Gen, index: usize) -> Req {
    let op_quiet = |rng: &mut Rng, op: u8, quiet: u8| if rng.chance(30) { quiet } else { op };
    let mut r = match g.rng.below(24) {
        0..=4 => {
            let op = [GET, 0x09, 0x0c, 0x0d][g.rng.below(4)];
            Req {
                key: key(g),
                ..Req::new(op)
            }
        }
        5..=9 => {
            let op = [SET, SET, 0x02, 0x03][g.rng.below(4)];
            let op = op_quiet(&mut g.rng, op, op + 0x10);
            let key = key(g);
            let mut value = g.value();
            // As in the text steps: numbers that incr reads past (2^63 or
            // more) stay off the arithmetic keys.
            if key.starts_with(b"n") && value.len() >= 19 && value.iter().all(u8::is_ascii_digit) {
                value = b"9000".to_vec();
            }
            let mut extras = flags(&mut g.rng).to_be_bytes().to_vec();
            extras.extend(exptime(&mut g.rng).to_be_bytes());
            Req {
                key,
                extras,
                value,
                cas: cas(&mut g.rng),
                ..Req::new(op)
            }
        }
        10..=11 => {
            let op = [APPEND, PREPEND][g.rng.below(2)];
            let op = op_quiet(&mut g.rng, op, op + 0x0b);
            let key = g.meta_key();
            let key = if key.len() > 250 { "k1".into() } else { key };
            let mut value = g.value();
            value.truncate(300);
            Req {
                key: key.into_bytes(),
                value,
                cas: cas(&mut g.rng),
                ..Req::new(op)
            }
        }
        12..=13 => {
            let op = op_quiet(&mut g.rng, 0x04, 0x14);
            Req {
                key: key(g),
                cas: cas(&mut g.rng),
                ..Req::new(op)
            }
        }
        14..=16 => {
            let incr = g.rng.chance(50);
            let op = if incr { INCR } else { DECR };
            let op = op_quiet(&mut g.rng, op, op + 0x10);
            let key = g.arith_key();
            let key = if key.len() > 250 { "n0".into() } else { key };
            // No delta that takes a number to 2^63 or more (see above).
            let deltas: &[u64] = if incr {
                &[0, 1, 7, 1000]
            } else {
                &[0, 1, 7, 1000, u64::MAX]
            };
            let delta = deltas[g.rng.below(deltas.len())];
            let initial = [0u64, 5, 1234][g.rng.below(3)];
            let exp = [0u32, u32::MAX, u32::MAX, 100_000][g.rng.below(4)];
            let mut extras = delta.to_be_bytes().to_vec();
            extras.extend(initial.to_be_bytes());
            extras.extend(exp.to_be_bytes());
            // No CAS unique: memcached finds an item over 512 KiB (a
            // chunked one) not a number before it compares the unique,
            // the store after (and any value may reach these keys).
            Req {
                key: key.into_bytes(),
                extras,
                ..Req::new(op)
            }
        }
        17..=18 => {
            let op = [TOUCH, 0x1d, 0x1e, 0x23, 0x24][g.rng.below(5)];
            let mut r = Req {
                key: key(g),
                extras: exptime(&mut g.rng).to_be_bytes().to_vec(),
                ..Req::new(op)
            };
            // TOUCH reads no more than its key: what its body holds
            // besides is the next request.
            if op == TOUCH && g.rng.chance(20) {
                let mut noop = Req::new(NOOP);
                noop.opaque = 0x7000_0000 + index as u32;
                noop.render(&Seen::default(), 0, &mut r.value);
            }
            r
        }
        19 => {
            let op = op_quiet(&mut g.rng, FLUSH, 0x18);
            // Delays of a second or more end at each server's own turn
            // of the second: left out, as in the text steps.
            let extras = if g.rng.chance(50) { vec![0; 4] } else { vec![] };
            Req {
                extras,
                ..Req::new(op)
            }
        }
        20 => Req::new([NOOP, VERSION][g.rng.below(2)]),
        _ => {
            // Unknown opcodes (VERBOSITY among them) and SASL, which is
            // off: the body is thrown away, counted from after the key
            // (the filler covers what that eats past the value).
            match g.rng.below(4) {
                0 => Req::new(0x20),
                1 => Req {
                    key: b"PLAIN".to_vec(),
                    value: b"\0user\0pass".to_vec(),
                    ..Req::new(0x21)
                },
                _ => {
                    let op = [0x1b, 0x25, 0x3f, 0x99, 0xfe][g.rng.below(5)];
                    let key = if g.rng.chance(50) {
                        b"k1".to_vec()
                    } else {
                        vec![]
                    };
                    let extras = vec![7; g.rng.below(5)];
                    let value = vec![b'u'; g.rng.below(5)];
                    let filler = vec![b'f'; key.len() + extras.len()];
                    Req {
                        key,
                        extras,
                        value,
                        filler,
                        ..Req::new(op)
                    }
                }
            }
        }
    };
    r.opaque = r.opaque.max(0x100 + index as u32);
    r
}

/// A binary step of one to four requests, or a STAT alone.
pub fn step(g: &mut Gen) -> Step {
    if g.rng.chance(4) {
        let key = [
            "", "", "settings", "items", "slabs", "sizes", "reset", "bogus",
        ][g.rng.below(8)];
        let mut r = Req::new(STAT);
        r.key = key.as_bytes().to_vec();
        r.opaque = 0x100;
        return Step {
            reqs: vec![r],
            stats: true,
        };
    }
    let n = if g.rng.chance(30) {
        2 + g.rng.below(3)
    } else {
        1
    };
    Step {
        reqs: (0..n).map(|i| request(g, i)).collect(),
        stats: false,
    }
}

/// A response packet.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Packet {
    head: [u8; 8],
    opaque: u32,
    cas: u64,
    extras: Vec<u8>,
    key: Vec<u8>,
    value: Vec<u8>,
}

impl Packet {
    fn op(&self) -> u8 {
        self.head[1]
    }
    fn status(&self) -> u16 {
        u16::from_be_bytes([self.head[6], self.head[7]])
    }
}

/// The packets of a response stream, and the bytes after the last whole
/// one.
fn packets(mut bytes: &[u8]) -> (Vec<Packet>, Vec<u8>) {
    let mut out = vec![];
    while bytes.len() >= 24 {
        let key_len = usize::from(u16::from_be_bytes([bytes[2], bytes[3]]));
        let ext = usize::from(bytes[4]);
        let body = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
        if bytes.len() < 24 + body || body < ext + key_len {
            break;
        }
        let b = &bytes[24..24 + body];
        out.push(Packet {
            head: bytes[..8].try_into().unwrap(),
            opaque: u32::from_be_bytes(bytes[12..16].try_into().unwrap()),
            cas: u64::from_be_bytes(bytes[16..24].try_into().unwrap()),
            extras: b[..ext].to_vec(),
            key: b[ext..ext + key_len].to_vec(),
            value: b[ext + key_len..].to_vec(),
        });
        bytes = &bytes[24 + body..];
    }
    (out, bytes.to_vec())
}

/// The real server's binary connection.
pub struct RealBin {
    stream: TcpStream,
}

impl RealBin {
    pub fn connect(addr: &str) -> Result<RealBin, String> {
        let stream =
            TcpStream::connect(addr).map_err(|e| format!("nothing answers on {addr}: {e}"))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).ok();
        Ok(RealBin { stream })
    }

    /// Sends `bytes` and reads up to the response to the NOOP with
    /// opaque `end`.
    pub fn exchange(&mut self, bytes: &[u8], end: u32) -> Result<Vec<u8>, String> {
        self.stream.write_all(bytes).map_err(|e| e.to_string())?;
        let mut reply = Vec::new();
        let mut buf = vec![0; 1 << 16];
        loop {
            let (got, _) = packets(&reply);
            if got
                .last()
                .is_some_and(|p| p.op() == NOOP && p.opaque == end)
            {
                return Ok(reply);
            }
            let n = self
                .stream
                .read(&mut buf)
                .map_err(|e| format!("reading: {e} after {} bytes", reply.len()))?;
            if n == 0 {
                return Err("memcached closed the binary connection".into());
            }
            reply.extend_from_slice(&buf[..n]);
        }
    }
}

/// The key of each request, by opaque.
fn keys_by_opaque(step: &Step) -> HashMap<u32, String> {
    step.reqs
        .iter()
        .map(|r| (r.opaque, String::from_utf8_lossy(&r.key).into_owned()))
        .collect()
}

/// A value an incr/decr left padded with spaces: the padding out (see
/// `unpad_numbers`).
fn unpad(p: &mut Packet) {
    let digits = p.value.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && digits < p.value.len() && p.value[digits..].iter().all(|&b| b == b' ') {
        p.value.truncate(digits);
    }
}

/// Records the CAS uniques a side's responses show, per key.
fn record(keys: &HashMap<u32, String>, packets: &[Packet], seen: &mut Seen) {
    for p in packets {
        if p.status() == 0
            && p.cas != 0
            && let Some(k) = keys.get(&p.opaque)
        {
            seen.0.insert(k.clone(), p.cas);
        }
    }
}

/// Compares one step's responses; `Err` says the first difference.
pub fn compare(
    step: &Step,
    want: &[u8],
    got: &[u8],
    cas: &mut CasMap,
    seen: (&mut Seen, &mut Seen),
) -> Result<(), String> {
    let (mut w, wrest) = packets(want);
    let (mut g, grest) = packets(got);
    if !wrest.is_empty() || !grest.is_empty() {
        return Err(format!("bytes after the packets: {wrest:?} / {grest:?}"));
    }
    // The step's own NOOP ends both.
    let (wend, gend) = (w.pop(), g.pop());
    if wend.is_none() || wend != gend {
        return Err(format!("the end: {wend:?} / {gend:?}"));
    }
    w.iter_mut().for_each(unpad);
    g.iter_mut().for_each(unpad);
    let keys = keys_by_opaque(step);
    record(&keys, &w, seen.0);
    record(&keys, &g, seen.1);
    if step.stats {
        return stat_names(&w, &g);
    }
    if w.len() != g.len() {
        return Err(format!("{} responses / {}", w.len(), g.len()));
    }
    for (a, b) in w.iter().zip(&g) {
        // The version string differs ("1.6.18-basalt").
        let version = a.op() == VERSION && b.op() == VERSION && a.status() == 0;
        let same = a.head == b.head
            && a.opaque == b.opaque
            && a.extras == b.extras
            && a.key == b.key
            && (version || a.value == b.value)
            && cas.same(a.cas, b.cas);
        if !same {
            return Err(format!("first difference: {a:?} / {b:?}"));
        }
    }
    Ok(())
}

/// A STAT series: the same end, and every name the front end sends one
/// memcached sends (class numbers aside); or the same error.
fn stat_names(w: &[Packet], g: &[Packet]) -> Result<(), String> {
    let end = |p: &[Packet]| {
        p.last()
            .is_some_and(|l| l.op() == STAT && l.key.is_empty() && l.value.is_empty())
    };
    let (Some(wl), Some(gl)) = (w.last(), g.last()) else {
        return Err("no STAT responses".into());
    };
    if wl.status() != 0 || gl.status() != 0 {
        return if w.len() == 1 && g.len() == 1 && wl == gl {
            Ok(())
        } else {
            Err(format!("STAT errors differ: {wl:?} / {gl:?}"))
        };
    }
    if !end(w) || !end(g) {
        return Err("a STAT series without its end".into());
    }
    let shape = |p: &Packet| {
        let mut out = String::new();
        for c in String::from_utf8_lossy(&p.key).chars() {
            if !c.is_ascii_digit() {
                out.push(c);
            } else if !out.ends_with('#') {
                out.push('#');
            }
        }
        out
    };
    let known: Vec<String> = w.iter().map(shape).collect();
    let classes = known.iter().any(|n| n.contains('#'));
    for p in g {
        let name = shape(p);
        let fields_ok = p.op() == STAT && p.status() == 0 && p.cas == 0 && p.opaque == wl.opaque;
        if !fields_ok || (classes || !name.contains('#')) && !known.contains(&name) {
            return Err(format!("STAT {name:?} is none of memcached's ({p:?})"));
        }
    }
    Ok(())
}

/// The requests that close a binary connection, each on new
/// connections: both sides must send the same bytes, then close.
pub fn closing(addr: &str, rng: &mut Rng) -> Result<(), String> {
    let mut noop = vec![];
    Req::new(NOOP).render(&Seen::default(), 0, &mut noop);
    let one = |r: Req| {
        let mut out = vec![];
        r.render(&Seen::default(), 0, &mut out);
        out
    };
    let mut bad_magic = noop.clone();
    bad_magic.extend(&noop);
    bad_magic[24] = 0x81;
    let mut lying = one(Req {
        key: b"abc".to_vec(),
        ..Req::new(GET)
    });
    lying[8..12].copy_from_slice(&1u32.to_be_bytes());
    let cases = [
        [one(Req::new(QUIT)), noop.clone()].concat(),
        one(Req::new(QUITQ)),
        bad_magic,
        lying,
        one(Req {
            key: vec![b'k'; 251],
            ..Req::new(GET)
        }),
        one(Req {
            key: b"k".to_vec(),
            value: b"v".to_vec(),
            ..Req::new(SET)
        }),
        one(Req {
            extras: vec![0; 8],
            ..Req::new(FLUSH)
        }),
    ];
    for bytes in cases {
        let mut real = RealBin::connect(addr)?;
        real.stream.write_all(&bytes).map_err(|e| e.to_string())?;
        let mut want = vec![];
        real.stream
            .read_to_end(&mut want)
            .map_err(|e| format!("{bytes:?}: {e}"))?;
        let mut ours = Ours::new();
        let (got, flow) = ours.exchange_bin(&bytes, rng);
        if want != got || flow != Flow::Close {
            return Err(format!(
                "{:?} closes memcached after {want:?}; the front end says {flow:?} after {got:?}",
                &bytes[..bytes.len().min(32)]
            ));
        }
    }
    Ok(())
}
