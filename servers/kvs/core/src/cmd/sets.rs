//! Set commands (a hashbrown set per key).

use alloc::vec::Vec;

use crate::cmd::scan::{self, Family};
use crate::cmd::{int_arg, is};
use crate::db::{Value, tri, typed, typed_mut, typed_or_create};
use crate::dict::DictSet;
use crate::encoding::Encoding;
use crate::hash::Set;
use crate::memory::OOM;
use crate::reply::{MUST_BE_POSITIVE, Reply, SYNTAX};
use crate::store::Ctx;

type MemberSet = DictSet<Vec<u8>>;

/// SPOP with a count rebuilds the set when the members that stay, times
/// this, are at most the count (Redis's `SPOP_MOVE_STRATEGY_MUL`).
const SPOP_MOVE_STRATEGY: usize = 5;

fn set_or_create<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut MemberSet, Reply> {
    let now = cx.now;
    typed_or_create!(cx.db(), key, now, Set, DictSet::with_hasher)
}

fn read<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a MemberSet>, Reply> {
    let now = cx.now;
    typed!(cx.db(), key, now, Set)
}

/// SADD key member [member ...]
pub(crate) fn sadd(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let s = tri!(set_or_create(cx, a[1]));
    let added: Vec<&[u8]> = a[2..]
        .iter()
        .copied()
        .filter(|m| s.insert(m.to_vec()))
        .collect();
    let db = cx.db();
    if !added.is_empty() {
        db.touch(a[1]);
    }
    db.set_grew(a[1], added.iter().copied());
    Reply::Integer(added.len() as i64)
}

/// SREM key member [member ...]
pub(crate) fn srem(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let Some(s) = tri!(typed_mut!(db, a[1], now, Set)) else {
        return Reply::Integer(0);
    };
    let n = a[2..].iter().filter(|m| s.remove(**m)).count();
    if n > 0 {
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    Reply::Integer(n as i64)
}

/// SMEMBERS key (hash order; an intset's ascending, as Redis lists one)
pub(crate) fn smembers(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (budget, intset) = (cx.reply, is_intset(cx, a[1]));
    let s = tri!(read(cx, a[1]));
    tri!(budget.take_all(s.into_iter().flatten().map(Vec::as_slice)));
    let members = s.into_iter().flatten().map(Vec::as_slice);
    Reply::Set(
        in_order(members, intset)
            .into_iter()
            .map(Reply::bulk)
            .collect(),
    )
}

/// Whether `key` holds a set Redis keeps as an intset (its members then
/// come in ascending order).
fn is_intset(cx: &mut Ctx<'_>, key: &[u8]) -> bool {
    matches!(cx.db().encoding(key), Some(Encoding::Intset { .. }))
}

/// `members` as Redis lists them: an intset's ascending by value, any
/// other set's in hash order.
fn in_order<'a>(members: impl Iterator<Item = &'a [u8]>, intset: bool) -> Vec<&'a [u8]> {
    let mut members: Vec<&[u8]> = members.collect();
    if intset {
        members.sort_by_key(|m| crate::num::parse_i64(m).unwrap_or(0));
    }
    members
}

/// SISMEMBER key member
pub(crate) fn sismember(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(i64::from(
        tri!(read(cx, a[1])).is_some_and(|s| s.contains(a[2])),
    ))
}

/// SMISMEMBER key member [member ...]
pub(crate) fn smismember(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let s = tri!(read(cx, a[1]));
    Reply::array(
        a[2..]
            .iter()
            .map(|m| Reply::Integer(i64::from(s.is_some_and(|s| s.contains(*m)))))
            .collect(),
    )
}

/// SCARD key
pub(crate) fn scard(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(tri!(read(cx, a[1])).map_or(0, |s| s.len() as i64))
}

