//! The store behind the routes: the [`Store`] trait, and its implementation
//! for the kvs server's client, [`kvs_api::Connection`].

use alloc::string::String;
use alloc::vec::Vec;

use kvs_api::ops::{Existing, OpError};
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

/// The operation's error as the routes see it.
fn from_op(error: OpError) -> StoreError {
    match error {
        OpError::WrongType => StoreError::WrongType,
        OpError::Refused(why) => StoreError::Refused(why),
        OpError::BadReply => StoreError::BadReply,
        OpError::Call(
            kvs_api::Error::TooLarge
            | kvs_api::Error::Rpc(RpcError::Remote(kvs_api::REPLY_TOO_LARGE | kvs_api::NOT_ATTACHED)),
        ) => StoreError::TooLarge,
        OpError::Call(
            kvs_api::Error::BadAnswer
            | kvs_api::Error::BadRound
            // Only a round runs on, and this store sends none.
            | kvs_api::Error::Running
            | kvs_api::Error::Rpc(RpcError::Remote(_)),
        ) => StoreError::BadReply,
        // The store restarted or cannot be reached: whether a write took
        // effect is not told apart here (the 503 says so).
        OpError::Call(kvs_api::Error::Rpc(_) | kvs_api::Error::Interrupted { .. }) => {
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
        kvs_api::Connection::get(self, key).map_err(from_op)
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<SetOutcome, StoreError> {
        if kvs_api::Connection::set(self, key, value, Existing::Keep).map_err(from_op)? {
            return Ok(SetOutcome::Created);
        }
        kvs_api::Connection::set(self, key, value, Existing::Replace).map_err(from_op)?;
        Ok(SetOutcome::Replaced)
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        kvs_api::Connection::delete(self, key).map_err(from_op)
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        kvs_api::Connection::ping(self).map_err(from_op)
    }

    fn stats(&mut self) -> StoreStats {
        let keys = self.dbsize().ok();
        let info = self.info().ok();
        let up = keys.is_some() || info.is_some();
        let info = info.unwrap_or_default();
        StoreStats {
            up,
            keys,
            used_memory: info.used_memory,
            aof_enabled: info.aof_enabled,
            aof_size: info.aof_size,
            aof_last_write_ok: info.aof_last_write_ok,
            maxmemory: info.maxmemory,
            evicted_keys: info.evicted_keys,
            restarts: info.restarts,
            last_exit: info.last_exit,
        }
    }
}
