//! The memcached items' interface: what the memcached front end asks the
//! store for, one atomic operation per call ([`Cache`]), over the items'
//! namespace of `kvs-core` ([`kvs_core::mc`]), never the Redis keys.
//!
//! A call travels as a [`Request`] and comes back as a [`Response`], each
//! in a compact binary encoding decoded once ([`Request::encode`],
//! [`Request::decode`], …): a tag byte, then little-endian numbers and
//! length-prefixed byte strings. The server runs a decoded request with
//! [`serve`]. [`Local`] is the in-process implementation of [`Cache`]
//! (a [`kvs_core::Store`] and a clock); it sends every call through the
//! encoding, so host tests exercise the wire format too.

use alloc::vec::Vec;

pub use kvs_core::mc::{
    Arith, ArithOutcome, Counters, Delete, DeleteOutcome, Exptime, ItemInfo, MetaGet, MetaHit,
    Mode, Stats, StoreOutcome, StoreRequest, Value,
};

/// The operations on the items, one method per request; each is atomic.
pub trait Cache {
    /// Why a call failed (the store is unreachable, …).
    type Error: core::fmt::Debug;

    /// get/gets, or gat/gats with `touch`: each key's item if live;
    /// `None` when the values do not fit in memory.
    fn get(
        &mut self,
        keys: &[&[u8]],
        touch: Option<Exptime>,
    ) -> Result<Option<Vec<Option<Value>>>, Self::Error>;
    /// mg: the item (or the one `N` created), `None` on a miss.
    fn meta_get(&mut self, key: &[u8], req: &MetaGet) -> Result<Option<MetaHit>, Self::Error>;
    /// set/add/replace/append/prepend/cas and ms.
    fn store(&mut self, req: &StoreRequest<'_>) -> Result<StoreOutcome, Self::Error>;
    /// Drops `key`'s item without counting it (after a refused set).
    fn discard(&mut self, key: &[u8]) -> Result<(), Self::Error>;
    /// delete and md.
    fn delete(&mut self, key: &[u8], req: &Delete) -> Result<DeleteOutcome, Self::Error>;
    /// touch: whether the item was there.
    fn touch(&mut self, key: &[u8], exptime: Exptime) -> Result<bool, Self::Error>;
    /// incr/decr and ma.
    fn arith(&mut self, key: &[u8], req: &Arith) -> Result<ArithOutcome, Self::Error>;
    /// flush_all with a delay in seconds.
    fn flush_all(&mut self, delay: Exptime) -> Result<(), Self::Error>;
    /// me: what the item shows of itself.
    fn debug(&mut self, key: &[u8]) -> Result<Option<ItemInfo>, Self::Error>;
    /// The items' part of `stats`.
    fn stats(&mut self) -> Result<Stats, Self::Error>;
    /// `stats reset`.
    fn reset_stats(&mut self) -> Result<(), Self::Error>;
}

/// One call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// [`Cache::get`].
    Get {
        /// The keys.
        keys: Vec<&'a [u8]>,
        /// gat's expiry.
        touch: Option<Exptime>,
    },
    /// [`Cache::meta_get`].
    MetaGet(&'a [u8], MetaGet),
    /// [`Cache::store`].
    Store(StoreRequest<'a>),
    /// [`Cache::discard`].
    Discard(&'a [u8]),
    /// [`Cache::delete`].
    Delete(&'a [u8], Delete),
    /// [`Cache::touch`].
    Touch(&'a [u8], Exptime),
    /// [`Cache::arith`].
    Arith(&'a [u8], Arith),
    /// [`Cache::flush_all`].
    FlushAll(Exptime),
    /// [`Cache::debug`].
    Debug(&'a [u8]),
    /// [`Cache::stats`].
    Stats,
    /// [`Cache::reset_stats`].
    ResetStats,
}

/// One call's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// To [`Request::Get`].
    Values(Option<Vec<Option<Value>>>),
    /// To [`Request::MetaGet`].
    Meta(Option<MetaHit>),
    /// To [`Request::Store`].
    Stored(StoreOutcome),
    /// To [`Request::Delete`].
    Deleted(DeleteOutcome),
    /// To [`Request::Touch`].
    Touched(bool),
    /// To [`Request::Arith`].
    Arith(ArithOutcome),
    /// To [`Request::Debug`].
    Debug(Option<ItemInfo>),
    /// To [`Request::Stats`].
    Stats(Stats),
    /// To [`Request::Discard`], [`Request::FlushAll`] and
    /// [`Request::ResetStats`].
    Done,
}

/// Why bytes are not a request or a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// They end early.
    Truncated,
    /// A tag that means nothing.
    BadTag,
    /// Bytes left over after the whole.
    Trailing,
}

/// Runs `req` on the items: what the store's server does with a decoded
/// request.
pub fn serve(cache: &mut kvs_core::mc::Cache<'_>, req: &Request<'_>) -> Response {
    match req {
        Request::Get { keys, touch } => Response::Values(cache.get(keys, *touch)),
        Request::MetaGet(key, m) => Response::Meta(cache.meta_get(key, m)),
        Request::Store(s) => Response::Stored(cache.store(s)),
        Request::Discard(key) => {
            cache.discard(key);
            Response::Done
        }
        Request::Delete(key, d) => Response::Deleted(cache.delete(key, d)),
        Request::Touch(key, e) => Response::Touched(cache.touch(key, *e)),
        Request::Arith(key, a) => Response::Arith(cache.arith(key, a)),
        Request::FlushAll(d) => {
            cache.flush_all(*d);
            Response::Done
        }
        Request::Debug(key) => Response::Debug(cache.debug(key)),
        Request::Stats => Response::Stats(cache.stats()),
        Request::ResetStats => {
            cache.reset_stats();
            Response::Done
        }
    }
}

/// Appends the encoding's pieces.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn bytes(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.0.extend_from_slice(v);
    }
    fn opt_i32(&mut self, v: Option<i32>) {
        match v {
            None => self.u8(0),
            Some(x) => {
                self.u8(1);
                self.i32(x);
            }
        }
    }
}

/// Reads the encoding's pieces.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.0.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let mut b = [0; 4];
        b.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }
    fn i32(&mut self) -> Result<i32, DecodeError> {
        Ok(self.u32()? as i32)
    }
    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(self.u64()? as i64)
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::BadTag),
        }
    }
    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
    fn opt_i32(&mut self) -> Result<Option<i32>, DecodeError> {
        Ok(if self.bool()? {
            Some(self.i32()?)
        } else {
            None
        })
    }
    /// A count of elements that each take at least `min` bytes, checked
    /// against what is left, so a forged count cannot make a decoder
    /// allocate much.
    fn count(&mut self, min: usize) -> Result<usize, DecodeError> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min) > self.0.len() {
            return Err(DecodeError::Truncated);
        }
        Ok(n)
    }
    fn end(self) -> Result<(), DecodeError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::Trailing)
        }
    }
}

