//! Host-side test bench (not built for Basalt): the server's stack on an
//! in-memory Ethernet wire to a second smoltcp stack that plays the
//! remote host, and an app's [`Sockets`] on a region in the heap (more
//! apps with [`Bench::attach_app`]). Apps (`net-echo`, and the front
//! ends to come) test their event handling over real TCP with it.
//!
//! ```
//! use net_api::client::{Event, Io};
//! use net::testing::{Bell, Bench};
//!
//! fn echo(event: Event<'_>, io: &mut Io<Bell>) {
//!     match event {
//!         Event::Reset { .. } => io.listen(7, 4),
//!         Event::Received { conn, data } => {
//!             io.send(conn, data);
//!         }
//!         _ => {}
//!     }
//! }
//!
//! let mut bench = Bench::new(Default::default());
//! bench.run(5, echo); // the app hears of the server and listens
//! let c = bench.peer.connect(7);
//! bench.run(20, echo);
//! bench.peer.send(c, b"hello");
//! bench.run(20, echo);
//! assert_eq!(bench.peer.recv(c), b"hello");
//! ```

use crate::proto;
use crate::service::Limits;
use crate::stack::{Addressing, Net};
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use libcap::ring::Wake;
use net_api::client::{Event, Io, Sockets};
use net_api::serve::{Protocol, StreamServer};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Cidr,
};

/// The server's address on the bench.
pub const SERVER: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// The peer's address.
pub const PEER: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);
/// The server's MAC address.
pub const SERVER_MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
const PEER_MAC: [u8; 6] = [0x52, 0x55, 10, 0, 2, 2];

/// Frames in flight one way.
type Queue = Rc<RefCell<VecDeque<Vec<u8>>>>;

/// One end of the wire: takes frames from `inbox`, puts them in
/// `outbox`.
pub struct Port {
    inbox: Queue,
    outbox: Queue,
}

/// A frame taken from the wire.
pub struct Rx(Vec<u8>);

/// The right to put one frame on the wire.
pub struct Tx(Queue);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.borrow_mut().push_back(frame);
        r
    }
}

impl Device for Port {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx)> {
        let frame = self.inbox.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(self.outbox.clone())))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx> {
        Some(Tx(self.outbox.clone()))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

/// Counts wake-ups (what a notification would be on Basalt).
#[derive(Clone, Default, Debug)]
pub struct Bell(Rc<Cell<u64>>);

impl Bell {
    /// Wake-ups so far.
    pub fn rings(&self) -> u64 {
        self.0.get()
    }
}

impl Wake for Bell {
    fn wake(&self) {
        self.0.set(self.0.get() + 1);
    }
}

/// The remote host: a smoltcp stack with TCP, UDP and ICMP sockets.
pub struct Peer {
    iface: Interface,
    port: Port,
    sockets: SocketSet<'static>,
    next_port: u16,
    /// Frames the server sent that the peer has not read yet.
    pub to_peer: Queue,
    /// Frames to the server (tests may inject their own).
    pub to_server: Queue,
}

impl Peer {
    fn new(port: Port, to_peer: Queue, to_server: Queue, now: Instant) -> Self {
        let mut port = port;
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(PEER_MAC)));
        config.random_seed = 7;
        let mut iface = Interface::new(config, &mut port, now);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::Ipv4(Ipv4Cidr::new(PEER, 24)));
        });
        Self {
            iface,
            port,
            sockets: SocketSet::new(vec![]),
            next_port: 40_000,
            to_peer,
            to_server,
        }
    }

    /// Lets the peer's stack take in and send out frames.
    pub fn poll(&mut self, now: Instant) {
        self.iface.poll(now, &mut self.port, &mut self.sockets);
    }

    /// Opens a TCP connection to the server's `port` (64 KiB buffers;
    /// see [`connect_with`](Self::connect_with)).
    pub fn connect(&mut self, port: u16) -> SocketHandle {
        self.connect_with(port, 64 * 1024)
    }

    /// Opens a TCP connection with `buffer` bytes each way.
    pub fn connect_with(&mut self, port: u16, buffer: usize) -> SocketHandle {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; buffer]),
            tcp::SocketBuffer::new(vec![0; buffer]),
        );
        s.set_nagle_enabled(false);
        s.set_ack_delay(None);
        let local = self.next_port;
        self.next_port = self.next_port.wrapping_add(1).max(40_000);
        s.connect(
            self.iface.context(),
            IpEndpoint::new(IpAddress::Ipv4(SERVER), port),
            local,
        )
        .expect("connect");
        self.sockets.add(s)
    }

    /// The TCP socket `h`.
    pub fn tcp(&mut self, h: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(h)
    }

    /// Queues `data` on `h`; returns how much fit.
    pub fn send(&mut self, h: SocketHandle, data: &[u8]) -> usize {
        self.tcp(h).send_slice(data).unwrap_or(0)
    }

    /// Takes what arrived on `h`.
    pub fn recv(&mut self, h: SocketHandle) -> Vec<u8> {
        let mut out = Vec::new();
        let s = self.tcp(h);
        while let Ok(n) = s.recv(|b| {
            out.extend_from_slice(b);
            (b.len(), b.len())
        }) {
            if n == 0 {
                break;
            }
        }
        out
    }

    /// A UDP socket bound to `port`.
    pub fn udp(&mut self, port: u16) -> SocketHandle {
        let buffer =
            || udp::PacketBuffer::new(vec![udp::PacketMetadata::EMPTY; 64], vec![0; 64 * 1024]);
        let mut s = udp::Socket::new(buffer(), buffer());
        s.bind(port).expect("bind");
        self.sockets.add(s)
    }

    /// Sends a datagram from UDP socket `h` to the server's `port`.
    pub fn send_to(&mut self, h: SocketHandle, port: u16, data: &[u8]) {
        self.sockets
            .get_mut::<udp::Socket>(h)
            .send_slice(data, IpEndpoint::new(IpAddress::Ipv4(SERVER), port))
            .expect("udp send");
    }

    /// The next datagram on UDP socket `h`: payload and source port.
    pub fn recv_from(&mut self, h: SocketHandle) -> Option<(Vec<u8>, u16)> {
        let s = self.sockets.get_mut::<udp::Socket>(h);
        let (data, meta) = s.recv().ok()?;
        Some((data.to_vec(), meta.endpoint.port))
    }

    /// An ICMP socket bound to identifier `id`.
    pub fn icmp(&mut self, id: u16) -> SocketHandle {
        let buffer =
            || icmp::PacketBuffer::new(vec![icmp::PacketMetadata::EMPTY; 4], vec![0; 1024]);
        let mut s = icmp::Socket::new(buffer(), buffer());
        s.bind(icmp::Endpoint::Ident(id)).expect("bind");
        self.sockets.add(s)
    }

    /// The ICMP socket `h`.
    pub fn icmp_socket(&mut self, h: SocketHandle) -> &mut icmp::Socket<'static> {
        self.sockets.get_mut::<icmp::Socket>(h)
    }
}

