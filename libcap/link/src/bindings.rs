//! The typed view of a binary's arguments, generated from its crate's
//! declaration ([`crate::declare`]) by its build script: a struct `Args`
//! with one field per declared argument, of the type its kind reads as,
//! and `Args::bind`, which reads the start page's `[args]` and takes each
//! grant a wiring argument names (libcap's `bind` module does the
//! reading). The program includes it with `libcap::include_args!()`.
//!
//! | kind | field |
//! |---|---|
//! | `text` | `Option<&'static str>` |
//! | `count`, `size` (bytes) | `Option<u64>` |
//! | `port` | `Option<u16>` |
//! | word list | `Option<E>`, an enum generated for the key |
//! | `region`, `dma` | `Named<SharedRegion>` |
//! | `notification`, `signal` | `Named<Notification>` |
//! | `channel` | `Named<Endpoint>` |
//! | `irq`, `io-ports` | `Named<Irq>`, `Named<PortRange>` |
//! | `device` | `&'static str` (the device's name) |
//!
//! An optional wiring argument's field is an `Option`; a family
//! (`quota-<region>`) is a `Vec` of (hole, value) pairs, in the order of
//! `[args]`. `cargo xtask check` holds every config to the declaration, so
//! on a checked system `bind` does not fail.

use crate::declare::{ArgDecl, Key, Kind, Wiring};
use std::fmt::Write;

/// What went wrong generating the view.
#[derive(Debug, PartialEq, Eq)]
pub enum BindingsError {
    /// Two arguments would make the same field (`max-sockets` and
    /// `max_sockets`, or a family with an exact key).
    SameField {
        field: String,
        first: String,
        second: String,
    },
    /// Two words of one list would make the same variant.
    SameVariant { key: String, variant: String },
}

impl std::fmt::Display for BindingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SameField {
                field,
                first,
                second,
            } => write!(
                f,
                "arguments `{first}` and `{second}` would both be field `{field}`: rename one"
            ),
            Self::SameVariant { key, variant } => write!(
                f,
                "two words of `{key}` would both be variant `{variant}`: rename one"
            ),
        }
    }
}

/// The Rust source of the view of `args`, declared in `source` (a path
/// for the doc comment).
pub fn generate(source: &str, args: &[ArgDecl]) -> Result<String, BindingsError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut out = String::new();
    let mut enums = String::new();
    let mut struct_body = String::new();
    let mut bind_body = String::new();
    for decl in args {
        let shown = decl.key.show();
        let field = field_name(&decl.key);
        if let Some((_, first)) = fields.iter().find(|(f, _)| *f == field) {
            return Err(BindingsError::SameField {
                field,
                first: first.clone(),
                second: shown,
            });
        }
        fields.push((field.clone(), shown.clone()));
        let (ty, parse) = match &decl.kind {
            Kind::Words(words) => {
                let name = type_name(&shown);
                enums.push_str(&words_enum(&shown, &name, words)?);
                (name.clone(), format!("{name}::bind"))
            }
            kind => (value_type(kind).to_string(), parser(kind).to_string()),
        };
        let (field_ty, call) = match (&decl.key, &decl.kind) {
            (Key::Family { prefix, suffix, .. }, Kind::Wiring(w)) if *w != Wiring::Device => (
                format!("::libcap::bind::Family<::libcap::bind::Named<{ty}>>"),
                format!("::libcap::bind::family(start, {prefix:?}, {suffix:?}, {parse})"),
            ),
            (Key::Family { prefix, suffix, .. }, _) => (
                format!("::libcap::bind::Family<{ty}>"),
                format!("::libcap::bind::family(start, {prefix:?}, {suffix:?}, {parse})"),
            ),
            (Key::Exact(k), Kind::Wiring(Wiring::Device)) if decl.optional => (
                format!("Option<{ty}>"),
                format!("::libcap::bind::wired_optional(start, {k:?}, {parse})"),
            ),
            (Key::Exact(k), Kind::Wiring(Wiring::Device)) => {
                (ty, format!("::libcap::bind::wired(start, {k:?}, {parse})"))
            }
            (Key::Exact(k), Kind::Wiring(_)) if decl.optional => (
                format!("Option<::libcap::bind::Named<{ty}>>"),
                format!("::libcap::bind::wired_optional(start, {k:?}, {parse})"),
            ),
            (Key::Exact(k), Kind::Wiring(_)) => (
                format!("::libcap::bind::Named<{ty}>"),
                format!("::libcap::bind::wired(start, {k:?}, {parse})"),
            ),
            (Key::Exact(k), _) => (
                format!("Option<{ty}>"),
                format!("::libcap::bind::value(start, {k:?}, {parse})"),
            ),
        };
        let what = describe(decl);
        writeln!(struct_body, "    /// `{shown}`: {what}.").unwrap();
        writeln!(struct_body, "    pub {field}: {field_ty},").unwrap();
        writeln!(bind_body, "            {field}: {call}?,").unwrap();
    }
    writeln!(
        out,
        "// Generated by libcap-link from the [package.metadata.basalt.args] of\n\
         // {source}: edit the declaration, not this file.\n\n\
         /// The arguments this program declares ({source}), read from the\n\
         /// config's `[args]` and bound to what it grants (docs/config.md,\n\
         /// \"Arguments\").\n\
         #[derive(Debug)]\n\
         pub struct Args {{\n{struct_body}}}\n\n\
         impl Args {{\n\
         \x20   /// Reads the arguments and takes the grants they name (each region\n\
         \x20   /// once: call it once). A config that `cargo xtask check` accepts\n\
         \x20   /// always binds.\n\
         \x20   pub fn bind(start: &'static ::libcap::Start) -> Result<Self, ::libcap::bind::ArgError> {{\n\
         \x20       Ok(Self {{\n{bind_body}        }})\n\
         \x20   }}\n\
         }}\n{enums}"
    )
    .unwrap();
    Ok(out)
}

