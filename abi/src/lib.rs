//! The Basalt system-call ABI, shared by the kernel and `libcap`.
//!
//! A system call is the `syscall` instruction with:
//!
//! | register | in | out |
//! | --- | --- | --- |
//! | `rax` | [`Syscall`] number | [`Error`] code (0: success) |
//! | `rdi` | capability address | badge (receive operations) |
//! | `rsi` | [`MessageInfo`] | [`MessageInfo`] of the reply |
//! | `rdx`, `r10`, `r8`, `r9` | message words 0–3 | reply words 0–3 |
//!
//! `rcx` and `r11` are clobbered (the CPU uses them); every other register
//! is preserved. Words 4 and up travel in the thread's IPC buffer.
//! `docs/abi.md` is the full reference.

#![no_std]

pub mod boot_info;
pub mod module_archive;
pub mod size;
pub mod start_info;

use core::fmt;

/// System-call numbers (`rax`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Syscall {
    /// On an endpoint: send and wait for the reply (needs the CALL right).
    /// On any other capability: an operation on the kernel object, answered
    /// at once with an error code and reply words.
    Call = 1,
    /// Send on an endpoint, blocking until a receiver takes the message
    /// (needs WRITE); on a notification, signal it (needs WRITE).
    Send = 2,
    /// Send only if a receiver is waiting, else fail with
    /// [`Error::WouldBlock`]; on a notification, the same as `Send`.
    NbSend = 3,
    /// Receive on an endpoint (needs READ), or wait on a notification.
    /// The sender's badge (or the notification word) comes back in `rdi`.
    Recv = 4,
    /// Receive only if a sender is waiting (poll a notification), else fail
    /// with [`Error::WouldBlock`].
    NbRecv = 5,
    /// Reply to the thread whose call this thread received last.
    Reply = 6,
    /// Reply, then receive on the endpoint in `rdi`, in one system call.
    ReplyRecv = 7,
    /// Let another thread of the same priority run.
    Yield = 8,
    /// Write bytes to the kernel console through the console capability in
    /// `rdi`: `rdx` = address, `r10` = length.
    DebugWrite = 9,
    /// End a self-test run: `rdx` = 0 for success. Only in kernel self-test
    /// mode; otherwise fails with [`Error::IllegalOperation`].
    DebugExit = 10,
    /// Does nothing: measures the cost of entering and leaving the kernel.
    Null = 11,
    /// The thread is done: `rdx` = exit status. Its supervisor (fault
    /// endpoint) gets a [`fault::EXITED`] message with the status; a thread
    /// without one is suspended.
    Exit = 12,
    /// Moves the reply this thread owes (the last call it received) into
    /// the empty slot at capability address `rdi`, as a one-shot reply
    /// capability: `Send` or `NbSend` on it answers that caller later,
    /// and this thread may receive other calls meanwhile.
    SaveReply = 13,
    /// Runs the kernel's invariant oracle (kernel self-test mode only;
    /// otherwise [`Error::IllegalOperation`]) over everything derived from
    /// the capabilities at addresses `rdi` and `rdx` (0: none): the
    /// derivation tree, the address spaces and the queues. Reply words:
    /// violations found, capabilities checked, 1 if the oracle ran out of
    /// room and checked less, and the interrupts the kernel dropped so far
    /// because they arrived on exception vectors (forged by devices). The
    /// kernel logs each violation.
    DebugCheck = 14,
    /// `Recv` with a deadline: as `Recv` on the endpoint or notification in
    /// `rdi`, but a thread still waiting when the time-stamp counter
    /// reaches `rdx` (absolute, in TSC cycles: the boot info and start
    /// info give the rate) gives up with [`Error::TimedOut`]. A deadline
    /// already past polls, failing with `TimedOut` instead of
    /// `WouldBlock`. The kernel sets its timer for the deadline.
    RecvTimed = 15,
}

impl Syscall {
    pub const fn from_raw(n: u64) -> Option<Self> {
        Some(match n {
            1 => Self::Call,
            2 => Self::Send,
            3 => Self::NbSend,
            4 => Self::Recv,
            5 => Self::NbRecv,
            6 => Self::Reply,
            7 => Self::ReplyRecv,
            8 => Self::Yield,
            9 => Self::DebugWrite,
            10 => Self::DebugExit,
            11 => Self::Null,
            12 => Self::Exit,
            13 => Self::SaveReply,
            14 => Self::DebugCheck,
            15 => Self::RecvTimed,
            _ => return None,
        })
    }
}

