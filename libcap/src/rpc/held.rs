//! Held replies: a server loop that answers some calls only after its
//! state has settled (group commit).
//!
//! A server whose writes must be durable before it acknowledges them
//! (the kvs server under `fsync = always`) would otherwise flush its disk
//! once per call. [`serve_held`] lets one flush cover every write that
//! arrived meanwhile:
//!
//! 1. Each call is dispatched as in [`serve`](super::serve) and its reply
//!    encoded. Then the loop asks [`Settle::hold`]: a reply not held goes
//!    out at once, as usual.
//! 2. A held reply is moved into a reply capability
//!    ([`save_reply`](crate::ipc::save_reply)) in one of the pool's slots,
//!    and its label and words are kept next to it ([`ReplyPool`]).
//! 3. While replies are held, the loop receives *without blocking*, so
//!    the calls already waiting are taken (and dispatched) first. When
//!    none waits, or the pool is full, it calls [`Settle::settle`] once
//!    and then answers every held reply: as encoded if that returned
//!    `Ok`, as [`RpcError::Remote`](super::RpcError::Remote)`(code)` if it
//!    returned `Err(code)`. Then it blocks in a receive again.
//!
//! Bound-notification signals reach the `notified` hook at any point, as
//! in [`serve`](super::serve). A reply that cannot be held (no pool slot,
//! or the kernel refuses the slot) is not lost: the loop settles at once
//! and sends that reply directly.
//!
//! A server declared with [`rpc_interface!`](crate::rpc_interface) that
//! implements [`Settle`] gets a `serve_held` method:
//!
//! ```no_run
//! use libcap::abi::start_info::slot::FIRST_FREE;
//! use libcap::rpc::{Caller, ReplyPool, Settle};
//!
//! libcap::rpc_interface! {
//!     /// A counter whose increments are durable before they are acknowledged.
//!     pub interface Counter {
//!         /// Its client.
//!         client CounterClient;
//!         /// Adds `n`; the new value.
//!         fn add(n: u64) -> u64 = 1;
//!     }
//! }
//!
//! struct Server {
//!     value: u64,
//!     dirty: bool,
//! }
//! impl Counter for Server {
//!     fn add(&mut self, _: Caller, n: u64) -> Result<u64, u64> {
//!         self.value += n;
//!         self.dirty = true;
//!         Ok(self.value)
//!     }
//! }
//! impl Settle for Server {
//!     fn hold(&mut self) -> bool {
//!         core::mem::take(&mut self.dirty)
//!     }
//!     fn settle(&mut self) -> Result<(), u64> {
//!         Ok(()) // write `value` to disk and flush; Err(code) on failure
//!     }
//! }
//!
//! let server = Server { value: 0, dirty: false };
//! server.serve_held(libcap::Endpoint::from_raw(8), ReplyPool::<16>::at(FIRST_FREE));
//! ```
//!
//! # Slots
//!
//! Each pool entry needs one empty slot of the serving thread's CSpace.
//! `init` leaves a component's slots
//! [`FIRST_FREE`](crate::abi::start_info::slot::FIRST_FREE) and up empty
//! ([`FREE_COUNT`](crate::abi::start_info::slot::FREE_COUNT) of them);
//! [`ReplyPool::at`] takes a run of them. A component that makes other
//! capabilities in those slots gives the pool ones it does not use. A
//! root task (no `init`) takes them from its boot info's free slots.
//!
//! # Memory
//!
//! An entry keeps a whole message (120 words): a pool of `N` takes about
//! `N` KiB. [`serve_held`] keeps its pool on the stack; a program whose
//! stack is small runs a boxed [`HoldLoop`] itself.

use super::{Caller, DispatchFn, Encoder, Status, handle, in_place, next_message, reply_label};
use crate::cap::Endpoint;
use crate::syscall::{self, decode_error};
use basalt_abi::{Error, MessageInfo, NOTIFICATION_LABEL, REGISTER_WORDS, Syscall};

