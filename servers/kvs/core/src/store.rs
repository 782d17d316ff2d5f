//! The store (16 databases), client sessions, dispatch and transactions.

use alloc::string::String;
use alloc::vec::Vec;

use crate::blocking::Blocking;
use crate::caching::Caching;
use crate::cmd::{self, Kind};
use crate::command::Flag;
use crate::config::{self, Table};
use crate::db::Db;
use crate::encoding::Thresholds;
use crate::hash::{Rng, SeededState};
use crate::memory::{self, Gauge, Limits, Memory, Policy, ReplyBudget, Room};
use crate::reply::{
    DISCARD_WITHOUT_MULTI, EXEC_WITHOUT_MULTI, EXECABORT, MULTI_NESTED, NOT_IN_MULTI, Protocol,
    Reply, WATCH_IN_MULTI,
};

/// Number of logical databases (`SELECT 0` .. `SELECT 15`).
pub const DATABASES: usize = 16;

/// The seed [`Store::new`] uses.
pub const DEFAULT_SEED: u64 = 0x5EED_BA5A_17C0_FFEE;

/// The whole key space: 16 databases, the PRNG and the hash seed, and
/// the memory limits with the parameters `CONFIG` sets.
#[derive(Debug)]
pub struct Store {
    dbs: Vec<Db>,
    rng: Rng,
    memory: Memory,
    reply: ReplyBudget,
    config: Table,
    /// The memcached front end's items, a namespace of their own.
    mc: crate::mc::Items,
    /// The blocked sessions.
    blocking: Blocking,
    /// The keyspace events `notify-keyspace-events` publishes (none: no
    /// event is noted).
    notify: crate::notify::Classes,
    /// Client-side caching: the tracking sessions and what they are owed.
    caching: Caching,
    /// `tracking-table-max-keys`.
    tracking_max: usize,
    /// The Lua state and the scripts it compiled (EVAL, SCRIPT).
    pub(crate) scripts: crate::script::Scripts,
    /// Whether the command being run found room to grow the data (what a
    /// script's own commands are held to).
    memory_ok: bool,
    /// A clock for scripts' time limit: a counter and its ticks per
    /// millisecond.
    script_clock: Option<(fn() -> u64, u64)>,
    /// `busy-reply-threshold`, in milliseconds.
    busy_ms: u64,
    /// Who decides what becomes of a script past the threshold.
    script_watch: Option<crate::Watch>,
}

/// One client's state: the selected database, the MULTI queue and the
/// WATCHed keys with the versions they had.
///
/// A session that WATCHed keys holds a reference in the store until EXEC,
/// DISCARD, UNWATCH or [`Store::release`]; call `release` when a client
/// goes away.
///
/// A session with an id ([`Session::with_id`]) that is let block
/// ([`Session::set_may_block`]) can wait in a blocking command (BLPOP,
/// …); any other answers those as if their timeout had passed, as Redis
/// does inside MULTI.
#[derive(Debug, Default)]
pub struct Session {
    db: usize,
    multi: Option<MultiState>,
    watched: Vec<Watched>,
    /// Its id among the store's sessions (0: none).
    id: u64,
    may_block: bool,
    /// What its replies are written in (its client's `HELLO`).
    protocol: Protocol,
}

#[derive(Debug, Default)]
struct MultiState {
    queue: Vec<Vec<Vec<u8>>>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    dirty: bool,
    /// A queued command may grow the data (EXEC is refused when out of
    /// memory).
    denyoom: bool,
}

#[derive(Debug)]
struct Watched {
    db: usize,
    key: Vec<u8>,
    version: u64,
}

impl Session {
    /// A new session on database 0.
    pub fn new() -> Session {
        Session::default()
    }

    /// A new session on database 0 with `id` (not 0), which no other
    /// session of the store has: what a blocked session is known by
    /// ([`Store::take_answered`], [`Store::unblock`]).
    pub fn with_id(id: u64) -> Session {
        Session {
            id,
            ..Session::default()
        }
    }

    /// Its id (0 for a session made with [`Session::new`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Lets its commands block (when it has an id), or not: the caller
    /// lets them where it can deliver a reply later.
    pub fn set_may_block(&mut self, on: bool) {
        self.may_block = on;
    }

    /// The protocol its replies are written in.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// Writes its replies in `protocol` from now on: its client said
    /// `HELLO 2` or `HELLO 3`, or `RESET`.
    pub fn set_protocol(&mut self, protocol: Protocol) {
        self.protocol = protocol;
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.db
    }

    /// Whether the session is inside MULTI.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Selects database `db` directly (for log replay; `db < DATABASES`).
    pub(crate) fn set_db(&mut self, db: usize) {
        self.db = db;
    }

    /// How many keys the session watches.
    pub fn watched_keys(&self) -> usize {
        self.watched.len()
    }
}

/// What a command handler sees: the databases, the selected one, the time,
/// the PRNG, the room it has to grow the data, and the memory state and
/// parameters (CONFIG, OBJECT, INFO).
pub(crate) struct Ctx<'a> {
    pub(crate) dbs: &'a mut [Db],
    pub(crate) db: usize,
    pub(crate) now: i64,
    pub(crate) rng: &'a mut Rng,
    pub(crate) room: Room,
    /// What the reply may still copy out of the data.
    pub(crate) reply: &'a ReplyBudget,
    pub(crate) memory: &'a mut Memory,
    pub(crate) config: &'a mut Table,
    /// Whether a blocking command may wait ...
    pub(crate) may_block: bool,
    /// ... and what it waits for, when it does.
    pub(crate) block: Option<crate::blocking::Block>,
}

impl Ctx<'_> {
    /// The selected database.
    pub(crate) fn db(&mut self) -> &mut Db {
        &mut self.dbs[self.db]
    }
}

impl Default for Store {
    fn default() -> Self {
        Store::new()
    }
}

impl Store {
    /// An empty store with the fixed [`DEFAULT_SEED`]. A server facing
    /// untrusted clients should use [`Store::with_seed`] with a random seed,
    /// which keys the hash tables against collision flooding.
    pub fn new() -> Store {
        Store::with_seed(DEFAULT_SEED)
    }

