//! Reading one file of a config tree: the system file or a component file,
//! checked on its own (keys, types, ranges). What involves several files is
//! in `validate`.

use super::diag::{At, Loc, Report};
use super::size;
use basalt_abi::start_info::NAME_BYTES;
use manifest::{Budget, Device, Exhausted, Heap, PciId, PciInterrupt, Restart};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeArray, DeTable, DeValue};

type Value<'i> = Spanned<DeValue<'i>>;

/// Memory budget when `system.toml` sets none.
pub const DEFAULT_MEMORY: u64 = 192 << 20;
/// Heap of a component whose file sets none.
pub const DEFAULT_HEAP: u64 = 256 << 10;
/// Stack of a component whose file sets none.
pub const DEFAULT_STACK: u64 = 64 << 10;
/// `restart-limit` when `restart = "on-failure"` sets none.
pub const DEFAULT_RESTART_LIMIT: u32 = 3;
/// `restart-window` (seconds) when `restart = "on-failure"` sets none.
pub const DEFAULT_RESTART_WINDOW: u32 = 60;
/// Highest priority a component may have (255 is init's).
pub const MAX_PRIORITY: i128 = 254;
/// Highest IRQ line the kernel hands out (docs/abi.md, `IRQ_CONTROL_GET`).
pub const MAX_IRQ: i128 = 23;
/// I/O ports the kernel drives itself and never hands out (kept in step
/// with `KERNEL_PORTS` in kernel/src/arch/x86_64/invoke/io_ports.rs).
pub const KERNEL_PORTS: [(u16, u16, &str); 6] = [
    (0x20, 0x21, "the master PIC"),
    (0x40, 0x43, "the PIT"),
    (0x61, 0x61, "the speaker gate"),
    (0xa0, 0xa1, "the slave PIC"),
    (0xf4, 0xf7, "QEMU's debug-exit device"),
    (0x3f8, 0x3ff, "COM1"),
];

/// The PCI configuration ports, which init keeps for its scan: a driver
/// reaches only its own function's configuration space, the page a
/// `kind = "pci"` device grants (docs/config.md).
pub const PCI_CONFIG_PORTS: (u16, u16) = (0xcf8, 0xcff);

pub const SYSTEM_KEYS: [&str; 4] = ["name", "memory", "components", "region"];
pub const REGION_KEYS: [&str; 4] = ["name", "size", "writers", "readers"];
pub const COMPONENT_KEYS: [&str; 14] = [
    "binary",
    "priority",
    "heap",
    "stack",
    "restart",
    "restart-limit",
    "restart-window",
    "restart-exhausted",
    "args",
    "serves",
    "uses",
    "notifications",
    "signals",
    "device",
];

/// `system.toml`.
pub struct SystemFile {
    pub name: Option<At<String>>,
    /// The budget and where it was set (the file's start for the default);
    /// `None` when the value is unusable.
    pub memory: Option<At<u64>>,
    /// The `components` list and the span of the whole array.
    pub components: Option<(Vec<At<String>>, Loc)>,
    pub regions: Vec<RegionDecl>,
}

/// One `[[region]]`.
pub struct RegionDecl {
    pub name: Option<At<String>>,
    pub size: u64,
    pub writers: Vec<At<String>>,
    pub readers: Vec<At<String>>,
}

/// A `<component>.toml`. Values that were wrong are reported and replaced
/// by a harmless default, so the other checks still run.
pub struct ComponentFile {
    pub name: String,
    pub file: usize,
    pub binary: Option<At<String>>,
    pub priority: u8,
    /// The heap, and where it was written (the file's start for the
    /// default).
    pub heap: At<Heap>,
    pub stack: u64,
    pub restart: Restart,
    /// The `[args]`, in the file's order (checked against the binary's
    /// declaration in `args`).
    pub args: Vec<Arg>,
    /// The `[args]` table, if any.
    pub args_loc: Option<Loc>,
    pub serves: Vec<At<String>>,
    pub uses: Vec<At<String>>,
    pub notifications: Vec<At<String>>,
    pub signals: Vec<At<String>>,
    pub devices: Vec<At<Device>>,
}

