//! Sizes as people write them: `"4096"`, `"64 KiB"`, `"2 MiB"`, `"1 GiB"`.

/// The page size every heap, stack and region is a multiple of.
pub const PAGE: u64 = 4096;

/// Parses a size in bytes ([`basalt_abi::size`], which components read
/// their `size` arguments with): a whole number, optionally followed
/// (with or without a space) by `KiB`, `MiB` or `GiB`.
pub fn parse(text: &str) -> Result<u64, String> {
    use basalt_abi::size::SizeError;
    let hint =
        "write a whole number of bytes, KiB, MiB or GiB, e.g. \"4096\", \"64 KiB\", \"2 MiB\"";
    basalt_abi::size::parse(text).map_err(|e| match e {
        SizeError::NotANumber => format!("`{text}` is not a size: {hint}"),
        SizeError::DecimalUnit => format!(
            "`{text}`: write KiB, MiB or GiB (powers of 1024), not `{}`",
            text.trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '_')
                .trim()
        ),
        SizeError::UnknownUnit => format!(
            "`{text}`: unknown unit `{}`: {hint}",
            text.trim()
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == '_')
                .trim()
        ),
        SizeError::TooLarge => format!("`{text}` is too large"),
    })
}

/// `bytes` the way a person writes it: the largest unit that divides it.
pub fn show(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes != 0 && bytes.is_multiple_of(1 << shift) {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_bytes_and_binary_units() {
        assert_eq!(parse("4096"), Ok(4096));
        assert_eq!(parse("64 KiB"), Ok(64 << 10));
        assert_eq!(parse("64KiB"), Ok(64 << 10));
        assert_eq!(parse("2 MiB"), Ok(2 << 20));
        assert_eq!(parse(" 1 GiB "), Ok(1 << 30));
        assert_eq!(parse("1_048_576"), Ok(1 << 20));
        assert_eq!(parse("0"), Ok(0));
    }

    #[test]
    fn bad_sizes_say_what_to_write() {
        assert!(parse("").unwrap_err().contains("is not a size"));
        assert!(parse("lots").unwrap_err().contains("is not a size"));
        assert!(parse("1.5 MiB").unwrap_err().contains("unknown unit"));
        assert!(parse("64 KB").unwrap_err().contains("powers of 1024"));
        assert!(parse("64 kb").unwrap_err().contains("unknown unit"));
        assert!(parse("-4096").unwrap_err().contains("is not a size"));
        assert!(
            parse("99999999999999 GiB")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn sizes_are_shown_in_the_largest_unit() {
        assert_eq!(show(64 << 10), "64 KiB");
        assert_eq!(show(3 << 20), "3 MiB");
        assert_eq!(show(2 << 30), "2 GiB");
        assert_eq!(show(1000), "1000 bytes");
        assert_eq!(show(0), "0 bytes");
    }
}
