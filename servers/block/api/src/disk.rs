//! [`Disk`]: the client side of the block server as a plain sector device —
//! read, write and flush of byte buffers at sector numbers — over the
//! rings in the region it shares with the server ([`Rings`]). A transfer
//! is cut into requests of at most [`CHUNK_SECTORS`] sectors that are all
//! in flight at once, as many as the data area holds; the wire's error
//! codes become [`DiskError`].
//!
//! This is the interface the kvs server's log uses; how the requests reach
//! the server is its business.
//!
//! ```
//! # fn demo<T: libcap::rpc::Transport>(mut disk: block_api::disk::Disk<T>) -> Result<(), block_api::disk::DiskError> {
//! let record = [0x42u8; 1024];
//! disk.write_and_flush(8, &record)?; // sectors 8-9, then a flush: one round trip
//! let mut back = [0u8; 1024];
//! disk.read(8, &mut back)?;
//! assert_eq!(back, record);
//! # Ok(())
//! # }
//! ```

use crate::client::Rings;
use crate::{
    BlockClient, Geometry, IO_ERROR, MISALIGNED, NO_REGION, OK, OUT_OF_RANGE, Request,
    SUBMIT_CAPACITY, TOO_LARGE,
};
use libcap::rpc::{RpcError, Transport};
use libcap::start::SharedRegion;

/// Bytes of a sector.
pub const SECTOR: usize = 512;

/// The most sectors [`Disk`] puts in one request (16 KiB): a larger
/// transfer becomes several requests in flight together.
pub const CHUNK_SECTORS: usize = 32;

/// Why a [`Disk`] operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskError {
    /// The sectors are not all on the disk.
    OutOfRange,
    /// A buffer that is not a whole number of sectors.
    PartialSector,
    /// The device failed the transfer.
    Io,
    /// The server or the region cannot move even one sector: the config
    /// gives the two no common region.
    NoRegion,
    /// The call itself failed (the server is gone, restarted, or answered
    /// something undecodable or inconsistent).
    Rpc(RpcError),
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DiskError::OutOfRange => f.write_str("sectors past the end of the disk"),
            DiskError::PartialSector => f.write_str("a buffer that is not whole sectors"),
            DiskError::Io => f.write_str("the device failed the transfer"),
            DiskError::NoRegion => {
                f.write_str("no data region shared with the block server (see docs/block.md)")
            }
            DiskError::Rpc(e) => write!(f, "the block server did not answer: {e:?}"),
        }
    }
}

impl DiskError {
    /// The error a completion's status or a call's error code stands for.
    fn from_code(code: u64) -> Self {
        match code {
            OUT_OF_RANGE => DiskError::OutOfRange,
            IO_ERROR => DiskError::Io,
            NO_REGION | MISALIGNED | TOO_LARGE => DiskError::NoRegion,
            code => DiskError::Rpc(RpcError::Remote(code)),
        }
    }
}

impl From<RpcError> for DiskError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::Remote(code) => DiskError::from_code(code),
            e => DiskError::Rpc(e),
        }
    }
}

/// A disk reached through the block server.
#[derive(Debug)]
pub struct Disk<T: Transport> {
    rings: Rings<T>,
    geometry: Geometry,
    /// Sectors per request.
    chunk: usize,
    /// Requests per batch: as many chunks as the data area holds, and
    /// room for a flush in the submission ring.
    batch: usize,
    next_id: u64,
}

impl<T: Transport> Disk<T> {
    /// Asks the server for the disk's geometry and attaches to the rings
    /// in `region`, the region the server was given (its argument
    /// `region`). Requests a previous user of the region left behind are
    /// completed and their completions dropped first.
    pub fn open(client: BlockClient<T>, region: SharedRegion) -> Result<Self, DiskError> {
        Self::from_rings(Rings::new(client, region).ok_or(DiskError::NoRegion)?)
    }

    /// [`open`](Self::open) on rings already attached.
    pub fn from_rings(mut rings: Rings<T>) -> Result<Self, DiskError> {
        let geometry = rings.block().info()?;
        let data_sectors = rings.data_len() / SECTOR;
        let chunk = usize::try_from(geometry.max_sectors)
            .unwrap_or(usize::MAX)
            .min(data_sectors)
            .min(CHUNK_SECTORS);
        if chunk == 0 {
            return Err(DiskError::NoRegion);
        }
        let batch = (data_sectors / chunk).min(SUBMIT_CAPACITY - 1);
        loop {
            while rings.pop().is_some() {}
            if rings.wait()? == 0 && rings.all_taken() {
                while rings.pop().is_some() {}
                break;
            }
        }
        Ok(Self {
            rings,
            geometry,
            chunk,
            batch,
            next_id: 1,
        })
    }

