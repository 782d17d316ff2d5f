//! What each component binary takes as `[args]`: declared in its crate's
//! `Cargo.toml` under `[package.metadata.basalt.args]`, read here from the
//! workspace's members, and the arguments every component takes from
//! libcap's runtime ([`common`]). See docs/config.md, "Arguments".
//!
//! ```toml
//! [package.metadata.basalt.args]
//! region = "region"          # a region granted to the component
//! port = "port"              # 1-65535
//! backlog = "count"          # an unsigned integer
//! appendonly = ["yes", "no"] # one of these words
//! "quota-<region>" = "count" # a family: quota-<each region it shares>
//! ```

use super::diag::{Loc, Report, Source};
use super::parse::Reader;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};

/// A wiring argument: the name of something the component's config grants
/// it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wiring {
    /// A region shared with the component (`writers` or `readers`).
    Region,
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
    pub const ALL: [Wiring; 7] = [
        Wiring::Region,
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
pub const KIND_NAMES: [&str; 11] = [
    "text",
    "count",
    "port",
    "size",
    "region",
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
}

/// What one binary declares.
#[derive(Clone, Debug)]
pub struct Binary {
    /// The `Cargo.toml` that declares it, as shown in messages
    /// (`apps/resp/Cargo.toml`).
    pub source: String,
    /// The arguments it takes, in declaration order; `None` when its
    /// crate declares nothing (no `[package.metadata.basalt.args]`).
    pub args: Option<Vec<ArgDecl>>,
}

/// Every binary's declaration, and what every component takes.
#[derive(Clone, Debug)]
pub struct Declarations {
    pub binaries: BTreeMap<String, Binary>,
    /// Taken by every component ([`common`]).
    pub common: Vec<ArgDecl>,
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
    }]
}

impl Default for Declarations {
    fn default() -> Self {
        Self {
            binaries: BTreeMap::new(),
            common: common(),
        }
    }
}

impl Declarations {
    /// Declares `binary`'s arguments from the TOML text of an args table
    /// (the body of `[package.metadata.basalt.args]`), as from `source`.
    ///
    /// # Panics
    ///
    /// On a declaration that is not valid (this is for tests, whose
    /// declarations are written to be).
    #[cfg(test)]
    pub fn declare(&mut self, binary: &str, source: &str, args: &str) {
        let text =
            format!("[package]\nname = \"{binary}\"\n[package.metadata.basalt.args]\n{args}");
        match crate_file(source, &text) {
            Ok(found) => self.binaries.extend(found),
            Err(report) => panic!("bad declaration:\n{}", report.render()),
        }
    }
}

/// Reads the declaration table `t` (`[package.metadata.basalt.args]`).
fn args_table(r: &mut Reader<'_>, t: &DeTable<'_>) -> Vec<ArgDecl> {
    let mut out: Vec<ArgDecl> = Vec::new();
    for (key, value) in t.iter() {
        let key_text = key.get_ref().as_ref();
        let parsed = match Key::parse(key_text) {
            Ok(k) => k,
            Err(why) => {
                r.error(key.span(), why);
                continue;
            }
        };
        if common().iter().any(|c| c.key == parsed) {
            r.error(
                key.span(),
                format!(
                    "`{key_text}` is an argument every component takes (docs/config.md): it needs no declaration"
                ),
            );
            continue;
        }
        let kind = match value.get_ref() {
            DeValue::String(name) => match Kind::from_name(name) {
                Some(k) => k,
                None => {
                    let hint = match super::parse::suggest(name, &KIND_NAMES) {
                        Some(s) => format!("; did you mean `{s}`?"),
                        None => {
                            format!(": use one of {}, or a list of words", KIND_NAMES.join(", "))
                        }
                    };
                    r.error(
                        value.span(),
                        format!("unknown argument kind `{name}`{hint}"),
                    );
                    continue;
                }
            },
            DeValue::Array(items) => {
                let mut words = Vec::new();
                for item in items.iter() {
                    match item.get_ref() {
                        DeValue::String(w) if !w.is_empty() && !w.contains(['\n', '\r']) => {
                            words.push(w.to_string())
                        }
                        _ => r.error(item.span(), "a word list holds non-empty strings"),
                    }
                }
                if items.is_empty() {
                    r.error(value.span(), "a word list needs at least one word");
                    continue;
                }
                Kind::Words(words)
            }
            _ => {
                r.error(
                    value.span(),
                    format!(
                        "an argument's kind is a string ({}) or a list of words, not {}",
                        KIND_NAMES.join(", "),
                        value.get_ref().type_str()
                    ),
                );
                continue;
            }
        };
        out.push(ArgDecl { key: parsed, kind });
    }
    out
}

