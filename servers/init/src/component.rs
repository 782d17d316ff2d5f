//! Building one component from the manifest: its memory, address space,
//! CSpace, granted capabilities, start-info page and thread.
//!
//! [`start`] runs the phases in a fixed order, each a [`Builder`] method
//! named for what it builds. Every object comes from the component's own
//! memory (page tables included), so revoking that memory undoes a build,
//! finished or not.

use crate::plan::{self, BOOKKEEPING_BITS, LARGE_PAGE, PAGE};
use crate::space::{CNODE, CONSOLE, IO_PORT_CONTROL, IRQ_CONTROL, Memory, Space};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use basalt_abi::start_info::{self as si, CapEntry, CapKind, StartInfo};
use basalt_abi::{ObjectType, Rights};
use elf::ElfBytes;
use elf::abi::{PF_W, PF_X, PT_LOAD};
use elf::endian::LittleEndian;
use elf::segment::{ProgramHeader, SegmentTable};
use libcap::{CNode, Endpoint, Error, Frame, Tcb, VSpace};
use manifest::{Channel, Component, Device, Manifest, NotificationDecl, PciInterrupt, Region};

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
    /// Per component: what each of its `interrupt = "any"` PCI devices
    /// interrupts through (a device missing here gets no interrupt).
    pub lines: alloc::vec::Vec<alloc::vec::Vec<PciLine>>,
}

/// The interrupt init found for a PCI device with `interrupt = "any"`,
/// by the device's name.
pub enum PciLine {
    /// The function has MSI or MSI-X: a message-signalled line.
    Msi(alloc::string::String),
    /// Its INTx pin drives this IRQ line.
    Intx(alloc::string::String, u8),
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

/// A started component: the root slots it occupies in init's CNode (they
/// empty when its memory is revoked), and what init needs to map the
/// rest of its heap as the component first touches it.
pub struct Started {
    tcb: u64,
    vspace: VSpace,
    book: Bookkeeping,
    /// Its heap's large frames (see [`plan::heap_split`]).
    large: u64,
    /// Which of them are mapped, a bit each.
    mapped: Vec<u64>,
}

impl Started {
    /// The root slots to release once its memory is revoked.
    pub fn root_slots(&self) -> [u64; 3] {
        [self.tcb, self.vspace.raw(), self.book.cnode.raw()]
    }

    /// Answers a page fault at `address` (error code `code`) that is the
    /// first touch of one of the heap's large frames: a new zeroed frame
    /// from the heap's own memory is mapped there, so that the thread can
    /// retry. `None` when the fault is not that (the component failed);
    /// `Some(Err)` when mapping failed. The heap's memory was set aside at
    /// start, so a frame is always there for each large page, made at most
    /// once: a component cannot make init do more than the heap's worth.
    pub fn fault_in_heap(
        &mut self,
        space: &mut Space,
        own: &mut Own,
        address: u64,
        code: u64,
    ) -> Option<Result<(), Error>> {
        let index = plan::heap_page(si::HEAP_BASE, self.large, address, code)?;
        let (word, bit) = ((index / 64) as usize, 1u64 << (index % 64));
        if self.mapped[word] & bit != 0 {
            // Another thread's fault on the same page, queued before the
            // first was answered: the page is there now.
            return Some(Ok(()));
        }
        let result = space
            .object_from(&mut own.heap, ObjectType::Frame2M, 0)
            .map(Frame::from_raw)
            .and_then(|frame| {
                let book = &mut self.book;
                space.map(
                    frame,
                    self.vspace,
                    si::HEAP_BASE + index * LARGE_PAGE,
                    RW,
                    &mut own.objects,
                    &mut |space, table| book.keep(space, table),
                )?;
                self.book.keep(space, frame.raw())
            });
        if result.is_ok() {
            self.mapped[word] |= bit;
        }
        Some(result)
    }
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

/// Read-write: the rights of the stack, heap, IPC buffer and writable
/// regions.
const RW: Rights = Rights::READ.union(Rights::WRITE);

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
    let c = &manifest.components[index];
    let me = index as u32;
    let image = Image::parse(binary)?;

    let mut build = Builder::new(space, &mut own.objects)?;
    build.load_image(&image)?;
    build.map_stack(c.stack_bytes)?;
    build.map_heap_tail(own.heap_bytes)?;
    let ipc_buffer = build.map_ipc_buffer()?;
    build.grant_well_known(ipc_buffer)?;

