//! The request encoding: one command as a RESP array of bulk strings,
//! `*<n>\r\n` then, per argument, `$<len>\r\n<bytes>\r\n` — what a Redis
//! client sends, so the RESP front end can pass a command on unchanged.
//!
//! ```
//! let mut wire = Vec::new();
//! kvs_api::proto::encode_command(&[b"GET", b"k"], &mut wire);
//! assert_eq!(wire, b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
//! assert_eq!(kvs_api::proto::parse_command(&wire), Some(vec![&b"GET"[..], b"k"]));
//! ```

use alloc::vec::Vec;
use kvs_core::num::push_u64;

/// Appends the encoding of the command `args` to `out`.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    push_u64(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        push_u64(out, arg.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// How many bytes [`encode_command`] writes for `args`.
///
/// ```
/// assert_eq!(kvs_api::proto::encoded_len(&[b"GET", b"k"]), 20);
/// ```
pub fn encoded_len(args: &[&[u8]]) -> usize {
    let header = 3 + decimal_len(args.len());
    args.iter()
        .map(|a| 5 + decimal_len(a.len()) + a.len())
        .sum::<usize>()
        + header
}

/// The arguments of a request: the whole of `bytes` must be one RESP array
/// of at least one bulk string (no nil elements, no trailing bytes);
/// `None` otherwise.
///
/// ```
/// use kvs_api::proto::parse_command;
/// assert_eq!(parse_command(b"*1\r\n$4\r\nPING\r\n"), Some(vec![&b"PING"[..]]));
/// assert_eq!(parse_command(b"*0\r\n"), None);
/// assert_eq!(parse_command(b"*1\r\n$4\r\nPING\r\nx"), None);
/// ```
pub fn parse_command(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let (args, used) = parse_prefix(bytes)?;
    (used == bytes.len()).then_some(args)
}

/// The first command of `bytes` (one RESP array of at least one bulk
/// string) and the bytes it takes; `None` if `bytes` does not start with
/// a whole one.
///
/// ```
/// use kvs_api::proto::parse_prefix;
/// let two = b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
/// assert_eq!(parse_prefix(two), Some((vec![&b"PING"[..]], 14)));
/// assert_eq!(parse_prefix(&two[14..]), Some((vec![&b"GET"[..], b"k"], 20)));
/// assert_eq!(parse_prefix(&two[..13]), None);
/// ```
pub fn parse_prefix(bytes: &[u8]) -> Option<(Vec<&[u8]>, usize)> {
    let mut args = Vec::new();
    let used = walk(bytes, |a| args.push(a))?;
    Some((args, used))
}

/// Goes through the command at the start of `bytes`, handing each
/// argument to `arg`; the bytes the command takes.
fn walk<'a>(bytes: &'a [u8], mut arg: impl FnMut(&'a [u8])) -> Option<usize> {
    let mut rest = bytes.strip_prefix(b"*")?;
    let count = take_decimal(&mut rest)?;
    // Each argument takes at least 6 bytes.
    if count == 0 || count > rest.len() / 6 {
        return None;
    }
    for _ in 0..count {
        rest = rest.strip_prefix(b"$")?;
        let len = take_decimal(&mut rest)?;
        if rest.len() < len.checked_add(2)? || &rest[len..len + 2] != b"\r\n" {
            return None;
        }
        arg(&rest[..len]);
        rest = &rest[len + 2..];
    }
    Some(bytes.len() - rest.len())
}

/// How many commands `bytes` holds, if it is nothing but whole commands
/// (at least one, at most [`MAX_BATCH`]); what [`Kvs::exec_batch_in`]
/// checks before it runs any.
///
/// [`Kvs::exec_batch_in`]: crate::Kvs::exec_batch_in
///
/// ```
/// use kvs_api::proto::count_commands;
/// assert_eq!(count_commands(b"*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"), Some(2));
/// assert_eq!(count_commands(b"*1\r\n$4\r\nPING\r\n*1"), None);
/// assert_eq!(count_commands(b""), None);
/// ```
pub fn count_commands(mut bytes: &[u8]) -> Option<usize> {
    let mut count = 0;
    while !bytes.is_empty() {
        bytes = &bytes[walk(bytes, |_| {})?..];
        count += 1;
        if count > MAX_BATCH {
            return None;
        }
    }
    (count > 0).then_some(count)
}

