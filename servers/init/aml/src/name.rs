//! Names in the ACPI namespace: absolute paths of four-character
//! segments, and name strings as AML writes them (absolute, relative with
//! `^` parent prefixes, or a single segment subject to the search rules).

use alloc::vec::Vec;
use core::fmt;

/// One name segment: four characters, padded with `_`.
pub type Seg = [u8; 4];

/// An absolute path in the namespace (`\` is the empty path).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Path(pub Vec<Seg>);

impl Path {
    /// The root, `\`.
    pub fn root() -> Path {
        Path(Vec::new())
    }

    /// The path of `seg` under this one.
    pub fn child(&self, seg: Seg) -> Path {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }

    /// The scope this path lies in (the root's is the root).
    pub fn parent(&self) -> Path {
        let mut p = self.clone();
        p.0.pop();
        p
    }

    /// Its last segment, if it is not the root.
    pub fn last(&self) -> Option<Seg> {
        self.0.last().copied()
    }
}

impl fmt::Display for Path {
    /// `\_SB_.PCI0._PRT`, as ACPI tools write paths.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\\")?;
        for (i, seg) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            for &c in seg {
                write!(f, "{}", char::from(c))?;
            }
        }
        Ok(())
    }
}

/// A name string as the AML holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameString {
    /// It starts at the root (`\`).
    pub absolute: bool,
    /// `^` prefixes: scopes to go up before the segments.
    pub up: usize,
    pub segs: Vec<Seg>,
}

impl NameString {
    /// A single segment with no prefix: the namespace search rules apply
    /// (look in the scope, then in each scope above it).
    pub fn searched(&self) -> bool {
        !self.absolute && self.up == 0 && self.segs.len() == 1
    }

    /// The path it names from `scope`, without the search rules.
    pub fn resolve(&self, scope: &Path) -> Path {
        let mut base = if self.absolute {
            Path::root()
        } else {
            let mut p = scope.clone();
            for _ in 0..self.up {
                p.0.pop();
            }
            p
        };
        base.0.extend_from_slice(&self.segs);
        base
    }
}

/// Whether `c` may start a name segment.
pub fn is_lead_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c == b'_'
}

/// Whether `c` may continue a name segment.
pub fn is_name_char(c: u8) -> bool {
    is_lead_char(c) || c.is_ascii_digit()
}
