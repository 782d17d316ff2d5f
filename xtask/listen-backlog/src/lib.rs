//! A `listen` for QEMU's user networking, preloaded by xtask
//! (`LD_PRELOAD`) whenever QEMU forwards host ports to the guest.
//!
//! libslirp listens on each forwarded port with a backlog of 1. A client
//! that opens many connections at once (`redis-benchmark -c 50`)
//! overflows the host kernel's accept queue: the connections dropped
//! there look established to the client, never reach the guest, and end
//! in "Connection reset by peer" a minute later. Every `listen` QEMU
//! makes gets a backlog of at least [`MIN_BACKLOG`] instead (the kernel
//! still caps it at `somaxconn`).

use core::ffi::c_int;

/// The smallest backlog QEMU's listening sockets get.
pub const MIN_BACKLOG: c_int = 128;

/// `listen(2)` with the backlog raised to [`MIN_BACKLOG`]. It returns 0, or
/// -1 with `errno` set, as the C library's does.
#[unsafe(no_mangle)]
pub extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    // SAFETY: the system call takes two integers and touches no memory of
    // ours; a bad descriptor fails with EBADF like any other listen().
    let r = unsafe { libc::syscall(libc::SYS_listen, fd, backlog.max(MIN_BACKLOG)) };
    r as c_int
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;
    use std::time::Duration;

    /// Connections (up to `n`) that complete one after another, none
    /// accepted, once `set` gave the listener a backlog of 1.
    fn queued(set: impl Fn(c_int, c_int) -> c_int, n: usize) -> usize {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        assert_eq!(set(listener.as_raw_fd(), 1), 0);
        let addr = listener.local_addr().expect("bound");
        let mut held = Vec::new();
        while held.len() < n {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => held.push(s),
                Err(_) => break,
            }
        }
        held.len()
    }

    #[test]
    fn a_backlog_of_one_holds_many_waiting_connections() {
        // The system call itself: in this binary the C library's `listen`
        // is the one above.
        // SAFETY: as in `listen`.
        let plain = queued(
            |fd, b| unsafe { libc::syscall(libc::SYS_listen, fd, b) } as c_int,
            16,
        );
        assert!(
            plain < 16,
            "the kernel kept {plain} connections for a backlog of 1"
        );
        assert_eq!(queued(|fd, b| listen(fd, b), 16), 16);
    }
}