/// The most commands one batch may hold.
pub const MAX_BATCH: usize = 4096;

/// Appends one entry of a round ([`Kvs::exec_round`]) to `out`: the
/// session's number (8 bytes, little-endian), then the command's
/// encoding.
///
/// [`Kvs::exec_round`]: crate::Kvs::exec_round
///
/// ```
/// let mut round = Vec::new();
/// kvs_api::proto::push_round_entry(7, b"*1\r\n$4\r\nPING\r\n", &mut round);
/// let round = kvs_api::proto::parse_round(&round).unwrap();
/// let entry = round.entries().next().unwrap();
/// assert_eq!((entry.session, entry.end), (7, 8 + 14));
/// assert_eq!(entry.args, [&b"PING"[..]]);
/// ```
pub fn push_round_entry(session: u64, encoded: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&session.to_le_bytes());
    out.extend_from_slice(encoded);
}

/// One entry of a round, as [`parse_round`] finds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RoundEntry<'r, 'a> {
    /// The session it runs in.
    pub session: u64,
    /// The command's arguments, its name first.
    pub args: &'r [&'a [u8]],
    /// The offset just past it in the round.
    pub end: usize,
}

/// A round's entries: every entry's arguments in one vector, so that a
/// round of many commands allocates twice, not once per command.
#[derive(Clone, Debug, Default)]
pub struct Round<'a> {
    args: Vec<&'a [u8]>,
    /// Per entry: its session, where its arguments end in `args`, and
    /// the offset just past it in the round.
    entries: Vec<(u64, usize, usize)>,
}

impl<'a> Round<'a> {
    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Its entries, in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = RoundEntry<'_, 'a>> {
        let mut from = 0;
        self.entries.iter().map(move |&(session, to, end)| {
            let args = &self.args[from..to];
            from = to;
            RoundEntry { session, args, end }
        })
    }
}

/// The entries of a round. `None` unless `bytes` is nothing but whole
/// entries, at most [`MAX_BATCH`] of them; no entries is a round.
///
/// ```
/// use kvs_api::proto::{parse_round, push_round_entry};
/// let mut bytes = Vec::new();
/// push_round_entry(1, b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n", &mut bytes);
/// push_round_entry(9, b"*1\r\n$4\r\nPING\r\n", &mut bytes);
/// push_round_entry(1, b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$0\r\n\r\n", &mut bytes);
/// let round = parse_round(&bytes).unwrap();
/// let entries: Vec<_> = round.entries().map(|e| (e.session, e.args.to_vec(), e.end)).collect();
/// assert_eq!(entries, [
///     (1, vec![&b"GET"[..], b"a"], 28),
///     (9, vec![&b"PING"[..]], 50),
///     (1, vec![&b"SET"[..], b"a", b""], 84),
/// ]);
/// assert!(parse_round(&bytes[..83]).is_none(), "a cut entry");
/// assert!(parse_round(&[]).unwrap().is_empty());
/// ```
pub fn parse_round(bytes: &[u8]) -> Option<Round<'_>> {
    let mut round = Round::default();
    let mut pos = 0;
    while pos < bytes.len() {
        if round.entries.len() == MAX_BATCH {
            return None;
        }
        let session = u64::from_le_bytes(bytes.get(pos..pos + 8)?.try_into().ok()?);
        let args = &mut round.args;
        pos += 8 + walk(&bytes[pos + 8..], |a| args.push(a))?;
        round.entries.push((session, round.args.len(), pos));
    }
    Some(round)
}

/// What a round answers for a command that blocked its session (a
/// `BLPOP` of lists that hold nothing): no RESP2 or RESP3 reply starts
/// with `&`.
/// The command's reply comes later, in the client's mail
/// ([`Kvs::mail`](crate::Kvs::mail)); the session runs nothing until then.
pub const BLOCKED: &[u8] = b"&\r\n";

