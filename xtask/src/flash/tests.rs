//! The flash command's checks against a made-up sysfs and mount table,
//! and whole runs onto files.

use super::*;
use std::io::Cursor;
use std::sync::atomic::{AtomicU32, Ordering};

/// A fresh directory under the system's temporary one.
fn scratch(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "xtask-flash-{}-{what}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// A sysfs with disk `sdz` (`sectors` long, `removable`, partition
/// `sdz1`) and disk `sdy` (no partitions), and a mount table of `mounts`.
fn machine(sectors: u64, removable: bool, mounts: &str) -> System {
    let root = scratch("sys");
    let sysfs = root.join("block");
    let sdz = root.join("devices/sdz");
    fs::create_dir_all(sdz.join("device")).unwrap();
    fs::create_dir_all(sdz.join("sdz1")).unwrap();
    fs::write(sdz.join("size"), format!("{sectors}\n")).unwrap();
    fs::write(sdz.join("removable"), if removable { "1\n" } else { "0\n" }).unwrap();
    fs::write(sdz.join("device/model"), "Stick 3000  \n").unwrap();
    fs::write(sdz.join("sdz1/partition"), "1\n").unwrap();
    fs::write(sdz.join("sdz1/size"), "100\n").unwrap();
    let sdy = root.join("devices/sdy");
    fs::create_dir_all(&sdy).unwrap();
    fs::write(sdy.join("size"), "4096\n").unwrap();
    fs::write(sdy.join("removable"), "1\n").unwrap();
    fs::create_dir_all(&sysfs).unwrap();
    std::os::unix::fs::symlink(&sdz, sysfs.join("sdz")).unwrap();
    std::os::unix::fs::symlink(sdz.join("sdz1"), sysfs.join("sdz1")).unwrap();
    std::os::unix::fs::symlink(&sdy, sysfs.join("sdy")).unwrap();
    let mounts_file = root.join("mounts");
    fs::write(&mounts_file, mounts).unwrap();
    System {
        sysfs,
        tables: vec![mounts_file, root.join("no-swaps")],
    }
}

fn disk(system: &System, name: &str) -> Target {
    inspect_block(Path::new(&format!("/dev/{name}")), name, system).unwrap()
}

#[test]
fn a_removable_stick_of_room_is_accepted() {
    let system = machine(2048, true, "/dev/sda1 / ext4 rw 0 0\n");
    let t = disk(&system, "sdz");
    assert_eq!(t.size, 2048 * 512);
    assert_eq!(
        t.kind,
        Kind::Disk {
            model: "Stick 3000".into(),
            removable: true,
            partitions: vec!["sdz1".into()],
        }
    );
    assert!(t.mounted.is_empty());
    assert_eq!(check(&t, 1 << 20, false), Ok(()));
    let said = describe(&t, Path::new("basalt.iso"), 1 << 20);
    assert!(
        said.contains("/dev/sdz (Stick 3000, removable, partitions sdz1, 1.0 MiB)"),
        "{said}"
    );
}

#[test]
fn refuses_what_could_be_the_wrong_disk() {
    // A mounted partition makes its disk busy.
    let system = machine(2048, true, "/dev/sdz1 /media/stick vfat rw 0 0\n");
    assert_eq!(
        check(&disk(&system, "sdz"), 1024, false),
        Err(Refusal::Mounted(vec!["/dev/sdz1 on /media/stick".into()]))
    );
    // A partition is no whole disk.
    assert_eq!(
        check(&disk(&system, "sdz1"), 1024, false),
        Err(Refusal::Partition { disk: "sdz".into() })
    );
    // An internal disk needs --force.
    let system = machine(2048, false, "");
    assert_eq!(
        check(&disk(&system, "sdz"), 1024, false),
        Err(Refusal::NotRemovable)
    );
    assert_eq!(check(&disk(&system, "sdz"), 1024, true), Ok(()));
    // Too small, even with --force.
    assert_eq!(
        check(&disk(&system, "sdz"), 2048 * 512 + 1, true),
        Err(Refusal::TooSmall {
            size: 2048 * 512,
            image: 2048 * 512 + 1
        })
    );
    // A disk without partitions, swapped on whole.
    let system = machine(
        2048,
        true,
        "Filename Type Size Used Priority\n/dev/sdy partition 2048 0 -2\n",
    );
    assert!(matches!(
        check(&disk(&system, "sdy"), 1024, false),
        Err(Refusal::Mounted(_))
    ));
}

#[test]
fn writes_a_file_and_reads_it_back() {
    let dir = scratch("write");
    let image = dir.join("basalt.iso");
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&image, &bytes).unwrap();
    let target = dir.join("stick.img");
    fs::write(&target, vec![0xAAu8; 400_000]).unwrap();
    let system = System::this_machine();
    // Not confirmed: nothing written.
    let mut out = Vec::new();
    let e = flash(
        &image,
        &target,
        &system,
        false,
        false,
        &mut Cursor::new(&b"no\n"[..]),
        &mut out,
    );
    assert!(e.is_err());
    assert!(String::from_utf8_lossy(&out).contains("everything on it will be lost"));
    assert_eq!(fs::read(&target).unwrap(), vec![0xAAu8; 400_000]);
    // Confirmed.
    let mut out = Vec::new();
    flash(
        &image,
        &target,
        &system,
        false,
        false,
        &mut Cursor::new(&b"yes\n"[..]),
        &mut out,
    )
    .unwrap();
    let written = fs::read(&target).unwrap();
    assert_eq!(&written[..bytes.len()], &bytes[..]);
    assert!(
        written[bytes.len()..].iter().all(|&b| b == 0xAA),
        "the rest is left"
    );
    assert!(String::from_utf8_lossy(&out).contains("read back the same (300000 bytes)"));
    // A target smaller than the image is refused before anything is written.
    let small = dir.join("small.img");
    fs::write(&small, vec![1u8; 1000]).unwrap();
    let e = flash(
        &image,
        &small,
        &system,
        true,
        true,
        &mut Cursor::new(&b""[..]),
        &mut Vec::new(),
    );
    assert!(
        format!("{e:?}").contains("holds 1000 B and the image is 293.0 KiB"),
        "{e:?}"
    );
    assert_eq!(fs::read(&small).unwrap(), vec![1u8; 1000]);
}

#[test]
fn verify_names_the_first_byte_that_differs() {
    let dir = scratch("verify");
    let image = dir.join("a");
    let target = dir.join("b");
    fs::write(&image, b"hello world").unwrap();
    fs::write(&target, b"hello World and more").unwrap();
    let e = verify(&image, &target).unwrap_err();
    assert!(
        format!("{e:?}").contains("byte 6 reads back 0x57, the image has 0x77"),
        "{e:?}"
    );
    fs::write(&target, b"hello").unwrap();
    assert!(verify(&image, &target).is_err(), "a short target fails");
}
