//! `libcap`: the user-space library every Basalt component links.
//!
//! | module | holds |
//! | --- | --- |
//! | [`syscall`] | the `syscall` instruction per the register ABI of [`basalt_abi`]: [`raw`](syscall::raw), [`invoke`](syscall::invoke), [`yield_now`](syscall::yield_now), [`null_syscall`](syscall::null_syscall), [`debug_write`](syscall::debug_write), [`debug_exit`](syscall::debug_exit) |
//! | [`invoke`] | one typed function per invocation label of [`basalt_abi::label`] |
//! | [`ipc`] | messages through endpoints ([`send`](ipc::send), [`recv`](ipc::recv), [`call`](ipc::call), [`reply_recv`](ipc::reply_recv), …), replies saved for later ([`save_reply`](ipc::save_reply), [`Reply`](ipc::Reply)) and notifications ([`signal`](ipc::signal), [`wait`](ipc::wait), [`poll`](ipc::poll)) |
//! | [`ipc_buffer`] | the calling thread's IPC buffer, which carries message words 4 and up and the capability-transfer words |
//! | [`cap`] | typed capability handles ([`Endpoint`], [`Notification`], [`Frame`], [`Untyped`], [`CNode`], [`Tcb`], [`VSpace`], [`IrqHandler`], [`IoPorts`], …) with their operations as methods |
//! | [`start`] | a component's start-info page as [`Start`]: its name, generation, arguments and capabilities by name |
//! | [`runtime`] | the two entry forms ([`entry!`], [`component!`]), exit, and what a panic does |
//! | [`heap`] | the heap allocator ([`talc`] behind a spin lock) that components get as their global allocator |
//! | [`rpc`] | [`rpc_interface!`]: typed client stubs and server loops over endpoints, with restart detection; [`serve_held`](rpc::serve_held): a loop that holds replies until the server's state settles (group commit) |
//! | [`ring`] | shared-memory single-producer single-consumer descriptor rings with notification wake-ups (sDDF style) |
//! | [`console`] | [`print!`] and [`println!`] over the kernel's debug console, without a heap |
//! | [`logging`] | the [`log`] crate's macros on the debug console, prefixed with the program's name ([`log_init`]) |
//! | [`bench`] | for benchmark programs: the time-stamp counter, warm-up and timed rounds, and the order statistics of a `bench:` line |
//! | `rt` | (bare-metal target only) the `_start` entry point and the panic handler |
//!
//! A root task names its entry function with [`entry!`]; a component that
//! `init` starts names it with [`component!`]. Both link with
//! `libcap/link.ld` (see `docs/architecture.md`); `docs/writing-a-server.md`
//! walks through a component from scratch.
//!
//! ```no_run
//! // A component: serve a greeting on channel "greeter".
//! fn run(start: &'static libcap::Start) -> ! {
//!     let ep = start.served("greeter").expect("config grants channel greeter");
//!     libcap::log::info!("generation {}", start.generation());
//!     let mut request = ep.recv().expect("recv");
//!     loop {
//!         let reply = libcap::ipc::Message::new(0, &[request.message.word(0) + 1]);
//!         request = ep.reply_recv(&reply).expect("reply_recv");
//!     }
//! }
//! libcap::component!(run);
//! ```
//!
//! # Conventions this library relies on
//!
//! - Every thread that uses invocations with more than four message words
//!   ([`invoke::untyped_retype`], [`invoke::cnode_mint`]), or IPC with long
//!   messages or capabilities ([`ipc`]), has its IPC buffer
//!   mapped read-write at [`ipc_buffer::ADDRESS`] (the root task's, as the
//!   kernel maps it; a component's, as `init` maps it), and only this
//!   library touches that page.
//! - Capability addresses are what the kernel resolves in the caller's
//!   CSpace; in the root task and in components, the address of root-CNode
//!   slot `i` is `i`.
//!
//! System calls exist only under the Basalt kernel: on any other target the
//! library compiles (so the workspace builds and tests on the host) but a
//! system call panics.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

// Only for host conveniences (tests, examples): on Basalt, libcap needs no
// allocator, so root tasks without one (roottest) and with their own (init)
// link it as they are.
#[cfg(not(target_os = "none"))]
extern crate alloc;

pub mod bench;
pub mod bind;
pub mod cap;
pub mod console;
pub mod heap;
pub mod invoke;
pub mod ipc;
pub mod ipc_buffer;
pub mod logging;
pub mod ring;
pub mod rpc;
#[cfg(target_os = "none")]
mod rt;
pub mod runtime;
pub mod start;
pub mod syscall;
pub mod time;

