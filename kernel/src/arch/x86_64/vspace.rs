//! User address spaces: the ASID table, page-table and frame mappings, and
//! reading user memory through the page tables.
//!
//! A VSpace object is a PML4 page whose upper half is a copy of the
//! kernel's; the lower half (user space, below `USER_TOP`) is built by user
//! code from page-table and frame capabilities. Its ASID indexes a kernel
//! table (so a stale mapping record can never reach freed memory) and is
//! used as its PCID.

use super::layout::{PHYS_OFFSET, phys_to_virt};
use crate::object::cap::{ASID_BITS, Asid, Mapping};
use basalt_abi::{Error, Rights};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{PageTable, PageTableFlags as F, PhysFrame};

pub use crate::memory::USER_TOP;

const ASIDS: usize = 1 << ASID_BITS;

struct AsidTable {
    /// Kernel address of each ASID's PML4 (0: free). ASID 0 is never used.
    pml4: [u64; ASIDS],
    /// The kernel's own PML4, whose upper half every VSpace shares.
    kernel_pml4: u64,
}

static ASID_TABLE: Mutex<AsidTable> = Mutex::new(AsidTable {
    pml4: [0; ASIDS],
    kernel_pml4: 0,
});

/// ASIDs whose TLB entries may be stale (something was unmapped while
/// another address space was current, or the ASID was reused): the next
/// switch to them flushes; every other switch keeps the TLB (PCID).
/// Only the holder of the kernel state touches it (one CPU, interrupts
/// off), so plain loads and stores do, without a lock: the address-space
/// switch is on every IPC's path.
static STALE: [AtomicU64; ASIDS / 64] = [const { AtomicU64::new(0) }; ASIDS / 64];

fn mark_stale(asid: Asid) {
    let word = &STALE[usize::from(asid) / 64];
    word.store(
        word.load(Ordering::Relaxed) | 1 << (asid % 64),
        Ordering::Relaxed,
    );
}

/// Whether `asid` needs a flush, clearing the mark.
fn take_stale(asid: Asid) -> bool {
    let (word, bit) = (&STALE[usize::from(asid) / 64], 1u64 << (asid % 64));
    let bits = word.load(Ordering::Relaxed);
    if bits & bit == 0 {
        return false;
    }
    word.store(bits & !bit, Ordering::Relaxed);
    true
}

/// CR3 bit 63: keep this PCID's TLB entries.
const CR3_NO_FLUSH: u64 = 1 << 63;

/// Whether CR4.PCIDE is on (set once at boot, read on every switch).
static PCIDS: AtomicBool = AtomicBool::new(false);

/// Records the kernel's page tables (by kernel address) for new VSpaces,
/// and whether the CPU runs with PCIDs.
pub fn init(kernel_pml4: u64, pcids: bool) {
    PCIDS.store(pcids, Ordering::Relaxed);
    ASID_TABLE.lock().kernel_pml4 = kernel_pml4;
}

fn table(kernel_addr: u64) -> &'static mut PageTable {
    // SAFETY: `kernel_addr` is a page-table page reached from a live VSpace
    // (through the ASID table) or a page-table object; the kernel is
    // single-threaded and holds no other reference to it.
    unsafe { &mut *(kernel_addr as *mut PageTable) }
}

fn kernel_to_phys(addr: u64) -> u64 {
    addr - PHYS_OFFSET
}

/// Gives the zeroed page at `base` the kernel half and an ASID.
pub fn create(base: u64) -> Option<Asid> {
    let mut t = ASID_TABLE.lock();
    let asid = (1..ASIDS).find(|&a| t.pml4[a] == 0)?;
    t.pml4[asid] = base;
    let kernel = table(t.kernel_pml4);
    let new = table(base);
    for i in 256..512 {
        new[i] = kernel[i].clone();
    }
    mark_stale(asid as Asid);
    Some(asid as Asid)
}

