use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::db::Db;

type Dump = BTreeMap<(usize, Vec<u8>), (String, Option<i64>)>;

/// Every live key at `now` with a canonical rendering of its value.
fn dump(store: &Store, now: u64) -> Dump {
    dump_with(store, now, false)
}

/// [`dump`] as a compaction keeps the data: without the pending entries
/// of consumer groups that are no longer in their stream, which do not
/// survive one, as they do not Redis's rewrite (its XCLAIM … FORCE of
/// them does nothing).
fn dump_as_compacted(store: &Store, now: u64) -> Dump {
    dump_with(store, now, true)
}

fn dump_with(store: &Store, now: u64, compacted: bool) -> Dump {
    let mut out = BTreeMap::new();
    for (i, db) in store.dbs().iter().enumerate() {
        for (k, e) in db.entries() {
            if Db::is_expired(e, now as i64) {
                continue;
            }
            let v = match &e.value {
                Value::Str(s) => format!("str {s:?}"),
                Value::List(l) => format!("list {l:?}"),
                Value::Hash(h) => {
                    let mut v: Vec<_> = h.iter().collect();
                    v.sort();
                    format!("hash {v:?}")
                }
                Value::Set(s) => {
                    let mut v: Vec<_> = s.iter().collect();
                    v.sort();
                    format!("set {v:?}")
                }
                Value::ZSet(z) => {
                    let v: Vec<_> = z.iter().map(|(m, s)| (m.to_vec(), s.to_bits())).collect();
                    format!("zset {v:?}")
                }
                Value::Stream(st) => {
                    let v: Vec<_> = st.iter().map(|(id, f)| (id, f.clone())).collect();
                    let groups: Vec<_> = st
                        .groups
                        .iter()
                        .map(|(n, g)| {
                            let pending: Vec<_> = g
                                .pending
                                .iter()
                                .filter(|(id, _)| !compacted || v.iter().any(|(e, _)| e == *id))
                                .map(|(id, p)| {
                                    (*id, p.consumer.clone(), p.deliveries, p.delivered_ms)
                                })
                                .collect();
                            let consumers: Vec<_> = g.consumers.keys().cloned().collect();
                            (n.clone(), g.last_id, g.entries_read, pending, consumers)
                        })
                        .collect();
                    format!(
                        "stream {v:?} last {:?} deleted {:?} added {} groups {groups:?}",
                        st.last_id, st.max_deleted, st.entries_added
                    )
                }
            };
            out.insert((i, k.clone()), (v, e.expire_at));
        }
    }
    out
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_command(r: &mut Lcg) -> Vec<String> {
    let pick = Pick {
        k: r.below(6),
        k2: r.below(6),
        m: r.below(5),
        n: r.below(300) + 1,
        which: r.below(48),
        rare: r.below(8),
    };
    command(pick)
}

/// The random choices that make one command.
#[derive(Clone, Copy, Debug)]
struct Pick {
    k: u64,
    k2: u64,
    m: u64,
    n: u64,
    which: u64,
    rare: u64,
}

fn pick() -> impl proptest::strategy::Strategy<Value = Pick> {
    use proptest::prelude::*;
    (0u64..6, 0u64..6, 0u64..5, 1u64..301, 0u64..48, 0u64..8).prop_map(
        |(k, k2, m, n, which, rare)| Pick {
            k,
            k2,
            m,
            n,
            which,
            rare,
        },
    )
}

fn command(p: Pick) -> Vec<String> {
    let k = format!("k{}", p.k);
    let k2 = format!("k{}", p.k2);
    let m = format!("m{}", p.m);
    let n = p.n;
    let line = match p.which {
        0 => format!("SET {k} v{n}"),
        1 => format!("SET {k} v{n} EX 1"),
        2 => format!("SET {k} v{n} PX {n}"),
        3 => format!("INCR {k}"),
        4 => format!("INCRBYFLOAT {k} 0.1"),
        5 => format!("APPEND {k} x"),
        6 => format!("DEL {k}"),
        7 => format!("PEXPIRE {k} {n}"),
        8 => format!("PERSIST {k}"),
        9 => format!("LPUSH {k} {m} a"),
        10 => format!("RPOP {k}"),
        11 => format!("HSET {k} {m} {n}"),
        12 => format!("HDEL {k} {m}"),
        13 => format!("SADD {k} {m} m9"),
        14 => format!("SPOP {k}"),
        15 => format!("SREM {k} {m}"),
        16 => format!("ZADD {k} {}.25 {m}", n as i64 - 150),
        17 => format!("ZINCRBY {k} 0.1 {m}"),
        18 => format!("ZPOPMIN {k}"),
        19 => format!("SELECT {}", p.k % 3),
        20 => {
            if p.rare == 0 {
                String::from("FLUSHDB")
            } else {
                format!("GET {k}")
            }
        }
        21 => format!("RENAME {k} {k2}"),
        22 => format!("GETEX {k} PX {n}"),
        23 => format!("SUNIONSTORE {k} {k2} k1"),
        24 => String::from("MULTI"),
        25 => String::from("EXEC"),
        26 => format!("LMOVE {k} {k2} LEFT RIGHT"),
        27 => format!("SETEX {k} 1 y"),
        28 => format!("ZADD {k} inf {m}"),
        29 => format!("SETBIT {k} {n} 1"),
        30 => format!("SETBIT {k} {} 0", n % 16),
        31 => format!(
            "BITFIELD {k} OVERFLOW FAIL INCRBY u8 #{} {n} OVERFLOW WRAP SET i4 {n} -3",
            p.m
        ),
        // Grows the string without WATCH seeing it: still logged.
        32 => format!("BITFIELD {k} OVERFLOW FAIL SET i8 {} 1000", n * 8),
        33 => match p.m {
            0 => format!("BITOP NOT {k} {k2}"),
            1 => format!("BITOP AND {k} {k2} k1"),
            2 => format!("BITOP OR {k} {k2} {k}"),
            _ => format!("BITOP XOR {k} {k2} k5"),
        },
        34 => {
            if p.rare < 4 {
                format!("COPY {k} {k2} DB {} REPLACE", p.m % 3)
            } else {
                format!("COPY {k} {k2}")
            }
        }
        35 => format!("MOVE {k} {}", p.m % 3),
        36 => format!("SWAPDB {} {}", p.k % 3, p.k2 % 3),
        37 => format!("TOUCH {k} {k2}"),
        38 => format!("BITFIELD_RO {k} GET u8 0"),
        // Streams: made, trimmed (approximately too: whole nodes), taken
        // from, their counters set.
        40 => format!("XADD {k} MAXLEN ~ {} {n}-* f {m}", p.rare * 40),
        41 => format!("XDEL {k} {n}-0 {}-1", n / 2),
        42 => format!("XTRIM {k} MINID {}", n / 3),
        43 => format!("XSETID {k} {}-5 ENTRIESADDED 9999", n + 300),
        // Consumer groups: made, read from, acknowledged, claimed.
        44 => format!("XGROUP CREATE {k} g{} 0 MKSTREAM", p.m % 2),
        45 => format!(
            "XREADGROUP GROUP g{} c{} COUNT 3 STREAMS {k} >",
            p.m % 2,
            p.rare % 3
        ),
        46 => format!("XACK {k} g{} {n}-0 {}-1", p.m % 2, n / 2),
        47 => format!(
            "XCLAIM {k} g{} c{} 0 {n}-0 {}-1 RETRYCOUNT 2",
            p.m % 2,
            p.rare % 3,
            n / 2
        ),
        _ => format!("HINCRBYFLOAT {k} {m} 1.5"),
    };
    line.split(' ').map(String::from).collect()
}

fn run(w: &mut AofWriter, st: &mut Store, s: &mut Session, line: &str, now: u64) -> Reply {
    let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
    w.execute(st, s, &args, now, None)
}

#[test]
fn crc32c_known_value() {
    assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(crc32c(0, b"1234"), b"56789"), 0xE306_9283);
    // RFC 3720's test vectors (iSCSI), which run past eight bytes.
    assert_eq!(crc32c(0, &[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(0, &[0xFFu8; 32]), 0x62A8_AB43);
    let ascending: Vec<u8> = (0..32).collect();
    assert_eq!(crc32c(0, &ascending), 0x46DD_794E);
}

/// The checksum eight bytes at a time equals the plain one, byte by
/// byte, for every length, start and split.
#[test]
fn crc32c_by_eight_is_crc32c_by_one() {
    fn by_one(crc: u32, data: &[u8]) -> u32 {
        let mut c = !crc;
        for &b in data {
            c ^= u32::from(b);
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    (c >> 1) ^ 0x82F6_3B78
                } else {
                    c >> 1
                };
            }
        }
        !c
    }
    let mut r = Lcg(7);
    let data: Vec<u8> = (0..300).map(|_| r.next() as u8).collect();
    for start in 0..9 {
        for end in start..data.len() {
            let piece = &data[start..end];
            assert_eq!(crc32c(0, piece), by_one(0, piece), "{start}..{end}");
            let split = (end - start) / 3;
            assert_eq!(
                crc32c(crc32c(5, &piece[..split]), &piece[split..]),
                by_one(by_one(5, &piece[..split]), &piece[split..]),
                "{start}..{end} split at {split}"
            );
        }
    }
}

