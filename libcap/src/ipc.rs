//! Inter-process communication: messages through endpoints, signals
//! through notifications.
//!
//! An **endpoint** is a rendezvous: a message passes only when a sender and
//! a receiver meet, and whoever comes first waits (or, with the `nb_`
//! forms, fails with [`Error::WouldBlock`]). A [`Message`] is a label and up
//! to [`MAX_MESSAGE_WORDS`] words (the first four travel in registers, the
//! rest through both threads' IPC buffers) and at most one capability. The
//! receiver learns the badge of the capability the sender used
//! ([`Received::badge`]), which is how a server tells its clients apart.
//!
//! | operation | right needed on the endpoint | what it does |
//! | --- | --- | --- |
//! | [`send`], [`nb_send`] | WRITE | deliver a message |
//! | [`recv`], [`nb_recv`] | READ | take a message |
//! | [`call`] | CALL | deliver a message and wait for the reply |
//! | [`reply`], [`reply_recv`] | — | answer the last call received |
//! | [`save_reply`], then [`Reply::send`] | — | answer a call later, after receiving others |
//!
//! Sending a capability also needs GRANT on the endpoint capability used;
//! the receiver says where it goes with
//! [`ipc_buffer::set_receive_slot`].
//!
//! A **notification** is a word of signal bits: [`signal`] ORs the badge of
//! the capability used into it (WRITE), [`wait`] takes and clears the word,
//! blocking while it is zero, and [`poll`] takes it without blocking (READ).
//!
//! A thread waiting in [`recv`] on an endpoint is also woken by its bound
//! notification (`invoke::tcb_bind_notification`): the message then has the
//! label [`NOTIFICATION_LABEL`], no words, and the signal word as its badge
//! ([`Received::is_notification`]).
//!
//! **Deferred replies.** A server that wants to answer a call later (after
//! a disk flush, say) moves the reply it owes into an empty slot of its
//! CSpace with [`save_reply`], which gives a [`Reply`]: a one-shot reply
//! capability. The server can then receive other calls; [`Reply::send`]
//! answers the saved caller whenever the server is ready. See
//! `docs/ipc.md` for what happens when the caller or the capability goes
//! away first.
//!
//! Every function here uses the calling thread's IPC buffer (see
//! [`crate::ipc_buffer`]) for words 4 and up and for capabilities.
//!
//! ```no_run
//! use libcap::ipc::{self, Message};
//! // A client: call endpoint 9 with two words.
//! let reply = ipc::call(9, &Message::new(1, &[40, 2])).expect("call");
//! println!("{}", reply.message.word(0));
//! ```

use crate::ipc_buffer;
use crate::syscall::{self, RawReply, decode_error};
use basalt_abi::{
    Error, MAX_MESSAGE_WORDS, MessageInfo, NOTIFICATION_LABEL, REGISTER_WORDS, Syscall,
};

/// A message: a label, up to [`MAX_MESSAGE_WORDS`] words, and optionally a
/// capability to send with it.
///
/// It is a plain value of about a kilobyte; building one does not touch
/// the IPC buffer (sending does).
///
/// ```
/// use libcap::ipc::Message;
/// let m = Message::new(3, &[1, 2, 3]);
/// assert_eq!((m.label, m.len()), (3, 3));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Message {
    /// What the message means to its receiver (52 bits).
    pub label: u64,
    length: usize,
    words: [u64; MAX_MESSAGE_WORDS],
    cap: Option<u64>,
}

impl Message {
    /// A message with `label` and no words.
    ///
    /// ```
    /// let m = libcap::ipc::Message::empty(5);
    /// assert!(m.is_empty());
    /// ```
    pub const fn empty(label: u64) -> Self {
        Self {
            label,
            length: 0,
            words: [0; MAX_MESSAGE_WORDS],
            cap: None,
        }
    }

