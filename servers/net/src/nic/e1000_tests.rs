//! The e1000 driver against a simulated card: the registers as the
//! manual defines them, and a card that takes frames from the transmit
//! ring and writes received ones into the receive ring as the hardware
//! does (head chasing the driver's tail, DD when done). The oracle: every
//! frame the card was given arrives once, in order, and every frame sent
//! leaves once, in order; what the card got wrong is dropped and counted.

extern crate std;

use super::*;
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use smoltcp::phy::{RxToken as _, TxToken as _};

const RX_RING: u64 = 0x1000;
const TX_RING: u64 = 0x2000;
const RX_BUFFERS: u64 = 0x10_0000;
const TX_BUFFERS: u64 = 0x20_0000;
const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

/// The simulated card: its registers, and the rings it shares with the
/// driver.
struct Card {
    regs: Vec<u32>,
    rx_ring: &'static [AtomicU64],
    tx_ring: &'static [AtomicU64],
    /// Frames it had no descriptor for.
    dropped: usize,
    /// Its reset bit never clears.
    stuck: bool,
}

impl Registers for Card {
    fn read(&self, offset: u32) -> u32 {
        self.regs[offset as usize / 4]
    }

    fn write(&mut self, offset: u32, value: u32) {
        let value = match offset {
            reg::CTRL if !self.stuck => value & !bits::CTRL_RST,
            // Write 1 to clear.
            reg::ICR => self.regs[offset as usize / 4] & !value,
            _ => value,
        };
        self.regs[offset as usize / 4] = value;
    }
}

impl Card {
    fn reg(&self, offset: u32) -> usize {
        self.regs[offset as usize / 4] as usize
    }

    fn set(&mut self, offset: u32, value: usize) {
        self.regs[offset as usize / 4] = value as u32;
    }
}

fn ring() -> &'static [AtomicU64] {
    Box::leak((0..2 * RING).map(|_| AtomicU64::new(0)).collect())
}

fn buffers(phys: u64) -> Buffers {
    Buffers {
        bytes: Box::leak(vec![0u8; RING * BUFFER].into_boxed_slice()),
        phys,
    }
}

fn card() -> Card {
    let mut regs = vec![0u32; reg::SPAN as usize / 4];
    let [a, b, c, d, e, f] = MAC;
    regs[reg::RAL0 as usize / 4] = u32::from_le_bytes([a, b, c, d]);
    regs[reg::RAH0 as usize / 4] = u32::from_le_bytes([e, f, 0, 0]) | bits::RAH_AV;
    Card {
        regs,
        rx_ring: ring(),
        tx_ring: ring(),
        dropped: 0,
        stuck: false,
    }
}

fn nic_on(card: Card) -> Result<E1000<Card>, E1000Error> {
    let rx = Ring {
        words: card.rx_ring,
        phys: RX_RING,
    };
    let tx = Ring {
        words: card.tx_ring,
        phys: TX_RING,
    };
    E1000::new(card, (rx, buffers(RX_BUFFERS)), (tx, buffers(TX_BUFFERS)))
}

fn nic() -> E1000<Card> {
    nic_on(card()).expect("starts")
}

/// The card receives `frame` from the wire, as the hardware does: into
/// the descriptor at its head, if it owns one.
fn deliver(nic: &mut E1000<Card>, frame: &[u8]) -> bool {
    let (card, rx, _) = nic.parts();
    let head = card.reg(reg::RDH);
    if head == card.reg(reg::RDT) {
        card.dropped += 1;
        return false;
    }
    let addr = card.rx_ring[2 * head].load(Ordering::Relaxed);
    let at = (addr - RX_BUFFERS) as usize;
    rx[at..at + frame.len()].copy_from_slice(frame);
    let status = frame.len() as u64 | bits::DD | bits::EOP;
    card.rx_ring[2 * head + 1].store(status, Ordering::Release);
    card.set(reg::RDH, (head + 1) % RING);
    true
}

/// The card sends what the driver queued: the frames, in order.
fn send(nic: &mut E1000<Card>) -> Vec<Vec<u8>> {
    let (card, _, tx) = nic.parts();
    let mut sent = Vec::new();
    while card.reg(reg::TDH) != card.reg(reg::TDT) {
        let head = card.reg(reg::TDH);
        let addr = card.tx_ring[2 * head].load(Ordering::Relaxed);
        let word = card.tx_ring[2 * head + 1].load(Ordering::Acquire);
        assert_eq!(word & bits::TX_CMD, bits::TX_CMD, "EOP, IFCS and RS");
        let len = (word & 0xffff) as usize;
        let at = (addr - TX_BUFFERS) as usize;
        sent.push(tx[at..at + len].to_vec());
        card.tx_ring[2 * head + 1].store(word | bits::DD, Ordering::Release);
        card.set(reg::TDH, (head + 1) % RING);
    }
    sent
}

