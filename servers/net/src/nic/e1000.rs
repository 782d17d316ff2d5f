//! Intel's 82540EM (QEMU `-device e1000`, the most common emulated and
//! legacy card) and 82574L (`-device e1000e`) as a smoltcp [`Device`],
//! with the legacy descriptors both understand (Intel's 8254x Software
//! Developer's Manual, §3.2 and §3.3; the 82574 datasheet, §7.1.4 and
//! §7.2.2).
//!
//! Two rings of [`RING`] 16-byte descriptors in the DMA region, each
//! with a [`BUFFER`]-byte buffer of its own:
//!
//! | ring | the driver | the card |
//! |---|---|---|
//! | receive | arms every descriptor at start; takes the one at `next` once the card set its DD bit, lends its frame to smoltcp, and arms it again at the next call (RDT then moves to it) | owns the descriptors from RDH up to RDT (exclusive), writes a frame and sets DD |
//! | transmit | fills the descriptor at `tail` and moves TDT past it; takes descriptors back from `clean` as the card sets DD | sends from TDH up to TDT and sets DD (RS asks for it) |
//!
//! One descriptor of each ring stays empty so that a full ring is told
//! from an empty one. Nothing the card writes is trusted beyond the DD
//! bit and a length the driver checks: a frame longer than its buffer,
//! split over descriptors (no EOP) or flagged with an error is dropped
//! and counted. The card's RDH and TDH are never read.
//!
//! The registers are reached through [`Registers`] ([`Mmio`] on Basalt,
//! a simulated card in the tests; both from `virtio_pci::mmio`), the
//! descriptors as atomic words.

use super::{Nic, NicStats};
use core::sync::atomic::{AtomicU64, Ordering, fence};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
pub use virtio_pci::mmio::{Mmio, Registers};

/// Descriptors per ring (a multiple of 8: the card takes rings in
/// 128-byte steps).
pub const RING: usize = 64;
/// Bytes of a buffer: a full Ethernet frame (RCTL.BSIZE = 2048).
pub const BUFFER: usize = 2048;
/// Bytes of a ring of descriptors.
pub const RING_BYTES: usize = RING * 16;

/// The largest Ethernet frame (without the FCS, which the card adds and
/// strips) smoltcp may send.
const MAX_FRAME: usize = 1514;

/// Register offsets in BAR 0 (the manual's names).
pub mod reg {
    /// Device control.
    pub const CTRL: u32 = 0x0000;
    /// Device status.
    pub const STATUS: u32 = 0x0008;
    /// Interrupt cause read (reading clears it).
    pub const ICR: u32 = 0x00c0;
    /// Interrupt mask set.
    pub const IMS: u32 = 0x00d0;
    /// Interrupt mask clear.
    pub const IMC: u32 = 0x00d8;
    /// Receive control.
    pub const RCTL: u32 = 0x0100;
    /// Transmit control.
    pub const TCTL: u32 = 0x0400;
    /// Transmit inter-packet gap.
    pub const TIPG: u32 = 0x0410;
    /// Receive ring: base (low, high), length, head, tail.
    pub const RDBAL: u32 = 0x2800;
    /// See [`RDBAL`].
    pub const RDBAH: u32 = 0x2804;
    /// See [`RDBAL`].
    pub const RDLEN: u32 = 0x2808;
    /// See [`RDBAL`].
    pub const RDH: u32 = 0x2810;
    /// See [`RDBAL`].
    pub const RDT: u32 = 0x2818;
    /// Transmit ring: base (low, high), length, head, tail.
    pub const TDBAL: u32 = 0x3800;
    /// See [`TDBAL`].
    pub const TDBAH: u32 = 0x3804;
    /// See [`TDBAL`].
    pub const TDLEN: u32 = 0x3808;
    /// See [`TDBAL`].
    pub const TDH: u32 = 0x3810;
    /// See [`TDBAL`].
    pub const TDT: u32 = 0x3818;
    /// The multicast table: 128 words.
    pub const MTA: u32 = 0x5200;
    /// The 82574L's interrupt vector allocation: which MSI-X entry each
    /// cause signals.
    pub const IVAR: u32 = 0x00e4;
    /// Receive address 0, low and high (bit 31: address valid).
    pub const RAL0: u32 = 0x5400;
    /// See [`RAL0`].
    pub const RAH0: u32 = 0x5404;
    /// The bytes of BAR 0 the driver touches (the 82540EM's is 128 KiB).
    pub const SPAN: u32 = 0x6000;
}

