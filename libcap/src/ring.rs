//! Single-producer single-consumer descriptor rings in shared memory, in
//! the style of seL4's sDDF: one component produces fixed-size
//! descriptors, another consumes them, and they wake each other with
//! notifications only when the other side has asked for it.
//!
//! ```
//! use libcap::ring::{self, BufDesc};
//!
//! // On Basalt the two halves live in two components and share a region
//! // (`Producer::from_region(start.shared_region("tx").unwrap())`); here
//! // both halves are in one program.
//! let (mut tx, mut rx) = ring::pair::<BufDesc>(8).unwrap();
//! tx.try_push(BufDesc { offset: 0, len: 1500, id: 1 }).unwrap();
//! tx.notify(&|| println!("would signal the consumer's notification"));
//! assert_eq!(rx.try_pop().map(|d| d.len), Some(1500));
//! ```
//!
//! # Layout
//!
//! A ring occupies [`ring_bytes`]`::<D>(capacity)` bytes at a 64-byte
//! aligned address, `capacity` a power of two:
//!
//! | offset | field | written by |
//! | --- | --- | --- |
//! | 0 | `head: u64`, descriptors ever produced | producer |
//! | 64 | `tail: u64`, descriptors ever consumed | consumer |
//! | 128 | `consumer_waiting: u32`, "signal me when descriptors arrive" | consumer sets, producer clears |
//! | 192 | `producer_waiting: u32`, "signal me when space frees up" | producer sets, consumer clears |
//! | 256 | `capacity` descriptors; descriptor `i` lives in slot `i % capacity` | producer |
//!
//! Each field has its own cache line, so the two sides do not invalidate
//! each other's lines except to hand data over. All-zero memory (what a
//! fresh region holds) is an empty ring. Indices count up forever (2⁶⁴
//! descriptors are never reached), so full is `head − tail = capacity`
//! and empty is `head = tail`. Because both indices live in the shared
//! memory, a restarted component re-attaches where its predecessor
//! stopped.
//!
//! # Ordering and wake-ups
//!
//! The producer writes a descriptor, then publishes it by storing `head`
//! with Release; the consumer loads `head` with Acquire before reading
//! slots, and publishes that it is done with them by storing `tail` with
//! Release, which the producer loads with Acquire before reusing a slot.
//!
//! Wake-ups avoid both lost and needless signals. A consumer that finds
//! the ring empty and wants to sleep sets `consumer_waiting`, issues a
//! SeqCst fence, and checks the ring again: only if it is still empty does
//! it wait on its notification. A producer, after publishing a batch
//! ([`Producer::notify`]), issues a SeqCst fence, then checks
//! `consumer_waiting`: if set, it clears it (swap) and signals. The two
//! fences order each side's store before its load, so at least one side
//! sees the other's store: either the consumer sees the new descriptors
//! and does not sleep, or the producer sees the flag and signals. A
//! producer with a full ring does the mirror image with
//! `producer_waiting`, which the consumer's [`Consumer::notify`] checks.
//!
//! A misbehaving peer can make this side read garbage descriptors or
//! stall, but never access memory outside the ring: every slot index is
//! masked with `capacity − 1`, and a consumer never reads more than
//! `capacity` descriptors past its tail.

use crate::cap::Notification;
use crate::start::SharedRegion;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering, fence};

/// Bytes before the first descriptor slot.
///
/// ```
/// assert_eq!(libcap::ring::HEADER_BYTES, 256);
/// ```
pub const HEADER_BYTES: usize = 256;

/// A type that can travel through a ring: plain data, valid for every bit
/// pattern (the peer writes the bytes), with no pointers into either
/// program.
///
/// # Safety
///
/// Every bit pattern of `size_of::<Self>()` bytes is a valid `Self`, and
/// its alignment is at most 64.
///
/// ```
/// /// A request of a block driver.
/// #[derive(Clone, Copy)]
/// #[repr(C)]
/// struct BlockRequest {
///     sector: u64,
///     count: u32,
///     write: u32,
/// }
/// // SAFETY: integers only, no padding, so every bit pattern is valid.
/// unsafe impl libcap::ring::Descriptor for BlockRequest {}
/// ```
pub unsafe trait Descriptor: Copy + Send + 'static {}

macro_rules! descriptor {
    ($($t:ty),*) => {$(
        // SAFETY: integers are valid for every bit pattern.
        unsafe impl Descriptor for $t {}
    )*};
}
descriptor!(u8, u16, u32, u64, usize, i8, i16, i32, i64, isize);

// SAFETY: an array of such values is valid for every bit pattern too.
unsafe impl<T: Descriptor, const N: usize> Descriptor for [T; N] {}

