//! The TCP/IP stack: a smoltcp interface over a network device, its
//! address (DHCPv4 or static), and the socket service on top.
//!
//! [`Net::poll`] is the server's whole loop body: the interface takes in
//! and sends out frames, the DHCP client runs, and the service applies the
//! apps' requests and reports to them. It is generic over the device
//! (`smoltcp::phy::Device`), so the host tests drive it over an in-memory
//! wire to a second smoltcp stack.

use crate::service::{Activity, Limits, Service, Stats};
use alloc::vec::Vec;
use libcap::ring::Wake;
use libcap::start::SharedRegion;
use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet};
use smoltcp::phy::Device;
use smoltcp::socket::dhcpv4;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

/// How the interface gets its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// Ask a DHCPv4 server (QEMU's user networking answers 10.0.2.15/24,
    /// gateway 10.0.2.2).
    Dhcp,
    /// A fixed address and, optionally, a default gateway.
    Static {
        /// Address and prefix length.
        address: Ipv4Cidr,
        /// The default route's gateway.
        gateway: Option<Ipv4Address>,
    },
}

/// Why the stack could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The device's MAC address is not a unicast address.
    BadMac([u8; 6]),
}

/// What changed in a poll, for the caller's log and idle decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The interface processed or sent frames.
    pub frames: bool,
    /// The service's requests and events.
    pub service: Activity,
    /// DHCP configured (`Some(Some(address))`) or lost (`Some(None)`) the
    /// address.
    pub dhcp: Option<Option<(Ipv4Cidr, Option<Ipv4Address>)>>,
}

impl Progress {
    /// Whether anything happened.
    pub fn any(&self) -> bool {
        self.frames || self.service.any() || self.dhcp.is_some()
    }
}

/// The stack and the service.
pub struct Net<D, W> {
    device: D,
    iface: Interface,
    sockets: SocketSet<'static>,
    dhcp: Option<SocketHandle>,
    service: Service<W>,
}

impl<D: Device, W: Wake> Net<D, W> {
    /// A stack on `device` (whose MAC address is `mac`), addressed as
    /// `addressing`, serving sockets within `limits`. `seed` varies TCP's
    /// initial sequence numbers and ports from boot to boot;
    /// `generation` is the server's start count.
    ///
    /// # Errors
    ///
    /// [`StackError::BadMac`] for a multicast or broadcast MAC address.
    pub fn new(
        mut device: D,
        mac: [u8; 6],
        addressing: Addressing,
        limits: Limits,
        seed: u64,
        generation: u32,
        now: Instant,
    ) -> Result<Self, StackError> {
        let hw = EthernetAddress(mac);
        if !hw.is_unicast() {
            return Err(StackError::BadMac(mac));
        }
        let mut config = Config::new(HardwareAddress::Ethernet(hw));
        config.random_seed = seed;
        let mut iface = Interface::new(config, &mut device, now);
        let mut sockets =
            SocketSet::new(Vec::with_capacity(limits.max_sockets + limits.max_udp + 1));
        let mut service = Service::new(limits, generation);
        let dhcp = match addressing {
            Addressing::Dhcp => Some(sockets.add(dhcpv4::Socket::new())),
            Addressing::Static { address, gateway } => {
                configure(&mut iface, Some((address, gateway)));
                service.set_address(Some(address.address()));
                None
            }
        };
        Ok(Self {
            device,
            iface,
            sockets,
            dhcp,
            service,
        })
    }

    /// Attaches an app's region (see [`Service::attach`]).
    ///
    /// # Errors
    ///
    /// The region is too small or misaligned.
    pub fn attach(
        &mut self,
        region: SharedRegion,
        wake: W,
    ) -> Result<usize, crate::proto::AttachError> {
        self.service.attach(region, wake)
    }

    /// Sets app `app`'s socket quota (see [`Service::set_quota`]).
    pub fn set_quota(&mut self, app: usize, quota: usize) {
        self.service.set_quota(app, quota);
    }

    /// App `app`'s TCP sockets now and its quota (see
    /// [`Service::sockets_of`]).
    pub fn sockets_of(&self, app: usize) -> Option<(usize, usize)> {
        self.service.sockets_of(app)
    }

    /// One round: frames in and out (out: what the last round queued),
    /// DHCP, the service.
    pub fn poll(&mut self, now: Instant) -> Progress {
        let mut progress = Progress {
            frames: self.iface.poll(now, &mut self.device, &mut self.sockets)
                == PollResult::SocketStateChanged,
            ..Progress::default()
        };
        if let Some(h) = self.dhcp {
            let event = self.sockets.get_mut::<dhcpv4::Socket>(h).poll();
            match event {
                Some(dhcpv4::Event::Configured(c)) => {
                    let found = (c.address, c.router);
                    configure(&mut self.iface, Some(found));
                    self.service.set_address(Some(c.address.address()));
                    progress.dhcp = Some(Some(found));
                }
                Some(dhcpv4::Event::Deconfigured) => {
                    // The socket reports this once at start too, before
                    // there was anything to lose.
                    if self.address().is_some() {
                        progress.dhcp = Some(None);
                    }
                    configure(&mut self.iface, None);
                    self.service.set_address(None);
                }
                None => {}
            }
        }
        progress.service = self.service.pass(&mut self.sockets, now, progress.frames);
        // What the service queued goes out with the next round's poll: a
        // round that did anything is followed by another at once (the
        // caller's loop), and a poll walks every socket, so one a round.
        progress
    }

    /// The interface's IPv4 address, if it has one.
    pub fn address(&self) -> Option<Ipv4Cidr> {
        self.iface
            .ip_addrs()
            .iter()
            .map(|&IpCidr::Ipv4(c)| c)
            .next()
    }

    /// The service's counters.
    pub fn stats(&self) -> Stats {
        self.service.stats()
    }

    /// The service's limits.
    pub fn limits(&self) -> &Limits {
        self.service.limits()
    }

    /// The device (for a driver's own bookkeeping and for tests).
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.device
    }

    /// Whether an app released rx space the service was waiting for.
    pub fn rx_released(&mut self) -> bool {
        self.service.rx_released()
    }

    /// When a round is due next for a timer, if any is running:
    /// smoltcp's (TCP retransmission, delayed ACKs, keep-alive,
    /// TIME-WAIT, DHCP) and the service's (SYN timeouts). A sleeping
    /// server waits for its notification until then at most.
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let stack = self.iface.poll_at(now, &self.sockets);
        match (stack, self.service.poll_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Asks the apps for wake-ups before the server sleeps; true if work
    /// is there already (see [`Service::request_wakes`]).
    pub fn request_wakes(&mut self) -> bool {
        self.service.request_wakes()
    }
}

/// Sets the interface's address and default route (or clears them).
fn configure(iface: &mut Interface, config: Option<(Ipv4Cidr, Option<Ipv4Address>)>) {
    iface.update_ip_addrs(|addrs| {
        addrs.clear();
        if let Some((address, _)) = config {
            // Room for one address is always there after the clear.
            let _ = addrs.push(IpCidr::Ipv4(address));
        }
    });
    iface.routes_mut().remove_default_ipv4_route();
    if let Some((_, Some(gateway))) = config {
        // The routing table has room: it was just emptied of its default.
        let _ = iface.routes_mut().add_default_ipv4_route(gateway);
    }
}
