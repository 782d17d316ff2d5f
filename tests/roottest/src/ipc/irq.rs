//! Interrupts and the scheduler, driven by the CMOS real-time clock's
//! periodic interrupt (ISA IRQ 8, ports 0x70–0x71): delivery to a
//! notification, masking until ACK, round robin between two spinning
//! threads, and a high-priority driver thread preempting a spinning
//! low-priority one.
//!
//! Waits that would hang on a kernel that never delivers the interrupt
//! poll with a deadline measured with the TSC instead; the blocking cases
//! run only once delivery works, and only while a thread of low priority
//! spins: in self-test mode the kernel ends the run when no thread is
//! runnable, even if one waits for an interrupt.

use super::code::{OTHER, Routine};
use super::messages::mint;
use super::{Arena, Kid, cs, sw};
use crate::harness::{CNODE, Suite};
use core::arch::asm;
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights};
use libcap::ipc;
use libcap::{Error, invoke, syscall};

/// The RTC's interrupt line and its index and data ports.
const RTC_IRQ: u64 = 8;
const RTC_INDEX: u64 = 0x70;
const RTC_DATA: u64 = 0x71;
/// RTC registers: A (rate), B (interrupt enables), C (interrupt flags,
/// cleared by reading, which lets the RTC interrupt again).
const REG_A: u64 = 0x0a;
const REG_B: u64 = 0x0b;
const REG_C: u64 = 0x0c;
/// Register B: periodic interrupt enable.
const PIE: u64 = 0x40;
/// Rate 11: 32768 >> 10 = 32 Hz, an interrupt every 31.25 ms.
const RATE: u64 = 11;
/// The badge the interrupt signals with.
const IRQ_BADGE: u64 = 0x100;
/// TSC cycles to wait for an interrupt before giving up (over a second at
/// any plausible TSC rate).
const DEADLINE: u64 = 4_000_000_000;
/// TSC cycles in which no interrupt may arrive while the line is masked:
/// several RTC periods (about 230 ms at 2.6 GHz).
const QUIET: u64 = 600_000_000;
/// Priorities of the spinning threads and of the driver thread.
const LOW_PRIORITY: u64 = 10;
const HIGH_PRIORITY: u64 = 200;
/// Interrupts the driver thread handles before it tells the root thread.
const DRIVER_WAKEUPS: u64 = 5;

/// The time-stamp counter.
fn tsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: rdtsc reads a counter into eax:edx and touches nothing else;
    // the kernel leaves it available to user mode.
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack)) };
    u64::from(hi) << 32 | u64::from(lo)
}

/// Polls `ntfn` until it has a word or `cycles` TSC cycles pass.
fn poll_for(ntfn: u64, cycles: u64) -> Result<u64, Error> {
    let start = tsc();
    loop {
        match ipc::poll(ntfn) {
            Err(Error::WouldBlock) if tsc().wrapping_sub(start) < cycles => {
                syscall::yield_now();
            }
            r => return r,
        }
    }
}

/// The RTC through the I/O-port capability `port`.
struct Rtc {
    port: u64,
}

impl Rtc {
    fn read(&self, reg: u64) -> Result<u64, Error> {
        invoke::io_port_out(self.port, RTC_INDEX, 1, reg)?;
        invoke::io_port_in(self.port, RTC_DATA, 1)
    }

    fn write(&self, reg: u64, value: u64) -> Result<(), Error> {
        invoke::io_port_out(self.port, RTC_INDEX, 1, reg)?;
        invoke::io_port_out(self.port, RTC_DATA, 1, value)
    }

    /// Reads register C (so the RTC interrupts again) and unmasks the line.
    fn rearm(&self, handler: u64) -> Result<(), Error> {
        self.read(REG_C)?;
        invoke::irq_handler_ack(handler)
    }
}

