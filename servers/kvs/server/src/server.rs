//! The server: one [`Store`], one [`Session`] per client badge, the shared
//! regions it may attach to clients, and a clock.

use crate::SharedBuf;
use crate::overtime::{AnswerEarly, Overtime};
use crate::persist::{LogError, Persistence, SectorDevice};
use crate::{
    Answer, Applied, BAD_REQUEST, DISK_ERROR, DISK_FULL, INLINE_REPLY, Kvs, MAX_SESSIONS,
    NO_SUCH_REGION, NOT_ATTACHED, NOT_RUNNING, REGION_TAKEN, REPLY_TOO_LARGE, RoundAnswer, STALE,
    TOO_MANY_SESSIONS,
};
use crate::{debug, info, proto, save, tracking};
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use kvs_core::aof::Tag;
use kvs_core::config::ConfigError;
use kvs_core::memory::Gauge;
use kvs_core::{Protocol, Session, Store};
use libcap::rpc::{Bytes, Caller, Settle};

/// Active expiry runs after every this many requests ...
pub const EXPIRE_EVERY: u64 = 64;
/// ... or when this many milliseconds passed since it last ran, whichever
/// comes first (checked at each request: an idle server expires nothing,
/// which lazy expiry makes invisible to clients).
pub const EXPIRE_INTERVAL_MS: u64 = 100;
/// The most keys one round of active expiry removes.
pub const EXPIRE_BUDGET: usize = 64;

/// Where the server's time comes from: milliseconds since the Unix epoch,
/// never going back. Any `FnMut() -> u64` is one (host tests use a
/// closure over a cell).
pub trait Clock {
    /// The time now.
    fn now_ms(&mut self) -> u64;

    /// The time-stamp counter's value when this clock reads `ms`, for a
    /// timed wait (`None`: the clock does not follow the TSC, and the
    /// server does not wake on its own).
    fn tsc_at_ms(&self, ms: u64) -> Option<u64> {
        let _ = ms;
        None
    }
}

impl<F: FnMut() -> u64> Clock for F {
    fn now_ms(&mut self) -> u64 {
        self()
    }
}

/// A fixed time, for examples and tests.
#[derive(Clone, Copy, Debug)]
pub struct ManualClock(pub u64);

impl Clock for ManualClock {
    fn now_ms(&mut self) -> u64 {
        self.0
    }
}

/// Time from the time-stamp counter: `epoch_ms` at the moment of
/// [`TscClock::new`], plus the TSC ticks since then divided by
/// `tsc_mhz * 1000`. There is no calibration and no wall clock: the
/// frequency and the starting time are the component's arguments
/// (`tsc-mhz`, `epoch-ms`), so a wrong frequency makes expiry early or
/// late by its ratio. The kernel's boot summary prints the TSC's frequency.
#[derive(Clone, Copy, Debug)]
pub struct TscClock {
    start: u64,
    ticks_per_ms: u64,
    epoch_ms: u64,
}

impl TscClock {
    /// A clock that reads `epoch_ms` now and counts `tsc_mhz` MHz.
    pub fn new(tsc_mhz: u64, epoch_ms: u64) -> Self {
        Self {
            start: libcap::time::rdtsc(),
            ticks_per_ms: tsc_mhz.max(1) * 1000,
            epoch_ms,
        }
    }
}

impl Clock for TscClock {
    fn now_ms(&mut self) -> u64 {
        let ticks = libcap::time::rdtsc().wrapping_sub(self.start);
        self.epoch_ms + ticks / self.ticks_per_ms
    }

    fn tsc_at_ms(&self, ms: u64) -> Option<u64> {
        let ticks = ms
            .saturating_sub(self.epoch_ms)
            .checked_mul(self.ticks_per_ms)?;
        self.start.checked_add(ticks)
    }
}

/// One client: its sessions and the region it attached.
#[derive(Debug, Default)]
struct Client {
    sessions: BTreeMap<u64, Session>,
    region: Option<usize>,
    /// The reply a round held back for the next one.
    held: Option<Vec<u8>>,
    /// The response a round of memcached calls held back for the next.
    mc_held: Option<Vec<u8>>,
    /// The answer of its round that ran on, for [`Kvs::finished`].
    finished: Option<Result<RoundAnswer, u64>>,
    /// Letters for it ([`Kvs::mail`]): replies of its blocked sessions,
    /// and keyspace events if it asked for them.
    mail: Vec<u8>,
    /// It asked for keyspace events ([`Kvs::events`]).
    events: bool,
    /// Events it did not get because its mail held [`MAIL_EVENTS_LIMIT`].
    dropped_events: u64,
}

/// Past this many bytes of mail, a client gets no more keyspace events
/// until it takes its mail (a front end that stopped asking cannot make
/// the store hold events without bound); replies of blocked sessions are
/// never dropped.
pub const MAIL_EVENTS_LIMIT: usize = 4 << 20;

/// The most bytes of keys one invalidation letter carries; past it, the
/// session is told to drop everything instead (the letter must fit the
/// smallest region a client reads its mail through).
pub const INVALIDATION_KEYS_LIMIT: usize = 64 << 10;

/// How the server wakes a client that has mail: a closure over the
/// notification its `wake-<region>` argument names (a counter in tests).
pub struct Waker(pub Box<dyn FnMut()>);

impl core::fmt::Debug for Waker {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Waker")
    }
}

