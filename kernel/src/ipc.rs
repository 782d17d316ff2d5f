//! Synchronous IPC through endpoints, notifications, and fault messages.
//!
//! A thread that cannot complete an IPC operation at once is queued on the
//! endpoint or notification (through its TCB's wait links) and blocked; its
//! partner later completes the operation and writes the results into the
//! blocked thread's saved registers, so the thread sees them as the return
//! value of its system call. Results of the calling thread are written the
//! same way. See `docs/ipc.md`.

use crate::object::cap::Cap;
use crate::object::cnode::{self, index_slot};
use crate::object::objects::{
    Endpoint, INITIAL_RFLAGS, Notification, SendKind, Tcb, ThreadState, tcb_slot,
};
use crate::object::ops;
use crate::object::slot::{Slot, SlotRef};
use crate::sched::{LinkKind, RunQueue, TcbRef};
use basalt_abi::{
    Error, MAX_MESSAGE_WORDS, MessageInfo, NOTIFICATION_LABEL, REGISTER_WORDS, Rights, fault,
    ipc_buffer,
};

use crate::memory::USER_TOP;

fn endpoint(base: u64) -> &'static mut Endpoint {
    // SAFETY: `base` comes from a live endpoint capability, or from a TCB
    // queued on it (a thread leaves the queue before the endpoint dies);
    // single-threaded kernel, no other reference held.
    unsafe { &mut *(base as *mut Endpoint) }
}

fn notification(base: u64) -> &'static mut Notification {
    // SAFETY: as for `endpoint`.
    unsafe { &mut *(base as *mut Notification) }
}

/// Writes a successful result into `t`'s registers.
fn complete(t: TcbRef, badge: u64, info: MessageInfo, words: [u64; REGISTER_WORDS]) {
    t.with(|tcb| {
        let c = &mut tcb.context;
        c.rax = 0;
        c.rdi = badge;
        c.rsi = info.0;
        [c.rdx, c.r10, c.r8, c.r9] = words;
    });
}

/// Writes an error result into `t`'s registers.
pub fn fail(t: TcbRef, e: Error) {
    fail_with(t, e, 0);
}

/// Writes an error result into `t`'s registers, with `detail` as reply
/// word 0 (see the error's documentation).
pub fn fail_with(t: TcbRef, e: Error, detail: u64) {
    complete(t, 0, MessageInfo::new(0, 0), [detail, 0, 0, 0]);
    t.with(|tcb| tcb.context.rax = e as u64);
}

fn wake(rq: &mut RunQueue, t: TcbRef) {
    t.with(|tcb| {
        tcb.state = ThreadState::Runnable;
        tcb.ipc.blocked_on = 0;
    });
    rq.unsleep(t);
    rq.push(t);
}

/// `t`'s deadline passed while it waited (`RecvTimed`): it stops waiting
/// and its system call fails with `TimedOut`.
pub fn time_out(rq: &mut RunQueue, t: TcbRef) {
    leave_queue(t);
    fail(t, Error::TimedOut);
    wake(rq, t);
}

/// The IPC buffer frame of `t` (kernel address), if it has one.
fn buffer(t: TcbRef) -> Option<*mut u64> {
    match Tcb::slot(t.0, tcb_slot::IPC_BUFFER).cap() {
        Cap::Frame {
            base, large: false, ..
        } => Some(base as *mut u64),
        _ => None,
    }
}

fn buffer_word(buf: *mut u64, i: usize) -> u64 {
    // SAFETY: `buf` is a live 4 KiB frame (512 words) and `i` < 512.
    unsafe { buf.add(i).read_volatile() }
}

/// Copies the message `from` is sending to `to` and returns the message
/// info `to` receives.
fn transfer(from: TcbRef, to: TcbRef, badge: u64) {
    let (info, can_grant, kind, regs) = from.with(|t| {
        let i = &t.ipc;
        let regs = match i.kind {
            SendKind::Fault => [i.fault[1], i.fault[2], i.fault[3], i.fault[4]],
            _ => [t.context.rdx, t.context.r10, t.context.r8, t.context.r9],
        };
        (MessageInfo(i.info), i.can_grant, i.kind, regs)
    });
    let mut len = info.length().min(MAX_MESSAGE_WORDS);
    let (src, dst) = (buffer(from), buffer(to));
    if len > REGISTER_WORDS {
        match (src, dst) {
            (Some(s), Some(d)) => {
                // SAFETY: both are live 4 KiB frames; the range is within
                // the first 120 words of each. Distinct frames or the same
                // frame (copying a word onto itself) are both fine.
                unsafe {
                    core::ptr::copy(
                        s.add(REGISTER_WORDS),
                        d.add(REGISTER_WORDS),
                        len - REGISTER_WORDS,
                    )
                };
            }
            _ => len = REGISTER_WORDS,
        }
    }
    let mut delivered = MessageInfo::new(info.label(), len);
    if kind != SendKind::Fault
        && info.has_cap()
        && can_grant
        && let (Some(s), Some(d)) = (src, dst)
        && transfer_cap(from, to, buffer_word(s, ipc_buffer::SEND_CAP), d)
    {
        delivered = delivered.with_cap();
    }
    complete(to, badge, delivered, regs);
}

