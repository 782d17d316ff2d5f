//! CNode invocations: copy, mint, move, mutate, delete and revoke, on the
//! root CNode. Rights are checked where they show: in the frame cases
//! ([`crate::vspace`]).

use crate::harness::{CNODE, SLOTS, Suite};
use crate::retype::CHILD_UNTYPED_BITS;
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights};
use libcap::{Error, invoke};

/// Every group of CNode cases.
pub fn cases(t: &mut Suite) {
    copy(t);
    mint(t);
    move_and_mutate(t);
    delete(t);
    revoke(t);
}

fn copy(t: &mut Suite) {
    let dest = t.slot();
    t.expect_err(
        "copy: untyped memory is not copyable",
        Error::NotCopyable,
        invoke::cnode_copy(CNODE, dest, CNODE, t.memory, Rights::all()),
    );
    t.expect_err(
        "mint: untyped memory is not copyable",
        Error::NotCopyable,
        invoke::cnode_mint(CNODE, dest, CNODE, t.memory, Rights::all(), 1),
    );
    t.expect_err(
        "copy: IRQ control is not copyable",
        Error::NotCopyable,
        invoke::cnode_copy(CNODE, dest, CNODE, slot::IRQ_CONTROL, Rights::all()),
    );
    t.expect_err(
        "copy: I/O-port control is not copyable",
        Error::NotCopyable,
        invoke::cnode_copy(CNODE, dest, CNODE, slot::IO_PORT_CONTROL, Rights::all()),
    );
    let empty = t.slot();
    t.expect_err(
        "copy: from an empty slot",
        Error::InvalidCapability,
        invoke::cnode_copy(CNODE, dest, CNODE, empty, Rights::all()),
    );
    t.expect_err(
        "copy: the source CNode is a TCB",
        Error::WrongType,
        invoke::cnode_copy(CNODE, dest, slot::TCB, slot::VSPACE, Rights::all()),
    );
    t.expect_empty("copy: failed copies leave the slot empty", dest);

    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    t.expect_err(
        "copy: into an occupied slot",
        Error::SlotOccupied,
        invoke::cnode_copy(CNODE, slot::TCB, CNODE, frame, Rights::all()),
    );
    t.expect_err(
        "copy: into a slot past the CNode",
        Error::RangeError,
        invoke::cnode_copy(CNODE, SLOTS, CNODE, frame, Rights::all()),
    );
    if t.expect_ok(
        "copy: a frame",
        invoke::cnode_copy(CNODE, dest, CNODE, frame, Rights::all()),
    )
    .is_some()
    {
        let (a, b) = (
            invoke::frame_get_address(frame),
            invoke::frame_get_address(dest),
        );
        t.check(
            "copy: the copy names the same frame",
            a.is_ok() && a == b,
            format_args!("the source's address {a:x?}"),
            format_args!("{b:x?}"),
        );
    }

    // Through a second CNode and back.
    let Some(sub) = t.object(ObjectType::CNode, 4) else {
        return;
    };
    if t.expect_ok(
        "copy: into another CNode",
        invoke::cnode_copy(sub, 1, CNODE, frame, Rights::all()),
    )
    .is_some()
    {
        let back = t.slot();
        t.expect_ok(
            "copy: out of another CNode",
            invoke::cnode_copy(CNODE, back, sub, 1, Rights::all()),
        );
        let (a, b) = (
            invoke::frame_get_address(frame),
            invoke::frame_get_address(back),
        );
        t.check(
            "copy: a round trip through another CNode keeps the frame",
            a.is_ok() && a == b,
            format_args!("{a:x?}"),
            format_args!("{b:x?}"),
        );
    }
}

fn mint(t: &mut Suite) {
    let Some(ep) = t.object(ObjectType::Endpoint, 0) else {
        return;
    };
    let badged = t.slot();
    if t.expect_ok(
        "mint: a badge onto an endpoint",
        invoke::cnode_mint(CNODE, badged, CNODE, ep, Rights::all(), 0x42),
    )
    .is_none()
    {
        return;
    }
    let again = t.slot();
    t.expect_err(
        "mint: a badge onto an already badged endpoint",
        Error::IllegalOperation,
        invoke::cnode_mint(CNODE, again, CNODE, badged, Rights::all(), 0x43),
    );
    t.expect_empty("mint: the refused mint left its slot empty", again);
    t.expect_ok(
        "mint: another badge from the unbadged endpoint",
        invoke::cnode_mint(CNODE, again, CNODE, ep, Rights::all(), 0x43),
    );
    let copy = t.slot();
    t.expect_ok(
        "copy: of a badged endpoint",
        invoke::cnode_copy(CNODE, copy, CNODE, badged, Rights::all()),
    );
    let dest = t.slot();
    t.expect_err(
        "mint: from a slot of a TCB used as a CNode",
        Error::WrongType,
        invoke::cnode_mint(CNODE, dest, slot::TCB, ep, Rights::all(), 1),
    );
}

