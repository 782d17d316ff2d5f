//! The request parser: RESP2 multibulk arrays and inline commands, taken
//! in pieces of any size.
//!
//! The parser keeps its progress through a command between pieces (the
//! arguments read so far, where the next header starts, how far a line
//! was searched for its end), so a command that trickles in byte by byte
//! costs no more than one that arrives whole. Positions are relative to
//! the command's first byte, so the caller may move the unread bytes to
//! the front of its buffer between pieces.
//!
//! The framing follows Redis 7's `processMultibulkBuffer` and
//! `processInlineBuffer` (compared against `redis-server` 7.0.15): header
//! lines end at the first CR and the byte after it is skipped unchecked,
//! as are the two bytes after a bulk string's data; counts are Redis's
//! integer syntax (no sign but `-`, no leading zeros).

use alloc::vec::Vec;
use kvs_core::num::parse_i64;

/// The longest inline command line, and the longest multibulk header
/// line, Redis accepts (`PROTO_INLINE_MAX_SIZE`, 64 KiB).
pub const INLINE_MAX: usize = 64 * 1024;

/// The most elements a multibulk array may announce (Redis's `INT_MAX`).
const MULTIBULK_MAX: i64 = i32::MAX as i64;

/// A protocol error: the reply is `-ERR Protocol error: <what>` and the
/// connection closes after it, as in Redis.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ProtocolError {
    /// `*<n>` where `n` is not an integer or exceeds 2^31 − 1.
    InvalidMultibulkLength,
    /// `$<n>` where `n` is not an integer, is negative or exceeds
    /// `proto-max-bulk-len`.
    InvalidBulkLength,
    /// An element of a multibulk array that is not a bulk string (the
    /// byte found instead of `$`).
    ExpectedDollar(u8),
    /// An inline command with an unterminated quote, or a closing quote
    /// not followed by a space.
    UnbalancedQuotes,
    /// An inline command line longer than [`INLINE_MAX`].
    TooBigInline,
    /// A `*<n>` line longer than [`INLINE_MAX`].
    TooBigMultibulkCount,
    /// A `$<n>` line longer than [`INLINE_MAX`].
    TooBigBulkCount,
}

impl ProtocolError {
    /// Appends the error reply, `-ERR Protocol error: …\r\n`.
    pub fn write(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"-ERR Protocol error: ");
        match self {
            Self::InvalidMultibulkLength => out.extend_from_slice(b"invalid multibulk length"),
            Self::InvalidBulkLength => out.extend_from_slice(b"invalid bulk length"),
            Self::ExpectedDollar(got) => {
                out.extend_from_slice(b"expected '$', got '");
                // Redis keeps error replies on one line.
                out.push(if got == b'\r' || got == b'\n' {
                    b' '
                } else {
                    got
                });
                out.push(b'\'');
            }
            Self::UnbalancedQuotes => out.extend_from_slice(b"unbalanced quotes in request"),
            Self::TooBigInline => out.extend_from_slice(b"too big inline request"),
            Self::TooBigMultibulkCount => out.extend_from_slice(b"too big mbulk count string"),
            Self::TooBigBulkCount => out.extend_from_slice(b"too big bulk count string"),
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// Where one argument lies: `len` bytes from `start`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Span {
    /// The offset of its first byte.
    pub start: usize,
    /// Its length.
    pub len: usize,
}

impl Span {
    /// The bytes of `data` it covers.
    pub(crate) fn of<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.start + self.len]
    }
}

/// What the next bytes are.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Step {
    /// A multibulk command of `len` bytes; [`Parser::spans`] locate its
    /// arguments from the command's first byte. `canonical`: its framing
    /// is exactly `*<n>\r\n` and `$<len>\r\n<bytes>\r\n` (the bytes Redis
    /// skips unchecked were CR LF), so it can be passed on as it is.
    Multibulk { len: usize, canonical: bool },
    /// An inline command of `len` bytes (its newline included); the
    /// unquoted arguments are in [`Parser::inline`], located by
    /// [`Parser::spans`].
    Inline { len: usize },
    /// `len` bytes that hold no command (`*0`, `*-1`, a blank line).
    Empty { len: usize },
    /// The command is not complete yet.
    Incomplete,
    /// The bytes break the protocol.
    Error(ProtocolError),
}