/// A region the server maps, and which client attached it.
#[derive(Debug)]
struct Region {
    name: String,
    buf: SharedBuf,
    owner: Option<u64>,
    /// The only client that may attach it, when the config says whose it is.
    peer: Option<u64>,
    /// How to wake the client that attached it when mail arrives for it.
    waker: Option<Waker>,
}

/// The kvs server: implements [`Kvs`].
///
/// ```
/// use kvs::{Kvs, KvsServer, ManualClock};
/// use libcap::rpc::Caller;
/// let mut server = KvsServer::new(ManualClock(0), Vec::new());
/// let answer = server.exec(Caller { badge: 1 }, b"*1\r\n$4\r\nPING\r\n").unwrap();
/// assert_eq!(answer, kvs::Answer::Inline(libcap::rpc::Bytes::try_from(&b"+PONG\r\n"[..]).unwrap()));
/// ```
#[derive(Debug)]
pub struct KvsServer<C> {
    store: Store,
    clock: C,
    clients: BTreeMap<u64, Client>,
    regions: Vec<Region>,
    requests: u64,
    last_expire: u64,
    /// A copy of a request taken from a region.
    request: Vec<u8>,
    /// The reply being encoded.
    reply: Vec<u8>,
    /// The append-only log, if the server has a disk.
    persistence: Option<Persistence<Box<dyn SectorDevice>>>,
    /// What `INFO` reports as the bytes the allocator holds for the live
    /// allocations (for `mem_fragmentation_ratio`).
    held: Option<Gauge>,
    /// Which start of the component this is, and how the last one ended.
    lineage: Lineage,
    /// How `DEBUG SEGFAULT` faults the server, when enabled.
    crash: Option<fn() -> !>,
    /// The id the next session gets in the store.
    next_session: u64,
    /// Whose the blocked sessions are: store id → (client, session).
    blocked: BTreeMap<u64, (u64, u64)>,
    /// Whose the tracking sessions are ([`Kvs::track`]): store id →
    /// (client, session).
    trackers: BTreeMap<u64, (u64, u64)>,
    /// When the server started (ms since the epoch): `LASTSAVE` before
    /// any compaction.
    started_ms: u64,
    /// The memory in use when the gauge came, and the most since
    /// (`MEMORY STATS`).
    footprint: crate::memory::Footprint,
    /// Rounds whose script runs on past `busy-reply-threshold`.
    overtime: Overtime,
    /// The last call was answered early: its reply goes to nobody, and
    /// is not held.
    answered_early: bool,
}

/// Which start of the component a server is (`INFO`'s `basalt_*` fields).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lineage {
    pub(crate) generation: u64,
    pub(crate) last_exit: Option<&'static str>,
}

impl<C: Clock> KvsServer<C> {
    /// An empty store with time from `clock`, and `regions` (by name) that
    /// clients may attach.
    pub fn new(clock: C, regions: Vec<(String, SharedBuf)>) -> Self {
        Self::with_store(Store::new(), clock, regions)
    }

    /// Lets only the client with `badge` attach region `name` (the region's
    /// other user, as init reports it in the start-info page).
    pub fn reserve(&mut self, name: &str, badge: u64) {
        if let Some(r) = self.regions.iter_mut().find(|r| r.name == name) {
            r.peer = Some(badge);
        }
    }

    /// Wakes the client that attaches region `name` with `waker` when
    /// mail arrives for it ([`Kvs::mail`]).
    pub fn wake_with(&mut self, name: &str, waker: Waker) {
        if let Some(r) = self.regions.iter_mut().find(|r| r.name == name) {
            r.waker = Some(waker);
        }
    }

    /// Wakes every client the server can wake: a new instance does, so
    /// that a front end whose round ran on in the previous one (the
    /// control words are cleared now) learns at once that it is lost.
    pub fn wake_all(&mut self) {
        for r in &mut self.regions {
            if let Some(Waker(wake)) = r.waker.as_mut() {
                wake();
            }
        }
    }

    /// The same with a store of the caller's (e.g. [`Store::with_seed`]).
    pub fn with_store(mut store: Store, mut clock: C, regions: Vec<(String, SharedBuf)>) -> Self {
        let started_ms = clock.now_ms();
        let mut regions: Vec<Region> = regions
            .into_iter()
            .map(|(name, buf)| Region {
                name,
                buf,
                owner: None,
                peer: None,
                waker: None,
            })
            .collect();
        let controls = regions.iter_mut().map(|r| r.buf.take_control()).collect();
        let (overtime, watch) = Overtime::new(controls);
        store.set_script_watch(watch);
        Self {
            store,
            clock,
            clients: BTreeMap::new(),
            regions,
            requests: 0,
            last_expire: 0,
            request: Vec::new(),
            reply: Vec::new(),
            persistence: None,
            held: None,
            lineage: Lineage {
                generation: 1,
                last_exit: None,
            },
            crash: None,
            next_session: 1,
            blocked: BTreeMap::new(),
            trackers: BTreeMap::new(),
            started_ms,
            footprint: Default::default(),
            overtime,
            answered_early: false,
        }
    }

    /// Lets a round whose script passes `busy-reply-threshold` run on
    /// (`kvs_api::busy`), its call answered early by `answer` (on Basalt,
    /// `libcap::rpc::answer_early(RUNNING)`). Without it such a script
    /// is stopped.
    pub fn answer_early_with(&mut self, answer: AnswerEarly) {
        self.overtime.answer_early_with(answer);
    }

    /// Enables `DEBUG SEGFAULT`, which runs `crash` (Redis's
    /// `enable-debug-command yes`): for tests of supervision.
    pub fn enable_debug(&mut self, crash: fn() -> !) {
        self.crash = Some(crash);
    }

