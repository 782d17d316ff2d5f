//! Typed references to kernel objects in memory carved from untyped RAM:
//! threads, endpoints and notifications. A reference is made from an
//! address only in `unsafe` code that vouches for the object being there;
//! everything else copies references it was given. The safe ways to get
//! one are from a capability in a live slot ([`SlotRef::tcb`],
//! [`SlotRef::ipc_cap`]): a capability names a live object of its type.

use super::cap::Cap;
use super::objects::{Endpoint, Notification};
use super::slot::SlotRef;
use super::tcb::Tcb;
use basalt_abi::Rights;
use core::fmt;
use core::ptr::NonNull;

/// A live kernel object of type `T`, by address.
///
/// The kernel is single-threaded (one CPU, interrupts off while it runs),
/// and [`ObjRef::with`] lends the object only for the length of a closure,
/// so no reference to it outlives the call. The closures never reach the
/// same object again while they hold it: debug builds check that a `with`
/// on an object never nests inside another `with` on it.
#[repr(transparent)]
pub struct ObjRef<T>(NonNull<T>);

pub type TcbRef = ObjRef<Tcb>;
pub type EndpointRef = ObjRef<Endpoint>;
pub type NotificationRef = ObjRef<Notification>;

impl<T> ObjRef<T> {
    /// # Safety
    /// `addr` must be the kernel address of an initialized `T` that stays
    /// live (its memory neither freed nor reused for anything else) for as
    /// long as this reference, or any copy of it, is used. The kernel keeps
    /// this by clearing every stored reference to an object (queue links,
    /// reply links, bindings) before the object is destroyed.
    #[inline]
    pub unsafe fn from_addr(addr: u64) -> Self {
        debug_assert!(addr != 0, "kernel objects are never at address 0");
        // SAFETY: a live object's address is not null (the caller's
        // contract).
        Self(unsafe { NonNull::new_unchecked(addr as *mut T) })
    }

    pub fn addr(self) -> u64 {
        self.0.as_ptr() as u64
    }

    /// Runs `f` on the object.
    pub fn with<R>(self, f: impl FnOnce(&mut T) -> R) -> R {
        let _lent = borrows::lend(self.addr());
        // SAFETY: the object is live (the constructor's contract); the
        // kernel is single-threaded and no other reference to the object
        // is live while `f` runs (see the type's comment).
        f(unsafe { &mut *self.0.as_ptr() })
    }

    /// The object as a pointer: for the user-mode return path, which is
    /// handed the saved registers, and for pointers kept in atomics.
    pub fn as_ptr(self) -> *mut T {
        self.0.as_ptr()
    }
}

// SAFETY: a reference is only an address; the kernel uses objects on one
// CPU, so the statics that keep references (the scheduler's queues, IRQ
// bindings, the FPU's owner) never hand them to a concurrent user.
unsafe impl<T> Send for ObjRef<T> {}

impl<T> Clone for ObjRef<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ObjRef<T> {}

impl<T> PartialEq for ObjRef<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<T> Eq for ObjRef<T> {}

impl<T> fmt::Debug for ObjRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.addr())
    }
}

/// A capability to an IPC object, with a typed reference to the object:
/// what the IPC paths need of a capability.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum IpcCap {
    Endpoint {
        ep: EndpointRef,
        badge: u64,
        rights: Rights,
    },
    Notification {
        ntfn: NotificationRef,
        badge: u64,
        rights: Rights,
    },
}

impl IpcCap {
    pub fn rights(self) -> Rights {
        match self {
            IpcCap::Endpoint { rights, .. } | IpcCap::Notification { rights, .. } => rights,
        }
    }
}

impl SlotRef {
    /// The thread this slot's TCB capability names (`None` for any other
    /// capability).
    #[inline]
    pub fn tcb(self) -> Option<TcbRef> {
        let Cap::Tcb { base } = self.cap() else {
            return None;
        };
        // SAFETY: a capability in a live slot names a live object of its
        // type (an object is destroyed only with its last capability).
        Some(unsafe { TcbRef::from_addr(base) })
    }

