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
//! returned; `EXEC` (whose queued commands may `SELECT` between databases)
//! writes each touched key as its resulting state: `DEL key` and, if the
//! key exists, commands recreating it (`SET`, `RPUSH`, `HSET`, `SADD`,
//! `ZADD`) and its absolute expiry (`PEXPIREAT key ms`); a flush is
//! `FLUSHDB` in that database.
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

use alloc::vec::Vec;

use crate::db::{Db, Entry, Value};
use crate::num;
use crate::reply::Reply;
use crate::store::{DATABASES, Session, Store};

/// The kind byte of a record holding a batch of commands.
pub const RECORD_BATCH: u8 = 0xA5;

/// Bytes in a record's header (kind, length, checksum).
pub const HEADER_LEN: usize = 9;

/// Largest payload a record may carry (1 GiB); a larger length field is
/// treated as corruption.
pub const MAX_PAYLOAD: usize = 1 << 30;

/// Collection elements per recreating command (bounds command size).
const CHUNK: usize = 128;

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
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
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

/// Continues a CRC-32C (Castagnoli, reflected, as iSCSI/ext4 use) over
/// `data`; start with `crc = 0`.
pub fn crc32c(crc: u32, data: &[u8]) -> u32 {
    let mut c = !crc;
    for &b in data {
        c = CRC32C[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8);
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

/// One record: when its commands ran and what they were.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The server's clock when the commands ran, in milliseconds.
    pub time_ms: u64,
    /// The commands, applied in order.
    pub commands: Vec<LoggedCommand>,
}

/// Encodes one record holding `commands`, run at `time_ms`, for a log with
/// `salt`, and appends it to `out`.
pub fn encode_record(out: &mut Vec<u8>, salt: u32, time_ms: u64, commands: &[LoggedCommand]) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER_LEN]);
    out.extend_from_slice(&time_ms.to_le_bytes());
    put_u32(out, commands.len());
    for c in commands {
        out.push(c.db);
        put_u32(out, c.args.len());
        for a in &c.args {
            put_u32(out, a.len());
            out.extend_from_slice(a);
        }
    }
    let len = out.len() - start - HEADER_LEN;
    out[start] = RECORD_BATCH;
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
    if bytes[0] != RECORD_BATCH {
        return Err(Stop::Corrupt);
    }
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
    let record = parse_payload(payload).ok_or(Stop::Corrupt)?;
    Ok((record, HEADER_LEN + len))
}

