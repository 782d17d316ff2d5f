//! Building one component from the manifest: its memory, address space,
//! CSpace, granted capabilities, start-info page and thread.

use crate::plan::{self, BOOKKEEPING_BITS, LARGE_PAGE, PAGE};
use crate::space::{CNODE, CONSOLE, IO_PORT_CONTROL, IRQ_CONTROL, Memory, Space};
use basalt_abi::start_info::{self as si, CapEntry, CapKind, StartInfo};
use basalt_abi::{ObjectType, Rights};
use elf::ElfBytes;
use elf::abi::{PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use libcap::{Error, invoke};
use manifest::{Device, Manifest, PciInterrupt};

/// Why a component could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// The binary is not an ELF executable init can load.
    BadBinary(&'static str),
    /// More grants than the start-info page can list.
    TooManyCapabilities,
    /// A kernel operation failed.
    Kernel(&'static str, Error),
}

impl core::fmt::Display for BuildError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadBinary(why) => write!(f, "its binary is unusable: {why}"),
            Self::TooManyCapabilities => {
                write!(f, "it is granted more than {} capabilities", si::MAX_CAPS)
            }
            Self::Kernel(what, e) => write!(f, "{what}: {e:?}"),
        }
    }
}

/// Tags a kernel error with what init was doing.
trait Doing<T> {
    fn doing(self, what: &'static str) -> Result<T, BuildError>;
}

impl<T> Doing<T> for Result<T, Error> {
    fn doing(self, what: &'static str) -> Result<T, BuildError> {
        self.map_err(|e| BuildError::Kernel(what, e))
    }
}

/// The global objects shared between components: one endpoint per
/// channel, one notification per notification declaration, the frames of
/// each region (root slots in init's CNode). They outlive restarts.
pub struct Shared {
    pub channels: alloc::vec::Vec<u64>,
    pub notifications: alloc::vec::Vec<u64>,
    pub regions: alloc::vec::Vec<SharedRegion>,
    /// Init's fault endpoint.
    pub fault_endpoint: u64,
    /// The TSC frequency the kernel measured (for the start-info pages).
    pub tsc_hz: u64,
    /// The wall-clock time the kernel read at boot (for the start-info pages).
    pub wall_clock: basalt_abi::boot_info::WallClock,
    /// Per component: the memory BARs and configuration pages of its PCI
    /// devices.
    pub devices: alloc::vec::Vec<alloc::vec::Vec<DeviceGrant>>,
}

/// A shared region's frames (physically contiguous) and where it starts.
pub struct SharedRegion {
    pub frames: alloc::vec::Vec<u64>,
    pub physical: u64,
}

/// A PCI memory BAR or configuration page granted to a component, as
/// frames init holds.
pub struct DeviceGrant {
    /// `<device name>.bar<index>` or `<device name>.config`.
    pub name: alloc::string::String,
    pub size: u64,
    /// Its physical address (page aligned).
    pub physical: u64,
    pub frames: alloc::vec::Vec<u64>,
}

/// The root slots a started component occupies in init's CNode (they
/// empty when its memory is revoked).
pub struct Started {
    pub tcb: u64,
    pub bookkeeping: u64,
}

/// The slots init keeps for a component between builds.
struct Slots {
    cnode_guarded: u64,
    bookkeeping: u64,
    next_bookkeeping: u64,
}

fn write_name(dest: &mut [u8; si::NAME_BYTES], name: &str) {
    let n = name.len().min(si::NAME_BYTES);
    dest[..n].copy_from_slice(&name.as_bytes()[..n]);
}

impl Slots {
    /// Moves the capability in root slot `s` into the bookkeeping CNode
    /// (where it dies with the component) and frees the root slot.
    fn keep(&mut self, space: &mut Space, s: u64) -> Result<(), Error> {
        invoke::cnode_move(self.bookkeeping, self.next_bookkeeping, CNODE, s)?;
        self.next_bookkeeping += 1;
        space.release_slot(s);
        Ok(())
    }
}

/// Maps copies of `frames` (capabilities init keeps, shared between
/// components) one after the other from `at` in `vspace`; the copies die
/// with the component.
fn map_copies(
    space: &mut Space,
    slots: &mut Slots,
    memory: &mut Memory<1>,
    vspace: u64,
    frames: &[u64],
    at: u64,
    rights: Rights,
) -> Result<(), Error> {
    for (i, &frame) in frames.iter().enumerate() {
        let copy = space.slot()?;
        invoke::cnode_copy(CNODE, copy, CNODE, frame, Rights::all())?;
        space.map(
            copy,
            vspace,
            at + i as u64 * PAGE,
            rights,
            memory,
            &mut |sp, pt| slots.keep(sp, pt),
        )?;
        slots.keep(space, copy)?;
    }
    Ok(())
}

/// Most blocks a component's heap frames come from: enough for the
/// binary decomposition of any heap the address space holds, and for the
/// pieces a share of the machine gathers from what the physical memory's
/// layout leaves.
pub const HEAP_BLOCKS: usize = 64;

/// A component's own untyped memory: one block for its objects, and the
/// blocks of its heap's 2 MiB frames (see [`plan::heap_split`]).
pub struct Own {
    pub objects: Memory<1>,
    pub heap: Memory<HEAP_BLOCKS>,
    /// The heap's size: the manifest's, or the share of the machine init
    /// found for it.
    pub heap_bytes: u64,
}

/// Builds and starts component `index` of `manifest`, generation
/// `generation`, from `binary` (its ELF), in `own` (its empty memory);
/// `last_exit` tells it how the previous generation ended.
#[allow(clippy::too_many_arguments)]
pub fn start(
    space: &mut Space,
    manifest: &Manifest,
    index: usize,
    binary: &[u8],
    own: &mut Own,
    shared: &Shared,
    generation: u64,
    last_exit: &[u8; si::LAST_EXIT_BYTES],
) -> Result<Started, BuildError> {
    let Own {
        objects: memory,
        heap,
        heap_bytes,
    } = own;
    let heap_bytes = *heap_bytes;
    let c = &manifest.components[index];
    let file = ElfBytes::<LittleEndian>::minimal_parse(binary)
        .map_err(|_| BuildError::BadBinary("not an ELF file"))?;
    let segments = file
        .segments()
        .ok_or(BuildError::BadBinary("no program headers"))?;

    // Objects of the component, all made from its own memory.
    let cnode = space
        .object_from(
            memory,
            ObjectType::CNode,
            u64::from(si::COMPONENT_CNODE_BITS),
        )
        .doing("CNode")?;
    let bookkeeping = space
        .object_from(memory, ObjectType::CNode, u64::from(BOOKKEEPING_BITS))
        .doing("CNode")?;
    let mut slots = Slots {
        cnode_guarded: 0,
        bookkeeping,
        next_bookkeeping: 1,
    };
    let guard = (64 - u64::from(si::COMPONENT_CNODE_BITS)) << 58;
    slots.cnode_guarded = space.slot().doing("slot")?;
    invoke::cnode_mint(
        CNODE,
        slots.cnode_guarded,
        CNODE,
        cnode,
        Rights::all(),
        guard,
    )
    .doing("CNode guard")?;
    let vspace = space
        .object_from(memory, ObjectType::VSpace, 0)
        .doing("VSpace")?;
    let tcb = space.object_from(memory, ObjectType::Tcb, 0).doing("TCB")?;

    // A new zeroed frame mapped at `vaddr`.
    let map_new = |space: &mut Space,
                   slots: &mut Slots,
                   memory: &mut Memory<1>,
                   vaddr: u64,
                   rights: Rights| {
        let frame = space.object_from(memory, ObjectType::Frame4K, 0)?;
        space.map(frame, vspace, vaddr, rights, memory, &mut |sp, pt| {
            slots.keep(sp, pt)
        })?;
        Ok::<u64, Error>(frame)
    };

    // The image, segment by segment, with the segment's permissions.
    for ph in segments.iter().filter(|p| p.p_type == PT_LOAD) {
        if ph.p_flags & PF_W != 0 && ph.p_flags & PF_X != 0 {
            return Err(BuildError::BadBinary(
                "a segment is writable and executable",
            ));
        }
        let mut rights = Rights::READ;
        if ph.p_flags & PF_W != 0 {
            rights |= Rights::WRITE;
        }
        if ph.p_flags & PF_X != 0 {
            rights |= Rights::EXECUTE;
        }
        let data = binary
            .get(ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize)
            .ok_or(BuildError::BadBinary("a segment lies outside the file"))?;
        let (start, end) = (ph.p_vaddr, ph.p_vaddr + ph.p_memsz);
        let mut page = start & !(PAGE - 1);
        while page < end {
            let frame = space
                .object_from(memory, ObjectType::Frame4K, 0)
                .doing("frame")?;
            let lo = page.max(start);
            let hi = (page + PAGE).min(start + ph.p_filesz);
            if lo < hi {
                let src = &data[(lo - start) as usize..(hi - start) as usize];
                space
                    .fill(frame, |p| {
                        p[(lo - page) as usize..(hi - page) as usize].copy_from_slice(src)
                    })
                    .doing("filling a frame")?;
            }
            space
                .map(frame, vspace, page, rights, memory, &mut |sp, pt| {
                    slots.keep(sp, pt)
                })
                .doing("mapping the image")?;
            slots.keep(space, frame).doing("slot")?;
            page += PAGE;
        }
    }

    // Stack (the page below it stays unmapped: the guard), heap, IPC buffer.
    let rw = Rights::READ | Rights::WRITE;
    let stack_pages = c.stack_bytes.div_ceil(PAGE).max(1);
    for i in 1..=stack_pages {
        let f = map_new(space, &mut slots, memory, si::STACK_TOP - i * PAGE, rw)
            .doing("mapping the stack")?;
        slots.keep(space, f).doing("slot")?;
    }
    // The heap in 2 MiB frames as far as it goes (a big heap would not fit
    // the bookkeeping CNode page by page), the rest in 4 KiB frames.
    let (large, small) = plan::heap_split(heap_bytes);
    for i in 0..large {
        let frame = space
            .object_from(heap, ObjectType::Frame2M, 0)
            .doing("frame")?;
        space
            .map(
                frame,
                vspace,
                si::HEAP_BASE + i * LARGE_PAGE,
                rw,
                memory,
                &mut |sp, pt| slots.keep(sp, pt),
            )
            .doing("mapping the heap")?;
        slots.keep(space, frame).doing("slot")?;
    }
    let small_base = si::HEAP_BASE + large * LARGE_PAGE;
    for i in 0..small.div_ceil(PAGE) {
        let f = map_new(space, &mut slots, memory, small_base + i * PAGE, rw)
            .doing("mapping the heap")?;
        slots.keep(space, f).doing("slot")?;
    }
    let ipc_buffer = map_new(space, &mut slots, memory, si::IPC_BUFFER_ADDR, rw)
        .doing("mapping the IPC buffer")?;
    invoke::cnode_copy(
        cnode,
        si::slot::IPC_BUFFER,
        CNODE,
        ipc_buffer,
        Rights::all(),
    )
    .doing("IPC buffer slot")?;
    invoke::cnode_copy(cnode, si::slot::CONSOLE, CNODE, CONSOLE, Rights::all())
        .doing("console slot")?;

    // Grants, in the order the start-info page lists them.
    let mut info = StartInfo {
        magic: si::MAGIC,
        version: si::VERSION,
        generation,
        heap_base: si::HEAP_BASE,
        heap_size: heap_bytes.div_ceil(PAGE) * PAGE,
        name: [0; si::NAME_BYTES],
        cap_count: 0,
        caps: [CapEntry {
            kind: 0,
            _reserved: [0; 7],
            physical: 0,
            peer_badge: 0,
            name: [0; si::NAME_BYTES],
            address: 0,
            value: 0,
        }; si::MAX_CAPS],
        args: [0; si::ARGS_BYTES],
        tsc_hz: shared.tsc_hz,
        wall_clock: shared.wall_clock,
        last_exit: *last_exit,
    };
    write_name(&mut info.name, &c.name);
    let me = index as u32;
    let mut region_at = si::REGIONS_BASE;
    let grant = |info: &mut StartInfo,
                 kind: CapKind,
                 name: &str,
                 address: u64,
                 value: u64|
     -> Result<u64, BuildError> {
        let i = info.cap_count as usize;
        let entry = info
            .caps
            .get_mut(i)
            .ok_or(BuildError::TooManyCapabilities)?;
        entry.kind = kind as u8;
        write_name(&mut entry.name, name);
        entry.address = address;
        entry.value = value;
        info.cap_count += 1;
        Ok(si::slot::FIRST_GRANTED + i as u64)
    };
    for (ch, &ep) in manifest.channels.iter().zip(&shared.channels) {
        if ch.server == me {
            let dest = grant(&mut info, CapKind::ServedChannel, &ch.name, 0, 0)?;
            invoke::cnode_mint(
                cnode,
                dest,
                CNODE,
                ep,
                Rights::READ | Rights::WRITE | Rights::GRANT,
                0,
            )
            .doing("granting a channel")?;
        }
        if ch.clients.contains(&me) {
            let dest = grant(&mut info, CapKind::UsedChannel, &ch.name, 0, 0)?;
            let rights = Rights::CALL | Rights::WRITE | Rights::GRANT;
            invoke::cnode_mint(cnode, dest, CNODE, ep, rights, u64::from(me) + 1)
                .doing("granting a channel")?;
        }
    }
    for (n, &ntfn) in manifest.notifications.iter().zip(&shared.notifications) {
        if n.owner == me {
            let dest = grant(&mut info, CapKind::Notification, &n.name, 0, 0)?;
            invoke::cnode_mint(cnode, dest, CNODE, ntfn, Rights::READ, 0)
                .doing("granting a notification")?;
        }
        if n.signallers.contains(&me) {
            let dest = grant(&mut info, CapKind::Signal, &n.name, 0, 0)?;
            invoke::cnode_mint(cnode, dest, CNODE, ntfn, Rights::WRITE, 1 << (me % 64))
                .doing("granting a notification")?;
        }
    }
    for (r, region) in manifest.regions.iter().zip(&shared.regions) {
        let frames = &region.frames;
        let Some(&(_, writable)) = r.users.iter().find(|(u, _)| *u == me) else {
            continue;
        };
        let slot = grant(&mut info, CapKind::Region, &r.name, region_at, r.size)?;
        let entry = &mut info.caps[(slot - si::slot::FIRST_GRANTED) as usize];
        entry.physical = region.physical;
        if let [(a, _), (b, _)] = r.users.as_slice() {
            entry.peer_badge = u64::from(if *a == me { *b } else { *a }) + 1;
        }
        let rights = if writable { rw } else { Rights::READ };
        map_copies(space, &mut slots, memory, vspace, frames, region_at, rights)
            .doing("mapping a region")?;
        region_at += r.size.next_multiple_of(2 << 20);
    }
    for d in &c.devices {
        match d {
            Device::Irq { name, irq } => {
                let dest = grant(&mut info, CapKind::Irq, name, 0, u64::from(*irq))?;
                invoke::irq_control_get(IRQ_CONTROL, u64::from(*irq), cnode, dest)
                    .doing("granting an IRQ")?;
            }
            Device::IoPorts { name, first, last } => {
                let value = u64::from(*first) | u64::from(*last) << 16;
                let dest = grant(&mut info, CapKind::IoPorts, name, 0, value)?;
                invoke::io_port_issue(
                    IO_PORT_CONTROL,
                    u64::from(*first),
                    u64::from(*last),
                    cnode,
                    dest,
                )
                .doing("granting I/O ports")?;
            }
            Device::Pci {
                name,
                interrupt: PciInterrupt::Msi,
                ..
            } => {
                let msi = alloc::format!("{name}.msi");
                let dest = grant(&mut info, CapKind::Irq, &msi, 0, 0)?;
                let line = invoke::irq_control_get_msi(IRQ_CONTROL, cnode, dest)
                    .doing("granting a message-signalled interrupt")?;
                info.caps[(dest - si::slot::FIRST_GRANTED) as usize].value = line;
            }
            // The BARs and the configuration page are granted below, from
            // what init found at boot.
            Device::Pci { .. } => {}
        }
    }
    for d in &shared.devices[index] {
        let slot = grant(&mut info, CapKind::DeviceMemory, &d.name, region_at, d.size)?;
        info.caps[(slot - si::slot::FIRST_GRANTED) as usize].physical = d.physical;
        map_copies(space, &mut slots, memory, vspace, &d.frames, region_at, rw)
            .doing("mapping device memory")?;
        region_at += d.size.next_multiple_of(2 << 20);
    }
    let mut args_len = 0;
    for (k, v) in &c.args {
        for part in [k.as_bytes(), b"=", v.as_bytes(), b"\n"] {
            let end = args_len + part.len();
            if end > si::ARGS_BYTES {
                break;
            }
            info.args[args_len..end].copy_from_slice(part);
            args_len = end;
        }
    }

    // The start-info page, read-only for the component.
    let info_frame = space
        .object_from(memory, ObjectType::Frame4K, 0)
        .doing("frame")?;
    // SAFETY: StartInfo is plain data (repr(C), no padding that matters to
    // the reader) and fits in a page.
    let bytes = unsafe {
        core::slice::from_raw_parts(
            &info as *const StartInfo as *const u8,
            size_of::<StartInfo>(),
        )
    };
    space
        .fill(info_frame, |p| p[..bytes.len()].copy_from_slice(bytes))
        .doing("start info")?;
    space
        .map(
            info_frame,
            vspace,
            si::START_INFO_ADDR,
            Rights::READ,
            memory,
            &mut |sp, pt| slots.keep(sp, pt),
        )
        .doing("mapping start info")?;
    slots.keep(space, info_frame).doing("slot")?;

    // The thread.
    let fault_badge = u64::from(me) + 1;
    let fault_ep = space.slot().doing("slot")?;
    invoke::cnode_mint(
        CNODE,
        fault_ep,
        CNODE,
        shared.fault_endpoint,
        Rights::WRITE,
        fault_badge,
    )
    .doing("fault endpoint")?;
    invoke::tcb_configure(
        tcb,
        slots.cnode_guarded,
        vspace,
        ipc_buffer,
        si::IPC_BUFFER_ADDR,
    )
    .doing("configuring the thread")?;
    invoke::tcb_set_fault_endpoint(tcb, fault_ep).doing("fault endpoint")?;
    invoke::cnode_delete(CNODE, fault_ep).doing("slot")?;
    space.release_slot(fault_ep);
    invoke::tcb_set_priority(tcb, u64::from(c.priority)).doing("priority")?;
    invoke::tcb_write_registers(
        tcb,
        file.ehdr.e_entry,
        si::STACK_TOP,
        si::START_INFO_ADDR,
        0,
    )
    .doing("registers")?;
    // The caps init no longer needs to name go to the bookkeeping CNode;
    // the TCB stays in a root slot so that init can stop it.
    for s in [ipc_buffer, vspace, slots.cnode_guarded, cnode] {
        slots.keep(space, s).doing("slot")?;
    }
    invoke::tcb_resume(tcb).doing("starting the thread")?;
    Ok(Started { tcb, bookkeeping })
}
