//! Capability operations: retype, copy, mint, move, mutate, delete, revoke,
//! and the mapping of frames and page tables into address spaces.
//!
//! Deleting the last capability to an object destroys it. Destroying a
//! CNode or a TCB empties its slots, which can destroy more objects; rather
//! than recurse (a user can chain CNodes arbitrarily deep), dying slot
//! regions are queued through their headers and emptied one slot at a time.

use super::cap::{Asid, Cap, Mapping};
use super::cnode::{RegionHeader, cnode_size_bits, index_slot};
use super::objects::{ENDPOINT_BITS, TCB_BITS, object_size_bits};
use super::objref::{EndpointRef, NotificationRef, ObjRef, TcbRef};
use super::slot::{Slot, SlotRef};
use super::tcb::{Tcb, tcb_slot};
use crate::memory::{PAGE_SIZE, USER_MAP_TOP, USER_TOP};
use basalt_abi::{Error, ObjectType, Rights};

/// What the object model needs from the machine: address spaces, mappings,
/// interrupts and the scheduler. The kernel implements it over the real
/// hardware; host tests implement it with a recorder.
pub trait Machine {
    /// Prepares the page at `base` as a new address space and returns its
    /// ASID, or `None` when every ASID is taken.
    fn create_vspace(&mut self, base: u64) -> Option<Asid>;
    /// The address space is gone: its ASID becomes free.
    fn destroy_vspace(&mut self, asid: Asid, base: u64);
    /// Installs the frame at `base` (2 MiB when `large`) at `vaddr` in the
    /// address space `asid` with `rights` (already checked: READ, not both
    /// WRITE and EXECUTE; `vaddr` aligned and below `USER_MAP_TOP`).
    /// Fails with `MissingPageTable` where a table on the way is missing,
    /// `AlreadyMapped` where the entry is in use, `InvalidCapability`
    /// where the ASID names no address space.
    fn map_frame(
        &mut self,
        asid: Asid,
        vaddr: u64,
        base: u64,
        large: bool,
        device: bool,
        rights: Rights,
    ) -> Result<(), Error>;
    /// Removes the mapping of the frame at `base` (if it is still the one
    /// mapped there).
    fn unmap_frame(&mut self, mapping: Mapping, base: u64, large: bool);
    /// Installs the table at `base`, of `level` (1-3), in the entry of the
    /// level-above table that covers `vaddr` (below `USER_TOP`) in the
    /// address space `asid`, and returns the first address the table
    /// covers. Fails like [`Machine::map_frame`].
    fn map_page_table(
        &mut self,
        asid: Asid,
        level: u8,
        vaddr: u64,
        base: u64,
    ) -> Result<u64, Error>;
    /// Removes the page table at `base` from its parent table (if it is
    /// still the one there).
    fn unmap_page_table(&mut self, mapping: Mapping, level: u8, base: u64);
    /// Empties the table at `base`: it has just been unmapped, and must
    /// not carry its entries to wherever it is mapped next.
    fn clear_page_table(&mut self, base: u64);
    /// The IRQ's handler capability is gone: mask and free the line.
    fn release_irq(&mut self, irq: u8);
    /// The thread is going away: take it off every queue.
    fn forget_thread(&mut self, tcb: TcbRef);
    /// The endpoint is going away: wake the threads waiting on it.
    fn destroy_endpoint(&mut self, ep: EndpointRef);
    /// The notification is going away: wake its waiters, unbind its thread.
    fn destroy_notification(&mut self, ntfn: NotificationRef);
    /// A reply capability was deleted unanswered: `caller`, which waits
    /// for that reply, must not wait forever.
    fn drop_reply(&mut self, caller: TcbRef);
    /// Moves the thread to `priority`, keeping its place in the scheduler.
    fn set_priority(&mut self, tcb: TcbRef, priority: u8);
    /// Makes an inactive thread runnable (a blocked one stays blocked).
    fn resume(&mut self, tcb: TcbRef);
    /// Stops the thread, wherever it is in IPC, until it is resumed.
    fn suspend(&mut self, tcb: TcbRef);
    /// A preemption point of a long operation (revoke, the deletion of
    /// untyped memory, retype): whether to stop here, because something
    /// more urgent than the caller is waiting. The operation has recorded
    /// its progress; the caller repeats it to go on.
    fn preempt(&mut self) -> bool;
}

