//! The [`Block`](crate::Block) server: takes [`Request`]s from the
//! client's submission ring, checks each, keeps up to
//! [`Device::slots`] of them in the device at once, and posts a
//! [`Completion`] for every request it took, in the order the device
//! finishes them.
//!
//! Every request is checked before it reaches the device: a bad one gets
//! an error completion ([`BAD_OP`](crate::BAD_OP),
//! [`MISALIGNED`](crate::MISALIGNED), [`OUT_OF_RANGE`](crate::OUT_OF_RANGE),
//! [`TOO_LARGE`](crate::TOO_LARGE)), never a panic, and the data of a good
//! one lies inside the data area, so the device only ever sees memory the
//! server shares with the client.
//!
//! The server takes a request only while the completion ring has room for
//! the completions of every request it holds plus that one, so a
//! completion always has a slot (unless the client corrupts the ring's
//! indices; then the completion is dropped and counted).

use crate::{
    BAD_OP, Block, Completion, Geometry, IO_ERROR, MAX_SECTORS, MISALIGNED, NO_REGION, OK,
    OUT_OF_RANGE, Op, Request, SECTOR_SIZE, TOO_LARGE, split_region,
};
use core::ptr::NonNull;
use libcap::ring::{Consumer, Producer};
use libcap::rpc::Caller;
use libcap::start::SharedRegion;

/// The most requests the server keeps in a device at once.
pub const MAX_SLOTS: usize = 32;

/// A request for the device, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transfer {
    /// Read whole sectors from `sector` on into `buf`.
    Read {
        /// The first sector.
        sector: u64,
        /// Where the data goes: non-empty, whole sectors.
        buf: NonNull<[u8]>,
    },
    /// Write `buf` (non-empty, whole sectors) from `sector` on.
    Write {
        /// The first sector.
        sector: u64,
        /// The data.
        buf: NonNull<[u8]>,
    },
    /// Make completed writes durable.
    Flush,
}

/// What the server needs of a disk: requests started in numbered slots,
/// reported done in any order. The virtio driver on Basalt
/// ([`crate::virtio::VirtioBlk`]), a RAM disk in tests.
pub trait Device {
    /// Sectors of [`SECTOR_SIZE`] bytes.
    fn capacity(&self) -> u64;
    /// How many requests the device holds at once: slots `0..slots()`.
    fn slots(&self) -> usize;
    /// Starts `transfer` in `slot`, which holds no request; false if the
    /// device refused it (nothing is started, the slot stays free).
    ///
    /// # Safety
    ///
    /// The buffer of a read or write is valid for reads and writes until
    /// [`poll`](Self::poll) reports the slot done, and this program does
    /// not use it meanwhile.
    unsafe fn start(&mut self, slot: usize, transfer: Transfer) -> bool;
    /// A slot whose request has finished, and whether it succeeded; `None`
    /// while none has.
    fn poll(&mut self) -> Option<(usize, bool)>;
    /// Waits until [`poll`](Self::poll) may have something (an interrupt),
    /// or returns at once (a polling driver).
    fn wait(&mut self);
}

/// A set of slots (a bit each): those a driver answered without its
/// device (a flush with no write cache to write back), or those that
/// failed, for its next polls to report, lowest first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Slots(u64);

impl Slots {
    /// Adds `slot` (below [`MAX_SLOTS`]).
    pub fn add(&mut self, slot: usize) {
        self.0 |= 1 << (slot % 64);
    }

    /// Adds every slot of `mask`.
    pub fn add_mask(&mut self, mask: u64) {
        self.0 |= mask;
    }

    /// Takes the lowest slot.
    pub fn take(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let slot = self.0.trailing_zeros() as usize;
        self.0 &= !(1 << slot);
        Some(slot)
    }
}

/// [`Device::wait`] for a driver whose device interrupts through
/// `interrupt`: a wait on it (one that came since the last wait, or a
/// failed wait, returns at once), or with none a spin (the server polls).
pub fn wait_on(interrupt: Option<libcap::Notification>) {
    match interrupt {
        Some(n) => {
            let _ = n.wait();
        }
        None => core::hint::spin_loop(),
    }
}

