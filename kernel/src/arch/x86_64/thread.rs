//! Running user threads: kernel entry from user mode, the scheduler's
//! choice of the next thread, user faults, and the kernel's implementation
//! of the object model's [`Machine`] interface.

use super::state::{self, Kernel};
use super::trap::{TrapFrame, vector};
use super::{boot, exception, timer, user, vspace};
use crate::ipc;
use crate::object::cap::{Asid, Cap, Mapping};
use crate::object::objref::{EndpointRef, IpcCap, NotificationRef, TcbRef};
use crate::object::ops::Machine;
use crate::object::tcb::{SendKind, Tcb, ThreadState, tcb_slot};
use crate::sched::RunQueue;
use basalt_abi::{Error, MessageInfo, Rights, Syscall, fault};
use x86_64::registers::control::Cr2;

/// The kernel's side of the object model, working on the kernel state.
pub struct KernelMachine<'k>(pub &'k mut Kernel);

impl Machine for KernelMachine<'_> {
    fn create_vspace(&mut self, base: u64) -> Option<Asid> {
        vspace::create(base)
    }
    fn destroy_vspace(&mut self, asid: Asid, base: u64) {
        vspace::destroy(asid, base)
    }
    fn map_frame(
        &mut self,
        asid: Asid,
        vaddr: u64,
        base: u64,
        large: bool,
        device: bool,
        rights: Rights,
    ) -> Result<(), Error> {
        vspace::map_frame(asid, vaddr, base, large, device, rights)
    }
    fn unmap_frame(&mut self, mapping: Mapping, base: u64, large: bool) {
        vspace::unmap_frame(mapping, base, large)
    }
    fn map_page_table(
        &mut self,
        asid: Asid,
        level: u8,
        vaddr: u64,
        base: u64,
    ) -> Result<u64, Error> {
        vspace::map_page_table(asid, level, vaddr, base)
    }
    fn unmap_page_table(&mut self, mapping: Mapping, level: u8, base: u64) {
        vspace::unmap_page_table(mapping, level, base)
    }
    fn clear_page_table(&mut self, base: u64) {
        vspace::clear_page_table(base)
    }
    fn release_irq(&mut self, irq: u8) {
        self.0.irqs.release(irq)
    }
    fn forget_thread(&mut self, tcb: TcbRef) {
        ipc::cancel(&mut self.0.sched, tcb, true);
        super::fpu::forget(tcb);
    }
    fn destroy_endpoint(&mut self, ep: EndpointRef) {
        ipc::destroy_endpoint(&mut self.0.sched, ep);
    }
    fn destroy_notification(&mut self, ntfn: NotificationRef) {
        self.0.irqs.forget_notification(ntfn);
        ipc::destroy_notification(&mut self.0.sched, ntfn);
    }
    fn drop_reply(&mut self, caller: TcbRef) {
        ipc::drop_reply(&mut self.0.sched, caller);
    }
    fn set_priority(&mut self, tcb: TcbRef, priority: u8) {
        self.0.sched.set_priority(tcb, priority);
    }
    fn resume(&mut self, tcb: TcbRef) {
        resume(self.0, tcb);
    }
    fn suspend(&mut self, tcb: TcbRef) {
        suspend(self.0, tcb);
    }
    /// Lets pending interrupts in (they only record their lines, see
    /// [`super::state`]), delivers them, then stops the operation if a
    /// thread of higher priority than the caller became runnable: its
    /// driver's interrupt should not wait for a revoke or a retype to
    /// finish.
    fn preempt(&mut self) -> bool {
        x86_64::instructions::interrupts::enable();
        x86_64::instructions::nop();
        x86_64::instructions::interrupts::disable();
        self.0.deliver_interrupts();
        let rq = &self.0.sched;
        rq.current
            .is_some_and(|cur| rq.highest().is_some_and(|h| h > cur.priority()))
    }
}

fn save(frame: &TrapFrame, tcb: &mut Tcb) {
    let c = &mut tcb.context;
    (c.r15, c.r14, c.r13, c.r12, c.r11, c.r10, c.r9, c.r8) = (
        frame.r15, frame.r14, frame.r13, frame.r12, frame.r11, frame.r10, frame.r9, frame.r8,
    );
    (c.rbp, c.rdi, c.rsi, c.rdx, c.rcx, c.rbx, c.rax) = (
        frame.rbp, frame.rdi, frame.rsi, frame.rdx, frame.rcx, frame.rbx, frame.rax,
    );
    (c.rip, c.rsp, c.rflags) = (frame.rip, frame.rsp, frame.rflags);
}