/// The bench: server, peer and one app, with a clock.
pub struct Bench {
    /// The server's stack and service.
    pub server: Net<Port, Bell>,
    /// The remote host.
    pub peer: Peer,
    /// The app's side.
    pub sockets: Sockets<Bell>,
    /// The app's notification (the server rings it).
    pub app_bell: Bell,
    /// The server's notification (the app rings it).
    pub server_bell: Bell,
    /// The time now.
    pub now: Instant,
    /// While set, frames from the server to the peer are lost.
    pub cut: bool,
    /// The app's region, to attach a second app-side view (a restart).
    region: (usize, usize),
    /// How the server waits between rounds: `None` polls (a round every
    /// step), `Some` sleeps as on Basalt with interrupts.
    sleep: Option<Sleep>,
    /// Steps the bench ran.
    pub steps: u64,
    /// Rounds the server ran (one per step unless it sleeps).
    pub rounds: u64,
    /// Rounds of a sleeping server that only its deadline woke and that
    /// did something: a timer's work, or a wake-up the server missed.
    pub timer_rounds: u64,
}

/// Another app on the bench's server ([`Bench::attach_app`]).
pub struct App {
    /// Its side of its region.
    pub sockets: Sockets<Bell>,
    /// Its number on the server (for [`Net::set_quota`]); the bench's
    /// own app is 0.
    pub id: usize,
}

impl App {
    /// The app drains its events through `handle` and publishes its
    /// requests.
    pub fn run(&mut self, mut handle: impl FnMut(Event<'_>, &mut Io<Bell>)) {
        while let Some((event, io)) = self.sockets.next_event() {
            handle(event, io);
        }
        self.sockets.flush();
    }
}

/// The state of a server that sleeps between rounds.
#[derive(Clone, Copy, Debug)]
struct Sleep {
    /// Whether it sleeps now.
    asleep: bool,
    /// Its bell's count when it went to sleep.
    bell: u64,
    /// When its timed wait ends ([`Net::poll_at`]): `None` waits for a
    /// signal alone.
    deadline: Option<Instant>,
}

/// The bench's region size for the app (unless [`Bench::with`] says).
pub const REGION: usize = 1 << 20;

impl Bench {
    /// A bench whose server sleeps between rounds as it does on Basalt
    /// with interrupts: after a round with nothing done it asks for
    /// wake-ups ([`Net::request_wakes`]) and, if nothing is there yet,
    /// runs again only when its bell rings after that, a frame arrives
    /// for it (the NIC's interrupt) or its timers' deadline
    /// ([`Net::poll_at`]) comes.
    pub fn sleeping(limits: Limits) -> Self {
        Self::with(limits, REGION, true)
    }

    /// A bench whose server has `limits` and the static address
    /// [`SERVER`], and polls (a round every step).
    pub fn new(limits: Limits) -> Self {
        Self::with(limits, REGION, false)
    }

