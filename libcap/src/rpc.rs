//! Remote procedure calls over endpoints: an interface is declared once
//! with [`rpc_interface!`](crate::rpc_interface), which makes a typed client
//! (one method per call) and a server trait (one method per call, plus a
//! `serve` loop).
//!
//! ```
//! use core::fmt::Write;
//! use libcap::rpc::Text;
//!
//! libcap::rpc_interface! {
//!     /// A calculator.
//!     pub interface Calc {
//!         /// The client side of [`Calc`].
//!         client CalcClient;
//!         /// `a + b`, or error code 1 on overflow.
//!         fn add(a: u64, b: u64) -> u64 = 1;
//!         /// A greeting for `name`.
//!         fn greet(name: &str) -> Text<64> = 2;
//!     }
//! }
//!
//! struct Server;
//! impl Calc for Server {
//!     fn add(&mut self, _caller: libcap::rpc::Caller, a: u64, b: u64) -> Result<u64, u64> {
//!         a.checked_add(b).ok_or(1)
//!     }
//!     fn greet(&mut self, _caller: libcap::rpc::Caller, name: &str) -> Result<Text<64>, u64> {
//!         let mut greeting = Text::new();
//!         write!(greeting, "Hello, {name}!").map_err(|_| 2u64)?; // error 2: name too long
//!         Ok(greeting)
//!     }
//! }
//!
//! // On Basalt: `Server.serve(start.served("calc").unwrap())` in the server, and
//! // `let calc: CalcClient = start.channel_client("calc").unwrap()` in the client.
//! // Here, on the host, the client calls the server in the same process:
//! let local = libcap::rpc::Local::new(Server, Server::rpc_dispatch);
//! let calc = CalcClient::new(&local);
//! assert_eq!(calc.add(40, 2), Ok(42));
//! assert_eq!(calc.add(u64::MAX, 1), Err(libcap::rpc::RpcError::Remote(1)));
//! assert_eq!(calc.greet("Basalt").unwrap(), "Hello, Basalt!");
//! ```
//!
//! # Wire format
//!
//! A call is an IPC `Call` on the channel's endpoint; the answer is the
//! server's reply.
//!
//! | | label | words |
//! | --- | --- | --- |
//! | request | the method id (1 … 2³² − 1, fixed in the interface) | the arguments, in order, [encoded](Encode) |
//! | reply | bits 0–7: [`Status`]; bits 8–51: the server's generation | `Ok`: the result, encoded; `Remote`: the error code; otherwise none |
//!
//! Values: integers and `bool` take one word each (signed ones as two's
//! complement, narrower ones checked on decoding), `()` none,
//! `Option<T>` a word 0 (none) or 1 followed by `T`, and bytes (`&[u8]`,
//! `&str`, [`Bytes`], [`Text`]) a length word followed by the bytes packed
//! eight to a word, little-endian, the last word zero-padded. A message
//! has at most 120 words, so a call's arguments, or its result, hold up to
//! 944 bytes of payload; the first four words travel in registers (the
//! kernel's fast path when nothing goes through the IPC buffer).
//!
//! # Restarts
//!
//! `init` restarts a crashed server in place: the channel endpoint and
//! the clients' capabilities stay, and the new instance has a higher
//! generation ([`Start::generation`](crate::Start::generation)), which
//! `serve` puts in every reply. A client stub remembers the generation of
//! the last reply; when a reply carries a different one, the call returns
//! [`RpcError::Restarted`] with the new generation, *after* the new
//! instance has carried it out. The stub does not retry: whatever state
//! the client had set up in the server (sessions, handles, subscriptions)
//! is gone, so the caller re-establishes it and then repeats the call if
//! that is safe (the next call with the same generation succeeds as
//! usual). A call that the crash cut short returns
//! [`RpcError::Unavailable`] (the kernel aborts it). Replies with
//! generation 0 (a server that does not track generations) are not
//! checked.
//!
//! # Held replies
//!
//! A server can answer some calls only after its state has settled (a
//! write acknowledged once it is on disk), one settle covering every call
//! that arrived meanwhile: [`serve_held`] with a [`Settle`] state, or the
//! `serve_held` method of a generated server trait. [`held`] explains the
//! loop, the slots it needs and what it costs.

pub mod held;

pub use held::{HoldLoop, ReplyPool, ServerPort, Settle, Wait, serve_held};

use crate::cap::Endpoint;
use crate::syscall::{self, decode_error};
use basalt_abi::{
    Error, MAX_MESSAGE_WORDS, MessageInfo, NOTIFICATION_LABEL, REGISTER_WORDS, Syscall,
};
use core::cell::{Cell, RefCell};
use core::fmt;

/// Bits of a reply label that hold the [`Status`].
///
/// ```
/// assert_eq!(libcap::rpc::STATUS_BITS, 8);
/// ```
pub const STATUS_BITS: u32 = 8;
/// Bits of a reply label that hold the server's generation (above the
/// status; a label has 52 bits).
///
/// ```
/// use libcap::rpc::{GENERATION_BITS, STATUS_BITS};
/// assert_eq!(STATUS_BITS + GENERATION_BITS, 52);
/// ```
pub const GENERATION_BITS: u32 = 44;
/// The largest method id.
///
/// ```
/// assert_eq!(libcap::rpc::MAX_METHOD, u32::MAX as u64);
/// ```
pub const MAX_METHOD: u64 = u32::MAX as u64;

/// How the server answered a call: the low [`STATUS_BITS`] of the reply
/// label.
///
/// ```
/// use libcap::rpc::Status;
/// assert_eq!(Status::from_raw(1), Some(Status::Remote));
/// assert_eq!(Status::from_raw(99), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Status {
    /// The method ran; the words are its result.
    Ok = 0,
    /// The method ran and failed; word 0 is its error code.
    Remote = 1,
    /// The server does not know the method id.
    UnknownMethod = 2,
    /// The server could not decode the arguments.
    BadRequest = 3,
    /// The method's result does not fit in a message.
    BadReply = 4,
}

impl Status {
    /// The status with code `n`.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::Status::from_raw(0), Some(libcap::rpc::Status::Ok));
    /// ```
    pub const fn from_raw(n: u8) -> Option<Self> {
        Some(match n {
            0 => Self::Ok,
            1 => Self::Remote,
            2 => Self::UnknownMethod,
            3 => Self::BadRequest,
            4 => Self::BadReply,
            _ => return None,
        })
    }
}

/// The label of a reply: `status` in bits 0–7, `generation` (cut to
/// [`GENERATION_BITS`]) above it.
///
/// ```
/// use libcap::rpc::{Status, reply_label, split_reply_label};
/// let label = reply_label(Status::Remote, 2);
/// assert_eq!(label, 0x201);
/// assert_eq!(split_reply_label(label), (1, 2));
/// ```
pub const fn reply_label(status: Status, generation: u64) -> u64 {
    let generation = generation & ((1 << GENERATION_BITS) - 1);
    (generation << STATUS_BITS) | status as u64
}

/// A reply label's raw status and generation.
///
/// ```
/// assert_eq!(libcap::rpc::split_reply_label(0x300), (0, 3));
/// ```
pub const fn split_reply_label(label: u64) -> (u8, u64) {
    (
        (label & ((1 << STATUS_BITS) - 1)) as u8,
        (label >> STATUS_BITS) & ((1 << GENERATION_BITS) - 1),
    )
}

/// Why a value could not be encoded or decoded.
///
/// ```
/// use libcap::rpc::{Decoder, Decode, WireError};
/// let mut d = Decoder::new(&[]);
/// assert_eq!(u64::decode(&mut d), Err(WireError::Malformed));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum WireError {
    /// The message would pass [`MAX_MESSAGE_WORDS`] words.
    TooLong,
    /// Missing words, or a word that is not a value of the type.
    Malformed,
}

/// Message words under construction: what a call's arguments or a
/// method's result are encoded into.
///
/// ```
/// use libcap::rpc::{Encode, Encoder};
/// let mut e = Encoder::new();
/// 7u64.encode(&mut e).unwrap();
/// "hi".encode(&mut e).unwrap();
/// assert_eq!(e.words(), &[7, 2, u64::from_le_bytes(*b"hi\0\0\0\0\0\0")]);
/// ```
#[derive(Clone)]
pub struct Encoder {
    words: [u64; MAX_MESSAGE_WORDS],
    len: usize,
}

