//! A TCP server for a request/response protocol, on the socket service:
//! it listens, keeps one protocol state per connection, feeds it what
//! arrives, sends what it answers as fast as the connection's credit
//! allows, pauses a connection whose answers pile up, and closes
//! connections when the protocol or the peer says so. The RESP and HTTP
//! front ends are this loop around their protocol cores.
//!
//! ```no_run
//! use net_api::serve::{Flow, Protocol, StreamServer};
//!
//! /// Answers every line with its length.
//! struct Lengths;
//! impl Protocol for Lengths {
//!     type Conn = Vec<u8>;
//!     fn open(&mut self, _: net_api::proto::Endpoint, _: u16) -> Vec<u8> { Vec::new() }
//!     fn feed(&mut self, line: &mut Vec<u8>, input: &[u8], out: &mut Vec<u8>) -> Flow {
//!         for &b in input {
//!             if b == b'\n' {
//!                 out.extend_from_slice(format!("{}\n", line.len()).as_bytes());
//!                 line.clear();
//!             } else {
//!                 line.push(b);
//!             }
//!         }
//!         Flow::Read
//!     }
//!     fn close(&mut self, _: Vec<u8>) {}
//! }
//!
//! # use libcap::{Notification, start::SharedRegion};
//! # fn run(region: SharedRegion, event: Notification, wake: Notification) -> ! {
//! let mut server = StreamServer::new(Lengths, 7, 16, 100);
//! let mut net = net_api::client::Sockets::attach(region, event, wake).expect("a region");
//! server.serve(&mut net, None)
//! # }
//! ```
//!
//! The net server's tests (`servers/net/src/serve_tests.rs`) run this
//! example, and the loop's back-pressure, against a real TCP/IP stack.

use crate::client::{ConnId, Event, Io};
use crate::proto::Endpoint;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use libcap::ring::Wake;

/// What to do after feeding a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Send the output and go on reading.
    Read,
    /// The output is large: stop reading from this connection, send the
    /// output, then feed it an empty chunk (the protocol goes on with what
    /// it buffered) before reading again.
    Drain,
    /// Send the output, then close the connection.
    Close,
    /// The protocol queued work that it runs all at once in
    /// [`Protocol::flush`] (one round for every connection that waits):
    /// send the output, go on reading, and feed this connection again
    /// (with no bytes) after the flush. A peer that finished sending is
    /// not closed on while its connection waits.
    Wait,
}

/// A protocol served per connection.
pub trait Protocol {
    /// One connection's state.
    type Conn;
    /// A connection from `peer` to local `port` was accepted.
    fn open(&mut self, peer: Endpoint, port: u16) -> Self::Conn;
    /// Handles received bytes (possibly none, after [`Flow::Drain`]),
    /// appending what to send to `out`.
    fn feed(&mut self, conn: &mut Self::Conn, input: &[u8], out: &mut Vec<u8>) -> Flow;
    /// The connection is gone.
    fn close(&mut self, conn: Self::Conn);
    /// Runs the work that connections queued ([`Flow::Wait`]), once the
    /// events at hand are handled; they are fed again after it.
    fn flush(&mut self) {}
    /// The work the last [`flush`](Self::flush) started is not done: it
    /// runs on elsewhere (the RESP front end's round whose script passed
    /// `busy-reply-threshold`). The connections that wait for it are fed
    /// after a later flush finds it done (one at each wake-up); the
    /// others are read and fed meanwhile.
    fn busy(&mut self) -> bool {
        false
    }
    /// A connection was turned away (over the limit).
    fn refused(&mut self) {}
    /// The key by which [`woken`](Self::woken) names a connection.
    fn key(_conn: &Self::Conn) -> u64 {
        0
    }
    /// Appends the keys of the connections that have something to send
    /// without having received anything (a message published for them by
    /// another connection): the server feeds each of them, with no bytes,
    /// after the events at hand.
    fn woken(&mut self, _keys: &mut Vec<u64>) {}
    /// Microseconds until the protocol has work that no event brings (a
    /// pause that ends): the server wakes by then and asks
    /// [`woken`](Self::woken). `None`: nothing is due.
    fn due_in_us(&mut self) -> Option<u64> {
        None
    }
    /// The server listens (or failed to): for the component's log.
    fn listening(&mut self, _port: u16, _ok: bool) {}
    /// This host's address changed (`None`: it has none, yet).
    fn address(&mut self, _ip: Option<[u8; 4]>) {}
}

