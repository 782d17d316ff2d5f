//! Basalt's RESP front end: the Redis protocol (RESP2) on a TCP byte
//! stream. `docs/resp.md` describes what it supports.
//!
//! A [`Frontend`] holds what the connections share: the [`Store`] (the
//! key-value store, behind a trait so that the component can put its IPC
//! client there and host tests a `kvs::KvsServer`), the [`Config`] that
//! `CONFIG GET/SET` read and write, the [`Stats`] that `INFO` reports, and
//! the client list. Each TCP connection is a [`Connection`]: feed it the
//! bytes received, in pieces of any size; it parses the commands (RESP2
//! multibulk arrays and inline commands, pipelined or not), answers the
//! front end's own (PING, ECHO, QUIT, HELLO, AUTH, INFO, COMMAND, CLIENT,
//! CONFIG, TIME), passes every other one to the store in the connection's
//! own session, and appends the replies to its output. Store commands wait
//! in a [`Round`] that the front end runs for all its connections at once
//! ([`Frontend::flush`], one [`Store::exec_round`]: for the kvs server one
//! call and one write to the disk); a connection's own commands,
//! transactions and SELECT run at once, after its queued ones.
//!
//! ```
//! use resp::{Command, Connection, Flow, Frontend, Store, StoreError};
//!
//! /// A store that knows one command.
//! struct Echo;
//! impl Store for Echo {
//!     fn exec(&mut self, _session: u64, cmd: Command<'_>, reply: &mut Vec<u8>) -> Result<(), StoreError> {
//!         reply.extend_from_slice(b"+stored\r\n");
//!         Ok(())
//!     }
//!     fn close(&mut self, _session: u64) {}
//! }
//!
//! let mut fe = Frontend::new(Echo, || 1_700_000_000_000_000u64);
//! let peer = "10.0.2.2:50000".parse().unwrap();
//! let local = "10.0.2.15:6379".parse().unwrap();
//! let mut conn = fe.connect(peer, local);
//! assert_eq!(conn.feed(&mut fe, b"PING\r\n*2\r\n$3\r\nGET\r\n$1"), Flow::Continue);
//! assert_eq!(conn.output(), b"+PONG\r\n");
//! // GET waits in the round the front end runs for all its connections
//! // at once; QUIT waits behind it.
//! assert_eq!(conn.feed(&mut fe, b"\r\nk\r\nQUIT\r\n"), Flow::Wait);
//! fe.flush();
//! assert_eq!(conn.feed(&mut fe, b""), Flow::Close);
//! assert_eq!(conn.output(), b"+PONG\r\n+stored\r\n+OK\r\n");
//! let sent = conn.output().len();
//! conn.consume(sent);
//! fe.disconnect(conn);
//! ```
//!
//! The library is `no_std` + `alloc` and host-tested; the component that
//! binds it to the net server's sockets and the kvs client is separate.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod cmds;
mod config;
mod conn;
mod docs;
mod frontend;
mod info;
mod monitor;
mod parse;
mod pause;
mod pubsub;
mod reply;
mod round;
mod slow;
mod stats;
mod table;
mod tracking;

pub use config::{Config, ConfigError};
pub use conn::{Connection, Flow, OUTPUT_HIGH_WATER};
pub use frontend::{Frontend, REDIS_VERSION};
pub use parse::{INLINE_MAX, ProtocolError};
pub use round::{ROUND_BYTES, ROUND_COMMANDS, ROUND_COMMANDS_PER_CONNECTION, Round};
pub use stats::Stats;

use alloc::vec::Vec;
use parse::Span;

/// The session id the front end itself uses for its queries to the store
/// (`INFO keyspace`); connections are numbered from 1.
pub const INTERNAL_SESSION: u64 = 0;

