//! `cargo xtask`: build, image, run, test and debug Basalt.

mod bench;
mod bench_kvs;
mod build;
mod compose;
mod config;
mod durability;
mod e2e;
mod fuzz;
mod image;
mod machine;
mod nettest;
mod qemu;
mod qmp;
mod redisbench;
mod selftest;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  build [--release]                 build the kernel
  image [--release] [--config DIR] [-o FILE]
                                    build a hybrid BIOS/UEFI boot image (ISO, also a USB disk
                                    image) of the system in DIR (default config/default; the
                                    kernel alone while config/default does not exist)
  run [--release] [--config DIR] [--uefi] [--accel tcg|kvm] [--timeout SECS]
      [--disk FILE] [--redis-port N] [--http-port N] [--memory SIZE]
                                    boot that image in QEMU, serial console on this terminal;
                                    with a virtio disk (FILE, default target/basalt-disk.img,
                                    made if missing) and NIC where the system has drivers,
                                    127.0.0.1:N forwarded to the RESP (6379) and HTTP (8080)
                                    front ends; --memory: the guest's RAM in MiB or as
                                    \"2 GiB\" (default 1 GiB where a heap is a share of the
                                    machine)
  test [--config DIR] [--accel tcg|kvm] [--only TEXT]
                                    host unit tests, the config check, then boot tests under
                                    SeaBIOS and OVMF; --only: just the boot tests whose name
                                    contains TEXT (no host tests), building just their images
  check [--config DIR]              check a config tree (docs/config.md), report every error
  compose --config DIR [--bins DIR] -o IMAGE
                                    check DIR, build the kernel, init and the component binaries
                                    (release), or take them from --bins DIR, and write a boot
                                    image with the manifest; same inputs, same bytes
  graph [--config DIR] [--dot]      the system's components, channels, notifications and
                                    regions as text, or as a Graphviz graph
  bench ipc|kvs-ipc [--accel tcg|kvm] [--icount|--no-icount] [--timeout SECS]
                                    benchmarks in release builds (docs/perf.md): ipc, system-call
                                    and IPC latency; kvs-ipc, GET and SET over IPC next to the
                                    same store in-process; under TCG with -icount
                                    shift=0,sleep=off unless --no-icount
  bench kvs [--requests N] [--reps N] [--icount] [--accel tcg|kvm] [--timeout SECS]
            [--linux-kernel FILE] [--linux-initrd FILE]
                                    redis-benchmark -t set,get -c 50 -P 1 and -P 16 against
                                    config/default (release) and against Linux's redis-server in
                                    the same QEMU machine, REPS boots of each (default 3, -n
                                    100000); --icount adds guest time per request under -icount
                                    (instructions plus idle warps); the Linux guest comes from
                                    bench/linux-guest/build.sh in the shared folder (docs/perf.md)
  fuzz [--seed N] [--seeds K] [--calls N] [--release] [--accel tcg|kvm] [--timeout SECS]
                                    the kernel fuzzer (tests/kfuzz, docs/security.md): random
                                    system calls from three threads against a sandbox, the
                                    kernel's invariant oracle after each; K seeds from N
                                    (default 1 seed, 1; 10,000 calls each); a failure names the
                                    seed and the command that replays it
  gdb [--release] [--uefi]          boot halted under QEMU's gdb stub and attach gdb
";

/// An error for the user: what went wrong and, where possible, what to do.
#[derive(Debug)]
pub struct Error(String);