/// One `[args]` entry: its key and its value as the component reads it
/// (text), each with its place, and what the TOML value was.
#[derive(Clone, Debug)]
pub struct Arg {
    pub key: At<String>,
    pub value: At<String>,
    pub toml: ArgType,
}

/// The TOML type of an argument's value (the component gets text either
/// way: integers in decimal, booleans as `true` or `false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    String,
    Integer,
    Boolean,
}

/// Reads the values of one file, reporting what is wrong.
pub struct Reader<'r> {
    pub report: &'r mut Report,
    pub file: usize,
}

/// Why a name is not acceptable, if it is not: 1 to `max` bytes of
/// lowercase ASCII letters, digits, `-` and `_`, starting with a letter or
/// digit.
pub fn bad_name(name: &str, max: usize) -> Option<String> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    let ok_start = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if name.is_empty() {
        Some("a name cannot be empty".into())
    } else if !ok_chars || !ok_start {
        Some(format!(
            "`{name}` is not a valid name: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
        ))
    } else if name.len() > max {
        Some(format!(
            "`{name}` is {} bytes long; names are at most {max} bytes",
            name.len()
        ))
    } else {
        None
    }
}

pub use libcap_link::declare::suggest;

impl Reader<'_> {
    pub fn loc(&self, span: Range<usize>) -> Loc {
        Loc {
            file: self.file,
            span,
        }
    }

    pub fn error(&mut self, span: Range<usize>, message: impl Into<String>) {
        let loc = self.loc(span);
        self.report.error(&loc, message);
    }

    /// Reports every key of `table` that is not in `known`.
    pub fn check_keys(&mut self, table: &DeTable<'_>, what: &str, known: &[&str]) {
        for key in table.keys() {
            let k = key.get_ref().as_ref();
            if known.contains(&k) {
                continue;
            }
            let hint = match suggest(k, known) {
                Some(s) => format!("; did you mean `{s}`?"),
                None => format!(" (known keys: {})", known.join(", ")),
            };
            self.error(key.span(), format!("unknown key `{k}` in {what}{hint}"));
        }
    }

    /// The value of `key`, or an error at `at` saying it is missing.
    pub fn required<'t, 'i>(
        &mut self,
        table: &'t DeTable<'i>,
        key: &str,
        at: &Range<usize>,
        what: &str,
        example: &str,
    ) -> Option<&'t Value<'i>> {
        let v = table.get(key);
        if v.is_none() {
            self.error(
                at.clone(),
                format!("missing required key `{key}` in {what} (e.g. `{example}`)"),
            );
        }
        v
    }

    fn wrong_type(&mut self, key: &str, v: &Value<'_>, wanted: &str) {
        self.error(
            v.span(),
            format!("`{key}` must be {wanted}, not {}", article(v.get_ref())),
        );
    }

    pub fn string(&mut self, key: &str, v: &Value<'_>) -> Option<At<String>> {
        match v.get_ref() {
            DeValue::String(s) => Some(At {
                value: s.to_string(),
                loc: self.loc(v.span()),
            }),
            _ => {
                self.wrong_type(key, v, "a string");
                None
            }
        }
    }

    /// A string that must be a valid name of at most `max` bytes.
    pub fn name(&mut self, key: &str, v: &Value<'_>, max: usize) -> Option<At<String>> {
        let s = self.string(key, v)?;
        match bad_name(&s.value, max) {
            Some(why) => {
                self.error(v.span(), format!("`{key}`: {why}"));
                None
            }
            None => Some(s),
        }
    }

    pub fn integer(&mut self, key: &str, v: &Value<'_>) -> Option<i128> {
        match v.get_ref() {
            DeValue::Integer(i) => match i128::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(n),
                Err(_) => {
                    self.error(v.span(), format!("`{key}` is too large"));
                    None
                }
            },
            _ => {
                self.wrong_type(key, v, "an integer");
                None
            }
        }
    }

    /// An integer in `range`; `what` describes the range in the error.
    pub fn integer_in(
        &mut self,
        key: &str,
        v: &Value<'_>,
        range: std::ops::RangeInclusive<i128>,
        what: &str,
    ) -> Option<i128> {
        let n = self.integer(key, v)?;
        if range.contains(&n) {
            Some(n)
        } else {
            self.error(v.span(), format!("`{key}` = {n} is out of range: {what}"));
            None
        }
    }

    /// A size: a string like `"64 KiB"` or an integer number of bytes,
    /// not zero, and (`paged`) a multiple of 4 KiB.
    pub fn size(&mut self, key: &str, v: &Value<'_>, paged: bool) -> Option<u64> {
        let bytes = match v.get_ref() {
            DeValue::String(s) => size::parse(s).map_err(|e| format!("`{key}`: {e}")),
            DeValue::Integer(_) => {
                let n = self.integer(key, v)?;
                u64::try_from(n).map_err(|_| format!("`{key}` = {n} is not a size"))
            }
            _ => {
                self.wrong_type(key, v, "a size such as \"64 KiB\"");
                return None;
            }
        };
        let bytes = match bytes {
            Ok(0) => Err(format!("`{key}` cannot be zero")),
            Ok(b) if paged && !b.is_multiple_of(size::PAGE) => Err(format!(
                "`{key}` = {b} bytes is not a multiple of 4 KiB (4096 bytes)"
            )),
            other => other,
        };
        bytes.map_err(|e| self.error(v.span(), e)).ok()
    }

    /// An array of names; a name listed twice is reported.
    pub fn names(&mut self, key: &str, v: &Value<'_>) -> Vec<At<String>> {
        let Some(items) = self.array(key, v) else {
            return Vec::new();
        };
        let mut out: Vec<At<String>> = Vec::new();
        for item in items.iter() {
            let Some(n) = self.name(key, item, NAME_BYTES) else {
                continue;
            };
            if out.iter().any(|o| o.value == n.value) {
                self.error(
                    item.span(),
                    format!("`{}` is listed twice in `{key}`", n.value),
                );
            } else {
                out.push(n);
            }
        }
        out
    }

    pub fn array<'t, 'i>(&mut self, key: &str, v: &'t Value<'i>) -> Option<&'t DeArray<'i>> {
        match v.get_ref() {
            DeValue::Array(a) => Some(a),
            _ => {
                self.wrong_type(key, v, "an array");
                None
            }
        }
    }

    /// The tables of an array of tables (`[[key]]`), each with its span.
    pub fn tables<'t, 'i>(
        &mut self,
        key: &str,
        v: &'t Value<'i>,
    ) -> Vec<(&'t DeTable<'i>, Range<usize>)> {
        let Some(items) = self.array(key, v) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for item in items.iter() {
            match item.get_ref() {
                DeValue::Table(t) => out.push((t, item.span())),
                _ => self.wrong_type(key, item, "an array of tables (`[[key]]`)"),
            }
        }
        out
    }
}

