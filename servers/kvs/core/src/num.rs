//! Number parsing and formatting with Redis's rules.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: optional
/// `-`, no `+`, no spaces, no leading zeros (except `0` itself), no `-0`,
/// and within the `i64` range.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if neg {
        if v > (i64::MAX as u64) + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

/// Parses a SCAN cursor: a non-negative decimal integer up to `u64::MAX`
/// (Redis's `string2ull`; a leading `+` is accepted as `strtoull` does).
pub fn parse_cursor(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let digits = s.strip_prefix(b"+").unwrap_or(s);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(v)
}

/// Parses a double the way Redis's `string2d` does (`strtod` semantics):
/// no leading space, the whole string used, `inf`/`-inf`/`+inf`/`infinity`
/// accepted, NaN refused, and values that overflow to infinity or underflow
/// to zero refused. Hexadecimal floats (`0x1p3`) are not accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s.len() > 5000 {
        return None;
    }
    // Rust's parser accepts a few spellings strtod does not and vice versa;
    // keep to the plain decimal grammar and the infinity words.
    let text = core::str::from_utf8(s).ok()?;
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower_inf = body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity");
    if !lower_inf {
        let ok = !body.is_empty()
            && body
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'))
            && body
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_digit() || c == b'.');
        if !ok {
            return None;
        }
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() {
        return None;
    }
    if v.is_infinite() && !lower_inf {
        return None; // overflow (ERANGE)
    }
    if v == 0.0 {
        // Underflow to zero is ERANGE for strtod: refuse when the mantissa
        // had a non-zero digit.
        let mantissa = body.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(v)
}

/// Parses a score-range bound the way Redis's `zslParseRange` does with
/// `strtod`: leading whitespace skipped, an empty string is 0, overflow gives
/// an infinity, NaN refused.
pub fn parse_f64_lenient(s: &[u8]) -> Option<f64> {
    let start = s
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(s.len());
    let s = &s[start..];
    if s.is_empty() {
        return Some(0.0);
    }
    // Overflow and underflow are fine here; the grammar is not.
    parse_f64(s).or_else(|| parse_decimal_unbounded(s))
}

/// A decimal number in `strtod`'s grammar (a sign, digits, a point, an
/// exponent; no infinity words, no hexadecimal), where overflow gives an
/// infinity and underflow 0 instead of an error.
pub(crate) fn parse_decimal_unbounded(s: &[u8]) -> Option<f64> {
    let text = core::str::from_utf8(s).ok()?;
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let ok = body
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == b'.')
        && body
            .bytes()
            .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !ok {
        return None;
    }
    text.parse::<f64>().ok().filter(|v| !v.is_nan())
}

