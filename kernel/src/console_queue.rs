//! The queue of user output waiting for the console's UART. `DebugWrite`
//! fills it and the UART empties it as fast as it takes bytes, so that no
//! system call waits for the serial line with interrupts off. The queue is
//! a fixed ring (the kernel allocates nothing); a line that fits goes in
//! whole, so lines of different programs do not mix, and a program that
//! writes faster than the line carries gets short counts (backpressure).
//! Portable: the UART is a closure, and the host tests drive it.

/// Bytes of user output the kernel holds.
pub const QUEUE_BYTES: usize = 4096;

pub struct ConsoleQueue {
    bytes: [u8; QUEUE_BYTES],
    /// Where the oldest waiting byte is.
    head: usize,
    len: usize,
}

impl Default for ConsoleQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsoleQueue {
    pub const fn new() -> Self {
        Self {
            bytes: [0; QUEUE_BYTES],
            head: 0,
            len: 0,
        }
    }

    /// Bytes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, b: u8) {
        let at = (self.head + self.len) % QUEUE_BYTES;
        self.bytes[at] = b;
        self.len += 1;
    }

    /// Queues as much of `bytes` as there is room for, each `\n` as the
    /// `\r\n` a terminal expects, and returns how many of `bytes` went in
    /// (a `\n` goes in with its `\r` or not at all).
    pub fn queue(&mut self, bytes: &[u8]) -> usize {
        let mut taken = 0;
        for &b in bytes {
            let width = if b == b'\n' { 2 } else { 1 };
            if self.len + width > QUEUE_BYTES {
                break;
            }
            if b == b'\n' {
                self.push(b'\r');
            }
            self.push(b);
            taken += 1;
        }
        taken
    }

    /// Offers the waiting bytes to `send`, oldest first, until it takes
    /// none; `send` returns how many of the bytes it is given it took (a
    /// UART: a FIFO's worth when its transmitter is empty, else none).
    /// Bounded by the bytes waiting.
    pub fn drain(&mut self, mut send: impl FnMut(&[u8]) -> usize) {
        while self.len > 0 {
            let run = self.len.min(QUEUE_BYTES - self.head);
            let sent = send(&self.bytes[self.head..self.head + run]).min(run);
            if sent == 0 {
                return;
            }
            self.head = (self.head + sent) % QUEUE_BYTES;
            self.len -= sent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drains everything through a UART that takes `fifo` bytes a call.
    fn drain_all(q: &mut ConsoleQueue, fifo: usize) -> Vec<u8> {
        let mut out = Vec::new();
        q.drain(|b| {
            let n = b.len().min(fifo);
            out.extend_from_slice(&b[..n]);
            n
        });
        out
    }

    #[test]
    fn newlines_become_crlf_and_bytes_come_out_in_order() {
        let mut q = ConsoleQueue::new();
        assert_eq!(q.queue(b"one\ntwo\n"), 8);
        assert_eq!(drain_all(&mut q, 16), b"one\r\ntwo\r\n");
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_queue_takes_what_fits_and_a_newline_never_splits() {
        let mut q = ConsoleQueue::new();
        let big = vec![b'x'; QUEUE_BYTES - 1];
        assert_eq!(q.queue(&big), QUEUE_BYTES - 1);
        assert_eq!(q.queue(b"\n"), 0, "no room for \\r\\n");
        assert_eq!(q.queue(b"ab"), 1);
        assert_eq!(q.len(), QUEUE_BYTES);
        assert_eq!(q.queue(b"c"), 0);
    }

    #[test]
    fn a_busy_uart_stops_the_drain_and_the_rest_waits() {
        let mut q = ConsoleQueue::new();
        q.queue(&[b'a'; 100]);
        let mut calls = 0;
        q.drain(|b| {
            calls += 1;
            if calls == 1 { b.len().min(16) } else { 0 }
        });
        assert_eq!(q.len(), 84);
        assert_eq!(drain_all(&mut q, 16).len(), 84);
    }

    #[test]
    fn the_ring_wraps_around() {
        let mut q = ConsoleQueue::new();
        let mut expected = Vec::new();
        let mut got = Vec::new();
        for round in 0..50u8 {
            let chunk: Vec<u8> = (0..300)
                .map(|i| b'a' + (round + (i % 7) as u8) % 26)
                .collect();
            assert_eq!(q.queue(&chunk), 300);
            expected.extend_from_slice(&chunk);
            got.extend(drain_all(&mut q, 16));
        }
        assert_eq!(got, expected);
    }
}
