//! Parameters as `CONFIG GET` and `CONFIG SET` see them: tables with
//! Redis's names, value syntax, defaults and error words. The store keeps
//! the parameters that govern it ([`STORE`]: memory, eviction, the
//! size of sparse HyperLogLogs and the thresholds of Redis's compact
//! encodings, which `OBJECT ENCODING` and `DUMP` follow) and answers `CONFIG` for them; a front
//! end keeps its own in a table of the same kind and passes the store's
//! on.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use crate::num::parse_i64;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer in `min..=max`.
    Int {
        /// The least value.
        min: i64,
        /// The greatest value.
        max: i64,
    },
    /// A byte count with an optional unit (`k`, `kb`, `m`, `mb`, `g`,
    /// `gb`), at least `min`; shown in bytes.
    Memory {
        /// The least value.
        min: i64,
    },
    /// One of the words (case-insensitive; shown in lower case).
    Enum(&'static [&'static str]),
    /// `save`: pairs `<seconds> <changes>` separated by single spaces, or
    /// empty.
    Save,
    /// Any string.
    Text,
    /// `notify-keyspace-events`: letters of event classes
    /// ([`crate::notify::Classes`]), shown in Redis's order.
    KeyspaceEvents,
    /// `client-output-buffer-limit`: groups `<class> <hard> <soft>
    /// <soft-seconds>` separated by single spaces, the class `normal`,
    /// `replica` (or `slave`) or `pubsub`; a value sets the classes it
    /// names and keeps the others. Shown for every class, in that order
    /// (`replica` as `slave`), in bytes.
    OutputBufferLimits,
}

/// The classes of `client-output-buffer-limit`, in the order it is shown.
pub const OUTPUT_CLASSES: [&str; 3] = ["normal", "slave", "pubsub"];

/// `client-output-buffer-limit` as Redis 7.0 starts with it.
pub const OUTPUT_BUFFER_DEFAULTS: &str =
    "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60";

/// The limits of one class of `client-output-buffer-limit`; 0 is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OutputLimit {
    /// Bytes of pending output that close the client at once.
    pub hard: u64,
    /// Bytes of pending output that close the client once they have
    /// lasted `soft_seconds`.
    pub soft: u64,
    /// How long the soft limit may be passed.
    pub soft_seconds: u64,
}

/// The limits of class `class` (`normal`, `slave` or `pubsub`) in `value`,
/// a `client-output-buffer-limit` as shown; the default (none) where it
/// is missing.
///
/// ```
/// use kvs_core::config::{output_limit, OutputLimit, OUTPUT_BUFFER_DEFAULTS};
/// assert_eq!(
///     output_limit(OUTPUT_BUFFER_DEFAULTS, "pubsub"),
///     OutputLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 }
/// );
/// ```
pub fn output_limit(value: &str, class: &str) -> OutputLimit {
    let words: Vec<&str> = value.split(' ').collect();
    words
        .chunks(4)
        .find(|g| g.first() == Some(&class))
        .and_then(|g| {
            Some(OutputLimit {
                hard: g.get(1)?.parse().ok()?,
                soft: g.get(2)?.parse().ok()?,
                soft_seconds: g.get(3)?.parse().ok()?,
            })
        })
        .unwrap_or_default()
}

/// `current` with the classes `value` names set as it says, or Redis's
/// reason it is wrong (nothing is set then).
fn merge_output_limits(current: &str, value: &[u8]) -> Result<String, ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid(why.to_string());
    let text = core::str::from_utf8(value)
        .map_err(|_| invalid("Wrong number of arguments in buffer limit configuration."))?;
    let words: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').collect()
    };
    if !words.len().is_multiple_of(4) {
        return Err(invalid(
            "Wrong number of arguments in buffer limit configuration.",
        ));
    }
    let mut classes: Vec<(&str, OutputLimit)> = OUTPUT_CLASSES
        .iter()
        .map(|&c| (c, output_limit(current, c)))
        .collect();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => 0,
            "slave" | "replica" => 1,
            "pubsub" => 2,
            _ => {
                return Err(invalid(
                    "Invalid client class specified in buffer limit configuration.",
                ));
            }
        };
        let bytes = |w: &str| parse_memory(w.as_bytes()).and_then(|n| u64::try_from(n).ok());
        let seconds = parse_i64(group[3].as_bytes()).and_then(|n| u64::try_from(n).ok());
        let (Some(hard), Some(soft), Some(soft_seconds)) =
            (bytes(group[1]), bytes(group[2]), seconds)
        else {
            return Err(invalid(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.",
            ));
        };
        classes[class].1 = OutputLimit {
            hard,
            soft,
            soft_seconds,
        };
    }
    let shown: Vec<String> = classes
        .iter()
        .map(|(c, l)| alloc::format!("{c} {} {} {}", l.hard, l.soft, l.soft_seconds))
        .collect();
    Ok(shown.join(" "))
}

