//! The command table's row type: a command's name, arity, flags, key
//! positions and documentation, declared once.
//!
//! The store's own rows are [`COMMANDS`]: it finds a command there, checks
//! its arity, refuses it when out of memory by its `denyoom` flag and runs
//! it. A front end describes the same rows in `COMMAND INFO` and `COMMAND
//! DOCS`, next to rows of its own for the commands only it answers
//! (declared with [`spec!`](crate::spec), with `run: None`).
//!
//! ```
//! use kvs_core::command::{COMMANDS, Flag, find};
//! let set = find(COMMANDS, b"SET").unwrap();
//! assert_eq!((set.name, set.arity), ("set", -3));
//! assert!(set.has(Flag::Write) && set.has(Flag::Denyoom));
//! let config = find(COMMANDS, b"config").unwrap();
//! assert_eq!(config.subcommand(b"GET").unwrap().name, "config|get");
//! ```

use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::cmd::Kind;

mod front;
mod meta;

pub use crate::cmd::table::COMMANDS;
pub use front::FRONT_END;
pub use meta::{Begin, Category, Find, KeyFlag, KeySpec};

/// One command, or one subcommand (named `container|sub`).
pub struct Spec {
    /// The lower-case name, which arity errors quote.
    pub name: &'static str,
    /// Redis's arity: `n > 0` exactly n arguments (the name included),
    /// `n < 0` at least −n.
    pub arity: i32,
    /// Redis's flags, in the order `COMMAND INFO` lists them.
    pub flags: &'static [Flag],
    /// Where the keys are among the arguments.
    pub keys: Keys,
    /// The group `COMMAND DOCS` names, which also gives an ACL category.
    pub group: Group,
    /// The Redis version that introduced the command.
    pub since: &'static str,
    /// One sentence on what the command does.
    pub summary: &'static str,
    /// The arguments after the name, in the notation of the RESP front
    /// end's `COMMAND DOCS` (`key [EX seconds:integer|KEEPTTL]`; it is
    /// described in `apps/resp/src/docs.rs`, which reads it).
    pub syntax: &'static str,
    /// ACL categories besides those the flags imply (see
    /// [`Spec::categories`]); `None`: the group's.
    pub acl: Option<&'static [Category]>,
    /// Redis's tips to clients: output order, and how a cluster client
    /// sends the command to shards and merges their replies.
    pub tips: &'static [&'static str],
    /// How the keys are found among the arguments, and what the command
    /// does with each (what `COMMAND INFO` shows; [`Spec::keys`] is the
    /// finder, and a test holds the two to the same range).
    pub key_specs: &'static [KeySpec],
    /// A container's subcommands, sorted by name.
    pub subcommands: &'static [Spec],
    /// How the store runs the command: `None` for a front end's own
    /// commands and for subcommands (the store runs those through their
    /// container).
    pub run: Option<Run>,
}

