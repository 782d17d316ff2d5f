extern crate std;

use super::*;
use crate::persist::ramdisk::RamDisk;
use alloc::format;
use alloc::string::String;
use std::collections::BTreeMap;

fn args(line: &str) -> Vec<&[u8]> {
    line.split(' ').map(str::as_bytes).collect()
}

/// Every key of database 0 with its type and contents.
fn dump(store: &mut Store, now: u64) -> BTreeMap<String, String> {
    let mut s = Session::new();
    let Reply::Array(Some(keys)) = store.execute(&mut s, &args("KEYS *"), now) else {
        panic!("KEYS answers an array");
    };
    let mut out = BTreeMap::new();
    for k in keys {
        let Reply::Bulk(Some(k)) = k else { panic!() };
        let key = String::from_utf8(k.clone()).unwrap();
        let value = match store.execute(&mut s, &[b"TYPE", &k], now) {
            Reply::Simple(t) if t == "string" => store.execute(&mut s, &[b"GET", &k], now),
            Reply::Simple(t) if t == "list" => {
                store.execute(&mut s, &[b"LRANGE", &k, b"0", b"-1"], now)
            }
            t => t,
        };
        out.insert(key, format!("{value:?}"));
    }
    out
}

fn open(disk: &mut RamDisk) -> (Log<&mut RamDisk>, OpenReport, Store) {
    let mut store = Store::new();
    let (log, report) = Log::open(disk, &mut store, 42).unwrap();
    (log, report, store)
}

#[test]
fn a_zero_disk_is_formatted_and_reopens_empty() {
    let mut disk = RamDisk::new(100);
    let (log, report, _) = open(&mut disk);
    assert!(report.formatted);
    assert_eq!(log.superblock().area_sectors, 49);
    assert_eq!((log.len(), report.records), (0, 0));
    let (log, report, _) = open(&mut disk);
    assert!(!report.formatted && !report.torn_tail);
    assert_eq!(log.superblock().sequence, 1);
    assert_eq!(&disk.sectors[1][..8], MAGIC);
}

#[test]
fn other_disks_are_refused() {
    let mut store = Store::new();
    let mut small = RamDisk::new(MIN_SECTORS - 1);
    assert_eq!(
        Log::open(&mut small, &mut store, 1).unwrap_err(),
        LogError::TooSmall(MIN_SECTORS - 1)
    );
    let mut other = RamDisk::new(100);
    other.sectors[0][..4].copy_from_slice(b"\x7fELF");
    assert!(matches!(
        Log::open(&mut other, &mut store, 1).unwrap_err(),
        LogError::NotALog(first) if first[..4] == *b"\x7fELF"
    ));
    let mut newer = RamDisk::new(100);
    let mut sb = Superblock {
        sequence: 1,
        salt: 1,
        area: 0,
        area_sectors: 49,
    }
    .encode();
    sb[8] = 9;
    let crc = crc32c(0, &sb[..40]);
    sb[40..44].copy_from_slice(&crc.to_le_bytes());
    newer.sectors[1] = sb;
    assert_eq!(
        Log::open(&mut newer, &mut store, 1).unwrap_err(),
        LogError::UnsupportedVersion(9)
    );
    let mut shrunk = RamDisk::new(100);
    open(&mut shrunk);
    shrunk.sectors.truncate(90);
    assert_eq!(
        Log::open(&mut shrunk, &mut store, 1).unwrap_err(),
        LogError::Shrunk {
            needs: 100,
            has: 90
        }
    );
}

/// Runs `lines` under `fsync`; the disk, and how many commands had been
/// answered when each flush happened.
fn run_lines(disk: &mut RamDisk, fsync: Fsync, lines: &[String]) {
    let (log, _, mut store) = open(disk);
    let mut p = Persistence::new(log, fsync);
    let mut s = Session::new();
    for (i, line) in lines.iter().enumerate() {
        let reply = p.execute(&mut store, &mut s, &args(line), 1000 + i as u64 * 300);
        assert!(
            !matches!(reply, Reply::Error(ref e) if e.starts_with("MISCONF")),
            "{line}"
        );
    }
}