    /// An empty store whose hash tables and PRNG derive from `seed`.
    pub fn with_seed(seed: u64) -> Store {
        let state = SeededState::new(seed);
        let mut seeds = Rng::new(!seed);
        Store {
            dbs: (0..DATABASES)
                .map(|_| Db::new(state, seeds.next_u64()))
                .collect(),
            rng: Rng::new(seed),
            memory: Memory::default(),
            reply: ReplyBudget::default(),
            config: Table::new(config::STORE),
            mc: crate::mc::Items::new(SeededState::new(seed.rotate_left(17))),
            blocking: Blocking::default(),
            notify: crate::notify::Classes::none(),
            caching: Caching::default(),
            tracking_max: 1_000_000,
            scripts: crate::script::Scripts::new(seed.rotate_left(29)),
            memory_ok: true,
            script_clock: None,
            busy_ms: 5000,
            script_watch: None,
        }
    }

    /// Lends scripts a clock, `ticks` counting `per_ms` a millisecond, so
    /// that one running past `busy-reply-threshold` is noticed: stopped,
    /// or whatever the watch ([`set_script_watch`](Self::set_script_watch))
    /// says (without a clock, scripts have no time limit).
    pub fn set_script_clock(&mut self, ticks: fn() -> u64, per_ms: u64) {
        self.script_clock = Some((ticks, per_ms.max(1)));
    }

    /// Sets who decides, between a script's steps once it has run past
    /// `busy-reply-threshold`, whether it goes on, stops or is killed
    /// ([`crate::script::watch`]). Without one it stops.
    pub fn set_script_watch(&mut self, watch: crate::Watch) {
        self.script_watch = Some(watch);
    }

    /// What the watch says of a script past the threshold (stop, without
    /// a watch).
    pub(crate) fn overtime(&mut self, over: &crate::Overtime) -> crate::Verdict {
        self.script_watch
            .as_mut()
            .map_or(crate::Verdict::Stop, |w| (w.0)(over))
    }

    /// A script's time limit from now (none without a clock or with
    /// `busy-reply-threshold 0`).
    pub(crate) fn script_deadline(&self) -> Option<crate::script::Deadline> {
        let (clock, per_ms) = self.script_clock?;
        let threshold_ms = self.busy_ms;
        (threshold_ms > 0).then(|| crate::script::Deadline {
            clock,
            per_ms,
            threshold_ms,
            at: clock().saturating_add(threshold_ms.saturating_mul(per_ms)),
        })
    }

    /// Notes for the log that the function libraries changed.
    pub(crate) fn note_functions(&mut self) {
        self.dbs[0].journal_functions();
    }

    /// The room the store has to grow.
    pub(crate) fn room(&self) -> Room {
        self.memory.room
    }

    /// `FUNCTION RESTORE <payload> FLUSH` of every library (a payload of
    /// none when there are none): what the log writes for any change to
    /// them, and what a compaction starts with.
    pub fn functions_command(&self) -> [Vec<u8>; 4] {
        [
            b"FUNCTION".to_vec(),
            b"RESTORE".to_vec(),
            self.scripts.functions.dump(),
            b"FLUSH".to_vec(),
        ]
    }

    /// Whether there are function libraries.
    pub fn has_functions(&self) -> bool {
        !self.scripts.functions.is_empty()
    }

    /// Whether `bytes` more fit in the memory the store may use.
    pub(crate) fn room_fits(&self, bytes: usize) -> bool {
        self.memory.room.fits(bytes)
    }

    /// Lets a script's calls use `bytes` of the machine stack (1 MiB
    /// unless set): the thread's stack less what the server needs around
    /// the store. Past it a script fails with `stack overflow`.
    pub fn set_script_stack(&mut self, bytes: usize) {
        self.scripts.set_stack_limit(bytes);
    }

