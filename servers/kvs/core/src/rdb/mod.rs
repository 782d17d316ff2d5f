//! Redis's serialization of one value, as `DUMP` writes it and `RESTORE`
//! reads it: a type byte, the value in the RDB encoding of its type, the
//! RDB version (2 bytes LE; kvs-core writes Redis 7.0's, 10) and a CRC-64
//! of all that (8 bytes LE, [`crc64`]).
//!
//! | type | value |
//! | --- | --- |
//! | 0 string | a string (below) |
//! | 1 list | count, strings (old RDBs) |
//! | 2 set | count, strings |
//! | 3 sorted set | count, (string, score as a length-prefixed decimal) (old RDBs) |
//! | 4 hash | count, (string, string) |
//! | 5 sorted set | count, (string, score as an 8-byte LE double) |
//! | 11 set | a string holding an [`intset`] |
//! | 16 hash | a string holding a [`listpack`] of field, value, … |
//! | 17 sorted set | a string holding a listpack of member, score, … |
//! | 18 list | count, (container 2: a string holding a listpack; 1: a string that is one element) |
//!
//! A length is 6 bits (`00`), 14 bits (`01`, high byte first), or
//! `0x80` and 4 bytes or `0x81` and 8 bytes (big-endian). A string is a length and
//! its bytes, or (first two bits `11`) an 8-, 16- or 32-bit LE integer
//! (`0xC0`..`0xC2`) or an LZF block (`0xC3`, compressed length, length,
//! block: [`lzf`]).
//!
//! Reading decodes every element once into the store's own forms; every
//! length in the payload is checked against the bytes left before
//! anything is allocated, and what the value grows to against the memory
//! ceiling. Writing gives Redis's bytes where Redis's are determined by
//! the value and its encoding (see [`dump`]).

pub(crate) mod crc64;
mod intset;
pub(crate) mod listpack;
mod lzf;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;

use crate::db::Value;
use crate::dict::{Dict, DictSet};
use crate::encoding::{Encoding, Thresholds, int_width};
use crate::hash::SeededState;
use crate::memory::Room;
use crate::num;
use crate::stream::{Consumer, Group, Pending, Stream, StreamId};
use crate::zset::ZSet;

use intset::IntsetError;
use listpack::{Builder, Item, ListpackError};
use lzf::LzfError;

/// The RDB version of Redis 7.0, which DUMP writes and RESTORE accepts
/// (with every older one).
pub(crate) const VERSION: u16 = 10;

/// The type bytes.
const TYPE_STRING: u8 = 0;
const TYPE_LIST: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_ZSET: u8 = 3;
const TYPE_HASH: u8 = 4;
const TYPE_ZSET_2: u8 = 5;
const TYPE_SET_INTSET: u8 = 11;
const TYPE_HASH_LISTPACK: u8 = 16;
const TYPE_ZSET_LISTPACK: u8 = 17;
const TYPE_LIST_QUICKLIST_2: u8 = 18;
/// A stream as Redis 7.0 writes it (listpacks in a radix tree, the
/// first ID, the greatest deleted ID, entries added, groups' entries read).
const TYPE_STREAM_LISTPACKS_2: u8 = 19;
/// An entry's flags in a stream listpack: deleted; its fields are the
/// master entry's (only its values follow).
const STREAM_DELETED: i64 = 1;
const STREAM_SAME_FIELDS: i64 = 2;

/// Quicklist node containers.
const NODE_PLAIN: u64 = 1;
const NODE_PACKED: u64 = 2;

/// Bytes the store counts for each element besides its own (what the
/// memory check charges).
const ELEMENT_OVERHEAD: usize = 48;

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PayloadError {
    /// Shorter than the footer, a newer RDB version, or a checksum that
    /// does not match (Redis: `DUMP payload version or checksum are
    /// wrong`).
    Footer,
    /// The value does not decode (Redis: `Bad data format`).
    Format(FormatError),
    /// The value would pass the memory ceiling.
    Memory,
}

/// What is wrong with a value's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatError {
    /// A type kvs-core does not read: streams, modules, and the ziplist
    /// and zipmap forms of RDB versions before 10.
    UnknownType(u8),
    /// A length or element runs past the end.
    Truncated,
    /// A length of an unknown kind, or one past the address space.
    BadLength,
    /// A string of an unknown special encoding.
    BadStringEncoding,
    /// An LZF block that does not decompress to its length.
    Lzf(LzfError),
    /// A listpack that is not one.
    Listpack(ListpackError),
    /// An intset that is not one.
    Intset(IntsetError),
    /// A quicklist node of an unknown container, or empty.
    BadNode,
    /// A collection with no elements.
    Empty,
    /// A member or field twice.
    Duplicate,
    /// A score that is not a number (NaN, or text that is no float).
    BadScore,
    /// A listpack of pairs with an odd element count.
    Unpaired,
    /// A stream whose nodes, counts, IDs or consumer groups do not hold
    /// together.
    BadStream,
}