fn article(v: &DeValue<'_>) -> String {
    match v.type_str() {
        t @ ("integer" | "array") => format!("an {t}"),
        t => format!("a {t}"),
    }
}

/// Reads `system.toml`.
pub fn system(r: &mut Reader<'_>, doc: &DeTable<'_>) -> SystemFile {
    let what = "system.toml";
    let top = 0..0;
    r.check_keys(doc, what, &SYSTEM_KEYS);
    let name = r
        .required(doc, "name", &top, what, "name = \"hello\"")
        .and_then(|v| r.name("name", v, NAME_BYTES));
    let memory = match doc.get("memory") {
        None => Some(At {
            value: DEFAULT_MEMORY,
            loc: r.loc(top.clone()),
        }),
        Some(v) => r.size("memory", v, false).map(|value| At {
            value,
            loc: r.loc(v.span()),
        }),
    };
    let components = doc.get("components").map(|v| {
        let list = r.array("components", v).map(|items| {
            items
                .iter()
                .filter_map(|item| r.string("components", item))
                .collect()
        });
        (list.unwrap_or_default(), r.loc(v.span()))
    });
    let mut regions = Vec::new();
    if let Some(v) = doc.get("region") {
        for (t, span) in r.tables("region", v) {
            regions.push(region(r, t, span));
        }
    }
    SystemFile {
        name,
        memory,
        components,
        regions,
    }
}

