//! The runtime of a bare-metal Basalt program: the `_start` entry point and
//! the panic handler.
//!
//! # Entry contract
//!
//! The kernel starts the root task at `_start` (the ELF entry point) with:
//!
//! | register | value |
//! | --- | --- |
//! | `rsp` | the top of the initial stack, 16-byte aligned |
//! | `rdi` | the address of the read-only [`BootInfo`] page |
//!
//! `_start` clears `rbp` (so frame-pointer backtraces end there) and the
//! direction flag, then calls [`__libcap_start`] as a System V function, so
//! the stack is aligned as the ABI requires at its entry. That checks the
//! pointer and calls the program's entry function, named by
//! [`entry!`](crate::entry), which never returns.

use crate::BootInfo;
use core::arch::global_asm;
use core::panic::PanicInfo;

global_asm!(
    ".pushsection .text._start, \"ax\", @progbits",
    ".global _start",
    ".type _start, @function",
    "_start:",
    "    xor ebp, ebp",
    "    cld",
    // rsp is 16-byte aligned here; the call pushes 8 bytes, which leaves
    // the callee exactly as the System V ABI wants it. rdi passes through.
    "    call {start}",
    "    ud2",
    ".size _start, . - _start",
    ".popsection",
    start = sym __libcap_start,
);

unsafe extern "Rust" {
    /// The program's entry function, defined by [`entry!`](crate::entry).
    fn __libcap_main(boot_info: &'static BootInfo) -> !;
}

/// Called by `_start` with the boot-info address the kernel passed in `rdi`.
///
/// # Safety
///
/// `boot_info` is null or points to a [`BootInfo`] that stays mapped and
/// unchanged for the rest of the program (the kernel's contract for the
/// root task).
#[unsafe(no_mangle)]
unsafe extern "C" fn __libcap_start(boot_info: *const BootInfo) -> ! {
    assert!(
        !boot_info.is_null() && boot_info.is_aligned(),
        "the kernel passed no usable boot-info address in rdi: {boot_info:p}"
    );
    // SAFETY: non-null and aligned (checked above); mapped read-only for the
    // program's lifetime and never written again, per the caller's contract.
    let boot_info: &'static BootInfo = unsafe { &*boot_info };
    // SAFETY: `entry!` defines `__libcap_main` with exactly this signature
    // (its body type-checks the program's function against it).
    unsafe { __libcap_main(boot_info) }
}

/// Reports the panic on the debug console as `PANIC: <message> at
/// <file>:<line>` and ends the run as a failure.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    match info.location() {
        Some(l) => crate::println!("PANIC: {} at {}:{}", info.message(), l.file(), l.line()),
        None => crate::println!("PANIC: {}", info.message()),
    }
    crate::syscall::debug_exit(false)
}
