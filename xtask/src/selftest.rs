//! `cargo xtask test`: host unit tests, then the kernel's self-tests booted
//! under QEMU from the same kind of image users write to a USB stick.
//!
//! A boot test passes only if QEMU exits through `isa-debug-exit` with the
//! code the case expects and the serial log holds every line the case looks
//! for; a timeout, a panic, a fault or a missing line fails it.

use crate::build::{self, Profile};
use crate::compose;
use crate::image::{self, Contents, Module};
use crate::nettest;
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::tools::{self, Tool};
use crate::{Result, fail};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// QEMU exit status for the kernel's `ExitCode::Success` and `Failure`.
pub const EXIT_SUCCESS: i32 = 33;
const EXIT_FAILURE: i32 = 35;

const TEST_MODULE_NAME: &str = "test-module";
const TEST_MODULE_LEN: usize = 10_000;

/// The root task that runs the capability tests: its package, and the
/// module name the kernel looks for.
const ROOT_TEST_PACKAGE: &str = "roottest";
const ROOT_TASK_MODULE_NAME: &str = "roottask";
/// The fewest capability tests a passing root-task run reports.
const MIN_ROOT_TESTS: u32 = 30;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Boot,
    PageFault,
    /// `roottest` as the root task: the kernel's capability test suite.
    RootTask,
    /// `config/hello` composed and booted: init, a server, a client.
    System,
    /// `config/block-test` composed and booted with a virtio disk: the
    /// block server's self-check, then `block-smoke`'s requests through
    /// the shared rings, the server woken by the disk's MSI-X interrupt.
    Block,
    /// `config/kvs-test` composed and booted: the kvs server and the
    /// `kvs-smoke` client's script of commands.
    Kvs,
    /// `config/kvs-persist` booted twice on one disk: `kvs-crash` writes
    /// under `fsync = always` until QEMU is killed, then checks that every
    /// acknowledged write survived.
    PowerCut,
    /// `config/default` in a release build, the system `cargo xtask run
    /// --release` boots, driven with `redis-cli`, `curl` and
    /// `redis-benchmark`, powered off and booted again (`e2e`).
    Default,
    /// `config/net-test` composed and booted with a virtio-net NIC on
    /// QEMU's user networking: the host talks to `net-echo` through
    /// forwarded ports of 127.0.0.1; the server sleeps between rounds,
    /// woken by the NIC's MSI-X interrupt and its app, or its next timer.
    Net,
    /// The kernel fuzzer (`tests/kfuzz`, `cargo xtask fuzz`): a short
    /// campaign of [`FUZZ_SEEDS`] seeds of [`FUZZ_CALLS`] calls.
    Fuzz,
    /// `kill -9` of QEMU under load, for `fsync = always` and `everysec`
    /// (`crate::durability`): config/default in release builds.
    Durability,
    /// config/default on the Intel cards (`crate::e2e::run_cards`).
    Cards,
    /// [`Scenario::PowerCut`] on an NVMe disk.
    PowerCutNvme,
    /// [`Scenario::PowerCut`] on a SATA disk behind AHCI.
    PowerCutAhci,
    /// config/hello with no COM1: the log on the text screen.
    Screen,
    /// config/hello with an SPCR table naming COM2: the log moves there;
    /// then one naming a silent memory-mapped UART.
    Spcr,
}

/// The short fuzzing campaign every test run makes: 200,000 calls.
const FUZZ_SEEDS: u64 = 4;
const FUZZ_CALLS: u64 = 50_000;

struct Case {
    name: &'static str,
    scenario: Scenario,
    firmware: Firmware,
    media: Media,
    /// A CPU model instead of the accelerator's default.
    cpu: Option<&'static str>,
}

