//! Host tests: the protocol against an in-memory store (`MemStore`), and
//! the whole against the kvs server through `libcap::rpc::Local`.

extern crate std;

mod budget;
mod errors;
mod kvs;
mod protocol;
mod units;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::{Connection, Flow, Limits, SetOutcome, Store, StoreError, StoreStats};

/// A store in a map, whose next operation can be made to fail.
#[derive(Default)]
pub(crate) struct MemStore {
    pub(crate) map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Returned (once) by the next operation.
    pub(crate) fail: Option<StoreError>,
}

impl MemStore {
    fn failure(&mut self) -> Result<(), StoreError> {
        self.fail.take().map_or(Ok(()), Err)
    }
}

impl Store for MemStore {
    fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.failure()?;
        Ok(self.map.get(key).cloned())
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> Result<SetOutcome, StoreError> {
        self.failure()?;
        Ok(match self.map.insert(key.to_vec(), value.to_vec()) {
            None => SetOutcome::Created,
            Some(_) => SetOutcome::Replaced,
        })
    }

    fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
        self.failure()?;
        Ok(self.map.remove(key).is_some())
    }

    fn ping(&mut self) -> Result<(), StoreError> {
        self.failure()
    }

    fn stats(&mut self) -> StoreStats {
        StoreStats {
            up: self.failure().is_ok(),
            keys: Some(self.map.len() as u64),
            ..StoreStats::default()
        }
    }
}

pub(crate) type Server = crate::Server<MemStore>;

pub(crate) fn server() -> Server {
    Server::new(MemStore::default(), Limits::default())
}

pub(crate) fn server_with(limits: Limits) -> Server {
    Server::new(MemStore::default(), limits)
}

/// Feeds `input` in one piece to a new connection; the output and the flow.
pub(crate) fn exchange<S: Store>(server: &mut crate::Server<S>, input: &[u8]) -> (Vec<u8>, Flow) {
    let mut conn = server.open();
    let mut out = Vec::new();
    let flow = server.feed(&mut conn, input, &mut out);
    server.close(conn);
    (out, flow)
}

/// Feeds `input` to `conn` in pieces of `step` bytes, draining when told;
/// the output and the last flow.
pub(crate) fn feed_in_steps<S: Store>(
    server: &mut crate::Server<S>,
    conn: &mut Connection,
    input: &[u8],
    step: usize,
) -> (Vec<u8>, Flow) {
    let mut out = Vec::new();
    let mut flow = Flow::Read;
    for piece in input.chunks(step) {
        flow = server.feed(conn, piece, &mut out);
        while flow == Flow::Drain {
            flow = server.feed(conn, &[], &mut out);
        }
    }
    (out, flow)
}

/// One parsed response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) code: u16,
    pub(crate) reason: String,
    pub(crate) fields: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Parsed {
    pub(crate) fn field(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn body_str(&self) -> &str {
        core::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// Splits `out` into responses; each body is `Content-Length` bytes (none
/// without it). Panics on anything malformed: the tests check the server's
/// output is well formed.
pub(crate) fn parse(mut out: &[u8]) -> Vec<Parsed> {
    let mut all = Vec::new();
    while !out.is_empty() {
        let end = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a complete head");
        let head = core::str::from_utf8(&out[..end]).expect("ASCII head");
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap();
        let rest = status
            .strip_prefix("HTTP/1.1 ")
            .expect("HTTP/1.1 status line");
        let (code, reason) = rest.split_once(' ').unwrap();
        let fields: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").expect("name: value");
                (n.into(), v.into())
            })
            .collect();
        let len: usize = fields
            .iter()
            .find(|(n, _)| n == "Content-Length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let body = out[end + 4..end + 4 + len].to_vec();
        out = &out[end + 4 + len..];
        all.push(Parsed {
            code: code.parse().unwrap(),
            reason: reason.into(),
            fields,
            body,
        });
    }
    all
}

/// The codes of the responses in `out`.
pub(crate) fn codes(out: &[u8]) -> Vec<u16> {
    parse(out).iter().map(|r| r.code).collect()
}

/// A request with `Host` and, when `body` is given, `Content-Length`.
pub(crate) fn request(method: &str, target: &str, body: Option<&[u8]>) -> Vec<u8> {
    let mut r = std::format!("{method} {target} HTTP/1.1\r\nHost: test\r\n").into_bytes();
    if let Some(body) = body {
        r.extend_from_slice(std::format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
        r.extend_from_slice(body);
    } else {
        r.extend_from_slice(b"\r\n");
    }
    r
}