    /// A message with `label` and `words`.
    ///
    /// # Panics
    ///
    /// If there are more than [`MAX_MESSAGE_WORDS`] words.
    ///
    /// ```
    /// let m = libcap::ipc::Message::new(1, &[10, 20]);
    /// assert_eq!(m.words(), &[10, 20]);
    /// ```
    pub fn new(label: u64, words: &[u64]) -> Self {
        assert!(
            words.len() <= MAX_MESSAGE_WORDS,
            "a message has at most {MAX_MESSAGE_WORDS} words, not {}",
            words.len()
        );
        let mut m = Self::empty(label);
        m.words[..words.len()].copy_from_slice(words);
        m.length = words.len();
        m
    }

    /// The same message carrying capability `cap` (an address in the
    /// sender's CSpace). Sending it needs GRANT on the endpoint capability.
    ///
    /// ```
    /// let m = libcap::ipc::Message::new(1, &[]).with_cap(40);
    /// assert_eq!(m.cap(), Some(40));
    /// ```
    pub const fn with_cap(mut self, cap: u64) -> Self {
        self.cap = Some(cap);
        self
    }

    /// The message's words.
    ///
    /// ```
    /// assert_eq!(libcap::ipc::Message::new(1, &[7]).words(), &[7]);
    /// ```
    pub fn words(&self) -> &[u64] {
        &self.words[..self.length]
    }

    /// Word `i`, or 0 past the end of the message.
    ///
    /// ```
    /// let m = libcap::ipc::Message::new(1, &[7]);
    /// assert_eq!((m.word(0), m.word(5)), (7, 0));
    /// ```
    pub fn word(&self, i: usize) -> u64 {
        self.words().get(i).copied().unwrap_or(0)
    }

    /// How many words the message has.
    ///
    /// ```
    /// assert_eq!(libcap::ipc::Message::new(1, &[1, 2]).len(), 2);
    /// ```
    pub const fn len(&self) -> usize {
        self.length
    }

    /// Whether the message has no words.
    ///
    /// ```
    /// assert!(libcap::ipc::Message::empty(1).is_empty());
    /// ```
    pub const fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The capability the message carries, if any.
    ///
    /// ```
    /// assert_eq!(libcap::ipc::Message::new(1, &[]).cap(), None);
    /// ```
    pub const fn cap(&self) -> Option<u64> {
        self.cap
    }

    /// The message descriptor the kernel sees: label, length, and whether a
    /// capability is attached.
    ///
    /// ```
    /// let info = libcap::ipc::Message::new(9, &[1, 2]).info();
    /// assert_eq!((info.label(), info.length(), info.has_cap()), (9, 2, false));
    /// ```
    pub const fn info(&self) -> MessageInfo {
        let info = MessageInfo::new(self.label, self.length);
        if self.cap.is_some() {
            info.with_cap()
        } else {
            info
        }
    }

    /// Words 0–3, as they travel in registers (zero past the end).
    fn register_words(&self) -> [u64; REGISTER_WORDS] {
        let mut w = [0; REGISTER_WORDS];
        w.copy_from_slice(&self.words[..REGISTER_WORDS]);
        w
    }

    /// Words 4 and up, which travel through the IPC buffer.
    fn buffer_words(&self) -> &[u64] {
        self.words().get(REGISTER_WORDS..).unwrap_or(&[])
    }

    /// A received message: `info` and `registers` as the kernel returned
    /// them, `buffer_word(i)` reading word `i` (4 and up) of the IPC buffer.
    fn from_parts(
        info: MessageInfo,
        registers: [u64; REGISTER_WORDS],
        mut buffer_word: impl FnMut(usize) -> u64,
    ) -> Self {
        let mut m = Self::empty(info.label());
        m.length = info.length().min(MAX_MESSAGE_WORDS);
        for (i, w) in m.words[..m.length].iter_mut().enumerate() {
            *w = if i < REGISTER_WORDS {
                registers[i]
            } else {
                buffer_word(i)
            };
        }
        m
    }
}

/// What a receive operation (or a call's reply) delivered.
///
/// ```no_run
/// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
/// println!("badge {} label {} words {:?}", r.badge, r.label(), r.words());
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Received {
    /// The badge of the capability the sender used (0 for an unbadged one,
    /// and for a call's reply); for a bound notification's signal, the
    /// notification word.
    pub badge: u64,
    /// The message descriptor as it arrived, including whether a
    /// capability came with it.
    pub info: MessageInfo,
    /// The label and words (its [`Message::cap`] is `None`: a received
    /// capability is in the receive slot, see [`Received::has_cap`]).
    pub message: Message,
}

