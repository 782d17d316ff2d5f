//! `kvs-api`: the key-value store component's interface, and nothing
//! the server itself needs: the RPC interface [`Kvs`] (its client
//! [`KvsClient`]), its answers and error codes, the request encoding
//! ([`proto`]), the shared-region buffer ([`SharedBuf`]), the client
//! helper front ends use ([`Connection`]) and its typed operations
//! ([`ops`]: GET, SET, DEL, INFO's fields, for clients that want values,
//! not RESP). The server (`servers/kvs/server`,
//! crate `kvs`) implements [`Kvs`]; `docs/kvs.md` describes the
//! interface.
//!
//! ```no_run
//! # use libcap::{Endpoint, bind::Named, start::SharedRegion};
//! # fn run(channel: Endpoint, region: Named<SharedRegion>) {
//! // The channel and region as the component's arguments bind them
//! // (`args.kvs.cap`, `args.kvs_region`: docs/config.md, "Arguments").
//! let mut kvs = kvs_api::Connection::attach(channel, Some(region)).expect("a session");
//! assert_eq!(kvs.command(&[b"SET", b"k", b"v"]).unwrap(), b"+OK\r\n");
//! # }
//! ```

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

pub mod busy;
mod client;
pub mod mc;
pub mod mc_round;
pub mod ops;
pub mod proto;
mod shared;

pub use client::{Connection, Error, Resumed};
pub use shared::{CONTROL_BYTES, SharedBuf};

use libcap::rpc::{Bytes, Decode, Decoder, Encode, Encoder, WireError};

/// The most bytes of a RESP2 reply that travel in the reply's message
/// words (120 words: a tag, a length, and 118 words of bytes).
pub const INLINE_REPLY: usize = 944;
/// The most bytes of an encoded request that travel in the call's
/// message words (120 words: the session, a length and 118 words of
/// bytes; [`Kvs::exec`], which has no session word, takes 8 more).
pub const INLINE_REQUEST: usize = 944;

/// The most bytes of an encoded command [`Connection`] sends in the call's
/// message words: it tags each ([`Kvs::exec_in_tagged`]), and the
/// generation and the call number take two of [`INLINE_REQUEST`]'s words.
pub const INLINE_COMMAND: usize = INLINE_REQUEST - 16;

/// Error code: [`Kvs::exec_shared`] without a region attached (or a reply
/// too large for the message words, and no region to put it in).
pub const NOT_ATTACHED: u64 = 1;
/// Error code: the request is not a RESP array of bulk strings with at
/// least one element, or it does not fit the region.
pub const BAD_REQUEST: u64 = 2;
/// Error code: the command ran, but its reply is larger than the region
/// (or than [`INLINE_REPLY`] with no region); the reply is lost.
pub const REPLY_TOO_LARGE: u64 = 3;
/// Error code of [`Kvs::attach`]: the server maps no region of that name.
pub const NO_SUCH_REGION: u64 = 4;
/// Error code of [`Kvs::attach`]: another client attached that region.
pub const REGION_TAKEN: u64 = 5;
/// Error code: the caller already has [`MAX_SESSIONS`] sessions; end some
/// ([`Kvs::end`]).
pub const TOO_MANY_SESSIONS: u64 = 6;

/// Error code: the command ran, but its change could not be made durable
/// because the disk is full (the server refuses writes until a compaction
/// fits). [`Connection`] turns it into Redis's `-MISCONF` error reply.
pub const DISK_FULL: u64 = 7;
/// Error code: the command ran, but writing or flushing its change failed
/// (the change is written with the next one). [`Connection`] turns it into
/// Redis's `-MISCONF` error reply.
pub const DISK_ERROR: u64 = 8;

/// The most sessions one client may have open at once.
pub const MAX_SESSIONS: usize = 65_536;

