//! Typed operations for clients that want values, not RESP: GET, SET,
//! DEL, PING, DBSIZE and the fields of INFO that Basalt's front ends
//! read, each reply decoded once, here. They run as commands in session 0
//! of the [`Connection`], next to the RESP path the Redis front end uses.
//!
//! ```no_run
//! use kvs_api::ops::Existing;
//! # use libcap::{Endpoint, bind::Named, start::SharedRegion};
//! # fn run(channel: Endpoint, region: Named<SharedRegion>) -> Result<(), kvs_api::ops::OpError> {
//! let mut kvs = kvs_api::Connection::attach(channel, Some(region)).expect("a session");
//! assert!(kvs.set(b"k", b"v", Existing::Replace)?);
//! assert_eq!(kvs.get(b"k")?, Some(b"v".to_vec()));
//! assert!(kvs.delete(b"k")?);
//! let info = kvs.info()?;
//! # let _ = info.used_memory;
//! # Ok(())
//! # }
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use libcap::rpc::Transport;

use crate::{Connection, Error};

/// Why a typed operation has no result.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OpError {
    /// The call failed (see [`Error`]): the store is unreachable,
    /// restarted, or the value does not fit what travels.
    Call(Error),
    /// The key holds a value that is not a string (`WRONGTYPE`).
    WrongType,
    /// The store refused the command with this error reply (a full or
    /// failing disk's `MISCONF …`, `OOM …`).
    Refused(String),
    /// The reply is not what the command returns.
    BadReply,
}

impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Call(e)
    }
}

/// What SET does with a key that exists.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Existing {
    /// Replace its value (and drop its expiry): `SET`.
    Replace,
    /// Leave it alone: `SET … NX`.
    Keep,
}

/// One RESP2 reply of a command that returns no array.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Value<'a> {
    /// `+…`
    Simple(&'a [u8]),
    /// `-…`
    Error(&'a [u8]),
    /// `:…`
    Integer(i64),
    /// `$…`: the range of the string's bytes in the reply; `None` for
    /// nil.
    Bulk(Option<(usize, usize)>),
}

impl Value<'_> {
    /// `reply`, which must be exactly one such value.
    ///
    /// ```
    /// use kvs_api::ops::Value;
    /// assert_eq!(Value::parse(b"$3\r\nabc\r\n"), Ok(Value::Bulk(Some((4, 7)))));
    /// assert!(Value::parse(b"$3\r\nab\r\n").is_err());
    /// ```
    pub fn parse(reply: &[u8]) -> Result<Value<'_>, OpError> {
        let line_end = reply
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or(OpError::BadReply)?;
        let (&kind, line) = reply[..line_end].split_first().ok_or(OpError::BadReply)?;
        let rest = &reply[line_end + 2..];
        let value = match kind {
            b'+' => Value::Simple(line),
            b'-' => Value::Error(line),
            b':' => Value::Integer(decimal(line)?),
            b'$' if line == b"-1" => Value::Bulk(None),
            b'$' => {
                let len = usize::try_from(decimal(line)?).map_err(|_| OpError::BadReply)?;
                if rest.len() != len.checked_add(2).ok_or(OpError::BadReply)?
                    || !rest.ends_with(b"\r\n")
                {
                    return Err(OpError::BadReply);
                }
                let start = line_end + 2;
                return Ok(Value::Bulk(Some((start, start + len))));
            }
            _ => return Err(OpError::BadReply),
        };
        if rest.is_empty() {
            Ok(value)
        } else {
            Err(OpError::BadReply)
        }
    }
}

/// A signed decimal integer.
fn decimal(digits: &[u8]) -> Result<i64, OpError> {
    core::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(OpError::BadReply)
}

/// The error of an error reply: `WRONGTYPE` has its own, the others carry
/// the store's words.
fn refused(error: &[u8]) -> OpError {
    if error.starts_with(b"WRONGTYPE") {
        OpError::WrongType
    } else {
        OpError::Refused(String::from_utf8_lossy(error).into_owned())
    }
}

