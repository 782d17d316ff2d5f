//! Persistence: the append-only log ([`kvs_core::aof`]) on a sector
//! device, replayed at start, written after every change, flushed as the
//! fsync policy says, and compacted when it grows.
//!
//! # Disk layout
//!
//! | sectors | what |
//! | --- | --- |
//! | 0 and 1 | two copies of the [`Superblock`], written alternately |
//! | 2 .. 2 + H | log area 0 |
//! | 2 + H .. 2 + 2H | log area 1 |
//!
//! `H = (sectors − 2) / 2` when the disk is formatted. The superblock with
//! the highest sequence number whose checksum holds says which area holds
//! the live log and the log's salt (the seed of every record's checksum).
//! A log is a run of records from its area's first byte; it ends where the
//! next bytes are not a valid record of that salt. Every write of the log
//! carries zeros from the log's end to the end of its last sector (and a
//! whole zero sector when the end falls on a sector boundary), so a clean
//! end reads as a zero byte; anything else there is a torn or corrupt tail.
//!
//! **Compaction** writes the live data set ([`kvs_core::rewrite`]) into
//! the other area with a new salt, flushes, then writes the next
//! superblock and flushes again. A power cut before that last write leaves
//! the old superblock and the old log in force; after it, the new ones. No
//! sector of the live log is written except at its end.
//!
//! **Recovery.** At start the live log is replayed. A torn or corrupt tail
//! (a power cut while records that were never acknowledged under
//! `always` were being written) is reported and dropped by compacting at
//! once, so the new log starts under a new salt and no stale record past
//! the old end can ever pass as valid.
//!
//! Rewriting the last, partly filled sector of the log assumes that the
//! device writes a sector entirely or not at all, as disks (and QEMU's
//! virtio-blk) do.

use alloc::vec::Vec;
use core::fmt;

use kvs_core::aof::{self, Marks, Replayer, Stop, Tag, crc32c};
use kvs_core::{AofWriter, Reply, Session, Store};

/// Bytes of a sector.
pub const SECTOR: usize = 512;
/// What the superblock starts with.
pub const MAGIC: &[u8; 8] = b"BASALTKV";
/// The disk format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// The smallest disk: the superblocks and two 16-sector log areas.
pub const MIN_SECTORS: u64 = 2 + 2 * 16;
/// How much of the log is read at a time during replay.
const READ_CHUNK: usize = 64 * 1024;
/// Keys a compaction copies after each change while it is under way.
pub const COMPACTION_STEP: usize = 64;
/// A log smaller than this is never compacted for its size alone.
pub const MIN_REWRITE_BYTES: u64 = 1 << 20;

/// A disk as the log sees it (on Basalt, `block_api::disk::Disk`).
pub trait SectorDevice: fmt::Debug {
    /// The disk's size in sectors.
    fn sectors(&self) -> u64;
    /// Reads `buf.len() / 512` sectors from `sector` on.
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError>;
    /// Writes whole sectors from `sector` on.
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError>;
    /// Returns once everything written before is durable.
    fn flush(&mut self) -> Result<(), DeviceError>;
    /// Writes, then flushes: returns once `data` and everything written
    /// before are durable. A device that can do both in one request
    /// (the block server) says so here.
    fn write_durable(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        self.write(sector, data)?;
        self.flush()
    }
}

/// A device behind a pointer is the device: `Box<dyn SectorDevice>` (what
/// the server keeps), `&mut D` (a device lent for a while).
macro_rules! forward_device {
    ($($pointer:ty),*) => {$(
        impl<D: SectorDevice + ?Sized> SectorDevice for $pointer {
            fn sectors(&self) -> u64 {
                (**self).sectors()
            }
            fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
                (**self).read(sector, buf)
            }
            fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
                (**self).write(sector, data)
            }
            fn flush(&mut self) -> Result<(), DeviceError> {
                (**self).flush()
            }
            fn write_durable(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
                (**self).write_durable(sector, data)
            }
        }
    )*};
}

forward_device!(alloc::boxed::Box<D>, &mut D);

/// The block server's disk.
impl<T: libcap::rpc::Transport + fmt::Debug> SectorDevice for block_api::disk::Disk<T> {
    fn sectors(&self) -> u64 {
        block_api::disk::Disk::sectors(self)
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        block_api::disk::Disk::read(self, sector, buf).map_err(DeviceError::from)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        block_api::disk::Disk::write(self, sector, data).map_err(DeviceError::from)
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        block_api::disk::Disk::flush(self).map_err(DeviceError::from)
    }
    fn write_durable(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        block_api::disk::Disk::write_and_flush(self, sector, data).map_err(DeviceError::from)
    }
}

