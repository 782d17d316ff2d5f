//! `cargo xtask bench ipc`: boots `servers/ipcbench` as the root task, in
//! release builds of the kernel and the benchmark, and prints what it
//! measured as a table. `docs/perf.md` explains the figures.
//!
//! Under TCG the run uses `-icount shift=0,sleep=off` unless told
//! otherwise: the guest's time-stamp counter then advances by one per guest
//! instruction, so a "cycle" is an instruction and the figures are the same
//! on every host and every run.

use crate::build::{self, Profile};
use crate::image::{self, Contents, Module};
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::{Result, fail};
use std::fmt::Write as _;
use std::fs;
use std::time::{Duration, Instant};

/// The benchmark root task's package.
const PACKAGE: &str = "ipcbench";
/// The module name and kernel argument under which the kernel starts a
/// root task that may end the run through DebugExit (as `cargo xtask test`
/// boots `roottest`).
const MODULE_NAME: &str = "roottask";
const KERNEL_ARGS: &str = "test=roottask";
/// QEMU's exit status for DebugExit(success).
const EXIT_SUCCESS: i32 = 33;
/// How long a run may take unless `--timeout` says otherwise.
const DEFAULT_TIMEOUT_SECS: u64 = 600;
/// Guest rdtsc counts guest instructions; the guest never waits for the
/// host clock.
const ICOUNT: [&str; 2] = ["-icount", "shift=0,sleep=off"];

