//! IPC: endpoints, notifications, capability transfer, aborts, faults,
//! interrupts and the scheduler, through real system calls between the
//! root thread and threads in other address spaces.
//!
//! Each group works in an [`Arena`]: a 1 MiB untyped from the suite's
//! memory, from which it makes its endpoints, notifications and threads
//! ("kids"); at the end of the group the kids are suspended and the arena
//! is revoked and deleted, which destroys everything the group made (and
//! unmaps the kids' shared pages from the root task's window).
//!
//! A kid is a thread in its own address space (built by
//! [`thread::address_space`]) that runs one of the routines of the code
//! blob in [`code`]. Its CSpace is a 16-slot CNode, guarded so that
//! capability addresses 1–15 are its slots ([`cs`]); its results go to its
//! shared page ([`sw`]), which the root task reads in its window. Kids run
//! at [`KID_PRIORITY`], above the root thread's [`ROOT_PRIORITY`], so a
//! kid made runnable (resumed, or woken by IPC) runs at once and the root
//! thread continues only when every kid has blocked or parked. Most checks
//! still allow for a kernel that runs them later ([`Kid::settle`]); the
//! scheduler cases check the preemption itself.

mod caps;
mod code;
mod faults;
mod fpu;
mod hostile;
mod irq;
mod messages;
mod notify;
mod replies;
mod timed;

use crate::harness::{CNODE, Suite, peek, poke};
use crate::thread::{self, CSPACE_RADIX, Child, IPC_BUFFER, STACK_TOP};
use code::Routine;
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights};
use libcap::{Error, invoke, ipc_buffer, syscall};

/// The root thread's priority during these cases (as the TCB cases leave
/// it).
pub const ROOT_PRIORITY: u64 = thread::PRIORITY;
/// The kids' usual priority: above the root thread's.
pub const KID_PRIORITY: u64 = 150;
/// Size of each group's arena: 1 MiB.
const ARENA_BITS: u64 = 20;
/// Yields the root thread makes at most while waiting for a kid.
const PATIENCE: u32 = 1000;

/// Capability addresses in a kid's CSpace (slots of its CNode).
pub mod cs {
    /// The kid's own TCB: its routines park by suspending themselves.
    pub const SELF: u64 = 1;
    /// The kid's CNode (guarded): where received capabilities go.
    pub const CNODE: u64 = 2;
    /// The capabilities a case gives the kid.
    pub const A: u64 = 3;
    pub const B: u64 = 4;
    pub const C: u64 = 5;
    pub const D: u64 = 6;
}

/// Words of a kid's shared page.
pub mod sw {
    /// Operations the routine completed (written last).
    pub const DONE: usize = 0;
    /// `rdi`, `rsi` and `rax` after its last system call: the badge, the
    /// message info, the error code.
    pub const BADGE: usize = 1;
    pub const INFO: usize = 2;
    pub const ERROR: usize = 3;
    /// Message words 0–3 after its last system call (`W0 + i`).
    pub const W0: usize = 4;
    /// Word 4 of its IPC buffer after its last system call.
    pub const IPC4: usize = 8;
    /// Routine-specific results.
    pub const AUX: usize = 10;
    pub const AUX2: usize = 11;
    /// The spinning routine's counter.
    pub const COUNTER: usize = 12;
    /// How often a routine was entered.
    pub const STARTED: usize = 13;
    /// A routine's log: `LOG + i` for `i < LOG_LEN`.
    pub const LOG: usize = 16;
    pub const LOG_LEN: usize = 32;
    /// Words cleared before each start.
    pub const CLEARED: usize = LOG + LOG_LEN;
}

/// Every IPC group, in order.
pub fn cases(t: &mut Suite) {
    if !t.window_ready {
        return;
    }
    if t.setup(
        "set the root thread's priority",
        invoke::tcb_set_priority(slot::TCB, ROOT_PRIORITY),
    )
    .is_none()
    {
        return;
    }
    ipc_buffer::clear_receive_slot();
    t.expect_ok("syscall: Null", syscall::null_syscall());
    messages::errors(t);
    messages::with_server(t);
    messages::root_receives(t);
    caps::cases(t);
    notify::cases(t);
    messages::aborts(t);
    faults::cases(t);
    hostile::cases(t);
    fpu::cases(t);
    replies::cases(t);
    timed::cases(t);
    irq::cases(t);
}

/// Untyped memory for one group's objects.
pub struct Arena {
    untyped: u64,
}

impl Arena {
    /// A fresh arena (a setup step).
    pub fn new(t: &mut Suite) -> Option<Self> {
        let untyped = t.object(ObjectType::Untyped, ARENA_BITS)?;
        Some(Self { untyped })
    }

    /// Its untyped memory (a root slot): everything the group makes comes
    /// from it.
    pub fn untyped(&self) -> u64 {
        self.untyped
    }

    /// One object of type `ty` in a fresh root slot (a setup step).
    pub fn object(&self, t: &mut Suite, ty: ObjectType) -> Option<u64> {
        t.object_in(self.untyped, ty, 0)
    }

    /// A new endpoint.
    pub fn endpoint(&self, t: &mut Suite) -> Option<u64> {
        self.object(t, ObjectType::Endpoint)
    }

    /// A new notification.
    pub fn notification(&self, t: &mut Suite) -> Option<u64> {
        self.object(t, ObjectType::Notification)
    }

