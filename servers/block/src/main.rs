//! `block`: a Basalt component that drives a virtio-blk PCI disk and
//! serves [`block::Block`] on the channel its config calls `block`:
//! requests in a submission ring, completions in a completion ring, the
//! data in the data area of the region it shares with its client, several
//! requests in the device at once. `init` starts it (see `docs/block.md`
//! and `config/block-test`). It logs:
//!
//! ```text
//! block: virtio-blk 1af4:1042 at configuration page 0xb0018000, 2 BARs, DMA region 64 KiB at physical 0x1470000
//! block: interrupts: MSI-X entry 0 on line 24
//! block: capacity 2048 sectors (1024 KiB), flush
//! block: serving block (generation 1, 32 requests in flight, 240 sectors per request at most)
//! ```
//!
//! With the device's interrupt granted (`interrupt = "msi"` on the PCI
//! device, so init grants the line `<device>.msi`) and a notification it
//! both owns and signals, it programs the device's MSI-X table and
//! virtio's queue vector and waits for interrupts; otherwise it polls.
//!
//! With the argument `self-check = "on"` it first writes and reads back
//! sectors 1 and 2 and logs sector 0 (`block: self-check passed`). With
//! `exit = "on-success"` a failed start-up ends the QEMU self-test run
//! through `DebugExit` (failure); otherwise the component exits, status 1.
//!
//! Arguments (declared in its Cargo.toml): `block` (the channel it
//! serves), `region` (the client's region), `dma` (the DMA region),
//! `device` (the PCI device's name: init grants its BARs, its
//! configuration space and its interrupt), `irq-notification` (the
//! notification the interrupt signals), `self-check`, `exit`.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "block is a Basalt component that init starts; \
         see docs/block.md (cargo xtask run --config config/block-test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(component::run);

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

#[cfg(target_os = "none")]
mod component {
    use crate::args::{Args, Exit, SelfCheck};
    use block::Block;
    use block::ahci::{self, Ahci, AhciError};
    use block::check::{self, CheckError, Failed, Hex, OneAtATime};
    use block::dma::{self, BlockHal, Window};
    use block::nvme::{self, Memory, Mmio, Nvme, NvmeError, Words};
    use block::server::{BlockServer, Device};
    use block::virtio::{self, InitError, VirtioBlk};
    use libcap::log::{error, info, warn};
    use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};
    use virtio_pci::device::{self, Function, OpenError};
    use virtio_pci::interrupt::{self, NoInterrupt};

    /// The transitional and modern virtio-blk device IDs.
    const BLOCK_DEVICES: [u16; 2] = [0x1001, 0x1042];
    /// QEMU's NVMe controller (Red Hat's vendor ID).
    const NVME: (u16, u16) = (0x1b36, 0x0010);
    /// Intel's ICH9 AHCI controller (q35's SATA).
    const AHCI: (u16, u16) = (0x8086, 0x2922);

    /// The step that went wrong (the runtime prints `block: main failed: …`).
    #[derive(Debug)]
    #[allow(dead_code)] // the fields are read only by `Debug`
    pub enum Failure {
        /// An argument does not bind to the grants.
        Args(libcap::bind::ArgError),
        /// The device could not be found or started: which grant (or
        /// step) failed.
        Open(OpenError),
        /// The device could not be set up.
        Init(InitError),
        /// The NVMe controller could not be set up.
        Nvme(NvmeError),
        /// The AHCI adapter or its disk could not be set up.
        Ahci(AhciError),
        /// The controller's BAR 0 (its registers) is not mapped.
        NoRegisters,
        /// The DMA region has too few free pages for the self-check's
        /// buffer (its size).
        DmaRegionTooSmall(usize),
        /// The self-check failed.
        Check(CheckError<Failed>),
    }

    /// Pages of the DMA region the self-check moves data through.
    const CHECK_PAGES: usize = 1;

    pub fn run(start: &'static libcap::Start) -> Result<(), Failure> {
        let args = Args::bind(start);
        let exit_on_failure = matches!(&args, Ok(a) if a.exit == Some(Exit::OnSuccess));
        let served = args.map_err(Failure::Args).and_then(|args| {
            let check = args.self_check == Some(SelfCheck::On);
            let interrupt = args.irq_notification.map(|n| n.name);
            let disk = bring_up(start, args.dma.cap, args.device, interrupt, check)?;
            let client = client_region(args.region);
            Ok((BlockServer::new(disk, client), args.block.cap))
        });
        match served {
            Ok((server, endpoint)) => serve(start, server, endpoint),
            Err(failure) => {
                error!("start-up failed: {failure:?}");
                if exit_on_failure {
                    libcap::syscall::try_debug_exit(false);
                }
                Err(failure)
            }
        }
    }

    /// Serves channel `block` forever.
    fn serve(
        start: &'static libcap::Start,
        mut server: BlockServer<Disk>,
        endpoint: libcap::Endpoint,
    ) -> ! {
        info!(
            "serving block (generation {}, {} requests in flight, {} sectors per request at most)",
            start.generation(),
            server.device().slots(),
            server.max_sectors()
        );
        server.serve(endpoint)
    }

    /// The client's region, its data area registered as memory the device
    /// may reach in place.
    fn client_region(
        region: libcap::bind::Named<libcap::start::SharedRegion>,
    ) -> Option<libcap::start::SharedRegion> {
        let libcap::bind::Named { name, cap: region } = region;
        let physical = region.physical();
        if physical == 0 {
            error!("region `{name}` has no physical address: every request will fail");
            return None;
        }
        if region.len() > block::DATA_OFFSET {
            let window = Window {
                phys: physical + block::DATA_OFFSET as u64,
                virt: region.as_ptr() as usize + block::DATA_OFFSET,
                len: region.len() - block::DATA_OFFSET,
            };
            // SAFETY: init maps the region read-write for the component's
            // lifetime, physically contiguous from `physical`; the device
            // writes only the buffers of read requests, which the server
            // checked lie in the data area.
            if !unsafe { dma::add_dma_window(window) } {
                warn!("no DMA window left for `{name}`: its data goes through bounce pages");
            }
        }
        Some(region)
    }

    /// The disk the server drives: virtio-blk or NVMe.
    // One lives for the program's life: the variants' sizes do not matter.
    #[allow(clippy::large_enum_variant)]
    enum Disk {
        Virtio(VirtioBlk),
        Nvme(Nvme<Mmio>),
        Ahci(Ahci<Mmio>),
    }

    impl Device for Disk {
        fn capacity(&self) -> u64 {
            match self {
                Disk::Virtio(d) => d.capacity(),
                Disk::Nvme(d) => d.capacity(),
                Disk::Ahci(d) => d.capacity(),
            }
        }

        fn slots(&self) -> usize {
            match self {
                Disk::Virtio(d) => d.slots(),
                Disk::Nvme(d) => d.slots(),
                Disk::Ahci(d) => d.slots(),
            }
        }

        unsafe fn start(&mut self, slot: usize, transfer: block::server::Transfer) -> bool {
            // SAFETY: the caller's contract, passed on.
            unsafe {
                match self {
                    Disk::Virtio(d) => d.start(slot, transfer),
                    Disk::Nvme(d) => d.start(slot, transfer),
                    Disk::Ahci(d) => d.start(slot, transfer),
                }
            }
        }

        fn poll(&mut self) -> Option<(usize, bool)> {
            match self {
                Disk::Virtio(d) => d.poll(),
                Disk::Nvme(d) => d.poll(),
                Disk::Ahci(d) => d.poll(),
            }
        }

        fn wait(&mut self) {
            match self {
                Disk::Virtio(d) => d.wait(),
                Disk::Nvme(d) => d.wait(),
                Disk::Ahci(d) => d.wait(),
            }
        }
    }

    /// Finds the device, starts the driver, runs the self-check if asked
    /// to and makes the server.
    fn bring_up(
        start: &'static libcap::Start,
        dma: libcap::start::SharedRegion,
        device: &'static str,
        interrupt: Option<&'static str>,
        self_check: bool,
    ) -> Result<Disk, Failure> {
        let wanted = |vendor, id| {
            (vendor, id) == NVME
                || (vendor, id) == AHCI
                || (vendor == device::VIRTIO_VENDOR && BLOCK_DEVICES.contains(&id))
        };
        let mut function =
            device::open_function(start, dma, device, wanted).map_err(Failure::Open)?;
        let dma_bytes = function.dma.0;
        let mut disk = if function.ids == NVME {
            Disk::Nvme(nvme(start, &mut function, device, interrupt)?)
        } else if function.ids == AHCI {
            Disk::Ahci(ahci(start, &mut function, device, interrupt)?)
        } else {
            let opened =
                device::start_virtio(start, function, device, interrupt).map_err(Failure::Open)?;
            info!("{}", opened.describe("virtio-blk"));
            let mut disk = VirtioBlk::new(opened.transport).map_err(Failure::Init)?;
            match opened.interrupt {
                Ok(i) if i.routed(virtio::QUEUE) => {
                    info!("interrupts: MSI-X entry 0 on line {}", i.line);
                    disk.wait_for_interrupts(i.notification);
                }
                Ok(_) => warn!("the device refused MSI-X entry 0 for its queue: polling"),
                Err(NoInterrupt::NotGranted | NoInterrupt::NoNotificationGiven) => {
                    info!("no interrupt: polling")
                }
                Err(why) => warn!("{why}: polling"),
            }
            let capacity = disk.capacity();
            info!(
                "capacity {capacity} sectors ({} KiB){}{}",
                capacity / 2,
                if disk.has_flush() { ", flush" } else { "" },
                if disk.read_only() { ", read-only" } else { "" }
            );
            Disk::Virtio(disk)
        };

        if self_check {
            // The check's buffer lies in the DMA region, used in place.
            if dma::free_dma_pages() < CHECK_PAGES {
                return Err(Failure::DmaRegionTooSmall(dma_bytes));
            }
            let (phys, pages) = BlockHal::dma_alloc(CHECK_PAGES, BufferDirection::Both);
            // SAFETY: pages of the DMA region that this function owns
            // until it frees them below.
            let buf =
                unsafe { core::slice::from_raw_parts_mut(pages.as_ptr(), CHECK_PAGES * PAGE_SIZE) };
            let report = check::self_check(&mut OneAtATime(&mut disk), buf);
            // SAFETY: allocated above; the check is over, so the device is
            // done with them.
            unsafe { BlockHal::dma_dealloc(phys, pages, CHECK_PAGES) };
            let report = report.map_err(Failure::Check)?;
            info!(
                "sectors {}-{} written and read back",
                check::FIRST_CHECK_SECTOR,
                check::FIRST_CHECK_SECTOR + check::CHECK_SECTORS as u64 - 1
            );
            info!("sector 0 starts {}", Hex(&report.sector0));
            info!("self-check passed");
        }
        Ok(disk)
    }

    /// `words` zeroed words of the DMA region, page-aligned, handed to a
    /// controller for the rest of the program (the caller checked that
    /// the region has the pages).
    fn dma_words(words: usize) -> Words {
        let (phys, ptr) =
            BlockHal::dma_alloc((words * 8).div_ceil(PAGE_SIZE), BufferDirection::Both);
        // SAFETY: zeroed, page-aligned pages of the DMA region handed to
        // the controller for the rest of the program (never freed), read
        // and written only as atomic words here and by it.
        let words = unsafe {
            core::slice::from_raw_parts(ptr.as_ptr().cast::<core::sync::atomic::AtomicU64>(), words)
        };
        Words { words, phys }
    }

    /// Starts the AHCI adapter of `function` and its first disk: its
    /// memory in the DMA region, its MSI if `interrupt` is given.
    fn ahci(
        start: &'static libcap::Start,
        function: &mut Function,
        device: &'static str,
        interrupt: Option<&'static str>,
    ) -> Result<Ahci<Mmio>, Failure> {
        let (regs, len) = function
            .registers(5, 0x100 + 0x80)
            .ok_or(Failure::NoRegisters)?;
        info!("{}", function.describe("ahci", (5, len)));
        let pages: usize = ahci::Memory::WORDS
            .iter()
            .map(|w| (w * 8).div_ceil(PAGE_SIZE))
            .sum();
        if dma::free_dma_pages() < pages + CHECK_PAGES {
            return Err(Failure::DmaRegionTooSmall(function.dma.0));
        }
        let [commands, fis, tables, identify] = ahci::Memory::WORDS.map(dma_words);
        let memory = ahci::Memory {
            commands,
            fis,
            tables,
            identify,
        };
        let mut disk = Ahci::new(regs, memory, dma::phys_in_place).map_err(Failure::Ahci)?;
        match interrupt {
            Some(notification) => {
                let root = &mut function.root;
                match interrupt::msi(start, device, notification, root, function.cam) {
                    Ok(msi) => {
                        info!("interrupts: MSI on line {}", msi.line);
                        disk.wait_for_interrupts(msi.notification);
                    }
                    Err(why) => warn!("{why}: polling"),
                }
            }
            None => info!("no interrupt: polling"),
        }
        let id = disk.identity();
        info!(
            "port {}: capacity {} sectors ({} KiB){}",
            id.port,
            id.sectors,
            id.sectors / 2,
            if id.flush { ", flush" } else { "" }
        );
        Ok(disk)
    }

    /// Starts the NVMe controller of `function`: its queues in the DMA
    /// region, its MSI-X entry 0 if `interrupt` is given.
    fn nvme(
        start: &'static libcap::Start,
        function: &mut Function,
        device: &'static str,
        interrupt: Option<&'static str>,
    ) -> Result<Nvme<Mmio>, Failure> {
        let (regs, len) = function
            .registers(0, nvme::REGISTERS)
            .ok_or(Failure::NoRegisters)?;
        info!("{}", function.describe("nvme", (0, len)));
        let pages: usize = Memory::WORDS
            .iter()
            .map(|w| (w * 8).div_ceil(PAGE_SIZE))
            .sum();
        if dma::free_dma_pages() < pages + CHECK_PAGES {
            return Err(Failure::DmaRegionTooSmall(function.dma.0));
        }
        let piece = |i: usize| dma_words(Memory::WORDS[i]);
        let memory = Memory {
            admin_sq: piece(0),
            admin_cq: piece(1),
            io_sq: piece(2),
            io_cq: piece(3),
            identify: piece(4),
            prp: piece(5),
        };
        // MSI-X on before the queues are made: QEMU's controller takes a
        // completion queue's vector only if MSI-X is on when it is made.
        let msi = match interrupt {
            Some(notification) => {
                let root = &mut function.root;
                match interrupt::msix(start, device, notification, root, function.cam) {
                    Ok(msi) => {
                        info!("interrupts: MSI-X entry 0 on line {}", msi.line);
                        Some(msi.notification)
                    }
                    Err(why) => {
                        warn!("{why}: polling");
                        None
                    }
                }
            }
            None => {
                info!("no interrupt: polling");
                None
            }
        };
        let mut disk = Nvme::new(regs, memory, dma::phys_in_place).map_err(Failure::Nvme)?;
        if let Some(n) = msi {
            disk.wait_for_interrupts(n);
        }
        let id = disk.identity();
        info!(
            "capacity {} sectors ({} KiB){}",
            id.blocks,
            id.blocks / 2,
            if id.write_cache { ", flush" } else { "" }
        );
        Ok(disk)
    }
}
