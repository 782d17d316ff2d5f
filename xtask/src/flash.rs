//! `cargo xtask flash --device /dev/sdX`: writes a system's boot image to
//! a USB stick or a disk, refusing what could destroy the wrong data, and
//! reads it back to verify.
//!
//! The checks, before anything is written:
//! - a partition (`/dev/sdb1`) is refused: the image is a whole disk;
//! - a device that is mounted, or one of whose partitions is (as
//!   `/proc/mounts` and `/proc/swaps` say), is refused;
//! - a disk that is not removable (its `removable` flag in sysfs) is
//!   refused unless `--force`: an internal disk is rarely the target;
//! - a device (or file) smaller than the image is refused.
//!
//! Then it says what it will overwrite (model, size, partitions) and asks
//! for `yes` unless `--yes`. A regular file is a target too (nothing to
//! check but its size; the tests use files), which lets one prepare an
//! image of a given size.
//!
//! Reading the device (sysfs, the mount table) goes through [`System`],
//! so that the checks are tested on the host against a made-up sysfs.

use std::fmt::Write as _;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::{Result, fail};

/// Where the machine's view of its disks comes from.
pub struct System {
    /// `/sys/class/block`.
    pub sysfs: PathBuf,
    /// The mount table and the swap list (`/proc/mounts`, `/proc/swaps`).
    pub tables: Vec<PathBuf>,
}

impl System {
    /// This machine's.
    pub fn this_machine() -> System {
        System {
            sysfs: PathBuf::from("/sys/class/block"),
            tables: vec![PathBuf::from("/proc/mounts"), PathBuf::from("/proc/swaps")],
        }
    }
}

/// What a target is.
#[derive(Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A whole disk: its model, whether it is removable, its partitions.
    Disk {
        model: String,
        removable: bool,
        partitions: Vec<String>,
    },
    /// A partition of a disk.
    Partition { disk: String },
}

/// A target as inspected.
#[derive(Debug)]
pub struct Target {
    pub path: PathBuf,
    pub kind: Kind,
    pub size: u64,
    /// Its mounted devices (itself or its partitions), as the tables name
    /// them.
    pub mounted: Vec<String>,
}

/// Why a target is refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    Partition { disk: String },
    Mounted(Vec<String>),
    NotRemovable,
    TooSmall { size: u64, image: u64 },
    NotADisk,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Partition { disk } => write!(
                f,
                "it is a partition; the image is a whole disk: give /dev/{disk}"
            ),
            Refusal::Mounted(what) => write!(
                f,
                "it is in use: {} mounted (unmount it first)",
                what.join(", ")
            ),
            Refusal::NotRemovable => write!(
                f,
                "it is not a removable disk (an internal disk?); --force writes it all the same"
            ),
            Refusal::TooSmall { size, image } => write!(
                f,
                "it holds {} and the image is {}",
                human(*size),
                human(*image)
            ),
            Refusal::NotADisk => write!(f, "it is neither a block device nor a regular file"),
        }
    }
}

/// `n` bytes for people: `14.9 GiB`.
pub fn human(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Inspects `path` on `system`.
pub fn inspect(path: &Path, system: &System) -> Result<Target> {
    let meta = fs::metadata(path).map_err(|e| fail!("{}: {e}", path.display()))?;
    let ft = meta.file_type();
    if ft.is_file() {
        return Ok(Target {
            path: path.to_path_buf(),
            kind: Kind::File,
            size: meta.len(),
            mounted: Vec::new(),
        });
    }
    if !ft.is_block_device() {
        return Err(fail!("{}: {}", path.display(), Refusal::NotADisk));
    }
    let real = fs::canonicalize(path).map_err(|e| fail!("{}: {e}", path.display()))?;
    let name = real
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| fail!("{}: no device name", path.display()))?
        .to_string();
    inspect_block(path, &name, system)
}

