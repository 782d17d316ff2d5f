//! What the connections share: the store, the configuration, the counters
//! and the client list.

use crate::conn::{Connection, Session};
use crate::pause::Pause;
use crate::pubsub::PubSub;
use crate::round::{Outcome, Round};
use crate::slow::SlowLog;
use crate::stats::{CommandStats, Named};
use crate::tracking::{self, Tracking};
use crate::{Clock, Command, Config, Stats, Store};
use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::net::SocketAddr;
use kvs_api::busy::Running;
use net_api::budget::Budget;

/// The Redis version Basalt reports (HELLO, `INFO server`): the protocol
/// and command semantics it follows. Clients compare it to decide what
/// they may send.
pub const REDIS_VERSION: &str = "7.0.0";

/// One connection as the client list shows it.
#[derive(Debug)]
pub(crate) struct ClientInfo {
    pub(crate) id: u64,
    pub(crate) addr: String,
    pub(crate) laddr: String,
    pub(crate) name: Vec<u8>,
    pub(crate) lib_name: Vec<u8>,
    pub(crate) lib_ver: Vec<u8>,
    pub(crate) created_us: u64,
    /// When it last sent something.
    pub(crate) last_us: u64,
    /// The last SELECT outside MULTI.
    pub(crate) db: u32,
    /// Commands queued, inside MULTI.
    pub(crate) multi: Option<u64>,
    /// Bytes of input held.
    pub(crate) qbuf: usize,
    /// Bytes of output not yet sent.
    pub(crate) omem: usize,
    /// The last command's name, in lower case (truncated).
    pub(crate) cmd: [u8; 32],
    pub(crate) cmd_len: usize,
    /// Its channel, pattern and shard channel subscriptions.
    pub(crate) subs: (usize, usize, usize),
    /// It waits in a blocking command.
    pub(crate) blocked: bool,
    /// It said `HELLO 3`.
    pub(crate) resp3: bool,
    /// Its `CLIENT TRACKING`, while on.
    pub(crate) tracking: Option<Tracking>,
    /// `CLIENT NO-EVICT on`.
    pub(crate) no_evict: bool,
    /// It said MONITOR (flag `O`).
    pub(crate) monitor: bool,
}

impl ClientInfo {
    /// Records the name of the command running now. One that is not
    /// CLIENT (or MULTI), outside MULTI, uses up `CLIENT CACHING`.
    pub(crate) fn set_cmd(&mut self, name: &[u8]) {
        let client = name
            .get(..6)
            .is_some_and(|n| n.eq_ignore_ascii_case(b"client"));
        if self.multi.is_none()
            && !client
            && !name.eq_ignore_ascii_case(b"multi")
            && let Some(t) = self.tracking.as_mut()
        {
            t.caching = false;
        }
        self.record_cmd(name);
    }

    /// Records `name` as the last command's (CLIENT LIST's `cmd`).
    pub(crate) fn record_cmd(&mut self, name: &[u8]) {
        let n = name.len().min(self.cmd.len());
        self.cmd[..n].copy_from_slice(&name[..n]);
        self.cmd[..n].make_ascii_lowercase();
        self.cmd_len = n;
    }
}

/// The RESP front end's shared state: the [`Store`] commands are
/// forwarded to, the [`Config`], the [`Stats`] and the list of open
/// connections (CLIENT LIST). The component makes one, sets its
/// parameters, then makes a [`Connection`] per accepted socket.
#[derive(Debug)]
pub struct Frontend<S, C> {
    pub(crate) store: S,
    pub(crate) clock: C,
    pub(crate) config: Config,
    pub(crate) stats: Stats,
    /// Counts per command and per error (`INFO commandstats`,
    /// `errorstats`).
    pub(crate) calls: CommandStats,
    /// The slow log and the latency events.
    pub(crate) slow: SlowLog,
    /// Open connections by slot; `free` lists the empty slots.
    pub(crate) clients: Vec<Option<ClientInfo>>,
    /// The slot of each open connection, by id.
    pub(crate) slots: BTreeMap<u64, usize>,
    /// Subscriptions and the messages on their way.
    pub(crate) pubsub: PubSub,
    free: Vec<usize>,
    next_id: u64,
    pub(crate) started_us: u64,
    /// This host's address, for CLIENT LIST's `laddr` (unspecified until
    /// the glue learns it).
    local_ip: [u8; 4],
    /// The commands queued for the next round.
    round: Round,
    /// What the last round left.
    pub(crate) outcome: Outcome,
    /// Sessions of connections gone with commands in the round: closed
    /// once it ran.
    ended: Vec<u64>,
    /// The most bytes the connections may hold together (input not yet
    /// run, output not yet sent): what the component's heap allows.
    client_memory: u64,
    /// What they hold now: the sum of their [`Connection::accounted`].
    clients_held: Budget,
    /// The connections blocked in a blocking command (BLPOP, …), by id,
    /// with the store generation they blocked in.
    pub(crate) blocked: BTreeMap<u64, u64>,
    /// What the store answered blocked connections, until each takes it.
    pub(crate) answers: BTreeMap<u64, Answer>,
    /// The store generation the blocked connections were last checked
    /// against: only when it changes are they walked.
    checked_generation: u64,
    /// The store sends keyspace events (some connection listens).
    events_on: bool,
    /// Connections CLIENT KILL closed, until each is fed.
    pub(crate) killed: alloc::collections::BTreeSet<u64>,
    /// How many connections track keys (`CLIENT TRACKING on`): while
    /// some do, the store's mail is read at every wake.
    pub(crate) trackers: usize,
    /// `CLIENT PAUSE`, and the connections it holds.
    pub(crate) pause: Pause,
    /// The connections that said MONITOR, by id.
    pub(crate) monitors: Vec<u64>,
    /// The round runs on: a script in it passed `busy-reply-threshold`.
    pub(crate) busy: Option<Busy>,
}