/// What [`serve_held`] asks of a server's state besides dispatching.
///
/// ```
/// use libcap::rpc::Settle;
///
/// /// Writes go to a log; a flush makes them durable.
/// struct Store {
///     unflushed: bool,
///     wrote: bool,
/// }
/// impl Settle for Store {
///     fn hold(&mut self) -> bool {
///         // Set by the handlers of writes; asked once per call.
///         core::mem::take(&mut self.wrote)
///     }
///     fn settle(&mut self) -> Result<(), u64> {
///         self.unflushed = false; // flush the disk here; Err(code) on failure
///         Ok(())
///     }
/// }
/// ```
pub trait Settle {
    /// Whether to hold the reply of the call just dispatched until the
    /// next [`settle`](Self::settle). Asked once after each call (not
    /// after a notification), typically returning and clearing a flag
    /// the handler set.
    fn hold(&mut self) -> bool;

    /// Makes what the held calls did final (the kvs server flushes its
    /// disk). Called once per batch, before any held reply goes out. On
    /// `Err(code)` every held reply is replaced by the error `code`, which
    /// the clients get as [`RpcError::Remote`](super::RpcError::Remote).
    fn settle(&mut self) -> Result<(), u64>;

    /// When the server wants to run even if no call comes: a time-stamp
    /// counter value (the kvs server flushes its log a second after a
    /// write under `everysec`, idle or not). `None`: only for calls.
    fn wake_at(&self) -> Option<u64> {
        None
    }

    /// That time came and no call did.
    fn woken(&mut self) {}
}

/// How long [`ServerPort::receive`] waits for a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Wait {
    /// Not at all: [`Error::WouldBlock`] when none is there.
    No,
    /// Until one comes.
    Forever,
    /// Until one comes or the time-stamp counter reaches this value, then
    /// [`Error::TimedOut`].
    Until(u64),
}

/// The kernel operations [`HoldLoop`] uses: an [`Endpoint`] on Basalt,
/// a stand-in in host tests.
pub trait ServerPort {
    /// Sends the reply `reply` (a label; its words are in `words`) to the
    /// call this thread received last, if there is one, then receives the
    /// next message into `words`, waiting as `wait` says. Returns the
    /// message's info and badge (for a bound notification, label
    /// [`NOTIFICATION_LABEL`] and the signal word).
    fn receive(
        &mut self,
        reply: Option<u64>,
        wait: Wait,
        words: &mut Encoder,
    ) -> Result<(MessageInfo, u64), Error>;

    /// Moves the reply this thread owes into the empty slot `slot`
    /// ([`crate::ipc::save_reply`]).
    fn save_reply(&mut self, slot: u64) -> Result<(), Error>;

    /// Answers through the reply capability in `slot` with `label` and
    /// `words`, using it up ([`crate::ipc::Reply::send`]).
    fn send_reply(&mut self, slot: u64, label: u64, words: &[u64]) -> Result<(), Error>;
}

impl ServerPort for Endpoint {
    fn receive(
        &mut self,
        reply: Option<u64>,
        wait: Wait,
        words: &mut Encoder,
    ) -> Result<(MessageInfo, u64), Error> {
        if let (Some(label), Wait::Forever) = (reply, wait) {
            return in_place(Syscall::ReplyRecv, self.raw(), label, words);
        }
        if let Some(label) = reply {
            // A caller that went away meanwhile needs no answer.
            let _ = in_place(Syscall::Reply, 0, label, words);
        }
        words.clear();
        match wait {
            Wait::No => in_place(Syscall::NbRecv, self.raw(), 0, words),
            Wait::Forever => in_place(Syscall::Recv, self.raw(), 0, words),
            Wait::Until(deadline) => {
                // The deadline goes in the first register word.
                words.push(deadline).map_err(|_| Error::InvalidArgument)?;
                in_place(Syscall::RecvTimed, self.raw(), 0, words)
            }
        }
    }

    fn save_reply(&mut self, slot: u64) -> Result<(), Error> {
        crate::ipc::save_reply(slot).map(|_| ())
    }

