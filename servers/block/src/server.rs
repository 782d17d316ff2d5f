//! The [`Block`](crate::Block) server: sector ranges between a client's
//! shared region and the disk, through a bounce buffer that the device can
//! reach (on Basalt, pages of the DMA region).
//!
//! Every request is checked before it touches the disk or the region: a
//! bad one gets an error code ([`OUT_OF_RANGE`](crate::OUT_OF_RANGE),
//! [`MISALIGNED`](crate::MISALIGNED), [`TOO_LARGE`](crate::TOO_LARGE),
//! [`NO_REGION`](crate::NO_REGION)), never a panic.

use crate::check::{Disk, SECTOR_SIZE};
use crate::{Block, Geometry, IO_ERROR, MISALIGNED, NO_REGION, OUT_OF_RANGE, TOO_LARGE};
use libcap::rpc::Caller;
use libcap::start::SharedRegion;

/// Serves [`Block`](crate::Block) for `disk`, with `bounce` as the
/// transfer buffer (a whole number of sectors; on Basalt it lies in the
/// DMA region so that the device uses it in place) and `region` as the
/// client's data.
#[derive(Debug)]
pub struct BlockServer<'b, D> {
    disk: D,
    bounce: &'b mut [u8],
    region: Option<SharedRegion>,
}

impl<'b, D: Disk> BlockServer<'b, D> {
    /// A server for `disk`. Requests fail with
    /// [`NO_REGION`](crate::NO_REGION) while `region` is `None`.
    pub fn new(disk: D, bounce: &'b mut [u8], region: Option<SharedRegion>) -> Self {
        let whole = bounce.len() / SECTOR_SIZE * SECTOR_SIZE;
        Self {
            disk,
            bounce: &mut bounce[..whole],
            region,
        }
    }

    /// The disk.
    pub fn disk(&mut self) -> &mut D {
        &mut self.disk
    }

    /// The most sectors one request may move: what fits in both the
    /// bounce buffer and the region.
    pub fn max_sectors(&self) -> u64 {
        let region = self.region.as_ref().map_or(0, SharedRegion::len);
        (self.bounce.len().min(region) / SECTOR_SIZE) as u64
    }

    /// Checks a request; the byte offset and length it moves.
    fn check(&self, sector: u64, count: u64, offset: u64) -> Result<(usize, usize), u64> {
        let region = self.region.as_ref().ok_or(NO_REGION)?;
        if !offset.is_multiple_of(SECTOR_SIZE as u64) {
            return Err(MISALIGNED);
        }
        let end = sector.checked_add(count).ok_or(OUT_OF_RANGE)?;
        if end > self.disk.capacity() {
            return Err(OUT_OF_RANGE);
        }
        let len = usize::try_from(count)
            .ok()
            .and_then(|c| c.checked_mul(SECTOR_SIZE))
            .filter(|&len| len <= self.bounce.len())
            .ok_or(TOO_LARGE)?;
        let offset = usize::try_from(offset).map_err(|_| TOO_LARGE)?;
        if offset.checked_add(len).is_none_or(|end| end > region.len()) {
            return Err(TOO_LARGE);
        }
        Ok((offset, len))
    }
}