fn lines(n: usize, seed: u64) -> Vec<String> {
    let mut x = seed;
    (0..n)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let k = (x >> 33) % 7;
            match (x >> 40) % 5 {
                0 => format!("SET k{k} v{i}"),
                1 => format!("RPUSH l{k} e{i}"),
                2 => format!("DEL k{k}"),
                3 => format!("INCR n{k}"),
                _ => format!("APPEND k{k} {}", "x".repeat((x >> 50) as usize % 1500)),
            }
        })
        .collect()
}

/// The state after the first `n` of `lines`.
fn state_after(lines: &[String], n: usize) -> BTreeMap<String, String> {
    let mut store = Store::new();
    let mut s = Session::new();
    for (i, line) in lines[..n].iter().enumerate() {
        store.execute(&mut s, &args(line), 1000 + i as u64 * 300);
    }
    dump(&mut store, 1_000_000)
}

#[test]
fn under_always_every_answered_write_survives_a_power_cut() {
    let lines = lines(80, 3);
    let mut disk = RamDisk::new(200);
    run_lines(&mut disk, Fsync::Always, &lines);
    assert!(disk.pending.is_empty());
    let mut cut = disk.power_cut(|_| false);
    let (_, report, mut store) = open(&mut cut);
    assert!(!report.torn_tail);
    assert_eq!(
        dump(&mut store, 1_000_000),
        state_after(&lines, lines.len())
    );
}

#[test]
fn a_power_cut_leaves_a_prefix_and_recovery_never_resurrects_old_records() {
    let (mut torn, mut lost) = (0, 0);
    for seed in 0..40u64 {
        let lines = lines(60, seed);
        for fsync in [Fsync::EverySec, Fsync::No] {
            let mut disk = RamDisk::new(300);
            run_lines(&mut disk, fsync, &lines);
            let mut pick = seed;
            let mut cut = disk.power_cut(|_| {
                pick = pick.wrapping_mul(6364136223846793005).wrapping_add(1);
                pick >> 63 == 0
            });
            let (log, report, mut store) = open(&mut cut);
            let got = dump(&mut store, 1_000_000);
            let prefix = (0..=lines.len())
                .rev()
                .find(|&n| state_after(&lines, n) == got)
                .unwrap_or_else(|| panic!("seed {seed} {fsync:?}: not a prefix"));
            // A torn tail starts a new log under a new salt.
            if report.torn_tail {
                assert_eq!(log.superblock().sequence, 2);
                torn += 1;
            }
            lost += usize::from(prefix < lines.len());
            drop(log);
            // More writes after recovery, another cut with nothing landed:
            // the prefix and the new writes, nothing from before the cut.
            let more: Vec<String> = (0..10)
                .map(|i| format!("SET k{} after{i}", i % 3))
                .collect();
            let (log, _, mut store) = open(&mut cut);
            let mut p = Persistence::new(log, Fsync::Always);
            let mut s = Session::new();
            for line in &more {
                p.execute(&mut store, &mut s, &args(line), 2_000_000);
            }
            drop(p);
            let mut again = cut.power_cut(|_| false);
            let (_, report, mut store) = open(&mut again);
            assert!(!report.torn_tail, "seed {seed}");
            let mut expect = Store::new();
            let mut es = Session::new();
            for (i, line) in lines[..prefix].iter().enumerate() {
                expect.execute(&mut es, &args(line), 1000 + i as u64 * 300);
            }
            for line in &more {
                expect.execute(&mut es, &args(line), 2_000_000);
            }
            assert_eq!(
                dump(&mut store, 1_000_000),
                dump(&mut expect, 1_000_000),
                "seed {seed}"
            );
        }
    }
    // The cuts did exercise recovery.
    assert!(torn > 10 && lost > 10, "{torn} torn, {lost} lost");
}

