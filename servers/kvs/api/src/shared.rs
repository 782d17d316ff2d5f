//! A client's request and reply buffer: a shared region both the client
//! and the server map read-write. The client writes a request, calls, and
//! reads the reply after the call returns; the server touches it only
//! while it handles that client's call. Both sides copy in and out (with
//! libcap's bounds-checked `SharedRegion::read_at`/`write_at`), never hold
//! references into it.

use alloc::vec::Vec;
use libcap::start::SharedRegion;

/// A shared buffer: a request or reply at its start.
#[derive(Debug)]
pub struct SharedBuf {
    region: SharedRegion,
}

impl SharedBuf {
    /// The buffer at `base`, `len` bytes; `None` if `base` is null.
    ///
    /// # Safety
    ///
    /// `base..base + len` stays mapped read-write for the rest of the
    /// program, and this program reaches it only through this value.
    pub unsafe fn new(base: *mut u8, len: usize) -> Option<Self> {
        // SAFETY: upheld by the caller.
        unsafe { SharedRegion::new(base, len) }.map(Self::from_region)
    }

    /// The region `init` mapped.
    pub fn from_region(region: SharedRegion) -> Self {
        Self { region }
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.region.is_empty()
    }

    /// Replaces `out` with a copy of the first `len` bytes; `false` (and
    /// `out` empty) if the buffer is shorter.
    pub fn read(&self, len: usize, out: &mut Vec<u8>) -> bool {
        out.clear();
        if len > self.len() {
            return false;
        }
        out.resize(len, 0);
        self.region.read_at(0, out)
    }

    /// Writes `bytes` at its start; `false` (writing nothing) if they do
    /// not fit.
    pub fn write(&mut self, bytes: &[u8]) -> bool {
        self.region.write_at(0, bytes)
    }
}
