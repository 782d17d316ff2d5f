//! memcached 1.6's text, meta and binary protocols over a TCP byte
//! stream, with the items in the kvs store's memcached namespace
//! (`kvs_api::mc`).
//!
//! `no_std` + `alloc`, host-tested. A [`Connection`] takes the bytes of
//! one client as they arrive, in any pieces ([`Connection::receive`]).
//! Its first byte picks the protocol, as memcached picks it: 0x80 is the
//! [`binary`] protocol, anything else text. In text it frames command
//! lines and data blocks, decodes each line once into a [`Command`]
//! ([`parse`]), runs it on a [`Cache`] and appends the replies. It
//! buffers at most one line ([`Limits::max_line`], longer `get` lines up
//! to [`Limits::max_get_line`]) or one data block (`item_size_max` and
//! its `\r\n`); in binary, one request's head or value. Anything a client
//! sends is answered or closes the connection as memcached does, never a
//! panic.
//!
//! The connections share one budget ([`Frontend::client_memory`]): each
//! is counted at what it buffers, input and output. A data block that
//! would not fit in what the others leave is refused before it is read,
//! as memcached refuses an item it cannot allocate (`SERVER_ERROR out of
//! memory storing object`, or the binary status 0x82), and thrown away
//! as it comes; a connection whose replies outgrow it is closed.
//!
//! ```
//! use kvs_api::mc::Local;
//! use memcached::{Connection, Flow, Frontend, Limits};
//! let mut cache = Local { store: kvs_core::Store::new(), clock: || 1_767_225_600_000 };
//! let mut front = Frontend::new(11211, 1_767_225_600);
//! let mut conn = Connection::new(Limits::default());
//! let mut out = Vec::new();
//! let flow = conn.receive(b"set k 0 0 2\r\nhi\r\nget k\r\n", &mut cache, &mut front, 1_767_225_600, &mut out);
//! assert_eq!(flow, Flow::Open);
//! assert_eq!(out, b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n");
//! ```

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod base64;
pub mod binary;
mod exec;
pub mod meta;
pub mod parse;
pub mod round;
pub mod serve;
mod stats;

use alloc::vec::Vec;
use net_api::budget::Budget;

pub use kvs_api::mc::Cache;
pub use parse::Command;

/// The version `version` and `stats` report: memcached's, whose protocol
/// this is, marked as Basalt's.
pub const VERSION: &str = "1.6.18-basalt";

/// Once this many bytes of replies wait to be sent (in a binary
/// connection: once a call has written this many), the connection stops
/// running commands and keeps the rest of its input
/// ([`Connection::stalled`]) until it is called again: a client that
/// pipelines `get`s of large items without reading the replies is slowed
/// down, not answered into memory without bound (a call writes at most
/// this and one more reply).
pub const OUTPUT_HIGH_WATER: usize = 64 * 1024;

/// An idle connection's buffers are given back above this capacity, so
/// that one large item does not stay counted against the budget.
const SHRINK_ABOVE: usize = 16 * 1024;

/// What a connection may buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `item_size_max`: the largest item (memcached's `-I`, 1 MiB).
    pub item_size_max: usize,
    /// A line without its `\n` longer than this closes the connection
    /// (memcached: 2048).
    pub max_line: usize,
    /// … unless it is a `get`/`gets` line, which may reach this.
    pub max_get_line: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            item_size_max: kvs_core::mc::ITEM_SIZE_MAX,
            max_line: 2048,
            max_get_line: 256 * 1024,
        }
    }
}

/// Whether the connection stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// It does.
    Open,
    /// Send what was written, then close it (`quit`, a line too long, …).
    Close,
    /// It waits for a call in the [`round::Batch`]: feed it again (with
    /// no bytes) once the batch ran ([`Connection::receive_round`]).
    Wait,
}

/// What a connection does with a command that calls the cache: run it
/// now, or (`Some`) run it and ask the cache whether it put the call off
/// to a round, then run it again once answered ([`round`]).
type Defer<C> = Option<fn(&mut C) -> Option<(round::Ticket, usize)>>;

/// A command that calls the cache, as the connection runs it.
#[derive(Debug)]
enum Action {
    /// A command without a data block.
    Run(Command),
    /// A storage command and its data block (with its `\r\n`).
    Stored(Command, Vec<u8>),
}

impl Action {
    fn run<C: Cache>(
        &self,
        cache: &mut C,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        match self {
            Action::Run(command) => exec::run(command.clone(), cache, front, now, out),
            Action::Stored(command, block) => {
                exec::stored(command.clone(), block, cache, out);
                Flow::Open
            }
        }
    }
}

