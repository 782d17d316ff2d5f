//! The server against a second smoltcp stack on an in-memory wire
//! ([`crate::testing`]): echo, back-pressure, limits, floods, malformed
//! frames, protocol violations, UDP, ICMP, an app's restart; and the
//! ring protocol's pieces.

use crate::proto::{self, CloseReason, Endpoint, Error, Layout, Request, Writer, op};
use crate::service::Limits;
use crate::settings::{QuotaError, quotas};
use crate::testing::{App, Bell, Bench, PEER, SERVER};
use net_api::client::{ConnId, Event, Io};
use smoltcp::socket::{icmp, tcp};
use smoltcp::wire::{Icmpv4Packet, Icmpv4Repr, IpAddress};
use std::collections::{BTreeMap, VecDeque};

/// An echo that keeps what its credit does not cover and sends it on
/// Writable; it closes after the peer's EOF once everything is out.
#[derive(Default)]
struct Echo {
    port: u16,
    backlog: u16,
    pending: BTreeMap<ConnId, (VecDeque<u8>, bool)>,
    accepted: Vec<ConnId>,
    closed: Vec<(ConnId, CloseReason)>,
    listening: Vec<(u16, Result<(), Error>)>,
    resets: u32,
    /// Connections whose data is kept, not echoed.
    hold: Vec<ConnId>,
    kept: Vec<u8>,
}

impl Echo {
    fn new(port: u16) -> Self {
        Self {
            port,
            backlog: 8,
            ..Self::default()
        }
    }

    fn handle(&mut self, event: Event<'_>, io: &mut Io<Bell>) {
        match event {
            Event::Reset { .. } => {
                self.resets += 1;
                self.pending.clear();
                io.listen(self.port, self.backlog);
            }
            Event::Listening { port, result } => self.listening.push((port, result)),
            Event::Accepted { conn, .. } => {
                self.accepted.push(conn);
                self.pending.insert(conn, (VecDeque::new(), false));
            }
            Event::Received { conn, data } => {
                if self.hold.contains(&conn) {
                    self.kept.extend_from_slice(data);
                    return;
                }
                let Some((pending, _)) = self.pending.get_mut(&conn) else {
                    return;
                };
                let sent = if pending.is_empty() {
                    io.send(conn, data)
                } else {
                    0
                };
                pending.extend(&data[sent..]);
            }
            Event::Writable { conn } => self.drain(conn, io),
            Event::Eof { conn } => {
                if let Some(p) = self.pending.get_mut(&conn) {
                    p.1 = true;
                }
                self.drain(conn, io);
            }
            Event::Closed { conn, reason } => {
                self.pending.remove(&conn);
                self.closed.push((conn, reason));
            }
            Event::Datagram { port, from, data } => {
                io.send_to(port, from, data).expect("room for the echo");
            }
            Event::Address(_) | Event::Bound { .. } => {}
        }
    }

    fn drain(&mut self, conn: ConnId, io: &mut Io<Bell>) {
        let Some((pending, eof)) = self.pending.get_mut(&conn) else {
            return;
        };
        while !pending.is_empty() {
            let n = io.send(conn, pending.as_slices().0);
            if n == 0 {
                break;
            }
            pending.drain(..n);
        }
        if *eof && pending.is_empty() {
            io.close(conn);
            self.pending.remove(&conn);
        }
    }
}

/// Runs `steps` steps of the bench with `echo` as the app.
fn run(bench: &mut Bench, echo: &mut Echo, steps: usize) {
    bench.run(steps, |e, io| echo.handle(e, io));
}