impl From<FormatError> for PayloadError {
    fn from(e: FormatError) -> Self {
        PayloadError::Format(e)
    }
}

/// Checks the footer of `payload` (at least 10 bytes, version at most
/// [`VERSION`], the checksum of all before it) as Redis's
/// `verifyDumpPayload` does.
pub(crate) fn verify(payload: &[u8]) -> Result<(), PayloadError> {
    let Some(body) = payload.len().checked_sub(10) else {
        return Err(PayloadError::Footer);
    };
    let version = u16::from_le_bytes([payload[body], payload[body + 1]]);
    if version > VERSION {
        return Err(PayloadError::Footer);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[body + 2..]);
    if crc64::crc64(&payload[..body + 2]) != u64::from_le_bytes(crc) {
        return Err(PayloadError::Footer);
    }
    Ok(())
}

/// The value a verified `payload` holds and the encoding Redis 7.0 gives
/// it under `t` (its rules for RESTORE, which differ from the commands':
/// a listpack hash or sorted set stays one whatever its elements' sizes
/// unless it has too many). `state` keys the hash tables; `room` is the
/// memory the value may take.
///
/// As Redis, the value is read from the whole payload: a value that ends
/// before the footer leaves bytes unread, one that runs into it reads it.
pub(crate) fn load(
    payload: &[u8],
    t: &Thresholds,
    state: SeededState,
    room: Room,
) -> Result<(Value, Encoding), PayloadError> {
    let mut r = Reader {
        b: payload,
        at: 0,
        room,
        spent: 0,
    };
    let kind = r.byte()?;
    match kind {
        TYPE_STRING => {
            let s = r.string()?;
            let enc = Encoding::of_string(&s, t);
            Ok((Value::Str(s), enc))
        }
        TYPE_LIST => {
            let n = r.count()?;
            let mut list = VecDeque::new();
            for _ in 0..n {
                let e = r.element()?;
                list.push_back(e);
            }
            nonempty(list.len())?;
            Ok((Value::List(list), Encoding::Quicklist))
        }
        TYPE_LIST_QUICKLIST_2 => r.quicklist(),
        TYPE_SET => r.set(t, state),
        TYPE_SET_INTSET => {
            let blob = r.string()?;
            let (width, members) = intset::decode(&blob).map_err(FormatError::Intset)?;
            let mut set = DictSet::with_hasher(state);
            for m in members {
                r.charge(ELEMENT_OVERHEAD)?;
                set.insert(num::int_bytes(m));
            }
            let enc = if set.len() > t.set_entries {
                Encoding::Hashtable
            } else {
                Encoding::Intset { width }
            };
            Ok((Value::Set(set), enc))
        }
        TYPE_HASH => r.hash(t, state),
        TYPE_HASH_LISTPACK => {
            let blob = r.string()?;
            let mut hash = Dict::with_hasher(state);
            for pair in pairs(&blob)? {
                r.charge(ELEMENT_OVERHEAD)?;
                if hash
                    .insert(pair[0].to_bytes(), pair[1].to_bytes())
                    .is_some()
                {
                    return Err(FormatError::Duplicate.into());
                }
            }
            let enc = if hash.len() > t.hash_entries {
                Encoding::Hashtable
            } else {
                Encoding::Listpack
            };
            Ok((Value::Hash(hash), enc))
        }
        TYPE_ZSET | TYPE_ZSET_2 => r.zset(kind == TYPE_ZSET_2, t, state),
        TYPE_ZSET_LISTPACK => {
            let blob = r.string()?;
            let mut z = ZSet::new(state);
            for pair in pairs(&blob)? {
                r.charge(ELEMENT_OVERHEAD)?;
                let score = match pair[1] {
                    Item::Int(v) => v as f64,
                    Item::Str(s) => num::parse_f64(s).ok_or(FormatError::BadScore)?,
                };
                if !z.insert(&pair[0].to_bytes(), score) {
                    return Err(FormatError::Duplicate.into());
                }
            }
            let enc = if z.len() > t.zset_entries {
                Encoding::Skiplist
            } else {
                Encoding::Listpack
            };
            Ok((Value::ZSet(z), enc))
        }
        TYPE_STREAM_LISTPACKS_2 => Ok((Value::Stream(r.stream()?), Encoding::Stream)),
        other => Err(FormatError::UnknownType(other).into()),
    }
}