/// The sDDF-style buffer descriptor: where a buffer is in a shared data
/// region, how many bytes it holds, and an id the producer chose.
///
/// ```
/// let d = libcap::ring::BufDesc { offset: 4096, len: 60, id: 3 };
/// assert_eq!(size_of_val(&d), 16);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
#[repr(C)]
pub struct BufDesc {
    /// Byte offset of the buffer in the data region.
    pub offset: u64,
    /// Bytes of data in it.
    pub len: u32,
    /// The producer's tag (a buffer number, a request id).
    pub id: u32,
}

// SAFETY: integers only, 16 bytes without padding.
unsafe impl Descriptor for BufDesc {}

/// How one side wakes the other: signal its notification.
///
/// Implemented for [`Notification`] (signal; a failed signal is ignored,
/// since the peer is gone and there is nobody to wake) and for any
/// `Fn()`, for tests and threads in one program.
///
/// ```
/// use libcap::ring::Wake;
/// let woken = std::cell::Cell::new(0);
/// let bell = || woken.set(woken.get() + 1);
/// bell.wake();
/// assert_eq!(woken.get(), 1);
/// ```
pub trait Wake {
    /// Wakes the peer.
    ///
    /// ```no_run
    /// use libcap::ring::Wake;
    /// libcap::Notification::from_raw(11).wake();
    /// ```
    fn wake(&self);
}

impl Wake for Notification {
    fn wake(&self) {
        let _ = self.signal();
    }
}

impl<F: Fn()> Wake for F {
    fn wake(&self) {
        self()
    }
}

/// Why a ring could not be attached.
///
/// ```
/// use libcap::ring::{self, RingError};
/// assert_eq!(ring::pair::<u64>(6).err(), Some(RingError::NotPowerOfTwo));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RingError {
    /// The memory is not 64-byte aligned.
    Misaligned,
    /// The capacity is not a power of two (or is 0).
    NotPowerOfTwo,
    /// The memory cannot hold a ring of even one descriptor.
    TooSmall,
}

/// Bytes a ring of `capacity` descriptors of type `D` occupies.
///
/// ```
/// use libcap::ring::{BufDesc, ring_bytes};
/// assert_eq!(ring_bytes::<BufDesc>(256), 256 + 256 * 16);
/// ```
pub const fn ring_bytes<D>(capacity: usize) -> usize {
    HEADER_BYTES + capacity * size_of::<D>()
}

/// The largest power-of-two capacity of a ring of `D` in `bytes` bytes
/// (0 if none fits): both sides of a shared region compute the same.
///
/// ```
/// use libcap::ring::capacity_for;
/// assert_eq!(capacity_for::<u64>(4096), 256); // 256 + 256 * 8 <= 4096 < 256 + 512 * 8
/// assert_eq!(capacity_for::<u64>(100), 0);
/// ```
pub const fn capacity_for<D>(bytes: usize) -> usize {
    if bytes < HEADER_BYTES + size_of::<D>() {
        return 0;
    }
    let fits = if size_of::<D>() == 0 {
        usize::MAX
    } else {
        (bytes - HEADER_BYTES) / size_of::<D>()
    };
    if fits == 0 {
        0
    } else {
        1 << (usize::BITS - 1 - fits.leading_zeros())
    }
}

#[repr(C, align(64))]
struct Line<T>(T);

#[repr(C)]
struct Header {
    head: Line<AtomicU64>,
    tail: Line<AtomicU64>,
    consumer_waiting: Line<AtomicU32>,
    producer_waiting: Line<AtomicU32>,
}

const _: () = assert!(size_of::<Header>() == HEADER_BYTES);

/// The shared part both halves point to.
struct Shared<D> {
    header: NonNull<Header>,
    slots: NonNull<D>,
    mask: u64,
    _d: PhantomData<D>,
}

impl<D: Descriptor> Shared<D> {
    /// # Safety
    ///
    /// `base` points to `ring_bytes::<D>(capacity)` bytes mapped
    /// read-write for the lifetime of the halves made from it, used only
    /// as this ring.
    unsafe fn new(base: NonNull<u8>, capacity: usize) -> Result<Self, RingError> {
        if !(base.as_ptr() as usize).is_multiple_of(64) || align_of::<D>() > 64 {
            return Err(RingError::Misaligned);
        }
        if !capacity.is_power_of_two() {
            return Err(RingError::NotPowerOfTwo);
        }
        Ok(Self {
            header: base.cast(),
            // SAFETY: within the ring's memory (caller's contract).
            slots: unsafe { base.add(HEADER_BYTES) }.cast(),
            mask: capacity as u64 - 1,
            _d: PhantomData,
        })
    }

