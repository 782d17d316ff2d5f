//! Debian's `redis-benchmark` against a RESP server (Basalt's or Linux's,
//! through QEMU's port forwarding or on a tap device), bounded in time, and what its `-q` output says. The end-to-end boot test and
//! `cargo xtask bench kvs` both run it through here.

use crate::qemu;
use crate::{Result, fail};
use std::fs::{self, File};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Words in redis-benchmark's output that mean a request failed: an error
/// reply (`Error from server: ERR …`) or a connection that broke
/// (`Error: Connection reset by peer`, `… reset …`).
const ERROR_WORDS: [&str; 3] = ["Error", "ERR", "reset"];

/// How much of the output's end an error quotes.
const TAIL_CHARS: usize = 2000;

/// One test's result: redis-benchmark's name for it (`SET`,
/// `LRANGE_100 (first 100 elements)`, …) and its requests per second.
#[derive(Clone, Debug, PartialEq)]
pub struct Rate {
    pub test: String,
    pub per_second: f64,
}

/// Runs `redis-benchmark -h <ip> -p <port> <args>` against `server`, its
/// standard output and error both going to `log`, and kills it at
/// `timeout`. Returns the output, or why it failed: it could not start,
/// it ran out of time or it exited with a failure status (its output's
/// end quoted).
pub fn run(server: SocketAddr, args: &[&str], timeout: Duration, log: &Path) -> Result<String> {
    let file = File::create(log).map_err(|e| fail!("cannot create {}: {e}", log.display()))?;
    let (host, port) = (server.ip().to_string(), server.port().to_string());
    let mut child = Command::new("redis-benchmark")
        .args(["-h", &host, "-p", &port])
        .args(args)
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .spawn()
        .map_err(|e| fail!("cannot run redis-benchmark: {e} (install redis-tools)"))?;
    let status = qemu::wait(&mut child, Some(Instant::now() + timeout), || false)?;
    let output = String::from_utf8_lossy(&fs::read(log)?).into_owned();
    let why = match status {
        Some(0) => return Ok(output),
        Some(s) => format!("exited with status {s}"),
        None => format!("did not finish within {} s", timeout.as_secs()),
    };
    Err(fail!(
        "redis-benchmark {} {why}; the end of its output ({}):\n{}",
        args.join(" "),
        log.display(),
        tail(&output)
    ))
}

/// The last [`TAIL_CHARS`] characters of `output`, its progress lines
/// (ended by `\r`) on lines of their own.
pub fn tail(output: &str) -> String {
    let lines = output.replace('\r', "\n");
    let start = lines
        .char_indices()
        .rev()
        .nth(TAIL_CHARS - 1)
        .map_or(0, |(i, _)| i);
    lines[start..].trim().to_owned()
}