impl From<block_api::disk::DiskError> for DeviceError {
    fn from(e: block_api::disk::DiskError) -> Self {
        match e {
            block_api::disk::DiskError::Io => DeviceError::Io,
            // The log only asks for whole sectors inside the disk: any
            // other answer means the server is not doing its job.
            _ => DeviceError::Unreachable,
        }
    }
}

/// A device operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceError {
    /// The device reported an error.
    Io,
    /// The block server cannot be reached (or answered nonsense).
    Unreachable,
}

/// When the log is flushed to durable storage, as Redis's `appendfsync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// Before the reply to every change: an acknowledged write survives a
    /// power cut.
    Always,
    /// At most once a second (checked when a change comes in): a power cut
    /// loses at most the last second or so of acknowledged writes.
    EverySec,
    /// Never explicitly: the device decides.
    No,
}

impl Fsync {
    /// Its name in the config (and in Redis).
    pub fn name(self) -> &'static str {
        match self {
            Fsync::Always => "always",
            Fsync::EverySec => "everysec",
            Fsync::No => "no",
        }
    }
}

/// Why the log cannot be opened or written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The device failed.
    Device(DeviceError),
    /// The disk has fewer than [`MIN_SECTORS`] sectors.
    TooSmall(u64),
    /// The disk holds a kvs log of another format version.
    UnsupportedVersion(u32),
    /// The disk holds something other than a kvs log (its first bytes):
    /// the server refuses to overwrite it.
    NotALog([u8; 16]),
    /// The disk is smaller than the log areas its superblock describes.
    Shrunk {
        /// Sectors the superblock's areas need.
        needs: u64,
        /// Sectors the disk has.
        has: u64,
    },
    /// The live data set does not fit in a log area.
    Full,
}

impl From<DeviceError> for LogError {
    fn from(e: DeviceError) -> Self {
        LogError::Device(e)
    }
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::Device(DeviceError::Io) => f.write_str("the disk reported an I/O error"),
            LogError::Device(DeviceError::Unreachable) => {
                f.write_str("the block server does not answer")
            }
            LogError::TooSmall(n) => write!(
                f,
                "the disk has {n} sectors; the log needs at least {MIN_SECTORS}"
            ),
            LogError::UnsupportedVersion(v) => write!(
                f,
                "the disk holds a kvs log of format {v}; this kvs reads format {FORMAT_VERSION}"
            ),
            LogError::NotALog(first) => write!(
                f,
                "the disk holds something else (it starts {first:02x?}); give kvs an empty disk"
            ),
            LogError::Shrunk { needs, has } => write!(
                f,
                "the disk has {has} sectors but its log areas need {needs}: restore the disk's size"
            ),
            LogError::Full => f.write_str("the data set does not fit on the disk"),
        }
    }
}

/// The disk's header: which log area is live, and its salt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Superblock {
    /// Counts up with every superblock written; the highest valid one is
    /// in force. Copy `sequence % 2` lives in sector `sequence % 2`.
    pub sequence: u64,
    /// The live log's salt.
    pub salt: u32,
    /// The live log's area, 0 or 1.
    pub area: u8,
    /// Sectors per log area.
    pub area_sectors: u64,
}

impl Superblock {
    /// The sector image: magic, version, sequence, salt, area, area size,
    /// CRC-32C of what precedes it (all little-endian), zeros.
    pub fn encode(&self) -> [u8; SECTOR] {
        let mut s = [0u8; SECTOR];
        s[..8].copy_from_slice(MAGIC);
        s[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        s[16..24].copy_from_slice(&self.sequence.to_le_bytes());
        s[24..28].copy_from_slice(&self.salt.to_le_bytes());
        s[28] = self.area;
        s[32..40].copy_from_slice(&self.area_sectors.to_le_bytes());
        let crc = crc32c(0, &s[..40]);
        s[40..44].copy_from_slice(&crc.to_le_bytes());
        s
    }

    /// Reads a sector image: `Ok(None)` if it is not a valid superblock
    /// of this format (never written, or torn), an error for another
    /// format's.
    pub fn decode(s: &[u8; SECTOR]) -> Result<Option<Superblock>, LogError> {
        if &s[..8] != MAGIC {
            return Ok(None);
        }
        let word = |at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4 bytes"));
        let long = |at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8 bytes"));
        if crc32c(0, &s[..40]) != word(40) {
            return Ok(None);
        }
        if word(8) != FORMAT_VERSION {
            return Err(LogError::UnsupportedVersion(word(8)));
        }
        if s[28] > 1 {
            return Ok(None);
        }
        Ok(Some(Superblock {
            sequence: long(16),
            salt: word(24),
            area: s[28],
            area_sectors: long(32),
        }))
    }

    /// The first sector of log area `area`.
    fn area_start(&self, area: u8) -> u64 {
        2 + u64::from(area) * self.area_sectors
    }
}

/// What [`Log::open`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenReport {
    /// The disk held no log and was formatted.
    pub formatted: bool,
    /// Records replayed.
    pub records: usize,
    /// Bytes of valid log replayed.
    pub bytes: u64,
    /// A torn or corrupt tail followed them (dropped by compacting).
    pub torn_tail: bool,
    /// The time of the last record replayed (0 if none).
    pub last_time_ms: u64,
}

