//! What AML computes with, and what the namespace holds.

use crate::name::{NameString, Path};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

/// A value. Buffers and packages are shared, as AML's are: an element
/// stored through `Index` is seen by every holder.
#[derive(Clone, Debug, Default)]
pub enum Value {
    #[default]
    Uninitialized,
    Integer(u64),
    String(String),
    Buffer(Rc<RefCell<Vec<u8>>>),
    Package(Rc<RefCell<Vec<Value>>>),
    /// A name written inside a package (such as a `_PRT` entry's link
    /// device): whoever reads it resolves it, from `scope`.
    Name {
        name: NameString,
        scope: Path,
    },
    /// An object that is not data (a device, a mutex) named as a value.
    Object(Path),
}

impl Value {
    pub fn buffer(bytes: Vec<u8>) -> Value {
        Value::Buffer(Rc::new(RefCell::new(bytes)))
    }

    pub fn package(elements: Vec<Value>) -> Value {
        Value::Package(Rc::new(RefCell::new(elements)))
    }
}

/// A named object.
#[derive(Clone, Debug)]
pub enum Object {
    /// A scope of the namespace: `Scope`, `Device`, `Processor`,
    /// `PowerResource`, `ThermalZone`.
    Node {
        device: bool,
    },
    /// `Name`: data.
    Data(Value),
    Method {
        code: Rc<[u8]>,
        args: u8,
    },
    /// `OperationRegion`: `space` 0 system memory, 1 system I/O, 2 PCI
    /// configuration space (of the device the region is declared in).
    Region {
        space: u8,
        offset: u64,
        length: u64,
    },
    /// A field of a region.
    Field {
        region: Path,
        bit_offset: u64,
        bits: u64,
    },
    /// A field of a buffer (`CreateDWordField` and the like).
    BufferField {
        buffer: Rc<RefCell<Vec<u8>>>,
        bit_offset: u64,
        bits: u64,
    },
    /// `Alias`.
    Alias(Path),
    /// Declared by `External` only: a method's argument count, so that
    /// calls to it parse.
    External {
        args: u8,
    },
    /// Objects evaluation never reads (mutexes, events, index and bank
    /// fields).
    Opaque(&'static str),
}
