//! Queue notifications held back while a driver works through a round.
//!
//! A driver that queues many buffers in one round (a network server
//! sending the replies of a round, taking back the receive buffers it
//! emptied) would tell the device of each as the virtio driver adds it,
//! whenever the device asks to be told (`VIRTIO_F_EVENT_IDX`). Each
//! notification is a write to the device's notify register: on an
//! emulated device an exit to the emulator, which also takes the
//! emulator's lock and waits for its I/O thread. A [`Doorbell`] shared
//! with the transport ([`MsixTransport`](crate::interrupt::MsixTransport))
//! holds them: between [`hold`](Doorbell::hold) and
//! [`release`](Doorbell::release) the transport only records which queues
//! were notified, and `release` writes each of them once. The device
//! reads the rings whenever it likes; a notification only says "look", so
//! one at the end of the round says it for everything added in it.
//!
//! The driver must release before it sleeps: a device never told of new
//! buffers never uses them.

use alloc::rc::Rc;
use core::cell::{Cell, RefCell};
use core::fmt;
use virtio_drivers::transport::Transport;
use virtio_drivers::transport::pci::PciTransport;

/// Notifications of up to 32 queues, held while the driver says so; see
/// the module documentation. Clones share the state.
#[derive(Clone)]
pub struct Doorbell(Rc<State>);

struct State {
    held: Held,
    /// A second transport to the same function, used only to write the
    /// notify register (the driver's own is inside the virtio driver).
    ringer: RefCell<PciTransport>,
}

/// Whether notifications are held, and which queues were notified
/// meanwhile (bit `q` for queue `q`; queues past 31 are never held).
#[derive(Default)]
struct Held {
    holding: Cell<bool>,
    pending: Cell<u32>,
}

impl Held {
    /// Records a notification of `queue` if holding; false if it is to be
    /// written now.
    fn record(&self, queue: u16) -> bool {
        if !self.holding.get() || queue >= 32 {
            return false;
        }
        self.pending.set(self.pending.get() | 1 << queue);
        true
    }

    /// Stops holding; the queues notified meanwhile, each once, lowest
    /// first.
    fn release(&self) -> impl Iterator<Item = u16> {
        self.holding.set(false);
        let mut pending = self.pending.replace(0);
        core::iter::from_fn(move || {
            (pending != 0).then(|| {
                let queue = pending.trailing_zeros() as u16;
                pending &= pending - 1;
                queue
            })
        })
    }
}

impl Doorbell {
    /// A doorbell that notifies through `ringer`, a transport to the same
    /// function as the driver's.
    pub fn new(ringer: PciTransport) -> Self {
        Self(Rc::new(State {
            held: Held::default(),
            ringer: RefCell::new(ringer),
        }))
    }

    /// Holds notifications from now until [`release`](Self::release).
    pub fn hold(&self) {
        self.0.held.holding.set(true);
    }

    /// Writes every notification held, once per queue, and holds no more.
    pub fn release(&self) {
        for queue in self.0.held.release() {
            self.0.ringer.borrow_mut().notify(queue);
        }
    }

    /// Records a notification of `queue` if notifications are held; false
    /// if it is to be written now.
    pub(crate) fn held(&self, queue: u16) -> bool {
        self.0.held.record(queue)
    }
}

impl fmt::Debug for Doorbell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Doorbell")
            .field("holding", &self.0.held.holding.get())
            .field("pending", &self.0.held.pending.get())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_notifications_come_out_once_per_queue_and_only_while_holding() {
        let held = Held::default();
        assert!(!held.record(1), "not holding: written at once");
        held.holding.set(true);
        for queue in [1, 0, 1, 1, 31, 0] {
            assert!(held.record(queue));
        }
        assert!(
            !held.record(32),
            "a queue the mask cannot hold is written at once"
        );
        assert_eq!(held.release().collect::<alloc::vec::Vec<_>>(), [0, 1, 31]);
        assert!(!held.record(1), "released: written at once again");
        assert_eq!(held.release().count(), 0, "nothing left over");
    }
}