/// The log on a device: where it ends, the bytes of its last partial
/// sector, and the records not yet written.
#[derive(Debug)]
pub struct Log<D> {
    device: D,
    superblock: Superblock,
    /// Bytes of log in the live area.
    end: u64,
    /// The log's bytes from the start of the sector holding `end` to `end`.
    tail: Vec<u8>,
    /// The log's size after the last compaction (or at open).
    base: u64,
    /// A write reached the device since the last flush.
    unflushed: bool,
    /// Picks salts: a seed mixed with the sequence number.
    seed: u64,
    /// The compaction under way.
    rewrite: Option<Rewrite>,
    /// The marks replay found, until [`Persistence::new`] takes them.
    replayed: Marks,
}

impl<D: SectorDevice> Log<D> {
    /// Opens the log on `device` and replays it into `store` (which
    /// should be empty); formats an all-zero disk. `seed` varies from
    /// boot to boot (it picks new salts).
    pub fn open(
        mut device: D,
        store: &mut Store,
        seed: u64,
    ) -> Result<(Self, OpenReport), LogError> {
        let sectors = device.sectors();
        if sectors < MIN_SECTORS {
            return Err(LogError::TooSmall(sectors));
        }
        let mut head = [0u8; 2 * SECTOR];
        device.read(0, &mut head)?;
        let copies = [
            Superblock::decode(head[..SECTOR].try_into().expect("a sector"))?,
            Superblock::decode(head[SECTOR..].try_into().expect("a sector"))?,
        ];
        let current = copies.into_iter().flatten().max_by_key(|s| s.sequence);
        let mut report = OpenReport {
            formatted: false,
            records: 0,
            bytes: 0,
            torn_tail: false,
            last_time_ms: 0,
        };
        let superblock = match current {
            Some(s) => s,
            None if head.iter().all(|&b| b == 0) => {
                report.formatted = true;
                let s = Superblock {
                    sequence: 1,
                    salt: salt_for(seed, 1),
                    area: 0,
                    area_sectors: (sectors - 2) / 2,
                };
                device.write(s.area_start(0), &[0; SECTOR])?;
                device.flush()?;
                device.write(1, &s.encode())?;
                device.flush()?;
                s
            }
            None => {
                return Err(LogError::NotALog(head[..16].try_into().expect("16 bytes")));
            }
        };
        let needs = 2 + 2 * superblock.area_sectors;
        if needs > sectors || superblock.area_sectors < 16 {
            return Err(LogError::Shrunk {
                needs,
                has: sectors,
            });
        }
        let mut log = Log {
            device,
            superblock,
            end: 0,
            tail: Vec::new(),
            base: 0,
            unflushed: false,
            seed,
            rewrite: None,
            replayed: Marks::new(),
        };
        let (end, torn, mut replayer) = log.replay(store)?;
        let marks = core::mem::take(&mut replayer.marks);
        report.records = replayer.records;
        report.bytes = end;
        report.torn_tail = torn;
        report.last_time_ms = replayer.last_time_ms;
        log.end = end;
        log.base = end;
        if torn {
            log.compact(store, &marks, replayer.last_time_ms)?;
        } else if !end.is_multiple_of(SECTOR as u64) {
            let sector = end / SECTOR as u64;
            let mut buf = [0u8; SECTOR];
            log.device.read(
                log.superblock.area_start(log.superblock.area) + sector,
                &mut buf,
            )?;
            log.tail = buf[..(end % SECTOR as u64) as usize].to_vec();
        }
        log.replayed = marks;
        Ok((log, report))
    }

    /// Replays the live area into `store`: where the valid log ends,
    /// whether something other than the clean end follows, the replayer.
    fn replay(&mut self, store: &mut Store) -> Result<(u64, bool, Replayer), LogError> {
        let sb = self.superblock;
        let area_bytes = sb.area_sectors * SECTOR as u64;
        let mut replayer = Replayer::new(sb.salt);
        let mut buf: Vec<u8> = Vec::new();
        let mut consumed = 0u64;
        let mut read = 0u64;
        loop {
            let (used, stop) = replayer.apply(store, &buf);
            buf.drain(..used);
            consumed += used as u64;
            let more = read < area_bytes;
            match stop {
                Stop::Corrupt => {
                    // A zero where the next record would start is the clean end.
                    return Ok((consumed, buf[0] != 0, replayer));
                }
                Stop::End | Stop::Incomplete if more => {
                    let n = (area_bytes - read).min(READ_CHUNK as u64) as usize;
                    let at = buf.len();
                    buf.resize(at + n, 0);
                    self.device.read(
                        sb.area_start(sb.area) + read / SECTOR as u64,
                        &mut buf[at..],
                    )?;
                    read += n as u64;
                }
                // The area is full to its last byte, or ends in a torn record.
                Stop::End => return Ok((consumed, false, replayer)),
                Stop::Incomplete => return Ok((consumed, true, replayer)),
            }
        }
    }