/// The key-value store, as the front end sees it: it runs commands in
/// sessions (one per TCP connection, numbered by the connection's id)
/// and answers with RESP2. A session holds what Redis keeps per client:
/// the selected database (SELECT), the MULTI queue and the WATCHed keys.
pub trait Store {
    /// Runs `command` in `session` (opening the session if it is new) and
    /// appends the reply's RESP2 encoding to `reply`. On an error nothing
    /// may have been appended.
    fn exec(
        &mut self,
        session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError>;

    /// Ends `session`: drops its MULTI queue and WATCHes. Called when a
    /// connection that used the store goes away.
    fn close(&mut self, session: u64);

    /// The store's `INFO` text (`field:value` lines; the kvs server
    /// reports `used_memory` and its log's `aof_*`), for the front end's
    /// INFO. The default runs `INFO` in [`INTERNAL_SESSION`]; `None` when
    /// the store does not answer with a bulk string.
    fn info(&mut self) -> Option<Vec<u8>> {
        let mut buf = CommandBuf::new();
        let mut answer = Vec::new();
        self.exec(INTERNAL_SESSION, buf.set(&[b"INFO"]), &mut answer)
            .ok()?;
        let len = kvs_api::proto::reply_len(&answer)?;
        let body = answer.get(..len)?.strip_prefix(b"$")?;
        let header = body.iter().position(|&b| b == b'\r')?;
        Some(body.get(header + 2..body.len() - 2)?.to_vec())
    }

    /// Runs the commands of `round`, in order, each in its session;
    /// appends their replies to `replies` one after the other and the end
    /// of each to `ends`. A command or reply too large to travel gets an
    /// error reply in its place; [`StoreError::Lost`] fails the round,
    /// [`StoreError::Interrupted`] after the replies it got. The
    /// default runs them one by one with [`exec`](Self::exec); a store
    /// that can take them in one call does so.
    fn exec_round(
        &mut self,
        round: &Round,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<(), StoreError> {
        round::one_by_one(self, round, replies, ends)
    }

    /// The round [`exec_round`](Self::exec_round) left running
    /// ([`StoreError::Running`]): still running (`Ok(Some)`, as it says
    /// now; nothing was called), or done (`Ok(None)`): its remaining
    /// replies appended to `replies` and the ends of all of them to
    /// `ends`, as `exec_round` would have. Fails as `exec_round` does.
    /// The default: no round runs on.
    fn resume_round(
        &mut self,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<Option<kvs_api::busy::Running>, StoreError> {
        let _ = (replies, ends);
        Ok(None)
    }

    /// Asks the store to kill the script that runs on (`SCRIPT KILL`,
    /// `FUNCTION KILL`: the front end checked that it may). The default
    /// does nothing.
    fn kill_script(&mut self) {}

    /// Appends the store's mail to `letters`: the replies of blocking
    /// commands that stopped waiting (served, timed out or unblocked),
    /// each with its session, and the keyspace events to publish if the
    /// front end asked for them ([`events`](Self::events)). A round
    /// answers a command that blocked with `kvs_api::proto::BLOCKED`; the
    /// front end asks for its reply here whenever it is woken while a
    /// connection waits or it takes events. The default has none (such a
    /// store never blocks).
    fn mail(&mut self, letters: &mut Vec<Letter>) -> Result<(), StoreError> {
        let _ = letters;
        Ok(())
    }

    /// Asks for keyspace events in the mail (`on`), or stops them: the
    /// front end does while some connection listens on a channel or a
    /// pattern. The default: none come.
    fn events(&mut self, on: bool) -> Result<(), StoreError> {
        let _ = on;
        Ok(())
    }

    /// Writes `session`'s replies (opening it if it is new) in RESP3
    /// (`resp3`: its client said `HELLO 3`) or RESP2 (`HELLO 2`) from
    /// now on, its mail's too. The default does nothing: a store whose
    /// replies hold no map, set, double or nil writes the same bytes in
    /// both.
    fn protocol(&mut self, session: u64, resp3: bool) -> Result<(), StoreError> {
        let _ = (session, resp3);
        Ok(())
    }

    /// `CLIENT TRACKING` for `session` (opening it if it is new): on as
    /// `mode` says (the front end checked it as Redis does), or off
    /// (`None`). The invalidations it is owed come by
    /// [`mail`](Self::mail). The default does nothing: a store whose keys
    /// never change owes none.
    fn track(
        &mut self,
        session: u64,
        mode: Option<&kvs_core::caching::Mode>,
    ) -> Result<(), StoreError> {
        let _ = (session, mode);
        Ok(())
    }

    /// `CLIENT CACHING yes|no` (`Some`) for `session`'s next command, or
    /// (`None`) a command of the front end's own used it up. The default
    /// does nothing.
    fn caching(&mut self, session: u64, said: Option<bool>) -> Result<(), StoreError> {
        let _ = (session, said);
        Ok(())
    }

    /// Ends the wait of blocked `session` as `CLIENT UNBLOCK` does (its
    /// reply, a timeout's or the UNBLOCKED error when `error`, comes by
    /// [`mail`](Self::mail)); whether it was blocked. The default: never.
    fn unblock(&mut self, session: u64, error: bool) -> Result<bool, StoreError> {
        let _ = (session, error);
        Ok(false)
    }

    /// Which instance of the store the sessions belong to: a store that
    /// restarted and lost them has a new one, and a connection that used
    /// the store before is then closed at its next command. The default
    /// never changes.
    fn generation(&self) -> u64 {
        0
    }

    /// The number of keys in database `db` for `INFO keyspace`; `None`
    /// when the store has no such database. The default runs `SELECT db`
    /// and `DBSIZE` in [`INTERNAL_SESSION`].
    fn dbsize(&mut self, db: u32) -> Result<Option<u64>, StoreError> {
        let mut buf = CommandBuf::new();
        let mut digits = Vec::new();
        reply::push_u64(&mut digits, u64::from(db));
        let mut answer = Vec::new();
        self.exec(
            INTERNAL_SESSION,
            buf.set(&[b"SELECT", &digits]),
            &mut answer,
        )?;
        if answer != b"+OK\r\n" {
            return Ok(None);
        }
        answer.clear();
        self.exec(INTERNAL_SESSION, buf.set(&[b"DBSIZE"]), &mut answer)?;
        Ok(answer
            .strip_prefix(b":")
            .and_then(|rest| rest.strip_suffix(b"\r\n"))
            .and_then(kvs_core::num::parse_i64)
            .and_then(|n| u64::try_from(n).ok()))
    }
}

/// A letter of the store's mail ([`Store::mail`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Letter {
    /// The reply of session `session`'s blocking command.
    Reply {
        /// The session.
        session: u64,
        /// The reply's RESP2 bytes.
        reply: Vec<u8>,
    },
    /// Keys tracking session `session` read (or watches, BCAST)
    /// changed ([`Store::track`]).
    Invalidate {
        /// The session.
        session: u64,
        /// The keys; `None`: everything (a flush).
        keys: Option<Vec<Vec<u8>>>,
    },
    /// A keyspace event to publish on `channel`.
    Publish {
        /// The channel (`__keyspace@0__:k`, `__keyevent@0__:set`).
        channel: Vec<u8>,
        /// The message.
        message: Vec<u8>,
    },
}

/// Why the store gave no reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StoreError {
    /// The command or its reply is larger than what can travel to or from
    /// the store; the command may have run. The client gets an error reply
    /// and the connection stays open.
    TooLarge,
    /// The store lost the session (it restarted) or cannot be reached: the
    /// client's SELECT, MULTI and WATCH state is gone, so the client gets an
    /// error reply and the connection closes, as if the server had.
    Lost,
    /// The store restarted during the command or the round
    /// ([`Store::exec_round`]), or before it (it was not run in sessions
    /// the new store does not have): the replies appended are those of
    /// the round's first commands, the next `applied` commands took effect
    /// (their replies are lost), and the rest had none (for one command:
    /// `applied` is 1 or 0). Their connections' state is gone, as with
    /// [`Lost`](Self::Lost), but each command's client learns which.
    Interrupted {
        /// Commands after the answered ones that took effect.
        applied: usize,
    },
    /// A script in the round ([`Store::exec_round`]) passed
    /// `busy-reply-threshold` and runs on (`kvs_api::busy`), as it says:
    /// the round is not over. The front end answers `-BUSY` meanwhile and
    /// calls nothing else of the store until
    /// [`Store::resume_round`] says the round is done.
    Running(kvs_api::busy::Running),
}

/// One command: its arguments (the name first), and their encoding as a
/// RESP array of bulk strings (`*<n>\r\n` then `$<len>\r\n<bytes>\r\n` per
/// argument), which is what `kvs_api::Kvs::exec` takes. For a command that
/// arrived in that form the encoding is the received bytes themselves.
#[derive(Clone, Copy, Debug)]
pub struct Command<'a> {
    pub(crate) encoded: &'a [u8],
    pub(crate) spans: &'a [Span],
}

