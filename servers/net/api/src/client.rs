//! The apps' side of the net server: [`Sockets`], for a single-threaded
//! event loop.
//!
//! ```no_run
//! use net_api::client::{Event, Sockets};
//! # use libcap::{Notification, start::SharedRegion};
//! # fn run(region: SharedRegion, event: Notification, wake: Notification) {
//! // The grants as the app's arguments bind them (`args.region.cap`,
//! // `args.net_event.cap`, `args.net_wake.cap`: docs/net.md, "Wiring").
//! let mut net = Sockets::attach(region, event, wake).expect("a usable region");
//! net.io().listen(7, 16);
//! loop {
//!     net.wait(); // until there are events
//!     while let Some((event, io)) = net.next_event() {
//!         match event {
//!             Event::Received { conn, data } => {
//!                 io.send(conn, data); // short if out of credit: see Writable
//!             }
//!             Event::Eof { conn } => io.close(conn),
//!             _ => {}
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! Requests ([`Io`]'s methods) go into the request ring and reach the
//! server in batches: [`Sockets::wait`] (or [`Sockets::flush`]) publishes
//! them and wakes the server if it sleeps. Received bytes are lent in
//! place from the shared region until the next call of
//! [`Sockets::next_event`]. A send takes what the connection's credit and the
//! tx ring allow and says how much; when more room comes, a
//! [`Event::Writable`] follows.

use crate::proto::MAX_DATAGRAM;
use crate::proto::{
    self, AttachError, ByteRing, CloseReason, ControlBlock, Endpoint, Error, Event as Raw, Request,
    Writer, ev, op,
};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use libcap::Notification;
use libcap::ring::{Consumer, Producer, Wake};
use libcap::start::SharedRegion;

/// A connection, as the server named it: a slot and that slot's
/// generation, so that a stale id never reaches a newer connection.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct ConnId {
    /// The server's slot.
    pub slot: u32,
    /// The slot's generation.
    pub generation: u32,
}

/// What happened, as [`Sockets::next_event`] reports it.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// The server (re)started: connections, listeners and bindings of
    /// before are gone (listen again). The first event an app sees.
    Reset {
        /// The server's generation (1 at the first start).
        generation: u32,
    },
    /// The server's address, or `None` while it has none (DHCP pending).
    Address(Option<[u8; 4]>),
    /// The answer to [`Io::listen`].
    Listening {
        /// The port.
        port: u16,
        /// Whether it listens.
        result: Result<(), Error>,
    },
    /// A peer connected to a port the app listens on.
    Accepted {
        /// The new connection.
        conn: ConnId,
        /// The local port.
        port: u16,
        /// The peer's address and port.
        peer: Endpoint,
    },
    /// Bytes from the peer, lent until the next [`Sockets::next_event`].
    Received {
        /// The connection.
        conn: ConnId,
        /// The bytes (in the shared region).
        data: &'a [u8],
    },
    /// The connection can take more: its credit grew, or ring space came
    /// back after a short send.
    Writable {
        /// The connection.
        conn: ConnId,
    },
    /// The peer finished sending; the app may still send, then close.
    Eof {
        /// The connection.
        conn: ConnId,
    },
    /// The connection is gone (not reported for connections the app
    /// closed itself).
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        reason: CloseReason,
    },
    /// The answer to [`Io::bind_udp`].
    Bound {
        /// The port.
        port: u16,
        /// Whether it is bound.
        result: Result<(), Error>,
    },
    /// A UDP datagram for a bound port, lent until the next
    /// [`Sockets::next_event`].
    Datagram {
        /// The local port.
        port: u16,
        /// The sender.
        from: Endpoint,
        /// The payload.
        data: &'a [u8],
    },
}

/// Why a datagram was not sent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SendToError {
    /// Larger than [`MAX_DATAGRAM`].
    TooLarge,
    /// No room in the rings now: try again after [`Sockets::wait`].
    Full,
}

/// A connection's state as the app sees it.
#[derive(Clone, Copy, Debug, Default)]
struct Conn {
    credit: u64,
}

/// The request side: what an app does to connections. Reached through
/// [`Sockets::io`], or next to each event from [`Sockets::next_event`].
pub struct Io<W> {
    requests: Producer<Request>,
    tx: ByteRing,
    writer: Writer,
    control: ControlBlock,
    conns: BTreeMap<ConnId, Conn>,
    /// Control requests waiting for room in the request ring, in order.
    queued: VecDeque<Request>,
    /// Connections whose send the rings cut short: they get a Writable
    /// when room comes back.
    blocked: BTreeSet<ConnId>,
    /// Requests were published since the server was last told: only
    /// then does `flush` wake it (a sleeping server asks to be woken
    /// every time it sleeps, so a wake-up for nothing costs it a round).
    published: bool,
    server: W,
}

