//! The client side: [`Connection`] picks the message words or the shared
//! region for each request and reply.

use crate::LogFailure;
use crate::busy::State;
use crate::shared::SharedBuf;
use crate::{
    Answer, DISK_ERROR, DISK_FULL, INLINE_COMMAND, INLINE_REQUEST, KvsClient, RUNNING, RoundAnswer,
    proto,
};
use alloc::string::String;
use alloc::vec::Vec;
use libcap::rpc::{RpcError, Transport};

/// The most bytes of a tagged round that travel in the call's message
/// words: the generation and the call number take two of the words a
/// plain round leaves to its bytes.
const INLINE_TAGGED_ROUND: usize = INLINE_REQUEST - 8;

/// The reply that stands for a command of a round too large to send.
const TOO_LARGE_TO_SEND: &[u8] =
    b"-ERR the command is larger than the client's shared region (it did not run)\r\n";

/// Why a command got no reply.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// The call failed (see [`RpcError`]; `Remote(code)` carries one of
    /// the crate's error codes). After [`RpcError::Restarted`] the
    /// connection has set itself up again with the new server instance
    /// (whose store is empty); the command ran there, its reply is lost.
    Rpc(RpcError),
    /// The encoded request is larger than the message words and there is
    /// no region, or larger than the region.
    TooLarge,
    /// The server answered with a reply outside the region.
    BadAnswer,
    /// A round's request is not whole entries ([`proto::parse_round`]).
    BadRound,
    /// The server restarted during a round ([`Connection::round`]) or a
    /// command, or had restarted before it (it refused to run it in
    /// sessions it does not have): the replies of the first `replied`
    /// commands were appended, the next `applied` commands took effect
    /// (the log shows them; their replies are lost), and the rest had
    /// none. The connection has set itself up again with the new server
    /// instance, whose sessions are new.
    Interrupted {
        /// Commands answered.
        replied: usize,
        /// Commands after those that took effect unanswered.
        applied: usize,
    },
    /// A script in the round ([`Connection::round`]) passed
    /// `busy-reply-threshold` and runs on ([`crate::busy`]): the replies
    /// of the calls before it were appended; the rest come from
    /// [`Connection::resume`] once it is done. Until then the client
    /// calls nothing (the call would wait for the script).
    Running,
}

impl From<RpcError> for Error {
    fn from(e: RpcError) -> Self {
        Error::Rpc(e)
    }
}

/// A client's connection to the kvs server: the RPC client and, if the
/// config gives it one, the shared region for large requests and replies.
///
/// ```no_run
/// # use libcap::{Endpoint, bind::Named, start::SharedRegion};
/// # fn run(channel: Endpoint, region: Named<SharedRegion>) {
/// // Bound from the component's arguments (`args.kvs.cap`, `args.kvs_region`).
/// let mut kvs = kvs_api::Connection::attach(channel, Some(region)).expect("a session");
/// assert_eq!(kvs.command(&[b"INCR", b"n"]).unwrap(), b":1\r\n");
/// # }
/// ```
///
/// (The server crate's documentation runs the same against a
/// `KvsServer` on the host.)
#[derive(Debug)]
pub struct Connection<T: Transport> {
    client: KvsClient<T>,
    region: Option<(String, SharedBuf)>,
    request: Vec<u8>,
    /// The server generation its sessions were set up with.
    generation: u64,
    /// The number of the next tagged call: counted up from the TSC at
    /// open, so that no number repeats across this client's restarts.
    next_call: u64,
    /// The round whose script runs on ([`Error::Running`]).
    pending: Option<Pending>,
}

/// A round that runs on: its request, how far it got, and the call that
/// was answered early.
#[derive(Debug)]
struct Pending {
    request: Vec<u8>,
    at: Progress,
    last: usize,
    call: u64,
}

/// Where a round that ran on stands ([`Connection::resume`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resumed {
    /// Its script still runs, as the control words say.
    Running(crate::busy::Running),
    /// It is done: every reply was appended.
    Done,
}

impl Connection<libcap::Endpoint> {
    /// A component's connection to the kvs server on `channel`, with the
    /// shared region `region` for large requests and replies if the
    /// config gives the component one (the server finds it by its name).
    /// A component binds both from its arguments.
    pub fn attach(
        channel: libcap::Endpoint,
        region: Option<libcap::bind::Named<libcap::start::SharedRegion>>,
    ) -> Result<Self, Error> {
        let buf = region.map(|r| (r.name, SharedBuf::from_region(r.cap)));
        Self::open(KvsClient::from(channel), buf)
    }
}