    /// Reports in `INFO` that this is the component's start `generation`
    /// (1 the first time) and how the previous one ended.
    pub fn set_lineage(&mut self, generation: u64, last_exit: Option<&'static str>) {
        self.lineage = Lineage {
            generation,
            last_exit,
        };
    }

    /// Measures memory with `used` (the component's heap in use: what
    /// `INFO` reports as `used_memory`, and what `maxmemory` limits) and
    /// `held` (what the allocator holds for it, bookkeeping included),
    /// and lets the data grow to `ceiling` bytes at most (see
    /// [`Store::set_memory`]).
    pub fn set_memory(&mut self, used: Gauge, held: Gauge, ceiling: u64) {
        self.store.set_memory(used, ceiling);
        self.held = Some(held);
        let now = used();
        self.footprint = crate::memory::Footprint {
            startup: now,
            peak: now,
        };
    }

    /// Refuses commands whose replies would copy more than `bytes` out of
    /// the data (see [`Store::set_reply_limit`]): what the largest region
    /// a client may attach holds.
    pub fn set_reply_limit(&mut self, bytes: u64) {
        self.store
            .set_reply_limit(usize::try_from(bytes).unwrap_or(usize::MAX));
    }

    /// Sets store parameter `name` (`maxmemory`, `maxmemory-policy`, …)
    /// as `CONFIG SET` would.
    pub fn configure(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.store.configure(name, value)
    }

    /// Logs every change through `persistence` from now on (its log was
    /// replayed into the store this server was made with). It commits in
    /// groups: serve with `serve_held` (the server implements [`Settle`]),
    /// which holds replies until their round of changes is written (and,
    /// under `fsync = always`, flushed).
    pub fn persist(&mut self, mut persistence: Persistence<Box<dyn SectorDevice>>) {
        persistence.set_grouped(true);
        self.persistence = Some(persistence);
    }

    /// The persistence, if the server has a disk.
    pub fn persistence(&self) -> Option<&Persistence<Box<dyn SectorDevice>>> {
        self.persistence.as_ref()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// How many sessions the clients have.
    pub fn sessions(&self) -> usize {
        self.clients.values().map(|c| c.sessions.len()).sum()
    }

    /// Runs the commands encoded in `request` (exactly one unless
    /// `batch`) in session `session` of client `badge`; the answer holds
    /// their replies one after the other.
    fn run(
        &mut self,
        badge: u64,
        session: u64,
        request: &[u8],
        batch: bool,
    ) -> Result<Answer, u64> {
        self.run_tagged(badge, session, request, batch, None)
    }

    /// [`run`](Self::run), a single command's change tagged with call
    /// `call` if given ([`Kvs::exec_in_tagged`]).
    fn run_tagged(
        &mut self,
        badge: u64,
        session: u64,
        request: &[u8],
        batch: bool,
        call: Option<u64>,
    ) -> Result<Answer, u64> {
        // A batch is checked whole before any of it runs.
        let single = if batch {
            proto::count_commands(request).ok_or(BAD_REQUEST)?;
            None
        } else {
            Some(proto::parse_command(request).ok_or(BAD_REQUEST)?)
        };
        let (mut engine, clients, reply, next_session) = self.engine();
        let client = clients.entry(badge).or_default();
        let region = client.region;
        let state = client
            .session(session, next_session)
            .ok_or(TOO_MANY_SESSIONS)?;
        reply.clear();
        if let Some(args) = single {
            let tag = call.map(|call| Tag {
                client: badge,
                call,
                entry: 0,
            });
            engine.execute(state, &args, reply, tag);
        } else {
            let mut rest = request;
            while let Some((args, used)) = proto::parse_prefix(rest) {
                rest = &rest[used..];
                engine.execute(state, &args, reply, None);
            }
        }
        self.deliver_mail();
        self.answer(region, INLINE_REPLY)
    }

    /// Runs one operation on the memcached items for client `badge`
    /// ([`Kvs::mc`]): decoded once, served on the store's items at the
    /// clock's time, answered as a response's encoding.
    fn run_mc(&mut self, badge: u64, request: &[u8]) -> Result<Answer, u64> {
        let request = kvs_api::mc::Request::decode(request).map_err(|_| BAD_REQUEST)?;
        let now = self.clock.now_ms();
        let response = kvs_api::mc::serve(&mut self.store.memcached(now), &request);
        self.reply.clear();
        response.encode(&mut self.reply);
        let region = self.clients.entry(badge).or_default().region;
        self.answer(region, INLINE_REPLY)
    }

    /// Runs a round of memcached calls ([`Kvs::mc_round`]) for client
    /// `badge`: each decoded before any runs, served in order at one
    /// clock reading, their responses answered until the next would not
    /// fit (it is held for the next round).
    fn run_mc_round(&mut self, badge: u64, request: &[u8]) -> Result<RoundAnswer, u64> {
        let entries = kvs_api::mc_round::entries(request).ok_or(BAD_REQUEST)?;
        let requests = entries
            .into_iter()
            .map(kvs_api::mc::Request::decode)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| BAD_REQUEST)?;
        let client = self.clients.entry(badge).or_default();
        let region = client.region;
        let room = region.map_or(INLINE_ROUND_REPLY, |r| self.regions[r].buf.len());
        let reply = &mut self.reply;
        reply.clear();
        if let Some(held) = client.mc_held.take() {
            reply.extend_from_slice(&held);
        }
        let mut cache = self.store.memcached(self.clock.now_ms());
        let (mut ran, mut held) = (0, false);
        for request in &requests {
            let start = reply.len();
            kvs_api::mc_round::push_answer(reply, &kvs_api::mc::serve(&mut cache, request));
            ran += 1;
            if reply.len() - start > room {
                reply.truncate(start);
                kvs_api::mc_round::push_too_large(reply);
            }
            if reply.len() > room {
                client.mc_held = Some(reply.split_off(start));
                held = true;
                break;
            }
        }
        let replies = self.answer(region, INLINE_ROUND_REPLY)?;
        Ok(RoundAnswer { ran, held, replies })
    }

