//! System calls: decoding the registers, invoking capabilities, writing
//! the reply. Every argument is checked here or in the operation it reaches;
//! nothing a thread passes can make the kernel fault or panic.

use super::layout::PHYS_OFFSET;
use super::thread::{self, KernelMachine};
use super::{boot, irq, serial, vspace};
use crate::ipc;
use crate::object::cap::{Asid, Cap};
use crate::object::cnode::{self, index_slot};
use crate::object::objects::{INITIAL_RFLAGS, MAX_PRIORITY, Tcb, tcb_slot};
use crate::object::objects::{SendKind, ThreadState};
use crate::object::ops;
use crate::object::oracle;
use crate::object::slot::SlotRef;
use crate::sched::TcbRef;
use basalt_abi::{Error, MessageInfo, ObjectType, REGISTER_WORDS, Rights, Syscall, fault, label};
use core::sync::atomic::{AtomicU64, Ordering};

type Reply = Result<[u64; REGISTER_WORDS], Error>;

/// Why an invocation did not complete.
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

impl From<ops::Progress> for Result<[u64; REGISTER_WORDS], Failure> {
    fn from(p: ops::Progress) -> Self {
        match p {
            ops::Progress::Done => Ok(NO_WORDS),
            ops::Progress::Preempted => Err(Failure::Preempted),
        }
    }
}

/// `e`, with the type of the highest table missing on the way to the
/// table at `level` covering `vaddr` when `e` is `MissingPageTable`.
fn missing_table(e: Error, asid: Asid, vaddr: u64, level: u8) -> Failure {
    let detail = match e {
        Error::MissingPageTable => vspace::missing_table(asid, vaddr, level)
            .and_then(ObjectType::page_table_of_level)
            .map_or(0, |ty| ty as u64),
        _ => 0,
    };
    Failure::Refused { error: e, detail }
}

/// The reply words of an invocation that answers nothing but success.
const NO_WORDS: [u64; REGISTER_WORDS] = [0; REGISTER_WORDS];

/// The message of a `Call`: words 0-3 from registers, the rest from the
/// caller's IPC buffer (read through its frame capability, never through a
/// user pointer).
struct Message {
    regs: [u64; REGISTER_WORDS],
    len: usize,
    ipc_buffer: Option<u64>,
}

