//! Capability transfer: the root thread sends a frame capability to a kid
//! waiting in [`Routine::RecvOnce`] with a receive slot in its CNode.

use super::code::Routine;
use super::messages::{all_but, copy_with};
use super::{Arena, KID_PRIORITY, Kid, cs, sw};
use crate::harness::{CNODE, Suite};
use libcap::abi::{MessageInfo, ObjectType, Rights};
use libcap::ipc::{self, Message};
use libcap::{Error, invoke};

/// Receive slots in the kid's CNode.
const SLOT_FIRST: u64 = 8;
const SLOT_REFUSED: u64 = 9;
const SLOT_OCCUPIED: u64 = 10;

/// Every capability-transfer case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(ep), Some(frame), Some(ntfn)) = (
        arena.endpoint(t),
        arena.object(t, ObjectType::Frame4K),
        arena.notification(t),
    ) else {
        return;
    };
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    if kid.give(t, cs::A, ep, Rights::READ).is_some() {
        run(t, &kid, ep, frame, ntfn);
    }
    arena.release(t, &[&kid]);
}

/// The kid's receive result: (done, has_cap, label).
fn outcome(kid: &Kid) -> (bool, bool, u64) {
    let info = MessageInfo(kid.word(sw::INFO));
    (
        kid.done(1) && kid.error().is_ok(),
        info.has_cap(),
        info.label(),
    )
}

/// The physical address of the frame in slot `index` of the kid's CNode,
/// through a copy in the root CNode (deleted again); `None` when the slot
/// is empty.
fn frame_in(t: &mut Suite, kid: &Kid, index: u64) -> Option<Result<u64, Error>> {
    let copy = kid.take_copy(t, index)?;
    let address = invoke::frame_get_address(copy);
    let _ = invoke::cnode_delete(CNODE, copy);
    Some(address)
}

fn run(t: &mut Suite, kid: &Kid, ep: u64, frame: u64, ntfn: u64) {
    let Some(frame_address) = t.setup(
        "the address of the frame to transfer",
        invoke::frame_get_address(frame),
    ) else {
        return;
    };
    let msg = Message::new(0xc0, &[1, 2]).with_cap(frame);

    // Granted, into an empty slot.
    if kid.start(t, Routine::RecvOnce, cs::A, SLOT_FIRST).is_some() {
        let sent = ipc::send(ep, &msg);
        let (done, has_cap, label) = outcome(kid);
        t.check(
            "cap transfer: with GRANT into an empty slot",
            sent.is_ok() && done && has_cap && label == 0xc0 && kid.words()[..2] == [1, 2],
            format_args!("Ok; the message with the capability bit"),
            format_args!("{sent:?}; done {done}, has_cap {has_cap}, label {label:#x}"),
        );
        let got = frame_in(t, kid, SLOT_FIRST);
        t.check(
            "cap transfer: the receive slot holds the sender's frame",
            got == Some(Ok(frame_address)),
            format_args!("a frame at {frame_address:#x}"),
            format_args!("{got:x?}"),
        );
    }

    // Without GRANT: refused, nothing sent.
    if let Some(no_grant) = copy_with(t, ep, all_but(Rights::GRANT))
        && kid
            .start(t, Routine::RecvOnce, cs::A, SLOT_REFUSED)
            .is_some()
    {
        t.expect_err(
            "cap transfer: Send without GRANT",
            Error::MissingRight,
            ipc::send(no_grant, &msg),
        );
        t.expect_err(
            "cap transfer: NbSend without GRANT",
            Error::MissingRight,
            ipc::nb_send(no_grant, &msg),
        );
        t.expect_err(
            "cap transfer: Call without GRANT",
            Error::MissingRight,
            ipc::call(no_grant, &msg),
        );
        let landed = kid.take_copy(t, SLOT_REFUSED).is_some();
        t.check(
            "cap transfer: a refused message is not delivered",
            kid.word(sw::DONE) == 0 && !landed,
            format_args!("the receiver still waiting, its slot empty"),
            format_args!("done {}, slot occupied {landed}", kid.word(sw::DONE)),
        );
        // The same endpoint capability sends a message without one.
        let sent = ipc::nb_send(no_grant, &Message::new(0xc1, &[3]));
        let (done, has_cap, label) = outcome(kid);
        t.check(
            "cap transfer: without GRANT a message without capability still goes",
            sent.is_ok() && done && !has_cap && label == 0xc1,
            format_args!("Ok; label 0xc1, no capability"),
            format_args!("{sent:?}; done {done}, has_cap {has_cap}, label {label:#x}"),
        );
    }

    // The receiver accepts no capability: the message arrives without it.
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let sent = ipc::send(ep, &msg);
        let (done, has_cap, label) = outcome(kid);
        t.check(
            "cap transfer: a receiver that accepts none gets the message only",
            sent.is_ok() && done && !has_cap && label == 0xc0 && kid.words()[..2] == [1, 2],
            format_args!("Ok; label 0xc0, words [1, 2], no capability"),
            format_args!("{sent:?}; done {done}, has_cap {has_cap}, label {label:#x}"),
        );
    }

    // An occupied receive slot: the message arrives without the capability.
    if kid.give(t, SLOT_OCCUPIED, ntfn, Rights::all()).is_some()
        && kid
            .start(t, Routine::RecvOnce, cs::A, SLOT_OCCUPIED)
            .is_some()
    {
        let sent = ipc::send(ep, &msg);
        let (done, has_cap, label) = outcome(kid);
        t.check(
            "cap transfer: into an occupied slot the message arrives without it",
            sent.is_ok() && done && !has_cap && label == 0xc0,
            format_args!("Ok; label 0xc0, no capability"),
            format_args!("{sent:?}; done {done}, has_cap {has_cap}, label {label:#x}"),
        );
        let kept = kid.take_copy(t, SLOT_OCCUPIED);
        // A notification polls (WouldBlock: empty); a frame would be the
        // wrong type.
        let what = kept.map(ipc::poll);
        t.check(
            "cap transfer: the occupied slot keeps its capability",
            what == Some(Err(Error::WouldBlock)),
            format_args!("the notification (poll: WouldBlock)"),
            format_args!("{what:?}"),
        );
        if let Some(k) = kept {
            let _ = invoke::cnode_delete(CNODE, k);
        }
    }

    // Revoking the sender's capability takes the transferred one back.
    let revoked = invoke::cnode_revoke(CNODE, frame);
    let left = frame_in(t, kid, SLOT_FIRST);
    t.check(
        "cap transfer: revoking the sender's capability removes the received one",
        revoked.is_ok() && left.is_none(),
        format_args!("Ok; the kid's slot {SLOT_FIRST} empty"),
        format_args!("{revoked:?}; slot {SLOT_FIRST}: {left:x?}"),
    );
    t.expect_ok(
        "cap transfer: the sender keeps its own capability",
        invoke::frame_get_address(frame),
    );
}
