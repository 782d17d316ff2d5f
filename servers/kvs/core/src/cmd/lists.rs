//! List commands (a `VecDeque` per key: O(1) at both ends, O(n) in the
//! middle for LINSERT, LREM, LSET far from the ends is O(1)).

use crate::notify::Classes;
use alloc::collections::VecDeque;
use alloc::format;
use alloc::vec::Vec;

use crate::cmd::{index_range, int_arg, is};
use crate::db::{tri, typed, typed_mut, typed_or_create};
use crate::reply::{INDEX_OUT_OF_RANGE, MUST_BE_POSITIVE, NO_SUCH_KEY, Reply, SYNTAX};
use crate::store::Ctx;

type List = VecDeque<Vec<u8>>;

fn list_or_create<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut List, Reply> {
    let now = cx.now;
    typed_or_create!(cx.db(), key, now, List, |_| VecDeque::new())
}

fn read<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a List>, Reply> {
    let now = cx.now;
    typed!(cx.db(), key, now, List)
}

fn write<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a mut List>, Reply> {
    let now = cx.now;
    typed_mut!(cx.db(), key, now, List)
}

/// Parses `value is out of range, value must between -LONG_MAX and LONG_MAX`.
fn long_excluding_min(arg: &[u8]) -> Result<i64, Reply> {
    let v = int_arg(arg)?;
    if v == i64::MIN {
        return Err(Reply::Error(format!(
            "ERR value is out of range, value must between {} and {}",
            -i64::MAX,
            i64::MAX
        )));
    }
    Ok(v)
}

fn positive(arg: &[u8], msg: &str) -> Result<i64, Reply> {
    let v = int_arg(arg)?;
    if v < 0 {
        return Err(Reply::error(msg));
    }
    Ok(v)
}

fn push_generic(cx: &mut Ctx<'_>, a: &[&[u8]], left: bool, only_existing: bool) -> Reply {
    if only_existing && tri!(read(cx, a[1])).is_none() {
        return Reply::Integer(0);
    }
    let l = tri!(list_or_create(cx, a[1]));
    for v in &a[2..] {
        if left {
            l.push_front(v.to_vec());
        } else {
            l.push_back(v.to_vec());
        }
    }
    let n = l.len();
    cx.db().touch(a[1]);
    Reply::Integer(n as i64)
}

/// LPUSH key element [element ...]
pub(crate) fn lpush(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    push_generic(cx, a, true, false)
}

/// RPUSH key element [element ...]
pub(crate) fn rpush(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    push_generic(cx, a, false, false)
}

/// LPUSHX key element [element ...]
pub(crate) fn lpushx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    push_generic(cx, a, true, true)
}

/// RPUSHX key element [element ...]
pub(crate) fn rpushx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    push_generic(cx, a, false, true)
}

fn pop_generic(cx: &mut Ctx<'_>, a: &[&[u8]], left: bool, name: &str) -> Reply {
    if a.len() > 3 {
        return Reply::arity(name);
    }
    let count = if a.len() == 3 {
        Some(tri!(positive(a[2], MUST_BE_POSITIVE)))
    } else {
        None
    };
    let budget = cx.reply;
    let Some(l) = tri!(write(cx, a[1])) else {
        return if count.is_some() {
            Reply::nil_array()
        } else {
            Reply::nil()
        };
    };
    let reply = match count {
        None => {
            let v = if left { l.pop_front() } else { l.pop_back() };
            Reply::Bulk(v)
        }
        Some(0) => return Reply::array(Vec::new()),
        Some(n) => {
            let n = (n as usize).min(l.len());
            // The popped elements move into the reply, but it is encoded
            // next to them.
            let popped = |i: usize| if left { &l[i] } else { &l[l.len() - 1 - i] };
            tri!(budget.take_all((0..n).map(|i| popped(i).as_slice())));
            let items: Vec<Reply> = (0..n)
                .filter_map(|_| if left { l.pop_front() } else { l.pop_back() })
                .map(|v| Reply::Bulk(Some(v)))
                .collect();
            Reply::array(items)
        }
    };
    let db = cx.db();
    db.touch(a[1]);
    db.drop_if_empty(a[1]);
    reply
}

