//! The wire between the net server and one app: a shared region holding a
//! control block, two descriptor rings ([`libcap::ring`]) and two byte
//! rings for payload. Both sides compute the same [`Layout`] from the
//! region's length.
//!
//! | part | written by | holds |
//! | --- | --- | --- |
//! | control block (4 KiB) | both, one field each | the byte rings' release positions, the server's "wake me when rx space frees" flag |
//! | request ring | app | [`Request`]s: listen, send, close, … |
//! | event ring | server | [`Event`]s: accepted, data, writable, closed, … |
//! | tx data | app | payload of [`op::SEND`] requests |
//! | rx data | server | payload of [`ev::DATA`] events |
//!
//! **Byte rings.** Payload goes into a byte ring at a *stream position*
//! (a byte count that only grows); its offset in the ring is the position
//! modulo the ring's size. A writer never splits one chunk across the
//! ring's end: it shortens the chunk instead (TCP data is a stream, so a
//! short chunk is fine) or, for a datagram that cannot be split, skips to
//! the ring's start. The reader releases chunks in order by storing the
//! end position of the last chunk it is done with; the writer may reuse
//! everything before it. The server copies a send's payload into the
//! socket when it takes the request off the ring, so tx data is released
//! as the request ring is consumed.
//!
//! **Credit.** The app may send on a connection only as many bytes as the
//! server granted ([`ev::WRITABLE`], and the initial grant in
//! [`ev::ACCEPTED`]): the socket's transmit buffer always has room for
//! what it was granted, so a send never waits inside the server and one
//! slow peer cannot hold the shared tx ring. The other way round, the
//! server keeps at most its receive window per connection unreleased in
//! the rx ring, so one connection the app is slow to read cannot fill it.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};
use libcap::ring::{self, Consumer, Descriptor, Producer, RingError, Wake};
use libcap::start::SharedRegion;

/// The largest datagram an app may send (an Ethernet MTU's worth).
pub const MAX_DATAGRAM: usize = 1472;

/// Bytes of the control block at the region's start.
pub const CONTROL_BYTES: usize = 4096;
/// The smallest region that holds a usable layout.
pub const MIN_REGION: usize = 64 * 1024;
/// The most descriptors a ring of the layout holds.
pub const MAX_RING: usize = 4096;
/// The fewest descriptors a ring of the layout holds.
pub const MIN_RING: usize = 64;

/// Request opcodes ([`Request::op`]).
pub mod op {
    /// Listen on TCP port `port` with `arg` listening sockets (the
    /// backlog). Answered by [`ev::LISTENING`](super::ev::LISTENING).
    pub const LISTEN: u32 = 1;
    /// Stop listening on `port` (connections already accepted stay).
    pub const UNLISTEN: u32 = 2;
    /// Send `len` bytes at tx position `pos` on connection `conn`, `generation`.
    pub const SEND: u32 = 3;
    /// Close connection `conn` gracefully: what was sent goes out, then a
    /// FIN. The app hears nothing more of it.
    pub const CLOSE: u32 = 4;
    /// Reset connection `conn` (RST); queued data is dropped.
    pub const ABORT: u32 = 5;
    /// Stop moving received data of `conn` to the app (the socket's
    /// receive buffer fills and the TCP window closes).
    pub const PAUSE: u32 = 6;
    /// Undo [`PAUSE`].
    pub const RESUME: u32 = 7;
    /// Bind UDP port `port`. Answered by [`ev::BOUND`](super::ev::BOUND).
    pub const UDP_BIND: u32 = 8;
    /// Send a datagram of `len` bytes at tx position `pos` from UDP port
    /// `port` to `arg` (an [`Endpoint`](super::Endpoint) packed with
    /// [`Endpoint::pack`](super::Endpoint::pack)).
    pub const UDP_SEND: u32 = 9;
    /// Unbind UDP port `port`.
    pub const UDP_UNBIND: u32 = 10;
    /// The app (re)attached with token `arg`: the server drops the app's
    /// connections, listeners and bindings and answers
    /// [`ev::RESET`](super::ev::RESET) with the token.
    pub const HELLO: u32 = 11;
}

