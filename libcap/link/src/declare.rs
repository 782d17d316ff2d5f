//! What a component binary takes as `[args]`, as its crate's `Cargo.toml`
//! declares it under `[package.metadata.basalt.args]`: read once here, for
//! the build script that generates the binary's typed view
//! ([`crate::bindings`]) and for `cargo xtask check`, which holds every
//! config to it. See docs/config.md, "Arguments".
//!
//! ```toml
//! [package.metadata.basalt.args]
//! port = "port"              # 1-65535
//! backlog = "count"          # an unsigned integer
//! appendonly = ["yes", "no"] # one of these words
//! kvs-region = "region"      # a region granted to the component
//! dma = "dma"                # a region it has alone (a driver's DMA memory)
//! kvs = "channel"            # (the grant named `kvs` when [args] is silent)
//! virtio-device = { kind = "device", optional = true }
//! "quota-<region>" = "count" # a family: quota-<each region it shares>
//! ```

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// A wiring argument: the name of something the config grants the
/// component.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wiring {
    /// A region shared with the component (`writers` or `readers`).
    Region,
    /// A region the component has alone (its only writer, no readers):
    /// a driver's DMA memory, which the device reads and writes.
    Dma,
    /// A notification the component owns (`notifications`).
    Notification,
    /// A notification the component may signal (`signals`).
    Signal,
    /// A channel the component serves or uses.
    Channel,
    /// An IRQ handler: a `kind = "irq"` device, or a PCI device's
    /// `<name>.msi`.
    Irq,
    /// A `kind = "io-ports"` device.
    IoPorts,
    /// A `[[device]]` of any kind, or a PCI device's grant:
    /// `<name>.bar<N>`, `<name>.config`, `<name>.msi`.
    Device,
}

impl Wiring {
    pub const ALL: [Wiring; 8] = [
        Wiring::Region,
        Wiring::Dma,
        Wiring::Notification,
        Wiring::Signal,
        Wiring::Channel,
        Wiring::Irq,
        Wiring::IoPorts,
        Wiring::Device,
    ];

    /// The kind's name in a declaration.
    pub fn name(self) -> &'static str {
        match self {
            Wiring::Region => "region",
            Wiring::Dma => "dma",
            Wiring::Notification => "notification",
            Wiring::Signal => "signal",
            Wiring::Channel => "channel",
            Wiring::Irq => "irq",
            Wiring::IoPorts => "io-ports",
            Wiring::Device => "device",
        }
    }

    fn from_name(name: &str) -> Option<Wiring> {
        Wiring::ALL.into_iter().find(|w| w.name() == name)
    }
}

/// What an argument's value must be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Any text (a string, an integer or a boolean).
    Text,
    /// An unsigned integer: a TOML integer from 0, or a string of digits.
    Count,
    /// A TCP or UDP port, 1-65535.
    Port,
    /// A size as the config writes them (`"8 KiB"`, or bytes).
    Size,
    /// One of these words (`true` and `false` are words too).
    Words(Vec<String>),
    /// The name of something the config grants the component.
    Wiring(Wiring),
}

/// The kinds' names, for messages and docs.
pub const KIND_NAMES: [&str; 12] = [
    "text",
    "count",
    "port",
    "size",
    "region",
    "dma",
    "notification",
    "signal",
    "channel",
    "irq",
    "io-ports",
    "device",
];

impl Kind {
    /// The kind a declaration's string names.
    pub fn from_name(name: &str) -> Option<Kind> {
        match name {
            "text" => Some(Kind::Text),
            "count" => Some(Kind::Count),
            "port" => Some(Kind::Port),
            "size" => Some(Kind::Size),
            other => Wiring::from_name(other).map(Kind::Wiring),
        }
    }
}

/// An argument's key: one name, or a family of names with one hole, `*`
/// (any text) or `<kind>` (the name of a grant of a wiring kind:
/// `quota-<region>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    Exact(String),
    Family {
        prefix: String,
        hole: Option<Wiring>,
        suffix: String,
    },
}

