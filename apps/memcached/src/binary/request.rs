//! A request's header, extras and key decoded once into a [`Request`],
//! with memcached 1.6's checks of the lengths each opcode allows and
//! what it does with a request that fails them ([`Refused`]).

use alloc::vec::Vec;

use kvs_core::mc::Mode;

use super::header::Header;
use crate::parse::{KEY_MAX, StatsGroup};

/// The opcodes memcached 1.6 answers (any other is
/// [`Request::Unknown`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// 0x00.
    Get,
    /// 0x01.
    Set,
    /// 0x02.
    Add,
    /// 0x03.
    Replace,
    /// 0x04.
    Delete,
    /// 0x05.
    Increment,
    /// 0x06.
    Decrement,
    /// 0x07.
    Quit,
    /// 0x08.
    Flush,
    /// 0x09.
    GetQ,
    /// 0x0a.
    Noop,
    /// 0x0b.
    Version,
    /// 0x0c.
    GetK,
    /// 0x0d.
    GetKQ,
    /// 0x0e.
    Append,
    /// 0x0f.
    Prepend,
    /// 0x10.
    Stat,
    /// 0x11.
    SetQ,
    /// 0x12.
    AddQ,
    /// 0x13.
    ReplaceQ,
    /// 0x14.
    DeleteQ,
    /// 0x15.
    IncrementQ,
    /// 0x16.
    DecrementQ,
    /// 0x17.
    QuitQ,
    /// 0x18.
    FlushQ,
    /// 0x19.
    AppendQ,
    /// 0x1a.
    PrependQ,
    /// 0x1c.
    Touch,
    /// 0x1d.
    Gat,
    /// 0x1e.
    GatQ,
    /// 0x20.
    SaslListMechs,
    /// 0x21.
    SaslAuth,
    /// 0x22.
    SaslStep,
    /// 0x23.
    GatK,
    /// 0x24.
    GatKQ,
}

impl Opcode {
    /// The opcode `byte` names, if memcached answers it.
    pub fn from_byte(byte: u8) -> Option<Opcode> {
        use Opcode::*;
        Some(match byte {
            0x00 => Get,
            0x01 => Set,
            0x02 => Add,
            0x03 => Replace,
            0x04 => Delete,
            0x05 => Increment,
            0x06 => Decrement,
            0x07 => Quit,
            0x08 => Flush,
            0x09 => GetQ,
            0x0a => Noop,
            0x0b => Version,
            0x0c => GetK,
            0x0d => GetKQ,
            0x0e => Append,
            0x0f => Prepend,
            0x10 => Stat,
            0x11 => SetQ,
            0x12 => AddQ,
            0x13 => ReplaceQ,
            0x14 => DeleteQ,
            0x15 => IncrementQ,
            0x16 => DecrementQ,
            0x17 => QuitQ,
            0x18 => FlushQ,
            0x19 => AppendQ,
            0x1a => PrependQ,
            0x1c => Touch,
            0x1d => Gat,
            0x1e => GatQ,
            0x20 => SaslListMechs,
            0x21 => SaslAuth,
            0x22 => SaslStep,
            0x23 => GatK,
            0x24 => GatKQ,
            _ => return None,
        })
    }

    /// Whether it is a quiet variant: no reply on success (a get: on a
    /// miss); errors are still sent.
    pub fn quiet(self) -> bool {
        use Opcode::*;
        matches!(
            self,
            GetQ | GetKQ
                | SetQ
                | AddQ
                | ReplaceQ
                | DeleteQ
                | IncrementQ
                | DecrementQ
                | QuitQ
                | FlushQ
                | AppendQ
                | PrependQ
                | GatQ
                | GatKQ
        )
    }
}

/// How a retrieval answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retrieve {
    /// GETK, GETKQ, GATK, GATKQ: the key comes back (on a miss too).
    pub with_key: bool,
    /// GETQ, GETKQ, GATQ, GATKQ: a miss sends nothing.
    pub quiet: bool,
    /// GAT and kin: the new expiry.
    pub touch: Option<u32>,
}

/// What a storage request does to the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// SET.
    Set,
    /// ADD.
    Add,
    /// REPLACE.
    Replace,
    /// APPEND.
    Append,
    /// PREPEND.
    Prepend,
}

