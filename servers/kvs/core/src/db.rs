//! One logical database: keys, values, expiry times and WATCH versions.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

use crate::dict::{Dict, DictSet};
use crate::encoding::{Encoding, Thresholds};
use crate::hash::{Map, Rng, SeededState};
use crate::memory::Tracking;
use crate::notify::{Classes, Notes};
use crate::reply::{Reply, WRONGTYPE};
use crate::zset::ZSet;

/// A value of one of the Redis types.
#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(Vec<u8>),
    List(VecDeque<Vec<u8>>),
    Hash(Dict<Vec<u8>, Vec<u8>>),
    Set(DictSet<Vec<u8>>),
    ZSet(ZSet),
    Stream(crate::stream::Stream),
}

impl Value {
    /// The name `TYPE` and `SCAN ... TYPE` use.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// About the heap bytes the value holds: what a copy of it (COPY)
    /// allocates, its elements' bytes and a few words of bookkeeping
    /// each.
    pub(crate) fn footprint(&self) -> usize {
        fn sum(items: impl Iterator<Item = usize>, per: usize) -> usize {
            items.fold(0usize, |n, len| n.saturating_add(len).saturating_add(per))
        }
        match self {
            Value::Str(s) => s.len(),
            Value::List(l) => sum(l.iter().map(Vec::len), 32),
            Value::Hash(h) => sum(h.iter().map(|(f, v)| f.len() + v.len()), 64),
            Value::Set(s) => sum(s.iter().map(Vec::len), 40),
            Value::ZSet(z) => sum(z.iter().map(|(m, _)| 2 * m.len()), 96),
            Value::Stream(s) => s.footprint(),
        }
    }

    /// Whether this is a collection with no elements (such keys are removed).
    fn is_empty_collection(&self) -> bool {
        match self {
            Value::Str(_) => false,
            Value::List(l) => l.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            // An empty stream stays, as in Redis.
            Value::Stream(_) => false,
        }
    }
}

/// A key's value, absolute expiry time (ms), access word (what
/// eviction ranks it by: [`Tracking`]) and the encoding Redis would give
/// the value ([`crate::encoding`]).
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) value: Value,
    pub(crate) expire_at: Option<i64>,
    pub(crate) access: u32,
    pub(crate) enc: Encoding,
}

#[derive(Clone, Debug)]
struct WatchSlot {
    refs: usize,
    version: u64,
}

/// The WRONGTYPE error reply.
pub(crate) fn wrongtype() -> Reply {
    Reply::error(WRONGTYPE)
}

/// The key space of a database: a [`Dict`], so that a random key
/// (RANDOMKEY, eviction's samples) costs O(1) and a SCAN call O(COUNT).
type Keys = Dict<Vec<u8>, Entry>;

/// One of the 16 databases.
#[derive(Debug)]
pub(crate) struct Db {
    map: Keys,
    /// (expire_at, key) for every key with an expiry, for active expiry.
    expires: Expiries,
    /// Version counters of the keys some session WATCHes.
    watched: Map<Vec<u8>, WatchSlot>,
    next_version: u64,
    /// The sessions blocked on each key (BLPOP, BZPOPMIN, …), in the
    /// order they blocked (`crate::blocking`).
    pub(crate) blocked: Map<Vec<u8>, VecDeque<u64>>,
    /// Keys some session is blocked on that changed since the store last
    /// served blocked sessions, in the order they first changed, once each.
    pub(crate) ready: Vec<Vec<u8>>,
    /// The keyspace events of the command running (`crate::notify`).
    pub(crate) notes: Notes,
    pub(crate) state: SeededState,
    /// The change journal the append-only log reads (`crate::aof`): when
    /// on, every touched key is recorded (or only that one was, unless
    /// `journal_keyed`), and a flush is noted.
    journal: Option<Journal>,
    /// Whether the journal records which keys were touched.
    journal_keyed: bool,
    /// While sessions track keys (client-side caching): the keys touched
    /// since the store last looked, and flushes (`None`).
    pub(crate) changes: Option<Vec<Option<Vec<u8>>>>,
    /// How accesses are recorded, the time of the command running (for
    /// the access words of keys it makes) and the randomness of LFU's
    /// counters.
    pub(crate) tracking: Tracking,
    pub(crate) now: i64,
    rng: Rng,
    /// The thresholds of Redis's compact encodings, from the store's
    /// parameters.
    pub(crate) thresholds: Thresholds,
}

