//! `net`: the Basalt component that drives a virtio-net PCI device with
//! the `virtio-drivers` crate, runs the smoltcp TCP/IP stack on it (DHCPv4
//! or a static address; ARP, ICMP echo, TCP, UDP) and serves sockets to
//! apps through shared regions ([`net_api::client::Sockets`] is their side).
//! `init` starts it (see `docs/net.md` and `config/net-test`). It logs:
//!
//! ```text
//! net: virtio-net 1af4:1000 at configuration page 0xb0010000, 2 BARs, DMA region 512 KiB at physical 0xff00000
//! net: interrupts: MSI-X entry 0 on line 24 (receive and transmit): sleeping on net-wake when idle, until the next timer
//! net: MAC 52:54:00:12:34:56; 1100 TCP sockets of 8 KiB + 8 KiB at most (18 MiB of heap)
//! net: serving 1 app: echo-net (1100 sockets)
//! net: address 10.0.2.15/24, gateway 10.0.2.2 (DHCP)
//! ```
//!
//! With the device's interrupt (`interrupt = "msi"` or `"any"`, granted
//! as `nic.msi`, or as `nic.intx` for the 82540EM, which has no MSI and
//! interrupts through its INTx line) it sleeps on its notification `wake` whenever a round finds
//! nothing to do, until the next timer (smoltcp's and the service's) at
//! the latest: the NIC's interrupt and the apps signal it. It can then
//! run at a higher priority than its apps. Without it it polls (it says
//! why), yielding between rounds, and must run at its apps' priority.
//!
//! Arguments (declared in its Cargo.toml): see [`net::settings`] and
//! `docs/net.md`; `exit = "on-success"` ends a self-test run (failure) if
//! start-up fails.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "net is a Basalt component that init starts; \
         see docs/net.md (cargo xtask run --config config/net-test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
libcap::component!(component::run);

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

#[cfg(target_os = "none")]
mod component {
    use crate::args;
    use alloc::vec::Vec;
    use core::fmt::Write;
    use core::sync::atomic::AtomicU64;
    use libcap::log::{error, info, warn};
    use libcap::{IrqHandler, Notification};
    use net::nic::e1000::{self, Buffers, E1000, Mmio, Ring};
    use net::nic::{Kind, Nic, NicError, QUEUES, VirtioNic};
    use net::settings::{self, ArgError, Given, QuotaError, Settings};
    use net::stack::{Addressing, Net, StackError};
    use smoltcp::time::Instant;
    use virtio_pci::device::{self, Function, OpenError};
    use virtio_pci::dma::VirtioHal;
    use virtio_pci::interrupt;
    use virtio_pci::interrupt::{Interrupt, NoInterrupt};
    use virtio_pci::virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};

    /// The 82574L's device ID (its MSI-X interrupt is set up).
    const E1000E: u16 = 0x10d3;
    /// Heap kept for everything but the TCP and UDP sockets: the socket
    /// set, the interface, the service's tables.
    const HEAP_RESERVE: usize = 512 * 1024;
    /// The longest a sleeping server waits without a signal. Not needed
    /// by design: every event signals, and timers set the deadline. But
    /// the net-test boot test saw an echo stall for 10 s in a few runs
    /// out of many once the 16 Hz tick was gone: a missed wake-up (the
    /// tick had hidden it). A missing barrier before the last look at the
    /// used rings was one cause (see `VirtioNic::unfinished`); this bounds
    /// a stall from any other until longer runs show there is none.
    const MAX_SLEEP: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(100);
    /// How soon a sleeping server looks again while the device holds
    /// buffers it has not taken back (see `VirtioNic::unfinished`).
    const UNFINISHED_RECHECK: smoltcp::time::Duration = smoltcp::time::Duration::from_millis(1);
    /// The TSC frequency assumed when the kernel did not measure it.
    const DEFAULT_TSC_HZ: u64 = 2_000_000_000;

    /// The step that went wrong (the runtime prints `net: main failed: …`).
    #[derive(Debug)]
    #[allow(dead_code)] // the fields are read only by `Debug`
    pub enum Failure {
        /// An argument does not bind to the grants.
        Bind(libcap::bind::ArgError),
        /// An argument is malformed.
        Args(ArgError),
        /// A `quota-<region>` argument is malformed, or the quotas do not
        /// fit `max-sockets`.
        Quota(QuotaError),
        /// The device could not be found or started.
        Open(OpenError),
        /// The driver failed.
        Nic(NicError),
        /// The e1000 did not start.
        E1000(e1000::E1000Error),
        /// The e1000's BAR 0 (its registers) is not mapped.
        NoRegisters,
        /// The stack refused the device.
        Stack(StackError),
        /// The heap cannot hold a single socket.
        HeapTooSmall(usize),
    }

    /// Microseconds from the time-stamp counter.
    struct Clock {
        ticks_per_us: u64,
    }

    impl Clock {
        fn now(&self) -> Instant {
            Instant::from_micros((libcap::time::rdtsc() / self.ticks_per_us) as i64)
        }

        /// The time-stamp counter's reading at `at`.
        fn tsc_at(&self, at: Instant) -> u64 {
            (at.total_micros().max(0) as u64).saturating_mul(self.ticks_per_us)
        }
    }

    /// What the loop does when a round finds nothing to do.
    enum Idle {
        /// Yield to the threads of the same priority.
        Poll,
        /// Wait on the notification that the NIC's interrupt and the apps
        /// signal, until the next timer at the latest; with a line-based
        /// interrupt, acknowledge its line first (the card's causes are
        /// cleared by then).
        Sleep {
            wake: Notification,
            line: Option<IrqHandler>,
        },
    }

    /// Sleeping needs the NIC's interrupt on both queues; without it the
    /// server polls, and says why.
    fn idle(wake: &str, interrupt: Result<Interrupt, NoInterrupt>) -> Idle {
        const POLLING: &str = "polling (net must run at its apps' priority)";
        let interrupt = match interrupt {
            Ok(i) if QUEUES.iter().all(|&q| i.routed(q)) => i,
            Ok(_) => {
                warn!("the device refused MSI-X entry 0 for its queues: {POLLING}");
                return Idle::Poll;
            }
            Err(NoInterrupt::NotGranted) => {
                info!("no interrupt: {POLLING}");
                return Idle::Poll;
            }
            Err(why) => {
                warn!("{why}: {POLLING}");
                return Idle::Poll;
            }
        };
        info!(
            "interrupts: MSI-X entry 0 on line {} (receive and transmit): sleeping on {} when idle, until the next timer",
            interrupt.line, wake
        );
        Idle::Sleep {
            wake: interrupt.notification,
            line: None,
        }
    }

    pub fn run(start: &'static libcap::Start) -> Result<(), Failure> {
        let args = args::Args::bind(start);
        let exit = matches!(&args, Ok(a) if a.exit == Some(args::Exit::OnSuccess));
        let result = args.map_err(Failure::Bind).and_then(|a| serve(start, a));
        if let Err(failure) = &result {
            error!("start-up failed: {failure:?}");
            if exit {
                libcap::syscall::try_debug_exit(false);
            }
        }
        result
    }

    fn serve(start: &'static libcap::Start, args: args::Args) -> Result<(), Failure> {
        let settings = Settings::new(Given {
            address: args.address,
            gateway: args.gateway,
            max_sockets: args.max_sockets,
            rx_buffer: args.rx_buffer,
            tx_buffer: args.tx_buffer,
            rx_window: args.rx_window,
            backlog: args.backlog,
            syn_timeout: args.syn_timeout,
            tcp_timeout: args.tcp_timeout,
            max_udp: args.max_udp,
            udp_buffer: args.udp_buffer,
        })
        .map_err(Failure::Args)?;
        let wake = args.wake.name;
        let apps = Apps {
            regions: args.app,
            quotas: args.quota,
        };
        let wanted = |vendor, id| Kind::of((vendor, id)).is_some();
        let mut function = device::open_function(start, args.dma.cap, args.device, wanted)
            .map_err(Failure::Open)?;
        match Kind::of(function.ids) {
            Some(Kind::E1000) => {
                let (regs, len) = function
                    .registers(0, e1000::reg::SPAN as usize)
                    .ok_or(Failure::NoRegisters)?;
                info!("{}", function.describe("e1000", (0, len)));
                let mut nic = e1000_nic(regs)?;
                // The 82574L interrupts through MSI-X; the 82540EM has
                // neither MSI nor MSI-X, and its line-based interrupt
                // (INTx) is not offered: it polls.
                let idle = match function.ids {
                    (_, E1000E) => {
                        let Function { mut root, cam, .. } = function;
                        match interrupt::msix(start, args.device, wake, &mut root, cam) {
                            Ok(msi) => {
                                nic.route_msix();
                                info!(
                                    "interrupts: MSI-X entry 0 on line {} (receive, transmit, link): sleeping on {wake} when idle, until the next timer",
                                    msi.line
                                );
                                Idle::Sleep {
                                    wake: msi.notification,
                                    line: None,
                                }
                            }
                            Err(why) => {
                                warn!("{why}: polling (net must run at its apps' priority)");
                                Idle::Poll
                            }
                        }
                    }
                    // The 82540EM: its INTx line, as the firmware routes it.
                    _ => match interrupt::intx(start, args.device, wake, function.cam) {
                        Ok(intx) => {
                            info!(
                                "interrupts: INTx on line {} (receive, transmit, link; level-triggered, acknowledged before each sleep): sleeping on {wake} when idle, until the next timer",
                                intx.line
                            );
                            Idle::Sleep {
                                wake: intx.notification,
                                line: Some(intx.handler),
                            }
                        }
                        Err(why) => {
                            warn!("{why}: polling (net must run at its apps' priority)");
                            Idle::Poll
                        }
                    },
                };
                nic.set_interrupts(matches!(idle, Idle::Sleep { .. }));
                run_loop(start, apps, settings, nic, idle)
            }
            _ => {
                let opened = device::start_virtio(start, function, args.device, Some(wake))
                    .map_err(Failure::Open)?;
                info!("{}", opened.describe("virtio-net"));
                let mut nic = VirtioNic::new(opened.transport)
                    .map_err(Failure::Nic)?
                    .with_doorbell(opened.doorbell);
                let idle = idle(wake, opened.interrupt);
                nic.set_interrupts(matches!(idle, Idle::Sleep { .. }));
                run_loop(start, apps, settings, nic, idle)
            }
        }
    }

    /// The e1000's rings and buffers, from the DMA region.
    fn e1000_nic(regs: Mmio) -> Result<E1000<Mmio>, Failure> {
        let pages = |bytes: usize| bytes.div_ceil(PAGE_SIZE);
        let ring_pages = pages(e1000::RING_BYTES);
        let buffer_pages = pages(e1000::RING * e1000::BUFFER);
        if virtio_pci::dma::free_dma_pages() < 2 * (ring_pages + buffer_pages) {
            return Err(Failure::Nic(NicError::DmaRegionTooSmall));
        }
        let ring = || {
            let (phys, ptr) = VirtioHal::dma_alloc(ring_pages, BufferDirection::Both);
            // SAFETY: zeroed, page-aligned pages of the DMA region handed
            // to this card for the rest of the program (never freed), read
            // and written only as atomic words here and by the card.
            let words = unsafe {
                core::slice::from_raw_parts(ptr.as_ptr().cast::<AtomicU64>(), 2 * e1000::RING)
            };
            Ring { words, phys }
        };
        let buffers = || {
            let (phys, ptr) = VirtioHal::dma_alloc(buffer_pages, BufferDirection::Both);
            // SAFETY: as above; the bytes are read only after the card
            // said it wrote them (DD), and written only while it does not
            // own them.
            let bytes = unsafe {
                core::slice::from_raw_parts_mut(ptr.as_ptr(), e1000::RING * e1000::BUFFER)
            };
            Buffers { bytes, phys }
        };
        E1000::new(regs, (ring(), buffers()), (ring(), buffers())).map_err(Failure::E1000)
    }

    /// The apps' arguments: each one's region and notification
    /// (`app-<region>`), and quota (`quota-<region>`).
    struct Apps {
        regions: libcap::bind::Family<libcap::bind::Named<Notification>>,
        quotas: libcap::bind::Family<u64>,
    }

    /// Starts the stack on `nic` and serves the apps for ever.
    fn run_loop<D: Nic>(
        start: &'static libcap::Start,
        given: Apps,
        settings: Settings,
        nic: D,
        idle: Idle,
    ) -> Result<(), Failure> {
        let mac = nic.mac();
        let heap = start.heap().1 as usize;
        let limits = settings
            .limits
            .fit(heap, HEAP_RESERVE)
            .ok_or(Failure::HeapTooSmall(heap))?;
        if limits.max_sockets < settings.limits.max_sockets {
            warn!(
                "a heap of {} KiB holds {} TCP sockets, not the {} asked for",
                heap >> 10,
                limits.max_sockets,
                settings.limits.max_sockets
            );
        }
        let [a, b, c, d, e, f] = mac;
        info!(
            "MAC {a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}; {} TCP sockets of {} KiB + {} KiB at most ({} MiB of heap)",
            limits.max_sockets,
            limits.rx_buffer >> 10,
            limits.tx_buffer >> 10,
            (limits.tcp_bytes() + limits.udp_bytes()) >> 20
        );

        let hz = start.tsc_hz().unwrap_or(DEFAULT_TSC_HZ);
        let clock = Clock {
            ticks_per_us: (hz / 1_000_000).max(1),
        };
        // SAFETY: RDTSC only reads a counter.
        let seed = unsafe { core::arch::x86_64::_rdtsc() }.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut net = Net::new(
            nic,
            mac,
            settings.addressing,
            limits,
            seed,
            start.generation() as u32,
            clock.now(),
        )
        .map_err(Failure::Stack)?;

        // Each app: its region and the notification to signal for it, as
        // the `app-<region>` arguments bind them.
        let mut apps = Vec::new();
        for (name, event) in given.regions {
            let Some(region) = start.shared_region(name) else {
                error!("region {name}: not granted, or taken twice: skipped");
                continue;
            };
            match net.attach(region, event.cap) {
                Ok(_) => apps.push(name),
                Err(e) => error!("region {name}: {e:?}: skipped"),
            }
        }
        // The apps are numbered in the order they attached.
        let given: Vec<(&'static str, u64)> = given.quotas.into_iter().collect();
        let quotas = settings::quotas(
            &given,
            &apps,
            settings.limits.max_sockets,
            limits.max_sockets,
        )
        .map_err(Failure::Quota)?;
        let mut served = alloc::string::String::new();
        for (app, (region, quota)) in apps.iter().zip(&quotas).enumerate() {
            net.set_quota(app, *quota);
            let sep = if app == 0 { "" } else { ", " };
            let _ = write!(served, "{sep}{region} ({quota} sockets)");
        }
        info!(
            "serving {} app{}: {served}",
            apps.len(),
            if apps.len() == 1 { "" } else { "s" },
        );
        if let Addressing::Static { address, gateway } = settings.addressing {
            match gateway {
                Some(g) => info!("address {address}, gateway {g} (static)"),
                None => info!("address {address} (static)"),
            }
        }

        let mut failed = false;
        loop {
            // The round's notifications to the card go out once, at its
            // end (`Nic::round_begins`).
            net.device_mut().round_begins();
            let progress = net.poll(clock.now());
            net.device_mut().round_done();
            match progress.dhcp {
                Some(Some((address, Some(gateway)))) => {
                    info!("address {address}, gateway {gateway} (DHCP)")
                }
                Some(Some((address, None))) => info!("address {address} (DHCP)"),
                Some(None) => warn!("DHCP lease lost: no address"),
                None => {}
            }
            if progress.any() || net.rx_released() {
                continue;
            }
            match &idle {
                Idle::Poll => libcap::syscall::yield_now(),
                // Work that came in since the round (the apps may have
                // looked before the request) is served without sleeping.
                Idle::Sleep { .. } if net.request_wakes() => {}
                Idle::Sleep { wake, line } => {
                    // Until a signal, or the next timer (smoltcp's and the
                    // service's) at the latest; soon while the device holds
                    // buffers the driver has not taken back.
                    let now = clock.now();
                    let recheck = if net.device_mut().unfinished() {
                        UNFINISHED_RECHECK
                    } else {
                        MAX_SLEEP
                    };
                    let latest = now + recheck;
                    let deadline = net.poll_at(now).map_or(latest, |d| d.min(latest));
                    // `unfinished` cleared the card's causes: the line may
                    // be unmasked (a cause raised since asserts it again,
                    // and the wait returns at once).
                    if let Some(line) = line
                        && let Err(e) = line.ack()
                        && !failed
                    {
                        failed = true;
                        error!("acknowledging the NIC's line failed: {e:?}");
                    }
                    let woken = wake.wait_until(clock.tsc_at(deadline));
                    // It does not fail while the server holds its
                    // capability; if it did, the loop would go on without
                    // sleeping.
                    match woken {
                        Ok(_) | Err(libcap::Error::TimedOut) => {}
                        Err(e) if !failed => {
                            failed = true;
                            error!("waiting for a wake-up failed: {e:?}");
                        }
                        Err(_) => {}
                    }
                }
            }
        }
    }
}
