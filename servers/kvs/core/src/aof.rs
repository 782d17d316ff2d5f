//! The append-only log: record format, logging, replay and compaction.
//!
//! The log is a sequence of records, each one complete top-level command's
//! effect (a whole `EXEC` is one record), so that replay applies a command
//! entirely or not at all. A record:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | kind: [`RECORD_BATCH`] (`0xA5`) |
//! | 4 | payload length, `u32` little-endian |
//! | 4 | CRC-32C (Castagnoli) of the kind byte, the length and the payload, `u32` little-endian, started from the log's salt |
//! | n | payload |
//!
//! The payload is `u64` time in milliseconds (the server's clock when the
//! command ran), `u32` command count, then per command: `u8` database
//! index, `u32` argument count, and per argument `u32` length + bytes (all
//! integers little-endian).
//!
//! **Tagged records** ([`RECORD_TAGGED`], `0xA6`) carry, before that
//! payload, `u32` tag count and per [`Tag`] `u64` client, `u64` call,
//! `u32` entry: which command of which client's call made the record, so
//! that after a crash the server can tell a client which commands of the
//! call in flight took effect ([`Marks`]). A record is applied whole or not
//! at all, so its tag is on the disk exactly when its change is. A record
//! with tags and no command restates the marks (a compaction writes one).
//! Untagged records keep the original kind, so logs written before tags
//! existed replay unchanged.
//!
//! **The salt** is a number the log's owner picks for each new log
//! (`kvs::persist` takes a new one at every compaction): the checksum
//! starts from it, so records of an older log that happen to lie past the
//! end of a newer one on the same disk never pass as the newer log's.
//!
//! **What is logged.** While [`AofWriter::execute`] runs a command, the
//! store journals every key it touches (the same hook WATCH uses) and
//! every flush; a command that changed nothing (a failed write, a read)
//! writes no record. A command that did change data is logged verbatim
//! with its database and time: replay runs it on the same state at the
//! same time, so it has the same effect (relative expiries, lazy expiry
//! and `INCRBYFLOAT` rounding included), and a push onto a long list costs
//! a record the size of the push. Two kinds are logged by their effect
//! instead: `SPOP`, whose pick is random, becomes `SREM` of the members it
//! returned; `EXEC` (whose queued commands may `SELECT` between databases),
//! and `EVAL` and `EVALSHA` (whose scripts may, and whose random numbers
//! replay would not repeat), write each touched key as its resulting state: `DEL key` and, if the
//! key exists, commands recreating it (`SET`, `RPUSH`, `HSET`, `SADD`,
//! `ZADD`) and its absolute expiry (`PEXPIREAT key ms`); a flush is
//! `FLUSHDB` in that database, and a database `SWAPDB` replaced is
//! `FLUSHDB` and then every key it holds (as is each of the two for a
//! compaction in the background: [`AofWriter::shadow`]). A command after
//! which the store served blocked sessions (a push onto a list a `BLPOP`
//! waits on) is followed, in its record, by the non-blocking commands that
//! served them (`LPOP key`, `LMOVE …`: `crate::blocking`), which replay
//! repeats. A change Redis
//! makes without signalling it (`BITFIELD` growing a string for writes
//! that all failed under `OVERFLOW FAIL`) is journalled, and logged,
//! though WATCH does not see it.
//!
//! **Recovery rule.** [`replay`] applies records in order and stops at the
//! first one that is incomplete (a power cut mid-write), has an unknown
//! kind, a checksum mismatch or a malformed payload; the returned
//! [`ReplayReport::bytes_used`] is where valid data ends, and the server
//! truncates the log there before appending again.
//!
//! **Compaction.** [`rewrite`] produces a log, one record per live key,
//! that recreates the current data set (all databases and types, expiries
//! as absolute times); it replaces the old log.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use crate::db::{Db, Entry, Value};
use crate::num;
use crate::reply::Reply;
use crate::store::{DATABASES, Session, Store};

/// The kind byte of a record holding a batch of commands.
pub const RECORD_BATCH: u8 = 0xA5;

/// The kind byte of a record holding tags, then a batch of commands.
pub const RECORD_TAGGED: u8 = 0xA6;

/// Which command made a record: entry `entry` (from 0) of call `call` of
/// client `client` (the badge the server knows it by). A client numbers
/// its calls so that no number comes twice, across its own restarts too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    /// The client.
    pub client: u64,
    /// The client's number for the call.
    pub call: u64,
    /// The command's place in the call.
    pub entry: u32,
}

/// The last tag each client's records carried, by client: what a restarted
/// server knows of the calls that were in flight.
pub type Marks = alloc::collections::BTreeMap<u64, Tag>;

/// Bytes of a tag in a record.
const TAG_LEN: usize = 20;

/// Bytes in a record's header (kind, length, checksum).
pub const HEADER_LEN: usize = 9;

/// Largest payload a record may carry (1 GiB); a larger length field is
/// treated as corruption.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// Collection elements per recreating command (bounds command size).
const CHUNK: usize = 128;

/// Argument bytes after which a compaction ends a record and starts the
/// next: a key's records are built and written a piece at a time, so a
/// large value is never copied whole (a string goes as SET and APPENDs).
const RECORD_SPLIT: usize = 1 << 20;