/// One decoded request (its value, if it has one, still to come).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// GET, GETQ, GETK, GETKQ, GAT, GATQ, GATK, GATKQ.
    Get {
        /// The key.
        key: Vec<u8>,
        /// How it answers.
        how: Retrieve,
    },
    /// TOUCH: the new expiry; the reply carries the item's flags.
    Touch {
        /// The key.
        key: Vec<u8>,
        /// The expiry.
        exptime: u32,
    },
    /// SET, ADD, REPLACE, APPEND, PREPEND and their quiet forms: a value
    /// of `len` bytes follows.
    Store {
        /// What it does.
        kind: StoreKind,
        /// The key.
        key: Vec<u8>,
        /// Client flags (0 for append and prepend, which keep the item's).
        flags: u32,
        /// Expiry (0 for append and prepend).
        exptime: u32,
        /// The value's length.
        len: usize,
        /// No reply on success.
        quiet: bool,
    },
    /// DELETE, DELETEQ.
    Delete {
        /// The key.
        key: Vec<u8>,
        /// No reply on success.
        quiet: bool,
    },
    /// INCREMENT, DECREMENT and their quiet forms.
    Arith {
        /// The key.
        key: Vec<u8>,
        /// Increment (else decrement).
        incr: bool,
        /// By how much.
        delta: u64,
        /// The value of an item it creates on a miss.
        initial: u64,
        /// The expiry of that item; `None` (0xffffffff on the wire): a
        /// miss is `Not found`, nothing is created.
        create: Option<u32>,
        /// No reply on success.
        quiet: bool,
    },
    /// QUIT, QUITQ: the connection closes (after the reply, if any).
    Quit {
        /// No reply.
        quiet: bool,
    },
    /// FLUSH, FLUSHQ.
    Flush {
        /// When (0: now).
        delay: u32,
        /// No reply.
        quiet: bool,
    },
    /// NOOP.
    Noop,
    /// VERSION.
    Version,
    /// STAT: `None` for a group memcached does not know (`Not found`).
    Stat(Option<StatsGroup>),
    /// An opcode memcached does not answer (or SASL, which is off):
    /// `Unknown command`, then `swallow` bytes are thrown away. memcached
    /// counts them from after the key, so an unknown opcode with a key or
    /// extras eats as many bytes of what follows.
    Unknown {
        /// Bytes to throw away.
        swallow: usize,
    },
}

/// A request memcached answers with an error and then closes the
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The key, or key and extras, are longer than the body: `Unknown
    /// command`.
    BadLengths,
    /// `Invalid arguments`: a key over 250 bytes, or extras, key or body
    /// lengths that the opcode does not take.
    Invalid,
}

fn be_u32(b: &[u8]) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_be_bytes(a)
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// The group a STAT key asks for, read as memcached reads it: `reset`,
/// `settings` and `detail` by prefix, the others whole.
fn stat_group(key: &[u8]) -> Option<StatsGroup> {
    if key.is_empty() {
        return Some(StatsGroup::General);
    }
    if key.starts_with(b"reset") {
        return Some(StatsGroup::Reset);
    }
    if key.starts_with(b"settings") {
        return Some(StatsGroup::Settings);
    }
    if let Some(sub) = key.strip_prefix(b"detail") {
        return if sub.starts_with(b" dump") {
            Some(StatsGroup::DetailDump)
        } else if sub.starts_with(b" on") || sub.starts_with(b" off") {
            Some(StatsGroup::Detail)
        } else {
            None
        };
    }
    match key {
        b"items" => Some(StatsGroup::Items),
        b"slabs" => Some(StatsGroup::Slabs),
        b"sizes" => Some(StatsGroup::Sizes),
        _ => None,
    }
}

