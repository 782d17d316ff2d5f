//! A TCP server for a request/response protocol, on the socket service:
//! it listens, keeps one protocol state per connection, feeds it what
//! arrives, sends what it answers as fast as the connection's credit
//! allows, pauses a connection whose answers pile up, and closes
//! connections when the protocol or the peer says so. The RESP and HTTP
//! front ends are this loop around their protocol cores.
//!
//! ```
//! use net::serve::{Flow, Protocol, StreamServer};
//! use net::testing::Bench;
//!
//! /// Answers every line with its length.
//! struct Lengths;
//! impl Protocol for Lengths {
//!     type Conn = Vec<u8>;
//!     fn open(&mut self, _: net::proto::Endpoint, _: u16) -> Vec<u8> { Vec::new() }
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
//! let mut server = StreamServer::new(Lengths, 7, 16, 100);
//! let mut bench = Bench::new(Default::default());
//! bench.run(5, |e, io| server.handle(e, io));
//! let c = bench.peer.connect(7);
//! bench.run(20, |e, io| server.handle(e, io));
//! bench.peer.send(c, b"hello\nhi\n");
//! bench.run(20, |e, io| server.handle(e, io));
//! assert_eq!(bench.peer.recv(c), b"5\n2\n");
//! ```

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
    /// A connection was turned away (over the limit).
    fn refused(&mut self) {}
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
        }
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
    /// events, handles them, then settles what they queued.
    pub fn serve(&mut self, net: &mut crate::client::Sockets<libcap::Notification>) -> ! {
        loop {
            net.wait();
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
        while !self.waiting.is_empty() {
            self.protocol.flush();
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

    /// Handles one event of the socket service.
    pub fn handle<W: Wake>(&mut self, event: Event<'_>, io: &mut Io<W>) {
        match event {
            Event::Reset { .. } => {
                // The net server (re)started: no connection of before lives.
                for (_, slot) in core::mem::take(&mut self.conns) {
                    self.protocol.close(slot.state);
                }
                io.listen(self.port, self.backlog);
            }
            Event::Listening { port, result } => self.protocol.listening(port, result.is_ok()),
            Event::Accepted { conn, port, peer } => {
                if self.conns.len() >= self.max_connections {
                    self.protocol.refused();
                    io.close(conn);
                    return;
                }
                let slot = Slot {
                    state: self.protocol.open(peer, port),
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
            self.protocol.close(slot.state);
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use crate::testing::Bench;
    use alloc::vec;

    /// Answers each byte `n` with `n` copies of itself; `x` closes; at
    /// more than `pause` bytes of output it asks to drain, keeping the
    /// rest of its input for later.
    struct Echoes {
        pause: usize,
        closed: usize,
        refused: usize,
    }

    impl Protocol for Echoes {
        type Conn = Vec<u8>;
        fn open(&mut self, _: Endpoint, _: u16) -> Vec<u8> {
            Vec::new()
        }
        fn feed(&mut self, held: &mut Vec<u8>, input: &[u8], out: &mut Vec<u8>) -> Flow {
            held.extend_from_slice(input);
            while !held.is_empty() {
                if out.len() > self.pause {
                    return Flow::Drain;
                }
                let b = held.remove(0);
                if b == b'x' {
                    return Flow::Close;
                }
                out.extend(core::iter::repeat_n(b, usize::from(b - b'0')));
            }
            Flow::Read
        }
        fn close(&mut self, _: Vec<u8>) {
            self.closed += 1;
        }
        fn refused(&mut self) {
            self.refused += 1;
        }
    }

    fn server(pause: usize, max: usize) -> StreamServer<Echoes> {
        StreamServer::new(
            Echoes {
                pause,
                closed: 0,
                refused: 0,
            },
            9,
            8,
            max,
        )
    }

    #[test]
    fn a_large_answer_is_drained_not_buffered() {
        let mut s = server(1000, 10);
        let mut bench = Bench::new(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let c = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        // 5,000 bytes of input ask for 45,000 bytes of output.
        let input = vec![b'9'; 5000];
        let mut sent = 0;
        let mut got = Vec::new();
        for _ in 0..2000 {
            sent += bench.peer.send(c, &input[sent..]);
            bench.run(1, |e, io| s.handle(e, io));
            got.extend(bench.peer.recv(c));
            // The server never holds much more than its pause of output.
            for slot in s.conns.values() {
                assert!(slot.out.len() <= 1000 + 9, "{}", slot.out.len());
            }
            if got.len() == 45_000 {
                break;
            }
        }
        assert_eq!(got, vec![b'9'; 45_000]);
    }

    #[test]
    fn close_after_the_answer_and_a_limit_on_connections() {
        let mut s = server(1 << 20, 2);
        let mut bench = Bench::new(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let a = bench.peer.connect(9);
        let b = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        let c = bench.peer.connect(9);
        bench.run(20, |e, io| s.handle(e, io));
        assert_eq!(s.protocol().refused, 1);
        // Turned away: the server closed it.
        assert!(
            !bench.peer.tcp(c).may_recv(),
            "{:?}",
            bench.peer.tcp(c).state()
        );
        bench.peer.send(a, b"3x9");
        bench.run(40, |e, io| s.handle(e, io));
        // The answer before `x`, then the close; nothing after it.
        assert_eq!(bench.peer.recv(a), b"333");
        assert!(!bench.peer.tcp(a).may_recv());
        assert_eq!(s.protocol().closed, 1);
        assert_eq!(s.connections(), 1);
        bench.peer.send(b, b"2");
        bench.run(20, |e, io| s.handle(e, io));
        assert_eq!(bench.peer.recv(b), b"22");
    }
}

#[cfg(test)]
mod rounds {
    extern crate std;

    use super::*;
    use crate::testing::Bench;
    use alloc::collections::BTreeMap;
    use alloc::vec;

    /// Upper-cases each byte, but only in a round: `feed` queues, `flush`
    /// answers every connection's queue at once.
    #[derive(Default)]
    struct Rounds {
        next: u32,
        queued: BTreeMap<u32, Vec<u8>>,
        answered: BTreeMap<u32, Vec<u8>>,
        flushes: usize,
    }

    impl Protocol for Rounds {
        type Conn = u32;
        fn open(&mut self, _: Endpoint, _: u16) -> u32 {
            self.next += 1;
            self.next
        }
        fn feed(&mut self, id: &mut u32, input: &[u8], out: &mut Vec<u8>) -> Flow {
            if let Some(done) = self.answered.remove(id) {
                out.extend(done);
            }
            if input.is_empty() {
                return Flow::Read;
            }
            self.queued.entry(*id).or_default().extend_from_slice(input);
            Flow::Wait
        }
        fn close(&mut self, _: u32) {}
        fn flush(&mut self) {
            self.flushes += 1;
            for (id, q) in core::mem::take(&mut self.queued) {
                self.answered
                    .entry(id)
                    .or_default()
                    .extend(q.to_ascii_uppercase());
            }
        }
    }

    #[test]
    fn connections_share_rounds_and_a_finished_peer_gets_its_answer() {
        let mut s = StreamServer::new(Rounds::default(), 9, 64, 100);
        let mut bench = Bench::new(Default::default());
        bench.serve(5, &mut s);
        let peers: Vec<_> = (0..10).map(|_| bench.peer.connect(9)).collect();
        bench.serve(40, &mut s);
        for &p in &peers {
            assert_eq!(bench.peer.send(p, b"abc"), 3);
        }
        // The last one finishes sending at once: it still gets its answer
        // before the server closes.
        bench.peer.tcp(peers[9]).close();
        let mut got = vec![Vec::new(); peers.len()];
        for _ in 0..200 {
            bench.serve(1, &mut s);
            for (i, &p) in peers.iter().enumerate() {
                got[i].extend(bench.peer.recv(p));
            }
        }
        assert!(got.iter().all(|g| g == b"ABC"), "{got:?}");
        assert!(
            s.protocol().flushes < peers.len(),
            "{} flushes for {} connections",
            s.protocol().flushes,
            peers.len()
        );
        assert!(!bench.peer.tcp(peers[9]).may_recv(), "closed after");
        assert_eq!(s.connections(), 9);
    }
}

#[cfg(test)]
mod load {
    extern crate std;

    use super::*;
    use crate::testing::Bench;
    use alloc::vec;

    /// Answers each `L` with 3,000 bytes (an LRANGE of 300 short items).
    struct Lists;

    impl Protocol for Lists {
        type Conn = ();
        fn open(&mut self, _: Endpoint, _: u16) {}
        fn feed(&mut self, _: &mut (), input: &[u8], out: &mut Vec<u8>) -> Flow {
            for _ in input.iter().filter(|&&b| b == b'L') {
                out.extend(core::iter::repeat_n(b'x', 3000));
            }
            Flow::Read
        }
        fn close(&mut self, _: ()) {}
    }

    #[test]
    fn twenty_clients_with_large_replies_never_wait_for_the_tick() {
        let mut s = StreamServer::new(Lists, 9, 64, 100);
        let mut bench = Bench::sleeping(Default::default());
        bench.run(5, |e, io| s.handle(e, io));
        let peers: Vec<_> = (0..20).map(|_| bench.peer.connect(9)).collect();
        bench.run(40, |e, io| s.handle(e, io));
        let mut got = vec![0usize; peers.len()];
        for round in 1..=10 {
            for &p in &peers {
                assert_eq!(bench.peer.send(p, b"L"), 1);
            }
            for _ in 0..2000 {
                bench.run(1, |e, io| s.handle(e, io));
                for (i, &p) in peers.iter().enumerate() {
                    got[i] += bench.peer.recv(p).len();
                }
                if got.iter().all(|&n| n == round * 3000) {
                    break;
                }
            }
            assert!(
                got.iter().all(|&n| n == round * 3000),
                "round {round}: {got:?}"
            );
        }
        assert_eq!(bench.timer_rounds, 0, "wake-ups missed");
    }
}