/// The CRC-32C tables for eight bytes at a time ("slicing by 8"): table
/// 0 is the byte-at-a-time table, table `k` a byte's effect `k` bytes
/// further back. Every record is checksummed as it is logged, so this is
/// on every write's path; eight table lookups per eight bytes instead of
/// a dependent lookup per byte.
const fn crc32c_tables() -> [[u32; 256]; 8] {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0x82F6_3B78
            } else {
                c >> 1
            };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut k = 1;
        while k < 8 {
            let prev = t[k - 1][i];
            t[k][i] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            k += 1;
        }
        i += 1;
    }
    t
}

static CRC32C: [[u32; 256]; 8] = crc32c_tables();

/// Continues a CRC-32C (Castagnoli, reflected, as iSCSI/ext4 use) over
/// `data`; start with `crc = 0`.
pub fn crc32c(crc: u32, data: &[u8]) -> u32 {
    let t = &CRC32C;
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for chunk in &mut chunks {
        let lo = c ^ u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let hi = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        c = t[7][(lo & 0xFF) as usize]
            ^ t[6][((lo >> 8) & 0xFF) as usize]
            ^ t[5][((lo >> 16) & 0xFF) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xFF) as usize]
            ^ t[2][((hi >> 8) & 0xFF) as usize]
            ^ t[1][((hi >> 16) & 0xFF) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = t[0][((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
    }
    !c
}

/// One logged command: the database it applies to and its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedCommand {
    /// Database index (`< DATABASES`).
    pub db: u8,
    /// The argument list, name first.
    pub args: Vec<Vec<u8>>,
}

/// One record: when its commands ran, what they were, and the tags of
/// the calls that made them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The server's clock when the commands ran, in milliseconds.
    pub time_ms: u64,
    /// The commands, applied in order.
    pub commands: Vec<LoggedCommand>,
    /// The tags (none for an untagged record).
    pub tags: Vec<Tag>,
}

/// Encodes one record holding `commands`, run at `time_ms`, for a log with
/// `salt`, with `tags`, and appends it to `out`.
pub fn encode_record(
    out: &mut Vec<u8>,
    salt: u32,
    time_ms: u64,
    commands: &[LoggedCommand],
    tags: &[Tag],
) {
    let borrowed: Vec<Borrowed<'_>> = commands
        .iter()
        .map(|c| (c.db, c.args.iter().map(|a| Cow::Borrowed(&a[..])).collect()))
        .collect();
    encode(out, salt, time_ms, &borrowed, tags);
}

/// Appends a record restating `marks` (no commands) for a log with `salt`.
pub fn encode_marks(out: &mut Vec<u8>, salt: u32, time_ms: u64, marks: &Marks) {
    if marks.is_empty() {
        return;
    }
    let tags: Vec<Tag> = marks.values().copied().collect();
    encode(out, salt, time_ms, &[], &tags);
}

/// The most room [`AofWriter::move_to`] keeps in the writer's buffer.
const KEPT_BUFFER: usize = 64 << 10;

/// A command with its arguments borrowed from the store where they can
/// be (numbers printed for it are owned).
type Borrowed<'a> = (u8, Vec<Cow<'a, [u8]>>);

