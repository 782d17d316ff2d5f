//! Interrupt and exception entry. Each of the 256 vectors has a 16-byte stub
//! that pushes a uniform frame (a zero where the CPU pushes no error code,
//! then the vector number) and jumps to the common path, which saves every
//! general-purpose register and calls [`trap_dispatch`].

use super::{apic, exception, timer};

/// Vector numbers the kernel gives a meaning.
pub mod vector {
    pub const DIVIDE_ERROR: u8 = 0;
    pub const NMI: u8 = 2;
    pub const BREAKPOINT: u8 = 3;
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

const STUB_SIZE: u64 = 16;

/// Exceptions for which the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30.
const HAS_ERROR_CODE: u32 = 0x6022_7D00;

core::arch::global_asm!(
    r#"
    .text
    .balign 16
    .global trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if vec < 32
    .if ({errmask} >> vec) & 1
    .else
    push $0
    .endif
    .else
    push $0
    .endif
    push $vec
    jmp trap_common
    .set vec, vec + 1
    .endr

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
    cld
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
    dispatch = sym trap_dispatch,
    options(att_syntax)
);

unsafe extern "C" {
    static trap_stubs: u8;
}

/// The entry stub of `vector`.
pub fn stub_address(vector: u8) -> u64 {
    // SAFETY: only the symbol's address is taken.
    let base = unsafe { &trap_stubs as *const u8 as u64 };
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

/// Entered from every stub. Entries from user mode never return here: the
/// kernel resumes some thread from its TCB.
pub extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    if frame.cs & 3 == 3 {
        super::thread::user_entry(frame);
    }
    match frame.vector as u8 {
        v if v < vector::FIRST_EXTERNAL => exception::handle(frame),
        v => interrupt(v),
    }
}

/// Handles the external interrupt on `v`, whatever mode it arrived in.
pub fn interrupt(v: u8) {
    match v {
        v if super::irq::is_irq_vector(u64::from(v)) => super::irq::handle(v),
        vector::TIMER => {
            timer::tick();
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
