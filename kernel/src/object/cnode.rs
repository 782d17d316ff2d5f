//! CNodes and capability-address resolution.
//!
//! A CNode is `2^radix` slots. Its first slot is not a capability slot: it
//! holds the object's bookkeeping (see [`RegionHeader`]). A CSpace is a tree
//! of CNodes reached from a thread's root CNode capability; a capability
//! address is resolved like a path, seL4 style: each CNode on the way
//! consumes its guard bits (which must match its guard) and then `radix`
//! bits of index, from the most significant end of the 64-bit address, until
//! the bits are used up or a slot holds something other than a CNode.

use super::cap::Cap;
use super::slot::{SLOT_BITS, Slot, SlotRef};
use basalt_abi::Error;

/// Address bits a capability address carries.
pub const ADDRESS_BITS: u32 = 64;
/// Limits on CNode size (`2^radix` slots).
pub const MIN_RADIX: u8 = 1;
pub const MAX_RADIX: u8 = 20;

/// Bookkeeping kept in the first slot of a CNode (and at the start of a
/// TCB): the list of slot regions being emptied after their object died.
#[repr(C, align(64))]
pub struct RegionHeader {
    pub dying_next: u64,
    pub dying_slots: u64,
    pub dying_count: u64,
    /// Where emptying the subtree of the issuer in the current slot goes
    /// on from (0: that slot itself; see `ops::delete_leaf`).
    pub dying_cursor: u64,
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
pub fn resolve(root: Cap, address: u64) -> Result<SlotRef, Error> {
    let mut cnode = root;
    let mut remaining = ADDRESS_BITS;
    loop {
        let Cap::CNode {
            base,
            radix,
            guard,
            guard_bits,
        } = cnode
        else {
            return Err(Error::InvalidCapability);
        };
        let (radix, guard_bits) = (u32::from(radix), u32::from(guard_bits));
        if radix + guard_bits > remaining {
            return Err(Error::InvalidCapability);
        }
        let bits = |count: u32, shift: u32| {
            if count == 0 {
                0
            } else {
                (address >> shift) & (u64::MAX >> (64 - count))
            }
        };
        if bits(guard_bits, remaining - guard_bits) != guard {
            return Err(Error::InvalidCapability);
        }
        remaining -= guard_bits + radix;
        let index = bits(radix, remaining);
        if index == 0 {
            return Err(Error::InvalidCapability);
        }
        // SAFETY: `index < 2^radix`, the CNode's slot count.
        let slot = unsafe { slot_at(base, index) };
        let cap = slot.cap();
        if remaining == 0 || !matches!(cap, Cap::CNode { .. }) {
            return Ok(slot);
        }
        cnode = cap;
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
