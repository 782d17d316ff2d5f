//! The parameters `CONFIG GET` and `CONFIG SET` know: a fixed table, with
//! Redis's names, value syntax, defaults and error words.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kvs_core::num::parse_i64;

/// What values a parameter takes.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer in `min..=max`.
    Int { min: i64, max: i64 },
    /// A byte count with an optional unit (`k`, `kb`, `m`, `mb`, `g`,
    /// `gb`), at least `min`; shown in bytes.
    Memory { min: i64 },
    /// One of the words (case-insensitive; shown in lower case).
    Enum(&'static [&'static str]),
    /// `save`: pairs `<seconds> <changes>` separated by single spaces, or
    /// empty.
    Save,
    /// Any string.
    Text,
}

/// One parameter.
#[derive(Debug)]
struct Param {
    name: &'static str,
    /// The name Redis 6 used (the `ziplist` spellings), also accepted.
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    /// Whether `CONFIG SET` may change it (the component may always).
    mutable: bool,
}

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: true,
    }
}

const fn aliased(
    name: &'static str,
    alias: &'static str,
    kind: Kind,
    default: &'static str,
) -> Param {
    Param {
        name,
        alias: Some(alias),
        kind,
        default,
        mutable: true,
    }
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param {
        name,
        alias: None,
        kind,
        default,
        mutable: false,
    }
}

const INT32: Kind = Kind::Int {
    min: 0,
    max: i32::MAX as i64,
};
const COUNT: Kind = Kind::Int {
    min: 0,
    max: i64::MAX,
};
const MB: i64 = 1024 * 1024;

/// Every parameter, sorted by name. Most are remembered only (Basalt's
/// store has no encodings to tune, no eviction, no snapshots);
/// `docs/resp.md` says which take effect.
static PARAMS: &[Param] = &[
    p("activerehashing", Kind::Bool, "yes"),
    p(
        "appendfsync",
        Kind::Enum(&["always", "everysec", "no"]),
        "everysec",
    ),
    p("appendonly", Kind::Bool, "no"),
    p(
        "client-query-buffer-limit",
        Kind::Memory { min: MB },
        "1073741824",
    ),
    fixed(
        "databases",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "16",
    ),
    aliased(
        "hash-max-listpack-entries",
        "hash-max-ziplist-entries",
        COUNT,
        "512",
    ),
    aliased(
        "hash-max-listpack-value",
        "hash-max-ziplist-value",
        COUNT,
        "64",
    ),
    p("hll-sparse-max-bytes", Kind::Memory { min: 0 }, "3000"),
    p("hz", Kind::Int { min: 1, max: 500 }, "10"),
    p("list-compress-depth", INT32, "0"),
    aliased(
        "list-max-listpack-size",
        "list-max-ziplist-size",
        Kind::Int {
            min: i32::MIN as i64,
            max: i32::MAX as i64,
        },
        "-2",
    ),
    p(
        "loglevel",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
        "notice",
    ),
    p(
        "maxclients",
        Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        "10000",
    ),
    p("maxmemory", Kind::Memory { min: 0 }, "0"),
    p(
        "maxmemory-policy",
        Kind::Enum(&[
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "noeviction",
        ]),
        "noeviction",
    ),
    fixed("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    p("proto-max-bulk-len", Kind::Memory { min: MB }, "536870912"),
    // Setting a password would promise authentication, which Basalt does
    // not enforce.
    fixed("requirepass", Kind::Text, ""),
    p("save", Kind::Save, ""),
    p("set-max-intset-entries", COUNT, "512"),
    p("set-max-listpack-entries", COUNT, "128"),
    p("set-max-listpack-value", COUNT, "64"),
    p("stream-node-max-bytes", Kind::Memory { min: 0 }, "4096"),
    p("stream-node-max-entries", COUNT, "100"),
    p("tcp-keepalive", INT32, "300"),
    p("timeout", INT32, "0"),
    aliased(
        "zset-max-listpack-entries",
        "zset-max-ziplist-entries",
        COUNT,
        "128",
    ),
    aliased(
        "zset-max-listpack-value",
        "zset-max-ziplist-value",
        COUNT,
        "64",
    ),
];

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

/// The parameters' values. The component sets its own (`port`,
/// `appendonly`, `maxclients`, …) with [`Config::set`] before serving;
/// clients read and change them with `CONFIG GET/SET`.
///
/// ```
/// let mut config = resp::Config::default();
/// config.set("proto-max-bulk-len", "64mb").unwrap();
/// assert_eq!(config.get("proto-max-bulk-len"), Some("67108864"));
/// assert_eq!(config.proto_max_bulk_len(), 64 << 20);
/// assert!(config.set("appendonly", "maybe").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    values: Vec<String>,
    proto_max_bulk_len: u64,
    query_buffer_limit: u64,
    maxclients: u64,
    databases: u32,
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Self {
            values: PARAMS.iter().map(|p| p.default.to_string()).collect(),
            proto_max_bulk_len: 0,
            query_buffer_limit: 0,
            maxclients: 0,
            databases: 0,
        };
        config.refresh();
        config
    }
}