/// The binaries one crate builds and what it declares for them, from its
/// `Cargo.toml` (`text`; `source` is how messages name it): the `[[bin]]`
/// targets, else the package (as Cargo names the binary of
/// `src/main.rs`). The declaration applies to each.
pub fn crate_file(source: &str, text: &str) -> Result<Vec<(String, Binary)>, Report> {
    let mut report = Report::default();
    report.sources.push(Source {
        path: source.into(),
        text: text.to_string(),
    });
    let (doc, errors) = DeTable::parse_recoverable(text);
    for e in &errors {
        let span = e.span().unwrap_or(0..0);
        let message = e.message().trim_end().replace('\n', "; ");
        report.error(&Loc { file: 0, span }, format!("TOML syntax: {message}"));
    }
    if !errors.is_empty() {
        return Err(report);
    }
    let doc = doc.into_inner();
    let mut r = Reader {
        report: &mut report,
        file: 0,
    };
    let package = table(doc.get("package"));
    let name = package
        .and_then(|p| p.get("name"))
        .and_then(|v| v.get_ref().as_str())
        .map(str::to_string);
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
        binaries.extend(name);
    }
    let basalt = table(package.and_then(|p| p.get("metadata"))).and_then(|m| m.get("basalt"));
    let args = match basalt {
        None => None,
        Some(v) => match v.get_ref() {
            DeValue::Table(t) => {
                r.check_keys(t, "[package.metadata.basalt]", &["args"]);
                match t.get("args") {
                    Some(a) => match a.get_ref() {
                        DeValue::Table(args) => Some(args_table(&mut r, args)),
                        _ => {
                            r.error(a.span(), "`args` must be a table of argument kinds");
                            None
                        }
                    },
                    None => None,
                }
            }
            _ => {
                r.error(v.span(), "`basalt` must be a table");
                None
            }
        },
    };
    if !report.is_empty() {
        report.sort();
        return Err(report);
    }
    Ok(binaries
        .into_iter()
        .map(|b| {
            (
                b,
                Binary {
                    source: source.to_string(),
                    args: args.clone(),
                },
            )
        })
        .collect())
}

fn table<'t, 'i>(v: Option<&'t toml::Spanned<DeValue<'i>>>) -> Option<&'t DeTable<'i>> {
    match v.map(|v| v.get_ref()) {
        Some(DeValue::Table(t)) => Some(t),
        _ => None,
    }
}

/// The workspace's members, from the root `Cargo.toml` (`text`): their
/// paths, or what is wrong, at its place.
fn members(text: &str) -> Result<Vec<String>, (Range<usize>, String)> {
    let doc = DeTable::parse(text).map_err(|e| {
        (
            e.span().unwrap_or(0..0),
            format!("TOML syntax: {}", e.message().trim_end()),
        )
    })?;
    let doc = doc.into_inner();
    let Some(DeValue::Table(ws)) = doc.get("workspace").map(|v| v.get_ref()) else {
        return Err((0..0, "no [workspace] table".into()));
    };
    let Some(list) = ws.get("members") else {
        return Err((0..0, "no `members` in [workspace]".into()));
    };
    let DeValue::Array(items) = list.get_ref() else {
        return Err((list.span(), "`members` must be an array".into()));
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match item.get_ref() {
            DeValue::String(s) if !s.contains(['*', '?', '[']) => out.push(s.to_string()),
            _ => {
                return Err((
                    item.span(),
                    "a member is a crate's path (globs are not read for argument declarations)"
                        .into(),
                ));
            }
        }
    }
    Ok(out)
}

/// Reads every declaration of the workspace at `root` (its `Cargo.toml`
/// lists the members); what is wrong in them, with its place, if anything
/// is.
pub fn load(root: &Path) -> Result<Declarations, Report> {
    let one = |path: &str, text: String, loc: Loc, message: String| {
        let mut report = Report::default();
        report.sources.push(Source {
            path: path.into(),
            text,
        });
        report.error(&loc, message);
        report
    };
    let read = |rel: &str| {
        std::fs::read_to_string(root.join(rel)).map_err(|e| {
            one(
                rel,
                String::new(),
                Loc::start_of(0),
                format!("cannot read it: {e}"),
            )
        })
    };
    let text = read("Cargo.toml")?;
    let members = members(&text).map_err(|(span, message)| {
        one("Cargo.toml", text.clone(), Loc { file: 0, span }, message)
    })?;
    let mut decls = Declarations::default();
    let mut report = Report::default();
    for member in members {
        let path = format!("{}/Cargo.toml", member.trim_end_matches('/'));
        let found = read(&path).and_then(|text| crate_file(&path, &text));
        match found {
            Ok(binaries) => {
                for (name, binary) in binaries {
                    decls.binaries.entry(name).or_insert(binary);
                }
            }
            Err(r) => {
                // Keep each file's errors pointing into its own text.
                let base = report.sources.len();
                report.sources.extend(r.sources);
                for mut d in r.diagnostics {
                    d.loc.file += base;
                    report.diagnostics.push(d);
                }
            }
        }
    }
    if report.is_empty() {
        Ok(decls)
    } else {
        Err(report)
    }
}
