//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and
//! BITFIELD_RO, on string values.
//!
//! Bit 0 is the most significant bit of the first byte; a string reads
//! as zero bits past its end. Offsets stop below 2^32 (the 512 MiB of
//! Redis's default `proto-max-bulk-len`). A command that grows a string
//! (SETBIT and BITFIELD past the end, BITOP's result) checks the ceiling
//! before it allocates and is refused with `-OOM` instead.
//!
//! As in Redis 7.0, SETBIT and BITFIELD signal a change (WATCH, the log)
//! only when a bit changed or the string was made or grown; a BITFIELD
//! whose every write failed under `OVERFLOW FAIL` but grew the string is
//! logged without WATCH seeing it.

use crate::encoding::Encoding;
use alloc::vec::Vec;

use crate::cmd::strings::MAX_STRING;
use crate::cmd::{int_arg, is};
use crate::db::{Db, Value, tri, typed, wrongtype};
use crate::memory::Room;
use crate::num;
use crate::reply::{Reply, SYNTAX};
use crate::store::Ctx;

/// `ERR bit offset is not an integer or out of range`
const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
/// SETBIT's value was not 0 or 1.
const BAD_BIT: &str = "ERR bit is not an integer or out of range";
/// BITPOS's bit was not 0 or 1.
const BIT_ARG: &str = "ERR The bit argument must be 1 or 0.";
/// A BITFIELD type other than `i1`..`i64`, `u1`..`u63`.
const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
/// An OVERFLOW other than WRAP, SAT or FAIL.
const BAD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
/// A write asked of BITFIELD_RO.
const READ_ONLY: &str = "ERR BITFIELD_RO only supports the GET subcommand";
/// BITOP NOT of several keys.
const NOT_ONE_KEY: &str = "ERR BITOP NOT must be called with a single source key.";

/// Parses a bit offset: a non-negative integer whose byte is below
/// [`MAX_STRING`]. With `hash_bits` (BITFIELD's type width), `#n` means
/// `n` fields of that width (multiplied in 64 bits, wrapping, as Redis
/// does).
fn bit_offset(arg: &[u8], hash_bits: Option<u32>) -> Result<u64, Reply> {
    let bad = || Reply::error(BAD_OFFSET);
    let (digits, times) = match (arg.first(), hash_bits) {
        (Some(b'#'), Some(bits)) => (&arg[1..], i64::from(bits)),
        _ => (arg, 1),
    };
    let v = num::parse_i64(digits).ok_or_else(bad)?.wrapping_mul(times);
    let v = u64::try_from(v).map_err(|_| bad())?;
    if v >> 3 >= MAX_STRING as u64 {
        return Err(bad());
    }
    Ok(v)
}

/// Bit `i` of `s` (false past the end).
fn bit_at(s: &[u8], i: u64) -> bool {
    usize::try_from(i >> 3)
        .ok()
        .and_then(|b| s.get(b))
        .is_some_and(|byte| byte & (0x80 >> (i & 7)) != 0)
}

/// Sets bit `i` of `s` (which holds it) to `on`.
fn set_bit_at(s: &mut [u8], i: u64, on: bool) {
    let byte = &mut s[(i >> 3) as usize];
    let mask = 0x80 >> (i & 7);
    if on {
        *byte |= mask;
    } else {
        *byte &= !mask;
    }
}

/// The string at `key`, at least `len` bytes long: a missing key is made
/// of `len` zero bytes, a shorter string is padded with them. Also
/// whether it was made or grown. Refused with `-OOM` when that would pass
/// the ceiling (nothing changed then), `WRONGTYPE` for other types. The
/// key is not touched: the caller touches it if it changed it.
fn padded<'d>(
    db: &'d mut Db,
    key: &[u8],
    now: i64,
    room: Room,
    len: usize,
) -> Result<(&'d mut Vec<u8>, bool), Reply> {
    match db.get(key, now) {
        None => {
            let zeros = room.zeroed(len)?;
            db.get_or_create(key, now, move |_| Value::Str(zeros));
            // Redis writes bits into a private `raw` string.
            db.set_encoding(key, Encoding::Raw);
            match db.peek_mut(key) {
                Some(Value::Str(s)) => Ok((s, true)),
                _ => Err(wrongtype()),
            }
        }
        Some(Value::Str(_)) => {
            db.set_encoding(key, Encoding::Raw);
            let Some(Value::Str(s)) = db.peek_mut(key) else {
                return Err(wrongtype());
            };
            if s.len() >= len {
                return Ok((s, false));
            }
            room.reserve(s, len - s.len())?;
            s.resize(len, 0);
            Ok((s, true))
        }
        Some(_) => Err(wrongtype()),
    }
}

/// SETBIT key offset value
pub(crate) fn setbit(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let offset = tri!(bit_offset(a[2], None));
    let on = match a[3] {
        b"0" => false,
        b"1" => true,
        _ => return Reply::error(BAD_BIT),
    };
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    // The offset's byte is below MAX_STRING, so this fits a usize.
    let len = (offset >> 3) as usize + 1;
    let (s, grown) = tri!(padded(db, a[1], now, room, len));
    let old = bit_at(s, offset);
    set_bit_at(s, offset, on);
    if grown || old != on {
        db.touch(a[1]);
    }
    Reply::Integer(i64::from(old))
}

/// GETBIT key offset
pub(crate) fn getbit(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let offset = tri!(bit_offset(a[2], None));
    let now = cx.now;
    let s: Option<&Vec<u8>> = tri!(typed!(cx.db(), a[1], now, Str));
    Reply::Integer(i64::from(s.is_some_and(|s| bit_at(s, offset))))
}