impl Spec {
    /// Whether `argc` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let need = self.arity.unsigned_abs() as usize;
        if self.arity >= 0 {
            argc == need
        } else {
            argc >= need
        }
    }

    /// Whether the command has `flag`.
    pub fn has(&self, flag: Flag) -> bool {
        self.flags.contains(&flag)
    }

    /// Whether its keys are keys: false where it has none, or where every
    /// key spec finds shard channels (SPUBLISH), as Redis's COMMAND GETKEYS
    /// tells.
    pub fn has_keys(&self) -> bool {
        self.keys != Keys::NONE
            && (self.key_specs.is_empty()
                || self
                    .key_specs
                    .iter()
                    .any(|k| !k.flags.contains(&KeyFlag::NotKey)))
    }

    /// What the command does with the key at `at` among `args` (the name
    /// at 0), as `COMMAND GETKEYSANDFLAGS` says: the flags of the first
    /// key spec that finds it there, else of the last spec only the
    /// arguments can follow (SORT's STORE). SET's and BITFIELD's flags
    /// depend on the arguments, as Redis's key finders read them: SET with
    /// GET reads the old value, and BITFIELD with SET or INCRBY writes.
    pub fn key_flags(&self, args: &[&[u8]], at: usize) -> &'static [KeyFlag] {
        use KeyFlag::{Access, Ow, Ro, Rw, Update};
        let after = |from: usize, words: &[&str]| {
            args.iter()
                .skip(from)
                .any(|a| words.iter().any(|w| a.eq_ignore_ascii_case(w.as_bytes())))
        };
        match self.name {
            "set" if after(3, &["get"]) => return &[Rw, Access, Update],
            "set" => return &[Ow, Update],
            "bitfield" if after(2, &["set", "incrby"]) => return &[Rw, Access, Update],
            "bitfield" => return &[Ro, Access],
            _ => {}
        }
        let specs = self.key_specs.iter();
        specs
            .clone()
            .find(|k| k.finds(args, at))
            .or_else(|| specs.rev().find(|k| k.begin == Begin::Unknown))
            .map_or(&[], |k| k.flags)
    }

    /// The ACL categories, in Redis's order: those the flags imply
    /// (`write`, `readonly` outside scripting, `admin` with `dangerous`,
    /// `pubsub`, `fast`, `blocking`, and `slow` for every command not
    /// fast), and the row's own ([`Spec::acl`], else the group's; a
    /// container has none of its own).
    pub fn categories(&self) -> Vec<Category> {
        let own: &[Category] = match (self.acl, self.group.category()) {
            (Some(own), _) => own,
            (None, Some(group)) if self.subcommands.is_empty() => &[group],
            (None, _) => &[],
        };
        let mut all: Vec<Category> = own.to_vec();
        let implied = [
            (Flag::Write, Category::Write),
            (Flag::Admin, Category::Admin),
            (Flag::Admin, Category::Dangerous),
            (Flag::Pubsub, Category::Pubsub),
            (Flag::Fast, Category::Fast),
            (Flag::Blocking, Category::Blocking),
        ];
        all.extend(
            implied
                .into_iter()
                .filter(|(flag, _)| self.has(*flag))
                .map(|(_, c)| c),
        );
        if self.has(Flag::Readonly) && !own.contains(&Category::Scripting) {
            all.push(Category::Read);
        }
        if !all.contains(&Category::Fast) {
            all.push(Category::Slow);
        }
        all.sort();
        all.dedup();
        all
    }

    /// The subcommand `sub` (case-insensitive).
    pub fn subcommand(&self, sub: &[u8]) -> Option<&Spec> {
        let prefix = self.name.len() + 1;
        self.subcommands.iter().find(|s| {
            s.name
                .as_bytes()
                .get(prefix..)
                .is_some_and(|n| n.eq_ignore_ascii_case(sub))
        })
    }
}

/// The row of the command called `name` (case-insensitive; `container|sub`
/// names a subcommand), the store's or the front end's.
///
/// ```
/// use kvs_core::command::row;
/// assert_eq!(row(b"GeT").map(|s| s.name), Some("get"));
/// assert_eq!(row(b"client|LIST").map(|s| s.name), Some("client|list"));
/// assert!(row(b"nope").is_none());
/// ```
pub fn row(name: &[u8]) -> Option<&'static Spec> {
    match name.iter().position(|&b| b == b'|') {
        // The tables share no name (a test checks), so the last rows found
        // in either may be tried before searching the front end's.
        None => hinted(FRONT_END, name)
            .or_else(|| hinted(COMMANDS, name))
            .or_else(|| find(FRONT_END, name))
            .or_else(|| find(COMMANDS, name)),
        Some(bar) => row(&name[..bar])?.subcommand(&name[bar + 1..]),
    }
}

