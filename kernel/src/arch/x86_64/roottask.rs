//! Starting the root task: the kernel ELF-loads it from the boot module
//! named `roottask`, builds its CSpace (the well-known slots of
//! `basalt_abi::boot_info::slot`), address space, stack, IPC buffer and
//! boot-info page, and gives it untyped capabilities to all remaining
//! memory and to the device address space.

use super::acpi::TableRange;
use super::boot_info::Module;
use super::layout::{PHYS_OFFSET, phys_to_virt};
use super::vspace;
use crate::memory::{FrameAllocator, OutOfFrames, PAGE_SIZE, PhysRange, RangeSet};
use crate::object::cap::{Asid, Cap, Mapping};
use crate::object::cnode::{cnode_size_bits, slot_at};
use crate::object::objects::{MAX_UNTYPED_BITS, MIN_UNTYPED_BITS};
use crate::object::objref::TcbRef;
use crate::object::ops;
use crate::object::tcb::{Tcb, tcb_slot};
use basalt_abi::Rights;
use basalt_abi::boot_info::{self as bi, BootInfo, UntypedDesc, slot};
use core::fmt;
use elf::ElfBytes;
use elf::abi::{EM_X86_64, ET_EXEC, PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;

/// Name of the boot module holding the root task.
pub const MODULE_NAME: &str = "roottask";

/// Why the root task cannot be started.
#[derive(Debug)]
pub enum RootTaskError {
    NotElf(elf::ParseError),
    WrongKind(&'static str),
    /// A segment outside user space or overlapping the boot-info area.
    BadSegment(u64),
    /// A segment both writable and executable.
    WritableAndExecutable(u64),
    OutOfMemory,
    /// Two segments share a page.
    Overlap(u64),
}

impl From<OutOfFrames> for RootTaskError {
    fn from(_: OutOfFrames) -> Self {
        Self::OutOfMemory
    }
}

impl fmt::Display for RootTaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotElf(e) => write!(f, "not an ELF file: {e:?}"),
            Self::WrongKind(what) => write!(f, "not a static x86_64 executable: {what}"),
            Self::BadSegment(a) => write!(
                f,
                "segment at {a:#x} is outside the root task's address range"
            ),
            Self::WritableAndExecutable(a) => {
                write!(f, "segment at {a:#x} is writable and executable (W^X)")
            }
            Self::OutOfMemory => write!(f, "out of memory"),
            Self::Overlap(a) => write!(f, "two segments share the page at {a:#x}"),
        }
    }
}

/// Memory for boot-time objects: zeroed frames by kernel address.
struct Frames<'a, const N: usize>(&'a mut FrameAllocator<N>);

