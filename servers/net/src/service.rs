//! The socket service: apps' requests applied to smoltcp sockets, and
//! what happens on the sockets turned into events, through each app's
//! shared region ([`crate::proto`]).
//!
//! Every pass ([`Service::pass`]) takes each app's requests, then walks the
//! listeners and connections. Events are derived from the sockets' state
//! rather than queued, so a full event ring only delays them: a
//! connection's data, credit, end of stream and close are reported once
//! there is room. The per-connection limits ([`Limits::rx_window`], the
//! send credit) keep one connection from filling an app's rings, the
//! socket limit ([`Limits::max_sockets`]) bounds the memory a flood of
//! connections can take, and each app's socket quota
//! ([`Service::set_quota`]) keeps one app's connections from taking the
//! sockets another app needs.

use crate::proto::{
    self, AttachError, ByteRing, CloseReason, ControlBlock, Endpoint, Error, Event, Request,
    Writer, ev, op,
};
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use libcap::ring::{Consumer, Producer, Wake};
use libcap::start::SharedRegion;
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::{tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};

/// The service's limits and socket settings (the server's config
/// arguments; see `docs/net.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// TCP sockets in all: listening, half-open and connected ones.
    pub max_sockets: usize,
    /// A TCP socket's receive buffer (bytes): its largest window.
    pub rx_buffer: usize,
    /// A TCP socket's transmit buffer (bytes): the most send credit a
    /// connection has.
    pub tx_buffer: usize,
    /// The most received bytes of one connection that wait in an app's
    /// rx ring, not yet released.
    pub rx_window: usize,
    /// The most listening sockets one listener keeps.
    pub max_backlog: usize,
    /// A half-open connection (SYN received) is dropped after this long.
    pub syn_timeout: Duration,
    /// A connection whose peer answers nothing for this long (no data, no
    /// ACK of a keep-alive probe) is dropped.
    pub tcp_timeout: Duration,
    /// UDP sockets (bound ports) in all.
    pub max_udp: usize,
    /// A UDP socket's buffer for payload, each way (bytes).
    pub udp_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_sockets: 1100,
            rx_buffer: 8192,
            tx_buffer: 8192,
            rx_window: 16384,
            max_backlog: 64,
            syn_timeout: Duration::from_secs(10),
            tcp_timeout: Duration::from_secs(120),
            max_udp: 16,
            udp_buffer: 16384,
        }
    }
}

/// The longest the service goes without walking its sockets (for what
/// timers change: half-open timeouts, connections smoltcp dropped) while
/// it runs rounds; a sleeping server wakes for them at
/// [`Service::poll_at`] and at smoltcp's own deadline.
pub const SCAN_INTERVAL: Duration = Duration::from_millis(10);

/// Datagrams a UDP socket queues each way.
const UDP_PACKETS: usize = 32;

pub use net_api::proto::MAX_DATAGRAM;

impl Limits {
    /// Heap bytes the TCP sockets can take at most: their buffers and
    /// bookkeeping, for [`max_sockets`](Self::max_sockets) of them.
    pub fn tcp_bytes(&self) -> usize {
        self.max_sockets * (self.rx_buffer + self.tx_buffer + SOCKET_OVERHEAD)
    }

    /// Heap bytes the UDP sockets can take at most.
    pub fn udp_bytes(&self) -> usize {
        self.max_udp * (2 * self.udp_buffer + 2 * UDP_PACKETS * 64 + SOCKET_OVERHEAD)
    }
}

/// Bytes of bookkeeping per socket besides its buffers: the smoltcp
/// socket, its slot in the socket set and the service's connection.
pub const SOCKET_OVERHEAD: usize = size_of::<tcp::Socket<'static>>()
    + size_of::<Option<smoltcp::iface::SocketStorage<'static>>>()
    + size_of::<Option<Conn>>()
    + 64;

/// Counters for logs and metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections now open (accepted, not yet gone).
    pub connections: usize,
    /// Connections accepted since start.
    pub accepted: u64,
    /// TCP sockets the service holds (at most `max_sockets`).
    pub sockets: usize,
    /// Connections half open: SYN received, handshake not complete.
    pub half_open: usize,
    /// Times a listener could not get a socket (the limit, or its app's
    /// quota).
    pub refused: u64,
    /// Of those, the times its app held its whole quota.
    pub over_quota: u64,
    /// Payload bytes moved to apps.
    pub rx_bytes: u64,
    /// Payload bytes taken from apps.
    pub tx_bytes: u64,
    /// Connections aborted for sending beyond their credit.
    pub violations: u64,
}