/// The command called `name` in `table` (sorted by name), whatever the
/// case of `name`.
pub fn find(table: &'static [Spec], name: &[u8]) -> Option<&'static Spec> {
    // A pipeline repeats its commands, and a front end and the store look
    // each one up several times: the row found last in a table is tried
    // first (one comparison instead of a binary search's eight). The hint
    // is only a guess, checked against the name, so a stale or shared one
    // costs a comparison, never a wrong row.
    if let Some(spec) = hinted(table, name) {
        return Some(spec);
    }
    // Binary search on the lower-case name: every command is looked up
    // so. A name longer than the buffer is no command (a test checks that
    // the store's fit).
    let mut buf = [0u8; 24];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    let i = table
        .binary_search_by(|s| s.name.as_bytes().cmp(lower))
        .ok()?;
    hint(table).store(i, Ordering::Relaxed);
    Some(&table[i])
}

/// The row [`find`] found last in `table`, if it is `name`'s.
fn hinted(table: &'static [Spec], name: &[u8]) -> Option<&'static Spec> {
    table
        .get(hint(table).load(Ordering::Relaxed))
        .filter(|spec| spec.name.as_bytes().eq_ignore_ascii_case(name))
}

/// `table`'s slot in [`LAST_FOUND`].
fn hint(table: &'static [Spec]) -> &'static AtomicUsize {
    &LAST_FOUND[(table.as_ptr() as usize >> 6) % LAST_FOUND.len()]
}

/// [`find`]'s last row per table (tables share a hint when their
/// addresses collide).
static LAST_FOUND: [AtomicUsize; 8] = [const { AtomicUsize::new(0) }; 8];

/// How the store runs one of its commands: only the store's table makes
/// one.
#[derive(Clone, Copy)]
pub struct Run(pub(crate) Kind);

/// One of Redis's command flags.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Flag {
    /// It may change data.
    Write,
    /// It only reads data.
    Readonly,
    /// It may grow the data: refused when out of memory.
    Denyoom,
    /// An administrative command.
    Admin,
    /// Not allowed in scripts.
    Noscript,
    /// Allowed while the data set loads.
    Loading,
    /// Allowed on a replica with stale data.
    Stale,
    /// Not logged in the slow log.
    SkipSlowlog,
    /// Not shown to MONITOR as it is (EVAL: the script's commands are).
    SkipMonitor,
    /// Movable keys of which there may be none (EVAL's numkeys may be 0).
    NoMandatoryKeys,
    /// O(1) or O(log n), never delaying the server.
    Fast,
    /// Allowed before authentication.
    NoAuth,
    /// Allowed while a script is busy.
    AllowBusy,
    /// A Pub/Sub command.
    Pubsub,
    /// It may block the client (BLPOP, …).
    Blocking,
    /// Refused while a replica loads its data in the background.
    NoAsyncLoading,
    /// Refused inside MULTI.
    NoMulti,
    /// Sent to replicas though it writes nothing (PUBLISH, PFCOUNT): a
    /// `CLIENT PAUSE WRITE` holds it. Redis 7.0's `COMMAND INFO` does not
    /// list it, nor does Basalt's.
    MayReplicate,
}

impl Flag {
    /// The name in `COMMAND INFO`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Write => "write",
            Self::Readonly => "readonly",
            Self::Denyoom => "denyoom",
            Self::Admin => "admin",
            Self::Noscript => "noscript",
            Self::Loading => "loading",
            Self::Stale => "stale",
            Self::SkipSlowlog => "skip_slowlog",
            Self::SkipMonitor => "skip_monitor",
            Self::NoMandatoryKeys => "no_mandatory_keys",
            Self::Fast => "fast",
            Self::NoAuth => "no_auth",
            Self::AllowBusy => "allow_busy",
            Self::Pubsub => "pubsub",
            Self::Blocking => "blocking",
            Self::NoAsyncLoading => "no_async_loading",
            Self::NoMulti => "no_multi",
            Self::MayReplicate => "may_replicate",
        }
    }
}

/// Where the keys are: Redis's first key, last key and step (what `COMMAND
/// INFO` shows: the arguments `first`, `first + step`, … up to `last`,
/// negative counted from the end, −1 the last argument; none when `first`
/// is 0), and the keys that range cannot show, which only the arguments
/// tell (Redis's "movable keys").
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Keys {
    /// The first key's position (the name is 0).
    pub first: i32,
    /// The last key's position.
    pub last: i32,
    /// The distance between keys.
    pub step: i32,
    /// Keys found from the arguments, besides the range.
    pub movable: Option<Movable>,
}

