//! memcached's items: the namespace the memcached front end stores in,
//! apart from the Redis databases (no Redis command sees it, and it sees
//! no Redis key), with memcached 1.6's semantics.
//!
//! An item is a key, a value, 32-bit client flags, a 64-bit CAS unique
//! (from one counter for the whole namespace) and an expiry. Each
//! operation of [`Cache`] is one atomic step, what a front end asks the
//! store for in one call; the front end parses and checks the protocol
//! (key length, `item_size_max`, …) and writes the replies.
//!
//! **Time** is the store's: every operation takes the time from its
//! caller (the server's clock), in milliseconds, and memcached's rules
//! work in whole seconds of it. An expiry time of 0 is never, up to 30
//! days (2,592,000 s) is relative, larger is a Unix time, negative is
//! already expired.
//!
//! **Memory**: items count `bytes` as memcached counts them
//! ([`item_size`]) against `limit_maxbytes` (memcached's `-m`, 64 MiB by
//! default, [`Items::set_limit`]), and their allocations against the
//! store's memory budget (its ceiling and `maxmemory`, see
//! [`crate::memory`]). A store that would pass either first evicts the
//! least recently used items of this namespace, whatever Redis's
//! `maxmemory-policy` says, as memcached does; with nothing left to evict
//! it fails with [`StoreOutcome::OutOfMemory`]. Nothing is allocated
//! without `try_reserve`.
//!
//! **Persistence**: none. Items are not in the append-only log, so a
//! restarted store starts with an empty cache, as memcached does.

mod cache;
pub mod cnum;
mod item;
#[cfg(test)]
mod tests;

pub use cache::Cache;
pub use item::{ITEM_SIZE_MAX, item_size, slab_class};

use alloc::vec::Vec;

use crate::hash::{Map, SeededState};
use item::Item;

/// memcached's default `-m`: 64 MiB for items.
pub const DEFAULT_LIMIT: u64 = 64 << 20;

/// Relative expiry times go up to 30 days; larger ones are Unix times.
pub const REALTIME_MAXDELTA: i64 = 60 * 60 * 24 * 30;

/// The namespace: the items, their LRU order and the counters `stats`
/// shows. The [`Store`](crate::Store) owns one; work on it through
/// [`Store::memcached`](crate::Store::memcached).
#[derive(Debug)]
pub struct Items {
    map: Map<Vec<u8>, Item>,
    /// LRU order: tick → key, oldest first.
    lru: alloc::collections::BTreeMap<u64, Vec<u8>>,
    next_tick: u64,
    /// The last CAS unique given out.
    cas: u64,
    /// `bytes`: the sum of the items' sizes.
    bytes: u64,
    /// `limit_maxbytes`.
    limit: u64,
    /// A `flush_all` invalidates items stored up to this second (Unix
    /// seconds; 0: none yet) once it has come.
    oldest_live: u64,
    /// … and items with a CAS below this one (an immediate flush).
    oldest_cas: u64,
    stats: Counters,
}

/// The counters of `stats` that the items keep (the connection counters
/// are the front end's).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// `cmd_get`: keys looked up by get/gets/mg.
    pub cmd_get: u64,
    /// `cmd_set`: storage requests.
    pub cmd_set: u64,
    /// `cmd_flush`: `flush_all` requests.
    pub cmd_flush: u64,
    /// `cmd_touch`: keys touched (touch, gat/gats, mg with T).
    pub cmd_touch: u64,
    /// `cmd_meta`: `me` requests.
    pub cmd_meta: u64,
    /// `get_hits`.
    pub get_hits: u64,
    /// `get_misses`.
    pub get_misses: u64,
    /// `get_expired`: lookups that found an item past its time.
    pub get_expired: u64,
    /// `get_flushed`: lookups that found an item a flush invalidated.
    pub get_flushed: u64,
    /// `delete_misses`.
    pub delete_misses: u64,
    /// `delete_hits`.
    pub delete_hits: u64,
    /// `incr_misses`.
    pub incr_misses: u64,
    /// `incr_hits`.
    pub incr_hits: u64,
    /// `decr_misses`.
    pub decr_misses: u64,
    /// `decr_hits`.
    pub decr_hits: u64,
    /// `cas_misses`: CAS stores of missing keys.
    pub cas_misses: u64,
    /// `cas_hits`.
    pub cas_hits: u64,
    /// `cas_badval`: CAS stores whose unique did not match.
    pub cas_badval: u64,
    /// `touch_hits`.
    pub touch_hits: u64,
    /// `touch_misses`.
    pub touch_misses: u64,
    /// `store_no_memory`: stores refused for memory.
    pub store_no_memory: u64,
    /// `total_items`: items stored.
    pub total_items: u64,
    /// `evictions`: live items removed to make room.
    pub evictions: u64,
    /// `reclaimed`: expired or flushed items removed to make room.
    pub reclaimed: u64,
}