/// Frees the ASID; if the CPU is using this VSpace, it moves to the kernel's.
pub fn destroy(asid: Asid, base: u64) {
    let mut t = ASID_TABLE.lock();
    if t.pml4[usize::from(asid)] == base {
        t.pml4[usize::from(asid)] = 0;
    }
    if ACTIVE.load(Ordering::Relaxed) == base {
        let kernel = PhysFrame::containing_address(PhysAddr::new(kernel_to_phys(t.kernel_pml4)));
        // SAFETY: the kernel's tables map everything the kernel uses.
        unsafe { Cr3::write(kernel, Cr3Flags::empty()) };
        ACTIVE.store(0, Ordering::Relaxed);
    }
}

fn pml4_of(asid: Asid) -> Option<u64> {
    let t = ASID_TABLE.lock();
    let p = *t.pml4.get(usize::from(asid))?;
    (p != 0).then_some(p)
}

/// The address space the CPU uses now (PML4 kernel address), so that
/// switching to it again costs nothing.
static ACTIVE: AtomicU64 = AtomicU64::new(0);

/// Switches the CPU to the VSpace at `base` with PCID `asid`, keeping its
/// TLB entries unless some may be stale. (On every thread switch, so
/// inlined.)
#[inline]
pub fn activate(asid: Asid, base: u64) {
    if ACTIVE.load(Ordering::Relaxed) == base {
        return;
    }
    ACTIVE.store(base, Ordering::Relaxed);
    let stale = take_stale(asid);
    load_cr3(asid, base, !stale);
}

/// Points CR3 at the PML4 at `base`. With PCIDs, `keep` keeps the TLB
/// entries tagged `asid`; without them every switch flushes.
fn load_cr3(asid: Asid, base: u64, keep: bool) {
    let pcid = PCIDS.load(Ordering::Relaxed);
    // SAFETY: the PML4 carries the kernel half, so the kernel keeps running;
    // the PCID form is used only when PCIDs are enabled, and `asid` < 4096.
    unsafe {
        if pcid {
            let value =
                kernel_to_phys(base) | u64::from(asid) | if keep { CR3_NO_FLUSH } else { 0 };
            core::arch::asm!("mov cr3, {}", in(reg) value, options(nostack));
        } else {
            let frame = PhysFrame::containing_address(PhysAddr::new(kernel_to_phys(base)));
            Cr3::write(frame, Cr3Flags::empty());
        }
    }
}

/// Flushes the TLB entries of `asid` now if it is the current address
/// space, else at the next switch to it.
fn flush_if_current(asid: Asid, base: u64) {
    if ACTIVE.load(Ordering::Relaxed) == base {
        load_cr3(asid, base, false);
    } else {
        mark_stale(asid);
    }
}

fn index(vaddr: u64, level: u8) -> usize {
    ((vaddr >> (12 + 9 * (u32::from(level) - 1))) & 0x1ff) as usize
}

/// The table at `level` (4 = PML4) covering `vaddr`, following present
/// entries from the PML4; `None` where a table is missing.
fn walk(pml4: u64, vaddr: u64, level: u8) -> Option<u64> {
    let mut t = pml4;
    for l in (level + 1..=4).rev() {
        let e = &table(t)[index(vaddr, l)];
        if e.is_unused() || e.flags().contains(F::HUGE_PAGE) {
            return None;
        }
        t = phys_to_virt(e.addr().as_u64());
    }
    Some(t)
}

/// The highest table missing on the way from the PML4 to the table at
/// `level` that covers `vaddr` (3: a PDPT, 2: a page directory, 1: a page
/// table), or `None` when none is; for `MissingPageTable`'s reply.
pub fn missing_table(asid: Asid, vaddr: u64, level: u8) -> Option<u8> {
    let pml4 = pml4_of(asid)?;
    (level..4).rev().find(|&l| walk(pml4, vaddr, l).is_none())
}

/// Installs the table at `pt`, of `level`, in the entry of the table one
/// level up that covers `vaddr`; returns the first address it covers.
pub fn map_page_table(asid: Asid, level: u8, vaddr: u64, pt: u64) -> Result<u64, Error> {
    let pml4 = pml4_of(asid).ok_or(Error::InvalidCapability)?;
    let parent = walk(pml4, vaddr, level + 1).ok_or(Error::MissingPageTable)?;
    let e = &mut table(parent)[index(vaddr, level + 1)];
    if !e.is_unused() {
        return Err(Error::AlreadyMapped);
    }
    // Intermediate entries allow everything; the leaf decides.
    e.set_addr(
        PhysAddr::new(kernel_to_phys(pt)),
        F::PRESENT | F::WRITABLE | F::USER_ACCESSIBLE,
    );
    let covered = 1u64 << (12 + 9 * u32::from(level));
    Ok(vaddr & !(covered - 1))
}