#[test]
fn everysec_flushes_once_a_second_and_no_never() {
    for (fsync, flushes) in [(Fsync::Always, 50), (Fsync::EverySec, 5), (Fsync::No, 0)] {
        let mut disk = RamDisk::new(400);
        let (log, _, mut store) = open(&mut disk);
        let before = 2; // formatting
        let mut p = Persistence::new(log, fsync);
        let mut s = Session::new();
        for i in 0..50u64 {
            // 50 writes, 100 ms apart: 5 seconds.
            p.execute(
                &mut store,
                &mut s,
                &args(&format!("SET k{i} v")),
                1000 + i * 100,
            );
        }
        drop(p);
        assert_eq!(disk.flushes - before, flushes, "{fsync:?}");
    }
}

#[test]
fn compaction_switches_areas_and_keeps_the_data() {
    // Areas of 40 sectors: overwriting one key soon fills one.
    let mut disk = RamDisk::new(82);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    let value = "v".repeat(400);
    for i in 0..200 {
        let line = format!("SET k{} {value}{i}", i % 4);
        let reply = p.execute(&mut store, &mut s, &args(&line), 5000);
        assert_eq!(reply, Reply::ok(), "{i}");
    }
    let sequence = p.log().superblock().sequence;
    assert!(sequence > 5, "{sequence}");
    drop(p);
    let (log, report, mut store) = open(&mut disk);
    assert!(!report.torn_tail);
    assert_eq!(log.superblock().sequence, sequence);
    let got = dump(&mut store, 5000);
    assert_eq!(got.len(), 4);
    assert_eq!(
        got["k3"],
        format!("{:?}", Reply::bulk(format!("{value}199").as_bytes()))
    );
}

#[test]
fn a_full_disk_refuses_writes_and_keeps_what_was_acknowledged() {
    let mut disk = RamDisk::new(MIN_SECTORS);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    let value = "x".repeat(1000);
    let mut acked = Vec::new();
    let mut refused = 0;
    for i in 0..20 {
        let line = format!("SET k{i} {value}");
        match p.execute(&mut store, &mut s, &args(&line), 7000) {
            Reply::Simple(ok) if ok == "OK" => acked.push(i),
            Reply::Error(e) => {
                assert_eq!(
                    e,
                    "MISCONF Errors writing to the AOF file: No space left on device"
                );
                refused += 1;
            }
            r => panic!("{r:?}"),
        }
    }
    assert!(p.refusing());
    assert!(refused >= 10 && acked.len() >= 5, "{acked:?}");
    // Reads still work; writes are refused without touching the store.
    assert_eq!(
        p.execute(&mut store, &mut s, &args("GET k0"), 7000),
        Reply::bulk(value.as_bytes())
    );
    assert!(matches!(
        p.execute(&mut store, &mut s, &args("SET new v"), 7000),
        Reply::Error(_)
    ));
    assert_eq!(
        p.execute(&mut store, &mut s, &args("EXISTS new"), 7000),
        Reply::Integer(0)
    );
    drop(p);
    let (_, _, mut store) = open(&mut disk.power_cut(|_| false));
    let got = dump(&mut store, 7000);
    for i in acked {
        assert!(got.contains_key(&format!("k{i}")), "k{i}");
    }
}

#[test]
fn after_deletes_a_full_disk_takes_writes_again() {
    let mut disk = RamDisk::new(MIN_SECTORS);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    let value = "x".repeat(1000);
    let mut now = 1000;
    let mut i = 0;
    while !p.refusing() {
        p.execute(&mut store, &mut s, &args(&format!("SET k{i} {value}")), now);
        i += 1;
    }
    // Keys that expire free the space; a second later a write is retried.
    for k in 0..i {
        store.execute(&mut s, &args(&format!("PEXPIRE k{k} 10")), now);
    }
    now += 2000;
    assert_eq!(
        p.execute(&mut store, &mut s, &args("SET fresh v"), now),
        Reply::ok()
    );
    assert!(!p.refusing());
}