/// A stream node's listpack, read: its master fields, and its entries
/// (ID, fields and values, deleted) in order; made by entry `first`.
#[allow(clippy::type_complexity)]
fn stream_node(
    items: &[Item<'_>],
    first: StreamId,
) -> Result<(Vec<Vec<u8>>, Vec<(StreamId, Vec<Vec<u8>>, bool)>), FormatError> {
    let mut it = items.iter().copied();
    fn take<'a>(it: &mut impl Iterator<Item = Item<'a>>) -> Result<Item<'a>, FormatError> {
        it.next().ok_or(FormatError::BadStream)
    }
    let int = |item: Item<'_>| match item {
        Item::Int(v) => Ok(v),
        Item::Str(_) => Err(FormatError::BadStream),
    };
    let count = |v: i64| usize::try_from(v).map_err(|_| FormatError::BadStream);
    let live = count(int(take(&mut it)?)?)?;
    let deleted = count(int(take(&mut it)?)?)?;
    let fields = count(int(take(&mut it)?)?)?;
    let mut master = Vec::new();
    for _ in 0..fields {
        master.push(take(&mut it)?.to_bytes());
    }
    if int(take(&mut it)?)? != 0 {
        return Err(FormatError::BadStream);
    }
    let mut entries = Vec::new();
    while it.len() > 0 {
        let flags = int(take(&mut it)?)?;
        let ms = first.ms.wrapping_add(int(take(&mut it)?)? as u64);
        let seq = first.seq.wrapping_add(int(take(&mut it)?)? as u64);
        let same = flags & STREAM_SAME_FIELDS != 0;
        let pairs = if same {
            master.len()
        } else {
            count(int(take(&mut it)?)?)?
        };
        let mut entry = Vec::with_capacity(pairs.min(1 << 16) * 2);
        for field in master.iter().take(if same { pairs } else { 0 }) {
            entry.push(field.clone());
            entry.push(take(&mut it)?.to_bytes());
        }
        for _ in 0..if same { 0 } else { pairs } {
            entry.push(take(&mut it)?.to_bytes());
            entry.push(take(&mut it)?.to_bytes());
        }
        // The element count, which only backward walks need.
        take(&mut it)?;
        entries.push((StreamId { ms, seq }, entry, flags & STREAM_DELETED != 0));
    }
    let gone = entries.iter().filter(|e| e.2).count();
    if entries.is_empty() || gone != deleted || entries.len() - gone != live {
        return Err(FormatError::BadStream);
    }
    Ok((master, entries))
}

/// `Err(Empty)` for a collection with no elements (Redis refuses them).
fn nonempty(len: usize) -> Result<(), FormatError> {
    if len == 0 {
        Err(FormatError::Empty)
    } else {
        Ok(())
    }
}

/// The pairs of a listpack of pairs, none at all refused.
fn pairs(blob: &[u8]) -> Result<Vec<[Item<'_>; 2]>, FormatError> {
    let items = listpack::decode(blob).map_err(FormatError::Listpack)?;
    if items.len() % 2 != 0 {
        return Err(FormatError::Unpaired);
    }
    nonempty(items.len())?;
    Ok(items.chunks_exact(2).map(|p| [p[0], p[1]]).collect())
}