/// The unit of a BITCOUNT or BITPOS range.
fn unit_is_bit(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "bit") {
        Ok(true)
    } else if is(arg, "byte") {
        Ok(false)
    } else {
        Err(Reply::error(SYNTAX))
    }
}

/// Resolves a `start`/`end` pair of a string of `total` units (bits or
/// bytes): negative counts from the end, then both are clamped into the
/// string. `None` when nothing is left.
fn clamp(start: i64, end: i64, total: i64) -> Option<(i64, i64)> {
    let from_end = |i: i64| if i < 0 { total.saturating_add(i) } else { i };
    let start = from_end(start).max(0);
    let end = from_end(end).max(0).min(total - 1);
    (start <= end).then_some((start, end))
}

/// Bits `lo..=hi` (within `s`) as a bit range of bytes: the bytes and the
/// masks of the bits of the first and last byte that are in range.
struct Span {
    first: usize,
    last: usize,
    first_mask: u8,
    last_mask: u8,
}

impl Span {
    fn new(lo: i64, hi: i64) -> Span {
        let (lo, hi) = (lo as u64, hi as u64);
        Span {
            first: (lo >> 3) as usize,
            last: (hi >> 3) as usize,
            first_mask: 0xff >> (lo & 7),
            last_mask: 0xff << (7 - (hi & 7)),
        }
    }

    /// The in-range bits of byte `i` of `s` (out-of-range bits cleared).
    fn byte(&self, s: &[u8], i: usize) -> u8 {
        let mut b = s[i];
        if i == self.first {
            b &= self.first_mask;
        }
        if i == self.last {
            b &= self.last_mask;
        }
        b
    }

    /// The mask of the in-range bits of byte `i`.
    fn mask(&self, i: usize) -> u8 {
        let mut m = 0xff;
        if i == self.first {
            m &= self.first_mask;
        }
        if i == self.last {
            m &= self.last_mask;
        }
        m
    }
}

/// The set bits among bits `lo..=hi` of `s` (all within it).
fn count_ones(s: &[u8], lo: i64, hi: i64) -> i64 {
    let span = Span::new(lo, hi);
    if span.first == span.last {
        return i64::from(span.byte(s, span.first).count_ones());
    }
    let edges = span.byte(s, span.first).count_ones() + span.byte(s, span.last).count_ones();
    let middle = &s[span.first + 1..span.last];
    let mut words = middle.chunks_exact(8);
    let mut n = u64::from(edges);
    for w in &mut words {
        n += u64::from(u64::from_ne_bytes(w.try_into().expect("8 bytes")).count_ones());
    }
    for b in words.remainder() {
        n += u64::from(b.count_ones());
    }
    n as i64
}

/// The first bit equal to `bit` among bits `lo..=hi` of `s` (all within
/// it).
fn first_bit(s: &[u8], lo: i64, hi: i64, bit: bool) -> Option<i64> {
    let span = Span::new(lo, hi);
    (span.first..=span.last)
        .zip(&s[span.first..=span.last])
        .find_map(|(i, &byte)| {
            // The bits equal to `bit`, in range.
            let hits = if bit { byte } else { !byte } & span.mask(i);
            (hits != 0).then(|| i as i64 * 8 + i64::from(hits.leading_zeros()))
        })
}

/// BITCOUNT key [start end [BYTE|BIT]]
pub(crate) fn bitcount(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let Some(s) = tri!(typed!(cx.db(), a[1], now, Str)) else {
        return Reply::Integer(0);
    };
    let bytes = s.len() as i64;
    let range = match a.len() {
        2 => clamp(0, -1, bytes).map(|(lo, hi)| (lo * 8, hi * 8 + 7)),
        4 | 5 => {
            let start = tri!(int_arg(a[2]));
            let end = tri!(int_arg(a[3]));
            // Both counted from the end, and the wrong way round: nothing,
            // whatever the unit says (Redis looks at it only then).
            if start < 0 && end < 0 && start > end {
                return Reply::Integer(0);
            }
            let bits = match a.get(4) {
                Some(u) => tri!(unit_is_bit(u)),
                None => false,
            };
            if bits {
                clamp(start, end, bytes * 8)
            } else {
                clamp(start, end, bytes).map(|(lo, hi)| (lo * 8, hi * 8 + 7))
            }
        }
        _ => return Reply::error(SYNTAX),
    };
    Reply::Integer(range.map_or(0, |(lo, hi)| count_ones(s, lo, hi)))
}