/// Every interrupt and scheduling case.
pub fn cases(t: &mut Suite) {
    let Some(arena) = Arena::new(t) else {
        return;
    };
    let (Some(ntfn), Some(done)) = (arena.notification(t), arena.notification(t)) else {
        return;
    };
    let (port, handler) = (t.slot(), t.slot());
    if t.expect_ok(
        "irq: issue the RTC's ports 0x70-0x71",
        invoke::io_port_issue(slot::IO_PORT_CONTROL, RTC_INDEX, RTC_DATA, CNODE, port),
    )
    .is_none()
        || t.expect_ok(
            "irq: issue a handler for the RTC's line 8",
            invoke::irq_control_get(slot::IRQ_CONTROL, RTC_IRQ, CNODE, handler),
        )
        .is_none()
    {
        return;
    }
    let Some(signal) = mint(t, ntfn, Rights::WRITE, IRQ_BADGE) else {
        return;
    };
    t.expect_err(
        "irq: an I/O-port capability as notification is the wrong type",
        Error::WrongType,
        invoke::irq_handler_set_notification(handler, port),
    );
    if let Some(read_only) = mint(t, ntfn, Rights::READ, IRQ_BADGE) {
        t.expect_err(
            "irq: a notification without WRITE cannot be signalled by the line",
            Error::MissingRight,
            invoke::irq_handler_set_notification(handler, read_only),
        );
    }
    t.expect_err(
        "irq: IRQ_HANDLER_ACK on an I/O-port capability is unknown",
        Error::UnknownInvocation,
        invoke::irq_handler_ack(port),
    );
    let rtc = Rtc { port };
    let Some(b) = t.setup("program the RTC's rate", program(&rtc)) else {
        return;
    };
    let routed = t
        .expect_ok(
            "irq: route line 8 to a notification",
            invoke::irq_handler_set_notification(handler, signal),
        )
        .is_some();
    let enabled = t
        .setup(
            "enable the RTC's periodic interrupt",
            rtc.write(REG_B, b | PIE),
        )
        .is_some();
    let mut kids = [None, None, None];
    if routed && enabled && delivery(t, &rtc, handler, ntfn) {
        kids = scheduling(t, &arena, &rtc, handler, ntfn, done);
    }
    t.expect_ok("irq: clear the handler", invoke::irq_handler_clear(handler));
    if routed && enabled {
        // The RTC keeps interrupting; nothing reaches the notification.
        let _ = ipc::poll(ntfn);
        let _ = rtc.read(REG_C);
        t.expect_err(
            "irq: a cleared handler signals nothing",
            Error::WouldBlock,
            poll_for(ntfn, QUIET),
        );
    }
    let _ = rtc.write(REG_B, b & !PIE);
    let _ = rtc.read(REG_C);
    for k in kids.iter().flatten() {
        let _ = invoke::tcb_suspend(k.tcb());
    }
    arena.release(t, &[]);
    finish(t, port, handler);
}

/// Sets the RTC's rate and clears its pending flags; returns register B.
fn program(rtc: &Rtc) -> Result<u64, Error> {
    let a = rtc.read(REG_A)?;
    rtc.write(REG_A, (a & 0xf0) | RATE)?;
    let b = rtc.read(REG_B)?;
    rtc.read(REG_C)?;
    Ok(b)
}

/// Deletes the port and handler capabilities.
fn finish(t: &mut Suite, port: u64, handler: u64) {
    t.setup(
        "delete the RTC's handler",
        invoke::cnode_delete(CNODE, handler),
    );
    t.setup("delete the RTC's ports", invoke::cnode_delete(CNODE, port));
}

/// The interrupt reaches the notification, and the line stays masked until
/// ACK. Returns whether interrupts arrive at all.
fn delivery(t: &mut Suite, rtc: &Rtc, handler: u64, ntfn: u64) -> bool {
    let first = poll_for(ntfn, DEADLINE);
    if !t.check(
        "irq: the RTC's interrupt signals the notification with its badge",
        first == Ok(IRQ_BADGE),
        format_args!("Ok({IRQ_BADGE:#x}) within {DEADLINE} TSC cycles"),
        format_args!("{first:x?}"),
    ) {
        return false;
    }
    // Re-arm the RTC but not the line.
    let _ = rtc.read(REG_C);
    t.expect_err(
        "irq: no further interrupt before IRQ_HANDLER_ACK",
        Error::WouldBlock,
        poll_for(ntfn, QUIET),
    );
    let _ = rtc.read(REG_C);
    t.expect_ok("irq: IRQ_HANDLER_ACK", invoke::irq_handler_ack(handler));
    t.expect_eq(
        "irq: after ACK the next interrupt arrives",
        Ok(IRQ_BADGE),
        poll_for(ntfn, DEADLINE),
    );
    true
}

