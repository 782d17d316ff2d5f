//! HyperLogLog in Redis 7.0's byte layout, so that the strings PFADD,
//! PFCOUNT and PFMERGE leave are the bytes Redis would hold, and a string
//! made by Redis (or by a client) counts the same here.
//!
//! # Layout
//!
//! A 16-byte header: `HYLL`, the encoding (0 dense, 1 sparse), three
//! unused bytes (kept as found), and the cached cardinality as a `u64`
//! little-endian whose top bit (bit 7 of byte 15) marks it stale.
//!
//! 16384 registers (the low 14 bits of an element's hash pick one) hold
//! the longest run of zeros, plus one, seen in the other 50 bits:
//!
//! - **dense**: 6 bits each, packed from the least significant bit of
//!   each byte up, 12288 bytes; the string is exactly [`DENSE_LEN`] long.
//! - **sparse**: run-length opcodes covering the registers in order:
//!   `00xxxxxx` ZERO (1 to 64 zero registers), `01xxxxxx yyyyyyyy` XZERO
//!   (1 to 16384 zero registers, 14 bits), `1vvvvvxx` VAL (1 to 4
//!   registers of value 1 to 32). An HLL starts sparse; it becomes dense
//!   for good when a register needs more than 32, or when the sparse form
//!   would pass `hll-sparse-max-bytes`.
//!
//! Updates of the sparse form split and merge opcodes exactly as Redis
//! does, so the same commands give the same bytes; the form's history
//! shows in them (adjacent zero runs are never joined, values only in a
//! window around the change).
//!
//! # Hostile bytes
//!
//! Any string may reach these functions (SET, SETRANGE): they never
//! panic, never index out of bounds, and allocate at most a dense HLL and
//! a few bytes of growth per register set. A byte past the end of a
//! string reads as 0, like the terminator Redis's strings carry, which
//! Redis reads when a string ends in half an XZERO (Redis may also write
//! one there; kvs-core keeps nothing past the end: docs/kvs.md).

use alloc::vec;
use alloc::vec::Vec;

/// Header bytes.
pub(crate) const HEADER_LEN: usize = 16;
/// Registers: 2^14.
pub(crate) const REGISTERS: usize = 1 << INDEX_BITS;
/// Bits of the hash that pick the register.
const INDEX_BITS: u32 = 14;
/// Bits of the hash whose run of zeros is counted.
const RUN_BITS: u32 = 64 - INDEX_BITS;
/// Bits per dense register.
const REGISTER_BITS: usize = 6;
/// A dense register's mask.
const REGISTER_MASK: u8 = (1 << REGISTER_BITS) - 1;
/// A dense HLL's whole length.
pub(crate) const DENSE_LEN: usize = HEADER_LEN + REGISTERS * REGISTER_BITS / 8;
/// `hll-sparse-max-bytes` until set.
pub(crate) const DEFAULT_SPARSE_MAX: usize = 3000;

/// The encoding byte of a dense HLL.
const DENSE: u8 = 0;
/// The encoding byte of a sparse HLL.
const SPARSE: u8 = 1;
/// Where the encoding byte is.
const ENCODING_AT: usize = 4;
/// Where the cached cardinality is.
const CARD_AT: usize = 8;
/// The byte holding the stale mark, and the mark.
const STALE_AT: usize = 15;
const STALE: u8 = 0x80;

/// The largest value a VAL opcode holds.
const VAL_MAX: u8 = 32;
/// The most registers one VAL opcode covers.
const VAL_MAX_RUN: usize = 4;
/// The most registers one ZERO opcode covers.
const ZERO_MAX_RUN: usize = 64;
/// The most registers one XZERO opcode covers.
const XZERO_MAX_RUN: usize = REGISTERS;

/// The seed of the element hash.
const HASH_SEED: u64 = 0xadc8_3b19;

/// 0.5 / ln 2: the bias constant of the estimator as the register count
/// grows without bound (the f64 nearest Redis's 0.721347520444481703680).
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

/// What the HLL commands find wrong with a string.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum HllError {
    /// Not an HLL at all: too short, no `HYLL`, an unknown encoding, or a
    /// dense one of the wrong length (Redis's `WRONGTYPE Key is not a valid
    /// HyperLogLog string value.`).
    NotHll,
    /// An HLL whose sparse opcodes do not cover exactly the registers
    /// (Redis's `INVALIDOBJ Corrupted HLL object detected`).
    Corrupt,
}