/// Copies the capability the sender names into the slot the receiver
/// names; false (and nothing happens) if either is not usable.
fn transfer_cap(from: TcbRef, to: TcbRef, address: u64, dst: *mut u64) -> bool {
    let from_cspace = Tcb::slot(from.0, tcb_slot::CSPACE).cap();
    let to_cspace = Tcb::slot(to.0, tcb_slot::CSPACE).cap();
    let (cnode_address, index) = (
        buffer_word(dst, ipc_buffer::RECV_CNODE),
        buffer_word(dst, ipc_buffer::RECV_INDEX),
    );
    if cnode_address == 0 {
        return false;
    }
    let Ok(src) = cnode::lookup(from_cspace, address) else {
        return false;
    };
    let Ok(cnode) = cnode::lookup(to_cspace, cnode_address) else {
        return false;
    };
    let Ok(dest) = index_slot(cnode.cap(), index) else {
        return false;
    };
    ops::copy(src, dest, Rights::all()).is_ok()
}

/// Makes `caller` wait for `receiver`'s reply. A receiver that still owed
/// an earlier caller its reply loses that reply: the earlier caller's call
/// is aborted rather than left blocked forever.
fn link_reply(rq: &mut RunQueue, caller: TcbRef, receiver: TcbRef) {
    let old = receiver.with(|t| core::mem::replace(&mut t.ipc.caller, caller.0));
    if old != 0 && old != caller.0 {
        abort_caller(rq, TcbRef(old));
    }
    caller.with(|t| {
        t.state = ThreadState::BlockedOnReply;
        t.ipc.replier = receiver.0;
        t.ipc.blocked_on = 0;
    });
}

fn abort_caller(rq: &mut RunQueue, caller: TcbRef) {
    caller.with(|t| t.ipc.replier = 0);
    if caller.with(|t| t.ipc.kind) == SendKind::Fault {
        // A faulting thread cannot carry on without its handler.
        caller.with(|t| t.state = ThreadState::Inactive);
        rq.remove(caller);
    } else {
        fail(caller, Error::Aborted);
        wake(rq, caller);
    }
}

