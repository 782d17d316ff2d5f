//! Reading AML bytes: package lengths, name strings and integers, every
//! read bounded by the code it reads (a truncated or lying table is an
//! error, never a read past it).

use crate::Error;
use crate::name::{NameString, Seg, is_lead_char, is_name_char};
use alloc::vec::Vec;

/// A position in a stretch of AML.
pub struct Reader<'a> {
    pub code: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(code: &'a [u8]) -> Self {
        Self { code, pos: 0 }
    }

    pub fn peek(&self) -> Result<u8, Error> {
        self.code
            .get(self.pos)
            .copied()
            .ok_or(Error::Truncated { at: self.pos })
    }

    /// The byte after the next one, if there is one.
    pub fn peek_second(&self) -> Option<u8> {
        self.code.get(self.pos + 1).copied()
    }

    pub fn byte(&mut self) -> Result<u8, Error> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.code.len())
            .ok_or(Error::Truncated { at: self.pos })?;
        let b = &self.code[self.pos..end];
        self.pos = end;
        Ok(b)
    }

    /// A little-endian integer of `n` bytes.
    pub fn le(&mut self, n: usize) -> Result<u64, Error> {
        Ok(self
            .bytes(n)?
            .iter()
            .rev()
            .fold(0u64, |v, &b| v << 8 | u64::from(b)))
    }

    /// A PkgLength: where the package that starts here ends (the length
    /// counts its own bytes), checked against the code.
    pub fn package_end(&mut self) -> Result<usize, Error> {
        let start = self.pos;
        // At most 28 bits: it fits.
        let end = start + self.package_length()? as usize;
        if end > self.code.len() || end < self.pos {
            return Err(Error::Truncated { at: start });
        }
        Ok(end)
    }

    /// Checks that what was read of a package's header stayed inside the
    /// package (a lying length would end it before its own name).
    pub fn within(&self, end: usize) -> Result<(), Error> {
        if self.pos > end {
            return Err(Error::Truncated { at: end });
        }
        Ok(())
    }

    /// A PkgLength read as a plain number (a field's width in bits).
    pub fn package_length(&mut self) -> Result<u64, Error> {
        let lead = self.byte()?;
        let extra = usize::from(lead >> 6);
        let mut length = if extra == 0 {
            u64::from(lead & 0x3f)
        } else {
            u64::from(lead & 0x0f)
        };
        for i in 0..extra {
            length |= u64::from(self.byte()?) << (4 + 8 * i);
        }
        Ok(length)
    }

    /// Whether a name string starts here.
    pub fn at_name(&self) -> bool {
        matches!(self.peek(), Ok(c) if is_lead_char(c) || matches!(c, b'\\' | b'^' | 0x2e | 0x2f))
    }

    fn seg(&mut self) -> Result<Seg, Error> {
        let at = self.pos;
        let b = self.bytes(4)?;
        if !is_lead_char(b[0]) || !b[1..].iter().all(|&c| is_name_char(c)) {
            return Err(Error::BadName { at });
        }
        Ok([b[0], b[1], b[2], b[3]])
    }

    /// A NameString (the null name is one with no segments).
    pub fn name(&mut self) -> Result<NameString, Error> {
        let mut name = NameString {
            absolute: false,
            up: 0,
            segs: Vec::new(),
        };
        if self.peek()? == b'\\' {
            name.absolute = true;
            self.pos += 1;
        } else {
            while self.peek()? == b'^' {
                name.up += 1;
                self.pos += 1;
            }
        }
        let count = match self.peek()? {
            0x00 => {
                self.pos += 1;
                0
            }
            0x2e => {
                self.pos += 1;
                2
            }
            0x2f => {
                self.pos += 1;
                usize::from(self.byte()?)
            }
            _ => 1,
        };
        for _ in 0..count {
            name.segs.push(self.seg()?);
        }
        Ok(name)
    }
}
