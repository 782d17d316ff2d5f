//! The boot image: a hybrid ISO made by `grub-mkrescue`, which boots from a
//! CD or, written raw to a USB stick or disk, from legacy BIOS and UEFI.

use crate::build::{self, Profile};
use crate::tools::{self, FAKETIME_LIB};
use crate::{Result, fail};
use basalt_abi::module_archive;
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
/// screen, no menu delay. The video drivers are for UEFI alone, where the
/// kernel's screen is the framebuffer GRUB sets up through them; under
/// BIOS the kernel gets VGA text mode without them, and loading the lot
/// from the boot medium took about 0.1 s of every boot under TCG.
fn grub_cfg(contents: &Contents<'_>) -> String {
    let mut cfg = String::from(
        "serial --unit=0 --speed=115200 --word=8 --parity=no --stop=1\n\
         terminal_input serial console\n\
         terminal_output serial console\n\
         if [ \"$grub_platform\" = efi ]; then insmod all_video; fi\n\
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

/// `bytes` as the loaders read it, if it is an ELF64 little-endian file:
/// cut after the last byte a program header covers, with its section
/// header table dropped (`e_shoff`, `e_shnum` and `e_shstrndx` zeroed).
/// GRUB loads the kernel, and init and the kernel load components, by
/// their program headers alone; the debug information and symbols after
/// the loaded segments (nine tenths of a release binary, which GRUB would
/// read from the boot medium at every boot: 0.25 s of TCG's boot for the
/// kernel's 2.3 MB) stay in `target/`, where `addr2line` and `gdb` read
/// them. Any other file, or an ELF whose headers do not fit it, comes back
/// as is.
pub fn loadable(bytes: &[u8]) -> Vec<u8> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u64_at = |at: usize| {
        bytes
            .get(at..at + 8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    };
    /// Bytes of the ELF64 header, which the cut always keeps.
    const HEADER: u64 = 64;
    // ELF magic, 64-bit, little-endian, a whole header.
    if !bytes.starts_with(b"\x7fELF")
        || bytes.get(4) != Some(&2)
        || bytes.get(5) != Some(&1)
        || (bytes.len() as u64) < HEADER
    {
        return bytes.to_vec();
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38))
    else {
        return bytes.to_vec();
    };
    let mut end = (phoff + u64::from(phentsize) * u64::from(phnum)).max(HEADER);
    for i in 0..u64::from(phnum) {
        let at = (phoff + i * u64::from(phentsize)) as usize;
        let (Some(offset), Some(filesz)) = (u64_at(at + 0x08), u64_at(at + 0x20)) else {
            return bytes.to_vec();
        };
        end = end.max(offset.saturating_add(filesz));
    }
    if end > bytes.len() as u64 {
        return bytes.to_vec();
    }
    let mut cut = bytes[..end as usize].to_vec();
    cut[0x28..0x30].fill(0); // e_shoff
    cut[0x3c..0x40].fill(0); // e_shnum, e_shstrndx
    cut
}

/// The files QEMU's direct boot takes for the image at an ISO's path,
/// written beside it by [`build`]: the kernel cut to its loaded segments
/// (`-kernel`; QEMU enters it through its PVH note), the modules in one
/// archive ([`basalt_abi::module_archive`], `-initrd`), and the kernel's
/// command line (`-append`). No firmware boot loader reads the medium:
/// SeaBIOS runs QEMU's PVH option ROM, which loads these by fw_cfg.
pub struct Direct {
    pub kernel: PathBuf,
    pub archive: PathBuf,
    command_line: PathBuf,
}

impl Direct {
    /// The direct-boot files of the image at `iso`.
    pub fn beside(iso: &Path) -> Direct {
        Direct {
            kernel: iso.with_extension("kernel"),
            archive: iso.with_extension("modules"),
            command_line: iso.with_extension("cmdline"),
        }
    }

    /// The kernel's command line.
    pub fn command_line(&self) -> Result<String> {
        fs::read_to_string(&self.command_line).map_err(|e| {
            fail!(
                "cannot read {} ({e}): build the image again",
                self.command_line.display()
            )
        })
    }

    /// Writes the files for `kernel`, `modules` (name, bytes as loaded)
    /// and the command line `args`.
    fn write(&self, kernel: &[u8], modules: &[(&str, Vec<u8>)], args: &str) -> Result<()> {
        fs::write(&self.kernel, kernel)?;
        fs::write(&self.command_line, args)?;
        fs::write(&self.archive, archive(modules)?)?;
        Ok(())
    }
}

/// The module archive of `modules` (name, bytes): the header page, then
/// each module at the offset its entry names.
fn archive(modules: &[(&str, Vec<u8>)]) -> Result<Vec<u8>> {
    let sizes: Vec<(&str, u64)> = modules
        .iter()
        .map(|(name, bytes)| (*name, bytes.len() as u64))
        .collect();
    let mut header = [0u8; module_archive::PAGE as usize];
    module_archive::header(&sizes, &mut header)
        .map_err(|e| fail!("cannot make the module archive: {e:?}"))?;
    let mut out = header.to_vec();
    let starts = module_archive::offsets(sizes.iter().map(|&(_, len)| len));
    for ((_, bytes), at) in modules.iter().zip(starts) {
        out.resize(at as usize, 0);
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

/// Writes the image for `contents` to `out`, and the files for QEMU's
/// direct boot of it beside it ([`Direct::beside`]).
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
    let kernel = fs::read(contents.kernel)
        .map_err(|e| fail!("cannot read {}: {e}", contents.kernel.display()))?;
    let kernel = loadable(&kernel);
    fs::write(boot.join("basalt-kernel"), &kernel)?;
    let mut modules = Vec::new();
    for (i, m) in contents.modules.iter().enumerate() {
        let bytes =
            fs::read(&m.path).map_err(|e| fail!("cannot read module {}: {e}", m.path.display()))?;
        let bytes = loadable(&bytes);
        fs::write(boot.join(format!("module{i}")), &bytes)?;
        modules.push((m.name.as_str(), bytes));
    }
    fs::write(boot.join("grub").join("grub.cfg"), grub_cfg(contents))?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir)?;
    }
    Direct::beside(out).write(&kernel, &modules, contents.kernel_args)?;
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
    fn the_archive_holds_each_module_page_aligned() {
        let modules = [("roottask", vec![1u8; 4097]), ("manifest", vec![2u8; 3])];
        let bytes = archive(&modules).unwrap();
        let entries = module_archive::entries(&bytes).unwrap();
        let read: Vec<_> = entries
            .clone()
            .map(|e| (e.name, e.offset, entries.bytes(&e).to_vec()))
            .collect();
        assert_eq!(
            read,
            [
                ("roottask", 4096, modules[0].1.clone()),
                ("manifest", 3 * 4096, modules[1].1.clone())
            ]
        );
    }

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
        assert!(cfg.contains("if [ \"$grub_platform\" = efi ]; then insmod all_video; fi\n"));
        assert!(cfg.contains("multiboot2 /boot/basalt-kernel test=boot\n"));
        assert!(cfg.contains("module2 /boot/module0 init\n"));
    }

    /// An ELF64 executable: two PT_LOAD segments (`a` at 0x1000, `b` at
    /// 0x2000), then `tail` (debug sections), the section header table
    /// said to be at its end.
    fn elf(a: &[u8], b: &[u8], tail: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 0x2000 + b.len()];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
        f[0x28..0x30].copy_from_slice(&((0x2000 + b.len() + tail.len()) as u64).to_le_bytes());
        f[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        f[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
        f[0x3c..0x3e].copy_from_slice(&15u16.to_le_bytes());
        f[0x3e..0x40].copy_from_slice(&13u16.to_le_bytes());
        for (i, (offset, data)) in [(0x1000u64, a), (0x2000, b)].into_iter().enumerate() {
            let ph = 64 + 56 * i;
            f[ph..ph + 4].copy_from_slice(&1u32.to_le_bytes());
            f[ph + 8..ph + 16].copy_from_slice(&offset.to_le_bytes());
            f[ph + 0x20..ph + 0x28].copy_from_slice(&(data.len() as u64).to_le_bytes());
            f[offset as usize..offset as usize + data.len()].copy_from_slice(data);
        }
        f.extend_from_slice(tail);
        f
    }

    #[test]
    fn modules_keep_what_is_loaded_and_lose_the_rest() {
        let full = elf(b"text", b"rodata+data", &[0xdb; 5000]);
        let cut = loadable(&full);
        assert_eq!(cut.len(), 0x2000 + b"rodata+data".len());
        // Everything the program headers cover is unchanged...
        assert_eq!(cut[0x40..], full[0x40..cut.len()]);
        assert_eq!(cut[..0x28], full[..0x28]);
        // ... and no section headers are claimed.
        assert!(cut[0x28..0x30].iter().all(|&b| b == 0));
        assert!(cut[0x3c..0x40].iter().all(|&b| b == 0));
    }

    #[test]
    fn other_files_and_lying_elves_are_copied_as_they_are() {
        let manifest = b"BSLTMANI not an ELF".to_vec();
        assert_eq!(loadable(&manifest), manifest);
        let mut short = elf(b"text", b"data", b"");
        short.truncate(0x1800);
        assert_eq!(loadable(&short), short);
        let mut elf32 = elf(b"text", b"data", b"tail");
        elf32[4] = 1;
        assert_eq!(loadable(&elf32), elf32);
        assert_eq!(loadable(b"\x7fELF\x02\x01"), b"\x7fELF\x02\x01");
        // No program headers: the header alone, what follows it dropped.
        let mut bare = elf(b"", b"", b"tail");
        bare[0x38..0x3a].fill(0);
        assert_eq!(loadable(&bare).len(), 64);
    }
}