impl Received {
    /// Whether a capability arrived, in the slot named with
    /// [`ipc_buffer::set_receive_slot`].
    ///
    /// ```no_run
    /// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
    /// if r.has_cap() {
    ///     println!("a capability arrived in the receive slot");
    /// }
    /// ```
    pub const fn has_cap(&self) -> bool {
        self.info.has_cap()
    }

    /// The message's label.
    ///
    /// ```no_run
    /// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
    /// println!("method {}", r.label());
    /// ```
    pub const fn label(&self) -> u64 {
        self.message.label
    }

    /// The message's words.
    ///
    /// ```no_run
    /// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
    /// println!("{:?}", r.words());
    /// ```
    pub fn words(&self) -> &[u64] {
        self.message.words()
    }

    /// Whether this is the wake-up of a bound notification rather than a
    /// message: label [`NOTIFICATION_LABEL`], the word in
    /// [`badge`](Self::badge).
    ///
    /// ```no_run
    /// let r = libcap::Endpoint::from_raw(9).recv().expect("recv");
    /// if r.is_notification() {
    ///     println!("signal bits {:#x}", r.badge);
    /// }
    /// ```
    pub const fn is_notification(&self) -> bool {
        self.message.label == NOTIFICATION_LABEL
    }
}

/// Puts `msg`'s words 4 and up and its capability in the IPC buffer and
/// returns what goes in registers.
fn stage(msg: &Message) -> (MessageInfo, [u64; REGISTER_WORDS]) {
    let extra = msg.buffer_words();
    if !extra.is_empty() {
        ipc_buffer::write_extra_words(extra);
    }
    if let Some(cap) = msg.cap {
        ipc_buffer::set_send_cap(cap);
    }
    (msg.info(), msg.register_words())
}

/// Issues a sending system call with `msg`.
fn transmit(number: Syscall, cap: u64, msg: &Message) -> RawReply {
    let (info, words) = stage(msg);
    syscall::raw(number as u64, cap, info, words)
}

/// Decodes what a receiving system call returned.
fn received(reply: RawReply) -> Result<Received, Error> {
    decode_error(reply.error)?;
    Ok(Received {
        badge: reply.badge,
        info: reply.info,
        message: Message::from_parts(reply.info, reply.words, ipc_buffer::read_word),
    })
}

fn nothing() -> Message {
    Message::empty(0)
}

/// Sends `msg` through endpoint `ep` ([`Syscall::Send`], needs WRITE),
/// waiting until a receiver takes it. On a notification capability this
/// signals instead (see [`signal`]).
///
/// Fails with [`Error::Aborted`] if the endpoint is destroyed while the
/// thread waits, [`Error::MissingRight`] without WRITE (or with a
/// capability but without GRANT), [`Error::WrongType`] on any other
/// object.
///
/// ```no_run
/// libcap::ipc::send(9, &libcap::ipc::Message::new(1, &[42])).expect("send");
/// ```
pub fn send(ep: u64, msg: &Message) -> Result<(), Error> {
    decode_error(transmit(Syscall::Send, ep, msg).error)
}

/// Sends `msg` through endpoint `ep` only if a receiver is waiting
/// ([`Syscall::NbSend`]); otherwise fails with [`Error::WouldBlock`] and
/// the message is dropped.
///
/// ```no_run
/// let _ = libcap::ipc::nb_send(9, &libcap::ipc::Message::new(1, &[42]));
/// ```
pub fn nb_send(ep: u64, msg: &Message) -> Result<(), Error> {
    decode_error(transmit(Syscall::NbSend, ep, msg).error)
}

/// Receives a message from endpoint `ep` ([`Syscall::Recv`], needs READ),
/// waiting for a sender. On a notification capability, waits for a signal
/// (see [`wait`]).
///
/// If the message was a call, this thread now owes the caller a [`reply`].
///
/// ```no_run
/// let r = libcap::ipc::recv(9).expect("recv");
/// # let _ = r;
/// ```
pub fn recv(ep: u64) -> Result<Received, Error> {
    received(syscall::raw(
        Syscall::Recv as u64,
        ep,
        MessageInfo(0),
        [0; REGISTER_WORDS],
    ))
}

