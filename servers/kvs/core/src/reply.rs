//! Replies, mirroring the RESP2 types, and the error words Redis uses.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One reply to one command, shaped like a RESP2 value.
///
/// Scores and other doubles are bulk strings in RESP2 (see
/// [`crate::num::fmt_double`]); there is no separate double variant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A simple string (`+OK`, `+QUEUED`, `+string` for `TYPE`).
    Simple(String),
    /// An error: the whole message including its prefix word, e.g.
    /// `ERR syntax error` or `WRONGTYPE Operation against ...`.
    Error(String),
    /// An integer (`:42`).
    Integer(i64),
    /// A bulk string; `None` is the nil bulk string (`$-1`).
    Bulk(Option<Vec<u8>>),
    /// An array; `None` is the nil array (`*-1`).
    Array(Option<Vec<Reply>>),
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
/// `ERR WATCH inside MULTI is not allowed`
pub const WATCH_IN_MULTI: &str = "ERR WATCH inside MULTI is not allowed";
/// `ERR string exceeds maximum allowed size (proto-max-bulk-len)`
pub const STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
/// `ERR increment would produce NaN or Infinity`
pub const NAN_OR_INF: &str = "ERR increment would produce NaN or Infinity";

impl Reply {
    /// `+OK`
    pub fn ok() -> Reply {
        Reply::Simple(String::from("OK"))
    }

    /// A simple string.
    pub fn simple(s: &str) -> Reply {
        Reply::Simple(String::from(s))
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

    /// Appends the RESP2 encoding of this reply to `out`.
    ///
    /// Simple strings and errors cannot hold CR or LF in RESP2; those bytes
    /// are written as spaces, as Redis does for error messages.
    pub fn encode_resp2(&self, out: &mut Vec<u8>) {
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
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(b)) => {
                out.push(b'$');
                crate::num::push_i64(out, b.len() as i64);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(b);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                out.push(b'*');
                crate::num::push_i64(out, items.len() as i64);
                out.extend_from_slice(b"\r\n");
                for item in items {
                    item.encode_resp2(out);
                }
            }
        }
    }
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
