//! Config trees (`config/<system>/`, see docs/config.md): reading, checking
//! and turning one into the boot manifest `init` reads.
//!
//! A tree is a `system.toml` and one `<component>.toml` per component.
//! [`check`] reports every error it finds, each tied to a file, a line and
//! a column; only a tree without errors yields a [`Manifest`]. A
//! component's `[args]` are checked against what its binary declares in
//! its crate's `Cargo.toml` ([`declare`], read from the workspace by
//! [`load`]).

pub mod args;
pub mod declare;
pub mod diag;
pub mod graph;
pub mod parse;
pub mod size;
pub mod validate;

#[cfg(test)]
mod tests;

use crate::{Result, fail};
use declare::Declarations;
use diag::{Loc, Report, Source};
use manifest::Manifest;
use parse::Reader;
use std::fs;
use std::path::{Path, PathBuf};
use toml::de::DeTable;

/// The system file's name.
pub const SYSTEM_FILE: &str = "system.toml";
/// The config `run`, `image`, `test` and `check` use unless told otherwise.
pub const DEFAULT_DIR: &str = "config/default";

/// The files of a config tree, read into memory.
pub struct Tree {
    /// The directory as the user named it (for messages).
    pub dir: PathBuf,
    /// `(file name, text)` of every `*.toml` file, sorted by name.
    pub files: Vec<(String, String)>,
}

impl Tree {
    /// Reads every `*.toml` file of `dir` (other files and directories are
    /// left alone).
    pub fn read(dir: &Path) -> Result<Self> {
        let entries =
            fs::read_dir(dir).map_err(|e| fail!("cannot read config {}: {e}", dir.display()))?;
        let mut files = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".toml") || !path.is_file() {
                continue;
            }
            let text = fs::read_to_string(&path)
                .map_err(|e| fail!("cannot read {}: {e}", path.display()))?;
            files.push((name.to_string(), text));
        }
        files.sort();
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
        })
    }
}

/// Where a `--config` directory is, and how to show it: a relative path is
/// taken from the current directory, the default from the repository root.
pub fn resolve(dir: Option<&Path>) -> PathBuf {
    match dir {
        Some(d) => d.to_path_buf(),
        None => {
            let full = crate::build::root().join(DEFAULT_DIR);
            match std::env::current_dir() {
                Ok(cwd) => full
                    .strip_prefix(&cwd)
                    .map_or_else(|_| full.clone(), Path::to_path_buf),
                Err(_) => full,
            }
        }
    }
}