/// Checks that a sleeping server slept (ran fewer rounds than the bench
/// ran steps) and, unless `timers` did work, that only wake-ups got it
/// going: a round that its deadline alone started and that found work
/// means a wake-up was missed.
fn slept(bench: &Bench, timers: bool) {
    assert!(
        bench.rounds < bench.steps,
        "{} rounds in {} steps: the server never slept",
        bench.rounds,
        bench.steps
    );
    if !timers {
        assert_eq!(bench.timer_rounds, 0, "only a deadline found this work");
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// Sends `data` on `h` and collects the echo until it is all back.
fn round_trip(bench: &mut Bench, echo: &mut Echo, h: smoltcp::iface::SocketHandle, data: &[u8]) {
    let mut sent = 0;
    let mut got = Vec::new();
    for _ in 0..20_000 {
        if sent < data.len() {
            sent += bench.peer.send(h, &data[sent..]);
        }
        run(bench, echo, 1);
        got.extend(bench.peer.recv(h));
        if got.len() >= data.len() {
            break;
        }
    }
    assert_eq!(got.len(), data.len(), "the echo is incomplete");
    assert!(got == data, "the echo differs");
}

#[test]
fn several_connections_echo_and_close() {
    several_connections_echo_and_close_on(Bench::new);
}

#[test]
fn several_connections_echo_and_close_with_a_sleeping_server() {
    slept(
        &several_connections_echo_and_close_on(Bench::sleeping),
        false,
    );
}

fn several_connections_echo_and_close_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    assert_eq!(echo.resets, 1);
    assert_eq!(echo.listening, [(7, Ok(()))]);
    let conns: Vec<_> = (0..4).map(|_| bench.peer.connect(7)).collect();
    run(&mut bench, &mut echo, 20);
    assert_eq!(echo.accepted.len(), 4);
    for (i, &h) in conns.iter().enumerate() {
        round_trip(&mut bench, &mut echo, h, &pattern(i as u8, 100_000));
    }
    for &h in &conns {
        bench.peer.tcp(h).close();
    }
    run(&mut bench, &mut echo, 50);
    for &h in &conns {
        assert_eq!(bench.peer.tcp(h).state(), tcp::State::TimeWait);
    }
    assert_eq!(bench.server.stats().connections, 0);
    assert!(echo.pending.is_empty());
    assert_eq!(bench.sockets.io().open_connections(), 0);
    bench
}

#[test]
fn a_paused_connection_does_not_stall_the_others() {
    a_paused_connection_does_not_stall_the_others_on(Bench::new);
}

#[test]
fn a_paused_connection_does_not_stall_the_others_with_a_sleeping_server() {
    slept(
        &a_paused_connection_does_not_stall_the_others_on(Bench::sleeping),
        false,
    );
}

fn a_paused_connection_does_not_stall_the_others_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let a = bench.peer.connect_with(7, 16 * 1024);
    let b = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    let conn_a = echo.accepted[0];
    bench.sockets.io().set_receiving(conn_a, false);
    echo.hold.push(conn_a);
    run(&mut bench, &mut echo, 2);
    // A floods; its bytes stay in the server's socket (window closes).
    let flood = pattern(1, 100_000);
    let mut sent = 0;
    for _ in 0..200 {
        sent += bench.peer.send(a, &flood[sent..]);
        run(&mut bench, &mut echo, 1);
    }
    assert!(echo.kept.is_empty(), "a paused connection delivered data");
    assert!(sent < flood.len(), "the window should have closed");
    // B is not held up.
    round_trip(&mut bench, &mut echo, b, &pattern(2, 30_000));
    // Resumed, A's bytes arrive in order.
    bench.sockets.io().set_receiving(conn_a, true);
    for _ in 0..5_000 {
        if sent < flood.len() {
            sent += bench.peer.send(a, &flood[sent..]);
        }
        run(&mut bench, &mut echo, 1);
        if echo.kept.len() == flood.len() {
            break;
        }
    }
    assert!(echo.kept == flood, "A's bytes were lost or reordered");
    bench
}