fn region(r: &mut Reader<'_>, t: &DeTable<'_>, span: Range<usize>) -> RegionDecl {
    let what = "[[region]]";
    r.check_keys(t, what, &REGION_KEYS);
    let name = r
        .required(t, "name", &span, what, "name = \"rx-ring\"")
        .and_then(|v| r.name("name", v, NAME_BYTES));
    let size = r
        .required(t, "size", &span, what, "size = \"64 KiB\"")
        .and_then(|v| r.size("size", v, true))
        .unwrap_or(0);
    let writers = t
        .get("writers")
        .map_or_else(Vec::new, |v| r.names("writers", v));
    let readers = t
        .get("readers")
        .map_or_else(Vec::new, |v| r.names("readers", v));
    if writers.is_empty() && readers.is_empty() {
        r.error(
            span.clone(),
            "this region has no users: list components in `writers` or `readers`",
        );
    }
    for w in &writers {
        if readers.iter().any(|x| x.value == w.value) {
            let at = w.loc.span.clone();
            r.error(
                at,
                format!(
                    "`{}` is both a writer and a reader of this region: list it in one",
                    w.value
                ),
            );
        }
    }
    RegionDecl {
        name,
        size,
        writers,
        readers,
    }
}

/// Reads the file of component `name`.
pub fn component(r: &mut Reader<'_>, name: &str, doc: &DeTable<'_>) -> ComponentFile {
    let what = format!("{name}.toml");
    let top = 0..0;
    r.check_keys(doc, &what, &COMPONENT_KEYS);
    let binary = r
        .required(doc, "binary", &top, &what, &format!("binary = \"{name}\""))
        .and_then(|v| {
            let max =
                basalt_abi::boot_info::MODULE_NAME_BYTES - manifest::BINARY_MODULE_PREFIX.len();
            r.name("binary", v, max)
        });
    let priority = r
        .required(doc, "priority", &top, &what, "priority = 100")
        .and_then(|v| {
            let n = r.integer("priority", v)?;
            if n == 255 {
                r.error(v.span(), "priority 255 is init's: components use 0-254");
                None
            } else {
                r.integer_in("priority", v, 0..=MAX_PRIORITY, "components use 0-254")
            }
        })
        .unwrap_or(0) as u8;
    let heap = match doc.get("heap") {
        None => At {
            value: Heap::Bytes(DEFAULT_HEAP),
            loc: Loc::start_of(r.file),
        },
        Some(v) => At {
            value: heap(r, v).unwrap_or(Heap::Bytes(0)),
            loc: r.loc(v.span()),
        },
    };
    let stack = doc
        .get("stack")
        .map_or(Some(DEFAULT_STACK), |v| r.size("stack", v, true))
        .unwrap_or(0);
    let restart = restart(r, doc);
    let (args, args_loc) = match doc.get("args") {
        Some(v) => (args(r, v), Some(r.loc(v.span()))),
        None => (Vec::new(), None),
    };
    let mut list = |key: &str| doc.get(key).map_or_else(Vec::new, |v| r.names(key, v));
    let (serves, uses) = (list("serves"), list("uses"));
    let (notifications, signals) = (list("notifications"), list("signals"));
    let mut devices = Vec::new();
    if let Some(v) = doc.get("device") {
        for (t, span) in r.tables("device", v) {
            if let Some(d) = device(r, t, span.clone()) {
                devices.push(At {
                    value: d,
                    loc: r.loc(span),
                });
            }
        }
    }
    ComponentFile {
        name: name.to_string(),
        file: r.file,
        binary,
        priority,
        heap,
        stack,
        restart,
        args,
        args_loc,
        serves,
        uses,
        notifications,
        signals,
        devices,
    }
}

