//! The start-up self-check: the disk's capacity, a known pattern written to
//! sectors 1 and 2 and read back, and the first bytes of sector 0.

use crate::SECTOR_SIZE;
use crate::server::{Device, Transfer};
use core::fmt;
use core::ptr::NonNull;
/// The first sector the check writes; it writes [`CHECK_SECTORS`].
pub const FIRST_CHECK_SECTOR: u64 = 1;
/// How many sectors the check writes and reads back.
pub const CHECK_SECTORS: usize = 2;

/// What the check needs of a disk: the virtio driver on Basalt, a RAM
/// disk in tests.
pub trait Disk {
    /// What a failed transfer reports.
    type Error: fmt::Debug;
    /// Sectors of [`SECTOR_SIZE`] bytes.
    fn capacity(&self) -> u64;
    /// Reads `buf.len() / SECTOR_SIZE` sectors from `sector` on.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Writes `buf.len() / SECTOR_SIZE` sectors from `sector` on.
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Self::Error>;
    /// Makes written sectors durable; does nothing unless implemented.
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A [`Device`] used one request at a time, waiting for each (the
/// self-check runs before the server takes requests).
#[derive(Debug)]
pub struct OneAtATime<'a, D>(pub &'a mut D);

/// A request the device refused to start, or that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed;

impl<D: Device> OneAtATime<'_, D> {
    /// Runs `transfer` in slot 0 and waits until it is done.
    ///
    /// # Safety
    ///
    /// As for [`Device::start`]; this returns only once the request is done.
    unsafe fn run(&mut self, transfer: Transfer) -> Result<(), Failed> {
        // SAFETY: the caller's contract; the loop below waits until the
        // device reports the slot done.
        if !unsafe { self.0.start(0, transfer) } {
            return Err(Failed);
        }
        loop {
            match self.0.poll() {
                Some((0, true)) => return Ok(()),
                Some((0, false)) => return Err(Failed),
                Some(_) => {}
                None => self.0.wait(),
            }
        }
    }
}

impl<D: Device> Disk for OneAtATime<'_, D> {
    type Error = Failed;
    fn capacity(&self) -> u64 {
        self.0.capacity()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Failed> {
        let buf = NonNull::from(buf);
        // SAFETY: `buf` is borrowed until `run` returns, which is after
        // the device is done with it.
        unsafe { self.run(Transfer::Read { sector, buf }) }
    }
    fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Failed> {
        // The device only reads it.
        let buf = NonNull::from(buf);
        // SAFETY: as in `read`.
        unsafe { self.run(Transfer::Write { sector, buf }) }
    }
    fn flush(&mut self) -> Result<(), Failed> {
        // SAFETY: no buffer.
        unsafe { self.run(Transfer::Flush) }
    }
}

pub use block_api::pattern;

/// What a passing check learned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Report {
    /// The disk's size in sectors.
    pub capacity: u64,
    /// The first 16 bytes of sector 0.
    pub sector0: [u8; 16],
}

/// Why the check failed.
#[derive(Debug)]
pub enum CheckError<E> {
    /// The disk is too small for the sectors the check writes.
    TooSmall(u64),
    /// The buffer is smaller than the sectors the check writes.
    BufferTooSmall(usize),
    /// Writing sectors 1-2 failed.
    Write(E),
    /// Reading sectors 1-2 back failed.
    ReadBack(E),
    /// The sectors read back differ from what was written: the first
    /// differing byte's offset, then the byte written and read.
    Mismatch {
        /// Offset from the start of sector 1.
        offset: usize,
        /// The byte written.
        wrote: u8,
        /// The byte read back.
        read: u8,
    },
    /// Reading sector 0 failed.
    ReadSector0(E),
}

/// Runs the check with `buf` (at least [`CHECK_SECTORS`] sectors) as the
/// transfer buffer.
///
/// ```
/// use block::check::{Disk, self_check};
/// struct Ram(Vec<u8>);
/// impl Disk for Ram {
///     type Error = ();
///     fn capacity(&self) -> u64 { (self.0.len() / 512) as u64 }
///     fn read(&mut self, s: u64, b: &mut [u8]) -> Result<(), ()> {
///         let at = s as usize * 512;
///         b.copy_from_slice(&self.0[at..at + b.len()]);
///         Ok(())
///     }
///     fn write(&mut self, s: u64, b: &[u8]) -> Result<(), ()> {
///         let at = s as usize * 512;
///         self.0[at..at + b.len()].copy_from_slice(b);
///         Ok(())
///     }
/// }
/// let mut disk = Ram(vec![0; 8 * 512]);
/// disk.0[..4].copy_from_slice(b"BSLT");
/// let report = self_check(&mut disk, &mut [0; 1024]).unwrap();
/// assert_eq!((report.capacity, &report.sector0[..4]), (8, &b"BSLT"[..]));
/// ```
pub fn self_check<D: Disk>(disk: &mut D, buf: &mut [u8]) -> Result<Report, CheckError<D::Error>> {
    let capacity = disk.capacity();
    let len = CHECK_SECTORS * SECTOR_SIZE;
    if capacity < FIRST_CHECK_SECTOR + CHECK_SECTORS as u64 {
        return Err(CheckError::TooSmall(capacity));
    }
    if buf.len() < len {
        return Err(CheckError::BufferTooSmall(buf.len()));
    }
    let buf = &mut buf[..len];
    let expected = |i: usize| {
        pattern(
            FIRST_CHECK_SECTOR + (i / SECTOR_SIZE) as u64,
            i % SECTOR_SIZE,
        )
    };
    for (i, b) in buf.iter_mut().enumerate() {
        *b = expected(i);
    }
    disk.write(FIRST_CHECK_SECTOR, buf)
        .map_err(CheckError::Write)?;
    buf.fill(0);
    disk.read(FIRST_CHECK_SECTOR, buf)
        .map_err(CheckError::ReadBack)?;
    if let Some(offset) = (0..len).find(|&i| buf[i] != expected(i)) {
        return Err(CheckError::Mismatch {
            offset,
            wrote: expected(offset),
            read: buf[offset],
        });
    }
    let sector0 = &mut buf[..SECTOR_SIZE];
    disk.read(0, sector0).map_err(CheckError::ReadSector0)?;
    let mut first = [0; 16];
    first.copy_from_slice(&sector0[..16]);
    Ok(Report {
        capacity,
        sector0: first,
    })
}

