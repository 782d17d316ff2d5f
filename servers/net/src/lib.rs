//! `net`: Basalt's network server and the library apps use to talk to it.
//!
//! | module | holds |
//! | --- | --- |
//! | [`proto`] | the shared-region protocol: layout, requests, events, byte rings |
//! | [`client`] | [`client::Sockets`], what an app's event loop uses (listen, accept, send, receive, close) |
//! | [`serve`] | [`serve::StreamServer`]: a request/response protocol on a TCP port, one state per connection, with back-pressure (the front ends' loop) |
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

pub mod client;
pub mod nic;
pub mod proto;
pub mod serve;
pub mod service;
pub mod settings;
pub mod stack;
#[cfg(not(target_os = "none"))]
pub mod testing;
#[cfg(test)]
mod tests;
