//! A property test of blocked sessions with invariants checked after
//! every step: random clients push, pop, block, time out, are unblocked
//! and go away, and after each command
//!
//! - no session waits while one of its keys holds what it waits for (a
//!   missed wake-up would leave it waiting for ever);
//! - every element pushed is in exactly one place: still in a key, or in
//!   exactly one reply (no element lost, none handed out twice);
//! - a session the store says is blocked got no reply since it blocked,
//!   and one that is not has had exactly one reply per command.
//!
//! The seed is proptest's (failures shrink and replay from
//! `blocking_model.proptest-regressions`).

use std::collections::BTreeMap;

use kvs_core::{Reply, Session, Store};
use proptest::prelude::*;

const KEYS: [&[u8]; 3] = [b"a", b"b", b"c"];
const CLIENTS: usize = 5;

#[derive(Clone, Debug)]
enum Step {
    /// Client `who` pushes a fresh element onto `key` (left or right).
    Push { who: usize, key: usize, left: bool },
    /// Client `who` adds a fresh member to sorted set `key` (as `z<key>`).
    Zadd { who: usize, key: usize },
    /// Client `who` runs a blocking pop over `keys`.
    Block {
        who: usize,
        keys: Vec<usize>,
        kind: u8,
        timeout: u8,
    },
    /// Time passes (timeouts fire).
    Tick { ms: u64 },
    /// Client `target` is unblocked by CLIENT UNBLOCK.
    Unblock { target: usize, error: bool },
    /// Client `who` goes away (and comes back as a new session).
    Leave { who: usize },
    /// A transaction of pushes.
    Multi { who: usize, keys: Vec<usize> },
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0..CLIENTS;
    let key = 0..KEYS.len();
    prop_oneof![
        3 => (who.clone(), key.clone(), any::<bool>())
            .prop_map(|(who, key, left)| Step::Push { who, key, left }),
        1 => (who.clone(), key.clone()).prop_map(|(who, key)| Step::Zadd { who, key }),
        4 => (who.clone(), proptest::collection::vec(key.clone(), 1..3), 0u8..6, 0u8..3)
            .prop_map(|(who, keys, kind, timeout)| Step::Block { who, keys, kind, timeout }),
        1 => (1u64..3000).prop_map(|ms| Step::Tick { ms }),
        1 => (who.clone(), any::<bool>()).prop_map(|(target, error)| Step::Unblock { target, error }),
        1 => who.clone().prop_map(|who| Step::Leave { who }),
        1 => (who, proptest::collection::vec(key, 1..4)).prop_map(|(who, keys)| Step::Multi { who, keys }),
    ]
}

/// The test's world: the store, its clients, and the elements made.
struct World {
    store: Store,
    sessions: Vec<Session>,
    next_id: u64,
    now: u64,
    next_value: u64,
    /// Replies each session got (by session id).
    replies: BTreeMap<u64, usize>,
    /// Commands each session sent.
    sent: BTreeMap<u64, usize>,
    /// Elements taken out by replies (each must appear once).
    taken: BTreeMap<Vec<u8>, usize>,
    /// What each blocked session waits on: list keys or zset keys.
    waits: BTreeMap<u64, (Vec<Vec<u8>>, bool)>,
    /// Blocked sessions whose reply names an element moved, not taken
    /// (BLMOVE, BRPOPLPUSH).
    moving: std::collections::BTreeSet<u64>,
    admin: Session,
}

impl World {
    fn new() -> World {
        let mut w = World {
            store: Store::with_seed(3),
            sessions: Vec::new(),
            next_id: 1,
            now: 1_700_000_000_000,
            next_value: 0,
            replies: BTreeMap::new(),
            sent: BTreeMap::new(),
            taken: BTreeMap::new(),
            waits: BTreeMap::new(),
            moving: Default::default(),
            admin: Session::new(),
        };
        for _ in 0..CLIENTS {
            let s = w.session();
            w.sessions.push(s);
        }
        w
    }

