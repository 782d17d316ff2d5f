//! The differential test: the same commands go to a kvs-core [`Store`]
//! and to a real Redis 7.0 server, and every reply must be the same, byte
//! for byte, in RESP2.
//!
//! It needs `redis-server` 7.0.x. `cargo xtask test` starts one of its
//! own for the host tests (on a free port, killed afterwards) and sets
//! `KVS_DIFF_REQUIRED=1`, so there a missing or wrong server fails the
//! test. A plain `cargo test` looks on 127.0.0.1:7777 (start one with
//! `redis-server --port 7777 --save '' --appendonly no --daemonize yes`)
//! and, when nothing answers or it is not Redis 7.0, prints why and
//! passes without comparing anything (`--nocapture` shows the message).
//!
//! - `KVS_DIFF_ADDR` (default `127.0.0.1:7777`): where the server is.
//! - `KVS_DIFF_REQUIRED=1`: no skipping; without a Redis 7.0 the test
//!   fails.
//! - `KVS_DIFF_SEED`: the seed of the random commands (printed at the
//!   start, and with any difference); by default one from the clock.
//! - `KVS_DIFF_ROUNDS` (default 3000): how many random commands.
//! - `KVS_DIFF_HISTORY` (default 25): how many of the commands before a
//!   difference it shows.
//! - `KVS_DIFF_OWN_SERVER=1`: the server is the test's alone, so SWAPDB
//!   may really swap databases 0 to 2.
//!
//! The server may be shared: every key the test uses starts with a prefix
//! of its own (`kvsdiff:<pid>:<time>:`), it touches no other key, uses
//! databases 0 to 2, deletes its keys when done, and unless told the
//! server is its own never swaps databases (only SWAPDB's errors and a
//! swap of a database with itself are compared). Expiry is left out: the
//! server's clock runs, the store's does not.
//!
//! Covered: the bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO) with negative and out-of-range offsets and
//! ranges, both units, every overflow mode and extreme values, and the
//! key-space commands COPY, MOVE, TOUCH and SWAPDB, LCS, the sorted-set
//! commands ZADD, ZRANGE, ZRANGESTORE, ZREMRANGEBYRANK, ZREMRANGEBYSCORE
//! and ZREMRANGEBYLEX, with the errors of each. ZRANDMEMBER and
//! HRANDFIELD (with HSET and HDEL) are compared where they are
//! deterministic: errors, nils and empty replies byte for byte, the
//! others by shape, size, distinctness and membership in the key.
//! The commands that take a key count and SORT: SINTERCARD, ZUNION,
//! ZINTER, ZDIFF and their STORE forms, ZINTERCARD, ZMPOP and LMPOP over
//! sorted sets, sets, lists, strings, hashes and missing keys, with
//! counts of 0, -1, junk, one too many or too few, LIMITs and COUNTs at
//! their edges, WEIGHTS of the wrong length, every AGGREGATE, duplicate
//! keys and a destination among the sources; SORT and SORT_RO of lists,
//! sets and a sorted set with random BY (`nosort`, `w_*`, `h_*->f`), GET
//! (`#`, patterns that find nothing), LIMIT, ASC/DESC, ALPHA and STORE,
//! over numbers and words (so conversion errors); where Redis's order is
//! its hash table's (see `sort_unordered`) compared as multisets. The
//! WATCH before a movable-keys command watches one of the keys the
//! command table finds.
//! HyperLogLog: PFADD of up to thousands of elements (so sparse HLLs
//! grow, split and turn dense), PFCOUNT of one key (which caches the
//! count in the string) and of several, PFMERGE, PFDEBUG (the registers,
//! the opcodes, the encoding, made dense), GET of the HLLs byte for
//! byte, and their errors: PFADD on plain strings and lists, and HLLs
//! corrupted by SETRANGE, APPEND or forged with SET (bad headers, sparse
//! opcodes that miss or overrun the registers, dense registers past 51).
//! Geo: GEOADD (NX, XX, CH, their conflicts, GT, a point too few) of points
//! clustered around the middle of the map, two cities, both sides of the
//! antimeridian, the Mercator limits and a corner, some with one
//! coordinate at or past an edge (±180, ±85.05112878, ±90, infinities,
//! junk), ZREM, ZADD of scores that are no geohash (negative, fractional,
//! infinite, past 52 bits); GEOPOS, GEOHASH and GEODIST (every unit, in
//! any case, and refused ones); GEORADIUS, GEORADIUSBYMEMBER, their _RO
//! forms, GEOSEARCH and GEOSEARCHSTORE with radii and boxes from 0 to
//! infinite, WITHDIST, WITHHASH, WITHCOORD, ASC, DESC, COUNT (refused
//! values, huge ones) with and without ANY, STORE and STOREDIST, FROM* and
//! BY* missing, twice or both, and every error on wrong types and missing
//! keys or members. Unsorted searches are compared byte for byte (Redis's
//! order, cell by cell, is reproduced). Distances may differ by one unit
//! in their fourth decimal and STOREDIST's stored distances (read back
//! with ZRANGE) in their last digits, as `libm`'s and glibc's sine and
//! arcsine can (`geo_replies_differ`); no two points share a cell, so no
//! COUNT cuts through equal distances, which Redis's partial quicksort
//! orders its own way.
//! Introspection and serialization: OBJECT ENCODING and REFCOUNT of
//! every key after the random writes (so every conversion the commands
//! above make, SORT's of sorted sets included), OBJECT FREQ and IDLETIME
//! (errors byte for byte, numbers by shape: the clocks differ), MEMORY
//! USAGE by shape (an integer or nil; errors byte for byte), DUMP byte
//! for byte, except sets and hashes in Redis's hash-table or field order,
//! which go back into Redis with RESTORE and must read back the same;
//! RESTORE into kvs-core and Redis of payloads Redis DUMPed from any key,
//! as they are, with a flipped byte, cut short, of a newer version or an
//! unknown type (resealed), with TTLs, ABSTTL, REPLACE, IDLETIME, FREQ
//! and junk options, then read back by type. A last phase sets the
//! encodings' thresholds (`*-max-listpack-*`, `set-max-intset-entries`)
//! to small values with CONFIG SET and writes each type around them,
//! reading OBJECT ENCODING and DUMP after each write; the defaults are
//! set back at the end (and by the cleanup, should the test fail).

mod common;

use common::{Events, Redis, Rng, count, key_prefix, redis_7_0, reply_len, seed, store_events};
use kvs_core::{Protocol, Session, Store, command};

/// The bulk strings of a reply that is one bulk string or a flat array
/// of them; `None` for anything else.
fn bulks(b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let one = |b: &[u8]| -> Option<(Vec<u8>, usize)> {
        let line_end = b.windows(2).position(|w| w == b"\r\n")?;
        if b[0] != b'$' {
            return None;
        }
        let n: usize = std::str::from_utf8(&b[1..line_end]).ok()?.parse().ok()?;
        Some((b[line_end + 2..line_end + 2 + n].to_vec(), line_end + 4 + n))
    };
    match b.first()? {
        b'$' => Some(vec![one(b)?.0]),
        b'*' => {
            let line_end = b.windows(2).position(|w| w == b"\r\n")?;
            let n: usize = std::str::from_utf8(&b[1..line_end]).ok()?.parse().ok()?;
            let mut at = line_end + 2;
            let mut out = Vec::new();
            for _ in 0..n {
                let (item, len) = one(&b[at..])?;
                out.push(item);
                at += len;
            }
            Some(out)
        }
        _ => None,
    }
}

/// The elements of an array reply, each as its bytes, sorted (an
/// order-blind view); `None` for any other reply.
fn elements(b: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    if b[0] != b'*' {
        return None;
    }
    let n: usize = std::str::from_utf8(&b[1..line_end]).ok()?.parse().ok()?;
    let mut at = line_end + 2;
    let mut out = Vec::new();
    for _ in 0..n {
        let len = reply_len(&b[at..])?;
        out.push(b[at..at + len].to_vec());
        at += len;
    }
    out.sort();
    Some(out)
}

/// Compares the replies of ZRANDMEMBER or HRANDFIELD (`args`) where they
/// are random: errors, nils and empty replies byte for byte, the others
/// by shape, size and membership in the key's contents (`contents`, its
/// pairs as Redis lists them). `None` when they agree, else why not.
fn random_replies_differ(
    args: &[Vec<u8>],
    ours: &[u8],
    theirs: &[u8],
    contents: &[Vec<u8>],
) -> Option<String> {
    let exact = theirs.starts_with(b"-") || theirs == b"$-1\r\n" || theirs == b"*0\r\n";
    if exact || ours.first() != theirs.first() {
        return (ours != theirs).then(|| "the replies differ".to_string());
    }
    let (Some(o), Some(t)) = (bulks(ours), bulks(theirs)) else {
        return Some("not bulk strings".into());
    };
    if o.len() != t.len() {
        return Some(format!("{} items, Redis {}", o.len(), t.len()));
    }
    let with = args.len() == 4;
    let count: Option<i64> = args
        .get(2)
        .map(|c| String::from_utf8_lossy(c).parse().unwrap());
    let pairs: Vec<(&[u8], &[u8])> = contents
        .chunks(2)
        .map(|p| (p[0].as_slice(), p[1].as_slice()))
        .collect();
    let groups = |items: &[Vec<u8>]| -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let step = if with { 2 } else { 1 };
        let mut out = Vec::new();
        for g in items.chunks(step) {
            let pair = pairs.iter().find(|p| p.0 == g[0].as_slice())?;
            if with && pair.1 != g[1].as_slice() {
                return None;
            }
            out.push((g[0].clone(), g.get(1).cloned().unwrap_or_default()));
        }
        Some(out)
    };
    let (Some(mut og), Some(mut tg)) = (groups(&o), groups(&t)) else {
        return Some("an item not in the key".into());
    };
    if count.is_some_and(|c| c > 0) {
        og.sort();
        tg.sort();
        if og.windows(2).any(|w| w[0] == w[1]) {
            return Some("repeats with a positive count".into());
        }
        if count.unwrap() as usize >= pairs.len() && og != tg {
            return Some("not the whole key".into());
        }
    }
    None
}

/// Builds one random command; keys get `prefix`.
struct Gen<'a> {
    r: Rng,
    prefix: &'a str,
    /// Whether SWAPDB may really swap (the server is the test's own).
    swaps: bool,
}

/// The string keys, the list key (for WRONGTYPE) and a key never written.
const KEYS: [&str; 6] = ["a", "b", "c", "d", "list", "none"];
/// The sorted-set keys, which only sorted-set commands write: `za` and
/// `zb` with any scores, `zl` with every score 0 (lexicographical ranges
/// are only well defined so).
const ZSETS: [&str; 3] = ["za", "zb", "zl"];
/// The hash key, which only HSET and HDEL write.
const HASH: &str = "ha";
/// The HyperLogLog keys, which the PF commands write, and string writes
/// corrupt now and then.
const HLLS: [&str; 3] = ["h1", "h2", "h3"];
/// The sets of the numkeys and SORT families: `sa` of numbers, `sb` of
/// words. Only SADD and DEL write them, so they stay sets.
const SETS: [&str; 2] = ["sa", "sb"];
/// Their lists, alike; only pushes, pops, DEL and SORT's STORE write them.
const LISTS: [&str; 2] = ["la", "lb"];
/// The keys RESTORE writes, from payloads Redis DUMPed from any key.
const RESTORED: [&str; 2] = ["ra", "rb"];
/// The keys of the thresholds phase: a string, a list, a set, a hash, a
/// sorted set, and the destinations of their store commands and COPYs.
const THRESHOLD_KEYS: [&str; 8] = ["ts", "tl", "ti", "th", "tz", "tz2", "ti2", "tc"];
/// The encodings' thresholds and Redis 7.0's defaults.
const THRESHOLDS: [(&str, &str); 6] = [
    ("hash-max-listpack-entries", "512"),
    ("hash-max-listpack-value", "64"),
    ("set-max-intset-entries", "512"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("list-max-listpack-size", "-2"),
];

/// Every key OBJECT, MEMORY and DUMP read.
fn introspected() -> Vec<&'static str> {
    KEYS.iter()
        .chain(&ZSETS)
        .chain(&[HASH])
        .chain(&HLLS)
        .chain(&SETS)
        .chain(&LISTS)
        .chain(&RESTORED)
        .copied()
        .collect()
}