#[test]
fn a_torn_superblock_falls_back_to_the_other_copy() {
    let mut disk = RamDisk::new(100);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    p.execute(&mut store, &mut s, &args("SET a 1"), 1);
    drop(p);
    // Sequence 1 is in sector 1; sector 0 is a torn write of sequence 2.
    disk.sectors[0][..8].copy_from_slice(MAGIC);
    disk.sectors[0][16] = 2;
    let (log, report, mut store) = open(&mut disk);
    assert_eq!(log.superblock().sequence, 1);
    assert_eq!(report.records, 1);
    assert_eq!(
        store.execute(&mut Session::new(), &args("GET a"), 1),
        Reply::bulk(b"1")
    );
}

#[test]
fn device_errors_become_error_replies() {
    let mut disk = RamDisk::new(100);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    assert_eq!(
        p.execute(&mut store, &mut s, &args("SET a 1"), 1),
        Reply::ok()
    );
    p.log.device.fail = true;
    assert_eq!(
        p.execute(&mut store, &mut s, &args("SET b 2"), 1),
        Reply::error("MISCONF Errors writing to the AOF file: Input/output error")
    );
    p.log.device.fail = false;
    assert_eq!(
        p.execute(&mut store, &mut s, &args("SET c 3"), 1),
        Reply::ok()
    );
    drop(p);
    let (_, _, mut store) = open(&mut disk.power_cut(|_| false));
    // The failed change went out with the next one.
    let got = dump(&mut store, 1);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
}

#[test]
fn compaction_in_the_background_takes_steps_and_survives_cuts_at_each() {
    // 1,500 keys of ~200 bytes fill three quarters of a 420 KiB area, so a
    // compaction starts; it copies 64 keys per change.
    let mut disk = RamDisk::new(2 + 2 * 840);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    let mut s = Session::new();
    let value = "v".repeat(200);
    let mut lines = Vec::new();
    let mut i = 0;
    while !p.log().compacting() {
        lines.push(format!("SET k{i} {value}"));
        p.execute(&mut store, &mut s, &args(lines.last().unwrap()), 1000);
        i += 1;
    }
    let started = i;
    let mut steps = 0;
    let mut cuts = Vec::new();
    while p.log().compacting() {
        // Changes while it runs: overwrites, deletes, new keys.
        let line = match steps % 3 {
            0 => format!("SET k{} changed{steps}", steps * 7 % started),
            1 => format!("DEL k{}", steps * 13 % started),
            _ => format!("RPUSH fresh{steps} a b"),
        };
        assert_eq!(
            p.execute(&mut store, &mut s, &args(&line), 1000),
            if steps % 3 == 1 {
                Reply::Integer(1)
            } else if steps % 3 == 0 {
                Reply::ok()
            } else {
                Reply::Integer(2)
            },
            "{line}"
        );
        lines.push(line);
        steps += 1;
        cuts.push((p.log.device.power_cut(|_| true), lines.len()));
        cuts.push((p.log.device.power_cut(|_| false), lines.len()));
    }
    assert!(steps >= 20, "{steps} steps");
    assert_eq!(p.log().superblock().sequence, 2);
    drop(p);
    // Every cut, before and after the switch, recovers every answered write.
    for (mut cut, answered) in cuts {
        let (_, report, mut got) = open(&mut cut);
        assert!(!report.torn_tail);
        assert_eq!(dump(&mut got, 1000), state_at(&lines[..answered]));
    }
    let (log, report, mut got) = open(&mut disk);
    assert_eq!(log.superblock().sequence, 2);
    assert!(report.records < lines.len(), "the new log is compact");
    assert_eq!(dump(&mut got, 1000), state_at(&lines));
}