/// Removes the page table at `pt` (mapped at `level` for `mapping`) if it
/// is still there.
pub fn unmap_page_table(mapping: Mapping, level: u8, pt: u64) {
    let Some(pml4) = pml4_of(mapping.asid()) else {
        return;
    };
    let Some(parent) = walk(pml4, mapping.vaddr(), level + 1) else {
        return;
    };
    let e = &mut table(parent)[index(mapping.vaddr(), level + 1)];
    if !e.is_unused() && e.addr().as_u64() == kernel_to_phys(pt) {
        e.set_unused();
        flush_if_current(mapping.asid(), pml4);
    }
}

/// Zeroes every entry of the table at `pt`, which no address space
/// reaches any more (it was just unmapped, and its TLB entries flushed).
pub fn clear_page_table(pt: u64) {
    table(pt).zero();
}

/// Maps the frame at `frame` (4 KiB, or 2 MiB when `large`) at `vaddr`
/// with `rights` (checked by the object model: see `ops::map_frame`).
/// Device memory, and only device memory, is mapped uncached, which is how
/// [`translate`] tells it apart.
pub fn map_frame(
    asid: Asid,
    vaddr: u64,
    frame: u64,
    large: bool,
    device: bool,
    rights: Rights,
) -> Result<(), Error> {
    let pml4 = pml4_of(asid).ok_or(Error::InvalidCapability)?;
    let level = if large { 2 } else { 1 };
    let t = walk(pml4, vaddr, level).ok_or(Error::MissingPageTable)?;
    let e = &mut table(t)[index(vaddr, level)];
    if !e.is_unused() {
        return Err(Error::AlreadyMapped);
    }
    let mut flags = F::PRESENT | F::USER_ACCESSIBLE;
    if rights.contains(Rights::WRITE) {
        flags |= F::WRITABLE;
    }
    if !rights.contains(Rights::EXECUTE) {
        flags |= F::NO_EXECUTE;
    }
    if large {
        flags |= F::HUGE_PAGE;
    }
    if device {
        flags |= F::NO_CACHE | F::WRITE_THROUGH;
    }
    e.set_addr(PhysAddr::new(frame - PHYS_OFFSET), flags);
    Ok(())
}

/// Removes the mapping of `frame` recorded in `mapping`, if it still maps
/// that frame.
pub fn unmap_frame(mapping: Mapping, frame: u64, large: bool) {
    let Some(pml4) = pml4_of(mapping.asid()) else {
        return;
    };
    let level = if large { 2 } else { 1 };
    let Some(t) = walk(pml4, mapping.vaddr(), level) else {
        return;
    };
    let e = &mut table(t)[index(mapping.vaddr(), level)];
    if !e.is_unused() && e.addr().as_u64() == frame - PHYS_OFFSET {
        e.set_unused();
        flush_if_current(mapping.asid(), pml4);
    }
}

/// The kernel address of user address `vaddr` in the VSpace `pml4`, if it
/// is mapped user-accessible (and writable, when `write`) to RAM. Device
/// memory (a BAR) is refused: the kernel reaches RAM through its direct
/// map, which does not cover device memory, and reading a device register
/// may have side effects. Device frames, and only they, are mapped
/// uncached ([`map_frame`]), which is how a leaf entry tells.
fn translate(pml4: u64, vaddr: u64, write: bool) -> Option<u64> {
    if vaddr >= USER_TOP {
        return None;
    }
    let mut t = pml4;
    for level in (1..=4u8).rev() {
        let e = &table(t)[index(vaddr, level)];
        let f = e.flags();
        if !f.contains(F::PRESENT | F::USER_ACCESSIBLE) || (write && !f.contains(F::WRITABLE)) {
            return None;
        }
        let page = e.addr().as_u64();
        if level == 1 || f.contains(F::HUGE_PAGE) {
            if f.contains(F::NO_CACHE) {
                return None;
            }
            let offset = vaddr & ((1u64 << (12 + 9 * u32::from(level - 1))) - 1);
            return Some(phys_to_virt(page + offset));
        }
        t = phys_to_virt(page);
    }
    None
}