/// How far a long operation got: all the way, or to a preemption point
/// (called again with the same arguments, it goes on from there).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[must_use]
pub enum Progress {
    Done,
    Preempted,
}

/// Capabilities deleted between two preemption points (fewer in the host
/// tests, whose machine stops at every other one).
const DELETIONS_PER_PREEMPTION_POINT: u32 = if cfg!(test) { 2 } else { 64 };
/// Bytes zeroed between two preemption points.
const ZEROED_PER_PREEMPTION_POINT: u64 = if cfg!(test) { 4096 } else { 64 << 10 };

/// Cleans up after the final capability to an object is gone. Returns the
/// object's slot region if it has one that must be emptied.
///
/// The object itself is still there: nothing is made from untyped memory
/// while a deletion runs, so its memory is not reused before this
/// returns. So the references made below are to live objects, and the
/// machine clears every link to them before it returns.
fn finalize(cap: Cap, machine: &mut impl Machine) -> Option<(u64, u64, u64)> {
    match cap {
        Cap::Frame {
            base,
            large,
            mapping: Some(m),
            ..
        } => machine.unmap_frame(m, base, large),
        Cap::PageTable {
            base,
            mapping: Some(m),
            level,
        } => machine.unmap_page_table(m, level, base),
        Cap::VSpace { base, asid } => machine.destroy_vspace(asid, base),
        Cap::IrqHandler { irq } => machine.release_irq(irq),
        Cap::Endpoint { base, .. } => {
            // SAFETY: a live endpoint (see above).
            machine.destroy_endpoint(unsafe { EndpointRef::from_addr(base) })
        }
        Cap::Notification { base, .. } => {
            // SAFETY: a live notification (see above).
            machine.destroy_notification(unsafe { NotificationRef::from_addr(base) })
        }
        Cap::Reply {
            caller: Some(caller),
        } => machine.drop_reply(caller),
        Cap::CNode { base, radix, .. } => {
            // Slot 0 is the header; the capability slots follow it.
            return Some((base, base + size_of::<Slot>() as u64, (1u64 << radix) - 1));
        }
        Cap::Tcb { base } => {
            // SAFETY: a live TCB (see above).
            machine.forget_thread(unsafe { TcbRef::from_addr(base) });
            let slots = base + core::mem::offset_of!(Tcb, slots) as u64;
            return Some((base, slots, tcb_slot::COUNT as u64));
        }
        _ => {}
    }
    None
}

/// A frame's mapping dies with the capability that made it, final or not.
/// (A page table's belongs to the table: it goes with the last capability,
/// in [`finalize`].)
fn release_mapping(cap: Cap, machine: &mut impl Machine) {
    if let Cap::Frame {
        base,
        large,
        mapping: Some(m),
        ..
    } = cap
    {
        machine.unmap_frame(m, base, large);
    }
}

/// The regions of destroyed objects whose slots are still to be emptied,
/// newest first (linked through their headers).
type Dying = Option<ObjRef<RegionHeader>>;

/// Deletes the capability in `slot` and everything its deletion destroys.
/// Deleting an issuer (untyped memory, IRQ or I/O-port control) first
/// deletes everything made from it, with preemption points in between:
/// `Preempted` leaves the rest for a repeated call.
///
/// What is not preemptible is the destruction of one object: emptying the
/// slots of a CNode or TCB whose last capability went, and of whatever
/// their deletion destroys in turn. That work is bounded by the
/// capabilities only those objects held, which their holder paid for in
/// untyped memory.
pub fn delete(slot: SlotRef, machine: &mut impl Machine) -> Progress {
    let mut dying: Dying = None;
    let mut cursor = slot;
    let mut steps: u32 = 0;
    loop {
        let done = remove(slot, &mut cursor, machine, &mut dying);
        drain(machine, &mut dying);
        if done || slot.is_empty() {
            return Progress::Done;
        }
        steps += 1;
        if steps.is_multiple_of(DELETIONS_PER_PREEMPTION_POINT) && machine.preempt() {
            return Progress::Preempted;
        }
    }
}

