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
//! | 4 | CRC-32C (Castagnoli) of the kind byte, the length and the payload, `u32` little-endian |
//! | n | payload |
//!
//! The payload is `u32` command count, then per command: `u8` database
//! index, `u32` argument count, and per argument `u32` length + bytes (all
//! integers little-endian).
//!
//! **What is logged is the effect, not the command.** While
//! [`AofWriter::execute`] runs a command, the store journals every key it
//! touches (the same hook WATCH uses) and every flush; afterwards each
//! touched key is written as its resulting state: `DEL key` and, if the key
//! exists, commands recreating it (`SET`, `RPUSH`, `HSET`, `SADD`, `ZADD`)
//! and its absolute expiry (`PEXPIREAT key ms`); a flush is `FLUSHDB` in
//! that database. So replay is deterministic (SPOP's random pick, relative
//! expiries, `INCRBYFLOAT` rounding are all replayed as their outcome), does
//! not depend on the time of replay, and a command that changed nothing
//! (a failed write, a read) writes no record. The cost is that a change to
//! a large collection rewrites it whole; logging small deterministic
//! commands verbatim is a possible refinement.
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

/// Encodes one record holding `commands` and appends it to `out`.
pub fn encode_record(out: &mut Vec<u8>, commands: &[LoggedCommand]) {
    let mut payload = Vec::new();
    put_u32(&mut payload, commands.len());
    for c in commands {
        payload.push(c.db);
        put_u32(&mut payload, c.args.len());
        for a in &c.args {
            put_u32(&mut payload, a.len());
            payload.extend_from_slice(a);
        }
    }
    let mut header = [0u8; HEADER_LEN];
    header[0] = RECORD_BATCH;
    header[1..5].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    let crc = crc32c(crc32c(0, &header[..5]), &payload);
    header[5..9].copy_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(&payload);
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

/// Decodes the record at the start of `bytes`: its commands and its total
/// length, or why there is none.
pub fn decode_record(bytes: &[u8]) -> Result<(Vec<LoggedCommand>, usize), Stop> {
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
    if crc32c(crc32c(0, &bytes[..5]), payload) != crc {
        return Err(Stop::Corrupt);
    }
    let commands = parse_payload(payload).ok_or(Stop::Corrupt)?;
    Ok((commands, HEADER_LEN + len))
}

fn parse_payload(mut p: &[u8]) -> Option<Vec<LoggedCommand>> {
    fn u32_(p: &mut &[u8]) -> Option<usize> {
        let (head, rest) = p.split_at_checked(4)?;
        *p = rest;
        Some(u32::from_le_bytes(head.try_into().ok()?) as usize)
    }
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
    p.is_empty().then_some(commands)
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
}

/// Applies the records of `log` to `store` in order at time `now_ms`,
/// stopping at the first incomplete or corrupt record (see the module
/// documentation). Expiry times are restored as logged; keys already past
/// theirs are removed by the store's lazy and active expiry as usual.
pub fn replay(log: &[u8], store: &mut Store, now_ms: u64) -> ReplayReport {
    let mut at = 0;
    let mut records = 0;
    let mut session = Session::new();
    let stop = loop {
        match decode_record(&log[at..]) {
            Ok((commands, len)) => {
                for c in &commands {
                    apply(store, &mut session, c, now_ms);
                }
                at += len;
                records += 1;
            }
            Err(stop) => break stop,
        }
    };
    ReplayReport {
        records,
        bytes_used: at,
        torn_tail: at < log.len(),
        stop,
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
}

impl AofWriter {
    /// An empty writer.
    pub fn new() -> AofWriter {
        AofWriter::default()
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

    /// Runs a command like [`Store::execute`] and appends one record with
    /// its effect if it changed data (a change from lazy expiry included);
    /// returns the reply. Changes made outside `execute` (such as
    /// [`Store::active_expire`]) are not logged: replay restores expiry
    /// times, so they need not be.
    pub fn execute(
        &mut self,
        store: &mut Store,
        session: &mut Session,
        args: &[&[u8]],
        now_ms: u64,
    ) -> Reply {
        for db in store.dbs_mut() {
            db.set_journal(true);
        }
        let reply = store.execute(session, args, now_ms);
        let mut commands = Vec::new();
        for (i, db) in store.dbs_mut().iter_mut().enumerate() {
            let journal = db.take_journal().unwrap_or_default();
            db.set_journal(false);
            let dbi = i as u8;
            if journal.flushed {
                commands.push(LoggedCommand {
                    db: dbi,
                    args: alloc::vec![b"FLUSHDB".to_vec()],
                });
            }
            let mut keys = journal.keys;
            keys.sort_unstable();
            keys.dedup();
            for key in keys {
                commands.push(LoggedCommand {
                    db: dbi,
                    args: alloc::vec![b"DEL".to_vec(), key.clone()],
                });
                if let Some(e) = db.raw_entry(&key) {
                    recreate(&mut commands, dbi, &key, e);
                }
            }
        }
        if !commands.is_empty() {
            encode_record(&mut self.buf, &commands);
            self.records += 1;
        }
        reply
    }
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

/// Compaction: a log that recreates the data set of `store` as of
/// `now_ms` (keys already expired then are left out), one record per key.
pub fn rewrite(store: &Store, now_ms: u64) -> Vec<u8> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    let mut out = Vec::new();
    for (i, db) in store.dbs().iter().enumerate() {
        for (key, e) in db.entries() {
            if Db::is_expired(e, now) {
                continue;
            }
            let mut commands = Vec::new();
            recreate(&mut commands, i as u8, key, e);
            encode_record(&mut out, &commands);
        }
    }
    out
}

#[cfg(test)]
mod tests;
