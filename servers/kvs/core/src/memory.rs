//! Memory: Redis's `maxmemory` with its eviction policies, the access
//! tracking they rank keys by (an LRU clock or an LFU counter per key),
//! and the check that keeps a command from growing the data past what
//! the heap holds.
//!
//! The store does not measure memory itself: whoever runs it lends it a
//! [`Gauge`] ([`Store::set_memory`](crate::Store::set_memory)) — the kvs
//! component its heap's allocated bytes, a test a counting allocator.
//! Without one, `maxmemory` is remembered but not enforced.
//!
//! # Eviction
//!
//! Before every command, while the gauge reads more than `maxmemory`,
//! the store deletes a key the policy picks (the deletion is logged and
//! seen by WATCH like any other). If the policy is `noeviction`, or no key
//! is left that it may pick, the store is *out of memory*: commands that
//! may grow the data (Redis's `denyoom` ones) and every command queued in
//! MULTI are refused with `-OOM`; reads and deletions still run.
//!
//! The LRU and LFU policies sample as Redis does: `maxmemory-samples`
//! random keys per database go into a pool of the 16 best candidates
//! kept from one eviction to the next, and the best one still present is
//! deleted. `volatile-ttl` needs no sampling: the keys with an expiry
//! are kept sorted by it, so the one that expires soonest goes first
//! (Redis approximates that too). The random policies pick uniformly
//! (`volatile-random` among the keys with an expiry, weighted by gaps in
//! their expiry times).

use alloc::vec::Vec;
use core::cell::Cell;

use crate::db::{Db, Entry};
use crate::hash::Rng;
use crate::reply::Reply;

/// Redis's reply to a command refused for memory.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

/// The reply to a read whose reply would be larger than the store may
/// send ([`Store::set_reply_limit`](crate::Store::set_reply_limit)) or
/// build in the memory it has; the command did nothing.
pub const REPLY_TOO_LARGE: &str =
    "ERR the reply would be too large for the key-value store to send; nothing was done";

/// What an element of a reply costs besides its bytes: its framing and
/// the reply tree's node.
const ELEMENT_COST: usize = 48;

/// Reads the memory in use, in bytes (for the kvs component: its heap's
/// allocated bytes).
pub type Gauge = fn() -> u64;

/// `maxmemory-policy`: what goes when memory runs short.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Policy {
    /// Nothing: write commands are refused with `-OOM`.
    NoEviction,
    /// The least recently used key.
    AllKeysLru,
    /// The least frequently used key.
    AllKeysLfu,
    /// Any key.
    AllKeysRandom,
    /// The least recently used key with an expiry.
    VolatileLru,
    /// The least frequently used key with an expiry.
    VolatileLfu,
    /// Any key with an expiry.
    VolatileRandom,
    /// The key with the nearest expiry.
    VolatileTtl,
}

impl Policy {
    /// Every policy, in the order Redis lists them.
    pub const ALL: [Policy; 8] = [
        Policy::VolatileLru,
        Policy::VolatileLfu,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
        Policy::AllKeysLru,
        Policy::AllKeysLfu,
        Policy::AllKeysRandom,
        Policy::NoEviction,
    ];

    /// Its name in `CONFIG` and `INFO`.
    pub fn name(self) -> &'static str {
        match self {
            Policy::NoEviction => "noeviction",
            Policy::AllKeysLru => "allkeys-lru",
            Policy::AllKeysLfu => "allkeys-lfu",
            Policy::AllKeysRandom => "allkeys-random",
            Policy::VolatileLru => "volatile-lru",
            Policy::VolatileLfu => "volatile-lfu",
            Policy::VolatileRandom => "volatile-random",
            Policy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The policy called `name` (any case).
    ///
    /// ```
    /// use kvs_core::memory::Policy;
    /// assert_eq!(Policy::parse(b"AllKeys-LRU"), Some(Policy::AllKeysLru));
    /// assert_eq!(Policy::parse(b"lru"), None);
    /// ```
    pub fn parse(name: &[u8]) -> Option<Policy> {
        Policy::ALL
            .into_iter()
            .find(|p| name.eq_ignore_ascii_case(p.name().as_bytes()))
    }

    /// Whether keys are ranked by access frequency (else by recency).
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Whether keys are ranked by their accesses (LRU or LFU), which
    /// makes Redis give every integer string an object of its own
    /// (`OBJECT REFCOUNT`).
    pub(crate) fn evicts_by_access(self) -> bool {
        matches!(
            self,
            Policy::AllKeysLru | Policy::AllKeysLfu | Policy::VolatileLru | Policy::VolatileLfu
        )
    }

    /// Whether only keys with an expiry may go.
    fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }
}

