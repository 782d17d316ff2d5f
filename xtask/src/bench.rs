//! `cargo xtask bench <suite>`: boots a benchmark in release builds of the
//! kernel and the programs, reads its `bench:` lines from the serial log
//! and prints them as a table. `docs/perf.md` explains the figures.
//!
//! | suite | what boots |
//! | --- | --- |
//! | `ipc` | `tests/ipcbench` as the root task: system-call and IPC latency |
//! | `kvs-ipc` | `config/kvs-bench`: `init`, the kvs server and `tests/kvs-bench`, which times GET and SET over IPC and in-process |
//!
//! `cargo xtask bench kvs` and `bench memcached` (redis-benchmark and
//! memcaslap against Basalt and Linux) read no serial log;
//! [`crate::bench_service`] runs them.
//!
//! Under TCG a run uses `-icount shift=0,sleep=off` unless told otherwise:
//! the guest's time-stamp counter then advances by one per guest
//! instruction, so a "cycle" is an instruction and the figures are the same
//! on every host and every run.

use crate::bench_service::Service;
use crate::build::{self, Profile};
use crate::compose;
use crate::image::{self, Contents, Module};
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::selftest;
use crate::{Result, fail};
use std::fmt::Write as _;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

/// The kernel argument that lets a program end the run through DebugExit
/// (as `cargo xtask test` boots its systems).
const KERNEL_ARGS: &str = "test=roottask";
/// QEMU's exit status for DebugExit(success).
const EXIT_SUCCESS: i32 = 33;
/// How long a run may take unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Guest rdtsc counts guest instructions; the guest never waits for the
/// host clock.
pub const ICOUNT: [&str; 2] = ["-icount", "shift=0,sleep=off"];

/// A benchmark suite: what `cargo xtask bench <name>` boots and what it
/// reports.
struct Suite {
    name: &'static str,
    /// What boots, for the banner.
    what: &'static str,
    /// The benchmarks it reports, in order: the name on the `bench:` line
    /// and the title in the table.
    benchmarks: fn() -> Vec<(String, String)>,
    /// Builds (in release) the boot image `iso`, with scratch files in `dir`.
    image: fn(dir: &Path, iso: &Path) -> Result<()>,
    /// A table of its own in front of the one with every benchmark.
    summary: Option<fn(&Report, &Timing) -> String>,
}

const SUITES: [Suite; 2] = [
    Suite {
        name: "ipc",
        what: "ipcbench as the root task",
        benchmarks: ipc_benchmarks,
        image: ipc_image,
        summary: None,
    },
    Suite {
        name: "kvs-ipc",
        what: "config/kvs-bench (init, kvs, kvs-bench)",
        benchmarks: kvs_benchmarks,
        image: kvs_image,
        summary: Some(kvs_summary),
    },
];

/// What ipcbench reports, in order.
const IPC_BENCHMARKS: [(&str, &str); 5] = [
    ("rdtsc_overhead", "rdtsc overhead (floor of the rest)"),
    ("null_syscall", "null syscall"),
    (
        "call_replyrecv_registers",
        "call+replyrecv, registers (round trip)",
    ),
    (
        "call_replyrecv_64_words",
        "call+replyrecv, 64 words (round trip)",
    ),
    (
        "notification_signal_wake",
        "notification signal -> wake (one way)",
    ),
];

fn ipc_benchmarks() -> Vec<(String, String)> {
    IPC_BENCHMARKS
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect()
}

/// The kernel, and ipcbench as module `roottask`: the kernel starts it as
/// the root task.
fn ipc_image(_dir: &Path, iso: &Path) -> Result<()> {
    let kernel = build::kernel(Profile::Release)?;
    let program = build::user_program("ipcbench", Profile::Release)?;
    image::build(
        &Contents {
            kernel: &kernel,
            kernel_args: KERNEL_ARGS,
            modules: &[Module {
                path: program,
                name: manifest::ROOT_TASK_MODULE.into(),
            }],
        },
        iso,
    )
}

/// kvs-bench's commands (`bench:` name part and title), value lengths and
/// paths, in the order it reports them: path by path, each running every
/// command.
const KVS_COMMANDS: [(&str, &str, usize); 4] = [
    ("set", "SET", 3),
    ("get", "GET", 3),
    ("set", "SET", 100),
    ("get", "GET", 100),
];
const KVS_PATHS: [(&str, &str); 3] = [
    ("store", "store alone"),
    ("local", "in-process"),
    ("ipc", "via IPC"),
];