/// A command whose call went into the batch, its ticket, and what the
/// call takes there.
#[derive(Debug)]
struct Pending {
    action: Action,
    ticket: round::Ticket,
    bytes: usize,
}

/// The counters the front end keeps for `stats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FrontCounters {
    /// Open connections.
    pub curr_connections: u64,
    /// Connections opened.
    pub total_connections: u64,
    /// Connections refused past `maxconns`.
    pub rejected_connections: u64,
    /// Bytes read from clients.
    pub bytes_read: u64,
    /// Bytes written to them.
    pub bytes_written: u64,
    /// Storage requests refused for `item_size_max`.
    pub store_too_large: u64,
    /// Storage requests refused for the connections' budget (the store
    /// counts those it refuses for its own memory).
    pub store_no_memory: u64,
    /// Connections closed because their replies outgrew the budget
    /// (memcached's `response_obj_oom`).
    pub response_obj_oom: u64,
    /// Connections closed because their input (a command line) outgrew
    /// it (memcached's `read_buf_oom`).
    pub read_buf_oom: u64,
}

/// The front end's settings and counters, shared by its connections.
#[derive(Debug, Clone)]
pub struct Frontend {
    /// The TCP port (`stats settings`).
    pub port: u16,
    /// `maxconns`.
    pub max_connections: u64,
    /// `item_size_max`.
    pub item_size_max: usize,
    /// What `verbosity` last set.
    pub verbosity: u32,
    /// The version string.
    pub version: &'static str,
    /// When it started (Unix seconds).
    pub started: u64,
    /// The most bytes the connections may buffer together (input not yet
    /// run, output not yet sent): the part of the component's heap that
    /// is theirs.
    pub client_memory: u64,
    /// What they buffer now.
    clients: Budget,
    /// The counters.
    pub counters: FrontCounters,
}

impl Frontend {
    /// A front end on `port` started at `now` (Unix seconds).
    pub fn new(port: u16, now: u64) -> Frontend {
        Frontend {
            port,
            max_connections: 1024,
            item_size_max: kvs_core::mc::ITEM_SIZE_MAX,
            verbosity: 0,
            version: VERSION,
            started: now,
            client_memory: u64::MAX,
            clients: Budget::default(),
            counters: FrontCounters::default(),
        }
    }

    /// What the connections buffer together, as last accounted.
    pub fn clients_held(&self) -> u64 {
        self.clients.held()
    }
}

/// Answers a refused command at once: its reply needs no answer from
/// the cache, so a call it makes (dropping a refused set's old item) is
/// not waited for even when put off to a round.
fn refuse<C: Cache>(refusal: &parse::Refusal, cache: &mut C, defer: Defer<C>, out: &mut Vec<u8>) {
    exec::refusal(refusal, cache, out);
    if let Some(put_off) = defer {
        put_off(cache);
    }
}

/// The budget (`room` bytes more) or the heap has no room for a buffer's
/// growth.
pub(crate) struct NoRoom;

/// Appends `bytes` to `buffer` if its growth (doubled, as `Vec` grows)
/// fits in `room` and the heap has it.
pub(crate) fn append(buffer: &mut Vec<u8>, bytes: &[u8], room: usize) -> Result<(), NoRoom> {
    let needed = buffer.len() + bytes.len();
    if needed > buffer.capacity() {
        let grown = needed.max(buffer.capacity() * 2);
        if grown - buffer.capacity() > room || buffer.try_reserve(bytes.len()).is_err() {
            return Err(NoRoom);
        }
    }
    buffer.extend_from_slice(bytes);
    Ok(())
}

/// Gives back most of `buffer`'s capacity once what it holds is a small
/// part of it (a large item went through).
pub(crate) fn shrink(buffer: &mut Vec<u8>) {
    if buffer.capacity() > SHRINK_ABOVE && buffer.len() < buffer.capacity() / 4 {
        buffer.shrink_to(buffer.len().max(SHRINK_ABOVE / 2));
    }
}

/// Throws away `n` bytes a refused request sent: first from what
/// `input` holds, then from `bytes` (moved past them), never buffering
/// them; how many are still to come.
pub(crate) fn swallow(n: usize, input: &mut Vec<u8>, bytes: &mut &[u8]) -> usize {
    let from_buf = n.min(input.len());
    input.drain(..from_buf);
    let from_new = (n - from_buf).min(bytes.len());
    *bytes = &bytes[from_new..];
    n - from_buf - from_new
}