/// How a field's doc names what the argument is.
fn describe(decl: &ArgDecl) -> String {
    let kind = match &decl.kind {
        Kind::Text => "text".to_string(),
        Kind::Count => "a count".to_string(),
        Kind::Port => "a port".to_string(),
        Kind::Size => "a size in bytes".to_string(),
        Kind::Words(words) => format!("one of {}", words.join(", ")),
        Kind::Wiring(w) => {
            let grant = match w {
                Wiring::Region => "a region",
                Wiring::Dma => "a region of its own (DMA memory)",
                Wiring::Notification => "a notification it waits on",
                Wiring::Signal => "a notification it signals",
                Wiring::Channel => "a channel",
                Wiring::Irq => "an IRQ",
                Wiring::IoPorts => "an I/O-port range",
                Wiring::Device => "a device",
            };
            match (&decl.key, decl.optional) {
                (Key::Family { .. }, _) => grant.to_string(),
                (Key::Exact(k), false) => {
                    format!("{grant} (the one named `{k}` when `[args]` is silent)")
                }
                (Key::Exact(_), true) => format!("{grant}, if the config grants one"),
            }
        }
    };
    match &decl.key {
        Key::Family {
            hole: Some(w),
            prefix,
            suffix,
        } => format!(
            "{kind}, for each {} `<name>` given as `{prefix}<name>{suffix}`",
            w.name()
        ),
        Key::Family { prefix, suffix, .. } => {
            format!("{kind}, for each `{prefix}*{suffix}` given")
        }
        Key::Exact(_) => kind,
    }
}

/// The type an argument of `kind` reads as.
fn value_type(kind: &Kind) -> &'static str {
    match kind {
        Kind::Text => "&'static str",
        Kind::Count | Kind::Size => "u64",
        Kind::Port => "u16",
        Kind::Words(_) => unreachable!("a word list has a generated enum"),
        Kind::Wiring(w) => match w {
            Wiring::Region | Wiring::Dma => "::libcap::start::SharedRegion",
            Wiring::Notification | Wiring::Signal => "::libcap::cap::Notification",
            Wiring::Channel => "::libcap::cap::Endpoint",
            Wiring::Irq => "::libcap::start::Irq",
            Wiring::IoPorts => "::libcap::start::PortRange",
            Wiring::Device => "&'static str",
        },
    }
}