/// Receives a message from endpoint `ep` only if a sender is waiting
/// ([`Syscall::NbRecv`]); otherwise fails with [`Error::WouldBlock`].
///
/// ```no_run
/// match libcap::ipc::nb_recv(9) {
///     Ok(r) => println!("label {}", r.label()),
///     Err(libcap::Error::WouldBlock) => println!("nobody sent"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
pub fn nb_recv(ep: u64) -> Result<Received, Error> {
    received(syscall::raw(
        Syscall::NbRecv as u64,
        ep,
        MessageInfo(0),
        [0; REGISTER_WORDS],
    ))
}

/// Receives from endpoint or notification `ep` like [`recv`], but gives
/// up with [`Error::TimedOut`] when the time-stamp counter reaches
/// `deadline` first ([`Syscall::RecvTimed`]). A deadline already past
/// polls.
///
/// ```no_run
/// // Wait for a message, or a second at most (TSC rate from the start info).
/// let hz = 2_000_000_000;
/// match libcap::ipc::recv_until(9, libcap::time::rdtsc() + hz) {
///     Ok(r) => println!("label {}", r.label()),
///     Err(libcap::Error::TimedOut) => println!("a quiet second"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
pub fn recv_until(ep: u64, deadline: u64) -> Result<Received, Error> {
    received(syscall::raw(
        Syscall::RecvTimed as u64,
        ep,
        MessageInfo(0),
        [deadline, 0, 0, 0],
    ))
}

/// Sends `msg` through endpoint `ep` and waits for the reply
/// ([`Syscall::Call`], needs CALL). Returns the reply (its badge is 0).
///
/// Fails with [`Error::Aborted`] if the receiver is suspended or destroyed
/// before it replies, or the endpoint is destroyed while this thread waits.
/// On a capability that is not an endpoint, the system call is an
/// invocation of that object; use [`crate::invoke`] for those.
///
/// ```no_run
/// let reply = libcap::ipc::call(9, &libcap::ipc::Message::new(2, &[40, 2])).expect("call");
/// println!("{}", reply.message.word(0));
/// ```
pub fn call(ep: u64, msg: &Message) -> Result<Received, Error> {
    received(transmit(Syscall::Call, ep, msg))
}

/// Replies `msg` to the thread whose call this thread received last
/// ([`Syscall::Reply`]). Fails with [`Error::IllegalOperation`] when no
/// call is waiting for a reply.
///
/// ```no_run
/// let request = libcap::ipc::recv(9).expect("recv");
/// libcap::ipc::reply(&libcap::ipc::Message::new(0, &[request.message.word(0) + 1])).expect("reply");
/// ```
pub fn reply(msg: &Message) -> Result<(), Error> {
    decode_error(transmit(Syscall::Reply, 0, msg).error)
}

/// Replies `msg` to the last caller (if any) and then receives on `ep`,
/// in one system call ([`Syscall::ReplyRecv`]): a server's loop.
///
/// ```no_run
/// use libcap::ipc::{self, Message};
/// let mut request = ipc::recv(9).expect("recv");
/// loop {
///     request = ipc::reply_recv(9, &Message::new(0, &[request.message.word(0)])).expect("reply_recv");
/// }
/// ```
pub fn reply_recv(ep: u64, msg: &Message) -> Result<Received, Error> {
    received(transmit(Syscall::ReplyRecv, ep, msg))
}

/// Signals notification `ntfn` ([`Syscall::Send`], needs WRITE): ORs the
/// capability's badge into the notification word and wakes a waiter.
///
/// ```no_run
/// libcap::ipc::signal(10).expect("signal");
/// ```
pub fn signal(ntfn: u64) -> Result<(), Error> {
    send(ntfn, &nothing())
}

/// Waits on notification `ntfn` ([`Syscall::Recv`], needs READ): returns
/// the notification word, which is then cleared, as soon as it is not zero.
///
/// ```no_run
/// let bits = libcap::ipc::wait(10).expect("wait");
/// # let _ = bits;
/// ```
pub fn wait(ntfn: u64) -> Result<u64, Error> {
    recv(ntfn).map(|r| r.badge)
}