impl<T: Transport> Connection<T> {
    /// Starts a fresh session with the server behind `client` (dropping
    /// whatever a previous instance of this client left there) and
    /// attaches the region `(name, buffer)` if given.
    pub fn open(client: KvsClient<T>, region: Option<(&str, SharedBuf)>) -> Result<Self, Error> {
        let mut c = Self {
            client,
            region: region.map(|(name, buf)| (String::from(name), buf)),
            request: Vec::new(),
            generation: 0,
            next_call: libcap::time::rdtsc().max(1),
            pending: None,
        };
        // The first call may see a server that restarted since this
        // client's previous instance: set up again with it.
        c.setup_again()?;
        Ok(c)
    }

    /// Ends session `session` (its transaction and WATCHes go).
    pub fn end(&mut self, session: u64) -> Result<(), Error> {
        Ok(self.client.end(session)?)
    }

    /// The client's mail ([`Kvs::mail`](crate::Kvs::mail)): letters
    /// ([`proto::parse_mail`]) with the replies of its sessions' blocking
    /// commands that stopped waiting; as many as one answer holds.
    pub fn take_mail(&mut self) -> Result<Vec<u8>, Error> {
        let answer = self.client.mail();
        self.answer(answer)
    }

    /// Ends the wait of blocked session `session` ([`Kvs::unblock`](crate::Kvs::unblock)).
    pub fn unblock(&mut self, session: u64, error: bool) -> Result<bool, Error> {
        Ok(self.client.unblock(session, error)?)
    }

    /// Writes session `session`'s replies in RESP3 or RESP2
    /// ([`Kvs::protocol`](crate::Kvs::protocol)).
    pub fn protocol(&mut self, session: u64, resp3: bool) -> Result<(), Error> {
        Ok(self.client.protocol(session, resp3)?)
    }

    /// `CLIENT TRACKING` for session `session`
    /// ([`Kvs::track`](crate::Kvs::track)).
    pub fn track(&mut self, session: u64, flags: u64, prefixes: &[&[u8]]) -> Result<(), Error> {
        let mut encoded = Vec::new();
        crate::proto::push_parts(prefixes, &mut encoded);
        Ok(self.client.track(session, flags, &encoded)?)
    }

    /// `CLIENT CACHING yes|no` for session `session` (`None`: used up;
    /// [`Kvs::caching`](crate::Kvs::caching)).
    pub fn caching(&mut self, session: u64, said: Option<bool>) -> Result<(), Error> {
        Ok(self
            .client
            .caching(session, said.is_some(), said == Some(true))?)
    }

    /// The RPC client.
    pub fn client(&self) -> &KvsClient<T> {
        &self.client
    }

    /// The size of the region, 0 without one.
    pub fn region_len(&self) -> usize {
        self.region.as_ref().map_or(0, |(_, b)| b.len())
    }

    /// The largest encoded request that can travel: the region's size, or
    /// what fits in a message without one.
    pub fn request_limit(&self) -> usize {
        self.region_len().max(INLINE_REQUEST)
    }

