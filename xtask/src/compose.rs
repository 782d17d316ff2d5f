//! `cargo xtask compose`: a config tree into a boot image. The image holds
//! the kernel, `init` as the root task (module `roottask`), the encoded
//! manifest (module `manifest`) and one module `bin/<binary>` per distinct
//! component binary; the same inputs give the same bytes.

use crate::build::{self, Profile};
use crate::image::{self, Contents, Module};
use crate::{Result, config, fail};
use manifest::{MODULE_NAME, Manifest, ROOT_TASK_MODULE};
use std::fs;
use std::path::{Path, PathBuf};

/// The root task's package and binary.
pub const INIT: &str = "init";
/// The kernel's binary.
pub const KERNEL: &str = "basalt-kernel";

/// Where the ELF files come from.
pub enum Binaries<'a> {
    /// Build the kernel, `init` and the component binaries with cargo.
    Build(Profile),
    /// Take `<dir>/basalt-kernel`, `<dir>/init` and `<dir>/<binary>` as
    /// they are and run no compiler.
    Prebuilt(&'a Path),
}

/// The distinct binaries of `m`, in component order.
pub fn binaries(m: &Manifest) -> Vec<&str> {
    let mut out: Vec<&str> = Vec::new();
    for c in &m.components {
        if !out.contains(&c.binary.as_str()) {
            out.push(&c.binary);
        }
    }
    out
}

/// Checks that `path` is a 64-bit little-endian x86-64 ELF file.
fn check_elf(path: &Path, what: &str) -> Result<()> {
    let bytes = fs::read(path).map_err(|e| fail!("cannot read {what} {}: {e}", path.display()))?;
    let is_elf = bytes.len() >= 64
        && bytes[..4] == *b"\x7fELF"
        && bytes[4] == 2 // ELFCLASS64
        && bytes[5] == 1 // little-endian
        && u16::from_le_bytes([bytes[18], bytes[19]]) == 62; // EM_X86_64
    if is_elf {
        Ok(())
    } else {
        Err(fail!("{what} {} is not an x86-64 ELF file", path.display()))
    }
}

/// Checks the tree at `config_dir`, gets the ELF files, and writes the
/// image to `out`. Returns the manifest.
pub fn compose(config_dir: &Path, binaries_from: Binaries<'_>, out: &Path) -> Result<Manifest> {
    compose_with_args(config_dir, binaries_from, out, "")
}

/// [`compose`] with a kernel command line (self-tests boot systems with
/// `test=roottask`, which lets a component end the QEMU run).
pub fn compose_with_args(
    config_dir: &Path,
    binaries_from: Binaries<'_>,
    out: &Path,
    kernel_args: &str,
) -> Result<Manifest> {
    let manifest = config::load(config_dir)?;
    let names = binaries(&manifest);
    let dir: PathBuf = match binaries_from {
        Binaries::Prebuilt(dir) => dir.to_path_buf(),
        Binaries::Build(profile) => {
            build::kernel(profile)?;
            if !build::root().join("servers").join(INIT).is_dir() {
                return Err(fail!(
                    "servers/{INIT} does not exist yet: build init elsewhere and pass its directory with --bins"
                ));
            }
            let mut all = vec![INIT];
            all.extend(&names);
            build::user_binaries(&all, profile)?
        }
    };
    let kernel = dir.join(KERNEL);
    check_elf(&kernel, "the kernel")?;
    let init = dir.join(INIT);
    check_elf(&init, "the root task")?;
    let mut modules = vec![Module {
        path: init,
        name: ROOT_TASK_MODULE.into(),
    }];

    let stem = out
        .file_name()
        .ok_or_else(|| fail!("{} is not a file name", out.display()))?;
    let staging = build::target_dir().join("compose").join(stem);
    fs::create_dir_all(&staging)?;
    let blob = staging.join("manifest.bin");
    fs::write(&blob, manifest.encode())?;
    modules.push(Module {
        path: blob,
        name: MODULE_NAME.into(),
    });

    for (name, component) in names.iter().map(|n| {
        let c = manifest.components.iter().find(|c| c.binary == *n);
        (*n, c.expect("a binary of some component"))
    }) {
        let path = dir.join(name);
        check_elf(&path, &format!("binary `{name}`"))?;
        modules.push(Module {
            path,
            name: component.module_name(),
        });
    }
    image::build(
        &Contents {
            kernel: &kernel,
            kernel_args,
            modules: &modules,
        },
        out,
    )?;
    Ok(manifest)
}

