//! C `printf` conversions as Lua 5.1's `string.format` and `tostring` use
//! them, reproducing glibc's output on x86_64 byte for byte.
//!
//! Floating-point digits come from `core::fmt`, whose `{:.N}` and `{:.Ne}`
//! forms are exact and correctly rounded (ties to even, as glibc does);
//! this module only rearranges them into C's layout. `%g` is derived from
//! the `%e` exponent by the C standard's rule.
//!
//! Lua 5.1 quirks reproduced here because they are visible to scripts:
//!
//! * `%s` treats its argument as a C string (it stops at the first zero
//!   byte) unless the spec has no precision and the string is at least 100
//!   bytes long, in which case Lua appends it whole and unformatted.
//! * `%c` of a zero byte ends the output of that conversion, because Lua
//!   measures `sprintf`'s result with `strlen` (see [`character`]).
//!
//! [`parse_spec`] bounds width and precision to two digits, so every
//! conversion's output is bounded (at most a few hundred bytes for floats).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

#[cfg(test)]
mod tests;

/// The flag bytes C accepts, in Lua 5.1's `FLAGS` order.
const FLAG_BYTES: &[u8] = b"-+ #0";

/// Conversion bytes Lua 5.1's `string.format` accepts.
const CONVERSIONS: &[u8] = b"cdiouxXeEfgGqs";

/// Lua 5.1's `tostring` precision for numbers (`LUA_NUMBER_FMT` "%.14g").
const NUMBER_PRECISION: usize = 14;

/// The flags of one conversion spec.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub minus: bool,
    pub plus: bool,
    pub space: bool,
    pub hash: bool,
    pub zero: bool,
}

/// One parsed `%` conversion spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub flags: Flags,
    pub width: Option<usize>,
    /// `Some(0)` for a '.' without digits, as in C.
    pub precision: Option<usize>,
    /// The conversion byte, one of `CONVERSIONS`.
    pub conv: u8,
}

/// Why a conversion spec was rejected; each maps to Lua's error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// Six or more flag bytes.
    RepeatedFlags,
    /// A width or precision of three or more digits.
    TooLong,
    /// An unknown conversion byte; 0 when the format string ends first.
    InvalidOption(u8),
}

impl FormatError {
    /// Lua 5.1's message as text. A conversion byte that is not ASCII is
    /// shown as U+FFFD here; [`Self::message_bytes`] keeps the raw byte.
    pub fn message(&self) -> String {
        String::from_utf8_lossy(&self.message_bytes()).into_owned()
    }

    /// Lua 5.1's message with the offending byte raw. Lua formats it with
    /// `%c` through a C string, so a zero byte vanishes: "invalid option
    /// '%' to 'format'".
    pub fn message_bytes(&self) -> Vec<u8> {
        match self {
            Self::RepeatedFlags => b"invalid format (repeated flags)".to_vec(),
            Self::TooLong => b"invalid format (width or precision too long)".to_vec(),
            Self::InvalidOption(byte) => {
                let mut message = b"invalid option '%".to_vec();
                if *byte != 0 {
                    message.push(*byte);
                }
                message.extend_from_slice(b"' to 'format'");
                message
            }
        }
    }
}

impl core::fmt::Display for FormatError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.message())
    }
}

/// Parses the spec that starts just after a '%' at `fmt[pos..]`; returns the
/// spec and the index just past the conversion byte. A format string that
/// ends early reads as ending in a zero byte, as Lua's C strings do.
pub fn parse_spec(fmt: &[u8], pos: usize) -> Result<(Spec, usize), FormatError> {
    let byte_at = |i: usize| fmt.get(i).copied().unwrap_or(0);
    let mut p = pos;
    let mut flags = Flags::default();
    while set_flag(&mut flags, byte_at(p)) {
        p += 1;
    }
    // Lua counts flag bytes, not distinct flags: "%--5d" is fine.
    if p - pos > FLAG_BYTES.len() {
        return Err(FormatError::RepeatedFlags);
    }
    let width;
    (width, p) = two_digits(fmt, p);
    let mut precision = None;
    if byte_at(p) == b'.' {
        let digits;
        (digits, p) = two_digits(fmt, p + 1);
        precision = Some(digits.unwrap_or(0));
    }
    if byte_at(p).is_ascii_digit() {
        return Err(FormatError::TooLong);
    }
    let conv = byte_at(p);
    if !CONVERSIONS.contains(&conv) {
        return Err(FormatError::InvalidOption(conv));
    }
    let spec = Spec {
        flags,
        width,
        precision,
        conv,
    };
    Ok((spec, p + 1))
}

