//! The virtio-blk disk as a [`Device`]: `virtio-drivers`' PCI transport and
//! split virtqueue, with the block requests built here so that several
//! are in the queue at once (`virtio-drivers`' own block driver waits for
//! each flush, and its queue holds 16 descriptors).
//!
//! A request is a chain of three descriptors — header, data, status —
//! (two for a flush). Headers and status bytes live in one page of the
//! DMA region, one of each per slot; the data is used in place wherever
//! [`BlockHal`] allows (the client's data area, the DMA region).
//!
//! Only modern (virtio 1.0) devices are driven: `VIRTIO_F_VERSION_1` is
//! required, `VIRTIO_BLK_F_FLUSH` and `VIRTIO_BLK_F_RO` are accepted,
//! nothing else.
//!
//! Interrupts: the transport ([`MsixTransport`], from
//! `virtio_pci::device::open`) routes the queue to MSI-X entry 0 when it
//! is set up, and [`VirtioBlk::wait_for_interrupts`] makes
//! [`Device::wait`] wait on the notification the interrupt signals
//! instead of returning at once.

use crate::dma::{self, BlockHal};
use crate::server::{Device, MAX_SLOTS, Slots, Transfer, wait_on};
use core::ptr::NonNull;
use libcap::Notification;
use virtio_drivers::queue::VirtQueue;
use virtio_drivers::transport::{DeviceStatus, Transport};
use virtio_drivers::{BufferDirection, Hal, PAGE_SIZE};
use virtio_pci::interrupt::MsixTransport;

/// Descriptors in the virtqueue.
pub const QUEUE_SIZE: usize = 128;
/// The request queue's index.
pub const QUEUE: u16 = 0;
/// Descriptors of a read or write.
const CHAIN: usize = 3;

/// `VIRTIO_BLK_F_RO`: the disk is read-only.
const F_RO: u64 = 1 << 5;
/// `VIRTIO_BLK_F_FLUSH`: the device has a volatile cache that
/// `VIRTIO_BLK_T_FLUSH` writes back.
const F_FLUSH: u64 = 1 << 9;
/// `VIRTIO_F_VERSION_1`: a modern device.
const F_VERSION_1: u64 = 1 << 32;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
/// `VIRTIO_BLK_S_OK`.
const S_OK: u8 = 0;

/// `struct virtio_blk_req`'s header.
#[repr(C)]
struct Header {
    kind: u32,
    reserved: u32,
    sector: u64,
}

/// The DMA page of request headers and status bytes.
#[repr(C)]
struct Page {
    headers: [Header; MAX_SLOTS],
    status: [u8; MAX_SLOTS],
}

const _: () = assert!(size_of::<Page>() <= PAGE_SIZE);

/// Why the device could not be set up.
#[derive(Debug)]
pub enum InitError {
    /// The device does not offer `VIRTIO_F_VERSION_1` (a legacy-only
    /// device): the features it offers.
    Legacy(u64),
    /// The device did not accept the features (`FEATURES_OK` cleared).
    FeaturesRefused,
    /// Reading the configuration (capacity) failed.
    Config(virtio_drivers::Error),
    /// The virtqueue could not be set up (for example the device's queue
    /// is shorter than [`QUEUE_SIZE`]).
    Queue(virtio_drivers::Error),
    /// The DMA region has no page left for the request headers.
    NoDmaPage,
}

/// A virtio-blk disk with requests in flight.
pub struct VirtioBlk {
    transport: MsixTransport,
    queue: VirtQueue<BlockHal, QUEUE_SIZE>,
    capacity: u64,
    read_only: bool,
    flush: bool,
    page: NonNull<Page>,
    /// What each slot holds.
    started: [Option<Transfer>; MAX_SLOTS],
    /// The slot of each chain, by its head descriptor (the token).
    slot_of: [Option<u8>; QUEUE_SIZE],
    /// Slots done without the device (flushes when it has no cache), one
    /// bit each.
    done_now: Slots,
    /// The notification the device's interrupt signals; `None`: poll.
    interrupt: Option<Notification>,
}