impl Message {
    fn word(&self, i: usize) -> Result<u64, Error> {
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
    fn of(c: &crate::object::objects::UserContext) -> Self {
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
}

/// Invocation labels that cannot wake, block, suspend or destroy a thread.
fn leaves_threads_alone(label: u64) -> bool {
    !matches!(
        label,
        label::CNODE_DELETE | label::CNODE_REVOKE | label::TCB_CONFIGURE
            ..=label::TCB_BIND_NOTIFICATION
    )
}

/// Handles the system call the current thread `t` made.
pub fn syscall(t: TcbRef) -> Next {
    let number = t.with(|tcb| tcb.context.rax);
    if number == Syscall::Null as u64 {
        // Nothing to decode: the cheapest way through the kernel.
        t.with(|tcb| tcb.context.rax = 0);
        return Next::Caller;
    }
    let ctx = t.with(|tcb| SyscallArgs::of(&tcb.context));
    let info = MessageInfo(ctx.rsi);
    let mut next = Next::Scheduler;
    let result = match Syscall::from_raw(number) {
        Some(Syscall::Call) => match endpoint_arg(t, ctx.rdi) {
            Some(Ok(Cap::Endpoint {
                base,
                badge,
                rights,
            })) => {
                if !rights.contains(Rights::CALL) {
                    Err(Error::MissingRight)
                } else {
                    let can_grant = rights.contains(Rights::GRANT);
                    let mut rq = thread::RUN_QUEUE.lock();
                    if ipc::fast_call(&mut rq, t, base, badge, info) {
                        Ok(Outcome::Done)
                    } else {
                        ipc::send(
                            &mut rq,
                            t,
                            base,
                            badge,
                            can_grant,
                            info,
                            SendKind::Call,
                            true,
                        )
                        .map(|()| Outcome::Done)
                    }
                }
            }
            Some(Err(e)) => Err(e),
            _ => {
                if leaves_threads_alone(info.label()) {
                    next = Next::Caller;
                }
                match call(t, ctx.rdi, info, [ctx.rdx, ctx.r10, ctx.r8, ctx.r9]) {
                    Ok(words) => Ok(Outcome::Reply(words)),
                    Err(Failure::Refused { error, detail }) => {
                        ipc::fail_with(t, error, detail);
                        Ok(Outcome::Done)
                    }
                    Err(Failure::Preempted) => {
                        // Back to the `syscall` instruction (two bytes,
                        // 0f 05), registers untouched: the thread makes the
                        // call again when it runs next.
                        t.with(|tcb| tcb.context.rip -= 2);
                        next = Next::Scheduler;
                        Ok(Outcome::Done)
                    }
                }
            }
        },
        Some(s @ (Syscall::Send | Syscall::NbSend)) => send(t, ctx.rdi, info, s == Syscall::Send),
        Some(s @ (Syscall::Recv | Syscall::NbRecv)) => receive(t, ctx.rdi, s == Syscall::Recv),
        Some(Syscall::RecvTimed) => receive_until(t, ctx.rdi, ctx.rdx),
        Some(Syscall::Reply) => ipc::reply(&mut thread::RUN_QUEUE.lock(), t, info)
            .map(|()| Outcome::Reply([0; REGISTER_WORDS])),
        Some(Syscall::ReplyRecv) => match endpoint_arg(t, ctx.rdi) {
            Some(Ok(Cap::Endpoint { base, rights, .. }))
                if rights.contains(Rights::READ)
                    && ipc::fast_reply_recv(&mut thread::RUN_QUEUE.lock(), t, base, info) =>
            {
                Ok(Outcome::Done)
            }
            Some(Ok(Cap::Endpoint { rights, .. } | Cap::Notification { rights, .. }))
                if rights.contains(Rights::READ) =>
            {
                // With nobody to reply to, this is a plain receive (as on
                // the first round of a server loop).
                let _ = ipc::reply(&mut thread::RUN_QUEUE.lock(), t, info);
                receive(t, ctx.rdi, true)
            }
            // A receive that cannot work fails before anything is sent.
            Some(Ok(_)) => Err(Error::MissingRight),
            Some(Err(e)) => Err(e),
            None => Err(Error::WrongType),
        },
        Some(Syscall::SaveReply) => {
            next = Next::Caller;
            save_reply(t, ctx.rdi)
        }
        Some(Syscall::Yield) => {
            thread::yield_current();
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        // Handled above.
        Some(Syscall::Null) => Ok(Outcome::Reply([0; REGISTER_WORDS])),
        Some(Syscall::Exit) => {
            if !thread::send_fault(t, fault::EXITED, [ctx.rip, ctx.rsp, ctx.rdx, 0]) {
                thread::suspend(t);
            }
            Ok(Outcome::Done)
        }
        Some(Syscall::DebugWrite) => {
            next = Next::Caller;
            debug_write(t, ctx.rdi, ctx.rdx, ctx.r10).map(Outcome::Reply)
        }
        Some(Syscall::DebugExit) if boot::in_self_test() => boot::stop(ctx.rdx == 0),
        Some(Syscall::DebugCheck) if boot::in_self_test() => {
            next = Next::Caller;
            debug_check(t, [ctx.rdi, ctx.rdx]).map(Outcome::Reply)
        }
        Some(Syscall::DebugCheck) => Err(Error::IllegalOperation),
        Some(Syscall::DebugExit) => Err(Error::IllegalOperation),
        None => {
            if thread::send_fault(t, fault::UNKNOWN_SYSCALL, [ctx.rip, ctx.rsp, number, 0]) {
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

/// The capability at `address` if it is an endpoint or notification;
/// `None` for any other (valid) capability.
fn endpoint_arg(t: TcbRef, address: u64) -> Option<Result<Cap, Error>> {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    match cnode::lookup(cspace, address) {
        Ok(slot) => match slot.cap() {
            c @ (Cap::Endpoint { .. } | Cap::Notification { .. }) => Some(Ok(c)),
            _ => None,
        },
        Err(e) => Some(Err(e)),
    }
}

fn send(t: TcbRef, address: u64, info: MessageInfo, blocking: bool) -> Result<Outcome, Error> {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    let slot = cnode::lookup(cspace, address)?;
    let mut rq = thread::RUN_QUEUE.lock();
    match slot.cap() {
        Cap::Endpoint {
            base,
            badge,
            rights,
        } => {
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight);
            }
            let can_grant = rights.contains(Rights::GRANT);
            ipc::send(
                &mut rq,
                t,
                base,
                badge,
                can_grant,
                info,
                SendKind::Send,
                blocking,
            )?;
            Ok(Outcome::Done)
        }
        Cap::Notification {
            base,
            badge,
            rights,
        } => {
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight);
            }
            ipc::signal(&mut rq, base, badge);
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        Cap::Reply { .. } => {
            ipc::reply_through(&mut rq, t, slot, info)?;
            Ok(Outcome::Reply([0; REGISTER_WORDS]))
        }
        _ => Err(Error::WrongType),
    }
}

/// `SaveReply`: the reply `t` owes goes into the empty slot at `address`.
fn save_reply(t: TcbRef, address: u64) -> Result<Outcome, Error> {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    ipc::save_reply(t, cnode::resolve(cspace, address)?)?;
    Ok(Outcome::Reply([0; REGISTER_WORDS]))
}

fn receive(t: TcbRef, address: u64, blocking: bool) -> Result<Outcome, Error> {
    let cap = endpoint_arg(t, address).unwrap_or(Err(Error::WrongType))?;
    let mut rq = thread::RUN_QUEUE.lock();
    let (base, rights, is_endpoint) = match cap {
        Cap::Endpoint { base, rights, .. } => (base, rights, true),
        Cap::Notification { base, rights, .. } => (base, rights, false),
        _ => return Err(Error::WrongType),
    };
    if !rights.contains(Rights::READ) {
        return Err(Error::MissingRight);
    }
    if is_endpoint {
        ipc::receive(&mut rq, t, base, blocking)?;
    } else {
        ipc::wait(t, base, blocking)?;
    }
    Ok(Outcome::Done)
}

/// `RecvTimed`: a receive that gives up at TSC time `deadline`.
fn receive_until(t: TcbRef, address: u64, deadline: u64) -> Result<Outcome, Error> {
    if super::cpu::rdtsc() >= deadline {
        return receive(t, address, false).map_err(|e| match e {
            Error::WouldBlock => Error::TimedOut,
            e => e,
        });
    }
    let outcome = receive(t, address, true)?;
    if matches!(
        t.state(),
        ThreadState::BlockedOnReceive | ThreadState::BlockedOnNotification
    ) {
        thread::RUN_QUEUE.lock().sleep(t, deadline);
    }
    Ok(outcome)
}

/// `DebugWrite`: the bytes go to the serial console, if `console` names
/// the console capability in the caller's CSpace. They are queued for the
/// UART (see `serial::queue_user_bytes`): the kernel never waits for the
/// line with interrupts off. Reply word 0 says how many were queued, fewer
/// than asked while the queue is full; the caller comes back for the rest
/// (libcap's `debug_write` does). The whole buffer is checked first, so a
/// bad one fails before any of it is written.
fn debug_write(t: TcbRef, console: u64, addr: u64, len: u64) -> Reply {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    if cnode::lookup(cspace, console)?.cap() != Cap::Console {
        return Err(Error::WrongType);
    }
    if len > 4096 {
        return Err(Error::RangeError);
    }
    let Cap::VSpace { base, .. } = Tcb::slot(t.0, tcb_slot::VSPACE).cap() else {
        return Err(Error::IllegalOperation);
    };
    let bytes = vspace::UserBytes::new(addr, len);
    bytes.check(base)?;
    let mut buf = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        bytes.read(base, done, &mut buf[..n])?;
        let queued = serial::queue_user_bytes(&buf[..n]);
        done += queued as u64;
        if queued < n {
            break;
        }
    }
    Ok([done, 0, 0, 0])
}

/// The invariant oracle's working memory (about 200 KiB; self-test runs
/// only use it).
static ORACLE_SCRATCH: spin::Mutex<oracle::Scratch> = spin::Mutex::new(oracle::Scratch::new());

/// Violations the oracle logs per check (it counts them all).
const ORACLE_LOG_LIMIT: u64 = 8;

/// `DebugCheck`: the invariant oracle over what derives from the
/// capabilities at `roots` (0: none).
fn debug_check(t: TcbRef, roots: [u64; 2]) -> Reply {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    let mut slots = [None; 2];
    for (slot, &address) in slots.iter_mut().zip(&roots) {
        if address != 0 {
            *slot = Some(cnode::lookup(cspace, address)?);
        }
    }
    let list = match slots.map(|s| s.filter(|s: &SlotRef| !s.is_empty())) {
        [Some(a), Some(b)] => [a, b],
        [Some(a), None] | [None, Some(a)] => [a, a],
        [None, None] => return Ok([0, 0, 0, super::trap::forged_interrupts()]),
    };
    // A root named twice is checked once.
    let list = if list[0] == list[1] {
        &list[..1]
    } else {
        &list[..]
    };
    let rq = thread::RUN_QUEUE.lock();
    let mut logged = 0;
    let report = oracle::check(
        list,
        &rq,
        &vspace::MmuTables,
        &mut ORACLE_SCRATCH.lock(),
        &mut |v| {
            logged += 1;
            if logged <= ORACLE_LOG_LIMIT {
                log::error!("oracle: {} (at {:#x})", v.what, v.at);
            }
        },
    );
    Ok([
        report.violations,
        report.capabilities,
        u64::from(report.overflow),
        super::trap::forged_interrupts(),
    ])
}

fn lookup_arg(cspace: Cap, address: u64) -> Result<SlotRef, Error> {
    cnode::lookup(cspace, address)
}

fn call(
    t: TcbRef,
    address: u64,
    info: MessageInfo,
    regs: [u64; REGISTER_WORDS],
) -> Result<[u64; REGISTER_WORDS], Failure> {
    let cspace = Tcb::slot(t.0, tcb_slot::CSPACE).cap();
    let slot = cnode::lookup(cspace, address)?;
    let ipc_buffer = match Tcb::slot(t.0, tcb_slot::IPC_BUFFER).cap() {
        Cap::Frame {
            base, large: false, ..
        } => Some(base),
        _ => None,
    };
    let msg = Message {
        regs,
        len: info.length(),
        ipc_buffer,
    };
    let w = |i| msg.word(i);
    let cap = slot.cap();
    match (cap, info.label()) {
        (Cap::Untyped { .. }, label::UNTYPED_RETYPE) => {
            let ty = ObjectType::from_raw(w(0)?).ok_or(Error::InvalidArgument)?;
            let dest = lookup_arg(cspace, w(3)?)?.cap();
            if !matches!(dest, Cap::CNode { .. }) {
                return Err(Error::WrongType.into());
            }
            ops::retype(slot, ty, w(1)?, w(2)?, dest, w(4)?, &mut KernelMachine)?.into()
        }
        (
            Cap::CNode { .. },
            l @ (label::CNODE_COPY | label::CNODE_MINT | label::CNODE_MOVE | label::CNODE_MUTATE),
        ) => {
            let dest = index_slot(cap, w(0)?)?;
            let src_cnode = lookup_arg(cspace, w(1)?)?.cap();
            let src = index_slot(src_cnode, w(2)?)?;
            if src.is_empty() {
                return Err(Error::InvalidCapability.into());
            }
            match l {
                label::CNODE_COPY => ops::copy(src, dest, Rights::from_bits_truncate(w(3)? as u8))?,
                label::CNODE_MINT => {
                    ops::mint(src, dest, Rights::from_bits_truncate(w(3)? as u8), w(4)?)?
                }
                label::CNODE_MOVE => ops::move_cap(src, dest)?,
                _ => ops::mutate(src, dest, w(3)?)?,
            }
            Ok(NO_WORDS)
        }
        (Cap::CNode { .. }, l @ (label::CNODE_DELETE | label::CNODE_REVOKE)) => {
            let target = index_slot(cap, w(0)?)?;
            if target.is_empty() {
                return Err(Error::InvalidCapability.into());
            }
            if l == label::CNODE_DELETE {
                ops::delete(target, &mut KernelMachine).into()
            } else {
                ops::revoke(target, &mut KernelMachine).into()
            }
        }
        (Cap::Tcb { base }, l) => Ok(tcb_invocation(TcbRef(base), l, cspace, &msg)?),
        (Cap::PageTable { level, .. }, label::PAGE_TABLE_MAP) => {
            let Cap::VSpace { asid, .. } = lookup_arg(cspace, w(0)?)?.cap() else {
                return Err(Error::WrongType.into());
            };
            let vaddr = w(1)?;
            ops::map_page_table(slot, asid, vaddr, &mut KernelMachine)
                .map_err(|e| missing_table(e, asid, vaddr, level + 1))?;
            Ok(NO_WORDS)
        }
        (Cap::PageTable { .. }, label::PAGE_TABLE_UNMAP) => {
            ops::unmap_page_table(slot, &mut KernelMachine)?;
            Ok(NO_WORDS)
        }
        (Cap::Frame { large, .. }, label::FRAME_MAP) => {
            let Cap::VSpace { asid, .. } = lookup_arg(cspace, w(0)?)?.cap() else {
                return Err(Error::WrongType.into());
            };
            let (vaddr, wanted) = (w(1)?, Rights::from_bits_truncate(w(2)? as u8));
            ops::map_frame(slot, asid, vaddr, wanted, &mut KernelMachine)
                .map_err(|e| missing_table(e, asid, vaddr, if large { 2 } else { 1 }))?;
            Ok(NO_WORDS)
        }
        (Cap::Frame { .. }, label::FRAME_UNMAP) => {
            ops::unmap_frame(slot, &mut KernelMachine)?;
            Ok(NO_WORDS)
        }
        (Cap::Frame { base, .. }, label::FRAME_GET_ADDRESS) => Ok([base - PHYS_OFFSET, 0, 0, 0]),
        (Cap::IrqControl, label::IRQ_CONTROL_GET) => {
            let irq = u8::try_from(w(0)?)
                .ok()
                .filter(|&i| usize::from(i) < irq::IOAPIC_LINES)
                .ok_or(Error::RangeError)?;
            let dest = index_slot(lookup_arg(cspace, w(1)?)?.cap(), w(2)?)?;
            if !dest.is_empty() {
                return Err(Error::SlotOccupied.into());
            }
            let bit = 1u64 << irq;
            if ISSUED_IRQS.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
                return Err(Error::IllegalOperation.into());
            }
            dest.install_child(Cap::IrqHandler { irq }, slot);
            Ok(NO_WORDS)
        }
        (Cap::IrqControl, label::IRQ_CONTROL_GET_MSI) => {
            let dest = index_slot(lookup_arg(cspace, w(0)?)?.cap(), w(1)?)?;
            if !dest.is_empty() {
                return Err(Error::SlotOccupied.into());
            }
            let first = irq::IOAPIC_LINES as u8;
            if irq::msi_message(first).is_none() {
                return Err(Error::IllegalOperation.into());
            }
            // Claims the first line whose bit was clear.
            let irq = (first..irq::IRQ_LINES as u8)
                .find(|&line| {
                    let bit = 1u64 << line;
                    ISSUED_IRQS.fetch_or(bit, Ordering::Relaxed) & bit == 0
                })
                .ok_or(Error::NotEnoughMemory)?;
            dest.install_child(Cap::IrqHandler { irq }, slot);
            Ok([u64::from(irq), 0, 0, 0])
        }
        (Cap::IrqHandler { irq: line }, label::IRQ_HANDLER_MSI_MESSAGE) => {
            let (address, data) = irq::msi_message(line).ok_or(Error::IllegalOperation)?;
            Ok([address, data, 0, 0])
        }
        (Cap::IrqHandler { irq: line }, label::IRQ_HANDLER_SET_NOTIFICATION) => {
            let Cap::Notification {
                base,
                badge,
                rights,
            } = lookup_arg(cspace, w(0)?)?.cap()
            else {
                return Err(Error::WrongType.into());
            };
            if !rights.contains(Rights::WRITE) {
                return Err(Error::MissingRight.into());
            }
            if !irq::bind(line, base, badge) {
                return Err(Error::RangeError.into());
            }
            Ok(NO_WORDS)
        }
        (Cap::IrqHandler { irq: line }, label::IRQ_HANDLER_ACK) => {
            irq::ack(line);
            Ok(NO_WORDS)
        }
        (Cap::IrqHandler { irq: line }, label::IRQ_HANDLER_CLEAR) => {
            irq::unbind(line);
            Ok(NO_WORDS)
        }
        (Cap::IoPortControl, label::IO_PORT_ISSUE) => {
            let (first, last) = (w(0)?, w(1)?);
            if first > last || last > 0xffff {
                return Err(Error::RangeError.into());
            }
            if KERNEL_PORTS
                .iter()
                .any(|&(a, b)| u64::from(a) <= last && first <= u64::from(b))
            {
                return Err(Error::IllegalOperation.into());
            }
            let dest = index_slot(lookup_arg(cspace, w(2)?)?.cap(), w(3)?)?;
            if !dest.is_empty() {
                return Err(Error::SlotOccupied.into());
            }
            dest.install_child(
                Cap::IoPort {
                    first: first as u16,
                    last: last as u16,
                },
                slot,
            );
            Ok(NO_WORDS)
        }
        (Cap::IoPort { first, last }, l @ (label::IO_PORT_IN | label::IO_PORT_OUT)) => {
            let (port, width) = (w(0)?, w(1)?);
            if !matches!(width, 1 | 2 | 4) {
                return Err(Error::InvalidArgument.into());
            }
            // `port` is the caller's word: `port + width - 1` must not wrap
            // (a wrapped sum would pass the check for a port below `first`).
            if port < u64::from(first)
                || port
                    .checked_add(width - 1)
                    .is_none_or(|end| end > u64::from(last))
            {
                return Err(Error::RangeError.into());
            }
            let port = port as u16;
            use x86_64::instructions::port::Port;
            // SAFETY: the capability grants exactly these ports, which the
            // kernel never uses itself (see KERNEL_PORTS).
            unsafe {
                if l == label::IO_PORT_IN {
                    let v = match width {
                        1 => u64::from(Port::<u8>::new(port).read()),
                        2 => u64::from(Port::<u16>::new(port).read()),
                        _ => u64::from(Port::<u32>::new(port).read()),
                    };
                    return Ok([v, 0, 0, 0]);
                }
                let v = w(2)?;
                match width {
                    1 => Port::<u8>::new(port).write(v as u8),
                    2 => Port::<u16>::new(port).write(v as u16),
                    _ => Port::<u32>::new(port).write(v as u32),
                }
            }
            Ok(NO_WORDS)
        }
        _ => Err(Error::UnknownInvocation.into()),
    }
}

/// IRQ lines with a handler capability issued (bit per line).
static ISSUED_IRQS: AtomicU64 = AtomicU64::new(0);

const _: () = assert!(irq::IRQ_LINES <= 64);

/// The IRQ's handler is gone: the line stops and can be issued again.
pub fn release_irq(line: u8) {
    irq::unbind(line);
    ISSUED_IRQS.fetch_and(!(1u64 << line), Ordering::Relaxed);
}

/// I/O ports the kernel drives itself: PICs, PIT, the speaker gate, the
/// debug-exit device, COM1.
const KERNEL_PORTS: [(u16, u16); 6] = [
    (0x20, 0x21),
    (0x40, 0x43),
    (0x61, 0x61),
    (0xa0, 0xa1),
    (0xf4, 0xf7),
    (0x3f8, 0x3ff),
];

/// Empties one of a TCB's own slots. They hold copies of CNodes, VSpaces,
/// frames and endpoints, never an issuer, so the deletion never stops at a
/// preemption point.
fn clear_tcb_slot(slot: SlotRef) {
    let progress = ops::delete(slot, &mut KernelMachine);
    debug_assert_eq!(progress, ops::Progress::Done);
}

fn tcb_invocation(target: TcbRef, l: u64, cspace: Cap, msg: &Message) -> Reply {
    let w = |i| msg.word(i);
    match l {
        label::TCB_CONFIGURE => {
            let wanted = [
                (tcb_slot::CSPACE, w(0)?),
                (tcb_slot::VSPACE, w(1)?),
                (tcb_slot::IPC_BUFFER, w(2)?),
            ];
            let mut sources = [None; 3];
            for (i, (kind, address)) in wanted.iter().enumerate() {
                let src = lookup_arg(cspace, *address)?;
                let ok = match *kind {
                    tcb_slot::CSPACE => matches!(src.cap(), Cap::CNode { .. }),
                    tcb_slot::VSPACE => matches!(src.cap(), Cap::VSpace { .. }),
                    _ => matches!(src.cap(), Cap::Frame { large: false, .. }),
                };
                if !ok {
                    return Err(Error::WrongType);
                }
                // The kernel writes replies into the IPC buffer through its
                // direct map: it must be RAM (the direct map does not
                // cover device memory) that its holder may write.
                if let Cap::Frame { device, rights, .. } = src.cap()
                    && *kind == tcb_slot::IPC_BUFFER
                {
                    if device {
                        return Err(Error::InvalidArgument);
                    }
                    if !rights.contains(Rights::READ | Rights::WRITE) {
                        return Err(Error::MissingRight);
                    }
                }
                sources[i] = Some(src);
            }
            let buffer_addr = w(3)?;
            if buffer_addr % 4096 != 0 || buffer_addr >= vspace::USER_TOP {
                return Err(Error::AlignmentError);
            }
            for ((kind, _), src) in wanted.iter().zip(sources) {
                let dest = Tcb::slot(target.0, *kind);
                if !dest.is_empty() {
                    clear_tcb_slot(dest);
                }
                ops::copy(src.expect("checked above"), dest, Rights::all())?;
            }
            target.with(|t| t.ipc_buffer_addr = buffer_addr);
            Ok(NO_WORDS)
        }
        label::TCB_SET_PRIORITY => {
            let p = w(0)?;
            if p > MAX_PRIORITY {
                return Err(Error::RangeError);
            }
            thread::RUN_QUEUE.lock().set_priority(target, p as u8);
            Ok(NO_WORDS)
        }
        label::TCB_SET_FAULT_ENDPOINT => {
            let address = w(0)?;
            let src = if address == 0 {
                None
            } else {
                let src = lookup_arg(cspace, address)?;
                match src.cap() {
                    Cap::Endpoint { rights, .. } if rights.contains(Rights::WRITE) => Some(src),
                    Cap::Endpoint { .. } => return Err(Error::MissingRight),
                    _ => return Err(Error::WrongType),
                }
            };
            let dest = Tcb::slot(target.0, tcb_slot::FAULT_ENDPOINT);
            if !dest.is_empty() {
                clear_tcb_slot(dest);
            }
            if let Some(src) = src {
                ops::copy(src, dest, Rights::all())?;
            }
            Ok(NO_WORDS)
        }
        label::TCB_BIND_NOTIFICATION => {
            let address = w(0)?;
            let base = if address == 0 {
                0
            } else {
                match lookup_arg(cspace, address)?.cap() {
                    Cap::Notification { base, rights, .. } if rights.contains(Rights::READ) => base,
                    Cap::Notification { .. } => return Err(Error::MissingRight),
                    _ => return Err(Error::WrongType),
                }
            };
            ipc::bind(target, base)?;
            Ok(NO_WORDS)
        }
        label::TCB_WRITE_REGISTERS => {
            let (rip, rsp) = (w(0)?, w(1)?);
            if rip >= vspace::USER_TOP || rsp >= vspace::USER_TOP {
                return Err(Error::InvalidUserAddress);
            }
            let (a0, a1) = (w(2)?, w(3)?);
            target.with(|t| {
                t.context.rip = rip;
                t.context.rsp = rsp;
                // A new start: none of the old flags (TF, DF, AC) carry over.
                t.context.rflags = INITIAL_RFLAGS;
                t.context.rdi = a0;
                t.context.rsi = a1;
            });
            Ok(NO_WORDS)
        }
        label::TCB_READ_REGISTERS => Ok(target.with(|t| {
            [
                t.context.rip,
                t.context.rsp,
                t.context.rflags,
                t.context.rax,
            ]
        })),
        label::TCB_RESUME => {
            let configured = !Tcb::slot(target.0, tcb_slot::CSPACE).is_empty()
                && !Tcb::slot(target.0, tcb_slot::VSPACE).is_empty();
            if !configured {
                return Err(Error::IllegalOperation);
            }
            thread::resume(target);
            Ok(NO_WORDS)
        }
        label::TCB_SUSPEND => {
            ipc::cancel(&mut thread::RUN_QUEUE.lock(), target, false);
            Ok(NO_WORDS)
        }
        _ => Err(Error::UnknownInvocation),
    }
}
