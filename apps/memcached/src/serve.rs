//! The front end on the net server's sockets: [`Server`] is the
//! [`Protocol`] `net_api::serve::StreamServer` runs, one [`Connection`]
//! per TCP connection, the items in a [`Cache`] (on Basalt, the kvs
//! server's `kvs_api::Connection`). Text connections are served in
//! rounds ([`crate::round`]): the calls of every connection that waits
//! run together when the stream server flushes, in one call to the store.

use crate::round::{Batch, Rounds};
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
    /// The calls text connections wait for.
    batch: Batch,
}

/// The least a round's answers may take before it stops (the rest run
/// in the next): what a flush of the batch always gets.
const ROUND_ANSWERS_LEAST: u64 = 64 * 1024;

impl<C: Cache + Rounds, T: FnMut() -> u64> Server<C, T> {
    /// Serves `cache` with `front`'s settings, telling time by `clock`.
    pub fn new(cache: C, front: Frontend, clock: T) -> Self {
        Self {
            cache,
            front,
            clock,
            batch: Batch::default(),
        }
    }

    /// The front end's settings and counters.
    pub fn front(&self) -> &Frontend {
        &self.front
    }
}

impl<C: Cache + Rounds, T: FnMut() -> u64> Protocol for Server<C, T> {
    type Conn = Connection;

    /// A new connection; past `maxconns` one that answers memcached's
    /// error and closes (the stream server takes one more than
    /// `maxconns`, so that this can).
    fn open(&mut self, _peer: Endpoint, _port: u16) -> Connection {
        let limits = Limits {
            item_size_max: self.front.item_size_max,
            ..Limits::default()
        };
        let c = &mut self.front.counters;
        c.total_connections += 1;
        if c.curr_connections >= self.front.max_connections {
            c.rejected_connections += 1;
            return Connection::refused(limits);
        }
        c.curr_connections += 1;
        Connection::new(limits)
    }

    fn feed(&mut self, conn: &mut Connection, input: &[u8], out: &mut Vec<u8>) -> serve::Flow {
        let now = (self.clock)();
        let flow = if conn.speaks_binary(input) {
            conn.receive(input, &mut self.cache, &mut self.front, now, out)
        } else {
            conn.receive_round(input, &mut self.batch, &mut self.front, now, out)
        };
        match flow {
            Flow::Close => serve::Flow::Close,
            Flow::Wait => serve::Flow::Wait,
            // Replies past the high-water mark: send them, then run the rest.
            Flow::Open if conn.stalled() => serve::Flow::Drain,
            Flow::Open => serve::Flow::Read,
        }
    }

    /// Runs the batch: its answers may take half what the connections'
    /// budget has left (they are copied into the connections' output
    /// next), and the calls past that wait for the next flush.
    fn flush(&mut self) {
        let left = self
            .front
            .client_memory
            .saturating_sub(self.front.clients_held());
        let limit = (left / 2).max(ROUND_ANSWERS_LEAST);
        self.batch.run(
            &mut self.cache,
            usize::try_from(limit).unwrap_or(usize::MAX),
        );
    }

    fn close(&mut self, mut conn: Connection) {
        conn.release(&mut self.front);
        if conn.is_refused() {
            return;
        }
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
