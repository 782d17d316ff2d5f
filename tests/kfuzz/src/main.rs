//! `kfuzz`: a root task that fuzzes the kernel, with the kernel's invariant
//! oracle after every call. `cargo xtask fuzz` boots it (kernel argument
//! `test=roottask`, boot module `fuzz-args` with `seed=N calls=N`).
//!
//! Three threads ("kids", see [`kid`]) make the calls, each with the
//! sandbox CNode as its whole CSpace: untyped memory of its own (1 MiB),
//! and what the calls make of it (threads, endpoints, notifications,
//! CNodes, frames, every level of paging structure, address spaces), the
//! kids' own TCBs, an IRQ handler and an I/O port. [`calls`] makes the
//! calls: every system call and invocation label, with random, boundary
//! and hostile values, hostile RFLAGS; calls that block leave their kid
//! blocked, perhaps until another kid's call wakes it. After each call the
//! fuzzer runs `DebugCheck` over everything made from its memory; a
//! violation stops the run with the seed and the call to replay. The
//! kernel stops the machine itself on a kernel fault. The summary line
//! (`kfuzz: seed N: … calls …`) and `kfuzz: passed` end a good run.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(any(test, target_os = "none"))]
mod calls;
#[cfg(target_os = "none")]
mod fuzz;
#[cfg(target_os = "none")]
mod kid;

#[cfg(not(any(test, target_os = "none")))]
fn main() {
    eprintln!("kfuzz runs as Basalt's root task; use cargo xtask fuzz");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::entry!(fuzz::run);