impl<'a> Command<'a> {
    /// The command's RESP array encoding.
    pub fn encoded(&self) -> &'a [u8] {
        self.encoded
    }

    /// The number of arguments, the name included (at least 1).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Never true: a command has at least its name.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Argument `i` (0 is the name).
    pub fn arg(&self, i: usize) -> Option<&'a [u8]> {
        self.spans.get(i).map(|s| s.of(self.encoded))
    }

    /// The command's name (its first argument).
    pub fn name(&self) -> &'a [u8] {
        self.arg(0).unwrap_or_default()
    }

    /// The arguments, the name first.
    pub fn args(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let encoded = self.encoded;
        self.spans.iter().map(move |s| s.of(encoded))
    }
}

/// A buffer that encodes commands given as argument lists, for stores and
/// tests that make their own [`Command`]s.
///
/// ```
/// let mut buf = resp::CommandBuf::new();
/// let cmd = buf.set(&[b"GET", b"k"]);
/// assert_eq!(cmd.encoded(), b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
/// assert_eq!(cmd.arg(1), Some(&b"k"[..]));
/// ```
#[derive(Clone, Debug, Default)]
pub struct CommandBuf {
    encoded: Vec<u8>,
    spans: Vec<Span>,
}

impl CommandBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `args` (the name first) and returns the command.
    pub fn set(&mut self, args: &[&[u8]]) -> Command<'_> {
        self.set_from(args.iter().copied())
    }

    /// Encodes the arguments `args` yields.
    pub(crate) fn set_from<'b>(
        &mut self,
        args: impl ExactSizeIterator<Item = &'b [u8]>,
    ) -> Command<'_> {
        self.encoded.clear();
        self.spans.clear();
        reply::array(&mut self.encoded, args.len());
        for arg in args {
            self.encoded.push(b'$');
            reply::push_u64(&mut self.encoded, arg.len() as u64);
            self.encoded.extend_from_slice(b"\r\n");
            self.spans.push(Span {
                start: self.encoded.len(),
                len: arg.len(),
            });
            self.encoded.extend_from_slice(arg);
            self.encoded.extend_from_slice(b"\r\n");
        }
        Command {
            encoded: &self.encoded,
            spans: &self.spans,
        }
    }
}