const MODES: [Mode; 6] = [
    Mode::Set,
    Mode::Add,
    Mode::Replace,
    Mode::Append,
    Mode::Prepend,
    Mode::Cas,
];

impl<'a> Request<'a> {
    /// Appends its encoding to `out`.
    ///
    /// ```
    /// use kvs_api::mc::Request;
    /// let mut wire = Vec::new();
    /// Request::Touch(b"k", 10).encode(&mut wire);
    /// assert_eq!(Request::decode(&wire), Ok(Request::Touch(b"k", 10)));
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        match self {
            Request::Get { keys, touch } => {
                w.u8(1);
                w.opt_i32(*touch);
                w.u32(keys.len() as u32);
                for k in keys {
                    w.bytes(k);
                }
            }
            Request::MetaGet(key, m) => {
                w.u8(2);
                w.bytes(key);
                w.bool(m.value);
                w.bool(m.no_bump);
                w.opt_i32(m.touch);
                w.opt_i32(m.vivify);
                w.opt_i32(m.recache);
                w.bool(m.recache_after_touch);
                w.bool(m.vivify_after_touch);
                w.bool(m.fails);
            }
            Request::Store(s) => {
                w.u8(3);
                w.u8(MODES.iter().position(|m| *m == s.mode).unwrap_or(0) as u8);
                w.bytes(s.key);
                w.bytes(s.value);
                w.u32(s.flags);
                w.i32(s.exptime);
                w.u64(s.cas);
                w.bool(s.invalidate);
            }
            Request::Discard(key) => {
                w.u8(4);
                w.bytes(key);
            }
            Request::Delete(key, d) => {
                w.u8(5);
                w.bytes(key);
                w.u64(d.cas);
                w.bool(d.invalidate);
                w.opt_i32(d.touch);
            }
            Request::Touch(key, e) => {
                w.u8(6);
                w.bytes(key);
                w.i32(*e);
            }
            Request::Arith(key, a) => {
                w.u8(7);
                w.bytes(key);
                w.bool(a.incr);
                w.u64(a.delta);
                w.u64(a.cas);
                match a.vivify {
                    None => w.u8(0),
                    Some((ttl, initial)) => {
                        w.u8(1);
                        w.i32(ttl);
                        w.u64(initial);
                    }
                }
                w.opt_i32(a.touch);
                w.bool(a.vivify_after_touch);
            }
            Request::FlushAll(d) => {
                w.u8(8);
                w.i32(*d);
            }
            Request::Debug(key) => {
                w.u8(9);
                w.bytes(key);
            }
            Request::Stats => w.u8(10),
            Request::ResetStats => w.u8(11),
        }
    }

    /// The request `bytes` encode, all of them.
    pub fn decode(bytes: &'a [u8]) -> Result<Request<'a>, DecodeError> {
        let mut r = Reader(bytes);
        let req = match r.u8()? {
            1 => {
                let touch = r.opt_i32()?;
                let n = r.count(4)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    keys.push(r.bytes()?);
                }
                Request::Get { keys, touch }
            }
            2 => Request::MetaGet(
                r.bytes()?,
                MetaGet {
                    value: r.bool()?,
                    no_bump: r.bool()?,
                    touch: r.opt_i32()?,
                    vivify: r.opt_i32()?,
                    recache: r.opt_i32()?,
                    recache_after_touch: r.bool()?,
                    vivify_after_touch: r.bool()?,
                    fails: r.bool()?,
                },
            ),
            3 => {
                let mode = *MODES.get(usize::from(r.u8()?)).ok_or(DecodeError::BadTag)?;
                Request::Store(StoreRequest {
                    mode,
                    key: r.bytes()?,
                    value: r.bytes()?,
                    flags: r.u32()?,
                    exptime: r.i32()?,
                    cas: r.u64()?,
                    invalidate: r.bool()?,
                })
            }
            4 => Request::Discard(r.bytes()?),
            5 => Request::Delete(
                r.bytes()?,
                Delete {
                    cas: r.u64()?,
                    invalidate: r.bool()?,
                    touch: r.opt_i32()?,
                },
            ),
            6 => Request::Touch(r.bytes()?, r.i32()?),
            7 => {
                let key = r.bytes()?;
                let incr = r.bool()?;
                let delta = r.u64()?;
                let cas = r.u64()?;
                let vivify = if r.bool()? {
                    Some((r.i32()?, r.u64()?))
                } else {
                    None
                };
                let touch = r.opt_i32()?;
                let vivify_after_touch = r.bool()?;
                Request::Arith(
                    key,
                    Arith {
                        incr,
                        delta,
                        cas,
                        vivify,
                        touch,
                        vivify_after_touch,
                    },
                )
            }
            8 => Request::FlushAll(r.i32()?),
            9 => Request::Debug(r.bytes()?),
            10 => Request::Stats,
            11 => Request::ResetStats,
            _ => return Err(DecodeError::BadTag),
        };
        r.end()?;
        Ok(req)
    }
}