/// Event kinds ([`Event::kind`]).
pub mod ev {
    /// The answer to [`op::LISTEN`](super::op::LISTEN): `port`, `status`
    /// (0 or an [`Error`](super::Error) code).
    pub const LISTENING: u32 = 1;
    /// A connection `conn`, `generation` was accepted on local port `pos` from
    /// `arg` (the peer, packed endpoint); `len` is the initial send
    /// credit.
    pub const ACCEPTED: u32 = 2;
    /// `len` bytes of `conn` at rx position `pos`.
    pub const DATA: u32 = 3;
    /// `len` more bytes of send credit for `conn`.
    pub const WRITABLE: u32 = 4;
    /// The peer of `conn` finished sending (FIN), after all its data.
    pub const EOF: u32 = 5;
    /// Connection `conn` is gone; `status` says why
    /// ([`CloseReason`](super::CloseReason) code). Not sent for a
    /// connection the app closed or aborted.
    pub const CLOSED: u32 = 6;
    /// The answer to [`op::UDP_BIND`](super::op::UDP_BIND): `port`,
    /// `status`.
    pub const BOUND: u32 = 7;
    /// A datagram for UDP port `port` from `arg` (packed endpoint):
    /// `len` bytes at rx position `pos`.
    pub const DATAGRAM: u32 = 8;
    /// The server (re)started (`arg` 0) or answers a HELLO (`arg` its
    /// token): every connection, listener and binding the app had is
    /// gone. `len` is the server's generation.
    pub const RESET: u32 = 9;
    /// The server's address changed: `arg` is the packed address (port 0),
    /// or 0 while it has none.
    pub const ADDRESS: u32 = 10;
}

/// A request, app to server: 32 bytes, the fields an opcode does not use
/// are zero.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct Request {
    /// An [`op`] code.
    pub op: u32,
    /// The connection's slot.
    pub conn: u32,
    /// The connection's generation (a slot's next connection has another).
    pub generation: u32,
    /// Payload length (send), or the port (listen, UDP).
    pub len: u32,
    /// Stream position of the payload in the tx ring.
    pub pos: u64,
    /// Backlog (listen), packed endpoint (UDP send).
    pub arg: u64,
}

// SAFETY: integers only, 32 bytes without padding.
unsafe impl Descriptor for Request {}

/// An event, server to app: 32 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct Event {
    /// An [`ev`] code.
    pub kind: u32,
    /// The connection's slot.
    pub conn: u32,
    /// The connection's generation.
    pub generation: u32,
    /// Payload length, credit, or (listen, bind, closed, reset) a status.
    pub len: u32,
    /// Stream position of the payload in the rx ring; the local port of
    /// an accepted connection.
    pub pos: u64,
    /// The port of a listen or bind answer; the peer (see
    /// [`Endpoint::pack`]) of an accepted connection or a datagram; the
    /// address of an ADDRESS event.
    pub arg: u64,
}

// SAFETY: integers only, 32 bytes without padding.
unsafe impl Descriptor for Event {}

/// An IPv4 address and port.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub struct Endpoint {
    /// The address, most significant byte first (`[10, 0, 2, 2]`).
    pub addr: [u8; 4],
    /// The port.
    pub port: u16,
}

impl Endpoint {
    /// Packs it into a word: port in bits 0-15, address in bits 16-47.
    ///
    /// ```
    /// use net_api::proto::Endpoint;
    /// let e = Endpoint { addr: [10, 0, 2, 2], port: 5555 };
    /// assert_eq!(Endpoint::unpack(e.pack()), e);
    /// ```
    pub const fn pack(self) -> u64 {
        (u32::from_be_bytes(self.addr) as u64) << 16 | self.port as u64
    }

    /// The endpoint packed in `word` (bits above 47 are ignored).
    pub const fn unpack(word: u64) -> Self {
        Self {
            addr: ((word >> 16) as u32).to_be_bytes(),
            port: word as u16,
        }
    }
}

impl core::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let [a, b, c, d] = self.addr;
        write!(f, "{a}.{b}.{c}.{d}:{}", self.port)
    }
}

/// Why a listen or bind failed (the status word's code).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Error {
    /// Port 0, or a backlog of 0.
    Invalid = 1,
    /// Another app, or this one, already listens on (binds) the port.
    InUse = 2,
    /// The server's connection or socket limit is reached.
    Limit = 3,
    /// The app holds its whole socket quota (the server's `quota-<region>`
    /// argument): its connections and listeners use every socket it may
    /// have.
    Quota = 4,
}

