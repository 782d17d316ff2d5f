//! What each component binary takes as `[args]`: declared in its crate's
//! `Cargo.toml` under `[package.metadata.basalt.args]` and read by
//! [`libcap_link::declare`] (which also generates each binary's typed
//! view of them), gathered here from the workspace's members, with the
//! arguments every component takes from libcap's runtime ([`common`]).
//! See docs/config.md, "Arguments".

use super::diag::{Loc, Report, Source};
pub use libcap_link::declare::{ArgDecl, Key, Kind, Wiring, common};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use toml::de::{DeTable, DeValue};

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

/// The binaries one crate builds and what it declares for them, from its
/// `Cargo.toml` (`text`; `source` is how messages name it). The
/// declaration applies to each.
pub fn crate_file(source: &str, text: &str) -> Result<Vec<(String, Binary)>, Report> {
    let declared = libcap_link::declare::crate_file(text).map_err(|problems| {
        let mut report = Report::default();
        report.sources.push(Source {
            path: source.into(),
            text: text.to_string(),
        });
        for p in problems {
            report.error(
                &Loc {
                    file: 0,
                    span: p.span,
                },
                p.message,
            );
        }
        report
    })?;
    Ok(declared
        .binaries
        .into_iter()
        .map(|b| {
            (
                b,
                Binary {
                    source: source.to_string(),
                    args: declared.args.clone(),
                },
            )
        })
        .collect())
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
