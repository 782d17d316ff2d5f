//! A network service of `config/default` (a release build) against the
//! same service on Linux, each in the same QEMU machine (q35, 512 MiB, one
//! vCPU, the same accelerator, a virtio-net NIC on QEMU's user networking)
//! and booted by this, in turns: per repetition Basalt, then Linux.
//!
//! - `cargo xtask bench kvs`: Debian's `redis-benchmark -t set,get -c 50`,
//!   with `-P 1` and `-P 16`, against Basalt's RESP server and Linux's
//!   `redis-server`;
//! - `cargo xtask bench memcached`: Debian's `memcaslap` with 50
//!   connections, sets alone and then 9 gets in 10, against Basalt's
//!   memcached front end and Linux's `memcached`.
//!
//! It prints the medians side by side with the ratio Basalt / Linux, and,
//! with `--icount`, guest time per request from a further boot of each
//! under `-icount` (read from the RESP server's `TIME`, which both systems
//! run). `docs/perf.md` explains the figures.
//!
//! The Linux guest is the shared baseline's (`bench/linux-guest/build.sh`
//! in the project's shared folder builds its kernel and initramfs); this
//! boots it with its own QEMU command line and the network contract of
//! that harness: the guest answers on 10.0.2.15, RESP on 6379 and
//! memcached on 11211.

use crate::bench::{ICOUNT, crashed, thousands};
use crate::bench_tap;
use crate::build::{self, Profile};
use crate::cli::BenchNet;
use crate::compose;
use crate::machine::{self, HostPorts, Machine, Probe, Prober};
use crate::memcaslap;
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::redisbench;
use crate::{Result, fail};
use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The connections of both load generators, and redis-benchmark's
/// pipeline depths.
const CLIENTS: u32 = 50;
const PIPELINES: [u32; 2] = [1, 16];
/// What redis-benchmark runs, and its name for each test.
const COMMANDS: [&str; 2] = ["SET", "GET"];
/// memcaslap's mixes: gets in ten requests (the rest sets).
const MIXES: [u8; 2] = [0, 9];
/// Requests per row and repetitions unless told otherwise.
pub const DEFAULT_REQUESTS: u64 = 100_000;
pub const DEFAULT_REPS: u32 = 3;
/// The guest's memory, as the Linux baseline's harness gives it.
const MEMORY_MIB: u64 = 512;
/// How long a guest may take until it answers PING.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
/// A load generator's run may take this long plus [`MIN_RATE`]'s time
/// for its requests, unless `--timeout` says otherwise.
const RUN_SLACK_SECS: u64 = 120;
const MIN_RATE: u64 = 200;
/// Where the shared harness's build.sh puts the Linux guest, and the
/// files this boots.
const LINUX_BUILD_DIR: &str = "/tmp/linux-guest-build";
const LINUX_KERNEL: &str = "vmlinuz";
const LINUX_INITRD: &str = "initramfs.cpio.gz";
/// The baseline's `/init` reads its address from the command line.
const LINUX_APPEND: &str = "console=ttyS0 quiet panic=-1";
/// The guest's address and gateway on QEMU's user networking (where
/// slirp puts its first DHCP client and itself).
const USER_NET: (Ipv4Addr, Ipv4Addr) = (Ipv4Addr::new(10, 0, 2, 15), Ipv4Addr::new(10, 0, 2, 2));

/// The guests' static address and gateway on `net`: both systems are
/// given them, Linux on its command line and Basalt in its net server's
/// config, so neither waits for DHCP.
fn addressing(net: BenchNet) -> (Ipv4Addr, Ipv4Addr) {
    match net {
        BenchNet::User => USER_NET,
        BenchNet::Tap => (bench_tap::GUEST, bench_tap::HOST),
    }
}

/// The service compared, and its suite's name on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// RESP: `cargo xtask bench kvs`.
    Redis,
    /// memcached's text protocol: `cargo xtask bench memcached`.
    Memcached,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::Redis, Service::Memcached];

    pub fn suite(self) -> &'static str {
        match self {
            Service::Redis => "kvs",
            Service::Memcached => "memcached",
        }
    }

    /// The rows of the table, in groups that one run of the load
    /// generator measures together: redis-benchmark runs SET and GET at
    /// one pipeline depth, memcaslap one mix.
    fn groups(self) -> Vec<Vec<Row>> {
        match self {
            Service::Redis => PIPELINES
                .iter()
                .map(|&pipeline| {
                    COMMANDS
                        .iter()
                        .map(|&command| Row::Redis { command, pipeline })
                        .collect()
                })
                .collect(),
            Service::Memcached => MIXES
                .iter()
                .map(|&gets_in_ten| vec![Row::Memcached { gets_in_ten }])
                .collect(),
        }
    }

    /// The rows, in the order they run.
    fn rows(self) -> Vec<Row> {
        self.groups().into_iter().flatten().collect()
    }

    /// The boot time's row: from QEMU's start to the probe's answer.
    fn boot_title(self) -> &'static str {
        match self {
            Service::Redis => "boot to first PONG (s)",
            Service::Memcached => "boot to first VERSION (s)",
        }
    }

    /// Starts probing the service on `ports`.
    fn prober(self, ports: Ports) -> Prober {
        match self {
            Service::Redis => Prober::start(ports.redis, Probe::Redis),
            Service::Memcached => Prober::start(ports.memcached, Probe::Memcached),
        }
    }

    /// What the load generator does, for the heading.
    fn workload(self) -> String {
        match self {
            Service::Redis => {
                format!("redis-benchmark -t set,get -c {CLIENTS} -P 1 and -P 16")
            }
            Service::Memcached => format!(
                "memcaslap (text protocol) with {CLIENTS} connections on one thread, \
                 {}-byte keys and {}-byte values: sets alone, then 9 gets in 10",
                memcaslap::KEY_BYTES,
                memcaslap::VALUE_BYTES
            ),
        }
    }
}

