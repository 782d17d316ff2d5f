//! The arithmetic of building a component: how much memory it needs, so
//! that init can carve its own untyped memory (revoking it is how a
//! component is torn down for a restart): one block for its objects, and
//! blocks that hold nothing but its heap's 2 MiB frames.

/// Bytes of a page.
pub const PAGE: u64 = 4096;
/// Bytes of a large page: a big heap is mapped in these.
pub const LARGE_PAGE: u64 = 1 << LARGE_PAGE_BITS;
/// [`LARGE_PAGE`] as a power of two.
pub const LARGE_PAGE_BITS: u8 = 21;

/// Radix of the CNode where init keeps the capabilities of a component's
/// own objects (frames, page tables): it dies with the component.
pub const BOOKKEEPING_BITS: u8 = 12;

/// How init maps a heap of `heap_bytes`: 2 MiB frames as far as it
/// goes, and the bytes left, in 4 KiB frames.
pub fn heap_split(heap_bytes: u64) -> (u64, u64) {
    (heap_bytes / LARGE_PAGE, heap_bytes % LARGE_PAGE)
}

/// The page-fault error code's bits that [`heap_page`] reads.
mod fault_code {
    /// The page was present: a protection fault, not a missing page.
    pub const PRESENT: u64 = 1 << 0;
    /// The access came from user mode.
    pub const USER: u64 = 1 << 2;
    /// A reserved bit was set in a paging entry.
    pub const RESERVED: u64 = 1 << 3;
}

/// Which of a heap's large frames a page fault asks for, if init should
/// map it and let the thread retry: the heap's 2 MiB frames are made and
/// mapped when first touched, not at start (zeroing a share of the machine
/// up front was most of a boot). That is a user-mode access to a page that
/// is not present, at `address` inside the `large` frames from
/// `heap_base`. Anything else (a protection fault, an address outside,
/// a malformed code) is the component's fault as before.
pub fn heap_page(heap_base: u64, large: u64, address: u64, code: u64) -> Option<u64> {
    let wanted = code & (fault_code::PRESENT | fault_code::USER | fault_code::RESERVED);
    if wanted != fault_code::USER {
        return None;
    }
    let index = address.checked_sub(heap_base)? / LARGE_PAGE;
    (index < large).then_some(index)
}

/// `percent` of `count` large frames, rounded down (a share of the
/// machine; see `manifest::Heap::Share`).
pub fn share_of(count: u64, percent: u8) -> u64 {
    (u128::from(count) * u128::from(percent.min(100)) / 100) as u64
}

/// Memory a component's objects need, before rounding: its CNode,
/// bookkeeping CNode, TCB, VSpace, IPC buffer and start-info page, the
/// pages of its image, stack and the small part of its heap (see
/// [`heap_split`]), one page table per 2 MiB of what it maps in pages, a
/// page directory per GiB of large frames, and the upper levels. The
/// large frames come from blocks of their own.
pub fn component_bytes(image_pages: u64, stack_bytes: u64, heap_bytes: u64, cnode_bits: u8) -> u64 {
    let pages = |bytes: u64| bytes.div_ceil(PAGE);
    let (large, small) = heap_split(heap_bytes);
    let mapped_pages = image_pages + pages(stack_bytes) + pages(small) + 2;
    // A PT per 512 pages of each of the (at most five) separate areas, a
    // PD per 512 large frames, and a PD and a PDPT for each area.
    let tables = mapped_pages.div_ceil(512) + large.div_ceil(512) + 5 * 3;
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
    fn a_share_is_rounded_down_and_never_more_than_all() {
        assert_eq!(share_of(450, 90), 405);
        assert_eq!(share_of(3, 50), 1);
        assert_eq!(share_of(7, 100), 7);
        assert_eq!(share_of(7, 200), 7);
        assert_eq!(share_of(u64::MAX, 100), u64::MAX);
    }

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
        // Whole 2 MiB of heap come from blocks of their own: only the
        // tables that map them count here.
        let big = component_bytes(10, 16 << 10, (8 << 20) + (64 << 10), 8);
        assert!(big > small && big < small + 4 * PAGE, "{big} vs {small}");
        assert_eq!(heap_split((8 << 20) + (64 << 10)), (4, 64 << 10));
        let huge = component_bytes(10, 16 << 10, 3 << 30, 8);
        assert!(
            huge >= small - (64 << 10) + 2 * PAGE,
            "a PD per GiB of large frames"
        );
    }

    #[test]
    fn only_a_missing_heap_page_touched_from_user_mode_is_mapped() {
        let base = 0x1000_0000_0000;
        let user_read = fault_code::USER;
        let user_write = fault_code::USER | 2;
        let user_fetch = fault_code::USER | 16;
        assert_eq!(heap_page(base, 3, base, user_read), Some(0));
        assert_eq!(
            heap_page(base, 3, base + LARGE_PAGE - 1, user_write),
            Some(0)
        );
        assert_eq!(heap_page(base, 3, base + LARGE_PAGE, user_write), Some(1));
        assert_eq!(
            heap_page(base, 3, base + 3 * LARGE_PAGE - 8, user_fetch),
            Some(2)
        );
        // Outside the large frames: below, past the end (the small tail
        // is mapped at start), and addresses that would wrap.
        assert_eq!(heap_page(base, 3, base - 1, user_write), None);
        assert_eq!(heap_page(base, 3, base + 3 * LARGE_PAGE, user_write), None);
        assert_eq!(heap_page(base, 3, u64::MAX, user_write), None);
        assert_eq!(heap_page(base, 3, 0, user_write), None);
        assert_eq!(heap_page(base, 0, base, user_write), None);
        // A protection fault (present page), a kernel-mode or
        // reserved-bit fault are not missing pages.
        assert_eq!(
            heap_page(base, 3, base, user_write | fault_code::PRESENT),
            None
        );
        assert_eq!(heap_page(base, 3, base, 2), None);
        assert_eq!(
            heap_page(base, 3, base, user_read | fault_code::RESERVED),
            None
        );
    }

    #[test]
    fn image_pages_count_partial_pages() {
        assert_eq!(
            image_pages([(0x40_0000, 0x40_0001), (0x40_1000, 0x40_3001)].into_iter()),
            1 + 3
        );
    }
}
