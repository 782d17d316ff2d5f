//! ZMPOP and LMPOP (their non-blocking forms): pop from the first of
//! `numkeys` keys that holds anything.

use alloc::vec::Vec;

use crate::cmd::{int_arg, is};
use crate::db::{Value, tri, wrongtype};
use crate::reply::{Reply, SYNTAX};
use crate::store::Ctx;

/// The most bytes a score's text takes (`-1.7976931348623157e+308`).
const SCORE_TEXT: usize = 24;

/// What to pop: the keys, the end (ZMPOP's MIN or LMPOP's LEFT is
/// `true`) and how many at most.
pub(crate) struct Pop<'a> {
    pub(crate) keys: &'a [&'a [u8]],
    pub(crate) first_end: bool,
    pub(crate) count: usize,
}

/// Parses `numkeys key... END [COUNT count]` with Redis's errors, in its
/// order; `ends` names the two ends (the first one `true`). `a[0]` is not
/// read (the name; BLMPOP's timeout).
pub(crate) fn parse<'a>(a: &'a [&'a [u8]], ends: [&str; 2]) -> Result<Pop<'a>, Reply> {
    let n = match int_arg(a[1]) {
        Ok(n) if n >= 1 => n,
        _ => return Err(Reply::error("ERR numkeys should be greater than 0")),
    };
    // The end word follows the keys.
    let end_at = usize::try_from(n)
        .ok()
        .and_then(|n| n.checked_add(2))
        .filter(|&i| i < a.len())
        .ok_or_else(|| Reply::error(SYNTAX))?;
    let first_end = if is(a[end_at], ends[0]) {
        true
    } else if is(a[end_at], ends[1]) {
        false
    } else {
        return Err(Reply::error(SYNTAX));
    };
    let mut count = None;
    let mut i = end_at + 1;
    while i < a.len() {
        if count.is_none() && is(a[i], "count") && i + 1 < a.len() {
            count = match int_arg(a[i + 1]) {
                Ok(c) if c >= 1 => Some(usize::try_from(c).unwrap_or(usize::MAX)),
                _ => return Err(Reply::error("ERR count should be greater than 0")),
            };
            i += 2;
        } else {
            return Err(Reply::error(SYNTAX));
        }
    }
    Ok(Pop {
        keys: &a[2..end_at],
        first_end,
        count: count.unwrap_or(1),
    })
}

/// The first key holding a value, and that value; `WRONGTYPE` when one
/// before it (or it) holds no `list`/`zset` as `wanted` says.
fn first_held<'k>(
    cx: &mut Ctx<'_>,
    keys: &[&'k [u8]],
    wanted: fn(&Value) -> bool,
) -> Result<Option<&'k [u8]>, Reply> {
    let now = cx.now;
    let db = cx.db();
    for &k in keys {
        match db.get(k, now) {
            None => continue,
            Some(v) if wanted(v) => return Ok(Some(k)),
            Some(_) => return Err(wrongtype()),
        }
    }
    Ok(None)
}

/// ZMPOP numkeys key [key ...] MIN|MAX [COUNT count]
pub(crate) fn zmpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let p = tri!(parse(a, ["min", "max"]));
    let budget = cx.reply;
    let Some(key) = tri!(first_held(cx, p.keys, |v| matches!(v, Value::ZSet(_)))) else {
        return Reply::nil_array();
    };
    let db = cx.db();
    let Some(Value::ZSet(z)) = db.peek_mut(key) else {
        return Reply::nil_array();
    };
    // At most `count` members, each as long as the longest, and scores.
    let n = p.count.min(z.len());
    let longest = z.entries().map(|(m, _)| m.len()).max().unwrap_or(0);
    tri!(budget.take(
        longest.saturating_add(SCORE_TEXT).saturating_mul(n) + key.len(),
        3 * n + 1
    ));
    let mut popped = Vec::with_capacity(n);
    for _ in 0..n {
        let Some((m, s)) = z.pop(!p.first_end) else {
            break;
        };
        popped.push(Reply::array(alloc::vec![
            Reply::Bulk(Some(m)),
            Reply::double(s),
        ]));
    }
    let event = if p.first_end { "zpopmin" } else { "zpopmax" };
    db.raise(crate::notify::Classes::ZSET, event);
    db.touch(key);
    db.drop_if_empty(key);
    Reply::array(alloc::vec![Reply::bulk(key), Reply::array(popped)])
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
pub(crate) fn lmpop(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let p = tri!(parse(a, ["left", "right"]));
    let budget = cx.reply;
    let Some(key) = tri!(first_held(cx, p.keys, |v| matches!(v, Value::List(_)))) else {
        return Reply::nil_array();
    };
    let db = cx.db();
    let Some(Value::List(l)) = db.peek_mut(key) else {
        return Reply::nil_array();
    };
    let n = p.count.min(l.len());
    let taken = |i: usize| {
        if p.first_end {
            &l[i]
        } else {
            &l[l.len() - 1 - i]
        }
    };
    tri!(budget.take_all((0..n).map(|i| taken(i).as_slice()).chain([key])));
    let popped: Vec<Reply> = (0..n)
        .filter_map(|_| {
            if p.first_end {
                l.pop_front()
            } else {
                l.pop_back()
            }
        })
        .map(|v| Reply::Bulk(Some(v)))
        .collect();
    let event = if p.first_end { "lpop" } else { "rpop" };
    db.raise(crate::notify::Classes::LIST, event);
    db.touch(key);
    db.drop_if_empty(key);
    Reply::array(alloc::vec![Reply::bulk(key), Reply::array(popped)])
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::Reply;
    use alloc::vec;

    #[test]
    fn pops_from_the_first_key_holding_anything() {
        let mut t = T::new();
        t.run("ZADD z 1 a 2 b 3 c");
        t.run("RPUSH l a b c");
        assert_eq!(
            t.run("ZMPOP 2 nope z MAX COUNT 2"),
            Reply::array(vec![
                bulk("z"),
                Reply::array(vec![arr(&["c", "3"]), arr(&["b", "2"])]),
            ])
        );
        assert_eq!(
            t.run("LMPOP 2 nope l RIGHT COUNT 9"),
            Reply::array(vec![bulk("l"), arr(&["c", "b", "a"])])
        );
        assert_eq!(t.run("EXISTS l"), int(0));
        assert_eq!(t.run("LMPOP 1 l LEFT"), Reply::nil_array());
        assert_eq!(
            t.run("LMPOP 2 z l LEFT"),
            err("WRONGTYPE Operation against a key holding the wrong kind of value")
        );
        for (line, e) in [
            ("ZMPOP 0 z MIN", "ERR numkeys should be greater than 0"),
            ("ZMPOP x z MIN", "ERR numkeys should be greater than 0"),
            ("ZMPOP 9223372036854775807 z MIN", "ERR syntax error"),
            ("ZMPOP 1 z MIDDLE", "ERR syntax error"),
            (
                "ZMPOP 1 z MIN COUNT 0",
                "ERR count should be greater than 0",
            ),
            ("ZMPOP 1 z MIN COUNT 1 COUNT 1", "ERR syntax error"),
        ] {
            assert_eq!(t.run(line), err(e), "{line}");
        }
    }
}