/// Bytes as lowercase hex pairs separated by spaces: `42 41 53`.
#[derive(Clone, Copy)]
pub struct Hex<'a>(pub &'a [u8]);

impl fmt::Display for Hex<'_> {
    /// ```
    /// assert_eq!(block::check::Hex(b"BAS").to_string(), "42 41 53");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A RAM disk that can drop writes or fail reads.
    struct Ram {
        bytes: Vec<u8>,
        drop_writes: bool,
        fail_reads: bool,
    }

    impl Ram {
        fn new(sectors: usize) -> Self {
            Self {
                bytes: vec![0; sectors * SECTOR_SIZE],
                drop_writes: false,
                fail_reads: false,
            }
        }
    }

    impl Disk for Ram {
        type Error = &'static str;
        fn capacity(&self) -> u64 {
            (self.bytes.len() / SECTOR_SIZE) as u64
        }
        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), Self::Error> {
            if self.fail_reads {
                return Err("io");
            }
            let at = sector as usize * SECTOR_SIZE;
            buf.copy_from_slice(&self.bytes[at..at + buf.len()]);
            Ok(())
        }
        fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), Self::Error> {
            if !self.drop_writes {
                let at = sector as usize * SECTOR_SIZE;
                self.bytes[at..at + buf.len()].copy_from_slice(buf);
            }
            Ok(())
        }
    }

    #[test]
    fn the_check_writes_the_pattern_and_reports_sector_0() {
        let mut disk = Ram::new(16);
        disk.bytes[..16].copy_from_slice(b"BASALT-BLOCKTEST");
        let report = self_check(&mut disk, &mut [0; 2048]).unwrap();
        assert_eq!(report.capacity, 16);
        assert_eq!(&report.sector0, b"BASALT-BLOCKTEST");
        assert_eq!(disk.bytes[SECTOR_SIZE], pattern(1, 0));
        assert_eq!(disk.bytes[2 * SECTOR_SIZE + 5], pattern(2, 5));
        assert_eq!(
            Hex(&report.sector0).to_string(),
            "42 41 53 41 4c 54 2d 42 4c 4f 43 4b 54 45 53 54"
        );
    }

    #[test]
    fn the_check_runs_on_a_device_one_request_at_a_time() {
        let mut device = crate::testutil::RamDevice::new(8);
        device.0.borrow_mut().disk[..4].copy_from_slice(b"BSLT");
        let report = self_check(&mut OneAtATime(&mut device), &mut [0; 1024]).unwrap();
        assert_eq!(&report.sector0[..4], b"BSLT");
        assert_eq!(device.0.borrow().disk[SECTOR_SIZE], pattern(1, 0));
        assert_eq!(device.0.borrow().max_in_flight, 1);
        device.0.borrow_mut().fail = Some(2);
        assert!(matches!(
            self_check(&mut OneAtATime(&mut device), &mut [0; 1024]),
            Err(CheckError::Write(Failed))
        ));
    }

    #[test]
    fn lost_writes_small_disks_and_read_errors_fail_it() {
        let mut disk = Ram::new(16);
        disk.drop_writes = true;
        assert!(matches!(
            self_check(&mut disk, &mut [0; 1024]),
            Err(CheckError::Mismatch { offset: 0, .. })
        ));
        assert!(matches!(
            self_check(&mut Ram::new(2), &mut [0; 1024]),
            Err(CheckError::TooSmall(2))
        ));
        let mut disk = Ram::new(16);
        disk.fail_reads = true;
        assert!(matches!(
            self_check(&mut disk, &mut [0; 1024]),
            Err(CheckError::ReadBack("io"))
        ));
        assert!(matches!(
            self_check(&mut Ram::new(16), &mut [0; 100]),
            Err(CheckError::BufferTooSmall(100))
        ));
    }
}