/// `encoded_len` is what `encode` makes, or more, for any commands and
/// tags (the limit on effect records is checked with it before encoding).
#[test]
fn encoded_len_bounds_the_encoding() {
    let mut r = Lcg(11);
    for case in 0..500 {
        let args: Vec<Vec<Vec<u8>>> = (0..r.next() % 5)
            .map(|_| {
                (0..r.next() % 6)
                    .map(|_| vec![b'a'; (r.next() % 300) as usize])
                    .collect()
            })
            .collect();
        let commands: Vec<Borrowed<'_>> = args
            .iter()
            .map(|a| {
                let db = (r.next() % 16) as u8;
                (db, a.iter().map(|x| Cow::Borrowed(&x[..])).collect())
            })
            .collect();
        let tags: Vec<Tag> = (0..r.next() % 3)
            .map(|i| Tag {
                client: r.next(),
                call: r.next(),
                entry: i as u32,
            })
            .collect();
        let mut out = vec![0; (r.next() % 4) as usize];
        let before = out.len();
        encode(&mut out, 9, 1000, &commands, &tags);
        let made = out.len() - before;
        let bound = encoded_len(&commands, &tags);
        assert!(made <= bound, "case {case}: {made} bytes, bound {bound}");
        assert!(
            bound - made <= 8 * tags.len() + 8,
            "case {case}: a loose bound"
        );
    }
}