/// Redis's CRC-64 (Jones, reflected), to reseal a payload whose type
/// byte the test changed.
fn crc64(bytes: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x95ac_9329_ac4b_c9b5
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Numbers as set and list elements.
const NUMS: [&str; 8] = ["1", "2", "3", "10", "-1", "2.5", "0", "07"];
/// Values of the strings and hash fields SORT's patterns read.
const WEIGHTS: [&str; 11] = [
    "1", "2", "-3", "10", "2.5", "0", " 4", "1e2", "x", "", "inf",
];

/// The keys SORT's patterns read: `w_<element>` (strings) and
/// `h_<element>` (hashes with fields `f` and `g`).
fn pattern_keys() -> Vec<String> {
    NUMS.iter()
        .chain(&MEMBERS)
        .flat_map(|e| [format!("w_{e}"), format!("h_{e}")])
        .collect()
}

/// Whether a numkeys argument counts more than the `n` keys given: the
/// word after them would be read as a key, outside the test's prefix, so
/// the generator adds none.
fn too_many(count: &[u8], n: usize) -> bool {
    std::str::from_utf8(count)
        .ok()
        .and_then(|c| c.parse::<i64>().ok())
        .is_some_and(|c| c > n as i64)
}

/// Whether Redis's order of a SORT reply (`args`) is not defined by the
/// data: a set in its hash order (BY without `*`, no STORE), or ALPHA BY
/// a pattern, whose ties keep a set's or sorted set's hash order, or,
/// with a LIMIT, fall as Redis's partial quicksort leaves them. Such
/// replies are compared as multisets, and the generator gives them no
/// LIMIT or STORE.
fn sort_unordered(args: &[Vec<u8>]) -> bool {
    let name = |suffix: &[&str]| {
        args.get(1).is_some_and(|k| {
            suffix
                .iter()
                .any(|s| k.ends_with(format!(":{s}").as_bytes()))
        })
    };
    // Only SADD writes sets, and `la` and `lb` stay lists (or go); other
    // keys may hold anything.
    let set = name(&SETS);
    let list = name(&LISTS);
    let (mut alpha, mut by, mut dontsort, mut store) = (false, false, false, false);
    let mut limit = false;
    let mut i = 2;
    while i < args.len() {
        let w = args[i].to_ascii_lowercase();
        let arg = args.get(i + 1);
        match (w.as_slice(), arg) {
            (b"alpha", _) => alpha = true,
            (b"by", Some(p)) => {
                by = true;
                dontsort |= !p.contains(&b'*');
                i += 1;
            }
            (b"store", Some(_)) => {
                store = true;
                i += 1;
            }
            (b"get", Some(_)) => i += 1,
            (b"limit", Some(_)) if args.len() > i + 2 => {
                limit = true;
                i += 2;
            }
            _ => {}
        }
        i += 1;
    }
    let alpha_by = alpha && by && !dontsort;
    (set && dontsort && !store) || (alpha_by && (!list || limit))
}
/// Keys a sorted-set command with any score may name: sorted sets, a
/// string, a list and a key never written.
const ZKEYS: [&str; 5] = ["za", "zb", "a", "list", "none"];
/// Sorted-set members.
const MEMBERS: [&str; 8] = ["a", "b", "c", "d", "e", "f", "g", "hh"];
/// Scores, and score-range bounds without their `(`. Not `-0`: Redis keeps
/// it as `0` in a small (listpack) sorted set, kvs-core as `-0`.
const SCORES: [&str; 10] = ["0", "1", "2", "-1", "1.5", "3", "inf", "-inf", "10", "+inf"];
/// Lexicographical-range bounds.
const LEX: [&str; 10] = ["-", "+", "[a", "(a", "[c", "(c", "[hh", "(e", "[", "x"];
/// Keys a command may write.
const WRITABLE: [&str; 4] = ["a", "b", "c", "d"];

/// Integers where things happen.
const EDGES: [&str; 16] = [
    "0",
    "1",
    "-1",
    "7",
    "8",
    "-8",
    "63",
    "64",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "-9223372036854775807",
    "2147483648",
    "-2147483649",
    "536870912",
];
/// COPY's database option, as spelt.
const DB_WORDS: [&str; 2] = ["DB", "db"];
/// Arguments that are no integer.
const JUNK: [&str; 6] = ["x", "", "01", "-0", "+1", " 1"];

impl Gen<'_> {
    fn key(&mut self, from: &[&str]) -> Vec<u8> {
        format!("{}{}", self.prefix, self.r.pick(from)).into_bytes()
    }

    fn value(&mut self) -> Vec<u8> {
        let len = if self.r.chance(8) {
            self.r.below(40)
        } else {
            self.r.below(10)
        };
        (0..len)
            .map(|_| match self.r.below(7) {
                0 => 0x00,
                1 => 0xff,
                2 => 0x0f,
                3 => 0xf0,
                4 => 0x55,
                5 => 0x80,
                _ => self.r.next() as u8,
            })
            .collect()
    }

    /// A range bound: small (either sign), an edge, sometimes junk.
    fn index(&mut self) -> String {
        match self.r.below(20) {
            0 => self.r.pick(&EDGES).to_string(),
            1 => self.r.pick(&JUNK).to_string(),
            2..=9 => self.r.range(-12, 12).to_string(),
            _ => self.r.range(-120, 120).to_string(),
        }
    }

    /// A bit offset for a write (small, or refused).
    fn write_offset(&mut self) -> String {
        match self.r.below(20) {
            0 => self
                .r
                .pick(&["-1", "4294967296", "x", "-0", "9223372036854775807"])
                .to_string(),
            1..=4 => self.r.below(8).to_string(),
            _ => self.r.below(300).to_string(),
        }
    }

    /// A bit offset for a read (may be far: reading allocates nothing).
    fn read_offset(&mut self) -> String {
        if self.r.chance(6) {
            self.r
                .pick(&["4294967295", "4294967296", "536870912", "-1", "x"])
                .to_string()
        } else {
            self.write_offset()
        }
    }

    fn unit(&mut self) -> String {
        self.r
            .pick(&["BYTE", "BIT", "bit", "byte", "Bit", "bits", "x"])
            .to_string()
    }

    /// A BITFIELD type, mostly valid.
    fn field_type(&mut self) -> String {
        match self.r.below(12) {
            0 => self
                .r
                .pick(&[
                    "i0", "u0", "u64", "i65", "I8", "x8", "i", "i08", "u-1", "i+8", "u8\0x", "\0",
                ])
                .to_string(),
            1 => self.r.pick(&["i64", "u63", "i63", "u1", "i1"]).to_string(),
            _ => format!("{}{}", self.r.pick(&["i", "u"]), self.r.range(1, 63)),
        }
    }

    /// A BITFIELD offset for `write`s: plain or `#n`, sometimes refused.
    fn field_offset(&mut self, write: bool) -> String {
        match self.r.below(14) {
            0 => self
                .r
                .pick(&[
                    "#-1",
                    "#",
                    "##1",
                    "-1",
                    "x",
                    "4294967296",
                    "#9223372036854775807",
                    "0\0",
                    "#1\0",
                ])
                .to_string(),
            1 if !write => self
                .r
                .pick(&["4294967295", "#536870911", "#67108863"])
                .to_string(),
            2..=4 => format!("#{}", self.r.below(6)),
            _ => self.r.below(120).to_string(),
        }
    }

    /// A BITFIELD value or increment.
    fn field_value(&mut self) -> String {
        match self.r.below(10) {
            0 | 1 => self.r.pick(&EDGES).to_string(),
            2 => self.r.pick(&JUNK).to_string(),
            3 => (self.r.next() as i64).to_string(),
            4 => {
                let shift = self.r.below(64);
                let v = 1i128 << shift;
                let v = v + i128::from(self.r.range(-2, 2));
                let v = if self.r.chance(2) { -v } else { v };
                i64::try_from(v).unwrap_or(i64::MAX).to_string()
            }
            _ => self.r.range(-300, 300).to_string(),
        }
    }

    fn bitfield(&mut self, read_only: bool) -> Vec<Vec<u8>> {
        let name = if read_only { "BITFIELD_RO" } else { "BITFIELD" };
        let mut args = vec![name.as_bytes().to_vec(), self.key(&KEYS)];
        for _ in 0..self.r.below(5) {
            let op = match self.r.below(20) {
                0 => "OVERFLOW",
                1 => "overflow",
                2 => "bogus",
                3..=7 => "SET",
                8..=12 if !read_only => "INCRBY",
                13 => "incrby",
                14 => "set",
                _ => "GET",
            };
            let write = op.eq_ignore_ascii_case("set") || op.eq_ignore_ascii_case("incrby");
            args.push(op.as_bytes().to_vec());
            if op.eq_ignore_ascii_case("overflow") {
                let mode = self.r.pick(&["WRAP", "SAT", "FAIL", "fail", "Sat", "none"]);
                args.push(mode.as_bytes().to_vec());
                continue;
            }
            if op == "bogus" {
                continue;
            }
            args.push(self.field_type().into_bytes());
            args.push(self.field_offset(write).into_bytes());
            if write {
                args.push(self.field_value().into_bytes());
            }
        }
        // Sometimes cut short.
        if args.len() > 2 && self.r.chance(15) {
            args.pop();
        }
        args
    }

    /// A sorted-set key; when `lex`, `zl` (the commands that keep it all
    /// zero scores, or only read or remove) or now and then a key that is
    /// not a sorted set: Redis leaves a lex range over unequal scores
    /// undefined (its answer depends on the set's encoding), so `za` and
    /// `zb` never meet one.
    fn zkey(&mut self, lex: bool) -> Vec<u8> {
        if !lex {
            self.key(&ZKEYS)
        } else if self.r.chance(6) {
            self.key(&["a", "list", "none"])
        } else {
            format!("{}zl", self.prefix).into_bytes()
        }
    }

    /// A score-range bound.
    fn score_bound(&mut self) -> Vec<u8> {
        let v = match self.r.below(12) {
            0 => "x",
            1 => "(x",
            _ => *self.r.pick(&SCORES),
        };
        let open = if self.r.chance(3) { "(" } else { "" };
        format!("{open}{v}").into_bytes()
    }

    /// A rank argument.
    fn rank(&mut self) -> Vec<u8> {
        match self.r.below(10) {
            0 => self.r.pick(&JUNK).to_string(),
            1 => self.r.pick(&EDGES).to_string(),
            _ => self.r.range(-10, 10).to_string(),
        }
        .into_bytes()
    }

    /// A sorted-set command.
    fn zset_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        match self.r.below(10) {
            0..=2 => {
                let lex = self.r.chance(3);
                let key = self.zkey(lex);
                let mut args = vec![s("ZADD"), key];
                for _ in 0..1 + self.r.below(4) {
                    let score = if lex { "0" } else { self.r.pick(&SCORES) };
                    args.push(s(score));
                    args.push(self.r.pick(&MEMBERS).as_bytes().to_vec());
                }
                args
            }
            3 => {
                let lex = self.r.chance(3);
                vec![
                    s("ZREMRANGEBYRANK"),
                    self.zkey(lex),
                    self.rank(),
                    self.rank(),
                ]
            }
            4 => {
                let lex = self.r.chance(3);
                vec![
                    s("ZREMRANGEBYSCORE"),
                    self.zkey(lex),
                    self.score_bound(),
                    self.score_bound(),
                ]
            }
            5 => vec![
                s("ZREMRANGEBYLEX"),
                self.zkey(true),
                self.r.pick(&LEX).as_bytes().to_vec(),
                self.r.pick(&LEX).as_bytes().to_vec(),
            ],
            6 => self.rand_command(),
            7 => self.zrangestore(),
            _ => {
                let lex = self.r.chance(3);
                vec![
                    s("ZRANGE"),
                    self.zkey(lex),
                    s("0"),
                    s("-1"),
                    s("WITHSCORES"),
                ]
            }
        }
    }

    /// ZRANGESTORE, into `zl` only from `zl` (which keeps its scores 0).
    fn zrangestore(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        let by = self.r.below(3);
        let lex = by == 2 || self.r.chance(4);
        let src = self.zkey(lex);
        let dst = if src.ends_with(b"zl") && self.r.chance(2) {
            src.clone()
        } else {
            self.key(&["za", "zb", "none", "a"])
        };
        let mut args = vec![s("ZRANGESTORE"), dst, src];
        match by {
            0 => {
                args.push(self.rank());
                args.push(self.rank());
            }
            1 => {
                args.push(self.score_bound());
                args.push(self.score_bound());
                args.push(s("BYSCORE"));
            }
            _ => {
                args.push(self.r.pick(&LEX).as_bytes().to_vec());
                args.push(self.r.pick(&LEX).as_bytes().to_vec());
                args.push(s("bylex"));
            }
        }
        if self.r.chance(3) {
            args.push(s("REV"));
        }
        if self.r.chance(3) {
            args.push(s("LIMIT"));
            args.push(self.rank());
            args.push(self.rank());
        }
        if self.r.chance(10) {
            args.push(
                self.r
                    .pick(&["WITHSCORES", "BYSCORE", "x"])
                    .as_bytes()
                    .to_vec(),
            );
        }
        args
    }

    /// ZRANDMEMBER or HRANDFIELD, or a write to the hash they read.
    fn rand_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        let hash = self.r.chance(2);
        let lex = self.r.chance(4);
        let key = if !hash {
            self.zkey(lex)
        } else if self.r.chance(6) {
            self.key(&["a", "list", "none", "za"])
        } else {
            format!("{}{HASH}", self.prefix).into_bytes()
        };
        if hash && self.r.chance(3) {
            let hset = !self.r.chance(4);
            let mut args = vec![s(if hset { "HSET" } else { "HDEL" }), key];
            for _ in 0..1 + self.r.below(3) {
                args.push(self.r.pick(&MEMBERS).as_bytes().to_vec());
                if hset {
                    args.push(self.value());
                }
            }
            return args;
        }
        let mut args = vec![s(if hash { "HRANDFIELD" } else { "ZRANDMEMBER" }), key];
        if self.r.chance(5) {
            return args;
        }
        let count = match self.r.below(12) {
            0 => self.r.pick(&JUNK).to_string(),
            1 => self
                .r
                .pick(&[
                    "-9223372036854775808",
                    "4611686018427387904",
                    "-4611686018427387904",
                    "4611686018427387903",
                ])
                .to_string(),
            _ => self.r.range(-12, 12).to_string(),
        };
        args.push(count.into_bytes());
        match self.r.below(6) {
            0 | 1 => {}
            2 => args.push(s(if hash { "WITHSCORES" } else { "withvalues" })),
            3 => {
                args.push(s(if hash { "WITHVALUES" } else { "WITHSCORES" }));
                args.push(s("x"));
            }
            _ => args.push(s(if hash { "withValues" } else { "withScores" })),
        }
        // A huge negative count is refused only with the option: without
        // it, Redis would try to send that many replies.
        if args.len() == 3 && args[2].starts_with(b"-46") {
            args.push(s(if hash { "WITHVALUES" } else { "WITHSCORES" }));
        }
        args
    }

    fn db(&mut self) -> String {
        match self.r.below(10) {
            0 => self
                .r
                .pick(&["16", "-1", "x", "4294967296", "2147483648", "01"])
                .to_string(),
            _ => self.r.below(3).to_string(),
        }
    }

    /// An HLL key, now and then a plain string, a list or a missing key.
    fn hll_key(&mut self) -> Vec<u8> {
        if self.r.chance(12) {
            self.key(&["a", "list", "none"])
        } else {
            self.key(&HLLS)
        }
    }

    /// Whether `key` is one of [`HLLS`]: only those grow to dense HLLs
    /// (12 KiB strings would take LCS of the other keys past Redis's
    /// memory check).
    fn is_hll_key(&self, key: &[u8]) -> bool {
        HLLS.iter()
            .any(|k| key == format!("{}{k}", self.prefix).as_bytes())
    }

    /// PFADD, PFCOUNT, PFMERGE, PFDEBUG, a GET of an HLL, a DEL (corrupt
    /// HLLs stay so until then), or a string write that may corrupt one.
    fn hll_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        match self.r.below(22) {
            20 | 21 => {
                let sub = *self
                    .r
                    .pick(&["GETREG", "decode", "ENCODING", "todense", "nope"]);
                vec![s("PFDEBUG"), s(sub), self.hll_key()]
            }
            0..=7 => {
                let key = self.hll_key();
                // Few elements keep an HLL sparse; thousands make it dense.
                let n = match self.r.below(10) {
                    0 => 0,
                    6..=8 if self.is_hll_key(&key) => self.r.below(300),
                    9 if self.is_hll_key(&key) => self.r.below(5000),
                    _ => self.r.below(8),
                };
                let mut args = vec![s("PFADD"), key];
                let universe = *self.r.pick(&[50, 5000, 1_000_000]);
                for _ in 0..n {
                    if self.r.chance(50) {
                        args.push(self.value());
                    } else {
                        args.push(format!("e{}", self.r.below(universe)).into_bytes());
                    }
                }
                args
            }
            8..=10 => vec![s("PFCOUNT"), self.hll_key()],
            11 | 12 => {
                let mut args = vec![s("PFCOUNT")];
                for _ in 0..2 + self.r.below(3) {
                    args.push(self.hll_key());
                }
                args
            }
            13 | 14 => {
                let dest = if self.r.chance(12) {
                    self.key(&["list"])
                } else {
                    self.key(&HLLS)
                };
                let mut args = vec![s("PFMERGE"), dest];
                for _ in 0..self.r.below(4) {
                    args.push(self.hll_key());
                }
                args
            }
            15 => vec![s("GET"), self.hll_key()],
            16 => vec![s("DEL"), self.key(&HLLS)],
            17 => {
                // Header bytes (the encoding, the cache's stale mark), or
                // a dense HLL's registers (past a sparse one's end). Not
                // among sparse opcodes: a string that comes to end in half
                // an XZERO makes Redis read and write the byte past its end,
                // which kvs-core does not copy (docs/kvs.md).
                let (offset, bytes) = match self.r.below(5) {
                    0 => (4, vec![*self.r.pick(&[0u8, 1, 2, 255])]),
                    1 => (15, vec![*self.r.pick(&[0u8, 0x80, 0x7f])]),
                    _ => (3100 + self.r.below(9300), self.value()),
                };
                vec![
                    s("SETRANGE"),
                    self.key(&HLLS),
                    offset.to_string().into_bytes(),
                    bytes,
                ]
            }
            _ => {
                if self.r.chance(2) {
                    // One-byte opcodes only (no XZERO left open at the end).
                    let mut tail = self.value();
                    for b in &mut tail {
                        if *b & 0xc0 == 0x40 {
                            *b ^= 0x40;
                        }
                    }
                    return vec![s("APPEND"), self.key(&HLLS), tail];
                }
                // A forged HLL: a header, then opcodes or registers.
                let dense = self.r.chance(2);
                let mut v = b"HYLL".to_vec();
                v.push(u8::from(!dense));
                v.extend_from_slice(&[0; 10]);
                v.push(*self.r.pick(&[0u8, 0x80]));
                if dense {
                    let fill = *self.r.pick(&[0u8, 0xff, 0x41, 0xcc]);
                    v.resize(12_304 - usize::from(self.r.chance(8)), fill);
                    for _ in 0..self.r.below(30) {
                        let at = 16 + self.r.below(12_288) as usize;
                        if let Some(b) = v.get_mut(at) {
                            *b = self.r.next() as u8;
                        }
                    }
                } else {
                    let mut left = 16_384u64;
                    while left > 0 && !self.r.chance(40) {
                        match self.r.below(3) {
                            0 => {
                                let run = 1 + self.r.below(left.min(64));
                                v.push((run - 1) as u8);
                                left -= run;
                            }
                            1 => {
                                let run = 1 + self.r.below(left.min(4));
                                v.push(0x80 | (self.r.below(32) as u8) << 2 | (run - 1) as u8);
                                left -= run;
                            }
                            _ => {
                                let run = 1 + self.r.below(left);
                                v.push(0x40 | ((run - 1) >> 8) as u8);
                                v.push((run - 1) as u8);
                                left -= run;
                            }
                        }
                    }
                }
                vec![s("SET"), self.key(&HLLS), v]
            }
        }
    }

    fn command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        match self.r.below(72) {
            0..=2 => vec![s("SET"), self.key(&WRITABLE), self.value()],
            3..=6 => {
                let bit = match self.r.below(12) {
                    0 => self.r.pick(&["2", "-1", "x", "01", ""]).to_string(),
                    b => (b % 2).to_string(),
                };
                vec![
                    s("SETBIT"),
                    self.key(&KEYS),
                    self.write_offset().into_bytes(),
                    bit.into_bytes(),
                ]
            }
            7..=8 => vec![
                s("GETBIT"),
                self.key(&KEYS),
                self.read_offset().into_bytes(),
            ],
            9..=13 => {
                let mut args = vec![s("BITCOUNT"), self.key(&KEYS)];
                match self.r.below(10) {
                    0 => {}
                    1 => args.push(self.index().into_bytes()),
                    2..=4 => {
                        args.push(self.index().into_bytes());
                        args.push(self.index().into_bytes());
                    }
                    _ => {
                        args.push(self.index().into_bytes());
                        args.push(self.index().into_bytes());
                        args.push(self.unit().into_bytes());
                        if self.r.chance(20) {
                            args.push(s("BIT"));
                        }
                    }
                }
                args
            }
            14..=19 => {
                let bit = match self.r.below(12) {
                    0 => self.r.pick(&["2", "-1", "x"]).to_string(),
                    b => (b % 2).to_string(),
                };
                let mut args = vec![s("BITPOS"), self.key(&KEYS), bit.into_bytes()];
                let extra = self.r.below(5);
                if extra >= 1 {
                    args.push(self.index().into_bytes());
                }
                if extra >= 2 {
                    args.push(self.index().into_bytes());
                }
                if extra >= 3 {
                    args.push(self.unit().into_bytes());
                }
                if extra >= 4 && self.r.chance(4) {
                    args.push(s("BYTE"));
                }
                args
            }
            20..=23 => {
                let op = self
                    .r
                    .pick(&["AND", "OR", "XOR", "NOT", "and", "Not", "nand"]);
                let mut args = vec![s("BITOP"), s(op), self.key(&WRITABLE)];
                let sources = if op.eq_ignore_ascii_case("not") && !self.r.chance(6) {
                    1
                } else {
                    self.r.below(4)
                };
                for _ in 0..sources {
                    args.push(self.key(&KEYS));
                }
                args
            }
            24..=28 => self.bitfield(false),
            29..=30 => self.bitfield(true),
            31 => vec![s("GET"), self.key(&KEYS)],
            32 => {
                let mut args = vec![s("COPY"), self.key(&KEYS), self.key(&WRITABLE)];
                for _ in 0..self.r.below(4) {
                    match self.r.below(5) {
                        0 => args.push(s("REPLACE")),
                        1 => args.push(s("bogus")),
                        _ => {
                            let word: &&str = self.r.pick(&DB_WORDS);
                            args.push(s(word));
                            if !self.r.chance(10) {
                                args.push(self.db().into_bytes());
                            }
                        }
                    }
                }
                args
            }
            33 => vec![s("MOVE"), self.key(&KEYS), self.db().into_bytes()],
            34 => {
                let mut args = vec![s("TOUCH")];
                for _ in 0..self.r.below(4) {
                    args.push(self.key(&KEYS));
                }
                args
            }
            35 => vec![s("SELECT"), self.r.below(3).to_string().into_bytes()],
            36 => vec![s("DEL"), self.key(&WRITABLE)],
            37 => {
                // A real swap only on a server of the test's own.
                let (i, j) = match self.r.below(if self.swaps { 8 } else { 5 }) {
                    0 => ("x".to_string(), "0".to_string()),
                    1 => (
                        "0".to_string(),
                        self.r.pick(&["16", "x", "4294967296", "-1"]).to_string(),
                    ),
                    2 => (
                        self.r.pick(&["16", "-1", "2147483648"]).to_string(),
                        "x".to_string(),
                    ),
                    3 => {
                        let i = self.r.below(3).to_string();
                        (i.clone(), i)
                    }
                    4 => ("16".to_string(), "-1".to_string()),
                    _ => (self.r.below(3).to_string(), self.r.below(3).to_string()),
                };
                let mut args = vec![s("SWAPDB"), i.into_bytes(), j.into_bytes()];
                if self.r.chance(8) {
                    args.pop();
                }
                args
            }
            38 => vec![s("STRLEN"), self.key(&KEYS)],
            47 => {
                let mut args = vec![s("LCS"), self.key(&KEYS), self.key(&KEYS)];
                for _ in 0..self.r.below(4) {
                    match self.r.below(6) {
                        0 => args.push(s("LEN")),
                        1 | 2 => args.push(s("IDX")),
                        3 => args.push(s("withmatchlen")),
                        4 => {
                            args.push(s("MINMATCHLEN"));
                            if !self.r.chance(8) {
                                args.push(self.rank());
                            }
                        }
                        _ => args.push(s("bogus")),
                    }
                }
                args
            }
            39..=46 => self.zset_command(),
            49..=52 => self.hll_command(),
            53..=57 => self.numkeys_command(),
            58..=61 => self.sort_command(),
            62..=70 => self.geo_command(),
            _ => {
                // Arity errors.
                let name = self.r.pick(&[
                    "SETBIT",
                    "GETBIT",
                    "BITCOUNT",
                    "BITPOS",
                    "BITOP",
                    "BITFIELD",
                    "BITFIELD_RO",
                    "COPY",
                    "MOVE",
                    "TOUCH",
                    "SWAPDB",
                    "ZREMRANGEBYRANK",
                    "ZREMRANGEBYSCORE",
                    "ZREMRANGEBYLEX",
                    "ZRANGESTORE",
                    "LCS",
                    "ZRANDMEMBER",
                    "HRANDFIELD",
                    "PFADD",
                    "PFCOUNT",
                    "PFMERGE",
                    "SINTERCARD",
                    "ZUNION",
                    "ZUNIONSTORE",
                    "ZINTERCARD",
                    "ZMPOP",
                    "LMPOP",
                    "SORT",
                    "SORT_RO",
                    "GEOADD",
                    "GEODIST",
                    "GEOHASH",
                    "GEOPOS",
                    "GEORADIUS",
                    "GEORADIUS_RO",
                    "GEORADIUSBYMEMBER",
                    "GEORADIUSBYMEMBER_RO",
                    "GEOSEARCH",
                    "GEOSEARCHSTORE",
                ]);
                let mut args = vec![s(name)];
                // SORT with a key is no arity error, and one of a sorted
                // set (`none` may be one) makes it a skiplist in Redis,
                // whose lex ranges over unequal scores then follow its
                // random levels (see `sort_command`).
                let keys = if name.starts_with("SORT") {
                    0
                } else {
                    self.r.below(3)
                };
                for _ in 0..keys {
                    args.push(self.key(&KEYS));
                }
                args
            }
        }
    }
}

