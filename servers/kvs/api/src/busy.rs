//! A round that runs on past `busy-reply-threshold`.
//!
//! The store runs a script to its end before anything else (it is
//! atomic), and a front end's round call waits for it. Redis, meanwhile,
//! answers every other client `-BUSY` and takes `SCRIPT KILL` or
//! `FUNCTION KILL`. So that a Basalt front end can too, the server
//! answers the round call early, with [`RUNNING`](crate::RUNNING), once a
//! script in it passes the threshold, and runs on. From then until the
//! round is done, client and server talk through the [`Control`] words
//! at the end of the client's region (no call is in progress, and the
//! client calls nothing: every call would wait for the script):
//!
//! | word | written by | meaning |
//! |---|---|---|
//! | 0 | server | [`STATE_RUNNING`], then [`STATE_DONE`]; anything else: no round runs on |
//! | 1 | server | bit 0: the script is an FCALL's function; bit 1: it ran a write command (it cannot be killed) |
//! | 2 | server | milliseconds the script has run |
//! | 3 | client | 1: kill it (`SCRIPT KILL`, `FUNCTION KILL`) |
//!
//! The server writes words 1 and 2 before word 0, and clears word 3
//! before it says running. When the round is done it writes
//! [`STATE_DONE`] and signals the client's notification; the client then
//! takes the round's answer with [`Kvs::finished`](crate::Kvs::finished).
//! A server that restarted meanwhile leaves the words cleared
//! ([`Control::clear`] at its start), and `finished` fails as any call to
//! it would. The client trusts nothing it reads: a value it does not know
//! means no round runs on.

use core::sync::atomic::{Ordering, fence};
use libcap::start::SharedRegion;

/// Word 0: a round runs on.
pub const STATE_RUNNING: u64 = 0x5255_4e4e_494e_4721; // "RUNNING!"
/// Word 0: the round that ran on is done; its answer waits.
pub const STATE_DONE: u64 = 0x444f_4e45_2121_2121; // "DONE!!!!"

const STATE: usize = 0;
const FLAGS: usize = 8;
const ELAPSED: usize = 16;
const KILL: usize = 24;

const FUNCTION: u64 = 1;
const WROTE: u64 = 2;

/// What the client reads of a script that runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Running {
    /// An FCALL's function (`FUNCTION KILL` ends it), else an EVAL's
    /// script (`SCRIPT KILL`).
    pub function: bool,
    /// It ran a write command: Redis's `-UNKILLABLE`.
    pub wrote: bool,
    /// Milliseconds it has run.
    pub elapsed_ms: u64,
}

/// Where a round that ran on stands, as the client reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// None runs on (or the server restarted and cleared the words).
    Idle,
    /// One runs on.
    Running(Running),
    /// It is done: take its answer ([`Kvs::finished`](crate::Kvs::finished)).
    Done,
}

/// The control words of a region ([`crate::SharedBuf::control`]).
#[derive(Debug)]
pub struct Control {
    region: SharedRegion,
}

impl Control {
    /// The words at the start of `region` (at least 32 bytes).
    pub(crate) fn new(region: SharedRegion) -> Self {
        Self { region }
    }

    fn word(&self, at: usize) -> u64 {
        let mut b = [0u8; 8];
        if self.region.read_at(at, &mut b) {
            u64::from_le_bytes(b)
        } else {
            0
        }
    }

    fn set(&mut self, at: usize, value: u64) {
        // The region has room for every word (`new`'s contract).
        let _ = self.region.write_at(at, &value.to_le_bytes());
    }

    /// Server: a script runs on, as `running` says. The first time in a
    /// round, forgets any kill asked before.
    pub fn publish(&mut self, running: &Running) {
        if self.word(STATE) != STATE_RUNNING {
            self.set(KILL, 0);
        }
        let flags = (u64::from(running.function) * FUNCTION) | (u64::from(running.wrote) * WROTE);
        self.set(FLAGS, flags);
        self.set(ELAPSED, running.elapsed_ms);
        // The details before the state that makes them meaningful.
        fence(Ordering::Release);
        self.set(STATE, STATE_RUNNING);
    }

    /// Server: the round is done (signal the client next).
    pub fn done(&mut self) {
        fence(Ordering::Release);
        self.set(STATE, STATE_DONE);
    }

    /// Server: no round runs on (at its start, and once the answer is
    /// taken).
    pub fn clear(&mut self) {
        self.set(STATE, 0);
        self.set(KILL, 0);
    }

    /// Server: whether the client asked for a kill.
    pub fn kill_asked(&self) -> bool {
        self.word(KILL) == 1
    }

    /// Client: where the round stands.
    pub fn state(&self) -> State {
        let state = self.word(STATE);
        fence(Ordering::Acquire);
        match state {
            STATE_RUNNING => {
                let flags = self.word(FLAGS);
                State::Running(Running {
                    function: flags & FUNCTION != 0,
                    wrote: flags & WROTE != 0,
                    elapsed_ms: self.word(ELAPSED),
                })
            }
            STATE_DONE => State::Done,
            _ => State::Idle,
        }
    }

    /// Client: asks the server to kill the script that runs on (it does
    /// at its next check unless the script has written by then).
    pub fn kill(&mut self) {
        self.set(KILL, 1);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::SharedBuf;
    use std::boxed::Box;
    use std::vec;

    fn buf(len: usize) -> SharedBuf {
        let mem: &'static mut [u64] = Box::leak(vec![0u64; len.div_ceil(8)].into_boxed_slice());
        // SAFETY: leaked, so mapped forever, and used only through the buffer.
        unsafe { SharedBuf::new(mem.as_mut_ptr().cast(), len) }.unwrap()
    }

    #[test]
    fn the_control_words_are_the_region_s_last_line() {
        let mut b = buf(4096);
        assert_eq!(b.len(), 4096 - 64);
        assert!(b.control().is_some());
        // Not a multiple of 64: the buffer stays aligned, the words get more.
        assert_eq!(buf(4096 + 10).len(), 4096 - 64);
        // Too small to spare them.
        let mut small = buf(100);
        assert_eq!(small.len(), 100);
        assert!(small.control().is_none());
    }

    #[test]
    fn a_round_that_runs_on_from_start_to_answer() {
        let mut b = buf(1 << 12);
        let c = b.control().unwrap();
        assert_eq!(c.state(), State::Idle);
        // A kill left from before a round does not count in the next.
        c.kill();
        let r = Running {
            function: true,
            wrote: false,
            elapsed_ms: 5001,
        };
        c.publish(&r);
        assert!(!c.kill_asked());
        assert_eq!(c.state(), State::Running(r));
        c.kill();
        assert!(c.kill_asked());
        let r = Running {
            wrote: true,
            elapsed_ms: 5002,
            ..r
        };
        c.publish(&r);
        assert!(c.kill_asked(), "asked during the round: it stays");
        assert_eq!(c.state(), State::Running(r));
        c.done();
        assert_eq!(c.state(), State::Done);
        c.clear();
        assert_eq!(c.state(), State::Idle);
        assert!(!c.kill_asked());
    }

    #[test]
    fn words_a_client_does_not_know_mean_idle() {
        let mut b = buf(1 << 12);
        let c = b.control().unwrap();
        c.set(STATE, 7);
        assert_eq!(c.state(), State::Idle);
        c.set(STATE, STATE_RUNNING);
        c.set(FLAGS, u64::MAX);
        assert!(matches!(c.state(), State::Running(r) if r.function && r.wrote));
    }
}
