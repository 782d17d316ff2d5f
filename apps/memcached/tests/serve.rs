//! The front end as the stream server drives it (`serve::Server`, the
//! net server's `Protocol`): connections past `maxconns` answered with
//! memcached's error and closed, and counted apart from the open ones;
//! text calls served in rounds by the server's flush.

mod common;

use common::{T0, clock};
use kvs_api::mc::Local;
use memcached::Frontend;
use memcached::serve::Server;
use net_api::proto::Endpoint;
use net_api::serve::{Flow, Protocol};

fn seconds() -> u64 {
    T0 / 1000
}

/// The front end over an in-process store, at a fixed time.
type Front = Server<Local<fn() -> u64>, fn() -> u64>;

fn server(max: u64) -> Front {
    let mut front = Frontend::new(11211, T0 / 1000);
    front.max_connections = max;
    let cache = Local {
        store: kvs_core::Store::new(),
        clock: clock as fn() -> u64,
    };
    Server::new(cache, front, seconds as fn() -> u64)
}

const PEER: Endpoint = Endpoint {
    addr: [10, 0, 2, 2],
    port: 40000,
};

/// `stats` line `name`'s value, asked on `conn`.
fn stat<S: Protocol>(s: &mut S, conn: &mut S::Conn, name: &str) -> u64 {
    let mut out = Vec::new();
    // `stats` asks the store: the answer comes after the flush.
    if s.feed(conn, b"stats\r\n", &mut out) == Flow::Wait {
        s.flush();
        s.feed(conn, b"", &mut out);
    }
    let text = String::from_utf8(out).unwrap();
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

#[test]
fn past_maxconns_a_connection_gets_memcacheds_error_and_closes() {
    let mut s = server(2);
    let mut a = s.open(PEER, 11211);
    let b = s.open(PEER, 11211);
    let mut over = s.open(PEER, 11211);
    let mut out = Vec::new();
    assert_eq!(s.feed(&mut over, b"version\r\n", &mut out), Flow::Close);
    assert_eq!(out, b"ERROR Too many open connections\r\n");
    s.close(over);
    assert_eq!(stat(&mut s, &mut a, "curr_connections"), 2);
    assert_eq!(stat(&mut s, &mut a, "rejected_connections"), 1);
    assert_eq!(stat(&mut s, &mut a, "total_connections"), 3);
    // Once one closes, a new one is served.
    s.close(b);
    let mut c = s.open(PEER, 11211);
    let mut out = Vec::new();
    assert_eq!(s.feed(&mut c, b"mn\r\n", &mut out), Flow::Read);
    assert_eq!(out, b"MN\r\n");
}

#[test]
fn text_calls_wait_for_the_flush_and_binary_ones_do_not() {
    let mut s = server(10);
    let mut text = s.open(PEER, 11211);
    let mut out = Vec::new();
    assert_eq!(
        s.feed(&mut text, b"set k 0 0 1\r\nv\r\n", &mut out),
        Flow::Wait
    );
    assert!(out.is_empty());
    s.flush();
    assert_eq!(s.feed(&mut text, b"", &mut out), Flow::Read);
    assert_eq!(out, b"STORED\r\n");
    // A binary GET of k: answered at once.
    let mut binary = s.open(PEER, 11211);
    let mut get = vec![0x80, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    get.extend_from_slice(&[0; 12]);
    get.push(b'k');
    let mut out = Vec::new();
    assert_eq!(s.feed(&mut binary, &get, &mut out), Flow::Read);
    assert_eq!((out[0], &out[out.len() - 1..]), (0x81, &b"v"[..]));
}