/// Why a request is refused: an error code of the crate.
type Code = u64;

/// The client's side of the server: its rings and data area.
#[derive(Debug)]
struct Client {
    submit: Consumer<Request>,
    complete: Producer<Completion>,
    data: SharedRegion,
}

/// Serves [`Block`](crate::Block) for `device` to the one client that
/// shares the region.
#[derive(Debug)]
pub struct BlockServer<D> {
    device: D,
    client: Option<Client>,
    /// The request id in each device slot.
    slots: [Option<u64>; MAX_SLOTS],
    in_flight: usize,
    /// A request taken but not started: a flush waiting for the requests
    /// before it, or any request while every slot is busy.
    held: Option<Request>,
    /// Completions dropped because the client's ring had no room.
    lost: u64,
}

impl<D: Device> BlockServer<D> {
    /// A server for `device` whose client shares `region` (laid out as
    /// [`split_region`] says). Without a region, or with one too small,
    /// [`submit`](Block::submit) and [`wait`](Block::wait) fail with
    /// [`NO_REGION`](crate::NO_REGION).
    pub fn new(device: D, region: Option<SharedRegion>) -> Self {
        let client = region.and_then(split_region).and_then(|(s, c, data)| {
            Some(Client {
                submit: Consumer::from_region(s).ok()?,
                complete: Producer::from_region(c).ok()?,
                data,
            })
        });
        Self {
            device,
            client,
            slots: [None; MAX_SLOTS],
            in_flight: 0,
            held: None,
            lost: 0,
        }
    }

    /// The device.
    pub fn device(&mut self) -> &mut D {
        &mut self.device
    }

    /// Whether a client region is attached.
    pub fn has_region(&self) -> bool {
        self.client.is_some()
    }

    /// Completions dropped because the client's completion ring had no
    /// room (the client broke the protocol).
    pub fn lost(&self) -> u64 {
        self.lost
    }

    /// The most sectors one request may move: [`MAX_SECTORS`] or the data
    /// area, whichever is smaller; 0 without a region.
    pub fn max_sectors(&self) -> u64 {
        self.client.as_ref().map_or(0, Client::max_sectors)
    }

    /// Requests taken whose completion is not posted yet.
    pub fn outstanding(&self) -> u64 {
        (self.in_flight + usize::from(self.held.is_some())) as u64
    }

    /// Posts what the device finished, then takes and starts requests
    /// while the device has slots and the completion ring has room.
    fn pump(&mut self) {
        let Some(client) = self.client.as_mut() else {
            return;
        };
        while let Some((slot, ok)) = self.device.poll() {
            if let Some(id) = self.slots.get_mut(slot).and_then(Option::take) {
                self.in_flight -= 1;
                let status = if ok { OK } else { IO_ERROR };
                post(&mut client.complete, &mut self.lost, id, status);
            }
        }
        let capacity = self.device.capacity();
        let slots = self.device.slots().min(MAX_SLOTS);
        loop {
            let r = match self.held.take() {
                Some(r) => r,
                // Room for the completions of every request in the device
                // and this one.
                None if self.in_flight < client.complete.free() => match client.submit.try_pop() {
                    Some(r) => r,
                    None => break,
                },
                None => break,
            };
            let transfer = match client.check(capacity, &r) {
                Ok(Some(t)) => t,
                Ok(None) => {
                    post(&mut client.complete, &mut self.lost, r.id, OK);
                    continue;
                }
                Err(code) => {
                    post(&mut client.complete, &mut self.lost, r.id, code);
                    continue;
                }
            };
            let free = (0..slots).find(|&s| self.slots[s].is_none());
            let (Some(slot), false) = (free, transfer == Transfer::Flush && self.in_flight > 0)
            else {
                self.held = Some(r);
                break;
            };
            // SAFETY: the buffer lies in the data area (checked), which is
            // mapped for the program's lifetime; the server does not touch
            // the data area itself, and the client gave this part to the
            // server until the request's completion is posted.
            if unsafe { self.device.start(slot, transfer) } {
                self.slots[slot] = Some(r.id);
                self.in_flight += 1;
            } else {
                post(&mut client.complete, &mut self.lost, r.id, IO_ERROR);
            }
        }
    }

