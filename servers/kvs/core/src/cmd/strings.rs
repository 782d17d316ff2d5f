//! String commands: GET, SET and friends, counters, ranges.

use crate::notify::Classes;
use alloc::vec::Vec;

use crate::cmd::{int_arg, is};
use crate::db::{Db, Value, tri, typed};
use crate::encoding::Encoding;
use crate::ld::LongDouble;
use crate::memory::{OOM, ReplyBudget};
use crate::num;
use crate::reply::{NAN_OR_INF, NOT_FLOAT, NOT_INTEGER, OVERFLOW, Reply, STRING_TOO_LONG, SYNTAX};
use crate::store::Ctx;

/// Redis's default `proto-max-bulk-len`: the largest string value.
pub const MAX_STRING: usize = 512 * 1024 * 1024;

/// A copy of the string at `key` for a reply, if its share of the reply
/// budget allows.
fn string_value(
    db: &mut Db,
    key: &[u8],
    now: i64,
    budget: &ReplyBudget,
) -> Result<Option<Vec<u8>>, Reply> {
    let v: Option<&Vec<u8>> = typed!(db, key, now, Str)?;
    if let Some(v) = v {
        budget.take(v.len(), 1)?;
    }
    Ok(v.cloned())
}

fn check_len(total: usize) -> Result<(), Reply> {
    if total > MAX_STRING {
        Err(Reply::error(STRING_TOO_LONG))
    } else {
        Ok(())
    }
}

/// GET key
pub(crate) fn get(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let budget = cx.reply;
    Reply::Bulk(tri!(string_value(cx.db(), a[1], now, budget)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Default)]
struct ExtOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(Unit, &'a [u8])>,
}

/// Parses SET's (`set == true`) or GETEX's options with Redis's rules for
/// which combinations are a syntax error.
fn parse_ext<'a>(opts: &[&'a [u8]], set: bool) -> Result<ExtOpts<'a>, Reply> {
    let mut o = ExtOpts::default();
    let mut j = 0;
    while j < opts.len() {
        let opt = opts[j];
        let next = opts.get(j + 1).copied();
        let unit = o.expire.map(|(u, _)| u);
        let no_expire_but = |allowed: Unit| unit.is_none() || unit == Some(allowed);
        if set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if set && is(opt, "get") {
            o.get = true;
        } else if set && is(opt, "keepttl") && !o.persist && unit.is_none() {
            o.keepttl = true;
        } else if !set && is(opt, "persist") && unit.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(u), Some(v)) = (
            [
                ("ex", Unit::Ex),
                ("px", Unit::Px),
                ("exat", Unit::ExAt),
                ("pxat", Unit::PxAt),
            ]
            .into_iter()
            .find(|(w, _)| is(opt, w))
            .map(|(_, u)| u),
            next,
        ) {
            if o.keepttl || o.persist || !no_expire_but(u) {
                return Err(Reply::error(SYNTAX));
            }
            o.expire = Some((u, v));
            j += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// Converts an expire argument to an absolute time in ms, with Redis's
/// checks (`ERR invalid expire time in '<cmd>' command`).
fn expire_at(unit: Unit, arg: &[u8], now: i64, cmd: &str) -> Result<i64, Reply> {
    let v = int_arg(arg)?;
    let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(Reply::invalid_expire(cmd));
    }
    let ms = if seconds { v * 1000 } else { v };
    let abs = if matches!(unit, Unit::Ex | Unit::Px) {
        ms.checked_add(now)
    } else {
        Some(ms)
    };
    match abs {
        Some(t) if t > 0 => Ok(t),
        _ => Err(Reply::invalid_expire(cmd)),
    }
}

