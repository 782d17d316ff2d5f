//! CNodes and capability-address resolution.
//!
//! A CNode is `2^radix` slots. Its first slot is not a capability slot: it
//! holds the object's bookkeeping (see [`RegionHeader`]). A CSpace is a tree
//! of CNodes reached from a thread's root CNode capability; a capability
//! address is resolved like a path, seL4 style: each CNode on the way
//! consumes its guard bits (which must match its guard) and then `radix`
//! bits of index, from the most significant end of the 64-bit address, until
//! the bits are used up or a slot holds something other than a CNode.
//!
//! A CNode's invocations move capabilities between its slots; the
//! operations themselves are in [`super::ops`].

use super::cap::Cap;
use super::invocation::{Message, NO_WORDS, Reply};
use super::objref::ObjRef;
use super::ops::{self, Machine};
use super::slot::{SLOT_BITS, Slot, SlotRef};
use basalt_abi::{Error, Rights, label};

/// Address bits a capability address carries.
pub const ADDRESS_BITS: u32 = 64;
/// Limits on CNode size (`2^radix` slots).
pub const MIN_RADIX: u8 = 1;
pub const MAX_RADIX: u8 = 20;

/// Bookkeeping kept in the first slot of a CNode (and at the start of a
/// TCB): the list of slot regions being emptied after their object died.
/// All zeroes (a new CNode's memory) is a header on no list.
#[repr(C, align(64))]
pub struct RegionHeader {
    /// The region queued before this one.
    pub dying_next: Option<ObjRef<RegionHeader>>,
    /// The next slot to empty (its address), and how many are left.
    pub dying_slots: u64,
    pub dying_count: u64,
    /// Where emptying the subtree of the issuer in the current slot goes
    /// on from (`None`: that slot itself; see `ops::delete_leaf`).
    pub dying_cursor: Option<SlotRef>,
}

impl RegionHeader {
    pub const NONE: RegionHeader = RegionHeader {
        dying_next: None,
        dying_slots: 0,
        dying_count: 0,
        dying_cursor: None,
    };
}

const _: () = assert!(size_of::<RegionHeader>() <= size_of::<Slot>());

/// Bytes of a CNode with `2^radix` slots.
pub const fn cnode_size_bits(radix: u8) -> u8 {
    radix + SLOT_BITS
}

/// Slot `index` of the CNode at `base`.
///
/// # Safety
/// `base` must be a live CNode object of more than `index` slots.
pub unsafe fn slot_at(base: u64, index: u64) -> SlotRef {
    // SAFETY: upheld by the caller.
    unsafe { SlotRef::new((base + (index << SLOT_BITS)) as *mut Slot) }
}

/// A CNode capability and the slot index within it, checked.
pub fn index_slot(cnode: Cap, index: u64) -> Result<SlotRef, Error> {
    let Cap::CNode { base, radix, .. } = cnode else {
        return Err(Error::WrongType);
    };
    if index == 0 || index >> radix != 0 {
        return Err(Error::RangeError);
    }
    // SAFETY: a CNode capability names a live CNode, and `index` is below
    // its slot count.
    Ok(unsafe { slot_at(base, index) })
}

/// Resolves `address` in the CSpace rooted at `root` to a slot.
///
/// Every system call that names a capability comes here, the IPC fast
/// paths included, so the common case costs little: a level is one shift
/// and two masks of the address, and the next slot's capability is read
/// only when address bits are left for a further level.
pub fn resolve(root: Cap, address: u64) -> Result<SlotRef, Error> {
    let Cap::CNode {
        mut base,
        mut radix,
        mut guard,
        mut guard_bits,
    } = root
    else {
        return Err(Error::InvalidCapability);
    };
    let mut remaining = ADDRESS_BITS;
    loop {
        let (radix_bits, level_bits) = (u32::from(radix), u32::from(radix) + u32::from(guard_bits));
        // This level takes the address bits `[left, remaining)`: the guard
        // above, the slot index below. From here on `1 <= radix_bits <=
        // level_bits <= 64` and `left <= 63`: every shift is in range.
        let Some(left) = remaining.checked_sub(level_bits) else {
            return Err(Error::InvalidCapability);
        };
        if radix_bits == 0 {
            return Err(Error::InvalidCapability);
        }
        let level = (address >> left) & (u64::MAX >> (64 - level_bits));
        if (level >> 1) >> (radix_bits - 1) != guard {
            return Err(Error::InvalidCapability);
        }
        let index = level & (u64::MAX >> (64 - radix_bits));
        if index == 0 {
            return Err(Error::InvalidCapability);
        }
        // SAFETY: `index < 2^radix`, the CNode's slot count.
        let slot = unsafe { slot_at(base, index) };
        if left == 0 {
            return Ok(slot);
        }
        let Cap::CNode {
            base: b,
            radix: r,
            guard: g,
            guard_bits: gb,
        } = slot.cap()
        else {
            return Ok(slot);
        };
        (base, radix, guard, guard_bits, remaining) = (b, r, g, gb, left);
    }
}

/// Resolves `address` to a non-empty slot.
pub fn lookup(root: Cap, address: u64) -> Result<SlotRef, Error> {
    let slot = resolve(root, address)?;
    if slot.is_empty() {
        Err(Error::InvalidCapability)
    } else {
        Ok(slot)
    }
}

/// Invokes the CNode capability `cnode` with `label`: copy, mint, move or
/// mutate a capability into one of its slots, or delete or revoke one.
pub fn invoke(
    cnode: Cap,
    label: u64,
    cspace: Cap,
    msg: &Message,
    machine: &mut impl Machine,
) -> Reply {
    let w = |i| msg.word(i);
    match label {
        label::CNODE_COPY | label::CNODE_MINT | label::CNODE_MOVE | label::CNODE_MUTATE => {
            let dest = index_slot(cnode, w(0)?)?;
            let src = index_slot(lookup(cspace, w(1)?)?.cap(), w(2)?)?;
            if src.is_empty() {
                return Err(Error::InvalidCapability.into());
            }
            match label {
                label::CNODE_COPY => ops::copy(src, dest, Rights::from_bits_truncate(w(3)? as u8))?,
                label::CNODE_MINT => {
                    ops::mint(src, dest, Rights::from_bits_truncate(w(3)? as u8), w(4)?)?
                }
                label::CNODE_MOVE => ops::move_cap(src, dest)?,
                _ => ops::mutate(src, dest, w(3)?)?,
            }
            Ok(NO_WORDS)
        }
        label::CNODE_DELETE | label::CNODE_REVOKE => {
            let target = index_slot(cnode, w(0)?)?;
            if target.is_empty() {
                return Err(Error::InvalidCapability.into());
            }
            if label == label::CNODE_DELETE {
                ops::delete(target, machine).into()
            } else {
                ops::revoke(target, machine).into()
            }
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}
