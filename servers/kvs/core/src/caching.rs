//! Client-side caching, as Redis 6 and 7 do it (`CLIENT TRACKING`): which
//! sessions read which keys, which watch key prefixes, and the
//! invalidations a change of a key owes them.
//!
//! It lives in the store because only the store sees reads and changes
//! in one order: a front end that recorded reads itself could record one
//! after the invalidation of an earlier change had passed, and keep a
//! value cached that nothing would ever invalidate. Delivery (a push in
//! RESP3, a message on `__redis__:invalidate` for a redirection) is the
//! front end's.
//!
//! - **Default mode.** The keys of every read-only command a tracking
//!   session runs (with OPTIN, only right after `CLIENT CACHING yes`;
//!   with OPTOUT, not right after `CLIENT CACHING no`) are remembered for
//!   it. A change of such a key owes each of its readers one invalidation
//!   of that key, and forgets them: they must read it again to hear of
//!   the next change.
//! - **BCAST.** A session hears of every change of a key under one of its
//!   prefixes (the empty prefix: every key), read or not; the changes
//!   since the last [`Caching::take`] come in one invalidation per prefix,
//!   their keys sorted and once each.
//! - **NOLOOP.** A session does not hear of its own changes.
//! - **Flushes.** FLUSHDB and FLUSHALL owe every tracking session an
//!   invalidation of everything (no keys), and forget every read.
//!
//! The table of read keys holds at most `tracking-table-max-keys` keys
//! (0: no limit); past it, the oldest keys are invalidated as if changed,
//! as Redis evicts keys from its table.

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::vec::Vec;

/// How a session tracks (`CLIENT TRACKING on` and its options).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mode {
    /// BCAST: every change under `prefixes`, read or not.
    pub bcast: bool,
    /// BCAST's prefixes (none: every key).
    pub prefixes: Vec<Vec<u8>>,
    /// OPTIN: only keys read right after `CLIENT CACHING yes`.
    pub optin: bool,
    /// OPTOUT: keys read except right after `CLIENT CACHING no`.
    pub optout: bool,
    /// NOLOOP: not its own changes.
    pub noloop: bool,
}

/// An invalidation owed to a tracking session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalidation {
    /// The session (its store id, [`crate::Session::id`]).
    pub session: u64,
    /// The keys changed; `None` for everything (a flush).
    pub keys: Option<Vec<Vec<u8>>>,
}

/// One tracking session.
#[derive(Debug)]
struct Tracker {
    mode: Mode,
    /// `CLIENT CACHING yes|no` before its next command.
    caching: Option<bool>,
}

/// Every tracking session and what each is owed.
#[derive(Debug, Default)]
pub(crate) struct Caching {
    sessions: BTreeMap<u64, Tracker>,
    /// Default mode: each key read, when it entered the table, and who
    /// read it.
    readers: BTreeMap<Vec<u8>, (u64, BTreeSet<u64>)>,
    /// The read keys with when they entered, oldest first, for the
    /// table's limit (a key read again keeps its place). A key changed
    /// since stays until it reaches the front or such keys outnumber the
    /// table's.
    order: VecDeque<(u64, Vec<u8>)>,
    /// When the next key enters the table.
    entered: u64,
    /// BCAST: each prefix and who watches it.
    prefixes: BTreeMap<Vec<u8>, BTreeSet<u64>>,
    /// BCAST: changed keys per prefix since the last take, each with the
    /// session that changed it last (0: none).
    changed: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, u64>>,
    /// Invalidations owed, in order.
    owed: Vec<Invalidation>,
}

impl Caching {
    /// Whether changes matter: some session tracks, or some key read is
    /// still in the table (a change must clear it, as in Redis, whose
    /// table outlives the tracking of the sessions that filled it: one
    /// that tracks again hears of the keys it read before, unless they
    /// changed in between). The databases report changes while so.
    pub(crate) fn active(&self) -> bool {
        !self.sessions.is_empty() || !self.readers.is_empty()
    }

