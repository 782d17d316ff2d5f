//! SORT and SORT_RO: a list's, set's or sorted set's elements ordered by
//! their numeric value, as strings (ALPHA) or by other keys' values (BY),
//! with other keys' values in their place (GET), a range (LIMIT), and
//! SORT's STORE of the result as a list.
//!
//! Patterns are Redis's: the first `*` stands for the element, a `->field`
//! after it reads that field of a hash, and `#` is the element itself.
//! Like Redis, which reads them as C strings, a pattern's `*`, `->` and
//! `#` are only looked for before its first NUL byte.
//!
//! Order: numbers ascending with ties by the elements' bytes; ALPHA by
//! bytes up to the first NUL when the reply goes to the client (Redis's
//! `strcoll` in the C locale), by all bytes for STORE; elements BY a
//! pattern that finds nothing sort first under ALPHA and as 0 otherwise.
//! The sort is stable, as glibc's `qsort` is for Redis: ALPHA ties keep
//! the order the value holds its elements in.

use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::ops::Range;

use crate::cmd::{int_arg, is, scan};
use crate::db::{Db, Value, tri, wrongtype};
use crate::memory::OOM;
use crate::num;
use crate::reply::{NOT_INTEGER, Reply, SYNTAX};
use crate::store::Ctx;

/// The options, as Redis's `sortCommandGeneric` reads them.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT's offset and count (count −1: all).
    offset: i64,
    count: i64,
    by: Option<&'a [u8]>,
    /// A BY pattern without `*` was given (even if a later one has one,
    /// as in Redis): the elements keep their order.
    dontsort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse<'a>(opts: &[&'a [u8]], readonly: bool) -> Result<Options<'a>, Reply> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dontsort: false,
        gets: Vec::new(),
        store: None,
    };
    let mut i = 0;
    while i < opts.len() {
        let left = opts.len() - i - 1;
        let word = opts[i];
        if is(word, "asc") {
            o.desc = false;
        } else if is(word, "desc") {
            o.desc = true;
        } else if is(word, "alpha") {
            o.alpha = true;
        } else if is(word, "limit") && left >= 2 {
            let (Ok(offset), Ok(count)) = (int_arg(opts[i + 1]), int_arg(opts[i + 2])) else {
                return Err(Reply::error(NOT_INTEGER));
            };
            (o.offset, o.count) = (offset, count);
            i += 2;
        } else if !readonly && is(word, "store") && left >= 1 {
            o.store = Some(opts[i + 1]);
            i += 1;
        } else if is(word, "by") && left >= 1 {
            let by = opts[i + 1];
            o.by = Some(by);
            if !c_str(by).contains(&b'*') {
                o.dontsort = true;
            }
            i += 1;
        } else if is(word, "get") && left >= 1 {
            o.gets.push(opts[i + 1]);
            i += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
        i += 1;
    }
    Ok(o)
}

/// `s` up to its first NUL byte: what C's string functions see of it.
fn c_str(s: &[u8]) -> &[u8] {
    s.iter().position(|&b| b == 0).map_or(s, |n| &s[..n])
}

/// A key's live value, read without the lazy expiry a write would do (the
/// elements being sorted are borrowed from the database).
fn live<'d>(db: &'d Db, key: &[u8], now: i64) -> Option<&'d Value> {
    db.raw_entry(key)
        .filter(|e| !Db::is_expired(e, now))
        .map(|e| &e.value)
}

