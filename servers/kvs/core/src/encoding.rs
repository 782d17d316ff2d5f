//! The representation Redis 7.0 would give each value: what `OBJECT
//! ENCODING` reports, what `OBJECT REFCOUNT` derives from, and which RDB
//! form `DUMP` writes.
//!
//! kvs-core keeps every value in one form per type; Redis switches
//! between a compact form and a general one at thresholds
//! (`hash-max-listpack-entries`, …) and does so one way only: a hash that
//! grew past a threshold stays a `hashtable` after shrinking. So the
//! form cannot be computed from the current contents: each entry carries
//! the [`Encoding`] Redis would have, which the write paths update with
//! Redis's rules (fresh values: [`Encoding::of_new`]; growth:
//! [`Encoding::set_grew`], [`Encoding::promote`]; the string commands that
//! leave a `raw` string set it).
//!
//! Lists are always `quicklist` in Redis 7.0 (the `listpack` form of
//! small lists came with 7.2).

use crate::db::Value;
use crate::num;

/// Redis's `OBJ_ENCODING_*` for a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// A string held as a C `long`; `shared` when it is one of Redis's
    /// shared integers 0..9999 (whose reference count is `INT_MAX`).
    Int {
        /// One of the shared integers.
        shared: bool,
    },
    /// A string of at most 44 bytes allocated with its object.
    Embstr,
    /// Any other string.
    Raw,
    /// A list.
    Quicklist,
    /// A set of integers, each stored in `width` bytes (2, 4 or 8: the
    /// widest member ever added; an intset never narrows).
    Intset {
        /// Bytes per member.
        width: u8,
    },
    /// A small hash or sorted set.
    Listpack,
    /// A large set or hash.
    Hashtable,
    /// A large sorted set.
    Skiplist,
    /// A stream.
    Stream,
}

/// The longest string Redis keeps as `embstr`.
const EMBSTR_MAX: usize = 44;

/// Integers below this (from 0) are Redis's shared objects.
const SHARED_INTEGERS: i64 = 10_000;

/// The reference count Redis reports for a shared object.
pub(crate) const SHARED_REFCOUNT: i64 = i32::MAX as i64;

/// The thresholds of the compact forms (the store's parameters) and
/// whether integer strings may be shared objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Thresholds {
    /// `list-max-listpack-size`: the fill of a quicklist node (DUMP's
    /// node sizes).
    pub(crate) list_fill: i32,
    /// `hash-max-listpack-entries`.
    pub(crate) hash_entries: usize,
    /// `hash-max-listpack-value`.
    pub(crate) hash_value: usize,
    /// `set-max-intset-entries`.
    pub(crate) set_entries: usize,
    /// `zset-max-listpack-entries`.
    pub(crate) zset_entries: usize,
    /// `zset-max-listpack-value`.
    pub(crate) zset_value: usize,
    /// Redis shares integer objects unless `maxmemory` is set with an LRU
    /// or LFU policy (each key then needs its own access record).
    pub(crate) share_integers: bool,
}

impl Default for Thresholds {
    /// Redis 7.0's defaults.
    fn default() -> Self {
        Thresholds {
            list_fill: -2,
            hash_entries: 512,
            hash_value: 64,
            set_entries: 512,
            zset_entries: 128,
            zset_value: 64,
            share_integers: true,
        }
    }
}