/// Waits on notification `ntfn` like [`wait`] until the time-stamp counter
/// reaches `deadline` at the latest; then fails with [`Error::TimedOut`].
///
/// ```no_run
/// match libcap::ipc::wait_until(10, libcap::time::rdtsc() + 1_000_000) {
///     Ok(bits) => println!("signalled: {bits:#x}"),
///     Err(libcap::Error::TimedOut) => println!("time"),
///     Err(e) => panic!("{e}"),
/// }
/// ```
pub fn wait_until(ntfn: u64, deadline: u64) -> Result<u64, Error> {
    recv_until(ntfn, deadline).map(|r| r.badge)
}

/// Takes the word of notification `ntfn` without waiting
/// ([`Syscall::NbRecv`], needs READ); fails with [`Error::WouldBlock`] when
/// it is zero.
///
/// ```no_run
/// let pending = libcap::ipc::poll(10).unwrap_or(0);
/// # let _ = pending;
/// ```
pub fn poll(ntfn: u64) -> Result<u64, Error> {
    nb_recv(ntfn).map(|r| r.badge)
}

/// A reply this thread saved for later ([`save_reply`]): a one-shot reply
/// capability in a slot of its CSpace, naming the caller that waits for it.
///
/// [`send`](Self::send) answers the caller and empties the slot. Dropping
/// the handle leaves the capability where it is (the caller keeps
/// waiting); deleting the slot (with a CNode capability) instead wakes the
/// caller with [`Error::Aborted`].
///
/// ```no_run
/// use libcap::ipc::{self, Message};
/// let request = ipc::recv(9).expect("recv");
/// let later = ipc::save_reply(60).expect("slot 60 is free");
/// // ... receive and answer other calls, flush a disk ...
/// later.send(&Message::new(0, &[request.message.word(0)])).expect("reply");
/// ```
#[must_use = "the caller waits until the reply is sent or its slot deleted"]
#[derive(PartialEq, Eq, Debug)]
pub struct Reply {
    slot: u64,
}

impl Reply {
    /// The reply capability at capability address `slot` (one saved
    /// earlier, whose handle was given up).
    ///
    /// ```
    /// assert_eq!(libcap::ipc::Reply::from_raw(60).slot(), 60);
    /// ```
    pub const fn from_raw(slot: u64) -> Self {
        Self { slot }
    }

    /// The capability address of its slot.
    ///
    /// ```
    /// assert_eq!(libcap::ipc::Reply::from_raw(61).slot(), 61);
    /// ```
    pub const fn slot(&self) -> u64 {
        self.slot
    }

    /// Answers the saved caller with `msg` ([`Syscall::Send`] on the reply
    /// capability): its `Call` returns `msg` (badge 0, without `msg`'s
    /// capability: a reply carries none). The capability is used up and
    /// its slot empty afterwards, also when this fails with
    /// [`Error::Aborted`]: the caller was suspended, restarted or
    /// destroyed since the reply was saved. Other errors leave the slot as
    /// it was: [`Error::InvalidCapability`] (the slot is empty, for example
    /// because the reply was sent already), [`Error::WrongType`] (it holds
    /// something else), [`Error::InvalidArgument`] (an answer to a fault
    /// message with `RESUME_AT` and a bad address).
    ///
    /// ```no_run
    /// let r = libcap::ipc::save_reply(60).expect("save");
    /// r.send(&libcap::ipc::Message::new(0, &[1])).expect("send");
    /// ```
    pub fn send(self, msg: &Message) -> Result<(), Error> {
        send(self.slot, msg)
    }
}