/// Keys a command's arguments locate (`COMMAND INFO` flags such a command
/// `movablekeys`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Movable {
    /// GEORADIUS's and GEORADIUSBYMEMBER's key specs: the argument after
    /// the first `STORE`, then the one after the first `STOREDIST`, each
    /// looked for from argument `from` (where the options start) to the
    /// last but one.
    GeoStore {
        /// Where the options start.
        from: u8,
    },
    /// Redis's "keynum" key spec: argument `at` holds the number of keys,
    /// which follow it one by one (ZUNION's `numkeys key...`).
    Counted {
        /// The count's position.
        at: u8,
    },
    /// XREAD's: the first half of the arguments after the first
    /// `STREAMS` (the other half are IDs).
    Streams,
    /// SORT's: the destination of its last `STORE` option, read the way
    /// Redis's `sortGetKeys` reads the options; SORT_RO (`store: false`)
    /// has no destination, only the range's key.
    Sort {
        /// Whether a STORE option names a key.
        store: bool,
    },
}

impl Keys {
    /// No keys.
    pub const NONE: Keys = Keys::new(0, 0, 0);
    /// The first argument.
    pub const ONE: Keys = Keys::new(1, 1, 1);
    /// The first two arguments (a source and a destination).
    pub const TWO: Keys = Keys::new(1, 2, 1);
    /// The second argument (a subcommand's key).
    pub const SECOND: Keys = Keys::new(2, 2, 1);
    /// Every argument.
    pub const ALL: Keys = Keys::new(1, -1, 1);
    /// Every other argument: key value pairs.
    pub const PAIRS: Keys = Keys::new(1, -1, 2);
    /// Every argument from the second (BITOP's destination and sources).
    pub const FROM_SECOND: Keys = Keys::new(2, -1, 1);
    /// `numkeys key...` from the first argument (ZUNION, SINTERCARD,
    /// ZMPOP): no fixed range.
    pub const COUNTED: Keys = Keys::NONE.moving(Movable::Counted { at: 1 });
    /// `destination numkeys key...` (ZUNIONSTORE).
    pub const STORE_COUNTED: Keys = Keys::ONE.moving(Movable::Counted { at: 2 });
    /// Every argument but the last: the keys of BLPOP and its kin, whose
    /// last argument is the timeout.
    pub const ALL_BUT_LAST: Keys = Keys::new(1, -2, 1);
    /// `x numkeys key...`, the count second: BLMPOP's and BZMPOP's after
    /// their timeout, EVAL's after its script.
    pub const TIMEOUT_COUNTED: Keys = Keys::NONE.moving(Movable::Counted { at: 2 });
    /// XREAD's: the keys after STREAMS, half of what follows it.
    pub const STREAMS: Keys = Keys::NONE.moving(Movable::Streams);
    /// SORT's key and its STORE destination.
    pub const SORT: Keys = Keys::ONE.moving(Movable::Sort { store: true });
    /// SORT_RO's key (found by the same reading as SORT's, as in Redis).
    pub const SORT_RO: Keys = Keys::ONE.moving(Movable::Sort { store: false });
    /// GEORADIUS's key and its STORE and STOREDIST destinations.
    pub const GEO_STORE: Keys = Keys::ONE.moving(Movable::GeoStore { from: 6 });
    /// GEORADIUSBYMEMBER's, whose options start an argument earlier.
    pub const GEO_MEMBER_STORE: Keys = Keys::ONE.moving(Movable::GeoStore { from: 5 });

    const fn new(first: i32, last: i32, step: i32) -> Keys {
        Keys {
            first,
            last,
            step,
            movable: None,
        }
    }

    const fn moving(self, movable: Movable) -> Keys {
        Keys {
            movable: Some(movable),
            ..self
        }
    }

    /// Whether the arguments locate keys the range cannot show (Redis's
    /// `movablekeys` flag).
    pub fn is_movable(&self) -> bool {
        self.movable.is_some()
    }