/// The state after `lines`, all at time 1000.
fn state_at(lines: &[String]) -> BTreeMap<String, String> {
    let mut store = Store::new();
    let mut s = Session::new();
    for line in lines {
        store.execute(&mut s, &args(line), 1000);
    }
    dump(&mut store, 1000)
}

#[test]
fn grouped_changes_wait_for_one_settle() {
    let mut disk = RamDisk::new(200);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    p.set_grouped(true);
    let mut s = Session::new();
    assert!(!p.unsettled());
    for i in 0..10 {
        let reply = p.execute(&mut store, &mut s, &args(&format!("SET k{i} v")), 5);
        assert_eq!(reply, Reply::ok());
        assert!(p.unsettled());
    }
    // A read changes nothing: nothing more to settle.
    p.execute(&mut store, &mut s, &args("GET k1"), 5);
    // Nothing reached the disk yet: a cut now loses the (unanswered) batch.
    let flushes = p.log.device.flushes;
    let (_, _, mut before) = open(&mut p.log.device.power_cut(|_| true));
    assert!(dump(&mut before, 5).is_empty());
    p.settle(&store, 5).unwrap();
    assert!(!p.unsettled());
    assert_eq!(p.log.device.flushes, flushes + 1, "one flush for the batch");
    let (_, report, mut after) = open(&mut p.log.device.power_cut(|_| false));
    assert_eq!(report.records, 10);
    assert_eq!(dump(&mut after, 5).len(), 10);
    // A settle with nothing to do does not flush.
    p.settle(&store, 5).unwrap();
    assert_eq!(p.log.device.flushes, flushes + 1);
}

#[test]
fn a_failed_settle_keeps_the_batch_for_the_next() {
    let mut disk = RamDisk::new(200);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::Always);
    p.set_grouped(true);
    let mut s = Session::new();
    p.execute(&mut store, &mut s, &args("SET a 1"), 5);
    p.log.device.fail = true;
    assert_eq!(p.settle(&store, 5), Err(LogError::Device(DeviceError::Io)));
    p.log.device.fail = false;
    p.execute(&mut store, &mut s, &args("SET b 2"), 5);
    p.settle(&store, 5).unwrap();
    let (_, _, mut got) = open(&mut p.log.device.power_cut(|_| false));
    assert_eq!(dump(&mut got, 5).keys().collect::<Vec<_>>(), ["a", "b"]);
}

#[test]
fn under_everysec_a_group_is_written_at_once_and_flushed_once_a_second() {
    let mut disk = RamDisk::new(200);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::EverySec);
    p.set_grouped(true);
    let mut s = Session::new();
    let flushes = p.log.device.flushes;
    p.execute(&mut store, &mut s, &args("SET a 1"), 5);
    p.execute(&mut store, &mut s, &args("SET b 2"), 5);
    assert!(p.unsettled());
    assert!(
        p.log.device.pending.is_empty(),
        "nothing written before settle"
    );
    p.settle(&store, 5).unwrap();
    assert!(!p.unsettled());
    // Written in one request, not flushed: a second has not passed.
    assert_eq!(p.log.device.flushes, flushes);
    let (_, _, mut got) = open(&mut p.log.device.power_cut(|_| true));
    assert_eq!(dump(&mut got, 5).len(), 2);
    p.execute(&mut store, &mut s, &args("SET c 3"), 1500);
    p.settle(&store, 1500).unwrap();
    assert_eq!(p.log.device.flushes, flushes + 1);
    let (_, _, mut got) = open(&mut p.log.device.power_cut(|_| false));
    assert_eq!(dump(&mut got, 5).len(), 3);
}

