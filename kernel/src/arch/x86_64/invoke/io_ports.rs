//! The invocations of I/O-port control (issuing port ranges) and of I/O
//! ports (reading and writing them).

use crate::object::cap::Cap;
use crate::object::cnode::{self, index_slot};
use crate::object::invocation::{Message, NO_WORDS, Reply};
use crate::object::slot::SlotRef;
use basalt_abi::{Error, label};
use x86_64::instructions::port::Port;

/// I/O ports the kernel drives itself: PICs, PIT, the speaker gate, the
/// debug-exit device, COM1.
const KERNEL_PORTS: [(u16, u16); 6] = [
    (0x20, 0x21),
    (0x40, 0x43),
    (0x61, 0x61),
    (0xa0, 0xa1),
    (0xf4, 0xf7),
    (0x3f8, 0x3ff),
];

/// Invokes the I/O-port control capability in `control` with `label`.
pub fn control(control: SlotRef, label: u64, cspace: Cap, msg: &Message) -> Reply {
    if label != label::IO_PORT_ISSUE {
        return Err(Error::UnknownInvocation.into());
    }
    let w = |i| msg.word(i);
    let (first, last) = (w(0)?, w(1)?);
    if first > last || last > 0xffff {
        return Err(Error::RangeError.into());
    }
    if KERNEL_PORTS
        .iter()
        .any(|&(a, b)| u64::from(a) <= last && first <= u64::from(b))
    {
        return Err(Error::IllegalOperation.into());
    }
    let dest = index_slot(cnode::lookup(cspace, w(2)?)?.cap(), w(3)?)?;
    if !dest.is_empty() {
        return Err(Error::SlotOccupied.into());
    }
    dest.install_child(
        Cap::IoPort {
            first: first as u16,
            last: last as u16,
        },
        control,
    );
    Ok(NO_WORDS)
}

/// Invokes a capability to the ports `first..=last` with `label`.
pub fn ports(first: u16, last: u16, label: u64, msg: &Message) -> Reply {
    if !matches!(label, label::IO_PORT_IN | label::IO_PORT_OUT) {
        return Err(Error::UnknownInvocation.into());
    }
    let (port, width) = (msg.word(0)?, msg.word(1)?);
    if !matches!(width, 1 | 2 | 4) {
        return Err(Error::InvalidArgument.into());
    }
    // `port` is the caller's word: `port + width - 1` must not wrap (a
    // wrapped sum would pass the check for a port below `first`).
    if port < u64::from(first)
        || port
            .checked_add(width - 1)
            .is_none_or(|end| end > u64::from(last))
    {
        return Err(Error::RangeError.into());
    }
    let port = port as u16;
    if label == label::IO_PORT_IN {
        // SAFETY: the capability grants exactly these ports, which the
        // kernel never uses itself (see KERNEL_PORTS).
        let v = unsafe {
            match width {
                1 => u64::from(Port::<u8>::new(port).read()),
                2 => u64::from(Port::<u16>::new(port).read()),
                _ => u64::from(Port::<u32>::new(port).read()),
            }
        };
        return Ok([v, 0, 0, 0]);
    }
    let v = msg.word(2)?;
    // SAFETY: as for reading.
    unsafe {
        match width {
            1 => Port::<u8>::new(port).write(v as u8),
            2 => Port::<u16>::new(port).write(v as u16),
            _ => Port::<u32>::new(port).write(v as u32),
        }
    }
    Ok(NO_WORDS)
}