    /// The server generation the connection's sessions belong to: it
    /// changes when the server restarted and the connection set itself up
    /// again, and a session used before is then gone.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn setup(&mut self) -> Result<(), Error> {
        self.client.reset()?;
        if let Some((name, _)) = &self.region {
            self.client.attach(name)?;
        }
        self.generation = self.client.generation();
        Ok(())
    }

    /// [`setup`](Self::setup), with a server that may just have
    /// restarted (the first call to it reports that).
    fn setup_again(&mut self) -> Result<(), Error> {
        match self.setup() {
            Err(Error::Rpc(RpcError::Restarted { .. })) => self.setup(),
            other => other,
        }
    }

    /// After a tagged call of number `call` failed with `error`: how many
    /// of its entries took effect, the connection set up again; or the
    /// error, when that cannot be known.
    fn took_effect(&mut self, call: u64, error: RpcError) -> Result<usize, Error> {
        let took = match error {
            // The server refused the call: a new instance (the reply says
            // so first), or one the connection has not set up with.
            RpcError::Restarted { .. } | RpcError::Remote(crate::STALE) => 0,
            // It crashed during the call: its log says how far it got.
            RpcError::Unavailable => {
                let mut asked = self.client.applied();
                for _ in 0..2 {
                    match asked {
                        Err(RpcError::Restarted { .. } | RpcError::Unavailable) => {
                            asked = self.client.applied();
                        }
                        _ => break,
                    }
                }
                let applied = asked?;
                if applied.call == call {
                    usize::try_from(applied.entries).map_err(|_| Error::BadAnswer)?
                } else {
                    0
                }
            }
            other => return Err(Error::Rpc(other)),
        };
        self.setup_again()?;
        Ok(took)
    }

    /// Runs the command `args` in session 0; returns the RESP2 encoding
    /// of its reply.
    pub fn command(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, Error> {
        self.command_in(0, args)
    }

    /// Runs the command `args` in the client's session `session`.
    pub fn command_in(&mut self, session: u64, args: &[&[u8]]) -> Result<Vec<u8>, Error> {
        let mut request = core::mem::take(&mut self.request);
        request.clear();
        proto::encode_command(args, &mut request);
        let reply = self.request_in(session, &request);
        self.request = request;
        reply
    }

    /// Runs one command already encoded (see [`proto`]) in session 0;
    /// returns the RESP2 encoding of its reply.
    pub fn request(&mut self, encoded: &[u8]) -> Result<Vec<u8>, Error> {
        self.request_in(0, encoded)
    }

    /// Runs one command already encoded in session `session` (a front end
    /// keeps one per network connection, and passes what the network
    /// client sent on unchanged).
    pub fn request_in(&mut self, session: u64, encoded: &[u8]) -> Result<Vec<u8>, Error> {
        self.call(session, encoded, false)
    }

    /// Runs several commands already encoded (one after the other, at
    /// most [`proto::MAX_BATCH`]) in session `session`, in one call;
    /// returns their replies one after the other. A front end passes a
    /// client's pipeline on this way.
    pub fn batch_in(&mut self, session: u64, encoded: &[u8]) -> Result<Vec<u8>, Error> {
        self.call(session, encoded, true)
    }

    /// Sends `encoded` in the message words when it fits, else through the
    /// region; one command, or a batch.
    fn call(&mut self, session: u64, encoded: &[u8], batch: bool) -> Result<Vec<u8>, Error> {
        if !batch {
            return self.tagged(session, encoded);
        }
        let answer = if encoded.len() <= INLINE_REQUEST {
            self.client.exec_batch_in(session, encoded)
        } else {
            let (_, buf) = self.region.as_mut().ok_or(Error::TooLarge)?;
            if !buf.write(encoded) {
                return Err(Error::TooLarge);
            }
            self.client
                .exec_batch_shared_in(session, encoded.len() as u64)
        };
        self.answer(answer)
    }

    /// One command, tagged ([`Kvs::exec_in_tagged`](crate::Kvs::exec_in_tagged)):
    /// when the server restarts during the call, or had restarted before
    /// it, [`Error::Interrupted`] says whether it took effect.
    fn tagged(&mut self, session: u64, encoded: &[u8]) -> Result<Vec<u8>, Error> {
        let (generation, call) = (self.generation, self.next_call);
        self.next_call += 1;
        let answer = if encoded.len() <= INLINE_COMMAND {
            self.client
                .exec_in_tagged(generation, call, session, encoded)
        } else {
            let (_, buf) = self.region.as_mut().ok_or(Error::TooLarge)?;
            if !buf.write(encoded) {
                return Err(Error::TooLarge);
            }
            let len = encoded.len() as u64;
            self.client
                .exec_shared_in_tagged(generation, call, session, len)
        };
        match answer {
            Err(
                e @ (RpcError::Unavailable
                | RpcError::Restarted { .. }
                | RpcError::Remote(crate::STALE)),
            ) => {
                let applied = self.took_effect(call, e)?;
                Err(Error::Interrupted {
                    replied: 0,
                    applied,
                })
            }
            answer => self.answer(answer),
        }
    }

    /// Runs a round: `request` holds entries made with
    /// [`proto::push_round_entry`], commands of any of the client's
    /// sessions. Their replies are appended to `replies`, one after the
    /// other, in as many calls as the replies need (a round stops early
    /// when its replies outgrow the region). A change the disk could not
    /// take answers each command from there on with Redis's `-MISCONF`.
    /// Each call is tagged ([`Kvs::exec_round_tagged`](crate::Kvs::exec_round_tagged)):
    /// when the server restarts during the round, [`Error::Interrupted`]
    /// says which commands took effect.
    ///
    /// A script in the round that passes `busy-reply-threshold` makes it
    /// fail with [`Error::Running`] (when the region has control words):
    /// then [`resume`](Self::resume) finishes it.
    pub fn round(&mut self, request: &[u8], replies: &mut Vec<u8>) -> Result<(), Error> {
        let ends: Vec<usize> = proto::parse_round(request)
            .ok_or(Error::BadRound)?
            .entries()
            .map(|e| e.end)
            .collect();
        self.round_from(request, Progress::new(ends), None, replies)
    }

    /// The round that failed with [`Error::Running`]: still running (as
    /// the region's control words say; nothing is called), or done, its
    /// remaining replies appended to `replies` (the round may then run
    /// on again, in a later call of it). Fails as [`round`](Self::round)
    /// does; `Ok(Done)` when no round runs on.
    pub fn resume(&mut self, replies: &mut Vec<u8>) -> Result<Resumed, Error> {
        let Some(pending) = self.pending.take() else {
            return Ok(Resumed::Done);
        };
        let state = self
            .region
            .as_mut()
            .and_then(|(_, b)| b.control())
            .map_or(State::Idle, |c| c.state());
        if let State::Running(running) = state {
            self.pending = Some(pending);
            return Ok(Resumed::Running(running));
        }
        // Done, or cleared by a server that restarted (the call says so).
        let answer = match self.client.finished() {
            Ok(answer) => Ok(answer),
            // Whatever went wrong, the log knows what took effect.
            Err(_) => Err(RpcError::Unavailable),
        };
        if let Some(c) = self.region.as_mut().and_then(|(_, b)| b.control()) {
            c.clear();
        }
        let Pending {
            request,
            at,
            last,
            call,
        } = pending;
        self.round_from(&request, at, Some((last, call, answer)), replies)
            .map(|()| Resumed::Done)
    }

    /// The script that runs on, as the region's control words say now
    /// (`None`: no round ran on, or it is done).
    pub fn running(&mut self) -> Option<crate::busy::Running> {
        self.pending.as_ref()?;
        match self.region.as_mut()?.1.control()?.state() {
            State::Running(running) => Some(running),
            _ => None,
        }
    }

    /// Asks the server to kill the script that runs on (see
    /// [`crate::busy`]); nothing when none does.
    pub fn kill(&mut self) {
        if self.pending.is_some()
            && let Some(c) = self.region.as_mut().and_then(|(_, b)| b.control())
        {
            c.kill();
        }
    }

    /// Runs the round's calls from `at` on; the first one's answer is
    /// `first` when it came already (a round that ran on).
    fn round_from(
        &mut self,
        request: &[u8],
        mut at: Progress,
        mut first: Option<(usize, u64, Result<RoundAnswer, RpcError>)>,
        replies: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let limit = self.region_len().max(INLINE_TAGGED_ROUND);
        loop {
            let (last, call, answer) = match first.take() {
                Some(came) => came,
                None => {
                    let Some(last) = at.fitting(limit) else {
                        // Too large to travel at all: it does not run.
                        replies.extend_from_slice(TOO_LARGE_TO_SEND);
                        at.next += 1;
                        continue;
                    };
                    let part = at.part(request, last);
                    let (generation, call) = (self.generation, self.next_call);
                    self.next_call += 1;
                    let answer = if part.len() <= INLINE_TAGGED_ROUND {
                        self.client.exec_round_tagged(generation, call, part)
                    } else {
                        let (_, buf) = self.region.as_mut().ok_or(Error::TooLarge)?;
                        if !buf.write(part) {
                            return Err(Error::TooLarge);
                        }
                        self.client
                            .exec_round_shared_tagged(generation, call, part.len() as u64)
                    };
                    (last, call, answer)
                }
            };
            let answer = match answer {
                Ok(a) => a,
                Err(RpcError::Remote(RUNNING)) => {
                    self.pending = Some(Pending {
                        request: request.to_vec(),
                        at,
                        last,
                        call,
                    });
                    return Err(Error::Running);
                }
                Err(e @ RpcError::Remote(DISK_FULL | DISK_ERROR)) => {
                    // The rest of the round has this one reply each.
                    let mut one = Vec::new();
                    self.answer_into(Err(e), &mut one)?;
                    for _ in at.next..at.ends.len() {
                        replies.extend_from_slice(&one);
                    }
                    return Ok(());
                }
                Err(e) => {
                    // A reply held back belongs to a command of an earlier
                    // call, which took effect.
                    let took = self.took_effect(call, e)?;
                    return Err(Error::Interrupted {
                        replied: at.next - usize::from(at.held),
                        applied: usize::from(at.held) + took,
                    });
                }
            };
            self.answer_into(Ok(answer.replies), replies)?;
            at.ran(last, answer.ran, answer.held)?;
            if at.done() {
                return Ok(());
            }
        }
    }

    /// Runs a round of memcached calls: `request` holds entries made with
    /// [`mc_round::push_entry`](crate::mc_round::push_entry), the calls
    /// of many connections. Their answers are appended to `answers`, one
    /// after the other ([`mc_round::answers`](crate::mc_round::answers)),
    /// in as many IPC calls as they need (a round stops early when its
    /// responses outgrow the region), until every entry ran or the
    /// answers pass `limit` bytes; an entry too large to travel is
    /// answered [`mc_round::TOO_LARGE`](crate::mc_round::TOO_LARGE)
    /// without running. How many entries were answered, from the first.
    /// When the server fails part way (it restarted), `answers` holds
    /// those of the calls that ran before.
    pub fn mc_round(
        &mut self,
        request: &[u8],
        answers: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, Error> {
        use crate::mc_round;
        let entries = mc_round::entries(request).ok_or(Error::BadRound)?;
        let per_call = self.region_len().max(INLINE_REQUEST);
        // Where each entry ends in `request`.
        let ends = entries
            .iter()
            .scan(0, |end, e| {
                *end += 4 + e.len();
                Some(*end)
            })
            .collect();
        let mut at = Progress::new(ends);
        loop {
            let Some(last) = at.fitting(per_call) else {
                mc_round::push_too_large(answers);
                at.next += 1;
                continue;
            };
            let part = at.part(request, last);
            let answer = if part.len() <= INLINE_REQUEST {
                self.client.mc_round(part)
            } else {
                let (_, buf) = self.region.as_mut().ok_or(Error::TooLarge)?;
                if !buf.write(part) {
                    return Err(Error::TooLarge);
                }
                self.client.mc_round_shared(part.len() as u64)
            };
            let answer = match answer {
                Ok(a) => a,
                Err(e @ RpcError::Restarted { .. }) => {
                    self.setup()?;
                    return Err(Error::Rpc(e));
                }
                Err(e) => return Err(Error::Rpc(e)),
            };
            self.answer_into(Ok(answer.replies), answers)?;
            at.ran(last, answer.ran, answer.held)?;
            if at.done() || (answers.len() > limit && !at.held) {
                return Ok(at.next);
            }
        }
    }

    /// The reply bytes of a call's answer.
    pub(crate) fn answer(&mut self, answer: Result<Answer, RpcError>) -> Result<Vec<u8>, Error> {
        let mut reply = Vec::new();
        self.answer_into(answer, &mut reply)?;
        Ok(reply)
    }

    /// Appends the reply bytes of a call's answer to `reply`.
    fn answer_into(
        &mut self,
        answer: Result<Answer, RpcError>,
        reply: &mut Vec<u8>,
    ) -> Result<(), Error> {
        match answer {
            Ok(Answer::Inline(bytes)) => reply.extend_from_slice(&bytes),
            Ok(Answer::Shared(len)) => {
                let (_, buf) = self.region.as_ref().ok_or(Error::BadAnswer)?;
                let len = usize::try_from(len).map_err(|_| Error::BadAnswer)?;
                let mut copy = Vec::new();
                if !buf.read(len, &mut copy) {
                    return Err(Error::BadAnswer);
                }
                if reply.is_empty() {
                    *reply = copy;
                } else {
                    reply.extend_from_slice(&copy);
                }
            }
            // The command ran; only its durability failed: the client
            // gets Redis's words for that.
            Err(RpcError::Remote(code @ (DISK_FULL | DISK_ERROR))) => {
                let failure = if code == DISK_FULL {
                    LogFailure::Full
                } else {
                    LogFailure::Io
                };
                failure.misconf().encode_resp2(reply);
            }
            Err(e @ RpcError::Restarted { .. }) => {
                self.setup()?;
                return Err(Error::Rpc(e));
            }
            Err(e) => return Err(Error::Rpc(e)),
        }
        Ok(())
    }
}

/// The memcached items' operations over IPC ([`Kvs::mc`](crate::Kvs::mc)):
/// with this, a connection is a [`mc::Cache`](crate::mc::Cache).
impl<T: Transport> crate::mc::Call for Connection<T> {
    type Error = Error;

    fn call(
        &mut self,
        req: &crate::mc::Request<'_>,
    ) -> Result<crate::mc::Response, crate::mc::CallError<Error>> {
        use crate::mc::CallError;
        let mut encoded = core::mem::take(&mut self.request);
        encoded.clear();
        req.encode(&mut encoded);
        let answer = if encoded.len() <= INLINE_REQUEST {
            self.client.mc(&encoded)
        } else {
            let written = self
                .region
                .as_mut()
                .is_some_and(|(_, buf)| buf.write(&encoded));
            if !written {
                self.request = encoded;
                return Err(CallError::Transport(Error::TooLarge));
            }
            self.client.mc_shared(encoded.len() as u64)
        };
        self.request = encoded;
        let bytes = self.answer(answer).map_err(CallError::Transport)?;
        crate::mc::Response::decode(&bytes).map_err(CallError::Decode)
    }
}

/// How far a round sent in several calls got: where each entry ends in
/// the request, how many entries ran, and whether the server holds the
/// last one's reply back for the next call.
#[derive(Debug)]
struct Progress {
    ends: Vec<usize>,
    next: usize,
    held: bool,
}

impl Progress {
    fn new(ends: Vec<usize>) -> Progress {
        Progress {
            ends,
            next: 0,
            held: false,
        }
    }

    /// Where entry `i` starts in the request.
    fn start(&self, i: usize) -> usize {
        i.checked_sub(1).map_or(0, |i| self.ends[i])
    }

    /// The end (exclusive) of the entries the next call carries, as many
    /// as fit in `limit` bytes; `None` when the next entry alone is
    /// larger (it cannot travel).
    fn fitting(&self, limit: usize) -> Option<usize> {
        let start = self.start(self.next);
        let mut last = self.next;
        while last < self.ends.len() && self.ends[last] - start <= limit {
            last += 1;
        }
        let stuck = last == self.next && self.next < self.ends.len() && !self.held;
        (!stuck).then_some(last)
    }

    /// The bytes of the entries from the next up to `last`.
    fn part<'a>(&self, request: &'a [u8], last: usize) -> &'a [u8] {
        &request[self.start(self.next)..self.start(last)]
    }

    /// A call that carried the entries up to `last` ran `ran` of them,
    /// holding the last one's reply back if `held`.
    fn ran(&mut self, last: usize, ran: u64, held: bool) -> Result<(), Error> {
        let ran = usize::try_from(ran).map_err(|_| Error::BadAnswer)?;
        let sent = last - self.next;
        if ran > sent || (ran < sent && !held) {
            return Err(Error::BadAnswer);
        }
        self.next += ran;
        self.held = held;
        Ok(())
    }

    /// Every entry ran and its reply came.
    fn done(&self) -> bool {
        self.next == self.ends.len() && !self.held
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::{DISK_ERROR, DISK_FULL};
    use libcap::rpc::Encoder;

    /// A server that is never called.
    struct Nobody;

    impl Transport for Nobody {
        fn call(&self, _: u64, _: &mut Encoder) -> Result<u64, libcap::Error> {
            Err(libcap::Error::Aborted)
        }
    }

    #[test]
    fn durability_errors_reach_the_client_as_misconf() {
        let mut conn = Connection {
            client: KvsClient::new(Nobody),
            region: None,
            request: Vec::new(),
            generation: 1,
            next_call: 1,
            pending: None,
        };
        // The codes the server's hold loop sends back for a failed settle.
        for (code, words) in [
            (DISK_FULL, "No space left on device"),
            (DISK_ERROR, "Input/output error"),
        ] {
            let reply = conn.answer(Err(RpcError::Remote(code))).unwrap();
            assert_eq!(
                reply,
                alloc::format!("-MISCONF Errors writing to the AOF file: {words}\r\n").into_bytes()
            );
        }
    }
}
