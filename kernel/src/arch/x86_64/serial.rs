//! The COM1 serial console (115200 8N1), the kernel's only output.

use crate::console_queue::ConsoleQueue;
use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::{Config, Uart16550, backend::PioBackend};

const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1. Output before this call is dropped.
pub fn init() {
    // SAFETY: COM1's eight I/O ports belong to the kernel console alone.
    let Ok(mut uart) = (unsafe { Uart16550::new_port(COM1) }) else {
        return;
    };
    if uart.init(Config::default()).is_ok() {
        *PORT.lock() = Some(uart);
    }
}

struct Writer<'a>(&'a mut Uart16550<PioBackend>);

/// Sends `bytes`, turning each `\n` into the `\r\n` a terminal expects.
fn send(uart: &mut Uart16550<PioBackend>, bytes: &[u8]) {
    for chunk in bytes.split_inclusive(|&b| b == b'\n') {
        match chunk.strip_suffix(b"\n") {
            Some(line) => {
                uart.send_bytes_exact(line);
                uart.send_bytes_exact(b"\r\n");
            }
            None => uart.send_bytes_exact(chunk),
        }
    }
}

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        send(self.0, s.as_bytes());
        Ok(())
    }
}

/// Writes `args` with interrupts held off, so a line is never interleaved
/// with output from an interrupt handler.
pub fn write_fmt(args: fmt::Arguments<'_>) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            flush(uart);
            let _ = Writer(uart).write_fmt(args);
        }
    });
}

/// User output waiting for the UART.
static PENDING: Mutex<ConsoleQueue> = Mutex::new(ConsoleQueue::new());

/// Queues as much of `bytes` (user output) as there is room for (see
/// [`ConsoleQueue::queue`]) and hands the UART what it takes now; returns
/// how many of `bytes` were queued.
pub fn queue_user_bytes(bytes: &[u8]) -> usize {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut port = PORT.lock();
        let Some(uart) = port.as_mut() else {
            return bytes.len();
        };
        let mut pending = PENDING.lock();
        let taken = pending.queue(bytes);
        pending.drain(|b| uart.send_bytes(b));
        taken
    })
}

/// Whether user output waits in the queue for the UART.
pub fn output_waiting() -> bool {
    x86_64::instructions::interrupts::without_interrupts(|| !PENDING.lock().is_empty())
}

/// Hands the UART the queued user output it takes without waiting (the
/// timer interrupt and the idle loop call this; the idle CPU sets its timer
/// while output waits).
pub fn drain() {
    x86_64::instructions::interrupts::without_interrupts(|| {
        if let Some(uart) = PORT.lock().as_mut() {
            PENDING.lock().drain(|b| uart.send_bytes(b));
        }
    });
}

/// Sends every queued byte, waiting for the UART as long as it takes: the
/// kernel's own output comes after what programs wrote before it.
fn flush(uart: &mut Uart16550<PioBackend>) {
    let mut pending = PENDING.lock();
    while !pending.is_empty() {
        pending.drain(|b| uart.send_bytes(b));
    }
}

/// Writes `args` even if the console lock is held: for the fault and panic
/// reporters, which may run while the interrupted code was printing.
pub fn write_fmt_emergency(args: fmt::Arguments<'_>) {
    if PORT.is_locked() {
        // SAFETY: we only get here with interrupts off on the path to a halt
        // (single CPU), so the holder never runs again; a torn line is the
        // price of getting the report out at all.
        unsafe { PORT.force_unlock() };
    }
    if let Some(uart) = PORT.lock().as_mut() {
        let _ = Writer(uart).write_fmt(args);
    }
}