impl Encoder {
    /// No words yet.
    ///
    /// ```
    /// assert!(libcap::rpc::Encoder::new().words().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            words: [0; MAX_MESSAGE_WORDS],
            len: 0,
        }
    }

    /// An encoder holding `words` already (at most [`MAX_MESSAGE_WORDS`]).
    ///
    /// ```
    /// let e = libcap::rpc::Encoder::from_words(&[1, 2]).unwrap();
    /// assert_eq!(e.words(), &[1, 2]);
    /// assert!(libcap::rpc::Encoder::from_words(&[0; 121]).is_err());
    /// ```
    pub fn from_words(words: &[u64]) -> Result<Self, WireError> {
        let mut e = Self::new();
        if words.len() > MAX_MESSAGE_WORDS {
            return Err(WireError::TooLong);
        }
        e.words[..words.len()].copy_from_slice(words);
        e.len = words.len();
        Ok(e)
    }

    /// Appends one word.
    ///
    /// ```
    /// let mut e = libcap::rpc::Encoder::new();
    /// for i in 0..120 {
    ///     e.push(i).unwrap();
    /// }
    /// assert_eq!(e.push(120), Err(libcap::rpc::WireError::TooLong));
    /// ```
    pub fn push(&mut self, word: u64) -> Result<(), WireError> {
        let slot = self.words.get_mut(self.len).ok_or(WireError::TooLong)?;
        *slot = word;
        self.len += 1;
        Ok(())
    }

    /// Appends bytes: their length, then the bytes eight to a word
    /// (little-endian, zero-padded).
    ///
    /// ```
    /// let mut e = libcap::rpc::Encoder::new();
    /// e.push_bytes(b"123456789").unwrap();
    /// assert_eq!(e.words().len(), 3);
    /// assert_eq!(e.words()[2], u64::from(b'9'));
    /// ```
    pub fn push_bytes(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        if 1 + bytes.len().div_ceil(8) > MAX_MESSAGE_WORDS - self.len {
            return Err(WireError::TooLong);
        }
        self.push(bytes.len() as u64)?;
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.push(u64::from_le_bytes(word))?;
        }
        Ok(())
    }

    /// The words so far.
    ///
    /// ```
    /// let mut e = libcap::rpc::Encoder::new();
    /// e.push(5).unwrap();
    /// assert_eq!(e.words(), &[5]);
    /// ```
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len]
    }

    /// Forgets every word.
    ///
    /// ```
    /// let mut e = libcap::rpc::Encoder::new();
    /// e.push(5).unwrap();
    /// e.clear();
    /// assert!(e.words().is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Default for Encoder {
    /// The same as [`Encoder::new`].
    ///
    /// ```
    /// assert!(libcap::rpc::Encoder::default().words().is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Encoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.words()).finish()
    }
}

/// Reads values back from message words, front to back.
///
/// ```
/// use libcap::rpc::{Decode, Decoder};
/// let words = [1, 2];
/// let mut d = Decoder::new(&words);
/// assert_eq!(bool::decode(&mut d), Ok(true));
/// assert_eq!(u8::decode(&mut d), Ok(2));
/// assert_eq!(d.remaining(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Decoder<'a> {
    words: &'a [u64],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// A decoder at the first of `words`.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::Decoder::new(&[1, 2, 3]).remaining(), 3);
    /// ```
    pub const fn new(words: &'a [u64]) -> Self {
        Self { words, pos: 0 }
    }

    /// The next word.
    ///
    /// ```
    /// let mut d = libcap::rpc::Decoder::new(&[9]);
    /// assert_eq!(d.word(), Ok(9));
    /// assert!(d.word().is_err());
    /// ```
    pub fn word(&mut self) -> Result<u64, WireError> {
        let w = *self.words.get(self.pos).ok_or(WireError::Malformed)?;
        self.pos += 1;
        Ok(w)
    }

    /// The next bytes value (see [`Encoder::push_bytes`]), borrowed from
    /// the words.
    ///
    /// ```
    /// let mut e = libcap::rpc::Encoder::new();
    /// e.push_bytes(b"abc").unwrap();
    /// let mut d = libcap::rpc::Decoder::new(e.words());
    /// assert_eq!(d.bytes(), Ok(&b"abc"[..]));
    /// ```
    pub fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = usize::try_from(self.word()?).map_err(|_| WireError::Malformed)?;
        let count = len.div_ceil(8);
        if count > self.remaining() {
            return Err(WireError::Malformed);
        }
        let words = &self.words[self.pos..self.pos + count];
        self.pos += count;
        Ok(&words_as_bytes(words)[..len])
    }

    /// Words not read yet.
    ///
    /// ```
    /// let mut d = libcap::rpc::Decoder::new(&[1, 2]);
    /// d.word().unwrap();
    /// assert_eq!(d.remaining(), 1);
    /// ```
    pub fn remaining(&self) -> usize {
        self.words.len() - self.pos
    }
}

#[cfg(not(target_endian = "little"))]
compile_error!("libcap's RPC byte packing assumes a little-endian target");

/// The bytes of `words` in memory order (little-endian, so word `i`'s
/// byte `j` is byte `8 i + j`, as [`Encoder::push_bytes`] packs them).
fn words_as_bytes(words: &[u64]) -> &[u8] {
    // SAFETY: the u64s are initialised, have no padding, and u8 needs no
    // alignment, so the same memory is a valid [u8] of 8x the length for
    // the same lifetime.
    unsafe { core::slice::from_raw_parts(words.as_ptr().cast::<u8>(), words.len() * 8) }
}

/// A value that can travel as an argument or a result (see the wire
/// format in the [module documentation](self)).
///
/// ```
/// use libcap::rpc::{Encode, Encoder};
/// let mut e = Encoder::new();
/// (-1i64).encode(&mut e).unwrap();
/// Some(3u32).encode(&mut e).unwrap();
/// assert_eq!(e.words(), &[u64::MAX, 1, 3]);
/// ```
pub trait Encode {
    /// Appends the value's words.
    ///
    /// ```
    /// use libcap::rpc::{Encode, Encoder};
    /// let mut e = Encoder::new();
    /// true.encode(&mut e).unwrap();
    /// assert_eq!(e.words(), &[1]);
    /// ```
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError>;
}

/// A value that can be read back from message words; `'a` is the lifetime
/// of the words, which `&str` and `&[u8]` borrow.
///
/// ```
/// use libcap::rpc::{Decode, Decoder, Encode, Encoder};
/// let mut e = Encoder::new();
/// "borrowed".encode(&mut e).unwrap();
/// let mut d = Decoder::new(e.words());
/// let s: &str = Decode::decode(&mut d).unwrap();
/// assert_eq!(s, "borrowed");
/// ```
pub trait Decode<'a>: Sized {
    /// Reads the value's words.
    ///
    /// ```
    /// use libcap::rpc::{Decode, Decoder};
    /// assert_eq!(i32::decode(&mut Decoder::new(&[u64::MAX])), Ok(-1));
    /// ```
    fn decode(dec: &mut Decoder<'a>) -> Result<Self, WireError>;
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        (**self).encode(enc)
    }
}

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
                enc.push(*self as u64)
            }
        }
        impl Decode<'_> for $t {
            fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
                <$t>::try_from(dec.word()?).map_err(|_| WireError::Malformed)
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64, usize);

macro_rules! signed {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
                enc.push(*self as i64 as u64)
            }
        }
        impl Decode<'_> for $t {
            fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
                <$t>::try_from(dec.word()? as i64).map_err(|_| WireError::Malformed)
            }
        }
    )*};
}
signed!(i8, i16, i32, i64, isize);

impl Encode for bool {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push(u64::from(*self))
    }
}

impl Decode<'_> for bool {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        match dec.word()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(WireError::Malformed),
        }
    }
}

impl Encode for () {
    fn encode(&self, _enc: &mut Encoder) -> Result<(), WireError> {
        Ok(())
    }
}

impl Decode<'_> for () {
    fn decode(_dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        Ok(())
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        match self {
            None => enc.push(0),
            Some(v) => {
                enc.push(1)?;
                v.encode(enc)
            }
        }
    }
}

impl<'a, T: Decode<'a>> Decode<'a> for Option<T> {
    fn decode(dec: &mut Decoder<'a>) -> Result<Self, WireError> {
        match dec.word()? {
            0 => Ok(None),
            1 => T::decode(dec).map(Some),
            _ => Err(WireError::Malformed),
        }
    }
}