/// How an HLL's registers are stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Encoding {
    Dense,
    Sparse,
}

/// The encoding of `s` if it passes Redis's checks for an HLL (header,
/// encoding, a dense one's length); the sparse opcodes are checked only
/// when read.
pub(crate) fn encoding(s: &[u8]) -> Result<Encoding, HllError> {
    if s.len() < HEADER_LEN || &s[..4] != b"HYLL" {
        return Err(HllError::NotHll);
    }
    match s[ENCODING_AT] {
        DENSE if s.len() == DENSE_LEN => Ok(Encoding::Dense),
        SPARSE => Ok(Encoding::Sparse),
        _ => Err(HllError::NotHll),
    }
}

/// A new, empty HLL: sparse, one XZERO over every register, the cached
/// cardinality 0 and valid.
pub(crate) fn empty() -> Vec<u8> {
    let mut s = Vec::with_capacity(HEADER_LEN + 2);
    s.extend_from_slice(b"HYLL");
    s.push(SPARSE);
    s.resize(HEADER_LEN, 0);
    push_xzero(&mut s, XZERO_MAX_RUN);
    s
}

/// The cached cardinality, unless it is marked stale.
pub(crate) fn cached(s: &[u8]) -> Option<u64> {
    let card: [u8; 8] = s.get(CARD_AT..CARD_AT + 8)?.try_into().ok()?;
    (card[7] & STALE == 0).then(|| u64::from_le_bytes(card))
}