    /// A new kid at `priority`, not started.
    pub fn kid(&self, t: &mut Suite, priority: u64) -> Option<Kid> {
        let tcb = self.object(t, ObjectType::Tcb)?;
        let child = thread::address_space(t, tcb, self.untyped, code::blob(), false)?;
        // Guard of 60 zero bits: the 4 bits left index the 16 slots.
        let guarded = t.slot();
        t.setup(
            "guard a kid's CNode",
            invoke::cnode_mint(
                CNODE,
                guarded,
                CNODE,
                child.cspace,
                Rights::all(),
                (64 - CSPACE_RADIX) << 58,
            ),
        )?;
        t.setup(
            "configure a kid",
            invoke::tcb_configure(tcb, guarded, child.vspace, child.ipc_buffer, IPC_BUFFER),
        )?;
        t.setup(
            "set a kid's priority",
            invoke::tcb_set_priority(tcb, priority),
        )?;
        let kid = Kid { child };
        kid.give(t, cs::SELF, tcb, Rights::all())?;
        kid.give(t, cs::CNODE, guarded, Rights::all())?;
        Some(kid)
    }

    /// Ends the group: suspends `kids`, then revokes and deletes the arena,
    /// destroying everything made from it.
    pub fn release(self, t: &mut Suite, kids: &[&Kid]) {
        for k in kids {
            let _ = invoke::tcb_suspend(k.child.tcb);
        }
        t.setup(
            "revoke a group's arena",
            invoke::cnode_revoke(CNODE, self.untyped),
        );
        t.setup(
            "delete a group's arena",
            invoke::cnode_delete(CNODE, self.untyped),
        );
    }
}

/// A thread in its own address space, running routines of [`code`].
pub struct Kid {
    /// Its objects.
    pub child: Child,
}

impl Kid {
    /// Its TCB (a root slot).
    pub fn tcb(&self) -> u64 {
        self.child.tcb
    }

    /// Copies root capability `src` into its slot `dest` with `rights`
    /// (a setup step).
    pub fn give(&self, t: &mut Suite, dest: u64, src: u64, rights: Rights) -> Option<()> {
        t.setup(
            "give a kid a capability",
            invoke::cnode_copy(self.child.cspace, dest, CNODE, src, rights),
        )
    }

    /// Mints root capability `src` into its slot `dest` with `rights` and
    /// `badge` (a setup step).
    pub fn give_badged(
        &self,
        t: &mut Suite,
        dest: u64,
        src: u64,
        rights: Rights,
        badge: u64,
    ) -> Option<()> {
        t.setup(
            "give a kid a badged capability",
            invoke::cnode_mint(self.child.cspace, dest, CNODE, src, rights, badge),
        )
    }

    /// Whether its slot `index` holds a capability: copies it to a fresh
    /// root slot, returned (or `None` for an empty slot).
    pub fn take_copy(&self, t: &mut Suite, index: u64) -> Option<u64> {
        let dest = t.slot();
        invoke::cnode_copy(CNODE, dest, self.child.cspace, index, Rights::all())
            .ok()
            .map(|()| dest)
    }

    /// Word `i` of its shared page.
    pub fn word(&self, i: usize) -> u64 {
        // SAFETY: a copy of the kid's shared frame is mapped read-write at
        // `shared` in the root VSpace until its arena is revoked, which
        // happens after the last use of the kid.
        unsafe { peek(self.child.shared, i) }
    }

    /// Sets word `i` of its shared page.
    pub fn set_word(&self, i: usize, value: u64) {
        // SAFETY: as in `word`; no Rust reference points into the page.
        unsafe { poke(self.child.shared, i, value) }
    }

    /// Message words 0–3 of its last system call.
    pub fn words(&self) -> [u64; 4] {
        core::array::from_fn(|i| self.word(sw::W0 + i))
    }

    /// (Re)starts it at `routine` with arguments `arg0` and `arg1` (in `rdi`
    /// and `rsi`), after clearing its shared page's result words. Whatever
    /// it was doing is cancelled first (it is suspended).
    pub fn start(&self, t: &mut Suite, routine: Routine, arg0: u64, arg1: u64) -> Option<()> {
        let _ = invoke::tcb_suspend(self.tcb());
        for i in 0..sw::CLEARED {
            self.set_word(i, 0);
        }
        t.setup(
            "write a kid's registers",
            invoke::tcb_write_registers(self.tcb(), routine.entry(), STACK_TOP, arg0, arg1),
        )?;
        t.setup("resume a kid", invoke::tcb_resume(self.tcb()))
    }

    /// Waits (yielding) until word `i` is at least `value`; whether it got
    /// there. A kid of higher priority has run before this is called, so
    /// this returns at once unless the kernel schedules it late.
    pub fn settle(&self, i: usize, value: u64) -> bool {
        let mut n = 0;
        while self.word(i) < value && n < PATIENCE {
            syscall::yield_now();
            n += 1;
        }
        self.word(i) >= value
    }

    /// Waits until it completed `n` operations ([`sw::DONE`]).
    pub fn done(&self, n: u64) -> bool {
        self.settle(sw::DONE, n)
    }

    /// The error code of its last system call, decoded.
    pub fn error(&self) -> Result<(), Error> {
        syscall::decode_error(self.word(sw::ERROR))
    }
}

/// The error `e` as the kernel returns it in `rax`.
pub const fn code_of(e: Error) -> u64 {
    e as u64
}