/// The numkeys commands (SINTERCARD, ZUNION, ZINTER, ZDIFF, their STORE
/// forms, ZINTERCARD, ZMPOP, LMPOP), SORT and SORT_RO, and the writes
/// that give them sets, lists and pattern keys.
impl Gen<'_> {
    /// One of `words`.
    fn word(&mut self, words: &[&str]) -> Vec<u8> {
        self.r.pick(words).as_bytes().to_vec()
    }

    /// A key for SORT's patterns: the test's prefix, then `pattern`.
    fn pattern(&self, pattern: &str) -> Vec<u8> {
        format!("{}{pattern}", self.prefix).into_bytes()
    }

    /// A numkeys argument for `n` keys: mostly right, else wrong in one of
    /// the ways Redis checks (`huge` allows LONG_MAX, which ZMPOP and
    /// LMPOP do not survive: Redis overflows an index on it).
    fn numkeys(&mut self, n: usize, huge: bool) -> Vec<u8> {
        match self.r.below(16) {
            0 => "0".to_string(),
            1 => "-1".to_string(),
            2 => (n + 1).to_string(),
            3 => self.r.pick(&JUNK).to_string(),
            4 if huge => "9223372036854775807".to_string(),
            5 if n > 1 => (n - 1).to_string(),
            _ => n.to_string(),
        }
        .into_bytes()
    }

    /// A source of ZUNION and its kin: sorted sets and sets mostly.
    fn zsource(&mut self) -> Vec<u8> {
        match self.r.below(12) {
            0..=4 => self.key(&ZSETS),
            5..=7 => self.key(&SETS),
            8 => self.key(&LISTS),
            9 => self.key(&["a", "ha"]),
            _ => self.key(&["none"]),
        }
    }

    /// A LIMIT value of SINTERCARD and ZINTERCARD.
    fn card_limit(&mut self) -> Vec<u8> {
        self.r
            .pick(&["0", "1", "2", "3", "-1", "x", "100", "9223372036854775807"])
            .as_bytes()
            .to_vec()
    }

    /// SADD, a push, a pattern key's write or a DEL.
    fn fill_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        let numbers = self.r.chance(2);
        let pool: &[&str] = if numbers { &NUMS } else { &MEMBERS };
        let elements = |g: &mut Self| -> Vec<Vec<u8>> {
            (0..1 + g.r.below(4))
                .map(|_| g.r.pick(pool).as_bytes().to_vec())
                .collect()
        };
        match self.r.below(10) {
            0..=2 => {
                let key = self.key(&[SETS[usize::from(!numbers)]]);
                let mut args = vec![s("SADD"), key];
                args.extend(elements(self));
                args
            }
            3..=5 => {
                let key = self.key(&[LISTS[usize::from(!numbers)]]);
                let push = *self.r.pick(&["RPUSH", "LPUSH"]);
                let mut args = vec![s(push), key];
                args.extend(elements(self));
                args
            }
            6 | 7 => {
                let e = self.r.pick(pool).to_string();
                let value = self.r.pick(&WEIGHTS).as_bytes().to_vec();
                vec![s("SET"), self.pattern(&format!("w_{e}")), value]
            }
            8 => {
                let e = self.r.pick(pool).to_string();
                let mut args = vec![s("HSET"), self.pattern(&format!("h_{e}"))];
                for field in ["f", "g"] {
                    if self.r.chance(4) {
                        continue;
                    }
                    args.push(s(field));
                    args.push(self.r.pick(&WEIGHTS).as_bytes().to_vec());
                }
                if args.len() == 2 {
                    args.extend([s("f"), s("1")]);
                }
                args
            }
            _ => {
                let key = self.key(&[SETS[0], SETS[1], LISTS[0], LISTS[1]]);
                vec![s("DEL"), key]
            }
        }
    }

    /// A numkeys command, or a write that feeds them.
    fn numkeys_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        match self.r.below(16) {
            0..=3 => self.fill_command(),
            4..=8 => {
                let name = *self.r.pick(&[
                    "ZUNION",
                    "ZINTER",
                    "ZDIFF",
                    "ZUNIONSTORE",
                    "ZINTERSTORE",
                    "ZDIFFSTORE",
                    "zunion",
                    "zinterstore",
                ]);
                let store = name.to_ascii_uppercase().ends_with("STORE");
                let mut args = vec![s(name)];
                if store {
                    // Sorted sets stay sorted sets (or go): `c` is the
                    // only other key written.
                    args.push(self.key(&["za", "zb", "c"]));
                }
                let n = 1 + self.r.below(3) as usize;
                let count = self.numkeys(n, true);
                let options = if too_many(&count, n) {
                    0
                } else {
                    self.r.below(4)
                };
                args.push(count);
                for _ in 0..n {
                    args.push(self.zsource());
                }
                for _ in 0..options {
                    match self.r.below(8) {
                        0..=2 => {
                            args.push(self.word(&["WEIGHTS", "weights"]));
                            let m = match self.r.below(8) {
                                0 => n + 1,
                                1 => n - 1,
                                _ => n,
                            };
                            for _ in 0..m {
                                // Stored results keep no -0 (Redis's small
                                // sorted sets turn it into 0): weights that
                                // make none, there.
                                let w: &[&str] = if store {
                                    &["1", "2", "0.5", "3", "inf", "x"]
                                } else {
                                    &["1", "2", "0", "-1", "1.5", "inf", "-inf", "x", "nan"]
                                };
                                args.push(self.word(w));
                            }
                        }
                        3 | 4 => {
                            args.push(s("AGGREGATE"));
                            if !self.r.chance(10) {
                                let how = ["SUM", "MIN", "MAX", "min", "max", "avg"];
                                args.push(self.word(&how));
                            }
                        }
                        5 | 6 => args.push(self.word(&["WITHSCORES", "withscores"])),
                        _ => args.push(self.word(&["LIMIT", "bogus", "1"])),
                    }
                }
                args
            }
            9 | 10 => {
                let (name, sources): (&str, &[&str]) = if self.r.chance(2) {
                    ("ZINTERCARD", &["za", "zb", "zl", "sa", "sb", "a", "none"])
                } else {
                    ("SINTERCARD", &["sa", "sb", "sa", "sb", "za", "a", "none"])
                };
                let n = 1 + self.r.below(3) as usize;
                let count = self.numkeys(n, true);
                let options = if too_many(&count, n) {
                    0
                } else {
                    self.r.below(6)
                };
                let mut args = vec![s(name), count];
                for _ in 0..n {
                    args.push(self.key(sources));
                }
                match options {
                    0 | 1 => {}
                    2 | 3 => {
                        args.push(s("LIMIT"));
                        args.push(self.card_limit());
                    }
                    4 => args.push(s("LIMIT")),
                    _ => {
                        args.push(self.word(&["LIMIT", "WEIGHTS", "bogus"]));
                        args.push(self.card_limit());
                        args.push(self.card_limit());
                    }
                }
                args
            }
            _ => {
                let zset = self.r.chance(2);
                let (name, sources, ends): (&str, &[&str], [&str; 4]) = if zset {
                    (
                        "ZMPOP",
                        &["za", "zb", "zl", "sa", "a", "none"],
                        ["MIN", "MAX", "min", "left"],
                    )
                } else {
                    (
                        "LMPOP",
                        &["la", "lb", "la", "za", "a", "none"],
                        ["LEFT", "RIGHT", "right", "min"],
                    )
                };
                let n = 1 + self.r.below(3) as usize;
                let mut args = vec![s(name), self.numkeys(n, false)];
                for _ in 0..n {
                    args.push(self.key(sources));
                }
                if !self.r.chance(12) {
                    args.push(self.word(&ends));
                }
                for _ in 0..self.r.below(3) {
                    args.push(self.word(&["COUNT", "count", "bogus"]));
                    if !self.r.chance(8) {
                        let count = ["1", "2", "3", "10", "0", "-1", "x"];
                        args.push(self.word(&count));
                    }
                }
                args
            }
        }
    }

    /// SORT or SORT_RO with random options, or a write that feeds them.
    fn sort_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        if self.r.chance(4) {
            return self.fill_command();
        }
        let ro = self.r.chance(4);
        // Of the sorted sets only `zl`, and no key that may be one: SORT
        // turns Redis's small sorted sets into skiplists for good, and a
        // skiplist answers a lex range over unequal scores by its random
        // levels. `ha` only ever holds a hash, `unset` nothing.
        let source = match self.r.below(12) {
            0..=3 => self.key(&LISTS),
            4..=6 => self.key(&SETS),
            7..=9 => self.key(&["zl"]),
            10 => self.key(&["ha"]),
            _ => self.key(&["unset"]),
        };
        let mut args = vec![s(if ro { "SORT_RO" } else { "SORT" }), source];
        let patterns = ["w_*", "h_*->f", "h_*->g", "w_*x", "h_*->"];
        for _ in 0..self.r.below(6) {
            match self.r.below(10) {
                0 | 1 => {
                    args.push(s("BY"));
                    if self.r.chance(4) {
                        args.push(self.word(&["nosort", "NOSORT", "x"]));
                    } else {
                        let p = *self.r.pick(&patterns);
                        args.push(self.pattern(p));
                    }
                }
                2 | 3 => {
                    args.push(self.word(&["GET", "get"]));
                    match self.r.below(4) {
                        0 => args.push(s("#")),
                        1 => args.push(self.pattern("nostar")),
                        _ => {
                            let p = *self.r.pick(&patterns);
                            args.push(self.pattern(p));
                        }
                    }
                }
                4 => {
                    args.push(s("LIMIT"));
                    let offsets = ["0", "1", "2", "-1", "5", "100", "x"];
                    args.push(self.word(&offsets));
                    if !self.r.chance(10) {
                        let counts = ["-1", "0", "1", "3", "100", "-5", "9223372036854775807"];
                        args.push(self.word(&counts));
                    }
                }
                5 => args.push(self.word(&["ASC", "DESC", "desc"])),
                6 | 7 => args.push(self.word(&["ALPHA", "alpha"])),
                8 => {
                    // STORE without its key only last: a word after it
                    // would be the key, outside the test's prefix.
                    args.push(s("STORE"));
                    args.push(self.key(&["la", "lb", "d"]));
                }
                _ => args.push(s("bogus")),
            }
        }
        if self.r.chance(30) {
            args.push(s("STORE"));
        }
        if sort_unordered(&args) {
            // No LIMIT or STORE where Redis's order is its hash table's.
            let mut i = 2;
            while i < args.len() {
                let w = args[i].to_ascii_lowercase();
                let n = match w.as_slice() {
                    b"limit" => 3,
                    b"store" => 2,
                    b"by" | b"get" => {
                        i += 2;
                        continue;
                    }
                    _ => {
                        i += 1;
                        continue;
                    }
                };
                args.drain(i..(i + n).min(args.len()));
            }
        }
        args
    }
}

