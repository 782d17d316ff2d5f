//! The invocations of frames and paging structures: mapping them into an
//! address space, unmapping them, a frame's physical address.

use crate::arch::x86_64::layout::PHYS_OFFSET;
use crate::arch::x86_64::state::Kernel;
use crate::arch::x86_64::thread::KernelMachine;
use crate::arch::x86_64::vspace;
use crate::object::cap::{Asid, Cap};
use crate::object::cnode;
use crate::object::invocation::{Failure, Message, NO_WORDS, Reply};
use crate::object::ops;
use crate::object::slot::SlotRef;
use basalt_abi::{Error, ObjectType, Rights, label};

/// Invokes the capability in `slot` to a page table of `level` with
/// `label`.
pub fn page_table(
    k: &mut Kernel,
    slot: SlotRef,
    level: u8,
    label: u64,
    cspace: Cap,
    msg: &Message,
) -> Reply {
    match label {
        label::PAGE_TABLE_MAP => {
            let asid = vspace_arg(cspace, msg.word(0)?)?;
            let vaddr = msg.word(1)?;
            ops::map_page_table(slot, asid, vaddr, &mut KernelMachine(k))
                .map_err(|e| missing_table(e, asid, vaddr, level + 1))?;
            Ok(NO_WORDS)
        }
        label::PAGE_TABLE_UNMAP => {
            ops::unmap_page_table(slot, &mut KernelMachine(k))?;
            Ok(NO_WORDS)
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}

/// Invokes the capability in `slot` to the frame at `base` (2 MiB when
/// `large`) with `label`.
pub fn frame(
    k: &mut Kernel,
    slot: SlotRef,
    base: u64,
    large: bool,
    label: u64,
    cspace: Cap,
    msg: &Message,
) -> Reply {
    match label {
        label::FRAME_MAP => {
            let asid = vspace_arg(cspace, msg.word(0)?)?;
            let (vaddr, wanted) = (msg.word(1)?, Rights::from_bits_truncate(msg.word(2)? as u8));
            ops::map_frame(slot, asid, vaddr, wanted, &mut KernelMachine(k))
                .map_err(|e| missing_table(e, asid, vaddr, if large { 2 } else { 1 }))?;
            Ok(NO_WORDS)
        }
        label::FRAME_UNMAP => {
            ops::unmap_frame(slot, &mut KernelMachine(k))?;
            Ok(NO_WORDS)
        }
        label::FRAME_GET_ADDRESS => Ok([base - PHYS_OFFSET, 0, 0, 0]),
        _ => Err(Error::UnknownInvocation.into()),
    }
}

/// The ASID of the VSpace capability at `address`.
fn vspace_arg(cspace: Cap, address: u64) -> Result<Asid, Error> {
    match cnode::lookup(cspace, address)?.cap() {
        Cap::VSpace { asid, .. } => Ok(asid),
        _ => Err(Error::WrongType),
    }
}

/// `e`, with the type of the highest table missing on the way to the
/// table at `level` covering `vaddr` when `e` is `MissingPageTable`.
fn missing_table(e: Error, asid: Asid, vaddr: u64, level: u8) -> Failure {
    let detail = match e {
        Error::MissingPageTable => vspace::missing_table(asid, vaddr, level)
            .and_then(ObjectType::page_table_of_level)
            .map_or(0, |ty| ty as u64),
        _ => 0,
    };
    Failure::Refused { error: e, detail }
}
