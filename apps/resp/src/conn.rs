//! One TCP connection: its input (the command in progress, and commands
//! held back while the output is full), its parser and its output.

use crate::frontend::{Answer, Frontend};
use crate::parse::{Parser, Step};
use crate::pubsub::{Mail, Subscriptions};
use crate::stats::Named;
use crate::{Clock, Command, CommandBuf, ROUND_COMMANDS_PER_CONNECTION, Store, cmds};
use alloc::vec::Vec;
use libcap::log;

/// While a connection has at least this many bytes of output not yet
/// sent, it runs no more commands (the rest of its input waits) and
/// [`Connection::wants_input`] is false, so that a client that pipelines
/// without reading its replies is slowed down instead of growing the
/// output without bound.
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// A buffer that grew past this while a large command or reply went
/// through is given back once empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

/// What to do with the connection after [`Connection::feed`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flow {
    /// Keep it open.
    Continue,
    /// Send what [`Connection::output`] holds, then close it: the client
    /// sent QUIT, broke the protocol, outgrew `client-query-buffer-limit`
    /// or `client-output-buffer-limit` or the clients' memory,
    /// was refused (`maxclients`), or the store lost its session.
    Close,
    /// Store commands wait in the front end's round: run it
    /// ([`Frontend::flush`]), then feed the connection again (no bytes);
    /// their replies join the output then. Send what the output holds
    /// meanwhile.
    Wait,
}

/// A connection's state the commands work on.
#[derive(Debug)]
pub(crate) struct Session {
    /// The client id (CLIENT ID) and the store session.
    pub(crate) id: u64,
    /// Its entry in the front end's client list (none when refused).
    pub(crate) slot: Option<usize>,
    /// Replies; the first `sent` bytes have been sent.
    pub(crate) out: Vec<u8>,
    sent: usize,
    /// No more commands: close once the output is sent.
    pub(crate) closing: bool,
    /// Inside MULTI (commands go to the store to be queued).
    pub(crate) in_multi: bool,
    /// What the front end queued of MULTI's commands (its own).
    pub(crate) multi: Queued,
    /// The store has a session for it (to close when it goes).
    pub(crate) used_store: bool,
    /// The store's generation when it first used the store: its session
    /// lives there.
    pub(crate) store_generation: Option<u64>,
    /// Its Pub/Sub subscriptions.
    pub(crate) subs: Subscriptions,
    /// A command that may block (BLPOP, …) waits in the round: nothing
    /// after it runs until its reply is known.
    pub(crate) may_block: bool,
    /// Its blocking command waits ([`Answer`]): nothing more runs until
    /// the store answers it.
    pub(crate) blocked: bool,
    /// That command, to count once answered.
    pub(crate) blocked_on: Named,
    /// It said `HELLO 3`: replies are RESP3's, messages pushes.
    pub(crate) resp3: bool,
    /// `CLIENT REPLY`.
    pub(crate) reply: Replies,
    /// It said MONITOR.
    pub(crate) monitor: bool,
    /// The commands it queued in MULTI, while some connection monitors:
    /// they are shown when EXEC runs them.
    pub(crate) monitored: Vec<Vec<u8>>,
}

/// `CLIENT REPLY`: whether the connection's replies are sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Replies {
    #[default]
    On,
    Off,
    /// Not the next command's.
    Skip,
}

impl Replies {
    /// What holds after a command whose reply was held back.
    pub(crate) fn after_one(self) -> Replies {
        match self {
            Replies::Skip => Replies::On,
            other => other,
        }
    }
}

/// The front end's part of a transaction: its own commands queued
/// inside MULTI (the store queues the rest), to run at EXEC.
#[derive(Debug, Default)]
pub(crate) struct Queued {
    /// Each with its place among all the commands queued.
    pub(crate) own: Vec<(usize, Vec<u8>)>,
    /// How many commands are queued, the store's and its own.
    pub(crate) queued: usize,
    /// One of its own was refused when queued: EXEC answers EXECABORT.
    pub(crate) dirty: bool,
    /// A command that writes is queued (a `CLIENT PAUSE WRITE` holds
    /// EXEC).
    pub(crate) writes: bool,
}