/// The payload being read.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    room: Room,
    /// Bytes the value holds so far, as the memory check counts them.
    spent: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, FormatError> {
        let b = *self.b.get(self.at).ok_or(FormatError::Truncated)?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], FormatError> {
        let end = self.at.checked_add(n).ok_or(FormatError::Truncated)?;
        let bytes = self.b.get(self.at..end).ok_or(FormatError::Truncated)?;
        self.at = end;
        Ok(bytes)
    }

    /// Counts `n` more bytes against the memory ceiling.
    fn charge(&mut self, n: usize) -> Result<(), PayloadError> {
        self.spent = self.spent.saturating_add(n);
        if self.room.fits(self.spent) {
            Ok(())
        } else {
            Err(PayloadError::Memory)
        }
    }

    /// A length, and whether it is a string's special encoding (its low
    /// six bits then name the encoding).
    fn length(&mut self) -> Result<(u64, bool), FormatError> {
        let first = self.byte()?;
        let six = u64::from(first & 0x3F);
        match first >> 6 {
            0 => Ok((six, false)),
            1 => Ok(((six << 8) | u64::from(self.byte()?), false)),
            3 => Ok((six, true)),
            _ => match first {
                0x80 => {
                    let b = self.take(4)?;
                    Ok((
                        u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
                        false,
                    ))
                }
                0x81 => {
                    let b = self.take(8)?;
                    let mut w = [0u8; 8];
                    w.copy_from_slice(b);
                    Ok((u64::from_be_bytes(w), false))
                }
                _ => Err(FormatError::BadLength),
            },
        }
    }

    /// A count (a special encoding's marker is read as the six bits it
    /// carries, as Redis reads it).
    fn count(&mut self) -> Result<u64, FormatError> {
        self.length().map(|(n, _)| n)
    }

    /// A string, charged against the memory ceiling.
    fn string(&mut self) -> Result<Vec<u8>, PayloadError> {
        let (n, special) = self.length()?;
        if special {
            return match n {
                0 => Ok(num::int_bytes(i64::from(self.take(1)?[0] as i8))),
                1 => {
                    let b = self.take(2)?;
                    Ok(num::int_bytes(i64::from(i16::from_le_bytes([b[0], b[1]]))))
                }
                2 => {
                    let b = self.take(4)?;
                    Ok(num::int_bytes(i64::from(i32::from_le_bytes([
                        b[0], b[1], b[2], b[3],
                    ]))))
                }
                3 => self.lzf(),
                _ => Err(FormatError::BadStringEncoding.into()),
            };
        }
        let n = usize::try_from(n).map_err(|_| FormatError::Truncated)?;
        let bytes = self.take(n)?;
        self.charge(n)?;
        Ok(bytes.to_vec())
    }

    fn lzf(&mut self) -> Result<Vec<u8>, PayloadError> {
        let compressed = usize::try_from(self.count()?).map_err(|_| FormatError::Truncated)?;
        let len = self.count()?;
        let block = self.take(compressed)?;
        // No block of that size produces more: refused before anything
        // is allocated for it.
        let len = usize::try_from(len)
            .ok()
            .filter(|&l| l <= lzf::max_expansion(compressed))
            .ok_or(FormatError::Lzf(LzfError::TooLong))?;
        self.charge(len)?;
        Ok(lzf::decompress(block, len).map_err(FormatError::Lzf)?)
    }

    /// A collection's element: a string and its bookkeeping.
    fn element(&mut self) -> Result<Vec<u8>, PayloadError> {
        self.charge(ELEMENT_OVERHEAD)?;
        self.string()
    }

    /// A 16-byte stream ID (raw, or as a string).
    fn raw_id(bytes: &[u8]) -> Result<StreamId, FormatError> {
        if bytes.len() != 16 {
            return Err(FormatError::BadStream);
        }
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&bytes[..8]);
        seq.copy_from_slice(&bytes[8..]);
        Ok(StreamId {
            ms: u64::from_be_bytes(ms),
            seq: u64::from_be_bytes(seq),
        })
    }

    /// An ID as two lengths.
    fn id(&mut self) -> Result<StreamId, FormatError> {
        Ok(StreamId {
            ms: self.count()?,
            seq: self.count()?,
        })
    }

    /// Milliseconds, 8 bytes little-endian.
    fn millis(&mut self) -> Result<u64, FormatError> {
        let mut w = [0u8; 8];
        w.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(w))
    }

    /// A stream, as [`dump_stream`] writes one (deleted entries in its
    /// listpacks allowed, as Redis's have them).
    fn stream(&mut self) -> Result<Stream, PayloadError> {
        let mut stream = Stream::default();
        let nodes = self.count()?;
        for _ in 0..nodes {
            let key = self.string()?;
            let first = Self::raw_id(&key)?;
            let blob = self.string()?;
            let items = listpack::decode(&blob).map_err(FormatError::Listpack)?;
            let (master, entries) = stream_node(&items, first)?;
            self.charge(entries.len().saturating_mul(ELEMENT_OVERHEAD))?;
            if !stream.restore_node(first, master, entries) {
                return Err(FormatError::BadStream.into());
            }
        }
        let length = self.count()?;
        if length != stream.len() as u64 {
            return Err(FormatError::BadStream.into());
        }
        stream.last_id = self.id()?;
        let _first = self.id()?;
        stream.max_deleted = self.id()?;
        stream.entries_added = self.count()?;
        if stream
            .last_entry()
            .is_some_and(|last| last > stream.last_id)
        {
            return Err(FormatError::BadStream.into());
        }
        let groups = self.count()?;
        for _ in 0..groups {
            let name = self.string()?;
            let mut group = Group {
                last_id: self.id()?,
                ..Group::default()
            };
            group.entries_read = match self.count()? {
                u64::MAX => None,
                n => Some(n),
            };
            let pending = self.count()?;
            for _ in 0..pending {
                let id = Self::raw_id(self.take(16)?)?;
                let delivered_ms = self.millis()?;
                let deliveries = self.count()?;
                self.charge(ELEMENT_OVERHEAD)?;
                group.pending.insert(
                    id,
                    Pending {
                        delivered_ms,
                        deliveries,
                        consumer: Vec::new(),
                    },
                );
            }
            let consumers = self.count()?;
            for _ in 0..consumers {
                let cname = self.string()?;
                let seen_ms = self.millis()?;
                let mut consumer = Consumer {
                    seen_ms,
                    ..Consumer::default()
                };
                for _ in 0..self.count()? {
                    let id = Self::raw_id(self.take(16)?)?;
                    // Each of a consumer's entries is one of the group's,
                    // and no other consumer's.
                    match group.pending.get_mut(&id) {
                        Some(p) if p.consumer.is_empty() => p.consumer = cname.clone(),
                        _ => return Err(FormatError::BadStream.into()),
                    }
                    consumer.pending.insert(id);
                }
                if group.consumers.insert(cname, consumer).is_some() {
                    return Err(FormatError::Duplicate.into());
                }
            }
            if group.pending.values().any(|p| p.consumer.is_empty()) {
                return Err(FormatError::BadStream.into());
            }
            if stream.groups.insert(name, group).is_some() {
                return Err(FormatError::Duplicate.into());
            }
        }
        Ok(stream)
    }

    fn quicklist(&mut self) -> Result<(Value, Encoding), PayloadError> {
        let nodes = self.count()?;
        let mut list = VecDeque::new();
        for _ in 0..nodes {
            let container = self.count()?;
            if container != NODE_PLAIN && container != NODE_PACKED {
                return Err(FormatError::BadNode.into());
            }
            let data = self.string()?;
            if data.is_empty() {
                return Err(FormatError::BadNode.into());
            }
            if container == NODE_PLAIN {
                self.charge(ELEMENT_OVERHEAD)?;
                list.push_back(data);
                continue;
            }
            // An empty node is skipped, as Redis skips it.
            for item in listpack::decode(&data).map_err(FormatError::Listpack)? {
                self.charge(ELEMENT_OVERHEAD)?;
                list.push_back(item.to_bytes());
            }
        }
        nonempty(list.len())?;
        Ok((Value::List(list), Encoding::Quicklist))
    }

    fn set(
        &mut self,
        t: &Thresholds,
        state: SeededState,
    ) -> Result<(Value, Encoding), PayloadError> {
        let n = self.count()?;
        if n == 0 {
            return Err(FormatError::Empty.into());
        }
        // Redis decides on a hash table from the count alone, then leaves
        // the intset at the first member that is no integer.
        let mut enc = if n > t.set_entries.min(1 << 30) as u64 {
            Encoding::Hashtable
        } else {
            Encoding::Intset { width: 2 }
        };
        let mut set = DictSet::with_hasher(state);
        for _ in 0..n {
            let m = self.element()?;
            if let Encoding::Intset { width } = &mut enc {
                match num::parse_i64(&m) {
                    Some(v) => *width = (*width).max(int_width(v)),
                    None => enc = Encoding::Hashtable,
                }
            }
            if !set.insert(m) {
                return Err(FormatError::Duplicate.into());
            }
        }
        Ok((Value::Set(set), enc))
    }

    fn hash(
        &mut self,
        t: &Thresholds,
        state: SeededState,
    ) -> Result<(Value, Encoding), PayloadError> {
        let n = self.count()?;
        if n == 0 {
            return Err(FormatError::Empty.into());
        }
        let mut enc = if n > t.hash_entries as u64 {
            Encoding::Hashtable
        } else {
            Encoding::Listpack
        };
        let mut hash = Dict::with_hasher(state);
        for _ in 0..n {
            let field = self.element()?;
            let value = self.string()?;
            if field.len() > t.hash_value || value.len() > t.hash_value {
                enc = Encoding::Hashtable;
            }
            if hash.insert(field, value).is_some() {
                return Err(FormatError::Duplicate.into());
            }
        }
        Ok((Value::Hash(hash), enc))
    }

    fn zset(
        &mut self,
        binary: bool,
        t: &Thresholds,
        state: SeededState,
    ) -> Result<(Value, Encoding), PayloadError> {
        let n = self.count()?;
        if n == 0 {
            return Err(FormatError::Empty.into());
        }
        let mut z = ZSet::new(state);
        let mut longest = 0;
        for _ in 0..n {
            let member = self.element()?;
            let score = if binary {
                let b = self.take(8)?;
                let mut w = [0u8; 8];
                w.copy_from_slice(b);
                f64::from_le_bytes(w)
            } else {
                self.decimal_score()?
            };
            if score.is_nan() {
                return Err(FormatError::BadScore.into());
            }
            longest = longest.max(member.len());
            if !z.insert(&member, score) {
                return Err(FormatError::Duplicate.into());
            }
        }
        // Converted after loading, from the whole set.
        let enc = if z.len() <= t.zset_entries && longest <= t.zset_value {
            Encoding::Listpack
        } else {
            Encoding::Skiplist
        };
        Ok((Value::ZSet(z), enc))
    }

    /// An old RDB's score: a length byte (253 NaN, 254 +inf, 255 −inf)
    /// and that many bytes of decimal.
    fn decimal_score(&mut self) -> Result<f64, FormatError> {
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            n => {
                let text = self.take(usize::from(n))?;
                num::parse_f64(text).ok_or(FormatError::BadScore)
            }
        }
    }
}