/// `kvs_<op>_<len>b_<path>`, as kvs-bench names its lines.
fn kvs_name(op: &str, len: usize, path: &str) -> String {
    format!("kvs_{op}_{len}b_{path}")
}

fn kvs_benchmarks() -> Vec<(String, String)> {
    KVS_PATHS
        .iter()
        .flat_map(|(path, how)| {
            KVS_COMMANDS.iter().map(move |(op, cmd, len)| {
                (
                    kvs_name(op, *len, path),
                    format!("{cmd} {len} B value, {how}"),
                )
            })
        })
        .collect()
}

/// config/kvs-bench composed in release, with kvs-bench told to end the
/// run when it is done.
fn kvs_image(dir: &Path, iso: &Path) -> Result<()> {
    let config =
        selftest::test_config(dir, "kvs-bench", &["kvs-bench"], selftest::EXIT_ON_SUCCESS)?;
    compose::compose_with_args(
        &config,
        compose::Binaries::Build(Profile::Release),
        iso,
        KERNEL_ARGS,
    )?;
    Ok(())
}

/// One benchmark's figures from its `bench:` line.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    median: u64,
    p99: u64,
    min: u64,
    max: u64,
    n: u64,
    /// The mean, where the line has one.
    mean: Option<u64>,
    /// Every other `key=value` on the line (`unit`, `words`, `deferred`, …).
    extra: Vec<(String, String)>,
}

/// What the serial log says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Report {
    /// Benchmarks with figures, in the order they came.
    results: Vec<(String, Figures)>,
    /// `name: rest` of every `bench: <name> error=…` line.
    errors: Vec<String>,
    /// Whether `bench: done` came.
    done: bool,
    /// The first sign of a crash: a kernel fault or panic, a program's
    /// panic.
    crash: Option<String>,
    /// The TSC frequency the kernel's boot summary reports, in MHz.
    tsc_mhz: Option<u64>,
}

impl Report {
    fn figures(&self, name: &str) -> Option<&Figures> {
        self.results.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }
}

/// Reads `key=value` words after the name.
fn figures(rest: &str) -> Option<Figures> {
    let mut f = Figures {
        median: 0,
        p99: 0,
        min: 0,
        max: 0,
        n: 0,
        mean: None,
        extra: Vec::new(),
    };
    let mut seen = 0;
    for word in rest.split_whitespace() {
        let (key, value) = word.split_once('=')?;
        let slot = match key {
            "median" => &mut f.median,
            "p99" => &mut f.p99,
            "min" => &mut f.min,
            "max" => &mut f.max,
            "n" => &mut f.n,
            "mean" => {
                f.mean = Some(value.parse().ok()?);
                continue;
            }
            _ => {
                f.extra.push((key.to_owned(), value.to_owned()));
                continue;
            }
        };
        *slot = value.parse().ok()?;
        seen += 1;
    }
    (seen == 5).then_some(f)
}

/// The MHz of the kernel's `... TSC <n> MHz ...` boot-summary line.
fn tsc_mhz(line: &str) -> Option<u64> {
    let (_, rest) = line.split_once("; TSC ")?;
    rest.split_once(" MHz")?.0.parse().ok()
}

/// Whether `line` says that the kernel or a program failed: a kernel
/// fault or panic, a program's panic (`PANIC: …` from a root task,
/// `PANIC in <component>: …`), or `init` reporting a component that faulted
/// or could not start.
pub fn crashed(line: &str) -> bool {
    ["KERNEL FAULT", "KERNEL PANIC", "BOOT FAILED"]
        .iter()
        .any(|bad| line.contains(bad))
        || line.starts_with("PANIC: ")
        || line.starts_with("PANIC in ")
        || line.starts_with("init: cannot start ")
        || (line.starts_with("init: ") && line.contains(") faulted: "))
}

fn parse(serial: &str) -> Report {
    let mut r = Report::default();
    for line in serial.lines().map(str::trim_end) {
        if r.crash.is_none() && crashed(line) {
            r.crash = Some(line.to_owned());
        }
        if r.tsc_mhz.is_none() && line.starts_with("  timer ") {
            r.tsc_mhz = tsc_mhz(line);
        }
        let Some(rest) = line.strip_prefix("bench: ") else {
            continue;
        };
        if rest == "done" {
            r.done = true;
            continue;
        }
        let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if rest.starts_with("error=") {
            r.errors.push(format!("{name}: {rest}"));
        } else if let Some(f) = figures(rest) {
            r.results.push((name.to_owned(), f));
        } else {
            r.errors.push(format!("{name}: unreadable line `{line}`"));
        }
    }
    r
}