/// One step of deleting `slot`: an issuer with children loses one leaf of
/// its subtree (returns false: call again, with the same `cursor`);
/// anything else is deleted (returns true).
fn remove(
    slot: SlotRef,
    cursor: &mut SlotRef,
    machine: &mut impl Machine,
    dying: &mut Dying,
) -> bool {
    if slot.cap().is_issuer() && delete_leaf(slot, cursor, machine, dying) {
        return false;
    }
    delete_one(slot, machine, dying);
    true
}

/// One step of emptying the subtree under `root` in post-order: deletes a
/// capability with no children, found by walking down first children from
/// `cursor`, and leaves `cursor` at that capability's parent, where the
/// next step goes on. False when `root` has no children left.
///
/// Each step walks down from where the last one deleted, so emptying a
/// subtree of n capabilities costs O(n) steps in all (not O(n) each, as
/// walking down from `root` every time would in a deep chain of copies).
/// The cursor's slot stays in `root`'s subtree while it holds a capability:
/// a deleted capability's place goes to its first child, and nothing is
/// ever installed in a slot during a deletion. When the cursor's slot was
/// emptied (a deletion destroyed a CNode that held it), the walk starts
/// from `root` again; each such restart is paid for by that CNode's
/// destruction.
fn delete_leaf(
    root: SlotRef,
    cursor: &mut SlotRef,
    machine: &mut impl Machine,
    dying: &mut Dying,
) -> bool {
    if cursor.is_empty() {
        *cursor = root;
    }
    let mut node = *cursor;
    while let Some(child) = node.first_child() {
        node = child;
    }
    if node == root {
        return false;
    }
    *cursor = node.parent().unwrap_or(root);
    delete_one(node, machine, dying);
    true
}

/// Empties the queued slot regions of destroyed objects, newest first.
fn drain(machine: &mut impl Machine, dying: &mut Dying) {
    while let Some(h) = *dying {
        let (slots, count, next, at) =
            h.with(|h| (h.dying_slots, h.dying_count, h.dying_next, h.dying_cursor));
        if count == 0 {
            *dying = next;
            continue;
        }
        // SAFETY: `slots` points at one of the region's remaining slots.
        let s = unsafe { SlotRef::new(slots as *mut Slot) };
        let mut cursor = at.unwrap_or(s);
        let finished = s.is_empty() || remove(s, &mut cursor, machine, dying);
        // `h` is still this region's header even if `remove` queued newer
        // regions in front of it.
        h.with(|h| {
            if finished {
                h.dying_slots = slots + size_of::<Slot>() as u64;
                h.dying_count = count - 1;
                h.dying_cursor = None;
            } else {
                h.dying_cursor = Some(cursor);
            }
        });
    }
}

fn delete_one(slot: SlotRef, machine: &mut impl Machine, dying: &mut Dying) {
    let (cap, was_final) = slot.take();
    if !was_final {
        release_mapping(cap, machine);
        return;
    }
    if let Some((base, slots, count)) = finalize(cap, machine) {
        // SAFETY: a CNode or TCB starts with its header (a CNode's slot 0,
        // a TCB's first field). The object just lost its last capability,
        // so the header is ours for the dying list, and its memory stays
        // as it is until `drain` has emptied its slots: nothing is made
        // from untyped memory during a deletion, which drains the list
        // before it returns.
        let h = unsafe { ObjRef::<RegionHeader>::from_addr(base) };
        h.with(|h| {
            *h = RegionHeader {
                dying_next: *dying,
                dying_slots: slots,
                dying_count: count,
                dying_cursor: None,
            }
        });
        *dying = Some(h);
    }
}

/// Deletes every capability derived from the one in `slot`, with
/// preemption points in between (see [`delete`]).
pub fn revoke(slot: SlotRef, machine: &mut impl Machine) -> Progress {
    let original = slot.cap();
    let mut cursor = slot;
    let mut steps: u32 = 0;
    // Deleting descendants can destroy the CNode holding `slot` itself;
    // stop as soon as the slot no longer holds what it held.
    while slot.cap() == original {
        let mut dying: Dying = None;
        let more = delete_leaf(slot, &mut cursor, machine, &mut dying);
        drain(machine, &mut dying);
        if !more {
            break;
        }
        steps += 1;
        if steps.is_multiple_of(DELETIONS_PER_PREEMPTION_POINT) && machine.preempt() {
            return Progress::Preempted;
        }
    }
    Progress::Done
}