/// Why a system call failed. Zero in `rax` means success.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum Error {
    /// The capability address names an empty slot or cannot be resolved.
    InvalidCapability = 1,
    /// The capability is of the wrong type for the operation.
    WrongType = 2,
    /// The capability lacks a right the operation needs.
    MissingRight = 3,
    /// An argument is malformed (unknown object type, zero count, …).
    InvalidArgument = 4,
    /// A number is out of its range (slot index, size, priority, …).
    RangeError = 5,
    /// An address or size is not aligned as required.
    AlignmentError = 6,
    /// The untyped memory has no room for the requested objects.
    NotEnoughMemory = 7,
    /// A destination slot is not empty.
    SlotOccupied = 8,
    /// Something is already mapped at that address (or the object is
    /// already mapped somewhere).
    AlreadyMapped = 9,
    /// A page table the mapping needs is missing. Reply word 0 is the
    /// [`ObjectType`] of the highest missing one ([`ObjectType::Pdpt`],
    /// [`ObjectType::PageDirectory`] or [`ObjectType::PageTable`]): make
    /// one, map it, and try again.
    MissingPageTable = 10,
    /// The operation is not allowed on this object or in this state.
    IllegalOperation = 11,
    /// A user address points into the kernel or is not mapped.
    InvalidUserAddress = 12,
    /// Unknown system-call number.
    UnknownSyscall = 13,
    /// Unknown invocation label for this object type.
    UnknownInvocation = 14,
    /// The capability to copy or mint cannot be duplicated (untyped
    /// memory, IRQ and I/O-port control, reply capabilities).
    NotCopyable = 15,
    /// The object still has derived capabilities; revoke them first.
    RevokeFirst = 16,
    /// The IPC was cut short: the endpoint or notification was deleted, or
    /// the partner thread was suspended or destroyed (for a reply
    /// capability: the caller it would answer is gone).
    Aborted = 17,
    /// A non-blocking operation found no partner.
    WouldBlock = 18,
    /// A timed wait (`RecvTimed`) reached its deadline first.
    TimedOut = 19,
}

impl Error {
    pub const ALL: [Error; 19] = [
        Self::InvalidCapability,
        Self::WrongType,
        Self::MissingRight,
        Self::InvalidArgument,
        Self::RangeError,
        Self::AlignmentError,
        Self::NotEnoughMemory,
        Self::SlotOccupied,
        Self::AlreadyMapped,
        Self::MissingPageTable,
        Self::IllegalOperation,
        Self::InvalidUserAddress,
        Self::UnknownSyscall,
        Self::UnknownInvocation,
        Self::NotCopyable,
        Self::RevokeFirst,
        Self::Aborted,
        Self::WouldBlock,
        Self::TimedOut,
    ];

    pub fn from_raw(code: u64) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| *e as u64 == code)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Message words a thread can pass in one message.
pub const MAX_MESSAGE_WORDS: usize = 120;
/// Message words that travel in registers.
pub const REGISTER_WORDS: usize = 4;

/// The message descriptor in `rsi`: a label (what to do), a length in
/// words and whether a capability travels with it. Bits 0-6: length;
/// bit 7: one capability attached; bits 8-11: reserved; bits 12-63: label.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MessageInfo(pub u64);

impl MessageInfo {
    pub const fn new(label: u64, length: usize) -> Self {
        Self((label << 12) | (length as u64 & 0x7f))
    }
    /// The same message with a capability attached (see [`ipc_buffer`]).
    pub const fn with_cap(self) -> Self {
        Self(self.0 | 1 << 7)
    }
    pub const fn label(self) -> u64 {
        self.0 >> 12
    }
    pub const fn length(self) -> usize {
        (self.0 & 0x7f) as usize
    }
    pub const fn has_cap(self) -> bool {
        self.0 & 1 << 7 != 0
    }
}

/// Where things live in a thread's IPC buffer (a 4 KiB frame of 512 words,
/// see `TCB_CONFIGURE`). Words 4 to 119 carry message words 4 and up (words
/// 0-3 travel in registers and their slots are unused).
pub mod ipc_buffer {
    /// Sender: the capability address of the capability to transfer, when
    /// the message info says one is attached (needs GRANT on the endpoint).
    pub const SEND_CAP: usize = 120;
    /// Receiver: the CNode (capability address) and slot index where a
    /// received capability goes; CNode 0 accepts none.
    pub const RECV_CNODE: usize = 121;
    pub const RECV_INDEX: usize = 122;
}