#[test]
fn random_round_trips() {
    for seed in 0..40 {
        let mut r = Lcg(seed);
        let mut a = Store::with_seed(seed);
        let mut s = Session::new();
        let mut w = AofWriter::new();
        let mut now = 1_000_000;
        for _ in 0..400 {
            let words = random_command(&mut r);
            let args: Vec<&[u8]> = words.iter().map(String::as_bytes).collect();
            w.execute(&mut a, &mut s, &args, now, None);
            now += r.below(20);
        }
        let mut b = Store::with_seed(seed ^ 0xFFFF);
        let report = replay(w.bytes(), &mut b, 0);
        assert_eq!(report.records, w.records());
        assert_eq!(report.bytes_used, w.bytes().len());
        assert!(!report.torn_tail);
        assert_eq!(report.stop, Stop::End);
        assert_eq!(dump(&a, now), dump(&b, now), "seed {seed}");
        // Compaction recreates the same data set, also later in time.
        let compact = rewrite(&a, now, 0);
        let mut c = Store::new();
        replay(&compact, &mut c, 0);
        assert_eq!(dump(&a, now), dump(&c, now), "seed {seed}");
        assert_eq!(dump(&a, now + 150), dump(&c, now + 150), "seed {seed}");
    }
}

#[test]
fn failed_writes_and_reads_are_not_logged() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    run(&mut w, &mut st, &mut s, "SET k abc", 0);
    run(&mut w, &mut st, &mut s, "HSET h f v", 0);
    let n = w.bytes().len();
    assert_eq!(w.records(), 2);
    for line in [
        "INCR k",
        "LPUSH k x",
        "HINCRBY h f 1",
        "GET k",
        "SELECT 3",
        "SET",
        "NOPE x",
        "EXPIRE missing 10",
        "MULTI",
        "DISCARD",
    ] {
        run(&mut w, &mut st, &mut s, line, 0);
    }
    assert_eq!(w.bytes().len(), n);
    assert_eq!(w.records(), 2);
}

#[test]
fn select_and_multi_replay() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    for line in [
        "SET a 0", "SELECT 5", "SET a 5", "MULTI", "SET b 1", "SELECT 7", "SET c 7", "EXEC",
    ] {
        run(&mut w, &mut st, &mut s, line, 0);
    }
    // SET a 0, SET a 5, and the whole EXEC as one record.
    assert_eq!(w.records(), 3);
    let mut b = Store::new();
    replay(w.bytes(), &mut b, 0);
    assert_eq!(dump(&st, 0), dump(&b, 0));
    assert_eq!(b.dbsize(5), 2);
    assert_eq!(b.dbsize(7), 1);
}

