//! Sorted-set commands.

use alloc::vec::Vec;

use crate::cmd::scan::{self, Family};
use crate::cmd::{float_arg, index_range, int_arg, is, rand_count, rand_pick};
use crate::db::{Value, tri, typed, typed_mut, typed_or_create};
use crate::memory::OOM;
use crate::num::{self, fmt_double};
use crate::reply::{MUST_BE_POSITIVE, Reply, SYNTAX};
use crate::store::Ctx;
use crate::zset::ZSet;

const NAN_SCORE: &str = "ERR resulting score is not a number (NaN)";
const NOT_FLOAT_RANGE: &str = "ERR min or max is not a float";
const NOT_LEX_RANGE: &str = "ERR min or max not valid string range item";

fn zset_or_create<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut ZSet, Reply> {
    let now = cx.now;
    typed_or_create!(cx.db(), key, now, ZSet, ZSet::new)
}

fn read<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    let now = cx.now;
    typed!(cx.db(), key, now, ZSet)
}

/// The most bytes a score's text takes (`-1.7976931348623157e+308`).
const SCORE_TEXT: usize = 24;

fn score_reply(v: f64) -> Reply {
    Reply::double(v)
}

#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

enum AddOutcome {
    Added,
    Updated,
    Unchanged,
    Nop,
}

/// Redis's `zsetAdd`: applies one score/member under the flags; returns the
/// outcome and the member's resulting score.
fn zset_add(
    z: &mut ZSet,
    member: &[u8],
    score: f64,
    f: &AddFlags,
) -> Result<(AddOutcome, f64), Reply> {
    match z.score(member) {
        Some(cur) => {
            if f.nx {
                return Ok((AddOutcome::Nop, cur));
            }
            let mut score = score;
            if f.incr {
                score += cur;
                if score.is_nan() {
                    return Err(Reply::error(NAN_SCORE));
                }
            }
            if (f.lt && score >= cur) || (f.gt && score <= cur) {
                return Ok((AddOutcome::Nop, cur));
            }
            if score != cur {
                z.insert(member, score);
                Ok((AddOutcome::Updated, score))
            } else {
                Ok((AddOutcome::Unchanged, score))
            }
        }
        None if !f.xx => {
            z.insert(member, score);
            Ok((AddOutcome::Added, score))
        }
        None => Ok((AddOutcome::Nop, score)),
    }
}

fn zadd_generic(cx: &mut Ctx<'_>, a: &[&[u8]], mut f: AddFlags) -> Reply {
    let mut i = 2;
    if !f.incr {
        while i < a.len() {
            let o = a[i];
            if is(o, "nx") {
                f.nx = true;
            } else if is(o, "xx") {
                f.xx = true;
            } else if is(o, "ch") {
                f.ch = true;
            } else if is(o, "incr") {
                f.incr = true;
            } else if is(o, "gt") {
                f.gt = true;
            } else if is(o, "lt") {
                f.lt = true;
            } else {
                break;
            }
            i += 1;
        }
    }
    let rest = &a[i..];
    if rest.is_empty() || rest.len() % 2 == 1 {
        return Reply::error(SYNTAX);
    }
    if f.nx && f.xx {
        return Reply::error("ERR XX and NX options at the same time are not compatible");
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Reply::error("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if f.incr && rest.len() > 2 {
        return Reply::error("ERR INCR option supports a single increment-element pair");
    }
    let mut pairs = Vec::with_capacity(rest.len() / 2);
    for p in rest.chunks_exact(2) {
        pairs.push((tri!(float_arg(p[0])), p[1]));
    }
    let key = a[1];
    let exists = tri!(read(cx, key)).is_some();
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut error = None;
    if exists || !f.xx {
        let t = cx.db().thresholds;
        // A member too long for a listpack turns it into a skiplist as
        // it goes in (Redis's zsetAdd).
        let mut long_added = false;
        let z = tri!(zset_or_create(cx, key));
        for (score, member) in pairs {
            match zset_add(z, member, score, &f) {
                Ok((outcome, s)) => {
                    last = s;
                    match outcome {
                        AddOutcome::Added => {
                            added += 1;
                            long_added |= member.len() > t.zset_value;
                        }
                        AddOutcome::Updated => updated += 1,
                        AddOutcome::Unchanged => {}
                        AddOutcome::Nop => continue,
                    }
                    processed += 1;
                }
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        let len = z.len();
        let db = cx.db();
        if added + updated > 0 {
            if f.incr {
                db.raise(crate::notify::Classes::ZSET, "zincr");
            }
            db.touch(key);
        }
        db.promote(key, long_added || (added > 0 && len > t.zset_entries));
        db.drop_if_empty(key);
    }
    if let Some(e) = error {
        return e;
    }
    if f.incr {
        if processed > 0 {
            score_reply(last)
        } else {
            Reply::nil()
        }
    } else {
        Reply::Integer(if f.ch { added + updated } else { added })
    }
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member [score member ...]
pub(crate) fn zadd(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zadd_generic(cx, a, AddFlags::default())
}

/// ZINCRBY key increment member
pub(crate) fn zincrby(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let f = AddFlags {
        incr: true,
        ..AddFlags::default()
    };
    zadd_generic(cx, a, f)
}

/// ZREM key member [member ...]
pub(crate) fn zrem(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let Some(z) = tri!(typed_mut!(db, a[1], now, ZSet)) else {
        return Reply::Integer(0);
    };
    let n = a[2..].iter().filter(|m| z.remove(m)).count();
    if n > 0 {
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    Reply::Integer(n as i64)
}

/// ZSCORE key member
pub(crate) fn zscore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    match tri!(read(cx, a[1])).and_then(|z| z.score(a[2])) {
        Some(s) => score_reply(s),
        None => Reply::nil(),
    }
}

/// ZMSCORE key member [member ...]
pub(crate) fn zmscore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let z = tri!(read(cx, a[1]));
    Reply::array(
        a[2..]
            .iter()
            .map(|m| match z.and_then(|z| z.score(m)) {
                Some(s) => score_reply(s),
                None => Reply::nil(),
            })
            .collect(),
    )
}

/// ZCARD key
pub(crate) fn zcard(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(tri!(read(cx, a[1])).map_or(0, |z| z.len() as i64))
}

/// A score interval with Redis's `(` exclusive syntax.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    minex: bool,
    max: f64,
    maxex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        let bound = |s: &[u8]| -> Option<(f64, bool)> {
            match s.strip_prefix(b"(") {
                Some(rest) => num::parse_f64_lenient(rest).map(|v| (v, true)),
                None => num::parse_f64_lenient(s).map(|v| (v, false)),
            }
        };
        match (bound(min), bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                minex,
                max,
                maxex,
            }),
            _ => Err(Reply::error(NOT_FLOAT_RANGE)),
        }
    }

    fn gte_min(&self, v: f64) -> bool {
        if self.minex {
            v > self.min
        } else {
            v >= self.min
        }
    }

    fn lte_max(&self, v: f64) -> bool {
        if self.maxex {
            v < self.max
        } else {
            v <= self.max
        }
    }
}

