//! Just enough of QEMU's machine protocol (QMP, JSON lines over a Unix
//! socket) for the tests: how many flushes the guest's disks received, and
//! a copy of guest memory (the text screen).

use crate::{Result, fail};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// QEMU's argument for a QMP socket at `socket`, which QEMU creates.
pub fn arg(socket: &Path) -> String {
    format!("unix:{},server=on,wait=off", socket.display())
}

/// A QMP connection, out of negotiation mode.
struct Session {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Session {
    fn open(socket: &Path) -> Result<Session> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| fail!("cannot reach QEMU's QMP socket {}: {e}", socket.display()))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut session = Session { stream, reader };
        // The greeting, then leave negotiation mode.
        session.ask("{\"execute\": \"qmp_capabilities\"}")?;
        Ok(session)
    }

    /// Sends `command` (a JSON object); the answer's line.
    fn ask(&mut self, command: &str) -> Result<String> {
        writeln!(&self.stream, "{command}")?;
        // Events may come first; the answer is the line with "return".
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(fail!("QMP closed the connection"));
            }
            if line.contains("\"return\"") {
                return Ok(line);
            }
            if line.contains("\"error\"") {
                return Err(fail!("QMP {command}: {}", line.trim()));
            }
        }
    }
}

/// Flushes the guest's block devices have completed so far
/// (`query-blockstats`, `flush_operations`, summed over the devices).
pub fn flushes(socket: &Path) -> Result<u64> {
    let stats = Session::open(socket)?.ask("{\"execute\": \"query-blockstats\"}")?;
    Ok(sum_of(&stats, "\"flush_operations\":"))
}

/// Saves `size` bytes of guest physical memory at `address` to `file`
/// (`pmemsave`).
pub fn pmemsave(socket: &Path, address: u64, size: u64, file: &Path) -> Result<()> {
    let command = format!(
        "{{\"execute\": \"pmemsave\", \"arguments\": {{\"val\": {address}, \"size\": {size}, \"filename\": \"{}\"}}}}",
        file.display()
    );
    Session::open(socket)?.ask(&command).map(|_| ())
}

/// Saves the display as a PPM image in `file` (`screendump`).
pub fn screendump(socket: &Path, file: &Path) -> Result<()> {
    let command = format!(
        "{{\"execute\": \"screendump\", \"arguments\": {{\"filename\": \"{}\"}}}}",
        file.display()
    );
    Session::open(socket)?.ask(&command).map(|_| ())
}

/// The sum of the numbers that follow `key` in `json`.
fn sum_of(json: &str, key: &str) -> u64 {
    json.split(key)
        .skip(1)
        .filter_map(|rest| {
            let digits: String = rest
                .trim_start()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse::<u64>().ok()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_counts_are_summed_over_devices() {
        let answer = r#"{"return": [{"device": "ide1-cd0", "stats": {"flush_operations": 0, "wr_bytes": 0}}, {"device": "", "node-name": "disk0", "stats": {"flush_operations": 17, "rd_operations": 3}}]}"#;
        assert_eq!(sum_of(answer, "\"flush_operations\":"), 17);
        assert_eq!(sum_of("{\"return\": []}", "\"flush_operations\":"), 0);
    }
}
