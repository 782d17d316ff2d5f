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
    use block::check::{self, CheckError, Failed, Hex, OneAtATime};
    use block::dma::{self, BlockHal, Window};
    use block::server::{BlockServer, Device};
    use block::virtio::{self, InitError, VirtioBlk};
    use libcap::log::{error, info, warn};
    use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};
    use virtio_pci::device::{self, Names, OpenError};
    use virtio_pci::interrupt::NoInterrupt;

    /// The transitional and modern block device IDs.
    const BLOCK_DEVICES: [u16; 2] = [0x1001, 0x1042];

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
        mut server: BlockServer<VirtioBlk>,
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

    /// Finds the device, starts the driver, runs the self-check if asked
    /// to and makes the server.
    fn bring_up(
        start: &'static libcap::Start,
        dma: libcap::start::SharedRegion,
        device: &'static str,
        interrupt: Option<&'static str>,
        self_check: bool,
    ) -> Result<VirtioBlk, Failure> {
        let names = Names {
            dma,
            device,
            interrupt,
        };
        let opened = device::open(start, names, &BLOCK_DEVICES).map_err(Failure::Open)?;
        info!("{}", opened.describe("virtio-blk"));
        let dma_bytes = opened.dma.0;
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
}