/// The `libcap::bind` function that reads a value of `kind`.
fn parser(kind: &Kind) -> &'static str {
    match kind {
        Kind::Text => "::libcap::bind::text",
        Kind::Count => "::libcap::bind::count",
        Kind::Port => "::libcap::bind::port",
        Kind::Size => "::libcap::bind::size",
        Kind::Words(_) => unreachable!("a word list has a generated enum"),
        Kind::Wiring(w) => match w {
            Wiring::Region | Wiring::Dma => "::libcap::bind::region",
            Wiring::Notification => "::libcap::bind::notification",
            Wiring::Signal => "::libcap::bind::signal",
            Wiring::Channel => "::libcap::bind::channel",
            Wiring::Irq => "::libcap::bind::irq",
            Wiring::IoPorts => "::libcap::bind::io_ports",
            Wiring::Device => "::libcap::bind::device",
        },
    }
}

/// The enum of a word list, with the reading of a value as one.
fn words_enum(key: &str, name: &str, words: &[String]) -> Result<String, BindingsError> {
    let mut variants: Vec<String> = Vec::new();
    for w in words {
        let v = type_name(w);
        if variants.contains(&v) {
            return Err(BindingsError::SameVariant {
                key: key.to_string(),
                variant: v,
            });
        }
        variants.push(v);
    }
    let shown: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
    let choices = match shown.as_slice() {
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
        [] => String::new(),
    };
    let mut out = String::new();
    writeln!(
        out,
        "\n/// The words argument `{key}` takes.\n\
         #[derive(Clone, Copy, Debug, PartialEq, Eq)]\n\
         pub enum {name} {{"
    )
    .unwrap();
    for (w, v) in words.iter().zip(&variants) {
        writeln!(out, "    /// `{w}`.\n    {v},").unwrap();
    }
    writeln!(
        out,
        "}}\n\n\
         /// The word, as the config writes it.\n\
         impl ::core::fmt::Display for {name} {{\n\
         \x20   fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {{\n\
         \x20       f.write_str(match self {{"
    )
    .unwrap();
    for (w, v) in words.iter().zip(&variants) {
        writeln!(out, "            Self::{v} => {w:?},").unwrap();
    }
    writeln!(out, "        }})\n    }}\n}}\n\nimpl {name} {{").unwrap();
    writeln!(
        out,
        "    fn bind(\n\
         \x20       _: &::libcap::Start,\n\
         \x20       key: &'static str,\n\
         \x20       value: &'static str,\n\
         \x20   ) -> Result<Self, ::libcap::bind::ArgError> {{\n\
         \x20       match value {{"
    )
    .unwrap();
    for (w, v) in words.iter().zip(&variants) {
        writeln!(out, "            {w:?} => Ok(Self::{v}),").unwrap();
    }
    writeln!(
        out,
        "            _ => Err(::libcap::bind::ArgError::Malformed {{\n\
         \x20               key,\n\
         \x20               value,\n\
         \x20               kind: {choices:?},\n\
         \x20           }}),\n\
         \x20       }}\n    }}\n}}"
    )
    .unwrap();
    Ok(out)
}

/// The field of an argument: its key (a family's fixed parts) in snake
/// case.
fn field_name(key: &Key) -> String {
    let text = match key {
        Key::Exact(k) => k.clone(),
        Key::Family { prefix, suffix, .. } => format!("{prefix}{suffix}"),
    };
    let mut out = String::new();
    for c in text.chars() {
        match c {
            'a'..='z' | '0'..='9' => out.push(c),
            'A'..='Z' => out.push(c.to_ascii_lowercase()),
            _ if !out.is_empty() && !out.ends_with('_') => out.push('_'),
            _ => {}
        }
    }
    let out = out.trim_end_matches('_').to_string();
    let out = if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("arg_{out}")
    } else {
        out
    };
    if KEYWORDS.contains(&out.as_str()) {
        format!("r#{out}")
    } else {
        out
    }
}

/// A type or variant name: the words of `text` in upper camel case.
fn type_name(text: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            if upper {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("W{out}")
    } else {
        out
    }
}