    fn session(&mut self) -> Session {
        let mut s = Session::with_id(self.next_id);
        s.set_may_block(true);
        self.next_id += 1;
        s
    }

    /// Whether client `who` may send (a waiting one sends nothing).
    fn free(&self, who: usize) -> bool {
        !self.store.is_blocked(&self.sessions[who])
    }

    fn value(&mut self) -> Vec<u8> {
        self.next_value += 1;
        format!("v{}", self.next_value).into_bytes()
    }

    /// Every element a reply holds (bulk strings that are values).
    fn collect(&mut self, reply: &Reply) {
        match reply {
            Reply::Bulk(Some(b)) if b.starts_with(b"v") => {
                *self.taken.entry(b.clone()).or_default() += 1;
            }
            Reply::Array(Some(items)) => {
                for i in items {
                    self.collect(i);
                }
            }
            _ => {}
        }
    }

    fn run(&mut self, who: usize, args: &[&[u8]]) {
        let id = self.sessions[who].id();
        if self.store.is_blocked(&self.sessions[who]) {
            return; // a front end sends nothing for a waiting session
        }
        *self.sent.entry(id).or_default() += 1;
        let reply = self.store.execute(&mut self.sessions[who], args, self.now);
        let moves = args[0] == b"BLMOVE" || args[0] == b"BRPOPLPUSH";
        if self.store.is_blocked(&self.sessions[who]) {
            let keys: Vec<Vec<u8>> = args[1..args.len() - 1].iter().map(|k| k.to_vec()).collect();
            let zset = args[0].starts_with(b"BZ");
            self.waits.insert(id, (keys, zset));
            if moves {
                self.moving.insert(id);
            }
        } else {
            *self.replies.entry(id).or_default() += 1;
            if !moves {
                self.collect(&reply);
            }
        }
        self.answered();
    }

    fn answered(&mut self) {
        for (id, reply) in self.store.take_answered() {
            self.waits.remove(&id);
            *self.replies.entry(id).or_default() += 1;
            if !self.moving.remove(&id) {
                self.collect(&reply);
            }
        }
    }

    fn admin(&mut self, args: &[&[u8]]) -> Reply {
        self.store.execute(&mut self.admin, args, self.now)
    }