/// What the connection waits for.
#[derive(Debug)]
enum State {
    /// A command line.
    Line,
    /// The data block of a storage command: `len` bytes and `\r\n`.
    Data(Command, usize),
    /// Bytes to throw away (a refused command's data block).
    Swallow(usize),
    /// Closed: nothing more is read.
    Closed,
}

/// The protocol a connection speaks, picked from its first byte as
/// memcached picks it.
#[derive(Debug)]
enum Wire {
    /// No byte yet.
    Undecided,
    /// Text and meta commands ([`State`]).
    Text,
    /// The binary protocol (0x80 first), with its own input.
    Binary(binary::Session),
}

/// One client's connection: its unparsed input and where it is.
#[derive(Debug)]
pub struct Connection {
    input: Vec<u8>,
    state: State,
    wire: Wire,
    limits: Limits,
    /// The last call stopped at [`OUTPUT_HIGH_WATER`] with commands left.
    stalled: bool,
    /// What the budget counts it as holding.
    accounted: u64,
    /// The command that waits for its call in a round.
    pending: Option<Pending>,
    /// Past `maxconns`: answered memcached's error, then closed.
    refused: bool,
}

impl Connection {
    /// A new connection.
    pub fn new(limits: Limits) -> Connection {
        Connection {
            input: Vec::new(),
            state: State::Line,
            wire: Wire::Undecided,
            limits,
            stalled: false,
            accounted: 0,
            pending: None,
            refused: false,
        }
    }

    /// A connection past `maxconns`: whatever it sends is answered
    /// `ERROR Too many open connections`, and it closes.
    pub fn refused(limits: Limits) -> Connection {
        Connection {
            refused: true,
            ..Connection::new(limits)
        }
    }

    /// Whether it was made by [`refused`](Self::refused).
    pub fn is_refused(&self) -> bool {
        self.refused
    }

    /// Whether the connection speaks the binary protocol, or will once
    /// `bytes` arrive (binary connections are not served in rounds).
    pub fn speaks_binary(&self, bytes: &[u8]) -> bool {
        match self.wire {
            Wire::Binary(_) => true,
            Wire::Undecided => bytes.first() == Some(&binary::header::REQUEST_MAGIC),
            Wire::Text => false,
        }
    }

    /// What the connection buffers: its input and `out`, its output.
    fn held(&self, out: &Vec<u8>) -> u64 {
        let binary = match &self.wire {
            Wire::Binary(session) => session.held(),
            _ => 0,
        };
        // A call waiting in the batch takes room there.
        let waiting = self.pending.as_ref().map_or(0, |p| p.bytes);
        (self.input.capacity() + binary + out.capacity() + waiting) as u64
    }

    /// What the connection may buffer, given what the others do.
    fn allowed(&self, front: &Frontend) -> u64 {
        front.clients.left(front.client_memory, self.accounted)
    }

    /// How many more bytes the connection may buffer now.
    fn room(&self, front: &Frontend, out: &Vec<u8>) -> usize {
        let room = self.allowed(front).saturating_sub(self.held(out));
        usize::try_from(room).unwrap_or(usize::MAX)
    }

    /// The connection is gone: what it held is the others' again.
    pub fn release(&mut self, front: &mut Frontend) {
        front.clients.account(&mut self.accounted, 0);
    }

    /// Whether the last call stopped at [`OUTPUT_HIGH_WATER`] with input
    /// left: call [`receive`](Self::receive) again (with no bytes, once
    /// the replies are sent) to run the rest.
    pub fn stalled(&self) -> bool {
        self.stalled
    }

    /// Takes `bytes` from the client, runs every command they complete on
    /// `cache` and appends the replies to `out`; `now` is the time in Unix
    /// seconds (for `stats`). After [`Flow::Close`] the connection reads
    /// nothing more.
    pub fn receive<C: Cache>(
        &mut self,
        bytes: &[u8],
        cache: &mut C,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        self.receive_with(bytes, cache, None, front, now, out)
    }

    /// Like [`receive`](Self::receive), but a text connection's cache
    /// calls go into `batch` instead of being made at once ([`round`]):
    /// at the first command that calls the cache, the connection keeps
    /// the rest of its input and answers [`Flow::Wait`]. Fed again once
    /// the batch ran, it writes that command's reply and goes on. (A
    /// binary connection is served with [`receive`](Self::receive).)
    pub fn receive_round(
        &mut self,
        bytes: &[u8],
        batch: &mut round::Batch,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        if matches!(self.state, State::Closed) {
            return Flow::Close;
        }
        let mut turn = round::Turn::new(batch);
        if let Some(pending) = self.pending.take() {
            if !turn.answered(pending.ticket) {
                // Its call has not run: keep what came meanwhile.
                self.pending = Some(pending);
                front.counters.bytes_read += bytes.len() as u64;
                let flow = self.keep(bytes, front, out);
                return self.settle(flow, front, out);
            }
            let before = out.len();
            let flow = pending.action.run(&mut turn, front, now, out);
            // A call its reply does not wait for (a discard after a
            // failed store) goes into the batch all the same.
            turn.take_put_off();
            front.counters.bytes_written += (out.len() - before) as u64;
            if flow == Flow::Close {
                return self.settle(flow, front, out);
            }
        }
        self.receive_with(
            bytes,
            &mut turn,
            Some(round::Turn::take_put_off),
            front,
            now,
            out,
        )
    }

