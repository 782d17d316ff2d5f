//! HyperLogLog commands: PFADD, PFCOUNT and PFMERGE, on string values in
//! Redis 7.0's layout ([`crate::hll`]), so GET shows the bytes Redis
//! would hold; and Redis's debugging commands PFDEBUG and PFSELFTEST.
//!
//! As in Redis, PFADD signals a change (WATCH, the log) when it made the
//! key or raised a register; PFCOUNT of one key whose cached cardinality
//! is stale stores the one it computed in the string, which is a change
//! too; PFMERGE always writes its destination (its cached cardinality is
//! marked stale even when no register moved). A PFADD stopped by corrupt
//! sparse opcodes keeps the registers it raised before: Redis does not
//! signal them, so WATCH does not see them, but they are logged.
//!
//! A command that may grow an HLL (a sparse one, or a new key) first
//! checks that a dense HLL and the sparse form's growth fit below the
//! ceiling, and is refused with `-OOM` otherwise.

use crate::db::{Value, tri, typed_mut, wrongtype};
use crate::encoding::Encoding as StrEncoding;
use crate::hll::{self, DEFAULT_SPARSE_MAX, DENSE_LEN, Encoding, HllError, Max};
use crate::memory::{OOM, Room};
use crate::reply::Reply;
use crate::store::Ctx;

/// A string that is not an HLL.
const NOT_HLL: &str = "WRONGTYPE Key is not a valid HyperLogLog string value.";
/// An HLL whose sparse opcodes are corrupt.
const CORRUPT: &str = "INVALIDOBJ Corrupted HLL object detected";

/// The reply to an HLL error.
fn error(e: HllError) -> Reply {
    Reply::error(match e {
        HllError::NotHll => NOT_HLL,
        HllError::Corrupt => CORRUPT,
    })
}

/// `hll-sparse-max-bytes`: the longest a sparse HLL may grow.
fn sparse_max(cx: &Ctx<'_>) -> usize {
    cx.config
        .get("hll-sparse-max-bytes")
        .and_then(|v| v.parse::<u64>().ok())
        .map_or(DEFAULT_SPARSE_MAX, |v| {
            usize::try_from(v).unwrap_or(usize::MAX)
        })
}

/// Checks that `sets` register changes to a sparse HLL fit below the
/// ceiling: the sparse form grows by at most 3 bytes a change (twice
/// that while the allocator moves it) until it passes `sparse_max`, and
/// then a dense copy is made beside it.
fn fits(room: Room, sets: usize, sparse_max: usize) -> Result<(), Reply> {
    let sparse = sets
        .saturating_mul(3)
        .min(sparse_max.saturating_add(3))
        .saturating_mul(2);
    if room.fits(DENSE_LEN.saturating_add(sparse)) {
        Ok(())
    } else {
        Err(Reply::error(OOM))
    }
}

/// PFADD key [element ...]
pub(crate) fn pfadd(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (key, elements) = (a[1], &a[2..]);
    let (now, room, sparse_max) = (cx.now, cx.room, sparse_max(cx));
    let db = cx.db();
    let created = match db.get(key, now) {
        None => true,
        Some(Value::Str(s)) => match hll::encoding(s) {
            Ok(Encoding::Dense) => false,
            Ok(Encoding::Sparse) => {
                tri!(fits(room, elements.len(), sparse_max));
                false
            }
            Err(e) => return error(e),
        },
        Some(_) => return wrongtype(),
    };
    if created {
        tri!(fits(room, elements.len(), sparse_max));
        // Made without a change of its own: the one `pfadd` comes below.
        db.get_or_create(key, now, |_| Value::Str(hll::empty()));
    }
    // Redis adds to a private `raw` copy, whether anything changes.
    db.set_encoding(key, StrEncoding::Raw);
    let Some(Value::Str(s)) = db.peek_mut(key) else {
        return wrongtype();
    };
    let mut raised = false;
    for e in elements {
        match hll::add(s, e, sparse_max) {
            Ok(r) => raised |= r,
            Err(e) => {
                if raised {
                    db.journal_key(key);
                }
                return error(e);
            }
        }
    }
    let updated = created || raised;
    if updated {
        hll::invalidate(s);
        db.touch(key);
    }
    Reply::Integer(i64::from(updated))
}