/// LPOP key [count]
pub(crate) fn lpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    pop_generic(cx, a, true, "lpop")
}

/// RPOP key [count]
pub(crate) fn rpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    pop_generic(cx, a, false, "rpop")
}

/// LLEN key
pub(crate) fn llen(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(tri!(read(cx, a[1])).map_or(0, |l| l.len() as i64))
}

/// LRANGE key start stop
pub(crate) fn lrange(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let start = tri!(int_arg(a[2]));
    let end = tri!(int_arg(a[3]));
    let budget = cx.reply;
    let Some(l) = tri!(read(cx, a[1])) else {
        return Reply::array(Vec::new());
    };
    let Some((s, e)) = index_range(start, end, l.len()) else {
        return Reply::array(Vec::new());
    };
    tri!(budget.take_all(l.range(s..=e).map(Vec::as_slice)));
    Reply::array(l.range(s..=e).map(|v| Reply::bulk(v)).collect())
}

/// Resolves a possibly negative index into a position.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        index.checked_add(len as i64)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|i| *i < len)
}

/// LINDEX key index
pub(crate) fn lindex(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let index = tri!(int_arg(a[2]));
    let budget = cx.reply;
    let Some(l) = tri!(read(cx, a[1])) else {
        return Reply::nil();
    };
    let Some(i) = position(index, l.len()) else {
        return Reply::nil();
    };
    tri!(budget.take(l[i].len(), 1));
    Reply::Bulk(Some(l[i].clone()))
}

/// LSET key index element
pub(crate) fn lset(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let Some(l) = tri!(write(cx, a[1])) else {
        return Reply::error(NO_SUCH_KEY);
    };
    let index = tri!(int_arg(a[2]));
    let Some(i) = position(index, l.len()) else {
        return Reply::error(INDEX_OUT_OF_RANGE);
    };
    l[i] = a[3].to_vec();
    cx.db().touch(a[1]);
    Reply::ok()
}

/// LINSERT key BEFORE|AFTER pivot element
pub(crate) fn linsert(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let after = if is(a[2], "after") {
        true
    } else if is(a[2], "before") {
        false
    } else {
        return Reply::error(SYNTAX);
    };
    let Some(l) = tri!(write(cx, a[1])) else {
        return Reply::Integer(0);
    };
    let Some(i) = l.iter().position(|v| v.as_slice() == a[3]) else {
        return Reply::Integer(-1);
    };
    l.insert(if after { i + 1 } else { i }, a[4].to_vec());
    let n = l.len();
    cx.db().touch(a[1]);
    Reply::Integer(n as i64)
}

/// LTRIM key start stop
pub(crate) fn ltrim(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let start = tri!(int_arg(a[2]));
    let end = tri!(int_arg(a[3]));
    let Some(l) = tri!(write(cx, a[1])) else {
        return Reply::ok();
    };
    match index_range(start, end, l.len()) {
        None => l.clear(),
        Some((s, e)) => {
            l.truncate(e + 1);
            l.drain(..s);
        }
    }
    let db = cx.db();
    db.touch(a[1]);
    db.drop_if_empty(a[1]);
    Reply::ok()
}

