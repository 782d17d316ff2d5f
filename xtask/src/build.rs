//! Building the target crates with cargo.

use crate::{Result, fail};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const TARGET: &str = "x86_64-unknown-none";

#[derive(Clone, Copy, Debug)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn from_release(release: bool) -> Self {
        if release { Self::Release } else { Self::Debug }
    }

    fn dir(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }
}

/// The repository root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is inside the repository")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    root().join("target")
}

pub fn kernel_path(profile: Profile) -> PathBuf {
    user_program_path("basalt-kernel", profile)
}

/// Runs `command`, turning a failure to start or a non-zero exit into an
/// error that names it.
pub fn check(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .map_err(|e| fail!("cannot run {:?}: {e}", command.get_program()))?;
    if !status.success() {
        return Err(fail!("{:?} failed ({status})", command.get_program()));
    }
    Ok(())
}

pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Builds `xtask/listen-backlog` (a host library QEMU preloads when it
/// forwards ports: see its docs) and returns its path, once per xtask
/// run (a test or a bench boots QEMU many times).
pub fn listen_backlog() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(path) = BUILT.get() {
        return Ok(path.clone());
    }
    check(cargo().args(["build", "--quiet", "-p", "listen-backlog"]))?;
    Ok(BUILT
        .get_or_init(|| target_dir().join("debug").join("liblisten_backlog.so"))
        .clone())
}

/// Builds `xtask/insn-count` (the QEMU plugin the benchmarks' `--icount`
/// pass loads: see its docs) and returns its path, once per xtask run.
pub fn insn_count() -> Result<PathBuf> {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if let Some(path) = BUILT.get() {
        return Ok(path.clone());
    }
    check(cargo().args(["build", "--quiet", "-p", "insn-count"]))?;
    Ok(BUILT
        .get_or_init(|| target_dir().join("debug").join("libinsn_count.so"))
        .clone())
}

/// Builds the kernel ELF and returns its path.
pub fn kernel(profile: Profile) -> Result<PathBuf> {
    bare_metal_binary("basalt-kernel", profile)
}

/// Where cargo puts user program `package` (a binary of the same name)
/// built for the bare-metal target.
pub fn user_program_path(package: &str, profile: Profile) -> PathBuf {
    target_dir().join(TARGET).join(profile.dir()).join(package)
}

/// Builds user program `package` (a crate whose binary has the package's
/// name and links with `libcap/link.ld`) for the bare-metal target and
/// returns the ELF's path.
pub fn user_program(package: &str, profile: Profile) -> Result<PathBuf> {
    bare_metal_binary(package, profile)
}

/// Builds the bare-metal binaries `names` (each the binary of the
/// workspace package of the same name, under servers/, apps/ or tests/) in one
/// cargo run and returns the directory that holds them.
pub fn user_binaries(names: &[&str], profile: Profile) -> Result<PathBuf> {
    // The commands check up front; this is the backstop (checked once a run).
    crate::toolchain::check()?;
    let mut c = cargo();
    c.args(["build", "--target", TARGET]);
    // Naming the packages keeps the host-only ones (xtask) out of the
    // feature resolution: their dependencies' `std` features would reach
    // the shared no_std crates (toml turns on indexmap's).
    for name in names {
        c.args(["--package", name, "--bin", name]);
    }
    if let Profile::Release = profile {
        c.arg("--release");
    }
    check(&mut c)?;
    Ok(target_dir().join(TARGET).join(profile.dir()))
}

/// Builds the binary named like its `package` for the bare-metal target.
fn bare_metal_binary(package: &str, profile: Profile) -> Result<PathBuf> {
    // The commands check up front; this is the backstop (checked once a run).
    crate::toolchain::check()?;
    let mut c = cargo();
    c.args([
        "build",
        "--package",
        package,
        "--bin",
        package,
        "--target",
        TARGET,
    ]);
    if let Profile::Release = profile {
        c.arg("--release");
    }
    check(&mut c)?;
    Ok(user_program_path(package, profile))
}

/// Runs the host unit tests of the whole workspace.
pub fn host_tests() -> Result<()> {
    // A Redis 7.0 of the tests' own for kvs-core's and resp's differential
    // tests, which then must compare (KVS_DIFF_REQUIRED); memcached's
    // starts a memcached of its own, and must too (MC_DIFF_REQUIRED).
    crate::tools::require(&[&crate::tools::MEMCACHED, &crate::tools::MEMCCAPABLE])?;
    let redis = crate::tools::private_redis()?;
    let mut test = cargo();
    test.args(["test", "--workspace"])
        .env("KVS_DIFF_ADDR", format!("127.0.0.1:{}", redis.port))
        .env("KVS_DIFF_OWN_SERVER", "1")
        .env("KVS_DIFF_REQUIRED", "1")
        .env("MC_DIFF_REQUIRED", "1");
    check(&mut test)
}