/// What the store says about itself in `INFO`: the fields Basalt's front
/// ends read; `None` for what it does not report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Info {
    /// `used_memory`: bytes of its heap in use.
    pub used_memory: Option<u64>,
    /// `maxmemory`.
    pub maxmemory: Option<u64>,
    /// `evicted_keys`.
    pub evicted_keys: Option<u64>,
    /// `aof_enabled`: it keeps a log.
    pub aof_enabled: Option<bool>,
    /// `aof_current_size`: the log's size in bytes.
    pub aof_size: Option<u64>,
    /// `aof_last_write_status`: its last write to the log succeeded.
    pub aof_last_write_ok: Option<bool>,
    /// `basalt_restarts`: how often init restarted it.
    pub restarts: Option<u64>,
    /// `basalt_last_exit`: how its previous start ended (empty: never).
    pub last_exit: Option<String>,
}

/// The `field:value` lines of an `INFO` text, split at the first colon
/// (section headers and blank lines have none and are skipped).
///
/// ```
/// let text = b"# Server\r\nbasalt_last_exit:page fault at 0x0\r\n";
/// let fields: Vec<_> = kvs_api::ops::info_fields(text).collect();
/// assert_eq!(fields, [(&b"basalt_last_exit"[..], &b"page fault at 0x0"[..])]);
/// ```
pub fn info_fields(text: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    text.split(|&b| b == b'\n').filter_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = line.iter().position(|&b| b == b':')?;
        Some((&line[..colon], &line[colon + 1..]))
    })
}

impl Info {
    /// The fields of an `INFO` text (`field:value` lines; others and
    /// malformed values are skipped).
    ///
    /// ```
    /// let info = kvs_api::ops::Info::parse(b"# Memory\r\nused_memory:1024\r\naof_enabled:1\r\n");
    /// assert_eq!((info.used_memory, info.aof_enabled), (Some(1024), Some(true)));
    /// ```
    pub fn parse(text: &[u8]) -> Info {
        let mut info = Info::default();
        for (field, value) in info_fields(text) {
            let number = || core::str::from_utf8(value).ok()?.parse::<u64>().ok();
            match field {
                b"used_memory" => info.used_memory = number(),
                b"maxmemory" => info.maxmemory = number(),
                b"evicted_keys" => info.evicted_keys = number(),
                b"aof_enabled" => info.aof_enabled = number().map(|n| n != 0),
                b"aof_current_size" => info.aof_size = number(),
                b"aof_last_write_status" => info.aof_last_write_ok = Some(value == b"ok"),
                b"basalt_restarts" => info.restarts = number(),
                b"basalt_last_exit" => {
                    info.last_exit = Some(String::from_utf8_lossy(value).into_owned());
                }
                _ => {}
            }
        }
        info
    }
}