/// `heap`: a size, or a share of the machine such as `"90%"`.
fn heap(r: &mut Reader<'_>, v: &Value<'_>) -> Option<Heap> {
    if let DeValue::String(text) = v.get_ref()
        && let Some(number) = text.trim().strip_suffix('%')
    {
        return match number.trim().parse::<u8>() {
            Ok(percent @ 1..=100) => Some(Heap::Share { percent }),
            _ => {
                r.error(
                    v.span(),
                    format!(
                        "`heap` = \"{text}\": a share of the machine is a whole percentage from 1% to 100%"
                    ),
                );
                None
            }
        };
    }
    r.size("heap", v, true).map(Heap::Bytes)
}

fn restart(r: &mut Reader<'_>, doc: &DeTable<'_>) -> Restart {
    let kind = doc.get("restart").and_then(|v| {
        let s = r.string("restart", v)?;
        match s.value.as_str() {
            "never" | "on-failure" | "always" => Some(s.value),
            other => {
                r.error(
                    v.span(),
                    format!(
                        "unknown restart policy `{other}`: use \"never\", \"on-failure\" or \"always\""
                    ),
                );
                None
            }
        }
    });
    let limit = doc.get("restart-limit").and_then(|v| {
        let n = r.integer_in(
            "restart-limit",
            v,
            1..=i128::from(u32::MAX),
            "at least 1 (use restart = \"never\" for no restarts)",
        )?;
        Some((n as u32, v.span()))
    });
    let window = doc.get("restart-window").and_then(|v| {
        let n = r.integer_in(
            "restart-window",
            v,
            1..=i128::from(u32::MAX),
            "at least 1 second",
        )?;
        Some((n as u32, v.span()))
    });
    let exhausted = doc.get("restart-exhausted").and_then(|v| {
        let s = r.string("restart-exhausted", v)?;
        let e = match s.value.as_str() {
            "back-off" => Exhausted::BackOff,
            "stop" => Exhausted::Stop,
            other => {
                r.error(
                    v.span(),
                    format!(
                        "unknown `restart-exhausted` `{other}`: use \"back-off\" (restart later and later) or \"stop\" (for good)"
                    ),
                );
                return None;
            }
        };
        Some((e, v.span()))
    });
    if kind.as_deref() == Some("on-failure") {
        return Restart::OnFailure {
            budget: Budget {
                limit: limit.map_or(DEFAULT_RESTART_LIMIT, |(n, _)| n),
                window_s: window.map_or(DEFAULT_RESTART_WINDOW, |(n, _)| n),
                exhausted: exhausted.map_or(Exhausted::BackOff, |(e, _)| e),
            },
        };
    }
    // The budget keys mean nothing under another policy (unless the policy
    // itself was wrong, which is reported already).
    if kind.is_some() || doc.get("restart").is_none() {
        let policy = kind
            .as_ref()
            .map_or("the default \"never\"".to_string(), |k| format!("\"{k}\""));
        for (key, span) in [
            ("restart-limit", limit.map(|(_, s)| s)),
            ("restart-window", window.map(|(_, s)| s)),
            ("restart-exhausted", exhausted.map(|(_, s)| s)),
        ] {
            if let Some(span) = span {
                r.error(
                    span,
                    format!("`{key}` applies only to restart = \"on-failure\", not {policy}"),
                );
            }
        }
    }
    match kind.as_deref() {
        Some("always") => Restart::Always,
        _ => Restart::Never,
    }
}