/// One parameter.
#[derive(Debug)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// The name Redis 6 used (the `ziplist` spellings), also accepted.
    pub alias: Option<&'static str>,
    /// Its values.
    pub kind: Kind,
    /// Its value until set.
    pub default: &'static str,
    /// Whether `CONFIG SET` may change it (the component may always).
    pub mutable: bool,
}

impl Param {
    /// A parameter `CONFIG SET` may change.
    pub const fn new(name: &'static str, kind: Kind, default: &'static str) -> Param {
        Param {
            name,
            alias: None,
            kind,
            default,
            mutable: true,
        }
    }

    /// The same, also known by an older name.
    pub const fn aliased(
        name: &'static str,
        alias: &'static str,
        kind: Kind,
        default: &'static str,
    ) -> Param {
        Param {
            alias: Some(alias),
            ..Param::new(name, kind, default)
        }
    }

    /// A parameter only the component sets.
    pub const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
        Param {
            mutable: false,
            ..Param::new(name, kind, default)
        }
    }
}

const POSITIVE_INT32: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};

/// The policies `maxmemory-policy` takes, in Redis's order.
const POLICIES: &[&str] = &[
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "noeviction",
];

/// A count of elements or bytes, as Redis's `size_t` parameters take.
const COUNT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};

/// The store's parameters, sorted by name.
pub static STORE: &[Param] = &[
    // How long a script may run (ms; 0: without limit). Redis answers
    // others BUSY past it; Basalt's store, which runs one command at a
    // time, stops the script there (docs/scripting.md).
    Param::aliased("busy-reply-threshold", "lua-time-limit", COUNT, "5000"),
    Param::aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        COUNT,
        "512",
    ),
    Param::aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        COUNT,
        "64",
    ),
    Param::new("hll-sparse-max-bytes", Kind::Memory { min: 0 }, "3000"),
    Param::new("lfu-decay-time", POSITIVE_INT32, "1"),
    Param::new("lfu-log-factor", POSITIVE_INT32, "10"),
    Param::aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    Param::new("maxmemory", Kind::Memory { min: 0 }, "0"),
    Param::new("maxmemory-policy", Kind::Enum(POLICIES), "noeviction"),
    Param::new(
        "maxmemory-samples",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "5",
    ),
    Param::new("notify-keyspace-events", Kind::KeyspaceEvents, ""),
    Param::new("set-max-intset-entries", COUNT, "512"),
    Param::new("stream-node-max-bytes", Kind::Memory { min: 0 }, "4096"),
    Param::new("stream-node-max-entries", COUNT, "100"),
    Param::new(
        "tracking-table-max-keys",
        Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        "1000000",
    ),
    Param::aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        COUNT,
        "128",
    ),
    Param::aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        COUNT,
        "64",
    ),
];

/// Whether the store owns the parameter called `name` (any case): what
/// a front end passes on.
///
/// ```
/// assert!(kvs_core::config::is_store_param(b"MaxMemory"));
/// assert!(!kvs_core::config::is_store_param(b"appendonly"));
/// ```
pub fn is_store_param(name: &[u8]) -> bool {
    find(STORE, name).is_some()
}

/// Why a parameter was not set.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ConfigError {
    /// No parameter has that name.
    Unknown,
    /// `CONFIG SET` may not change it (`databases`, `port`,
    /// `requirepass`).
    Immutable,
    /// The same parameter twice in one `CONFIG SET`.
    Duplicate,
    /// The value does not fit the parameter; the text is Redis's reason
    /// (`argument must be 'yes' or 'no'`, …).
    Invalid(String),
}

