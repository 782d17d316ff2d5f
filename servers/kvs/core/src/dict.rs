//! The store's hash map: a key space, a hash's fields, a set's members, a
//! sorted set's scores. Its entries lie in one vector in the order they
//! were inserted; a removal leaves a hole, and the vector is packed again
//! once holes outnumber the entries (CPython's compact dict). A hash table
//! of positions finds a key.
//!
//! The layout gives what Redis documents for its commands:
//!
//! | operation | cost | why |
//! |---|---|---|
//! | get, insert, remove | O(1) expected | the table of positions; a removal only empties its slot (packing is amortized over the removals that made the holes) |
//! | [`Dict::random`] (RANDOMKEY, SPOP, SRANDMEMBER, HRANDFIELD, ZRANDMEMBER) | O(1) expected | a random slot, drawn again if it is a hole; at most half are holes, so two draws on average |
//! | [`Dict::scan`] (SCAN, SSCAN, HSCAN, ZSCAN) | O(log n + COUNT) | each entry carries the number of its insertion, which only grows along the vector: the cursor is one such number, found by binary search |
//!
//! The cursor's guarantee is Redis's, and more: an entry present for the
//! whole of a scan is returned exactly once (it keeps its number and its
//! place in the order; packing moves it but keeps the order), and entries
//! inserted during the scan may or may not be. Insertion order is also
//! what Redis lists a small hash in (a listpack), removals included.

use crate::hash::{Rng, SeededState};
use alloc::vec::Vec;
use core::borrow::Borrow;
use core::hash::{BuildHasher, Hash};
use hashbrown::HashTable;

/// One slot of the entry vector.
#[derive(Clone, Debug)]
struct Slot<K, V> {
    /// The number of its insertion (from 1): the scan cursor.
    stamp: u64,
    /// The key's hash, kept so that packing need not hash again.
    hash: u64,
    /// The entry, or `None` where it was removed.
    item: Option<(K, V)>,
}

/// An insertion-ordered hash map with O(1) random picks and O(COUNT) scans
/// (see the module's documentation).
#[derive(Clone, Debug)]
pub(crate) struct Dict<K, V> {
    slots: Vec<Slot<K, V>>,
    /// The position in `slots` of every entry, by the key's hash.
    index: HashTable<usize>,
    /// How many slots hold an entry.
    live: usize,
    /// The stamp the next insertion gets.
    next_stamp: u64,
    state: SeededState,
}

/// Holes are packed away once there are more than this many and more than
/// entries: the vector is then at most twice the entries, plus this.
const SLACK: usize = 8;

/// How many slots a scan call visits at most, per entry it was asked for
/// (as Redis visits at most ten empty buckets per element of COUNT).
const VISITS_PER_COUNT: usize = 10;

impl<K: Hash + Eq, V> Dict<K, V> {
    /// An empty map hashing with `state`.
    pub(crate) fn with_hasher(state: SeededState) -> Self {
        Dict {
            slots: Vec::new(),
            index: HashTable::new(),
            live: 0,
            next_stamp: 1,
            state,
        }
    }

    /// How many entries.
    pub(crate) fn len(&self) -> usize {
        self.live
    }