fn encode_value(w: &mut Writer<'_>, v: &Value) {
    w.bytes(&v.data);
    w.u32(v.flags);
    w.u64(v.cas);
}

fn decode_value(r: &mut Reader<'_>) -> Result<Value, DecodeError> {
    Ok(Value {
        data: r.bytes()?.to_vec(),
        flags: r.u32()?,
        cas: r.u64()?,
    })
}

impl Response {
    /// Appends its encoding to `out`.
    ///
    /// ```
    /// use kvs_api::mc::{Response, StoreOutcome};
    /// let mut wire = Vec::new();
    /// Response::Stored(StoreOutcome::Stored(7)).encode(&mut wire);
    /// assert_eq!(Response::decode(&wire), Ok(Response::Stored(StoreOutcome::Stored(7))));
    /// ```
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        match self {
            Response::Values(None) => w.u8(0),
            Response::Values(Some(values)) => {
                w.u8(1);
                w.u32(values.len() as u32);
                for v in values {
                    match v {
                        None => w.u8(0),
                        Some(v) => {
                            w.u8(1);
                            encode_value(&mut w, v);
                        }
                    }
                }
            }
            Response::Meta(None) => w.u8(2),
            Response::Meta(Some(h)) => {
                w.u8(3);
                w.bytes(&h.data);
                w.u64(h.size as u64);
                w.u32(h.flags);
                w.u64(h.cas);
                w.i64(h.ttl_before);
                w.i64(h.ttl_touched);
                w.i64(h.ttl_vivified);
                w.u64(h.last_access);
                for b in [h.fetched, h.token_sent, h.stale, h.won, h.created] {
                    w.bool(b);
                }
            }
            Response::Stored(s) => {
                w.u8(4);
                match s {
                    StoreOutcome::Stored(cas) => {
                        w.u8(0);
                        w.u64(*cas);
                    }
                    StoreOutcome::NotStored => w.u8(1),
                    StoreOutcome::Exists => w.u8(2),
                    StoreOutcome::NotFound => w.u8(3),
                    StoreOutcome::TooLarge => w.u8(4),
                    StoreOutcome::OutOfMemory => w.u8(5),
                }
            }
            Response::Deleted(d) => {
                w.u8(5);
                w.u8(match d {
                    DeleteOutcome::Deleted => 0,
                    DeleteOutcome::NotFound => 1,
                    DeleteOutcome::Exists => 2,
                });
            }
            Response::Touched(t) => {
                w.u8(6);
                w.bool(*t);
            }
            Response::Arith(a) => {
                w.u8(7);
                match a {
                    ArithOutcome::Value {
                        value,
                        cas,
                        ttl_before,
                        ttl_touched,
                        ttl_vivified,
                        created,
                    } => {
                        w.u8(0);
                        w.u64(*value);
                        w.u64(*cas);
                        w.i64(*ttl_before);
                        w.i64(*ttl_touched);
                        w.i64(*ttl_vivified);
                        w.bool(*created);
                    }
                    ArithOutcome::NotFound => w.u8(1),
                    ArithOutcome::Exists => w.u8(2),
                    ArithOutcome::NonNumeric => w.u8(3),
                    ArithOutcome::OutOfMemory => w.u8(4),
                }
            }
            Response::Debug(None) => w.u8(8),
            Response::Debug(Some(i)) => {
                w.u8(9);
                w.i64(i.exp);
                w.u64(i.last_access);
                w.u64(i.cas);
                w.bool(i.fetched);
                w.u32(i.class);
                w.u64(i.size as u64);
            }
            Response::Stats(s) => {
                w.u8(10);
                for c in counters(&s.counters) {
                    w.u64(c);
                }
                w.u64(s.curr_items);
                w.u64(s.bytes);
                w.u64(s.limit_maxbytes);
                w.u32(s.classes.len() as u32);
                for (class, n, bytes) in &s.classes {
                    w.u32(*class);
                    w.u64(*n);
                    w.u64(*bytes);
                }
            }
            Response::Done => w.u8(11),
        }
    }

    /// The response `bytes` encode, all of them.
    pub fn decode(bytes: &[u8]) -> Result<Response, DecodeError> {
        let mut r = Reader(bytes);
        let resp = match r.u8()? {
            0 => Response::Values(None),
            1 => {
                let n = r.count(1)?;
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    values.push(if r.bool()? {
                        Some(decode_value(&mut r)?)
                    } else {
                        None
                    });
                }
                Response::Values(Some(values))
            }
            2 => Response::Meta(None),
            3 => Response::Meta(Some(MetaHit {
                data: r.bytes()?.to_vec(),
                size: r.u64()? as usize,
                flags: r.u32()?,
                cas: r.u64()?,
                ttl_before: r.i64()?,
                ttl_touched: r.i64()?,
                ttl_vivified: r.i64()?,
                last_access: r.u64()?,
                fetched: r.bool()?,
                token_sent: r.bool()?,
                stale: r.bool()?,
                won: r.bool()?,
                created: r.bool()?,
            })),
            4 => Response::Stored(match r.u8()? {
                0 => StoreOutcome::Stored(r.u64()?),
                1 => StoreOutcome::NotStored,
                2 => StoreOutcome::Exists,
                3 => StoreOutcome::NotFound,
                4 => StoreOutcome::TooLarge,
                5 => StoreOutcome::OutOfMemory,
                _ => return Err(DecodeError::BadTag),
            }),
            5 => Response::Deleted(match r.u8()? {
                0 => DeleteOutcome::Deleted,
                1 => DeleteOutcome::NotFound,
                2 => DeleteOutcome::Exists,
                _ => return Err(DecodeError::BadTag),
            }),
            6 => Response::Touched(r.bool()?),
            7 => Response::Arith(match r.u8()? {
                0 => ArithOutcome::Value {
                    value: r.u64()?,
                    cas: r.u64()?,
                    ttl_before: r.i64()?,
                    ttl_touched: r.i64()?,
                    ttl_vivified: r.i64()?,
                    created: r.bool()?,
                },
                1 => ArithOutcome::NotFound,
                2 => ArithOutcome::Exists,
                3 => ArithOutcome::NonNumeric,
                4 => ArithOutcome::OutOfMemory,
                _ => return Err(DecodeError::BadTag),
            }),
            8 => Response::Debug(None),
            9 => Response::Debug(Some(ItemInfo {
                exp: r.i64()?,
                last_access: r.u64()?,
                cas: r.u64()?,
                fetched: r.bool()?,
                class: r.u32()?,
                size: r.u64()? as usize,
            })),
            10 => {
                let mut c = [0u64; COUNTERS];
                for slot in &mut c {
                    *slot = r.u64()?;
                }
                let curr_items = r.u64()?;
                let bytes = r.u64()?;
                let limit_maxbytes = r.u64()?;
                let n = r.count(20)?;
                let mut classes = Vec::with_capacity(n);
                for _ in 0..n {
                    classes.push((r.u32()?, r.u64()?, r.u64()?));
                }
                Response::Stats(Stats {
                    counters: counters_from(c),
                    curr_items,
                    bytes,
                    limit_maxbytes,
                    classes,
                })
            }
            11 => Response::Done,
            _ => return Err(DecodeError::BadTag),
        };
        r.end()?;
        Ok(resp)
    }
}