    /// The disk's size in sectors.
    pub fn sectors(&self) -> u64 {
        self.geometry.sector_count
    }

    /// Reads `buf.len() / 512` sectors from `sector` on into `buf`.
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.check(sector, buf.len())?;
        let per_batch = self.chunk * self.batch * SECTOR;
        for (b, part) in buf.chunks_mut(per_batch).enumerate() {
            let at = sector + (b * per_batch / SECTOR) as u64;
            self.run(part.len(), at, Request::read, false)?;
            if !self.rings.data().read_at(0, part) {
                return Err(DiskError::NoRegion);
            }
        }
        Ok(())
    }

    /// Writes `data` (whole sectors) from `sector` on; returns once the
    /// device has them, not necessarily durable: see
    /// [`flush`](Self::flush).
    pub fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DiskError> {
        self.write_batches(sector, data, false)
    }

    /// Writes `data` (whole sectors) from `sector` on and then flushes, in
    /// one batch where the data area holds it: returns once the data and
    /// everything written before are durable.
    pub fn write_and_flush(&mut self, sector: u64, data: &[u8]) -> Result<(), DiskError> {
        self.write_batches(sector, data, true)
    }

    /// Returns once everything written before is durable.
    pub fn flush(&mut self) -> Result<(), DiskError> {
        self.run(0, 0, Request::write, true)
    }

    fn write_batches(&mut self, sector: u64, data: &[u8], flush: bool) -> Result<(), DiskError> {
        self.check(sector, data.len())?;
        let per_batch = self.chunk * self.batch * SECTOR;
        let batches = data.len().div_ceil(per_batch);
        for (b, part) in data.chunks(per_batch).enumerate() {
            if !self.rings.data().write_at(0, part) {
                return Err(DiskError::NoRegion);
            }
            let at = sector + (b * per_batch / SECTOR) as u64;
            self.run(part.len(), at, Request::write, flush && b + 1 == batches)?;
        }
        if flush && batches == 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// Moves `len` bytes (whole sectors, at most a batch) between sector
    /// `sector` on and the start of the data area with requests made by
    /// `make` (`Request::read` or `Request::write`), then a flush if
    /// `flush`; returns once every one has completed, with the first
    /// error.
    fn run(
        &mut self,
        len: usize,
        sector: u64,
        make: fn(u64, u64, u32, u64) -> Request,
        flush: bool,
    ) -> Result<(), DiskError> {
        let first = self.next_id;
        let chunk_bytes = self.chunk * SECTOR;
        for (i, start) in (0..len).step_by(chunk_bytes).enumerate() {
            let count = (len - start).min(chunk_bytes) / SECTOR;
            let at = sector + (i * self.chunk) as u64;
            self.push(make(self.next_id, at, count as u32, start as u64))?;
        }
        if flush {
            self.push(Request::flush(self.next_id))?;
        }
        let ids = first..self.next_id;
        let mut left = ids.end - ids.start;
        let mut error = None;
        let mut take = |rings: &mut Rings<T>| {
            while let Some(c) = rings.pop() {
                if ids.contains(&c.id) {
                    left -= 1;
                    if c.status != OK {
                        error.get_or_insert(DiskError::from_code(c.status));
                    }
                }
            }
            left
        };
        while take(&mut self.rings) > 0 {
            let quiet = self.rings.wait()? == 0 && self.rings.all_taken();
            if take(&mut self.rings) > 0 && quiet {
                // Nothing outstanding, yet completions are missing: the
                // server dropped them.
                return Err(DiskError::Rpc(RpcError::BadMessage));
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// Pushes `r` with the next id. The ring has room: a batch is smaller
    /// than the ring, and the one before it has completed.
    fn push(&mut self, r: Request) -> Result<(), DiskError> {
        self.next_id += 1;
        self.rings
            .push(r)
            .map_err(|_| DiskError::Rpc(RpcError::BadMessage))
    }

    fn check(&self, sector: u64, len: usize) -> Result<(), DiskError> {
        if !len.is_multiple_of(SECTOR) {
            return Err(DiskError::PartialSector);
        }
        let end = sector
            .checked_add((len / SECTOR) as u64)
            .ok_or(DiskError::OutOfRange)?;
        if end > self.geometry.sector_count {
            return Err(DiskError::OutOfRange);
        }
        Ok(())
    }
}
