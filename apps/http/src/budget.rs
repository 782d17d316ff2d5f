//! What received bytes may cost: the limits a heap allows for a number
//! of connections ([`Limits::fit`]), and receive buffers that grow only
//! within the bytes left to a connection, by fallible allocation.

use alloc::vec::Vec;

use crate::Limits;
use crate::head::Reject;

/// Heap bytes a connection costs whatever it receives: its state, the
/// glue's slot and map node, a small output buffer and the net library's
/// bookkeeping (a generous round figure: together they take about half).
pub const CONNECTION_COST: usize = 1024;

/// Received bytes of one connection beyond its head and body: a chunk
/// from the net server (its `rx-window`, 16 KiB by default) may carry the
/// start of the next request.
const INPUT_SLACK: usize = 16 * 1024;

impl Limits {
    /// These limits for a heap of `heap` bytes that serves up to
    /// `max_connections` at once. Received bytes (heads and bodies waiting
    /// in receive buffers, decoded chunked bodies) get half of what the
    /// connections' own cost leaves: [`max_buffered`](Self::max_buffered).
    /// The other half is for responses and the server's own use. The body
    /// limit shrinks to what fits that budget beside a head, so that one
    /// request alone always fits. `None` if not even a head fits.
    ///
    /// ```
    /// use http::Limits;
    /// // The component in config/default: an 8 MiB heap, 1,000 connections.
    /// let fitted = Limits::default().fit(8 << 20, 1000).unwrap();
    /// assert_eq!(fitted.max_body, 1 << 20);
    /// assert!(1000 * http::CONNECTION_COST + 2 * fitted.max_buffered <= 8 << 20);
    /// // A smaller heap takes smaller bodies.
    /// assert!(Limits::default().fit(2 << 20, 1000).unwrap().max_body < 1 << 20);
    /// assert_eq!(Limits::default().fit(1 << 20, 1000), None);
    /// ```
    pub fn fit(self, heap: usize, max_connections: usize) -> Option<Self> {
        let fixed = max_connections.checked_mul(CONNECTION_COST)?;
        let max_buffered = heap.checked_sub(fixed)? / 2;
        let body_room = max_buffered.checked_sub(self.max_head + INPUT_SLACK)?;
        Some(Self {
            max_buffered,
            max_body: self.max_body.min(body_room),
            ..self
        })
    }
}

/// Makes room in `buf` for `additional` more bytes without letting its
/// capacity pass `most`: [`Reject::Busy`] if that is not enough, or if
/// the allocation fails. The capacity doubles, within `most`, so that
/// growing by small pieces copies each byte a bounded number of times.
pub(crate) fn grow(buf: &mut Vec<u8>, additional: usize, most: usize) -> Result<(), Reject> {
    let needed = buf.len().checked_add(additional).ok_or(Reject::Busy)?;
    if needed <= buf.capacity() {
        return Ok(());
    }
    if needed > most {
        return Err(Reject::Busy);
    }
    let target = needed.max(buf.capacity().saturating_mul(2)).min(most);
    buf.try_reserve_exact(target - buf.len())
        .map_err(|_| Reject::Busy)
}
