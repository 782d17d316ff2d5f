//! Init's own resources: the slots of its root CNode, the untyped memory
//! the kernel gave it, and mapping frames (with the page tables they need)
//! into an address space.

use basalt_abi::boot_info::{BootInfo, MAX_UNTYPED, ROOT_CNODE_BITS, slot};
use basalt_abi::{ObjectType, Rights};
use libcap::{
    CNode, Error, Frame, IoPortControl, IrqControl, KernelObject, Untyped, VSpace, invoke,
};

/// Init's root CNode, VSpace and the control capabilities (well-known slots).
pub const CNODE: CNode = CNode::from_raw(slot::CNODE);
pub const VSPACE: VSpace = VSpace::from_raw(slot::VSPACE);
pub const IRQ_CONTROL: IrqControl = IrqControl::from_raw(slot::IRQ_CONTROL);
pub const IO_PORT_CONTROL: IoPortControl = IoPortControl::from_raw(slot::IO_PORT_CONTROL);
/// The console's slot: init only copies it on, so it needs no handle.
pub const CONSOLE: u64 = slot::CONSOLE;

/// Where init maps a frame for a moment to fill it.
const SCRATCH: u64 = 0x4000_0000_0000;

/// An untyped capability and how much of it init has handed out, tracked
/// the same way the kernel does (objects at their natural alignment after
/// a watermark that resets when the region is revoked).
#[derive(Clone, Copy, Debug)]
pub struct Block {
    pub slot: u64,
    size_bits: u8,
    used: u64,
}

impl Block {
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

    /// How many objects of `2^bits` bytes still fit.
    fn count_of(&self, bits: u8) -> u64 {
        if bits > self.size_bits {
            return 0;
        }
        (1u64 << self.size_bits).saturating_sub(self.used.next_multiple_of(1 << bits)) >> bits
    }

    /// Bytes not used yet.
    fn free(&self) -> u64 {
        (1u64 << self.size_bits) - self.used
    }

    fn take(&mut self, bits: u8) {
        self.used = self.used.next_multiple_of(1 << bits) + (1 << bits);
    }

    /// Everything made from it is gone: it is empty again.
    fn reset(&mut self) {
        self.used = 0;
    }
}

/// Untyped memory in up to `N` blocks; an object comes from the block with
/// the least room that takes it (best fit), so that small objects do not
/// break up the blocks a large one needs.
#[derive(Clone, Copy, Debug)]
pub struct Memory<const N: usize> {
    blocks: [Block; N],
    len: usize,
}

impl<const N: usize> Memory<N> {
    /// No blocks.
    pub const fn empty() -> Self {
        Self {
            blocks: [Block {
                slot: 0,
                size_bits: 0,
                used: 0,
            }; N],
            len: 0,
        }
    }

    /// The one block `slot` of `2^size_bits` bytes.
    pub fn new(slot: u64, size_bits: u8) -> Self {
        let mut m = Self::empty();
        m.add(Block::new(slot, size_bits));
        m
    }

    /// Adds a block; false if there is no room for one more.
    pub fn add(&mut self, block: Block) -> bool {
        let Some(b) = self.blocks.get_mut(self.len) else {
            return false;
        };
        *b = block;
        self.len += 1;
        true
    }

    /// The blocks' capabilities.
    pub fn slots(&self) -> impl Iterator<Item = u64> + '_ {
        self.blocks[..self.len].iter().map(|b| b.slot)
    }

    /// The block an object of `2^bits` bytes comes from.
    fn pick(&mut self, bits: u8) -> Option<&mut Block> {
        self.blocks[..self.len]
            .iter_mut()
            .filter(|b| b.fits(bits))
            .min_by_key(|b| b.free())
    }

    /// Whether an object of `2^bits` bytes fits in some block.
    pub fn fits(&self, bits: u8) -> bool {
        self.blocks[..self.len].iter().any(|b| b.fits(bits))
    }

    /// How many objects of `2^bits` bytes the blocks still hold.
    fn count_of(&self, bits: u8) -> u64 {
        self.blocks[..self.len]
            .iter()
            .map(|b| b.count_of(bits))
            .sum()
    }

    /// Everything made from it is gone: it is empty again.
    pub fn reset(&mut self) {
        for b in &mut self.blocks[..self.len] {
            b.reset();
        }
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
    /// Untyped RAM from the kernel.
    pool: Memory<MAX_UNTYPED>,
}