/// An app's connection to the net server: the event side and the
/// request side ([`Io`]) of its shared region.
pub struct Sockets<W = Notification> {
    events: Consumer<Raw>,
    rx: ByteRing,
    control: ControlBlock,
    /// The end of the last lent payload: released on the next call.
    lent: Option<u64>,
    io: Io<W>,
    own: Option<Notification>,
    /// This attachment's HELLO token.
    token: u64,
    /// The server answered the HELLO: events before are a predecessor's.
    synced: bool,
}

impl Sockets<Notification> {
    /// Attaches to the server through `region` (shared with the net server
    /// only), waiting on `event` (the notification the server signals for
    /// this region: its `app-<region>` argument) and signalling `server`
    /// (the notification it sleeps on). A component binds all three from
    /// its arguments (docs/net.md, "Wiring").
    ///
    /// # Errors
    ///
    /// The region is too small or misaligned.
    pub fn attach(
        region: SharedRegion,
        event: Notification,
        server: Notification,
    ) -> Result<Self, AttachError> {
        let mut sockets = Self::new(region, server)?;
        sockets.own = Some(event);
        Ok(sockets)
    }

    /// Publishes the requests, then blocks until an event is there (or,
    /// after a short send, ring space came back).
    pub fn wait(&mut self) {
        self.wait_until(None);
    }

    /// Like [`wait`](Self::wait), but no longer than until the time-stamp
    /// counter reaches `deadline`, if one is given.
    pub fn wait_until(&mut self, deadline: Option<u64>) {
        let own = self.own;
        self.wait_with(|| {
            // A failed wait (the capability gone) or the deadline: the
            // loop goes on, and finds out what is there.
            if let Some(n) = own {
                let _ = match deadline {
                    Some(tsc) => n.wait_until(tsc),
                    None => n.wait(),
                };
            }
        });
    }
}

impl<W: Wake> Sockets<W> {
    /// The app's side of `region`; `server` wakes the server. (On Basalt,
    /// [`Sockets::attach`] also waits on the app's own notification.)
    ///
    /// # Errors
    ///
    /// The region is too small or misaligned.
    pub fn new(region: SharedRegion, server: W) -> Result<Self, AttachError> {
        let (_, parts) = proto::split(region)?;
        let control = parts.control();
        let io_control = parts.control();
        let (requests, events) = proto::app_rings(parts.requests, parts.events)?;
        // A restarted app continues where its predecessor stopped, so
        // that requests still in the ring keep their payload.
        let writer = Writer::resume(
            parts.tx.size(),
            io_control.tx_written(),
            io_control.tx_released(),
        );
        let token = io_control.next_epoch();
        let mut sockets = Self {
            events,
            rx: parts.rx,
            control,
            lent: None,
            io: Io {
                requests,
                tx: parts.tx,
                writer,
                control: io_control,
                conns: BTreeMap::new(),
                queued: VecDeque::new(),
                blocked: BTreeSet::new(),
                published: false,
                server,
            },
            own: None,
            token,
            synced: false,
        };
        sockets.io.control(Request {
            op: op::HELLO,
            arg: token,
            ..Request::default()
        });
        Ok(sockets)
    }

    /// The request side.
    pub fn io(&mut self) -> &mut Io<W> {
        &mut self.io
    }

    /// Publishes the requests made so far and the payload and event
    /// slots released, and wakes the server if it waits for any of them.
    /// The server is woken here only, never while the app takes events:
    /// once per batch, however many events it holds (a server above the
    /// app's priority would otherwise run a round per event).
    pub fn flush(&mut self) {
        self.release();
        self.control.notify_rx(&self.io.server);
        self.events.notify(&self.io.server);
        self.io.flush();
    }

    /// Releases the payload lent last (the server sees it on its next
    /// pass).
    fn release(&mut self) {
        if let Some(end) = self.lent.take() {
            self.control.release_rx(end);
        }
    }

