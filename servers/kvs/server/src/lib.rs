//! The key-value store component: the server ([`KvsServer`], which runs
//! [`kvs_core::Store`] and implements `kvs_api::Kvs`), its log on a disk
//! ([`persist`]), and the interface it serves, re-exported from
//! `kvs-api` (front ends depend on that crate alone). The component
//! (`src/main.rs`) serves [`Kvs`] on the channel the config calls `kvs`.
//! `docs/kvs.md` describes the interface.
//!
//! ```
//! use kvs::{Connection, Kvs, KvsClient, KvsServer, ManualClock};
//! use libcap::rpc::Local;
//!
//! let server = Local::new(KvsServer::new(ManualClock(0), Vec::new()), KvsServer::rpc_dispatch);
//! let mut kvs = Connection::open(KvsClient::new(&server), None).unwrap();
//! assert_eq!(kvs.command(&[b"SET", b"k", b"v"]).unwrap(), b"+OK\r\n");
//! assert_eq!(kvs.command(&[b"GET", b"k"]).unwrap(), b"$1\r\nv\r\n");
//! ```
//!
//! The library is portable: its tests run on the host, calling the server
//! through [`libcap::rpc::Local`] and sharing leaked host memory as the
//! region.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod debug;
mod info;
mod memory;
mod overtime;
pub mod persist;
mod save;
mod server;

pub use debug::NOT_ALLOWED as DEBUG_NOT_ALLOWED;
pub use kvs_api::*;
pub use overtime::AnswerEarly;
pub use server::{
    Clock, EXPIRE_BUDGET, EXPIRE_EVERY, EXPIRE_INTERVAL_MS, KvsServer, ManualClock, TscClock, Waker,
};

#[cfg(test)]
mod largest;
#[cfg(test)]
mod tests;
