//! The screen console: the EGA/VGA text framebuffer the boot loader left
//! (the Multiboot2 framebuffer tag of type EGA text, or the legacy 80x25
//! buffer at 0xb8000 under a BIOS), written where there is no serial
//! port, so that a board with only a screen shows the boot log, the
//! components' output and faults.

use crate::text_screen::{Cells, TextScreen};
use core::fmt::{self, Write};
use spin::Mutex;

/// The cells, at a virtual address.
struct Buffer {
    base: usize,
    cells: usize,
}

impl Cells for Buffer {
    fn get(&self, i: usize) -> u16 {
        if i >= self.cells {
            return 0;
        }
        // SAFETY: inside the mapped text buffer (`init`'s contract),
        // aligned.
        unsafe { core::ptr::read_volatile((self.base as *const u16).add(i)) }
    }

    fn set(&mut self, i: usize, cell: u16) {
        if i < self.cells {
            // SAFETY: as in `get`; only the console writes the buffer.
            unsafe { core::ptr::write_volatile((self.base as *mut u16).add(i), cell) }
        }
    }
}

static SCREEN: Mutex<Option<(Buffer, TextScreen)>> = Mutex::new(None);

/// The legacy VGA text buffer's physical address.
pub const VGA_TEXT: u64 = 0xb8000;

/// Writes from now on to the `cols` by `rows` text buffer at `base`.
///
/// # Safety
///
/// `base..base + cols * rows * 2` maps the text buffer (uncached or the
/// firmware's legacy mapping) until [`move_to`] or for the rest of the
/// program, and only the console writes it.
pub unsafe fn init(base: usize, cols: usize, rows: usize) {
    *SCREEN.lock() = Some((
        Buffer {
            base,
            cells: cols * rows,
        },
        TextScreen::new(cols, rows),
    ));
}

/// The same buffer, now at `base` (the kernel's own mapping).
///
/// # Safety
///
/// As [`init`]'s, for `base`.
pub unsafe fn move_to(base: usize) {
    if let Some((buffer, _)) = SCREEN.lock().as_mut() {
        buffer.base = base;
    }
}

/// Whether the screen console is on.
pub fn on() -> bool {
    SCREEN.lock().is_some()
}

/// Writes `bytes` (the caller holds interrupts off).
pub fn write(bytes: &[u8]) {
    if let Some((buffer, screen)) = SCREEN.lock().as_mut() {
        screen.write(buffer, bytes);
    }
}

struct Writer<'a>(&'a mut Buffer, &'a mut TextScreen);

impl Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.1.write(self.0, s.as_bytes());
        Ok(())
    }
}

/// Writes `args` (the caller holds interrupts off).
pub fn write_fmt(args: fmt::Arguments<'_>) {
    if let Some((buffer, screen)) = SCREEN.lock().as_mut() {
        let _ = Writer(buffer, screen).write_fmt(args);
    }
}

/// Writes `args` even if the lock is held (the fault and panic reporters).
pub fn write_fmt_emergency(args: fmt::Arguments<'_>) {
    if SCREEN.is_locked() {
        // SAFETY: as for the serial port's emergency path: interrupts are
        // off on the way to a halt, so the holder never runs again.
        unsafe { SCREEN.force_unlock() };
    }
    write_fmt(args);
}