/// The SET family's core. `abort` is the reply when NX/XX prevents the set.
fn set_generic(
    cx: &mut Ctx<'_>,
    key: &[u8],
    val: &[u8],
    o: &ExtOpts<'_>,
    cmd: &str,
    ok: Reply,
    abort: Reply,
) -> Reply {
    let now = cx.now;
    let when = match o.expire {
        Some((u, arg)) => Some(tri!(expire_at(u, arg, now, cmd))),
        None => None,
    };
    let budget = cx.reply;
    let db = cx.db();
    let old = if o.get {
        Some(tri!(string_value(db, key, now, budget)))
    } else {
        None
    };
    let found = db.exists(key, now);
    if (o.nx && found) || (o.xx && !found) {
        return match old {
            Some(v) => Reply::Bulk(v),
            None => abort,
        };
    }
    db.set(key, Value::Str(val.to_vec()), o.keepttl);
    if let Some(t) = when {
        db.raise(Classes::GENERIC, "expire");
        db.set_expire(key, t);
    }
    match old {
        Some(v) => Reply::Bulk(v),
        None => ok,
    }
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
pub(crate) fn set(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = tri!(parse_ext(&a[3..], true));
    set_generic(cx, a[1], a[2], &o, "set", Reply::ok(), Reply::nil())
}

/// SETNX key value
pub(crate) fn setnx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = ExtOpts {
        nx: true,
        ..ExtOpts::default()
    };
    set_generic(
        cx,
        a[1],
        a[2],
        &o,
        "setnx",
        Reply::Integer(1),
        Reply::Integer(0),
    )
}

/// SETEX key seconds value
pub(crate) fn setex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = ExtOpts {
        expire: Some((Unit::Ex, a[2])),
        ..ExtOpts::default()
    };
    set_generic(cx, a[1], a[3], &o, "setex", Reply::ok(), Reply::nil())
}

/// PSETEX key milliseconds value
pub(crate) fn psetex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = ExtOpts {
        expire: Some((Unit::Px, a[2])),
        ..ExtOpts::default()
    };
    set_generic(cx, a[1], a[3], &o, "psetex", Reply::ok(), Reply::nil())
}

/// GETSET key value (clears the TTL)
pub(crate) fn getset(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let budget = cx.reply;
    let db = cx.db();
    let old = tri!(string_value(db, a[1], now, budget));
    db.set(a[1], Value::Str(a[2].to_vec()), false);
    Reply::Bulk(old)
}

/// GETDEL key
pub(crate) fn getdel(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let budget = cx.reply;
    let db = cx.db();
    let old = tri!(string_value(db, a[1], now, budget));
    if old.is_some() {
        db.remove(a[1]);
    }
    Reply::Bulk(old)
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
pub(crate) fn getex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = tri!(parse_ext(&a[2..], false));
    let now = cx.now;
    let budget = cx.reply;
    let db = cx.db();
    let Some(v) = tri!(string_value(db, a[1], now, budget)) else {
        return Reply::nil();
    };
    if let Some((u, arg)) = o.expire {
        let t = tri!(expire_at(u, arg, now, "getex"));
        if matches!(u, Unit::ExAt | Unit::PxAt) && t <= now {
            db.delete(a[1]);
        } else {
            db.raise(Classes::GENERIC, "expire");
            db.set_expire(a[1], t);
        }
    } else if o.persist {
        db.raise(Classes::GENERIC, "persist");
        db.persist(a[1]);
    }
    Reply::Bulk(Some(v))
}

/// MGET key [key ...] (nil for missing keys and other types)
pub(crate) fn mget(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, budget) = (cx.now, cx.reply);
    let db = cx.db();
    let mut bytes = 0usize;
    // Sized without counting as an access (expired keys included: an
    // overestimate).
    for k in &a[1..] {
        if let Some(Value::Str(s)) = db.raw_entry(k).map(|e| &e.value) {
            bytes = bytes.saturating_add(s.len());
        }
    }
    tri!(budget.take(bytes, a.len()));
    Reply::array(
        a[1..]
            .iter()
            .map(|k| match db.get(k, now) {
                Some(Value::Str(s)) => Reply::bulk(s),
                _ => Reply::nil(),
            })
            .collect(),
    )
}

/// MSET key value [key value ...]
pub(crate) fn mset(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if a.len().is_multiple_of(2) {
        return Reply::arity("mset");
    }
    let db = cx.db();
    for kv in a[1..].chunks_exact(2) {
        db.set(kv[0], Value::Str(kv[1].to_vec()), false);
    }
    Reply::ok()
}

/// MSETNX key value [key value ...]
pub(crate) fn msetnx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if a.len().is_multiple_of(2) {
        return Reply::arity("msetnx");
    }
    let now = cx.now;
    let db = cx.db();
    if a[1..].chunks_exact(2).any(|kv| db.exists(kv[0], now)) {
        return Reply::Integer(0);
    }
    for kv in a[1..].chunks_exact(2) {
        db.set(kv[0], Value::Str(kv[1].to_vec()), false);
    }
    Reply::Integer(1)
}

