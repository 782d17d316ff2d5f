//! CPU exceptions. With no user code running yet, every exception is a
//! kernel bug: the handler prints everything needed to find it and stops
//! the machine (in self-test mode, QEMU exits with the failure code).

use super::stacks;
use super::trap::TrapFrame;
use crate::arch::x86_64::serial::write_fmt_emergency;
use x86_64::registers::control::Cr2;

macro_rules! report {
    ($($arg:tt)*) => { write_fmt_emergency(format_args!("{}\n", format_args!($($arg)*))) };
}

const NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved (15)",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection fault",
    "reserved (22)",
    "reserved (23)",
    "reserved (24)",
    "reserved (25)",
    "reserved (26)",
    "reserved (27)",
    "hypervisor injection",
    "VMM communication",
    "security exception",
    "reserved (31)",
];

/// Deepest call chain the backtrace follows.
const MAX_FRAMES: usize = 32;

/// The exception's name.
pub fn name(vector: usize) -> &'static str {
    NAMES[vector % 32]
}

pub fn handle(frame: &TrapFrame) -> ! {
    let vector = frame.vector as usize;
    report!(
        "\nKERNEL FAULT: {} (vector {vector}), error code {:#x}",
        NAMES[vector % 32],
        frame.error_code
    );
    if vector == 14 {
        let e = frame.error_code;
        report!(
            "  CR2 {:#018x}: {} {} in {} mode{}",
            Cr2::read_raw(),
            if e & 1 != 0 {
                "protection violation on"
            } else {
                "not-present page on"
            },
            if e & 0x10 != 0 {
                "instruction fetch"
            } else if e & 2 != 0 {
                "write"
            } else {
                "read"
            },
            if e & 4 != 0 { "user" } else { "kernel" },
            if e & 8 != 0 { ", reserved bit set" } else { "" },
        );
    }
    report!(
        "  RIP {:#018x}  CS {:#06x}  RFLAGS {:#010x}",
        frame.rip,
        frame.cs,
        frame.rflags
    );
    report!("  RSP {:#018x}  SS {:#06x}", frame.rsp, frame.ss);
    report!(
        "  RAX {:#018x}  RBX {:#018x}  RCX {:#018x}",
        frame.rax,
        frame.rbx,
        frame.rcx
    );
    report!(
        "  RDX {:#018x}  RSI {:#018x}  RDI {:#018x}",
        frame.rdx,
        frame.rsi,
        frame.rdi
    );
    report!(
        "  RBP {:#018x}  R8  {:#018x}  R9  {:#018x}",
        frame.rbp,
        frame.r8,
        frame.r9
    );
    report!(
        "  R10 {:#018x}  R11 {:#018x}  R12 {:#018x}",
        frame.r10,
        frame.r11,
        frame.r12
    );
    report!(
        "  R13 {:#018x}  R14 {:#018x}  R15 {:#018x}",
        frame.r13,
        frame.r14,
        frame.r15
    );
    report!(
        "  backtrace (resolve with `addr2line -e target/x86_64-unknown-none/debug/basalt-kernel`):"
    );
    report!("    #0  {:#018x}", frame.rip);
    let mut rbp = frame.rbp;
    for depth in 1..MAX_FRAMES {
        // Each frame holds the caller's RBP at [rbp] and the return address
        // at [rbp + 8]; only follow pointers that stay on a kernel stack.
        if !rbp.is_multiple_of(8)
            || !stacks::on_kernel_stack(rbp)
            || !stacks::on_kernel_stack(rbp + 15)
        {
            break;
        }
        // SAFETY: both words lie on a mapped kernel stack (checked above).
        let (next, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            break;
        }
        report!("    #{depth:<2} {ret:#018x}");
        if next <= rbp {
            break;
        }
        rbp = next;
    }
    report!("kernel stopped.");
    super::boot::stop(false)
}
