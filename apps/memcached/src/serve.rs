//! The front end on the net server's sockets: [`Server`] is the
//! [`Protocol`] `net_api::serve::StreamServer` runs, one [`Connection`]
//! per TCP connection, the items in a [`Cache`] (on Basalt, the kvs
//! server's `kvs_api::Connection`).

use crate::{Cache, Connection, Flow, Frontend, Limits};
use alloc::vec::Vec;
use net_api::proto::Endpoint;
use net_api::serve::{self, Protocol};

/// The memcached protocol for a stream server: the cache, the front end's
/// settings and counters, and a clock (Unix seconds).
pub struct Server<C, T> {
    cache: C,
    front: Frontend,
    clock: T,
}

impl<C: Cache, T: FnMut() -> u64> Server<C, T> {
    /// Serves `cache` with `front`'s settings, telling time by `clock`.
    pub fn new(cache: C, front: Frontend, clock: T) -> Self {
        Self {
            cache,
            front,
            clock,
        }
    }

    /// The front end's settings and counters.
    pub fn front(&self) -> &Frontend {
        &self.front
    }
}

impl<C: Cache, T: FnMut() -> u64> Protocol for Server<C, T> {
    type Conn = Connection;

    fn open(&mut self, _peer: Endpoint, _port: u16) -> Connection {
        let c = &mut self.front.counters;
        c.curr_connections += 1;
        c.total_connections += 1;
        Connection::new(Limits {
            item_size_max: self.front.item_size_max,
            ..Limits::default()
        })
    }

    fn feed(&mut self, conn: &mut Connection, input: &[u8], out: &mut Vec<u8>) -> serve::Flow {
        let now = (self.clock)();
        match conn.receive(input, &mut self.cache, &mut self.front, now, out) {
            Flow::Close => serve::Flow::Close,
            // Replies past the high-water mark: send them, then run the rest.
            Flow::Open if conn.stalled() => serve::Flow::Drain,
            Flow::Open => serve::Flow::Read,
        }
    }

    fn close(&mut self, mut conn: Connection) {
        conn.release(&mut self.front);
        let c = &mut self.front.counters;
        c.curr_connections = c.curr_connections.saturating_sub(1);
    }

    fn listening(&mut self, port: u16, ok: bool) {
        if ok {
            libcap::log::info!("listening on port {port}");
        } else {
            libcap::log::error!("cannot listen on port {port}: another app has it");
        }
    }
}
