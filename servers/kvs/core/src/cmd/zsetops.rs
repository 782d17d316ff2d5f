//! The sorted-set operations over `numkeys` keys: ZUNION, ZINTER, ZDIFF,
//! their STORE forms and ZINTERCARD. A source may be a sorted set or a
//! set (whose members score 1); a missing key is an empty source.

use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::cmd::{int_arg, is, scan};
use crate::db::{Value, tri};
use crate::dict::DictSet;
use crate::hash::Map;
use crate::memory::OOM;
use crate::num;
use crate::reply::{NOT_INTEGER, Reply, SYNTAX};
use crate::store::Ctx;
use crate::zset::ZSet;

/// The most bytes a score's text takes (`-1.7976931348623157e+308`).
const SCORE_TEXT: usize = 24;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

/// What the command makes of the result.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// Replies with it (ZUNION, ZINTER, ZDIFF).
    Read,
    /// Stores it at the first argument (ZUNIONSTORE, ...).
    Store,
    /// Counts it (ZINTERCARD).
    Card,
}

/// How scores of one member from several sources combine.
#[derive(Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Redis's `zunionInterAggregate`: a sum of opposite infinities is 0,
    /// and a NaN `val` (an infinite score weighted 0) loses MIN and MAX.
    fn apply(self, target: &mut f64, val: f64) {
        match self {
            Aggregate::Sum => {
                *target += val;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min if val < *target => *target = val,
            Aggregate::Max if val > *target => *target = val,
            Aggregate::Min | Aggregate::Max => {}
        }
    }
}