#[test]
fn scripts_and_functions_replay_by_their_effect() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    let lib = b"#!lua name=lib\nredis.register_function('bump', function(keys) return redis.call('incr', keys[1]) end)";
    let random = b"redis.call('set', KEYS[1], math.random(1000000)) redis.call('select', '3') redis.call('set', KEYS[1], 'three') return 1";
    for args in [
        &[&b"EVAL"[..], random, b"1", b"r"][..],
        &[b"FUNCTION", b"LOAD", lib],
        &[b"FCALL", b"bump", b"1", b"n"],
        &[b"FCALL", b"bump", b"1", b"n"],
        &[b"EVAL", b"return redis.call('get', KEYS[1])", b"1", b"r"],
    ] {
        w.execute(&mut st, &mut s, args, 0, None);
    }
    // The EVAL, the load, the two FCALLs; the read logs nothing.
    assert_eq!(w.records(), 4);
    let mut b = Store::new();
    replay(w.bytes(), &mut b, 0);
    assert_eq!(
        dump(&st, 0),
        dump(&b, 0),
        "the random number as it was, and db 3"
    );
    // The library came back with the log, and by a compaction.
    let mut bs = Session::new();
    assert_eq!(
        b.execute(&mut bs, &[b"FCALL", b"bump", b"1", b"n"], 0),
        Reply::Integer(3)
    );
    let mut c = Store::new();
    replay(&rewrite(&st, 0, 0), &mut c, 0);
    assert_eq!(
        c.execute(&mut bs, &[b"FCALL", b"bump", b"1", b"n"], 0),
        Reply::Integer(3)
    );
    // Deleting the last library is logged too.
    w.execute(&mut st, &mut s, &[b"FUNCTION", b"DELETE", b"lib"], 0, None);
    let mut d = Store::new();
    replay(w.bytes(), &mut d, 0);
    assert_eq!(
        d.execute(&mut bs, &[b"FCALL", b"bump", b"1", b"n"], 0),
        Reply::error("ERR Function not found")
    );
}

#[test]
fn bitmap_and_keyspace_commands_replay() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    for line in [
        "SETBIT a 100 1",
        "SETBIT a 100 1",
        "SET b foobar EX 100",
        "BITOP AND c a b",
        "BITOP NOT d b",
        "BITOP OR gone nope",
        "BITFIELD e SET u8 #2 200 OVERFLOW SAT INCRBY i4 0 100",
        "BITFIELD e OVERFLOW FAIL SET i8 400 1000",
        "BITFIELD f OVERFLOW FAIL INCRBY u2 0 9",
        "BITFIELD_RO e GET u8 #2",
        "COPY b b2",
        "COPY b b DB 2",
        "COPY a b REPLACE",
        "MOVE c 1",
        "TOUCH a b",
        "SELECT 1",
        "SET only1 x",
        "SWAPDB 1 3",
        "MULTI",
        "SWAPDB 0 1",
        "SETBIT only1 0 1",
        "SELECT 3",
        "COPY c c DB 0",
        "EXEC",
    ] {
        run(&mut w, &mut st, &mut s, line, 1000);
    }
    // Reads, and writes that changed nothing, are not logged.
    let records = w.records();
    for line in [
        "TOUCH a",
        "SETBIT only1 1 1",
        "BITFIELD_RO e GET u8 0",
        "SWAPDB 2 2",
    ] {
        run(&mut w, &mut st, &mut s, line, 1000);
    }
    assert_eq!(w.records(), records);
    assert_eq!(dump(&st, 1000).len(), 11);
    let mut b = Store::with_seed(5);
    replay(w.bytes(), &mut b, 0);
    assert_eq!(dump(&st, 1000), dump(&b, 1000));
    let mut c = Store::new();
    replay(&rewrite(&st, 1000, 0), &mut c, 0);
    assert_eq!(dump(&st, 1000), dump(&c, 1000));
    // The failed BITFIELD grew e and made f (in database 1 since the
    // swap): both are in the log.
    let mut bs = Session::new();
    b.execute(&mut bs, &[b"SELECT", b"1"], 1000);
    assert_eq!(
        b.execute(&mut bs, &[b"STRLEN", b"e"], 1000),
        Reply::Integer(51)
    );
    assert_eq!(
        b.execute(&mut bs, &[b"EXISTS", b"f"], 1000),
        Reply::Integer(1)
    );
}

#[test]
fn swapdb_during_a_background_compaction() {
    let (mut st, mut s) = (Store::new(), Session::new());
    let mut w = AofWriter::with_salt(1);
    for line in [
        "SET a 0", "SET b 0", "SELECT 1", "SET a 1", "SET c 1", "SELECT 0",
    ] {
        run(&mut w, &mut st, &mut s, line, 0);
    }
    w.shadow(Some(2));
    let mut pending = keys(&st);
    let mut log = Vec::new();
    // Some keys are copied before the swap, the others after.
    for (db, key) in pending.drain(..2) {
        effect_record(&mut log, 2, &st, db, &key, 0, &mut |_| {});
    }
    run(&mut w, &mut st, &mut s, "SWAPDB 0 1", 0);
    run(&mut w, &mut st, &mut s, "SET d 0", 0);
    log.extend(w.take_shadow());
    for (db, key) in w.take_touched() {
        recopy_record(&mut log, 2, &st, db, &key, 0, &mut |_| {});
    }
    for (db, key) in pending.drain(..) {
        effect_record(&mut log, 2, &st, db, &key, 0, &mut |_| {});
    }
    let mut b = Store::new();
    replay(&log, &mut b, 2);
    assert_eq!(dump(&st, 0), dump(&b, 0));
    assert_eq!(b.dbsize(0), 3);
    assert_eq!(b.dbsize(1), 2);
}