/// A round whose script runs on past `busy-reply-threshold`: the front
/// end answers `-BUSY` meanwhile, as Redis does, and calls nothing of the
/// store (every call would wait for the script).
#[derive(Debug)]
pub(crate) struct Busy {
    /// What the store said of the script last.
    pub(crate) running: Running,
    /// When the round began (for the slow log).
    started_us: u64,
    /// Connections with a command that waits for the round's end (one
    /// Redis allows while busy that needs the store): fed again then.
    pub(crate) held: Vec<u64>,
}

/// What a blocked connection's command came to.
#[derive(Debug)]
pub(crate) enum Answer {
    /// Its reply.
    Reply(Vec<u8>),
    /// The store was lost while it waited: the connection's state is gone.
    Lost,
}

impl<S: Store, C: Clock> Frontend<S, C> {
    /// A front end for `store`, telling time by `clock`, with the default
    /// configuration.
    pub fn new(store: S, mut clock: C) -> Self {
        let started_us = clock.now_us();
        Self {
            store,
            clock,
            config: Config::default(),
            stats: Stats::default(),
            calls: CommandStats::default(),
            slow: SlowLog::default(),
            clients: Vec::new(),
            slots: BTreeMap::new(),
            pubsub: PubSub::default(),
            free: Vec::new(),
            next_id: 1,
            started_us,
            local_ip: [0; 4],
            round: Round::default(),
            outcome: Outcome::default(),
            ended: Vec::new(),
            client_memory: u64::MAX,
            clients_held: Budget::default(),
            blocked: BTreeMap::new(),
            answers: BTreeMap::new(),
            checked_generation: 0,
            events_on: false,
            trackers: 0,
            pause: Pause::default(),
            monitors: Vec::new(),
            killed: Default::default(),
            busy: None,
        }
    }

    /// Limits what the connections may hold together to `bytes`, the
    /// part of the component's heap that is theirs. A connection whose
    /// input or output would pass it (or `maxmemory-clients`, where that
    /// is lower) is closed, as Redis evicts clients.
    pub fn set_client_memory(&mut self, bytes: u64) {
        self.client_memory = bytes;
    }

    /// The most bytes the connections may hold together: the heap's part
    /// for them, or `maxmemory-clients` where that is set and lower.
    pub fn client_memory_limit(&self) -> u64 {
        match self.config.maxmemory_clients() {
            0 => self.client_memory,
            set => set.min(self.client_memory),
        }
    }

    /// Bytes the connections hold now (INFO's `mem_clients_normal`).
    pub fn clients_held(&self) -> u64 {
        self.clients_held.held()
    }

    /// What a connection counted as holding `accounted` may hold, given
    /// what the others hold.
    pub(crate) fn client_memory_left(&self, accounted: u64) -> u64 {
        self.clients_held
            .left(self.client_memory_limit(), accounted)
    }

    /// Counts a connection as holding `now` bytes instead of `accounted`.
    pub(crate) fn account(&mut self, accounted: &mut u64, now: u64) {
        self.clients_held.account(accounted, now);
    }

