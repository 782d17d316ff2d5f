//! The durability boot test: `kill -9` of QEMU while `redis-benchmark`
//! loads `config/default`, with a client that logs every write it had
//! acknowledged; then a boot on the same disk counts what survived. Under
//! `fsync = always` every acknowledged write must be there; under
//! `everysec`, all but those of the last second before the kill.
//!
//! QEMU writes what the guest writes to the host file whether or not the
//! guest flushes, so a killed QEMU loses nothing the guest wrote: this test
//! shows that an acknowledged write was written, and the everysec test in
//! `e2e` (QEMU's flush counters) that it is flushed within a second.

use crate::e2e;
use crate::machine::{HostPorts, Machine};
use crate::qemu::Accel;
use crate::{Result, fail};
use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long the logging client writes while the benchmark loads the
/// store, before the kill.
const WRITING: Duration = Duration::from_secs(4);

/// What `everysec` may lose: the writes of the last second, and half a
/// second more for the host's scheduling of the emulated machine.
const EVERYSEC_WINDOW: Duration = Duration::from_millis(1500);

/// The fsync policy a run tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    Always,
    EverySec,
}

impl Policy {
    fn name(self) -> &'static str {
        match self {
            Policy::Always => "always",
            Policy::EverySec => "everysec",
        }
    }

    /// How long before the kill an acknowledged write may still be lost.
    fn window(self) -> Duration {
        match self {
            Policy::Always => Duration::ZERO,
            Policy::EverySec => EVERYSEC_WINDOW,
        }
    }
}

/// What the logging client saw: write `i` (`SET durable:<i> <i>`) was
/// acknowledged at `acked[i]`; QEMU was killed after `killed`.
#[derive(Debug, Default)]
struct Log {
    acked: Vec<Instant>,
    killed: Option<Instant>,
}

/// The test for `image` (config/default with `fsync = <policy>`): a boot
/// on a fresh disk killed under load, a boot on the same disk that reads
/// the writes back. Returns the line it reports.
pub fn run(
    image: &Path,
    policy: Policy,
    machine_for: &dyn Fn(HostPorts) -> Result<Machine>,
    dir: &Path,
    accel: Accel,
) -> Result<String> {
    let disk = dir.join(format!("durability-{}-disk.img", policy.name()));
    std::fs::File::create(&disk)?.set_len(crate::machine::DISK_BYTES)?;
    let log = RefCell::new(Log::default());
    e2e::boot(
        image,
        machine_for,
        &disk,
        &dir.join(format!("durability-{}-load.log", policy.name())),
        accel,
        &|ports, _| {
            let result = write_under_load(ports.redis, &mut log.borrow_mut());
            // The boot kills QEMU as soon as this returns.
            log.borrow_mut().killed = Some(Instant::now());
            result
        },
    )?;
    let log = log.into_inner();
    let survived = RefCell::new(0usize);
    e2e::boot(
        image,
        machine_for,
        &disk,
        &dir.join(format!("durability-{}-verify.log", policy.name())),
        accel,
        &|ports, _| {
            *survived.borrow_mut() = read_back(ports.redis, log.acked.len())?;
            Ok(())
        },
    )?;
    judge(policy, &log, survived.into_inner())
}

/// Starts `redis-benchmark` against the store (SET, INCR and LPUSH on
/// random keys, 20 clients, pipelines of 8, more requests than it can
/// make) and, meanwhile, writes `SET durable:<i> <i>` one at a time on a
/// connection of its own, logging when each is acknowledged; stops both
/// after [`WRITING`].
fn write_under_load(redis_port: u16, log: &mut Log) -> Result<()> {
    let port = redis_port.to_string();
    let mut bench = Command::new("redis-benchmark")
        .args([
            "-p",
            &port,
            "-t",
            "set,incr,lpush",
            "-n",
            "100000000",
            "-r",
            "100000",
            "-c",
            "20",
            "-P",
            "8",
            "-q",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| fail!("cannot run redis-benchmark: {e}"))?;
    let written = write_logged(redis_port, log);
    // Ours, by pid; it has nothing to clean up.
    let _ = bench.kill();
    let _ = bench.wait();
    written
}

fn write_logged(redis_port: u16, log: &mut Log) -> Result<()> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let start = Instant::now();
    let mut line = String::new();
    while start.elapsed() < WRITING {
        let i = log.acked.len();
        let (key, value) = (format!("durable:{i}"), i.to_string());
        writer.write_all(
            format!(
                "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
                key.len(),
                value.len()
            )
            .as_bytes(),
        )?;
        line.clear();
        reader.read_line(&mut line)?;
        if line != "+OK\r\n" {
            return Err(fail!("SET {key} answered {line:?} under load"));
        }
        log.acked.push(Instant::now());
    }
    if log.acked.is_empty() {
        return Err(fail!("no write was acknowledged under load"));
    }
    Ok(())
}