    /// The memcached items at time `now_ms` (ms since the Unix epoch),
    /// within the store's memory budget ([`crate::mc`]).
    pub fn memcached(&mut self, now_ms: u64) -> crate::mc::Cache<'_> {
        crate::mc::Cache {
            items: &mut self.mc,
            now: now_ms / 1000,
            room: self.memory.room,
            maxmemory: self.memory.limits.maxmemory,
        }
    }

    /// The memcached items' settings (`limit_maxbytes`).
    pub fn memcached_items(&mut self) -> &mut crate::mc::Items {
        &mut self.mc
    }

    /// Lends the store a gauge of the memory in use, and the most it may
    /// use (`ceiling`, the memory its runner can spare for data): from
    /// now on `maxmemory` is enforced ([`crate::memory`]); above the
    /// ceiling the store is out of memory whatever `maxmemory` says, and
    /// a command that would grow the data past the ceiling, or work out a
    /// large result there, is refused instead of allocating. The runner
    /// keeps room above the ceiling for the growth one command makes
    /// after the check (its arguments' size), for a reply of the reply
    /// limit ([`set_reply_limit`](Self::set_reply_limit)), built and
    /// encoded, and for 1 MiB of working memory.
    pub fn set_memory(&mut self, gauge: Gauge, ceiling: u64) {
        self.memory.room = Room {
            gauge: Some(gauge),
            ceiling,
            uncounted: 0,
        };
    }

    /// Refuses (with [`memory::REPLY_TOO_LARGE`]) a command whose reply
    /// would copy more than `bytes` out of the data, before it copies
    /// any: what its runner can send. A transaction's replies count
    /// together.
    pub fn set_reply_limit(&mut self, bytes: usize) {
        self.reply.limit = bytes;
    }

    /// Leaves `bytes` of the memory in use out of what `maxmemory` and
    /// the ceiling limit: the runner's buffers (the request, replies, the
    /// log's), which evicting keys would not shrink and which it keeps
    /// room for above the ceiling. Set it before each command.
    pub fn set_uncounted(&mut self, bytes: u64) {
        self.memory.room.uncounted = bytes;
    }

    /// The memory in use, if the store has a gauge.
    pub fn used_memory(&self) -> Option<u64> {
        self.memory.room.used()
    }

    /// The memory parameters as `CONFIG SET` left them.
    pub fn limits(&self) -> Limits {
        self.memory.limits
    }

    /// Sets store parameter `name` (`maxmemory`, `maxmemory-policy`, …;
    /// see [`config::STORE`]) as `CONFIG SET` would: how the component
    /// applies its configuration.
    pub fn configure(&mut self, name: &str, value: &str) -> Result<(), config::ConfigError> {
        self.config.set(name, value)?;
        self.apply_config();
        Ok(())
    }

    /// Keys deleted to free memory so far (`evicted_keys`).
    pub fn evicted_keys(&self) -> u64 {
        self.memory.evicted
    }

    /// Makes the typed limits and the databases' access tracking follow
    /// the parameter table.
    fn apply_config(&mut self) {
        self.memory.limits = limits_of(&self.config);
        self.busy_ms = self
            .config
            .get("busy-reply-threshold")
            .and_then(|v| v.parse().ok())
            .unwrap_or(5000);
        self.tracking_max = self
            .config
            .get("tracking-table-max-keys")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000);
        let tracking = self.memory.limits.tracking();
        let thresholds = thresholds_of(&self.config, &self.memory.limits);
        let classes = self
            .config
            .get("notify-keyspace-events")
            .and_then(|v| crate::notify::Classes::parse(v.as_bytes()))
            .unwrap_or_default();
        // Nothing is noted unless something would be published.
        self.notify = if classes.publishes() {
            classes
        } else {
            crate::notify::Classes::none()
        };
        for db in &mut self.dbs {
            db.tracking = tracking;
            db.thresholds = thresholds;
            db.notes.on = self.notify;
            if self.notify == crate::notify::Classes::none() {
                db.notes.events.clear();
            }
        }
        self.memory.clear_pool();
    }

    /// The keyspace events raised since the last call (by commands, and
    /// by expiry and eviction between them), in order, with the classes
    /// `notify-keyspace-events` publishes ([`crate::notify::Event::messages`]).
    /// Empty while it publishes nothing.
    pub fn take_events(&mut self) -> (crate::notify::Classes, Vec<crate::notify::Event>) {
        let mut noted = Vec::new();
        if self.notify.publishes() {
            for (db, d) in self.dbs.iter_mut().enumerate() {
                noted.extend(d.notes.events.drain(..).map(|(seq, class, name, key)| {
                    (
                        seq,
                        crate::notify::Event {
                            db,
                            class,
                            name,
                            key,
                        },
                    )
                }));
            }
        }
        noted.sort_by_key(|&(seq, _)| seq);
        (self.notify, noted.into_iter().map(|(_, e)| e).collect())
    }

    /// Number of keys in database `db` (expired keys not yet removed
    /// included, as Redis's DBSIZE).
    pub fn dbsize(&self, db: usize) -> usize {
        self.dbs.get(db).map_or(0, Db::len)
    }

    /// Active expiry: removes up to `budget` keys whose expiry has passed,
    /// across all databases, oldest expiry first; returns how many. Call it
    /// periodically (Redis does about ten times a second).
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let now = clamp_now(now_ms);
        let mut done = 0;
        for db in &mut self.dbs {
            if done >= budget {
                break;
            }
            done += db.active_expire(now, budget - done);
        }
        done
    }

    /// When the next key expires (ms since the epoch): when an idle
    /// server should run [`active_expire`](Self::active_expire) next.
    pub fn next_expiry(&self) -> Option<u64> {
        self.dbs
            .iter()
            .filter_map(|db| db.soonest_expiry().map(|(t, _)| t))
            .min()
            .map(|t| u64::try_from(t).unwrap_or(0))
    }

    /// The databases, for the append-only log (`crate::aof`).
    pub(crate) fn dbs_mut(&mut self) -> &mut [Db] {
        &mut self.dbs
    }

    /// The databases, read-only.
    pub(crate) fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Database `db`'s keys, keys with an expiry and their mean time to
    /// live in milliseconds at `now_ms` (INFO keyspace's `keys`,
    /// `expires`, `avg_ttl`).
    pub fn keyspace(&self, db: usize, now_ms: u64) -> (usize, usize, u64) {
        let d = &self.dbs[db];
        (d.len(), d.volatile(), d.avg_ttl(clamp_now(now_ms)))
    }

    /// Ends a session: drops its transaction and its WATCHes.
    pub fn release(&mut self, session: &mut Session) {
        session.multi = None;
        self.unwatch_all(session);
        if session.id != 0 {
            self.stop_waiting(session.id);
            self.track(session, None);
        }
    }

    /// `CLIENT TRACKING`: `session` (one with an id) tracks the keys it
    /// reads as `mode` says, or stops (`None`); the invalidations it is
    /// owed come from [`take_invalidations`](Self::take_invalidations).
    /// The caller checks the options as Redis does (`CLIENT TRACKING`'s
    /// errors are the front end's).
    pub fn track(&mut self, session: &Session, mode: Option<crate::caching::Mode>) {
        if session.id == 0 {
            return;
        }
        self.drain_changes(0);
        self.caching.set(session.id, mode);
        self.report_changes();
    }

    /// Has the databases report changes while client-side caching needs
    /// them.
    fn report_changes(&mut self) {
        let active = self.caching.active();
        for db in &mut self.dbs {
            if active != db.changes.is_some() {
                db.changes = active.then(Vec::new);
            }
        }
    }

    /// `CLIENT CACHING yes|no` (`Some`): whether `session`'s next command
    /// (in OPTIN or OPTOUT mode) has its keys tracked; `None`: a command
    /// the store does not see (the front end's own) used it up.
    pub fn caching(&mut self, session: &Session, said: Option<bool>) {
        self.caching.caching(session.id, said);
    }

    /// The invalidations owed to tracking sessions since the last call
    /// (changes by commands, expiry, eviction and flushes), in order.
    pub fn take_invalidations(&mut self) -> Vec<crate::caching::Invalidation> {
        self.drain_changes(0);
        self.caching.take()
    }

    /// Hands the keys the databases saw change (and their flushes) to
    /// client-side caching, as changed by session `by` (0: none).
    fn drain_changes(&mut self, by: u64) {
        for db in &mut self.dbs {
            let Some(changes) = db.changes.as_mut().filter(|c| !c.is_empty()) else {
                continue;
            };
            for change in core::mem::take(changes) {
                match change {
                    Some(key) => self.caching.changed_key(&key, by),
                    None => self.caching.flushed(),
                }
            }
        }
        self.report_changes();
    }

    /// Whether `session` is blocked: its last command waits, and its
    /// reply comes from [`take_answered`](Self::take_answered). It must
    /// run no other command until then.
    pub fn is_blocked(&self, session: &Session) -> bool {
        session.id != 0 && self.blocking.get(session.id).is_some()
    }

    /// How many sessions are blocked (INFO's `blocked_clients`).
    pub fn blocked_sessions(&self) -> usize {
        self.blocking.len()
    }

    /// The replies of the sessions that stopped waiting since the last
    /// call (served, timed out or unblocked), by session id, in the order
    /// they stopped.
    pub fn take_answered(&mut self) -> Vec<(u64, Reply)> {
        core::mem::take(&mut self.blocking.answered)
    }

    /// Ends the waits whose timeout passed by `now_ms`: each is answered
    /// as its command answers a timeout ([`take_answered`](Self::take_answered));
    /// how many.
    pub fn expire_blocked(&mut self, now_ms: u64) -> usize {
        let mut n = 0;
        while let Some(id) = self.blocking.due(now_ms) {
            if let Some(w) = self.stop_waiting(id) {
                self.blocking.answered.push((id, w.op.timed_out()));
                n += 1;
            }
        }
        n
    }

    /// When the next wait times out ([`expire_blocked`](Self::expire_blocked)).
    pub fn next_block_deadline(&self) -> Option<u64> {
        self.blocking.next_deadline()
    }

    /// Ends session `id`'s wait as `CLIENT UNBLOCK` does: answered as a
    /// timeout, or with `-UNBLOCKED client unblocked via CLIENT UNBLOCK`
    /// when `error`. Whether it was blocked.
    pub fn unblock(&mut self, id: u64, error: bool) -> bool {
        let Some(w) = self.stop_waiting(id) else {
            return false;
        };
        let reply = if error {
            Reply::error("UNBLOCKED client unblocked via CLIENT UNBLOCK")
        } else {
            w.op.timed_out()
        };
        self.blocking.answered.push((id, reply));
        true
    }

    /// The commands that served blocked sessions since the last call
    /// (database, arguments), for the log: replaying them after the
    /// command that made their keys ready repeats what serving did.
    pub(crate) fn take_served(&mut self) -> Vec<(usize, Vec<Vec<u8>>)> {
        core::mem::take(&mut self.blocking.served)
    }

    /// Takes session `id` off the blocked ones and its keys' queues.
    fn stop_waiting(&mut self, id: u64) -> Option<crate::blocking::Waiter> {
        let w = self.blocking.remove(id)?;
        let db = &mut self.dbs[w.db];
        for key in &w.keys {
            if let Some(queue) = db.blocked.get_mut(key.as_slice()) {
                // Served sessions are at the front: O(1) for them.
                if let Some(at) = queue.iter().position(|&other| other == id) {
                    queue.remove(at);
                }
                if queue.is_empty() {
                    db.blocked.remove(key.as_slice());
                }
            }
        }
        Some(w)
    }

    /// Serves the sessions blocked on the keys that became ready, as the
    /// module `crate::blocking` describes, until no key is ready.
    fn serve_ready(&mut self, now: i64) {
        while let Some(db) = self.dbs.iter().position(|d| !d.ready.is_empty()) {
            for key in core::mem::take(&mut self.dbs[db].ready) {
                self.serve_key(db, &key, now);
            }
        }
    }

    /// Serves the sessions blocked on `key` of database `db`, in the order
    /// they blocked, while it holds something: the cost is the sessions
    /// served and those passed over (waiting for another type), not the
    /// queue's length.
    fn serve_key(&mut self, db: usize, key: &[u8], now: i64) {
        // Sessions passed over stay at the front, before `next`.
        let mut next = 0;
        loop {
            let Some(&id) = self.dbs[db].blocked.get(key).and_then(|q| q.get(next)) else {
                return;
            };
            let value = self.dbs[db].get(key, now);
            let stream = matches!(value, Some(crate::db::Value::Stream(_)));
            let Some(op) = self.blocking.get(id).map(|w| w.op.clone()) else {
                next += 1;
                continue;
            };
            // XREADGROUP's wait ends when its stream goes (deleted, or
            // now of another type), as in Redis 7.0: so a key that goes
            // has its queue walked, where one that holds something is
            // walked only as far as it serves.
            if matches!(op, crate::blocking::Op::ReadGroup { .. }) && !stream {
                self.stop_waiting(id);
                let gone = Reply::error("UNBLOCKED the stream key no longer exists");
                self.blocking.answered.push((id, gone));
                continue;
            }
            if !self.dbs[db].get(key, now).is_some_and(|v| op.wants(key, v)) {
                next += 1;
                continue;
            }
            self.reply.reset();
            if self.notify != crate::notify::Classes::none() {
                for d in &mut self.dbs {
                    d.notes.start(None);
                }
            }
            let mut ctx = self.ctx(db, now, false);
            let reply = cmd::blocking::serve(&mut ctx, &op, key);
            // A failure (BLMOVE onto a key of another type) changed
            // nothing, and ends the wait with the error, as in Redis.
            let command = op.command(key);
            if !reply.is_error() && !command.is_empty() {
                self.blocking.served.push((db, command));
            }
            self.stop_waiting(id);
            self.blocking.answered.push((id, reply));
        }
    }

    /// A handler's context in database `db`.
    fn ctx(&mut self, db: usize, now: i64, may_block: bool) -> Ctx<'_> {
        Ctx {
            dbs: &mut self.dbs,
            db,
            now,
            rng: &mut self.rng,
            room: self.memory.room,
            reply: &self.reply,
            memory: &mut self.memory,
            config: &mut self.config,
            may_block,
            block: None,
        }
    }

    /// Executes one command (`args[0]` is the name, case-insensitive) for
    /// `session` at time `now_ms` (milliseconds since the Unix epoch).
    ///
    /// First, with `maxmemory` set, keys are evicted until the memory in
    /// use is below it; if that fails, a command that may grow the data
    /// (and any command to be queued in MULTI, or an EXEC whose queue
    /// holds one) is refused with `-OOM`, as in Redis.
    pub fn execute(&mut self, session: &mut Session, args: &[&[u8]], now_ms: u64) -> Reply {
        let memory = self.evict(now_ms);
        self.execute_evicted(session, args, now_ms, memory)
    }

    /// [`execute`](Self::execute) once [`evict`](Self::evict) ran and
    /// said whether the store has `memory`: what the log does, to record
    /// the evictions apart from the command.
    pub fn execute_evicted(
        &mut self,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
        memory: bool,
    ) -> Reply {
        let reply = self.dispatch(session, args, now_ms, memory);
        if self.caching.active() {
            self.drain_changes(session.id);
            // Any command, refused ones too, uses up CLIENT CACHING,
            // unless it left the session in MULTI.
            if session.multi.is_none() {
                self.caching.command_done(session.id);
            }
        }
        reply
    }

    /// [`execute_evicted`](Self::execute_evicted) but for client-side
    /// caching's bookkeeping.
    fn dispatch(
        &mut self,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
        memory: bool,
    ) -> Reply {
        let now = clamp_now(now_ms);
        let Some(name) = args.first() else {
            return unknown_command(b"", &[]);
        };
        let Some(command) = cmd::lookup(name) else {
            flag_multi(session);
            return unknown_command(name, &args[1..]);
        };
        if !command.spec.arity_ok(args.len()) {
            flag_multi(session);
            return Reply::arity(command.spec.name);
        }
        if session.multi.is_some() && command.spec.has(Flag::NoMulti) {
            flag_multi(session);
            return Reply::error(NOT_IN_MULTI);
        }
        for db in &mut self.dbs {
            db.now = now;
        }
        self.reply.reset();
        if !memory {
            let refused = match (&session.multi, command.kind) {
                (Some(multi), Kind::Exec) => multi.denyoom,
                (Some(_), Kind::Discard) => false,
                (Some(_), _) => true,
                (None, _) => command.denyoom(),
            };
            if refused {
                if matches!(command.kind, Kind::Exec) {
                    session.multi = None;
                    self.unwatch_all(session);
                    let mut msg = String::from("EXECABORT Transaction discarded because of: ");
                    msg.push_str(memory::OOM);
                    return Reply::Error(msg);
                }
                flag_multi(session);
                return Reply::error(memory::OOM);
            }
        }
        let may_block = session.may_block && session.id != 0;
        if self.caching.active() {
            // Evictions and expiry before the command are nobody's.
            self.drain_changes(0);
        }
        self.memory_ok = memory;
        let reply = self.run(session, command, args, now, may_block);
        if self.caching.active() {
            self.drain_changes(session.id);
        }
        if self.dbs.iter().any(|d| !d.ready.is_empty()) {
            self.serve_ready(now);
        }
        reply
    }

    /// Whether [`evict`](Self::evict) would delete keys now: the data
    /// is past `maxmemory` under a policy that evicts.
    pub(crate) fn evicts(&self) -> bool {
        self.memory.limits.policy != Policy::NoEviction && self.memory.over_maxmemory()
    }

    /// Deletes keys by `maxmemory-policy` while the memory in use is over
    /// `maxmemory` (what [`execute`](Self::execute) does first); whether
    /// the store has memory: false when it is still over `maxmemory` with
    /// nothing left to evict, or over the ceiling whatever `maxmemory`
    /// says. The log calls it on its own, to record the deletions apart
    /// from the command that follows.
    pub fn evict(&mut self, now_ms: u64) -> bool {
        let now = clamp_now(now_ms);
        let under_max = self.memory.evict(&mut self.dbs, &mut self.rng, now);
        under_max && self.memory.room.fits(0)
    }

    /// Runs a command a script calls, found and checked by the script's
    /// host ([`crate::script`]), on the script's session; it never waits.
    pub(crate) fn run_from_script(
        &mut self,
        session: &mut Session,
        command: cmd::Command,
        args: &[&[u8]],
        now: i64,
    ) -> Reply {
        self.run(session, command, args, now, false)
    }

    /// Runs a command found and checked by [`execute`](Self::execute).
    fn run(
        &mut self,
        session: &mut Session,
        command: cmd::Command,
        args: &[&[u8]],
        now: i64,
        may_block: bool,
    ) -> Reply {
        if let Some(multi) = session.multi.as_mut()
            && !matches!(
                command.kind,
                Kind::Exec | Kind::Discard | Kind::Multi | Kind::Watch
            )
        {
            multi.queue.push(args.iter().map(|a| a.to_vec()).collect());
            multi.denyoom |= command.denyoom();
            return Reply::simple("QUEUED");
        }
        match command.kind {
            Kind::Multi => {
                if session.multi.is_some() {
                    return Reply::error(MULTI_NESTED);
                }
                session.multi = Some(MultiState::default());
                Reply::ok()
            }
            Kind::Exec => self.exec(session, now),
            Kind::Discard => match session.multi.take() {
                None => Reply::error(DISCARD_WITHOUT_MULTI),
                Some(_) => {
                    self.unwatch_all(session);
                    Reply::ok()
                }
            },
            Kind::Watch => {
                if session.multi.is_some() {
                    return Reply::error(WATCH_IN_MULTI);
                }
                for key in &args[1..] {
                    self.watch(session, key, now);
                }
                Reply::ok()
            }
            Kind::Unwatch => {
                self.unwatch_all(session);
                Reply::ok()
            }
            Kind::Eval(how) => {
                let memory = self.memory_ok;
                crate::script::eval(self, session, how, args, now, memory)
            }
            Kind::Script => crate::script::script(self, args),
            Kind::Fcall { read_only } => {
                let memory = self.memory_ok;
                crate::script::functions::fcall(self, session, read_only, args, now, memory)
            }
            Kind::Function => crate::script::functions::function(self, args, now),
            Kind::Normal(handler)
            | Kind::Configure(handler)
            | Kind::Caches(handler)
            | Kind::Waits(handler) => {
                if self.notify != crate::notify::Classes::none() {
                    let event = crate::notify::of_command(command.spec.name);
                    for db in &mut self.dbs {
                        db.notes.start(event);
                    }
                }
                let mut ctx = self.ctx(session.db, now, may_block);
                let reply = handler(&mut ctx, args);
                session.db = ctx.db;
                let block = ctx.block.take();
                if self.caching.active() && session.id != 0 {
                    // The command's changes (a lazy expiry among them)
                    // before its reads: a reader hears of changes after
                    // its read only.
                    self.drain_changes(session.id);
                    if command.spec.has(Flag::Readonly) {
                        let keys: Vec<&[u8]> = command
                            .spec
                            .keys
                            .positions(args)
                            .into_iter()
                            .filter_map(|i| args.get(i).copied())
                            .collect();
                        self.caching.read(session.id, &keys, self.tracking_max);
                    }
                }
                if let Some(block) = block {
                    let now_ms = u64::try_from(now).unwrap_or(0);
                    let (id, db) = (session.id, session.db);
                    // A session waits once: a new wait replaces an old one.
                    self.stop_waiting(id);
                    let keys = self.blocking.park(id, db, block, now_ms);
                    for key in keys {
                        self.dbs[db]
                            .blocked
                            .entry(key.clone())
                            .or_default()
                            .push_back(id);
                    }
                }
                if self.notify != crate::notify::Classes::none() {
                    for db in &mut self.dbs {
                        db.notes.current = None;
                    }
                }
                if matches!(command.kind, Kind::Configure(_)) {
                    self.apply_config();
                }
                reply
            }
        }
    }

    fn watch(&mut self, session: &mut Session, key: &[u8], now: i64) {
        let db = session.db;
        if session.watched.iter().any(|w| w.db == db && w.key == key) {
            return;
        }
        // An already-expired key is removed first, so that only expiry after
        // WATCH counts as a change.
        self.dbs[db].expire_if_needed(key, now);
        let version = self.dbs[db].watch(key);
        session.watched.push(Watched {
            db,
            key: key.to_vec(),
            version,
        });
    }

    fn unwatch_all(&mut self, session: &mut Session) {
        for w in session.watched.drain(..) {
            self.dbs[w.db].unwatch(&w.key);
        }
    }

    fn exec(&mut self, session: &mut Session, now: i64) -> Reply {
        let Some(multi) = session.multi.take() else {
            return Reply::error(EXEC_WITHOUT_MULTI);
        };
        if multi.dirty {
            self.unwatch_all(session);
            return Reply::error(EXECABORT);
        }
        let mut changed = false;
        for w in &session.watched {
            // Expiry since WATCH is a change (it touches the key).
            self.dbs[w.db].expire_if_needed(&w.key, now);
            if self.dbs[w.db].watched_version(&w.key) != Some(w.version) {
                changed = true;
            }
        }
        self.unwatch_all(session);
        if changed {
            return Reply::nil_array();
        }
        let mut replies = Vec::with_capacity(multi.queue.len());
        for queued in &multi.queue {
            let args: Vec<&[u8]> = queued.iter().map(Vec::as_slice).collect();
            // Queued commands were looked up and checked when queued.
            let reply = match cmd::lookup(args[0]) {
                Some(command) => self.run(session, command, &args, now, false),
                None => unknown_command(args[0], &args[1..]),
            };
            replies.push(reply);
        }
        Reply::array(replies)
    }
}