/// Stores `card` as the cached cardinality (a value with the top bit set
/// reads as stale, as in Redis).
pub(crate) fn set_cached(s: &mut [u8], card: u64) {
    if let Some(c) = s.get_mut(CARD_AT..CARD_AT + 8) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// Marks the cached cardinality stale.
pub(crate) fn invalidate(s: &mut [u8]) {
    if let Some(b) = s.get_mut(STALE_AT) {
        *b |= STALE;
    }
}

/// MurmurHash64A (Austin Appleby's 64-bit MurmurHash2), reading words
/// little-endian: the hash Redis gives elements.
pub(crate) fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut words = data.chunks_exact(8);
    for w in &mut words {
        let mut k = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register `element` falls in and the value it offers: the run of
/// zeros from bit 14 of its hash, plus one (1 to 51).
pub(crate) fn register_of(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    // The bit past the counted ones stops the run at 50 zeros.
    let rest = (hash >> INDEX_BITS) | (1 << RUN_BITS);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Adds `element` to the HLL `s` (checked by [`encoding`]); whether a
/// register grew. A sparse HLL may become dense (see [`set`]).
pub(crate) fn add(s: &mut Vec<u8>, element: &[u8], sparse_max: usize) -> Result<bool, HllError> {
    let (index, value) = register_of(element);
    set(s, index, value, sparse_max)
}

/// Raises register `index` of the HLL `s` (checked by [`encoding`]) to
/// `value` if it is lower; whether it did. A sparse HLL whose change
/// needs a value above 32, or would grow it past `sparse_max` bytes,
/// becomes dense first. `Corrupt` when the sparse opcodes do not reach
/// the register, or do not cover the registers exactly when made dense;
/// `s` is unchanged then.
pub(crate) fn set(
    s: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max: usize,
) -> Result<bool, HllError> {
    match s.get(ENCODING_AT) {
        Some(&DENSE) => Ok(dense_raise(&mut s[HEADER_LEN..], index, value)),
        Some(&SPARSE) => sparse_set(s, index, value, sparse_max),
        _ => Err(HllError::NotHll),
    }
}

/// Dense register `i` of `regs`: 6 bits starting at bit `6i`, counted
/// from the least significant bit of each byte.
fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * REGISTER_BITS / 8;
    let shift = (i * REGISTER_BITS) % 8;
    let lo = u16::from(regs.get(byte).copied().unwrap_or(0));
    let hi = u16::from(regs.get(byte + 1).copied().unwrap_or(0));
    (((lo | hi << 8) >> shift) as u8) & REGISTER_MASK
}

/// Sets dense register `i` of `regs` to `value` (below 64).
fn dense_put(regs: &mut [u8], i: usize, value: u8) {
    let byte = i * REGISTER_BITS / 8;
    let shift = (i * REGISTER_BITS) % 8;
    let mask = u16::from(REGISTER_MASK) << shift;
    let bits = u16::from(value & REGISTER_MASK) << shift;
    if let Some(b) = regs.get_mut(byte) {
        *b = (*b & !(mask as u8)) | bits as u8;
    }
    // The last register ends inside its first byte: nothing spills over.
    if let Some(b) = regs.get_mut(byte + 1) {
        *b = (*b & !((mask >> 8) as u8)) | (bits >> 8) as u8;
    }
}

/// Raises dense register `i` to `value` if it is lower; whether it did.
fn dense_raise(regs: &mut [u8], i: usize, value: u8) -> bool {
    if value > dense_get(regs, i) {
        dense_put(regs, i, value);
        true
    } else {
        false
    }
}

/// One sparse opcode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    /// `run` zero registers (ZERO or XZERO).
    Zero { run: usize, long: bool },
    /// `run` registers of `value`.
    Val { value: u8, run: usize },
}

impl Op {
    /// The opcode at `p` of `s` (`p` within it; the second byte of an XZERO
    /// past the end reads as 0).
    fn at(s: &[u8], p: usize) -> Op {
        let b = s[p];
        if b & 0x80 != 0 {
            Op::Val {
                value: ((b >> 2) & 0x1f) + 1,
                run: usize::from(b & 0x03) + 1,
            }
        } else if b & 0x40 != 0 {
            let low = s.get(p + 1).copied().unwrap_or(0);
            Op::Zero {
                run: (usize::from(b & 0x3f) << 8 | usize::from(low)) + 1,
                long: true,
            }
        } else {
            Op::Zero {
                run: usize::from(b & 0x3f) + 1,
                long: false,
            }
        }
    }

    /// Registers covered.
    fn run(self) -> usize {
        match self {
            Op::Zero { run, .. } | Op::Val { run, .. } => run,
        }
    }

    /// Bytes taken.
    fn len(self) -> usize {
        match self {
            Op::Zero { long: true, .. } => 2,
            _ => 1,
        }
    }
}

/// The VAL opcode byte (`value` 1..=32, `run` 1..=4).
fn val_byte(value: u8, run: usize) -> u8 {
    0x80 | (value - 1) << 2 | (run - 1) as u8
}

/// Appends the zero run `run` (1..=16384): a ZERO up to 64, else an XZERO.
fn push_zeros(out: &mut Vec<u8>, run: usize) {
    if run > ZERO_MAX_RUN {
        push_xzero(out, run);
    } else {
        out.push((run - 1) as u8);
    }
}

/// Appends an XZERO of `run` (1..=16384).
fn push_xzero(out: &mut Vec<u8>, run: usize) {
    let n = run - 1;
    out.push(0x40 | (n >> 8) as u8);
    out.push(n as u8);
}

/// [`set`] on a sparse HLL.
fn sparse_set(
    s: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max: usize,
) -> Result<bool, HllError> {
    if value > VAL_MAX {
        return promote(s, index, value);
    }
    // Find the opcode covering the register, the one before it, and the
    // first register it covers.
    let end = s.len();
    let mut p = HEADER_LEN;
    let mut first = 0usize;
    let mut prev = None;
    let mut op = None;
    while p < end {
        let here = Op::at(s, p);
        op = Some(here);
        if index < first + here.run() {
            break;
        }
        prev = Some(p);
        p += here.len();
        first += here.run();
    }
    let op = match op {
        Some(op) if p < end => op,
        _ => return Err(HllError::Corrupt),
    };
    // The easy cases change one byte in place.
    match op {
        Op::Val { value: old, .. } if old >= value => return Ok(false),
        Op::Val { run: 1, .. }
        | Op::Zero {
            run: 1,
            long: false,
        } => {
            s[p] = val_byte(value, 1);
            merge_vals(s, prev.unwrap_or(HEADER_LEN));
            invalidate(s);
            return Ok(true);
        }
        _ => {}
    }
    // Split the opcode around the register: what comes before it, the new
    // value, what comes after.
    let last = first + op.run() - 1;
    let mut seq: Vec<u8> = Vec::with_capacity(5);
    match op {
        Op::Zero { .. } => {
            if index != first {
                push_zeros(&mut seq, index - first);
            }
            seq.push(val_byte(value, 1));
            if index != last {
                push_zeros(&mut seq, last - index);
            }
        }
        Op::Val { value: old, .. } => {
            if index != first {
                seq.push(val_byte(old, index - first));
            }
            seq.push(val_byte(value, 1));
            if index != last {
                seq.push(val_byte(old, last - index));
            }
        }
    }
    let new_len = end + seq.len() - op.len();
    if seq.len() > op.len() && new_len > sparse_max {
        return promote(s, index, value);
    }
    // An XZERO cut short by the end of the string reaches past it: the
    // string is `new_len` long all the same, as in Redis.
    let old_end = (p + op.len()).min(end);
    s.splice(p..old_end, seq);
    s.truncate(new_len);
    merge_vals(s, prev.unwrap_or(HEADER_LEN));
    invalidate(s);
    Ok(true)
}

/// Joins adjacent VAL opcodes of one value (up to 4 registers) among the
/// five opcodes from `p`: the window Redis looks at after a change.
fn merge_vals(s: &mut Vec<u8>, mut p: usize) {
    let mut window = 5;
    while p < s.len() && window > 0 {
        window -= 1;
        let op = Op::at(s, p);
        let Op::Val { value, run } = op else {
            p += op.len();
            continue;
        };
        if let Some(&next) = s.get(p + 1)
            && let Op::Val {
                value: next_value,
                run: next_run,
            } = Op::at(&[next], 0)
            && next_value == value
            && run + next_run <= VAL_MAX_RUN
        {
            s[p + 1] = val_byte(value, run + next_run);
            s.remove(p);
            // Look at the joined opcode again: it may join the next one.
            continue;
        }
        p += 1;
    }
}

/// Makes the sparse HLL `s` dense, then raises register `index` to
/// `value` (which it needs: the register was lower).
fn promote(s: &mut Vec<u8>, index: usize, value: u8) -> Result<bool, HllError> {
    *s = to_dense(s)?;
    dense_raise(&mut s[HEADER_LEN..], index, value);
    Ok(true)
}

/// The sparse HLL `s` made dense: the same header (cached cardinality and
/// unused bytes included) with the dense encoding. `Corrupt` if the
/// opcodes do not cover exactly the registers.
pub(crate) fn to_dense(s: &[u8]) -> Result<Vec<u8>, HllError> {
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(s.get(..HEADER_LEN).ok_or(HllError::NotHll)?);
    dense[ENCODING_AT] = DENSE;
    let regs = &mut dense[HEADER_LEN..];
    walk(s, |first, value, run| {
        for i in first..first + run {
            dense_put(regs, i, value);
        }
    })?;
    Ok(dense)
}

/// The registers of the dense HLL `s`, in order (PFDEBUG GETREG).
pub(crate) fn registers(s: &[u8]) -> impl Iterator<Item = u8> + '_ {
    let regs = s.get(HEADER_LEN..).unwrap_or_default();
    (0..REGISTERS).map(move |i| dense_get(regs, i))
}

