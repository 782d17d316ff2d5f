//! Synchronous IPC through endpoints, notifications, and fault messages.
//!
//! A thread that cannot complete an IPC operation at once is queued on the
//! endpoint or notification (through its TCB's wait links) and blocked; its
//! partner later completes the operation and writes the results into the
//! blocked thread's saved registers, so the thread sees them as the return
//! value of its system call. Results of the calling thread are written the
//! same way. See `docs/ipc.md`.

use crate::memory::USER_TOP;
use crate::object::cap::Cap;
use crate::object::cnode::{self, index_slot};
use crate::object::objref::{EndpointRef, NotificationRef, TcbRef};
use crate::object::ops;
use crate::object::registers::UserRegisters;
use crate::object::slot::SlotRef;
use crate::object::tcb::{SendKind, ThreadState, WaitingOn, tcb_slot};
use crate::sched::{LinkKind, RunQueue};
use basalt_abi::{
    Error, MAX_MESSAGE_WORDS, MessageInfo, NOTIFICATION_LABEL, REGISTER_WORDS, Rights, fault,
    ipc_buffer,
};

/// Writes a successful result into `t`'s registers.
fn complete(t: TcbRef, badge: u64, info: MessageInfo, words: [u64; REGISTER_WORDS]) {
    t.with(|tcb| tcb.context.set_result(0, badge, info, words));
}

/// Writes an error result into `t`'s registers.
pub fn fail(t: TcbRef, e: Error) {
    fail_with(t, e, 0);
}

/// Writes an error result into `t`'s registers, with `detail` as reply
/// word 0 (see the error's documentation).
pub fn fail_with(t: TcbRef, e: Error, detail: u64) {
    t.with(|tcb| {
        tcb.context
            .set_result(e as u64, 0, MessageInfo::new(0, 0), [detail, 0, 0, 0])
    });
}

fn wake(rq: &mut RunQueue, t: TcbRef) {
    runnable(rq, t);
    rq.push(t);
}

/// `t` stops waiting (its deadline too) and may run; the caller queues it
/// or runs it.
fn runnable(rq: &mut RunQueue, t: TcbRef) {
    t.with(|tcb| {
        tcb.state = ThreadState::Runnable;
        tcb.ipc.blocked_on = None;
    });
    rq.unsleep(t);
}

/// `t`'s deadline passed while it waited (`RecvTimed`): it stops waiting
/// and its system call fails with `TimedOut`.
pub fn time_out(rq: &mut RunQueue, t: TcbRef) {
    leave_queue(t);
    fail(t, Error::TimedOut);
    wake(rq, t);
}

/// The IPC buffer frame of `t`, if it has one.
fn buffer(t: TcbRef) -> Option<*mut u64> {
    t.ipc_buffer().map(|base| base as *mut u64)
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
            _ => t.context.message(),
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
    let from_cspace = from.slot(tcb_slot::CSPACE).cap();
    let to_cspace = to.slot(tcb_slot::CSPACE).cap();
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
    let old = receiver.with(|t| t.ipc.caller.replace(caller));
    if let Some(old) = old
        && old != caller
    {
        abort_caller(rq, old);
    }
    caller.with(|t| {
        t.state = ThreadState::BlockedOnReply;
        t.ipc.replier = Some(receiver);
        t.ipc.blocked_on = None;
    });
}

fn abort_caller(rq: &mut RunQueue, caller: TcbRef) {
    caller.with(|t| t.ipc.replier = None);
    if caller.with(|t| t.ipc.kind) == SendKind::Fault {
        // A faulting thread cannot carry on without its handler.
        caller.with(|t| t.state = ThreadState::Inactive);
        rq.remove(caller);
    } else {
        fail(caller, Error::Aborted);
        wake(rq, caller);
    }
}

