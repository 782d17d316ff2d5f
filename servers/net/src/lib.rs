//! `net`: Basalt's network server. Its interface (the shared-region
//! protocol, the apps' client, the front ends' stream server) is the
//! `net-api` crate, which apps depend on instead of this one.
//!
//! | module | holds |
//! | --- | --- |
//! | [`service`] | the server's socket service: requests onto smoltcp sockets, socket state into events, limits |
//! | [`stack`] | [`stack::Net`]: the smoltcp interface, DHCPv4 or a static address, and the service |
//! | `testing` | (host only) a bench: the stack on an in-memory wire to a second smoltcp stack, and an app |
//! | [`nic`] | the virtio-net device as a smoltcp `Device` |
//! | [`settings`] | the server's config arguments |
//!
//! The binary (`src/main.rs`) finds the virtio-net device through what
//! `init` granted, attaches every app region, and runs rounds, sleeping
//! on its notification between them when the device's interrupt is
//! granted (polling otherwise), until the next timer at the latest
//! ([`stack::Net::poll_at`], a timed wait). See `docs/net.md` and
//! `config/net-test`.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

// The interface, as the server's own modules name it.
use net_api::proto;

pub mod nic;
#[cfg(test)]
mod serve_tests;
pub mod service;
pub mod settings;
pub mod stack;
#[cfg(not(target_os = "none"))]
pub mod testing;
#[cfg(test)]
mod tests;