impl<T: std::fmt::Display> From<T> for Error {
    fn from(e: T) -> Self {
        Self(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Builds an [`Error`] from a format string.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => { $crate::Error(format!($($arg)*)) };
}

/// Command-line options shared by the subcommands.
#[derive(Debug, Default)]
struct Options {
    release: bool,
    uefi: bool,
    accel: qemu::Accel,
    output: Option<PathBuf>,
    timeout_secs: Option<u64>,
    /// `--icount` / `--no-icount` (bench): `None` leaves the default.
    icount: Option<bool>,
    /// `--config DIR`: the config tree (`None`: config/default).
    config: Option<PathBuf>,
    /// `--bins DIR` (compose): prebuilt ELF files instead of a build.
    bins: Option<PathBuf>,
    /// `--dot` (graph): Graphviz output.
    dot: bool,
    /// `--disk FILE` (run): the disk image.
    disk: Option<PathBuf>,
    /// `--redis-port N`, `--http-port N` (run): host ports to forward.
    ports: machine::HostPorts,
    /// `--memory SIZE` (run): the guest's RAM in MiB.
    memory_mib: Option<u64>,
    /// `--requests N`, `--reps N` (bench kvs).
    requests: Option<u64>,
    reps: Option<u32>,
    /// `--linux-kernel FILE`, `--linux-initrd FILE` (bench kvs).
    linux_kernel: Option<PathBuf>,
    linux_initrd: Option<PathBuf>,
    /// `--only TEXT` (test): the boot tests whose name contains TEXT.
    only: Option<String>,
    /// `--seed N`, `--seeds K`, `--calls N` (fuzz).
    seed: Option<u64>,
    seeds: Option<u64>,
    calls: Option<u64>,
}

/// A count from the command line.
fn count<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.parse()
        .map_err(|_| fail!("{name} wants a whole number, not `{v}`"))
}

/// `--memory`: MiB as QEMU's `-m` takes them, or a size such as
/// `"2 GiB"` (a whole number of MiB).
fn memory_mib(v: &str) -> Result<u64> {
    let bytes = match v.trim().parse::<u64>() {
        Ok(mib) => mib.checked_mul(1 << 20),
        Err(_) => config::size::parse(v).ok(),
    };
    bytes
        .filter(|b| *b > 0 && b.is_multiple_of(1 << 20))
        .map(|b| b >> 20)
        .ok_or_else(|| {
            fail!("--memory wants MiB or a size such as \"2 GiB\" (whole MiB), not `{v}`")
        })
}

/// A TCP port number from the command line.
fn port(v: &str) -> Result<u16> {
    v.parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| fail!("`{v}` is not a TCP port (1-65535)"))
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| fail!("{name} needs a value"))
        };
        match arg.as_str() {
            "--release" => o.release = true,
            "--uefi" => o.uefi = true,
            "--icount" => o.icount = Some(true),
            "--no-icount" => o.icount = Some(false),
            "--accel" => o.accel = value("--accel")?.parse()?,
            "-o" | "--output" => o.output = Some(value(arg)?.into()),
            "--config" => o.config = Some(value("--config")?.into()),
            "--bins" => o.bins = Some(value("--bins")?.into()),
            "--dot" => o.dot = true,
            "--disk" => o.disk = Some(value("--disk")?.into()),
            "--redis-port" => o.ports.redis = Some(port(&value("--redis-port")?)?),
            "--http-port" => o.ports.http = Some(port(&value("--http-port")?)?),
            "--memory" => o.memory_mib = Some(memory_mib(&value(arg)?)?),
            "--timeout" => {
                let v = value("--timeout")?;
                o.timeout_secs = Some(
                    v.parse()
                        .map_err(|_| fail!("--timeout wants whole seconds, not `{v}`"))?,
                );
            }
            "--requests" => o.requests = Some(count(arg, &value(arg)?)?),
            "--reps" => o.reps = Some(count(arg, &value(arg)?)?),
            "--linux-kernel" => o.linux_kernel = Some(value(arg)?.into()),
            "--linux-initrd" => o.linux_initrd = Some(value(arg)?.into()),
            "--only" => o.only = Some(value(arg)?),
            "--seed" => o.seed = Some(count(arg, &value(arg)?)?),
            "--seeds" => o.seeds = Some(count(arg, &value(arg)?)?),
            "--calls" => o.calls = Some(count(arg, &value(arg)?)?),
            other => return Err(fail!("unknown option `{other}`\n\n{USAGE}")),
        }
    }
    Ok(o)
}