impl Config {
    /// The value of parameter `name` (or its alias), as `CONFIG GET` shows
    /// it.
    pub fn get(&self, name: &str) -> Option<&str> {
        find(name.as_bytes()).map(|i| self.values[i].as_str())
    }

    /// Sets parameter `name` (immutable ones included) to `value`, checked
    /// and normalised as `CONFIG SET` does.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let i = find(name.as_bytes()).ok_or(ConfigError::Unknown)?;
        self.values[i] = normalise(&PARAMS[i].kind, value.as_bytes())?;
        self.refresh();
        Ok(())
    }

    /// `proto-max-bulk-len`: the longest bulk string a request may hold.
    pub fn proto_max_bulk_len(&self) -> u64 {
        self.proto_max_bulk_len
    }

    /// `client-query-buffer-limit`: the most bytes a connection may hold
    /// of a command in progress (and of commands waiting behind full
    /// output) before it is closed.
    pub fn query_buffer_limit(&self) -> u64 {
        self.query_buffer_limit
    }

    /// `maxclients`: connections beyond this many are refused.
    pub fn maxclients(&self) -> u64 {
        self.maxclients
    }

    /// `databases`: the number of databases `INFO keyspace` looks at.
    pub fn databases(&self) -> u32 {
        self.databases
    }

    /// `appendonly` is `yes`.
    pub fn appendonly(&self) -> bool {
        self.get("appendonly") == Some("yes")
    }

    /// Caches the values the hot path reads.
    fn refresh(&mut self) {
        let num = |config: &Self, name: &str| {
            config
                .get(name)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        self.proto_max_bulk_len = num(self, "proto-max-bulk-len");
        self.query_buffer_limit = num(self, "client-query-buffer-limit");
        self.maxclients = num(self, "maxclients");
        self.databases = u32::try_from(num(self, "databases")).unwrap_or(u32::MAX);
    }

    /// `CONFIG GET pattern…`: appends the reply, each matching parameter
    /// once, in name order.
    pub(crate) fn write_get(&self, patterns: &[&[u8]], out: &mut Vec<u8>) {
        let lowered: Vec<Vec<u8>> = patterns.iter().map(|p| p.to_ascii_lowercase()).collect();
        let matches = |name: &str| {
            lowered
                .iter()
                .any(|p| kvs_core::glob::matches(p, name.as_bytes()))
        };
        let mut found: Vec<(&str, &str)> = Vec::new();
        for (param, value) in PARAMS.iter().zip(&self.values) {
            if matches(param.name) {
                found.push((param.name, value));
            }
            if let Some(alias) = param.alias
                && matches(alias)
            {
                found.push((alias, value));
            }
        }
        crate::reply::array(out, found.len() * 2);
        for (name, value) in found {
            crate::reply::bulk(out, name.as_bytes());
            crate::reply::bulk(out, value.as_bytes());
        }
    }

    /// `CONFIG SET name value [name value …]`: all or nothing; appends
    /// the reply.
    pub(crate) fn write_set(&mut self, pairs: &[&[u8]], out: &mut Vec<u8>) {
        let mut staged: Vec<(usize, String)> = Vec::with_capacity(pairs.len() / 2);
        for pair in pairs.chunks(2) {
            let [name, value] = pair else {
                crate::reply::syntax(out);
                return;
            };
            let Some(i) = find(name) else {
                let mut msg =
                    b"ERR Unknown option or number of arguments for CONFIG SET - '".to_vec();
                msg.extend_from_slice(name);
                msg.push(b'\'');
                crate::reply::error(out, &msg);
                return;
            };
            let checked = if staged.iter().any(|(j, _)| *j == i) {
                Err(ConfigError::Duplicate)
            } else if !PARAMS[i].mutable {
                Err(ConfigError::Immutable)
            } else {
                normalise(&PARAMS[i].kind, value)
            };
            match checked {
                Ok(v) => staged.push((i, v)),
                Err(e) => {
                    let mut msg = b"ERR CONFIG SET failed (possibly related to argument '".to_vec();
                    msg.extend_from_slice(name);
                    msg.extend_from_slice(b"') - ");
                    msg.extend_from_slice(e.reason().as_bytes());
                    crate::reply::error(out, &msg);
                    return;
                }
            }
        }
        for (i, v) in staged {
            self.values[i] = v;
        }
        self.refresh();
        crate::reply::ok(out);
    }
}

