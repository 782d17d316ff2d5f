//! UNTYPED_RETYPE: its errors, running out of memory, and one success per
//! object type.

use crate::harness::{CNODE, PAGE, SLOTS, Suite, probe};
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights, label};
use libcap::{Error, invoke};

/// Size of the child untyped objects the cases carve from memory.
pub const CHILD_UNTYPED_BITS: u64 = 16;

/// Every group of retype cases.
pub fn cases(t: &mut Suite) {
    errors(t);
    not_enough_memory(t);
    successes(t);
    several_at_once(t);
    device_memory(t);
}

fn errors(t: &mut Suite) {
    let m = t.memory;
    let dest = t.slot();
    t.expect_err(
        "retype: into a TCB instead of a CNode",
        Error::WrongType,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 1, slot::TCB, dest),
    );
    t.expect_err(
        "retype: object type 0",
        Error::InvalidArgument,
        invoke::raw(m, label::UNTYPED_RETYPE, &[0, 0, 1, CNODE, dest]),
    );
    t.expect_err(
        "retype: object type 99",
        Error::InvalidArgument,
        invoke::raw(m, label::UNTYPED_RETYPE, &[99, 0, 1, CNODE, dest]),
    );
    t.expect_err(
        "retype: a message one word short",
        Error::InvalidArgument,
        invoke::raw(
            m,
            label::UNTYPED_RETYPE,
            &[ObjectType::Endpoint as u64, 0, 1, CNODE],
        ),
    );
    t.expect_err(
        "retype: count 0",
        Error::InvalidArgument,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 0, CNODE, dest),
    );
    t.expect_err(
        "retype: into an occupied slot",
        Error::SlotOccupied,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 1, CNODE, slot::TCB),
    );
    t.expect_err(
        "retype: into a slot past the CNode",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 1, CNODE, SLOTS),
    );
    t.expect_err(
        "retype: a run of slots past the CNode's end",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 2, CNODE, SLOTS - 1),
    );
    t.expect_err(
        "retype: an untyped smaller than a page",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::Untyped, 11, 1, CNODE, dest),
    );
    t.expect_err(
        "retype: a CNode of 2^21 slots",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::CNode, 21, 1, CNODE, dest),
    );
    t.expect_err(
        "retype: a CNode of one slot, its reserved one",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::CNode, 0, 1, CNODE, dest),
    );
    t.expect_err(
        "retype: into slot 0, which is never a capability",
        Error::RangeError,
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 1, CNODE, 0),
    );
    t.expect_empty("retype: failed retypes leave the slot empty", dest);

    // Two slots, the second filled first: a retype of two objects into them
    // fails as a whole.
    let run = t.slots(2);
    if t.setup(
        "retype an endpoint",
        invoke::untyped_retype(m, ObjectType::Endpoint, 0, 1, CNODE, run + 1),
    )
    .is_some()
    {
        t.expect_err(
            "retype: a run of slots with an occupied one",
            Error::SlotOccupied,
            invoke::untyped_retype(m, ObjectType::Endpoint, 0, 2, CNODE, run),
        );
        t.expect_empty("retype: a failed run creates nothing", run);
    }
}

/// Untyped memory to fill up: the smallest non-device untyped from the
/// boot info when it holds at most 256 frames, else a child untyped.
fn small_untyped(t: &mut Suite) -> Option<(u64, u64)> {
    let bi = t.boot;
    let smallest = bi.untyped[..bi.untyped_count as usize]
        .iter()
        .enumerate()
        .map(|(i, u)| (slot::FIRST_UNTYPED + i as u64, u))
        .filter(|(s, u)| u.is_device == 0 && *s != t.memory)
        .min_by_key(|(_, u)| u.size_bits);
    match smallest {
        Some((s, u)) if u.size_bits <= 20 => Some((s, u64::from(u.size_bits))),
        _ => t
            .object(ObjectType::Untyped, CHILD_UNTYPED_BITS)
            .map(|s| (s, CHILD_UNTYPED_BITS)),
    }
}

fn not_enough_memory(t: &mut Suite) {
    let Some((untyped, bits)) = small_untyped(t) else {
        return;
    };
    let fits = if bits < 12 { 0 } else { 1u64 << (bits - 12) };
    let dest = t.slots(fits + 1);
    t.expect_err(
        "retype: more frames than the untyped holds",
        Error::NotEnoughMemory,
        invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, fits + 1, CNODE, dest),
    );
    t.expect_empty("retype: running out of memory creates nothing", dest);
    if fits == 0 {
        return;
    }
    t.expect_ok(
        "retype: exactly as many frames as the untyped holds",
        invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, fits, CNODE, dest),
    );
    t.expect_err(
        "retype: a full untyped has no room for one more frame",
        Error::NotEnoughMemory,
        invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, 1, CNODE, dest + fits),
    );
}

