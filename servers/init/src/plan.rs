//! The arithmetic of building a component: how much memory it needs, so
//! that init can carve one untyped region per component (revoking that
//! region is how a component is torn down for a restart).

/// Bytes of a page.
pub const PAGE: u64 = 4096;
/// Bytes of a large page: a big heap is mapped in these.
pub const LARGE_PAGE: u64 = 2 << 20;

/// Radix of the CNode where init keeps the capabilities of a component's
/// own objects (frames, page tables): it dies with the component.
pub const BOOKKEEPING_BITS: u8 = 12;

/// Memory a component needs, before rounding: its CNode, bookkeeping
/// CNode, TCB, VSpace, IPC buffer and start-info page, the pages of its
/// image, stack and heap, and one page table per 2 MiB of what it maps
/// plus the upper levels.
pub fn component_bytes(image_pages: u64, stack_bytes: u64, heap_bytes: u64, cnode_bits: u8) -> u64 {
    let pages = |bytes: u64| bytes.div_ceil(PAGE);
    let mapped_pages = image_pages + pages(stack_bytes) + pages(heap_bytes) + 2;
    // A PT per 512 pages of each of the (at most five) separate areas, and
    // a PD and a PDPT for each area.
    let tables = mapped_pages.div_ceil(512) + 5 * 3;
    let objects = (64u64 << cnode_bits) + (64u64 << BOOKKEEPING_BITS) + 2048 + PAGE;
    objects + (mapped_pages + tables) * PAGE
}

/// The size (as a power of two, at least a page) of the untyped region
/// that holds `bytes` of objects, with room for their alignment.
pub fn untyped_bits(bytes: u64) -> u8 {
    // Objects of different sizes leave alignment gaps; doubling covers them.
    let bits = 64 - (bytes.max(PAGE) * 2 - 1).leading_zeros();
    bits as u8
}

/// Page count of the ELF segments `[start, end)` ranges, counted per page.
pub fn image_pages(segments: impl Iterator<Item = (u64, u64)>) -> u64 {
    segments
        .map(|(start, end)| end.div_ceil(PAGE) - start / PAGE)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untyped_covers_the_objects_with_room_to_align() {
        assert_eq!(untyped_bits(1), 13);
        assert_eq!(untyped_bits(4096), 13);
        assert_eq!(untyped_bits(4097), 14);
        assert_eq!(untyped_bits(1 << 20), 21);
        for bytes in [5000u64, 100_000, 3 << 20] {
            assert!(1u64 << untyped_bits(bytes) >= 2 * bytes);
        }
    }

    #[test]
    fn a_component_needs_its_pages_and_objects() {
        let small = component_bytes(10, 16 << 10, 64 << 10, 8);
        assert!(small >= (10 + 4 + 16 + 2) * PAGE + (64 << 12));
        let big = component_bytes(10, 16 << 10, 8 << 20, 8);
        assert!(big > small + (8 << 20) - (64 << 10));
    }

    #[test]
    fn image_pages_count_partial_pages() {
        assert_eq!(
            image_pages([(0x40_0000, 0x40_0001), (0x40_1000, 0x40_3001)].into_iter()),
            1 + 3
        );
    }
}