/// What `stats` reports of the items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// The counters.
    pub counters: Counters,
    /// `curr_items`: items held (expired ones not yet removed included,
    /// as memcached counts them).
    pub curr_items: u64,
    /// `bytes`.
    pub bytes: u64,
    /// `limit_maxbytes`.
    pub limit_maxbytes: u64,
    /// Per slab class with items: (class, items, bytes).
    pub classes: Vec<(u32, u64, u64)>,
}

impl Items {
    /// An empty namespace whose table is keyed by `state`.
    pub(crate) fn new(state: SeededState) -> Items {
        Items {
            map: Map::with_hasher(state),
            lru: alloc::collections::BTreeMap::new(),
            next_tick: 0,
            cas: 0,
            bytes: 0,
            limit: DEFAULT_LIMIT,
            oldest_live: 0,
            oldest_cas: 0,
            stats: Counters::default(),
        }
    }

    /// Sets `limit_maxbytes`: the bytes ([`item_size`]) items may hold
    /// before the least recently used are evicted.
    pub fn set_limit(&mut self, bytes: u64) {
        self.limit = bytes;
    }

    /// How many items the namespace holds.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A client's expiry time as the protocol sends it (seconds: 0 never, up
/// to 30 days relative, else a Unix time, negative already expired).
pub type Exptime = i32;

/// What a storage request does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `set`: store.
    Set,
    /// `add`: store unless the key holds an item.
    Add,
    /// `replace`: store only if it does.
    Replace,
    /// `append`: add to the end of an item's value.
    Append,
    /// `prepend`: add to its start.
    Prepend,
    /// `cas`: store only if the item's CAS unique is the one given.
    Cas,
}

/// A storage request (`set`, `add`, `replace`, `append`, `prepend`,
/// `cas`, `ms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreRequest<'a> {
    /// What it does.
    pub mode: Mode,
    /// The key.
    pub key: &'a [u8],
    /// The value.
    pub value: &'a [u8],
    /// The client flags (append and prepend keep the item's).
    pub flags: u32,
    /// The expiry (append and prepend keep the item's).
    pub exptime: Exptime,
    /// The CAS unique to compare; 0: none (append and prepend compare one
    /// when given; [`Mode::Cas`] with 0 never matches).
    pub cas: u64,
    /// `ms … I` with a CAS: a CAS older than the item's still stores,
    /// marking the item stale and keeping its expiry.
    pub invalidate: bool,
}

/// What a storage request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOutcome {
    /// `STORED`, with the item's new CAS unique.
    Stored(u64),
    /// `NOT_STORED`: add of an existing key, replace/append/prepend of a
    /// missing one.
    NotStored,
    /// `EXISTS`: the CAS unique did not match.
    Exists,
    /// `NOT_FOUND`: a CAS store of a missing key.
    NotFound,
    /// The item would pass `item_size_max` (append and prepend find that
    /// out here; memcached answers `NOT_STORED` then).
    TooLarge,
    /// Nothing left to evict, or the allocation failed.
    OutOfMemory,
}

/// An item as a retrieval returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The value.
    pub data: Vec<u8>,
    /// The client flags.
    pub flags: u32,
    /// The CAS unique.
    pub cas: u64,
}

