//! One TCP connection's receive side: the bytes received and not yet
//! handled, and where in a request they stand. It splits the stream into
//! requests (head, then body); [`crate::Server`] answers them.

use alloc::vec::Vec;
use core::ops::Range;

use crate::Limits;
use crate::budget::grow;
use crate::head::{self, Framing, Head, Reject, Rejected};
use crate::status::Method;

/// Receive buffers above this capacity are shrunk once they are nearly
/// empty between requests, so a connection that once took a large body
/// does not hold its memory.
const KEEP_CAPACITY: usize = 16 * 1024;

/// An idle connection (nothing buffered) keeps a receive buffer of at
/// most this capacity, for its next small request; a larger one is
/// freed, so that idle connections hold next to nothing of
/// [`Limits::max_buffered`].
const IDLE_CAPACITY: usize = 1024;

/// The state of one TCP connection; create it with
/// [`Server::open`](crate::Server::open) and pass it to
/// [`Server::feed`](crate::Server::feed) with each chunk received.
#[derive(Debug)]
pub struct Connection {
    /// Received bytes; those before `pos` are handled.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes after `pos` already searched for a line end.
    scanned: usize,
    /// Where the head line being scanned starts, relative to `pos`.
    line_start: usize,
    /// The head being scanned has a complete first line.
    seen_lf: bool,
    phase: Phase,
}

#[derive(Debug)]
enum Phase {
    /// Waiting for (the rest of) a request's head.
    Head,
    /// Waiting for a body of that many bytes.
    Length(Head, usize),
    /// Decoding a chunked body.
    Chunked(Head, Vec<u8>, Chunk),
    /// The connection is to be closed: nothing more is read.
    Closed,
}

/// Where a chunked body's decoding stands.
#[derive(Clone, Copy, Debug)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data, that many bytes to go.
    Data(usize),
    /// Expecting the CRLF after a chunk's data.
    DataEnd,
    /// In the trailer section, that many bytes of it read.
    Trailer(usize),
}

/// A request's body: the bytes of the receive buffer or, chunked, decoded.
#[derive(Debug)]
pub(crate) enum Body {
    Buffered(Range<usize>),
    Decoded(Vec<u8>),
}

/// What [`Connection::poll`] found.
#[derive(Debug)]
pub(crate) enum Event {
    /// No complete request yet.
    NeedMore,
    /// The head asked for `100 Continue` before its body.
    Continue,
    /// A complete request.
    Request(Head, Body),
    /// The stream cannot be read further: answer and close.
    Reject(Rejected),
}

impl Connection {
    pub(crate) fn new() -> Self {
        Self {
            buf: Vec::new(),
            pos: 0,
            scanned: 0,
            line_start: 0,
            seen_lf: false,
            phase: Phase::Head,
        }
    }

    /// Whether the connection is to be closed (after what the output holds
    /// is sent): nothing more is read from it.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Bytes received and not yet handled (those of an incomplete request,
    /// or of requests waiting while the output drains).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Heap bytes the connection holds for what it received: the
    /// capacity of its receive buffer and of a chunked body being
    /// decoded (what counts towards [`Limits::max_buffered`]).
    pub fn held(&self) -> usize {
        let body = match &self.phase {
            Phase::Chunked(_, body, _) => body.capacity(),
            _ => 0,
        };
        self.buf.capacity() + body
    }

    /// Buffers `input`, if the buffers' capacity stays within `room`
    /// bytes (else nothing is buffered).
    pub(crate) fn push(&mut self, input: &[u8], room: usize) -> Result<(), Reject> {
        if self.is_closed() || input.is_empty() {
            return Ok(());
        }
        let most = room.saturating_sub(self.held() - self.buf.capacity());
        grow(&mut self.buf, input.len(), most)?;
        self.buf.extend_from_slice(input);
        Ok(())
    }

    /// The method of the request that `input` (not buffered) continues,
    /// as far as it is known.
    pub(crate) fn method_of(&self, input: &[u8]) -> Method {
        match &self.phase {
            Phase::Length(head, _) | Phase::Chunked(head, ..) => head.method,
            _ if self.buffered() > 0 => method_hint(&self.buf[self.pos..]),
            _ => method_hint(input),
        }
    }

    pub(crate) fn close(&mut self) {
        self.phase = Phase::Closed;
        self.buf = Vec::new();
        self.pos = 0;
    }

    /// Between requests (not inside a head or a body).
    pub(crate) fn between_requests(&self) -> bool {
        matches!(self.phase, Phase::Head) && self.scanned == 0
    }

