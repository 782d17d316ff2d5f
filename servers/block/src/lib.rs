//! `block`: a Basalt component that drives a virtio-blk PCI disk with the
//! [`virtio_drivers`] crate's virtqueue and PCI transport, and serves its
//! sectors to a client through descriptor rings in a shared region. Its
//! interface is the `block-api` crate (re-exported here), which clients
//! depend on instead of this one.
//!
//! | module | holds |
//! | --- | --- |
//! | [`dma`] | the page pool over the component's DMA region, the windows the device may reach in place, and [`dma::BlockHal`], the driver's [`virtio_drivers::Hal`] (from the `virtio-pci` library, shared with the net server) |
//! | [`pci`] | [`pci::ConfigPage`], the device's PCI configuration space through its page of the ECAM window, and the MSI-X capability (from `virtio-pci`) |
//! | [`virtio`] | [`virtio::VirtioBlk`], the disk as a [`server::Device`]: several requests in the virtqueue at once, completions in any order |
//! | [`words`] | [`words::Words`]: memory a controller reaches by physical address, as atomic words (NVMe's and AHCI's queues and tables) |
//! | [`ahci`] | [`ahci::Ahci`], a SATA disk behind an AHCI adapter as a [`server::Device`]: a command slot per request, READ/WRITE DMA EXT, FLUSH CACHE EXT |
//! | [`nvme`] | [`nvme::Nvme`], an NVMe controller's first namespace as a [`server::Device`]: an I/O queue pair, PRP lists, completions matched by command identifier |
//! | [`check`] | the start-up self-check: capacity, write and read back sectors 1 and 2, sector 0 |
//! | [`server`] | [`server::BlockServer`], which takes [`Request`]s from the submission ring, checks them, keeps the device busy and posts [`Completion`]s |
//! | `testutil` (feature `testutil`, host only) | a RAM disk that completes requests out of order, and a server over it, for host tests |
//!
//! The binary (`src/main.rs`) wires them to what `init` grants and serves
//! [`Block`] on channel `block`. See `docs/block.md` and
//! `config/block-test`.

// The RAM disk of `testutil` needs std: for the host tests of this crate
// and of its clients (feature `testutil`).
#![cfg_attr(not(any(test, feature = "testutil")), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub use block_api::*;

pub mod ahci;
pub mod check;
#[cfg(test)]
mod disk_tests;
pub mod nvme;
pub mod server;
pub mod words;

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
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
pub mod virtio;
