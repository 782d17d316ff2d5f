//! System calls: decoding the registers, running IPC, invoking
//! capabilities, writing the reply. The portable objects (untyped memory,
//! CNodes, TCBs) decode their own invocations (`object::invocation`); the
//! machine's objects are invoked here, in the submodules. Every argument is
//! checked here or in the operation it reaches; nothing a thread passes can
//! make the kernel fault or panic.

mod debug;
mod interrupts;
mod io_ports;
mod paging;

use super::boot;
use super::context::UserContext;
use super::state::Kernel;
use super::thread::{self, KernelMachine};
use crate::ipc;
use crate::object::cap::Cap;
use crate::object::cnode;
use crate::object::invocation::{self, Failure, Message, Reply};
use crate::object::objref::{IpcCap, TcbRef};
use crate::object::slot::SlotRef;
use crate::object::tcb::{SendKind, ThreadState, tcb_slot};
use basalt_abi::{Error, MessageInfo, REGISTER_WORDS, Rights, Syscall, fault};

/// What a system call leaves for the epilogue.
enum Outcome {
    /// A kernel invocation's reply words (written as the result).
    Reply([u64; REGISTER_WORDS]),
    /// IPC wrote the result itself, or the thread blocked and its partner
    /// will.
    Done,
}

/// The registers a system call reads (copying the whole context would cost
/// more than the null system call itself).
struct SyscallArgs {
    rdi: u64,
    rsi: u64,
    rdx: u64,
    r10: u64,
    r8: u64,
    r9: u64,
    rip: u64,
    rsp: u64,
}

impl SyscallArgs {
    fn of(c: &UserContext) -> Self {
        Self {
            rdi: c.rdi,
            rsi: c.rsi,
            rdx: c.rdx,
            r10: c.r10,
            r8: c.r8,
            r9: c.r9,
            rip: c.rip,
            rsp: c.rsp,
        }
    }
}

/// Whether a system call may have changed who should run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Next {
    /// No: the caller simply carries on (no thread woke, blocked or moved).
    Caller,
    /// Perhaps: the scheduler decides.
    Scheduler,
    /// A signal preempted the caller and made the thread it woke current,
    /// having checked that nothing runnable outranks it: that thread runs
    /// next, without the scheduler. It waited in a system call (a receive
    /// or a wait), so it returns with `sysretq`. (The IPC fast paths hand
    /// over the same way, before the decoder: [`fast_ipc`].)
    Handoff,
}

/// The IPC fast paths, tried before the decoder (and its frame): `Call`
/// (`call`) or `ReplyRecv` of a register-only message on an endpoint,
/// where [`ipc::fast_call`] or [`ipc::fast_reply_recv`] can hand the CPU
/// to the thread it wakes. `Ok` when it did (that thread is current);
/// otherwise what the decoder needs to know: the slot `rdi` named, if it
/// was looked up (so that no system call looks its capability up twice).
#[inline(always)]
pub fn fast_ipc(
    k: &mut Kernel,
    t: TcbRef,
    call: bool,
) -> Result<(), Option<Result<SlotRef, Error>>> {
    let (address, info) = t.with(|tcb| (tcb.context.rdi, MessageInfo(tcb.context.rsi)));
    let Some(message) = ipc::RegisterMessage::new(info) else {
        return Err(None);
    };
    let slot = lookup(t, address);
    if let Ok(found) = slot
        && let Some(IpcCap::Endpoint { ep, badge, rights }) = found.ipc_cap()
    {
        let rq = &mut k.sched;
        let handed_over = if call {
            rights.contains(Rights::CALL) && ipc::fast_call(rq, t, ep, badge, message)
        } else {
            rights.contains(Rights::READ) && ipc::fast_reply_recv(rq, t, ep, message)
        };
        if handed_over {
            return Ok(());
        }
    }
    Err(Some(slot))
}