    fn header(&self) -> &Header {
        // SAFETY: the header is mapped for our lifetime (`new`'s contract)
        // and is only accessed through atomics, which tolerate the peer's
        // concurrent accesses.
        unsafe { self.header.as_ref() }
    }

    fn slot(&self, index: u64) -> *mut D {
        // SAFETY: `index & mask` < capacity, so the slot is inside the
        // ring's memory.
        unsafe { self.slots.as_ptr().add((index & self.mask) as usize) }
    }

    fn capacity(&self) -> u64 {
        self.mask + 1
    }
}

/// The producing half of a ring.
///
/// ```
/// let (mut tx, mut rx) = libcap::ring::pair::<u64>(4).unwrap();
/// for i in 0..4 {
///     tx.try_push(i).unwrap();
/// }
/// assert_eq!(tx.try_push(4), Err(4)); // full
/// assert_eq!(rx.try_pop(), Some(0));
/// tx.try_push(4).unwrap();
/// ```
pub struct Producer<D: Descriptor> {
    ring: Shared<D>,
    head: u64,
    tail_seen: u64,
}

// SAFETY: the producer owns its side of the ring; the memory is shared with
// the consumer only through the atomics and the hand-over protocol.
unsafe impl<D: Descriptor> Send for Producer<D> {}

impl<D: Descriptor> core::fmt::Debug for Producer<D> {
    /// ```
    /// let (tx, _rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert_eq!(format!("{tx:?}"), "Producer { capacity: 8, head: 0 }");
    /// ```
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Producer")
            .field("capacity", &self.ring.capacity())
            .field("head", &self.head)
            .finish()
    }
}

/// The consuming half of a ring.
///
/// ```
/// let (mut tx, mut rx) = libcap::ring::pair::<u32>(2).unwrap();
/// assert_eq!(rx.try_pop(), None);
/// tx.try_push(9).unwrap();
/// assert_eq!(rx.len(), 1);
/// assert_eq!(rx.try_pop(), Some(9));
/// ```
pub struct Consumer<D: Descriptor> {
    ring: Shared<D>,
    tail: u64,
    head_seen: u64,
}

// SAFETY: as for `Producer`.
unsafe impl<D: Descriptor> Send for Consumer<D> {}

impl<D: Descriptor> core::fmt::Debug for Consumer<D> {
    /// ```
    /// let (_tx, rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert_eq!(format!("{rx:?}"), "Consumer { capacity: 8, tail: 0 }");
    /// ```
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Consumer")
            .field("capacity", &self.ring.capacity())
            .field("tail", &self.tail)
            .finish()
    }
}

/// A ring of `capacity` descriptors in newly allocated (and never freed)
/// heap memory, and both its halves: for host tests and examples (not
/// built for Basalt, where libcap has no allocator; there, use
/// [`Producer::from_region`] and [`Consumer::from_region`]).
///
/// ```
/// let (tx, rx) = libcap::ring::pair::<u64>(16).unwrap();
/// assert_eq!((tx.capacity(), rx.capacity()), (16, 16));
/// ```
#[cfg(not(target_os = "none"))]
pub fn pair<D: Descriptor>(capacity: usize) -> Result<(Producer<D>, Consumer<D>), RingError> {
    if !capacity.is_power_of_two() {
        return Err(RingError::NotPowerOfTwo);
    }
    let bytes = ring_bytes::<D>(capacity);
    let layout =
        core::alloc::Layout::from_size_align(bytes, 64).map_err(|_| RingError::TooSmall)?;
    // SAFETY: the layout has a non-zero size (the header).
    let base = NonNull::new(unsafe { alloc::alloc::alloc_zeroed(layout) })
        .unwrap_or_else(|| alloc::alloc::handle_alloc_error(layout));
    // SAFETY: freshly allocated, zeroed (an empty ring), never freed, and
    // used only by the two halves made here.
    unsafe {
        Ok((
            Producer::new(base, capacity)?,
            Consumer::new(base, capacity)?,
        ))
    }
}

/// Where the ring that fills `region` starts and how many descriptors it
/// holds (the largest power of two that fits).
fn ring_in<D: Descriptor>(region: &SharedRegion) -> Result<(NonNull<u8>, usize), RingError> {
    let capacity = capacity_for::<D>(region.len());
    if capacity == 0 {
        return Err(RingError::TooSmall);
    }
    let base = NonNull::new(region.as_ptr()).ok_or(RingError::Misaligned)?;
    Ok((base, capacity))
}