    /// Takes the marks replay found: which call of each client its last
    /// tagged record came from (see [`kvs_core::aof::Tag`]).
    pub fn take_marks(&mut self) -> Marks {
        core::mem::take(&mut self.replayed)
    }

    /// The superblock in force.
    pub fn superblock(&self) -> Superblock {
        self.superblock
    }

    /// Bytes of log in the live area.
    pub fn len(&self) -> u64 {
        self.end
    }

    /// Whether the live log holds no record.
    pub fn is_empty(&self) -> bool {
        self.end == 0
    }

    /// Bytes a log area holds.
    pub fn capacity(&self) -> u64 {
        self.superblock.area_sectors * SECTOR as u64
    }

    /// Whether the log has grown enough to be worth compacting: past
    /// [`MIN_REWRITE_BYTES`] and twice its size after the last compaction
    /// (Redis's `auto-aof-rewrite-percentage 100`), or past three quarters
    /// of its area.
    pub fn wants_compaction(&self) -> bool {
        (self.end >= MIN_REWRITE_BYTES && self.end >= 2 * self.base)
            || self.end >= self.capacity() / 4 * 3
    }

    /// Appends `records` (encoded with the live salt) at the log's end.
    /// Fails with [`LogError::Full`] if they do not fit in the area;
    /// nothing is written then.
    pub fn append(&mut self, records: &[u8]) -> Result<(), LogError> {
        self.write_records(records, false)
    }

    /// [`append`](Self::append), then [`flush`](Self::flush), in one
    /// device request where the device can.
    pub fn append_durable(&mut self, records: &[u8]) -> Result<(), LogError> {
        self.write_records(records, true)
    }

    fn write_records(&mut self, records: &[u8], durable: bool) -> Result<(), LogError> {
        if records.is_empty() {
            return Ok(());
        }
        let new_end = self.end + records.len() as u64;
        if !fits(new_end, self.capacity()) {
            return Err(LogError::Full);
        }
        let first = self.end / SECTOR as u64;
        let mut data = core::mem::take(&mut self.tail);
        data.extend_from_slice(records);
        let tail_len = data.len() % SECTOR;
        let tail_start = data.len() - tail_len;
        let padded = if new_end == self.capacity() {
            data.len()
        } else {
            tail_start + SECTOR
        };
        data.resize(padded, 0);
        let start = self.superblock.area_start(self.superblock.area);
        let written = if durable {
            self.device.write_durable(start + first, &data)
        } else {
            self.device.write(start + first, &data)
        };
        // Whatever happened, the tail in memory is the log's (what a retry
        // rewrites); the end moves only if the write went through.
        if written.is_ok() {
            self.tail = data[tail_start..tail_start + tail_len].to_vec();
            self.end = new_end;
            self.unflushed = !durable;
        } else {
            data.truncate(self.end as usize % SECTOR);
            self.tail = data;
        }
        Ok(written?)
    }

    /// Makes everything appended durable.
    pub fn flush(&mut self) -> Result<(), LogError> {
        if self.unflushed {
            self.device.flush()?;
            self.unflushed = false;
        }
        Ok(())
    }

    /// Whether something appended is not known to be durable.
    pub fn unflushed(&self) -> bool {
        self.unflushed
    }

    /// Bytes of memory its buffers hold: the unwritten tail and, during a
    /// compaction, the key names still to copy and the new log's image
    /// (about: key names are counted as they were at the start).
    pub fn buffered(&self) -> usize {
        let rewrite = self.rewrite.as_ref().map_or(0, |rw| {
            let share = rw.key_bytes as u128 * rw.keys.len() as u128 / rw.key_count.max(1) as u128;
            share as usize + rw.image.capacity()
        });
        self.tail.capacity() + rewrite
    }

    /// Whether a compaction is under way.
    pub fn compacting(&self) -> bool {
        self.rewrite.is_some()
    }

