//! The sizes of kernel objects in untyped memory, and the IPC objects:
//! endpoints and notifications. (Threads are in [`super::tcb`].)

use super::cnode::{MAX_RADIX, MIN_RADIX, cnode_size_bits};
use super::objref::TcbRef;
use crate::sched::Queue;
use basalt_abi::{Error, ObjectType};

/// Smallest and largest untyped objects (4 KiB, 128 TiB).
pub const MIN_UNTYPED_BITS: u8 = 12;
pub const MAX_UNTYPED_BITS: u8 = 47;

/// Bytes of an endpoint or notification object.
pub const ENDPOINT_BITS: u8 = 6;
/// Bytes of a TCB object.
pub const TCB_BITS: u8 = 11;

/// An endpoint: the queue of threads waiting on it, all senders or all
/// receivers.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Endpoint {
    pub queue: Queue,
    /// Whether the queued threads are receivers (else senders).
    pub receivers: bool,
}

/// A notification: a word of signal bits and the threads waiting for it.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Notification {
    pub word: u64,
    pub queue: Queue,
    /// The TCB bound to it.
    pub bound: Option<TcbRef>,
}

const _: () = assert!(size_of::<Endpoint>() <= 1 << ENDPOINT_BITS);
const _: () = assert!(size_of::<Notification>() <= 1 << ENDPOINT_BITS);
// Retype makes endpoints and notifications by zeroing their memory, so all
// zeroes must be an empty one: a `None` link is a null pointer (`ObjRef` is
// a transparent `NonNull`).
const _: () = assert!(size_of::<Option<TcbRef>>() == size_of::<u64>());

/// Bytes (as a power of two) of one object of `ty`; `size_bits` is the
/// caller's size for the variable-sized types (untyped: bytes; CNode: slots).
pub fn object_size_bits(ty: ObjectType, size_bits: u64) -> Result<u8, Error> {
    Ok(match ty {
        ObjectType::Untyped => {
            let bits = u8::try_from(size_bits).map_err(|_| Error::RangeError)?;
            if !(MIN_UNTYPED_BITS..=MAX_UNTYPED_BITS).contains(&bits) {
                return Err(Error::RangeError);
            }
            bits
        }
        ObjectType::CNode => {
            let radix = u8::try_from(size_bits).map_err(|_| Error::RangeError)?;
            if !(MIN_RADIX..=MAX_RADIX).contains(&radix) {
                return Err(Error::RangeError);
            }
            cnode_size_bits(radix)
        }
        ObjectType::Tcb => TCB_BITS,
        ObjectType::Endpoint | ObjectType::Notification => ENDPOINT_BITS,
        ObjectType::Frame4K
        | ObjectType::PageTable
        | ObjectType::PageDirectory
        | ObjectType::Pdpt
        | ObjectType::VSpace => 12,
        ObjectType::Frame2M => 21,
    })
}
