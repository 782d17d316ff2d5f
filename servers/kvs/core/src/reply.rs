//! Replies, typed as RESP3 types them and written in either protocol,
//! and the error words Redis uses.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// The protocol a session's replies are written in: RESP2 unless its
/// client said `HELLO 3`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// RESP2: doubles are bulk strings, maps and pairs flat arrays, both
    /// nils `$-1` and `*-1`.
    #[default]
    Resp2,
    /// RESP3: doubles, maps and sets have types of their own, and every
    /// nil is `_`.
    Resp3,
}

/// One reply to one command, with the types RESP3 tells apart, so that
/// one value is written as Redis writes it in either protocol
/// ([`encode`](Self::encode)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A simple string (`+OK`, `+QUEUED`, `+string` for `TYPE`); most are
    /// constants, which need no allocation.
    Simple(Cow<'static, str>),
    /// An error: the whole message including its prefix word, e.g.
    /// `ERR syntax error` or `WRONGTYPE Operation against ...`.
    Error(String),
    /// An integer (`:42`).
    Integer(i64),
    /// A bulk string; `None` is the nil bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// An array; `None` is the nil array (`*-1`).
    Array(Option<Vec<Reply>>),
    /// A double (`ZSCORE`), as its text ([`crate::num::fmt_double`], or
    /// the long-double text GEOPOS uses): a bulk string in RESP2,
    /// `,<text>` in RESP3.
    Double(String),
    /// A map (`HGETALL`, `XINFO STREAM`): an array of keys and values in
    /// RESP2, `%` in RESP3.
    Map(Vec<(Reply, Reply)>),
    /// A set (`SMEMBERS`): an array in RESP2, `~` in RESP3.
    Set(Vec<Reply>),
    /// Pairs (`ZRANGE … WITHSCORES`, `HRANDFIELD … WITHVALUES`): one flat
    /// array in RESP2, an array of two-element arrays in RESP3.
    Pairs(Vec<(Reply, Reply)>),
    /// A map that RESP2 writes as an array of `[key, value]` arrays
    /// (XREAD's streams), `%` in RESP3.
    Keyed(Vec<(Reply, Reply)>),
    /// Text with a three-byte format (`txt` for MEMORY DOCTOR's text for
    /// people): RESP3's verbatim string, a bulk string in RESP2.
    Verbatim([u8; 3], Vec<u8>),
    /// A boolean (a script's, after `redis.setresp(3)`): `#t`/`#f` in
    /// RESP3, the integer 1 or 0 in RESP2.
    Bool(bool),
    /// A big number as its decimal text (a script's `{big_number=…}`):
    /// `(` in RESP3, a bulk string in RESP2.
    BigNumber(String),
}

/// `WRONGTYPE Operation against a key holding the wrong kind of value`
pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
/// `ERR syntax error`
pub const SYNTAX: &str = "ERR syntax error";
/// `ERR value is not an integer or out of range`
pub const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// `ERR value is not a valid float`
pub const NOT_FLOAT: &str = "ERR value is not a valid float";
/// `ERR increment or decrement would overflow`
pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
/// `ERR no such key`
pub const NO_SUCH_KEY: &str = "ERR no such key";
/// `ERR index out of range`
pub const INDEX_OUT_OF_RANGE: &str = "ERR index out of range";
/// `ERR source and destination objects are the same`
pub const SAME_OBJECT: &str = "ERR source and destination objects are the same";
/// `ERR DB index is out of range`
pub const DB_INDEX_OUT_OF_RANGE: &str = "ERR DB index is out of range";
/// `ERR value is out of range, must be positive`
pub const MUST_BE_POSITIVE: &str = "ERR value is out of range, must be positive";
/// `ERR invalid cursor`
pub const INVALID_CURSOR: &str = "ERR invalid cursor";
/// `EXECABORT Transaction discarded because of previous errors.`
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
/// `ERR EXEC without MULTI`
pub const EXEC_WITHOUT_MULTI: &str = "ERR EXEC without MULTI";
/// `ERR DISCARD without MULTI`
pub const DISCARD_WITHOUT_MULTI: &str = "ERR DISCARD without MULTI";
/// `ERR MULTI calls can not be nested`
pub const MULTI_NESTED: &str = "ERR MULTI calls can not be nested";
/// `ERR Command not allowed inside a transaction` (a `no_multi` command
/// such as SAVE)
pub const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";
/// `ERR WATCH inside MULTI is not allowed`
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// `ERR increment would produce NaN or Infinity`
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";

impl Reply {
    /// `+OK`
    pub fn ok() -> Reply {
        Reply::Simple(Cow::Borrowed("OK"))
    }

