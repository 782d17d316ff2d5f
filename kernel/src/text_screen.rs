//! A text console on an 80-by-25 grid of character cells, as VGA text
//! mode (and the Multiboot2 framebuffer tag's EGA text type) lays them
//! out: one 16-bit cell per character, the character in the low byte and
//! its colours in the high one. The grid writes lines, wraps them at its
//! width and scrolls them up past its height; where the cells are (the
//! screen's memory, a buffer in tests) is the caller's.

/// Light grey on black.
pub const ATTRIBUTE: u16 = 0x0700;

/// The cells of a screen.
pub trait Cells {
    /// Cell `i` (row-major).
    fn get(&self, i: usize) -> u16;
    /// Sets cell `i`.
    fn set(&mut self, i: usize, cell: u16);
}

/// Where the next character goes on a grid of `cols` by `rows`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TextScreen {
    cols: usize,
    rows: usize,
    col: usize,
    row: usize,
}

impl TextScreen {
    /// A screen of `cols` by `rows` (each at least 1), writing from its
    /// last row up: what was on the screen (the boot loader's lines)
    /// scrolls up as the kernel writes.
    pub fn new(cols: usize, rows: usize) -> Self {
        Self {
            cols: cols.max(1),
            rows: rows.max(1),
            col: 0,
            row: rows.max(1) - 1,
        }
    }

    /// Writes `bytes`: printable ASCII as itself, a newline ends the line,
    /// a carriage return is dropped, anything else shows as `?`.
    pub fn write(&mut self, cells: &mut impl Cells, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'\n' => self.newline(cells),
                b'\r' => {}
                0x20..=0x7e => self.put(cells, b),
                _ => self.put(cells, b'?'),
            }
        }
    }

    fn put(&mut self, cells: &mut impl Cells, b: u8) {
        if self.col == self.cols {
            self.newline(cells);
        }
        cells.set(self.row * self.cols + self.col, ATTRIBUTE | u16::from(b));
        self.col += 1;
    }

    /// Moves to the next line's start, scrolling the grid up a line on
    /// the last one.
    fn newline(&mut self, cells: &mut impl Cells) {
        self.col = 0;
        if self.row + 1 < self.rows {
            self.row += 1;
            return;
        }
        for i in 0..(self.rows - 1) * self.cols {
            cells.set(i, cells.get(i + self.cols));
        }
        for i in (self.rows - 1) * self.cols..self.rows * self.cols {
            cells.set(i, ATTRIBUTE | u16::from(b' '));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Grid(Vec<u16>);

    impl Cells for Grid {
        fn get(&self, i: usize) -> u16 {
            self.0[i]
        }
        fn set(&mut self, i: usize, cell: u16) {
            self.0[i] = cell;
        }
    }

    fn text(g: &Grid, cols: usize) -> Vec<String> {
        g.0.chunks(cols)
            .map(|row| {
                row.iter()
                    .map(|&c| (c & 0xff) as u8 as char)
                    .collect::<String>()
            })
            .map(|r| r.trim_end_matches(['\0', ' ']).to_string())
            .collect()
    }

    #[test]
    fn lines_scroll_up_from_the_bottom_and_wrap() {
        let mut g = Grid(vec![u16::from(b'x'); 4 * 3]);
        let mut s = TextScreen::new(4, 3);
        s.write(&mut g, b"ab\r\ncdefg\n\x01z");
        assert_eq!(text(&g, 4), ["cdef", "g", "?z"]);
        assert!(
            g.0.iter()
                .all(|c| c & 0xff00 == ATTRIBUTE || c & 0xff == u16::from(b'x'))
        );
        // A thousand lines later the grid still holds the last three.
        for i in 0..1000 {
            s.write(&mut g, format!("\n{i}").as_bytes());
        }
        assert_eq!(text(&g, 4), ["997", "998", "999"]);
    }

    #[test]
    fn a_degenerate_grid_still_works() {
        let mut g = Grid(vec![0; 1]);
        let mut s = TextScreen::new(0, 0);
        s.write(&mut g, b"abc\n");
        assert_eq!(g.0[0] & 0xff, u16::from(b' '));
    }
}
