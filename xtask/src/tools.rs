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