/// A system call: the entry code has saved the registers into the current
/// thread's TCB already.
pub extern "C" fn handle_syscall() -> ! {
    user::debug_check_entry_flags();
    let k = state::enter();
    let Some(thread) = k.sched.current else {
        schedule(k)
    };
    // `Null` decodes nothing and changes nothing, the timer included (it
    // passes no preemption point): straight back, without the decoder's
    // frame or re-arming the slice. What it measures is the crossing
    // itself (docs/perf.md). The rest is inlined here: a function of its
    // own would spare `Null` this frame's saved registers (4 of its 70
    // instructions), but cost the IPC fast paths 11 on every call.
    let number = thread.with(|t| t.context.rax);
    if number != Syscall::Null as u64 {
        dispatch(k, thread, number)
    }
    thread.with(|t| t.context.rax = 0);
    state::leave(k);
    // SAFETY: as in `dispatch`.
    user::return_to_caller(unsafe { &(*thread.as_ptr()).context })
}

/// System call `number` of the current `thread`: the IPC fast paths,
/// else the decoder; then back to the caller, to the thread a fast path
/// or signal handed the CPU to, or to the scheduler.
#[inline(always)]
fn dispatch(k: &'static mut Kernel, thread: TcbRef, number: u64) -> ! {
    let call = number == Syscall::Call as u64;
    let mut rdi_slot = None;
    if call || number == Syscall::ReplyRecv as u64 {
        match super::invoke::fast_ipc(k, thread, call) {
            Ok(()) => match k.sched.current {
                Some(to) => handoff(k, to),
                None => schedule(k),
            },
            Err(looked_up) => rdi_slot = looked_up,
        }
    }
    let next = super::invoke::syscall(k, thread, rdi_slot);
    if next == super::invoke::Next::Handoff
        && let Some(to) = k.sched.current
    {
        handoff(k, to)
    }
    if next == super::invoke::Next::Caller || k.sched.keeps_running(thread) {
        // The slice's timer may have fired at a preemption point.
        arm_for_running(&k.sched);
        state::leave(k);
        // SAFETY: the thread is live and current; nothing else touches
        // its context until it enters the kernel again.
        user::return_to_caller(unsafe { &(*thread.as_ptr()).context })
    }
    schedule(k)
}

/// Every interrupt or exception from user mode: save the thread's
/// registers, handle the event, run whichever thread should run next.
pub fn user_entry(frame: &TrapFrame) -> ! {
    let k = state::enter();
    let Some(thread) = k.sched.current else {
        // Nothing was running in user mode; treat as a kernel bug.
        exception::handle(frame)
    };
    thread.with(|t| save(frame, t));
    match frame.vector as u8 {
        vector::DEVICE_NOT_AVAILABLE => super::fpu::claim(thread),
        v if v < vector::FIRST_EXTERNAL => user_fault(k, thread, frame),
        v => {
            super::trap::interrupt(v);
            k.deliver_interrupts();
            if v == vector::TIMER {
                // The end of a time slice: the next thread of this priority.
                k.sched.rotate();
            }
        }
    }
    schedule(k)
}

/// A user thread faulted: its fault handler gets a fault message, or, if
/// it has none, the thread is reported and suspended. The kernel itself
/// carries on either way.
fn user_fault(k: &mut Kernel, thread: TcbRef, frame: &TrapFrame) {
    let cr2 = if frame.vector == 14 {
        Cr2::read_raw()
    } else {
        0
    };
    let label = match frame.vector {
        14 => fault::PAGE_FAULT,
        13 => fault::GENERAL_PROTECTION,
        6 => fault::INVALID_OPCODE,
        0 => fault::DIVIDE_ERROR,
        3 => fault::BREAKPOINT,
        _ => fault::OTHER_EXCEPTION,
    };
    let code = if label == fault::OTHER_EXCEPTION {
        frame.vector
    } else {
        frame.error_code
    };
    if send_fault(k, thread, label, [frame.rip, frame.rsp, cr2, code]) {
        return;
    }
    log::error!(
        "thread {:#x} faulted: {} at RIP {:#x} (error code {:#x}, CR2 {:#x}, RSP {:#x}); suspended, it has no fault handler",
        thread.addr(),
        exception::name(frame.vector as usize),
        frame.rip,
        frame.error_code,
        cr2,
        frame.rsp
    );
    suspend(k, thread);
}

/// Sends a fault message for `thread` to its fault endpoint, as if the
/// thread had called it. False if it has no (usable) fault endpoint.
pub fn send_fault(k: &mut Kernel, thread: TcbRef, label: u64, words: [u64; 4]) -> bool {
    let Some(IpcCap::Endpoint { ep, badge, .. }) = thread.slot(tcb_slot::FAULT_ENDPOINT).ipc_cap()
    else {
        return false;
    };
    thread.with(|t| t.ipc.fault = [label, words[0], words[1], words[2], words[3]]);
    let info = MessageInfo::new(label, 4);
    ipc::send(
        &mut k.sched,
        thread,
        ep,
        badge,
        false,
        info,
        SendKind::Fault,
        true,
    )
    .is_ok()
}