    /// Runs a round ([`Kvs::exec_round`]) of client `badge`, its changes
    /// tagged with call `call` if given ([`Kvs::exec_round_tagged`]).
    fn run_round(
        &mut self,
        badge: u64,
        request: &[u8],
        call: Option<u64>,
    ) -> Result<RoundAnswer, u64> {
        let entries = proto::parse_round(request).ok_or(BAD_REQUEST)?;
        let region = self.clients.get(&badge).and_then(|c| c.region);
        let room = region.map_or(INLINE_ROUND_REPLY, |r| self.regions[r].buf.len());
        // A script past busy-reply-threshold may run on if the client can
        // be told when it is done.
        self.overtime
            .begin(region.filter(|&r| self.regions[r].waker.is_some()));
        let (mut engine, clients, reply, next_session) = self.engine();
        let client = clients.entry(badge).or_default();
        reply.clear();
        let mut blocked = Vec::new();
        if let Some(held) = client.held.take() {
            reply.extend_from_slice(&held);
        }
        let mut ran = 0;
        let mut held = false;
        for (index, entry) in entries.entries().enumerate() {
            let start = reply.len();
            let tag = call.map(|call| Tag {
                client: badge,
                call,
                entry: index as u32,
            });
            match client.session(entry.session, next_session) {
                // A front end sends nothing for a session that waits; one
                // that does is refused, so that no reply comes twice.
                Some(state) if engine.store.is_blocked(state) => {
                    reply.extend_from_slice(SESSION_BLOCKED)
                }
                Some(state) => {
                    state.set_may_block(true);
                    engine.execute(state, entry.args, reply, tag);
                    state.set_may_block(false);
                    if engine.store.is_blocked(state) {
                        // Its reply (encoded as a timeout's) is not sent.
                        reply.truncate(start);
                        reply.extend_from_slice(proto::BLOCKED);
                        blocked.push((state.id(), entry.session));
                    }
                }
                None => reply.extend_from_slice(b"-ERR too many sessions for one client\r\n"),
            }
            ran += 1;
            if reply.len() - start > room {
                reply.truncate(start);
                reply.extend_from_slice(TOO_LARGE_FOR_REGION);
            }
            if reply.len() > room {
                client.held = Some(reply.split_off(start));
                held = true;
                break;
            }
        }
        for (id, session) in blocked {
            self.blocked.insert(id, (badge, session));
        }
        let early = self.overtime.end();
        self.deliver_mail();
        let answer = self
            .answer(region, INLINE_ROUND_REPLY)
            .map(|replies| RoundAnswer { ran, held, replies });
        if early && let Some(r) = region {
            // The client has gone on: the answer waits for `finished`.
            self.answered_early = true;
            if let Some(client) = self.clients.get_mut(&badge) {
                client.finished = Some(answer.clone());
            }
            self.overtime.done(r);
            if let Some(Waker(wake)) = self.regions[r].waker.as_mut() {
                wake();
            }
        }
        answer
    }

    /// Fails with [`STALE`] unless this server is `generation`: a tagged
    /// round runs only in the sessions its caller set up.
    fn check_generation(&self, generation: u64) -> Result<(), u64> {
        if generation == self.lineage.generation {
            Ok(())
        } else {
            Err(STALE)
        }
    }

    /// Moves the replies of sessions that stopped waiting into their
    /// clients' mail, and wakes each client whose mail was empty.
    fn deliver_mail(&mut self) {
        let mut encoded = Vec::new();
        for (id, reply) in self.store.take_answered() {
            let Some((badge, session)) = self.blocked.remove(&id) else {
                continue;
            };
            let Some(client) = self.clients.get_mut(&badge) else {
                continue;
            };
            encoded.clear();
            let protocol = client
                .sessions
                .get(&session)
                .map_or(Protocol::Resp2, Session::protocol);
            reply.encode(protocol, &mut encoded);
            let first = client.mail.is_empty();
            proto::Letter::Reply {
                session,
                reply: &encoded,
            }
            .push(&mut client.mail);
            if first
                && let Some(Waker(wake)) =
                    client.region.and_then(|r| self.regions[r].waker.as_mut())
            {
                wake();
            }
        }
        self.deliver_events();
        self.deliver_invalidations();
    }