impl<const N: usize> Frames<'_, N> {
    fn zeroed(&mut self, size: u64) -> Result<u64, RootTaskError> {
        let phys = self.0.allocate_aligned(size, size.max(PAGE_SIZE))?;
        let virt = phys_to_virt(phys);
        // SAFETY: freshly allocated, unused memory reached through the
        // direct map.
        unsafe { crate::memory::zero(virt as *mut u8, size as usize) };
        Ok(virt)
    }

    /// Maps a new zeroed frame at `vaddr`, creating page tables on the way.
    fn map_new(&mut self, asid: Asid, vaddr: u64, rights: Rights) -> Result<u64, RootTaskError> {
        let frame = self.zeroed(PAGE_SIZE)?;
        self.map(asid, vaddr, frame, rights)?;
        Ok(frame)
    }

    /// Copies `tables` one after the other into new frames mapped
    /// read-only at [`bi::ACPI_TABLES_ADDR`], up to [`bi::MAX_ACPI_BYTES`]
    /// (the tables past it are left out, with a warning): a copy rather
    /// than a mapping, so that the root task reads exactly the tables and
    /// no firmware memory around them.
    fn copy_tables(
        &mut self,
        asid: Asid,
        tables: &[TableRange],
    ) -> Result<bi::AcpiTables, RootTaskError> {
        let mut size = 0u64;
        let mut frame = 0u64;
        for (i, t) in tables.iter().enumerate() {
            let length = u64::from(t.length);
            if size + length > bi::MAX_ACPI_BYTES {
                log::warn!(
                    "the firmware's AML tables pass {} bytes: {} of {} given to the root task",
                    bi::MAX_ACPI_BYTES,
                    i,
                    tables.len()
                );
                break;
            }
            // SAFETY: the table lies in firmware memory the direct map
            // covers (the platform's tables were read through it), and
            // nothing writes it.
            let mut bytes = unsafe {
                core::slice::from_raw_parts(phys_to_virt(t.physical) as *const u8, length as usize)
            };
            while !bytes.is_empty() {
                let offset = size % PAGE_SIZE;
                if offset == 0 {
                    frame = self.map_new(asid, bi::ACPI_TABLES_ADDR + size, Rights::READ)?;
                }
                let n = bytes.len().min((PAGE_SIZE - offset) as usize);
                // SAFETY: `frame` is a zeroed frame of ours and
                // `offset + n <= 4096`.
                unsafe {
                    core::ptr::copy_nonoverlapping(bytes.as_ptr(), (frame + offset) as *mut u8, n)
                };
                bytes = &bytes[n..];
                size += n as u64;
            }
        }
        let address = if size == 0 { 0 } else { bi::ACPI_TABLES_ADDR };
        Ok(bi::AcpiTables { address, size })
    }

    fn map(
        &mut self,
        asid: Asid,
        vaddr: u64,
        frame: u64,
        rights: Rights,
    ) -> Result<(), RootTaskError> {
        loop {
            match vspace::map_frame(asid, vaddr, frame, false, false, rights) {
                Ok(()) => return Ok(()),
                Err(basalt_abi::Error::MissingPageTable) => {
                    let level = vspace::missing_table(asid, vaddr, 1)
                        .ok_or(RootTaskError::BadSegment(vaddr))?;
                    let pt = self.zeroed(PAGE_SIZE)?;
                    vspace::map_page_table(asid, level, vaddr, pt)
                        .map_err(|_| RootTaskError::BadSegment(vaddr))?;
                }
                Err(basalt_abi::Error::AlreadyMapped) => return Err(RootTaskError::Overlap(vaddr)),
                Err(_) => return Err(RootTaskError::BadSegment(vaddr)),
            }
        }
    }
}

/// Everything the root task is given, for the boot summary.
pub struct RootTask {
    pub tcb: TcbRef,
    pub entry: u64,
    pub untyped: usize,
    pub untyped_bytes: u64,
    pub device_untyped: usize,
}

/// Splits `[start, end)` into naturally aligned power-of-two blocks.
fn aligned_blocks(mut start: u64, end: u64, mut emit: impl FnMut(u64, u8)) {
    while start < end {
        let align = if start == 0 {
            63
        } else {
            start.trailing_zeros()
        };
        let fit = 63 - (end - start).leading_zeros();
        let bits = align.min(fit).min(u32::from(MAX_UNTYPED_BITS)) as u8;
        if bits >= MIN_UNTYPED_BITS {
            emit(start, bits);
        }
        start += 1 << bits;
    }
}

