//! Connection and server commands: PING, ECHO, SELECT, DBSIZE, FLUSHDB,
//! FLUSHALL, SWAPDB, and CONFIG for the store's parameters.

use alloc::format;
use alloc::string::String;

use crate::cmd::{is, two_dbs};
use crate::db::tri;
use crate::num;
use crate::reply::{DB_INDEX_OUT_OF_RANGE, NOT_INTEGER, Reply, SYNTAX};
use crate::store::{Ctx, DATABASES};

/// PING [message]
pub(crate) fn ping(_cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    match a.len() {
        1 => Reply::simple("PONG"),
        2 => Reply::bulk(a[1]),
        _ => Reply::arity("ping"),
    }
}

/// ECHO message
pub(crate) fn echo(_cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    Reply::bulk(a[1])
}

/// SELECT index
pub(crate) fn select(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let Some(i) = num::parse_i64(a[1]).filter(|v| i32::try_from(*v).is_ok()) else {
        return Reply::error(NOT_INTEGER);
    };
    match usize::try_from(i) {
        Ok(i) if i < DATABASES => {
            cx.db = i;
            Reply::ok()
        }
        _ => Reply::error(DB_INDEX_OUT_OF_RANGE),
    }
}

/// DBSIZE
pub(crate) fn dbsize(cx: &mut Ctx<'_>, _a: &[&[u8]]) -> Reply {
    Reply::Integer(cx.db().len() as i64)
}

fn flush_mode_ok(a: &[&[u8]]) -> bool {
    a.len() == 1 || (a.len() == 2 && (is(a[1], "sync") || is(a[1], "async")))
}

/// SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE and DEBUG: the kvs server
/// answers them (compacting its log; refusing DEBUG, or faulting) before
/// the store sees them; what reaches the store is one queued inside MULTI
/// and run by EXEC, which the store cannot do.
pub(crate) fn log_command(_cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let name = alloc::string::String::from_utf8_lossy(a[0]).to_ascii_uppercase();
    Reply::Error(alloc::format!(
        "ERR {name} runs outside MULTI only: the kvs server answers it, and a transaction is the store's"
    ))
}

/// FLUSHDB [ASYNC|SYNC]
pub(crate) fn flushdb(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if !flush_mode_ok(a) {
        return Reply::error(SYNTAX);
    }
    cx.db().flush();
    Reply::ok()
}

/// FLUSHALL [ASYNC|SYNC]
pub(crate) fn flushall(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    if !flush_mode_ok(a) {
        return Reply::error(SYNTAX);
    }
    for db in cx.dbs.iter_mut() {
        db.flush();
    }
    Reply::ok()
}

/// SWAPDB index1 index2: the two databases trade their keys (sessions
/// stay on their index; WATCHed keys that exist in either are touched).
pub(crate) fn swapdb(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let index = |arg: &[u8], which: &str| {
        num::parse_i64(arg)
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or_else(|| Reply::Error(format!("ERR invalid {which} DB index")))
    };
    let i = tri!(index(a[1], "first"));
    let j = tri!(index(a[2], "second"));
    let (Ok(i), Ok(j)) = (usize::try_from(i), usize::try_from(j)) else {
        return Reply::error(DB_INDEX_OUT_OF_RANGE);
    };
    if i >= DATABASES || j >= DATABASES {
        return Reply::error(DB_INDEX_OUT_OF_RANGE);
    }
    if i != j {
        let (x, y) = two_dbs(cx.dbs, i, j);
        x.swap_keys(y);
    }
    Reply::ok()
}

/// `ERR unknown subcommand '<sub>'. Try <COMMAND> HELP.`
pub(crate) fn unknown_subcommand(sub: &[u8], command: &str) -> Reply {
    let mut msg = String::from("ERR unknown subcommand '");
    msg.push_str(&String::from_utf8_lossy(&sub[..sub.len().min(128)]));
    msg.push_str("'. Try ");
    msg.push_str(command);
    msg.push_str(" HELP.");
    Reply::Error(msg)
}

