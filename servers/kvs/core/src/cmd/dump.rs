//! DUMP and RESTORE: a value in Redis's serialization ([`crate::rdb`]).
//!
//! RESTORE is logged as itself (the append-only log runs it again on the
//! same state at the same time, so it makes the same key: a relative TTL
//! counts from the logged time).

use crate::cmd::{int_arg, is};
use crate::db::tri;
use crate::memory::OOM;
use crate::rdb::{self, PayloadError};
use crate::reply::{Reply, SYNTAX};
use crate::store::Ctx;

/// Redis's errors for a refused payload.
const BAD_FOOTER: &str = "ERR DUMP payload version or checksum are wrong";
const BAD_DATA: &str = "ERR Bad data format";
const BUSY_KEY: &str = "BUSYKEY Target key name already exists.";

/// DUMP key: the payload, or nil for a missing key (an access, as in
/// Redis).
pub(crate) fn dump(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let (now, room, budget) = (cx.now, cx.room, cx.reply);
    let db = cx.db();
    let thresholds = db.thresholds;
    let Some(value) = db.get(a[1], now) else {
        return Reply::nil();
    };
    // The payload is about the value's size: it must fit, and go out.
    let size = value.footprint();
    if !room.fits(size) {
        return Reply::error(OOM);
    }
    tri!(budget.take(size, 1));
    let value = value.clone();
    let enc = db.encoding(a[1]).unwrap_or(crate::encoding::Encoding::Raw);
    Reply::Bulk(Some(rdb::dump(&value, enc, &thresholds)))
}

/// RESTORE's options.
struct Options {
    replace: bool,
    absttl: bool,
    idle: Option<u64>,
    freq: Option<u8>,
}