/// Sends `sender`'s message on the endpoint `ep`. `badge` and `can_grant`
/// come from the capability used. Blocks (or, if not `blocking`, fails
/// with `WouldBlock`) while no receiver waits.
#[allow(clippy::too_many_arguments)]
pub fn send(
    rq: &mut RunQueue,
    sender: TcbRef,
    ep: EndpointRef,
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
    let receiver = ep.with(|e| {
        if e.receivers {
            e.queue.pop_front(LinkKind::Wait)
        } else {
            None
        }
    });
    if let Some(receiver) = receiver {
        deliver(rq, sender, receiver, badge, kind, false);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    wait_on_endpoint(ep, sender, false);
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

/// Queues `t` on the endpoint `ep` as a receiver or a sender and blocks it.
fn wait_on_endpoint(ep: EndpointRef, t: TcbRef, receiving: bool) {
    ep.with(|e| {
        e.receivers = receiving;
        e.queue.push_back(t, LinkKind::Wait);
    });
    t.with(|tcb| {
        tcb.state = if receiving {
            ThreadState::BlockedOnReceive
        } else {
            ThreadState::BlockedOnSend
        };
        tcb.ipc.blocked_on = Some(WaitingOn::Endpoint(ep));
    });
}

/// Receives on the endpoint `ep` into `receiver`; a pending signal on its
/// bound notification comes first.
pub fn receive(
    rq: &mut RunQueue,
    receiver: TcbRef,
    ep: EndpointRef,
    blocking: bool,
) -> Result<(), Error> {
    if let Some(bound) = receiver.with(|t| t.ipc.bound_notification) {
        let word = bound.with(|n| core::mem::take(&mut n.word));
        if word != 0 {
            complete(
                receiver,
                word,
                MessageInfo::new(NOTIFICATION_LABEL, 0),
                [0; REGISTER_WORDS],
            );
            return Ok(());
        }
    }
    let sender = ep.with(|e| {
        if e.receivers {
            None
        } else {
            e.queue.pop_front(LinkKind::Wait)
        }
    });
    if let Some(sender) = sender {
        let (badge, kind) = sender.with(|t| (t.ipc.badge, t.ipc.kind));
        deliver(rq, sender, receiver, badge, kind, true);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    wait_on_endpoint(ep, receiver, true);
    Ok(())
}

/// Replies to the thread whose call (or fault) `replier` received last.
/// The reply message is in `replier`'s registers and IPC buffer.
pub fn reply(rq: &mut RunQueue, replier: TcbRef, info: MessageInfo) -> Result<(), Error> {
    let Some(caller) = replier.with(|t| t.ipc.caller) else {
        return Err(Error::IllegalOperation);
    };
    answer(rq, replier, caller, info)?;
    replier.with(|t| t.ipc.caller = None);
    caller.with(|t| t.ipc.replier = None);
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
            let [pc, sp, ..] = replier.with(|t| t.context.message());
            if pc >= USER_TOP || sp >= USER_TOP || info.length() < 2 {
                return Err(Error::InvalidArgument);
            }
            caller.with(|t| t.context.restart_at(pc, sp));
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
    let Some(caller) = replier.with(|t| t.ipc.caller.take()) else {
        return Err(Error::IllegalOperation);
    };
    caller.with(|t| {
        t.ipc.replier = None;
        t.ipc.reply_slot = Some(slot);
    });
    slot.install_root(Cap::Reply {
        caller: Some(caller),
    });
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
    let Some(caller) = caller else {
        let _ = slot.take();
        return Err(Error::Aborted);
    };
    answer(rq, replier, caller, info)?;
    caller.with(|t| t.ipc.reply_slot = None);
    let _ = slot.take();
    Ok(())
}

/// The reply capability naming `caller` was deleted unanswered: its call
/// fails with `Aborted` (a faulting thread stays suspended, as when its
/// handler goes away).
pub fn drop_reply(rq: &mut RunQueue, caller: TcbRef) {
    caller.with(|t| t.ipc.reply_slot = None);
    abort_caller(rq, caller);
}

/// A message that travels in registers alone: at most [`REGISTER_WORDS`]
/// words and no capability, what the fast paths carry (checked once, by
/// whoever decodes the system call).
#[derive(Clone, Copy, Debug)]
pub struct RegisterMessage(MessageInfo);

impl RegisterMessage {
    /// `info`, if it is register-only.
    pub fn new(info: MessageInfo) -> Option<Self> {
        (info.length() <= REGISTER_WORDS && !info.has_cap()).then_some(Self(info))
    }

    /// What the receiver is told: the label and length (no capability).
    fn delivered(self) -> MessageInfo {
        MessageInfo::new(self.0.label(), self.0.length())
    }
}

/// The fast path of `Call`: a register-only message (no capability) to an
/// endpoint where a receiver of at least the caller's priority waits, and
/// nothing of higher priority is runnable. The receiver becomes the
/// running thread directly, without going through the run queue. Returns
/// false, having changed nothing, when the conditions do not hold.
pub fn fast_call(
    rq: &mut RunQueue,
    caller: TcbRef,
    ep: EndpointRef,
    badge: u64,
    info: RegisterMessage,
) -> bool {
    let Some(receiver) = ep.with(|e| if e.receivers { e.queue.head } else { None }) else {
        return false;
    };
    let prio = receiver.priority();
    if prio < caller.priority() || rq.highest().is_some_and(|h| h > prio) {
        return false;
    }
    ep.with(|e| e.queue.remove(receiver, LinkKind::Wait));
    let words = caller.with(|t| {
        t.ipc.kind = SendKind::Call;
        t.ipc.badge = badge;
        t.context.message()
    });
    complete(receiver, badge, info.delivered(), words);
    receiver.with(|t| {
        t.state = ThreadState::Runnable;
        t.ipc.blocked_on = None;
    });
    rq.unsleep(receiver);
    link_reply(rq, caller, receiver);
    rq.hand_over(caller, receiver);
    true
}

/// The fast path of `ReplyRecv`: a register-only reply to a caller (not a
/// faulting thread) of at least the replier's priority, with no sender
/// waiting on the endpoint, so the replier blocks receiving and the caller
/// runs directly. Returns false, having changed nothing, otherwise.
pub fn fast_reply_recv(
    rq: &mut RunQueue,
    replier: TcbRef,
    ep: EndpointRef,
    info: RegisterMessage,
) -> bool {
    let (caller, bound) = replier.with(|t| (t.ipc.caller, t.ipc.bound_notification));
    let Some(caller) = caller else {
        return false;
    };
    if bound.is_some_and(|n| n.with(|n| n.word != 0)) {
        return false;
    }
    let senders_wait = ep.with(|e| !e.receivers && !e.queue.is_empty());
    let prio = caller.priority();
    if senders_wait
        || caller.with(|t| t.ipc.kind) == SendKind::Fault
        || prio < replier.priority()
        || rq.highest().is_some_and(|h| h > prio)
    {
        return false;
    }
    let words = replier.with(|t| {
        t.ipc.caller = None;
        t.context.message()
    });
    complete(caller, 0, info.delivered(), words);
    caller.with(|t| {
        t.state = ThreadState::Runnable;
        t.ipc.replier = None;
    });
    wait_on_endpoint(ep, replier, true);
    rq.hand_over(replier, caller);
    true
}

/// Signals the notification `ntfn` with `badge`: a thread it wakes (a
/// waiter, or the bound thread waiting to receive) is queued to run.
pub fn signal(rq: &mut RunQueue, ntfn: NotificationRef, badge: u64) {
    signal_then(ntfn, badge, |t| wake(rq, t));
}

/// [`signal`] from the running thread: a thread it wakes takes the CPU at
/// once where the scheduler would give it the CPU ([`RunQueue::push_preempting`]).
/// True if it did.
pub fn signal_preempting(rq: &mut RunQueue, ntfn: NotificationRef, badge: u64) -> bool {
    signal_then(ntfn, badge, |t| {
        runnable(rq, t);
        rq.push_preempting(t)
    })
    .unwrap_or(false)
}

/// Signals `ntfn` with `badge`; `woken` makes a thread it wakes (a waiter,
/// or the bound thread waiting to receive) run.
fn signal_then<R>(ntfn: NotificationRef, badge: u64, woken: impl FnOnce(TcbRef) -> R) -> Option<R> {
    if let Some(waiter) = ntfn.with(|n| n.queue.pop_front(LinkKind::Wait)) {
        let word = ntfn.with(|n| core::mem::take(&mut n.word)) | badge;
        complete(waiter, word, MessageInfo::new(0, 0), [0; REGISTER_WORDS]);
        return Some(woken(waiter));
    }
    let bound = ntfn.with(|n| {
        n.word |= badge;
        n.bound
    });
    if let Some(t) = bound
        && t.state() == ThreadState::BlockedOnReceive
    {
        leave_queue(t);
        let word = ntfn.with(|n| core::mem::take(&mut n.word));
        complete(
            t,
            word,
            MessageInfo::new(NOTIFICATION_LABEL, 0),
            [0; REGISTER_WORDS],
        );
        return Some(woken(t));
    }
    None
}

/// Waits on the notification `ntfn` (or, if not `blocking`, polls it).
pub fn wait(t: TcbRef, ntfn: NotificationRef, blocking: bool) -> Result<(), Error> {
    let word = ntfn.with(|n| core::mem::take(&mut n.word));
    if word != 0 {
        complete(t, word, MessageInfo::new(0, 0), [0; REGISTER_WORDS]);
        return Ok(());
    }
    if !blocking {
        return Err(Error::WouldBlock);
    }
    ntfn.with(|n| n.queue.push_back(t, LinkKind::Wait));
    t.with(|tcb| {
        tcb.state = ThreadState::BlockedOnNotification;
        tcb.ipc.blocked_on = Some(WaitingOn::Notification(ntfn));
    });
    Ok(())
}

/// Binds `t` to the notification `ntfn` (`None`: unbinds).
pub fn bind(t: TcbRef, ntfn: Option<NotificationRef>) -> Result<(), Error> {
    if let Some(n) = ntfn
        && n.with(|n| n.bound.is_some_and(|b| b != t))
    {
        return Err(Error::IllegalOperation);
    }
    if let Some(old) = t.with(|tcb| tcb.ipc.bound_notification) {
        old.with(|n| n.bound = None);
    }
    t.with(|tcb| tcb.ipc.bound_notification = ntfn);
    if let Some(n) = ntfn {
        n.with(|n| n.bound = Some(t));
    }
    Ok(())
}

/// Takes a blocked thread off the endpoint or notification queue it is on.
fn leave_queue(t: TcbRef) {
    let Some(on) = t.with(|tcb| tcb.ipc.blocked_on.take()) else {
        return;
    };
    match on {
        WaitingOn::Endpoint(ep) => ep.with(|e| e.queue.remove(t, LinkKind::Wait)),
        WaitingOn::Notification(n) => n.with(|n| n.queue.remove(t, LinkKind::Wait)),
    }
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
    if let Some(replier) = replier {
        replier.with(|r| {
            if r.ipc.caller == Some(t) {
                r.ipc.caller = None;
            }
        });
    }
    if let Some(caller) = caller {
        abort_caller(rq, caller);
    }
    if let Some(slot) = t.with(|tcb| tcb.ipc.reply_slot.take()) {
        slot.update_cap(Cap::Reply { caller: None });
    }
    t.with(|tcb| {
        tcb.ipc.replier = None;
        tcb.ipc.caller = None;
        tcb.state = ThreadState::Inactive;
    });
    if destroying {
        let _ = bind(t, None);
    }
    rq.remove(t);
}

/// The endpoint `ep` is being destroyed: every thread queued on it fails
/// with `Aborted` (a thread sending a fault message is suspended).
pub fn destroy_endpoint(rq: &mut RunQueue, ep: EndpointRef) {
    while let Some(t) = ep.with(|e| e.queue.pop_front(LinkKind::Wait)) {
        t.with(|tcb| tcb.ipc.blocked_on = None);
        if t.with(|tcb| tcb.state == ThreadState::BlockedOnSend && tcb.ipc.kind == SendKind::Fault)
        {
            t.with(|tcb| tcb.state = ThreadState::Inactive);
        } else {
            fail(t, Error::Aborted);
            wake(rq, t);
        }
    }
}

/// The notification `ntfn` is being destroyed: waiters fail with
/// `Aborted`, a bound thread is unbound.
pub fn destroy_notification(rq: &mut RunQueue, ntfn: NotificationRef) {
    while let Some(t) = ntfn.with(|n| n.queue.pop_front(LinkKind::Wait)) {
        t.with(|tcb| tcb.ipc.blocked_on = None);
        fail(t, Error::Aborted);
        wake(rq, t);
    }
    if let Some(t) = ntfn.with(|n| n.bound.take()) {
        t.with(|tcb| tcb.ipc.bound_notification = None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::objects::{Endpoint, Notification};
    use crate::object::objref::ObjRef;
    use crate::object::slot::Slot;
    use crate::object::tcb::Tcb;
    use std::alloc::{Layout, alloc_zeroed};

    /// A thread with an IPC buffer, in leaked host memory.
    fn thread(priority: u8) -> TcbRef {
        let t = object::<Tcb>();
        t.with(|tcb| {
            tcb.priority = priority;
            tcb.state = ThreadState::Runnable;
        });
        // SAFETY: a 4 KiB, 4 KiB-aligned zeroed allocation, never freed.
        let frame = unsafe { alloc_zeroed(Layout::from_size_align(4096, 4096).unwrap()) } as u64;
        let cap = Cap::Frame {
            base: frame,
            large: false,
            device: false,
            rights: Rights::all(),
            mapping: None,
        };
        t.slot(tcb_slot::IPC_BUFFER).install_root(cap);
        t
    }

    /// A new object in leaked host memory.
    fn object<T: Default>() -> ObjRef<T> {
        let o = Box::leak(Box::new(T::default()));
        // SAFETY: a live object that is never freed.
        unsafe { ObjRef::from_addr(o as *mut T as u64) }
    }

    fn set_message(t: TcbRef, words: [u64; 4]) {
        t.with(|tcb| tcb.context.set_message(words));
    }

    /// `t` sends `info` on `ep` unbadged, blocking, as a `kind`.
    fn send_blocking(
        rq: &mut RunQueue,
        t: TcbRef,
        ep: EndpointRef,
        info: MessageInfo,
        kind: SendKind,
    ) {
        send(rq, t, ep, 0, false, info, kind, true).unwrap();
    }

    fn result(t: TcbRef) -> (u64, u64, MessageInfo, [u64; 4]) {
        t.with(|tcb| tcb.context.result())
    }

    fn buffer_of(t: TcbRef) -> *mut u64 {
        buffer(t).unwrap()
    }

    /// Checks that no endpoint queue or thread link still points anywhere.
    fn assert_unlinked(t: TcbRef) {
        t.with(|tcb| {
            assert_eq!(
                (tcb.wait.next, tcb.wait.prev, tcb.ipc.blocked_on),
                (None, None, None)
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
        let (status, badge, info, words) = result(r);
        assert_eq!(
            (status, badge, info.label(), info.length(), words),
            (0, 77, 9, 4, [1, 2, 3, 4])
        );
        assert_eq!(s.state(), ThreadState::Runnable);
        assert_eq!(result(s).0, 0, "the send completed");
        assert_unlinked(s);
        assert!(ep.with(|e| e.queue.is_empty()));
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
        assert_eq!(server.with(|t| t.ipc.caller), Some(client));
        set_message(server, [6, 0, 0, 0]);
        reply(&mut rq, server, MessageInfo::new(3, 1)).unwrap();
        let (status, badge, info, words) = result(client);
        assert_eq!((status, badge, info.label(), words[0]), (0, 0, 3, 6));
        assert_eq!(client.state(), ThreadState::Runnable);
        assert_eq!(server.with(|t| t.ipc.caller), None);
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
        let registers = |label, length| RegisterMessage::new(MessageInfo::new(label, length));
        assert!(
            !fast_call(&mut rq, client, ep, 5, registers(1, 1).unwrap()),
            "no receiver yet"
        );
        receive(&mut rq, server, ep, true).unwrap();
        assert!(registers(1, 5).is_none(), "too long for registers");
        assert!(
            RegisterMessage::new(MessageInfo::new(1, 1).with_cap()).is_none(),
            "a capability does not travel in registers"
        );
        set_message(client, [11, 12, 13, 14]);
        assert!(fast_call(&mut rq, client, ep, 5, registers(1, 4).unwrap()));
        assert_eq!(rq.current, Some(server));
        assert_eq!(
            result(server),
            (0, 5, MessageInfo::new(1, 4), [11, 12, 13, 14])
        );
        assert_eq!(client.state(), ThreadState::BlockedOnReply);
        set_message(server, [21, 0, 0, 0]);
        assert!(fast_reply_recv(
            &mut rq,
            server,
            ep,
            registers(2, 1).unwrap()
        ));
        assert_eq!(rq.current, Some(client));
        assert_eq!(result(client).3[0], 21);
        assert_eq!(
            (client.state(), server.state()),
            (ThreadState::Runnable, ThreadState::BlockedOnReceive)
        );
        assert_eq!(ep.with(|e| e.queue.head), Some(server));

        let urgent = thread(200);
        rq.push(urgent);
        assert!(
            !fast_call(&mut rq, client, ep, 5, registers(1, 1).unwrap()),
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
        assert!(ep.with(|e| e.queue.is_empty()));
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
        assert!(ep.with(|e| e.queue.is_empty()));
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
        assert_eq!(client.with(|t| t.ipc.replier), None);

        let (client, server) = (thread(3), thread(3));
        receive(&mut rq, server, ep, true).unwrap();
        send_blocking(&mut rq, client, ep, MessageInfo::new(0, 0), SendKind::Call);
        cancel(&mut rq, client, true);
        assert_eq!(
            server.with(|t| t.ipc.caller),
            None,
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
        assert_eq!(server.with(|t| t.ipc.caller), Some(b));
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
        assert_eq!(n.with(|n| n.word), 0);
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
        bind(t, Some(n)).unwrap();
        assert_eq!(
            bind(thread(2), Some(n)),
            Err(Error::IllegalOperation),
            "one thread per notification"
        );
        receive(&mut rq, t, ep, true).unwrap();
        signal(&mut rq, n, 8);
        let (status, word, info, _) = result(t);
        assert_eq!((status, word, info.label()), (0, 8, NOTIFICATION_LABEL));
        assert_unlinked(t);
        signal(&mut rq, n, 16);
        receive(&mut rq, t, ep, true).unwrap();
        assert_eq!(result(t).1, 16, "a pending signal is delivered at once");
        cancel(&mut rq, t, true);
        assert_eq!(n.with(|n| n.bound), None);
    }

    #[test]
    fn fault_replies_resume_where_the_handler_says() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (faulter, handler) = (thread(5), thread(5));
        faulter.with(|t| {
            t.ipc.fault = [basalt_abi::fault::PAGE_FAULT, 0x1000, 0x2000, 0xdead, 6];
            t.context.set_result(42, 0, MessageInfo::new(0, 0), [0; 4]);
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
            let [pc, sp, _, status] = t.context.report();
            assert_eq!((pc, sp, status), (0x4000, 0x5000, 42));
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
    fn call_to(rq: &mut RunQueue, client: TcbRef, server: TcbRef, ep: EndpointRef, word: u64) {
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
        assert_eq!(server.with(|t| t.ipc.caller), Some(client));
    }

    #[test]
    fn saved_replies_let_a_server_take_more_calls_and_answer_later() {
        let mut rq = RunQueue::new();
        let ep = object::<Endpoint>();
        let (a, b, server) = (thread(3), thread(3), thread(3));
        let (sa, sb) = (slot(), slot());
        call_to(&mut rq, a, server, ep, 10);
        save_reply(server, sa).unwrap();
        assert_eq!(sa.cap(), Cap::Reply { caller: Some(a) });
        assert_eq!(
            (server.with(|t| t.ipc.caller), a.with(|t| t.ipc.replier)),
            (None, None)
        );
        assert_eq!(a.with(|t| t.ipc.reply_slot), Some(sa));
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
            Cap::Reply { caller: Some(a) },
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
        assert_eq!(a.with(|t| t.ipc.reply_slot), None);
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
        s.install_root(Cap::Reply { caller: None });
        assert_eq!(save_reply(server, s), Err(Error::SlotOccupied));
        assert_eq!(
            server.with(|t| t.ipc.caller),
            Some(client),
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
        assert_eq!(s.cap(), Cap::Reply { caller: None });
        assert_eq!(client.with(|t| t.ipc.reply_slot), None);
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
        assert_eq!(
            cap,
            Cap::Reply {
                caller: Some(client)
            }
        );
        drop_reply(&mut rq, client);
        assert_eq!(result(client).0, Error::Aborted as u64);
        assert_eq!(client.state(), ThreadState::Runnable);
        assert_eq!(client.with(|t| t.ipc.reply_slot), None);
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
        assert_eq!(
            s.cap(),
            Cap::Reply {
                caller: Some(faulter)
            }
        );
        set_message(handler, [0x4000, 0x5000, 0, 0]);
        reply_through(&mut rq, handler, s, MessageInfo::new(fault::RESUME_AT, 2)).unwrap();
        faulter.with(|t| {
            assert_eq!(t.context.report()[..2], [0x4000, 0x5000]);
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