/// What changed in one database since the journal was last taken.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    /// The database was emptied (keys touched before that are dropped).
    pub(crate) flushed: bool,
    /// Keys touched since (or since the flush), duplicates possible; only
    /// while the database's journal is keyed.
    pub(crate) keys: Vec<Vec<u8>>,
    /// Some key was touched since (or since the flush).
    pub(crate) touched: bool,
    /// The database's keys were swapped with another's (SWAPDB; `flushed`
    /// is set too): every key it holds now counts as touched.
    pub(crate) replaced: bool,
    /// The function libraries changed (noted in database 0's journal: they
    /// belong to no database).
    pub(crate) functions: bool,
}

impl Journal {
    /// Nothing changed.
    fn is_empty(&self) -> bool {
        !self.flushed && !self.replaced && !self.functions && !self.touched
    }

    /// Records that `key` was touched (the key itself if `keyed`).
    fn note(&mut self, key: &[u8], keyed: bool) {
        self.touched = true;
        if keyed {
            self.keys.push(key.to_vec());
        }
    }
}

impl Db {
    pub(crate) fn new(state: SeededState, seed: u64) -> Db {
        Db {
            map: Keys::with_hasher(state),
            expires: Expiries::default(),
            watched: Map::with_hasher(state),
            next_version: 0,
            blocked: Map::with_hasher(state),
            ready: Vec::new(),
            notes: Notes::default(),
            state,
            journal: None,
            journal_keyed: true,
            changes: None,
            tracking: Tracking::Lru,
            now: 0,
            rng: Rng::new(seed),
            thresholds: Thresholds::default(),
        }
    }

    /// Records an access to `key` (if present) at `now`.
    fn accessed(&mut self, key: &[u8], now: i64) -> Option<&mut Entry> {
        let (tracking, rng) = (self.tracking, &mut self.rng);
        let e = self.map.get_mut(key)?;
        e.access = tracking.accessed(e.access, now, rng);
        Some(e)
    }

    /// A new entry's value with no expiry, made at the current time.
    fn fresh(&self, value: Value) -> Entry {
        Entry {
            enc: Encoding::of_new(&value, &self.thresholds),
            value,
            expire_at: None,
            access: self.tracking.fresh(self.now),
        }
    }

    /// A new entry for a value with the encoding `enc` (RESTORE's), made
    /// at the current time.
    pub(crate) fn fresh_entry(&self, value: Value, enc: Encoding) -> Entry {
        Entry {
            enc,
            ..self.fresh(value)
        }
    }

    /// The encoding of `key`'s value, if present (not an access).
    pub(crate) fn encoding(&self, key: &[u8]) -> Option<Encoding> {
        self.map.get(key).map(|e| e.enc)
    }

    /// Sets the encoding of `key`'s value (a command that leaves a
    /// string `raw`, …). Not a change WATCH sees: the value is the same.
    pub(crate) fn set_encoding(&mut self, key: &[u8], enc: Encoding) {
        if let Some(e) = self.map.get_mut(key) {
            e.enc = enc;
        }
    }

    /// Gives `key`'s value the encoding of a value built whole from its
    /// contents (SPOP's rebuilt set).
    pub(crate) fn reencode(&mut self, key: &[u8]) {
        let t = self.thresholds;
        if let Some(e) = self.map.get_mut(key) {
            e.enc = Encoding::of_new(&e.value, &t);
        }
    }

