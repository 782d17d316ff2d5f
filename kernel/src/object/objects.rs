//! The layouts and sizes of kernel objects in untyped memory.

use super::cnode::{MAX_RADIX, MIN_RADIX, RegionHeader, cnode_size_bits};
use super::slot::Slot;
use crate::sched::Queue;
use basalt_abi::{Error, ObjectType};

/// Smallest and largest untyped objects (4 KiB, 128 TiB).
pub const MIN_UNTYPED_BITS: u8 = 12;
pub const MAX_UNTYPED_BITS: u8 = 47;

/// Bytes of an endpoint or notification object.
pub const ENDPOINT_BITS: u8 = 6;
/// Bytes of a TCB object.
pub const TCB_BITS: u8 = 11;

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

/// Links of a doubly linked list of TCBs (by address, 0 for none).
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Links {
    pub next: u64,
    pub prev: u64,
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

/// The IPC state of a thread.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct IpcState {
    /// The endpoint or notification the thread is queued on (0: none).
    pub blocked_on: u64,
    /// While queued to send: the badge of the capability it used, its
    /// message info, whether the capability had the grant right, and why.
    pub badge: u64,
    pub info: u64,
    pub can_grant: bool,
    pub kind: SendKind,
    /// The thread waiting for this thread's reply (the reply capability).
    pub caller: u64,
    /// While waiting for a reply: the thread that holds the reply (0 once
    /// the reply was saved into a slot).
    pub replier: u64,
    /// While waiting for a reply that was saved (`SaveReply`): the slot
    /// holding the reply capability that names this thread (0: none).
    pub reply_slot: u64,
    /// The bound notification (0: none).
    pub bound_notification: u64,
    /// A fault message's label and words.
    pub fault: [u64; 5],
}

impl IpcState {
    pub const fn new() -> Self {
        Self {
            blocked_on: 0,
            badge: 0,
            info: 0,
            can_grant: false,
            kind: SendKind::Send,
            caller: 0,
            replier: 0,
            reply_slot: 0,
            bound_notification: 0,
            fault: [0; 5],
        }
    }
}

impl Default for IpcState {
    fn default() -> Self {
        Self::new()
    }
}

/// An endpoint: the queue of threads waiting on it, all senders or all
/// receivers.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Endpoint {
    pub queue: Queue,
    /// Whether the queued threads are receivers (else senders).
    pub receivers: bool,
}

/// A notification: a word of signal bits and the threads waiting for it.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Notification {
    pub word: u64,
    pub queue: Queue,
    /// The TCB bound to it (0: none).
    pub bound: u64,
}

const _: () = assert!(size_of::<Endpoint>() <= 1 << ENDPOINT_BITS);
const _: () = assert!(size_of::<Notification>() <= 1 << ENDPOINT_BITS);

/// The registers of a user thread, saved on kernel entry.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct UserContext {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
}

/// A thread's x87 and SSE registers, in the layout `fxsave` writes.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct FpuState {
    pub bytes: [u8; 512],
}

impl FpuState {
    /// Where MXCSR lives in the image.
    const MXCSR: usize = 24;
    /// MXCSR after reset: every SIMD exception masked, round to nearest.
    const MXCSR_DEFAULT: u32 = 0x1f80;
    /// The x87 control word after `fninit`: every exception masked,
    /// 64-bit precision, round to nearest.
    const FCW_DEFAULT: u16 = 0x037f;

    /// The state of a thread that has not used the FPU yet.
    pub const fn clean() -> Self {
        let mut bytes = [0u8; 512];
        let fcw = Self::FCW_DEFAULT.to_le_bytes();
        bytes[0] = fcw[0];
        bytes[1] = fcw[1];
        let mxcsr = Self::MXCSR_DEFAULT.to_le_bytes();
        let mut i = 0;
        while i < 4 {
            bytes[Self::MXCSR + i] = mxcsr[i];
            i += 1;
        }
        Self { bytes }
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

impl Tcb {
    /// A new, inactive thread with no capabilities.
    pub const fn new() -> Self {
        Self {
            header: RegionHeader {
                dying_next: 0,
                dying_slots: 0,
                dying_count: 0,
                dying_cursor: 0,
            },
            slots: [Slot::EMPTY, Slot::EMPTY, Slot::EMPTY, Slot::EMPTY],
            context: UserContext {
                r15: 0,
                r14: 0,
                r13: 0,
                r12: 0,
                r11: 0,
                r10: 0,
                r9: 0,
                r8: 0,
                rbp: 0,
                rdi: 0,
                rsi: 0,
                rdx: 0,
                rcx: 0,
                rbx: 0,
                rax: 0,
                rip: 0,
                rsp: 0,
                rflags: INITIAL_RFLAGS,
            },
            state: ThreadState::Inactive,
            priority: 0,
            ipc_buffer_addr: 0,
            run: Links { next: 0, prev: 0 },
            wait: Links { next: 0, prev: 0 },
            sleep: Links { next: 0, prev: 0 },
            deadline: 0,
            ipc: IpcState::new(),
            fpu_used: false,
            fpu: FpuState::clean(),
        }
    }

    /// The TCB's slot `index` (see [`tcb_slot`]).
    pub fn slot(tcb: u64, index: usize) -> super::slot::SlotRef {
        debug_assert!(index < tcb_slot::COUNT);
        let addr =
            tcb + core::mem::offset_of!(Tcb, slots) as u64 + (index * size_of::<Slot>()) as u64;
        // SAFETY: `tcb` is a live TCB, which holds `tcb_slot::COUNT` slots.
        unsafe { super::slot::SlotRef::new(addr as *mut Slot) }
    }
}

impl Default for Tcb {
    fn default() -> Self {
        Self::new()
    }
}

/// RFLAGS of a new thread: interrupts enabled (bit 1 is always set).
pub const INITIAL_RFLAGS: u64 = 0x202;

/// The maximum priority (priorities are `0..=MAX_PRIORITY`).
pub const MAX_PRIORITY: u64 = 255;

/// Bytes (as a power of two) of one object of `ty`; `size_bits` is the
/// caller's size for the variable-sized types (untyped: bytes; CNode: slots).
pub fn object_size_bits(ty: ObjectType, size_bits: u64) -> Result<u8, Error> {
    Ok(match ty {
        ObjectType::Untyped => {
            let bits = u8::try_from(size_bits).map_err(|_| Error::RangeError)?;
            if !(MIN_UNTYPED_BITS..=MAX_UNTYPED_BITS).contains(&bits) {
                return Err(Error::RangeError);
            }
            bits
        }
        ObjectType::CNode => {
            let radix = u8::try_from(size_bits).map_err(|_| Error::RangeError)?;
            if !(MIN_RADIX..=MAX_RADIX).contains(&radix) {
                return Err(Error::RangeError);
            }
            cnode_size_bits(radix)
        }
        ObjectType::Tcb => TCB_BITS,
        ObjectType::Endpoint | ObjectType::Notification => ENDPOINT_BITS,
        ObjectType::Frame4K
        | ObjectType::PageTable
        | ObjectType::PageDirectory
        | ObjectType::Pdpt
        | ObjectType::VSpace => 12,
        ObjectType::Frame2M => 21,
    })
}
