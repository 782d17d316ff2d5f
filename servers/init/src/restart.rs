//! When a failed component comes back: the arithmetic of a restart
//! [`Budget`] (at most `limit` restarts in any `window_s` seconds, then a
//! back-off or a stop), apart from the clock and the kernel so that it
//! tests on the host.

use alloc::collections::VecDeque;
use manifest::{Budget, Exhausted};

/// The first back-off delay, in milliseconds; it doubles with each
/// failure past the budget in a row, up to the window.
pub const FIRST_BACK_OFF_MS: u64 = 1000;

/// What to do with a component that just failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Start it again now.
    Now,
    /// Start it again after this many milliseconds.
    After(u64),
    /// Leave it stopped for good.
    Stop,
}

/// A component's restarts so far.
#[derive(Debug, Default)]
pub struct History {
    /// When the restarts of the last window were made (ms), oldest first.
    recent: VecDeque<u64>,
    /// Failures past the budget in a row.
    backed_off: u32,
}

impl History {
    /// Decides, at `now_ms`, what a failure brings under `budget`, and
    /// counts the restart it grants (at the time it will be made).
    pub fn failed(&mut self, budget: Budget, now_ms: u64) -> Decision {
        let window_ms = u64::from(budget.window_s) * 1000;
        while self
            .recent
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= window_ms)
        {
            self.recent.pop_front();
        }
        if self.recent.len() < budget.limit as usize {
            self.backed_off = 0;
            self.recent.push_back(now_ms);
            return Decision::Now;
        }
        match budget.exhausted {
            Exhausted::Stop => Decision::Stop,
            Exhausted::BackOff => {
                let doubled = FIRST_BACK_OFF_MS.saturating_mul(1 << self.backed_off.min(32));
                let delay = doubled.min(window_ms.max(FIRST_BACK_OFF_MS));
                self.backed_off = self.backed_off.saturating_add(1);
                self.recent.push_back(now_ms + delay);
                if self.recent.len() > budget.limit as usize {
                    self.recent.pop_front();
                }
                Decision::After(delay)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(limit: u32, window_s: u32, exhausted: Exhausted) -> Budget {
        Budget {
            limit,
            window_s,
            exhausted,
        }
    }

    #[test]
    fn within_the_budget_restarts_at_once() {
        let mut h = History::default();
        let b = budget(3, 60, Exhausted::Stop);
        for t in [0, 10, 20] {
            assert_eq!(h.failed(b, t), Decision::Now);
        }
        assert_eq!(h.failed(b, 30), Decision::Stop, "a fourth in the window");
        // A window later, the budget is back.
        let mut h = History::default();
        for t in [0, 10, 20] {
            h.failed(b, t);
        }
        assert_eq!(h.failed(b, 60_000), Decision::Now);
        assert_eq!(h.failed(b, 60_010), Decision::Now);
        assert_eq!(h.failed(b, 60_021), Decision::Now);
        assert_eq!(h.failed(b, 60_030), Decision::Stop);
    }

    #[test]
    fn past_the_budget_it_backs_off_doubling_up_to_the_window() {
        let mut h = History::default();
        let b = budget(2, 10, Exhausted::BackOff);
        let mut now = 0;
        assert_eq!(h.failed(b, now), Decision::Now);
        assert_eq!(h.failed(b, now), Decision::Now);
        let mut delays = alloc::vec::Vec::new();
        // It fails at once each time it comes back.
        while let Decision::After(d) = h.failed(b, now) {
            delays.push(d);
            now += d;
        }
        assert_eq!(delays, [1000, 2000, 4000, 8000, 10_000]);
        // Delays as long as the window let it slide: never more than the
        // limit in any window.
        assert_eq!(now, 25_000);
        // Quiet for a whole window: at once again, and the back-off starts
        // over.
        now += 20_000;
        assert_eq!(h.failed(b, now), Decision::Now);
        assert_eq!(h.failed(b, now + 1), Decision::Now);
        assert_eq!(h.failed(b, now + 2), Decision::After(1000));
    }

    #[test]
    fn it_comes_back_every_time() {
        // Ten failures in a row under a tight budget: every one restarts.
        let mut h = History::default();
        let b = budget(3, 1, Exhausted::BackOff);
        let mut now = 0;
        for _ in 0..10 {
            match h.failed(b, now) {
                Decision::Now => now += 50,
                Decision::After(d) => now += d + 50,
                Decision::Stop => panic!("stopped"),
            }
        }
        assert!(now < 10_000, "{now} ms for ten");
    }
}
