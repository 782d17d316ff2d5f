//! Key-space commands: DEL, EXISTS, TOUCH, TYPE, RENAME, COPY, MOVE, KEYS,
//! SCAN, RANDOMKEY.

use crate::cmd::scan::{self, Family};
use crate::cmd::{db_arg, is, two_dbs};
use crate::db::{Db, tri};
use crate::glob;
use crate::memory::OOM;
use crate::reply::{NO_SUCH_KEY, Reply, SAME_OBJECT, SYNTAX};
use crate::store::Ctx;

/// DEL key [key ...] (also UNLINK)
pub(crate) fn del(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let mut n = 0;
    for k in &a[1..] {
        if !db.expire_if_needed(k, now) && db.remove(k).is_some() {
            n += 1;
        }
    }
    Reply::Integer(n)
}

/// EXISTS key [key ...] (a key named twice counts twice)
pub(crate) fn exists(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    Reply::Integer(a[1..].iter().filter(|k| db.exists(k, now)).count() as i64)
}

/// TOUCH key [key ...]: counts the keys that exist (a key named twice
/// counts twice), an access to each.
pub(crate) fn touch(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    Reply::Integer(a[1..].iter().filter(|k| db.get(k, now).is_some()).count() as i64)
}

/// COPY source destination [DB destination-db] [REPLACE]: the value and
/// its expiry, a new key (as Redis's copy, it starts with a fresh access
/// record).
pub(crate) fn copy(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (src, dst) = (a[1], a[2]);
    let mut to = cx.db;
    let mut replace = false;
    let mut j = 3;
    while j < a.len() {
        if is(a[j], "replace") {
            replace = true;
        } else if is(a[j], "db") && j + 1 < a.len() {
            to = tri!(db_arg(a[j + 1]));
            j += 1;
        } else {
            return Reply::error(SYNTAX);
        }
        j += 1;
    }
    if to == cx.db && src == dst {
        return Reply::error(SAME_OBJECT);
    }
    let (now, room, from) = (cx.now, cx.room, cx.db);
    let source = &mut cx.dbs[from];
    let Some(value) = source.get(src, now) else {
        return Reply::Integer(0);
    };
    // Worked out before anything changes: the copy must fit.
    if !room.fits(value.footprint()) {
        return Reply::error(OOM);
    }
    let value = value.clone();
    let (expire_at, enc) = source
        .raw_entry(src)
        .map_or((None, None), |e| (e.expire_at, Some(e.enc.copied())));
    let target = &mut cx.dbs[to];
    if target.exists(dst, now) {
        if !replace {
            return Reply::Integer(0);
        }
        target.remove(dst);
    }
    target.set(dst, value, false);
    if let Some(enc) = enc {
        target.set_encoding(dst, enc);
    }
    if let Some(t) = expire_at {
        target.set_expire(dst, t);
    }
    target.note(crate::notify::Classes::GENERIC, "copy_to", dst);
    Reply::Integer(1)
}

/// MOVE key db: the key, its value, expiry and access record, to another
/// database, unless the key is there already.
pub(crate) fn move_(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let to = tri!(db_arg(a[2]));
    if to == cx.db {
        return Reply::error(SAME_OBJECT);
    }
    let (now, from, key) = (cx.now, cx.db, a[1]);
    let (source, target) = two_dbs(cx.dbs, from, to);
    if source.get(key, now).is_none() || target.exists(key, now) {
        return Reply::Integer(0);
    }
    let Some(entry) = source.remove(key) else {
        return Reply::Integer(0);
    };
    target.put_entry(key, entry);
    source.note(crate::notify::Classes::GENERIC, "move_from", key);
    target.note(crate::notify::Classes::GENERIC, "move_to", key);
    Reply::Integer(1)
}

/// TYPE key (not an access, as in Redis)
pub(crate) fn type_(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    Reply::simple(
        cx.db()
            .entry(a[1], now)
            .map_or("none", |e| e.value.type_name()),
    )
}