/// One app's end of its region.
struct Client<W> {
    requests: Consumer<Request>,
    events: Producer<Event>,
    tx: ByteRing,
    rx: ByteRing,
    control: ControlBlock,
    rx_writer: Writer,
    tx_released: u64,
    /// Data events not yet released: end position, slot, generation, bytes.
    in_flight: VecDeque<(u64, u32, u32, usize)>,
    wake: W,
    /// Events pushed since the last wake-up check.
    pushed: bool,
    /// The last pass left received bytes in a socket for lack of rx
    /// space: the ring was full, or a connection had its `rx_window` out
    /// with the app. The app's next release is worth a wake-up.
    rx_waiting: bool,
    /// An event did not fit in the last pass.
    events_full: bool,
    reset_sent: bool,
    address_sent: Option<u64>,
    /// The most TCP sockets the app may hold.
    quota: usize,
    /// TCP sockets the app holds: its listeners' (listening and half
    /// open), its connections' (until their socket is closed), and those
    /// of either still sending their RST. A socket counts from the moment
    /// it is taken for the app until it is back among the spares.
    held: usize,
}

impl<W> Client<W> {
    /// The payload bytes of send request `r` (at most the tx ring's
    /// size), released to the app at once: they are consumed now, and a
    /// request for a connection or port that is gone drops them.
    fn take_tx(&mut self, r: &Request) -> usize {
        let len = (r.len as usize).min(self.tx.size());
        let end = r.pos.wrapping_add(len as u64);
        if end > self.tx_released {
            self.tx_released = end;
            self.control.release_tx(end);
        }
        len
    }
}

/// A connection: an accepted socket and what the app knows of it.
#[derive(Debug)]
pub struct Conn {
    handle: SocketHandle,
    client: usize,
    port: u16,
    generation: u32,
    peer: Endpoint,
    /// The app heard of it (ACCEPTED was pushed).
    announced: bool,
    /// The app closed or aborted it: nothing more is reported.
    app_closed: bool,
    eof_sent: bool,
    paused: bool,
    /// Send credit the app holds.
    granted: usize,
    /// Bytes in the app's rx ring, not yet released.
    outstanding: usize,
}

/// A port an app listens on, and its listening sockets.
struct Listener {
    client: usize,
    port: u16,
    backlog: usize,
    /// Sockets in the LISTEN state.
    idle: Vec<SocketHandle>,
    /// Sockets that got a SYN, and since when.
    half_open: Vec<(SocketHandle, Instant)>,
}

/// A bound UDP port.
struct Binding {
    client: usize,
    port: u16,
    handle: SocketHandle,
}

/// The socket service.
pub struct Service<W> {
    limits: Limits,
    clients: Vec<Client<W>>,
    slots: Vec<Option<Conn>>,
    generations: Vec<u32>,
    free_slots: Vec<u32>,
    listeners: Vec<Listener>,
    bindings: Vec<Binding>,
    /// Closed TCP sockets ready for reuse.
    spare: Vec<SocketHandle>,
    /// Aborted sockets whose RST has not gone out yet, and the app that
    /// held them (they count towards its quota until then).
    dying: Vec<(SocketHandle, usize)>,
    /// UDP sockets of ports no longer bound, for reuse.
    spare_udp: Vec<SocketHandle>,
    tcp_sockets: usize,
    udp_sockets: usize,
    generation: u32,
    scan_from: usize,
    /// The interface's address, packed (0 while there is none).
    address: u64,
    /// When the sockets are walked next at the latest.
    next_scan: Instant,
    stats: Stats,
}

/// What a pass did (for the caller's idle decision).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Activity {
    /// Requests taken from apps.
    pub requests: usize,
    /// Events pushed to apps.
    pub events: usize,
}

impl Activity {
    /// Whether anything happened.
    pub const fn any(&self) -> bool {
        self.requests + self.events > 0
    }
}

impl<W: Wake> Service<W> {
    /// A service with `limits`; `generation` (the server's start count)
    /// goes into connection generations and the apps' RESET event.
    pub fn new(limits: Limits, generation: u32) -> Self {
        Self {
            limits,
            clients: Vec::new(),
            slots: Vec::new(),
            generations: Vec::new(),
            free_slots: Vec::new(),
            listeners: Vec::new(),
            bindings: Vec::new(),
            spare: Vec::new(),
            dying: Vec::new(),
            spare_udp: Vec::new(),
            tcp_sockets: 0,
            udp_sockets: 0,
            generation,
            scan_from: 0,
            address: 0,
            next_scan: Instant::ZERO,
            stats: Stats::default(),
        }
    }

    /// The limits.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Counters.
    pub fn stats(&self) -> Stats {
        Stats {
            sockets: self.tcp_sockets,
            half_open: self.listeners.iter().map(|l| l.half_open.len()).sum(),
            ..self.stats
        }
    }

