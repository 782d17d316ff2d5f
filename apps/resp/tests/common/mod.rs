//! The test harness: a front end over the real kvs server (`KvsServer`
//! called through `libcap::rpc::Local`, one `kvs::Connection` and one
//! shared region per session, as the component will have), a clock the
//! tests move, and a reader of RESP2 replies.

#![allow(dead_code)]

pub mod redis;
pub mod served;

use kvs::{Kvs as _, KvsClient, KvsServer, ManualClock, SharedBuf};
use libcap::rpc::{Local, RpcError};
use resp::{Command, Connection, Flow, Frontend, Store, StoreError};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

pub type Server = KvsServer<ManualClock>;

/// The size of each session's shared region.
pub const REGION: usize = 128 * 1024;

/// The store: the kvs server, a `kvs::Connection` per session (its badge
/// is the session id + 1), and the client side of each session's region.
pub struct Kvs {
    pub server: &'static Local<Server>,
    conns: BTreeMap<u64, kvs::Connection<&'static Local<Server>>>,
    regions: BTreeMap<u64, SharedBuf>,
}

/// Leaked host memory standing in for a region: the server's and the
/// client's view of the same bytes.
fn region() -> (SharedBuf, SharedBuf) {
    let mem: &'static mut [u8] = Box::leak(vec![0u8; REGION].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so mapped for ever; each side copies in and out only
    // while the other does not (the calls are synchronous).
    unsafe {
        (
            SharedBuf::new(base, REGION).expect("not null"),
            SharedBuf::new(base, REGION).expect("not null"),
        )
    }
}

impl Kvs {
    /// A kvs server with regions for sessions `0..sessions`.
    pub fn new(sessions: u64) -> Self {
        let mut server_side = Vec::new();
        let mut regions = BTreeMap::new();
        for id in 0..sessions {
            let (s, c) = region();
            server_side.push((format!("s{id}"), s));
            regions.insert(id, c);
        }
        let server = Box::leak(Box::new(Local::new(
            KvsServer::new(ManualClock(1_700_000_000_000), server_side),
            Server::rpc_dispatch,
        )));
        Self {
            server,
            conns: BTreeMap::new(),
            regions,
        }
    }

    /// The connection of `session`'s client (its badge set), opened if
    /// new.
    fn conn(
        &mut self,
        session: u64,
    ) -> Result<&mut kvs::Connection<&'static Local<Server>>, StoreError> {
        self.server.set_badge(session + 1);
        if !self.conns.contains_key(&session) {
            let name = format!("s{session}");
            let region = self
                .regions
                .remove(&session)
                .map(|buf| (name.as_str(), buf));
            let conn = kvs::Connection::open(KvsClient::new(self.server), region)
                .map_err(|_| StoreError::Lost)?;
            self.conns.insert(session, conn);
        }
        self.conns.get_mut(&session).ok_or(StoreError::Lost)
    }

    /// How many sessions the kvs server holds.
    pub fn sessions(&self) -> usize {
        self.server.state().sessions()
    }
}

impl Store for Kvs {
    fn exec(
        &mut self,
        session: u64,
        command: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        let conn = self.conn(session)?;
        match conn.request(command.encoded()) {
            Ok(bytes) => {
                reply.extend_from_slice(&bytes);
                Ok(())
            }
            Err(
                kvs::Error::TooLarge
                | kvs::Error::Rpc(RpcError::Remote(kvs::REPLY_TOO_LARGE | kvs::NOT_ATTACHED)),
            ) => Err(StoreError::TooLarge),
            Err(_) => Err(StoreError::Lost),
        }
    }

    fn protocol(&mut self, session: u64, resp3: bool) -> Result<(), StoreError> {
        let conn = self.conn(session)?;
        conn.protocol(0, resp3).map_err(|_| StoreError::Lost)
    }

    fn close(&mut self, session: u64) {
        self.server.set_badge(session + 1);
        if let Some(conn) = self.conns.remove(&session) {
            conn.client().reset().expect("reset");
        }
    }
}

pub type Fe = Frontend<Kvs, Box<dyn FnMut() -> u64>>;

/// The front end, and the clock's hand (microseconds).
pub fn frontend() -> (Fe, Rc<Cell<u64>>) {
    frontend_with(Kvs::new(8))
}

pub fn frontend_with(store: Kvs) -> (Fe, Rc<Cell<u64>>) {
    let now = Rc::new(Cell::new(1_700_000_000_000_000));
    let hand = now.clone();
    let fe = Frontend::new(
        store,
        Box::new(move || hand.get()) as Box<dyn FnMut() -> u64>,
    );
    (fe, now)
}