/// One client connection. Make it with
/// [`Frontend::connect`](crate::Frontend::connect), feed it what the
/// socket received, send what [`output`](Self::output) holds and report
/// it with [`consume`](Self::consume); end it with
/// [`Frontend::disconnect`](crate::Frontend::disconnect).
///
/// The component's loop, per connection:
///
/// ```text
/// on readable, if conn.wants_input():  n = recv(buf); flow = conn.feed(&mut fe, &buf[..n])
/// on writable, if output not empty:    n = send(conn.output()); conn.consume(n);
///                                      flow = conn.feed(&mut fe, &[])   // runs what waited
/// flow == Close and output empty:      close the socket; fe.disconnect(conn)
/// peer closed:                         fe.disconnect(conn)
/// ```
#[derive(Debug)]
pub struct Connection {
    parser: Parser,
    /// Received bytes not yet run: the command in progress, and any held
    /// back by full output.
    input: Vec<u8>,
    /// Commands re-encoded for the store (inline ones, and multibulk ones
    /// in Redis's lax framing).
    encoded: CommandBuf,
    pub(crate) session: Session,
    /// Its commands in the front end's round (their indices), in order.
    queued: Vec<(usize, Named)>,
    /// The number of the round they are in.
    round: u64,
    /// What the front end counts it as holding ([`Frontend::account`]).
    pub(crate) accounted: u64,
    /// Since when its output has been past the soft limit of
    /// `client-output-buffer-limit` (microseconds).
    soft_since: Option<u64>,
}

impl Connection {
    pub(crate) fn new(id: u64, slot: Option<usize>) -> Self {
        Self {
            parser: Parser::new(),
            input: Vec::new(),
            encoded: CommandBuf::new(),
            session: Session {
                id,
                slot,
                out: Vec::new(),
                sent: 0,
                closing: false,
                in_multi: false,
                multi: Queued::default(),
                used_store: false,
                store_generation: None,
                subs: Subscriptions::default(),
                may_block: false,
                blocked: false,
                blocked_on: Named::default(),
                resp3: false,
                reply: Replies::On,
                monitor: false,
                monitored: Vec::new(),
            },
            queued: Vec::new(),
            round: 0,
            accounted: 0,
            soft_since: None,
        }
    }

    /// Whether commands of this connection wait in round number `run`.
    pub(crate) fn waits_for(&self, run: u64) -> bool {
        !self.queued.is_empty() && self.round == run
    }