    /// Apps attached.
    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Attaches an app's region; `wake` signals the app. Its requests are
    /// served from the next pass on, after a RESET event. Its socket quota
    /// is the whole pool until [`set_quota`](Self::set_quota) says
    /// otherwise.
    ///
    /// # Errors
    ///
    /// The region is too small or misaligned.
    pub fn attach(&mut self, region: SharedRegion, wake: W) -> Result<usize, AttachError> {
        let (_, parts) = proto::split(region)?;
        let control = parts.control();
        let (requests, events) = proto::server_rings(parts.requests, parts.events)?;
        // A restarted server continues where its predecessor stopped:
        // positions never go back, and what the app has not released yet
        // is not overwritten.
        let rx_writer =
            Writer::resume(parts.rx.size(), control.rx_written(), control.rx_released());
        let tx_released = control.tx_released();
        self.clients.push(Client {
            requests,
            events,
            rx_writer,
            tx: parts.tx,
            rx: parts.rx,
            control,
            tx_released,
            in_flight: VecDeque::new(),
            wake,
            pushed: false,
            rx_waiting: false,
            events_full: false,
            reset_sent: false,
            address_sent: None,
            quota: self.limits.max_sockets,
            held: 0,
        });
        Ok(self.clients.len() - 1)
    }

    /// Lets app `app` hold at most `quota` TCP sockets: listening, half
    /// open and connected ones. With quotas that add up to at most
    /// [`Limits::max_sockets`], no app can take a socket that another
    /// app's quota leaves it: an app at its quota gets no new listening
    /// sockets, so SYNs for its ports are reset until one of its sockets
    /// is free again, and its LISTEN requests fail with
    /// [`Error::Quota`]. A quota below what the app holds takes nothing
    /// away; it only stops the app from taking more.
    pub fn set_quota(&mut self, app: usize, quota: usize) {
        if let Some(client) = self.clients.get_mut(app) {
            client.quota = quota;
        }
    }

    /// App `app`'s TCP sockets now and its quota (`None` for no such app).
    pub fn sockets_of(&self, app: usize) -> Option<(usize, usize)> {
        self.clients.get(app).map(|c| (c.held, c.quota))
    }

    /// Records the interface's address (`None` while it has none); apps
    /// hear of it in an ADDRESS event.
    pub fn set_address(&mut self, address: Option<Ipv4Address>) {
        self.address = address.map_or(0, |a| {
            Endpoint {
                addr: a.octets(),
                port: 0,
            }
            .pack()
        });
    }

    /// One pass: requests, listeners, connections, UDP; wakes the apps
    /// that got events.
    ///
    /// The walk over the sockets costs time in proportion to their
    /// number, so it runs only when something may have changed: `frames`
    /// (the interface took in or sent frames), requests were taken, an
    /// app released rx bytes or made room in a full event ring, or
    /// [`SCAN_INTERVAL`] passed (timers).
    pub fn pass(
        &mut self,
        sockets: &mut SocketSet<'static>,
        now: Instant,
        frames: bool,
    ) -> Activity {
        let mut activity = Activity::default();
        for c in 0..self.clients.len() {
            self.announce(c, &mut activity);
            activity.requests += self.take_requests(c, sockets, now, &mut activity);
        }
        let due = frames
            || activity.requests > 0
            || now >= self.next_scan
            || self.clients.iter_mut().any(|c| {
                (c.events_full && c.events.free() > 0)
                    || c.rx_writer.advances(c.control.rx_released())
            });
        if due {
            self.next_scan = now + SCAN_INTERVAL;
            for client in &mut self.clients {
                client.events_full = false;
            }
            self.reap(sockets);
            self.watch_listeners(sockets, now);
            self.scan_connections(sockets, &mut activity);
            self.deliver_datagrams(sockets, &mut activity);
        }
        for client in &mut self.clients {
            client.requests.notify(&client.wake);
            if client.pushed {
                client.pushed = false;
                client.events.notify(&client.wake);
            }
        }
        activity
    }

    /// Whether some app released rx space that received bytes wait for
    /// (a full ring, a connection's window): worth a pass even if
    /// nothing else happened.
    pub fn rx_released(&mut self) -> bool {
        self.clients
            .iter()
            .any(|c| c.rx_waiting && c.rx_writer.advances(c.control.rx_released()))
    }

    /// Before the server sleeps: asks every app to signal the server when
    /// it queues requests, releases rx space that received bytes wait for
    /// or frees an event slot the service waits for; returns whether any
    /// of that is there already, in which case the server must not sleep
    /// (the app may have looked before the request and not signalled).
    pub fn request_wakes(&mut self) -> bool {
        let mut ready = false;
        for c in &mut self.clients {
            ready |= c.requests.request_wake();
            if c.rx_waiting {
                ready |= c.rx_writer.advances(c.control.request_rx_wake());
            }
            if c.events_full {
                ready |= c.events.request_wake();
            }
        }
        ready
    }