    /// Whether the completion ring holds a completion the client has not
    /// taken.
    fn completions_waiting(&mut self) -> bool {
        self.client
            .as_mut()
            .is_some_and(|c| c.complete.free() < c.complete.capacity())
    }
}

impl Client {
    /// The most sectors one request may move.
    fn max_sectors(&self) -> u64 {
        MAX_SECTORS.min((self.data.len() / SECTOR_SIZE) as u64)
    }

    /// Checks `r` against a disk of `capacity` sectors: the transfer it
    /// asks for, `None` for one that moves nothing, or why it is refused.
    fn check(&self, capacity: u64, r: &Request) -> Result<Option<Transfer>, Code> {
        let op = Op::from_raw(r.op).ok_or(BAD_OP)?;
        if op == Op::Flush {
            return Ok(Some(Transfer::Flush));
        }
        if !r.offset.is_multiple_of(SECTOR_SIZE as u64) {
            return Err(MISALIGNED);
        }
        let end = r
            .sector
            .checked_add(u64::from(r.count))
            .ok_or(OUT_OF_RANGE)?;
        if end > capacity {
            return Err(OUT_OF_RANGE);
        }
        if u64::from(r.count) > self.max_sectors() {
            return Err(TOO_LARGE);
        }
        let len = r.count as usize * SECTOR_SIZE;
        let offset = usize::try_from(r.offset).map_err(|_| TOO_LARGE)?;
        if offset
            .checked_add(len)
            .is_none_or(|end| end > self.data.len())
        {
            return Err(TOO_LARGE);
        }
        if len == 0 {
            return Ok(None);
        }
        // In bounds (checked just above), so the pointer stays inside the
        // data area.
        let start = NonNull::new(self.data.as_ptr().wrapping_add(offset)).ok_or(TOO_LARGE)?;
        let buf = NonNull::slice_from_raw_parts(start, len);
        let sector = r.sector;
        Ok(Some(match op {
            Op::Read => Transfer::Read { sector, buf },
            _ => Transfer::Write { sector, buf },
        }))
    }
}

/// Puts a completion in the ring; counts it in `lost` if there is no room.
fn post(ring: &mut Producer<Completion>, lost: &mut u64, id: u64, status: u64) {
    if ring.try_push(Completion { id, status }).is_err() {
        *lost += 1;
    }
}

impl<D: Device> Block for BlockServer<D> {
    fn info(&mut self, _caller: Caller) -> Result<Geometry, u64> {
        Ok(Geometry {
            sector_count: self.device.capacity(),
            sector_size: SECTOR_SIZE as u64,
            max_sectors: self.max_sectors(),
        })
    }

    fn submit(&mut self, _caller: Caller) -> Result<u64, u64> {
        if !self.has_region() {
            return Err(NO_REGION);
        }
        self.pump();
        Ok(self.outstanding())
    }

