//! Hash commands.

use alloc::vec::Vec;

use crate::cmd::scan::{self, Family};
use crate::cmd::{int_arg, rand_count, rand_pick};
use crate::db::{Value, tri, typed, typed_or_create};
use crate::dict::Dict;
use crate::ld::LongDouble;
use crate::num;
use crate::reply::{NAN_OR_INF, NOT_FLOAT, OVERFLOW, Reply};
use crate::store::Ctx;

type Hash = Dict<Vec<u8>, Vec<u8>>;

/// The hash at `key`, created if missing (the caller drops it if empty).
fn hash_or_create<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<&'a mut Hash, Reply> {
    let now = cx.now;
    typed_or_create!(cx.db(), key, now, Hash, Dict::with_hasher)
}

fn read<'a>(cx: &'a mut Ctx<'_>, key: &[u8]) -> Result<Option<&'a Hash>, Reply> {
    let now = cx.now;
    typed!(cx.db(), key, now, Hash)
}

fn hset_generic(cx: &mut Ctx<'_>, a: &[&[u8]], name: &str) -> Result<i64, Reply> {
    if a.len() % 2 == 1 {
        return Err(Reply::arity(name));
    }
    let t = cx.db().thresholds;
    let h = hash_or_create(cx, a[1])?;
    let mut created = 0;
    for fv in a[2..].chunks_exact(2) {
        if h.insert(fv[0].to_vec(), fv[1].to_vec()).is_none() {
            created += 1;
        }
    }
    let len = h.len();
    let db = cx.db();
    db.touch(a[1]);
    // Redis looks at every argument before it sets any, repeated fields
    // and values replaced in the same call included.
    let long = a[2..].iter().any(|x| x.len() > t.hash_value);
    db.promote(a[1], long || len > t.hash_entries);
    Ok(created)
}

/// After one field of `key` was set (`set`: the field and its value):
/// the change, and the hashtable a listpack turns into when either is too
/// long or the hash has too many fields (Redis's hashTypeSet).
fn grew(cx: &mut Ctx<'_>, key: &[u8], set: &[&[u8]; 2]) {
    let db = cx.db();
    db.touch(key);
    let t = db.thresholds;
    let len = match db.peek(key) {
        Some(Value::Hash(h)) => h.len(),
        _ => 0,
    };
    db.promote(
        key,
        set.iter().any(|x| x.len() > t.hash_value) || len > t.hash_entries,
    );
}

/// HSET key field value [field value ...] (number of new fields)
pub(crate) fn hset(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(tri!(hset_generic(cx, a, "hset")))
}

/// HMSET key field value [field value ...]
pub(crate) fn hmset(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    tri!(hset_generic(cx, a, "hmset"));
    Reply::ok()
}

/// HSETNX key field value
pub(crate) fn hsetnx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if tri!(read(cx, a[1])).is_some_and(|h| h.contains_key(a[2])) {
        return Reply::Integer(0);
    }
    tri!(hash_or_create(cx, a[1])).insert(a[2].to_vec(), a[3].to_vec());
    grew(cx, a[1], &[a[2], a[3]]);
    Reply::Integer(1)
}

/// HGET key field
pub(crate) fn hget(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let budget = cx.reply;
    let v = tri!(read(cx, a[1])).and_then(|h| h.get(a[2]));
    tri!(budget.take_all(v.map(Vec::as_slice)));
    Reply::Bulk(v.cloned())
}

/// HMGET key field [field ...]
pub(crate) fn hmget(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let budget = cx.reply;
    let h = tri!(read(cx, a[1]));
    let found = |f: &&[u8]| h.and_then(|h| h.get(*f)).map_or(&[][..], Vec::as_slice);
    tri!(budget.take_all(a[2..].iter().map(found)));
    Reply::array(
        a[2..]
            .iter()
            .map(|f| Reply::Bulk(h.and_then(|h| h.get(*f).cloned())))
            .collect(),
    )
}

/// HDEL key field [field ...]
pub(crate) fn hdel(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    // The other fields keep their order, as a listpack's do.
    let Some(h) = tri!(crate::db::typed_mut!(db, a[1], now, Hash)) else {
        return Reply::Integer(0);
    };
    let n = a[2..].iter().filter(|f| h.remove(**f).is_some()).count();
    if n > 0 {
        db.touch(a[1]);
        db.drop_if_empty(a[1]);
    }
    Reply::Integer(n as i64)
}