/// The options after the payload, read as Redis reads them: IDLETIME
/// and FREQ exclude each other (the second is a syntax error).
fn options(args: &[&[u8]]) -> Result<Options, Reply> {
    let mut o = Options {
        replace: false,
        absttl: false,
        idle: None,
        freq: None,
    };
    let mut j = 0;
    while j < args.len() {
        let more = j + 1 < args.len();
        if is(args[j], "replace") {
            o.replace = true;
        } else if is(args[j], "absttl") {
            o.absttl = true;
        } else if is(args[j], "idletime") && more && o.freq.is_none() {
            let idle = int_arg(args[j + 1])?;
            let idle = u64::try_from(idle)
                .map_err(|_| Reply::error("ERR Invalid IDLETIME value, must be >= 0"))?;
            o.idle = Some(idle);
            j += 1;
        } else if is(args[j], "freq") && more && o.idle.is_none() {
            let freq = int_arg(args[j + 1])?;
            let freq = u8::try_from(freq)
                .map_err(|_| Reply::error("ERR Invalid FREQ value, must be >= 0 and <= 255"))?;
            o.freq = Some(freq);
            j += 1;
        } else {
            return Err(Reply::error(SYNTAX));
        }
        j += 1;
    }
    Ok(o)
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds]
/// [FREQ frequency], checked in Redis's order: options, an existing key,
/// the TTL, the footer, the value.
pub(crate) fn restore(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let o = tri!(options(&a[4..]));
    let (key, payload) = (a[1], a[3]);
    let (now, room) = (cx.now, cx.room);
    let tracking = cx.memory.limits.tracking();
    let db = cx.db();
    if !o.replace && db.exists(key, now) {
        return Reply::error(BUSY_KEY);
    }
    let ttl = tri!(int_arg(a[2]));
    if ttl < 0 {
        return Reply::error("ERR Invalid TTL value, must be >= 0");
    }
    let loaded =
        rdb::verify(payload).and_then(|()| rdb::load(payload, &db.thresholds, db.state, room));
    let (value, enc) = match loaded {
        Ok(v) => v,
        Err(PayloadError::Footer) => return Reply::error(BAD_FOOTER),
        Err(PayloadError::Format(_)) => return Reply::error(BAD_DATA),
        Err(PayloadError::Memory) => return Reply::error(OOM),
    };
    let expire_at = match ttl {
        0 => None,
        t if o.absttl => Some(t),
        t => Some(t.saturating_add(now)),
    };
    // Already past: nothing is made (a replaced key is gone all the same,
    // and that is a `del`).
    if expire_at.is_some_and(|t| t <= now) {
        if o.replace {
            db.delete(key);
        }
        return Reply::ok();
    }
    if o.replace {
        db.remove_quietly(key);
    }
    let mut entry = db.fresh_entry(value, enc);
    entry.expire_at = expire_at;
    entry.access = tracking.restored(now, o.idle, o.freq);
    db.put_entry(key, entry);
    Reply::ok()
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;
    use alloc::vec::Vec;

    /// DUMP of `key` as bytes.
    fn dump(t: &mut T, key: &str) -> Vec<u8> {
        match t.run(&alloc::format!("DUMP {key}")) {
            Reply::Bulk(Some(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    fn restore(t: &mut T, args: &[&[u8]]) -> Reply {
        let mut all: Vec<&[u8]> = alloc::vec![b"RESTORE"];
        all.extend_from_slice(args);
        t.argv(&all)
    }

    #[test]
    fn round_trips_every_type() {
        let mut t = T::new();
        t.run("SET s hello");
        t.run("RPUSH l a b 1");
        t.run("SADD i 1 2 3");
        t.run("SADD w x y");
        t.run("HSET h f v g w");
        t.run("ZADD z 1 a 2.5 b");
        for (key, read) in [
            ("s", "GET"),
            ("l", "LRANGE"),
            ("i", "SMEMBERS"),
            ("w", "SMEMBERS"),
            ("h", "HGETALL"),
            ("z", "ZRANGE"),
        ] {
            let payload = dump(&mut t, key);
            let copy = alloc::format!("{key}2");
            assert_eq!(restore(&mut t, &[copy.as_bytes(), b"0", &payload]), ok());
            let range = if matches!(read, "LRANGE" | "ZRANGE") {
                " 0 -1"
            } else {
                ""
            };
            assert_eq!(
                t.run(&alloc::format!("{read} {copy}{range}")),
                t.run(&alloc::format!("{read} {key}{range}")),
                "{key}"
            );
            assert_eq!(
                t.run(&alloc::format!("OBJECT ENCODING {copy}")),
                t.run(&alloc::format!("OBJECT ENCODING {key}"))
            );
        }
        assert_eq!(t.run("DUMP nope"), nil());
    }

    #[test]
    fn errors_in_redis_order() {
        let mut t = T::new();
        t.run("SET s hello");
        let payload = dump(&mut t, "s");
        assert_eq!(
            restore(&mut t, &[b"s", b"x", &payload]),
            err("BUSYKEY Target key name already exists."),
            "the key before the TTL"
        );
        assert_eq!(restore(&mut t, &[b"n", b"x", &payload]), err(NOT_INTEGER));
        assert_eq!(
            restore(&mut t, &[b"n", b"-1", &payload]),
            err("ERR Invalid TTL value, must be >= 0")
        );
        assert_eq!(
            restore(&mut t, &[b"s", b"0", &payload, b"FOO"]),
            err(SYNTAX)
        );
        assert_eq!(
            restore(
                &mut t,
                &[b"n", b"0", &payload, b"IDLETIME", b"1", b"FREQ", b"1"]
            ),
            err(SYNTAX)
        );
        assert_eq!(
            restore(&mut t, &[b"n", b"0", &payload, b"FREQ", b"256"]),
            err("ERR Invalid FREQ value, must be >= 0 and <= 255")
        );
        assert_eq!(
            restore(&mut t, &[b"n", b"0", &payload, b"IDLETIME", b"-1"]),
            err("ERR Invalid IDLETIME value, must be >= 0")
        );
        let mut bad = payload.clone();
        bad[1] ^= 1;
        assert_eq!(
            restore(&mut t, &[b"n", b"0", &bad]),
            err("ERR DUMP payload version or checksum are wrong")
        );
        assert_eq!(
            restore(
                &mut t,
                &[
                    b"n",
                    b"0",
                    b"\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00"
                ]
            ),
            err("ERR DUMP payload version or checksum are wrong")
        );
        assert_eq!(t.run("EXISTS n"), int(0));
    }

    #[test]
    fn ttl_replace_and_access() {
        let mut t = T::new();
        t.run("SET s hello");
        let payload = dump(&mut t, "s");
        assert_eq!(
            restore(&mut t, &[b"s", b"5000", &payload, b"REPLACE"]),
            ok()
        );
        assert_eq!(t.run("PTTL s"), int(5000));
        let past = alloc::format!("{}", t.now as i64 - 1);
        assert_eq!(
            restore(
                &mut t,
                &[b"s", past.as_bytes(), &payload, b"REPLACE", b"ABSTTL"]
            ),
            ok()
        );
        assert_eq!(
            t.run("EXISTS s"),
            int(0),
            "expired at once, the old one gone"
        );
        assert_eq!(
            restore(&mut t, &[b"s", b"0", &payload, b"IDLETIME", b"100"]),
            ok()
        );
        assert_eq!(t.run("OBJECT IDLETIME s"), int(100));
    }
}