/// The typed memory limits the parameter table holds.
fn limits_of(table: &Table) -> Limits {
    let num = |name: &str| table.get(name).and_then(|v| v.parse::<u64>().ok());
    let defaults = Limits::default();
    let small = |name: &str, default: u32| {
        num(name)
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(default)
    };
    Limits {
        maxmemory: num("maxmemory").unwrap_or(0),
        policy: table
            .get("maxmemory-policy")
            .and_then(|p| Policy::parse(p.as_bytes()))
            .unwrap_or(defaults.policy),
        samples: small("maxmemory-samples", defaults.samples),
        lfu_log_factor: small("lfu-log-factor", defaults.lfu_log_factor),
        lfu_decay_time: small("lfu-decay-time", defaults.lfu_decay_time),
    }
}

/// The thresholds of the compact encodings the parameter table holds.
fn thresholds_of(table: &Table, limits: &Limits) -> Thresholds {
    let defaults = Thresholds::default();
    let count = |name: &str, default: usize| {
        table
            .get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(default, |n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    Thresholds {
        list_fill: table
            .get("list-max-listpack-size")
            .and_then(|v| v.parse().ok())
            .unwrap_or(defaults.list_fill),
        hash_entries: count("hash-max-listpack-entries", defaults.hash_entries),
        hash_value: count("hash-max-listpack-value", defaults.hash_value),
        set_entries: count("set-max-intset-entries", defaults.set_entries),
        zset_entries: count("zset-max-listpack-entries", defaults.zset_entries),
        zset_value: count("zset-max-listpack-value", defaults.zset_value),
        share_integers: limits.maxmemory == 0 || !limits.policy.evicts_by_access(),
    }
}

fn clamp_now(now_ms: u64) -> i64 {
    i64::try_from(now_ms).unwrap_or(i64::MAX)
}

fn flag_multi(session: &mut Session) {
    if let Some(m) = session.multi.as_mut() {
        m.dirty = true;
    }
}

/// `ERR unknown command '<name>', with args beginning with: '<a>' '<b>' `
/// (Redis's words, which the front end uses too).
pub fn unknown_command(name: &[u8], args: &[&[u8]]) -> Reply {
    let mut msg = String::from("ERR unknown command '");
    msg.push_str(&String::from_utf8_lossy(&name[..name.len().min(128)]));
    msg.push_str("', with args beginning with: ");
    let mut shown = String::new();
    for a in args {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        shown.push('\'');
        shown.push_str(&String::from_utf8_lossy(&a[..a.len().min(room)]));
        shown.push_str("' ");
    }
    msg.push_str(&shown);
    Reply::Error(msg)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use crate::{Session, Store};
    use alloc::vec;

    #[test]
    fn multi_exec_runs_atomically() {
        let mut t = T::new();
        assert_eq!(t.run("MULTI"), ok());
        assert!(t.s.in_multi());
        assert_eq!(t.run("SET a 1"), simple("QUEUED"));
        assert_eq!(t.run("INCR a"), simple("QUEUED"));
        assert_eq!(t.run("LPUSH a x"), simple("QUEUED"));
        assert_eq!(t.run("GET a"), simple("QUEUED"));
        assert_eq!(
            t.run("EXEC"),
            Reply::array(vec![ok(), int(2), err(WRONGTYPE), bulk("2")]),
            "a runtime error does not stop the others"
        );
        assert!(!t.s.in_multi());
        assert_eq!(t.run("EXEC"), err(EXEC_WITHOUT_MULTI));
        assert_eq!(t.run("DISCARD"), err(DISCARD_WITHOUT_MULTI));
    }

    #[test]
    fn tracking_sessions_hear_of_changes_to_what_they_read() {
        use crate::caching::{Invalidation, Mode};
        let mut store = Store::new();
        let (mut a, mut b) = (Session::with_id(1), Session::with_id(2));
        let run = |store: &mut Store, s: &mut Session, line: &str| {
            let args: alloc::vec::Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
            store.execute(s, &args, 1_000_000)
        };
        let owed = |session: u64, keys: Option<&[&str]>| Invalidation {
            session,
            keys: keys.map(|k| k.iter().map(|k| k.as_bytes().to_vec()).collect()),
        };
        store.track(&a, Some(Mode::default()));
        run(&mut store, &mut a, "MGET k1 k2");
        run(&mut store, &mut a, "MULTI");
        run(&mut store, &mut a, "STRLEN k3");
        run(&mut store, &mut a, "EXEC");
        run(&mut store, &mut b, "MSET k1 x k3 y other z");
        run(&mut store, &mut b, "SET k1 again");
        assert_eq!(
            store.take_invalidations(),
            [owed(1, Some(&["k1"])), owed(1, Some(&["k3"]))]
        );
        // A write by the reader itself is heard too; so is an expiry
        // another session's read finds.
        run(&mut store, &mut a, "GET k2");
        run(&mut store, &mut a, "SET k2 v PX 10");
        assert_eq!(store.take_invalidations(), [owed(1, Some(&["k2"]))]);
        run(&mut store, &mut a, "GET k2");
        assert_eq!(store.take_invalidations(), []);
        assert_eq!(
            store.execute(&mut b, &[b"GET", b"k2"], 2_000_000),
            Reply::nil()
        );
        assert_eq!(store.take_invalidations(), [owed(1, Some(&["k2"]))]);
        // A flush owes everything; a session released is owed nothing.
        run(&mut store, &mut a, "GET k1");
        run(&mut store, &mut b, "FLUSHALL");
        assert_eq!(store.take_invalidations(), [owed(1, None)]);
        run(&mut store, &mut a, "GET k1");
        store.release(&mut a);
        run(&mut store, &mut b, "SET k1 z");
        assert_eq!(store.take_invalidations(), []);
    }

    #[test]
    fn empty_transaction_and_discard() {
        let mut t = T::new();
        t.run("MULTI");
        assert_eq!(t.run("EXEC"), Reply::array(vec![]));
        t.run("MULTI");
        t.run("SET a 1");
        assert_eq!(t.run("DISCARD"), ok());
        assert_eq!(t.run("GET a"), nil());
    }

    #[test]
    fn nested_multi_is_refused_but_harmless() {
        let mut t = T::new();
        t.run("MULTI");
        assert_eq!(t.run("MULTI"), err(MULTI_NESTED));
        t.run("SET a 1");
        assert_eq!(t.run("EXEC"), Reply::array(vec![ok()]));
    }

    #[test]
    fn no_multi_commands_are_refused_when_queued() {
        let mut t = T::new();
        t.run("MULTI");
        t.run("SET a 1");
        assert_eq!(t.run("SAVE"), err(NOT_IN_MULTI));
        assert_eq!(t.run("EXEC"), err(EXECABORT));
        assert_eq!(t.run("GET a"), nil(), "nothing ran");
    }

    #[test]
    fn queueing_errors_abort_exec() {
        let mut t = T::new();
        t.run("MULTI");
        t.run("SET a 1");
        assert_eq!(
            t.run("GET"),
            err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(t.run("EXEC"), err(EXECABORT));
        assert_eq!(t.run("GET a"), nil(), "nothing ran");
        t.run("MULTI");
        assert!(t.run("NOSUCHCMD x").is_error());
        t.run("SET a 1");
        assert_eq!(t.run("EXEC"), err(EXECABORT));
        assert_eq!(t.run("GET a"), nil());
        // A syntax error found only when the command runs is per command.
        t.run("MULTI");
        t.run("SET a 1 BOGUS");
        t.run("SET b 2");
        assert_eq!(t.run("EXEC"), Reply::array(vec![err(SYNTAX), ok()]));
    }

    #[test]
    fn select_inside_multi() {
        let mut t = T::new();
        t.run("MULTI");
        t.run("SELECT 2");
        t.run("SET k v");
        assert_eq!(t.run("EXEC"), Reply::array(vec![ok(), ok()]));
        assert_eq!(t.s.db(), 2);
        assert_eq!(t.run("GET k"), bulk("v"));
        t.run("SELECT 0");
        assert_eq!(t.run("GET k"), nil());
    }

    #[test]
    fn watch_detects_changes_from_other_sessions() {
        let mut t = T::new();
        let mut other = Session::new();
        t.run("SET k 1");
        assert_eq!(t.run("WATCH k"), ok());
        assert_eq!(t.s.watched_keys(), 1);
        t.store.execute(&mut other, &[b"SET", b"k", b"2"], t.now);
        t.run("MULTI");
        t.run("SET k 3");
        assert_eq!(t.run("EXEC"), Reply::nil_array());
        assert_eq!(t.run("GET k"), bulk("2"));
        assert_eq!(t.s.watched_keys(), 0, "EXEC unwatches");
        // Without interference it goes through.
        t.run("WATCH k");
        t.run("MULTI");
        t.run("SET k 3");
        assert_eq!(t.run("EXEC"), Reply::array(vec![ok()]));
        assert_eq!(t.run("GET k"), bulk("3"));
    }

    #[test]
    fn watch_sees_deletes_creates_flushes_and_own_writes() {
        let mut t = T::new();
        let mut other = Session::new();
        let now = t.now;
        let cases: [(&str, &[&[u8]]); 5] = [
            ("SET k 1", &[b"DEL", b"k"]),
            ("DEL k", &[b"SET", b"k", b"x"]),
            ("SET k 1", &[b"FLUSHDB"]),
            ("SET k 1", &[b"FLUSHALL"]),
            ("SET k 1", &[b"EXPIRE", b"k", b"100"]),
        ];
        for (prep, change) in cases {
            t.run("FLUSHALL");
            t.run(prep);
            t.run("WATCH k");
            t.store.execute(&mut other, change, now);
            t.run("MULTI");
            t.run("PING");
            assert_eq!(t.run("EXEC"), Reply::nil_array(), "{prep} then {change:?}");
        }
        // The session's own writes between WATCH and MULTI count too.
        t.run("SET k 1");
        t.run("WATCH k");
        t.run("INCR k");
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::nil_array());
    }

    #[test]
    fn watch_ignores_non_changes() {
        let mut t = T::new();
        let mut other = Session::new();
        t.run("SADD s a");
        t.run("SET k 1");
        t.run("WATCH s k nope");
        for cmd in [
            &[&b"SADD"[..], b"s", b"a"][..],
            &[b"GET", b"k"],
            &[b"SET", b"k", b"2", b"NX"],
            &[b"DEL", b"nope"],
            &[b"SET", b"other", b"1"],
        ] {
            t.store.execute(&mut other, cmd, t.now);
        }
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::array(vec![simple("PONG")]));
    }

    #[test]
    fn watch_expiry_counts_as_change() {
        let mut t = T::new();
        t.run("SET k 1 PX 100");
        t.run("WATCH k");
        t.now += 101;
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::nil_array());
        // A key already expired when watched does not abort.
        t.run("SET k 1 PX 10");
        t.now += 11;
        t.run("WATCH k");
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::array(vec![simple("PONG")]));
    }

    #[test]
    fn watch_rules() {
        let mut t = T::new();
        t.run("MULTI");
        assert_eq!(t.run("WATCH k"), err(WATCH_IN_MULTI));
        assert_eq!(t.run("EXEC"), Reply::array(vec![]), "not an aborting error");
        assert_eq!(
            t.run("WATCH"),
            err("ERR wrong number of arguments for 'watch' command")
        );
        t.run("WATCH a b a");
        assert_eq!(t.s.watched_keys(), 2);
        assert_eq!(t.run("UNWATCH"), ok());
        assert_eq!(t.s.watched_keys(), 0);
        t.run("WATCH a");
        t.run("SET a 1");
        t.run("UNWATCH");
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::array(vec![simple("PONG")]));
        t.run("WATCH a");
        t.run("MULTI");
        t.run("DISCARD");
        assert_eq!(t.s.watched_keys(), 0, "DISCARD unwatches");
    }

    #[test]
    fn watch_per_database() {
        let mut t = T::new();
        t.run("WATCH k");
        t.run("SELECT 1");
        t.run("SET k 1");
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::array(vec![simple("PONG")]));
    }

    #[test]
    fn sessions_share_watch_slots() {
        let mut store = Store::with_seed(1);
        let mut a = Session::new();
        let mut b = Session::new();
        store.execute(&mut a, &[b"WATCH", b"k"], 0);
        store.execute(&mut b, &[b"WATCH", b"k"], 0);
        store.release(&mut a);
        store.execute(&mut a, &[b"SET", b"k", b"1"], 0);
        store.execute(&mut b, &[b"MULTI"], 0);
        assert_eq!(store.execute(&mut b, &[b"EXEC"], 0), Reply::nil_array());
    }

    #[test]
    fn keyspace_counts_expiries_and_their_mean_ttl() {
        let mut t = T::new();
        assert_eq!(t.store.keyspace(0, t.now), (0, 0, 0));
        t.run("SET x 1 PX 1000");
        t.run("SET y 1 PX 3000");
        t.run("SET z 1");
        assert_eq!(t.store.keyspace(0, t.now), (3, 2, 2000));
        assert_eq!(t.store.keyspace(0, t.now + 500), (3, 2, 1500));
        t.run("PERSIST y");
        assert_eq!(t.store.keyspace(0, t.now), (3, 1, 1000));
        t.run("PEXPIRE z 5000");
        t.run("SET x 2");
        assert_eq!(t.store.keyspace(0, t.now), (3, 1, 5000), "SET clears x's");
        t.run("DEL z");
        t.run("SETEX w 10 v");
        t.run("RENAME w v");
        assert_eq!(t.store.keyspace(0, t.now), (3, 1, 10_000));
        t.run("FLUSHDB");
        assert_eq!(t.store.keyspace(0, t.now), (0, 0, 0));
    }

    #[test]
    fn encodes_a_transaction_reply() {
        let mut t = T::new();
        t.run("MULTI");
        t.run("SET a 1");
        t.run("GET nope");
        let mut out = alloc::vec::Vec::new();
        t.run("EXEC").encode_resp2(&mut out);
        assert_eq!(out, b"*2\r\n+OK\r\n$-1\r\n");
    }
}
