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
//! `item_size_max`; the bodies of refused requests are thrown away as
//! they come, never buffered.

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
    /// Takes `bytes` and runs every request they complete, as
    /// `Connection::receive` does for text; sets `stalled` when it stops
    /// at [`OUTPUT_HIGH_WATER`] with requests left.
    pub(crate) fn run<C: Cache>(
        &mut self,
        mut bytes: &[u8],
        stalled: &mut bool,
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
            if !bytes.is_empty() {
                if input.try_reserve(bytes.len()).is_err() {
                    return Flow::Close;
                }
                input.extend_from_slice(bytes);
                bytes = &[];
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
                            self.state = begin_store(store, header, cache, front, out);
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

/// A storage request's head is in: read its value, or refuse it for
/// `item_size_max` (answered, and the value thrown away as it comes).
fn begin_store<C: Cache>(
    store: Request,
    header: Header,
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
    if item_size(key.len(), flags, len) <= front.item_size_max {
        return State::Value(header, store, len);
    }
    front.counters.store_too_large += 1;
    // The old value must not outlive a failed SET.
    if kind == StoreKind::Set {
        let _ = cache.discard(key);
    }
    reply::error(out, &header, Status::TooLarge);
    State::Swallow(len)
}