    /// The next event and the request side, or `None` when there is
    /// nothing now. Payload is lent until the next call.
    pub fn next_event(&mut self) -> Option<(Event<'_>, &mut Io<W>)> {
        self.release();
        self.io.writer.update(self.io.control.tx_released());
        if let Some(&conn) = self.io.blocked.first()
            && self.io.has_room()
        {
            self.io.blocked.remove(&conn);
            if self.io.conns.contains_key(&conn) {
                return Some((Event::Writable { conn }, &mut self.io));
            }
        }
        loop {
            let raw = self.events.try_pop()?;
            let conn = ConnId {
                slot: raw.conn,
                generation: raw.generation,
            };
            if !self.synced {
                // A predecessor's events, until the answer to our HELLO.
                if raw.kind == ev::RESET && raw.arg == self.token {
                    self.synced = true;
                } else if raw.kind == ev::DATA || raw.kind == ev::DATAGRAM {
                    // SAFETY: as for the lent payload below; only its
                    // length is used.
                    let n = unsafe { self.rx.slice(raw.pos, raw.len as usize) }.len();
                    self.control.release_rx(raw.pos.wrapping_add(n as u64));
                    continue;
                } else {
                    continue;
                }
            }
            let known = self.io.conns.contains_key(&conn);
            let event = match raw.kind {
                ev::RESET => {
                    self.io.conns.clear();
                    self.io.blocked.clear();
                    Event::Reset {
                        generation: raw.len,
                    }
                }
                ev::ADDRESS => {
                    Event::Address((raw.arg != 0).then(|| Endpoint::unpack(raw.arg).addr))
                }
                ev::LISTENING => Event::Listening {
                    port: raw.arg as u16,
                    result: Error::from_code(raw.len).map_or(Ok(()), Err),
                },
                ev::BOUND => Event::Bound {
                    port: raw.arg as u16,
                    result: Error::from_code(raw.len).map_or(Ok(()), Err),
                },
                ev::ACCEPTED => {
                    self.io.conns.insert(
                        conn,
                        Conn {
                            credit: u64::from(raw.len),
                        },
                    );
                    Event::Accepted {
                        conn,
                        port: raw.pos as u16,
                        peer: Endpoint::unpack(raw.arg),
                    }
                }
                ev::DATA | ev::DATAGRAM => {
                    // SAFETY: the server handed these bytes over with the
                    // event and does not write them before the release on
                    // the next call; the slice lives until then (it
                    // borrows `self`).
                    let data = unsafe { self.rx.slice(raw.pos, raw.len as usize) };
                    self.lent = Some(raw.pos.wrapping_add(data.len() as u64));
                    if raw.kind == ev::DATAGRAM {
                        Event::Datagram {
                            port: raw.conn as u16,
                            from: Endpoint::unpack(raw.arg),
                            data,
                        }
                    } else if known {
                        Event::Received { conn, data }
                    } else {
                        // Data of a connection closed meanwhile.
                        self.control
                            .release_rx(raw.pos.wrapping_add(data.len() as u64));
                        self.lent = None;
                        continue;
                    }
                }
                ev::WRITABLE if known => {
                    if let Some(c) = self.io.conns.get_mut(&conn) {
                        c.credit = c.credit.saturating_add(u64::from(raw.len));
                    }
                    Event::Writable { conn }
                }
                ev::EOF if known => Event::Eof { conn },
                ev::CLOSED if known => {
                    self.io.conns.remove(&conn);
                    self.io.blocked.remove(&conn);
                    Event::Closed {
                        conn,
                        reason: CloseReason::from_code(raw.len),
                    }
                }
                // Events of connections the app closed, and kinds this
                // library does not know.
                _ => continue,
            };
            return Some((event, &mut self.io));
        }
    }

    /// Publishes the requests, then calls `block` (which waits for the
    /// app's notification) unless an event or ring room is there already.
    pub fn wait_with(&mut self, block: impl FnOnce()) {
        self.flush();
        if !self.events.is_empty() {
            return;
        }
        let wants_room = !self.io.blocked.is_empty() || !self.io.queued.is_empty();
        if wants_room && self.io.has_room() {
            return;
        }
        let events = self.events.request_wake();
        let room = wants_room && self.io.requests.request_wake();
        if !events && !room {
            block();
        }
    }
}

impl<W: Wake> Io<W> {
    /// Whether a send could go out now (request slot and tx bytes free).
    fn has_room(&mut self) -> bool {
        self.writer.update(self.control.tx_released());
        self.requests.free() > 0 && self.writer.free() > 0
    }

    /// Publishes queued requests and wakes the server if it waits.
    fn flush(&mut self) {
        while let Some(&r) = self.queued.front() {
            if !self.push(r) {
                break;
            }
            self.queued.pop_front();
        }
        if self.published {
            self.published = false;
            self.requests.notify(&self.server);
        }
    }

    /// Publishes `r` in the request ring; false if the ring is full.
    fn push(&mut self, r: Request) -> bool {
        let pushed = self.requests.try_push(r).is_ok();
        self.published |= pushed;
        pushed
    }

    /// Queues request `r` as it is, unchecked, behind earlier ones: what a
    /// broken or hostile app could write into its ring, which the server
    /// must survive (its tests send such requests this way).
    pub fn control(&mut self, r: Request) {
        if self.queued.is_empty() && self.push(r) {
            return;
        }
        self.queued.push_back(r);
    }

    /// Listens on TCP port `port`, keeping `backlog` sockets ready for
    /// connections (the server caps it). An [`Event::Listening`] answers.
    pub fn listen(&mut self, port: u16, backlog: u16) {
        self.control(Request {
            op: op::LISTEN,
            len: u32::from(port),
            arg: u64::from(backlog),
            ..Request::default()
        });
    }