impl Encode for [u8] {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push_bytes(self)
    }
}

impl Encode for str {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push_bytes(self.as_bytes())
    }
}

impl<'a> Decode<'a> for &'a [u8] {
    fn decode(dec: &mut Decoder<'a>) -> Result<Self, WireError> {
        dec.bytes()
    }
}

impl<'a> Decode<'a> for &'a str {
    fn decode(dec: &mut Decoder<'a>) -> Result<Self, WireError> {
        core::str::from_utf8(dec.bytes()?).map_err(|_| WireError::Malformed)
    }
}

impl<const N: usize> Encode for Text<N> {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push_bytes(self.as_bytes())
    }
}

impl<const N: usize> Decode<'_> for Text<N> {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        Text::try_from(<&str>::decode(dec)?).map_err(|_| WireError::Malformed)
    }
}

impl<const N: usize> Encode for Bytes<N> {
    fn encode(&self, enc: &mut Encoder) -> Result<(), WireError> {
        enc.push_bytes(self)
    }
}

impl<const N: usize> Decode<'_> for Bytes<N> {
    fn decode(dec: &mut Decoder<'_>) -> Result<Self, WireError> {
        Bytes::try_from(dec.bytes()?).map_err(|_| WireError::Malformed)
    }
}

/// A value does not fit in a [`Text`] or [`Bytes`] of its capacity.
///
/// ```
/// use libcap::rpc::{CapacityError, Text};
/// assert_eq!(Text::<2>::try_from("abc"), Err(CapacityError));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CapacityError;

/// A string of at most `N` bytes stored inline: what an RPC method returns
/// for text (libcap needs no heap, so it has no `String` results). Write
/// into it with [`core::fmt::Write`]; read it as a `&str`.
///
/// ```
/// use core::fmt::Write;
/// use libcap::rpc::Text;
/// let mut t = Text::<32>::new();
/// write!(t, "Hello, {}!", "Basalt").unwrap();
/// assert_eq!(t, "Hello, Basalt!");
/// assert_eq!(t.len(), 14);
/// assert!(write!(t, "{}", "x".repeat(40)).is_err()); // does not fit
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Text<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

impl<const N: usize> Text<N> {
    /// An empty text.
    ///
    /// ```
    /// assert!(libcap::rpc::Text::<8>::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            len: 0,
            bytes: [0; N],
        }
    }

    /// The text.
    ///
    /// ```
    /// let t = libcap::rpc::Text::<8>::try_from("abc").unwrap();
    /// assert_eq!(t.as_str(), "abc");
    /// ```
    pub fn as_str(&self) -> &str {
        // SAFETY: `bytes[..len]` only ever receives whole `&str`s.
        unsafe { core::str::from_utf8_unchecked(&self.bytes[..self.len]) }
    }

    /// Appends `s`, or fails (changing nothing) if it does not fit.
    ///
    /// ```
    /// let mut t = libcap::rpc::Text::<4>::new();
    /// t.push_str("ab").unwrap();
    /// assert!(t.push_str("cde").is_err());
    /// assert_eq!(t, "ab");
    /// ```
    pub fn push_str(&mut self, s: &str) -> Result<(), CapacityError> {
        let end = self.len + s.len();
        if end > N {
            return Err(CapacityError);
        }
        self.bytes[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }

    /// The capacity, `N`.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::Text::<16>::new().capacity(), 16);
    /// ```
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<const N: usize> Default for Text<N> {
    /// An empty text.
    ///
    /// ```
    /// assert_eq!(libcap::rpc::Text::<4>::default(), "");
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TryFrom<&str> for Text<N> {
    type Error = CapacityError;

    /// ```
    /// assert!(libcap::rpc::Text::<3>::try_from("abc").is_ok());
    /// ```
    fn try_from(s: &str) -> Result<Self, CapacityError> {
        let mut t = Self::new();
        t.push_str(s)?;
        Ok(t)
    }
}

impl<const N: usize> core::ops::Deref for Text<N> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<const N: usize> fmt::Write for Text<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push_str(s).map_err(|_| fmt::Error)
    }
}

impl<const N: usize> fmt::Display for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<const N: usize> fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl<const N: usize> PartialEq<str> for Text<N> {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl<const N: usize> PartialEq<&str> for Text<N> {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// At most `N` bytes stored inline: what an RPC method returns for binary
/// data. Read it as a `&[u8]`.
///
/// ```
/// use libcap::rpc::Bytes;
/// let b = Bytes::<8>::try_from(&[1u8, 2, 3][..]).unwrap();
/// assert_eq!(&*b, &[1, 2, 3]);
/// assert!(Bytes::<2>::try_from(&[1u8, 2, 3][..]).is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Bytes<const N: usize> {
    len: usize,
    bytes: [u8; N],
}

impl<const N: usize> Bytes<N> {
    /// No bytes.
    ///
    /// ```
    /// assert!(libcap::rpc::Bytes::<8>::new().is_empty());
    /// ```
    pub const fn new() -> Self {
        Self {
            len: 0,
            bytes: [0; N],
        }
    }

    /// Appends `data`, or fails (changing nothing) if it does not fit.
    ///
    /// ```
    /// let mut b = libcap::rpc::Bytes::<4>::new();
    /// b.extend_from_slice(b"ab").unwrap();
    /// assert!(b.extend_from_slice(b"cde").is_err());
    /// assert_eq!(&*b, b"ab");
    /// ```
    pub fn extend_from_slice(&mut self, data: &[u8]) -> Result<(), CapacityError> {
        let end = self.len + data.len();
        if end > N {
            return Err(CapacityError);
        }
        self.bytes[self.len..end].copy_from_slice(data);
        self.len = end;
        Ok(())
    }
}

impl<const N: usize> Default for Bytes<N> {
    /// No bytes.
    ///
    /// ```
    /// assert!(libcap::rpc::Bytes::<4>::default().is_empty());
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TryFrom<&[u8]> for Bytes<N> {
    type Error = CapacityError;

    /// ```
    /// assert!(libcap::rpc::Bytes::<3>::try_from(&b"abc"[..]).is_ok());
    /// ```
    fn try_from(data: &[u8]) -> Result<Self, CapacityError> {
        let mut b = Self::new();
        b.extend_from_slice(data)?;
        Ok(b)
    }
}

impl<const N: usize> core::ops::Deref for Bytes<N> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl<const N: usize> fmt::Debug for Bytes<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// Who made a call: the badge of the capability the client used. `init`
/// mints each client's capability with a badge of its own, so a server
/// tells its clients apart by it.
///
/// ```
/// let caller = libcap::rpc::Caller { badge: 3 };
/// assert_eq!(caller.badge, 3);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Caller {
    /// The badge of the client's endpoint capability (0 if unbadged).
    pub badge: u64,
}

/// Why a call failed, as a client sees it.
///
/// ```
/// use libcap::Error;
/// use libcap::rpc::RpcError;
/// assert_eq!(RpcError::from(Error::Aborted), RpcError::Unavailable);
/// assert_eq!(RpcError::from(Error::InvalidCapability), RpcError::Kernel(Error::InvalidCapability));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RpcError {
    /// The call was cut short: the server died (or was stopped) before
    /// replying, or the channel's endpoint was deleted (the kernel's
    /// [`Error::Aborted`]).
    Unavailable,
    /// The server was restarted since the last reply this client saw; the
    /// call was carried out by the new instance, whose generation this is,
    /// but its result is withheld so the caller notices (see
    /// [Restarts](self#restarts)).
    Restarted {
        /// The new instance's generation.
        generation: u64,
    },
    /// The method failed with this error code (the interface defines the
    /// codes).
    Remote(u64),
    /// The system call failed: for example [`Error::InvalidCapability`]
    /// for a capability address that holds nothing.
    Kernel(Error),
    /// The server does not know the method (it is older than the client).
    Unsupported {
        /// The method id.
        method: u64,
    },
    /// The request or the reply could not be decoded.
    BadMessage,
    /// The arguments do not fit in one message.
    TooLong,
}

impl From<Error> for RpcError {
    /// [`Error::Aborted`] is [`RpcError::Unavailable`]; any other error is
    /// [`RpcError::Kernel`].
    ///
    /// ```
    /// use libcap::rpc::RpcError;
    /// assert_eq!(RpcError::from(libcap::Error::Aborted), RpcError::Unavailable);
    /// ```
    fn from(e: Error) -> Self {
        match e {
            Error::Aborted => Self::Unavailable,
            e => Self::Kernel(e),
        }
    }
}

