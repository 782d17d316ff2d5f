//! The command line, `cargo xtask <command> [options]`, parsed by clap:
//! each command takes only the options that apply to it, `--opt=value`
//! works as well as `--opt value`, and `cargo xtask <command> --help`
//! describes the command.

use crate::config;
use crate::qemu::Accel;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Build, image, run, test and debug Basalt",
    after_help = "`cargo xtask <command> --help` describes a command and its options."
)]
pub struct Cli {
    /// What to do (none: print this help).
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build the kernel ELF.
    Build(BuildArgs),
    /// Build a hybrid BIOS/UEFI boot image (an ISO that is also a USB disk
    /// image) of a system.
    ///
    /// The system is the config tree DIR (default config/default; the
    /// kernel alone while config/default does not exist). See docs/boot.md
    /// to write the image to a USB stick.
    Image(ImageArgs),
    /// Boot a system in QEMU, its serial console on this terminal (Ctrl-A X
    /// quits).
    ///
    /// A system with a disk driver gets a virtio disk (FILE, made if
    /// missing and kept between runs), one with a network driver a virtio
    /// NIC on QEMU's user networking, with 127.0.0.1:N forwarded to its
    /// RESP (6379), HTTP (8080) and memcached (11211) front ends; xtask
    /// says when they answer.
    Run(RunArgs),
    /// Host unit tests, the config check, then the boot tests under SeaBIOS
    /// and OVMF.
    ///
    /// With FILTER (or --only), just the boot tests whose names contain it
    /// (case-sensitive, as cargo test's filter), building just their
    /// images, without the host unit tests. Each name
    /// starts with its group (`boot,`, `kernel page fault`, `root task:`,
    /// `fuzz:`, `system:`, `block:`, `kvs:`, `net:`, `durability:`), so
    /// `cargo xtask test kvs` runs the two `kvs:` tests. `--list` prints
    /// the names.
    Test(TestArgs),
    /// Check a config tree (docs/config.md) and report every error as
    /// file:line:col.
    Check(CheckArgs),
    /// Build the system a config tree describes into a boot image.
    ///
    /// Checks DIR, builds the kernel, init and the component binaries
    /// (release), or takes them from --bins DIR, and writes a boot image
    /// with the manifest; the same inputs give the same bytes.
    Compose(ComposeArgs),
    /// Print a system's components, channels, notifications and regions as
    /// text, or as a Graphviz graph.
    Graph(GraphArgs),
    /// Benchmarks in release builds (docs/perf.md).
    Bench(BenchArgs),
    /// The kernel fuzzer (tests/kfuzz, docs/security.md), or (`fuzz
    /// redis`) the differential tests against redis-server, long.
    ///
    /// Kernel: random system calls from three threads against a sandbox,
    /// the kernel's invariant oracle after each, for K seeds from N.
    /// Redis: kvs-core's and resp's differential tests, --sequences
    /// commands each, for K seeds from N, against a redis-server of their
    /// own. A failure names the seed and the command that replays it.
    Fuzz(FuzzArgs),
    /// Boot halted under QEMU's gdb stub and attach gdb.
    Gdb(GdbArgs),
    /// Write a system's boot image to a USB stick or disk, and verify it.
    ///
    /// Builds the image (release) of the config tree, or takes --image
    /// FILE; refuses a partition, a mounted device, a disk that is not
    /// removable (unless --force) and one smaller than the image; says
    /// what it will overwrite and asks for `yes` (unless --yes); writes,
    /// flushes and reads the image back. docs/boot.md walks through a
    /// board.
    Flash(FlashArgs),
}

#[derive(Debug, Args)]
pub struct FlashArgs {
    /// The whole device to write (`/dev/sdX`; a regular file also works).
    #[arg(long, value_name = "PATH")]
    pub device: PathBuf,
    /// An image to write instead of building one.
    #[arg(long, value_name = "FILE")]
    pub image: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Write a disk that is not removable.
    #[arg(long)]
    pub force: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    pub yes: bool,
}

/// `--config DIR` where it is optional.
#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The config tree of the system (docs/config.md) [default:
    /// config/default].
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
}

/// `--accel tcg|kvm`.
#[derive(Debug, Args)]
pub struct AccelArg {
    /// QEMU's accelerator.
    #[arg(long, value_enum, value_name = "ACCEL", default_value_t = Accel::Tcg)]
    pub accel: Accel,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// A release build.
    #[arg(long)]
    pub release: bool,
}

