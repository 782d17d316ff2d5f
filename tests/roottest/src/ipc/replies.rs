//! Saved replies: the root thread as a server moves the reply it owes a
//! calling kid into a slot (`SaveReply`), takes other calls, and answers
//! through the reply capability later; what happens when the caller or
//! the capability goes first; and libcap's held-reply server loop
//! ([`libcap::rpc::HoldLoop`]) answering two kids' calls after one settle.

use super::code::{CALLER_LABEL, FaultKind, RECOVERED, Routine};
use super::messages::mint;
use super::{Arena, KID_PRIORITY, Kid, code_of, cs, sw};
use crate::harness::{CNODE, PROBE_LABEL, Suite};
use crate::thread::STACK_TOP;
use libcap::abi::{MessageInfo, Rights, fault};
use libcap::ipc::{self, Message, Reply};
use libcap::rpc::{Caller, Encoder, HoldLoop, ReplyPool, Settle, Status, reply_label};
use libcap::{Endpoint, Error, invoke};

/// The badges of the two calling kids' endpoint capabilities.
const BADGE_A: u64 = 0xa1;
const BADGE_B: u64 = 0xb2;

/// Every saved-reply case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let Some(ep) = arena.endpoint(t) else {
        return;
    };
    let (Some(a), Some(b)) = (arena.kid(t, KID_PRIORITY), arena.kid(t, KID_PRIORITY)) else {
        return;
    };
    if a.give_badged(t, cs::A, ep, Rights::CALL, BADGE_A).is_none()
        || b.give_badged(t, cs::A, ep, Rights::CALL, BADGE_B).is_none()
    {
        return;
    }
    save_and_answer(t, ep, &a, &b);
    callers_that_go(t, ep, &a);
    fault_reply(t, &arena, &b);
    held_loop(t, ep, &a, &b);
    deleted_caller(t, &arena, ep);
    arena.release(t, &[&a, &b]);
}

/// Receives a call on `ep` from `kid` (started as a caller): whether it
/// came, with the kid's badge `badge`.
fn take_call(t: &mut Suite, name: &str, ep: u64, kid: &Kid, badge: u64) -> bool {
    if kid.start(t, Routine::Caller, cs::A, 0).is_none() {
        return false;
    }
    let r = ipc::recv(ep);
    t.check(
        name,
        matches!(&r, Ok(r) if r.label() == CALLER_LABEL && r.badge == badge),
        format_args!("a call with label {CALLER_LABEL:#x}, badge {badge:#x}"),
        format_args!("{:x?}", r.map(|r| (r.label(), r.badge))),
    )
}

