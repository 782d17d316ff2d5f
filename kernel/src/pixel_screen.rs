//! A text console drawn on a pixel framebuffer (a UEFI board's GOP, a
//! VBE mode): the [`TextScreen`](crate::text_screen::TextScreen) grid's
//! cells, each drawn as a glyph of Noto Sans Mono, 16 pixels high, grey
//! on black. It keeps the cells it drew, so a cell that does not change
//! (most of them when the grid scrolls) is not drawn again. Where the
//! pixels are (the framebuffer, a buffer in tests) is the caller's.

use crate::text_screen::Cells;
use core::sync::atomic::{AtomicU16, Ordering};
use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};

/// A glyph's size in pixels.
pub const GLYPH_WIDTH: usize = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
/// See [`GLYPH_WIDTH`].
pub const GLYPH_HEIGHT: usize = 16;

/// The framebuffer's memory: bytes at offsets.
pub trait Pixels {
    /// Writes `bytes` at byte offset `at`.
    fn write(&mut self, at: usize, bytes: &[u8]);
}

/// How a pixel is laid out: bytes per pixel and each colour's bit
/// position and size (the Multiboot2 tag's RGB fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    pub bytes_per_pixel: usize,
    pub pitch: usize,
    pub red: (u8, u8),
    pub green: (u8, u8),
    pub blue: (u8, u8),
}

impl Format {
    /// The pixel of grey `level` (0-255), as its bytes.
    fn grey(&self, level: u8) -> [u8; 4] {
        let part = |(position, size): (u8, u8)| {
            let size = size.min(8);
            (u32::from(level) >> (8 - size)) << position
        };
        (part(self.red) | part(self.green) | part(self.blue)).to_le_bytes()
    }
}

/// The grid on a framebuffer of `width` by `height` pixels.
pub struct PixelCells<P> {
    pixels: P,
    format: Format,
    cols: usize,
    /// What each cell shows now (a static array in the kernel: too large
    /// for the boot stack).
    drawn: &'static [AtomicU16],
}

impl<P: Pixels> PixelCells<P> {
    /// The cells of a `width` by `height` framebuffer in `format`, what
    /// they show kept in `drawn` (as many rows as it holds at most), and
    /// the grid's columns and rows; `None` for a format it cannot draw
    /// (not 3 or 4 bytes a pixel) or a screen smaller than a glyph.
    pub fn new(
        pixels: P,
        format: Format,
        width: usize,
        height: usize,
        drawn: &'static [AtomicU16],
    ) -> Option<(Self, usize, usize)> {
        let cols = width / GLYPH_WIDTH;
        let rows = (height / GLYPH_HEIGHT).min(drawn.len() / cols.max(1));
        if !matches!(format.bytes_per_pixel, 3 | 4) || cols == 0 || rows == 0 {
            return None;
        }
        for d in drawn {
            d.store(0, Ordering::Relaxed);
        }
        let cells = Self {
            pixels,
            format,
            cols,
            drawn,
        };
        Some((cells, cols, rows))
    }

    /// The framebuffer's memory (to move it to another mapping).
    pub fn pixels_mut(&mut self) -> &mut P {
        &mut self.pixels
    }

    /// Draws `cell`'s character at cell `i`.
    fn draw(&mut self, i: usize, cell: u16) {
        let (col, row) = (i % self.cols, i / self.cols);
        let c = char::from((cell & 0xff) as u8);
        let raster = get_raster(c, FontWeight::Regular, RasterHeight::Size16)
            .or_else(|| get_raster('?', FontWeight::Regular, RasterHeight::Size16));
        let bpp = self.format.bytes_per_pixel;
        let mut line = [0u8; 4 * GLYPH_WIDTH];
        for y in 0..GLYPH_HEIGHT {
            for x in 0..GLYPH_WIDTH {
                let level = raster.and_then(|r| r.pixel(x, y)).unwrap_or(0);
                line[x * bpp..(x + 1) * bpp].copy_from_slice(&self.format.grey(level)[..bpp]);
            }
            let at = (row * GLYPH_HEIGHT + y) * self.format.pitch + col * GLYPH_WIDTH * bpp;
            self.pixels.write(at, &line[..GLYPH_WIDTH * bpp]);
        }
    }
}

impl<P: Pixels> Cells for PixelCells<P> {
    fn get(&self, i: usize) -> u16 {
        self.drawn.get(i).map_or(0, |d| d.load(Ordering::Relaxed))
    }

    fn set(&mut self, i: usize, cell: u16) {
        // A blank is drawn as black whatever its byte (0 or a space).
        let cell = if cell & 0xff == 0 {
            cell | u16::from(b' ')
        } else {
            cell
        };
        if let Some(d) = self.drawn.get(i)
            && d.swap(cell, Ordering::Relaxed) != cell
        {
            self.draw(i, cell);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text_screen::TextScreen;

    struct Fb(Vec<u8>);

    impl Pixels for &mut Fb {
        fn write(&mut self, at: usize, bytes: &[u8]) {
            self.0[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    fn drawn() -> &'static [AtomicU16] {
        Box::leak((0..1024).map(|_| AtomicU16::new(0)).collect())
    }

    const W: usize = 64;
    const H: usize = 48;

    fn format(bytes_per_pixel: usize) -> Format {
        Format {
            bytes_per_pixel,
            pitch: W * bytes_per_pixel + 8,
            red: (16, 8),
            green: (8, 8),
            blue: (0, 8),
        }
    }

    /// The character whose glyph is drawn at cell (`col`, `row`), read
    /// back from the pixels as the boot test reads a screendump.
    fn read(fb: &Fb, f: &Format, col: usize, row: usize) -> Option<char> {
        let level = |x: usize, y: usize| {
            let at =
                (row * GLYPH_HEIGHT + y) * f.pitch + (col * GLYPH_WIDTH + x) * f.bytes_per_pixel;
            fb.0[at + 2] // red, at bits 16-23
        };
        (' '..='~').find(|&c| {
            let r = get_raster(c, FontWeight::Regular, RasterHeight::Size16).unwrap();
            (0..GLYPH_HEIGHT).all(|y| (0..GLYPH_WIDTH).all(|x| r.pixel(x, y) == Some(level(x, y))))
        })
    }

    #[test]
    fn glyphs_are_drawn_where_the_grid_puts_them_and_read_back() {
        for bpp in [3, 4] {
            let f = format(bpp);
            let mut fb = Fb(vec![0xee; f.pitch * H]);
            {
                let (mut cells, cols, rows) = PixelCells::new(&mut fb, f, W, H, drawn()).unwrap();
                assert_eq!((cols, rows), (W / GLYPH_WIDTH, 3));
                TextScreen::new(cols, rows).write(&mut cells, b"Hi!\nok");
            }
            let line = |row| {
                (0..3)
                    .map(|c| read(&fb, &f, c, row).unwrap_or('#'))
                    .collect::<String>()
            };
            assert_eq!(line(2), "ok ");
            assert_eq!(line(1), "Hi!");
            // The padding past the width is left alone.
            assert_eq!(fb.0[W * bpp], 0xee);
        }
    }

    #[test]
    fn formats_it_cannot_draw_are_refused() {
        let mut fb = Fb(vec![0; 64]);
        assert!(PixelCells::new(&mut fb, format(2), W, H, drawn()).is_none());
        let mut fb = Fb(vec![0; 64]);
        assert!(PixelCells::new(&mut fb, format(4), 3, 3, drawn()).is_none());
    }
}