impl ConfigError {
    /// The reason as `CONFIG SET` words it after `- `.
    fn reason(&self) -> &str {
        match self {
            Self::Unknown => "unknown parameter",
            Self::Immutable => "can't set immutable config",
            Self::Duplicate => "duplicate parameter",
            Self::Invalid(why) => why,
        }
    }
}

/// Why a `CONFIG SET` changed nothing.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SetError {
    /// An odd number of arguments.
    Syntax,
    /// No parameter has this name.
    Unknown(Vec<u8>),
    /// The parameter with this name refused its value.
    Refused(Vec<u8>, ConfigError),
}

impl SetError {
    /// Redis's error reply for it, without the leading `-`.
    ///
    /// ```
    /// use kvs_core::config::{ConfigError, SetError};
    /// assert_eq!(
    ///     SetError::Refused(b"hz".to_vec(), ConfigError::Duplicate).message(),
    ///     b"ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
    /// );
    /// ```
    pub fn message(&self) -> Vec<u8> {
        match self {
            SetError::Syntax => b"ERR syntax error".to_vec(),
            SetError::Unknown(name) => {
                let mut msg =
                    b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
                msg.extend_from_slice(name);
                msg.push(b'\'');
                msg
            }
            SetError::Refused(name, why) => {
                let mut msg = b"ERR CONFIG SET failed (possibly related to argument '".to_vec();
                msg.extend_from_slice(name);
                msg.extend_from_slice(b"') - ");
                msg.extend_from_slice(why.reason().as_bytes());
                msg
            }
        }
    }
}

/// A table of parameters and their values.
///
/// ```
/// use kvs_core::config::{Table, STORE};
/// let mut t = Table::new(STORE);
/// t.set_all(&[b"maxmemory", b"2mb"]).unwrap();
/// assert_eq!(t.get("maxmemory"), Some("2097152"));
/// assert_eq!(t.matching(&[b"maxmemory-p*"]), vec![("maxmemory-policy", "noeviction")]);
/// ```
#[derive(Clone, Debug)]
pub struct Table {
    params: &'static [Param],
    values: Vec<String>,
    /// The greatest value of each numeric parameter, where the component
    /// set one ([`Table::limit`]): what its memory allows.
    greatest: Vec<Option<i64>>,
}

impl Table {
    /// `params` (sorted by name), at their defaults.
    pub fn new(params: &'static [Param]) -> Table {
        Table {
            params,
            values: params.iter().map(|p| p.default.to_string()).collect(),
            greatest: params.iter().map(|_| None).collect(),
        }
    }

    /// Makes `greatest` the largest value numeric parameter `name` takes
    /// from now on (lowering it now if it is larger): a limit the
    /// component's memory sets on a Redis default. `CONFIG SET` of more
    /// is refused with Redis's range error, naming the limit.
    ///
    /// ```
    /// use kvs_core::config::{Table, STORE};
    /// let mut t = Table::new(STORE);
    /// t.set("maxmemory", "8mb").unwrap();
    /// t.limit("maxmemory", 1 << 20).unwrap();
    /// assert_eq!(t.get("maxmemory"), Some("1048576"));
    /// assert!(t.set_all(&[b"maxmemory", b"2mb"]).is_err());
    /// ```
    pub fn limit(&mut self, name: &str, greatest: i64) -> Result<(), ConfigError> {
        let i = find(self.params, name.as_bytes()).ok_or(ConfigError::Unknown)?;
        let least = match self.params[i].kind {
            Kind::Int { min, .. } | Kind::Memory { min } => min,
            _ => return Err(ConfigError::Invalid("not a number".to_string())),
        };
        let greatest = greatest.max(least);
        self.greatest[i] = Some(greatest);
        if self.values[i].parse::<i64>().is_ok_and(|v| v > greatest) {
            self.values[i] = greatest.to_string();
        }
        Ok(())
    }

