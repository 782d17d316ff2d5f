//! The boot-time frame allocator. The kernel uses it only while it builds its
//! own page tables and boot structures; what remains is handed to the root
//! task as untyped memory, so a bump allocator over the free ranges is enough.

use super::{PAGE_SIZE, PhysRange, RangeSet};

/// No free range can hold the requested frame.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OutOfFrames;

pub struct FrameAllocator<const N: usize> {
    free: RangeSet<N>,
    handed_out: u64,
}

impl<const N: usize> FrameAllocator<N> {
    pub fn new(free: RangeSet<N>) -> Self {
        Self {
            free,
            handed_out: 0,
        }
    }

    /// One 4 KiB frame, from the lowest free address.
    pub fn allocate(&mut self) -> Result<u64, OutOfFrames> {
        self.allocate_aligned(PAGE_SIZE, PAGE_SIZE)
    }

    /// `size` bytes (a multiple of the page size) aligned to `align`.
    pub fn allocate_aligned(&mut self, size: u64, align: u64) -> Result<u64, OutOfFrames> {
        debug_assert!(size.is_multiple_of(PAGE_SIZE) && align >= PAGE_SIZE);
        let addr = self.free.take(size, align).ok_or(OutOfFrames)?;
        self.handed_out += size;
        Ok(addr)
    }

    /// Memory still free, in ascending order.
    pub fn free_ranges(&self) -> &[PhysRange] {
        self.free.as_slice()
    }

    /// Bytes handed out so far.
    pub fn handed_out(&self) -> u64 {
        self.handed_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allocator(ranges: &[(u64, u64)]) -> FrameAllocator<8> {
        let mut set = RangeSet::new();
        for &(a, b) in ranges {
            set.insert(PhysRange::new(a, b)).unwrap();
        }
        FrameAllocator::new(set)
    }

    #[test]
    fn frames_come_lowest_first_and_never_twice() {
        let mut a = allocator(&[(0x10_0000, 0x10_3000), (0x20_0000, 0x20_1000)]);
        let got: Vec<u64> = (0..4).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(got, [0x10_0000, 0x10_1000, 0x10_2000, 0x20_0000]);
        assert_eq!(a.allocate(), Err(OutOfFrames));
        assert_eq!(a.handed_out(), 4 * PAGE_SIZE);
        assert!(a.free_ranges().is_empty());
    }

    #[test]
    fn aligned_blocks_skip_to_an_aligned_start() {
        let mut a = allocator(&[(0x1000, 0x40_0000)]);
        assert_eq!(a.allocate_aligned(0x20_0000, 0x20_0000), Ok(0x20_0000));
        assert_eq!(a.allocate(), Ok(0x1000));
        assert_eq!(a.allocate_aligned(0x20_0000, 0x20_0000), Err(OutOfFrames));
        assert_eq!(
            a.free_ranges(),
            [PhysRange::new(0x2000, 0x20_0000)],
            "the gap below the aligned block stays free"
        );
    }
}
