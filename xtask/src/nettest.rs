//! The net boot test's host side: `config/net-test` boots under QEMU's
//! user networking with a TCP and a UDP port of 127.0.0.1 forwarded to
//! the guest's echo port, and this talks to `net-echo` through them.
//!
//! Only 127.0.0.1 is ever connected to; QEMU carries the traffic to the
//! guest. The checks are bounded in count and time and fail on a timeout,
//! a short or wrong echo, or a closed connection.

use crate::{Result, fail};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

/// The guest's echo port (`config/net-test`'s net-echo).
pub const GUEST_PORT: u16 = 7;
/// Connections that carry bulk data at once.
pub const BULK_CONNECTIONS: usize = 6;
/// Bytes each of them sends (and gets back).
pub const BULK_BYTES: usize = 256 * 1024;
/// Connections held open at the same time, each echoing a short line.
pub const HELD_CONNECTIONS: usize = 1000;
/// UDP datagrams sent (each must come back).
pub const DATAGRAMS: usize = 20;

/// A free TCP port and a free UDP port of 127.0.0.1 now (another program
/// could take them before QEMU does: the test then fails to forward, not
/// silently).
pub fn free_ports() -> Result<(u16, u16)> {
    let tcp = crate::machine::free_port()?;
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port();
    Ok((tcp, udp))
}

/// QEMU's arguments for the NIC: user networking forwarding the two
/// ports, and a virtio-net PCI device.
pub fn qemu_args(tcp: u16, udp: u16) -> Vec<String> {
    vec![
        "-netdev".into(),
        format!(
            "user,id=n0,hostfwd=tcp:127.0.0.1:{tcp}-:{GUEST_PORT},hostfwd=udp:127.0.0.1:{udp}-:{GUEST_PORT}"
        ),
        "-device".into(),
        "virtio-net-pci,netdev=n0".into(),
    ]
}

/// What the guest logs once it can be talked to.
pub const READY: [&str; 3] = [
    "net: address 10.0.2.15/24, gateway 10.0.2.2 (DHCP)",
    "net-echo: listening on TCP port 7",
    "net-echo: bound UDP port 7",
];

/// Whether the serial log says the guest is ready.
pub fn ready(serial: &str) -> bool {
    READY.iter().all(|l| serial.contains(l))
}

/// Byte `i` of connection `c`'s bulk data.
fn bulk_byte(c: usize, i: usize) -> u8 {
    ((i * 131 + c * 17) % 251) as u8
}