    /// Starts a compaction: a new log in the other area under a new salt
    /// (returned), to which [`compaction_step`](Self::compaction_step)
    /// copies the keys `store` holds now, a few at a time, and the caller
    /// makes it follow the changes made meanwhile (their records, and the
    /// keys they touched to [`requeue`](Self::requeue): see
    /// [`kvs_core::AofWriter::shadow`]). A compaction under way goes on.
    pub fn start_compaction(&mut self, store: &Store) -> u32 {
        let old = self.superblock;
        let rewrite = self.rewrite.get_or_insert_with(|| {
            let keys = aof::keys(store);
            let key_bytes = keys
                .iter()
                .map(|(_, k)| k.capacity() + core::mem::size_of::<(usize, Vec<u8>)>())
                .sum();
            Rewrite {
                next: Superblock {
                    sequence: old.sequence + 1,
                    salt: salt_for(self.seed, old.sequence + 1),
                    area: 1 - old.area,
                    area_sectors: old.area_sectors,
                },
                key_count: keys.len(),
                key_bytes,
                keys,
                recopy: Vec::new(),
                written: 0,
                image: Vec::new(),
                functions: true,
            }
        });
        rewrite.next.salt
    }

    /// Copies `keys` again at the next step, before the keys still to copy
    /// (keys changes touched, after those changes' records: see
    /// `kvs_core::AofWriter::shadow`); nothing without a compaction.
    pub fn requeue(&mut self, keys: Vec<(usize, Vec<u8>)>) {
        if let Some(rw) = self.rewrite.as_mut() {
            rw.recopy.extend(keys);
        }
    }

    /// Copies the requeued keys and up to `budget` more keys of `store`
    /// into the new log, after `changes` (the records of the changes made
    /// since the last step);
    /// once every key is copied, restates `marks` (the calls the log's
    /// tags tell of) and installs the new log (see the module
    /// documentation) and returns `true`. Fails with [`LogError::Full`]
    /// (and drops the compaction) if the new log outgrows its area.
    pub fn compaction_step(
        &mut self,
        store: &Store,
        changes: &[u8],
        marks: &Marks,
        budget: usize,
        now_ms: u64,
    ) -> Result<bool, LogError> {
        let capacity = self.capacity();
        let Some(rw) = self.rewrite.as_mut() else {
            return Ok(false);
        };
        if core::mem::take(&mut rw.functions) {
            aof::functions_record(&mut rw.image, rw.next.salt, store, now_ms, false);
        }
        rw.image.extend_from_slice(changes);
        let start = rw.next.area_start(rw.next.area);
        let (salt, device) = (rw.next.salt, &mut self.device);
        let (image, written) = (&mut rw.image, &mut rw.written);
        // A large key's records go to the device as they are made: the
        // image in memory stays about a chunk and a record.
        let mut failed = None;
        let mut spill = |image: &mut Vec<u8>| {
            if failed.is_none() && image.len() >= READ_CHUNK {
                let whole = image.len() / SECTOR * SECTOR;
                let at = start + *written / SECTOR as u64;
                if !fits(*written + whole as u64, capacity) {
                    failed = Some(LogError::Full);
                } else if let Err(e) = device.write(at, &image[..whole]) {
                    failed = Some(e.into());
                } else {
                    image.drain(..whole);
                    *written += whole as u64;
                }
            }
            if failed.is_some() {
                // The compaction is dropped: what the rest of a large key
                // makes goes nowhere, rather than piling up in memory (a
                // whole copy of the key, where the heap may have no room
                // for one).
                image.clear();
            }
        };
        // Keys changes touched first (after the changes' records), then
        // up to `budget` keys, and no more once a chunk is ready to go.
        while let Some((db, key)) = rw.recopy.pop() {
            aof::recopy_record(image, salt, store, db, &key, now_ms, &mut spill);
        }
        for _ in 0..budget {
            if image.len() >= READ_CHUNK {
                break;
            }
            let Some((db, key)) = rw.keys.pop() else {
                break;
            };
            aof::effect_record(image, salt, store, db, &key, now_ms, &mut spill);
        }
        if rw.keys.is_empty() {
            // The new log tells of the calls the old one did.
            aof::encode_marks(image, salt, now_ms, marks);
        }
        if let Some(e) = failed {
            self.rewrite = None;
            return Err(e);
        }
        let len = rw.written + rw.image.len() as u64;
        if !fits(len, capacity) {
            self.rewrite = None;
            return Err(LogError::Full);
        }
        let done = rw.keys.is_empty();
        if done || rw.image.len() >= READ_CHUNK {
            let whole = rw.image.len() / SECTOR * SECTOR;
            let mut data: Vec<u8> = rw.image.drain(..whole).collect();
            let tail = rw.image.clone();
            if done && len < capacity {
                // The last sector with the end marker.
                data.extend_from_slice(&tail);
                data.resize(whole + SECTOR, 0);
            }
            if !data.is_empty() {
                let at = start + rw.written / SECTOR as u64;
                if let Err(e) = self.device.write(at, &data) {
                    self.rewrite = None;
                    return Err(e.into());
                }
                rw.written += whole as u64;
            }
        }
        if !done {
            return Ok(false);
        }
        let rw = self.rewrite.take().expect("checked above");
        self.device.flush()?;
        self.device.write(rw.next.sequence % 2, &rw.next.encode())?;
        self.device.flush()?;
        self.superblock = rw.next;
        self.end = len;
        self.base = len;
        self.tail = rw.image;
        self.unflushed = false;
        Ok(true)
    }

