//! Keyspace notifications: the classes of events `notify-keyspace-events`
//! turns on, and the events commands raise, as Redis 7.0 raises them.
//!
//! Every database notes the events of the command running
//! ([`Notes`]): the command's own (its name in Redis's words, `lpush`,
//! `set`, `incrby`, … [`of_command`]) for each change of a key, when it
//! changes it (the hook WATCH uses, `Db::touch`: MSET of a key twice
//! raises `set` twice, as in Redis);
//! `new` when a key is created; `del` when a command empties a
//! collection; `expired` and `evicted` when expiry or eviction removes a
//! key. Commands that raise different events for different keys (LMOVE's
//! source and destination, RENAME's, SET's `expire`) switch the event
//! as they go. The store gathers them after each command
//! ([`crate::Store::take_events`]); each is published on
//! `__keyspace@<db>__:<key>` (message: the event) and
//! `__keyevent@<db>__:<event>` (message: the key) as the `K` and `E`
//! classes say ([`Event::messages`]).

use alloc::string::String;
use alloc::vec::Vec;

/// A set of event classes (`notify-keyspace-events`'s letters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Classes(u16);

impl Classes {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Classes = Classes(1);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Classes = Classes(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME, …).
    pub const GENERIC: Classes = Classes(1 << 2);
    /// `$`: string commands.
    pub const STRING: Classes = Classes(1 << 3);
    /// `l`: list commands.
    pub const LIST: Classes = Classes(1 << 4);
    /// `s`: set commands.
    pub const SET: Classes = Classes(1 << 5);
    /// `h`: hash commands.
    pub const HASH: Classes = Classes(1 << 6);
    /// `z`: sorted-set commands.
    pub const ZSET: Classes = Classes(1 << 7);
    /// `x`: a key expired.
    pub const EXPIRED: Classes = Classes(1 << 8);
    /// `e`: a key was evicted for memory.
    pub const EVICTED: Classes = Classes(1 << 9);
    /// `t`: stream commands (Basalt has no streams: accepted, never raised).
    pub const STREAM: Classes = Classes(1 << 10);
    /// `m`: a read found no key (accepted, not raised: see docs/kvs.md).
    pub const KEY_MISS: Classes = Classes(1 << 11);
    /// `d`: module events (accepted, never raised).
    pub const MODULE: Classes = Classes(1 << 12);
    /// `n`: a key was created.
    pub const NEW: Classes = Classes(1 << 13);
    /// `A`: `g$lshzxetd`.
    pub const ALL: Classes = Classes(0b1_0111_1111_1100);

    /// No class.
    pub const fn none() -> Classes {
        Classes(0)
    }