/// The kind byte of a function library in a payload (`FUNCTION DUMP`).
const FUNCTION_LIBRARY: u8 = 245;

/// `FUNCTION DUMP`'s payload: each library's code as a string after its
/// kind byte, then the footer.
pub(crate) fn dump_functions<'a>(codes: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(FUNCTION_LIBRARY);
        write_string(&mut out, code);
    }
    footer(&mut out);
    out
}

/// The libraries' code a verified `FUNCTION DUMP` payload holds.
pub(crate) fn load_functions(payload: &[u8], room: Room) -> Result<Vec<Vec<u8>>, PayloadError> {
    let body = payload.len().saturating_sub(10);
    let mut r = Reader {
        b: &payload[..body],
        at: 0,
        room,
        spent: 0,
    };
    let mut codes = Vec::new();
    while r.at < body {
        match r.byte()? {
            FUNCTION_LIBRARY => codes.push(r.string()?),
            other => return Err(FormatError::UnknownType(other).into()),
        }
    }
    Ok(codes)
}

/// Appends the version and the checksum of everything before them.
fn footer(out: &mut Vec<u8>) {
    out.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc64::crc64(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

/// The DUMP payload of `value`, whose encoding is `enc`, under `t`.
///
/// Byte for byte Redis's wherever Redis's bytes follow from the value:
/// strings, intsets, listpack hashes (their fields in insertion order, as
/// a listpack keeps them), listpack and skiplist sorted sets, and lists
/// packed into quicklist nodes as Redis packs pushes at the tail.
/// Strings above 20 bytes are LZF-compressed as Redis compresses them
/// ([`lzf`]). Sets and hashes in hash tables come in kvs-core's order
/// (insertion order), which RESTORE accepts but which is not Redis's.
/// A stream's nodes keep Redis's boundaries and master entries, but hold
/// only their live entries: where Redis keeps an XDEL'd entry in its
/// listpack, flagged, Basalt has forgotten it, so those bytes differ.
pub(crate) fn dump(value: &Value, enc: Encoding, t: &Thresholds) -> Vec<u8> {
    let mut out = Vec::new();
    match value {
        Value::Stream(stream) => dump_stream(stream, &mut out),
        Value::Str(s) => {
            out.push(TYPE_STRING);
            write_string(&mut out, s);
        }
        Value::List(list) => {
            out.push(TYPE_LIST_QUICKLIST_2);
            let nodes = pack_nodes(list, t.list_fill);
            write_length(&mut out, nodes.len() as u64);
            for node in nodes {
                write_length(&mut out, NODE_PACKED);
                write_string(&mut out, &node);
            }
        }
        Value::Set(set) => {
            let ints: Option<Vec<i64>> = match enc {
                Encoding::Intset { .. } => set.iter().map(|m| num::parse_i64(m)).collect(),
                _ => None,
            };
            match (ints, enc) {
                (Some(mut ints), Encoding::Intset { width }) => {
                    ints.sort_unstable();
                    let width = ints.iter().map(|&v| int_width(v)).fold(width, u8::max);
                    out.push(TYPE_SET_INTSET);
                    write_string(&mut out, &intset::encode(width, &ints));
                }
                _ => {
                    out.push(TYPE_SET);
                    write_length(&mut out, set.len() as u64);
                    for m in set.iter() {
                        write_string(&mut out, m);
                    }
                }
            }
        }
        Value::Hash(hash) => {
            if enc == Encoding::Listpack {
                out.push(TYPE_HASH_LISTPACK);
                let mut lp = Builder::new();
                for (f, v) in hash.iter() {
                    lp.push(f);
                    lp.push(v);
                }
                write_string(&mut out, &lp.finish());
            } else {
                out.push(TYPE_HASH);
                write_length(&mut out, hash.len() as u64);
                for (f, v) in hash.iter() {
                    write_string(&mut out, f);
                    write_string(&mut out, v);
                }
            }
        }
        Value::ZSet(z) => {
            if enc == Encoding::Listpack {
                out.push(TYPE_ZSET_LISTPACK);
                let mut lp = Builder::new();
                for (m, score) in z.iter() {
                    lp.push(m);
                    match integral(score) {
                        Some(v) => lp.push_int(v),
                        None => lp.push(score_text(score).as_bytes()),
                    }
                }
                write_string(&mut out, &lp.finish());
            } else {
                // From the highest score down, as Redis walks its
                // skiplist from the tail.
                out.push(TYPE_ZSET_2);
                write_length(&mut out, z.len() as u64);
                for (m, score) in z.iter().rev() {
                    write_string(&mut out, m);
                    out.extend_from_slice(&score.to_le_bytes());
                }
            }
        }
    }
    footer(&mut out);
    out
}

/// Appends a stream's RDB form: its nodes (each a 16-byte big-endian
/// master ID and a listpack: the live and deleted counts, the master
/// fields, a zero, then each entry's flags, ID differences from the
/// master's, field count and names unless the master's, values, and its
/// element count), its length, last, first and greatest deleted IDs,
/// entries added, and its groups (name, last ID, entries read, the
/// pending entries with their delivery time and count, the consumers
/// with their seen time and pending IDs).
fn dump_stream(stream: &Stream, out: &mut Vec<u8>) {
    out.push(TYPE_STREAM_LISTPACKS_2);
    let nodes = stream.dump_nodes();
    write_length(out, nodes.len() as u64);
    for node in nodes {
        write_string(out, &raw_id(node.first));
        let mut lp = Builder::new();
        lp.push_int(node.entries.len() as i64);
        lp.push_int(0);
        lp.push_int(node.master.len() as i64);
        for field in node.master {
            lp.push(field);
        }
        lp.push_int(0);
        for (id, fields, same) in node.entries {
            lp.push_int(if same { STREAM_SAME_FIELDS } else { 0 });
            lp.push_int(id.ms.wrapping_sub(node.first.ms) as i64);
            lp.push_int(id.seq.wrapping_sub(node.first.seq) as i64);
            let pairs = fields.len() / 2;
            if !same {
                lp.push_int(pairs as i64);
            }
            for pair in fields.chunks(2) {
                if !same {
                    lp.push(&pair[0]);
                }
                lp.push(pair.get(1).map_or(&[][..], Vec::as_slice));
            }
            let elements = 3 + pairs + if same { 0 } else { pairs + 1 };
            lp.push_int(elements as i64);
        }
        write_string(out, &lp.finish());
    }
    write_length(out, stream.len() as u64);
    for id in [stream.last_id, stream.first_id(), stream.max_deleted] {
        write_length(out, id.ms);
        write_length(out, id.seq);
    }
    write_length(out, stream.entries_added);
    write_length(out, stream.groups.len() as u64);
    for (name, group) in &stream.groups {
        write_string(out, name);
        write_length(out, group.last_id.ms);
        write_length(out, group.last_id.seq);
        write_length(out, group.entries_read.unwrap_or(u64::MAX));
        write_length(out, group.pending.len() as u64);
        for (id, pending) in &group.pending {
            out.extend_from_slice(&raw_id(*id));
            out.extend_from_slice(&pending.delivered_ms.to_le_bytes());
            write_length(out, pending.deliveries);
        }
        write_length(out, group.consumers.len() as u64);
        for (name, consumer) in &group.consumers {
            write_string(out, name);
            out.extend_from_slice(&consumer.seen_ms.to_le_bytes());
            write_length(out, consumer.pending.len() as u64);
            for id in &consumer.pending {
                out.extend_from_slice(&raw_id(*id));
            }
        }
    }
}

/// A stream ID as Redis keys its radix trees: milliseconds and sequence,
/// big-endian.
fn raw_id(id: StreamId) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&id.ms.to_be_bytes());
    k[8..].copy_from_slice(&id.seq.to_be_bytes());
    k
}