/// SPOP key [count]
pub(crate) fn spop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if a.len() > 3 {
        return Reply::error(SYNTAX);
    }
    let count = if a.len() == 3 {
        let c = tri!(int_arg(a[2]));
        if c < 0 {
            return Reply::error(MUST_BE_POSITIVE);
        }
        Some(c as usize)
    } else {
        None
    };
    let (now, budget) = (cx.now, cx.reply);
    let db = &mut cx.dbs[cx.db];
    let Some(s) = tri!(typed_mut!(db, a[1], now, Set)) else {
        return match count {
            Some(_) => Reply::Set(Vec::new()),
            None => Reply::nil(),
        };
    };
    let mut rebuilt = false;
    let reply = match count {
        Some(0) => return Reply::Set(Vec::new()),
        None => {
            let m = s.random(cx.rng).expect("non-empty set").clone();
            tri!(budget.take(m.len(), 1));
            s.remove(&m);
            Reply::Bulk(Some(m))
        }
        Some(n) => {
            let picked: Vec<Vec<u8>> = if n >= s.len() {
                tri!(budget.take_all(s.iter().map(Vec::as_slice)));
                s.drain().collect()
            } else {
                // Redis builds a new set of the members that stay when
                // they are few (under a fifth of the count it pops): it
                // takes the encoding of a set built whole.
                rebuilt = (s.len() - n).saturating_mul(SPOP_MOVE_STRATEGY) <= n;
                let p = s.sample(n, cx.rng);
                tri!(budget.take_all(p.iter().map(|m| m.as_slice())));
                let p: Vec<Vec<u8>> = p.into_iter().cloned().collect();
                for m in &p {
                    s.remove(m);
                }
                p
            };
            Reply::Set(picked.into_iter().map(|m| Reply::Bulk(Some(m))).collect())
        }
    };
    db.touch(a[1]);
    if rebuilt {
        db.reencode(a[1]);
    }
    db.drop_if_empty(a[1]);
    reply
}

/// SRANDMEMBER key [count] (negative count: repeats allowed)
pub(crate) fn srandmember(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if a.len() > 3 {
        return Reply::error(SYNTAX);
    }
    let count = if a.len() == 3 {
        let c = tri!(int_arg(a[2]));
        if c == i64::MIN {
            return Reply::Error(alloc::format!(
                "ERR value is out of range, value must between {} and {}",
                -i64::MAX,
                i64::MAX
            ));
        }
        Some(c)
    } else {
        None
    };
    let (now, budget) = (cx.now, cx.reply);
    let db = &mut cx.dbs[cx.db];
    let Some(s) = tri!(typed!(db, a[1], now, Set)) else {
        return match count {
            Some(_) => Reply::array(Vec::new()),
            None => Reply::nil(),
        };
    };
    let picked: Vec<&[u8]> = match count {
        None => {
            let m = s.random(cx.rng).expect("non-empty set");
            tri!(budget.take(m.len(), 1));
            return Reply::bulk(m);
        }
        Some(c) if c >= 0 => s
            .sample(usize::try_from(c).unwrap_or(usize::MAX), cx.rng)
            .into_iter()
            .map(Vec::as_slice)
            .collect(),
        Some(c) => {
            // Repeats allowed: |count| picks, their number checked first.
            let n = usize::try_from(c.unsigned_abs()).unwrap_or(usize::MAX);
            tri!(budget.take(0, n));
            let picks = (0..n).map(|_| s.random(cx.rng).expect("non-empty set"));
            let picked: Vec<&[u8]> = picks.map(Vec::as_slice).collect();
            tri!(budget.take(picked.iter().map(|m| m.len()).sum(), 0));
            return Reply::array(picked.into_iter().map(Reply::bulk).collect());
        }
    };
    tri!(budget.take_all(picked.iter().copied()));
    Reply::array(picked.into_iter().map(Reply::bulk).collect())
}

