//! What `COMMAND INFO` says of a command besides its arity, flags and key
//! range: its ACL categories, its tips for cluster clients, and its key
//! specifications, as Redis 7.0 gives them.
//!
//! These are facts of Redis's interface: a cluster client routes a command
//! by its key specs and tips, and an ACL rule names categories. The RESP
//! front end's differential test compares every row with redis-server's.

/// An ACL category, in the order Redis lists a command's categories.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Category {
    /// Commands on keys of any type.
    Keyspace,
    /// Reads data (implied by `readonly`).
    Read,
    /// Writes data (implied by `write`).
    Write,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Lists.
    List,
    /// Hashes.
    Hash,
    /// Strings.
    String,
    /// Bitmaps.
    Bitmap,
    /// HyperLogLog.
    HyperLogLog,
    /// Geo.
    Geo,
    /// Streams.
    Stream,
    /// Pub/Sub (implied by `pubsub`).
    Pubsub,
    /// Administration (implied by `admin`).
    Admin,
    /// O(1) or O(log n) (implied by `fast`).
    Fast,
    /// Every command not `fast`.
    Slow,
    /// May block the client (implied by `blocking`).
    Blocking,
    /// Possibly dangerous (implied by `admin`; some others too).
    Dangerous,
    /// The connection's state.
    Connection,
    /// Transactions.
    Transaction,
    /// Scripting.
    Scripting,
}

impl Category {
    /// Every category, in Redis's order.
    pub const ALL: [Category; 21] = [
        Self::Keyspace,
        Self::Read,
        Self::Write,
        Self::Set,
        Self::SortedSet,
        Self::List,
        Self::Hash,
        Self::String,
        Self::Bitmap,
        Self::HyperLogLog,
        Self::Geo,
        Self::Stream,
        Self::Pubsub,
        Self::Admin,
        Self::Fast,
        Self::Slow,
        Self::Blocking,
        Self::Dangerous,
        Self::Connection,
        Self::Transaction,
        Self::Scripting,
    ];

    /// The name in `COMMAND INFO` (and ACL rules).
    pub fn name(self) -> &'static str {
        match self {
            Self::Keyspace => "@keyspace",
            Self::Read => "@read",
            Self::Write => "@write",
            Self::Set => "@set",
            Self::SortedSet => "@sortedset",
            Self::List => "@list",
            Self::Hash => "@hash",
            Self::String => "@string",
            Self::Bitmap => "@bitmap",
            Self::HyperLogLog => "@hyperloglog",
            Self::Geo => "@geo",
            Self::Stream => "@stream",
            Self::Pubsub => "@pubsub",
            Self::Admin => "@admin",
            Self::Fast => "@fast",
            Self::Slow => "@slow",
            Self::Blocking => "@blocking",
            Self::Dangerous => "@dangerous",
            Self::Connection => "@connection",
            Self::Transaction => "@transaction",
            Self::Scripting => "@scripting",
        }
    }
}

/// A key specification's flags: how the command uses the keys it finds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum KeyFlag {
    /// Read-only.
    Ro,
    /// Read and written.
    Rw,
    /// Overwritten, not read.
    Ow,
    /// Removed.
    Rm,
    /// The value is returned or used.
    Access,
    /// The value is updated.
    Update,
    /// Data is added to the value.
    Insert,
    /// Data is removed from the value.
    Delete,
    /// Not a key, though routed like one (a shard channel).
    NotKey,
    /// The spec may miss keys (the arguments decide).
    Incomplete,
    /// The flags depend on the arguments.
    VariableFlags,
}

impl KeyFlag {
    /// The name in `COMMAND INFO`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ro => "RO",
            Self::Rw => "RW",
            Self::Ow => "OW",
            Self::Rm => "RM",
            Self::Access => "access",
            Self::Update => "update",
            Self::Insert => "insert",
            Self::Delete => "delete",
            Self::NotKey => "not_key",
            Self::Incomplete => "incomplete",
            Self::VariableFlags => "variable_flags",
        }
    }
}

/// Where a key spec's search for keys begins.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Begin {
    /// At this argument (the name is 0).
    Index {
        /// The argument's position.
        at: i32,
    },
    /// After `keyword`, looked for from argument `from` (negative: from
    /// the end, backwards).
    Keyword {
        /// The keyword, upper case.
        keyword: &'static str,
        /// Where the search starts.
        from: i32,
    },
    /// Only the arguments tell (SORT's BY and GET patterns).
    Unknown,
}