impl From<WireError> for RpcError {
    /// ```
    /// use libcap::rpc::{RpcError, WireError};
    /// assert_eq!(RpcError::from(WireError::TooLong), RpcError::TooLong);
    /// assert_eq!(RpcError::from(WireError::Malformed), RpcError::BadMessage);
    /// ```
    fn from(e: WireError) -> Self {
        match e {
            WireError::TooLong => Self::TooLong,
            WireError::Malformed => Self::BadMessage,
        }
    }
}

impl fmt::Display for RpcError {
    /// ```
    /// assert_eq!(
    ///     libcap::rpc::RpcError::Restarted { generation: 2 }.to_string(),
    ///     "the server restarted (now generation 2)"
    /// );
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable => f.write_str("the server is unavailable (the call was aborted)"),
            Self::Restarted { generation } => {
                write!(f, "the server restarted (now generation {generation})")
            }
            Self::Remote(code) => write!(f, "the server refused the call (error code {code})"),
            Self::Kernel(e) => write!(f, "the kernel refused the call: {e}"),
            Self::Unsupported { method } => {
                write!(f, "the server does not know method {method}")
            }
            Self::BadMessage => f.write_str("a malformed request or reply"),
            Self::TooLong => f.write_str("the arguments do not fit in one message"),
        }
    }
}

/// How a client stub reaches its server: an [`Endpoint`] on Basalt, or a
/// [`Local`] server in the same program (tests).
///
/// A call works in place on one buffer of message words, so that no
/// 1 KiB message is copied on the way: `words` holds the arguments on
/// entry and the reply's words on return.
///
/// ```
/// use libcap::rpc::{Encoder, Transport};
///
/// /// Answers every call with its own words and label 0.
/// struct Mirror;
/// impl Transport for Mirror {
///     fn call(&self, _label: u64, _words: &mut Encoder) -> Result<u64, libcap::Error> {
///         Ok(0)
///     }
/// }
/// let mut words = Encoder::new();
/// words.push(5).unwrap();
/// assert_eq!(Mirror.call(1, &mut words), Ok(0));
/// assert_eq!(words.words(), &[5]);
/// ```
pub trait Transport {
    /// Sends a message with `label` and `words`; returns the reply's
    /// label, with its words in `words`.
    ///
    /// ```no_run
    /// use libcap::rpc::{Encoder, Transport};
    /// let mut words = Encoder::new();
    /// words.push(40).unwrap();
    /// words.push(2).unwrap();
    /// // (Endpoint's own `call` takes a Message; name the trait's.)
    /// let label = Transport::call(&libcap::Endpoint::from_raw(8), 2, &mut words).expect("call");
    /// println!("reply label {label:#x}, words {:?}", words.words());
    /// ```
    fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, Error>;
}

impl Transport for Endpoint {
    fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, Error> {
        let (info, _badge) = in_place(Syscall::Call, self.raw(), label, words)?;
        Ok(info.label())
    }
}

impl<T: Transport + ?Sized> Transport for &T {
    fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, Error> {
        (**self).call(label, words)
    }
}

/// A sending and receiving system call (`Call`, `ReplyRecv`) or a
/// receiving one (`Recv`, with `words` empty) on `cap`, with the words of
/// `words`; what arrives replaces them. Returns the message info and badge
/// that arrived.
fn in_place(
    number: Syscall,
    cap: u64,
    label: u64,
    words: &mut Encoder,
) -> Result<(MessageInfo, u64), Error> {
    let out = words.words();
    let mut registers = [0; REGISTER_WORDS];
    let in_registers = out.len().min(REGISTER_WORDS);
    registers[..in_registers].copy_from_slice(&out[..in_registers]);
    if out.len() > REGISTER_WORDS {
        crate::ipc_buffer::write_extra_words(&out[REGISTER_WORDS..]);
    }
    let info = MessageInfo::new(label, out.len());
    let reply = syscall::raw(number as u64, cap, info, registers);
    decode_error(reply.error)?;
    let len = reply.info.length().min(MAX_MESSAGE_WORDS);
    words.clear();
    for i in 0..len {
        let w = if i < REGISTER_WORDS {
            reply.words[i]
        } else {
            crate::ipc_buffer::read_word(i)
        };
        // Cannot fail: `len` is at most MAX_MESSAGE_WORDS.
        let _ = words.push(w);
    }
    Ok((reply.info, reply.badge))
}

/// The part of every generated client that is not per method: the
/// transport and the last generation seen.
///
/// ```
/// use libcap::rpc::ClientCore;
/// let core = ClientCore::new(libcap::Endpoint::from_raw(8));
/// assert_eq!(core.generation(), 0);
/// ```
#[derive(Debug)]
pub struct ClientCore<T> {
    transport: T,
    generation: Cell<u64>,
}

impl<T: Transport> ClientCore<T> {
    /// A client of the server behind `transport` that has seen no reply.
    ///
    /// ```
    /// let core = libcap::rpc::ClientCore::new(libcap::Endpoint::from_raw(8));
    /// assert_eq!(core.transport().raw(), 8);
    /// ```
    pub const fn new(transport: T) -> Self {
        Self {
            transport,
            generation: Cell::new(0),
        }
    }

    /// The server generation of the last reply (0 before the first).
    ///
    /// ```
    /// assert_eq!(libcap::rpc::ClientCore::new(libcap::Endpoint::from_raw(8)).generation(), 0);
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// The transport.
    ///
    /// ```
    /// let core = libcap::rpc::ClientCore::new(libcap::Endpoint::from_raw(8));
    /// assert_eq!(core.transport().raw(), 8);
    /// ```
    pub const fn transport(&self) -> &T {
        &self.transport
    }

    /// Calls method `method` with the encoded arguments in `words`; on
    /// success `words` holds the encoded result. Fails with why there is
    /// none (see [Restarts](self#restarts)).
    ///
    /// ```no_run
    /// use libcap::rpc::{ClientCore, Decode, Decoder, Encode, Encoder};
    /// let core = ClientCore::new(libcap::Endpoint::from_raw(8));
    /// let mut words = Encoder::new();
    /// 40u64.encode(&mut words).unwrap();
    /// 2u64.encode(&mut words).unwrap();
    /// core.call(2, &mut words).expect("add");
    /// let sum = u64::decode(&mut Decoder::new(words.words())).unwrap();
    /// # let _ = sum;
    /// ```
    pub fn call(&self, method: u64, words: &mut Encoder) -> Result<(), RpcError> {
        let label = self.transport.call(method, words)?;
        self.interpret(method, label, words)
    }

    /// Checks a reply's generation and status.
    fn interpret(&self, method: u64, label: u64, words: &Encoder) -> Result<(), RpcError> {
        let (status, generation) = split_reply_label(label);
        if generation != 0 {
            let last = self.generation.replace(generation);
            if last != 0 && last != generation {
                return Err(RpcError::Restarted { generation });
            }
        }
        match Status::from_raw(status) {
            Some(Status::Ok) => Ok(()),
            Some(Status::Remote) => Err(RpcError::Remote(
                words.words().first().copied().unwrap_or(0),
            )),
            Some(Status::UnknownMethod) => Err(RpcError::Unsupported { method }),
            Some(Status::BadRequest | Status::BadReply) | None => Err(RpcError::BadMessage),
        }
    }
}

/// What a generated server trait's dispatch function looks like: decode
/// the request words of method `method`, run the method, replace the
/// words with its encoded result, say how it went.
///
/// ```
/// use libcap::rpc::{Caller, DispatchFn, Encoder, Status};
///
/// fn double(_: &mut (), _: Caller, _method: u64, words: &mut Encoder) -> Status {
///     let x = words.words().first().copied().unwrap_or(0);
///     words.clear();
///     words.push(2 * x).unwrap();
///     Status::Ok
/// }
/// let f: DispatchFn<()> = double;
/// # let _ = f;
/// ```
pub type DispatchFn<S> = fn(&mut S, Caller, u64, &mut Encoder) -> Status;

