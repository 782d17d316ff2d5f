//! Messages through endpoints: the errors the root thread gets alone, a
//! kid as an echo server, the root thread as receiver and server, and
//! aborted IPC.

use super::code::{CALLER_LABEL, Routine, SEND_LABEL, SEND_WORDS};
use super::{Arena, KID_PRIORITY, Kid, code_of, cs, sw};
use crate::harness::{CNODE, PROBE_LABEL, Suite};
use libcap::abi::boot_info::slot;
use libcap::abi::{MAX_MESSAGE_WORDS, MessageInfo, Rights, Syscall};
use libcap::ipc::{self, Message};
use libcap::{Error, invoke, syscall};

/// The echo server's priority in the case without the fast path: below
/// the root thread's.
const LOW_SERVER_PRIORITY: u64 = 50;

/// A copy of `src` with only `rights`, in a fresh root slot (a setup step).
pub fn copy_with(t: &mut Suite, src: u64, rights: Rights) -> Option<u64> {
    let dest = t.slot();
    t.setup(
        "copy a capability with fewer rights",
        invoke::cnode_copy(CNODE, dest, CNODE, src, rights),
    )
    .map(|()| dest)
}

/// A badged copy of `src` with `rights`, in a fresh root slot.
pub fn mint(t: &mut Suite, src: u64, rights: Rights, badge: u64) -> Option<u64> {
    let dest = t.slot();
    t.setup(
        "mint a badged capability",
        invoke::cnode_mint(CNODE, dest, CNODE, src, rights, badge),
    )
    .map(|()| dest)
}

/// Every right but `without`.
pub fn all_but(without: Rights) -> Rights {
    Rights::all().difference(without)
}

/// A raw system call `number` on `cap` with message info `info` (words
/// zero): its error.
fn raw_error(number: Syscall, cap: u64, info: MessageInfo) -> Result<(), Error> {
    syscall::decode_error(syscall::raw(number as u64, cap, info, [0; 4]).error)
}

/// What the root thread can check without a partner: rights, types,
/// WouldBlock, Reply with nobody to reply to, the length limit.
pub fn errors(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let Some((ep, ntfn, frame)) = arena
        .endpoint(t)
        .zip(arena.notification(t))
        .zip(arena.object(t, libcap::abi::ObjectType::Frame4K))
        .map(|((e, n), f)| (e, n, f))
    else {
        return;
    };
    let msg = Message::new(1, &[1, 2]);
    t.expect_err(
        "ipc: NbRecv with no sender would block",
        Error::WouldBlock,
        ipc::nb_recv(ep),
    );
    t.expect_err(
        "ipc: NbSend with no receiver would block",
        Error::WouldBlock,
        ipc::nb_send(ep, &msg),
    );
    t.expect_err(
        "ipc: the message of a refused NbSend is dropped",
        Error::WouldBlock,
        ipc::nb_recv(ep),
    );
    if let Some(no_call) = copy_with(t, ep, all_but(Rights::CALL)) {
        t.expect_err(
            "ipc: Call without the CALL right",
            Error::MissingRight,
            ipc::call(no_call, &msg),
        );
    }
    if let Some(no_write) = copy_with(t, ep, all_but(Rights::WRITE)) {
        t.expect_err(
            "ipc: Send without the WRITE right",
            Error::MissingRight,
            ipc::send(no_write, &msg),
        );
        t.expect_err(
            "ipc: NbSend without the WRITE right",
            Error::MissingRight,
            ipc::nb_send(no_write, &msg),
        );
    }
    if let Some(no_read) = copy_with(t, ep, all_but(Rights::READ)) {
        t.expect_err(
            "ipc: Recv without the READ right",
            Error::MissingRight,
            ipc::recv(no_read),
        );
        t.expect_err(
            "ipc: NbRecv without the READ right",
            Error::MissingRight,
            ipc::nb_recv(no_read),
        );
        t.expect_err(
            "ipc: ReplyRecv without the READ right",
            Error::MissingRight,
            ipc::reply_recv(no_read, &msg),
        );
    }
    if let Some(no_write) = copy_with(t, ntfn, all_but(Rights::WRITE)) {
        t.expect_err(
            "notification: signal without the WRITE right",
            Error::MissingRight,
            ipc::signal(no_write),
        );
    }
    if let Some(no_read) = copy_with(t, ntfn, all_but(Rights::READ)) {
        t.expect_err(
            "notification: wait without the READ right",
            Error::MissingRight,
            ipc::wait(no_read),
        );
        t.expect_err(
            "notification: poll without the READ right",
            Error::MissingRight,
            ipc::poll(no_read),
        );
    }
    t.expect_err(
        "ipc: Call on a notification is an invocation (unknown label)",
        Error::UnknownInvocation,
        invoke::raw(ntfn, PROBE_LABEL, &[]),
    );
    t.expect_err(
        "ipc: Send on a frame is the wrong type",
        Error::WrongType,
        ipc::send(frame, &msg),
    );
    t.expect_err(
        "ipc: NbSend on a TCB is the wrong type",
        Error::WrongType,
        ipc::nb_send(slot::TCB, &msg),
    );
    t.expect_err(
        "ipc: Recv on a CNode is the wrong type",
        Error::WrongType,
        ipc::recv(CNODE),
    );
    t.expect_err(
        "ipc: NbRecv on a frame is the wrong type",
        Error::WrongType,
        ipc::nb_recv(frame),
    );
    let empty = t.slot();
    t.expect_err(
        "ipc: Send on an empty slot",
        Error::InvalidCapability,
        ipc::send(empty, &msg),
    );
    t.expect_err(
        "ipc: Recv on an empty slot",
        Error::InvalidCapability,
        ipc::recv(empty),
    );
    t.expect_err(
        "ipc: Reply with nobody to reply to",
        Error::IllegalOperation,
        ipc::reply(&msg),
    );
    let too_long = MessageInfo::new(1, MAX_MESSAGE_WORDS + 1);
    t.expect_err(
        "ipc: NbSend of 121 words",
        Error::InvalidArgument,
        raw_error(Syscall::NbSend, ep, too_long),
    );
    t.expect_err(
        "ipc: NbSend of 127 words",
        Error::InvalidArgument,
        raw_error(Syscall::NbSend, ep, MessageInfo::new(1, 127)),
    );
    arena.release(t, &[]);
}