/// [`encode_record`] of borrowed commands.
fn encode(out: &mut Vec<u8>, salt: u32, time_ms: u64, commands: &[Borrowed<'_>], tags: &[Tag]) {
    let commands = commands
        .iter()
        .map(|(db, args)| (*db, args.iter().map(|a| &a[..])));
    encode_commands(out, salt, time_ms, commands, tags);
}

/// [`encode`] of commands given as `(database, arguments)` in any form
/// (a plain command's own arguments need no vector of their own).
fn encode_commands<'a, A>(
    out: &mut Vec<u8>,
    salt: u32,
    time_ms: u64,
    commands: impl ExactSizeIterator<Item = (u8, A)>,
    tags: &[Tag],
) where
    A: ExactSizeIterator<Item = &'a [u8]>,
{
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    if !tags.is_empty() {
        put_u32(out, tags.len());
        for t in tags {
            out.extend_from_slice(&t.client.to_le_bytes());
            out.extend_from_slice(&t.call.to_le_bytes());
            out.extend_from_slice(&t.entry.to_le_bytes());
        }
    }
    out.extend_from_slice(&time_ms.to_le_bytes());
    put_u32(out, commands.len());
    for (db, args) in commands {
        out.push(db);
        put_u32(out, args.len());
        for a in args {
            put_u32(out, a.len());
            out.extend_from_slice(a);
        }
    }
    let len = out.len() - start - HEADER_LEN;
    out[start] = if tags.is_empty() {
        RECORD_BATCH
    } else {
        RECORD_TAGGED
    };
    out[start + 1..start + 5].copy_from_slice(&(len as u32).to_le_bytes());
    let crc = crc32c(
        crc32c(salt, &out[start..start + 5]),
        &out[start + HEADER_LEN..],
    );
    out[start + 5..start + HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

fn put_u32(out: &mut Vec<u8>, n: usize) {
    let n = u32::try_from(n).expect("length fits in u32");
    out.extend_from_slice(&n.to_le_bytes());
}

/// Why decoding stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// All bytes were whole, valid records.
    End,
    /// The last record is cut short (a torn write).
    Incomplete,
    /// A record has an unknown kind, a bad checksum or a malformed payload.
    Corrupt,
}

/// Decodes the record at the start of `bytes` (a log with `salt`): the
/// record and its total length, or why there is none.
pub fn decode_record(bytes: &[u8], salt: u32) -> Result<(Record, usize), Stop> {
    if bytes.is_empty() {
        return Err(Stop::End);
    }
    let tagged = match bytes[0] {
        RECORD_BATCH => false,
        RECORD_TAGGED => true,
        _ => return Err(Stop::Corrupt),
    };
    if bytes.len() < HEADER_LEN {
        return Err(Stop::Incomplete);
    }
    let len = u32::from_le_bytes(bytes[1..5].try_into().expect("4 bytes")) as usize;
    if len > MAX_PAYLOAD {
        return Err(Stop::Corrupt);
    }
    let Some(payload) = bytes.get(HEADER_LEN..HEADER_LEN + len) else {
        return Err(Stop::Incomplete);
    };
    let crc = u32::from_le_bytes(bytes[5..9].try_into().expect("4 bytes"));
    if crc32c(crc32c(salt, &bytes[..5]), payload) != crc {
        return Err(Stop::Corrupt);
    }
    let record = parse_payload(payload, tagged).ok_or(Stop::Corrupt)?;
    Ok((record, HEADER_LEN + len))
}

fn parse_payload(mut p: &[u8], tagged: bool) -> Option<Record> {
    fn u32_(p: &mut &[u8]) -> Option<usize> {
        let (head, rest) = p.split_at_checked(4)?;
        *p = rest;
        Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
    }
    fn u64_(p: &mut &[u8]) -> Option<u64> {
        let (head, rest) = p.split_at_checked(8)?;
        *p = rest;
        Some(u64::from_le_bytes(head.try_into().ok()?))
    }
    let mut tags = Vec::new();
    if tagged {
        let count = u32_(&mut p)?;
        if count == 0 || count > p.len() / TAG_LEN {
            return None;
        }
        for _ in 0..count {
            let client = u64_(&mut p)?;
            let call = u64_(&mut p)?;
            let entry = u32::try_from(u32_(&mut p)?).ok()?;
            tags.push(Tag {
                client,
                call,
                entry,
            });
        }
    }
    let (time, rest) = p.split_at_checked(8)?;
    let time_ms = u64::from_le_bytes(time.try_into().ok()?);
    p = rest;
    let count = u32_(&mut p)?;
    let mut commands = Vec::new();
    for _ in 0..count {
        let (&db, rest) = p.split_first()?;
        p = rest;
        if usize::from(db) >= DATABASES {
            return None;
        }
        let argc = u32_(&mut p)?;
        if argc == 0 || argc > p.len() / 4 {
            return None;
        }
        let mut args = Vec::with_capacity(argc);
        for _ in 0..argc {
            let n = u32_(&mut p)?;
            let (a, rest) = p.split_at_checked(n)?;
            args.push(a.to_vec());
            p = rest;
        }
        commands.push(LoggedCommand { db, args });
    }
    p.is_empty().then_some(Record {
        time_ms,
        commands,
        tags,
    })
}

/// What [`replay`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplayReport {
    /// Whole, valid records applied.
    pub records: usize,
    /// Bytes of valid records from the start: truncate the log here.
    pub bytes_used: usize,
    /// Bytes follow the valid records (a torn or corrupt tail).
    pub torn_tail: bool,
    /// Why replay stopped.
    pub stop: Stop,
    /// The time of the last record applied (0 if none): the server's clock
    /// must not start earlier, or keys would come back to life.
    pub last_time_ms: u64,
}

/// Replay in steps, for a log read in pieces: [`apply`](Self::apply)
/// takes what has been read so far and consumes the whole records in it.
#[derive(Debug)]
pub struct Replayer {
    salt: u32,
    session: Session,
    /// Records applied.
    pub records: usize,
    /// The time of the last record applied (0 if none).
    pub last_time_ms: u64,
    /// The last tag of each client in the records applied.
    pub marks: Marks,
}

impl Replayer {
    /// Replays a log with `salt`.
    pub fn new(salt: u32) -> Replayer {
        Replayer {
            salt,
            session: Session::new(),
            records: 0,
            last_time_ms: 0,
            marks: Marks::new(),
        }
    }

    /// Applies the whole, valid records at the start of `bytes` to
    /// `store`, each at its own time (never earlier than the one before);
    /// returns the bytes they took and why it stopped: [`Stop::End`] or
    /// [`Stop::Incomplete`] mean more bytes may complete the next record.
    pub fn apply(&mut self, store: &mut Store, bytes: &[u8]) -> (usize, Stop) {
        let mut at = 0;
        loop {
            match decode_record(&bytes[at..], self.salt) {
                Ok((record, len)) => {
                    self.last_time_ms = self.last_time_ms.max(record.time_ms);
                    for c in &record.commands {
                        apply(store, &mut self.session, c, self.last_time_ms);
                    }
                    for t in &record.tags {
                        self.marks.insert(t.client, *t);
                    }
                    at += len;
                    self.records += 1;
                }
                Err(stop) => return (at, stop),
            }
        }
    }
}

/// Applies the records of `log` (with `salt`) to `store` in order, each
/// at the time it was logged, stopping at the first incomplete or corrupt
/// record (see the module documentation). Expiry times are restored as
/// logged; keys already past theirs are removed by the store's lazy and
/// active expiry as usual.
pub fn replay(log: &[u8], store: &mut Store, salt: u32) -> ReplayReport {
    let mut replayer = Replayer::new(salt);
    let (bytes_used, stop) = replayer.apply(store, log);
    ReplayReport {
        records: replayer.records,
        bytes_used,
        torn_tail: bytes_used < log.len(),
        stop,
        last_time_ms: replayer.last_time_ms,
    }
}