/// The geo keys: `g1` and `g2` hold points (GEOADD, ZREM, a raw ZADD of
/// one member, and the STORE forms' results, whose scores are the
/// points'); `gs` only the STORE forms' results; `gd` only STOREDIST's
/// distances, read with ZRANGE (compared by value, see
/// `geo_replies_differ`).
const GEOS: [&str; 3] = ["g1", "g2", "gs"];
/// The key STOREDIST writes.
const GEO_DIST: &str = "gd";
/// Keys a geo command may read: the point sets, `gstr` (a string SET
/// writes, or points when GEOADD finds it missing) and a key never
/// written. No key of another family: one may be a sorted set whose
/// scores make points that share a cell.
const GEO_KEYS: [&str; 5] = ["g1", "g2", "gs", "gstr", "gnone"];
/// The points' members.
const GEO_MEMBERS: [&str; 12] = [
    "p0", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8", "p9", "pa", "pb",
];
/// Where points cluster: the middle of the map, two cities, the
/// antimeridian (neighbour cells wrap), near the Mercator limits (the
/// step estimate narrows) and a corner.
const REGIONS: [(f64, f64); 7] = [
    (0.0, 0.0),
    (13.361389, 38.115556),
    (-73.9857, 40.7484),
    (179.95, 10.0),
    (-179.95, -20.0),
    (20.0, 84.9),
    (-179.9, -84.95),
];
/// Coordinates at or past the edges (alone, or making the pair invalid).
const LON_EDGES: [&str; 10] = [
    "180",
    "-180",
    "0",
    "180.0000001",
    "-180.5",
    "1e300",
    "inf",
    "-inf",
    "x",
    "nan",
];
const LAT_EDGES: [&str; 10] = [
    "85.05112878",
    "-85.05112878",
    "85.05112879",
    "-85.0511288",
    "90",
    "-90",
    "0",
    "89.9",
    "-inf",
    "",
];
/// Raw scores of the one member ZADD writes into a point set: geohashes
/// with bits past the 52, negative, fractional and infinite ones. Each
/// prints alike in Redis 7.0 and kvs-core.
const RAW_SCORES: [&str; 8] = [
    "-1",
    "0.5",
    "1.5",
    "inf",
    "-inf",
    "4503599627370495",
    "4503599627370496",
    "3000000000000000",
];
/// Radii, widths and heights, in any unit: zero, tiny, huge and
/// infinite.
const GEO_RADII: [&str; 14] = [
    "0", "0.001", "1", "10", "150", "1000", "25000", "300000", "2000000", "6000000", "20000000",
    "1e9", "inf", "-0",
];
/// Units as spelt.
const UNITS: [&str; 8] = ["m", "km", "ft", "mi", "M", "KM", "Ft", "mI"];
/// COUNT's arguments.
const GEO_COUNTS: [&str; 6] = ["1", "2", "3", "5", "100", "9223372036854775807"];
/// Refused radii, units and counts. No number that overflows or
/// underflows (`1e400`): Redis's `strtod` then leaves `errno` at ERANGE,
/// and a later SORT, which reads `errno` without clearing it, fails.
const GEO_JUNK: [&str; 7] = ["-1", "x", "", "parsec", "0", "9223372036854775808", "1e"];

