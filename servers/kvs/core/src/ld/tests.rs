//! The parts on their own; the whole against Redis is
//! `tests/incrbyfloat_diff.rs`.

use super::*;

fn ld(s: &str) -> LongDouble {
    LongDouble::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s} parses"))
}

fn sum(a: &str, b: &str) -> String {
    ld(a).add(ld(b)).fmt_human()
}

#[test]
fn everyday_decimals_print_as_typed() {
    for s in [
        "0",
        "1",
        "1.5",
        "0.1",
        "10.6",
        "3.0e3",
        "-2.25",
        "5200",
        "123456.25",
    ] {
        let want = match s {
            "3.0e3" => "3000",
            other => other,
        };
        assert_eq!(ld(s).fmt_human(), want);
    }
    assert_eq!(sum("0.1", "0.2"), "0.3");
    assert_eq!(sum("10.50", "0.1"), "10.6");
    assert_eq!(sum("-0", "0"), "0");
    assert_eq!(ld("-0").fmt_human(), "0");
    // Seventeen places show where the significand stops (Redis 7.0.15
    // answers `SET x 123456789.123` and `INCRBYFLOAT x 0` so).
    assert_eq!(
        ld("123456789.123").fmt_human(),
        "123456789.12299999999959255"
    );
    assert_eq!(ld("1e-4940").fmt_human(), "0");
}

#[test]
fn the_grammar_is_strtolds() {
    for bad in [
        "", " 1", "1 ", "1e", "1e+", ".", "e5", "+-1", "nan", "1.2.3", "--1",
    ] {
        assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
    }
    for good in [
        "1.",
        ".5",
        "+7",
        "1E3",
        "1e-3",
        "inf",
        "-Infinity",
        "0e-99999999",
    ] {
        assert!(LongDouble::parse(good.as_bytes()).is_some(), "{good:?}");
    }
    // A range error: overflow, or an underflow to zero.
    assert!(LongDouble::parse(b"1e5000").is_none());
    assert!(LongDouble::parse(b"1e-5000").is_none());
    assert!(LongDouble::parse(b"1e4932").is_some());
    assert!(LongDouble::parse(b"1e-4940").is_some(), "a subnormal");
}

#[test]
fn the_sixty_four_bit_significand_shows() {
    // 2^64 + 1 does not fit: it rounds to even, 2^64.
    assert_eq!(
        ld("18446744073709551617").fmt_human(),
        "18446744073709551616"
    );
    // 2^63 + 1 does.
    assert_eq!(ld("9223372036854775809").fmt_human(), "9223372036854775809");
    // 1/3 to 17 places, rounded.
    assert_eq!(sum("0.33333333333333333333333", "0"), "0.33333333333333333");
    // Ties to even at the 18th place: 2^-18 is 0.000003814697265625.
    assert_eq!(
        ld("0.000003814697265625").fmt_human(),
        "0.00000381469726562"
    );
    assert_eq!(
        ld("0.000011444091796875").fmt_human(),
        "0.00001144409179688"
    );
}

#[test]
fn infinities_and_cancellation() {
    assert!(!ld("inf").is_finite());
    assert_eq!(ld("-inf").fmt_human(), "-inf");
    assert!(!ld("1e4932").add(ld("1e4932")).is_finite(), "overflow");
    assert_eq!(sum("5", "-5"), "0");
    assert_eq!(sum("1e30", "-1e30"), "0");
    // Far apart: the small one is lost (1e30 itself does not fit in 64
    // bits, as Redis shows it).
    assert_eq!(sum("1e30", "1e-30"), "1000000000000000000024696061952");
}

#[test]
fn hexadecimal_as_strtold_reads_it() {
    assert_eq!(ld("0x10").fmt_human(), "16");
    assert_eq!(ld("-0X1.8p1").fmt_human(), "-3");
    assert_eq!(ld("0x.8").fmt_human(), "0.5");
    assert_eq!(ld("0x1p-2").fmt_human(), "0.25");
    for bad in ["0x", "0xp1", "0x1p", "0x1g", "0x1.2.3"] {
        assert!(LongDouble::parse(bad.as_bytes()).is_none(), "{bad:?}");
    }
    assert!(LongDouble::parse(b"0x1p99999").is_none(), "overflow");
}
