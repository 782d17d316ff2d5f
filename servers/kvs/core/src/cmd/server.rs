//! Connection and server commands: PING, ECHO, SELECT, DBSIZE, FLUSHDB,
//! FLUSHALL, and CONFIG for the store's parameters.

use alloc::string::String;

use crate::cmd::is;
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