/// A sleeping server runs a round per tick while idle, and the apps'
/// signals wake it: a request with no traffic around it, and rx bytes
/// that a slow app that only reads releases (no requests go with them)
/// while the server sleeps.
#[test]
fn a_sleeping_server_wakes_for_requests_and_released_bytes() {
    let mut bench = Bench::sleeping(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let idle = bench.rounds;
    run(&mut bench, &mut echo, 1000);
    // No timer runs and no tick exists: an idle server does not run.
    assert_eq!(bench.rounds - idle, 0, "rounds in 1000 idle steps");
    bench.sockets.io().listen(9, 4);
    run(&mut bench, &mut echo, 2);
    assert_eq!(echo.listening.last(), Some(&(9, Ok(()))));
    // A sink: the app keeps what arrives and sends nothing back.
    let h = bench.peer.connect(9);
    run(&mut bench, &mut echo, 20);
    echo.hold.push(echo.accepted[0]);
    let data = pattern(5, 300_000);
    let mut sent = 0;
    for _ in 0..3_000 {
        sent += bench.peer.send(h, &data[sent..]);
        run(&mut bench, &mut echo, 1);
        if echo.kept.len() == data.len() {
            break;
        }
        // A slow app: the server sleeps with bytes out with it.
        bench.without_app(20);
    }
    assert!(echo.kept == data, "the sink's bytes were lost or reordered");
    slept(&bench, false);
}

/// A sleeping server whose app's event ring is full wakes when the app
/// takes events (a small region: a ring of 64 events).
#[test]
fn a_sleeping_server_wakes_when_a_full_event_ring_drains() {
    let mut bench = Bench::with(
        Limits {
            max_backlog: 32,
            ..Limits::default()
        },
        proto::MIN_REGION,
        true,
    );
    let mut echo = Echo::new(7);
    echo.backlog = 32;
    run(&mut bench, &mut echo, 5);
    // 100 connections while the app is busy: more ACCEPTED events than
    // the ring holds.
    let conns: Vec<_> = (0..100)
        .map(|i| {
            if i % 20 == 0 {
                bench.without_app(20);
            }
            bench.peer.connect(7)
        })
        .collect();
    bench.without_app(100);
    assert_eq!(bench.server.stats().connections, conns.len());
    assert!(echo.accepted.is_empty());
    for _ in 0..50 {
        run(&mut bench, &mut echo, 1);
        if echo.accepted.len() == conns.len() {
            break;
        }
    }
    assert_eq!(echo.accepted.len(), conns.len());
    slept(&bench, false);
}

#[test]
fn a_peer_that_does_not_read_does_not_stall_the_others() {
    a_peer_that_does_not_read_does_not_stall_the_others_on(Bench::new);
}

#[test]
fn a_peer_that_does_not_read_does_not_stall_the_others_with_a_sleeping_server() {
    slept(
        &a_peer_that_does_not_read_does_not_stall_the_others_on(Bench::sleeping),
        false,
    );
}

fn a_peer_that_does_not_read_does_not_stall_the_others_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let slow = bench.peer.connect_with(7, 4096);
    let fast = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    let conn = echo.accepted[0];
    let big = pattern(3, 1 << 20);
    let mut offered = 0;
    for _ in 0..300 {
        offered += bench.sockets.io().send(conn, &big[offered..]);
        run(&mut bench, &mut echo, 1);
    }
    // The slow peer's window is 4 KiB and the server's buffer 8 KiB: the
    // credit stops the app long before the megabyte.
    assert!(
        offered < 64 * 1024,
        "{offered} bytes taken for a peer that reads nothing"
    );
    assert_eq!(bench.sockets.io().credit(conn), 0);
    round_trip(&mut bench, &mut echo, fast, &pattern(4, 50_000));
    // Once the slow peer reads, the credit comes back.
    let mut got = bench.peer.recv(slow);
    for _ in 0..200 {
        got.extend(bench.peer.recv(slow));
        run(&mut bench, &mut echo, 1);
    }
    assert!(bench.sockets.io().credit(conn) > 0);
    assert_eq!(&got[..], &big[..got.len()]);
    bench
}