/// Register bits the driver sets or reads.
mod bits {
    pub const CTRL_ASDE: u32 = 1 << 5;
    pub const CTRL_SLU: u32 = 1 << 6;
    pub const CTRL_RST: u32 = 1 << 26;
    pub const RAH_AV: u32 = 1 << 31;
    pub const RCTL_EN: u32 = 1 << 1;
    pub const RCTL_BAM: u32 = 1 << 15;
    pub const RCTL_SECRC: u32 = 1 << 26;
    pub const TCTL_EN: u32 = 1 << 1;
    pub const TCTL_PSP: u32 = 1 << 3;
    /// Collision threshold 15, collision distance 64 (full duplex).
    pub const TCTL_CT_COLD: u32 = (0x0f << 4) | (0x40 << 12);
    /// The manual's values for copper: IPGT 10, IPGR1 8, IPGR2 6.
    pub const TIPG_COPPER: u32 = 10 | (8 << 10) | (6 << 20);
    /// Receive timer, overrun, descriptors low, transmit done, link.
    pub const INTERRUPTS: u32 = (1 << 7) | (1 << 6) | (1 << 4) | 1 | (1 << 2);
    /// The 82574L's causes under MSI-X: receive queue 0, transmit queue
    /// 0, other (link).
    pub const MSIX_CAUSES: u32 = (1 << 20) | (1 << 22) | (1 << 24);
    /// IVAR: receive queue 0, transmit queue 0 and other causes, each
    /// valid (bit 3 of its field) on MSI-X entry 0.
    pub const IVAR_ALL_TO_ENTRY_0: u32 = 0x8 | (0x8 << 8) | (0x8 << 16);
    /// A descriptor's status (bits 32-39 of its second word): done.
    pub const DD: u64 = 1 << 32;
    /// Receive status: end of packet.
    pub const EOP: u64 = 1 << 33;
    /// Receive errors (bits 40-47).
    pub const RX_ERRORS: u64 = 0xff << 40;
    /// Transmit command (bits 24-31): end of packet, insert FCS, report
    /// status.
    pub const TX_CMD: u64 = (1 | (1 << 1) | (1 << 3)) << 24;
}

/// Memory the card reaches by physical address: a ring of descriptors as
/// atomic words (two per descriptor: the card writes them behind the
/// program's back), or a run of buffers.
#[derive(Debug)]
pub struct Ring {
    /// `2 * RING` words.
    pub words: &'static [AtomicU64],
    /// Where the card finds them.
    pub phys: u64,
}

/// [`RING`] buffers of [`BUFFER`] bytes, one after the other.
#[derive(Debug)]
pub struct Buffers {
    /// Their bytes.
    pub bytes: &'static mut [u8],
    /// Where the card finds the first.
    pub phys: u64,
}

/// Why the card could not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum E1000Error {
    /// The card did not finish its reset.
    ResetTimeout,
    /// The card holds no valid MAC address (RAH0's valid bit is clear).
    NoMacAddress,
    /// A ring or run of buffers is not the size the driver needs.
    BadMemory,
}

/// The card.
pub struct E1000<R: Registers> {
    regs: R,
    rx: RxSide,
    tx: TxSide,
    mac: [u8; 6],
    stats: NicStats,
    /// The 82574L's causes go to MSI-X entry 0 ([`route_msix`](Self::route_msix)).
    msix: bool,
}

struct RxSide {
    ring: Ring,
    buffers: Buffers,
    /// The next descriptor the card fills.
    next: usize,
    /// The descriptor whose frame smoltcp was lent last, to arm again.
    lent: Option<usize>,
}

struct TxSide {
    ring: Ring,
    buffers: Buffers,
    /// The next descriptor to fill (the driver's TDT).
    tail: usize,
    /// The oldest descriptor the card may not be done with.
    clean: usize,
}

/// How many times the reset bit is read before giving up (QEMU clears it
/// at once; the manual allows a few microseconds).
const RESET_POLLS: usize = 100_000;