/// CONFIG GET pattern [pattern ...] | CONFIG SET name value [name value ...]
/// for the store's parameters ([`crate::config::STORE`]); a front end
/// answers the rest of CONFIG.
pub(crate) fn config(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = a[1];
    if is(sub, "get") {
        if a.len() < 3 {
            return Reply::arity("config|get");
        }
        let found = cx.config.matching(&a[2..]);
        Reply::bulks(found.iter().flat_map(|(n, v)| [n.as_bytes(), v.as_bytes()]))
    } else if is(sub, "set") {
        if a.len() < 4 {
            return Reply::arity("config|set");
        }
        match cx.config.set_all(&a[2..]) {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::Error(String::from_utf8_lossy(&e.message()).into_owned()),
        }
    } else {
        unknown_subcommand(sub, "CONFIG")
    }
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;

    #[test]
    fn ping_echo() {
        let mut t = T::new();
        assert_eq!(t.run("PING"), simple("PONG"));
        assert_eq!(t.run("ping hi"), bulk("hi"));
        assert_eq!(
            t.run("PING a b"),
            err("ERR wrong number of arguments for 'ping' command")
        );
        assert_eq!(t.run("ECHO x"), bulk("x"));
    }

    #[test]
    fn select_and_databases() {
        let mut t = T::new();
        t.run("SET k zero");
        assert_eq!(t.run("SELECT 1"), ok());
        assert_eq!(t.s.db(), 1);
        assert_eq!(t.run("GET k"), nil());
        t.run("SET k one");
        assert_eq!(t.run("DBSIZE"), int(1));
        assert_eq!(t.run("SELECT 16"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("SELECT -1"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("SELECT x"), err(NOT_INTEGER));
        assert_eq!(t.run("SELECT 4294967296"), err(NOT_INTEGER));
        assert_eq!(t.run("SELECT 15"), ok());
        assert_eq!(t.run("SELECT 0"), ok());
        assert_eq!(t.run("GET k"), bulk("zero"));
        assert_eq!(t.run("FLUSHDB"), ok());
        assert_eq!(t.run("DBSIZE"), int(0));
        t.run("SELECT 1");
        assert_eq!(t.run("GET k"), bulk("one"));
        assert_eq!(t.run("FLUSHDB BOGUS"), err(SYNTAX));
        assert_eq!(t.run("FLUSHALL ASYNC extra"), err(SYNTAX));
        t.run("SELECT 0");
        t.run("SET k again");
        assert_eq!(t.run("FLUSHALL sync"), ok());
        assert_eq!(t.run("DBSIZE"), int(0));
        t.run("SELECT 1");
        assert_eq!(t.run("DBSIZE"), int(0));
    }

    #[test]
    fn swapdb_trades_keys() {
        let mut t = T::new();
        t.run("SET a zero EX 100");
        t.run("SELECT 1");
        t.run("SET b one");
        assert_eq!(t.run("SWAPDB 0 1"), ok());
        assert_eq!(t.s.db(), 1, "the session stays on its index");
        assert_eq!(t.run("GET a"), bulk("zero"));
        assert_eq!(t.run("TTL a"), int(100), "expiries come along");
        assert_eq!(t.run("EXISTS b"), int(0));
        t.run("SELECT 0");
        assert_eq!(t.run("GET b"), bulk("one"));
        assert_eq!(t.run("DBSIZE"), int(1));
        assert_eq!(t.run("SWAPDB 1 0"), ok());
        assert_eq!(t.run("GET b"), nil());
        assert_eq!(t.run("GET a"), bulk("zero"));
        assert_eq!(t.run("SWAPDB 3 3"), ok());
        assert_eq!(t.run("SWAPDB 0 15"), ok());
        assert_eq!(t.run("DBSIZE"), int(0));
        // An expired key moves, and expires, with its database.
        t.run("SELECT 15");
        assert_eq!(t.run("TTL a"), int(100));
        t.now += 100_001;
        assert_eq!(t.run("EXISTS a"), int(0));
        assert_eq!(t.run("SWAPDB x 0"), err("ERR invalid first DB index"));
        assert_eq!(t.run("SWAPDB x y"), err("ERR invalid first DB index"));
        assert_eq!(t.run("SWAPDB 0 x"), err("ERR invalid second DB index"));
        assert_eq!(t.run("SWAPDB 16 x"), err("ERR invalid second DB index"));
        assert_eq!(
            t.run("SWAPDB 4294967296 0"),
            err("ERR invalid first DB index")
        );
        assert_eq!(t.run("SWAPDB 0 16"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(t.run("SWAPDB -1 0"), err(DB_INDEX_OUT_OF_RANGE));
        assert_eq!(
            t.run("SWAPDB 0"),
            err("ERR wrong number of arguments for 'swapdb' command")
        );
    }

    #[test]
    fn swapdb_touches_watched_keys_in_either() {
        let mut t = T::new();
        let aborted = |t: &mut T, db0: &str, db1: &str, swap: &str| {
            t.run("FLUSHALL");
            t.run("SELECT 1");
            if !db1.is_empty() {
                t.run(&alloc::format!("SET {db1} 1"));
            }
            t.run("SELECT 0");
            if !db0.is_empty() {
                t.run(&alloc::format!("SET {db0} 1"));
            }
            t.run("WATCH a");
            t.run(swap);
            t.run("MULTI");
            t.run("PING");
            t.run("EXEC") == Reply::nil_array()
        };
        assert!(aborted(&mut t, "a", "b", "SWAPDB 0 1"), "it was here");
        assert!(aborted(&mut t, "", "a", "SWAPDB 0 1"), "it comes here");
        assert!(!aborted(&mut t, "", "c", "SWAPDB 0 1"), "in neither");
        assert!(!aborted(&mut t, "a", "", "SWAPDB 1 2"), "another pair");
        assert!(!aborted(&mut t, "a", "", "SWAPDB 0 0"), "no swap");
    }

    #[test]
    fn unknown_commands() {
        let mut t = T::new();
        assert_eq!(
            t.run("FOO a b"),
            err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
        );
        assert_eq!(
            t.run("foo"),
            err("ERR unknown command 'foo', with args beginning with: ")
        );
        let r = t.store.execute(&mut t.s, &[], 0);
        assert!(r.is_error());
    }
}