/// The verdict on a run: `Ok` when every one of `expected` has figures and
/// the run ended cleanly.
fn check(status: Option<i32>, r: &Report, expected: &[(String, String)]) -> Result<()> {
    if let Some(crash) = &r.crash {
        return Err(fail!("the run crashed: `{crash}`"));
    }
    if !r.errors.is_empty() {
        return Err(fail!(
            "{} benchmark(s) failed:\n  {}",
            r.errors.len(),
            r.errors.join("\n  ")
        ));
    }
    let missing: Vec<&str> = expected
        .iter()
        .map(|(name, _)| name.as_str())
        .filter(|name| r.figures(name).is_none())
        .collect();
    match status {
        None => {
            return Err(fail!(
                "timed out{}",
                if missing.is_empty() {
                    String::new()
                } else {
                    format!(" with no figures for {}", missing.join(", "))
                }
            ));
        }
        Some(s) if s != EXIT_SUCCESS => {
            return Err(fail!(
                "QEMU exited with status {s}, expected {EXIT_SUCCESS}"
            ));
        }
        Some(_) => {}
    }
    if !missing.is_empty() {
        return Err(fail!(
            "the serial log has no figures for {}",
            missing.join(", ")
        ));
    }
    if !r.done {
        return Err(fail!("the serial log lacks `bench: done`"));
    }
    Ok(())
}

/// The results as a table, one benchmark a row, with its title from
/// `titles` where it has one.
fn table(r: &Report, titles: &[(String, String)]) -> String {
    let mut out = format!(
        "{:<42} {:>9} {:>9} {:>9} {:>9} {:>9} {:>8}  notes\n",
        "benchmark", "median", "p99", "min", "max", "mean", "n"
    );
    for (name, f) in &r.results {
        let title = titles
            .iter()
            .find(|(n, _)| n == name)
            .map_or(name.as_str(), |(_, t)| t.as_str());
        let notes: Vec<String> = f
            .extra
            .iter()
            .filter(|(k, _)| k != "unit")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mean = f.mean.map_or_else(|| "-".to_owned(), |m| m.to_string());
        let _ = writeln!(
            out,
            "{title:<42} {:>9} {:>9} {:>9} {:>9} {mean:>9} {:>8}  {}",
            f.median,
            f.p99,
            f.min,
            f.max,
            f.n,
            notes.join(" ")
        );
    }
    out
}

/// How QEMU ran the guest, and so what a tick of its time-stamp counter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timing {
    /// TCG with `-icount shift=0`: one tick is one guest instruction and
    /// one nanosecond of guest time.
    Icount,
    /// TCG without it: ticks of a counter that follows the host's clock,
    /// at the frequency the kernel measured.
    Tcg,
    /// KVM: the host CPU's cycles, at the frequency the kernel measured.
    Kvm,
}

impl Timing {
    fn describe(self) -> &'static str {
        match self {
            Timing::Icount => "QEMU TCG, -icount shift=0,sleep=off: 1 cycle = 1 guest instruction",
            Timing::Tcg => "QEMU TCG without -icount: cycles of QEMU's virtual TSC",
            Timing::Kvm => "QEMU KVM, -cpu host: TSC cycles of the host CPU",
        }
    }

    /// What one tick is, in the summary's words.
    fn unit(self) -> &'static str {
        match self {
            Timing::Icount => "guest instructions",
            Timing::Tcg | Timing::Kvm => "TSC cycles",
        }
    }

    /// Ticks per second: 10^9 under icount (QEMU's clock advances 1 ns per
    /// instruction), else the kernel's calibration.
    fn ticks_per_second(self, r: &Report) -> Option<u64> {
        match self {
            Timing::Icount => Some(1_000_000_000),
            Timing::Tcg | Timing::Kvm => r.tsc_mhz.map(|m| m * 1_000_000),
        }
    }
}

/// `n` with a comma every three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Operations per second at `ticks` a round, `-` without a frequency.
fn per_second(ticks_per_second: Option<u64>, ticks: Option<u64>) -> String {
    match (ticks_per_second, ticks) {
        (Some(hz), Some(t)) if t > 0 => thousands(hz / t),
        _ => "-".to_owned(),
    }
}

