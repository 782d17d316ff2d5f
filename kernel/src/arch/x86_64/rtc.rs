//! The CMOS real-time clock, read once at boot for the wall-clock time
//! (`crate::time` decodes it).

use crate::time::{RtcRegisters, unix_seconds};
use x86_64::instructions::port::Port;

/// The CMOS index port (bit 7 also masks NMIs: kept clear) and data port.
const INDEX: u16 = 0x70;
const DATA: u16 = 0x71;

fn read(register: u8) -> u8 {
    // SAFETY: the CMOS ports are the RTC's on every PC; selecting a
    // register and reading it has no other effect. Only boot code, on one
    // CPU with interrupts off, uses them.
    unsafe {
        Port::<u8>::new(INDEX).write(register);
        Port::<u8>::new(DATA).read()
    }
}

fn registers() -> RtcRegisters {
    RtcRegisters {
        second: read(0x00),
        minute: read(0x02),
        hour: read(0x04),
        day: read(0x07),
        month: read(0x08),
        year: read(0x09),
        status_b: read(0x0b),
    }
}

/// Reads of status A before giving up on an update ending (an update
/// lasts under 2 ms; a missing RTC reads 0xff, "updating", for ever).
const UPDATE_POLLS: u32 = 1_000_000;

/// The RTC's time as Unix seconds, if it holds a valid one. It reads until
/// two reads outside an update agree, at most a few times.
pub fn unix_time() -> Option<u64> {
    let mut last = None;
    for _ in 0..8 {
        // Status A bit 7: an update is under way.
        (0..UPDATE_POLLS).find(|_| read(0x0a) & 0x80 == 0)?;
        let now = registers();
        if last == Some(now) {
            return unix_seconds(now);
        }
        last = Some(now);
    }
    None
}