/// The index of the parameter called `name` (or with that alias),
/// case-insensitively.
fn find(name: &[u8]) -> Option<usize> {
    PARAMS.iter().position(|p| {
        name.eq_ignore_ascii_case(p.name.as_bytes())
            || p.alias
                .is_some_and(|a| name.eq_ignore_ascii_case(a.as_bytes()))
    })
}

/// Checks `value` against `kind`; the form `CONFIG GET` shows.
fn normalise(kind: &Kind, value: &[u8]) -> Result<String, ConfigError> {
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
        Kind::Text => core::str::from_utf8(value)
            .map(ToString::to_string)
            .map_err(|_| invalid("argument must be text")),
    }
}

/// A memory value: digits, then optionally `b`, `k` (1000), `kb` (1024),
/// `m`, `mb`, `g` or `gb`, case-insensitive, as Redis's `memtoull`.
fn parse_memory(value: &[u8]) -> Option<i64> {
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
    fn table_is_sorted_and_defaults_are_valid() {
        for w in PARAMS.windows(2) {
            assert!(w[0].name < w[1].name, "{} >= {}", w[0].name, w[1].name);
        }
        for param in PARAMS {
            assert_eq!(
                normalise(&param.kind, param.default.as_bytes()).as_deref(),
                Ok(param.default),
                "{}",
                param.name
            );
        }
        let c = Config::default();
        assert_eq!(c.proto_max_bulk_len(), 512 * 1024 * 1024);
        assert_eq!(c.query_buffer_limit(), 1024 * 1024 * 1024);
        assert_eq!(c.maxclients(), 10000);
        assert_eq!(c.databases(), 16);
        assert!(!c.appendonly());
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

    fn set(c: &mut Config, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        c.write_set(&args, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn get(c: &Config, patterns: &[&str]) -> String {
        let patterns: Vec<&[u8]> = patterns.iter().map(|a| a.as_bytes()).collect();
        let mut out = Vec::new();
        c.write_get(&patterns, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn set_checks_everything_first() {
        let mut c = Config::default();
        assert_eq!(set(&mut c, &["maxmemory", "10mb"]), "+OK\r\n");
        assert_eq!(c.get("maxmemory"), Some("10485760"));
        assert_eq!(
            set(&mut c, &["maxmemory", "1gb", "timeout", "x"]),
            "-ERR CONFIG SET failed (possibly related to argument 'timeout') - \
             argument couldn't be parsed into an integer\r\n"
        );
        assert_eq!(c.get("maxmemory"), Some("10485760"), "nothing applied");
        assert_eq!(
            set(&mut c, &["maxmemory", "1gb", "maxmemory", "2gb"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n"
        );
        assert_eq!(
            set(&mut c, &["nope", "1"]),
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nope'\r\n"
        );
        assert_eq!(
            set(&mut c, &["maxmemory", "1", "b"]),
            "-ERR syntax error\r\n"
        );
        assert_eq!(
            set(&mut c, &["databases", "3"]),
            "-ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config\r\n"
        );
        assert_eq!(
            set(&mut c, &["maxmemory", "abc"]),
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n"
        );
        assert_eq!(
            set(&mut c, &["appendonly", "maybe"]),
            "-ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'\r\n"
        );
        assert_eq!(
            set(&mut c, &["timeout", "-1"]),
            "-ERR CONFIG SET failed (possibly related to argument 'timeout') - \
             argument must be between 0 and 2147483647 inclusive\r\n"
        );
        assert_eq!(
            set(&mut c, &["proto-max-bulk-len", "10"]),
            "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - \
             argument must be between 1048576 and 9223372036854775807 inclusive\r\n"
        );
        assert!(set(&mut c, &["maxmemory-policy", "foo"]).starts_with(
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - \
                 argument(s) must be one of the following: volatile-lru, volatile-lfu,"
        ));
        for bad in ["x", "10", "10  1", "10 -1"] {
            assert_eq!(
                set(&mut c, &["save", bad]),
                "-ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters\r\n"
            );
        }
        assert_eq!(set(&mut c, &["save", "3600 1 300 100"]), "+OK\r\n");
        assert_eq!(c.get("save"), Some("3600 1 300 100"));
        assert_eq!(set(&mut c, &["APPENDONLY", "YES", "Hz", "100"]), "+OK\r\n");
        assert!(c.appendonly());
        assert_eq!(c.get("hz"), Some("100"));
        assert_eq!(set(&mut c, &["proto-max-bulk-len", "1mb"]), "+OK\r\n");
        assert_eq!(c.proto_max_bulk_len(), 1 << 20);
    }

    #[test]
    fn get_matches_names_and_aliases() {
        let mut c = Config::default();
        assert_eq!(get(&c, &["save"]), "*2\r\n$4\r\nsave\r\n$0\r\n\r\n");
        assert_eq!(
            get(&c, &["appendonly"]),
            "*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n"
        );
        assert_eq!(get(&c, &["nope"]), "*0\r\n");
        assert_eq!(
            get(&c, &["*max-listpack*"]),
            "*14\r\n$25\r\nhash-max-listpack-entries\r\n$3\r\n512\r\n\
             $23\r\nhash-max-listpack-value\r\n$2\r\n64\r\n\
             $22\r\nlist-max-listpack-size\r\n$2\r\n-2\r\n\
             $24\r\nset-max-listpack-entries\r\n$3\r\n128\r\n\
             $22\r\nset-max-listpack-value\r\n$2\r\n64\r\n\
             $25\r\nzset-max-listpack-entries\r\n$3\r\n128\r\n\
             $23\r\nzset-max-listpack-value\r\n$2\r\n64\r\n"
        );
        set(&mut c, &["hash-max-ziplist-entries", "1000"]);
        assert_eq!(c.get("hash-max-listpack-entries"), Some("1000"));
        assert_eq!(
            get(&c, &["HASH-MAX-ZIPLIST-ENTRIES"]),
            "*2\r\n$24\r\nhash-max-ziplist-entries\r\n$4\r\n1000\r\n"
        );
        // Several patterns: each parameter once.
        let both = get(&c, &["save", "sa*", "appendonly"]);
        assert_eq!(both.matches("$4\r\nsave\r\n").count(), 1);
        assert!(both.starts_with("*4\r\n"), "{both}");
        assert_eq!(
            get(&c, &["*"]).matches("\r\n$").count(),
            2 * (PARAMS.len() + 5)
        );
    }

    #[test]
    fn the_component_sets_immutable_ones() {
        let mut c = Config::default();
        c.set("port", "7000").unwrap();
        assert_eq!(c.get("port"), Some("7000"));
        assert_eq!(
            c.set("port", "70000"),
            Err(ConfigError::Invalid(
                "argument must be between 0 and 65535 inclusive".into()
            ))
        );
        assert_eq!(c.set("nope", "1"), Err(ConfigError::Unknown));
    }
}