/// Rust's keywords, which a field cannot be named without `r#`.
const KEYWORDS: [&str; 38] = [
    "as", "async", "await", "box", "break", "const", "continue", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut",
    "priv", "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe", "use",
    "where", "while", "yield",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declare::crate_file;

    fn view(args: &str) -> Result<String, BindingsError> {
        let text = format!("[package]\nname = \"p\"\n[package.metadata.basalt.args]\n{args}");
        let decls = crate_file(&text).unwrap().args.unwrap();
        generate("p/Cargo.toml", &decls)
    }

    #[test]
    fn each_kind_has_its_type_and_reader() {
        let v = view(
            "port = \"port\"\nmax-sockets = \"count\"\nrx-buffer = \"size\"\nname = \"text\"\n\
             kvs-region = \"region\"\nnet-wake = \"signal\"\nwake = \"notification\"\n\
             kvs = \"channel\"\ndevice = \"device\"\nrtc = \"irq\"\nuart = \"io-ports\"\n\
             extra = { kind = \"device\", optional = true }\n\
             spare = { kind = \"region\", optional = true }\n\
             \"quota-<region>\" = \"count\"\n\"app-<region>\" = \"signal\"\nmaxmemory-policy = [\"allkeys-lru\", \"noeviction\"]\n",
        )
        .unwrap();
        for line in [
            "pub port: Option<u16>,",
            "port: ::libcap::bind::value(start, \"port\", ::libcap::bind::port)?,",
            "pub max_sockets: Option<u64>,",
            "pub rx_buffer: Option<u64>,",
            "rx_buffer: ::libcap::bind::value(start, \"rx-buffer\", ::libcap::bind::size)?,",
            "pub name: Option<&'static str>,",
            "pub kvs_region: ::libcap::bind::Named<::libcap::start::SharedRegion>,",
            "kvs_region: ::libcap::bind::wired(start, \"kvs-region\", ::libcap::bind::region)?,",
            "pub net_wake: ::libcap::bind::Named<::libcap::cap::Notification>,",
            "net_wake: ::libcap::bind::wired(start, \"net-wake\", ::libcap::bind::signal)?,",
            "wake: ::libcap::bind::wired(start, \"wake\", ::libcap::bind::notification)?,",
            "pub kvs: ::libcap::bind::Named<::libcap::cap::Endpoint>,",
            "pub device: &'static str,",
            "pub rtc: ::libcap::bind::Named<::libcap::start::Irq>,",
            "pub uart: ::libcap::bind::Named<::libcap::start::PortRange>,",
            "pub extra: Option<&'static str>,",
            "pub spare: Option<::libcap::bind::Named<::libcap::start::SharedRegion>>,",
            "spare: ::libcap::bind::wired_optional(start, \"spare\", ::libcap::bind::region)?,",
            "pub quota: ::libcap::bind::Family<u64>,",
            "quota: ::libcap::bind::family(start, \"quota-\", \"\", ::libcap::bind::count)?,",
            "pub app: ::libcap::bind::Family<::libcap::bind::Named<::libcap::cap::Notification>>,",
            "pub maxmemory_policy: Option<MaxmemoryPolicy>,",
            "pub enum MaxmemoryPolicy {",
            "    AllkeysLru,",
            "            \"noeviction\" => Ok(Self::Noeviction),",
            "                kind: \"\\\"allkeys-lru\\\" or \\\"noeviction\\\"\",",
        ] {
            assert!(v.contains(line), "no `{line}` in:\n{v}");
        }
    }

    #[test]
    fn names_that_collide_are_refused() {
        assert_eq!(
            view("a-b = \"count\"\na_b = \"count\"\n"),
            Err(BindingsError::SameField {
                field: "a_b".into(),
                first: "a-b".into(),
                second: "a_b".into()
            })
        );
        assert_eq!(
            view("mode = [\"on-off\", \"on_off\"]\n"),
            Err(BindingsError::SameVariant {
                key: "mode".into(),
                variant: "OnOff".into()
            })
        );
    }

    #[test]
    fn keywords_and_digits_make_fields() {
        assert_eq!(field_name(&Key::Exact("type".into())), "r#type");
        assert_eq!(field_name(&Key::Exact("9p".into())), "arg_9p");
        assert_eq!(type_name("on-success"), "OnSuccess");
        assert_eq!(type_name("2x"), "W2x");
    }
}