impl Error {
    /// The error of status code `code` (0 is success: `None`; an unknown
    /// code reads as [`Error::Invalid`]).
    pub const fn from_code(code: u32) -> Option<Self> {
        match code {
            0 => None,
            2 => Some(Self::InUse),
            3 => Some(Self::Limit),
            4 => Some(Self::Quota),
            _ => Some(Self::Invalid),
        }
    }
}

/// Why a connection ended ([`ev::CLOSED`]'s status).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CloseReason {
    /// Both sides finished: the peer's FIN and the app's close.
    Finished = 0,
    /// The peer reset the connection, or it timed out.
    Reset = 1,
    /// The server aborted it: the app sent more than its credit.
    Violation = 2,
}

impl CloseReason {
    /// The reason of status code `code` (unknown codes read as
    /// [`CloseReason::Reset`]).
    pub const fn from_code(code: u32) -> Self {
        match code {
            0 => Self::Finished,
            2 => Self::Violation,
            _ => Self::Reset,
        }
    }
}

/// Where the parts of a region of a given length lie (byte offsets), the
/// same for both sides.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Layout {
    /// Descriptors of each ring (request and event rings are alike).
    pub ring: usize,
    /// Offset of the request ring.
    pub requests: usize,
    /// Offset of the event ring.
    pub events: usize,
    /// Offset and size of the tx byte ring.
    pub tx: (usize, usize),
    /// Offset and size of the rx byte ring.
    pub rx: (usize, usize),
}

const PAGE: usize = 4096;

const fn round_up(n: usize) -> usize {
    n.div_ceil(PAGE) * PAGE
}

impl Layout {
    /// The layout of a region of `len` bytes: rings of a 32nd of the
    /// region each (64 to 4096 descriptors), the rest halved between tx
    /// and rx data; `None` below [`MIN_REGION`].
    ///
    /// ```
    /// let l = net_api::proto::Layout::new(1 << 20).unwrap();
    /// assert_eq!(l.ring, 1024);
    /// assert_eq!(l.tx.1, l.rx.1);
    /// assert!(l.rx.0 + l.rx.1 <= 1 << 20);
    /// assert!(net_api::proto::Layout::new(32 * 1024).is_none());
    /// ```
    pub const fn new(len: usize) -> Option<Self> {
        if len < MIN_REGION {
            return None;
        }
        let fits = len / 32 / size_of::<Request>();
        let mut ring = MIN_RING;
        while ring * 2 <= fits && ring * 2 <= MAX_RING {
            ring *= 2;
        }
        let ring_bytes = round_up(ring::ring_bytes::<Request>(ring));
        let requests = CONTROL_BYTES;
        let events = requests + ring_bytes;
        let data = events + ring_bytes;
        let half = (len - data) / 2 / PAGE * PAGE;
        if half < PAGE {
            return None;
        }
        Some(Self {
            ring,
            requests,
            events,
            tx: (data, half),
            rx: (data + half, half),
        })
    }
}

/// The control block at the region's start: one cache line per field.
#[repr(C)]
struct Control {
    /// The tx stream position the server is done with (server writes).
    tx_released: Line<AtomicU64>,
    /// The rx stream position the app is done with (app writes).
    rx_released: Line<AtomicU64>,
    /// The server waits for the app to release rx space (server sets, app
    /// clears and signals).
    server_waiting: Line<AtomicU32>,
    /// The rx stream position the server writes next (server writes; a
    /// restarted server continues there).
    rx_written: Line<AtomicU64>,
    /// The tx stream position the app writes next (app writes; a
    /// restarted app continues there).
    tx_written: Line<AtomicU64>,
    /// How many times an app attached (app writes): the token of its
    /// HELLO.
    epoch: Line<AtomicU64>,
}

#[repr(C, align(64))]
struct Line<T>(T);

const _: () = assert!(size_of::<Control>() <= CONTROL_BYTES);

/// Why a region cannot be attached.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttachError {
    /// Smaller than [`MIN_REGION`].
    TooSmall(usize),
    /// Not page-aligned, or a ring refused its memory.
    Ring(RingError),
}

