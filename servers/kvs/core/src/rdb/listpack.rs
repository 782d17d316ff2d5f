//! Listpacks: the compact sequences Redis 7 keeps small hashes, sorted
//! sets and list nodes in, and writes as they are in RDB payloads.
//!
//! Layout: total bytes (`u32` LE), element count (`u16` LE, 65535 when
//! not known), the entries, and the end byte `0xFF`. An entry is an
//! encoding byte (with a length or the integer in it), the data, and its
//! own length written backwards (1 to 5 bytes of 7 bits, for walking the
//! list from the end):
//!
//! | first byte | entry |
//! | --- | --- |
//! | `0xxxxxxx` | integer 0..127 |
//! | `10LLLLLL` | string of L < 64 bytes |
//! | `110xxxxx` + 1 | 13-bit signed integer |
//! | `1110LLLL` + 1 | string of L < 4096 bytes (12 bits, high first) |
//! | `0xF0` + 4 | string, 32-bit length |
//! | `0xF1`..`0xF4` | 16-, 24-, 32-, 64-bit signed integer (LE) |

use alloc::vec::Vec;

use crate::num;

/// Bytes of the header.
const HEADER: usize = 6;
/// The end byte.
const END: u8 = 0xFF;
/// The element count of a listpack too long to count in the header.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// One element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item<'a> {
    /// An integer entry.
    Int(i64),
    /// A string entry.
    Str(&'a [u8]),
}

impl Item<'_> {
    /// The element as the string Redis gives back for it.
    pub(crate) fn to_bytes(self) -> Vec<u8> {
        match self {
            Item::Int(v) => num::int_bytes(v),
            Item::Str(s) => s.to_vec(),
        }
    }
}

/// Why bytes are no listpack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListpackError {
    /// Shorter than a header and the end byte, or the header's total is
    /// not the length.
    Size,
    /// No end byte where the total says, or one too early.
    End,
    /// An entry runs past the end, or its backwards length is wrong.
    Entry,
    /// The header counts another number of entries.
    Count,
}

/// The elements of the listpack `lp`, every entry checked (Redis's deep
/// validation).
pub(crate) fn decode(lp: &[u8]) -> Result<Vec<Item<'_>>, ListpackError> {
    if lp.len() < HEADER + 1 {
        return Err(ListpackError::Size);
    }
    let total = u32::from_le_bytes([lp[0], lp[1], lp[2], lp[3]]) as usize;
    if total != lp.len() {
        return Err(ListpackError::Size);
    }
    if lp[lp.len() - 1] != END {
        return Err(ListpackError::End);
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]);
    let body = &lp[HEADER..lp.len() - 1];
    let mut items = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let (item, len) = entry(&body[at..])?;
        let back = backlen_size(len);
        let stored = body
            .get(at + len..at + len + back)
            .ok_or(ListpackError::Entry)?;
        if read_backlen(stored) != Some(len) {
            return Err(ListpackError::Entry);
        }
        items.push(item);
        at += len + back;
    }
    if count != COUNT_UNKNOWN && usize::from(count) != items.len() {
        return Err(ListpackError::Count);
    }
    Ok(items)
}