/// The opcodes of the sparse HLL `s` in words, as PFDEBUG DECODE writes
/// them: `z:<run>` for a ZERO, `Z:<run>` for an XZERO, `v:<value>,<run>`
/// for a VAL, separated by spaces.
pub(crate) fn decode(s: &[u8]) -> alloc::string::String {
    use core::fmt::Write;
    let mut out = alloc::string::String::new();
    let mut p = HEADER_LEN;
    while p < s.len() {
        let op = Op::at(s, p);
        let _ = match op {
            Op::Zero { run, long: false } => write!(out, "z:{run} "),
            Op::Zero { run, long: true } => write!(out, "Z:{run} "),
            Op::Val { value, run } => write!(out, "v:{value},{run} "),
        };
        p += op.len();
    }
    out.truncate(out.trim_end().len());
    out
}

/// PFSELFTEST's checks (see `cmd::hll::pfselftest`), drawing from `rng`;
/// what failed, if something did.
pub(crate) fn self_test(rng: &mut crate::hash::Rng) -> Result<(), &'static str> {
    // Every register of a dense HLL holds what was put in it, and only
    // that.
    let mut regs = vec![0u8; REGISTERS * REGISTER_BITS / 8];
    let values: Vec<u8> = (0..REGISTERS)
        .map(|_| (rng.next_u64() as u8) & REGISTER_MASK)
        .collect();
    for (i, &v) in values.iter().enumerate() {
        dense_put(&mut regs, i, v);
    }
    if values
        .iter()
        .enumerate()
        .any(|(i, &v)| dense_get(&regs, i) != v)
    {
        return Err("dense registers do not read back what was set");
    }
    // The same elements in a sparse and a dense HLL: the same registers,
    // and estimates within five standard errors.
    let mut sparse = empty();
    let mut dense = to_dense(&sparse).map_err(|_| "an empty sparse HLL does not convert")?;
    // The standard error, 1.04/√16384.
    let error = 1.04 / 128.0;
    for n in 1..=50_000u64 {
        let element = rng.next_u64().to_le_bytes();
        add(&mut sparse, &element, usize::MAX).map_err(|_| "PFADD failed on a sparse HLL")?;
        add(&mut dense, &element, usize::MAX).map_err(|_| "PFADD failed on a dense HLL")?;
        if n % 5_000 == 0 {
            let as_dense = to_dense(&sparse).map_err(|_| "a sparse HLL does not convert")?;
            if as_dense[HEADER_LEN..] != dense[HEADER_LEN..] {
                return Err("the sparse and dense registers differ");
            }
            let estimate = estimate(&histogram(&dense).map_err(|_| "no histogram")?) as f64;
            if (estimate - n as f64).abs() > 5.0 * error * n as f64 {
                return Err("an estimate is off by more than five standard errors");
            }
        }
    }
    Ok(())
}