    fn send_reply(&mut self, slot: u64, label: u64, words: &[u64]) -> Result<(), Error> {
        let mut registers = [0; REGISTER_WORDS];
        let in_registers = words.len().min(REGISTER_WORDS);
        registers[..in_registers].copy_from_slice(&words[..in_registers]);
        if words.len() > REGISTER_WORDS {
            crate::ipc_buffer::write_extra_words(&words[REGISTER_WORDS..]);
        }
        let info = MessageInfo::new(label, words.len());
        decode_error(syscall::raw(Syscall::Send as u64, slot, info, registers).error)
    }
}

/// One held reply: its label and words.
#[derive(Clone, Debug)]
struct Held {
    label: u64,
    words: Encoder,
}

/// Up to `N` held replies, each with the slot its reply capability is in
/// (entry `i` always uses slot `i` of the pool: a batch is answered as a
/// whole, so the entries in use are always the first ones).
///
/// ```
/// use libcap::rpc::{Encoder, ReplyPool};
/// let mut pool = ReplyPool::<2>::at(48);
/// assert_eq!(pool.next_slot(), Some(48));
/// pool.push(0x100, &Encoder::from_words(&[7]).unwrap());
/// assert_eq!(pool.next_slot(), Some(49));
/// pool.push(0x100, &Encoder::new());
/// assert!(pool.is_full());
/// assert_eq!(pool.get(0), Some((48, 0x100, &[7][..])));
/// pool.clear();
/// assert!(pool.is_empty());
/// ```
#[derive(Clone, Debug)]
pub struct ReplyPool<const N: usize> {
    slots: [u64; N],
    held: [Held; N],
    len: usize,
}

impl<const N: usize> ReplyPool<N> {
    /// An empty pool whose entries use `slots` (capability addresses of
    /// empty slots, distinct).
    ///
    /// ```
    /// let pool = libcap::rpc::ReplyPool::new([60, 62]);
    /// assert_eq!(pool.next_slot(), Some(60));
    /// ```
    pub fn new(slots: [u64; N]) -> Self {
        Self {
            slots,
            held: core::array::from_fn(|_| Held {
                label: 0,
                words: Encoder::new(),
            }),
            len: 0,
        }
    }

    /// An empty pool using the `N` slots from `first` up.
    ///
    /// ```
    /// use libcap::abi::start_info::slot::FIRST_FREE;
    /// let pool = libcap::rpc::ReplyPool::<16>::at(FIRST_FREE);
    /// assert_eq!(pool.capacity(), 16);
    /// ```
    pub fn at(first: u64) -> Self {
        Self::new(core::array::from_fn(|i| first + i as u64))
    }

    /// How many replies it holds.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::ReplyPool::<3>::at(48).len(), 0);
    /// ```
    pub const fn len(&self) -> usize {
        self.len
    }

    /// How many replies it can hold (`N`).
    ///
    /// ```
    /// assert_eq!(libcap::rpc::ReplyPool::<3>::at(48).capacity(), 3);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Whether it holds no reply.
    ///
    /// ```
    /// assert!(libcap::rpc::ReplyPool::<1>::at(48).is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether it holds `N` replies.
    ///
    /// ```
    /// assert!(libcap::rpc::ReplyPool::<0>::at(48).is_full());
    /// ```
    pub const fn is_full(&self) -> bool {
        self.len == N
    }

    /// The slot the next held reply goes into, if one is left.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::ReplyPool::<0>::at(48).next_slot(), None);
    /// ```
    pub fn next_slot(&self) -> Option<u64> {
        self.slots.get(self.len).copied()
    }

    /// Keeps the reply with `label` and `words` in the next entry, whose
    /// slot ([`next_slot`](Self::next_slot)) now holds its reply
    /// capability. Returns false, keeping nothing, when the pool is full.
    ///
    /// ```
    /// use libcap::rpc::{Encoder, ReplyPool};
    /// let mut pool = ReplyPool::<1>::at(48);
    /// assert!(pool.push(1, &Encoder::new()));
    /// assert!(!pool.push(2, &Encoder::new()));
    /// ```
    pub fn push(&mut self, label: u64, words: &Encoder) -> bool {
        let Some(entry) = self.held.get_mut(self.len) else {
            return false;
        };
        entry.label = label;
        entry.words.clone_from(words);
        self.len += 1;
        true
    }