fn rename_generic(cx: &mut Ctx<'_>, a: &[&[u8]], nx: bool) -> Reply {
    let now = cx.now;
    let db = cx.db();
    let (src, dst) = (a[1], a[2]);
    if !db.exists(src, now) {
        return Reply::error(NO_SUCH_KEY);
    }
    let done = || if nx { Reply::Integer(1) } else { Reply::ok() };
    if src == dst {
        return if nx { Reply::Integer(0) } else { Reply::ok() };
    }
    if nx && db.exists(dst, now) {
        return Reply::Integer(0);
    }
    let entry = db.remove(src).expect("exists");
    db.put_entry(dst, entry);
    db.note(crate::notify::Classes::GENERIC, "rename_from", src);
    db.note(crate::notify::Classes::GENERIC, "rename_to", dst);
    done()
}

/// RENAME key newkey (keeps the TTL)
pub(crate) fn rename(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    rename_generic(cx, a, false)
}

/// RENAMENX key newkey
pub(crate) fn renamenx(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    rename_generic(cx, a, true)
}

/// KEYS pattern (in hash-table order)
pub(crate) fn keys(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, budget) = (cx.now, cx.reply);
    let pattern = a[1];
    let all = pattern == b"*";
    let db = cx.db();
    let matching = || {
        db.entries()
            .filter(move |(k, e)| !Db::is_expired(e, now) && (all || glob::matches(pattern, k)))
            .map(|(k, _)| k.as_slice())
    };
    tri!(budget.take_all(matching()));
    Reply::bulks(matching())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// See [`crate::cmd::scan`] for the cursor's guarantee.
pub(crate) fn scan(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let cursor = tri!(scan::parse_cursor(a[1]));
    let opts = tri!(scan::parse_opts(&a[2..], Family::Scan));
    let (now, budget) = (cx.now, cx.reply);
    let db = cx.db();
    let (batch, next) = db.scan(cursor, opts.count);
    let live: alloc::vec::Vec<_> = batch
        .into_iter()
        .filter(|(_, e)| !Db::is_expired(e, now))
        .collect();
    tri!(budget.take_all(live.iter().map(|(k, _)| k.as_slice())));
    let items = live
        .into_iter()
        .filter(|(k, e)| {
            opts.matches(k)
                && opts
                    .type_name
                    .is_none_or(|want| want == e.value.type_name())
        })
        .map(|(k, _)| Reply::bulk(k))
        .collect();
    scan::reply(next, items)
}