/// The geo commands.
impl Gen<'_> {
    /// A coordinate near `centre`, `spread` degrees at most away, printed
    /// to 7 decimals (so two points rarely share a cell: equal distances
    /// would let Redis's partial sort under COUNT order them its way).
    fn near(&mut self, centre: f64, spread: f64) -> String {
        let unit = (self.r.below(2_000_001) as f64 - 1_000_000.0) / 1_000_000.0;
        format!("{:.7}", centre + unit * spread)
    }

    /// A point: near a region, sometimes with one coordinate at or past
    /// an edge (never both, so no two points share a cell there).
    fn geo_point(&mut self) -> (Vec<u8>, Vec<u8>) {
        let (lon, lat) = *self.r.pick(&REGIONS);
        let spread = *self.r.pick(&[0.01, 0.1, 1.0, 10.0]);
        // Past an edge: around the antimeridian, back from the limits.
        let lon: f64 = self.near(lon, spread).parse().unwrap();
        let lon = if lon >= 180.0 {
            lon - 360.0
        } else if lon < -180.0 {
            lon + 360.0
        } else {
            lon
        };
        let lat: f64 = self.near(lat, spread).parse().unwrap();
        let lat = if lat.abs() > 85.0 {
            lat.signum() * 170.0 - lat
        } else {
            lat
        };
        let (mut lon, mut lat) = (format!("{lon:.7}"), format!("{lat:.7}"));
        match self.r.below(24) {
            0 => lon = self.r.pick(&LON_EDGES).to_string(),
            1 => lat = self.r.pick(&LAT_EDGES).to_string(),
            _ => {}
        }
        (lon.into_bytes(), lat.into_bytes())
    }

    /// A key a geo command reads: mostly a point set.
    fn geo_key(&mut self) -> Vec<u8> {
        if self.r.chance(10) {
            self.key(&GEO_KEYS)
        } else {
            self.key(&GEOS[..2])
        }
    }

    /// Where a STORE form puts points: mostly `gs`, now and then over a
    /// point set (or the source itself).
    fn store_dest(&mut self) -> Vec<u8> {
        if self.r.chance(6) {
            self.key(&GEOS)
        } else {
            self.pattern("gs")
        }
    }

    /// One of `words`, or now and then a refused argument.
    fn geo_arg(&mut self, words: &[&str]) -> Vec<u8> {
        if self.r.chance(15) {
            self.word(&GEO_JUNK)
        } else {
            self.word(words)
        }
    }

    fn geo_member(&mut self) -> Vec<u8> {
        if self.r.chance(12) {
            b"raw".to_vec()
        } else {
            self.word(&GEO_MEMBERS)
        }
    }

    /// A `radius unit` pair (rarely missing its unit: the next word, or
    /// nothing, is read as one).
    fn radius_unit(&mut self, args: &mut Vec<Vec<u8>>) {
        args.push(self.geo_arg(&GEO_RADII));
        if !self.r.chance(30) {
            args.push(self.geo_arg(&UNITS));
        }
    }

    /// The options of a search: WITH*, ASC/DESC, COUNT [ANY], ANY alone,
    /// STORE/STOREDIST (where `stores`), GEOSEARCHSTORE's STOREDIST
    /// (`storedist`) in any order, and now and then a last word that is
    /// no option there (STORE and STOREDIST only last, where they have no
    /// argument: before another word they would take it as a key outside
    /// the test's prefix; STOREDIST not for a GEOSEARCHSTORE into a point
    /// set, `searchstore`, where it is an option).
    fn search_options(
        &mut self,
        args: &mut Vec<Vec<u8>>,
        stores: bool,
        storedist: bool,
        searchstore: bool,
    ) {
        let s = |w: &str| w.as_bytes().to_vec();
        for _ in 0..self.r.below(5) {
            // WITH* and GEOSEARCHSTORE are an error: now and then.
            let with = !searchstore || self.r.chance(6);
            match self.r.below(16) {
                0 if with => args.push(s("WITHDIST")),
                1 if with => args.push(s("withcoord")),
                2 if with => args.push(s("WithHash")),
                3 => args.push(s("ASC")),
                4 => args.push(s("desc")),
                5..=7 => {
                    args.push(s("COUNT"));
                    if !self.r.chance(20) {
                        args.push(self.geo_arg(&GEO_COUNTS));
                    }
                    if self.r.chance(3) {
                        args.push(s("ANY"));
                    }
                }
                8 if self.r.chance(3) => args.push(s("any")),
                9..=11 if stores => {
                    // STORE keeps the points' scores, STOREDIST writes
                    // distances: only `gd` takes those.
                    if self.r.chance(2) {
                        args.push(s("STORE"));
                        args.push(self.store_dest());
                    } else {
                        args.push(s("STOREDIST"));
                        args.push(self.pattern(GEO_DIST));
                    }
                }
                9..=11 if storedist => args.push(s("STOREDIST")),
                _ => {}
            }
        }
        if self.r.chance(10) {
            let junk: &[&str] = if searchstore {
                &["STORE", "bogus", "FROMMEMBER"]
            } else {
                &["STORE", "storedist", "bogus", "FROMMEMBER"]
            };
            args.push(self.word(junk));
        }
    }

    /// GEOSEARCH's and GEOSEARCHSTORE's FROM* and BY*: mostly one of each,
    /// sometimes none, both, twice or cut short.
    fn search_shape(&mut self, args: &mut Vec<Vec<u8>>) {
        let s = |w: &str| w.as_bytes().to_vec();
        let mut parts: Vec<Vec<Vec<u8>>> = Vec::new();
        let froms = match self.r.below(30) {
            0 => 0,
            1 => 2,
            _ => 1,
        };
        for _ in 0..froms {
            if self.r.chance(2) {
                parts.push(vec![s("FROMMEMBER"), self.geo_member()]);
            } else {
                let (lon, lat) = self.geo_point();
                parts.push(vec![s("FROMLONLAT"), lon, lat]);
            }
        }
        let bys = match self.r.below(30) {
            0 => 0,
            1 => 2,
            _ => 1,
        };
        for _ in 0..bys {
            let mut part = Vec::new();
            if self.r.chance(2) {
                part.push(s("BYRADIUS"));
                self.radius_unit(&mut part);
            } else {
                part.push(s("BYBOX"));
                part.push(self.geo_arg(&GEO_RADII));
                part.push(self.geo_arg(&GEO_RADII));
                part.push(self.geo_arg(&UNITS));
            }
            parts.push(part);
        }
        if self.r.chance(4) {
            let n = parts.len();
            if n > 1 {
                parts.swap(0, n - 1);
            }
        }
        for part in parts {
            args.extend(part);
        }
        if self.r.chance(25) {
            args.pop();
        }
    }

    fn geo_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        match self.r.below(26) {
            0..=5 => {
                let key = if self.r.chance(8) {
                    self.key(&GEO_KEYS[..4])
                } else {
                    self.key(&GEOS[..2])
                };
                let mut args = vec![s("GEOADD"), key];
                for _ in 0..self.r.below(3) {
                    let option = match self.r.below(20) {
                        0 => "GT",
                        n => ["NX", "XX", "CH", "ch", "nx", "xx"][n as usize % 6],
                    };
                    args.push(s(option));
                }
                for _ in 0..1 + self.r.below(5) {
                    let (lon, lat) = self.geo_point();
                    args.extend([lon, lat, self.word(&GEO_MEMBERS)]);
                }
                if self.r.chance(20) {
                    args.pop();
                }
                args
            }
            6 if self.r.chance(4) => vec![s("SET"), self.pattern("gstr"), s("x")],
            6 => vec![s("ZREM"), self.key(&GEOS), self.word(&GEO_MEMBERS)],
            7 => vec![
                s("ZADD"),
                self.key(&GEOS[..2]),
                self.word(&RAW_SCORES),
                s("raw"),
            ],
            8 | 9 => {
                let name = if self.r.chance(2) {
                    "GEOPOS"
                } else {
                    "GEOHASH"
                };
                let mut args = vec![s(name), self.geo_key()];
                for _ in 0..self.r.below(4) {
                    args.push(self.geo_member());
                }
                args
            }
            10 | 11 => {
                let mut args = vec![
                    s("GEODIST"),
                    self.geo_key(),
                    self.geo_member(),
                    self.geo_member(),
                ];
                if self.r.chance(2) {
                    args.push(self.geo_arg(&UNITS));
                    if self.r.chance(12) {
                        args.push(s("km"));
                    }
                }
                args
            }
            12..=15 => {
                let ro = self.r.chance(3);
                let name = if ro { "GEORADIUS_RO" } else { "GEORADIUS" };
                let (lon, lat) = self.geo_point();
                let mut args = vec![s(name), self.geo_key(), lon, lat];
                self.radius_unit(&mut args);
                let stores = !ro || self.r.chance(8);
                self.search_options(&mut args, stores, false, false);
                args
            }
            16..=18 => {
                let ro = self.r.chance(3);
                let name = if ro {
                    "GEORADIUSBYMEMBER_RO"
                } else {
                    "GEORADIUSBYMEMBER"
                };
                let mut args = vec![s(name), self.geo_key(), self.geo_member()];
                self.radius_unit(&mut args);
                let stores = !ro || self.r.chance(8);
                self.search_options(&mut args, stores, false, false);
                args
            }
            19..=22 => {
                let mut args = vec![s("GEOSEARCH"), self.geo_key()];
                self.search_shape(&mut args);
                let storedist = self.r.chance(10);
                self.search_options(&mut args, false, storedist, false);
                args
            }
            23 | 24 => {
                let storedist = self.r.chance(3);
                let dest = if storedist {
                    self.pattern(GEO_DIST)
                } else {
                    self.store_dest()
                };
                let mut args = vec![s("GEOSEARCHSTORE"), dest, self.geo_key()];
                self.search_shape(&mut args);
                self.search_options(&mut args, false, false, true);
                if storedist {
                    args.push(s("STOREDIST"));
                }
                args
            }
            _ => ["ZRANGE", GEO_DIST, "0", "-1", "WITHSCORES"]
                .iter()
                .enumerate()
                .map(|(i, w)| if i == 1 { self.pattern(w) } else { s(w) })
                .collect(),
        }
    }
}