/// Moves the reply this thread owes (to the last call it received) into
/// the empty slot at capability address `slot` ([`Syscall::SaveReply`]),
/// and returns it as a [`Reply`] to send later. Until then the thread may
/// receive other calls without aborting this caller.
///
/// Fails with [`Error::IllegalOperation`] when no call waits for this
/// thread's reply, [`Error::SlotOccupied`] when the slot holds something,
/// [`Error::InvalidCapability`] when the address names no slot; nothing
/// changes then. A component's free slots are
/// [`FIRST_FREE`](basalt_abi::start_info::slot::FIRST_FREE) and up.
///
/// ```no_run
/// let request = libcap::ipc::recv(9).expect("recv");
/// let reply = libcap::ipc::save_reply(60).expect("save");
/// # let _ = (request, reply);
/// ```
pub fn save_reply(slot: u64) -> Result<Reply, Error> {
    decode_error(
        syscall::raw(
            Syscall::SaveReply as u64,
            slot,
            MessageInfo(0),
            [0; REGISTER_WORDS],
        )
        .error,
    )?;
    Ok(Reply { slot })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_between_registers_and_the_buffer() {
        let words: Vec<u64> = (1..=6).collect();
        let m = Message::new(9, &words);
        assert_eq!(m.info(), MessageInfo::new(9, 6));
        assert_eq!(m.register_words(), [1, 2, 3, 4]);
        assert_eq!(m.buffer_words(), &[5, 6]);
        assert_eq!(m.words(), &words[..]);
        assert_eq!(m.word(5), 6);
        assert_eq!(m.word(6), 0);
    }

    #[test]
    fn short_and_empty_messages_use_no_buffer_words() {
        let m = Message::new(3, &[7, 8]);
        assert_eq!(m.register_words(), [7, 8, 0, 0]);
        assert!(m.buffer_words().is_empty());
        let e = Message::empty(4);
        assert!(e.is_empty());
        assert_eq!(e.info(), MessageInfo::new(4, 0));
        assert!(e.buffer_words().is_empty());
    }

    #[test]
    fn a_capability_sets_the_info_bit_and_nothing_else() {
        let m = Message::new(5, &[1]).with_cap(42);
        assert_eq!(m.cap(), Some(42));
        assert!(m.info().has_cap());
        assert_eq!(m.info().label(), 5);
        assert_eq!(m.info().length(), 1);
        assert!(!Message::new(5, &[1]).info().has_cap());
    }

    #[test]
    fn the_longest_message_fits() {
        let words = [7; MAX_MESSAGE_WORDS];
        let m = Message::new(1, &words);
        assert_eq!(m.info().length(), MAX_MESSAGE_WORDS);
        assert_eq!(m.buffer_words().len(), MAX_MESSAGE_WORDS - REGISTER_WORDS);
    }

    #[test]
    #[should_panic(expected = "at most")]
    fn a_message_longer_than_the_limit_is_refused() {
        Message::new(1, &[0; MAX_MESSAGE_WORDS + 1]);
    }

    #[test]
    fn a_received_message_reads_words_4_and_up_from_the_buffer() {
        let info = MessageInfo::new(0x77, 6).with_cap();
        let m = Message::from_parts(info, [1, 2, 3, 4], |i| 100 + i as u64);
        assert_eq!(m.label, 0x77);
        assert_eq!(m.words(), &[1, 2, 3, 4, 104, 105]);
        assert_eq!(m.cap(), None);
    }

    #[test]
    fn a_received_length_past_the_limit_is_cut_to_it() {
        let info = MessageInfo::new(1, 127);
        let mut read = Vec::new();
        let m = Message::from_parts(info, [0; 4], |i| {
            read.push(i);
            0
        });
        assert_eq!(m.len(), MAX_MESSAGE_WORDS);
        assert_eq!(read.last(), Some(&(MAX_MESSAGE_WORDS - 1)));
    }

    #[test]
    fn a_bound_notification_wake_up_is_recognised() {
        let r = Received {
            badge: 0b101,
            info: MessageInfo::new(NOTIFICATION_LABEL, 0),
            message: Message::empty(NOTIFICATION_LABEL),
        };
        assert!(r.is_notification());
        assert!(!r.has_cap());
        assert_eq!(r.label(), NOTIFICATION_LABEL);
        assert!(r.words().is_empty());
    }

    #[test]
    #[should_panic(expected = "outside the Basalt kernel")]
    fn ipc_refuses_to_run_on_the_host() {
        let _ = nb_recv(1);
    }
}
