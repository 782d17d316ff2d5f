//! `block-api`: the block server's interface, and nothing the server
//! itself needs (no driver): the RPC interface [`Block`], the descriptors
//! of its rings ([`Request`], [`Completion`]), the client's half of the
//! rings ([`client::Rings`]) and the client side as a sector device
//! ([`disk::Disk`], what the kvs log writes to). The server
//! (`servers/block`, crate `block`) implements the other side; see
//! `docs/block.md`.
//!
//! # The shared region
//!
//! The client's region (the server's argument `region`) is laid out as:
//!
//! | bytes | what | written by |
//! | --- | --- | --- |
//! | 0 … 4095 | the submission ring of [`Request`]s ([`libcap::ring`], [`SUBMIT_CAPACITY`] slots) | client (producer) |
//! | 4096 … 8191 | the completion ring of [`Completion`]s ([`COMPLETE_CAPACITY`] slots) | server (producer) |
//! | 8192 … end | the data area: [`Request::offset`] counts bytes from its start | client for writes, the device for reads |

#![no_std]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod client;
pub mod disk;

/// Byte `i` of the test pattern written to `sector`: what the server's
/// start-up check writes, and what test clients (`block-smoke`, the boot
/// test's disk check) write and expect.
///
/// ```
/// assert_ne!(block_api::pattern(1, 0), block_api::pattern(2, 0));
/// ```
pub fn pattern(sector: u64, i: usize) -> u8 {
    (i as u64 * 31 + sector * 97 + 0x5a) as u8 ^ (i >> 8) as u8
}

use libcap::ring::{self, Descriptor};
use libcap::rpc::{Decode, Decoder, Encode, Encoder, WireError};
use libcap::start::SharedRegion;

/// Bytes of a sector.
pub const SECTOR_SIZE: usize = 512;

/// Completion status: the request succeeded.
pub const OK: u64 = 0;
/// Error code: the sectors are not all on the disk.
pub const OUT_OF_RANGE: u64 = 1;
/// Error code: the byte offset into the data area is not a multiple of
/// the sector size.
pub const MISALIGNED: u64 = 2;
/// Error code: the transfer moves more than [`Geometry::max_sectors`], or
/// does not fit in the data area at that offset.
pub const TOO_LARGE: u64 = 3;
/// Error code: the device failed the request.
pub const IO_ERROR: u64 = 4;
/// Error code: the server has no region shared with the client (or it is
/// too small for the rings and one sector of data).
pub const NO_REGION: u64 = 5;
/// Error code: the request's [`Request::op`] is none of [`Op`].
pub const BAD_OP: u64 = 6;

/// Bytes of the submission ring at the start of the region.
pub const SUBMIT_RING_BYTES: usize = 4096;
/// Bytes of the completion ring after it.
pub const COMPLETE_RING_BYTES: usize = 4096;
/// Where the data area starts in the region.
pub const DATA_OFFSET: usize = SUBMIT_RING_BYTES + COMPLETE_RING_BYTES;
/// Requests the submission ring holds.
///
/// ```
/// assert_eq!(block_api::SUBMIT_CAPACITY, 64);
/// ```
pub const SUBMIT_CAPACITY: usize = ring::capacity_for::<Request>(SUBMIT_RING_BYTES);
/// Completions the completion ring holds.
///
/// ```
/// assert_eq!(block_api::COMPLETE_CAPACITY, 128);
/// ```
pub const COMPLETE_CAPACITY: usize = ring::capacity_for::<Completion>(COMPLETE_RING_BYTES);
/// The most sectors one request may move (128 KiB).
pub const MAX_SECTORS: u64 = 256;

libcap::rpc_interface! {
    /// What the block server serves on channel `block`. The requests and
    /// their data travel through the region the config gives the server
    /// and its client (see the [crate documentation](crate)); the calls
    /// only ring the doorbell and wait. Method ids are the wire labels:
    /// keep them (2, 3 and 4 were the synchronous read, write and flush
    /// of the first version and are not reused).
    pub interface Block {
        /// The client side of [`Block`]; make one from the endpoint
        /// its component's argument `block` binds (`From<Endpoint>`).
        client BlockClient;
        /// The disk's size and the largest request.
        fn info() -> Geometry = 1;
        /// Takes the requests waiting in the submission ring and starts
        /// them; returns at once with how many requests are outstanding
        /// (taken, their completion not yet posted). Fails with
        /// [`NO_REGION`].
        fn submit() -> u64 = 5;
        /// Does what [`submit`](Block::submit) does, then returns once the
        /// completion ring holds a completion the client has not taken, or
        /// nothing is outstanding; returns how many requests are still
        /// outstanding. Fails with [`NO_REGION`].
        fn wait() -> u64 = 6;
    }
}

