//! The host tests' allocator: the system's, noting the largest block each
//! thread asks for, so that a test can bound what a step allocates at
//! once (a buffer that grows with a value, say, where the component's
//! heap may have no room for a second copy).

extern crate std;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

std::thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static PAUSED: Cell<bool> = const { Cell::new(false) };
}

/// The largest block this thread asked for (allocated or grown to) since
/// the last call.
pub(crate) fn take() -> usize {
    LARGEST.with(|l| l.replace(0))
}

/// Runs `f` without noting what it allocates (a test's stand-in for a
/// device, whose memory is not the component's).
pub(crate) fn unnoted<T>(f: impl FnOnce() -> T) -> T {
    let was = PAUSED.with(|p| p.replace(true));
    let out = f();
    PAUSED.with(|p| p.set(was));
    out
}

fn note(size: usize) {
    // `try_with`: the thread's locals may be gone while it ends.
    if PAUSED.try_with(Cell::get) == Ok(false) {
        let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
    }
}

struct Noting;

// SAFETY: every call goes to `System` with the caller's arguments; noting
// the size touches a thread-local cell and allocates nothing.
unsafe impl GlobalAlloc for Noting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller's contract, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: the caller's contract, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static NOTING: Noting = Noting;