    /// The bytes of `body`.
    pub(crate) fn body<'a>(&'a self, body: &'a Body) -> &'a [u8] {
        match body {
            Body::Buffered(range) => &self.buf[range.clone()],
            Body::Decoded(bytes) => bytes,
        }
    }

    /// Drops the handled bytes (which invalidates the ranges of earlier
    /// [`Body::Buffered`]) and, between requests, memory the buffer no
    /// longer needs (inside a body it keeps the room made for it).
    pub(crate) fn compact(&mut self) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if !matches!(self.phase, Phase::Head) {
            return;
        }
        if self.buf.is_empty() && self.buf.capacity() > IDLE_CAPACITY {
            self.buf = Vec::new();
        } else if self.buf.capacity() > KEEP_CAPACITY && self.buf.len() <= KEEP_CAPACITY / 4 {
            self.buf.shrink_to(KEEP_CAPACITY / 4);
        }
    }

    /// Reads on in the received bytes; the buffers' capacity may grow to
    /// `room` bytes.
    pub(crate) fn poll(&mut self, limits: &Limits, room: usize) -> Event {
        loop {
            match core::mem::replace(&mut self.phase, Phase::Closed) {
                Phase::Head => match self.read_head(limits) {
                    Ok(None) => {
                        self.phase = Phase::Head;
                        return Event::NeedMore;
                    }
                    Ok(Some(head)) => {
                        // A body of known length gets its room at once (one
                        // allocation), or the request is refused before it
                        // arrives.
                        if let Framing::Length(n) = head.framing {
                            let short = self.pos.saturating_add(n).saturating_sub(self.buf.len());
                            if let Err(reject) = grow(&mut self.buf, short, room) {
                                return self.reject(Rejected {
                                    reject,
                                    method: head.method,
                                });
                            }
                        }
                        // RFC 9110 §10.1.1 lets a server that already has
                        // (some of) the body skip the interim response.
                        let owe_continue = head.expect_continue
                            && head.framing != Framing::Empty
                            && self.buffered() == 0;
                        self.phase = match head.framing {
                            Framing::Empty => Phase::Length(head, 0),
                            Framing::Length(n) => Phase::Length(head, n),
                            Framing::Chunked => Phase::Chunked(head, Vec::new(), Chunk::Size),
                        };
                        if owe_continue {
                            return Event::Continue;
                        }
                    }
                    Err(rejected) => return self.reject(rejected),
                },
                Phase::Length(head, n) => {
                    if self.buffered() < n {
                        self.phase = Phase::Length(head, n);
                        return Event::NeedMore;
                    }
                    let body = self.pos..self.pos + n;
                    self.pos += n;
                    self.phase = Phase::Head;
                    return Event::Request(head, Body::Buffered(body));
                }
                Phase::Chunked(head, mut body, mut chunk) => {
                    match self.read_chunked(&mut body, &mut chunk, limits, room) {
                        Ok(true) => {
                            self.phase = Phase::Head;
                            return Event::Request(head, Body::Decoded(body));
                        }
                        Ok(false) => {
                            self.phase = Phase::Chunked(head, body, chunk);
                            return Event::NeedMore;
                        }
                        Err(reject) => {
                            return self.reject(Rejected {
                                reject,
                                method: head.method,
                            });
                        }
                    }
                }
                Phase::Closed => return Event::NeedMore,
            }
        }
    }

    fn reject(&mut self, rejected: Rejected) -> Event {
        self.close();
        Event::Reject(rejected)
    }

    /// The next head, consumed; `None` while it is incomplete.
    fn read_head(&mut self, limits: &Limits) -> Result<Option<Head>, Rejected> {
        if self.scanned == 0 {
            // RFC 9112 §2.2: empty lines before a request line are ignored.
            loop {
                match &self.buf[self.pos..] {
                    [b'\r', b'\n', ..] => self.pos += 2,
                    [b'\n', ..] => self.pos += 1,
                    [b'\r'] => return Ok(None),
                    _ => break,
                }
            }
        }
        let avail = &self.buf[self.pos..];
        let window = &avail[..avail.len().min(limits.max_head)];
        let mut end = None;
        while let Some(i) = window[self.scanned..].iter().position(|&b| b == b'\n') {
            let lf = self.scanned + i;
            let line = &window[self.line_start..lf];
            self.scanned = lf + 1;
            if line.is_empty() || line == b"\r" {
                end = Some(lf + 1);
                break;
            }
            self.line_start = lf + 1;
            self.seen_lf = true;
        }
        let Some(end) = end else {
            self.scanned = window.len();
            if avail.len() < limits.max_head {
                return Ok(None);
            }
            return Err(Rejected {
                reject: if self.seen_lf {
                    Reject::HeadTooLarge
                } else {
                    Reject::LineTooLong
                },
                method: method_hint(avail),
            });
        };
        let head = head::parse(&avail[..end], limits);
        self.pos += end;
        self.scanned = 0;
        self.line_start = 0;
        self.seen_lf = false;
        head.map(Some)
    }

    /// Decodes what arrived of a chunked body into `body`, whose capacity
    /// may grow to what the receive buffer leaves of `room`; `true` once
    /// the body and its trailer section are complete.
    fn read_chunked(
        &mut self,
        body: &mut Vec<u8>,
        chunk: &mut Chunk,
        limits: &Limits,
        room: usize,
    ) -> Result<bool, Reject> {
        loop {
            match *chunk {
                Chunk::Size => {
                    let Some(line) = self
                        .take_line(limits.max_head)
                        .map_err(|()| Reject::Chunk)?
                    else {
                        return Ok(false);
                    };
                    let size = chunk_size(&self.buf[line])?;
                    *chunk = if size == 0 {
                        Chunk::Trailer(0)
                    } else if size <= limits.max_body - body.len() {
                        Chunk::Data(size)
                    } else {
                        return Err(Reject::BodyTooLarge);
                    };
                }
                Chunk::Data(left) => {
                    let n = left.min(self.buffered());
                    let most = room
                        .saturating_sub(self.buf.capacity())
                        .min(limits.max_body);
                    grow(body, n, most)?;
                    body.extend_from_slice(&self.buf[self.pos..self.pos + n]);
                    self.pos += n;
                    if n < left {
                        *chunk = Chunk::Data(left - n);
                        return Ok(false);
                    }
                    *chunk = Chunk::DataEnd;
                }
                Chunk::DataEnd => match self.take_line(1).map_err(|()| Reject::Chunk)? {
                    None => return Ok(false),
                    Some(line) if line.is_empty() => *chunk = Chunk::Size,
                    Some(_) => return Err(Reject::Chunk),
                },
                Chunk::Trailer(read) => {
                    let start = self.pos;
                    let line = self
                        .take_line(limits.max_head.saturating_sub(read))
                        .map_err(|()| Reject::HeadTooLarge)?;
                    match line {
                        None => return Ok(false),
                        Some(line) if line.is_empty() => return Ok(true),
                        Some(_) => *chunk = Chunk::Trailer(read + (self.pos - start)),
                    }
                }
            }
        }
    }

    /// The next line (its range in the buffer, without its CR LF or LF),
    /// consumed; `None` while it is incomplete; `Err` when no LF comes
    /// within `max` bytes of it.
    fn take_line(&mut self, max: usize) -> Result<Option<Range<usize>>, ()> {
        let avail = &self.buf[self.pos..];
        let window = &avail[..avail.len().min(max.saturating_add(1))];
        match window[self.scanned..].iter().position(|&b| b == b'\n') {
            Some(i) => {
                let lf = self.scanned + i;
                let end = if lf > 0 && avail[lf - 1] == b'\r' {
                    lf - 1
                } else {
                    lf
                };
                let line = self.pos..self.pos + end;
                self.pos += lf + 1;
                self.scanned = 0;
                Ok(Some(line))
            }
            None if avail.len() > max => Err(()),
            None => {
                self.scanned = window.len();
                Ok(None)
            }
        }
    }
}

/// The size of a chunk-size line (`hex [; extensions]`); extensions are
/// ignored.
fn chunk_size(line: &[u8]) -> Result<usize, Reject> {
    let digits = line
        .iter()
        .position(|&b| crate::route::hex(b).is_none())
        .unwrap_or(line.len());
    if digits == 0 || !matches!(line.get(digits), None | Some(b';' | b' ' | b'\t')) {
        return Err(Reject::Chunk);
    }
    line[..digits].iter().try_fold(0usize, |n, &b| {
        let digit = usize::from(crate::route::hex(b).unwrap_or(0));
        n.checked_mul(16)
            .and_then(|n| n.checked_add(digit))
            .ok_or(Reject::BodyTooLarge)
    })
}

/// The method of a head too long to parse, if its request line gets that
/// far (for the metrics, and to send no body in answer to `HEAD`).
fn method_hint(head: &[u8]) -> Method {
    match head.iter().take(16).position(|&b| b == b' ') {
        Some(space) => Method::from_token(&head[..space]),
        None => Method::Other,
    }
}
