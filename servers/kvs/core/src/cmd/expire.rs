//! Expiry commands: EXPIRE family, TTL family, PERSIST.

use alloc::format;

use crate::cmd::{int_arg, is};
use crate::db::tri;
use crate::reply::Reply;
use crate::store::Ctx;

#[derive(Default)]
struct Flags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_flags(opts: &[&[u8]]) -> Result<Flags, Reply> {
    let mut f = Flags::default();
    for o in opts {
        if is(o, "nx") {
            f.nx = true;
        } else if is(o, "xx") {
            f.xx = true;
        } else if is(o, "gt") {
            f.gt = true;
        } else if is(o, "lt") {
            f.lt = true;
        } else {
            return Err(Reply::Error(format!(
                "ERR Unsupported option {}",
                alloc::string::String::from_utf8_lossy(o)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(Reply::error(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(Reply::error(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// The EXPIRE family: `base` is now for relative forms, 0 for *AT forms.
fn expire_generic(
    cx: &mut Ctx<'_>,
    a: &[&[u8]],
    relative: bool,
    seconds: bool,
    cmd: &str,
) -> Reply {
    let f = tri!(parse_flags(&a[3..]));
    let mut when = tri!(int_arg(a[2]));
    let now = cx.now;
    if seconds {
        if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
            return Reply::invalid_expire(cmd);
        }
        when *= 1000;
    }
    if relative {
        match when.checked_add(now) {
            Some(w) => when = w,
            None => return Reply::invalid_expire(cmd),
        }
    }
    let db = cx.db();
    let Some(current) = db.expiry(a[1], now) else {
        return Reply::Integer(0);
    };
    if (f.nx && current.is_some())
        || (f.xx && current.is_none())
        || (f.gt && current.is_none_or(|c| when <= c))
        || (f.lt && current.is_some_and(|c| when >= c))
    {
        return Reply::Integer(0);
    }
    if when <= now {
        db.delete(a[1]);
    } else {
        db.set_expire(a[1], when);
    }
    Reply::Integer(1)
}

/// EXPIRE key seconds [NX|XX|GT|LT]
pub(crate) fn expire(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    expire_generic(cx, a, true, true, "expire")
}

/// PEXPIRE key milliseconds [NX|XX|GT|LT]
pub(crate) fn pexpire(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    expire_generic(cx, a, true, false, "pexpire")
}

/// EXPIREAT key unix-seconds [NX|XX|GT|LT]
pub(crate) fn expireat(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    expire_generic(cx, a, false, true, "expireat")
}

/// PEXPIREAT key unix-ms [NX|XX|GT|LT]
pub(crate) fn pexpireat(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    expire_generic(cx, a, false, false, "pexpireat")
}

fn ttl_generic(cx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> Reply {
    let now = cx.now;
    match cx.db().expiry(key, now) {
        None => Reply::Integer(-2),
        Some(None) => Reply::Integer(-1),
        Some(Some(t)) => {
            let v = if absolute { t } else { (t - now).max(0) };
            Reply::Integer(if ms { v } else { (v + 500) / 1000 })
        }
    }
}

/// TTL key (seconds, rounded; -2 missing, -1 no expiry)
pub(crate) fn ttl(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    ttl_generic(cx, a[1], false, false)
}

/// PTTL key
pub(crate) fn pttl(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    ttl_generic(cx, a[1], true, false)
}

/// EXPIRETIME key (absolute unix seconds)
pub(crate) fn expiretime(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    ttl_generic(cx, a[1], false, true)
}

/// PEXPIRETIME key (absolute unix ms)
pub(crate) fn pexpiretime(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    ttl_generic(cx, a[1], true, true)
}

/// PERSIST key
pub(crate) fn persist(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let now = cx.now;
    let db = cx.db();
    if !db.exists(a[1], now) {
        return Reply::Integer(0);
    }
    Reply::Integer(i64::from(db.persist(a[1])))
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;

    #[test]
    fn expire_and_ttl() {
        let mut t = T::new();
        assert_eq!(t.run("TTL k"), int(-2));
        assert_eq!(t.run("PTTL k"), int(-2));
        assert_eq!(t.run("EXPIRETIME k"), int(-2));
        assert_eq!(t.run("EXPIRE k 10"), int(0));
        t.run("SET k v");
        assert_eq!(t.run("TTL k"), int(-1));
        assert_eq!(t.run("PEXPIRETIME k"), int(-1));
        assert_eq!(t.run("EXPIRE k 10"), int(1));
        assert_eq!(t.run("TTL k"), int(10));
        assert_eq!(t.run("PTTL k"), int(10_000));
        assert_eq!(t.run("EXPIRETIME k"), int(1010));
        assert_eq!(t.run("PEXPIRETIME k"), int(1_010_000));
        t.now += 9_499;
        assert_eq!(t.run("TTL k"), int(1), "rounded to the nearest second");
        t.now += 2;
        assert_eq!(t.run("TTL k"), int(0));
        t.now += 499;
        assert_eq!(t.run("PTTL k"), int(0), "alive at exactly its expiry time");
        t.now += 1;
        assert_eq!(t.run("PTTL k"), int(-2));
        assert_eq!(t.run("GET k"), nil());
    }

    #[test]
    fn variants_and_past_times() {
        let mut t = T::new();
        t.run("SET k v");
        assert_eq!(t.run("PEXPIRE k 1500"), int(1));
        assert_eq!(t.run("PTTL k"), int(1500));
        assert_eq!(t.run("EXPIREAT k 2000"), int(1));
        assert_eq!(t.run("PEXPIRETIME k"), int(2_000_000));
        assert_eq!(t.run("PEXPIREAT k 1000001"), int(1));
        assert_eq!(t.run("PTTL k"), int(1));
        // A time not after now deletes at once (and answers 1).
        assert_eq!(t.run("PEXPIREAT k 1000000"), int(1));
        assert_eq!(t.run("EXISTS k"), int(0));
        t.run("SET k v");
        assert_eq!(t.run("EXPIRE k -1"), int(1));
        assert_eq!(t.run("EXISTS k"), int(0));
        t.run("SET k v");
        assert_eq!(t.run("EXPIRE k 0"), int(1));
        assert_eq!(t.run("EXISTS k"), int(0));
    }

    #[test]
    fn options_and_errors() {
        let mut t = T::new();
        t.run("SET k v");
        assert_eq!(t.run("EXPIRE k 10 XX"), int(0));
        assert_eq!(t.run("EXPIRE k 10 GT"), int(0), "no TTL counts as infinite");
        assert_eq!(t.run("EXPIRE k 10 LT"), int(1));
        assert_eq!(t.run("EXPIRE k 20 NX"), int(0));
        assert_eq!(t.run("EXPIRE k 20 XX"), int(1));
        assert_eq!(t.run("EXPIRE k 30 LT"), int(0));
        assert_eq!(t.run("EXPIRE k 30 GT"), int(1));
        assert_eq!(t.run("EXPIRE k 20 GT"), int(0));
        assert_eq!(t.run("EXPIRE k 20 xx lt"), int(1));
        assert_eq!(t.run("TTL k"), int(20));
        assert_eq!(
            t.run("EXPIRE k 10 NX XX"),
            err("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            t.run("EXPIRE k 10 NX GT"),
            err("ERR NX and XX, GT or LT options at the same time are not compatible")
        );
        assert_eq!(
            t.run("EXPIRE k 10 GT LT"),
            err("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(t.run("EXPIRE k 10 FOO"), err("ERR Unsupported option FOO"));
        assert_eq!(t.run("EXPIRE k ten"), err(NOT_INTEGER));
        assert_eq!(
            t.run("EXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            t.run("PEXPIRE k 9223372036854775807"),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            t.run("EXPIREAT k -9223372036854775807"),
            err("ERR invalid expire time in 'expireat' command")
        );
        assert_eq!(t.run("PEXPIREAT k 9223372036854775807"), int(1));
        assert_eq!(
            t.run("EXPIRE k"),
            err("ERR wrong number of arguments for 'expire' command")
        );
    }

    #[test]
    fn persist() {
        let mut t = T::new();
        assert_eq!(t.run("PERSIST k"), int(0));
        t.run("SET k v");
        assert_eq!(t.run("PERSIST k"), int(0));
        t.run("EXPIRE k 100");
        assert_eq!(t.run("PERSIST k"), int(1));
        assert_eq!(t.run("TTL k"), int(-1));
        t.now += 200_000;
        assert_eq!(t.run("GET k"), bulk("v"));
    }

    #[test]
    fn active_expiry() {
        let mut t = T::new();
        for i in 0..10 {
            t.run(&alloc::format!("SET k{i} v PX {}", 10 + i));
        }
        t.run("SET forever v");
        t.run("SELECT 3");
        t.run("SET other v PX 5");
        assert_eq!(t.store.dbsize(0), 11);
        assert_eq!(t.store.active_expire(t.now + 14, 3), 3);
        assert_eq!(t.store.active_expire(t.now + 14, 100), 2);
        assert_eq!(t.store.dbsize(0), 7);
        assert_eq!(t.store.dbsize(3), 0);
        assert_eq!(t.store.active_expire(t.now + 1_000, 100), 6);
        assert_eq!(t.store.dbsize(0), 1);
        assert_eq!(t.store.active_expire(t.now + 1_000, 100), 0);
    }
}
