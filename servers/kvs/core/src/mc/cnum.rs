//! memcached's numbers: it reads them with C's `strtol` family, then
//! checks what follows and, for unsigned ones, refuses a minus sign only
//! when the result is large. Reading them the same way keeps odd inputs
//! (`+5`, `5\t`, `-0`, a 64-bit value where 32 bits go) answered as
//! memcached answers them.

/// Whether C's `isspace` holds for `b` (the "C" locale).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// What `strtoull`/`strtoll` found: the magnitude (saturated), the sign,
/// whether it overflowed, and where the digits ended (`None`: no digits).
struct Scan {
    magnitude: u64,
    negative: bool,
    overflow: bool,
    end: Option<usize>,
}

/// Scans a decimal number as `strtoull` does: leading white space, an
/// optional sign, digits. The text ends at the slice's end or at a NUL
/// byte (memcached's strings are C strings).
fn scan(s: &[u8]) -> Scan {
    let s = s.split(|&b| b == 0).next().unwrap_or(&[]);
    let mut i = 0;
    while i < s.len() && is_space(s[i]) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let start = i;
    let mut magnitude: u64 = 0;
    let mut overflow = false;
    while i < s.len() && s[i].is_ascii_digit() {
        let digit = u64::from(s[i] - b'0');
        match magnitude.checked_mul(10).and_then(|m| m.checked_add(digit)) {
            Some(m) => magnitude = m,
            None => overflow = true,
        }
        i += 1;
    }
    Scan {
        magnitude,
        negative,
        overflow,
        end: (i > start).then_some(i),
    }
}

/// Whether the number ended where memcached accepts it: at the end of the
/// text (or a NUL) or at white space.
fn ends_well(s: &[u8], end: usize) -> bool {
    s.get(end).is_none_or(|&b| b == 0 || is_space(b))
}

/// memcached's `safe_strtoull`: a 64-bit unsigned number. `-1` is refused
/// (it reads as 2^64 − 1, "negative" as a signed number); `-5` is too,
/// while `-0` is 0.
///
/// ```
/// use kvs_core::mc::cnum::strtoull;
/// assert_eq!(strtoull(b"18446744073709551615"), Some(u64::MAX));
/// assert_eq!(strtoull(b"18446744073709551616"), None);
/// assert_eq!(strtoull(b" 12 "), Some(12));
/// assert_eq!(strtoull(b"-1"), None);
/// assert_eq!(strtoull(b"12a"), None);
/// ```
pub fn strtoull(s: &[u8]) -> Option<u64> {
    let scan = scan(s);
    let end = scan.end?;
    if scan.overflow || !ends_well(s, end) {
        return None;
    }
    let value = if scan.negative {
        scan.magnitude.wrapping_neg()
    } else {
        scan.magnitude
    };
    // A value that is negative as a signed number must not have been
    // written with a minus sign anywhere in the text.
    if (value as i64) < 0 && s.contains(&b'-') {
        return None;
    }
    Some(value)
}

/// memcached's `safe_strtoul`: on a 64-bit machine `strtoul` reads 64
/// bits and the caller keeps the low 32 (`4294967296` is 0).
///
/// ```
/// use kvs_core::mc::cnum::strtoul32;
/// assert_eq!(strtoul32(b"4294967297"), Some(1));
/// assert_eq!(strtoul32(b"-1"), None);
/// ```
pub fn strtoul32(s: &[u8]) -> Option<u32> {
    strtoull(s).map(|v| v as u32)
}

/// memcached's `safe_strtol`: `strtol` reads 64 bits (refusing what
/// overflows them) and the caller keeps the low 32, as C's conversion to
/// `int32_t` does.
///
/// ```
/// use kvs_core::mc::cnum::strtol32;
/// assert_eq!(strtol32(b"-5"), Some(-5));
/// assert_eq!(strtol32(b"4294967296"), Some(0));
/// assert_eq!(strtol32(b"9223372036854775808"), None);
/// ```
pub fn strtol32(s: &[u8]) -> Option<i32> {
    let scan = scan(s);
    let end = scan.end?;
    if scan.overflow || !ends_well(s, end) {
        return None;
    }
    let value: i64 = if scan.negative {
        if scan.magnitude > 1 << 63 {
            return None;
        }
        (scan.magnitude as i64).wrapping_neg()
    } else {
        i64::try_from(scan.magnitude).ok()?
    };
    Some(value as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_c_does() {
        assert_eq!(strtoull(b"+5"), Some(5));
        assert_eq!(strtoull(b"-0"), Some(0));
        assert_eq!(strtoull(b"-18446744073709551615"), Some(1));
        assert_eq!(strtoull(b"5\t"), Some(5));
        assert_eq!(strtoull(b"5\0junk"), Some(5));
        assert_eq!(strtoull(b""), None);
        assert_eq!(strtoull(b"-"), None);
        assert_eq!(strtoull(b" "), None);
        assert_eq!(strtol32(b"-9223372036854775808"), Some(0));
        assert_eq!(strtol32(b"-9223372036854775809"), None);
        assert_eq!(strtol32(b"2147483648"), Some(i32::MIN));
        assert_eq!(strtol32(b"x"), None);
        assert_eq!(strtoul32(b"-5"), None);
        assert_eq!(
            strtoul32(b"-4294967295"),
            None,
            "negative as a 64-bit value"
        );
    }
}