/// APPEND key value
pub(crate) fn append(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    let len = match db.get_mut(a[1], now) {
        None => {
            let mut s = Vec::new();
            tri!(room.reserve(&mut s, a[2].len()));
            s.extend_from_slice(a[2]);
            db.set(a[1], Value::Str(s), false);
            a[2].len()
        }
        Some(Value::Str(s)) => {
            tri!(check_len(s.len() + a[2].len()));
            tri!(room.reserve(s, a[2].len()));
            s.extend_from_slice(a[2]);
            let n = s.len();
            db.touch(a[1]);
            // Redis appends to a private `raw` copy.
            db.set_encoding(a[1], Encoding::Raw);
            n
        }
        Some(_) => return crate::db::wrongtype(),
    };
    Reply::Integer(len as i64)
}

/// STRLEN key
pub(crate) fn strlen(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let v: Option<&Vec<u8>> = tri!(typed!(cx.db(), a[1], now, Str));
    Reply::Integer(v.map_or(0, |s| s.len() as i64))
}

/// GETRANGE key start end (also SUBSTR)
pub(crate) fn getrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let start = tri!(int_arg(a[2]));
    let end = tri!(int_arg(a[3]));
    let (now, budget) = (cx.now, cx.reply);
    let v: Option<&Vec<u8>> = tri!(typed!(cx.db(), a[1], now, Str));
    let Some(s) = v else {
        return Reply::bulk(b"");
    };
    let len = s.len() as i64;
    let start = if start < 0 { start + len } else { start };
    let end = if end < 0 { end + len } else { end };
    if len == 0 || start >= len || end < 0 || start > end {
        return Reply::bulk(b"");
    }
    let start = start.max(0) as usize;
    let end = end.min(len - 1) as usize;
    tri!(budget.take(end + 1 - start, 1));
    Reply::bulk(&s[start..=end])
}

/// SETRANGE key offset value
pub(crate) fn setrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let offset = tri!(int_arg(a[2]));
    if offset < 0 {
        return Reply::error("ERR offset is out of range");
    }
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let val = a[3];
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    match db.get_mut(a[1], now) {
        None => {
            if val.is_empty() {
                return Reply::Integer(0);
            }
            tri!(check_len(offset.saturating_add(val.len())));
            let mut s = tri!(room.zeroed(offset));
            tri!(room.reserve(&mut s, val.len()));
            s.extend_from_slice(val);
            let n = s.len();
            db.set(a[1], Value::Str(s), false);
            // Built in place, never tried as an integer or embstr.
            db.set_encoding(a[1], Encoding::Raw);
            Reply::Integer(n as i64)
        }
        Some(Value::Str(s)) => {
            if val.is_empty() {
                return Reply::Integer(s.len() as i64);
            }
            tri!(check_len(offset.saturating_add(val.len())));
            let end = offset + val.len();
            if s.len() < end {
                tri!(room.reserve(s, end - s.len()));
                s.resize(end, 0);
            }
            s[offset..end].copy_from_slice(val);
            let n = s.len();
            db.touch(a[1]);
            db.set_encoding(a[1], Encoding::Raw);
            Reply::Integer(n as i64)
        }
        Some(_) => crate::db::wrongtype(),
    }
}

fn incr_by(cx: &mut Ctx<'_>, key: &[u8], by: i64) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let cur = match db.get_mut(key, now) {
        None => 0,
        Some(Value::Str(s)) => tri!(num::parse_i64(s).ok_or_else(|| Reply::error(NOT_INTEGER))),
        Some(_) => return crate::db::wrongtype(),
    };
    let Some(n) = cur.checked_add(by) else {
        return Reply::error(OVERFLOW);
    };
    db.set(key, Value::Str(num::int_bytes(n)), true);
    Reply::Integer(n)
}

/// INCR key
pub(crate) fn incr(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    incr_by(cx, a[1], 1)
}

/// DECR key
pub(crate) fn decr(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    incr_by(cx, a[1], -1)
}

/// INCRBY key increment
pub(crate) fn incrby(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let by = tri!(int_arg(a[2]));
    incr_by(cx, a[1], by)
}

/// DECRBY key decrement
pub(crate) fn decrby(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let by = tri!(int_arg(a[2]));
    if by == i64::MIN {
        return Reply::error("ERR decrement would overflow");
    }
    incr_by(cx, a[1], -by)
}