impl Key {
    /// Reads a declared key; why it is not one, if it is not.
    pub fn parse(text: &str) -> Result<Key, String> {
        let holes = text.matches('*').count() + text.matches('<').count();
        if holes == 0 {
            return match bad_arg_name(text) {
                Some(why) => Err(why),
                None => Ok(Key::Exact(text.to_string())),
            };
        }
        let family = |prefix: &str, hole, suffix: &str| -> Result<Key, String> {
            if prefix.is_empty() && suffix.is_empty() {
                return Err(format!(
                    "`{text}` would take any argument: give the family a fixed part, e.g. `quota-*`"
                ));
            }
            for part in [prefix, suffix] {
                if part.contains(['*', '<', '>']) {
                    return Err(format!(
                        "`{text}` has more than one hole: a family has one `*` or `<kind>`"
                    ));
                }
                if let Some(why) = (!part.is_empty()).then(|| bad_arg_name(part)).flatten() {
                    return Err(why);
                }
            }
            Ok(Key::Family {
                prefix: prefix.to_string(),
                hole,
                suffix: suffix.to_string(),
            })
        };
        if let Some((prefix, suffix)) = text.split_once('*') {
            return family(prefix, None, suffix);
        }
        let (prefix, rest) = text.split_once('<').expect("a `<` was counted");
        let Some((kind, suffix)) = rest.split_once('>') else {
            return Err(format!("`{text}`: `<` without `>`"));
        };
        match Wiring::from_name(kind) {
            Some(w) => family(prefix, Some(w), suffix),
            None => Err(format!(
                "`{text}`: `<{kind}>` is not a wiring kind: use `*` or one of <{}>",
                Wiring::ALL.map(Wiring::name).join(">, <")
            )),
        }
    }

    /// The key as declared.
    pub fn show(&self) -> String {
        match self {
            Key::Exact(k) => k.clone(),
            Key::Family {
                prefix,
                hole,
                suffix,
            } => {
                let hole = hole.map_or("*".to_string(), |w| format!("<{}>", w.name()));
                format!("{prefix}{hole}{suffix}")
            }
        }
    }

    /// The hole's text, if `key` belongs to this family.
    pub fn hole<'k>(&self, key: &'k str) -> Option<&'k str> {
        match self {
            Key::Exact(_) => None,
            Key::Family { prefix, suffix, .. } => key
                .strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(suffix.as_str()))
                .filter(|hole| !hole.is_empty()),
        }
    }
}

/// Why `name` cannot be an argument's name (as `[args]` refuses them), if
/// it cannot.
fn bad_arg_name(name: &str) -> Option<String> {
    (name.is_empty() || name.contains(['=', '\n', '\r', '\0', ' ', '\t'])).then(|| {
        format!("argument name `{name}` cannot be empty or hold `=`, a space or a line break")
    })
}

/// One declared argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    pub key: Key,
    pub kind: Kind,
    /// A wiring argument the component can do without. Every other
    /// wiring argument must be bound: by its value in `[args]`, or, when
    /// `[args]` is silent, to the grant of its own name. Value arguments
    /// are always optional (the component has its default).
    pub optional: bool,
}

impl ArgDecl {
    /// The wiring kind, if this is an exact wiring argument that must be
    /// bound.
    pub fn required_wiring(&self) -> Option<Wiring> {
        match (&self.key, &self.kind) {
            (Key::Exact(_), Kind::Wiring(w)) if !self.optional => Some(*w),
            _ => None,
        }
    }
}

/// The levels of the `log` argument (libcap parses it as a
/// `log::LevelFilter`).
pub const LOG_LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];

/// What libcap's runtime reads for every component: `log`, the most
/// detailed level it prints.
pub fn common() -> Vec<ArgDecl> {
    vec![ArgDecl {
        key: Key::Exact("log".into()),
        kind: Kind::Words(LOG_LEVELS.map(String::from).to_vec()),
        optional: true,
    }]
}

/// Something wrong in a declaration: where (a byte range of the
/// `Cargo.toml`) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub span: Range<usize>,
    pub message: String,
}

/// What one crate declares: the binaries it builds (the `[[bin]]`
/// targets, else the package, as Cargo names the binary of
/// `src/main.rs`), and their arguments, in declaration order; `None` when
/// it declares nothing (no `[package.metadata.basalt.args]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrateArgs {
    pub binaries: Vec<String>,
    pub args: Option<Vec<ArgDecl>>,
}

