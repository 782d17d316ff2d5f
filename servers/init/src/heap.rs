//! Init's heap: one 2 MiB frame mapped into its own address space, handed
//! to `talc`.

use crate::space::Space;
use basalt_abi::ObjectType;
use libcap::{Error, Frame};
use talc::DefaultBinning;
use talc::source::Manual;
use talc::sync::TalcLock;

/// Where init's heap lives.
const HEAP_ADDR: u64 = 0x3000_0000_0000;
const HEAP_BYTES: u64 = 2 << 20;

#[global_allocator]
static HEAP: TalcLock<spin::Mutex<()>, Manual, DefaultBinning> = TalcLock::new(Manual);

/// Maps the heap and gives it to the allocator.
pub fn init(space: &mut Space) -> Result<(), Error> {
    // A 2 MiB frame: `Frame` names frames of either size.
    let frame = Frame::from_raw(space.global_object(ObjectType::Frame2M, 0)?);
    space.map_into_self(frame, HEAP_ADDR)?;
    // SAFETY: the range is mapped read-write, belongs to nothing else, and
    // is claimed once.
    unsafe { HEAP.lock().claim(HEAP_ADDR as *mut u8, HEAP_BYTES as usize) };
    Ok(())
}