/// Where the front end's time comes from: microseconds since the Unix
/// epoch (TIME, INFO's uptime, CLIENT LIST's age and idle). Any
/// `FnMut() -> u64` is one.
pub trait Clock {
    /// The time now.
    fn now_us(&mut self) -> u64;
}

impl<F: FnMut() -> u64> Clock for F {
    fn now_us(&mut self) -> u64 {
        self()
    }
}

/// The kvs server through its IPC client: each connection's session is a
/// kvs session of this client (`kvs_api::Kvs::exec_in`), and a command goes on
/// in the encoding the client sent.
impl<T: libcap::rpc::Transport> Store for kvs_api::Connection<T> {
    fn exec(
        &mut self,
        session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        match self.request_in(session, command.encoded()) {
            Ok(bytes) => {
                reply.extend_from_slice(&bytes);
                Ok(())
            }
            Err(kvs_api::Error::TooLarge)
            | Err(kvs_api::Error::Rpc(libcap::rpc::RpcError::Remote(kvs_api::REPLY_TOO_LARGE))) => {
                Err(StoreError::TooLarge)
            }
            Err(kvs_api::Error::Interrupted { applied, .. }) => {
                Err(StoreError::Interrupted { applied })
            }
            Err(_) => Err(StoreError::Lost),
        }
    }

