//! The kernel's one mutable state, [`Kernel`]: the scheduler and the IRQ
//! lines. A kernel entry (a system call, a trap from user mode, the end of
//! boot) takes it once with [`enter`] and passes it down as
//! `&mut Kernel`; it gives it back with [`leave`] just before the CPU
//! returns to user mode. No function below an entry reaches the state any
//! other way.
//!
//! What stays in statics is the machine's own: descriptor tables, stacks,
//! the interrupt controllers' descriptions, the timer's calibration, which
//! thread's registers the FPU holds. An interrupt that arrives while the
//! kernel runs (at a preemption point, or while it idles) does not touch
//! the state either: it masks and records its line ([`irq::arrived`]), and
//! the holder of the state delivers it ([`Kernel::deliver_interrupts`]).

use super::irq;
use crate::sched::RunQueue;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Everything the kernel changes as threads run.
pub struct Kernel {
    /// The runnable threads, the current one, the timed waits.
    pub sched: RunQueue,
    /// Which notification each IRQ line signals, and which lines have a
    /// handler capability.
    pub irqs: irq::Lines,
}

impl Kernel {
    const fn new() -> Self {
        Self {
            sched: RunQueue::new(),
            irqs: irq::Lines::new(),
        }
    }

    /// Delivers what interrupts recorded since the last delivery: each
    /// IRQ line's signal to its notification, and `TimedOut` to the
    /// timed waits whose deadline has passed.
    pub fn deliver_interrupts(&mut self) {
        for (notification, badge) in self.irqs.take_arrived() {
            crate::ipc::signal(&mut self.sched, notification, badge);
        }
        let now = super::cpu::rdtsc();
        while let Some(t) = self.sched.expired(now) {
            crate::ipc::time_out(&mut self.sched, t);
        }
    }
}

/// The state and whether an entry holds it.
struct Cell {
    kernel: UnsafeCell<Kernel>,
    held: AtomicBool,
}

// SAFETY: one CPU; `held` makes [`enter`] hand the state out once at a
// time, and the kernel runs with interrupts disabled except where no
// interrupt handler reaches the state (see the module documentation).
unsafe impl Sync for Cell {}

static STATE: Cell = Cell {
    kernel: UnsafeCell::new(Kernel::new()),
    held: AtomicBool::new(false),
};

/// Takes the state at a kernel entry.
///
/// # Panics
///
/// If an entry holds it already: a kernel entry inside another, which
/// the kernel never makes (a bug, reported as such).
pub fn enter() -> &'static mut Kernel {
    if STATE.held.swap(true, Ordering::Acquire) {
        panic!("the kernel state was taken twice (a kernel entry inside another)");
    }
    // SAFETY: `held` was clear, so no other reference to the state exists
    // (every holder gives its reference back through `leave`, and none
    // keeps a copy); it is set until then.
    unsafe { &mut *STATE.kernel.get() }
}

/// Gives the state back: the CPU is about to leave for user mode (or the
/// holder is done with it), and `kernel`, the reference [`enter`] gave,
/// is not used again.
pub fn leave(kernel: &'static mut Kernel) {
    let _ = kernel;
    STATE.held.store(false, Ordering::Release);
}
