//! `net-api`: what an app needs to use Basalt's net server, and nothing
//! the server itself needs (no smoltcp, no driver).
//!
//! | module | holds |
//! | --- | --- |
//! | [`proto`] | the shared-region protocol: layout, requests, events, byte rings |
//! | [`client`] | [`client::Sockets`], what an app's event loop uses (listen, accept, send, receive, close) |
//! | [`budget`] | [`budget::Budget`]: what a front end's connections buffer together, against the part of its heap that is theirs |
//! | [`serve`] | [`serve::StreamServer`]: a request/response protocol on a TCP port, one state per connection, with back-pressure (the front ends' loop) |
//!
//! The server (`servers/net`) implements the other side of [`proto`]; its
//! test bench runs [`serve`] against a real TCP/IP stack. See
//! `docs/net.md`.

#![cfg_attr(not(test), no_std)]
#![warn(missing_docs, clippy::undocumented_unsafe_blocks)]

extern crate alloc;

pub mod budget;
pub mod client;
pub mod proto;
pub mod serve;