    // Grants, in the order the start-info page lists them.
    let mut page = StartPage::new(c, generation, own.heap_bytes, shared, last_exit);
    build.grant_channels(&mut page, &manifest.channels, &shared.channels, me)?;
    build.grant_notifications(
        &mut page,
        &manifest.notifications,
        &shared.notifications,
        me,
    )?;
    build.grant_regions(&mut page, &manifest.regions, &shared.regions, me)?;
    build.grant_devices(&mut page, &c.devices, &shared.lines[index])?;
    build.grant_device_memory(&mut page, &shared.devices[index])?;
    page.write_args(&c.args);
    build.map_start_info(&page.info)?;

    build.start_thread(
        ipc_buffer,
        shared.fault_endpoint,
        me,
        c.priority,
        image.entry,
        own.heap_bytes,
    )
}

/// A component's ELF binary, as far as init reads it.
struct Image<'a> {
    binary: &'a [u8],
    segments: SegmentTable<'a, LittleEndian>,
    entry: u64,
}

impl<'a> Image<'a> {
    fn parse(binary: &'a [u8]) -> Result<Self, BuildError> {
        let file = ElfBytes::<LittleEndian>::minimal_parse(binary)
            .map_err(|_| BuildError::BadBinary("not an ELF file"))?;
        let segments = file
            .segments()
            .ok_or(BuildError::BadBinary("no program headers"))?;
        Ok(Self {
            binary,
            segments,
            entry: file.ehdr.e_entry,
        })
    }
}

/// The rights a loadable segment's pages are mapped with: its own, and
/// never both writable and executable.
fn segment_rights(ph: &ProgramHeader) -> Result<Rights, BuildError> {
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
    Ok(rights)
}

/// The bookkeeping CNode: where init moves the capabilities to a
/// component's objects that it need not name again (frames, page tables,
/// the CSpace and VSpace), so that they die with the component instead of
/// filling init's root CNode.
struct Bookkeeping {
    cnode: CNode,
    /// Its next empty slot.
    next: u64,
}

impl Bookkeeping {
    /// Moves the capability in root slot `slot` here and frees the root
    /// slot.
    fn keep(&mut self, space: &mut Space, slot: u64) -> Result<(), Error> {
        self.cnode.move_cap(self.next, CNODE, slot)?;
        self.next += 1;
        space.release_slot(slot);
        Ok(())
    }
}

/// A component being built: the objects the phases build on (made first,
/// by [`Builder::new`]), and what init needs to make more.
struct Builder<'a> {
    space: &'a mut Space,
    /// The component's own memory: its objects, frames and page tables.
    memory: &'a mut Memory<1>,
    /// Its CNode, where its well-known and granted capabilities go.
    cnode: CNode,
    /// `cnode` again, minted with a guard that takes up the address bits
    /// above its radix: the thread's CSpace root, under which the
    /// component's capability addresses are slot numbers of `cnode`.
    cspace: CNode,
    book: Bookkeeping,
    vspace: VSpace,
    tcb: Tcb,
}

impl<'a> Builder<'a> {
    /// The component's CNode, bookkeeping CNode, CSpace root, VSpace and
    /// TCB, from `memory`.
    fn new(space: &'a mut Space, memory: &'a mut Memory<1>) -> Result<Self, BuildError> {
        let cnode: CNode = space
            .make(memory, u64::from(si::COMPONENT_CNODE_BITS))
            .doing("CNode")?;
        let book = Bookkeeping {
            cnode: space
                .make(memory, u64::from(BOOKKEEPING_BITS))
                .doing("CNode")?,
            next: 1,
        };
        let cspace = CNode::from_raw(space.slot().doing("slot")?);
        let guard = (64 - u64::from(si::COMPONENT_CNODE_BITS)) << 58;
        CNODE
            .mint(cspace.raw(), CNODE, cnode.raw(), Rights::all(), guard)
            .doing("CNode guard")?;
        let vspace = space.make(memory, 0).doing("VSpace")?;
        let tcb = space.make(memory, 0).doing("TCB")?;
        Ok(Self {
            space,
            memory,
            cnode,
            cspace,
            book,
            vspace,
            tcb,
        })
    }