    /// Session `id` tracks as `mode` (replacing how it tracked; BCAST
    /// prefixes are added to those it had, and a `CLIENT CACHING` said
    /// stays), or stops (`None`).
    pub(crate) fn set(&mut self, id: u64, mode: Option<Mode>) {
        let old = self.sessions.remove(&id);
        let caching = old.as_ref().and_then(|t| t.caching);
        let Some(mut mode) = mode else {
            self.forget(id, old.map(|t| t.mode.prefixes).unwrap_or_default());
            return;
        };
        if mode.bcast {
            if mode.prefixes.is_empty() {
                mode.prefixes.push(Vec::new());
            }
            let mut all = old.map(|t| t.mode.prefixes).unwrap_or_default();
            for p in core::mem::take(&mut mode.prefixes) {
                if !all.contains(&p) {
                    all.push(p);
                }
            }
            all.sort();
            for p in &all {
                self.prefixes.entry(p.clone()).or_default().insert(id);
            }
            mode.prefixes = all;
        }
        self.sessions.insert(id, Tracker { mode, caching });
    }

    /// Takes session `id` off the prefixes it watched (its reads are
    /// forgotten lazily: an invalidation for a session gone is dropped).
    fn forget(&mut self, id: u64, prefixes: Vec<Vec<u8>>) {
        for p in prefixes {
            if let Some(ids) = self.prefixes.get_mut(&p) {
                ids.remove(&id);
                if ids.is_empty() {
                    self.prefixes.remove(&p);
                }
            }
        }
    }

    /// `CLIENT CACHING yes|no` for session `id`'s next command (`None`:
    /// no more).
    pub(crate) fn caching(&mut self, id: u64, said: Option<bool>) {
        if let Some(t) = self.sessions.get_mut(&id) {
            t.caching = said;
        }
    }

    /// A command of session `id` ended (outside MULTI): its CACHING
    /// flag goes.
    pub(crate) fn command_done(&mut self, id: u64) {
        if let Some(t) = self.sessions.get_mut(&id) {
            t.caching = None;
        }
    }

    /// Session `id` ran a read-only command on `keys`.
    pub(crate) fn read(&mut self, id: u64, keys: &[&[u8]], max_keys: usize) {
        let Some(t) = self.sessions.get(&id) else {
            return;
        };
        let m = &t.mode;
        if m.bcast || (m.optin && t.caching != Some(true)) || (m.optout && t.caching == Some(false))
        {
            return;
        }
        for &key in keys {
            let (order, entered) = (&mut self.order, &mut self.entered);
            let (_, readers) = self.readers.entry(key.to_vec()).or_insert_with(|| {
                *entered += 1;
                order.push_back((*entered, key.to_vec()));
                (*entered, BTreeSet::new())
            });
            readers.insert(id);
        }
        let current = |readers: &BTreeMap<Vec<u8>, (u64, BTreeSet<u64>)>,
                       (when, key): &(u64, Vec<u8>)| {
            readers.get(key).is_some_and(|(w, _)| w == when)
        };
        while max_keys > 0 && self.readers.len() > max_keys {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if current(&self.readers, &oldest) {
                self.changed_key(&oldest.1, 0);
            }
        }
        if self.order.len() > 2 * self.readers.len() + 64 {
            let readers = &self.readers;
            self.order.retain(|entry| current(readers, entry));
        }
    }

    /// `key` changed (by session `by`; 0: none): its readers are owed an
    /// invalidation, and BCAST's prefixes note it.
    pub(crate) fn changed_key(&mut self, key: &[u8], by: u64) {
        if let Some((_, readers)) = self.readers.remove(key) {
            for id in readers {
                let heard = self
                    .sessions
                    .get(&id)
                    .is_some_and(|t| !(t.mode.bcast || t.mode.noloop && id == by));
                if heard {
                    self.owed.push(Invalidation {
                        session: id,
                        keys: Some(alloc::vec![key.to_vec()]),
                    });
                }
            }
        }
        for end in 0..=key.len() {
            if self.prefixes.contains_key(&key[..end]) {
                self.changed
                    .entry(key[..end].to_vec())
                    .or_default()
                    .insert(key.to_vec(), by);
            }
        }
    }

    /// A database was flushed: every tracking session is owed an
    /// invalidation of everything, and every read is forgotten.
    pub(crate) fn flushed(&mut self) {
        self.readers.clear();
        self.order.clear();
        self.changed.clear();
        self.owed.retain(|i| i.keys.is_none());
        for &id in self.sessions.keys() {
            if !self.owed.iter().any(|i| i.session == id) {
                self.owed.push(Invalidation {
                    session: id,
                    keys: None,
                });
            }
        }
    }

