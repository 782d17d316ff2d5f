//! What benchmark programs share: reading the time-stamp counter, running
//! a warm-up and then timed rounds into a buffer of samples, and the order
//! statistics of a `bench:` line, which `cargo xtask bench` reads.
//!
//! ```
//! use libcap::bench::{measure, summarize};
//! let mut samples = [0u32; 100];
//! let mut round = 0;
//! let summary = measure(&mut samples, 10, |_timed| -> Result<u64, ()> {
//!     round += 1;
//!     Ok(round)
//! })
//! .unwrap();
//! // The warm-up's 10 rounds are not in the samples.
//! assert_eq!((summary.min, summary.max, summary.n), (11, 110, 100));
//! assert_eq!(summary.to_string(), "median=60 p99=109 min=11 max=110 n=100 mean=60");
//! ```
//!
//! Nothing here needs a heap: the caller owns the samples, and they are
//! sorted in place (`sort_unstable` is in `core`).

use core::fmt;

/// What a benchmark line reports about its samples.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Summary {
    /// How many samples.
    pub n: usize,
    /// The smallest.
    pub min: u32,
    /// The 50th percentile by nearest rank.
    pub median: u32,
    /// The 99th percentile by nearest rank.
    pub p99: u32,
    /// The largest.
    pub max: u32,
    /// Their sum divided by `n`, rounded down: with `n`, what throughput
    /// is computed from, since it counts the rare slow rounds the median
    /// hides.
    pub mean: u64,
}

/// The `p`-th percentile (0 < p <= 100) of sorted `samples` by nearest
/// rank: the smallest sample with at least `p` % of the samples at or
/// below it.
fn percentile(sorted: &[u32], p: usize) -> u32 {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Sorts `samples` and summarises them; `None` when there are none.
///
/// ```
/// let s = libcap::bench::summarize(&mut [30, 10, 20]).unwrap();
/// assert_eq!((s.min, s.median, s.max, s.mean), (10, 20, 30, 20));
/// assert_eq!(libcap::bench::summarize(&mut []), None);
/// ```
pub fn summarize(samples: &mut [u32]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let sum: u64 = samples.iter().map(|&s| u64::from(s)).sum();
    Some(Summary {
        n: samples.len(),
        min: samples[0],
        median: percentile(samples, 50),
        p99: percentile(samples, 99),
        max: samples[samples.len() - 1],
        mean: sum / samples.len() as u64,
    })
}

/// The fields of a `bench:` line, in the order `cargo xtask bench` reads
/// them: `median=… p99=… min=… max=… n=… mean=…`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median={} p99={} min={} max={} n={} mean={}",
            self.median, self.p99, self.min, self.max, self.n, self.mean
        )
    }
}

/// A sample from two time-stamp counter readings: the difference, or
/// `u32::MAX` if it does not fit (or the counter went backwards).
///
/// ```
/// assert_eq!(libcap::bench::sample(100, 350), 250);
/// assert_eq!(libcap::bench::sample(350, 100), u32::MAX);
/// ```
pub fn sample(start: u64, end: u64) -> u32 {
    end.checked_sub(start)
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(u32::MAX)
}

/// Runs `one` `warmup` times, then once per sample, storing what it
/// returns (the ticks of one round, saturated to `u32`), and summarises the
/// samples; stops at the first error. `one`'s argument says whether the
/// round is timed (false during the warm-up).
///
/// Panics if `samples` is empty.
pub fn measure<E>(
    samples: &mut [u32],
    warmup: usize,
    mut one: impl FnMut(bool) -> Result<u64, E>,
) -> Result<Summary, E> {
    for _ in 0..warmup {
        one(false)?;
    }
    for s in samples.iter_mut() {
        *s = sample(0, one(true)?);
    }
    Ok(summarize(samples).expect("at least one sample"))
}

/// The time-stamp counter, read as `lfence; rdtsc; lfence`: the first
/// fence keeps the reading from running before the instructions ahead of
/// it have finished, the second keeps those after it from starting early.
/// Under QEMU with `-icount shift=0` one tick is one guest instruction.
/// (0 on other architectures, so that portable code using it builds.)
///
/// ```
/// let (a, b) = (libcap::bench::tsc(), libcap::bench::tsc());
/// assert!(b >= a);
/// ```
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_mm_lfence, _rdtsc};
        // SAFETY: `lfence` and `rdtsc` only order instructions and read a
        // counter that user mode may read (the kernel leaves CR4.TSD
        // clear; on a host the operating system does).
        unsafe {
            _mm_lfence();
            let t = _rdtsc();
            _mm_lfence();
            t
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn nearest_rank_median_and_p99_of_1_to_100() {
        let mut s: Vec<u32> = (1..=100).rev().collect();
        let sum = summarize(&mut s).unwrap();
        assert_eq!(
            sum,
            Summary {
                n: 100,
                min: 1,
                median: 50,
                p99: 99,
                max: 100,
                mean: 50,
            }
        );
    }

    #[test]
    fn p99_of_100000_samples_sees_the_slowest_percent() {
        // 98,999 fast samples and 1,001 slow ones: the 99,000th is slow.
        let mut s = vec![10u32; 98_999];
        s.extend(core::iter::repeat_n(500, 1_001));
        let sum = summarize(&mut s).unwrap();
        assert_eq!((sum.median, sum.p99), (10, 500));
        // One slow sample fewer and the 99th percentile is fast again.
        let mut s = vec![10u32; 99_000];
        s.extend(core::iter::repeat_n(500, 1_000));
        let sum = summarize(&mut s).unwrap();
        assert_eq!(sum.p99, 10);
        // The mean sees the slow ones: (99,000 * 10 + 1,000 * 500) / 100,000.
        assert_eq!(sum.mean, 14);
    }

    #[test]
    fn one_sample_is_every_statistic_and_none_is_nothing() {
        assert_eq!(
            summarize(&mut [7]).unwrap(),
            Summary {
                n: 1,
                min: 7,
                median: 7,
                p99: 7,
                max: 7,
                mean: 7,
            }
        );
        assert_eq!(summarize(&mut []), None);
    }

    #[test]
    fn the_mean_of_large_samples_does_not_overflow() {
        let sum = summarize(&mut [u32::MAX; 4]).unwrap();
        assert_eq!(sum.mean, u64::from(u32::MAX));
    }

    #[test]
    fn the_line_format_is_stable() {
        let sum = summarize(&mut [3, 1, 2]).unwrap();
        assert_eq!(sum.to_string(), "median=2 p99=3 min=1 max=3 n=3 mean=2");
    }

    #[test]
    fn samples_saturate_instead_of_wrapping() {
        assert_eq!(sample(100, 350), 250);
        assert_eq!(sample(350, 100), u32::MAX);
        assert_eq!(sample(0, 1 << 40), u32::MAX);
    }

    #[test]
    fn measure_warms_up_untimed_and_stops_at_the_first_error() {
        let mut samples = [0u32; 5];
        let mut timed = Vec::new();
        let sum = measure(&mut samples, 3, |t| -> Result<u64, ()> {
            timed.push(t);
            Ok(4)
        })
        .unwrap();
        assert_eq!(timed, [false, false, false, true, true, true, true, true]);
        assert_eq!((sum.n, sum.median), (5, 4));
        let mut rounds = 0;
        let e = measure(&mut samples, 2, |_| {
            rounds += 1;
            if rounds == 4 { Err("fourth") } else { Ok(1) }
        });
        assert_eq!((e, rounds), (Err("fourth"), 4));
    }
}
