//! Capability slots and the derivation tree that links them.
//!
//! Every slot records the slot its capability was derived from (`parent`)
//! and the capabilities derived from it (`first_child`, then `next`/`prev`
//! among siblings). Revoking a slot deletes its whole subtree.
//!
//! Invariants the operations keep:
//! - children of an issuer (untyped, IRQ control, I/O-port control) are
//!   distinct objects; children of any other capability are copies of the
//!   same object;
//! - the capabilities to one object form one connected subtree, so a
//!   capability is the last one to its object exactly when its parent is
//!   not a capability to that object and it has no children
//!   ([`SlotRef::is_final`]);
//! - every capability to an object made from an untyped stays in that
//!   untyped's subtree, so revoking the untyped destroys every such object.
//!
//! Slots live in kernel objects (CNodes, TCBs) carved from untyped memory.
//! A link only ever points at a live slot: a slot is emptied (and unlinked)
//! before the object holding it is destroyed, and object memory is reused
//! only after every object in it is gone.

use super::cap::Cap;
use core::ptr::NonNull;

/// Bytes per slot (`2^SLOT_BITS`).
pub const SLOT_BITS: u8 = 6;

#[repr(C, align(64))]
pub struct Slot {
    cap: Cap,
    parent: Option<SlotRef>,
    first_child: Option<SlotRef>,
    next: Option<SlotRef>,
    prev: Option<SlotRef>,
}

const _: () = assert!(size_of::<Slot>() == 1 << SLOT_BITS);

impl Slot {
    pub const EMPTY: Slot = Slot {
        cap: Cap::Null,
        parent: None,
        first_child: None,
        next: None,
        prev: None,
    };
}

/// A reference to a slot in kernel object memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SlotRef(NonNull<Slot>);

macro_rules! field {
    ($get:ident, $set:ident, $t:ty) => {
        field!($get, $get, $set, $t);
    };
    ($field:ident, $get:ident, $set:ident, $t:ty) => {
        pub fn $get(self) -> $t {
            // SAFETY: see the module comment: a SlotRef always points at a
            // live slot; the kernel is single-threaded and no reference to
            // the slot is held across this read.
            unsafe { (*self.0.as_ptr()).$field }
        }
        fn $set(self, value: $t) {
            // SAFETY: as for the read.
            unsafe { (*self.0.as_ptr()).$field = value }
        }
    };
}

impl SlotRef {
    /// # Safety
    /// `slot` must point at a slot that stays valid while it is linked or
    /// referenced (it lives in a CNode or TCB that is not yet destroyed).
    pub unsafe fn new(slot: *mut Slot) -> Self {
        Self(NonNull::new(slot).expect("slot pointers are never null"))
    }

    pub fn addr(self) -> u64 {
        self.0.as_ptr() as u64
    }

    field!(cap, set_cap_raw, Cap);
    field!(parent, set_parent, Option<SlotRef>);
    field!(
        first_child,
        first_child_link,
        set_first_child,
        Option<SlotRef>
    );
    field!(next, set_next, Option<SlotRef>);
    field!(prev, set_prev, Option<SlotRef>);

    /// The first capability derived from this one.
    pub fn first_child(self) -> Option<SlotRef> {
        #[cfg(test)]
        tests::LINKS_FOLLOWED.with(|n| n.set(n.get() + 1));
        self.first_child_link()
    }

    pub fn is_empty(self) -> bool {
        self.cap().is_null()
    }

    /// Replaces the capability in place (same object, new rights, mapping
    /// or watermark); the slot's place in the tree is unchanged.
    pub fn update_cap(self, cap: Cap) {
        debug_assert_eq!(cap.object(), self.cap().object());
        self.set_cap_raw(cap);
    }

    /// Fills the empty slot with `cap` as a root of the tree (boot-time
    /// capabilities).
    pub fn install_root(self, cap: Cap) {
        debug_assert!(self.is_clear());
        self.set_cap_raw(cap);
    }

    /// Fills the empty slot with `cap`, derived from `parent`.
    pub fn install_child(self, cap: Cap, parent: SlotRef) {
        debug_assert!(self.is_empty() && !parent.is_empty());
        self.set_cap_raw(cap);
        self.set_parent(Some(parent));
        self.set_prev(None);
        self.set_next(parent.first_child());
        if let Some(old) = parent.first_child() {
            old.set_prev(Some(self));
        }
        parent.set_first_child(Some(self));
    }