/// One end of a lexicographic range: `-`, `+`, `[x` or `(x`.
#[derive(Clone, Debug)]
enum LexBound {
    Min,
    Max,
    Incl(Vec<u8>),
    Excl(Vec<u8>),
}

impl LexBound {
    fn parse(s: &[u8]) -> Option<LexBound> {
        match s.first()? {
            b'+' if s.len() == 1 => Some(LexBound::Max),
            b'-' if s.len() == 1 => Some(LexBound::Min),
            b'[' => Some(LexBound::Incl(s[1..].to_vec())),
            b'(' => Some(LexBound::Excl(s[1..].to_vec())),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::error(NOT_LEX_RANGE)),
        }
    }

    fn gte_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(s) => m >= s.as_slice(),
            LexBound::Excl(s) => m > s.as_slice(),
        }
    }

    fn lte_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Max => true,
            LexBound::Min => false,
            LexBound::Incl(s) => m <= s.as_slice(),
            LexBound::Excl(s) => m < s.as_slice(),
        }
    }
}

/// The ranks `lo..hi` of the members a score or lex range selects, by
/// binary search (O(log n)): those before the first in range, and those
/// up to the last. A lex range assumes equal scores, as Redis's does
/// (where they differ, which members it gives is unspecified).
fn span(z: &ZSet, sel: &Selector) -> (usize, usize) {
    let (lo, hi) = match sel {
        Selector::Score(r) => (
            z.count_while(|_, score| !r.gte_min(score)),
            z.count_while(|_, score| r.lte_max(score)),
        ),
        Selector::Lex(r, Search::Bisect) => (
            z.count_while(|m, _| !r.gte_min(m)),
            z.count_while(|m, _| r.lte_max(m)),
        ),
        Selector::Lex(_, Search::Scan) => (0, select(z, sel, false, 0, -1).len()),
        Selector::Rank(..) => (0, 0),
    };
    (lo, hi.max(lo))
}

/// What a ZRANGE-like command selects.
enum Selector {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange, Search),
}

/// How a lex range finds its members, as Redis's encodings do: a
/// listpack is scanned in order, a skiplist searched. They differ only
/// where scores differ (where Redis leaves the members unspecified), and
/// Redis's small sorted sets are listpacks, so the scan is what a client
/// sees of them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Search {
    Scan,
    Bisect,
}

impl Search {
    /// How key `key` of `cx`'s database is searched.
    fn of(cx: &mut Ctx<'_>, key: &[u8]) -> Search {
        match cx.db().encoding(key) {
            Some(crate::encoding::Encoding::Listpack) => Search::Scan,
            _ => Search::Bisect,
        }
    }
}

/// Selects members in order (`rev` for descending), then applies
/// `LIMIT offset count` (`count < 0`: no limit; `offset < 0`: nothing).
fn select<'z>(
    z: &'z ZSet,
    sel: &Selector,
    rev: bool,
    offset: i64,
    count: i64,
) -> Vec<(&'z [u8], f64)> {
    let items: Vec<(&[u8], f64)> = match sel {
        Selector::Rank(start, end) => {
            let Some((s, e)) = index_range(*start, *end, z.len()) else {
                return Vec::new();
            };
            // O(log n) to the first, as Redis's skiplist.
            let n = z.len();
            if rev {
                z.by_rank(n - 1 - e, n - s).rev().collect()
            } else {
                z.by_rank(s, e + 1).collect()
            }
        }
        Selector::Lex(r, Search::Scan) => {
            // Redis's `zzlIsInLexRange`: nothing unless the last member
            // is past the minimum and the first before the maximum.
            let in_range = match (z.iter().next(), z.iter().next_back()) {
                (Some((first, _)), Some((last, _))) => r.gte_min(last) && r.lte_max(first),
                _ => false,
            };
            if offset < 0 || !in_range {
                return Vec::new();
            }
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let limit = usize::try_from(count).unwrap_or(usize::MAX);
            if rev {
                z.iter()
                    .rev()
                    .skip_while(|(m, _)| !r.lte_max(m))
                    .take_while(|(m, _)| r.gte_min(m))
                    .skip(offset)
                    .take(limit)
                    .collect()
            } else {
                z.iter()
                    .skip_while(|(m, _)| !r.gte_min(m))
                    .take_while(|(m, _)| r.lte_max(m))
                    .skip(offset)
                    .take(limit)
                    .collect()
            }
        }
        // Redis's skiplist: a descent to the first member in range (the
        // last, in reverse), then a walk while members stay in range. Where
        // scores differ the walk stops at the first member out of range,
        // as Redis's does (events_diff seed 1796652414598720146).
        Selector::Lex(r, Search::Bisect) => {
            if offset < 0 {
                return Vec::new();
            }
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let limit = usize::try_from(count).unwrap_or(usize::MAX);
            if rev {
                let hi = z.count_while(|m, _| r.lte_max(m));
                z.by_rank(0, hi)
                    .rev()
                    .take_while(|(m, _)| r.gte_min(m))
                    .skip(offset)
                    .take(limit)
                    .collect()
            } else {
                let lo = z.count_while(|m, _| !r.gte_min(m));
                z.by_rank(lo, z.len())
                    .take_while(|(m, _)| r.lte_max(m))
                    .skip(offset)
                    .take(limit)
                    .collect()
            }
        }
        Selector::Score(_) => {
            if offset < 0 {
                return Vec::new();
            }
            let (lo, hi) = span(z, sel);
            let offset = usize::try_from(offset).unwrap_or(usize::MAX);
            let limit = usize::try_from(count).unwrap_or(usize::MAX);
            // O(log n) to the first, skipping `offset` by rank, as Redis's
            // skiplist goes.
            if rev {
                let end = hi.saturating_sub(offset).max(lo);
                let start = end.saturating_sub(limit).max(lo);
                z.by_rank(start, end).rev().collect()
            } else {
                let start = lo.saturating_add(offset).min(hi);
                let end = start.saturating_add(limit).min(hi);
                z.by_rank(start, end).collect()
            }
        }
    };
    items
}

