//! Invoking a capability with `Call`: the message an invocation reads its
//! arguments from, what it answers, and the dispatch to the portable
//! objects (untyped memory, CNodes, TCBs). The architecture decodes the
//! system call and invokes its own objects (frames, paging structures,
//! interrupts, I/O ports) itself.

use super::cap::Cap;
use super::objref::TcbRef;
use super::ops::{self, Machine};
use super::slot::SlotRef;
use super::{cnode, tcb, untyped};
use basalt_abi::{Error, MessageInfo, REGISTER_WORDS, label};

/// Why an invocation did not complete.
#[derive(Debug)]
pub enum Failure {
    /// Refused: the error, and reply word 0 where the error carries more
    /// (the missing table's type for `MissingPageTable`).
    Refused { error: Error, detail: u64 },
    /// Stopped at a preemption point: the thread makes the same system
    /// call again when it next runs, which goes on from there.
    Preempted,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self::Refused { error, detail: 0 }
    }
}

/// What an invocation answers: reply words 0-3, or why not.
pub type Reply = Result<[u64; REGISTER_WORDS], Failure>;

/// The reply words of an invocation that answers nothing but success.
pub const NO_WORDS: [u64; REGISTER_WORDS] = [0; REGISTER_WORDS];

impl From<ops::Progress> for Reply {
    fn from(p: ops::Progress) -> Self {
        match p {
            ops::Progress::Done => Ok(NO_WORDS),
            ops::Progress::Preempted => Err(Failure::Preempted),
        }
    }
}

/// The message of a `Call`: words 0-3 from registers, the rest from the
/// caller's IPC buffer (read through its frame capability, never through a
/// user pointer).
pub struct Message {
    regs: [u64; REGISTER_WORDS],
    len: usize,
    ipc_buffer: Option<u64>,
}

impl Message {
    /// The message `t` sends with `info`, whose words 0-3 are `regs`.
    pub fn new(t: TcbRef, info: MessageInfo, regs: [u64; REGISTER_WORDS]) -> Self {
        Self {
            regs,
            len: info.length(),
            ipc_buffer: t.ipc_buffer(),
        }
    }

    /// Word `i`; `InvalidArgument` past the message's length.
    pub fn word(&self, i: usize) -> Result<u64, Error> {
        if i >= self.len {
            return Err(Error::InvalidArgument);
        }
        if i < REGISTER_WORDS {
            return Ok(self.regs[i]);
        }
        let base = self.ipc_buffer.ok_or(Error::InvalidArgument)?;
        // SAFETY: `base` is a live 4 KiB frame (the thread's IPC buffer
        // capability) and `i < MAX_MESSAGE_WORDS`, so the word is inside it.
        Ok(unsafe { ((base + 8 * i as u64) as *const u64).read_volatile() })
    }
}

/// Invokes the capability in `slot` with `label` and `msg`, resolving the
/// capability addresses in `msg` in `cspace`, if it is a portable object's;
/// `None` for any other (the architecture's objects).
pub fn invoke(
    slot: SlotRef,
    label: u64,
    cspace: Cap,
    msg: &Message,
    machine: &mut impl Machine,
) -> Option<Reply> {
    Some(match slot.cap() {
        Cap::Untyped { .. } => untyped::invoke(slot, label, cspace, msg, machine),
        cap @ Cap::CNode { .. } => cnode::invoke(cap, label, cspace, msg, machine),
        Cap::Tcb { .. } => tcb::invoke(slot.tcb()?, label, cspace, msg, machine),
        _ => return None,
    })
}

/// Whether an invocation with `label` cannot wake, block, suspend or
/// destroy a thread (so the caller simply carries on).
pub fn leaves_threads_alone(label: u64) -> bool {
    !matches!(
        label,
        label::CNODE_DELETE | label::CNODE_REVOKE | label::TCB_CONFIGURE
            ..=label::TCB_BIND_NOTIFICATION
    )
}