/// Reads the opcodes of the sparse HLL `s`, calling `val(first, value,
/// run)` for each VAL opcode; `Corrupt` unless they cover the registers
/// exactly. (Redis 7.0.15 as released let a VAL past a whole cover pass
/// when merging; the fix for CVE-2025-32023, which Debian's 7.0.15
/// carries, made every reader as strict as PFCOUNT's.)
fn walk(s: &[u8], mut val: impl FnMut(usize, u8, usize)) -> Result<(), HllError> {
    let mut p = HEADER_LEN;
    let mut covered = 0usize;
    while p < s.len() {
        let op = Op::at(s, p);
        if covered + op.run() > REGISTERS {
            return Err(HllError::Corrupt);
        }
        if let Op::Val { value, run } = op {
            val(covered, value, run);
        }
        covered += op.run();
        p += op.len();
    }
    if covered == REGISTERS {
        Ok(())
    } else {
        Err(HllError::Corrupt)
    }
}

/// Registers one per byte: the maxima of the HLLs merged into them
/// (PFCOUNT of several keys, PFMERGE).
pub(crate) struct Max(Vec<u8>);

impl Max {
    /// All zero.
    pub(crate) fn new() -> Max {
        Max(vec![0; REGISTERS])
    }

    /// Raises each register to the HLL `s`'s; `NotHll` if [`encoding`]
    /// refuses `s`, `Corrupt` if its sparse opcodes do not cover exactly
    /// the registers (registers may have been raised by then).
    pub(crate) fn merge(&mut self, s: &[u8]) -> Result<(), HllError> {
        match encoding(s)? {
            Encoding::Dense => {
                let regs = &s[HEADER_LEN..];
                for (i, m) in self.0.iter_mut().enumerate() {
                    *m = (*m).max(dense_get(regs, i));
                }
            }
            Encoding::Sparse => {
                let max = &mut self.0;
                walk(s, |first, value, run| {
                    for m in max.iter_mut().skip(first).take(run) {
                        *m = (*m).max(value);
                    }
                })?;
            }
        }
        Ok(())
    }

    /// The registers above zero, in order, with their values.
    pub(crate) fn raised(&self) -> impl Iterator<Item = (usize, u8)> + '_ {
        self.0
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != 0)
            .map(|(i, &v)| (i, v))
    }

    /// The cardinality estimate of the registers ([`estimate`]).
    pub(crate) fn count(&self) -> u64 {
        let mut h = [0u32; 64];
        for &r in &self.0 {
            // Merged registers are below 64: dense ones have 6 bits.
            h[usize::from(r & REGISTER_MASK)] += 1;
        }
        estimate(&h)
    }
}

/// How many registers hold each value (0 to 63).
pub(crate) type Histogram = [u32; 64];