    /// Stops listening on `port`; accepted connections stay.
    pub fn unlisten(&mut self, port: u16) {
        self.control(Request {
            op: op::UNLISTEN,
            len: u32::from(port),
            ..Request::default()
        });
    }

    /// Whether `conn` is open (accepted, not closed, not gone).
    pub fn is_open(&self, conn: ConnId) -> bool {
        self.conns.contains_key(&conn)
    }

    /// Connections open.
    pub fn open_connections(&self) -> usize {
        self.conns.len()
    }

    /// Bytes `conn` may send now (its credit; the rings may take less).
    pub fn credit(&self, conn: ConnId) -> usize {
        self.conns
            .get(&conn)
            .map_or(0, |c| usize::try_from(c.credit).unwrap_or(usize::MAX))
    }

    /// Sends up to `data.len()` bytes on `conn`; returns how many were
    /// taken (0 for a closed connection). Fewer than asked: wait for an
    /// [`Event::Writable`] of `conn` and send the rest.
    pub fn send(&mut self, conn: ConnId, data: &[u8]) -> usize {
        let Some(state) = self.conns.get(&conn).copied() else {
            return 0;
        };
        let credit = usize::try_from(state.credit).unwrap_or(usize::MAX);
        let want = data.len().min(credit);
        self.flush();
        let mut done = 0;
        while done < want {
            if !self.queued.is_empty() || !self.has_room() {
                break;
            }
            let (pos, n) = self.writer.reserve(want - done);
            self.tx.write(pos, &data[done..done + n]);
            let r = Request {
                op: op::SEND,
                conn: conn.slot,
                generation: conn.generation,
                len: n as u32,
                pos,
                ..Request::default()
            };
            if !self.push(r) {
                break;
            }
            self.writer.commit(pos, n);
            self.control.set_tx_written(self.writer.pos);
            done += n;
        }
        if let Some(c) = self.conns.get_mut(&conn) {
            c.credit -= done as u64;
        }
        if done < want {
            self.blocked.insert(conn);
        }
        done
    }

    /// Closes `conn` gracefully: what was sent goes out, then a FIN. No
    /// more events come for it.
    pub fn close(&mut self, conn: ConnId) {
        self.end(conn, op::CLOSE);
    }

    /// Resets `conn` (RST); what was not sent yet is dropped.
    pub fn abort(&mut self, conn: ConnId) {
        self.end(conn, op::ABORT);
    }

    fn end(&mut self, conn: ConnId, code: u32) {
        if self.conns.remove(&conn).is_some() {
            self.blocked.remove(&conn);
            self.control(Request {
                op: code,
                conn: conn.slot,
                generation: conn.generation,
                ..Request::default()
            });
        }
    }

    /// Stops (`false`) or restarts (`true`) the delivery of `conn`'s
    /// received bytes: while stopped, the peer's window closes.
    pub fn set_receiving(&mut self, conn: ConnId, on: bool) {
        if self.conns.contains_key(&conn) {
            self.control(Request {
                op: if on { op::RESUME } else { op::PAUSE },
                conn: conn.slot,
                generation: conn.generation,
                ..Request::default()
            });
        }
    }

    /// Binds UDP port `port`; an [`Event::Bound`] answers.
    pub fn bind_udp(&mut self, port: u16) {
        self.control(Request {
            op: op::UDP_BIND,
            len: u32::from(port),
            ..Request::default()
        });
    }

    /// Unbinds UDP port `port`.
    pub fn unbind_udp(&mut self, port: u16) {
        self.control(Request {
            op: op::UDP_UNBIND,
            len: u32::from(port),
            ..Request::default()
        });
    }

    /// Sends `data` as one datagram from bound port `port` to `to`.
    ///
    /// # Errors
    ///
    /// [`SendToError::TooLarge`] beyond [`MAX_DATAGRAM`] bytes;
    /// [`SendToError::Full`] when the rings have no room now.
    pub fn send_to(&mut self, port: u16, to: Endpoint, data: &[u8]) -> Result<(), SendToError> {
        if data.len() > MAX_DATAGRAM {
            return Err(SendToError::TooLarge);
        }
        self.flush();
        if !self.queued.is_empty() || !self.has_room() {
            return Err(SendToError::Full);
        }
        let pos = self
            .writer
            .reserve_whole(data.len())
            .ok_or(SendToError::Full)?;
        self.tx.write(pos, data);
        let r = Request {
            op: op::UDP_SEND,
            conn: u32::from(port),
            len: data.len() as u32,
            pos,
            arg: to.pack(),
            ..Request::default()
        };
        if !self.push(r) {
            return Err(SendToError::Full);
        }
        self.writer.commit(pos, data.len());
        self.control.set_tx_written(self.writer.pos);
        Ok(())
    }
}