    /// Moves the invalidations owed to tracking sessions into their
    /// clients' mail, waking each whose mail was empty. One that would
    /// make the mail pass [`MAIL_EVENTS_LIMIT`], or whose keys pass
    /// [`INVALIDATION_KEYS_LIMIT`] bytes, becomes an invalidation of
    /// everything: never dropped, since a cache it missed would stay
    /// stale.
    fn deliver_invalidations(&mut self) {
        let mut keys = Vec::new();
        for owed in self.store.take_invalidations() {
            let Some(&(badge, session)) = self.trackers.get(&owed.session) else {
                continue;
            };
            let Some(client) = self.clients.get_mut(&badge) else {
                continue;
            };
            keys.clear();
            if let Some(list) = &owed.keys {
                let list: Vec<&[u8]> = list.iter().map(Vec::as_slice).collect();
                proto::push_parts(&list, &mut keys);
            }
            let fits = client.mail.len() + keys.len() <= MAIL_EVENTS_LIMIT
                && keys.len() <= INVALIDATION_KEYS_LIMIT;
            let first = client.mail.is_empty();
            proto::Letter::Invalidate {
                session,
                keys: owed.keys.is_some().then_some(&keys[..]).filter(|_| fits),
            }
            .push(&mut client.mail);
            if first
                && let Some(Waker(wake)) =
                    client.region.and_then(|r| self.regions[r].waker.as_mut())
            {
                wake();
            }
        }
    }

    /// Moves the keyspace events raised since the last call into the mail
    /// of each client that asked for them, waking each whose mail was
    /// empty.
    fn deliver_events(&mut self) {
        let (classes, events) = self.store.take_events();
        if events.is_empty() {
            return;
        }
        let messages: Vec<(Vec<u8>, Vec<u8>)> =
            events.iter().flat_map(|e| e.messages(classes)).collect();
        for client in self.clients.values_mut().filter(|c| c.events) {
            let first = client.mail.is_empty();
            for (channel, message) in &messages {
                if client.mail.len() >= MAIL_EVENTS_LIMIT {
                    client.dropped_events += 1;
                    continue;
                }
                proto::Letter::Publish { channel, message }.push(&mut client.mail);
            }
            if first
                && !client.mail.is_empty()
                && let Some(Waker(wake)) =
                    client.region.and_then(|r| self.regions[r].waker.as_mut())
            {
                wake();
            }
        }
    }

    /// Answers client `badge`'s mail: the letters that fit the answer
    /// (one too large for the region alone is replaced by an error
    /// reply for its session); the rest stays, and wakes the client again.
    fn take_mail(&mut self, badge: u64) -> Result<Answer, u64> {
        let Some(client) = self.clients.get_mut(&badge) else {
            return Ok(Answer::Inline(Bytes::default()));
        };
        let room = client.region.map_or(INLINE_REPLY, |r| {
            self.regions[r].buf.len().max(INLINE_REPLY)
        });
        let mut taken = 0;
        let mut out = core::mem::take(&mut self.reply);
        out.clear();
        while taken < client.mail.len() {
            let rest = &client.mail[taken..];
            // The server wrote every letter whole.
            let Some((letter, len)) = proto::letter(rest) else {
                break;
            };
            if out.len() + len > room {
                if out.is_empty() {
                    // Alone it does not fit: a session learns that, a
                    // tracking session drops everything, an event is
                    // dropped.
                    match letter {
                        proto::Letter::Reply { session, .. } => proto::Letter::Reply {
                            session,
                            reply: TOO_LARGE_FOR_REGION,
                        }
                        .push(&mut out),
                        proto::Letter::Invalidate { session, .. } => proto::Letter::Invalidate {
                            session,
                            keys: None,
                        }
                        .push(&mut out),
                        proto::Letter::Publish { .. } => {}
                    }
                    taken += len;
                }
                break;
            }
            out.extend_from_slice(&rest[..len]);
            taken += len;
        }
        client.mail.drain(..taken);
        let more = !client.mail.is_empty();
        let region = client.region;
        if more && let Some(Waker(wake)) = region.and_then(|r| self.regions[r].waker.as_mut()) {
            wake();
        }
        self.reply = out;
        self.answer(region, INLINE_REPLY)
    }

    /// The parts that run commands, the clients, the reply buffer and
    /// the next session id, borrowed apart.
    fn engine(
        &mut self,
    ) -> (
        Engine<'_, C>,
        &mut BTreeMap<u64, Client>,
        &mut Vec<u8>,
        &mut u64,
    ) {
        let Self {
            clients,
            store,
            persistence,
            clock,
            requests,
            last_expire,
            reply,
            held,
            lineage,
            crash,
            next_session,
            started_ms,
            footprint,
            ..
        } = self;
        let engine = Engine {
            store,
            persistence,
            clock,
            requests,
            last_expire,
            held: *held,
            lineage: *lineage,
            crash: *crash,
            started_ms: *started_ms,
            footprint,
        };
        (engine, clients, reply, next_session)
    }

    /// The reply buffer as an answer: inline up to `inline` bytes, else in
    /// the client's region.
    fn answer(&mut self, region: Option<usize>, inline: usize) -> Result<Answer, u64> {
        let answer = if self.reply.len() <= inline {
            Bytes::try_from(&self.reply[..])
                .map(Answer::Inline)
                .map_err(|_| REPLY_TOO_LARGE)
        } else {
            let region = region.ok_or(NOT_ATTACHED)?;
            if self.regions[region].buf.write(&self.reply) {
                Ok(Answer::Shared(self.reply.len() as u64))
            } else {
                Err(REPLY_TOO_LARGE)
            }
        };
        shrink(&mut self.reply);
        answer
    }

    /// Copies the first `len` bytes of client `badge`'s region (a
    /// request) and hands them to `run`.
    fn with_shared<T>(
        &mut self,
        badge: u64,
        len: u64,
        run: impl FnOnce(&mut Self, &[u8]) -> Result<T, u64>,
    ) -> Result<T, u64> {
        let region = self
            .clients
            .get(&badge)
            .and_then(|c| c.region)
            .ok_or(NOT_ATTACHED)?;
        let len = usize::try_from(len).map_err(|_| BAD_REQUEST)?;
        let mut request = core::mem::take(&mut self.request);
        let answer = if self.regions[region].buf.read(len, &mut request) {
            run(self, &request)
        } else {
            Err(BAD_REQUEST)
        };
        shrink(&mut request);
        self.request = request;
        answer
    }
}