    /// Whether it has none.
    pub(crate) fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The position of `key`'s entry.
    fn position<Q>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.find(self.state.hash_one(key), key)
    }

    /// The position of `key`'s entry, its hash given.
    fn find<Q>(&self, hash: u64, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let slots = &self.slots;
        self.index
            .find(hash, |&at| {
                slots[at]
                    .item
                    .as_ref()
                    .is_some_and(|(k, _)| k.borrow() == key)
            })
            .copied()
    }

    /// The value of `key`.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = self.position(key)?;
        self.slots[at].item.as_ref().map(|(_, v)| v)
    }

    /// The value of `key`, to change.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let at = self.position(key)?;
        self.slots[at].item.as_mut().map(|(_, v)| v)
    }

    /// Whether `key` has an entry.
    pub(crate) fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.position(key).is_some()
    }

    /// Sets `key`'s value; the old one, if it had one (it keeps its place
    /// in the order).
    pub(crate) fn insert(&mut self, key: K, value: V) -> Option<V> {
        let hash = self.state.hash_one(&key);
        if let Some(at) = self.find(hash, &key) {
            let (_, old) = self.slots[at].item.as_mut()?;
            return Some(core::mem::replace(old, value));
        }
        let at = self.slots.len();
        self.slots.push(Slot {
            stamp: self.next_stamp,
            hash,
            item: Some((key, value)),
        });
        self.next_stamp += 1;
        self.live += 1;
        let slots = &self.slots;
        self.index.insert_unique(hash, at, |&p| slots[p].hash);
        None
    }

    /// Removes `key`'s entry; its value, if it had one. The others keep
    /// their order.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`'s entry and returns it.
    pub(crate) fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let hash = self.state.hash_one(key);
        let slots = &self.slots;
        let found = self.index.find_entry(hash, |&at| {
            slots[at]
                .item
                .as_ref()
                .is_some_and(|(k, _)| k.borrow() == key)
        });
        let at = found.ok()?.remove().0;
        let item = self.slots[at].item.take();
        self.live -= 1;
        // Holes at the end go at once (an entry made and removed again
        // costs no growth); the others wait for a packing.
        while self.slots.last().is_some_and(|s| s.item.is_none()) {
            self.slots.pop();
        }
        self.pack_if_sparse();
        item
    }

    /// Packs the holes away once they outnumber the entries (and
    /// [`SLACK`]): the order and the stamps stay, the positions change.
    fn pack_if_sparse(&mut self) {
        let holes = self.slots.len() - self.live;
        if holes <= self.live.max(SLACK) {
            return;
        }
        self.pack();
    }

    /// Drops the holes and finds every entry's new position.
    fn pack(&mut self) {
        self.slots.retain(|s| s.item.is_some());
        self.index.clear();
        for (at, slot) in self.slots.iter().enumerate() {
            let slots = &self.slots;
            self.index.insert_unique(slot.hash, at, |&p| slots[p].hash);
        }
    }

    /// Removes every entry (stamps go on growing, so that a scan under way
    /// sees only what comes after).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
        self.index.clear();
        self.live = 0;
    }

    /// The entries, in insertion order.
    pub(crate) fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.slots.iter())
    }

    /// The keys, in insertion order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &K> + '_ {
        self.iter().map(|(k, _)| k)
    }

    /// The values, in insertion order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Takes every entry out, in insertion order.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = (K, V)> + '_ {
        self.index.clear();
        self.live = 0;
        self.slots.drain(..).filter_map(|s| s.item)
    }

    /// An entry uniformly at random: a random slot, drawn again while it
    /// is a hole (at most half are: two draws expected).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<(&K, &V)> {
        if self.live == 0 {
            return None;
        }
        let at = self.random_position(rng);
        self.slots[at].item.as_ref().map(|(k, v)| (k, v))
    }

    /// `count` distinct entries at random (all of them, in order, when
    /// `count` is at least the length), in O(count) expected time, as
    /// Redis picks them: a shuffle of all the entries when they are fewer
    /// than three times `count`, else random picks with the repeats
    /// drawn again.
    pub(crate) fn sample(&self, count: usize, rng: &mut Rng) -> Vec<(&K, &V)> {
        if count >= self.live {
            return self.iter().collect();
        }
        if count.saturating_mul(3) > self.live {
            let mut all: Vec<(&K, &V)> = self.iter().collect();
            for i in 0..count {
                let j = i + rng.below(all.len() - i);
                all.swap(i, j);
            }
            all.truncate(count);
            return all;
        }
        let mut taken = hashbrown::HashSet::with_capacity_and_hasher(count, self.state);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let at = self.random_position(rng);
            if taken.insert(at)
                && let Some((k, v)) = &self.slots[at].item
            {
                out.push((k, v));
            }
        }
        out
    }

    /// The position of an entry picked uniformly at random (not empty).
    fn random_position(&self, rng: &mut Rng) -> usize {
        loop {
            let at = rng.below(self.slots.len());
            if self.slots[at].item.is_some() {
                return at;
            }
        }
    }

    /// Up to `count` entries from `cursor` on (0: the start), in order,
    /// and the cursor to go on from (0: the end). It visits at most ten
    /// slots per entry asked for, so it may return fewer than `count` (or
    /// none) before the end, as Redis's SCAN may.
    pub(crate) fn scan(&self, cursor: u64, count: usize) -> (Vec<(&K, &V)>, u64) {
        let start = self.slots.partition_point(|s| s.stamp < cursor);
        let count = count.max(1);
        let visits = count.saturating_mul(VISITS_PER_COUNT);
        let mut out = Vec::new();
        let mut at = start;
        while at < self.slots.len() && out.len() < count && at - start < visits {
            if let Some((k, v)) = &self.slots[at].item {
                out.push((k, v));
            }
            at += 1;
        }
        let next = self.slots.get(at).map_or(0, |s| s.stamp);
        (out, next)
    }
}