libcap::rpc_interface! {
    /// What the kvs component serves on channel `kvs`. Each client (told
    /// apart by the badge `init` minted for it) has its own sessions —
    /// selected database, MULTI queue, WATCHed keys — numbered by the
    /// client: session 0 for [`exec`](Kvs::exec) and
    /// [`exec_shared`](Kvs::exec_shared), any number for
    /// [`exec_in`](Kvs::exec_in) (a front end keeps one per network
    /// connection). Method ids are the wire labels: keep them, and give a
    /// new method a new id.
    pub interface Kvs {
        /// The client side of [`Kvs`]; make one from the endpoint its
        /// component's argument `kvs` binds (`From<Endpoint>`), and use
        /// it through [`Connection`].
        client KvsClient;
        /// Runs one command: `request` is its argument list as a RESP
        /// array of bulk strings ([`proto::encode_command`]), at most
        /// [`INLINE_REQUEST`] bytes. The answer is the reply's RESP2
        /// encoding, inline when it has at most [`INLINE_REPLY`] bytes,
        /// else in the caller's region at offset 0. Fails with
        /// [`BAD_REQUEST`], [`REPLY_TOO_LARGE`] or [`NOT_ATTACHED`].
        fn exec(request: &[u8]) -> Answer = 1;
        /// Attaches the shared region `region` (which the config lets both
        /// this client and the server write) to the caller for
        /// [`exec_shared`](Kvs::exec_shared) and large replies; returns
        /// its size. Fails with [`NO_SUCH_REGION`] or [`REGION_TAKEN`].
        fn attach(region: &str) -> u64 = 2;
        /// Like [`exec`](Kvs::exec), with the request in the caller's
        /// region: its first `len` bytes. The reply may overwrite it.
        fn exec_shared(len: u64) -> Answer = 3;
        /// Ends the caller's sessions (`Store::release`: their
        /// transactions and WATCHes go) and detaches its region. A client
        /// calls it when it starts, so that what a previous instance left
        /// is dropped, and when it goes away.
        fn reset() = 4;
        /// Like [`exec`](Kvs::exec), in the caller's session `session`
        /// (made on first use). Fails like `exec`, and with
        /// [`TOO_MANY_SESSIONS`].
        fn exec_in(session: u64, request: &[u8]) -> Answer = 5;
        /// Like [`exec_shared`](Kvs::exec_shared), in session `session`.
        fn exec_shared_in(session: u64, len: u64) -> Answer = 6;
        /// Ends the caller's session `session` (its transaction and
        /// WATCHes go); nothing if there is none.
        fn end(session: u64) = 7;
        /// Runs several commands in session `session`, in order: `request`
        /// is their encodings one after the other (at most
        /// [`proto::MAX_BATCH`]; all are checked before any runs), the
        /// answer their replies one after the other. What a front end does
        /// with a pipeline. Fails like [`exec_in`](Kvs::exec_in).
        fn exec_batch_in(session: u64, request: &[u8]) -> Answer = 8;
        /// Like [`exec_batch_in`](Kvs::exec_batch_in), with the requests
        /// in the first `len` bytes of the caller's region.
        fn exec_batch_shared_in(session: u64, len: u64) -> Answer = 9;
        /// Runs a round: commands of any of the caller's sessions, in
        /// order. `request` holds entries made with
        /// [`proto::push_round_entry`] (at most [`proto::MAX_BATCH`]; all
        /// are checked before any runs); none is a round too. The answer
        /// holds replies one after the other: first the reply the previous
        /// round held back, if it held one, then those of this round's
        /// commands. When the next reply would not fit after the others
        /// (the region's size, or [`INLINE_REPLY`] without a region), the
        /// round stops after that command and holds its reply for the
        /// next round ([`RoundAnswer::held`]); a reply larger than the
        /// region alone is replaced by an error reply. One round is one
        /// group commit: a front end gathers the commands of all its
        /// connections into one. Fails with [`BAD_REQUEST`] (nothing ran).
        fn exec_round(request: &[u8]) -> RoundAnswer = 10;
        /// Like [`exec_round`](Kvs::exec_round), with the entries in the
        /// first `len` bytes of the caller's region.
        fn exec_round_shared(len: u64) -> RoundAnswer = 11;
        /// Like [`exec_round`](Kvs::exec_round), if the server is
        /// generation `generation` (the one the caller set its sessions up
        /// with), else fails with [`STALE`] and runs nothing. Each entry's
        /// change is logged with its tag (the caller's badge, `call`, the
        /// entry's index), so that after a crash [`applied`](Kvs::applied)
        /// tells which entries of the call took effect. `call` is the
        /// caller's number for it: never 0, never used twice.
        fn exec_round_tagged(generation: u64, call: u64, request: &[u8]) -> RoundAnswer = 12;
        /// Like [`exec_round_tagged`](Kvs::exec_round_tagged), with the
        /// entries in the first `len` bytes of the caller's region.
        fn exec_round_shared_tagged(generation: u64, call: u64, len: u64) -> RoundAnswer = 13;
        /// The last of the caller's tagged calls whose change is in the log,
        /// and how many of its entries took effect ([`Applied`]); read it
        /// after a call the server's crash cut short.
        fn applied() -> Applied = 14;
        /// Like [`exec_in`](Kvs::exec_in), tagged as
        /// [`exec_round_tagged`](Kvs::exec_round_tagged) tags a round of
        /// one entry: it runs only on server generation `generation`
        /// ([`STALE`] otherwise), and its change is logged with its tag.
        fn exec_in_tagged(generation: u64, call: u64, session: u64, request: &[u8]) -> Answer = 15;
        /// Like [`exec_in_tagged`](Kvs::exec_in_tagged), with the request
        /// in the first `len` bytes of the caller's region.
        fn exec_shared_in_tagged(generation: u64, call: u64, session: u64, len: u64) -> Answer = 16;
        /// One operation on the memcached items ([`mc`]): `request` is a
        /// [`mc::Request`]'s encoding, the answer its [`mc::Response`]'s
        /// (inline up to [`INLINE_REPLY`] bytes, else in the caller's
        /// region). Fails with [`BAD_REQUEST`] (an encoding that does not
        /// decode: nothing ran), [`REPLY_TOO_LARGE`] or [`NOT_ATTACHED`].
        fn mc(request: &[u8]) -> Answer = 17;
        /// Like [`mc`](Kvs::mc), with the request in the first `len`
        /// bytes of the caller's region.
        fn mc_shared(len: u64) -> Answer = 18;
        /// The caller's mail: the replies of its sessions' blocking
        /// commands that stopped waiting (served, timed out, unblocked),
        /// as letters one after the other ([`proto::parse_mail`]), as many
        /// as fit (inline up to [`INLINE_REPLY`] bytes, else in the
        /// caller's region); what does not fit stays for the next call.
        /// The server signals the client's notification (its
        /// `wake-<region>` argument) when mail arrives for it. A command
        /// blocks only in a round ([`exec_round`](Kvs::exec_round) and its
        /// kin), which answers it [`proto::BLOCKED`].
        fn mail() -> Answer = 19;
        /// Ends the wait of the caller's session `session`, as `CLIENT
        /// UNBLOCK` does: its command is answered as if its timeout had
        /// passed, or with `-UNBLOCKED client unblocked via CLIENT
        /// UNBLOCK` when `error`; the reply comes by mail. Whether the
        /// session was blocked.
        fn unblock(session: u64, error: bool) -> bool = 20;
        /// Asks for keyspace events (`notify-keyspace-events`) in the
        /// caller's mail, as [`proto::Letter::Publish`] letters, or stops
        /// them: a front end with Pub/Sub subscribers asks. Events of
        /// every client's commands, of expiry and of eviction come, in the
        /// order they happened.
        fn events(on: bool) = 21;
        /// Runs a round of memcached calls ([`mc_round`]): `request`
        /// holds [`mc::Request`] entries (at most [`proto::MAX_BATCH`];
        /// all are checked before any runs), the answer their
        /// [`mc::Response`]s, in order: first the one the previous round
        /// held back, if it held one. When the next response would not fit
        /// after the others (the region's size, or [`INLINE_REPLY`]
        /// without a region), the round stops after that call and holds
        /// its response for the next round ([`RoundAnswer::held`]); a
        /// response larger than the region alone is answered
        /// [`mc_round::TOO_LARGE`]. What the memcached front end does with
        /// the calls its connections wait for. Fails with [`BAD_REQUEST`]
        /// (nothing ran).
        fn mc_round(request: &[u8]) -> RoundAnswer = 22;
        /// Like [`mc_round`](Kvs::mc_round), with the entries in the first
        /// `len` bytes of the caller's region.
        fn mc_round_shared(len: u64) -> RoundAnswer = 23;
        /// Writes the replies of the caller's session `session` (made if
        /// new) in RESP3 (`resp3`, its client said `HELLO 3`) or RESP2
        /// (`HELLO 2`, `RESET`) from now on: maps, sets, doubles and
        /// nulls as RESP3 types them, the mail's replies too. Fails with
        /// [`TOO_MANY_SESSIONS`].
        fn protocol(session: u64, resp3: bool) = 24;
        /// `CLIENT TRACKING` for the caller's session `session` (made if
        /// new): on or off, BCAST, OPTIN, OPTOUT and NOLOOP as
        /// [`tracking`]'s bits in `flags`, BCAST's prefixes as
        /// [`proto::push_parts`] writes them (added to those it had). The
        /// invalidations it is owed come as [`proto::Letter::Invalidate`]
        /// letters in the caller's mail. The caller checks the options as
        /// Redis does. Fails with [`BAD_REQUEST`] or [`TOO_MANY_SESSIONS`].
        fn track(session: u64, flags: u64, prefixes: &[u8]) = 25;
        /// `CLIENT CACHING yes|no` for the caller's session `session`
        /// (`said`): whether its next command's keys are tracked (OPTIN,
        /// OPTOUT); not `said`: a command of the front end's own used it
        /// up.
        fn caching(session: u64, said: bool, yes: bool) = 26;
        /// The answer to the caller's round that ran on: a round call
        /// ([`exec_round`](Kvs::exec_round) and its kin) answered
        /// [`RUNNING`] when a script in it passed `busy-reply-threshold`
        /// and went on running; once it is done the server says so in the
        /// region's control words and signals the caller ([`busy`]).
        /// Fails with [`NOT_RUNNING`] when no answer waits.
        fn finished() -> RoundAnswer = 27;
    }
}