    /// Whether every class of `other` is in `self`.
    pub const fn contains(self, other: Classes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether `self` and `other` share a class.
    pub const fn intersects(self, other: Classes) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether any event would be published: some class and a channel.
    pub const fn publishes(self) -> bool {
        self.intersects(Classes(Self::KEYSPACE.0 | Self::KEYEVENT.0))
            && self.intersects(Classes(!(Self::KEYSPACE.0 | Self::KEYEVENT.0)))
    }

    const LETTERS: [(u8, Classes); 15] = [
        (b'A', Classes::ALL),
        (b'g', Classes::GENERIC),
        (b'$', Classes::STRING),
        (b'l', Classes::LIST),
        (b's', Classes::SET),
        (b'h', Classes::HASH),
        (b'z', Classes::ZSET),
        (b'x', Classes::EXPIRED),
        (b'e', Classes::EVICTED),
        (b't', Classes::STREAM),
        (b'd', Classes::MODULE),
        (b'K', Classes::KEYSPACE),
        (b'E', Classes::KEYEVENT),
        (b'm', Classes::KEY_MISS),
        (b'n', Classes::NEW),
    ];

    /// The classes `text` names; `None` if it holds another letter.
    ///
    /// ```
    /// use kvs_core::notify::Classes;
    /// assert_eq!(Classes::parse(b"KEA").unwrap().name(), "AKE");
    /// assert_eq!(Classes::parse(b"Kg").unwrap().name(), "gK");
    /// assert!(Classes::parse(b"Kq").is_none());
    /// ```
    pub fn parse(text: &[u8]) -> Option<Classes> {
        text.iter().try_fold(Classes::none(), |acc, c| {
            let (_, class) = Self::LETTERS.iter().find(|(l, _)| l == c)?;
            Some(Classes(acc.0 | class.0))
        })
    }

    /// Its letters as `CONFIG GET` shows them: `A` for all of
    /// `g$lshzxetd` (else each), then `K`, `E`, `m`, `n`.
    pub fn name(self) -> String {
        let mut out = String::new();
        for &(letter, class) in &Self::LETTERS {
            let shown = match letter {
                b'A' => self.contains(Classes::ALL),
                b'g' | b'$' | b'l' | b's' | b'h' | b'z' | b'x' | b'e' | b't' | b'd' => {
                    !self.contains(Classes::ALL) && self.contains(class)
                }
                _ => self.contains(class),
            };
            if shown {
                out.push(letter as char);
            }
        }
        out
    }
}

/// One event: in database `db`, `name` happened to `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The database.
    pub db: usize,
    /// Its class.
    pub class: Classes,
    /// Its name (`set`, `lpush`, `expired`, …).
    pub name: &'static str,
    /// The key.
    pub key: Vec<u8>,
}

impl Event {
    /// The (channel, message) pairs to publish under `enabled`: on
    /// `__keyspace@<db>__:<key>` the event's name, then on
    /// `__keyevent@<db>__:<name>` the key, as `K` and `E` say.
    ///
    /// ```
    /// use kvs_core::notify::{Classes, Event};
    /// let e = Event { db: 0, class: Classes::LIST, name: "lpush", key: b"q".to_vec() };
    /// let all = Classes::parse(b"KEA").unwrap();
    /// assert_eq!(e.messages(all), [
    ///     (b"__keyspace@0__:q".to_vec(), b"lpush".to_vec()),
    ///     (b"__keyevent@0__:lpush".to_vec(), b"q".to_vec()),
    /// ]);
    /// ```
    pub fn messages(&self, enabled: Classes) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        if !enabled.contains(self.class) {
            return out;
        }
        if enabled.contains(Classes::KEYSPACE) {
            let mut channel = alloc::format!("__keyspace@{}__:", self.db).into_bytes();
            channel.extend_from_slice(&self.key);
            out.push((channel, self.name.as_bytes().to_vec()));
        }
        if enabled.contains(Classes::KEYEVENT) {
            let channel = alloc::format!("__keyevent@{}__:{}", self.db, self.name).into_bytes();
            out.push((channel, self.key.clone()));
        }
        out
    }
}