/// Members, or members and their scores as pairs.
fn range_reply(items: &[(&[u8], f64)], withscores: bool) -> Reply {
    match withscores {
        true => Reply::Pairs(
            items
                .iter()
                .map(|(m, s)| (Reply::bulk(m), score_reply(*s)))
                .collect(),
        ),
        false => Reply::array(items.iter().map(|(m, _)| Reply::bulk(m)).collect()),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

/// The common core of ZRANGE and its legacy forms. `rtype`/`rev` are fixed
/// by the legacy commands (`None` rev: ZRANGE decides with REV).
fn zrange_generic(cx: &mut Ctx<'_>, a: &[&[u8]], rtype: RangeType, rev: Option<bool>) -> Reply {
    zrange_or_store(cx, a, rtype, rev, false)
}

/// ZRANGE and its forms (`store == false`: `a[1]` the key, options from
/// `a[4]`) or ZRANGESTORE (`store`: `a[1]` the destination, `a[2]` the
/// source, options from `a[5]`, no WITHSCORES).
fn zrange_or_store(
    cx: &mut Ctx<'_>,
    a: &[&[u8]],
    mut rtype: RangeType,
    rev: Option<bool>,
    store: bool,
) -> Reply {
    let base = usize::from(store);
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut reverse = rev.unwrap_or(false);
    let mut j = 4 + base;
    while j < a.len() {
        let left = a.len() - j - 1;
        if !store && is(a[j], "withscores") {
            withscores = true;
        } else if is(a[j], "limit") && left >= 2 {
            offset = tri!(int_arg(a[j + 1]));
            limit = tri!(int_arg(a[j + 2]));
            j += 2;
        } else if rev.is_none() && !reverse && is(a[j], "rev") {
            reverse = true;
        } else if rtype == RangeType::Auto && is(a[j], "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is(a[j], "byscore") {
            rtype = RangeType::Score;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    // Redis checks the count only: `LIMIT 5 -1` passes with a rank range.
    if limit != -1 && rtype == RangeType::Rank {
        return Reply::error(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && rtype == RangeType::Lex {
        return Reply::error(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        );
    }
    let (mut lo, mut hi) = (a[2 + base], a[3 + base]);
    if reverse && rtype != RangeType::Rank {
        core::mem::swap(&mut lo, &mut hi);
    }
    // ZRANGESTORE's source is its second key.
    let source = if store { a[2] } else { a[1] };
    let sel = match rtype {
        RangeType::Score => Selector::Score(tri!(ScoreRange::parse(lo, hi))),
        RangeType::Lex => Selector::Lex(tri!(LexRange::parse(lo, hi)), Search::of(cx, source)),
        _ => Selector::Rank(tri!(int_arg(lo)), tri!(int_arg(hi))),
    };
    if store {
        return zrangestore_run(cx, a, &sel, reverse, offset, limit);
    }
    let (room, budget) = (cx.room, cx.reply);
    let Some(z) = tri!(read(cx, a[1])) else {
        return Reply::array(Vec::new());
    };
    tri!(scan::working_room(room, z.len()));
    let items = select(z, &sel, reverse, offset, limit);
    let scores = if withscores { items.len() } else { 0 };
    tri!(budget.take(
        items.iter().map(|(m, _)| m.len()).sum::<usize>() + scores * SCORE_TEXT,
        items.len() + scores
    ));
    range_reply(&items, withscores)
}

/// ZRANGESTORE's work once its arguments are parsed: the selection from
/// the source (`a[2]`) replaces the destination (`a[1]`), which goes when
/// nothing is selected (a missing source selects nothing).
fn zrangestore_run(
    cx: &mut Ctx<'_>,
    a: &[&[u8]],
    sel: &Selector,
    reverse: bool,
    offset: i64,
    limit: i64,
) -> Reply {
    let room = cx.room;
    let fits = |bytes: usize| {
        if room.fits(bytes) {
            Ok(())
        } else {
            Err(Reply::error(OOM))
        }
    };
    let items: Vec<(Vec<u8>, f64)> = match tri!(read(cx, a[2])) {
        None => Vec::new(),
        Some(z) => {
            tri!(scan::working_room(room, z.len()));
            let items = select(z, sel, reverse, offset, limit);
            // The copy is data: each member twice (map and index) and
            // a few words.
            tri!(fits(items.iter().map(|(m, _)| 2 * m.len() + 96).sum()));
            items.into_iter().map(|(m, s)| (m.to_vec(), s)).collect()
        }
    };
    let n = items.len();
    let db = cx.db();
    if items.is_empty() {
        db.delete(a[1]);
    } else {
        let mut z = ZSet::new(db.state);
        for (m, s) in items {
            z.insert(&m, s);
        }
        db.set(a[1], Value::ZSet(z), false);
    }
    Reply::Integer(n as i64)
}

/// ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]
pub(crate) fn zrangestore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_or_store(cx, a, RangeType::Auto, None, true)
}

/// ZRANGE key start stop [BYSCORE|BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
pub(crate) fn zrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Auto, None)
}

/// ZREVRANGE key start stop [WITHSCORES]
pub(crate) fn zrevrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Rank, Some(true))
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
pub(crate) fn zrangebyscore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Score, Some(false))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
pub(crate) fn zrevrangebyscore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Score, Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
pub(crate) fn zrangebylex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Lex, Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
pub(crate) fn zrevrangebylex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrange_generic(cx, a, RangeType::Lex, Some(true))
}