/// What a [`Request`] asks for ([`Request::op`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u32)]
pub enum Op {
    /// Read `count` sectors from `sector` on into the data area at `offset`.
    Read = 1,
    /// Write `count` sectors from `sector` on with the data area's bytes at
    /// `offset`.
    Write = 2,
    /// Make every write completed before it durable. It starts once every
    /// request taken before it has completed; `sector`, `count` and
    /// `offset` are ignored.
    Flush = 3,
}

impl Op {
    /// The operation with this number.
    ///
    /// ```
    /// use block_api::Op;
    /// assert_eq!(Op::from_raw(2), Some(Op::Write));
    /// assert_eq!(Op::from_raw(0), None);
    /// ```
    pub const fn from_raw(n: u32) -> Option<Self> {
        match n {
            1 => Some(Self::Read),
            2 => Some(Self::Write),
            3 => Some(Self::Flush),
            _ => None,
        }
    }
}

/// A request in the submission ring (32 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct Request {
    /// The client's tag, copied into the request's [`Completion`].
    pub id: u64,
    /// An [`Op`] as a number.
    pub op: u32,
    /// Sectors to move (0 moves nothing and succeeds).
    pub count: u32,
    /// The first sector.
    pub sector: u64,
    /// Byte offset of the data in the data area: a multiple of
    /// [`SECTOR_SIZE`].
    pub offset: u64,
}

// SAFETY: integers only, 32 bytes without padding: every bit pattern is a
// valid `Request`.
unsafe impl Descriptor for Request {}

impl Request {
    /// A read of `count` sectors from `sector` into the data area at `offset`.
    ///
    /// ```
    /// let r = block_api::Request::read(7, 10, 2, 1024);
    /// assert_eq!((r.id, r.op, r.sector, r.count, r.offset), (7, 1, 10, 2, 1024));
    /// ```
    pub const fn read(id: u64, sector: u64, count: u32, offset: u64) -> Self {
        Self {
            id,
            op: Op::Read as u32,
            count,
            sector,
            offset,
        }
    }

    /// A write of `count` sectors to `sector` from the data area at `offset`.
    pub const fn write(id: u64, sector: u64, count: u32, offset: u64) -> Self {
        Self {
            id,
            op: Op::Write as u32,
            count,
            sector,
            offset,
        }
    }

    /// A flush.
    pub const fn flush(id: u64) -> Self {
        Self {
            id,
            op: Op::Flush as u32,
            count: 0,
            sector: 0,
            offset: 0,
        }
    }
}

/// A completion in the completion ring (16 bytes).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct Completion {
    /// The [`Request::id`] of the request it completes.
    pub id: u64,
    /// [`OK`] or an error code.
    pub status: u64,
}

// SAFETY: integers only, 16 bytes without padding.
unsafe impl Descriptor for Completion {}

/// The three parts of a shared region: the submission ring, the
/// completion ring and the data area; `None` if the region cannot hold
/// the rings and one sector of data. Both sides split it with this.
///
/// ```
/// # let start = libcap::start::testing::start();
/// let region = start.shared_region("rx").unwrap(); // 16 KiB
/// let (submit, complete, data) = block_api::split_region(region).unwrap();
/// assert_eq!((submit.len(), complete.len(), data.len()), (4096, 4096, 8192));
/// ```
pub fn split_region(region: SharedRegion) -> Option<(SharedRegion, SharedRegion, SharedRegion)> {
    if region.len() < DATA_OFFSET + SECTOR_SIZE {
        return None;
    }
    let (submit, rest) = region.split_at(SUBMIT_RING_BYTES)?;
    let (complete, data) = rest.split_at(COMPLETE_RING_BYTES)?;
    Some((submit, complete, data))
}

/// What [`Block::info`] answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// The disk's size in sectors.
    pub sector_count: u64,
    /// Bytes of a sector (512).
    pub sector_size: u64,
    /// The most sectors one request may move: [`MAX_SECTORS`], or fewer if
    /// the data area is smaller (0 without a region).
    pub max_sectors: u64,
}

impl Encode for Geometry {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push(self.sector_count)?;
        enc.push(self.sector_size)?;
        enc.push(self.max_sectors)
    }
}

impl Decode<'_> for Geometry {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(Self {
            sector_count: dec.word()?,
            sector_size: dec.word()?,
            max_sectors: dec.word()?,
        })
    }
}
