//! Sizes as configs and component arguments write them: `"4096"`,
//! `"64 KiB"`, `"2 MiB"`, `"1 GiB"` (powers of 1024; `_` may group
//! digits). `cargo xtask check` reads the config's sizes with it, and
//! libcap a component's `size` arguments, so both agree on every value.

use core::fmt;

/// Why a text is not a size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SizeError {
    /// No number in front (empty, a sign, a word).
    NotANumber,
    /// A decimal unit (`KB`, `M`, …): sizes are in powers of 1024.
    DecimalUnit,
    /// A unit that is not `B`, `KiB`, `MiB` or `GiB` (or a fraction).
    UnknownUnit,
    /// More than 2^64 − 1 bytes.
    TooLarge,
}

impl fmt::Display for SizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotANumber => "not a size: write a whole number of bytes, KiB, MiB or GiB",
            Self::DecimalUnit => "write KiB, MiB or GiB (powers of 1024), not a decimal unit",
            Self::UnknownUnit => "unknown unit: write a whole number of bytes, KiB, MiB or GiB",
            Self::TooLarge => "too large",
        })
    }
}

/// Reads a size in bytes: a whole number, optionally followed (with or
/// without a space) by `B`, `KiB`, `MiB` or `GiB`.
///
/// ```
/// use basalt_abi::size::{SizeError, parse};
/// assert_eq!(parse("64 KiB"), Ok(64 << 10));
/// assert_eq!(parse("1_048_576"), Ok(1 << 20));
/// assert_eq!(parse("8 KB"), Err(SizeError::DecimalUnit));
/// assert_eq!(parse("1.5 MiB"), Err(SizeError::UnknownUnit));
/// ```
pub fn parse(text: &str) -> Result<u64, SizeError> {
    let t = text.trim();
    let digits = t
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let shift = match unit.trim_start() {
        "" | "B" => 0,
        "KiB" => 10,
        "MiB" => 20,
        "GiB" => 30,
        "K" | "k" | "KB" | "kB" | "M" | "MB" | "G" | "GB" => {
            return Err(if number.is_empty() {
                SizeError::NotANumber
            } else {
                SizeError::DecimalUnit
            });
        }
        _ if number.is_empty() => return Err(SizeError::NotANumber),
        _ => return Err(SizeError::UnknownUnit),
    };
    let mut n: u64 = 0;
    let mut any = false;
    for b in number.bytes().filter(|&b| b != b'_') {
        any = true;
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(SizeError::TooLarge)?;
    }
    if !any {
        return Err(SizeError::NotANumber);
    }
    n.checked_mul(1 << shift).ok_or(SizeError::TooLarge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes_and_binary_units() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("64KiB"), Ok(64 << 10));
        assert_eq!(parse(" 1 GiB "), Ok(1 << 30));
        assert_eq!(parse("0"), Ok(0));
        assert_eq!(parse("12 B"), Ok(12));
    }

    #[test]
    fn what_is_not_a_size() {
        assert_eq!(parse(""), Err(SizeError::NotANumber));
        assert_eq!(parse("lots"), Err(SizeError::NotANumber));
        assert_eq!(parse("-4096"), Err(SizeError::NotANumber));
        assert_eq!(parse("_"), Err(SizeError::NotANumber));
        assert_eq!(parse("KiB"), Err(SizeError::NotANumber));
        assert_eq!(parse("64 kb"), Err(SizeError::UnknownUnit));
        assert_eq!(parse("99999999999999 GiB"), Err(SizeError::TooLarge));
        assert_eq!(parse("99999999999999999999"), Err(SizeError::TooLarge));
    }
}
