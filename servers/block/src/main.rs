//! `block`: a Basalt component that drives a virtio-blk PCI disk and
//! serves [`block::Block`] on the channel its config calls `block`:
//! requests in a submission ring, completions in a completion ring, the
//! data in the data area of the region it shares with its client, several
//! requests in the device at once. `init` starts it (see `docs/block.md`
//! and `config/block-test`). It logs:
//!
//! ```text
//! block: virtio-blk 1af4:1042 at 00:03.0, 2 BARs, DMA region 64 KiB at physical 0x4240000
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
//! Arguments: `region` (the client's region, default `block-io`), `dma`
//! (the DMA region, default `block-dma`), `device` (the PCI device's
//! name, default `disk`), `pci-ports` (the configuration ports, default
//! `pci-config`), `irq-notification` (the notification the interrupt
//! signals, default `block-irq`), `self-check`, `exit`.

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

#[cfg(target_os = "none")]
mod component {
    use block::Block;
    use block::check::{self, CheckError, Failed, Hex, OneAtATime};
    use block::dma::{self, BlockHal, Window};
    use block::pci::{self, CONFIG_ADDRESS, CONFIG_DATA, MSIX_ENTRY_BYTES, Msix, PortCam};
    use block::server::{BlockServer, Device};
    use block::virtio::{self, InitError, VirtioBlk};
    use core::ptr::NonNull;
    use libcap::abi::start_info::CapKind;
    use libcap::log::{error, info, warn};
    use libcap::{IoPorts, IrqHandler, Notification};
    use virtio_drivers::transport::pci::PciTransport;
    use virtio_drivers::transport::pci::bus::{BarInfo, Command, DeviceFunction, PciRoot};
    use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

    /// The virtio vendor ID, and the transitional and modern block device IDs.
    const VIRTIO_VENDOR: u16 = 0x1af4;
    const BLOCK_DEVICES: [u16; 2] = [0x1001, 0x1042];

