//! A client's request and reply buffer: a shared region both the client
//! and the server map read-write. The client writes a request, calls, and
//! reads the reply after the call returns; the server touches it only
//! while it handles that client's call. Both sides copy in and out (with
//! libcap's bounds-checked `SharedRegion::read_at`/`write_at`), never hold
//! references into it.
//!
//! The region's last [`CONTROL_BYTES`] are not the buffer's: they are the
//! [`Control`] words through which a round that runs on past
//! `busy-reply-threshold` talks with its client while no call is in
//! progress ([`crate::busy`]). Both sides split the region the same way
//! ([`SharedBuf::from_region`]), so they agree on where the buffer ends.

use crate::busy::Control;
use alloc::vec::Vec;
use libcap::start::SharedRegion;

/// Bytes at the end of a region that hold its [`Control`] words (one
/// cache line; up to 63 more where the region's size is not a multiple
/// of 64, since the split keeps both parts aligned). A region smaller
/// than twice this has none: all of it is buffer.
pub const CONTROL_BYTES: usize = 64;

/// A shared buffer: a request or reply at its start.
#[derive(Debug)]
pub struct SharedBuf {
    region: SharedRegion,
    control: Option<Control>,
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

    /// The region `init` mapped: the buffer, and the control words at its
    /// end when it has room for them.
    pub fn from_region(region: SharedRegion) -> Self {
        let len = region.len();
        if len < 2 * CONTROL_BYTES {
            return Self {
                region,
                control: None,
            };
        }
        // A multiple of 64 inside the region: `split_at` cannot refuse it.
        let at = (len - CONTROL_BYTES) & !63;
        match region.split_at(at) {
            Some((region, control)) => Self {
                region,
                control: Some(Control::new(control)),
            },
            None => unreachable!("split at a multiple of 64 inside the region"),
        }
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

    /// The region's control words, if it has room for them.
    pub fn control(&mut self) -> Option<&mut Control> {
        self.control.as_mut()
    }

    /// Takes the control words out (the server keeps them where an
    /// overtime script can reach them).
    pub fn take_control(&mut self) -> Option<Control> {
        self.control.take()
    }
}