impl core::fmt::Debug for VirtioBlk {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtioBlk")
            .field("capacity", &self.capacity)
            .field("flush", &self.flush)
            .finish_non_exhaustive()
    }
}

impl VirtioBlk {
    /// Resets the device behind `transport`, negotiates features and sets
    /// up the request queue (which the transport routes to the interrupt,
    /// if there is one).
    pub fn new(mut transport: MsixTransport) -> Result<Self, InitError> {
        transport.set_status(DeviceStatus::empty());
        while transport.get_status() != DeviceStatus::empty() {
            core::hint::spin_loop();
        }
        transport.set_status(DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER);
        let offered = transport.read_device_features();
        if offered & F_VERSION_1 == 0 {
            transport.set_status(DeviceStatus::FAILED);
            return Err(InitError::Legacy(offered));
        }
        let features = offered & (F_VERSION_1 | F_FLUSH | F_RO);
        transport.write_driver_features(features);
        transport.set_status(
            DeviceStatus::ACKNOWLEDGE | DeviceStatus::DRIVER | DeviceStatus::FEATURES_OK,
        );
        if !transport.get_status().contains(DeviceStatus::FEATURES_OK) {
            transport.set_status(DeviceStatus::FAILED);
            return Err(InitError::FeaturesRefused);
        }
        let capacity = transport
            .read_consistent(|| {
                let low: u32 = transport.read_config_space(0)?;
                let high: u32 = transport.read_config_space(4)?;
                Ok(u64::from(high) << 32 | u64::from(low))
            })
            .map_err(InitError::Config)?;
        let queue =
            VirtQueue::new(&mut transport, QUEUE, false, false).map_err(InitError::Queue)?;
        if dma::free_dma_pages() == 0 {
            return Err(InitError::NoDmaPage);
        }
        let (_, page) = BlockHal::dma_alloc(1, BufferDirection::Both);
        transport.finish_init();
        Ok(Self {
            transport,
            queue,
            capacity,
            read_only: features & F_RO != 0,
            flush: features & F_FLUSH != 0,
            page: page.cast(),
            started: [None; MAX_SLOTS],
            slot_of: [None; QUEUE_SIZE],
            done_now: Slots::default(),
            interrupt: None,
        })
    }

    /// From now on [`Device::wait`] waits on `notification`, which the
    /// device's interrupt signals (routed by the caller), instead of
    /// returning at once.
    pub fn wait_for_interrupts(&mut self, notification: Notification) {
        self.interrupt = Some(notification);
    }

    /// Whether the device has a write cache that flushes write back.
    pub fn has_flush(&self) -> bool {
        self.flush
    }

    /// Whether the disk refuses writes.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    /// Runs `f` on the queue with the descriptor chain of `transfer` in
    /// `slot`: header, data (read by the device for a write, written for
    /// a read), status.
    ///
    /// # Safety
    ///
    /// The transfer's buffer is valid for reads and writes while the chain
    /// is in the queue (`Device::start`'s contract), and `slot` is below
    /// [`MAX_SLOTS`].
    unsafe fn with_chain<R>(
        &mut self,
        slot: usize,
        transfer: Transfer,
        f: impl for<'a> FnOnce(
            &mut VirtQueue<BlockHal, QUEUE_SIZE>,
            &'a [&'a [u8]],
            &'a mut [&'a mut [u8]],
        ) -> R,
    ) -> R {
        // SAFETY: the page is ours (from the DMA pool, never freed) and
        // `slot` is in range; only the device writes the status byte,
        // and only while the chain is in the queue.
        let (header, status) = unsafe {
            let page = self.page.as_ptr();
            (
                core::slice::from_raw_parts(
                    (&raw const (*page).headers[slot]).cast::<u8>(),
                    size_of::<Header>(),
                ),
                core::slice::from_raw_parts_mut(&raw mut (*page).status[slot], 1),
            )
        };
        match transfer {
            Transfer::Read { buf, .. } => {
                // SAFETY: the caller's contract; the driver only takes the
                // buffer's address (it lies where BlockHal uses buffers in
                // place) or copies through a bounce page.
                let data = unsafe { &mut *buf.as_ptr() };
                f(&mut self.queue, &[header], &mut [data, status])
            }
            Transfer::Write { buf, .. } => {
                // SAFETY: as above.
                let data = unsafe { &*buf.as_ptr() };
                f(&mut self.queue, &[header, data], &mut [status])
            }
            Transfer::Flush => f(&mut self.queue, &[header], &mut [status]),
        }
    }
}

