//! Numbers as text: what `tonumber`, the lexer and string coercion accept.
//!
//! Lua 5.1 reads numbers with C's `strtod` (glibc's on Linux, where Redis
//! runs): surrounding white space, a sign, decimal with an exponent,
//! hexadecimal with an optional binary exponent (`0x1p4`), `inf`,
//! `infinity` and `nan` in any case. The text ends at its first NUL, as a C
//! string does.

/// The number `text` denotes, or `None`.
pub fn parse(text: &[u8]) -> Option<f64> {
    let text = match text.iter().position(|&b| b == 0) {
        Some(nul) => &text[..nul],
        None => text,
    };
    let text = text.trim_ascii();
    let (negative, body) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = if body.len() > 2 && (body.starts_with(b"0x") || body.starts_with(b"0X")) {
        hex(&body[2..])?
    } else {
        // `core` reads decimal text correctly rounded, and inf/nan as C
        // does; it rejects a second sign, which strtod rejects too.
        if matches!(body.first(), Some(b'+' | b'-')) {
            return None;
        }
        core::str::from_utf8(body).ok()?.parse::<f64>().ok()?
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// Hexadecimal digits with an optional `.` and `p` exponent (after the
/// `0x`). Digits past the sixteenth only scale the value: a double keeps 53
/// bits, so they cannot change it beyond its last place.
fn hex(text: &[u8]) -> Option<f64> {
    let mut mantissa: u64 = 0;
    let mut exponent: i64 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c == b'.' && !seen_point {
            seen_point = true;
        } else if let Some(d) = (c as char).to_digit(16) {
            digits += 1;
            if mantissa >> 60 == 0 {
                mantissa = mantissa << 4 | u64::from(d);
                if seen_point {
                    exponent -= 4;
                }
            } else if !seen_point {
                exponent += 4;
            }
        } else {
            break;
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < text.len() {
        if !matches!(text[i], b'p' | b'P') {
            return None;
        }
        let rest = &text[i + 1..];
        let (sign, digits) = match rest.first() {
            Some(b'-') => (-1, &rest[1..]),
            Some(b'+') => (1, &rest[1..]),
            _ => (1, rest),
        };
        if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let e = digits
            .iter()
            .fold(0i64, |e, &d| (e * 10 + i64::from(d - b'0')).min(1 << 20));
        exponent += sign * e;
    }
    let exponent = exponent.clamp(-(1 << 20), 1 << 20) as i32;
    Some(libm::ldexp(mantissa as f64, exponent))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn reads_what_strtod_reads() {
        assert_eq!(parse(b"12"), Some(12.0));
        assert_eq!(parse(b"  -1.5e3  "), Some(-1500.0));
        assert_eq!(parse(b".5"), Some(0.5));
        assert_eq!(parse(b"5."), Some(5.0));
        assert_eq!(parse(b"0x10"), Some(16.0));
        assert_eq!(parse(b"-0XfF"), Some(-255.0));
        assert_eq!(parse(b"0x1p4"), Some(16.0));
        assert_eq!(parse(b"0x.8"), Some(0.5));
        assert_eq!(parse(b"1\0junk"), Some(1.0));
        assert_eq!(parse(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse(b"-inf"), Some(f64::NEG_INFINITY));
        assert!(parse(b"nan").is_some_and(f64::is_nan));
        for bad in [
            &b""[..],
            b" ",
            b"x",
            b"1e",
            b"0x",
            b"1 2",
            b"--1",
            b"+-1",
            b"0x1p",
            b"1f",
        ] {
            assert_eq!(parse(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }
}
