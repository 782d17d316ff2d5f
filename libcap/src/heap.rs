//! The heap allocator: [`talc`] over one block of memory, behind a small
//! spin lock.
//!
//! A component does not touch this module: [`component!`](crate::component)
//! makes a [`Heap`] the program's `#[global_allocator]` and the runtime
//! gives it the heap `init` mapped (`StartInfo::heap_base`, `heap_size`
//! bytes) before `main` runs, so `alloc::vec::Vec`, `String`, `Box` work.
//! A root task (which has no start-info page) may use a `Heap` of its own
//! over memory it maps, as below; libcap never installs an allocator in a
//! program that did not ask for one.
//!
//! ```
//! use core::alloc::{GlobalAlloc, Layout};
//! use libcap::heap::Heap;
//!
//! static HEAP: Heap = Heap::new();
//! // (in a root task: #[global_allocator] static HEAP: Heap = Heap::new();)
//! let memory: &'static mut [u8] = Box::leak(vec![0u8; 64 * 1024].into_boxed_slice());
//! // SAFETY: the memory is leaked (lives forever) and used only by HEAP.
//! unsafe { HEAP.claim(memory.as_mut_ptr(), memory.len()) }.expect("claim");
//! let layout = Layout::from_size_align(100, 8).unwrap();
//! // SAFETY: a non-zero-sized layout.
//! let p = unsafe { HEAP.alloc(layout) };
//! assert!(!p.is_null());
//! // SAFETY: allocated above with the same layout.
//! unsafe { HEAP.dealloc(p, layout) };
//! ```

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, Ordering};
use lock_api::{GuardSend, RawMutex};
use talc::{ErrOnOom, Span, Talc, Talck};

/// A test-and-set spin lock for [`talc`]'s lock API.
///
/// Components are single-threaded today; the lock keeps a second thread
/// in the same address space correct, but a thread that spins for it while
/// a lower-priority thread holds it would spin forever (the kernel
/// schedules strictly by priority), so threads that allocate share one
/// priority. Spinning yields the processor to them.
///
/// ```
/// use libcap::heap::SpinLock;
/// use libcap::heap::lock_api::RawMutex;
///
/// let lock = SpinLock::INIT;
/// lock.lock();
/// assert!(!lock.try_lock());
/// // SAFETY: held by this context.
/// unsafe { lock.unlock() };
/// assert!(lock.try_lock());
/// ```
pub struct SpinLock(AtomicBool);

/// The lock API [`SpinLock`] implements (the `lock_api` crate, which
/// [`talc`] uses).
///
/// ```
/// use libcap::heap::lock_api::RawMutex;
/// let lock = libcap::heap::SpinLock::INIT;
/// assert!(lock.try_lock());
/// ```
pub use lock_api;

// SAFETY: `lock` and `try_lock` succeed only for the one context that swaps
// the flag from false to true (Acquire), and `unlock` (Release) clears it,
// so at most one context holds the lock and its writes are seen by the
// next holder.
unsafe impl RawMutex for SpinLock {
    const INIT: Self = Self(AtomicBool::new(false));
    type GuardMarker = GuardSend;

    fn lock(&self) {
        while !self.try_lock() {
            while self.0.load(Ordering::Relaxed) {
                relax();
            }
        }
    }

    fn try_lock(&self) -> bool {
        self.0
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    unsafe fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(target_os = "none")]
fn relax() {
    crate::syscall::yield_now();
}

#[cfg(not(target_os = "none"))]
fn relax() {
    core::hint::spin_loop();
}

/// Why [`Heap::claim`] refused memory.
///
/// ```
/// use libcap::heap::{Heap, HeapError};
/// let heap = Heap::new();
/// let mut tiny = [0u8; 16];
/// // SAFETY: `tiny` outlives `heap`, which never allocates from it anyway.
/// assert_eq!(unsafe { heap.claim(tiny.as_mut_ptr(), tiny.len()) }, Err(HeapError::TooSmall));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HeapError {
    /// The block cannot hold the allocator's bookkeeping.
    TooSmall,
    /// The block starts at address 0 or runs past the end of memory.
    BadAddress,
}