/// The label of the message a thread receives when its bound notification
/// is signalled while it waits on an endpoint; `rdi` holds the signal word.
pub const NOTIFICATION_LABEL: u64 = (1 << 52) - 1;

/// Fault messages: what the kernel sends to a thread's fault endpoint when
/// the thread faults. The badge is the fault endpoint capability's; the
/// words are `rip, rsp, address, code` (address: CR2 for page faults, the
/// syscall number for unknown syscalls; code: the CPU's error code).
pub mod fault {
    pub const PAGE_FAULT: u64 = 1;
    pub const GENERAL_PROTECTION: u64 = 2;
    pub const INVALID_OPCODE: u64 = 3;
    pub const DIVIDE_ERROR: u64 = 4;
    pub const BREAKPOINT: u64 = 5;
    pub const UNKNOWN_SYSCALL: u64 = 6;
    /// Any other exception; `code` holds the vector number.
    pub const OTHER_EXCEPTION: u64 = 7;
    /// Not a fault: the thread called `Exit`; `address` holds its status.
    pub const EXITED: u64 = 8;
    /// Reply label: resume the thread where it faulted (after fixing the
    /// cause), registers unchanged.
    pub const RESUME: u64 = 0;
    /// Reply label: resume the thread with words `rip, rsp` as its new
    /// instruction and stack pointers, and a new thread's flags (a fault
    /// may have come from flags it set, such as TF).
    pub const RESUME_AT: u64 = 1;
}

bitflags::bitflags! {
    /// What a capability allows.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub struct Rights: u8 {
        const READ = 1 << 0;
        const WRITE = 1 << 1;
        /// Execute mappings (frames).
        const EXECUTE = 1 << 2;
        /// Transfer capabilities through IPC (endpoints).
        const GRANT = 1 << 3;
        /// Call through an endpoint (send and wait for the reply).
        const CALL = 1 << 4;
    }
}

/// Kernel object types, as named in `UntypedRetype`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum ObjectType {
    Untyped = 1,
    Tcb = 2,
    Endpoint = 3,
    Notification = 4,
    /// Slots: `2^size_bits`, the first of which is reserved.
    CNode = 5,
    /// A 4 KiB frame.
    Frame4K = 6,
    /// A 2 MiB frame.
    Frame2M = 7,
    /// A page table (level 1): 512 entries of 4 KiB frames, covering
    /// 2 MiB. It maps into a page directory.
    PageTable = 8,
    /// An address space: its page-map level 4 (PML4), whose entries hold
    /// [`ObjectType::Pdpt`]s.
    VSpace = 9,
    /// A page directory (level 2): 512 entries of page tables or 2 MiB
    /// frames, covering 1 GiB. It maps into a PDPT.
    PageDirectory = 10,
    /// A page-directory-pointer table (level 3): 512 entries of page
    /// directories, covering 512 GiB. It maps into a VSpace.
    Pdpt = 11,
}

impl ObjectType {
    /// The paging-structure type of `level` (1: page table, 2: page
    /// directory, 3: PDPT).
    pub const fn page_table_of_level(level: u8) -> Option<Self> {
        Some(match level {
            1 => Self::PageTable,
            2 => Self::PageDirectory,
            3 => Self::Pdpt,
            _ => return None,
        })
    }

    /// The level of a paging-structure type below the PML4 (`None` for
    /// other types).
    pub const fn page_table_level(self) -> Option<u8> {
        Some(match self {
            Self::PageTable => 1,
            Self::PageDirectory => 2,
            Self::Pdpt => 3,
            _ => return None,
        })
    }

    pub const fn from_raw(n: u64) -> Option<Self> {
        Some(match n {
            1 => Self::Untyped,
            2 => Self::Tcb,
            3 => Self::Endpoint,
            4 => Self::Notification,
            5 => Self::CNode,
            6 => Self::Frame4K,
            7 => Self::Frame2M,
            8 => Self::PageTable,
            9 => Self::VSpace,
            10 => Self::PageDirectory,
            11 => Self::Pdpt,
            _ => return None,
        })
    }
}

