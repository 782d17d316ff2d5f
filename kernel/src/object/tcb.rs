//! Thread control blocks: a thread's capability slots, saved registers,
//! scheduling and IPC state, and the TCB's invocations.

use super::cap::Cap;
use super::cnode::{self, RegionHeader};
use super::invocation::{Message, NO_WORDS, Reply};
use super::objects::TCB_BITS;
use super::objref::{EndpointRef, IpcCap, NotificationRef, TcbRef};
use super::ops::{self, Machine};
use super::registers::UserRegisters;
use super::slot::{Slot, SlotRef};
use crate::arch::{FpuState, UserContext};
use crate::ipc;
use crate::memory::USER_TOP;
use basalt_abi::{Error, Rights, label};

/// A TCB's own capability slots: copies that keep the objects a thread
/// runs on alive, and that vanish (stopping the thread's use of them) when
/// someone revokes the originals.
pub mod tcb_slot {
    pub const CSPACE: usize = 0;
    pub const VSPACE: usize = 1;
    pub const IPC_BUFFER: usize = 2;
    pub const FAULT_ENDPOINT: usize = 3;
    pub const COUNT: usize = 4;
}

/// The maximum priority (priorities are `0..=MAX_PRIORITY`).
pub const MAX_PRIORITY: u64 = 255;

/// What a thread is doing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum ThreadState {
    /// Created or suspended: never scheduled.
    Inactive,
    /// On the run queue or running.
    Runnable,
    /// Queued on an endpoint with a message (`Send`, `Call` or a fault).
    BlockedOnSend,
    /// Queued on an endpoint, waiting for a message.
    BlockedOnReceive,
    /// Waiting for the reply to a call (or to a fault message).
    BlockedOnReply,
    /// Queued on a notification, waiting for a signal.
    BlockedOnNotification,
}

/// Links of a doubly linked list of TCBs.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Links {
    pub next: Option<TcbRef>,
    pub prev: Option<TcbRef>,
}

impl Links {
    pub const NONE: Links = Links {
        next: None,
        prev: None,
    };
}

/// Why a thread sends: what its partner must do with it afterwards.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum SendKind {
    /// A plain send: the sender carries on once the message is taken.
    Send,
    /// A call: the sender waits for the reply.
    Call,
    /// A fault message: the thread waits for its handler's reply.
    Fault,
}

/// The object whose queue a blocked thread is on.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WaitingOn {
    Endpoint(EndpointRef),
    Notification(NotificationRef),
}

impl WaitingOn {
    pub fn addr(self) -> u64 {
        match self {
            WaitingOn::Endpoint(ep) => ep.addr(),
            WaitingOn::Notification(n) => n.addr(),
        }
    }
}

/// The IPC state of a thread.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct IpcState {
    /// The endpoint or notification the thread is queued on.
    pub blocked_on: Option<WaitingOn>,
    /// While queued to send: the badge of the capability it used, its
    /// message info, whether the capability had the grant right, and why.
    pub badge: u64,
    pub info: u64,
    pub can_grant: bool,
    pub kind: SendKind,
    /// The thread waiting for this thread's reply (the reply capability).
    pub caller: Option<TcbRef>,
    /// While waiting for a reply: the thread that holds the reply (`None`
    /// once the reply was saved into a slot).
    pub replier: Option<TcbRef>,
    /// While waiting for a reply that was saved (`SaveReply`): the slot
    /// holding the reply capability that names this thread. Using or
    /// deleting that capability clears this first (it is never moved), so
    /// the slot is live while this names it.
    pub reply_slot: Option<SlotRef>,
    /// The bound notification.
    pub bound_notification: Option<NotificationRef>,
    /// A fault message's label and words.
    pub fault: [u64; 5],
}

impl IpcState {
    pub const fn new() -> Self {
        Self {
            blocked_on: None,
            badge: 0,
            info: 0,
            can_grant: false,
            kind: SendKind::Send,
            caller: None,
            replier: None,
            reply_slot: None,
            bound_notification: None,
            fault: [0; 5],
        }
    }
}

impl Default for IpcState {
    fn default() -> Self {
        Self::new()
    }
}

