//! Floating-point and SIMD state (x87, SSE: what `fxsave` covers), kept per
//! thread and switched lazily, as seL4 does on x86.
//!
//! CR0.TS is set whenever the thread about to run is not the one whose
//! state the FPU holds (the owner), so its first FPU or SSE instruction
//! raises #NM. The handler saves the owner's registers into the owner's
//! TCB, loads the new thread's (a fresh state the first time), makes it
//! the owner and lets the instruction run again. A thread that never
//! touches the FPU costs nothing; two that share it pay one save and one
//! load per switch between them.
//!
//! The kernel itself never uses these registers: its target is built
//! without SSE, and nothing in it uses the x87. AVX and later state (XSAVE)
//! is not enabled (CR4.OSXSAVE stays clear), so those instructions fault
//! as invalid opcodes.

use super::context::FpuState;
use crate::object::objref::TcbRef;
use crate::object::tcb::Tcb;
use core::ptr;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

/// The thread whose state the FPU registers hold (null: none). A pointer
/// rather than a locked `TcbRef`, as every switch between threads reads
/// it; a TCB gives the FPU up in `forget` before it dies.
static OWNER: AtomicPtr<Tcb> = AtomicPtr::new(ptr::null_mut());
/// Whether CR0.TS is set now (so switching need not read CR0).
static TRAPPING: AtomicBool = AtomicBool::new(true);

/// The state a thread starts with: what `fninit` and the default MXCSR
/// (every SIMD exception masked, round to nearest) give.
static CLEAN: FpuState = FpuState::clean();

/// Turns the FPU and SSE on for user threads, trapping first use: CR0.MP
/// and NE set (`wait` traps too; x87 errors are exceptions, not the legacy
/// IRQ 13), EM clear, TS set; CR4.OSFXSR (SSE, `fxsave`) and OSXMMEXCPT
/// (SIMD exceptions as #XM) set. Also clears CR0.AM: alignment checking
/// would let user code raise #AC, an exception with an error code, on a
/// vector a device can also use (see `trap.rs`).
pub fn init() {
    // SAFETY: the kernel does not use the FPU, so trapping its first use
    // affects user threads only; every flag here is architectural on
    // x86_64 (SSE2 and FXSR are part of it).
    unsafe {
        Cr0::update(|f| {
            f.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::ALIGNMENT_MASK);
            f.insert(
                Cr0Flags::MONITOR_COPROCESSOR | Cr0Flags::NUMERIC_ERROR | Cr0Flags::TASK_SWITCHED,
            );
        });
        Cr4::update(|f| f.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
    TRAPPING.store(true, Ordering::Relaxed);
}

fn set_trapping(on: bool) {
    if TRAPPING.swap(on, Ordering::Relaxed) == on {
        return;
    }
    // SAFETY: TS only decides whether the next FPU instruction traps.
    unsafe {
        if on {
            Cr0::update(|f| f.insert(Cr0Flags::TASK_SWITCHED));
        } else {
            core::arch::asm!("clts", options(nomem, nostack));
        }
    }
}

/// `thread` is about to run: its FPU instructions trap unless it owns the
/// FPU. (On every thread switch, so inlined.)
#[inline]
pub fn switch_to(thread: TcbRef) {
    set_trapping(OWNER.load(Ordering::Relaxed) != thread.as_ptr());
}

/// #NM from `thread`, which used the FPU while another thread owned it (or
/// nobody did): the FPU becomes its own.
pub fn claim(thread: TcbRef) {
    set_trapping(false);
    let owner = OWNER.swap(thread.as_ptr(), Ordering::Relaxed);
    if owner == thread.as_ptr() {
        return;
    }
    if !owner.is_null() {
        // SAFETY: the owner's TCB is live: a TCB gives the FPU up in
        // `forget` before it dies.
        let owner = unsafe { TcbRef::from_addr(owner as u64) };
        owner.with(|t| {
            // SAFETY: the state area is 512 bytes, 16-byte aligned, as
            // `fxsave64` wants.
            unsafe { core::arch::x86_64::_fxsave64(t.fpu.bytes.as_mut_ptr()) };
            t.fpu_used = true;
        });
    }
    thread.with(|t: &mut Tcb| {
        let from = if t.fpu_used { &t.fpu } else { &CLEAN };
        // SAFETY: a complete `fxsave` image: saved above or by an earlier
        // claim, or the clean one; 16-byte aligned. Its reserved MXCSR
        // bits are clear (the CPU wrote it, or `FpuState::clean` did).
        unsafe { core::arch::x86_64::_fxrstor64(from.bytes.as_ptr()) };
    });
}

/// `thread` is going away: if it owns the FPU, its state is dropped.
pub fn forget(thread: TcbRef) {
    if OWNER
        .compare_exchange(
            thread.as_ptr(),
            ptr::null_mut(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        )
        .is_ok()
    {
        set_trapping(true);
    }
}