fn now() -> Instant {
    Instant::from_millis(0)
}

/// The next frame the driver hands smoltcp, if any.
fn take(nic: &mut E1000<Card>) -> Option<Vec<u8>> {
    let (rx, _) = nic.receive(now())?;
    Some(rx.consume(|f| f.to_vec()))
}

/// Sends `frame` through the driver; false if the ring had no room.
fn put(nic: &mut E1000<Card>, frame: &[u8]) -> bool {
    let Some(tx) = nic.transmit(now()) else {
        return false;
    };
    tx.consume(frame.len(), |b| b.copy_from_slice(frame));
    true
}

/// A frame of `len` bytes numbered `n`.
fn frame(n: u32, len: usize) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len).map(|i| (i as u32 ^ n) as u8).collect();
    f[..4].copy_from_slice(&n.to_le_bytes());
    f
}

#[test]
fn start_up_programs_the_rings_as_the_manual_says() {
    let mut nic = nic();
    assert_eq!(nic.mac(), MAC);
    let (card, _, _) = nic.parts();
    assert_eq!(card.reg(reg::RDBAL), RX_RING as usize);
    assert_eq!(card.reg(reg::RDBAH), 0);
    assert_eq!(card.reg(reg::RDLEN), RING_BYTES);
    assert_eq!((card.reg(reg::RDH), card.reg(reg::RDT)), (0, RING - 1));
    assert_eq!(card.reg(reg::TDBAL), TX_RING as usize);
    assert_eq!((card.reg(reg::TDH), card.reg(reg::TDT)), (0, 0));
    assert_ne!(card.reg(reg::RCTL) as u32 & bits::RCTL_EN, 0);
    assert_ne!(card.reg(reg::TCTL) as u32 & bits::TCTL_EN, 0);
    assert_ne!(card.reg(reg::CTRL) as u32 & bits::CTRL_SLU, 0, "link up");
    assert_eq!(card.reg(reg::IMS), 0, "interrupts masked");
    for i in 0..RING {
        let addr = card.rx_ring[2 * i].load(Ordering::Relaxed);
        assert_eq!(addr, RX_BUFFERS + (i * BUFFER) as u64, "descriptor {i}");
    }
    nic.set_interrupts(true);
    assert_eq!(nic.parts().0.reg(reg::IMS) as u32, bits::INTERRUPTS);
    // An 82574L under MSI-X: every cause on entry 0, the queues' causes
    // unmasked too.
    nic.route_msix();
    nic.set_interrupts(true);
    let card = nic.parts().0;
    assert_eq!(card.reg(reg::IVAR) as u32, 0x0008_0808);
    assert_eq!(
        card.reg(reg::IMS) as u32,
        bits::INTERRUPTS | bits::MSIX_CAUSES
    );
    // A look before sleeping acknowledges what was raised, so that the
    // next cause interrupts again.
    card.set(reg::ICR, (1 << 20) | (1 << 7));
    assert!(!nic.unfinished());
    assert_eq!(nic.parts().0.reg(reg::ICR), 0);
    nic.set_interrupts(false);
    assert_eq!(nic.parts().0.reg(reg::IMC) as u32, u32::MAX);
}

#[test]
fn frames_arrive_and_leave_in_order_across_many_wraps() {
    let mut nic = nic();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut given, mut got, mut queued, mut sent) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..5_000u32 {
        let len = 60 + (next() % 1455) as usize;
        // Bursts that fill the rings at times, and drains of random size.
        for _ in 0..(next() % 4) {
            let f = frame(n, len);
            if deliver(&mut nic, &f) {
                given.push(f);
            }
        }
        for _ in 0..(next() % 5) {
            if let Some(f) = take(&mut nic) {
                got.push(f);
            }
        }
        for _ in 0..(next() % 4) {
            let f = frame(!n, len);
            if put(&mut nic, &f) {
                queued.push(f);
            }
        }
        if next() % 3 == 0 {
            sent.extend(send(&mut nic));
        }
        assert_eq!(got[..], given[..got.len()], "received in order, once");
        assert_eq!(sent[..], queued[..sent.len()], "sent in order, once");
    }
    while let Some(f) = take(&mut nic) {
        got.push(f);
    }
    sent.extend(send(&mut nic));
    assert_eq!(got, given);
    assert_eq!(sent, queued);
    assert!(given.len() > 1000 && sent.len() > 1000);
    assert_eq!(nic.stats().errors, 0);
    assert_eq!(nic.stats().rx_frames, given.len() as u64);
    assert_eq!(nic.stats().tx_frames, sent.len() as u64);
}