impl<R: Registers> E1000<R> {
    /// Resets the card, reads its MAC address, and starts both rings in
    /// the memory given, with interrupts masked.
    pub fn new(mut regs: R, rx: (Ring, Buffers), tx: (Ring, Buffers)) -> Result<Self, E1000Error> {
        for (ring, buffers) in [&rx, &tx] {
            if ring.words.len() != 2 * RING || buffers.bytes.len() != RING * BUFFER {
                return Err(E1000Error::BadMemory);
            }
        }
        regs.write(reg::IMC, u32::MAX);
        let ctrl = regs.read(reg::CTRL);
        regs.write(reg::CTRL, ctrl | bits::CTRL_RST);
        if !(0..RESET_POLLS).any(|_| regs.read(reg::CTRL) & bits::CTRL_RST == 0) {
            return Err(E1000Error::ResetTimeout);
        }
        regs.write(reg::IMC, u32::MAX);
        regs.read(reg::ICR);
        let ctrl = regs.read(reg::CTRL);
        regs.write(reg::CTRL, ctrl | bits::CTRL_SLU | bits::CTRL_ASDE);
        // The card loads receive address 0 from its EEPROM at reset.
        let (low, high) = (regs.read(reg::RAL0), regs.read(reg::RAH0));
        if high & bits::RAH_AV == 0 {
            return Err(E1000Error::NoMacAddress);
        }
        let [a, b, c, d] = low.to_le_bytes();
        let [e, f, _, _] = high.to_le_bytes();
        for i in 0..128 {
            regs.write(reg::MTA + 4 * i, 0);
        }
        let mut nic = Self {
            regs,
            rx: RxSide {
                ring: rx.0,
                buffers: rx.1,
                next: 0,
                lent: None,
            },
            tx: TxSide {
                ring: tx.0,
                buffers: tx.1,
                tail: 0,
                clean: 0,
            },
            mac: [a, b, c, d, e, f],
            stats: NicStats::default(),
            msix: false,
        };
        nic.start_rings();
        Ok(nic)
    }

    /// Arms every receive descriptor and gives the card both rings.
    fn start_rings(&mut self) {
        for i in 0..RING {
            let addr = self.rx.buffers.phys + (i * BUFFER) as u64;
            self.rx.ring.words[2 * i].store(addr, Ordering::Relaxed);
            self.rx.ring.words[2 * i + 1].store(0, Ordering::Relaxed);
            self.tx.ring.words[2 * i].store(0, Ordering::Relaxed);
            self.tx.ring.words[2 * i + 1].store(0, Ordering::Relaxed);
        }
        // The descriptors before the registers that hand them over.
        fence(Ordering::SeqCst);
        let r = &mut self.regs;
        for (base, phys) in [
            (reg::RDBAL, self.rx.ring.phys),
            (reg::TDBAL, self.tx.ring.phys),
        ] {
            r.write(base, phys as u32);
            r.write(base + 4, (phys >> 32) as u32);
            r.write(base + 8, RING_BYTES as u32);
            r.write(base + 0x10, 0);
            r.write(base + 0x18, 0);
        }
        // The card owns all receive descriptors but the last.
        r.write(reg::RDT, (RING - 1) as u32);
        r.write(reg::RCTL, bits::RCTL_EN | bits::RCTL_BAM | bits::RCTL_SECRC);
        r.write(reg::TIPG, bits::TIPG_COPPER);
        r.write(
            reg::TCTL,
            bits::TCTL_EN | bits::TCTL_PSP | bits::TCTL_CT_COLD,
        );
    }

    /// Sends every interrupt cause of an 82574L to MSI-X entry 0 (which
    /// the caller set up): the card then interrupts, when
    /// [`set_interrupts`](Nic::set_interrupts) is on, as frames arrive
    /// and sent ones are done. Not for the 82540EM, which has no MSI-X.
    pub fn route_msix(&mut self) {
        self.regs.write(reg::IVAR, bits::IVAR_ALL_TO_ENTRY_0);
        self.msix = true;
    }

    /// Clears the causes the card has raised, so that the next one
    /// interrupts again (the card sends a message only for a cause not
    /// already pending).
    fn acknowledge(&mut self) {
        let causes = self.regs.read(reg::ICR);
        if causes != 0 {
            self.regs.write(reg::ICR, causes);
        }
    }

    /// Traffic counters.
    pub const fn stats(&self) -> NicStats {
        self.stats
    }

    /// Whether the link is up (STATUS.LU).
    pub fn link_up(&self) -> bool {
        self.regs.read(reg::STATUS) & 2 != 0
    }

    /// Arms the descriptor lent last time again and hands it back.
    fn repost(&mut self) {
        if let Some(i) = self.rx.lent.take() {
            self.arm(i);
        }
    }