/// Sends `sender`'s message on the endpoint at `ep`. `badge` and
/// `can_grant` come from the capability used. Blocks (or, if not
/// `blocking`, fails with `WouldBlock`) while no receiver waits.
#[allow(clippy::too_many_arguments)]
pub fn send(
    rq: &mut RunQueue,
    sender: TcbRef,
    ep: u64,
    badge: u64,
    can_grant: bool,
    info: MessageInfo,
    kind: SendKind,
    blocking: bool,
) -> Result<(), Error> {
    if info.length() > MAX_MESSAGE_WORDS {
        return Err(Error::InvalidArgument);
    }
    if info.has_cap() && !can_grant {
        return Err(Error::MissingRight);
    }
    sender.with(|t| {
        t.ipc.badge = badge;
        t.ipc.info = info.0;
        t.ipc.can_grant = can_grant;
        t.ipc.kind = kind;
    });
    let e = endpoint(ep);
    if e.receivers
        && let Some(receiver) = e.queue.pop_front(LinkKind::Wait)
    {
        deliver(rq, sender, receiver, badge, kind, false);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    wait_on_endpoint(e, ep, sender, false);
    Ok(())
}

/// Hands `sender`'s message to `receiver` and settles both: whichever of
/// them was queued on the endpoint (`sender_was_queued`) wakes; a plain
/// send completes, a call or fault waits for the reply.
fn deliver(
    rq: &mut RunQueue,
    sender: TcbRef,
    receiver: TcbRef,
    badge: u64,
    kind: SendKind,
    sender_was_queued: bool,
) {
    transfer(sender, receiver, badge);
    if !sender_was_queued {
        wake(rq, receiver);
    }
    match kind {
        SendKind::Send => {
            complete(sender, 0, MessageInfo::new(0, 0), [0; REGISTER_WORDS]);
            if sender_was_queued {
                wake(rq, sender);
            }
        }
        SendKind::Call | SendKind::Fault => link_reply(rq, sender, receiver),
    }
}

/// Queues `t` on the endpoint at `ep` as a receiver or a sender and blocks it.
fn wait_on_endpoint(e: &mut Endpoint, ep: u64, t: TcbRef, receiving: bool) {
    e.receivers = receiving;
    e.queue.push_back(t, LinkKind::Wait);
    t.with(|tcb| {
        tcb.state = if receiving {
            ThreadState::BlockedOnReceive
        } else {
            ThreadState::BlockedOnSend
        };
        tcb.ipc.blocked_on = ep;
    });
}

/// Receives on the endpoint at `ep` into `receiver`; a pending signal on
/// its bound notification comes first.
pub fn receive(rq: &mut RunQueue, receiver: TcbRef, ep: u64, blocking: bool) -> Result<(), Error> {
    let bound = receiver.with(|t| t.ipc.bound_notification);
    if bound != 0 {
        let n = notification(bound);
        if n.word != 0 {
            let word = core::mem::take(&mut n.word);
            complete(
                receiver,
                word,
                MessageInfo::new(NOTIFICATION_LABEL, 0),
                [0; REGISTER_WORDS],
            );
            return Ok(());
        }
    }
    let e = endpoint(ep);
    if !e.receivers
        && let Some(sender) = e.queue.pop_front(LinkKind::Wait)
    {
        let (badge, kind) = sender.with(|t| (t.ipc.badge, t.ipc.kind));
        deliver(rq, sender, receiver, badge, kind, true);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    wait_on_endpoint(e, ep, receiver, true);
    Ok(())
}

/// Replies to the thread whose call (or fault) `replier` received last.
/// The reply message is in `replier`'s registers and IPC buffer.
pub fn reply(rq: &mut RunQueue, replier: TcbRef, info: MessageInfo) -> Result<(), Error> {
    let caller = replier.with(|t| t.ipc.caller);
    if caller == 0 {
        return Err(Error::IllegalOperation);
    }
    let caller = TcbRef(caller);
    answer(rq, replier, caller, info)?;
    replier.with(|t| t.ipc.caller = 0);
    caller.with(|t| t.ipc.replier = 0);
    Ok(())
}

/// Delivers the reply in `replier`'s registers and IPC buffer to `caller`,
/// which waits for it, and wakes it; a reply to a fault message says how
/// the faulting thread resumes. Fails, having changed nothing, on a
/// `RESUME_AT` reply without two user addresses. The links between the
/// two threads are the caller's to clear.
fn answer(
    rq: &mut RunQueue,
    replier: TcbRef,
    caller: TcbRef,
    info: MessageInfo,
) -> Result<(), Error> {
    if caller.with(|t| t.ipc.kind) == SendKind::Fault {
        if info.label() == fault::RESUME_AT {
            let (rip, rsp) = replier.with(|t| (t.context.rdx, t.context.r10));
            if rip >= USER_TOP || rsp >= USER_TOP || info.length() < 2 {
                return Err(Error::InvalidArgument);
            }
            // A thread sent elsewhere starts with a new thread's flags: a
            // fault may have come from flags it set (TF single-steps it).
            caller.with(|t| {
                (t.context.rip, t.context.rsp, t.context.rflags) = (rip, rsp, INITIAL_RFLAGS)
            });
        }
        caller.with(|t| t.ipc.kind = SendKind::Send);
        wake(rq, caller);
        return Ok(());
    }
    replier.with(|t| {
        t.ipc.info = MessageInfo::new(info.label(), info.length().min(MAX_MESSAGE_WORDS)).0;
        t.ipc.can_grant = false;
        t.ipc.kind = SendKind::Send;
    });
    transfer(replier, caller, 0);
    wake(rq, caller);
    Ok(())
}

/// `SaveReply`: moves the reply `replier` owes into the empty `slot` as a
/// reply capability, so that `replier` can receive other calls while its
/// caller keeps waiting. The caller's TCB remembers the slot: if the
/// caller goes away first, [`cancel`] kills the capability there.
pub fn save_reply(replier: TcbRef, slot: SlotRef) -> Result<(), Error> {
    if !slot.is_empty() {
        return Err(Error::SlotOccupied);
    }
    let caller = replier.with(|t| core::mem::take(&mut t.ipc.caller));
    if caller == 0 {
        return Err(Error::IllegalOperation);
    }
    TcbRef(caller).with(|t| {
        t.ipc.replier = 0;
        t.ipc.reply_slot = slot.addr();
    });
    slot.install_root(Cap::Reply { caller });
    Ok(())
}

/// `Send` on the reply capability in `slot`: answers its caller with the
/// message in `replier`'s registers and IPC buffer. The capability is used
/// up whether its caller is still there or not (a dead one fails with
/// `Aborted`); a malformed message fails with `InvalidArgument` and
/// leaves it in place.
pub fn reply_through(
    rq: &mut RunQueue,
    replier: TcbRef,
    slot: SlotRef,
    info: MessageInfo,
) -> Result<(), Error> {
    let Cap::Reply { caller } = slot.cap() else {
        return Err(Error::WrongType);
    };
    if info.length() > MAX_MESSAGE_WORDS {
        return Err(Error::InvalidArgument);
    }
    if caller == 0 {
        let _ = slot.take();
        return Err(Error::Aborted);
    }
    let caller = TcbRef(caller);
    answer(rq, replier, caller, info)?;
    caller.with(|t| t.ipc.reply_slot = 0);
    let _ = slot.take();
    Ok(())
}

/// The reply capability naming `caller` was deleted unanswered: its call
/// fails with `Aborted` (a faulting thread stays suspended, as when its
/// handler goes away).
pub fn drop_reply(rq: &mut RunQueue, caller: TcbRef) {
    caller.with(|t| t.ipc.reply_slot = 0);
    abort_caller(rq, caller);
}

/// The fast path of `Call`: a register-only message (no capability) to an
/// endpoint where a receiver of at least the caller's priority waits, and
/// nothing of higher priority is runnable. The receiver becomes the
/// running thread directly, without going through the run queue. Returns
/// false, having changed nothing, when the conditions do not hold.
pub fn fast_call(
    rq: &mut RunQueue,
    caller: TcbRef,
    ep: u64,
    badge: u64,
    info: MessageInfo,
) -> bool {
    if info.length() > REGISTER_WORDS || info.has_cap() {
        return false;
    }
    let e = endpoint(ep);
    if !e.receivers || e.queue.is_empty() {
        return false;
    }
    let receiver = TcbRef(e.queue.head);
    let prio = receiver.priority();
    if prio < caller.priority() || rq.highest().is_some_and(|h| h > prio) {
        return false;
    }
    e.queue.remove(receiver, LinkKind::Wait);
    let words = caller.with(|t| {
        t.ipc.kind = SendKind::Call;
        t.ipc.badge = badge;
        [t.context.rdx, t.context.r10, t.context.r8, t.context.r9]
    });
    complete(
        receiver,
        badge,
        MessageInfo::new(info.label(), info.length()),
        words,
    );
    receiver.with(|t| {
        t.state = ThreadState::Runnable;
        t.ipc.blocked_on = 0;
    });
    rq.unsleep(receiver);
    link_reply(rq, caller, receiver);
    rq.remove(caller);
    rq.current = Some(receiver);
    true
}

/// The fast path of `ReplyRecv`: a register-only reply to a caller (not a
/// faulting thread) of at least the replier's priority, with no sender
/// waiting on the endpoint, so the replier blocks receiving and the caller
/// runs directly. Returns false, having changed nothing, otherwise.
pub fn fast_reply_recv(rq: &mut RunQueue, replier: TcbRef, ep: u64, info: MessageInfo) -> bool {
    if info.length() > REGISTER_WORDS || info.has_cap() {
        return false;
    }
    let (caller, bound) = replier.with(|t| (t.ipc.caller, t.ipc.bound_notification));
    if caller == 0 || (bound != 0 && notification(bound).word != 0) {
        return false;
    }
    let caller = TcbRef(caller);
    let e = endpoint(ep);
    let prio = caller.priority();
    if (!e.receivers && !e.queue.is_empty())
        || caller.with(|t| t.ipc.kind) == SendKind::Fault
        || prio < replier.priority()
        || rq.highest().is_some_and(|h| h > prio)
    {
        return false;
    }
    let words = replier.with(|t| {
        t.ipc.caller = 0;
        [t.context.rdx, t.context.r10, t.context.r8, t.context.r9]
    });
    complete(
        caller,
        0,
        MessageInfo::new(info.label(), info.length()),
        words,
    );
    caller.with(|t| {
        t.state = ThreadState::Runnable;
        t.ipc.replier = 0;
    });
    wait_on_endpoint(e, ep, replier, true);
    rq.remove(replier);
    rq.current = Some(caller);
    true
}

/// Signals the notification at `ntfn` with `badge`.
pub fn signal(rq: &mut RunQueue, ntfn: u64, badge: u64) {
    let n = notification(ntfn);
    if let Some(waiter) = n.queue.pop_front(LinkKind::Wait) {
        complete(
            waiter,
            n.word | badge,
            MessageInfo::new(0, 0),
            [0; REGISTER_WORDS],
        );
        n.word = 0;
        wake(rq, waiter);
        return;
    }
    n.word |= badge;
    if n.bound != 0 {
        let t = TcbRef(n.bound);
        if t.state() == ThreadState::BlockedOnReceive {
            leave_queue(t);
            let word = core::mem::take(&mut n.word);
            complete(
                t,
                word,
                MessageInfo::new(NOTIFICATION_LABEL, 0),
                [0; REGISTER_WORDS],
            );
            wake(rq, t);
        }
    }
}

/// Waits on the notification at `ntfn` (or, if not `blocking`, polls it).
pub fn wait(t: TcbRef, ntfn: u64, blocking: bool) -> Result<(), Error> {
    let n = notification(ntfn);
    if n.word != 0 {
        let word = core::mem::take(&mut n.word);
        complete(t, word, MessageInfo::new(0, 0), [0; REGISTER_WORDS]);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    n.queue.push_back(t, LinkKind::Wait);
    t.with(|tcb| {
        tcb.state = ThreadState::BlockedOnNotification;
        tcb.ipc.blocked_on = ntfn;
    });
    Ok(())
}

/// Binds `t` to the notification at `ntfn` (0: unbinds).
pub fn bind(t: TcbRef, ntfn: u64) -> Result<(), Error> {
    let old = t.with(|tcb| tcb.ipc.bound_notification);
    if ntfn != 0 && notification(ntfn).bound != 0 && notification(ntfn).bound != t.0 {
        return Err(Error::IllegalOperation);
    }
    if old != 0 {
        notification(old).bound = 0;
    }
    t.with(|tcb| tcb.ipc.bound_notification = ntfn);
    if ntfn != 0 {
        notification(ntfn).bound = t.0;
    }
    Ok(())
}

/// Takes a blocked thread off the endpoint or notification queue it is on.
fn leave_queue(t: TcbRef) {
    let (state, on) = t.with(|tcb| (tcb.state, tcb.ipc.blocked_on));
    if on == 0 {
        return;
    }
    match state {
        ThreadState::BlockedOnSend | ThreadState::BlockedOnReceive => {
            endpoint(on).queue.remove(t, LinkKind::Wait)
        }
        ThreadState::BlockedOnNotification => notification(on).queue.remove(t, LinkKind::Wait),
        _ => {}
    }
    t.with(|tcb| tcb.ipc.blocked_on = 0);
}

/// Stops `t` wherever it is in IPC (suspend, or destruction when
/// `destroying`): it leaves every queue, a thread waiting for its reply is
/// aborted, the thread whose reply it waits for forgets it, and a saved
/// reply capability naming it dies (answering through it fails).
pub fn cancel(rq: &mut RunQueue, t: TcbRef, destroying: bool) {
    if !matches!(t.state(), ThreadState::Inactive | ThreadState::Runnable) {
        // The interrupted system call returns `Aborted` if it is resumed.
        fail(t, Error::Aborted);
    }
    leave_queue(t);
    rq.unsleep(t);
    let (replier, caller) = t.with(|tcb| (tcb.ipc.replier, tcb.ipc.caller));
    if replier != 0 {
        TcbRef(replier).with(|r| {
            if r.ipc.caller == t.0 {
                r.ipc.caller = 0;
            }
        });
    }
    if caller != 0 {
        abort_caller(rq, TcbRef(caller));
    }
    let reply_slot = t.with(|tcb| core::mem::take(&mut tcb.ipc.reply_slot));
    if reply_slot != 0 {
        // SAFETY: `reply_slot` is set only while that slot holds the reply
        // capability naming `t` (deleting or using it clears the field
        // first), so the slot and the object holding it are alive.
        let slot = unsafe { SlotRef::new(reply_slot as *mut Slot) };
        slot.update_cap(Cap::Reply { caller: 0 });
    }
    t.with(|tcb| {
        tcb.ipc.replier = 0;
        tcb.ipc.caller = 0;
        tcb.state = ThreadState::Inactive;
    });
    if destroying {
        let _ = bind(t, 0);
    }
    rq.remove(t);
}

/// The endpoint at `ep` is being destroyed: every thread queued on it
/// fails with `Aborted` (a thread sending a fault message is suspended).
pub fn destroy_endpoint(rq: &mut RunQueue, ep: u64) {
    let e = endpoint(ep);
    while let Some(t) = e.queue.pop_front(LinkKind::Wait) {
        t.with(|tcb| tcb.ipc.blocked_on = 0);
        if t.with(|tcb| tcb.state == ThreadState::BlockedOnSend && tcb.ipc.kind == SendKind::Fault)
        {
            t.with(|tcb| tcb.state = ThreadState::Inactive);
        } else {
            fail(t, Error::Aborted);
            wake(rq, t);
        }
    }
}

/// The notification at `ntfn` is being destroyed: waiters fail with
/// `Aborted`, a bound thread is unbound.
pub fn destroy_notification(rq: &mut RunQueue, ntfn: u64) {
    let n = notification(ntfn);
    while let Some(t) = n.queue.pop_front(LinkKind::Wait) {
        t.with(|tcb| tcb.ipc.blocked_on = 0);
        fail(t, Error::Aborted);
        wake(rq, t);
    }
    if n.bound != 0 {
        TcbRef(n.bound).with(|tcb| tcb.ipc.bound_notification = 0);
        n.bound = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{Layout, alloc_zeroed};

    /// A thread with an IPC buffer, in leaked host memory.
    fn thread(priority: u8) -> TcbRef {
        let tcb = Box::leak(Box::new(Tcb::new()));
        tcb.priority = priority;
        tcb.state = ThreadState::Runnable;
        let t = TcbRef(tcb as *mut Tcb as u64);
        // SAFETY: a 4 KiB, 4 KiB-aligned zeroed allocation, never freed.
        let frame = unsafe { alloc_zeroed(Layout::from_size_align(4096, 4096).unwrap()) } as u64;
        let cap = Cap::Frame {
            base: frame,
            large: false,
            device: false,
            rights: Rights::all(),
            mapping: None,
        };
        Tcb::slot(t.0, tcb_slot::IPC_BUFFER).install_root(cap);
        t
    }

    fn object<T: Default>() -> u64 {
        Box::leak(Box::new(T::default())) as *mut T as u64
    }

    fn set_message(t: TcbRef, words: [u64; 4]) {
        t.with(|tcb| {
            [
                tcb.context.rdx,
                tcb.context.r10,
                tcb.context.r8,
                tcb.context.r9,
            ] = words
        });
    }

    /// `t` sends `info` on `ep` unbadged, blocking, as a `kind`.
    fn send_blocking(rq: &mut RunQueue, t: TcbRef, ep: u64, info: MessageInfo, kind: SendKind) {
        send(rq, t, ep, 0, false, info, kind, true).unwrap();
    }

    fn result(t: TcbRef) -> (u64, u64, MessageInfo, [u64; 4]) {
        t.with(|tcb| {
            let c = &tcb.context;
            (c.rax, c.rdi, MessageInfo(c.rsi), [c.rdx, c.r10, c.r8, c.r9])
        })
    }

    fn buffer_of(t: TcbRef) -> *mut u64 {
        buffer(t).unwrap()
    }

    /// Checks that no endpoint queue or thread link still points anywhere.
    fn assert_unlinked(t: TcbRef) {
        t.with(|tcb| {
            assert_eq!(
                (tcb.wait.next, tcb.wait.prev, tcb.ipc.blocked_on),
                (0, 0, 0)
            );
        });
    }

    #[test]
    fn send_then_receive_delivers_badge_and_words() {
        let mut rq = RunQueue::new();
        let (s, r) = (thread(10), thread(10));
        let ep = object::<Endpoint>();
        set_message(s, [1, 2, 3, 4]);
        send(
            &mut rq,
            s,
            ep,
            77,
            false,
            MessageInfo::new(9, 4),
            SendKind::Send,
            true,
        )
        .unwrap();
        assert_eq!(s.state(), ThreadState::BlockedOnSend);
        receive(&mut rq, r, ep, true).unwrap();
        let (rax, badge, info, words) = result(r);
        assert_eq!(
            (rax, badge, info.label(), info.length(), words),
            (0, 77, 9, 4, [1, 2, 3, 4])
        );
        assert_eq!(s.state(), ThreadState::Runnable);
        assert_eq!(result(s).0, 0, "the send completed");
        assert_unlinked(s);
        assert!(endpoint(ep).queue.is_empty());
    }

    #[test]
    fn long_messages_travel_through_the_ipc_buffers() {
        let mut rq = RunQueue::new();
        let (s, r) = (thread(10), thread(10));
        let ep = object::<Endpoint>();
        receive(&mut rq, r, ep, true).unwrap();
        assert_eq!(r.state(), ThreadState::BlockedOnReceive);
        for i in 4..64 {
            // SAFETY: word i of a live 512-word frame.
            unsafe { buffer_of(s).add(i).write(i as u64 * 3) };
        }
        send(
            &mut rq,
            s,
            ep,
            0,
            false,
            MessageInfo::new(1, 64),
            SendKind::Send,
            true,
        )
        .unwrap();
        assert_eq!(result(r).2.length(), 64);
        for i in 4..64 {
            // SAFETY: as above.
            assert_eq!(unsafe { buffer_of(r).add(i).read() }, i as u64 * 3);
        }
        assert_eq!(
            send(
                &mut rq,
                s,
                ep,
                0,
                false,
                MessageInfo::new(1, 121),
                SendKind::Send,
                true
            ),
            Err(Error::InvalidArgument)
        );
    }

    #[test]
    fn call_blocks_until_the_reply() {
        let mut rq = RunQueue::new();
        let (client, server) = (thread(10), thread(10));
        let ep = object::<Endpoint>();
        receive(&mut rq, server, ep, true).unwrap();
        set_message(client, [5, 0, 0, 0]);
        send(
            &mut rq,
            client,
            ep,
            1,
            false,
            MessageInfo::new(2, 1),
            SendKind::Call,
            true,
        )
        .unwrap();
        assert_eq!(client.state(), ThreadState::BlockedOnReply);
        assert_eq!(server.with(|t| t.ipc.caller), client.0);
        set_message(server, [6, 0, 0, 0]);
        reply(&mut rq, server, MessageInfo::new(3, 1)).unwrap();
        let (rax, badge, info, words) = result(client);
        assert_eq!((rax, badge, info.label(), words[0]), (0, 0, 3, 6));
        assert_eq!(client.state(), ThreadState::Runnable);
        assert_eq!(server.with(|t| t.ipc.caller), 0);
        assert_eq!(
            reply(&mut rq, server, MessageInfo::new(0, 0)),
            Err(Error::IllegalOperation)
        );
    }

    #[test]
    fn the_fast_paths_switch_straight_to_the_partner() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (client, server) = (thread(10), thread(10));
        rq.current = Some(client);
        assert!(
            !fast_call(&mut rq, client, ep, 5, MessageInfo::new(1, 1)),
            "no receiver yet"
        );
        receive(&mut rq, server, ep, true).unwrap();
        assert!(
            !fast_call(&mut rq, client, ep, 5, MessageInfo::new(1, 5)),
            "too long for registers"
        );
        set_message(client, [11, 12, 13, 14]);
        assert!(fast_call(&mut rq, client, ep, 5, MessageInfo::new(1, 4)));
        assert_eq!(rq.current, Some(server));
        assert_eq!(
            result(server),
            (0, 5, MessageInfo::new(1, 4), [11, 12, 13, 14])
        );
        assert_eq!(client.state(), ThreadState::BlockedOnReply);
        set_message(server, [21, 0, 0, 0]);
        assert!(fast_reply_recv(&mut rq, server, ep, MessageInfo::new(2, 1)));
        assert_eq!(rq.current, Some(client));
        assert_eq!(result(client).3[0], 21);
        assert_eq!(
            (client.state(), server.state()),
            (ThreadState::Runnable, ThreadState::BlockedOnReceive)
        );
        assert_eq!(endpoint(ep).queue.head, server.0);

        let urgent = thread(200);
        rq.push(urgent);
        assert!(
            !fast_call(&mut rq, client, ep, 5, MessageInfo::new(1, 1)),
            "a higher priority thread waits"
        );
        assert_eq!(
            server.state(),
            ThreadState::BlockedOnReceive,
            "a refused fast path changes nothing"
        );
    }

    #[test]
    fn non_blocking_operations_never_queue() {
        let mut rq = RunQueue::new();
        let t = thread(1);
        let ep = object::<Endpoint>();
        let n = object::<Notification>();
        assert_eq!(
            send(
                &mut rq,
                t,
                ep,
                0,
                false,
                MessageInfo::new(0, 0),
                SendKind::Send,
                false
            ),
            Err(Error::WouldBlock)
        );
        assert_eq!(receive(&mut rq, t, ep, false), Err(Error::WouldBlock));
        assert_eq!(wait(t, n, false), Err(Error::WouldBlock));
        assert!(endpoint(ep).queue.is_empty());
        assert_unlinked(t);
    }

    #[test]
    fn a_capability_needs_the_grant_right() {
        let mut rq = RunQueue::new();
        let t = thread(1);
        let ep = object::<Endpoint>();
        let info = MessageInfo::new(0, 0).with_cap();
        assert_eq!(
            send(&mut rq, t, ep, 0, false, info, SendKind::Send, true),
            Err(Error::MissingRight)
        );
        assert_eq!(t.state(), ThreadState::Runnable, "nothing was queued");
    }

    #[test]
    fn cancelling_queued_threads_leaves_no_links() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let ts: Vec<TcbRef> = (0..3).map(|_| thread(4)).collect();
        for &t in &ts {
            send(
                &mut rq,
                t,
                ep,
                0,
                false,
                MessageInfo::new(0, 0),
                SendKind::Send,
                true,
            )
            .unwrap();
        }
        cancel(&mut rq, ts[1], false);
        assert_unlinked(ts[1]);
        assert_eq!(ts[1].state(), ThreadState::Inactive);
        let r = thread(4);
        receive(&mut rq, r, ep, true).unwrap();
        receive(&mut rq, r, ep, true).unwrap();
        assert_eq!(ts[0].state(), ThreadState::Runnable);
        assert_eq!(ts[2].state(), ThreadState::Runnable);
        assert!(endpoint(ep).queue.is_empty());
    }

    #[test]
    fn a_dying_replier_aborts_its_caller_and_a_dying_caller_is_forgotten() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (client, server) = (thread(3), thread(3));
        receive(&mut rq, server, ep, true).unwrap();
        send_blocking(&mut rq, client, ep, MessageInfo::new(0, 0), SendKind::Call);
        cancel(&mut rq, server, true);
        assert_eq!(result(client).0, Error::Aborted as u64);
        assert_eq!(client.state(), ThreadState::Runnable);
        assert_eq!(client.with(|t| t.ipc.replier), 0);

        let (client, server) = (thread(3), thread(3));
        receive(&mut rq, server, ep, true).unwrap();
        send_blocking(&mut rq, client, ep, MessageInfo::new(0, 0), SendKind::Call);
        cancel(&mut rq, client, true);
        assert_eq!(
            server.with(|t| t.ipc.caller),
            0,
            "no reply to a dead thread"
        );
        assert_eq!(
            reply(&mut rq, server, MessageInfo::new(0, 0)),
            Err(Error::IllegalOperation)
        );
    }

    #[test]
    fn a_new_call_aborts_a_caller_left_without_reply() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (a, b, server) = (thread(3), thread(3), thread(3));
        receive(&mut rq, server, ep, true).unwrap();
        send_blocking(&mut rq, a, ep, MessageInfo::new(0, 0), SendKind::Call);
        receive(&mut rq, server, ep, true).unwrap();
        send_blocking(&mut rq, b, ep, MessageInfo::new(0, 0), SendKind::Call);
        assert_eq!(result(a).0, Error::Aborted as u64);
        assert_eq!(server.with(|t| t.ipc.caller), b.0);
    }

    #[test]
    fn deleting_an_endpoint_aborts_its_waiters() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let ts: Vec<TcbRef> = (0..2).map(|_| thread(2)).collect();
        for &t in &ts {
            receive(&mut rq, t, ep, true).unwrap();
        }
        destroy_endpoint(&mut rq, ep);
        for &t in &ts {
            assert_eq!(result(t).0, Error::Aborted as u64);
            assert_eq!(t.state(), ThreadState::Runnable);
            assert_unlinked(t);
        }
    }

    #[test]
    fn notifications_accumulate_and_wake() {
        let mut rq = RunQueue::new();
        let n = object::<Notification>();
        let t = thread(2);
        signal(&mut rq, n, 0b01);
        signal(&mut rq, n, 0b10);
        wait(t, n, true).unwrap();
        assert_eq!(result(t).1, 0b11);
        assert_eq!(notification(n).word, 0);
        wait(t, n, true).unwrap();
        assert_eq!(t.state(), ThreadState::BlockedOnNotification);
        signal(&mut rq, n, 4);
        assert_eq!((t.state(), result(t).1), (ThreadState::Runnable, 4));
        let w = thread(2);
        wait(w, n, true).unwrap();
        destroy_notification(&mut rq, n);
        assert_eq!(result(w).0, Error::Aborted as u64);
    }

    #[test]
    fn a_bound_notification_wakes_an_endpoint_receiver() {
        let mut rq = RunQueue::new();
        let (ep, n) = (object::<Endpoint>(), object::<Notification>());
        let t = thread(2);
        bind(t, n).unwrap();
        assert_eq!(
            bind(thread(2), n),
            Err(Error::IllegalOperation),
            "one thread per notification"
        );
        receive(&mut rq, t, ep, true).unwrap();
        signal(&mut rq, n, 8);
        let (rax, word, info, _) = result(t);
        assert_eq!((rax, word, info.label()), (0, 8, NOTIFICATION_LABEL));
        assert_unlinked(t);
        signal(&mut rq, n, 16);
        receive(&mut rq, t, ep, true).unwrap();
        assert_eq!(result(t).1, 16, "a pending signal is delivered at once");
        cancel(&mut rq, t, true);
        assert_eq!(notification(n).bound, 0);
    }

    #[test]
    fn fault_replies_resume_where_the_handler_says() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (faulter, handler) = (thread(5), thread(5));
        faulter.with(|t| {
            t.ipc.fault = [basalt_abi::fault::PAGE_FAULT, 0x1000, 0x2000, 0xdead, 6];
            t.context.rax = 42;
        });
        receive(&mut rq, handler, ep, true).unwrap();
        send(
            &mut rq,
            faulter,
            ep,
            9,
            false,
            MessageInfo::new(basalt_abi::fault::PAGE_FAULT, 4),
            SendKind::Fault,
            true,
        )
        .unwrap();
        let (_, badge, info, words) = result(handler);
        assert_eq!(
            (badge, info.label(), words),
            (
                9,
                basalt_abi::fault::PAGE_FAULT,
                [0x1000, 0x2000, 0xdead, 6]
            )
        );
        set_message(handler, [0x4000, 0x5000, 0, 0]);
        reply(&mut rq, handler, MessageInfo::new(fault::RESUME_AT, 2)).unwrap();
        faulter.with(|t| {
            assert_eq!(
                (t.context.rip, t.context.rsp, t.context.rax),
                (0x4000, 0x5000, 42)
            );
            assert_eq!(t.state, ThreadState::Runnable);
        });
    }

    /// An empty slot in leaked host memory.
    fn slot() -> SlotRef {
        let s = Box::leak(Box::new(Slot::EMPTY));
        // SAFETY: a live slot that is never freed.
        unsafe { SlotRef::new(s) }
    }

    /// `client` calls the endpoint `ep`, where `server` receives.
    fn call_to(rq: &mut RunQueue, client: TcbRef, server: TcbRef, ep: u64, word: u64) {
        receive(rq, server, ep, true).unwrap();
        set_message(client, [word, 0, 0, 0]);
        send(
            rq,
            client,
            ep,
            0,
            false,
            MessageInfo::new(1, 1),
            SendKind::Call,
            true,
        )
        .unwrap();
        assert_eq!(server.with(|t| t.ipc.caller), client.0);
    }

    #[test]
    fn saved_replies_let_a_server_take_more_calls_and_answer_later() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (a, b, server) = (thread(3), thread(3), thread(3));
        let (sa, sb) = (slot(), slot());
        call_to(&mut rq, a, server, ep, 10);
        save_reply(server, sa).unwrap();
        assert_eq!(sa.cap(), Cap::Reply { caller: a.0 });
        assert_eq!(
            (server.with(|t| t.ipc.caller), a.with(|t| t.ipc.replier)),
            (0, 0)
        );
        assert_eq!(a.with(|t| t.ipc.reply_slot), sa.addr());
        assert_eq!(
            reply(&mut rq, server, MessageInfo::new(0, 0)),
            Err(Error::IllegalOperation),
            "the implicit reply moved into the slot"
        );
        call_to(&mut rq, b, server, ep, 20);
        assert_eq!(
            a.state(),
            ThreadState::BlockedOnReply,
            "a new call does not abort a saved caller"
        );
        save_reply(server, sb).unwrap();

        set_message(server, [21, 22, 0, 0]);
        reply_through(&mut rq, server, sb, MessageInfo::new(5, 2)).unwrap();
        assert_eq!(result(b), (0, 0, MessageInfo::new(5, 2), [21, 22, 0, 0]));
        assert_eq!(b.state(), ThreadState::Runnable);
        assert!(sb.is_empty(), "used up");
        assert_eq!(
            reply_through(&mut rq, server, sb, MessageInfo::new(5, 0)),
            Err(Error::WrongType),
            "a second answer finds no reply capability"
        );
        for i in 4..10 {
            // SAFETY: word i of a live 512-word frame.
            unsafe { buffer_of(server).add(i).write(100 + i as u64) };
        }
        assert_eq!(
            reply_through(&mut rq, server, sa, MessageInfo::new(6, 121)),
            Err(Error::InvalidArgument)
        );
        assert_eq!(
            sa.cap(),
            Cap::Reply { caller: a.0 },
            "kept after a bad message"
        );
        reply_through(&mut rq, server, sa, MessageInfo::new(6, 10).with_cap()).unwrap();
        assert_eq!(
            result(a).2,
            MessageInfo::new(6, 10),
            "no capability in a reply"
        );
        // SAFETY: word 9 of a live 512-word frame.
        assert_eq!(unsafe { buffer_of(a).add(9).read() }, 109);
        assert_eq!(a.with(|t| t.ipc.reply_slot), 0);
        assert_unlinked(a);
    }

    #[test]
    fn saving_needs_an_owed_reply_and_an_empty_slot() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (client, server) = (thread(3), thread(3));
        let s = slot();
        assert_eq!(save_reply(server, s), Err(Error::IllegalOperation));
        assert!(s.is_empty());
        call_to(&mut rq, client, server, ep, 1);
        s.install_root(Cap::Reply { caller: 0 });
        assert_eq!(save_reply(server, s), Err(Error::SlotOccupied));
        assert_eq!(
            server.with(|t| t.ipc.caller),
            client.0,
            "a refused save changes nothing"
        );
        let wrong = slot();
        wrong.install_root(Cap::Console);
        assert_eq!(
            reply_through(&mut rq, server, wrong, MessageInfo::new(0, 0)),
            Err(Error::WrongType)
        );
    }

    #[test]
    fn a_caller_that_goes_away_leaves_a_dead_reply_capability() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (client, server) = (thread(3), thread(3));
        let s = slot();
        call_to(&mut rq, client, server, ep, 1);
        save_reply(server, s).unwrap();
        cancel(&mut rq, client, false);
        assert_eq!(s.cap(), Cap::Reply { caller: 0 });
        assert_eq!(client.with(|t| t.ipc.reply_slot), 0);
        assert_eq!(
            result(client).0,
            Error::Aborted as u64,
            "a resumed caller sees its call aborted"
        );
        assert_eq!(
            reply_through(&mut rq, server, s, MessageInfo::new(0, 0)),
            Err(Error::Aborted)
        );
        assert!(s.is_empty(), "a dead capability is used up too");
    }

    #[test]
    fn a_reply_capability_deleted_unanswered_aborts_its_caller() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (client, server) = (thread(3), thread(3));
        let s = slot();
        call_to(&mut rq, client, server, ep, 1);
        save_reply(server, s).unwrap();
        cancel(&mut rq, server, true);
        assert_eq!(
            client.state(),
            ThreadState::BlockedOnReply,
            "a saved reply does not depend on the thread that saved it"
        );
        let (cap, _) = s.take();
        assert_eq!(cap, Cap::Reply { caller: client.0 });
        drop_reply(&mut rq, client);
        assert_eq!(result(client).0, Error::Aborted as u64);
        assert_eq!(client.state(), ThreadState::Runnable);
        assert_eq!(client.with(|t| t.ipc.reply_slot), 0);
    }

    #[test]
    fn a_saved_fault_reply_resumes_the_faulting_thread() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (faulter, handler) = (thread(5), thread(5));
        let s = slot();
        receive(&mut rq, handler, ep, true).unwrap();
        send_blocking(
            &mut rq,
            faulter,
            ep,
            MessageInfo::new(basalt_abi::fault::PAGE_FAULT, 4),
            SendKind::Fault,
        );
        save_reply(handler, s).unwrap();
        set_message(handler, [USER_TOP, 0x5000, 0, 0]);
        assert_eq!(
            reply_through(&mut rq, handler, s, MessageInfo::new(fault::RESUME_AT, 2)),
            Err(Error::InvalidArgument)
        );
        assert_eq!(s.cap(), Cap::Reply { caller: faulter.0 });
        set_message(handler, [0x4000, 0x5000, 0, 0]);
        reply_through(&mut rq, handler, s, MessageInfo::new(fault::RESUME_AT, 2)).unwrap();
        faulter.with(|t| {
            assert_eq!((t.context.rip, t.context.rsp), (0x4000, 0x5000));
            assert_eq!(t.state, ThreadState::Runnable);
        });

        // Deleting a saved fault reply leaves the faulting thread stopped.
        receive(&mut rq, handler, ep, true).unwrap();
        send_blocking(
            &mut rq,
            faulter,
            ep,
            MessageInfo::new(basalt_abi::fault::PAGE_FAULT, 4),
            SendKind::Fault,
        );
        save_reply(handler, s).unwrap();
        let _ = s.take();
        drop_reply(&mut rq, faulter);
        assert_eq!(faulter.state(), ThreadState::Inactive);
    }
}
