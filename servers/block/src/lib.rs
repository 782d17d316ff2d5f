//! `block`: a Basalt component that drives a virtio-blk PCI disk with the
//! [`virtio_drivers`] crate, polling (no interrupts yet).
//!
//! | module | holds |
//! | --- | --- |
//! | [`dma`] | the page pool over the component's DMA region and [`dma::BlockHal`], the driver's [`virtio_drivers::Hal`] (from the `virtio-pci` library, shared with the net server) |
//! | [`pci`] | [`pci::PortCam`], PCI configuration space through the legacy ports 0xcf8/0xcfc (from `virtio-pci`) |
//! | [`check`] | the start-up self-check: capacity, write and read back sectors 1 and 2, sector 0 |
//! | [`server`] | [`server::BlockServer`], which serves [`Block`] for a [`check::Disk`] |
//! | [`disk`] | [`disk::Disk`], the client side as a sector device (what the kvs log writes to) |
//!
//! The binary (`src/main.rs`) wires them to what `init` grants and serves
//! [`Block`] on channel `block`; clients (`block-smoke`) use this library
//! for [`BlockClient`]. See `docs/block.md` and `config/block-test`.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod check;
pub mod disk;
pub mod server;

/// DMA memory and the driver's `Hal`: `virtio_pci::dma`, which the net
/// server's driver shares.
pub mod dma {
    pub use virtio_pci::dma::*;

    /// The block driver's [`virtio_drivers::Hal`]: [`VirtioHal`].
    pub type BlockHal = VirtioHal;
}

/// PCI configuration space: `virtio_pci::pci`.
pub mod pci {
    pub use virtio_pci::pci::*;
}
#[cfg(test)]
mod testutil;

use libcap::rpc::{Decode, Decoder, Encode, Encoder, WireError};

/// Error code: the sectors are not all on the disk.
pub const OUT_OF_RANGE: u64 = 1;
/// Error code: the byte offset into the region is not a multiple of the
/// sector size.
pub const MISALIGNED: u64 = 2;
/// Error code: the transfer is larger than the server's bounce buffer
/// ([`Geometry::max_sectors`]), or does not fit in the region at that
/// offset.
pub const TOO_LARGE: u64 = 3;
/// Error code: the device failed the transfer.
pub const IO_ERROR: u64 = 4;
/// Error code: the server has no data region to copy through.
pub const NO_REGION: u64 = 5;

libcap::rpc_interface! {
    /// What the block server serves on channel `block`: sector ranges of
    /// its disk, with the data in the shared region the config gives both
    /// the server and the client (argument `region` of the server,
    /// default `block-io`). Offsets are bytes into that region, multiples
    /// of the sector size. One request at a time: a call returns when the
    /// transfer is done. Method ids are the wire labels: keep them.
    pub interface Block {
        /// The client side of [`Block`]; make one with
        /// `start.channel_client("block")`.
        client BlockClient;
        /// The disk's size and the largest transfer.
        fn info() -> Geometry = 1;
        /// Reads `count` sectors from `sector` on into the region at byte
        /// `offset`. Fails with [`OUT_OF_RANGE`], [`MISALIGNED`],
        /// [`TOO_LARGE`], [`IO_ERROR`] or [`NO_REGION`].
        fn read(sector: u64, count: u64, offset: u64) = 2;
        /// Writes `count` sectors from `sector` on with the region's bytes
        /// at `offset`. Fails like [`read`](Block::read).
        fn write(sector: u64, count: u64, offset: u64) = 3;
        /// Asks the device to make written sectors durable. Fails with
        /// [`IO_ERROR`].
        fn flush() = 4;
    }
}

/// What [`Block::info`] answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Geometry {
    /// The disk's size in sectors.
    pub sector_count: u64,
    /// Bytes of a sector (512).
    pub sector_size: u64,
    /// The most sectors one read or write may move (the smaller of the
    /// server's bounce buffer and the region; 0 without a region).
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
