//! A round: the store commands that connections queued while a batch of
//! network events was handled, run by the store all at once
//! ([`Store::exec_round`]), so that one call (and, for the kvs server, one
//! write to the disk) serves them all.

use crate::parse::Span;
use crate::{Command, Store, StoreError};
use alloc::vec::Vec;
use core::ops::Range;
use kvs_api::busy::Running;

/// The most commands one round holds.
pub const ROUND_COMMANDS: usize = 1024;
/// The most command bytes one round holds.
pub const ROUND_BYTES: usize = 1 << 20;
/// The most commands one connection puts in one round: what bounds the
/// replies a round adds to a connection's output past
/// [`OUTPUT_HIGH_WATER`](crate::OUTPUT_HIGH_WATER).
pub const ROUND_COMMANDS_PER_CONNECTION: usize = 32;

/// One queued command: its session, its encoding in the round's bytes,
/// its arguments in the round's spans.
#[derive(Clone, Debug)]
struct Item {
    session: u64,
    bytes: Range<usize>,
    spans: Range<usize>,
}

/// Commands of several sessions, in the order they were queued.
#[derive(Clone, Debug, Default)]
pub struct Round {
    encoded: Vec<u8>,
    spans: Vec<Span>,
    items: Vec<Item>,
}

impl Round {
    /// The number of commands.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether it holds no command.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The commands, each with its session, in order.
    pub fn commands(&self) -> impl ExactSizeIterator<Item = (u64, Command<'_>)> + '_ {
        self.items.iter().map(|item| {
            (
                item.session,
                Command {
                    encoded: &self.encoded[item.bytes.clone()],
                    spans: &self.spans[item.spans.clone()],
                },
            )
        })
    }

    /// Whether `cmd` still fits.
    pub(crate) fn has_room(&self, cmd: Command<'_>) -> bool {
        self.items.len() < ROUND_COMMANDS
            && (self.is_empty() || self.encoded.len() + cmd.encoded().len() <= ROUND_BYTES)
    }

    /// Queues `cmd` in `session`; returns its index.
    pub(crate) fn push(&mut self, session: u64, cmd: Command<'_>) -> usize {
        let bytes = self.encoded.len()..self.encoded.len() + cmd.encoded().len();
        self.encoded.extend_from_slice(cmd.encoded());
        let spans = self.spans.len()..self.spans.len() + cmd.len();
        self.spans.extend_from_slice(cmd.spans);
        self.items.push(Item {
            session,
            bytes,
            spans,
        });
        self.items.len() - 1
    }

    /// Forgets the commands.
    pub(crate) fn clear(&mut self) {
        self.encoded.clear();
        self.spans.clear();
        self.items.clear();
    }
}

/// What a round's run left: its replies (reply `i` ends at `ends[i]`),
/// or that the store was lost.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// The rounds run so far; a connection's queued commands belong to
    /// round number `run` until it is run.
    pub(crate) run: u64,
    pub(crate) replies: Vec<u8>,
    pub(crate) ends: Vec<usize>,
    pub(crate) lost: bool,
    /// When the store restarted during the round: how many commands after
    /// the answered ones took effect (the rest had none).
    pub(crate) applied: Option<usize>,
    /// The round's time shared by its commands, in microseconds (what
    /// `INFO commandstats` counts for each).
    pub(crate) usec_each: u64,
}

impl Outcome {
    /// Runs `round` on `store`, replacing the last outcome; or, when a
    /// script in it runs on past `busy-reply-threshold`, what it says (the
    /// round is not over: [`resume`](Self::resume) it).
    pub(crate) fn take<S: Store>(&mut self, store: &mut S, round: &Round) -> Option<Running> {
        self.replies.clear();
        self.ends.clear();
        let result = store.exec_round(round, &mut self.replies, &mut self.ends);
        self.ended(result, round)
    }

    /// The round that runs on: what it says now, or `None` once it is
    /// over (the outcome is then complete).
    pub(crate) fn resume<S: Store>(&mut self, store: &mut S, round: &Round) -> Option<Running> {
        let result = store
            .resume_round(&mut self.replies, &mut self.ends)
            .and_then(|running| running.map_or(Ok(()), |r| Err(StoreError::Running(r))));
        self.ended(result, round)
    }

    fn ended(&mut self, result: Result<(), StoreError>, round: &Round) -> Option<Running> {
        if let Err(StoreError::Running(running)) = result {
            return Some(running);
        }
        self.applied = match result {
            Err(StoreError::Interrupted { applied }) => Some(applied),
            _ => None,
        };
        self.lost = result.is_err() || self.ends.len() != round.len();
        self.run += 1;
        None
    }

    /// Reply `i` of the last round.
    pub(crate) fn reply(&self, i: usize) -> Option<&[u8]> {
        let start = i
            .checked_sub(1)
            .map_or(Some(0), |j| self.ends.get(j).copied())?;
        self.replies.get(start..*self.ends.get(i)?)
    }
}

/// The default [`Store::exec_round`]: the commands one by one.
pub(crate) fn one_by_one<S: Store + ?Sized>(
    store: &mut S,
    round: &Round,
    replies: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), StoreError> {
    for (session, cmd) in round.commands() {
        let start = replies.len();
        match store.exec(session, cmd, replies) {
            Ok(()) => {}
            Err(StoreError::TooLarge) => {
                replies.truncate(start);
                crate::reply::error(replies, crate::cmds::TOO_LARGE);
            }
            Err(
                e @ (StoreError::Lost | StoreError::Interrupted { .. } | StoreError::Running(_)),
            ) => {
                return Err(e);
            }
        }
        ends.push(replies.len());
    }
    Ok(())
}
