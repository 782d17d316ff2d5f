//! Timed system calls: the time-stamp counter read right before and right
//! after one `syscall` instruction, in one `asm!` block so that the compiler
//! puts nothing of its own between the readings.
//!
//! Each reading is `lfence; rdtsc; lfence`: the first fence keeps `rdtsc`
//! from running before the instructions ahead of it have finished, the
//! second keeps the instructions after it from starting early. What a
//! measurement includes besides the system call itself is the fence after
//! the first reading, the moves that load the argument registers and the
//! fence before the second reading; [`overhead`] measures the readings with
//! nothing between them, which is the floor of every figure.

use core::arch::asm;

/// Cycles between two readings with nothing between them.
#[inline(always)]
pub fn overhead() -> u64 {
    let cycles: u64;
    // SAFETY: `lfence` and `rdtsc` only read the time-stamp counter (user
    // mode may: the kernel leaves CR4.TSD clear) and write the registers
    // named here.
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            "lfence",
            "shl rdx, 32",
            "or rax, rdx",
            "mov {t0}, rax",
            "lfence",
            "rdtsc",
            "lfence",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, {t0}",
            t0 = out(reg) _,
            out("rax") cycles,
            out("rdx") _,
            options(nostack, nomem),
        );
    }
    cycles
}

/// Issues system call `NUMBER` with `cap` in `rdi`, `info` in `rsi` and
/// `words` in `rdx, r10, r8, r9`, and returns `(cycles, error)`: the time
/// from before the `syscall` instruction to after its return, and `rax` as
/// the kernel left it.
#[inline(always)]
pub fn timed_syscall<const NUMBER: u64>(cap: u64, info: u64, words: [u64; 4]) -> (u64, u64) {
    let (cycles, error): (u64, u64);
    // SAFETY: `syscall` enters the Basalt kernel, which preserves every
    // register not named here (rcx and r11 are the CPU's; rdi, rsi and the
    // word registers may carry a reply) and never touches this thread's
    // stack. Not `nomem`: the kernel may read or write the IPC buffer.
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            "lfence",
            "shl rdx, 32",
            "or rax, rdx",
            "mov {t0}, rax",
            "mov eax, {number}",
            "mov rdx, {w0}",
            "syscall",
            "mov {error}, rax",
            "lfence",
            "rdtsc",
            "lfence",
            "shl rdx, 32",
            "or rax, rdx",
            "sub rax, {t0}",
            number = const NUMBER,
            w0 = in(reg) words[0],
            t0 = out(reg) _,
            error = out(reg) error,
            out("rax") cycles,
            out("rdx") _,
            inout("rdi") cap => _,
            inout("rsi") info => _,
            inout("r10") words[1] => _,
            inout("r8") words[2] => _,
            inout("r9") words[3] => _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    (cycles, error)
}

/// Issues system call `NUMBER` on `cap` with an empty message and returns
/// `(start, error)`: the time-stamp counter read right before the `syscall`
/// instruction, and `rax` as the kernel left it. For latencies that end in
/// another thread, which reads the counter itself.
#[inline(always)]
pub fn stamped_syscall<const NUMBER: u64>(cap: u64) -> (u64, u64) {
    let (start, error): (u64, u64);
    // SAFETY: as for `timed_syscall`.
    unsafe {
        asm!(
            "lfence",
            "rdtsc",
            "lfence",
            "shl rdx, 32",
            "or rax, rdx",
            "mov {t0}, rax",
            "mov eax, {number}",
            "xor esi, esi",
            "syscall",
            "mov rdx, rax",
            "mov rax, {t0}",
            number = const NUMBER,
            t0 = out(reg) _,
            out("rax") start,
            out("rdx") error,
            inout("rdi") cap => _,
            out("rsi") _,
            out("r10") _,
            out("r8") _,
            out("r9") _,
            out("rcx") _,
            out("r11") _,
            options(nostack),
        );
    }
    (start, error)
}
