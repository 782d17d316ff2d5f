//! Faults: a kid's faults arrive at its fault endpoint as messages, which
//! the root thread (the handler) answers to resume the kid; a kid without
//! a fault endpoint is suspended where it faulted.

use super::code::{FAULT_PAGE, FAULT_VALUE, FaultKind, RECOVERED, Routine, UNKNOWN_SYSCALL};
use super::messages::mint;
use super::{Arena, KID_PRIORITY, Kid, sw};
use crate::harness::Suite;
use crate::thread::STACK_TOP;
use libcap::abi::{ObjectType, Rights, fault};
use libcap::ipc::{self, Message, Received};
use libcap::{Error, invoke};

/// The badge of the fault endpoint capability the kid is given.
const FAULT_BADGE: u64 = 0xfa;
/// The stack pointer the handler resumes a kid with.
const RECOVERY_RSP: u64 = STACK_TOP - 64;

/// Every fault case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(ep), Some(ntfn), Some(page)) = (
        arena.endpoint(t),
        arena.notification(t),
        arena.object(t, ObjectType::Frame4K),
    ) else {
        return;
    };
    let (Some(kid), Some(lone)) = (arena.kid(t, KID_PRIORITY), arena.kid(t, KID_PRIORITY)) else {
        return;
    };
    let Some(badged) = mint(t, ep, Rights::all(), FAULT_BADGE) else {
        return;
    };
    t.expect_err(
        "fault: a notification as fault endpoint is the wrong type",
        Error::WrongType,
        invoke::tcb_set_fault_endpoint(kid.tcb(), ntfn),
    );
    if t.expect_ok(
        "fault: set a fault endpoint",
        invoke::tcb_set_fault_endpoint(kid.tcb(), badged),
    )
    .is_some()
    {
        handled(t, &kid, ep, page);
    }
    unhandled(t, &lone);
    t.expect_ok(
        "fault: clear the fault endpoint",
        invoke::tcb_set_fault_endpoint(kid.tcb(), 0),
    );
    arena.release(t, &[&kid, &lone]);
}

/// Receives the kid's fault message on `ep` and checks it: label, words
/// `rip` (one of `rips`), `rsp`, `address`, `code`, the badge.
fn expect_fault(
    t: &mut Suite,
    name: &str,
    ep: u64,
    label: u64,
    rips: &[u64],
    address: u64,
    code: u64,
) -> Option<Received> {
    let r = ipc::recv(ep);
    let ok = matches!(&r, Ok(m) if m.label() == label
        && m.words().len() == 4
        && rips.contains(&m.words()[0])
        && m.words()[1] == STACK_TOP
        && m.words()[2] == address
        && m.words()[3] == code
        && m.badge == FAULT_BADGE);
    t.check(
        name,
        ok,
        format_args!(
            "label {label}, words [rip {rips:#x?}, rsp {STACK_TOP:#x}, {address:#x}, {code:#x}], badge {FAULT_BADGE:#x}"
        ),
        format_args!("{:x?}", r.as_ref().map(|m| (m.label(), m.words(), m.badge))),
    );
    r.ok()
}

/// Replies RESUME_AT to the recovery routine and checks the kid got there.
fn recover(t: &mut Suite, name: &str, kid: &Kid) {
    let replied = ipc::reply(&Message::new(
        fault::RESUME_AT,
        &[Routine::Recover.entry(), RECOVERY_RSP],
    ));
    t.check(
        name,
        replied.is_ok()
            && kid.done(1)
            && kid.word(sw::AUX) == RECOVERED
            && kid.word(sw::AUX2) == RECOVERY_RSP,
        format_args!("Ok; the kid at the recovery code with rsp {RECOVERY_RSP:#x}"),
        format_args!(
            "{replied:?}; done {}, aux {:#x}, rsp {:#x}",
            kid.word(sw::DONE),
            kid.word(sw::AUX),
            kid.word(sw::AUX2)
        ),
    );
}