    /// This slot's capability if it is an endpoint or notification.
    #[inline]
    pub fn ipc_cap(self) -> Option<IpcCap> {
        match self.cap() {
            Cap::Endpoint {
                base,
                badge,
                rights,
            } => Some(IpcCap::Endpoint {
                // SAFETY: as in `tcb`.
                ep: unsafe { EndpointRef::from_addr(base) },
                badge,
                rights,
            }),
            Cap::Notification {
                base,
                badge,
                rights,
            } => Some(IpcCap::Notification {
                // SAFETY: as in `tcb`.
                ntfn: unsafe { NotificationRef::from_addr(base) },
                badge,
                rights,
            }),
            _ => None,
        }
    }
}

/// Debug builds keep the addresses of the objects lent out by
/// [`ObjRef::with`] and stop at a second loan of one (which would alias a
/// `&mut`). Release builds keep nothing.
mod borrows {
    /// A loan, given back when this is dropped.
    pub struct Lent;

    #[cfg(not(debug_assertions))]
    pub fn lend(_addr: u64) -> Lent {
        Lent
    }

    #[cfg(debug_assertions)]
    pub use checked::lend;

    #[cfg(debug_assertions)]
    mod checked {
        use super::Lent;
        use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

        /// Loans that nest deeper than this are not tracked (none do: an
        /// object's queue lends the threads on it, one at a time).
        const DEPTH: usize = 8;

        /// The addresses lent out, innermost last. Plain loads and stores
        /// do: the kernel lends objects on one CPU, with interrupts off.
        struct Loans {
            addrs: [AtomicU64; DEPTH],
            len: AtomicUsize,
        }

        impl Loans {
            const fn new() -> Self {
                Self {
                    addrs: [const { AtomicU64::new(0) }; DEPTH],
                    len: AtomicUsize::new(0),
                }
            }

            fn lend(&self, addr: u64) {
                let len = self.len.load(Ordering::Relaxed);
                let lent = self.addrs[..len.min(DEPTH)]
                    .iter()
                    .any(|a| a.load(Ordering::Relaxed) == addr);
                assert!(
                    !lent,
                    "kernel object {addr:#x} lent twice (a nested `with`)"
                );
                if len < DEPTH {
                    self.addrs[len].store(addr, Ordering::Relaxed);
                }
                self.len.store(len + 1, Ordering::Relaxed);
            }

            fn give_back(&self) {
                let len = self.len.load(Ordering::Relaxed);
                self.len.store(len - 1, Ordering::Relaxed);
            }
        }

        // Host tests run on many threads, each with objects of its own.
        #[cfg(test)]
        std::thread_local! {
            static LOANS: Loans = const { Loans::new() };
        }

        #[cfg(test)]
        fn loans<R>(f: impl FnOnce(&Loans) -> R) -> R {
            LOANS.with(f)
        }

        #[cfg(not(test))]
        static LOANS: Loans = Loans::new();

        #[cfg(not(test))]
        fn loans<R>(f: impl FnOnce(&Loans) -> R) -> R {
            f(&LOANS)
        }

        pub fn lend(addr: u64) -> Lent {
            loans(|l| l.lend(addr));
            Lent
        }

        impl Drop for Lent {
            fn drop(&mut self) {
                loans(Loans::give_back);
            }
        }
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;

    fn notification() -> NotificationRef {
        let n = Box::leak(Box::new(Notification::default()));
        // SAFETY: a live notification that is never freed.
        unsafe { NotificationRef::from_addr(n as *mut Notification as u64) }
    }

    #[test]
    fn loans_of_different_objects_nest() {
        let (a, b) = (notification(), notification());
        a.with(|x| b.with(|y| x.word = y.word + 1));
        assert_eq!(a.with(|x| x.word), 1);
    }

    #[test]
    #[should_panic(expected = "lent twice")]
    fn a_second_loan_of_one_object_is_caught() {
        let a = notification();
        a.with(|_| a.with(|_| ()));
    }
}
