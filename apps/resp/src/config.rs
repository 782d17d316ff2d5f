//! The front end's parameters for `CONFIG GET` and `CONFIG SET`: a fixed
//! table (in [`kvs_core::config`]'s form) with Redis's names, value
//! syntax, defaults and error words. The store's parameters (`maxmemory`
//! and the eviction ones) are the store's: `CONFIG` passes them on.

use alloc::vec::Vec;
pub use kvs_core::config::{ConfigError, OutputLimit};
use kvs_core::config::{Kind, OUTPUT_BUFFER_DEFAULTS, Param, SetError, Table, output_limit};

const fn p(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param::new(name, kind, default)
}

const fn fixed(name: &'static str, kind: Kind, default: &'static str) -> Param {
    Param::fixed(name, kind, default)
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

/// Every parameter of the front end, sorted by name. Most are remembered
/// only (Basalt's store has no encodings to tune, no snapshots);
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
        "client-output-buffer-limit",
        Kind::OutputBufferLimits,
        OUTPUT_BUFFER_DEFAULTS,
    ),
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
    p("hz", Kind::Int { min: 1, max: 500 }, "10"),
    p("latency-monitor-threshold", COUNT, "0"),
    p("list-compress-depth", INT32, "0"),
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
    p("maxmemory-clients", Kind::Memory { min: 0 }, "0"),
    fixed("port", Kind::Int { min: 0, max: 65535 }, "6379"),
    p("proto-max-bulk-len", Kind::Memory { min: MB }, "536870912"),
    // Setting a password would promise authentication, which Basalt does
    // not enforce.
    fixed("requirepass", Kind::Text, ""),
    p("save", Kind::Save, ""),
    p("set-max-listpack-entries", COUNT, "128"),
    p("set-max-listpack-value", COUNT, "64"),
    p(
        "slowlog-log-slower-than",
        Kind::Int {
            min: -1,
            max: i64::MAX,
        },
        "10000",
    ),
    p("slowlog-max-len", COUNT, "128"),
    p("tcp-keepalive", INT32, "300"),
    p("timeout", INT32, "0"),
];

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
    table: Table,
    proto_max_bulk_len: u64,
    query_buffer_limit: u64,
    maxclients: u64,
    maxmemory_clients: u64,
    output_normal: OutputLimit,
    output_pubsub: OutputLimit,
    databases: u32,
    slow: Slow,
}

/// What SLOWLOG and LATENCY record (`slowlog-log-slower-than`,
/// `slowlog-max-len`, `latency-monitor-threshold`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Slow {
    /// Commands that take at least this many microseconds go to the
    /// slow log; none when negative.
    pub(crate) log_slower_than_us: i64,
    /// The most entries the slow log keeps.
    pub(crate) log_max_len: u64,
    /// Commands that take at least this many milliseconds are a latency
    /// event; none when 0.
    pub(crate) latency_threshold_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        let mut config = Self {
            table: Table::new(PARAMS),
            proto_max_bulk_len: 0,
            query_buffer_limit: 0,
            maxclients: 0,
            maxmemory_clients: 0,
            output_normal: OutputLimit::default(),
            output_pubsub: OutputLimit::default(),
            databases: 0,
            slow: Slow::default(),
        };
        config.refresh();
        config
    }
}