/// Reads a crate's `Cargo.toml` (`text`): what it declares, or every
/// problem found, each at its place.
pub fn crate_file(text: &str) -> Result<CrateArgs, Vec<Problem>> {
    let mut problems = Vec::new();
    let (doc, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        problems.push(Problem {
            span: e.span().unwrap_or(0..0),
            message: format!(
                "TOML syntax: {}",
                e.message().trim_end().replace('\n', "; ")
            ),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let doc = doc.into_inner();
    let package = table(doc.get("package"));
    let mut binaries: Vec<String> = Vec::new();
    if let Some(DeValue::Array(bins)) = doc.get("bin").map(|v| v.get_ref()) {
        for bin in bins.iter() {
            if let DeValue::Table(t) = bin.get_ref()
                && let Some(n) = t.get("name").and_then(|v| v.get_ref().as_str())
            {
                binaries.push(n.to_string());
            }
        }
    }
    if binaries.is_empty() {
        binaries.extend(
            package
                .and_then(|p| p.get("name"))
                .and_then(|v| v.get_ref().as_str())
                .map(str::to_string),
        );
    }
    let basalt = table(package.and_then(|p| p.get("metadata"))).and_then(|m| m.get("basalt"));
    let args = match basalt {
        None => None,
        Some(v) => match v.get_ref() {
            DeValue::Table(t) => {
                check_keys(&mut problems, t, "[package.metadata.basalt]", &["args"]);
                match t.get("args") {
                    Some(a) => match a.get_ref() {
                        DeValue::Table(args) => Some(args_table(&mut problems, args)),
                        _ => {
                            problems.push(Problem {
                                span: a.span(),
                                message: "`args` must be a table of argument kinds".into(),
                            });
                            None
                        }
                    },
                    None => None,
                }
            }
            _ => {
                problems.push(Problem {
                    span: v.span(),
                    message: "`basalt` must be a table".into(),
                });
                None
            }
        },
    };
    if problems.is_empty() {
        Ok(CrateArgs { binaries, args })
    } else {
        problems.sort_by_key(|p| (p.span.start, p.span.end));
        Err(problems)
    }
}

fn table<'t, 'i>(v: Option<&'t toml::Spanned<DeValue<'i>>>) -> Option<&'t DeTable<'i>> {
    match v.map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => Some(t),
        _ => None,
    }
}

/// Flags the keys of `t` that are not `known`.
fn check_keys(problems: &mut Vec<Problem>, t: &DeTable<'_>, what: &str, known: &[&str]) {
    for key in t.keys() {
        let k = key.get_ref().as_ref();
        if known.contains(&k) {
            continue;
        }
        let hint = match suggest(k, known) {
            Some(s) => format!("; did you mean `{s}`?"),
            None => format!(" (known keys: {})", known.join(", ")),
        };
        problems.push(Problem {
            span: key.span(),
            message: format!("unknown key `{k}` in {what}{hint}"),
        });
    }
}

/// Reads the declaration table `t` (`[package.metadata.basalt.args]`).
fn args_table(problems: &mut Vec<Problem>, t: &DeTable<'_>) -> Vec<ArgDecl> {
    let mut out: Vec<ArgDecl> = Vec::new();
    for (key, value) in t.iter() {
        let key_text = key.get_ref().as_ref();
        let mut error = |span: Range<usize>, message: String| {
            problems.push(Problem { span, message });
        };
        let parsed = match Key::parse(key_text) {
            Ok(k) => k,
            Err(why) => {
                error(key.span(), why);
                continue;
            }
        };
        if common().iter().any(|c| c.key == parsed) {
            error(
                key.span(),
                format!(
                    "`{key_text}` is an argument every component takes (docs/config.md): it needs no declaration"
                ),
            );
            continue;
        }
        if let Some(decl) = declaration(&mut error, parsed, value) {
            out.push(decl);
        }
    }
    out
}

/// One argument's declaration: a kind's name, a list of words, or a
/// table `{ kind = "...", optional = true }`.
fn declaration(
    error: &mut impl FnMut(Range<usize>, String),
    key: Key,
    value: &toml::Spanned<DeValue<'_>>,
) -> Option<ArgDecl> {
    let kind = |error: &mut dyn FnMut(Range<usize>, String), value: &toml::Spanned<DeValue<'_>>| {
        match value.get_ref() {
            DeValue::String(name) => {
                let kind = Kind::from_name(name);
                if kind.is_none() {
                    let hint = match suggest(name, &KIND_NAMES) {
                        Some(s) => format!("; did you mean `{s}`?"),
                        None => {
                            format!(": use one of {}, or a list of words", KIND_NAMES.join(", "))
                        }
                    };
                    error(
                        value.span(),
                        format!("unknown argument kind `{name}`{hint}"),
                    );
                }
                kind
            }
            DeValue::Array(items) => {
                let mut words = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(w) if !w.is_empty() && !w.contains(['\n', '\r']) => {
                            words.push(w.to_string())
                        }
                        _ => error(item.span(), "a word list holds non-empty strings".into()),
                    }
                }
                if items.is_empty() {
                    error(value.span(), "a word list needs at least one word".into());
                    return None;
                }
                Some(Kind::Words(words))
            }
            other => {
                error(
                    value.span(),
                    format!(
                        "an argument's kind is a string ({}), a list of words or a table \
                         {{ kind = \"...\", optional = true }}, not {}",
                        KIND_NAMES.join(", "),
                        other.type_str()
                    ),
                );
                None
            }
        }
    };
    let DeValue::Table(t) = value.get_ref() else {
        let kind = kind(error, value)?;
        return Some(ArgDecl {
            key,
            kind,
            optional: false,
        });
    };
    for k in t.keys() {
        let name = k.get_ref().as_ref();
        if name != "kind" && name != "optional" {
            let hint = suggest(name, &["kind", "optional"])
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_else(|| " (known keys: kind, optional)".into());
            error(
                k.span(),
                format!("unknown key `{name}` in a declaration{hint}"),
            );
        }
    }
    let Some(kind_value) = t.get("kind") else {
        error(
            value.span(),
            "a declaration table needs `kind` (e.g. `{ kind = \"device\", optional = true }`)"
                .into(),
        );
        return None;
    };
    let kind = kind(error, kind_value)?;
    let optional = match t.get("optional") {
        None => false,
        Some(v) => match v.get_ref() {
            DeValue::Boolean(b) => *b,
            other => {
                error(
                    v.span(),
                    format!("`optional` is true or false, not {}", other.type_str()),
                );
                return None;
            }
        },
    };
    if optional && !matches!((&key, &kind), (Key::Exact(_), Kind::Wiring(_))) {
        error(
            value.span(),
            "only a wiring argument (region, notification, signal, channel, irq, io-ports, \
             device) is optional: a value argument always is, and a family is any number of \
             arguments"
                .into(),
        );
        return None;
    }
    Some(ArgDecl {
        key,
        kind,
        optional,
    })
}