/// Records `byte` in `flags` if it is a flag byte.
fn set_flag(flags: &mut Flags, byte: u8) -> bool {
    let slot = match byte {
        b'-' => &mut flags.minus,
        b'+' => &mut flags.plus,
        b' ' => &mut flags.space,
        b'#' => &mut flags.hash,
        b'0' => &mut flags.zero,
        _ => return false,
    };
    *slot = true;
    true
}

/// Reads up to two decimal digits at `fmt[p..]`.
fn two_digits(fmt: &[u8], mut p: usize) -> (Option<usize>, usize) {
    let mut value = None;
    for _ in 0..2 {
        match fmt.get(p) {
            Some(&digit) if digit.is_ascii_digit() => {
                value = Some(value.unwrap_or(0) * 10 + usize::from(digit - b'0'));
                p += 1;
            }
            _ => break,
        }
    }
    (value, p)
}

/// `%e %E %f %g %G` (any other conversion byte is treated as `%g`).
pub fn float(spec: &Spec, x: f64, out: &mut Vec<u8>) {
    let sign = sign_prefix(x.is_sign_negative(), spec.flags);
    if !x.is_finite() {
        let text: &[u8] = match (x.is_nan(), spec.conv.is_ascii_uppercase()) {
            (true, false) => b"nan",
            (true, true) => b"NAN",
            (false, false) => b"inf",
            (false, true) => b"INF",
        };
        // glibc pads infinities and NaNs with spaces even under '0'.
        pad(out, spec, sign, text, false);
        return;
    }
    let precision = spec.precision.unwrap_or(6);
    let magnitude = x.abs();
    let body = match spec.conv {
        b'e' | b'E' => exponent_form(magnitude, precision, spec),
        b'f' | b'F' => fixed_form(magnitude, precision, spec.flags.hash),
        _ => general_form(magnitude, precision, spec),
    };
    pad(out, spec, sign, body.as_bytes(), spec.flags.zero);
}

/// `%e`: one digit, the fraction, and an exponent of at least two digits.
fn exponent_form(magnitude: f64, precision: usize, spec: &Spec) -> String {
    let (mut mantissa, exponent) = scientific(magnitude, precision);
    if spec.flags.hash && precision == 0 {
        mantissa.push('.');
    }
    let e = if spec.conv.is_ascii_uppercase() {
        'E'
    } else {
        'e'
    };
    let exponent_sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}{e}{exponent_sign}{:02}", exponent.unsigned_abs())
}

/// `%f`: the '#' flag keeps the '.' even without fraction digits.
fn fixed_form(magnitude: f64, precision: usize, hash: bool) -> String {
    let mut text = format!("{magnitude:.precision$}");
    if hash && precision == 0 {
        text.push('.');
    }
    text
}

/// `%g`: `%e` or `%f` by the exponent `%e` would show, then (without '#')
/// trailing fraction zeros and a bare '.' removed.
fn general_form(magnitude: f64, precision: usize, spec: &Spec) -> String {
    let significant = precision.max(1);
    let (_, exponent) = scientific(magnitude, significant - 1);
    let mut text = match usize::try_from(exponent) {
        // -4 <= X < 0: fixed notation with extra fraction digits.
        Err(_) if exponent >= -4 => {
            let below = exponent.unsigned_abs() as usize;
            fixed_form(magnitude, significant - 1 + below, spec.flags.hash)
        }
        Ok(x) if x < significant => fixed_form(magnitude, significant - 1 - x, spec.flags.hash),
        _ => exponent_form(magnitude, significant - 1, spec),
    };
    if !spec.flags.hash {
        strip_fraction_zeros(&mut text);
    }
    text
}