/// HGETALL key (fields and values in the hash's order: a small hash's
/// insertion order, as a listpack's)
pub(crate) fn hgetall(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let budget = cx.reply;
    let h = tri!(read(cx, a[1]));
    tri!(
        budget.take_all(
            h.into_iter()
                .flatten()
                .flat_map(|(f, v)| [f.as_slice(), v.as_slice()])
        )
    );
    Reply::Map(
        h.into_iter()
            .flatten()
            .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
            .collect(),
    )
}

/// HKEYS key
pub(crate) fn hkeys(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let budget = cx.reply;
    let h = tri!(read(cx, a[1]));
    tri!(budget.take_all(h.into_iter().flat_map(|h| h.keys()).map(Vec::as_slice)));
    Reply::array(
        h.into_iter()
            .flat_map(|h| h.keys())
            .map(|f| Reply::bulk(f))
            .collect(),
    )
}

/// HVALS key
pub(crate) fn hvals(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let budget = cx.reply;
    let h = tri!(read(cx, a[1]));
    tri!(budget.take_all(h.into_iter().flat_map(|h| h.values()).map(Vec::as_slice)));
    Reply::array(
        h.into_iter()
            .flat_map(|h| h.values())
            .map(|v| Reply::bulk(v))
            .collect(),
    )
}

/// HLEN key
pub(crate) fn hlen(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(tri!(read(cx, a[1])).map_or(0, |h| h.len() as i64))
}

/// HEXISTS key field
pub(crate) fn hexists(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::Integer(i64::from(
        tri!(read(cx, a[1])).is_some_and(|h| h.contains_key(a[2])),
    ))
}

/// HSTRLEN key field
pub(crate) fn hstrlen(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let h = tri!(read(cx, a[1]));
    Reply::Integer(h.and_then(|h| h.get(a[2])).map_or(0, |v| v.len() as i64))
}

/// HINCRBY key field increment
pub(crate) fn hincrby(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let by = tri!(int_arg(a[3]));
    let cur = match tri!(read(cx, a[1])).and_then(|h| h.get(a[2])) {
        None => 0,
        Some(v) => match num::parse_i64(v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not an integer"),
        },
    };
    let Some(n) = cur.checked_add(by) else {
        return Reply::error(OVERFLOW);
    };
    let value = num::int_bytes(n);
    tri!(hash_or_create(cx, a[1])).insert(a[2].to_vec(), value.clone());
    grew(cx, a[1], &[a[2], &value]);
    Reply::Integer(n)
}

/// HINCRBYFLOAT key field increment
pub(crate) fn hincrbyfloat(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    // In `long double`, as Redis computes it ([`LongDouble`]).
    let Some(by) = LongDouble::parse(a[3]) else {
        return Reply::error(NOT_FLOAT);
    };
    if !by.is_finite() {
        return Reply::error("ERR value is NaN or Infinity");
    }
    let cur = match tri!(read(cx, a[1])).and_then(|h| h.get(a[2])) {
        None => LongDouble::ZERO,
        Some(v) => match LongDouble::parse(v) {
            Some(n) => n,
            None => return Reply::error("ERR hash value is not a float"),
        },
    };
    let v = cur.add(by);
    if !v.is_finite() {
        return Reply::error(NAN_OR_INF);
    }
    let out = v.fmt_human().into_bytes();
    tri!(hash_or_create(cx, a[1])).insert(a[2].to_vec(), out.clone());
    grew(cx, a[1], &[a[2], &out]);
    Reply::Bulk(Some(out))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count] [NOVALUES]
pub(crate) fn hscan(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let cursor = tri!(scan::parse_cursor(a[2]));
    let budget = cx.reply;
    let listpack = matches!(
        cx.db().encoding(a[1]),
        Some(crate::encoding::Encoding::Listpack)
    );
    let Some(h) = tri!(read(cx, a[1])) else {
        return scan::reply(0, Vec::new());
    };
    let opts = tri!(scan::parse_opts(&a[3..], Family::Hscan));
    // A small hash all at once, in its order, as Redis scans a listpack.
    let (batch, next) = match listpack {
        true => (h.iter().collect(), 0),
        false => h.scan(cursor, opts.count),
    };
    tri!(budget.take_all(batch.iter().flat_map(|(f, v)| [f.as_slice(), v.as_slice()])));
    let mut out = Vec::new();
    for (f, v) in batch {
        if opts.matches(f) {
            out.push(Reply::bulk(f));
            if !opts.novalues {
                out.push(Reply::bulk(v));
            }
        }
    }
    scan::reply(next, out)
}