    fn announce(&mut self, c: usize, activity: &mut Activity) {
        let generation = self.generation;
        let address = self.address;
        let client = &mut self.clients[c];
        if !client.reset_sent {
            client.reset_sent = push(
                client,
                Event {
                    kind: ev::RESET,
                    len: generation,
                    ..Event::default()
                },
                activity,
            );
        }
        if client.reset_sent
            && client.address_sent != Some(address)
            && push(
                client,
                Event {
                    kind: ev::ADDRESS,
                    arg: address,
                    ..Event::default()
                },
                activity,
            )
        {
            client.address_sent = Some(address);
        }
    }

    /// Applies app `c`'s requests, as long as its event ring has room for
    /// an answer.
    fn take_requests(
        &mut self,
        c: usize,
        sockets: &mut SocketSet<'static>,
        now: Instant,
        activity: &mut Activity,
    ) -> usize {
        let mut taken = 0;
        let budget = self.clients[c].requests.capacity();
        while taken < budget {
            let client = &mut self.clients[c];
            if !client.reset_sent || client.events.free() == 0 {
                break;
            }
            let Some(r) = client.requests.try_pop() else {
                break;
            };
            taken += 1;
            match r.op {
                op::LISTEN => {
                    let status = self.listen(c, r.len, r.arg, sockets, now);
                    push(
                        &mut self.clients[c],
                        Event {
                            kind: ev::LISTENING,
                            len: status,
                            arg: u64::from(r.len as u16),
                            ..Event::default()
                        },
                        activity,
                    );
                }
                op::UNLISTEN => self.unlisten(c, r.len, sockets),
                op::SEND => self.send(c, &r, sockets),
                op::CLOSE | op::ABORT => self.close(c, &r, sockets),
                op::PAUSE | op::RESUME => {
                    if let Some(conn) = self.conn_mut(c, &r) {
                        conn.paused = r.op == op::PAUSE;
                    }
                }
                op::UDP_BIND => {
                    let status = self.bind(c, r.len, sockets);
                    push(
                        &mut self.clients[c],
                        Event {
                            kind: ev::BOUND,
                            len: status,
                            arg: u64::from(r.len as u16),
                            ..Event::default()
                        },
                        activity,
                    );
                }
                op::UDP_SEND => self.send_to(c, &r, sockets),
                op::HELLO => {
                    self.forget(c, sockets);
                    let generation = self.generation;
                    push(
                        &mut self.clients[c],
                        Event {
                            kind: ev::RESET,
                            len: generation,
                            arg: r.arg,
                            ..Event::default()
                        },
                        activity,
                    );
                }
                op::UDP_UNBIND => self.unbind(c, r.len, sockets),
                // An unknown request is ignored: an app built against a
                // newer protocol gets no answer rather than a crash.
                _ => {}
            }
        }
        taken
    }

    /// Drops everything app `c` had: its predecessor's connections
    /// (reset), listeners and bindings.
    fn forget(&mut self, c: usize, sockets: &mut SocketSet<'static>) {
        for conn in self.slots.iter_mut().flatten() {
            if conn.client == c && !conn.app_closed {
                conn.app_closed = true;
                sockets.get_mut::<tcp::Socket>(conn.handle).abort();
            }
        }
        let ports: Vec<u16> = self
            .listeners
            .iter()
            .filter(|l| l.client == c)
            .map(|l| l.port)
            .collect();
        for port in ports {
            self.unlisten(c, u32::from(port), sockets);
        }
        let ports: Vec<u16> = self
            .bindings
            .iter()
            .filter(|b| b.client == c)
            .map(|b| b.port)
            .collect();
        for port in ports {
            self.unbind(c, u32::from(port), sockets);
        }
    }

    fn conn_mut(&mut self, c: usize, r: &Request) -> Option<&mut Conn> {
        self.slots
            .get_mut(r.conn as usize)?
            .as_mut()
            .filter(|conn| conn.client == c && conn.generation == r.generation && !conn.app_closed)
    }