pub fn connect<S: Store, C: resp::Clock>(fe: &mut Frontend<S, C>) -> Connection {
    fe.connect(
        "127.0.0.1:50000".parse().unwrap(),
        "127.0.0.1:6379".parse().unwrap(),
    )
}

/// Feeds `input` and then, like a socket that sends everything at once,
/// takes the output until nothing is left to run (running the front
/// end's round whenever the connection waits for it). Returns the output and
/// the last flow.
pub fn drive<S: Store, C: resp::Clock>(
    conn: &mut Connection,
    fe: &mut Frontend<S, C>,
    input: &[u8],
) -> (Vec<u8>, Flow) {
    let mut out = Vec::new();
    let mut flow = conn.feed(fe, input);
    loop {
        if flow == Flow::Wait {
            fe.flush();
            flow = conn.feed(fe, &[]);
            continue;
        }
        let pending = conn.output().len();
        out.extend_from_slice(conn.output());
        conn.consume(pending);
        if pending == 0 {
            return (out, flow);
        }
        flow = conn.feed(fe, &[]);
    }
}

/// Feeds (no bytes) each of `conns` the front end names as woken (a
/// message, a pause's end, another's UNPAUSE), again until none is,
/// appending what each wrote to its place in `outs`: what the component's
/// loop does after each batch of events.
pub fn feed_woken<S: Store, C: resp::Clock>(
    fe: &mut Frontend<S, C>,
    conns: &mut [Connection],
    outs: &mut [Vec<u8>],
) {
    loop {
        let woken: Vec<u64> = fe.woken().collect();
        if woken.is_empty() {
            return;
        }
        for id in woken {
            if let Some(i) = conns.iter().position(|c| c.id() == id) {
                let (out, _) = drive(&mut conns[i], fe, &[]);
                outs[i].extend(out);
            }
        }
    }
}

/// Runs `input` on a connection and returns the output as text.
pub fn run<S: Store, C: resp::Clock>(
    conn: &mut Connection,
    fe: &mut Frontend<S, C>,
    input: &str,
) -> String {
    String::from_utf8(drive(conn, fe, input.as_bytes()).0).expect("utf-8 reply")
}

/// Encodes a command as a client library would.
pub fn cmd(args: &[&[u8]]) -> Vec<u8> {
    let mut buf = resp::CommandBuf::new();
    buf.set(args).encoded().to_vec()
}

/// A RESP2 value.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Value>>),
}

impl Value {
    pub fn bulk(s: &str) -> Self {
        Value::Bulk(Some(s.as_bytes().to_vec()))
    }

    pub fn items(&self) -> &[Value] {
        match self {
            Value::Array(Some(items)) => items,
            other => panic!("not an array: {other:?}"),
        }
    }

    pub fn text(&self) -> String {
        match self {
            Value::Bulk(Some(b)) => String::from_utf8(b.clone()).expect("utf-8"),
            Value::Simple(s) | Value::Error(s) => s.clone(),
            other => panic!("not a string: {other:?}"),
        }
    }
}

/// Parses one value at the front of `bytes`; returns it and its length.
/// Strict: every line must end in CR LF.
pub fn read_value(bytes: &[u8]) -> Option<(Value, usize)> {
    let line_end = bytes.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&bytes[1..line_end]).ok()?;
    let after = line_end + 2;
    match bytes[0] {
        b'+' => Some((Value::Simple(line.to_string()), after)),
        b'-' => Some((Value::Error(line.to_string()), after)),
        b':' => Some((Value::Int(line.parse().ok()?), after)),
        b'$' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Value::Bulk(None), after));
            }
            let n = n as usize;
            if bytes.len() < after + n + 2 || &bytes[after + n..after + n + 2] != b"\r\n" {
                return None;
            }
            Some((
                Value::Bulk(Some(bytes[after..after + n].to_vec())),
                after + n + 2,
            ))
        }
        b'*' => {
            let n: i64 = line.parse().ok()?;
            if n < 0 {
                return Some((Value::Array(None), after));
            }
            let mut at = after;
            let mut items = Vec::new();
            for _ in 0..n {
                let (v, len) = read_value(&bytes[at..])?;
                items.push(v);
                at += len;
            }
            Some((Value::Array(Some(items)), at))
        }
        _ => None,
    }
}

/// Every value in `bytes`, which must hold whole values only.
pub fn read_all(mut bytes: &[u8]) -> Vec<Value> {
    let mut values = Vec::new();
    while !bytes.is_empty() {
        let (v, len) = read_value(bytes).unwrap_or_else(|| {
            panic!(
                "malformed reply at {:?}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(80)])
            )
        });
        values.push(v);
        bytes = &bytes[len..];
    }
    values
}