    /// Moves the capability in root slot `slot` to the bookkeeping CNode.
    fn keep(&mut self, slot: u64) -> Result<(), Error> {
        self.book.keep(self.space, slot)
    }

    /// Maps `frame` at `vaddr` of the component's VSpace, with the page
    /// tables it needs from the component's memory.
    fn map(&mut self, frame: Frame, vaddr: u64, rights: Rights) -> Result<(), Error> {
        let book = &mut self.book;
        self.space.map(
            frame,
            self.vspace,
            vaddr,
            rights,
            self.memory,
            &mut |space, table| book.keep(space, table),
        )
    }

    /// A new zeroed frame mapped at `vaddr`.
    fn map_new(&mut self, vaddr: u64, rights: Rights) -> Result<Frame, Error> {
        let frame = self.space.make(self.memory, 0)?;
        self.map(frame, vaddr, rights)?;
        Ok(frame)
    }

    /// Maps copies of `frames` (capabilities init keeps, shared between
    /// components) one after the other from `at`; the copies die with the
    /// component.
    fn map_copies(&mut self, frames: &[u64], at: u64, rights: Rights) -> Result<(), Error> {
        for (i, &frame) in frames.iter().enumerate() {
            let copy = Frame::from_raw(self.space.slot()?);
            CNODE.copy(copy.raw(), CNODE, frame, Rights::all())?;
            self.map(copy, at + i as u64 * PAGE, rights)?;
            self.keep(copy.raw())?;
        }
        Ok(())
    }

    /// The image, segment by segment, with each segment's permissions.
    fn load_image(&mut self, image: &Image<'_>) -> Result<(), BuildError> {
        for ph in image.segments.iter().filter(|p| p.p_type == PT_LOAD) {
            let rights = segment_rights(&ph)?;
            let data = image
                .binary
                .get(ph.p_offset as usize..(ph.p_offset + ph.p_filesz) as usize)
                .ok_or(BuildError::BadBinary("a segment lies outside the file"))?;
            self.load_segment(&ph, data, rights)?;
        }
        Ok(())
    }

    /// Maps the pages of segment `ph` with `rights`: each a new frame
    /// holding what of `data` (the segment's bytes in the file) falls in
    /// it, the rest zero.
    fn load_segment(
        &mut self,
        ph: &ProgramHeader,
        data: &[u8],
        rights: Rights,
    ) -> Result<(), BuildError> {
        let (start, end) = (ph.p_vaddr, ph.p_vaddr + ph.p_memsz);
        let mut page = start & !(PAGE - 1);
        while page < end {
            let frame = self.space.make(self.memory, 0).doing("frame")?;
            let lo = page.max(start);
            let hi = (page + PAGE).min(start + ph.p_filesz);
            if lo < hi {
                let src = &data[(lo - start) as usize..(hi - start) as usize];
                self.space
                    .fill(frame, |p| {
                        p[(lo - page) as usize..(hi - page) as usize].copy_from_slice(src)
                    })
                    .doing("filling a frame")?;
            }
            self.map(frame, page, rights).doing("mapping the image")?;
            self.keep(frame.raw()).doing("slot")?;
            page += PAGE;
        }
        Ok(())
    }

    /// The stack, `stack_bytes` (at least a page) below [`si::STACK_TOP`];
    /// the page below it stays unmapped: the guard.
    fn map_stack(&mut self, stack_bytes: u64) -> Result<(), BuildError> {
        for i in 1..=stack_bytes.div_ceil(PAGE).max(1) {
            let frame = self
                .map_new(si::STACK_TOP - i * PAGE, RW)
                .doing("mapping the stack")?;
            self.keep(frame.raw()).doing("slot")?;
        }
        Ok(())
    }

    /// The end of the heap (`heap_bytes` from [`si::HEAP_BASE`]) that is
    /// not whole 2 MiB, in 4 KiB frames. The 2 MiB frames before it (a big
    /// heap would not fit the bookkeeping CNode page by page) are mapped
    /// when first touched: [`Started::fault_in_heap`].
    fn map_heap_tail(&mut self, heap_bytes: u64) -> Result<(), BuildError> {
        let (large, small) = plan::heap_split(heap_bytes);
        let small_base = si::HEAP_BASE + large * LARGE_PAGE;
        for i in 0..small.div_ceil(PAGE) {
            let frame = self
                .map_new(small_base + i * PAGE, RW)
                .doing("mapping the heap")?;
            self.keep(frame.raw()).doing("slot")?;
        }
        Ok(())
    }

