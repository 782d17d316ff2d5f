//! Init's own resources: the slots of its root CNode, the untyped memory
//! the kernel gave it, and mapping frames (with the page tables they need)
//! into an address space.

use basalt_abi::boot_info::{BootInfo, MAX_UNTYPED, ROOT_CNODE_BITS, slot};
use basalt_abi::{ObjectType, Rights};
use libcap::{Error, invoke};

/// Init's root CNode, VSpace and the control capabilities (well-known slots).
pub const CNODE: u64 = slot::CNODE;
pub const VSPACE: u64 = slot::VSPACE;
pub const IRQ_CONTROL: u64 = slot::IRQ_CONTROL;
pub const IO_PORT_CONTROL: u64 = slot::IO_PORT_CONTROL;
pub const CONSOLE: u64 = slot::CONSOLE;

/// Where init maps a frame for a moment to fill it.
const SCRATCH: u64 = 0x4000_0000_0000;

/// An untyped capability and how much of it init has handed out, tracked
/// the same way the kernel does (objects at their natural alignment after
/// a watermark that resets when the region is revoked).
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub slot: u64,
    size_bits: u8,
    used: u64,
}

impl Memory {
    pub fn new(slot: u64, size_bits: u8) -> Self {
        Self {
            slot,
            size_bits,
            used: 0,
        }
    }

    /// Whether an object of `2^bits` bytes still fits.
    fn fits(&self, bits: u8) -> bool {
        self.used.next_multiple_of(1 << bits) + (1 << bits) <= 1 << self.size_bits
    }

    /// Bytes not used yet.
    fn free(&self) -> u64 {
        (1u64 << self.size_bits) - self.used
    }

    fn take(&mut self, bits: u8) {
        self.used = self.used.next_multiple_of(1 << bits) + (1 << bits);
    }

    /// Everything made from it is gone: it is empty again.
    pub fn reset(&mut self) {
        self.used = 0;
    }
}

/// Bytes (as a power of two) of a fixed-size object of `ty`.
pub fn object_bits(ty: ObjectType, size_bits: u64) -> u8 {
    match ty {
        ObjectType::Untyped => size_bits as u8,
        ObjectType::CNode => size_bits as u8 + 6,
        ObjectType::Tcb => 11,
        ObjectType::Endpoint | ObjectType::Notification => 6,
        ObjectType::Frame4K
        | ObjectType::PageTable
        | ObjectType::PageDirectory
        | ObjectType::Pdpt
        | ObjectType::VSpace => 12,
        ObjectType::Frame2M => 21,
    }
}

/// Most freed slots remembered for reuse.
const FREE_SLOTS: usize = 512;

pub struct Space {
    /// The next never-used slot of the root CNode, and slots freed since.
    next_slot: u64,
    free_slots: [u64; FREE_SLOTS],
    free_count: usize,
    /// Untyped RAM from the kernel, largest first.
    pool: [Memory; MAX_UNTYPED],
    pool_len: usize,
}

impl Space {
    /// Init's view of what the kernel gave it (no heap needed: the heap is
    /// made from it).
    pub fn new(boot: &BootInfo) -> Self {
        let mut pool = [Memory::new(0, 0); MAX_UNTYPED];
        let mut pool_len = 0;
        let count = (boot.untyped_count as usize).min(boot.untyped.len());
        for (i, u) in boot.untyped[..count].iter().enumerate() {
            if u.is_device == 0 {
                pool[pool_len] = Memory::new(slot::FIRST_UNTYPED + i as u64, u.size_bits);
                pool_len += 1;
            }
        }
        pool[..pool_len].sort_unstable_by_key(|m| core::cmp::Reverse(m.size_bits));
        Self {
            next_slot: boot.first_free_slot,
            free_slots: [0; FREE_SLOTS],
            free_count: 0,
            pool,
            pool_len,
        }
    }

    /// An empty slot of the root CNode.
    pub fn slot(&mut self) -> Result<u64, Error> {
        if self.free_count > 0 {
            self.free_count -= 1;
            return Ok(self.free_slots[self.free_count]);
        }
        if self.next_slot >= 1 << ROOT_CNODE_BITS {
            return Err(Error::RangeError);
        }
        self.next_slot += 1;
        Ok(self.next_slot - 1)
    }

    /// Gives back a slot that is empty again.
    pub fn release_slot(&mut self, s: u64) {
        if self.free_count < FREE_SLOTS {
            self.free_slots[self.free_count] = s;
            self.free_count += 1;
        }
    }

    /// One object of `ty` from `memory`, in a new root slot.
    pub fn object_from(
        &mut self,
        memory: &mut Memory,
        ty: ObjectType,
        size_bits: u64,
    ) -> Result<u64, Error> {
        let bits = object_bits(ty, size_bits);
        if !memory.fits(bits) {
            return Err(Error::NotEnoughMemory);
        }
        let dest = self.slot()?;
        if let Err(e) = invoke::untyped_retype(memory.slot, ty, size_bits, 1, CNODE, dest) {
            self.release_slot(dest);
            return Err(e);
        }
        memory.take(bits);
        Ok(dest)
    }

    /// One object of `ty` from the global pool (it lives as long as init).
    pub fn global_object(&mut self, ty: ObjectType, size_bits: u64) -> Result<u64, Error> {
        let bits = object_bits(ty, size_bits);
        // Best fit: the block with the least room that takes it, so that
        // small objects do not break up the blocks a large one needs.
        let index = self.pool[..self.pool_len]
            .iter()
            .enumerate()
            .filter(|(_, m)| m.fits(bits))
            .min_by_key(|(_, m)| m.free())
            .map(|(i, _)| i)
            .ok_or(Error::NotEnoughMemory)?;
        let mut memory = self.pool[index];
        let result = self.object_from(&mut memory, ty, size_bits);
        self.pool[index] = memory;
        result
    }

    /// Maps `frame` at `vaddr` in `vspace`, making the page tables that are
    /// missing from `tables` (each new page table's slot goes to `keep`).
    pub fn map(
        &mut self,
        frame: u64,
        vspace: u64,
        vaddr: u64,
        rights: Rights,
        tables: &mut Memory,
        keep: &mut dyn FnMut(&mut Self, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        invoke::frame_map_with_tables(frame, vspace, vaddr, rights, |ty| {
            let table = self.object_from(tables, ty, 0)?;
            invoke::page_table_map(table, vspace, vaddr)?;
            keep(self, table)
        })
    }

    /// Maps `frame` into init itself, read-write (page tables from the
    /// global pool).
    pub fn map_into_self(&mut self, frame: u64, vaddr: u64) -> Result<(), Error> {
        let rights = Rights::READ | Rights::WRITE;
        invoke::frame_map_with_tables(frame, VSPACE, vaddr, rights, |ty| {
            invoke::page_table_map(self.global_object(ty, 0)?, VSPACE, vaddr)
        })
    }

    /// Runs `fill` on the page of `frame` (mapped for a moment into init).
    pub fn fill(&mut self, frame: u64, fill: impl FnOnce(&mut [u8; 4096])) -> Result<(), Error> {
        self.map_into_self(frame, SCRATCH)?;
        // SAFETY: the frame is mapped read-write at SCRATCH right now, by
        // init alone, until the unmap below.
        fill(unsafe { &mut *(SCRATCH as *mut [u8; 4096]) });
        invoke::frame_unmap(frame)
    }
}
