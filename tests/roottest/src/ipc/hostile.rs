//! Hostile CPU state: a kid sets RFLAGS bits user code can reach (NT, AC,
//! DF, TF) and tries those it cannot (IOPL, clearing IF), then enters
//! the kernel every way it can: a system call answered through `sysretq`,
//! one through the scheduler and `iretq`, and timer interrupts while it
//! spins. The kernel must carry on and hand the kid its flags back as it
//! left them. A kernel that runs with a user flag still set fails here: NT
//! makes its `iretq` fault, and a debug kernel checks on every entry that
//! TF, DF, AC, NT and IOPL are clear.
//!
//! The trap flag single-steps the kid: every instruction after it is a
//! fault message (an `OTHER_EXCEPTION` with vector 1) that the root thread
//! answers with `RESUME` until the kid clears the flag and parks.
//!
//! RF is left out: `popfq` cannot set it, and a ring-3 `iretq` (which can)
//! faults under QEMU's TCG with SMAP on, which pops the frame with
//! supervisor accesses that SMAP refuses on a user stack.

use super::code::Routine;
use super::messages::mint;
use super::{Arena, KID_PRIORITY, Kid, sw};
use crate::harness::Suite;
use libcap::abi::{Rights, fault};
use libcap::ipc::{self, Message};

/// RFLAGS bits.
const TF: u64 = 1 << 8;
const IF: u64 = 1 << 9;
const DF: u64 = 1 << 10;
const IOPL: u64 = 3 << 12;
const NT: u64 = 1 << 14;
const AC: u64 = 1 << 18;

/// The badge of the kid's fault endpoint.
const FAULT_BADGE: u64 = 0xf1a9;
/// Single-step faults the root thread answers at most.
const MAX_STEPS: u32 = 200;

/// Every hostile-flags case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let Some(ep) = arena.endpoint(t) else {
        return;
    };
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    let Some(badged) = mint(t, ep, Rights::all(), FAULT_BADGE) else {
        return;
    };
    if t.setup(
        "give the hostile kid a fault endpoint",
        libcap::invoke::tcb_set_fault_endpoint(kid.tcb(), badged),
    )
    .is_none()
    {
        return;
    }
    // Spin long enough for several timer ticks (the kernel's is 10 ms).
    let cycles = t.boot.tsc_hz / 20;
    for (name, flags, kept) in [
        ("NT", NT, NT),
        ("AC", AC, AC),
        ("DF", DF, DF),
        ("IOPL 3 (ignored at CPL 3)", IOPL, 0),
        ("IF cleared (ignored at CPL 3)", IF, IF),
        (
            "NT, AC, DF and IOPL together",
            NT | AC | DF | IOPL,
            NT | AC | DF,
        ),
    ] {
        survives(t, &kid, ep, name, flags, kept, cycles);
    }
    single_step(t, &kid, ep);
    arena.release(t, &[&kid]);
}

/// Runs the kid with `flags` toggled; the kernel must return it to user
/// mode with exactly `kept` of them set after each way back.
fn survives(t: &mut Suite, kid: &Kid, ep: u64, name: &str, flags: u64, kept: u64, cycles: u64) {
    if kid.start(t, Routine::Hostile, flags, cycles).is_none() {
        return;
    }
    let done = kid.done(1);
    // A kid that faulted instead waits for its handler: say how.
    let fault = match done {
        true => None,
        false => ipc::nb_recv(ep)
            .ok()
            .map(|m| (m.label(), m.words()[0], m.words()[3])),
    };
    let watched = flags | kept;
    let after = [sw::AUX, sw::AUX2, sw::W0 + 1].map(|i| kid.word(i) & watched);
    let null_ok = kid.word(sw::W0) == 0;
    let interrupted = kid.word(sw::COUNTER) > 0;
    let mut what = [0u8; 96];
    let what = crate::harness::describe(
        &mut what,
        format_args!("hostile flags: {name}: the kernel carries on and keeps them"),
    );
    t.check(
        what,
        done && null_ok && interrupted && after == [kept; 3],
        format_args!(
            "done, Null Ok, flags {kept:#x} after sysretq, iretq and interrupts (IF {IF:#x} still set)"
        ),
        format_args!(
            "done {done} (fault {fault:x?}), Null error {:#x}, spun {} times, flags {after:#x?}",
            kid.word(sw::W0),
            kid.word(sw::COUNTER)
        ),
    );
}

/// TF: the kid's every instruction after it traps; each trap is a fault
/// message the root thread answers with RESUME, through the kid's system
/// calls, until the kid clears the flag and parks.
fn single_step(t: &mut Suite, kid: &Kid, ep: u64) {
    if kid.start(t, Routine::Hostile, TF, 0).is_none() {
        return;
    }
    let (mut steps, mut bad) = (0u32, None);
    while kid.word(sw::DONE) == 0 && steps < MAX_STEPS {
        let Ok(m) = ipc::recv(ep) else {
            bad = Some((0, 0, 0));
            break;
        };
        if m.label() != fault::OTHER_EXCEPTION || m.words().get(3) != Some(&1) {
            bad = Some((m.label(), m.words().get(3).copied().unwrap_or(0), m.badge));
            break;
        }
        steps += 1;
        if ipc::reply(&Message::new(fault::RESUME, &[])).is_err() {
            bad = Some((u64::MAX, 0, 0));
            break;
        }
    }
    let done = kid.done(1);
    t.check(
        "hostile flags: TF single-steps the thread through its system calls, one debug fault per instruction",
        done && bad.is_none() && steps > 10 && kid.word(sw::AUX) & TF != 0,
        format_args!("done after more than 10 steps, each a debug fault (vector 1), TF kept"),
        format_args!(
            "done {done} after {steps} steps, unexpected {bad:x?}, flags after Null {:#x}",
            kid.word(sw::AUX)
        ),
    );
}