    /// The IPC buffer; its frame stays in a root slot until the thread is
    /// configured with it.
    fn map_ipc_buffer(&mut self) -> Result<Frame, BuildError> {
        self.map_new(si::IPC_BUFFER_ADDR, RW)
            .doing("mapping the IPC buffer")
    }

    /// The capabilities every component finds at the same slots: its IPC
    /// buffer's frame and the console.
    fn grant_well_known(&mut self, ipc_buffer: Frame) -> Result<(), BuildError> {
        self.cnode
            .copy(si::slot::IPC_BUFFER, CNODE, ipc_buffer.raw(), Rights::all())
            .doing("IPC buffer slot")?;
        self.cnode
            .copy(si::slot::CONSOLE, CNODE, CONSOLE, Rights::all())
            .doing("console slot")
    }

    /// The channels component `me` serves (the endpoint with the right to
    /// receive) and uses (badged with `me + 1`, so that the server knows
    /// its callers apart); `endpoints` are theirs, in the same order.
    fn grant_channels(
        &mut self,
        page: &mut StartPage,
        channels: &[Channel],
        endpoints: &[u64],
        me: u32,
    ) -> Result<(), BuildError> {
        for (ch, &ep) in channels.iter().zip(endpoints) {
            if ch.server == me {
                let (dest, _) = page.grant(CapKind::ServedChannel, &ch.name, 0, 0)?;
                let rights = Rights::READ | Rights::WRITE | Rights::GRANT;
                self.cnode
                    .mint(dest, CNODE, ep, rights, 0)
                    .doing("granting a channel")?;
            }
            if ch.clients.contains(&me) {
                let (dest, _) = page.grant(CapKind::UsedChannel, &ch.name, 0, 0)?;
                let rights = Rights::CALL | Rights::WRITE | Rights::GRANT;
                self.cnode
                    .mint(dest, CNODE, ep, rights, u64::from(me) + 1)
                    .doing("granting a channel")?;
            }
        }
        Ok(())
    }

    /// The notifications component `me` waits on, and those it signals
    /// (badged with its own bit, so that the waiter sees who signalled);
    /// `objects` are theirs, in the same order.
    fn grant_notifications(
        &mut self,
        page: &mut StartPage,
        notifications: &[NotificationDecl],
        objects: &[u64],
        me: u32,
    ) -> Result<(), BuildError> {
        for (n, &ntfn) in notifications.iter().zip(objects) {
            if n.owner == me {
                let (dest, _) = page.grant(CapKind::Notification, &n.name, 0, 0)?;
                self.cnode
                    .mint(dest, CNODE, ntfn, Rights::READ, 0)
                    .doing("granting a notification")?;
            }
            if n.signallers.contains(&me) {
                let (dest, _) = page.grant(CapKind::Signal, &n.name, 0, 0)?;
                self.cnode
                    .mint(dest, CNODE, ntfn, Rights::WRITE, 1 << (me % 64))
                    .doing("granting a notification")?;
            }
        }
        Ok(())
    }

    /// The shared regions component `me` uses, mapped read-only or
    /// read-write as the config says; a region of two users names the
    /// other's badge. `frames` are theirs, in the same order.
    fn grant_regions(
        &mut self,
        page: &mut StartPage,
        regions: &[Region],
        frames: &[SharedRegion],
        me: u32,
    ) -> Result<(), BuildError> {
        for (r, region) in regions.iter().zip(frames) {
            let Some(&(_, writable)) = r.users.iter().find(|(u, _)| *u == me) else {
                continue;
            };
            let at = page.next_region(r.size);
            let (_, entry) = page.grant(CapKind::Region, &r.name, at, r.size)?;
            entry.physical = region.physical;
            if let [(a, _), (b, _)] = r.users.as_slice() {
                entry.peer_badge = u64::from(if *a == me { *b } else { *a }) + 1;
            }
            let rights = if writable { RW } else { Rights::READ };
            self.map_copies(&region.frames, at, rights)
                .doing("mapping a region")?;
        }
        Ok(())
    }