/// BITPOS key bit [start [end [BYTE|BIT]]]
pub(crate) fn bitpos(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let bit = match tri!(int_arg(a[2])) {
        0 => false,
        1 => true,
        _ => return Reply::error(BIT_ARG),
    };
    let now = cx.now;
    // A missing key is an endless run of zeros.
    let Some(s) = tri!(typed!(cx.db(), a[1], now, Str)) else {
        return Reply::Integer(if bit { -1 } else { 0 });
    };
    let bytes = s.len() as i64;
    let (range, end_given) = match a.len() {
        3 => (
            clamp(0, -1, bytes).map(|(lo, hi)| (lo * 8, hi * 8 + 7)),
            false,
        ),
        4..=6 => {
            let start = tri!(int_arg(a[3]));
            let bits = match a.get(5) {
                Some(u) => tri!(unit_is_bit(u)),
                None => false,
            };
            let end = match a.get(4) {
                Some(e) => Some(tri!(int_arg(e))),
                None => None,
            };
            let range = if bits {
                clamp(start, end.unwrap_or(-1), bytes * 8)
            } else {
                clamp(start, end.unwrap_or(-1), bytes).map(|(lo, hi)| (lo * 8, hi * 8 + 7))
            };
            (range, end.is_some())
        }
        _ => return Reply::error(SYNTAX),
    };
    let Some((lo, hi)) = range else {
        return Reply::Integer(-1);
    };
    Reply::Integer(match first_bit(s, lo, hi, bit) {
        Some(pos) => pos,
        // No clear bit in the string: the zeros past its end count, unless
        // the range was given an end.
        None if !bit && !end_given => hi + 1,
        None => -1,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
pub(crate) fn bitop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let op = match a[1] {
        w if is(w, "and") => BitOp::And,
        w if is(w, "or") => BitOp::Or,
        w if is(w, "xor") => BitOp::Xor,
        w if is(w, "not") => BitOp::Not,
        _ => return Reply::error(SYNTAX),
    };
    let (dest, keys) = (a[2], &a[3..]);
    if op == BitOp::Not && keys.len() != 1 {
        return Reply::error(NOT_ONE_KEY);
    }
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    for k in keys {
        let _: Option<&Vec<u8>> = tri!(typed!(db, k, now, Str));
    }
    let sources: Vec<&[u8]> = keys
        .iter()
        .map(|k| match db.peek(k) {
            Some(Value::Str(s)) => s.as_slice(),
            _ => &[],
        })
        .collect();
    let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
    if len == 0 {
        db.delete(dest);
        return Reply::Integer(0);
    }
    let mut out = tri!(room.zeroed_exact(len));
    let (first, rest) = sources.split_first().expect("at least one key");
    out[..first.len()].copy_from_slice(first);
    match op {
        BitOp::Not => out.iter_mut().for_each(|b| *b = !*b),
        BitOp::And => {
            for s in rest {
                for (i, o) in out.iter_mut().enumerate() {
                    *o &= s.get(i).copied().unwrap_or(0);
                }
            }
        }
        BitOp::Or | BitOp::Xor => {
            for s in rest {
                for (o, b) in out.iter_mut().zip(s.iter()) {
                    if op == BitOp::Or {
                        *o |= b;
                    } else {
                        *o ^= b;
                    }
                }
            }
        }
    }
    db.set(dest, Value::Str(out), false);
    db.set_encoding(dest, Encoding::Raw);
    Reply::Integer(len as i64)
}

/// What BITFIELD does when a write does not fit its field.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Overflow {
    /// Modulo the field's range (two's complement for signed fields).
    Wrap,
    /// The field's largest or smallest value.
    Sat,
    /// Nothing: the operation answers nil.
    Fail,
}

/// One BITFIELD operation.
#[derive(Clone, Copy)]
enum FieldOp {
    Get,
    Set(i64),
    Incrby(i64),
}

/// A BITFIELD operation on the field of `bits` bits at bit `offset`.
struct Field {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    overflow: Overflow,
}

/// Parses a BITFIELD type: `i1`..`i64` or `u1`..`u63`. As in Redis, the
/// width ends at the first NUL byte.
fn field_type(arg: &[u8]) -> Result<(bool, u32), Reply> {
    let bad = || Reply::error(BAD_TYPE);
    let signed = match arg.first() {
        Some(b'i') => true,
        Some(b'u') => false,
        _ => return Err(bad()),
    };
    let digits = arg[1..].split(|&b| b == 0).next().unwrap_or_default();
    let bits = num::parse_i64(digits).ok_or_else(bad)?;
    let most = if signed { 64 } else { 63 };
    if !(1..=most).contains(&bits) {
        return Err(bad());
    }
    Ok((signed, bits as u32))
}

/// Parses BITFIELD's operations (`a` after the key).
fn parse_fields(a: &[&[u8]]) -> Result<Vec<Field>, Reply> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut j = 0;
    while j < a.len() {
        let left = a.len() - j - 1;
        let word = a[j];
        let op = if is(word, "get") && left >= 2 {
            FieldOp::Get
        } else if is(word, "set") && left >= 3 {
            FieldOp::Set(0)
        } else if is(word, "incrby") && left >= 3 {
            FieldOp::Incrby(0)
        } else if is(word, "overflow") && left >= 1 {
            overflow = match a[j + 1] {
                w if is(w, "wrap") => Overflow::Wrap,
                w if is(w, "sat") => Overflow::Sat,
                w if is(w, "fail") => Overflow::Fail,
                _ => return Err(Reply::error(BAD_OVERFLOW)),
            };
            j += 2;
            continue;
        } else {
            return Err(Reply::error(SYNTAX));
        };
        let (signed, bits) = field_type(a[j + 1])?;
        let offset = bit_offset(a[j + 2], Some(bits))?;
        let op = match op {
            FieldOp::Get => FieldOp::Get,
            FieldOp::Set(_) => FieldOp::Set(int_arg(a[j + 3])?),
            FieldOp::Incrby(_) => FieldOp::Incrby(int_arg(a[j + 3])?),
        };
        fields.push(Field {
            op,
            signed,
            bits,
            offset,
            overflow,
        });
        j += if matches!(op, FieldOp::Get) { 3 } else { 4 };
    }
    Ok(fields)
}

/// The `bits` bits at `offset` of `s` (zeros past its end), as an
/// unsigned number.
fn read_field(s: &[u8], offset: u64, bits: u32) -> u64 {
    (0..u64::from(bits)).fold(0, |v, i| (v << 1) | u64::from(bit_at(s, offset + i)))
}

/// Writes the low `bits` bits of `v` at `offset` of `s` (which holds
/// them).
fn write_field(s: &mut [u8], offset: u64, bits: u32, v: u64) {
    for i in 0..u64::from(bits) {
        set_bit_at(s, offset + i, (v >> (u64::from(bits) - 1 - i)) & 1 != 0);
    }
}