/// What `cargo xtask bench kvs|memcached` was asked for.
#[derive(Debug)]
pub struct Settings {
    pub service: Service,
    pub accel: Accel,
    /// Requests per row and run (`--requests`).
    pub requests: u64,
    /// Boots of each system (`--reps`).
    pub reps: u32,
    /// A further boot of each under `-icount` (`--icount`).
    pub icount: bool,
    /// The limit of one load generator's run (`--timeout`), else one
    /// from the requests.
    pub timeout_secs: Option<u64>,
    /// The Linux guest's kernel and initramfs (`--linux-kernel`,
    /// `--linux-initrd`), else `$LG_KERNEL` / `$LG_INITRD`, else
    /// build.sh's output in `$LG_OUT` or /tmp/linux-guest-build.
    pub linux_kernel: Option<PathBuf>,
    pub linux_initrd: Option<PathBuf>,
    /// User networking or a tap device (`--net`).
    pub net: BenchNet,
}

/// The systems compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum System {
    Basalt,
    Linux,
}

const SYSTEMS: [System; 2] = [System::Basalt, System::Linux];

impl System {
    fn name(self) -> &'static str {
        match self {
            System::Basalt => "Basalt",
            System::Linux => "Linux",
        }
    }
}

/// A row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Row {
    /// redis-benchmark's test `command` at a pipeline depth.
    Redis {
        command: &'static str,
        pipeline: u32,
    },
    /// memcaslap with this many gets in ten requests, the rest sets.
    Memcached { gets_in_ten: u8 },
}

impl Row {
    fn title(self) -> String {
        match self {
            Row::Redis { command, pipeline } => format!("{command} -P {pipeline}"),
            Row::Memcached { gets_in_ten: 0 } => "set".to_owned(),
            Row::Memcached { gets_in_ten } => format!("get ({gets_in_ten} in 10)"),
        }
    }

    /// A name for files.
    fn tag(self) -> String {
        match self {
            Row::Redis { command, pipeline } => format!("{}-P{pipeline}", command.to_lowercase()),
            Row::Memcached { gets_in_ten } => format!("gets{gets_in_ten}"),
        }
    }
}

/// Everything measured: per system, one value per row and boot.
#[derive(Debug, Default)]
struct Results {
    /// `(system, row, requests per second)` of every run that passed.
    rates: Vec<(System, Row, f64)>,
    /// `(system, seconds from QEMU's start to the first PONG)` per boot.
    boots: Vec<(System, f64)>,
    /// When each of [`BOOT_MARKS`] showed in Basalt's serial log, per boot.
    marks: Vec<Marks>,
    /// `(system, row, guest nanoseconds per request)` of the icount pass.
    per_request: Vec<(System, Row, f64)>,
    /// `(system, row, guest instructions per request)` of the icount
    /// pass, counted by the `insn-count` plugin (idle time excluded).
    instructions: Vec<(System, Row, f64)>,
    /// What failed, one line each.
    failures: Vec<String>,
}

impl Results {
    fn rates_of(&self, system: System, row: Row) -> Vec<f64> {
        self.rates
            .iter()
            .filter(|(s, r, _)| *s == system && *r == row)
            .map(|(_, _, v)| *v)
            .collect()
    }

    fn boots_of(&self, system: System) -> Vec<f64> {
        self.boots
            .iter()
            .filter(|(s, _)| *s == system)
            .map(|(_, v)| *v)
            .collect()
    }
}

/// `system`'s figure for `row` among `values`.
fn figure_of(values: &[(System, Row, f64)], system: System, row: Row) -> Option<f64> {
    values
        .iter()
        .find(|(s, r, _)| *s == system && *r == row)
        .map(|(_, _, v)| *v)
}

/// The median of `values` (the mean of the middle two of an even count).
fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

/// `value` rounded, with thousands separated; `-` for none.
fn whole(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| thousands(v.round() as u64))
}

/// `a / b` as `0.42x`; `-` unless both are there and `b` is not zero.
fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".to_owned(),
    }
}

