//! For the build scripts of Basalt user programs (servers, apps, test root
//! tasks): links their binaries with `libcap/link.ld` when building for the
//! bare-metal target. Host builds (`cargo build`, `cargo test`,
//! rust-analyzer) need nothing, so the workspace builds on the host too.
//!
//! A user program's `build.rs` is one call:
//!
//! ```no_run
//! libcap_link::user_program();
//! ```

/// The linker script every user program uses.
pub const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../link.ld");

/// Emits the cargo instructions that link the package's binaries as a
/// Basalt user program (when the target is bare metal).
pub fn user_program() {
    println!("cargo:rerun-if-changed={SCRIPT}");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("none") {
        println!("cargo:rustc-link-arg-bins=-T{SCRIPT}");
        println!("cargo:rustc-link-arg-bins=-zmax-page-size=4096");
        println!("cargo:rustc-link-arg-bins=--no-dynamic-linker");
    }
}