impl Space {
    /// Init's view of what the kernel gave it (no heap needed: the heap is
    /// made from it).
    pub fn new(boot: &BootInfo) -> Self {
        let mut pool = Memory::empty();
        let count = (boot.untyped_count as usize).min(boot.untyped.len());
        for (i, u) in boot.untyped[..count].iter().enumerate() {
            if u.is_device == 0 {
                pool.add(Block::new(slot::FIRST_UNTYPED + i as u64, u.size_bits));
            }
        }
        Self {
            next_slot: boot.first_free_slot,
            free_slots: [0; FREE_SLOTS],
            free_count: 0,
            pool,
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
    pub fn object_from<const N: usize>(
        &mut self,
        memory: &mut Memory<N>,
        ty: ObjectType,
        size_bits: u64,
    ) -> Result<u64, Error> {
        let bits = object_bits(ty, size_bits);
        let block = memory.pick(bits).ok_or(Error::NotEnoughMemory)?;
        let dest = self.slot()?;
        if let Err(e) = Untyped::from_raw(block.slot).retype(ty, size_bits, 1, CNODE, dest) {
            self.release_slot(dest);
            return Err(e);
        }
        block.take(bits);
        Ok(dest)
    }

    /// One object of type `T` from `memory`, in a new root slot, as its
    /// handle (`size_bits` for CNodes only, else 0).
    pub fn make<T: KernelObject, const N: usize>(
        &mut self,
        memory: &mut Memory<N>,
        size_bits: u64,
    ) -> Result<T, Error> {
        self.object_from(memory, T::TYPE, size_bits)
            .map(T::from_addr)
    }

    /// One object of `ty` from the global pool (it lives as long as init).
    pub fn global_object(&mut self, ty: ObjectType, size_bits: u64) -> Result<u64, Error> {
        let mut pool = self.pool;
        let result = self.object_from(&mut pool, ty, size_bits);
        self.pool = pool;
        result
    }

    /// How many `2^bits`-byte objects the global pool still holds, each
    /// at its natural alignment.
    pub fn room_for(&self, bits: u8) -> u64 {
        self.pool.count_of(bits)
    }

    /// Untyped blocks from the global pool holding `2^bits`-byte objects,
    /// `count` of them, each block as large as the pool allows (the
    /// binary decomposition of `count`, halved where no block that large
    /// is left): memory for many large frames without needing one aligned
    /// block for all of them.
    pub fn blocks_for<const N: usize>(
        &mut self,
        bits: u8,
        count: u64,
        into: &mut Memory<N>,
    ) -> Result<(), Error> {
        match self.blocks_up_to(bits, count, into)? {
            got if got == count => Ok(()),
            _ => Err(Error::NotEnoughMemory),
        }
    }

    /// As [`Space::blocks_for`], but takes what there is when that is
    /// fewer than `count`: how many objects the blocks hold.
    pub fn blocks_up_to<const N: usize>(
        &mut self,
        bits: u8,
        count: u64,
        into: &mut Memory<N>,
    ) -> Result<u64, Error> {
        let mut left = count;
        while left > 0 {
            let mut order = 63 - left.leading_zeros() as u8;
            loop {
                let size = bits + order;
                if self.pool.fits(size) {
                    let slot = self.global_object(ObjectType::Untyped, u64::from(size))?;
                    if !into.add(Block::new(slot, size)) {
                        return Err(Error::RangeError);
                    }
                    left -= 1 << order;
                    break;
                }
                if order == 0 {
                    return Ok(count - left);
                }
                order -= 1;
            }
        }
        Ok(count)
    }

    /// Maps `frame` at `vaddr` in `vspace`, making the page tables that are
    /// missing from `tables` (each new page table's slot goes to `keep`).
    pub fn map<const N: usize>(
        &mut self,
        frame: Frame,
        vspace: VSpace,
        vaddr: u64,
        rights: Rights,
        tables: &mut Memory<N>,
        keep: &mut dyn FnMut(&mut Self, u64) -> Result<(), Error>,
    ) -> Result<(), Error> {
        frame.map_with_tables(vspace, vaddr, rights, |ty| {
            let table = self.object_from(tables, ty, 0)?;
            // The table's level is the kernel's answer, known only now, and
            // every level maps the same way: the untyped call fits.
            invoke::page_table_map(table, vspace.raw(), vaddr)?;
            keep(self, table)
        })
    }

    /// Maps `frame` into init itself, read-write (page tables from the
    /// global pool).
    pub fn map_into_self(&mut self, frame: Frame, vaddr: u64) -> Result<(), Error> {
        let rights = Rights::READ | Rights::WRITE;
        frame.map_with_tables(VSPACE, vaddr, rights, |ty| {
            // As in `map`: a table of whichever level the kernel asks for.
            invoke::page_table_map(self.global_object(ty, 0)?, VSPACE.raw(), vaddr)
        })
    }

    /// Runs `fill` on the page of `frame` (mapped for a moment into init).
    pub fn fill(&mut self, frame: Frame, fill: impl FnOnce(&mut [u8; 4096])) -> Result<(), Error> {
        self.map_into_self(frame, SCRATCH)?;
        // SAFETY: the frame is mapped read-write at SCRATCH right now, by
        // init alone, until the unmap below.
        fill(unsafe { &mut *(SCRATCH as *mut [u8; 4096]) });
        frame.unmap()
    }
}