/// A thread control block.
#[repr(C)]
pub struct Tcb {
    pub header: RegionHeader,
    pub slots: [Slot; tcb_slot::COUNT],
    pub context: UserContext,
    pub state: ThreadState,
    pub priority: u8,
    pub ipc_buffer_addr: u64,
    /// Run-queue links.
    pub run: Links,
    /// Endpoint or notification queue links.
    pub wait: Links,
    /// Links of the queue of threads waiting with a deadline, and the
    /// deadline (TSC cycles).
    pub sleep: Links,
    pub deadline: u64,
    pub ipc: IpcState,
    /// Its FPU and SSE registers while another thread has the FPU, once it
    /// has used it (`fpu_used`); see `arch::x86_64::fpu`.
    pub fpu_used: bool,
    pub fpu: FpuState,
}

const _: () = assert!(size_of::<Tcb>() <= 1 << TCB_BITS);
// Destroying a TCB finds its header where a CNode's is: at the start.
const _: () = assert!(core::mem::offset_of!(Tcb, header) == 0);

impl Tcb {
    /// A new, inactive thread with no capabilities.
    pub const fn new() -> Self {
        Self {
            header: RegionHeader::NONE,
            slots: [Slot::EMPTY, Slot::EMPTY, Slot::EMPTY, Slot::EMPTY],
            context: UserContext::NEW,
            state: ThreadState::Inactive,
            priority: 0,
            ipc_buffer_addr: 0,
            run: Links::NONE,
            wait: Links::NONE,
            sleep: Links::NONE,
            deadline: 0,
            ipc: IpcState::new(),
            fpu_used: false,
            fpu: FpuState::clean(),
        }
    }
}

impl Default for Tcb {
    fn default() -> Self {
        Self::new()
    }
}

impl TcbRef {
    pub fn state(self) -> ThreadState {
        self.with(|t| t.state)
    }

    pub fn priority(self) -> u8 {
        self.with(|t| t.priority)
    }

    /// The TCB's slot `index` (see [`tcb_slot`]).
    #[inline]
    pub fn slot(self, index: usize) -> SlotRef {
        assert!(index < tcb_slot::COUNT);
        let addr = self.addr()
            + core::mem::offset_of!(Tcb, slots) as u64
            + (index * size_of::<Slot>()) as u64;
        // SAFETY: the TCB is live and holds `tcb_slot::COUNT` slots.
        unsafe { SlotRef::new(addr as *mut Slot) }
    }

    /// The kernel address of the thread's IPC buffer frame, if it has one.
    pub fn ipc_buffer(self) -> Option<u64> {
        match self.slot(tcb_slot::IPC_BUFFER).cap() {
            Cap::Frame {
                base, large: false, ..
            } => Some(base),
            _ => None,
        }
    }
}