/// Inspects block device `name` (as sysfs names it), reached as `path`.
pub fn inspect_block(path: &Path, name: &str, system: &System) -> Result<Target> {
    let dir = system.sysfs.join(name);
    let sectors: u64 = read_trimmed(&dir.join("size"))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| fail!("{}: sysfs has no size for {name}", path.display()))?;
    let size = sectors * 512;
    let kind = if dir.join("partition").exists() {
        // A partition's directory is beside its disk's (class/block links
        // to /sys/block/<disk>/<partition>): its disk is the parent's name.
        let disk = fs::canonicalize(&dir)
            .ok()
            .and_then(|d| {
                d.parent()
                    .and_then(|p| p.file_name())
                    .map(|n| n.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| {
                name.trim_end_matches(|c: char| c.is_ascii_digit())
                    .to_string()
            });
        Kind::Partition { disk }
    } else {
        let mut partitions: Vec<String> = fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .flatten()
                    .filter(|e| e.path().join("partition").exists())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        partitions.sort();
        Kind::Disk {
            model: read_trimmed(&dir.join("device/model"))
                .unwrap_or_else(|| String::from("unknown model")),
            removable: read_trimmed(&dir.join("removable")).as_deref() == Some("1"),
            partitions,
        }
    };
    let mut devices = vec![name.to_string()];
    if let Kind::Disk { partitions, .. } = &kind {
        devices.extend(partitions.iter().cloned());
    }
    let mut mounted = Vec::new();
    for table in &system.tables {
        let Ok(text) = fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines() {
            let Some(first) = line.split_whitespace().next() else {
                continue;
            };
            let dev = first.strip_prefix("/dev/").unwrap_or(first);
            if devices.iter().any(|d| d == dev)
                && !mounted.iter().any(|m: &String| m.starts_with(first))
            {
                let on = line.split_whitespace().nth(1).unwrap_or("");
                mounted.push(format!("{first} on {on}"));
            }
        }
    }
    Ok(Target {
        path: path.to_path_buf(),
        kind,
        size,
        mounted,
    })
}

/// Whether `target` may take an image of `image` bytes.
pub fn check(target: &Target, image: u64, force: bool) -> std::result::Result<(), Refusal> {
    if let Kind::Partition { disk } = &target.kind {
        return Err(Refusal::Partition { disk: disk.clone() });
    }
    if !target.mounted.is_empty() {
        return Err(Refusal::Mounted(target.mounted.clone()));
    }
    if let Kind::Disk {
        removable: false, ..
    } = target.kind
        && !force
    {
        return Err(Refusal::NotRemovable);
    }
    if target.size < image {
        return Err(Refusal::TooSmall {
            size: target.size,
            image,
        });
    }
    Ok(())
}

/// What will be overwritten, for the question.
pub fn describe(target: &Target, image: &Path, image_len: u64) -> String {
    let mut s = format!("About to overwrite {} (", target.path.display());
    match &target.kind {
        Kind::File => s.push_str("a file"),
        Kind::Disk {
            model,
            removable,
            partitions,
        } => {
            let _ = write!(
                s,
                "{model}, {}",
                if *removable {
                    "removable"
                } else {
                    "NOT removable"
                }
            );
            if partitions.is_empty() {
                s.push_str(", no partitions");
            } else {
                let _ = write!(s, ", partitions {}", partitions.join(" "));
            }
        }
        Kind::Partition { .. } => s.push_str("a partition"),
    }
    let _ = write!(
        s,
        ", {}) with {} ({}): everything on it will be lost.",
        human(target.size),
        image.display(),
        human(image_len)
    );
    s
}

/// Asks on `input` for `yes`.
pub fn confirmed(question: &str, input: &mut dyn BufRead, output: &mut dyn Write) -> bool {
    let _ = write!(output, "{question}\nType yes to go on: ");
    let _ = output.flush();
    let mut answer = String::new();
    input.read_line(&mut answer).is_ok() && answer.trim() == "yes"
}

/// Writes `image` at the start of `target` and makes it durable.
pub fn write_image(image: &Path, target: &Path) -> Result<u64> {
    let mut src = File::open(image).map_err(|e| fail!("{}: {e}", image.display()))?;
    let mut dst = OpenOptions::new()
        .write(true)
        .open(target)
        .map_err(|e| fail!("{}: {e}", target.display()))?;
    let mut buf = vec![0u8; 4 << 20];
    let mut written = 0u64;
    loop {
        let n = src
            .read(&mut buf)
            .map_err(|e| fail!("{}: {e}", image.display()))?;
        if n == 0 {
            break;
        }
        dst.write_all(&buf[..n])
            .map_err(|e| fail!("{}: writing at byte {written}: {e}", target.display()))?;
        written += n as u64;
    }
    dst.sync_all()
        .map_err(|e| fail!("{}: flushing: {e}", target.display()))?;
    Ok(written)
}

/// Reads the start of `target` back and compares it with `image`.
pub fn verify(image: &Path, target: &Path) -> Result<u64> {
    let mut a = File::open(image).map_err(|e| fail!("{}: {e}", image.display()))?;
    let mut b = File::open(target).map_err(|e| fail!("{}: {e}", target.display()))?;
    b.seek(SeekFrom::Start(0))
        .map_err(|e| fail!("{}: {e}", target.display()))?;
    let (mut x, mut y) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let mut at = 0u64;
    loop {
        let n = a
            .read(&mut x)
            .map_err(|e| fail!("{}: {e}", image.display()))?;
        if n == 0 {
            return Ok(at);
        }
        b.read_exact(&mut y[..n])
            .map_err(|e| fail!("{}: reading back at byte {at}: {e}", target.display()))?;
        if let Some(i) = (0..n).find(|&i| x[i] != y[i]) {
            return Err(fail!(
                "{}: byte {} reads back {:#04x}, the image has {:#04x}: the write did not take",
                target.display(),
                at + i as u64,
                y[i],
                x[i]
            ));
        }
        at += n as u64;
    }
}

/// The whole command: inspect, check, ask, write, verify.
pub fn flash(
    image: &Path,
    device: &Path,
    system: &System,
    force: bool,
    yes: bool,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<()> {
    let image_len = fs::metadata(image)
        .map_err(|e| fail!("{}: {e}", image.display()))?
        .len();
    let target = inspect(device, system)?;
    check(&target, image_len, force).map_err(|r| fail!("refusing {}: {r}", device.display()))?;
    let question = describe(&target, image, image_len);
    if yes {
        let _ = writeln!(output, "{question}");
    } else if !confirmed(&question, input, output) {
        return Err(fail!("not confirmed: nothing written"));
    }
    let written = write_image(image, device)?;
    let verified = verify(image, device)?;
    let _ = writeln!(
        output,
        "flash: {} written to {} and read back the same ({verified} bytes)",
        human(written),
        device.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests;
