//! Debian's `memcaslap` (libmemcached-tools' load generator, memaslap)
//! against a memcached (Basalt's front end or Linux's memcached, through
//! QEMU's port forwarding or on a tap device), bounded in time,
//! and what its summary says. `cargo xtask bench memcached` runs it.
//!
//! memcaslap takes its mix of commands and its key and value sizes from a
//! configuration file; this writes one per run, so both systems get the
//! same workload.

use crate::qemu;
use crate::redisbench::tail;
use crate::{Result, fail};
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Key and value sizes in bytes (fixed, so every request is alike).
pub const KEY_BYTES: u32 = 32;
pub const VALUE_BYTES: u32 = 64;

/// One run: the share of gets in tenths (the rest are sets), requests,
/// concurrency (connections, on one thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Load {
    pub gets_in_ten: u8,
    pub requests: u64,
    pub concurrency: u32,
}

/// The configuration file memcaslap reads for `load`: key sizes, value
/// sizes (each a range and its proportion) and the commands' proportions
/// (0 is set, 1 is get).
fn config(load: Load) -> String {
    let gets = f64::from(load.gets_in_ten) / 10.0;
    format!(
        "key\n{KEY_BYTES} {KEY_BYTES} 1\nvalue\n{VALUE_BYTES} {VALUE_BYTES} 1\n\
         cmd\n0 {:.1}\n1 {gets:.1}\n",
        1.0 - gets
    )
}

/// Runs memcaslap against the memcached at `server` with `load`, its configuration
/// written next to `log` and its output going to `log`, and kills it at
/// `timeout`. Returns its requests per second, or why it failed: it could
/// not start, ran out of time, exited with a failure status, or its
/// summary is missing or shows fewer requests than asked or a get that
/// missed (every get of this mix asks for a key it set).
pub fn run(server: SocketAddr, load: Load, timeout: Duration, log: &Path) -> Result<f64> {
    let cfg = log.with_extension("cfg");
    fs::write(&cfg, config(load))?;
    let file = File::create(log).map_err(|e| fail!("cannot create {}: {e}", log.display()))?;
    let args = [
        format!("--servers={server}"),
        format!("--cfg_cmd={}", cfg.display()),
        format!("--execute_number={}", load.requests),
        format!("--concurrency={}", load.concurrency),
        "--threads=1".to_owned(),
    ];
    let mut child = Command::new("memcaslap")
        .args(&args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .map_err(|e| fail!("cannot run memcaslap: {e} (install libmemcached-tools)"))?;
    let status = qemu::wait(&mut child, Some(Instant::now() + timeout), || false)?;
    let output = String::from_utf8_lossy(&fs::read(log)?).into_owned();
    let why = match status {
        Some(0) => return check(&output, load),
        Some(s) => format!("exited with status {s}"),
        None => format!("did not finish within {} s", timeout.as_secs()),
    };
    Err(fail!(
        "memcaslap {} {why}; the end of its output ({}):\n{}",
        args.join(" "),
        log.display(),
        tail(&output)
    ))
}

/// The value after `name` (`cmd_get: 900`, `TPS: 6564`) in `output`'s
/// last line that has it.
fn field(output: &str, name: &str) -> Option<u64> {
    output.lines().rev().find_map(|line| {
        let (_, after) = line.split_once(name)?;
        after.split_whitespace().next()?.parse().ok()
    })
}

/// The verdict on a finished run's output: its `TPS` if its summary
/// counts every request asked for (`Ops`), gets and sets in the load's
/// proportion, and no get that missed.
pub fn check(output: &str, load: Load) -> Result<f64> {
    let number = |name: &str| {
        field(output, name).ok_or_else(|| {
            fail!(
                "memcaslap printed no `{name}`; the end of its output:\n{}",
                tail(output)
            )
        })
    };
    let (ops, tps) = (number("Ops: ")?, number("TPS: ")?);
    let (gets, sets) = (number("cmd_get: ")?, number("cmd_set: ")?);
    let misses = number("get_misses: ")?;
    if ops != load.requests || gets + sets != ops {
        return Err(fail!(
            "memcaslap ran {ops} requests ({gets} gets, {sets} sets) of the {} asked for",
            load.requests
        ));
    }
    if load.gets_in_ten == 0 && gets != 0 || load.gets_in_ten == 10 && sets != 0 {
        return Err(fail!(
            "memcaslap sent {gets} gets and {sets} sets, not the mix asked for"
        ));
    }
    if misses != 0 {
        return Err(fail!(
            "{misses} of memcaslap's {gets} gets missed a key it had set"
        ));
    }
    Ok(tps as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The end of memcaslap's output for 100,000 requests, 9 in 10 gets.
    const OUTPUT: &str = "\
servers: 127.0.0.1:22122
threads count: 1
concurrency: 50
execute number: 100000
windows size: 10k
set proportion: set_prop=0.10
get proportion: get_prop=0.90
cmd_get: 90000
cmd_set: 10000
get_misses: 0
written_bytes: 7410000
read_bytes: 10520000
object_bytes: 960000

Run time: 1.5s Ops: 100000 TPS: 65645 Net_rate: 11.2M/s
";

    const MIX: Load = Load {
        gets_in_ten: 9,
        requests: 100_000,
        concurrency: 50,
    };

    #[test]
    fn the_config_names_sizes_and_the_mix() {
        assert_eq!(
            config(MIX),
            "key\n32 32 1\nvalue\n64 64 1\ncmd\n0 0.1\n1 0.9\n"
        );
        let sets = Load {
            gets_in_ten: 0,
            ..MIX
        };
        assert!(config(sets).ends_with("cmd\n0 1.0\n1 0.0\n"));
    }

    #[test]
    fn a_whole_run_gives_its_rate() {
        assert_eq!(check(OUTPUT, MIX).unwrap(), 65645.0);
    }

    #[test]
    fn a_short_run_a_miss_or_a_missing_summary_fails() {
        let short = OUTPUT.replace("Ops: 100000", "Ops: 99000");
        let e = check(&short, MIX).unwrap_err().0;
        assert!(e.contains("ran 99000 requests"), "{e}");
        let missed = OUTPUT.replace("get_misses: 0", "get_misses: 12");
        let e = check(&missed, MIX).unwrap_err().0;
        assert!(e.contains("12 of memcaslap's 90000 gets missed"), "{e}");
        let cut = &OUTPUT[..OUTPUT.find("Run time").unwrap()];
        let e = check(cut, MIX).unwrap_err().0;
        assert!(e.contains("no `Ops: `"), "{e}");
        // A set-only load that sent gets is not the load asked for.
        let sets = Load {
            gets_in_ten: 0,
            ..MIX
        };
        let e = check(OUTPUT, sets).unwrap_err().0;
        assert!(e.contains("90000 gets and 10000 sets"), "{e}");
    }
}