fn parse_payload(mut p: &[u8]) -> Option<Record> {
    fn u32_(p: &mut &[u8]) -> Option<usize> {
        let (head, rest) = p.split_at_checked(4)?;
        *p = rest;
        Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
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
    p.is_empty().then_some(Record { time_ms, commands })
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
}

impl Replayer {
    /// Replays a log with `salt`.
    pub fn new(salt: u32) -> Replayer {
        Replayer {
            salt,
            session: Session::new(),
            records: 0,
            last_time_ms: 0,
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
    /// While a new log is being written: its salt, and the effect records
    /// of the changes made meanwhile.
    shadow: Option<(u32, Vec<u8>)>,
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
        self.buf.capacity() + self.shadow.as_ref().map_or(0, |(_, b)| b.capacity())
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
    /// background), also appends to a second buffer the effect record of
    /// every change (see [`effect_record`]): appended to that new log
    /// after the records of the keys already copied, they make it follow
    /// the changes. `None` stops it.
    pub fn shadow(&mut self, salt: Option<u32>) {
        self.shadow = salt.map(|s| (s, Vec::new()));
    }

    /// Takes the shadow records appended so far.
    pub fn take_shadow(&mut self) -> Vec<u8> {
        self.shadow
            .as_mut()
            .map(|(_, buf)| core::mem::take(buf))
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

    /// Runs a command like [`Store::execute`] and appends one record if it
    /// changed data (a change from lazy expiry included; see the module
    /// documentation for what the record holds); returns the reply.
    /// Changes made outside `execute` (such as [`Store::active_expire`])
    /// are not logged: replay restores expiry times, so they need not be.
    pub fn execute(
        &mut self,
        store: &mut Store,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
    ) -> Reply {
        let db = session.db() as u8;
        // Keys evicted for memory are deleted before the command, and
        // logged on their own (their deletion is no part of the command's
        // arguments).
        for d in store.dbs_mut() {
            d.set_journal(true);
        }
        let memory = store.evict(now_ms);
        let evicted = take_journals(store);
        if evicted.iter().any(|j| !j.keys.is_empty()) {
            let commands = effect(store, &evicted);
            encode_record(&mut self.buf, self.salt, now_ms, &commands);
            self.records += 1;
            if let Some((salt, buf)) = self.shadow.as_mut() {
                encode_record(buf, *salt, now_ms, &commands);
            }
        }
        for d in store.dbs_mut() {
            d.set_journal(true);
        }
        let reply = store.execute_evicted(session, args, now_ms, memory);
        let journals = take_journals(store);
        if journals.iter().all(|j| !j.flushed && j.keys.is_empty()) {
            return reply;
        }
        if let Some((salt, buf)) = self.shadow.as_mut() {
            let commands = effect(store, &journals);
            encode_record(buf, *salt, now_ms, &commands);
        }
        let name = args.first().copied().unwrap_or_default();
        let commands = if name.eq_ignore_ascii_case(b"EXEC") {
            effect(store, &journals)
        } else if name.eq_ignore_ascii_case(b"SPOP") {
            popped(db, args, &reply)
        } else {
            alloc::vec![LoggedCommand {
                db,
                args: args.iter().map(|a| a.to_vec()).collect(),
            }]
        };
        if !commands.is_empty() {
            encode_record(&mut self.buf, self.salt, now_ms, &commands);
            self.records += 1;
        }
        reply
    }
}

/// What every database's journal recorded; the journals go off.
fn take_journals(store: &mut Store) -> Vec<crate::db::Journal> {
    store
        .dbs_mut()
        .iter_mut()
        .map(|d| {
            let j = d.take_journal().unwrap_or_default();
            d.set_journal(false);
            j
        })
        .collect()
}

/// The state of every key in `journals` (one per database) after a
/// command: a flush as `FLUSHDB`, each touched key as `DEL` and the
/// commands recreating it.
fn effect(store: &Store, journals: &[crate::db::Journal]) -> Vec<LoggedCommand> {
    let mut commands = Vec::new();
    for (i, (db, journal)) in store.dbs().iter().zip(journals).enumerate() {
        let dbi = i as u8;
        if journal.flushed {
            commands.push(LoggedCommand {
                db: dbi,
                args: alloc::vec![b"FLUSHDB".to_vec()],
            });
        }
        let mut keys: Vec<&Vec<u8>> = journal.keys.iter().collect();
        keys.sort_unstable();
        keys.dedup();
        for key in keys {
            key_state(&mut commands, dbi, key, db.raw_entry(key));
        }
    }
    commands
}

/// `DEL key`, then the commands recreating `entry` if there is one.
fn key_state(out: &mut Vec<LoggedCommand>, db: u8, key: &[u8], entry: Option<&Entry>) {
    out.push(LoggedCommand {
        db,
        args: alloc::vec![b"DEL".to_vec(), key.to_vec()],
    });
    if let Some(e) = entry {
        recreate(out, db, key, e);
    }
}

/// Appends to `out` a record (log `salt`, time `now_ms`) that sets key
/// `key` of database `db` to its state in `store` at `now_ms`: `DEL`, then
/// the commands recreating it; nothing if the key is missing or expired.
/// Independent of what the key held before: what a log written while
/// clients change data (compaction in the background) is made of, with
/// the records [`AofWriter::shadow`] collects.
pub fn effect_record(
    out: &mut Vec<u8>,
    salt: u32,
    store: &Store,
    db: usize,
    key: &[u8],
    now_ms: u64,
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
    let mut commands = Vec::new();
    key_state(&mut commands, db as u8, key, Some(entry));
    encode_record(out, salt, now_ms, &commands);
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
fn popped(db: u8, args: &[&[u8]], reply: &Reply) -> Vec<LoggedCommand> {
    let mut srem = alloc::vec![b"SREM".to_vec(), args[1].to_vec()];
    match reply {
        Reply::Bulk(Some(m)) => srem.push(m.clone()),
        Reply::Array(Some(items)) => srem.extend(items.iter().filter_map(|r| match r {
            Reply::Bulk(Some(m)) => Some(m.clone()),
            _ => None,
        })),
        _ => {}
    }
    if srem.len() == 2 {
        return Vec::new();
    }
    alloc::vec![LoggedCommand { db, args: srem }]
}

/// Commands that create `key` with entry `e` in an empty slot of `db`.
fn recreate(out: &mut Vec<LoggedCommand>, db: u8, key: &[u8], e: &Entry) {
    let cmd = |name: &[u8], rest: Vec<Vec<u8>>| {
        let mut args = alloc::vec![name.to_vec(), key.to_vec()];
        args.extend(rest);
        LoggedCommand { db, args }
    };
    match &e.value {
        Value::Str(s) => out.push(cmd(b"SET", alloc::vec![s.clone()])),
        Value::List(l) => {
            let items: Vec<Vec<u8>> = l.iter().cloned().collect();
            for chunk in items.chunks(CHUNK) {
                out.push(cmd(b"RPUSH", chunk.to_vec()));
            }
        }
        Value::Hash(h) => {
            let items: Vec<Vec<u8>> = h.iter().flat_map(|(f, v)| [f.clone(), v.clone()]).collect();
            for chunk in items.chunks(CHUNK * 2) {
                out.push(cmd(b"HSET", chunk.to_vec()));
            }
        }
        Value::Set(s) => {
            let items: Vec<Vec<u8>> = s.iter().cloned().collect();
            for chunk in items.chunks(CHUNK) {
                out.push(cmd(b"SADD", chunk.to_vec()));
            }
        }
        Value::ZSet(z) => {
            let items: Vec<Vec<u8>> = z
                .iter()
                .flat_map(|(m, s)| [num::fmt_double(s).into_bytes(), m.to_vec()])
                .collect();
            for chunk in items.chunks(CHUNK * 2) {
                out.push(cmd(b"ZADD", chunk.to_vec()));
            }
        }
    }
    if let Some(t) = e.expire_at {
        out.push(cmd(b"PEXPIREAT", alloc::vec![num::int_bytes(t)]));
    }
}

/// Compaction: a log with `salt` that recreates the data set of `store`
/// as of `now_ms` (keys already expired then are left out), one record per
/// key.
pub fn rewrite(store: &Store, now_ms: u64, salt: u32) -> Vec<u8> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for (i, db) in store.dbs().iter().enumerate() {
        for (key, e) in db.entries() {
            if Db::is_expired(e, now) {
                continue;
            }
            let mut commands = Vec::new();
            recreate(&mut commands, i as u8, key, e);
            encode_record(&mut out, salt, now_ms, &commands);
        }
    }
    out
}

#[cfg(test)]
mod tests;
