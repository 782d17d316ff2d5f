//! `net-echo`: a Basalt component that echoes what it receives on a TCP
//! port (every byte back, in order, until the peer closes) and on the
//! same UDP port (each datagram back to its sender), through the net
//! server ([`net_api::client::Sockets`]). `config/net-test` boots it with the
//! server. It logs:
//!
//! ```text
//! net-echo: address 10.0.2.15
//! net-echo: listening on TCP and UDP port 7
//! net-echo: 10.0.2.2:40212 connected (1 open)
//! net-echo: 10.0.2.2:40212 done: 11 bytes echoed (0 open)
//! ```
//!
//! Arguments (declared in its Cargo.toml): `region` (the region shared
//! with the server), `net-event` (the notification the server signals
//! for it), `net-wake` (the one it signals the server with), `port`
//! (default 7), `backlog` (default 64), `quiet = true` (no line per
//! connection).
//!
//! A peer that sends faster than it reads is slowed down, not buffered
//! without bound: bytes the connection's credit does not cover wait in a
//! per-connection buffer of at most [`MAX_PENDING`] bytes, and while it is
//! that full the connection's receiving stops.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

extern crate alloc;

use alloc::collections::{BTreeMap, VecDeque};
use libcap::ring::Wake;
use net_api::client::{ConnId, Event, Io};
use net_api::proto::Endpoint;

/// Bytes a connection may have waiting to be echoed before its receiving
/// stops.
pub const MAX_PENDING: usize = 64 * 1024;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "net-echo is a Basalt component that init starts; \
         see docs/net.md (cargo xtask run --config config/net-test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(run);

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

/// Why the echo could not start.
#[cfg(target_os = "none")]
#[derive(Debug)]
#[allow(dead_code)] // read only by `Debug`
enum Failure {
    Args(libcap::bind::ArgError),
    Attach(net_api::proto::AttachError),
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    let args = args::Args::bind(start).map_err(Failure::Args)?;
    let port = args.port.unwrap_or(7);
    let backlog =
        libcap::bind::fit("backlog", args.backlog.unwrap_or(64)).map_err(Failure::Args)?;
    let mut net =
        net_api::client::Sockets::attach(args.region.cap, args.net_event.cap, args.net_wake.cap)
            .map_err(Failure::Attach)?;
    let quiet = args.quiet == Some(args::Quiet::True);
    let mut echo = Echo::new(port, backlog, !quiet);
    loop {
        net.wait();
        while let Some((event, io)) = net.next_event() {
            echo.handle(event, io);
        }
    }
}

/// One connection's state.
#[derive(Debug, Default)]
struct Conn {
    peer: Endpoint,
    /// Received bytes not yet echoed (no credit for them yet).
    pending: VecDeque<u8>,
    /// The peer finished: close once `pending` is out.
    eof: bool,
    paused: bool,
    echoed: u64,
}

/// The echo: what it does with each event.
pub struct Echo {
    port: u16,
    backlog: u16,
    verbose: bool,
    conns: BTreeMap<ConnId, Conn>,
}

impl Echo {
    /// An echo for `port` that logs each connection if `verbose`.
    pub fn new(port: u16, backlog: u16, verbose: bool) -> Self {
        Self {
            port,
            backlog,
            verbose,
            conns: BTreeMap::new(),
        }
    }

    /// Connections open.
    pub fn open(&self) -> usize {
        self.conns.len()
    }