/// Removes trailing zeros of the fraction (and the '.' if nothing is left),
/// keeping any exponent suffix.
fn strip_fraction_zeros(text: &mut String) {
    let Some(dot) = text.find('.') else {
        return;
    };
    let suffix_at = text.find(['e', 'E']).unwrap_or(text.len());
    let suffix = String::from(&text[suffix_at..]);
    let kept = text[..suffix_at].trim_end_matches('0').len();
    let kept = if kept == dot + 1 { dot } else { kept };
    text.truncate(kept);
    text.push_str(&suffix);
}

/// The `%e` digits of `magnitude` ("d.ddd") and its decimal exponent.
fn scientific(magnitude: f64, precision: usize) -> (String, i32) {
    let text = format!("{magnitude:.precision$e}");
    match text.split_once('e') {
        Some((mantissa, exponent)) => (String::from(mantissa), parse_exponent(exponent)),
        None => (text, 0),
    }
}

/// Parses the exponent `core::fmt` writes ("5", "-7").
fn parse_exponent(text: &str) -> i32 {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(digits) => (true, digits),
        None => (false, text),
    };
    let value = digits.bytes().fold(0i32, |acc, digit| {
        acc.saturating_mul(10)
            .saturating_add(i32::from(digit.wrapping_sub(b'0')))
    });
    if negative { -value } else { value }
}

/// `%d %i`: the precision is a minimum digit count and turns off '0'.
pub fn int(spec: &Spec, x: i64, out: &mut Vec<u8>) {
    let sign = sign_prefix(x < 0, spec.flags);
    let digits = with_precision(radix_digits(x.unsigned_abs(), 10, false), spec.precision);
    pad(
        out,
        spec,
        sign,
        &digits,
        spec.precision.is_none() && spec.flags.zero,
    );
}

/// `%o %u %x %X` (any other conversion byte is treated as `%u`); '#' adds
/// C's "0", "0x" or "0X" prefix. '+' and ' ' do not apply.
pub fn uint(spec: &Spec, x: u64, out: &mut Vec<u8>) {
    let (radix, upper) = match spec.conv {
        b'o' => (8, false),
        b'x' => (16, false),
        b'X' => (16, true),
        _ => (10, false),
    };
    let mut digits = with_precision(radix_digits(x, radix, upper), spec.precision);
    let mut prefix: &[u8] = b"";
    if spec.flags.hash {
        match spec.conv {
            // Octal's '#' raises the precision just enough to lead with 0.
            b'o' if digits.first() != Some(&b'0') => digits.insert(0, b'0'),
            b'x' if x != 0 => prefix = b"0x",
            b'X' if x != 0 => prefix = b"0X",
            _ => {}
        }
    }
    pad(
        out,
        spec,
        prefix,
        &digits,
        spec.precision.is_none() && spec.flags.zero,
    );
}

/// `%s`: Lua 5.1 appends a long string (100 bytes or more) whole when the
/// spec has no precision; otherwise the argument is a C string, cut at its
/// first zero byte, then at the precision, then padded to the width.
pub fn string(spec: &Spec, s: &[u8], out: &mut Vec<u8>) {
    if spec.precision.is_none() && s.len() >= 100 {
        out.extend_from_slice(s);
        return;
    }
    let mut text = c_string(s);
    if let Some(precision) = spec.precision {
        text = &text[..text.len().min(precision)];
    }
    pad(out, spec, b"", text, false);
}

