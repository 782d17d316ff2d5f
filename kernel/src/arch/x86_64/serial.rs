//! The serial console: a 16550 UART (COM1 unless the command line or the
//! firmware's SPCR table names another), and the screen where there is
//! none ([`super::screen`]).

use crate::console_queue::ConsoleQueue;
use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::{Config, Uart16550, backend::PioBackend};

/// COM1's I/O port.
pub const COM1: u16 = 0x3f8;

static PORT: Mutex<Option<Uart16550<PioBackend>>> = Mutex::new(None);

/// Programs COM1. Output before this call is dropped.
pub fn init() {
    use_port(Some(COM1), 0);
}

/// Moves the console to the UART at I/O port `port` (at `baud`, 0: the
/// crate's default), or to none; whether a UART answers there (it must
/// pass its loopback test: with no UART the port reads all ones).
pub fn use_port(port: Option<u16>, baud: u32) -> bool {
    let uart = port.and_then(|port| {
        // SAFETY: the port's eight I/O ports belong to the kernel console
        // alone (the config checker refuses them to components: see
        // KERNEL_PORTS in xtask's config checker for COM1; another port
        // the command line or SPCR names is the kernel's by that choice).
        let mut uart = unsafe { Uart16550::new_port(port) }.ok()?;
        let config = Config {
            baud_rate: baud_rate(baud),
            ..Config::default()
        };
        uart.init(config).ok()?;
        uart.test_loopback().ok()?;
        Some(uart)
    });
    let found = uart.is_some();
    x86_64::instructions::interrupts::without_interrupts(|| {
        *PORT.lock() = uart;
        *CONSOLE_PORT.lock() = port.filter(|_| found);
    });
    found
}

/// The crate's rate for `baud`; 0 is GRUB's 115200 (`grub.cfg`), so that
/// the kernel's output follows the boot loader's at the same rate.
fn baud_rate(baud: u32) -> uart_16550::BaudRate {
    use uart_16550::BaudRate::*;
    match baud {
        0 | 115_200 => Baud115200,
        57_600 => Baud57600,
        38_400 => Baud38400,
        9_600 => Baud9600,
        other => Custom(other),
    }
}

/// Whether a UART is the console.
pub fn present() -> bool {
    port().is_some()
}

/// The console UART's I/O port, if there is one.
pub fn port() -> Option<u16> {
    x86_64::instructions::interrupts::without_interrupts(|| *CONSOLE_PORT.lock())
}

/// The port [`use_port`] last found a UART at.
static CONSOLE_PORT: Mutex<Option<u16>> = Mutex::new(None);

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
    x86_64::instructions::interrupts::without_interrupts(|| match PORT.lock().as_mut() {
        Some(uart) => {
            flush(uart);
            let _ = Writer(uart).write_fmt(args);
        }
        None => super::screen::write_fmt(args),
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
            super::screen::write(bytes);
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
    match PORT.lock().as_mut() {
        Some(uart) => {
            let _ = Writer(uart).write_fmt(args);
        }
        None => super::screen::write_fmt_emergency(args),
    }
}