/// The memory parameters, as `CONFIG SET` left them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `maxmemory`: bytes the data may use before eviction (0: no limit).
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`: keys sampled per database per eviction.
    pub samples: u32,
    /// `lfu-log-factor`: how slowly the LFU counter grows.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes for the LFU counter to drop by one.
    pub lfu_decay_time: u32,
}

impl Default for Limits {
    /// Redis's defaults.
    fn default() -> Self {
        Limits {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

impl Limits {
    /// How keys' accesses are recorded under these limits.
    pub(crate) fn tracking(&self) -> Tracking {
        if self.policy.is_lfu() {
            Tracking::Lfu {
                log_factor: self.lfu_log_factor,
                decay_minutes: self.lfu_decay_time,
            }
        } else {
            Tracking::Lru
        }
    }
}

/// What a key's access word holds: the time of its last access in 1/64 s
/// (LRU),
/// or the minute of its last access and a logarithmic access counter
/// (LFU). Only the one the policy uses is kept, as in Redis, so after a
/// switch between the two families the words take time to mean
/// something again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tracking {
    Lru,
    Lfu { log_factor: u32, decay_minutes: u32 },
}

/// The counter a new key starts with under LFU, so that it is not the
/// first to go before it had a chance to be used.
const LFU_INIT: u8 = 5;

/// Ticks of the LRU clock per second: finer than Redis's second, so that
/// keys used a moment apart are told apart (a 32-bit clock of 1/64 s wraps
/// after two years).
const LRU_HZ: u64 = 64;

fn lru_clock(now: i64) -> u32 {
    (now.max(0) as u64 * LRU_HZ / 1000) as u32
}

/// Minutes, in the 16 bits the LFU word keeps.
fn minutes(now: i64) -> u16 {
    (now.max(0) / 60_000) as u16
}

impl Tracking {
    /// The access word of a key made at `now`.
    pub(crate) fn fresh(self, now: i64) -> u32 {
        match self {
            Tracking::Lru => lru_clock(now),
            Tracking::Lfu { .. } => lfu_word(minutes(now), LFU_INIT),
        }
    }

    /// The access word of a key RESTORE made at `now` with `IDLETIME
    /// idle` (seconds; counts under LRU) or `FREQ freq` (under LFU); a
    /// fresh word without the one that counts.
    pub(crate) fn restored(self, now: i64, idle: Option<u64>, freq: Option<u8>) -> u32 {
        match (self, idle, freq) {
            (Tracking::Lru, Some(idle), _) => {
                let ticks = u32::try_from(idle.saturating_mul(LRU_HZ)).unwrap_or(u32::MAX);
                lru_clock(now).wrapping_sub(ticks)
            }
            (Tracking::Lfu { .. }, _, Some(freq)) => lfu_word(minutes(now), freq),
            _ => self.fresh(now),
        }
    }

    /// The access word of a key with word `word`, accessed at `now`.
    pub(crate) fn accessed(self, word: u32, now: i64, rng: &mut Rng) -> u32 {
        match self {
            Tracking::Lru => lru_clock(now),
            Tracking::Lfu { log_factor, .. } => {
                let counter = log_increment(self.frequency(word, now), log_factor, rng);
                lfu_word(minutes(now), counter)
            }
        }
    }

    /// An LFU word's counter, less one for every `lfu-decay-time` minutes
    /// since the access it records.
    pub(crate) fn frequency(self, word: u32, now: i64) -> u8 {
        let Tracking::Lfu { decay_minutes, .. } = self else {
            return 0;
        };
        let counter = (word & 0xff) as u8;
        if decay_minutes == 0 {
            return counter;
        }
        let elapsed = minutes(now).wrapping_sub((word >> 8) as u16);
        let periods = u32::from(elapsed) / decay_minutes;
        counter.saturating_sub(u8::try_from(periods).unwrap_or(u8::MAX))
    }

    /// Seconds since the access an LRU word records.
    pub(crate) fn idle_seconds(word: u32, now: i64) -> u32 {
        Self::idle_ticks(word, now) / LRU_HZ as u32
    }

    /// Ticks of the LRU clock since the access an LRU word records.
    fn idle_ticks(word: u32, now: i64) -> u32 {
        lru_clock(now).wrapping_sub(word)
    }

    /// How good a victim the key is: the larger the better.
    fn score(self, word: u32, now: i64) -> u64 {
        match self {
            Tracking::Lru => u64::from(Self::idle_ticks(word, now)),
            Tracking::Lfu { .. } => u64::from(255 - self.frequency(word, now)),
        }
    }
}

fn lfu_word(minutes: u16, counter: u8) -> u32 {
    (u32::from(minutes) << 8) | u32::from(counter)
}