/// What one database notes of the command running.
#[derive(Debug, Default)]
pub(crate) struct Notes {
    /// The classes on (none: nothing is noted).
    pub(crate) on: Classes,
    /// The event a change of a key raises now.
    pub(crate) current: Option<(Classes, &'static str)>,
    /// The events noted, in order, each with its place among those of
    /// every database ([`SEQUENCE`]).
    pub(crate) events: Vec<(u64, Classes, &'static str, Vec<u8>)>,
}

/// Numbers events across databases, so that the store can put those of
/// one command that touches two (MOVE's `move_from`, `new`, `move_to`)
/// back in order.
static SEQUENCE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

impl Notes {
    /// A command starts (serving a blocked session counts as one) with
    /// `current` as its event.
    pub(crate) fn start(&mut self, current: Option<(Classes, &'static str)>) {
        self.current = current;
    }

    /// Notes `name` of `class` for `key`, unless its class is off.
    pub(crate) fn note(&mut self, class: Classes, name: &'static str, key: &[u8]) {
        if !self.on.contains(class) {
            return;
        }
        // Only the order matters; no other memory depends on it.
        let seq = SEQUENCE.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        self.events.push((seq, class, name, key.to_vec()));
    }

    /// Notes the current event for `key` (a change).
    pub(crate) fn changed(&mut self, key: &[u8]) {
        if let Some((class, name)) = self.current {
            self.note(class, name, key);
        }
    }
}

/// The event a command raises for the keys it changes (the class and
/// name Redis 7.0 gives it), or `None` for one that raises none or
/// chooses as it goes.
pub(crate) fn of_command(name: &str) -> Option<(Classes, &'static str)> {
    use Classes as C;
    let event = match name {
        "set" | "setnx" | "setex" | "psetex" | "mset" | "msetnx" | "getset" | "bitop" => {
            (C::STRING, "set")
        }
        "append" => (C::STRING, "append"),
        "setrange" => (C::STRING, "setrange"),
        // DECR too: Redis raises `incrby` for all four.
        "incr" | "incrby" | "decr" | "decrby" => (C::STRING, "incrby"),
        "incrbyfloat" => (C::STRING, "incrbyfloat"),
        "setbit" | "bitfield" => (C::STRING, "setbit"),
        "pfadd" | "pfmerge" => (C::STRING, "pfadd"),
        "getdel" | "del" | "unlink" => (C::GENERIC, "del"),
        "persist" => (C::GENERIC, "persist"),
        "expire" | "pexpire" | "expireat" | "pexpireat" => (C::GENERIC, "expire"),
        "restore" => (C::GENERIC, "restore"),
        "lpush" | "lpushx" => (C::LIST, "lpush"),
        "rpush" | "rpushx" => (C::LIST, "rpush"),
        "linsert" => (C::LIST, "linsert"),
        "lset" => (C::LIST, "lset"),
        "ltrim" => (C::LIST, "ltrim"),
        "lrem" => (C::LIST, "lrem"),
        "lpop" => (C::LIST, "lpop"),
        "rpop" => (C::LIST, "rpop"),
        "sadd" => (C::SET, "sadd"),
        "srem" => (C::SET, "srem"),
        "spop" => (C::SET, "spop"),
        "sinterstore" => (C::SET, "sinterstore"),
        "sunionstore" => (C::SET, "sunionstore"),
        "sdiffstore" => (C::SET, "sdiffstore"),
        "hset" | "hmset" | "hsetnx" => (C::HASH, "hset"),
        "hdel" => (C::HASH, "hdel"),
        "hincrby" => (C::HASH, "hincrby"),
        "hincrbyfloat" => (C::HASH, "hincrbyfloat"),
        "zadd" | "geoadd" => (C::ZSET, "zadd"),
        "zincrby" => (C::ZSET, "zincr"),
        "zrem" => (C::ZSET, "zrem"),
        "zremrangebyscore" => (C::ZSET, "zremrangebyscore"),
        "zremrangebyrank" => (C::ZSET, "zremrangebyrank"),
        "zremrangebylex" => (C::ZSET, "zremrangebylex"),
        "zpopmin" => (C::ZSET, "zpopmin"),
        "zpopmax" => (C::ZSET, "zpopmax"),
        "zunionstore" => (C::ZSET, "zunionstore"),
        "zinterstore" => (C::ZSET, "zinterstore"),
        "zdiffstore" => (C::ZSET, "zdiffstore"),
        "zrangestore" => (C::ZSET, "zrangestore"),
        "sort" => (C::LIST, "sortstore"),
        "georadius" | "georadiusbymember" => (C::ZSET, "georadiusstore"),
        "geosearchstore" => (C::ZSET, "geosearchstore"),
        "xadd" => (C::STREAM, "xadd"),
        "xdel" => (C::STREAM, "xdel"),
        "xtrim" => (C::STREAM, "xtrim"),
        "xsetid" => (C::STREAM, "xsetid"),
        _ => return None,
    };
    Some(event)
}