/// Handles the system call the current thread `t` made; `rdi_slot` is
/// the slot its `rdi` names if [`fast_ipc`] looked it up already.
pub fn syscall(k: &mut Kernel, t: TcbRef, rdi_slot: Option<Result<SlotRef, Error>>) -> Next {
    let number = t.with(|tcb| tcb.context.rax);
    let ctx = t.with(|tcb| SyscallArgs::of(&tcb.context));
    let info = MessageInfo(ctx.rsi);
    let mut next = Next::Scheduler;
    // The capability `rdi` names: looked up once, by whichever arm needs it.
    let rdi_slot = || rdi_slot.unwrap_or_else(|| lookup(t, ctx.rdi));
    let result = match Syscall::from_raw(number) {
        // Register-only calls that could take the fast path have tried.
        Some(Syscall::Call) => match rdi_slot() {
            Ok(slot) => match slot.ipc_cap() {
                Some(IpcCap::Endpoint { ep, badge, rights }) => {
                    if !rights.contains(Rights::CALL) {
                        Err(Error::MissingRight)
                    } else {
                        let can_grant = rights.contains(Rights::GRANT);
                        ipc::send(
                            &mut k.sched,
                            t,
                            ep,
                            badge,
                            can_grant,
                            info,
                            SendKind::Call,
                            true,
                        )
                        .map(|()| Outcome::Done)
                    }
                }
                _ => Ok(invoke(k, t, slot, &ctx, info, &mut next)),
            },
            Err(e) => Err(e),
        },
        Some(s @ (Syscall::Send | Syscall::NbSend)) => {
            send(k, t, rdi_slot(), info, s == Syscall::Send, &mut next)
        }
        Some(s @ (Syscall::Recv | Syscall::NbRecv)) => {
            receive(k, t, ipc_arg(rdi_slot()), s == Syscall::Recv)
        }
        Some(Syscall::RecvTimed) => receive_until(k, t, ipc_arg(rdi_slot()), ctx.rdx),
        Some(Syscall::Reply) => {
            ipc::reply(&mut k.sched, t, info).map(|()| Outcome::Reply([0; REGISTER_WORDS]))
        }
        Some(Syscall::ReplyRecv) => match ipc_arg(rdi_slot()) {
            Ok(cap) if cap.rights().contains(Rights::READ) => {
                // With nobody to reply to, this is a plain receive (as on
                // the first round of a server loop).
                let _ = ipc::reply(&mut k.sched, t, info);
                receive(k, t, Ok(cap), true)
            }
            // A receive that cannot work fails before anything is sent.
            Ok(_) => Err(Error::MissingRight),
            Err(e) => Err(e),
        },
        Some(Syscall::SaveReply) => {
            next = Next::Caller;
            save_reply(t, ctx.rdi)
        }
        Some(Syscall::Yield) => {
            // The next runnable thread of the caller's priority runs.
            k.sched.rotate();
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        // Handled above.
        Some(Syscall::Null) => Ok(Outcome::Reply([0; REGISTER_WORDS])),
        Some(Syscall::Exit) => {
            if !thread::send_fault(k, t, fault::EXITED, [ctx.rip, ctx.rsp, ctx.rdx, 0]) {
                thread::suspend(k, t);
            }
            Ok(Outcome::Done)
        }
        Some(Syscall::DebugWrite) => {
            next = Next::Caller;
            debug::write(t, ctx.rdi, ctx.rdx, ctx.r10).map(Outcome::Reply)
        }
        Some(Syscall::DebugExit) if boot::in_self_test() => boot::stop(ctx.rdx == 0),
        Some(Syscall::DebugCheck) if boot::in_self_test() => {
            next = Next::Caller;
            debug::check(k, t, [ctx.rdi, ctx.rdx]).map(Outcome::Reply)
        }
        Some(Syscall::DebugCheck) => Err(Error::IllegalOperation),
        Some(Syscall::DebugExit) => Err(Error::IllegalOperation),
        None => {
            if thread::send_fault(k, t, fault::UNKNOWN_SYSCALL, [ctx.rip, ctx.rsp, number, 0]) {
                Ok(Outcome::Done)
            } else {
                Err(Error::UnknownSyscall)
            }
        }
    };
    match result {
        Ok(Outcome::Reply(words)) => t.with(|tcb| {
            let c = &mut tcb.context;
            c.rax = 0;
            c.rsi = MessageInfo::new(0, REGISTER_WORDS).0;
            [c.rdx, c.r10, c.r8, c.r9] = words;
        }),
        Ok(Outcome::Done) => {}
        Err(e) => ipc::fail(t, e),
    }
    next
}

/// The non-empty slot at `address` of `t`'s CSpace.
fn lookup(t: TcbRef, address: u64) -> Result<SlotRef, Error> {
    cnode::lookup(t.slot(tcb_slot::CSPACE).cap(), address)
}

/// The endpoint or notification a receive names (`WrongType` for any
/// other capability).
fn ipc_arg(slot: Result<SlotRef, Error>) -> Result<IpcCap, Error> {
    slot?.ipc_cap().ok_or(Error::WrongType)
}

/// `Send`/`NbSend`; a signal that wakes a thread of higher priority
/// hands it the CPU (`next`: [`Next::Handoff`]).
fn send(
    k: &mut Kernel,
    t: TcbRef,
    slot: Result<SlotRef, Error>,
    info: MessageInfo,
    blocking: bool,
    next: &mut Next,
) -> Result<Outcome, Error> {
    let slot = slot?;
    let rq = &mut k.sched;
    match slot.ipc_cap() {
        Some(IpcCap::Endpoint { ep, badge, rights }) => {
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight);
            }
            let can_grant = rights.contains(Rights::GRANT);
            ipc::send(rq, t, ep, badge, can_grant, info, SendKind::Send, blocking)?;
            Ok(Outcome::Done)
        }
        Some(IpcCap::Notification {
            ntfn,
            badge,
            rights,
        }) => {
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight);
            }
            // The woken thread waited in a system call (a wait or a
            // receive), as a handoff needs.
            if ipc::signal_preempting(rq, ntfn, badge) {
                *next = Next::Handoff;
            }
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        None if matches!(slot.cap(), Cap::Reply { .. }) => {
            ipc::reply_through(rq, t, slot, info)?;
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        None => Err(Error::WrongType),
    }
}

