//! The sleeping server's periodic wake-up: the CMOS real-time clock's
//! periodic interrupt (ISA IRQ 8, registers through ports 0x70–0x71) at
//! [`HZ`] Hz, routed to the same notification as the NIC's interrupt and
//! the apps' signals.
//!
//! The kernel has no timed wait, so a server that sleeps on its
//! notification would otherwise miss its timers: smoltcp's
//! (`Interface::poll_delay`: TCP retransmission, at least 1 s; keep-alive;
//! TIME-WAIT; DHCP renewal) and the service's (the SYN timeout). Every
//! tick wakes the server for a round, which serves whatever is due, so a
//! timer fires at most one period ([`PERIOD`]) late. An idle server thus
//! runs [`HZ`] rounds a second.
//!
//! The RTC raises its line once per period and not again until register
//! C is read; the kernel masks the line at each interrupt until
//! `IRQ_HANDLER_ACK`. [`Tick::rearm`] (after every wake-up, whatever woke
//! the server: the notification does not say) acknowledges first and
//! reads C second, so that a period that ends between the two still
//! raises an edge the kernel sees.

use libcap::Error;
use smoltcp::time::Duration;

/// The RTC's index and data ports.
pub const INDEX_PORT: u16 = 0x70;
/// See [`INDEX_PORT`].
pub const DATA_PORT: u16 = 0x71;
/// The RTC's ISA interrupt line.
pub const IRQ: u64 = 8;
/// Registers A (rate), B (interrupt enables) and C (interrupt flags,
/// cleared by reading).
const REG_A: u8 = 0x0a;
const REG_B: u8 = 0x0b;
const REG_C: u8 = 0x0c;
/// Register B: periodic interrupt enable.
const PIE: u8 = 0x40;
/// Rate 12: 32768 Hz >> 11.
const RATE: u8 = 12;
/// Ticks a second.
pub const HZ: u64 = 32_768 >> (RATE - 1);
/// The time between ticks.
pub const PERIOD: Duration = Duration::from_micros(1_000_000 / HZ);

/// The RTC's registers.
pub trait Cmos {
    /// Reads register `reg`.
    ///
    /// # Errors
    ///
    /// The kernel's refusal of the port access.
    fn read(&self, reg: u8) -> Result<u8, Error>;
    /// Writes `value` to register `reg`.
    ///
    /// # Errors
    ///
    /// As for [`read`](Self::read).
    fn write(&self, reg: u8, value: u8) -> Result<(), Error>;
}

impl Cmos for libcap::IoPorts {
    fn read(&self, reg: u8) -> Result<u8, Error> {
        // Bit 7 of the index stays clear: NMIs stay enabled.
        self.write_u8(INDEX_PORT, reg & 0x7f)?;
        self.read_u8(DATA_PORT)
    }

    fn write(&self, reg: u8, value: u8) -> Result<(), Error> {
        self.write_u8(INDEX_PORT, reg & 0x7f)?;
        self.write_u8(DATA_PORT, value)
    }
}

/// The interrupt line the RTC raises, already bound to the notification.
pub trait Line {
    /// Unmasks the line after an interrupt.
    ///
    /// # Errors
    ///
    /// The kernel's refusal.
    fn ack(&self) -> Result<(), Error>;
}

impl Line for libcap::IrqHandler {
    fn ack(&self) -> Result<(), Error> {
        libcap::IrqHandler::ack(*self)
    }
}

/// The running tick.
#[derive(Debug)]
pub struct Tick<C, L> {
    cmos: C,
    line: L,
}

impl<C: Cmos, L: Line> Tick<C, L> {
    /// Sets the RTC's rate to [`HZ`], enables its periodic interrupt and
    /// arms the line (`line` is bound to the server's notification
    /// already).
    ///
    /// # Errors
    ///
    /// A port access or the acknowledgement failed.
    pub fn start(cmos: C, line: L) -> Result<Self, Error> {
        let a = cmos.read(REG_A)?;
        cmos.write(REG_A, (a & 0xf0) | RATE)?;
        let b = cmos.read(REG_B)?;
        cmos.write(REG_B, b | PIE)?;
        let tick = Self { cmos, line };
        tick.rearm()?;
        Ok(tick)
    }

    /// Lets the next tick through; call after every wake-up.
    ///
    /// # Errors
    ///
    /// As for [`start`](Self::start).
    pub fn rearm(&self) -> Result<(), Error> {
        self.line.ack()?;
        self.cmos.read(REG_C).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::RefCell;
    use std::vec::Vec;

    /// What the fakes saw, in order.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Op {
        Read(u8),
        Write(u8, u8),
        Ack,
    }

    #[derive(Default)]
    struct Log(RefCell<Vec<Op>>, [u8; 16]);

    impl Cmos for &Log {
        fn read(&self, reg: u8) -> Result<u8, Error> {
            self.0.borrow_mut().push(Op::Read(reg));
            Ok(self.1[usize::from(reg & 15)])
        }
        fn write(&self, reg: u8, value: u8) -> Result<(), Error> {
            self.0.borrow_mut().push(Op::Write(reg, value));
            Ok(())
        }
    }

    impl Line for &Log {
        fn ack(&self) -> Result<(), Error> {
            self.0.borrow_mut().push(Op::Ack);
            Ok(())
        }
    }

    #[test]
    fn the_rtc_ticks_at_16_hz_and_rearms_ack_first() {
        assert_eq!((HZ, PERIOD.total_micros()), (16, 62_500));
        let mut log = Log::default();
        // QEMU's reset values: A = 0x26 (32.768 kHz base, rate 6), B = 0x02.
        log.1[usize::from(REG_A)] = 0x26;
        log.1[usize::from(REG_B)] = 0x02;
        let tick = Tick::start(&log, &log).unwrap();
        tick.rearm().unwrap();
        assert_eq!(
            log.0.borrow().as_slice(),
            [
                Op::Read(REG_A),
                Op::Write(REG_A, 0x2c),
                Op::Read(REG_B),
                Op::Write(REG_B, 0x42),
                Op::Ack,
                Op::Read(REG_C),
                Op::Ack,
                Op::Read(REG_C),
            ]
        );
    }
}