    /// The step that went wrong (the runtime prints `block: main failed: …`).
    #[derive(Debug)]
    #[allow(dead_code)] // the fields are read only by `Debug`
    pub enum Failure {
        /// No shared region of that name was granted (or it has no
        /// physical address).
        NoDmaRegion(&'static str),
        /// No I/O-port range of that name covering 0xcf8-0xcff.
        NoConfigPorts(&'static str),
        /// No device memory `<device>.bar<N>` was granted.
        NoBars(&'static str),
        /// No virtio block function on bus 0.
        NoDevice,
        /// Sizing the function's BARs failed.
        Pci(virtio_drivers::transport::pci::bus::PciError),
        /// A memory BAR of the function was not granted (init could not
        /// map it: see its log): the BAR's index and physical address.
        BarNotGranted(usize, u64),
        /// The PCI transport refused the function.
        Transport(virtio_drivers::transport::pci::VirtioPciError),
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
        let exit_on_failure = start.arg("exit") == Some("on-success");
        match bring_up(start) {
            Ok(server) => serve(start, server),
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
    fn serve(start: &'static libcap::Start, mut server: BlockServer<VirtioBlk>) -> ! {
        let endpoint = start.served("block");
        let Some(endpoint) = endpoint else {
            error!("the config gives block no channel `block` to serve");
            if start.arg("exit") == Some("on-success") {
                libcap::syscall::try_debug_exit(false);
            }
            libcap::syscall::exit(1)
        };
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
    fn client_region(start: &'static libcap::Start) -> Option<libcap::start::SharedRegion> {
        let name = start.arg("region").unwrap_or("block-io");
        let grant = start
            .find(CapKind::Region, name)
            .filter(|g| g.physical != 0);
        let (Some(grant), Some(region)) = (grant, start.shared_region(name)) else {
            error!("no region `{name}` with a physical address: every request will fail");
            return None;
        };
        if region.len() > block::DATA_OFFSET {
            let window = Window {
                phys: grant.physical + block::DATA_OFFSET as u64,
                virt: region.as_ptr() as usize + block::DATA_OFFSET,
                len: region.len() - block::DATA_OFFSET,
            };
            // SAFETY: init maps the region read-write for the component's
            // lifetime, physically contiguous from `grant.physical`; the
            // device writes only the buffers of read requests, which the
            // server checked lie in the data area.
            if !unsafe { dma::add_dma_window(window) } {
                warn!("no DMA window left for `{name}`: its data goes through bounce pages");
            }
        }
        Some(region)
    }

    /// What the device's interrupt needs once MSI-X is on.
    struct Interrupt {
        /// What it signals (this component's own notification).
        notification: Notification,
        /// Where the virtio common configuration is mapped, to route the
        /// queue's interrupts to table entry 0.
        common: NonNull<u8>,
        /// The line init granted.
        line: u64,
    }

    /// Routes MSI-X table entry 0 of `function` to the message-signalled
    /// line init granted as `<device>.msi`, that line to the notification
    /// named by argument `irq-notification` (default `block-irq`; the
    /// component owns it and signals it too), and turns MSI-X on. `None`
    /// (the server polls) when a part is missing, which it logs.
    fn msix(
        start: &'static libcap::Start,
        device: &str,
        root: &mut PciRoot<PortCam<IoPorts>>,
        mut cam: PortCam<IoPorts>,
        function: DeviceFunction,
    ) -> Option<Interrupt> {
        let grant = start.grants().find(|g| {
            g.kind == Some(CapKind::Irq) && g.name.strip_prefix(device) == Some(".msi")
        })?;
        let name = start.arg("irq-notification").unwrap_or("block-irq");
        let (Some(notification), Some(signal)) = (start.notification(name), start.signal(name))
        else {
            warn!("no notification `{name}` to wait on and signal: polling");
            return None;
        };
        let Some(msix) = Msix::find(root, &cam, function) else {
            warn!("the device has no MSI-X capability: polling");
            return None;
        };
        let bars = root.bars(function).ok()?;
        let bar = |index: u8| {
            let (address, _) = bars
                .get(usize::from(index))?
                .as_ref()?
                .memory_address_size()?;
            Some(address)
        };
        let table = bar(msix.table_bar)
            .and_then(|a| dma::window_virt(a + u64::from(msix.table_offset), MSIX_ENTRY_BYTES));
        let common = virtio::common_cfg(root, &cam, function).and_then(|(index, offset)| {
            dma::window_virt(bar(index)? + u64::from(offset), virtio::COMMON_CFG_BYTES)
        });
        let (Some(table), Some(common)) = (
            table.and_then(|t| NonNull::new(t as *mut u32)),
            common.and_then(|c| NonNull::new(c as *mut u8)),
        ) else {
            warn!("the MSI-X table or the common configuration is in no granted BAR: polling");
            return None;
        };
        let handler = IrqHandler::from_raw(grant.slot);
        let routed = handler
            .msi_message()
            .and_then(|m| handler.set_notification(signal).map(|()| m));
        let message = match routed {
            Ok(m) => m,
            Err(e) => {
                warn!("cannot route line {}: {e:?}; polling", grant.value);
                return None;
            }
        };
        // SAFETY: `table` maps the function's MSI-X table (a granted BAR,
        // uncached), which has at least one entry; only this driver
        // writes it.
        unsafe { pci::write_msix_entry(table, 0, message) };
        msix.enable(&mut cam, function);
        Some(Interrupt {
            notification,
            common,
            line: grant.value,
        })
    }

    /// Finds the device, starts the driver, runs the self-check if asked
    /// to and makes the server.
    fn bring_up(start: &'static libcap::Start) -> Result<BlockServer<VirtioBlk>, Failure> {
        let dma_name = start.arg("dma").unwrap_or("block-dma");
        let device = start.arg("device").unwrap_or("disk");
        let ports_name = start.arg("pci-ports").unwrap_or("pci-config");

        let grant = start
            .find(CapKind::Region, dma_name)
            .filter(|g| g.physical != 0)
            .ok_or(Failure::NoDmaRegion(dma_name))?;
        let region = start
            .shared_region(dma_name)
            .ok_or(Failure::NoDmaRegion(dma_name))?;
        // SAFETY: init maps the region read-write for the component's
        // lifetime, physically contiguous from `physical`; the config
        // makes this component its only user, and `shared_region` hands it
        // out once, to here.
        unsafe { dma::set_dma_region(region.as_ptr(), grant.physical, region.len()) };

        let mut bars = 0;
        for g in start.grants() {
            let is_bar = g.kind == Some(CapKind::DeviceMemory)
                && g.name
                    .strip_prefix(device)
                    .is_some_and(|rest| rest.starts_with(".bar"));
            if is_bar && start.device_memory(g.name).is_some() {
                // SAFETY: init maps the BAR uncached for the component's
                // lifetime; `device_memory` handed it out once, to here,
                // and only the driver uses it.
                let added = unsafe {
                    dma::add_window(Window {
                        phys: g.physical,
                        virt: g.address as usize,
                        len: g.value as usize,
                    })
                };
                bars += usize::from(added);
            }
        }
        if bars == 0 {
            return Err(Failure::NoBars(device));
        }

        let ports = start
            .io_ports(ports_name)
            .filter(|p| p.first <= CONFIG_ADDRESS && p.last >= CONFIG_DATA + 3)
            .ok_or(Failure::NoConfigPorts(ports_name))?;
        let cam = PortCam::new(ports.ports);
        let mut root = PciRoot::new(cam);
        let (function, info) = root
            .enumerate_bus(0)
            .find(|(_, i)| i.vendor_id == VIRTIO_VENDOR && BLOCK_DEVICES.contains(&i.device_id))
            .ok_or(Failure::NoDevice)?;
        let DeviceFunction {
            bus,
            device: slot,
            function: func,
        } = function;
        info!(
            "virtio-blk {:04x}:{:04x} at {bus:02x}:{slot:02x}.{func}, {bars} BARs, DMA region {} KiB at physical {:#x}",
            info.vendor_id,
            info.device_id,
            region.len() >> 10,
            grant.physical
        );
        // The device reaches memory only as a bus master.
        let (_, command) = root.get_status_command(function);
        root.set_command(
            function,
            command | Command::MEMORY_SPACE | Command::BUS_MASTER,
        );

        // Every memory BAR the driver may use must have been granted, or
        // the driver would fail deep inside (in `mmio_phys_to_virt`).
        for (index, bar) in root
            .bars(function)
            .map_err(Failure::Pci)?
            .iter()
            .enumerate()
        {
            if let Some((address, size)) = bar.as_ref().and_then(BarInfo::memory_address_size)
                && address != 0
                && dma::window_virt(address, size as usize).is_none()
            {
                error!("BAR{index} at {address:#x} ({size:#x} bytes) was not granted");
                return Err(Failure::BarNotGranted(index, address));
            }
        }

        let interrupt = msix(start, device, &mut root, cam, function);
        let transport =
            PciTransport::new::<BlockHal, _>(&mut root, function).map_err(Failure::Transport)?;
        let mut disk = VirtioBlk::new(transport, || match &interrupt {
            // SAFETY: `common` maps the common configuration (`msix`
            // found it in a granted BAR), and `new` calls this between
            // the reset and the queue's set-up.
            Some(i) => unsafe { virtio::route_queue_vector(i.common, 0) },
            None => true,
        })
        .map_err(Failure::Init)?;
        match interrupt {
            Some(i) => {
                disk.wait_for_interrupts(i.notification);
                info!("interrupts: MSI-X entry 0 on line {}", i.line);
            }
            None => info!("no interrupt: polling"),
        }
        let capacity = disk.capacity();
        info!(
            "capacity {capacity} sectors ({} KiB){}{}",
            capacity / 2,
            if disk.has_flush() { ", flush" } else { "" },
            if disk.read_only() { ", read-only" } else { "" }
        );

        if start.arg("self-check") == Some("on") {
            // The check's buffer lies in the DMA region, used in place.
            if dma::free_dma_pages() < CHECK_PAGES {
                return Err(Failure::DmaRegionTooSmall(region.len()));
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
        Ok(BlockServer::new(disk, client_region(start)))
    }
}
