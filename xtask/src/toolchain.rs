//! The Rust toolchain check that every command which builds for the
//! bare-metal target makes before it compiles anything: the toolchain
//! `rust-toolchain.toml` pins (or the one rustup was told to use instead)
//! must be installed and hold the standard library of
//! [`TARGET`](crate::build::TARGET). Where it does not, the error is the
//! exact `rustup` command that fixes it, given at once rather than as
//! rustc's E0463 after minutes of other work.
//!
//! [`diagnose`] decides from the facts alone, so that every message is
//! tested on the host; [`check`] gathers them: one `rustc --print sysroot`
//! when all is well, and `rustup toolchain list` only when it is not.

use crate::build::{self, TARGET};
use crate::{Result, fail, tools};
use std::path::{Path, PathBuf};
use std::process::Command;
use toml::de::{DeTable, DeValue};

/// What `rust-toolchain.toml` asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pin {
    pub channel: String,
    pub profile: Option<String>,
    pub components: Vec<String>,
}

impl Pin {
    /// The `[toolchain]` table of a `rust-toolchain.toml`.
    pub fn parse(text: &str) -> std::result::Result<Pin, String> {
        let doc = DeTable::parse(text).map_err(|e| e.to_string())?;
        let Some(DeValue::Table(t)) = doc.get_ref().get("toolchain").map(|v| v.get_ref()) else {
            return Err("no [toolchain] table".into());
        };
        let string = |key: &str| match t.get(key).map(|v| v.get_ref()) {
            Some(DeValue::String(s)) => Some(s.to_string()),
            _ => None,
        };
        let channel = string("channel").ok_or("no `channel` in [toolchain]")?;
        let components = match t.get("components").map(|v| v.get_ref()) {
            Some(DeValue::Array(a)) => a
                .iter()
                .filter_map(|v| match v.get_ref() {
                    DeValue::String(s) => Some(s.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Ok(Pin {
            channel,
            profile: string("profile"),
            components,
        })
    }
}

/// What the host's Rust installation looks like.
#[derive(Clone, Debug)]
pub struct Facts {
    pub pin: Pin,
    /// The toolchain cargo builds with: `RUSTUP_TOOLCHAIN`, which rustup
    /// sets for the programs it runs (a `cargo +name` or the pin), else
    /// the pin's channel.
    pub toolchain: String,
    /// `rustc --print sysroot`, or why it gave none.
    pub sysroot: std::result::Result<PathBuf, String>,
    /// Whether the sysroot holds `lib/rustlib/<TARGET>`.
    pub has_target: bool,
    /// The toolchains `rustup toolchain list` names (each line's first
    /// word); `None` where there is no rustup.
    pub installed: Option<Vec<String>>,
}

/// Whether toolchain `name` (as rustup or the pin names it: `1.95.0`,
/// `stable`, `1.95.0-x86_64-unknown-linux-gnu`) is among `installed`.
fn is_installed(name: &str, installed: &[String]) -> bool {
    installed.iter().any(|t| {
        t == name
            || t.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('-'))
    })
}

impl Facts {
    /// Whether the toolchain is the pinned one (by its channel or its full
    /// name, as rustup gives it).
    fn pinned(&self) -> bool {
        is_installed(&self.pin.channel, std::slice::from_ref(&self.toolchain))
    }
}

/// The command that installs the toolchain with what the build needs
/// (and, for the pinned toolchain, the profile and components the pin
/// lists).
fn install_command(f: &Facts) -> String {
    let mut c = format!("rustup toolchain install {}", f.toolchain);
    if f.pinned() {
        if let Some(profile) = &f.pin.profile {
            c += &format!(" --profile {profile}");
        }
        if !f.pin.components.is_empty() {
            c += &format!(" --component {}", f.pin.components.join(","));
        }
    }
    c + &format!(" --target {TARGET}")
}

/// What is wrong with the toolchain, with its fix; `None`: nothing.
pub fn diagnose(f: &Facts) -> Option<String> {
    let toolchain = &f.toolchain;
    let pinned = if f.pinned() {
        " (pinned in rust-toolchain.toml)".to_string()
    } else {
        String::new()
    };
    match (&f.sysroot, &f.installed) {
        (Ok(_), _) if f.has_target => None,
        (Ok(sysroot), Some(_)) => Some(format!(
            "the Rust toolchain `{toolchain}`{pinned} lacks the {TARGET} target \
             (there is no {})\n  add it with: rustup target add {TARGET} --toolchain {toolchain}",
            sysroot.join("lib/rustlib").join(TARGET).display()
        )),
        (Ok(sysroot), None) => Some(format!(
            "the Rust toolchain in {} lacks the {TARGET} target, and there is no rustup \
             to add it\n  install rustup (https://rustup.rs), which reads rust-toolchain.toml, \
             then: rustup target add {TARGET} --toolchain {}",
            sysroot.display(),
            f.pin.channel
        )),
        (Err(e), Some(installed)) if !is_installed(toolchain, installed) => Some(format!(
            "the Rust toolchain `{toolchain}`{pinned} is not installed ({e})\n  \
             install it with: {}",
            install_command(f)
        )),
        (Err(e), Some(_)) => Some(format!(
            "cannot ask rustc (toolchain `{toolchain}`) for its sysroot: {e}"
        )),
        (Err(e), None) => Some(format!(
            "cannot run rustc: {e}\n  install rustup (https://rustup.rs), which reads \
             rust-toolchain.toml, then: rustup toolchain install {} --target {TARGET}",
            f.pin.channel
        )),
    }
}

/// `rustc --print sysroot`, run where cargo runs it.
fn sysroot() -> std::result::Result<PathBuf, String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .current_dir(build::root())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&rustc).display()))?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let reason = stderr
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no reason given");
        return Err(format!("rustc --print sysroot failed: {reason}"));
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// `rustup toolchain list`, each line's first word; `None` without rustup.
fn installed_toolchains() -> Option<Vec<String>> {
    tools::on_path("rustup")?;
    let out = Command::new("rustup")
        .args(["toolchain", "list"])
        .current_dir(build::root())
        .output()
        .ok()?;
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(str::to_string)
            .collect(),
    )
}