/// `v`'s low `bits` bits, sign-extended.
fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

/// The value a signed field of `bits` bits holding `value` gets from
/// adding `incr` (SET: `value` is the new value and `incr` 0), and whether
/// that overflowed. The room left below the maximum is worked out in
/// 64-bit two's complement, as Redis does: a SET of a value so far below
/// the minimum that the room wraps around counts as overflowing upward.
fn signed_field(value: i64, incr: i64, bits: u32, overflow: Overflow) -> (i64, bool) {
    let max = if bits == 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let up_room = (max as u64).wrapping_sub(value as u64) as i64;
    let down_room = min.wrapping_sub(value);
    let wide = bits != 64;
    let up = value > max || (wide && incr > up_room) || (value >= 0 && incr > 0 && incr > up_room);
    let down =
        value < min || (wide && incr < down_room) || (value < 0 && incr < 0 && incr < down_room);
    let sum = value.wrapping_add(incr);
    match (up, down, overflow) {
        (false, false, _) => (sum, false),
        (_, _, Overflow::Wrap) => (sign_extend(sum as u64, bits), true),
        (true, _, _) => (max, true),
        (false, true, _) => (min, true),
    }
}

/// [`signed_field`] for an unsigned field (`value` is read from it, or is
/// SET's new value as two's complement).
fn unsigned_field(value: u64, incr: i64, bits: u32, overflow: Overflow) -> (u64, bool) {
    let max = (1u64 << bits) - 1;
    let up_room = max.wrapping_sub(value) as i64;
    let down_room = value.wrapping_neg() as i64;
    let up = value > max || (incr > 0 && incr > up_room);
    let down = incr < 0 && incr < down_room;
    let sum = value.wrapping_add(incr as u64);
    match (up, down, overflow) {
        (false, false, _) => (sum, false),
        (_, _, Overflow::Wrap) => (sum & max, true),
        (true, _, _) => (max, true),
        (false, true, _) => (0, true),
    }
}

/// Runs one write of BITFIELD on `s` (which holds its field): the reply,
/// and whether the field changed; `None` when it failed under `OVERFLOW
/// FAIL` (the reply is nil, the field unchanged).
fn write_one(s: &mut [u8], f: &Field) -> (Reply, Option<bool>) {
    let (set, arg) = match f.op {
        FieldOp::Set(v) => (true, v),
        FieldOp::Incrby(by) => (false, by),
        FieldOp::Get => return (Reply::Integer(get_one(s, f)), Some(false)),
    };
    let raw = read_field(s, f.offset, f.bits);
    let (old, new, over) = if f.signed {
        let old = sign_extend(raw, f.bits);
        let (new, over) = if set {
            signed_field(arg, 0, f.bits, f.overflow)
        } else {
            signed_field(old, arg, f.bits, f.overflow)
        };
        (old, new, over)
    } else {
        let (new, over) = if set {
            unsigned_field(arg as u64, 0, f.bits, f.overflow)
        } else {
            unsigned_field(raw, arg, f.bits, f.overflow)
        };
        (raw as i64, new as i64, over)
    };
    if over && f.overflow == Overflow::Fail {
        return (Reply::nil(), None);
    }
    write_field(s, f.offset, f.bits, new as u64);
    let reply = if set { old } else { new };
    (Reply::Integer(reply), Some(new != old))
}

/// The value of a GET of BITFIELD.
fn get_one(s: &[u8], f: &Field) -> i64 {
    let raw = read_field(s, f.offset, f.bits);
    if f.signed {
        sign_extend(raw, f.bits)
    } else {
        raw as i64
    }
}

fn bitfield_generic(cx: &mut Ctx<'_>, a: &[&[u8]], read_only: bool) -> Reply {
    let fields = tri!(parse_fields(&a[2..]));
    let key = a[1];
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    // The last bit a write reaches, if any writes.
    let reach = fields
        .iter()
        .filter(|f| !matches!(f.op, FieldOp::Get))
        .map(|f| f.offset + u64::from(f.bits) - 1)
        .max();
    let Some(reach) = reach else {
        let s: Option<&Vec<u8>> = tri!(typed!(db, key, now, Str));
        let s = s.map_or(&[][..], Vec::as_slice);
        return Reply::array(
            fields
                .iter()
                .map(|f| Reply::Integer(get_one(s, f)))
                .collect(),
        );
    };
    if read_only {
        return Reply::error(READ_ONLY);
    }
    let len = usize::try_from((reach >> 3) + 1).unwrap_or(usize::MAX);
    let (s, grown) = tri!(padded(db, key, now, room, len));
    // A write that did not fail is a change if it changed its field, or
    // if the string was made or grown for it (as Redis counts them).
    let mut changed = false;
    let replies = fields
        .iter()
        .map(|f| {
            let (reply, change) = write_one(s, f);
            changed |= change.is_some_and(|c| c || (grown && !matches!(f.op, FieldOp::Get)));
            reply
        })
        .collect();
    if changed {
        db.touch(key);
    } else if grown {
        // Made or grown, but every write failed: Redis signals nothing,
        // but the log must hold the longer string.
        db.journal_key(key);
    }
    Reply::array(replies)
}

/// BITFIELD key [GET type offset | [OVERFLOW WRAP|SAT|FAIL]
/// SET type offset value | INCRBY type offset increment] ...
pub(crate) fn bitfield(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    bitfield_generic(cx, a, false)
}

