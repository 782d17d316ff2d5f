//! `long double` as Redis computes INCRBYFLOAT and HINCRBYFLOAT in it on
//! x86-64 (the x87 80-bit format: a 64-bit significand, exponents from
//! −16382 to 16383), in software: exact decimal parsing as `strtold` does
//! it, addition, and `%.17Lf` printing, each correctly rounded (to
//! nearest, ties to even), so that a chain of increments lands on the
//! bits Redis's lands on and prints the digits Redis prints.
//!
//! A value is `m × 2^e` with `m` a 64-bit integer whose top bit is set
//! (normal), or smaller below the least exponent (subnormal). The exact
//! arithmetic that rounding needs is done on [`Big`], a small unsigned
//! big integer.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::Ordering;

/// The least exponent `e` of `m × 2^e` (normal values start at 2^−16382).
const MIN_EXP: i64 = -16382 - 63;
/// The greatest exponent: values stay below 2^16384.
const MAX_EXP: i64 = 16383 - 63;

/// An 80-bit extended-precision number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LongDouble {
    negative: bool,
    value: Magnitude,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Magnitude {
    Zero,
    /// `mantissa × 2^exp`.
    Finite {
        mantissa: u64,
        exp: i64,
    },
    Infinite,
}

impl LongDouble {
    /// Zero.
    pub(crate) const ZERO: LongDouble = LongDouble {
        negative: false,
        value: Magnitude::Zero,
    };

    /// Reads `s` as Redis's `string2ld` does with `strtold`: a sign, then
    /// digits with a point and an exponent, or `0x` and hexadecimal digits
    /// with a point and a binary exponent (`p`), or `inf`/`infinity`; the
    /// whole string, no leading blank, nothing that overflows or
    /// underflows to zero, no NaN.
    pub(crate) fn parse(s: &[u8]) -> Option<LongDouble> {
        // Redis's buffer for it holds 5 KiB.
        if s.is_empty() || s.len() >= 5 * 1024 {
            return None;
        }
        let (negative, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(LongDouble {
                negative,
                value: Magnitude::Infinite,
            });
        }
        let value = match body.get(..2) {
            Some(b"0x" | b"0X") => from_hex(&body[2..])?,
            _ => {
                let (digits, exp10) = decimal(body)?;
                from_decimal(&digits, exp10)?
            }
        };
        Some(LongDouble { negative, value })
    }

    /// Whether it is neither infinite nor NaN (there is no NaN here).
    pub(crate) fn is_finite(self) -> bool {
        self.value != Magnitude::Infinite
    }