/// Loads and prepares the root task (inactive: the caller resumes it),
/// maps the `others` boot modules into it, tells it where PCI segment 0's
/// configuration window is (`pci_ecam`) and gives it a copy of the
/// firmware's AML tables (`aml_tables`).
pub fn create<const N: usize>(
    module: &Module,
    others: impl Iterator<Item = Module>,
    allocator: &mut FrameAllocator<N>,
    device_space: &RangeSet<N>,
    pci_ecam: bi::Ecam,
    aml_tables: &[TableRange],
) -> Result<RootTask, RootTaskError> {
    let image = module.bytes();
    let file = ElfBytes::<LittleEndian>::minimal_parse(image).map_err(RootTaskError::NotElf)?;
    if file.ehdr.e_machine != EM_X86_64 || file.ehdr.e_type != ET_EXEC {
        return Err(RootTaskError::WrongKind("machine or type"));
    }
    let mut frames = Frames(allocator);

    // Objects the kernel makes itself: capabilities to them are roots.
    let cnode = frames.zeroed(1 << cnode_size_bits(bi::ROOT_CNODE_BITS))?;
    let tcb = frames.zeroed(PAGE_SIZE)?;
    let pml4 = frames.zeroed(PAGE_SIZE)?;
    let asid = vspace::create(pml4).ok_or(RootTaskError::OutOfMemory)?;

    let segments = file
        .segments()
        .ok_or(RootTaskError::WrongKind("no program headers"))?;
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        let (start, end) = (ph.p_vaddr, ph.p_vaddr.saturating_add(ph.p_memsz));
        if end >= bi::ROOT_STACK_TOP - bi::ROOT_STACK_PAGES * PAGE_SIZE || start < PAGE_SIZE {
            return Err(RootTaskError::BadSegment(start));
        }
        if ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0 {
            return Err(RootTaskError::WritableAndExecutable(start));
        }
        let mut rights = Rights::READ;
        if ph.p_flags & PF_W != 0 {
            rights |= Rights::WRITE;
        }
        if ph.p_flags & PF_X != 0 {
            rights |= Rights::EXECUTE;
        }
        let data = image
            .get(ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize)
            .ok_or(RootTaskError::WrongKind("segment outside the file"))?;
        let mut page = start & !(PAGE_SIZE - 1);
        while page < end {
            let frame = frames.map_new(asid, page, rights)?;
            // Copy the part of the file image that falls in this page.
            let lo = page.max(start);
            let hi = (page + PAGE_SIZE).min(start + ph.p_filesz);
            if lo < hi {
                let src = &data[(lo - start) as usize..(hi - start) as usize];
                // SAFETY: the frame is ours and `lo - page + len <= 4096`.
                unsafe {
                    core::ptr::copy_nonoverlapping(
                        src.as_ptr(),
                        (frame + lo - page) as *mut u8,
                        src.len(),
                    )
                };
            }
            page += PAGE_SIZE;
        }
    }
    for i in 1..=bi::ROOT_STACK_PAGES {
        frames.map_new(
            asid,
            bi::ROOT_STACK_TOP - i * PAGE_SIZE,
            Rights::READ | Rights::WRITE,
        )?;
    }
    let ipc_buffer = frames.map_new(asid, bi::IPC_BUFFER_ADDR, Rights::READ | Rights::WRITE)?;
    let info_frame = frames.map_new(asid, bi::BOOT_INFO_ADDR, Rights::READ)?;
    // SAFETY: the boot-info frame is zeroed, ours, and holds a BootInfo.
    let info = unsafe { &mut *(info_frame as *mut BootInfo) };

    // The other boot modules (the system's manifest and binaries), read-only.
    let mut at = bi::MODULES_ADDR;
    for m in others {
        let Some(desc) = info.modules.get_mut(info.module_count as usize) else {
            log::warn!(
                "more than {} boot modules; `{}` is not given to the root task",
                bi::MAX_MODULES,
                m.name
            );
            continue;
        };
        let first = m.range.start & !(PAGE_SIZE - 1);
        let mut page = first;
        while page < m.range.end {
            frames.map(asid, at + (page - first), phys_to_virt(page), Rights::READ)?;
            page += PAGE_SIZE;
        }
        let name = m.name.as_bytes();
        let n = name.len().min(bi::MODULE_NAME_BYTES);
        desc.name[..n].copy_from_slice(&name[..n]);
        desc.address = at + (m.range.start - first);
        desc.size = m.range.len();
        info.module_count += 1;
        at += (page - first) + PAGE_SIZE;
    }

    info.acpi = frames.copy_tables(asid, aml_tables)?;

    // SAFETY (all `slot_at` below): the root CNode was just allocated with
    // 2^ROOT_CNODE_BITS slots, all zero (empty).
    let root = |i: u64| unsafe { slot_at(cnode, i) };
    let cnode_cap = Cap::CNode {
        base: cnode,
        radix: bi::ROOT_CNODE_BITS,
        guard: 0,
        guard_bits: 64 - bi::ROOT_CNODE_BITS,
    };
    // SAFETY: the TCB page is zeroed and ours.
    unsafe { (tcb as *mut Tcb).write(Tcb::new()) };
    // SAFETY: the TCB was just made there, and its capability in the root
    // CNode keeps it alive.
    let thread = unsafe { TcbRef::from_addr(tcb) };
    root(slot::TCB).install_root(Cap::Tcb { base: tcb });
    root(slot::CNODE).install_root(cnode_cap);
    root(slot::VSPACE).install_root(Cap::VSpace { base: pml4, asid });
    root(slot::IRQ_CONTROL).install_root(Cap::IrqControl);
    root(slot::IO_PORT_CONTROL).install_root(Cap::IoPortControl);
    root(slot::CONSOLE).install_root(Cap::Console);
    let frame_cap = |base, rights, vaddr| Cap::Frame {
        base,
        large: false,
        device: false,
        rights,
        mapping: Some(Mapping::new(asid, vaddr)),
    };
    root(slot::BOOT_INFO_FRAME).install_root(frame_cap(
        info_frame,
        Rights::READ,
        bi::BOOT_INFO_ADDR,
    ));
    root(slot::IPC_BUFFER_FRAME).install_root(frame_cap(
        ipc_buffer,
        Rights::READ | Rights::WRITE,
        bi::IPC_BUFFER_ADDR,
    ));
    for (kind, source) in [
        (tcb_slot::CSPACE, slot::CNODE),
        (tcb_slot::VSPACE, slot::VSPACE),
        (tcb_slot::IPC_BUFFER, slot::IPC_BUFFER_FRAME),
    ] {
        ops::copy(root(source), thread.slot(kind), Rights::all())
            .map_err(|_| RootTaskError::OutOfMemory)?;
    }

    // Untyped memory: everything still free, then the device space.
    info.magic = bi::MAGIC;
    info.version = bi::VERSION;
    let mut next = slot::FIRST_UNTYPED;
    let mut count = 0usize;
    let (mut bytes, mut devices) = (0u64, 0usize);
    let mut add = |phys: u64, bits: u8, device: bool| {
        if count >= bi::MAX_UNTYPED || next >= 1 << bi::ROOT_CNODE_BITS {
            log::warn!(
                "more untyped blocks than the boot-info page lists; {phys:#x} ({bits} bits) left out"
            );
            return;
        }
        root(next).install_root(Cap::Untyped {
            base: PHYS_OFFSET + phys,
            size_bits: bits,
            device,
            watermark: 0,
            zeroed: 0,
        });
        info.untyped[count] = UntypedDesc {
            physical_address: phys,
            size_bits: bits,
            is_device: u8::from(device),
            _reserved: [0; 6],
        };
        count += 1;
        next += 1;
        if device {
            devices += 1;
        } else {
            bytes += 1 << bits;
        }
    };
    let free: RangeSet<N> = {
        let mut set = RangeSet::new();
        for r in frames.0.free_ranges() {
            let _ = set.insert(*r);
        }
        set
    };
    for r in free.as_slice() {
        aligned_blocks(r.start, r.end, |p, b| add(p, b, false));
    }
    for r in device_space.as_slice() {
        aligned_blocks(r.start, r.end, |p, b| add(p, b, true));
    }
    info.untyped_count = count as u64;
    info.first_free_slot = next;
    info.tsc_hz = super::timer::tsc_hz();
    info.wall_clock = super::timer::wall_clock();
    info.pci_ecam = pci_ecam;

    thread.with(|t| {
        t.context.rip = file.ehdr.e_entry;
        t.context.rsp = bi::ROOT_STACK_TOP;
        t.context.rdi = bi::BOOT_INFO_ADDR;
        t.priority = u8::MAX;
        t.ipc_buffer_addr = bi::IPC_BUFFER_ADDR;
    });
    Ok(RootTask {
        tcb: thread,
        entry: file.ehdr.e_entry,
        untyped: count,
        untyped_bytes: bytes,
        device_untyped: devices,
    })
}