/// The intset width of an integer.
pub(crate) fn int_width(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

impl Encoding {
    /// The name `OBJECT ENCODING` reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Encoding::Int { .. } => "int",
            Encoding::Embstr => "embstr",
            Encoding::Raw => "raw",
            Encoding::Quicklist => "quicklist",
            Encoding::Intset { .. } => "intset",
            Encoding::Listpack => "listpack",
            Encoding::Hashtable => "hashtable",
            Encoding::Skiplist => "skiplist",
            Encoding::Stream => "stream",
        }
    }

    /// `OBJECT REFCOUNT`: only shared integers have more than one owner.
    pub(crate) fn refcount(self) -> i64 {
        match self {
            Encoding::Int { shared: true } => SHARED_REFCOUNT,
            _ => 1,
        }
    }

    /// The encoding of a copy (COPY's): the same, but a copy of a shared
    /// integer is an object of its own.
    pub(crate) fn copied(self) -> Encoding {
        match self {
            Encoding::Int { .. } => Encoding::Int { shared: false },
            other => other,
        }
    }

    /// A string as Redis's `tryObjectEncoding` leaves it (SET, MSET,
    /// GETSET, INCR's result, RESTORE, …): a canonical integer of at most
    /// 20 bytes is `int`, else `embstr` up to 44 bytes, else `raw`.
    pub(crate) fn of_string(s: &[u8], t: &Thresholds) -> Encoding {
        if s.len() <= 20
            && let Some(v) = num::parse_i64(s)
        {
            let shared = t.share_integers && (0..SHARED_INTEGERS).contains(&v);
            return Encoding::Int { shared };
        }
        Encoding::created(s.len())
    }

    /// A string Redis creates from bytes without trying an integer
    /// (INCRBYFLOAT's result): `embstr` or `raw` by length.
    pub(crate) fn created(len: usize) -> Encoding {
        if len <= EMBSTR_MAX {
            Encoding::Embstr
        } else {
            Encoding::Raw
        }
    }

    /// A value Redis builds whole (SET, a store command's result, an
    /// empty collection about to be filled): the compact form where the
    /// contents fit it.
    pub(crate) fn of_new(value: &Value, t: &Thresholds) -> Encoding {
        match value {
            Value::Str(s) => Encoding::of_string(s, t),
            Value::List(_) => Encoding::Quicklist,
            Value::Stream(_) => Encoding::Stream,
            Value::Set(s) => {
                let mut width = 2;
                for m in s.iter() {
                    match num::parse_i64(m) {
                        Some(v) => width = width.max(int_width(v)),
                        None => return Encoding::Hashtable,
                    }
                }
                if s.len() > t.set_entries {
                    Encoding::Hashtable
                } else {
                    Encoding::Intset { width }
                }
            }
            Value::Hash(h) => {
                let fits = h.len() <= t.hash_entries
                    && h.iter()
                        .all(|(f, v)| f.len() <= t.hash_value && v.len() <= t.hash_value);
                if fits {
                    Encoding::Listpack
                } else {
                    Encoding::Hashtable
                }
            }
            Value::ZSet(z) => {
                let fits =
                    z.len() <= t.zset_entries && z.iter().all(|(m, _)| m.len() <= t.zset_value);
                if fits {
                    Encoding::Listpack
                } else {
                    Encoding::Skiplist
                }
            }
        }
    }

    /// A set given new members (`added`, each newly in it; `len` members
    /// now): an intset widens to hold them, and turns into a hash table
    /// for a member that is no integer or when it holds more than
    /// `set-max-intset-entries`.
    pub(crate) fn set_grew<'a>(
        &mut self,
        added: impl IntoIterator<Item = &'a [u8]>,
        len: usize,
        t: &Thresholds,
    ) {
        let Encoding::Intset { width } = self else {
            return;
        };
        let mut any = false;
        for m in added {
            any = true;
            match num::parse_i64(m) {
                Some(v) => *width = (*width).max(int_width(v)),
                None => {
                    *self = Encoding::Hashtable;
                    return;
                }
            }
        }
        if any && len > t.set_entries {
            *self = Encoding::Hashtable;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn strings() {
        let t = Thresholds::default();
        assert_eq!(
            Encoding::of_string(b"9999", &t),
            Encoding::Int { shared: true }
        );
        assert_eq!(
            Encoding::of_string(b"10000", &t),
            Encoding::Int { shared: false }
        );
        assert_eq!(
            Encoding::of_string(b"-1", &t),
            Encoding::Int { shared: false }
        );
        assert_eq!(Encoding::of_string(b"01", &t), Encoding::Embstr);
        assert_eq!(Encoding::of_string(&[b'x'; 44], &t), Encoding::Embstr);
        assert_eq!(Encoding::of_string(&[b'x'; 45], &t), Encoding::Raw);
        let lru = Thresholds {
            share_integers: false,
            ..t
        };
        assert_eq!(Encoding::of_string(b"5", &lru).refcount(), 1);
        assert_eq!(Encoding::of_string(b"5", &t).refcount(), SHARED_REFCOUNT);
    }

    #[test]
    fn intsets_widen_then_turn() {
        let t = Thresholds {
            set_entries: 3,
            ..Thresholds::default()
        };
        let mut e = Encoding::Intset { width: 2 };
        e.set_grew([&b"70000"[..]], 1, &t);
        assert_eq!(e, Encoding::Intset { width: 4 });
        e.set_grew(Vec::<&[u8]>::new(), 9, &t);
        assert_eq!(e, Encoding::Intset { width: 4 }, "nothing added");
        e.set_grew([&b"1"[..]], 4, &t);
        assert_eq!(e, Encoding::Hashtable);
        let mut e = Encoding::Intset { width: 2 };
        e.set_grew([&b"x"[..]], 1, &t);
        assert_eq!(e, Encoding::Hashtable);
    }
}