#[test]
fn a_connection_flood_stays_within_the_socket_limit() {
    let limits = Limits {
        max_sockets: 16,
        max_backlog: 4,
        ..Limits::default()
    };
    let mut bench = Bench::new(limits);
    let mut echo = Echo::new(7);
    echo.backlog = 100;
    run(&mut bench, &mut echo, 5);
    // Waves of SYNs: more than the backlog at once are reset at once
    // (smoltcp answers a SYN no listening socket takes with a RST), the
    // rest are accepted until the socket limit.
    let mut flood = Vec::new();
    for _ in 0..100 {
        flood.push(bench.peer.connect_with(7, 2048));
        run(&mut bench, &mut echo, 3);
        assert!(bench.server.stats().sockets <= 16);
    }
    run(&mut bench, &mut echo, 100);
    let established = flood
        .iter()
        .filter(|&&h| bench.peer.tcp(h).state() == tcp::State::Established)
        .count();
    assert!(
        established > 0 && established <= 16,
        "{established} established"
    );
    assert_eq!(echo.accepted.len(), established);
    assert!(bench.server.stats().refused > 0);
    // The flood ends; a new connection is served again.
    for &h in &flood {
        bench.peer.tcp(h).abort();
    }
    run(&mut bench, &mut echo, 50);
    assert_eq!(bench.server.stats().connections, 0);
    let h = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, h, b"still serving");
}

/// Two apps with a quota of 12 sockets each, of 24 in all: app 0 on port
/// 7, another on port 9, each with a backlog of 4.
fn two_apps() -> (Bench, Echo, App, Echo) {
    let limits = Limits {
        max_sockets: 24,
        max_backlog: 4,
        ..Limits::default()
    };
    let mut bench = Bench::new(limits);
    let other = bench.attach_app();
    bench.server.set_quota(0, 12);
    bench.server.set_quota(other.id, 12);
    let mut first = Echo::new(7);
    first.backlog = 4;
    let mut second = Echo::new(9);
    second.backlog = 4;
    (bench, first, other, second)
}

/// `steps` steps of the bench with `first` as its app and `second` as
/// `other`.
fn run_both(bench: &mut Bench, first: &mut Echo, other: &mut App, second: &mut Echo, steps: usize) {
    for _ in 0..steps {
        bench.step(&mut |e, io| first.handle(e, io));
        other.run(|e, io| second.handle(e, io));
    }
}

#[test]
fn an_app_at_its_quota_leaves_the_others_their_sockets() {
    let (mut bench, mut first, mut other, mut second) = two_apps();
    run_both(&mut bench, &mut first, &mut other, &mut second, 5);
    assert_eq!(first.listening, [(7, Ok(()))]);
    assert_eq!(second.listening, [(9, Ok(()))]);
    // Idle connections to the first app, far more than its quota: it
    // holds 12 sockets at most, the rest are reset.
    let mut flood = Vec::new();
    for _ in 0..40 {
        flood.push(bench.peer.connect_with(7, 2048));
        run_both(&mut bench, &mut first, &mut other, &mut second, 3);
        let (held, quota) = bench.server.sockets_of(0).expect("app 0");
        assert!(held <= quota, "{held} sockets over a quota of {quota}");
    }
    run_both(&mut bench, &mut first, &mut other, &mut second, 50);
    let established = flood
        .iter()
        .filter(|&&h| bench.peer.tcp(h).state() == tcp::State::Established)
        .count();
    assert_eq!(established, 12, "the first app's whole quota, no more");
    assert_eq!(first.accepted.len(), 12);
    assert!(bench.server.stats().over_quota > 0);
    // The second app still gets sockets: more connections than its
    // backlog, all held open at once, each echoing. Without the quota
    // the flood would have taken every socket its listener did not hold
    // already, and all but the first 4 would be reset.
    let mut mine = Vec::new();
    for _ in 0..10 {
        mine.push(bench.peer.connect(9));
        run_both(&mut bench, &mut first, &mut other, &mut second, 3);
    }
    run_both(&mut bench, &mut first, &mut other, &mut second, 20);
    for (i, &h) in mine.iter().enumerate() {
        let line = format!("second app, connection {i}");
        bench.peer.send(h, line.as_bytes());
        run_both(&mut bench, &mut first, &mut other, &mut second, 20);
        assert_eq!(bench.peer.recv(h), line.as_bytes(), "{line}: no echo");
    }
    assert_eq!(second.accepted.len(), 10);
    // A LISTEN of the app at its quota says so.
    bench.sockets.io().listen(8, 4);
    run_both(&mut bench, &mut first, &mut other, &mut second, 5);
    assert_eq!(first.listening, [(7, Ok(())), (8, Err(Error::Quota))]);
    // The flood ends: the first app's sockets come back, and it serves
    // again.
    for &h in &flood {
        bench.peer.tcp(h).abort();
    }
    run_both(&mut bench, &mut first, &mut other, &mut second, 100);
    let (held, _) = bench.server.sockets_of(0).expect("app 0");
    assert_eq!(held, 4, "only its listener's sockets are left");
    let h = bench.peer.connect(7);
    run_both(&mut bench, &mut first, &mut other, &mut second, 20);
    bench.peer.send(h, b"served again");
    run_both(&mut bench, &mut first, &mut other, &mut second, 20);
    assert_eq!(bench.peer.recv(h), b"served again");
}