/// How many counters [`Counters`] has.
const COUNTERS: usize = 24;

fn counters(c: &Counters) -> [u64; COUNTERS] {
    [
        c.cmd_get,
        c.cmd_set,
        c.cmd_flush,
        c.cmd_touch,
        c.cmd_meta,
        c.get_hits,
        c.get_misses,
        c.get_expired,
        c.get_flushed,
        c.delete_misses,
        c.delete_hits,
        c.incr_misses,
        c.incr_hits,
        c.decr_misses,
        c.decr_hits,
        c.cas_misses,
        c.cas_hits,
        c.cas_badval,
        c.touch_hits,
        c.touch_misses,
        c.store_no_memory,
        c.total_items,
        c.evictions,
        c.reclaimed,
    ]
}

fn counters_from(c: [u64; COUNTERS]) -> Counters {
    Counters {
        cmd_get: c[0],
        cmd_set: c[1],
        cmd_flush: c[2],
        cmd_touch: c[3],
        cmd_meta: c[4],
        get_hits: c[5],
        get_misses: c[6],
        get_expired: c[7],
        get_flushed: c[8],
        delete_misses: c[9],
        delete_hits: c[10],
        incr_misses: c[11],
        incr_hits: c[12],
        decr_misses: c[13],
        decr_hits: c[14],
        cas_misses: c[15],
        cas_hits: c[16],
        cas_badval: c[17],
        touch_hits: c[18],
        touch_misses: c[19],
        store_no_memory: c[20],
        total_items: c[21],
        evictions: c[22],
        reclaimed: c[23],
    }
}