/// Answers one request in place: runs `dispatch` on `state` for method
/// `label` with the request `words`, leaves the reply's words in `words`,
/// and returns the reply label (status and `generation`). What [`serve`]
/// does for each call, without the system calls.
///
/// ```
/// use libcap::rpc::{Caller, Encoder, Status, handle, split_reply_label};
///
/// fn double(_: &mut (), _: Caller, _: u64, words: &mut Encoder) -> Status {
///     let x = words.words()[0];
///     words.clear();
///     words.push(x * 2).unwrap();
///     Status::Ok
/// }
/// let mut words = Encoder::new();
/// words.push(21).unwrap();
/// let label = handle(&mut (), double, 3, Caller { badge: 0 }, 1, &mut words);
/// assert_eq!(split_reply_label(label), (0, 3));
/// assert_eq!(words.words(), &[42]);
/// ```
pub fn handle<S>(
    state: &mut S,
    dispatch: DispatchFn<S>,
    generation: u64,
    caller: Caller,
    label: u64,
    words: &mut Encoder,
) -> u64 {
    let status = dispatch(state, caller, label, words);
    if !matches!(status, Status::Ok | Status::Remote) {
        words.clear();
    }
    reply_label(status, generation)
}

/// Answers the call being handled with the error `code` at once, before
/// its handler returns, so that the caller goes on while the server keeps
/// working for it (the kvs server answers a round whose script runs past
/// `busy-reply-threshold` this way, and gives the result later). The
/// loop's own reply to that call then finds nobody waiting and is
/// dropped. The reply carries this component's generation, as the
/// loop's replies do; the caller sees [`RpcError::Remote`]`(code)`.
pub fn answer_early(code: u64) -> Result<(), Error> {
    let label = reply_label(Status::Remote, crate::runtime::generation());
    crate::ipc::reply(&crate::ipc::Message::new(label, &[code]))
}

/// A server's loop: receives calls on `endpoint`, answers each through
/// `dispatch` with `generation` in the reply label, and passes the
/// serving thread's bound-notification signals to `notified`. The first
/// receive is a `Recv`, every later one the `ReplyRecv` that also answers
/// the previous call; one buffer of message words serves for every
/// request and reply.
///
/// A receive cut short ([`Error::Aborted`]) is retried; any other error
/// (the endpoint is missing or lacks READ) is a configuration fault and
/// panics, which a component reports to `init`.
///
/// ```no_run
/// use libcap::rpc::{Caller, Encoder, Status, serve};
///
/// fn count(calls: &mut u64, _: Caller, _: u64, words: &mut Encoder) -> Status {
///     *calls += 1;
///     words.clear();
///     words.push(*calls).unwrap();
///     Status::Ok
/// }
/// let mut calls = 0;
/// serve(libcap::Endpoint::from_raw(8), libcap::runtime::generation(), &mut calls, count, |_, _| {});
/// ```
pub fn serve<S>(
    endpoint: Endpoint,
    generation: u64,
    state: &mut S,
    dispatch: DispatchFn<S>,
    notified: fn(&mut S, u64),
) -> ! {
    let mut port = endpoint;
    let mut words = Encoder::new();
    let mut reply = None;
    loop {
        let (info, badge) = match next_message(&mut port, &mut words, reply, held::Wait::Forever) {
            Ok(received) => received,
            Err(e) => panic!(
                "cannot receive on endpoint {}: {e} (is the channel served by this component?)",
                endpoint.raw()
            ),
        };
        reply = if info.label() == NOTIFICATION_LABEL {
            notified(state, badge);
            None
        } else {
            let caller = Caller { badge };
            Some(handle(
                state,
                dispatch,
                generation,
                caller,
                info.label(),
                &mut words,
            ))
        };
    }
}

/// Sends `reply` (a label; the words are in `words`) if there is one, then
/// receives the next message into `words` (waiting for one if
/// `blocking`); retries receives cut short ([`Error::Aborted`]).
fn next_message<P: ServerPort>(
    port: &mut P,
    words: &mut Encoder,
    mut reply: Option<u64>,
    wait: held::Wait,
) -> Result<(MessageInfo, u64), Error> {
    loop {
        match port.receive(reply.take(), wait, words) {
            Err(Error::Aborted) => {}
            result => return result,
        }
    }
}

/// A server in the same program, called directly: a [`Transport`] for
/// host tests and examples, and for calls between parts of one program.
/// Its generation starts at 1; [`restart`](Self::restart) replaces the
/// server as `init` would.
///
/// ```
/// use libcap::rpc::{Caller, ClientCore, Encoder, Local, RpcError, Status};
///
/// fn count(calls: &mut u64, _: Caller, _: u64, words: &mut Encoder) -> Status {
///     *calls += 1;
///     words.clear();
///     words.push(*calls).unwrap();
///     Status::Ok
/// }
/// let local = Local::new(0u64, count);
/// let client = ClientCore::new(&local);
/// let mut words = Encoder::new();
/// client.call(1, &mut words).unwrap();
/// assert_eq!(words.words(), &[1]);
/// local.restart(0);
/// assert_eq!(
///     client.call(1, &mut Encoder::new()).unwrap_err(),
///     RpcError::Restarted { generation: 2 }
/// );
/// client.call(1, &mut words).unwrap();
/// assert_eq!(words.words(), &[2]);
/// ```
pub struct Local<S> {
    state: RefCell<S>,
    dispatch: DispatchFn<S>,
    generation: Cell<u64>,
    badge: Cell<u64>,
    down: Cell<bool>,
}

impl<S> Local<S> {
    /// Server `state` with its dispatch function (`S::rpc_dispatch` for a
    /// generated trait), generation 1.
    ///
    /// ```
    /// use libcap::rpc::{Caller, Encoder, Local, Status};
    /// fn nothing(_: &mut (), _: Caller, _: u64, _: &mut Encoder) -> Status {
    ///     Status::Ok
    /// }
    /// let local = Local::new((), nothing);
    /// assert_eq!(local.generation(), 1);
    /// ```
    pub fn new(state: S, dispatch: DispatchFn<S>) -> Self {
        Self {
            state: RefCell::new(state),
            dispatch,
            generation: Cell::new(1),
            badge: Cell::new(0),
            down: Cell::new(false),
        }
    }

    /// The server's generation.
    ///
    /// ```
    /// # use libcap::rpc::{Caller, Encoder, Local, Status};
    /// # fn nothing(_: &mut (), _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// let local = Local::new((), nothing);
    /// local.restart(());
    /// assert_eq!(local.generation(), 2);
    /// ```
    pub fn generation(&self) -> u64 {
        self.generation.get()
    }

    /// Replaces the server with `state` and increments the generation.
    ///
    /// ```
    /// # use libcap::rpc::{Caller, Encoder, Local, Status};
    /// # fn nothing(_: &mut u8, _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// let local = Local::new(1u8, nothing);
    /// local.restart(5);
    /// assert_eq!(*local.state(), 5);
    /// ```
    pub fn restart(&self, state: S) {
        *self.state.borrow_mut() = state;
        self.generation.set(self.generation.get() + 1);
        self.down.set(false);
    }

    /// Makes calls fail with [`Error::Aborted`] (as while a crashed server
    /// is being restarted) until [`restart`](Self::restart).
    ///
    /// ```
    /// # use libcap::rpc::{Caller, ClientCore, Encoder, Local, RpcError, Status};
    /// # fn nothing(_: &mut (), _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// let local = Local::new((), nothing);
    /// local.crash();
    /// let client = ClientCore::new(&local);
    /// assert_eq!(client.call(1, &mut Encoder::new()).unwrap_err(), RpcError::Unavailable);
    /// ```
    pub fn crash(&self) {
        self.down.set(true);
    }

    /// The badge callers appear with (default 0).
    ///
    /// ```
    /// # use libcap::rpc::{Caller, Encoder, Local, Status};
    /// # fn nothing(_: &mut (), _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// let local = Local::new((), nothing);
    /// local.set_badge(7);
    /// ```
    pub fn set_badge(&self, badge: u64) {
        self.badge.set(badge);
    }

    /// The server's state.
    ///
    /// ```
    /// # use libcap::rpc::{Caller, Encoder, Local, Status};
    /// # fn nothing(_: &mut u8, _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// assert_eq!(*Local::new(3u8, nothing).state(), 3);
    /// ```
    pub fn state(&self) -> core::cell::Ref<'_, S> {
        self.state.borrow()
    }

    /// The server's state, to change or to call between calls (e.g. the
    /// [`Settle`] hooks a hold loop would call).
    ///
    /// ```
    /// # use libcap::rpc::{Caller, Encoder, Local, Status};
    /// # fn nothing(_: &mut u8, _: Caller, _: u64, _: &mut Encoder) -> Status { Status::Ok }
    /// let local = Local::new(3u8, nothing);
    /// *local.state_mut() += 1;
    /// assert_eq!(*local.state(), 4);
    /// ```
    pub fn state_mut(&self) -> core::cell::RefMut<'_, S> {
        self.state.borrow_mut()
    }
}