#[test]
fn an_app_without_quota_left_cannot_listen() {
    let (mut bench, mut first, mut other, mut second) = two_apps();
    bench.server.set_quota(other.id, 0);
    run_both(&mut bench, &mut first, &mut other, &mut second, 5);
    assert_eq!(first.listening, [(7, Ok(()))]);
    assert_eq!(second.listening, [(9, Err(Error::Quota))]);
}

#[test]
fn quotas_come_from_the_arguments() {
    let apps = ["resp-net", "http-net"];
    let given = |value: u64| [("http-net", value)];
    assert_eq!(quotas(&given(300), &apps, 1100, 1100), Ok(vec![800, 300]));
    for bad in [0, 1101, u64::MAX] {
        assert_eq!(
            quotas(&given(bad), &apps, 1100, 1100),
            Err(QuotaError::Malformed {
                region: "http-net",
                value: bad
            })
        );
    }
    assert_eq!(
        quotas(&given(1100), &apps, 1100, 1100),
        Err(QuotaError::NoneLeft { region: "resp-net" })
    );
    assert_eq!(
        quotas(&[("echo-net", 10)], &apps, 1100, 1100),
        Err(QuotaError::NoSuchApp { region: "echo-net" })
    );
    // Shrunk with the pool, never to nothing.
    assert_eq!(quotas(&given(1099), &apps, 1100, 10), Ok(vec![1, 9]));
    assert_eq!(quotas(&[], &[], 1100, 1100), Ok(vec![]));
}

#[test]
fn half_open_connections_time_out() {
    half_open_connections_time_out_on(Bench::new);
}

#[test]
fn half_open_connections_time_out_with_a_sleeping_server() {
    // The SYN timeout is a timer: the server's timed wait serves it.
    slept(&half_open_connections_time_out_on(Bench::sleeping), true);
}

fn half_open_connections_time_out_on(make: fn(Limits) -> Bench) -> Bench {
    let limits = Limits {
        max_sockets: 8,
        max_backlog: 2,
        syn_timeout: smoltcp::time::Duration::from_millis(500),
        ..Limits::default()
    };
    let mut bench = make(limits);
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    // One connection first, so that both sides know each other's MAC.
    let warm = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, warm, b"warm");
    bench.peer.tcp(warm).abort();
    run(&mut bench, &mut echo, 20);
    echo.accepted.clear();
    // SYNs whose handshake never completes: the peer's frames to the
    // server get through, the server's answers are lost.
    bench.cut = true;
    let half: Vec<_> = (0..4).map(|_| bench.peer.connect(7)).collect();
    run(&mut bench, &mut echo, 30);
    assert_eq!(bench.server.stats().half_open, 2, "the backlog's worth");
    // The peer forgets them without a word (no RST).
    for &h in &half {
        bench.peer.tcp(h).abort();
    }
    bench.peer.poll(bench.now);
    bench.peer.to_server.borrow_mut().clear();
    // Dropped on time: 600 ms after the SYNs, before smoltcp's first
    // retransmission of its SYN-ACK would wake a sleeping server.
    run(&mut bench, &mut echo, 570);
    assert_eq!(
        bench.server.stats().half_open,
        0,
        "dropped after the timeout"
    );
    run(&mut bench, &mut echo, 430);
    bench.cut = false;
    assert!(echo.accepted.is_empty());
    let h = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, h, b"after the timeout");
    bench
}