const CASES: [Case; 22] = [
    Case {
        name: "boot, SeaBIOS, CD-ROM",
        scenario: Scenario::Boot,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "boot, SeaBIOS, direct (QEMU's -kernel: the PVH entry, the modules in one archive)",
        scenario: Scenario::Boot,
        firmware: Firmware::Bios,
        media: Media::Direct,
        cpu: None,
    },
    Case {
        name: "boot, OVMF, USB-style disk",
        scenario: Scenario::Boot,
        firmware: Firmware::Uefi,
        media: Media::Disk,
        cpu: None,
    },
    Case {
        name: "boot, SeaBIOS, disk, qemu64 CPU (xAPIC, one-shot count-down timer)",
        scenario: Scenario::Boot,
        firmware: Firmware::Bios,
        media: Media::Disk,
        cpu: Some("qemu64"),
    },
    Case {
        name: "kernel page fault is reported",
        scenario: Scenario::PageFault,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "root task: capability tests, SeaBIOS, CD-ROM",
        scenario: Scenario::RootTask,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "fuzz: the kernel fuzzer, 4 seeds of 50,000 calls, the invariant oracle after each (debug build)",
        scenario: Scenario::Fuzz,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "system: config/hello (init, RPC, restart, ungranted capability, PCI BARs)",
        scenario: Scenario::System,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "system: config/hello, direct boot (init and the components from the module archive)",
        scenario: Scenario::System,
        firmware: Firmware::Bios,
        media: Media::Direct,
        cpu: None,
    },
    Case {
        name: "screen: config/hello with no COM1 (SeaBIOS): the kernel's log and the components' output on the VGA text screen, read from guest memory",
        scenario: Scenario::Screen,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "screen: the same under OVMF: the log drawn on the GOP framebuffer, read back from QEMU's screendump glyph by glyph",
        scenario: Scenario::Screen,
        firmware: Firmware::Uefi,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "console: config/hello with an ACPI SPCR table naming COM2 (SeaBIOS): the kernel moves its console there; then one naming a memory-mapped 16550 where nothing answers: refused, COM1 kept",
        scenario: Scenario::Spcr,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "block: config/block-test (modern virtio-blk over PCI, MSI-X, requests in flight through shared rings)",
        scenario: Scenario::Block,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "block: the same under OVMF (a 64-bit BAR above 4 GiB)",
        scenario: Scenario::Block,
        firmware: Firmware::Uefi,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "kvs: config/kvs-test (the store over IPC, a 64 KiB value through a shared region, faulted 10 times in a row)",
        scenario: Scenario::Kvs,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "kvs: power cut (config/kvs-persist: QEMU killed while writing under fsync = always, rebooted on the same disk), then kvs faulted in the middle of a round",
        scenario: Scenario::PowerCut,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "kvs: the same power cut on an NVMe disk (QEMU's nvme, MSI-X), under OVMF",
        scenario: Scenario::PowerCutNvme,
        firmware: Firmware::Uefi,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "kvs: the same power cut on a SATA disk (q35's AHCI controller, MSI)",
        scenario: Scenario::PowerCutAhci,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "net: config/net-test (virtio-net with MSI-X, timers by timed waits, DHCP, TCP and UDP echo from the host through QEMU's user networking)",
        scenario: Scenario::Net,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "system: config/default, release build (redis-cli and curl from the host, 1,000 idle HTTP connections beside RESP, an APPEND flood past maxmemory, a power cut, the data and a function library after the reboot, oversized queries and clients closed, LRU eviction, redis-benchmark)",
        scenario: Scenario::Default,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "boards: config/default, release build, on e1000 + AHCI (SeaBIOS) and e1000e + NVMe (OVMF), each: DHCP, a 1 MiB value through redis-cli both ways, curl, an idle flush, a power cut and the data after the reboot",
        scenario: Scenario::Cards,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
    Case {
        name: "durability: kill -9 of QEMU under redis-benchmark load (config/default, release, fsync always and everysec), every acknowledged write logged and read back after a reboot",
        scenario: Scenario::Durability,
        firmware: Firmware::Bios,
        media: Media::Cdrom,
        cpu: None,
    },
];

/// The machine the boot tests of config/default (system `m`) give it:
/// [`crate::e2e::MEMORY_MIB`] of RAM, the devices and forwarded ports it
/// needs.
fn e2e_machine(
    m: &manifest::Manifest,
    ports: crate::machine::HostPorts,
) -> Result<crate::machine::Machine> {
    let machine = crate::machine::Machine::for_system(m, ports)?;
    Ok(crate::machine::Machine {
        memory_mib: crate::e2e::MEMORY_MIB,
        ..machine
    })
}

/// The image of config/default with `fsync = "always"` next to `image`
/// (the durability test's `everysec` one).
fn fsync_always_image(image: &Path) -> PathBuf {
    image.with_file_name("durability-always.iso")
}

/// config/default copied with kvs logging under `fsync = "always"`.
fn fsync_always_config(dir: &Path) -> Result<PathBuf> {
    let dst = test_config(dir, "default", &[], "")?;
    let kvs = dst.join("kvs.toml");
    let text = fs::read_to_string(&kvs)?;
    let always = text.replacen("fsync = \"everysec\"", "fsync = \"always\"", 1);
    if always == text {
        return Err(fail!("{} sets no `fsync = \"everysec\"`", kvs.display()));
    }
    fs::write(&kvs, always)?;
    Ok(dst)
}

/// Copies the config tree `config/<name>` to `<dir>/<name>-config` and
/// adds the `extra` arguments (TOML lines) to the `[args]` of each listed
/// component file; returns the copy. (`cargo xtask bench` boots its
/// systems the same way.)
pub fn test_config(dir: &Path, name: &str, components: &[&str], extra: &str) -> Result<PathBuf> {
    let src = build::root().join("config").join(name);
    let dst = dir.join(format!("{name}-config"));
    if dst.exists() {
        fs::remove_dir_all(&dst)?;
    }
    fs::create_dir_all(&dst)?;
    for entry in fs::read_dir(&src).map_err(|e| fail!("cannot read {}: {e}", src.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            fs::copy(&path, dst.join(path.file_name().expect("a file name")))?;
        }
    }
    for component in components {
        let path = dst.join(format!("{component}.toml"));
        let text = fs::read_to_string(&path)?;
        let text = if text.contains("[args]") {
            text.replacen("[args]", &format!("[args]\n{extra}"), 1)
        } else {
            format!("{text}\n[args]\n{extra}\n")
        };
        fs::write(&path, text)?;
    }
    Ok(dst)
}

/// The argument that makes a component end the QEMU run through
/// `DebugExit` when its checks are done.
pub const EXIT_ON_SUCCESS: &str = "exit = \"on-success\"";

/// How often the hello test crashes the server in a row.
const HELLO_CRASHES: u32 = 10;

/// `config/hello`, copied with the client told to end the QEMU run once its
/// checks pass and to crash the server [`HELLO_CRASHES`] times, the
/// server's restart budget made tight (3 in 1 s, then back-off), and the
/// client granted a virtio disk's PCI BARs (the disk QEMU gets, see
/// `run_case`), which it reads a register of.
fn hello_test_config(dir: &Path) -> Result<PathBuf> {
    let dst = test_config(
        dir,
        "hello",
        &["hello-client"],
        &format!("{EXIT_ON_SUCCESS}\nvirtio-device = \"disk.bar4\"\ncrashes = \"{HELLO_CRASHES}\""),
    )?;
    let client = dst.join("hello-client.toml");
    let mut text = fs::read_to_string(&client)?;
    text.push_str(
        "\n[[device]]\nkind = \"pci\"\nname = \"disk\"\nvendor = 0x1af4\ndevice = 0x1001\n",
    );
    fs::write(&client, text)?;
    let server = dst.join("hello-server.toml");
    let text = fs::read_to_string(&server)?;
    // Keys go before the first table; the server's file has none.
    fs::write(
        &server,
        format!("restart-window = 1\nrestart-exhausted = \"back-off\"\n{text}"),
    )?;
    Ok(dst)
}

/// `config/block-test`: the server ends the run (failure) if it cannot
/// start, the client after its checks.
fn block_test_config(dir: &Path) -> Result<PathBuf> {
    test_config(
        dir,
        "block-test",
        &["block", "block-smoke"],
        EXIT_ON_SUCCESS,
    )
}

/// How often the kvs test faults the store in a row.
const KVS_CRASHES: u32 = 10;

/// `config/kvs-test`, with `kvs-smoke` faulting the store [`KVS_CRASHES`]
/// times after its script (`DEBUG SEGFAULT`, enabled for the test, under
/// a restart budget of 3 a second) and then ending the run.
fn kvs_test_config(dir: &Path) -> Result<PathBuf> {
    let dst = test_config(
        dir,
        "kvs-test",
        &["kvs-smoke"],
        &format!("{EXIT_ON_SUCCESS}\ncrashes = \"{KVS_CRASHES}\""),
    )?;
    let kvs = dst.join("kvs.toml");
    let text = fs::read_to_string(&kvs)?;
    fs::write(
        &kvs,
        format!("restart-window = 1\n{text}\n[args]\nenable-debug-command = \"yes\"\n"),
    )?;
    Ok(dst)
}

/// `config/net-test`: the server ends the run (failure) if it cannot
/// start.
fn net_test_config(dir: &Path) -> Result<PathBuf> {
    test_config(dir, "net-test", &["net"], EXIT_ON_SUCCESS)
}

/// `config/kvs-persist` with `kvs-crash` in `mode` (`write` or `verify`).
/// `config/kvs-persist` with `kvs-crash` in `mode`; verifying, it also
/// faults the store in the middle of a round (`interrupt`), which
/// `DEBUG SEGFAULT` does.
fn kvs_persist_config(dir: &Path, mode: &str) -> Result<PathBuf> {
    let verify = mode == "verify";
    let dst = test_config(
        dir,
        "kvs-persist",
        &["kvs-crash"],
        &format!(
            "mode = \"{mode}\"\ninterrupt = \"{}\"",
            if verify { "yes" } else { "no" }
        ),
    )?;
    if verify {
        let kvs = dst.join("kvs.toml");
        let text = fs::read_to_string(&kvs)?;
        // Faulted on purpose, and started again.
        let enabled = text
            .replacen("[args]\n", "[args]\nenable-debug-command = \"yes\"\n", 1)
            .replacen("restart = \"never\"", "restart = \"on-failure\"", 1);
        if !enabled.contains("enable-debug-command") || !enabled.contains("on-failure") {
            return Err(fail!(
                "{} has no [args] table or no `restart = \"never\"`",
                kvs.display()
            ));
        }
        fs::write(&kvs, enabled)?;
    }
    Ok(dst)
}

/// The power-cut test's disk (under the selftest directory), and how many
/// acknowledged rounds the first boot must reach before the kill.
const POWER_CUT_DISK_BYTES: usize = 4 << 20;
const POWER_CUT_AFTER_ROUNDS: u64 = 40;

/// The fewest checks a passing `kvs-smoke` run reports.
const MIN_KVS_CHECKS: u32 = 10;

/// The fewest checks a passing `block-smoke` run reports.
const MIN_BLOCK_CHECKS: u32 = 12;

/// What the block test's disk holds at sector 0; the server logs it.
const BLOCK_DISK_MAGIC: &[u8; 16] = b"BASALT-BLOCKTEST";
const BLOCK_DISK_BYTES: usize = 1 << 20;

/// The sectors that hold the pattern after a block test run: the server's
/// self-check writes 1-2, `block-smoke` 4-7 through the rings and 16-115
/// through `block::disk::Disk`.
fn block_pattern_sectors() -> impl Iterator<Item = usize> {
    [1, 2, 4, 5, 6, 7].into_iter().chain(16..116)
}

/// Byte `i` of what the block server and `block-smoke` write to `sector`:
/// the oracle for `servers/block`'s `check::pattern`.
fn block_pattern(sector: usize, i: usize) -> u8 {
    ((i * 31 + sector * 97 + 0x5a) as u8) ^ ((i >> 8) as u8)
}

/// The module's bytes: a fixed pattern, so its checksum is known.
fn test_module() -> Vec<u8> {
    (0..TEST_MODULE_LEN).map(|i| (i * 7 % 251) as u8).collect()
}

/// FNV-1a, computed here independently of the kernel as the test's oracle.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// What `cargo xtask test` runs: every boot test and the host unit tests,
/// or, with a filter, just the boot tests whose names contain it.
pub struct Plan {
    cases: Vec<&'static Case>,
    filtered: bool,
}

/// The plan for `filter`: an error where it selects no boot test.
pub fn plan(filter: Option<&str>) -> Result<Plan> {
    let cases: Vec<&Case> = CASES
        .iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect();
    if cases.is_empty() {
        return Err(fail!(
            "no boot test's name contains `{}`; `cargo xtask test --list` names them",
            filter.unwrap_or_default()
        ));
    }
    Ok(Plan {
        cases,
        filtered: filter.is_some(),
    })
}

impl Plan {
    /// Whether the host unit tests run too (not with a filter).
    pub fn host_tests(&self) -> bool {
        !self.filtered
    }

    /// The names of the boot tests, in the order they run.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.cases.iter().map(|c| c.name)
    }

    /// The host tools its boot tests need: every one boots an image under
    /// QEMU; some boot under OVMF, and config/default's are driven with
    /// Redis's tools and curl.
    pub fn host_tools(&self) -> Vec<&'static Tool> {
        let mut needed: Vec<&'static Tool> = tools::IMAGE.to_vec();
        needed.push(&tools::QEMU);
        let any = |f: &dyn Fn(&Case) -> bool| self.cases.iter().any(|c| f(c));
        if any(&|c| c.firmware == Firmware::Uefi) {
            needed.push(&tools::OVMF_FIRMWARE);
        }
        if any(&|c| c.scenario == Scenario::Default) {
            needed.extend([
                &tools::REDIS_CLI,
                &tools::CURL,
                &tools::TIMEOUT,
                &tools::REDIS_BENCHMARK,
                &tools::REDIS_PY,
                &tools::PYMEMCACHE,
            ]);
        }
        if any(&|c| c.scenario == Scenario::Durability) {
            needed.push(&tools::REDIS_BENCHMARK);
        }
        needed
    }
}