/// The results as tables: medians of requests per second and the ratio
/// per row, every run's figure, boot times, and the icount pass's
/// instructions per request where there was one.
fn table(service: Service, r: &Results) -> String {
    let mut out = String::new();
    let header = |out: &mut String, first: &str| {
        let _ = writeln!(
            out,
            "{first:<26} {:>10} {:>10} {:>13}",
            "Basalt", "Linux", "Basalt/Linux"
        );
    };
    header(&mut out, "median requests/s");
    for row in service.rows() {
        let [b, l] = SYSTEMS.map(|s| median(&r.rates_of(s, row)));
        let _ = writeln!(
            out,
            "{:<26} {:>10} {:>10} {:>13}",
            row.title(),
            whole(b),
            whole(l),
            ratio(b, l)
        );
    }
    let [b, l] = SYSTEMS.map(|s| median(&r.boots_of(s)));
    let secs = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
    let _ = writeln!(
        out,
        "{:<26} {:>10} {:>10} {:>13}",
        service.boot_title(),
        secs(b),
        secs(l),
        ratio(b, l)
    );
    if !r.marks.is_empty() {
        let _ = writeln!(
            out,
            "\nwhere Basalt's boot goes (median s from QEMU's start, as its serial log shows):"
        );
        for (i, (_, what)) in BOOT_MARKS.iter().enumerate() {
            let at: Vec<f64> = r.marks.iter().filter_map(|m| m.at[i]).collect();
            let _ = writeln!(out, "  {what:<28} {}", secs(median(&at)));
        }
        let _ = writeln!(out, "  {:<28} {}", service.boot_title(), secs(b));
        let mut names: Vec<&str> = Vec::new();
        for (name, _) in r.marks.iter().flat_map(|m| &m.builds) {
            if !names.contains(&name.as_str()) {
                names.push(name);
            }
        }
        if !names.is_empty() {
            let _ = writeln!(
                out,
                "init's build of each component (median ms, as it logs it):"
            );
            for name in names {
                let ms: Vec<f64> = r
                    .marks
                    .iter()
                    .flat_map(|m| &m.builds)
                    .filter(|(n, _)| n == name)
                    .map(|&(_, ms)| ms as f64)
                    .collect();
                let _ = writeln!(out, "  {name:<28} {}", whole(median(&ms)));
            }
        }
    }
    let _ = writeln!(out, "\nevery run, requests/s:");
    let width = service
        .rows()
        .into_iter()
        .map(|row| row.title().len())
        .max()
        .unwrap_or(0)
        .max(10);
    for row in service.rows() {
        for s in SYSTEMS {
            let runs: Vec<String> = r.rates_of(s, row).iter().map(|v| whole(Some(*v))).collect();
            let _ = writeln!(
                out,
                "  {:<width$} {:<8} {}",
                row.title(),
                s.name(),
                if runs.is_empty() {
                    "-".to_owned()
                } else {
                    runs.join(" ")
                }
            );
        }
    }
    // The icount pass's tables: a figure per row and system.
    let icount_tables = [
        (
            &r.per_request,
            "guest ns/request, icount",
            "(1 ns = 1 guest instruction, plus the time QEMU skips while the guest idles: docs/perf.md)",
        ),
        (
            &r.instructions,
            "guest instructions/request",
            "(every instruction the guest executed during the row's run, kernel and all, idle excluded: \
             the insn-count plugin)",
        ),
    ];
    for (values, title, note) in icount_tables {
        if values.is_empty() {
            continue;
        }
        out.push('\n');
        header(&mut out, title);
        for row in service.rows() {
            let [b, l] = SYSTEMS.map(|s| figure_of(values, s, row));
            let _ = writeln!(
                out,
                "{:<26} {:>10} {:>10} {:>13}",
                row.title(),
                whole(b),
                whole(l),
                ratio(b, l)
            );
        }
        let _ = writeln!(out, "{note}");
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nfailed runs:\n  {}", r.failures.join("\n  "));
    }
    out
}

/// The Linux guest's kernel and initramfs, checked to exist.
fn linux_files(s: &Settings) -> Result<(PathBuf, PathBuf)> {
    let dir =
        std::env::var_os("LG_OUT").map_or_else(|| PathBuf::from(LINUX_BUILD_DIR), PathBuf::from);
    let pick = |given: &Option<PathBuf>, var: &str, file: &str| {
        given
            .clone()
            .or_else(|| std::env::var_os(var).map(PathBuf::from))
            .unwrap_or_else(|| dir.join(file))
    };
    let kernel = pick(&s.linux_kernel, "LG_KERNEL", LINUX_KERNEL);
    let initrd = pick(&s.linux_initrd, "LG_INITRD", LINUX_INITRD);
    for (what, path) in [("kernel", &kernel), ("initramfs", &initrd)] {
        if !path.is_file() {
            return Err(fail!(
                "the Linux guest's {what} {} is missing: build it once with \
                 bench/linux-guest/build.sh from the project's shared folder \
                 (it writes {LINUX_BUILD_DIR}), or name yours with \
                 --linux-kernel / --linux-initrd (or LG_KERNEL / LG_INITRD)",
                path.display()
            ));
        }
    }
    Ok((kernel, initrd))
}

