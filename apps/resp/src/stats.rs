//! The counters `INFO` reports.

use crate::Command;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// Counters of the front end, reported by `INFO` (sections clients,
/// memory and stats) and readable by the component for its own metrics.
/// [`Frontend`](crate::Frontend) and [`Connection`](crate::Connection)
/// keep them up to date; [`used_memory`](Stats::used_memory) is the
/// component's to set. `CONFIG RESETSTAT` zeroes the cumulative ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted since the start (`total_connections_received`),
    /// rejected ones included.
    pub connections_received: u64,
    /// Connections open now (`connected_clients`).
    pub connected: u64,
    /// Connections refused because `maxclients` were open
    /// (`rejected_connections`).
    pub rejected_connections: u64,
    /// Commands run (`total_commands_processed`), forwarded ones included.
    pub commands_processed: u64,
    /// Bytes received from clients (`total_net_input_bytes`).
    pub net_input_bytes: u64,
    /// Bytes of replies produced for clients (`total_net_output_bytes`).
    pub net_output_bytes: u64,
    /// Error replies sent, the store's included (`total_error_replies`).
    pub error_replies: u64,
    /// Connections closed for a protocol error.
    pub protocol_errors: u64,
    /// Connections closed because a command in progress outgrew
    /// `client-query-buffer-limit`.
    pub query_buffer_overflows: u64,
    /// Connections closed because their replies passed
    /// `client-output-buffer-limit`.
    pub output_buffer_overflows: u64,
    /// Connections closed because their input or output would have passed
    /// what all clients may hold together (`evicted_clients`).
    pub evicted_clients: u64,
    /// Memory in use, in bytes (`used_memory`), as the component measures
    /// it; 0 when it does not.
    pub used_memory: u64,
}

impl Stats {
    /// Zeroes the cumulative counters (`CONFIG RESETSTAT`), keeping the
    /// gauges (`connected`, `used_memory`).
    pub fn reset(&mut self) {
        *self = Self {
            connected: self.connected,
            used_memory: self.used_memory,
            ..Self::default()
        };
    }
}

/// A command as `INFO commandstats` counts it: the name of its table row
/// (a subcommand's for a container: `client|list`), none for a command
/// that does not exist; whether it is refused before it runs (its arity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Named {
    pub(crate) name: Option<&'static str>,
    pub(crate) rejected: bool,
}

impl Named {
    /// What the command table says of `cmd`.
    pub(crate) fn of(cmd: Command<'_>) -> Named {
        let Some(container) = crate::table::lookup(cmd.name()) else {
            return Named::default();
        };
        let spec = match cmd.arg(1) {
            Some(sub) if !container.subcommands.is_empty() => match container.subcommand(sub) {
                Some(spec) => spec,
                // Refused, and counted as the container's, as Redis does.
                None => {
                    return Named {
                        name: Some(container.name),
                        rejected: true,
                    };
                }
            },
            _ => container,
        };
        Named {
            name: Some(spec.name),
            rejected: !spec.arity_ok(cmd.len()),
        }
    }
}

/// One command's counts (`cmdstat_<name>`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Calls {
    /// Runs, failed ones included.
    pub(crate) calls: u64,
    /// Microseconds spent (a round's time shared by its commands).
    pub(crate) usec: u64,
    /// Refused before running (`rejected_calls`).
    pub(crate) rejected: u64,
    /// Ran and answered an error (`failed_calls`).
    pub(crate) failed: u64,
    /// The runs by time (`LATENCY HISTOGRAM`): bucket `k` counts those
    /// of at most 2^k µs and more than half that (bucket 0: 1 µs or
    /// less; the last: everything longer).
    pub(crate) histogram: [u64; BUCKETS],
}

/// Latency buckets: up to 2^31 µs (about 36 minutes), and longer.
pub(crate) const BUCKETS: usize = 32;

/// The bucket of a run of `usec` µs.
fn bucket(usec: u64) -> usize {
    if usec <= 1 {
        return 0;
    }
    ((64 - (usec - 1).leading_zeros()) as usize).min(BUCKETS - 1)
}

/// `INFO commandstats` and `INFO errorstats`: counts per command and per
/// error prefix (`ERR`, `WRONGTYPE`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CommandStats {
    pub(crate) commands: BTreeMap<&'static str, Calls>,
    pub(crate) errors: BTreeMap<Vec<u8>, u64>,
}

impl CommandStats {
    /// Counts `named`, which answered `reply`, in `usec` microseconds.
    pub(crate) fn count(&mut self, named: Named, reply: &[u8], usec: u64) {
        let error = reply.strip_prefix(b"-");
        if let Some(name) = named.name {
            let calls = self.commands.entry(name).or_default();
            match (error.is_some(), named.rejected) {
                (true, true) => calls.rejected += 1,
                (failed, _) => {
                    calls.calls += 1;
                    calls.usec += usec;
                    calls.failed += u64::from(failed);
                    calls.histogram[bucket(usec)] += 1;
                }
            }
        }
        if let Some(error) = error {
            self.error(error);
        }
    }

    /// Counts an error reply by its first word (`errorstat_<word>`).
    pub(crate) fn error(&mut self, text: &[u8]) {
        let end = text
            .iter()
            .position(|&b| b == b' ' || b == b'\r')
            .unwrap_or(text.len());
        let word = &text[..end.min(64)];
        let room = self.errors.len() < 128;
        match self.errors.get_mut(word) {
            Some(n) => *n += 1,
            // Redis keeps at most 128 prefixes, to bound the table.
            None if room => {
                self.errors.insert(word.to_vec(), 1);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_fall_in_power_of_two_buckets() {
        assert_eq!([bucket(0), bucket(1), bucket(2), bucket(3)], [0, 0, 1, 2]);
        assert_eq!(
            [bucket(4), bucket(5), bucket(1024), bucket(1025)],
            [2, 3, 10, 11]
        );
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
    }
}
