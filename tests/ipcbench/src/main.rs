//! `ipcbench`: a root task that measures the kernel's system-call and IPC
//! latency with the time-stamp counter. `cargo xtask bench ipc` boots it as
//! module `roottask` with kernel argument `test=roottask` (so that it can
//! end the run through DebugExit) and reads its lines:
//!
//! ```text
//! bench: <name> median=<c> p99=<c> min=<c> max=<c> n=<rounds> mean=<c> unit=cycles [key=value ...]
//! bench: <name> error=<Error> (<what failed>)
//! bench: done
//! ```
//!
//! | name | one sample |
//! | --- | --- |
//! | `rdtsc_overhead` | two counter readings with nothing between them: the floor of every other figure |
//! | `null_syscall` | `Null` (system call 11): enter and leave the kernel |
//! | `call_replyrecv_registers` | `Call` on an endpoint with a 4-word message (registers only); a server in a second address space, at the root task's priority, echoes it with `ReplyRecv`: one round trip |
//! | `call_replyrecv_64_words` | the same with 64 words (60 through the IPC buffers), echoed |
//! | `notification_signal_wake` | `Send` (signal) on a notification on which a higher-priority thread in the second address space waits: from before the signal to the waiter's own counter reading after it wakes (one way); `deferred` counts rounds in which the waiter ran only after the root task yielded |
//!
//! Each benchmark runs 10,000 untimed rounds, then 100,000 timed ones whose
//! samples go to a fixed array in `.bss`; median and 99th percentile are by
//! nearest rank after sorting it (`libcap::bench`). The run ends with DebugExit: success if
//! every benchmark produced numbers. See `docs/perf.md`.

#![cfg_attr(target_os = "none", no_std, no_main)]
#![warn(clippy::undocumented_unsafe_blocks)]

#[cfg(target_os = "none")]
mod bench;
#[cfg(target_os = "none")]
mod child;
#[cfg(target_os = "none")]
mod measure;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("ipcbench runs as Basalt's root task; use cargo xtask bench ipc");
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::entry!(bench::run);
