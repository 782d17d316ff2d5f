//! The boot image: a hybrid ISO made by `grub-mkrescue`, which boots from a
//! CD or, written raw to a USB stick or disk, from legacy BIOS and UEFI.

use crate::build::{self, Profile};
use crate::tools::{self, FAKETIME_LIB};
use crate::{Result, fail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A file GRUB loads next to the kernel, named by `name` on its command line.
pub struct Module {
    pub path: PathBuf,
    pub name: String,
}

/// What goes into an image.
pub struct Contents<'a> {
    pub kernel: &'a Path,
    pub kernel_args: &'a str,
    pub modules: &'a [Module],
}

/// GRUB's configuration: serial console at 115200 8N1 as well as the
/// screen, no menu delay.
fn grub_cfg(contents: &Contents<'_>) -> String {
    let mut cfg = String::from(
        "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n\
         terminal_input serial console\n\
         terminal_output serial console\n\
         insmod all_video\n\
         set timeout=0\n\
         set default=0\n\n\
         menuentry \"Basalt\" {\n",
    );
    cfg += &format!(
        "    multiboot2 /boot/basalt-kernel {}\n",
        contents.kernel_args
    );
    for (i, m) in contents.modules.iter().enumerate() {
        cfg += &format!("    module2 /boot/module{i} {}\n", m.name);
    }
    cfg += "    boot\n}\n";
    cfg
}

/// Writes the image for `contents` to `out`.
pub fn build(contents: &Contents<'_>, out: &Path) -> Result<()> {
    tools::require(&tools::IMAGE)?;
    let stem = out
        .file_name()
        .ok_or_else(|| fail!("{} is not a file name", out.display()))?;
    let staging = build::target_dir().join("iso-staging").join(stem);
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    let boot = staging.join("boot");
    fs::create_dir_all(boot.join("grub"))?;
    fs::copy(contents.kernel, boot.join("basalt-kernel"))
        .map_err(|e| fail!("cannot copy {}: {e}", contents.kernel.display()))?;
    for (i, m) in contents.modules.iter().enumerate() {
        fs::copy(&m.path, boot.join(format!("module{i}")))
            .map_err(|e| fail!("cannot copy module {}: {e}", m.path.display()))?;
    }
    fs::write(boot.join("grub").join("grub.cfg"), grub_cfg(contents))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    let output = reproducible(
        Command::new("grub-mkrescue")
            .arg("-o")
            .arg(out)
            .arg(&staging),
    )
    .output()
    .map_err(|e| fail!("cannot run grub-mkrescue: {e}"))?;
    if !output.status.success() {
        return Err(fail!(
            "grub-mkrescue failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    check_both_firmwares(out)
}

/// The time every image claims to be made at: 2023-11-14 22:13:20 UTC.
pub const SOURCE_DATE_EPOCH: u64 = 1_700_000_000;

/// Makes a `grub-mkrescue` run give the same bytes for the same inputs.
///
/// Left alone it stamps the image with the time of the run in several
/// places: grub-mkrescue names the ISO after the current time (the
/// "modification date" that GRUB's embedded `search --fs-uuid` looks for,
/// from which xorriso also derives the GPT disk GUID), and builds its EFI
/// FAT image with `mformat`/`mcopy`, which date the files and derive the
/// volume serial from the clock; xorriso records file and volume dates.
/// So the run gets
///
/// - libfaketime (`LD_PRELOAD`) with the clock frozen at
///   [`SOURCE_DATE_EPOCH`] in UTC, which fixes grub-mkrescue's date and
///   what the tools it starts read from the clock;
/// - `SOURCE_DATE_EPOCH`, which mtools and xorriso honour (file dates in
///   the FAT image; xorriso's dates and GUID defaults);
/// - `-volume_date all_file_dates`, a native xorriso command (after `--`)
///   that sets every file's dates in the ISO, whatever the staged files'
///   modification times.
fn reproducible(command: &mut Command) -> &mut Command {
    command
        .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH.to_string())
        .env("TZ", "UTC")
        .env("LD_PRELOAD", FAKETIME_LIB)
        .env("FAKETIME", "2023-11-14 22:13:20")
        .args([
            "--",
            "-volume_date",
            "all_file_dates",
            &format!("={SOURCE_DATE_EPOCH}"),
        ])
}

/// grub-mkrescue quietly leaves out a platform whose GRUB files are missing;
/// a board then fails to boot with no hint why. Check the El Torito catalog
/// for both boot entries instead.
fn check_both_firmwares(image: &Path) -> Result<()> {
    let output = Command::new("xorriso")
        .args(["-indev"])
        .arg(image)
        .args(["-report_el_torito", "plain"])
        .output()
        .map_err(|e| fail!("cannot run xorriso: {e}"))?;
    let report = String::from_utf8_lossy(&output.stdout);
    let has = |platform: &str| {
        report.lines().any(|l| {
            l.starts_with("El Torito boot img") && l.split_whitespace().any(|w| w == platform)
        })
    };
    match (has("BIOS"), has("UEFI")) {
        (true, true) => Ok(()),
        (bios, _) => Err(fail!(
            "{} has no {} boot entry; install {} and rebuild",
            image.display(),
            if bios { "UEFI" } else { "BIOS" },
            if bios {
                "grub-efi-amd64-bin"
            } else {
                "grub-pc-bin"
            }
        )),
    }
}

/// The image `run` and `image` produce: the kernel with default arguments.
pub fn build_default(profile: Profile, out: &Path) -> Result<()> {
    let kernel = build::kernel(profile)?;
    build(
        &Contents {
            kernel: &kernel,
            kernel_args: "",
            modules: &[],
        },
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grub_cfg_boots_at_once_on_serial_with_args_and_modules() {
        let modules = [Module {
            path: "/x".into(),
            name: "init".into(),
        }];
        let cfg = grub_cfg(&Contents {
            kernel: Path::new("/k"),
            kernel_args: "test=boot",
            modules: &modules,
        });
        assert!(cfg.contains("set timeout=0\n"));
        assert!(cfg.contains("serial --unit=0 --speed=115200"));
        assert!(cfg.contains("terminal_output serial console\n"));
        assert!(cfg.contains("multiboot2 /boot/basalt-kernel test=boot\n"));
        assert!(cfg.contains("module2 /boot/module0 init\n"));
    }
}