    fn receive_with<C: Cache>(
        &mut self,
        bytes: &[u8],
        cache: &mut C,
        defer: Defer<C>,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        if matches!(self.state, State::Closed) {
            return Flow::Close;
        }
        front.counters.bytes_read += bytes.len() as u64;
        let before = out.len();
        if self.refused {
            out.extend_from_slice(b"ERROR Too many open connections\r\n");
            front.counters.bytes_written += (out.len() - before) as u64;
            self.state = State::Closed;
            return Flow::Close;
        }
        self.stalled = false;
        let flow = self.run(bytes, cache, defer, front, now, out);
        front.counters.bytes_written += (out.len() - before) as u64;
        self.settle(flow, front, out)
    }

    /// After a call: gives back buffers a large item left, checks the
    /// budget, closes if the connection ends, accounts what it holds;
    /// the flow, [`Flow::Wait`] while a command waits for its call.
    fn settle(&mut self, mut flow: Flow, front: &mut Frontend, out: &mut Vec<u8>) -> Flow {
        // (Not the room reserved for a data block on its way.)
        if !matches!(self.state, State::Data(..)) {
            shrink(&mut self.input);
        }
        if out.is_empty() && out.capacity() > SHRINK_ABOVE {
            *out = Vec::new();
        }
        if let Wire::Binary(session) = &mut self.wire {
            session.shrink();
        }
        if flow == Flow::Open && self.held(out) > self.allowed(front) {
            // The replies of this call outgrew what the connections may
            // hold together (a data block never does: it is refused
            // before it is read).
            front.counters.response_obj_oom += 1;
            flow = Flow::Close;
        }
        if flow == Flow::Close {
            self.state = State::Closed;
            self.input = Vec::new();
            if let Wire::Binary(session) = &mut self.wire {
                *session = binary::Session::default();
            }
        }
        if flow == Flow::Close {
            self.pending = None;
        }
        let held = self.held(out);
        front.clients.account(&mut self.accounted, held);
        if flow == Flow::Open && self.pending.is_some() {
            return Flow::Wait;
        }
        flow
    }

    /// Keeps `bytes` in the input, unframed (a command waits for its
    /// call), if the budget has room for them.
    fn keep(&mut self, bytes: &[u8], front: &mut Frontend, out: &Vec<u8>) -> Flow {
        if bytes.is_empty() {
            return Flow::Open;
        }
        let room = self.room(front, out);
        if append(&mut self.input, bytes, room).is_err() {
            front.counters.read_buf_oom += 1;
            return Flow::Close;
        }
        Flow::Open
    }