    /// The component's IRQs, I/O ports and PCI interrupts (`lines`: what
    /// init found for its `interrupt = "any"` devices), made straight into
    /// its CNode. The handles the control capabilities return name slots
    /// of the component's CSpace, not of init's, so init drops them.
    fn grant_devices(
        &mut self,
        page: &mut StartPage,
        devices: &[Device],
        lines: &[PciLine],
    ) -> Result<(), BuildError> {
        for d in devices {
            match d {
                Device::Irq { name, irq } => {
                    let (dest, _) = page.grant(CapKind::Irq, name, 0, u64::from(*irq))?;
                    IRQ_CONTROL
                        .get(u64::from(*irq), self.cnode, dest)
                        .doing("granting an IRQ")?;
                }
                Device::IoPorts { name, first, last } => {
                    let value = u64::from(*first) | u64::from(*last) << 16;
                    let (dest, _) = page.grant(CapKind::IoPorts, name, 0, value)?;
                    IO_PORT_CONTROL
                        .issue(u64::from(*first), u64::from(*last), self.cnode, dest)
                        .doing("granting I/O ports")?;
                }
                Device::Pci {
                    name,
                    interrupt: PciInterrupt::Msi,
                    ..
                } => self.grant_msi(page, name)?,
                Device::Pci {
                    name,
                    interrupt: PciInterrupt::Any,
                    ..
                } => match lines.iter().find(|l| match l {
                    PciLine::Msi(n) | PciLine::Intx(n, _) => n == name,
                }) {
                    Some(PciLine::Msi(_)) => self.grant_msi(page, name)?,
                    Some(&PciLine::Intx(_, line)) => {
                        let intx = alloc::format!("{name}.intx");
                        let (dest, _) = page.grant(CapKind::Irq, &intx, 0, u64::from(line))?;
                        IRQ_CONTROL
                            .get(u64::from(line), self.cnode, dest)
                            .doing("granting a PCI interrupt line")?;
                    }
                    // Init said at boot why there is none.
                    None => {}
                },
                // The BARs and the configuration page are granted by
                // `grant_device_memory`, from what init found at boot.
                Device::Pci { .. } => {}
            }
        }
        Ok(())
    }

    /// A message-signalled line for PCI device `name`, as `<name>.msi`.
    fn grant_msi(&mut self, page: &mut StartPage, name: &str) -> Result<(), BuildError> {
        let msi = alloc::format!("{name}.msi");
        let (dest, entry) = page.grant(CapKind::Irq, &msi, 0, 0)?;
        let (_, line) = IRQ_CONTROL
            .get_msi(self.cnode, dest)
            .doing("granting a message-signalled interrupt")?;
        entry.value = line;
        Ok(())
    }

    /// The memory BARs and configuration pages of the component's PCI
    /// devices, mapped read-write after its regions.
    fn grant_device_memory(
        &mut self,
        page: &mut StartPage,
        grants: &[DeviceGrant],
    ) -> Result<(), BuildError> {
        for d in grants {
            let at = page.next_region(d.size);
            let (_, entry) = page.grant(CapKind::DeviceMemory, &d.name, at, d.size)?;
            entry.physical = d.physical;
            self.map_copies(&d.frames, at, RW)
                .doing("mapping device memory")?;
        }
        Ok(())
    }

    /// The start-info page, read-only for the component.
    fn map_start_info(&mut self, info: &StartInfo) -> Result<(), BuildError> {
        let frame = self.space.make(self.memory, 0).doing("frame")?;
        // SAFETY: StartInfo is plain data (repr(C), no padding that matters
        // to the reader) and fits in a page.
        let bytes = unsafe {
            core::slice::from_raw_parts(
                info as *const StartInfo as *const u8,
                size_of::<StartInfo>(),
            )
        };
        self.space
            .fill(frame, |p| p[..bytes.len()].copy_from_slice(bytes))
            .doing("start info")?;
        self.map(frame, si::START_INFO_ADDR, Rights::READ)
            .doing("mapping start info")?;
        self.keep(frame.raw()).doing("slot")
    }