    /// Replaces the log by one recreating `store` as of `now_ms` at once
    /// (finishing a compaction under way), with `marks`; the new salt, for
    /// the records that follow.
    pub fn compact(&mut self, store: &Store, marks: &Marks, now_ms: u64) -> Result<u32, LogError> {
        let salt = self.start_compaction(store);
        // In steps, so that the image in memory stays a chunk, not a copy
        // of the data set.
        while !self.compaction_step(store, &[], marks, COMPACT_STEP, now_ms)? {}
        Ok(salt)
    }
}

/// Keys a one-go [`Log::compact`] copies per step.
const COMPACT_STEP: usize = 256;

/// A new log being written into the other area.
#[derive(Debug)]
struct Rewrite {
    next: Superblock,
    /// Keys still to copy.
    keys: Vec<(usize, Vec<u8>)>,
    /// How many there were, and the memory they took, at the start.
    key_count: usize,
    key_bytes: usize,
    /// Keys changes touched since the last step, to copy again.
    recopy: Vec<(usize, Vec<u8>)>,
    /// Bytes of the new log on its area (whole sectors).
    written: u64,
    /// Bytes of the new log after those, not yet written.
    image: Vec<u8>,
    /// The function libraries are still to copy (first, as they were when
    /// the first step ran).
    functions: bool,
}

/// Whether a log of `len` bytes and its end marker (zeros to the end of
/// its last sector, or a whole sector when it ends on a boundary) fit in
/// an area of `capacity` bytes; a log filling the area needs no marker.
fn fits(len: u64, capacity: u64) -> bool {
    len == capacity || (len / SECTOR as u64 + 1) * SECTOR as u64 <= capacity
}