/// RANDOMKEY
pub(crate) fn randomkey(cx: &mut Ctx<'_>, _a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = &mut cx.dbs[cx.db];
    Reply::Bulk(db.random_key(cx.rng, now))
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn del_exists_type() {
        let mut t = T::new();
        t.run("MSET a 1 b 2");
        t.run("RPUSH l x");
        t.run("SADD s x");
        t.run("HSET h f v");
        t.run("ZADD z 1 m");
        assert_eq!(t.run("EXISTS a a b nope"), int(3));
        assert_eq!(t.run("TYPE a"), simple("string"));
        assert_eq!(t.run("TYPE l"), simple("list"));
        assert_eq!(t.run("TYPE s"), simple("set"));
        assert_eq!(t.run("TYPE h"), simple("hash"));
        assert_eq!(t.run("TYPE z"), simple("zset"));
        assert_eq!(t.run("TYPE nope"), simple("none"));
        assert_eq!(t.run("DEL a b nope a"), int(2));
        assert_eq!(t.run("UNLINK l s"), int(2));
        assert_eq!(t.run("EXISTS a l"), int(0));
        assert_eq!(
            t.run("DEL"),
            err("ERR wrong number of arguments for 'del' command")
        );
    }

    #[test]
    fn copy_values_and_expiry() {
        let mut t = T::new();
        t.run("SET a 1 EX 100");
        assert_eq!(t.run("COPY a b"), int(1));
        assert_eq!(t.run("TTL b"), int(100), "the expiry comes along");
        assert_eq!(t.run("GET b"), bulk("1"));
        assert_eq!(t.run("COPY a b"), int(0), "the destination exists");
        t.run("SET a 2");
        assert_eq!(t.run("COPY a b REPLACE"), int(1));
        assert_eq!(t.run("GET b"), bulk("2"));
        assert_eq!(t.run("TTL b"), int(-1), "replaced whole");
        assert_eq!(t.run("COPY a b db 1 DB 2"), int(1), "the last DB counts");
        t.run("SELECT 2");
        assert_eq!(t.run("GET b"), bulk("2"));
        t.run("SELECT 1");
        assert_eq!(t.run("EXISTS b"), int(0));
        t.run("SELECT 0");
        t.run("RPUSH l x y");
        t.run("HSET h f v");
        t.run("SADD s m");
        t.run("ZADD z 1.5 m");
        assert_eq!(t.run("COPY l l2"), int(1));
        assert_eq!(t.run("LRANGE l2 0 -1"), arr(&["x", "y"]));
        t.run("RPUSH l z");
        assert_eq!(t.run("LLEN l2"), int(2), "a copy, not a share");
        assert_eq!(t.run("COPY h a REPLACE"), int(1));
        assert_eq!(t.run("HGETALL a"), arr(&["f", "v"]));
        assert_eq!(t.run("COPY s s2"), int(1));
        assert_eq!(t.run("SMEMBERS s2"), arr(&["m"]));
        assert_eq!(t.run("COPY z z2"), int(1));
        assert_eq!(t.run("ZRANGE z2 0 -1 WITHSCORES"), arr(&["m", "1.5"]));
        assert_eq!(t.run("COPY nope x"), int(0));
        assert_eq!(t.run("EXISTS x"), int(0));
    }

    #[test]
    fn copy_errors() {
        let mut t = T::new();
        t.run("SET a 1");
        assert_eq!(t.run("COPY a a"), err(SAME_OBJECT));
        assert_eq!(t.run("COPY a a DB 0"), err(SAME_OBJECT));
        assert_eq!(t.run("COPY nope nope"), err(SAME_OBJECT));
        assert_eq!(t.run("COPY a a DB 1"), int(1));
        assert_eq!(t.run("COPY a b DB"), err(SYNTAX));
        assert_eq!(t.run("COPY a b foo"), err(SYNTAX));
        assert_eq!(t.run("COPY a b DB x"), err(NOT_INTEGER));
        assert_eq!(t.run("COPY a b DB 16"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("COPY a b DB -1"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(
            t.run("COPY a a DB 16"),
            err(DB_INDEX_OUT_OF_RANGE),
            "options first"
        );
        assert_eq!(
            t.run("COPY a b DB 4294967296"),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
        assert_eq!(t.run("COPY nope b DB x"), err(NOT_INTEGER));
        assert_eq!(
            t.run("COPY a"),
            err("ERR wrong number of arguments for 'copy' command")
        );
    }

    #[test]
    fn move_between_databases() {
        let mut t = T::new();
        t.run("SET a 1 EX 100");
        assert_eq!(t.run("MOVE a 1"), int(1));
        assert_eq!(t.run("EXISTS a"), int(0));
        t.run("SELECT 1");
        assert_eq!(t.run("TTL a"), int(100), "with its expiry");
        assert_eq!(t.run("GET a"), bulk("1"));
        t.run("SET b x");
        t.run("SELECT 0");
        t.run("SET b y");
        assert_eq!(t.run("MOVE b 1"), int(0), "taken there");
        assert_eq!(t.run("GET b"), bulk("y"));
        assert_eq!(t.run("MOVE nope 3"), int(0));
        assert_eq!(t.run("MOVE b 0"), err(SAME_OBJECT));
        assert_eq!(t.run("MOVE nope 0"), err(SAME_OBJECT));
        assert_eq!(t.run("MOVE b x"), err(NOT_INTEGER));
        assert_eq!(t.run("MOVE b 16"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("MOVE b -1"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(
            t.run("MOVE b 2147483648"),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
        t.run("SET gone v PX 10");
        t.now += 11;
        assert_eq!(t.run("MOVE gone 1"), int(0), "expired");
        t.run("SELECT 1");
        assert_eq!(t.run("EXISTS gone"), int(0));
    }

    #[test]
    fn watch_sees_copy_and_move() {
        let mut t = T::new();
        let aborted = |t: &mut T, prep: &[&str], watch_db: &str, change: &str| {
            t.run("FLUSHALL");
            t.run("SELECT 0");
            for p in prep {
                t.run(p);
            }
            t.run(&alloc::format!("SELECT {watch_db}"));
            t.run("WATCH k");
            t.run("SELECT 0");
            t.run(change);
            t.run("MULTI");
            t.run("PING");
            t.run("EXEC") == Reply::nil_array()
        };
        assert!(aborted(&mut t, &["SET s 1"], "0", "COPY s k"));
        assert!(aborted(&mut t, &["SET s 1"], "1", "COPY s k DB 1"));
        assert!(!aborted(&mut t, &["SET s 1", "SET k 2"], "0", "COPY s k"));
        assert!(aborted(&mut t, &["SET k 1"], "0", "MOVE k 1"), "the source");
        assert!(aborted(&mut t, &["SET k 1"], "1", "MOVE k 1"), "the target");
        assert!(!aborted(&mut t, &["SET k 1"], "0", "TOUCH k"));
    }

    #[test]
    fn touch_counts_and_is_an_access() {
        let mut t = T::new();
        t.run("MSET a 1 b 2");
        assert_eq!(t.run("TOUCH a b nope b"), int(3));
        t.run("SET gone v PX 10");
        t.now += 11;
        assert_eq!(t.run("TOUCH gone"), int(0));
        t.now += 5_000;
        assert_eq!(t.run("OBJECT IDLETIME a"), int(5));
        t.run("TOUCH a");
        assert_eq!(t.run("OBJECT IDLETIME a"), int(0));
        assert_eq!(t.run("OBJECT IDLETIME b"), int(5));
    }

    #[test]
    fn rename_keeps_value_and_ttl() {
        let mut t = T::new();
        assert_eq!(t.run("RENAME a b"), err(NO_SUCH_KEY));
        assert_eq!(t.run("RENAMENX a b"), err(NO_SUCH_KEY));
        t.run("SET a 1 EX 100");
        t.run("SET b 2");
        assert_eq!(t.run("RENAME a a"), ok());
        assert_eq!(t.run("RENAMENX a a"), int(0));
        assert_eq!(t.run("RENAMENX a b"), int(0));
        assert_eq!(t.run("RENAME a b"), ok());
        assert_eq!(t.run("GET b"), bulk("1"));
        assert_eq!(t.run("TTL b"), int(100));
        assert_eq!(t.run("EXISTS a"), int(0));
        assert_eq!(t.run("RENAMENX b c"), int(1));
        assert_eq!(t.run("TTL c"), int(100));
        t.run("RPUSH l x y");
        assert_eq!(t.run("RENAME l c"), ok());
        assert_eq!(t.run("TTL c"), int(-1), "the source had no TTL");
        assert_eq!(t.run("LRANGE c 0 -1"), arr(&["x", "y"]));
    }

    #[test]
    fn keys_glob() {
        let mut t = T::new();
        t.run("MSET hello 1 hallo 2 hxllo 3 hllo 4 heeeello 5 a*b 6");
        assert_eq!(sorted(t.run("KEYS h?llo")), ["hallo", "hello", "hxllo"]);
        assert_eq!(
            sorted(t.run("KEYS h*llo")),
            ["hallo", "heeeello", "hello", "hllo", "hxllo"]
        );
        assert_eq!(sorted(t.run("KEYS h[ae]llo")), ["hallo", "hello"]);
        assert_eq!(sorted(t.run("KEYS h[^e]llo")), ["hallo", "hxllo"]);
        assert_eq!(sorted(t.run("KEYS h[a-b]llo")), ["hallo"]);
        assert_eq!(sorted(t.run("KEYS a\\*b")), ["a*b"]);
        assert_eq!(sorted(t.run("KEYS *")).len(), 6);
        t.argv(&[b"SET", b"", b"empty"]);
        assert_eq!(sorted(t.run("KEYS *")).len(), 7, "the empty key too");
        t.argv(&[b"DEL", b""]);
        t.run("SET gone x PX 10");
        t.now += 11;
        assert_eq!(sorted(t.run("KEYS g*")), Vec::<String>::new());
    }

    fn scan_all(t: &mut T, extra: &str) -> Vec<String> {
        let mut cursor = String::from("0");
        let mut out = Vec::new();
        loop {
            let r = t.run(&alloc::format!("SCAN {cursor} {extra}"));
            let Reply::Array(Some(mut parts)) = r else {
                panic!("{r:?}")
            };
            let items = parts.pop().unwrap();
            let Reply::Bulk(Some(c)) = parts.pop().unwrap() else {
                panic!()
            };
            out.extend(strings(items));
            cursor = String::from_utf8(c).unwrap();
            if cursor == "0" {
                break;
            }
        }
        out.sort();
        out
    }

    #[test]
    fn scan_covers_everything_once() {
        let mut t = T::new();
        for i in 0..57 {
            t.run(&alloc::format!("SET key:{i} v"));
        }
        t.run("RPUSH list a");
        let all = scan_all(&mut t, "COUNT 5");
        assert_eq!(all.len(), 58);
        let mut dedup = all.clone();
        dedup.dedup();
        assert_eq!(dedup, all);
        assert_eq!(scan_all(&mut t, "MATCH key:1*").len(), 11);
        assert_eq!(scan_all(&mut t, "TYPE list"), ["list"]);
        assert_eq!(scan_all(&mut t, "TYPE LIST COUNT 1000"), ["list"]);
        assert_eq!(t.run("SCAN x"), err(INVALID_CURSOR));
        assert_eq!(t.run("SCAN -1"), err(INVALID_CURSOR));
        assert_eq!(t.run("SCAN 0 COUNT 0"), err(SYNTAX));
        assert_eq!(t.run("SCAN 0 COUNT"), err(SYNTAX));
        assert_eq!(t.run("SCAN 0 BOGUS 1"), err(SYNTAX));
        assert_eq!(
            t.run("SCAN 0 TYPE nope"),
            err("ERR unknown type name 'nope'")
        );
        // A huge COUNT finishes in one call.
        let r = t.run("SCAN 0 COUNT 1000");
        let Reply::Array(Some(parts)) = r else {
            panic!()
        };
        assert_eq!(parts[0], bulk("0"));
    }

    #[test]
    fn scan_survives_deletes_during_iteration() {
        let mut t = T::new();
        for i in 0..40 {
            t.run(&alloc::format!("SET k{i} v"));
        }
        let mut cursor = String::from("0");
        let mut seen = Vec::new();
        let mut round = 0;
        loop {
            let r = t.run(&alloc::format!("SCAN {cursor} COUNT 4"));
            let Reply::Array(Some(mut parts)) = r else {
                panic!()
            };
            seen.extend(strings(parts.pop().unwrap()));
            let Reply::Bulk(Some(c)) = parts.pop().unwrap() else {
                panic!()
            };
            cursor = String::from_utf8(c).unwrap();
            // Delete keys 30..40 and add new ones as we go.
            t.run(&alloc::format!("DEL k{}", 30 + round % 10));
            t.run(&alloc::format!("SET new{round} v"));
            round += 1;
            if cursor == "0" {
                break;
            }
        }
        for i in 0..30 {
            let k = alloc::format!("k{i}");
            assert_eq!(seen.iter().filter(|s| **s == k).count(), 1, "{k}");
        }
    }

    #[test]
    fn randomkey_is_deterministic() {
        let mut t = T::new();
        assert_eq!(t.run("RANDOMKEY"), nil());
        t.run("MSET a 1 b 2 c 3");
        let mut u = T::new();
        u.run("MSET a 1 b 2 c 3");
        let mut seen = Vec::new();
        for _ in 0..50 {
            let r = t.run("RANDOMKEY");
            assert_eq!(r, u.run("RANDOMKEY"));
            seen.push(r);
        }
        for k in ["a", "b", "c"] {
            assert!(seen.contains(&bulk(k)));
        }
        t.run("FLUSHDB");
        t.run("SET x 1 PX 5");
        t.now += 6;
        assert_eq!(t.run("RANDOMKEY"), nil());
    }
}