impl Begin {
    /// [`Begin::Index`].
    pub const fn index(at: i32) -> Begin {
        Begin::Index { at }
    }

    /// [`Begin::Keyword`].
    pub const fn keyword(keyword: &'static str, from: i32) -> Begin {
        Begin::Keyword { keyword, from }
    }

    /// [`Begin::Unknown`].
    pub const fn unknown() -> Begin {
        Begin::Unknown
    }
}

/// How a key spec finds keys from where its search began.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Find {
    /// Keys up to `last` (relative to the beginning; negative: counted
    /// from the end of the arguments), every `step`-th; with `limit`
    /// above 1, only that fraction of what remains (XREAD's half).
    Range {
        /// The last key, relative.
        last: i32,
        /// The distance between keys.
        step: i32,
        /// The divisor of the remaining arguments (0: none).
        limit: i32,
    },
    /// A count of keys at `at` (relative), the first key at `first`
    /// (relative), then every `step`-th.
    Keynum {
        /// The count's position, relative.
        at: i32,
        /// The first key's position, relative.
        first: i32,
        /// The distance between keys.
        step: i32,
    },
    /// Only the arguments tell.
    Unknown,
}

impl Find {
    /// [`Find::Range`].
    pub const fn range(last: i32, step: i32, limit: i32) -> Find {
        Find::Range { last, step, limit }
    }

    /// [`Find::Keynum`].
    pub const fn keynum(at: i32, first: i32, step: i32) -> Find {
        Find::Keynum { at, first, step }
    }

    /// [`Find::Unknown`].
    pub const fn unknown() -> Find {
        Find::Unknown
    }
}

/// One key specification: a way the command's keys are found, and what it
/// does with them.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct KeySpec {
    /// What the command does with these keys.
    pub flags: &'static [KeyFlag],
    /// Where the search begins.
    pub begin: Begin,
    /// How keys are found from there.
    pub find: Find,
}

impl KeySpec {
    /// Whether argument `at` of `args` (the command's name at 0) is one of
    /// the keys this spec finds there, searching as Redis 7.0's key specs
    /// search: from an index, or after a keyword looked for from
    /// `from` (forwards, or backwards from the end when negative); then a
    /// range (to `last`, relative, or counted from the end, or, with a
    /// limit, up to that fraction of what remains) or a count of keys.
    /// An unknown search finds nothing.
    pub fn finds(&self, args: &[&[u8]], at: usize) -> bool {
        let argc = args.len() as i64;
        let first = match self.begin {
            Begin::Index { at } => i64::from(at),
            Begin::Keyword { keyword, from } => {
                let from = i64::from(from);
                let mut found = None;
                let mut i = if from > 0 { from } else { argc + from };
                while (1..argc).contains(&i) {
                    if args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()) {
                        found = Some(i + 1);
                        break;
                    }
                    i += if from > 0 { 1 } else { -1 };
                }
                let Some(first) = found else {
                    return false;
                };
                first
            }
            Begin::Unknown => return false,
        };
        let (first, last, step) = match self.find {
            Find::Range { last, step, limit } => {
                let last = i64::from(last);
                let end = if last >= 0 {
                    first + last
                } else if limit <= 0 {
                    argc + last
                } else {
                    first + (argc - first) / i64::from(limit) + last
                };
                (first, end, i64::from(step))
            }
            Find::Keynum {
                at,
                first: key,
                step,
            } => {
                let Some(count) = args
                    .get((first + i64::from(at)) as usize)
                    .and_then(|c| crate::num::parse_i64(c))
                    .filter(|&n| n >= 0)
                else {
                    return false;
                };
                let start = first + i64::from(key);
                (start, start + count - 1, i64::from(step))
            }
            Find::Unknown => return false,
        };
        let at = at as i64;
        step > 0 && first <= at && at <= last && last < argc && (at - first) % step == 0
    }

    /// Whether it finds keys at fixed positions (an index and a range
    /// without limit): what Redis's first/last/step range can show.
    pub fn is_range(&self) -> bool {
        matches!(
            (self.begin, self.find),
            (Begin::Index { .. }, Find::Range { limit: 0, .. })
        )
    }
}