/// ZCOUNT key min max
pub(crate) fn zcount(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let r = tri!(ScoreRange::parse(a[2], a[3]));
    let z = tri!(read(cx, a[1]));
    Reply::Integer(z.map_or(0, |z| {
        let (lo, hi) = span(z, &Selector::Score(r));
        (hi - lo) as i64
    }))
}

/// ZLEXCOUNT key min max
pub(crate) fn zlexcount(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let r = tri!(LexRange::parse(a[2], a[3]));
    let search = Search::of(cx, a[1]);
    let z = tri!(read(cx, a[1]));
    Reply::Integer(z.map_or(0, |z| {
        let (lo, hi) = span(z, &Selector::Lex(r, search));
        (hi - lo) as i64
    }))
}

/// The common core of ZREMRANGEBYRANK, ZREMRANGEBYSCORE and
/// ZREMRANGEBYLEX: the range is parsed (and its errors given) before the
/// key is looked up, as Redis does.
fn zremrange_generic(cx: &mut Ctx<'_>, a: &[&[u8]], rtype: RangeType) -> Reply {
    let sel = match rtype {
        RangeType::Score => Selector::Score(tri!(ScoreRange::parse(a[2], a[3]))),
        RangeType::Lex => Selector::Lex(tri!(LexRange::parse(a[2], a[3])), Search::of(cx, a[1])),
        _ => Selector::Rank(tri!(int_arg(a[2])), tri!(int_arg(a[3]))),
    };
    let (now, room) = (cx.now, cx.room);
    let db = cx.db();
    let Some(z) = tri!(typed_mut!(db, a[1], now, ZSet)) else {
        return Reply::Integer(0);
    };
    tri!(scan::working_room(room, z.len()));
    let doomed: Vec<Vec<u8>> = select(z, &sel, false, 0, -1)
        .into_iter()
        .map(|(m, _)| m.to_vec())
        .collect();
    for m in &doomed {
        z.remove(m);
    }
    if !doomed.is_empty() {
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    Reply::Integer(doomed.len() as i64)
}

/// ZREMRANGEBYRANK key start stop
pub(crate) fn zremrangebyrank(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zremrange_generic(cx, a, RangeType::Rank)
}

/// ZREMRANGEBYSCORE key min max
pub(crate) fn zremrangebyscore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zremrange_generic(cx, a, RangeType::Score)
}

/// ZREMRANGEBYLEX key min max
pub(crate) fn zremrangebylex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zremrange_generic(cx, a, RangeType::Lex)
}

fn zrank_generic(cx: &mut Ctx<'_>, a: &[&[u8]], rev: bool, name: &str) -> Reply {
    if a.len() > 4 {
        return Reply::arity(name);
    }
    let withscore = if a.len() == 4 {
        if !is(a[3], "withscore") {
            return Reply::error(SYNTAX);
        }
        true
    } else {
        false
    };
    let missing = || {
        if withscore {
            Reply::nil_array()
        } else {
            Reply::nil()
        }
    };
    let Some(z) = tri!(read(cx, a[1])) else {
        return missing();
    };
    let (Some(rank), Some(score)) = (z.rank(a[2]), z.score(a[2])) else {
        return missing();
    };
    let rank = if rev { z.len() - 1 - rank } else { rank };
    if withscore {
        Reply::array(alloc::vec![Reply::Integer(rank as i64), score_reply(score)])
    } else {
        Reply::Integer(rank as i64)
    }
}

/// ZRANK key member [WITHSCORE]
pub(crate) fn zrank(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrank_generic(cx, a, false, "zrank")
}

/// ZREVRANK key member [WITHSCORE]
pub(crate) fn zrevrank(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zrank_generic(cx, a, true, "zrevrank")
}