fn args(r: &mut Reader<'_>, v: &Value<'_>) -> Vec<Arg> {
    let DeValue::Table(t) = v.get_ref() else {
        r.wrong_type("args", v, "a table (`[args]`)");
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, value) in t.iter() {
        let k = key.get_ref().to_string();
        if k.is_empty() || k.contains(['=', '\n', '\r', '\0']) {
            r.error(
                key.span(),
                format!("argument name `{k}` cannot be empty or hold `=` or a line break"),
            );
            continue;
        }
        let (text, toml) = match value.get_ref() {
            DeValue::String(s) => (s.to_string(), ArgType::String),
            // In decimal, whatever the file's radix: components parse
            // decimal numbers.
            DeValue::Integer(_) => match r.integer(&k, value) {
                Some(n) => (n.to_string(), ArgType::Integer),
                None => continue,
            },
            DeValue::Boolean(b) => (b.to_string(), ArgType::Boolean),
            _ => {
                r.wrong_type(&k, value, "a string, an integer or a boolean");
                continue;
            }
        };
        if text.contains(['\n', '\r', '\0']) {
            r.error(
                value.span(),
                format!("argument `{k}` cannot hold a line break"),
            );
            continue;
        }
        out.push(Arg {
            key: At {
                value: k,
                loc: r.loc(key.span()),
            },
            value: At {
                value: text,
                loc: r.loc(value.span()),
            },
            toml,
        });
    }
    out
}

/// Bytes a PCI device's name leaves for the suffixes of its grants
/// (`.bar<N>`, `.config`, `.msi`).
const PCI_SUFFIX_BYTES: usize = ".config".len();

/// `ids = ["1af4:1000", "8086:100e"]`: the functions a PCI device may be,
/// in the order init looks for them (vendor and device ID in hex, as
/// `lspci -n` writes them); at least one, none twice.
fn pci_ids(r: &mut Reader<'_>, v: &Value<'_>) -> Option<Vec<PciId>> {
    let items = r.array("ids", v)?;
    let mut ids: Vec<PciId> = Vec::new();
    let mut ok = true;
    for item in items.iter() {
        let Some(s) = r.string("ids", item) else {
            ok = false;
            continue;
        };
        let parsed = s.value.split_once(':').and_then(|(v, d)| {
            let hex = |x: &str| {
                (x.len() == 4)
                    .then(|| u16::from_str_radix(x, 16).ok())
                    .flatten()
            };
            Some(PciId {
                vendor: hex(v).filter(|&v| v != 0xffff)?,
                device: hex(d)?,
            })
        });
        match parsed {
            Some(id) if ids.contains(&id) => {
                r.error(item.span(), format!("`{id}` is listed twice in `ids`"));
                ok = false;
            }
            Some(id) => ids.push(id),
            None => {
                r.error(
                    item.span(),
                    format!(
                        "`ids`: {:?} is not a PCI vendor and device ID such as \"8086:100e\" (four hex digits each; vendor ffff is no device)",
                        s.value
                    ),
                );
                ok = false;
            }
        }
    }
    if ids.is_empty() && ok {
        r.error(
            v.span(),
            "`ids` is empty: name at least one PCI function such as \"8086:100e\"",
        );
        return None;
    }
    ok.then_some(ids)
}