    /// Runs the round: the store commands connections queued since the
    /// last one ([`Flow::Wait`](crate::Flow::Wait)), in one
    /// [`Store::exec_round`]. Feed every waiting connection again (no
    /// bytes) before the next flush: its replies join its output (a
    /// connection fed only after a later round lost them and answers with
    /// the store-lost error).
    ///
    /// When a script in the round runs on past `busy-reply-threshold`
    /// ([`StoreError::Running`](crate::StoreError::Running)), the round is
    /// not over: the connections answer `-BUSY` meanwhile, and each flush
    /// asks the store whether it is done ([`Store::resume_round`]); the
    /// waiting connections are fed after the flush that finds it done.
    pub fn flush(&mut self) {
        let started = match self.busy.as_mut() {
            Some(busy) => match self.outcome.resume(&mut self.store, &self.round) {
                Some(running) => {
                    busy.running = running;
                    return;
                }
                None => busy.started_us,
            },
            None if self.round.is_empty() => return,
            None => {
                let started = self.clock.now_us();
                if let Some(running) = self.outcome.take(&mut self.store, &self.round) {
                    self.busy = Some(Busy {
                        running,
                        started_us: started,
                        held: Vec::new(),
                    });
                    return;
                }
                started
            }
        };
        let now = self.clock.now_us();
        let usec = now.saturating_sub(started);
        let each = usec / self.round.len() as u64;
        self.outcome.usec_each = each;
        let slow = self.config.slow();
        let logged = u64::try_from(slow.log_slower_than_us).is_ok_and(|t| each >= t);
        if logged || slow.latency_threshold_ms > 0 {
            let round = core::mem::take(&mut self.round);
            for (session, cmd) in round.commands() {
                if !Named::of(cmd).rejected {
                    self.record_slow(session, cmd, each, now);
                }
            }
            self.round = round;
        }
        self.round.clear();
        for session in core::mem::take(&mut self.ended) {
            self.store.close(session);
        }
        // The connections that waited for the end of a busy round go on.
        if let Some(busy) = self.busy.take() {
            self.pause.release(busy.held);
        }
    }

    /// The script that runs on past `busy-reply-threshold`, if one does.
    pub(crate) fn running(&self) -> Option<Running> {
        self.busy.as_ref().map(|b| b.running)
    }

    /// Whether a round runs on: the connections waiting for it are fed
    /// only after a later [`flush`](Self::flush).
    pub fn is_busy(&self) -> bool {
        self.busy.is_some()
    }

    /// Queues `cmd` of `session` in the round, if it has room; its index.
    pub(crate) fn queue(&mut self, session: &mut Session, cmd: Command<'_>) -> Option<usize> {
        if !self.round.has_room(cmd) {
            return None;
        }
        if let Some(info) = self.client_mut(session) {
            info.set_cmd(cmd.name());
        }
        session.used_store = true;
        Some(self.round.push(session.id, cmd))
    }

    /// This host's IPv4 address (what the network assigned), for the
    /// local addresses of connections made from now on.
    pub fn set_local_ip(&mut self, ip: [u8; 4]) {
        self.local_ip = ip;
    }