#[derive(Debug, Args)]
pub struct ImageArgs {
    /// A release build.
    #[arg(long)]
    pub release: bool,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Where to write the image [default: target/basalt.iso].
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A release build (to measure or to serve: debug builds under TCG
    /// are slow).
    #[arg(long)]
    pub release: bool,
    #[command(flatten)]
    pub config: ConfigArg,
    /// Boot under OVMF (UEFI) instead of SeaBIOS.
    #[arg(long)]
    pub uefi: bool,
    /// Boot without GRUB: QEMU loads the kernel and the modules itself
    /// (`-kernel`, the kernel's PVH entry; SeaBIOS only). See
    /// docs/boot.md.
    #[arg(long, conflicts_with = "uefi")]
    pub direct: bool,
    #[command(flatten)]
    pub accel: AccelArg,
    /// Stop QEMU after SECS seconds.
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<u64>,
    /// The virtio disk of a system with a disk driver: made if missing
    /// (four times the guest's RAM and at least 256 MiB, sparse), kept
    /// between runs [default: target/basalt-disk.img].
    #[arg(long, value_name = "FILE")]
    pub disk: Option<PathBuf>,
    /// The host port forwarded to the RESP front end's (6379) [default:
    /// the front end's port].
    #[arg(long, value_name = "N", value_parser = port)]
    pub redis_port: Option<u16>,
    /// The host port forwarded to the HTTP front end's (8080) [default:
    /// the front end's port].
    #[arg(long, value_name = "N", value_parser = port)]
    pub http_port: Option<u16>,
    /// The host port forwarded to the memcached front end's (11211)
    /// [default: the front end's port].
    #[arg(long, value_name = "N", value_parser = port)]
    pub memcached_port: Option<u16>,
    /// The guest's RAM: MiB, or a size such as "2 GiB" in whole MiB
    /// [default: 1 GiB for a system with a heap that is a share of the
    /// machine, as kvs in config/default, else what the system needs].
    #[arg(long, value_name = "SIZE", value_parser = memory_mib)]
    pub memory: Option<u64>,
    /// The network card QEMU gives the guest, one the config's net device
    /// lists [default: the first it lists].
    #[arg(long, value_name = "MODEL")]
    pub nic: Option<crate::machine::NicModel>,
    /// The disk QEMU gives the guest, one the config's disk device lists
    /// [default: the first it lists].
    #[arg(long, value_name = "MODEL")]
    pub storage: Option<crate::machine::StorageModel>,
}

#[derive(Debug, Args)]
pub struct TestArgs {
    /// Run just the boot tests whose names contain FILTER (no host tests).
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// The same as FILTER.
    #[arg(long, value_name = "TEXT", conflicts_with = "filter")]
    pub only: Option<String>,
    /// Print the names of the boot tests (those FILTER selects) and run
    /// nothing.
    #[arg(long)]
    pub list: bool,
    /// The config tree checked before the boot tests [default:
    /// config/default].
    #[arg(long, value_name = "DIR")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub accel: AccelArg,
}

impl TestArgs {
    /// FILTER or `--only`.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_deref().or(self.only.as_deref())
    }
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub config: ConfigArg,
}

#[derive(Debug, Args)]
pub struct ComposeArgs {
    /// The config tree of the system.
    #[arg(long, value_name = "DIR")]
    pub config: PathBuf,
    /// Take the ELF files (the kernel, init and every component's binary)
    /// from DIR instead of building them.
    #[arg(long, value_name = "DIR")]
    pub bins: Option<PathBuf>,
    /// Where to write the image.
    #[arg(short, long, value_name = "IMAGE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(flatten)]
    pub config: ConfigArg,
    /// A Graphviz graph instead of text.
    #[arg(long)]
    pub dot: bool,
}

#[derive(Debug, Args)]
#[command(subcommand_value_name = "SUITE", subcommand_help_heading = "Suites")]
pub struct BenchArgs {
    #[command(subcommand)]
    pub suite: Suite,
}