/// Adds one to `counter` with probability 1 / ((counter − 5) × factor + 1)
/// (certainly below the initial value), saturating at 255: a counter of
/// 255 takes about a million accesses at the default factor of 10.
fn log_increment(counter: u8, factor: u32, rng: &mut Rng) -> u8 {
    if counter == u8::MAX {
        return counter;
    }
    let base = u64::from(counter.saturating_sub(LFU_INIT));
    let odds = base * u64::from(factor) + 1;
    if rng.next_u64().is_multiple_of(odds) {
        counter + 1
    } else {
        counter
    }
}

/// How big the candidate pool is.
const POOL: usize = 16;

/// A key that may go, and how good a victim it is.
#[derive(Debug)]
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

/// The store's memory state: limits, the gauge, the eviction pool and
/// the counters `INFO` shows.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    pub(crate) limits: Limits,
    pub(crate) room: Room,
    /// Candidates, best last.
    pool: Vec<Candidate>,
    /// The database the random policies start from next.
    next_db: usize,
    /// `evicted_keys`.
    pub(crate) evicted: u64,
}

/// What a command may allocate: the gauge and the ceiling the data must
/// stay below (the heap less what the server needs to keep running).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Room {
    pub(crate) gauge: Option<Gauge>,
    pub(crate) ceiling: u64,
    /// Bytes in use that neither `maxmemory` nor the ceiling count (the
    /// runner's buffers: it keeps room for them above the ceiling).
    pub(crate) uncounted: u64,
}

impl Room {
    /// The memory in use, if the store was lent a gauge.
    pub(crate) fn used(&self) -> Option<u64> {
        self.gauge.map(|g| g())
    }

    /// Whether `bytes` more fit below the ceiling (the memory the runner
    /// keeps room for above it left out).
    pub(crate) fn fits(&self, bytes: usize) -> bool {
        self.used().is_none_or(|used| {
            used.saturating_sub(self.uncounted)
                .saturating_add(bytes as u64)
                <= self.ceiling
        })
    }

    /// Makes room in `v` for `additional` more bytes, growing as Redis's
    /// strings do (doubling below 1 MiB, then by 1 MiB), or refuses with
    /// `-OOM` when that would pass the ceiling or the allocator fails.
    pub(crate) fn reserve(&self, v: &mut Vec<u8>, additional: usize) -> Result<(), Reply> {
        let oom = || Reply::error(OOM);
        let needed = v.len().checked_add(additional).ok_or_else(oom)?;
        if needed <= v.capacity() {
            return Ok(());
        }
        const STEP: usize = 1 << 20;
        let wanted = if needed < STEP {
            needed * 2
        } else {
            needed.saturating_add(STEP)
        };
        // Growing may copy: the old block is freed only once the new one
        // holds the bytes, so the whole new block must fit.
        if self.fits(wanted) && v.try_reserve_exact(wanted - v.len()).is_ok() {
            return Ok(());
        }
        // Without the slack, if that fits.
        if self.fits(needed) && v.try_reserve_exact(additional).is_ok() {
            return Ok(());
        }
        Err(oom())
    }

    /// A zeroed byte string of `len` bytes, or `-OOM`.
    pub(crate) fn zeroed(&self, len: usize) -> Result<Vec<u8>, Reply> {
        let mut v = Vec::new();
        self.reserve(&mut v, len)?;
        v.resize(len, 0);
        Ok(v)
    }

    /// A zeroed byte string of `len` bytes with no room to grow (a
    /// result made whole, such as BITOP's), or `-OOM`.
    pub(crate) fn zeroed_exact(&self, len: usize) -> Result<Vec<u8>, Reply> {
        let mut v = Vec::new();
        if !self.fits(len) || v.try_reserve_exact(len).is_err() {
            return Err(Reply::error(OOM));
        }
        v.resize(len, 0);
        Ok(v)
    }
}

/// What the replies of a command (of a whole transaction, for EXEC) may
/// still copy out of the data: the store's reply limit, which its runner
/// keeps room for above the ceiling (see
/// [`Store::set_memory`](crate::Store::set_memory)). A handler takes its
/// share before it copies anything, so a reply that would not fit is
/// refused before any of it is made.
#[derive(Debug)]
pub(crate) struct ReplyBudget {
    left: Cell<usize>,
    pub(crate) limit: usize,
}

impl Default for ReplyBudget {
    fn default() -> Self {
        ReplyBudget {
            left: Cell::new(usize::MAX),
            limit: usize::MAX,
        }
    }
}

impl ReplyBudget {
    /// A fresh budget for the next command.
    pub(crate) fn reset(&mut self) {
        self.left.set(self.limit);
    }

    /// Takes `bytes` of data in `elements` reply elements, or refuses.
    pub(crate) fn take(&self, bytes: usize, elements: usize) -> Result<(), Reply> {
        let cost = bytes.saturating_add(elements.saturating_mul(ELEMENT_COST));
        let left = self.left.get();
        if cost > left {
            return Err(Reply::error(REPLY_TOO_LARGE));
        }
        self.left.set(left - cost);
        Ok(())
    }

