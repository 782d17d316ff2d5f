//! The sorted-set value: a member → score map plus an ordered index.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::dict::Dict;
use crate::hash::SeededState;
use crate::ostree::OsTree;

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

/// A sorted set: O(1) member lookups and random picks, O(log n) inserts,
/// removals and ranks, ordered iteration by (score, member) from any rank
/// or score, and scans of O(COUNT) ([`Dict`]).
#[derive(Clone, Debug)]
pub(crate) struct ZSet {
    scores: Dict<Vec<u8>, f64>,
    order: OsTree<(Score, Vec<u8>)>,
}

impl ZSet {
    pub(crate) fn new(state: SeededState) -> ZSet {
        ZSet {
            scores: Dict::with_hasher(state),
            order: OsTree::default(),
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
                    let mut key = (Score(*old), member.to_vec());
                    self.order.remove(&key);
                    key.0 = Score(score);
                    self.order.insert(key);
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
        self.by_rank(0, self.len())
    }

    /// Members of ranks `start..end` (ascending; O(log n) to the first).
    pub(crate) fn by_rank(
        &self,
        start: usize,
        end: usize,
    ) -> impl DoubleEndedIterator<Item = (&[u8], f64)> + '_ {
        self.order
            .range(start, end)
            .map(|(s, m)| (m.as_slice(), s.0))
    }

    /// How many members come first, in ascending order, for which
    /// `before(member, score)` holds: it must hold for a prefix and for
    /// none after it (O(log n)).
    pub(crate) fn count_while(&self, before: impl Fn(&[u8], f64) -> bool) -> usize {
        self.order.count_while(|(s, m)| before(m, s.0))
    }

    /// Members from the first whose score is `>= min` (ascending).
    pub(crate) fn iter_from(&self, min: f64) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        let start = self.order.count_while(|(s, _)| *s < Score(min));
        self.by_rank(start, self.len())
    }

    /// The 0-based rank of `member` in ascending order (O(log n)).
    pub(crate) fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = Score(self.score(member)?);
        Some(
            self.order
                .count_while(|(s, m)| (*s, m.as_slice()) < (score, member)),
        )
    }

    /// Removes and returns the lowest (`max == false`) or highest entry.
    pub(crate) fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let rank = if max { self.len().checked_sub(1)? } else { 0 };
        let (score, member) = self.order.get(rank)?.clone();
        self.order.remove(&(score, member.clone()));
        self.scores.remove(&member);
        Some((member, score.0))
    }

    /// Every member with its score, in the order they were added.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&Vec<u8>, &f64)> + '_ {
        self.scores.iter()
    }

    /// The members and scores, for random picks and scans.
    pub(crate) fn members(&self) -> &Dict<Vec<u8>, f64> {
        &self.scores
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
        // Ranks by binary search: before score 2, up to score 2.
        assert_eq!(s.count_while(|_, sc| sc < 2.0), 1);
        assert_eq!(s.count_while(|_, sc| sc <= 2.0), 3);
        assert_eq!(s.count_while(|m, _| m < b"c".as_slice()), 2);
    }
}
