//! Host tools the xtask drives, and the Debian packages that provide them.

use crate::{Result, fail};
use std::path::{Path, PathBuf};

/// Something on the host that a command needs.
pub struct Tool {
    /// A program on PATH, or an absolute path that must exist.
    what: &'static str,
    package: &'static str,
}

pub const QEMU: Tool = Tool {
    what: "qemu-system-x86_64",
    package: "qemu-system-x86",
};
pub const GRUB_MKRESCUE: Tool = Tool {
    what: "grub-mkrescue",
    package: "grub-common",
};
pub const XORRISO: Tool = Tool {
    what: "xorriso",
    package: "xorriso",
};
pub const MTOOLS: Tool = Tool {
    what: "mformat",
    package: "mtools",
};
pub const GRUB_BIOS: Tool = Tool {
    what: "/usr/lib/grub/i386-pc/multiboot2.mod",
    package: "grub-pc-bin",
};
pub const GRUB_EFI: Tool = Tool {
    what: "/usr/lib/grub/x86_64-efi/multiboot2.mod",
    package: "grub-efi-amd64-bin",
};
/// libfaketime, which freezes the clock grub-mkrescue reads so that images
/// come out byte-identical (see `image::build`).
pub const FAKETIME: Tool = Tool {
    what: FAKETIME_LIB,
    package: "faketime",
};
pub const FAKETIME_LIB: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
pub const GDB: Tool = Tool {
    what: "gdb",
    package: "gdb",
};
pub const REDIS_CLI: Tool = Tool {
    what: "redis-cli",
    package: "redis-tools",
};
pub const REDIS_BENCHMARK: Tool = Tool {
    what: "redis-benchmark",
    package: "redis-tools",
};
/// The real Redis that kvs-core's differential test compares with.
pub const REDIS_SERVER: Tool = Tool {
    what: "redis-server",
    package: "redis-server",
};
/// The real memcached that the memcached front end's differential test
/// compares with (the test starts its own).
pub const MEMCACHED: Tool = Tool {
    what: "memcached",
    package: "memcached",
};
/// memcached's conformance checker, run against the memcached front end.
pub const MEMCCAPABLE: Tool = Tool {
    what: "memccapable",
    package: "libmemcached-tools",
};
/// memcached's load generator, `cargo xtask bench memcached`'s.
pub const MEMCASLAP: Tool = Tool {
    what: "memcaslap",
    package: "libmemcached-tools",
};
/// Real client libraries, unchanged, against the default system's front
/// ends (`tests/clients`).
pub const REDIS_PY: Tool = Tool {
    what: "/usr/lib/python3/dist-packages/redis/__init__.py",
    package: "python3-redis",
};
pub const PYMEMCACHE: Tool = Tool {
    what: "/usr/lib/python3/dist-packages/pymemcache/__init__.py",
    package: "python3-pymemcache",
};
pub const CURL: Tool = Tool {
    what: "curl",
    package: "curl",
};
/// coreutils' `timeout`, which bounds each `redis-cli` and `curl` call.
pub const TIMEOUT: Tool = Tool {
    what: "timeout",
    package: "coreutils",
};
/// The UEFI firmware, in either of [`OVMF`]'s layouts.
pub const OVMF_FIRMWARE: Tool = Tool {
    what: OVMF_NAME,
    package: "ovmf",
};
const OVMF_NAME: &str = "OVMF (UEFI firmware)";

/// What writing a boot image takes (see `image::build`).
pub const IMAGE: [&Tool; 6] = [
    &GRUB_MKRESCUE,
    &XORRISO,
    &MTOOLS,
    &GRUB_BIOS,
    &GRUB_EFI,
    &FAKETIME,
];

/// OVMF firmware: code and variable-store templates, newest layout first.
const OVMF: [(&str, &str); 2] = [
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
];

pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

impl Tool {
    /// The program or file, as the error names it.
    #[cfg(test)]
    pub fn name(&self) -> &'static str {
        self.what
    }

    fn present(&self) -> bool {
        if self.what == OVMF_NAME {
            ovmf().is_ok()
        } else if self.what.starts_with('/') {
            Path::new(self.what).exists()
        } else {
            on_path(self.what).is_some()
        }
    }
}

/// Checks that every tool is there; one error lists all that are missing
/// with the command that installs them.
pub fn require(tools: &[&Tool]) -> Result<()> {
    let missing: Vec<&Tool> = tools.iter().copied().filter(|t| !t.present()).collect();
    match missing_message(&missing) {
        None => Ok(()),
        Some(message) => Err(fail!("{message}")),
    }
}

/// What to say when `missing` are not there: each once, and the packages
/// that bring them, each once.
fn missing_message(missing: &[&Tool]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = Vec::new();
    let mut packages: Vec<&str> = Vec::new();
    for t in missing {
        if !names.contains(&t.what) {
            names.push(t.what);
        }
        if !packages.contains(&t.package) {
            packages.push(t.package);
        }
    }
    Some(format!(
        "missing host tools: {}\n  install them with: sudo apt-get install {}",
        names.join(", "),
        packages.join(" ")
    ))
}

/// The OVMF code image and variable-store template.
pub fn ovmf() -> Result<(PathBuf, PathBuf)> {
    OVMF.iter()
        .find(|(code, vars)| Path::new(code).exists() && Path::new(vars).exists())
        .map(|(code, vars)| (PathBuf::from(code), PathBuf::from(vars)))
        .ok_or_else(|| {
            fail!("UEFI firmware (OVMF) not found\n  install it with: sudo apt-get install ovmf")
        })
}

/// A `redis-server` of the host tests' own: on a free port of
/// 127.0.0.1, keeping nothing on disk, killed (by its pid) when dropped.
pub struct PrivateRedis {
    child: std::process::Child,
    /// Its port.
    pub port: u16,
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a [`PrivateRedis`] and waits (5 s at most) until it answers.
pub fn private_redis() -> Result<PrivateRedis> {
    require(&[&REDIS_SERVER])?;
    let port = crate::machine::free_port()?;
    let child = std::process::Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail!("cannot start redis-server: {e}"))?;
    let redis = PrivateRedis { child, port };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if std::time::Instant::now() > deadline {
            return Err(fail!("redis-server on port {port} does not answer"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Ok(redis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_missing_says_nothing() {
        assert_eq!(missing_message(&[]), None);
    }

    #[test]
    fn each_missing_tool_and_package_is_named_once() {
        let m = missing_message(&[&REDIS_CLI, &QEMU, &REDIS_BENCHMARK, &REDIS_CLI]).unwrap();
        assert_eq!(
            m,
            "missing host tools: redis-cli, qemu-system-x86_64, redis-benchmark\n  \
             install them with: sudo apt-get install redis-tools qemu-system-x86"
        );
    }
}