/// Invocation labels (the label of a `Call`'s [`MessageInfo`]). Arguments
/// are message words in the order listed; capabilities named as arguments
/// are capability addresses in the caller's CSpace.
pub mod label {
    /// Untyped: `type, size_bits, count, dest_cnode, dest_index`.
    pub const UNTYPED_RETYPE: u64 = 1;

    /// CNode (the destination): `dest_index, src_cnode, src_index, rights`.
    pub const CNODE_COPY: u64 = 16;
    /// CNode: `dest_index, src_cnode, src_index, rights, badge_or_guard`.
    pub const CNODE_MINT: u64 = 17;
    /// CNode: `dest_index, src_cnode, src_index`.
    pub const CNODE_MOVE: u64 = 18;
    /// CNode: `dest_index, src_cnode, src_index, badge_or_guard`.
    pub const CNODE_MUTATE: u64 = 19;
    /// CNode: `index`.
    pub const CNODE_DELETE: u64 = 20;
    /// CNode: `index`.
    pub const CNODE_REVOKE: u64 = 21;

    /// TCB: `cspace_root, vspace, ipc_buffer_frame, ipc_buffer_addr`.
    pub const TCB_CONFIGURE: u64 = 32;
    /// TCB: `priority`.
    pub const TCB_SET_PRIORITY: u64 = 33;
    /// TCB: `rip, rsp, arg0, arg1` (reply: none). The thread starts over:
    /// its flags become a new thread's (interrupts on, nothing else).
    pub const TCB_WRITE_REGISTERS: u64 = 34;
    /// TCB: reply words `rip, rsp, rflags, rax`.
    pub const TCB_READ_REGISTERS: u64 = 35;
    pub const TCB_RESUME: u64 = 36;
    pub const TCB_SUSPEND: u64 = 37;
    /// TCB: `fault_endpoint` (capability address, 0 for none).
    pub const TCB_SET_FAULT_ENDPOINT: u64 = 38;
    /// TCB: `notification` (capability address, 0 to unbind). A bound
    /// notification's signals also wake the thread when it waits on an
    /// endpoint.
    pub const TCB_BIND_NOTIFICATION: u64 = 39;

    /// Page table, page directory or PDPT: `vspace, vaddr`. It goes into
    /// the entry of the table one level up that covers `vaddr`; that table
    /// must be there (else `MissingPageTable`) and the entry empty (else
    /// `AlreadyMapped`). A table is mapped at most once: its capability
    /// records where, and copies of it (which only a mapped table's
    /// capability can have) share that record.
    pub const PAGE_TABLE_MAP: u64 = 48;
    /// Page table, page directory or PDPT: removes it from its parent and
    /// clears every entry in it (what was mapped through it is unmapped).
    /// Only the last capability to the table may do this (else
    /// `RevokeFirst`).
    pub const PAGE_TABLE_UNMAP: u64 = 49;
    /// Frame: `vspace, vaddr, rights`.
    pub const FRAME_MAP: u64 = 50;
    pub const FRAME_UNMAP: u64 = 51;
    /// Frame: reply word `physical_address`.
    pub const FRAME_GET_ADDRESS: u64 = 52;

    /// IRQ control: `irq, dest_cnode, dest_index`.
    pub const IRQ_CONTROL_GET: u64 = 64;
    /// IRQ handler: `notification` (capability address): interrupts on the
    /// line signal it with its badge. The line is unmasked.
    pub const IRQ_HANDLER_SET_NOTIFICATION: u64 = 65;
    /// IRQ handler: the interrupt was handled; unmask the line again.
    pub const IRQ_HANDLER_ACK: u64 = 66;
    /// IRQ handler: stop delivering (mask the line, forget the notification).
    pub const IRQ_HANDLER_CLEAR: u64 = 67;
    /// IRQ control: `dest_cnode, dest_index`: a handler for a free
    /// message-signalled line (reply: the line).
    pub const IRQ_CONTROL_GET_MSI: u64 = 68;
    /// IRQ handler of a message-signalled line: reply words `address,
    /// data`, what the device writes to raise it (MSI or MSI-X).
    pub const IRQ_HANDLER_MSI_MESSAGE: u64 = 69;
    /// I/O port control: `first, last, dest_cnode, dest_index`.
    pub const IO_PORT_ISSUE: u64 = 72;
    /// I/O port range: `port, width` (reply: value).
    pub const IO_PORT_IN: u64 = 73;
    /// I/O port range: `port, width, value`.
    pub const IO_PORT_OUT: u64 = 74;
}