/// A salt for the log of superblock `sequence`: differs from the previous
/// one, and from boot to boot through `seed`.
fn salt_for(seed: u64, sequence: u64) -> u32 {
    let x =
        (seed ^ sequence.wrapping_mul(0x9e37_79b9_7f4a_7c15)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (x >> 32) as u32 ^ sequence as u32
}

/// The error reply a write gets when the log cannot take it (Redis's
/// words for a failed AOF write).
pub fn misconf(e: LogError) -> Reply {
    match e {
        LogError::Full => kvs_api::LogFailure::Full,
        _ => kvs_api::LogFailure::Io,
    }
    .misconf()
}

/// A store's persistence: the log, the record writer, the policy, and
/// whether writes are refused for a full disk.
#[derive(Debug)]
pub struct Persistence<D> {
    log: Log<D>,
    writer: AofWriter,
    /// Records the log has not taken yet (a write failed): they go before
    /// the next ones, so the log never skips a change the store holds.
    pending: Vec<u8>,
    fsync: Fsync,
    last_flush_ms: u64,
    /// A compaction did not fit: none is tried again before this time.
    retry_ms: u64,
    /// The last change did not fit either: writes are refused until a
    /// compaction succeeds.
    refusing: bool,
    /// Changes wait in memory for [`settle`](Self::settle).
    grouped: bool,
    /// The last write (or flush) to the log failed.
    failed: bool,
    /// When the last compaction finished (ms since the epoch).
    last_compacted_ms: Option<u64>,
    /// A change went unrecorded (`AofWriter::take_unrecorded`): the log
    /// holds what the store does again only once a compaction finishes.
    behind: bool,
}

impl<D: SectorDevice> Persistence<D> {
    /// Persistence through `log` (opened with [`Log::open`]).
    pub fn new(mut log: Log<D>, fsync: Fsync) -> Self {
        let mut writer = AofWriter::with_salt(log.superblock.salt);
        writer.set_marks(log.take_marks());
        Persistence {
            log,
            writer,
            pending: Vec::new(),
            fsync,
            last_flush_ms: 0,
            last_compacted_ms: None,
            retry_ms: 0,
            refusing: false,
            grouped: false,
            failed: false,
            behind: false,
        }
    }

    /// Group commit: [`execute`](Self::execute) leaves a change's record
    /// in memory, and [`settle`](Self::settle) writes the records of every
    /// change since in one request — and flushes them with it under
    /// [`Fsync::Always`], or when a second has passed under
    /// [`Fsync::EverySec`]. The caller must not answer a change (nor
    /// anything that could have seen it) before `settle` returns: it holds
    /// the replies (see `libcap::rpc::Settle`). So an answered change is
    /// on the device (and durable under `always`), as Redis writes its
    /// log before it answers a round of commands.
    pub fn set_grouped(&mut self, on: bool) {
        self.grouped = on;
    }

    /// Bytes of memory its buffers hold (records not written yet, the
    /// log's tail and a compaction's working set): not data, so the
    /// server leaves them out of `maxmemory` (`Store::set_uncounted`).
    pub fn buffered(&self) -> usize {
        self.pending.capacity() + self.writer.buffered() + self.log.buffered()
    }

    /// The last tag each client's records carried: the calls whose
    /// changes the log holds once what is pending is written.
    pub fn marks(&self) -> &Marks {
        self.writer.marks()
    }

    /// Whether changes wait for [`settle`](Self::settle).
    pub fn unsettled(&self) -> bool {
        self.grouped && !self.pending.is_empty()
    }

    /// Writes the changes made since the last call, and flushes as the
    /// policy says (group commit; see [`set_grouped`](Self::set_grouped)).
    pub fn settle(&mut self, store: &Store, now_ms: u64) -> Result<(), LogError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Under `always` one request writes and flushes; a compaction (if
        // the records did not fit) flushed on its own.
        let written = self
            .write_pending(store, now_ms, self.fsync == Fsync::Always)
            .and_then(|()| self.flush_if_due(now_ms));
        self.failed = written.is_err();
        written
    }

    /// When the policy wants what is written but not flushed flushed, if
    /// anything is: under [`Fsync::EverySec`], a second after the last
    /// flush. The server wakes then even when no request comes, so an
    /// answered change is durable within a second whether or not the
    /// server goes idle after it.
    pub fn flush_due_ms(&self) -> Option<u64> {
        (self.fsync == Fsync::EverySec && self.log.unflushed())
            .then(|| self.last_flush_ms.saturating_add(1000))
    }

    /// The time [`flush_due_ms`](Self::flush_due_ms) named came: flushes
    /// if it is due.
    pub fn tick(&mut self, now_ms: u64) -> Result<(), LogError> {
        let flushed = self.flush_if_due(now_ms);
        if flushed.is_err() {
            self.failed = true;
        }
        flushed
    }

    /// Flushes what is on the device but not durable, if the policy wants
    /// it now.
    fn flush_if_due(&mut self, now_ms: u64) -> Result<(), LogError> {
        let due = match self.fsync {
            Fsync::Always => true,
            Fsync::EverySec => now_ms >= self.last_flush_ms.saturating_add(1000),
            Fsync::No => false,
        };
        if due && self.log.unflushed() {
            self.log.flush()?;
            self.last_flush_ms = now_ms;
        }
        Ok(())
    }

    /// The log.
    pub fn log(&self) -> &Log<D> {
        &self.log
    }

    /// The fsync policy.
    pub fn fsync(&self) -> Fsync {
        self.fsync
    }

    /// Whether writes are being refused because the data set does not fit
    /// on the disk.
    pub fn refusing(&self) -> bool {
        self.refusing
    }

    /// Whether the last write (and flush) to the log succeeded, and
    /// writes are not refused.
    pub fn last_write_ok(&self) -> bool {
        !self.failed && !self.refusing
    }

    /// Runs a command and logs its change; the reply. A write gets an
    /// error reply instead, the store untouched, while the disk is full
    /// (a compaction is retried at most once a second); and an error reply
    /// if its change could not be written (the store then holds the
    /// change, which is written with the next one that goes through, or
    /// by the next compaction). Under [`Fsync::Always`] the change
    /// is durable when this returns; otherwise it is at least on the device.
    pub fn execute(
        &mut self,
        store: &mut Store,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
    ) -> Reply {
        self.execute_tagged(store, session, args, now_ms, None)
    }

    /// [`execute`](Self::execute), its change's record tagged with `tag`
    /// (see [`kvs_core::aof::Tag`]).
    pub fn execute_tagged(
        &mut self,
        store: &mut Store,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
        tag: Option<Tag>,
    ) -> Reply {
        let name = args.first().copied().unwrap_or_default();
        let queued = session.in_multi() && !name.eq_ignore_ascii_case(b"EXEC");
        if self.refusing && kvs_core::writes(name) && !queued {
            if now_ms < self.retry_ms {
                return misconf(LogError::Full);
            }
            if let Err(e) = self.compact(store, now_ms) {
                return misconf(e);
            }
        }
        let reply = self.writer.execute(store, session, args, now_ms, tag);
        match self.commit(store, now_ms) {
            Ok(()) => reply,
            Err(e) => misconf(e),
        }
    }

    /// A step of the compaction under way ([`Log::compaction_step`]),
    /// the new log told of the calls the writer's tags tell of.
    fn compaction_step(
        &mut self,
        store: &Store,
        changes: &[u8],
        budget: usize,
        now_ms: u64,
    ) -> Result<bool, LogError> {
        let marks = self.writer.marks();
        self.log
            .compaction_step(store, changes, marks, budget, now_ms)
    }

    /// `SAVE`: compacts at once ([`compact`](Self::compact)).
    pub fn compact_now(&mut self, store: &Store, now_ms: u64) -> Result<(), LogError> {
        self.compact(store, now_ms)
    }

    /// `BGSAVE`, `BGREWRITEAOF`: starts a compaction that goes on a few
    /// keys with each change; false if one is under way.
    pub fn compact_in_background(&mut self, store: &Store) -> bool {
        if self.log.compacting() {
            return false;
        }
        let salt = self.log.start_compaction(store);
        self.writer.shadow(Some(salt));
        true
    }

    /// When the last compaction finished (`LASTSAVE`), if one did.
    pub fn last_compacted_ms(&self) -> Option<u64> {
        self.last_compacted_ms
    }

    /// Compacts at once (finishing a compaction under way); on
    /// [`LogError::Full`] sets when to try again.
    fn compact(&mut self, store: &Store, now_ms: u64) -> Result<(), LogError> {
        let mut changes = self.writer.take_shadow();
        self.log.start_compaction(store);
        self.log.requeue(self.writer.take_touched());
        // In steps, so that the image in memory stays a chunk.
        loop {
            let step = self.compaction_step(store, &changes, COMPACT_STEP, now_ms);
            changes.clear();
            if self.after_step(step, now_ms)? {
                return Ok(());
            }
        }
    }

    /// What a compaction step's result means for the writer: a finished
    /// compaction's log holds every change so far, so pending records go
    /// and later ones use its salt; a failed one is dropped.
    fn after_step(&mut self, step: Result<bool, LogError>, now_ms: u64) -> Result<bool, LogError> {
        match step {
            Ok(true) => {
                self.last_compacted_ms = Some(now_ms);
                self.pending.clear();
                self.writer.shadow(None);
                self.writer.set_salt(self.log.superblock.salt);
                self.refusing = false;
                self.behind = false;
                Ok(true)
            }
            Ok(false) => Ok(false),
            Err(e) => {
                self.writer.shadow(None);
                if e == LogError::Full {
                    self.retry_ms = now_ms.saturating_add(1000);
                }
                Err(e)
            }
        }
    }

    /// Appends the pending records, compacting at once if they do not fit
    /// (the store holds their changes, so the compacted log does too).
    fn write_pending(&mut self, store: &Store, now_ms: u64, durable: bool) -> Result<(), LogError> {
        if self.behind {
            // The log lacks a change: records after it would replay
            // without it.
            return self.catch_up(store, now_ms);
        }
        let written = if durable {
            self.log.append_durable(&self.pending)
        } else {
            self.log.append(&self.pending)
        };
        match written {
            Ok(()) => {
                self.pending.clear();
                Ok(())
            }
            Err(LogError::Full) => self.catch_up(store, now_ms),
            Err(e) => Err(e),
        }
    }

    /// Compacts at once, so that the log holds every change the store
    /// does (pending records, a change too large for one, or one that did
    /// not fit); if the new log does not fit either, writes are refused
    /// until one does.
    fn catch_up(&mut self, store: &Store, now_ms: u64) -> Result<(), LogError> {
        self.compact(store, now_ms).inspect_err(|e| {
            self.refusing = *e == LogError::Full;
        })
    }

    /// Writes what the writer holds, flushes as the policy says, and moves
    /// compaction on: a step of [`COMPACTION_STEP`] keys after every
    /// change while one is under way, a new one when the log has grown
    /// enough, all of it at once when a record does not fit.
    fn commit(&mut self, store: &Store, now_ms: u64) -> Result<(), LogError> {
        let recorded = self.writer.move_to(&mut self.pending);
        if self.writer.take_unrecorded() {
            // A change too large for a record: the log takes it by a
            // compaction now (grouped or not: it is durable before it is
            // answered), which copies the store a piece of a key at a time.
            self.behind = true;
            let caught_up = self.catch_up(store, now_ms);
            self.failed = caught_up.is_err();
            return caught_up;
        }
        // A command that changed nothing does not retry pending records.
        if !recorded {
            return Ok(());
        }
        if !self.grouped {
            let written = self
                .write_pending(store, now_ms, false)
                .and_then(|()| self.flush_if_due(now_ms));
            self.failed = written.is_err();
            written?;
        }
        if self.log.compacting() {
            let changes = self.writer.take_shadow();
            self.log.requeue(self.writer.take_touched());
            let step = self.compaction_step(store, &changes, COMPACTION_STEP, now_ms);
            // Not fitting is not an error of this change: it is in the log.
            match self.after_step(step, now_ms) {
                Ok(_) | Err(LogError::Full) => {}
                Err(e) => return Err(e),
            }
        } else if self.log.wants_compaction() && now_ms >= self.retry_ms {
            self.compact_in_background(store);
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod ramdisk;
#[cfg(test)]
mod tests;