/// Good and bad arguments, two saved replies at once, answers with `Send`
/// and `NbSend`, a second answer, what cannot be done with the capability.
fn save_and_answer(t: &mut Suite, ep: u64, a: &Kid, b: &Kid) {
    let (sa, sb) = (t.slot(), t.slot());
    t.expect_err(
        "reply cap: SaveReply with no call to answer",
        Error::IllegalOperation,
        ipc::save_reply(sa),
    );
    t.expect_empty("reply cap: a refused SaveReply fills no slot", sa);
    if !take_call(t, "reply cap: take kid A's call", ep, a, BADGE_A) {
        return;
    }
    t.expect_err(
        "reply cap: SaveReply to slot 0",
        Error::InvalidCapability,
        ipc::save_reply(0),
    );
    t.expect_err(
        "reply cap: SaveReply to an address past the CNode",
        Error::InvalidCapability,
        ipc::save_reply(1 << 40),
    );
    t.expect_err(
        "reply cap: SaveReply to an occupied slot",
        Error::SlotOccupied,
        ipc::save_reply(ep),
    );
    let Some(reply_a) = t.expect_ok("reply cap: SaveReply to an empty slot", ipc::save_reply(sa))
    else {
        return;
    };
    t.expect_occupied("reply cap: the slot holds the reply capability", sa);
    t.expect_err(
        "reply cap: after SaveReply there is no implicit reply",
        Error::IllegalOperation,
        ipc::reply(&Message::empty(0)),
    );
    refusals(t, sa);
    t.expect_eq(
        "reply cap: the saved caller still waits",
        0,
        a.word(sw::DONE),
    );

    // A second call, while A's reply is held.
    if !take_call(
        t,
        "reply cap: take kid B's call while A's reply is held",
        ep,
        b,
        BADGE_B,
    ) {
        return;
    }
    t.expect_eq(
        "reply cap: a new call does not abort the saved caller",
        (0, 0),
        (a.word(sw::DONE), a.word(sw::ERROR)),
    );
    let Some(reply_b) = t.expect_ok("reply cap: save B's reply too", ipc::save_reply(sb)) else {
        return;
    };
    let words: [u64; 6] = core::array::from_fn(|i| 0x600 + i as u64);
    let sent = reply_b.send(&Message::new(0x71, &words));
    t.check(
        "reply cap: Send answers B, 6 words through the IPC buffers, badge 0",
        sent.is_ok()
            && b.done(1)
            && b.word(sw::ERROR) == 0
            && b.word(sw::INFO) == MessageInfo::new(0x71, 6).0
            && b.word(sw::W0) == words[0]
            && b.word(sw::IPC4) == words[4]
            && b.word(sw::BADGE) == 0,
        format_args!("Ok; label 0x71, 6 words, word 4 {:#x}, badge 0", words[4]),
        format_args!(
            "{sent:?}; done {}, error {}, info {:#x}, word 4 {:#x}, badge {:#x}",
            b.word(sw::DONE),
            b.word(sw::ERROR),
            b.word(sw::INFO),
            b.word(sw::IPC4),
            b.word(sw::BADGE)
        ),
    );
    t.expect_empty("reply cap: an answer uses the capability up", sb);
    t.expect_err(
        "reply cap: a second answer through the same slot",
        Error::InvalidCapability,
        Reply::from_raw(sb).send(&Message::empty(0)),
    );
    let sent = ipc::nb_send(reply_a.slot(), &Message::new(0x72, &[5]));
    t.check(
        "reply cap: NbSend answers A after B",
        sent.is_ok() && a.done(1) && a.word(sw::LOG) == 5 && a.word(sw::ERROR) == 0,
        format_args!("Ok; A's reply word 5"),
        format_args!(
            "{sent:?}; done {}, reply word {}",
            a.word(sw::DONE),
            a.word(sw::LOG)
        ),
    );
    t.expect_empty("reply cap: NbSend used it up", sa);
    let _ = invoke::tcb_suspend(a.tcb());
    let _ = invoke::tcb_suspend(b.tcb());
}

/// What the reply capability in `slot` refuses; it stays answerable.
fn refusals(t: &mut Suite, slot: u64) {
    let dest = t.slot();
    t.expect_err(
        "reply cap: copy refused",
        Error::NotCopyable,
        invoke::cnode_copy(CNODE, dest, CNODE, slot, Rights::all()),
    );
    t.expect_err(
        "reply cap: mint refused",
        Error::NotCopyable,
        invoke::cnode_mint(CNODE, dest, CNODE, slot, Rights::all(), 5),
    );
    t.expect_err(
        "reply cap: move refused",
        Error::IllegalOperation,
        invoke::cnode_move(CNODE, dest, CNODE, slot),
    );
    t.expect_err(
        "reply cap: mutate refused",
        Error::IllegalOperation,
        invoke::cnode_mutate(CNODE, dest, CNODE, slot, 5),
    );
    t.expect_empty("reply cap: nothing was derived or moved", dest);
    t.expect_err(
        "reply cap: Recv on it is the wrong type",
        Error::WrongType,
        ipc::recv(slot),
    );
    t.expect_err(
        "reply cap: NbRecv on it is the wrong type",
        Error::WrongType,
        ipc::nb_recv(slot),
    );
    t.expect_err(
        "reply cap: ReplyRecv on it is the wrong type",
        Error::WrongType,
        ipc::reply_recv(slot, &Message::empty(0)),
    );
    t.expect_err(
        "reply cap: Call on it is an invocation (unknown label)",
        Error::UnknownInvocation,
        invoke::raw(slot, PROBE_LABEL, &[]),
    );
    t.expect_ok(
        "reply cap: revoke is allowed (nothing derives from it)",
        invoke::cnode_revoke(CNODE, slot),
    );
    t.expect_occupied("reply cap: revoke leaves it in place", slot);
}

