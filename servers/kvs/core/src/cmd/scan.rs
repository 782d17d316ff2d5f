//! The SCAN family's cursor and options, shared by SCAN, HSCAN, SSCAN and
//! ZSCAN.
//!
//! # Cursor guarantee
//!
//! Elements are visited in the order of their 64-bit hash under the store's
//! seeded hasher, and the cursor is the hash to resume from. So a full
//! iteration (from cursor 0 until a reply's cursor is 0) returns every
//! element that was present for the whole iteration exactly once, whatever
//! was added or removed meanwhile; elements added or removed during the
//! iteration may or may not be returned. Elements sharing one hash are
//! always returned together, so a reply may exceed COUNT. For a given seed
//! and contents the replies are deterministic. Each call costs O(n) in the
//! collection's size (it selects the COUNT smallest hashes at or after the
//! cursor), unlike Redis's O(COUNT).

use alloc::format;
use alloc::vec::Vec;
use core::hash::BuildHasher;

use crate::cmd::{int_arg, is};
use crate::glob;
use crate::hash::SeededState;
use crate::memory::{OOM, Room};
use crate::num;
use crate::reply::{INVALID_CURSOR, Reply, SYNTAX};

/// Parsed SCAN options.
pub(crate) struct ScanOpts<'a> {
    pub(crate) pattern: Option<&'a [u8]>,
    pub(crate) count: usize,
    /// SCAN's TYPE filter (a type name as TYPE answers it).
    pub(crate) type_name: Option<&'static str>,
    /// HSCAN's NOVALUES.
    pub(crate) novalues: bool,
}

impl ScanOpts<'_> {
    /// Whether `item` passes MATCH.
    pub(crate) fn matches(&self, item: &[u8]) -> bool {
        self.pattern.is_none_or(|p| glob::matches(p, item))
    }
}

/// Parses a cursor argument (`ERR invalid cursor`).
pub(crate) fn parse_cursor(arg: &[u8]) -> Result<u64, Reply> {
    num::parse_cursor(arg).ok_or_else(|| Reply::error(INVALID_CURSOR))
}

/// Which command the options belong to.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Scan,
    Hscan,
    Other,
}

/// Parses `[MATCH pattern] [COUNT count] [TYPE type] [NOVALUES]` from `opts`.
pub(crate) fn parse_opts<'a>(opts: &[&'a [u8]], family: Family) -> Result<ScanOpts<'a>, Reply> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        type_name: None,
        novalues: false,
    };
    let mut i = 0;
    while i < opts.len() {
        let left = opts.len() - i;
        if is(opts[i], "count") && left >= 2 {
            let n = int_arg(opts[i + 1])?;
            if n < 1 {
                return Err(Reply::error(SYNTAX));
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else if is(opts[i], "match") && left >= 2 {
            let p = opts[i + 1];
            // A lone "*" matches everything: skip the matching.
            o.pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else if is(opts[i], "type") && family == Family::Scan && left >= 2 {
            let t = opts[i + 1];
            let name = ["string", "list", "set", "zset", "hash", "stream"]
                .into_iter()
                .find(|n| is(t, n));
            match name {
                Some(n) => o.type_name = Some(n),
                None => {
                    return Err(Reply::Error(format!(
                        "ERR unknown type name '{}'",
                        alloc::string::String::from_utf8_lossy(t)
                    )));
                }
            }
            i += 2;
        } else if is(opts[i], "novalues") {
            if family != Family::Hscan {
                return Err(Reply::error(
                    "ERR NOVALUES option can only be used in HSCAN",
                ));
            }
            o.novalues = true;
            i += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
    }
    Ok(o)
}

/// Selects the batch after `cursor`: the `count` items with the smallest
/// hashes `>= cursor` (plus any sharing the last hash), in hash order, and
/// the next cursor (0 when done).
pub(crate) fn select<'a, T: 'a>(
    state: &SeededState,
    items: impl Iterator<Item = (&'a [u8], T)>,
    cursor: u64,
    count: usize,
) -> (Vec<T>, u64) {
    let mut cands: Vec<(u64, T)> = items
        .map(|(k, t)| (state.hash_one(k), t))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    let next = if cands.len() <= count {
        0
    } else {
        cands.select_nth_unstable_by_key(count - 1, |(h, _)| *h);
        let boundary = cands[count - 1].0;
        cands.retain(|(h, _)| *h <= boundary);
        boundary.checked_add(1).unwrap_or(0)
    };
    cands.sort_unstable_by_key(|(h, _)| *h);
    (cands.into_iter().map(|(_, t)| t).collect(), next)
}

/// Whether the heap has room to sort a collection of `len` elements by
/// hash ([`select`] does), else `-OOM`: up to 1 MiB is in what the store's
/// runner keeps above the ceiling, more must fit below it.
pub(crate) fn working_room(room: Room, len: usize) -> Result<(), Reply> {
    let bytes = len.saturating_mul(32);
    if bytes <= 1 << 20 || room.fits(bytes) {
        Ok(())
    } else {
        Err(Reply::error(OOM))
    }
}

/// The two-element SCAN reply.
pub(crate) fn reply(next: u64, items: Vec<Reply>) -> Reply {
    Reply::array(alloc::vec![
        Reply::Bulk(Some(format!("{next}").into_bytes())),
        Reply::array(items),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn select_visits_everything_once() {
        let state = SeededState::new(9);
        let keys: Vec<Vec<u8>> = (0..100u32).map(|i| format!("k{i}").into_bytes()).collect();
        let mut seen = Vec::new();
        let mut cursor = 0;
        loop {
            let (batch, next) = select(
                &state,
                keys.iter().map(|k| (k.as_slice(), k.clone())),
                cursor,
                7,
            );
            assert!(batch.len() <= 7 || next == 0);
            seen.extend(batch);
            if next == 0 {
                break;
            }
            cursor = next;
        }
        seen.sort();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(seen, want);
    }

    #[test]
    fn options() {
        assert!(parse_opts(&[b"COUNT", b"0"], Family::Scan).is_err());
        assert_eq!(
            parse_opts(&[b"COUNT", b"x"], Family::Scan).err(),
            Some(Reply::error(crate::reply::NOT_INTEGER))
        );
        assert_eq!(
            parse_opts(&[b"TYPE", b"nope"], Family::Scan).err(),
            Some(Reply::error("ERR unknown type name 'nope'"))
        );
        assert_eq!(
            parse_opts(&[b"TYPE", b"set"], Family::Other).err(),
            Some(Reply::error(SYNTAX))
        );
        assert_eq!(
            parse_opts(&[b"NOVALUES"], Family::Scan).err(),
            Some(Reply::error(
                "ERR NOVALUES option can only be used in HSCAN"
            ))
        );
        let o = parse_opts(&[b"match", b"a*", b"count", b"5"], Family::Scan).unwrap();
        assert_eq!(o.count, 5);
        assert!(o.matches(b"abc") && !o.matches(b"b"));
        assert!(parse_opts(&[b"MATCH"], Family::Scan).is_err());
        let _ = vec![0];
    }
}