/// Formats a double as Redis's `d2string` does for RESP2 replies (scores):
/// `inf`, `-inf`, `0`, `-0`, integers in the safe range as integers, and
/// otherwise the shortest round-trip digits laid out like `fpconv_dtoa`
/// (exponent form for very large or small magnitudes, e.g. `1e+300`).
pub fn fmt_double(v: f64) -> String {
    if v.is_nan() {
        return String::from("nan");
    }
    if v.is_infinite() {
        return String::from(if v > 0.0 { "inf" } else { "-inf" });
    }
    if v == 0.0 {
        return String::from(if v.is_sign_negative() { "-0" } else { "0" });
    }
    const HALF: f64 = (i64::MAX / 2) as f64;
    if (-HALF..=HALF).contains(&v) && v == (v as i64) as f64 {
        return format!("{}", v as i64);
    }
    // Shortest digits and exponent from Rust's `{:e}` (e.g. "1.2345e-7").
    let sci = format!("{:e}", v.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: Vec<u8> = mant.bytes().filter(u8::is_ascii_digit).collect();
    let neg = v < 0.0;
    let ndigits = digits.len() as i32;
    // fpconv's K: value = digits * 10^K.
    let k = exp - (ndigits - 1);
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    let dexp = (k + ndigits - 1).abs();
    let push_digits = |out: &mut String, d: &[u8]| {
        for &c in d {
            out.push(c as char);
        }
    };
    if k >= 0 && dexp < ndigits + 7 {
        push_digits(&mut out, &digits);
        for _ in 0..k {
            out.push('0');
        }
        return out;
    }
    if k < 0 && (k > -7 || dexp < 4) {
        let offset = ndigits - k.abs();
        if offset <= 0 {
            out.push_str("0.");
            for _ in 0..(-offset) {
                out.push('0');
            }
            push_digits(&mut out, &digits);
        } else {
            push_digits(&mut out, &digits[..offset as usize]);
            out.push('.');
            push_digits(&mut out, &digits[offset as usize..]);
        }
        return out;
    }
    out.push(digits[0] as char);
    if digits.len() > 1 {
        out.push('.');
        push_digits(&mut out, &digits[1..]);
    }
    out.push('e');
    out.push(if k + ndigits - 1 < 0 { '-' } else { '+' });
    out.push_str(&format!("{dexp}"));
    out
}

/// Appends the decimal digits of `n`, without allocating.
///
/// ```
/// let mut out = b"$".to_vec();
/// kvs_core::num::push_u64(&mut out, 1234);
/// assert_eq!(out, b"$1234");
/// ```
pub fn push_u64(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Appends the decimal digits of `n`, with a sign when negative.
///
/// ```
/// let mut out = Vec::new();
/// kvs_core::num::push_i64(&mut out, i64::MIN);
/// assert_eq!(out, b"-9223372036854775808");
/// ```
pub fn push_i64(out: &mut Vec<u8>, n: i64) {
    if n < 0 {
        out.push(b'-');
    }
    push_u64(out, n.unsigned_abs());
}

/// Formats an integer as bytes.
pub fn int_bytes(v: i64) -> Vec<u8> {
    format!("{v}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"1.0",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"abc",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn cursors() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551616"), None);
        assert_eq!(parse_cursor(b"-1"), None);
        assert_eq!(parse_cursor(b"x"), None);
    }

    #[test]
    fn floats_follow_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b"-2"), Some(-2.0));
        assert_eq!(parse_f64(b"+2"), Some(2.0));
        assert_eq!(parse_f64(b"inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0"), Some(0.0));
        assert_eq!(parse_f64(b"0e10"), Some(0.0));
        for bad in [
            &b""[..],
            b"nan",
            b"NaN",
            b" 1",
            b"1 ",
            b"1x",
            b"1e400",
            b"1e-400",
            b"abc",
            b"e5",
            b"--1",
        ] {
            assert_eq!(parse_f64(bad), None, "{:?}", core::str::from_utf8(bad));
        }
    }

    #[test]
    fn lenient_range_floats() {
        assert_eq!(parse_f64_lenient(b""), Some(0.0));
        assert_eq!(parse_f64_lenient(b" 2"), Some(2.0));
        assert_eq!(parse_f64_lenient(b"1e400"), Some(f64::INFINITY));
        assert_eq!(parse_f64_lenient(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64_lenient(b"nan"), None);
        assert_eq!(parse_f64_lenient(b"2x"), None);
    }

    #[test]
    fn doubles_like_d2string() {
        assert_eq!(fmt_double(1.0), "1");
        assert_eq!(fmt_double(-3.0), "-3");
        assert_eq!(fmt_double(1.5), "1.5");
        assert_eq!(fmt_double(0.1), "0.1");
        assert_eq!(fmt_double(1.1), "1.1");
        assert_eq!(fmt_double(f64::INFINITY), "inf");
        assert_eq!(fmt_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(fmt_double(-0.0), "-0");
        assert_eq!(fmt_double(0.0), "0");
        assert_eq!(fmt_double(1e300), "1e+300");
        assert_eq!(fmt_double(1.5e-10), "1.5e-10");
        assert_eq!(fmt_double(0.000001), "0.000001");
        assert_eq!(fmt_double(1e-7), "1e-7");
        assert_eq!(fmt_double(123.456), "123.456");
        assert_eq!(fmt_double(1e19), "1e+19");
        assert_eq!(fmt_double(1e18), "1000000000000000000");
        assert_eq!(fmt_double(1e30), "1e+30");
        assert_eq!(fmt_double(-2.5e-5), "-0.000025");
    }
}