/// Runs what `plan` holds: the host unit tests unless it was filtered,
/// then its boot tests.
pub fn run_all(plan: &Plan, accel: Accel) -> Result<()> {
    let cases = &plan.cases;
    if plan.host_tests() {
        println!("== host unit tests");
        build::host_tests()?;
    }

    println!("== building test images");
    let dir = build::target_dir().join("selftest");
    fs::create_dir_all(&dir)?;
    let kernel = build::kernel(Profile::Debug)?;
    let root_test = build::user_program(ROOT_TEST_PACKAGE, Profile::Debug)?;
    let module_path = dir.join("test-module.bin");
    let module = test_module();
    fs::write(&module_path, &module)?;
    let test_modules = [Module {
        path: module_path,
        name: TEST_MODULE_NAME.into(),
    }];
    let root_task_modules = [Module {
        path: root_test,
        name: ROOT_TASK_MODULE_NAME.into(),
    }];
    let images = [
        Scenario::Boot,
        Scenario::PageFault,
        Scenario::RootTask,
        Scenario::System,
        Scenario::Screen,
        Scenario::Spcr,
        Scenario::Block,
        Scenario::Kvs,
        Scenario::PowerCut,
        Scenario::PowerCutNvme,
        Scenario::PowerCutAhci,
        Scenario::Net,
        Scenario::Default,
        Scenario::Cards,
        Scenario::Fuzz,
        Scenario::Durability,
    ]
    .into_iter()
    .filter(|s| cases.iter().any(|c| c.scenario == *s))
    .map(|s| {
        let (file, args) = match s {
            Scenario::Block => ("block.iso", "test=roottask"),
            Scenario::Kvs => ("kvs.iso", "test=roottask"),
            Scenario::PowerCut | Scenario::PowerCutNvme | Scenario::PowerCutAhci => {
                ("kvs-persist-write.iso", "test=roottask")
            }
            Scenario::Net => ("net.iso", "test=roottask"),
            Scenario::Default | Scenario::Cards => ("default.iso", ""),
            Scenario::Durability => ("durability-everysec.iso", ""),
            Scenario::Fuzz => ("kfuzz.iso", "test=roottask"),
            Scenario::Boot => ("boot.iso", "test=boot"),
            Scenario::PageFault => ("pagefault.iso", "test=pagefault"),
            Scenario::RootTask => ("roottest.iso", "test=roottask"),
            Scenario::System | Scenario::Screen | Scenario::Spcr => ("hello.iso", "test=roottask"),
        };
        (s, dir.join(file), args)
    })
    .collect::<Vec<_>>();
    let mut default_system = None;
    for (scenario, path, args) in &images {
        let modules: &[Module] = match scenario {
            // The fuzzer makes an image per seed.
            Scenario::Fuzz => continue,
            // Release builds, as for config/default.
            Scenario::Durability => {
                default_system = compose::system_image(None, Profile::Release, path)?;
                compose::compose_with_args(
                    &fsync_always_config(&dir)?,
                    compose::Binaries::Build(Profile::Release),
                    &fsync_always_image(path),
                    args,
                )?;
                continue;
            }
            // The same image as config/hello's test.
            Scenario::Screen | Scenario::Spcr
                if images.iter().any(|(s, _, _)| *s == Scenario::System) =>
            {
                continue;
            }
            // The same image as config/default's test.
            Scenario::Cards if images.iter().any(|(s, _, _)| *s == Scenario::Default) => continue,
            // The same images as the virtio power cut's.
            Scenario::PowerCutNvme | Scenario::PowerCutAhci
                if images.iter().any(|(s, _, _)| *s == Scenario::PowerCut) =>
            {
                continue;
            }
            Scenario::Default | Scenario::Cards => {
                // A release build, as `cargo xtask run --release` boots:
                // redis-benchmark's 180,000 requests take half an hour in
                // a debug build under TCG, two minutes in this one.
                default_system = compose::system_image(None, Profile::Release, path)?;
                continue;
            }
            Scenario::RootTask => &root_task_modules,
            Scenario::Boot | Scenario::PageFault => &test_modules,
            // Composed systems: a test copy of their config tree.
            Scenario::System
            | Scenario::Screen
            | Scenario::Spcr
            | Scenario::Kvs
            | Scenario::Block
            | Scenario::PowerCut
            | Scenario::PowerCutNvme
            | Scenario::PowerCutAhci
            | Scenario::Net => {
                if matches!(
                    scenario,
                    Scenario::PowerCut | Scenario::PowerCutNvme | Scenario::PowerCutAhci
                ) {
                    compose::compose_with_args(
                        &kvs_persist_config(&dir, "verify")?,
                        compose::Binaries::Build(Profile::Debug),
                        &power_cut_verify_image(path),
                        args,
                    )?;
                }
                let config = match scenario {
                    Scenario::System | Scenario::Screen | Scenario::Spcr => {
                        hello_test_config(&dir)?
                    }
                    Scenario::Kvs => kvs_test_config(&dir)?,
                    Scenario::PowerCut | Scenario::PowerCutNvme | Scenario::PowerCutAhci => {
                        kvs_persist_config(&dir, "write")?
                    }
                    Scenario::Net => net_test_config(&dir)?,
                    _ => block_test_config(&dir)?,
                };
                compose::compose_with_args(
                    &config,
                    compose::Binaries::Build(Profile::Debug),
                    path,
                    args,
                )?;
                continue;
            }
        };
        image::build(
            &Contents {
                kernel: &kernel,
                kernel_args: args,
                modules,
            },
            path,
        )?;
    }

    let mut failures = Vec::new();
    for case in cases {
        let image = &images
            .iter()
            .find(|(s, _, _)| *s == case.scenario)
            .expect("an image per scenario")
            .1;
        println!("run  {}", case.name);
        let started = Instant::now();
        match run_case(case, image, accel, &dir, &module, default_system.as_ref()) {
            Ok(()) => println!(
                "ok   {} ({:.1} s)",
                case.name,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => {
                println!("FAIL {}: {}", case.name, e.0);
                failures.push(case.name);
            }
        }
    }
    if failures.is_empty() {
        println!("== all {} boot tests passed", cases.len());
        Ok(())
    } else {
        Err(fail!(
            "{} of {} boot tests failed: {}",
            failures.len(),
            cases.len(),
            failures.join("; ")
        ))
    }
}

/// The verifying boot's image, next to the writing boot's.
fn power_cut_verify_image(write_image: &Path) -> PathBuf {
    write_image.with_file_name("kvs-persist-verify.iso")
}

/// The last `kvs-crash: acked <i>` round in `serial`.
fn last_acked(serial: &str) -> Option<u64> {
    serial
        .lines()
        .rev()
        .filter_map(|l| l.split("kvs-crash: acked ").nth(1))
        .find_map(|n| n.trim().parse().ok())
}

/// Boots the writing image on a fresh disk and kills QEMU once enough
/// rounds are acknowledged; boots the verifying image on the same disk and
/// checks that every acknowledged round is there.
/// `disk`: QEMU's device, and the line the block server logs when it
/// drives it (each boot must show it).
fn run_power_cut(
    case: &Case,
    image: &Path,
    accel: Accel,
    dir: &Path,
    disk: (&str, &str),
) -> Result<()> {
    let (device, driven) = disk;
    let disk = dir.join("kvs-persist-disk.img");
    fs::write(&disk, vec![0u8; POWER_CUT_DISK_BYTES])?;
    // Writeback caching passes the guest's flushes on to the host file.
    let drive = format!(
        "if=none,id=disk0,format=raw,cache=writeback,file={}",
        disk.display()
    );
    let boot = |image: &Path| -> Result<Vm> {
        let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
        vm.debug_exit();
        vm.args(&["-drive", &drive, "-device", device]);
        Ok(vm)
    };
    let with_log = |e: crate::Error, serial: &str, log: &Path| {
        fail!(
            "{}\n---- serial log ({}) ----\n{serial}\n---- end of serial log ----",
            e.0,
            log.display()
        )
    };
    let write_log = dir.join("kvs-power-cut-write.log");
    let outcome = boot(image)?.run_until(&write_log, Duration::from_secs(120), |serial| {
        last_acked(serial).is_some_and(|n| n >= POWER_CUT_AFTER_ROUNDS)
    })?;
    let drove = |serial: &str| {
        if serial.contains(driven) {
            Ok(())
        } else {
            Err(fail!("the block server never logged {driven:?}"))
        }
    };
    let acked = drove(&outcome.serial)
        .and_then(|()| check_power_cut_write(outcome.status, &outcome.serial))
        .map_err(|e| with_log(e, &outcome.serial, &write_log))?;
    let verify_log = dir.join("kvs-power-cut-verify.log");
    let outcome =
        boot(&power_cut_verify_image(image))?.run_captured(&verify_log, Duration::from_secs(60))?;
    drove(&outcome.serial)
        .and_then(|()| check_power_cut_verify(outcome.status, &outcome.serial, acked))
        .map_err(|e| with_log(e, &outcome.serial, &verify_log))
}

/// Boots config/hello with COM1 absent (`-serial none` first: the
/// captured port becomes COM2, which the kernel does not look at), and
/// reads the VGA text screen from guest memory (QMP `pmemsave`) while it
/// runs: the kernel's boot log and the components' output must show
/// there, and the run must pass as with a serial port.
fn run_screen(case: &Case, image: &Path, accel: Accel, dir: &Path) -> Result<()> {
    let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
    vm.debug_exit();
    let qmp = dir.join(format!("screen-{:?}.qmp", case.firmware).to_lowercase());
    let _ = fs::remove_file(&qmp);
    vm.args(&["-serial", "none", "-qmp", &crate::qmp::arg(&qmp)]);
    hello_disk(&mut vm, dir, "screen")?;
    let pixels = case.firmware == Firmware::Uefi;
    let dump = dir.join(if pixels { "screen.ppm" } else { "screen.bin" });
    let mut seen: Vec<String> = Vec::new();
    let log = dir.join("screen-com2.log");
    // What the screen shows now: the VGA text buffer's cells under a
    // BIOS, the framebuffer's glyphs read back under UEFI.
    let look = |seen: &mut Vec<String>| -> Option<()> {
        let rows = if pixels {
            crate::qmp::screendump(&qmp, &dump).ok()?;
            crate::screendump::text(&fs::read(&dump).ok()?).ok()?
        } else {
            crate::qmp::pmemsave(&qmp, 0xb8000, 80 * 25 * 2, &dump).ok()?;
            let cells = fs::read(&dump).ok()?;
            cells
                .chunks(160)
                .map(|row| {
                    row.iter()
                        .step_by(2)
                        .map(|&c| c as char)
                        .collect::<String>()
                })
                .map(|l| l.trim_end().to_string())
                .collect()
        };
        for line in rows {
            if !line.is_empty() && !seen.contains(&line) {
                seen.push(line);
            }
        }
        Some(())
    };
    let timeout = Duration::from_secs(if pixels { 180 } else { 60 });
    let outcome = vm.run_until(&log, timeout, |_| {
        let _ = look(&mut seen);
        false
    })?;
    let screen = seen.join("\n");
    // Lines that stay on the screen long enough to be read: the boot's
    // end, one of init's start lines (the server starts eleven times: a
    // single one can scroll away between two looks on a busy host), and
    // a component's own output (written through the kernel's console
    // call), which repeats as its server restarts.
    let wanted = [
        "Basalt: boot complete",
        "init: started hello-",
        "hello-client: server restarted (generation",
    ];
    let missing: Vec<&str> = wanted
        .into_iter()
        .filter(|w| !seen.iter().any(|l| l.contains(w)))
        .collect();
    if !missing.is_empty() || outcome.status != Some(EXIT_SUCCESS) {
        return Err(fail!(
            "the screen lacked {missing:?} (QEMU's status {:?})\n---- what the screen showed ----\n{screen}\n---- end ----",
            outcome.status
        ));
    }
    // GRUB writes to the first port the BIOS lists (COM2 here); the
    // kernel, told nothing, only looks for COM1.
    if outcome.serial.contains("boot summary") {
        return Err(fail!(
            "the kernel wrote to COM2, which it was not told to use"
        ));
    }
    Ok(())
}

/// Gives `vm` the disk config/hello's client reads, as the system test
/// does.
fn hello_disk(vm: &mut Vm, dir: &Path, name: &str) -> Result<()> {
    let disk = dir.join(format!("{name}-disk.img"));
    fs::write(&disk, vec![0u8; 1 << 20])?;
    let drive = format!("if=none,id=disk0,format=raw,file={}", disk.display());
    vm.args(&[
        "-drive",
        &drive,
        "-device",
        "virtio-blk-pci,drive=disk0,num-queues=1",
    ]);
    Ok(())
}

/// Where an SPCR table's 16550 is: its Generic Address Structure's
/// address space (0 memory, 1 I/O), register width, access size and
/// address.
struct SpcrBase {
    space: u8,
    width: u8,
    access: u8,
    address: u64,
}

/// An ACPI SPCR table (revision 4, 88 bytes) naming a 16550 at `base`,
/// 115200 baud.
fn spcr_table(base: SpcrBase) -> Vec<u8> {
    let mut t = Vec::with_capacity(88);
    t.extend_from_slice(b"SPCR");
    t.extend_from_slice(&88u32.to_le_bytes());
    t.push(4); // revision
    t.push(0); // checksum, below
    t.extend_from_slice(b"BASALT");
    t.extend_from_slice(b"SPCRTEST");
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(b"BSLT");
    t.extend_from_slice(&1u32.to_le_bytes());
    t.push(0); // interface: full 16550
    t.extend_from_slice(&[0; 3]);
    t.extend_from_slice(&[base.space, base.width, 0, base.access]);
    t.extend_from_slice(&base.address.to_le_bytes());
    t.push(1); // interrupt type: 8259
    t.push(3); // IRQ
    t.extend_from_slice(&0u32.to_le_bytes());
    // 115200 baud, no parity, one stop bit, no flow control, VT100.
    t.extend_from_slice(&[7, 0, 1, 0, 0, 0]);
    t.extend_from_slice(&0xffffu16.to_le_bytes());
    t.extend_from_slice(&0xffffu16.to_le_bytes());
    t.extend_from_slice(&[0, 0, 0]);
    t.extend_from_slice(&0u32.to_le_bytes());
    t.push(0); // PCI segment
    t.extend_from_slice(&1_843_200u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes()); // precise baud: use the above
    t.extend_from_slice(&0u16.to_le_bytes());
    t.extend_from_slice(&88u16.to_le_bytes());
    let sum = t.iter().fold(0u8, |a, &b| a.wrapping_add(b));
    t[9] = 0u8.wrapping_sub(sum);
    t
}

/// Boots config/hello with COM1 present but discarding (`-serial null`)
/// and COM2 captured, and an SPCR table naming COM2: the kernel must
/// move its console there (and say so), and the run pass. Then with an
/// SPCR table naming a memory-mapped 16550 (32-bit registers) where
/// nothing answers: the kernel maps it, finds it silent without waiting
/// on it for ever, says so on COM1, and the run passes.
fn run_spcr(case: &Case, image: &Path, accel: Accel, dir: &Path) -> Result<()> {
    run_spcr_com2(case, image, accel, dir)?;
    let table = dir.join("spcr-mmio.bin");
    fs::write(
        &table,
        spcr_table(SpcrBase {
            space: 0,
            width: 32,
            access: 3,
            address: 0x3f_0000_0000,
        }),
    )?;
    let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
    vm.debug_exit();
    let acpi = format!("file={}", table.display());
    vm.args(&["-acpitable", &acpi]);
    hello_disk(&mut vm, dir, "spcr-mmio")?;
    let log = dir.join("spcr-mmio.log");
    let outcome = vm.run_captured(&log, Duration::from_secs(60))?;
    let serial = &outcome.serial;
    [
        "console: the SPCR table's UART at 0x3f00000000 does not answer",
        "console    16550 UART at I/O port 0x3f8",
        "hello-client: all calls succeeded",
    ]
    .iter()
    .find(|l| !serial.contains(*l))
    .map_or(Ok(()), |l| Err(fail!("COM1 lacks {l:?}")))
    .and_then(|()| expect_status(outcome.status, EXIT_SUCCESS))
    .map_err(|e| {
        fail!(
            "memory-mapped SPCR UART: {}\n---- COM1 ({}) ----\n{serial}\n---- end ----",
            e.0,
            log.display()
        )
    })
}

fn run_spcr_com2(case: &Case, image: &Path, accel: Accel, dir: &Path) -> Result<()> {
    let table = dir.join("spcr.bin");
    // I/O space, 8 bits wide, byte access.
    fs::write(
        &table,
        spcr_table(SpcrBase {
            space: 1,
            width: 8,
            access: 1,
            address: 0x2f8,
        }),
    )?;
    let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
    vm.debug_exit();
    let acpi = format!("file={}", table.display());
    vm.args(&["-serial", "null", "-acpitable", &acpi]);
    hello_disk(&mut vm, dir, "spcr")?;
    let log = dir.join("spcr-com2.log");
    let outcome = vm.run_captured(&log, Duration::from_secs(60))?;
    let serial = &outcome.serial;
    let result = [
        "console: the SPCR table's UART at I/O port 0x2f8 (115200 baud",
        "init: started hello-client (generation 1",
        "hello-client: all calls succeeded",
    ]
    .iter()
    .find(|l| !serial.contains(*l))
    .map_or(Ok(()), |l| Err(fail!("COM2 lacks {l:?}")))
    .and_then(|()| expect_status(outcome.status, EXIT_SUCCESS));
    result.map_err(|e| {
        fail!(
            "{}\n---- COM2 ({}) ----\n{serial}\n---- end ----",
            e.0,
            log.display()
        )
    })
}

/// The serial lines that fail any system test.
const FATAL: [&str; 5] = [
    "KERNEL FAULT",
    "KERNEL PANIC",
    "BOOT FAILED",
    "PANIC",
    "cannot start",
];

fn check_power_cut_write(status: Option<i32>, serial: &str) -> Result<u64> {
    for bad in FATAL.iter().chain(&["kvs-crash: FAIL"]) {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    if let Some(s) = status {
        return Err(fail!("QEMU exited (status {s}) before it was killed"));
    }
    expect_line(serial, "kvs: log: formatted an empty disk")?;
    expect_line(serial, "kvs: log: 0 records")?;
    match last_acked(serial) {
        Some(n) if n >= POWER_CUT_AFTER_ROUNDS => Ok(n),
        n => Err(fail!(
            "kvs-crash acknowledged {n:?} rounds in 120 s; wanted {POWER_CUT_AFTER_ROUNDS}"
        )),
    }
}

fn check_power_cut_verify(status: Option<i32>, serial: &str, acked: u64) -> Result<()> {
    for bad in FATAL.iter().chain(&["kvs-crash: FAIL"]) {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    expect_status(status, EXIT_SUCCESS)?;
    expect_line(serial, "kvs: log: ")?;
    let line = expect_line(serial, "kvs-crash: recovered ")?;
    let rounds: u64 = line
        .split("recovered ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail!("cannot read the rounds from `{line}`"))?;
    // Rounds 0..=acked were acknowledged: all of them must be there.
    if rounds <= acked {
        return Err(fail!(
            "{rounds} rounds survived, but rounds 0 to {acked} were acknowledged"
        ));
    }
    expect_line(serial, "init: started kvs (generation 2")?;
    expect_line(
        serial,
        "kvs-crash: a round cut by a crash: 1 of 3 commands took effect, and the store holds it",
    )?;
    Ok(())
}

fn run_case(
    case: &Case,
    image: &Path,
    accel: Accel,
    dir: &Path,
    module: &[u8],
    default: Option<&manifest::Manifest>,
) -> Result<()> {
    if case.scenario == Scenario::PowerCut {
        let disk = (
            "virtio-blk-pci,drive=disk0,disable-legacy=on",
            "block: virtio-blk 1af4:1042",
        );
        return run_power_cut(case, image, accel, dir, disk);
    }
    if case.scenario == Scenario::PowerCutAhci {
        let disk = ("ide-hd,drive=disk0,bus=ide.0", "block: ahci 8086:2922");
        return run_power_cut(case, image, accel, dir, disk);
    }
    if case.scenario == Scenario::PowerCutNvme {
        let disk = ("nvme,drive=disk0,serial=basalt0", "block: nvme 1b36:0010");
        return run_power_cut(case, image, accel, dir, disk);
    }
    if case.scenario == Scenario::Net {
        return run_net(case, image, accel, dir);
    }
    if case.scenario == Scenario::Fuzz {
        return crate::fuzz::run(&crate::fuzz::Campaign {
            seed: 1,
            seeds: FUZZ_SEEDS,
            calls: FUZZ_CALLS,
            profile: Profile::Debug,
            accel,
            timeout: Some(Duration::from_secs(300)),
        });
    }
    if case.scenario == Scenario::Durability {
        let m = default.ok_or_else(|| fail!("config/default was not composed"))?;
        let machine_for = |ports| e2e_machine(m, ports);
        for (image, policy) in [
            (fsync_always_image(image), crate::durability::Policy::Always),
            (image.to_path_buf(), crate::durability::Policy::EverySec),
        ] {
            let line = crate::durability::run(&image, policy, &machine_for, dir, accel)?;
            println!("     {line}");
        }
        return Ok(());
    }
    if case.scenario == Scenario::Screen {
        return run_screen(case, image, accel, dir);
    }
    if case.scenario == Scenario::Spcr {
        return run_spcr(case, image, accel, dir);
    }
    if case.scenario == Scenario::Cards {
        let m = default.ok_or_else(|| fail!("config/default was not composed"))?;
        let machine_for = |ports, nic, storage| {
            let mut machine = e2e_machine(m, ports)?;
            machine.choose_nic(m, nic)?;
            machine.choose_storage(m, storage)?;
            Ok(machine)
        };
        return crate::e2e::run_cards(image, &machine_for, dir, accel);
    }
    if case.scenario == Scenario::Default {
        let m = default.ok_or_else(|| fail!("config/default was not composed"))?;
        let machine_for = |ports| e2e_machine(m, ports);
        return crate::e2e::run_default(image, &machine_for, dir, accel);
    }
    let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
    vm.debug_exit();
    if case.scenario == Scenario::System {
        let disk = dir.join("virtio-disk.img");
        fs::write(&disk, vec![0u8; 1 << 20])?;
        let drive = format!("if=none,id=disk0,format=raw,file={}", disk.display());
        vm.args(&[
            "-drive",
            &drive,
            "-device",
            "virtio-blk-pci,drive=disk0,num-queues=1",
        ]);
    }
    if case.scenario == Scenario::RootTask {
        // A device whose MSI message roottest points at exception vectors
        // (`roottest`'s `forged` cases).
        vm.args(&["-device", "edu,addr=0x10"]);
    }
    let block_disk = dir.join("block-disk.img");
    if case.scenario == Scenario::Block {
        let mut bytes = vec![0u8; BLOCK_DISK_BYTES];
        bytes[..BLOCK_DISK_MAGIC.len()].copy_from_slice(BLOCK_DISK_MAGIC);
        fs::write(&block_disk, bytes)?;
        let drive = format!("if=none,id=disk0,format=raw,file={}", block_disk.display());
        vm.args(&[
            "-drive",
            &drive,
            "-device",
            "virtio-blk-pci,drive=disk0,disable-legacy=on",
        ]);
    }
    if let Some(cpu) = case.cpu
        && accel == Accel::Tcg
    {
        vm.cpu(cpu);
    }
    let log: PathBuf = dir.join(format!(
        "{}.log",
        case.name.replace(|c: char| !c.is_ascii_alphanumeric(), "-")
    ));
    let timeout = Duration::from_secs(match case.firmware {
        Firmware::Bios => 60,
        Firmware::Uefi => 180,
    });
    let outcome = vm.run_captured(&log, timeout)?;
    let serial = outcome.serial;
    let result = match case.scenario {
        Scenario::Boot => check_boot(case, accel, outcome.status, &serial, module),
        Scenario::PageFault => check_page_fault(outcome.status, &serial),
        Scenario::RootTask => check_root_task(outcome.status, &serial),
        Scenario::System => check_hello(outcome.status, &serial),
        Scenario::Block => check_block(outcome.status, &serial, &fs::read(&block_disk)?),
        Scenario::Kvs => check_kvs(outcome.status, &serial),
        Scenario::PowerCut | Scenario::PowerCutNvme | Scenario::PowerCutAhci => {
            unreachable!("run_power_cut runs it")
        }
        Scenario::Net => unreachable!("run_net runs it"),
        Scenario::Default => unreachable!("e2e::run_default runs it"),
        Scenario::Cards => unreachable!("e2e::run_cards runs it"),
        Scenario::Screen => unreachable!("run_screen runs it"),
        Scenario::Spcr => unreachable!("run_spcr runs it"),
        Scenario::Fuzz => unreachable!("fuzz::run runs it"),
        Scenario::Durability => unreachable!("durability::run runs it"),
    };
    result.map_err(|e| {
        fail!(
            "{}\n---- serial log ({}) ----\n{serial}\n---- end of serial log ----",
            e.0,
            log.display()
        )
    })
}

/// Boots `config/net-test` with the NIC on QEMU's user networking; once
/// the guest has its address and listens, talks to it from the host
/// ([`nettest::converse`]) and stops QEMU when done.
fn run_net(case: &Case, image: &Path, accel: Accel, dir: &Path) -> Result<()> {
    let (tcp, udp) = nettest::free_ports()?;
    let mut vm = Vm::new(image, case.media, case.firmware, accel)?;
    vm.debug_exit();
    let args = nettest::qemu_args(tcp, udp);
    vm.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let log = dir.join("net.log");
    let started = Instant::now();
    let timeout = Duration::from_secs(180);
    let mut client: Option<std::thread::JoinHandle<Result<String>>> = None;
    let outcome = vm.run_until(&log, timeout, |serial| {
        if client.is_none() && nettest::ready(serial) {
            let deadline = started + timeout - Duration::from_secs(10);
            client = Some(std::thread::spawn(move || {
                nettest::converse(tcp, udp, deadline)
            }));
        }
        client.as_ref().is_some_and(|c| c.is_finished())
            || FATAL.iter().any(|bad| serial.contains(bad))
    })?;
    let result = match client {
        None => Err(fail!(
            "the guest never became ready (wanted the lines {:?})",
            nettest::READY
        )),
        Some(c) => c
            .join()
            .unwrap_or_else(|_| Err(fail!("the host client panicked"))),
    };
    check_net(outcome.status, &outcome.serial, result).map_err(|e| {
        fail!(
            "{}\n---- serial log ({}) ----\n{}\n---- end of serial log ----",
            e.0,
            log.display(),
            outcome.serial
        )
    })
}

/// The line the net server logs when it sleeps between rounds (woken by
/// the NIC's MSI-X interrupt and its apps, or its next timer). `net-echo`
/// runs below the server's priority in `config/net-test`, so the
/// conversation itself shows that the server blocks when idle: a polling
/// server would never let it run.
const NET_SLEEPS: &str = "net: interrupts: MSI-X entry 0 on line ";

/// The net test passes when the host's conversation did, nothing fatal
/// was logged, the server sleeps between rounds and the guest did not
/// end the run (QEMU was stopped).
fn check_net(status: Option<i32>, serial: &str, conversation: Result<String>) -> Result<()> {
    for bad in FATAL
        .iter()
        .chain(&["net: start-up failed", "net-echo: cannot"])
    {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    if let Some(s) = status {
        return Err(fail!("QEMU exited (status {s}) during the test"));
    }
    for line in nettest::READY {
        expect_line(serial, line)?;
    }
    expect_line(serial, NET_SLEEPS)?;
    expect_line(serial, "net-echo: 10.0.2.2:")?;
    let summary = conversation?;
    println!("     {summary}");
    Ok(())
}

fn expect_status(status: Option<i32>, wanted: i32) -> Result<()> {
    match status {
        Some(s) if s == wanted => Ok(()),
        Some(s) => Err(fail!("QEMU exited with status {s}, expected {wanted}")),
        None => Err(fail!("timed out: the kernel never reported a result")),
    }
}

fn expect_line<'a>(serial: &'a str, needle: &str) -> Result<&'a str> {
    serial
        .lines()
        .find(|l| l.contains(needle))
        .ok_or_else(|| fail!("serial log lacks a line with `{needle}`"))
}

fn check_boot(
    case: &Case,
    accel: Accel,
    status: Option<i32>,
    serial: &str,
    module: &[u8],
) -> Result<()> {
    for bad in ["KERNEL FAULT", "KERNEL PANIC", "BOOT FAILED"] {
        if serial.contains(bad) {
            return Err(fail!("the kernel reported `{bad}`"));
        }
    }
    expect_status(status, EXIT_SUCCESS)?;
    expect_line(serial, "boot summary")?;
    let firmware = match case.firmware {
        Firmware::Bios => "firmware   BIOS",
        Firmware::Uefi => "firmware   UEFI",
    };
    let loader = expect_line(serial, firmware)?;
    let by = match case.media {
        Media::Direct => "loaded by QEMU's direct boot (PVH)",
        Media::Cdrom | Media::Disk => "loaded by GRUB",
    };
    if !loader.contains(by) {
        return Err(fail!("`{loader}` does not say `{by}`"));
    }
    let memory = expect_line(serial, "  memory ")?;
    // QEMU gives the guest 256 MiB; firmware keeps a little of it.
    let total: u64 = memory
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail!("cannot read the memory total from `{memory}`"))?;
    if !(200..=256).contains(&total) {
        return Err(fail!(
            "memory total {total} MiB is not what a 256 MiB guest has: `{memory}`"
        ));
    }
    expect_line(serial, "  cpus       1 (APIC ids 0)")?;
    expect_line(serial, "  ioapics    1: id 0 at 0xfec00000 GSIs 0-23")?;
    expect_line(serial, "irq0->gsi2")?;
    // QEMU's TCG emulates neither x2APIC nor the TSC-deadline timer, and
    // its qemu64 model lacks SMEP and SMAP; under KVM the host CPU decides.
    let mode = expect_line(serial, "boot CPU 0 in")?;
    let timer = expect_line(serial, "  timer      local APIC")?;
    let hardening = expect_line(serial, "  hardening  NX W^X stack-guards")?;
    if accel == Accel::Tcg {
        if !mode.contains("xAPIC mode") || !timer.contains("one-shot") {
            return Err(fail!(
                "TCG offers only xAPIC and the count-down timer: `{mode}` / `{timer}`"
            ));
        }
        let smep = case.cpu.is_none();
        if hardening.contains("SMEP") != smep || hardening.contains("SMAP") != smep {
            return Err(fail!(
                "SMEP/SMAP should be {} on this CPU model: `{hardening}`",
                if smep { "on" } else { "off" }
            ));
        }
    }
    expect_line(
        serial,
        "pci        ECAM at 0xb0000000 segment 0 buses 0-255",
    )?;
    expect_line(serial, "modules    1")?;
    expect_line(serial, &format!("\"{TEST_MODULE_NAME}\" at ")).and_then(|l| {
        let wanted = format!("{} bytes, fnv1a {:#018x}", module.len(), fnv1a(module));
        if l.contains(&wanted) {
            Ok(())
        } else {
            Err(fail!("module line `{l}` lacks `{wanted}`"))
        }
    })?;
    expect_line(serial, "Basalt: boot complete")?;
    expect_line(serial, "self-test boot: passed")?;
    Ok(())
}

/// The hello system: init starts both components, the client's calls
/// succeed, the server crashes on request ten times in a row and comes
/// back every time (past its budget of 3 restarts a second, after a
/// back-off), the client notices each, and a capability it was not
/// granted is refused. Each generation of the server writes and reads
/// back most of its heap, whose 2 MiB frames init maps as they are first
/// touched (and must map anew after each restart).
fn check_hello(status: Option<i32>, serial: &str) -> Result<()> {
    for bad in [
        "KERNEL FAULT",
        "KERNEL PANIC",
        "BOOT FAILED",
        "PANIC in hello-client",
        "cannot start",
    ] {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    expect_status(status, EXIT_SUCCESS)?;
    for line in [
        "init: started hello-server (generation 1",
        "init: started hello-client (generation 1",
        "hello-client: add(40, 2) = 42",
        "(not granted) failed with Kernel(InvalidCapability)",
        "init: hello-server (generation 1) faulted",
        "init: started hello-server (generation 2",
        "hello-server: serving greeter (generation 2; the last one ended: invalid opcode at 0x",
        "hello-client: server restarted (generation 2)",
        "init: hello-server failed past its restart budget; starting it again in 1000 ms (back-off)",
        "init: started hello-server (generation 11",
        "hello-client: server restarted (generation 11)",
        "hello-client: all calls succeeded",
    ] {
        expect_line(serial, line)?;
    }
    if serial.contains("hello-server stays stopped") {
        return Err(fail!("init gave up on the server"));
    }
    let heap = "hello-server: 3120 KiB of heap written and read back";
    let heaps = serial.matches(heap).count();
    if heaps < 11 {
        return Err(fail!(
            "`{heap}` shows {heaps} times, not once for each of the server's 11 generations"
        ));
    }
    // The client reads the disk's register through the BAR init granted,
    // and learns the BAR's physical address (for DMA-style use) from init.
    let bar = expect_line(serial, ") BAR4 at ")?;
    let bar = bar
        .split(" at ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_default();
    expect_line(
        serial,
        &format!(
            "hello-client: device disk.bar4: 16 KiB mapped, physical {bar}, virtio num_queues = 1"
        ),
    )?;
    Ok(())
}

/// The block test: the server finds the disk, reports its capacity and
/// the sector 0 the test wrote, passes its self-check, and the pattern it
/// wrote is on the disk image afterwards.
fn check_block(status: Option<i32>, serial: &str, disk: &[u8]) -> Result<()> {
    for bad in [
        "KERNEL FAULT",
        "KERNEL PANIC",
        "BOOT FAILED",
        "PANIC",
        "cannot start",
        "self-check failed",
        "start-up failed",
        "block-smoke: FAIL",
    ] {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    expect_status(status, EXIT_SUCCESS)?;
    let sector0: Vec<String> = BLOCK_DISK_MAGIC
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    for line in [
        "init: started block (generation 1".to_string(),
        "block: virtio-blk 1af4:1042 at ".to_string(),
        "block: interrupts: MSI-X entry 0 on line ".to_string(),
        format!("block: capacity {} sectors", BLOCK_DISK_BYTES / 512),
        "block: sectors 1-2 written and read back".to_string(),
        format!("block: sector 0 starts {}", sector0.join(" ")),
        "block: self-check passed".to_string(),
        "block: serving block (generation 1".to_string(),
        "init: started block-smoke (generation 1".to_string(),
        "block-smoke: ok write sectors 4-7, four requests in flight".to_string(),
        "block-smoke: ok read back sectors 4-7".to_string(),
        "block-smoke: ok sector 0 holds BASALT-BLOCKTEST".to_string(),
        "block-smoke: ok disk: sectors 16-115 written, flushed and read back".to_string(),
    ] {
        expect_line(serial, &line)?;
    }
    let line = serial
        .lines()
        .find(|l| l.contains("block-smoke: ") && l.contains(" passed, "))
        .ok_or_else(|| fail!("serial log lacks block-smoke's summary line"))?;
    match smoke_summary("block-smoke: ", line) {
        Some((passed, 0)) if passed >= MIN_BLOCK_CHECKS => {}
        Some((passed, failed)) => {
            return Err(fail!(
                "block-smoke: {passed} passed, {failed} failed; wanted at least {MIN_BLOCK_CHECKS} and no failure"
            ));
        }
        None => return Err(fail!("cannot read the summary line `{line}`")),
    }
    for sector in block_pattern_sectors() {
        let at = sector * 512;
        let on_disk = disk.get(at..at + 512).unwrap_or_default();
        if on_disk.len() != 512
            || on_disk
                .iter()
                .enumerate()
                .any(|(i, &b)| b != block_pattern(sector, i))
        {
            return Err(fail!(
                "sector {sector} of the disk image does not hold the pattern the server wrote"
            ));
        }
    }
    Ok(())
}

/// `kvs-smoke: N passed, M failed` as `(N, M)`.
fn kvs_summary(line: &str) -> Option<(u32, u32)> {
    smoke_summary("kvs-smoke: ", line)
}

/// `<prefix>N passed, M failed` as `(N, M)`.
fn smoke_summary(prefix: &str, line: &str) -> Option<(u32, u32)> {
    let rest = line.split(prefix).nth(1)?;
    let (passed, rest) = rest.split_once(" passed, ")?;
    let failed = rest.strip_suffix(" failed")?;
    Some((passed.trim().parse().ok()?, failed.trim().parse().ok()?))
}

/// The kvs system: both components start, and `kvs-smoke` passes at least
/// [`MIN_KVS_CHECKS`] checks and fails none.
/// QEMU's RTC starts at the host's UTC time: the clock the kvs server
/// reports (`clock <unix seconds> s`, from the kernel's RTC reading) must
/// be within 10 minutes of the host's (boot and a slow TCG run included).
fn check_wall_clock(line: &str) -> Result<()> {
    let guest: u64 = line
        .split("clock ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| fail!("no `clock <seconds> s` in `{line}`"))?;
    let host = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| fail!("the host clock is before 1970: {e}"))?
        .as_secs();
    if guest.abs_diff(host) > 600 {
        return Err(fail!(
            "the guest's clock says {guest} s, the host's {host} s: the RTC reading is wrong"
        ));
    }
    Ok(())
}

fn check_kvs(status: Option<i32>, serial: &str) -> Result<()> {
    for bad in [
        "KERNEL FAULT",
        "KERNEL PANIC",
        "BOOT FAILED",
        "PANIC",
        "cannot start",
        "kvs-smoke: FAIL",
    ] {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    expect_status(status, EXIT_SUCCESS)?;
    expect_line(serial, "init: started kvs (generation 1")?;
    let serving = expect_line(serial, "kvs: serving kvs (generation 1")?;
    check_wall_clock(serving)?;
    expect_line(
        serial,
        "kvs-smoke: ok 64 KiB value through the shared region",
    )?;
    expect_line(
        serial,
        &format!("kvs-smoke: ok {KVS_CRASHES} faults in a row, the store back each time"),
    )?;
    expect_line(
        serial,
        &format!("init: started kvs (generation {}", KVS_CRASHES + 1),
    )?;
    let line = expect_line(serial, " passed, ")?;
    match kvs_summary(line) {
        Some((passed, 0)) if passed >= MIN_KVS_CHECKS => Ok(()),
        Some((passed, failed)) => Err(fail!(
            "kvs-smoke: {passed} passed, {failed} failed; wanted at least {MIN_KVS_CHECKS} and no failure"
        )),
        None => Err(fail!("cannot read the summary line `{line}`")),
    }
}

fn check_page_fault(status: Option<i32>, serial: &str) -> Result<()> {
    expect_status(status, EXIT_FAILURE)?;
    let announce = expect_line(
        serial,
        "self-test pagefault: reading the boot stack's guard page at ",
    )?;
    let address = announce.rsplit(' ').next().unwrap_or_default();
    expect_line(serial, "KERNEL FAULT: page fault (vector 14)")?;
    expect_line(
        serial,
        &format!("CR2 {address}: not-present page on read in kernel mode"),
    )?;
    expect_line(serial, "  RIP 0xffffffff8")?;
    expect_line(serial, "  RAX ")?;
    expect_line(serial, "  backtrace")?;
    expect_line(serial, "    #1  0xffffffff8")?;
    expect_line(serial, "kernel stopped.")?;
    Ok(())
}

/// Reads `roottest: N passed, M failed`.
fn root_test_summary(line: &str) -> Option<(u32, u32)> {
    let rest = line.trim().strip_prefix("roottest: ")?;
    let (passed, failed) = rest.split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

fn check_root_task(status: Option<i32>, serial: &str) -> Result<()> {
    for bad in ["KERNEL FAULT", "KERNEL PANIC", "BOOT FAILED"] {
        if serial.contains(bad) {
            return Err(fail!("the kernel reported `{bad}`"));
        }
    }
    if let Some(l) = serial.lines().find(|l| l.starts_with("PANIC: ")) {
        return Err(fail!("the root task panicked: `{}`", l.trim_end()));
    }
    let failed: Vec<&str> = serial
        .lines()
        .filter(|l| l.starts_with("FAIL "))
        .map(str::trim_end)
        .collect();
    if !failed.is_empty() {
        return Err(fail!(
            "{} capability test(s) failed:\n  {}",
            failed.len(),
            failed.join("\n  ")
        ));
    }
    expect_status(status, EXIT_SUCCESS)?;
    let summary = serial
        .lines()
        .find_map(root_test_summary)
        .ok_or_else(|| fail!("serial log lacks `roottest: N passed, M failed`"))?;
    match summary {
        (_, failed) if failed != 0 => Err(fail!("the root task reports {failed} failed tests")),
        (passed, _) if passed < MIN_ROOT_TESTS => Err(fail!(
            "the root task ran only {passed} tests, expected at least {MIN_ROOT_TESTS}"
        )),
        _ => {
            // The forged interrupts on exception vectors were dropped, and
            // said so.
            expect_line(
                serial,
                "interrupt on exception vector 17 (alignment check) dropped",
            )?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_selects_the_boot_tests_whose_names_contain_it() {
        let all = plan(None).unwrap();
        assert!(all.host_tests());
        assert_eq!(all.names().count(), CASES.len());
        // `cargo xtask test kvs` runs the `kvs:` group and nothing else.
        let kvs = plan(Some("kvs")).unwrap();
        assert!(!kvs.host_tests());
        let names: Vec<&str> = kvs.names().collect();
        let group: Vec<&str> = CASES
            .iter()
            .map(|c| c.name)
            .filter(|n| n.starts_with("kvs:"))
            .collect();
        assert!(!group.is_empty());
        assert_eq!(names, group);
        let one = plan(Some("boot, SeaBIOS, CD-ROM")).unwrap();
        assert_eq!(one.names().collect::<Vec<_>>(), ["boot, SeaBIOS, CD-ROM"]);
        let e = plan(Some("no such test")).err().unwrap().0;
        assert!(
            e.contains("no boot test's name contains `no such test`"),
            "{e}"
        );
    }

    #[test]
    fn boot_test_names_are_unique() {
        for (i, c) in CASES.iter().enumerate() {
            assert!(
                CASES[..i].iter().all(|d| d.name != c.name),
                "{} twice",
                c.name
            );
        }
    }

    #[test]
    fn each_plan_needs_the_tools_of_its_tests() {
        let has = |p: &Plan, t: &Tool| p.host_tools().iter().any(|n| n.name() == t.name());
        let boot = plan(Some("boot, SeaBIOS, CD-ROM")).unwrap();
        assert!(has(&boot, &tools::QEMU) && has(&boot, &tools::GRUB_MKRESCUE));
        assert!(!has(&boot, &tools::OVMF_FIRMWARE) && !has(&boot, &tools::REDIS_CLI));
        assert!(has(&plan(Some("OVMF")).unwrap(), &tools::OVMF_FIRMWARE));
        let all = plan(None).unwrap();
        for t in [&tools::REDIS_CLI, &tools::CURL, &tools::REDIS_BENCHMARK] {
            assert!(has(&all, t));
        }
        let durability = plan(Some("durability:")).unwrap();
        assert!(has(&durability, &tools::REDIS_BENCHMARK));
        assert!(!has(&durability, &tools::CURL));
    }

    #[test]
    fn fnv1a_matches_published_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn a_missing_line_or_wrong_status_fails_the_page_fault_check() {
        assert!(check_page_fault(Some(EXIT_FAILURE), "").is_err());
        assert!(check_page_fault(None, "KERNEL FAULT: page fault (vector 14)").is_err());
        assert!(check_page_fault(Some(EXIT_SUCCESS), "").is_err());
    }

    #[test]
    fn the_root_task_summary_line_is_parsed() {
        assert_eq!(
            root_test_summary("roottest: 42 passed, 0 failed"),
            Some((42, 0))
        );
        assert_eq!(
            root_test_summary("roottest: 7 passed, 3 failed\r"),
            Some((7, 3))
        );
        assert_eq!(root_test_summary("roottest: capability tests"), None);
        assert_eq!(root_test_summary("roottest: x passed, 0 failed"), None);
    }

    #[test]
    fn the_root_task_check_wants_a_clean_run_of_enough_tests() {
        let ok = "ok   a\n[WARN ] interrupt on exception vector 17 (alignment check) dropped: a device's forged message (1 so far)\nroottest: 31 passed, 0 failed\n";
        let silent = "ok   a\nroottest: 31 passed, 0 failed\n";
        assert!(
            check_root_task(Some(EXIT_SUCCESS), silent).is_err(),
            "the forged interrupt must have been dropped and logged"
        );
        assert!(check_root_task(Some(EXIT_SUCCESS), ok).is_ok());
        // Too few tests, a failure, a panic, a fault, the wrong status.
        let few = "roottest: 29 passed, 0 failed\n";
        assert!(check_root_task(Some(EXIT_SUCCESS), few).is_err());
        let failing = "FAIL b: Ok vs Err(WrongType)\nroottest: 31 passed, 1 failed\n";
        assert!(check_root_task(Some(EXIT_FAILURE), failing).is_err());
        let panicked = "PANIC: oops at tests/roottest/src/main.rs:1\n";
        assert!(check_root_task(Some(EXIT_FAILURE), panicked).is_err());
        let fault = format!("KERNEL FAULT: page fault (vector 14)\n{ok}");
        assert!(check_root_task(Some(EXIT_SUCCESS), &fault).is_err());
        assert!(check_root_task(Some(EXIT_FAILURE), ok).is_err());
        assert!(check_root_task(None, ok).is_err());
        assert!(check_root_task(Some(EXIT_SUCCESS), "").is_err());
    }

    #[test]
    fn the_net_check_wants_the_conversation_and_a_clean_log() {
        let serial = format!(
            "{NET_SLEEPS}24 (receive and transmit): sleeping on net-wake when idle, until the next timer\n{}\nnet-echo: 10.0.2.2:40000 connected (1 open)\n",
            nettest::READY.join("\n")
        );
        let ok = || Ok("fine".to_string());
        assert!(check_net(None, &serial, ok()).is_ok());
        assert!(check_net(None, &serial, Err(fail!("short echo"))).is_err());
        assert!(check_net(Some(EXIT_FAILURE), &serial, ok()).is_err());
        let fault = format!("{serial}init: net (generation 1) faulted\nPANIC in net");
        assert!(check_net(None, &fault, ok()).is_err());
        let no_dhcp = serial.replace("(DHCP)", "");
        assert!(check_net(None, &no_dhcp, ok()).is_err());
        let polling = serial.replace(NET_SLEEPS, "net: no interrupt: polling ");
        assert!(check_net(None, &polling, ok()).is_err());
    }

    #[test]
    fn the_block_check_wants_the_log_lines_and_the_pattern_on_disk() {
        let serial = "init: started block (generation 1, priority 100)\n\
            init: started block-smoke (generation 1, priority 90)\n\
            block: virtio-blk 1af4:1042 at 00:03.0, 2 BARs\n\
            block: interrupts: MSI-X entry 0 on line 24\n\
            block: capacity 2048 sectors (1024 KiB), flush\n\
            block: sectors 1-2 written and read back\n\
            block: sector 0 starts 42 41 53 41 4c 54 2d 42 4c 4f 43 4b 54 45 53 54\n\
            block: self-check passed\n\
            block: serving block (generation 1, 32 requests in flight, 240 sectors per request at most)\n\
            block-smoke: ok write sectors 4-7, four requests in flight\n\
            block-smoke: ok read back sectors 4-7\n\
            block-smoke: ok sector 0 holds BASALT-BLOCKTEST\n\
            block-smoke: ok disk: sectors 16-115 written, flushed and read back\n\
            block-smoke: 12 passed, 0 failed\n";
        let mut disk = vec![0u8; 116 * 512];
        for sector in block_pattern_sectors() {
            for i in 0..512 {
                disk[sector * 512 + i] = block_pattern(sector, i);
            }
        }
        assert!(check_block(Some(EXIT_SUCCESS), serial, &disk).is_ok());
        assert!(check_block(Some(EXIT_FAILURE), serial, &disk).is_err());
        let lost = serial.replace("self-check passed", "self-check failed: Check(..)");
        assert!(check_block(Some(EXIT_SUCCESS), &lost, &disk).is_err());
        let polling = serial.replace(
            "interrupts: MSI-X entry 0 on line 24",
            "no interrupt: polling",
        );
        assert!(check_block(Some(EXIT_SUCCESS), &polling, &disk).is_err());
        let failed = serial.replace("12 passed, 0 failed", "11 passed, 1 failed");
        assert!(check_block(Some(EXIT_SUCCESS), &failed, &disk).is_err());
        let few = serial.replace("12 passed", "8 passed");
        assert!(check_block(Some(EXIT_SUCCESS), &few, &disk).is_err());
        let no_summary = serial.replace("block-smoke: 12 passed, 0 failed\n", "");
        assert!(check_block(Some(EXIT_SUCCESS), &no_summary, &disk).is_err());
        for at in [2 * 512 + 7, 6 * 512 + 100, 115 * 512 + 511] {
            let mut unwritten = disk.clone();
            unwritten[at] ^= 1;
            assert!(check_block(Some(EXIT_SUCCESS), serial, &unwritten).is_err());
        }
    }

    #[test]
    fn the_kvs_check_wants_enough_checks_and_no_failure() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let ok = &format!(
            "init: started kvs (generation 1, priority 100)\n\
            kvs: serving kvs (generation 1, 1 region, TSC 2000 MHz, clock {} s)\n\
            kvs-smoke: ok 64 KiB value through the shared region\n\
            kvs-smoke: 13 passed, 0 failed\n\
            init: started kvs (generation 11, priority 100)\n\
            kvs-smoke: ok 10 faults in a row, the store back each time\n",
            now - 30
        );
        assert_eq!(kvs_summary("kvs-smoke: 13 passed, 0 failed"), Some((13, 0)));
        assert!(check_kvs(Some(EXIT_SUCCESS), ok).is_ok());
        // The guest's clock must be the host's, within minutes.
        let wrong = ok.replace(&format!("clock {} s", now - 30), "clock 1700000000 s");
        assert!(check_kvs(Some(EXIT_SUCCESS), &wrong).is_err());
        let missing = ok.replace(&format!(", clock {} s", now - 30), "");
        assert!(check_kvs(Some(EXIT_SUCCESS), &missing).is_err());
        assert!(check_kvs(Some(EXIT_FAILURE), ok).is_err());
        assert!(check_kvs(None, ok).is_err());
        let few = ok.replace("13 passed", "9 passed");
        assert!(check_kvs(Some(EXIT_SUCCESS), &few).is_err());
        let failed = ok.replace("0 failed", "1 failed");
        assert!(check_kvs(Some(EXIT_SUCCESS), &failed).is_err());
        let fail_line = format!("{ok}kvs-smoke: FAIL INCR: INCR n: ...\n");
        assert!(check_kvs(Some(EXIT_SUCCESS), &fail_line).is_err());
        // Every fault must have brought the store back.
        let short = ok.replace("generation 11", "generation 4");
        assert!(check_kvs(Some(EXIT_SUCCESS), &short).is_err());
        let unsaid = ok.replace("10 faults in a row", "3 faults in a row");
        assert!(check_kvs(Some(EXIT_SUCCESS), &unsaid).is_err());
    }
}
