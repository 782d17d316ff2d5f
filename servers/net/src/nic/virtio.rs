//! The virtio-net device as a smoltcp [`Device`]: `virtio-drivers`'
//! raw driver with receive and transmit buffers in the DMA region (so the
//! device reads and writes them in place, without bounce copies).
//!
//! Every receive buffer is posted to the device at start; a completed one
//! is lent to smoltcp as an `RxToken` and posted again on the next call.
//! A transmit buffer is taken from the free ones when smoltcp asks for a
//! `TxToken` and comes back when the device reports it sent.

use super::{Nic, NicStats};
use core::sync::atomic::{Ordering, fence};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::Transport;
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};
use virtio_pci::dma::VirtioHal;
use virtio_pci::doorbell::Doorbell;

/// Descriptors per virtqueue, and buffers each way.
pub const QUEUE: usize = 64;
/// The virtqueues: receiveq1 and transmitq1 (virtio 1.x §5.1.2).
pub const QUEUES: [u16; 2] = [0, 1];
/// Bytes of a buffer: the virtio-net header and a full Ethernet frame.
pub const BUFFER: usize = 2048;
/// Pages of the DMA region the buffers take (besides the two queues).
pub const BUFFER_PAGES: usize = 2 * QUEUE * BUFFER / PAGE_SIZE;

/// The largest Ethernet frame (without the FCS) smoltcp may send.
const MAX_FRAME: usize = 1514;

/// Receive buffers: their memory, which descriptor holds which, and
/// which one is lent out.
struct RxSide {
    memory: &'static mut [u8],
    /// Buffer index by descriptor token.
    by_token: [Option<u8>; QUEUE],
    /// The buffer lent to smoltcp by the last `receive`, to post again.
    lent: Option<usize>,
}

/// Transmit buffers.
struct TxSide {
    memory: &'static mut [u8],
    free: [bool; QUEUE],
    /// Buffer index and length by descriptor token, while the device has it.
    by_token: [Option<(u8, u16)>; QUEUE],
}

/// The virtio-net device.
pub struct VirtioNic<T: Transport> {
    device: VirtIONetRaw<VirtioHal, T, QUEUE>,
    rx: RxSide,
    tx: TxSide,
    stats: NicStats,
    /// Holds the queue notifications of a round, if the transport has
    /// one: a round's frames and returned buffers are told once.
    doorbell: Option<Doorbell>,
}

/// Why the device could not start.
#[derive(Debug)]
pub enum NicError {
    /// The driver failed to set the device up.
    Driver(virtio_drivers::Error),
    /// The DMA region has too few free pages for the buffers.
    DmaRegionTooSmall,
}

impl<T: Transport> VirtioNic<T> {
    /// Starts the device on `transport` with buffers from the DMA region
    /// and posts every receive buffer. The device asks for no interrupts
    /// until [`set_interrupts`](Self::set_interrupts).
    ///
    /// # Errors
    ///
    /// The driver's, or too small a DMA region.
    pub fn new(transport: T) -> Result<Self, NicError> {
        let mut device =
            VirtIONetRaw::<VirtioHal, T, QUEUE>::new(transport).map_err(NicError::Driver)?;
        device.disable_interrupts();
        if virtio_pci::dma::free_dma_pages() < BUFFER_PAGES {
            return Err(NicError::DmaRegionTooSmall);
        }
        let take = || {
            let pages = QUEUE * BUFFER / PAGE_SIZE;
            let (_, ptr) = VirtioHal::dma_alloc(pages, BufferDirection::Both);
            // SAFETY: pages of the DMA region handed to this device for
            // the rest of the program (never freed), zeroed and mapped.
            unsafe { core::slice::from_raw_parts_mut(ptr.as_ptr(), pages * PAGE_SIZE) }
        };
        let mut nic = Self {
            device,
            rx: RxSide {
                memory: take(),
                by_token: [None; QUEUE],
                lent: None,
            },
            tx: TxSide {
                memory: take(),
                free: [true; QUEUE],
                by_token: [None; QUEUE],
            },
            doorbell: None,
            stats: NicStats::default(),
        };
        for i in 0..QUEUE {
            nic.post(i);
        }
        Ok(nic)
    }

