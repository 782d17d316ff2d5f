//! The serial console: a 16550 UART (COM1 unless the command line or the
//! firmware's SPCR table names another, at an I/O port or memory-mapped),
//! and the screen where there is none ([`super::screen`]).

use crate::console_queue::ConsoleQueue;
use core::fmt::{self, Write};
use spin::Mutex;
use uart_16550::backend::Backend;
use uart_16550::{Config, Uart16550};
use x86_64::instructions::port::Port;

/// COM1's I/O port.
pub const COM1: u16 = 0x3f8;

/// Where a console UART's eight registers are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Uart {
    /// At eight I/O ports from this one.
    Port(u16),
    /// Memory-mapped at `physical`, which the kernel maps uncached at
    /// `virt`: a register every `stride` bytes, read and written as bytes
    /// or, with `dword`, as 32-bit words (the data in their low byte), as
    /// many SoC UARTs (Intel's LPSS) require.
    Mmio {
        physical: u64,
        virt: u64,
        stride: u8,
        dword: bool,
    },
}

impl Uart {
    /// Bytes of address space the registers span (memory-mapped ones).
    pub fn span(stride: u8) -> u64 {
        8 * u64::from(stride)
    }
}

impl fmt::Display for Uart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Uart::Port(port) => write!(f, "I/O port {port:#x}"),
            Uart::Mmio {
                physical,
                stride,
                dword,
                ..
            } => write!(
                f,
                "{physical:#x} (memory-mapped, a register every {stride} bytes, {}-bit accesses)",
                if dword { 32 } else { 8 }
            ),
        }
    }
}

/// The crate's register accesses, for either kind of UART.
struct Registers(Uart);

/// Where a register is: an I/O port, or a memory-mapped one (its
/// address, and whether it is accessed as a 32-bit word).
enum Register {
    Port(u16),
    Memory(u64, bool),
}

impl Registers {
    fn at(&self, register: u8) -> Register {
        match self.0 {
            Uart::Port(port) => Register::Port(port + u16::from(register)),
            Uart::Mmio {
                virt,
                stride,
                dword,
                ..
            } => Register::Memory(virt + u64::from(register) * u64::from(stride), dword),
        }
    }
}

impl Backend for Registers {
    unsafe fn read(&mut self, register: u8) -> u8 {
        match self.at(register) {
            // SAFETY: `use_uart`'s contract: the eight ports are the
            // console's; `register` < 8 (the crate's contract).
            Register::Port(port) => unsafe { Port::<u8>::new(port).read() },
            // SAFETY: `use_uart`'s contract: `virt` maps the registers
            // (`Uart::span` bytes); `register` < 8.
            Register::Memory(at, true) => unsafe { (at as *const u32).read_volatile() as u8 },
            // SAFETY: as above.
            Register::Memory(at, false) => unsafe { (at as *const u8).read_volatile() },
        }
    }

    unsafe fn write(&mut self, register: u8, value: u8) {
        match self.at(register) {
            // SAFETY: as in `read`.
            Register::Port(port) => unsafe { Port::<u8>::new(port).write(value) },
            // SAFETY: as in `read`.
            Register::Memory(at, true) => unsafe {
                (at as *mut u32).write_volatile(u32::from(value))
            },
            // SAFETY: as in `read`.
            Register::Memory(at, false) => unsafe { (at as *mut u8).write_volatile(value) },
        }
    }
}

type Device = Uart16550<Registers>;

static PORT: Mutex<Option<Device>> = Mutex::new(None);

/// Programs COM1. Output before this call is dropped.
pub fn init() {
    // SAFETY: COM1's eight I/O ports belong to the kernel console alone
    // (the config checker refuses them to components: see KERNEL_PORTS in
    // xtask's config checker).
    unsafe { use_uart(Some(Uart::Port(COM1)), 0) };
}

/// Moves the console to the UART at I/O port `port` (at `baud`, 0:
/// 115200), or to none; whether a UART answers there.
pub fn use_port(port: Option<u16>, baud: u32) -> bool {
    // SAFETY: a port the command line or SPCR names is the kernel's by
    // that choice (COM1's are refused to components; see `init`).
    unsafe { use_uart(port.map(Uart::Port), baud) }
}