/// xorshift64: repeatable noise.
fn noise(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn malformed_frames_are_dropped() {
    let mut bench = Bench::new(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let h = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    // A real frame of the peer to mutate: a segment with data.
    bench.peer.send(h, b"template");
    bench.peer.poll(bench.now);
    let template = bench
        .peer
        .to_server
        .borrow()
        .back()
        .cloned()
        .expect("a frame");
    let mut rng = 0x1234_5678_9abc_def0;
    for i in 0..3000 {
        let mut frame = match i % 3 {
            // Noise of any length.
            0 => (0..noise(&mut rng) % 1600)
                .map(|_| noise(&mut rng) as u8)
                .collect(),
            // The template, cut short.
            1 => template[..(noise(&mut rng) as usize % template.len())].to_vec(),
            // The template with bytes flipped (headers included).
            _ => template.clone(),
        };
        if i % 3 == 2 {
            for _ in 0..1 + noise(&mut rng) % 4 {
                let at = noise(&mut rng) as usize % frame.len();
                frame[at] ^= 1 << (noise(&mut rng) % 8);
            }
        }
        bench.peer.to_server.borrow_mut().push_back(frame);
        if i % 100 == 0 {
            run(&mut bench, &mut echo, 1);
        }
    }
    run(&mut bench, &mut echo, 20);
    let _ = bench.peer.recv(h);
    let fresh = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, fresh, b"after the noise");
}

#[test]
fn sending_beyond_the_credit_costs_only_that_connection() {
    let mut bench = Bench::new(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let bad = bench.peer.connect(7);
    let good = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    let conn = echo.accepted[0];
    let good_conn = echo.accepted[1];
    // Requests a well-behaved library never makes, straight into the
    // ring.
    let junk = [
        Request {
            op: op::SEND,
            conn: conn.slot,
            generation: conn.generation,
            len: 1 << 20,
            pos: 0,
            arg: 0,
        },
        Request {
            op: 99,
            conn: 12345,
            generation: 7,
            len: u32::MAX,
            pos: u64::MAX,
            arg: u64::MAX,
        },
        Request {
            op: op::SEND,
            conn: u32::MAX,
            generation: 0,
            len: 100,
            pos: 1 << 40,
            arg: 0,
        },
        Request {
            op: op::LISTEN,
            len: 70_000,
            arg: 1,
            ..Request::default()
        },
        Request {
            op: op::LISTEN,
            len: 7,
            arg: 1,
            ..Request::default()
        },
        Request {
            op: op::UDP_SEND,
            conn: 9,
            len: 5000,
            arg: u64::MAX,
            ..Request::default()
        },
        Request {
            op: op::CLOSE,
            conn: 3,
            generation: 3,
            ..Request::default()
        },
        // Within the credit, at a position at the end of the number
        // range: the copy wraps around the ring, not the arithmetic.
        Request {
            op: op::SEND,
            conn: good_conn.slot,
            generation: good_conn.generation,
            len: 10,
            pos: u64::MAX - 3,
            arg: 0,
        },
    ];
    for r in junk {
        bench.sockets.io().control(r);
    }
    run(&mut bench, &mut echo, 30);
    assert_eq!(echo.closed, [(conn, CloseReason::Violation)]);
    assert_eq!(bench.server.stats().violations, 1);
    assert_eq!(
        echo.listening[1..],
        [(4464, Err(Error::Invalid)), (7, Err(Error::InUse))]
    );
    assert!(matches!(
        bench.peer.tcp(bad).state(),
        tcp::State::Closed | tcp::State::TimeWait
    ));
    let _ = bench.peer.recv(good); // the 10 bytes of the wrapped send
    round_trip(&mut bench, &mut echo, good, b"unaffected");
}

#[test]
fn udp_datagrams_echo() {
    udp_datagrams_echo_on(Bench::new);
}

#[test]
fn udp_datagrams_echo_with_a_sleeping_server() {
    slept(&udp_datagrams_echo_on(Bench::sleeping), false);
}

fn udp_datagrams_echo_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits::default());
    let mut echo = Echo::new(7);
    let mut bound = Vec::new();
    bench.run(5, |e, io| {
        if let Event::Reset { .. } = e {
            io.bind_udp(9);
            io.bind_udp(9);
            io.bind_udp(0);
        }
        if let Event::Bound { port, result } = e {
            bound.push((port, result));
        }
        echo.handle(e, io);
    });
    assert_eq!(
        bound,
        [
            (9, Ok(())),
            (9, Err(Error::InUse)),
            (0, Err(Error::Invalid))
        ]
    );
    let u = bench.peer.udp(5555);
    for i in 0..20u8 {
        bench
            .peer
            .send_to(u, 9, &pattern(i, 100 + usize::from(i) * 60));
    }
    run(&mut bench, &mut echo, 30);
    for i in 0..20u8 {
        let (data, from) = bench.peer.recv_from(u).expect("an echo");
        assert_eq!(from, 9);
        assert_eq!(data, pattern(i, 100 + usize::from(i) * 60));
    }
    assert!(bench.peer.recv_from(u).is_none());
    bench
}