fn device(r: &mut Reader<'_>, t: &DeTable<'_>, span: Range<usize>) -> Option<Device> {
    let what = "[[device]]";
    let kind = r
        .required(t, "kind", &span, what, "kind = \"irq\"")
        .and_then(|v| r.string("kind", v));
    let Some(kind) = kind else {
        // Without a kind the other keys cannot be judged.
        return None;
    };
    let (what, keys): (&str, &[&str]) = match kind.value.as_str() {
        "irq" => ("an irq device", &["kind", "name", "irq"]),
        "io-ports" => ("an io-ports device", &["kind", "name", "first", "last"]),
        "pci" => (
            "a pci device",
            &["kind", "name", "vendor", "device", "ids", "interrupt"],
        ),
        other => {
            r.error(
                kind.loc.span,
                format!("unknown device kind `{other}`: use \"irq\", \"io-ports\" or \"pci\""),
            );
            return None;
        }
    };
    r.check_keys(t, what, keys);
    // A PCI device's grants are named `<name>.bar<N>`, `<name>.config` and
    // `<name>.msi`.
    let max_name = if kind.value == "pci" {
        NAME_BYTES - PCI_SUFFIX_BYTES
    } else {
        NAME_BYTES
    };
    let name = r
        .required(t, "name", &span, what, "name = \"rtc\"")
        .and_then(|v| r.name("name", v, max_name));
    let mut num = |key: &str, example: &str, max: i128, range: &str| {
        r.required(t, key, &span, what, example)
            .and_then(|v| r.integer_in(key, v, 0..=max, range))
    };
    let device = match kind.value.as_str() {
        "irq" => {
            let irq = num("irq", "irq = 8", MAX_IRQ, "IRQ lines are 0-23");
            Device::Irq {
                name: name?.value,
                irq: irq? as u8,
            }
        }
        "io-ports" => {
            let range = "ports are 0-0xffff";
            let first = num("first", "first = 0x70", 0xffff, range);
            let last = num("last", "last = 0x71", 0xffff, range);
            let (first, last) = (first? as u16, last? as u16);
            if first > last {
                r.error(
                    span,
                    format!("port range {first:#x}-{last:#x} is empty: `first` is above `last`"),
                );
                return None;
            }
            for (lo, hi, what) in KERNEL_PORTS {
                if first <= hi && lo <= last {
                    r.error(
                        span.clone(),
                        format!(
                            "ports {first:#x}-{last:#x} include {lo:#x}-{hi:#x}, which the kernel keeps ({what})"
                        ),
                    );
                }
            }
            let (lo, hi) = PCI_CONFIG_PORTS;
            if first <= hi && lo <= last {
                r.error(
                    span.clone(),
                    format!(
                        "ports {first:#x}-{last:#x} include {lo:#x}-{hi:#x}, the PCI configuration ports, which init keeps: \
                         a driver gets its own function's configuration space from its `kind = \"pci\"` device"
                    ),
                );
            }
            Device::IoPorts {
                name: name?.value,
                first,
                last,
            }
        }
        _ => {
            let ids = match t.get("ids") {
                Some(v) => {
                    for key in ["vendor", "device"] {
                        if let Some(k) = t.get(key) {
                            r.error(
                                k.span(),
                                format!(
                                    "`{key}` with `ids`: name the function by one or the other"
                                ),
                            );
                        }
                    }
                    pci_ids(r, v)
                }
                None => {
                    let range = "PCI IDs are 0-0xfffe";
                    let vendor = num("vendor", "vendor = 0x1af4", 0xfffe, range);
                    let device = num("device", "device = 0x1041", 0xffff, "PCI IDs are 0-0xffff");
                    Some(vec![PciId {
                        vendor: vendor? as u16,
                        device: device? as u16,
                    }])
                }
            };
            let interrupt = match t.get("interrupt") {
                None => Some(PciInterrupt::None),
                Some(v) => r
                    .string("interrupt", v)
                    .and_then(|s| match s.value.as_str() {
                        "none" => Some(PciInterrupt::None),
                        "msi" => Some(PciInterrupt::Msi),
                        "any" => Some(PciInterrupt::Any),
                        other => {
                            r.error(
                                s.loc.span,
                                format!(
                                    "unknown PCI interrupt `{other}`: use \"none\", \"msi\" or \"any\""
                                ),
                            );
                            None
                        }
                    }),
            };
            Device::Pci {
                name: name?.value,
                ids: ids?,
                interrupt: interrupt?,
            }
        }
    };
    Some(device)
}