    /// A set at `key` given the new members `added`
    /// ([`Encoding::set_grew`]).
    pub(crate) fn set_grew<'a>(&mut self, key: &[u8], added: impl IntoIterator<Item = &'a [u8]>) {
        let t = self.thresholds;
        if let Some(e) = self.map.get_mut(key)
            && let Value::Set(s) = &e.value
        {
            e.enc.set_grew(added, s.len(), &t);
        }
    }

    /// Turns `key`'s compact hash or sorted set into its general form
    /// (`hashtable`, `skiplist`) when `cond` holds; never back.
    pub(crate) fn promote(&mut self, key: &[u8], cond: bool) {
        if let Some(e) = self.map.get_mut(key)
            && cond
            && e.enc == Encoding::Listpack
        {
            e.enc = match e.value {
                Value::ZSet(_) => Encoding::Skiplist,
                Value::Stream(_) => Encoding::Stream,
                _ => Encoding::Hashtable,
            };
        }
    }

    /// Number of keys, including expired keys not yet removed.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// Every key and entry, expired ones included.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &Entry)> + '_ {
        self.map.iter()
    }

    /// Up to `count` keys and entries from SCAN's `cursor` on (expired
    /// ones included), and the next cursor ([`Dict::scan`]).
    pub(crate) fn scan(&self, cursor: u64, count: usize) -> (Vec<(&Vec<u8>, &Entry)>, u64) {
        self.map.scan(cursor, count)
    }

    /// Whether an entry is logically expired at `now` (Redis: `now > when`).
    pub(crate) fn is_expired(e: &Entry, now: i64) -> bool {
        e.expire_at.is_some_and(|t| now > t)
    }

    /// Removes `key` if it has expired; returns whether it did.
    pub(crate) fn expire_if_needed(&mut self, key: &[u8], now: i64) -> bool {
        match self.map.get(key) {
            Some(e) if Self::is_expired(e, now) => {
                self.remove_as(key, Classes::EXPIRED, "expired");
                true
            }
            _ => false,
        }
    }

    /// Removes `key` as [`remove`](Self::remove) does, raising `event` of
    /// `class` for it instead of the command's (expiry, eviction, a
    /// collection emptied).
    pub(crate) fn remove_as(
        &mut self,
        key: &[u8],
        class: Classes,
        event: &'static str,
    ) -> Option<Entry> {
        if self.map.contains_key(key) {
            self.notes.note(class, event, key);
        }
        self.remove_quietly(key)
    }

    /// Removes `key` as [`remove`](Self::remove) does, raising no event
    /// (RESTORE's REPLACE, before the key is made anew).
    pub(crate) fn remove_quietly(&mut self, key: &[u8]) -> Option<Entry> {
        let current = self.notes.current.take();
        let entry = self.remove(key);
        self.notes.current = current;
        entry
    }

    /// Removes `key`, raising `del` for it (a destination a command
    /// leaves empty, an expiry in the past).
    pub(crate) fn delete(&mut self, key: &[u8]) -> Option<Entry> {
        self.remove_as(key, Classes::GENERIC, "del")
    }

    /// Raises `event` of `class` for `key` now (commands whose events
    /// are not their changes': RENAME's `rename_from`, COPY's `copy_to`).
    pub(crate) fn note(&mut self, class: Classes, event: &'static str, key: &[u8]) {
        self.notes.note(class, event, key);
    }

    /// Makes the changes from now on raise `event` of `class` (a command
    /// that raises different events for different keys).
    pub(crate) fn raise(&mut self, class: Classes, event: &'static str) {
        if self.notes.on != Classes::none() {
            self.notes.current = Some((class, event));
        }
    }

    /// The live value of `key` (lazily expiring it), recording the access.
    pub(crate) fn get(&mut self, key: &[u8], now: i64) -> Option<&Value> {
        self.expire_if_needed(key, now);
        self.accessed(key, now).map(|e| &e.value)
    }

    /// The live value of `key`, mutable (lazily expiring it), recording
    /// the access. The caller touches the key if it changes it.
    pub(crate) fn get_mut(&mut self, key: &[u8], now: i64) -> Option<&mut Value> {
        self.expire_if_needed(key, now);
        self.accessed(key, now).map(|e| &mut e.value)
    }

    /// The value of `key` without expiring it (for callers that just did).
    pub(crate) fn peek(&self, key: &[u8]) -> Option<&Value> {
        self.map.get(key).map(|e| &e.value)
    }

    /// [`peek`](Self::peek), mutable: the caller touches the key if it
    /// changes it.
    pub(crate) fn peek_mut(&mut self, key: &[u8]) -> Option<&mut Value> {
        self.map.get_mut(key).map(|e| &mut e.value)
    }

    /// The live entry of `key` (lazily expiring it), without recording an
    /// access (EXISTS, TTL and OBJECT do not count as one in Redis).
    pub(crate) fn entry(&mut self, key: &[u8], now: i64) -> Option<&Entry> {
        self.expire_if_needed(key, now);
        self.map.get(key)
    }

    /// Whether `key` exists (lazily expiring it).
    pub(crate) fn exists(&mut self, key: &[u8], now: i64) -> bool {
        self.entry(key, now).is_some()
    }

    /// Removes `key`, touching it; returns its entry.
    pub(crate) fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.map.remove(key)?;
        if let Some(t) = e.expire_at {
            self.expires.remove(&(t, key.to_vec()));
        }
        self.touch(key);
        Some(e)
    }

    /// Stores `value` under `key`, touching it. The expiry is kept when
    /// `keep_ttl`, cleared otherwise.
    pub(crate) fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) {
        match self.map.get_mut(key) {
            Some(e) => {
                e.enc = Encoding::of_new(&value, &self.thresholds);
                e.value = value;
                if !keep_ttl && let Some(t) = e.expire_at.take() {
                    self.expires.remove(&(t, key.to_vec()));
                }
            }
            None => {
                let entry = self.fresh(value);
                self.map.insert(key.to_vec(), entry);
                self.notes.note(Classes::NEW, "new", key);
            }
        }
        self.touch(key);
    }

    /// Inserts a whole entry (value and expiry) under `key`, replacing any.
    pub(crate) fn put_entry(&mut self, key: &[u8], entry: Entry) {
        self.remove(key);
        if let Some(t) = entry.expire_at {
            self.expires.insert((t, key.to_vec()));
        }
        self.map.insert(key.to_vec(), entry);
        self.notes.note(Classes::NEW, "new", key);
        self.touch(key);
    }

    /// The value of `key`, created with `make` if missing (not touched: the
    /// caller touches after changing it, and calls [`Db::drop_if_empty`]).
    /// [`typed_or_create!`] checks its type.
    pub(crate) fn get_or_create(
        &mut self,
        key: &[u8],
        now: i64,
        make: impl FnOnce(SeededState) -> Value,
    ) -> &mut Value {
        self.expire_if_needed(key, now);
        if self.accessed(key, now).is_none() {
            let entry = self.fresh(make(self.state));
            self.map.insert(key.to_vec(), entry);
            self.notes.note(Classes::NEW, "new", key);
        }
        &mut self.map.get_mut(key).expect("just inserted").value
    }

    /// Removes `key` if it holds an empty collection (touching it, and
    /// raising `del`).
    pub(crate) fn drop_if_empty(&mut self, key: &[u8]) {
        if self
            .map
            .get(key)
            .is_some_and(|e| e.value.is_empty_collection())
        {
            self.remove_as(key, Classes::GENERIC, "del");
        }
    }

    /// The expiry of a live key: `None` missing, `Some(None)` persistent.
    pub(crate) fn expiry(&mut self, key: &[u8], now: i64) -> Option<Option<i64>> {
        self.entry(key, now).map(|e| e.expire_at)
    }

    /// Sets the absolute expiry of an existing key, touching it.
    pub(crate) fn set_expire(&mut self, key: &[u8], when: i64) {
        if let Some(e) = self.map.get_mut(key) {
            if let Some(t) = e.expire_at.replace(when) {
                self.expires.remove(&(t, key.to_vec()));
            }
            self.expires.insert((when, key.to_vec()));
            self.touch(key);
        }
    }

    /// Removes the expiry of `key`; returns whether it had one. Touches the
    /// key if so.
    pub(crate) fn persist(&mut self, key: &[u8]) -> bool {
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        match e.expire_at.take() {
            Some(t) => {
                self.expires.remove(&(t, key.to_vec()));
                self.touch(key);
                true
            }
            None => false,
        }
    }

    /// Turns the change journal on and empty (the log does so before
    /// every command, in every database: a journal already so is left as
    /// it is), recording the keys touched if `keyed` (else only that some
    /// were: the log reads the keys only for a transaction's or script's
    /// effect and while compacting, and a copy of every key written would
    /// otherwise be made and dropped with each command).
    pub(crate) fn start_journal(&mut self, keyed: bool) {
        if self.journal.as_ref().is_none_or(|j| !j.is_empty()) {
            self.journal = Some(Journal::default());
        }
        self.journal_keyed = keyed;
    }

    /// Whether the journal recorded nothing (or is off).
    pub(crate) fn journal_is_empty(&self) -> bool {
        self.journal.as_ref().is_none_or(Journal::is_empty)
    }

    /// Whether the journal noted a change of the function libraries.
    pub(crate) fn journal_has_functions(&self) -> bool {
        self.journal.as_ref().is_some_and(|j| j.functions)
    }

    /// Takes what the journal recorded, leaving it on and empty; `None`
    /// when it is off.
    pub(crate) fn take_journal(&mut self) -> Option<Journal> {
        self.journal.as_mut().map(core::mem::take)
    }

    /// The entry of `key`, expired or not, without touching anything.
    pub(crate) fn raw_entry(&self, key: &[u8]) -> Option<&Entry> {
        self.map.get(key)
    }

    /// Marks `key` as modified for WATCH (and in the journal, if on), as
    /// ready if a session is blocked on it, and raises the command's
    /// keyspace event for it.
    pub(crate) fn touch(&mut self, key: &[u8]) {
        if let Some(j) = self.journal.as_mut() {
            j.note(key, self.journal_keyed);
        }
        if let Some(c) = self.changes.as_mut() {
            c.push(Some(key.to_vec()));
        }
        self.signal_ready(key);
        self.notes.changed(key);
        if self.watched.is_empty() {
            return;
        }
        if let Some(slot) = self.watched.get_mut(key) {
            self.next_version += 1;
            slot.version = self.next_version;
        }
    }

    /// Notes that `key` changed, if a session is blocked on it: the store
    /// serves it after the command (Redis's `signalKeyAsReady`; Redis
    /// signals only a key's creation, the one change that can make a key
    /// some session blocked on hold something, and serving checks the
    /// type and the contents anyway).
    fn signal_ready(&mut self, key: &[u8]) {
        if !self.blocked.is_empty()
            && self.blocked.contains_key(key)
            && !self.ready.iter().any(|k| k == key)
        {
            self.ready.push(key.to_vec());
        }
    }

    /// Records in the journal, if on, that the function libraries changed.
    pub(crate) fn journal_functions(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.functions = true;
        }
    }

    /// Records a change of `key` in the journal only, WATCH not seeing it:
    /// Redis's BITFIELD grows a string without signalling the change when
    /// every write it asked for failed, and the log must still hold it.
    pub(crate) fn journal_key(&mut self, key: &[u8]) {
        if let Some(j) = self.journal.as_mut() {
            j.note(key, self.journal_keyed);
        }
    }

    /// Swaps this database's keys (values and expiries) with `other`'s, as
    /// SWAPDB does. The watched keys of each that exist in either are
    /// touched; both journals note the replacement.
    pub(crate) fn swap_keys(&mut self, other: &mut Db) {
        self.touch_watched_in(other);
        other.touch_watched_in(self);
        core::mem::swap(&mut self.map, &mut other.map);
        core::mem::swap(&mut self.expires, &mut other.expires);
        // Keys sessions are blocked on may hold something now.
        for db in [&mut *self, &mut *other] {
            let held: Vec<Vec<u8>> = db
                .blocked
                .keys()
                .filter(|k| db.map.contains_key(k.as_slice()))
                .cloned()
                .collect();
            for k in held {
                db.signal_ready(&k);
            }
        }
        for db in [self, other] {
            if let Some(j) = db.journal.as_mut() {
                j.flushed = true;
                j.replaced = true;
                j.keys.clear();
                j.touched = false;
            }
        }
    }

    /// Touches the watched keys that exist here or in `other`.
    fn touch_watched_in(&mut self, other: &Db) {
        if self.watched.is_empty() {
            return;
        }
        let keys: Vec<Vec<u8>> = self
            .watched
            .keys()
            .filter(|k| self.map.contains_key(k.as_slice()) || other.map.contains_key(k.as_slice()))
            .cloned()
            .collect();
        for k in keys {
            self.touch(&k);
        }
    }

    /// Empties the database, touching every watched key that existed.
    pub(crate) fn flush(&mut self) {
        if let Some(j) = self.journal.as_mut() {
            j.flushed = true;
            j.keys.clear();
            j.touched = false;
        }
        if let Some(c) = self.changes.as_mut() {
            c.push(None);
        }
        if !self.watched.is_empty() {
            let keys: Vec<Vec<u8>> = self
                .watched
                .keys()
                .filter(|k| self.map.contains_key(k.as_slice()))
                .cloned()
                .collect();
            for k in keys {
                self.touch(&k);
            }
        }
        self.map.clear();
        self.expires.clear();
    }

    /// Registers one more watcher of `key`; returns its current version.
    pub(crate) fn watch(&mut self, key: &[u8]) -> u64 {
        let slot = self.watched.entry(key.to_vec()).or_insert(WatchSlot {
            refs: 0,
            version: 0,
        });
        slot.refs += 1;
        slot.version
    }

    /// Drops one watcher of `key`.
    pub(crate) fn unwatch(&mut self, key: &[u8]) {
        if let Some(slot) = self.watched.get_mut(key) {
            slot.refs -= 1;
            if slot.refs == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// The current version of a watched key.
    pub(crate) fn watched_version(&self, key: &[u8]) -> Option<u64> {
        self.watched.get(key).map(|s| s.version)
    }

    /// Removes up to `budget` keys whose expiry has passed; returns how many.
    pub(crate) fn active_expire(&mut self, now: i64, budget: usize) -> usize {
        let mut n = 0;
        while n < budget {
            match self.expires.first() {
                Some((t, _)) if now > *t => {
                    let (_, key) = self.expires.pop_first().expect("first exists");
                    if let Some(e) = self.map.get_mut(&key) {
                        e.expire_at = None;
                    }
                    self.remove_as(&key, Classes::EXPIRED, "expired");
                    n += 1;
                }
                _ => break,
            }
        }
        n
    }

    /// A random live key (expired picks are removed and the draw repeated).
    pub(crate) fn random_key(&mut self, rng: &mut Rng, now: i64) -> Option<Vec<u8>> {
        loop {
            let (k, e) = self.random_entry(rng)?;
            if Self::is_expired(e, now) {
                let k = k.to_vec();
                self.remove(&k);
                continue;
            }
            return Some(k.to_vec());
        }
    }

    /// A key and its entry, uniformly at random (expired or not).
    pub(crate) fn random_entry(&self, rng: &mut Rng) -> Option<(&[u8], &Entry)> {
        let (k, e) = self.map.random(rng)?;
        Some((k, e))
    }

    /// A key with an expiry, at random: the first to expire at or after
    /// a time drawn uniformly between the first and last expiry (so keys
    /// after a gap in the expiry times come up more often).
    pub(crate) fn random_volatile(&self, rng: &mut Rng) -> Option<&[u8]> {
        let first = self.expires.first()?.0;
        let last = self.expires.last()?.0;
        let span = last.abs_diff(first);
        let offset = rng.next_u64() % span.saturating_add(1).max(1);
        let t = first.saturating_add_unsigned(offset);
        self.expires
            .range((t, Vec::new())..)
            .next()
            .map(|(_, k)| k.as_slice())
    }

    /// The key that expires first, and when.
    pub(crate) fn soonest_expiry(&self) -> Option<(i64, &[u8])> {
        self.expires.first().map(|(t, k)| (*t, k.as_slice()))
    }

    /// How many keys have an expiry (INFO keyspace's `expires`; keys past
    /// their time not yet removed count).
    pub(crate) fn volatile(&self) -> usize {
        self.expires.len()
    }

    /// The mean time to live of the keys with an expiry at `now`, in
    /// milliseconds (INFO keyspace's `avg_ttl`; 0 with none), from their
    /// sum: O(1), where Redis estimates it from active expiry's samples.
    pub(crate) fn avg_ttl(&self, now: i64) -> u64 {
        let n = self.expires.len() as i128;
        if n == 0 {
            return 0;
        }
        let mean = self.expires.sum / n - i128::from(now);
        u64::try_from(mean.max(0)).unwrap_or(u64::MAX)
    }
}

/// (expire_at, key) for every key with an expiry, ordered by time, and
/// the sum of the times.
#[derive(Debug, Default)]
struct Expiries {
    set: BTreeSet<(i64, Vec<u8>)>,
    sum: i128,
}

impl Expiries {
    fn insert(&mut self, e: (i64, Vec<u8>)) {
        let t = e.0;
        if self.set.insert(e) {
            self.sum += i128::from(t);
        }
    }

    fn remove(&mut self, e: &(i64, Vec<u8>)) {
        if self.set.remove(e) {
            self.sum -= i128::from(e.0);
        }
    }

    fn pop_first(&mut self) -> Option<(i64, Vec<u8>)> {
        let e = self.set.pop_first()?;
        self.sum -= i128::from(e.0);
        Some(e)
    }

    fn clear(&mut self) {
        self.set.clear();
        self.sum = 0;
    }

    fn first(&self) -> Option<&(i64, Vec<u8>)> {
        self.set.first()
    }

    fn last(&self) -> Option<&(i64, Vec<u8>)> {
        self.set.last()
    }

    fn len(&self) -> usize {
        self.set.len()
    }

    fn range(
        &self,
        from: core::ops::RangeFrom<(i64, Vec<u8>)>,
    ) -> alloc::collections::btree_set::Range<'_, (i64, Vec<u8>)> {
        self.set.range(from)
    }
}