    /// A TCP socket for app `c`: a spare one or a new one, within the
    /// app's quota ([`Error::Quota`]) and the limit ([`Error::Limit`]).
    fn socket(
        &mut self,
        c: usize,
        sockets: &mut SocketSet<'static>,
    ) -> Result<SocketHandle, Error> {
        // With quotas that add up to at most the limit, only an app at
        // its quota can find no socket: say so rather than `Limit`.
        if self.clients[c].held >= self.clients[c].quota {
            self.stats.refused += 1;
            self.stats.over_quota += 1;
            return Err(Error::Quota);
        }
        if self.spare.is_empty() && self.tcp_sockets >= self.limits.max_sockets {
            self.stats.refused += 1;
            return Err(Error::Limit);
        }
        let handle = self.spare.pop().unwrap_or_else(|| {
            self.tcp_sockets += 1;
            sockets.add(tcp::Socket::new(
                tcp::SocketBuffer::new(vec![0; self.limits.rx_buffer]),
                tcp::SocketBuffer::new(vec![0; self.limits.tx_buffer]),
            ))
        });
        self.clients[c].held += 1;
        let s = sockets.get_mut::<tcp::Socket>(handle);
        // Request/response traffic: no Nagle (a small reply goes out at
        // once) and no delayed ACK (which with the peer's Nagle holds a
        // pipelined request back for the delay).
        s.set_nagle_enabled(false);
        s.set_ack_delay(None);
        // smoltcp counts its timeout from the peer's last segment even on
        // an idle connection, so keep-alive probes (a quarter of the
        // timeout apart) keep a live peer talking; a peer that answers
        // none of them is dropped.
        s.set_timeout(Some(self.limits.tcp_timeout));
        s.set_keep_alive(Some(self.limits.tcp_timeout / 4));
        Ok(handle)
    }

    /// Puts a socket that left a connection or a listener of app `owner`
    /// back to use: aborted sockets first send their RST, and count
    /// towards the app's quota until then.
    fn retire(&mut self, handle: SocketHandle, owner: usize, sockets: &mut SocketSet<'static>) {
        let s = sockets.get_mut::<tcp::Socket>(handle);
        if s.state() == tcp::State::Closed && s.remote_endpoint().is_none() {
            self.spare.push(handle);
            self.clients[owner].held -= 1;
        } else {
            s.abort();
            self.dying.push((handle, owner));
        }
    }

    /// Moves aborted sockets whose RST went out to the spares.
    fn reap(&mut self, sockets: &mut SocketSet<'static>) {
        let spare = &mut self.spare;
        let clients = &mut self.clients;
        self.dying.retain(|&(h, owner)| {
            let s = sockets.get::<tcp::Socket>(h);
            let done = s.state() == tcp::State::Closed && s.remote_endpoint().is_none();
            if done {
                spare.push(h);
                clients[owner].held -= 1;
            }
            !done
        });
    }

    fn listen(
        &mut self,
        c: usize,
        port: u32,
        backlog: u64,
        sockets: &mut SocketSet<'static>,
        now: Instant,
    ) -> u32 {
        let Ok(port) = u16::try_from(port) else {
            return Error::Invalid as u32;
        };
        if port == 0 || backlog == 0 {
            return Error::Invalid as u32;
        }
        if self.listeners.iter().any(|l| l.port == port) {
            return Error::InUse as u32;
        }
        let backlog = usize::try_from(backlog)
            .unwrap_or(usize::MAX)
            .min(self.limits.max_backlog);
        self.listeners.push(Listener {
            client: c,
            port,
            backlog,
            idle: Vec::new(),
            half_open: Vec::new(),
        });
        let l = self.listeners.len() - 1;
        let topped = self.replenish(l, sockets, now);
        if self.listeners[l].idle.is_empty() {
            self.listeners.pop();
            return topped.err().unwrap_or(Error::Limit) as u32;
        }
        0
    }

    fn unlisten(&mut self, c: usize, port: u32, sockets: &mut SocketSet<'static>) {
        let Some(i) = self
            .listeners
            .iter()
            .position(|l| l.client == c && u32::from(l.port) == port)
        else {
            return;
        };
        let l = self.listeners.swap_remove(i);
        for h in l
            .idle
            .into_iter()
            .chain(l.half_open.into_iter().map(|(h, _)| h))
        {
            self.retire(h, c, sockets);
        }
    }

    /// Tops listener `l` up to its backlog of listening sockets (while
    /// its half-open ones are fewer than the backlog: a SYN flood takes
    /// at most twice the backlog); says why it stopped short, if it did.
    fn replenish(
        &mut self,
        l: usize,
        sockets: &mut SocketSet<'static>,
        _now: Instant,
    ) -> Result<(), Error> {
        loop {
            let listener = &self.listeners[l];
            if listener.idle.len() >= listener.backlog
                || listener.idle.len() + listener.half_open.len() >= 2 * listener.backlog
            {
                return Ok(());
            }
            let (port, client) = (listener.port, listener.client);
            let h = self.socket(client, sockets)?;
            let s = sockets.get_mut::<tcp::Socket>(h);
            if s.listen(IpListenEndpoint { addr: None, port }).is_err() {
                self.retire(h, client, sockets);
                return Err(Error::Invalid);
            }
            self.listeners[l].idle.push(h);
        }
    }

    /// When the service's own timers want a pass next: the first
    /// half-open connection's SYN timeout. `None`: none is running.
    pub fn poll_at(&self) -> Option<Instant> {
        let syn_timeout = self.limits.syn_timeout;
        self.listeners
            .iter()
            .flat_map(|l| l.half_open.iter())
            .map(|&(_, since)| since + syn_timeout)
            .min()
    }