    /// The positions of the keys in `args` (the command's name at 0, a
    /// subcommand's at 1), in the order `COMMAND GETKEYS` lists them
    /// (ascending, but for GEORADIUS's STORE before its STOREDIST);
    /// empty where the count is no valid number of keys for the
    /// arguments given (Redis then reports them as invalid).
    pub fn positions(&self, args: &[&[u8]]) -> Vec<usize> {
        let argc = args.len();
        let mut out = Vec::new();
        match self.movable {
            Some(Movable::Counted { at }) => {
                // A STORE_COUNTED destination comes before the count.
                out.extend(self.range(argc));
                let at = usize::from(at);
                let Some(count) = args.get(at).map(|c| atoi(c)) else {
                    return Vec::new();
                };
                let first = at + 1;
                match usize::try_from(count) {
                    Ok(n) if n >= 1 && n <= argc.saturating_sub(first) => {
                        out.extend(first..first + n)
                    }
                    _ => return Vec::new(),
                }
            }
            Some(Movable::Sort { store }) => {
                out.extend(self.range(argc));
                if store && let Some(dest) = sort_store(args) {
                    out.push(dest);
                }
            }
            Some(Movable::GeoStore { from }) => {
                out.extend(self.range(argc));
                for word in ["store", "storedist"] {
                    out.extend(after_keyword(args, usize::from(from), word));
                }
            }
            Some(Movable::Streams) => {
                let Some(at) = args.iter().position(|a| a.eq_ignore_ascii_case(b"streams")) else {
                    return Vec::new();
                };
                let rest = argc - at - 1;
                if rest == 0 || rest % 2 == 1 {
                    return Vec::new();
                }
                out.extend(at + 1..at + 1 + rest / 2);
            }
            None => out.extend(self.range(argc)),
        }
        out
    }

    /// The positions of the range among `argc` arguments.
    fn range(&self, argc: usize) -> impl Iterator<Item = usize> {
        let argc = argc as i64;
        let first = i64::from(self.first);
        let last = if self.last < 0 {
            argc + i64::from(self.last)
        } else {
            i64::from(self.last)
        };
        let step = usize::try_from(self.step).unwrap_or(1).max(1);
        let end = if first == 0 { 0 } else { (last + 1).min(argc) };
        (first.max(0)..end.max(0)).step_by(step).map(|i| i as usize)
    }
}

/// The position of SORT's destination: after the last `STORE` that has an
/// argument, skipping the arguments of `LIMIT` (two), `GET` and `BY` (one
/// each) as Redis's `sortGetKeys` does (so a STORE that is the argument of
/// one of those is no option).
fn sort_store(args: &[&[u8]]) -> Option<usize> {
    let mut dest = None;
    let mut i = 2;
    while i < args.len() {
        let word = args[i];
        if word.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if word.eq_ignore_ascii_case(b"get") || word.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if word.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            dest = Some(i + 1);
        }
        i += 1;
    }
    dest
}

/// The position after the first `keyword` from argument `from` on (a
/// last argument is no keyword: nothing follows it), as Redis 7.0's
/// keyword key specs find it.
fn after_keyword(args: &[&[u8]], from: usize, keyword: &str) -> Option<usize> {
    let last = args.len().checked_sub(1)?;
    (from..last)
        .find(|&i| args[i].eq_ignore_ascii_case(keyword.as_bytes()))
        .map(|i| i + 1)
}

/// C's `atoi`, as Redis's key finders read a key count: leading white
/// space, a sign and the digits up to the first other byte (none: 0),
/// saturated to a C `long` and then cut to an `int`.
fn atoi(s: &[u8]) -> i32 {
    // C's `isspace`: vertical tab included.
    let blank = s
        .iter()
        .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        .count();
    let s = &s[blank..];
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for d in digits.iter().take_while(|d| d.is_ascii_digit()) {
        let d = i64::from(d - b'0');
        n = if negative {
            n.saturating_mul(10).saturating_sub(d)
        } else {
            n.saturating_mul(10).saturating_add(d)
        };
    }
    // The cut to 32 bits keeps the low bits, as C's conversion does.
    n as i32
}