#[test]
fn echo_requests_are_answered() {
    echo_requests_are_answered_on(Bench::new);
}

#[test]
fn echo_requests_are_answered_with_a_sleeping_server() {
    slept(&echo_requests_are_answered_on(Bench::sleeping), false);
}

fn echo_requests_are_answered_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let h = bench.peer.icmp(0x4242);
    let repr = Icmpv4Repr::EchoRequest {
        ident: 0x4242,
        seq_no: 1,
        data: b"ping",
    };
    let s = bench.peer.icmp_socket(h);
    let buf = s
        .send(repr.buffer_len(), IpAddress::Ipv4(SERVER))
        .expect("room");
    repr.emit(
        &mut Icmpv4Packet::new_unchecked(buf),
        &smoltcp::phy::ChecksumCapabilities::default(),
    );
    run(&mut bench, &mut echo, 20);
    let s = bench.peer.icmp_socket(h);
    let (reply, from) = s.recv().expect("a reply");
    assert_eq!(from, IpAddress::Ipv4(SERVER));
    let packet = Icmpv4Packet::new_checked(reply).expect("a packet");
    let repr = Icmpv4Repr::parse(&packet, &smoltcp::phy::ChecksumCapabilities::default())
        .expect("a valid reply");
    assert_eq!(
        repr,
        Icmpv4Repr::EchoReply {
            ident: 0x4242,
            seq_no: 1,
            data: b"ping"
        }
    );
    let _ = icmp::Endpoint::Unspecified;
    bench
}

#[test]
fn a_restarted_app_starts_clean() {
    let mut bench = Bench::new(Limits::default());
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 5);
    let old = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, old, b"before");
    bench.peer.send(old, b"in flight");
    run(&mut bench, &mut echo, 1);
    // The app restarts: a new view of the same region.
    bench.reattach();
    let mut echo = Echo::new(7);
    run(&mut bench, &mut echo, 30);
    assert_eq!(echo.resets, 1, "the new app hears one reset");
    assert_eq!(echo.listening, [(7, Ok(()))], "the port is free again");
    assert!(
        echo.accepted.is_empty(),
        "the old connection leaked through"
    );
    assert!(matches!(
        bench.peer.tcp(old).state(),
        tcp::State::Closed | tcp::State::TimeWait
    ));
    let new = bench.peer.connect(7);
    run(&mut bench, &mut echo, 20);
    round_trip(&mut bench, &mut echo, new, b"after");
}

