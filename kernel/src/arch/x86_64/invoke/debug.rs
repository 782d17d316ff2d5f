//! The debugging system calls: `DebugWrite` (the serial console) and
//! `DebugCheck` (the invariant oracle, self-test mode only).

use crate::arch::x86_64::state::Kernel;
use crate::arch::x86_64::{serial, trap, vspace};
use crate::object::cap::Cap;
use crate::object::cnode;
use crate::object::objref::TcbRef;
use crate::object::oracle;
use crate::object::slot::SlotRef;
use crate::object::tcb::tcb_slot;
use basalt_abi::{Error, REGISTER_WORDS};

type Words = Result<[u64; REGISTER_WORDS], Error>;

/// `DebugWrite`: the bytes go to the serial console, if `console` names
/// the console capability in the caller's CSpace. They are queued for the
/// UART (see `serial::queue_user_bytes`): the kernel never waits for the
/// line with interrupts off. Reply word 0 says how many were queued, fewer
/// than asked while the queue is full; the caller comes back for the rest
/// (libcap's `debug_write` does). The whole buffer is checked first, so a
/// bad one fails before any of it is written.
pub fn write(t: TcbRef, console: u64, addr: u64, len: u64) -> Words {
    let cspace = t.slot(tcb_slot::CSPACE).cap();
    if cnode::lookup(cspace, console)?.cap() != Cap::Console {
        return Err(Error::WrongType);
    }
    if len > 4096 {
        return Err(Error::RangeError);
    }
    let Cap::VSpace { base, .. } = t.slot(tcb_slot::VSPACE).cap() else {
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
pub fn check(k: &Kernel, t: TcbRef, roots: [u64; 2]) -> Words {
    let cspace = t.slot(tcb_slot::CSPACE).cap();
    let mut slots = [None; 2];
    for (slot, &address) in slots.iter_mut().zip(&roots) {
        if address != 0 {
            *slot = Some(cnode::lookup(cspace, address)?);
        }
    }
    let list = match slots.map(|s| s.filter(|s: &SlotRef| !s.is_empty())) {
        [Some(a), Some(b)] => [a, b],
        [Some(a), None] | [None, Some(a)] => [a, a],
        [None, None] => return Ok([0, 0, 0, trap::forged_interrupts()]),
    };
    // A root named twice is checked once.
    let list = if list[0] == list[1] {
        &list[..1]
    } else {
        &list[..]
    };
    let rq = &k.sched;
    let mut logged = 0;
    let report = oracle::check(
        list,
        rq,
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
        trap::forged_interrupts(),
    ])
}
