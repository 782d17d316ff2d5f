//! The store behind the routes: the [`Store`] trait, and its implementation
//! for the kvs server's client, [`kvs_api::Connection`].

use alloc::string::String;
use alloc::vec::Vec;

use libcap::rpc::{RpcError, Transport};

/// What `PUT` did.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetOutcome {
    /// The key did not exist (201).
    Created,
    /// The key's value was replaced (204).
    Replaced,
}

/// Why the store did not carry out an operation.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum StoreError {
    /// The key holds a value that is not a string (409).
    WrongType,
    /// The value is larger than the connection to the store carries: on
    /// `PUT` nothing was stored (413); on `GET` the value exists but cannot
    /// be fetched (500).
    TooLarge,
    /// The store refused the operation with this error (for example a full
    /// or failing disk) (503).
    Refused(String),
    /// The store could not be reached, or restarted during the call; a
    /// write may or may not have happened (503).
    Unavailable,
    /// The store's reply is not what the operation returns (500).
    BadReply,
}

impl StoreError {
    /// The message of the JSON error body.
    pub fn message(&self) -> &str {
        match self {
            StoreError::WrongType => "the key holds a value that is not a string",
            StoreError::TooLarge => "the value is larger than the store connection carries",
            StoreError::Refused(why) => why,
            StoreError::Unavailable => "the store is unavailable",
            StoreError::BadReply => "unexpected reply from the store",
        }
    }
}

/// What the store reports about itself for `GET /metrics`; `None` for
/// what it does not report.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct StoreStats {
    /// It answered (`basalt_kvs_up`).
    pub up: bool,
    /// Keys in its database (`basalt_kvs_keys`).
    pub keys: Option<u64>,
    /// Memory it uses, in bytes (`basalt_kvs_used_memory_bytes`).
    pub used_memory: Option<u64>,
    /// It keeps a log on disk (`basalt_kvs_aof_enabled`).
    pub aof_enabled: Option<bool>,
    /// The log's size in bytes (`basalt_kvs_aof_size_bytes`).
    pub aof_size: Option<u64>,
    /// Its last write to the log succeeded (`basalt_kvs_aof_last_write_ok`).
    pub aof_last_write_ok: Option<bool>,
    /// Its `maxmemory` in bytes (`basalt_kvs_maxmemory_bytes`).
    pub maxmemory: Option<u64>,
    /// Keys it evicted for memory (`basalt_kvs_evicted_keys_total`).
    pub evicted_keys: Option<u64>,
    /// How often init restarted it (`basalt_kvs_restarts_total`).
    pub restarts: Option<u64>,
    /// How its previous start ended, as init told it (`page fault`, …;
    /// empty for none): the label of `basalt_kvs_last_exit_info`.
    pub last_exit: Option<String>,
}

/// A key-value store of byte strings: what the routes need.
pub trait Store {
    /// The value of `key`, `None` if there is none.
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets `key` to `value` (whatever it held before, and dropping any
    /// expiry it had).
    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<SetOutcome, StoreError>;
    /// Removes `key`; `false` if there was none.
    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError>;
    /// Checks that the store answers (`GET /health`).
    fn ping(&mut self) -> Result<(), StoreError>;
    /// What it reports about itself.
    fn stats(&mut self) -> StoreStats;
}

/// One RESP2 reply value (no arrays: the commands used return none).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Resp<'a> {
    Simple(&'a [u8]),
    Error(&'a [u8]),
    Integer(i64),
    /// The range of a bulk string's bytes in the reply; `None` for nil.
    Bulk(Option<(usize, usize)>),
}

impl Resp<'_> {
    /// `reply`, which must be exactly one RESP2 value.
    pub(crate) fn parse(reply: &[u8]) -> Result<Resp<'_>, StoreError> {
        let line_end = reply
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(StoreError::BadReply)?;
        let (&kind, line) = reply[..line_end]
            .split_first()
            .ok_or(StoreError::BadReply)?;
        let rest = &reply[line_end + 2..];
        let value = match kind {
            b'+' => Resp::Simple(line),
            b'-' => Resp::Error(line),
            b':' => Resp::Integer(decimal(line)?),
            b'$' if line == b"-1" => Resp::Bulk(None),
            b'$' => {
                let len = usize::try_from(decimal(line)?).map_err(|_| StoreError::BadReply)?;
                if rest.len() != len.checked_add(2).ok_or(StoreError::BadReply)?
                    || !rest.ends_with(b"\r\n")
                {
                    return Err(StoreError::BadReply);
                }
                let start = line_end + 2;
                return Ok(Resp::Bulk(Some((start, start + len))));
            }
            _ => return Err(StoreError::BadReply),
        };
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(StoreError::BadReply)
        }
    }
}

/// A signed decimal integer.
fn decimal(digits: &[u8]) -> Result<i64, StoreError> {
    core::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(StoreError::BadReply)
}