    /// Takes the replies of its commands from the round that ran.
    fn collect<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>) {
        if self.queued.is_empty() || self.round == fe.outcome.run {
            return;
        }
        let queued = core::mem::take(&mut self.queued);
        let outcome = &fe.outcome;
        // Each command that ran, and its error reply's first line.
        let mut ran: Vec<(Named, Option<Vec<u8>>)> = Vec::new();
        let latest = self.round + 1 == outcome.run;
        let known = latest && (!outcome.lost || outcome.applied.is_some());
        self.session.may_block = false;
        let mut blocked = None;
        for &(i, named) in queued.iter().take_while(|_| known) {
            let Some(reply) = outcome.reply(i) else {
                break;
            };
            if reply == kvs_api::proto::BLOCKED {
                // The last of its commands: it waits for the store's mail.
                blocked = Some(named);
                break;
            }
            if self.session.reply == Replies::On {
                self.session.out.extend_from_slice(reply);
            }
            self.session.reply = self.session.reply.after_one();
            let error = reply.starts_with(b"-").then(|| first_line(reply).to_vec());
            ran.push((named, error));
        }
        let usec = outcome.usec_each;
        let count = |fe: &mut Frontend<S, C>, ran: &[(Named, Option<Vec<u8>>)]| {
            for (named, error) in ran {
                cmds::count(fe, *named, error.as_deref().unwrap_or(b"+"), usec);
            }
        };
        if let Some(named) = blocked {
            self.session.blocked = true;
            self.session.blocked_on = named;
            let generation = fe.store.generation();
            fe.blocked.insert(self.session.id, generation);
            // Its command counts once answered.
            debug_assert_eq!(
                ran.len() + 1,
                queued.len(),
                "a blocking command is the last queued"
            );
            count(fe, &ran);
            if let Some(info) = fe.client_mut(&self.session) {
                info.blocked = true;
            }
            return;
        }
        // Those of a round the store's restart interrupted: each learns
        // whether it took effect, and the connection closes.
        let took_effect = outcome
            .applied
            .filter(|_| latest)
            .map(|applied| outcome.ends.len() + applied);
        let answered = ran.len();
        count(fe, &ran);
        let mut fates = 0;
        if let Some(end) = took_effect {
            for &(i, named) in &queued[answered..] {
                let at = self.session.out.len();
                cmds::interrupted(&mut self.session, i < end);
                let reply = self.session.out[at..].to_vec();
                cmds::count(fe, named, &reply, 0);
                fates += 1;
            }
        }
        if answered + fates < queued.len() {
            // One error reply for the rest, and the connection closes.
            let at = self.session.out.len();
            cmds::lost(&mut self.session);
            let reply = self.session.out[at..].to_vec();
            cmds::count(fe, Named::default(), &reply, 0);
        }
    }

    /// The client id (what CLIENT ID answers; also the store session).
    pub fn id(&self) -> u64 {
        self.session.id
    }

    /// Takes `input`, the next bytes received, runs every command they
    /// complete (until the output holds [`OUTPUT_HIGH_WATER`] bytes; the
    /// rest waits for the next call, which may pass no bytes), and appends
    /// the replies to [`output`](Self::output). After [`Flow::Close`]
    /// further input is ignored.
    pub fn feed<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>, input: &[u8]) -> Flow {
        fe.stats.net_input_bytes += input.len() as u64;
        if fe.killed.remove(&self.session.id) {
            // CLIENT KILL by another connection: at once, output dropped.
            self.close_now();
            return self.flow();
        }
        let produced_from = self.session.out.len();
        self.collect(fe);
        self.take_answer(fe);
        self.take_mail(fe);
        if self.session.closing {
            fe.stats.net_output_bytes += (self.session.out.len() - produced_from) as u64;
            return self.flow();
        }
        if self.input.is_empty() {
            // The usual case: parse the received bytes where they are and
            // keep only an incomplete tail.
            let used = self.run(fe, input);
            if !self.session.closing {
                self.hold(fe, &input[used..]);
            }
        } else {
            self.hold(fe, input);
            let held = core::mem::take(&mut self.input);
            let used = self.run(fe, &held);
            self.input = held;
            self.input.drain(..used);
        }
        fe.stats.net_output_bytes += (self.session.out.len() - produced_from) as u64;
        if self.input.is_empty() && self.input.capacity() > SHRINK_ABOVE {
            self.input = Vec::new();
        }
        if !self.session.closing && self.held() > fe.client_memory_left(self.accounted) {
            // The replies that came in outgrew what the clients may hold
            // together.
            self.evict(fe, "its output");
        }
        if !self.session.closing {
            self.check_output_limit(fe);
        }
        if self.session.closing {
            self.input = Vec::new();
            self.parser = Parser::new();
        }
        let now = fe.clock.now_us();
        if let Some(info) = fe.client_mut(&self.session) {
            info.last_us = now;
            info.qbuf = self.input.len();
            info.omem = self.pending_output();
        }
        let held = self.held();
        fe.account(&mut self.accounted, held);
        self.flow()
    }

    /// Keeps `bytes` (received, not yet a whole command) in the input,
    /// unless that would pass `client-query-buffer-limit` or what the
    /// clients may hold together: then the connection closes without a
    /// reply, as Redis closes it, and the bytes are never copied.
    fn hold<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let qbuf = self.input.len() + self.parser.held() + bytes.len();
        if qbuf as u64 > fe.config.query_buffer_limit() {
            fe.stats.query_buffer_overflows += 1;
            log::warn!(
                "closing client id={} that reached client-query-buffer-limit ({} bytes)",
                self.session.id,
                fe.config.query_buffer_limit()
            );
            self.close_now();
            return;
        }
        // What the input's growth would make it: doubled, as `Vec` grows.
        let needed = self.input.len() + bytes.len();
        let grown = if needed > self.input.capacity() {
            needed.max(self.input.capacity() * 2)
        } else {
            self.input.capacity()
        };
        let held = self.held() - self.input.capacity() as u64 + grown as u64;
        if held > fe.client_memory_left(self.accounted)
            || self.input.try_reserve(bytes.len()).is_err()
        {
            self.evict(fe, "its input");
            return;
        }
        self.input.extend_from_slice(bytes);
    }

    /// Takes the store's answer to the blocking command this connection
    /// waits in, if it came.
    fn take_answer<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>) {
        if !self.session.blocked {
            return;
        }
        let Some(answer) = fe.answers.remove(&self.session.id) else {
            return;
        };
        self.session.blocked = false;
        if let Some(info) = fe.client_mut(&self.session) {
            info.blocked = false;
        }
        let named = core::mem::take(&mut self.session.blocked_on);
        match answer {
            Answer::Reply(reply) => {
                cmds::count(fe, named, first_line(&reply), 0);
                if !self.session.closing && self.session.reply == Replies::On {
                    self.session.out.extend_from_slice(&reply);
                }
                self.session.reply = self.session.reply.after_one();
            }
            Answer::Lost => {
                let at = self.session.out.len();
                cmds::lost(&mut self.session);
                let reply = self.session.out[at..].to_vec();
                cmds::count(fe, named, &reply, 0);
            }
        }
    }

    /// Appends the Pub/Sub messages published for this connection, or
    /// closes it if it fell too far behind to take them.
    fn take_mail<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>) {
        match fe.pubsub.take(self.session.id) {
            None => {}
            Some(Mail::Messages(bytes)) if !self.session.closing => {
                if self.session.out.try_reserve(bytes.len()).is_err() {
                    self.evict(fe, "its messages");
                    return;
                }
                self.session.out.extend_from_slice(&bytes);
            }
            Some(Mail::Messages(_)) => {}
            Some(Mail::Overflowed) => {
                fe.stats.output_buffer_overflows += 1;
                log::warn!(
                    "closing client id={} for overcoming its output buffer limits (class pubsub)",
                    self.session.id
                );
                self.close_now();
            }
        }
    }

    /// `client-output-buffer-limit` (class `normal`, or `pubsub` for a
    /// subscribed connection), as Redis applies it when replies are added: past the hard limit the connection closes at
    /// once; past the soft one, once it has stayed past it longer than
    /// the soft seconds. Its replies are dropped.
    fn check_output_limit<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>) {
        // A subscriber's output is class `pubsub`'s, as in Redis.
        let limit = if self.session.subs.active() {
            fe.config.output_limit_pubsub()
        } else {
            fe.config.output_limit()
        };
        let pending = self.pending_output() as u64;
        let over_soft = limit.soft > 0 && pending > limit.soft;
        let passed = if limit.hard > 0 && pending > limit.hard {
            true
        } else if over_soft {
            let now = fe.clock.now_us();
            let since = *self.soft_since.get_or_insert(now);
            now.saturating_sub(since) > limit.soft_seconds.saturating_mul(1_000_000)
        } else {
            self.soft_since = None;
            false
        };
        if passed {
            fe.stats.output_buffer_overflows += 1;
            log::warn!(
                "closing client id={} for overcoming its output buffer limits ({pending} bytes waiting)",
                self.session.id
            );
            self.close_now();
        }
    }

    /// Closes the connection now, for the memory it would hold: Redis's
    /// client eviction (`maxmemory-clients`, `evicted_clients`).
    fn evict<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>, what: &str) {
        fe.stats.evicted_clients += 1;
        log::warn!(
            "closing client id={}: {what} would pass the {} bytes all clients may hold",
            self.session.id,
            fe.client_memory_limit()
        );
        self.close_now();
    }

    /// Drops what the connection holds, input and unsent output alike,
    /// and closes it.
    fn close_now(&mut self) {
        self.session.closing = true;
        self.session.out = Vec::new();
        self.session.sent = 0;
        self.input = Vec::new();
        self.parser = Parser::new();
    }

    /// Bytes the connection holds: its input and output buffers as
    /// allocated (room included: a buffer grows by doubling), and the
    /// parser's.
    fn held(&self) -> u64 {
        (self.input.capacity() + self.parser.held() + self.session.out.capacity()) as u64
    }

    /// Runs the commands in `data`; returns how many bytes they took.
    fn run<S: Store, C: Clock>(&mut self, fe: &mut Frontend<S, C>, data: &[u8]) -> usize {
        let Self {
            parser,
            encoded,
            session,
            queued,
            round,
            ..
        } = self;
        let mut pos = 0;
        while !session.closing
            && !session.blocked
            && !session.may_block
            && session.out.len() - session.sent < OUTPUT_HIGH_WATER
        {
            let rest = &data[pos..];
            match parser.step(rest, fe.config.proto_max_bulk_len()) {
                Step::Incomplete => break,
                Step::Empty { len } => pos += len,
                // Answered after the queued commands.
                Step::Error(_) if !queued.is_empty() => break,
                Step::Error(e) => {
                    let at = session.out.len();
                    e.write(&mut session.out);
                    fe.stats.error_replies += 1;
                    fe.stats.protocol_errors += 1;
                    fe.calls.error(&session.out[at + 1..]);
                    session.closing = true;
                }
                Step::Multibulk { len, canonical } => {
                    let command = if canonical {
                        Command {
                            encoded: &rest[..len],
                            spans: &parser.spans,
                        }
                    } else {
                        encoded.set_from(parser.spans.iter().map(|s| s.of(rest)))
                    };
                    let done = dispatch(session, queued, round, fe, command);
                    parser.clear();
                    if !done {
                        break;
                    }
                    pos += len;
                }
                Step::Inline { len } => {
                    let args = parser.spans.iter().map(|s| s.of(&parser.inline));
                    let command = encoded.set_from(args);
                    let done = dispatch(session, queued, round, fe, command);
                    parser.clear();
                    if !done {
                        break;
                    }
                    pos += len;
                }
            }
        }
        pos
    }

    /// The replies not yet sent.
    pub fn output(&self) -> &[u8] {
        &self.session.out[self.session.sent..]
    }

    /// Reports that the first `n` bytes of [`output`](Self::output) were
    /// sent.
    pub fn consume(&mut self, n: usize) {
        let s = &mut self.session;
        s.sent = (s.sent + n).min(s.out.len());
        if s.sent == s.out.len() {
            s.out.clear();
            s.sent = 0;
            if s.out.capacity() > SHRINK_ABOVE {
                s.out = Vec::new();
            }
        } else if s.sent >= s.out.len() / 2 {
            // Keep the unsent half at the front, so that partial sends
            // cost no more than the bytes they leave.
            s.out.drain(..s.sent);
            s.sent = 0;
        }
    }

    /// Bytes of output not yet sent.
    fn pending_output(&self) -> usize {
        self.session.out.len() - self.session.sent
    }

    /// Whether to read more from the socket: false once closing, and while
    /// the output holds [`OUTPUT_HIGH_WATER`] bytes or more (the client is
    /// not reading its replies; let TCP slow it down).
    pub fn wants_input(&self) -> bool {
        !self.session.closing && self.pending_output() < OUTPUT_HIGH_WATER
    }

    /// Whether the connection is to close once its output is sent.
    pub fn is_closing(&self) -> bool {
        self.session.closing
    }

    fn flow(&self) -> Flow {
        if !self.queued.is_empty() {
            Flow::Wait
        } else if self.session.closing {
            Flow::Close
        } else {
            Flow::Continue
        }
    }
}