/// The most a transfer buffer keeps between requests: a large request or
/// reply gives its memory back (to the data) once it is answered.
const KEEP: usize = 64 << 10;

/// Empties `buf`, giving back what it holds beyond [`KEEP`].
fn shrink(buf: &mut Vec<u8>) {
    buf.clear();
    if buf.capacity() > KEEP {
        buf.shrink_to(KEEP);
    }
}

/// The reply to a command for a session that waits in a blocking one.
const SESSION_BLOCKED: &[u8] =
    b"-ERR the session waits in a blocking command: it runs nothing until that is answered\r\n";

/// The reply that stands for one too large for the client's region.
const TOO_LARGE_FOR_REGION: &[u8] =
    b"-ERR the reply is larger than the client's shared region (the command ran)\r\n";

/// The most reply bytes a round answers inline: what is left of the
/// message words next to the round's count and flag.
const INLINE_ROUND_REPLY: usize = INLINE_REPLY - 16;

impl Client {
    /// Session `id`, made if new (with the store id `next`, which then
    /// moves on); `None` if that would be one more than [`MAX_SESSIONS`].
    fn session(&mut self, id: u64, next: &mut u64) -> Option<&mut Session> {
        let count = self.sessions.len();
        match self.sessions.entry(id) {
            alloc::collections::btree_map::Entry::Occupied(e) => Some(e.into_mut()),
            alloc::collections::btree_map::Entry::Vacant(e) => (count < MAX_SESSIONS).then(|| {
                *next += 1;
                e.insert(Session::with_id(*next - 1))
            }),
        }
    }
}

/// What running a command touches besides its session.
struct Engine<'a, C> {
    store: &'a mut Store,
    persistence: &'a mut Option<Persistence<Box<dyn SectorDevice>>>,
    clock: &'a mut C,
    requests: &'a mut u64,
    last_expire: &'a mut u64,
    held: Option<Gauge>,
    lineage: Lineage,
    crash: Option<fn() -> !>,
    started_ms: u64,
    footprint: &'a mut crate::memory::Footprint,
}

impl<C: Clock> Engine<'_, C> {
    /// Runs one command in `state`, active expiry first when it is due,
    /// and appends its reply's encoding to `reply`; its change is logged
    /// with `tag`.
    fn execute(
        &mut self,
        state: &mut Session,
        args: &[&[u8]],
        reply: &mut Vec<u8>,
        tag: Option<Tag>,
    ) {
        if debug::is_debug(args) && !state.in_multi() {
            if debug::faults(args)
                && let Some(p) = self.persistence.as_mut()
            {
                // What ran before the fault is on the disk first, so that
                // a test can tell the commands that took effect from
                // those that did not.
                let _ = p.settle(self.store, self.clock.now_ms());
            }
            return debug::reply(args, self.crash, reply);
        }
        if let Some(save) = save::parse(args).filter(|_| !state.in_multi()) {
            let now = self.clock.now_ms();
            let answer = match save {
                Ok(save) => save::reply(
                    save,
                    self.persistence.as_mut(),
                    self.store,
                    now,
                    self.started_ms,
                ),
                Err(e) => e,
            };
            return answer.encode(state.protocol(), reply);
        }
        if crate::memory::is_stats(args) && !state.in_multi() {
            let held = self.held.map(|gauge| gauge());
            let log = self.persistence.as_ref().map_or(0, Persistence::buffered);
            let now = self.clock.now_ms();
            return crate::memory::stats(self.store, *self.footprint, held, log as u64, now)
                .encode(state.protocol(), reply);
        }
        if info::is_info(args) && !state.in_multi() {
            let held = self.held.map(|gauge| gauge());
            let now = self.clock.now_ms();
            return info::reply(
                args,
                self.store,
                held,
                self.lineage,
                self.persistence.as_ref(),
                now,
                reply,
            );
        }
        let now = self.clock.now_ms();
        // What `maxmemory` and the ceiling leave out: this request, the
        // replies so far and the log's buffers, which the component keeps
        // room for above the ceiling and evicting keys would not shrink.
        let request: usize = args.iter().map(|a| a.len()).sum();
        let log = self.persistence.as_ref().map_or(0, Persistence::buffered);
        self.store
            .set_uncounted((request + reply.capacity() + log) as u64);
        *self.requests += 1;
        if self.requests.is_multiple_of(EXPIRE_EVERY)
            || now >= self.last_expire.saturating_add(EXPIRE_INTERVAL_MS)
        {
            self.store.active_expire(now, EXPIRE_BUDGET);
            *self.last_expire = now;
        }
        let r = match self.persistence.as_mut() {
            Some(p) => p.execute_tagged(self.store, state, args, now, tag),
            None => self.store.execute(state, args, now),
        };
        if let Some(used) = self.store.used_memory() {
            self.footprint.peak = self.footprint.peak.max(used);
        }
        r.encode(state.protocol(), reply);
    }
}