/// How a [`Cache`] call travels: a [`Request`] in, its [`Response`] out
/// (in process through the encoding, [`Local`], or over IPC to the kvs
/// server, [`crate::Connection`]). Every `Call` is a [`Cache`].
pub trait Call {
    /// Why a call did not come back (the store is unreachable, …).
    type Error: core::fmt::Debug;

    /// Sends `req` and returns its response, decoded.
    fn call(&mut self, req: &Request<'_>) -> Result<Response, CallError<Self::Error>>;
}

/// Why a [`Cache`] call over a [`Call`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallError<E> {
    /// The way there failed.
    Transport(E),
    /// The response did not decode.
    Decode(DecodeError),
    /// The response is not the kind the request gets (a bug).
    Mismatch,
}

/// The methods of [`Cache`], each one [`Call`] of its request.
impl<T: Call> Cache for T {
    type Error = CallError<T::Error>;

    fn get(
        &mut self,
        keys: &[&[u8]],
        touch: Option<Exptime>,
    ) -> Result<Option<Vec<Option<Value>>>, Self::Error> {
        match self.call(&Request::Get {
            keys: keys.to_vec(),
            touch,
        })? {
            Response::Values(v) => Ok(v),
            _ => Err(CallError::Mismatch),
        }
    }

    fn meta_get(&mut self, key: &[u8], req: &MetaGet) -> Result<Option<MetaHit>, Self::Error> {
        match self.call(&Request::MetaGet(key, *req))? {
            Response::Meta(m) => Ok(m),
            _ => Err(CallError::Mismatch),
        }
    }