/// The first line of a reply (an error's words).
fn first_line(reply: &[u8]) -> &[u8] {
    &reply[..reply
        .iter()
        .position(|&b| b == b'\r')
        .unwrap_or(reply.len())]
}

/// Runs `cmd`, or queues it in the front end's round (`queued` lists the
/// connection's commands there, `round` the round's number); false to
/// stop before it (it runs after the queued ones).
fn dispatch<S: Store, C: Clock>(
    session: &mut Session,
    queued: &mut Vec<(usize, Named)>,
    round: &mut u64,
    fe: &mut Frontend<S, C>,
    cmd: Command<'_>,
) -> bool {
    if cmds::held_by_pause(session, fe, cmd) {
        return false;
    }
    if let Some(running) = fe.running() {
        // A connection whose commands are in the round that runs on
        // waits for it, as Redis reads nothing more of a client whose
        // script runs; the others are answered now.
        return queued.is_empty() && cmds::while_busy(session, fe, cmd, running);
    }
    if !cmds::deferrable(session, cmd) {
        if !queued.is_empty() {
            return false;
        }
        cmds::execute(session, fe, cmd);
        return true;
    }
    if queued.len() >= ROUND_COMMANDS_PER_CONNECTION {
        return false;
    }
    if cmds::stale(session, fe) {
        return true;
    }
    match fe.queue(session, cmd) {
        Some(i) => {
            cmds::monitor_queued(session, fe, cmd);
            queued.push((i, Named::of(cmd)));
            *round = fe.outcome.run;
            session.may_block = cmds::may_block(cmd);
        }
        // A full round: run it alone, unless others wait before it.
        None if queued.is_empty() => cmds::execute(session, fe, cmd),
        None => return false,
    }
    true
}