impl<D: Descriptor> Producer<D> {
    /// The producer of the ring of `capacity` descriptors at `base`,
    /// continuing from the `head` stored there.
    ///
    /// # Safety
    ///
    /// `base` points to [`ring_bytes`]`::<D>(capacity)` bytes mapped
    /// read-write for the producer's lifetime; in this program, nothing
    /// else uses them but (at most) the one [`Consumer`] of the ring.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use libcap::ring::{Producer, ring_bytes};
    /// let layout = std::alloc::Layout::from_size_align(ring_bytes::<u64>(8), 64).unwrap();
    /// // SAFETY: a zeroed, 64-byte aligned block that is never freed.
    /// let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).unwrap();
    /// // SAFETY: the block is the ring's alone.
    /// let tx = unsafe { Producer::<u64>::new(base, 8) }.unwrap();
    /// assert_eq!(tx.capacity(), 8);
    /// ```
    pub unsafe fn new(base: NonNull<u8>, capacity: usize) -> Result<Self, RingError> {
        // SAFETY: the caller's contract.
        let ring = unsafe { Shared::new(base, capacity)? };
        let head = ring.header().head.0.load(Ordering::Relaxed);
        let tail_seen = ring.header().tail.0.load(Ordering::Acquire);
        Ok(Self {
            ring,
            head,
            tail_seen,
        })
    }

    /// The producer of the ring that fills `region` (the largest
    /// power-of-two capacity that fits, see [`capacity_for`]).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let region = start.shared_region("rx").unwrap(); // 16 KiB
    /// let tx = libcap::ring::Producer::<libcap::ring::BufDesc>::from_region(region).unwrap();
    /// assert_eq!(tx.capacity(), 512);
    /// ```
    pub fn from_region(region: SharedRegion) -> Result<Self, RingError> {
        let (base, capacity) = ring_in::<D>(&region)?;
        // SAFETY: a region is mapped read-write for the program's lifetime
        // and handed out once (so this is its only user in this program);
        // the ring fits in it.
        unsafe { Self::new(base, capacity) }
    }

    /// Descriptors the ring holds.
    ///
    /// ```
    /// let (tx, _rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert_eq!(tx.capacity(), 8);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// Free slots right now (the consumer may free more at any time).
    ///
    /// ```
    /// let (mut tx, _rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// tx.try_push(1).unwrap();
    /// assert_eq!(tx.free(), 7);
    /// ```
    pub fn free(&mut self) -> usize {
        self.tail_seen = self.ring.header().tail.0.load(Ordering::Acquire);
        self.ring
            .capacity()
            .saturating_sub(self.head.wrapping_sub(self.tail_seen)) as usize
    }

    /// Puts `d` in the ring and publishes it; gives it back if the ring is
    /// full. Does not wake the consumer: call [`notify`](Self::notify)
    /// after a batch.
    ///
    /// ```
    /// let (mut tx, _rx) = libcap::ring::pair::<u64>(1).unwrap();
    /// assert_eq!(tx.try_push(1), Ok(()));
    /// assert_eq!(tx.try_push(2), Err(2));
    /// ```
    pub fn try_push(&mut self, d: D) -> Result<(), D> {
        let capacity = self.ring.capacity();
        if self.head.wrapping_sub(self.tail_seen) >= capacity {
            self.tail_seen = self.ring.header().tail.0.load(Ordering::Acquire);
            if self.head.wrapping_sub(self.tail_seen) >= capacity {
                return Err(d);
            }
        }
        // SAFETY: the slot is in the ring, and the consumer is done with
        // it (tail, loaded with Acquire, is past it); volatile because the
        // peer reads it from another address space.
        unsafe { self.ring.slot(self.head).write_volatile(d) };
        self.head = self.head.wrapping_add(1);
        self.ring
            .header()
            .head
            .0
            .store(self.head, Ordering::Release);
        Ok(())
    }

