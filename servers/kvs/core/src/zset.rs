//! The sorted-set value: a member → score map plus an ordered index.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::ops::Bound;

use crate::hash::{Map, SeededState};

/// A score in the ordered index. Never NaN, so ordering is total; `-0` and
/// `0` compare equal (as in Redis, where ties then order by member).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Score(pub f64);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Score {}
impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Score {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.partial_cmp(&other.0).unwrap_or(Ordering::Equal)
    }
}

/// A sorted set: O(1) member lookups, O(log n) inserts and removals,
/// ordered iteration by (score, member). Rank queries walk the index (O(n)).
#[derive(Clone, Debug)]
pub(crate) struct ZSet {
    scores: Map<Vec<u8>, f64>,
    order: BTreeSet<(Score, Vec<u8>)>,
}

impl ZSet {
    pub(crate) fn new(state: SeededState) -> ZSet {
        ZSet {
            scores: Map::with_hasher(state),
            order: BTreeSet::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.scores.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    /// Sets `member`'s score; returns whether the member is new.
    pub(crate) fn insert(&mut self, member: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan());
        match self.scores.get_mut(member) {
            Some(old) => {
                if old.to_bits() != score.to_bits() {
                    self.order.remove(&(Score(*old), member.to_vec()));
                    self.order.insert((Score(score), member.to_vec()));
                    *old = score;
                }
                false
            }
            None => {
                self.scores.insert(member.to_vec(), score);
                self.order.insert((Score(score), member.to_vec()));
                true
            }
        }
    }

    /// Removes `member`; returns whether it was there.
    pub(crate) fn remove(&mut self, member: &[u8]) -> bool {
        match self.scores.remove(member) {
            Some(s) => {
                self.order.remove(&(Score(s), member.to_vec()));
                true
            }
            None => false,
        }
    }

    /// Members in ascending (score, member) order.
    pub(crate) fn iter(&self) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.order.iter().map(|(s, m)| (m.as_slice(), s.0))
    }

    /// Members from the first whose score is `>= min` (ascending).
    pub(crate) fn iter_from(&self, min: f64) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.order
            .range((Bound::Included((Score(min), Vec::new())), Bound::Unbounded))
            .map(|(s, m)| (m.as_slice(), s.0))
    }

    /// Members with score `<= max`, descending.
    pub(crate) fn iter_rev_to(&self, max: f64) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        // Everything with score < max, then the ties at max (any member).
        let below = self
            .order
            .range((Bound::Unbounded, Bound::Excluded((Score(max), Vec::new()))));
        let ties = self
            .order
            .range((Bound::Included((Score(max), Vec::new())), Bound::Unbounded))
            .take_while(move |(s, _)| s.0 <= max)
            .collect::<Vec<_>>();
        ties.into_iter()
            .rev()
            .chain(below.rev())
            .map(|(s, m)| (m.as_slice(), s.0))
    }

    /// The 0-based rank of `member` in ascending order (O(n)).
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let key = (Score(score), member.to_vec());
        Some(self.order.range(..key).count())
    }

    /// Removes and returns the lowest (`max == false`) or highest entry.
    pub(crate) fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let (s, m) = if max {
            self.order.pop_last()?
        } else {
            self.order.pop_first()?
        };
        self.scores.remove(&m);
        Some((m, s.0))
    }

    /// Every member with its score, in hash-map order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &f64)> + '_ {
        self.scores.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn z() -> ZSet {
        ZSet::new(SeededState::new(1))
    }

    #[test]
    fn ordered_by_score_then_member() {
        let mut s = z();
        assert!(s.insert(b"b", 1.0));
        assert!(s.insert(b"a", 1.0));
        assert!(s.insert(b"c", 0.5));
        assert!(!s.insert(b"c", 2.0));
        let v: Vec<_> = s.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(v, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(s.rank(b"c"), Some(2));
        assert_eq!(s.rank(b"zz"), None);
        assert!(s.remove(b"a"));
        assert!(!s.remove(b"a"));
        assert_eq!(s.len(), 2);
        assert_eq!(s.pop(true), Some((b"c".to_vec(), 2.0)));
        assert_eq!(s.pop(false), Some((b"b".to_vec(), 1.0)));
        assert!(s.is_empty());
    }

    #[test]
    fn negative_zero_ties_with_zero() {
        let mut s = z();
        s.insert(b"b", 0.0);
        s.insert(b"a", -0.0);
        let v: Vec<_> = s.iter().map(|(m, _)| m.to_vec()).collect();
        assert_eq!(v, [b"a".to_vec(), b"b".to_vec()]);
        assert!(s.score(b"a").unwrap().is_sign_negative());
        s.insert(b"a", 0.0);
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().count(), 2);
    }

    #[test]
    fn ranges_from_and_to() {
        let mut s = z();
        for (m, sc) in [(b"a", 1.0), (b"b", 2.0), (b"c", 2.0), (b"d", 3.0)] {
            s.insert(m, sc);
        }
        let up: Vec<_> = s.iter_from(2.0).map(|(m, _)| m[0]).collect();
        assert_eq!(up, b"bcd");
        let down: Vec<_> = s.iter_rev_to(2.0).map(|(m, _)| m[0]).collect();
        assert_eq!(down, b"cba");
        let down: Vec<_> = s.iter_rev_to(f64::INFINITY).map(|(m, _)| m[0]).collect();
        assert_eq!(down, b"dcba");
    }
}