/// The histogram of the HLL `s` (checked by [`encoding`]); `Corrupt` when
/// its sparse opcodes do not cover exactly the registers.
pub(crate) fn histogram(s: &[u8]) -> Result<Histogram, HllError> {
    let mut h = [0u32; 64];
    match encoding(s)? {
        Encoding::Dense => {
            let regs = &s[HEADER_LEN..];
            for i in 0..REGISTERS {
                h[usize::from(dense_get(regs, i))] += 1;
            }
        }
        Encoding::Sparse => {
            let mut values = 0;
            walk(s, |_, value, run| {
                h[usize::from(value)] += run as u32;
                values += run;
            })?;
            h[0] = (REGISTERS - values) as u32;
        }
    }
    Ok(h)
}

/// The cardinality estimate of a register histogram: Otmar Ertl's
/// improved estimator ("New cardinality estimation algorithms for
/// HyperLogLog sketches", 2017), as Redis 7.0 computes it in `f64`, then
/// rounded as C's `llroundl` does on x86-64 (an estimate past `i64` is
/// `i64::MIN`, seen as a `u64`).
pub(crate) fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let top = RUN_BITS as usize + 1;
    let mut z = m * tau((m - f64::from(h[top])) / m);
    for &count in h[1..top].iter().rev() {
        z += f64::from(count);
        z *= 0.5;
    }
    z += m * sigma(f64::from(h[0]) / m);
    llround(ALPHA_INF * m * m / z) as u64
}

/// Ertl's σ(x) = x + Σ x^(2^k) 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if z == before {
            return z;
        }
    }
}

/// Ertl's τ(x) = (1 − x − Σ (1 − x^(2^−k))² 2^−k) / 3, summed until it
/// stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = sqrt(x);
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        // `pow(d, 2)` in Redis's source, which C compilers turn into this.
        z -= d * d * y;
        if z == before {
            return z / 3.0;
        }
    }
}

/// C's `llroundl` on x86-64 for a non-negative or NaN `x`: halves away
/// from zero; NaN and values past `i64` give `i64::MIN` (the processor's
/// "integer indefinite").
fn llround(x: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if !(x > -LIMIT && x < LIMIT) {
        return i64::MIN;
    }
    let whole = x as i64;
    // Exact: the fraction of an f64 is representable.
    let frac = x - whole as f64;
    if frac >= 0.5 {
        whole + 1
    } else if frac <= -0.5 {
        whole - 1
    } else {
        whole
    }
}

/// The square root of a positive normal `x`, correctly rounded (to
/// nearest, ties to even) as the processor's instruction gives Redis;
/// `core` has none. NaN for anything else.
fn sqrt(x: f64) -> f64 {
    let bits = x.to_bits();
    let biased = (bits >> 52) & 0x7ff;
    if x.is_sign_negative() || biased == 0 || biased == 0x7ff {
        return f64::NAN;
    }
    // x = mant · 2^exp with an even exp; the root of mant · 2^64 has 58 or
    // 59 bits, enough to round to 53.
    let mut mant = u128::from((bits & ((1 << 52) - 1)) | (1 << 52));
    let mut exp = biased as i64 - 1075;
    if exp % 2 != 0 {
        mant <<= 1;
        exp -= 1;
    }
    let n = mant << 64;
    let root = isqrt(n);
    let exact = root * root == n;
    let width = 128 - root.leading_zeros();
    let shift = width - 53;
    let mut q = root >> shift;
    let rem = root & ((1 << shift) - 1);
    let half = 1u128 << (shift - 1);
    if rem > half || (rem == half && (!exact || q & 1 == 1)) {
        q += 1;
    }
    // q ≤ 2^53 is exact as an f64; the power of two keeps it exact.
    let e2 = i64::from(shift) + (exp - 64) / 2;
    q as f64 * f64::from_bits(((e2 + 1023) as u64) << 52)
}