/// A reply as a tree, to compare geo replies leaf by leaf.
#[derive(Debug)]
enum Tree {
    /// `+`, `-` or `:` with its line.
    Line(Vec<u8>),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Tree>>),
}

/// The reply at the start of `b`, and its length.
fn tree(b: &[u8]) -> (Tree, usize) {
    let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
    let n = || -> i64 {
        std::str::from_utf8(&b[1..line_end])
            .unwrap()
            .parse()
            .unwrap()
    };
    let after = line_end + 2;
    match b[0] {
        b'$' if n() < 0 => (Tree::Bulk(None), after),
        b'$' => {
            let end = after + n() as usize;
            (Tree::Bulk(Some(b[after..end].to_vec())), end + 2)
        }
        b'*' if n() < 0 => (Tree::Array(None), after),
        b'*' => {
            let mut at = after;
            let mut items = Vec::new();
            for _ in 0..n() {
                let (item, len) = tree(&b[at..]);
                items.push(item);
                at += len;
            }
            (Tree::Array(Some(items)), at)
        }
        _ => (Tree::Line(b[..line_end].to_vec()), after),
    }
}

/// Whether two geo replies differ by more than `libm`'s and glibc's sine,
/// cosine and arcsine can make them: those may differ in the last bit, so
/// a distance printed to four decimals may be one unit apart in the last
/// (about once in 500,000 distances), and STOREDIST's distances stored
/// in full (`scores`) may differ in their last digits. Everything else
/// (members, order, coordinates, hashes, errors) must be the same.
fn geo_replies_differ(ours: &[u8], theirs: &[u8], scores: bool) -> bool {
    fn number(b: &[u8]) -> Option<f64> {
        std::str::from_utf8(b).ok()?.parse().ok()
    }
    fn four_decimals(b: &[u8]) -> bool {
        b.len() > 5 && b[b.len() - 5] == b'.' && b[b.len() - 4..].iter().all(u8::is_ascii_digit)
    }
    fn same(o: &Tree, t: &Tree, scores: bool) -> bool {
        match (o, t) {
            (Tree::Line(a), Tree::Line(b)) => a == b,
            (Tree::Bulk(a), Tree::Bulk(b)) if a == b => true,
            (Tree::Bulk(Some(a)), Tree::Bulk(Some(b))) => match (number(a), number(b)) {
                (Some(x), Some(y)) if four_decimals(a) && four_decimals(b) => {
                    (x - y).abs() < 1.5e-4
                }
                (Some(x), Some(y)) if scores => (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
                _ => false,
            },
            (Tree::Array(Some(a)), Tree::Array(Some(b))) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y, scores))
            }
            (Tree::Array(None), Tree::Array(None)) => true,
            _ => false,
        }
    }
    ours != theirs && !same(&tree(ours).0, &tree(theirs).0, scores)
}