/// How many of writes `0..count` the store holds, reading them back in
/// one pipeline; fails if they are not a prefix (a later write without an
/// earlier one) or hold the wrong value.
fn read_back(redis_port: u16, count: usize) -> Result<usize> {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, redis_port))?;
    stream.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut pipeline = Vec::new();
    for i in 0..count {
        let key = format!("durable:{i}");
        pipeline.extend_from_slice(
            format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).as_bytes(),
        );
    }
    writer.write_all(&pipeline)?;
    let mut present = Vec::with_capacity(count);
    let mut line = String::new();
    for i in 0..count {
        line.clear();
        reader.read_line(&mut line)?;
        match line.trim_end() {
            "$-1" => present.push(false),
            header if header.starts_with('$') => {
                line.clear();
                reader.read_line(&mut line)?;
                if line.trim_end() != i.to_string() {
                    return Err(fail!("durable:{i} holds {line:?}"));
                }
                present.push(true);
            }
            other => return Err(fail!("GET durable:{i} answered {other:?}")),
        }
    }
    prefix(&present)
}

/// The length of the run of `true` that `present` starts with, if nothing
/// after it is `true`.
fn prefix(present: &[bool]) -> Result<usize> {
    let kept = present.iter().take_while(|&&p| p).count();
    match present[kept..].iter().position(|&p| p) {
        Some(later) => Err(fail!(
            "write {} survived but write {kept} did not",
            kept + later
        )),
        None => Ok(kept),
    }
}

/// Whether losing every acknowledged write from `survived` on is within
/// what `policy` allows; the line to report.
fn judge(policy: Policy, log: &Log, survived: usize) -> Result<String> {
    let killed = log
        .killed
        .ok_or_else(|| fail!("the kill was not recorded"))?;
    let acked = log.acked.len();
    let lost = acked.saturating_sub(survived);
    // The oldest lost write was acknowledged this long before the kill.
    let age = log
        .acked
        .get(survived)
        .map(|t| killed.saturating_duration_since(*t));
    match age {
        Some(age) if age > policy.window() => Err(fail!(
            "fsync {}: {lost} of {acked} acknowledged writes lost, the oldest acknowledged {:.2} s before the kill (at most {:.2} s allowed)",
            policy.name(),
            age.as_secs_f64(),
            policy.window().as_secs_f64()
        )),
        Some(age) => Ok(format!(
            "fsync {}: {survived} of {acked} acknowledged writes survived the kill; the {lost} lost were acknowledged within {:.2} s of it",
            policy.name(),
            age.as_secs_f64()
        )),
        None => Ok(format!(
            "fsync {}: all {acked} acknowledged writes survived the kill",
            policy.name()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(ages_ms: &[u64]) -> Log {
        let killed = Instant::now() + Duration::from_secs(10);
        Log {
            acked: ages_ms
                .iter()
                .map(|&ms| killed - Duration::from_millis(ms))
                .collect(),
            killed: Some(killed),
        }
    }

    #[test]
    fn only_a_prefix_of_the_writes_may_survive() {
        assert_eq!(prefix(&[true, true, false, false]).unwrap(), 2);
        assert_eq!(prefix(&[]).unwrap(), 0);
        assert_eq!(prefix(&[false]).unwrap(), 0);
        let e = prefix(&[true, false, true]).unwrap_err().0;
        assert_eq!(e, "write 2 survived but write 1 did not");
    }

    #[test]
    fn always_loses_nothing_and_everysec_at_most_the_last_second() {
        let l = log(&[3000, 2000, 1200, 800, 100]);
        assert!(judge(Policy::Always, &l, 5).is_ok());
        assert!(
            judge(Policy::Always, &l, 4).is_err(),
            "one lost under always"
        );
        assert!(
            judge(Policy::EverySec, &l, 3).is_ok(),
            "the last 0.8 s lost"
        );
        let e = judge(Policy::EverySec, &l, 1).unwrap_err().0;
        assert!(
            e.contains("the oldest acknowledged 2.00 s before the kill"),
            "{e}"
        );
        assert!(
            judge(Policy::EverySec, &Log::default(), 0).is_err(),
            "no kill time"
        );
    }
}
