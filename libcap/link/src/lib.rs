//! For the build scripts of Basalt user programs (servers, apps, test root
//! tasks):
//!
//! - links their binaries with `libcap/link.ld` when building for the
//!   bare-metal target (host builds — `cargo build`, `cargo test`,
//!   rust-analyzer — need nothing, so the workspace builds on the host
//!   too);
//! - generates the typed view of the arguments the crate declares under
//!   `[package.metadata.basalt.args]` ([`bindings`]), which the program
//!   includes with `libcap::include_args!()`.
//!
//! A user program's `build.rs` is one call:
//!
//! ```no_run
//! libcap_link::user_program();
//! ```
//!
//! [`declare`] reads the declarations; `cargo xtask check` uses it too.

pub mod bindings;
pub mod declare;

use std::path::Path;

/// The linker script every user program uses.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../link.ld");

/// The file of `OUT_DIR` that holds the generated view
/// (`libcap::include_args!` includes it).
pub const ARGS_FILE: &str = "basalt_args.rs";

/// Emits the cargo instructions that link the package's binaries as a
/// Basalt user program (when the target is bare metal), and writes the
/// typed view of its declared arguments.
///
/// # Panics
///
/// When the crate's declaration is malformed (with the messages, each at
/// its line), or the build script's environment lacks what Cargo sets.
pub fn user_program() {
    println!("cargo:rerun-if-changed={SCRIPT}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{SCRIPT}");
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    }
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("Cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("Cargo sets OUT_DIR");
    let manifest = Path::new(&dir).join("Cargo.toml");
    println!("cargo:rerun-if-changed={}", manifest.display());
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let source = relative(&manifest);
    let declared = declare::crate_file(&text).unwrap_or_else(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                let line = text[..p.span.start.min(text.len())].lines().count().max(1);
                format!("{source}:{line}: {}", p.message)
            })
            .collect();
        panic!("bad argument declaration:\n{}", lines.join("\n"))
    });
    if let Some(args) = declared.args {
        let code = bindings::generate(&source, &args)
            .unwrap_or_else(|e| panic!("{source}: [package.metadata.basalt.args]: {e}"));
        std::fs::write(Path::new(&out).join(ARGS_FILE), code)
            .unwrap_or_else(|e| panic!("cannot write the arguments' view to {out}: {e}"));
    }
}

/// `path` from the workspace's root, as docs and messages name crates
/// (`apps/resp/Cargo.toml`); the whole path when it is elsewhere.
fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().unwrap_or(root);
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    path.strip_prefix(&root)
        .unwrap_or(&path)
        .display()
        .to_string()
}