#[test]
fn under_everysec_an_idle_server_is_due_to_flush_a_second_after_the_last_flush() {
    let mut disk = RamDisk::new(200);
    let (log, _, mut store) = open(&mut disk);
    let mut p = Persistence::new(log, Fsync::EverySec);
    p.set_grouped(true);
    let mut s = Session::new();
    assert_eq!(p.flush_due_ms(), None, "nothing written, nothing due");
    p.execute(&mut store, &mut s, &args("SET a 1"), 5000);
    p.settle(&store, 5000).unwrap();
    // The first write flushed at once (the last flush was at 0).
    assert_eq!(p.flush_due_ms(), None);
    p.execute(&mut store, &mut s, &args("SET b 2"), 5200);
    p.settle(&store, 5200).unwrap();
    let flushes = p.log.device.flushes;
    assert_eq!(
        p.flush_due_ms(),
        Some(6000),
        "a second after the last flush"
    );
    p.tick(5900).unwrap();
    assert_eq!(p.log.device.flushes, flushes, "not yet");
    p.tick(6000).unwrap();
    assert_eq!(p.log.device.flushes, flushes + 1, "flushed while idle");
    assert_eq!(p.flush_due_ms(), None);
    let (_, _, mut got) = open(&mut p.log.device.power_cut(|_| false));
    assert_eq!(dump(&mut got, 6000).len(), 2, "both durable");
    // Nothing to wait for under the other policies.
    for fsync in [Fsync::Always, Fsync::No] {
        let mut disk = RamDisk::new(200);
        let (log, _, mut store) = open(&mut disk);
        let mut p = Persistence::new(log, fsync);
        p.set_grouped(true);
        p.execute(&mut store, &mut s, &args("SET a 1"), 5000);
        p.settle(&store, 5000).unwrap();
        assert_eq!(p.flush_due_ms(), None, "{fsync:?}");
    }
}

#[test]
fn a_value_larger_than_a_chunk_is_compacted_in_pieces() {
    // 12 MiB of area each; a 5 MiB string compacts into records written as
    // they are made.
    let mut disk = RamDisk::new(2 + 2 * 24_576);
    let (mut log, _, mut store) = open(&mut disk);
    let mut s = Session::new();
    let big = alloc::vec![b'x'; 5 << 20];
    store.execute(&mut s, &[b"SET", b"big", &big], 1000);
    store.execute(&mut s, &args("SET small 1"), 1000);
    log.compact(&store, &kvs_core::aof::Marks::new(), 1000)
        .unwrap();
    // A chunk and a record at most (the whole value would be 5 MiB).
    assert!(log.tail.capacity() < 4 << 20, "no whole copy stayed behind");
    drop(log);
    let (_, report, mut got) = open(&mut disk);
    assert!(report.records >= 6, "{} records", report.records);
    assert_eq!(dump(&mut got, 1000), dump(&mut store, 1000));
}

const MIB: usize = 1 << 20;

/// A store logged on `disk` (`everysec`) holding `big`, 12 MiB of `x`
/// appended a MiB at a time; the allocations of `disk` are not noted.
fn with_large_key(disk: &mut RamDisk) -> (Persistence<Unnoted<'_>>, Store, Session) {
    let mut store = Store::new();
    let (log, _) = Log::open(Unnoted(disk), &mut store, 42).unwrap();
    let mut p = Persistence::new(log, Fsync::EverySec);
    let mut s = Session::new();
    let piece = alloc::vec![b'x'; MIB];
    for i in 1..=12 {
        let reply = p.execute(&mut store, &mut s, &[b"APPEND", b"big", &piece], 1000);
        assert_eq!(reply, Reply::Integer((i * MIB) as i64));
    }
    (p, store, s)
}