impl<S> Transport for Local<S> {
    fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, Error> {
        if self.down.get() {
            return Err(Error::Aborted);
        }
        let caller = Caller {
            badge: self.badge.get(),
        };
        Ok(handle(
            &mut *self.state.borrow_mut(),
            self.dispatch,
            self.generation.get(),
            caller,
            label,
            words,
        ))
    }
}

/// Encodes a method's result for the generated dispatch code.
#[doc(hidden)]
pub fn encode_result<T: Encode + ?Sized>(value: &T, out: &mut Encoder) -> Status {
    out.clear();
    match value.encode(out) {
        Ok(()) => Status::Ok,
        Err(_) => Status::BadReply,
    }
}

/// Encodes a method's error code for the generated dispatch code.
#[doc(hidden)]
pub fn encode_remote_error(code: u64, out: &mut Encoder) -> Status {
    out.clear();
    match out.push(code) {
        Ok(()) => Status::Remote,
        Err(_) => Status::BadReply,
    }
}

/// Fails compilation of an interface whose method ids are 0, too large or
/// not unique.
#[doc(hidden)]
pub const fn check_method_ids(ids: &[u64]) {
    let mut i = 0;
    while i < ids.len() {
        assert!(
            ids[i] >= 1 && ids[i] <= MAX_METHOD,
            "RPC method ids are 1 ..= 2^32 - 1"
        );
        let mut j = i + 1;
        while j < ids.len() {
            assert!(ids[i] != ids[j], "two RPC methods share an id");
            j += 1;
        }
        i += 1;
    }
}

/// The return type of an interface method: the one written, or `()`.
#[doc(hidden)]
#[macro_export]
macro_rules! __rpc_ret {
    () => {
        ()
    };
    ($ret:ty) => {
        $ret
    };
}

