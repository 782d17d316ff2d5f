//! Writing RESP2 replies into a connection's output buffer, without
//! intermediate allocations.

use alloc::vec::Vec;

pub(crate) use kvs_core::num::{push_i64, push_u64};

/// `+<text>\r\n`.
pub(crate) fn simple(out: &mut Vec<u8>, text: &str) {
    out.push(b'+');
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `+OK\r\n`.
pub(crate) fn ok(out: &mut Vec<u8>) {
    out.extend_from_slice(b"+OK\r\n");
}

/// `-<text>\r\n`, with any CR or LF in `text` turned into a space (as
/// Redis does) so that the reply stays one line.
pub(crate) fn error(out: &mut Vec<u8>, text: &[u8]) {
    out.push(b'-');
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

/// `:<n>\r\n`.
pub(crate) fn int(out: &mut Vec<u8>, n: i64) {
    out.push(b':');
    push_i64(out, n);
    out.extend_from_slice(b"\r\n");
}

/// `$<len>\r\n<bytes>\r\n`.
pub(crate) fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'$');
    push_u64(out, bytes.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// A bulk string of the decimal digits of `n`.
pub(crate) fn bulk_u64(out: &mut Vec<u8>, n: u64) {
    let mut digits = Vec::new();
    push_u64(&mut digits, n);
    bulk(out, &digits);
}

/// `$-1\r\n`.
pub(crate) fn nil(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// `*<len>\r\n`, the header of an array of `len` elements.
pub(crate) fn array(out: &mut Vec<u8>, len: usize) {
    header(out, b'*', len);
}

fn header(out: &mut Vec<u8>, kind: u8, len: usize) {
    out.push(kind);
    push_u64(out, len as u64);
    out.extend_from_slice(b"\r\n");
}

/// The header of a map of `pairs` keys and values: `%` in RESP3, an
/// array of twice as many elements in RESP2.
pub(crate) fn map(out: &mut Vec<u8>, pairs: usize, resp3: bool) {
    match resp3 {
        true => header(out, b'%', pairs),
        false => header(out, b'*', 2 * pairs),
    }
}

/// The header of a set of `len` elements: `~` in RESP3, an array in RESP2.
pub(crate) fn set(out: &mut Vec<u8>, len: usize, resp3: bool) {
    header(out, if resp3 { b'~' } else { b'*' }, len);
}

/// The header of a push (a Pub/Sub message, a subscription's
/// confirmation): `>` in RESP3, an array in RESP2.
pub(crate) fn push(out: &mut Vec<u8>, len: usize, resp3: bool) {
    header(out, if resp3 { b'>' } else { b'*' }, len);
}

/// The null: `_` in RESP3, the nil bulk string in RESP2.
pub(crate) fn null(out: &mut Vec<u8>, resp3: bool) {
    match resp3 {
        true => out.extend_from_slice(b"_\r\n"),
        false => nil(out),
    }
}

/// Text for a person (INFO, CLIENT LIST): a verbatim string of format
/// `txt` in RESP3, a bulk string in RESP2.
pub(crate) fn verbatim(out: &mut Vec<u8>, text: &[u8], resp3: bool) {
    if !resp3 {
        return bulk(out, text);
    }
    header(out, b'=', text.len() + 4);
    out.extend_from_slice(b"txt:");
    out.extend_from_slice(text);
    out.extend_from_slice(b"\r\n");
}

/// `-ERR wrong number of arguments for '<name>' command`.
pub(crate) fn arity(out: &mut Vec<u8>, name: &str) {
    out.extend_from_slice(b"-ERR wrong number of arguments for '");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"' command\r\n");
}

/// `-ERR unknown subcommand '<sub>'. Try <COMMAND> HELP.`
pub(crate) fn unknown_subcommand(out: &mut Vec<u8>, sub: &[u8], command: &str) {
    let mut msg = Vec::with_capacity(64);
    msg.extend_from_slice(b"ERR unknown subcommand '");
    msg.extend_from_slice(&sub[..sub.len().min(128)]);
    msg.extend_from_slice(b"'. Try ");
    msg.extend_from_slice(command.as_bytes());
    msg.extend_from_slice(b" HELP.");
    error(out, &msg);
}

/// `-ERR syntax error`.
pub(crate) fn syntax(out: &mut Vec<u8>) {
    out.extend_from_slice(b"-ERR syntax error\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        let mut out = Vec::new();
        for (n, text) in [
            (0i64, "0"),
            (7, "7"),
            (-1, "-1"),
            (1234567890, "1234567890"),
            (i64::MIN, "-9223372036854775808"),
            (i64::MAX, "9223372036854775807"),
        ] {
            out.clear();
            push_i64(&mut out, n);
            assert_eq!(out, text.as_bytes());
        }
        out.clear();
        push_u64(&mut out, u64::MAX);
        assert_eq!(out, b"18446744073709551615");
    }

    #[test]
    fn shapes() {
        let mut out = Vec::new();
        simple(&mut out, "PONG");
        int(&mut out, -3);
        bulk(&mut out, b"a\r\nb");
        bulk_u64(&mut out, 42);
        nil(&mut out);
        array(&mut out, 2);
        error(&mut out, b"ERR bad\r\nthing");
        assert_eq!(
            out,
            b"+PONG\r\n:-3\r\n$4\r\na\r\nb\r\n$2\r\n42\r\n$-1\r\n*2\r\n-ERR bad  thing\r\n"
        );
        out.clear();
        arity(&mut out, "config|set");
        unknown_subcommand(&mut out, b"FOO", "CLIENT");
        assert_eq!(
            out,
            &b"-ERR wrong number of arguments for 'config|set' command\r\n\
               -ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"[..]
        );
    }
}