    /// Promotes listening sockets that connected, recycles failed ones,
    /// drops half-open ones past the SYN timeout, and tops listeners up.
    fn watch_listeners(&mut self, sockets: &mut SocketSet<'static>, now: Instant) {
        for l in 0..self.listeners.len() {
            let mut idle = core::mem::take(&mut self.listeners[l].idle);
            let mut half_open = core::mem::take(&mut self.listeners[l].half_open);
            let mut promote = Vec::new();
            let mut back = Vec::new();
            idle.retain(|&h| match sockets.get::<tcp::Socket>(h).state() {
                tcp::State::Listen => true,
                tcp::State::SynReceived => {
                    half_open.push((h, now));
                    false
                }
                tcp::State::Established | tcp::State::CloseWait => {
                    promote.push(h);
                    false
                }
                _ => {
                    back.push(h);
                    false
                }
            });
            let syn_timeout = self.limits.syn_timeout;
            half_open.retain(|&(h, since)| match sockets.get::<tcp::Socket>(h).state() {
                tcp::State::SynReceived if now - since < syn_timeout => true,
                tcp::State::Established | tcp::State::CloseWait => {
                    promote.push(h);
                    false
                }
                tcp::State::Listen => {
                    // A reset half-open connection: smoltcp listens again.
                    idle.push(h);
                    false
                }
                _ => {
                    back.push(h);
                    false
                }
            });
            let (client, port) = (self.listeners[l].client, self.listeners[l].port);
            self.listeners[l].idle = idle;
            self.listeners[l].half_open = half_open;
            for h in back {
                self.retire(h, client, sockets);
            }
            for h in promote {
                self.promote(h, client, port, sockets);
            }
            // Short of sockets (the app's quota, the limit), the listener
            // serves with those it has: SYNs beyond them are reset.
            let _ = self.replenish(l, sockets, now);
        }
    }

    /// Makes connected socket `handle` a connection of app `client`.
    fn promote(
        &mut self,
        handle: SocketHandle,
        client: usize,
        port: u16,
        sockets: &mut SocketSet<'static>,
    ) {
        let slot = match self.free_slots.pop() {
            Some(s) => s as usize,
            None => {
                self.slots.push(None);
                self.generations.push(self.generation << 16);
                self.slots.len() - 1
            }
        };
        self.generations[slot] = self.generations[slot].wrapping_add(1);
        let peer = sockets
            .get::<tcp::Socket>(handle)
            .remote_endpoint()
            .map_or(Endpoint::default(), endpoint);
        self.slots[slot] = Some(Conn {
            handle,
            client,
            port,
            generation: self.generations[slot],
            peer,
            announced: false,
            app_closed: false,
            eof_sent: false,
            paused: false,
            granted: 0,
            outstanding: 0,
        });
        self.stats.accepted += 1;
        self.stats.connections += 1;
    }

    fn free_slot(&mut self, slot: usize) {
        if self.slots[slot].take().is_some() {
            self.free_slots.push(slot as u32);
            self.stats.connections -= 1;
        }
    }

    fn send(&mut self, c: usize, r: &Request, sockets: &mut SocketSet<'static>) {
        let client = &mut self.clients[c];
        let len = client.take_tx(r);
        let Some(conn) = self
            .slots
            .get_mut(r.conn as usize)
            .and_then(Option::as_mut)
            .filter(|conn| conn.client == c && conn.generation == r.generation && !conn.app_closed)
        else {
            return; // a connection that is gone: the bytes are dropped
        };
        let s = sockets.get_mut::<tcp::Socket>(conn.handle);
        if len > conn.granted {
            // More than the credit: the app broke the protocol; the
            // connection cannot carry on with bytes missing.
            s.abort();
            conn.app_closed = true;
            self.stats.violations += 1;
            libcap::log::warn!(
                "app {c} sent {len} bytes on connection {} with credit for {}: reset",
                r.conn,
                conn.granted
            );
            let client = &mut self.clients[c];
            push(
                client,
                Event {
                    kind: ev::CLOSED,
                    conn: r.conn,
                    generation: r.generation,
                    len: CloseReason::Violation as u32,
                    ..Event::default()
                },
                &mut Activity::default(),
            );
            return;
        }
        conn.granted -= len;
        let client = &self.clients[c];
        // SAFETY: the app handed the tx bytes at `pos` to the server with
        // this request, and does not reuse them before the release above
        // is seen, which happens after this copy returns.
        let first = unsafe { client.tx.slice(r.pos, len) };
        let mut sent = s.send_slice(first).unwrap_or(0);
        if sent == first.len() && first.len() < len {
            // SAFETY: as above; the rest of the chunk, from the ring's start.
            let rest = unsafe {
                client
                    .tx
                    .slice(r.pos.wrapping_add(first.len() as u64), len - first.len())
            };
            sent += s.send_slice(rest).unwrap_or(0);
        }
        self.stats.tx_bytes += sent as u64;
    }

