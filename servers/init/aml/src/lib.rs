//! The part of ACPI Machine Language that `init` evaluates: enough to
//! learn which interrupt input a PCI function's INTx pin drives (the
//! firmware's `\_PIC`, `_PRT` and link devices' `_CRS`), which a driver
//! of a card without MSI needs (docs/config.md, `interrupt = "any"`).
//!
//! Why our own: the two AML interpreters in Rust (the `acpi` crate's
//! `aml` feature and the older `aml` crate) need nightly Rust, and this
//! project builds on stable. What this one does:
//!
//! - [`Tables::split`] walks the kernel's copy of the DSDT and SSDTs
//!   (`BootInfo::acpi`);
//! - [`Interpreter`] loads them (declarations, and the few statements
//!   tables hold at their top level) and evaluates named objects, running
//!   methods: integers, strings, buffers, packages, locals and arguments,
//!   `If`/`Else`/`While`, arithmetic and logic, `Index`/`DerefOf`/
//!   `SizeOf`, buffer fields, and fields of PCI configuration regions
//!   (read through a [`Host`]). It touches no memory or I/O port: see
//!   its module for how firmware fields behave;
//! - [`routing::Router`] turns a function and pin into an
//!   [`resource::Interrupt`].
//!
//! Anything else (an opcode it does not know, a read of firmware memory)
//! is an [`Error`] that names it, never a panic; a method cannot loop or
//! recurse without bound.

#![no_std]

extern crate alloc;

mod interp;
pub mod name;
pub mod resource;
pub mod routing;
mod stream;
pub mod value;

#[cfg(test)]
mod tests;

pub use interp::Interpreter;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// What the interpreter needs of the machine.
pub trait Host {
    /// A byte of the configuration space of PCI function `bus:device.function`
    /// (segment 0); `0xff` where nothing answers.
    fn pci_read(&self, bus: u8, device: u8, function: u8, offset: u16) -> u8;
}

/// Why AML could not be loaded or evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The code ends in the middle of something, at this byte offset (of
    /// the table or method).
    Truncated {
        at: usize,
    },
    /// A name segment that is not one.
    BadName {
        at: usize,
    },
    /// An opcode this interpreter does not evaluate (0x5bxx: extended).
    Opcode {
        op: u16,
        at: usize,
    },
    /// Something it parses but does not evaluate.
    Unsupported {
        what: &'static str,
        at: usize,
    },
    /// A name that is not in the namespace.
    NotFound(String),
    /// An operand of the wrong type.
    Type {
        expected: &'static str,
        at: usize,
    },
    /// An index past a package or buffer, or a size too large.
    Index {
        index: u64,
    },
    DivideByZero {
        at: usize,
    },
    /// A read of a field of system memory (space 0) or I/O (space 1) that
    /// the AML had not written: init does not let firmware code read the
    /// machine.
    Refused {
        field: String,
        space: u8,
        address: u64,
    },
    /// Methods nested deeper than 16 calls (the innermost named).
    TooDeep(String),
    /// Terms nested deeper than the interpreter's stack allows, at this
    /// byte offset.
    TooNested {
        at: usize,
    },
    /// The evaluation ran past its step budget (a loop that does not end).
    TooLong {
        at: usize,
    },
    /// The AML executed `Fatal`.
    Fatal {
        kind: u8,
        code: u64,
        arg: u64,
    },
    /// An error inside a method, with the method's path.
    In {
        method: String,
        error: alloc::boxed::Box<Error>,
    },
}

impl Error {
    /// This error, as raised inside `method`.
    fn inside(self, method: &name::Path) -> Error {
        match self {
            e @ Error::In { .. } => e,
            e => Error::In {
                method: alloc::format!("{method}"),
                error: alloc::boxed::Box::new(e),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { at } => write!(f, "the code ends early (byte {at:#x})"),
            Self::BadName { at } => write!(f, "a malformed name at byte {at:#x}"),
            Self::Opcode { op, at } => write!(f, "opcode {op:#x} at byte {at:#x} is not evaluated"),
            Self::Unsupported { what, at } => write!(f, "{what} at byte {at:#x} is not evaluated"),
            Self::NotFound(name) => write!(f, "{name} does not exist"),
            Self::Type { expected, at } => write!(f, "expected {expected} at byte {at:#x}"),
            Self::Index { index } => write!(f, "index or size {index} out of range"),
            Self::DivideByZero { at } => write!(f, "division by zero at byte {at:#x}"),
            Self::Refused {
                field,
                space,
                address,
            } => write!(
                f,
                "{field} reads {} at {address:#x}, which init does not read for firmware code",
                if *space == 0 { "memory" } else { "an I/O port" }
            ),
            Self::TooDeep(method) => write!(f, "methods nested too deep at {method}"),
            Self::TooNested { at } => write!(f, "terms nested too deep at byte {at:#x}"),
            Self::TooLong { at } => write!(f, "evaluation ran too long (a loop at byte {at:#x}?)"),
            Self::Fatal { kind, code, arg } => {
                write!(f, "Fatal({kind:#x}, {code:#x}, {arg:#x})")
            }
            Self::In { method, error } => write!(f, "in {method}: {error}"),
        }
    }
}

/// One ACPI table of the kernel's copy.
#[derive(Clone, Copy, Debug)]
pub struct Table<'a> {
    pub signature: [u8; 4],
    pub revision: u8,
    /// The AML after the 36-byte header.
    pub aml: &'a [u8],
}

/// Bytes of an ACPI table header.
const HEADER: usize = 36;

/// The kernel's copy of the firmware's AML tables, split.
#[derive(Debug)]
pub struct Tables<'a> {
    pub tables: Vec<Table<'a>>,
}

impl<'a> Tables<'a> {
    /// Walks tables laid one after the other, each as long as its header
    /// says; a header that does not fit (or claims less than itself) ends
    /// the walk with an error naming its offset.
    pub fn split(mut bytes: &'a [u8]) -> Result<Tables<'a>, Error> {
        let mut tables = Vec::new();
        let mut at = 0usize;
        while !bytes.is_empty() {
            let length = bytes
                .get(4..8)
                .map(|l| u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize)
                .filter(|&l| (HEADER..=bytes.len()).contains(&l))
                .ok_or(Error::Truncated { at })?;
            tables.push(Table {
                signature: [bytes[0], bytes[1], bytes[2], bytes[3]],
                revision: bytes[8],
                aml: &bytes[HEADER..length],
            });
            bytes = &bytes[length..];
            at += length;
        }
        Ok(Tables { tables })
    }

    /// An interpreter with the DSDT and every SSDT loaded. An SSDT that
    /// fails to load is left out and reported; the DSDT must load.
    pub fn load<H: Host>(&self, host: H) -> Result<Loaded<H>, Error> {
        let dsdt = self
            .tables
            .iter()
            .find(|t| &t.signature == b"DSDT")
            .ok_or_else(|| Error::NotFound(String::from("the DSDT")))?;
        let mut aml = Interpreter::new(host, dsdt.revision);
        aml.load(dsdt.aml)?;
        let mut failed = Vec::new();
        for (i, t) in self.tables.iter().enumerate() {
            if &t.signature == b"SSDT"
                && let Err(e) = aml.load(t.aml)
            {
                failed.push((i, e));
            }
        }
        Ok(Loaded { aml, failed })
    }
}

/// The tables, loaded.
pub struct Loaded<H: Host> {
    pub aml: Interpreter<H>,
    /// The SSDTs that failed to load: their position among the tables,
    /// and why.
    pub failed: Vec<(usize, Error)>,
}