/// The error of an error reply: `WRONGTYPE` has its own, the others carry
/// the store's words.
fn refused(error: &[u8]) -> StoreError {
    if error.starts_with(b"WRONGTYPE") {
        StoreError::WrongType
    } else {
        StoreError::Refused(String::from_utf8_lossy(error).into_owned())
    }
}

fn from_kvs(error: kvs_api::Error) -> StoreError {
    match error {
        kvs_api::Error::TooLarge
        | kvs_api::Error::Rpc(RpcError::Remote(kvs_api::REPLY_TOO_LARGE | kvs_api::NOT_ATTACHED)) => {
            StoreError::TooLarge
        }
        kvs_api::Error::BadAnswer
        | kvs_api::Error::BadRound
        | kvs_api::Error::Rpc(RpcError::Remote(_)) => StoreError::BadReply,
        // Single commands travel untagged: a restart leaves their fate
        // unknown, as the 503 says.
        kvs_api::Error::Rpc(_) | kvs_api::Error::NoChannel | kvs_api::Error::Interrupted { .. } => {
            StoreError::Unavailable
        }
    }
}

/// The store of the kvs server, through its client. `PUT` is `SET key
/// value NX`, and `SET key value` when that finds the key (so creating
/// takes one call, replacing two; between them another client may delete
/// the key, and the answer is then 204 where 201 would be as right).
/// The statistics come from `DBSIZE` and, when the server answers it, from
/// `INFO` (Redis's fields `used_memory`, `aof_enabled`,
/// `aof_last_write_status`, `aof_current_size`).
impl<T: Transport> Store for kvs_api::Connection<T> {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut reply = self.command(&[b"GET", key]).map_err(from_kvs)?;
        match Resp::parse(&reply)? {
            Resp::Bulk(Some((start, end))) => {
                reply.truncate(end);
                reply.drain(..start);
                Ok(Some(reply))
            }
            Resp::Bulk(None) => Ok(None),
            Resp::Error(e) => Err(refused(e)),
            _ => Err(StoreError::BadReply),
        }
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<SetOutcome, StoreError> {
        let reply = self
            .command(&[b"SET", key, value, b"NX"])
            .map_err(from_kvs)?;
        match Resp::parse(&reply)? {
            Resp::Simple(b"OK") => return Ok(SetOutcome::Created),
            Resp::Bulk(None) => {}
            Resp::Error(e) => return Err(refused(e)),
            _ => return Err(StoreError::BadReply),
        }
        let reply = self.command(&[b"SET", key, value]).map_err(from_kvs)?;
        match Resp::parse(&reply)? {
            Resp::Simple(b"OK") => Ok(SetOutcome::Replaced),
            Resp::Error(e) => Err(refused(e)),
            _ => Err(StoreError::BadReply),
        }
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        let reply = self.command(&[b"DEL", key]).map_err(from_kvs)?;
        match Resp::parse(&reply)? {
            Resp::Integer(n) => Ok(n > 0),
            Resp::Error(e) => Err(refused(e)),
            _ => Err(StoreError::BadReply),
        }
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        let reply = self.command(&[b"PING"]).map_err(from_kvs)?;
        match Resp::parse(&reply)? {
            Resp::Simple(b"PONG") => Ok(()),
            Resp::Error(e) => Err(refused(e)),
            _ => Err(StoreError::BadReply),
        }
    }

    fn stats(&mut self) -> StoreStats {
        let mut stats = StoreStats::default();
        if let Ok(reply) = self.command(&[b"DBSIZE"])
            && let Ok(Resp::Integer(n)) = Resp::parse(&reply)
        {
            stats.up = true;
            stats.keys = u64::try_from(n).ok();
        }
        if let Ok(reply) = self.command(&[b"INFO"])
            && let Ok(Resp::Bulk(Some((start, end)))) = Resp::parse(&reply)
        {
            stats.up = true;
            read_info(&reply[start..end], &mut stats);
        }
        stats
    }
}

/// Fills `stats` from the text of an `INFO` reply (`field:value` lines).
pub(crate) fn read_info(info: &[u8], stats: &mut StoreStats) {
    for line in info.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (field, value) = (&line[..colon], &line[colon + 1..]);
        let number = || core::str::from_utf8(value).ok()?.parse::<u64>().ok();
        match field {
            b"used_memory" => stats.used_memory = number(),
            b"aof_enabled" => stats.aof_enabled = number().map(|n| n != 0),
            b"aof_current_size" => stats.aof_size = number(),
            b"aof_last_write_status" => stats.aof_last_write_ok = Some(value == b"ok"),
            b"maxmemory" => stats.maxmemory = number(),
            b"evicted_keys" => stats.evicted_keys = number(),
            b"basalt_restarts" => stats.restarts = number(),
            b"basalt_last_exit" => {
                stats.last_exit = Some(String::from_utf8_lossy(value).into_owned());
            }
            _ => {}
        }
    }
}