fn run(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        print!("{USAGE}");
        return Ok(());
    };
    // `bench` names its suite before the options.
    let (suite, rest) = match (command.as_str(), rest.split_first()) {
        ("bench", Some((suite, rest))) if !suite.starts_with('-') => (Some(suite.as_str()), rest),
        ("bench", _) => {
            return Err(fail!(
                "bench needs a suite: `cargo xtask bench ipc`, `bench kvs-ipc` or `bench kvs`"
            ));
        }
        _ => (None, rest),
    };
    let opts = parse(rest)?;
    let profile = build::Profile::from_release(opts.release);
    match command.as_str() {
        "build" => {
            let kernel = build::kernel(profile)?;
            println!("kernel: {}", kernel.display());
        }
        "image" => {
            let out = opts
                .output
                .clone()
                .unwrap_or_else(|| build::target_dir().join("basalt.iso"));
            compose::system_image(opts.config.as_deref(), profile, &out)?;
            println!(
                "image: {} (BIOS and UEFI; see docs/boot.md to write it to a USB stick)",
                out.display()
            );
        }
        "run" => {
            let iso = build::target_dir().join("basalt.iso");
            let system = compose::system_image(opts.config.as_deref(), profile, &iso)?;
            let firmware = if opts.uefi {
                qemu::Firmware::Uefi
            } else {
                qemu::Firmware::Bios
            };
            let mut vm = qemu::Vm::new(&iso, qemu::Media::Cdrom, firmware, opts.accel)?;
            vm.interactive();
            if let Some(m) = &system {
                let machine = machine::Machine::for_system(m, opts.ports)?;
                let least = machine::least_memory_mib(m);
                let memory = match opts.memory_mib {
                    Some(mib) if mib < least => {
                        return Err(fail!(
                            "--memory {mib} MiB is less than the {least} MiB system `{}` needs",
                            m.system
                        ));
                    }
                    Some(mib) => mib,
                    None => machine.memory_mib,
                };
                vm.memory_mib(memory);
                let disk = match machine.disk {
                    Some(_) => {
                        machine::disk_image(opts.disk.as_deref(), machine::disk_bytes(memory))?
                    }
                    None => PathBuf::new(),
                };
                let args = machine.qemu_args(&disk);
                vm.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
                for f in &machine.forwards {
                    println!("net: 127.0.0.1:{} -> port {} in Basalt", f.host, f.guest);
                }
                machine::announce_when_ready(machine.forwards, Duration::from_secs(600));
            }
            let status = vm.run_foreground(opts.timeout_secs)?;
            if !status {
                return Err(fail!("QEMU did not exit cleanly"));
            }
        }
        "test" => {
            config::check_for_test(opts.config.as_deref())?;
            selftest::run_all(opts.accel, opts.only.as_deref())?
        }
        "fuzz" => fuzz::run(&fuzz::Campaign {
            seed: opts.seed.unwrap_or(1),
            seeds: opts.seeds.unwrap_or(1),
            calls: opts.calls.unwrap_or(10_000),
            profile,
            accel: opts.accel,
            timeout: opts.timeout_secs.map(Duration::from_secs),
        })?,
        "check" => {
            let dir = config::resolve(opts.config.as_deref());
            let m = config::load(&dir)?;
            println!(
                "{}: system `{}` is valid ({} components)",
                dir.display(),
                m.system,
                m.components.len()
            );
        }
        "compose" => {
            let dir = opts
                .config
                .as_deref()
                .ok_or_else(|| fail!("compose needs --config DIR"))?;
            let out = opts
                .output
                .as_deref()
                .ok_or_else(|| fail!("compose needs -o IMAGE"))?;
            let from = match &opts.bins {
                Some(bins) => compose::Binaries::Prebuilt(bins),
                None => compose::Binaries::Build(build::Profile::Release),
            };
            let m = compose::compose(dir, from, out)?;
            println!(
                "image: {} (system `{}`: {} components, {} binaries)",
                out.display(),
                m.system,
                m.components.len(),
                compose::binaries(&m).len()
            );
        }
        "graph" => {
            let m = config::load(&config::resolve(opts.config.as_deref()))?;
            if opts.dot {
                print!("{}", config::graph::dot(&m));
            } else {
                print!("{}", config::graph::text(&m));
            }
        }
        "bench" if suite == Some(bench_kvs::SUITE) => {
            if opts.icount == Some(false) {
                return Err(fail!(
                    "bench kvs runs without -icount unless told --icount; drop --no-icount"
                ));
            }
            bench_kvs::run(&bench_kvs::Settings {
                accel: opts.accel,
                requests: opts.requests.unwrap_or(bench_kvs::DEFAULT_REQUESTS),
                reps: opts.reps.unwrap_or(bench_kvs::DEFAULT_REPS),
                icount: opts.icount == Some(true),
                timeout_secs: opts.timeout_secs,
                linux_kernel: opts.linux_kernel,
                linux_initrd: opts.linux_initrd,
            })?
        }
        "bench" => bench::run(
            suite.unwrap_or_default(),
            opts.accel,
            opts.icount,
            opts.timeout_secs,
        )?,
        "gdb" => {
            let iso = build::target_dir().join("basalt.iso");
            image::build_default(profile, &iso)?;
            let firmware = if opts.uefi {
                qemu::Firmware::Uefi
            } else {
                qemu::Firmware::Bios
            };
            qemu::gdb(&iso, &build::kernel_path(profile), firmware, opts.accel)?;
        }
        "help" | "--help" | "-h" => print!("{USAGE}"),
        other => return Err(fail!("unknown command `{other}`\n\n{USAGE}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error(message)) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory_mib;

    #[test]
    fn memory_is_mib_or_a_size_in_whole_mib() {
        assert_eq!(memory_mib("2048").unwrap(), 2048);
        assert_eq!(memory_mib("2 GiB").unwrap(), 2048);
        assert_eq!(memory_mib("512MiB").unwrap(), 512);
        for bad in ["0", "1536 KiB", "lots", "2 GB", ""] {
            let e = memory_mib(bad).unwrap_err().0;
            assert!(e.contains(&format!("not `{bad}`")), "{e}");
        }
    }
}