/// Where the load generator reaches each system's RESP and memcached
/// servers: ports of 127.0.0.1 forwarded to the guest's, or the guest's
/// own address on the tap device.
#[derive(Clone, Copy, Debug)]
struct Ports {
    redis: SocketAddr,
    memcached: SocketAddr,
}

/// How long a guest may take, after its service answers, until the RESP
/// server answers too (for `TIME` in the icount pass).
const RESP_TIMEOUT: Duration = Duration::from_secs(60);

/// How to boot each system.
struct Setup {
    service: Service,
    accel: Accel,
    basalt_iso: PathBuf,
    basalt: manifest::Manifest,
    linux_kernel: PathBuf,
    linux_initrd: PathBuf,
    dir: PathBuf,
    requests: u64,
    run_timeout: Duration,
    net: BenchNet,
}

/// Lines of Basalt's serial log that mark where a boot's time goes, and
/// what each says happened by then.
const BOOT_MARKS: [(&str, &str); 5] = [
    ("starting (command line:", "firmware done, kernel runs"),
    ("Basalt: boot complete", "kernel done, init runs"),
    ("init: started memcached", "every component started"),
    ("resp: listening on port", "RESP front end listens"),
    ("net: address ", "net has its address"),
];

/// Seconds from QEMU's start to each of [`BOOT_MARKS`], as first seen in
/// the serial log (the log is looked at every 100 ms or so).
#[derive(Clone, Debug, Default, PartialEq)]
struct Marks {
    at: [Option<f64>; BOOT_MARKS.len()],
    /// How long init took to build each component, as it logs it (`init:
    /// started net (generation 1, priority 100) in 120 ms`): the first
    /// generation's, in start order.
    builds: Vec<(String, u64)>,
}

impl Marks {
    /// Notes the marks in `serial` not seen before, at `secs`.
    fn see(&mut self, serial: &str, secs: f64) {
        for (seen, (line, _)) in self.at.iter_mut().zip(BOOT_MARKS) {
            if seen.is_none() && serial.contains(line) {
                *seen = Some(secs);
            }
        }
    }
}

/// Each component's first build time as init logs it in `serial`, in
/// start order.
fn component_builds(serial: &str) -> Vec<(String, u64)> {
    serial
        .lines()
        .filter_map(|l| {
            let rest = l.trim_end().strip_prefix("init: started ")?;
            let (name, rest) = rest.split_once(" (generation 1, ")?;
            let ms = rest.rsplit_once(") in ")?.1.strip_suffix(" ms")?;
            Some((name.to_owned(), ms.parse().ok()?))
        })
        .collect()
}

/// One boot of `vm`, its NIC forwarding `ports`, ready once `service`/// One boot of `vm`, its NIC forwarding `ports`, ready once `service`
/// answers; `work` runs then. Returns the seconds from QEMU's start to
/// the first answer and what `work` gave, or why the boot failed.
fn boot<T>(
    vm: Vm,
    service: Service,
    ports: Ports,
    log: &Path,
    work: impl FnOnce() -> T,
) -> Result<(f64, T, Marks)> {
    let started = Instant::now();
    let prober = service.prober(ports);
    let mut marks = Marks::default();
    let served = vm.serve(
        log,
        BOOT_TIMEOUT,
        |serial| {
            marks.see(serial, started.elapsed().as_secs_f64());
            prober.answered().is_some()
        },
        || {
            let answered = prober.answered().expect("ready once answered");
            ((answered - started).as_secs_f64(), work())
        },
    )?;
    let crash = served
        .serial
        .lines()
        .map(str::trim_end)
        .find(|l| crashed(l) || l.contains("Kernel panic"));
    if let Some(line) = crash {
        return Err(fail!("the serial log ({}) has `{line}`", log.display()));
    }
    marks.builds = component_builds(&served.serial);
    served
        .result
        .map(|(secs, t)| (secs, t, marks))
        .ok_or_else(|| match served.status {
            Some(s) => fail!(
                "QEMU exited (status {s}) before the guest answered; see {}",
                log.display()
            ),
            None => fail!(
                "the guest did not answer within {} s; see {}",
                BOOT_TIMEOUT.as_secs(),
                log.display()
            ),
        })
}

