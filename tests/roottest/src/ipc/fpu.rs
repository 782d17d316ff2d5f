//! Floating-point and SSE state belongs to each thread: two kids of one
//! priority take turns (each `Yield` runs the other) while each keeps its
//! own value in `xmm0` and on the x87 stack and its own MXCSR rounding
//! mode. A kernel that let them share the registers, or that lost a
//! thread's state when another used the FPU, shows as mismatches.

use super::code::Routine;
use super::{Arena, KID_PRIORITY, ROOT_PRIORITY, sw};
use crate::harness::Suite;
use libcap::abi::boot_info::slot;
use libcap::invoke;

/// Turns each kid takes.
const ROUNDS: u64 = 50;

pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(a), Some(b)) = (arena.kid(t, KID_PRIORITY), arena.kid(t, KID_PRIORITY)) else {
        return;
    };
    // Bit 0 picks the rounding mode: the two kids differ in every way.
    let values = [0x1234_5678_9abc_def1_u64 >> 8, 0x0fed_cba9_8765_4320 >> 8];
    // Both must be ready before either runs, or the first would finish
    // alone: the root thread starts them from above their priority, then
    // steps down below it, and the two alternate.
    let above = t.setup(
        "raise the root thread above the kids",
        invoke::tcb_set_priority(slot::TCB, KID_PRIORITY + 1),
    );
    let started = above
        .and_then(|()| a.start(t, Routine::Fpu, values[0], ROUNDS))
        .and_then(|()| b.start(t, Routine::Fpu, values[1], ROUNDS));
    let below = t.setup(
        "lower the root thread again",
        invoke::tcb_set_priority(slot::TCB, ROOT_PRIORITY),
    );
    if started.is_none() || below.is_none() {
        arena.release(t, &[&a, &b]);
        return;
    }
    let done = a.done(1) && b.done(1);
    let mismatches = [a.word(sw::AUX), b.word(sw::AUX)];
    t.check(
        "fpu: two threads taking turns each keep their own xmm0, x87 stack and MXCSR",
        done && mismatches == [0, 0],
        format_args!("both done, no mismatches in {ROUNDS} turns each"),
        format_args!("done {done}, mismatches {mismatches:?}"),
    );
    arena.release(t, &[&a, &b]);
}