/// `SaveReply`: the reply `t` owes goes into the empty slot at `address`.
fn save_reply(t: TcbRef, address: u64) -> Result<Outcome, Error> {
    let cspace = t.slot(tcb_slot::CSPACE).cap();
    ipc::save_reply(t, cnode::resolve(cspace, address)?)?;
    Ok(Outcome::Reply([0; REGISTER_WORDS]))
}

/// `Recv`/`NbRecv` (and `ReplyRecv`'s receive) on `cap`, the endpoint or
/// notification `rdi` named.
fn receive(
    k: &mut Kernel,
    t: TcbRef,
    cap: Result<IpcCap, Error>,
    blocking: bool,
) -> Result<Outcome, Error> {
    let cap = cap?;
    let rq = &mut k.sched;
    if !cap.rights().contains(Rights::READ) {
        return Err(Error::MissingRight);
    }
    match cap {
        IpcCap::Endpoint { ep, .. } => ipc::receive(rq, t, ep, blocking)?,
        IpcCap::Notification { ntfn, .. } => ipc::wait(t, ntfn, blocking)?,
    }
    Ok(Outcome::Done)
}

/// `RecvTimed`: a receive that gives up at TSC time `deadline`.
fn receive_until(
    k: &mut Kernel,
    t: TcbRef,
    cap: Result<IpcCap, Error>,
    deadline: u64,
) -> Result<Outcome, Error> {
    if super::cpu::rdtsc() >= deadline {
        return receive(k, t, cap, false).map_err(|e| match e {
            Error::WouldBlock => Error::TimedOut,
            e => e,
        });
    }
    let outcome = receive(k, t, cap, true)?;
    if matches!(
        t.state(),
        ThreadState::BlockedOnReceive | ThreadState::BlockedOnNotification
    ) {
        k.sched.sleep(t, deadline);
    }
    Ok(outcome)
}

/// `Call` on a capability that is no endpoint (in `slot`): a kernel
/// invocation. A refusal is written as the result here; an invocation
/// stopped at a preemption point is made again when the thread next runs.
fn invoke(
    k: &mut Kernel,
    t: TcbRef,
    slot: SlotRef,
    ctx: &SyscallArgs,
    info: MessageInfo,
    next: &mut Next,
) -> Outcome {
    if invocation::leaves_threads_alone(info.label()) {
        *next = Next::Caller;
    }
    let regs = [ctx.rdx, ctx.r10, ctx.r8, ctx.r9];
    match invoke_object(k, t, slot, info, regs) {
        Ok(words) => Outcome::Reply(words),
        Err(Failure::Refused { error, detail }) => {
            ipc::fail_with(t, error, detail);
            Outcome::Done
        }
        Err(Failure::Preempted) => {
            // Back to the `syscall` instruction (two bytes, 0f 05),
            // registers untouched: the thread makes the call again when
            // it runs next.
            t.with(|tcb| tcb.context.rip -= 2);
            *next = Next::Scheduler;
            Outcome::Done
        }
    }
}

/// Invokes the capability in `slot` with the message `info` and `regs`
/// (words 0-3) from `t`.
fn invoke_object(
    k: &mut Kernel,
    t: TcbRef,
    slot: SlotRef,
    info: MessageInfo,
    regs: [u64; REGISTER_WORDS],
) -> Reply {
    let cspace = t.slot(tcb_slot::CSPACE).cap();
    let msg = Message::new(t, info, regs);
    let label = info.label();
    if let Some(reply) = invocation::invoke(slot, label, cspace, &msg, &mut KernelMachine(k)) {
        return reply;
    }
    match slot.cap() {
        Cap::PageTable { level, .. } => paging::page_table(k, slot, level, label, cspace, &msg),
        Cap::Frame { base, large, .. } => paging::frame(k, slot, base, large, label, cspace, &msg),
        Cap::IrqControl => interrupts::control(&mut k.irqs, slot, label, cspace, &msg),
        Cap::IrqHandler { irq } => interrupts::handler(&mut k.irqs, irq, label, cspace, &msg),
        Cap::IoPortControl => io_ports::control(slot, label, cspace, &msg),
        Cap::IoPort { first, last } => io_ports::ports(first, last, label, &msg),
        _ => Err(Error::UnknownInvocation.into()),
    }
}
