//! [`Rings`]: the client's half of the block server's rings — it produces
//! [`Request`]s, consumes [`Completion`]s, owns the data area between
//! requests, and rings the doorbell ([`Block::submit`](crate::Block::submit),
//! [`Block::wait`](crate::Block::wait)).
//!
//! ```
//! # fn demo<T: libcap::rpc::Transport>(mut rings: block_api::client::Rings<T>) -> Result<(), libcap::rpc::RpcError> {
//! use block_api::Request;
//! // Two reads in flight at once, into the first two sectors of the data area.
//! rings.push(Request::read(1, 100, 1, 0)).unwrap();
//! rings.push(Request::read(2, 200, 1, 512)).unwrap();
//! let mut done = 0;
//! while done < 2 {
//!     rings.wait()?;
//!     while let Some(c) = rings.pop() {
//!         assert_eq!(c.status, block_api::OK);
//!         done += 1;
//!     }
//! }
//! let mut sector = [0u8; 512];
//! rings.data().read_at(512, &mut sector);
//! # Ok(())
//! # }
//! ```

use crate::{BlockClient, Completion, Request, split_region};
use libcap::ring::{Consumer, Producer};
use libcap::rpc::{RpcError, Transport};
use libcap::start::SharedRegion;

/// The client's side of the rings in the region it shares with the block
/// server, and its channel to the server.
#[derive(Debug)]
pub struct Rings<T: Transport> {
    block: BlockClient<T>,
    submit: Producer<Request>,
    complete: Consumer<Completion>,
    data: SharedRegion,
}

impl<T: Transport> Rings<T> {
    /// Attaches to the rings in `region` (the one the server was given as
    /// its argument `region`); `None` if the region is too small for the
    /// rings and one sector of data. The rings continue where a previous
    /// client left them.
    pub fn new(block: BlockClient<T>, region: SharedRegion) -> Option<Self> {
        let (submit, complete, data) = split_region(region)?;
        Some(Self {
            block,
            submit: Producer::from_region(submit).ok()?,
            complete: Consumer::from_region(complete).ok()?,
            data,
        })
    }

    /// The channel to the server.
    pub fn block(&self) -> &BlockClient<T> {
        &self.block
    }

    /// Puts `r` in the submission ring; gives it back if the ring is full.
    /// The server sees it at the next [`submit`](Self::submit) or
    /// [`wait`](Self::wait).
    pub fn push(&mut self, r: Request) -> Result<(), Request> {
        self.submit.try_push(r)
    }

    /// Whether the server has taken every request pushed.
    pub fn all_taken(&mut self) -> bool {
        self.submit.free() == self.submit.capacity()
    }

    /// Asks the server to start the requests pushed; how many requests are
    /// outstanding.
    pub fn submit(&self) -> Result<u64, RpcError> {
        self.block.submit()
    }

    /// Asks the server to start the requests pushed and returns once a
    /// completion waits (or nothing is outstanding); how many requests are
    /// still outstanding.
    pub fn wait(&self) -> Result<u64, RpcError> {
        self.block.wait()
    }

    /// Takes the oldest completion, if any.
    pub fn pop(&mut self) -> Option<Completion> {
        self.complete.try_pop()
    }

    /// The data area: request offsets count from its start.
    pub fn data(&mut self) -> &mut SharedRegion {
        &mut self.data
    }

    /// Bytes of the data area.
    pub fn data_len(&self) -> usize {
        self.data.len()
    }
}
