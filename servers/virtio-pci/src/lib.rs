//! `virtio-pci`: what Basalt's PCI drivers (the `block` and `net`
//! servers: virtio, Intel NICs, NVMe) share, so that each holds only its
//! device's logic.
//!
//! | module | holds |
//! | --- | --- |
//! | [`dma`] | the page pool over the component's DMA region and [`dma::VirtioHal`], the [`virtio_drivers::Hal`] |
//! | [`pci`] | [`pci::ConfigPage`], the function's PCI configuration space through its page of the ECAM window, and the MSI-X capability |
//! | [`interrupt`] | the MSI-X interrupt: table entry 0 bound to the driver's notification, and [`interrupt::MsixTransport`], which routes every queue to it |
//! | [`doorbell`] | [`doorbell::Doorbell`]: queue notifications held while a driver works through a round, written once at its end |
//! | [`mmio`] | [`mmio::Registers`] and [`mmio::Mmio`]: the registers of a device a driver programs directly (the Intel NICs, NVMe) |
//! | [`device`] | [`device::open`]: from what `init` granted (DMA region, BARs, configuration page, interrupt) to a started transport |
//!
//! See `docs/block.md` and `docs/net.md` for the config a driver needs.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod device;
pub mod dma;
pub mod doorbell;
pub mod interrupt;
pub mod mmio;
pub mod pci;

pub use virtio_drivers;