/// ⌊√n⌋, digit by digit.
fn isqrt(n: u128) -> u128 {
    let mut rest = n;
    let mut root = 0u128;
    let mut bit = 1u128 << 126;
    while bit > n {
        bit >>= 2;
    }
    while bit != 0 {
        if rest >= root + bit {
            rest -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    root
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::format;

    /// A hash of bytes, to compare against strings Redis made.
    fn fnv1a(s: &[u8]) -> u64 {
        s.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        })
    }

    fn with(elements: impl IntoIterator<Item = alloc::vec::Vec<u8>>) -> Vec<u8> {
        let mut s = empty();
        for e in elements {
            add(&mut s, &e, DEFAULT_SPARSE_MAX).unwrap();
        }
        s
    }

    fn count(s: &[u8]) -> u64 {
        estimate(&histogram(s).unwrap())
    }

    #[test]
    fn empty_is_sparse_and_counts_zero() {
        let s = empty();
        assert_eq!(s, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert_eq!(encoding(&s), Ok(Encoding::Sparse));
        assert_eq!(cached(&s), Some(0));
        assert_eq!(count(&s), 0);
    }

    #[test]
    fn bytes_match_redis() {
        // What Redis 7.0.15 holds after these PFADDs (cache not yet
        // marked stale: PFADD marks it after the adds).
        let cases: [(&[&str], &[u8]); 3] = [
            (&["a", "b", "c"], b"`\xf3\x80P\xb1\x84K\xfb\x80BZ"),
            (&["a"], b"q\xa6\x84NW"),
            (&["foo", "bar"], b"\\\xb3\x90Ja\x80X\xe7"),
        ];
        for (elements, body) in cases {
            let s = with(elements.iter().map(|e| e.as_bytes().to_vec()));
            assert_eq!(&s[HEADER_LEN..], body, "{elements:?}");
            assert_eq!(cached(&s), None, "a change marks the cache stale");
        }
    }

    #[test]
    fn sparse_and_dense_match_redis() {
        // `PFADD k e0 … e<n-1>` in Redis 7.0.15: the string's length and
        // hash, and PFCOUNT.
        let cases = [
            (100, 285, 0xb8de_76da_b4a4_065e, 100),
            (1000, 1906, 0x5935_de02_3280_6824, 1008),
            (10_000, DENSE_LEN, 0x7378_cbab_5ab5_c44b, 9973),
            (100_000, DENSE_LEN, 0xafbf_1713_dc5b_a3c8, 100_853),
        ];
        for (n, len, hash, card) in cases {
            let mut s = with((0..n).map(|i| format!("e{i}").into_bytes()));
            invalidate(&mut s);
            assert_eq!((s.len(), fnv1a(&s)), (len, hash), "{n} elements");
            assert_eq!(count(&s), card, "{n} elements");
        }
    }

    #[test]
    fn promotion_by_size_and_by_value() {
        // Small sparse limit: the first split that passes it goes dense.
        let mut s = empty();
        let mut i = 0;
        while encoding(&s) == Ok(Encoding::Sparse) {
            assert!(s.len() <= 40, "{}", s.len());
            add(&mut s, format!("x{i}").as_bytes(), 40).unwrap();
            i += 1;
        }
        assert_eq!(s.len(), DENSE_LEN);
        let dense = s.clone();
        // The same elements with room to spare stay sparse, and the
        // registers agree.
        let sparse = with((0..i).map(|i| format!("x{i}").into_bytes()));
        assert_eq!(encoding(&sparse), Ok(Encoding::Sparse));
        assert_eq!(histogram(&sparse), histogram(&dense));
        // A value above 32 cannot be sparse.
        let mut s = empty();
        assert_eq!(set(&mut s, 7, 33, DEFAULT_SPARSE_MAX), Ok(true));
        assert_eq!(encoding(&s), Ok(Encoding::Dense));
        assert_eq!(dense_get(&s[HEADER_LEN..], 7), 33);
        assert_eq!(set(&mut s, 7, 20, DEFAULT_SPARSE_MAX), Ok(false));
    }

    #[test]
    fn registers_round_trip() {
        let mut regs = vec![0u8; DENSE_LEN - HEADER_LEN];
        let value = |i: usize| ((i * 37 + 11) % 64) as u8;
        for i in 0..REGISTERS {
            dense_put(&mut regs, i, value(i));
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_get(&regs, i), value(i), "register {i}");
        }
        // Register 1 is the top two bits of byte 0 and the low four of 1.
        let mut regs = vec![0u8; 3];
        dense_put(&mut regs, 1, 0b111111);
        assert_eq!(regs, [0b1100_0000, 0b0000_1111, 0]);
        // Sparse and dense agree register by register.
        let mut s = empty();
        let mut d = to_dense(&s).unwrap();
        for (n, i) in [0, 1, 2, 63, 64, 65, 100, 8000, 16383, 16382, 5]
            .iter()
            .enumerate()
        {
            let v = (n % 32) as u8 + 1;
            set(&mut s, *i, v, usize::MAX).unwrap();
            set(&mut d, *i, v, usize::MAX).unwrap();
            let mut max = Max::new();
            max.merge(&s).unwrap();
            let mut dense_max = Max::new();
            dense_max.merge(&d).unwrap();
            assert_eq!(max.0, dense_max.0);
            assert_eq!(max.count(), count(&d));
            assert_eq!(to_dense(&s).unwrap()[HEADER_LEN..], d[HEADER_LEN..]);
        }
    }

    #[test]
    fn hash_and_register() {
        assert_eq!(murmur64a(b"", 0), 0);
        // Redis puts "a" in register 12711 with value 2 (its sparse
        // string, in `bytes_match_redis`, says so).
        assert_eq!(register_of(b"a"), (12711, 2));
        // Every length of tail hashes differently.
        let hashes: std::collections::BTreeSet<u64> = (0..17)
            .map(|n| murmur64a(&b"abcdefghijklmnopq"[..n], 7))
            .collect();
        assert_eq!(hashes.len(), 17);
    }

    #[test]
    fn hostile_strings_never_panic() {
        assert_eq!(encoding(b"HYLL"), Err(HllError::NotHll));
        assert_eq!(
            encoding(b"HYLX\x01\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        assert_eq!(
            encoding(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        assert_eq!(
            encoding(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0"),
            Err(HllError::NotHll)
        );
        let header = b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80".to_vec();
        let bodies: [&[u8]; 8] = [
            b"",
            b"\x40",
            b"\x7f",
            b"\x7f\xff\x7f\xff",
            b"\xff\xff\xff\xff",
            b"\x00\x7f\xfe",
            b"\x7f\xfe\x80",
            b"\x7f\xff\x80",
        ];
        for body in bodies {
            let mut s = header.clone();
            s.extend_from_slice(body);
            let h = histogram(&s);
            let m = Max::new().merge(&s);
            let d = to_dense(&s);
            let _ = add(&mut s.clone(), b"a", DEFAULT_SPARSE_MAX);
            for i in [0, 1, 16383, 20000] {
                let _ = set(&mut s.clone(), i, 40, DEFAULT_SPARSE_MAX);
                let _ = set(&mut s.clone(), i, 3, DEFAULT_SPARSE_MAX);
            }
            let valid = matches!(body, b"\x7f\xff" | b"\x00\x7f\xfe" | b"\x7f\xfe\x80");
            assert_eq!(h.is_ok(), valid, "{body:?}");
            assert_eq!(m.is_ok(), valid, "{body:?}");
            assert_eq!(d.is_ok(), valid, "{body:?}");
        }
        // Registers past 51 (only a client can write them) still count.
        let mut s = to_dense(&empty()).unwrap();
        for i in 0..REGISTERS {
            dense_put(&mut s[HEADER_LEN..], i, 63);
        }
        assert_eq!(
            count(&s) as i64,
            i64::MIN,
            "z is 0: the estimate is infinite"
        );
    }

    #[test]
    fn estimator_pieces() {
        assert_eq!(llround(2.5), 3);
        assert_eq!(llround(2.4999), 2);
        assert_eq!(llround(f64::INFINITY), i64::MIN);
        assert_eq!(llround(f64::NAN), i64::MIN);
        assert_eq!(llround(1e19), i64::MIN);
        assert_eq!(sigma(1.0), f64::INFINITY);
        assert_eq!(tau(1.0), 0.0);
        assert_eq!(tau(0.0), 0.0);
        // The square root is correctly rounded: as std's.
        let mut x = 1.0e-300f64;
        while x < 1.0e300 {
            for y in [
                x,
                f64::from_bits(x.to_bits() + 1),
                f64::from_bits(x.to_bits() + 12345),
            ] {
                assert_eq!(sqrt(y).to_bits(), y.sqrt().to_bits(), "{y:e}");
            }
            x *= 1.37;
        }
        for i in 0..REGISTERS as u32 {
            let y = f64::from(i) / REGISTERS as f64;
            if y > 0.0 {
                assert_eq!(sqrt(y).to_bits(), y.sqrt().to_bits(), "{y:e}");
            }
        }
        assert!(sqrt(-1.0).is_nan() && sqrt(0.0).is_nan());
    }
}