    /// `self + other`, rounded.
    pub(crate) fn add(self, other: LongDouble) -> LongDouble {
        use Magnitude::{Finite, Infinite, Zero};
        match (self.value, other.value) {
            (Infinite, _) => self,
            (_, Infinite) => other,
            (Zero, Zero) => LongDouble {
                negative: self.negative && other.negative,
                value: Zero,
            },
            (Zero, _) => other,
            (_, Zero) => self,
            (
                Finite {
                    mantissa: ma,
                    exp: ea,
                },
                Finite {
                    mantissa: mb,
                    exp: eb,
                },
            ) => {
                let (big, small, sb) = if (ea, ma) >= (eb, mb) {
                    ((ma, ea, self.negative), (mb, eb), other.negative)
                } else {
                    ((mb, eb, other.negative), (ma, ea), self.negative)
                };
                let (mbig, ebig, negative) = big;
                // Far below half the larger one's last place: no effect.
                if ebig - small.1 > 130 {
                    return LongDouble {
                        negative,
                        value: big_value(mbig, ebig),
                    };
                }
                let a = Big::from_u64(mbig).shl((ebig - small.1) as usize);
                let b = Big::from_u64(small.0);
                let (sum, negative) = if negative == sb {
                    (a.add(&b), negative)
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => return LongDouble::ZERO,
                        Ordering::Greater => (a.sub(&b), negative),
                        Ordering::Less => (b.sub(&a), sb),
                    }
                };
                LongDouble {
                    negative,
                    value: round(&sum, false, small.1),
                }
            }
        }
    }

    /// `printf("%.17Lf")` with its trailing zeros (and a bare point) cut,
    /// `-0` as `0`, and `inf`/`-inf`: Redis's `ld2string(LD_STR_HUMAN)`.
    pub(crate) fn fmt_human(self) -> String {
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let (mantissa, exp) = match self.value {
            Magnitude::Infinite => {
                out.push_str("inf");
                return out;
            }
            Magnitude::Zero => (0, 0),
            Magnitude::Finite { mantissa, exp } => (mantissa, exp),
        };
        let m = Big::from_u64(mantissa);
        let (int, frac, frac_bits) = if exp >= 0 {
            (m.shl(exp as usize), Big::zero(), 0)
        } else {
            let bits = (-exp) as usize;
            (m.shr(bits), m.low_bits(bits), bits)
        };
        // Eighteen fractional digits, the last for rounding, and whether
        // anything is left after them.
        let mut frac = frac;
        let mut digits = [0u8; 18];
        for d in &mut digits {
            frac = frac.mul_small(10);
            *d = frac.shr(frac_bits).to_u64() as u8;
            frac = frac.low_bits(frac_bits);
        }
        let rest = !frac.is_zero();
        let mut kept: Vec<u8> = digits[..17].to_vec();
        let up = match digits[17] {
            d if d > 5 => true,
            5 => rest || kept[16] % 2 == 1,
            _ => false,
        };
        let mut int = int;
        if up {
            // Carry through the fraction, and into the integer part.
            let mut i = 17;
            loop {
                if i == 0 {
                    int = int.add(&Big::from_u64(1));
                    break;
                }
                i -= 1;
                if kept[i] == 9 {
                    kept[i] = 0;
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
        out.push_str(&int.to_decimal());
        while kept.last() == Some(&0) {
            kept.pop();
        }
        if !kept.is_empty() {
            out.push('.');
            out.extend(kept.iter().map(|d| char::from(b'0' + d)));
        }
        if out == "-0" {
            out.remove(0);
        }
        out
    }
}

/// A normal value's magnitude.
fn big_value(mantissa: u64, exp: i64) -> Magnitude {
    Magnitude::Finite { mantissa, exp }
}

/// The digits (leading zeros dropped) and the power of ten of a decimal
/// in `strtold`'s grammar: digits, a point, digits (one side at least),
/// then `e` or `E`, a sign and digits; `None` for anything else.
fn decimal(s: &[u8]) -> Option<(Vec<u8>, i64)> {
    let mut i = 0;
    let mut digits = Vec::new();
    let mut exp10: i64 = 0;
    let mut seen = false;
    while i < s.len() && s[i].is_ascii_digit() {
        digits.push(s[i] - b'0');
        seen = true;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            digits.push(s[i] - b'0');
            exp10 -= 1;
            seen = true;
            i += 1;
        }
    }
    if !seen {
        return None;
    }
    exp10 += exponent(&s[i..], b'e')?;
    let first = digits.iter().position(|&d| d != 0).unwrap_or(digits.len());
    digits.drain(..first);
    // Trailing zeros move into the exponent.
    while digits.last() == Some(&0) {
        digits.pop();
        exp10 += 1;
    }
    Some((digits, exp10))
}

/// What is left of a number after its digits: nothing (an exponent of
/// 0), or `marker` (either case), a sign and decimal digits; `None` for
/// anything else. A huge exponent is cut where any value is out of range
/// anyway.
fn exponent(rest: &[u8], marker: u8) -> Option<i64> {
    let Some((&first, rest)) = rest.split_first() else {
        return Some(0);
    };
    if first.to_ascii_lowercase() != marker {
        return None;
    }
    let (negative, digits) = match rest.first() {
        Some(b'-') => (true, &rest[1..]),
        Some(b'+') => (false, &rest[1..]),
        _ => (false, rest),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let e = digits
        .iter()
        .fold(0i64, |e, d| (e * 10 + i64::from(d - b'0')).min(1 << 40));
    Some(if negative { -e } else { e })
}

/// A hexadecimal float after its `0x`: hexadecimal digits with a point
/// (one side at least), then `p` or `P`, a sign and decimal digits, all
/// optional but the digits; rounded, `None` on a range error.
fn from_hex(s: &[u8]) -> Option<Magnitude> {
    let mut i = 0;
    let mut n = Big::zero();
    let mut exp2: i64 = 0;
    let mut seen = false;
    let mut point = false;
    while i < s.len() {
        match s[i] {
            b'.' if !point => point = true,
            c if c.is_ascii_hexdigit() => {
                let d = (c as char).to_digit(16).unwrap_or(0);
                n = n.shl(4).add(&Big::from_u64(u64::from(d)));
                if point {
                    exp2 -= 4;
                }
                seen = true;
            }
            _ => break,
        }
        i += 1;
    }
    if !seen {
        return None;
    }
    exp2 += exponent(&s[i..], b'p')?;
    if n.is_zero() {
        return Some(Magnitude::Zero);
    }
    // Far outside the range either way (the rounding below would shift
    // by as much).
    let top = exp2 + n.bits() as i64;
    if top > 16400 {
        return None;
    }
    if top < -16500 {
        return None;
    }
    match round(&n, false, exp2) {
        Magnitude::Infinite | Magnitude::Zero => None,
        finite => Some(finite),
    }
}

/// `digits × 10^exp10`, rounded; `None` where `strtold` reports a range
/// error (an overflow, or an underflow to zero).
fn from_decimal(digits: &[u8], exp10: i64) -> Option<Magnitude> {
    if digits.is_empty() {
        return Some(Magnitude::Zero);
    }
    // The decimal exponent of the leading digit.
    let lead = exp10 + digits.len() as i64 - 1;
    if lead > 4933 {
        return None;
    }
    if lead < -4952 {
        return None;
    }
    let mut d = Big::zero();
    for &digit in digits {
        d = d.mul_small(10).add(&Big::from_u64(u64::from(digit)));
    }
    let value = if exp10 >= 0 {
        round(&d.mul(&Big::pow10(exp10 as usize)), false, 0)
    } else {
        let p = Big::pow10((-exp10) as usize);
        // Enough quotient bits for the rounding: 66 at least.
        let k = (66 + p.bits()).saturating_sub(d.bits());
        let (q, r) = d.shl(k).divmod(&p);
        round(&q, !r.is_zero(), -(k as i64))
    };
    match value {
        Magnitude::Infinite | Magnitude::Zero => None,
        finite => Some(finite),
    }
}

/// `n × 2^exp` (plus a little more, if `sticky`), rounded to nearest, ties
/// to even, to 64 significant bits, or fewer below the least exponent.
fn round(n: &Big, sticky: bool, exp: i64) -> Magnitude {
    let bits = n.bits();
    if bits == 0 {
        return Magnitude::Zero;
    }
    // The exponent of the result with all 64 bits, and the bits dropped.
    let mut e = exp + bits as i64 - 64;
    let mut drop = bits as i64 - 64;
    if e < MIN_EXP {
        drop += MIN_EXP - e;
        e = MIN_EXP;
    }
    let (mut mantissa, half, rest) = if drop <= 0 {
        (n.shl((-drop) as usize).to_u64(), false, false)
    } else {
        let drop = drop as usize;
        let kept = n.shr(drop).to_u64();
        let half = n.bit(drop - 1);
        let rest = sticky || !n.low_bits(drop - 1).is_zero();
        (kept, half, rest)
    };
    let rest = rest || (drop <= 0 && sticky);
    if half && (rest || mantissa & 1 == 1) {
        mantissa = mantissa.wrapping_add(1);
        if mantissa == 0 {
            // 2^64: one more binary place.
            mantissa = 1 << 63;
            e += 1;
        }
    }
    if mantissa == 0 {
        return Magnitude::Zero;
    }
    if e > MAX_EXP {
        return Magnitude::Infinite;
    }
    Magnitude::Finite { mantissa, exp: e }
}

/// An unsigned big integer, 32-bit limbs, least significant first, no
/// high zero limbs.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(n: u64) -> Big {
        let mut b = Big(vec![n as u32, (n >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> usize {
        self.0
            .last()
            .map_or(0, |top| self.0.len() * 32 - top.leading_zeros() as usize)
    }

    fn bit(&self, i: usize) -> bool {
        self.0.get(i / 32).is_some_and(|l| l >> (i % 32) & 1 == 1)
    }

    /// The low 64 bits.
    fn to_u64(&self) -> u64 {
        let l = |i: usize| u64::from(self.0.get(i).copied().unwrap_or(0));
        l(0) | l(1) << 32
    }

    fn pow10(n: usize) -> Big {
        let mut b = Big::from_u64(1);
        let mut left = n;
        while left > 0 {
            let step = left.min(9);
            b = b.mul_small(10u32.pow(step as u32));
            left -= step;
        }
        b
    }

    fn shl(&self, n: usize) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (limbs, bits) = (n / 32, n % 32);
        let mut out = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.0 {
            if bits == 0 {
                out.push(l);
            } else {
                out.push(l << bits | carry);
                carry = l >> (32 - bits);
            }
        }
        if carry != 0 {
            out.push(carry);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn shr(&self, n: usize) -> Big {
        let (limbs, bits) = (n / 32, n % 32);
        if limbs >= self.0.len() {
            return Big::zero();
        }
        let src = &self.0[limbs..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let hi = src.get(i + 1).copied().unwrap_or(0);
            out.push(if bits == 0 {
                src[i]
            } else {
                src[i] >> bits | hi << (32 - bits)
            });
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    /// The low `n` bits.
    fn low_bits(&self, n: usize) -> Big {
        let (limbs, bits) = (n / 32, n % 32);
        let mut out: Vec<u32> = self.0.iter().take(limbs + 1).copied().collect();
        if out.len() > limbs {
            out[limbs] &= if bits == 0 { 0 } else { (1u32 << bits) - 1 };
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn add(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(other.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(other.0.len()) {
            let s = u64::from(self.0.get(i).copied().unwrap_or(0))
                + u64::from(other.0.get(i).copied().unwrap_or(0))
                + carry;
            out.push(s as u32);
            carry = s >> 32;
        }
        if carry != 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self - other`, `self` being the larger.
    fn sub(&self, other: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut d =
                i64::from(self.0[i]) - i64::from(other.0.get(i).copied().unwrap_or(0)) - borrow;
            borrow = 0;
            if d < 0 {
                d += 1 << 32;
                borrow = 1;
            }
            out.push(d as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn mul_small(&self, m: u32) -> Big {
        let mut out = Vec::with_capacity(self.0.len() + 1);
        let mut carry = 0u64;
        for &l in &self.0 {
            let p = u64::from(l) * u64::from(m) + carry;
            out.push(p as u32);
            carry = p >> 32;
        }
        if carry != 0 {
            out.push(carry as u32);
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn mul(&self, other: &Big) -> Big {
        let mut out = vec![0u32; self.0.len() + other.0.len()];
        for (i, &a) in self.0.iter().enumerate() {
            let mut carry = 0u64;
            for (j, &b) in other.0.iter().enumerate() {
                let t = u64::from(a) * u64::from(b) + u64::from(out[i + j]) + carry;
                out[i + j] = t as u32;
                carry = t >> 32;
            }
            out[i + other.0.len()] = carry as u32;
        }
        let mut b = Big(out);
        b.trim();
        b
    }

    fn cmp(&self, other: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.iter().rev().cmp(other.0.iter().rev()))
    }

    /// Quotient and remainder, by binary long division.
    fn divmod(&self, d: &Big) -> (Big, Big) {
        let mut q = vec![0u32; self.0.len()];
        let mut r = Big::zero();
        for i in (0..self.bits()).rev() {
            r = r.shl(1);
            if self.bit(i) {
                r = r.add(&Big::from_u64(1));
            }
            if r.cmp(d) != Ordering::Less {
                r = r.sub(d);
                q[i / 32] |= 1 << (i % 32);
            }
        }
        let mut q = Big(q);
        q.trim();
        (q, r)
    }

    /// Decimal digits (`0` for zero).
    fn to_decimal(&self) -> String {
        let mut chunks = Vec::new();
        let mut n = self.clone();
        while !n.is_zero() {
            let mut rem = 0u64;
            for l in n.0.iter_mut().rev() {
                let cur = rem << 32 | u64::from(*l);
                *l = (cur / 1_000_000_000) as u32;
                rem = cur % 1_000_000_000;
            }
            n.trim();
            chunks.push(rem as u32);
        }
        let mut out = String::new();
        match chunks.pop() {
            None => out.push('0'),
            Some(top) => {
                out.push_str(&alloc::format!("{top}"));
                for c in chunks.iter().rev() {
                    out.push_str(&alloc::format!("{c:09}"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