    /// Whether this is the last capability to its object.
    pub fn is_final(self) -> bool {
        let cap = self.cap();
        if cap.is_issuer() {
            return true;
        }
        let parent_same = self
            .parent()
            .is_some_and(|p| p.cap().object() == cap.object());
        !parent_same && self.first_child().is_none()
    }

    /// A slot in this one's subtree that has no children (None if it has
    /// no children at all): deleting leaves one by one revokes a subtree
    /// without recursion.
    pub fn leaf_descendant(self) -> Option<SlotRef> {
        let mut node = self.first_child()?;
        while let Some(child) = node.first_child() {
            node = child;
        }
        Some(node)
    }

    /// Puts `new` where `old` is among its siblings (or as its parent's
    /// first child).
    fn replace_in_siblings(old: SlotRef, new: SlotRef) {
        new.set_parent(old.parent());
        new.set_prev(old.prev());
        new.set_next(old.next());
        match old.prev() {
            Some(p) => p.set_next(Some(new)),
            None => {
                if let Some(parent) = old.parent() {
                    parent.set_first_child(Some(new));
                }
            }
        }
        if let Some(n) = old.next() {
            n.set_prev(Some(new));
        }
    }

    /// Removes the slot from its sibling list.
    fn unlink_from_siblings(self) {
        match self.prev() {
            Some(p) => p.set_next(self.next()),
            None => {
                if let Some(parent) = self.parent() {
                    parent.set_first_child(self.next());
                }
            }
        }
        if let Some(n) = self.next() {
            n.set_prev(self.prev());
        }
        self.set_parent(None);
        self.set_prev(None);
        self.set_next(None);
    }

    /// Empties the slot and takes it out of the tree. A copy derived from
    /// it takes its place and adopts the other copies, so the subtree of one
    /// object stays connected. Issuers are only taken once they have no
    /// children (`ops::delete` removes those first). Returns the capability
    /// and whether it was the last one to its object.
    pub fn take(self) -> (Cap, bool) {
        let cap = self.cap();
        let was_final = self.is_final();
        debug_assert!(!(cap.is_issuer() && self.first_child().is_some()));
        match self.first_child() {
            None => self.unlink_from_siblings(),
            Some(heir) => {
                let rest = heir.next();
                heir.set_next(None);
                heir.set_prev(None);
                Self::replace_in_siblings(self, heir);
                if let Some(rest) = rest {
                    rest.set_prev(None);
                    let mut tail = rest;
                    loop {
                        tail.set_parent(Some(heir));
                        match tail.next() {
                            Some(n) => tail = n,
                            None => break,
                        }
                    }
                    if let Some(first) = heir.first_child() {
                        first.set_prev(Some(tail));
                    }
                    tail.set_next(heir.first_child());
                    heir.set_first_child(Some(rest));
                }
            }
        }
        // An empty slot has no links: a capability installed here later
        // as a root (a saved reply) would otherwise inherit this one's
        // place in the tree.
        self.set_parent(None);
        self.set_prev(None);
        self.set_next(None);
        self.set_first_child(None);
        self.set_cap_raw(Cap::Null);
        (cap, was_final)
    }

    /// Whether the slot is empty and linked to nothing, as every empty
    /// slot must be.
    pub fn is_clear(self) -> bool {
        self.is_empty()
            && self.parent().is_none()
            && self.prev().is_none()
            && self.next().is_none()
            && self.first_child_link().is_none()
    }

    /// Moves the capability and its place in the tree to the empty slot
    /// `dest`, optionally replacing the capability (mutate).
    pub fn move_to(self, dest: SlotRef, cap: Cap) {
        debug_assert!(dest.is_empty());
        dest.set_cap_raw(cap);
        Self::replace_in_siblings(self, dest);
        dest.set_first_child(self.first_child());
        let mut child = self.first_child();
        while let Some(c) = child {
            c.set_parent(Some(dest));
            child = c.next();
        }
        self.set_cap_raw(Cap::Null);
        self.set_parent(None);
        self.set_prev(None);
        self.set_next(None);
        self.set_first_child(None);
    }
}

#[cfg(test)]
pub mod tests {
    use std::cell::Cell;

    thread_local! {
        /// `first_child` links followed on this thread: the tests measure
        /// how much walking an operation does.
        pub static LINKS_FOLLOWED: Cell<u64> = const { Cell::new(0) };
    }

    /// `first_child` links followed on this thread so far.
    pub fn links_followed() -> u64 {
        LINKS_FOLLOWED.with(Cell::get)
    }
}