    /// Entry `i`: its slot, label and words.
    ///
    /// ```
    /// let pool = libcap::rpc::ReplyPool::<1>::at(48);
    /// assert_eq!(pool.get(0), None);
    /// ```
    pub fn get(&self, i: usize) -> Option<(u64, u64, &[u64])> {
        (i < self.len).then(|| {
            (
                self.slots[i],
                self.held[i].label,
                self.held[i].words.words(),
            )
        })
    }

    /// Forgets every entry (once their replies are sent).
    ///
    /// ```
    /// use libcap::rpc::{Encoder, ReplyPool};
    /// let mut pool = ReplyPool::<1>::at(48);
    /// pool.push(1, &Encoder::new());
    /// pool.clear();
    /// assert_eq!(pool.next_slot(), Some(48));
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// The state of a held-reply server loop ([`serve_held`] runs
/// [`step`](Self::step) forever): the port, the pool, the message buffer
/// and the reply to send with the next receive.
///
/// ```no_run
/// use libcap::rpc::{Caller, Encoder, HoldLoop, ReplyPool, Settle, Status};
///
/// struct Counter(u64);
/// impl Settle for Counter {
///     fn hold(&mut self) -> bool {
///         true
///     }
///     fn settle(&mut self) -> Result<(), u64> {
///         Ok(())
///     }
/// }
/// fn count(c: &mut Counter, _: Caller, _: u64, words: &mut Encoder) -> Status {
///     c.0 += 1;
///     words.clear();
///     words.push(c.0).unwrap();
///     Status::Ok
/// }
/// let pool = ReplyPool::<8>::at(libcap::abi::start_info::slot::FIRST_FREE);
/// let mut server = Box::new(HoldLoop::new(libcap::Endpoint::from_raw(8), 1, pool));
/// let mut state = Counter(0);
/// loop {
///     server.step(&mut state, count, |_, _| {}).expect("receive");
/// }
/// ```
#[derive(Debug)]
pub struct HoldLoop<P, const N: usize> {
    port: P,
    generation: u64,
    pool: ReplyPool<N>,
    words: Encoder,
    reply: Option<u64>,
}

impl<P: ServerPort, const N: usize> HoldLoop<P, N> {
    /// A loop receiving through `port`, with `generation` in its reply
    /// labels, holding replies in `pool` (which must be empty).
    ///
    /// ```
    /// use libcap::rpc::{HoldLoop, ReplyPool};
    /// let l = HoldLoop::new(libcap::Endpoint::from_raw(8), 1, ReplyPool::<4>::at(48));
    /// assert_eq!(l.held(), 0);
    /// ```
    pub fn new(port: P, generation: u64, pool: ReplyPool<N>) -> Self {
        debug_assert!(pool.is_empty());
        Self {
            port,
            generation,
            pool,
            words: Encoder::new(),
            reply: None,
        }
    }

    /// How many replies are held now.
    ///
    /// ```
    /// use libcap::rpc::{HoldLoop, ReplyPool};
    /// assert_eq!(HoldLoop::new(libcap::Endpoint::from_raw(8), 1, ReplyPool::<1>::at(48)).held(), 0);
    /// ```
    pub fn held(&self) -> usize {
        self.pool.len()
    }

    /// The port.
    ///
    /// ```
    /// use libcap::rpc::{HoldLoop, ReplyPool};
    /// let l = HoldLoop::new(libcap::Endpoint::from_raw(8), 1, ReplyPool::<1>::at(48));
    /// assert_eq!(l.port().raw(), 8);
    /// ```
    pub fn port(&self) -> &P {
        &self.port
    }