    fn close(&mut self, c: usize, r: &Request, sockets: &mut SocketSet<'static>) {
        let Some(conn) = self.conn_mut(c, r) else {
            return;
        };
        conn.app_closed = true;
        let s = sockets.get_mut::<tcp::Socket>(conn.handle);
        if r.op == op::ABORT {
            s.abort();
        } else {
            s.close();
        }
    }

    /// Walks the connections (from a rotating start, so that none is
    /// always last when the rings fill): announces new ones, moves
    /// received data, grants credit, reports end of stream and resets,
    /// and retires finished ones.
    fn scan_connections(&mut self, sockets: &mut SocketSet<'static>, activity: &mut Activity) {
        for client in &mut self.clients {
            let released = client.control.rx_released();
            client.rx_writer.update(released);
            client.rx_waiting = false;
            while let Some(&(end, slot, generation, len)) = client.in_flight.front() {
                if end > client.rx_writer.released {
                    break;
                }
                client.in_flight.pop_front();
                if let Some(Some(conn)) = self.slots.get_mut(slot as usize)
                    && conn.generation == generation
                {
                    conn.outstanding = conn.outstanding.saturating_sub(len);
                }
            }
        }
        let n = self.slots.len();
        if n == 0 {
            return;
        }
        let start = self.scan_from % n;
        self.scan_from = start + 1;
        for i in (start..n).chain(0..start) {
            self.scan_one(i, sockets, activity);
        }
    }

    fn scan_one(&mut self, slot: usize, sockets: &mut SocketSet<'static>, activity: &mut Activity) {
        let limits = self.limits;
        let Some(conn) = self.slots[slot].as_mut() else {
            return;
        };
        let handle = conn.handle;
        let s = sockets.get_mut::<tcp::Socket>(handle);
        if conn.app_closed {
            // Nobody reads any more: drop what arrives so that the peer
            // is not stuck on a zero window while the FIN goes out.
            let _ = s.recv(|b| (b.len(), ()));
            if matches!(s.state(), tcp::State::Closed | tcp::State::TimeWait) {
                let owner = conn.client;
                self.free_slot(slot);
                self.retire(handle, owner, sockets);
            }
            return;
        }
        let client = &mut self.clients[conn.client];
        let generation = conn.generation;
        let id = move |kind, len| Event {
            kind,
            conn: slot as u32,
            generation,
            len,
            ..Event::default()
        };
        if !conn.announced {
            let credit = limits.tx_buffer.saturating_sub(s.send_queue());
            let accepted = Event {
                pos: u64::from(conn.port),
                arg: conn.peer.pack(),
                ..id(ev::ACCEPTED, credit as u32)
            };
            if !push(client, accepted, activity) {
                return;
            }
            conn.granted = credit;
            conn.announced = true;
        }
        // Received data, up to the connection's window in the rx ring.
        while !conn.paused
            && s.can_recv()
            && conn.outstanding < limits.rx_window
            && client.events.free() > 0
        {
            let want = (limits.rx_window - conn.outstanding).min(s.recv_queue());
            let (pos, room) = client.rx_writer.reserve(want);
            if room == 0 {
                client.rx_waiting = true;
                break;
            }
            // SAFETY: `reserve` handed these bytes to the server: the app
            // released them and does not read them until the event below.
            let dst = unsafe { client.rx.slice_mut(pos, room) };
            let got = s.recv_slice(dst).unwrap_or(0);
            if got == 0 {
                break;
            }
            client.rx_writer.commit(pos, got);
            client.control.set_rx_written(client.rx_writer.pos);
            client
                .in_flight
                .push_back((pos + got as u64, slot as u32, conn.generation, got));
            conn.outstanding += got;
            self.stats.rx_bytes += got as u64;
            push(
                client,
                Event {
                    pos,
                    ..id(ev::DATA, got as u32)
                },
                activity,
            );
        }
        if !conn.paused && s.can_recv() && conn.outstanding >= limits.rx_window {
            client.rx_waiting = true;
        }
        // Credit: what the transmit buffer can take beyond what the app
        // already holds, in steps of a quarter buffer (fewer events).
        if s.may_send() {
            let room = limits
                .tx_buffer
                .saturating_sub(s.send_queue() + conn.granted);
            if room > 0
                && (room >= limits.tx_buffer / 4 || conn.granted == 0)
                && push(client, id(ev::WRITABLE, room as u32), activity)
            {
                conn.granted += room;
            }
        }
        match s.state() {
            tcp::State::CloseWait if !conn.eof_sent && !s.can_recv() => {
                conn.eof_sent = push(client, id(ev::EOF, 0), activity);
            }
            tcp::State::Closed | tcp::State::TimeWait
                if push(client, id(ev::CLOSED, CloseReason::Reset as u32), activity) =>
            {
                let owner = conn.client;
                self.free_slot(slot);
                self.retire(handle, owner, sockets);
            }
            _ => {}
        }
    }