/// Connects to the forwarded port. QEMU accepts on the host first and
/// then connects to the guest, dropping the host side if the guest
/// refuses: a connection is only usable once an echo came back, so this
/// retries until the deadline.
fn connect(port: u16, deadline: Instant) -> Result<TcpStream> {
    loop {
        let attempt = TcpStream::connect_timeout(
            &SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            Duration::from_secs(5),
        );
        match attempt {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(30)))?;
                s.set_write_timeout(Some(Duration::from_secs(30)))?;
                s.set_nodelay(true)?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= deadline => {
                return Err(fail!("cannot connect to 127.0.0.1:{port}: {e}"));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Reads exactly `want.len()` bytes and compares them.
fn expect_echo(s: &mut TcpStream, want: &[u8], what: &str) -> Result<()> {
    let mut got = vec![0; want.len()];
    let mut n = 0;
    while n < want.len() {
        match s.read(&mut got[n..]) {
            Ok(0) => {
                return Err(fail!(
                    "{what}: the connection closed after {n} of {} bytes",
                    want.len()
                ));
            }
            Ok(k) => n += k,
            Err(e) => return Err(fail!("{what}: after {n} of {} bytes: {e}", want.len())),
        }
    }
    match got.iter().zip(want).position(|(a, b)| a != b) {
        Some(at) => Err(fail!(
            "{what}: byte {at} is {:#04x}, sent {:#04x}",
            got[at],
            want[at]
        )),
        None => Ok(()),
    }
}

/// The whole conversation: a first echo (retrying until the guest
/// answers), bulk data on several connections at once (each written by
/// its own thread while the main thread reads), many connections open at
/// the same time, and UDP datagrams. Returns a summary line.
pub fn converse(tcp: u16, udp: u16, deadline: Instant) -> Result<String> {
    // The first connection: proves the path end to end.
    let first = loop {
        let mut s = connect(tcp, deadline)?;
        if s.write_all(b"hello basalt\n").is_ok()
            && expect_echo(&mut s, b"hello basalt\n", "first").is_ok()
        {
            break s;
        }
        if Instant::now() >= deadline {
            return Err(fail!("no echo on 127.0.0.1:{tcp} before the deadline"));
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    drop(first);

    // Bulk: writers in threads, so that a full window on one connection
    // does not hold the others.
    let mut streams = Vec::new();
    for c in 0..BULK_CONNECTIONS {
        streams.push(connect(tcp, deadline)?);
        let _ = c;
    }
    let mut writers = Vec::new();
    for (c, s) in streams.iter().enumerate() {
        let mut w = s.try_clone()?;
        writers.push(std::thread::spawn(move || -> std::io::Result<()> {
            let data: Vec<u8> = (0..BULK_BYTES).map(|i| bulk_byte(c, i)).collect();
            for chunk in data.chunks(4096) {
                w.write_all(chunk)?;
            }
            w.shutdown(std::net::Shutdown::Write)
        }));
    }
    for (c, s) in streams.iter_mut().enumerate() {
        let want: Vec<u8> = (0..BULK_BYTES).map(|i| bulk_byte(c, i)).collect();
        expect_echo(s, &want, &format!("bulk connection {c}"))?;
        // The echo closes after the peer's FIN, once everything is back.
        let mut rest = [0u8; 16];
        match s.read(&mut rest) {
            Ok(0) => {}
            Ok(n) => return Err(fail!("bulk connection {c}: {n} bytes more than sent")),
            Err(e) => return Err(fail!("bulk connection {c}: no close after the echo: {e}")),
        }
    }
    for (c, w) in writers.into_iter().enumerate() {
        w.join()
            .map_err(|_| fail!("bulk writer {c} panicked"))?
            .map_err(|e| fail!("bulk connection {c}: writing: {e}"))?;
    }

    // Many open at once: each connects and echoes a line while the
    // earlier ones stay open; then every one echoes a second line.
    let mut held = Vec::with_capacity(HELD_CONNECTIONS);
    for i in 0..HELD_CONNECTIONS {
        let mut s = connect(tcp, deadline)?;
        let line = format!("connection {i}\n");
        s.write_all(line.as_bytes())?;
        expect_echo(&mut s, line.as_bytes(), &format!("held connection {i}"))?;
        held.push(s);
    }
    for (i, s) in held.iter_mut().enumerate() {
        s.write_all(format!("again {i}\n").as_bytes())?;
    }
    for (i, s) in held.iter_mut().enumerate() {
        let line = format!("again {i}\n");
        expect_echo(
            s,
            line.as_bytes(),
            &format!("held connection {i}, second line"),
        )?;
    }
    drop(held);

    // UDP: each datagram comes back whole. Datagrams may be lost, so a
    // missing one is sent again (a bounded number of times).
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))?;
    sock.connect((Ipv4Addr::LOCALHOST, udp))?;
    let datagram = |i: usize| format!("datagram {i} {}", "x".repeat(i * 50));
    for i in 0..DATAGRAMS {
        let mut buf = [0u8; 2048];
        let mut answered = false;
        'tries: for _ in 0..10 {
            sock.send(datagram(i).as_bytes())?;
            // A late echo of an earlier datagram (sent again after a
            // timeout) may come first: skip those.
            while let Ok(n) = sock.recv(&mut buf) {
                if buf[..n] == *datagram(i).as_bytes() {
                    answered = true;
                    break 'tries;
                }
                if !(0..i).any(|j| buf[..n] == *datagram(j).as_bytes()) {
                    return Err(fail!("datagram {i}: an echo of something never sent"));
                }
            }
        }
        if !answered {
            return Err(fail!("datagram {i}: no echo in 10 tries"));
        }
    }
    Ok(format!(
        "{BULK_CONNECTIONS} x {} KiB echoed at once, {HELD_CONNECTIONS} connections open together, {DATAGRAMS} datagrams",
        BULK_BYTES / 1024
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn readiness_wants_every_line() {
        let all = READY.join("\n");
        assert!(ready(&all));
        assert!(!ready(&READY[..2].join("\n")));
    }

    #[test]
    fn the_ports_are_distinct_and_forwarded_from_loopback_only() {
        let (tcp, udp) = free_ports().unwrap();
        let args = qemu_args(tcp, udp).join(" ");
        assert!(args.contains(&format!("hostfwd=tcp:127.0.0.1:{tcp}-:7")));
        assert!(args.contains(&format!("hostfwd=udp:127.0.0.1:{udp}-:7")));
        assert!(args.contains("virtio-net-pci,netdev=n0"));
    }

    /// A local echo like net-echo: TCP (closing after the peer's FIN)
    /// and UDP.
    fn local_echo(corrupt: bool) -> (u16, u16) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for s in listener.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            return;
                        }
                        if corrupt {
                            buf[0] ^= 1;
                        }
                        if s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let udp_port = udp.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                let _ = udp.send_to(&buf[..n], from);
            }
        });
        (port, udp_port)
    }

    #[test]
    fn the_conversation_passes_against_a_faithful_echo() {
        let (tcp, udp) = local_echo(false);
        let summary = converse(tcp, udp, Instant::now() + Duration::from_secs(30)).unwrap();
        assert!(summary.contains("1000 connections"), "{summary}");
    }

    /// The conversation against a local echo server that corrupts one
    /// byte: the check must notice.
    #[test]
    fn a_wrong_echo_fails_the_conversation() {
        let (port, _) = local_echo(true);
        let deadline = Instant::now() + Duration::from_secs(3);
        let e = converse(port, 9, deadline).unwrap_err();
        assert!(e.0.contains("no echo"), "{}", e.0);
    }
}