impl<K: Hash + Eq, V: PartialEq> PartialEq for Dict<K, V> {
    /// The same entries (in any order).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

/// A set on a [`Dict`]: members in insertion order, random picks and
/// scans as the map's.
#[derive(Clone, Debug)]
pub(crate) struct DictSet<K> {
    map: Dict<K, ()>,
}

impl<K: Hash + Eq> DictSet<K> {
    /// An empty set hashing with `state`.
    pub(crate) fn with_hasher(state: SeededState) -> Self {
        DictSet {
            map: Dict::with_hasher(state),
        }
    }

    /// How many members.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether it has none.
    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Adds `member`; whether it was new.
    pub(crate) fn insert(&mut self, member: K) -> bool {
        self.map.insert(member, ()).is_none()
    }

    /// Removes `member`; whether it was there.
    pub(crate) fn remove<Q>(&mut self, member: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.remove(member).is_some()
    }

    /// Whether `member` is in it.
    pub(crate) fn contains<Q>(&self, member: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.contains_key(member)
    }

    /// The members, in insertion order.
    pub(crate) fn iter(&self) -> SetIter<'_, K> {
        SetIter(self.map.iter())
    }

    /// Takes every member out.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = K> + '_ {
        self.map.drain().map(|(k, ())| k)
    }

    /// A member uniformly at random (O(1) expected).
    pub(crate) fn random(&self, rng: &mut Rng) -> Option<&K> {
        self.map.random(rng).map(|(k, ())| k)
    }

    /// `count` distinct members at random ([`Dict::sample`]).
    pub(crate) fn sample(&self, count: usize, rng: &mut Rng) -> Vec<&K> {
        self.map
            .sample(count, rng)
            .into_iter()
            .map(|(k, ())| k)
            .collect()
    }

    /// The hasher's state (for sets of its members made while working).
    pub(crate) fn state(&self) -> SeededState {
        self.map.state
    }

    /// Up to `count` members from `cursor` on, and the next cursor (see
    /// [`Dict::scan`]).
    pub(crate) fn scan(&self, cursor: u64, count: usize) -> (Vec<&K>, u64) {
        let (batch, next) = self.map.scan(cursor, count);
        (batch.into_iter().map(|(k, ())| k).collect(), next)
    }
}

/// A [`Dict`]'s entries, in insertion order.
pub(crate) struct Iter<'a, K, V>(core::slice::Iter<'a, Slot<K, V>>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0
            .by_ref()
            .find_map(|s| s.item.as_ref().map(|(k, v)| (k, v)))
    }
}

impl<'a, K: Hash + Eq, V> IntoIterator for &'a Dict<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// A [`DictSet`]'s members, in insertion order.
pub(crate) struct SetIter<'a, K>(Iter<'a, K, ()>);

impl<'a, K> Iterator for SetIter<'a, K> {
    type Item = &'a K;

    fn next(&mut self) -> Option<&'a K> {
        self.0.next().map(|(k, ())| k)
    }
}

impl<'a, K: Hash + Eq> IntoIterator for &'a DictSet<K> {
    type Item = &'a K;
    type IntoIter = SetIter<'a, K>;

    fn into_iter(self) -> SetIter<'a, K> {
        self.iter()
    }
}

impl<K: Hash + Eq> Extend<K> for DictSet<K> {
    fn extend<I: IntoIterator<Item = K>>(&mut self, members: I) {
        for m in members {
            self.insert(m);
        }
    }
}

impl<K: Hash + Eq> PartialEq for DictSet<K> {
    /// The same members.
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

#[cfg(test)]
mod tests;