#[test]
fn a_thousand_connections_at_once() {
    a_thousand_connections_at_once_on(Bench::new);
}

#[test]
fn a_thousand_connections_at_once_with_a_sleeping_server() {
    slept(&a_thousand_connections_at_once_on(Bench::sleeping), false);
}

fn a_thousand_connections_at_once_on(make: fn(Limits) -> Bench) -> Bench {
    let mut bench = make(Limits {
        max_backlog: 128,
        ..Limits::default()
    });
    let mut echo = Echo::new(7);
    echo.backlog = 128;
    run(&mut bench, &mut echo, 5);
    let mut conns = Vec::new();
    while conns.len() < 1000 {
        for _ in 0..50 {
            conns.push(bench.peer.connect_with(7, 1024));
        }
        run(&mut bench, &mut echo, 10);
    }
    run(&mut bench, &mut echo, 20);
    assert_eq!(bench.server.stats().connections, 1000);
    for (i, &h) in conns.iter().enumerate() {
        bench.peer.send(h, format!("conn {i};").as_bytes());
    }
    run(&mut bench, &mut echo, 60);
    for (i, &h) in conns.iter().enumerate() {
        assert_eq!(bench.peer.recv(h), format!("conn {i};").as_bytes());
    }
    bench
}

#[test]
fn byte_ring_positions_wrap_without_splitting_chunks() {
    let mut w = Writer::new(4096, 0);
    let (pos, n) = w.reserve(3000);
    assert_eq!((pos, n), (0, 3000));
    w.commit(pos, n);
    assert_eq!(w.reserve(3000), (3000, 1096), "clipped by what is free");
    w.update(3000);
    assert_eq!(w.reserve(3000), (3000, 1096), "clipped at the ring's end");
    assert_eq!(w.reserve_whole(2000), Some(4096), "a datagram skips ahead");
    w.commit(4096, 2000);
    assert_eq!(w.free(), 4096 - (6096 - 3000));
    // A confused reader's release is ignored.
    w.update(1);
    w.update(1 << 40);
    assert_eq!(w.released, 3000);
}

#[test]
fn layouts_fit_their_regions() {
    for len in [64 << 10, 100 << 10, 1 << 20, 3 << 20, 64 << 20] {
        let l = Layout::new(len).expect("a layout");
        assert!(l.ring.is_power_of_two() && (proto::MIN_RING..=proto::MAX_RING).contains(&l.ring));
        assert!(l.requests >= proto::CONTROL_BYTES);
        assert!(l.events >= l.requests + libcap::ring::ring_bytes::<Request>(l.ring));
        assert!(l.tx.0 >= l.events + libcap::ring::ring_bytes::<Request>(l.ring));
        assert_eq!(l.rx.0, l.tx.0 + l.tx.1);
        assert!(l.rx.0 + l.rx.1 <= len);
        assert!(l.tx.1 >= 4096 && l.tx.1.is_multiple_of(4096));
    }
    assert_eq!(Layout::new(proto::MIN_REGION - 4096), None);
}

#[test]
fn endpoints_pack_into_a_word() {
    let e = Endpoint {
        addr: PEER.octets(),
        port: 65535,
    };
    assert_eq!(Endpoint::unpack(e.pack()), e);
    assert_eq!(e.pack() >> 48, 0);
    assert_eq!(e.to_string(), "10.0.2.2:65535");
}

#[test]
fn the_heap_decides_the_socket_count() {
    let limits = Limits::default();
    let fitted = limits.fit(24 << 20, 512 << 10).expect("room");
    assert_eq!(
        fitted, limits,
        "the default config's heap holds the default"
    );
    assert!(limits.fit(256 << 10, 512 << 10).is_none());
}