/// Group commit: while changes wait for the disk, every reply is held
/// (a read could have seen them); `settle` writes and flushes them all.
impl<C: Clock> Settle for KvsServer<C> {
    fn hold(&mut self) -> bool {
        // Nobody waits for the reply of a call answered early; its
        // changes are settled before `finished` answers.
        if core::mem::take(&mut self.answered_early) {
            return false;
        }
        self.persistence
            .as_ref()
            .is_some_and(Persistence::unsettled)
    }

    /// Under `everysec`, when the written log is due to be flushed; and
    /// when the next key expires (just after: a key is gone once its time
    /// has passed), so that expired keys go while no request comes, as
    /// Redis's active expiry does.
    fn wake_at(&self) -> Option<u64> {
        let flush = self
            .persistence
            .as_ref()
            .and_then(Persistence::flush_due_ms);
        let expiry = self.store.next_expiry().map(|t| t.saturating_add(1));
        let blocked = self.store.next_block_deadline();
        let due = [flush, expiry, blocked].into_iter().flatten().min()?;
        self.clock.tsc_at_ms(due)
    }

    fn woken(&mut self) {
        let now = self.clock.now_ms();
        if let Some(p) = self.persistence.as_mut() {
            // A failed flush shows in INFO and in the next writes' replies.
            let _ = p.tick(now);
        }
        // Not logged: replay restores expiry times, and expires the same
        // keys lazily.
        self.store.active_expire(now, EXPIRE_BUDGET);
        self.last_expire = now;
        self.store.expire_blocked(now);
        self.deliver_mail();
    }

    fn settle(&mut self) -> Result<(), u64> {
        let Some(p) = self.persistence.as_mut() else {
            return Ok(());
        };
        let now = self.clock.now_ms();
        p.settle(&self.store, now).map_err(|e| {
            // The rounds answered with this error lose their replies, the
            // held ones too: their clients answer the rest with MISCONF.
            for c in self.clients.values_mut() {
                c.held = None;
            }
            match e {
                LogError::Full => DISK_FULL,
                _ => DISK_ERROR,
            }
        })
    }
}

impl<C: Clock> Kvs for KvsServer<C> {
    fn exec(&mut self, caller: Caller, request: &[u8]) -> Result<Answer, u64> {
        self.run(caller.badge, 0, request, false)
    }

    fn exec_in(&mut self, caller: Caller, session: u64, request: &[u8]) -> Result<Answer, u64> {
        self.run(caller.badge, session, request, false)
    }

    fn exec_batch_in(
        &mut self,
        caller: Caller,
        session: u64,
        request: &[u8],
    ) -> Result<Answer, u64> {
        self.run(caller.badge, session, request, true)
    }

    fn exec_batch_shared_in(
        &mut self,
        caller: Caller,
        session: u64,
        len: u64,
    ) -> Result<Answer, u64> {
        self.with_shared(caller.badge, len, |s, r| {
            s.run(caller.badge, session, r, true)
        })
    }

    fn exec_round(&mut self, caller: Caller, request: &[u8]) -> Result<RoundAnswer, u64> {
        self.run_round(caller.badge, request, None)
    }

    fn exec_round_shared(&mut self, caller: Caller, len: u64) -> Result<RoundAnswer, u64> {
        self.with_shared(caller.badge, len, |s, r| s.run_round(caller.badge, r, None))
    }

    fn exec_round_tagged(
        &mut self,
        caller: Caller,
        generation: u64,
        call: u64,
        request: &[u8],
    ) -> Result<RoundAnswer, u64> {
        self.check_generation(generation)?;
        self.run_round(caller.badge, request, Some(call))
    }

    fn exec_round_shared_tagged(
        &mut self,
        caller: Caller,
        generation: u64,
        call: u64,
        len: u64,
    ) -> Result<RoundAnswer, u64> {
        self.check_generation(generation)?;
        self.with_shared(caller.badge, len, |s, r| {
            s.run_round(caller.badge, r, Some(call))
        })
    }

    fn exec_in_tagged(
        &mut self,
        caller: Caller,
        generation: u64,
        call: u64,
        session: u64,
        request: &[u8],
    ) -> Result<Answer, u64> {
        self.check_generation(generation)?;
        self.run_tagged(caller.badge, session, request, false, Some(call))
    }

    fn exec_shared_in_tagged(
        &mut self,
        caller: Caller,
        generation: u64,
        call: u64,
        session: u64,
        len: u64,
    ) -> Result<Answer, u64> {
        self.check_generation(generation)?;
        self.with_shared(caller.badge, len, |s, r| {
            s.run_tagged(caller.badge, session, r, false, Some(call))
        })
    }

    fn applied(&mut self, caller: Caller) -> Result<Applied, u64> {
        let mark = self
            .persistence
            .as_ref()
            .and_then(|p| p.marks().get(&caller.badge).copied());
        Ok(mark.map_or(
            Applied {
                call: 0,
                entries: 0,
            },
            |t| Applied {
                call: t.call,
                entries: u64::from(t.entry) + 1,
            },
        ))
    }

    fn attach(&mut self, caller: Caller, region: &str) -> Result<u64, u64> {
        let index = self
            .regions
            .iter()
            .position(|r| r.name == region)
            .ok_or(NO_SUCH_REGION)?;
        let r = &self.regions[index];
        if r.owner.is_some_and(|owner| owner != caller.badge)
            || r.peer.is_some_and(|peer| peer != caller.badge)
        {
            return Err(REGION_TAKEN);
        }
        let client = self.clients.entry(caller.badge).or_default();
        if let Some(old) = client.region.replace(index)
            && old != index
        {
            self.regions[old].owner = None;
        }
        self.regions[index].owner = Some(caller.badge);
        Ok(self.regions[index].buf.len() as u64)
    }