/// The quicklist nodes of a list as Redis fills them pushing at the tail
/// with `list-max-listpack-size` `fill`: a node takes an element while
/// its listpack, the element and 8 bytes of slack stay within the size
/// the fill names (negative: −1..−5 for 4..64 KiB), or, for a count
/// (positive fill), while it holds fewer and stays within 8 KiB.
fn pack_nodes(list: &VecDeque<Vec<u8>>, fill: i32) -> Vec<Vec<u8>> {
    const SIZES: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
    const SAFETY: usize = 8192;
    let takes = |node: &Builder, element: usize| {
        let size = node.bytes() + element + 8;
        let by_size = fill < 0
            && SIZES
                .get(fill.unsigned_abs() as usize - 1)
                .is_some_and(|&max| size <= max);
        by_size
            || (size <= SAFETY && i64::try_from(node.count()).is_ok_and(|c| c < i64::from(fill)))
    };
    let mut nodes = Vec::new();
    let mut node: Option<Builder> = None;
    for e in list {
        match node.as_mut() {
            Some(n) if takes(n, e.len()) => n.push(e),
            _ => {
                if let Some(full) = node.take() {
                    nodes.push(full.finish());
                }
                let mut fresh = Builder::new();
                fresh.push(e);
                node = Some(fresh);
            }
        }
    }
    nodes.extend(node.map(Builder::finish));
    nodes
}

