//! LZF, the compression of RDB strings (Marc Lehmann's liblzf format).
//!
//! A compressed block is a sequence of items:
//!
//! | first byte | item |
//! | --- | --- |
//! | `000LLLLL` | a literal run of L+1 bytes (1..32), which follow |
//! | `LLLooooo oooooooo` | a copy of L+2 bytes (L = 1..6) from o+1 bytes back (o < 8192) |
//! | `111ooooo LLLLLLLL oooooooo` | a copy of L+9 bytes from o+1 bytes back |
//!
//! [`decompress`] accepts any valid block. [`compress`] makes the block
//! Redis's `lzf_compress` makes (hash log 16, its `VERY_FAST` mode), so
//! that DUMP's compressed strings are Redis's byte for byte: the same
//! hash, the same match search and extension, the same re-hashing after
//! a match, and the same points where it gives up for lack of room. It
//! starts from an empty hash table where Redis's holds whatever an
//! earlier call left (only hits that the bytes confirm count there, so
//! the two agree except on rare inputs that repeat within a match).

use alloc::vec;
use alloc::vec::Vec;

/// Why a block does not decompress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LzfError {
    /// It would produce more than the length it claims.
    TooLong,
    /// It produces less than the length it claims.
    TooShort,
    /// An item is cut off at the end.
    Truncated,
    /// A copy reaches back before the start.
    BadReference,
}

/// The longest output a block of `compressed` bytes can produce: a
/// three-byte item copies at most 264 bytes.
pub(crate) fn max_expansion(compressed: usize) -> usize {
    compressed.saturating_mul(88)
}

/// Decompresses `input`, which must produce exactly `len` bytes (the
/// caller bounds `len`). An empty result is accepted whatever the input,
/// as Redis accepts it.
pub(crate) fn decompress(input: &[u8], len: usize) -> Result<Vec<u8>, LzfError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while let Some(&ctrl) = input.get(i) {
        i += 1;
        let ctrl = usize::from(ctrl);
        if ctrl < 32 {
            let run = ctrl + 1;
            if out.len() + run > len {
                return Err(LzfError::TooLong);
            }
            let bytes = input.get(i..i + run).ok_or(LzfError::Truncated)?;
            out.extend_from_slice(bytes);
            i += run;
        } else {
            let mut run = ctrl >> 5;
            if run == 7 {
                run += usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
                i += 1;
            }
            let low = usize::from(*input.get(i).ok_or(LzfError::Truncated)?);
            i += 1;
            let back = ((ctrl & 0x1f) << 8) + low + 1;
            let run = run + 2;
            if out.len() + run > len {
                return Err(LzfError::TooLong);
            }
            let start = out.len().checked_sub(back).ok_or(LzfError::BadReference)?;
            // The source may overlap what this copy writes (a run).
            for k in start..start + run {
                out.push(out[k]);
            }
        }
    }
    if out.len() == len {
        Ok(out)
    } else {
        Err(LzfError::TooShort)
    }
}

/// Bits of the hash table's index.
const HASH_LOG: u32 = 16;
/// Longest literal run.
const MAX_LITERAL: usize = 1 << 5;
/// Farthest back a copy reaches.
const MAX_OFFSET: usize = 1 << 13;
/// Longest copy, less two.
const MAX_COPY: usize = (1 << 8) + (1 << 3);

/// The hash table slot of the three bytes `h` holds in its low 24 bits.
fn slot(h: u32) -> usize {
    ((h >> (24 - HASH_LOG)).wrapping_sub(h.wrapping_mul(5)) & ((1 << HASH_LOG) - 1)) as usize
}

