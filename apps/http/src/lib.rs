//! The HTTP front end's protocol core: HTTP/1.1 (and 1.0) requests in, a
//! REST interface to a key-value [`Store`] out. It knows nothing of
//! sockets: the component's glue owns them, keeps one [`Connection`] per
//! TCP connection, and passes each chunk it receives to [`Server::feed`],
//! which appends the responses to an output buffer and says what to do
//! next ([`Flow`]). `docs/http.md` describes the routes, the statuses, the
//! limits and the metrics.
//!
//! ```
//! use http::{Flow, Limits, Server};
//! use kvs::{Connection, Kvs, KvsClient, KvsServer, ManualClock};
//! use libcap::rpc::Local;
//!
//! let kvs = Local::new(KvsServer::new(ManualClock(0), Vec::new()), KvsServer::rpc_dispatch);
//! let store = Connection::open(KvsClient::new(&kvs), None).unwrap();
//! let mut server = Server::new(store, Limits::default());
//! let mut conn = server.open();
//! let mut out = Vec::new();
//! let flow = server.feed(
//!     &mut conn,
//!     b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\nv\
//!       GET /kv/k HTTP/1.1\r\nHost: h\r\n\r\n",
//!     &mut out,
//! );
//! assert_eq!(flow, Flow::Read);
//! assert!(out.starts_with(b"HTTP/1.1 201 Created\r\n"));
//! assert!(out.ends_with(b"Content-Length: 1\r\n\r\nv"));
//! server.close(conn);
//! ```
//!
//! The library is portable (`no_std`); its tests run on the host.

#![no_std]
#![warn(missing_docs)]

extern crate alloc;

mod budget;
mod conn;
mod head;
mod metrics;
mod response;
mod route;
mod status;
mod store;

#[cfg(test)]
mod tests;

use alloc::vec::Vec;

pub use budget::CONNECTION_COST;
pub use conn::Connection;
pub use head::Reject;
pub use metrics::Metrics;
pub use status::{Method, Status};
pub use store::{SetOutcome, Store, StoreError, StoreStats};

use conn::Event;
use head::{Head, Rejected};
use response::{JSON, OCTET_STREAM, PROMETHEUS, Persist, Response};
use route::Route;

/// The bounds on what one connection may make the server hold.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Limits {
    /// The most bytes of a request's head (request line and header fields,
    /// line ends included): beyond, 414 if the request line has not ended,
    /// else 431. Also bounds a chunk-size line (400) and a chunked body's
    /// trailer section (431).
    pub max_head: usize,
    /// The most header fields in a head (431 beyond).
    pub max_fields: usize,
    /// The most bytes of a request's body, chunked or not (413 beyond).
    /// The kvs connection must carry a `SET` of a value this large: keep it
    /// at most the size of the client's shared region less `max_head` and
    /// 128 bytes.
    pub max_body: usize,
    /// [`Server::feed`] stops answering requests once the output buffer
    /// holds this many bytes, and returns [`Flow::Drain`].
    pub output_pause: usize,
    /// The most heap bytes every connection together may hold for what it
    /// received: receive buffers (a head, a body, pipelined requests) and
    /// chunked bodies being decoded, counted by capacity. Bytes that would
    /// take more are not buffered: the request gets 503 and its connection
    /// closes. [`Limits::fit`] derives it from the heap.
    pub max_buffered: usize,
}

impl Default for Limits {
    /// 8 KiB of head, 100 fields, 1 MiB of body, pause at 64 KiB of
    /// output, 4 MiB of received bytes in all.
    fn default() -> Self {
        Self {
            max_head: 8 * 1024,
            max_fields: 100,
            max_body: 1024 * 1024,
            output_pause: 64 * 1024,
            max_buffered: 4 * 1024 * 1024,
        }
    }
}

/// What the glue does after [`Server::feed`] (the net library's type, so
/// that [`Server`] is a [`net_api::serve::Protocol`]):
///
/// - `Read`: send what the output holds; feed the next bytes received.
/// - `Drain`: requests wait in the connection while the output holds
///   [`Limits::output_pause`] bytes or more: send the output, then call
///   [`Server::feed`] again (with no new bytes) before receiving more.
/// - `Close`: send what the output holds, then close the connection (and
///   call [`Server::close`]). Later calls to [`Server::feed`] ignore their
///   input and return `Close` again.
pub use net_api::serve::Flow;

