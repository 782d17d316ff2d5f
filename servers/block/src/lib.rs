//! `block`: a Basalt component that drives a virtio-blk PCI disk with the
//! [`virtio_drivers`] crate, polling (no interrupts yet).
//!
//! | module | holds |
//! | --- | --- |
//! | [`dma`] | the page pool over the component's DMA region and [`dma::BlockHal`], the driver's [`virtio_drivers::Hal`] |
//! | [`pci`] | [`pci::PortCam`], PCI configuration space through the legacy ports 0xcf8/0xcfc |
//! | [`check`] | the start-up self-check: capacity, write and read back sectors 1 and 2, sector 0 |
//!
//! The binary (`src/main.rs`) wires them to what `init` grants; see
//! `docs/block.md` and `config/block-test`.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

pub mod check;
pub mod dma;
pub mod pci;