    /// The thread: its CSpace, VSpace and IPC buffer, faults reported to
    /// `fault_endpoint` badged `me + 1`, `priority`, and registers that
    /// start it at `entry` with the start-info page's address; then it
    /// runs. Init keeps the TCB (to stop it) and the VSpace (to map its
    /// heap, `heap_bytes`, as it grows) in root slots.
    fn start_thread(
        mut self,
        ipc_buffer: Frame,
        fault_endpoint: u64,
        me: u32,
        priority: u8,
        entry: u64,
        heap_bytes: u64,
    ) -> Result<Started, BuildError> {
        let fault_ep = Endpoint::from_raw(self.space.slot().doing("slot")?);
        CNODE
            .mint(
                fault_ep.raw(),
                CNODE,
                fault_endpoint,
                Rights::WRITE,
                u64::from(me) + 1,
            )
            .doing("fault endpoint")?;
        self.tcb
            .configure(self.cspace, self.vspace, ipc_buffer, si::IPC_BUFFER_ADDR)
            .doing("configuring the thread")?;
        self.tcb
            .set_fault_endpoint(Some(fault_ep))
            .doing("fault endpoint")?;
        // The TCB holds a copy of its own: init's badged one can go.
        CNODE.delete(fault_ep.raw()).doing("slot")?;
        self.space.release_slot(fault_ep.raw());
        self.tcb
            .set_priority(u64::from(priority))
            .doing("priority")?;
        self.tcb
            .write_registers(entry, si::STACK_TOP, si::START_INFO_ADDR, 0)
            .doing("registers")?;
        for slot in [ipc_buffer.raw(), self.cspace.raw(), self.cnode.raw()] {
            self.keep(slot).doing("slot")?;
        }
        self.tcb.resume().doing("starting the thread")?;
        let (large, _) = plan::heap_split(heap_bytes);
        Ok(Started {
            tcb: self.tcb.raw(),
            vspace: self.vspace,
            book: self.book,
            large,
            mapped: vec![0; large.div_ceil(64) as usize],
        })
    }
}

/// The start-info page as the grants fill it in.
struct StartPage {
    info: StartInfo,
    /// Where the next region or device memory is mapped.
    region_at: u64,
}

impl StartPage {
    /// The page of component `c`, generation `generation`, before any
    /// grant.
    fn new(
        c: &Component,
        generation: u64,
        heap_bytes: u64,
        shared: &Shared,
        last_exit: &[u8; si::LAST_EXIT_BYTES],
    ) -> Self {
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
        Self {
            info,
            region_at: si::REGIONS_BASE,
        }
    }

    /// Lists the next grant; returns the slot of the component's CNode it
    /// goes in (grants fill the slots from [`si::slot::FIRST_GRANTED`] in
    /// the order they are listed) and its entry, for what is known only
    /// once it is made.
    fn grant(
        &mut self,
        kind: CapKind,
        name: &str,
        address: u64,
        value: u64,
    ) -> Result<(u64, &mut CapEntry), BuildError> {
        let i = self.info.cap_count as usize;
        let entry = self
            .info
            .caps
            .get_mut(i)
            .ok_or(BuildError::TooManyCapabilities)?;
        entry.kind = kind as u8;
        write_name(&mut entry.name, name);
        entry.address = address;
        entry.value = value;
        self.info.cap_count += 1;
        Ok((si::slot::FIRST_GRANTED + i as u64, entry))
    }

    /// Where a region or device memory of `size` bytes is mapped: after
    /// the last one, on a 2 MiB boundary.
    fn next_region(&mut self, size: u64) -> u64 {
        let at = self.region_at;
        self.region_at += size.next_multiple_of(LARGE_PAGE);
        at
    }

    /// The component's arguments as `key=value` lines, cut short where
    /// they would overflow the page's room for them.
    fn write_args(&mut self, args: &[(String, String)]) {
        let mut len = 0;
        for (k, v) in args {
            for part in [k.as_bytes(), b"=", v.as_bytes(), b"\n"] {
                let end = len + part.len();
                if end > si::ARGS_BYTES {
                    break;
                }
                self.info.args[len..end].copy_from_slice(part);
                len = end;
            }
        }
    }
}

fn write_name(dest: &mut [u8; si::NAME_BYTES], name: &str) {
    let n = name.len().min(si::NAME_BYTES);
    dest[..n].copy_from_slice(&name.as_bytes()[..n]);
}