    /// Clears receive descriptor `i` and hands the ring up to it back
    /// to the card (RDT = `i`: the card owns the ones before it).
    fn arm(&mut self, i: usize) {
        let addr = self.rx.buffers.phys + (i * BUFFER) as u64;
        self.rx.ring.words[2 * i].store(addr, Ordering::Relaxed);
        self.rx.ring.words[2 * i + 1].store(0, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.regs.write(reg::RDT, i as u32);
    }

    /// The next received frame's descriptor and length, dropping (and
    /// arming again) the ones the driver cannot take.
    fn next_frame(&mut self) -> Option<(usize, usize)> {
        loop {
            let i = self.rx.next;
            let status = self.rx.ring.words[2 * i + 1].load(Ordering::Acquire);
            if status & bits::DD == 0 {
                return None;
            }
            self.rx.next = (i + 1) % RING;
            let len = (status & 0xffff) as usize;
            let whole = status & bits::EOP != 0 && status & bits::RX_ERRORS == 0;
            if whole && (14..=BUFFER).contains(&len) {
                return Some((i, len));
            }
            self.stats.errors += 1;
            self.arm(i);
        }
    }

    /// Takes back the transmit descriptors the card is done with.
    fn reclaim(&mut self) {
        let tx = &mut self.tx;
        while tx.clean != tx.tail {
            let status = tx.ring.words[2 * tx.clean + 1].load(Ordering::Acquire);
            if status & bits::DD == 0 {
                break;
            }
            tx.clean = (tx.clean + 1) % RING;
        }
    }

    #[cfg(test)]
    pub(crate) fn parts(&mut self) -> (&mut R, &mut [u8], &[u8]) {
        (&mut self.regs, self.rx.buffers.bytes, self.tx.buffers.bytes)
    }
}

impl<R: Registers> Nic for E1000<R> {
    /// Also acknowledges the causes raised so far: what comes after this
    /// look interrupts again.
    fn unfinished(&mut self) -> bool {
        self.acknowledge();
        fence(Ordering::SeqCst);
        let rx = self.rx.ring.words[2 * self.rx.next + 1].load(Ordering::Acquire) & bits::DD != 0;
        let tx = self.tx.clean != self.tx.tail
            && self.tx.ring.words[2 * self.tx.clean + 1].load(Ordering::Acquire) & bits::DD != 0;
        rx || tx
    }

    fn set_interrupts(&mut self, on: bool) {
        if on {
            let queues = if self.msix { bits::MSIX_CAUSES } else { 0 };
            self.regs.write(reg::IMS, bits::INTERRUPTS | queues);
        } else {
            self.regs.write(reg::IMC, u32::MAX);
        }
    }

    fn mac(&self) -> [u8; 6] {
        self.mac
    }
}

/// A received frame, lent from its buffer.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<T, F: FnOnce(&[u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

/// The right to send one frame through the descriptor at the tail.
pub struct TxToken<'a, R: Registers> {
    regs: &'a mut R,
    tx: &'a mut TxSide,
    stats: &'a mut NicStats,
}

impl<R: Registers> phy::TxToken for TxToken<'_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let tx = self.tx;
        let i = tx.tail;
        if len > MAX_FRAME {
            // smoltcp keeps frames within the MTU the capabilities give;
            // anything larger is built and dropped.
            self.stats.errors += 1;
            return f(&mut [0u8; BUFFER][..len.min(BUFFER)]);
        }
        let r = f(&mut tx.buffers.bytes[i * BUFFER..i * BUFFER + len]);
        let addr = tx.buffers.phys + (i * BUFFER) as u64;
        tx.ring.words[2 * i].store(addr, Ordering::Relaxed);
        tx.ring.words[2 * i + 1].store(len as u64 | bits::TX_CMD, Ordering::Relaxed);
        tx.tail = (i + 1) % RING;
        // The frame and its descriptor before the tail that hands them over.
        fence(Ordering::SeqCst);
        self.regs.write(reg::TDT, tx.tail as u32);
        self.stats.tx_frames += 1;
        r
    }
}

/// A transmit token, if the ring has room.
fn tx_token<'a, R: Registers>(
    regs: &'a mut R,
    tx: &'a mut TxSide,
    stats: &'a mut NicStats,
) -> Option<TxToken<'a, R>> {
    ((tx.tail + 1) % RING != tx.clean).then_some(TxToken { regs, tx, stats })
}

impl<R: Registers> Device for E1000<R> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, R>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_, R>)> {
        self.repost();
        self.reclaim();
        // A reply may be needed: only take a frame when the transmit ring
        // has room too.
        if (self.tx.tail + 1) % RING == self.tx.clean {
            return None;
        }
        let (i, len) = self.next_frame()?;
        self.stats.rx_frames += 1;
        self.rx.lent = Some(i);
        let frame = &self.rx.buffers.bytes[i * BUFFER..i * BUFFER + len];
        let tx = tx_token(&mut self.regs, &mut self.tx, &mut self.stats)?;
        Some((RxToken { frame }, tx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, R>> {
        self.repost();
        self.reclaim();
        tx_token(&mut self.regs, &mut self.tx, &mut self.stats)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(RING - 1);
        caps
    }
}

#[cfg(test)]
#[path = "e1000_tests.rs"]
mod tests;