impl Config {
    /// The value of parameter `name` (or its alias), as `CONFIG GET` shows
    /// it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.table.get(name)
    }

    /// Sets parameter `name` (immutable ones included) to `value`, checked
    /// and normalised as `CONFIG SET` does.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        self.table.set(name, value)?;
        self.refresh();
        Ok(())
    }

    /// Makes `greatest` the largest value numeric parameter `name` takes
    /// (lowering it now if larger): the component caps Redis's defaults
    /// (`proto-max-bulk-len`, `client-query-buffer-limit`) by what its
    /// memory and the store's region can carry. `CONFIG SET` of more is
    /// refused with Redis's range error.
    ///
    /// ```
    /// let mut config = resp::Config::default();
    /// config.limit("client-query-buffer-limit", 4 << 20).unwrap();
    /// assert_eq!(config.query_buffer_limit(), 4 << 20);
    /// assert!(config.set("client-query-buffer-limit", "1gb").is_err());
    /// ```
    pub fn limit(&mut self, name: &str, greatest: u64) -> Result<(), ConfigError> {
        let greatest = i64::try_from(greatest).unwrap_or(i64::MAX);
        self.table.limit(name, greatest)?;
        self.refresh();
        Ok(())
    }

    /// Whether the front end has a parameter called `name`.
    pub(crate) fn knows(&self, name: &[u8]) -> bool {
        self.table.knows(name)
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

    /// `maxmemory-clients`: the most bytes all connections may hold
    /// together; 0 for no limit of its own (the component's memory still
    /// is one, see [`Frontend::set_client_memory`](crate::Frontend::set_client_memory)).
    pub fn maxmemory_clients(&self) -> u64 {
        self.maxmemory_clients
    }

    /// `client-output-buffer-limit` of class `normal`: the replies a
    /// connection may have waiting before it is closed.
    pub fn output_limit(&self) -> OutputLimit {
        self.output_normal
    }

    /// `client-output-buffer-limit` of class `pubsub`: the replies and
    /// messages a subscribed connection may have waiting before it is
    /// closed.
    pub fn output_limit_pubsub(&self) -> OutputLimit {
        self.output_pubsub
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
        self.maxmemory_clients = num(self, "maxmemory-clients");
        let limits = self.get("client-output-buffer-limit").unwrap_or("");
        let (normal, pubsub) = (
            output_limit(limits, "normal"),
            output_limit(limits, "pubsub"),
        );
        self.output_normal = normal;
        self.output_pubsub = pubsub;
        self.databases = u32::try_from(num(self, "databases")).unwrap_or(u32::MAX);
        self.slow = Slow {
            log_slower_than_us: self
                .get("slowlog-log-slower-than")
                .and_then(|v| v.parse().ok())
                .unwrap_or(-1),
            log_max_len: num(self, "slowlog-max-len"),
            latency_threshold_ms: num(self, "latency-monitor-threshold"),
        };
    }

    /// What SLOWLOG and LATENCY record.
    pub(crate) fn slow(&self) -> Slow {
        self.slow
    }

    /// The parameters matching `patterns` (`CONFIG GET`), each once, in
    /// name order.
    pub(crate) fn matching(&self, patterns: &[&[u8]]) -> Vec<(&'static str, &str)> {
        self.table.matching(patterns)
    }

    /// `CONFIG SET name value [name value …]` of the front end's
    /// parameters: all or nothing.
    pub(crate) fn set_all(&mut self, pairs: &[&[u8]]) -> Result<(), SetError> {
        self.table.set_all(pairs)?;
        self.refresh();
        Ok(())
    }

    /// Whether `CONFIG SET` would take `pairs` (nothing changes).
    pub(crate) fn check(&self, pairs: &[&[u8]]) -> Result<(), SetError> {
        self.table.clone().set_all(pairs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;
    use kvs_core::config::normalise;

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
            assert!(
                !kvs_core::config::is_store_param(param.name.as_bytes()),
                "{} is the store's",
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

    fn set(c: &mut Config, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        match c.set_all(&args) {
            Ok(()) => "OK".into(),
            Err(e) => String::from_utf8(e.message()).unwrap(),
        }
    }

    fn get(c: &Config, patterns: &[&str]) -> Vec<(String, String)> {
        let patterns: Vec<&[u8]> = patterns.iter().map(|a| a.as_bytes()).collect();
        c.matching(&patterns)
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect()
    }

    #[test]
    fn set_checks_everything_first() {
        let mut c = Config::default();
        assert_eq!(set(&mut c, &["proto-max-bulk-len", "10mb"]), "OK");
        assert_eq!(c.get("proto-max-bulk-len"), Some("10485760"));
        assert_eq!(
            set(&mut c, &["proto-max-bulk-len", "1gb", "timeout", "x"]),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - \
             argument couldn't be parsed into an integer"
        );
        assert_eq!(
            c.get("proto-max-bulk-len"),
            Some("10485760"),
            "nothing applied"
        );
        assert_eq!(
            set(&mut c, &["hz", "10", "hz", "20"]),
            "ERR CONFIG SET failed (possibly related to argument 'hz') - duplicate parameter"
        );
        assert_eq!(
            set(&mut c, &["nope", "1"]),
            "ERR Unknown option or number of arguments for CONFIG SET - 'nope'"
        );
        assert_eq!(set(&mut c, &["hz", "1", "b"]), "ERR syntax error");
        assert_eq!(
            set(&mut c, &["databases", "3"]),
            "ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        );
        assert_eq!(
            set(&mut c, &["client-query-buffer-limit", "abc"]),
            "ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - argument must be a memory value"
        );
        assert_eq!(
            set(&mut c, &["appendonly", "maybe"]),
            "ERR CONFIG SET failed (possibly related to argument 'appendonly') - argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set(&mut c, &["timeout", "-1"]),
            "ERR CONFIG SET failed (possibly related to argument 'timeout') - \
             argument must be between 0 and 2147483647 inclusive"
        );
        assert_eq!(
            set(&mut c, &["proto-max-bulk-len", "10"]),
            "ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - \
             argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        assert!(set(&mut c, &["loglevel", "foo"]).starts_with(
            "ERR CONFIG SET failed (possibly related to argument 'loglevel') - \
                 argument(s) must be one of the following: debug, verbose,"
        ));
        for bad in ["x", "10", "10  1", "10 -1"] {
            assert_eq!(
                set(&mut c, &["save", bad]),
                "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters"
            );
        }
        assert_eq!(set(&mut c, &["save", "3600 1 300 100"]), "OK");
        assert_eq!(c.get("save"), Some("3600 1 300 100"));
        assert_eq!(set(&mut c, &["APPENDONLY", "YES", "Hz", "100"]), "OK");
        assert!(c.appendonly());
        assert_eq!(c.get("hz"), Some("100"));
        assert_eq!(set(&mut c, &["proto-max-bulk-len", "1mb"]), "OK");
        assert_eq!(c.proto_max_bulk_len(), 1 << 20);
        assert!(c.check(&[b"hz", b"0"]).is_err());
        assert!(c.check(&[b"hz", b"50"]).is_ok());
        assert_eq!(c.get("hz"), Some("100"), "check changes nothing");
    }

    #[test]
    fn get_matches_names_and_aliases() {
        let mut c = Config::default();
        let pair = |n: &str, v: &str| (String::from(n), String::from(v));
        assert_eq!(get(&c, &["save"]), [pair("save", "")]);
        assert_eq!(get(&c, &["appendonly"]), [pair("appendonly", "no")]);
        assert_eq!(get(&c, &["nope"]), []);
        // The encodings' thresholds are the store's (kvs-core tests
        // their `ziplist` aliases).
        assert_eq!(
            get(&c, &["*max-listpack*"]),
            [
                pair("set-max-listpack-entries", "128"),
                pair("set-max-listpack-value", "64"),
            ]
        );
        set(&mut c, &["hz", "20"]);
        assert_eq!(get(&c, &["HZ"]), [pair("hz", "20")]);
        // Several patterns: each parameter once.
        let both = get(&c, &["save", "sa*", "appendonly"]);
        assert_eq!(both.len(), 2, "{both:?}");
        assert_eq!(get(&c, &["*"]).len(), PARAMS.len());
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
