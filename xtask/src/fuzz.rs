//! `cargo xtask fuzz`: boots the kernel with the fuzzing root task
//! (`tests/kfuzz`) once per seed and checks its verdict. The seed and the
//! number of calls travel in a boot module, `fuzz-args`; the same seed and
//! count replay a run.

use crate::build::{self, Profile};
use crate::image::{self, Contents, Module};
use crate::qemu::{Accel, Firmware, Media, Vm};
use crate::{Result, fail};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const PACKAGE: &str = "kfuzz";

/// One fuzzing campaign: seeds `seed .. seed + seeds`, `calls` each.
#[derive(Clone, Copy, Debug)]
pub struct Campaign {
    pub seed: u64,
    pub seeds: u64,
    pub calls: u64,
    pub profile: Profile,
    pub accel: Accel,
    /// Per seed; `None`: a minute plus 10 ms a call.
    pub timeout: Option<Duration>,
}

/// Lines that mean the kernel, not the fuzzer, gave up.
const FATAL: [&str; 3] = ["KERNEL FAULT", "KERNEL PANIC", "BOOT FAILED"];

/// Runs the campaign; fails on the first seed that does not pass.
pub fn run(c: &Campaign) -> Result<()> {
    let kernel = build::kernel(c.profile)?;
    let root = build::user_program(PACKAGE, c.profile)?;
    let dir = build::target_dir().join("fuzz");
    fs::create_dir_all(&dir)?;
    for seed in c.seed..c.seed + c.seeds {
        let started = Instant::now();
        let summary = one(c, seed, &kernel, &root, &dir)?;
        println!("{summary} ({:.0} s)", started.elapsed().as_secs_f64());
    }
    Ok(())
}

/// One seed: its summary line, or why it failed (with the log's path).
fn one(c: &Campaign, seed: u64, kernel: &Path, root: &Path, dir: &Path) -> Result<String> {
    let args = dir.join(format!("args-{seed}.txt"));
    fs::write(&args, format!("seed={seed} calls={}\n", c.calls))?;
    let iso = dir.join(format!("kfuzz-{seed}.iso"));
    image::build(
        &Contents {
            kernel,
            kernel_args: "test=roottask",
            modules: &[
                Module {
                    path: root.to_path_buf(),
                    name: "roottask".into(),
                },
                Module {
                    path: args,
                    name: "fuzz-args".into(),
                },
            ],
        },
        &iso,
    )?;
    let mut vm = Vm::new(&iso, Media::Cdrom, Firmware::Bios, c.accel)?;
    vm.debug_exit();
    let log = dir.join(format!("kfuzz-{seed}.log"));
    let timeout = c
        .timeout
        .unwrap_or(Duration::from_secs(60) + Duration::from_millis(10) * c.calls as u32);
    let outcome = vm.run_captured(&log, timeout)?;
    verdict(outcome.status, &outcome.serial).map_err(|e| {
        fail!(
            "fuzz seed {seed}: {} (replay: cargo xtask fuzz --seed {seed} --calls {}{}; log {})",
            e.0,
            c.calls,
            match c.profile {
                Profile::Release => " --release",
                Profile::Debug => "",
            },
            log.display()
        )
    })
}

/// A seed passes when the kernel stopped the machine for success after
/// the fuzzer said so, with its summary, and nothing fatal was logged.
fn verdict(status: Option<i32>, serial: &str) -> Result<String> {
    for bad in FATAL {
        if serial.contains(bad) {
            return Err(fail!("the serial log has `{bad}`"));
        }
    }
    if let Some(l) = serial.lines().find(|l| l.contains("kfuzz: VIOLATION")) {
        return Err(fail!("{}", l.trim()));
    }
    if let Some(l) = serial.lines().find(|l| l.contains("oracle: ")) {
        return Err(fail!("the oracle logged `{}`", l.trim()));
    }
    let summary = serial
        .lines()
        .find(|l| l.starts_with("kfuzz: seed ") && l.contains(" calls ("))
        .ok_or_else(|| fail!("no summary line (`kfuzz: seed N: … calls (…`)"))?;
    if !serial.lines().any(|l| l.trim() == "kfuzz: passed") {
        return Err(fail!("no `kfuzz: passed`"));
    }
    match status {
        Some(crate::selftest::EXIT_SUCCESS) => Ok(summary.trim().to_string()),
        Some(s) => Err(fail!("QEMU exited with status {s}")),
        None => Err(fail!("timed out")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selftest::EXIT_SUCCESS;

    const GOOD: &str = "kfuzz: seed 3, 10 calls\nkfuzz: seed 3: 10 calls (4 succeeded, 5 refused with an error, 1 left blocked), 10 oracle checks, 0 violations, 0 checks cut short; 900 calls a second (guest TSC)\nkfuzz: passed\n";

    #[test]
    fn a_passing_run_gives_its_summary() {
        let s = verdict(Some(EXIT_SUCCESS), GOOD).unwrap();
        assert!(s.starts_with("kfuzz: seed 3: 10 calls"));
    }

    #[test]
    fn violations_faults_timeouts_and_missing_lines_fail() {
        let violation = GOOD.replace("kfuzz: passed", "kfuzz: VIOLATION after call 7");
        assert!(verdict(Some(EXIT_SUCCESS), &violation).is_err());
        let oracle = format!("[ERROR] oracle: a table is mapped twice (at 0x1000)\n{GOOD}");
        assert!(verdict(Some(EXIT_SUCCESS), &oracle).is_err());
        let fault = format!("{GOOD}KERNEL FAULT: page fault\n");
        assert!(verdict(Some(EXIT_SUCCESS), &fault).is_err());
        assert!(verdict(None, GOOD).is_err());
        assert!(verdict(Some(35), GOOD).is_err());
        assert!(verdict(Some(EXIT_SUCCESS), "kfuzz: passed\n").is_err());
        let unfinished = GOOD.replace("kfuzz: passed\n", "");
        assert!(verdict(Some(EXIT_SUCCESS), &unfinished).is_err());
    }
}
