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

use crate::cmd::Kind;

pub use crate::cmd::table::COMMANDS;

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

/// The command called `name` in `table` (sorted by name), whatever the
/// case of `name`.
pub fn find(table: &'static [Spec], name: &[u8]) -> Option<&'static Spec> {
    // Binary search on the lower-case name: every command is looked up
    // so. A name longer than the buffer is no command (a test checks that
    // the store's fit).
    let mut buf = [0u8; 24];
    let lower = buf.get_mut(..name.len())?;
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    let lower = &*lower;
    table
        .binary_search_by(|s| s.name.as_bytes().cmp(lower))
        .ok()
        .map(|i| &table[i])
}

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
    /// O(1) or O(log n), never delaying the server.
    Fast,
    /// Allowed before authentication.
    NoAuth,
    /// Allowed while a script is busy.
    AllowBusy,
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
            Self::Fast => "fast",
            Self::NoAuth => "no_auth",
            Self::AllowBusy => "allow_busy",
        }
    }
}

/// Where the keys are (Redis's first key, last key and step): the
/// arguments `first`, `first + step`, … up to `last` (negative: counted
/// from the end, −1 the last argument); none when `first` is 0.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Keys {
    /// The first key's position (the name is 0).
    pub first: i32,
    /// The last key's position.
    pub last: i32,
    /// The distance between keys.
    pub step: i32,
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

    const fn new(first: i32, last: i32, step: i32) -> Keys {
        Keys { first, last, step }
    }
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
    /// Lists.
    List,
    /// The server's state.
    Server,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Strings.
    String,
    /// MULTI, EXEC and WATCH.
    Transactions,
}

impl Group {
    /// The name in `COMMAND DOCS`.
    pub fn doc_name(self) -> &'static str {
        match self {
            Self::Bitmap => "bitmap",
            Self::Connection => "connection",
            Self::Generic => "generic",
            Self::Hash => "hash",
            Self::List => "list",
            Self::Server => "server",
            Self::Set => "set",
            Self::SortedSet => "sorted-set",
            Self::String => "string",
            Self::Transactions => "transactions",
        }
    }

    /// The ACL category in `COMMAND INFO`.
    pub fn category(self) -> &'static str {
        match self {
            Self::Bitmap => "@bitmap",
            Self::Connection => "@connection",
            Self::Generic => "@keyspace",
            Self::Hash => "@hash",
            Self::List => "@list",
            Self::Server => "@admin",
            Self::Set => "@set",
            Self::SortedSet => "@sortedset",
            Self::String => "@string",
            Self::Transactions => "@transaction",
        }
    }
}

/// A [`Spec`] with every field named, in this order; `subcommands` may be
/// left out (none). `flags` lists [`Flag`]s, `keys` names a [`Keys`]
/// constant and `group` a [`Group`].
///
/// ```
/// use kvs_core::command::{Flag, Keys, Spec};
/// static TIME: Spec = kvs_core::spec! {
///     name: "time", arity: 1, flags: [Loading, Stale, Fast], keys: NONE,
///     group: Server, since: "2.6.0", run: None,
///     summary: "Returns the server's time: seconds and microseconds.",
///     syntax: "",
/// };
/// assert_eq!(TIME.flags, [Flag::Loading, Flag::Stale, Flag::Fast]);
/// assert_eq!(TIME.keys, Keys::NONE);
/// assert!(TIME.subcommands.is_empty());
/// ```
#[macro_export]
macro_rules! spec {
    (
        name: $name:expr, arity: $arity:expr, flags: [$($flag:ident),* $(,)?],
        keys: $keys:ident, group: $group:ident, since: $since:expr, run: $run:expr,
        summary: $summary:expr, syntax: $syntax:expr
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
            subcommands: $crate::spec!(@subcommands $($subcommands)?),
            run: $run,
        }
    };
    (@subcommands) => { &[] };
    (@subcommands $subcommands:expr) => { $subcommands };
}