/// PFCOUNT key [key ...]
pub(crate) fn pfcount(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    if a.len() > 2 {
        // The union's estimate; nothing is cached.
        let mut max = Max::new();
        for key in &a[1..] {
            match db.get(key, now) {
                None => {}
                Some(Value::Str(s)) => tri!(max.merge(s).map_err(error)),
                Some(_) => return wrongtype(),
            }
        }
        return Reply::Integer(max.count() as i64);
    }
    let Some(s) = tri!(typed_mut!(db, a[1], now, Str)) else {
        return Reply::Integer(0);
    };
    tri!(hll::encoding(s).map_err(error));
    // Redis reads (and may cache into) a private `raw` copy of a valid
    // HLL, cached count or not.
    db.set_encoding(a[1], StrEncoding::Raw);
    let Some(Value::Str(s)) = db.peek_mut(a[1]) else {
        return wrongtype();
    };
    if let Some(card) = hll::cached(s) {
        return Reply::Integer(card as i64);
    }
    let card = hll::estimate(&tri!(hll::histogram(s).map_err(error)));
    hll::set_cached(s, card);
    db.touch(a[1]);
    // An estimate past i64 (only forged registers give one) shows as
    // Redis shows it: the same 64 bits, signed.
    Reply::Integer(card as i64)
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key, with Redis's checks in its
/// order: the key, its type, then the subcommand. GETREG and TODENSE make
/// a sparse HLL dense (a change, as in Redis).
pub(crate) fn pfdebug(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    let s = match db.get(a[2], now) {
        None => return Reply::error("ERR The specified key does not exist"),
        Some(Value::Str(s)) => s,
        Some(_) => return wrongtype(),
    };
    let encoding = tri!(hll::encoding(s).map_err(error));
    // Redis works on a private `raw` copy of a valid HLL, whatever the
    // subcommand.
    db.set_encoding(a[2], StrEncoding::Raw);
    let sub = a[1];
    let densify = sub.eq_ignore_ascii_case(b"getreg") || sub.eq_ignore_ascii_case(b"todense");
    let converted = densify && encoding == Encoding::Sparse;
    if converted {
        if !room.fits(DENSE_LEN) {
            return Reply::error(OOM);
        }
        let Some(Value::Str(s)) = db.peek(a[2]) else {
            return wrongtype();
        };
        let dense = tri!(hll::to_dense(s).map_err(error));
        if let Some(Value::Str(s)) = db.peek_mut(a[2]) {
            *s = dense;
        }
        db.touch(a[2]);
    }
    let Some(Value::Str(s)) = db.peek(a[2]) else {
        return wrongtype();
    };
    if sub.eq_ignore_ascii_case(b"getreg") {
        Reply::array(
            hll::registers(s)
                .map(|r| Reply::Integer(i64::from(r)))
                .collect(),
        )
    } else if sub.eq_ignore_ascii_case(b"decode") {
        match encoding {
            Encoding::Sparse => Reply::Bulk(Some(hll::decode(s).into_bytes())),
            Encoding::Dense => Reply::error("ERR HLL encoding is not sparse"),
        }
    } else if sub.eq_ignore_ascii_case(b"encoding") {
        Reply::simple(match encoding {
            Encoding::Sparse => "sparse",
            Encoding::Dense => "dense",
        })
    } else if sub.eq_ignore_ascii_case(b"todense") {
        Reply::Integer(i64::from(converted))
    } else {
        Reply::Error(alloc::format!(
            "ERR Unknown PFDEBUG subcommand '{}'",
            alloc::string::String::from_utf8_lossy(sub)
        ))
    }
}

/// PFSELFTEST: checks the HLL code on this machine, as Redis's does: every
/// register of a dense HLL set and read back, and the same elements added
/// to a sparse and a dense HLL giving the same registers and an estimate
/// within a few standard errors (1.04/√16384) of the true count. `+OK`,
/// or an error naming what failed.
pub(crate) fn pfselftest(cx: &mut Ctx<'_>, _a: &[&[u8]]) -> Reply {
    match hll::self_test(cx.rng) {
        Ok(()) => Reply::ok(),
        Err(what) => Reply::Error(alloc::format!("ERR TESTFAILED {what}")),
    }
}

/// PFMERGE destkey [sourcekey ...]
pub(crate) fn pfmerge(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let dest = a[1];
    let (now, room, sparse_max) = (cx.now, cx.room, sparse_max(cx));
    let db = cx.db();
    // The destination's registers count as a source's.
    let mut max = Max::new();
    let mut dense = false;
    for key in &a[1..] {
        match db.get(key, now) {
            None => {}
            Some(Value::Str(s)) => {
                dense |= hll::encoding(s) == Ok(Encoding::Dense);
                tri!(max.merge(s).map_err(error));
            }
            Some(_) => return wrongtype(),
        }
    }
    tri!(fits(room, max.raised().count(), sparse_max));
    if db.peek(dest).is_none() {
        db.get_or_create(dest, now, |_| Value::Str(hll::empty()));
    }
    db.set_encoding(dest, StrEncoding::Raw);
    let Some(Value::Str(s)) = db.peek_mut(dest) else {
        return wrongtype();
    };
    // A dense source makes the destination dense at once, as in Redis
    // (the order of the bytes a sparse one would get depends on it).
    if dense && hll::encoding(s) == Ok(Encoding::Sparse) {
        *s = tri!(hll::to_dense(s).map_err(error));
    }
    for (i, value) in max.raised() {
        // The destination was read whole above, so no register is out of
        // its reach; Redis does not look at these results either.
        let _ = hll::set(s, i, value, sparse_max);
    }
    hll::invalidate(s);
    db.touch(dest);
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::{Reply, WRONGTYPE};
    use alloc::format;
    use alloc::string::String;
    use alloc::vec::Vec;

    fn get(t: &mut T, key: &str) -> Vec<u8> {
        match t.run(&format!("GET {key}")) {
            Reply::Bulk(Some(b)) => b,
            other => panic!("GET {key}: {other:?}"),
        }
    }

    #[test]
    fn pfdebug_and_pfselftest() {
        let mut t = T::new();
        assert_eq!(t.run("PFSELFTEST"), Reply::ok());
        assert_eq!(
            t.run("PFDEBUG GETREG h"),
            Reply::error("ERR The specified key does not exist")
        );
        t.run("PFADD h a b");
        assert_eq!(t.run("PFDEBUG ENCODING h"), Reply::simple("sparse"));
        let Reply::Bulk(Some(decoded)) = t.run("PFDEBUG DECODE h") else {
            panic!("DECODE of a sparse HLL")
        };
        // Two registers set, zero runs around them, 16384 in all.
        let text = String::from_utf8(decoded).unwrap();
        let runs: usize = text
            .split(' ')
            .map(|op| {
                let (_, n) = op.split_once(':').unwrap();
                n.rsplit(',').next().unwrap().parse::<usize>().unwrap()
            })
            .sum();
        assert_eq!(runs, 16384, "{text}");
        assert_eq!(text.matches("v:").count(), 2, "{text}");
        let Reply::Array(Some(regs)) = t.run("PFDEBUG getreg h") else {
            panic!("GETREG")
        };
        assert_eq!(regs.len(), 16384);
        assert_eq!(regs.iter().filter(|r| **r != Reply::Integer(0)).count(), 2);
        assert_eq!(
            t.run("PFDEBUG ENCODING h"),
            Reply::simple("dense"),
            "made dense"
        );
        assert_eq!(t.run("PFDEBUG TODENSE h"), Reply::Integer(0));
        assert_eq!(
            t.run("PFDEBUG DECODE h"),
            Reply::error("ERR HLL encoding is not sparse")
        );
        assert_eq!(
            t.run("PFDEBUG nope h"),
            Reply::error("ERR Unknown PFDEBUG subcommand 'nope'")
        );
        t.run("SET s abc");
        assert_eq!(t.run("PFDEBUG nope s"), Reply::error(super::NOT_HLL));
        t.run("RPUSH l x");
        assert_eq!(t.run("PFDEBUG ENCODING l"), Reply::error(WRONGTYPE));
    }

    #[test]
    fn pfadd_creates_and_counts() {
        let mut t = T::new();
        assert_eq!(t.run("PFADD h"), int(1), "made, even empty");
        assert_eq!(
            get(&mut t, "h"),
            b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\x80\x7f\xff",
            "the cache is marked stale"
        );
        assert_eq!(t.run("PFADD h"), int(0));
        assert_eq!(t.run("PFADD h a b c"), int(1));
        assert_eq!(t.run("PFADD h a b"), int(0));
        assert_eq!(t.run("PFCOUNT h"), int(3));
        // PFCOUNT wrote the cardinality into the string.
        assert_eq!(&get(&mut t, "h")[8..16], b"\x03\0\0\0\0\0\0\0");
        assert_eq!(t.run("PFCOUNT nope"), int(0));
        assert_eq!(t.run("PFCOUNT h nope"), int(3));
    }

    #[test]
    fn pfcount_caching_is_a_change() {
        let mut t = T::new();
        t.run("PFADD h a");
        t.run("WATCH h");
        assert_eq!(t.run("PFCOUNT h"), int(1));
        t.run("MULTI");
        t.run("PING");
        assert_eq!(t.run("EXEC"), Reply::nil_array(), "the cache was written");
        t.run("WATCH h");
        assert_eq!(t.run("PFCOUNT h"), int(1));
        t.run("MULTI");
        t.run("PING");
        assert_eq!(
            t.run("EXEC"),
            Reply::array(alloc::vec![simple("PONG")]),
            "read from the cache"
        );
    }

    #[test]
    fn pfmerge_unions() {
        let mut t = T::new();
        t.run("PFADD a 1 2 3");
        t.run("PFADD b 3 4 5");
        assert_eq!(t.run("PFMERGE d a b"), ok());
        assert_eq!(t.run("PFCOUNT d"), int(5));
        assert_eq!(t.run("PFCOUNT a b"), int(5));
        assert_eq!(t.run("PFMERGE d"), ok(), "the destination alone");
        assert_eq!(t.run("PFCOUNT d"), int(5));
        assert_eq!(t.run("PFMERGE e"), ok());
        assert_eq!(t.run("PFCOUNT e"), int(0));
    }

    #[test]
    fn errors() {
        let mut t = T::new();
        t.run("SET s hello");
        t.run("RPUSH l x");
        let not_hll = err(super::NOT_HLL);
        assert_eq!(t.run("PFADD s a"), not_hll);
        assert_eq!(t.run("PFCOUNT s"), not_hll);
        assert_eq!(t.run("PFMERGE d s"), not_hll);
        assert_eq!(t.run("PFADD l a"), err(WRONGTYPE));
        assert_eq!(t.run("PFCOUNT l"), err(WRONGTYPE));
        assert_eq!(t.run("PFCOUNT l s"), err(WRONGTYPE), "in order");
        assert_eq!(t.run("PFCOUNT s l"), not_hll);
        assert_eq!(t.run("EXISTS d"), int(0));
        // Sparse opcodes that cover too few registers.
        t.run("PFADD h a");
        t.argv(&[b"SETRANGE", b"h", b"16", b"\x00"]);
        let corrupt = err(super::CORRUPT);
        assert_eq!(t.run("PFCOUNT h"), corrupt);
        assert_eq!(t.run("PFCOUNT h h"), corrupt);
        assert_eq!(t.run("PFMERGE d h"), corrupt);
        assert_eq!(t.run("EXISTS d"), int(0));
    }

    #[test]
    fn config_limits_the_sparse_form() {
        let mut t = T::new();
        assert_eq!(
            t.run("CONFIG GET hll-sparse-max-bytes"),
            arr(&["hll-sparse-max-bytes", "3000"])
        );
        assert_eq!(t.run("CONFIG SET hll-sparse-max-bytes 0"), ok());
        t.run("PFADD h a b");
        assert_eq!(get(&mut t, "h").len(), crate::hll::DENSE_LEN);
        assert_eq!(t.run("PFCOUNT h"), int(2));
    }
}