    /// Runs `action` now, or puts its call off ([`Defer`]): then it waits
    /// as the pending command, its output of this run dropped, and
    /// `None` says so.
    fn act<C: Cache>(
        &mut self,
        action: Action,
        cache: &mut C,
        defer: Defer<C>,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Option<Flow> {
        let mark = out.len();
        let flow = action.run(cache, front, now, out);
        match defer.and_then(|put_off| put_off(cache)) {
            Some((ticket, bytes)) => {
                out.truncate(mark);
                let action = match action {
                    // The value went into the batch; the second run needs
                    // only whether the block ended well (its reply comes
                    // from the answer), so the block's end is all it keeps.
                    Action::Stored(command, block) => {
                        let end = block.len().saturating_sub(2);
                        Action::Stored(command, block[end..].to_vec())
                    }
                    run => run,
                };
                self.pending = Some(Pending {
                    action,
                    ticket,
                    bytes,
                });
                None
            }
            None => Some(flow),
        }
    }

    fn run<C: Cache>(
        &mut self,
        mut bytes: &[u8],
        cache: &mut C,
        defer: Defer<C>,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        if let Wire::Undecided = self.wire {
            self.wire = match bytes.first() {
                None => return Flow::Open,
                Some(&binary::header::REQUEST_MAGIC) => Wire::Binary(binary::Session::default()),
                Some(_) => Wire::Text,
            };
        }
        let allowed = self.allowed(front);
        if let Wire::Binary(session) = &mut self.wire {
            return session.run(bytes, &mut self.stalled, allowed, cache, front, now, out);
        }
        loop {
            // Bytes to throw away never enter the buffer.
            if let State::Swallow(n) = self.state {
                let left = swallow(n, &mut self.input, &mut bytes);
                if left > 0 {
                    self.state = State::Swallow(left);
                    return Flow::Open;
                }
                self.state = State::Line;
            }
            // A data block's bytes fill the room reserved for it and no
            // more: what follows waits in `bytes` until the block is run.
            let take = match self.state {
                State::Data(_, need) => bytes.len().min(need.saturating_sub(self.input.len())),
                _ => bytes.len(),
            };
            if take > 0 {
                let room = self.room(front, out);
                if append(&mut self.input, &bytes[..take], room).is_err() {
                    front.counters.read_buf_oom += 1;
                    return Flow::Close;
                }
                bytes = &bytes[take..];
            }
            match core::mem::replace(&mut self.state, State::Line) {
                State::Line => {
                    let Some(nl) = self.input.iter().position(|&b| b == b'\n') else {
                        return self.wait_for_line();
                    };
                    if out.len() >= OUTPUT_HIGH_WATER {
                        self.stalled = true;
                        return Flow::Open;
                    }
                    let mut end = nl;
                    if nl > 1 && self.input[nl - 1] == b'\r' {
                        end -= 1;
                    }
                    let command = parse::parse(&self.input[..end]);
                    self.input.drain(..=nl);
                    let action = match command {
                        Command::Store { len, .. } => {
                            self.begin_data(command, len, cache, defer, front, out);
                            continue;
                        }
                        Command::MetaSet(ref m) => {
                            let len = m.len;
                            self.begin_data(command, len, cache, defer, front, out);
                            continue;
                        }
                        Command::Refuse(refusal) => {
                            refuse(&refusal, cache, defer, out);
                            if refusal.swallow > 0 {
                                self.state = State::Swallow(refusal.swallow);
                            }
                            continue;
                        }
                        command => Action::Run(command),
                    };
                    match self.act(action, cache, defer, front, now, out) {
                        Some(Flow::Close) => return Flow::Close,
                        Some(_) => {}
                        None => return self.keep(bytes, front, out),
                    }
                }
                State::Data(command, need) => {
                    if self.input.len() < need {
                        self.state = State::Data(command, need);
                        return Flow::Open;
                    }
                    // The block takes the input's buffer, not a copy.
                    let rest = self.input.split_off(need);
                    let block = core::mem::replace(&mut self.input, rest);
                    let action = Action::Stored(command, block);
                    if self.act(action, cache, defer, front, now, out).is_none() {
                        return self.keep(bytes, front, out);
                    }
                }
                State::Swallow(n) => self.state = State::Swallow(n),
                State::Closed => return Flow::Close,
            }
        }
    }

    /// A storage command's line is in: read its data block (`len` bytes
    /// and `\r\n`), room for which is reserved now, or refuse it (too
    /// large for `item_size_max`, or more than the connections' budget
    /// leaves), answered and the block thrown away as it comes.
    fn begin_data<C: Cache>(
        &mut self,
        command: Command,
        len: usize,
        cache: &mut C,
        defer: Defer<C>,
        front: &mut Frontend,
        out: &mut Vec<u8>,
    ) {
        let need = len + 2;
        let more = need.saturating_sub(self.input.len());
        let refused = exec::too_large(&command, front).or_else(|| {
            let fits = more <= self.room(front, out) && self.input.try_reserve_exact(more).is_ok();
            if fits {
                None
            } else {
                exec::no_memory(&command, front)
            }
        });
        match refused {
            Some(refusal) => {
                refuse(&refusal, cache, defer, out);
                self.state = State::Swallow(refusal.swallow);
            }
            None => self.state = State::Data(command, need),
        }
    }

    /// No whole line yet: wait, unless the client is past what a line may
    /// be (memcached closes such a client, letting only `get`/`gets`
    /// lines grow).
    fn wait_for_line(&mut self) -> Flow {
        if self.input.len() <= self.limits.max_line {
            return Flow::Open;
        }
        let spaces = self.input.iter().take_while(|&&b| b == b' ').count();
        let rest = &self.input[spaces..];
        let get = rest.starts_with(b"get ") || rest.starts_with(b"gets ");
        if spaces > 100 || !get || self.input.len() > self.limits.max_get_line {
            return Flow::Close;
        }
        Flow::Open
    }
}