/// Retypes one `ty` from memory and checks that the slot then holds a
/// capability; returns the slot.
fn made(t: &mut Suite, name: &str, ty: ObjectType, size_bits: u64) -> Option<u64> {
    let dest = t.slot();
    let r = invoke::untyped_retype(t.memory, ty, size_bits, 1, CNODE, dest);
    let p = probe(dest);
    let ok = r.is_ok() && p.is_ok();
    t.check(
        name,
        ok,
        format_args!("Ok, then a filled slot"),
        format_args!("{r:?}, then a probe answering {p:?}"),
    );
    ok.then_some(dest)
}

fn successes(t: &mut Suite) {
    made(t, "retype: an endpoint", ObjectType::Endpoint, 0);
    made(t, "retype: a notification", ObjectType::Notification, 0);
    made(t, "retype: a page table", ObjectType::PageTable, 0);
    made(t, "retype: a page directory", ObjectType::PageDirectory, 0);
    made(t, "retype: a PDPT", ObjectType::Pdpt, 0);
    made(t, "retype: a VSpace", ObjectType::VSpace, 0);
    if let Some(tcb) = made(t, "retype: a TCB", ObjectType::Tcb, 0) {
        t.expect_ok(
            "retype: the new TCB answers TCB_READ_REGISTERS",
            invoke::tcb_read_registers(tcb),
        );
    }
    if let Some(frame) = made(t, "retype: a 4 KiB frame", ObjectType::Frame4K, 0) {
        let a = invoke::frame_get_address(frame);
        t.check(
            "retype: the frame's address is page aligned and not 0",
            matches!(a, Ok(a) if a != 0 && a % PAGE == 0),
            format_args!("a nonzero multiple of 4096"),
            format_args!("{a:x?}"),
        );
    }
    if let Some(frame) = made(t, "retype: a 2 MiB frame", ObjectType::Frame2M, 0) {
        let a = invoke::frame_get_address(frame);
        t.check(
            "retype: the 2 MiB frame's address is 2 MiB aligned",
            matches!(a, Ok(a) if a != 0 && a % (512 * PAGE) == 0),
            format_args!("a nonzero multiple of 2 MiB"),
            format_args!("{a:x?}"),
        );
    }
    if let Some(cnode) = made(t, "retype: a CNode of 16 slots", ObjectType::CNode, 4)
        && let Some(ep) = t.object(ObjectType::Endpoint, 0)
    {
        t.expect_ok(
            "retype: the new CNode takes a copy in slot 15",
            invoke::cnode_copy(cnode, 15, CNODE, ep, Rights::all()),
        );
        t.expect_err(
            "retype: the new CNode has no slot 16",
            Error::RangeError,
            invoke::cnode_copy(cnode, 16, CNODE, ep, Rights::all()),
        );
    }
    if let Some(child) = made(
        t,
        "retype: a 64 KiB child untyped",
        ObjectType::Untyped,
        CHILD_UNTYPED_BITS,
    ) {
        let dest = t.slot();
        t.expect_ok(
            "retype: an endpoint from the child untyped",
            invoke::untyped_retype(child, ObjectType::Endpoint, 0, 1, CNODE, dest),
        );
    }
}

fn several_at_once(t: &mut Suite) {
    let first = t.slots(4);
    if t.expect_ok(
        "retype: 4 frames at once",
        invoke::untyped_retype(t.memory, ObjectType::Frame4K, 0, 4, CNODE, first),
    )
    .is_none()
    {
        return;
    }
    let mut addresses = [0u64; 4];
    for (i, a) in addresses.iter_mut().enumerate() {
        *a = invoke::frame_get_address(first + i as u64).unwrap_or(0);
    }
    let distinct = addresses
        .iter()
        .enumerate()
        .all(|(i, a)| *a != 0 && a % PAGE == 0 && !addresses[..i].contains(a));
    t.check(
        "retype: 4 frames at once fill 4 slots with distinct pages",
        distinct,
        format_args!("4 distinct nonzero page addresses"),
        format_args!("{addresses:x?}"),
    );
}

/// Device memory (MMIO) becomes frames and nothing else. Skipped when the
/// boot info lists no device untyped.
fn device_memory(t: &mut Suite) {
    let bi = t.boot;
    let Some(i) = bi.untyped[..bi.untyped_count as usize]
        .iter()
        .position(|u| u.is_device != 0)
    else {
        return;
    };
    let device = slot::FIRST_UNTYPED + i as u64;
    let dest = t.slot();
    t.expect_err(
        "retype: device memory does not become a TCB",
        Error::InvalidArgument,
        invoke::untyped_retype(device, ObjectType::Tcb, 0, 1, CNODE, dest),
    );
    t.expect_ok(
        "retype: device memory becomes a frame",
        invoke::untyped_retype(device, ObjectType::Frame4K, 0, 1, CNODE, dest),
    );
}