/// Redis's `lookupKeyByPattern`: what `pattern` finds for `elem`, the
/// element itself for `#`; nothing without a `*`, for a missing key, a
/// key of another type (a string, or a hash for `->field`) or a missing
/// field.
fn by_pattern<'d>(db: &'d Db, now: i64, pattern: &[u8], elem: &'d [u8]) -> Option<&'d [u8]> {
    let text = c_str(pattern);
    if text == b"#" {
        return Some(elem);
    }
    let star = text.iter().position(|&b| b == b'*')?;
    // `->` after the `*`, followed by a field name, reads a hash field.
    let arrow = text[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&f| f + 2 < text.len());
    let (postfix, field) = match arrow {
        Some(f) => (&pattern[star + 1..f], Some(&pattern[f + 2..])),
        None => (&pattern[star + 1..], None),
    };
    let mut key = Vec::with_capacity(star + elem.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(postfix);
    match (live(db, &key, now)?, field) {
        (Value::Hash(h), Some(field)) => h.get(field).map(Vec::as_slice),
        (Value::Str(s), None) => Some(s),
        _ => None,
    }
}

/// A number to sort by, as Redis's `strtod` check reads it: leading
/// white space allowed, the whole rest a number (overflow and NaN
/// refused); the empty string is 0.
fn score(v: &[u8]) -> Option<f64> {
    if v.is_empty() {
        return Some(0.0);
    }
    let blank = v
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    num::parse_f64(&v[blank..])
}

/// One element and what it sorts by.
struct Item<'d> {
    elem: &'d [u8],
    score: f64,
    /// Under ALPHA BY: the value found (none sorts first).
    by: Option<&'d [u8]>,
}

/// The elements of `v` to sort, and the range of them to output: all
/// of them, or, when they keep their order (`dontsort`) and have one, just
/// the range, in the direction asked.
fn load<'d>(v: Option<&'d Value>, o: &Options<'_>) -> (Vec<Item<'d>>, Range<usize>) {
    let len = match v {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    };
    // Redis's LIMIT arithmetic, kept within the length.
    let n = len as i64;
    let mut start = o.offset.clamp(0, n);
    let count = o.count.clamp(-1, n);
    let mut end = if count < 0 { n - 1 } else { start + count - 1 };
    if start >= n {
        start = n - 1;
        end = n - 2;
    }
    end = end.min(n - 1);
    let range = if end >= start {
        start as usize..end as usize + 1
    } else {
        0..0
    };
    let item = |elem: &'d [u8]| Item {
        elem,
        score: 0.0,
        by: None,
    };
    // A list or sorted set that keeps its order gives just the range.
    let ordered = |it: &mut dyn DoubleEndedIterator<Item = &'d [u8]>| {
        let (skip, take) = (range.start, range.len());
        let items: Vec<Item<'d>> = if o.desc {
            it.rev().skip(skip).take(take).map(item).collect()
        } else {
            it.skip(skip).take(take).map(item).collect()
        };
        let n = items.len();
        (items, 0..n)
    };
    match v {
        Some(Value::List(l)) if o.dontsort => ordered(&mut l.iter().map(Vec::as_slice)),
        Some(Value::ZSet(z)) if o.dontsort => ordered(&mut z.iter().map(|(m, _)| m)),
        Some(Value::List(l)) => (l.iter().map(|e| item(e)).collect(), range),
        Some(Value::Set(s)) => (s.iter().map(|m| item(m)).collect(), range),
        Some(Value::ZSet(z)) => (z.entries().map(|(m, _)| item(m)).collect(), range),
        _ => (Vec::new(), 0..0),
    }
}

/// Redis's `sortCompare` for ALPHA: by bytes for STORE, else as `strcoll`
/// in the C locale compares (up to the first NUL).
fn alpha_cmp(a: &[u8], b: &[u8], store: bool) -> Ordering {
    if store {
        a.cmp(b)
    } else {
        c_str(a).cmp(c_str(b))
    }
}