/// The server: the store, the limits and the metrics every connection
/// shares.
#[derive(Debug)]
pub struct Server<S> {
    store: S,
    limits: Limits,
    metrics: Metrics,
    /// Heap bytes the connections hold for received bytes, as of their
    /// last [`Server::feed`]: within [`Limits::max_buffered`].
    buffered: usize,
}

impl<S: Store> Server<S> {
    /// A server answering from `store` within `limits`.
    pub fn new(store: S, limits: Limits) -> Self {
        Self {
            store,
            limits,
            metrics: Metrics::default(),
            buffered: 0,
        }
    }

    /// The state of a connection just accepted (counted in the metrics).
    pub fn open(&mut self) -> Connection {
        self.metrics.connection_opened();
        Connection::new()
    }

    /// Counts `conn` closed, by either side, and drops it.
    pub fn close(&mut self, conn: Connection) {
        self.buffered = self.buffered.saturating_sub(conn.held());
        drop(conn);
        self.metrics.connection_closed();
    }

    /// Heap bytes every connection together holds for received bytes
    /// (at most [`Limits::max_buffered`]).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Takes `input`, the next bytes received on `conn` (any number: part
    /// of a request, or several pipelined ones), answers every request
    /// complete by then, in order, appending the responses to `out`, and
    /// says what to do next. `out` may still hold unsent bytes of earlier
    /// responses; they count towards [`Limits::output_pause`]. The
    /// connection's received bytes may take what the others leave of
    /// [`Limits::max_buffered`].
    pub fn feed(&mut self, conn: &mut Connection, input: &[u8], out: &mut Vec<u8>) -> Flow {
        if conn.is_closed() {
            return Flow::Close;
        }
        let out_start = out.len();
        let others = self.buffered.saturating_sub(conn.held());
        let room = self.limits.max_buffered.saturating_sub(others);
        let flow = match conn.push(input, room) {
            Ok(()) => self.answer_all(conn, room, out),
            Err(reject) => {
                let method = conn.method_of(input);
                conn.close();
                self.reject(Rejected { reject, method }, out);
                Flow::Close
            }
        };
        conn.compact();
        self.buffered = others + conn.held();
        self.metrics
            .count_bytes(input.len(), out.len().saturating_sub(out_start));
        flow
    }