/// A command's group, as `COMMAND DOCS` names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Group {
    /// Bit operations on strings.
    Bitmap,
    /// The connection's own state.
    Connection,
    /// Commands on keys of any type.
    Generic,
    /// Hashes.
    Hash,
    /// HyperLogLog cardinality estimates (on strings).
    HyperLogLog,
    /// Geospatial indexes (sorted sets of geohashes).
    Geo,
    /// Lists.
    List,
    /// Publish and subscribe.
    Pubsub,
    /// The server's state.
    Server,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Streams.
    Stream,
    /// Strings.
    String,
    /// MULTI, EXEC and WATCH.
    Transactions,
    /// EVAL and the script cache.
    Scripting,
}

impl Group {
    /// The name in `COMMAND DOCS`.
    pub fn doc_name(self) -> &'static str {
        match self {
            Self::Bitmap => "bitmap",
            Self::Connection => "connection",
            Self::Generic => "generic",
            Self::Geo => "geo",
            Self::Hash => "hash",
            Self::HyperLogLog => "hyperloglog",
            Self::List => "list",
            Self::Pubsub => "pubsub",
            Self::Server => "server",
            Self::Set => "set",
            Self::SortedSet => "sorted-set",
            Self::Stream => "stream",
            Self::String => "string",
            Self::Transactions => "transactions",
            Self::Scripting => "scripting",
        }
    }

    /// The ACL category of the group's commands (none for the server's:
    /// theirs come from their flags and rows).
    pub const fn category(self) -> Option<Category> {
        Some(match self {
            Self::Bitmap => Category::Bitmap,
            Self::Connection => Category::Connection,
            Self::Generic => Category::Keyspace,
            Self::Geo => Category::Geo,
            Self::Hash => Category::Hash,
            Self::HyperLogLog => Category::HyperLogLog,
            Self::List => Category::List,
            Self::Pubsub => Category::Pubsub,
            Self::Server => return None,
            Self::Set => Category::Set,
            Self::SortedSet => Category::SortedSet,
            Self::Stream => Category::Stream,
            Self::String => Category::String,
            Self::Transactions => Category::Transaction,
            Self::Scripting => Category::Scripting,
        })
    }
}