fn apply(store: &mut Store, session: &mut Session, c: &LoggedCommand, now_ms: u64) {
    let db = usize::from(c.db);
    // PEXPIREAT is restored as the raw expiry time: running it would delete
    // a key whose time equals now, which the original store still had.
    if c.args.len() == 3 && c.args[0].eq_ignore_ascii_case(b"PEXPIREAT") {
        if let Some(t) = num::parse_i64(&c.args[2]) {
            store.dbs_mut()[db].set_expire(&c.args[1], t);
        }
        return;
    }
    session.set_db(db);
    let args: Vec<&[u8]> = c.args.iter().map(Vec::as_slice).collect();
    let _ = store.execute(session, &args, now_ms);
}

/// Appends a record per data-changing command to a byte buffer (the
/// in-memory image of the log's tail, to be written to the block device).
#[derive(Debug, Default)]
pub struct AofWriter {
    buf: Vec<u8>,
    records: usize,
    salt: u32,
    /// The last tag each client's records carried (replayed ones too).
    marks: Marks,
    /// While a new log is being written: what it needs to follow the
    /// changes made meanwhile.
    shadow: Option<Shadow>,
    /// A change was made whose record would have been larger than
    /// [`EFFECT_RECORD_LIMIT`] (or found no memory): none was written,
    /// and only a compaction (which copies keys a piece at a time) brings
    /// the log up to the store
    /// ([`take_unrecorded`](AofWriter::take_unrecorded)).
    unrecorded: bool,
}

/// The largest record a change's effect is written as (a transaction or
/// script restates every key it touched, so appending a byte to a large
/// string would make a record of the whole string, and a second copy of
/// it in memory, where the heap may have no room for one). The largest
/// request a front end's region carries in config/default: the runner
/// keeps room for one above the ceiling.
pub const EFFECT_RECORD_LIMIT: usize = 8 * RECORD_SPLIT;

/// The changes made while a new log is written: records of the databases
/// they flushed, in order, and the keys they touched, to copy again.
#[derive(Debug, Default)]
struct Shadow {
    salt: u32,
    buf: Vec<u8>,
    touched: Vec<(usize, Vec<u8>)>,
}

impl Shadow {
    /// Follows the changes in `journals` (one per database of `dbs`).
    fn follow(&mut self, dbs: &[Db], journals: &[crate::db::Journal], now_ms: u64) {
        let mut flushes: Vec<Borrowed<'_>> = Vec::new();
        for (i, (db, journal)) in dbs.iter().zip(journals).enumerate() {
            if journal.flushed {
                flushes.push((i as u8, alloc::vec![Cow::Borrowed(&b"FLUSHDB"[..])]));
            }
            self.touched
                .extend(touched(db, journal).into_iter().map(|k| (i, k.clone())));
        }
        if !flushes.is_empty() {
            encode(&mut self.buf, self.salt, now_ms, &flushes, &[]);
        }
    }
}

impl AofWriter {
    /// An empty writer for a log with salt 0.
    pub fn new() -> AofWriter {
        AofWriter::default()
    }

    /// An empty writer for a log with `salt`.
    pub fn with_salt(salt: u32) -> AofWriter {
        AofWriter {
            salt,
            ..AofWriter::default()
        }
    }

    /// Bytes its buffers hold (for [`Store::set_uncounted`]).
    pub fn buffered(&self) -> usize {
        self.buf.capacity()
            + self.shadow.as_ref().map_or(0, |s| {
                s.buf.capacity() + s.touched.capacity() * core::mem::size_of::<(usize, Vec<u8>)>()
            })
    }

    /// The salt of the records it writes.
    pub fn salt(&self) -> u32 {
        self.salt
    }

    /// Writes later records for a log with `salt` (a new log: what was
    /// appended before and not taken belongs to the old one).
    pub fn set_salt(&mut self, salt: u32) {
        self.salt = salt;
    }

    /// While a new log with `salt` is written (compaction in the
    /// background), also follows every change for it: a record of each
    /// database it flushed, and each key it touched, to be copied again
    /// ([`recopy_record`]) after those records. Appended to the new log
    /// after the keys already copied, the records and the copies make it
    /// follow the changes, and no change's value is copied while it is
    /// made (a large value is copied once, a piece at a time). `None`
    /// stops it.
    pub fn shadow(&mut self, salt: Option<u32>) {
        self.shadow = salt.map(|salt| Shadow {
            salt,
            ..Shadow::default()
        });
    }

    /// Takes the shadow records appended so far.
    pub fn take_shadow(&mut self) -> Vec<u8> {
        self.shadow
            .as_mut()
            .map(|s| core::mem::take(&mut s.buf))
            .unwrap_or_default()
    }

    /// Takes the keys the changes since the last call touched (database
    /// and key), to copy again after the shadow records taken with them.
    pub fn take_touched(&mut self) -> Vec<(usize, Vec<u8>)> {
        self.shadow
            .as_mut()
            .map(|s| core::mem::take(&mut s.touched))
            .unwrap_or_default()
    }

    /// The bytes appended so far.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Records appended so far.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Takes the bytes appended so far (e.g. once written to the device),
    /// leaving the buffer empty.
    pub fn take(&mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }

    /// Moves the bytes appended so far to the end of `out`; false if there
    /// were none. The buffer keeps its room for the next records (a
    /// writer taken after every command would otherwise grow a new one,
    /// a reallocation or four, for each record).
    pub fn move_to(&mut self, out: &mut Vec<u8>) -> bool {
        if self.buf.is_empty() {
            return false;
        }
        out.extend_from_slice(&self.buf);
        if self.buf.capacity() > KEPT_BUFFER {
            // A large value's record: its room is not kept.
            self.buf = Vec::new();
        } else {
            self.buf.clear();
        }
        true
    }

    /// The last tag each client's records carried: what the log holds
    /// once the records appended so far are on it.
    pub fn marks(&self) -> &Marks {
        &self.marks
    }

    /// Starts from `marks` (what replay found).
    pub fn set_marks(&mut self, marks: Marks) {
        self.marks = marks;
    }

    /// Runs a command like [`Store::execute`] and appends one record if it
    /// changed data (a change from lazy expiry included; see the module
    /// documentation for what the record holds), tagged with `tag` if
    /// given; returns the reply. Changes made outside `execute` (such as
    /// [`Store::active_expire`]) are not logged: replay restores expiry
    /// times, so they need not be.
    pub fn execute(
        &mut self,
        store: &mut Store,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
        tag: Option<Tag>,
    ) -> Reply {
        let db = session.db() as u8;
        let name = args.first().copied().unwrap_or_default();
        // One record, whatever its size: a transaction's effect must be
        // replayed whole or not at all.
        let by_effect = [&b"EXEC"[..], b"EVAL", b"EVALSHA"]
            .iter()
            .any(|n| name.eq_ignore_ascii_case(n));
        // Keys evicted for memory are deleted before the command, and
        // logged on their own (their deletion is no part of the command's
        // arguments); journaled apart only when there are any, which is
        // rare (each pass over the journals visits every database).
        let memory = if store.evicts() {
            start_journals(store, true);
            let memory = store.evict(now_ms);
            if journals_changed(store) {
                let evicted = take_journals(store);
                let commands = effect(store, &evicted);
                encode(&mut self.buf, self.salt, now_ms, &commands, &[]);
                self.records += 1;
                if let Some(shadow) = self.shadow.as_mut() {
                    shadow.follow(store.dbs(), &evicted, now_ms);
                }
            }
            memory
        } else {
            // Whether there is memory; nothing is deleted.
            store.evict(now_ms)
        };
        // Which keys changed is read only for a transaction's or script's
        // effect and by a compaction's shadow; otherwise the journals only
        // say whether anything did. They stay on between commands (what
        // changes outside `execute` is dropped here), so that most
        // commands, which change nothing, cost two passes over them.
        let keyed = by_effect || self.shadow.is_some();
        start_journals(store, keyed);
        let reply = store.execute_evicted(session, args, now_ms, memory);
        // The pops that served blocked sessions after the command.
        let served = store.take_served();
        if !journals_changed(store) {
            return reply;
        }
        let functions = store.dbs().iter().any(Db::journal_has_functions);
        let journals = if keyed {
            take_journals(store)
        } else {
            Vec::new()
        };
        if let Some(shadow) = self.shadow.as_mut() {
            shadow.follow(store.dbs(), &journals, now_ms);
            if functions {
                functions_record(&mut shadow.buf, shadow.salt, store, now_ms, true);
            }
        }
        let tags = tag.as_slice();
        let plain = !by_effect && !functions && served.is_empty();
        if plain && !name.eq_ignore_ascii_case(b"SPOP") {
            // The common record: the command as it came.
            let command = (db, args.iter().copied());
            encode_commands(
                &mut self.buf,
                self.salt,
                now_ms,
                core::iter::once(command),
                tags,
            );
            self.records += 1;
            if let Some(t) = tag {
                self.marks.insert(t.client, t);
            }
            return reply;
        }
        let function_libraries = functions.then(|| store.functions_command());
        let mut commands: Vec<Borrowed<'_>> = if by_effect {
            effect(store, &journals)
        } else if name.eq_ignore_ascii_case(b"SPOP") {
            popped(db, args, &reply)
        } else if function_libraries.is_some() && name.eq_ignore_ascii_case(b"FUNCTION") {
            // Its change is the libraries' state, written below.
            Vec::new()
        } else {
            let mut commands = alloc::vec![(db, args.iter().map(|a| Cow::Borrowed(*a)).collect())];
            commands.extend(served.into_iter().map(|(db, args)| {
                let args: Vec<Cow<'_, [u8]>> = args.into_iter().map(Cow::Owned).collect();
                (db as u8, args)
            }));
            commands
        };
        // Any change to the libraries is logged as all of them.
        if let Some(command) = &function_libraries {
            commands.push((
                0,
                command
                    .iter()
                    .map(|a| Cow::Borrowed(a.as_slice()))
                    .collect(),
            ));
        }
        if !commands.is_empty() {
            let len = encoded_len(&commands, tags);
            // Room made exactly (growing by doubling would ask for up to
            // twice the record), and none is no panic either.
            if len > EFFECT_RECORD_LIMIT || self.buf.try_reserve_exact(len).is_err() {
                self.unrecorded = true;
            } else {
                encode(&mut self.buf, self.salt, now_ms, &commands, tags);
                self.records += 1;
            }
            if let Some(t) = tag {
                self.marks.insert(t.client, t);
            }
        }
        reply
    }

    /// Whether a change went unrecorded since the last call (its record
    /// would have been larger than [`EFFECT_RECORD_LIMIT`], or found no
    /// memory): the log no longer holds what the store does until a
    /// compaction, which the caller must make before it writes further
    /// records.
    pub fn take_unrecorded(&mut self) -> bool {
        core::mem::take(&mut self.unrecorded)
    }
}

