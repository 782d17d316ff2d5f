//! MONITOR: the connections that asked hear every command the server
//! runs, one line each, as Redis 7.0 writes them:
//!
//! ```text
//! +1700000000.123456 [0 127.0.0.1:50000] "SET" "k" "v"
//! ```
//!
//! the time, the database and address of the connection that sent it,
//! and its arguments quoted. What is shown follows Redis: a command that
//! ran (once it is known, has its arity and got past the checks before
//! running), not one Redis marks `admin` (CONFIG, CLIENT LIST, MONITOR
//! itself…); commands queued in MULTI when EXEC runs them, before EXEC;
//! AUTH's arguments and HELLO's AUTH pair as `(redacted)`. A monitoring
//! connection is a replica to Redis: it may not run commands that read
//! or write keys, MONITOR again says nothing, and RESET ends it. The lines
//! travel as Pub/Sub messages do (the connection's mailbox, under
//! `client-output-buffer-limit pubsub`; Redis uses its replica class).

use alloc::vec::Vec;
use core::fmt::Write;

/// A monitor line for `args`, run at `now_us` (microseconds since the
/// epoch) by the connection at `addr` in database `db`.
pub(crate) fn line(now_us: u64, db: u32, addr: &str, args: &[&[u8]]) -> Vec<u8> {
    let mut out = alloc::string::String::new();
    let _ = write!(
        out,
        "+{}.{:06} [{db} {addr}]",
        now_us / 1_000_000,
        now_us % 1_000_000
    );
    let mut out = out.into_bytes();
    let secret = secrets(args);
    for (i, arg) in args.iter().enumerate() {
        out.push(b' ');
        if secret.contains(&i) {
            out.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(arg, &mut out);
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// The positions of the arguments a monitor must not see: AUTH's, and
/// the user and password after HELLO's AUTH.
fn secrets(args: &[&[u8]]) -> Vec<usize> {
    let name = args.first().copied().unwrap_or_default();
    if name.eq_ignore_ascii_case(b"auth") {
        return (1..args.len()).collect();
    }
    if name.eq_ignore_ascii_case(b"hello") {
        return args
            .iter()
            .position(|a| a.eq_ignore_ascii_case(b"auth"))
            .map_or(Vec::new(), |at| (at + 1..args.len().min(at + 3)).collect());
    }
    Vec::new()
}

/// `arg` in double quotes, as Redis's `sdscatrepr` writes it: `\\` and
/// `\"`, `\n` `\r` `\t` `\a` `\b`, printable ASCII as it is, any other
/// byte as `\xhh`.
fn quote(arg: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in arg {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[usize::from(b >> 4)],
                    HEX[usize::from(b & 15)],
                ]);
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(now: u64, db: u32, args: &[&[u8]]) -> alloc::string::String {
        alloc::string::String::from_utf8(line(now, db, "127.0.0.1:5000", args)).unwrap()
    }

    #[test]
    fn lines_are_redis_s() {
        assert_eq!(
            text(
                1_700_000_000_000_042,
                3,
                &[b"SET", b"k", b"a\nb\x00c\"\\\xff\x07"]
            ),
            "+1700000000.000042 [3 127.0.0.1:5000] \"SET\" \"k\" \"a\\nb\\x00c\\\"\\\\\\xff\\a\"\r\n"
        );
        assert_eq!(
            text(5, 0, &[b"PING"]),
            "+0.000005 [0 127.0.0.1:5000] \"PING\"\r\n"
        );
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            text(0, 0, &[b"auth", b"u", b"p"]),
            "+0.000000 [0 127.0.0.1:5000] \"auth\" \"(redacted)\" \"(redacted)\"\r\n"
        );
        assert_eq!(
            text(
                0,
                0,
                &[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]
            ),
            "+0.000000 [0 127.0.0.1:5000] \"HELLO\" \"3\" \"AUTH\" \"(redacted)\" \"(redacted)\" \"SETNAME\" \"n\"\r\n"
        );
        assert_eq!(secrets(&[b"hello", b"3"]), Vec::<usize>::new());
    }
}