/// One connection: the protocol's state and what waits to be sent.
struct Slot<C> {
    state: C,
    out: Vec<u8>,
    /// Bytes of `out` already sent.
    sent: usize,
    /// The protocol said [`Flow::Drain`]: feed it again once `out` is out.
    draining: bool,
    /// Close once `out` is out (the protocol said so, or the peer finished).
    closing: bool,
    /// The protocol said [`Flow::Wait`]: feed it again after the flush.
    waiting: bool,
}

/// The server: a protocol on a TCP port.
pub struct StreamServer<P: Protocol> {
    protocol: P,
    port: u16,
    backlog: u16,
    max_connections: usize,
    conns: BTreeMap<ConnId, Slot<P::Conn>>,
    /// The connections whose slot says `waiting`.
    waiting: Vec<ConnId>,
    /// Each connection by the protocol's key ([`Protocol::key`]).
    keys: BTreeMap<u64, ConnId>,
}

impl<P: Protocol> StreamServer<P> {
    /// Serves `protocol` on TCP `port` (a listen backlog of `backlog`), at
    /// most `max_connections` at once (more are closed on arrival).
    pub fn new(protocol: P, port: u16, backlog: u16, max_connections: usize) -> Self {
        Self {
            protocol,
            port,
            backlog,
            max_connections,
            conns: BTreeMap::new(),
            waiting: Vec::new(),
            keys: BTreeMap::new(),
        }
    }

    /// The most output one connection holds, sent or not yet: what the
    /// loop keeps per connection at worst.
    pub fn most_output(&self) -> usize {
        self.conns.values().map(|c| c.out.len()).max().unwrap_or(0)
    }

    /// The protocol.
    pub fn protocol(&mut self) -> &mut P {
        &mut self.protocol
    }