/// The pieces of `-q` output between `\r` and `\n`: redis-benchmark
/// rewrites a progress line with `\r` until the test ends.
fn pieces(output: &str) -> impl Iterator<Item = &str> {
    output
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

/// Each test's final `<test>: <n> requests per second…` line in `-q`
/// output, in the order the tests ran.
pub fn rates(output: &str) -> Vec<Rate> {
    let mut out: Vec<Rate> = Vec::new();
    for piece in pieces(output) {
        let Some((head, _)) = piece.split_once(" requests per second") else {
            continue;
        };
        let Some((test, n)) = head.rsplit_once(": ") else {
            continue;
        };
        let Ok(per_second) = n.trim().parse() else {
            continue;
        };
        match out.iter_mut().find(|r| r.test == test) {
            Some(r) => r.per_second = per_second,
            None => out.push(Rate {
                test: test.to_owned(),
                per_second,
            }),
        }
    }
    out
}

/// The pieces of `output` that report an error.
pub fn errors(output: &str) -> Vec<&str> {
    pieces(output)
        .filter(|p| ERROR_WORDS.iter().any(|w| p.contains(w)))
        .collect()
}

/// The verdict on a run's output: the rates of `expected`, in that order,
/// if nothing in it reports an error and every one of `expected` has its
/// `requests per second` line.
pub fn check(output: &str, expected: &[&str]) -> Result<Vec<Rate>> {
    let errors = errors(output);
    if !errors.is_empty() {
        return Err(fail!(
            "redis-benchmark reported errors:\n  {}",
            errors.join("\n  ")
        ));
    }
    let all = rates(output);
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for test in expected {
        match all.iter().find(|r| r.test == *test) {
            Some(r) => found.push(r.clone()),
            None => missing.push(*test),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(fail!(
            "redis-benchmark printed no `requests per second` line for {}; the end of its output:\n{}",
            missing.join(", "),
            tail(output)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `redis-benchmark -q -t set,get,lrange,mset` as it prints it: a
    /// warning, progress lines rewritten with `\r`, then the final ones.
    const OUTPUT: &str = "\
\rSET: rps=0.0 (overall: -nan) avg_msec=-nan (overall: -nan)\r                 \
\rSET: rps=1996.0 (overall: 1996.0) avg_msec=24.1 (overall: 24.1)\r        \
\rSET: 2013.69 requests per second, p50=23.999 msec                    \n\
\rGET: rps=2700.0 (overall: 2700.0) avg_msec=18.0 (overall: 18.0)\r   \
\rGET: 2754.82 requests per second, p50=17.871 msec                    \n\
\rLPUSH (needed to benchmark LRANGE): 2100.00 requests per second, p50=23.000 msec\n\
\rLRANGE_100 (first 100 elements): 1901.50 requests per second, p50=25.000 msec\n\
\rMSET (10 keys): 1200.25 requests per second, p50=40.111 msec\n";

    #[test]
    fn the_final_line_of_each_test_is_its_rate() {
        let r = rates(OUTPUT);
        let tests: Vec<&str> = r.iter().map(|r| r.test.as_str()).collect();
        assert_eq!(
            tests,
            [
                "SET",
                "GET",
                "LPUSH (needed to benchmark LRANGE)",
                "LRANGE_100 (first 100 elements)",
                "MSET (10 keys)"
            ]
        );
        assert_eq!(r[0].per_second, 2013.69);
        assert_eq!(r[4].per_second, 1200.25);
        let got = check(OUTPUT, &["GET", "MSET (10 keys)"]).unwrap();
        assert_eq!(got[0].per_second, 2754.82);
        assert_eq!(got[1].test, "MSET (10 keys)");
    }

    #[test]
    fn the_older_format_without_percentiles_parses_too() {
        let r = rates("SET: 7864.00 requests per second\r\nGET: 8316.50 requests per second\n");
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].per_second, 8316.5);
    }

    #[test]
    fn a_missing_test_fails_and_is_named() {
        let e = check(OUTPUT, &["SET", "INCR", "ZPOPMIN"]).unwrap_err().0;
        assert!(
            e.contains("no `requests per second` line for INCR, ZPOPMIN"),
            "{e}"
        );
        assert!(e.contains("MSET (10 keys): 1200.25"), "{e}");
        // A test cut off mid-way has only progress lines.
        let cut = "\rSET: rps=1996.0 (overall: 1996.0) avg_msec=24.1 (overall: 24.1)\r";
        assert!(check(cut, &["SET"]).is_err());
    }

    #[test]
    fn error_output_fails_the_check() {
        for bad in [
            "Error from server: ERR unknown command 'ZPOPMIN'\n",
            "Error: Connection reset by peer\n",
            "Error: Server closed the connection\n",
            "Writing to socket: Connection reset by peer\r",
        ] {
            let output = format!("{OUTPUT}{bad}");
            let e = check(&output, &["SET"]).unwrap_err().0;
            assert!(e.contains(bad.trim()), "{e}");
        }
        assert!(errors(OUTPUT).is_empty());
    }

    #[test]
    fn the_tail_keeps_the_end_on_lines() {
        let long = format!("{}\rend\r", "x".repeat(5000));
        let t = tail(&long);
        assert!(t.ends_with("\nend"), "{t}");
        assert!(
            t.starts_with('x') && t.len() == TAIL_CHARS - 1,
            "{}",
            t.len()
        );
    }
}
