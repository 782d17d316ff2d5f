//! `init`, Basalt's root task. It reads the system manifest that
//! `cargo xtask compose` put in the boot image, builds every component the
//! manifest describes — CSpace, VSpace (ELF segments with their
//! permissions, a stack with a guard page, heap, IPC buffer, start-info
//! page), TCB — connects them with exactly the channels, notifications,
//! shared regions and devices the config grants, starts them in dependency
//! order, and supervises them: a component that faults is restarted
//! according to its policy, with a new generation, and every event is
//! logged.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![warn(clippy::undocumented_unsafe_blocks)]

extern crate alloc;

// The host build has no caller for the sizing and restart rules (only
// their tests do).
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod plan;
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod restart;

#[cfg(target_os = "none")]
mod component;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod intx;
#[cfg(target_os = "none")]
mod pci;
#[cfg(target_os = "none")]
mod space;
#[cfg(target_os = "none")]
mod supervise;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("init runs as Basalt's root task; use `cargo xtask run --config DIR`");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::entry!(supervise::run);
