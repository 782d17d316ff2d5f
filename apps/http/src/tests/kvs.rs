//! The routes against the kvs server itself, through `kvs::Connection`
//! and `libcap::rpc::Local`.

use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;

use kvs::{Connection, Kvs as _, KvsClient, KvsServer, ManualClock, SharedBuf};
use libcap::rpc::Local;

use super::{codes, exchange, parse, request};
use crate::{Flow, Limits, Server};

type Kvs = Local<KvsServer<ManualClock>>;

fn kvs(regions: Vec<(alloc::string::String, SharedBuf)>) -> Kvs {
    Local::new(
        KvsServer::new(ManualClock(0), regions),
        KvsServer::rpc_dispatch,
    )
}

/// Leaked host memory standing in for a region: the server's and the
/// client's view of the same bytes.
fn region(len: usize) -> (SharedBuf, SharedBuf) {
    let mem: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so valid for ever; the server and the client copy in
    // and out only during a call, never at once (calls are synchronous).
    unsafe {
        (
            SharedBuf::new(base, len).expect("not null"),
            SharedBuf::new(base, len).expect("not null"),
        )
    }
}

#[test]
fn the_routes_against_the_kvs_server() {
    let kvs = kvs(Vec::new());
    let store = Connection::open(KvsClient::new(&kvs), None).unwrap();
    let mut s = Server::new(store, Limits::default());
    let mut input = request("PUT", "/kv/k", Some(b"v1"));
    input.extend(request("PUT", "/kv/k", Some(b"v2")));
    input.extend(request("GET", "/kv/k", None));
    input.extend(request("HEAD", "/kv/k", None));
    input.extend(request("PUT", "/kv/%00bin", Some(b"\x00\r\n\xff")));
    input.extend(request("GET", "/kv/%00bin", None));
    input.extend(request("DELETE", "/kv/k", None));
    input.extend(request("DELETE", "/kv/k", None));
    input.extend(request("GET", "/kv/k", None));
    input.extend(request("GET", "/health", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read);
    // Split off HEAD's bodiless response by its known length.
    let head =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 2\r\n\r\n";
    let at = out.windows(head.len()).rposition(|w| w == head).unwrap();
    let (before, after) = (parse(&out[..at]), parse(&out[at + head.len()..]));
    assert_eq!(
        before.iter().map(|r| r.code).collect::<Vec<_>>(),
        [201, 204, 200]
    );
    assert_eq!(before[2].body, b"v2");
    assert_eq!(
        after.iter().map(|r| r.code).collect::<Vec<_>>(),
        [201, 200, 204, 404, 404, 200]
    );
    assert_eq!(after[1].body, b"\x00\r\n\xff");
    assert_eq!(after[5].body_str(), r#"{"status":"ok"}"#);
    assert_eq!(kvs.state().store().dbsize(0), 1);
    let (out, _) = exchange(&mut s, &request("GET", "/metrics", None));
    let text = parse(&out).remove(0).body;
    let text = core::str::from_utf8(&text).unwrap();
    assert!(text.lines().any(|l| l == "basalt_kvs_up 1"), "{text}");
    assert!(text.lines().any(|l| l == "basalt_kvs_keys 1"), "{text}");
}

#[test]
fn a_key_of_another_type_is_409_until_put_replaces_it() {
    let kvs = kvs(Vec::new());
    let mut store = Connection::open(KvsClient::new(&kvs), None).unwrap();
    assert_eq!(store.command(&[b"LPUSH", b"l", b"a"]).unwrap(), b":1\r\n");
    let mut s = Server::new(store, Limits::default());
    let mut input = request("GET", "/kv/l", None);
    input.extend(request("PUT", "/kv/l", Some(b"s")));
    input.extend(request("GET", "/kv/l", None));
    let (out, _) = exchange(&mut s, &input);
    let r = parse(&out);
    assert_eq!(
        r.iter().map(|r| r.code).collect::<Vec<_>>(),
        [409, 204, 200]
    );
    assert_eq!(
        r[0].body_str(),
        r#"{"error":"the key holds a value that is not a string"}"#
    );
    assert_eq!(r[2].body, b"s");
}

#[test]
fn values_past_the_message_words_need_a_region() {
    let kvs = kvs(Vec::new());
    let mut store = Connection::open(KvsClient::new(&kvs), None).unwrap();
    // A value too large to fetch without a region, built in small steps.
    store.command(&[b"SET", b"big", &[b'x'; 600]]).unwrap();
    store.command(&[b"APPEND", b"big", &[b'x'; 600]]).unwrap();
    let mut s = Server::new(store, Limits::default());
    let mut input = request("PUT", "/kv/k", Some(&[b'y'; 2000]));
    input.extend(request("GET", "/kv/big", None));
    input.extend(request("GET", "/kv/k", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read);
    assert_eq!(codes(&out), [413, 500, 404]);
}

#[test]
fn large_values_through_a_region() {
    let (server_side, client_side) = region(128 * 1024);
    let kvs = kvs(vec![("http-buf".into(), server_side)]);
    let store = Connection::open(KvsClient::new(&kvs), Some(("http-buf", client_side))).unwrap();
    let limits = Limits {
        max_body: 100 * 1024,
        ..Limits::default()
    };
    let mut s = Server::new(store, limits);
    let big: Vec<u8> = (0..100 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut input = request("PUT", "/kv/big", Some(&big));
    input.extend(request("PUT", "/kv/big", Some(&big)));
    input.extend(request("GET", "/kv/big", None));
    let mut conn = s.open();
    let mut out = Vec::new();
    // In TCP-sized pieces, draining as told.
    for piece in input.chunks(1460) {
        let mut flow = s.feed(&mut conn, piece, &mut out);
        while flow == Flow::Drain {
            flow = s.feed(&mut conn, &[], &mut out);
        }
        assert_eq!(flow, Flow::Read);
    }
    let r = parse(&out);
    assert_eq!(
        r.iter().map(|r| r.code).collect::<Vec<_>>(),
        [201, 204, 200]
    );
    assert!(r[2].body == big);
}

#[test]
fn a_store_down_or_restarted_is_503_then_recovers() {
    let kvs = kvs(Vec::new());
    let store = Connection::open(KvsClient::new(&kvs), None).unwrap();
    let mut s = Server::new(store, Limits::default());
    kvs.crash();
    let (out, _) = exchange(&mut s, &request("GET", "/health", None));
    assert_eq!(codes(&out), [503]);
    let (out, _) = exchange(&mut s, &request("GET", "/metrics", None));
    let text = parse(&out).remove(0).body;
    assert!(
        core::str::from_utf8(&text)
            .unwrap()
            .lines()
            .any(|l| l == "basalt_kvs_up 0")
    );
    let mut restarted = KvsServer::new(ManualClock(0), Vec::new());
    restarted.set_lineage(2, None);
    kvs.restart(restarted);
    // The first call meets a store that restarted since: it is not run
    // there (503); the next one creates the key.
    let mut input = request("PUT", "/kv/k", Some(b"v"));
    input.extend(request("PUT", "/kv/k", Some(b"v")));
    let (out, _) = exchange(&mut s, &input);
    assert_eq!(codes(&out), [503, 201]);
}

#[test]
fn over_tcp_through_the_net_server() {
    use net::testing::Bench;
    use net_api::serve::StreamServer;

    let kvs = kvs(Vec::new());
    let store = Connection::open(KvsClient::new(&kvs), None).unwrap();
    let mut front = StreamServer::new(Server::new(store, Limits::default()), 8080, 16, 10);
    let mut bench = Bench::new(Default::default());
    bench.run(5, |e, io| front.handle(e, io));
    let c = bench.peer.connect(8080);
    bench.run(20, |e, io| front.handle(e, io));
    // What `curl -X PUT -d v localhost:8080/kv/k && curl localhost:8080/kv/k` sends.
    bench.peer.send(
        c,
        b"PUT /kv/k HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/7.88.1\r\n\
          Accept: */*\r\nContent-Length: 1\r\n\
          Content-Type: application/x-www-form-urlencoded\r\n\r\nv",
    );
    bench.run(20, |e, io| front.handle(e, io));
    let put = bench.peer.recv(c);
    assert!(put.starts_with(b"HTTP/1.1 201 Created\r\n"), "{put:?}");
    bench
        .peer
        .send(c, b"GET /kv/k HTTP/1.1\r\nHost: localhost:8080\r\n\r\n");
    bench.run(20, |e, io| front.handle(e, io));
    let get = bench.peer.recv(c);
    assert!(
        get.starts_with(b"HTTP/1.1 200 OK\r\n") && get.ends_with(b"\r\n\r\nv"),
        "{get:?}"
    );
    // A bad request is answered, then the connection closes.
    bench.peer.send(c, b"BAD\r\n\r\n");
    bench.run(20, |e, io| front.handle(e, io));
    assert!(bench.peer.recv(c).starts_with(b"HTTP/1.1 400 "));
    assert!(!bench.peer.tcp(c).may_recv());
    assert_eq!(front.connections(), 0);
    assert_eq!(front.protocol().metrics().open_connections(), 0);
}