/// A kid running [`Routine::Echo`] on an endpoint; the root thread calls
/// it.
pub fn with_server(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let Some(ep) = arena.endpoint(t) else {
        return;
    };
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    if kid.give(t, cs::A, ep, Rights::READ).is_some()
        && kid.start(t, Routine::Echo, cs::A, 0).is_some()
    {
        // No yield: a kid of higher priority runs as soon as it is resumed.
        t.expect_eq(
            "sched: a resumed thread of higher priority runs at once",
            1,
            kid.word(sw::STARTED),
        );
        calls(t, &kid, ep);
        // Mode 1: Reply, then Recv.
        if kid.start(t, Routine::Echo, cs::A, 1).is_some() {
            let ok = (0..10).all(|i| {
                ipc::call(ep, &Message::new(7, &[i])).map(|r| r.message.word(0)) == Ok(i + 1)
            });
            t.check(
                "ipc: a server using Reply then Recv answers 10 calls",
                ok && kid.word(sw::AUX) == 0,
                format_args!("each reply the word + 1, Reply Ok"),
                format_args!("replies ok: {ok}, Reply error {}", kid.word(sw::AUX)),
            );
        }
        // A server below the caller's priority: the kernel's fast path
        // (receiver of at least the caller's priority) does not apply.
        if t.setup(
            "lower the server's priority",
            invoke::tcb_set_priority(kid.tcb(), LOW_SERVER_PRIORITY),
        )
        .is_some()
            && kid.start(t, Routine::Echo, cs::A, 0).is_some()
        {
            let started = kid.word(sw::STARTED);
            let ok = (0..10).all(|i| {
                ipc::call(ep, &Message::new(8, &[i, 1, 2])).map(|r| r.message.word(0)) == Ok(i + 1)
            });
            t.check(
                "ipc: a server of lower priority than the caller answers 10 calls",
                started == 0 && ok && kid.word(sw::DONE) == 10,
                format_args!("not started before the first call; 10 right replies"),
                format_args!(
                    "started {started}, replies ok: {ok}, {} messages",
                    kid.word(sw::DONE)
                ),
            );
        }
    }
    arena.release(t, &[&kid]);
}