    /// Handles one event.
    pub fn handle<W: Wake>(&mut self, event: Event<'_>, io: &mut Io<W>) {
        match event {
            Event::Reset { .. } => {
                // The server (re)started: nothing of before survives.
                self.conns.clear();
                io.listen(self.port, self.backlog);
                io.bind_udp(self.port);
            }
            Event::Address(Some([a, b, c, d])) => libcap::log::info!("address {a}.{b}.{c}.{d}"),
            Event::Address(None) => libcap::log::info!("no address yet"),
            Event::Listening { port, result } => match result {
                Ok(()) => libcap::log::info!("listening on TCP port {port}"),
                Err(e) => libcap::log::error!("cannot listen on port {port}: {e:?}"),
            },
            Event::Bound { port, result } => match result {
                Ok(()) => libcap::log::info!("bound UDP port {port}"),
                Err(e) => libcap::log::error!("cannot bind UDP port {port}: {e:?}"),
            },
            Event::Accepted { conn, peer, .. } => {
                self.conns.insert(
                    conn,
                    Conn {
                        peer,
                        ..Conn::default()
                    },
                );
                if self.verbose {
                    libcap::log::info!("{peer} connected ({} open)", self.conns.len());
                }
            }
            Event::Received { conn, data } => {
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let sent = if c.pending.is_empty() {
                    io.send(conn, data)
                } else {
                    0
                };
                c.echoed += sent as u64;
                c.pending.extend(&data[sent..]);
                if c.pending.len() >= MAX_PENDING && !c.paused {
                    c.paused = true;
                    io.set_receiving(conn, false);
                }
            }
            Event::Writable { conn } => self.drain(conn, io),
            Event::Eof { conn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.eof = true;
                }
                self.drain(conn, io);
            }
            Event::Closed { conn, reason } => {
                if let Some(c) = self.conns.remove(&conn)
                    && self.verbose
                {
                    libcap::log::info!(
                        "{} gone ({reason:?}) after {} bytes ({} open)",
                        c.peer,
                        c.echoed,
                        self.conns.len()
                    );
                }
            }
            Event::Datagram { port, from, data } => {
                // A full ring drops the echo, as UDP may.
                let _ = io.send_to(port, from, data);
            }
        }
    }

    /// Sends what `conn` has pending, as far as its credit goes; closes it
    /// once the peer is done and everything is out.
    fn drain<W: Wake>(&mut self, conn: ConnId, io: &mut Io<W>) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        while !c.pending.is_empty() {
            let (front, _) = c.pending.as_slices();
            let sent = io.send(conn, front);
            if sent == 0 {
                break;
            }
            c.pending.drain(..sent);
            c.echoed += sent as u64;
        }
        if c.paused && c.pending.len() < MAX_PENDING / 2 {
            c.paused = false;
            io.set_receiving(conn, true);
        }
        if c.eof && c.pending.is_empty() {
            io.close(conn);
            let c = self.conns.remove(&conn).unwrap_or_default();
            if self.verbose {
                libcap::log::info!(
                    "{} done: {} bytes echoed ({} open)",
                    c.peer,
                    c.echoed,
                    self.conns.len()
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use net::testing::Bench;

    #[test]
    fn echoes_in_order_and_bounds_what_it_holds() {
        let mut bench = Bench::new(Default::default());
        let mut echo = Echo::new(7, 8, false);
        bench.run(5, |e, io| echo.handle(e, io));
        // A peer that sends much faster than it reads back.
        let h = bench.peer.connect_with(7, 16 * 1024);
        bench.run(20, |e, io| echo.handle(e, io));
        assert_eq!(echo.open(), 1);
        let data: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let (mut sent, mut got) = (0, Vec::new());
        let mut most_held = 0;
        for step in 0..100_000 {
            if sent < data.len() {
                sent += bench.peer.send(h, &data[sent..]);
            }
            bench.run(1, |e, io| echo.handle(e, io));
            if step % 20 == 0 {
                got.extend(bench.peer.recv(h));
            }
            let held: usize = echo.conns.values().map(|c| c.pending.len()).sum();
            most_held = most_held.max(held);
            if got.len() == data.len() {
                break;
            }
        }
        assert!(
            got == data,
            "{} of {} bytes echoed in order",
            got.len(),
            data.len()
        );
        // It held enough to stop receiving, and not much more.
        assert!(
            (MAX_PENDING..MAX_PENDING + 32 * 1024).contains(&most_held),
            "held {most_held} bytes"
        );
        bench.peer.tcp(h).close();
        bench.run(50, |e, io| echo.handle(e, io));
        assert_eq!(echo.open(), 0, "closed after the peer's FIN");
    }
}