/// LREM key count element
pub(crate) fn lrem(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let count = tri!(long_excluding_min(a[2]));
    let Some(l) = tri!(write(cx, a[1])) else {
        return Reply::Integer(0);
    };
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs() as usize
    };
    let mut removed = 0usize;
    if count >= 0 {
        let mut i = 0;
        while i < l.len() && removed < limit {
            if l[i].as_slice() == a[3] {
                l.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.len();
        while i > 0 && removed < limit {
            i -= 1;
            if l[i].as_slice() == a[3] {
                l.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let db = cx.db();
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    Reply::Integer(removed as i64)
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
pub(crate) fn lpos(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut j = 3;
    while j < a.len() {
        let more = j + 1 < a.len();
        if is(a[j], "rank") && more {
            j += 1;
            rank = tri!(long_excluding_min(a[j]));
            if rank == 0 {
                return Reply::error(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
        } else if is(a[j], "count") && more {
            j += 1;
            count = Some(tri!(positive(a[j], "ERR COUNT can't be negative")));
        } else if is(a[j], "maxlen") && more {
            j += 1;
            maxlen = tri!(positive(a[j], "ERR MAXLEN can't be negative"));
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    let budget = cx.reply;
    let Some(l) = tri!(read(cx, a[1])) else {
        return if count.is_some() {
            Reply::array(Vec::new())
        } else {
            Reply::nil()
        };
    };
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs() as usize;
    let len = l.len();
    let scan_len = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    let mut matches = 0usize;
    let mut found = Vec::new();
    for step in 0..scan_len {
        let idx = if from_tail { len - 1 - step } else { step };
        if l[idx].as_slice() == a[2] {
            matches += 1;
            if matches >= rank {
                tri!(budget.take(0, 1));
                found.push(Reply::Integer(idx as i64));
                match count {
                    None => break,
                    Some(c) if c > 0 && found.len() as i64 >= c => break,
                    _ => {}
                }
            }
        }
    }
    match count {
        Some(_) => Reply::array(found),
        None => found.pop().unwrap_or_else(Reply::nil),
    }
}

/// `LEFT` (true) or `RIGHT`, any case (LMOVE's and BLMOVE's ends).
pub(crate) fn parse_side(arg: &[u8]) -> Result<bool, Reply> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(Reply::error(SYNTAX))
    }
}

fn lmove_generic(
    cx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Reply {
    let budget = cx.reply;
    match tri!(read(cx, src)) {
        None => return Reply::nil(),
        Some(l) if l.is_empty() => return Reply::nil(),
        // The moved element is copied into the reply.
        Some(l) => {
            let moved = if from_left { l.front() } else { l.back() };
            tri!(budget.take(moved.map_or(0, Vec::len), 1));
        }
    }
    // The destination's type is checked before anything moves.
    tri!(read(cx, dst));
    let l = tri!(write(cx, src)).expect("checked above");
    let v = if from_left {
        l.pop_front()
    } else {
        l.pop_back()
    }
    .expect("not empty");
    let d = tri!(list_or_create(cx, dst));
    if to_left {
        d.push_front(v.clone());
    } else {
        d.push_back(v.clone());
    }
    let db = cx.db();
    // The destination's event first, then the source's, as in Redis.
    db.raise(Classes::LIST, if to_left { "lpush" } else { "rpush" });
    db.touch(dst);
    db.raise(Classes::LIST, if from_left { "lpop" } else { "rpop" });
    db.touch(src);
    db.drop_if_empty(src);
    Reply::Bulk(Some(v))
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
pub(crate) fn lmove(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let from = tri!(parse_side(a[3]));
    let to = tri!(parse_side(a[4]));
    lmove_generic(cx, a[1], a[2], from, to)
}

/// RPOPLPUSH source destination
pub(crate) fn rpoplpush(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    lmove_generic(cx, a[1], a[2], false, true)
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::vec;

    #[test]
    fn push_pop_len() {
        let mut t = T::new();
        assert_eq!(t.run("RPUSH l a b c"), int(3));
        assert_eq!(t.run("LPUSH l x y"), int(5));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["y", "x", "a", "b", "c"]));
        assert_eq!(t.run("LLEN l"), int(5));
        assert_eq!(t.run("LLEN nope"), int(0));
        assert_eq!(t.run("LPOP l"), bulk("y"));
        assert_eq!(t.run("RPOP l"), bulk("c"));
        assert_eq!(t.run("LPOP l 2"), arr(&["x", "a"]));
        assert_eq!(t.run("RPOP l 0"), arr(&[]));
        assert_eq!(t.run("RPOP l 10"), arr(&["b"]));
        assert_eq!(t.run("EXISTS l"), int(0));
        assert_eq!(t.run("LPOP l"), nil());
        assert_eq!(t.run("LPOP l 3"), Reply::nil_array());
        assert_eq!(t.run("LPOP l -1"), err(MUST_BE_POSITIVE));
        assert_eq!(t.run("LPOP l x"), err(NOT_INTEGER));
        assert_eq!(
            t.run("LPOP l 1 2"),
            err("ERR wrong number of arguments for 'lpop' command")
        );
        assert_eq!(
            t.run("RPUSH l"),
            err("ERR wrong number of arguments for 'rpush' command")
        );
        t.run("RPUSH l a b c");
        assert_eq!(t.run("RPOP l 2"), arr(&["c", "b"]));
    }

    #[test]
    fn pushx() {
        let mut t = T::new();
        assert_eq!(t.run("LPUSHX l a"), int(0));
        assert_eq!(t.run("RPUSHX l a"), int(0));
        assert_eq!(t.run("EXISTS l"), int(0));
        t.run("RPUSH l m");
        assert_eq!(t.run("LPUSHX l a b"), int(3));
        assert_eq!(t.run("RPUSHX l z"), int(4));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["b", "a", "m", "z"]));
    }

    #[test]
    fn ranges_and_indexes() {
        let mut t = T::new();
        t.run("RPUSH l a b c d e");
        assert_eq!(t.run("LRANGE l 1 2"), arr(&["b", "c"]));
        assert_eq!(t.run("LRANGE l -2 -1"), arr(&["d", "e"]));
        assert_eq!(t.run("LRANGE l -100 1"), arr(&["a", "b"]));
        assert_eq!(t.run("LRANGE l 3 100"), arr(&["d", "e"]));
        assert_eq!(t.run("LRANGE l 4 3"), arr(&[]));
        assert_eq!(t.run("LRANGE l 5 10"), arr(&[]));
        assert_eq!(t.run("LRANGE l -1 -3"), arr(&[]));
        assert_eq!(t.run("LRANGE nope 0 -1"), arr(&[]));
        assert_eq!(t.run("LRANGE l a 1"), err(NOT_INTEGER));
        assert_eq!(t.run("LINDEX l 0"), bulk("a"));
        assert_eq!(t.run("LINDEX l -1"), bulk("e"));
        assert_eq!(t.run("LINDEX l 5"), nil());
        assert_eq!(t.run("LINDEX l -6"), nil());
        assert_eq!(t.run("LINDEX nope 0"), nil());
        assert_eq!(t.run("LINDEX l x"), err(NOT_INTEGER));
        assert_eq!(t.run("LSET l 1 B"), ok());
        assert_eq!(t.run("LSET l -1 E"), ok());
        assert_eq!(t.run("LSET l 5 x"), err(INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("LSET l -6 x"), err(INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("LSET nope 0 x"), err(NO_SUCH_KEY));
        assert_eq!(t.run("LSET l x x"), err(NOT_INTEGER));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["a", "B", "c", "d", "E"]));
    }

    #[test]
    fn insert_trim_rem() {
        let mut t = T::new();
        t.run("RPUSH l a b c");
        assert_eq!(t.run("LINSERT l BEFORE b x"), int(4));
        assert_eq!(t.run("LINSERT l after c y"), int(5));
        assert_eq!(t.run("LINSERT l AFTER zz y"), int(-1));
        assert_eq!(t.run("LINSERT nope AFTER a y"), int(0));
        assert_eq!(t.run("LINSERT l MIDDLE a y"), err(SYNTAX));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["a", "x", "b", "c", "y"]));
        assert_eq!(t.run("LTRIM l 1 -2"), ok());
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["x", "b", "c"]));
        assert_eq!(t.run("LTRIM l -100 100"), ok());
        assert_eq!(t.run("LLEN l"), int(3));
        assert_eq!(t.run("LTRIM nope 0 1"), ok());
        assert_eq!(t.run("LTRIM l 2 1"), ok());
        assert_eq!(t.run("EXISTS l"), int(0));
        t.run("RPUSH l a b a c a d a");
        assert_eq!(t.run("LREM l 2 a"), int(2));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["b", "c", "a", "d", "a"]));
        assert_eq!(t.run("LREM l -1 a"), int(1));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["b", "c", "a", "d"]));
        assert_eq!(t.run("LREM l 0 a"), int(1));
        assert_eq!(t.run("LREM l 0 zz"), int(0));
        assert_eq!(t.run("LREM nope 0 a"), int(0));
        assert_eq!(
            t.run("LREM l -9223372036854775808 a"),
            err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            )
        );
        assert_eq!(t.run("LREM l 0 b"), int(1));
        assert_eq!(t.run("LREM l 0 c"), int(1));
        assert_eq!(t.run("LREM l 0 d"), int(1));
        assert_eq!(t.run("EXISTS l"), int(0));
    }

    #[test]
    fn lpos() {
        let mut t = T::new();
        t.run("RPUSH l a b c 1 2 3 c c");
        assert_eq!(t.run("LPOS l c"), int(2));
        assert_eq!(t.run("LPOS l zz"), nil());
        assert_eq!(t.run("LPOS l c RANK 2"), int(6));
        assert_eq!(t.run("LPOS l c RANK -1"), int(7));
        assert_eq!(t.run("LPOS l c RANK -3"), int(2));
        assert_eq!(t.run("LPOS l c RANK 4"), nil());
        assert_eq!(
            t.run("LPOS l c COUNT 0"),
            Reply::array(vec![int(2), int(6), int(7)])
        );
        assert_eq!(
            t.run("LPOS l c COUNT 2"),
            Reply::array(vec![int(2), int(6)])
        );
        assert_eq!(
            t.run("LPOS l c COUNT 2 RANK -1"),
            Reply::array(vec![int(7), int(6)])
        );
        assert_eq!(
            t.run("LPOS l c COUNT 0 MAXLEN 7"),
            Reply::array(vec![int(2), int(6)])
        );
        assert_eq!(t.run("LPOS l c MAXLEN 2"), nil());
        assert_eq!(t.run("LPOS l zz COUNT 1"), arr(&[]));
        assert_eq!(t.run("LPOS nope a"), nil());
        assert_eq!(t.run("LPOS nope a COUNT 1"), arr(&[]));
        assert_eq!(
            t.run("LPOS l c RANK 0"),
            err(
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
            )
        );
        assert_eq!(
            t.run("LPOS l c RANK -9223372036854775808"),
            err(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
            )
        );
        assert_eq!(
            t.run("LPOS l c COUNT -1"),
            err("ERR COUNT can't be negative")
        );
        assert_eq!(
            t.run("LPOS l c MAXLEN -1"),
            err("ERR MAXLEN can't be negative")
        );
        assert_eq!(t.run("LPOS l c BOGUS 1"), err(SYNTAX));
        assert_eq!(t.run("LPOS l c RANK"), err(SYNTAX));
    }

    #[test]
    fn lmove_and_rpoplpush() {
        let mut t = T::new();
        t.run("RPUSH src a b c");
        assert_eq!(t.run("RPOPLPUSH src dst"), bulk("c"));
        assert_eq!(t.run("LMOVE src dst LEFT RIGHT"), bulk("a"));
        assert_eq!(t.run("LRANGE dst 0 -1"), arr(&["c", "a"]));
        assert_eq!(t.run("LMOVE src src RIGHT LEFT"), bulk("b"), "rotation");
        assert_eq!(t.run("LMOVE src dst left left"), bulk("b"));
        assert_eq!(t.run("EXISTS src"), int(0));
        assert_eq!(t.run("LMOVE src dst LEFT LEFT"), nil());
        assert_eq!(t.run("LMOVE src dst UP LEFT"), err(SYNTAX));
        assert_eq!(t.run("LRANGE dst 0 -1"), arr(&["b", "c", "a"]));
        t.run("RPUSH l x y");
        assert_eq!(t.run("LMOVE l l LEFT RIGHT"), bulk("x"));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["y", "x"]));
        t.run("SET str v");
        assert_eq!(t.run("RPOPLPUSH l str"), err(WRONGTYPE));
        assert_eq!(t.run("LRANGE l 0 -1"), arr(&["y", "x"]), "nothing moved");
        assert_eq!(t.run("RPOPLPUSH str l"), err(WRONGTYPE));
    }

    #[test]
    fn wrong_types() {
        let mut t = T::new();
        t.run("SET s v");
        for cmd in [
            "LPUSH s a",
            "RPUSH s a",
            "LPUSHX s a",
            "RPUSHX s a",
            "LPOP s",
            "RPOP s 2",
            "LLEN s",
            "LRANGE s 0 -1",
            "LINDEX s 0",
            "LSET s 0 a",
            "LINSERT s BEFORE a b",
            "LTRIM s 0 1",
            "LREM s 0 a",
            "LPOS s a",
            "LMOVE s d LEFT LEFT",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
    }
}