    /// The invariants of the module's header.
    fn check(&mut self) -> Result<(), TestCaseError> {
        // No missed wake-up.
        for (id, (keys, zset)) in self.waits.clone() {
            for k in keys {
                let kind = if zset { "zset" } else { "list" };
                let t = self.admin(&[b"TYPE", &k]);
                prop_assert_ne!(
                    t,
                    Reply::simple(kind),
                    "session {} waits on {:?}, which holds a {}",
                    id,
                    String::from_utf8_lossy(&k),
                    kind
                );
            }
        }
        // Replies: one per command but for a wait in progress.
        for s in &self.sessions {
            let id = s.id();
            let sent = self.sent.get(&id).copied().unwrap_or(0);
            let got = self.replies.get(&id).copied().unwrap_or(0);
            let waiting = usize::from(self.store.is_blocked(s));
            prop_assert_eq!(sent, got + waiting, "session {}", id);
        }
        // Conservation: every element is in a key or taken once.
        let mut present: BTreeMap<Vec<u8>, usize> = BTreeMap::new();
        for k in KEYS {
            for (read, key) in [
                (&[&b"LRANGE"[..], k, b"0", b"-1"][..], k.to_vec()),
                (&[&b"ZRANGE"[..], b"", b"0", b"-1"][..], [b"z", k].concat()),
            ] {
                let mut args: Vec<&[u8]> = read.to_vec();
                args[1] = &key;
                if let Reply::Array(Some(items)) = self.admin(&args) {
                    for i in items {
                        if let Reply::Bulk(Some(b)) = i {
                            *present.entry(b).or_default() += 1;
                        }
                    }
                }
            }
        }
        for (v, n) in &self.taken {
            prop_assert_eq!(
                *n,
                1,
                "{:?} handed out {} times",
                String::from_utf8_lossy(v),
                n
            );
            prop_assert!(
                !present.contains_key(v),
                "{:?} both taken and present",
                String::from_utf8_lossy(v)
            );
        }
        let made = self.next_value as usize;
        prop_assert_eq!(
            present.len() + self.taken.len(),
            made,
            "an element was lost"
        );
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn blocked_sessions_keep_their_invariants(steps in proptest::collection::vec(step(), 1..120)) {
        let mut w = World::new();
        for s in steps {
            let who_of = match &s {
                Step::Push { who, .. } | Step::Zadd { who, .. } | Step::Block { who, .. } | Step::Multi { who, .. } => Some(*who),
                _ => None,
            };
            if who_of.is_some_and(|who| !w.free(who)) {
                continue;
            }
            match s {
                Step::Push { who, key, left } => {
                    let v = w.value();
                    let cmd: &[u8] = if left { b"LPUSH" } else { b"RPUSH" };
                    w.run(who, &[cmd, KEYS[key], &v]);
                }
                Step::Zadd { who, key } => {
                    let v = w.value();
                    let z = [b"z", KEYS[key]].concat();
                    w.run(who, &[b"ZADD", &z, b"1", &v]);
                }
                Step::Block { who, keys, kind, timeout } => {
                    let t: &[u8] = [&b"0"[..], b"1", b"0.5"][timeout as usize];
                    let names: Vec<Vec<u8>> = keys.iter().map(|&k| KEYS[k].to_vec()).collect();
                    let znames: Vec<Vec<u8>> = keys.iter().map(|&k| [b"z", KEYS[k]].concat()).collect();
                    let mut args: Vec<&[u8]> = Vec::new();
                    match kind {
                        0 => args.push(b"BLPOP"),
                        1 => args.push(b"BRPOP"),
                        2 | 3 => args.push(if kind == 2 { &b"BZPOPMIN"[..] } else { b"BZPOPMAX" }),
                        4 => {
                            // BLMOVE from the first key to the last.
                            args.extend([&b"BLMOVE"[..], &names[0], &names[names.len() - 1], b"LEFT", b"RIGHT"]);
                        }
                        _ => {
                            args.extend([&b"BRPOPLPUSH"[..], &names[0], &names[names.len() - 1]]);
                        }
                    }
                    if kind < 2 {
                        args.extend(names.iter().map(Vec::as_slice));
                    } else if kind < 4 {
                        args.extend(znames.iter().map(Vec::as_slice));
                    }
                    args.push(t);
                    w.run(who, &args);
                    // BLMOVE's waits are on its source alone.
                    if kind >= 4 {
                        let id = w.sessions[who].id();
                        if let Some(wait) = w.waits.get_mut(&id) {
                            wait.0 = vec![names[0].clone()];
                        }
                    }
                }
                Step::Tick { ms } => {
                    w.now += ms;
                    w.store.expire_blocked(w.now);
                    w.answered();
                }
                Step::Unblock { target, error } => {
                    let id = w.sessions[target].id();
                    let was = w.store.is_blocked(&w.sessions[target]);
                    prop_assert_eq!(w.store.unblock(id, error), was);
                    w.answered();
                }
                Step::Leave { who } => {
                    let mut gone = std::mem::replace(&mut w.sessions[who], Session::new());
                    let id = gone.id();
                    w.store.release(&mut gone);
                    w.waits.remove(&id);
                    w.moving.remove(&id);
                    w.sent.remove(&id);
                    w.replies.remove(&id);
                    prop_assert!(w.store.take_answered().is_empty(), "a session gone is answered nothing");
                    w.sessions[who] = w.session();
                }
                Step::Multi { who, keys } => {
                    w.run(who, &[b"MULTI"]);
                    for k in keys {
                        let v = w.value();
                        w.run(who, &[b"RPUSH", KEYS[k], &v]);
                    }
                    w.run(who, &[b"EXEC"]);
                }
            }
            w.check()?;
        }
    }
}