/// The introspection and serialization families.
impl Gen<'_> {
    /// OBJECT, MEMORY USAGE or DUMP of any key, sometimes malformed.
    fn introspect_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        let keys = introspected();
        let key = self.key(&keys);
        match self.r.below(12) {
            0..=3 => vec![s("OBJECT"), self.word(&["ENCODING", "encoding"]), key],
            4 => vec![s("OBJECT"), s("REFCOUNT"), key],
            5 => vec![
                s("OBJECT"),
                self.word(&["FREQ", "IDLETIME", "idletime"]),
                key,
            ],
            6 => {
                let junk: [&[&str]; 8] = [
                    &["OBJECT"],
                    &["OBJECT", "ENCODING"],
                    &["OBJECT", "NOPE", "k"],
                    &["OBJECT", "HELP", "x"],
                    &["MEMORY", "USAGE"],
                    &["MEMORY", "NOPE"],
                    &["DUMP"],
                    &["OBJECT", "REFCOUNT", "k", "x"],
                ];
                let words = *self.r.pick(&junk);
                words
                    .iter()
                    .map(|w| if *w == "k" { key.clone() } else { s(w) })
                    .collect()
            }
            7 | 8 => {
                let mut args = vec![s("MEMORY"), s("USAGE"), key];
                if self.r.chance(3) {
                    args.push(self.word(&["SAMPLES", "samples", "x"]));
                    if !self.r.chance(5) {
                        args.push(self.word(&["0", "5", "-1", "x", "100"]));
                    }
                }
                args
            }
            _ => vec![s("DUMP"), key],
        }
    }

    /// RESTORE into one of the [`RESTORED`] keys of `payload` (Redis's
    /// DUMP of some key), sometimes damaged, with random options.
    fn restore_command(&mut self, mut payload: Vec<u8>) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        let n = payload.len();
        match self.r.below(10) {
            0 if n > 0 => payload[self.r.below(n as u64) as usize] ^= 1 << self.r.below(8),
            1 => payload.truncate(self.r.below(n as u64 + 1) as usize),
            2 if n >= 10 => payload[n - 10] = 11,
            3 if n >= 10 => {
                // An unknown type with a correct footer.
                payload[0] = *self.r.pick(&[20u8, 100, 200]);
                let crc = crc64(&payload[..n - 8]);
                payload[n - 8..].copy_from_slice(&crc.to_le_bytes());
            }
            _ => {}
        }
        let mut args = vec![s("RESTORE"), self.key(&RESTORED)];
        let absttl = self.r.chance(8);
        args.push(if absttl {
            s("1000")
        } else {
            self.word(&["0", "0", "0", "0", "10000000", "-1", "x"])
        });
        args.push(payload);
        if absttl {
            args.push(s("ABSTTL"));
        }
        for _ in 0..self.r.below(3) {
            match self.r.below(8) {
                0..=3 => args.push(self.word(&["REPLACE", "replace"])),
                4 => args.extend([s("IDLETIME"), self.word(&["5", "-1", "x"])]),
                5 => args.extend([s("FREQ"), self.word(&["3", "256", "-1"])]),
                6 => args.push(s("FREQ")),
                _ => args.push(s("BOGUS")),
            }
        }
        args
    }

    /// A write around the encodings' thresholds (small, as the phase sets
    /// them), to one of [`THRESHOLD_KEYS`].
    fn threshold_command(&mut self) -> Vec<Vec<u8>> {
        let s = |w: &str| w.as_bytes().to_vec();
        // Members of every intset width, and words; lengths around the
        // value thresholds (0 to 8 in this phase).
        let ints = ["1", "2", "3", "-3", "70000", "5000000000", "9"];
        let member = |g: &mut Self| -> Vec<u8> {
            if g.r.chance(2) {
                g.word(&ints)
            } else {
                let len = g.r.below(10) as usize;
                vec![b'a' + g.r.below(3) as u8; len]
            }
        };
        match self.r.below(24) {
            0 => {
                let v = self.word(&["12", "9999", "10000", "-5", "07", "x", "", "123456789012"]);
                vec![s("SET"), self.key(&["ts"]), v]
            }
            1 => {
                let len = *self.r.pick(&[1usize, 20, 21, 44, 45, 60]);
                vec![s("SET"), self.key(&["ts"]), vec![b'q'; len]]
            }
            2 => vec![
                self.word(&["APPEND", "GETSET"]),
                self.key(&["ts"]),
                self.word(&["1", "abc"]),
            ],
            3 => vec![self.word(&["INCR", "DECR"]), self.key(&["ts"])],
            4 => vec![
                s("INCRBYFLOAT"),
                self.key(&["ts"]),
                self.word(&["1", "0.5"]),
            ],
            // At offset 0 (no NUL padding, which Redis's INCRBYFLOAT reads
            // past: `"5\0"` is 5 there), and no `x` (`0x1` is a hex float
            // to Redis): both are refused by kvs-core (docs/kvs.md).
            5 => vec![
                s("SETRANGE"),
                self.key(&["ts"]),
                s("0"),
                self.word(&["y", ""]),
            ],
            6 => vec![s("SETBIT"), self.key(&["ts"]), s("3"), s("1")],
            7 | 8 => {
                let mut args = vec![self.word(&["RPUSH", "LPUSH"]), self.key(&["tl"])];
                for _ in 0..=self.r.below(4) {
                    let len = *self.r.pick(&[1usize, 5, 30, 300]);
                    args.push(vec![b'l'; len]);
                }
                args
            }
            9 => vec![self.word(&["RPOP", "LPOP"]), self.key(&["tl"])],
            10 | 11 => {
                let mut args = vec![s("SADD"), self.key(&["ti"])];
                for _ in 0..=self.r.below(3) {
                    args.push(member(self));
                }
                args
            }
            12 => vec![s("SREM"), self.key(&["ti"]), member(self)],
            13 => vec![
                self.word(&["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
                self.key(&["ti2"]),
                self.key(&["ti"]),
            ],
            14 => vec![
                s("SMOVE"),
                self.key(&["ti"]),
                self.key(&["ti2"]),
                member(self),
            ],
            15 | 16 => {
                let mut args = vec![self.word(&["HSET", "HSET", "HSETNX"]), self.key(&["th"])];
                let pairs = if args[0] == b"HSETNX" {
                    1
                } else {
                    1 + self.r.below(2)
                };
                for _ in 0..pairs {
                    args.push(member(self));
                    args.push(member(self));
                }
                args
            }
            17 => vec![s("HDEL"), self.key(&["th"]), member(self)],
            18 => vec![
                s("HINCRBY"),
                self.key(&["th"]),
                member(self),
                s("100000000"),
            ],
            19 | 20 => {
                let mut args = vec![s("ZADD"), self.key(&["tz"])];
                for _ in 0..=self.r.below(2) {
                    args.push(self.word(&["1", "2", "-1", "1.5"]));
                    args.push(member(self));
                }
                args
            }
            21 => vec![s("ZREM"), self.key(&["tz"]), member(self)],
            22 => match self.r.below(4) {
                0 => vec![
                    s("ZUNIONSTORE"),
                    self.key(&["tz2"]),
                    s("1"),
                    self.key(&["tz"]),
                ],
                1 => vec![
                    s("ZRANGESTORE"),
                    self.key(&["tz2"]),
                    self.key(&["tz"]),
                    s("0"),
                    s("1"),
                ],
                2 => vec![s("SORT"), self.key(&["tz"]), s("ALPHA")],
                _ => vec![s("ZINCRBY"), self.key(&["tz"]), s("1"), member(self)],
            },
            _ => vec![
                s("COPY"),
                self.key(&["th", "tz", "ti", "ts", "tl"]),
                self.key(&["tc"]),
                s("REPLACE"),
            ],
        }
    }
}

fn show(args: &[Vec<u8>]) -> String {
    args.iter()
        .map(|a| format!("{:?}", String::from_utf8_lossy(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The test's keys in the databases it uses, deleted when it ends
/// (however it ends).
struct Cleanup<'a> {
    redis: &'a mut Redis,
    prefix: String,
}

impl Drop for Cleanup<'_> {
    fn drop(&mut self) {
        for db in 0..3 {
            self.redis
                .call(&[b"SELECT".to_vec(), db.to_string().into_bytes()]);
            let mut del = vec![b"DEL".to_vec()];
            del.extend(
                KEYS.iter()
                    .chain(&ZSETS)
                    .chain(&[HASH])
                    .chain(&HLLS)
                    .map(|k| format!("{}{k}", self.prefix).into_bytes()),
            );
            self.redis.call(&del);
            let mut del = vec![b"DEL".to_vec()];
            del.extend(
                SETS.iter()
                    .chain(&LISTS)
                    .chain(&RESTORED)
                    .chain(&THRESHOLD_KEYS)
                    .chain(&["rt"])
                    .chain(&GEOS)
                    .chain(&[GEO_DIST, "gstr"])
                    .map(|k| k.to_string())
                    .chain(pattern_keys())
                    .map(|k| format!("{}{k}", self.prefix).into_bytes()),
            );
            self.redis.call(&del);
        }
        self.redis.call(&[b"SELECT".to_vec(), b"0".to_vec()]);
        let mut defaults = vec![b"CONFIG".to_vec(), b"SET".to_vec()];
        defaults.extend([b"notify-keyspace-events".to_vec(), Vec::new()]);
        for (name, value) in THRESHOLDS {
            defaults.extend([name.as_bytes().to_vec(), value.as_bytes().to_vec()]);
        }
        self.redis.call(&defaults);
    }
}

/// Compares the replies of OBJECT FREQ/IDLETIME and MEMORY USAGE, whose
/// numbers depend on clocks and allocators: errors and nils byte for
/// byte, numbers by shape. `None` when they agree.
fn shape_differs(ours: &[u8], theirs: &[u8]) -> Option<String> {
    let number = |r: &[u8]| r.starts_with(b":");
    if number(ours) && number(theirs) || ours == theirs {
        None
    } else {
        Some("the replies differ in shape".into())
    }
}

/// Where kvs-core's DUMP of `key` differs from Redis's, what is wrong
/// with it (`ours`, the reply): nothing if the value is a hash-table set
/// or hash (whose order is each one's own) or a list (whose nodes Redis
/// splits by its history) and the payload, RESTOREd into Redis, reads
/// back as the key does. A listpack hash keeps Redis's order: its DUMP
/// must be the same.
fn dump_differs(redis: &mut Redis, prefix: &str, key: &[u8], ours: &[u8]) -> Option<String> {
    let kind = redis.call(&[b"TYPE".to_vec(), key.to_vec()]);
    let encoding = redis.call(&[b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.to_vec()]);
    let read = match kind.as_slice() {
        b"+set\r\n" => "SMEMBERS",
        b"+hash\r\n" if encoding != b"$8\r\nlistpack\r\n" => "HGETALL",
        b"+list\r\n" => "LRANGE",
        _ => return Some("the payloads differ".into()),
    };
    let Some(payload) = bulks(ours).and_then(|b| b.into_iter().next()) else {
        return Some("kvs-core's DUMP is no bulk string".into());
    };
    let scratch = format!("{prefix}rt").into_bytes();
    let restored = redis.call(&[
        b"RESTORE".to_vec(),
        scratch.clone(),
        b"0".to_vec(),
        payload,
        b"REPLACE".to_vec(),
    ]);
    if restored != b"+OK\r\n" {
        return Some(format!(
            "Redis refuses kvs-core's payload: {}",
            String::from_utf8_lossy(&restored)
        ));
    }
    // Sorted, pairs kept together: an order-blind view.
    let contents = |redis: &mut Redis, k: &[u8]| {
        let mut args = vec![read.as_bytes().to_vec(), k.to_vec()];
        if read == "LRANGE" {
            args.extend([b"0".to_vec(), b"-1".to_vec()]);
        }
        let items = bulks(&flatten(&redis.call(&args))).unwrap_or_default();
        let step = if read == "HGETALL" { 2 } else { 1 };
        let mut groups: Vec<Vec<u8>> = items.chunks(step).map(|p| p.join(&b'\0')).collect();
        if read != "LRANGE" {
            groups.sort();
        }
        groups
    };
    let same = contents(redis, key) == contents(redis, &scratch);
    redis.call(&[b"DEL".to_vec(), scratch]);
    (!same).then(|| "kvs-core's payload restores another value in Redis".into())
}

/// A RESP3 reply's shape: its types and aggregate lengths, errors,
/// simple strings and nulls in full, other strings and numbers by type.
fn skeleton(b: &[u8]) -> Vec<u8> {
    let len = reply_len(b).unwrap_or(b.len());
    let mut out = Vec::new();
    let mut at = 0;
    while at < len {
        let line_end = at + b[at..].windows(2).position(|w| w == b"\r\n").unwrap();
        match b[at] {
            b'$' | b'=' if &b[at + 1..line_end] != b"-1" => {
                let n: usize = std::str::from_utf8(&b[at + 1..line_end])
                    .unwrap()
                    .parse()
                    .unwrap();
                out.extend_from_slice(b"$ ");
                at = line_end + 2 + n + 2;
            }
            b',' | b':' => {
                out.extend_from_slice(&[b[at], b' ']);
                at = line_end + 2;
            }
            _ => {
                out.extend_from_slice(&b[at..line_end]);
                out.push(b' ');
                at = line_end + 2;
            }
        }
    }
    out
}

/// A RESP3 reply written as RESP2 would hold the same values, for the
/// comparisons that read RESP2: maps and sets as arrays, doubles as bulk
/// strings, nulls as `$-1`, and an array of pairs as one flat array.
fn flatten(b: &[u8]) -> Vec<u8> {
    fn walk(b: &[u8], out: &mut Vec<u8>) -> usize {
        let line_end = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let head = &b[1..line_end];
        let n = || -> usize { std::str::from_utf8(head).unwrap().parse().unwrap() };
        let after = line_end + 2;
        match b[0] {
            b'_' => out.extend_from_slice(b"$-1\r\n"),
            b',' => out.extend_from_slice(
                format!("${}\r\n{}\r\n", head.len(), String::from_utf8_lossy(head)).as_bytes(),
            ),
            b'*' | b'~' | b'%' if head != b"-1" => {
                let count = if b[0] == b'%' { 2 * n() } else { n() };
                let mut items = Vec::new();
                let mut at = after;
                for _ in 0..count {
                    let mut item = Vec::new();
                    at += walk(&b[at..], &mut item);
                    items.push(item);
                }
                let pairs = count > 0 && items.iter().all(|i| i.starts_with(b"*2\r\n"));
                let total = if pairs { 2 * count } else { count };
                out.extend_from_slice(format!("*{total}\r\n").as_bytes());
                for item in items {
                    out.extend_from_slice(if pairs { &item[4..] } else { &item });
                }
                return at;
            }
            _ => {
                let len = reply_len(b).unwrap();
                out.extend_from_slice(&b[..len]);
                return len;
            }
        }
        after
    }
    let mut out = Vec::new();
    walk(b, &mut out);
    out
}

/// Says why no comparison is made; a failure where one is required
/// (`KVS_DIFF_REQUIRED=1`).
#[test]
fn replies_match_redis_7_0() {
    run(Protocol::Resp2);
}

/// The same commands as [`replies_match_redis_7_0`], in sessions that
/// said `HELLO 3`: every reply the same in RESP3.
#[test]
fn resp3_replies_match_redis_7_0() {
    run(Protocol::Resp3);
}

/// Held by the test that runs: both set the server's configuration.
static SERVER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(protocol: Protocol) {
    let _alone = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    let test = match protocol {
        Protocol::Resp2 => "redis_diff",
        Protocol::Resp3 => "redis_diff (RESP3)",
    };
    let Some((mut redis, version, addr)) = redis_7_0(test) else {
        return;
    };
    let seed = seed();
    let rounds = count("KVS_DIFF_ROUNDS", 3000);
    let prefix = key_prefix("kvsdiff");
    eprintln!(
        "{test}: Redis {version} at {addr}, seed {seed} (KVS_DIFF_SEED={seed} repeats it), {rounds} commands, keys {prefix}*"
    );
    let resp3 = protocol == Protocol::Resp3;
    if resp3 {
        let hello = redis.call(&[b"HELLO".to_vec(), b"3".to_vec()]);
        assert!(hello.starts_with(b"%"), "HELLO 3: {hello:?}");
    }

    let mut store = Store::new();
    // Keyspace events: every class but key misses, on both; a subscriber
    // sees Redis's, the store says its own.
    let classes = b"KEA n"
        .iter()
        .filter(|&&c| c != b' ')
        .copied()
        .collect::<Vec<u8>>();
    redis.call(&[
        b"CONFIG".to_vec(),
        b"SET".to_vec(),
        b"notify-keyspace-events".to_vec(),
        classes.clone(),
    ]);
    store
        .configure(
            "notify-keyspace-events",
            std::str::from_utf8(&classes).unwrap(),
        )
        .unwrap();
    let mut events = Events::subscribe(&addr, &prefix);
    let mut session = Session::new();
    session.set_protocol(protocol);
    let cleanup = Cleanup {
        redis: &mut redis,
        prefix: prefix.clone(),
    };
    let swaps = std::env::var("KVS_DIFF_OWN_SERVER").is_ok_and(|v| v == "1");
    let mut g = Gen {
        r: Rng(seed),
        prefix: &prefix,
        swaps,
    };
    let mut history: Vec<String> = Vec::new();
    // How many of the commands before a difference it shows.
    let shown: usize = std::env::var("KVS_DIFF_HISTORY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(25);
    // Per command name: replies that were errors, and the others.
    let mut tally: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    let mut compare = |args: Vec<Vec<u8>>, history: &mut Vec<String>, redis: &mut Redis| {
        let theirs = redis.call(&args);
        // Before the checks below run commands of their own on Redis.
        let their_events = events.since();
        let counts = tally
            .entry(String::from_utf8_lossy(&args[0]).to_uppercase())
            .or_default();
        if theirs.starts_with(b"-") {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut ours = Vec::new();
        store
            .execute(&mut session, &refs, 1_700_000_000_000)
            .encode(protocol, &mut ours);
        history.push(show(&args));
        let name = args[0].to_ascii_uppercase();
        // The comparisons below that read RESP2 read RESP3 flattened,
        // after the shapes are found the same.
        let exact = (ours != theirs).then(|| "the replies differ".to_string());
        // SORT in hash order: the elements' shapes as a multiset.
        let unordered = (name == b"SORT" || name == b"SORT_RO") && sort_unordered(&args);
        let shape = |reply: &[u8]| match (unordered, elements(reply)) {
            (true, Some(items)) => {
                let mut shapes: Vec<Vec<u8>> = items.iter().map(|i| skeleton(i)).collect();
                shapes.sort();
                shapes.concat()
            }
            _ => skeleton(reply),
        };
        let shapes = (resp3 && shape(&ours) != shape(&theirs))
            .then(|| "the replies differ in shape".to_string());
        let (ours_sent, theirs_sent) = (ours.clone(), theirs.clone());
        let (ours, theirs) = match resp3 {
            true => (flatten(&ours), flatten(&theirs)),
            false => (ours, theirs),
        };
        let why = if shapes.is_some() {
            shapes
        } else if (name == b"ZRANDMEMBER" || name == b"HRANDFIELD") && args.len() > 1 {
            let mut read = if name == b"HRANDFIELD" {
                vec![b"HGETALL".to_vec(), args[1].clone()]
            } else {
                ["ZRANGE", "", "0", "-1", "WITHSCORES"]
                    .map(|w| w.as_bytes().to_vec())
                    .to_vec()
            };
            read[1] = args[1].clone();
            let contents = bulks(&flatten(&redis.call(&read))).unwrap_or_default();
            random_replies_differ(&args, &ours, &theirs, &contents)
        } else if name.starts_with(b"GEO") || (name == b"ZRANGE" && args[1].ends_with(b":gd")) {
            geo_replies_differ(&ours, &theirs, name == b"ZRANGE")
                .then(|| "the replies differ (distances by more than libm can)".to_string())
        } else if name == b"OBJECT"
            && args.len() == 3
            && (args[1].eq_ignore_ascii_case(b"FREQ") || args[1].eq_ignore_ascii_case(b"IDLETIME"))
            || name == b"MEMORY"
        {
            shape_differs(&ours, &theirs)
        } else if name == b"DUMP" && args.len() == 2 && ours != theirs {
            dump_differs(redis, &prefix, &args[1], &ours)
        } else if (name == b"SORT" || name == b"SORT_RO")
            && sort_unordered(&args)
            && !theirs.starts_with(b"-")
        {
            (elements(&ours) != elements(&theirs))
                .then(|| "the replies differ as multisets".to_string())
        } else {
            exact
        };
        let our_events = store_events(&mut store, &prefix);
        if name == b"DUMP" {
            // What `dump_differs` did on Redis alone.
            events.since();
        }
        let why = why.or_else(|| {
            (their_events != our_events).then(|| {
                format!("the keyspace events differ\n redis:    {their_events:?}\n kvs-core: {our_events:?}")
            })
        });
        if let Some(why) = why {
            let recent = history
                .iter()
                .rev()
                .take(shown)
                .rev()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n  ");
            panic!(
                "seed {seed}, command {}: {}: {why}\n redis:    {:?}\n kvs-core: {:?}\nthe commands before it:\n  {recent}",
                history.len(),
                show(&args),
                String::from_utf8_lossy(&theirs_sent),
                String::from_utf8_lossy(&ours_sent),
            );
        }
    };
    let list = format!("{prefix}list").into_bytes();
    compare(
        vec![b"SELECT".to_vec(), b"0".to_vec()],
        &mut history,
        cleanup.redis,
    );
    compare(
        vec![b"RPUSH".to_vec(), list, b"x".to_vec()],
        &mut history,
        cleanup.redis,
    );
    for _ in 0..rounds {
        if g.r.chance(8) {
            let args = g.introspect_command();
            compare(args, &mut history, cleanup.redis);
        }
        if g.r.chance(20) {
            // A payload Redis DUMPed from any key (junk for a missing one).
            let keys = introspected();
            let dumped = cleanup.redis.call(&[b"DUMP".to_vec(), g.key(&keys)]);
            let payload = bulks(&dumped)
                .and_then(|b| b.into_iter().next())
                .unwrap_or_else(|| b"junk".to_vec());
            let args = g.restore_command(payload);
            compare(args, &mut history, cleanup.redis);
        }
        let args = g.command();
        // Now and then under WATCH of the key it writes (BITOP's
        // destination, COPY's): whether the command counts as a change
        // shows in whether the EXEC after it runs.
        // (SWAPDB: any key.)
        let any = g.key(&KEYS);
        // A movable-keys command: one of the keys the command table finds.
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let found: Vec<usize> = command::find(command::COMMANDS, &args[0])
            .filter(|spec| spec.keys.is_movable())
            .map(|spec| spec.keys.positions(&refs))
            .unwrap_or_default();
        let movable =
            (!found.is_empty()).then(|| &args[found[g.r.below(found.len() as u64) as usize]]);
        let watched = match args.first().map(|n| n.to_ascii_uppercase()) {
            _ if movable.is_some() => movable,
            Some(n) if n == b"BITOP" || n == b"COPY" => args.get(2),
            Some(n) if n == b"SWAPDB" => Some(&any),
            _ => args.get(1),
        }
        .filter(|k| k.starts_with(prefix.as_bytes()))
        .cloned();
        match watched {
            Some(key) if g.r.chance(3) => {
                compare(vec![b"WATCH".to_vec(), key], &mut history, cleanup.redis);
                compare(args, &mut history, cleanup.redis);
                for word in ["MULTI", "PING", "EXEC"] {
                    compare(vec![word.as_bytes().to_vec()], &mut history, cleanup.redis);
                }
            }
            _ => compare(args, &mut history, cleanup.redis),
        }
    }
    // The restored keys, read by type.
    for db in 0..3 {
        compare(
            vec![b"SELECT".to_vec(), db.to_string().into_bytes()],
            &mut history,
            cleanup.redis,
        );
        for k in RESTORED {
            let key = format!("{prefix}{k}").into_bytes();
            let kind = cleanup.redis.call(&[b"TYPE".to_vec(), key.clone()]);
            let words: &[&str] = match kind.as_slice() {
                b"+string\r\n" => &["GET"],
                b"+list\r\n" => &["LRANGE", "0", "-1"],
                b"+set\r\n" => &["SORT", "ALPHA"],
                b"+zset\r\n" => &["ZRANGE", "0", "-1", "WITHSCORES"],
                b"+hash\r\n" => &["HLEN"],
                _ => &["EXISTS"],
            };
            let mut read: Vec<Vec<u8>> = words.iter().map(|w| w.as_bytes().to_vec()).collect();
            read.insert(1, key.clone());
            let mut reads = vec![
                vec![b"TYPE".to_vec(), key.clone()],
                vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.clone()],
                read,
            ];
            if kind == b"+hash\r\n" {
                // Each field's value, in an order both agree on.
                let fields = cleanup.redis.call(&[b"HKEYS".to_vec(), key.clone()]);
                let mut hmget = vec![b"HMGET".to_vec(), key.clone()];
                hmget.extend(bulks(&fields).unwrap_or_default());
                reads.push(hmget);
            }
            for args in reads {
                compare(args, &mut history, cleanup.redis);
            }
        }
    }
    // The thresholds phase: small thresholds, writes of each type around
    // them, the encoding (and now and then DUMP, MEMORY USAGE and
    // REFCOUNT) after each; the defaults back at the end.
    compare(
        vec![b"SELECT".to_vec(), b"0".to_vec()],
        &mut history,
        cleanup.redis,
    );
    for round in 0..(rounds / 10).max(300) {
        if round % 60 == 0 {
            let mut set = vec![b"CONFIG".to_vec(), b"SET".to_vec()];
            for (name, _) in THRESHOLDS {
                let value = if name == "list-max-listpack-size" {
                    g.r.range(-3, 4)
                } else {
                    g.r.range(0, 8)
                };
                set.extend([name.as_bytes().to_vec(), value.to_string().into_bytes()]);
            }
            compare(set, &mut history, cleanup.redis);
        }
        let args = g.threshold_command();
        let key = if args[0] == b"COPY" {
            args[2].clone()
        } else if args.len() > 2 && (args[0].ends_with(b"STORE") || args[0] == b"SMOVE") {
            args[if args[0] == b"SMOVE" { 2 } else { 1 }].clone()
        } else {
            args[1].clone()
        };
        compare(args, &mut history, cleanup.redis);
        let mut reads = vec![vec![b"OBJECT".to_vec(), b"ENCODING".to_vec(), key.clone()]];
        match g.r.below(6) {
            0 => reads.push(vec![b"DUMP".to_vec(), key.clone()]),
            1 => reads.push(vec![b"OBJECT".to_vec(), b"REFCOUNT".to_vec(), key.clone()]),
            2 => reads.push(vec![b"MEMORY".to_vec(), b"USAGE".to_vec(), key.clone()]),
            _ => {}
        }
        for args in reads {
            compare(args, &mut history, cleanup.redis);
        }
    }
    let mut defaults = vec![b"CONFIG".to_vec(), b"SET".to_vec()];
    for (name, value) in THRESHOLDS {
        defaults.extend([name.as_bytes().to_vec(), value.as_bytes().to_vec()]);
    }
    compare(defaults, &mut history, cleanup.redis);
    // The data each side ends with.
    for db in 0..3 {
        compare(
            vec![b"SELECT".to_vec(), db.to_string().into_bytes()],
            &mut history,
            cleanup.redis,
        );
        for k in KEYS.iter().chain(&ZSETS).chain(&[HASH]).chain(&HLLS) {
            let key = format!("{prefix}{k}").into_bytes();
            compare(
                vec![b"TYPE".to_vec(), key.clone()],
                &mut history,
                cleanup.redis,
            );
            if k.starts_with('z') {
                let args = ["ZRANGE", "0", "-1", "WITHSCORES"].map(|w| w.as_bytes().to_vec());
                let mut args = args.to_vec();
                args.insert(1, key);
                compare(args, &mut history, cleanup.redis);
            } else if *k == HASH {
                compare(
                    vec![b"HLEN".to_vec(), key.clone()],
                    &mut history,
                    cleanup.redis,
                );
                let mut args = vec![b"HMGET".to_vec(), key];
                args.extend(MEMBERS.iter().map(|m| m.as_bytes().to_vec()));
                compare(args, &mut history, cleanup.redis);
            } else if *k != "list" {
                compare(vec![b"GET".to_vec(), key], &mut history, cleanup.redis);
            }
        }
        // The geo keys' points, and STOREDIST's distances.
        for k in GEOS.iter().chain(&[GEO_DIST, "gstr"]) {
            let key = format!("{prefix}{k}").into_bytes();
            compare(
                vec![b"TYPE".to_vec(), key.clone()],
                &mut history,
                cleanup.redis,
            );
            let mut args = ["ZRANGE", "", "0", "-1", "WITHSCORES"].map(|w| w.as_bytes().to_vec());
            args[1] = key;
            compare(args.to_vec(), &mut history, cleanup.redis);
        }
        // The numkeys and SORT families' keys (and `c` and `d`, which they
        // may turn into a sorted set and a list), in an order both agree on.
        let more = SETS.iter().chain(&LISTS).chain(&["c", "d"]);
        for k in more.map(|k| k.to_string()).chain(pattern_keys()) {
            let key = format!("{prefix}{k}").into_bytes();
            let mut reads = vec![
                vec![b"TYPE".to_vec(), key.clone()],
                vec![b"SORT".to_vec(), key.clone(), b"ALPHA".to_vec()],
            ];
            if k.starts_with("w_") {
                reads.push(vec![b"GET".to_vec(), key]);
            } else if k.starts_with("h_") {
                reads.push(vec![b"HMGET".to_vec(), key, b"f".to_vec(), b"g".to_vec()]);
            }
            for args in reads {
                compare(args, &mut history, cleanup.redis);
            }
        }
    }
    let summary: Vec<String> = tally
        .iter()
        .map(|(name, (errors, others))| format!("{name} {others}+{errors} errors"))
        .collect();
    eprintln!(
        "{test}: all {} replies the same ({})",
        history.len(),
        summary.join(", ")
    );
}
