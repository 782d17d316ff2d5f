//! The SCAN family's cursor and options, shared by SCAN, HSCAN, SSCAN and
//! ZSCAN.
//!
//! # Cursor guarantee
//!
//! Elements are visited in the order they were inserted, and the cursor
//! is the insertion number to resume from ([`crate::dict::Dict::scan`]).
//! So a full iteration (from cursor 0 until a reply's cursor is 0) returns
//! every element that was present for the whole iteration exactly once,
//! whatever was added or removed meanwhile; elements added or removed
//! during the iteration may or may not be returned. A call costs
//! O(log n) to find the cursor and O(COUNT) after it: it visits at most
//! ten slots per element of COUNT, so a reply may hold fewer than COUNT
//! elements (even none) before the end, as Redis's may. For a given seed
//! and commands the replies are deterministic. Small collections Redis
//! keeps compact (listpacks, intsets) come whole in one reply, as Redis
//! scans them.

use alloc::format;
use alloc::vec::Vec;

use crate::cmd::{int_arg, is};
use crate::glob;
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
