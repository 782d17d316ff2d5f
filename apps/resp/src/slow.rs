//! The slow log (`SLOWLOG`) and the latency monitor (`LATENCY`): what
//! took long, as Redis 7.0 keeps it.
//!
//! A command's time is what the front end measures around it: for one
//! it runs at once, its own; for one of a round, an equal share of the
//! round's (the store runs a round's commands in one call). EXEC is
//! logged as itself, its queued commands being the store's to run.

use crate::config::Slow;
use crate::reply;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;

/// The most arguments an entry keeps (the last of them then says how
/// many more there were), and the most bytes of each.
const MAX_ARGS: usize = 32;
const MAX_ARG_BYTES: usize = 128;

/// The samples kept per latency event.
const HISTORY: usize = 160;

/// One slow log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    id: u64,
    /// Unix time, seconds.
    time: u64,
    usec: u64,
    args: Vec<Vec<u8>>,
    addr: Vec<u8>,
    name: Vec<u8>,
}

/// One latency event's samples (`command`): when and how long, in
/// milliseconds, newest last; and the longest ever.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Event {
    samples: VecDeque<(u64, u64)>,
    max: u64,
}

/// The slow log and the latency events.
#[derive(Clone, Debug, Default)]
pub(crate) struct SlowLog {
    entries: VecDeque<Entry>,
    next_id: u64,
    events: BTreeMap<&'static str, Event>,
}

/// Who ran a command (an entry's last two fields).
pub(crate) struct Client<'a> {
    pub(crate) addr: &'a [u8],
    pub(crate) name: &'a [u8],
}