/// What a meta get (`mg`) does besides looking the key up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaGet {
    /// Return the value (`v`).
    pub value: bool,
    /// Leave the item's LRU place, fetched mark and access time alone
    /// (`u`).
    pub no_bump: bool,
    /// Set the expiry (`T`).
    pub touch: Option<Exptime>,
    /// On a miss, create an empty item with this expiry and tell the
    /// caller it won (`N`).
    pub vivify: Option<Exptime>,
    /// Win if the item expires sooner than this (`R`).
    pub recache: Option<Exptime>,
    /// `R` comes after `T` in the request, so it sees the new expiry.
    pub recache_after_touch: bool,
    /// `N` comes after `T`: on an item it creates, `N`'s expiry is the
    /// one that stays.
    pub vivify_after_touch: bool,
    /// The request fails after the lookup (an opaque token too long, a
    /// memcached error found while it writes the reply): its changes are
    /// made, but no win is recorded.
    pub fails: bool,
}

/// An item as a meta get found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaHit {
    /// The value, when asked for; else empty.
    pub data: Vec<u8>,
    /// The value's length.
    pub size: usize,
    /// The client flags.
    pub flags: u32,
    /// The CAS unique.
    pub cas: u64,
    /// Seconds it had left before the request changed its expiry (-1:
    /// none).
    pub ttl_before: i64,
    /// … as `T` set it (what `t` shows after `T`).
    pub ttl_touched: i64,
    /// … as `N` set it on the item it created.
    pub ttl_vivified: i64,
    /// Seconds since its last access, before this one (`l`).
    pub last_access: u64,
    /// Whether it had been fetched before (`h`).
    pub fetched: bool,
    /// Another client already won the right to recache it (`Z`).
    pub token_sent: bool,
    /// It is stale (`X`).
    pub stale: bool,
    /// This client won the right to recache it (`W`).
    pub won: bool,
    /// The request created it (`N` on a miss).
    pub created: bool,
}

/// What a delete (`delete`, `md`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Delete {
    /// Delete only if the CAS unique matches (`C`); 0: any.
    pub cas: u64,
    /// Mark the item stale and give it a new CAS instead (`I`).
    pub invalidate: bool,
    /// With `invalidate`, also set its expiry (`T`).
    pub touch: Option<Exptime>,
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// `DELETED` / `HD`.
    Deleted,
    /// `NOT_FOUND` / `NF`.
    NotFound,
    /// `EX`: the CAS unique did not match.
    Exists,
}

/// An increment or decrement (`incr`, `decr`, `ma`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arith {
    /// Increment (wrapping at 2^64), else decrement (stopping at 0).
    pub incr: bool,
    /// By how much.
    pub delta: u64,
    /// Only if the CAS unique matches (`C`); 0: any.
    pub cas: u64,
    /// On a miss, create the item with this expiry and initial value
    /// (`N`, `J`).
    pub vivify: Option<(Exptime, u64)>,
    /// On success, set the expiry (`T`; memcached loses it when the
    /// number grows longer than the stored value).
    pub touch: Option<Exptime>,
    /// `N` comes after `T`: on an item it creates, `N`'s expiry stays
    /// (else `T`'s).
    pub vivify_after_touch: bool,
}

/// What an increment or decrement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArithOutcome {
    /// The new value (or the initial one of an item it created).
    Value {
        /// The number.
        value: u64,
        /// The item's CAS unique.
        cas: u64,
        /// Seconds it has left before `T`/`N` (-1: none).
        ttl_before: i64,
        /// … as `T` set it (memcached shows it even where it is lost).
        ttl_touched: i64,
        /// … as `N` set it on the item it created.
        ttl_vivified: i64,
        /// The request created the item (`N` on a miss).
        created: bool,
    },
    /// No such item.
    NotFound,
    /// The CAS unique did not match.
    Exists,
    /// The value is not a decimal 64-bit number.
    NonNumeric,
    /// Out of memory.
    OutOfMemory,
}

/// What `me` shows of an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemInfo {
    /// `exp`: −1 for none, else now minus the expiry time (negative while
    /// it lives, as memcached 1.6 prints it).
    pub exp: i64,
    /// `la`: seconds since the last access.
    pub last_access: u64,
    /// `cas`.
    pub cas: u64,
    /// `fetch`.
    pub fetched: bool,
    /// `cls`: the slab class.
    pub class: u32,
    /// `size`: [`item_size`].
    pub size: usize,
}