/// Copies the capability in `src` to the empty slot `dest` with rights
/// reduced to `rights`.
pub fn copy(src: SlotRef, dest: SlotRef, rights: Rights) -> Result<(), Error> {
    let cap = derive(src, dest)?;
    dest.install_child(cap.with_rights_masked(rights).fresh_copy(), src);
    Ok(())
}

/// Like [`copy`], also setting the badge of an endpoint or notification
/// (which must not have one yet) or the guard of a CNode (`value` holds
/// the guard in its low bits, the guard size in bits 58-63).
pub fn mint(src: SlotRef, dest: SlotRef, rights: Rights, value: u64) -> Result<(), Error> {
    let cap = derive(src, dest)?.with_rights_masked(rights).fresh_copy();
    let cap = with_badge_or_guard(cap, value)?;
    dest.install_child(cap, src);
    Ok(())
}

/// Moves the capability in `src` to the empty slot `dest`.
pub fn move_cap(src: SlotRef, dest: SlotRef) -> Result<(), Error> {
    check_move(src, dest)?;
    src.move_to(dest, src.cap());
    Ok(())
}

/// Moves and changes the badge or guard in one step (seL4's mutate).
pub fn mutate(src: SlotRef, dest: SlotRef, value: u64) -> Result<(), Error> {
    check_move(src, dest)?;
    let cap = with_badge_or_guard(src.cap(), value)?;
    src.move_to(dest, cap);
    Ok(())
}

fn check_slots(src: SlotRef, dest: SlotRef) -> Result<(), Error> {
    if src.is_empty() {
        return Err(Error::InvalidCapability);
    }
    if !dest.is_empty() {
        return Err(Error::SlotOccupied);
    }
    Ok(())
}

fn check_move(src: SlotRef, dest: SlotRef) -> Result<(), Error> {
    check_slots(src, dest)?;
    if src.cap().is_pinned() {
        return Err(Error::IllegalOperation);
    }
    Ok(())
}

fn derive(src: SlotRef, dest: SlotRef) -> Result<Cap, Error> {
    check_slots(src, dest)?;
    let cap = src.cap();
    if cap.is_issuer() || cap.is_pinned() {
        return Err(Error::NotCopyable);
    }
    // A copy of an unmapped table's capability could map the table a
    // second time (into itself, even); a mapped table's copies share its
    // one mapping, and unmapping needs the last capability.
    if let Cap::PageTable { mapping: None, .. } = cap {
        return Err(Error::IllegalOperation);
    }
    Ok(cap)
}

/// Guard size field of a CNode mint/mutate value.
const GUARD_BITS_SHIFT: u32 = 58;

fn with_badge_or_guard(mut cap: Cap, value: u64) -> Result<Cap, Error> {
    match &mut cap {
        Cap::Endpoint { badge, .. } | Cap::Notification { badge, .. } => {
            if *badge != 0 {
                return Err(Error::IllegalOperation);
            }
            *badge = value;
        }
        Cap::CNode {
            radix,
            guard,
            guard_bits,
            ..
        } => {
            let bits = (value >> GUARD_BITS_SHIFT) as u8;
            let g = value & ((1 << GUARD_BITS_SHIFT) - 1);
            if u32::from(bits) + u32::from(*radix) > 64 || (bits < 58 && g >> bits != 0) {
                return Err(Error::RangeError);
            }
            *guard = g;
            *guard_bits = bits;
        }
        _ if value != 0 => return Err(Error::IllegalOperation),
        _ => {}
    }
    Ok(cap)
}