    /// Holds a round's queue notifications in `doorbell`, the one its
    /// transport was made with ([`Nic::round_begins`]).
    pub fn with_doorbell(mut self, doorbell: Option<Doorbell>) -> Self {
        self.doorbell = doorbell;
        self
    }

    /// Traffic counters.
    pub const fn stats(&self) -> NicStats {
        self.stats
    }

    /// Posts receive buffer `i` to the device.
    fn post(&mut self, i: usize) {
        let buf = &mut self.rx.memory[i * BUFFER..(i + 1) * BUFFER];
        // SAFETY: buffer `i` is not touched again until the device
        // returns it (its token is recorded, and the buffer is read only
        // after `receive_complete`).
        match unsafe { self.device.receive_begin(buf) } {
            Ok(token) if usize::from(token) < QUEUE => {
                self.rx.by_token[usize::from(token)] = Some(i as u8)
            }
            _ => self.stats.errors += 1,
        }
    }

    /// Takes back transmit buffers the device is done with.
    fn reclaim(&mut self) {
        while let Some(token) = self.device.poll_transmit() {
            let Some((i, len)) = self
                .tx
                .by_token
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                // Not a token this driver handed out: nothing to match it
                // with, so stop rather than loop on it.
                self.stats.errors += 1;
                return;
            };
            let i = usize::from(i);
            let buf = &self.tx.memory[i * BUFFER..i * BUFFER + usize::from(len)];
            // SAFETY: the same buffer `transmit_begin` got for this token.
            if unsafe { self.device.transmit_complete(token, buf) }.is_err() {
                self.stats.errors += 1;
            }
            self.tx.free[i] = true;
        }
    }

    /// Posts the buffer lent last time again.
    fn repost(&mut self) {
        if let Some(i) = self.rx.lent.take() {
            self.post(i);
        }
    }
}

impl<T: Transport> Nic for VirtioNic<T> {
    /// Whether the device has used buffers the driver has not taken back:
    /// a received frame not yet handed to the stack (it waits for a free
    /// transmit buffer, as a reply may be needed) or a sent frame not yet
    /// reclaimed. With `VIRTIO_F_EVENT_IDX` the device interrupts only as
    /// it passes the last buffer the driver took, so while this holds a
    /// sleeping server must look again soon instead of waiting for an
    /// interrupt that may not come.
    ///
    /// It is also the check before sleeping that the virtio spec asks
    /// for: with `VIRTIO_F_EVENT_IDX` the driver tells the device where
    /// to interrupt next by writing `used_event` (virtio-drivers does, as
    /// it takes a buffer) and must then read the used index again behind
    /// a full barrier. Without the barrier the CPU may read the index
    /// before its `used_event` write is visible (a store followed by a
    /// load may pass it, even on x86), while the device reads the old
    /// `used_event` and decides not to interrupt: a frame that arrived
    /// just then would wait for the next timer.
    fn unfinished(&mut self) -> bool {
        fence(Ordering::SeqCst);
        self.device.poll_receive().is_some() || self.device.poll_transmit().is_some()
    }

    /// Holds the queue notifications of the round (the frames it sends,
    /// the receive buffers it gives back) until [`round_done`](Nic::round_done).
    fn round_begins(&mut self) {
        if let Some(d) = &self.doorbell {
            d.hold();
        }
    }

    /// Tells the device of the round's buffers, once per queue.
    fn round_done(&mut self) {
        if let Some(d) = &self.doorbell {
            d.release();
        }
    }

    /// Whether the device interrupts when it has used a buffer (received
    /// a frame, sent one): on for a server that sleeps between rounds.
    /// (With `VIRTIO_F_EVENT_IDX`, which QEMU offers, the device
    /// interrupts regardless, once per batch the driver has caught up
    /// with: virtio-drivers moves `used_event` as it takes buffers.)
    fn set_interrupts(&mut self, on: bool) {
        if on {
            self.device.enable_interrupts();
        } else {
            self.device.disable_interrupts();
        }
    }