/// HRANDFIELD key [count [WITHVALUES]] (negative count: repeats allowed)
pub(crate) fn hrandfield(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let count = tri!(rand_count(a, "withvalues"));
    let budget = cx.reply;
    let rng = &mut *cx.rng;
    let now = cx.now;
    let db = &mut cx.dbs[cx.db];
    let Some(h) = tri!(typed!(db, a[1], now, Hash)) else {
        return match count {
            Some(_) => Reply::array(Vec::new()),
            None => Reply::nil(),
        };
    };
    let Some((count, withvalues)) = count else {
        let (f, _) = h.random(rng).expect("a hash has fields");
        tri!(budget.take(f.len(), 1));
        return Reply::bulk(f);
    };
    let per = if withvalues { 2 } else { 1 };
    let picked = tri!(rand_pick(h, count, per, budget, rng));
    let bytes = picked
        .iter()
        .map(|(f, v)| f.len() + if withvalues { v.len() } else { 0 })
        .sum();
    tri!(budget.take(bytes, 0));
    match withvalues {
        true => Reply::Pairs(
            picked
                .into_iter()
                .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
                .collect(),
        ),
        false => Reply::array(picked.into_iter().map(|(f, _)| Reply::bulk(f)).collect()),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn hrandfield() {
        let mut t = T::new();
        t.run("HSET h a 1 b 2 c 3");
        assert_eq!(sorted(t.run("HRANDFIELD h 5")), ["a", "b", "c"]);
        assert_eq!(sorted(t.run("HRANDFIELD h 2")).len(), 2);
        let one = strings(crate::reply::Reply::array(alloc::vec![
            t.run("HRANDFIELD h")
        ]));
        assert!(["a", "b", "c"].contains(&one[0].as_str()));
        let pairs = strings(t.run("HRANDFIELD h -7 WITHVALUES"));
        assert_eq!(pairs.len(), 14);
        for p in pairs.chunks(2) {
            assert_eq!(p[0].as_bytes()[0] - b'a' + b'1', p[1].as_bytes()[0]);
        }
        assert_eq!(t.run("HRANDFIELD h 0 WITHVALUES"), arr(&[]));
        assert_eq!(t.run("HRANDFIELD nope"), nil());
        assert_eq!(t.run("HRANDFIELD nope -2"), arr(&[]));
        assert_eq!(t.run("HRANDFIELD h x"), err(NOT_INTEGER));
        assert_eq!(t.run("HRANDFIELD h 1 WITHVALUE"), err(SYNTAX));
        assert_eq!(
            t.run("HRANDFIELD h -4611686018427387904 WITHVALUES"),
            err("ERR value is out of range")
        );
        t.run("SET s v");
        assert_eq!(t.run("HRANDFIELD s 1"), err(WRONGTYPE));
    }

    #[test]
    fn set_get_del() {
        let mut t = T::new();
        assert_eq!(t.run("HSET h a 1 b 2"), int(2));
        assert_eq!(t.run("HSET h a 10 c 3"), int(1));
        assert_eq!(t.run("HGET h a"), bulk("10"));
        assert_eq!(t.run("HGET h z"), nil());
        assert_eq!(t.run("HGET nope a"), nil());
        assert_eq!(
            t.run("HMGET h a z b"),
            Reply::array(alloc::vec![bulk("10"), nil(), bulk("2")])
        );
        assert_eq!(t.run("HMGET nope a"), Reply::array(alloc::vec![nil()]));
        assert_eq!(t.run("HLEN h"), int(3));
        assert_eq!(t.run("HLEN nope"), int(0));
        assert_eq!(t.run("HEXISTS h a"), int(1));
        assert_eq!(t.run("HEXISTS h z"), int(0));
        assert_eq!(t.run("HSTRLEN h a"), int(2));
        assert_eq!(t.run("HSTRLEN h z"), int(0));
        assert_eq!(
            t.run("HSET h a"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            t.run("HSET h a 1 b"),
            err("ERR wrong number of arguments for 'hset' command")
        );
        assert_eq!(
            t.run("HMSET h a 1 b"),
            err("ERR wrong number of arguments for 'hmset' command")
        );
        assert_eq!(t.run("HMSET h d 4"), ok());
        assert_eq!(t.run("HDEL h a z d"), int(2));
        assert_eq!(t.run("HDEL nope a"), int(0));
        assert_eq!(t.run("HDEL h b c"), int(2));
        assert_eq!(t.run("EXISTS h"), int(0), "an emptied hash is removed");
    }

    #[test]
    fn setnx_getall_keys_vals() {
        let mut t = T::new();
        assert_eq!(t.run("HSETNX h a 1"), int(1));
        assert_eq!(t.run("HSETNX h a 2"), int(0));
        assert_eq!(t.run("HGET h a"), bulk("1"));
        t.run("HSET h b 2");
        assert_eq!(sorted(t.run("HKEYS h")), ["a", "b"]);
        assert_eq!(sorted(t.run("HVALS h")), ["1", "2"]);
        let all = strings(t.run("HGETALL h"));
        let mut pairs: Vec<(String, String)> = all
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        pairs.sort();
        assert_eq!(pairs, [("a".into(), "1".into()), ("b".into(), "2".into())]);
        assert_eq!(t.run("HGETALL nope"), arr(&[]));
        assert_eq!(t.run("HKEYS nope"), arr(&[]));
    }

    #[test]
    fn counters() {
        let mut t = T::new();
        assert_eq!(t.run("HINCRBY h n 5"), int(5));
        assert_eq!(t.run("HINCRBY h n -7"), int(-2));
        assert_eq!(t.run("HINCRBY h n x"), err(NOT_INTEGER));
        t.run("HSET h s abc");
        assert_eq!(
            t.run("HINCRBY h s 1"),
            err("ERR hash value is not an integer")
        );
        t.run("HSET h big 9223372036854775807");
        assert_eq!(t.run("HINCRBY h big 1"), err(OVERFLOW));
        assert_eq!(t.run("HINCRBYFLOAT h f 1.5"), bulk("1.5"));
        assert_eq!(t.run("HINCRBYFLOAT h f 0.1"), bulk("1.6"));
        assert_eq!(t.run("HINCRBYFLOAT h n 1"), bulk("-1"));
        assert_eq!(
            t.run("HINCRBYFLOAT h s 1"),
            err("ERR hash value is not a float")
        );
        assert_eq!(t.run("HINCRBYFLOAT h f x"), err(NOT_FLOAT));
        assert_eq!(
            t.run("HINCRBYFLOAT h f inf"),
            err("ERR value is NaN or Infinity")
        );
        // In `long double` (as Redis), 1e308 + 1e308 is no overflow; only
        // past about 1.19e4932 is.
        t.run("HSET h huge 1e308");
        assert!(
            matches!(t.run("HINCRBYFLOAT h huge 1e308"), Reply::Bulk(Some(b)) if b.len() == 309)
        );
        t.run("HSET h huge 1e4932");
        assert_eq!(t.run("HINCRBYFLOAT h huge 1e4932"), err(NAN_OR_INF));
        assert_eq!(t.run("HINCRBY nope2 f x"), err(NOT_INTEGER));
        assert_eq!(t.run("EXISTS nope2"), int(0));
    }

    #[test]
    fn wrong_types() {
        let mut t = T::new();
        t.run("SET s v");
        for cmd in [
            "HSET s a 1",
            "HSETNX s a 1",
            "HGET s a",
            "HMGET s a",
            "HDEL s a",
            "HGETALL s",
            "HLEN s",
            "HEXISTS s a",
            "HINCRBY s a 1",
            "HINCRBYFLOAT s a 1",
            "HKEYS s",
            "HVALS s",
            "HSTRLEN s a",
            "HSCAN s 0",
        ] {
            assert_eq!(t.run(cmd), err(WRONGTYPE), "{cmd}");
        }
        assert_eq!(t.run("GET s"), bulk("v"));
    }

    #[test]
    fn hscan() {
        let mut t = T::new();
        for i in 0..30 {
            t.run(&alloc::format!("HSET h f{i} v{i}"));
        }
        let mut cursor = String::from("0");
        let mut fields = Vec::new();
        loop {
            let r = t.run(&alloc::format!("HSCAN h {cursor} COUNT 7"));
            let Reply::Array(Some(mut parts)) = r else {
                panic!()
            };
            let items = strings(parts.pop().unwrap());
            for p in items.chunks(2) {
                assert_eq!(p[0][1..], p[1][1..]);
                fields.push(p[0].clone());
            }
            let Reply::Bulk(Some(c)) = parts.pop().unwrap() else {
                panic!()
            };
            cursor = String::from_utf8(c).unwrap();
            if cursor == "0" {
                break;
            }
        }
        fields.sort();
        fields.dedup();
        assert_eq!(fields.len(), 30);
        let r = t.run("HSCAN h 0 MATCH f1? COUNT 100 NOVALUES");
        let Reply::Array(Some(parts)) = r else {
            panic!()
        };
        let mut got = strings(parts[1].clone());
        got.sort();
        assert_eq!(got.len(), 10);
        assert!(got.iter().all(|f| f.starts_with("f1")));
        assert_eq!(
            t.run("HSCAN nope 0"),
            Reply::array(alloc::vec![bulk("0"), arr(&[])])
        );
        assert_eq!(t.run("HSCAN h x"), err(INVALID_CURSOR));
        assert_eq!(t.run("HSCAN h 0 TYPE string"), err(SYNTAX));
    }
}