/// The caller is suspended, restarted, or the capability deleted, while
/// its reply is held.
fn callers_that_go(t: &mut Suite, ep: u64, a: &Kid) {
    let s = t.slot();
    if take_call(
        t,
        "reply cap: take a call to suspend its caller",
        ep,
        a,
        BADGE_A,
    ) && t
        .expect_ok("reply cap: save it", ipc::save_reply(s))
        .is_some()
    {
        let suspended = invoke::tcb_suspend(a.tcb());
        let sent = Reply::from_raw(s).send(&Message::empty(0));
        t.check(
            "reply cap: answering a caller suspended since is Aborted",
            suspended.is_ok() && sent == Err(Error::Aborted),
            format_args!("Ok; Err(Aborted)"),
            format_args!("{suspended:?}; {sent:?}"),
        );
        t.expect_empty("reply cap: a dead capability is used up by the answer", s);
        let resumed = invoke::tcb_resume(a.tcb());
        t.check(
            "reply cap: the resumed caller's Call returns Aborted",
            resumed.is_ok() && a.done(1) && a.word(sw::ERROR) == code_of(Error::Aborted),
            format_args!("Ok; error {}", code_of(Error::Aborted)),
            format_args!(
                "{resumed:?}; done {}, error {}",
                a.word(sw::DONE),
                a.word(sw::ERROR)
            ),
        );
    }
    let s = t.slot();
    if take_call(
        t,
        "reply cap: take a call to restart its caller",
        ep,
        a,
        BADGE_A,
    ) && t
        .expect_ok("reply cap: save it", ipc::save_reply(s))
        .is_some()
        && a.start(t, Routine::Caller, cs::A, 0).is_some()
    {
        let sent = Reply::from_raw(s).send(&Message::empty(0));
        t.expect_err(
            "reply cap: answering a caller restarted since is Aborted",
            Error::Aborted,
            sent,
        );
        let r = ipc::recv(ep);
        let replied = ipc::reply(&Message::new(0, &[9]));
        t.check(
            "reply cap: the restarted caller calls and is answered as usual",
            matches!(&r, Ok(r) if r.message.word(0) == 0 && r.badge == BADGE_A)
                && replied.is_ok()
                && a.done(1)
                && a.word(sw::LOG) == 9,
            format_args!("call 0, its reply word 9"),
            format_args!(
                "{:x?}, {replied:?}, done {}, reply word {}",
                r.map(|r| r.message.word(0)),
                a.word(sw::DONE),
                a.word(sw::LOG)
            ),
        );
    }
    let s = t.slot();
    if take_call(
        t,
        "reply cap: take a call to delete its reply",
        ep,
        a,
        BADGE_A,
    ) && t
        .expect_ok("reply cap: save it", ipc::save_reply(s))
        .is_some()
    {
        let deleted = invoke::cnode_delete(CNODE, s);
        t.check(
            "reply cap: deleting it unanswered aborts the caller's Call",
            deleted.is_ok() && a.done(1) && a.word(sw::ERROR) == code_of(Error::Aborted),
            format_args!("Ok; error {}", code_of(Error::Aborted)),
            format_args!(
                "{deleted:?}; done {}, error {}",
                a.word(sw::DONE),
                a.word(sw::ERROR)
            ),
        );
    }
    let _ = invoke::tcb_suspend(a.tcb());
}

