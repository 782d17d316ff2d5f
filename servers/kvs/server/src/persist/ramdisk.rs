//! A RAM disk for tests that can cut the power.

extern crate std;

use super::{DeviceError, SECTOR, SectorDevice};
use alloc::vec;
use alloc::vec::Vec;

/// A disk in memory that remembers which writes were flushed, so a test
/// can cut the power: the durable image plus any subset of the sectors
/// written since the last flush.
#[derive(Clone, Debug)]
pub(crate) struct RamDisk {
    pub(crate) sectors: Vec<[u8; SECTOR]>,
    pub(crate) durable: Vec<[u8; SECTOR]>,
    /// Sectors written since the last flush, in order.
    pub(crate) pending: Vec<(u64, [u8; SECTOR])>,
    pub(crate) flushes: usize,
    pub(crate) fail: bool,
}

impl RamDisk {
    pub(crate) fn new(sectors: u64) -> Self {
        let zero = vec![[0u8; SECTOR]; sectors as usize];
        RamDisk {
            sectors: zero.clone(),
            durable: zero,
            pending: Vec::new(),
            flushes: 0,
            fail: false,
        }
    }

    /// The disk after a power cut in which the unflushed sector writes
    /// that `lands` picks reached the medium (in any order).
    pub(crate) fn power_cut(&self, mut lands: impl FnMut(usize) -> bool) -> RamDisk {
        let mut image = self.durable.clone();
        for (i, (sector, data)) in self.pending.iter().enumerate() {
            if lands(i) {
                image[*sector as usize] = *data;
            }
        }
        RamDisk {
            sectors: image.clone(),
            durable: image,
            pending: Vec::new(),
            flushes: 0,
            fail: false,
        }
    }
}

impl SectorDevice for RamDisk {
    fn sectors(&self) -> u64 {
        self.sectors.len() as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        for (i, chunk) in buf.chunks_mut(SECTOR).enumerate() {
            chunk.copy_from_slice(&self.sectors[sector as usize + i]);
        }
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        assert!(data.len().is_multiple_of(SECTOR) && !data.is_empty());
        assert!(sector as usize + data.len() / SECTOR <= self.sectors.len());
        if self.fail {
            return Err(DeviceError::Io);
        }
        for (i, chunk) in data.chunks(SECTOR).enumerate() {
            let s = sector + i as u64;
            let bytes: [u8; SECTOR] = chunk.try_into().unwrap();
            self.sectors[s as usize] = bytes;
            self.pending.push((s, bytes));
        }
        Ok(())
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        if self.fail {
            return Err(DeviceError::Io);
        }
        self.durable = self.sectors.clone();
        self.pending.clear();
        self.flushes += 1;
        Ok(())
    }
}