/// A [`Spec`] with every field named, in this order; `acl`, `tips`,
/// `key_specs` and `subcommands` may be left out (the group's category,
/// none, none, none). `flags` lists [`Flag`]s, `keys` names a [`Keys`]
/// constant, `group` a [`Group`] and `acl` [`Category`]s. A key spec is
/// written `[flags…; begin; find]`, with [`KeyFlag`]s and the
/// constructors of [`Begin`] and [`Find`].
///
/// ```
/// use kvs_core::command::{Begin, Category, Flag, KeyFlag, Keys, Spec};
/// static TIME: Spec = kvs_core::spec! {
///     name: "time", arity: 1, flags: [Loading, Stale, Fast], keys: NONE,
///     group: Server, since: "2.6.0", run: None,
///     summary: "Returns the server's time: seconds and microseconds.",
///     syntax: "",
///     tips: ["nondeterministic_output"],
/// };
/// assert_eq!(TIME.flags, [Flag::Loading, Flag::Stale, Flag::Fast]);
/// assert_eq!(TIME.keys, Keys::NONE);
/// assert_eq!(TIME.categories(), [Category::Fast]);
/// assert!(TIME.subcommands.is_empty() && TIME.key_specs.is_empty());
///
/// static GET: Spec = kvs_core::spec! {
///     name: "get", arity: 2, flags: [Readonly, Fast], keys: ONE,
///     group: String, since: "1.0.0", run: None,
///     summary: "Returns a string's value.",
///     syntax: "key",
///     key_specs: [[Ro Access; index(1); range(0, 1, 0)]],
/// };
/// assert_eq!(GET.key_specs[0].flags, [KeyFlag::Ro, KeyFlag::Access]);
/// assert_eq!(GET.key_specs[0].begin, Begin::index(1));
/// assert_eq!(GET.categories(), [Category::Read, Category::String, Category::Fast]);
/// ```
#[macro_export]
macro_rules! spec {
    (
        name: $name:expr, arity: $arity:expr, flags: [$($flag:ident),* $(,)?],
        keys: $keys:ident, group: $group:ident, since: $since:expr, run: $run:expr,
        summary: $summary:expr, syntax: $syntax:expr
        $(, acl: $acl:tt)? $(, tips: $tips:tt)? $(, key_specs: $key_specs:tt)?
        $(, subcommands: $subcommands:expr)? $(,)?
    ) => {
        $crate::command::Spec {
            name: $name,
            arity: $arity,
            flags: &[$($crate::command::Flag::$flag),*],
            keys: $crate::command::Keys::$keys,
            group: $crate::command::Group::$group,
            since: $since,
            summary: $summary,
            syntax: $syntax,
            acl: $crate::spec!(@acl $($acl)?),
            tips: $crate::spec!(@tips $($tips)?),
            key_specs: $crate::spec!(@key_specs $($key_specs)?),
            subcommands: $crate::spec!(@subcommands $($subcommands)?),
            run: $run,
        }
    };
    (@acl) => { None };
    (@acl [$($category:ident),* $(,)?]) => {
        Some(&[$($crate::command::Category::$category),*])
    };
    (@tips) => { &[] };
    (@tips [$($tip:expr),* $(,)?]) => { &[$($tip),*] };
    (@key_specs) => { &[] };
    (@key_specs [$(
        [$($flag:ident)*; $begin:ident($($b:expr),*); $find:ident($($f:expr),*)]
    ),* $(,)?]) => {
        &[$($crate::command::KeySpec {
            flags: &[$($crate::command::KeyFlag::$flag),*],
            begin: $crate::command::Begin::$begin($($b),*),
            find: $crate::command::Find::$find($($f),*),
        }),*]
    };
    (@subcommands) => { &[] };
    (@subcommands $subcommands:expr) => { $subcommands };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `row` may try either table's hint first only because no name is
    /// in both.
    #[test]
    fn the_front_end_and_the_store_share_no_command() {
        for spec in FRONT_END {
            assert!(
                plain_find(COMMANDS, spec.name.as_bytes()).is_none(),
                "{} is in both tables",
                spec.name
            );
        }
    }

    fn plain_find(table: &'static [Spec], name: &[u8]) -> Option<&'static Spec> {
        table
            .iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
    }

    /// Whatever the hint holds, `find` answers what a plain search of the
    /// table does: lookups in both tables interleaved, in any case,
    /// repeated, with names that differ only in length or are no command.
    #[test]
    fn find_agrees_with_a_plain_search_whatever_came_before() {
        let mut names: Vec<Vec<u8>> = Vec::new();
        for spec in COMMANDS.iter().chain(FRONT_END) {
            names.push(spec.name.as_bytes().to_vec());
            names.push(spec.name.to_ascii_uppercase().into_bytes());
            let mut longer = spec.name.as_bytes().to_vec();
            longer.push(b'x');
            names.push(longer);
            names.push(spec.name.as_bytes()[..spec.name.len() - 1].to_vec());
        }
        names.push(b"".to_vec());
        names.push([b'g'; 40].to_vec());
        // A fixed shuffle, each name asked of both tables and of `row`.
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..4 * names.len() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let name = &names[(seed % names.len() as u64) as usize];
            for table in [COMMANDS, FRONT_END, COMMANDS] {
                let got = find(table, name).map(|s| s.name);
                assert_eq!(
                    got,
                    plain_find(table, name).map(|s| s.name),
                    "{:?}",
                    alloc::string::String::from_utf8_lossy(name)
                );
            }
            let either = plain_find(FRONT_END, name).or_else(|| plain_find(COMMANDS, name));
            if !name.contains(&b'|') {
                assert_eq!(row(name).map(|s| s.name), either.map(|s| s.name));
            }
        }
    }

    fn keys(k: Keys, line: &str) -> Vec<&str> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        k.positions(&args)
            .into_iter()
            .map(|i| core::str::from_utf8(args[i]).unwrap())
            .collect()
    }

    #[test]
    fn ranges() {
        assert_eq!(keys(Keys::ONE, "get a"), ["a"]);
        assert_eq!(keys(Keys::PAIRS, "mset a 1 b"), ["a", "b"]);
        assert_eq!(keys(Keys::FROM_SECOND, "bitop and d a b"), ["d", "a", "b"]);
        assert_eq!(keys(Keys::SECOND, "object freq a"), ["a"]);
        assert!(keys(Keys::NONE, "ping x").is_empty());
        assert!(!Keys::ALL.is_movable() && Keys::COUNTED.is_movable());
    }

    #[test]
    fn counted_keys_as_redis_reads_the_count() {
        assert_eq!(keys(Keys::COUNTED, "zunion 2 a b c d"), ["a", "b"]);
        assert_eq!(keys(Keys::COUNTED, "zmpop 3 a b min"), ["a", "b", "min"]);
        assert_eq!(
            keys(Keys::STORE_COUNTED, "zunionstore d 2 a b"),
            ["d", "a", "b"]
        );
        // C's atoi: blanks, a sign, digits up to the first other byte,
        // and a cut to 32 bits.
        assert_eq!(keys(Keys::COUNTED, "zunion 01 a"), ["a"]);
        assert_eq!(keys(Keys::COUNTED, "zunion 1x a"), ["a"]);
        assert_eq!(keys(Keys::COUNTED, "zunion 4294967297 a"), ["a"]);
        assert_eq!(atoi(b" \x0b+7"), 7);
        assert_eq!(atoi(b"99999999999999999999999"), -1);
        // No keys at all when the count is no valid one.
        for bad in [
            "zunion 0 a",
            "zunion -1 a",
            "zunion x a",
            "zunion 3 a b",
            "zunion 2147483648 a",
            "zunion",
        ] {
            assert!(keys(Keys::COUNTED, bad).is_empty(), "{bad}");
        }
        assert!(keys(Keys::STORE_COUNTED, "zunionstore d 2 a").is_empty());
    }

    #[test]
    fn sort_finds_the_last_store() {
        assert_eq!(keys(Keys::SORT, "sort a store d store e"), ["a", "e"]);
        assert_eq!(
            keys(Keys::SORT, "sort a limit store x y store z"),
            ["a", "z"]
        );
        // GET's and BY's argument is no option, a last STORE has no key.
        assert_eq!(keys(Keys::SORT, "sort a get store"), ["a"]);
        assert_eq!(keys(Keys::SORT, "sort a by store store"), ["a"]);
        assert_eq!(keys(Keys::SORT, "sort a store"), ["a"]);
        assert_eq!(keys(Keys::SORT_RO, "sort_ro a store b"), ["a"]);
    }

    #[test]
    fn georadius_finds_store_then_storedist() {
        // As redis-server 7.0.15's COMMAND GETKEYS lists them.
        let geo = Keys::GEO_STORE;
        assert!(geo.is_movable());
        assert_eq!(keys(geo, "georadius k 1 2 3 km store d"), ["k", "d"]);
        assert_eq!(
            keys(geo, "georadius k 1 2 3 km storedist e STORE d store x"),
            ["k", "d", "e"]
        );
        assert_eq!(
            keys(geo, "georadius k 1 2 3 km store store"),
            ["k", "store"]
        );
        // Not before the options, and a last keyword has no key.
        assert_eq!(keys(geo, "georadius k 1 2 3 store d km"), ["k"]);
        assert_eq!(keys(geo, "georadius k 1 2 3 km store"), ["k"]);
        let member = Keys::GEO_MEMBER_STORE;
        assert_eq!(
            keys(member, "georadiusbymember k m 3 km x store d"),
            ["k", "d"]
        );
        assert_eq!(
            keys(member, "georadiusbymember k m 3 km store d"),
            ["k", "d"]
        );
        assert_eq!(keys(member, "georadiusbymember k m store d km"), ["k"]);
    }
}