impl Setup {
    /// `system`'s machine, its RESP and memcached ports forwarded from
    /// free ports of 127.0.0.1 (or reached on the tap device); with
    /// `counted`, under `-icount` with the `insn-count` plugin writing its
    /// count there.
    fn vm(&self, system: System, counted: Option<&Path>) -> Result<(Vm, Ports)> {
        let (redis, memcached) = (machine::free_port()?, machine::free_port()?);
        let ports = match self.net {
            BenchNet::User => Ports {
                redis: machine::local(redis),
                memcached: machine::local(memcached),
            },
            BenchNet::Tap => Ports {
                redis: bench_tap::guest(6379),
                memcached: bench_tap::guest(11211),
            },
        };
        let (mut vm, mut machine) = match system {
            System::Basalt => {
                let machine = Machine::for_system(
                    &self.basalt,
                    HostPorts {
                        redis: Some(redis),
                        http: Some(machine::free_port()?),
                        memcached: Some(memcached),
                    },
                )?;
                let least = machine::least_memory_mib(&self.basalt);
                if least > MEMORY_MIB {
                    return Err(fail!(
                        "config/default needs {least} MiB, more than the {MEMORY_MIB} MiB the comparison gives both systems"
                    ));
                }
                // Loaded by QEMU, as the Linux guest is: no GRUB.
                let vm = Vm::new(&self.basalt_iso, Media::Direct, Firmware::Bios, self.accel)?;
                (vm, machine)
            }
            System::Linux => {
                let (address, gateway) = addressing(self.net);
                let net = format!("lg.ip={address}/24 lg.gw={gateway}");
                let vm = Vm::linux(
                    &self.linux_kernel,
                    &self.linux_initrd,
                    &format!("{LINUX_APPEND} {net}"),
                    self.accel,
                )?;
                let machine = Machine::linux_baseline(redis, memcached, MEMORY_MIB);
                (vm, machine)
            }
        };
        if self.net == BenchNet::Tap {
            machine.tap = Some((bench_tap::TAP.to_owned(), bench_tap::MAC.to_owned()));
        }
        vm.memory_mib(MEMORY_MIB);
        // A fresh disk for every boot: each run starts from an empty store.
        let disk = self.dir.join("kvs-basalt-disk.img");
        if machine.disk.is_some() {
            let file = fs::File::create(&disk)?;
            file.set_len(machine::DISK_BYTES)?;
        }
        let args = machine.qemu_args(&disk);
        vm.args(&args.iter().map(String::as_str).collect::<Vec<_>>());
        if let Some(counts) = counted {
            vm.args(&ICOUNT);
            let plugin = format!(
                "{},out={}",
                build::insn_count()?.display(),
                counts.display()
            );
            vm.args(&["-plugin", &plugin]);
        }
        Ok((vm, ports))
    }

    /// One run of the load generator for `group` (rows of one
    /// [`Service::groups`] entry, or one row of it); the rates in the
    /// group's order.
    fn load(&self, ports: Ports, group: &[Row], log: &Path) -> Result<Vec<f64>> {
        match group {
            [Row::Memcached { gets_in_ten }] => {
                let load = memcaslap::Load {
                    gets_in_ten: *gets_in_ten,
                    requests: self.requests,
                    concurrency: CLIENTS,
                };
                Ok(vec![memcaslap::run(
                    ports.memcached,
                    load,
                    self.run_timeout,
                    log,
                )?])
            }
            _ => {
                let mut tests = Vec::new();
                let mut depth = None;
                for row in group {
                    let Row::Redis { command, pipeline } = *row else {
                        return Err(fail!("one run cannot measure {group:?}"));
                    };
                    tests.push(command);
                    depth = Some(pipeline);
                }
                let Some(pipeline) = depth else {
                    return Err(fail!("a run of no rows"));
                };
                let (requests, pipeline) = (self.requests.to_string(), pipeline.to_string());
                let clients = CLIENTS.to_string();
                let list = tests.join(",").to_lowercase();
                let args = [
                    "-q", "-t", &list, "-n", &requests, "-c", &clients, "-P", &pipeline,
                ];
                let output = redisbench::run(ports.redis, &args, self.run_timeout, log)?;
                Ok(redisbench::check(&output, &tests)?
                    .into_iter()
                    .map(|r| r.per_second)
                    .collect())
            }
        }
    }

    /// A boot of `system` for the throughput table: every group of rows.
    fn throughput(&self, system: System, rep: u32, r: &mut Results) {
        let suite = self.service.suite();
        let tag = format!("{suite}-{}-r{rep}", system.name().to_lowercase());
        let what = format!("{} run {rep}", system.name());
        let booted = self.vm(system, None).and_then(|(vm, ports)| {
            boot(
                vm,
                self.service,
                ports,
                &self.dir.join(format!("{tag}-serial.log")),
                || {
                    self.service
                        .groups()
                        .into_iter()
                        .map(|group| {
                            let log = self.dir.join(format!("{tag}-{}.txt", group[0].tag()));
                            let run = self.load(ports, &group, &log);
                            (group, run)
                        })
                        .collect::<Vec<_>>()
                },
            )
        });
        match booted {
            Err(e) => r.failures.push(format!("{what}: {}", e.0)),
            Ok((secs, runs, marks)) => {
                r.boots.push((system, secs));
                if system == System::Basalt {
                    r.marks.push(marks);
                }
                let mut line = format!("{what}: boot {secs:.1} s");
                for (group, run) in runs {
                    match run {
                        Ok(rates) => {
                            for (row, rate) in group.into_iter().zip(rates) {
                                let _ = write!(line, ", {} {}", row.title(), whole(Some(rate)));
                                r.rates.push((system, row, rate));
                            }
                        }
                        Err(e) => r
                            .failures
                            .push(format!("{what}, {}: {}", group[0].title(), e.0)),
                    }
                }
                println!("{line}");
            }
        }
    }

