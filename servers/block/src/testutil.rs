//! Test helpers: a RAM disk that completes requests out of order, and a
//! block server over it with a client region.

use crate::server::{BlockServer, Device, Transfer};
use crate::{Block, DATA_OFFSET, SECTOR_SIZE};
use libcap::rpc::Local;
use libcap::start::SharedRegion;
use std::cell::RefCell;
use std::rc::Rc;

/// Sectors of the test disk.
pub const DISK_SECTORS: u64 = 256;
/// Sectors of the test region's data area.
pub const DATA_SECTORS: usize = 64;
/// Requests the RAM disk holds at once.
pub const SLOTS: usize = 8;

/// What the RAM disk holds and has seen.
#[derive(Debug, Default)]
pub struct Ram {
    /// The sectors as written.
    pub disk: Vec<u8>,
    /// The sectors as of the last flush.
    pub durable: Vec<u8>,
    /// Started requests, by slot.
    pending: Vec<(usize, Transfer)>,
    done: Vec<(usize, bool)>,
    rng: u64,
    /// Requests in the device now.
    pub in_flight: usize,
    /// The most requests it held at once.
    pub max_in_flight: usize,
    /// Flushes started while other requests were in flight.
    pub flushes_with_others_in_flight: usize,
    /// A sector whose transfers fail.
    pub fail: Option<u64>,
}

/// The [`Device`] face of a shared [`Ram`].
pub struct RamDevice(pub Rc<RefCell<Ram>>);

impl RamDevice {
    /// A RAM disk of `sectors` zero sectors.
    pub fn new(sectors: usize) -> Self {
        Self(Rc::new(RefCell::new(Ram {
            disk: vec![0; sectors * SECTOR_SIZE],
            durable: vec![0; sectors * SECTOR_SIZE],
            rng: 0x9e37_79b9_7f4a_7c15,
            ..Ram::default()
        })))
    }
}

impl Ram {
    /// Finishes one pending request, picked at random: the transfer
    /// happens now, as DMA would.
    fn finish_one(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let (slot, transfer) = self
            .pending
            .swap_remove(self.rng as usize % self.pending.len());
        self.in_flight -= 1;
        let ok = match transfer {
            Transfer::Flush => {
                self.durable.copy_from_slice(&self.disk);
                true
            }
            Transfer::Read { sector, buf } | Transfer::Write { sector, buf } => {
                let at = sector as usize * SECTOR_SIZE;
                let sectors = sector..sector + (buf.len() / SECTOR_SIZE) as u64;
                if self.fail.is_some_and(|f| sectors.contains(&f)) {
                    false
                } else {
                    let disk = &mut self.disk[at..at + buf.len()];
                    // SAFETY: `start`'s contract: the buffer is valid until
                    // this completion is reported, and nobody else uses it
                    // (a write's buffer is only read).
                    unsafe {
                        if matches!(transfer, Transfer::Read { .. }) {
                            (*buf.as_ptr()).copy_from_slice(disk);
                        } else {
                            disk.copy_from_slice(&*buf.as_ptr());
                        }
                    }
                    true
                }
            }
        };
        self.done.push((slot, ok));
    }
}

impl Device for RamDevice {
    fn capacity(&self) -> u64 {
        (self.0.borrow().disk.len() / SECTOR_SIZE) as u64
    }

    fn slots(&self) -> usize {
        SLOTS
    }

    unsafe fn start(&mut self, slot: usize, transfer: Transfer) -> bool {
        let mut ram = self.0.borrow_mut();
        assert!(slot < SLOTS, "slot {slot} out of range");
        assert!(
            ram.pending.iter().all(|(s, _)| *s != slot),
            "slot {slot} started twice"
        );
        if let Transfer::Read { sector, buf } | Transfer::Write { sector, buf } = transfer {
            assert!(!buf.is_empty() && buf.len().is_multiple_of(SECTOR_SIZE));
            assert!(
                sector + (buf.len() / SECTOR_SIZE) as u64 <= (ram.disk.len() / SECTOR_SIZE) as u64
            );
        }
        if transfer == Transfer::Flush && ram.in_flight > 0 {
            ram.flushes_with_others_in_flight += 1;
        }
        ram.pending.push((slot, transfer));
        ram.in_flight += 1;
        ram.max_in_flight = ram.max_in_flight.max(ram.in_flight);
        true
    }

    /// Like a real device, the RAM disk makes progress while the server
    /// looks: each poll with nothing done finishes one request.
    fn poll(&mut self) -> Option<(usize, bool)> {
        let mut ram = self.0.borrow_mut();
        if ram.done.is_empty() {
            ram.finish_one();
        }
        if ram.done.is_empty() {
            None
        } else {
            Some(ram.done.remove(0))
        }
    }

    fn wait(&mut self) {
        self.0.borrow_mut().finish_one();
    }
}

/// A server over a [`DISK_SECTORS`] RAM disk (sector 0 starts `BSLT`)
/// whose client region has a [`DATA_SECTORS`] data area; the client's view
/// of the region, and the disk.
pub fn server() -> (
    Local<BlockServer<RamDevice>>,
    SharedRegion,
    Rc<RefCell<Ram>>,
) {
    let bytes = DATA_OFFSET + DATA_SECTORS * SECTOR_SIZE;
    let layout = std::alloc::Layout::from_size_align(bytes, 4096).expect("layout");
    // SAFETY: a non-zero size; the block is never freed.
    let base = unsafe { std::alloc::alloc_zeroed(layout) };
    // SAFETY: leaked, so mapped for the rest of the program; the server
    // and the test use it as the block protocol says, as two components
    // would.
    let (server_side, client_side) = unsafe {
        (
            SharedRegion::new(base, bytes).expect("not null"),
            SharedRegion::new(base, bytes).expect("not null"),
        )
    };
    let device = RamDevice::new(DISK_SECTORS as usize);
    device.0.borrow_mut().disk[..4].copy_from_slice(b"BSLT");
    let ram = device.0.clone();
    (
        Local::new(
            BlockServer::new(device, Some(server_side)),
            BlockServer::rpc_dispatch,
        ),
        client_side,
        ram,
    )
}
