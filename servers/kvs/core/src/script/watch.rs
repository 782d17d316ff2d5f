//! A script past `busy-reply-threshold`: what the store tells whoever
//! serves it ([`Store::set_script_watch`](crate::Store::set_script_watch)),
//! and what that one answers.
//!
//! A script is atomic, so the store answers nothing else while one runs.
//! Redis, past the threshold, answers other clients `-BUSY` from inside
//! the script's hook and lets `SCRIPT KILL` / `FUNCTION KILL` end a
//! script that has not written. The store does no I/O, so it asks its
//! watch, between steps once the threshold has passed: the kvs server
//! lets its front end go on (it answers `-BUSY` itself) and passes a kill
//! on. Without a watch, or when the watch cannot tell anyone, the script
//! is stopped instead: nobody could end it otherwise.

use alloc::boxed::Box;

/// A running script past `busy-reply-threshold`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Overtime {
    /// An FCALL's function (else an EVAL's script): which of `FUNCTION
    /// KILL` and `SCRIPT KILL` may end it.
    pub function: bool,
    /// It ran a write command: it can no longer be killed (what it wrote
    /// stays; Redis's `-UNKILLABLE`).
    pub wrote: bool,
    /// Milliseconds since it began.
    pub elapsed_ms: u64,
}

/// What the watch tells an overtime script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (others are told the store is busy).
    Run,
    /// Stop it: nobody can be told that the store is busy.
    Stop,
    /// `SCRIPT KILL` or `FUNCTION KILL`: end it with Redis's error.
    /// Only for a script that has not written (one that has runs on).
    Kill,
}

/// The store's watch over overtime scripts (`Send`, as the store is).
pub struct Watch(pub Box<dyn FnMut(&Overtime) -> Verdict + Send>);

impl core::fmt::Debug for Watch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Watch")
    }
}
