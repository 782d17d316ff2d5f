//! Running user threads: kernel entry from user mode, the scheduler's
//! choice of the next thread, user faults, and the kernel's implementation
//! of the object model's [`Machine`] interface.

use super::trap::{TrapFrame, vector};
use super::{apic, boot, exception, timer, user, vspace};
use crate::object::cap::{Asid, Cap, Mapping};
use crate::object::objects::{Tcb, ThreadState, tcb_slot};
use crate::object::ops::Machine;
use crate::sched::{RunQueue, TcbRef};
use spin::Mutex;
use x86_64::registers::control::Cr2;

pub static RUN_QUEUE: Mutex<RunQueue> = Mutex::new(RunQueue::new());

/// The kernel's side of the object model.
pub struct KernelMachine;

impl Machine for KernelMachine {
    fn create_vspace(&mut self, base: u64) -> Option<Asid> {
        vspace::create(base)
    }
    fn destroy_vspace(&mut self, asid: Asid, base: u64) {
        vspace::destroy(asid, base)
    }
    fn unmap_frame(&mut self, mapping: Mapping, base: u64, large: bool) {
        vspace::unmap_frame(mapping, base, large)
    }
    fn unmap_page_table(&mut self, mapping: Mapping, level: u8, base: u64) {
        vspace::unmap_page_table(mapping, level, base)
    }
    fn release_irq(&mut self, irq: u8) {
        super::invoke::release_irq(irq)
    }
    fn forget_thread(&mut self, tcb: u64) {
        TcbRef(tcb).with(|t| t.state = ThreadState::Inactive);
        RUN_QUEUE.lock().remove(TcbRef(tcb));
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

/// Every entry from user mode: save the thread's registers, handle the
/// event, run whichever thread should run next.
pub fn user_entry(frame: &TrapFrame) -> ! {
    let current = RUN_QUEUE.lock().current;
    let Some(thread) = current else {
        // Nothing was running in user mode; treat as a kernel bug.
        exception::handle(frame)
    };
    thread.with(|t| save(frame, t));
    match frame.vector {
        vector::SYSCALL => super::invoke::syscall(thread),
        v if v < u64::from(vector::FIRST_EXTERNAL) => user_fault(thread, frame),
        v if v == u64::from(vector::TIMER) => {
            timer::tick();
            apic::end_of_interrupt();
            RUN_QUEUE.lock().rotate();
        }
        v if v == u64::from(vector::SPURIOUS) || v >= u64::from(vector::LEGACY_PIC_BASE) => {}
        _ => apic::end_of_interrupt(),
    }
    schedule()
}

/// A user thread faulted and has no fault handler (those arrive with IPC):
/// report it and suspend it. The kernel itself carries on.
fn user_fault(thread: TcbRef, frame: &TrapFrame) {
    let cr2 = if frame.vector == 14 {
        Cr2::read_raw()
    } else {
        0
    };
    log::error!(
        "thread {:#x} faulted: {} at RIP {:#x} (error code {:#x}, CR2 {:#x}, RSP {:#x}); suspended, it has no fault handler",
        thread.0,
        exception::name(frame.vector as usize),
        frame.rip,
        frame.error_code,
        cr2,
        frame.rsp
    );
    suspend(thread);
}

/// Stops `thread` from running until it is resumed.
pub fn suspend(thread: TcbRef) {
    thread.with(|t| t.state = ThreadState::Inactive);
    RUN_QUEUE.lock().remove(thread);
}

/// Makes `thread` runnable.
pub fn resume(thread: TcbRef) {
    thread.with(|t| t.state = ThreadState::Runnable);
    RUN_QUEUE.lock().push(thread);
}

/// Lets the next runnable thread run.
pub fn yield_current() {
    RUN_QUEUE.lock().rotate();
}

/// Runs the current thread if it can still run, else the next runnable
/// one; idles (interrupts on, CPU halted) while there is none.
pub fn schedule() -> ! {
    loop {
        let next = {
            let mut q = RUN_QUEUE.lock();
            match q.current {
                Some(c) if c.with(|t| t.state) == ThreadState::Runnable => Some(c),
                _ => q.rotate(),
            }
        };
        if let Some(thread) = next {
            match Tcb::slot(thread.0, tcb_slot::VSPACE).cap() {
                Cap::VSpace { base, asid } => {
                    vspace::activate(asid, base);
                    // SAFETY: the TCB is live (it is current), and nothing
                    // else touches its context until the thread re-enters.
                    user::resume(unsafe { &(*thread.ptr()).context })
                }
                _ => {
                    log::error!(
                        "thread {:#x} has no address space any more; suspended",
                        thread.0
                    );
                    suspend(thread);
                    continue;
                }
            }
        }
        if boot::in_self_test() {
            boot::fatal(format_args!("no thread is left to run"));
        }
        x86_64::instructions::interrupts::enable_and_hlt();
        x86_64::instructions::interrupts::disable();
    }
}