/// Stops `thread` until it is resumed, wherever it is in IPC.
pub fn suspend(k: &mut Kernel, thread: TcbRef) {
    ipc::cancel(&mut k.sched, thread, false);
}

/// Makes an inactive `thread` runnable (a blocked one stays blocked).
pub fn resume(k: &mut Kernel, thread: TcbRef) {
    if thread.state() == ThreadState::Inactive {
        thread.with(|t| t.state = ThreadState::Runnable);
        k.sched.push(thread);
    }
}

/// Runs `to`, which an IPC fast path or a signal made current
/// ([`Next::Handoff`]), as [`schedule`] would but without choosing: its
/// address space, its FPU state, the slice's timer, and back to user mode
/// with `sysretq` (it waited in a system call).
///
/// [`Next::Handoff`]: super::invoke::Next::Handoff
fn handoff(k: &'static mut Kernel, to: TcbRef) -> ! {
    let Cap::VSpace { base, asid } = to.slot(tcb_slot::VSPACE).cap() else {
        schedule(k)
    };
    vspace::activate(asid, base);
    super::fpu::switch_to(to);
    // A handoff only ever takes timed waits away (the woken thread's), so
    // a timer set for the slice or sooner is still early enough.
    if !timer::slice_armed() {
        arm_for_running(&k.sched);
    }
    state::leave(k);
    // SAFETY: the TCB is live (it is current); it waited in a system call,
    // so its RCX and R11 are the ABI's to clobber and its RIP is a user
    // address; nothing else touches its context until it re-enters.
    unsafe { user::return_to_syscaller(&(*to.as_ptr()).context) }
}

/// Runs the current thread if it can still run, else the next runnable
/// one; idles (interrupts on, CPU halted) while there is none. Gives the
/// kernel state back as the thread enters user mode.
pub fn schedule(k: &'static mut Kernel) -> ! {
    loop {
        if let Some(thread) = k.sched.choose() {
            match thread.slot(tcb_slot::VSPACE).cap() {
                Cap::VSpace { base, asid } => {
                    vspace::activate(asid, base);
                    super::fpu::switch_to(thread);
                    arm_for_running(&k.sched);
                    state::leave(k);
                    // SAFETY: the TCB is live (it is current), and nothing
                    // else touches its context until the thread re-enters.
                    user::resume(unsafe { &(*thread.as_ptr()).context })
                }
                _ => {
                    log::error!(
                        "thread {:#x} has no address space any more; suspended",
                        thread.addr()
                    );
                    suspend(k, thread);
                    continue;
                }
            }
        }
        idle(k);
    }
}

/// How long a self-test may sit with no runnable thread before it counts
/// as hung (threads may legitimately wait for interrupts meanwhile).
const SELF_TEST_IDLE_LIMIT_NS: u64 = 10_000_000_000;

/// Sets the timer for the thread about to run: the end of its slice, or
/// the earliest timed wait's deadline if that comes first. A timer set
/// sooner already stays, so a thread that blocks and runs again often
/// does not reprogram it each time.
fn arm_for_running(rq: &RunQueue) {
    timer::arm_slice(rq.next_deadline());
}

/// When the idle CPU must wake with no interrupt to wake it: the earliest
/// timed wait's deadline; soon, while console output waits for the UART;
/// within a second in self-test mode, for the hang check below. `None`:
/// not at all (tickless).
fn idle_wake(rq: &RunQueue) -> Option<u64> {
    let soon = |us: u64| super::cpu::rdtsc() + timer::tsc_hz() * us / 1_000_000;
    let mut at = rq.next_deadline();
    let mut sooner = |t: u64| at = Some(at.map_or(t, |a| a.min(t)));
    if super::serial::output_waiting() {
        sooner(soon(1_000));
    }
    if boot::in_self_test() {
        sooner(soon(1_000_000));
    }
    at
}

/// Halts until an interrupt has made a thread runnable (interrupts only
/// record their lines meanwhile: it delivers them after each halt).
fn idle(k: &mut Kernel) {
    let started = timer::nanos_since_boot();
    loop {
        super::serial::drain();
        timer::arm(idle_wake(&k.sched));
        x86_64::instructions::interrupts::enable_and_hlt();
        x86_64::instructions::interrupts::disable();
        k.deliver_interrupts();
        let q = &k.sched;
        if q.current.is_some() || q.highest().is_some() {
            return;
        }
        if boot::in_self_test() && timer::nanos_since_boot() - started > SELF_TEST_IDLE_LIMIT_NS {
            boot::fatal(format_args!("no thread has been runnable for 10 s"));
        }
    }
}