fn sort_generic(cx: &mut Ctx<'_>, a: &[&[u8]], readonly: bool) -> Reply {
    let mut o = tri!(parse(&a[2..], readonly));
    let (now, room, budget) = (cx.now, cx.room, cx.reply);
    let db = cx.db();
    match db.get(a[1], now) {
        None | Some(Value::List(_) | Value::Set(_) | Value::ZSet(_)) => {}
        Some(_) => return wrongtype(),
    }
    // Redis turns a small sorted set into a skiplist to sort it, for good
    // (SORT_RO too); only a sorted set can be a listpack here.
    db.promote(a[1], true);
    let v = db.peek(a[1]);
    // A set keeps no order of its own: stored (or, in Redis, replicated)
    // it is sorted as strings whatever BY says.
    if o.dontsort && o.store.is_some() && matches!(v, Some(Value::Set(_))) {
        o.dontsort = false;
        o.alpha = true;
        o.by = None;
    }
    let held = match v {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    };
    // An item is a few words: two of the working units the SCAN family's
    // check counts.
    tri!(scan::working_room(room, held.saturating_mul(2)));
    let db: &Db = db;
    let (mut items, range) = load(v, &o);
    if !o.dontsort {
        let mut bad = false;
        for it in &mut items {
            let value = match o.by {
                Some(p) => by_pattern(db, now, p, it.elem),
                None => Some(it.elem),
            };
            let Some(value) = value else {
                continue;
            };
            if o.alpha {
                if o.by.is_some() {
                    it.by = Some(value);
                }
            } else {
                match score(value) {
                    Some(s) => it.score = s,
                    None => bad = true,
                }
            }
        }
        if bad {
            return Reply::error("ERR One or more scores can't be converted into double");
        }
        let store = o.store.is_some();
        let cmp = |x: &Item<'_>, y: &Item<'_>| match (o.alpha, o.by.is_some()) {
            (false, _) => x
                .score
                .partial_cmp(&y.score)
                .unwrap_or(Ordering::Equal)
                .then_with(|| x.elem.cmp(y.elem)),
            (true, true) => match (x.by, y.by) {
                (Some(p), Some(q)) => alpha_cmp(p, q, store),
                (p, q) => p.is_some().cmp(&q.is_some()),
            },
            (true, false) => alpha_cmp(x.elem, y.elem, store),
        };
        if o.desc {
            items.sort_by(|x, y| cmp(y, x));
        } else {
            items.sort_by(cmp);
        }
    }
    let chosen = &items[range];
    // What goes out: each element, or what each GET finds for it.
    let per = o.gets.len().max(1);
    let total = chosen.len() * per;
    tri!(scan::working_room(room, total));
    let mut out: Vec<Option<&[u8]>> = Vec::with_capacity(total);
    for it in chosen {
        if o.gets.is_empty() {
            out.push(Some(it.elem));
        }
        for p in &o.gets {
            out.push(by_pattern(db, now, p, it.elem));
        }
    }
    let bytes = out
        .iter()
        .fold(0usize, |b, v| b.saturating_add(v.map_or(0, <[u8]>::len)));
    let Some(dest) = o.store else {
        tri!(budget.take(bytes, total));
        return Reply::array(
            out.into_iter()
                .map(|v| Reply::Bulk(v.map(<[u8]>::to_vec)))
                .collect(),
        );
    };
    // The list is data: its elements and a few words each.
    if !room.fits(bytes.saturating_add(total.saturating_mul(32))) {
        return Reply::error(OOM);
    }
    let list: VecDeque<Vec<u8>> = out
        .into_iter()
        .map(|v| v.map_or_else(Vec::new, <[u8]>::to_vec))
        .collect();
    let db = cx.db();
    if list.is_empty() {
        db.delete(dest);
    } else {
        db.set(dest, Value::List(list), false);
    }
    Reply::Integer(total as i64)
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]
pub(crate) fn sort(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    sort_generic(cx, a, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
pub(crate) fn sort_ro(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    sort_generic(cx, a, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testutil::*;

    #[test]
    fn patterns_as_c_strings() {
        let mut t = T::new();
        t.run("SET w_a 5");
        t.run("HSET h_a f 7");
        t.run("SET h_a-> 9");
        let now = t.now as i64;
        let db = &t.store.dbs()[0];
        let find = |p: &[u8]| by_pattern(db, now, p, b"a").map(<[u8]>::to_vec);
        assert_eq!(find(b"w_*"), Some(b"5".to_vec()));
        assert_eq!(find(b"h_*->f"), Some(b"7".to_vec()));
        // `->` with no field name after it is part of the key.
        assert_eq!(find(b"h_*->"), Some(b"9".to_vec()));
        assert_eq!(find(b"h_*->g"), None);
        assert_eq!(find(b"w_*->f"), None, "a string has no fields");
        assert_eq!(find(b"h_*"), None, "a hash is no string");
        assert_eq!(find(b"#"), Some(b"a".to_vec()));
        assert_eq!(find(b"#\0x"), Some(b"a".to_vec()), "`#` up to a NUL");
        assert_eq!(find(b"w_\0*"), None, "a `*` after a NUL is not seen");
        assert_eq!(find(b"nostar"), None);
    }

    #[test]
    fn scores_as_strtod_reads_them() {
        assert_eq!(score(b""), Some(0.0));
        assert_eq!(score(b" \t4"), Some(4.0));
        assert_eq!(score(b"-inf"), Some(f64::NEG_INFINITY));
        for bad in [&b" "[..], b"4 ", b"x", b"nan", b"1e400", b"1e-400"] {
            assert_eq!(score(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn sorts_and_stores() {
        let mut t = T::new();
        t.run("RPUSH l 3 1 2 10");
        assert_eq!(t.run("SORT l"), arr(&["1", "2", "3", "10"]));
        assert_eq!(t.run("SORT l ALPHA DESC"), arr(&["3", "2", "10", "1"]));
        assert_eq!(t.run("SORT l LIMIT 1 2"), arr(&["2", "3"]));
        // Huge LIMITs are cut to the length, never allocated.
        assert_eq!(
            t.run("SORT l LIMIT 9223372036854775807 9223372036854775807"),
            arr(&[])
        );
        assert_eq!(t.run("SORT l LIMIT -5 -1"), arr(&["1", "2", "3", "10"]));
        // BY without `*` keeps the list's order, DESC reverses it, and a
        // later BY with one does not sort again.
        assert_eq!(t.run("SORT l BY nosort DESC"), arr(&["10", "2", "1", "3"]));
        t.run("SET w_1 9");
        assert_eq!(
            t.run("SORT l BY nosort BY w_*"),
            arr(&["3", "1", "2", "10"])
        );
        // Missing weights are 0, ties go by the elements' bytes.
        assert_eq!(
            t.run("SORT l BY w_* GET # GET w_*"),
            Reply::array(alloc::vec![
                bulk("10"),
                nil(),
                bulk("2"),
                nil(),
                bulk("3"),
                nil(),
                bulk("1"),
                bulk("9"),
            ])
        );
        assert_eq!(t.run("SORT l STORE dst"), int(4));
        assert_eq!(t.run("LRANGE dst 0 -1"), arr(&["1", "2", "3", "10"]));
        assert_eq!(t.run("SORT nope STORE dst"), int(0));
        assert_eq!(t.run("EXISTS dst"), int(0));
        t.run("RPUSH words b a");
        assert_eq!(
            t.run("SORT words"),
            err("ERR One or more scores can't be converted into double")
        );
        assert_eq!(t.run("SORT_RO l STORE dst"), err("ERR syntax error"));
        assert_eq!(t.run("SORT l LIMIT 1"), err("ERR syntax error"));
        assert_eq!(
            t.run("SORT l LIMIT x 1"),
            err("ERR value is not an integer or out of range")
        );
        t.run("SET s x");
        assert_eq!(
            t.run("SORT s"),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        // A set stored without sorting is sorted as strings.
        t.run("SADD set 10 9 x");
        assert_eq!(t.run("SORT set BY nosort STORE dst"), int(3));
        assert_eq!(t.run("LRANGE dst 0 -1"), arr(&["10", "9", "x"]));
    }
}