/// Checks the toolchain once per xtask run.
pub fn check() -> Result<()> {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    if READY.get().is_some() {
        return Ok(());
    }
    let sysroot = sysroot();
    let has_target = sysroot
        .as_ref()
        .is_ok_and(|s| s.join("lib/rustlib").join(TARGET).is_dir());
    if !has_target {
        let file = build::root().join("rust-toolchain.toml");
        let pin = std::fs::read_to_string(&file)
            .map_err(|e| e.to_string())
            .and_then(|text| Pin::parse(&text))
            .map_err(|e| fail!("{}: {e}", file.display()))?;
        let toolchain = std::env::var("RUSTUP_TOOLCHAIN")
            .ok()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| pin.channel.clone());
        let facts = Facts {
            pin,
            toolchain,
            sysroot,
            has_target,
            installed: installed_toolchains(),
        };
        if let Some(message) = diagnose(&facts) {
            return Err(fail!("{message}"));
        }
    }
    let _ = READY.set(());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> Pin {
        Pin {
            channel: "1.95.0".into(),
            profile: Some("minimal".into()),
            components: vec!["rustfmt".into(), "clippy".into()],
        }
    }

    fn facts(toolchain: &str) -> Facts {
        Facts {
            pin: pin(),
            toolchain: toolchain.into(),
            sysroot: Ok(PathBuf::from(
                "/r/toolchains/1.95.0-x86_64-unknown-linux-gnu",
            )),
            has_target: true,
            installed: Some(vec![
                "stable-x86_64-unknown-linux-gnu".into(),
                "1.95.0-x86_64-unknown-linux-gnu".into(),
            ]),
        }
    }

    #[test]
    fn the_repository_pin_parses() {
        let text = std::fs::read_to_string(build::root().join("rust-toolchain.toml")).unwrap();
        let p = Pin::parse(&text).unwrap();
        assert!(!p.channel.is_empty());
        let text = "[toolchain]\nchannel = \"1.95.0\"\ntargets = [\"x86_64-unknown-none\"]\n\
                    components = [\"rustfmt\", \"clippy\"]\nprofile = \"minimal\"\n";
        assert_eq!(Pin::parse(text).unwrap(), pin());
        assert!(Pin::parse("[toolchain]\nprofile = \"minimal\"\n").is_err());
        assert!(Pin::parse("channel = 1").is_err());
    }

    #[test]
    fn a_toolchain_with_the_target_is_fine() {
        assert_eq!(diagnose(&facts("1.95.0-x86_64-unknown-linux-gnu")), None);
        let no_rustup = Facts {
            installed: None,
            ..facts("1.95.0")
        };
        assert_eq!(diagnose(&no_rustup), None);
    }

    #[test]
    fn a_missing_target_gets_the_rustup_target_add_for_that_toolchain() {
        let f = Facts {
            has_target: false,
            ..facts("1.95.0-x86_64-unknown-linux-gnu")
        };
        assert_eq!(
            diagnose(&f).unwrap(),
            "the Rust toolchain `1.95.0-x86_64-unknown-linux-gnu` (pinned in \
             rust-toolchain.toml) lacks the \
             x86_64-unknown-none target (there is no \
             /r/toolchains/1.95.0-x86_64-unknown-linux-gnu/lib/rustlib/x86_64-unknown-none)\n  \
             add it with: rustup target add x86_64-unknown-none \
             --toolchain 1.95.0-x86_64-unknown-linux-gnu"
        );
        let pinned = Facts {
            has_target: false,
            ..facts("1.95.0")
        };
        let m = diagnose(&pinned).unwrap();
        assert!(
            m.contains("`1.95.0` (pinned in rust-toolchain.toml)"),
            "{m}"
        );
        assert!(
            m.ends_with("rustup target add x86_64-unknown-none --toolchain 1.95.0"),
            "{m}"
        );
    }

    #[test]
    fn a_missing_target_without_rustup_says_how_to_get_it() {
        let f = Facts {
            has_target: false,
            installed: None,
            ..facts("1.95.0")
        };
        let m = diagnose(&f).unwrap();
        assert!(m.contains("there is no rustup"), "{m}");
        assert!(
            m.ends_with("rustup target add x86_64-unknown-none --toolchain 1.95.0"),
            "{m}"
        );
    }

    #[test]
    fn a_missing_toolchain_gets_the_rustup_toolchain_install() {
        let f = Facts {
            sysroot: Err("rustc --print sysroot failed: error: toolchain \
                          '1.95.0-x86_64-unknown-linux-gnu' is not installed"
                .into()),
            has_target: false,
            installed: Some(vec!["stable-x86_64-unknown-linux-gnu".into()]),
            ..facts("1.95.0-x86_64-unknown-linux-gnu")
        };
        let m = diagnose(&f).unwrap();
        assert!(
            m.starts_with(
                "the Rust toolchain `1.95.0-x86_64-unknown-linux-gnu` (pinned in \
                 rust-toolchain.toml) is not installed"
            ),
            "{m}"
        );
        assert!(
            m.ends_with(
                "install it with: rustup toolchain install 1.95.0-x86_64-unknown-linux-gnu \
                 --profile minimal --component rustfmt,clippy --target x86_64-unknown-none"
            ),
            "{m}"
        );
        // Another toolchain than the pinned one (`cargo +nightly xtask`)
        // gets the target alone.
        let other = Facts {
            toolchain: "nightly".into(),
            ..f
        };
        assert!(
            diagnose(&other)
                .unwrap()
                .ends_with("rustup toolchain install nightly --target x86_64-unknown-none")
        );
    }

    #[test]
    fn rustc_failing_otherwise_says_why() {
        let f = Facts {
            sysroot: Err("rustc --print sysroot failed: boom".into()),
            has_target: false,
            ..facts("1.95.0")
        };
        assert_eq!(
            diagnose(&f).unwrap(),
            "cannot ask rustc (toolchain `1.95.0`) for its sysroot: \
             rustc --print sysroot failed: boom"
        );
        let no_rustup = Facts {
            installed: None,
            ..f
        };
        let m = diagnose(&no_rustup).unwrap();
        assert!(m.starts_with("cannot run rustc: "), "{m}");
        assert!(m.contains("https://rustup.rs"), "{m}");
    }

    #[test]
    fn installed_toolchains_match_by_full_or_short_name() {
        let installed = [
            "stable-x86_64-unknown-linux-gnu".to_string(),
            "1.95.0-x86_64-unknown-linux-gnu".to_string(),
        ];
        for yes in ["1.95.0", "1.95.0-x86_64-unknown-linux-gnu", "stable"] {
            assert!(is_installed(yes, &installed), "{yes}");
        }
        for no in ["1.95", "1.9", "nightly", "1.95.0-aarch64-unknown-linux-gnu"] {
            assert!(!is_installed(no, &installed), "{no}");
        }
    }
}