    /// Wakes the consumer if it asked to be woken (it found the ring empty
    /// and went to wait); returns whether it did. Call after a batch of
    /// [`try_push`](Self::try_push)es.
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert!(!rx.request_wake()); // empty: the consumer would now wait
    /// tx.try_push(1).unwrap();
    /// assert!(tx.notify(&|| {}));  // so the producer signals
    /// assert!(!tx.notify(&|| {})); // once
    /// ```
    pub fn notify(&mut self, consumer: &impl Wake) -> bool {
        fence(Ordering::SeqCst);
        let flag = &self.ring.header().consumer_waiting.0;
        if flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::Relaxed) != 0 {
            consumer.wake();
            true
        } else {
            false
        }
    }

    /// Asks the consumer for a wake-up when it frees a slot; returns
    /// whether a slot is free already (then do not wait). The protocol's
    /// re-check: see the [module documentation](self).
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(1).unwrap();
    /// tx.try_push(1).unwrap();
    /// assert!(!tx.request_wake()); // full: wait
    /// rx.try_pop().unwrap();
    /// assert!(rx.notify(&|| {}));  // the consumer wakes the producer
    /// ```
    pub fn request_wake(&mut self) -> bool {
        self.ring
            .header()
            .producer_waiting
            .0
            .store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.free() > 0
    }

    /// Puts `d` in the ring, waiting while it is full: wakes the consumer
    /// (if it waits), asks for a wake-up, and calls `wait` (typically
    /// waiting on this component's notification) until a slot is free.
    /// Does not wake the consumer for `d` itself: call
    /// [`notify`](Self::notify) after a batch.
    ///
    /// ```no_run
    /// use libcap::Notification;
    /// # let (mut tx, _rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// let consumer = Notification::from_raw(11); // the consumer's, to signal
    /// let mine = Notification::from_raw(10);     // this component's, to wait on
    /// for i in 0..100 {
    ///     tx.push_blocking(i, &consumer, || {
    ///         let _ = mine.wait();
    ///     });
    /// }
    /// tx.notify(&consumer);
    /// ```
    pub fn push_blocking(&mut self, d: D, consumer: &impl Wake, mut wait: impl FnMut()) {
        let mut d = d;
        loop {
            match self.try_push(d) {
                Ok(()) => return,
                Err(back) => d = back,
            }
            self.notify(consumer);
            if !self.request_wake() {
                wait();
            }
        }
    }
}

impl<D: Descriptor> Consumer<D> {
    /// The consumer of the ring of `capacity` descriptors at `base`,
    /// continuing from the `tail` stored there.
    ///
    /// # Safety
    ///
    /// As for [`Producer::new`].
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use libcap::ring::{Consumer, ring_bytes};
    /// let layout = std::alloc::Layout::from_size_align(ring_bytes::<u32>(4), 64).unwrap();
    /// // SAFETY: a zeroed, 64-byte aligned block that is never freed.
    /// let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).unwrap();
    /// // SAFETY: the block is the ring's alone.
    /// let mut rx = unsafe { Consumer::<u32>::new(base, 4) }.unwrap();
    /// assert_eq!(rx.try_pop(), None);
    /// ```
    pub unsafe fn new(base: NonNull<u8>, capacity: usize) -> Result<Self, RingError> {
        // SAFETY: the caller's contract.
        let ring = unsafe { Shared::new(base, capacity)? };
        let tail = ring.header().tail.0.load(Ordering::Relaxed);
        let head_seen = ring.header().head.0.load(Ordering::Acquire);
        Ok(Self {
            ring,
            tail,
            head_seen,
        })
    }

    /// The consumer of the ring that fills `region` (see
    /// [`Producer::from_region`]).
    ///
    /// ```
    /// # let start = libcap::start::testing::start();
    /// let region = start.shared_region("rx").unwrap();
    /// let rx = libcap::ring::Consumer::<u64>::from_region(region).unwrap();
    /// assert_eq!(rx.capacity(), 1024);
    /// ```
    pub fn from_region(region: SharedRegion) -> Result<Self, RingError> {
        let (base, capacity) = ring_in::<D>(&region)?;
        // SAFETY: as in `Producer::from_region`.
        unsafe { Self::new(base, capacity) }
    }

    /// Descriptors the ring holds.
    ///
    /// ```
    /// let (_tx, rx) = libcap::ring::pair::<u64>(32).unwrap();
    /// assert_eq!(rx.capacity(), 32);
    /// ```
    pub fn capacity(&self) -> usize {
        self.ring.capacity() as usize
    }

    /// The head as published, never more than a full ring past the tail
    /// (a misbehaving producer cannot make this side read further).
    fn load_head(&mut self) -> u64 {
        let head = self.ring.header().head.0.load(Ordering::Acquire);
        self.head_seen = if head.wrapping_sub(self.tail) > self.ring.capacity() {
            self.tail.wrapping_add(self.ring.capacity())
        } else {
            head
        };
        self.head_seen
    }

    /// Descriptors waiting right now.
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// tx.try_push(1).unwrap();
    /// tx.try_push(2).unwrap();
    /// assert_eq!(rx.len(), 2);
    /// ```
    pub fn len(&mut self) -> usize {
        self.load_head().wrapping_sub(self.tail) as usize
    }

