//! The command table and the helpers the command families share.

use alloc::vec::Vec;

use crate::num;
use crate::reply::{NOT_FLOAT, NOT_INTEGER, Reply};
use crate::store::Ctx;

pub(crate) mod expire;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lists;
pub(crate) mod scan;
pub(crate) mod server;
pub(crate) mod sets;
pub(crate) mod strings;
pub(crate) mod zsets;

#[cfg(test)]
pub(crate) mod testutil;

/// A command handler: the context and the whole argument vector.
pub(crate) type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> Reply;

/// What running a command means.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    /// An ordinary command, queued inside MULTI.
    Normal(Handler),
    Multi,
    Exec,
    Discard,
    Watch,
    /// Queued inside MULTI like an ordinary command.
    Unwatch,
}

/// One entry of the command table.
pub(crate) struct Command {
    /// The lowercase name (also the one arity errors quote).
    pub(crate) name: &'static str,
    /// Redis's arity: `n > 0` exactly n arguments (name included), `n < 0`
    /// at least -n.
    pub(crate) arity: i32,
    pub(crate) kind: Kind,
    /// It may change data (what a full disk refuses).
    pub(crate) writes: bool,
    /// It may grow the data (Redis's `denyoom`: refused when out of
    /// memory).
    pub(crate) denyoom: bool,
    /// It may change the store's parameters (`CONFIG SET`).
    pub(crate) configures: bool,
}

impl Command {
    pub(crate) fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let a = i64::from(self.arity);
        if a >= 0 { argc == a } else { argc >= -a }
    }
}

/// A command of `kind` that neither changes data nor configures.
const fn other(name: &'static str, arity: i32, kind: Kind) -> Command {
    Command {
        name,
        arity,
        kind,
        writes: false,
        denyoom: false,
        configures: false,
    }
}

/// A command that only reads.
const fn r(name: &'static str, arity: i32, h: Handler) -> Command {
    other(name, arity, Kind::Normal(h))
}

/// A command that may change data but not grow it (deletions, expiry).
const fn c(name: &'static str, arity: i32, h: Handler) -> Command {
    Command {
        writes: true,
        ..r(name, arity, h)
    }
}

/// A command that may grow the data.
const fn g(name: &'static str, arity: i32, h: Handler) -> Command {
    Command {
        denyoom: true,
        ..c(name, arity, h)
    }
}

