//! `CLIENT PAUSE timeout [WRITE|ALL]` and `CLIENT UNPAUSE`: for a while,
//! the connections' commands wait instead of running (all of them, or
//! only those that write), as Redis 7.0 pauses its clients.
//!
//! A command is held where the connection would run it, once it is known
//! to exist and has its arity (those that do not are answered at once, as
//! in Redis), so that it and everything after it in the connection's
//! input wait. The connection is *postponed*: CLIENT LIST flags it `b`
//! and INFO counts it in `blocked_clients`. When the pause ends, by
//! UNPAUSE or by its time, the postponed connections are woken in the
//! order they were held, and run what they hold. The pausing connection
//! is paused too: under `ALL` not even UNPAUSE runs before the time is
//! up, as in Redis.
//!
//! Unlike Redis, the store's own expiry and eviction go on during a pause
//! (Redis stops them, so that the data set holds still).

use alloc::vec::Vec;

/// What a pause holds back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Holds {
    /// Commands Redis sends to replicas: those that write, PUBLISH and
    /// PFCOUNT (and EXEC of a transaction that queued one).
    Writes,
    /// Every command.
    All,
}

/// The pause, if one is on, and the connections it holds.
#[derive(Debug, Default)]
pub(crate) struct Pause {
    /// Until when (the front end's clock, microseconds), and what.
    on: Option<(u64, Holds)>,
    /// The connections holding a command back, in the order they were
    /// held.
    postponed: Vec<u64>,
    /// Those the pause's end released, until the component feeds them.
    released: Vec<u64>,
}

impl Pause {
    /// Pauses for `ms` milliseconds from `now_us` (a negative end, as a
    /// huge timeout makes Redis's, pauses nothing). A pause already on
    /// keeps the later end and holds the more of the two.
    pub(crate) fn start(&mut self, now_us: u64, ms: i64, holds: Holds) {
        let end = i64::try_from(now_us / 1000)
            .unwrap_or(i64::MAX)
            .wrapping_add(ms);
        let Ok(end_ms) = u64::try_from(end) else {
            return;
        };
        let end_us = end_ms.saturating_mul(1000);
        self.on = Some(match self.on {
            Some((until, was)) => (until.max(end_us), was.max(holds)),
            None => (end_us, holds),
        });
    }

    /// Whether a pause is on (its time may be up).
    pub(crate) fn is_on(&self) -> bool {
        self.on.is_some()
    }

    /// Ends the pause (UNPAUSE, or its time): the postponed connections
    /// are released.
    pub(crate) fn stop(&mut self) {
        self.on = None;
        self.released.append(&mut self.postponed);
    }

    /// Whether a command of this kind waits at `now_us` (`writes`: it
    /// writes); ends the pause first if its time is up.
    pub(crate) fn holds(&mut self, now_us: u64, writes: bool) -> bool {
        self.tick(now_us);
        match self.on {
            Some((_, Holds::All)) => true,
            Some((_, Holds::Writes)) => writes,
            None => false,
        }
    }

    /// Ends the pause if its time is up at `now_us`.
    pub(crate) fn tick(&mut self, now_us: u64) {
        if self.on.is_some_and(|(until, _)| now_us >= until) {
            self.stop();
        }
    }

    /// Connection `id` holds a command back.
    pub(crate) fn postpone(&mut self, id: u64) {
        if !self.postponed.contains(&id) {
            self.postponed.push(id);
        }
    }

    /// How many connections are postponed.
    pub(crate) fn postponed(&self) -> usize {
        self.postponed.len()
    }

    /// Connection `id` is gone.
    pub(crate) fn forget(&mut self, id: u64) {
        self.postponed.retain(|&p| p != id);
        self.released.retain(|&p| p != id);
    }

    /// Connections that held a command back for another reason (a round
    /// that ran on past `busy-reply-threshold`) go on: fed with those the
    /// pause released, unless the pause still holds them.
    pub(crate) fn release(&mut self, ids: Vec<u64>) {
        for id in ids {
            if !self.released.contains(&id) && !self.postponed.contains(&id) {
                self.released.push(id);
            }
        }
    }

    /// The released connections, in order, to feed.
    pub(crate) fn take_released(&mut self) -> Vec<u64> {
        core::mem::take(&mut self.released)
    }

    /// When the pause ends, if a connection waits for that.
    pub(crate) fn due_us(&self) -> Option<u64> {
        self.on
            .filter(|_| !self.postponed.is_empty())
            .map(|(until, _)| until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000_000;

    #[test]
    fn holds_what_it_pauses_until_its_end() {
        let mut p = Pause::default();
        assert!(!p.holds(NOW, true));
        p.start(NOW, 100, Holds::Writes);
        assert!(p.holds(NOW, true) && !p.holds(NOW, false));
        p.postpone(7);
        p.postpone(3);
        p.postpone(7);
        assert_eq!((p.postponed(), p.due_us()), (2, Some(NOW + 100_000)));
        assert!(p.holds(NOW + 99_999, true));
        assert!(!p.holds(NOW + 100_000, true), "its time is up");
        assert_eq!(p.take_released(), [7, 3], "in the order they were held");
        assert_eq!((p.postponed(), p.due_us()), (0, None));
    }

    #[test]
    fn a_second_pause_keeps_the_later_end_and_the_more_it_holds() {
        let mut p = Pause::default();
        p.start(NOW, 1000, Holds::All);
        p.start(NOW, 10, Holds::Writes);
        p.postpone(1);
        assert_eq!(p.due_us(), Some(NOW + 1_000_000));
        assert!(p.holds(NOW + 500_000, false));
        p.stop();
        assert!(!p.holds(NOW, true));
        assert_eq!(p.take_released(), [1]);
    }

    #[test]
    fn an_end_past_the_clock_pauses_nothing() {
        let mut p = Pause::default();
        p.start(NOW, i64::MAX, Holds::All);
        assert!(!p.holds(NOW, true));
        p.start(NOW, 0, Holds::All);
        assert!(!p.holds(NOW, true), "a pause of 0 ms is over");
    }

    #[test]
    fn gone_connections_are_forgotten() {
        let mut p = Pause::default();
        p.start(NOW, 100, Holds::All);
        p.postpone(1);
        p.postpone(2);
        p.forget(1);
        assert_eq!(p.postponed(), 1);
        p.stop();
        p.start(NOW, 100, Holds::All);
        p.postpone(3);
        p.stop();
        p.forget(2);
        assert_eq!(p.take_released(), [3]);
    }
}