    /// One round: sends the pending reply and receives a message (without
    /// blocking while replies are held), then handles it: a notification
    /// goes to `notified`; a call is dispatched and its reply held (if
    /// [`Settle::hold`] says so) or kept for the next round's receive.
    /// When nothing waits while replies are held, or the pool fills up,
    /// the round settles and answers the held replies instead.
    ///
    /// Fails only with what the kernel says of the receive other than
    /// [`Error::Aborted`] (retried) and [`Error::WouldBlock`]: the
    /// endpoint is missing or lacks READ (a configuration fault).
    pub fn step<S: Settle>(
        &mut self,
        state: &mut S,
        dispatch: DispatchFn<S>,
        notified: fn(&mut S, u64),
    ) -> Result<(), Error> {
        let wait = match (self.pool.is_empty(), state.wake_at()) {
            (false, _) => Wait::No,
            (true, None) => Wait::Forever,
            (true, Some(t)) => Wait::Until(t),
        };
        let reply = self.reply.take();
        let (info, badge) = match next_message(&mut self.port, &mut self.words, reply, wait) {
            Ok(received) => received,
            Err(Error::WouldBlock) => {
                let _ = self.settle(state);
                return Ok(());
            }
            Err(Error::TimedOut) => {
                state.woken();
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        if info.label() == NOTIFICATION_LABEL {
            notified(state, badge);
            return Ok(());
        }
        let caller = Caller { badge };
        let label = handle(
            state,
            dispatch,
            self.generation,
            caller,
            info.label(),
            &mut self.words,
        );
        if !state.hold() {
            self.reply = Some(label);
            return Ok(());
        }
        if let Some(slot) = self.pool.next_slot()
            && self.port.save_reply(slot).is_ok()
        {
            self.pool.push(label, &self.words);
            if self.pool.is_full() {
                let _ = self.settle(state);
            }
            return Ok(());
        }
        // Not holdable: it waits for this settle and goes out directly.
        self.reply = Some(match self.settle(state) {
            Ok(()) => label,
            Err(code) => self.remote_error(code),
        });
        Ok(())
    }

    /// Settles `state` and answers every held reply according to the
    /// outcome, which it returns.
    fn settle<S: Settle>(&mut self, state: &mut S) -> Result<(), u64> {
        let outcome = state.settle();
        let error = reply_label(Status::Remote, self.generation);
        for i in 0..self.pool.len() {
            let Some((slot, label, words)) = self.pool.get(i) else {
                break;
            };
            // A caller that went away meanwhile (Aborted) needs no answer;
            // either way the slot is empty again.
            let _ = match outcome {
                Ok(()) => self.port.send_reply(slot, label, words),
                Err(code) => self.port.send_reply(slot, error, &[code]),
            };
        }
        self.pool.clear();
        outcome
    }

    /// Replaces the words with error `code` and returns the label of a
    /// [`Status::Remote`] reply.
    fn remote_error(&mut self, code: u64) -> u64 {
        let status = super::encode_remote_error(code, &mut self.words);
        reply_label(status, self.generation)
    }
}

/// A server's loop that holds the replies [`Settle::hold`] picks until
/// [`Settle::settle`] (see the [module documentation](self)): receives
/// calls on `endpoint`, answers each through `dispatch` with `generation`
/// in the reply label, passes bound-notification signals to `notified`,
/// and keeps up to `N` held replies in `pool` (whose slots are empty slots
/// of this thread's CSpace).
///
/// A receive cut short ([`Error::Aborted`]) is retried; any other error
/// (the endpoint is missing or lacks READ) is a configuration fault and
/// panics, which a component reports to `init`.
///
/// ```no_run
/// use libcap::abi::start_info::slot::FIRST_FREE;
/// use libcap::rpc::{Caller, Encoder, ReplyPool, Settle, Status, serve_held};
///
/// struct Log {
///     pending: bool,
/// }
/// impl Settle for Log {
///     fn hold(&mut self) -> bool {
///         core::mem::take(&mut self.pending)
///     }
///     fn settle(&mut self) -> Result<(), u64> {
///         Ok(()) // flush here
///     }
/// }
/// fn append(log: &mut Log, _: Caller, _: u64, words: &mut Encoder) -> Status {
///     log.pending = true;
///     words.clear();
///     Status::Ok
/// }
/// let pool = ReplyPool::<8>::at(FIRST_FREE);
/// serve_held(libcap::Endpoint::from_raw(8), 1, &mut Log { pending: false }, append, |_, _| {}, pool);
/// ```
pub fn serve_held<S: Settle, const N: usize>(
    endpoint: Endpoint,
    generation: u64,
    state: &mut S,
    dispatch: DispatchFn<S>,
    notified: fn(&mut S, u64),
    pool: ReplyPool<N>,
) -> ! {
    let mut server = HoldLoop::new(endpoint, generation, pool);
    loop {
        if let Err(e) = server.step(state, dispatch, notified) {
            panic!(
                "cannot receive on endpoint {}: {e} (is the channel served by this component?)",
                endpoint.raw()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::RpcError;
    use super::*;
    use std::collections::{BTreeMap, VecDeque};
    use std::vec::Vec;

    /// What arrives at the fake kernel's endpoint.
    #[derive(Clone, Copy, Debug)]
    enum Incoming {
        /// A call from the client with this badge, one word.
        Call(u64, u64),
        /// A bound-notification signal with this word.
        Signal(u64),
        /// Nothing before the deadline of a timed receive.
        Quiet,
    }

    /// A stand-in for the kernel: a script of incoming messages, the
    /// replies owed (implicitly or through reply capabilities), and what
    /// each client got. Receiving with nothing left and blocking ends the
    /// test run with `InvalidCapability`.
    #[derive(Default)]
    struct FakeKernel {
        incoming: VecDeque<Incoming>,
        owed: Option<u64>,
        saved: BTreeMap<u64, u64>,
        /// Slots whose save the kernel refuses (as if occupied).
        occupied: Vec<u64>,
        /// Per client badge, the (label, words) answers it got, in order.
        answers: BTreeMap<u64, Vec<(u64, Vec<u64>)>>,
        /// Each receive: how it waited.
        receives: Vec<Wait>,
    }

    impl FakeKernel {
        fn answer(&mut self, client: u64, label: u64, words: &[u64]) {
            self.answers
                .entry(client)
                .or_default()
                .push((label, words.to_vec()));
        }
    }

    impl ServerPort for FakeKernel {
        fn receive(
            &mut self,
            reply: Option<u64>,
            wait: Wait,
            words: &mut Encoder,
        ) -> Result<(MessageInfo, u64), Error> {
            if let Some(label) = reply
                && let Some(client) = self.owed.take()
            {
                let w = words.words().to_vec();
                self.answer(client, label, &w);
            }
            self.receives.push(wait);
            words.clear();
            match self.incoming.pop_front() {
                Some(Incoming::Call(badge, word)) => {
                    assert!(self.owed.is_none(), "a reply is lost");
                    self.owed = Some(badge);
                    words.push(word).unwrap();
                    Ok((MessageInfo::new(1, 1), badge))
                }
                Some(Incoming::Signal(word)) => Ok((MessageInfo::new(NOTIFICATION_LABEL, 0), word)),
                Some(Incoming::Quiet) => match wait {
                    Wait::Until(_) => Err(Error::TimedOut),
                    _ => panic!("a quiet spell, but the loop waits {wait:?}"),
                },
                None if wait == Wait::No => Err(Error::WouldBlock),
                None => Err(Error::InvalidCapability),
            }
        }

        fn save_reply(&mut self, slot: u64) -> Result<(), Error> {
            if self.saved.contains_key(&slot) || self.occupied.contains(&slot) {
                return Err(Error::SlotOccupied);
            }
            let client = self.owed.take().ok_or(Error::IllegalOperation)?;
            self.saved.insert(slot, client);
            Ok(())
        }

        fn send_reply(&mut self, slot: u64, label: u64, words: &[u64]) -> Result<(), Error> {
            let client = self.saved.remove(&slot).ok_or(Error::InvalidCapability)?;
            self.answer(client, label, words);
            Ok(())
        }
    }

    /// A store whose writes (odd words) are held; settle fails with the
    /// queued outcomes, then succeeds.
    #[derive(Default)]
    struct Store {
        wrote: bool,
        settles: Vec<usize>,
        outcomes: VecDeque<Result<(), u64>>,
        signals: Vec<u64>,
        held_now: usize,
        /// When it wants to run without a call, and how often it did.
        wake: Option<u64>,
        woken: u32,
    }

    impl Settle for Store {
        fn hold(&mut self) -> bool {
            let hold = core::mem::take(&mut self.wrote);
            self.held_now += usize::from(hold);
            hold
        }
        fn settle(&mut self) -> Result<(), u64> {
            self.settles.push(core::mem::take(&mut self.held_now));
            self.outcomes.pop_front().unwrap_or(Ok(()))
        }
        fn wake_at(&self) -> Option<u64> {
            self.wake
        }
        fn woken(&mut self) {
            self.woken += 1;
            self.wake = None;
        }
    }

    /// Doubles the word; odd words are writes.
    fn dispatch(s: &mut Store, _: Caller, _: u64, words: &mut Encoder) -> Status {
        let x = words.words()[0];
        s.wrote = x % 2 == 1;
        words.clear();
        words.push(2 * x).unwrap();
        Status::Ok
    }

    fn notified(s: &mut Store, word: u64) {
        s.signals.push(word);
    }

    const GENERATION: u64 = 3;

    /// Runs a loop with a pool of `N` (slots 48…) over `incoming` until
    /// the script is used up and the loop would block.
    fn run<const N: usize>(
        incoming: &[Incoming],
        store: &mut Store,
        occupied: &[u64],
    ) -> FakeKernel {
        let kernel = FakeKernel {
            incoming: incoming.iter().copied().collect(),
            occupied: occupied.to_vec(),
            ..FakeKernel::default()
        };
        let mut l = HoldLoop::new(kernel, GENERATION, ReplyPool::<N>::at(48));
        for _ in 0..100 {
            if l.step(store, dispatch, notified) == Err(Error::InvalidCapability) {
                assert_eq!(l.held(), 0, "the loop blocked with replies held");
                assert!(l.port.owed.is_none(), "the loop blocked owing a reply");
                return l.port;
            }
        }
        panic!("the loop did not come to rest");
    }

    fn ok(word: u64) -> (u64, Vec<u64>) {
        (reply_label(Status::Ok, GENERATION), vec![word])
    }

    fn remote(code: u64) -> (u64, Vec<u64>) {
        (reply_label(Status::Remote, GENERATION), vec![code])
    }

    #[test]
    fn replies_not_held_go_out_with_the_next_blocking_receive() {
        use Incoming::*;
        let mut store = Store::default();
        let k = run::<4>(&[Call(1, 2), Signal(0b100), Call(2, 4)], &mut store, &[]);
        assert_eq!(k.answers[&1], [ok(4)]);
        assert_eq!(k.answers[&2], [ok(8)]);
        assert_eq!(store.signals, [0b100]);
        assert!(store.settles.is_empty(), "nothing held, nothing settled");
        assert!(
            k.receives.iter().all(|&w| w == Wait::Forever),
            "every receive blocks"
        );
    }

    #[test]
    fn calls_waiting_together_are_settled_once_and_answered_together() {
        use Incoming::*;
        let mut store = Store::default();
        let k = run::<4>(&[Call(1, 1), Call(2, 3), Call(3, 5)], &mut store, &[]);
        assert_eq!(store.settles, [3], "one settle for three held replies");
        assert_eq!(
            (&k.answers[&1], &k.answers[&2], &k.answers[&3]),
            (&vec![ok(2)], &vec![ok(6)], &vec![ok(10)])
        );
        use Wait::{Forever, No};
        assert_eq!(
            k.receives,
            [Forever, No, No, No, Forever],
            "polls while holding, blocks once all are answered"
        );
    }

    #[test]
    fn a_server_that_wants_to_run_later_waits_until_then_and_is_woken() {
        use Incoming::*;
        let mut store = Store {
            wake: Some(1234),
            ..Store::default()
        };
        let k = run::<4>(&[Quiet, Call(1, 2)], &mut store, &[]);
        assert_eq!(store.woken, 1, "woken once the time came with no call");
        assert_eq!(k.answers[&1], [ok(4)]);
        assert_eq!(
            k.receives,
            [Wait::Until(1234), Wait::Forever, Wait::Forever],
            "a timed receive while it wants to run, then plain ones"
        );
    }

    #[test]
    fn a_failed_settle_answers_every_held_call_with_its_code() {
        use Incoming::*;
        let mut store = Store {
            outcomes: VecDeque::from([Err(0x77)]),
            ..Store::default()
        };
        let k = run::<4>(&[Call(1, 1), Call(2, 3)], &mut store, &[]);
        assert_eq!(k.answers[&1], [remote(0x77)]);
        assert_eq!(k.answers[&2], [remote(0x77)]);
        let (label, words) = &k.answers[&1][0];
        let client = super::super::ClientCore::new(Endpoint::from_raw(8));
        assert_eq!(
            client.interpret(1, *label, &Encoder::from_words(words).unwrap()),
            Err(RpcError::Remote(0x77)),
            "what the client stub makes of it"
        );
    }

    #[test]
    fn a_full_pool_settles_without_waiting_for_the_queue_to_drain() {
        use Incoming::*;
        let mut store = Store::default();
        let k = run::<2>(&[Call(1, 1), Call(2, 3), Call(3, 5)], &mut store, &[]);
        assert_eq!(store.settles, [2, 1]);
        assert_eq!(k.answers[&3], [ok(10)]);
        use Wait::{Forever, No};
        assert_eq!(k.receives, [Forever, No, Forever, No, Forever]);
    }

    #[test]
    fn reads_and_signals_in_a_batch_are_answered_at_once_and_writes_wait() {
        use Incoming::*;
        let mut store = Store {
            outcomes: VecDeque::from([Err(9)]),
            ..Store::default()
        };
        let k = run::<4>(
            &[Call(1, 1), Call(2, 2), Signal(1), Call(3, 3)],
            &mut store,
            &[],
        );
        assert_eq!(k.answers[&2], [ok(4)], "a read is not held");
        assert_eq!(k.answers[&1], [remote(9)]);
        assert_eq!(k.answers[&3], [remote(9)]);
        assert_eq!(store.signals, [1]);
        assert_eq!(store.settles, [2]);
    }

    #[test]
    fn a_reply_that_cannot_be_held_settles_at_once_and_goes_out_directly() {
        use Incoming::*;
        let mut store = Store {
            outcomes: VecDeque::from([Ok(()), Err(5)]),
            ..Store::default()
        };
        // Slot 49 is taken: the second write cannot be held.
        let k = run::<4>(&[Call(1, 1), Call(2, 3), Call(3, 5)], &mut store, &[49]);
        assert_eq!(store.settles, [2, 1]);
        assert_eq!(k.answers[&1], [ok(2)]);
        assert_eq!(k.answers[&2], [ok(6)], "answered after the first settle");
        assert_eq!(k.answers[&3], [remote(5)]);

        let mut store = Store::default();
        let k = run::<0>(&[Call(1, 1), Call(2, 3)], &mut store, &[]);
        assert_eq!(
            store.settles,
            [1, 1],
            "without a pool, one settle per write"
        );
        assert_eq!(
            (&k.answers[&1], &k.answers[&2]),
            (&vec![ok(2)], &vec![ok(6)])
        );
    }

    #[test]
    fn the_pool_hands_out_its_slots_in_order_and_keeps_the_words() {
        let mut pool = ReplyPool::new([60, 70, 80]);
        let long = Encoder::from_words(&[1; 120]).unwrap();
        assert_eq!(pool.next_slot(), Some(60));
        assert!(pool.push(5, &long));
        assert!(pool.push(6, &Encoder::from_words(&[2]).unwrap()));
        assert_eq!(pool.next_slot(), Some(80));
        assert!(pool.push(7, &Encoder::new()));
        assert!(pool.is_full() && pool.next_slot().is_none());
        assert!(!pool.push(8, &Encoder::new()));
        assert_eq!(pool.get(0), Some((60, 5, &[1; 120][..])));
        assert_eq!(pool.get(1), Some((70, 6, &[2][..])));
        assert_eq!(pool.get(2), Some((80, 7, &[][..])));
        assert_eq!(pool.get(3), None);
        pool.clear();
        assert_eq!((pool.len(), pool.next_slot()), (0, Some(60)));
    }
}