/// The bits of [`Kvs::track`]'s `flags`.
pub mod tracking {
    /// Tracking on (off without it).
    pub const ON: u64 = 1;
    /// BCAST: every change under the prefixes.
    pub const BCAST: u64 = 2;
    /// OPTIN: keys read right after `CLIENT CACHING yes` only.
    pub const OPTIN: u64 = 4;
    /// OPTOUT: keys read except right after `CLIENT CACHING no`.
    pub const OPTOUT: u64 = 8;
    /// NOLOOP: not the session's own changes.
    pub const NOLOOP: u64 = 16;
}

/// Error code of [`Kvs::exec_round_tagged`]: the server is not the
/// generation the caller set up with (it restarted since); nothing ran.
pub const STALE: u64 = 9;

/// Error code of the round calls: a script in the round passed
/// `busy-reply-threshold` and runs on; the round's answer comes from
/// [`Kvs::finished`] once it is done ([`busy`]). Only for a client whose
/// region has control words and whom the server can signal.
pub const RUNNING: u64 = 10;
/// Error code of [`Kvs::finished`]: no round of the caller's ran on.
pub const NOT_RUNNING: u64 = 11;

/// The answer to [`Kvs::applied`]: the caller's last tagged call with a
/// change in the log (0: none), and how many of its entries took effect
/// (every entry up to and including the last one that logged a change;
/// the ones after it had no effect).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Applied {
    /// The call's number (0: none).
    pub call: u64,
    /// Entries of it that took effect, from the first.
    pub entries: u64,
}