    /// Takes the share of a reply of `items`.
    pub(crate) fn take_all<'a>(
        &self,
        items: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(), Reply> {
        let (bytes, count) = items.into_iter().fold((0usize, 0usize), |(b, n), i| {
            (b.saturating_add(i.len()), n + 1)
        });
        self.take(bytes, count)
    }
}

impl Memory {
    /// Deletes keys by the policy until the gauge reads at most
    /// `maxmemory`; whether it does (true when there is no limit or no
    /// gauge).
    pub(crate) fn evict(&mut self, dbs: &mut [Db], rng: &mut Rng, now: i64) -> bool {
        while self.over_maxmemory() {
            if self.limits.policy == Policy::NoEviction {
                return false;
            }
            let Some((db, key)) = self.victim(dbs, rng, now) else {
                return false;
            };
            dbs[db].remove_as(&key, crate::notify::Classes::EVICTED, "evicted");
            self.evicted += 1;
        }
        true
    }

    /// Whether the gauge reads more than `maxmemory` (false with no limit
    /// or no gauge). The runner's buffers are not data: evicting keys
    /// would not shrink them (Redis leaves its log's out the same way).
    pub(crate) fn over_maxmemory(&self) -> bool {
        match (self.room.gauge, self.limits.maxmemory) {
            (Some(gauge), max) if max > 0 => gauge().saturating_sub(self.room.uncounted) > max,
            _ => false,
        }
    }

    /// The next key to delete, if the policy may pick any.
    fn victim(&mut self, dbs: &[Db], rng: &mut Rng, now: i64) -> Option<(usize, Vec<u8>)> {
        let policy = self.limits.policy;
        match policy {
            Policy::NoEviction => None,
            Policy::VolatileTtl => dbs
                .iter()
                .enumerate()
                .filter_map(|(i, db)| db.soonest_expiry().map(|(t, k)| (t, i, k)))
                .min_by_key(|&(t, i, _)| (t, i))
                .map(|(_, i, k)| (i, k.to_vec())),
            Policy::AllKeysRandom | Policy::VolatileRandom => {
                for step in 0..dbs.len() {
                    let i = (self.next_db + step) % dbs.len();
                    let key = if policy.volatile() {
                        dbs[i].random_volatile(rng)
                    } else {
                        dbs[i].random_entry(rng).map(|(k, _)| k)
                    };
                    if let Some(key) = key {
                        self.next_db = (i + 1) % dbs.len();
                        return Some((i, key.to_vec()));
                    }
                }
                None
            }
            _ => self.pooled(dbs, rng, now),
        }
    }

    /// The best candidate of the pool still present, after sampling every
    /// database into it.
    fn pooled(&mut self, dbs: &[Db], rng: &mut Rng, now: i64) -> Option<(usize, Vec<u8>)> {
        let volatile = self.limits.policy.volatile();
        let tracking = self.limits.tracking();
        let samples = self.limits.samples as usize;
        // Two rounds at most: a pool of stale candidates (keys deleted
        // or changed since) is emptied by the first.
        for _ in 0..2 {
            let mut any = false;
            for (i, db) in dbs.iter().enumerate() {
                for _ in 0..samples {
                    let picked = if volatile {
                        db.random_volatile(rng)
                            .and_then(|k| db.raw_entry(k).map(|e| (k, e)))
                    } else {
                        db.random_entry(rng)
                    };
                    let Some((key, entry)) = picked else {
                        break;
                    };
                    any = true;
                    self.offer(tracking.score(entry.access, now), i, key);
                }
            }
            while let Some(c) = self.pool.pop() {
                let still = dbs[c.db]
                    .raw_entry(&c.key)
                    .is_some_and(|e: &Entry| !volatile || e.expire_at.is_some());
                if still {
                    return Some((c.db, c.key));
                }
            }
            if !any {
                return None;
            }
        }
        None
    }

    /// Puts a sampled key into the pool if it is among the best.
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self.pool.iter().any(|c| c.db == db && c.key == key) {
            return;
        }
        let at = self.pool.partition_point(|c| c.score <= score);
        if self.pool.len() == POOL {
            if at == 0 {
                return;
            }
            self.pool.remove(0);
            self.pool.insert(
                at - 1,
                Candidate {
                    score,
                    db,
                    key: key.to_vec(),
                },
            );
        } else {
            self.pool.insert(
                at,
                Candidate {
                    score,
                    db,
                    key: key.to_vec(),
                },
            );
        }
    }

    /// Forgets the candidates (after FLUSHALL, or a policy change).
    pub(crate) fn clear_pool(&mut self) {
        self.pool.clear();
    }
}