#[derive(Debug, Subcommand)]
pub enum Suite {
    /// System-call and IPC latency (ipcbench as the root task).
    ///
    /// Under TCG with -icount shift=0,sleep=off unless --no-icount.
    Ipc(IpcBenchArgs),
    /// GET and SET over IPC from a client component, next to the same
    /// store in-process.
    ///
    /// Under TCG with -icount shift=0,sleep=off unless --no-icount.
    KvsIpc(IpcBenchArgs),
    /// redis-benchmark SET and GET against config/default and against
    /// Linux's redis-server in the same QEMU machine, and the ratio.
    ///
    /// redis-benchmark -t set,get -c 50 -P 1 and -P 16 against a release
    /// build of config/default and against Linux's redis-server, REPS
    /// boots of each. The Linux guest comes from bench/linux-guest/build.sh
    /// in the shared folder (docs/perf.md).
    Kvs(ServiceBenchArgs),
    /// memcaslap sets and gets against config/default's memcached front
    /// end and against Linux's memcached in the same QEMU machine, and the
    /// ratio.
    ///
    /// memcaslap (text protocol, 50 connections, 32-byte keys, 64-byte
    /// values): sets alone, then 9 gets in 10, against a release build of
    /// config/default and against Linux's memcached, REPS boots of each.
    /// The Linux guest comes from bench/linux-guest/build.sh in the shared
    /// folder (docs/perf.md).
    Memcached(ServiceBenchArgs),
}

impl Suite {
    /// The suite's name, as `bench` knows it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Ipc(_) => "ipc",
            Self::KvsIpc(_) => "kvs-ipc",
            Self::Kvs(_) => crate::bench_service::Service::Redis.suite(),
            Self::Memcached(_) => crate::bench_service::Service::Memcached.suite(),
        }
    }
}

#[derive(Debug, Args)]
pub struct IpcBenchArgs {
    #[command(flatten)]
    pub accel: AccelArg,
    /// Run under -icount (the default under TCG).
    #[arg(long, overrides_with = "no_icount")]
    pub icount: bool,
    /// Run under plain TCG, without -icount.
    #[arg(long, overrides_with = "icount")]
    pub no_icount: bool,
    /// How long the run may take [default: 600].
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<u64>,
}

impl IpcBenchArgs {
    /// `--icount` / `--no-icount`, the last one given; `None`: neither.
    pub fn icount(&self) -> Option<bool> {
        match (self.icount, self.no_icount) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct ServiceBenchArgs {
    /// Requests per row and run (redis-benchmark's -n, memcaslap's -x).
    #[arg(long, value_name = "N", value_parser = count::<u64>,
          default_value_t = crate::bench_service::DEFAULT_REQUESTS)]
    pub requests: u64,
    /// Boots of each system.
    #[arg(long, value_name = "N", value_parser = count::<u32>,
          default_value_t = crate::bench_service::DEFAULT_REPS)]
    pub reps: u32,
    /// Also one boot of each under -icount: guest time per request
    /// (instructions plus idle warps).
    #[arg(long)]
    pub icount: bool,
    #[command(flatten)]
    pub accel: AccelArg,
    /// How long each run of the load generator may take [default: 120 s
    /// plus 10 ms a request].
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<u64>,
    /// The Linux guest's kernel [default: $LG_KERNEL, else the one
    /// bench/linux-guest/build.sh wrote].
    #[arg(long, value_name = "FILE")]
    pub linux_kernel: Option<PathBuf>,
    /// The Linux guest's initramfs [default: $LG_INITRD, else the one
    /// bench/linux-guest/build.sh wrote].
    #[arg(long, value_name = "FILE")]
    pub linux_initrd: Option<PathBuf>,
    /// How the load generator reaches the guests.
    #[arg(long, value_enum, default_value_t = BenchNet::User)]
    pub net: BenchNet,
}

/// The network between the load generator and the guests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BenchNet {
    /// QEMU's user networking, the guest's ports forwarded from 127.0.0.1.
    #[default]
    User,
    /// A tap device in a network namespace the bench creates and removes
    /// (needs root): no user-mode network stack between them.
    Tap,
}

/// What `cargo xtask fuzz` fuzzes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum FuzzTarget {
    /// The kernel's system calls.
    #[default]
    Kernel,
    /// The store and the RESP front end, against redis-server.
    Redis,
}