    /// `value` checked for parameter `i`, as `CONFIG GET` shows it.
    fn check(&self, i: usize, value: &[u8]) -> Result<String, ConfigError> {
        let kind = &self.params[i].kind;
        if let Kind::OutputBufferLimits = kind {
            return merge_output_limits(&self.values[i], value);
        }
        let normal = normalise(kind, value)?;
        match (self.greatest[i], kind) {
            (Some(greatest), Kind::Int { min, .. } | Kind::Memory { min })
                if normal.parse::<i64>().is_ok_and(|v| v > greatest) =>
            {
                Err(ConfigError::Invalid(alloc::format!(
                    "argument must be between {min} and {greatest} inclusive"
                )))
            }
            _ => Ok(normal),
        }
    }

    /// The value of parameter `name` (or its alias), as `CONFIG GET`
    /// shows it.
    pub fn get(&self, name: &str) -> Option<&str> {
        find(self.params, name.as_bytes()).map(|i| self.values[i].as_str())
    }

    /// Sets parameter `name` (immutable ones included) to `value`, checked
    /// and normalised as `CONFIG SET` does.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let i = find(self.params, name.as_bytes()).ok_or(ConfigError::Unknown)?;
        self.values[i] = self.check(i, value.as_bytes())?;
        Ok(())
    }

    /// Whether the table has a parameter called `name`.
    pub fn knows(&self, name: &[u8]) -> bool {
        find(self.params, name).is_some()
    }

    /// `CONFIG GET pattern…`: each parameter matching a pattern once
    /// (under each of its names that matches), in name order.
    pub fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, &str)> {
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        let matches = |name: &str| {
            lowered
                .iter()
                .any(|p| crate::glob::matches(p, name.as_bytes()))
        };
        let mut found = Vec::new();
        for (param, value) in self.params.iter().zip(&self.values) {
            if matches(param.name) {
                found.push((param.name, value.as_str()));
            }
            if let Some(alias) = param.alias
                && matches(alias)
            {
                found.push((alias, value.as_str()));
            }
        }
        found
    }

    /// `CONFIG SET name value [name value …]`: every pair is checked
    /// before any is set, so it sets all or nothing.
    pub fn set_all(&mut self, pairs: &[&[u8]]) -> Result<(), SetError> {
        let mut staged: Vec<(usize, String)> = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks(2) {
            let [name, value] = pair else {
                return Err(SetError::Syntax);
            };
            let i = find(self.params, name).ok_or_else(|| SetError::Unknown(name.to_vec()))?;
            let param = &self.params[i];
            let checked = if staged.iter().any(|(j, _)| *j == i) {
                Err(ConfigError::Duplicate)
            } else if !param.mutable {
                Err(ConfigError::Immutable)
            } else {
                self.check(i, value)
            };
            let value = checked.map_err(|e| SetError::Refused(name.to_vec(), e))?;
            staged.push((i, value));
        }
        for (i, v) in staged {
            self.values[i] = v;
        }
        Ok(())
    }

    /// The parameters, for tests that go through them all.
    pub fn params(&self) -> &'static [Param] {
        self.params
    }
}

/// The index of the parameter called `name` (or with that alias),
/// case-insensitively.
fn find(params: &[Param], name: &[u8]) -> Option<usize> {
    params.iter().position(|p| {
        name.eq_ignore_ascii_case(p.name.as_bytes())
            || p.alias
                .is_some_and(|a| name.eq_ignore_ascii_case(a.as_bytes()))
    })
}