/// A heap allocator: [`talc`] behind a [`SpinLock`]. Empty until
/// [`claim`](Self::claim)ed; an allocation it cannot satisfy returns null
/// (Rust then reports `memory allocation failed` as a panic).
///
/// ```
/// use libcap::heap::Heap;
/// static HEAP: Heap = Heap::new();
/// assert_eq!(HEAP.claimed(), 0);
/// ```
pub struct Heap {
    talc: Talck<SpinLock, ErrOnOom>,
    claimed: core::sync::atomic::AtomicUsize,
}

impl Heap {
    /// An allocator with no memory.
    ///
    /// ```
    /// static HEAP: libcap::heap::Heap = libcap::heap::Heap::new();
    /// ```
    pub const fn new() -> Self {
        Self {
            talc: Talck::new(Talc::new(ErrOnOom)),
            claimed: core::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Gives the allocator the `size` bytes at `base`.
    ///
    /// # Safety
    ///
    /// The memory is mapped read-write, stays so for as long as the heap
    /// is used, and nothing else uses it.
    ///
    /// ```
    /// let heap = libcap::heap::Heap::new();
    /// let memory: &'static mut [u8] = Box::leak(vec![0u8; 8192].into_boxed_slice());
    /// // SAFETY: leaked memory that only `heap` uses.
    /// unsafe { heap.claim(memory.as_mut_ptr(), memory.len()) }.unwrap();
    /// assert_eq!(heap.claimed(), 8192);
    /// ```
    pub unsafe fn claim(&self, base: *mut u8, size: usize) -> Result<(), HeapError> {
        // talc panics on a block that contains address 0.
        if base.is_null() || (base as usize).checked_add(size).is_none() {
            return Err(HeapError::BadAddress);
        }
        // SAFETY: the caller's contract: the block is mapped read-write,
        // ours for the heap's lifetime, and overlaps no other heap.
        match unsafe { self.talc.lock().claim(Span::from_base_size(base, size)) } {
            Ok(_) => {
                self.claimed.fetch_add(size, Ordering::Relaxed);
                Ok(())
            }
            Err(()) => Err(HeapError::TooSmall),
        }
    }

    /// Bytes given to the allocator so far.
    ///
    /// ```
    /// assert_eq!(libcap::heap::Heap::new().claimed(), 0);
    /// ```
    pub fn claimed(&self) -> usize {
        self.claimed.load(Ordering::Relaxed)
    }

    /// Bytes allocated now (what the live allocations asked for).
    ///
    /// ```
    /// let heap = libcap::heap::Heap::new();
    /// let memory: &'static mut [u8] = Box::leak(vec![0u8; 8192].into_boxed_slice());
    /// // SAFETY: leaked memory that only `heap` uses.
    /// unsafe { heap.claim(memory.as_mut_ptr(), memory.len()) }.unwrap();
    /// let layout = core::alloc::Layout::from_size_align(100, 8).unwrap();
    /// // SAFETY: a valid layout; the block goes back to this heap below.
    /// let p = unsafe { core::alloc::GlobalAlloc::alloc(&heap, layout) };
    /// assert_eq!(heap.used(), 100);
    /// // SAFETY: allocated above with this layout.
    /// unsafe { core::alloc::GlobalAlloc::dealloc(&heap, p, layout) };
    /// assert_eq!(heap.used(), 0);
    /// ```
    pub fn used(&self) -> usize {
        self.talc.lock().get_counters().allocated_bytes
    }

    /// Bytes the allocator does not have free: the live allocations
    /// rounded up to its granule, and its bookkeeping. At least
    /// [`used`](Self::used); the ratio of the two is the allocator's
    /// overhead.
    ///
    /// ```
    /// let heap = libcap::heap::Heap::new();
    /// let memory: &'static mut [u8] = Box::leak(vec![0u8; 8192].into_boxed_slice());
    /// // SAFETY: leaked memory that only `heap` uses.
    /// unsafe { heap.claim(memory.as_mut_ptr(), memory.len()) }.unwrap();
    /// let layout = core::alloc::Layout::from_size_align(100, 8).unwrap();
    /// // SAFETY: a valid layout; the block goes back to this heap below.
    /// let p = unsafe { core::alloc::GlobalAlloc::alloc(&heap, layout) };
    /// assert!(heap.held() >= heap.used());
    /// // SAFETY: allocated above with this layout.
    /// unsafe { core::alloc::GlobalAlloc::dealloc(&heap, p, layout) };
    /// ```
    pub fn held(&self) -> usize {
        let talc = self.talc.lock();
        let c = talc.get_counters();
        c.claimed_bytes.saturating_sub(c.available_bytes)
    }
}

impl Default for Heap {
    /// The same as [`Heap::new`].
    ///
    /// ```
    /// let heap = libcap::heap::Heap::default();
    /// assert_eq!(heap.claimed(), 0);
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every method forwards to `Talck`'s `GlobalAlloc`, which meets the
// trait's contract (talc's documentation) given a correct `RawMutex`.
unsafe impl GlobalAlloc for Heap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.talc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.talc.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.talc.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.talc.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heap_of(bytes: usize) -> &'static Heap {
        let heap: &'static Heap = Box::leak(Box::new(Heap::new()));
        let mem = Box::leak(vec![0u8; bytes].into_boxed_slice());
        // SAFETY: leaked memory that only this heap uses.
        unsafe { heap.claim(mem.as_mut_ptr(), mem.len()) }.expect("claim");
        heap
    }

    #[test]
    fn allocations_are_aligned_disjoint_and_reusable() {
        let heap = heap_of(64 * 1024);
        let mut blocks = Vec::new();
        for (i, align) in [8usize, 16, 64, 4096].into_iter().enumerate() {
            let layout = Layout::from_size_align(100 + i * 50, align).unwrap();
            // SAFETY: non-zero size.
            let p = unsafe { heap.alloc(layout) };
            assert!(!p.is_null());
            assert_eq!(p as usize % align, 0);
            // SAFETY: just allocated with this layout.
            unsafe { p.write_bytes(i as u8 + 1, layout.size()) };
            blocks.push((p, layout, i as u8 + 1));
        }
        for &(p, layout, fill) in &blocks {
            // SAFETY: allocated above, still live.
            let bytes = unsafe { core::slice::from_raw_parts(p, layout.size()) };
            assert!(bytes.iter().all(|&b| b == fill), "blocks overlap");
        }
        for (p, layout, _) in blocks {
            // SAFETY: allocated above with this layout.
            unsafe { heap.dealloc(p, layout) };
        }
        // Everything was freed: a block of most of the heap fits again.
        let big = Layout::from_size_align(48 * 1024, 8).unwrap();
        // SAFETY: non-zero size.
        let p = unsafe { heap.alloc(big) };
        assert!(!p.is_null());
    }

    #[test]
    fn an_empty_or_exhausted_heap_returns_null() {
        let empty = Heap::new();
        let layout = Layout::from_size_align(8, 8).unwrap();
        // SAFETY: non-zero size.
        assert!(unsafe { empty.alloc(layout) }.is_null());
        let small = heap_of(4096);
        let too_big = Layout::from_size_align(8192, 8).unwrap();
        // SAFETY: non-zero size.
        assert!(unsafe { small.alloc(too_big) }.is_null());
    }

    #[test]
    fn realloc_keeps_the_contents() {
        let heap = heap_of(64 * 1024);
        let layout = Layout::from_size_align(16, 8).unwrap();
        // SAFETY: non-zero size; then the pointer is live with `layout`.
        unsafe {
            let p = heap.alloc(layout);
            p.copy_from_nonoverlapping(b"0123456789abcdef".as_ptr(), 16);
            let q = heap.realloc(p, layout, 4000);
            assert!(!q.is_null());
            assert_eq!(core::slice::from_raw_parts(q, 16), b"0123456789abcdef");
            heap.dealloc(q, Layout::from_size_align(4000, 8).unwrap());
        }
    }

    #[test]
    fn null_or_wrapping_blocks_are_refused() {
        let heap = Heap::new();
        // SAFETY: refused before anything is touched.
        unsafe {
            assert_eq!(
                heap.claim(core::ptr::null_mut(), 4096),
                Err(HeapError::BadAddress)
            );
            assert_eq!(
                heap.claim(usize::MAX as *mut u8, 2),
                Err(HeapError::BadAddress)
            );
        }
        assert_eq!(heap.claimed(), 0);
    }

    #[test]
    fn the_lock_excludes_a_second_holder() {
        let lock = SpinLock::INIT;
        assert!(lock.try_lock());
        assert!(!lock.try_lock());
        // SAFETY: held here.
        unsafe { lock.unlock() };
        lock.lock();
        // SAFETY: held here.
        unsafe { lock.unlock() };
    }
}