#[derive(Debug, Args)]
pub struct FuzzArgs {
    /// What to fuzz.
    #[arg(value_enum, default_value_t = FuzzTarget::Kernel)]
    pub target: FuzzTarget,
    /// Commands (steps, streams) per differential test and seed (redis).
    #[arg(long, value_name = "N", value_parser = count::<u64>, default_value_t = 20_000)]
    pub sequences: u64,
    /// The first seed.
    #[arg(long, value_name = "N", value_parser = count::<u64>, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds, from --seed on.
    #[arg(long, value_name = "K", value_parser = count::<u64>, default_value_t = 1)]
    pub seeds: u64,
    /// System calls per seed.
    #[arg(long, value_name = "N", value_parser = count::<u64>, default_value_t = 10_000)]
    pub calls: u64,
    /// A release build of the kernel and the fuzzer.
    #[arg(long)]
    pub release: bool,
    #[command(flatten)]
    pub accel: AccelArg,
    /// How long each seed may take [default: a minute plus 10 ms a call].
    #[arg(long, value_name = "SECS", value_parser = seconds)]
    pub timeout: Option<u64>,
}

#[derive(Debug, Args)]
pub struct GdbArgs {
    /// A release build.
    #[arg(long)]
    pub release: bool,
    /// Boot under OVMF (UEFI) instead of SeaBIOS.
    #[arg(long)]
    pub uefi: bool,
    #[command(flatten)]
    pub accel: AccelArg,
}

/// A count from the command line.
fn count<T: std::str::FromStr>(v: &str) -> Result<T, String> {
    v.parse().map_err(|_| "wants a whole number".to_string())
}

/// `--timeout`: whole seconds.
fn seconds(v: &str) -> Result<u64, String> {
    v.parse().map_err(|_| "wants whole seconds".to_string())
}

/// A TCP port number from the command line.
fn port(v: &str) -> Result<u16, String> {
    v.parse()
        .ok()
        .filter(|&p| p != 0)
        .ok_or_else(|| "not a TCP port (1-65535)".to_string())
}