/// Carves `count` objects of `ty` out of the untyped in `untyped` and puts
/// capabilities to them in slots `dest_index..` of the CNode `dest`.
///
/// The objects' memory is zeroed first, with a preemption point every
/// [`ZEROED_PER_PREEMPTION_POINT`] bytes: `Preempted` records how far the
/// zeroes go in the untyped's capability and makes nothing yet, and the
/// same call repeated goes on from there. Only then are the objects made,
/// all of them or none. Untyped memory is not zeroed when it is split (the
/// objects made from the part do that), and device memory never is.
pub fn retype(
    untyped: SlotRef,
    ty: ObjectType,
    size_bits: u64,
    count: u64,
    dest: Cap,
    dest_index: u64,
    machine: &mut impl Machine,
) -> Result<Progress, Error> {
    let Cap::Untyped {
        base,
        size_bits: ut_bits,
        device,
        watermark,
        zeroed,
    } = untyped.cap()
    else {
        return Err(Error::WrongType);
    };
    if device
        && !matches!(
            ty,
            ObjectType::Frame4K | ObjectType::Frame2M | ObjectType::Untyped
        )
    {
        return Err(Error::InvalidArgument);
    }
    let obj_bits = object_size_bits(ty, size_bits)?;
    if count == 0 || count > 1 << 16 {
        return Err(Error::InvalidArgument);
    }
    let Cap::CNode { radix, .. } = dest else {
        return Err(Error::WrongType);
    };
    if dest_index == 0
        || dest_index
            .checked_add(count)
            .is_none_or(|end| end > 1 << radix)
    {
        return Err(Error::RangeError);
    }
    for i in 0..count {
        if !index_slot(dest, dest_index + i)?.is_empty() {
            return Err(Error::SlotOccupied);
        }
    }
    // Memory is reusable once everything made from it is gone; what was
    // handed out may hold anything by then. (A watermark still at 0 means
    // nothing was made since, so the zeroes recorded are still there.)
    let (watermark, zeroed) = match (untyped.first_child(), watermark) {
        (None, w) if w > 0 => (0, 0),
        _ => (watermark, zeroed),
    };
    let size = 1u64 << obj_bits;
    let start = watermark.next_multiple_of(size);
    let end = count.checked_mul(size).and_then(|b| b.checked_add(start));
    let Some(end) = end.filter(|&e| e <= 1 << ut_bits) else {
        return Err(Error::NotEnoughMemory);
    };
    let record = |watermark, zeroed| {
        untyped.update_cap(Cap::Untyped {
            base,
            size_bits: ut_bits,
            device,
            watermark,
            zeroed,
        })
    };

    let mut clean = zeroed.max(watermark);
    if !device && ty != ObjectType::Untyped {
        while clean < end {
            let chunk = (end - clean).min(ZEROED_PER_PREEMPTION_POINT);
            // SAFETY: `[clean, clean + chunk)` lies inside the untyped
            // region, past its watermark, so no live object uses it.
            unsafe { crate::memory::zero((base + clean) as *mut u8, chunk as usize) };
            clean += chunk;
            if clean < end && machine.preempt() {
                record(watermark, clean);
                return Ok(Progress::Preempted);
            }
        }
    }

    for i in 0..count {
        let obj = base + start + i * size;
        let cap = match new_object(ty, obj, obj_bits, size_bits, device, machine) {
            Ok(cap) => cap,
            Err(e) => {
                // Objects made so far stay valid; record them.
                record(start + i * size, clean);
                return Err(e);
            }
        };
        index_slot(dest, dest_index + i)?.install_child(cap, untyped);
    }
    record(end, clean);
    Ok(Progress::Done)
}

fn new_object(
    ty: ObjectType,
    base: u64,
    obj_bits: u8,
    size_bits: u64,
    device: bool,
    machine: &mut impl Machine,
) -> Result<Cap, Error> {
    Ok(match ty {
        ObjectType::Untyped => Cap::Untyped {
            base,
            size_bits: obj_bits,
            device,
            watermark: 0,
            zeroed: 0,
        },
        ObjectType::Endpoint => Cap::Endpoint {
            base,
            badge: 0,
            rights: Rights::all(),
        },
        ObjectType::Notification => Cap::Notification {
            base,
            badge: 0,
            rights: Rights::all(),
        },
        ObjectType::CNode => {
            let radix = size_bits as u8;
            debug_assert_eq!(cnode_size_bits(radix), obj_bits);
            Cap::CNode {
                base,
                radix,
                guard: 0,
                guard_bits: 0,
            }
        }
        ObjectType::Tcb => {
            // SAFETY: the memory was just zeroed and belongs to this object.
            unsafe { (base as *mut Tcb).write(Tcb::new()) };
            Cap::Tcb { base }
        }
        ObjectType::Frame4K | ObjectType::Frame2M => Cap::Frame {
            base,
            large: ty == ObjectType::Frame2M,
            device,
            rights: Rights::READ | Rights::WRITE | Rights::EXECUTE,
            mapping: None,
        },
        ObjectType::PageTable | ObjectType::PageDirectory | ObjectType::Pdpt => Cap::PageTable {
            base,
            mapping: None,
            level: ty.page_table_level().expect("a paging-structure type"),
        },
        ObjectType::VSpace => {
            let asid = machine.create_vspace(base).ok_or(Error::NotEnoughMemory)?;
            Cap::VSpace { base, asid }
        }
    })
}