#[test]
fn a_compaction_that_outgrows_its_area_makes_no_copy_of_a_large_key() {
    // Areas of 16 MiB and a key of 12 MiB that changes during a
    // compaction: each change copies it to the new log again, which soon
    // outgrows its area. The compaction is dropped; until then, and
    // after, no step holds more than a piece or two of the key (a MiB
    // each) in memory.
    let mut disk = RamDisk::new(2 + 2 * (16 * MIB / SECTOR) as u64);
    let (mut p, mut store, mut s) = with_large_key(&mut disk);
    p.compact_in_background(&store);
    let mut dropped = false;
    for i in 0..5u64 {
        assert!(p.log().compacting() || dropped);
        crate::largest::take();
        // A change that does not grow the key: the value is not
        // reallocated, so what the step allocates is the compaction's.
        let reply = p.execute(
            &mut store,
            &mut s,
            &args(&format!("SETRANGE big {i} y")),
            1000,
        );
        let largest = crate::largest::take();
        assert_eq!(reply, Reply::Integer(12 * MIB as i64));
        assert!(largest <= 3 * MIB, "change {i}: a block of {largest} bytes");
        dropped |= !p.log().compacting();
    }
    assert!(dropped, "the new log outgrew its area");
    // Nothing was lost.
    drop(p);
    let (_, _, mut store) = open(&mut disk);
    let Reply::Bulk(Some(v)) = store.execute(&mut s, &args("GET big"), 1000) else {
        panic!("the key is there");
    };
    assert_eq!((v.len(), &v[..6]), (12 * MIB, &b"yyyyyx"[..]));
}

/// A device whose own allocations (the RAM disk's records of unflushed
/// writes) [`crate::largest`] leaves out.
#[derive(Debug)]
struct Unnoted<'a>(&'a mut RamDisk);

impl SectorDevice for Unnoted<'_> {
    fn sectors(&self) -> u64 {
        self.0.sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        crate::largest::unnoted(|| self.0.read(sector, buf))
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        crate::largest::unnoted(|| self.0.write(sector, data))
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        crate::largest::unnoted(|| self.0.flush())
    }
}

#[test]
fn a_transaction_on_a_large_key_is_logged_by_a_compaction() {
    // A transaction's or a script's effect restates the keys it touched:
    // for a key of 12 MiB the record would be a second copy of it. The
    // change goes to the log by a compaction instead, a piece at a time,
    // and nothing is written after it until one has.
    let mut disk = RamDisk::new(2 + 2 * (64 * MIB / SECTOR) as u64);
    let (mut p, mut store, mut s) = with_large_key(&mut disk);
    let sequence = p.log().superblock().sequence;
    let mut run = |p: &mut Persistence<_>, line: &str| {
        crate::largest::take();
        let reply = p.execute(&mut store, &mut s, &args(line), 1000);
        let largest = crate::largest::take();
        assert!(largest <= 3 * MIB, "{line}: a block of {largest} bytes");
        reply
    };
    assert_eq!(run(&mut p, "MULTI"), Reply::ok());
    run(&mut p, "SETRANGE big 0 y");
    assert_eq!(
        run(&mut p, "EXEC"),
        Reply::Array(Some(alloc::vec![Reply::Integer(12 * MIB as i64)]))
    );
    assert_eq!(p.log().superblock().sequence, sequence + 1, "compacted");
    // A compaction that fails leaves the log behind: the change is
    // refused an answer, and the next change waits for one that works.
    p.log.device.0.fail = true;
    let script = "EVAL return(redis.call('setrange',KEYS[1],1,'z')) 1 big";
    assert!(matches!(run(&mut p, script), Reply::Error(e) if e.starts_with("MISCONF")));
    assert!(!p.last_write_ok());
    p.log.device.0.fail = false;
    assert_eq!(run(&mut p, "SET after 1"), Reply::ok());
    assert!(p.last_write_ok());
    assert_eq!(p.log().superblock().sequence, sequence + 2);
    drop(p);
    let (_, _, mut store) = open(&mut disk);
    let Reply::Bulk(Some(v)) = store.execute(&mut s, &args("GET big"), 1000) else {
        panic!("the key is there");
    };
    assert_eq!((v.len(), &v[..3]), (12 * MIB, &b"yzx"[..]));
    assert_eq!(
        store.execute(&mut s, &args("GET after"), 1000),
        Reply::bulk(b"1")
    );
}