    /// The invalidations owed since the last call: the default mode's in
    /// the order the changes came, then BCAST's, one per session and
    /// prefix, in the prefixes' order.
    pub(crate) fn take(&mut self) -> Vec<Invalidation> {
        let mut out = core::mem::take(&mut self.owed);
        for (prefix, keys) in core::mem::take(&mut self.changed) {
            let Some(ids) = self.prefixes.get(&prefix) else {
                continue;
            };
            for &id in ids {
                let noloop = self.sessions.get(&id).is_some_and(|t| t.mode.noloop);
                let heard: Vec<Vec<u8>> = keys
                    .iter()
                    .filter(|&(_, &by)| !(noloop && by == id))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !heard.is_empty() {
                    out.push(Invalidation {
                        session: id,
                        keys: Some(heard),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(list: &[&str]) -> Option<Vec<Vec<u8>>> {
        Some(list.iter().map(|k| k.as_bytes().to_vec()).collect())
    }

    fn inv(session: u64, list: &[&str]) -> Invalidation {
        Invalidation {
            session,
            keys: keys(list),
        }
    }

    #[test]
    fn a_read_key_is_invalidated_once() {
        let mut c = Caching::default();
        c.set(1, Some(Mode::default()));
        c.set(2, Some(Mode::default()));
        c.read(1, &[b"k", b"j"], 0);
        c.read(2, &[b"k"], 0);
        c.changed_key(b"k", 3);
        c.changed_key(b"k", 3);
        assert_eq!(c.take(), [inv(1, &["k"]), inv(2, &["k"])]);
        c.changed_key(b"x", 3);
        assert_eq!(c.take(), []);
    }

    #[test]
    fn optin_optout_and_noloop() {
        let mut c = Caching::default();
        let optin = Mode {
            optin: true,
            ..Mode::default()
        };
        c.set(1, Some(optin));
        c.read(1, &[b"a"], 0);
        c.caching(1, Some(true));
        c.read(1, &[b"b"], 0);
        c.command_done(1);
        c.read(1, &[b"c"], 0);
        let noloop = Mode {
            optout: true,
            noloop: true,
            ..Mode::default()
        };
        c.set(2, Some(noloop));
        c.caching(2, Some(false));
        c.read(2, &[b"a"], 0);
        c.command_done(2);
        c.read(2, &[b"b"], 0);
        for k in ["a", "b", "c"] {
            c.changed_key(k.as_bytes(), 2);
        }
        assert_eq!(c.take(), [inv(1, &["b"])]);
    }

    #[test]
    fn bcast_gathers_keys_per_prefix() {
        let mut c = Caching::default();
        let bcast = |prefixes: &[&str]| Mode {
            bcast: true,
            prefixes: prefixes.iter().map(|p| p.as_bytes().to_vec()).collect(),
            ..Mode::default()
        };
        c.set(1, Some(bcast(&["user:", "job:"])));
        c.set(2, Some(bcast(&[])));
        for k in ["user:2", "job:1", "user:1", "user:2", "other"] {
            c.changed_key(k.as_bytes(), 9);
        }
        assert_eq!(
            c.take(),
            [
                inv(2, &["job:1", "other", "user:1", "user:2"]),
                inv(1, &["job:1"]),
                inv(1, &["user:1", "user:2"]),
            ]
        );
        c.set(1, None);
        c.changed_key(b"user:3", 9);
        assert_eq!(c.take(), [inv(2, &["user:3"])]);
    }

    #[test]
    fn a_flush_invalidates_everything_once() {
        let mut c = Caching::default();
        c.set(1, Some(Mode::default()));
        c.read(1, &[b"k"], 0);
        c.changed_key(b"k", 0);
        c.flushed();
        c.flushed();
        assert_eq!(
            c.take(),
            [Invalidation {
                session: 1,
                keys: None
            }]
        );
        c.changed_key(b"k", 0);
        assert_eq!(c.take(), []);
    }

    #[test]
    fn the_table_keeps_its_limit() {
        let mut c = Caching::default();
        c.set(1, Some(Mode::default()));
        c.read(1, &[b"a", b"b"], 2);
        c.read(1, &[b"a", b"c"], 2);
        assert_eq!(c.take(), [inv(1, &["a"])]);
        assert_eq!(c.readers.len(), 2);
        let order: Vec<&[u8]> = c.order.iter().map(|(_, k)| k.as_slice()).collect();
        assert_eq!(order, [b"b", b"c"]);
        // A key changed, then read again, is not evicted for its old place.
        c.changed_key(b"b", 0);
        c.read(1, &[b"b", b"d"], 2);
        assert_eq!(c.take(), [inv(1, &["b"]), inv(1, &["c"])]);
    }
}
