//! A client's request and reply buffer: a shared region both the client
//! and the server map read-write. The client writes a request, calls, and
//! reads the reply after the call returns; the server touches it only
//! while it handles that client's call. Both sides copy in and out, never
//! hold references into it.

use alloc::vec::Vec;
use libcap::start::SharedRegion;

/// A shared buffer: raw memory that another component also writes.
#[derive(Debug)]
pub struct SharedBuf {
    base: *mut u8,
    len: usize,
}

// SAFETY: plain memory; no thread-bound state.
unsafe impl Send for SharedBuf {}

impl SharedBuf {
    /// The buffer at `base`, `len` bytes.
    ///
    /// # Safety
    ///
    /// `base..base + len` stays mapped read-write for the rest of the
    /// program, and this program reaches it only through this value.
    pub unsafe fn new(base: *mut u8, len: usize) -> Self {
        Self { base, len }
    }

    /// The region `init` mapped.
    pub fn from_region(region: SharedRegion) -> Self {
        // SAFETY: `Start` hands a region out once and init keeps it
        // mapped for the component's lifetime.
        unsafe { Self::new(region.as_ptr(), region.len()) }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Replaces `out` with a copy of the first `len` bytes; `false` (and
    /// `out` empty) if the buffer is shorter.
    pub fn read(&self, len: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        if len > self.len {
            return false;
        }
        out.reserve(len);
        // SAFETY: `len` bytes are in the mapped buffer, `out` has room for
        // them, and a copy of bytes is valid whatever they are.
        unsafe {
            core::ptr::copy_nonoverlapping(self.base, out.as_mut_ptr(), len);
            out.set_len(len);
        }
        true
    }

    /// Writes `bytes` at its start; `false` (writing nothing) if they do
    /// not fit.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.len {
            return false;
        }
        // SAFETY: in bounds of the mapped buffer, and `bytes` is our own
        // memory, not the buffer's.
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), self.base, bytes.len()) };
        true
    }
}