impl Device for VirtioBlk {
    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn slots(&self) -> usize {
        MAX_SLOTS.min(QUEUE_SIZE / CHAIN)
    }

    unsafe fn start(&mut self, slot: usize, transfer: Transfer) -> bool {
        if slot >= self.slots() || self.started[slot].is_some() {
            return false;
        }
        let (kind, sector) = match transfer {
            Transfer::Read { sector, .. } => (T_IN, sector),
            Transfer::Write { sector, .. } => (T_OUT, sector),
            Transfer::Flush if !self.flush => {
                self.started[slot] = Some(transfer);
                self.done_now.add(slot);
                return true;
            }
            Transfer::Flush => (T_FLUSH, 0),
        };
        // SAFETY: the page is ours and `slot` is in range; the device
        // reads the header only once the chain is in the queue.
        unsafe {
            let page = self.page.as_ptr();
            (&raw mut (*page).headers[slot]).write(Header {
                kind,
                reserved: 0,
                sector,
            });
            (&raw mut (*page).status[slot]).write_volatile(0xff);
        }
        // SAFETY: `start`'s contract covers the buffer until `poll` pops
        // the chain with the same buffers, and the buffers are not
        // touched meanwhile, as `add` requires.
        let added = unsafe {
            self.with_chain(slot, transfer, |queue, inputs, outputs| {
                queue.add(inputs, outputs)
            })
        };
        let Ok(token) = added else {
            return false;
        };
        // A token is a descriptor index, below QUEUE_SIZE.
        let Some(entry) = self.slot_of.get_mut(usize::from(token)) else {
            return false;
        };
        *entry = Some(slot as u8);
        self.started[slot] = Some(transfer);
        if self.queue.should_notify() {
            self.transport.notify(QUEUE);
        }
        true
    }

    fn poll(&mut self) -> Option<(usize, bool)> {
        if let Some(slot) = self.done_now.take() {
            self.started[slot] = None;
            return Some((slot, true));
        }
        let token = self.queue.peek_used()?;
        let Some(slot) = self
            .slot_of
            .get_mut(usize::from(token))
            .and_then(Option::take)
            .map(usize::from)
        else {
            // The device used a chain that was not made available: it
            // cannot be popped without its buffers. A broken device; the
            // requests in it never complete.
            log::error!("virtio-blk used unknown descriptor {token}");
            return None;
        };
        let transfer = self.started[slot].take()?;
        // SAFETY: the same buffers `start` added for this token, still
        // valid (`start`'s contract), as `pop_used` requires.
        let popped = unsafe {
            self.with_chain(slot, transfer, |queue, inputs, outputs| {
                queue.pop_used(token, inputs, outputs)
            })
        };
        // SAFETY: the page is ours; the device has finished with the chain.
        let status = unsafe { (&raw const (*self.page.as_ptr()).status[slot]).read_volatile() };
        Some((slot, popped.is_ok() && status == S_OK))
    }

    /// Waits for the interrupt, which comes after every request the device
    /// completes; one that came since the last wait (or before the
    /// caller last polled) returns at once, so none is lost.
    fn wait(&mut self) {
        wait_on(self.interrupt);
    }
}