/// The parts of a region, for one side to take what it uses.
pub struct Parts {
    control: NonNull<Control>,
    /// The request ring's memory.
    pub requests: SharedRegion,
    /// The event ring's memory.
    pub events: SharedRegion,
    /// The tx byte ring.
    pub tx: ByteRing,
    /// The rx byte ring.
    pub rx: ByteRing,
}

/// A byte ring's memory: base and size (a multiple of 4 KiB).
pub struct ByteRing {
    base: NonNull<u8>,
    size: usize,
}

// SAFETY: plain shared memory with no thread-bound state.
unsafe impl Send for ByteRing {}

impl ByteRing {
    /// Its size in bytes.
    pub const fn size(&self) -> usize {
        self.size
    }

    /// The offset of stream position `pos`.
    pub const fn offset(&self, pos: u64) -> usize {
        (pos % self.size as u64) as usize
    }

    /// Copies `bytes` to stream position `pos` (which the caller owns for
    /// `bytes.len()` bytes without crossing the end).
    pub fn write(&mut self, pos: u64, bytes: &[u8]) {
        let offset = self.offset(pos);
        let n = bytes.len().min(self.size - offset);
        // SAFETY: `offset + n <= size`, inside the ring's memory, which
        // this side owns at these positions (the protocol).
        unsafe {
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base.as_ptr().add(offset), n)
        };
    }

    /// The bytes at stream position `pos`, `len` long, clipped at the
    /// ring's end.
    ///
    /// # Safety
    ///
    /// The peer does not write these bytes while the slice lives (the
    /// protocol hands them to this side until it releases them).
    pub unsafe fn slice(&self, pos: u64, len: usize) -> &[u8] {
        let offset = self.offset(pos);
        let n = len.min(self.size - offset);
        // SAFETY: inside the ring's memory; the caller's contract keeps
        // the peer off it.
        unsafe { core::slice::from_raw_parts(self.base.as_ptr().add(offset), n) }
    }

    /// Mutable bytes at stream position `pos`, `len` long, clipped at the
    /// ring's end.
    ///
    /// # Safety
    ///
    /// As for [`slice`](Self::slice), and nothing else in this program
    /// refers to them.
    pub unsafe fn slice_mut(&mut self, pos: u64, len: usize) -> &mut [u8] {
        let offset = self.offset(pos);
        let n = len.min(self.size - offset);
        // SAFETY: as in `slice`, and `&mut self` keeps this side's other
        // uses off it.
        unsafe { core::slice::from_raw_parts_mut(self.base.as_ptr().add(offset), n) }
    }
}

/// Where a byte ring's writer stands: its position and the reader's last
/// release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writer {
    /// The next position to write.
    pub pos: u64,
    /// The reader's release position seen last.
    pub released: u64,
    /// The ring's size.
    pub size: u64,
}

impl Writer {
    /// A writer of a ring of `size` bytes that continues at `pos`.
    pub const fn new(size: usize, pos: u64) -> Self {
        Self {
            pos,
            released: pos,
            size: size as u64,
        }
    }

    /// A writer of a ring of `size` bytes that continues at `pos`, the
    /// reader having released up to `released` (clamped to what can be
    /// true: at most `pos`, at least `pos - size`).
    ///
    /// ```
    /// use net_api::proto::Writer;
    /// assert_eq!(Writer::resume(4096, 10_000, 0).free(), 0);
    /// assert_eq!(Writer::resume(4096, 10_000, 9_000).free(), 3096);
    /// assert_eq!(Writer::resume(4096, 10_000, 20_000).free(), 4096);
    /// ```
    pub const fn resume(size: usize, pos: u64, released: u64) -> Self {
        let floor = pos.saturating_sub(size as u64);
        let released = if released > pos {
            pos
        } else if released < floor {
            floor
        } else {
            released
        };
        Self {
            pos,
            released,
            size: size as u64,
        }
    }

    /// Takes the reader's release position `released` into account; a
    /// value behind the last one or ahead of the writer (a confused or
    /// hostile peer) is ignored.
    pub fn update(&mut self, released: u64) {
        if released >= self.released && released <= self.pos {
            self.released = released;
        }
    }

