//! Order statistics of a run of samples, without a heap: the samples are
//! sorted in place (`sort_unstable` is in `core`) and read by nearest rank.

use core::fmt;

/// What a benchmark line reports about its samples.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Summary {
    pub n: usize,
    pub min: u32,
    pub median: u32,
    pub p99: u32,
    pub max: u32,
}

/// The `p`-th percentile (0 < p <= 100) of sorted `samples` by nearest
/// rank: the smallest sample with at least `p` % of the samples at or
/// below it.
fn percentile(sorted: &[u32], p: usize) -> u32 {
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

/// Sorts `samples` and summarises them; `None` when there are none.
pub fn summarize(samples: &mut [u32]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    Some(Summary {
        n: samples.len(),
        min: samples[0],
        median: percentile(samples, 50),
        p99: percentile(samples, 99),
        max: samples[samples.len() - 1],
    })
}

/// The fields of a `bench:` line, in the order `cargo xtask bench` reads
/// them: `median=… p99=… min=… max=… n=…`.
impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median={} p99={} min={} max={} n={}",
            self.median, self.p99, self.min, self.max, self.n
        )
    }
}

/// A sample from two time-stamp counter readings: the difference, or
/// `u32::MAX` if it does not fit (or the counter went backwards).
pub fn sample(start: u64, end: u64) -> u32 {
    end.checked_sub(start)
        .and_then(|d| u32::try_from(d).ok())
        .unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

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
                max: 100
            }
        );
    }

    #[test]
    fn p99_of_100000_samples_sees_the_slowest_percent() {
        // 98,999 fast samples and 1,001 slow ones: the 99,000th is slow.
        let mut s = vec![10u32; 98_999];
        s.extend(std::iter::repeat_n(500, 1_001));
        let sum = summarize(&mut s).unwrap();
        assert_eq!((sum.median, sum.p99), (10, 500));
        // One slow sample fewer and the 99th percentile is fast again.
        let mut s = vec![10u32; 99_000];
        s.extend(std::iter::repeat_n(500, 1_000));
        assert_eq!(summarize(&mut s).unwrap().p99, 10);
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
                max: 7
            }
        );
        assert_eq!(summarize(&mut []), None);
    }

    #[test]
    fn the_line_format_is_stable() {
        let sum = summarize(&mut [3, 1, 2]).unwrap();
        assert_eq!(sum.to_string(), "median=2 p99=3 min=1 max=3 n=3");
    }

    #[test]
    fn samples_saturate_instead_of_wrapping() {
        assert_eq!(sample(100, 350), 250);
        assert_eq!(sample(350, 100), u32::MAX);
        assert_eq!(sample(0, 1 << 40), u32::MAX);
    }
}
