//! Intsets: the sorted arrays of integers Redis keeps small sets of
//! integers in, written as they are in RDB payloads.
//!
//! Layout: the width of every member in bytes (`u32` LE: 2, 4 or 8), the
//! member count (`u32` LE), then the members ascending, each in that
//! width (LE, signed).

use alloc::vec::Vec;

/// Why bytes are no intset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IntsetError {
    /// The width is not 2, 4 or 8.
    BadWidth,
    /// The length is not the header plus count × width, or the count is 0.
    BadSize,
    /// The members are not strictly ascending (a duplicate among them).
    NotAscending,
}

/// The width and members of the intset `b`, checked as Redis's deep
/// validation checks them.
pub(crate) fn decode(b: &[u8]) -> Result<(u8, Vec<i64>), IntsetError> {
    let word = |at: usize| {
        b.get(at..at + 4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
    };
    let (Some(width), Some(count)) = (word(0), word(4)) else {
        return Err(IntsetError::BadSize);
    };
    let width = match width {
        2 | 4 | 8 => width as usize,
        _ => return Err(IntsetError::BadWidth),
    };
    let count = count as usize;
    if count == 0 || count.checked_mul(width).and_then(|n| n.checked_add(8)) != Some(b.len()) {
        return Err(IntsetError::BadSize);
    }
    let mut members = Vec::with_capacity(count);
    for m in b[8..].chunks_exact(width) {
        let v = match width {
            2 => i64::from(i16::from_le_bytes([m[0], m[1]])),
            4 => i64::from(i32::from_le_bytes([m[0], m[1], m[2], m[3]])),
            _ => i64::from_le_bytes([m[0], m[1], m[2], m[3], m[4], m[5], m[6], m[7]]),
        };
        if members.last().is_some_and(|&last| last >= v) {
            return Err(IntsetError::NotAscending);
        }
        members.push(v);
    }
    Ok((width as u8, members))
}

/// The intset of `members` (ascending, each fitting `width` bytes).
pub(crate) fn encode(width: u8, members: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + members.len() * usize::from(width));
    out.extend_from_slice(&u32::from(width).to_le_bytes());
    out.extend_from_slice(&(members.len() as u32).to_le_bytes());
    for &m in members {
        out.extend_from_slice(&m.to_le_bytes()[..usize::from(width)]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `SADD s 1 2 70000` in Redis 7.0.15.
    const REDIS: &[u8] =
        b"\x04\x00\x00\x00\x03\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00p\x11\x01\x00";

    #[test]
    fn redis_bytes_both_ways() {
        assert_eq!(decode(REDIS), Ok((4, alloc::vec![1, 2, 70000])));
        assert_eq!(encode(4, &[1, 2, 70000]), REDIS);
        let wide = encode(8, &[-5, i64::MAX]);
        assert_eq!(decode(&wide), Ok((8, alloc::vec![-5, i64::MAX])));
        assert_eq!(decode(&encode(2, &[-2, 7])), Ok((2, alloc::vec![-2, 7])));
    }

    #[test]
    fn refuses_bad_bytes() {
        assert_eq!(decode(b"\x04\x00\x00"), Err(IntsetError::BadSize));
        assert_eq!(
            decode(b"\x03\x00\x00\x00\x00\x00\x00\x00"),
            Err(IntsetError::BadWidth)
        );
        assert_eq!(
            decode(b"\x02\x00\x00\x00\x00\x00\x00\x00"),
            Err(IntsetError::BadSize)
        );
        assert_eq!(
            decode(b"\x02\x00\x00\x00\xff\xff\xff\xff\x01\x00"),
            Err(IntsetError::BadSize)
        );
        assert_eq!(decode(&encode(2, &[3, 3])), Err(IntsetError::NotAscending));
        assert_eq!(decode(&encode(2, &[3, 1])), Err(IntsetError::NotAscending));
        for cut in 0..REDIS.len() {
            assert!(decode(&REDIS[..cut]).is_err());
        }
    }
}