    fn store(&mut self, req: &StoreRequest<'_>) -> Result<StoreOutcome, Self::Error> {
        match self.call(&Request::Store(*req))? {
            Response::Stored(s) => Ok(s),
            _ => Err(CallError::Mismatch),
        }
    }

    fn discard(&mut self, key: &[u8]) -> Result<(), Self::Error> {
        match self.call(&Request::Discard(key))? {
            Response::Done => Ok(()),
            _ => Err(CallError::Mismatch),
        }
    }

    fn delete(&mut self, key: &[u8], req: &Delete) -> Result<DeleteOutcome, Self::Error> {
        match self.call(&Request::Delete(key, *req))? {
            Response::Deleted(d) => Ok(d),
            _ => Err(CallError::Mismatch),
        }
    }

    fn touch(&mut self, key: &[u8], exptime: Exptime) -> Result<bool, Self::Error> {
        match self.call(&Request::Touch(key, exptime))? {
            Response::Touched(t) => Ok(t),
            _ => Err(CallError::Mismatch),
        }
    }

    fn arith(&mut self, key: &[u8], req: &Arith) -> Result<ArithOutcome, Self::Error> {
        match self.call(&Request::Arith(key, *req))? {
            Response::Arith(a) => Ok(a),
            _ => Err(CallError::Mismatch),
        }
    }

    fn flush_all(&mut self, delay: Exptime) -> Result<(), Self::Error> {
        match self.call(&Request::FlushAll(delay))? {
            Response::Done => Ok(()),
            _ => Err(CallError::Mismatch),
        }
    }

    fn debug(&mut self, key: &[u8]) -> Result<Option<ItemInfo>, Self::Error> {
        match self.call(&Request::Debug(key))? {
            Response::Debug(d) => Ok(d),
            _ => Err(CallError::Mismatch),
        }
    }