/// A small log with records of different sizes.
fn small_log() -> (Vec<u8>, Vec<usize>) {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    let mut ends = vec![0];
    for line in [
        "SET a 1",
        "RPUSH l x y z",
        "SADD s m",
        "INCR a",
        "ZADD z 1.5 q",
        "DEL l",
    ] {
        run(&mut w, &mut st, &mut s, line, 0);
        ends.push(w.bytes().len());
    }
    (w.take(), ends)
}

#[test]
fn truncation_at_every_offset_keeps_whole_records() {
    let (log, ends) = small_log();
    for cut in 0..=log.len() {
        let mut st = Store::new();
        let report = replay(&log[..cut], &mut st, 0);
        let whole = ends.iter().rposition(|&e| e <= cut).unwrap();
        assert_eq!(report.records, whole, "cut {cut}");
        assert_eq!(report.bytes_used, ends[whole], "cut {cut}");
        let mid = cut != ends[whole];
        assert_eq!(report.torn_tail, mid, "cut {cut}");
        assert_eq!(report.stop, if mid { Stop::Incomplete } else { Stop::End });
        // The store holds exactly the prefix.
        let mut expect = Store::new();
        replay(&log[..ends[whole]], &mut expect, 0);
        assert_eq!(dump(&st, 0), dump(&expect, 0), "cut {cut}");
    }
}

#[test]
fn flipped_byte_is_detected() {
    let (log, ends) = small_log();
    for at in 0..log.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = log.clone();
            bad[at] ^= bit;
            let mut st = Store::new();
            let report = replay(&bad, &mut st, 0);
            let rec = ends.iter().rposition(|&e| e <= at).unwrap();
            // Every record before the damaged one is applied, none after.
            assert_eq!(report.records, rec, "byte {at}");
            assert_eq!(report.bytes_used, ends[rec], "byte {at}");
            assert!(report.torn_tail);
            assert_ne!(report.stop, Stop::End);
        }
    }
}

#[test]
fn relative_expiry_is_not_extended_by_late_replay() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    run(&mut w, &mut st, &mut s, "SET k v EX 10", 0);
    run(&mut w, &mut st, &mut s, "SET j v", 0);
    run(&mut w, &mut st, &mut s, "EXPIRE j 30", 0);
    run(&mut w, &mut st, &mut s, "SETEX i 10 v", 0);
    let mut b = Store::new();
    let mut bs = Session::new();
    replay(w.bytes(), &mut b, 0);
    assert_eq!(b.execute(&mut bs, &[b"GET", b"k"], 20_000), Reply::nil());
    assert_eq!(b.execute(&mut bs, &[b"GET", b"i"], 20_000), Reply::nil());
    assert_eq!(
        b.execute(&mut bs, &[b"PTTL", b"j"], 20_000),
        Reply::Integer(10_000)
    );
    // Replayed before its time, the key lives until its original expiry.
    let mut c = Store::new();
    replay(w.bytes(), &mut c, 0);
    assert_eq!(
        c.execute(&mut bs, &[b"PTTL", b"k"], 5_000),
        Reply::Integer(5_000)
    );
}

#[test]
fn compaction_is_smaller_after_overwrites() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    for i in 0..500 {
        run(&mut w, &mut st, &mut s, &format!("SET k{} v{i}", i % 10), 0);
        run(&mut w, &mut st, &mut s, &format!("SELECT {}", i % 16), 0);
        run(
            &mut w,
            &mut st,
            &mut s,
            &format!("HSET h f{} {i}", i % 3),
            0,
        );
    }
    run(&mut w, &mut st, &mut s, "PEXPIRE k1 5000", 0);
    run(&mut w, &mut st, &mut s, "PEXPIRE h 100", 0);
    let compact = rewrite(&st, 0, 0);
    assert!(
        compact.len() * 5 < w.bytes().len(),
        "{} vs {}",
        compact.len(),
        w.bytes().len()
    );
    let mut b = Store::new();
    let report = replay(&compact, &mut b, 0);
    assert_eq!(report.bytes_used, compact.len());
    assert_eq!(dump(&st, 0), dump(&b, 0));
    assert_eq!(dump(&st, 200), dump(&b, 200));
    assert_eq!(dump(&st, 6000), dump(&b, 6000));
    // Keys expired at rewrite time are left out.
    let later = rewrite(&st, 200, 0);
    let mut c = Store::new();
    replay(&later, &mut c, 0);
    assert_eq!(dump(&c, 0), dump(&st, 200));
}

