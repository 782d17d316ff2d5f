//! Resource templates (`_CRS` buffers): the first interrupt they hold.

/// An interrupt input, as a link device's `_CRS` or a `_PRT` entry gives
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupt {
    /// The global system interrupt (the IOAPIC input, counted across
    /// IOAPICs; an ISA IRQ below 16).
    pub gsi: u32,
    /// Level-triggered (else edge).
    pub level: bool,
    /// Active low (else high).
    pub active_low: bool,
}

/// The first interrupt a resource template describes: an IRQ descriptor
/// (the lowest IRQ of its mask) or an extended interrupt descriptor (its
/// first). `None` if it holds neither before its end tag, or is cut
/// short.
pub fn first_interrupt(template: &[u8]) -> Option<Interrupt> {
    let mut at = 0usize;
    while let Some(&tag) = template.get(at) {
        if tag & 0x80 == 0 {
            // Small item: type in bits 3-6, length in bits 0-2.
            let length = usize::from(tag & 7);
            let body = template.get(at + 1..at + 1 + length)?;
            match tag >> 3 & 0xf {
                0x4 if length >= 2 => {
                    let mask = u16::from_le_bytes([body[0], body[1]]);
                    // Without the flags byte: edge, active high.
                    let flags = body.get(2).copied().unwrap_or(0x01);
                    if mask != 0 {
                        return Some(Interrupt {
                            gsi: mask.trailing_zeros(),
                            level: flags & 0x01 == 0,
                            active_low: flags & 0x08 != 0,
                        });
                    }
                }
                0xf => return None,
                _ => {}
            }
            at += 1 + length;
        } else {
            let length = usize::from(u16::from_le_bytes([
                *template.get(at + 1)?,
                *template.get(at + 2)?,
            ]));
            let body = template.get(at + 3..at + 3 + length)?;
            if tag & 0x7f == 0x09 && length >= 6 && body[1] >= 1 {
                let flags = body[0];
                return Some(Interrupt {
                    gsi: u32::from_le_bytes([body[2], body[3], body[4], body[5]]),
                    level: flags & 0x02 == 0,
                    active_low: flags & 0x04 != 0,
                });
            }
            at += 3 + length;
        }
    }
    None
}