/// Maps the frame in `frame` at `vaddr` of the address space `asid` with
/// `wanted` rights, which the capability must have, and records where.
pub fn map_frame(
    frame: SlotRef,
    asid: Asid,
    vaddr: u64,
    wanted: Rights,
    machine: &mut impl Machine,
) -> Result<(), Error> {
    let cap @ Cap::Frame {
        base,
        large,
        device,
        rights,
        mapping,
    } = frame.cap()
    else {
        return Err(Error::WrongType);
    };
    if mapping.is_some() {
        return Err(Error::AlreadyMapped);
    }
    if !rights.contains(wanted) {
        return Err(Error::MissingRight);
    }
    if wanted.contains(Rights::WRITE | Rights::EXECUTE) || !wanted.contains(Rights::READ) {
        return Err(Error::InvalidArgument);
    }
    let size = if large { 2 << 20 } else { PAGE_SIZE };
    if !vaddr.is_multiple_of(size) {
        return Err(Error::AlignmentError);
    }
    if vaddr.checked_add(size).is_none_or(|end| end > USER_MAP_TOP) {
        return Err(Error::InvalidUserAddress);
    }
    machine.map_frame(asid, vaddr, base, large, device, wanted)?;
    frame.update_cap(cap.with_mapping(Some(Mapping::new(asid, vaddr))));
    Ok(())
}

/// Unmaps the frame in `frame`, if its capability mapped it.
pub fn unmap_frame(frame: SlotRef, machine: &mut impl Machine) -> Result<(), Error> {
    let cap @ Cap::Frame { .. } = frame.cap() else {
        return Err(Error::WrongType);
    };
    release_mapping(cap, machine);
    frame.update_cap(cap.with_mapping(None));
    Ok(())
}

/// Maps the page table in `table` into the address space `asid` where it
/// covers `vaddr`, and records where (for every capability to it: only a
/// mapped table's capability can be copied).
pub fn map_page_table(
    table: SlotRef,
    asid: Asid,
    vaddr: u64,
    machine: &mut impl Machine,
) -> Result<(), Error> {
    let cap @ Cap::PageTable {
        base,
        mapping,
        level,
    } = table.cap()
    else {
        return Err(Error::WrongType);
    };
    if mapping.is_some() {
        return Err(Error::AlreadyMapped);
    }
    if vaddr >= USER_TOP {
        return Err(Error::InvalidUserAddress);
    }
    let covered = machine.map_page_table(asid, level, vaddr, base)?;
    table.update_cap(cap.with_mapping(Some(Mapping::new(asid, covered))));
    Ok(())
}

/// Unmaps the page table in `table` and clears it. Only the last
/// capability to it may: otherwise a copy would still say where the
/// table is mapped.
pub fn unmap_page_table(table: SlotRef, machine: &mut impl Machine) -> Result<(), Error> {
    let cap @ Cap::PageTable {
        base,
        mapping,
        level,
    } = table.cap()
    else {
        return Err(Error::WrongType);
    };
    let Some(m) = mapping else {
        return Ok(());
    };
    if !table.is_final() {
        return Err(Error::RevokeFirst);
    }
    machine.unmap_page_table(m, level, base);
    machine.clear_page_table(base);
    table.update_cap(cap.with_mapping(None));
    Ok(())
}

/// Sizes for the tests and the boot code.
pub const fn endpoint_bytes() -> u64 {
    1 << ENDPOINT_BITS
}

/// Bytes of a TCB object.
pub const fn tcb_bytes() -> u64 {
    1 << TCB_BITS
}