/// Calls to the echo server `kid` through `ep`.
fn calls(t: &mut Suite, kid: &Kid, ep: u64) {
    let r = ipc::call(ep, &Message::new(0x42, &[1, 2, 3, 4]));
    t.check(
        "ipc: call and reply, four words in registers",
        matches!(&r, Ok(r) if r.label() == 0x42 && r.words() == [2, 3, 4, 5] && r.badge == 0),
        format_args!("label 0x42, words [2, 3, 4, 5], badge 0"),
        format_args!("{r:x?}"),
    );
    t.check(
        "ipc: the server received label, length and the unbadged badge",
        kid.word(sw::DONE) == 1
            && kid.word(sw::INFO) == MessageInfo::new(0x42, 4).0
            && kid.word(sw::BADGE) == 0
            && kid.words() == [1, 2, 3, 4],
        format_args!(
            "1 message, info {:#x}, badge 0",
            MessageInfo::new(0x42, 4).0
        ),
        format_args!(
            "{} messages, info {:#x}, badge {:#x}, words {:x?}",
            kid.word(sw::DONE),
            kid.word(sw::INFO),
            kid.word(sw::BADGE),
            kid.words()
        ),
    );
    let r = ipc::call(ep, &Message::empty(0x43));
    t.check(
        "ipc: an empty message and its empty reply",
        matches!(&r, Ok(r) if r.label() == 0x43 && r.words().is_empty()),
        format_args!("label 0x43, no words"),
        format_args!("{r:x?}"),
    );
    // Badges: two minted copies.
    for badge in [0x11, 0x22] {
        let Some(badged) = mint(t, ep, Rights::WRITE | Rights::CALL, badge) else {
            return;
        };
        let r = ipc::call(badged, &Message::new(1, &[badge]));
        t.check(
            if badge == 0x11 {
                "ipc: the receiver sees the badge of the sender's capability (0x11)"
            } else {
                "ipc: the receiver sees the badge of the sender's capability (0x22)"
            },
            kid.word(sw::BADGE) == badge && r.as_ref().map(|r| r.badge) == Ok(0),
            format_args!("server badge {badge:#x}, reply badge 0"),
            format_args!(
                "server badge {:#x}, reply {:x?}",
                kid.word(sw::BADGE),
                r.map(|r| r.badge)
            ),
        );
    }
    // Long messages through both IPC buffers.
    for len in [5, 64, MAX_MESSAGE_WORDS] {
        let words: [u64; MAX_MESSAGE_WORDS] = core::array::from_fn(|i| 1000 + 3 * i as u64);
        let r = ipc::call(ep, &Message::new(0x44, &words[..len]));
        let ok = matches!(&r, Ok(r) if r.label() == 0x44
            && r.words().len() == len
            && r.words().iter().zip(&words).all(|(a, b)| *a == b + 1));
        let name = match len {
            5 => "ipc: a 5-word message and reply (one word through the IPC buffers)",
            64 => "ipc: a 64-word message and reply through the IPC buffers",
            _ => "ipc: a 120-word message and reply",
        };
        t.check(
            name,
            ok && kid.word(sw::IPC4) == words[4],
            format_args!("{len} words each + 1; server's word 4 {:#x}", words[4]),
            format_args!(
                "{:x?}; server's word 4 {:#x}",
                r.map(|r| (r.label(), r.words().len(), r.message.word(len - 1))),
                kid.word(sw::IPC4)
            ),
        );
    }
    let done = kid.word(sw::DONE);
    t.expect_err(
        "ipc: Call of 121 words",
        Error::InvalidArgument,
        raw_error(
            Syscall::Call,
            ep,
            MessageInfo::new(1, MAX_MESSAGE_WORDS + 1),
        ),
    );
    t.expect_eq(
        "ipc: a refused call does not reach the server",
        done,
        kid.word(sw::DONE),
    );
    // Many round trips.
    let mut bad = None;
    for i in 0..200u64 {
        let m = Message::new(0x45, &[i, !i, i << 32, 5]);
        match ipc::call(ep, &m) {
            Ok(r) if r.words() == [i + 1, (!i).wrapping_add(1), (i << 32) + 1, 6] => {}
            other => {
                bad = Some((i, other.map(|r| r.message.word(0))));
                break;
            }
        }
    }
    t.check(
        "ipc: 200 call / reply-recv round trips",
        bad.is_none() && kid.word(sw::DONE) == done + 200,
        format_args!("every reply right, 200 more messages at the server"),
        format_args!(
            "first wrong: {bad:x?}, {} messages",
            kid.word(sw::DONE) - done
        ),
    );
}