/// One input: a sorted set, a set or nothing.
#[derive(Clone, Copy)]
enum Source<'a> {
    Missing,
    Set(&'a DictSet<Vec<u8>>),
    ZSet(&'a ZSet),
}

impl<'a> Source<'a> {
    fn len(self) -> usize {
        match self {
            Source::Missing => 0,
            Source::Set(s) => s.len(),
            Source::ZSet(z) => z.len(),
        }
    }

    /// The members and their scores (a set's score 1).
    fn iter(self) -> impl Iterator<Item = (&'a [u8], f64)> {
        let set = match self {
            Source::Set(s) => Some(s.iter().map(|m| (m.as_slice(), 1.0))),
            _ => None,
        };
        let zset = match self {
            Source::ZSet(z) => Some(z.entries().map(|(m, s)| (m.as_slice(), *s))),
            _ => None,
        };
        set.into_iter().flatten().chain(zset.into_iter().flatten())
    }

    fn score(self, member: &[u8]) -> Option<f64> {
        match self {
            Source::Missing => None,
            Source::Set(s) => s.contains(member).then_some(1.0),
            Source::ZSet(z) => z.score(member),
        }
    }

    /// Whether both are the very same key's value.
    fn same(self, other: Source<'_>) -> bool {
        match (self, other) {
            (Source::Set(a), Source::Set(b)) => core::ptr::eq(a, b),
            (Source::ZSet(a), Source::ZSet(b)) => core::ptr::eq(a, b),
            _ => false,
        }
    }
}

/// The options after the keys.
struct Options {
    weights: Option<Vec<f64>>,
    aggregate: Aggregate,
    withscores: bool,
    /// ZINTERCARD's LIMIT (0: none).
    limit: usize,
}

/// Parses the options after the `n` keys (`opts`), as Redis does once the
/// keys are known to hold the right types.
fn parse_options(opts: &[&[u8]], n: usize, op: Op, form: Form) -> Result<Options, Reply> {
    let mut o = Options {
        weights: None,
        aggregate: Aggregate::Sum,
        withscores: false,
        limit: 0,
    };
    let scored = op != Op::Diff && form != Form::Card;
    let mut i = 0;
    while i < opts.len() {
        let left = opts.len() - i;
        let word = opts[i];
        if scored && left > n && is(word, "weights") {
            let weights = opts[i + 1..=i + n]
                .iter()
                .map(|w| num::parse_f64(w))
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| Reply::error("ERR weight value is not a float"))?;
            o.weights = Some(weights);
            i += 1 + n;
        } else if scored && left >= 2 && is(word, "aggregate") {
            let how = opts[i + 1];
            o.aggregate = if is(how, "sum") {
                Aggregate::Sum
            } else if is(how, "min") {
                Aggregate::Min
            } else if is(how, "max") {
                Aggregate::Max
            } else {
                return Err(Reply::error(SYNTAX));
            };
            i += 2;
        } else if form == Form::Read && is(word, "withscores") {
            o.withscores = true;
            i += 1;
        } else if form == Form::Card && left >= 2 && is(word, "limit") {
            o.limit = match int_arg(opts[i + 1]) {
                Ok(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(Reply::error("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(Reply::error(SYNTAX));
        }
    }
    Ok(o)
}

/// The position of the keys after the count at `a[at]`: Redis's checks of
/// the count, in its order (`name` is the command's, for the error).
fn key_span(a: &[&[u8]], at: usize, name: &str) -> Result<core::ops::Range<usize>, Reply> {
    let n = int_arg(a[at]).map_err(|_| Reply::error(NOT_INTEGER))?;
    if n < 1 {
        return Err(Reply::Error(alloc::format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    let first = at + 1;
    match usize::try_from(n) {
        Ok(n) if n <= a.len() - first => Ok(first..first + n),
        _ => Err(Reply::error(SYNTAX)),
    }
}

/// The result's members and scores, in the order Redis lists a sorted
/// set (score, then member).
fn sorted(mut items: Vec<(&[u8], f64)>) -> Vec<(&[u8], f64)> {
    items.sort_unstable_by(|x, y| {
        x.1.partial_cmp(&y.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| x.0.cmp(y.0))
    });
    items
}

/// The intersection, counted up to `limit` when only counted.
fn intersect<'a>(
    sources: &[(Source<'a>, f64)],
    aggregate: Aggregate,
    count_to: Option<usize>,
) -> (Vec<(&'a [u8], f64)>, usize) {
    let mut out = Vec::new();
    let mut count = 0usize;
    let (first, w0) = sources[0];
    // Sorted smallest first: an empty first input means an empty result.
    for (m, s) in first.iter() {
        let mut score = w0 * s;
        if score.is_nan() {
            score = 0.0;
        }
        let in_all = sources[1..].iter().all(|&(src, w)| {
            let value = if src.same(first) {
                Some(s)
            } else {
                src.score(m)
            };
            match value {
                Some(v) => {
                    aggregate.apply(&mut score, v * w);
                    true
                }
                None => false,
            }
        });
        if !in_all {
            continue;
        }
        match count_to {
            Some(limit) => {
                count += 1;
                if limit != 0 && count >= limit {
                    break;
                }
            }
            None => out.push((m, score)),
        }
    }
    (out, count)
}

fn unite<'a>(
    sources: &[(Source<'a>, f64)],
    aggregate: Aggregate,
    state: crate::hash::SeededState,
) -> Vec<(&'a [u8], f64)> {
    let mut acc: Map<&'a [u8], f64> = Map::with_hasher(state);
    for &(src, w) in sources {
        for (m, s) in src.iter() {
            let mut score = w * s;
            if score.is_nan() {
                score = 0.0;
            }
            acc.entry(m)
                .and_modify(|t| aggregate.apply(t, score))
                .or_insert(score);
        }
    }
    acc.into_iter().collect()
}

fn difference<'a>(sources: &[(Source<'a>, f64)]) -> Vec<(&'a [u8], f64)> {
    let (first, _) = sources[0];
    first
        .iter()
        .filter(|(m, _)| sources[1..].iter().all(|(src, _)| src.score(m).is_none()))
        .collect()
}

/// Redis's `zunionInterDiffGenericCommand`: the count at `a[at]`, the
/// keys after it, then the options.
fn generic(cx: &mut Ctx<'_>, a: &[&[u8]], at: usize, op: Op, form: Form) -> Reply {
    let name = match (op, form) {
        (Op::Union, Form::Read) => "zunion",
        (Op::Inter, Form::Read) => "zinter",
        (Op::Diff, Form::Read) => "zdiff",
        (Op::Union, _) => "zunionstore",
        (Op::Inter, Form::Store) => "zinterstore",
        (Op::Diff, _) => "zdiffstore",
        (Op::Inter, Form::Card) => "zintercard",
    };
    let span = tri!(key_span(a, at, name));
    let (now, room, budget) = (cx.now, cx.room, cx.reply);
    let db = cx.db();
    let state = db.state;
    for k in &a[span.clone()] {
        if let Some(v) = db.get(k, now)
            && !matches!(v, Value::Set(_) | Value::ZSet(_))
        {
            return crate::db::wrongtype();
        }
    }
    let n = span.len();
    let opts = tri!(parse_options(&a[span.end..], n, op, form));
    let mut sources: Vec<(Source<'_>, f64)> = a[span]
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let src = match db.peek(k) {
                Some(Value::Set(s)) => Source::Set(s),
                Some(Value::ZSet(z)) => Source::ZSet(z),
                _ => Source::Missing,
            };
            (src, opts.weights.as_ref().map_or(1.0, |w| w[i]))
        })
        .collect();
    if op != Op::Diff {
        // Smallest first, ties in argument order (a stable sort, as
        // Redis's), which fixes the order in which scores add up.
        sources.sort_by_key(|(s, _)| s.len());
    }
    // The result is at most every input's members: working it out takes a
    // few words for each.
    let most = match op {
        Op::Union => sources.iter().map(|(s, _)| s.len()).sum(),
        Op::Inter | Op::Diff => sources[0].0.len(),
    };
    tri!(scan::working_room(room, most));
    let items = match op {
        Op::Inter => {
            let count_to = (form == Form::Card).then_some(opts.limit);
            let (items, count) = intersect(&sources, opts.aggregate, count_to);
            if form == Form::Card {
                return Reply::Integer(count as i64);
            }
            items
        }
        Op::Union => unite(&sources, opts.aggregate, state),
        Op::Diff => difference(&sources),
    };
    let items = sorted(items);
    if form == Form::Read {
        let bytes = items.iter().fold(0usize, |b, (m, _)| {
            b.saturating_add(m.len())
                .saturating_add(if opts.withscores { SCORE_TEXT } else { 0 })
        });
        let per = if opts.withscores { 2 } else { 1 };
        tri!(budget.take(bytes, items.len() * per));
        return match opts.withscores {
            true => Reply::Pairs(
                items
                    .into_iter()
                    .map(|(m, s)| (Reply::bulk(m), Reply::double(s)))
                    .collect(),
            ),
            false => Reply::array(items.into_iter().map(|(m, _)| Reply::bulk(m)).collect()),
        };
    }
    // The copy is data: each member twice (map and index) and a few words.
    let bytes = items
        .iter()
        .fold(0usize, |b, (m, _)| b.saturating_add(2 * m.len() + 96));
    if !room.fits(bytes) {
        return Reply::error(OOM);
    }
    let mut z = ZSet::new(state);
    for (m, s) in items {
        z.insert(m, s);
    }
    let len = z.len();
    if z.is_empty() {
        db.delete(a[1]);
    } else {
        db.set(a[1], Value::ZSet(z), false);
    }
    Reply::Integer(len as i64)
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub(crate) fn zunion(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 1, Op::Union, Form::Read)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]
pub(crate) fn zinter(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 1, Op::Inter, Form::Read)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
pub(crate) fn zdiff(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 1, Op::Diff, Form::Read)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub(crate) fn zunionstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 2, Op::Union, Form::Store)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM|MIN|MAX]
pub(crate) fn zinterstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 2, Op::Inter, Form::Store)
}

/// ZDIFFSTORE destination numkeys key [key ...]
pub(crate) fn zdiffstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 2, Op::Diff, Form::Store)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
pub(crate) fn zintercard(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    generic(cx, a, 1, Op::Inter, Form::Card)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::testutil::*;

    #[test]
    fn aggregates_as_redis() {
        let mut sum = f64::INFINITY;
        Aggregate::Sum.apply(&mut sum, f64::NEG_INFINITY);
        assert_eq!(sum, 0.0, "opposite infinities sum to 0");
        let mut min = 1.0;
        Aggregate::Min.apply(&mut min, f64::NAN);
        assert_eq!(min, 1.0, "NaN loses MIN");
        Aggregate::Max.apply(&mut min, 2.0);
        assert_eq!(min, 2.0);
    }

    #[test]
    fn union_inter_diff() {
        let mut t = T::new();
        t.run("ZADD a 1 x 2 y 3 z");
        t.run("SADD s x w");
        assert_eq!(t.run("ZUNION 2 a s"), arr(&["w", "x", "y", "z"]));
        assert_eq!(
            t.run("ZINTER 2 a s WEIGHTS 2 inf WITHSCORES"),
            arr(&["x", "inf"])
        );
        // An infinite score weighted 0 is 0.
        assert_eq!(
            t.run("ZUNION 1 s WEIGHTS 0 withscores"),
            arr(&["w", "0", "x", "0"])
        );
        assert_eq!(
            t.run("ZINTER 2 a a AGGREGATE MAX WITHSCORES"),
            arr(&["x", "1", "y", "2", "z", "3"])
        );
        assert_eq!(t.run("ZDIFF 2 a s"), arr(&["y", "z"]));
        assert_eq!(t.run("ZINTERCARD 2 a s"), int(1));
        assert_eq!(t.run("ZINTERCARD 1 a LIMIT 2"), int(2));
        assert_eq!(t.run("ZUNIONSTORE a 2 a s"), int(4));
        assert_eq!(t.run("ZSCORE a x"), bulk("2"));
        assert_eq!(t.run("ZINTERSTORE a 2 a nope"), int(0));
        assert_eq!(t.run("EXISTS a"), int(0));
        for (line, e) in [
            (
                "ZUNION 0 a",
                "ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                "ZDIFFSTORE d 0 a",
                "ERR at least 1 input key is needed for 'zdiffstore' command",
            ),
            ("ZUNION x a", "ERR value is not an integer or out of range"),
            ("ZUNION 9223372036854775807 a", "ERR syntax error"),
            ("ZUNION 1 s WEIGHTS x", "ERR weight value is not a float"),
            ("ZUNION 1 s WEIGHTS 1 2", "ERR syntax error"),
            ("ZDIFF 1 s WEIGHTS 1", "ERR syntax error"),
            ("ZUNIONSTORE d 1 s WITHSCORES", "ERR syntax error"),
            ("ZINTERCARD 1 s LIMIT -1", "ERR LIMIT can't be negative"),
        ] {
            assert_eq!(t.run(line), err(e), "{line}");
        }
        t.run("SET str v");
        // The keys' types are checked before the options.
        assert_eq!(
            t.run("ZUNION 2 s str WEIGHTS x"),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
    }
}