    /// Whether `released` (the reader's release position) frees bytes
    /// [`update`](Self::update) would take: a position that runs
    /// backwards or ahead of what was written frees nothing.
    ///
    /// ```
    /// use net_api::proto::Writer;
    /// let w = Writer::new(4096, 100);
    /// assert!(!w.advances(100));
    /// let mut w = w;
    /// w.commit(100, 50);
    /// assert!(w.advances(120));
    /// assert!(!w.advances(151)); // ahead of what was written
    /// ```
    pub const fn advances(&self, released: u64) -> bool {
        released > self.released && released <= self.pos
    }

    /// Bytes free in the ring.
    pub const fn free(&self) -> u64 {
        self.size - (self.pos - self.released)
    }

    /// Room for a chunk of up to `want` bytes that does not cross the
    /// ring's end: its position and length (0 when the ring is full).
    ///
    /// ```
    /// use net_api::proto::Writer;
    /// let mut w = Writer::new(4096, 4000);
    /// assert_eq!(w.reserve(500), (4000, 96)); // clipped at the end
    /// w.commit(4000, 96);
    /// w.update(4096);
    /// assert_eq!(w.reserve(500), (4096, 500));
    /// ```
    pub const fn reserve(&self, want: usize) -> (u64, usize) {
        let to_end = self.size - self.pos % self.size;
        let n = min(min(want as u64, self.free()), to_end);
        (self.pos, n as usize)
    }

    /// Room for a chunk of exactly `len` bytes that does not cross the
    /// ring's end, skipping to the ring's start if it must; `None` if
    /// there is not room.
    ///
    /// ```
    /// use net_api::proto::Writer;
    /// let w = Writer { pos: 4000, released: 50, size: 4096 };
    /// assert_eq!(w.reserve_whole(100), None); // 96 to the end, 50 after
    /// let w = Writer { pos: 4000, released: 3000, size: 4096 };
    /// assert_eq!(w.reserve_whole(100), Some(4096));
    /// ```
    pub const fn reserve_whole(&self, len: usize) -> Option<u64> {
        let len = len as u64;
        let to_end = self.size - self.pos % self.size;
        let start = if len <= to_end {
            self.pos
        } else {
            self.pos + to_end
        };
        if len <= self.size && start + len - self.released <= self.size {
            Some(start)
        } else {
            None
        }
    }

    /// Records that `len` bytes were written at `pos` (from a `reserve`).
    pub fn commit(&mut self, pos: u64, len: usize) {
        self.pos = pos + len as u64;
    }
}

const fn min(a: u64, b: u64) -> u64 {
    if a < b { a } else { b }
}

/// Splits `region` per its [`Layout`].
///
/// # Errors
///
/// [`AttachError::TooSmall`] for a region the layout cannot use.
pub fn split(region: SharedRegion) -> Result<(Layout, Parts), AttachError> {
    let len = region.len();
    let layout = Layout::new(len).ok_or(AttachError::TooSmall(len))?;
    if !(region.as_ptr() as usize).is_multiple_of(64) {
        return Err(AttachError::Ring(RingError::Misaligned));
    }
    let bad = AttachError::Ring(RingError::TooSmall);
    let (control, rest) = region.split_at(layout.requests).ok_or(bad)?;
    let (requests, rest) = rest.split_at(layout.events - layout.requests).ok_or(bad)?;
    let (events, rest) = rest.split_at(layout.tx.0 - layout.events).ok_or(bad)?;
    let byte_ring = |r: &SharedRegion, size: usize| ByteRing {
        base: NonNull::new(r.as_ptr()).expect("a region is not at 0"),
        size,
    };
    let tx = byte_ring(&rest, layout.tx.1);
    let (_, rx) = rest.split_at(layout.tx.1).ok_or(bad)?;
    let rx = byte_ring(&rx, layout.rx.1);
    Ok((
        layout,
        Parts {
            control: NonNull::new(control.as_ptr().cast()).expect("a region is not at 0"),
            requests,
            events,
            tx,
            rx,
        },
    ))
}

/// The control block's fields, for either side.
pub struct ControlBlock(NonNull<Control>);

// SAFETY: only atomics are reached through it.
unsafe impl Send for ControlBlock {}

impl ControlBlock {
    fn get(&self) -> &Control {
        // SAFETY: the control block lives in the region's first page,
        // mapped for the program's lifetime, and is accessed only through
        // atomics, which tolerate the peer's concurrent accesses.
        unsafe { self.0.as_ref() }
    }

