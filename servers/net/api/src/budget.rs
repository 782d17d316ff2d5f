//! What a front end's connections hold together: their buffered input
//! and unsent output, each connection counted at what it held when it was
//! last accounted. A front end checks a connection's growth against what
//! the others leave of its limit (the part of its heap that is the
//! connections'), so that no client, and no crowd of them, can make it
//! allocate past its heap: the RESP front end closes the connection
//! (Redis's client eviction), the memcached one refuses the request as
//! memcached does when it cannot allocate.

/// The part of a front end's `heap` its connections may buffer
/// together, when a call to its store carries up to `region` bytes each
/// way: the heap holds besides them a call on its way to the store, the
/// answer that came back, and one reply copied into a connection's
/// output before the budget sees it (three times `region`), and 2 MiB
/// for everything else; at least 1 MiB.
pub fn share_of_heap(heap: u64, region: u64) -> u64 {
    let reserve = 3 * region + (2 << 20);
    heap.saturating_sub(reserve).max(1 << 20)
}

/// The bytes a front end's connections hold, as last accounted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    held: u64,
}

impl Budget {
    /// What the connections hold together.
    pub fn held(&self) -> u64 {
        self.held
    }

    /// What a connection counted as holding `accounted` may hold under
    /// `limit`, given what the others hold.
    pub fn left(&self, limit: u64, accounted: u64) -> u64 {
        let others = self.held.saturating_sub(accounted);
        limit.saturating_sub(others)
    }

    /// Counts a connection as holding `now` bytes instead of `accounted`
    /// (0 once it is gone).
    pub fn account(&mut self, accounted: &mut u64, now: u64) {
        self.held = self.held.saturating_sub(*accounted) + now;
        *accounted = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connections_share_is_the_heap_less_three_regions_and_2_mib() {
        let mib = 1 << 20;
        assert_eq!(share_of_heap(16 * mib, mib), 11 * mib);
        assert_eq!(share_of_heap(4 * mib, mib), mib);
    }

    #[test]
    fn each_connection_is_counted_once_at_its_latest() {
        let mut b = Budget::default();
        let (mut a, mut c) = (0, 0);
        b.account(&mut a, 100);
        b.account(&mut c, 50);
        assert_eq!(b.held(), 150);
        // Growing `a` replaces its old count.
        b.account(&mut a, 300);
        assert_eq!((b.held(), a), (350, 300));
        // What `c` may hold: the limit less what `a` holds.
        assert_eq!(b.left(1000, c), 700);
        assert_eq!(b.left(200, c), 0);
        b.account(&mut a, 0);
        b.account(&mut c, 0);
        assert_eq!(b.held(), 0);
    }
}