    fn close(&mut self, session: u64) {
        // A server that is gone has dropped the session already.
        let _ = self.end(session);
    }

    /// One `exec_round` call (more if the replies outgrow the region):
    /// the round is one group commit.
    fn exec_round(
        &mut self,
        round: &Round,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<(), StoreError> {
        let mut request = Vec::new();
        for (session, cmd) in round.commands() {
            kvs_api::proto::push_round_entry(session, cmd.encoded(), &mut request);
        }
        let result = self.round(&request, replies);
        match self.round_ended(result, replies, ends)? {
            Some(running) => Err(StoreError::Running(running)),
            None => Ok(()),
        }
    }

    fn resume_round(
        &mut self,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<Option<kvs_api::busy::Running>, StoreError> {
        match self.resume(replies) {
            Ok(kvs_api::Resumed::Running(running)) => Ok(Some(running)),
            Ok(kvs_api::Resumed::Done) => self.round_ended(Ok(()), replies, ends),
            Err(e) => self.round_ended(Err(e), replies, ends),
        }
    }

    fn kill_script(&mut self) {
        self.kill();
    }

    fn generation(&self) -> u64 {
        kvs_api::Connection::generation(self)
    }

    fn mail(&mut self, letters: &mut Vec<Letter>) -> Result<(), StoreError> {
        use kvs_api::proto::Letter as Wire;
        let bytes = self.take_mail().map_err(|_| StoreError::Lost)?;
        let parsed = kvs_api::proto::parse_mail(&bytes).ok_or(StoreError::Lost)?;
        letters.extend(parsed.into_iter().map(|l| {
            match l {
                Wire::Reply { session, reply } => Letter::Reply {
                    session,
                    reply: reply.to_vec(),
                },
                Wire::Publish { channel, message } => Letter::Publish {
                    channel: channel.to_vec(),
                    message: message.to_vec(),
                },
                Wire::Invalidate { session, keys } => Letter::Invalidate {
                    session,
                    keys: keys
                        .and_then(kvs_api::proto::parts)
                        .map(|keys| keys.into_iter().map(<[u8]>::to_vec).collect()),
                },
            }
        }));
        Ok(())
    }

    fn events(&mut self, on: bool) -> Result<(), StoreError> {
        self.client().events(on).map_err(|_| StoreError::Lost)
    }

    fn unblock(&mut self, session: u64, error: bool) -> Result<bool, StoreError> {
        kvs_api::Connection::unblock(self, session, error).map_err(|_| StoreError::Lost)
    }

    fn protocol(&mut self, session: u64, resp3: bool) -> Result<(), StoreError> {
        kvs_api::Connection::protocol(self, session, resp3).map_err(|_| StoreError::Lost)
    }

    fn track(
        &mut self,
        session: u64,
        mode: Option<&kvs_core::caching::Mode>,
    ) -> Result<(), StoreError> {
        use kvs_api::tracking::{BCAST, NOLOOP, ON, OPTIN, OPTOUT};
        let (flags, prefixes) = match mode {
            None => (0, Vec::new()),
            Some(m) => (
                [
                    (true, ON),
                    (m.bcast, BCAST),
                    (m.optin, OPTIN),
                    (m.optout, OPTOUT),
                ]
                .into_iter()
                .chain([(m.noloop, NOLOOP)])
                .filter_map(|(on, bit)| on.then_some(bit))
                .sum(),
                m.prefixes.iter().map(Vec::as_slice).collect(),
            ),
        };
        kvs_api::Connection::track(self, session, flags, &prefixes).map_err(|_| StoreError::Lost)
    }

    fn caching(&mut self, session: u64, said: Option<bool>) -> Result<(), StoreError> {
        kvs_api::Connection::caching(self, session, said).map_err(|_| StoreError::Lost)
    }
}

/// How a round of the kvs client ended, or that it runs on: the ends of
/// the replies appended since the last one in `ends`, the error as the
/// front end knows it.
trait RoundEnd {
    fn round_ended(
        &mut self,
        result: Result<(), kvs_api::Error>,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<Option<kvs_api::busy::Running>, StoreError>;
}

impl<T: libcap::rpc::Transport> RoundEnd for kvs_api::Connection<T> {
    fn round_ended(
        &mut self,
        mut result: Result<(), kvs_api::Error>,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<Option<kvs_api::busy::Running>, StoreError> {
        let result = loop {
            match result {
                Ok(()) => break Ok(()),
                Err(kvs_api::Error::Running) => match self.running() {
                    Some(running) => return Ok(Some(running)),
                    // Done already: its answer now.
                    None => result = self.resume(replies).map(|_| ()),
                },
                Err(kvs_api::Error::Interrupted { applied, .. }) => {
                    break Err(StoreError::Interrupted { applied });
                }
                Err(_) => return Err(StoreError::Lost),
            }
        };
        let mut pos = ends.last().copied().unwrap_or(0);
        while pos < replies.len() {
            pos += kvs_api::proto::round_reply_len(&replies[pos..]).ok_or(StoreError::Lost)?;
            ends.push(pos);
        }
        result.map(|()| None)
    }
}

/// The front end on the net server's sockets: `net_api::serve::StreamServer`
/// runs it, one [`Connection`] per TCP connection.
impl<S: Store, C: Clock> net_api::serve::Protocol for Frontend<S, C> {
    type Conn = Connection;

    fn open(&mut self, peer: net_api::proto::Endpoint, port: u16) -> Connection {
        let [a, b, c, d] = peer.addr;
        let peer = core::net::SocketAddr::from(([a, b, c, d], peer.port));
        let local = core::net::SocketAddr::from((self.local_ip(), port));
        self.connect(peer, local)
    }

    fn feed(
        &mut self,
        conn: &mut Connection,
        input: &[u8],
        out: &mut Vec<u8>,
    ) -> net_api::serve::Flow {
        let flow = conn.feed(self, input);
        // Commands wait in the connection while its output is this full.
        let waiting = !conn.wants_input() && !conn.is_closing();
        let output = conn.output();
        out.extend_from_slice(output);
        let n = output.len();
        conn.consume(n);
        match flow {
            Flow::Close => net_api::serve::Flow::Close,
            Flow::Wait => net_api::serve::Flow::Wait,
            Flow::Continue if waiting => net_api::serve::Flow::Drain,
            Flow::Continue => net_api::serve::Flow::Read,
        }
    }

    fn close(&mut self, conn: Connection) {
        self.disconnect(conn);
    }

    fn key(conn: &Connection) -> u64 {
        conn.id()
    }

    fn woken(&mut self, keys: &mut Vec<u64>) {
        keys.extend(Frontend::woken(self));
    }

    fn flush(&mut self) {
        Frontend::flush(self);
    }

    fn busy(&mut self) -> bool {
        self.is_busy()
    }

    fn due_in_us(&mut self) -> Option<u64> {
        let due = self.due_us()?;
        Some(due.saturating_sub(self.clock.now_us()))
    }

    fn address(&mut self, ip: Option<[u8; 4]>) {
        self.set_local_ip(ip.unwrap_or_default());
    }

    fn listening(&mut self, port: u16, ok: bool) {
        if ok {
            libcap::log::info!("listening on port {port}");
        } else {
            libcap::log::error!("cannot listen on port {port}: another app has it");
        }
    }
}