/// kvs-bench's figures side by side: per command, the median ticks over
/// IPC and in-process, their ratio and difference, the store's own, and
/// operations per second from the mean ticks.
fn kvs_summary(r: &Report, timing: &Timing) -> String {
    let hz = timing.ticks_per_second(r);
    let mut out = format!(
        "median {} per command; ratio = IPC / in-process; \
         ops/s = {} / mean\n\n",
        timing.unit(),
        match timing {
            Timing::Icount => "10^9 (1 instruction = 1 ns of guest time)".to_owned(),
            _ => match r.tsc_mhz {
                Some(mhz) => format!("TSC frequency ({mhz} MHz, the kernel's calibration)"),
                None => "TSC frequency (not in the boot log: no ops/s)".to_owned(),
            },
        }
    );
    let _ = writeln!(
        out,
        "{:<16} {:>9} {:>10} {:>7} {:>9} {:>9} {:>11} {:>13}",
        "command", "IPC", "in-process", "ratio", "IPC cost", "store", "ops/s IPC", "ops/s in-proc"
    );
    for (op, cmd, len) in KVS_COMMANDS {
        let get = |path| r.figures(&kvs_name(op, len, path));
        let (Some(ipc), Some(local), Some(store)) = (get("ipc"), get("local"), get("store")) else {
            continue;
        };
        let ratio = if local.median == 0 {
            "-".to_owned()
        } else {
            format!("{:.2}x", ipc.median as f64 / local.median as f64)
        };
        let _ = writeln!(
            out,
            "{:<16} {:>9} {:>10} {ratio:>7} {:>9} {:>9} {:>11} {:>13}",
            format!("{cmd} {len} B value"),
            ipc.median,
            local.median,
            ipc.median as i64 - local.median as i64,
            store.median,
            per_second(hz, ipc.mean),
            per_second(hz, local.mean),
        );
    }
    out
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether `bench` knows suite `name` (this module's or a service's).
#[cfg(test)]
pub fn is_suite(name: &str) -> bool {
    Service::ALL.iter().any(|s| s.suite() == name) || SUITES.iter().any(|s| s.name == name)
}

/// `cargo xtask bench <suite>`.
pub fn run(
    suite: &str,
    accel: Accel,
    icount: Option<bool>,
    timeout_secs: Option<u64>,
) -> Result<()> {
    let Some(suite) = SUITES.iter().find(|s| s.name == suite) else {
        let names: Vec<String> = SUITES
            .iter()
            .map(|s| s.name)
            .chain(Service::ALL.map(Service::suite))
            .map(|name| format!("`{name}`"))
            .collect();
        return Err(fail!(
            "unknown benchmark `{suite}`; there are {}",
            names.join(", ")
        ));
    };
    let timing = match (accel, icount) {
        (Accel::Kvm, Some(true)) => {
            return Err(fail!("--icount needs TCG; drop it or use --accel tcg"));
        }
        (Accel::Tcg, Some(true) | None) => Timing::Icount,
        (Accel::Tcg, Some(false)) => Timing::Tcg,
        (Accel::Kvm, _) => Timing::Kvm,
    };
    let dir = build::target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    let iso = dir.join(format!("{}.iso", suite.name));
    (suite.image)(&dir, &iso)?;

    let mut vm = Vm::new(&iso, Media::Cdrom, Firmware::Bios, accel)?;
    vm.debug_exit();
    if timing == Timing::Icount {
        vm.args(&ICOUNT);
    }
    let setup = timing.describe();
    let timeout = Duration::from_secs(timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let log = dir.join(format!("{}-serial.log", suite.name));
    println!("== {} ({setup}); up to {} s", suite.what, timeout.as_secs());
    let started = Instant::now();
    let outcome = vm.run_captured(&log, timeout)?;
    let report = parse(&outcome.serial);
    let benchmarks = (suite.benchmarks)();
    check(outcome.status, &report, &benchmarks).map_err(|e| {
        fail!(
            "bench {}: {}\n---- last lines of the serial log ({}) ----\n{}\n---- end ----",
            suite.name,
            e.0,
            log.display(),
            tail(&outcome.serial, 40)
        )
    })?;
    println!(
        "== {setup}; release builds; {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    if let Some(summary) = suite.summary {
        println!("{}", summary(&report, &timing));
    }
    print!("{}", table(&report, &benchmarks));
    println!("\nserial log: {}", log.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
Basalt: boot complete\r
ipcbench: 100000 timed rounds per benchmark\r
bench: rdtsc_overhead median=4 p99=4 min=4 max=4 n=100000 mean=4 unit=cycles\r
bench: null_syscall median=90 p99=95 min=88 max=4000 n=100000 mean=91 unit=cycles\r
bench: call_replyrecv_registers median=900 p99=950 min=880 max=9000 n=100000 mean=905 unit=cycles words=4\r
bench: call_replyrecv_64_words median=1500 p99=1600 min=1400 max=9000 n=100000 mean=1502 unit=cycles words=64\r
bench: notification_signal_wake median=700 p99=720 min=690 max=8000 n=100000 mean=701 unit=cycles mode=one-way deferred=0\r
bench: done\r
";

    #[test]
    fn a_clean_run_parses_and_passes() {
        let r = parse(GOOD);
        assert_eq!(r.results.len(), 5);
        assert!(r.done && r.errors.is_empty() && r.crash.is_none());
        let (name, f) = &r.results[2];
        assert_eq!(name, "call_replyrecv_registers");
        assert_eq!(
            (f.median, f.p99, f.min, f.max, f.n, f.mean),
            (900, 950, 880, 9000, 100_000, Some(905))
        );
        assert_eq!(
            f.extra,
            vec![
                ("unit".to_owned(), "cycles".to_owned()),
                ("words".to_owned(), "4".to_owned())
            ]
        );
        let ipc = ipc_benchmarks();
        assert!(check(Some(EXIT_SUCCESS), &r, &ipc).is_ok());
        let t = table(&r, &ipc);
        assert!(t.contains("call+replyrecv, registers (round trip)"));
        assert!(t.contains("mode=one-way deferred=0"));
        assert!(t.contains("      905 "), "{t}");
        assert!(!t.contains("unit=cycles"));
    }

    #[test]
    fn a_line_without_a_mean_still_has_figures() {
        let r = parse("bench: null_syscall median=90 p99=95 min=88 max=4000 n=100000\n");
        assert_eq!(r.results[0].1.mean, None);
        let t = table(&r, &ipc_benchmarks());
        assert!(
            t.lines()
                .nth(1)
                .unwrap()
                .contains("4000         -   100000"),
            "{t}"
        );
    }

    #[test]
    fn error_lines_fail_the_run_and_are_quoted() {
        let serial = "\
bench: null_syscall error=UnknownSyscall (Null failed)
bench: call_replyrecv_registers error=UnknownInvocation (Call on the endpoint failed)
bench: done
";
        let r = parse(serial);
        assert_eq!(r.errors.len(), 2);
        let e = check(Some(35), &r, &ipc_benchmarks()).unwrap_err().0;
        assert!(e.contains("null_syscall: error=UnknownSyscall (Null failed)"));
    }

    #[test]
    fn timeouts_missing_figures_and_crashes_fail() {
        let ipc = ipc_benchmarks();
        let partial: String = GOOD.lines().take(4).collect::<Vec<_>>().join("\n");
        let r = parse(&partial);
        let e = check(None, &r, &ipc).unwrap_err().0;
        assert!(e.contains("timed out") && e.contains("call_replyrecv_registers"));
        assert!(check(Some(EXIT_SUCCESS), &r, &ipc).is_err());
        let no_done = GOOD.replace("bench: done", "");
        assert!(check(Some(EXIT_SUCCESS), &parse(&no_done), &ipc).is_err());
        assert!(check(Some(35), &parse(GOOD), &ipc).is_err());
        for crash in [
            "KERNEL FAULT: page fault (vector 14)",
            "PANIC: oops at tests/ipcbench/src/bench.rs:1",
            "PANIC in kvs: index out of bounds at servers/kvs/server/src/server.rs:9",
            "init: kvs (generation 1) faulted: page fault at 0x401000, address 0x0, code 0x4",
            "init: cannot start kvs-bench: out of memory",
        ] {
            let crashed = format!("{GOOD}{crash}\n");
            let r = parse(&crashed);
            assert_eq!(r.crash.as_deref(), Some(crash));
            assert!(check(Some(EXIT_SUCCESS), &r, &ipc).is_err());
        }
        // A component's log line that mentions a panic is not one.
        assert!(parse("kvs-bench: PANIC is not a command\n").crash.is_none());
    }

    #[test]
    fn a_line_without_all_five_figures_is_unreadable() {
        let r = parse("bench: null_syscall median=1 p99=2 n=3\nbench: x median=a\n");
        assert!(r.results.is_empty());
        assert_eq!(r.errors.len(), 2);
    }

    #[test]
    fn the_tsc_frequency_comes_from_the_boot_summary() {
        let line =
            "  timer      local APIC periodic, 10 ms tick; TSC 999 MHz, APIC timer 1000000 kHz";
        assert_eq!(tsc_mhz(line), Some(999));
        assert_eq!(tsc_mhz("  timer      local APIC periodic"), None);
        let r = parse(&format!("{line}\r\n{GOOD}"));
        assert_eq!(r.tsc_mhz, Some(999));
        assert_eq!(Timing::Icount.ticks_per_second(&r), Some(1_000_000_000));
        assert_eq!(Timing::Tcg.ticks_per_second(&r), Some(999_000_000));
        assert_eq!(Timing::Kvm.ticks_per_second(&parse(GOOD)), None);
    }

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(per_second(Some(1_000_000_000), Some(4_000)), "250,000");
        assert_eq!(per_second(None, Some(4_000)), "-");
        assert_eq!(per_second(Some(1), Some(0)), "-");
    }

    /// kvs-bench's lines: `ipc`, `local` and `store` figures for each
    /// command, the IPC ones `extra` ticks dearer than the in-process ones.
    fn kvs_log(extra: u64) -> String {
        let mut log = String::from("  timer      local APIC periodic, 10 ms tick; TSC 999 MHz\n");
        for (i, (name, _)) in kvs_benchmarks().iter().enumerate() {
            let base = 1000 + 100 * (i as u64 % 4);
            let median = match name.rsplit('_').next() {
                Some("store") => base / 2,
                Some("local") => base,
                _ => base + extra,
            };
            let _ = writeln!(
                log,
                "bench: {name} median={median} p99={median} min={median} max=90000 n=50000 mean={} unit=cycles",
                median * 2
            );
        }
        log + "bench: done\n"
    }

    #[test]
    fn kvs_names_are_what_kvs_bench_prints() {
        let names: Vec<String> = kvs_benchmarks().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names.len(), 12);
        assert_eq!(names[0], "kvs_set_3b_store");
        assert_eq!(names[5], "kvs_get_3b_local");
        assert_eq!(names[11], "kvs_get_100b_ipc");
        let r = parse(&kvs_log(3000));
        assert!(check(Some(EXIT_SUCCESS), &r, &kvs_benchmarks()).is_ok());
        let without_ipc: String = kvs_log(3000)
            .lines()
            .filter(|l| !l.contains("_ipc "))
            .map(|l| format!("{l}\n"))
            .collect();
        let e = check(Some(EXIT_SUCCESS), &parse(&without_ipc), &kvs_benchmarks())
            .unwrap_err()
            .0;
        assert!(
            e.contains("kvs_set_3b_ipc") && e.contains("kvs_get_100b_ipc"),
            "{e}"
        );
    }

    #[test]
    fn the_kvs_summary_puts_ipc_next_to_in_process() {
        let r = parse(&kvs_log(3000));
        let s = kvs_summary(&r, &Timing::Icount);
        let lines: Vec<&str> = s.lines().collect();
        assert!(lines[0].contains("guest instructions") && lines[0].contains("10^9"));
        // GET 3 B: in-process 1100, IPC 4100, store 550, means twice the
        // medians.
        let get = lines
            .iter()
            .find(|l| l.starts_with("GET 3 B value"))
            .unwrap();
        let cols: Vec<&str> = get.split_whitespace().collect();
        assert_eq!(
            cols[4..],
            ["4100", "1100", "3.73x", "3000", "550", "121,951", "454,545"]
        );
        assert_eq!(s.matches(" B value ").count(), 4);
        // Without icount, the kernel's TSC frequency gives ops/s.
        let s = kvs_summary(&r, &Timing::Tcg);
        assert!(s.contains("999 MHz") && s.contains("121,829"), "{s}");
        // Without it, no ops/s.
        let no_tsc = kvs_log(3000).replacen("TSC 999 MHz", "", 1);
        let s = kvs_summary(&parse(&no_tsc), &Timing::Kvm);
        assert!(s.contains("not in the boot log"), "{s}");
        assert!(
            s.lines()
                .any(|l| l.starts_with("SET 100 B value") && l.ends_with(" -"))
        );
    }
}