/// The length of the reply at the start of a round's answer `bytes`: a
/// RESP2 reply ([`reply_len`]) or [`BLOCKED`].
///
/// ```
/// use kvs_api::proto::{BLOCKED, round_reply_len};
/// assert_eq!(round_reply_len(b"&\r\n:1\r\n"), Some(BLOCKED.len()));
/// assert_eq!(round_reply_len(b":1\r\n&\r\n"), Some(4));
/// ```
pub fn round_reply_len(bytes: &[u8]) -> Option<usize> {
    if bytes.starts_with(BLOCKED) {
        Some(BLOCKED.len())
    } else {
        reply_len(bytes)
    }
}

/// One letter of a client's mail ([`Kvs::mail`](crate::Kvs::mail)).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Letter<'a> {
    /// The RESP2 reply session `session`'s blocked command got.
    Reply {
        /// The session.
        session: u64,
        /// The reply.
        reply: &'a [u8],
    },
    /// A keyspace event to publish, as PUBLISH would
    /// ([`Kvs::events`](crate::Kvs::events)).
    Publish {
        /// The channel (`__keyspace@0__:k`, `__keyevent@0__:set`).
        channel: &'a [u8],
        /// The message.
        message: &'a [u8],
    },
    /// Keys session `session` tracks changed ([`Kvs::track`](crate::Kvs::track)).
    Invalidate {
        /// The tracking session.
        session: u64,
        /// The keys, as [`push_parts`] writes them ([`parts`] reads
        /// them); `None`: everything (a flush).
        keys: Option<&'a [u8]>,
    },
}

/// A letter's first byte: what follows.
const REPLY_LETTER: u8 = 0;
const PUBLISH_LETTER: u8 = 1;
const INVALIDATE_LETTER: u8 = 2;

/// Appends `items` to `out`, each as its length (4 bytes, little-endian)
/// and its bytes: how a letter or a call carries a list of strings.
///
/// ```
/// use kvs_api::proto::{parts, push_parts};
/// let mut out = Vec::new();
/// push_parts(&[b"user:", b""], &mut out);
/// assert_eq!(parts(&out), Some(vec![&b"user:"[..], b""]));
/// assert_eq!(parts(&out[..6]), None);
/// ```
pub fn push_parts(items: &[&[u8]], out: &mut Vec<u8>) {
    for item in items {
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
}

/// The strings [`push_parts`] wrote, if `bytes` is nothing but them.
pub fn parts(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (part, len) = part(&bytes[at..])?;
        out.push(part);
        at += len;
    }
    Some(out)
}

/// The string [`push_parts`] wrote at the start of `bytes`, and the
/// bytes it takes.
fn part(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    Some((bytes.get(4..len.checked_add(4)?)?, len + 4))
}

impl Letter<'_> {
    /// Appends the letter to `out`: [`Letter::Reply`] as a byte 0, the
    /// session (8 bytes, little-endian) and the reply;
    /// [`Letter::Publish`] as a byte 1, then the channel and the message
    /// as [`push_parts`] writes them; [`Letter::Invalidate`] as a byte 2,
    /// the session, then the keys' length (4 bytes, little-endian; all
    /// ones: everything) and the keys.
    ///
    /// ```
    /// use kvs_api::proto::{Letter, parse_mail};
    /// let mut mail = Vec::new();
    /// Letter::Reply { session: 3, reply: b"$-1\r\n" }.push(&mut mail);
    /// Letter::Publish { channel: b"__keyevent@0__:set", message: b"k" }.push(&mut mail);
    /// let letters = parse_mail(&mail).unwrap();
    /// assert_eq!(letters[0], Letter::Reply { session: 3, reply: b"$-1\r\n" });
    /// assert_eq!(letters[1], Letter::Publish { channel: b"__keyevent@0__:set", message: b"k" });
    /// ```
    pub fn push(&self, out: &mut Vec<u8>) {
        match *self {
            Letter::Reply { session, reply } => {
                out.push(REPLY_LETTER);
                out.extend_from_slice(&session.to_le_bytes());
                out.extend_from_slice(reply);
            }
            Letter::Publish { channel, message } => {
                out.push(PUBLISH_LETTER);
                push_parts(&[channel, message], out);
            }
            Letter::Invalidate { session, keys } => {
                out.push(INVALIDATE_LETTER);
                out.extend_from_slice(&session.to_le_bytes());
                match keys {
                    Some(keys) => push_parts(&[keys], out),
                    None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
                }
            }
        }
    }
}

