//! What the host tests share: a connection over an in-process store at a
//! fixed time.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use kvs_api::mc::Local;
use memcached::{Connection, Flow, Frontend, Limits};
use proptest::prelude::*;

/// 2026-01-01 in ms.
pub const T0: u64 = 1_767_225_600_000;

pub fn clock() -> u64 {
    T0
}

/// A client's connection to a front end over its own store.
pub struct Client {
    pub conn: Connection,
    pub cache: Local<fn() -> u64>,
    pub front: Frontend,
}

impl Client {
    pub fn new() -> Client {
        Client {
            conn: Connection::new(Limits::default()),
            cache: Local {
                store: kvs_core::Store::new(),
                clock,
            },
            front: Frontend::new(11211, T0 / 1000),
        }
    }

    /// Sends `bytes`; what came back, and whether the connection stays.
    pub fn send(&mut self, bytes: &[u8]) -> (Vec<u8>, Flow) {
        let mut out = Vec::new();
        let flow = self
            .conn
            .receive(bytes, &mut self.cache, &mut self.front, T0 / 1000, &mut out);
        (out, flow)
    }

    /// Sends a text line (or lines); what came back, as text.
    pub fn say(&mut self, bytes: &str) -> String {
        String::from_utf8(self.send(bytes.as_bytes()).0).unwrap()
    }
}

/// A request of the property tests: well-formed or any bytes.
pub fn request() -> impl Strategy<Value = Vec<u8>> {
    let key = prop::sample::select(vec!["a", "b", "n"]);
    prop_oneof![
        (key.clone(), prop::collection::vec(any::<u8>(), 0..20)).prop_map(|(k, v)| {
            let mut r = format!("set {k} 0 0 {}\r\n", v.len()).into_bytes();
            r.extend(v);
            r.extend(b"\r\n");
            r
        }),
        key.clone()
            .prop_map(|k| format!("get {k}\r\n").into_bytes()),
        key.clone()
            .prop_map(|k| format!("incr {k} 1\r\n").into_bytes()),
        key.clone()
            .prop_map(|k| format!("mg {k} v c t\r\n").into_bytes()),
        key.prop_map(|k| format!("delete {k}\r\n").into_bytes()),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

/// Sends `stream` through `send` in pieces of the sizes `cuts` cycles
/// through, until it is all sent or the connection closes: everything
/// sent back, and whether it closed.
pub fn in_pieces(
    stream: &[u8],
    cuts: &[usize],
    mut send: impl FnMut(&[u8]) -> (Vec<u8>, Flow),
) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut rest = stream;
    for &cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = cut.clamp(1, rest.len());
        let (o, flow) = send(&rest[..n]);
        out.extend(o);
        rest = &rest[n..];
        if flow == Flow::Close {
            return (out, true);
        }
    }
    (out, false)
}
