//! The network cards the net server drives, each a smoltcp `Device`
//! with the few controls the server's loop needs ([`Nic`]):
//!
//! | module | card |
//! | --- | --- |
//! | [`virtio`] | virtio-net (QEMU's default), through `virtio-drivers` |
//! | [`e1000`] | Intel's 82540EM (`e1000`) and 82574L (`e1000e`) gigabit cards, legacy descriptors |
//!
//! The server finds the card by its PCI vendor and device IDs
//! ([`Kind::of`]); a new card is one more module and one more row there.

pub mod e1000;
pub mod virtio;

pub use virtio::{BUFFER, BUFFER_PAGES, NicError, QUEUE, QUEUES, VirtioNic};

/// Counters of the device's traffic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NicStats {
    /// Frames received.
    pub rx_frames: u64,
    /// Frames sent.
    pub tx_frames: u64,
    /// Completions the device got wrong (unknown token, bad length):
    /// the buffer is posted again and the frame dropped.
    pub errors: u64,
}

/// What the server's loop asks of a card besides sending and receiving.
pub trait Nic: smoltcp::phy::Device {
    /// Whether the card holds finished work the driver has not taken
    /// back (a received frame, a sent one): a sleeping server looks
    /// again soon instead of waiting for an interrupt.
    fn unfinished(&mut self) -> bool;
    /// Interrupts on (a server that sleeps between rounds) or off.
    fn set_interrupts(&mut self, on: bool);
    /// The card's MAC address.
    fn mac(&self) -> [u8; 6];
    /// A round begins: the card may hold back telling the device of the
    /// buffers the round adds until [`round_done`](Self::round_done).
    fn round_begins(&mut self) {}
    /// The round is over: what was held back is told now, before the
    /// server looks at the card again or sleeps.
    fn round_done(&mut self) {}
}

/// The cards, by PCI vendor and device ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// virtio-net (transitional 1af4:1000, modern 1af4:1041).
    Virtio,
    /// Intel 82540EM (8086:100e) or 82574L (8086:10d3).
    E1000,
}

impl Kind {
    /// Every card the server drives: vendor and device ID, and which.
    pub const ALL: [((u16, u16), Kind); 4] = [
        ((0x1af4, 0x1000), Kind::Virtio),
        ((0x1af4, 0x1041), Kind::Virtio),
        ((0x8086, 0x100e), Kind::E1000),
        ((0x8086, 0x10d3), Kind::E1000),
    ];

    /// The card with these IDs, if the server drives it.
    pub fn of(ids: (u16, u16)) -> Option<Kind> {
        Self::ALL.iter().find(|(i, _)| *i == ids).map(|&(_, k)| k)
    }
}
