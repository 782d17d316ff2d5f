//! The screen console: the framebuffer the boot loader left (the
//! Multiboot2 framebuffer tag: EGA text cells, or RGB pixels drawn with
//! [`crate::pixel_screen`]; under a BIOS without a tag, the legacy 80x25
//! text buffer at 0xb8000), written where there is no serial port, so
//! that a board with only a screen shows the boot log, the components'
//! output and faults.

use super::boot_info::Framebuffer;
use crate::pixel_screen::{PixelCells, Pixels};
use crate::text_screen::{Cells, TextScreen};
use core::fmt::{self, Write};
use core::sync::atomic::AtomicU16;
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

/// A pixel framebuffer's memory, at a virtual address.
struct PixelMemory {
    base: usize,
    len: usize,
}

impl Pixels for PixelMemory {
    fn write(&mut self, at: usize, bytes: &[u8]) {
        if at
            .checked_add(bytes.len())
            .is_some_and(|end| end <= self.len)
        {
            for (i, &b) in bytes.iter().enumerate() {
                // SAFETY: inside the mapped framebuffer (`init`'s
                // contract); only the console writes it.
                unsafe { core::ptr::write_volatile((self.base + at + i) as *mut u8, b) };
            }
        }
    }
}

/// What the console draws on.
enum Display {
    Text(Buffer),
    Pixels(PixelCells<PixelMemory>),
}

impl Cells for Display {
    fn get(&self, i: usize) -> u16 {
        match self {
            Display::Text(b) => b.get(i),
            Display::Pixels(p) => p.get(i),
        }
    }

    fn set(&mut self, i: usize, cell: u16) {
        match self {
            Display::Text(b) => b.set(i, cell),
            Display::Pixels(p) => p.set(i, cell),
        }
    }
}

static SCREEN: Mutex<Option<(Display, TextScreen)>> = Mutex::new(None);

/// What the pixel console's cells show (a 4K screen's worth of cells:
/// static, as it is too large for the boot stack).
static DRAWN: [AtomicU16; 1 << 15] = [const { AtomicU16::new(0) }; 1 << 15];

/// The legacy VGA text buffer's physical address.
pub const VGA_TEXT: u64 = 0xb8000;

/// Writes from now on to `framebuffer`, mapped at `base`; whether the
/// console can draw on it.
///
/// # Safety
///
/// `base` maps the framebuffer's whole range ([`Framebuffer::range`])
/// uncached (or as the firmware left it) until [`move_to`] or for the
/// rest of the program, and only the console writes it.
pub unsafe fn init(framebuffer: Framebuffer, base: usize) -> bool {
    let (_, len) = framebuffer.range();
    let screen = match framebuffer {
        Framebuffer::Text { cols, rows, .. } => Some((
            Display::Text(Buffer {
                base,
                cells: cols * rows,
            }),
            TextScreen::new(cols, rows),
        )),
        Framebuffer::Pixels {
            width,
            height,
            format,
            ..
        } => {
            let memory = PixelMemory {
                base,
                len: len as usize,
            };
            PixelCells::new(memory, format, width, height, &DRAWN)
                .map(|(cells, cols, rows)| (Display::Pixels(cells), TextScreen::new(cols, rows)))
        }
    };
    let drawn = screen.is_some();
    *SCREEN.lock() = screen;
    drawn
}

/// The same framebuffer, now at `base` (the kernel's own mapping).
///
/// # Safety
///
/// As [`init`]'s, for `base`.
pub unsafe fn move_to(base: usize) {
    match SCREEN.lock().as_mut() {
        Some((Display::Text(b), _)) => b.base = base,
        Some((Display::Pixels(p), _)) => p.pixels_mut().base = base,
        None => {}
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

struct Writer<'a>(&'a mut Display, &'a mut TextScreen);

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