/// Reads a typed value: `Ok(None)` missing, `Err(WRONGTYPE)` other type.
macro_rules! typed {
    ($db:expr, $key:expr, $now:expr, $variant:ident) => {
        match $db.get($key, $now) {
            None => Ok(None),
            Some($crate::db::Value::$variant(v)) => Ok(Some(v)),
            Some(_) => Err($crate::db::wrongtype()),
        }
    };
}

/// Like [`typed!`], mutable.
macro_rules! typed_mut {
    ($db:expr, $key:expr, $now:expr, $variant:ident) => {
        match $db.get_mut($key, $now) {
            None => Ok(None),
            Some($crate::db::Value::$variant(v)) => Ok(Some(v)),
            Some(_) => Err($crate::db::wrongtype()),
        }
    };
}

/// A collection to change: the live `$variant` of `key`, made empty with
/// `$make` (given the database's hash seed) when the key is missing;
/// `Err(WRONGTYPE)` when it holds another type.
macro_rules! typed_or_create {
    ($db:expr, $key:expr, $now:expr, $variant:ident, $make:expr) => {
        match $db.get_or_create($key, $now, |seed| $crate::db::Value::$variant($make(seed))) {
            $crate::db::Value::$variant(v) => Ok(v),
            _ => Err($crate::db::wrongtype()),
        }
    };
}