/// SMOVE source destination member
pub(crate) fn smove(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (src, dst, m) = (a[1], a[2], a[3]);
    let Some(s) = tri!(read(cx, src)) else {
        return Reply::Integer(0);
    };
    let here = s.contains(m);
    tri!(read(cx, dst));
    if src == dst {
        return Reply::Integer(i64::from(here));
    }
    if !here {
        return Reply::Integer(0);
    }
    let now = cx.now;
    let db = cx.db();
    if let Ok(Some(s)) = typed_mut!(db, src, now, Set) {
        s.remove(m);
    }
    db.raise(crate::notify::Classes::SET, "srem");
    db.touch(src);
    db.drop_if_empty(src);
    db.raise(crate::notify::Classes::SET, "sadd");
    if tri!(set_or_create(cx, dst)).insert(m.to_vec()) {
        let db = cx.db();
        db.touch(dst);
        db.set_grew(dst, [m]);
    }
    Reply::Integer(1)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes SINTER/SUNION/SDIFF over `keys` (type-checking every key):
/// the members of the result, borrowed. `room` says whether a result of
/// that many members (`usize`: at most) may be worked out.
fn combine<'a>(
    cx: &'a mut Ctx<'_>,
    keys: &[&[u8]],
    op: Op,
    room: impl FnOnce(usize) -> Result<(), Reply>,
) -> Result<Vec<&'a [u8]>, Reply> {
    let now = cx.now;
    let db = cx.db();
    for k in keys {
        let _: Option<&MemberSet> = typed!(db, k, now, Set)?;
    }
    let sets: Vec<Option<&MemberSet>> = keys
        .iter()
        .map(|k| match db.peek(k) {
            Some(Value::Set(s)) => Some(s),
            _ => None,
        })
        .collect();
    let len = |s: &Option<&MemberSet>| s.map_or(0, |s| s.len());
    room(match op {
        Op::Inter => sets.iter().map(len).min().unwrap_or(0),
        Op::Union => sets.iter().map(len).sum(),
        Op::Diff => sets.first().map_or(0, len),
    })?;
    Ok(combine_sets(&sets, op))
}

fn combine_sets<'a>(sets: &[Option<&'a MemberSet>], op: Op) -> Vec<&'a [u8]> {
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Vec::new();
            }
            let mut sets: Vec<&MemberSet> = sets.iter().flatten().copied().collect();
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            first
                .iter()
                .filter(|m| rest.iter().all(|s| s.contains(*m)))
                .map(Vec::as_slice)
                .collect()
        }
        Op::Union => {
            let mut out: Vec<&[u8]> = Vec::new();
            let mut seen: Option<Set<&[u8]>> = None;
            for s in sets.iter().flatten() {
                let seen = seen.get_or_insert_with(|| Set::with_hasher(s.state()));
                for m in s.iter() {
                    if seen.insert(m) {
                        out.push(m);
                    }
                }
            }
            out
        }
        Op::Diff => {
            let Some(Some(first)) = sets.first() else {
                return Vec::new();
            };
            first
                .iter()
                .filter(|m| sets[1..].iter().flatten().all(|s| !s.contains(*m)))
                .map(Vec::as_slice)
                .collect()
        }
    }
}

fn read_op(cx: &mut Ctx<'_>, a: &[&[u8]], op: Op) -> Reply {
    let budget = cx.reply;
    let members = tri!(combine(cx, &a[1..], op, |n| budget.take(0, n)));
    tri!(budget.take_all(members.iter().copied()));
    Reply::Set(members.into_iter().map(Reply::bulk).collect())
}

fn store_op(cx: &mut Ctx<'_>, a: &[&[u8]], op: Op) -> Reply {
    let room = cx.room;
    // Working it out takes a few words per member; the result is data.
    let fits = |bytes: usize| {
        if room.fits(bytes) {
            Ok(())
        } else {
            Err(Reply::error(OOM))
        }
    };
    let members = tri!(combine(cx, &a[2..], op, |n| fits(n.saturating_mul(32))));
    let bytes: usize = members.iter().map(|m| m.len() + 32).sum();
    tri!(fits(bytes));
    let members: Vec<Vec<u8>> = members.into_iter().map(<[u8]>::to_vec).collect();
    let db = cx.db();
    let n = members.len();
    if members.is_empty() {
        db.delete(a[1]);
    } else {
        let mut s = DictSet::with_hasher(db.state);
        s.extend(members);
        db.set(a[1], Value::Set(s), false);
    }
    Reply::Integer(n as i64)
}

/// SINTER key [key ...]
pub(crate) fn sinter(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    read_op(cx, a, Op::Inter)
}

/// SUNION key [key ...]
pub(crate) fn sunion(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    read_op(cx, a, Op::Union)
}

/// SDIFF key [key ...]
pub(crate) fn sdiff(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    read_op(cx, a, Op::Diff)
}

/// SINTERSTORE destination key [key ...]
pub(crate) fn sinterstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    store_op(cx, a, Op::Inter)
}