    fn wait(&mut self, _caller: Caller) -> Result<u64, u64> {
        if !self.has_region() {
            return Err(NO_REGION);
        }
        loop {
            self.pump();
            if self.outstanding() == 0 || self.completions_waiting() {
                return Ok(self.outstanding());
            }
            self.device.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Rings;
    use crate::testutil::{DATA_SECTORS, DISK_SECTORS, RamDevice, SLOTS, server};
    use crate::{BlockClient, COMPLETE_CAPACITY, SUBMIT_CAPACITY};
    use libcap::rpc::{Local, RpcError, Transport};
    use std::collections::HashMap;

    /// Pushes `requests`, waits until each has its completion; the
    /// statuses by id.
    fn run<T: Transport>(rings: &mut Rings<T>, requests: &[Request]) -> HashMap<u64, u64> {
        for r in requests {
            rings.push(*r).expect("room in the submission ring");
        }
        let mut done = HashMap::new();
        while done.len() < requests.len() {
            rings.wait().unwrap();
            while let Some(c) = rings.pop() {
                assert!(
                    done.insert(c.id, c.status).is_none(),
                    "{} completed twice",
                    c.id
                );
            }
        }
        done
    }

    #[test]
    fn info_reports_the_disk_and_the_largest_request() {
        let (local, _region, _ram) = server();
        let block = BlockClient::new(&local);
        assert_eq!(
            block.info(),
            Ok(Geometry {
                sector_count: DISK_SECTORS,
                sector_size: 512,
                max_sectors: DATA_SECTORS as u64,
            })
        );
    }

    #[test]
    fn several_writes_and_reads_in_flight_complete_out_of_order() {
        let (local, region, ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        // Eight one-sector writes of distinct patterns, all in the device
        // at once.
        for i in 0..8 {
            let sector = vec![i as u8 + 1; SECTOR_SIZE];
            assert!(rings.data().write_at(i * SECTOR_SIZE, &sector));
        }
        for i in 0..8 {
            let r = Request::write(100 + i, 10 + i, 1, i * SECTOR_SIZE as u64);
            rings.push(r).unwrap();
        }
        assert_eq!(rings.submit(), Ok(8), "all eight taken and in the device");
        assert_eq!(ram.borrow().in_flight, 8);
        let mut order = Vec::new();
        while order.len() < 8 {
            rings.wait().unwrap();
            while let Some(c) = rings.pop() {
                assert_eq!(c.status, OK);
                order.push(c.id);
            }
        }
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (100..108).collect::<Vec<_>>());
        assert_ne!(order, sorted, "the RAM disk completes out of order");
        // Read them back, into other offsets, in one batch.
        let reads: Vec<Request> = (0..8)
            .map(|i| Request::read(200 + i, 10 + i, 1, (8 + i) * SECTOR_SIZE as u64))
            .collect();
        assert!(run(&mut rings, &reads).values().all(|&s| s == OK));
        for i in 0..8 {
            let mut back = vec![0; SECTOR_SIZE];
            assert!(rings.data().read_at((8 + i) * SECTOR_SIZE, &mut back));
            assert!(back.iter().all(|&b| b == i as u8 + 1), "sector {}", 10 + i);
        }
        assert_eq!(ram.borrow().max_in_flight, 8);
    }

    #[test]
    fn bad_requests_get_error_completions() {
        let (local, region, _ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        let data = DATA_SECTORS as u64 * 512;
        let op = |op, id| Request {
            op,
            ..Request::read(id, 0, 1, 0)
        };
        let bad = [
            (op(0, 1), BAD_OP),
            (op(99, 2), BAD_OP),
            (Request::read(3, DISK_SECTORS, 1, 0), OUT_OF_RANGE),
            (Request::read(4, DISK_SECTORS - 4, 5, 0), OUT_OF_RANGE),
            (Request::write(5, u64::MAX, 2, 0), OUT_OF_RANGE),
            (Request::read(6, 0, 1, 100), MISALIGNED),
            (Request::write(7, 0, 1, 1), MISALIGNED),
            (Request::read(8, 0, DATA_SECTORS as u32 + 1, 0), TOO_LARGE),
            (Request::read(9, 0, 1, data), TOO_LARGE),
            (Request::write(10, 0, 2, data - 512), TOO_LARGE),
            (Request::read(11, 0, 1, u64::MAX - 511), TOO_LARGE),
            (Request::read(12, 0, u32::MAX, 0), OUT_OF_RANGE),
            (Request::read(13, 0, 0, 0), OK),
            (Request::flush(14), OK),
        ];
        let requests: Vec<Request> = bad.iter().map(|(r, _)| *r).collect();
        let done = run(&mut rings, &requests);
        for (r, status) in bad {
            assert_eq!(done[&r.id], status, "{r:?}");
        }
    }

    #[test]
    fn a_flush_waits_for_the_requests_before_it() {
        let (local, region, ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        for i in 0..4 {
            rings.push(Request::write(i, i, 1, 0)).unwrap();
        }
        rings.push(Request::flush(9)).unwrap();
        rings.push(Request::read(10, 0, 1, 512)).unwrap();
        // The writes start; the flush is held, and the read behind it.
        assert_eq!(rings.submit(), Ok(5));
        assert_eq!(ram.borrow().in_flight, 4);
        let mut order = Vec::new();
        while order.len() < 6 {
            rings.wait().unwrap();
            while let Some(c) = rings.pop() {
                assert_eq!(c.status, OK);
                order.push(c.id);
            }
        }
        let flush = order.iter().position(|&id| id == 9).unwrap();
        assert_eq!(flush, 4, "{order:?}");
        assert_eq!(ram.borrow().flushes_with_others_in_flight, 0);
    }

    #[test]
    fn more_requests_than_slots_wait_for_a_free_one() {
        let (local, region, ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        let requests: Vec<Request> = (0..SUBMIT_CAPACITY as u64)
            .map(|i| Request::read(i, i % DISK_SECTORS, 1, (i % DATA_SECTORS as u64) * 512))
            .collect();
        let done = run(&mut rings, &requests);
        assert_eq!(done.len(), SUBMIT_CAPACITY);
        assert!(done.values().all(|&s| s == OK));
        assert_eq!(ram.borrow().max_in_flight, SLOTS);
    }

    #[test]
    fn a_client_that_takes_no_completions_is_never_overrun() {
        let (local, region, _ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        let mut pushed = 0;
        // Offer far more requests than the completion ring holds without
        // taking any completion: the server stops taking requests.
        for _ in 0..4 * COMPLETE_CAPACITY {
            if rings.push(Request::read(pushed, 0, 1, 0)).is_ok() {
                pushed += 1;
            }
            rings.wait().unwrap();
        }
        assert!(pushed as usize > COMPLETE_CAPACITY);
        assert_eq!(local.state().lost(), 0);
        let mut taken = 0;
        loop {
            while rings.pop().is_some() {
                taken += 1;
            }
            if rings.wait() == Ok(0) && rings.all_taken() {
                break;
            }
        }
        while rings.pop().is_some() {
            taken += 1;
        }
        assert_eq!(taken, pushed);
        assert_eq!(local.state().lost(), 0);
    }

    #[test]
    fn a_failing_device_reports_io_errors() {
        let (local, region, ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        ram.borrow_mut().fail = Some(5);
        let done = run(
            &mut rings,
            &[Request::read(1, 5, 1, 0), Request::read(2, 4, 1, 512)],
        );
        assert_eq!(done[&1], IO_ERROR);
        assert_eq!(done[&2], OK);
    }

    #[test]
    fn random_requests_never_panic_and_each_gets_one_completion() {
        let (local, region, _ram) = server();
        let mut rings = Rings::new(BlockClient::new(&local), region).unwrap();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for batch in 0..200u64 {
            let n = 1 + next() % SUBMIT_CAPACITY as u64;
            let requests: Vec<Request> = (0..n)
                .map(|i| {
                    let pick = next();
                    Request {
                        id: batch << 32 | i,
                        op: (pick % 5) as u32,
                        count: match pick >> 8 & 3 {
                            0 => next() as u32,
                            _ => (next() % 9) as u32,
                        },
                        sector: match pick >> 16 & 3 {
                            0 => next(),
                            _ => next() % (DISK_SECTORS + 2),
                        },
                        offset: match pick >> 24 & 3 {
                            0 => next(),
                            1 => next() % (DATA_SECTORS as u64 * 512 + 1024),
                            _ => (next() % (DATA_SECTORS as u64 + 1)) * 512,
                        },
                    }
                })
                .collect();
            let done = run(&mut rings, &requests);
            assert_eq!(done.len(), requests.len());
            for r in &requests {
                assert!(done[&r.id] <= BAD_OP, "{r:?}: {}", done[&r.id]);
            }
        }
    }

    #[test]
    fn without_a_region_requests_fail() {
        let local = Local::new(
            BlockServer::new(RamDevice::new(4), None),
            BlockServer::rpc_dispatch,
        );
        let block = BlockClient::new(&local);
        assert_eq!(block.info().unwrap().max_sectors, 0);
        assert_eq!(block.submit(), Err(RpcError::Remote(NO_REGION)));
        assert_eq!(block.wait(), Err(RpcError::Remote(NO_REGION)));
        assert_eq!(
            libcap::rpc::ClientCore::new(&local).call(2, &mut libcap::rpc::Encoder::new()),
            Err(RpcError::Unsupported { method: 2 })
        );
    }
}