    fn exec_shared(&mut self, caller: Caller, len: u64) -> Result<Answer, u64> {
        self.exec_shared_in(caller, 0, len)
    }

    fn exec_shared_in(&mut self, caller: Caller, session: u64, len: u64) -> Result<Answer, u64> {
        self.with_shared(caller.badge, len, |s, r| {
            s.run(caller.badge, session, r, false)
        })
    }

    fn mc(&mut self, caller: Caller, request: &[u8]) -> Result<Answer, u64> {
        self.run_mc(caller.badge, request)
    }

    fn mc_shared(&mut self, caller: Caller, len: u64) -> Result<Answer, u64> {
        self.with_shared(caller.badge, len, |s, r| s.run_mc(caller.badge, r))
    }

    fn mc_round(&mut self, caller: Caller, request: &[u8]) -> Result<RoundAnswer, u64> {
        self.run_mc_round(caller.badge, request)
    }

    fn mc_round_shared(&mut self, caller: Caller, len: u64) -> Result<RoundAnswer, u64> {
        self.with_shared(caller.badge, len, |s, r| s.run_mc_round(caller.badge, r))
    }

    fn mail(&mut self, caller: Caller) -> Result<Answer, u64> {
        self.take_mail(caller.badge)
    }

    fn events(&mut self, caller: Caller, on: bool) -> Result<(), u64> {
        self.clients.entry(caller.badge).or_default().events = on;
        Ok(())
    }

    fn protocol(&mut self, caller: Caller, session: u64, resp3: bool) -> Result<(), u64> {
        let client = self.clients.entry(caller.badge).or_default();
        let state = client
            .session(session, &mut self.next_session)
            .ok_or(TOO_MANY_SESSIONS)?;
        state.set_protocol(match resp3 {
            true => Protocol::Resp3,
            false => Protocol::Resp2,
        });
        Ok(())
    }

    fn track(
        &mut self,
        caller: Caller,
        session: u64,
        flags: u64,
        prefixes: &[u8],
    ) -> Result<(), u64> {
        let prefixes = proto::parts(prefixes).ok_or(BAD_REQUEST)?;
        let mode = (flags & tracking::ON != 0).then(|| kvs_core::caching::Mode {
            bcast: flags & tracking::BCAST != 0,
            prefixes: prefixes.iter().map(|p| p.to_vec()).collect(),
            optin: flags & tracking::OPTIN != 0,
            optout: flags & tracking::OPTOUT != 0,
            noloop: flags & tracking::NOLOOP != 0,
        });
        let client = self.clients.entry(caller.badge).or_default();
        let state = client
            .session(session, &mut self.next_session)
            .ok_or(TOO_MANY_SESSIONS)?;
        match mode.is_some() {
            true => self.trackers.insert(state.id(), (caller.badge, session)),
            false => self.trackers.remove(&state.id()),
        };
        self.store.track(state, mode);
        Ok(())
    }

    fn caching(&mut self, caller: Caller, session: u64, said: bool, yes: bool) -> Result<(), u64> {
        if let Some(state) = self
            .clients
            .get(&caller.badge)
            .and_then(|c| c.sessions.get(&session))
        {
            self.store.caching(state, said.then_some(yes));
        }
        Ok(())
    }

    fn unblock(&mut self, caller: Caller, session: u64, error: bool) -> Result<bool, u64> {
        let Some(id) = self
            .clients
            .get(&caller.badge)
            .and_then(|c| c.sessions.get(&session))
            .map(Session::id)
        else {
            return Ok(false);
        };
        let unblocked = self.store.unblock(id, error);
        self.deliver_mail();
        Ok(unblocked)
    }

    fn finished(&mut self, caller: Caller) -> Result<RoundAnswer, u64> {
        let client = self.clients.get_mut(&caller.badge).ok_or(NOT_RUNNING)?;
        let answer = client.finished.take().ok_or(NOT_RUNNING)?;
        if let Some(r) = client.region {
            self.overtime.clear(r);
        }
        answer
    }

    fn reset(&mut self, caller: Caller) -> Result<(), u64> {
        if let Some(client) = self.clients.remove(&caller.badge) {
            for mut session in client.sessions.into_values() {
                self.blocked.remove(&session.id());
                self.trackers.remove(&session.id());
                self.store.release(&mut session);
            }
            if let Some(region) = client.region {
                self.regions[region].owner = None;
            }
        }
        Ok(())
    }

    fn end(&mut self, caller: Caller, session: u64) -> Result<(), u64> {
        if let Some(mut state) = self
            .clients
            .get_mut(&caller.badge)
            .and_then(|c| c.sessions.remove(&session))
        {
            self.blocked.remove(&state.id());
            self.trackers.remove(&state.id());
            self.store.release(&mut state);
        }
        // A letter for it that came before goes with it.
        if let Some(c) = self.clients.get_mut(&caller.badge) {
            let letters = proto::parse_mail(&c.mail).unwrap_or_default();
            let its = |l: &proto::Letter<'_>| match *l {
                proto::Letter::Reply { session: s, .. }
                | proto::Letter::Invalidate { session: s, .. } => s == session,
                proto::Letter::Publish { .. } => false,
            };
            if letters.iter().any(its) {
                let mut kept = Vec::new();
                for l in letters.iter().filter(|l| !its(l)) {
                    l.push(&mut kept);
                }
                c.mail = kept;
            }
        }
        Ok(())
    }
}