/// A score Redis writes into a listpack as an integer: integral and
/// within ±2^62 (its `double2ll`).
fn integral(score: f64) -> Option<i64> {
    const LIMIT: f64 = (i64::MAX / 2) as f64;
    // In range, the cast is exact for integral values only.
    ((-LIMIT..=LIMIT).contains(&score) && (score as i64) as f64 == score).then_some(score as i64)
}

/// Any other score as Redis's `d2string` writes it: `inf`, `-inf`, or
/// C's `%.17g`.
fn score_text(score: f64) -> String {
    if score.is_infinite() {
        return String::from(if score < 0.0 { "-inf" } else { "inf" });
    }
    // Seventeen significant digits, correctly rounded, in scientific
    // form; `%g` then picks the form by the exponent and drops trailing
    // zeros.
    let sci = alloc::format!("{score:.16e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let trim = |s: String| -> String {
        if s.contains('.') {
            String::from(s.trim_end_matches('0').trim_end_matches('.'))
        } else {
            s
        }
    };
    if !(-4..17).contains(&exp) {
        let m = trim(alloc::format!("{}.{}", &digits[..1], &digits[1..]));
        let esign = if exp < 0 { '-' } else { '+' };
        alloc::format!("{sign}{m}e{esign}{:02}", exp.unsigned_abs())
    } else if exp >= 0 {
        let point = exp as usize + 1;
        let body = trim(alloc::format!("{}.{}", &digits[..point], &digits[point..]));
        alloc::format!("{sign}{body}")
    } else {
        let zeros = "0".repeat(exp.unsigned_abs() as usize - 1);
        let body = trim(alloc::format!("0.{zeros}{digits}"));
        alloc::format!("{sign}{body}")
    }
}