/// BITFIELD_RO key [GET type offset ...]
pub(crate) fn bitfield_ro(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    bitfield_generic(cx, a, true)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::vec;

    fn ints(items: &[i64]) -> Reply {
        Reply::array(items.iter().map(|&n| int(n)).collect())
    }

    const BAD_OFFSET: &str = "ERR bit offset is not an integer or out of range";
    const BAD_TYPE: &str = "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";

    #[test]
    fn setbit_getbit() {
        let mut t = T::new();
        assert_eq!(t.run("SETBIT k 7 1"), int(0));
        assert_eq!(t.run("GET k"), Reply::bulk(b"\x01"));
        assert_eq!(t.run("SETBIT k 7 0"), int(1));
        assert_eq!(t.run("SETBIT k 100 1"), int(0));
        assert_eq!(t.run("STRLEN k"), int(13), "grown with zeros");
        assert_eq!(t.run("GETBIT k 100"), int(1));
        assert_eq!(t.run("GETBIT k 101"), int(0));
        assert_eq!(t.run("GETBIT k 4294967295"), int(0), "past the end");
        assert_eq!(t.run("GETBIT nope 3"), int(0));
        t.run("SET s \x7f");
        assert_eq!(t.run("SETBIT s 0 1"), int(0));
        assert_eq!(t.run("GET s"), Reply::bulk(b"\xff"));
        for bad in ["-1", "4294967296", "x", "01", "-0", "+1"] {
            assert_eq!(t.run(&alloc::format!("SETBIT k {bad} 1")), err(BAD_OFFSET));
            assert_eq!(t.run(&alloc::format!("GETBIT k {bad}")), err(BAD_OFFSET));
        }
        for bad in ["2", "-1", "x", "01", "-0"] {
            assert_eq!(
                t.run(&alloc::format!("SETBIT k 1 {bad}")),
                err("ERR bit is not an integer or out of range")
            );
        }
        // The offset is checked first, then the bit, then the type.
        t.run("RPUSH l a");
        assert_eq!(t.run("SETBIT l x 2"), err(BAD_OFFSET));
        assert_eq!(
            t.run("SETBIT l 1 2"),
            err("ERR bit is not an integer or out of range")
        );
        assert_eq!(t.run("SETBIT l 1 1"), err(WRONGTYPE));
        assert_eq!(t.run("GETBIT l 1"), err(WRONGTYPE));
        assert_eq!(
            t.run("SETBIT k 1"),
            err("ERR wrong number of arguments for 'setbit' command")
        );
    }

    #[test]
    fn setbit_keeps_the_ttl() {
        let mut t = T::new();
        t.run("SET k a EX 100");
        t.run("SETBIT k 50 1");
        assert_eq!(t.run("TTL k"), int(100));
    }

    #[test]
    fn bitcount_ranges_and_units() {
        let mut t = T::new();
        t.run("SET s foobar");
        assert_eq!(t.run("BITCOUNT s"), int(26));
        assert_eq!(t.run("BITCOUNT s 0 0"), int(4));
        assert_eq!(t.run("BITCOUNT s 1 1"), int(6));
        assert_eq!(t.run("BITCOUNT s 1 1 BYTE"), int(6));
        assert_eq!(t.run("BITCOUNT s 5 30 BIT"), int(17));
        assert_eq!(t.run("BITCOUNT s 5 30 bit"), int(17));
        assert_eq!(t.run("BITCOUNT s -2 -1"), int(7));
        assert_eq!(t.run("BITCOUNT s -1 -2"), int(0));
        assert_eq!(t.run("BITCOUNT s -100 -1"), int(26));
        assert_eq!(t.run("BITCOUNT s -200 -100"), int(4), "both clamp to 0");
        assert_eq!(t.run("BITCOUNT s -100 -200"), int(0));
        assert_eq!(t.run("BITCOUNT s 0 -1 BIT"), int(26));
        assert_eq!(t.run("BITCOUNT s 6 100"), int(0));
        assert_eq!(
            t.run("BITCOUNT s -9223372036854775808 9223372036854775807 BIT"),
            int(26)
        );
        assert_eq!(t.run("BITCOUNT s 1"), err(SYNTAX));
        assert_eq!(t.run("BITCOUNT s 1 2 3"), err(SYNTAX));
        assert_eq!(t.run("BITCOUNT s 1 2 BIT x"), err(SYNTAX));
        assert_eq!(t.run("BITCOUNT s x 2"), err(NOT_INTEGER));
        // Reversed negative bounds answer 0 before the unit is read.
        assert_eq!(t.run("BITCOUNT s -1 -5 foo"), int(0));
        assert_eq!(t.run("BITCOUNT s -5 -1 foo"), err(SYNTAX));
        // A missing key is 0 whatever the arguments.
        assert_eq!(t.run("BITCOUNT nope x y"), int(0));
        assert_eq!(t.run("BITCOUNT nope 1"), int(0));
        t.argv(&[b"SET", b"empty", b""]);
        assert_eq!(t.run("BITCOUNT empty 0 -1"), int(0));
        t.run("RPUSH l a");
        assert_eq!(t.run("BITCOUNT l"), err(WRONGTYPE));
        assert_eq!(t.run("BITCOUNT l 1"), err(WRONGTYPE));
        // Long strings count by words.
        let mut long = vec![0xffu8; 1000];
        long[999] = 0x01;
        t.argv(&[b"SET", b"long", &long]);
        assert_eq!(t.run("BITCOUNT long"), int(999 * 8 + 1));
        assert_eq!(t.run("BITCOUNT long 3 7990 BIT"), int(7990 - 3 + 1));
    }

    #[test]
    fn bitpos_finds_set_and_clear_bits() {
        let mut t = T::new();
        t.run("SET s foobar");
        assert_eq!(t.run("BITPOS s 1"), int(1));
        assert_eq!(t.run("BITPOS s 0"), int(0));
        assert_eq!(t.run("BITPOS s 1 2"), int(17));
        assert_eq!(t.run("BITPOS s 1 2 -1 BYTE"), int(17));
        assert_eq!(t.run("BITPOS s 1 7 15 BIT"), int(9));
        assert_eq!(t.run("BITPOS s 0 0 -1 bit"), int(0));
        assert_eq!(t.run("BITPOS s 1 10 5"), int(-1), "an empty range");
        t.argv(&[b"SET", b"ones", b"\xff\xff\xff"]);
        assert_eq!(t.run("BITPOS ones 0"), int(24), "the zeros past the end");
        assert_eq!(t.run("BITPOS ones 0 0"), int(24));
        assert_eq!(t.run("BITPOS ones 0 0 -1"), int(-1), "not with an end");
        assert_eq!(t.run("BITPOS ones 0 2 2"), int(-1));
        assert_eq!(t.run("BITPOS ones 0 20 23 BIT"), int(-1));
        assert_eq!(t.run("BITPOS ones 0 3"), int(-1), "past the end");
        t.argv(&[b"SET", b"zeros", b"\0\0"]);
        assert_eq!(t.run("BITPOS zeros 1"), int(-1));
        assert_eq!(t.run("BITPOS zeros 0 -1"), int(8));
        t.argv(&[b"SET", b"empty", b""]);
        assert_eq!(t.run("BITPOS empty 0"), int(-1));
        assert_eq!(t.run("BITPOS empty 1"), int(-1));
        assert_eq!(t.run("BITPOS nope 0"), int(0));
        assert_eq!(t.run("BITPOS nope 1"), int(-1));
        assert_eq!(t.run("BITPOS nope 0 x"), int(0));
        for bad in ["2", "-1"] {
            assert_eq!(
                t.run(&alloc::format!("BITPOS s {bad}")),
                err("ERR The bit argument must be 1 or 0.")
            );
        }
        assert_eq!(
            t.run("BITPOS nope 2"),
            err("ERR The bit argument must be 1 or 0.")
        );
        assert_eq!(t.run("BITPOS s x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITPOS s 0 x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITPOS s 0 0 x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITPOS s 0 1 2 3"), err(SYNTAX));
        assert_eq!(t.run("BITPOS s 1 0 x foo"), err(SYNTAX), "unit first");
        assert_eq!(t.run("BITPOS s 0 1 2 BIT x"), err(SYNTAX));
        t.run("RPUSH l a");
        assert_eq!(t.run("BITPOS l 1"), err(WRONGTYPE));
    }

    #[test]
    fn bitop_combines_strings() {
        let mut t = T::new();
        t.run("SET a abc");
        t.run("SET b zz");
        assert_eq!(t.run("BITOP AND d a b"), int(3));
        assert_eq!(
            t.run("GET d"),
            Reply::bulk(b"`b\0"),
            "the shorter is padded"
        );
        assert_eq!(t.run("BITOP or d a b"), int(3));
        assert_eq!(t.run("GET d"), bulk("{zc"));
        assert_eq!(t.run("BITOP XOR d a b a"), int(3));
        assert_eq!(t.run("GET d"), Reply::bulk(b"zz\0"));
        assert_eq!(t.run("BITOP NOT d b"), int(2));
        assert_eq!(t.run("GET d"), Reply::bulk(&[!b'z', !b'z']));
        assert_eq!(t.run("BITOP AND d a nope"), int(3));
        assert_eq!(t.run("GET d"), Reply::bulk(b"\0\0\0"));
        assert_eq!(
            t.run("BITOP OR a a a"),
            int(3),
            "a source may be the destination"
        );
        assert_eq!(t.run("GET a"), bulk("abc"));
        t.run("SET d x EX 100");
        assert_eq!(t.run("BITOP AND d a"), int(3));
        assert_eq!(t.run("TTL d"), int(-1), "the result replaces the key");
        // An empty result deletes the destination.
        assert_eq!(t.run("BITOP NOT d nope"), int(0));
        assert_eq!(t.run("EXISTS d"), int(0));
        assert_eq!(t.run("BITOP foo d a"), err(SYNTAX));
        assert_eq!(
            t.run("BITOP NOT d a b"),
            err("ERR BITOP NOT must be called with a single source key.")
        );
        t.run("RPUSH l x");
        assert_eq!(t.run("BITOP AND d a l"), err(WRONGTYPE));
        assert_eq!(t.run("BITOP foo d l"), err(SYNTAX), "the operation first");
        assert_eq!(t.run("EXISTS d"), int(0));
        assert_eq!(
            t.run("BITOP AND l a"),
            int(3),
            "the destination's type does not matter"
        );
        assert_eq!(t.run("TYPE l"), simple("string"));
        assert_eq!(
            t.run("BITOP AND d"),
            err("ERR wrong number of arguments for 'bitop' command")
        );
    }

    #[test]
    fn bitfield_reads_and_writes_fields() {
        let mut t = T::new();
        assert_eq!(t.run("BITFIELD b INCRBY i5 100 1 GET u4 0"), ints(&[1, 0]));
        let step = "BITFIELD b INCRBY u2 100 1 OVERFLOW SAT INCRBY u2 102 1";
        assert_eq!(t.run(step), ints(&[1, 1]));
        assert_eq!(t.run(step), ints(&[2, 2]));
        assert_eq!(t.run(step), ints(&[3, 3]));
        assert_eq!(t.run(step), ints(&[0, 3]), "WRAP, then SAT");
        assert_eq!(
            t.run("BITFIELD b OVERFLOW FAIL INCRBY u2 102 1"),
            Reply::array(vec![nil()])
        );
        assert_eq!(t.run("BITFIELD m SET i8 0 200"), ints(&[0]));
        assert_eq!(t.run("BITFIELD m GET i8 0 GET u8 0"), ints(&[-56, 200]));
        assert_eq!(
            t.run("BITFIELD m OVERFLOW SAT SET i8 0 200 GET i8 0"),
            ints(&[-56, 127])
        );
        assert_eq!(
            t.run("BITFIELD m OVERFLOW SAT INCRBY i8 0 -300"),
            ints(&[-128])
        );
        assert_eq!(
            t.run("BITFIELD m OVERFLOW WRAP INCRBY i8 0 -1"),
            ints(&[127])
        );
        assert_eq!(
            t.run("BITFIELD m SET u8 #1 255 GET u16 0 GET i16 0"),
            ints(&[0, 32767, 32767])
        );
        assert_eq!(t.run("STRLEN m"), int(2));
        assert_eq!(
            t.run("BITFIELD m OVERFLOW FAIL INCRBY u8 #1 1 GET u8 #1"),
            Reply::array(vec![nil(), int(255)])
        );
        assert_eq!(
            t.run(
                "BITFIELD x SET i64 0 -1 GET u63 0 GET u63 1 GET i64 0 \
                 INCRBY i64 0 -9223372036854775807 OVERFLOW SAT INCRBY i64 0 -5"
            ),
            ints(&[0, i64::MAX, i64::MAX, -1, i64::MIN, i64::MIN])
        );
        // Unsigned SET of a negative value: its two's complement overflows.
        assert_eq!(
            t.run("BITFIELD u OVERFLOW SAT SET u8 0 -1 GET u8 0"),
            ints(&[0, 255])
        );
        assert_eq!(
            t.run("BITFIELD u OVERFLOW WRAP SET u8 0 -2 GET u8 0"),
            ints(&[255, 254])
        );
        // Redis's signed room below the maximum wraps for values far
        // below the minimum: SAT then gives the maximum.
        assert_eq!(
            t.run("BITFIELD q OVERFLOW SAT SET i8 0 -9223372036854775808 GET i8 0"),
            ints(&[0, 127])
        );
        assert_eq!(
            t.run("BITFIELD q OVERFLOW SAT SET i8 0 -1000 GET i8 0"),
            ints(&[127, -128])
        );
        // Reads past the end, and of missing keys, are zeros; a read
        // makes no key.
        assert_eq!(
            t.run("BITFIELD nope GET i8 0 GET u8 4294967288"),
            ints(&[0, 0])
        );
        assert_eq!(t.run("BITFIELD_RO nope GET i8 0"), ints(&[0]));
        assert_eq!(t.run("EXISTS nope"), int(0));
        assert_eq!(t.run("BITFIELD nope"), ints(&[]));
        assert_eq!(t.run("BITFIELD nope OVERFLOW SAT"), ints(&[]));
        t.run("SETBIT r 0 1");
        assert_eq!(
            t.run("BITFIELD_RO r GET u8 0 GET i8 0 GET i3 #0"),
            ints(&[128, -128, -4])
        );
    }

    #[test]
    fn bitfield_errors() {
        let mut t = T::new();
        for bad in [
            "I8", "U8", "i0", "u64", "i65", "i08", "i", "x8", "u-1", "i+8", "",
        ] {
            let line = alloc::format!("BITFIELD b GET {bad} 0");
            let args: alloc::vec::Vec<&[u8]> =
                vec![b"BITFIELD", b"b", b"GET", bad.as_bytes(), b"0"];
            assert_eq!(t.argv(&args), err(BAD_TYPE), "{line}");
        }
        assert_eq!(
            t.argv(&[b"BITFIELD", b"b", b"GET", b"u8\0junk", b"0"]),
            ints(&[0])
        );
        for bad in ["#-1", "##1", "#", "-1", "x", "4294967296", "#536870912"] {
            assert_eq!(
                t.run(&alloc::format!("BITFIELD b GET i8 {bad}")),
                err(BAD_OFFSET),
                "{bad}"
            );
        }
        assert_eq!(t.run("BITFIELD b GET i8 #536870911"), ints(&[0]));
        assert_eq!(t.run("BITFIELD b GET i8 4294967295"), ints(&[0]));
        assert_eq!(
            t.run("BITFIELD b GET i64 #9223372036854775807"),
            err(BAD_OFFSET)
        );
        assert_eq!(t.run("BITFIELD b GET i8"), err(SYNTAX));
        assert_eq!(t.run("BITFIELD b SET i8 0"), err(SYNTAX));
        assert_eq!(t.run("BITFIELD b OVERFLOW"), err(SYNTAX));
        assert_eq!(t.run("BITFIELD b foo"), err(SYNTAX));
        assert_eq!(
            t.run("BITFIELD b OVERFLOW foo GET i8 0"),
            err("ERR Invalid OVERFLOW type specified")
        );
        assert_eq!(t.run("BITFIELD b SET i8 0 x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITFIELD b SET i99 x y"), err(BAD_TYPE));
        // Nothing runs when any operation is malformed.
        assert_eq!(t.run("BITFIELD b SET i8 0 1 GET i8 x"), err(BAD_OFFSET));
        assert_eq!(t.run("EXISTS b"), int(0));
        // BITFIELD_RO: the whole command is parsed, then writes refused.
        let ro = "ERR BITFIELD_RO only supports the GET subcommand";
        assert_eq!(t.run("BITFIELD_RO b SET i8 0 1"), err(ro));
        assert_eq!(t.run("BITFIELD_RO b INCRBY i8 0 1"), err(ro));
        assert_eq!(t.run("BITFIELD_RO b SET i8 0 x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITFIELD_RO b SET i8 0 1 GET i8 x"), err(BAD_OFFSET));
        assert_eq!(t.run("BITFIELD_RO b OVERFLOW SAT GET i8 0"), ints(&[0]));
        t.run("RPUSH l a");
        assert_eq!(
            t.run("BITFIELD_RO l SET i8 0 1"),
            err(ro),
            "before the type"
        );
        assert_eq!(t.run("BITFIELD l"), err(WRONGTYPE));
        assert_eq!(t.run("BITFIELD_RO l"), err(WRONGTYPE));
        assert_eq!(t.run("BITFIELD l SET i8 0 x"), err(NOT_INTEGER));
        assert_eq!(t.run("BITFIELD l SET i8 0 1"), err(WRONGTYPE));
    }

    /// Runs `change` between WATCH k and EXEC: whether EXEC was aborted.
    fn touches(t: &mut T, change: &str) -> bool {
        t.run("WATCH k");
        t.run(change);
        t.run("MULTI");
        t.run("PING");
        t.run("EXEC") == Reply::nil_array()
    }

    #[test]
    fn only_real_changes_touch_the_key() {
        let mut t = T::new();
        assert!(touches(&mut t, "SETBIT k 3 1"), "made");
        assert!(!touches(&mut t, "SETBIT k 3 1"), "the same bit");
        assert!(touches(&mut t, "SETBIT k 3 0"));
        assert!(touches(&mut t, "SETBIT k 100 0"), "grown");
        assert!(!touches(&mut t, "SETBIT k 100 0"));
        assert!(touches(&mut t, "BITFIELD k SET u4 0 1"));
        assert!(!touches(&mut t, "BITFIELD k SET u4 0 1"), "the same value");
        assert!(!touches(&mut t, "BITFIELD k OVERFLOW FAIL INCRBY u4 0 100"));
        assert!(!touches(&mut t, "BITFIELD k GET u4 0"));
        assert!(!touches(&mut t, "GETBIT k 0"));
        assert!(!touches(&mut t, "BITCOUNT k"));
        assert!(
            touches(&mut t, "BITFIELD k SET u4 200 0"),
            "grown, same value"
        );
        // Grown for writes that all failed: Redis signals nothing.
        assert!(!touches(&mut t, "BITFIELD k OVERFLOW FAIL SET i8 400 1000"));
        assert_eq!(t.run("STRLEN k"), int(51));
        t.run("DEL k");
        assert!(!touches(&mut t, "BITFIELD k OVERFLOW FAIL SET i8 0 1000"));
        assert_eq!(t.run("STRLEN k"), int(1));
        t.run("DEL k");
        assert!(touches(&mut t, "BITFIELD k SET i8 0 0"), "made");
        assert!(touches(&mut t, "BITOP AND k k"), "BITOP always writes");
        t.run("DEL k");
        assert!(!touches(&mut t, "BITOP AND k nope"), "nothing to delete");
    }

    #[test]
    fn growth_is_refused_past_the_ceiling() {
        // Offsets are checked before any allocation: the largest is fine
        // to ask about and refused only for memory (no gauge here, so
        // only reads are tried).
        let mut t = T::new();
        assert_eq!(t.run("GETBIT k 4294967295"), int(0));
        assert_eq!(t.run("BITFIELD_RO k GET u63 4294967295"), ints(&[0]));
        assert_eq!(super::bit_offset(b"4294967295", None), Ok(4294967295));
        assert!(super::bit_offset(b"4294967296", None).is_err());
        assert_eq!(super::bit_offset(b"#3", Some(8)), Ok(24));
        assert!(super::bit_offset(b"#3", None).is_err());
    }

    #[test]
    fn field_arithmetic() {
        use super::{Overflow::*, signed_field, unsigned_field};
        assert_eq!(signed_field(127, 1, 8, Wrap), (-128, true));
        assert_eq!(signed_field(127, 1, 8, Sat), (127, true));
        assert_eq!(signed_field(-128, -1, 8, Sat), (-128, true));
        assert_eq!(signed_field(-128, -1, 8, Wrap), (127, true));
        assert_eq!(signed_field(5, -3, 8, Fail), (2, false));
        assert_eq!(signed_field(i64::MAX, 1, 64, Wrap), (i64::MIN, true));
        assert_eq!(signed_field(i64::MIN, -1, 64, Sat), (i64::MIN, true));
        assert!(signed_field(-1, i64::MIN, 64, Fail).1);
        assert_eq!(signed_field(0, i64::MIN, 64, Fail), (i64::MIN, false));
        assert_eq!(signed_field(1, 0, 1, Wrap), (-1, true), "i1 holds -1 and 0");
        assert_eq!(unsigned_field(3, 1, 2, Wrap), (0, true));
        assert_eq!(unsigned_field(0, -1, 2, Sat), (0, true));
        assert_eq!(unsigned_field(0, -1, 2, Wrap), (3, true));
        assert_eq!(unsigned_field(u64::MAX, 0, 8, Sat), (255, true));
        assert_eq!(
            unsigned_field(i64::MAX as u64, 0, 63, Fail),
            (i64::MAX as u64, false)
        );
        assert_eq!(unsigned_field(i64::MAX as u64, 1, 63, Wrap), (0, true));
    }
}
