//! Rounds: the cache calls that many connections wait for, gathered and
//! run together in one call to the store ([`Rounds`]; on Basalt one IPC
//! call, `Kvs::mc_round`, instead of one per command), as the RESP front
//! end gathers its commands.
//!
//! A text connection fed with [`Connection::receive_round`] frames its
//! input as always, but a command that calls the cache does not wait for
//! the answer: its call goes into the [`Batch`] (a [`Turn`] records it)
//! and the connection stops there, its later input kept, and answers
//! [`Flow::Wait`]. Once the batch ran ([`Batch::run`]), the connection is
//! fed again: it runs the command once more with the answer at hand,
//! which writes its reply, and goes on with the rest of its input. A
//! command makes at most one call whose answer its reply needs, and which
//! call it makes follows from the command alone, so the second run makes
//! the call the first recorded.
//!
//! [`Connection::receive_round`]: crate::Connection::receive_round
//! [`Flow::Wait`]: crate::Flow::Wait

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use kvs_api::mc::{Call, CallError, Local, Request, Response};
use kvs_api::mc_round;

/// How a front end runs a round: `request` holds entries made with
/// [`mc_round::push_entry`]; the answers of the entries that ran, from
/// the first, are appended to `answers` ([`mc_round::answers`]), stopping
/// once they pass `limit` bytes (at least one entry runs). How many ran,
/// or why none could (the store is unreachable).
pub trait Rounds {
    /// Why a round failed.
    type Error: core::fmt::Debug;

    /// Runs entries of `request` (see the trait).
    fn run_round(
        &mut self,
        request: &[u8],
        answers: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, Self::Error>;
}

/// Over IPC: `Kvs::mc_round`.
impl<T: libcap::rpc::Transport> Rounds for kvs_api::Connection<T> {
    type Error = kvs_api::Error;

    fn run_round(
        &mut self,
        request: &[u8],
        answers: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, kvs_api::Error> {
        self.mc_round(request, answers, limit)
    }
}

/// In process (host tests): each entry through the encoding, as
/// [`Local`] sends every call.
impl<F: FnMut() -> u64> Rounds for Local<F> {
    type Error = CallError<core::convert::Infallible>;

    fn run_round(
        &mut self,
        request: &[u8],
        answers: &mut Vec<u8>,
        limit: usize,
    ) -> Result<usize, Self::Error> {
        let entries = mc_round::entries(request).ok_or(CallError::Mismatch)?;
        let mut ran = 0;
        for entry in entries {
            let req = Request::decode(entry).map_err(CallError::Decode)?;
            mc_round::push_answer(answers, &self.call(&req)?);
            ran += 1;
            if answers.len() > limit {
                break;
            }
        }
        Ok(ran)
    }
}

/// A connection's place in the batch: the number of its call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket(u64);

/// The calls connections wait for, and the answers of those that ran.
#[derive(Debug, Default)]
pub struct Batch {
    /// The entries not run yet, the first being call `first`.
    request: Vec<u8>,
    /// Where each entry not run yet ends in `request`.
    ends: Vec<usize>,
    /// The number of the first entry not run yet.
    first: u64,
    /// The answers of calls that ran and were not taken yet (`None`: the
    /// call failed), by number.
    answers: BTreeMap<u64, Option<Response>>,
}

impl Batch {
    /// No call waits to run.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Calls waiting to run.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Adds a call; its ticket and the bytes it takes, or `None` when
    /// the heap has no room for it.
    fn push(&mut self, req: &Request<'_>) -> Option<(Ticket, usize)> {
        // Room for the whole entry first: a large value's entry must not
        // double the buffer, and a heap without room fails the call, not
        // the component.
        let hint = match req {
            Request::Store(s) => s.key.len() + s.value.len() + 64,
            Request::Get { keys, .. } => keys.iter().map(|k| k.len() + 8).sum::<usize>() + 64,
            _ => 320,
        };
        self.request.try_reserve_exact(hint).ok()?;
        self.ends.try_reserve(1).ok()?;
        let before = self.request.len();
        mc_round::push_entry(&mut self.request, req);
        self.ends.push(self.request.len());
        let ticket = Ticket(self.first + self.ends.len() as u64 - 1);
        Some((ticket, self.request.len() - before))
    }

    /// Runs the waiting calls through `rounds`, their answers up to about
    /// `limit` bytes (at least one call runs): the rest wait for the next
    /// run. Answers not taken since the last run are dropped (their
    /// connections are gone). When the store cannot be reached, every
    /// waiting call fails.
    pub fn run<R: Rounds>(&mut self, rounds: &mut R, limit: usize) {
        self.answers.clear();
        if self.ends.is_empty() {
            return;
        }
        let mut bytes = Vec::new();
        let ran = match rounds.run_round(&self.request, &mut bytes, limit) {
            Ok(ran) => ran.clamp(1, self.ends.len()),
            Err(_) => self.ends.len(),
        };
        let mut answers = mc_round::answers(&bytes).unwrap_or_default().into_iter();
        for n in 0..ran {
            let response = answers
                .next()
                .flatten()
                .and_then(|b| Response::decode(b).ok());
            self.answers.insert(self.first + n as u64, response);
        }
        let used = self.ends[ran - 1];
        self.request.drain(..used);
        if self.request.is_empty() {
            // Large values went through: give their room back.
            self.request = Vec::new();
        }
        self.ends.drain(..ran);
        for end in &mut self.ends {
            *end -= used;
        }
        self.first += ran as u64;
    }

    /// The answer to the call of `ticket`: `None` while it has not run,
    /// `Some(None)` if it failed.
    fn answer(&mut self, ticket: Ticket) -> Option<Option<Response>> {
        if ticket.0 >= self.first {
            return None;
        }
        Some(self.answers.remove(&ticket.0).flatten())
    }
}

/// Why a [`Turn`]'s call has no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unanswered {
    /// It went into the batch.
    PutOff,
    /// It ran and failed (the store was unreachable).
    Failed,
}

/// A connection's cache during one feed: the answer to the call it
/// waited for, once, then calls recorded into the batch.
pub(crate) struct Turn<'a> {
    batch: &'a mut Batch,
    ready: Option<Option<Response>>,
    /// The ticket of the last call put off, and the bytes it takes in
    /// the batch.
    put_off: Option<(Ticket, usize)>,
}

impl<'a> Turn<'a> {
    pub(crate) fn new(batch: &'a mut Batch) -> Self {
        Turn {
            batch,
            ready: None,
            put_off: None,
        }
    }

    /// The answer to `ticket`'s call, if it ran: the next call gets it.
    pub(crate) fn answered(&mut self, ticket: Ticket) -> bool {
        match self.batch.answer(ticket) {
            Some(answer) => {
                self.ready = Some(answer);
                true
            }
            None => false,
        }
    }

    /// The call put off since the last time asked: its ticket and the
    /// bytes it takes in the batch.
    pub(crate) fn take_put_off(&mut self) -> Option<(Ticket, usize)> {
        self.put_off.take()
    }
}

impl Call for Turn<'_> {
    type Error = Unanswered;

    fn call(&mut self, req: &Request<'_>) -> Result<Response, CallError<Unanswered>> {
        if let Some(answer) = self.ready.take() {
            return answer.ok_or(CallError::Transport(Unanswered::Failed));
        }
        match self.batch.push(req) {
            Some(put_off) => {
                self.put_off = Some(put_off);
                Err(CallError::Transport(Unanswered::PutOff))
            }
            None => Err(CallError::Transport(Unanswered::Failed)),
        }
    }
}