/// Decodes the request `header` heads, given its `extras` and `key` (the
/// lengths the header says).
pub fn decode(header: &Header, extras: &[u8], key: &[u8]) -> Result<Request, Refused> {
    let (ext, klen, body) = (
        usize::from(header.extras_len),
        usize::from(header.key_len),
        header.body_len as usize,
    );
    if klen > body || klen + ext > body {
        return Err(Refused::BadLengths);
    }
    // The checks below come in memcached's order: the key's length for
    // every opcode first, known or not.
    if klen > KEY_MAX {
        return Err(Refused::Invalid);
    }
    let Some(op) = Opcode::from_byte(header.opcode) else {
        return Ok(Request::Unknown { swallow: body });
    };
    let quiet = op.quiet();
    let key_v = || key.to_vec();
    let ok = |valid: bool, req: Request| {
        if valid {
            Ok(req)
        } else {
            Err(Refused::Invalid)
        }
    };
    use Opcode::*;
    match op {
        Version => ok(ext == 0 && klen == 0 && body == 0, Request::Version),
        Noop => ok(ext == 0 && klen == 0 && body == 0, Request::Noop),
        Quit | QuitQ => ok(ext == 0 && klen == 0 && body == 0, Request::Quit { quiet }),
        SaslListMechs => ok(
            ext == 0 && klen == 0 && body == 0,
            Request::Unknown { swallow: 0 },
        ),
        SaslAuth | SaslStep => ok(
            ext == 0 && klen != 0,
            Request::Unknown {
                swallow: body - klen,
            },
        ),
        Flush | FlushQ => {
            if klen != 0 || body != ext || !(ext == 0 || ext == 4) {
                return Err(Refused::Invalid);
            }
            let delay = if ext == 4 { be_u32(extras) } else { 0 };
            Ok(Request::Flush { delay, quiet })
        }
        Set | Add | Replace | SetQ | AddQ | ReplaceQ => {
            if ext != 8 || klen == 0 {
                return Err(Refused::Invalid);
            }
            let kind = match op {
                Set | SetQ => StoreKind::Set,
                Add | AddQ => StoreKind::Add,
                _ => StoreKind::Replace,
            };
            Ok(Request::Store {
                kind,
                key: key_v(),
                flags: be_u32(extras),
                exptime: be_u32(&extras[4..]),
                len: body - klen - ext,
                quiet,
            })
        }
        Append | Prepend | AppendQ | PrependQ => {
            if ext != 0 || klen == 0 {
                return Err(Refused::Invalid);
            }
            Ok(Request::Store {
                kind: if matches!(op, Append | AppendQ) {
                    StoreKind::Append
                } else {
                    StoreKind::Prepend
                },
                key: key_v(),
                flags: 0,
                exptime: 0,
                len: body - klen,
                quiet,
            })
        }
        Get | GetQ | GetK | GetKQ => ok(
            ext == 0 && body == klen && klen > 0,
            Request::Get {
                key: key_v(),
                how: Retrieve {
                    with_key: matches!(op, GetK | GetKQ),
                    quiet,
                    touch: None,
                },
            },
        ),
        // The body may be longer than extras and key: memcached reads
        // the rest as the next request.
        Touch | Gat | GatQ | GatK | GatKQ => {
            if ext != 4 || klen == 0 {
                return Err(Refused::Invalid);
            }
            let exptime = be_u32(extras);
            Ok(match op {
                Touch => Request::Touch {
                    key: key_v(),
                    exptime,
                },
                _ => Request::Get {
                    key: key_v(),
                    how: Retrieve {
                        with_key: matches!(op, GatK | GatKQ),
                        quiet,
                        touch: Some(exptime),
                    },
                },
            })
        }
        Delete | DeleteQ => ok(
            klen > 0 && ext == 0 && body == klen,
            Request::Delete {
                key: key_v(),
                quiet,
            },
        ),
        Increment | Decrement | IncrementQ | DecrementQ => {
            if klen == 0 || ext != 20 || body != klen + ext {
                return Err(Refused::Invalid);
            }
            let expiration = be_u32(&extras[16..]);
            Ok(Request::Arith {
                key: key_v(),
                incr: matches!(op, Increment | IncrementQ),
                delta: be_u64(extras),
                initial: be_u64(&extras[8..]),
                create: (expiration != u32::MAX).then_some(expiration),
                quiet,
            })
        }
        // As for TOUCH, a body longer than the key is read as the next
        // request.
        Stat => ok(ext == 0, Request::Stat(stat_group(key))),
    }
}

impl StoreKind {
    /// The storage mode for a request with CAS unique `cas` (SET, ADD and
    /// REPLACE with one are all a CAS store, as in memcached).
    pub fn mode(self, cas: u64) -> Mode {
        match self {
            StoreKind::Append => Mode::Append,
            StoreKind::Prepend => Mode::Prepend,
            _ if cas != 0 => Mode::Cas,
            StoreKind::Set => Mode::Set,
            StoreKind::Add => Mode::Add,
            StoreKind::Replace => Mode::Replace,
        }
    }
}