/// The letter at the start of `bytes`, and its length; `None` unless a
/// whole one is there.
pub fn letter(bytes: &[u8]) -> Option<(Letter<'_>, usize)> {
    match *bytes.first()? {
        REPLY_LETTER => {
            let session = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
            let len = reply_len(bytes.get(9..)?)?;
            let reply = &bytes[9..9 + len];
            Some((Letter::Reply { session, reply }, 9 + len))
        }
        PUBLISH_LETTER => {
            let (channel, first) = part(bytes.get(1..)?)?;
            let (message, second) = part(bytes.get(1 + first..)?)?;
            Some((Letter::Publish { channel, message }, 1 + first + second))
        }
        INVALIDATE_LETTER => {
            let session = u64::from_le_bytes(bytes.get(1..9)?.try_into().ok()?);
            if bytes.get(9..13)? == u32::MAX.to_le_bytes() {
                return Some((
                    Letter::Invalidate {
                        session,
                        keys: None,
                    },
                    13,
                ));
            }
            let (keys, len) = part(bytes.get(9..)?)?;
            parts(keys)?;
            let keys = Some(keys);
            Some((Letter::Invalidate { session, keys }, 9 + len))
        }
        _ => None,
    }
}

/// The letters of a client's mail; `None` unless `bytes` is nothing but
/// whole letters.
pub fn parse_mail(bytes: &[u8]) -> Option<Vec<Letter<'_>>> {
    let mut letters = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let (l, len) = letter(&bytes[pos..])?;
        letters.push(l);
        pos += len;
    }
    Some(letters)
}

/// The length of the RESP2 or RESP3 reply at the start of `bytes` (a
/// simple string, error, integer, bulk string, array of them, nil
/// included, or RESP3's null, double, boolean, big number, verbatim
/// string, map, set or push); `None` if `bytes` does not start with a
/// whole one. A client splits the replies of a batch or a round with it.
///
/// ```
/// use kvs_api::proto::reply_len;
/// assert_eq!(reply_len(b"+OK\r\n:1\r\n"), Some(5));
/// assert_eq!(reply_len(b"*2\r\n$1\r\na\r\n$-1\r\n"), Some(16));
/// assert_eq!(reply_len(b"%1\r\n$1\r\nk\r\n,1.5\r\n_\r\n"), Some(17));
/// assert_eq!(reply_len(b"$3\r\nab"), None);
/// ```
pub fn reply_len(bytes: &[u8]) -> Option<usize> {
    let mut pos = 0;
    // Replies still to walk: an array adds its elements.
    let mut pending: usize = 1;
    while pending > 0 {
        pending -= 1;
        let kind = *bytes.get(pos)?;
        let line = bytes.get(pos + 1..)?;
        let end = line.windows(2).position(|w| w == b"\r\n")?;
        let header = &line[..end];
        pos += 1 + end + 2;
        match kind {
            b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => {}
            b'$' | b'*' if header == b"-1" => {}
            b'$' | b'=' | b'!' => {
                let data_end = pos.checked_add(decimal(header)?)?;
                if bytes.get(data_end..data_end + 2)? != b"\r\n" {
                    return None;
                }
                pos = data_end + 2;
            }
            b'*' | b'~' | b'>' => pending = pending.checked_add(decimal(header)?)?,
            b'%' => pending = pending.checked_add(decimal(header)?.checked_mul(2)?)?,
            _ => return None,
        }
    }
    Some(pos)
}

/// The number that is all of `digits` (1 to 19 of them).
fn decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        n.checked_mul(10)?.checked_add(usize::from(d - b'0'))
    })
}

/// Reads a decimal number (1 to 19 digits) and the `\r\n` after it.
fn take_decimal(rest: &mut &[u8]) -> Option<usize> {
    let end = rest.iter().position(|&b| b == b'\r')?;
    let n = decimal(&rest[..end])?;
    if rest.get(end + 1) != Some(&b'\n') {
        return None;
    }
    *rest = &rest[end + 2..];
    Some(n)
}

fn decimal_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 10 {
        n /= 10;
        len += 1;
    }
    len
}