impl<T: Transport> Connection<T> {
    /// Runs `args` in session 0 and decodes the reply; an error reply is
    /// the store's refusal.
    fn decoded<R>(
        &mut self,
        args: &[&[u8]],
        take: impl FnOnce(Value<'_>, &[u8]) -> Option<R>,
    ) -> Result<R, OpError> {
        let reply = self.command(args)?;
        match Value::parse(&reply)? {
            Value::Error(e) => Err(refused(e)),
            value => take(value, &reply).ok_or(OpError::BadReply),
        }
    }

    /// The string value of `key` (`GET`); `None` if there is none.
    pub fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, OpError> {
        self.decoded(&[b"GET", key], |value, reply| match value {
            Value::Bulk(Some((start, end))) => Some(Some(reply[start..end].to_vec())),
            Value::Bulk(None) => Some(None),
            _ => None,
        })
    }

    /// Sets `key` to `value` (`SET`, with `NX` to keep an existing key);
    /// whether it was set.
    pub fn set(&mut self, key: &[u8], value: &[u8], existing: Existing) -> Result<bool, OpError> {
        let args: &[&[u8]] = match existing {
            Existing::Replace => &[b"SET", key, value],
            Existing::Keep => &[b"SET", key, value, b"NX"],
        };
        self.decoded(args, |reply, _| match reply {
            Value::Simple(b"OK") => Some(true),
            Value::Bulk(None) => Some(false),
            _ => None,
        })
    }

    /// Removes `key` (`DEL`); whether it was there.
    pub fn delete(&mut self, key: &[u8]) -> Result<bool, OpError> {
        self.decoded(&[b"DEL", key], |value, _| match value {
            Value::Integer(n) => Some(n > 0),
            _ => None,
        })
    }

    /// Whether the store answers (`PING`).
    pub fn ping(&mut self) -> Result<(), OpError> {
        self.decoded(&[b"PING"], |value, _| match value {
            Value::Simple(b"PONG") => Some(()),
            _ => None,
        })
    }

    /// The number of keys in session 0's database (`DBSIZE`).
    pub fn dbsize(&mut self) -> Result<u64, OpError> {
        self.decoded(&[b"DBSIZE"], |value, _| match value {
            Value::Integer(n) => u64::try_from(n).ok(),
            _ => None,
        })
    }

    /// What the store reports about itself (`INFO`, decoded).
    pub fn info(&mut self) -> Result<Info, OpError> {
        self.decoded(&[b"INFO"], |value, reply| match value {
            Value::Bulk(Some((start, end))) => Some(Info::parse(&reply[start..end])),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode_strictly() {
        assert_eq!(Value::parse(b"+OK\r\n"), Ok(Value::Simple(b"OK")));
        assert_eq!(Value::parse(b"-ERR x\r\n"), Ok(Value::Error(b"ERR x")));
        assert_eq!(Value::parse(b":-12\r\n"), Ok(Value::Integer(-12)));
        assert_eq!(Value::parse(b"$-1\r\n"), Ok(Value::Bulk(None)));
        assert_eq!(
            Value::parse(b"$3\r\na\r\n\r\n"),
            Ok(Value::Bulk(Some((4, 7))))
        );
        assert_eq!(Value::parse(b"$0\r\n\r\n"), Ok(Value::Bulk(Some((4, 4)))));
        for bad in [
            &b""[..],
            b"+OK",
            b"+OK\r\nx",
            b"$3\r\nab\r\n",
            b"$3\r\nabcd\r\n",
            b"$3\r\nabcXY",
            b"$-2\r\n",
            b"$99999999999999999999\r\n",
            b"*1\r\n$1\r\na\r\n",
            b":x\r\n",
            b"\r\n",
        ] {
            assert_eq!(Value::parse(bad), Err(OpError::BadReply), "{bad:?}");
        }
        assert_eq!(refused(b"WRONGTYPE Operation"), OpError::WrongType);
        assert_eq!(refused(b"OOM no"), OpError::Refused("OOM no".into()));
    }

    #[test]
    fn info_fields() {
        let info = Info::parse(
            b"# Server\r\nbasalt_restarts:2\r\nbasalt_last_exit:page fault\r\n\r\n# Memory\r\nused_memory:1024\r\nused_memory_human:1K\r\nmaxmemory:4096\r\n\r\n# Persistence\r\naof_enabled:1\r\naof_last_write_status:err\r\naof_current_size:77\r\nbad line\r\n\r\n# Stats\r\nevicted_keys:9\r\n",
        );
        assert_eq!(
            info,
            Info {
                used_memory: Some(1024),
                maxmemory: Some(4096),
                evicted_keys: Some(9),
                aof_enabled: Some(true),
                aof_size: Some(77),
                aof_last_write_ok: Some(false),
                restarts: Some(2),
                last_exit: Some("page fault".into()),
            }
        );
        let other = Info::parse(b"aof_enabled:0\naof_last_write_status:ok\nused_memory:x\n");
        assert_eq!(other.aof_enabled, Some(false));
        assert_eq!(other.aof_last_write_ok, Some(true));
        assert_eq!(other.used_memory, None);
    }
}