    /// Answers the requests complete in what `conn` holds, in order.
    fn answer_all(&mut self, conn: &mut Connection, room: usize, out: &mut Vec<u8>) -> Flow {
        loop {
            if out.len() >= self.limits.output_pause
                && conn.between_requests()
                && conn.buffered() > 0
            {
                break Flow::Drain;
            }
            match conn.poll(&self.limits, room) {
                Event::NeedMore => break Flow::Read,
                Event::Continue => out.extend_from_slice(response::CONTINUE),
                Event::Reject(rejected) => {
                    self.reject(rejected, out);
                    break Flow::Close;
                }
                Event::Request(head, body) => {
                    self.answer(&head, conn.body(&body), out);
                    if !head.keep_alive {
                        conn.close();
                        break Flow::Close;
                    }
                }
            }
        }
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics, for the glue to count what only it sees.
    pub fn metrics_mut(&mut self) -> &mut Metrics {
        &mut self.metrics
    }

    /// The store.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// Answers a request the stream could not carry on from; the
    /// connection closes after it.
    fn reject(&mut self, rejected: Rejected, out: &mut Vec<u8>) {
        let status = rejected.reject.status();
        let mut body = Vec::new();
        response::json_object(&mut body, "error", rejected.reject.message());
        Response {
            status,
            content_type: Some(JSON),
            body: &body,
            allow: None,
        }
        .write(Persist::Close, rejected.method == Method::Head, out);
        self.metrics.count_request(rejected.method, status);
    }

    /// Answers a complete request.
    fn answer(&mut self, head: &Head, body: &[u8], out: &mut Vec<u8>) {
        let reply = self.route(head, body);
        let persist = match (head.keep_alive, head.http10) {
            (false, _) => Persist::Close,
            (true, true) => Persist::KeepAlive,
            (true, false) => Persist::Implicit,
        };
        Response {
            status: reply.status,
            content_type: reply.content_type,
            body: &reply.body,
            allow: reply.allow,
        }
        .write(persist, head.method == Method::Head, out);
        self.metrics.count_request(head.method, reply.status);
    }

    fn route(&mut self, head: &Head, body: &[u8]) -> Reply {
        match (&head.route, head.method) {
            (Route::BadKey(e), _) => Reply::error(Status::BadRequest, e.message()),
            (Route::NotFound, _) => Reply::error(Status::NotFound, "no such resource"),
            (Route::Kv(key), Method::Get | Method::Head) => match self.store.get(key) {
                Ok(Some(value)) => Reply::ok(OCTET_STREAM, value),
                Ok(None) => Reply::error(Status::NotFound, "no such key"),
                Err(e) => Reply::store_error(&e, false),
            },
            (Route::Kv(key), Method::Put) => match self.store.set(key, body) {
                Ok(SetOutcome::Created) => Reply::empty(Status::Created),
                Ok(SetOutcome::Replaced) => Reply::empty(Status::NoContent),
                Err(e) => Reply::store_error(&e, true),
            },
            (Route::Kv(key), Method::Delete) => match self.store.delete(key) {
                Ok(true) => Reply::empty(Status::NoContent),
                Ok(false) => Reply::error(Status::NotFound, "no such key"),
                Err(e) => Reply::store_error(&e, false),
            },
            (Route::Health, Method::Get | Method::Head) => match self.store.ping() {
                Ok(()) => {
                    let mut body = Vec::new();
                    response::json_object(&mut body, "status", "ok");
                    Reply::ok(JSON, body)
                }
                Err(e) => Reply::error(Status::ServiceUnavailable, e.message()),
            },
            (Route::Metrics, Method::Get | Method::Head) => {
                let stats = self.store.stats();
                let mut body = Vec::new();
                self.metrics.render(&stats, &mut body);
                Reply::ok(PROMETHEUS, body)
            }
            (route, _) => Reply {
                allow: Some(route.allow()),
                ..Reply::error(Status::MethodNotAllowed, "method not allowed")
            },
        }
    }
}

/// A response's status, fields and body, before it is written.
struct Reply {
    status: Status,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    allow: Option<&'static str>,
}

impl Reply {
    fn ok(content_type: &'static str, body: Vec<u8>) -> Self {
        Self {
            status: Status::Ok,
            content_type: Some(content_type),
            body,
            allow: None,
        }
    }

    fn empty(status: Status) -> Self {
        Self {
            status,
            content_type: None,
            body: Vec::new(),
            allow: None,
        }
    }

    fn error(status: Status, message: &str) -> Self {
        let mut body = Vec::new();
        response::json_object(&mut body, "error", message);
        Self {
            status,
            content_type: Some(JSON),
            body,
            allow: None,
        }
    }

    /// The answer to a store's error; `put`: it came from storing a body.
    fn store_error(e: &StoreError, put: bool) -> Self {
        let status = match e {
            StoreError::WrongType => Status::Conflict,
            StoreError::TooLarge if put => Status::ContentTooLarge,
            StoreError::TooLarge | StoreError::BadReply => Status::InternalServerError,
            StoreError::Refused(_) | StoreError::Unavailable => Status::ServiceUnavailable,
        };
        Self::error(status, e.message())
    }
}

/// The server on the net server's sockets: `net_api::serve::StreamServer`
/// runs it, one [`Connection`] per TCP connection.
impl<S: Store> net_api::serve::Protocol for Server<S> {
    type Conn = Connection;

    fn open(&mut self, _peer: net_api::proto::Endpoint, _port: u16) -> Connection {
        Server::open(self)
    }

    fn feed(&mut self, conn: &mut Connection, input: &[u8], out: &mut Vec<u8>) -> Flow {
        Server::feed(self, conn, input, out)
    }

    fn close(&mut self, conn: Connection) {
        Server::close(self, conn)
    }

    fn refused(&mut self) {
        self.metrics.connection_refused();
    }

    fn listening(&mut self, port: u16, ok: bool) {
        if ok {
            libcap::log::info!("listening on port {port}");
        } else {
            libcap::log::error!("cannot listen on port {port}: another app has it");
        }
    }
}
