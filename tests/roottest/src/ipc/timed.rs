//! Timed waits (`RecvTimed`): a wait that reaches its deadline fails with
//! `TimedOut`, never before the deadline; a deadline already past polls;
//! a signal or a message before the deadline ends the wait as usual; and
//! a thread that stops waiting any other way (woken, suspended) leaves the
//! kernel's queue of sleepers, which the invariant oracle checks.

use super::code::{Routine, SEND_LABEL, SEND_WORDS};
use super::messages::mint;
use super::{Arena, Kid, cs, sw};
use crate::harness::Suite;
use libcap::abi::{Rights, Syscall};
use libcap::{Error, invoke, ipc, syscall, time};

/// A priority below the root thread's: such a kid runs only while the
/// root thread waits.
const BELOW: u64 = 10;
/// The badge the kid's signal carries.
const BADGE: u64 = 0x7e;

pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(ntfn), Some(quiet), Some(ep)) = (
        arena.notification(t),
        arena.notification(t),
        arena.endpoint(t),
    ) else {
        return;
    };
    let memory = arena.untyped();
    let Some(kid) = arena.kid(t, BELOW) else {
        return;
    };
    let hz = t.boot.tsc_hz;
    alone(t, ntfn, hz);
    if let Some(badged) = mint(t, ntfn, Rights::WRITE, BADGE)
        && kid.give(t, cs::A, badged, Rights::WRITE).is_some()
        && kid.give(t, cs::B, ep, Rights::WRITE).is_some()
    {
        woken(t, &kid, ntfn, ep, memory, hz);
    }
    let _ = invoke::cnode_delete(kid.child.cspace, cs::A);
    if kid.give(t, cs::A, ntfn, Rights::READ).is_some() {
        suspended(t, &kid, quiet, memory, hz);
    }
    arena.release(t, &[&kid]);
}

/// The root thread alone.
fn alone(t: &mut Suite, ntfn: u64, hz: u64) {
    let past = time::rdtsc() - 1;
    t.expect_err(
        "timed: a deadline already past polls: TimedOut at once",
        Error::TimedOut,
        ipc::wait_until(ntfn, past),
    );
    let deadline = time::rdtsc() + hz / 20;
    let r = ipc::wait_until(ntfn, deadline);
    let after = time::rdtsc();
    t.check(
        "timed: a wait with nothing coming ends with TimedOut, not before its deadline",
        r == Err(Error::TimedOut) && after >= deadline,
        format_args!("Err(TimedOut) at or after the deadline"),
        format_args!("{r:?}, {} cycles early", deadline.saturating_sub(after)),
    );
    // (An unbadged capability would signal nothing: its badge is 0.)
    let Some(badged) = mint(t, ntfn, Rights::WRITE, BADGE) else {
        return;
    };
    let _ = ipc::signal(badged);
    let r = ipc::wait_until(ntfn, time::rdtsc() + hz);
    t.expect_eq(
        "timed: a pending signal ends a timed wait at once",
        Ok(BADGE),
        r,
    );
}

/// A kid of lower priority signals (or sends) while the root thread
/// waits with a deadline a second away.
fn woken(t: &mut Suite, kid: &Kid, ntfn: u64, ep: u64, memory: u64, hz: u64) {
    if kid
        .start(t, Routine::SendOnce, cs::A, Syscall::Send as u64)
        .is_none()
    {
        return;
    }
    let deadline = time::rdtsc() + hz;
    let r = ipc::wait_until(ntfn, deadline);
    t.check(
        "timed: a signal before the deadline ends the wait with the word",
        r == Ok(BADGE) && time::rdtsc() < deadline,
        format_args!("Ok({BADGE:#x}) before the deadline"),
        format_args!("{r:x?}"),
    );
    if kid
        .start(t, Routine::SendOnce, cs::B, Syscall::Send as u64)
        .is_none()
    {
        return;
    }
    let r = ipc::recv_until(ep, time::rdtsc() + hz);
    t.check(
        "timed: a message before the deadline is received",
        matches!(&r, Ok(m) if m.label() == SEND_LABEL && m.words() == SEND_WORDS),
        format_args!("the kid's message"),
        format_args!("{:x?}", r.as_ref().map(|m| (m.label(), m.words()))),
    );
    // Neither wait left the root thread among the sleepers.
    let check = syscall::debug_check(memory, 0).map(|r| r.violations);
    t.expect_eq(
        "timed: the sleepers are consistent after both",
        Ok(0),
        check,
    );
}

/// A kid asleep with a deadline far away is suspended: it leaves the
/// sleepers, and its deadline never fires.
fn suspended(t: &mut Suite, kid: &Kid, quiet: u64, memory: u64, hz: u64) {
    if kid
        .start(t, Routine::Sleep, cs::A, time::rdtsc() + 100 * hz)
        .is_none()
    {
        return;
    }
    // The kid (below the root thread) runs and blocks while this waits.
    let _ = ipc::wait_until(quiet, time::rdtsc() + hz / 50);
    let started = kid.word(sw::STARTED) == 1 && kid.word(sw::DONE) == 0;
    let _ = invoke::tcb_suspend(kid.tcb());
    let check = syscall::debug_check(memory, 0).map(|r| r.violations);
    t.check(
        "timed: a sleeping thread suspended leaves the sleepers",
        started && check == Ok(0),
        format_args!("the kid asleep, then no violation"),
        format_args!("asleep {started}, oracle {check:?}"),
    );
    // And with a deadline that passes while it waits: TimedOut.
    if kid
        .start(t, Routine::Sleep, cs::A, time::rdtsc() + hz / 50)
        .is_none()
    {
        return;
    }
    let _ = ipc::wait_until(quiet, time::rdtsc() + hz / 10);
    t.check(
        "timed: another thread's deadline passes while it waits: TimedOut",
        kid.done(1) && kid.error() == Err(Error::TimedOut),
        format_args!("done, Err(TimedOut)"),
        format_args!("done {}, {:?}", kid.word(sw::DONE), kid.error()),
    );
}