    /// A boot of `system` under `-icount`: per row, the guest's clock
    /// (`TIME` of its RESP server) and the instructions it executed (the
    /// `insn-count` plugin) before and after a run of that row alone, in
    /// guest nanoseconds and instructions per request.
    fn per_request(&self, system: System, r: &mut Results) {
        let suite = self.service.suite();
        let tag = format!("{suite}-{}-icount", system.name().to_lowercase());
        let what = format!("{} under -icount", system.name());
        let counts = self.dir.join(format!("{tag}-instructions"));
        let _ = fs::remove_file(&counts);
        let booted = self.vm(system, Some(&counts)).and_then(|(vm, ports)| {
            boot(
                vm,
                self.service,
                ports,
                &self.dir.join(format!("{tag}-serial.log")),
                || {
                    let resp = Instant::now() + RESP_TIMEOUT;
                    while !machine::answers_redis(ports.redis) && Instant::now() < resp {
                        std::thread::sleep(Duration::from_millis(200));
                    }
                    self.service
                        .rows()
                        .into_iter()
                        .map(|row| {
                            let log = self.dir.join(format!("{tag}-{}.txt", row.tag()));
                            let before = machine::redis_time(ports.redis)?;
                            let executed = settled_count(&counts)?;
                            self.load(ports, &[row], &log)?;
                            let after = machine::redis_time(ports.redis)?;
                            let executed = settled_count(&counts)?.saturating_sub(executed);
                            let ns = after.saturating_sub(before).as_nanos() as f64;
                            let n = self.requests as f64;
                            Ok((row, ns / n, executed as f64 / n))
                        })
                        .collect::<Vec<Result<(Row, f64, f64)>>>()
                },
            )
        });
        match booted {
            Err(e) => r.failures.push(format!("{what}: {}", e.0)),
            Ok((_, rows, _)) => {
                let mut line = what.clone();
                for row in rows {
                    match row {
                        Ok((row, per, instructions)) => {
                            let _ = write!(
                                line,
                                ", {} {} ns, {} instructions",
                                row.title(),
                                whole(Some(per)),
                                whole(Some(instructions))
                            );
                            r.per_request.push((system, row, per));
                            r.instructions.push((system, row, instructions));
                        }
                        Err(e) => r.failures.push(format!("{what}: {}", e.0)),
                    }
                }
                println!("{line}");
            }
        }
    }
}

/// The guest's instruction count as the plugin last wrote it to `path`,
/// once it has had time to write the count as it is now (the guest is
/// between runs: nearly idle).
fn settled_count(path: &Path) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(4 * insn_count::PERIOD);
        if let Some(n) = insn_count::read(path) {
            return Ok(n);
        }
        if Instant::now() > deadline {
            return Err(fail!(
                "the insn-count plugin wrote no count to {}",
                path.display()
            ));
        }
    }
}

/// A copy of config/default whose net server takes the static
/// `(address, gateway)` instead of asking DHCP (on the tap there is no
/// DHCP server; on user networking slirp's lease is known beforehand).
fn static_config(dir: &Path, (address, gateway): (Ipv4Addr, Ipv4Addr)) -> Result<PathBuf> {
    let config = crate::selftest::test_config(dir, "default", &[], "")?;
    let net = config.join("net.toml");
    let text = fs::read_to_string(&net)?;
    let dhcp = "address = \"dhcp\"";
    if !text.contains(dhcp) {
        return Err(fail!("{} sets no `{dhcp}` to replace", net.display()));
    }
    let fixed = format!("address = \"{address}/24\"\ngateway = \"{gateway}\"");
    fs::write(&net, text.replacen(dhcp, &fixed, 1))?;
    Ok(config)
}