/// The image `run` and `image` boot: the system in `config` (default
/// config/default) composed with `profile`; while config/default does not
/// exist, the kernel alone, as before there were config trees.
pub fn system_image(
    config: Option<&Path>,
    profile: Profile,
    out: &Path,
) -> Result<Option<manifest::Manifest>> {
    let dir = config::resolve(config);
    if dir.is_dir() {
        let m = compose(&dir, Binaries::Build(profile), out)?;
        println!(
            "system `{}` from {}: {} components",
            m.system,
            dir.display(),
            m.components.len()
        );
        Ok(Some(m))
    } else if config.is_some() {
        Err(fail!("{} is not a config directory", dir.display()))
    } else {
        println!(
            "note: {} does not exist yet, so the image holds the kernel alone",
            dir.display()
        );
        image::build_default(profile, out)?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools;

    /// An ELF header that passes [`check_elf`], then `tag`.
    fn stand_in_elf(tag: &str) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[6] = 1;
        b[18] = 62;
        b.extend_from_slice(tag.as_bytes());
        b
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = build::target_dir().join("xtask-tests").join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn only_x86_64_elf_files_are_taken() {
        let dir = scratch("check-elf");
        let good = dir.join("good");
        fs::write(&good, stand_in_elf("x")).unwrap();
        assert!(check_elf(&good, "it").is_ok());
        let mut arm = stand_in_elf("x");
        arm[18] = 183; // EM_AARCH64
        fs::write(dir.join("arm"), arm).unwrap();
        let e = check_elf(&dir.join("arm"), "binary `a`").unwrap_err().0;
        assert!(e.ends_with("is not an x86-64 ELF file"), "{e}");
        fs::write(dir.join("text"), "#!/bin/sh\n").unwrap();
        assert!(check_elf(&dir.join("text"), "it").is_err());
        assert!(check_elf(&dir.join("absent"), "it").is_err());
    }

    #[test]
    fn binaries_are_listed_once_in_component_order() {
        let m = Manifest {
            components: ["b", "a", "b"]
                .iter()
                .map(|b| manifest::Component {
                    binary: b.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        assert_eq!(binaries(&m), ["b", "a"]);
    }

    /// Composing the hello tree twice from the same stand-in binaries
    /// gives byte-identical images, with every module in them.
    #[test]
    fn composing_twice_gives_identical_images() {
        if let Err(e) = tools::require(&tools::IMAGE) {
            eprintln!("skipped: {}", e.0);
            return;
        }
        let dir = scratch("compose-twice");
        let bins = dir.join("bins");
        fs::create_dir_all(&bins).unwrap();
        for name in [KERNEL, INIT, "hello-server", "hello-client"] {
            fs::write(bins.join(name), stand_in_elf(name)).unwrap();
        }
        let config = build::root().join("config/hello");
        let a = dir.join("compose-a.iso");
        let b = dir.join("compose-b.iso");
        let m = compose(&config, Binaries::Prebuilt(&bins), &a).unwrap();
        assert_eq!(binaries(&m), ["hello-server", "hello-client"]);
        // Make the second run differ in everything but the inputs: the
        // staged files' times and the clock.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        for name in [KERNEL, INIT, "hello-server", "hello-client"] {
            fs::write(bins.join(name), stand_in_elf(name)).unwrap();
        }
        compose(&config, Binaries::Prebuilt(&bins), &b).unwrap();
        let (a_bytes, b_bytes) = (fs::read(&a).unwrap(), fs::read(&b).unwrap());
        assert!(a_bytes.len() > 1 << 20);
        let first_difference = a_bytes.iter().zip(&b_bytes).position(|(x, y)| x != y);
        assert_eq!(first_difference, None, "the two images differ");
        assert_eq!(a_bytes.len(), b_bytes.len());

        // The image's GRUB configuration names every module, and the
        // manifest module decodes to the checked tree's manifest.
        let extract = |from: &str, to: &str| {
            let run = std::process::Command::new("xorriso")
                .arg("-indev")
                .arg(&a)
                .args(["-osirrox", "on", "-extract", from])
                .arg(dir.join(to))
                .output()
                .unwrap();
            assert!(run.status.success(), "{run:?}");
            fs::read(dir.join(to)).unwrap()
        };
        let blob = extract("/boot/module1", "manifest.bin");
        assert_eq!(Manifest::decode(&blob), Ok(m));
        // An ELF module goes in as the loaders read it (`image::loadable`).
        assert_eq!(
            extract("/boot/module3", "module3"),
            crate::image::loadable(&stand_in_elf("hello-client"))
        );
        let cfg = String::from_utf8(extract("/boot/grub/grub.cfg", "grub.cfg")).unwrap();
        for line in [
            "module2 /boot/module0 roottask",
            "module2 /boot/module1 manifest",
            "module2 /boot/module2 bin/hello-server",
            "module2 /boot/module3 bin/hello-client",
        ] {
            assert!(cfg.contains(line), "grub.cfg lacks `{line}`:\n{cfg}");
        }
    }

    #[test]
    fn a_missing_binary_is_named() {
        let dir = scratch("compose-missing");
        for name in [KERNEL, INIT, "hello-server"] {
            fs::write(dir.join(name), stand_in_elf(name)).unwrap();
        }
        let config = build::root().join("config/hello");
        let e = compose(&config, Binaries::Prebuilt(&dir), &dir.join("x.iso"))
            .unwrap_err()
            .0;
        assert!(e.contains("binary `hello-client`"), "{e}");
    }
}