    fn bind(&mut self, c: usize, port: u32, sockets: &mut SocketSet<'static>) -> u32 {
        let Ok(port) = u16::try_from(port) else {
            return Error::Invalid as u32;
        };
        if port == 0 {
            return Error::Invalid as u32;
        }
        if self.bindings.iter().any(|b| b.port == port) {
            return Error::InUse as u32;
        }
        let handle = match self.spare_udp.pop() {
            Some(h) => h,
            None if self.udp_sockets < self.limits.max_udp => {
                self.udp_sockets += 1;
                let buffer = || {
                    udp::PacketBuffer::new(
                        vec![udp::PacketMetadata::EMPTY; UDP_PACKETS],
                        vec![0; self.limits.udp_buffer],
                    )
                };
                sockets.add(udp::Socket::new(buffer(), buffer()))
            }
            None => return Error::Limit as u32,
        };
        if sockets.get_mut::<udp::Socket>(handle).bind(port).is_err() {
            self.spare_udp.push(handle);
            return Error::Invalid as u32;
        }
        self.bindings.push(Binding {
            client: c,
            port,
            handle,
        });
        0
    }

    fn unbind(&mut self, c: usize, port: u32, sockets: &mut SocketSet<'static>) {
        if let Some(i) = self
            .bindings
            .iter()
            .position(|b| b.client == c && u32::from(b.port) == port)
        {
            let b = self.bindings.swap_remove(i);
            sockets.get_mut::<udp::Socket>(b.handle).close();
            self.spare_udp.push(b.handle);
        }
    }

    fn send_to(&mut self, c: usize, r: &Request, sockets: &mut SocketSet<'static>) {
        let client = &mut self.clients[c];
        let len = client.take_tx(r);
        let Some(b) = self
            .bindings
            .iter()
            .find(|b| b.client == c && u32::from(b.port) == r.conn)
        else {
            return;
        };
        let to = Endpoint::unpack(r.arg);
        if len > MAX_DATAGRAM || to.port == 0 {
            return;
        }
        // SAFETY: as in `send`: the app handed these bytes over.
        let data = unsafe { client.tx.slice(r.pos, len) };
        if data.len() < len {
            return; // a datagram is never split across the ring's end
        }
        let to = IpEndpoint::new(IpAddress::Ipv4(Ipv4Address::from(to.addr)), to.port);
        // A full buffer or an unreachable peer drops the datagram, as UDP
        // may.
        if sockets
            .get_mut::<udp::Socket>(b.handle)
            .send_slice(data, to)
            .is_ok()
        {
            self.stats.tx_bytes += len as u64;
        }
    }

    fn deliver_datagrams(&mut self, sockets: &mut SocketSet<'static>, activity: &mut Activity) {
        for b in &self.bindings {
            let client = &mut self.clients[b.client];
            let s = sockets.get_mut::<udp::Socket>(b.handle);
            while client.events.free() > 0 {
                let Ok((data, meta)) = s.peek() else {
                    break;
                };
                let Some(pos) = client.rx_writer.reserve_whole(data.len()) else {
                    client.rx_waiting = true;
                    break;
                };
                let IpAddress::Ipv4(from) = meta.endpoint.addr;
                let from = Endpoint {
                    addr: from.octets(),
                    port: meta.endpoint.port,
                };
                let len = data.len();
                // SAFETY: reserved for the server, as in `scan_one`.
                unsafe { client.rx.slice_mut(pos, len) }.copy_from_slice(data);
                let _ = s.recv();
                client.rx_writer.commit(pos, len);
                client.control.set_rx_written(client.rx_writer.pos);
                self.stats.rx_bytes += len as u64;
                push(
                    client,
                    Event {
                        kind: ev::DATAGRAM,
                        conn: u32::from(b.port),
                        len: len as u32,
                        pos,
                        arg: from.pack(),
                        ..Event::default()
                    },
                    activity,
                );
            }
        }
    }
}

/// Pushes `e` to the app; false if its event ring is full.
fn push<W>(client: &mut Client<W>, e: Event, activity: &mut Activity) -> bool {
    if client.events.try_push(e).is_ok() {
        client.pushed = true;
        activity.events += 1;
        true
    } else {
        client.events_full = true;
        false
    }
}

fn endpoint(e: IpEndpoint) -> Endpoint {
    let IpAddress::Ipv4(a) = e.addr;
    Endpoint {
        addr: a.octets(),
        port: e.port,
    }
}