/// What ipcbench reports, in order: the name on its `bench:` line and the
/// name in the table.
const BENCHMARKS: [(&str, &str); 5] = [
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

/// One benchmark's figures from its `bench:` line.
#[derive(Debug, PartialEq, Eq)]
struct Figures {
    median: u64,
    p99: u64,
    min: u64,
    max: u64,
    n: u64,
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
    /// The first sign of a crash: a kernel fault or panic, a root-task panic.
    crash: Option<String>,
}

/// Reads `key=value` words after the name.
fn figures(rest: &str) -> Option<Figures> {
    let mut f = Figures {
        median: 0,
        p99: 0,
        min: 0,
        max: 0,
        n: 0,
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

fn parse(serial: &str) -> Report {
    let mut r = Report::default();
    for line in serial.lines().map(str::trim_end) {
        if r.crash.is_none()
            && (["KERNEL FAULT", "KERNEL PANIC", "BOOT FAILED"]
                .iter()
                .any(|bad| line.contains(bad))
                || line.starts_with("PANIC: "))
        {
            r.crash = Some(line.to_owned());
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

/// The verdict on a run: `Ok` when every benchmark has figures and the run
/// ended cleanly.
fn check(status: Option<i32>, r: &Report) -> Result<()> {
    if let Some(crash) = &r.crash {
        return Err(fail!("the run crashed: `{crash}`"));
    }
    if !r.errors.is_empty() {
        return Err(fail!(
            "{} benchmark(s) failed (is the kernel's IPC in place?):\n  {}",
            r.errors.len(),
            r.errors.join("\n  ")
        ));
    }
    let missing: Vec<&str> = BENCHMARKS
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| !r.results.iter().any(|(n, _)| n == name))
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

/// The results as a table, one benchmark a row.
fn table(r: &Report) -> String {
    let mut out = format!(
        "{:<42} {:>9} {:>9} {:>9} {:>9} {:>8}  notes\n",
        "benchmark", "median", "p99", "min", "max", "n"
    );
    for (name, f) in &r.results {
        let title = BENCHMARKS
            .iter()
            .find(|(n, _)| n == name)
            .map_or(name.as_str(), |(_, t)| *t);
        let notes: Vec<String> = f
            .extra
            .iter()
            .filter(|(k, _)| k != "unit")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "{title:<42} {:>9} {:>9} {:>9} {:>9} {:>8}  {}",
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

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// `cargo xtask bench <suite>`.
pub fn run(
    suite: &str,
    accel: Accel,
    icount: Option<bool>,
    timeout_secs: Option<u64>,
) -> Result<()> {
    if suite != "ipc" {
        return Err(fail!("unknown benchmark `{suite}`; there is `ipc`"));
    }
    let icount = match (accel, icount) {
        (Accel::Kvm, Some(true)) => {
            return Err(fail!("--icount needs TCG; drop it or use --accel tcg"));
        }
        (_, Some(on)) => on,
        (Accel::Tcg, None) => true,
        (Accel::Kvm, None) => false,
    };
    let dir = build::target_dir().join("bench");
    fs::create_dir_all(&dir)?;
    let kernel = build::kernel(Profile::Release)?;
    let program = build::user_program(PACKAGE, Profile::Release)?;
    let iso = dir.join("ipcbench.iso");
    image::build(
        &Contents {
            kernel: &kernel,
            kernel_args: KERNEL_ARGS,
            modules: &[Module {
                path: program,
                name: MODULE_NAME.into(),
            }],
        },
        &iso,
    )?;

    let mut vm = Vm::new(&iso, Media::Cdrom, Firmware::Bios, accel)?;
    vm.debug_exit();
    let setup = match (accel, icount) {
        (Accel::Tcg, true) => {
            vm.args(&ICOUNT);
            "QEMU TCG, -icount shift=0,sleep=off: 1 cycle = 1 guest instruction"
        }
        (Accel::Tcg, false) => "QEMU TCG without -icount: cycles of QEMU's virtual TSC",
        (Accel::Kvm, _) => "QEMU KVM, -cpu host: TSC cycles of the host CPU",
    };
    let timeout = Duration::from_secs(timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
    let log = dir.join("ipc-serial.log");
    println!(
        "== ipcbench as the root task ({setup}); up to {} s",
        timeout.as_secs()
    );
    let started = Instant::now();
    let outcome = vm.run_captured(&log, timeout)?;
    let report = parse(&outcome.serial);
    check(outcome.status, &report).map_err(|e| {
        fail!(
            "bench ipc: {}\n---- last lines of the serial log ({}) ----\n{}\n---- end ----",
            e.0,
            log.display(),
            tail(&outcome.serial, 40)
        )
    })?;
    println!(
        "== {setup}; release builds; {:.1} s\n",
        started.elapsed().as_secs_f64()
    );
    print!("{}", table(&report));
    println!("\nserial log: {}", log.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
Basalt: boot complete\r
ipcbench: 100000 timed rounds per benchmark\r
bench: rdtsc_overhead median=4 p99=4 min=4 max=4 n=100000 unit=cycles\r
bench: null_syscall median=90 p99=95 min=88 max=4000 n=100000 unit=cycles\r
bench: call_replyrecv_registers median=900 p99=950 min=880 max=9000 n=100000 unit=cycles words=4\r
bench: call_replyrecv_64_words median=1500 p99=1600 min=1400 max=9000 n=100000 unit=cycles words=64\r
bench: notification_signal_wake median=700 p99=720 min=690 max=8000 n=100000 unit=cycles mode=one-way deferred=0\r
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
            (f.median, f.p99, f.min, f.max, f.n),
            (900, 950, 880, 9000, 100_000)
        );
        assert_eq!(
            f.extra,
            vec![
                ("unit".to_owned(), "cycles".to_owned()),
                ("words".to_owned(), "4".to_owned())
            ]
        );
        assert!(check(Some(EXIT_SUCCESS), &r).is_ok());
        let t = table(&r);
        assert!(t.contains("call+replyrecv, registers (round trip)"));
        assert!(t.contains("mode=one-way deferred=0"));
        assert!(!t.contains("unit=cycles"));
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
        let e = check(Some(35), &r).unwrap_err().0;
        assert!(e.contains("null_syscall: error=UnknownSyscall (Null failed)"));
    }

    #[test]
    fn timeouts_missing_figures_and_crashes_fail() {
        let partial: String = GOOD.lines().take(4).collect::<Vec<_>>().join("\n");
        let r = parse(&partial);
        let e = check(None, &r).unwrap_err().0;
        assert!(e.contains("timed out") && e.contains("call_replyrecv_registers"));
        assert!(check(Some(EXIT_SUCCESS), &r).is_err());
        let no_done = GOOD.replace("bench: done", "");
        assert!(check(Some(EXIT_SUCCESS), &parse(&no_done)).is_err());
        assert!(check(Some(35), &parse(GOOD)).is_err());
        let crashed = format!("{GOOD}KERNEL FAULT: page fault (vector 14)\n");
        assert!(check(Some(EXIT_SUCCESS), &parse(&crashed)).is_err());
        let panicked = "PANIC: oops at servers/ipcbench/src/bench.rs:1\n";
        assert!(parse(panicked).crash.is_some());
    }

    #[test]
    fn a_line_without_all_five_figures_is_unreadable() {
        let r = parse("bench: null_syscall median=1 p99=2 n=3\nbench: x median=a\n");
        assert!(r.results.is_empty());
        assert_eq!(r.errors.len(), 2);
    }
}