/// Progress through the command at the front of the input.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Nothing read of it yet.
    Idle,
    /// A multibulk array: `remaining` elements to go (`None` while its
    /// `*<n>` line is incomplete), the next header or data at `cursor`,
    /// the length of the bulk string whose header was read, and no CR in
    /// the bytes before `scanned`.
    Multibulk {
        remaining: Option<usize>,
        cursor: usize,
        bulk: Option<usize>,
        scanned: usize,
    },
    /// An inline command: no LF in its first `scanned` bytes.
    Inline { scanned: usize },
}

/// The incremental parser of one connection.
#[derive(Debug)]
pub(crate) struct Parser {
    state: State,
    canonical: bool,
    /// The arguments of the command in progress.
    pub(crate) spans: Vec<Span>,
    /// The unquoted arguments of an inline command.
    pub(crate) inline: Vec<u8>,
}

impl Parser {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Idle,
            canonical: true,
            spans: Vec::new(),
            inline: Vec::new(),
        }
    }

    /// Bytes of bookkeeping held for the command in progress (what counts
    /// toward the query buffer limit besides the bytes themselves).
    pub(crate) fn held(&self) -> usize {
        self.spans.len() * core::mem::size_of::<Span>()
    }

    /// Parses the command that starts at `data[0]`, continuing from what
    /// earlier calls read of it (`data` must start with the same bytes, and
    /// may have grown). After anything but [`Step::Incomplete`] the parser
    /// is ready for the next command.
    pub(crate) fn step(&mut self, data: &[u8], max_bulk: u64) -> Step {
        let step = match self.state {
            State::Idle => match data.first() {
                None => Step::Incomplete,
                Some(b'*') => {
                    self.canonical = true;
                    self.state = State::Multibulk {
                        remaining: None,
                        cursor: 0,
                        bulk: None,
                        scanned: 1,
                    };
                    self.multibulk(data, max_bulk)
                }
                Some(_) => {
                    self.state = State::Inline { scanned: 0 };
                    self.inline(data)
                }
            },
            State::Multibulk { .. } => self.multibulk(data, max_bulk),
            State::Inline { .. } => self.inline(data),
        };
        if step != Step::Incomplete {
            self.state = State::Idle;
        }
        step
    }

    /// Forgets the arguments of the command just run.
    pub(crate) fn clear(&mut self) {
        self.spans.clear();
        self.inline.clear();
    }

    /// Continues a multibulk array.
    fn multibulk(&mut self, data: &[u8], max_bulk: u64) -> Step {
        let State::Multibulk {
            mut remaining,
            mut cursor,
            mut bulk,
            mut scanned,
        } = self.state
        else {
            return Step::Incomplete;
        };
        let step = loop {
            let count = match remaining {
                Some(0) => {
                    break Step::Multibulk {
                        len: cursor,
                        canonical: self.canonical,
                    };
                }
                Some(n) => n,
                None => {
                    let (digits, next) = match header(data, cursor, &mut scanned) {
                        Ok(found) => found,
                        Err(Incomplete) => break Step::Incomplete,
                        Err(TooLong) => break Step::Error(ProtocolError::TooBigMultibulkCount),
                    };
                    self.canonical &= data[next - 1] == b'\n';
                    cursor = next;
                    match parse_i64(&digits[1..]) {
                        Some(n) if n > MULTIBULK_MAX => {
                            break Step::Error(ProtocolError::InvalidMultibulkLength);
                        }
                        // Redis reads `*0` and `*-1` as no command at all.
                        Some(n) if n <= 0 => break Step::Empty { len: cursor },
                        Some(n) => {
                            remaining = Some(n as usize);
                            continue;
                        }
                        None => break Step::Error(ProtocolError::InvalidMultibulkLength),
                    }
                }
            };
            let len = match bulk {
                Some(len) => len,
                None => {
                    let (line, next) = match header(data, cursor, &mut scanned) {
                        Ok(found) => found,
                        Err(Incomplete) => break Step::Incomplete,
                        Err(TooLong) => break Step::Error(ProtocolError::TooBigBulkCount),
                    };
                    // The line may be empty (a CR right away): the byte
                    // Redis looks at is then that CR.
                    if data[cursor] != b'$' {
                        break Step::Error(ProtocolError::ExpectedDollar(data[cursor]));
                    }
                    let len = match parse_i64(&line[1..]) {
                        Some(n) if n >= 0 && n as u64 <= max_bulk => n as usize,
                        _ => break Step::Error(ProtocolError::InvalidBulkLength),
                    };
                    self.canonical &= data[next - 1] == b'\n';
                    cursor = next;
                    bulk = Some(len);
                    len
                }
            };
            if data.len() - cursor < len + 2 {
                break Step::Incomplete;
            }
            self.spans.push(Span { start: cursor, len });
            self.canonical &= &data[cursor + len..cursor + len + 2] == b"\r\n";
            cursor += len + 2;
            scanned = cursor;
            bulk = None;
            remaining = Some(count - 1);
        };
        self.state = State::Multibulk {
            remaining,
            cursor,
            bulk,
            scanned,
        };
        step
    }

    /// Continues an inline command.
    fn inline(&mut self, data: &[u8]) -> Step {
        let State::Inline { scanned } = self.state else {
            return Step::Incomplete;
        };
        let Some(lf) = memchr(b'\n', &data[scanned..]).map(|i| scanned + i) else {
            if data.len() > INLINE_MAX {
                return Step::Error(ProtocolError::TooBigInline);
            }
            self.state = State::Inline {
                scanned: data.len(),
            };
            return Step::Incomplete;
        };
        // Redis refuses a line this long when its newline has not arrived
        // within the limit; refusing it whatever the arrival makes the
        // outcome independent of how the bytes were split.
        if lf > INLINE_MAX {
            return Step::Error(ProtocolError::TooBigInline);
        }
        let line = match data[..lf].strip_suffix(b"\r") {
            Some(line) => line,
            None => &data[..lf],
        };
        if split_inline(line, &mut self.inline, &mut self.spans).is_err() {
            return Step::Error(ProtocolError::UnbalancedQuotes);
        }
        if self.spans.is_empty() {
            Step::Empty { len: lf + 1 }
        } else {
            Step::Inline { len: lf + 1 }
        }
    }
}