impl Encode for Applied {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push(self.call)?;
        enc.push(self.entries)
    }
}

impl Decode<'_> for Applied {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(Self {
            call: dec.word()?,
            entries: dec.word()?,
        })
    }
}

/// The answer to [`Kvs::exec_round`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RoundAnswer {
    /// How many of the round's commands ran (from the first).
    pub ran: u64,
    /// The last one that ran has its reply held back: it comes first in
    /// the answer to the next round.
    pub held: bool,
    /// The replies.
    pub replies: Answer,
}

impl Encode for RoundAnswer {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push(self.ran)?;
        enc.push(u64::from(self.held))?;
        self.replies.encode(enc)
    }
}

impl Decode<'_> for RoundAnswer {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        let ran = dec.word()?;
        let held = match dec.word()? {
            0 => false,
            1 => true,
            _ => return Err(WireError::Malformed),
        };
        Ok(Self {
            ran,
            held,
            replies: Answer::decode(dec)?,
        })
    }
}

/// Where a reply is: in the message, or in the caller's region.
// One lives per call, on the stack; boxing the inline bytes would cost an
// allocation per reply.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Answer {
    /// The reply's RESP2 bytes.
    Inline(Bytes<INLINE_REPLY>),
    /// The reply's RESP2 bytes are the first `len` bytes of the region.
    Shared(u64),
}

impl Encode for Answer {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        match self {
            Answer::Inline(bytes) => {
                enc.push(0)?;
                bytes.encode(enc)
            }
            Answer::Shared(len) => {
                enc.push(1)?;
                enc.push(*len)
            }
        }
    }
}

impl Decode<'_> for Answer {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        match dec.word()? {
            0 => Ok(Answer::Inline(Bytes::decode(dec)?)),
            1 => Ok(Answer::Shared(dec.word()?)),
            _ => Err(WireError::Malformed),
        }
    }
}

/// Why a command ran but its change could not be made durable: what
/// [`DISK_FULL`] and [`DISK_ERROR`] say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFailure {
    /// The disk is full.
    Full,
    /// Writing or flushing failed.
    Io,
}

impl LogFailure {
    /// Redis's error reply for a failed AOF write, as a client gets it.
    ///
    /// ```
    /// assert_eq!(
    ///     kvs_api::LogFailure::Full.misconf(),
    ///     kvs_core::Reply::Error("MISCONF Errors writing to the AOF file: No space left on device".into())
    /// );
    /// ```
    pub fn misconf(self) -> kvs_core::Reply {
        let why = match self {
            LogFailure::Full => "No space left on device",
            LogFailure::Io => "Input/output error",
        };
        kvs_core::Reply::Error(alloc::format!(
            "MISCONF Errors writing to the AOF file: {why}"
        ))
    }
}