fn zpop_generic(cx: &mut Ctx<'_>, a: &[&[u8]], max: bool) -> Reply {
    if a.len() > 3 {
        return Reply::error(SYNTAX);
    }
    let count = if a.len() == 3 {
        let c = tri!(int_arg(a[2]));
        if c < 0 {
            return Reply::error(MUST_BE_POSITIVE);
        }
        c as usize
    } else {
        1
    };
    let (now, budget) = (cx.now, cx.reply);
    let db = cx.db();
    let Some(z) = tri!(typed_mut!(db, a[1], now, ZSet)) else {
        return Reply::array(Vec::new());
    };
    // At most `count` members, each as long as the longest, and scores.
    let n = count.min(z.len());
    let longest = z.entries().map(|(m, _)| m.len()).max().unwrap_or(0);
    tri!(budget.take(longest.saturating_add(SCORE_TEXT).saturating_mul(n), 2 * n));
    let mut out = Vec::new();
    for _ in 0..count {
        match z.pop(max) {
            Some((m, s)) => out.push((Reply::Bulk(Some(m)), score_reply(s))),
            None => break,
        }
    }
    if !out.is_empty() {
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    // With a count, pairs (nested in RESP3); without, one flat pair.
    match a.len() {
        3 => Reply::Pairs(out),
        _ => Reply::array(out.into_iter().flat_map(|(m, s)| [m, s]).collect()),
    }
}

/// ZPOPMIN key [count]
pub(crate) fn zpopmin(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zpop_generic(cx, a, false)
}

/// ZPOPMAX key [count]
pub(crate) fn zpopmax(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    zpop_generic(cx, a, true)
}

/// ZRANDMEMBER key [count [WITHSCORES]] (negative count: repeats allowed)
pub(crate) fn zrandmember(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let count = tri!(rand_count(a, "withscores"));
    let budget = cx.reply;
    let rng = &mut *cx.rng;
    let now = cx.now;
    let db = &mut cx.dbs[cx.db];
    let Some(z) = tri!(typed!(db, a[1], now, ZSet)) else {
        return match count {
            Some(_) => Reply::array(Vec::new()),
            None => Reply::nil(),
        };
    };
    let Some((count, withscores)) = count else {
        let (m, _) = z.members().random(rng).expect("a sorted set has members");
        tri!(budget.take(m.len(), 1));
        return Reply::bulk(m);
    };
    let per = if withscores { 2 } else { 1 };
    let picked = tri!(rand_pick(z.members(), count, per, budget, rng));
    let score_text = if withscores { SCORE_TEXT } else { 0 };
    tri!(budget.take(picked.iter().map(|(m, _)| m.len() + score_text).sum(), 0));
    let picked: Vec<(&[u8], f64)> = picked
        .into_iter()
        .map(|(m, s)| (m.as_slice(), *s))
        .collect();
    range_reply(&picked, withscores)
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
pub(crate) fn zscan(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let cursor = tri!(scan::parse_cursor(a[2]));
    let budget = cx.reply;
    let listpack = matches!(
        cx.db().encoding(a[1]),
        Some(crate::encoding::Encoding::Listpack)
    );
    let Some(z) = tri!(read(cx, a[1])) else {
        return scan::reply(0, Vec::new());
    };
    let opts = tri!(scan::parse_opts(&a[3..], Family::Other));
    if listpack {
        // All of a small sorted set at once, in its order, as Redis scans
        // a listpack.
        tri!(budget.take(
            z.iter().map(|(m, _)| m.len() + SCORE_TEXT).sum(),
            2 * z.len()
        ));
        let mut out = Vec::new();
        for (m, s) in z.iter().filter(|(m, _)| opts.matches(m)) {
            out.push(Reply::bulk(m));
            out.push(Reply::Bulk(Some(fmt_double(s).into_bytes())));
        }
        return scan::reply(0, out);
    }
    let (batch, next) = z.members().scan(cursor, opts.count);
    let batch: Vec<(&Vec<u8>, f64)> = batch.into_iter().map(|(m, s)| (m, *s)).collect();
    tri!(budget.take(
        batch.iter().map(|(m, _)| m.len() + SCORE_TEXT).sum(),
        2 * batch.len()
    ));
    let mut out = Vec::new();
    for (m, s) in batch {
        if opts.matches(m) {
            out.push(Reply::bulk(m));
            // A bulk string in RESP3 too: SCAN's replies are strings.
            out.push(Reply::Bulk(Some(fmt_double(s).into_bytes())));
        }
    }
    scan::reply(next, out)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    fn setup(t: &mut T) {
        t.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    }

    #[test]
    fn zadd_basics() {
        let mut t = T::new();
        assert_eq!(t.run("ZADD z 1 a 2 b"), int(2));
        assert_eq!(t.run("ZADD z 3 a 4 c"), int(1));
        assert_eq!(t.run("ZSCORE z a"), bulk("3"));
        assert_eq!(t.run("ZSCORE z nope"), nil());
        assert_eq!(t.run("ZSCORE nope a"), nil());
        assert_eq!(t.run("ZCARD z"), int(3));
        assert_eq!(t.run("ZCARD nope"), int(0));
        assert_eq!(t.run("ZADD z CH 5 a 4 c 9 new"), int(2));
        assert_eq!(t.run("ZADD z 1.5 f"), int(1));
        assert_eq!(t.run("ZSCORE z f"), bulk("1.5"));
        assert_eq!(t.run("ZADD z -inf lo +inf hi"), int(2));
        assert_eq!(t.run("ZSCORE z lo"), bulk("-inf"));
        assert_eq!(t.run("ZSCORE z hi"), bulk("inf"));
        assert_eq!(
            t.run("ZMSCORE z a nope f"),
            Reply::array(vec![bulk("5"), nil(), bulk("1.5")])
        );
        assert_eq!(t.run("ZMSCORE nope a"), Reply::array(vec![nil()]));
    }

    #[test]
    fn zadd_flags_and_errors() {
        let mut t = T::new();
        t.run("ZADD z 10 a");
        assert_eq!(t.run("ZADD z NX 20 a 1 b"), int(1));
        assert_eq!(t.run("ZSCORE z a"), bulk("10"));
        assert_eq!(t.run("ZADD z XX 20 a 1 c"), int(0));
        assert_eq!(t.run("ZSCORE z a"), bulk("20"));
        assert_eq!(t.run("ZSCORE z c"), nil());
        assert_eq!(t.run("ZADD z GT CH 15 a"), int(0));
        assert_eq!(t.run("ZADD z GT CH 25 a"), int(1));
        assert_eq!(t.run("ZADD z LT CH 30 a"), int(0));
        assert_eq!(t.run("ZADD z LT CH 5 a"), int(1));
        assert_eq!(
            t.run("ZADD z GT 7 newgt"),
            int(1),
            "GT still adds new members"
        );
        assert_eq!(t.run("ZADD z XX GT 1 a"), int(0));
        assert_eq!(t.run("ZADD nope XX 1 a"), int(0));
        assert_eq!(t.run("EXISTS nope"), int(0));
        assert_eq!(t.run("ZADD z INCR 2 a"), bulk("7"));
        assert_eq!(t.run("ZADD z NX INCR 2 a"), nil());
        assert_eq!(t.run("ZADD z GT INCR -1 a"), nil());
        assert_eq!(t.run("ZADD z XX INCR 1 zz"), nil());
        assert_eq!(
            t.run("ZADD z NX XX 1 a"),
            err("ERR XX and NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("ZADD z NX GT 1 a"),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("ZADD z GT LT 1 a"),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
        assert_eq!(
            t.run("ZADD z INCR 1 a 2 b"),
            err("ERR INCR option supports a single increment-element pair")
        );
        assert_eq!(t.run("ZADD z 1 a 2"), err(SYNTAX));
        assert_eq!(
            t.run("ZADD z NX"),
            err("ERR wrong number of arguments for 'zadd' command")
        );
        assert_eq!(t.run("ZADD z NX CH"), err(SYNTAX));
        assert_eq!(t.run("ZADD z x a"), err(NOT_FLOAT));
        assert_eq!(t.run("ZADD z nan a"), err(NOT_FLOAT));
        assert_eq!(t.run("ZADD z 1 ok x bad"), err(NOT_FLOAT));
        assert_eq!(
            t.run("ZSCORE z ok"),
            nil(),
            "nothing applied on a parse error"
        );
        t.run("ZADD z inf infm");
        assert_eq!(
            t.run("ZINCRBY z -inf infm"),
            err("ERR resulting score is not a number (NaN)")
        );
        assert_eq!(t.run("ZINCRBY z 1.5 infm"), bulk("inf"));
    }

    #[test]
    fn zincrby_zrem() {
        let mut t = T::new();
        assert_eq!(t.run("ZINCRBY z 2 a"), bulk("2"));
        assert_eq!(t.run("ZINCRBY z 0.5 a"), bulk("2.5"));
        assert_eq!(t.run("ZINCRBY z x a"), err(NOT_FLOAT));
        assert_eq!(
            t.run("ZINCRBY z 1"),
            err("ERR wrong number of arguments for 'zincrby' command")
        );
        t.run("ZADD z 1 b");
        assert_eq!(t.run("ZREM z a nope"), int(1));
        assert_eq!(t.run("ZREM nope a"), int(0));
        assert_eq!(t.run("ZREM z b"), int(1));
        assert_eq!(t.run("EXISTS z"), int(0));
    }

    #[test]
    fn ranks_and_ranges_by_index() {
        let mut t = T::new();
        setup(&mut t);
        assert_eq!(t.run("ZRANGE z 0 -1"), arr(&["a", "b", "c", "d", "e"]));
        assert_eq!(t.run("ZRANGE z 1 2"), arr(&["b", "c"]));
        assert_eq!(t.run("ZRANGE z -2 -1"), arr(&["d", "e"]));
        assert_eq!(t.run("ZRANGE z 3 1"), arr(&[]));
        assert_eq!(t.run("ZRANGE z 10 20"), arr(&[]));
        assert_eq!(t.run("ZRANGE z -100 0"), arr(&["a"]));
        assert_eq!(t.run("ZRANGE z 0 1 WITHSCORES"), arr(&["a", "1", "b", "2"]));
        assert_eq!(t.run("ZRANGE z 0 1 REV"), arr(&["e", "d"]));
        assert_eq!(
            t.run("ZREVRANGE z 0 1 WITHSCORES"),
            arr(&["e", "5", "d", "4"])
        );
        assert_eq!(t.run("ZREVRANGE z -1 -1"), arr(&["a"]));
        assert_eq!(t.run("ZRANGE nope 0 -1"), arr(&[]));
        assert_eq!(t.run("ZRANGE z a 1"), err(NOT_INTEGER));
        assert_eq!(
            t.run("ZRANGE z 0 1 LIMIT 0 1"),
            err(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
            )
        );
        assert_eq!(
            t.run("ZRANGE z 0 1 LIMIT 3 -1"),
            arr(&["a", "b"]),
            "Redis checks LIMIT's count only"
        );
        assert_eq!(t.run("ZRANGE z 0 1 BOGUS"), err(SYNTAX));
        assert_eq!(t.run("ZREVRANGE z 0 1 REV"), err(SYNTAX));
        assert_eq!(t.run("ZRANK z a"), int(0));
        assert_eq!(t.run("ZRANK z e"), int(4));
        assert_eq!(t.run("ZREVRANK z e"), int(0));
        assert_eq!(t.run("ZRANK z nope"), nil());
        assert_eq!(t.run("ZRANK nope a"), nil());
        assert_eq!(
            t.run("ZRANK z c WITHSCORE"),
            Reply::array(vec![int(2), bulk("3")])
        );
        assert_eq!(
            t.run("ZREVRANK z c withscore"),
            Reply::array(vec![int(2), bulk("3")])
        );
        assert_eq!(t.run("ZRANK z nope WITHSCORE"), Reply::nil_array());
        assert_eq!(t.run("ZRANK z a BOGUS"), err(SYNTAX));
        assert_eq!(
            t.run("ZRANK z a WITHSCORE x"),
            err("ERR wrong number of arguments for 'zrank' command")
        );
    }

    #[test]
    fn ranges_by_score() {
        let mut t = T::new();
        setup(&mut t);
        assert_eq!(t.run("ZRANGE z 2 4 BYSCORE"), arr(&["b", "c", "d"]));
        assert_eq!(t.run("ZRANGE z (2 4 BYSCORE"), arr(&["c", "d"]));
        assert_eq!(t.run("ZRANGE z (2 (4 BYSCORE"), arr(&["c"]));
        assert_eq!(
            t.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
            arr(&["b", "c"])
        );
        assert_eq!(
            t.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 -1"),
            arr(&["b", "c", "d", "e"])
        );
        assert_eq!(t.run("ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), arr(&[]));
        assert_eq!(t.run("ZRANGE z -inf +inf BYSCORE LIMIT 0 0"), arr(&[]));
        assert_eq!(t.run("ZRANGE z 4 2 BYSCORE REV"), arr(&["d", "c", "b"]));
        assert_eq!(
            t.run("ZRANGE z (4 2 BYSCORE REV WITHSCORES"),
            arr(&["c", "3", "b", "2"])
        );
        assert_eq!(
            t.run("ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2"),
            arr(&["d", "c"])
        );
        assert_eq!(
            t.run("ZRANGEBYSCORE z 2 3 WITHSCORES"),
            arr(&["b", "2", "c", "3"])
        );
        assert_eq!(t.run("ZRANGEBYSCORE z -inf (2"), arr(&["a"]));
        assert_eq!(t.run("ZRANGEBYSCORE z 4 2"), arr(&[]));
        assert_eq!(t.run("ZRANGEBYSCORE z (3 (3"), arr(&[]));
        assert_eq!(t.run("ZRANGEBYSCORE z 3 3"), arr(&["c"]));
        assert_eq!(t.run("ZREVRANGEBYSCORE z 4 (2"), arr(&["d", "c"]));
        assert_eq!(t.run("ZREVRANGEBYSCORE z +inf -inf LIMIT 0 1"), arr(&["e"]));
        assert_eq!(
            t.run("ZRANGEBYSCORE z x 2"),
            err("ERR min or max is not a float")
        );
        assert_eq!(
            t.run("ZRANGEBYSCORE z (x 2"),
            err("ERR min or max is not a float")
        );
        assert_eq!(
            t.run("ZRANGEBYSCORE z nan 2"),
            err("ERR min or max is not a float")
        );
        assert_eq!(t.run("ZRANGEBYSCORE z 1 2 LIMIT 0"), err(SYNTAX));
        assert_eq!(t.run("ZRANGEBYSCORE z 1 2 LIMIT x 1"), err(NOT_INTEGER));
        assert_eq!(t.run("ZRANGEBYSCORE z 1 2 BYLEX"), err(SYNTAX));
        assert_eq!(t.run("ZCOUNT z 2 4"), int(3));
        assert_eq!(t.run("ZCOUNT z (2 +inf"), int(3));
        assert_eq!(t.run("ZCOUNT nope 0 1"), int(0));
        assert_eq!(t.run("ZCOUNT z a 1"), err("ERR min or max is not a float"));
        // Ties at the bounds, in both directions.
        t.run("ZADD t 1 a 2 b 2 c 2 d 3 e");
        assert_eq!(t.run("ZRANGEBYSCORE t 2 2"), arr(&["b", "c", "d"]));
        assert_eq!(t.run("ZREVRANGEBYSCORE t 2 2"), arr(&["d", "c", "b"]));
        assert_eq!(t.run("ZREVRANGEBYSCORE t (3 (1"), arr(&["d", "c", "b"]));
    }

    #[test]
    fn ranges_by_lex() {
        let mut t = T::new();
        t.run("ZADD l 0 a 0 b 0 c 0 d 0 e 0 f 0 g");
        assert_eq!(
            t.run("ZRANGE l - + BYLEX"),
            arr(&["a", "b", "c", "d", "e", "f", "g"])
        );
        assert_eq!(t.run("ZRANGE l [b (e BYLEX"), arr(&["b", "c", "d"]));
        assert_eq!(t.run("ZRANGE l (b [e BYLEX"), arr(&["c", "d", "e"]));
        assert_eq!(t.run("ZRANGE l - [c BYLEX LIMIT 1 5"), arr(&["b", "c"]));
        assert_eq!(
            t.run("ZRANGE l [e - BYLEX REV"),
            arr(&["e", "d", "c", "b", "a"])
        );
        assert_eq!(t.run("ZRANGE l + (d BYLEX REV LIMIT 0 2"), arr(&["g", "f"]));
        assert_eq!(t.run("ZRANGEBYLEX l [aa (c"), arr(&["b"]));
        assert_eq!(t.run("ZRANGEBYLEX l + -"), arr(&[]));
        assert_eq!(t.run("ZRANGEBYLEX l [d [b"), arr(&[]));
        assert_eq!(t.run("ZREVRANGEBYLEX l [c -"), arr(&["c", "b", "a"]));
        assert_eq!(t.run("ZLEXCOUNT l [b [f"), int(5));
        assert_eq!(t.run("ZLEXCOUNT l - +"), int(7));
        assert_eq!(
            t.run("ZRANGEBYLEX l a c"),
            err("ERR min or max not valid string range item")
        );
        assert_eq!(
            t.run("ZRANGEBYLEX l [a +x"),
            err("ERR min or max not valid string range item")
        );
        assert_eq!(
            t.run("ZLEXCOUNT l a c"),
            err("ERR min or max not valid string range item")
        );
        assert_eq!(
            t.run("ZRANGE l - + BYLEX WITHSCORES"),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        assert_eq!(
            t.run("ZRANGEBYLEX l - + WITHSCORES"),
            err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
        );
        assert_eq!(t.run("ZRANGE l - + BYLEX BYSCORE"), err(SYNTAX));
    }

    #[test]
    fn pops() {
        let mut t = T::new();
        setup(&mut t);
        assert_eq!(t.run("ZPOPMIN z"), arr(&["a", "1"]));
        assert_eq!(t.run("ZPOPMAX z"), arr(&["e", "5"]));
        assert_eq!(t.run("ZPOPMIN z 2"), arr(&["b", "2", "c", "3"]));
        assert_eq!(t.run("ZPOPMAX z 0"), arr(&[]));
        assert_eq!(t.run("ZPOPMAX z 10"), arr(&["d", "4"]));
        assert_eq!(t.run("EXISTS z"), int(0));
        assert_eq!(t.run("ZPOPMIN z"), arr(&[]));
        assert_eq!(t.run("ZPOPMIN z -1"), err(MUST_BE_POSITIVE));
        assert_eq!(t.run("ZPOPMIN z 1 2"), err(SYNTAX));
    }

    #[test]
    fn zremrange() {
        let mut t = T::new();
        setup(&mut t);
        assert_eq!(t.run("ZREMRANGEBYRANK z 1 2"), int(2));
        assert_eq!(t.run("ZRANGE z 0 -1"), arr(&["a", "d", "e"]));
        assert_eq!(t.run("ZREMRANGEBYRANK z 5 10"), int(0));
        assert_eq!(t.run("ZREMRANGEBYRANK z 2 1"), int(0));
        assert_eq!(t.run("ZREMRANGEBYRANK z -1 -1"), int(1));
        assert_eq!(t.run("ZREMRANGEBYRANK z -100 100"), int(2));
        assert_eq!(t.run("EXISTS z"), int(0));
        assert_eq!(t.run("ZREMRANGEBYRANK z 0 -1"), int(0));
        assert_eq!(t.run("ZREMRANGEBYRANK z x 1"), err(NOT_INTEGER));
        setup(&mut t);
        assert_eq!(t.run("ZREMRANGEBYSCORE z (1 3"), int(2));
        assert_eq!(t.run("ZREMRANGEBYSCORE z 4 (4"), int(0));
        assert_eq!(t.run("ZREMRANGEBYSCORE z 5 1"), int(0));
        assert_eq!(t.run("ZREMRANGEBYSCORE z -inf (5"), int(2));
        assert_eq!(t.run("ZRANGE z 0 -1"), arr(&["e"]));
        assert_eq!(t.run("ZREMRANGEBYSCORE z 5 +inf"), int(1));
        assert_eq!(t.run("EXISTS z"), int(0));
        assert_eq!(
            t.run("ZREMRANGEBYSCORE z x 1"),
            err("ERR min or max is not a float")
        );
        t.run("ZADD l 0 a 0 b 0 c 0 d 0 e");
        assert_eq!(t.run("ZREMRANGEBYLEX l [b (d"), int(2));
        assert_eq!(t.run("ZREMRANGEBYLEX l + -"), int(0));
        assert_eq!(t.run("ZRANGE l 0 -1"), arr(&["a", "d", "e"]));
        assert_eq!(t.run("ZREMRANGEBYLEX l - +"), int(3));
        assert_eq!(t.run("EXISTS l"), int(0));
        assert_eq!(
            t.run("ZREMRANGEBYLEX l a b"),
            err("ERR min or max not valid string range item")
        );
        // The range's errors come before the key's type.
        t.run("SET s v");
        assert_eq!(t.run("ZREMRANGEBYRANK s x 1"), err(NOT_INTEGER));
        assert_eq!(t.run("ZREMRANGEBYRANK s 0 1"), err(WRONGTYPE));
        assert_eq!(t.run("ZREMRANGEBYSCORE s 0 1"), err(WRONGTYPE));
        assert_eq!(t.run("ZREMRANGEBYLEX s - +"), err(WRONGTYPE));
        assert_eq!(
            t.run("ZREMRANGEBYLEX l - + x"),
            err("ERR wrong number of arguments for 'zremrangebylex' command")
        );
    }

    #[test]
    fn zrandmember() {
        let mut t = T::new();
        setup(&mut t);
        let one = strings(Reply::array(vec![t.run("ZRANDMEMBER z")]));
        assert!(["a", "b", "c", "d", "e"].contains(&one[0].as_str()));
        assert_eq!(sorted(t.run("ZRANDMEMBER z 10")), ["a", "b", "c", "d", "e"]);
        let three = sorted(t.run("ZRANDMEMBER z 3"));
        assert_eq!(three.len(), 3);
        assert!(three.windows(2).all(|w| w[0] != w[1]), "distinct");
        let pairs = strings(t.run("ZRANDMEMBER z -20 WITHSCORES"));
        assert_eq!(pairs.len(), 40);
        for p in pairs.chunks(2) {
            assert_eq!(p[0].as_bytes()[0] - b'a' + b'1', p[1].as_bytes()[0]);
        }
        assert_eq!(t.run("ZRANDMEMBER z 0"), arr(&[]));
        assert_eq!(t.run("ZRANDMEMBER nope"), nil());
        assert_eq!(t.run("ZRANDMEMBER nope 3 WITHSCORES"), arr(&[]));
        assert_eq!(t.run("ZRANDMEMBER z x"), err(NOT_INTEGER));
        assert_eq!(t.run("ZRANDMEMBER z 1 WITHSCORE"), err(SYNTAX));
        assert_eq!(t.run("ZRANDMEMBER z 1 WITHSCORES x"), err(SYNTAX));
        assert_eq!(
            t.run("ZRANDMEMBER z -9223372036854775808"),
            err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            )
        );
        assert_eq!(
            t.run("ZRANDMEMBER z 4611686018427387904 WITHSCORES"),
            err("ERR value is out of range")
        );
        t.run("SET s v");
        assert_eq!(t.run("ZRANDMEMBER s"), err(WRONGTYPE));
        assert_eq!(t.run("ZRANDMEMBER s 0"), err(WRONGTYPE));
    }

    #[test]
    fn zrangestore() {
        let mut t = T::new();
        setup(&mut t);
        assert_eq!(t.run("ZRANGESTORE d z 1 2"), int(2));
        assert_eq!(
            t.run("ZRANGE d 0 -1 WITHSCORES"),
            arr(&["b", "2", "c", "3"])
        );
        assert_eq!(t.run("SET s v"), ok());
        t.run("EXPIRE s 100");
        assert_eq!(t.run("ZRANGESTORE s z (1 +inf BYSCORE LIMIT 1 2"), int(2));
        assert_eq!(t.run("ZRANGE s 0 -1"), arr(&["c", "d"]));
        assert_eq!(t.run("TTL s"), int(-1));
        assert_eq!(t.run("ZRANGESTORE d z + [b BYLEX REV LIMIT 0 1"), int(1));
        assert_eq!(t.run("ZRANGE d 0 -1"), arr(&["e"]));
        assert_eq!(t.run("ZRANGESTORE d z 3 1"), int(0));
        assert_eq!(t.run("EXISTS d"), int(0));
        assert_eq!(t.run("ZRANGESTORE s nope 0 -1"), int(0));
        assert_eq!(t.run("EXISTS s"), int(0));
        t.run("SET s v");
        assert_eq!(t.run("ZRANGESTORE d s 0 1"), err(WRONGTYPE));
        assert_eq!(t.run("ZRANGESTORE d z 0 -1 WITHSCORES"), err(SYNTAX));
        assert_eq!(t.run("ZRANGESTORE d z x 1"), err(NOT_INTEGER));
        assert_eq!(
            t.run("ZRANGESTORE d z 0 1 LIMIT 0 1"),
            err(
                "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
            )
        );
        assert_eq!(
            t.run("ZRANGESTORE d z 0"),
            err("ERR wrong number of arguments for 'zrangestore' command")
        );
    }

    #[test]
    fn zscan() {
        let mut t = T::new();
        for i in 0..20 {
            t.run(&alloc::format!("ZADD z {i} m{i}"));
        }
        let mut cursor = String::from("0");
        let mut seen = Vec::new();
        loop {
            let r = t.run(&alloc::format!("ZSCAN z {cursor} COUNT 3"));
            let Reply::Array(Some(mut parts)) = r else {
                panic!()
            };
            for p in strings(parts.pop().unwrap()).chunks(2) {
                assert_eq!(p[0][1..], p[1]);
                seen.push(p[0].clone());
            }
            let Reply::Bulk(Some(c)) = parts.pop().unwrap() else {
                panic!()
            };
            cursor = String::from_utf8(c).unwrap();
            if cursor == "0" {
                break;
            }
        }
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 20);
        assert_eq!(
            t.run("ZSCAN nope 0"),
            Reply::array(vec![bulk("0"), arr(&[])])
        );
    }

    #[test]
    fn wrong_types() {
        let mut t = T::new();
        t.run("SET s v");
        for cmd in [
            "ZADD s 1 a",
            "ZINCRBY s 1 a",
            "ZREM s a",
            "ZSCORE s a",
            "ZMSCORE s a",
            "ZCARD s",
            "ZCOUNT s 0 1",
            "ZRANK s a",
            "ZREVRANK s a",
            "ZRANGE s 0 1",
            "ZREVRANGE s 0 1",
            "ZRANGEBYSCORE s 0 1",
            "ZPOPMIN s",
            "ZPOPMAX s",
            "ZSCAN s 0",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
    }
}