#[test]
fn records_of_another_salt_do_not_replay() {
    let (mut st, mut s) = (Store::new(), Session::new());
    let mut w = AofWriter::with_salt(7);
    run(&mut w, &mut st, &mut s, "SET a 1", 5);
    let mut b = Store::new();
    let report = replay(w.bytes(), &mut b, 8);
    assert_eq!((report.records, report.bytes_used), (0, 0));
    assert_eq!(report.stop, Stop::Corrupt);
    let report = replay(w.bytes(), &mut b, 7);
    assert_eq!(report.records, 1);
    assert_eq!(report.last_time_ms, 5);
    assert_eq!(dump(&st, 5), dump(&b, 5));
}

#[test]
fn a_push_onto_a_long_list_logs_only_the_push() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    for i in 0..1000 {
        run(&mut w, &mut st, &mut s, &format!("RPUSH l item{i}"), 0);
    }
    let before = w.bytes().len();
    run(&mut w, &mut st, &mut s, "LPUSH l x", 0);
    assert!(
        w.bytes().len() - before < 64,
        "{}",
        w.bytes().len() - before
    );
}

#[test]
fn spop_is_logged_as_the_members_it_removed() {
    let (mut st, mut s, mut w) = (Store::with_seed(1), Session::new(), AofWriter::new());
    run(&mut w, &mut st, &mut s, "SADD s a b c d e f", 0);
    run(&mut w, &mut st, &mut s, "SPOP s", 0);
    run(&mut w, &mut st, &mut s, "SPOP s 2", 0);
    run(&mut w, &mut st, &mut s, "SPOP nothing", 0);
    assert_eq!(w.records(), 3);
    // Another seed would pick other members if SPOP were replayed as is.
    for seed in 0..8 {
        let mut b = Store::with_seed(seed);
        replay(w.bytes(), &mut b, 0);
        assert_eq!(dump(&st, 0), dump(&b, 0));
    }
    let (_, first) = decode_record(w.bytes(), 0).unwrap();
    let (record, _) = decode_record(&w.bytes()[first..], 0).unwrap();
    assert_eq!(record.commands[0].args[0], b"SREM");
}

#[test]
fn replay_in_pieces_is_replay_at_once() {
    let (log, ends) = small_log();
    let mut whole = Store::new();
    let report = replay(&log, &mut whole, 0);
    let mut st = Store::new();
    let mut r = Replayer::new(0);
    let mut read = Vec::new();
    let mut consumed = 0;
    for (i, &byte) in log.iter().enumerate() {
        read.push(byte);
        let (used, stop) = r.apply(&mut st, &read[consumed..]);
        consumed += used;
        assert_ne!(stop, Stop::Corrupt, "byte {i}");
    }
    assert_eq!(consumed, *ends.last().unwrap());
    assert_eq!(r.records, report.records);
    assert_eq!(dump(&st, 0), dump(&whole, 0));
}