/// A caller whose TCB is deleted while its reply is held.
fn deleted_caller(t: &mut Suite, arena: &Arena, ep: u64) {
    let Some(kid) = arena.kid(t, KID_PRIORITY) else {
        return;
    };
    let s = t.slot();
    if kid
        .give_badged(t, cs::A, ep, Rights::CALL, BADGE_A)
        .is_none()
        || !take_call(
            t,
            "reply cap: take a call to delete its caller",
            ep,
            &kid,
            BADGE_A,
        )
        || t.expect_ok("reply cap: save it", ipc::save_reply(s))
            .is_none()
    {
        return;
    }
    // Its own CNode holds a copy of its TCB capability: revoke it first.
    let deleted =
        invoke::cnode_revoke(CNODE, kid.tcb()).and(invoke::cnode_delete(CNODE, kid.tcb()));
    let sent = Reply::from_raw(s).send(&Message::empty(0));
    t.check(
        "reply cap: answering a caller destroyed since is Aborted",
        deleted.is_ok() && sent == Err(Error::Aborted),
        format_args!("Ok; Err(Aborted)"),
        format_args!("{deleted:?}; {sent:?}"),
    );
    t.expect_empty("reply cap: and used up", s);
}

/// A fault message's reply saved and answered later: `RESUME_AT` through
/// the capability; a bad address leaves it in place.
fn fault_reply(t: &mut Suite, arena: &Arena, kid: &Kid) {
    let Some(fault_ep) = arena.endpoint(t) else {
        return;
    };
    let Some(badged) = mint(t, fault_ep, Rights::all(), 0xfa) else {
        return;
    };
    if t.setup(
        "set a fault endpoint",
        invoke::tcb_set_fault_endpoint(kid.tcb(), badged),
    )
    .is_none()
        || kid
            .start(t, Routine::Faulter, FaultKind::InvalidOpcode as u64, 0)
            .is_none()
    {
        return;
    }
    let s = t.slot();
    let r = ipc::recv(fault_ep);
    let saved = ipc::save_reply(s);
    t.check(
        "reply cap: a fault message's reply can be saved",
        matches!(&r, Ok(r) if r.label() == fault::INVALID_OPCODE) && saved.is_ok(),
        format_args!("an INVALID_OPCODE fault; Ok"),
        format_args!("{:x?}; {saved:?}", r.map(|r| r.label())),
    );
    if saved.is_ok() {
        let rsp = STACK_TOP - 64;
        t.expect_err(
            "reply cap: RESUME_AT a kernel address through it",
            Error::InvalidArgument,
            Reply::from_raw(s).send(&Message::new(
                fault::RESUME_AT,
                &[0xffff_8000_0000_0000, rsp],
            )),
        );
        t.expect_occupied("reply cap: a refused answer leaves it in place", s);
        let sent = Reply::from_raw(s).send(&Message::new(
            fault::RESUME_AT,
            &[Routine::Recover.entry(), rsp],
        ));
        t.check(
            "reply cap: RESUME_AT through it continues the faulting thread",
            sent.is_ok() && kid.done(1) && kid.word(sw::AUX) == RECOVERED,
            format_args!("Ok; the kid at the recovery code"),
            format_args!(
                "{sent:?}; done {}, aux {:#x}",
                kid.word(sw::DONE),
                kid.word(sw::AUX)
            ),
        );
    }
    let _ = invoke::tcb_set_fault_endpoint(kid.tcb(), 0);
    let _ = invoke::tcb_suspend(kid.tcb());
}

/// The settle outcome to return next, and what the loop did.
struct Batch {
    outcome: Result<(), u64>,
    held: usize,
    settles: u32,
    held_at_settle: usize,
}

impl Settle for Batch {
    fn hold(&mut self) -> bool {
        self.held += 1;
        true
    }
    fn settle(&mut self) -> Result<(), u64> {
        self.settles += 1;
        self.held_at_settle = core::mem::take(&mut self.held);
        self.outcome
    }
}

