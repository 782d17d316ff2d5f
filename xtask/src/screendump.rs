//! Reads the kernel's pixel console back from a QEMU screendump (a
//! binary PPM): each 7-by-16 cell compared with the glyphs of the font
//! the kernel draws with (`kernel/src/pixel_screen.rs`), exactly, since
//! it writes each glyph's grey levels as they are. The text, a line per
//! row; a cell that is no glyph reads as `#`.

use crate::{Result, fail};
use noto_sans_mono_bitmap::{FontWeight, RasterHeight, get_raster, get_raster_width};

const HEIGHT: usize = 16;

/// The rows of text on the screen in `ppm`.
pub fn text(ppm: &[u8]) -> Result<Vec<String>> {
    let (width, height, pixels) = parse(ppm)?;
    let glyph = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
    let red = |x: usize, y: usize| pixels[(y * width + x) * 3];
    let glyphs: Vec<(char, Vec<u8>)> = (' '..='~')
        .filter_map(|c| {
            Some((
                c,
                get_raster(c, FontWeight::Regular, RasterHeight::Size16)?
                    .pixels()
                    .to_vec(),
            ))
        })
        .collect();
    let mut rows = Vec::new();
    for row in 0..height / HEIGHT {
        let mut line = String::new();
        for col in 0..width / glyph {
            let cell: Vec<u8> = (0..HEIGHT)
                .flat_map(|y| (0..glyph).map(move |x| (col * glyph + x, row * HEIGHT + y)))
                .map(|(x, y)| red(x, y))
                .collect();
            line.push(
                glyphs
                    .iter()
                    .find(|(_, g)| *g == cell)
                    .map_or('#', |(c, _)| *c),
            );
        }
        rows.push(line.trim_end().to_string());
    }
    Ok(rows)
}

/// A binary PPM's width, height and RGB bytes.
fn parse(ppm: &[u8]) -> Result<(usize, usize, &[u8])> {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while at < ppm.len() && ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while at < ppm.len() && !ppm[at].is_ascii_whitespace() {
            at += 1;
        }
        if start == at {
            return Err(fail!("a screendump cut short in its header"));
        }
        fields.push(String::from_utf8_lossy(&ppm[start..at]).into_owned());
    }
    let number = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| fail!("a screendump header field {s:?}"))
    };
    if fields[0] != "P6" || number(&fields[3])? != 255 {
        return Err(fail!("not a binary PPM with 8-bit colours: {fields:?}"));
    }
    let (width, height) = (number(&fields[1])?, number(&fields[2])?);
    let pixels = ppm.get(at + 1..).filter(|p| p.len() >= width * height * 3);
    let pixels = pixels.ok_or_else(|| fail!("a screendump shorter than {width}x{height}"))?;
    Ok((width, height, pixels))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyphs_drawn_as_the_kernel_draws_them_are_read_back() {
        let glyph = get_raster_width(FontWeight::Regular, RasterHeight::Size16);
        let (w, h) = (glyph * 4, HEIGHT * 2);
        let mut pixels = vec![0u8; w * h * 3];
        for (col, c) in "ok!".chars().enumerate() {
            let r = get_raster(c, FontWeight::Regular, RasterHeight::Size16).unwrap();
            for y in 0..HEIGHT {
                for x in 0..glyph {
                    let at = ((HEIGHT + y) * w + col * glyph + x) * 3;
                    pixels[at..at + 3].fill(r.pixel(x, y).unwrap());
                }
            }
        }
        // A stray pixel in the first row's last cell: not a glyph.
        pixels[(3 * glyph + 2) * 3] = 9;
        let mut ppm = format!("P6\n{w} {h}\n255\n").into_bytes();
        ppm.extend(pixels);
        assert_eq!(text(&ppm).unwrap(), ["   #", "ok!"]);
        assert!(text(b"P3\n1 1\n255\n").is_err());
        assert!(text(b"P6\n4 4\n255\n\0").is_err());
    }
}