    /// Whether no descriptor waits right now.
    ///
    /// ```
    /// let (_tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert!(rx.is_empty());
    /// ```
    pub fn is_empty(&mut self) -> bool {
        self.len() == 0
    }

    /// Takes the oldest descriptor, if any, and frees its slot. Does not
    /// wake a producer waiting for space: call [`notify`](Self::notify)
    /// after a batch.
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// tx.try_push(5).unwrap();
    /// assert_eq!(rx.try_pop(), Some(5));
    /// assert_eq!(rx.try_pop(), None);
    /// ```
    pub fn try_pop(&mut self) -> Option<D> {
        if self.tail == self.head_seen && self.load_head() == self.tail {
            return None;
        }
        // SAFETY: the slot is in the ring and the producer published it
        // (head, loaded with Acquire, is past it); volatile because the
        // peer writes it from another address space.
        let d = unsafe { self.ring.slot(self.tail).read_volatile() };
        self.tail = self.tail.wrapping_add(1);
        self.ring
            .header()
            .tail
            .0
            .store(self.tail, Ordering::Release);
        Some(d)
    }

    /// Wakes the producer if it waits for space; returns whether it did.
    /// Call after a batch of [`try_pop`](Self::try_pop)s.
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert!(!rx.notify(&|| {})); // nobody waits
    /// ```
    pub fn notify(&mut self, producer: &impl Wake) -> bool {
        fence(Ordering::SeqCst);
        let flag = &self.ring.header().producer_waiting.0;
        if flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::Relaxed) != 0 {
            producer.wake();
            true
        } else {
            false
        }
    }

    /// Asks the producer for a wake-up when descriptors arrive; returns
    /// whether some are there already (then do not wait). The protocol's
    /// re-check: see the [module documentation](self).
    ///
    /// ```
    /// let (mut tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// assert!(!rx.request_wake());
    /// tx.try_push(1).unwrap();
    /// assert!(rx.request_wake());
    /// ```
    pub fn request_wake(&mut self) -> bool {
        self.ring
            .header()
            .consumer_waiting
            .0
            .store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        !self.is_empty()
    }

    /// Takes the oldest descriptor, waiting while the ring is empty: wakes
    /// the producer (if it waits for space), asks for a wake-up, and calls
    /// `wait` (typically waiting on this component's notification) until a
    /// descriptor arrives.
    ///
    /// ```no_run
    /// use libcap::Notification;
    /// # let (_tx, mut rx) = libcap::ring::pair::<u64>(8).unwrap();
    /// let producer = Notification::from_raw(11);
    /// let mine = Notification::from_raw(10);
    /// loop {
    ///     let d = rx.pop_blocking(&producer, || {
    ///         let _ = mine.wait();
    ///     });
    ///     println!("got {d}");
    /// }
    /// ```
    pub fn pop_blocking(&mut self, producer: &impl Wake, mut wait: impl FnMut()) -> D {
        loop {
            if let Some(d) = self.try_pop() {
                return d;
            }
            self.notify(producer);
            if !self.request_wake() {
                wait();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::{Arc, Condvar, Mutex};
    use std::time::Duration;

    #[test]
    fn sizes_and_capacities() {
        assert_eq!(ring_bytes::<u64>(0), 256);
        assert_eq!(ring_bytes::<[u64; 4]>(8), 256 + 256);
        assert_eq!(capacity_for::<u64>(256), 0);
        assert_eq!(capacity_for::<u64>(264), 1);
        assert_eq!(capacity_for::<u64>(4096), 256);
        assert_eq!(capacity_for::<BufDesc>(2 * 1024 * 1024), 65536);
        for bytes in [264, 300, 4096, 5000, 1 << 21] {
            let c = capacity_for::<u32>(bytes);
            assert!(c.is_power_of_two());
            assert!(ring_bytes::<u32>(c) <= bytes);
            assert!(ring_bytes::<u32>(2 * c) > bytes);
        }
    }

    #[test]
    fn bad_memory_or_capacity_is_refused() {
        let layout = std::alloc::Layout::from_size_align(4096, 64).unwrap();
        // SAFETY: non-zero size; the block is leaked and only used here.
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).unwrap();
        // SAFETY: the block is large enough for each attempt that succeeds.
        unsafe {
            assert_eq!(
                Producer::<u64>::new(base.add(8), 4).err(),
                Some(RingError::Misaligned)
            );
            assert_eq!(
                Consumer::<u64>::new(base, 3).err(),
                Some(RingError::NotPowerOfTwo)
            );
            assert_eq!(
                Consumer::<u64>::new(base, 0).err(),
                Some(RingError::NotPowerOfTwo)
            );
            assert!(Producer::<u64>::new(base, 4).is_ok());
        }
        // SAFETY: the leaked block, used by nothing else once the halves
        // above are gone.
        let tiny = unsafe { SharedRegion::new(base.as_ptr(), 100) }.unwrap();
        assert_eq!(
            Producer::<u64>::from_region(tiny).err(),
            Some(RingError::TooSmall)
        );
    }

    #[test]
    fn fills_empties_and_wraps_in_order() {
        let (mut tx, mut rx) = pair::<u64>(4).unwrap();
        let mut next_in = 0;
        let mut next_out = 0;
        for round in 0..100 {
            let n = 1 + round % 4;
            for _ in 0..n {
                tx.try_push(next_in).unwrap();
                next_in += 1;
            }
            if n == 4 {
                assert_eq!(tx.try_push(999), Err(999));
                assert_eq!(tx.free(), 0);
            }
            assert_eq!(rx.len(), n as usize);
            while let Some(d) = rx.try_pop() {
                assert_eq!(d, next_out);
                next_out += 1;
            }
            assert!(rx.is_empty());
        }
        assert_eq!(next_in, next_out);
    }

    #[test]
    fn descriptors_keep_every_byte() {
        let (mut tx, mut rx) = pair::<BufDesc>(2).unwrap();
        let d = BufDesc {
            offset: u64::MAX - 1,
            len: 0xdead_beef,
            id: 7,
        };
        tx.try_push(d).unwrap();
        assert_eq!(rx.try_pop(), Some(d));
        let (mut tx, mut rx) = pair::<[u8; 3]>(8).unwrap();
        tx.try_push([1, 2, 3]).unwrap();
        assert_eq!(rx.try_pop(), Some([1, 2, 3]));
    }

    #[test]
    fn the_consumer_is_signalled_only_after_asking_and_only_once() {
        let (mut tx, mut rx) = pair::<u64>(8).unwrap();
        let signals = std::cell::Cell::new(0);
        let bell = || signals.set(signals.get() + 1);
        tx.try_push(1).unwrap();
        assert!(!tx.notify(&bell), "nobody asked");
        assert_eq!(rx.try_pop(), Some(1));
        assert!(!rx.request_wake(), "empty: wait");
        tx.try_push(2).unwrap();
        tx.try_push(3).unwrap();
        assert!(tx.notify(&bell));
        assert!(!tx.notify(&bell));
        assert_eq!(signals.get(), 1);
        // Asking while descriptors wait says so (the re-check).
        assert!(rx.request_wake());
    }

    #[test]
    fn the_producer_is_signalled_when_it_waits_for_space() {
        let (mut tx, mut rx) = pair::<u64>(1).unwrap();
        let signals = std::cell::Cell::new(0);
        let bell = || signals.set(signals.get() + 1);
        tx.try_push(1).unwrap();
        assert!(!rx.notify(&bell), "nobody asked");
        assert!(!tx.request_wake(), "full: wait");
        rx.try_pop().unwrap();
        assert!(rx.notify(&bell));
        assert!(!rx.notify(&bell));
        assert_eq!(signals.get(), 1);
        assert!(tx.request_wake(), "space now");
    }

    #[test]
    fn halves_reattach_where_their_predecessors_stopped() {
        let layout = std::alloc::Layout::from_size_align(ring_bytes::<u64>(4), 64).unwrap();
        // SAFETY: non-zero size; leaked, used only by this ring.
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).unwrap();
        // SAFETY: the block holds a 4-descriptor ring and is the ring's alone
        // (each half is dropped before its successor attaches).
        unsafe {
            {
                let mut tx = Producer::<u64>::new(base, 4).unwrap();
                let mut rx = Consumer::<u64>::new(base, 4).unwrap();
                for i in 0..3 {
                    tx.try_push(i).unwrap();
                }
                assert_eq!(rx.try_pop(), Some(0));
            }
            // Both "crash" and restart: each continues where it stopped.
            let mut tx = Producer::<u64>::new(base, 4).unwrap();
            tx.try_push(3).unwrap();
            let mut rx = Consumer::<u64>::new(base, 4).unwrap();
            assert_eq!(
                std::iter::from_fn(|| rx.try_pop()).collect::<Vec<_>>(),
                [1, 2, 3]
            );
        }
    }

    #[test]
    fn a_corrupt_head_never_lets_the_consumer_read_past_a_full_ring() {
        let (_tx, mut rx) = pair::<u64>(4).unwrap();
        rx.ring.header().head.0.store(1000, Ordering::Relaxed);
        assert_eq!(rx.len(), 4);
        let mut n = 0;
        while rx.try_pop().is_some() {
            n += 1;
            assert!(n <= 1000);
            if n == 4 {
                break;
            }
        }
        assert_eq!(n, 4);
        // And a tail the consumer side pushed past head makes the producer
        // see a full ring, not a huge free count.
        let (mut tx, rx) = pair::<u64>(4).unwrap();
        rx.ring.header().tail.0.store(77, Ordering::Relaxed);
        assert_eq!(tx.free(), 0);
        assert_eq!(tx.try_push(1), Err(1));
    }

    /// A notification between threads: a word of "signalled", a waiter
    /// that fails the test instead of hanging when a wake-up is lost.
    struct TestNotification {
        pending: Mutex<bool>,
        cv: Condvar,
        signals: AtomicUsize,
    }

    impl TestNotification {
        fn new() -> Arc<Self> {
            Arc::new(Self {
                pending: Mutex::new(false),
                cv: Condvar::new(),
                signals: AtomicUsize::new(0),
            })
        }

        fn signal(&self) {
            self.signals.fetch_add(1, Ordering::Relaxed);
            *self.pending.lock().unwrap() = true;
            self.cv.notify_one();
        }

        fn wait(&self) {
            let mut pending = self.pending.lock().unwrap();
            while !*pending {
                let (p, timeout) = self
                    .cv
                    .wait_timeout(pending, Duration::from_secs(20))
                    .unwrap();
                pending = p;
                assert!(
                    *pending || !timeout.timed_out(),
                    "lost wake-up: waited 20 s"
                );
            }
            *pending = false;
        }
    }

    fn descriptor(i: u64) -> [u64; 2] {
        [i, i.wrapping_mul(0x9e37_79b9_7f4a_7c15)]
    }

    /// Pushes `count` descriptors through a `capacity` ring between two
    /// threads that sleep on (emulated) notifications; the producer
    /// notifies every `batch` pushes. Returns the signals each side sent.
    fn two_threads(count: u64, capacity: usize, batch: u64) -> (usize, usize) {
        let (mut tx, mut rx) = pair::<[u64; 2]>(capacity).unwrap();
        let producer_ntfn = TestNotification::new();
        let consumer_ntfn = TestNotification::new();
        let (p, c) = (producer_ntfn.clone(), consumer_ntfn.clone());
        let producer = std::thread::spawn(move || {
            let wake_consumer = || c.signal();
            for i in 0..count {
                tx.push_blocking(descriptor(i), &wake_consumer, || p.wait());
                if i % batch == batch - 1 {
                    tx.notify(&wake_consumer);
                }
            }
            tx.notify(&wake_consumer);
        });
        let (p, c) = (producer_ntfn.clone(), consumer_ntfn.clone());
        let consumer = std::thread::spawn(move || {
            let wake_producer = || p.signal();
            for i in 0..count {
                let d = rx.pop_blocking(&wake_producer, || c.wait());
                assert_eq!(d, descriptor(i), "descriptor {i} out of order or lost");
            }
            rx.notify(&wake_producer);
            assert_eq!(rx.try_pop(), None, "more descriptors than were pushed");
        });
        producer.join().expect("producer");
        consumer.join().expect("consumer");
        (
            consumer_ntfn.signals.load(Ordering::Relaxed),
            producer_ntfn.signals.load(Ordering::Relaxed),
        )
    }

    #[test]
    fn a_million_descriptors_through_a_small_ring_between_two_threads() {
        let (to_consumer, to_producer) = two_threads(1_000_000, 8, 4);
        // Signals go only to a side that asked: far fewer than descriptors.
        assert!(
            to_consumer < 1_000_000,
            "{to_consumer} signals to the consumer"
        );
        assert!(
            to_producer < 1_000_000,
            "{to_producer} signals to the producer"
        );
    }

    #[test]
    fn a_one_slot_ring_with_notify_only_when_blocked() {
        two_threads(100_000, 1, u64::MAX);
    }

    #[test]
    fn spinning_sides_need_no_signal_at_all() {
        let (mut tx, mut rx) = pair::<u64>(16).unwrap();
        let producer = std::thread::spawn(move || {
            for i in 0..200_000u64 {
                let mut d = i;
                while let Err(back) = tx.try_push(d) {
                    d = back;
                    std::thread::yield_now();
                }
            }
        });
        let mut expected = 0u64;
        while expected < 200_000 {
            match rx.try_pop() {
                Some(d) => {
                    assert_eq!(d, expected);
                    expected += 1;
                }
                None => std::thread::yield_now(),
            }
        }
        producer.join().unwrap();
    }
}