/// The bytes [`encode`] makes of `commands` with `tags`, at most.
fn encoded_len(commands: &[Borrowed<'_>], tags: &[Tag]) -> usize {
    // The header, the tags (a count and each tag), the time and the
    // count of commands; then each command's database, count of
    // arguments, and each argument's length and bytes.
    let tags = 4 + core::mem::size_of_val(tags);
    commands
        .iter()
        .fold(HEADER_LEN + tags + 8 + 4, |n, (_, args)| {
            args.iter().fold(n.saturating_add(1 + 4), |n, a| {
                n.saturating_add(4 + a.len())
            })
        })
}

/// The keys `journal` records as touched in `db`, sorted and once each:
/// every key the database holds when it was replaced (SWAPDB).
fn touched<'a>(db: &'a Db, journal: &'a crate::db::Journal) -> Vec<&'a Vec<u8>> {
    let mut keys: Vec<&Vec<u8>> = journal.keys.iter().collect();
    if journal.replaced {
        keys.extend(db.entries().map(|(k, _)| k));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Every database's journal on and empty, recording the keys touched if
/// `keyed` (else only that some were).
fn start_journals(store: &mut Store, keyed: bool) {
    for d in store.dbs_mut() {
        d.start_journal(keyed);
    }
}

/// Whether some database's journal recorded a change.
fn journals_changed(store: &Store) -> bool {
    store.dbs().iter().any(|d| !d.journal_is_empty())
}

/// What every database's journal recorded, leaving them on and empty.
fn take_journals(store: &mut Store) -> Vec<crate::db::Journal> {
    store
        .dbs_mut()
        .iter_mut()
        .map(|d| d.take_journal().unwrap_or_default())
        .collect()
}

/// The state of every key in `journals` (one per database) after a
/// command: a flush as `FLUSHDB`, each touched key as `DEL` and the
/// commands recreating it.
fn effect<'a>(store: &'a Store, journals: &'a [crate::db::Journal]) -> Vec<Borrowed<'a>> {
    let mut out = Records::whole();
    for (i, (db, journal)) in store.dbs().iter().zip(journals).enumerate() {
        let dbi = i as u8;
        if journal.flushed {
            out.push(dbi, alloc::vec![Cow::Borrowed(&b"FLUSHDB"[..])]);
        }
        for key in touched(db, journal) {
            key_state(&mut out, dbi, key, db.raw_entry(key));
        }
    }
    out.pending
}

/// Commands gathered into records: all into one ([`Records::whole`]), or
/// into a record every [`RECORD_SPLIT`] argument bytes, written to `out`
/// as they fill ([`Records::split`]).
struct Records<'a, 'o> {
    pending: Vec<Borrowed<'a>>,
    bytes: usize,
    split: Option<Split<'o>>,
}

/// Where split records go: appended to `out` (log `salt`, time
/// `time_ms`), after each of which `spill` may take whole bytes away.
struct Split<'o> {
    out: &'o mut Vec<u8>,
    salt: u32,
    time_ms: u64,
    spill: &'o mut dyn FnMut(&mut Vec<u8>),
}

impl<'a, 'o> Records<'a, 'o> {
    /// One record's commands, kept for the caller.
    fn whole() -> Self {
        Records {
            pending: Vec::new(),
            bytes: 0,
            split: None,
        }
    }

    /// Records (log `salt`, time `time_ms`) appended to `out` a piece at a
    /// time, `spill` called after each.
    fn split(
        out: &'o mut Vec<u8>,
        salt: u32,
        time_ms: u64,
        spill: &'o mut dyn FnMut(&mut Vec<u8>),
    ) -> Self {
        Records {
            pending: Vec::new(),
            bytes: 0,
            split: Some(Split {
                out,
                salt,
                time_ms,
                spill,
            }),
        }
    }

    fn push(&mut self, db: u8, args: Vec<Cow<'a, [u8]>>) {
        self.bytes += args.iter().map(|a| a.len()).sum::<usize>();
        self.pending.push((db, args));
        if self.bytes >= RECORD_SPLIT {
            self.flush();
        }
    }

    /// Writes what is pending as a record, when splitting.
    fn flush(&mut self) {
        if let Some(split) = self.split.as_mut()
            && !self.pending.is_empty()
        {
            encode(split.out, split.salt, split.time_ms, &self.pending, &[]);
            (split.spill)(split.out);
            self.pending.clear();
            self.bytes = 0;
        }
    }
}

/// `DEL key`, then the commands recreating `entry` if there is one.
fn key_state<'a>(out: &mut Records<'a, '_>, db: u8, key: &'a [u8], entry: Option<&'a Entry>) {
    out.push(
        db,
        alloc::vec![Cow::Borrowed(&b"DEL"[..]), Cow::Borrowed(key)],
    );
    if let Some(e) = entry {
        recreate(out, db, key, e);
    }
}

/// Appends to `out` records (log `salt`, time `now_ms`) that set key
/// `key` of database `db` to its state in `store` at `now_ms`: `DEL`, then
/// the commands recreating it; nothing if the key is missing or expired.
/// Independent of what the key held before: what a log written while
/// clients change data (compaction in the background) is made of, with
/// the records [`AofWriter::shadow`] collects. A large key takes several
/// records of about [`RECORD_SPLIT`] bytes each (a compaction's log counts
/// only once it is whole, so they need not be atomic), and `spill` is
/// called with `out` after each, so that the caller can write and drop
/// what is whole: the key is never copied whole.
pub fn effect_record(
    out: &mut Vec<u8>,
    salt: u32,
    store: &Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
    spill: &mut dyn FnMut(&mut Vec<u8>),
) {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let Some(entry) = store
        .dbs()
        .get(db)
        .and_then(|d| d.raw_entry(key))
        .filter(|e| !Db::is_expired(e, now))
    else {
        return;
    };
    let mut records = Records::split(out, salt, now_ms, spill);
    key_state(&mut records, db as u8, key, Some(entry));
    records.flush();
}

/// [`effect_record`] of a key a change touched during a compaction: also
/// `DEL key` when the key is gone (or expired), as the new log may hold
/// an earlier copy.
pub fn recopy_record(
    out: &mut Vec<u8>,
    salt: u32,
    store: &Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
    spill: &mut dyn FnMut(&mut Vec<u8>),
) {
    let mut wrote = false;
    effect_record(out, salt, store, db, key, now_ms, &mut |out| {
        wrote = true;
        spill(out);
    });
    if !wrote {
        let del = [(
            db as u8,
            alloc::vec![Cow::Borrowed(&b"DEL"[..]), Cow::Borrowed(key)],
        )];
        encode(out, salt, now_ms, &del, &[]);
        spill(out);
    }
}

/// The keys of every database (expired ones included): what a compaction
/// in the background visits, one [`effect_record`] each.
pub fn keys(store: &Store) -> Vec<(usize, Vec<u8>)> {
    store
        .dbs()
        .iter()
        .enumerate()
        .flat_map(|(i, db)| db.entries().map(move |(k, _)| (i, k.clone())))
        .collect()
}

/// `SREM key <members SPOP returned>`: SPOP's effect, without its random
/// choice. Nothing when it returned none (it only dropped an expired key,
/// which replay's lazy expiry drops as well).
fn popped<'a>(db: u8, args: &[&'a [u8]], reply: &'a Reply) -> Vec<Borrowed<'a>> {
    let mut srem = alloc::vec![Cow::Borrowed(&b"SREM"[..]), Cow::Borrowed(args[1])];
    match reply {
        Reply::Bulk(Some(m)) => srem.push(Cow::Borrowed(&m[..])),
        Reply::Set(items) => srem.extend(items.iter().filter_map(|r| match r {
            Reply::Bulk(Some(m)) => Some(Cow::Borrowed(&m[..])),
            _ => None,
        })),
        _ => {}
    }
    if srem.len() == 2 {
        return Vec::new();
    }
    alloc::vec![(db, srem)]
}

