//! [`Disk`]: the client side of the block server as a plain sector device —
//! read, write and flush of byte buffers at sector numbers — over a
//! [`BlockClient`] and the shared region the data moves through. It splits
//! transfers that are larger than the server's limit or the region, and
//! turns the wire's error codes into [`DiskError`].
//!
//! This is the interface the kvs server's log uses; how the requests reach
//! the server (calls today) is its business.

use crate::{BlockClient, Geometry, IO_ERROR, MISALIGNED, NO_REGION, OUT_OF_RANGE, TOO_LARGE};
use libcap::rpc::{RpcError, Transport};
use libcap::start::SharedRegion;

/// Bytes of a sector.
pub const SECTOR: usize = 512;

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
    /// something undecodable).
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

impl From<RpcError> for DiskError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::Remote(OUT_OF_RANGE) => DiskError::OutOfRange,
            RpcError::Remote(IO_ERROR) => DiskError::Io,
            RpcError::Remote(NO_REGION | MISALIGNED | TOO_LARGE) => DiskError::NoRegion,
            e => DiskError::Rpc(e),
        }
    }
}

/// A disk reached through the block server.
#[derive(Debug)]
pub struct Disk<T: Transport> {
    client: BlockClient<T>,
    region: SharedRegion,
    geometry: Geometry,
    /// Sectors per request: the server's limit and the region's size.
    chunk: usize,
}

impl<T: Transport> Disk<T> {
    /// Asks the server for the disk's geometry; `region` is the data
    /// region the server was given (its argument `region`).
    pub fn open(client: BlockClient<T>, region: SharedRegion) -> Result<Self, DiskError> {
        let geometry = client.info()?;
        let chunk = usize::try_from(geometry.max_sectors)
            .unwrap_or(usize::MAX)
            .min(region.len() / SECTOR);
        if chunk == 0 {
            return Err(DiskError::NoRegion);
        }
        Ok(Self {
            client,
            region,
            geometry,
            chunk,
        })
    }

    /// The disk's size in sectors.
    pub fn sectors(&self) -> u64 {
        self.geometry.sector_count
    }

    /// Reads `buf.len() / 512` sectors from `sector` on into `buf`.
    pub fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DiskError> {
        self.check(sector, buf.len())?;
        for (i, part) in buf.chunks_mut(self.chunk * SECTOR).enumerate() {
            let at = sector + (i * self.chunk) as u64;
            self.client.read(at, (part.len() / SECTOR) as u64, 0)?;
            if !self.region.read_at(0, part) {
                return Err(DiskError::NoRegion);
            }
        }
        Ok(())
    }

    /// Writes `data` (whole sectors) from `sector` on. The sectors are on
    /// the device, not necessarily durable: see [`flush`](Self::flush).
    pub fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DiskError> {
        self.check(sector, data.len())?;
        for (i, part) in data.chunks(self.chunk * SECTOR).enumerate() {
            let at = sector + (i * self.chunk) as u64;
            if !self.region.write_at(0, part) {
                return Err(DiskError::NoRegion);
            }
            self.client.write(at, (part.len() / SECTOR) as u64, 0)?;
        }
        Ok(())
    }

    /// Returns once everything written before is durable.
    pub fn flush(&mut self) -> Result<(), DiskError> {
        Ok(self.client.flush()?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::server;

    #[test]
    fn transfers_larger_than_a_request_are_split() {
        let (local, region) = server();
        let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
        assert_eq!(disk.sectors(), 64);
        // 20 sectors: three requests of at most 8 (the bounce buffer).
        let data: Vec<u8> = (0..20 * SECTOR).map(|i| (i / 7) as u8).collect();
        disk.write(30, &data).unwrap();
        disk.flush().unwrap();
        let mut back = vec![0; 22 * SECTOR];
        disk.read(29, &mut back).unwrap();
        assert!(back[..SECTOR].iter().all(|&b| b == 0));
        assert_eq!(&back[SECTOR..21 * SECTOR], &data[..]);
        assert!(back[21 * SECTOR..].iter().all(|&b| b == 0));
    }

    #[test]
    fn bad_requests_fail_before_reaching_the_server() {
        let (local, region) = server();
        let mut disk = Disk::open(BlockClient::new(&local), region).unwrap();
        assert_eq!(disk.write(0, &[1; 100]), Err(DiskError::PartialSector));
        assert_eq!(disk.read(63, &mut [0; 1024]), Err(DiskError::OutOfRange));
        assert_eq!(
            disk.read(u64::MAX, &mut [0; 512]),
            Err(DiskError::OutOfRange)
        );
        assert_eq!(disk.write(64, &[]), Ok(()));
    }
}
