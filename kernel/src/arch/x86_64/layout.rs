//! The kernel's virtual address layout.
//!
//! ```text
//! 0xFFFF_8000_0000_0000  direct map of physical memory (RW, NX)
//! 0xFFFF_FF00_0000_0000  device window: MMIO mapped uncached (RW, NX)
//! 0xFFFF_FFFF_8000_0000  kernel image (text RX, rodata R, data RW NX)
//! ```

use crate::memory::PhysRange;

/// Where the direct map of all physical memory starts.
pub const PHYS_OFFSET: u64 = 0xFFFF_8000_0000_0000;
/// Where device registers are mapped, uncached.
pub const DEVICE_WINDOW: u64 = 0xFFFF_FF00_0000_0000;
/// Virtual minus physical address of the kernel image (see `linker.ld`).
pub const KERNEL_VIRT_OFFSET: u64 = 0xFFFF_FFFF_8000_0000;

/// The direct-map address of physical address `phys`.
pub const fn phys_to_virt(phys: u64) -> u64 {
    PHYS_OFFSET + phys
}

/// The permission class of a kernel image section.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SectionKind {
    Text,
    ReadOnly,
    ReadWrite,
}

/// A page-aligned kernel image section, by virtual address.
#[derive(Clone, Copy, Debug)]
pub struct Section {
    pub start: u64,
    pub end: u64,
    pub kind: SectionKind,
}

unsafe extern "C" {
    static __kernel_phys_start: u8;
    static __kernel_phys_end: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __data_end: u8;
}

fn addr(symbol: &u8) -> u64 {
    symbol as *const u8 as u64
}

/// The physical memory the kernel image occupies, boot code included.
pub fn kernel_image() -> PhysRange {
    // SAFETY: the linker script defines these symbols; only their addresses
    // are taken, nothing is read through them.
    unsafe { PhysRange::new(addr(&__kernel_phys_start), addr(&__kernel_phys_end)) }
}

/// The higher-half sections, in address order.
pub fn kernel_sections() -> [Section; 3] {
    // SAFETY: as in `kernel_image`.
    unsafe {
        [
            Section {
                start: addr(&__text_start),
                end: addr(&__text_end),
                kind: SectionKind::Text,
            },
            Section {
                start: addr(&__rodata_start),
                end: addr(&__rodata_end),
                kind: SectionKind::ReadOnly,
            },
            Section {
                start: addr(&__data_start),
                end: addr(&__data_end),
                kind: SectionKind::ReadWrite,
            },
        ]
    }
}