/// Unwraps a `Result<T, Reply>`, returning the error reply.
macro_rules! tri {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}

pub(crate) use {tri, typed, typed_mut, typed_or_create};

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        Db::new(SeededState::new(3), 3)
    }

    #[test]
    fn lazy_expiry_boundary() {
        let mut d = db();
        d.set(b"k", Value::Str(b"v".to_vec()), false);
        d.set_expire(b"k", 100);
        assert!(d.get(b"k", 100).is_some(), "alive at exactly its expiry");
        assert!(d.get(b"k", 101).is_none());
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn active_expiry_respects_budget() {
        let mut d = db();
        for i in 0..10u8 {
            d.set(&[i], Value::Str(Vec::new()), false);
            d.set_expire(&[i], i64::from(i));
        }
        assert_eq!(d.active_expire(5, 3), 3);
        assert_eq!(d.active_expire(5, 100), 2);
        assert_eq!(d.active_expire(5, 100), 0);
        assert_eq!(d.len(), 5);
    }

    #[test]
    fn versions_move_on_touch() {
        let mut d = db();
        let v0 = d.watch(b"k");
        d.set(b"other", Value::Str(Vec::new()), false);
        assert_eq!(d.watched_version(b"k"), Some(v0));
        d.set(b"k", Value::Str(Vec::new()), false);
        assert_ne!(d.watched_version(b"k"), Some(v0));
        d.unwatch(b"k");
        assert_eq!(d.watched_version(b"k"), None);
    }
}