    /// A simple string.
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(Cow::Owned(String::from(s)))
    }

    /// An error with its full text (prefix word included).
    pub fn error(msg: &str) -> Reply {
        Reply::Error(String::from(msg))
    }

    /// A bulk string copied from `bytes`.
    pub fn bulk(bytes: &[u8]) -> Reply {
        Reply::Bulk(Some(bytes.to_vec()))
    }

    /// The nil bulk string.
    pub fn nil() -> Reply {
        Reply::Bulk(None)
    }

    /// The nil array.
    pub fn nil_array() -> Reply {
        Reply::Array(None)
    }

    /// An array.
    pub fn array(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }

    /// The double `v`, written as Redis writes doubles (`%.17g`).
    pub fn double(v: f64) -> Reply {
        Reply::Double(crate::num::fmt_double(v))
    }

    /// An array of bulk strings.
    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        Reply::Array(Some(
            items
                .into_iter()
                .map(|b| Reply::Bulk(Some(b.as_ref().to_vec())))
                .collect(),
        ))
    }

    /// `ERR wrong number of arguments for '<cmd>' command`
    pub fn arity(cmd: &str) -> Reply {
        Reply::Error(format!("ERR wrong number of arguments for '{cmd}' command"))
    }

    /// `ERR invalid expire time in '<cmd>' command`
    pub fn invalid_expire(cmd: &str) -> Reply {
        Reply::Error(format!("ERR invalid expire time in '{cmd}' command"))
    }

    /// Whether this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The same values with RESP2's types: doubles as bulk strings, maps,
    /// sets and pairs as the arrays RESP2 writes them as. What a reader
    /// of RESP2 (a script under RESP2, a test) sees.
    pub fn into_resp2(self) -> Reply {
        let all = |items: Vec<Reply>| items.into_iter().map(Reply::into_resp2).collect();
        let flat = |pairs: Vec<(Reply, Reply)>| {
            Reply::Array(Some(
                pairs
                    .into_iter()
                    .flat_map(|(a, b)| [a.into_resp2(), b.into_resp2()])
                    .collect(),
            ))
        };
        match self {
            Reply::Array(Some(items)) | Reply::Set(items) => Reply::Array(Some(all(items))),
            Reply::Double(text) => Reply::Bulk(Some(text.into_bytes())),
            Reply::Map(pairs) | Reply::Pairs(pairs) => flat(pairs),
            Reply::Verbatim(_, text) => Reply::Bulk(Some(text)),
            Reply::Bool(b) => Reply::Integer(i64::from(b)),
            Reply::BigNumber(text) => Reply::Bulk(Some(text.into_bytes())),
            Reply::Keyed(pairs) => Reply::Array(Some(
                pairs
                    .into_iter()
                    .map(|(a, b)| Reply::Array(Some(alloc::vec![a.into_resp2(), b.into_resp2()])))
                    .collect(),
            )),
            other => other,
        }
    }

    /// Appends the RESP2 encoding of this reply to `out`.
    pub fn encode_resp2(&self, out: &mut Vec<u8>) {
        self.encode(Protocol::Resp2, out);
    }

    /// Appends this reply's encoding in `protocol` to `out`.
    ///
    /// Simple strings and errors cannot hold CR or LF; those bytes are
    /// written as spaces, as Redis does for error messages.
    pub fn encode(&self, protocol: Protocol, out: &mut Vec<u8>) {
        let resp3 = protocol == Protocol::Resp3;
        match self {
            Reply::Simple(s) => {
                out.push(b'+');
                push_line(out, s.as_bytes());
            }
            Reply::Error(s) => {
                out.push(b'-');
                push_line(out, s.as_bytes());
            }
            Reply::Integer(n) => {
                out.push(b':');
                crate::num::push_i64(out, *n);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Bulk(None) | Reply::Array(None) if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => push_bulk(out, b),
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                push_header(out, b'*', items.len());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Double(text) if resp3 => {
                out.push(b',');
                push_line(out, text.as_bytes());
            }
            Reply::Double(text) => push_bulk(out, text.as_bytes()),
            Reply::Verbatim(format, text) if resp3 => {
                push_header(out, b'=', text.len() + 4);
                out.extend_from_slice(format);
                out.push(b':');
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Verbatim(_, text) => push_bulk(out, text),
            Reply::Bool(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(b) => out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" }),
            Reply::BigNumber(text) if resp3 => {
                out.push(b'(');
                push_line(out, text.as_bytes());
            }
            Reply::BigNumber(text) => push_bulk(out, text.as_bytes()),
            Reply::Map(pairs) => {
                match resp3 {
                    true => push_header(out, b'%', pairs.len()),
                    false => push_header(out, b'*', 2 * pairs.len()),
                }
                for (key, value) in pairs {
                    key.encode(protocol, out);
                    value.encode(protocol, out);
                }
            }
            Reply::Set(items) => {
                push_header(out, if resp3 { b'~' } else { b'*' }, items.len());
                for item in items {
                    item.encode(protocol, out);
                }
            }
            Reply::Pairs(pairs) | Reply::Keyed(pairs) => {
                // Which of the two protocols nests each pair in an array.
                let nested = resp3 == matches!(self, Reply::Pairs(_));
                match (resp3, nested) {
                    (true, false) => push_header(out, b'%', pairs.len()),
                    (_, true) => push_header(out, b'*', pairs.len()),
                    (false, false) => push_header(out, b'*', 2 * pairs.len()),
                }
                for (first, second) in pairs {
                    if nested {
                        push_header(out, b'*', 2);
                    }
                    first.encode(protocol, out);
                    second.encode(protocol, out);
                }
            }
        }
    }
}

/// `<kind><len>\r\n`, an aggregate's header.
fn push_header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    crate::num::push_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

fn push_bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    push_header(out, b'$', bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

fn push_line(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend(
        bytes
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn enc(r: &Reply) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode_resp2(&mut v);
        v
    }

    #[test]
    fn verbatim_text_is_txt_in_resp3_and_bulk_in_resp2() {
        let r = Reply::Verbatim(*b"txt", b"hi\n".to_vec());
        let mut out = Vec::new();
        r.encode(Protocol::Resp3, &mut out);
        assert_eq!(out, b"=7\r\ntxt:hi\n\r\n");
        out.clear();
        r.encode(Protocol::Resp2, &mut out);
        assert_eq!(out, b"$3\r\nhi\n\r\n");
        assert_eq!(r.into_resp2(), Reply::Bulk(Some(b"hi\n".to_vec())));
    }

    #[test]
    fn encodes_every_type() {
        assert_eq!(enc(&Reply::ok()), b"+OK\r\n");
        assert_eq!(enc(&Reply::error(SYNTAX)), b"-ERR syntax error\r\n");
        assert_eq!(enc(&Reply::Integer(-42)), b":-42\r\n");
        assert_eq!(enc(&Reply::Integer(i64::MIN)), b":-9223372036854775808\r\n");
        assert_eq!(enc(&Reply::Integer(0)), b":0\r\n");
        assert_eq!(enc(&Reply::nil()), b"$-1\r\n");
        assert_eq!(enc(&Reply::bulk(b"")), b"$0\r\n\r\n");
        assert_eq!(enc(&Reply::bulk(b"a\r\nb")), b"$4\r\na\r\nb\r\n");
        assert_eq!(enc(&Reply::nil_array()), b"*-1\r\n");
        assert_eq!(enc(&Reply::array(vec![])), b"*0\r\n");
        assert_eq!(
            enc(&Reply::array(vec![Reply::Integer(1), Reply::bulks([b"x"])])),
            b"*2\r\n:1\r\n*1\r\n$1\r\nx\r\n"
        );
    }

    fn enc3(r: &Reply) -> Vec<u8> {
        let mut v = Vec::new();
        r.encode(Protocol::Resp3, &mut v);
        v
    }

    #[test]
    fn each_type_in_both_protocols() {
        let pair = || (Reply::bulk(b"k"), Reply::double(1.5));
        let cases: [(Reply, &[u8], &[u8]); 8] = [
            (Reply::nil(), b"$-1\r\n", b"_\r\n"),
            (Reply::nil_array(), b"*-1\r\n", b"_\r\n"),
            (Reply::double(f64::INFINITY), b"$3\r\ninf\r\n", b",inf\r\n"),
            (
                Reply::Map(vec![pair()]),
                b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n",
                b"%1\r\n$1\r\nk\r\n,1.5\r\n",
            ),
            (
                Reply::Set(vec![Reply::Integer(1)]),
                b"*1\r\n:1\r\n",
                b"~1\r\n:1\r\n",
            ),
            (
                Reply::Pairs(vec![pair()]),
                b"*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n",
                b"*1\r\n*2\r\n$1\r\nk\r\n,1.5\r\n",
            ),
            (
                Reply::Keyed(vec![pair()]),
                b"*1\r\n*2\r\n$1\r\nk\r\n$3\r\n1.5\r\n",
                b"%1\r\n$1\r\nk\r\n,1.5\r\n",
            ),
            (
                Reply::array(vec![Reply::nil(), Reply::Set(vec![])]),
                b"*2\r\n$-1\r\n*0\r\n",
                b"*2\r\n_\r\n~0\r\n",
            ),
        ];
        for (reply, resp2, resp3) in cases {
            assert_eq!(enc(&reply), resp2, "{reply:?}");
            assert_eq!(enc(&reply.clone().into_resp2()), resp2, "{reply:?}");
            assert_eq!(enc3(&reply), resp3, "{reply:?}");
        }
    }

    #[test]
    fn errors_lose_line_breaks() {
        assert_eq!(enc(&Reply::error("ERR a\r\nb")), b"-ERR a  b\r\n");
    }

    #[test]
    fn arity_words() {
        assert_eq!(
            Reply::arity("get"),
            Reply::error("ERR wrong number of arguments for 'get' command")
        );
    }
}