impl SlowLog {
    /// Records a command that ran for `usec` microseconds at `now_us` (a
    /// Unix time), as `limits` say: in the slow log, and as a `command`
    /// latency event.
    pub(crate) fn record<'a>(
        &mut self,
        limits: Slow,
        args: impl ExactSizeIterator<Item = &'a [u8]>,
        usec: u64,
        now_us: u64,
        client: Client<'_>,
    ) {
        let time = now_us / 1_000_000;
        let ms = usec / 1000;
        if limits.latency_threshold_ms > 0 && ms >= limits.latency_threshold_ms {
            let event = self.events.entry("command").or_default();
            // Samples of one second share it: the longest stays.
            match event.samples.back_mut() {
                Some((t, longest)) if *t == time => *longest = (*longest).max(ms),
                _ => {
                    if event.samples.len() == HISTORY {
                        event.samples.pop_front();
                    }
                    event.samples.push_back((time, ms));
                }
            }
            event.max = event.max.max(ms);
        }
        let Ok(slower_than) = u64::try_from(limits.log_slower_than_us) else {
            return;
        };
        if usec < slower_than {
            return;
        }
        let count = args.len();
        let mut kept: Vec<Vec<u8>> = Vec::with_capacity(count.min(MAX_ARGS));
        for (i, arg) in args.enumerate() {
            if count > MAX_ARGS && i == MAX_ARGS - 1 {
                let more = alloc::format!("... ({} more arguments)", count - i);
                kept.push(more.into_bytes());
                break;
            }
            let mut a = arg[..arg.len().min(MAX_ARG_BYTES)].to_vec();
            if arg.len() > MAX_ARG_BYTES {
                let more = alloc::format!("... ({} more bytes)", arg.len() - MAX_ARG_BYTES);
                a.extend_from_slice(more.as_bytes());
            }
            kept.push(a);
        }
        self.entries.push_front(Entry {
            id: self.next_id,
            time,
            usec,
            args: kept,
            addr: client.addr.to_vec(),
            name: client.name.to_vec(),
        });
        self.next_id += 1;
        let max = usize::try_from(limits.log_max_len).unwrap_or(usize::MAX);
        self.entries.truncate(max);
    }

    /// `SLOWLOG GET [count]` (the newest first; -1: all), `LEN`, `RESET`.
    pub(crate) fn get(&self, count: Option<i64>, out: &mut Vec<u8>) {
        let count = match count {
            None => 10,
            Some(n) if n < 0 => usize::MAX,
            Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
        };
        let shown = self.entries.len().min(count);
        reply::array(out, shown);
        for e in self.entries.iter().take(shown) {
            reply::array(out, 6);
            reply::int(out, e.id as i64);
            reply::int(out, e.time as i64);
            reply::int(out, e.usec as i64);
            reply::array(out, e.args.len());
            for a in &e.args {
                reply::bulk(out, a);
            }
            reply::bulk(out, &e.addr);
            reply::bulk(out, &e.name);
        }
    }

    /// `SLOWLOG LEN`.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// `SLOWLOG RESET`.
    pub(crate) fn reset(&mut self) {
        self.entries.clear();
    }

    /// `LATENCY LATEST`: each event, its latest sample and its longest.
    pub(crate) fn latest(&self, out: &mut Vec<u8>) {
        reply::array(out, self.events.len());
        for (name, e) in &self.events {
            let (time, ms) = e.samples.back().copied().unwrap_or_default();
            reply::array(out, 4);
            reply::bulk(out, name.as_bytes());
            reply::int(out, time as i64);
            reply::int(out, ms as i64);
            reply::int(out, e.max as i64);
        }
    }

    /// `LATENCY HISTORY event`: its samples, oldest first.
    pub(crate) fn history(&self, event: &[u8], out: &mut Vec<u8>) {
        let samples = self
            .events
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, e)| &e.samples);
        reply::array(out, samples.map_or(0, VecDeque::len));
        for &(time, ms) in samples.into_iter().flatten() {
            reply::array(out, 2);
            reply::int(out, time as i64);
            reply::int(out, ms as i64);
        }
    }

    /// `LATENCY GRAPH event`: its samples as a chart of text, at `now_us`
    /// (a Unix time): Redis's first two lines (the highest and lowest
    /// sample, the longest ever; a rule), then a column per sample, the
    /// newest 80, oldest first: a bar of up to four rows scaled to the
    /// highest, and under it how long ago it was, written downwards
    /// (`5s`, `3m`, `2h`, `1d`). An error for an event without samples.
    pub(crate) fn graph(&self, event: &[u8], now_us: u64) -> Result<String, String> {
        let Some(e) = self
            .events
            .iter()
            .find(|(name, _)| name.as_bytes() == event)
            .map(|(_, e)| e)
            .filter(|e| !e.samples.is_empty())
        else {
            return Err(alloc::format!(
                "ERR No samples available for event '{}'",
                String::from_utf8_lossy(event)
            ));
        };
        let name = String::from_utf8_lossy(event);
        let samples: Vec<(u64, u64)> = e.samples.iter().rev().take(80).rev().copied().collect();
        let high = samples.iter().map(|s| s.1).max().unwrap_or(0);
        let low = samples.iter().map(|s| s.1).min().unwrap_or(0);
        let mut text = alloc::format!(
            "{name} - high {high} ms, low {low} ms (all time high {} ms)\n{}\n",
            e.max,
            "-".repeat(80)
        );
        const ROWS: u64 = 4;
        for row in (0..ROWS).rev() {
            let line: String = samples
                .iter()
                .map(|&(_, ms)| {
                    let height = (ms * ROWS).div_ceil(high.max(1)).max(1);
                    if height > row { '#' } else { ' ' }
                })
                .collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        let now = now_us / 1_000_000;
        let ages: Vec<Vec<u8>> = samples
            .iter()
            .map(|&(time, _)| {
                let ago = now.saturating_sub(time);
                let (n, unit) = match ago {
                    0..60 => (ago, 's'),
                    60..3600 => (ago / 60, 'm'),
                    3600..86_400 => (ago / 3600, 'h'),
                    _ => (ago / 86_400, 'd'),
                };
                alloc::format!("{n}{unit}").into_bytes()
            })
            .collect();
        let depth = ages.iter().map(Vec::len).max().unwrap_or(0);
        for row in 0..depth {
            let line: String = ages
                .iter()
                .map(|a| a.get(row).map_or(' ', |&c| char::from(c)))
                .collect();
            text.push_str(line.trim_end());
            text.push('\n');
        }
        Ok(text)
    }

    /// `LATENCY RESET [event …]`: how many events it dropped (all, with
    /// none named).
    pub(crate) fn reset_events(&mut self, names: &[&[u8]]) -> usize {
        let before = self.events.len();
        if names.is_empty() {
            self.events.clear();
        } else {
            self.events
                .retain(|name, _| !names.contains(&name.as_bytes()));
        }
        before - self.events.len()
    }

    /// Whether any latency event was recorded (`LATENCY DOCTOR`).
    pub(crate) fn has_events(&self) -> bool {
        !self.events.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    const ALL: Slow = Slow {
        log_slower_than_us: 0,
        log_max_len: 3,
        latency_threshold_ms: 5,
    };

    fn client() -> Client<'static> {
        Client {
            addr: b"10.0.0.1:5000",
            name: b"",
        }
    }

    #[test]
    fn entries_keep_32_arguments_of_128_bytes_and_the_newest() {
        let mut log = SlowLog::default();
        let long = vec![b'k'; 200];
        let args: Vec<&[u8]> = [&b"SET"[..], &long, b"v"].into();
        log.record(ALL, args.into_iter(), 7, 1_700_000_000_000_000, client());
        let many: Vec<Vec<u8>> = (0..41)
            .map(|i| alloc::format!("a{i}").into_bytes())
            .collect();
        log.record(
            ALL,
            many.iter().map(Vec::as_slice),
            9,
            1_700_000_001_000_000,
            client(),
        );
        let newest = &log.entries[0];
        assert_eq!((newest.id, newest.time, newest.usec), (1, 1_700_000_001, 9));
        assert_eq!(newest.args.len(), 32);
        assert_eq!(newest.args[31], b"... (10 more arguments)");
        let first = &log.entries[1];
        assert_eq!(first.args[1].len(), 128 + "... (72 more bytes)".len());
        assert!(first.args[1].ends_with(b"k... (72 more bytes)"));
        for _ in 0..3 {
            log.record(ALL, [&b"PING"[..]].into_iter(), 1, 0, client());
        }
        assert_eq!(log.len(), 3, "slowlog-max-len");
        let mut out = Vec::new();
        log.get(Some(1), &mut out);
        assert!(out.starts_with(b"*1\r\n*6\r\n:4\r\n:0\r\n:1\r\n*1\r\n$4\r\nPING\r\n"));
    }

    #[test]
    fn thresholds_decide() {
        let mut log = SlowLog::default();
        let off = Slow {
            log_slower_than_us: -1,
            log_max_len: 128,
            latency_threshold_ms: 0,
        };
        log.record(off, [&b"GET"[..]].into_iter(), 1 << 30, 0, client());
        assert_eq!(log.len(), 0);
        assert!(!log.has_events());
        log.record(ALL, [&b"GET"[..]].into_iter(), 4_999, 2_000_000, client());
        assert!(!log.has_events(), "under 5 ms");
        log.record(ALL, [&b"GET"[..]].into_iter(), 6_000, 3_000_000, client());
        log.record(ALL, [&b"GET"[..]].into_iter(), 9_000, 3_500_000, client());
        log.record(ALL, [&b"GET"[..]].into_iter(), 5_000, 4_000_000, client());
        let mut out = Vec::new();
        log.latest(&mut out);
        assert_eq!(out, b"*1\r\n*4\r\n$7\r\ncommand\r\n:4\r\n:5\r\n:9\r\n");
        out.clear();
        log.history(b"command", &mut out);
        assert_eq!(out, b"*2\r\n*2\r\n:3\r\n:9\r\n*2\r\n:4\r\n:5\r\n");
        assert_eq!(log.reset_events(&[b"nope"]), 0);
        assert_eq!(log.reset_events(&[]), 1);
    }

    #[test]
    fn graphs_draw_the_samples() {
        let mut log = SlowLog::default();
        assert_eq!(
            log.graph(b"command", 0),
            Err(String::from("ERR No samples available for event 'command'"))
        );
        log.record(ALL, [&b"GET"[..]].into_iter(), 8_000, 10_000_000, client());
        log.record(ALL, [&b"GET"[..]].into_iter(), 6_000, 70_000_000, client());
        let text = log.graph(b"command", 75_000_000).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "command - high 8 ms, low 6 ms (all time high 8 ms)"
        );
        assert_eq!(lines[1], "-".repeat(80));
        // Four rows of bars: the 8 ms one full, the 6 ms one three.
        assert_eq!(&lines[2..6], ["#", "##", "##", "##"]);
        // Then how long ago, downwards: 1 minute, 5 seconds.
        assert_eq!(&lines[6..], ["15", "ms"]);
    }
}