/// The entry at the start of `b` and its length without the backwards
/// length.
fn entry(b: &[u8]) -> Result<(Item<'_>, usize), ListpackError> {
    let bad = ListpackError::Entry;
    let first = *b.first().ok_or(bad)?;
    let bytes = |n: usize| b.get(1..1 + n).ok_or(bad);
    let signed = |raw: &[u8]| {
        let mut buf = [0u8; 8];
        buf[..raw.len()].copy_from_slice(raw);
        let bits = 8 * raw.len() as u32;
        // Sign-extend from the entry's width.
        (i64::from_le_bytes(buf) << (64 - bits)) >> (64 - bits)
    };
    let string = |skip: usize, len: usize| {
        b.get(skip..skip + len)
            .map(|s| (Item::Str(s), skip + len))
            .ok_or(bad)
    };
    match first {
        0x00..=0x7F => Ok((Item::Int(i64::from(first)), 1)),
        0x80..=0xBF => string(1, usize::from(first & 0x3F)),
        0xC0..=0xDF => {
            let low = *bytes(1)?.first().ok_or(bad)?;
            let raw = (u16::from(first & 0x1F) << 8) | u16::from(low);
            // 13 bits, sign-extended.
            let v = (i64::from(raw) << 51) >> 51;
            Ok((Item::Int(v), 2))
        }
        0xE0..=0xEF => {
            let low = *bytes(1)?.first().ok_or(bad)?;
            string(2, (usize::from(first & 0x0F) << 8) | usize::from(low))
        }
        0xF0 => {
            let l = bytes(4)?;
            string(5, u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
        }
        0xF1 => Ok((Item::Int(signed(bytes(2)?)), 3)),
        0xF2 => Ok((Item::Int(signed(bytes(3)?)), 4)),
        0xF3 => Ok((Item::Int(signed(bytes(4)?)), 5)),
        0xF4 => Ok((Item::Int(signed(bytes(8)?)), 9)),
        _ => Err(bad),
    }
}

/// Bytes the backwards length of an entry of `len` bytes takes.
fn backlen_size(len: usize) -> usize {
    match len {
        0..=127 => 1,
        128..16383 => 2,
        16383..2097151 => 3,
        2097151..268435455 => 4,
        _ => 5,
    }
}

/// Writes the backwards length of an entry of `len` bytes: 7 bits a
/// byte, the most significant first, every byte but the first flagged
/// with the high bit.
fn write_backlen(out: &mut Vec<u8>, len: usize) {
    let n = backlen_size(len);
    for i in (0..n).rev() {
        let seven = ((len >> (7 * i)) & 0x7F) as u8;
        out.push(if i == n - 1 { seven } else { seven | 0x80 });
    }
}

/// The length a stored backwards length says.
fn read_backlen(b: &[u8]) -> Option<usize> {
    let (first, rest) = b.split_first()?;
    let mut len = usize::from(*first);
    for &byte in rest {
        if byte & 0x80 == 0 {
            return None;
        }
        len = (len << 7) | usize::from(byte & 0x7F);
    }
    Some(len)
}

/// Bytes the entry of `s` takes in a listpack (its backwards length
/// included): what a listpack holding it grows by.
pub(crate) fn entry_size(s: &[u8]) -> usize {
    if let Some(v) = num::parse_i64(s) {
        return int_entry_size(v);
    }
    let len = match s.len() {
        n if n < 64 => 1 + n,
        n if n < 4096 => 2 + n,
        n => 5 + n,
    };
    len + backlen_size(len)
}

/// Bytes the integer entry of `v` takes (`lpAppendInteger`'s).
pub(crate) fn int_entry_size(v: i64) -> usize {
    let len = match v {
        0..=127 => 1,
        -4096..=4095 => 2,
        -32768..=32767 => 3,
        -8_388_608..=8_388_607 => 4,
        _ if i32::try_from(v).is_ok() => 5,
        _ => 9,
    };
    len + backlen_size(len)
}

/// Bytes of an empty listpack: its header and end byte.
pub(crate) const EMPTY_SIZE: usize = HEADER + 1;

/// A listpack being written, element by element, as Redis's `lpAppend`
/// encodes them.
pub(crate) struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Builder {
    /// An empty listpack.
    pub(crate) fn new() -> Builder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; HEADER]);
        Builder { buf, count: 0 }
    }

    /// The listpack's size in bytes, its end byte included (a quicklist
    /// node's size).
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Its element count.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Appends a string: as an integer entry where it is the canonical
    /// form of one (as Redis does), else as a string entry.
    pub(crate) fn push(&mut self, s: &[u8]) {
        match num::parse_i64(s) {
            Some(v) => self.push_int(v),
            None => self.push_str(s),
        }
    }

    /// Appends an integer entry of the narrowest kind.
    pub(crate) fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        let b = &mut self.buf;
        match v {
            0..=127 => b.push(v as u8),
            -4096..=4095 => {
                let u = (v as u16) & 0x1FFF;
                b.push(0xC0 | (u >> 8) as u8);
                b.push(u as u8);
            }
            -32768..=32767 => {
                b.push(0xF1);
                b.extend_from_slice(&(v as i16).to_le_bytes());
            }
            -8_388_608..=8_388_607 => {
                b.push(0xF2);
                b.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
            }
            _ if i32::try_from(v).is_ok() => {
                b.push(0xF3);
                b.extend_from_slice(&(v as i32).to_le_bytes());
            }
            _ => {
                b.push(0xF4);
                b.extend_from_slice(&v.to_le_bytes());
            }
        }
        let len = self.buf.len() - start;
        write_backlen(&mut self.buf, len);
        self.count += 1;
    }

    fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let b = &mut self.buf;
        if s.len() < 64 {
            b.push(0x80 | s.len() as u8);
        } else if s.len() < 4096 {
            b.push(0xE0 | (s.len() >> 8) as u8);
            b.push(s.len() as u8);
        } else {
            b.push(0xF0);
            b.extend_from_slice(&(s.len() as u32).to_le_bytes());
        }
        b.extend_from_slice(s);
        let len = self.buf.len() - start;
        write_backlen(&mut self.buf, len);
        self.count += 1;
    }

    /// The finished listpack.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(END);
        let total = self.buf.len() as u32;
        let count = u16::try_from(self.count).unwrap_or(COUNT_UNKNOWN);
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// `RPUSH l a b 1 -5 1000` in Redis 7.0.15: the list's one node.
    const REDIS_NODE: &[u8] =
        b"\x15\x00\x00\x00\x05\x00\x81a\x02\x81b\x02\x01\x01\xdf\xfb\x02\xc3\xe8\x02\xff";

    #[test]
    fn redis_bytes_both_ways() {
        let mut b = Builder::new();
        for s in ["a", "b", "1", "-5", "1000"] {
            b.push(s.as_bytes());
        }
        assert_eq!(b.bytes(), REDIS_NODE.len());
        assert_eq!(b.finish(), REDIS_NODE);
        assert_eq!(
            decode(REDIS_NODE).unwrap(),
            [
                Item::Str(b"a"),
                Item::Str(b"b"),
                Item::Int(1),
                Item::Int(-5),
                Item::Int(1000)
            ]
        );
    }

    #[test]
    fn every_width_round_trips() {
        let long = vec![b'x'; 5000];
        let mid = vec![b'y'; 300];
        let values: Vec<Vec<u8>> = [
            "0",
            "127",
            "128",
            "-1",
            "-4096",
            "4095",
            "4096",
            "-32768",
            "32767",
            "-32769",
            "8388607",
            "-8388608",
            "8388608",
            "2147483647",
            "-2147483648",
            "2147483648",
            "9223372036854775807",
            "-9223372036854775808",
            "01",
            "-0",
            "",
            "x",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .chain([long, mid])
        .collect();
        let mut b = Builder::new();
        for v in &values {
            let before = b.bytes();
            b.push(v);
            assert_eq!(b.bytes() - before, entry_size(v), "{v:?}");
        }
        let lp = b.finish();
        let back: Vec<Vec<u8>> = decode(&lp)
            .unwrap()
            .into_iter()
            .map(Item::to_bytes)
            .collect();
        assert_eq!(back, values);
    }

    #[test]
    fn refuses_bad_bytes() {
        assert_eq!(
            decode(b"\x07\x00\x00\x00\x00\x00"),
            Err(ListpackError::Size)
        );
        assert_eq!(
            decode(b"\x07\x00\x00\x00\x00\x00\xfe"),
            Err(ListpackError::End)
        );
        assert_eq!(
            decode(b"\x07\x00\x00\x00\x01\x00\xff"),
            Err(ListpackError::Count)
        );
        let mut lp = REDIS_NODE.to_vec();
        lp[8] = 0x03; // a's backwards length
        assert_eq!(decode(&lp), Err(ListpackError::Entry));
        let mut lp = REDIS_NODE.to_vec();
        lp[6] = 0x85; // a string running over its neighbours
        assert!(decode(&lp).is_err());
        // Every cut of a valid listpack is refused, never a panic.
        for cut in 0..REDIS_NODE.len() {
            assert!(decode(&REDIS_NODE[..cut]).is_err());
        }
        for i in 0..REDIS_NODE.len() {
            for bit in 0..8 {
                let mut lp = REDIS_NODE.to_vec();
                lp[i] ^= 1 << bit;
                let _ = decode(&lp);
            }
        }
    }
}