/// The root thread receives: from a kid's Send, NbSend and Call, as a
/// server with Reply and ReplyRecv; and sends to a kid's Recv.
pub fn root_receives(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let Some(ep) = arena.endpoint(t) else {
        return;
    };
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    receive_from_kid(t, &kid, ep);
    send_to_kid(t, &kid, ep);
    serve_kid(t, &kid, ep);
    arena.release(t, &[&kid]);
}

fn receive_from_kid(t: &mut Suite, kid: &Kid, ep: u64) {
    if kid.give_badged(t, cs::A, ep, Rights::WRITE, 0x33).is_none()
        || kid
            .start(t, Routine::SendOnce, cs::A, Syscall::Send as u64)
            .is_none()
    {
        return;
    }
    t.expect_eq(
        "ipc: a sender with no receiver waits",
        0,
        kid.word(sw::DONE),
    );
    let r = ipc::recv(ep);
    t.check(
        "ipc: Recv takes a waiting sender's message and badge",
        matches!(&r, Ok(r) if r.label() == SEND_LABEL && r.words() == SEND_WORDS && r.badge == 0x33 && !r.has_cap()),
        format_args!("label {SEND_LABEL:#x}, words {SEND_WORDS:x?}, badge 0x33"),
        format_args!("{r:x?}"),
    );
    t.check(
        "ipc: the sender continues once its message is taken",
        kid.done(1) && kid.error().is_ok(),
        format_args!("done, Ok"),
        format_args!("done {}, {:?}", kid.word(sw::DONE), kid.error()),
    );
    t.expect_err(
        "ipc: Reply after receiving a Send (not a Call)",
        Error::IllegalOperation,
        ipc::reply(&Message::empty(0)),
    );
    if kid
        .start(t, Routine::SendOnce, cs::A, Syscall::Send as u64)
        .is_some()
    {
        let r = ipc::nb_recv(ep);
        t.check(
            "ipc: NbRecv takes a waiting sender's message",
            matches!(&r, Ok(r) if r.label() == SEND_LABEL && r.badge == 0x33)
                && kid.done(1)
                && kid.error().is_ok(),
            format_args!("label {SEND_LABEL:#x}, badge 0x33; sender done"),
            format_args!("{r:x?}; sender done {}", kid.word(sw::DONE)),
        );
    }
    if kid
        .start(t, Routine::SendOnce, cs::A, Syscall::NbSend as u64)
        .is_some()
    {
        t.check(
            "ipc: a kid's NbSend with no receiver would block",
            kid.done(1) && kid.word(sw::ERROR) == code_of(Error::WouldBlock),
            format_args!("done, error {}", code_of(Error::WouldBlock)),
            format_args!("done {}, error {}", kid.word(sw::DONE), kid.word(sw::ERROR)),
        );
        t.expect_err(
            "ipc: nothing is left queued by a refused NbSend",
            Error::WouldBlock,
            ipc::nb_recv(ep),
        );
    }
    let _ = invoke::cnode_delete(kid.child.cspace, cs::A);
}

fn send_to_kid(t: &mut Suite, kid: &Kid, ep: u64) {
    let Some(badged) = mint(t, ep, Rights::WRITE, 0x44) else {
        return;
    };
    if kid.give(t, cs::A, ep, Rights::READ).is_none() {
        return;
    }
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let sent = ipc::send(badged, &Message::new(0x61, &[10, 20, 30]));
        // No yield: the woken receiver has the higher priority.
        let done_at_once = kid.word(sw::DONE) == 1;
        t.check(
            "ipc: Send to a waiting receiver",
            sent.is_ok()
                && kid.done(1)
                && kid.word(sw::INFO) == MessageInfo::new(0x61, 3).0
                && kid.words()[..3] == [10, 20, 30]
                && kid.word(sw::BADGE) == 0x44,
            format_args!("Ok; label 0x61, 3 words, badge 0x44"),
            format_args!(
                "{sent:?}; info {:#x}, words {:x?}, badge {:#x}",
                kid.word(sw::INFO),
                kid.words(),
                kid.word(sw::BADGE)
            ),
        );
        t.check(
            "sched: a receiver of higher priority runs before the sender continues",
            done_at_once,
            format_args!("the receiver done when Send returns"),
            format_args!("not yet"),
        );
    }
    if kid.start(t, Routine::RecvOnce, cs::A, 0).is_some() {
        let words: [u64; 9] = core::array::from_fn(|i| 0x700 + i as u64);
        let sent = ipc::nb_send(badged, &Message::new(0x62, &words));
        t.check(
            "ipc: NbSend of 9 words to a waiting receiver",
            sent.is_ok()
                && kid.done(1)
                && kid.word(sw::INFO) == MessageInfo::new(0x62, 9).0
                && kid.word(sw::IPC4) == words[4],
            format_args!("Ok; label 0x62, 9 words, word 4 {:#x}", words[4]),
            format_args!(
                "{sent:?}; info {:#x}, word 4 {:#x}",
                kid.word(sw::INFO),
                kid.word(sw::IPC4)
            ),
        );
    }
    let _ = invoke::cnode_delete(kid.child.cspace, cs::A);
}