fn move_and_mutate(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let address = invoke::frame_get_address(frame);
    let dest = t.slot();
    t.expect_err(
        "move: into an occupied slot",
        Error::SlotOccupied,
        invoke::cnode_move(CNODE, slot::TCB, CNODE, frame),
    );
    let empty = t.slot();
    t.expect_err(
        "move: from an empty slot",
        Error::InvalidCapability,
        invoke::cnode_move(CNODE, dest, CNODE, empty),
    );
    if t.expect_ok(
        "move: a frame",
        invoke::cnode_move(CNODE, dest, CNODE, frame),
    )
    .is_some()
    {
        t.expect_err(
            "move: the old slot is empty afterwards",
            Error::InvalidCapability,
            invoke::frame_get_address(frame),
        );
        let moved = invoke::frame_get_address(dest);
        t.check(
            "move: the new slot holds the same frame",
            address.is_ok() && moved == address,
            format_args!("{address:x?}"),
            format_args!("{moved:x?}"),
        );
    }

    let Some(ep) = t.object(ObjectType::Endpoint, 0) else {
        return;
    };
    let dest = t.slot();
    if t.expect_ok(
        "mutate: an endpoint, with a badge",
        invoke::cnode_mutate(CNODE, dest, CNODE, ep, 7),
    )
    .is_some()
    {
        t.expect_empty("mutate: the old slot is empty afterwards", ep);
        t.expect_occupied("mutate: the new slot holds the endpoint", dest);
    }
}

fn delete(t: &mut Suite) {
    let Some(ep) = t.object(ObjectType::Endpoint, 0) else {
        return;
    };
    if t.expect_ok("delete: an endpoint", invoke::cnode_delete(CNODE, ep))
        .is_none()
    {
        return;
    }
    t.expect_empty("delete: the slot is empty afterwards", ep);
    t.expect_ok(
        "delete: the slot can be filled again",
        invoke::untyped_retype(t.memory, ObjectType::Notification, 0, 1, CNODE, ep),
    );
    t.expect_err(
        "delete: a slot past the CNode",
        Error::RangeError,
        invoke::cnode_delete(CNODE, SLOTS),
    );
    let empty = t.slot();
    t.expect_err(
        "delete: an empty slot",
        Error::InvalidCapability,
        invoke::cnode_delete(CNODE, empty),
    );

    // Deleting a capability that has copies leaves the copies working.
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let Some(copy) = t.copy(frame) else { return };
    if t.expect_ok(
        "delete: a frame capability that has a copy",
        invoke::cnode_delete(CNODE, frame),
    )
    .is_some()
    {
        t.expect_ok(
            "delete: the copy still names the frame",
            invoke::frame_get_address(copy),
        );
    }

    // Deleting untyped memory deletes what was made from it.
    let Some(untyped) = t.object(ObjectType::Untyped, CHILD_UNTYPED_BITS) else {
        return;
    };
    let made = t.slot();
    if t.setup(
        "retype an endpoint from a child untyped",
        invoke::untyped_retype(untyped, ObjectType::Endpoint, 0, 1, CNODE, made),
    )
    .is_some()
        && t.expect_ok(
            "delete: untyped memory with an object made from it",
            invoke::cnode_delete(CNODE, untyped),
        )
        .is_some()
    {
        t.expect_empty("delete: the untyped's objects go with it", made);
        t.expect_empty("delete: the untyped's slot is empty", untyped);
    }
}

fn revoke(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    t.expect_ok(
        "revoke: a capability with nothing derived",
        invoke::cnode_revoke(CNODE, frame),
    );
    // frame -> a, b; a -> aa.
    let Some(a) = t.copy(frame) else { return };
    let Some(b) = t.copy(frame) else { return };
    let Some(aa) = t.copy(a) else { return };
    if t.expect_ok("revoke: a copy's copies", invoke::cnode_revoke(CNODE, a))
        .is_none()
    {
        return;
    }
    t.expect_empty("revoke: deletes the copy of the copy", aa);
    t.expect_ok(
        "revoke: keeps the revoked capability",
        invoke::frame_get_address(a),
    );
    t.expect_ok(
        "revoke: keeps capabilities not derived from it",
        invoke::frame_get_address(b),
    );
    if t.expect_ok("revoke: the original", invoke::cnode_revoke(CNODE, frame))
        .is_none()
    {
        return;
    }
    t.expect_err(
        "revoke: the copies are gone",
        Error::InvalidCapability,
        invoke::frame_get_address(a),
    );
    t.expect_err(
        "revoke: every copy is gone",
        Error::InvalidCapability,
        invoke::frame_get_address(b),
    );
    t.expect_ok(
        "revoke: the original stays",
        invoke::frame_get_address(frame),
    );
}