/// Commands that create `key` with entry `e` in an empty slot of `db`:
/// a string as SET (and APPENDs of [`RECORD_SPLIT`] bytes when `out`
/// splits), a collection in [`runs`] of elements.
fn recreate<'a>(out: &mut Records<'a, '_>, db: u8, key: &'a [u8], e: &'a Entry) {
    let cmd = |name: &'static [u8], rest: &mut dyn Iterator<Item = Cow<'a, [u8]>>| {
        let mut args = alloc::vec![Cow::Borrowed(name), Cow::Borrowed(key)];
        args.extend(rest);
        args
    };
    let b = |v: &'a Vec<u8>| Cow::Borrowed(v.as_slice());
    match &e.value {
        Value::Str(s) => {
            let piece = if out.split.is_some() {
                RECORD_SPLIT
            } else {
                s.len().max(1)
            };
            let mut pieces = s.chunks(piece);
            let first = pieces.next().unwrap_or_default();
            out.push(db, cmd(b"SET", &mut core::iter::once(Cow::Borrowed(first))));
            for p in pieces {
                out.push(db, cmd(b"APPEND", &mut core::iter::once(Cow::Borrowed(p))));
            }
        }
        Value::List(l) => {
            let items: Vec<&Vec<u8>> = l.iter().collect();
            for chunk in runs(&items, |v| v.len()) {
                out.push(db, cmd(b"RPUSH", &mut chunk.iter().map(|v| b(v))));
            }
        }
        Value::Hash(h) => {
            let items: Vec<(&Vec<u8>, &Vec<u8>)> = h.iter().collect();
            for chunk in runs(&items, |(f, v)| f.len() + v.len()) {
                out.push(
                    db,
                    cmd(b"HSET", &mut chunk.iter().flat_map(|(f, v)| [b(f), b(v)])),
                );
            }
        }
        Value::Set(s) => {
            let items: Vec<&Vec<u8>> = s.iter().collect();
            for chunk in runs(&items, |v| v.len()) {
                out.push(db, cmd(b"SADD", &mut chunk.iter().map(|v| b(v))));
            }
        }
        Value::ZSet(z) => {
            let items: Vec<(&[u8], f64)> = z.iter().collect();
            for chunk in runs(&items, |(m, _)| m.len()) {
                out.push(
                    db,
                    cmd(
                        b"ZADD",
                        &mut chunk.iter().flat_map(|(m, s)| {
                            [
                                Cow::Owned(num::fmt_double(*s).into_bytes()),
                                Cow::Borrowed(*m),
                            ]
                        }),
                    ),
                );
            }
        }
        Value::Stream(st) => {
            use crate::stream::StreamId;
            let id = |i: StreamId| Cow::Owned(i.to_bytes());
            let word = |w: &'static [u8]| Cow::Borrowed(w);
            if st.len() == 0 {
                // An empty stream: made by an entry trimmed away at once
                // (trimming, unlike XDEL, leaves max-deleted-entry-id).
                let one = StreamId { ms: 0, seq: 1 };
                let made = [word(b"MAXLEN"), word(b"0"), id(one), word(b"x"), word(b"x")];
                out.push(db, cmd(b"XADD", &mut made.into_iter()));
            }
            for (at, fields) in st.iter() {
                let mut rest = core::iter::once(id(at)).chain(fields.iter().map(b));
                out.push(db, cmd(b"XADD", &mut rest));
            }
            // XSETID takes a MAXDELETEDID up to its last ID only, and
            // reads 0-0 as none: a later one is set first with a last
            // ID of its own, which the second XSETID then lowers.
            let deleted = st.max_deleted;
            if deleted > st.last_id {
                let first = [id(deleted), word(b"MAXDELETEDID"), id(deleted)];
                out.push(db, cmd(b"XSETID", &mut first.into_iter()));
            }
            let mut counters = alloc::vec![
                id(st.last_id),
                word(b"ENTRIESADDED"),
                Cow::Owned(num::int_bytes(st.entries_added as i64)),
            ];
            if deleted != StreamId::MIN && deleted <= st.last_id {
                counters.extend([word(b"MAXDELETEDID"), id(deleted)]);
            }
            out.push(db, cmd(b"XSETID", &mut counters.into_iter()));
            // Each group, its consumers and its pending entries (as
            // Redis's rewrite does: XCLAIM … FORCE of an entry no longer
            // in the stream does nothing, so such a pending one is lost).
            let int = |n: u64| Cow::Owned(num::int_bytes(n as i64));
            for (name, g) in &st.groups {
                let read = match g.entries_read {
                    Some(n) => int(n),
                    None => Cow::Borrowed(&b"-1"[..]),
                };
                let create = [
                    word(b"CREATE"),
                    Cow::Borrowed(key),
                    b(name),
                    id(g.last_id),
                    word(b"ENTRIESREAD"),
                    read,
                ];
                out.push(
                    db,
                    alloc::vec::Vec::from_iter(core::iter::once(word(b"XGROUP")).chain(create)),
                );
                for consumer in g.consumers.keys() {
                    let made = [
                        word(b"CREATECONSUMER"),
                        Cow::Borrowed(key),
                        b(name),
                        b(consumer),
                    ];
                    out.push(
                        db,
                        alloc::vec::Vec::from_iter(core::iter::once(word(b"XGROUP")).chain(made)),
                    );
                }
                for (at, p) in &g.pending {
                    let claim = [
                        b(name),
                        b(&p.consumer),
                        word(b"0"),
                        id(*at),
                        word(b"TIME"),
                        int(p.delivered_ms),
                        word(b"RETRYCOUNT"),
                        int(p.deliveries),
                        word(b"FORCE"),
                        word(b"JUSTID"),
                    ];
                    out.push(db, cmd(b"XCLAIM", &mut claim.into_iter()));
                }
            }
        }
    }
    if let Some(t) = e.expire_at {
        out.push(
            db,
            cmd(
                b"PEXPIREAT",
                &mut core::iter::once(Cow::Owned(num::int_bytes(t))),
            ),
        );
    }
}