/// INCRBYFLOAT key increment
pub(crate) fn incrbyfloat(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    // In `long double`, as Redis computes it ([`LongDouble`]).
    let cur = match db.get_mut(a[1], now) {
        None => LongDouble::ZERO,
        Some(Value::Str(s)) => tri!(LongDouble::parse(s).ok_or_else(|| Reply::error(NOT_FLOAT))),
        Some(_) => return crate::db::wrongtype(),
    };
    let Some(by) = LongDouble::parse(a[2]) else {
        return Reply::error(NOT_FLOAT);
    };
    let v = cur.add(by);
    if !v.is_finite() {
        return Reply::error(NAN_OR_INF);
    }
    let out = v.fmt_human().into_bytes();
    db.set(a[1], Value::Str(out.clone()), true);
    // Redis makes the result from its digits, without trying an integer.
    db.set_encoding(a[1], Encoding::created(out.len()));
    Reply::Bulk(Some(out))
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
pub(crate) fn lcs(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    const NOT_STRINGS: &str = "ERR The specified keys must contain string values";
    let (now, room, budget) = (cx.now, cx.room, cx.reply);
    let db = cx.db();
    let x: Option<&Vec<u8>> =
        tri!(typed!(db, a[1], now, Str).map_err(|_| Reply::error(NOT_STRINGS)));
    let x = x.cloned().unwrap_or_default();
    let y: Option<&Vec<u8>> =
        tri!(typed!(db, a[2], now, Str).map_err(|_| Reply::error(NOT_STRINGS)));
    let y = y.cloned().unwrap_or_default();
    let (mut getidx, mut getlen, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < a.len() {
        let more = a.len() - 1 - j;
        if is(a[j], "idx") {
            getidx = true;
        } else if is(a[j], "len") {
            getlen = true;
        } else if is(a[j], "withmatchlen") {
            withmatchlen = true;
        } else if is(a[j], "minmatchlen") && more > 0 {
            minmatchlen = tri!(int_arg(a[j + 1])).max(0);
            j += 1;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Reply::error("ERR If you want both the length and indexes, please just use IDX.");
    }
    let (alen, blen) = (x.len(), y.len());
    // The table of LCS lengths, (alen + 1) × (blen + 1) counters, besides
    // the copies of the strings.
    let cells = (alen + 1).saturating_mul(blen + 1);
    // Redis refuses a table larger than proto-max-bulk-len.
    if cells.saturating_mul(4) > MAX_STRING {
        return Reply::error(
            "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        );
    }
    if !room.fits(cells.saturating_mul(4).saturating_add(alen + blen)) {
        return Reply::error(OOM);
    }
    let mut t = alloc::vec![0u32; cells];
    let at = |i: usize, j: usize| i * (blen + 1) + j;
    for i in 1..=alen {
        for j in 1..=blen {
            t[at(i, j)] = if x[i - 1] == y[j - 1] {
                t[at(i - 1, j - 1)] + 1
            } else {
                t[at(i - 1, j)].max(t[at(i, j - 1)])
            };
        }
    }
    let total = t[at(alen, blen)] as usize;
    if getlen {
        return Reply::Integer(total as i64);
    }
    // Redis's walk back from the end: the common string, and the matching
    // ranges (as [a_start, a_end], [b_start, b_end], length).
    let mut common = alloc::vec![0u8; total];
    let mut ranges: Vec<[usize; 5]> = Vec::new();
    let (mut i, mut j, mut idx) = (alen, blen, total);
    let (mut a_start, mut a_end, mut b_start, mut b_end) = (alen, 0, 0, 0);
    while i > 0 && j > 0 {
        let mut emit = false;
        if x[i - 1] == y[j - 1] {
            common[idx - 1] = x[i - 1];
            if a_start == alen {
                (a_start, a_end, b_start, b_end) = (i - 1, i - 1, j - 1, j - 1);
            } else if a_start == i && b_start == j {
                a_start -= 1;
                b_start -= 1;
            } else {
                emit = true;
            }
            if a_start == 0 || b_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if t[at(i - 1, j)] > t[at(i, j - 1)] {
                i -= 1;
            } else {
                j -= 1;
            }
            if a_start != alen {
                emit = true;
            }
        }
        if emit {
            let len = a_end - a_start + 1;
            if getidx && (minmatchlen == 0 || len as i64 >= minmatchlen) {
                ranges.push([a_start, a_end, b_start, b_end, len]);
            }
            a_start = alen;
        }
    }
    if !getidx {
        tri!(budget.take(common.len(), 1));
        return Reply::Bulk(Some(common));
    }
    let per = if withmatchlen { 9 } else { 8 };
    tri!(budget.take(ranges.len() * per * 20 + 16, ranges.len() * per + 4));
    let out = ranges
        .into_iter()
        .map(|[a0, a1, b0, b1, len]| {
            let mut m = alloc::vec![
                Reply::array(alloc::vec![
                    Reply::Integer(a0 as i64),
                    Reply::Integer(a1 as i64)
                ]),
                Reply::array(alloc::vec![
                    Reply::Integer(b0 as i64),
                    Reply::Integer(b1 as i64)
                ]),
            ];
            if withmatchlen {
                m.push(Reply::Integer(len as i64));
            }
            Reply::array(m)
        })
        .collect();
    Reply::Map(alloc::vec![
        (Reply::bulk(b"matches"), Reply::array(out)),
        (Reply::bulk(b"len"), Reply::Integer(total as i64)),
    ])
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::vec;

    #[test]
    fn lcs() {
        let mut t = T::new();
        t.run("SET a ohmytext");
        t.run("SET b mynewtext");
        assert_eq!(t.run("LCS a b"), bulk("mytext"));
        assert_eq!(t.run("LCS a b LEN"), int(6));
        let pair = |x: i64, y: i64| Reply::array(vec![int(x), int(y)]);
        assert_eq!(
            t.run("LCS a b IDX"),
            Reply::array(vec![
                bulk("matches"),
                Reply::array(vec![
                    Reply::array(vec![pair(4, 7), pair(5, 8)]),
                    Reply::array(vec![pair(2, 3), pair(0, 1)]),
                ]),
                bulk("len"),
                int(6),
            ])
        );
        assert_eq!(
            t.run("LCS a b idx minmatchlen 4 withmatchlen"),
            Reply::array(vec![
                bulk("matches"),
                Reply::array(vec![Reply::array(vec![pair(4, 7), pair(5, 8), int(4)])]),
                bulk("len"),
                int(6),
            ])
        );
        assert_eq!(
            t.run("LCS a nope IDX"),
            Reply::array(vec![bulk("matches"), arr(&[]), bulk("len"), int(0)])
        );
        assert_eq!(t.run("LCS a nope"), bulk(""));
        assert_eq!(
            t.run("LCS a b IDX LEN"),
            err("ERR If you want both the length and indexes, please just use IDX.")
        );
        assert_eq!(t.run("LCS a b MINMATCHLEN"), err(SYNTAX));
        assert_eq!(t.run("LCS a b MINMATCHLEN x"), err(NOT_INTEGER));
        // A table past proto-max-bulk-len: 9 × 2^24 cells of 4 bytes.
        t.run("SETRANGE big 16777215 x");
        assert_eq!(
            t.run("LCS a big"),
            err("ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")
        );
        t.run("RPUSH l x");
        assert_eq!(
            t.run("LCS l a BOGUS"),
            err("ERR The specified keys must contain string values")
        );
        assert_eq!(
            t.run("LCS a"),
            err("ERR wrong number of arguments for 'lcs' command")
        );
    }

    #[test]
    fn get_set_basics() {
        let mut t = T::new();
        assert_eq!(t.run("GET k"), nil());
        assert_eq!(t.run("SET k v"), ok());
        assert_eq!(t.run("get k"), bulk("v"));
        assert_eq!(t.argv(&[b"SET", b"bin", b"a\0b\r\n"]), ok());
        assert_eq!(t.run("GET bin"), Reply::bulk(b"a\0b\r\n"));
        assert_eq!(
            t.run("GET"),
            err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(
            t.run("SET k"),
            err("ERR wrong number of arguments for 'set' command")
        );
        t.run("LPUSH l a");
        assert_eq!(t.run("GET l"), err(WRONGTYPE));
    }

    #[test]
    fn set_options() {
        let mut t = T::new();
        assert_eq!(t.run("SET k v NX"), ok());
        assert_eq!(t.run("SET k w NX"), nil());
        assert_eq!(t.run("SET k w XX"), ok());
        assert_eq!(t.run("SET nope w XX"), nil());
        assert_eq!(t.run("GET nope"), nil());
        assert_eq!(t.run("SET k v NX XX"), err(SYNTAX));
        assert_eq!(t.run("SET k v XX NX"), err(SYNTAX));
        assert_eq!(t.run("SET k v EX 10 PX 100"), err(SYNTAX));
        assert_eq!(t.run("SET k v EX 10 KEEPTTL"), err(SYNTAX));
        assert_eq!(t.run("SET k v KEEPTTL EX 10"), err(SYNTAX));
        assert_eq!(t.run("SET k v EX"), err(SYNTAX));
        assert_eq!(t.run("SET k v FOO"), err(SYNTAX));
        assert_eq!(t.run("SET k v PERSIST"), err(SYNTAX));
        assert_eq!(
            t.run("SET k v EX 0"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            t.run("SET k v EX -5"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            t.run("SET k v EX 9223372036854775807"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(
            t.run("SET k v PX 9223372036854775807"),
            err("ERR invalid expire time in 'set' command")
        );
        assert_eq!(t.run("SET k v EX x"), err(NOT_INTEGER));
        assert_eq!(t.run("SET k v EX 10 EX 20"), ok());
        assert_eq!(t.run("PTTL k"), int(20_000));
        assert_eq!(t.run("SET k v2 KEEPTTL"), ok());
        assert_eq!(t.run("PTTL k"), int(20_000));
        assert_eq!(t.run("SET k v3"), ok());
        assert_eq!(t.run("PTTL k"), int(-1));
        assert_eq!(t.run("SET k v PX 1500"), ok());
        assert_eq!(t.run("PTTL k"), int(1500));
        assert_eq!(t.run("SET k v EXAT 2000"), ok());
        assert_eq!(t.run("PEXPIRETIME k"), int(2_000_000));
        assert_eq!(t.run("SET k v PXAT 2000001"), ok());
        assert_eq!(t.run("PEXPIRETIME k"), int(2_000_001));
        // An absolute time in the past: set, then gone.
        assert_eq!(t.run("SET k v PXAT 5"), ok());
        assert_eq!(t.run("GET k"), nil());
    }

    #[test]
    fn set_get_option() {
        let mut t = T::new();
        assert_eq!(t.run("SET k v GET"), nil());
        assert_eq!(t.run("SET k w GET"), bulk("v"));
        assert_eq!(t.run("SET k x NX GET"), bulk("w"));
        assert_eq!(t.run("GET k"), bulk("w"));
        assert_eq!(t.run("SET n x XX GET"), nil());
        assert_eq!(t.run("EXISTS n"), int(0));
        t.run("RPUSH l a");
        assert_eq!(t.run("SET l x GET"), err(WRONGTYPE));
        assert_eq!(t.run("TYPE l"), simple("list"));
        assert_eq!(t.run("SET l x"), ok());
        assert_eq!(t.run("TYPE l"), simple("string"));
    }

    #[test]
    fn setnx_setex_psetex_getset() {
        let mut t = T::new();
        assert_eq!(t.run("SETNX k a"), int(1));
        assert_eq!(t.run("SETNX k b"), int(0));
        assert_eq!(t.run("GET k"), bulk("a"));
        assert_eq!(t.run("SETEX k 10 b"), ok());
        assert_eq!(t.run("TTL k"), int(10));
        assert_eq!(
            t.run("SETEX k 0 b"),
            err("ERR invalid expire time in 'setex' command")
        );
        assert_eq!(t.run("SETEX k x b"), err(NOT_INTEGER));
        assert_eq!(
            t.run("PSETEX k 0 b"),
            err("ERR invalid expire time in 'psetex' command")
        );
        assert_eq!(t.run("PSETEX k 100 c"), ok());
        assert_eq!(t.run("PTTL k"), int(100));
        assert_eq!(t.run("GETSET k d"), bulk("c"));
        assert_eq!(t.run("TTL k"), int(-1));
        assert_eq!(t.run("GETSET new d"), nil());
        t.run("SADD s a");
        assert_eq!(t.run("GETSET s d"), err(WRONGTYPE));
    }

    #[test]
    fn getdel_getex() {
        let mut t = T::new();
        t.run("SET k v");
        assert_eq!(t.run("GETDEL k"), bulk("v"));
        assert_eq!(t.run("GETDEL k"), nil());
        assert_eq!(t.run("EXISTS k"), int(0));
        t.run("SET k v");
        assert_eq!(t.run("GETEX k"), bulk("v"));
        assert_eq!(t.run("GETEX k EX 100"), bulk("v"));
        assert_eq!(t.run("TTL k"), int(100));
        assert_eq!(t.run("GETEX k PERSIST"), bulk("v"));
        assert_eq!(t.run("TTL k"), int(-1));
        assert_eq!(t.run("GETEX k PX 10 PERSIST"), err(SYNTAX));
        assert_eq!(t.run("GETEX k NX"), err(SYNTAX));
        assert_eq!(t.run("GETEX k KEEPTTL"), err(SYNTAX));
        assert_eq!(
            t.run("GETEX k EX 0"),
            err("ERR invalid expire time in 'getex' command")
        );
        assert_eq!(t.run("GETEX missing EX 0"), nil());
        assert_eq!(t.run("GETEX k PXAT 1"), bulk("v"));
        assert_eq!(t.run("EXISTS k"), int(0));
        t.run("HSET h f v");
        assert_eq!(t.run("GETEX h"), err(WRONGTYPE));
        assert_eq!(t.run("GETDEL h"), err(WRONGTYPE));
    }

    #[test]
    fn mget_mset_msetnx() {
        let mut t = T::new();
        assert_eq!(t.run("MSET a 1 b 2"), ok());
        t.run("LPUSH l x");
        assert_eq!(
            t.run("MGET a b c l"),
            Reply::array(alloc::vec![bulk("1"), bulk("2"), nil(), nil()])
        );
        assert_eq!(
            t.run("MSET a 1 b"),
            err("ERR wrong number of arguments for 'mset' command")
        );
        assert_eq!(t.run("MSETNX a 1 z 2"), int(0));
        assert_eq!(t.run("EXISTS z"), int(0));
        assert_eq!(t.run("MSETNX y 1 z 2"), int(1));
        assert_eq!(
            t.run("MSETNX y"),
            err("ERR wrong number of arguments for 'msetnx' command")
        );
        assert_eq!(t.run("MSETNX q 1 q 2"), int(1));
        assert_eq!(t.run("GET q"), bulk("2"));
    }

    #[test]
    fn append_strlen_ranges() {
        let mut t = T::new();
        assert_eq!(t.run("APPEND k Hello"), int(5));
        assert_eq!(t.run("APPEND k World"), int(10));
        assert_eq!(t.run("STRLEN k"), int(10));
        assert_eq!(t.run("STRLEN nope"), int(0));
        assert_eq!(t.run("GETRANGE k 0 4"), bulk("Hello"));
        assert_eq!(t.run("GETRANGE k -5 -1"), bulk("World"));
        assert_eq!(t.run("GETRANGE k -100 100"), bulk("HelloWorld"));
        assert_eq!(t.run("GETRANGE k 5 3"), bulk(""));
        assert_eq!(t.run("GETRANGE k 20 30"), bulk(""));
        assert_eq!(t.run("GETRANGE k -1 -5"), bulk(""));
        assert_eq!(t.run("GETRANGE nope 0 -1"), bulk(""));
        assert_eq!(t.run("SUBSTR k 0 0"), bulk("H"));
        assert_eq!(t.run("GETRANGE k a 1"), err(NOT_INTEGER));
        assert_eq!(t.run("SETRANGE k 5 _"), int(10));
        assert_eq!(t.run("GET k"), bulk("Hello_orld"));
        assert_eq!(t.run("SETRANGE n 3 ab"), int(5));
        assert_eq!(t.run("GET n"), Reply::bulk(b"\0\0\0ab"));
        assert_eq!(
            t.run("SETRANGE e 3"),
            err("ERR wrong number of arguments for 'setrange' command")
        );
        assert_eq!(t.argv(&[b"SETRANGE", b"e", b"3", b""]), int(0));
        assert_eq!(t.run("EXISTS e"), int(0));
        assert_eq!(t.argv(&[b"SETRANGE", b"k", b"100", b""]), int(10));
        assert_eq!(t.run("SETRANGE k -1 x"), err("ERR offset is out of range"));
        assert_eq!(t.run("SETRANGE k 536870912 x"), err(STRING_TOO_LONG));
        t.run("SADD s a");
        assert_eq!(t.run("APPEND s x"), err(WRONGTYPE));
        assert_eq!(t.run("STRLEN s"), err(WRONGTYPE));
        assert_eq!(t.run("GETRANGE s 0 1"), err(WRONGTYPE));
        assert_eq!(t.run("SETRANGE s 0 1"), err(WRONGTYPE));
    }

    #[test]
    fn counters() {
        let mut t = T::new();
        assert_eq!(t.run("INCR c"), int(1));
        assert_eq!(t.run("INCRBY c 10"), int(11));
        assert_eq!(t.run("DECR c"), int(10));
        assert_eq!(t.run("DECRBY c -5"), int(15));
        assert_eq!(t.run("GET c"), bulk("15"));
        t.run("SET c 9223372036854775806");
        assert_eq!(t.run("INCR c"), int(i64::MAX));
        assert_eq!(t.run("INCR c"), err(OVERFLOW));
        t.run("SET c -9223372036854775808");
        assert_eq!(t.run("DECR c"), err(OVERFLOW));
        assert_eq!(
            t.run("DECRBY c -9223372036854775808"),
            err("ERR decrement would overflow")
        );
        t.run("SET c abc");
        assert_eq!(t.run("INCR c"), err(NOT_INTEGER));
        t.run("SET c 01");
        assert_eq!(t.run("INCR c"), err(NOT_INTEGER));
        t.run("SET c 1");
        assert_eq!(t.run("INCRBY c 1.5"), err(NOT_INTEGER));
        assert_eq!(t.run("INCRBY c +1"), err(NOT_INTEGER));
        t.run("SET c 5 EX 100");
        assert_eq!(t.run("INCR c"), int(6));
        assert_eq!(t.run("TTL c"), int(100), "INCR keeps the TTL");
        t.run("RPUSH l a");
        assert_eq!(t.run("INCR l"), err(WRONGTYPE));
    }

    #[test]
    fn incrbyfloat() {
        let mut t = T::new();
        assert_eq!(t.run("INCRBYFLOAT f 1"), bulk("1"));
        assert_eq!(t.run("INCRBYFLOAT f 0.25"), bulk("1.25"));
        t.run("SET f 10.50");
        assert_eq!(t.run("INCRBYFLOAT f 0.1"), bulk("10.6"));
        t.run("SET f 5.0e3");
        assert_eq!(t.run("INCRBYFLOAT f 2.0e2"), bulk("5200"));
        t.run("SET f 0.1");
        assert_eq!(t.run("INCRBYFLOAT f 0.2"), bulk("0.3"));
        assert_eq!(t.run("INCRBYFLOAT f -0.3"), bulk("0"));
        assert_eq!(t.run("INCRBYFLOAT f abc"), err(NOT_FLOAT));
        assert_eq!(t.run("INCRBYFLOAT f nan"), err(NOT_FLOAT));
        assert_eq!(t.run("INCRBYFLOAT f inf"), err(NAN_OR_INF));
        // Computed in `long double`, as Redis does: twice f64's greatest
        // is no overflow there (Redis 7.0.15 answers these digits).
        t.run("SET f 1.7976931348623157e308");
        let Reply::Bulk(Some(b)) = t.run("INCRBYFLOAT f 1.7976931348623157e308") else {
            panic!("a number")
        };
        assert!(b.starts_with(b"3595386269724631399918420935482088680967"));
        t.run("SET f 1e4932");
        assert_eq!(t.run("INCRBYFLOAT f 1e4932"), err(NAN_OR_INF));
        t.run("SET f 123456789.123");
        assert_eq!(
            t.run("INCRBYFLOAT f 0"),
            bulk("123456789.12299999999959255")
        );
        t.run("SET f x");
        assert_eq!(t.run("INCRBYFLOAT f 1"), err(NOT_FLOAT));
        t.run("SET f 3 PX 500");
        assert_eq!(t.run("INCRBYFLOAT f 1.5"), bulk("4.5"));
        assert_eq!(t.run("PTTL f"), int(500));
        t.run("SADD s a");
        assert_eq!(t.run("INCRBYFLOAT s 1"), err(WRONGTYPE));
    }

    #[test]
    fn too_long_strings_are_refused() {
        assert!(super::check_len(super::MAX_STRING).is_ok());
        assert_eq!(
            super::check_len(super::MAX_STRING + 1),
            Err(err(STRING_TOO_LONG))
        );
    }
}