/// The entry of `known` closest to `key` (a few edits away), to suggest
/// for a misspelling.
pub fn suggest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (edit_distance(key, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d < k.len())
        .min()
        .map(|(_, k)| k)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declare(args: &str) -> Result<Vec<ArgDecl>, Vec<Problem>> {
        let text = format!("[package]\nname = \"p\"\n[package.metadata.basalt.args]\n{args}");
        crate_file(&text).map(|c| c.args.expect("declared"))
    }

    #[test]
    fn kinds_words_tables_and_families() {
        let args = declare(
            "port = \"port\"\nmode = [\"a\", \"b\"]\nkvs = \"channel\"\n\
             dev = { kind = \"device\", optional = true }\n\"quota-<region>\" = \"count\"\n",
        )
        .unwrap();
        assert_eq!(args[0].kind, Kind::Port);
        assert_eq!(args[1].kind, Kind::Words(vec!["a".into(), "b".into()]));
        assert_eq!(args[2].required_wiring(), Some(Wiring::Channel));
        assert_eq!(args[3].required_wiring(), None);
        assert!(args[3].optional);
        assert_eq!(
            args[4].key,
            Key::Family {
                prefix: "quota-".into(),
                hole: Some(Wiring::Region),
                suffix: String::new()
            }
        );
        assert_eq!(args[4].key.hole("quota-resp-net"), Some("resp-net"));
        assert_eq!(args[4].required_wiring(), None);
    }

    #[test]
    fn bad_declarations_are_found_at_their_place() {
        let text = "port = \"prot\"\n";
        let e = declare(text).unwrap_err();
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("did you mean `port`"), "{e:?}");
        let e = declare("a = { kind = \"count\", optional = true }\n").unwrap_err();
        assert!(e[0].message.contains("only a wiring argument"), "{e:?}");
        let e = declare("a = { kidn = \"region\" }\n").unwrap_err();
        assert!(
            e.iter().any(|p| p.message.contains("did you mean `kind`")),
            "{e:?}"
        );
        let e = declare("log = \"text\"\n").unwrap_err();
        assert!(e[0].message.contains("every component takes"), "{e:?}");
        let e = declare("\"q-<regoin>\" = \"count\"\n").unwrap_err();
        assert!(e[0].message.contains("not a wiring kind"), "{e:?}");
    }

    #[test]
    fn binaries_from_bin_targets_or_the_package() {
        let c = crate_file("[package]\nname = \"q\"\n").unwrap();
        assert_eq!((c.binaries, c.args), (vec!["q".to_string()], None));
        let c = crate_file(
            "[package]\nname = \"q\"\n[[bin]]\nname = \"a\"\n[[bin]]\nname = \"b\"\n\
             [package.metadata.basalt.args]\n",
        )
        .unwrap();
        assert_eq!(c.binaries, ["a", "b"]);
        assert_eq!(c.args, Some(vec![]));
    }
}