    /// The tx position the server is done with.
    pub fn tx_released(&self) -> u64 {
        self.get().tx_released.0.load(Ordering::Acquire)
    }

    /// The server records that it is done with tx bytes before `pos`.
    pub fn release_tx(&self, pos: u64) {
        self.get().tx_released.0.store(pos, Ordering::Release);
    }

    /// The rx position the app is done with.
    pub fn rx_released(&self) -> u64 {
        self.get().rx_released.0.load(Ordering::Acquire)
    }

    /// The app records that it is done with rx bytes before `pos`; the
    /// server sees it on its next pass ([`notify_rx`](Self::notify_rx)
    /// wakes it if it waits for it).
    pub fn release_rx(&self, pos: u64) {
        self.get().rx_released.0.store(pos, Ordering::Release);
    }

    /// After releases: wakes the server if it waits for rx space; returns
    /// whether it did. The protocol's producer side (see
    /// [`libcap::ring`]): the release, a fence, the flag.
    pub fn notify_rx(&self, server: &impl Wake) -> bool {
        fence(Ordering::SeqCst);
        let flag = &self.get().server_waiting.0;
        if flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::Relaxed) != 0 {
            server.wake();
            true
        } else {
            false
        }
    }

    /// The rx position the server writes next, as it last recorded.
    pub fn rx_written(&self) -> u64 {
        self.get().rx_written.0.load(Ordering::Acquire)
    }

    /// The server records the rx position it writes next.
    pub fn set_rx_written(&self, pos: u64) {
        self.get().rx_written.0.store(pos, Ordering::Release);
    }

    /// The tx position the app writes next, as it last recorded.
    pub fn tx_written(&self) -> u64 {
        self.get().tx_written.0.load(Ordering::Acquire)
    }

    /// The app records the tx position it writes next.
    pub fn set_tx_written(&self, pos: u64) {
        self.get().tx_written.0.store(pos, Ordering::Release);
    }

    /// The app counts one more attachment and returns the count (its
    /// HELLO token).
    pub fn next_epoch(&self) -> u64 {
        self.get().epoch.0.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The server asks to be woken when rx space is released; returns the
    /// release position after asking (the re-check of
    /// [`libcap::ring`]'s protocol).
    pub fn request_rx_wake(&self) -> u64 {
        self.get().server_waiting.0.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.rx_released()
    }
}

impl Parts {
    /// The control block.
    pub fn control(&self) -> ControlBlock {
        ControlBlock(self.control)
    }
}

/// The app's ends of the two rings.
///
/// # Errors
///
/// The ring's refusal of its memory.
pub fn app_rings(
    requests: SharedRegion,
    events: SharedRegion,
) -> Result<(Producer<Request>, Consumer<Event>), AttachError> {
    Ok((
        Producer::from_region(requests).map_err(AttachError::Ring)?,
        Consumer::from_region(events).map_err(AttachError::Ring)?,
    ))
}

/// The server's ends of the two rings.
///
/// # Errors
///
/// The ring's refusal of its memory.
pub fn server_rings(
    requests: SharedRegion,
    events: SharedRegion,
) -> Result<(Consumer<Request>, Producer<Event>), AttachError> {
    Ok((
        Consumer::from_region(requests).map_err(AttachError::Ring)?,
        Producer::from_region(events).map_err(AttachError::Ring)?,
    ))
}

/// A zeroed, page-aligned block of `len` bytes that is never freed, as a
/// region: both sides of a host test attach it.
#[cfg(not(target_os = "none"))]
pub fn test_region(len: usize) -> (SharedRegion, SharedRegion) {
    extern crate alloc;
    let layout = core::alloc::Layout::from_size_align(len, PAGE).expect("a layout");
    // SAFETY: a non-zero size.
    let base = unsafe { alloc::alloc::alloc_zeroed(layout) };
    assert!(!base.is_null(), "out of memory");
    // SAFETY: leaked, so mapped for the program's lifetime; the two
    // handles stand for the two components that share a region.
    unsafe {
        (
            SharedRegion::new(base, len).expect("not null"),
            SharedRegion::new(base, len).expect("not null"),
        )
    }
}