/// `%c` of byte `c`. Lua 5.1 keeps `sprintf`'s output only up to its first
/// zero byte, so `%c` of 0 yields just the padding before it ("%5c" gives
/// four spaces, "%-5c" nothing).
pub fn character(spec: &Spec, c: u8, out: &mut Vec<u8>) {
    let mut formatted = Vec::new();
    pad(&mut formatted, spec, b"", &[c], false);
    out.extend_from_slice(c_string(&formatted));
}

/// `%q`: Lua 5.1's quoting, which ignores flags, width and precision.
pub fn quoted(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &byte in s {
        match byte {
            b'"' | b'\\' | b'\n' => out.extend_from_slice(&[b'\\', byte]),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\000"),
            _ => out.push(byte),
        }
    }
    out.push(b'"');
}

/// Lua 5.1's tostring of a number: "%.14g".
pub fn number(x: f64, out: &mut Vec<u8>) {
    let spec = Spec {
        flags: Flags::default(),
        width: None,
        precision: Some(NUMBER_PRECISION),
        conv: b'g',
    };
    float(&spec, x, out);
}

/// The `long` that `(long)x` gives on x86_64 (`cvttsd2si`): truncation
/// toward zero, and `i64::MIN` for NaN and anything out of range. Lua 5.1
/// converts `%d`/`%i` arguments this way.
pub fn c_double_to_i64(x: f64) -> i64 {
    // 2^63 as an f64; the range check must not round through i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-LIMIT..LIMIT).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// The `unsigned long` that `(unsigned long)x` gives on x86_64 with gcc:
/// values below 2^63, and NaN (the comparison is unordered), go through
/// [`c_double_to_i64`] (so -1 wraps to `u64::MAX`), larger ones are shifted
/// down by 2^63 first. Lua 5.1 converts `%o %u %x %X` arguments this way.
pub fn c_double_to_u64(x: f64) -> u64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || x < LIMIT {
        c_double_to_i64(x) as u64
    } else {
        (c_double_to_i64(x - LIMIT) as u64) ^ (1 << 63)
    }
}

/// The sign C prints before a number.
fn sign_prefix(negative: bool, flags: Flags) -> &'static [u8] {
    if negative {
        b"-"
    } else if flags.plus {
        b"+"
    } else if flags.space {
        b" "
    } else {
        b""
    }
}

/// Digits of `x` in `radix` (2..=16), most significant first.
fn radix_digits(mut x: u64, radix: u64, upper: bool) -> Vec<u8> {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut digits = Vec::new();
    loop {
        digits.push(table[(x % radix) as usize]);
        x /= radix;
        if x == 0 {
            break;
        }
    }
    digits.reverse();
    digits
}

/// Applies an integer precision: at least that many digits, and none at all
/// for a zero value with precision 0.
fn with_precision(digits: Vec<u8>, precision: Option<usize>) -> Vec<u8> {
    match precision {
        Some(0) if digits == b"0" => Vec::new(),
        Some(wanted) if wanted > digits.len() => {
            let mut padded = alloc::vec![b'0'; wanted - digits.len()];
            padded.extend_from_slice(&digits);
            padded
        }
        _ => digits,
    }
}

/// Writes `prefix` and `body` padded to the spec's width: spaces after them
/// under '-', zeros between them when `zero_fill`, else spaces before.
fn pad(out: &mut Vec<u8>, spec: &Spec, prefix: &[u8], body: &[u8], zero_fill: bool) {
    let fill = spec
        .width
        .unwrap_or(0)
        .saturating_sub(prefix.len() + body.len());
    if spec.flags.minus {
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        out.resize(out.len() + fill, b' ');
    } else if zero_fill {
        out.extend_from_slice(prefix);
        out.resize(out.len() + fill, b'0');
        out.extend_from_slice(body);
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    }
}

/// `s` up to its first zero byte, as C's string functions see it.
fn c_string(s: &[u8]) -> &[u8] {
    match s.iter().position(|&b| b == 0) {
        Some(nul) => &s[..nul],
        None => s,
    }
}