/// Invokes the TCB capability to `target` with `label`.
pub fn invoke(
    target: TcbRef,
    label: u64,
    cspace: Cap,
    msg: &Message,
    machine: &mut impl Machine,
) -> Reply {
    let w = |i| msg.word(i);
    match label {
        label::TCB_CONFIGURE => configure(target, cspace, msg, machine),
        label::TCB_SET_PRIORITY => {
            let p = w(0)?;
            if p > MAX_PRIORITY {
                return Err(Error::RangeError.into());
            }
            machine.set_priority(target, p as u8);
            Ok(NO_WORDS)
        }
        label::TCB_SET_FAULT_ENDPOINT => set_fault_endpoint(target, cspace, w(0)?, machine),
        label::TCB_BIND_NOTIFICATION => {
            let address = w(0)?;
            let ntfn = if address == 0 {
                None
            } else {
                match cnode::lookup(cspace, address)?.ipc_cap() {
                    Some(IpcCap::Notification { ntfn, rights, .. })
                        if rights.contains(Rights::READ) =>
                    {
                        Some(ntfn)
                    }
                    Some(IpcCap::Notification { .. }) => return Err(Error::MissingRight.into()),
                    _ => return Err(Error::WrongType.into()),
                }
            };
            ipc::bind(target, ntfn)?;
            Ok(NO_WORDS)
        }
        label::TCB_WRITE_REGISTERS => {
            let (pc, sp) = (w(0)?, w(1)?);
            if pc >= USER_TOP || sp >= USER_TOP {
                return Err(Error::InvalidUserAddress.into());
            }
            let args = [w(2)?, w(3)?];
            target.with(|t| {
                // A new start: none of the old flags carry over.
                t.context.restart_at(pc, sp);
                t.context.set_arguments(args);
            });
            Ok(NO_WORDS)
        }
        label::TCB_READ_REGISTERS => Ok(target.with(|t| t.context.report())),
        label::TCB_RESUME => {
            let configured = !target.slot(tcb_slot::CSPACE).is_empty()
                && !target.slot(tcb_slot::VSPACE).is_empty();
            if !configured {
                return Err(Error::IllegalOperation.into());
            }
            machine.resume(target);
            Ok(NO_WORDS)
        }
        label::TCB_SUSPEND => {
            machine.suspend(target);
            Ok(NO_WORDS)
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}

/// `TCB_CONFIGURE`: the thread's CSpace, VSpace and IPC buffer become
/// copies of the capabilities at words 0-2, and word 3 is its IPC
/// buffer's user address. Every argument is checked before anything
/// changes.
fn configure(target: TcbRef, cspace: Cap, msg: &Message, machine: &mut impl Machine) -> Reply {
    let kinds = [tcb_slot::CSPACE, tcb_slot::VSPACE, tcb_slot::IPC_BUFFER];
    let addresses = [msg.word(0)?, msg.word(1)?, msg.word(2)?];
    let mut sources = [None; 3];
    for ((&kind, &address), source) in kinds.iter().zip(&addresses).zip(&mut sources) {
        let src = cnode::lookup(cspace, address)?;
        let ok = match kind {
            tcb_slot::CSPACE => matches!(src.cap(), Cap::CNode { .. }),
            tcb_slot::VSPACE => matches!(src.cap(), Cap::VSpace { .. }),
            _ => matches!(src.cap(), Cap::Frame { large: false, .. }),
        };
        if !ok {
            return Err(Error::WrongType.into());
        }
        // The kernel writes replies into the IPC buffer through its direct
        // map: it must be RAM (the direct map does not cover device
        // memory) that its holder may write.
        if let Cap::Frame { device, rights, .. } = src.cap()
            && kind == tcb_slot::IPC_BUFFER
        {
            if device {
                return Err(Error::InvalidArgument.into());
            }
            if !rights.contains(Rights::READ | Rights::WRITE) {
                return Err(Error::MissingRight.into());
            }
        }
        *source = Some(src);
    }
    let buffer_addr = msg.word(3)?;
    if buffer_addr % 4096 != 0 || buffer_addr >= USER_TOP {
        return Err(Error::AlignmentError.into());
    }
    for (kind, src) in kinds.into_iter().zip(sources) {
        let dest = target.slot(kind);
        if !dest.is_empty() {
            clear_slot(dest, machine);
        }
        ops::copy(src.expect("checked above"), dest, Rights::all())?;
    }
    target.with(|t| t.ipc_buffer_addr = buffer_addr);
    Ok(NO_WORDS)
}

/// `TCB_SET_FAULT_ENDPOINT`: the thread's fault endpoint becomes a copy
/// of the endpoint capability at `address` (0: none).
fn set_fault_endpoint(
    target: TcbRef,
    cspace: Cap,
    address: u64,
    machine: &mut impl Machine,
) -> Reply {
    let src = if address == 0 {
        None
    } else {
        let src = cnode::lookup(cspace, address)?;
        match src.cap() {
            Cap::Endpoint { rights, .. } if rights.contains(Rights::WRITE) => Some(src),
            Cap::Endpoint { .. } => return Err(Error::MissingRight.into()),
            _ => return Err(Error::WrongType.into()),
        }
    };
    let dest = target.slot(tcb_slot::FAULT_ENDPOINT);
    if !dest.is_empty() {
        clear_slot(dest, machine);
    }
    if let Some(src) = src {
        ops::copy(src, dest, Rights::all())?;
    }
    Ok(NO_WORDS)
}

/// Empties one of a TCB's own slots. They hold copies of CNodes, VSpaces,
/// frames and endpoints, never an issuer, so the deletion never stops at a
/// preemption point.
fn clear_slot(slot: SlotRef, machine: &mut impl Machine) {
    let progress = ops::delete(slot, machine);
    debug_assert_eq!(progress, ops::Progress::Done);
}