/// Checks `value` against `kind`; the form `CONFIG GET` shows.
pub fn normalise(kind: &Kind, value: &[u8]) -> Result<String, ConfigError> {
    let invalid = |why: &str| ConfigError::Invalid(why.to_string());
    let between = |min: i64, max: i64| {
        ConfigError::Invalid(alloc::format!(
            "argument must be between {min} and {max} inclusive"
        ))
    };
    match kind {
        Kind::Bool => {
            if value.eq_ignore_ascii_case(b"yes") {
                Ok("yes".to_string())
            } else if value.eq_ignore_ascii_case(b"no") {
                Ok("no".to_string())
            } else {
                Err(invalid("argument must be 'yes' or 'no'"))
            }
        }
        Kind::Int { min, max } => {
            let n = parse_i64(value)
                .ok_or_else(|| invalid("argument couldn't be parsed into an integer"))?;
            if n < *min || n > *max {
                return Err(between(*min, *max));
            }
            Ok(n.to_string())
        }
        Kind::Memory { min } => {
            let n =
                parse_memory(value).ok_or_else(|| invalid("argument must be a memory value"))?;
            if n < *min {
                return Err(between(*min, i64::MAX));
            }
            Ok(n.to_string())
        }
        Kind::Enum(words) => words
            .iter()
            .find(|w| value.eq_ignore_ascii_case(w.as_bytes()))
            .map(|w| w.to_string())
            .ok_or_else(|| {
                ConfigError::Invalid(alloc::format!(
                    "argument(s) must be one of the following: {}",
                    words.join(", ")
                ))
            }),
        Kind::Save => {
            let text =
                core::str::from_utf8(value).map_err(|_| invalid("Invalid save parameters"))?;
            if text.is_empty() {
                return Ok(String::new());
            }
            let fields: Vec<&str> = text.split(' ').collect();
            let numbers_ok = fields
                .iter()
                .all(|f| parse_i64(f.as_bytes()).is_some_and(|n| n >= 0));
            if !fields.len().is_multiple_of(2) || !numbers_ok {
                return Err(invalid("Invalid save parameters"));
            }
            Ok(text.to_string())
        }
        Kind::OutputBufferLimits => merge_output_limits(OUTPUT_BUFFER_DEFAULTS, value),
        Kind::Text => core::str::from_utf8(value)
            .map(ToString::to_string)
            .map_err(|_| invalid("argument must be text")),
        Kind::KeyspaceEvents => crate::notify::Classes::parse(value)
            .map(crate::notify::Classes::name)
            .ok_or_else(|| invalid("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")),
    }
}