/// Every command, sorted by name (a test checks the order).
static COMMANDS: &[Command] = &[
    g("append", 3, strings::append),
    Command {
        configures: true,
        ..r("config", -2, server::config)
    },
    r("dbsize", 1, server::dbsize),
    g("decr", 2, strings::decr),
    g("decrby", 3, strings::decrby),
    c("del", -2, keys::del),
    other("discard", 1, Kind::Discard),
    r("echo", 2, server::echo),
    Command {
        writes: true,
        ..other("exec", 1, Kind::Exec)
    },
    r("exists", -2, keys::exists),
    c("expire", -3, expire::expire),
    c("expireat", -3, expire::expireat),
    r("expiretime", 2, expire::expiretime),
    c("flushall", -1, server::flushall),
    c("flushdb", -1, server::flushdb),
    r("get", 2, strings::get),
    c("getdel", 2, strings::getdel),
    c("getex", -2, strings::getex),
    r("getrange", 4, strings::getrange),
    g("getset", 3, strings::getset),
    c("hdel", -3, hashes::hdel),
    r("hexists", 3, hashes::hexists),
    r("hget", 3, hashes::hget),
    r("hgetall", 2, hashes::hgetall),
    g("hincrby", 4, hashes::hincrby),
    g("hincrbyfloat", 4, hashes::hincrbyfloat),
    r("hkeys", 2, hashes::hkeys),
    r("hlen", 2, hashes::hlen),
    r("hmget", -3, hashes::hmget),
    g("hmset", -4, hashes::hmset),
    r("hscan", -3, hashes::hscan),
    g("hset", -4, hashes::hset),
    g("hsetnx", 4, hashes::hsetnx),
    r("hstrlen", 3, hashes::hstrlen),
    r("hvals", 2, hashes::hvals),
    g("incr", 2, strings::incr),
    g("incrby", 3, strings::incrby),
    g("incrbyfloat", 3, strings::incrbyfloat),
    r("keys", 2, keys::keys),
    r("lindex", 3, lists::lindex),
    g("linsert", 5, lists::linsert),
    r("llen", 2, lists::llen),
    g("lmove", 5, lists::lmove),
    c("lpop", -2, lists::lpop),
    r("lpos", -3, lists::lpos),
    g("lpush", -3, lists::lpush),
    g("lpushx", -3, lists::lpushx),
    r("lrange", 4, lists::lrange),
    c("lrem", 4, lists::lrem),
    g("lset", 4, lists::lset),
    c("ltrim", 4, lists::ltrim),
    r("mget", -2, strings::mget),
    g("mset", -3, strings::mset),
    g("msetnx", -3, strings::msetnx),
    other("multi", 1, Kind::Multi),
    r("object", -2, keys::object),
    c("persist", 2, expire::persist),
    c("pexpire", -3, expire::pexpire),
    c("pexpireat", -3, expire::pexpireat),
    r("pexpiretime", 2, expire::pexpiretime),
    r("ping", -1, server::ping),
    g("psetex", 4, strings::psetex),
    r("pttl", 2, expire::pttl),
    r("randomkey", 1, keys::randomkey),
    c("rename", 3, keys::rename),
    c("renamenx", 3, keys::renamenx),
    c("rpop", -2, lists::rpop),
    g("rpoplpush", 3, lists::rpoplpush),
    g("rpush", -3, lists::rpush),
    g("rpushx", -3, lists::rpushx),
    g("sadd", -3, sets::sadd),
    r("scan", -2, keys::scan),
    r("scard", 2, sets::scard),
    r("sdiff", -2, sets::sdiff),
    g("sdiffstore", -3, sets::sdiffstore),
    r("select", 2, server::select),
    g("set", -3, strings::set),
    g("setex", 4, strings::setex),
    g("setnx", 3, strings::setnx),
    g("setrange", 4, strings::setrange),
    r("sinter", -2, sets::sinter),
    g("sinterstore", -3, sets::sinterstore),
    r("sismember", 3, sets::sismember),
    r("smembers", 2, sets::smembers),
    r("smismember", -3, sets::smismember),
    c("smove", 4, sets::smove),
    c("spop", -2, sets::spop),
    r("srandmember", -2, sets::srandmember),
    c("srem", -3, sets::srem),
    r("sscan", -3, sets::sscan),
    r("strlen", 2, strings::strlen),
    r("substr", 4, strings::getrange),
    r("sunion", -2, sets::sunion),
    g("sunionstore", -3, sets::sunionstore),
    r("ttl", 2, expire::ttl),
    r("type", 2, keys::type_),
    c("unlink", -2, keys::del),
    other("unwatch", 1, Kind::Unwatch),
    other("watch", -2, Kind::Watch),
    g("zadd", -4, zsets::zadd),
    r("zcard", 2, zsets::zcard),
    r("zcount", 4, zsets::zcount),
    g("zincrby", 4, zsets::zincrby),
    r("zlexcount", 4, zsets::zlexcount),
    r("zmscore", -3, zsets::zmscore),
    c("zpopmax", -2, zsets::zpopmax),
    c("zpopmin", -2, zsets::zpopmin),
    r("zrange", -4, zsets::zrange),
    r("zrangebylex", -4, zsets::zrangebylex),
    r("zrangebyscore", -4, zsets::zrangebyscore),
    r("zrank", -3, zsets::zrank),
    c("zrem", -3, zsets::zrem),
    r("zrevrange", -4, zsets::zrevrange),
    r("zrevrangebylex", -4, zsets::zrevrangebylex),
    r("zrevrangebyscore", -4, zsets::zrevrangebyscore),
    r("zrevrank", -3, zsets::zrevrank),
    r("zscan", -3, zsets::zscan),
    r("zscore", 3, zsets::zscore),
];

/// Finds a command by name, case-insensitively.
/// Whether the command `name` may change data (EXEC counts: its queue
/// may); false for read-only, transaction-control and unknown commands.
///
/// ```
/// assert!(kvs_core::writes(b"set"));
/// assert!(kvs_core::writes(b"EXEC"));
/// assert!(!kvs_core::writes(b"GET"));
/// assert!(!kvs_core::writes(b"nope"));
/// ```
pub fn writes(name: &[u8]) -> bool {
    lookup(name).is_some_and(|c| c.writes)
}

pub(crate) fn lookup(name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 24];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    COMMANDS
        .binary_search_by(|c| c.name.as_bytes().cmp(lower))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// Case-insensitive comparison of an argument with an option word.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// Parses an integer argument (`ERR value is not an integer or out of range`).
pub(crate) fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    num::parse_i64(arg).ok_or_else(|| Reply::error(NOT_INTEGER))
}

/// Parses a float argument (`ERR value is not a valid float`).
pub(crate) fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    num::parse_f64(arg).ok_or_else(|| Reply::error(NOT_FLOAT))
}

/// Resolves a Redis `start`/`end` index pair against a length: negative
/// indexes count from the end; `None` when the range is empty.
pub(crate) fn index_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        start.saturating_add(len)
    } else {
        start
    };
    let mut end = if end < 0 {
        end.saturating_add(len)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// The bulk-string array of owned byte strings.
pub(crate) fn bulk_array(items: Vec<Vec<u8>>) -> Reply {
    Reply::array(items.into_iter().map(|b| Reply::Bulk(Some(b))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for c in COMMANDS {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(lookup(c.name.as_bytes()).is_some());
        }
        assert!(lookup(b"GeT").is_some());
        assert!(lookup(b"nope").is_none());
        assert!(lookup(&[b'a'; 40]).is_none());
    }

    #[test]
    fn ranges() {
        assert_eq!(index_range(0, -1, 3), Some((0, 2)));
        assert_eq!(index_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(index_range(2, 1, 3), None);
        assert_eq!(index_range(3, 5, 3), None);
        assert_eq!(index_range(0, -1, 0), None);
        assert_eq!(index_range(-1, -1, 3), Some((2, 2)));
        assert_eq!(index_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
    }
}