/// Physical address space that is neither RAM nor claimed by the kernel,
/// above the firmware's low memory and below 1 TiB: where PCI devices put
/// their registers (below 4 GiB, and above it for 64-bit BARs, as OVMF
/// does) and firmware-reserved areas such as the PCIe ECAM window. It is
/// handed out as device untyped memory.
/// The end of the physical address space handed out as device memory.
const DEVICE_SPACE_END: u64 = 1 << 40;

pub fn device_space<const N: usize>(ram: &RangeSet<N>, kernel_devices: &[u64]) -> RangeSet<N> {
    let mut space = RangeSet::new();
    let _ = space.insert(PhysRange::new(1 << 20, DEVICE_SPACE_END));
    for r in ram.as_slice() {
        let _ = space.remove(PhysRange::new(
            r.start & !(PAGE_SIZE - 1),
            r.end.next_multiple_of(PAGE_SIZE),
        ));
    }
    for &page in kernel_devices {
        let _ = space.remove(PhysRange::new(
            page & !(PAGE_SIZE - 1),
            (page & !(PAGE_SIZE - 1)) + PAGE_SIZE,
        ));
    }
    space
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_cover_the_range() {
        let mut blocks = Vec::new();
        aligned_blocks(0x9000, 0x40_3000, |p, b| blocks.push((p, b)));
        let mut at = 0x9000;
        for &(p, b) in &blocks {
            assert_eq!(p, at);
            assert_eq!(p % (1 << b), 0, "{p:#x} is not aligned to 2^{b}");
            at += 1 << b;
        }
        assert_eq!(at, 0x40_3000);
        assert!(blocks.len() < 20);
    }
}