/// The system-call ABI this library speaks, re-exported for programs.
///
/// ```
/// assert_eq!(libcap::abi::MAX_MESSAGE_WORDS, 120);
/// ```
pub use basalt_abi as abi;
/// Why a system call failed.
///
/// ```
/// assert_eq!(libcap::Error::from_raw(1), Some(libcap::Error::InvalidCapability));
/// ```
pub use basalt_abi::Error;
/// The boot-info page the root task's entry function receives.
///
/// ```no_run
/// fn run(boot_info: &'static libcap::BootInfo) -> ! {
///     libcap::println!("{} untyped capabilities", boot_info.untyped_count);
///     libcap::syscall::debug_exit(true)
/// }
/// libcap::entry!(run);
/// ```
pub use basalt_abi::boot_info::BootInfo;
pub use cap::{
    CNode, Capability, Endpoint, Frame, IoPortControl, IoPorts, IrqControl, IrqHandler,
    KernelObject, MsiMessage, Notification, PageDirectory, PageTable, Pdpt, Tcb, Untyped, VSpace,
};
/// The [`log`] crate, for its macros: `libcap::log::info!("…")`.
///
/// ```no_run
/// libcap::log::info!("ready");
/// ```
pub use log;
pub use logging::{log_init, log_init_as};
pub use start::Start;

/// Names the root task's entry function: `libcap::entry!(main_task);` where
/// `fn main_task(boot_info: &'static libcap::BootInfo) -> !`.
///
/// The runtime's `_start` calls it with the boot-info page the kernel passed
/// in `rdi` (see [`runtime`] for what else the root-task form means: no
/// heap unless the program installs one, `PANIC: …` and `DebugExit` on a
/// panic). The macro defines the unmangled symbol `__libcap_main`, so a
/// program uses it (or [`component!`]) exactly once; without either,
/// linking for the bare-metal target fails with an undefined
/// `__libcap_main`.
///
/// ```no_run
/// fn main_task(boot_info: &'static libcap::BootInfo) -> ! {
///     libcap::println!("first free slot {}", boot_info.first_free_slot);
///     libcap::syscall::debug_exit(true)
/// }
/// libcap::entry!(main_task);
/// ```
#[macro_export]
macro_rules! entry {
    ($path:path) => {
        /// The program's entry point, called by libcap's `_start`.
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __libcap_main(rdi: u64) -> ! {
            let entry: fn(&'static $crate::BootInfo) -> ! = $path;
            $crate::runtime::enter_root_task(rdi, entry)
        }
    };
}

/// Names a component's main function: `libcap::component!(main);` where
/// `fn main(start: &'static libcap::Start)` returns `!`, `()` or
/// `Result<(), E>` with `E: Debug`.
///
/// Before calling it, the runtime checks the start-info page `init` passed
/// in `rdi` (magic and version; a bad page panics), gives the heap `init`
/// mapped to the program's global allocator (this macro defines it, so the
/// program must not define another), and sets up [`log`] with the
/// component's name as prefix and the level from argument `log`. When main
/// returns, the component exits: `Ok(())` and `()` with status 0, `Err(e)`
/// with status 1 after printing `<name>: main failed: <e:?>`. A panic
/// prints `PANIC in <name>: <message> at <file>:<line>` and faults, so
/// that `init` applies the component's restart policy. See [`runtime`].
///
/// Like [`entry!`], it defines `__libcap_main`, so a program uses one of
/// the two exactly once.
///
/// ```no_run
/// #[derive(Debug)]
/// enum Failure {
///     NoChannel,
/// }
///
/// fn main_component(start: &'static libcap::Start) -> Result<(), Failure> {
///     let ep = start.channel("greeter").ok_or(Failure::NoChannel)?;
///     let names = vec!["heap", "works"]; // the heap is ready
///     libcap::log::info!("calling {ep:?} ({})", names.join(" "));
///     Ok(())
/// }
/// libcap::component!(main_component);
/// ```
#[macro_export]
macro_rules! component {
    ($path:path) => {
        /// The component's heap allocator; the runtime gives it the heap
        /// `init` mapped before main runs.
        #[cfg_attr(target_os = "none", global_allocator)]
        static __LIBCAP_HEAP: $crate::heap::Heap = $crate::heap::Heap::new();

        /// The program's entry point, called by libcap's `_start`.
        #[doc(hidden)]
        #[unsafe(no_mangle)]
        pub fn __libcap_main(rdi: u64) -> ! {
            let main: fn(&'static $crate::Start) -> _ = $path;
            $crate::runtime::enter_component(rdi, &__LIBCAP_HEAP, main)
        }
    };
}
