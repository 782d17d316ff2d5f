//! `roottest`: a root task that runs the kernel's on-target capability test
//! suite. `cargo xtask test` boots it as module `roottask` with kernel
//! argument `test=roottask`; it prints one line per case,
//!
//! ```text
//! ok   <name>
//! FAIL <name>: <expected> vs <got>
//! ```
//!
//! then `roottest: used … root slots, … window pages` and
//! `roottest: N passed, M failed`, and ends the run through DebugExit
//! (success when M is 0). A failing setup step prints `FAIL setup: ...` and
//! counts as a failed case; the cases that needed it are skipped.
//!
//! # Resources
//!
//! Every case takes fresh slots of the root CNode (from the boot info's
//! `first_free_slot` upwards, never reused across cases) and retypes its
//! objects from the largest non-device untyped ("memory"), so cases do not
//! see each other's capabilities. Beyond that:
//!
//! | group (module) | uses |
//! | --- | --- |
//! | [`boot`]: boot info, lookups, plain syscalls | the well-known slots (`slot::*`), read-only; the boot-info frame (FRAME_GET_ADDRESS only) |
//! | [`retype`]: UNTYPED_RETYPE | memory; the smallest non-device untyped of at most 1 MiB (else a 64 KiB child untyped), which it fills up; a 64 KiB child untyped; the first device untyped, if any (one frame) |
//! | [`cnode`]: copy, mint, move, mutate, delete, revoke | memory; a 64 KiB child untyped (deleted); IRQ and I/O-port control (refused copies only) |
//! | [`vspace`]: page tables and frames | the root VSpace's [`WINDOW`](harness::WINDOW): its 3 page tables are mapped by the first cases, then pages are handed out one per mapping; `WINDOW + 2 MiB` (a page table mapped, unmapped, mapped again), `+ 4 MiB` (left without a page table), `+ 6 MiB` (a 2 MiB frame); `0x2000_0000_0000` (never gets page tables) |
//! | [`vspace::revoke_mapped_untyped`] | a 64 KiB child untyped, revoked while one of its frames is mapped in the window |
//! | [`ports`]: I/O ports, IRQs | I/O-port control (issues port 0x80 only), IRQ control (takes line 7, then deletes it; takes every message-signalled line 24-39, checks the first one's message, binds it to a notification made from the suite's untyped, then deletes them all) |
//! | [`thread`]: a second thread in a second address space | a new VSpace (3 page tables, code, stack, shared and IPC-buffer frames at `0x400000..0x406000`), a 16-slot CNode, a TCB; the root TCB's priority is set to [`thread::PRIORITY`]; the shared frame is also mapped in the window; the window's scratch page (for copying code) |
//! | [`ipc`]: endpoints, notifications, capability transfer, aborts, faults, saved replies, IRQs, scheduling | per group a 1 MiB child untyped of memory (revoked and deleted at the end of the group) holding its endpoints, notifications and threads, each thread in its own address space as above (one window page each for its shared page); the root thread's IPC buffer (long messages, capability transfer); fresh root slots for saved replies (4 for the held-reply loop's pool); the root thread at priority 100, its threads at 150 (10 and 200 in the scheduling cases); I/O-port control (issues ports 0x70–0x71, the CMOS RTC, deleted at the end) and IRQ control (takes line 8, the RTC's, then deletes it); the RTC's periodic interrupt is enabled at 32 Hz and disabled again |
//! | [`forged`]: interrupts on exception vectors | the `edu` device's configuration page and registers (device memory carved in address order), one message-signalled line (for the APIC's address, then deleted) |
//! | [`boot::risky`] | nothing; runs last because a kernel that gets it wrong faults |

#![cfg_attr(target_os = "none", no_std, no_main)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod cnode;
#[cfg(target_os = "none")]
mod forged;
#[cfg(target_os = "none")]
mod harness;
#[cfg(target_os = "none")]
mod ipc;
#[cfg(target_os = "none")]
mod ports;
#[cfg(target_os = "none")]
mod retype;
#[cfg(target_os = "none")]
mod thread;
#[cfg(target_os = "none")]
mod vspace;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("roottest runs as Basalt's root task; use cargo xtask test");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::entry!(run);

/// The root task: every group of cases in turn, then the summary.
#[cfg(target_os = "none")]
fn run(boot_info: &'static libcap::BootInfo) -> ! {
    let mut t = harness::Suite::new(boot_info);
    libcap::println!("roottest: capability tests as the root task");
    if !boot::boot_info(&mut t) {
        libcap::println!("roottest: the boot info is unusable; stopping");
        t.finish();
    }
    boot::lookups(&mut t);
    boot::syscalls(&mut t);
    retype::cases(&mut t);
    cnode::cases(&mut t);
    vspace::cases(&mut t);
    vspace::revoke_mapped_untyped(&mut t);
    ports::cases(&mut t);
    thread::cases(&mut t);
    ipc::cases(&mut t);
    forged::cases(&mut t);
    boot::risky(&mut t);
    t.finish()
}
