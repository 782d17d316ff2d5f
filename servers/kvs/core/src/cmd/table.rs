//! The store's command table: each command's row, with the handler that
//! runs it.

use super::{Handler, Kind, expire, hashes, keys, lists, server, sets, strings, zsets};
use crate::command::{Run, Spec};
use crate::spec;

/// An ordinary command, run by `handler` (queued inside MULTI).
const fn normal(handler: Handler) -> Option<Run> {
    Some(Run(Kind::Normal(handler)))
}

/// A command the store runs its own way.
const fn runs(kind: Kind) -> Option<Run> {
    Some(Run(kind))
}

/// CONFIG's subcommands. The store answers GET and SET for its own
/// parameters ([`crate::config::STORE`]); a front end answers the rest of
/// CONFIG, and these rows describe the command as its clients see it.
static CONFIG: &[Spec] = &[
    spec! {
        name: "config|get", arity: -3, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.0.0", run: None,
        summary: "Returns the parameters matching glob patterns, and their values.",
        syntax: "parameter...",
    },
    spec! {
        name: "config|help", arity: 2, flags: [Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "5.0.0", run: None,
        summary: "Lists the CONFIG subcommands.",
        syntax: "",
    },
    spec! {
        name: "config|resetstat", arity: 2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.0.0", run: None,
        summary: "Zeroes the counters INFO reports.",
        syntax: "",
    },
    spec! {
        name: "config|rewrite", arity: 2, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.8.0", run: None,
        summary: "Refused: there is no configuration file.",
        syntax: "",
    },
    spec! {
        name: "config|set", arity: -4, flags: [Admin, Noscript, Loading, Stale], keys: NONE,
        group: Server, since: "2.0.0", run: None,
        summary: "Sets parameters, all or none.",
        syntax: "(parameter value)...",
    },
];

/// OBJECT's subcommands ([`keys::object`] answers them).
static OBJECT: &[Spec] = &[
    spec! {
        name: "object|freq", arity: 3, flags: [Readonly], keys: SECOND,
        group: Generic, since: "4.0.0", run: None,
        summary: "Returns a key's logarithmic access frequency (LFU policies only).",
        syntax: "key",
    },
    spec! {
        name: "object|help", arity: 2, flags: [Loading, Stale], keys: NONE,
        group: Generic, since: "6.2.0", run: None,
        summary: "Lists the OBJECT subcommands.",
        syntax: "",
    },
    spec! {
        name: "object|idletime", arity: 3, flags: [Readonly], keys: SECOND,
        group: Generic, since: "2.2.3", run: None,
        summary: "Returns the seconds since a key was last used (not under LFU policies).",
        syntax: "key",
    },
];

/// Every command the store runs, sorted by name (a test checks the
/// order).
pub static COMMANDS: &[Spec] = &[
    spec! {
        name: "append", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "2.0.0", run: normal(strings::append),
        summary: "Appends a string to a key's value, creating the key if needed.",
        syntax: "key value",
    },
    spec! {
        name: "config", arity: -2, flags: [], keys: NONE,
        group: Server, since: "2.0.0", run: runs(Kind::Configure(server::config)),
        summary: "Reads and changes parameters.",
        syntax: "",
        subcommands: CONFIG,
    },
    spec! {
        name: "dbsize", arity: 1, flags: [Readonly, Fast], keys: NONE,
        group: Server, since: "1.0.0", run: normal(server::dbsize),
        summary: "Returns the number of keys in the selected database.",
        syntax: "",
    },
    spec! {
        name: "decr", arity: 2, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::decr),
        summary: "Decrements a key's integer value by one.",
        syntax: "key",
    },
    spec! {
        name: "decrby", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::decrby),
        summary: "Decrements a key's integer value by a number.",
        syntax: "key decrement:integer",
    },
    spec! {
        name: "del", arity: -2, flags: [Write], keys: ALL,
        group: Generic, since: "1.0.0", run: normal(keys::del),
        summary: "Deletes keys.",
        syntax: "key...",
    },
    spec! {
        name: "discard", arity: 1, flags: [Noscript, Loading, Stale, Fast, AllowBusy], keys: NONE,
        group: Transactions, since: "2.0.0", run: runs(Kind::Discard),
        summary: "Drops the queued commands of a transaction.",
        syntax: "",
    },
    spec! {
        name: "echo", arity: 2, flags: [Fast], keys: NONE,
        group: Connection, since: "1.0.0", run: normal(server::echo),
        summary: "Returns its argument.",
        syntax: "message",
    },
    spec! {
        name: "exec", arity: 1, flags: [Noscript, Loading, Stale, SkipSlowlog], keys: NONE,
        group: Transactions, since: "1.2.0", run: runs(Kind::Exec),
        summary: "Runs the queued commands of a transaction.",
        syntax: "",
    },
    spec! {
        name: "exists", arity: -2, flags: [Readonly, Fast], keys: ALL,
        group: Generic, since: "1.0.0", run: normal(keys::exists),
        summary: "Counts how many of the keys exist.",
        syntax: "key...",
    },
    spec! {
        name: "expire", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Generic, since: "1.0.0", run: normal(expire::expire),
        summary: "Sets a key's time to live in seconds.",
        syntax: "key seconds:integer [NX|XX|GT|LT]",
    },
    spec! {
        name: "expireat", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Generic, since: "1.2.0", run: normal(expire::expireat),
        summary: "Sets a key's expiry as a Unix time in seconds.",
        syntax: "key unix-time-seconds:unix-time [NX|XX|GT|LT]",
    },
    spec! {
        name: "expiretime", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Generic, since: "7.0.0", run: normal(expire::expiretime),
        summary: "Returns a key's expiry as a Unix time in seconds.",
        syntax: "key",
    },
    spec! {
        name: "flushall", arity: -1, flags: [Write], keys: NONE,
        group: Server, since: "1.0.0", run: normal(server::flushall),
        summary: "Deletes the keys of every database.",
        syntax: "[ASYNC|SYNC]",
    },
    spec! {
        name: "flushdb", arity: -1, flags: [Write], keys: NONE,
        group: Server, since: "1.0.0", run: normal(server::flushdb),
        summary: "Deletes the keys of the selected database.",
        syntax: "[ASYNC|SYNC]",
    },
    spec! {
        name: "get", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::get),
        summary: "Returns a key's string value.",
        syntax: "key",
    },
    spec! {
        name: "getdel", arity: 2, flags: [Write, Fast], keys: ONE,
        group: String, since: "6.2.0", run: normal(strings::getdel),
        summary: "Returns a key's string value and deletes the key.",
        syntax: "key",
    },
    spec! {
        name: "getex", arity: -2, flags: [Write, Fast], keys: ONE,
        group: String, since: "6.2.0", run: normal(strings::getex),
        summary: "Returns a key's string value and changes its expiry.",
        syntax: "key [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|PERSIST]",
    },
    spec! {
        name: "getrange", arity: 4, flags: [Readonly], keys: ONE,
        group: String, since: "2.4.0", run: normal(strings::getrange),
        summary: "Returns a substring of a key's value.",
        syntax: "key start:integer end:integer",
    },
    spec! {
        name: "getset", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::getset),
        summary: "Sets a key's value and returns the old one.",
        syntax: "key value",
    },
    spec! {
        name: "hdel", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hdel),
        summary: "Deletes fields of a hash.",
        syntax: "key field...",
    },
    spec! {
        name: "hexists", arity: 3, flags: [Readonly, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hexists),
        summary: "Tells whether a hash field exists.",
        syntax: "key field",
    },
    spec! {
        name: "hget", arity: 3, flags: [Readonly, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hget),
        summary: "Returns a hash field's value.",
        syntax: "key field",
    },
    spec! {
        name: "hgetall", arity: 2, flags: [Readonly], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hgetall),
        summary: "Returns every field and value of a hash.",
        syntax: "key",
    },
    spec! {
        name: "hincrby", arity: 4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hincrby),
        summary: "Adds an integer to a hash field's value.",
        syntax: "key field increment:integer",
    },
    spec! {
        name: "hincrbyfloat", arity: 4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Hash, since: "2.6.0", run: normal(hashes::hincrbyfloat),
        summary: "Adds a number to a hash field's value.",
        syntax: "key field increment:double",
    },
    spec! {
        name: "hkeys", arity: 2, flags: [Readonly], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hkeys),
        summary: "Returns the fields of a hash.",
        syntax: "key",
    },
    spec! {
        name: "hlen", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hlen),
        summary: "Returns the number of fields in a hash.",
        syntax: "key",
    },
    spec! {
        name: "hmget", arity: -3, flags: [Readonly, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hmget),
        summary: "Returns the values of hash fields.",
        syntax: "key field...",
    },
    spec! {
        name: "hmset", arity: -4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hmset),
        summary: "Sets hash fields (as HSET).",
        syntax: "key (field value)...",
    },
    spec! {
        name: "hscan", arity: -3, flags: [Readonly], keys: ONE,
        group: Hash, since: "2.8.0", run: normal(hashes::hscan),
        summary: "Iterates over the fields and values of a hash.",
        syntax: "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    },
    spec! {
        name: "hset", arity: -4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hset),
        summary: "Sets hash fields, creating the key if needed.",
        syntax: "key (field value)...",
    },
    spec! {
        name: "hsetnx", arity: 4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hsetnx),
        summary: "Sets a hash field only if it does not exist.",
        syntax: "key field value",
    },
    spec! {
        name: "hstrlen", arity: 3, flags: [Readonly, Fast], keys: ONE,
        group: Hash, since: "3.2.0", run: normal(hashes::hstrlen),
        summary: "Returns the length of a hash field's value.",
        syntax: "key field",
    },
    spec! {
        name: "hvals", arity: 2, flags: [Readonly], keys: ONE,
        group: Hash, since: "2.0.0", run: normal(hashes::hvals),
        summary: "Returns the values of a hash.",
        syntax: "key",
    },
    spec! {
        name: "incr", arity: 2, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::incr),
        summary: "Increments a key's integer value by one.",
        syntax: "key",
    },
    spec! {
        name: "incrby", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::incrby),
        summary: "Increments a key's integer value by a number.",
        syntax: "key increment:integer",
    },
    spec! {
        name: "incrbyfloat", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "2.6.0", run: normal(strings::incrbyfloat),
        summary: "Adds a floating-point number to a key's value.",
        syntax: "key increment:double",
    },
    spec! {
        name: "keys", arity: 2, flags: [Readonly], keys: NONE,
        group: Generic, since: "1.0.0", run: normal(keys::keys),
        summary: "Returns the keys matching a glob pattern.",
        syntax: "pattern",
    },
    spec! {
        name: "lindex", arity: 3, flags: [Readonly], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lindex),
        summary: "Returns the element at an index of a list.",
        syntax: "key index:integer",
    },
    spec! {
        name: "linsert", arity: 5, flags: [Write, Denyoom], keys: ONE,
        group: List, since: "2.2.0", run: normal(lists::linsert),
        summary: "Inserts an element before or after another one.",
        syntax: "key where=(BEFORE|AFTER) pivot element",
    },
    spec! {
        name: "llen", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::llen),
        summary: "Returns the length of a list.",
        syntax: "key",
    },
    spec! {
        name: "lmove", arity: 5, flags: [Write, Denyoom], keys: TWO,
        group: List, since: "6.2.0", run: normal(lists::lmove),
        summary: "Pops an element from one list and pushes it onto another.",
        syntax: "source:key destination:key wherefrom=(LEFT|RIGHT) whereto=(LEFT|RIGHT)",
    },
    spec! {
        name: "lpop", arity: -2, flags: [Write, Fast], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lpop),
        summary: "Removes and returns the first elements of a list.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "lpos", arity: -3, flags: [Readonly], keys: ONE,
        group: List, since: "6.0.6", run: normal(lists::lpos),
        summary: "Returns the indexes of matching elements of a list.",
        syntax: "key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]",
    },
    spec! {
        name: "lpush", arity: -3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lpush),
        summary: "Prepends elements to a list, creating the key if needed.",
        syntax: "key element...",
    },
    spec! {
        name: "lpushx", arity: -3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: List, since: "2.2.0", run: normal(lists::lpushx),
        summary: "Prepends elements to an existing list.",
        syntax: "key element...",
    },
    spec! {
        name: "lrange", arity: 4, flags: [Readonly], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lrange),
        summary: "Returns a range of elements of a list.",
        syntax: "key start:integer stop:integer",
    },
    spec! {
        name: "lrem", arity: 4, flags: [Write], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lrem),
        summary: "Removes elements equal to a value from a list.",
        syntax: "key count:integer element",
    },
    spec! {
        name: "lset", arity: 4, flags: [Write, Denyoom], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::lset),
        summary: "Sets the element at an index of a list.",
        syntax: "key index:integer element",
    },
    spec! {
        name: "ltrim", arity: 4, flags: [Write], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::ltrim),
        summary: "Keeps only a range of a list.",
        syntax: "key start:integer stop:integer",
    },
    spec! {
        name: "mget", arity: -2, flags: [Readonly, Fast], keys: ALL,
        group: String, since: "1.0.0", run: normal(strings::mget),
        summary: "Returns the values of several keys.",
        syntax: "key...",
    },
    spec! {
        name: "mset", arity: -3, flags: [Write, Denyoom], keys: PAIRS,
        group: String, since: "1.0.1", run: normal(strings::mset),
        summary: "Sets several keys.",
        syntax: "(key value)...",
    },
    spec! {
        name: "msetnx", arity: -3, flags: [Write, Denyoom], keys: PAIRS,
        group: String, since: "1.0.1", run: normal(strings::msetnx),
        summary: "Sets several keys only if none of them exists.",
        syntax: "(key value)...",
    },
    spec! {
        name: "multi", arity: 1, flags: [Noscript, Loading, Stale, Fast, AllowBusy], keys: NONE,
        group: Transactions, since: "1.2.0", run: runs(Kind::Multi),
        summary: "Starts a transaction.",
        syntax: "",
    },
    spec! {
        name: "object", arity: -2, flags: [], keys: NONE,
        group: Generic, since: "2.2.3", run: normal(keys::object),
        summary: "Inspects how keys are used.",
        syntax: "",
        subcommands: OBJECT,
    },
    spec! {
        name: "persist", arity: 2, flags: [Write, Fast], keys: ONE,
        group: Generic, since: "2.2.0", run: normal(expire::persist),
        summary: "Removes a key's expiry.",
        syntax: "key",
    },
    spec! {
        name: "pexpire", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Generic, since: "2.6.0", run: normal(expire::pexpire),
        summary: "Sets a key's time to live in milliseconds.",
        syntax: "key milliseconds:integer [NX|XX|GT|LT]",
    },
    spec! {
        name: "pexpireat", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Generic, since: "2.6.0", run: normal(expire::pexpireat),
        summary: "Sets a key's expiry as a Unix time in milliseconds.",
        syntax: "key unix-time-milliseconds:unix-time [NX|XX|GT|LT]",
    },
    spec! {
        name: "pexpiretime", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Generic, since: "7.0.0", run: normal(expire::pexpiretime),
        summary: "Returns a key's expiry as a Unix time in milliseconds.",
        syntax: "key",
    },
    spec! {
        name: "ping", arity: -1, flags: [Fast], keys: NONE,
        group: Connection, since: "1.0.0", run: normal(server::ping),
        summary: "Answers PONG, or its argument.",
        syntax: "[message]",
    },
    spec! {
        name: "psetex", arity: 4, flags: [Write, Denyoom], keys: ONE,
        group: String, since: "2.6.0", run: normal(strings::psetex),
        summary: "Sets a key's value and time to live in milliseconds.",
        syntax: "key milliseconds:integer value",
    },
    spec! {
        name: "pttl", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Generic, since: "2.6.0", run: normal(expire::pttl),
        summary: "Returns a key's time to live in milliseconds.",
        syntax: "key",
    },
    spec! {
        name: "randomkey", arity: 1, flags: [Readonly], keys: NONE,
        group: Generic, since: "1.0.0", run: normal(keys::randomkey),
        summary: "Returns a random key.",
        syntax: "",
    },
    spec! {
        name: "rename", arity: 3, flags: [Write], keys: TWO,
        group: Generic, since: "1.0.0", run: normal(keys::rename),
        summary: "Renames a key, replacing the destination.",
        syntax: "key newkey:key",
    },
    spec! {
        name: "renamenx", arity: 3, flags: [Write, Fast], keys: TWO,
        group: Generic, since: "1.0.0", run: normal(keys::renamenx),
        summary: "Renames a key only if the new name is free.",
        syntax: "key newkey:key",
    },
    spec! {
        name: "rpop", arity: -2, flags: [Write, Fast], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::rpop),
        summary: "Removes and returns the last elements of a list.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "rpoplpush", arity: 3, flags: [Write, Denyoom], keys: TWO,
        group: List, since: "1.2.0", run: normal(lists::rpoplpush),
        summary: "Pops the last element of a list and prepends it to another.",
        syntax: "source:key destination:key",
    },
    spec! {
        name: "rpush", arity: -3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: List, since: "1.0.0", run: normal(lists::rpush),
        summary: "Appends elements to a list, creating the key if needed.",
        syntax: "key element...",
    },
    spec! {
        name: "rpushx", arity: -3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: List, since: "2.2.0", run: normal(lists::rpushx),
        summary: "Appends elements to an existing list.",
        syntax: "key element...",
    },
    spec! {
        name: "sadd", arity: -3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::sadd),
        summary: "Adds members to a set, creating the key if needed.",
        syntax: "key member...",
    },
    spec! {
        name: "scan", arity: -2, flags: [Readonly], keys: NONE,
        group: Generic, since: "2.8.0", run: normal(keys::scan),
        summary: "Iterates over the keys of the selected database.",
        syntax: "cursor:integer [MATCH pattern] [COUNT count:integer] [TYPE type]",
    },
    spec! {
        name: "scard", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::scard),
        summary: "Returns the number of members of a set.",
        syntax: "key",
    },
    spec! {
        name: "sdiff", arity: -2, flags: [Readonly], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sdiff),
        summary: "Returns the members of the first set that no other set has.",
        syntax: "key...",
    },
    spec! {
        name: "sdiffstore", arity: -3, flags: [Write, Denyoom], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sdiffstore),
        summary: "Stores the difference of sets.",
        syntax: "destination:key key...",
    },
    spec! {
        name: "select", arity: 2, flags: [Noscript, Loading, Stale, Fast], keys: NONE,
        group: Connection, since: "1.0.0", run: normal(server::select),
        summary: "Selects the database of the connection.",
        syntax: "index:integer",
    },
    spec! {
        name: "set", arity: -3, flags: [Write, Denyoom], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::set),
        summary: "Sets a key's string value, with conditions and an expiry.",
        syntax: "key value [NX|XX] [GET] [EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time|KEEPTTL]",
    },
    spec! {
        name: "setex", arity: 4, flags: [Write, Denyoom], keys: ONE,
        group: String, since: "2.0.0", run: normal(strings::setex),
        summary: "Sets a key's value and time to live in seconds.",
        syntax: "key seconds:integer value",
    },
    spec! {
        name: "setnx", arity: 3, flags: [Write, Denyoom, Fast], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::setnx),
        summary: "Sets a key's value only if the key does not exist.",
        syntax: "key value",
    },
    spec! {
        name: "setrange", arity: 4, flags: [Write, Denyoom], keys: ONE,
        group: String, since: "2.2.0", run: normal(strings::setrange),
        summary: "Overwrites part of a key's value at an offset.",
        syntax: "key offset:integer value",
    },
    spec! {
        name: "sinter", arity: -2, flags: [Readonly], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sinter),
        summary: "Returns the members every set has.",
        syntax: "key...",
    },
    spec! {
        name: "sinterstore", arity: -3, flags: [Write, Denyoom], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sinterstore),
        summary: "Stores the intersection of sets.",
        syntax: "destination:key key...",
    },
    spec! {
        name: "sismember", arity: 3, flags: [Readonly, Fast], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::sismember),
        summary: "Tells whether a value is a member of a set.",
        syntax: "key member",
    },
    spec! {
        name: "smembers", arity: 2, flags: [Readonly], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::smembers),
        summary: "Returns the members of a set.",
        syntax: "key",
    },
    spec! {
        name: "smismember", arity: -3, flags: [Readonly, Fast], keys: ONE,
        group: Set, since: "6.2.0", run: normal(sets::smismember),
        summary: "Tells for each value whether it is a member of a set.",
        syntax: "key member...",
    },
    spec! {
        name: "smove", arity: 4, flags: [Write, Fast], keys: TWO,
        group: Set, since: "1.0.0", run: normal(sets::smove),
        summary: "Moves a member from one set to another.",
        syntax: "source:key destination:key member",
    },
    spec! {
        name: "spop", arity: -2, flags: [Write, Fast], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::spop),
        summary: "Removes and returns random members of a set.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "srandmember", arity: -2, flags: [Readonly], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::srandmember),
        summary: "Returns random members of a set.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "srem", arity: -3, flags: [Write, Fast], keys: ONE,
        group: Set, since: "1.0.0", run: normal(sets::srem),
        summary: "Removes members from a set.",
        syntax: "key member...",
    },
    spec! {
        name: "sscan", arity: -3, flags: [Readonly], keys: ONE,
        group: Set, since: "2.8.0", run: normal(sets::sscan),
        summary: "Iterates over the members of a set.",
        syntax: "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    },
    spec! {
        name: "strlen", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: String, since: "2.2.0", run: normal(strings::strlen),
        summary: "Returns the length of a key's value.",
        syntax: "key",
    },
    spec! {
        name: "substr", arity: 4, flags: [Readonly], keys: ONE,
        group: String, since: "1.0.0", run: normal(strings::getrange),
        summary: "Returns a substring of a key's value (as GETRANGE).",
        syntax: "key start:integer end:integer",
    },
    spec! {
        name: "sunion", arity: -2, flags: [Readonly], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sunion),
        summary: "Returns the members of any of the sets.",
        syntax: "key...",
    },
    spec! {
        name: "sunionstore", arity: -3, flags: [Write, Denyoom], keys: ALL,
        group: Set, since: "1.0.0", run: normal(sets::sunionstore),
        summary: "Stores the union of sets.",
        syntax: "destination:key key...",
    },
    spec! {
        name: "ttl", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Generic, since: "1.0.0", run: normal(expire::ttl),
        summary: "Returns a key's time to live in seconds.",
        syntax: "key",
    },
    spec! {
        name: "type", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: Generic, since: "1.0.0", run: normal(keys::type_),
        summary: "Returns the type of a key's value.",
        syntax: "key",
    },
    spec! {
        name: "unlink", arity: -2, flags: [Write, Fast], keys: ALL,
        group: Generic, since: "4.0.0", run: normal(keys::del),
        summary: "Deletes keys.",
        syntax: "key...",
    },
    spec! {
        name: "unwatch", arity: 1, flags: [Noscript, Loading, Stale, Fast, AllowBusy], keys: NONE,
        group: Transactions, since: "2.2.0", run: runs(Kind::Unwatch),
        summary: "Forgets the watched keys.",
        syntax: "",
    },
    spec! {
        name: "watch", arity: -2, flags: [Noscript, Loading, Stale, Fast, AllowBusy], keys: ALL,
        group: Transactions, since: "2.2.0", run: runs(Kind::Watch),
        summary: "Makes the next EXEC fail if any of the keys changes.",
        syntax: "key...",
    },
    spec! {
        name: "zadd", arity: -4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zadd),
        summary: "Adds members with scores to a sorted set, or updates their scores.",
        syntax: "key [NX|XX] [GT|LT] [CH] [INCR] (score:double member)...",
    },
    spec! {
        name: "zcard", arity: 2, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zcard),
        summary: "Returns the number of members of a sorted set.",
        syntax: "key",
    },
    spec! {
        name: "zcount", arity: 4, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "2.0.0", run: normal(zsets::zcount),
        summary: "Counts the members with scores in a range.",
        syntax: "key min:double max:double",
    },
    spec! {
        name: "zincrby", arity: 4, flags: [Write, Denyoom, Fast], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zincrby),
        summary: "Adds to a member's score.",
        syntax: "key increment:double member",
    },
    spec! {
        name: "zlexcount", arity: 4, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "2.8.9", run: normal(zsets::zlexcount),
        summary: "Counts the members in a lexicographical range.",
        syntax: "key min max",
    },
    spec! {
        name: "zmscore", arity: -3, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "6.2.0", run: normal(zsets::zmscore),
        summary: "Returns the scores of members.",
        syntax: "key member...",
    },
    spec! {
        name: "zpopmax", arity: -2, flags: [Write, Fast], keys: ONE,
        group: SortedSet, since: "5.0.0", run: normal(zsets::zpopmax),
        summary: "Removes and returns the members with the highest scores.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "zpopmin", arity: -2, flags: [Write, Fast], keys: ONE,
        group: SortedSet, since: "5.0.0", run: normal(zsets::zpopmin),
        summary: "Removes and returns the members with the lowest scores.",
        syntax: "key [count:integer]",
    },
    spec! {
        name: "zrange", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zrange),
        summary: "Returns a range of members by rank, score or lexicographical order.",
        syntax: "key start stop [BYSCORE|BYLEX] [REV] [LIMIT (offset:integer count:integer)] [WITHSCORES]",
    },
    spec! {
        name: "zrangebylex", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "2.8.9", run: normal(zsets::zrangebylex),
        summary: "Returns the members in a lexicographical range.",
        syntax: "key min max [LIMIT (offset:integer count:integer)]",
    },
    spec! {
        name: "zrangebyscore", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "1.0.5", run: normal(zsets::zrangebyscore),
        summary: "Returns the members with scores in a range.",
        syntax: "key min:double max:double [WITHSCORES] [LIMIT (offset:integer count:integer)]",
    },
    spec! {
        name: "zrank", arity: -3, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "2.0.0", run: normal(zsets::zrank),
        summary: "Returns a member's rank, lowest score first.",
        syntax: "key member [WITHSCORE]",
    },
    spec! {
        name: "zrem", arity: -3, flags: [Write, Fast], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zrem),
        summary: "Removes members from a sorted set.",
        syntax: "key member...",
    },
    spec! {
        name: "zrevrange", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zrevrange),
        summary: "Returns a range of members by rank, highest score first.",
        syntax: "key start:integer stop:integer [WITHSCORES]",
    },
    spec! {
        name: "zrevrangebylex", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "2.8.9", run: normal(zsets::zrevrangebylex),
        summary: "Returns the members in a lexicographical range, in reverse.",
        syntax: "key max min [LIMIT (offset:integer count:integer)]",
    },
    spec! {
        name: "zrevrangebyscore", arity: -4, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "2.2.0", run: normal(zsets::zrevrangebyscore),
        summary: "Returns the members with scores in a range, highest first.",
        syntax: "key max:double min:double [WITHSCORES] [LIMIT (offset:integer count:integer)]",
    },
    spec! {
        name: "zrevrank", arity: -3, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "2.0.0", run: normal(zsets::zrevrank),
        summary: "Returns a member's rank, highest score first.",
        syntax: "key member [WITHSCORE]",
    },
    spec! {
        name: "zscan", arity: -3, flags: [Readonly], keys: ONE,
        group: SortedSet, since: "2.8.0", run: normal(zsets::zscan),
        summary: "Iterates over the members and scores of a sorted set.",
        syntax: "key cursor:integer [MATCH pattern] [COUNT count:integer]",
    },
    spec! {
        name: "zscore", arity: 3, flags: [Readonly, Fast], keys: ONE,
        group: SortedSet, since: "1.2.0", run: normal(zsets::zscore),
        summary: "Returns a member's score.",
        syntax: "key member",
    },
];
