//! Interrupt and exception entry. Each of the 256 vectors has a 32-byte stub
//! that pushes a uniform frame (an error code, then the vector number) and
//! jumps to the common path, which saves every general-purpose register and
//! calls [`trap_dispatch`].
//!
//! A device that programs its own MSI message can raise any vector from 16
//! up, exception vectors included, and perhaps lower ones on an APIC that
//! does not refuse them: nothing but an IOMMU's interrupt remapping stops
//! it. So the kernel never trusts a vector below 32 to be the exception it
//! names:
//! - the stubs of the vectors for which the CPU pushes an error code look
//!   at the frame to see whether it did (see [`HAS_ERROR_CODE`]), and push
//!   [`NO_ERROR_CODE`] where it did not: an interrupt on such a vector is
//!   never misread as an exception frame one word off;
//! - [`trap_dispatch`] drops, with a log line, every vector below 32 that
//!   the local APIC has in service (so it arrived as an interrupt), and
//!   every NMI: a device can send one by its message's delivery mode, and
//!   nothing on this platform sends one for a reason the kernel acts on.

use super::{apic, exception, timer};
use core::sync::atomic::{AtomicU64, Ordering};

/// Vector numbers the kernel gives a meaning.
pub mod vector {
    pub const DIVIDE_ERROR: u8 = 0;
    pub const NMI: u8 = 2;
    pub const BREAKPOINT: u8 = 3;
    /// #NM: an FPU or SSE instruction while CR0.TS is set.
    pub const DEVICE_NOT_AVAILABLE: u8 = 7;
    pub const DOUBLE_FAULT: u8 = 8;
    pub const PAGE_FAULT: u8 = 14;
    pub const MACHINE_CHECK: u8 = 18;
    /// First vector after the architectural exceptions.
    pub const FIRST_EXTERNAL: u8 = 32;
    /// The local APIC timer.
    pub const TIMER: u8 = 32;
    /// Where the legacy PICs are parked (masked) so their spurious
    /// interrupts cannot look like exceptions.
    pub const LEGACY_PIC_BASE: u8 = 0xF0;
    /// The local APIC's spurious-interrupt vector.
    pub const SPURIOUS: u8 = 0xFF;
}

const STUB_SIZE: u64 = 32;

/// Exceptions for which the CPU pushes an error code and that can happen
/// here: 8 and 10-14. (17, alignment check, needs CR0.AM, which the kernel
/// keeps clear; 21, 29 and 30 need CET, SEV-ES and SVM, which it never
/// turns on. Their vectors can only be interrupts.)
const HAS_ERROR_CODE: u32 = 0x0000_7D00;

/// The error code a stub pushes when the CPU pushed none on a vector that
/// has one: the vector arrived as an interrupt. Real error codes fit in 32
/// bits.
pub const NO_ERROR_CODE: u64 = u64::MAX;

/// Code segment selectors the CPU can have pushed (kernel, user).
const KERNEL_CS: u64 = 0x08;
const USER_CS: u64 = super::user::USER_CODE as u64;

core::arch::global_asm!(
    r#"
    .text
    .balign 32
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .balign 32
    .if vec < 32 && ({errmask} >> vec) & 1
    /* With an error code the frame is [error, rip, cs, ...]; without one,
       [rip, cs, rflags, ...], and RFLAGS (bit 1 set, bit 5 clear) never
       equals a code selector. */
    cmpq ${kernel_cs}, 16(%rsp)
    je 1f
    cmpq ${user_cs}, 16(%rsp)
    je 1f
    pushq ${no_error}
1:
    .else
    push $0
    .endif
    push $vec
    jmp trap_common
    .set vec, vec + 1
    .endr
    .global trap_stubs_end
trap_stubs_end:

trap_common:
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, %rdi
    /* All flags clear (see user::KERNEL_CLEARED_FLAGS): the gate cleared
       IF, TF and NT, but not AC (SMAP would be off) or DF. `clac` alone
       would #UD on a CPU without SMAP. */
    pushq $2
    popfq
    call {dispatch}
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rbp
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rbx
    pop %rax
    add $16, %rsp
    iretq
"#,
    errmask = const HAS_ERROR_CODE,
    kernel_cs = const KERNEL_CS,
    user_cs = const USER_CS,
    no_error = const NO_ERROR_CODE as i64,
    dispatch = sym trap_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    static trap_stubs: u8;
    static trap_stubs_end: u8;
}

/// The entry stub of `vector`.
pub fn stub_address(vector: u8) -> u64 {
    let base = &raw const trap_stubs as u64;
    let end = &raw const trap_stubs_end as u64;
    // A stub that outgrew its slot would shift every later one.
    assert!(
        end - base <= 256 * STUB_SIZE,
        "trap stubs overflow their slots"
    );
    base + u64::from(vector) * STUB_SIZE
}

/// The saved state of the interrupted code, in push order reversed.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// Entered from every stub. Entries from user mode never return here (the
/// kernel resumes some thread from its TCB), except for a dropped
/// interrupt on an exception vector, which returns to what it interrupted.
pub extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    super::user::debug_check_entry_flags();
    if frame.vector < u64::from(vector::FIRST_EXTERNAL) && arrived_as_interrupt(frame) {
        drop_forged(frame.vector as u8);
        return;
    }
    if frame.cs & 3 == 3 {
        super::thread::user_entry(frame);
    }
    match frame.vector as u8 {
        v if v < vector::FIRST_EXTERNAL => exception::handle(frame),
        v => interrupt(v),
    }
}

/// Whether the event on exception vector `frame.vector` was not raised by
/// the CPU (see the module documentation).
fn arrived_as_interrupt(frame: &TrapFrame) -> bool {
    let v = frame.vector as u8;
    if HAS_ERROR_CODE & (1 << v) != 0 {
        return frame.error_code == NO_ERROR_CODE;
    }
    v == vector::NMI || apic::in_service(v)
}

/// Interrupts dropped on exception vectors (NMIs included).
static FORGED: AtomicU64 = AtomicU64::new(0);

/// Interrupts dropped so far on exception vectors.
pub fn forged_interrupts() -> u64 {
    FORGED.load(Ordering::Relaxed)
}

/// Ends and forgets an interrupt on exception vector `v`. The first and
/// then every power-of-two-th one is logged, so a device that floods them
/// cannot flood the console too. An NMI is only counted: it can arrive
/// while the kernel holds the console, and it has no end-of-interrupt.
fn drop_forged(v: u8) {
    let n = FORGED.fetch_add(1, Ordering::Relaxed) + 1;
    if v == vector::NMI {
        return;
    }
    apic::end_of_interrupt();
    if n.is_power_of_two() {
        log::warn!(
            "interrupt on exception vector {v} ({}) dropped: a device's forged message ({n} so far)",
            exception::name(usize::from(v))
        );
    }
}

/// Handles the external interrupt on `v`, whatever mode it arrived in.
pub fn interrupt(v: u8) {
    match v {
        v if super::irq::is_irq_vector(u64::from(v)) => super::irq::arrived(v),
        vector::TIMER => {
            // The timed waits it ends are delivered by the holder of the
            // kernel state (`Kernel::deliver_interrupts`).
            timer::tick();
            super::serial::drain();
            apic::end_of_interrupt();
        }
        // Spurious interrupts must not be acknowledged.
        vector::SPURIOUS => {}
        v if v >= vector::LEGACY_PIC_BASE => {}
        v => {
            log::warn!("unexpected interrupt on vector {v:#x}");
            apic::end_of_interrupt();
        }
    }
}
