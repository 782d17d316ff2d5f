//! The Basalt microkernel.
//!
//! Portable logic (the capability object model, IPC, scheduling, physical
//! memory bookkeeping) lives at the top of this crate and is unit-tested on
//! the host; everything that touches the machine lives under [`arch`].

#![cfg_attr(not(test), no_std)]

pub mod arch;
pub mod cmdline;
pub mod console;
pub mod console_queue;
pub mod ipc;
pub mod memory;
pub mod object;
pub mod pixel_screen;
pub mod sched;
pub mod text_screen;
pub mod time;
