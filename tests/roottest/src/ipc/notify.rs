//! Notifications: signal, wait and poll, badges ORed into the word, a kid
//! woken by a signal, and a notification bound to a kid's TCB waking its
//! `Recv` on an endpoint.

use super::code::Routine;
use super::messages::mint;
use super::{Arena, KID_PRIORITY, Kid, cs, sw};
use crate::harness::Suite;
use libcap::abi::{MessageInfo, NOTIFICATION_LABEL, ObjectType, Rights};
use libcap::ipc::{self, Message};
use libcap::{Error, invoke};

/// Every notification case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(ntfn), Some(bound), Some(ep)) = (
        arena.notification(t),
        arena.notification(t),
        arena.endpoint(t),
    ) else {
        return;
    };
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    signals(t, ntfn);
    if kid.give(t, cs::A, ntfn, Rights::READ).is_some() {
        woken(t, &kid, ntfn);
    }
    let _ = invoke::cnode_delete(kid.child.cspace, cs::A);
    if kid.give(t, cs::A, ep, Rights::READ).is_some() {
        let other = arena.object(t, ObjectType::Tcb);
        binding(t, &kid, bound, ep, other);
    }
    arena.release(t, &[&kid]);
}

/// The root thread alone: signal, poll, wait, badges.
fn signals(t: &mut Suite, ntfn: u64) {
    let w = Rights::WRITE;
    let (Some(b1), Some(b2), Some(b4)) = (
        mint(t, ntfn, w, 0b001),
        mint(t, ntfn, w, 0b010),
        mint(t, ntfn, w, 0b100),
    ) else {
        return;
    };
    t.expect_err(
        "notification: poll with nothing signalled would block",
        Error::WouldBlock,
        ipc::poll(ntfn),
    );
    let signalled = ipc::signal(b1).and(ipc::signal(b2));
    t.check(
        "notification: two badges are ORed into the word",
        signalled.is_ok() && ipc::poll(ntfn) == Ok(0b011),
        format_args!("Ok, then poll Ok(0b11)"),
        format_args!("{signalled:?}"),
    );
    t.expect_err(
        "notification: poll clears the word",
        Error::WouldBlock,
        ipc::poll(ntfn),
    );
    let _ = ipc::signal(b4);
    let _ = ipc::signal(b4);
    t.expect_eq(
        "notification: the same badge twice is one bit",
        Ok(0b100),
        ipc::poll(ntfn),
    );
    let _ = ipc::signal(b2);
    t.expect_eq(
        "notification: wait returns at once when the word is set",
        Ok(0b010),
        ipc::wait(ntfn),
    );
    t.expect_ok(
        "notification: NbSend signals too",
        ipc::nb_send(b1, &Message::empty(0)),
    );
    t.expect_eq(
        "notification: the NbSend signal is in the word",
        Ok(0b001),
        ipc::poll(ntfn),
    );
}

/// A kid waiting on `ntfn` (its slot A).
fn woken(t: &mut Suite, kid: &Kid, ntfn: u64) {
    let (Some(b8), Some(b16)) = (
        mint(t, ntfn, Rights::WRITE, 0x8),
        mint(t, ntfn, Rights::WRITE, 0x10),
    ) else {
        return;
    };
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let waiting = kid.word(sw::DONE) == 0;
        let signalled = ipc::signal(b8);
        t.check(
            "notification: a signal wakes a waiting thread with the badge",
            waiting
                && signalled.is_ok()
                && kid.done(1)
                && kid.error().is_ok()
                && kid.word(sw::BADGE) == 0x8,
            format_args!("waiting; woken with 0x8"),
            format_args!(
                "waiting {waiting}, {signalled:?}, done {}, error {}, word {:#x}",
                kid.word(sw::DONE),
                kid.word(sw::ERROR),
                kid.word(sw::BADGE)
            ),
        );
    }
    let signalled = ipc::signal(b8).and(ipc::signal(b16));
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        t.check(
            "notification: a waiter gets the word of earlier signals at once",
            signalled.is_ok() && kid.done(1) && kid.word(sw::BADGE) == 0x18,
            format_args!("woken with 0x18"),
            format_args!(
                "{signalled:?}, done {}, word {:#x}",
                kid.word(sw::DONE),
                kid.word(sw::BADGE)
            ),
        );
    }
}

/// A kid waiting in Recv on `ep` (its slot A) with `bound` bound to it;
/// `other` is another thread's TCB.
fn binding(t: &mut Suite, kid: &Kid, bound: u64, ep: u64, other: Option<u64>) {
    let Some(signal) = mint(t, bound, Rights::WRITE, 0x40) else {
        return;
    };
    t.expect_err(
        "tcb: bind an endpoint as notification",
        Error::WrongType,
        invoke::tcb_bind_notification(kid.tcb(), ep),
    );
    if t.expect_ok(
        "tcb: bind a notification",
        invoke::tcb_bind_notification(kid.tcb(), bound),
    )
    .is_none()
    {
        return;
    }
    if let Some(other) = other {
        t.expect_err(
            "tcb: a notification bound to one thread cannot be bound to another",
            Error::IllegalOperation,
            invoke::tcb_bind_notification(other, bound),
        );
    }
    let notified = |kid: &Kid| {
        kid.done(1)
            && kid.error().is_ok()
            && kid.word(sw::INFO) == MessageInfo::new(NOTIFICATION_LABEL, 0).0
            && kid.word(sw::BADGE) == 0x40
    };
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let waiting = kid.word(sw::DONE) == 0;
        let signalled = ipc::signal(signal);
        t.check(
            "notification: a bound notification wakes Recv on an endpoint",
            waiting && signalled.is_ok() && notified(kid),
            format_args!(
                "label NOTIFICATION_LABEL, length 0, badge 0x40 (info {:#x})",
                MessageInfo::new(NOTIFICATION_LABEL, 0).0
            ),
            format_args!(
                "waiting {waiting}, {signalled:?}, info {:#x}, badge {:#x}, error {}",
                kid.word(sw::INFO),
                kid.word(sw::BADGE),
                kid.word(sw::ERROR)
            ),
        );
    }
    let signalled = ipc::signal(signal);
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        t.check(
            "notification: a bound notification's pending word ends Recv at once",
            signalled.is_ok() && notified(kid),
            format_args!("label NOTIFICATION_LABEL, badge 0x40"),
            format_args!(
                "info {:#x}, badge {:#x}",
                kid.word(sw::INFO),
                kid.word(sw::BADGE)
            ),
        );
    }
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let sent = ipc::send(ep, &Message::new(0x91, &[9]));
        t.check(
            "notification: a thread with a bound notification still receives messages",
            sent.is_ok() && kid.done(1) && kid.word(sw::INFO) == MessageInfo::new(0x91, 1).0,
            format_args!("label 0x91, 1 word"),
            format_args!("{sent:?}, info {:#x}", kid.word(sw::INFO)),
        );
    }
    t.expect_ok(
        "tcb: unbind the notification",
        invoke::tcb_bind_notification(kid.tcb(), 0),
    );
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let signalled = ipc::signal(signal);
        t.check(
            "notification: once unbound, a signal does not end Recv",
            signalled.is_ok() && kid.word(sw::DONE) == 0 && ipc::poll(bound) == Ok(0x40),
            format_args!("still waiting; the word stays in the notification"),
            format_args!("{signalled:?}, done {}", kid.word(sw::DONE)),
        );
        // Let it go.
        let _ = ipc::nb_send(ep, &Message::empty(0));
    }
}