    /// This host's IPv4 address as last set (0.0.0.0 before).
    pub fn local_ip(&self) -> [u8; 4] {
        self.local_ip
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, to change.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The configuration, for the component to set its parameters
    /// (`port`, `appendonly`, `maxclients`, limits).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The counters, for the component to set
    /// [`used_memory`](Stats::used_memory).
    pub fn stats_mut(&mut self) -> &mut Stats {
        &mut self.stats
    }

    /// A new connection from `peer` to `local`. Past `maxclients` open
    /// connections it is refused: its output holds
    /// `-ERR max number of clients reached` and it is already closing.
    pub fn connect(&mut self, peer: SocketAddr, local: SocketAddr) -> Connection {
        self.stats.connections_received += 1;
        let id = self.next_id;
        self.next_id += 1;
        if self.stats.connected >= self.config.maxclients() {
            self.stats.rejected_connections += 1;
            self.stats.error_replies += 1;
            let mut conn = Connection::new(id, None);
            conn.session
                .out
                .extend_from_slice(b"-ERR max number of clients reached\r\n");
            conn.session.closing = true;
            return conn;
        }
        let now = self.clock.now_us();
        let info = ClientInfo {
            id,
            addr: peer.to_string(),
            laddr: local.to_string(),
            name: Vec::new(),
            lib_name: Vec::new(),
            lib_ver: Vec::new(),
            created_us: now,
            last_us: now,
            db: 0,
            multi: None,
            qbuf: 0,
            omem: 0,
            cmd: [0; 32],
            cmd_len: 0,
            subs: (0, 0, 0),
            blocked: false,
            resp3: false,
            tracking: None,
            no_evict: false,
            monitor: false,
        };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.clients[slot] = Some(info);
                slot
            }
            None => {
                self.clients.push(Some(info));
                self.clients.len() - 1
            }
        };
        self.stats.connected += 1;
        self.slots.insert(id, slot);
        Connection::new(id, Some(slot))
    }

    /// Ends `conn` (the socket closed, or the component closed it after
    /// [`Flow::Close`](crate::Flow::Close)): closes its store session and
    /// takes it off the client list.
    pub fn disconnect(&mut self, mut conn: Connection) {
        self.account(&mut conn.accounted, 0);
        self.pubsub.leave(conn.session.id, &mut conn.session.subs);
        if self
            .client(conn.session.id)
            .is_some_and(|c| c.tracking.is_some())
        {
            self.trackers -= 1;
        }
        self.slots.remove(&conn.session.id);
        let session = &conn.session;
        if let Some(slot) = session.slot
            && self
                .clients
                .get(slot)
                .is_some_and(|c| c.as_ref().is_some_and(|c| c.id == session.id))
        {
            self.clients[slot] = None;
            self.free.push(slot);
            self.stats.connected -= 1;
        }
        // A blocked connection stops waiting when its session ends.
        self.blocked.remove(&session.id);
        self.answers.remove(&session.id);
        self.killed.remove(&session.id);
        self.pause.forget(session.id);
        self.monitors.retain(|&m| m != session.id);
        if conn.waits_for(self.outcome.run) || (self.busy.is_some() && session.used_store) {
            // Closed once the round ran: the store is busy until then.
            self.ended.push(session.id);
        } else if session.used_store {
            self.store.close(session.id);
        }
    }

    /// The connections (by [`Connection::id`]) that messages were
    /// published for since they last ran, or whose blocking command was
    /// answered (while a connection waits in one, this asks the store for
    /// its mail): feed each of them (no bytes) to take them into its
    /// output. Call it whenever the component wakes, and after each
    /// [`flush`](Self::flush).
    pub fn woken(&mut self) -> impl Iterator<Item = u64> + '_ {
        // Keyspace events are asked for while someone may hear them; the
        // store is not asked anything while a round runs on.
        let listening = self.pubsub.listening();
        let idle = self.busy.is_none();
        if idle && listening != self.events_on && self.store.events(listening).is_ok() {
            self.events_on = listening;
        }
        if idle && (!self.blocked.is_empty() || self.events_on || self.trackers > 0) {
            let mut letters = Vec::new();
            let polled = self.store.mail(&mut letters);
            for letter in letters {
                match letter {
                    crate::Letter::Reply { session, reply } => {
                        if self.blocked.remove(&session).is_some() {
                            self.answers.insert(session, Answer::Reply(reply));
                        }
                    }
                    crate::Letter::Publish { channel, message } => {
                        self.publish(false, &channel, &message);
                    }
                    crate::Letter::Invalidate { session, keys } => {
                        self.invalidate(session, keys.as_deref());
                    }
                }
            }
            // A store that restarted (or cannot be reached) forgot them.
            let generation = self.store.generation();
            if polled.is_err() || generation != self.checked_generation {
                let lost: Vec<u64> = self
                    .blocked
                    .iter()
                    .filter(|&(_, &g)| polled.is_err() || g != generation)
                    .map(|(&session, _)| session)
                    .collect();
                for session in lost {
                    self.blocked.remove(&session);
                    self.answers.insert(session, Answer::Lost);
                }
                self.checked_generation = generation;
            }
        }
        // A pause whose time is up releases the connections it held.
        let now = self.clock.now_us();
        self.pause.tick(now);
        let released = self.pause.take_released();
        for &id in &released {
            if let Some(info) = self.client_mut_by_id(id) {
                info.blocked = false;
            }
        }
        self.pubsub
            .with_mail()
            .chain(self.answers.keys().copied())
            .chain(self.killed.iter().copied())
            .chain(released)
    }

    /// Sends the monitors the line of `args`, which connection `id` ran
    /// ([`crate::monitor`]); if `id` monitors too, its line is returned
    /// instead, for its output (after its mail: the order Redis writes).
    pub(crate) fn monitor(&mut self, id: u64, args: &[&[u8]]) -> Option<Vec<u8>> {
        let now = self.clock.now_us();
        let info = self.client(id)?;
        let line = crate::monitor::line(now, info.db, &info.addr, args);
        for m in self.monitors.clone() {
            if m != id {
                self.deliver(|pubsub, delivery| pubsub.post(m, &line, delivery));
            }
        }
        self.monitors.contains(&id).then_some(line)
    }

    /// When, on the front end's clock (microseconds), something is due
    /// that no event brings (a `CLIENT PAUSE` that ends while it holds
    /// connections): the component wakes by then, and asks
    /// [`woken`](Self::woken).
    pub fn due_us(&self) -> Option<u64> {
        self.pause.due_us()
    }

    /// Tells tracking connection `session` (or its redirection) that
    /// `keys` changed (`None`: everything), as [`crate::tracking`] says.
    fn invalidate(&mut self, session: u64, keys: Option<&[Vec<u8>]>) {
        let Some(info) = self.client(session) else {
            return;
        };
        let Some(redirect) = info.tracking.as_ref().map(|t| t.redirect) else {
            return;
        };
        let resp3 = info.resp3;
        let (to, letter) = match redirect {
            0 if resp3 => (session, tracking::message(keys, true)),
            0 => return,
            _ => match self.client(redirect) {
                Some(r) if r.resp3 => (redirect, tracking::message(keys, true)),
                Some(r) if r.subs != (0, 0, 0) => (redirect, tracking::message(keys, false)),
                Some(_) => return,
                None => {
                    // Said each time, as Redis does, to a connection
                    // that can hear pushes.
                    let Some(t) = self
                        .client_mut_by_id(session)
                        .and_then(|c| c.tracking.as_mut())
                    else {
                        return;
                    };
                    t.broken = true;
                    if !resp3 {
                        return;
                    }
                    (session, tracking::broken(redirect))
                }
            },
        };
        self.deliver(|pubsub, delivery| pubsub.post(to, &letter, delivery));
    }

    /// PUBLISH (`shard` false) or SPUBLISH `message` on `channel`: to
    /// every listener, within `client-output-buffer-limit`'s `pubsub`
    /// class and the clients' memory; how many got it.
    pub(crate) fn publish(&mut self, shard: bool, channel: &[u8], message: &[u8]) -> usize {
        self.deliver(|pubsub, delivery| pubsub.publish(shard, channel, message, delivery))
    }

    /// Runs `post` on the mailboxes with what limits them now:
    /// `client-output-buffer-limit`'s `pubsub` class and the clients'
    /// memory.
    fn deliver<T>(
        &mut self,
        post: impl FnOnce(&mut PubSub, &crate::pubsub::Delivery<'_>) -> T,
    ) -> T {
        let now_us = self.clock.now_us();
        let limit = self.config.output_limit_pubsub();
        let budget = self
            .client_memory_limit()
            .saturating_sub(self.clients_held());
        let clients = &self.clients;
        let slots = &self.slots;
        let unsent = |id: u64| {
            slots
                .get(&id)
                .and_then(|&slot| clients.get(slot)?.as_ref())
                .map_or(0, |c| c.omem)
        };
        let delivery = crate::pubsub::Delivery {
            limit,
            now_us,
            unsent: &unsent,
            budget,
        };
        post(&mut self.pubsub, &delivery)
    }

    /// Records `cmd` of connection `id`, which took `usec` microseconds,
    /// in the slow log and the latency events, as their thresholds say.
    pub(crate) fn record_slow(&mut self, id: u64, cmd: Command<'_>, usec: u64, now_us: u64) {
        let info = self
            .slots
            .get(&id)
            .and_then(|&slot| self.clients.get(slot)?.as_ref());
        let (addr, name) = info.map_or((&[][..], &[][..]), |c| (c.addr.as_bytes(), &c.name[..]));
        let client = crate::slow::Client { addr, name };
        self.slow
            .record(self.config.slow(), cmd.args(), usec, now_us, client);
    }

    /// The client list entry of connection `id`.
    pub(crate) fn client(&self, id: u64) -> Option<&ClientInfo> {
        self.clients.get(*self.slots.get(&id)?)?.as_ref()
    }

    /// The client list entry of connection `id`, to change.
    pub(crate) fn client_mut_by_id(&mut self, id: u64) -> Option<&mut ClientInfo> {
        self.clients.get_mut(*self.slots.get(&id)?)?.as_mut()
    }

    /// The client list entry of `session`.
    pub(crate) fn client_mut(&mut self, session: &Session) -> Option<&mut ClientInfo> {
        self.clients.get_mut(session.slot?)?.as_mut()
    }

    /// The open connections, in slot order.
    pub(crate) fn client_list(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.iter().flatten()
    }
}