impl<D: Disk> Block for BlockServer<'_, D> {
    fn info(&mut self, _caller: Caller) -> Result<Geometry, u64> {
        Ok(Geometry {
            sector_count: self.disk.capacity(),
            sector_size: SECTOR_SIZE as u64,
            max_sectors: self.max_sectors(),
        })
    }

    fn read(&mut self, _caller: Caller, sector: u64, count: u64, offset: u64) -> Result<(), u64> {
        let (offset, len) = self.check(sector, count, offset)?;
        if len == 0 {
            return Ok(());
        }
        let buf = &mut self.bounce[..len];
        self.disk.read(sector, buf).map_err(|_| IO_ERROR)?;
        let region = self.region.as_mut().ok_or(NO_REGION)?;
        if region.write_at(offset, buf) {
            Ok(())
        } else {
            Err(TOO_LARGE)
        }
    }

    fn write(&mut self, _caller: Caller, sector: u64, count: u64, offset: u64) -> Result<(), u64> {
        let (offset, len) = self.check(sector, count, offset)?;
        if len == 0 {
            return Ok(());
        }
        let buf = &mut self.bounce[..len];
        let region = self.region.as_ref().ok_or(NO_REGION)?;
        if !region.read_at(offset, buf) {
            return Err(TOO_LARGE);
        }
        self.disk.write(sector, buf).map_err(|_| IO_ERROR)
    }

    fn flush(&mut self, _caller: Caller) -> Result<(), u64> {
        self.disk.flush().map_err(|_| IO_ERROR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BlockClient;
    use crate::testutil::{Ram, server};
    use libcap::rpc::{Local, RpcError};

    #[test]
    fn info_write_read_and_flush() {
        let (local, mut region) = server();
        let block = BlockClient::new(&local);
        assert_eq!(
            block.info(),
            Ok(Geometry {
                sector_count: 64,
                sector_size: 512,
                max_sectors: 8
            })
        );
        let data: Vec<u8> = (0..4 * SECTOR_SIZE).map(|i| i as u8 ^ 0x33).collect();
        assert!(region.write_at(SECTOR_SIZE, &data));
        block.write(4, 4, SECTOR_SIZE as u64).unwrap();
        block.read(3, 6, 8 * SECTOR_SIZE as u64).unwrap();
        let mut back = vec![0xff; 6 * SECTOR_SIZE];
        assert!(region.read_at(8 * SECTOR_SIZE, &mut back));
        assert!(back[..SECTOR_SIZE].iter().all(|&b| b == 0));
        assert_eq!(&back[SECTOR_SIZE..5 * SECTOR_SIZE], &data[..]);
        assert!(back[5 * SECTOR_SIZE..].iter().all(|&b| b == 0));
        block.read(0, 1, 0).unwrap();
        let mut first = [0; 4];
        assert!(region.read_at(0, &mut first));
        assert_eq!(&first, b"BSLT");
        block.read(0, 0, 0).unwrap();
        block.flush().unwrap();
        assert!(!region.read_at(16 * SECTOR_SIZE - 1, &mut first));
        assert!(!region.write_at(usize::MAX, &first));
    }

    #[test]
    fn bad_requests_get_error_codes() {
        let (local, _region) = server();
        let block = BlockClient::new(&local);
        let remote = |code| Err(RpcError::Remote(code));
        assert_eq!(block.read(64, 1, 0), remote(OUT_OF_RANGE));
        assert_eq!(block.read(60, 5, 0), remote(OUT_OF_RANGE));
        assert_eq!(block.write(u64::MAX, 2, 0), remote(OUT_OF_RANGE));
        assert_eq!(block.read(0, u64::MAX, 0), remote(OUT_OF_RANGE));
        assert_eq!(block.read(0, 1, 100), remote(MISALIGNED));
        assert_eq!(block.write(0, 1, 1), remote(MISALIGNED));
        assert_eq!(block.read(0, 9, 0), remote(TOO_LARGE));
        assert_eq!(block.read(0, 1, 16 * SECTOR_SIZE as u64), remote(TOO_LARGE));
        assert_eq!(
            block.write(0, 2, 15 * SECTOR_SIZE as u64),
            remote(TOO_LARGE)
        );
        assert_eq!(block.read(0, 1, u64::MAX - 511), remote(TOO_LARGE));
        assert_eq!(
            libcap::rpc::ClientCore::new(&local).call(99, &mut libcap::rpc::Encoder::new()),
            Err(RpcError::Unsupported { method: 99 })
        );
    }

    #[test]
    fn without_a_region_requests_fail() {
        let bounce: &'static mut [u8] = Vec::leak(vec![0; SECTOR_SIZE]);
        let local = Local::new(
            BlockServer::new(Ram(vec![0; 4 * SECTOR_SIZE]), bounce, None),
            BlockServer::rpc_dispatch,
        );
        let block = BlockClient::new(&local);
        assert_eq!(block.info().unwrap().max_sectors, 0);
        assert_eq!(block.read(0, 1, 0), Err(RpcError::Remote(NO_REGION)));
        assert_eq!(block.write(0, 1, 0), Err(RpcError::Remote(NO_REGION)));
        assert_eq!(block.flush(), Ok(()));
    }
}
