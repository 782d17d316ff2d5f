//! `libcap`: the user-space library every Basalt component links.
//!
//! | module | holds |
//! | --- | --- |
//! | [`syscall`] | the `syscall` instruction per the register ABI of [`basalt_abi`]: [`raw`](syscall::raw), [`invoke`](syscall::invoke), [`yield_now`](syscall::yield_now), [`null_syscall`](syscall::null_syscall), [`debug_write`](syscall::debug_write), [`debug_exit`](syscall::debug_exit) |
//! | [`invoke`] | one typed function per invocation label of [`basalt_abi::label`] |
//! | [`ipc`] | messages through endpoints ([`send`](ipc::send), [`recv`](ipc::recv), [`call`](ipc::call), [`reply_recv`](ipc::reply_recv), …) and notifications ([`signal`](ipc::signal), [`wait`](ipc::wait), [`poll`](ipc::poll)) |
//! | [`ipc_buffer`] | the calling thread's IPC buffer, which carries message words 4 and up and the capability-transfer words |
//! | [`console`] | [`print!`] and [`println!`] over the kernel's debug console, without a heap |
//! | `rt` | (bare-metal target only) the `_start` entry point and the panic handler |
//!
//! A program names its entry function with [`entry!`] and links with
//! `libcap/link.ld` (see `docs/architecture.md`).
//!
//! # Conventions this library relies on
//!
//! - Every thread that uses invocations with more than four message words
//!   ([`invoke::untyped_retype`], [`invoke::cnode_mint`]), or IPC with long
//!   messages or capabilities ([`ipc`]), has its IPC buffer
//!   mapped read-write at [`ipc_buffer::ADDRESS`] (the root task's, as the
//!   kernel maps it; other address spaces by convention), and only this
//!   library touches that page.
//! - Capability addresses are what the kernel resolves in the caller's
//!   CSpace; in the root task, the address of root-CNode slot `i` is `i`.
//!
//! System calls exist only under the Basalt kernel: on any other target the
//! library compiles (so the workspace builds and tests on the host) but a
//! system call panics.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod console;
pub mod invoke;
pub mod ipc;
pub mod ipc_buffer;
#[cfg(target_os = "none")]
mod rt;
pub mod syscall;

/// The system-call ABI this library speaks, re-exported for programs.
pub use basalt_abi as abi;
/// Why a system call failed.
pub use basalt_abi::Error;
/// The boot-info page the root task's entry function receives.
pub use basalt_abi::boot_info::BootInfo;

/// Names the program's entry function: `libcap::entry!(main_task);` where
/// `fn main_task(boot_info: &'static libcap::BootInfo) -> !`.
///
/// The runtime's `_start` calls it with the boot-info page the kernel passed
/// in `rdi`. The macro defines the unmangled symbol `__libcap_main`, so a
/// program uses it exactly once; without it, linking for the bare-metal
/// target fails with an undefined `__libcap_main`.
#[macro_export]
macro_rules! entry {
    ($path:path) => {
        /// The program's entry point, called by libcap's `_start`.
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __libcap_main(boot_info: &'static $crate::BootInfo) -> ! {
            let entry: fn(&'static $crate::BootInfo) -> ! = $path;
            entry(boot_info)
        }
    };
}