/// Round robin and preemption; returns the kids made (to release).
fn scheduling(
    t: &mut Suite,
    arena: &Arena,
    rtc: &Rtc,
    handler: u64,
    ntfn: u64,
    done: u64,
) -> [Option<Kid>; 3] {
    let low = [arena.kid(t, LOW_PRIORITY), arena.kid(t, LOW_PRIORITY)];
    let [Some(l1), Some(l2)] = low else {
        return [None, None, None];
    };
    let high = arena.kid(t, HIGH_PRIORITY);
    round_robin(t, rtc, handler, ntfn, &l1, &l2);
    if let Some(h) = &high
        && preemption(t, rtc, handler, ntfn, done, &l1, h)
    {
        long_operations(t, rtc, handler, ntfn, h);
    }
    [Some(l1), Some(l2), high]
}

/// Two threads spinning at one priority both run while the root thread
/// waits for interrupts.
fn round_robin(t: &mut Suite, rtc: &Rtc, handler: u64, ntfn: u64, l1: &Kid, l2: &Kid) {
    if l1.start(t, Routine::Spin, 0, 0).is_none() || l2.start(t, Routine::Spin, 0, 0).is_none() {
        return;
    }
    for _ in 0..20 {
        syscall::yield_now();
    }
    let (c1, c2) = (l1.word(sw::COUNTER), l2.word(sw::COUNTER));
    t.check(
        "sched: threads of lower priority do not run while the root thread is runnable",
        c1 == 0 && c2 == 0 && l1.word(sw::STARTED) == 0,
        format_args!("both counters 0 after 20 yields"),
        format_args!("{c1} and {c2}"),
    );
    // The root thread blocks; the spinning threads run until the next
    // interrupt wakes it.
    let mut got = [0; 4];
    let mut result = Ok(());
    for g in &mut got {
        match rtc.rearm(handler).and_then(|()| ipc::wait(ntfn)) {
            Ok(w) => *g = w,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    let (c1, c2) = (l1.word(sw::COUNTER), l2.word(sw::COUNTER));
    t.check(
        "irq: wait blocks until each next interrupt (4 times)",
        result.is_ok() && got == [IRQ_BADGE; 4],
        format_args!("[{IRQ_BADGE:#x}; 4]"),
        format_args!("{result:?}, {got:#x?}"),
    );
    t.check(
        "sched: the root thread, woken by interrupts, preempts spinning threads",
        result.is_ok() && (c1 > 0 || c2 > 0),
        format_args!("4 wake-ups while they spin"),
        format_args!("{result:?}, counters {c1} and {c2}"),
    );
    t.check(
        "sched: two spinning threads of one priority share the processor (round robin)",
        c1 > 0 && c2 > 0,
        format_args!("both counters moved in about 125 ms"),
        format_args!("{c1} and {c2}"),
    );
    let _ = invoke::tcb_suspend(l2.tcb());
    let _ = invoke::tcb_suspend(l1.tcb());
}

/// A driver thread of high priority handles the RTC while a thread of low
/// priority spins; the root thread waits for the driver's signal. Returns
/// whether the driver was set up (its capabilities given).
fn preemption(
    t: &mut Suite,
    rtc: &Rtc,
    handler: u64,
    ntfn: u64,
    done: u64,
    low: &Kid,
    high: &Kid,
) -> bool {
    let Some(other) = t.copy(low.child.shared_frame) else {
        return false;
    };
    let ready = t.setup(
        "map the spinning kid's page in the driver's address space",
        invoke::frame_map(other, high.child.vspace, OTHER, Rights::READ),
    );
    if ready.is_none()
        || high.give(t, cs::A, ntfn, Rights::READ).is_none()
        || high.give(t, cs::B, rtc.port, Rights::all()).is_none()
        || high.give(t, cs::C, handler, Rights::all()).is_none()
        || high.give_badged(t, cs::D, done, Rights::WRITE, 1).is_none()
    {
        return false;
    }
    // The line is masked since the last interrupt: let it interrupt again.
    let _ = ipc::poll(ntfn);
    if t.setup("re-arm the RTC", rtc.rearm(handler)).is_none()
        || t.setup("resume the spinning kid", invoke::tcb_resume(low.tcb()))
            .is_none()
        || high.start(t, Routine::Driver, DRIVER_WAKEUPS, 0).is_none()
    {
        return true;
    }
    let woken = ipc::wait(done);
    let _ = invoke::tcb_suspend(high.tcb());
    let _ = invoke::tcb_suspend(low.tcb());
    let n = high.word(sw::DONE);
    t.check(
        "sched: a high-priority driver handles interrupts while a low-priority thread spins",
        woken == Ok(1)
            && n >= DRIVER_WAKEUPS
            && high.word(sw::AUX) == 0
            && high.word(sw::BADGE) == IRQ_BADGE,
        format_args!("signalled after {DRIVER_WAKEUPS} wake-ups, no errors, badge {IRQ_BADGE:#x}"),
        format_args!(
            "{woken:?}, {n} wake-ups, errors {:#x}, badge {:#x}, RTC C {:#x}",
            high.word(sw::AUX),
            high.word(sw::BADGE),
            high.word(sw::AUX2)
        ),
    );
    let samples: [u64; DRIVER_WAKEUPS as usize] = core::array::from_fn(|i| high.word(sw::LOG + i));
    t.check(
        "sched: the low-priority thread ran between the driver's wake-ups",
        samples.windows(2).all(|w| w[1] > w[0]),
        format_args!("its counter rising at every wake-up"),
        format_args!("{samples:?}"),
    );
    true
}

/// Rate 6: 32768 >> 5 = 1024 Hz, an interrupt about every millisecond.
const FAST_RATE: u64 = 6;
/// Endpoints the revoke case makes (a CNode of 2^16 slots holds them).
const MANY: u64 = (1 << 16) - 1;

/// Long kernel operations stop at preemption points for a thread of
/// higher priority: the driver, woken by the RTC about every millisecond,
/// logs the TSC at each wake-up while the root thread revokes 65,535
/// endpoints, and while it retypes 16 MiB of frames (zeroing them).
/// Wake-ups logged between the start and the end of the system call show
/// the call was preempted in the middle (and went on afterwards).
fn long_operations(t: &mut Suite, rtc: &Rtc, handler: u64, ntfn: u64, high: &Kid) {
    let Some(memory) = t.object(ObjectType::Untyped, 24) else {
        return;
    };
    let Some(a) = t.setup("read RTC register A", rtc.read(REG_A)) else {
        return;
    };
    let big = t.slot();
    let frames = t.slots(8);
    let made = invoke::untyped_retype(memory, ObjectType::CNode, 16, 1, CNODE, big)
        .and_then(|()| invoke::untyped_retype(memory, ObjectType::Endpoint, 0, MANY, big, 1));
    if t.setup("a CNode of 65,535 endpoints", made).is_none()
        || t.setup("speed the RTC up", rtc.write(REG_A, (a & 0xf0) | FAST_RATE))
            .is_none()
    {
        return;
    }
    let timed = |t: &mut Suite, name: &str, op: &mut dyn FnMut() -> Result<(), Error>| {
        let _ = ipc::poll(ntfn);
        if t.setup("re-arm the RTC", rtc.rearm(handler)).is_none()
            || high.start(t, Routine::Driver, u64::MAX, 1).is_none()
        {
            return;
        }
        let start = tsc();
        let r = op();
        let end = tsc();
        let _ = invoke::tcb_suspend(high.tcb());
        let n = (high.word(sw::DONE) as usize).min(sw::LOG_LEN);
        let inside = (0..n)
            .map(|i| high.word(sw::LOG + i))
            .filter(|&s| start < s && s < end)
            .count();
        // The line stays masked from an interrupt until the driver's ACK,
        // so a kernel that finished the call first would let the driver
        // run once, at its end; more wake-ups mean it ran midway.
        t.check(
            name,
            r.is_ok() && inside >= 2,
            format_args!("Ok, and the driver woken at least twice during the call"),
            format_args!("{r:?}, {inside} of {n} wake-ups during it"),
        );
    };
    timed(
        t,
        "preemption: revoking 65,535 endpoints lets a driver of higher priority run midway",
        &mut || invoke::cnode_revoke(CNODE, memory),
    );
    timed(
        t,
        "preemption: retyping 16 MiB of frames lets it run midway too",
        &mut || invoke::untyped_retype(memory, ObjectType::Frame2M, 0, 8, CNODE, frames),
    );
    let _ = rtc.write(REG_A, a);
    t.setup(
        "revoke the long operations' memory",
        invoke::cnode_revoke(CNODE, memory),
    );
    t.setup(
        "delete the long operations' memory",
        invoke::cnode_delete(CNODE, memory),
    );
}
