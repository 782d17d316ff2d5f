//! Physical memory bookkeeping that does not depend on the architecture:
//! the firmware's memory map, the set of free ranges derived from it, and the
//! boot-time frame allocator, and how new objects' memory is zeroed. All
//! of it is tested on the host.

mod frames;
mod map;
mod range_set;
mod zero;

pub use frames::{FrameAllocator, OutOfFrames};
pub use map::{FreeMemory, MemoryMapError, Region, RegionKind};
pub use range_set::{PhysRange, RangeSet, RangeSetFull};
pub use zero::zero;

/// User addresses are below this: the lower canonical half of the 48-bit
/// address space.
pub const USER_TOP: u64 = 0x0000_8000_0000_0000;

/// Nothing is ever mapped in the last page below [`USER_TOP`]. A `syscall`
/// in the last two bytes of the user half would leave a non-canonical
/// return address in RCX, and on Intel CPUs `sysretq` raises #GP for that
/// in ring 0, before the switch to user mode: the kernel would fault.
/// Without a page there, no instruction can end at `USER_TOP`.
pub const USER_MAP_TOP: u64 = USER_TOP - PAGE_SIZE;

/// Size of the smallest page and of every frame the allocator hands out.
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `addr` down to a page boundary.
pub const fn page_floor(addr: u64) -> u64 {
    addr & !(PAGE_SIZE - 1)
}

/// Rounds `addr` up to a page boundary, saturating at the last page.
pub const fn page_ceil(addr: u64) -> u64 {
    match addr.checked_add(PAGE_SIZE - 1) {
        Some(a) => a & !(PAGE_SIZE - 1),
        None => page_floor(u64::MAX),
    }
}