/// Why a header line is not there.
enum HeaderError {
    Incomplete,
    TooLong,
}
use HeaderError::{Incomplete, TooLong};

/// The header line starting at `data[at]` (up to, not including, its CR)
/// and where the next one starts (two bytes past the CR). `scanned`: no CR
/// before it; updated so that a later call searches only new bytes.
fn header<'a>(
    data: &'a [u8],
    at: usize,
    scanned: &mut usize,
) -> Result<(&'a [u8], usize), HeaderError> {
    let from = (*scanned).max(at);
    let Some(cr) = memchr(b'\r', &data[from..]).map(|i| from + i) else {
        *scanned = data.len();
        return Err(if data.len() - at > INLINE_MAX {
            TooLong
        } else {
            Incomplete
        });
    };
    *scanned = cr;
    if cr - at > INLINE_MAX {
        return Err(TooLong);
    }
    if cr + 2 > data.len() {
        return Err(Incomplete);
    }
    Ok((&data[at..cr], cr + 2))
}

/// The first `needle` in `haystack`.
fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// The white space that separates inline arguments (C's `isspace`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits an inline command line into arguments the way Redis's
/// `sdssplitargs` does: white space separates them; `"…"` holds spaces
/// and the escapes `\xHH`, `\n`, `\r`, `\t`, `\b`, `\a` and `\<c>`;
/// `'…'` holds everything literally but `\'`; a closing quote must be
/// followed by white space or the end. A NUL byte is an ordinary byte.
/// The unquoted bytes go to `out`, their places to `spans`. `Err` for
/// unbalanced quotes.
fn split_inline(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<Span>) -> Result<(), ()> {
    let at = |i: usize| line.get(i).copied();
    let mut i = 0;
    loop {
        while at(i).is_some_and(is_space) {
            i += 1;
        }
        if i >= line.len() {
            return Ok(());
        }
        let start = out.len();
        let (mut double, mut single) = (false, false);
        loop {
            let Some(c) = at(i) else {
                if double || single {
                    return Err(());
                }
                break;
            };
            if double {
                if c == b'\\'
                    && at(i + 1) == Some(b'x')
                    && let (Some(hi), Some(lo)) =
                        (at(i + 2).and_then(hex_value), at(i + 3).and_then(hex_value))
                {
                    out.push(hi * 16 + lo);
                    i += 4;
                    continue;
                }
                if c == b'\\'
                    && let Some(next) = at(i + 1)
                {
                    out.push(match next {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    i += 2;
                    continue;
                }
                if c == b'"' {
                    if at(i + 1).is_some_and(|n| !is_space(n)) {
                        return Err(());
                    }
                    i += 1;
                    break;
                }
                out.push(c);
            } else if single {
                if c == b'\\' && at(i + 1) == Some(b'\'') {
                    out.push(b'\'');
                    i += 2;
                    continue;
                }
                if c == b'\'' {
                    if at(i + 1).is_some_and(|n| !is_space(n)) {
                        return Err(());
                    }
                    i += 1;
                    break;
                }
                out.push(c);
            } else {
                match c {
                    // (Redis's C string would end at a NUL; here it is an
                    // ordinary byte.)
                    b' ' | b'\n' | b'\r' | b'\t' => break,
                    b'"' => double = true,
                    b'\'' => single = true,
                    _ => out.push(c),
                }
            }
            i += 1;
        }
        spans.push(Span {
            start,
            len: out.len() - start,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const MAX: u64 = 512 * 1024 * 1024;

    fn args(p: &Parser, data: &[u8], step: Step) -> Vec<Vec<u8>> {
        let base: &[u8] = match step {
            Step::Inline { .. } => &p.inline,
            _ => data,
        };
        p.spans.iter().map(|s| s.of(base).to_vec()).collect()
    }

    /// Parses `data` whole, then again fed one byte more at a time; both
    /// must agree. Returns the step and the arguments.
    fn parse(data: &[u8]) -> (Step, Vec<Vec<u8>>) {
        let mut p = Parser::new();
        let whole = p.step(data, MAX);
        let whole_args = args(&p, data, whole);
        let mut q = Parser::new();
        let mut step = Step::Incomplete;
        for end in 0..=data.len() {
            step = q.step(&data[..end], MAX);
            if step != Step::Incomplete {
                break;
            }
        }
        assert_eq!(step, whole, "byte by byte: {data:?}");
        assert_eq!(args(&q, data, step), whole_args, "byte by byte: {data:?}");
        (whole, whole_args)
    }

    #[test]
    fn multibulk() {
        let (step, a) = parse(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nrest");
        assert_eq!(
            step,
            Step::Multibulk {
                len: 20,
                canonical: true
            }
        );
        assert_eq!(a, vec![b"GET".to_vec(), b"k".to_vec()]);
        let (step, a) = parse(b"*1\r\n$0\r\n\r\n");
        assert_eq!(
            step,
            Step::Multibulk {
                len: 10,
                canonical: true
            }
        );
        assert_eq!(a, vec![Vec::new()]);
        // Binary data, CR LF included, is taken by its length.
        let (_, a) = parse(b"*1\r\n$4\r\n\r\n\r\n\r\n");
        assert_eq!(a, vec![b"\r\n\r\n".to_vec()]);
    }

    #[test]
    fn lax_framing_as_in_redis() {
        // The two bytes after data, and the one after a header's CR, are
        // skipped unchecked; the command is then not canonical.
        let (step, a) = parse(b"*1\r\n$4\r\nPINGxx");
        assert_eq!(
            step,
            Step::Multibulk {
                len: 14,
                canonical: false
            }
        );
        assert_eq!(a, vec![b"PING".to_vec()]);
        let (step, _) = parse(b"*1\rX$4\r\nPING\r\n");
        assert_eq!(
            step,
            Step::Multibulk {
                len: 14,
                canonical: false
            }
        );
    }

    #[test]
    fn empty_commands() {
        assert_eq!(parse(b"*0\r\n").0, Step::Empty { len: 4 });
        assert_eq!(parse(b"*-1\r\n").0, Step::Empty { len: 5 });
        assert_eq!(parse(b"*-2\r\n").0, Step::Empty { len: 5 });
        assert_eq!(parse(b"\r\n").0, Step::Empty { len: 2 });
        assert_eq!(parse(b"   \t\n").0, Step::Empty { len: 5 });
    }

    #[test]
    fn errors() {
        use ProtocolError::*;
        for (data, err) in [
            (&b"*x\r\n"[..], InvalidMultibulkLength),
            (b"*\r\n", InvalidMultibulkLength),
            (b"*-\r\n", InvalidMultibulkLength),
            (b"*-0\r\n", InvalidMultibulkLength),
            (b"*01\r\n", InvalidMultibulkLength),
            (b"*+1\r\n", InvalidMultibulkLength),
            (b"* 1\r\n", InvalidMultibulkLength),
            (b"*1 \r\n", InvalidMultibulkLength),
            (b"*1\n$4\r\n", InvalidMultibulkLength),
            (b"*2147483648\r\n", InvalidMultibulkLength),
            (b"*99999999999999999999\r\n", InvalidMultibulkLength),
            (b"*1\r\n$x\r\n", InvalidBulkLength),
            (b"*1\r\n$\r\n", InvalidBulkLength),
            (b"*1\r\n$-1\r\n", InvalidBulkLength),
            (b"*1\r\n$04\r\n", InvalidBulkLength),
            (b"*1\r\n$+4\r\n", InvalidBulkLength),
            (b"*1\r\n$4\nPING\r\n", InvalidBulkLength),
            (b"*1\r\n$536870913\r\n", InvalidBulkLength),
            (b"*1\r\n+x\r\n", ExpectedDollar(b'+')),
            (b"*2\r\n$3\r\nGET\r\n:1\r\n", ExpectedDollar(b':')),
            (b"*1\r\r\n$4\r\n", ExpectedDollar(b'\n')),
            (b"*1\r\n\r\n", ExpectedDollar(b'\r')),
            (b"*2\r\n$4\r\\\nECHOx\r\n$8\r\n", ExpectedDollar(b'\r')),
            (b"PING \"a\r\n", UnbalancedQuotes),
            (b"PING 'a\r\n", UnbalancedQuotes),
            (b"PING \"a\"b\r\n", UnbalancedQuotes),
            (b"PING 'a'b\r\n", UnbalancedQuotes),
        ] {
            assert_eq!(parse(data).0, Step::Error(err), "{data:?}");
        }
        // The largest announced lengths are accepted (and then awaited).
        assert_eq!(parse(b"*2147483647\r\n").0, Step::Incomplete);
        assert_eq!(parse(b"*1\r\n$536870912\r\n").0, Step::Incomplete);
        assert_eq!(parse(b"*1\r\nx").0, Step::Incomplete);
    }

    #[test]
    fn the_bulk_limit_is_a_parameter() {
        let mut p = Parser::new();
        assert_eq!(
            p.step(b"*1\r\n$11\r\n", 10),
            Step::Error(ProtocolError::InvalidBulkLength)
        );
        let mut p = Parser::new();
        assert_eq!(p.step(b"*1\r\n$10\r\n", 10), Step::Incomplete);
    }

    #[test]
    fn long_lines() {
        use ProtocolError::*;
        let mut line = vec![b'x'; INLINE_MAX];
        line.extend_from_slice(b"\r\n");
        // INLINE_MAX bytes before the LF (the CR counts): accepted.
        assert_eq!(
            parse(&line[1..]).0,
            Step::Inline {
                len: INLINE_MAX + 1
            }
        );
        assert_eq!(parse(&line).0, Step::Error(TooBigInline));
        let no_newline = vec![b'x'; INLINE_MAX + 1];
        assert_eq!(parse(&no_newline).0, Step::Error(TooBigInline));
        assert_eq!(parse(&no_newline[1..]).0, Step::Incomplete);
        let mut count = b"*".to_vec();
        count.extend(core::iter::repeat_n(b'1', INLINE_MAX));
        assert_eq!(parse(&count).0, Step::Error(TooBigMultibulkCount));
        let mut bulk = b"*1\r\n$".to_vec();
        bulk.extend(core::iter::repeat_n(b'1', INLINE_MAX));
        assert_eq!(parse(&bulk).0, Step::Error(TooBigBulkCount));
    }

    #[test]
    fn inline_quoting() {
        for (line, expect) in [
            (&b"PING\r\n"[..], vec![&b"PING"[..]]),
            (b"PING\n", vec![b"PING"]),
            (b"  SET  k   v  \r\n", vec![b"SET", b"k", b"v"]),
            (b"ECHO\t x\r\n", vec![b"ECHO", b"x"]),
            (b"PING\rx\r\n", vec![b"PING", b"x"]),
            (b"ECHO \"a\\x41b\\n\"\r\n", vec![b"ECHO", b"aAb\n"]),
            (b"ECHO \"\\xzz\"\r\n", vec![b"ECHO", b"xzz"]),
            (b"ECHO \"\\q\"\r\n", vec![b"ECHO", b"q"]),
            (
                b"ECHO \"\\r\\t\\b\\a\\\\\\\"\"\r\n",
                vec![b"ECHO", b"\r\t\x08\x07\\\""],
            ),
            (b"ECHO ''\r\n", vec![b"ECHO", b""]),
            (b"ECHO \"\"\r\n", vec![b"ECHO", b""]),
            (b"ECHO 'a\\'b'\r\n", vec![b"ECHO", b"a'b"]),
            (b"ECHO 'a\\nb'\r\n", vec![b"ECHO", b"a\\nb"]),
            (b"ECHO a\"b c\"\r\n", vec![b"ECHO", b"ab c"]),
            (b"ECHO \"a b\" 'c d'\r\n", vec![b"ECHO", b"a b", b"c d"]),
            (b"ECHO a\x0bb\r\n", vec![b"ECHO", b"a\x0bb"]),
            (b"ECHO a\x00b \x00\r\n", vec![b"ECHO", b"a\x00b", b"\x00"]),
            (b"\x00\r\n", vec![b"\x00"]),
            (b"ECHO \"\x00\" '\x00'\r\n", vec![b"ECHO", b"\x00", b"\x00"]),
        ] {
            let (step, a) = parse(line);
            assert_eq!(step, Step::Inline { len: line.len() }, "{line:?}");
            let expect: Vec<Vec<u8>> = expect.iter().map(|a| a.to_vec()).collect();
            assert_eq!(a, expect, "{line:?}");
        }
    }

    #[test]
    fn progress_survives_moving_the_bytes() {
        // The caller may move the unread bytes (here: copy them) between
        // pieces; positions are relative to the command's start.
        let cmd = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        let mut p = Parser::new();
        let mut held = Vec::new();
        for chunk in cmd.chunks(3) {
            held.extend_from_slice(chunk);
            let moved = held.clone();
            match p.step(&moved, MAX) {
                Step::Incomplete => {}
                Step::Multibulk { len, canonical } => {
                    assert_eq!(len, cmd.len());
                    assert!(canonical);
                    let got: Vec<&[u8]> = p.spans.iter().map(|s| s.of(&moved)).collect();
                    assert_eq!(got, vec![&b"SET"[..], b"k", b"value"]);
                    return;
                }
                other => panic!("{other:?}"),
            }
        }
        panic!("never completed");
    }

    #[test]
    fn error_words() {
        let mut out = Vec::new();
        ProtocolError::ExpectedDollar(b'\n').write(&mut out);
        ProtocolError::TooBigInline.write(&mut out);
        assert_eq!(
            out,
            &b"-ERR Protocol error: expected '$', got ' '\r\n\
               -ERR Protocol error: too big inline request\r\n"[..]
        );
    }
}