/// Compresses `input` into at most `room` bytes, as Redis's
/// `lzf_compress` does; `None` when it does not fit (or is empty).
pub(crate) fn compress(input: &[u8], room: usize) -> Option<Vec<u8>> {
    let n = input.len();
    if n == 0 || room == 0 {
        return None;
    }
    // Positions plus one (0: empty); inputs are below 4 GiB (strings
    // stop at 512 MiB).
    let mut table = vec![0u32; 1 << HASH_LOG];
    // Slack past `room`: the checks below stop before it, as the C code's
    // do before its buffer's end.
    let mut out = vec![0u8; room + 8];
    let mut op = 1; // out[op - lit - 1] is the current run's header
    let mut lit = 0usize;
    let mut ip = 0usize;
    let at = |i: usize| u32::from(input[i]);
    let mut h = if n >= 2 { (at(0) << 8) | at(1) } else { 0 };
    while ip + 2 < n {
        h = (h << 8) | at(ip + 2);
        let s = slot(h);
        let stored = table[s] as usize;
        table[s] = (ip + 1) as u32;
        let found = stored.checked_sub(1).filter(|&r| {
            ip - r - 1 < MAX_OFFSET
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1]
        });
        if let Some(r) = found {
            let off = ip - r - 1;
            let maxlen = (n - ip - 2).min(MAX_COPY);
            if op + 4 >= room && op - usize::from(lit == 0) + 4 >= room {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1);
            op -= usize::from(lit == 0);
            // The extension: sixteen unchecked steps when far from the
            // end, then checked ones.
            let mut len = 2;
            'extend: {
                if maxlen > 16 {
                    for _ in 0..16 {
                        len += 1;
                        if input[r + len] != input[ip + len] {
                            break 'extend;
                        }
                    }
                }
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2;
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 2; // and a new run's header
            lit = 0;
            ip += len + 1;
            if ip + 2 >= n {
                break;
            }
            // Hash the two positions before the next one.
            ip -= 2;
            h = (at(ip) << 8) | at(ip + 1);
            for _ in 0..2 {
                h = (h << 8) | at(ip + 2);
                table[slot(h)] = (ip + 1) as u32;
                ip += 1;
            }
        } else {
            if op >= room {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LITERAL {
                out[op - lit - 1] = (lit - 1) as u8;
                lit = 0;
                op += 1;
            }
        }
    }
    if op + 3 > room {
        return None;
    }
    while ip < n {
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LITERAL {
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1);
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut samples: Vec<Vec<u8>> = vec![
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_vec(),
            b"abcabcabcabcabcabcabcabcabcabcabcxyzxyzxyzxyz".to_vec(),
            (0..5000u32).map(|i| (i % 251) as u8).collect(),
            (0..3000u32).map(|i| (i * 7 % 13) as u8).collect(),
        ];
        let mut x = 1u64;
        samples.push(
            (0..2000)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (x >> 60) as u8
                })
                .collect(),
        );
        for s in samples {
            let c = compress(&s, s.len() - 4).expect("compresses");
            assert!(c.len() <= s.len() - 4);
            assert_eq!(decompress(&c, s.len()).unwrap(), s);
        }
    }

    #[test]
    fn redis_bytes() {
        // What Redis 7.0.15's DUMP wrote for 45 bytes of "a" (the block
        // after the lengths): two literals (the first position never
        // matches), one copy of 41 bytes from one back, two literals.
        let s = [b'a'; 45];
        assert_eq!(
            compress(&s, 41).unwrap(),
            [0x01, b'a', b'a', 0xe0, 0x20, 0x00, 0x01, b'a', b'a']
        );
    }

    #[test]
    fn incompressible_and_hostile() {
        let s: Vec<u8> = (0..64u8).collect();
        assert_eq!(compress(&s, 60), None);
        assert_eq!(decompress(&[0x01, b'a'], 2), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0x00, b'a'], 2), Err(LzfError::TooShort));
        assert_eq!(
            decompress(&[0x00, b'a', 0x20, 0x05], 4),
            Err(LzfError::BadReference)
        );
        assert_eq!(
            decompress(&[0x00, b'a', 0xe0, 0xff, 0x00], 10),
            Err(LzfError::TooLong)
        );
        assert_eq!(decompress(&[0xe0], 10), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0x05], 0), Ok(Vec::new()));
    }
}
