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

fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

impl Tool {
    fn present(&self) -> bool {
        if self.what.starts_with('/') {
            Path::new(self.what).exists()
        } else {
            on_path(self.what).is_some()
        }
    }
}

/// Checks that every tool is there; one error lists all that are missing
/// with the command that installs them.
pub fn require(tools: &[&Tool]) -> Result<()> {
    let missing: Vec<&&Tool> = tools.iter().filter(|t| !t.present()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut packages: Vec<&str> = missing.iter().map(|t| t.package).collect();
    packages.dedup();
    let names: Vec<&str> = missing.iter().map(|t| t.what).collect();
    Err(fail!(
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