/// SUNIONSTORE destination key [key ...]
pub(crate) fn sunionstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    store_op(cx, a, Op::Union)
}

/// SDIFFSTORE destination key [key ...]
pub(crate) fn sdiffstore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    store_op(cx, a, Op::Diff)
}

/// SINTERCARD's count error (a count that is no integer included).
const NUMKEYS_POSITIVE: &str = "ERR numkeys should be greater than 0";

/// SINTERCARD numkeys key [key ...] [LIMIT limit]: the intersection's
/// size, counted up to `limit` (0: no limit).
pub(crate) fn sintercard(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let n = match int_arg(a[1]) {
        Ok(n) if n >= 1 => n,
        _ => return Reply::error(NUMKEYS_POSITIVE),
    };
    let Some(end) = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&end| end <= a.len())
    else {
        return Reply::error("ERR Number of keys can't be greater than number of args");
    };
    let mut limit = 0usize;
    let mut opts = a[end..].iter();
    while let Some(o) = opts.next() {
        match opts.next() {
            Some(v) if is(o, "limit") => {
                limit = match int_arg(v) {
                    Ok(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                    _ => return Reply::error("ERR LIMIT can't be negative"),
                };
            }
            _ => return Reply::error(SYNTAX),
        }
    }
    let now = cx.now;
    let db = cx.db();
    for k in &a[2..end] {
        let _: Option<&MemberSet> = tri!(typed!(db, k, now, Set));
    }
    let mut sets: Vec<&MemberSet> = Vec::with_capacity(end - 2);
    for k in &a[2..end] {
        match db.peek(k) {
            Some(Value::Set(s)) => sets.push(s),
            _ => return Reply::Integer(0),
        }
    }
    sets.sort_by_key(|s| s.len());
    let (first, rest) = sets.split_first().expect("at least one key");
    let found = first.iter().filter(|m| rest.iter().all(|s| s.contains(*m)));
    let count = if limit == 0 {
        found.count()
    } else {
        found.take(limit).count()
    };
    Reply::Integer(count as i64)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
pub(crate) fn sscan(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let cursor = tri!(scan::parse_cursor(a[2]));
    let budget = cx.reply;
    let intset = is_intset(cx, a[1]);
    let Some(s) = tri!(read(cx, a[1])) else {
        return scan::reply(0, Vec::new());
    };
    let opts = tri!(scan::parse_opts(&a[3..], Family::Other));
    if intset {
        // All of a small set at once, in its order, as Redis scans one.
        let members = in_order(s.iter().map(Vec::as_slice), true);
        tri!(budget.take_all(members.iter().copied()));
        let out = members.into_iter().filter(|m| opts.matches(m));
        return scan::reply(0, out.map(Reply::bulk).collect());
    }
    let (batch, next) = s.scan(cursor, opts.count);
    tri!(budget.take_all(batch.iter().map(|m| m.as_slice())));
    let out = batch
        .into_iter()
        .filter(|m| opts.matches(m))
        .map(|m| Reply::bulk(m))
        .collect();
    scan::reply(next, out)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::string::String;
    use alloc::vec;
    use alloc::vec::Vec;

    #[test]
    fn intersection_cardinality() {
        let mut t = T::new();
        t.run("SADD a 1 2 3 4");
        t.run("SADD b 2 3 4 5");
        assert_eq!(t.run("SINTERCARD 2 a b"), int(3));
        assert_eq!(t.run("SINTERCARD 2 a b LIMIT 2"), int(2));
        assert_eq!(t.run("SINTERCARD 2 a b LIMIT 0"), int(3));
        assert_eq!(t.run("SINTERCARD 2 a nope"), int(0));
        assert_eq!(
            t.run("SINTERCARD 0 a"),
            err("ERR numkeys should be greater than 0")
        );
        assert_eq!(
            t.run("SINTERCARD 3 a b"),
            err("ERR Number of keys can't be greater than number of args")
        );
        assert_eq!(
            t.run("SINTERCARD 1 a LIMIT x"),
            err("ERR LIMIT can't be negative")
        );
        assert_eq!(t.run("SINTERCARD 1 a LIMIT"), err("ERR syntax error"));
        t.run("SET s x");
        assert_eq!(t.run("SINTERCARD 2 nope s"), err(WRONGTYPE));
    }

    #[test]
    fn add_rem_members() {
        let mut t = T::new();
        assert_eq!(t.run("SADD s a b c a"), int(3));
        assert_eq!(t.run("SADD s a d"), int(1));
        assert_eq!(t.run("SCARD s"), int(4));
        assert_eq!(t.run("SCARD nope"), int(0));
        assert_eq!(sorted(t.run("SMEMBERS s")), ["a", "b", "c", "d"]);
        assert_eq!(t.run("SMEMBERS nope"), arr(&[]));
        assert_eq!(t.run("SISMEMBER s a"), int(1));
        assert_eq!(t.run("SISMEMBER s z"), int(0));
        assert_eq!(t.run("SISMEMBER nope z"), int(0));
        assert_eq!(
            t.run("SMISMEMBER s a z b"),
            Reply::array(vec![int(1), int(0), int(1)])
        );
        assert_eq!(t.run("SMISMEMBER nope a"), Reply::array(vec![int(0)]));
        assert_eq!(t.run("SREM s a z"), int(1));
        assert_eq!(t.run("SREM nope a"), int(0));
        assert_eq!(t.run("SREM s b c d"), int(3));
        assert_eq!(t.run("EXISTS s"), int(0));
    }

    #[test]
    fn spop_srandmember() {
        let mut t = T::new();
        assert_eq!(t.run("SPOP nope"), nil());
        assert_eq!(t.run("SPOP nope 2"), arr(&[]));
        assert_eq!(t.run("SRANDMEMBER nope"), nil());
        assert_eq!(t.run("SRANDMEMBER nope 3"), arr(&[]));
        t.run("SADD s a b c d e");
        let one = t.run("SRANDMEMBER s");
        assert!(matches!(one, Reply::Bulk(Some(_))));
        assert_eq!(sorted(t.run("SRANDMEMBER s 10")), ["a", "b", "c", "d", "e"]);
        let three = sorted(t.run("SRANDMEMBER s 3"));
        assert_eq!(three.len(), 3);
        let mut d = three.clone();
        d.dedup();
        assert_eq!(d.len(), 3, "distinct");
        assert_eq!(strings(t.run("SRANDMEMBER s -20")).len(), 20);
        assert_eq!(t.run("SRANDMEMBER s 0"), arr(&[]));
        assert_eq!(t.run("SRANDMEMBER s 1 2"), err(SYNTAX));
        assert_eq!(
            t.run("SRANDMEMBER s -9223372036854775808"),
            err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            )
        );
        assert_eq!(t.run("SCARD s"), int(5), "SRANDMEMBER does not remove");
        assert_eq!(t.run("SPOP s -1"), err(MUST_BE_POSITIVE));
        assert_eq!(t.run("SPOP s 1 2"), err(SYNTAX));
        assert_eq!(t.run("SPOP s 0"), arr(&[]));
        let popped = strings(t.run("SPOP s 2"));
        assert_eq!(popped.len(), 2);
        assert_eq!(t.run("SCARD s"), int(3));
        let Reply::Bulk(Some(m)) = t.run("SPOP s") else {
            panic!()
        };
        assert_eq!(t.argv(&[b"SISMEMBER", b"s", &m]), int(0));
        assert_eq!(strings(t.run("SPOP s 5")).len(), 2);
        assert_eq!(t.run("EXISTS s"), int(0));
    }

    #[test]
    fn random_picks_are_deterministic_per_seed() {
        let mut a = T::new();
        let mut b = T::new();
        for t in [&mut a, &mut b] {
            t.run("SADD s 1 2 3 4 5 6 7 8 9");
        }
        for _ in 0..10 {
            assert_eq!(a.run("SRANDMEMBER s -3"), b.run("SRANDMEMBER s -3"));
        }
        assert_eq!(a.run("SPOP s 4"), b.run("SPOP s 4"));
    }

    #[test]
    fn smove() {
        let mut t = T::new();
        t.run("SADD a x y");
        assert_eq!(t.run("SMOVE a b x"), int(1));
        assert_eq!(t.run("SMOVE a b x"), int(0));
        assert_eq!(t.run("SMOVE nope b x"), int(0));
        assert_eq!(t.run("SMOVE a a y"), int(1));
        assert_eq!(t.run("SMOVE a a z"), int(0));
        assert_eq!(t.run("SMOVE a b y"), int(1));
        assert_eq!(t.run("EXISTS a"), int(0));
        assert_eq!(sorted(t.run("SMEMBERS b")), ["x", "y"]);
        t.run("SET str v");
        assert_eq!(t.run("SMOVE b str x"), err(WRONGTYPE));
        assert_eq!(t.run("SMOVE str b x"), err(WRONGTYPE));
        assert_eq!(t.run("SCARD b"), int(2));
    }

    #[test]
    fn algebra() {
        let mut t = T::new();
        t.run("SADD a 1 2 3 4");
        t.run("SADD b 3 4 5");
        t.run("SADD c 4 5 6");
        assert_eq!(sorted(t.run("SINTER a b")), ["3", "4"]);
        assert_eq!(sorted(t.run("SINTER a b c")), ["4"]);
        assert_eq!(t.run("SINTER a nope"), arr(&[]));
        assert_eq!(sorted(t.run("SUNION a b nope")), ["1", "2", "3", "4", "5"]);
        assert_eq!(sorted(t.run("SDIFF a b")), ["1", "2"]);
        assert_eq!(sorted(t.run("SDIFF a b c")), ["1", "2"]);
        assert_eq!(sorted(t.run("SDIFF a nope")), ["1", "2", "3", "4"]);
        assert_eq!(t.run("SDIFF nope a"), arr(&[]));
        assert_eq!(t.run("SINTERSTORE d a b"), int(2));
        assert_eq!(sorted(t.run("SMEMBERS d")), ["3", "4"]);
        assert_eq!(t.run("SUNIONSTORE d a c"), int(6));
        assert_eq!(t.run("SDIFFSTORE d a b"), int(2));
        assert_eq!(sorted(t.run("SMEMBERS d")), ["1", "2"]);
        t.run("SET str v EX 100");
        assert_eq!(t.run("SINTERSTORE str a b"), int(2));
        assert_eq!(t.run("TYPE str"), simple("set"));
        assert_eq!(t.run("TTL str"), int(-1));
        assert_eq!(t.run("SINTERSTORE d a nope"), int(0));
        assert_eq!(t.run("EXISTS d"), int(0));
        t.run("SET s v");
        assert_eq!(t.run("SINTER a s"), err(WRONGTYPE));
        assert_eq!(t.run("SINTER nope s"), err(WRONGTYPE));
        assert_eq!(t.run("SUNION a s"), err(WRONGTYPE));
        assert_eq!(t.run("SDIFF a s"), err(WRONGTYPE));
        assert_eq!(t.run("SDIFFSTORE d a s"), err(WRONGTYPE));
        assert_eq!(
            t.run("SINTERSTORE d"),
            err("ERR wrong number of arguments for 'sinterstore' command")
        );
    }

    #[test]
    fn sscan() {
        let mut t = T::new();
        for i in 0..25 {
            t.run(&alloc::format!("SADD s m{i}"));
        }
        let mut cursor = String::from("0");
        let mut seen = Vec::new();
        loop {
            let r = t.run(&alloc::format!("SSCAN s {cursor} COUNT 4"));
            let Reply::Array(Some(mut parts)) = r else {
                panic!()
            };
            seen.extend(strings(parts.pop().unwrap()));
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
        assert_eq!(seen.len(), 25);
        assert_eq!(
            t.run("SSCAN nope 0"),
            Reply::array(vec![bulk("0"), arr(&[])])
        );
        assert_eq!(
            t.run("SSCAN s 0 NOVALUES"),
            err("ERR NOVALUES option can only be used in HSCAN")
        );
    }

    #[test]
    fn wrong_types() {
        let mut t = T::new();
        t.run("SET s v");
        for cmd in [
            "SADD s a",
            "SREM s a",
            "SMEMBERS s",
            "SISMEMBER s a",
            "SMISMEMBER s a",
            "SCARD s",
            "SPOP s",
            "SRANDMEMBER s",
            "SSCAN s 0",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
    }
}