    /// Connections open.
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Serves for ever on `net` (an app's sockets on Basalt): waits for
    /// events, or until the protocol's next due time ([`Protocol::due_in_us`],
    /// turned into time-stamp counter ticks at `tsc_hz`; without a rate
    /// the loop does not sleep while something is due), handles them,
    /// then settles what they queued.
    pub fn serve(
        &mut self,
        net: &mut crate::client::Sockets<libcap::Notification>,
        tsc_hz: Option<u64>,
    ) -> ! {
        loop {
            let deadline = self.protocol.due_in_us().map(|us| match tsc_hz {
                Some(hz) => libcap::time::rdtsc()
                    .saturating_add((u128::from(us) * u128::from(hz) / 1_000_000) as u64),
                None => 0,
            });
            net.wait_until(deadline);
            while let Some((event, io)) = net.next_event() {
                self.handle(event, io);
            }
            self.settle(net.io());
        }
    }

    /// Flushes the protocol's queued work and feeds the connections that
    /// waited for it, until none waits: call it after handling the events
    /// at hand (a batch of them shares one flush).
    pub fn settle<W: Wake>(&mut self, io: &mut Io<W>) {
        // What a flush runs may wake other connections (a push that serves
        // a client blocked in BLPOP, a message published): ask again after
        // each, until no connection waits for one.
        loop {
            let mut woken = Vec::new();
            self.protocol.woken(&mut woken);
            for key in woken {
                if let Some(&conn) = self.keys.get(&key) {
                    self.feed_idle(conn, io);
                }
            }
            if self.waiting.is_empty() {
                return;
            }
            while !self.waiting.is_empty() {
                self.protocol.flush();
                if self.protocol.busy() {
                    return;
                }
                for conn in core::mem::take(&mut self.waiting) {
                    let Some(slot) = self.conns.get_mut(&conn) else {
                        continue;
                    };
                    slot.waiting = false;
                    let flow = self.protocol.feed(&mut slot.state, &[], &mut slot.out);
                    Self::follow(slot, flow, conn, io, &mut self.waiting);
                    self.pump(conn, io);
                }
            }
        }
    }

    /// Feeds `conn` no bytes (to run what waits for it) and sends the
    /// outcome.
    fn feed_idle<W: Wake>(&mut self, conn: ConnId, io: &mut Io<W>) {
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        if slot.closing || slot.waiting {
            return;
        }
        let flow = self.protocol.feed(&mut slot.state, &[], &mut slot.out);
        Self::follow(slot, flow, conn, io, &mut self.waiting);
        self.pump(conn, io);
    }

    /// Handles one event of the socket service.
    pub fn handle<W: Wake>(&mut self, event: Event<'_>, io: &mut Io<W>) {
        match event {
            Event::Reset { .. } => {
                // The net server (re)started: no connection of before lives.
                for (_, slot) in core::mem::take(&mut self.conns) {
                    self.protocol.close(slot.state);
                }
                self.keys.clear();
                io.listen(self.port, self.backlog);
            }
            Event::Listening { port, result } => self.protocol.listening(port, result.is_ok()),
            Event::Accepted { conn, port, peer } => {
                if self.conns.len() >= self.max_connections {
                    self.protocol.refused();
                    io.close(conn);
                    return;
                }
                let state = self.protocol.open(peer, port);
                self.keys.insert(P::key(&state), conn);
                let slot = Slot {
                    state,
                    out: Vec::new(),
                    sent: 0,
                    draining: false,
                    closing: false,
                    waiting: false,
                };
                self.conns.insert(conn, slot);
            }
            Event::Received { conn, data } => {
                let Some(slot) = self.conns.get_mut(&conn) else {
                    return;
                };
                if slot.closing {
                    return;
                }
                let flow = self.protocol.feed(&mut slot.state, data, &mut slot.out);
                Self::follow(slot, flow, conn, io, &mut self.waiting);
                self.pump(conn, io);
            }
            Event::Writable { conn } => self.pump(conn, io),
            Event::Eof { conn } => {
                if let Some(slot) = self.conns.get_mut(&conn) {
                    slot.closing = true;
                }
                self.pump(conn, io);
            }
            Event::Closed { conn, .. } => {
                if let Some(slot) = self.conns.remove(&conn) {
                    self.keys.remove(&P::key(&slot.state));
                    self.protocol.close(slot.state);
                }
            }
            Event::Address(ip) => self.protocol.address(ip),
            Event::Bound { .. } | Event::Datagram { .. } => {}
        }
    }

    /// Acts on what the protocol said.
    fn follow<W: Wake>(
        slot: &mut Slot<P::Conn>,
        flow: Flow,
        conn: ConnId,
        io: &mut Io<W>,
        waiting: &mut Vec<ConnId>,
    ) {
        if flow == Flow::Wait && !slot.waiting {
            slot.waiting = true;
            waiting.push(conn);
        }
        match flow {
            Flow::Read | Flow::Wait => {
                if slot.draining {
                    slot.draining = false;
                    io.set_receiving(conn, true);
                }
            }
            Flow::Drain => {
                if !slot.draining {
                    slot.draining = true;
                    io.set_receiving(conn, false);
                }
            }
            Flow::Close => slot.closing = true,
        }
    }

    /// Sends what waits for `conn` as far as its credit goes; feeds a
    /// draining protocol again once its output is out; closes a closing
    /// connection once everything is sent.
    fn pump<W: Wake>(&mut self, conn: ConnId, io: &mut Io<W>) {
        let Some(slot) = self.conns.get_mut(&conn) else {
            return;
        };
        loop {
            while slot.sent < slot.out.len() {
                let n = io.send(conn, &slot.out[slot.sent..]);
                if n == 0 {
                    // A `Writable` event comes when there is room.
                    return;
                }
                slot.sent += n;
            }
            slot.out.clear();
            slot.sent = 0;
            if slot.waiting {
                return;
            }
            if slot.closing {
                break;
            }
            if !slot.draining {
                return;
            }
            let flow = self.protocol.feed(&mut slot.state, &[], &mut slot.out);
            // Draining with nothing to send would spin: read instead.
            let flow = if flow == Flow::Drain && slot.out.is_empty() {
                Flow::Read
            } else {
                flow
            };
            Self::follow(slot, flow, conn, io, &mut self.waiting);
        }
        // Closing, everything sent: the connection ends here (the service
        // reports no `Closed` for a close the app asked for).
        io.close(conn);
        if let Some(slot) = self.conns.remove(&conn) {
            self.keys.remove(&P::key(&slot.state));
            self.protocol.close(slot.state);
        }
    }
}