/// Declares an RPC interface: a server trait, a client stub and the wire
/// mapping between them (see [`rpc`](crate::rpc) for the wire format and
/// restarts).
///
/// ```
/// libcap::rpc_interface! {
///     /// A key-value store.
///     pub interface Store {
///         /// The client of [`Store`].
///         client StoreClient;
///         /// Stores `value` under `key`.
///         fn put(key: &str, value: &[u8]) = 1;
///         /// The value under `key`.
///         fn get(key: &str) -> Option<Bytes<256>> = 2;
///     }
/// }
/// # use libcap::rpc::Bytes;
/// # struct S(std::collections::HashMap<String, Vec<u8>>);
/// # impl Store for S {
/// #     fn put(&mut self, _: libcap::rpc::Caller, key: &str, value: &[u8]) -> Result<(), u64> {
/// #         self.0.insert(key.into(), value.into());
/// #         Ok(())
/// #     }
/// #     fn get(&mut self, _: libcap::rpc::Caller, key: &str) -> Result<Option<Bytes<256>>, u64> {
/// #         Ok(self.0.get(key).map(|v| Bytes::try_from(&v[..]).unwrap()))
/// #     }
/// # }
/// # let local = libcap::rpc::Local::new(S(Default::default()), S::rpc_dispatch);
/// # let store = StoreClient::new(&local);
/// # store.put("k", b"v").unwrap();
/// # assert_eq!(store.get("k").unwrap().as_deref(), Some(&b"v"[..]));
/// ```
///
/// It generates, for `interface Store { client StoreClient; … }`:
///
/// - `trait Store`, with per method `fn put(&mut self, caller: Caller,
///   key: &str, value: &[u8]) -> Result<(), u64>` to implement (`Err`
///   carries an error code the interface defines, which the client gets
///   as [`RpcError::Remote`]); a provided `notified(&mut self, word)`
///   (the serving thread's bound notification fired; does nothing by
///   default); a provided `serve(self, endpoint) -> !`, the server loop
///   ([`serve`]) with this component's generation; a provided
///   `serve_held(self, endpoint, pool: ReplyPool<N>) -> !` for a server
///   that also implements [`Settle`] ([`serve_held`]: replies held until
///   the state settles); and a hidden `rpc_dispatch` ([`DispatchFn`]).
/// - `struct StoreClient<T: Transport = Endpoint>`, with `new(transport)`,
///   `From<Endpoint>` (so [`Start::channel_client`](crate::Start::channel_client)
///   makes one), `generation()`, `transport()`, and per method `fn
///   put(&self, key: &str, value: &[u8]) -> Result<(), RpcError>`.
///
/// Argument and result types implement [`Encode`] and [`Decode`]; a
/// result type must not borrow (return a [`Text`], not a `&str`; libcap
/// has no heap, so no `String` either — a program with a heap can wrap
/// one in a type of its own and implement [`Encode`] and [`Decode`] for
/// it). A method's id
/// (`= 1`) is its label on the wire: keep ids stable, give new methods new
/// ids. Ids must be unique and in 1 … 2³² − 1 (checked at compile time).
/// Methods must not be called `new`, `generation`, `transport`, `serve`,
/// `serve_held`, `notified` or `rpc_dispatch`.
#[macro_export]
macro_rules! rpc_interface {
    (
        $(#[$imeta:meta])*
        $vis:vis interface $name:ident {
            $(#[$cmeta:meta])*
            client $client:ident;
            $(
                $(#[$mmeta:meta])*
                fn $method:ident ( $($arg:ident : $ty:ty),* $(,)? ) $(-> $ret:ty)? = $id:literal ;
            )*
        }
    ) => {
        $(#[$imeta])*
        $vis trait $name {
            $(
                $(#[$mmeta])*
                #[allow(clippy::too_many_arguments)]
                fn $method(
                    &mut self,
                    caller: $crate::rpc::Caller
                    $(, $arg: $ty)*
                ) -> ::core::result::Result<$crate::__rpc_ret!($($ret)?), u64>;
            )*

            /// The serving thread's bound notification was signalled with
            /// `word` (its bits). Does nothing unless implemented.
            #[allow(dead_code)]
            fn notified(&mut self, word: u64) {
                let _ = word;
            }

            /// Serves this interface on `endpoint` forever, with this
            /// component's generation in every reply
            /// (`libcap::rpc::serve`).
            #[allow(dead_code)]
            fn serve(mut self, endpoint: $crate::cap::Endpoint) -> !
            where
                Self: Sized,
            {
                $crate::rpc::serve(
                    endpoint,
                    $crate::runtime::generation(),
                    &mut self,
                    <Self as $name>::rpc_dispatch,
                    <Self as $name>::notified,
                )
            }

            /// Serves this interface on `endpoint` forever like `serve`,
            /// but holds the replies `Settle::hold` picks, in the reply
            /// capabilities of `pool`, until `Settle::settle` has run
            /// (`libcap::rpc::serve_held`).
            #[allow(dead_code)]
            fn serve_held<const N: usize>(
                mut self,
                endpoint: $crate::cap::Endpoint,
                pool: $crate::rpc::ReplyPool<N>,
            ) -> !
            where
                Self: Sized + $crate::rpc::Settle,
            {
                $crate::rpc::serve_held(
                    endpoint,
                    $crate::runtime::generation(),
                    &mut self,
                    <Self as $name>::rpc_dispatch,
                    <Self as $name>::notified,
                    pool,
                )
            }

            /// Decodes the request `words` of method `method`, runs it,
            /// and replaces the words with its encoded result
            /// (`libcap::rpc::DispatchFn`).
            #[doc(hidden)]
            #[allow(dead_code)]
            fn rpc_dispatch(
                &mut self,
                caller: $crate::rpc::Caller,
                method: u64,
                words: &mut $crate::rpc::Encoder,
            ) -> $crate::rpc::Status
            where
                Self: Sized,
            {
                match method {
                    $(
                        $id => {
                            let result = {
                                #[allow(unused_mut, unused_variables)]
                                let mut args = $crate::rpc::Decoder::new(words.words());
                                $(
                                    let $arg = match <$ty as $crate::rpc::Decode>::decode(&mut args) {
                                        ::core::result::Result::Ok(v) => v,
                                        ::core::result::Result::Err(_) => {
                                            return $crate::rpc::Status::BadRequest
                                        }
                                    };
                                )*
                                self.$method(caller $(, $arg)*)
                            };
                            words.clear();
                            match result {
                                ::core::result::Result::Ok(value) => {
                                    $crate::rpc::encode_result(&value, words)
                                }
                                ::core::result::Result::Err(code) => {
                                    $crate::rpc::encode_remote_error(code, words)
                                }
                            }
                        }
                    )*
                    _ => $crate::rpc::Status::UnknownMethod,
                }
            }
        }

        const _: () = $crate::rpc::check_method_ids(&[$($id),*]);

        $(#[$cmeta])*
        #[allow(dead_code)]
        $vis struct $client<T: $crate::rpc::Transport = $crate::cap::Endpoint> {
            core: $crate::rpc::ClientCore<T>,
        }

        #[allow(dead_code)]
        impl<T: $crate::rpc::Transport> $client<T> {
            /// A client of the server behind `transport` (its channel's
            /// endpoint).
            pub const fn new(transport: T) -> Self {
                Self {
                    core: $crate::rpc::ClientCore::new(transport),
                }
            }

            /// The server generation of the last reply (0 before the first).
            pub fn generation(&self) -> u64 {
                self.core.generation()
            }

            /// The transport (endpoint) this client calls.
            pub const fn transport(&self) -> &T {
                self.core.transport()
            }

            $(
                $(#[$mmeta])*
                #[allow(clippy::too_many_arguments)]
                pub fn $method(
                    &self
                    $(, $arg: $ty)*
                ) -> ::core::result::Result<$crate::__rpc_ret!($($ret)?), $crate::rpc::RpcError> {
                    let mut words = $crate::rpc::Encoder::new();
                    $( $crate::rpc::Encode::encode(&$arg, &mut words)?; )*
                    self.core.call($id, &mut words)?;
                    let mut result = $crate::rpc::Decoder::new(words.words());
                    <$crate::__rpc_ret!($($ret)?) as $crate::rpc::Decode>::decode(&mut result)
                        .map_err($crate::rpc::RpcError::from)
                }
            )*
        }

        impl ::core::convert::From<$crate::cap::Endpoint> for $client<$crate::cap::Endpoint> {
            fn from(endpoint: $crate::cap::Endpoint) -> Self {
                Self::new(endpoint)
            }
        }

        impl<T: $crate::rpc::Transport> ::core::fmt::Debug for $client<T> {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.debug_struct(::core::stringify!($client))
                    .field("generation", &self.core.generation())
                    .finish_non_exhaustive()
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::rpc_interface! {
        /// The test interface.
        pub interface Greeter {
            /// Its client.
            client GreeterClient;
            /// A greeting.
            fn hello(name: &str) -> Text<32> = 1;
            /// `a + b`, error 1 on overflow.
            fn add(a: u64, b: u64) -> u64 = 2;
            /// Nothing in, nothing out.
            fn ping() = 3;
            /// Every kind of value.
            fn mixed(a: bool, b: i32, c: Option<u16>, d: &[u8], e: Bytes<4>, f: u8) -> Option<Text<100>> = 4;
            /// The caller's badge.
            fn whoami() -> u64 = 5;
            /// A result that does not fit.
            fn huge() -> Bytes<2000> = 6;
        }
    }

    #[derive(Default)]
    struct Server {
        calls: u64,
    }

    impl Greeter for Server {
        fn hello(&mut self, _: Caller, name: &str) -> Result<Text<32>, u64> {
            self.calls += 1;
            let mut t = Text::new();
            fmt::Write::write_fmt(&mut t, format_args!("Hello, {name}!")).map_err(|_| 2u64)?;
            Ok(t)
        }
        fn add(&mut self, _: Caller, a: u64, b: u64) -> Result<u64, u64> {
            self.calls += 1;
            a.checked_add(b).ok_or(1)
        }
        fn ping(&mut self, _: Caller) -> Result<(), u64> {
            self.calls += 1;
            Ok(())
        }
        fn mixed(
            &mut self,
            _: Caller,
            a: bool,
            b: i32,
            c: Option<u16>,
            d: &[u8],
            e: Bytes<4>,
            f: u8,
        ) -> Result<Option<Text<100>>, u64> {
            Ok(Some(
                Text::try_from(format!("{a} {b} {c:?} {d:?} {e:?} {f}").as_str()).unwrap(),
            ))
        }
        fn whoami(&mut self, caller: Caller) -> Result<u64, u64> {
            Ok(caller.badge)
        }
        fn huge(&mut self, _: Caller) -> Result<Bytes<2000>, u64> {
            Ok(Bytes::try_from(&[7; 2000][..]).unwrap())
        }
    }

    fn local() -> Local<Server> {
        Local::new(Server::default(), Server::rpc_dispatch)
    }

    fn round_trip<T: Encode + for<'a> Decode<'a> + PartialEq + fmt::Debug>(v: T) {
        let mut e = Encoder::new();
        v.encode(&mut e).unwrap();
        let mut d = Decoder::new(e.words());
        assert_eq!(T::decode(&mut d).unwrap(), v);
        assert_eq!(d.remaining(), 0, "{v:?} left words behind");
    }

    #[test]
    fn values_round_trip() {
        round_trip(0u64);
        round_trip(u64::MAX);
        round_trip(u32::MAX);
        round_trip(u16::MAX);
        round_trip(255u8);
        round_trip(usize::MAX);
        round_trip(i64::MIN);
        round_trip(-1i32);
        round_trip(i8::MIN);
        round_trip(true);
        round_trip(false);
        round_trip(());
        round_trip(Some(5u64));
        round_trip(None::<u64>);
        round_trip(Some(Some(false)));
        for len in [0, 1, 7, 8, 9, 16, 100, 936] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            round_trip(Bytes::<936>::try_from(&bytes[..]).unwrap());
        }
        round_trip(Text::<32>::try_from("héllo, wörld").unwrap());
        round_trip(Text::<0>::new());
    }

    #[test]
    fn inline_text_and_bytes_refuse_what_does_not_fit() {
        let mut e = Encoder::new();
        "abcdef".encode(&mut e).unwrap();
        assert_eq!(
            Text::<5>::decode(&mut Decoder::new(e.words())),
            Err(WireError::Malformed)
        );
        assert_eq!(
            Text::<6>::decode(&mut Decoder::new(e.words())).unwrap(),
            "abcdef"
        );
        assert_eq!(
            Bytes::<5>::decode(&mut Decoder::new(e.words())),
            Err(WireError::Malformed)
        );
        assert_eq!(
            &*Bytes::<6>::decode(&mut Decoder::new(e.words())).unwrap(),
            b"abcdef"
        );
        let mut t = Text::<3>::new();
        assert!(fmt::Write::write_str(&mut t, "abcd").is_err());
        assert_eq!(t, "", "a failed write changes nothing");
        assert_eq!(
            format!("{t:?} {}", Text::<3>::try_from("ab").unwrap()),
            "\"\" ab"
        );
    }

    #[test]
    fn bytes_are_packed_little_endian_after_their_length() {
        let mut e = Encoder::new();
        e.push_bytes(b"abcdefghij").unwrap();
        assert_eq!(
            e.words(),
            &[
                10,
                u64::from_le_bytes(*b"abcdefgh"),
                u64::from_le_bytes(*b"ij\0\0\0\0\0\0")
            ]
        );
        let mut d = Decoder::new(e.words());
        assert_eq!(d.bytes().unwrap(), b"abcdefghij");
    }

    #[test]
    fn integers_and_bools_are_one_word_each() {
        let mut e = Encoder::new();
        (-2i32).encode(&mut e).unwrap();
        7u8.encode(&mut e).unwrap();
        true.encode(&mut e).unwrap();
        assert_eq!(e.words(), &[(-2i64) as u64, 7, 1]);
    }

    #[test]
    fn out_of_range_words_are_malformed() {
        fn bad(w: &[u64]) -> Decoder<'_> {
            Decoder::new(w)
        }
        assert_eq!(u8::decode(&mut bad(&[256])), Err(WireError::Malformed));
        assert_eq!(u32::decode(&mut bad(&[1 << 32])), Err(WireError::Malformed));
        assert_eq!(i32::decode(&mut bad(&[1 << 40])), Err(WireError::Malformed));
        assert_eq!(bool::decode(&mut bad(&[2])), Err(WireError::Malformed));
        assert_eq!(
            Option::<u64>::decode(&mut bad(&[2, 0])),
            Err(WireError::Malformed)
        );
        assert_eq!(u64::decode(&mut bad(&[])), Err(WireError::Malformed));
        // A length past the words, or absurdly large.
        assert_eq!(
            <&[u8]>::decode(&mut bad(&[9, 0])),
            Err(WireError::Malformed)
        );
        assert_eq!(
            <&[u8]>::decode(&mut bad(&[u64::MAX, 0])),
            Err(WireError::Malformed)
        );
        // Not UTF-8.
        assert_eq!(
            <&str>::decode(&mut bad(&[1, 0xff])),
            Err(WireError::Malformed)
        );
    }

    #[test]
    fn messages_longer_than_120_words_are_refused() {
        let mut e = Encoder::new();
        assert_eq!(e.push_bytes(&[0; 119 * 8 + 1]), Err(WireError::TooLong));
        assert!(e.words().is_empty(), "nothing written on failure");
        e.push_bytes(&[0; 119 * 8]).unwrap();
        assert_eq!(e.words().len(), 120);
        assert_eq!(e.push(0), Err(WireError::TooLong));
    }

    #[test]
    fn reply_labels_carry_status_and_generation() {
        assert_eq!(reply_label(Status::Ok, 1), 1 << 8);
        assert_eq!(
            split_reply_label(reply_label(Status::BadReply, 77)),
            (4, 77)
        );
        let max = (1 << GENERATION_BITS) - 1;
        assert_eq!(split_reply_label(reply_label(Status::Ok, max)), (0, max));
        // Generations wrap at 44 bits rather than spill out of the label.
        assert_eq!(reply_label(Status::Ok, 1 << GENERATION_BITS), 0);
        assert!(reply_label(Status::Remote, u64::MAX) < 1 << 52);
        for s in 0..=4 {
            assert_eq!(Status::from_raw(s).unwrap() as u8, s);
        }
    }

    #[test]
    fn the_stub_and_the_dispatcher_agree() {
        let l = local();
        let g = GreeterClient::new(&l);
        assert_eq!(g.hello("world").unwrap(), "Hello, world!");
        assert_eq!(g.add(40, 2), Ok(42));
        assert_eq!(g.add(u64::MAX, 1), Err(RpcError::Remote(1)));
        assert_eq!(g.ping(), Ok(()));
        assert_eq!(
            g.mixed(
                true,
                -5,
                Some(9),
                b"xy",
                Bytes::try_from(&[1u8, 2][..]).unwrap(),
                3
            )
            .unwrap()
            .as_deref(),
            Some("true -5 Some(9) [120, 121] [1, 2] 3")
        );
        assert_eq!(g.generation(), 1);
        assert_eq!(l.state().calls, 4);
        l.set_badge(0x42);
        assert_eq!(g.whoami(), Ok(0x42));
    }

    #[test]
    fn requests_are_label_plus_words_and_replies_carry_the_generation() {
        let l = local();
        let mut words = Encoder::from_words(&[40, 2]).unwrap();
        let label = l.call(2, &mut words).unwrap();
        assert_eq!(split_reply_label(label), (Status::Ok as u8, 1));
        assert_eq!(words.words(), &[42]);
        let mut words = Encoder::from_words(&[u64::MAX, 1]).unwrap();
        let label = l.call(2, &mut words).unwrap();
        assert_eq!(split_reply_label(label), (Status::Remote as u8, 1));
        assert_eq!(words.words(), &[1]);
        // Fits in registers: the kernel's fast path.
        assert!(words.words().len() <= basalt_abi::REGISTER_WORDS);
    }

    #[test]
    fn unknown_methods_and_bad_arguments_are_reported() {
        let l = local();
        let mut words = Encoder::from_words(&[1, 2]).unwrap();
        let label = l.call(99, &mut words).unwrap();
        assert_eq!(split_reply_label(label).0, Status::UnknownMethod as u8);
        assert!(words.words().is_empty());
        // `add` with one argument.
        let mut words = Encoder::from_words(&[1]).unwrap();
        let label = l.call(2, &mut words).unwrap();
        assert_eq!(split_reply_label(label).0, Status::BadRequest as u8);
        assert!(words.words().is_empty());
        // The client maps them.
        let core = ClientCore::new(&l);
        assert_eq!(
            core.call(99, &mut Encoder::new()).unwrap_err(),
            RpcError::Unsupported { method: 99 }
        );
        assert_eq!(
            core.call(2, &mut Encoder::new()).unwrap_err(),
            RpcError::BadMessage
        );
    }

    #[test]
    fn a_result_too_long_for_a_message_is_a_bad_reply() {
        let l = local();
        let g = GreeterClient::new(&l);
        assert_eq!(g.huge(), Err(RpcError::BadMessage));
        let mut words = Encoder::new();
        let label = l.call(6, &mut words).unwrap();
        assert_eq!(split_reply_label(label).0, Status::BadReply as u8);
        assert!(words.words().is_empty());
    }

    #[test]
    fn arguments_too_long_fail_before_sending() {
        let l = local();
        let g = GreeterClient::new(&l);
        let long = "x".repeat(1000);
        assert_eq!(g.hello(&long), Err(RpcError::TooLong));
        assert_eq!(l.state().calls, 0);
    }

    #[test]
    fn a_restart_is_reported_once_then_calls_succeed() {
        let l = local();
        let g = GreeterClient::new(&l);
        assert_eq!(g.ping(), Ok(()));
        l.crash();
        assert_eq!(g.ping(), Err(RpcError::Unavailable));
        assert_eq!(g.generation(), 1);
        l.restart(Server::default());
        assert_eq!(g.add(1, 2), Err(RpcError::Restarted { generation: 2 }));
        // The new instance carried the call out.
        assert_eq!(l.state().calls, 1);
        assert_eq!(g.generation(), 2);
        assert_eq!(g.add(1, 2), Ok(3));
        // Even a failing call reports the restart first.
        l.restart(Server::default());
        assert_eq!(
            g.add(u64::MAX, 1),
            Err(RpcError::Restarted { generation: 3 })
        );
        assert_eq!(g.add(u64::MAX, 1), Err(RpcError::Remote(1)));
    }

    #[test]
    fn a_first_reply_or_generation_zero_is_not_a_restart() {
        let l = local();
        l.restart(Server::default());
        l.restart(Server::default());
        let g = GreeterClient::new(&l);
        assert_eq!(g.ping(), Ok(()), "a new client learns generation 3");
        assert_eq!(g.generation(), 3);
        // A server without generations (0) does not disturb the count.
        let core = ClientCore::new(&l);
        let none = Encoder::new();
        assert!(core.interpret(1, reply_label(Status::Ok, 0), &none).is_ok());
        assert_eq!(core.generation(), 0);
        assert!(core.interpret(1, reply_label(Status::Ok, 4), &none).is_ok());
        assert!(core.interpret(1, reply_label(Status::Ok, 0), &none).is_ok());
        assert_eq!(core.generation(), 4);
    }

    #[test]
    fn unknown_statuses_are_bad_messages() {
        let l = local();
        let core = ClientCore::new(&l);
        let odd = reply_label(Status::Ok, 1) | 0x7f;
        assert_eq!(
            core.interpret(1, odd, &Encoder::new()).unwrap_err(),
            RpcError::BadMessage
        );
    }

    #[test]
    fn kernel_errors_map_to_unavailable_or_kernel() {
        assert_eq!(RpcError::from(Error::Aborted), RpcError::Unavailable);
        assert_eq!(
            RpcError::from(Error::InvalidCapability),
            RpcError::Kernel(Error::InvalidCapability)
        );
        assert_eq!(
            RpcError::Kernel(Error::InvalidCapability).to_string(),
            "the kernel refused the call: InvalidCapability"
        );
    }

    #[test]
    #[should_panic(expected = "outside the Basalt kernel")]
    fn an_endpoint_client_makes_a_system_call() {
        let g = GreeterClient::from(Endpoint::from_raw(200));
        let _ = g.ping();
    }

    #[test]
    fn method_id_checks_accept_good_sets() {
        check_method_ids(&[1, 2, MAX_METHOD]);
        check_method_ids(&[]);
    }

    #[test]
    #[should_panic(expected = "share an id")]
    fn duplicate_method_ids_are_refused() {
        check_method_ids(&[1, 2, 1]);
    }

    #[test]
    #[should_panic(expected = "1 ..= 2^32 - 1")]
    fn method_id_zero_is_refused() {
        check_method_ids(&[0]);
    }
}
