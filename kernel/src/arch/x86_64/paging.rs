//! The kernel's page tables: built once at boot from the frame allocator,
//! replacing the entry code's temporary 4 GiB mapping.
//!
//! Every mapping is either executable or writable, never both; everything
//! but kernel text is NX; the page under each kernel stack stays unmapped.

use super::layout::{DEVICE_WINDOW, PHYS_OFFSET, Section, SectionKind, phys_to_virt};
use crate::memory::{FrameAllocator, OutOfFrames, PAGE_SIZE, PhysRange};
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{PageTable, PageTableFlags as F, PhysFrame};

const LARGE_PAGE: u64 = 2 << 20;

/// Why a mapping could not be made.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MapError {
    OutOfFrames,
    /// Something is already mapped at the address.
    AlreadyMapped(u64),
    /// The device window is used up.
    DeviceWindowFull,
}

impl From<OutOfFrames> for MapError {
    fn from(_: OutOfFrames) -> Self {
        Self::OutOfFrames
    }
}

/// Access rights of a kernel mapping.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Access {
    ReadExecute,
    Read,
    ReadWrite,
    /// Read-write, uncached: device registers.
    Device,
}

impl Access {
    fn flags(self) -> F {
        let base = F::PRESENT | F::GLOBAL;
        match self {
            Self::ReadExecute => base,
            Self::Read => base | F::NO_EXECUTE,
            Self::ReadWrite => base | F::WRITABLE | F::NO_EXECUTE,
            Self::Device => base | F::WRITABLE | F::NO_EXECUTE | F::NO_CACHE | F::WRITE_THROUGH,
        }
    }
}

/// Size of the device window (1 GiB: one PDPT slot's worth).
const DEVICE_WINDOW_SIZE: u64 = 1 << 30;

pub struct KernelPageTables {
    pml4: u64,
    next_device: u64,
}

fn table(phys: u64) -> &'static mut PageTable {
    // SAFETY: `phys` is a page-table frame owned by `KernelPageTables`
    // (allocated and zeroed by it) and reachable through the direct map;
    // the kernel is single-threaded while it edits its tables.
    unsafe { &mut *(phys_to_virt(phys) as *mut PageTable) }
}

fn zeroed_frame<const N: usize>(frames: &mut FrameAllocator<N>) -> Result<u64, MapError> {
    let frame = frames.allocate()?;
    *table(frame) = PageTable::new();
    Ok(frame)
}

impl KernelPageTables {
    pub fn new<const N: usize>(frames: &mut FrameAllocator<N>) -> Result<Self, MapError> {
        Ok(Self {
            pml4: zeroed_frame(frames)?,
            next_device: DEVICE_WINDOW,
        })
    }

    /// Kernel address of the PML4.
    pub fn pml4(&self) -> u64 {
        super::layout::phys_to_virt(self.pml4)
    }

    /// Maps `[virt, virt + len)` to `[phys, phys + len)`, with 2 MiB pages
    /// where both sides are aligned and 4 KiB pages elsewhere.
    pub fn map<const N: usize>(
        &mut self,
        frames: &mut FrameAllocator<N>,
        virt: u64,
        phys: u64,
        len: u64,
        access: Access,
    ) -> Result<(), MapError> {
        let mut offset = 0;
        while offset < len {
            let (v, p) = (virt + offset, phys + offset);
            let large = v % LARGE_PAGE == 0 && p % LARGE_PAGE == 0 && len - offset >= LARGE_PAGE;
            self.map_page(frames, v, p, access, large)?;
            offset += if large { LARGE_PAGE } else { PAGE_SIZE };
        }
        Ok(())
    }

    fn map_page<const N: usize>(
        &mut self,
        frames: &mut FrameAllocator<N>,
        virt: u64,
        phys: u64,
        access: Access,
        large: bool,
    ) -> Result<(), MapError> {
        let index = |level: u32| ((virt >> (12 + 9 * level)) & 0x1ff) as usize;
        let mut current = self.pml4;
        let last = if large { 1 } else { 0 };
        for level in (last + 1..=3).rev() {
            let entry = &mut table(current)[index(level)];
            if entry.is_unused() {
                let next = zeroed_frame(frames)?;
                // Intermediate levels grant everything; the leaf decides.
                entry.set_addr(PhysAddr::new(next), F::PRESENT | F::WRITABLE);
            } else if entry.flags().contains(F::HUGE_PAGE) {
                return Err(MapError::AlreadyMapped(virt));
            }
            current = entry.addr().as_u64();
        }
        let entry = &mut table(current)[index(last)];
        if !entry.is_unused() {
            return Err(MapError::AlreadyMapped(virt));
        }
        let size = if large { F::HUGE_PAGE } else { F::empty() };
        entry.set_addr(PhysAddr::new(phys), access.flags() | size);
        Ok(())
    }

    /// Maps a kernel image section with the rights its kind allows, leaving
    /// out the `holes` (stack guard pages).
    pub fn map_section<const N: usize>(
        &mut self,
        frames: &mut FrameAllocator<N>,
        section: &Section,
        virt_to_phys: u64,
        holes: &[u64],
    ) -> Result<(), MapError> {
        let access = match section.kind {
            SectionKind::Text => Access::ReadExecute,
            SectionKind::ReadOnly => Access::Read,
            SectionKind::ReadWrite => Access::ReadWrite,
        };
        let mut page = section.start;
        while page < section.end {
            if !holes.contains(&page) {
                self.map_page(frames, page, page - virt_to_phys, access, false)?;
            }
            page += PAGE_SIZE;
        }
        Ok(())
    }

    /// Adds `range` to the direct map (read-write, NX).
    pub fn map_direct<const N: usize>(
        &mut self,
        frames: &mut FrameAllocator<N>,
        range: PhysRange,
    ) -> Result<(), MapError> {
        self.map(
            frames,
            PHYS_OFFSET + range.start,
            range.start,
            range.len(),
            Access::ReadWrite,
        )
    }

    /// Maps device registers at `phys` (page-aligned) uncached in the device
    /// window and returns their virtual address.
    pub fn map_device<const N: usize>(
        &mut self,
        frames: &mut FrameAllocator<N>,
        phys: u64,
        len: u64,
    ) -> Result<u64, MapError> {
        let len = len.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let virt = self.next_device;
        if virt + len > DEVICE_WINDOW + DEVICE_WINDOW_SIZE {
            return Err(MapError::DeviceWindowFull);
        }
        self.map(frames, virt, phys, len, Access::Device)?;
        self.next_device += len;
        Ok(virt)
    }

    /// Switches the CPU to these tables.
    ///
    /// # Safety
    /// The tables must map the running code, its stack and every static the
    /// kernel touches afterwards, exactly as the old tables did.
    pub unsafe fn activate(&self) {
        let frame = PhysFrame::containing_address(PhysAddr::new(self.pml4));
        // SAFETY: upheld by the caller.
        unsafe { Cr3::write(frame, Cr3Flags::empty()) };
    }
}
