//! memcached's binary protocol, for a connection whose first byte is
//! 0x80 (as memcached picks it per connection; any other first byte
//! means text).
//!
//! A request is a 24-byte [`header`], extras, a key and a value. The
//! head (header, extras, key) is decoded once into a
//! [`Request`] ([`request::decode`]); a storage
//! request's value is then read whole, after its size was checked against
//! `item_size_max`. What a connection buffers is bounded as memcached
//! bounds it: a head up to [`READ_BUFFER`] bytes (a longer one closes
//! the connection once that much is in), one value up to
//! `item_size_max`, if the connections' budget has room for it (else it
//! is refused with status 0x82, out of memory); the bodies of refused
//! requests are thrown away as they come, never buffered.

mod exec;
pub mod header;
pub mod reply;
pub mod request;

use alloc::vec::Vec;

use kvs_core::mc::item_size;

use crate::{Cache, Flow, Frontend, OUTPUT_HIGH_WATER};
use header::{HEADER_LEN, Header};
use reply::Status;
use request::{Refused, Request, StoreKind};

/// memcached reads a request's head into a buffer of this many bytes: a
/// head that does not fit closes the connection once the client has sent
/// more than that of it.
pub const READ_BUFFER: usize = 16 * 1024;

/// What a binary connection waits for.
#[derive(Debug, Default)]
enum State {
    /// A request's head.
    #[default]
    Head,
    /// A storage request's value: `len` bytes.
    Value(Header, Request, usize),
    /// Bytes to throw away (a refused request's body).
    Swallow(usize),
}

/// A binary connection's unread input and where it is.
#[derive(Debug, Default)]
pub(crate) struct Session {
    input: Vec<u8>,
    state: State,
}

impl Session {
    /// What the session buffers.
    pub(crate) fn held(&self) -> usize {
        self.input.capacity()
    }

    /// Gives back most of an input buffer that a large value left (not
    /// the room reserved for a value on its way).
    pub(crate) fn shrink(&mut self) {
        if !matches!(self.state, State::Value(..)) {
            crate::shrink(&mut self.input);
        }
    }

    /// Takes `bytes` and runs every request they complete, as
    /// `Connection::receive` does for text; sets `stalled` when it stops
    /// at [`OUTPUT_HIGH_WATER`] with requests left. The connection may
    /// buffer `allowed` bytes, input and `out` together.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run<C: Cache>(
        &mut self,
        mut bytes: &[u8],
        stalled: &mut bool,
        allowed: u64,
        cache: &mut C,
        front: &mut Frontend,
        now: u64,
        out: &mut Vec<u8>,
    ) -> Flow {
        let start = out.len();
        let input = &mut self.input;
        loop {
            // Bytes to throw away never enter the buffer.
            if let State::Swallow(n) = self.state {
                let left = crate::swallow(n, input, &mut bytes);
                if left > 0 {
                    self.state = State::Swallow(left);
                    return Flow::Open;
                }
                self.state = State::Head;
            }
            // A value's bytes fill the room reserved for it and no more:
            // what follows waits in `bytes` until the value is stored.
            let take = match self.state {
                State::Value(_, _, need) => bytes.len().min(need.saturating_sub(input.len())),
                _ => bytes.len(),
            };
            if take > 0 {
                let room = room(allowed, input, out);
                if crate::append(input, &bytes[..take], room).is_err() {
                    front.counters.read_buf_oom += 1;
                    return Flow::Close;
                }
                bytes = &bytes[take..];
            }
            match core::mem::take(&mut self.state) {
                State::Head => {
                    let Some(raw) = input.first_chunk::<HEADER_LEN>() else {
                        return Flow::Open;
                    };
                    // A packet that is no request: memcached closes
                    // without a word.
                    let Ok(header) = Header::decode(raw) else {
                        return Flow::Close;
                    };
                    let head = header.head_len();
                    if head > READ_BUFFER {
                        return if input.len() > READ_BUFFER {
                            Flow::Close
                        } else {
                            Flow::Open
                        };
                    }
                    if input.len() < head {
                        return Flow::Open;
                    }
                    if out.len() - start >= OUTPUT_HIGH_WATER {
                        *stalled = true;
                        return Flow::Open;
                    }
                    let key_at = HEADER_LEN + usize::from(header.extras_len);
                    let decoded =
                        request::decode(&header, &input[HEADER_LEN..key_at], &input[key_at..head]);
                    input.drain(..head);
                    match decoded {
                        Err(refused) => {
                            let status = match refused {
                                Refused::BadLengths => Status::UnknownCommand,
                                Refused::Invalid => Status::InvalidArguments,
                            };
                            reply::error(out, &header, status);
                            return Flow::Close;
                        }
                        Ok(Request::Unknown { swallow }) => {
                            reply::error(out, &header, Status::UnknownCommand);
                            self.state = State::Swallow(swallow);
                        }
                        Ok(store @ Request::Store { .. }) => {
                            let room = room(allowed, input, out);
                            self.state = begin_store(store, header, input, room, cache, front, out);
                        }
                        Ok(request) => {
                            if exec::run(request, &header, cache, front, now, out) == Flow::Close {
                                return Flow::Close;
                            }
                        }
                    }
                }
                State::Value(header, request, len) => {
                    if input.len() < len {
                        self.state = State::Value(header, request, len);
                        return Flow::Open;
                    }
                    exec::stored(request, &header, &input[..len], cache, out);
                    input.drain(..len);
                }
                State::Swallow(n) => self.state = State::Swallow(n),
            }
        }
    }
}

/// How many more bytes a connection allowed `allowed` may buffer, holding
/// `input` and `out`.
fn room(allowed: u64, input: &Vec<u8>, out: &Vec<u8>) -> usize {
    let held = (input.capacity() + out.capacity()) as u64;
    usize::try_from(allowed.saturating_sub(held)).unwrap_or(usize::MAX)
}

/// A storage request's head is in: read its value into `input`, room for
/// which is reserved now, or refuse it for `item_size_max` or for the
/// connections' budget (`room` is what it leaves this one): answered, and
/// the value thrown away as it comes.
fn begin_store<C: Cache>(
    store: Request,
    header: Header,
    input: &mut Vec<u8>,
    room: usize,
    cache: &mut C,
    front: &mut Frontend,
    out: &mut Vec<u8>,
) -> State {
    let Request::Store {
        kind,
        ref key,
        flags,
        len,
        ..
    } = store
    else {
        return State::Head;
    };
    let status = if item_size(key.len(), flags, len) > front.item_size_max {
        front.counters.store_too_large += 1;
        Status::TooLarge
    } else {
        let more = len.saturating_sub(input.len());
        if more <= room && input.try_reserve_exact(more).is_ok() {
            return State::Value(header, store, len);
        }
        front.counters.store_no_memory += 1;
        Status::OutOfMemory
    };
    // The old value must not outlive a failed SET.
    if kind == StoreKind::Set {
        let _ = cache.discard(key);
    }
    reply::error(out, &header, status);
    State::Swallow(len)
}