/// `cargo xtask bench kvs|memcached`.
pub fn run(s: &Settings) -> Result<()> {
    if s.icount && s.accel == Accel::Kvm {
        return Err(fail!("--icount needs TCG; drop it or use --accel tcg"));
    }
    if s.requests == 0 || s.reps == 0 {
        return Err(fail!("--requests and --reps must be at least 1"));
    }
    if s.net == BenchNet::Tap && !bench_tap::inside() {
        return bench_tap::run_inside();
    }
    let suite = s.service.suite();
    let (linux_kernel, linux_initrd) = linux_files(s)?;
    let dir = build::target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    let basalt_iso = dir.join(format!("{suite}.iso"));
    let basalt = compose::compose(
        &static_config(&dir, addressing(s.net))?,
        compose::Binaries::Build(Profile::Release),
        &basalt_iso,
    )?;
    let run_timeout = Duration::from_secs(
        s.timeout_secs
            .unwrap_or(RUN_SLACK_SECS + 2 * s.requests / MIN_RATE),
    );
    let setup = Setup {
        service: s.service,
        accel: s.accel,
        basalt_iso,
        basalt,
        linux_kernel,
        linux_initrd,
        dir,
        requests: s.requests,
        run_timeout,
        net: s.net,
    };
    let accel = match s.accel {
        Accel::Tcg => "TCG",
        Accel::Kvm => "KVM",
    };
    let net = match s.net {
        BenchNet::User => "user networking".to_owned(),
        BenchNet::Tap => format!("tap device {} (no vhost)", bench_tap::TAP),
    };
    println!(
        "== {}, {} requests a row; {} boots of each system, {accel}, q35, {MEMORY_MIB} MiB, \
         1 vCPU, virtio-net on {net}; each run limited to {} s",
        s.service.workload(),
        s.requests,
        s.reps,
        run_timeout.as_secs()
    );
    let started = Instant::now();
    let mut results = Results::default();
    for rep in 1..=s.reps {
        for system in SYSTEMS {
            setup.throughput(system, rep, &mut results);
        }
    }
    if s.icount {
        println!("== one boot of each under -icount shift=0,sleep=off: guest time per request");
        for system in SYSTEMS {
            setup.per_request(system, &mut results);
        }
    }
    println!(
        "== {:.0} s; logs and the load generator's output in {}\n",
        started.elapsed().as_secs_f64(),
        setup.dir.display()
    );
    print!("{}", table(s.service, &results));
    if results.failures.is_empty() {
        Ok(())
    } else {
        Err(fail!(
            "{} run(s) failed (listed above)",
            results.failures.len()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(command: &'static str, pipeline: u32) -> Row {
        Row::Redis { command, pipeline }
    }

    #[test]
    fn rows_go_pipeline_by_pipeline() {
        let titles: Vec<String> = Service::Redis.rows().into_iter().map(Row::title).collect();
        assert_eq!(titles, ["SET -P 1", "GET -P 1", "SET -P 16", "GET -P 16"]);
        let groups = Service::Redis.groups();
        assert_eq!(
            groups,
            [
                [row("SET", 1), row("GET", 1)],
                [row("SET", 16), row("GET", 16)]
            ]
        );
    }

    #[test]
    fn memcached_rows_are_one_mix_a_run() {
        let titles: Vec<String> = Service::Memcached
            .rows()
            .into_iter()
            .map(Row::title)
            .collect();
        assert_eq!(titles, ["set", "get (9 in 10)"]);
        assert!(Service::Memcached.groups().iter().all(|g| g.len() == 1));
        let tags: Vec<String> = Service::Memcached
            .rows()
            .into_iter()
            .map(Row::tag)
            .collect();
        assert_eq!(tags, ["gets0", "gets9"]);
    }

    #[test]
    fn medians_of_odd_even_and_no_runs() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn ratios_and_figures() {
        assert_eq!(ratio(Some(1.0), Some(4.0)), "0.25x");
        assert_eq!(ratio(Some(1.0), None), "-");
        assert_eq!(ratio(Some(1.0), Some(0.0)), "-");
        assert_eq!(whole(Some(12_345.6)), "12,346");
        assert_eq!(whole(None), "-");
    }

    /// Three runs of each system, Basalt's at half Linux's rate.
    fn three_runs() -> Results {
        let mut r = Results::default();
        for (i, base) in [2000.0, 2100.0, 1900.0].into_iter().enumerate() {
            for (n, row) in Service::Redis.rows().into_iter().enumerate() {
                let rate = base * (n + 1) as f64;
                r.rates.push((System::Basalt, row, rate));
                r.rates.push((System::Linux, row, rate * 2.0));
            }
            r.boots.push((System::Basalt, 2.0 + i as f64));
            r.boots.push((System::Linux, 5.0));
        }
        r
    }

    #[test]
    fn the_boot_breakdown_takes_each_mark_as_first_seen() {
        let mut m = Marks::default();
        m.see("[INFO ] Basalt 0.1.0 starting (command line: ``)\n", 0.2);
        m.see(
            "[INFO ] Basalt 0.1.0 starting (command line: ``)\n\
             ... Basalt: boot complete\n... net: address 10.0.2.15/24",
            0.5,
        );
        assert_eq!(m.at, [Some(0.2), Some(0.5), None, None, Some(0.5)]);
        let mut r = three_runs();
        let builds = |net, kvs| vec![("net".to_owned(), net), ("kvs".to_owned(), kvs)];
        let at = |s| Marks {
            at: [Some(s); BOOT_MARKS.len()],
            builds: builds(10, 300),
        };
        m.builds = builds(20, 500);
        r.marks = vec![m, at(0.6), at(1.0)];
        let t = table(Service::Redis, &r);
        assert!(t.contains("  firmware done, kernel runs   0.6"), "{t}");
        assert!(t.contains("  every component started      0.8"), "{t}");
        assert!(t.contains("  net has its address          0.6"), "{t}");
        assert!(
            t.contains("  net                          10\n  kvs                          300\n"),
            "{t}"
        );
    }

    #[test]
    fn init_s_build_times_are_read_from_the_first_generation() {
        let serial = "init: started net (generation 1, priority 100) in 12 ms\n\
                      init: started kvs (generation 1, priority 100) in 840 ms\r\n\
                      init: started kvs (generation 2, priority 100) in 700 ms\n\
                      init: started resp (generation 1, priority 100)\n";
        assert_eq!(
            component_builds(serial),
            [("net".to_owned(), 12), ("kvs".to_owned(), 840)]
        );
    }

    #[test]
    fn the_table_has_medians_and_ratios() {
        let t = table(Service::Redis, &three_runs());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("median requests/s") && lines[0].contains("Basalt/Linux"));
        let set16: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(set16, ["SET", "-P", "16", "6,000", "12,000", "0.50x"]);
        let boot: Vec<&str> = lines[5].split_whitespace().collect();
        assert_eq!(boot[5..], ["3.0", "5.0", "0.60x"]);
        assert!(t.contains("  GET -P 1   Basalt   4,000 4,200 3,800"), "{t}");
        assert!(!t.contains("icount") && !t.contains("failed"), "{t}");
    }

    #[test]
    fn the_memcached_table_has_its_rows_and_boot_probe() {
        let mut r = Results::default();
        for (system, rate) in [(System::Basalt, 3000.0), (System::Linux, 2000.0)] {
            for row in Service::Memcached.rows() {
                r.rates.push((system, row, rate));
            }
            r.boots.push((system, 4.0));
        }
        let t = table(Service::Memcached, &r);
        let lines: Vec<&str> = t.lines().collect();
        let set: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(set, ["set", "3,000", "2,000", "1.50x"]);
        assert!(lines[2].starts_with("get (9 in 10) ") && lines[2].ends_with("1.50x"));
        assert!(lines[3].starts_with("boot to first VERSION (s)"), "{t}");
        assert!(!t.contains("-P"), "{t}");
        assert!(t.contains("\n  set           Basalt   3,000\n"), "{t}");
        assert!(t.contains("\n  get (9 in 10) Linux    2,000\n"), "{t}");
    }

    #[test]
    fn missing_runs_show_as_dashes_and_failures_are_listed() {
        let mut r = three_runs();
        let get1 = row("GET", 1);
        r.rates
            .retain(|(s, rw, _)| !(*s == System::Linux && *rw == get1));
        r.failures
            .push("Linux run 2, -P 1: redis-benchmark did not finish".into());
        let t = table(Service::Redis, &r);
        let get1 = t.lines().find(|l| l.starts_with("GET -P 1 ")).unwrap();
        assert_eq!(
            get1.split_whitespace().collect::<Vec<_>>()[3..],
            ["4,000", "-", "-"]
        );
        assert!(t.contains("  GET -P 1   Linux    -"), "{t}");
        assert!(t.ends_with("failed runs:\n  Linux run 2, -P 1: redis-benchmark did not finish\n"));
    }

    #[test]
    fn the_icount_pass_gets_a_table_of_its_own() {
        let mut r = three_runs();
        r.per_request
            .push((System::Basalt, row("SET", 1), 150_000.4));
        r.per_request
            .push((System::Linux, row("SET", 1), 100_000.0));
        let t = table(Service::Redis, &r);
        let at = t.find("guest ns/request, icount").unwrap();
        let set1 = t[at..].lines().nth(1).unwrap();
        assert_eq!(
            set1.split_whitespace().collect::<Vec<_>>(),
            ["SET", "-P", "1", "150,000", "100,000", "1.50x"]
        );
        let get16 = t[at..].lines().nth(4).unwrap();
        assert!(
            get16.starts_with("GET -P 16") && get16.ends_with(" -"),
            "{get16}"
        );
        assert!(!t.contains("guest instructions/request"), "{t}");
        r.instructions
            .push((System::Basalt, row("GET", 16), 21_000.0));
        r.instructions
            .push((System::Linux, row("GET", 16), 30_000.0));
        let t = table(Service::Redis, &r);
        let at = t.find("guest instructions/request").unwrap();
        let get16 = t[at..].lines().nth(4).unwrap();
        assert_eq!(
            get16.split_whitespace().collect::<Vec<_>>(),
            ["GET", "-P", "16", "21,000", "30,000", "0.70x"]
        );
    }

    #[test]
    fn a_missing_linux_guest_names_build_sh() {
        let s = Settings {
            service: Service::Memcached,
            accel: Accel::Tcg,
            requests: 1,
            reps: 1,
            icount: false,
            timeout_secs: None,
            linux_kernel: Some(PathBuf::from("/nonexistent/vmlinuz")),
            linux_initrd: Some(PathBuf::from("/nonexistent/initramfs.cpio.gz")),
            net: BenchNet::User,
        };
        let e = linux_files(&s).unwrap_err().0;
        assert!(
            e.contains("kernel /nonexistent/vmlinuz is missing") && e.contains("build.sh"),
            "{e}"
        );
    }
}