#[test]
fn replay_uses_the_time_of_each_record() {
    let (mut st, mut s, mut w) = (Store::new(), Session::new(), AofWriter::new());
    run(&mut w, &mut st, &mut s, "SET k v PX 100", 1000);
    // At 1050 k is alive: APPEND extends it and keeps its expiry.
    run(&mut w, &mut st, &mut s, "APPEND k w", 1050);
    // At 1200 k has expired: APPEND makes a new key without expiry.
    run(&mut w, &mut st, &mut s, "SET j v PX 100", 1100);
    run(&mut w, &mut st, &mut s, "APPEND j x", 1300);
    let mut b = Store::new();
    let report = replay(w.bytes(), &mut b, 0);
    assert_eq!(report.last_time_ms, 1300);
    assert_eq!(dump(&st, 1300), dump(&b, 1300));
    let mut bs = Session::new();
    assert_eq!(
        b.execute(&mut bs, &[b"GET", b"j"], 1300),
        Reply::Bulk(Some(b"x".to_vec()))
    );
    assert_eq!(
        b.execute(&mut bs, &[b"GET", b"k"], 1099),
        Reply::Bulk(Some(b"vw".to_vec()))
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Replaying the compacted log gives the data set that replaying the
    /// original log gives, now and later (when expiries have passed).
    #[test]
    fn compaction_is_equivalent(
        picks in proptest::collection::vec(pick(), 1..300),
        steps in proptest::collection::vec(0u64..40, 300),
        seed in proptest::prelude::any::<u64>(),
    ) {
        let (mut st, mut s) = (Store::with_seed(seed), Session::new());
        let mut w = AofWriter::with_salt(seed as u32);
        let mut now = 1_000_000;
        for (p, step) in picks.iter().zip(&steps) {
            let words = command(*p);
            let args: Vec<&[u8]> = words.iter().map(String::as_bytes).collect();
            w.execute(&mut st, &mut s, &args, now, None);
            now += step;
        }
        let mut original = Store::with_seed(seed.rotate_left(7));
        let report = replay(w.bytes(), &mut original, seed as u32);
        proptest::prop_assert_eq!(report.bytes_used, w.bytes().len());
        let compact = rewrite(&original, now, 99);
        let mut compacted = Store::with_seed(seed.rotate_left(13));
        replay(&compact, &mut compacted, 99);
        for later in [0, 100, 1000, 400_000] {
            proptest::prop_assert_eq!(
                dump_as_compacted(&original, now + later),
                dump_as_compacted(&compacted, now + later)
            );
        }
        proptest::prop_assert_eq!(dump(&st, now), dump(&original, now));
    }

    /// A log written in the background — the keys at some moment visited
    /// a few at a time while commands go on, each change's effect record
    /// appended as it happens — replays to the data set at its end.
    #[test]
    fn background_compaction_is_equivalent(
        before in proptest::collection::vec(pick(), 0..150),
        during in proptest::collection::vec(pick(), 1..150),
        per_step in 1usize..5,
        seed in proptest::prelude::any::<u64>(),
    ) {
        let (mut st, mut s) = (Store::with_seed(seed), Session::new());
        let mut w = AofWriter::with_salt(1);
        let mut now = 1_000_000;
        let run = |w: &mut AofWriter, st: &mut Store, s: &mut Session, p: Pick, now: u64| {
            let words = command(p);
            let args: Vec<&[u8]> = words.iter().map(String::as_bytes).collect();
            w.execute(st, s, &args, now, None);
        };
        for p in &before {
            run(&mut w, &mut st, &mut s, *p, now);
            now += p.n % 40;
        }
        w.shadow(Some(2));
        let mut pending = keys(&st);
        let mut log = Vec::new();
        for p in &during {
            run(&mut w, &mut st, &mut s, *p, now);
            log.extend(w.take_shadow());
            now += p.n % 40;
            for (db, key) in w.take_touched() {
                recopy_record(&mut log, 2, &st, db, &key, now, &mut |_| {});
            }
            for (db, key) in pending.drain(..per_step.min(pending.len())) {
                effect_record(&mut log, 2, &st, db, &key, now, &mut |_| {});
            }
        }
        for (db, key) in pending.drain(..) {
            effect_record(&mut log, 2, &st, db, &key, now, &mut |_| {});
        }
        w.shadow(None);
        let mut b = Store::with_seed(!seed);
        let report = replay(&log, &mut b, 2);
        proptest::prop_assert_eq!(report.bytes_used, log.len());
        for later in [0, 100, 400_000] {
            proptest::prop_assert_eq!(
                dump_as_compacted(&st, now + later),
                dump_as_compacted(&b, now + later)
            );
        }
    }
}

#[test]
fn a_large_key_is_compacted_a_piece_at_a_time() {
    let mut st = Store::new();
    let mut s = Session::new();
    let big = vec![b'x'; 3 * RECORD_SPLIT + 5];
    st.execute(&mut s, &[b"SET", b"big", &big, b"PX", b"100000"], 0);
    let members: Vec<Vec<u8>> = (0..20u32)
        .map(|i| {
            let mut m = vec![b'm'; 100_000];
            m.extend_from_slice(format!("{i}").as_bytes());
            m
        })
        .collect();
    let mut sadd: Vec<&[u8]> = vec![b"SADD", b"s"];
    sadd.extend(members.iter().map(Vec::as_slice));
    st.execute(&mut s, &sadd, 0);
    let mut log = Vec::new();
    for key in [&b"big"[..], b"s"] {
        effect_record(&mut log, 7, &st, 0, key, 0, &mut |_| {});
    }
    // Several records, none much over the split: no copy of a whole value.
    let mut at = 0;
    let mut records = 0;
    while at < log.len() {
        let (_, used) = decode_record(&log[at..], 7).expect("a whole record");
        assert!(used <= RECORD_SPLIT + 200_000, "a record of {used} bytes");
        at += used;
        records += 1;
    }
    assert!(records >= 5, "{records} records");
    let mut again = Store::new();
    let report = replay(&log, &mut again, 7);
    assert_eq!(report.records, records);
    assert_eq!(dump(&again, 0), dump(&st, 0));
}

fn tag(client: u64, call: u64, entry: u32) -> Tag {
    Tag {
        client,
        call,
        entry,
    }
}

#[test]
fn tagged_records_carry_their_tag_and_replay_into_marks() {
    let mut st = Store::with_seed(1);
    let mut s = Session::new();
    let mut w = AofWriter::with_salt(9);
    let set: [&[u8]; 3] = [b"SET", b"k", b"v"];
    let get: [&[u8]; 2] = [b"GET", b"k"];
    w.execute(&mut st, &mut s, &set, 10, Some(tag(7, 100, 0)));
    // A read writes no record, so its tag goes nowhere.
    w.execute(&mut st, &mut s, &get, 11, Some(tag(7, 100, 1)));
    w.execute(&mut st, &mut s, &[b"INCR", b"n"], 12, Some(tag(7, 100, 2)));
    w.execute(&mut st, &mut s, &[b"INCR", b"n"], 13, Some(tag(8, 5, 0)));
    w.execute(&mut st, &mut s, &[b"INCR", b"m"], 14, None);
    assert_eq!(w.records(), 4);
    assert_eq!(w.marks().get(&7), Some(&tag(7, 100, 2)));
    assert_eq!(w.marks().get(&8), Some(&tag(8, 5, 0)));
    let log = w.bytes().to_vec();
    let (first, len) = decode_record(&log, 9).unwrap();
    assert_eq!(log[0], RECORD_TAGGED);
    assert_eq!(first.tags, [tag(7, 100, 0)]);
    assert_eq!(
        first.commands[0].args,
        [b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()]
    );
    // The untagged one keeps the original kind.
    let mut at = len;
    for _ in 0..2 {
        at += decode_record(&log[at..], 9).unwrap().1;
    }
    assert_eq!(log[at], RECORD_BATCH);
    assert!(decode_record(&log[at..], 9).unwrap().0.tags.is_empty());

    let mut b = Store::with_seed(2);
    let mut replayer = Replayer::new(9);
    assert_eq!(replayer.apply(&mut b, &log), (log.len(), Stop::End));
    assert_eq!(&replayer.marks, w.marks());
    assert_eq!(dump(&b, 20), dump(&st, 20));
    // A log cut inside the third record knows only the first call's first
    // command took effect.
    let mut c = Store::with_seed(3);
    let mut cut = Replayer::new(9);
    let second = len + decode_record(&log[len..], 9).unwrap().1;
    cut.apply(&mut c, &log[..second - 1]);
    assert_eq!(cut.marks.get(&7), Some(&tag(7, 100, 0)));
    assert_eq!(cut.marks.get(&8), None);
}

#[test]
fn a_marks_record_restates_the_marks_without_commands() {
    let mut marks = Marks::new();
    marks.insert(7, tag(7, 100, 2));
    marks.insert(8, tag(8, 5, 0));
    let mut log = Vec::new();
    encode_marks(&mut log, 3, 50, &marks);
    let (record, len) = decode_record(&log, 3).unwrap();
    assert_eq!(len, log.len());
    assert!(record.commands.is_empty());
    assert_eq!(record.tags, [tag(7, 100, 2), tag(8, 5, 0)]);
    let mut st = Store::with_seed(1);
    let mut r = Replayer::new(3);
    r.apply(&mut st, &log);
    assert_eq!(r.marks, marks);
    // No marks, no record.
    let mut empty = Vec::new();
    encode_marks(&mut empty, 3, 50, &Marks::new());
    assert!(empty.is_empty());
}

#[test]
fn malformed_tags_are_corruption() {
    let mut log = Vec::new();
    encode_record(&mut log, 0, 1, &[], &[tag(1, 2, 3)]);
    // A tag count larger than the payload holds.
    let mut bad = log.clone();
    bad[HEADER_LEN] = 200;
    let crc = crc32c(crc32c(0, &bad[..5]), &bad[HEADER_LEN..]);
    bad[5..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(decode_record(&bad, 0).unwrap_err(), Stop::Corrupt);
    // A tagged record needs a tag.
    let mut none = log.clone();
    none[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&0u32.to_le_bytes());
    let crc = crc32c(crc32c(0, &none[..5]), &none[HEADER_LEN..]);
    none[5..HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(decode_record(&none, 0).unwrap_err(), Stop::Corrupt);
}

#[test]
fn records_moved_out_are_the_bytes_appended_and_a_large_one_keeps_no_room() {
    let (mut st, mut s, mut w) = (Store::with_seed(1), Session::new(), AofWriter::new());
    let mut out = b"earlier".to_vec();
    assert!(!w.move_to(&mut out), "nothing appended yet");
    run(&mut w, &mut st, &mut s, "SET k v", 1000);
    run(&mut w, &mut st, &mut s, "GET k", 1000);
    let appended = w.bytes().to_vec();
    assert!(!appended.is_empty());
    assert!(w.move_to(&mut out));
    assert_eq!(out, [&b"earlier"[..], &appended].concat());
    assert!(w.bytes().is_empty() && !w.move_to(&mut out));
    let kept = w.buffered();
    assert!(
        kept >= appended.len(),
        "the room stays for the next records"
    );
    let big = "x".repeat(200 << 10);
    run(&mut w, &mut st, &mut s, &format!("SET big {big}"), 1000);
    assert!(w.move_to(&mut out));
    assert!(w.buffered() < 64 << 10, "a large record's room goes");
    let mut replayed = Store::with_seed(2);
    let report = replay(&out[7..], &mut replayed, 0);
    assert_eq!(report.bytes_used, out.len() - 7);
    assert_eq!(dump(&replayed, 1000), dump(&st, 1000));
}