/// Bytes of user memory named by system-call arguments. The kernel never
/// dereferences a user address: the only way to the bytes is
/// [`UserBytes::read`], which translates through the caller's page tables
/// page by page, so a bad pointer is an error, never a kernel fault.
#[derive(Clone, Copy, Debug)]
pub struct UserBytes {
    addr: u64,
    len: u64,
}

impl UserBytes {
    pub fn new(addr: u64, len: u64) -> Self {
        Self { addr, len }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Checks that every byte is mapped readable in the VSpace whose PML4
    /// is at `pml4`, one translation per page (at most two for a buffer of
    /// up to 4 KiB).
    pub fn check(&self, pml4: u64) -> Result<(), Error> {
        if self.len == 0 {
            return Ok(());
        }
        let last = self
            .addr
            .checked_add(self.len - 1)
            .ok_or(Error::InvalidUserAddress)?;
        let mut page = self.addr & !0xfff;
        loop {
            let at = page.max(self.addr);
            translate(pml4, at, false).ok_or(Error::InvalidUserAddress)?;
            if page >= last & !0xfff {
                return Ok(());
            }
            page += 4096;
        }
    }

    /// Copies `out.len()` bytes starting `offset` bytes in, reading through
    /// the VSpace whose PML4 is at `pml4`.
    pub fn read(&self, pml4: u64, offset: u64, out: &mut [u8]) -> Result<(), Error> {
        if offset
            .checked_add(out.len() as u64)
            .is_none_or(|end| end > self.len)
        {
            return Err(Error::RangeError);
        }
        let start = self
            .addr
            .checked_add(offset)
            .ok_or(Error::InvalidUserAddress)?;
        let mut done = 0;
        while done < out.len() {
            let addr = start
                .checked_add(done as u64)
                .ok_or(Error::InvalidUserAddress)?;
            let src = translate(pml4, addr, false).ok_or(Error::InvalidUserAddress)?;
            let n = ((4096 - addr % 4096) as usize).min(out.len() - done);
            // SAFETY: `src..src + n` lies inside one mapped user page, reached
            // through the direct map.
            unsafe {
                core::ptr::copy_nonoverlapping(src as *const u8, out[done..].as_mut_ptr(), n)
            };
            done += n;
        }
        Ok(())
    }
}

/// The MMU's tables as the invariant oracle reads them.
pub struct MmuTables;

impl crate::object::oracle::PageTables for MmuTables {
    fn entry(&self, t: u64, level: u8, index: usize) -> crate::object::oracle::PageEntry {
        use crate::object::oracle::PageEntry;
        let e = &table(t)[index];
        let f = e.flags();
        if !f.contains(F::PRESENT) {
            return PageEntry::Empty;
        }
        let addr = phys_to_virt(e.addr().as_u64());
        if level > 1 && !f.contains(F::HUGE_PAGE) {
            return PageEntry::Table(addr);
        }
        let mut rights = Rights::empty();
        if f.contains(F::USER_ACCESSIBLE) {
            rights |= Rights::READ;
            if f.contains(F::WRITABLE) {
                rights |= Rights::WRITE;
            }
            if !f.contains(F::NO_EXECUTE) {
                rights |= Rights::EXECUTE;
            }
        }
        PageEntry::Frame {
            base: addr,
            large: level == 2,
            rights,
        }
    }

    fn kernel_half_intact(&self, pml4: u64) -> bool {
        let kernel = table(ASID_TABLE.lock().kernel_pml4);
        let this = table(pml4);
        (256..512).all(|i| {
            this[i].flags() == kernel[i].flags()
                && this[i].addr() == kernel[i].addr()
                && !this[i].flags().contains(F::USER_ACCESSIBLE)
        })
    }
}