#[test]
fn full_rings_hold_one_descriptor_back() {
    let mut nic = nic();
    // The card owns all receive descriptors but one.
    let accepted = (0..RING as u32 + 5)
        .filter(|&n| deliver(&mut nic, &frame(n, 100)))
        .count();
    assert_eq!(accepted, RING - 1);
    assert_eq!(nic.parts().0.dropped, 6);
    assert!(nic.unfinished(), "a frame waits");
    // The driver sends as many, then the ring is full until the card
    // sends; receiving waits for room to reply.
    let sent = (0..RING as u32)
        .filter(|&n| put(&mut nic, &frame(n, 64)))
        .count();
    assert_eq!(sent, RING - 1);
    assert!(nic.transmit(now()).is_none());
    assert!(nic.receive(now()).is_none(), "no room for a reply");
    assert_eq!(send(&mut nic).len(), RING - 1);
    assert!(
        nic.unfinished(),
        "sent frames to take back, and received ones"
    );
    let mut got = 0;
    while take(&mut nic).is_some() {
        got += 1;
    }
    assert_eq!(got, RING - 1);
    assert!(!nic.unfinished());
    // Every descriptor went back to the card (the call that found nothing
    // armed the one lent before it) but the one held back.
    let again = (0..RING as u32)
        .filter(|&n| deliver(&mut nic, &frame(n, 100)))
        .count();
    assert_eq!(again, RING - 1);
}

#[test]
fn what_a_card_gets_wrong_is_dropped_and_counted() {
    let mut nic = nic();
    let bad = [
        // DD without EOP: a frame split over descriptors.
        100 | bits::DD,
        // An error bit (CRC, say).
        100 | bits::DD | bits::EOP | (1 << 40),
        // Longer than the buffer; shorter than an Ethernet header.
        0xffff | bits::DD | bits::EOP,
        3 | bits::DD | bits::EOP,
    ];
    {
        let (card, _, _) = nic.parts();
        for (i, status) in bad.iter().enumerate() {
            card.rx_ring[2 * i + 1].store(*status, Ordering::Release);
        }
        card.set(reg::RDH, bad.len());
    }
    assert!(deliver(&mut nic, &frame(7, 200)));
    assert_eq!(take(&mut nic), Some(frame(7, 200)));
    assert_eq!(nic.stats().errors, bad.len() as u64);
    // Each bad descriptor was armed again with its own buffer.
    let (card, _, _) = nic.parts();
    for i in 0..bad.len() {
        assert_eq!(card.rx_ring[2 * i + 1].load(Ordering::Relaxed), 0);
        let addr = card.rx_ring[2 * i].load(Ordering::Relaxed);
        assert_eq!(addr, RX_BUFFERS + (i * BUFFER) as u64);
    }
    // A frame larger than the MTU is built and dropped.
    let tx = nic.transmit(now()).unwrap();
    tx.consume(MAX_FRAME + 1, |b| b.fill(1));
    assert!(send(&mut nic).is_empty());
    assert_eq!(nic.stats().errors, bad.len() as u64 + 1);
}

#[test]
fn a_card_that_does_not_start_is_refused() {
    let stuck = Card {
        stuck: true,
        ..card()
    };
    assert_eq!(nic_on(stuck).err(), Some(E1000Error::ResetTimeout));
    let mut blank = card();
    blank.regs[reg::RAH0 as usize / 4] = 0;
    assert_eq!(nic_on(blank).err(), Some(E1000Error::NoMacAddress));
    let c = card();
    let short = Ring {
        words: &c.rx_ring[..RING],
        phys: RX_RING,
    };
    let tx = Ring {
        words: c.tx_ring,
        phys: TX_RING,
    };
    let r = E1000::new(c, (short, buffers(RX_BUFFERS)), (tx, buffers(TX_BUFFERS)));
    assert_eq!(r.err(), Some(E1000Error::BadMemory));
}