/// The kid has `badged` (endpoint `ep`, badge [`FAULT_BADGE`]) as fault
/// endpoint; the root thread handles its faults.
fn handled(t: &mut Suite, kid: &Kid, ep: u64, page: u64) {
    // A page fault, skipped.
    if kid
        .start(t, Routine::Faulter, FaultKind::PageFault as u64, 0)
        .is_some()
    {
        let stopped = kid.word(sw::AUX) == 1 && kid.word(sw::DONE) == 0;
        t.check(
            "fault: a faulting thread stops at the fault",
            stopped,
            format_args!("started, not done"),
            format_args!("aux {}, done {}", kid.word(sw::AUX), kid.word(sw::DONE)),
        );
        // User write to a page that is not present: error code W | U.
        if expect_fault(
            t,
            "fault: a page fault arrives as a message at the fault endpoint",
            ep,
            fault::PAGE_FAULT,
            &[FaultKind::PageFault.rip()],
            FAULT_PAGE,
            0b110,
        )
        .is_some()
        {
            recover(t, "fault: RESUME_AT continues the thread elsewhere", kid);
        }
    }
    // A page fault, fixed and retried.
    if kid
        .start(t, Routine::Faulter, FaultKind::PageFault as u64, 0)
        .is_some()
        && expect_fault(
            t,
            "fault: the same page fault again",
            ep,
            fault::PAGE_FAULT,
            &[FaultKind::PageFault.rip()],
            FAULT_PAGE,
            0b110,
        )
        .is_some()
    {
        let mapped = invoke::frame_map(
            page,
            kid.child.vspace,
            FAULT_PAGE,
            Rights::READ | Rights::WRITE,
        );
        let replied = ipc::reply(&Message::empty(fault::RESUME));
        t.check(
            "fault: RESUME retries the instruction after the handler maps the page",
            mapped.is_ok()
                && replied.is_ok()
                && kid.done(1)
                && kid.word(sw::W0) == FAULT_VALUE
                && kid.word(sw::AUX) == 1,
            format_args!("the write done, {FAULT_VALUE:#x} read back"),
            format_args!(
                "map {mapped:?}, reply {replied:?}, done {}, read {:#x}, aux {:#x}",
                kid.word(sw::DONE),
                kid.word(sw::W0),
                kid.word(sw::AUX)
            ),
        );
        let _ = invoke::frame_unmap(page);
    }
    // The exceptions. int3 is a trap: the CPU reports the next
    // instruction, so the handler may see either address.
    let exceptions = [
        (
            FaultKind::InvalidOpcode,
            fault::INVALID_OPCODE,
            "fault: ud2 arrives as INVALID_OPCODE",
            "fault: RESUME_AT after INVALID_OPCODE",
        ),
        (
            FaultKind::Breakpoint,
            fault::BREAKPOINT,
            "fault: int3 arrives as BREAKPOINT",
            "fault: RESUME_AT after BREAKPOINT",
        ),
        (
            FaultKind::DivideError,
            fault::DIVIDE_ERROR,
            "fault: a division by zero arrives as DIVIDE_ERROR",
            "fault: RESUME_AT after DIVIDE_ERROR",
        ),
        (
            FaultKind::GeneralProtection,
            fault::GENERAL_PROTECTION,
            "fault: hlt in user mode arrives as GENERAL_PROTECTION",
            "fault: RESUME_AT after GENERAL_PROTECTION",
        ),
    ];
    for (kind, label, name, resumed) in exceptions {
        let rip = kind.rip();
        let rips: &[u64] = if kind == FaultKind::Breakpoint {
            &[rip + 1, rip]
        } else {
            &[rip]
        };
        // None of these has an error code (hlt's #GP pushes 0).
        if kid.start(t, Routine::Faulter, kind as u64, 0).is_some()
            && expect_fault(t, name, ep, label, rips, 0, 0).is_some()
        {
            recover(t, resumed, kid);
        }
    }
    // An unknown system call. `rip` may be the syscall instruction or the
    // one after it.
    let rip = FaultKind::UnknownSyscall.rip();
    if kid
        .start(t, Routine::Faulter, FaultKind::UnknownSyscall as u64, 0)
        .is_some()
        && expect_fault(
            t,
            "fault: an unknown system call arrives as UNKNOWN_SYSCALL",
            ep,
            fault::UNKNOWN_SYSCALL,
            &[rip + 2, rip],
            UNKNOWN_SYSCALL,
            0,
        )
        .is_some()
    {
        recover(t, "fault: RESUME_AT after an unknown system call", kid);
    }
    // A bad RESUME_AT is refused.
    if kid
        .start(t, Routine::Faulter, FaultKind::InvalidOpcode as u64, 0)
        .is_some()
        && ipc::recv(ep).is_ok()
    {
        t.expect_err(
            "fault: RESUME_AT a kernel address",
            Error::InvalidArgument,
            ipc::reply(&Message::new(
                fault::RESUME_AT,
                &[0xffff_ffff_8000_0000, RECOVERY_RSP],
            )),
        );
        let _ = invoke::tcb_suspend(kid.tcb());
    }
}

/// A kid without a fault endpoint.
fn unhandled(t: &mut Suite, kid: &Kid) {
    if kid
        .start(t, Routine::Faulter, FaultKind::InvalidOpcode as u64, 0)
        .is_none()
    {
        return;
    }
    let regs = invoke::tcb_read_registers(kid.tcb());
    let rip = FaultKind::InvalidOpcode.rip();
    t.check(
        "fault: without a fault endpoint the thread is suspended at the fault",
        kid.word(sw::AUX) == 1
            && kid.word(sw::DONE) == 0
            && matches!(regs, Ok(r) if r[0] == rip && r[1] == STACK_TOP),
        format_args!("started, not done, rip {rip:#x}, rsp {STACK_TOP:#x}"),
        format_args!(
            "aux {}, done {}, registers {regs:x?}",
            kid.word(sw::AUX),
            kid.word(sw::DONE)
        ),
    );
    // It stays suspended (the root thread runs on; the kid does not).
    for _ in 0..10 {
        libcap::syscall::yield_now();
    }
    t.expect_eq(
        "fault: the suspended thread does not run again by itself",
        0,
        kid.word(sw::DONE),
    );
    let restarted =
        invoke::tcb_write_registers(kid.tcb(), Routine::Recover.entry(), RECOVERY_RSP, 0, 0)
            .and(invoke::tcb_resume(kid.tcb()));
    t.check(
        "fault: a suspended faulter restarts where it is told",
        restarted.is_ok() && kid.done(1) && kid.word(sw::AUX) == RECOVERED,
        format_args!("Ok; at the recovery code"),
        format_args!(
            "{restarted:?}; done {}, aux {:#x}",
            kid.word(sw::DONE),
            kid.word(sw::AUX)
        ),
    );
}
