//! The runtime of a bare-metal Basalt program: the `_start` entry point and
//! the panic handler. What they do for each entry form is in
//! [`crate::runtime`].
//!
//! # Entry contract
//!
//! The kernel starts the root task, and `init` starts each component, at
//! `_start` (the ELF entry point) with:
//!
//! | register | value |
//! | --- | --- |
//! | `rsp` | the top of the initial stack, 16-byte aligned |
//! | `rdi` | the address of the read-only boot-info page (root task) or start-info page (component) |
//!
//! `_start` clears `rbp` (so frame-pointer backtraces end there) and the
//! direction flag, then calls [`__libcap_start`] as a System V function, so
//! the stack is aligned as the ABI requires at its entry. That calls
//! `__libcap_main`, which [`entry!`](crate::entry) or
//! [`component!`](crate::component) defines: it hands `rdi` to
//! [`runtime::enter_root_task`](crate::runtime::enter_root_task) or
//! [`runtime::enter_component`](crate::runtime::enter_component), which
//! check the page and call the program's function.

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
    /// The program's entry, defined by [`entry!`](crate::entry) or
    /// [`component!`](crate::component): takes `rdi` as `_start` got it.
    fn __libcap_main(rdi: u64) -> !;
}

/// Called by `_start` with the page address the kernel or `init` passed in
/// `rdi`.
///
/// # Safety
///
/// Called once, by `_start`, as the program's first code.
#[unsafe(no_mangle)]
unsafe extern "C" fn __libcap_start(rdi: u64) -> ! {
    // SAFETY: `entry!` and `component!` define `__libcap_main` with exactly
    // this signature; each checks `rdi` before using it.
    unsafe { __libcap_main(rdi) }
}

/// Reports the panic and ends the program as the active entry form wants
/// (root task: `PANIC: <message> at <file>:<line>`, then `DebugExit`
/// failure; component: `PANIC in <name>: …`, then a deliberate fault for
/// `init`); see [`crate::runtime`].
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    crate::runtime::panic(info)
}
