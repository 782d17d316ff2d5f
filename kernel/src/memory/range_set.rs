//! A fixed-capacity set of disjoint, sorted physical address ranges. The
//! kernel has no heap, so the capacity is a type parameter.

use core::fmt;

/// A half-open physical address range `[start, end)`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PhysRange {
    pub start: u64,
    pub end: u64,
}

impl PhysRange {
    pub const fn new(start: u64, end: u64) -> Self {
        Self { start, end }
    }

    pub const fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end)
    }
}

/// The set has no slot left for a range that an insertion or a split needs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RangeSetFull;

/// Disjoint, non-adjacent ranges kept in ascending order.
#[derive(Clone)]
pub struct RangeSet<const N: usize> {
    ranges: [PhysRange; N],
    len: usize,
}

impl<const N: usize> Default for RangeSet<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> RangeSet<N> {
    pub const fn new() -> Self {
        Self {
            ranges: [PhysRange::new(0, 0); N],
            len: 0,
        }
    }

    pub fn as_slice(&self) -> &[PhysRange] {
        &self.ranges[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Total bytes covered.
    pub fn total(&self) -> u64 {
        self.as_slice().iter().map(PhysRange::len).sum()
    }

    /// Adds `range`, merging it with every range it overlaps or touches.
    pub fn insert(&mut self, range: PhysRange) -> Result<(), RangeSetFull> {
        if range.is_empty() {
            return Ok(());
        }
        let mut merged = range;
        // First range that ends at or after our start: everything before it
        // lies strictly below and stays untouched.
        let first = self.as_slice().partition_point(|r| r.end < merged.start);
        let mut last = first;
        while last < self.len && self.ranges[last].start <= merged.end {
            merged.start = merged.start.min(self.ranges[last].start);
            merged.end = merged.end.max(self.ranges[last].end);
            last += 1;
        }
        let absorbed = last - first;
        if absorbed == 0 {
            if self.len == N {
                return Err(RangeSetFull);
            }
            self.ranges.copy_within(first..self.len, first + 1);
            self.len += 1;
        } else {
            self.ranges.copy_within(last..self.len, first + 1);
            self.len -= absorbed - 1;
        }
        self.ranges[first] = merged;
        Ok(())
    }

    /// Removes every address in `range`, splitting a range that contains it.
    pub fn remove(&mut self, range: PhysRange) -> Result<(), RangeSetFull> {
        if range.is_empty() {
            return Ok(());
        }
        let mut i = self.as_slice().partition_point(|r| r.end <= range.start);
        while i < self.len && self.ranges[i].start < range.end {
            let cur = self.ranges[i];
            let below = PhysRange::new(cur.start, range.start.max(cur.start).min(cur.end));
            let above = PhysRange::new(range.end.max(cur.start).min(cur.end), cur.end);
            match (below.is_empty(), above.is_empty()) {
                (true, true) => {
                    self.ranges.copy_within(i + 1..self.len, i);
                    self.len -= 1;
                }
                (false, true) => {
                    self.ranges[i] = below;
                    i += 1;
                }
                (true, false) => {
                    self.ranges[i] = above;
                    i += 1;
                }
                (false, false) => {
                    if self.len == N {
                        return Err(RangeSetFull);
                    }
                    self.ranges.copy_within(i + 1..self.len, i + 2);
                    self.len += 1;
                    self.ranges[i] = below;
                    self.ranges[i + 1] = above;
                    i += 2;
                }
            }
        }
        Ok(())
    }

    /// Takes `size` bytes aligned to `align` from the lowest range that has
    /// them, splitting off any alignment gap as a remaining free range.
    pub fn take(&mut self, size: u64, align: u64) -> Option<u64> {
        debug_assert!(align.is_power_of_two());
        let found = self.as_slice().iter().find_map(|r| {
            let start = r.start.checked_add(align - 1)? & !(align - 1);
            (start.checked_add(size)? <= r.end).then_some(start)
        })?;
        self.remove(PhysRange::new(found, found + size)).ok()?;
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(ranges: &[(u64, u64)]) -> RangeSet<8> {
        let mut s = RangeSet::new();
        for &(a, b) in ranges {
            s.insert(PhysRange::new(a, b)).unwrap();
        }
        s
    }

    fn pairs<const N: usize>(s: &RangeSet<N>) -> Vec<(u64, u64)> {
        s.as_slice().iter().map(|r| (r.start, r.end)).collect()
    }

    #[test]
    fn insert_keeps_order_and_merges_overlaps_and_neighbours() {
        let s = set(&[(100, 200), (0, 10), (300, 400)]);
        assert_eq!(pairs(&s), [(0, 10), (100, 200), (300, 400)]);
        let s = set(&[(100, 200), (300, 400), (150, 350)]);
        assert_eq!(pairs(&s), [(100, 400)]);
        let s = set(&[(100, 200), (200, 300)]);
        assert_eq!(pairs(&s), [(100, 300)]);
        let s = set(&[(0, 10), (20, 30), (40, 50), (5, 45)]);
        assert_eq!(pairs(&s), [(0, 50)]);
    }

    #[test]
    fn empty_ranges_are_ignored() {
        let s = set(&[(10, 10), (20, 5)]);
        assert!(s.is_empty());
    }

    #[test]
    fn remove_splits_trims_and_deletes() {
        let mut s = set(&[(0, 100), (200, 300)]);
        s.remove(PhysRange::new(40, 60)).unwrap();
        assert_eq!(pairs(&s), [(0, 40), (60, 100), (200, 300)]);
        s.remove(PhysRange::new(90, 250)).unwrap();
        assert_eq!(pairs(&s), [(0, 40), (60, 90), (250, 300)]);
        s.remove(PhysRange::new(0, 1000)).unwrap();
        assert!(s.is_empty());
    }

    #[test]
    fn full_set_reports_instead_of_dropping() {
        let mut s: RangeSet<2> = RangeSet::new();
        s.insert(PhysRange::new(0, 10)).unwrap();
        s.insert(PhysRange::new(20, 30)).unwrap();
        assert_eq!(s.insert(PhysRange::new(40, 50)), Err(RangeSetFull));
        assert_eq!(s.remove(PhysRange::new(2, 4)), Err(RangeSetFull));
        assert_eq!(s.total(), 20);
    }

    #[test]
    fn take_aligns_and_keeps_the_gap() {
        let mut s = set(&[(0x1000, 0x1_0000)]);
        assert_eq!(s.take(0x1000, 0x4000), Some(0x4000));
        assert_eq!(pairs(&s), [(0x1000, 0x4000), (0x5000, 0x1_0000)]);
        assert_eq!(s.take(0x1_0000, 0x1000), None);
    }

    /// Compares the set against a bitmap over a small address space for a
    /// long pseudo-random sequence of inserts and removes.
    #[test]
    fn matches_a_bitmap_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut s: RangeSet<64> = RangeSet::new();
        let mut model = [false; 256];
        for _ in 0..20_000 {
            let a = rand() % 256;
            let b = (a + rand() % 24).min(256);
            let r = PhysRange::new(a, b);
            let insert = rand() % 2 == 0;
            let result = if insert { s.insert(r) } else { s.remove(r) };
            if result.is_ok() {
                model[a as usize..b as usize].fill(insert);
            }
            let mut rebuilt = [false; 256];
            for x in s.as_slice() {
                rebuilt[x.start as usize..x.end as usize].fill(true);
            }
            assert_eq!(rebuilt, model);
            for w in s.as_slice().windows(2) {
                assert!(w[0].end < w[1].start, "ranges overlap or touch: {w:?}");
            }
        }
        assert_eq!(model.iter().filter(|&&m| m).count() as u64, s.total());
    }
}