/// Answers a kid's call `[i, …]` with `[i + 0x1000]`.
fn offset(_: &mut Batch, _: Caller, _: u64, words: &mut Encoder) -> Status {
    let i = words.words().first().copied().unwrap_or(0);
    words.clear();
    let _ = words.push(i + 0x1000);
    Status::Ok
}

/// The generation the loop puts in its reply labels.
const GENERATION: u64 = 1;

/// Runs the loop until it has settled `settles` times in all (at most 10
/// rounds): whether it got there.
fn run_until(server: &mut HoldLoop<Endpoint, 4>, batch: &mut Batch, settles: u32) -> bool {
    for _ in 0..10 {
        if batch.settles >= settles {
            return true;
        }
        if server.step(batch, offset, |_, _| {}).is_err() {
            return false;
        }
    }
    batch.settles >= settles
}

/// libcap's held-reply loop: two kids' calls waiting together are held,
/// settled once and answered; then a failing settle answers both with its
/// error code.
fn held_loop(t: &mut Suite, ep: u64, a: &Kid, b: &Kid) {
    let first = t.slots(4);
    let mut server = HoldLoop::new(Endpoint::from_raw(ep), GENERATION, ReplyPool::at(first));
    let mut batch = Batch {
        outcome: Ok(()),
        held: 0,
        settles: 0,
        held_at_settle: 0,
    };
    // Both kids call before the root thread receives (they run first).
    if a.start(t, Routine::Caller, cs::A, 0).is_none()
        || b.start(t, Routine::Caller, cs::A, 0).is_none()
    {
        return;
    }
    let ran = run_until(&mut server, &mut batch, 1);
    let ok_info = MessageInfo::new(reply_label(Status::Ok, GENERATION), 1).0;
    t.check(
        "rpc::HoldLoop: two calls held, one settle, both answered as encoded",
        ran && batch.settles == 1
            && batch.held_at_settle == 2
            && a.done(1)
            && b.done(1)
            && [a.word(sw::LOG), b.word(sw::LOG)] == [0x1000, 0x1000]
            && [a.word(sw::INFO), b.word(sw::INFO)] == [ok_info, ok_info],
        format_args!("1 settle of 2 replies; both kids got [0x1000], info {ok_info:#x}"),
        format_args!(
            "ran {ran}, {} settles of {}; kids done {} {}, words {:#x} {:#x}, info {:#x} {:#x}",
            batch.settles,
            batch.held_at_settle,
            a.word(sw::DONE),
            b.word(sw::DONE),
            a.word(sw::LOG),
            b.word(sw::LOG),
            a.word(sw::INFO),
            b.word(sw::INFO)
        ),
    );
    // The kids have called again; this batch fails.
    batch.outcome = Err(0x77);
    let ran = run_until(&mut server, &mut batch, 2);
    let err_info = MessageInfo::new(reply_label(Status::Remote, GENERATION), 1).0;
    t.check(
        "rpc::HoldLoop: a failed settle answers both held calls with its code",
        ran && batch.settles == 2
            && batch.held_at_settle == 2
            && a.done(2)
            && b.done(2)
            && [a.word(sw::LOG + 1), b.word(sw::LOG + 1)] == [0x77, 0x77]
            && [a.word(sw::INFO), b.word(sw::INFO)] == [err_info, err_info],
        format_args!("2 replies in the second settle; both kids got [0x77], info {err_info:#x}"),
        format_args!(
            "ran {ran}, {} settles of {}; kids done {} {}, words {:#x} {:#x}, info {:#x} {:#x}",
            batch.settles,
            batch.held_at_settle,
            a.word(sw::DONE),
            b.word(sw::DONE),
            a.word(sw::LOG + 1),
            b.word(sw::LOG + 1),
            a.word(sw::INFO),
            b.word(sw::INFO)
        ),
    );
    t.expect_eq("rpc::HoldLoop: nothing left held", 0, server.held());
    let _ = invoke::tcb_suspend(a.tcb());
    let _ = invoke::tcb_suspend(b.tcb());
}