/// `items` in runs of at most [`CHUNK`] elements and about
/// [`RECORD_SPLIT`] bytes (`bytes` tells an element's), each one command.
fn runs<T>(items: &[T], bytes: impl Fn(&T) -> usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    core::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut total = 0;
        let mut n = 0;
        while n < rest.len() && n < CHUNK && (n == 0 || total < RECORD_SPLIT) {
            total += bytes(&rest[n]);
            n += 1;
        }
        let (run, after) = rest.split_at(n);
        rest = after;
        Some(run)
    })
}

/// A record of `FUNCTION RESTORE <every library> FLUSH` (with `always`,
/// even of none: what a change that deleted the last one logs; without, a
/// compaction writes one only where there are libraries).
pub fn functions_record(out: &mut Vec<u8>, salt: u32, store: &Store, now_ms: u64, always: bool) {
    if !always && !store.has_functions() {
        return;
    }
    let command = store.functions_command();
    let args = command
        .iter()
        .map(|a| Cow::Borrowed(a.as_slice()))
        .collect();
    encode(out, salt, now_ms, &[(0, args)], &[]);
}

/// Compaction: a log with `salt` that recreates the data set of `store`
/// as of `now_ms` (keys already expired then are left out), a key's
/// records after another's.
pub fn rewrite(store: &Store, now_ms: u64, salt: u32) -> Vec<u8> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    functions_record(&mut out, salt, store, now_ms, false);
    for (i, db) in store.dbs().iter().enumerate() {
        for (key, e) in db.entries() {
            if Db::is_expired(e, now) {
                continue;
            }
            let mut keep = |_: &mut Vec<u8>| {};
            let mut records = Records::split(&mut out, salt, now_ms, &mut keep);
            recreate(&mut records, i as u8, key, e);
            records.flush();
        }
    }
    out
}

#[cfg(test)]
mod tests;