/// Writes a length in the shortest of its forms.
fn write_length(out: &mut Vec<u8>, n: u64) {
    if n < 1 << 6 {
        out.push(n as u8);
    } else if n < 1 << 14 {
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    } else if let Ok(n) = u32::try_from(n) {
        out.push(0x80);
        out.extend_from_slice(&n.to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Writes a string as Redis's `rdbSaveRawString` does: an integer
/// encoding for the canonical form of a 32-bit integer (11 bytes at
/// most), LZF above 20 bytes when that saves at least 4, else the bytes.
fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    if s.len() <= 11
        && let Some(v) = num::parse_i64(s)
    {
        if let Ok(v) = i8::try_from(v) {
            out.extend_from_slice(&[0xC0, v as u8]);
            return;
        }
        if let Ok(v) = i16::try_from(v) {
            out.push(0xC1);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
        if let Ok(v) = i32::try_from(v) {
            out.push(0xC2);
            out.extend_from_slice(&v.to_le_bytes());
            return;
        }
    }
    if s.len() > 20
        && let Some(block) = lzf::compress(s, s.len() - 4)
    {
        out.push(0xC3);
        write_length(out, block.len() as u64);
        write_length(out, s.len() as u64);
        out.extend_from_slice(&block);
        return;
    }
    write_length(out, s.len() as u64);
    out.extend_from_slice(s);
}

#[cfg(test)]
mod tests;