    /// The device's MAC address.
    fn mac(&self) -> [u8; 6] {
        self.device.mac_address()
    }
}

/// A received frame, lent from its buffer.
pub struct RxToken<'a> {
    frame: &'a [u8],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

/// The right to send one frame through a free transmit buffer.
pub struct TxToken<'a, T: Transport> {
    device: &'a mut VirtIONetRaw<VirtioHal, T, QUEUE>,
    tx: &'a mut TxSide,
    stats: &'a mut NicStats,
    index: usize,
}

impl<T: Transport> phy::TxToken for TxToken<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let i = self.index;
        let buf = &mut self.tx.memory[i * BUFFER..(i + 1) * BUFFER];
        let Ok(header) = self.device.fill_buffer_header(buf) else {
            self.stats.errors += 1;
            return f(&mut [0u8; MAX_FRAME][..len.min(MAX_FRAME)]);
        };
        if header + len > BUFFER {
            // smoltcp keeps frames within the MTU the capabilities give;
            // anything larger is built and dropped.
            self.stats.errors += 1;
            return f(&mut [0u8; MAX_FRAME][..len.min(MAX_FRAME)]);
        }
        let r = f(&mut buf[header..header + len]);
        let total = header + len;
        // SAFETY: the buffer is marked busy below and not touched until
        // `reclaim` gets its token back.
        match unsafe { self.device.transmit_begin(&buf[..total]) } {
            Ok(token) if usize::from(token) < QUEUE => {
                self.tx.free[i] = false;
                self.tx.by_token[usize::from(token)] = Some((i as u8, total as u16));
                self.stats.tx_frames += 1;
            }
            _ => self.stats.errors += 1,
        }
        r
    }
}

impl<T: Transport> Device for VirtioNic<T> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, T>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(RxToken<'_>, TxToken<'_, T>)> {
        self.repost();
        self.reclaim();
        // A reply may be needed: only take a frame when a transmit
        // buffer is free too.
        tx_token(&mut self.tx, &mut self.device, &mut self.stats)?;
        let (i, header, len) = loop {
            let token = self.device.poll_receive()?;
            let Some(i) = self
                .rx
                .by_token
                .get_mut(usize::from(token))
                .and_then(Option::take)
            else {
                self.stats.errors += 1;
                return None;
            };
            let i = usize::from(i);
            let buf = &mut self.rx.memory[i * BUFFER..(i + 1) * BUFFER];
            // SAFETY: the buffer `receive_begin` got for this token.
            match unsafe { self.device.receive_complete(token, buf) } {
                Ok((header, len)) if header + len <= BUFFER => break (i, header, len),
                _ => {
                    // A short or oversized completion: drop it, post again.
                    self.stats.errors += 1;
                    self.post(i);
                }
            }
        };
        self.stats.rx_frames += 1;
        self.rx.lent = Some(i);
        let frame = &self.rx.memory[i * BUFFER + header..i * BUFFER + header + len];
        let tx = tx_token(&mut self.tx, &mut self.device, &mut self.stats)?;
        Some((RxToken { frame }, tx))
    }

    fn transmit(&mut self, _now: Instant) -> Option<TxToken<'_, T>> {
        self.repost();
        self.reclaim();
        tx_token(&mut self.tx, &mut self.device, &mut self.stats)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(QUEUE);
        caps
    }
}

/// A transmit token for a free buffer, if one is free and the queue has
/// room.
fn tx_token<'a, T: Transport>(
    tx: &'a mut TxSide,
    device: &'a mut VirtIONetRaw<VirtioHal, T, QUEUE>,
    stats: &'a mut NicStats,
) -> Option<TxToken<'a, T>> {
    let index = tx.free.iter().position(|&f| f)?;
    device.can_send().then_some(TxToken {
        device,
        tx,
        stats,
        index,
    })
}