    fn stats(&mut self) -> Result<Stats, Self::Error> {
        match self.call(&Request::Stats)? {
            Response::Stats(s) => Ok(s),
            _ => Err(CallError::Mismatch),
        }
    }

    fn reset_stats(&mut self) -> Result<(), Self::Error> {
        match self.call(&Request::ResetStats)? {
            Response::Done => Ok(()),
            _ => Err(CallError::Mismatch),
        }
    }
}

/// [`Cache`] in-process: a store and a clock (ms since the Unix epoch).
/// Every call is encoded, decoded, served and its answer encoded and
/// decoded again, as over IPC.
pub struct Local<C: FnMut() -> u64> {
    /// The store.
    pub store: kvs_core::Store,
    /// The clock.
    pub clock: C,
}

impl<C: FnMut() -> u64> Call for Local<C> {
    /// Nothing fails on the way (a request that does not round-trip is
    /// a [`CallError::Decode`]).
    type Error = core::convert::Infallible;

    fn call(&mut self, req: &Request<'_>) -> Result<Response, CallError<Self::Error>> {
        let mut wire = Vec::new();
        req.encode(&mut wire);
        let decoded = Request::decode(&wire).map_err(CallError::Decode)?;
        let now = (self.clock)();
        let resp = serve(&mut self.store.memcached(now), &decoded);
        let mut back = Vec::new();
        resp.encode(&mut back);
        Response::decode(&back).map_err(CallError::Decode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_refuses_garbage() {
        assert_eq!(Request::decode(b""), Err(DecodeError::Truncated));
        assert_eq!(Request::decode(&[99]), Err(DecodeError::BadTag));
        assert_eq!(Request::decode(&[10, 0]), Err(DecodeError::Trailing));
        // A forged key count larger than the bytes left.
        assert_eq!(
            Request::decode(&[1, 0, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(Response::decode(&[4, 9]), Err(DecodeError::BadTag));
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            let _ = Request::decode(&bytes);
            let _ = Response::decode(&bytes);
        }
    }

    #[test]
    fn local_round_trips_every_call() {
        let mut local = Local {
            store: kvs_core::Store::new(),
            clock: || 1_767_225_600_000,
        };
        let set = StoreRequest {
            mode: Mode::Set,
            key: b"k",
            value: b"12",
            flags: 3,
            exptime: 100,
            cas: 0,
            invalidate: false,
        };
        let StoreOutcome::Stored(cas) = local.store(&set).unwrap() else {
            panic!()
        };
        let got = local.get(&[b"k", b"x"], None).unwrap().unwrap();
        assert_eq!(
            got,
            [
                Some(Value {
                    data: b"12".to_vec(),
                    flags: 3,
                    cas
                }),
                None
            ]
        );
        let hit = local
            .meta_get(
                b"k",
                &MetaGet {
                    value: true,
                    touch: Some(5),
                    ..Default::default()
                },
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            (hit.ttl_before, hit.ttl_touched, hit.fetched),
            (100, 5, true)
        );
        let arith = Arith {
            incr: true,
            delta: 1,
            cas: 0,
            vivify: Some((0, 1)),
            touch: None,
            vivify_after_touch: false,
        };
        assert!(matches!(
            local.arith(b"k", &arith).unwrap(),
            ArithOutcome::Value { value: 13, .. }
        ));
        assert!(local.touch(b"k", 0).unwrap());
        assert!(local.debug(b"k").unwrap().is_some());
        assert_eq!(
            local.delete(b"k", &Delete::default()).unwrap(),
            DeleteOutcome::Deleted
        );
        local.discard(b"k").unwrap();
        local.flush_all(0).unwrap();
        let stats = local.stats().unwrap();
        assert_eq!(
            (
                stats.curr_items,
                stats.counters.get_hits,
                stats.counters.touch_hits
            ),
            (0, 1, 2)
        );
        local.reset_stats().unwrap();
        assert_eq!(local.stats().unwrap().counters, Counters::default());
    }
}