/// Checks a tree, each component's `[args]` against `decls` (what the
/// binaries declare); the manifest if it is sound, else every error found.
pub fn check(tree: &Tree, decls: &Declarations) -> std::result::Result<Manifest, Report> {
    let mut report = Report::default();
    for (name, text) in &tree.files {
        report.sources.push(Source {
            path: tree.dir.join(name),
            text: text.clone(),
        });
    }
    let Some(system_file) = tree.files.iter().position(|(n, _)| n == SYSTEM_FILE) else {
        report.sources.push(Source {
            path: tree.dir.join(SYSTEM_FILE),
            text: String::new(),
        });
        let loc = Loc::start_of(report.sources.len() - 1);
        report.error(
            &loc,
            format!(
                "{} has no {SYSTEM_FILE}: every config tree needs one (see docs/config.md)",
                tree.dir.display()
            ),
        );
        return Err(report);
    };

    // Parse every file; a file with syntax errors is not looked at further.
    let mut docs: Vec<Option<DeTable<'_>>> = Vec::new();
    for (i, (_, text)) in tree.files.iter().enumerate() {
        let (doc, errors) = DeTable::parse_recoverable(text);
        for e in &errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim_end().replace('\n', "; ");
            report.error(&Loc { file: i, span }, format!("TOML syntax: {message}"));
        }
        docs.push(errors.is_empty().then(|| doc.into_inner()));
    }
    let syntax_ok = docs.iter().all(Option::is_some);

    let system = docs[system_file].as_ref().map(|doc| {
        let mut r = Reader {
            report: &mut report,
            file: system_file,
        };
        parse::system(&mut r, doc)
    });

    // Which files are components: the list in system.toml, else every
    // other *.toml file.
    let mut listed: Vec<(String, Option<usize>)> = Vec::new();
    match system.as_ref().and_then(|s| s.components.as_ref()) {
        Some((list, list_loc)) => {
            for entry in list {
                let name = &entry.value;
                if let Some(why) = parse::bad_name(name, basalt_abi::start_info::NAME_BYTES) {
                    report.error(&entry.loc, format!("component {why}"));
                    continue;
                }
                if let Some(first) = list.iter().find(|e| e.value == *name)
                    && first.loc != entry.loc
                {
                    let (line, col) = report.line_col(&first.loc);
                    report.error(
                        &entry.loc,
                        format!("component `{name}` is listed twice (first at {line}:{col})"),
                    );
                    continue;
                }
                let file = format!("{name}.toml");
                match tree.files.iter().position(|(n, _)| *n == file) {
                    Some(i) => listed.push((name.clone(), Some(i))),
                    None => {
                        report.error(
                            &entry.loc,
                            format!(
                                "component `{name}` has no file: create {}",
                                tree.dir.join(&file).display()
                            ),
                        );
                        listed.push((name.clone(), None));
                    }
                }
            }
            for (i, (file, _)) in tree.files.iter().enumerate() {
                let stem = file.trim_end_matches(".toml");
                if i != system_file && !list.iter().any(|e| e.value == stem) {
                    report.error(
                        list_loc,
                        format!(
                            "{file} is not listed in `components`: add \"{stem}\" or remove the file"
                        ),
                    );
                }
            }
        }
        None => {
            for (i, (file, _)) in tree.files.iter().enumerate() {
                if i == system_file {
                    continue;
                }
                let stem = file.trim_end_matches(".toml");
                match parse::bad_name(stem, basalt_abi::start_info::NAME_BYTES) {
                    Some(why) => report.error(
                        &Loc::start_of(i),
                        format!("{file}: a component file is named after its component, and {why}"),
                    ),
                    None => listed.push((stem.to_string(), Some(i))),
                }
            }
        }
    }

    if listed.is_empty() && system.is_some() {
        let loc = match system.as_ref().and_then(|s| s.components.as_ref()) {
            Some((_, list_loc)) => list_loc.clone(),
            None => Loc::start_of(system_file),
        };
        report.error(
            &loc,
            "the system has no components: add a <component>.toml file for each",
        );
    }

    let mut components = Vec::new();
    for (name, file) in &listed {
        let Some(file) = *file else { continue };
        let Some(doc) = &docs[file] else { continue };
        let mut r = Reader {
            report: &mut report,
            file,
        };
        components.push(parse::component(&mut r, name, doc));
    }
    // Arguments: what each file gives against what its binary takes, and
    // wiring arguments against its grants (regions only once system.toml
    // could be read).
    for c in &components {
        let regions = system.as_ref().map(|s| s.regions.as_slice());
        args::check(&mut report, c, regions, decls);
    }
    let complete = syntax_ok && listed.iter().all(|(_, f)| f.is_some());

    let manifest = match (&system, complete) {
        (Some(sys), true) => validate::system(&mut report, sys, &components),
        _ => None,
    };
    report.sort();
    match manifest {
        Some(m) if report.is_empty() => Ok(m),
        _ => {
            if report.is_empty() {
                // Cannot happen: every refusal reports why.
                report.error(&Loc::start_of(system_file), "the config is not valid");
            }
            Err(report)
        }
    }
}

/// Reads and checks the tree at `dir`; on errors prints them all to
/// standard error and fails.
pub fn load(dir: &Path) -> Result<Manifest> {
    if !dir.is_dir() {
        return Err(fail!(
            "{} is not a config directory (see docs/config.md)",
            dir.display()
        ));
    }
    let tree = Tree::read(dir)?;
    let decls = declarations()?;
    check(&tree, &decls).map_err(|report| {
        eprint!("{}", report.render());
        let n = report.diagnostics.len();
        fail!(
            "{}: {n} error{} in the config",
            dir.display(),
            if n == 1 { "" } else { "s" }
        )
    })
}

/// What the workspace's binaries declare as their arguments (their
/// crates' `[package.metadata.basalt.args]`); on errors in them prints
/// them all to standard error and fails.
pub fn declarations() -> Result<Declarations> {
    declare::load(&crate::build::root()).map_err(|report| {
        eprint!("{}", report.render());
        let n = report.diagnostics.len();
        fail!(
            "{n} error{} in the argument declarations (docs/config.md)",
            if n == 1 { "" } else { "s" }
        )
    })
}

/// `cargo xtask test`'s config step: checks the tree in `dir` (default
/// config/default, skipped with a note while that does not exist).
pub fn check_for_test(dir: Option<&Path>) -> Result<()> {
    let path = resolve(dir);
    if dir.is_none() && !path.exists() {
        println!(
            "== config: {} does not exist yet, nothing to check",
            path.display()
        );
        return Ok(());
    }
    println!("== config {}", path.display());
    let m = load(&path)?;
    println!(
        "system `{}` is valid ({} components)",
        m.system,
        m.components.len()
    );
    Ok(())
}