/// Moves the console to `uart` (at `baud`, 0: 115200), or to none;
/// whether a UART answers there (it must pass its loopback test: with no
/// UART an I/O port reads all ones, memory nothing answers reads the
/// same or zeros).
///
/// # Safety
///
/// `uart`'s registers belong to the console for the rest of the program,
/// and a memory-mapped one's `virt` maps them uncached.
pub unsafe fn use_uart(uart: Option<Uart>, baud: u32) -> bool {
    let device = uart.and_then(|uart| {
        // SAFETY: the caller's contract.
        if !unsafe { transmitter_idles(&mut Registers(uart)) } {
            return None;
        }
        // SAFETY: the caller's contract.
        let mut device = unsafe { Uart16550::new_with_backend(Registers(uart)) };
        let config = Config {
            baud_rate: baud_rate(baud),
            ..Config::default()
        };
        device.init(config).ok()?;
        device.test_loopback().ok()?;
        Some(device)
    });
    let found = device.is_some();
    x86_64::instructions::interrupts::without_interrupts(|| {
        *PORT.lock() = device;
        *CONSOLE_UART.lock() = uart.filter(|_| found);
    });
    found
}

/// Line status: the transmitter holds nothing (holding register and
/// shift register empty).
const LSR_IDLE: u8 = 0x60;
/// Line status register.
const LSR: u8 = 5;
/// Looks at the line status before the crate does: its loopback test
/// first waits, without bound, for the transmitter to empty, and memory
/// where no UART answers may read as zeros for ever. A UART drains its
/// FIFO within these reads at any common rate.
///
/// # Safety
///
/// As for [`use_uart`].
unsafe fn transmitter_idles(regs: &mut Registers) -> bool {
    (0..100_000).any(|_| {
        // SAFETY: the caller's contract; LSR is register 5 of 8.
        let status = unsafe { regs.read(LSR) };
        status & LSR_IDLE == LSR_IDLE
    })
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
    uart().is_some()
}

/// The console UART, if there is one.
pub fn uart() -> Option<Uart> {
    x86_64::instructions::interrupts::without_interrupts(|| *CONSOLE_UART.lock())
}

/// The UART [`use_uart`] last found answering.
static CONSOLE_UART: Mutex<Option<Uart>> = Mutex::new(None);

struct Writer<'a>(&'a mut Device);

/// Sends `bytes`, turning each `\n` into the `\r\n` a terminal expects.
fn send(uart: &mut Device, bytes: &[u8]) {
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
fn flush(uart: &mut Device) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A memory-mapped UART's registers land `stride` bytes apart, with
    /// accesses of the width asked for (here on plain memory).
    #[test]
    fn memory_mapped_registers_are_strided_and_sized() {
        let mut words = [0u32; 8];
        words[5] = 0xffff_ff60;
        let mut regs = Registers(Uart::Mmio {
            physical: 0,
            virt: words.as_mut_ptr() as u64,
            stride: 4,
            dword: true,
        });
        // SAFETY: `virt` is `words`, 32 bytes: eight 4-byte registers,
        // reached only through `regs` until it is dropped.
        let read = unsafe {
            regs.write(3, 0x83);
            regs.write(7, 0x5a);
            regs.read(5)
        };
        assert_eq!(read, 0x60);
        assert_eq!(words, [0, 0, 0, 0x83, 0, 0xffff_ff60, 0, 0x5a]);

        let mut bytes = [0u8; 8];
        let mut regs = Registers(Uart::Mmio {
            physical: 0,
            virt: bytes.as_mut_ptr() as u64,
            stride: 1,
            dword: false,
        });
        // SAFETY: `virt` is `bytes`: eight 1-byte registers.
        unsafe { regs.write(4, 0x0b) };
        assert_eq!(bytes, [0, 0, 0, 0, 0x0b, 0, 0, 0]);
    }
}