    /// A bench whose app's region has `region` bytes and whose server
    /// sleeps ([`sleeping`](Self::sleeping)) or polls.
    pub fn with(limits: Limits, region: usize, sleeping: bool) -> Self {
        let to_server: Queue = Rc::default();
        let to_peer: Queue = Rc::default();
        let now = Instant::from_millis(1_000);
        let server_port = Port {
            inbox: to_server.clone(),
            outbox: to_peer.clone(),
        };
        let peer_port = Port {
            inbox: to_peer.clone(),
            outbox: to_server.clone(),
        };
        let mut server = Net::new(
            server_port,
            SERVER_MAC,
            Addressing::Static {
                address: Ipv4Cidr::new(SERVER, 24),
                gateway: Some(PEER),
            },
            limits,
            42,
            1,
            now,
        )
        .expect("a unicast MAC");
        let (server_side, app_side) = proto::test_region(region);
        let region = (app_side.as_ptr() as usize, app_side.len());
        let app_bell = Bell::default();
        let server_bell = Bell::default();
        server
            .attach(server_side, app_bell.clone())
            .expect("a usable region");
        let sockets = Sockets::new(app_side, server_bell.clone()).expect("a usable region");
        Self {
            server,
            peer: Peer::new(peer_port, to_peer, to_server, now),
            sockets,
            app_bell,
            server_bell,
            now,
            cut: false,
            region,
            sleep: sleeping.then_some(Sleep {
                asleep: false,
                bell: 0,
                deadline: None,
            }),
            steps: 0,
            rounds: 0,
            timer_rounds: 0,
        }
    }

    /// Attaches another app to the server, on a region of its own
    /// ([`REGION`] bytes). The bench's steps do not run it: call
    /// [`App::run`] between them.
    pub fn attach_app(&mut self) -> App {
        let (server_side, app_side) = proto::test_region(REGION);
        let id = self
            .server
            .attach(server_side, Bell::default())
            .expect("a usable region");
        App {
            sockets: Sockets::new(app_side, self.server_bell.clone()).expect("a usable region"),
            id,
        }
    }

    /// A new app-side view of the app's region, as a restarted app would
    /// attach it.
    pub fn reattach(&mut self) {
        // SAFETY: the bench's region lives for the program (leaked); the
        // old view is dropped here, so the app side has one user.
        let region =
            unsafe { libcap::start::SharedRegion::new(self.region.0 as *mut u8, self.region.1) }
                .expect("not null");
        self.sockets = Sockets::new(region, self.server_bell.clone()).expect("a usable region");
    }

    /// One millisecond: the server, the peer and the app (`handle` gets
    /// each event) each take a turn.
    pub fn step(&mut self, handle: &mut impl FnMut(Event<'_>, &mut Io<Bell>)) {
        self.now += Duration::from_millis(1);
        self.steps += 1;
        self.server_turn();
        if self.cut {
            self.peer.to_peer.borrow_mut().clear();
        }
        self.peer.poll(self.now);
        self.app(&mut *handle);
    }

    /// The server's turn: a round, unless it sleeps and nothing wakes it.
    fn server_turn(&mut self) {
        let mut by_timer = false;
        if let Some(sleep) = &mut self.sleep
            && sleep.asleep
        {
            let signalled =
                self.server_bell.rings() != sleep.bell || !self.peer.to_server.borrow().is_empty();
            by_timer = !signalled && sleep.deadline.is_some_and(|d| self.now >= d);
            if !signalled && !by_timer {
                return;
            }
            sleep.asleep = false;
        }
        self.rounds += 1;
        let progress = self.server.poll(self.now);
        if by_timer && progress.any() {
            self.timer_rounds += 1;
        }
        if let Some(sleep) = &mut self.sleep
            && !progress.any()
            && !self.server.rx_released()
        {
            // Only rings after the request count: the real notification
            // keeps earlier ones too, so this is the stricter test.
            let bell = self.server_bell.rings();
            if !self.server.request_wakes() {
                *sleep = Sleep {
                    asleep: true,
                    bell,
                    deadline: self.server.poll_at(self.now),
                };
            }
        }
    }

    /// `steps` steps in which the app is busy elsewhere: the server and
    /// the peer take turns, the app's events and releases wait.
    pub fn without_app(&mut self, steps: usize) {
        for _ in 0..steps {
            self.now += Duration::from_millis(1);
            self.steps += 1;
            self.server_turn();
            self.peer.poll(self.now);
        }
    }

    /// `steps` steps.
    pub fn run(&mut self, steps: usize, mut handle: impl FnMut(Event<'_>, &mut Io<Bell>)) {
        for _ in 0..steps {
            self.step(&mut handle);
        }
    }

    /// `steps` steps with `server` as the app: its events, then the work
    /// they queued ([`StreamServer::settle`]), as `serve` does on Basalt.
    pub fn serve<P: Protocol>(&mut self, steps: usize, server: &mut StreamServer<P>) {
        for _ in 0..steps {
            self.step(&mut |e, io| server.handle(e, io));
            server.settle(self.sockets.io());
            self.sockets.flush();
        }
    }

    /// The app drains its events through `handle` and publishes its
    /// requests.
    pub fn app(&mut self, mut handle: impl FnMut(Event<'_>, &mut Io<Bell>)) {
        while let Some((event, io)) = self.sockets.next_event() {
            handle(event, io);
        }
        self.sockets.flush();
    }
}