fn serve_kid(t: &mut Suite, kid: &Kid, ep: u64) {
    if kid.give_badged(t, cs::A, ep, Rights::CALL, 0x55).is_none()
        || kid.start(t, Routine::Caller, cs::A, 0).is_none()
    {
        return;
    }
    let first = ipc::recv(ep);
    t.check(
        "ipc: Recv takes a call, with the caller's badge",
        matches!(&first, Ok(r) if r.label() == CALLER_LABEL && r.words() == [0, 0xc1, 0xc2, 0xc3] && r.badge == 0x55),
        format_args!("label {CALLER_LABEL:#x}, words [0, c1, c2, c3], badge 0x55"),
        format_args!("{first:x?}"),
    );
    t.expect_eq("ipc: the caller waits for the reply", 0, kid.word(sw::DONE));
    let mut seen = [0u64; 3];
    let mut result = Ok(());
    for (i, s) in seen.iter_mut().enumerate() {
        match ipc::reply_recv(ep, &Message::new(0x70 + i as u64, &[100 + i as u64])) {
            Ok(r) => *s = r.message.word(0),
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    t.check(
        "ipc: ReplyRecv answers a call and takes the next",
        result.is_ok() && seen == [1, 2, 3],
        format_args!("Ok, calls 1, 2, 3"),
        format_args!("{result:?}, calls {seen:?}"),
    );
    let replied = ipc::reply(&Message::new(0x73, &[103, 7]));
    let log: [u64; 4] = core::array::from_fn(|i| kid.word(sw::LOG + i));
    t.check(
        "ipc: the caller gets each reply as its Call's result",
        replied.is_ok()
            && kid.done(4)
            && log == [100, 101, 102, 103]
            && MessageInfo(kid.word(sw::INFO)) == MessageInfo::new(0x73, 2),
        format_args!("replies 100..=103, the last with label 0x73 and 2 words"),
        format_args!(
            "{replied:?}, {} calls, replies {log:?}, info {:#x}",
            kid.word(sw::DONE),
            kid.word(sw::INFO)
        ),
    );
    t.expect_err(
        "ipc: a second Reply has nobody to reply to",
        Error::IllegalOperation,
        ipc::reply(&Message::empty(0)),
    );
    // The kid has called again. Take the call, then suspend the caller.
    let r = ipc::recv(ep);
    let suspended = invoke::tcb_suspend(kid.tcb());
    t.check(
        "ipc: take a call, then suspend the caller",
        matches!(&r, Ok(r) if r.message.word(0) == 4) && suspended.is_ok(),
        format_args!("call 4; Ok"),
        format_args!("{:x?}; {suspended:?}", r.map(|r| r.message.word(0))),
    );
    t.expect_err(
        "ipc: Reply to a caller suspended since is refused",
        Error::IllegalOperation,
        ipc::reply(&Message::empty(0)),
    );
    let resumed = invoke::tcb_resume(kid.tcb());
    t.check(
        "ipc: the resumed caller's Call returns Aborted",
        resumed.is_ok() && kid.done(5) && kid.word(sw::ERROR) == code_of(Error::Aborted),
        format_args!("Ok; error {}", code_of(Error::Aborted)),
        format_args!(
            "{resumed:?}; done {}, error {}",
            kid.word(sw::DONE),
            kid.word(sw::ERROR)
        ),
    );
    let _ = invoke::tcb_suspend(kid.tcb());
    let _ = invoke::cnode_delete(kid.child.cspace, cs::A);
}

/// Aborted IPC: an endpoint or notification deleted under a waiting
/// thread, a server that stops before replying.
pub fn aborts(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(a), Some(b)) = (arena.kid(t, KID_PRIORITY), arena.kid(t, KID_PRIORITY)) else {
        return;
    };
    // A receiver, a sender and a caller waiting on an endpoint that goes.
    let cases = [
        (
            Routine::RecvOnce,
            Rights::READ,
            0,
            "ipc: deleting the endpoint aborts a waiting Recv",
        ),
        (
            Routine::SendOnce,
            Rights::WRITE,
            Syscall::Send as u64,
            "ipc: deleting the endpoint aborts a waiting Send",
        ),
        (
            Routine::SendOnce,
            Rights::CALL,
            Syscall::Call as u64,
            "ipc: deleting the endpoint aborts a waiting Call",
        ),
    ];
    for (routine, rights, arg1, name) in cases {
        let Some(ep) = arena.endpoint(t) else {
            return;
        };
        if a.give(t, cs::A, ep, rights).is_none() || a.start(t, routine, cs::A, arg1).is_none() {
            return;
        }
        let waited = a.word(sw::DONE) == 0;
        let deleted = invoke::cnode_revoke(CNODE, ep).and(invoke::cnode_delete(CNODE, ep));
        t.check(
            name,
            waited && deleted.is_ok() && a.done(1) && a.word(sw::ERROR) == code_of(Error::Aborted),
            format_args!("waiting, then error {}", code_of(Error::Aborted)),
            format_args!(
                "waiting {waited}, delete {deleted:?}, done {}, error {}",
                a.word(sw::DONE),
                a.word(sw::ERROR)
            ),
        );
    }
    // A waiter on a notification that goes.
    if let Some(ntfn) = arena.notification(t)
        && a.give(t, cs::A, ntfn, Rights::READ).is_some()
        && a.start(t, Routine::RecvOnce, cs::A, 0).is_some()
    {
        let deleted = invoke::cnode_revoke(CNODE, ntfn).and(invoke::cnode_delete(CNODE, ntfn));
        t.check(
            "notification: deleting it aborts a waiting thread",
            deleted.is_ok() && a.done(1) && a.word(sw::ERROR) == code_of(Error::Aborted),
            format_args!("error {}", code_of(Error::Aborted)),
            format_args!(
                "delete {deleted:?}, done {}, error {}",
                a.word(sw::DONE),
                a.word(sw::ERROR)
            ),
        );
    }
    // A server that parks (suspends itself) without replying.
    if let Some(ep) = arena.endpoint(t)
        && a.give(t, cs::B, ep, Rights::READ).is_some()
        && b.give(t, cs::A, ep, Rights::CALL).is_some()
    {
        if a.start(t, Routine::RecvOnce, cs::B, 0).is_some() {
            let r = ipc::call(ep, &Message::new(0x80, &[1]));
            t.check(
                "ipc: a Call whose server is suspended before replying is aborted",
                matches!(r, Err(Error::Aborted))
                    && a.done(1)
                    && a.word(sw::INFO) == MessageInfo::new(0x80, 1).0,
                format_args!("Err(Aborted), the server got the call"),
                format_args!(
                    "{r:x?}, server done {} info {:#x}",
                    a.word(sw::DONE),
                    a.word(sw::INFO)
                ),
            );
        }
        if a.start(t, Routine::RecvOnce, cs::B, 0).is_some()
            && b.start(t, Routine::Caller, cs::A, 0).is_some()
        {
            t.check(
                "ipc: a kid's Call to a kid that suspends itself is aborted",
                a.done(1)
                    && b.done(1)
                    && a.word(sw::INFO) == MessageInfo::new(CALLER_LABEL, 4).0
                    && b.word(sw::ERROR) == code_of(Error::Aborted),
                format_args!(
                    "server got the call, caller error {}",
                    code_of(Error::Aborted)
                ),
                format_args!(
                    "server done {} info {:#x}, caller done {} error {}",
                    a.word(sw::DONE),
                    a.word(sw::INFO),
                    b.word(sw::DONE),
                    b.word(sw::ERROR)
                ),
            );
        }
    }
    arena.release(t, &[&a, &b]);
}
