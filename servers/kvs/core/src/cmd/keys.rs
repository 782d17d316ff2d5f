//! Key-space commands: DEL, EXISTS, TYPE, RENAME, KEYS, SCAN, RANDOMKEY,
//! OBJECT.

use crate::cmd::scan::{self, Family};
use crate::cmd::{is, server};
use crate::db::{Db, tri};
use crate::glob;
use crate::memory::Tracking;
use crate::reply::{NO_SUCH_KEY, Reply};
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

/// TYPE key (not an access, as in Redis)
pub(crate) fn type_(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    Reply::simple(
        cx.db()
            .entry(a[1], now)
            .map_or("none", |e| e.value.type_name()),
    )
}

/// Redis's words for OBJECT FREQ and IDLETIME under the other family of
/// policies.
const NOT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const NOT_LRU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// OBJECT FREQ key | OBJECT IDLETIME key | OBJECT HELP (neither is an
/// access)
pub(crate) fn object(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = a[1];
    if is(sub, "help") && a.len() == 2 {
        return Reply::array(
            [
                "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "FREQ <key>",
                "    Return the access frequency index of the <key>: the logarithm of how",
                "    often it was used lately (LFU policies only).",
                "IDLETIME <key>",
                "    Return the seconds since the <key> was last used (LRU and other",
                "    policies).",
                "HELP",
                "    Print this help.",
            ]
            .into_iter()
            .map(Reply::simple)
            .collect(),
        );
    }
    let (freq, name) = if is(sub, "freq") {
        (true, "object|freq")
    } else if is(sub, "idletime") {
        (false, "object|idletime")
    } else {
        return server::unknown_subcommand(sub, "OBJECT");
    };
    if a.len() != 3 {
        return Reply::arity(name);
    }
    let now = cx.now;
    let lfu = cx.memory.limits.policy.is_lfu();
    let tracking = cx.memory.limits.tracking();
    let Some(entry) = cx.db().entry(a[2], now) else {
        return Reply::nil();
    };
    match (freq, lfu) {
        (true, true) => Reply::Integer(i64::from(tracking.frequency(entry.access, now))),
        (false, false) => Reply::Integer(i64::from(Tracking::idle_seconds(entry.access, now))),
        (true, false) => Reply::error(NOT_LFU),
        (false, true) => Reply::error(NOT_LRU),
    }
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
    let (now, room, budget) = (cx.now, cx.room, cx.reply);
    let db = cx.db();
    let state = db.state;
    tri!(scan::working_room(room, db.len()));
    let (batch, next) = scan::select(
        &state,
        db.entries()
            .filter(|(_, e)| !Db::is_expired(e, now))
            .map(|(k, e)| (k.as_slice(), (k, e.value.type_name()))),
        cursor,
        opts.count,
    );
    tri!(budget.take_all(batch.iter().map(|(k, _)| k.as_slice())));
    let items = batch
        .into_iter()
        .filter(|(k, t)| opts.matches(k) && opts.type_name.is_none_or(|want| want == *t))
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
