//! The operations on the items, each one atomic: [`Cache`], the view of
//! the namespace a front end's request works through.

use alloc::vec::Vec;

use super::item::{ITEM_SIZE_MAX, Item, item_size, slab_class};
use super::{
    Arith, ArithOutcome, Delete, DeleteOutcome, Exptime, ItemInfo, Items, MetaGet, MetaHit, Mode,
    REALTIME_MAXDELTA, Stats, StoreOutcome, StoreRequest, Value,
};
use crate::memory::Room;

/// The namespace at one moment: the items, the time, and the store's
/// memory budget. Made by [`Store::memcached`](crate::Store::memcached).
pub struct Cache<'a> {
    pub(crate) items: &'a mut Items,
    /// Unix seconds.
    pub(crate) now: u64,
    pub(crate) room: Room,
    /// The store's `maxmemory` (0: none).
    pub(crate) maxmemory: u64,
}

/// How a lookup ended.
enum Found {
    Live,
    Missing,
}

impl Cache<'_> {
    /// The absolute expiry (Unix seconds, 0 never) of a client's exptime,
    /// as memcached's `realtime` makes it: negative is already expired.
    fn deadline(&self, exptime: Exptime) -> u64 {
        let e = if exptime < 0 {
            REALTIME_MAXDELTA + 1
        } else {
            i64::from(exptime)
        };
        if e == 0 {
            0
        } else if e > REALTIME_MAXDELTA {
            // A Unix time in the past expires at once.
            if e as u64 <= self.now { 1 } else { e as u64 }
        } else {
            self.now + e as u64
        }
    }

    /// Seconds an item with expiry `exptime` has left (-1: none).
    fn ttl(&self, exptime: u64) -> i64 {
        if exptime == 0 {
            -1
        } else {
            // memcached prints the difference as an unsigned 32-bit number.
            i64::from(exptime.wrapping_sub(self.now) as u32)
        }
    }

    /// The next CAS unique.
    fn next_cas(&mut self) -> u64 {
        self.items.cas += 1;
        self.items.cas
    }

    fn next_tick(&mut self) -> u64 {
        self.items.next_tick += 1;
        self.items.next_tick
    }

    /// Whether `item` is invalid: past its expiry or flushed.
    fn flushed(&self, item: &Item) -> bool {
        let live = self.items.oldest_live;
        if live == 0 || live > self.now {
            return false;
        }
        item.time <= live
            || (self.items.oldest_cas != 0 && item.cas != 0 && item.cas < self.items.oldest_cas)
    }

    fn expired(&self, item: &Item) -> bool {
        item.exptime != 0 && item.exptime <= self.now
    }

    /// Looks `key` up as memcached's `do_item_get` does: an expired or
    /// flushed item is removed (and counted) and is a miss.
    fn find(&mut self, key: &[u8]) -> Found {
        let Some(item) = self.items.map.get(key) else {
            return Found::Missing;
        };
        if self.flushed(item) {
            self.items.stats.get_flushed += 1;
        } else if self.expired(item) {
            self.items.stats.get_expired += 1;
        } else {
            return Found::Live;
        }
        self.unlink(key);
        Found::Missing
    }

    /// Removes `key`'s item, if any.
    fn unlink(&mut self, key: &[u8]) -> Option<Item> {
        let item = self.items.map.remove(key)?;
        self.items.lru.remove(&item.tick);
        self.items.bytes = self.items.bytes.saturating_sub(item.size(key) as u64);
        Some(item)
    }

    /// Marks `key`'s live item used now: fetched, its access time and
    /// LRU place.
    fn bump(&mut self, key: &[u8]) {
        let tick = self.next_tick();
        let now = self.now;
        if let Some(item) = self.items.map.get_mut(key) {
            // The LRU entry moves to the new tick, its key with it.
            if let Some(k) = self.items.lru.remove(&item.tick) {
                self.items.lru.insert(tick, k);
            }
            item.tick = tick;
            item.fetched = true;
            item.time = now;
        }
    }

    /// Whether `bytes` more fit: under `limit_maxbytes` by memcached's
    /// count, and in the store's memory by its gauge.
    fn fits(&self, counted: usize, allocated: usize) -> bool {
        let under_limit = self.items.bytes.saturating_add(counted as u64) <= self.limit();
        let under_max = self.maxmemory == 0
            || self.room.used().is_none_or(|used| {
                used.saturating_sub(self.room.uncounted)
                    .saturating_add(allocated as u64)
                    <= self.maxmemory
            });
        under_limit && under_max && self.room.fits(allocated)
    }

    /// What the items may hold by memcached's count: `limit_maxbytes`, and
    /// at most half of the store's `maxmemory` when one is set, so that a
    /// full cache leaves the Redis keys room (under `noeviction` they
    /// would otherwise get `-OOM` once the items took everything).
    fn limit(&self) -> u64 {
        match self.maxmemory {
            0 => self.items.limit,
            max => self.items.limit.min(max / 2),
        }
    }

    /// Evicts least recently used items until an item of `counted` bytes
    /// (allocating `allocated`) fits; whether it does. `keep` is not
    /// evicted (the item being replaced).
    fn make_room(&mut self, counted: usize, allocated: usize, keep: &[u8]) -> bool {
        while !self.fits(counted, allocated) {
            let victim = self
                .items
                .lru
                .iter()
                .find(|(_, k)| k.as_slice() != keep)
                .map(|(_, k)| k.clone());
            let Some(key) = victim else {
                return false;
            };
            let Some(item) = self.unlink(&key) else {
                return false;
            };
            if self.expired(&item) || self.flushed(&item) {
                self.items.stats.reclaimed += 1;
            } else {
                self.items.stats.evictions += 1;
            }
        }
        true
    }

    /// Copies `bytes` without risking an allocation panic.
    fn copy(bytes: &[u8]) -> Option<Vec<u8>> {
        let mut v = Vec::new();
        v.try_reserve_exact(bytes.len()).ok()?;
        v.extend_from_slice(bytes);
        Some(v)
    }

    /// Links a new item under `key` (replacing any), with a new CAS
    /// unique; the CAS, or `None` when memory is short.
    fn link(&mut self, key: &[u8], mut item: Item) -> Option<u64> {
        let size = item_size(key.len(), item.flags, item.value.len());
        let old = self.items.map.get(key).map_or(0, |i| i.size(key) as u64);
        // The old item's bytes come back when the new one replaces it.
        self.items.bytes = self.items.bytes.saturating_sub(old);
        let room = self.make_room(size, size + key.len(), key);
        self.items.bytes += old;
        if !room {
            return None;
        }
        let owned_key = Self::copy(key)?;
        let lru_key = Self::copy(key)?;
        if self.items.map.try_reserve(1).is_err() {
            return None;
        }
        self.unlink(key);
        item.cas = self.next_cas();
        item.time = self.now;
        item.tick = self.next_tick();
        let cas = item.cas;
        self.items.lru.insert(item.tick, lru_key);
        self.items.bytes += size as u64;
        self.items.map.insert(owned_key, item);
        self.items.stats.total_items += 1;
        Some(cas)
    }

    /// get/gets (`touch` None) and gat/gats: each key's item, if live;
    /// `None` for the whole request when the values do not fit in memory
    /// (memcached's `SERVER_ERROR out of memory writing get response`).
    pub fn get(&mut self, keys: &[&[u8]], touch: Option<Exptime>) -> Option<Vec<Option<Value>>> {
        let mut out = Vec::new();
        out.try_reserve_exact(keys.len()).ok()?;
        let deadline = touch.map(|t| self.deadline(t));
        for &key in keys {
            let hit = matches!(self.find(key), Found::Live);
            let stats = &mut self.items.stats;
            match (touch, hit) {
                (Some(_), true) => {
                    stats.cmd_touch += 1;
                    stats.touch_hits += 1;
                }
                (Some(_), false) => {
                    stats.cmd_touch += 1;
                    stats.touch_misses += 1;
                }
                (None, true) => {
                    stats.cmd_get += 1;
                    stats.get_hits += 1;
                }
                (None, false) => {
                    stats.cmd_get += 1;
                    stats.get_misses += 1;
                }
            }
            if !hit {
                out.push(None);
                continue;
            }
            self.bump(key);
            let item = self.items.map.get_mut(key)?;
            if let Some(d) = deadline {
                item.exptime = d;
            }
            out.push(Some(Value {
                data: Self::copy(&item.value)?,
                flags: item.flags,
                cas: item.cas,
            }));
        }
        Some(out)
    }

    /// mg: the item, if live (or created by `N`), with what the flags ask
    /// for; `None` on a miss.
    pub fn meta_get(&mut self, key: &[u8], req: &MetaGet) -> Option<MetaHit> {
        let mut created = false;
        if matches!(self.find(key), Found::Missing)
            && let Some(viv) = req.vivify
        {
            let item = Item::new(Vec::new(), 0, 0);
            if self.link(key, item).is_some() {
                created = true;
                let deadline = self.deadline(viv);
                if let Some(item) = self.items.map.get_mut(key) {
                    // The new item's expiry is set as the flags are
                    // read; `ttl_before` shows it as none.
                    item.exptime = deadline;
                }
            }
        }
        let touched = req.touch.is_some();
        let deadline = req.touch.map(|t| self.deadline(t));
        let recache = req.recache.map(|r| self.deadline(r));
        let now = self.now;
        let Some(item) = self.items.map.get_mut(key) else {
            let stats = &mut self.items.stats;
            if touched {
                stats.cmd_touch += 1;
                stats.touch_misses += 1;
            } else {
                stats.cmd_get += 1;
                stats.get_misses += 1;
            }
            return None;
        };
        let exp_before = if created { 0 } else { item.exptime };
        let ttl_of = |e: u64| {
            if e == 0 {
                -1
            } else {
                i64::from(e.wrapping_sub(now) as u32)
            }
        };
        let ttl_before = ttl_of(exp_before);
        let ttl_vivified = if created { ttl_of(item.exptime) } else { -1 };
        let ttl_touched = deadline.map_or(ttl_before, ttl_of);
        let recache_exp = if req.recache_after_touch {
            deadline.unwrap_or(item.exptime)
        } else {
            item.exptime
        };
        if let Some(d) = deadline
            && !(created && req.vivify_after_touch)
        {
            item.exptime = d;
        }
        let mut won = created;
        if let Some(r) = recache
            && !item.token_sent
            && !created
            && recache_exp != 0
            && recache_exp < r
        {
            won = true;
        }
        let token_sent = item.token_sent;
        if item.stale && !token_sent {
            won = true;
        }
        if won && !req.fails {
            item.token_sent = true;
        }
        let hit = MetaHit {
            data: if req.value {
                Self::copy(&item.value)?
            } else {
                Vec::new()
            },
            size: item.value.len(),
            flags: item.flags,
            cas: item.cas,
            ttl_before,
            ttl_touched,
            ttl_vivified,
            last_access: now.saturating_sub(item.time),
            fetched: item.fetched,
            token_sent,
            stale: item.stale,
            won,
            created,
        };
        if !req.no_bump {
            self.bump(key);
        }
        let stats = &mut self.items.stats;
        if touched {
            stats.cmd_touch += 1;
            stats.touch_hits += 1;
        } else {
            stats.cmd_get += 1;
            stats.get_hits += 1;
        }
        Some(hit)
    }

    /// A storage request, as memcached's `do_store_item` decides it.
    pub fn store(&mut self, req: &StoreRequest<'_>) -> StoreOutcome {
        self.items.stats.cmd_set += 1;
        let exists = matches!(self.find(req.key), Found::Live);
        let deadline = self.deadline(req.exptime);
        if !exists {
            return match req.mode {
                Mode::Set | Mode::Add => {
                    let Some(value) = Self::copy(req.value) else {
                        return self.no_memory();
                    };
                    self.finish(req.key, Item::new(value, req.flags, deadline))
                }
                Mode::Cas => {
                    self.items.stats.cas_misses += 1;
                    StoreOutcome::NotFound
                }
                Mode::Replace | Mode::Append | Mode::Prepend => StoreOutcome::NotStored,
            };
        }
        let Some(old) = self.items.map.get(req.key) else {
            return StoreOutcome::NotFound;
        };
        #[derive(PartialEq)]
        enum CasCheck {
            None,
            Match,
            Stale,
            BadVal,
        }
        let check = if req.cas == 0 {
            CasCheck::None
        } else if req.cas == old.cas {
            CasCheck::Match
        } else if req.invalidate && req.cas < old.cas {
            CasCheck::Stale
        } else {
            CasCheck::BadVal
        };
        match req.mode {
            Mode::Add => {
                // An add of an existing key still counts as a use of it.
                let now = self.now;
                if let Some(item) = self.items.map.get_mut(req.key) {
                    item.time = now;
                }
                StoreOutcome::NotStored
            }
            Mode::Cas => match check {
                CasCheck::Match | CasCheck::Stale => {
                    let (exptime, stale, token_sent) = if check == CasCheck::Stale {
                        (old.exptime, true, old.token_sent)
                    } else {
                        (deadline, false, false)
                    };
                    self.items.stats.cas_hits += 1;
                    let Some(value) = Self::copy(req.value) else {
                        return self.no_memory();
                    };
                    let mut item = Item::new(value, req.flags, exptime);
                    item.stale = stale;
                    item.token_sent = token_sent;
                    self.finish(req.key, item)
                }
                CasCheck::None | CasCheck::BadVal => {
                    self.items.stats.cas_badval += 1;
                    StoreOutcome::Exists
                }
            },
            Mode::Append | Mode::Prepend => {
                if !matches!(check, CasCheck::None | CasCheck::Match) {
                    return StoreOutcome::Exists;
                }
                let total = old.value.len().saturating_add(req.value.len());
                if item_size(req.key.len(), old.flags, total) > ITEM_SIZE_MAX {
                    return StoreOutcome::TooLarge;
                }
                let mut value = Vec::new();
                if value.try_reserve_exact(total).is_err() {
                    return self.no_memory();
                }
                if req.mode == Mode::Append {
                    value.extend_from_slice(&old.value);
                    value.extend_from_slice(req.value);
                } else {
                    value.extend_from_slice(req.value);
                    value.extend_from_slice(&old.value);
                }
                let item = Item::new(value, old.flags, old.exptime);
                self.finish(req.key, item)
            }
            Mode::Set | Mode::Replace => {
                let Some(value) = Self::copy(req.value) else {
                    return self.no_memory();
                };
                self.finish(req.key, Item::new(value, req.flags, deadline))
            }
        }
    }

    fn no_memory(&mut self) -> StoreOutcome {
        self.items.stats.store_no_memory += 1;
        StoreOutcome::OutOfMemory
    }

    fn finish(&mut self, key: &[u8], item: Item) -> StoreOutcome {
        match self.link(key, item) {
            Some(cas) => StoreOutcome::Stored(cas),
            None => self.no_memory(),
        }
    }

    /// Removes `key`'s item without counting anything: what memcached does
    /// when a set is refused (too large, no memory), so that the old value
    /// does not outlive the failed write.
    pub fn discard(&mut self, key: &[u8]) {
        self.unlink(key);
    }

    /// delete and md.
    pub fn delete(&mut self, key: &[u8], req: &Delete) -> DeleteOutcome {
        if matches!(self.find(key), Found::Missing) {
            self.items.stats.delete_misses += 1;
            return DeleteOutcome::NotFound;
        }
        let deadline = req.touch.map(|t| self.deadline(t));
        let cas = if req.invalidate { self.next_cas() } else { 0 };
        let Some(item) = self.items.map.get_mut(key) else {
            return DeleteOutcome::NotFound;
        };
        if req.cas != 0 && item.cas != req.cas {
            self.items.stats.delete_misses += 1;
            return DeleteOutcome::Exists;
        }
        if req.invalidate {
            if let Some(d) = deadline {
                item.exptime = d;
            }
            item.stale = true;
            item.token_sent = false;
            item.cas = cas;
            return DeleteOutcome::Deleted;
        }
        self.items.stats.delete_hits += 1;
        self.unlink(key);
        DeleteOutcome::Deleted
    }

    /// touch: sets a live item's expiry; whether there was one.
    pub fn touch(&mut self, key: &[u8], exptime: Exptime) -> bool {
        self.items.stats.cmd_touch += 1;
        if matches!(self.find(key), Found::Missing) {
            self.items.stats.touch_misses += 1;
            return false;
        }
        self.items.stats.touch_hits += 1;
        let deadline = self.deadline(exptime);
        self.bump(key);
        if let Some(item) = self.items.map.get_mut(key) {
            item.exptime = deadline;
        }
        true
    }

    /// incr, decr and ma, as memcached's `do_add_delta` does them: a
    /// number that does not grow is rewritten in place, padded with
    /// spaces to the old length.
    pub fn arith(&mut self, key: &[u8], req: &Arith) -> ArithOutcome {
        if matches!(self.find(key), Found::Missing) {
            let Some((ttl, initial)) = req.vivify else {
                if req.incr {
                    self.items.stats.incr_misses += 1;
                } else {
                    self.items.stats.decr_misses += 1;
                }
                return ArithOutcome::NotFound;
            };
            let mut digits = Vec::new();
            crate::num::push_u64(&mut digits, initial);
            let item = Item::new(digits, 0, 0);
            let Some(cas) = self.link(key, item) else {
                return ArithOutcome::OutOfMemory;
            };
            let touched = req.touch.map(|t| self.deadline(t));
            let vivified = self.deadline(ttl);
            let deadline = match touched {
                Some(t) if !req.vivify_after_touch => t,
                _ => vivified,
            };
            if let Some(item) = self.items.map.get_mut(key) {
                item.exptime = deadline;
            }
            return ArithOutcome::Value {
                value: initial,
                cas,
                ttl_before: -1,
                ttl_touched: touched.map_or(-1, |t| self.ttl(t)),
                ttl_vivified: self.ttl(vivified),
                created: true,
            };
        }
        let Some(item) = self.items.map.get(key) else {
            return ArithOutcome::NotFound;
        };
        if item.value.is_empty() {
            return ArithOutcome::NonNumeric;
        }
        if req.cas != 0 && item.cas != req.cas {
            return ArithOutcome::Exists;
        }
        let Some(number) = super::cnum::strtoull(&item.value) else {
            return ArithOutcome::NonNumeric;
        };
        let value = if req.incr {
            number.wrapping_add(req.delta)
        } else {
            number.saturating_sub(req.delta)
        };
        if req.incr {
            self.items.stats.incr_hits += 1;
        } else {
            self.items.stats.decr_hits += 1;
        }
        let mut digits = Vec::new();
        crate::num::push_u64(&mut digits, value);
        let touch = req.touch.map(|t| self.deadline(t));
        let old_len = item.value.len();
        let (flags, exptime) = (item.flags, item.exptime);
        let ttl_before = self.ttl(exptime);
        if digits.len() <= old_len {
            let cas = self.next_cas();
            let now = self.now;
            let Some(item) = self.items.map.get_mut(key) else {
                return ArithOutcome::NotFound;
            };
            item.value.clear();
            item.value.extend_from_slice(&digits);
            item.value.resize(old_len, b' ');
            item.cas = cas;
            item.time = now;
            if let Some(d) = touch {
                item.exptime = d;
            }
            let after = item.exptime;
            return ArithOutcome::Value {
                value,
                cas,
                ttl_before,
                ttl_touched: self.ttl(after),
                ttl_vivified: -1,
                created: false,
            };
        }
        // A longer number is a new item; memcached applies `T` to the old
        // one it replaced, so the expiry stays.
        let item = Item::new(digits, flags, exptime);
        match self.link(key, item) {
            Some(cas) => {
                // The replacement is not a new item to `total_items`.
                self.items.stats.total_items -= 1;
                ArithOutcome::Value {
                    value,
                    cas,
                    ttl_before,
                    ttl_touched: touch.map_or(ttl_before, |t| self.ttl(t)),
                    ttl_vivified: -1,
                    created: false,
                }
            }
            None => ArithOutcome::OutOfMemory,
        }
    }

    /// flush_all with a delay in seconds (0 or negative: now): items
    /// stored before then become invalid once it comes.
    pub fn flush_all(&mut self, delay: Exptime) {
        self.items.stats.cmd_flush += 1;
        let new_oldest = if delay > 0 {
            self.deadline(delay)
        } else {
            self.now
        };
        self.items.oldest_live = new_oldest.saturating_sub(1);
        if self.items.oldest_live <= self.now {
            self.items.oldest_cas = self.next_cas();
        }
    }

    /// me: what memcached shows of a live item.
    pub fn debug(&mut self, key: &[u8]) -> Option<ItemInfo> {
        self.items.stats.cmd_meta += 1;
        if matches!(self.find(key), Found::Missing) {
            return None;
        }
        let item = self.items.map.get(key)?;
        let size = item.size(key);
        Some(ItemInfo {
            exp: if item.exptime == 0 {
                -1
            } else {
                i64::from((self.now.wrapping_sub(item.exptime)) as u32 as i32)
            },
            last_access: self.now.saturating_sub(item.time),
            cas: item.cas,
            fetched: item.fetched,
            class: slab_class(size).0,
            size,
        })
    }

    /// What `stats` shows of the items.
    pub fn stats(&self) -> Stats {
        let mut classes: Vec<(u32, u64, u64)> = Vec::new();
        for (key, item) in &self.items.map {
            let size = item.size(key);
            let class = slab_class(size).0;
            match classes.iter_mut().find(|c| c.0 == class) {
                Some(c) => {
                    c.1 += 1;
                    c.2 += size as u64;
                }
                None => {
                    if classes.try_reserve(1).is_ok() {
                        classes.push((class, 1, size as u64));
                    }
                }
            }
        }
        classes.sort_unstable();
        Stats {
            counters: self.items.stats,
            curr_items: self.items.map.len() as u64,
            bytes: self.items.bytes,
            limit_maxbytes: self.items.limit,
            classes,
        }
    }

    /// `stats reset`: the counters start again from 0.
    pub fn reset_stats(&mut self) {
        self.items.stats = Default::default();
    }
}