/// `--memory`: MiB as QEMU's `-m` takes them, or a size such as
/// `"2 GiB"` (a whole number of MiB).
pub fn memory_mib(v: &str) -> Result<u64, String> {
    let bytes = match v.trim().parse::<u64>() {
        Ok(mib) => mib.checked_mul(1 << 20),
        Err(_) => config::size::parse(v).ok(),
    };
    bytes
        .filter(|b| *b > 0 && b.is_multiple_of(1 << 20))
        .map(|b| b >> 20)
        .ok_or_else(|| format!("wants MiB or a size such as \"2 GiB\" (whole MiB), not `{v}`"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo-xtask").chain(args.iter().copied()))
    }

    fn command(args: &[&str]) -> Command {
        match parse(args) {
            Ok(cli) => cli.command.expect("a command"),
            Err(e) => panic!("{args:?}: {e}"),
        }
    }

    fn error(args: &[&str]) -> ErrorKind {
        match parse(args) {
            Ok(cli) => panic!("{args:?} parsed: {cli:?}"),
            Err(e) => e.kind(),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_is_no_error() {
        assert!(parse(&[]).unwrap().command.is_none());
    }

    #[test]
    fn an_option_takes_its_value_after_an_equals_sign_or_a_space() {
        for args in [
            &["check", "--config=config/hello"][..],
            &["check", "--config", "config/hello"],
        ] {
            let Command::Check(c) = command(args) else {
                panic!("{args:?}")
            };
            assert_eq!(c.config.config, Some(PathBuf::from("config/hello")));
        }
        let Command::Image(i) = command(&["image", "-o", "a.iso", "--release"]) else {
            panic!()
        };
        assert_eq!(i.output, Some(PathBuf::from("a.iso")));
        assert!(i.release);
        let Command::Image(i) = command(&["image", "--output=b.iso"]) else {
            panic!()
        };
        assert_eq!(i.output, Some(PathBuf::from("b.iso")));
    }

    #[test]
    fn run_takes_all_of_its_options() {
        let Command::Run(r) = command(&[
            "run",
            "--release",
            "--config=config/kvs-persist",
            "--uefi",
            "--accel=kvm",
            "--timeout",
            "30",
            "--disk",
            "d.img",
            "--redis-port",
            "16379",
            "--http-port=18080",
            "--memory",
            "2 GiB",
        ]) else {
            panic!()
        };
        assert!(r.release && r.uefi);
        assert_eq!(r.config.config, Some(PathBuf::from("config/kvs-persist")));
        assert_eq!(r.accel.accel, Accel::Kvm);
        assert_eq!(r.timeout, Some(30));
        assert_eq!(r.disk, Some(PathBuf::from("d.img")));
        assert_eq!((r.redis_port, r.http_port), (Some(16379), Some(18080)));
        assert_eq!(r.memory, Some(2048));
        let Command::Run(r) = command(&["run"]) else {
            panic!()
        };
        assert_eq!(r.accel.accel, Accel::Tcg);
        assert_eq!((r.timeout, r.memory, r.redis_port), (None, None, None));
    }

    #[test]
    fn an_option_that_does_not_apply_is_refused() {
        for args in [
            &["build", "--uefi"][..],
            &["check", "--release"],
            &["test", "--release"],
            &["test", "--memory", "512"],
            &["graph", "--accel", "kvm"],
            &["run", "--dot"],
            &["run", "--only", "boot"],
            &["compose", "--config", "c", "-o", "x.iso", "--release"],
            &["fuzz", "--uefi"],
            &["bench", "ipc", "--requests", "10"],
            &["bench", "kvs", "--no-icount"],
            &["image", "--timeout", "3"],
        ] {
            assert_eq!(error(args), ErrorKind::UnknownArgument, "{args:?}");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(error(&["run", "--accel", "hvf"]), ErrorKind::InvalidValue);
        for args in [
            &["run", "--timeout", "soon"][..],
            &["run", "--redis-port", "0"],
            &["run", "--http-port", "65536"],
            &["run", "--memory", "1536 KiB"],
            &["fuzz", "--seeds=-1"],
            &["bench", "kvs", "--reps", "many"],
        ] {
            assert_eq!(error(args), ErrorKind::ValueValidation, "{args:?}");
        }
        let e = parse(&["run", "--timeout=soon"]).unwrap_err().to_string();
        assert!(
            e.contains("--timeout") && e.contains("wants whole seconds"),
            "{e}"
        );
    }

    #[test]
    fn every_command_has_its_help() {
        for command in [
            "build", "image", "run", "test", "check", "compose", "graph", "bench", "fuzz", "gdb",
        ] {
            assert_eq!(error(&[command, "--help"]), ErrorKind::DisplayHelp);
        }
        for suite in ["ipc", "kvs-ipc", "kvs"] {
            assert_eq!(error(&["bench", suite, "--help"]), ErrorKind::DisplayHelp);
        }
        assert_eq!(error(&["--help"]), ErrorKind::DisplayHelp);
        assert_eq!(error(&["help", "run"]), ErrorKind::DisplayHelp);
    }

    #[test]
    fn run_and_test_help_list_their_own_options() {
        let help = |name: &str| {
            let mut cli = Cli::command();
            cli.build();
            cli.find_subcommand_mut(name)
                .expect("the command")
                .render_long_help()
                .to_string()
        };
        let run = help("run");
        for option in [
            "--memory",
            "--redis-port",
            "--http-port",
            "--disk",
            "--uefi",
        ] {
            assert!(run.contains(option), "run --help lacks {option}:\n{run}");
        }
        assert!(!run.contains("--only"), "{run}");
        let test = help("test");
        for option in ["[FILTER]", "--only", "--list", "--accel", "--config"] {
            assert!(test.contains(option), "test --help lacks {option}:\n{test}");
        }
        assert!(!test.contains("--memory"), "{test}");
    }

    #[test]
    fn test_takes_a_filter_or_only() {
        for args in [
            &["test", "kvs"][..],
            &["test", "--only", "kvs"],
            &["test", "--only=kvs"],
        ] {
            let Command::Test(t) = command(args) else {
                panic!("{args:?}")
            };
            assert_eq!(t.filter(), Some("kvs"), "{args:?}");
            assert!(!t.list);
        }
        let Command::Test(t) = command(&["test", "--accel", "kvm", "--config", "c"]) else {
            panic!()
        };
        assert_eq!(t.filter(), None);
        assert_eq!(t.accel.accel, Accel::Kvm);
        assert_eq!(t.config, Some(PathBuf::from("c")));
        assert_eq!(
            error(&["test", "kvs", "--only", "net"]),
            ErrorKind::ArgumentConflict
        );
        assert_eq!(error(&["test", "kvs", "net"]), ErrorKind::UnknownArgument);
    }

    #[test]
    fn compose_needs_its_config_and_output() {
        assert_eq!(
            error(&["compose", "-o", "x.iso"]),
            ErrorKind::MissingRequiredArgument
        );
        assert_eq!(
            error(&["compose", "--config", "c"]),
            ErrorKind::MissingRequiredArgument
        );
        let Command::Compose(c) = command(&["compose", "--config=c", "--bins=b", "-o", "x"]) else {
            panic!()
        };
        assert_eq!(c.bins, Some(PathBuf::from("b")));
    }

    #[test]
    fn bench_names_its_suite() {
        // The suites are listed, and the status is an error's.
        let e = parse(&["bench"]).unwrap_err();
        assert_eq!(
            e.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(e.exit_code(), 2);
        let suites = e.to_string();
        for suite in ["ipc", "kvs-ipc", "kvs"] {
            assert!(suites.contains(&format!("  {suite} ")), "{suites}");
        }
        assert_eq!(error(&["bench", "disk"]), ErrorKind::InvalidSubcommand);
        for (suite, icount) in [
            (&["bench", "ipc"][..], None),
            (&["bench", "kvs-ipc", "--icount"], Some(true)),
            (&["bench", "ipc", "--no-icount"], Some(false)),
            (&["bench", "ipc", "--no-icount", "--icount"], Some(true)),
            (&["bench", "ipc", "--icount", "--no-icount"], Some(false)),
        ] {
            let Command::Bench(b) = command(suite) else {
                panic!()
            };
            let (Suite::Ipc(a) | Suite::KvsIpc(a)) = &b.suite else {
                panic!()
            };
            assert_eq!(a.icount(), icount, "{suite:?}");
            assert!(crate::bench::is_suite(b.suite.name()), "{suite:?}");
        }
        let Command::Bench(b) = command(&[
            "bench",
            "kvs",
            "--requests=1000",
            "--reps",
            "2",
            "--icount",
            "--linux-kernel",
            "k",
            "--linux-initrd=i",
            "--timeout",
            "60",
        ]) else {
            panic!()
        };
        assert_eq!(b.suite.name(), "kvs");
        assert!(crate::bench::is_suite(b.suite.name()));
        let Suite::Kvs(k) = b.suite else { panic!() };
        assert_eq!((k.requests, k.reps, k.icount), (1000, 2, true));
        assert_eq!(k.linux_kernel, Some(PathBuf::from("k")));
        assert_eq!(k.linux_initrd, Some(PathBuf::from("i")));
        assert_eq!(k.timeout, Some(60));
    }

    #[test]
    fn fuzz_defaults_and_options() {
        let Command::Fuzz(f) = command(&["fuzz"]) else {
            panic!()
        };
        assert_eq!((f.seed, f.seeds, f.calls, f.release), (1, 1, 10_000, false));
        let Command::Fuzz(f) = command(&[
            "fuzz",
            "--seed=7",
            "--seeds",
            "3",
            "--calls",
            "500",
            "--release",
            "--timeout=90",
        ]) else {
            panic!()
        };
        assert_eq!((f.seed, f.seeds, f.calls, f.release), (7, 3, 500, true));
        assert_eq!(f.timeout, Some(90));
        assert_eq!(f.target, FuzzTarget::Kernel);
        let Command::Fuzz(f) = command(&["fuzz", "redis", "--sequences", "500", "--seeds=2"])
        else {
            panic!()
        };
        assert_eq!(
            (f.target, f.sequences, f.seeds),
            (FuzzTarget::Redis, 500, 2)
        );
    }

    #[test]
    fn memory_is_mib_or_a_size_in_whole_mib() {
        assert_eq!(memory_mib("2048").unwrap(), 2048);
        assert_eq!(memory_mib("2 GiB").unwrap(), 2048);
        assert_eq!(memory_mib("512MiB").unwrap(), 512);
        for bad in ["0", "1536 KiB", "lots", "2 GB", ""] {
            let e = memory_mib(bad).unwrap_err();
            assert!(e.contains(&format!("not `{bad}`")), "{e}");
        }
    }
}