/// A memory value: digits, then optionally `b`, `k` (1000), `kb` (1024),
/// `m`, `mb`, `g` or `gb`, case-insensitive, as Redis's `memtoull`.
///
/// ```
/// use kvs_core::config::parse_memory;
/// assert_eq!(parse_memory(b"1KB"), Some(1024));
/// assert_eq!(parse_memory(b"2g"), Some(2_000_000_000));
/// assert_eq!(parse_memory(b"1tb"), None);
/// ```
pub fn parse_memory(value: &[u8]) -> Option<i64> {
    let digits = value.iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        return None;
    }
    let unit = value[digits..].to_ascii_lowercase();
    let scale: i64 = match unit.as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let mut n: i64 = 0;
    for &c in &value[..digits] {
        n = n.checked_mul(10)?.checked_add(i64::from(c - b'0'))?;
    }
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_table_is_sorted_and_defaults_are_valid() {
        for w in STORE.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for param in STORE {
            assert_eq!(
                normalise(&param.kind, param.default.as_bytes()).as_deref(),
                Ok(param.default),
                "{}",
                param.name
            );
        }
        let names: Vec<&str> = POLICIES.to_vec();
        let known: Vec<&str> = crate::memory::Policy::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(names, known, "the words are the policies, in Redis's order");
    }

    #[test]
    fn encoding_thresholds_answer_to_their_ziplist_names() {
        let mut t = Table::new(STORE);
        t.set_all(&[b"hash-max-ziplist-entries", b"1000"]).unwrap();
        assert_eq!(t.get("hash-max-listpack-entries"), Some("1000"));
        assert_eq!(
            t.matching(&[b"HASH-MAX-ZIPLIST-ENTRIES"]),
            [("hash-max-ziplist-entries", "1000")]
        );
        assert_eq!(t.matching(&[b"*max-listpack*"]).len(), 5);
        assert_eq!(t.get("list-max-listpack-size"), Some("-2"));
        assert!(t.set_all(&[b"set-max-intset-entries", b"-1"]).is_err());
    }

    #[test]
    fn memory_values() {
        assert_eq!(parse_memory(b"10"), Some(10));
        assert_eq!(parse_memory(b"10b"), Some(10));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"10mb"), Some(10 << 20));
        assert_eq!(parse_memory(b"2g"), Some(2_000_000_000));
        assert_eq!(parse_memory(b"1gb"), Some(1 << 30));
        for bad in [
            &b""[..],
            b"mb",
            b"-1",
            b"1.5gb",
            b"1tb",
            b"99999999999999999999",
        ] {
            assert_eq!(parse_memory(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn set_all_checks_everything_first() {
        let mut t = Table::new(STORE);
        let set = |t: &mut Table, args: &[&str]| {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            t.set_all(&args)
                .map_err(|e| String::from_utf8(e.message()).unwrap())
        };
        assert_eq!(set(&mut t, &["maxmemory", "10mb"]), Ok(()));
        assert_eq!(
            set(&mut t, &["maxmemory", "1gb", "maxmemory-samples", "0"]),
            Err(
                "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - \
                 argument must be between 1 and 2147483647 inclusive"
                    .into()
            )
        );
        assert_eq!(t.get("maxmemory"), Some("10485760"), "nothing applied");
        assert_eq!(
            set(&mut t, &["maxmemory", "1", "maxmemory", "2"]),
            Err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter".into())
        );
        assert_eq!(
            set(&mut t, &["nope", "1"]),
            Err("ERR Unknown option or number of arguments for CONFIG SET - 'nope'".into())
        );
        assert_eq!(set(&mut t, &["maxmemory"]), Err("ERR syntax error".into()));
        assert_eq!(set(&mut t, &["MAXMEMORY-POLICY", "AllKeys-LFU"]), Ok(()));
        assert_eq!(t.get("maxmemory-policy"), Some("allkeys-lfu"));
        assert_eq!(
            t.matching(&[b"lfu*", b"*decay*"]),
            alloc::vec![("lfu-decay-time", "1"), ("lfu-log-factor", "10")]
        );
    }

    /// What redis-server 7.0.15 answers to the same `CONFIG SET`s, one
    /// after the other.
    #[test]
    fn output_buffer_limits_set_the_classes_they_name() {
        static PARAMS: &[Param] = &[Param::new(
            "client-output-buffer-limit",
            Kind::OutputBufferLimits,
            OUTPUT_BUFFER_DEFAULTS,
        )];
        let mut t = Table::new(PARAMS);
        let name = "client-output-buffer-limit";
        let wrong = "Wrong number of arguments in buffer limit configuration.";
        let class = "Invalid client class specified in buffer limit configuration.";
        let number = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        let steps: &[(&str, Option<&str>, &str)] = &[
            (
                "normal 1mb 0 0",
                None,
                "normal 1048576 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
            ),
            ("normal 1 2", Some(wrong), ""),
            ("foo 1 2 3", Some(class), ""),
            ("master 1 2 3", Some(class), ""),
            ("normal x 0 0", Some(number), ""),
            ("normal -1 0 0", Some(number), ""),
            ("normal 1 2 3x", Some(number), ""),
            ("normal 1 2 -3", Some(number), ""),
            ("normal  1 2 3", Some(wrong), ""),
            (
                "replica 1 2 3 pubsub 4k 5kb 6",
                None,
                "normal 1048576 0 0 slave 1 2 3 pubsub 4000 5120 6",
            ),
            (
                "",
                None,
                "normal 1048576 0 0 slave 1 2 3 pubsub 4000 5120 6",
            ),
            (
                "normal 1 2 3 normal 4 5 6",
                None,
                "normal 4 5 6 slave 1 2 3 pubsub 4000 5120 6",
            ),
            ("NORMAL 7 8 9 slave 1 2 x", Some(number), ""),
        ];
        for (value, error, shown) in steps {
            let before = t.get(name).unwrap().to_string();
            match (t.set(name, value), error) {
                (Ok(()), None) => assert_eq!(t.get(name), Some(*shown), "{value:?}"),
                (Err(ConfigError::Invalid(why)), Some(e)) => {
                    assert_eq!(why, *e, "{value:?}");
                    assert_eq!(t.get(name), Some(before.as_str()), "{value:?} changed it");
                }
                (got, _) => panic!("{value:?}: {got:?}"),
            }
        }
        assert_eq!(
            output_limit(t.get(name).unwrap(), "normal"),
            OutputLimit {
                hard: 4,
                soft: 5,
                soft_seconds: 6
            }
        );
    }
}
