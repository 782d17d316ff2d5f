//! The heap's budget for received bytes: what every connection together
//! may buffer, the 503 past it, and the limits a heap allows.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::{CONNECTION_COST, Method, Reject, Status};

/// 64 KiB bodies at most, 100 KiB of received bytes in all.
fn tight() -> Limits {
    Limits {
        max_body: 64 * 1024,
        max_buffered: 100 * 1024,
        ..Limits::default()
    }
}

/// The head of a `PUT /kv/<key>` with a body of `len` bytes.
fn put_head(key: &str, len: usize) -> Vec<u8> {
    std::format!("PUT /kv/{key} HTTP/1.1\r\nHost: h\r\nContent-Length: {len}\r\n\r\n").into_bytes()
}

#[test]
fn a_connection_past_what_the_others_leave_gets_503_and_is_not_buffered() {
    let mut s = server_with(tight());
    // A body on its way: its room is taken when the head arrives.
    let mut first = s.open();
    let mut out = Vec::new();
    let mut input = put_head("a", 60 * 1024);
    input.extend(vec![b'a'; 1000]);
    assert_eq!(s.feed(&mut first, &input, &mut out), Flow::Read);
    assert!(out.is_empty());
    assert!(s.buffered() >= 60 * 1024);
    // A second one as large does not fit beside it: refused on its head,
    // before its body comes.
    let mut second = s.open();
    let flow = s.feed(&mut second, &put_head("b", 60 * 1024), &mut out);
    assert_eq!(flow, Flow::Close);
    let r = parse(&out);
    assert_eq!(r.len(), 1);
    assert_eq!((r[0].code, r[0].field("Connection")), (503, Some("close")));
    assert!(r[0].body_str().contains(Reject::Busy.message()));
    assert_eq!(second.held(), 0, "nothing of it is kept");
    assert!(s.buffered() <= tight().max_buffered);
    s.close(second);
    assert_eq!(
        s.metrics()
            .requests(Method::Put, Status::ServiceUnavailable),
        1
    );
    // A small request still fits.
    let mut third = s.open();
    out.clear();
    s.feed(&mut third, &request("GET", "/health", None), &mut out);
    assert_eq!(codes(&out), [200]);
    // The first body completes; its room comes back, and the second
    // one's retry is served.
    out.clear();
    s.feed(&mut first, &vec![b'a'; 60 * 1024 - 1000], &mut out);
    assert_eq!(codes(&out), [201]);
    let mut retry = s.open();
    out.clear();
    let mut input = put_head("b", 60 * 1024);
    input.extend(vec![b'b'; 60 * 1024]);
    s.feed(&mut retry, &input, &mut out);
    assert_eq!(codes(&out), [201]);
    for conn in [first, third, retry] {
        s.close(conn);
    }
    assert_eq!(s.buffered(), 0);
}

#[test]
fn bytes_in_pieces_stop_at_the_budget() {
    // Many connections each send part of a head: the first ones are
    // buffered, those past the budget are refused, and the budget never
    // runs over.
    let limits = Limits {
        max_buffered: 20 * 1024,
        ..Limits::default()
    };
    let mut s = server_with(limits);
    let mut partial = b"GET /kv/".to_vec();
    partial.extend(vec![b'k'; 3000]);
    let mut conns = Vec::new();
    let mut refused = 0;
    for _ in 0..20 {
        let mut conn = s.open();
        let mut out = Vec::new();
        match s.feed(&mut conn, &partial, &mut out) {
            Flow::Read => assert!(out.is_empty()),
            Flow::Close => {
                assert_eq!(codes(&out), [503]);
                refused += 1;
            }
            flow => panic!("{flow:?}"),
        }
        assert!(s.buffered() <= limits.max_buffered);
        conns.push(conn);
    }
    assert!((10..20).contains(&refused), "{refused} refused");
    assert_eq!(
        s.metrics()
            .requests(Method::Get, Status::ServiceUnavailable),
        refused
    );
    for conn in conns {
        s.close(conn);
    }
    assert_eq!(s.buffered(), 0);
}

#[test]
fn chunked_bodies_count_against_the_budget() {
    let mut s = server_with(tight());
    let mut hog = s.open();
    let mut out = Vec::new();
    s.feed(&mut hog, &put_head("a", 60 * 1024), &mut out);
    let mut conn = s.open();
    let mut input = b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    assert_eq!(s.feed(&mut conn, &input, &mut out), Flow::Read);
    // Chunks of 4 KiB until the decoded body no longer fits beside the
    // hog's reservation: within its 64 KiB body limit, past the budget.
    let mut flow = Flow::Read;
    for _ in 0..15 {
        input = std::format!("{:x}\r\n", 4096).into_bytes();
        input.extend(vec![b'c'; 4096]);
        input.extend(b"\r\n");
        flow = s.feed(&mut conn, &input, &mut out);
        assert!(s.buffered() <= tight().max_buffered);
        if flow == Flow::Close {
            break;
        }
    }
    assert_eq!(flow, Flow::Close);
    assert_eq!(codes(&out), [503]);
    s.close(conn);
    s.close(hog);
    assert_eq!(s.buffered(), 0);
}

#[test]
fn idle_connections_hold_next_to_nothing() {
    let mut s = server();
    let mut conns = Vec::new();
    for i in 0..1000 {
        let mut conn = s.open();
        let mut out = Vec::new();
        let key = std::format!("k{i}");
        s.feed(
            &mut conn,
            &request("PUT", &std::format!("/kv/{key}"), Some(&[b'v'; 10_000])),
            &mut out,
        );
        s.feed(&mut conn, &request("GET", "/health", None), &mut out);
        assert_eq!(codes(&out), [201, 200]);
        conns.push(conn);
    }
    // Each keeps the small buffer of its last request, nothing of the
    // bodies.
    assert!(s.buffered() <= 1000 * 64, "{} bytes held", s.buffered());
    for conn in conns {
        s.close(conn);
    }
    assert_eq!(s.buffered(), 0);
}

#[test]
fn bodies_over_the_limit_are_not_buffered() {
    let mut s = server_with(tight());
    let mut conn = s.open();
    let mut out = Vec::new();
    let mut input = put_head("a", 64 * 1024 + 1);
    input.extend(vec![b'a'; 8000]);
    assert_eq!(s.feed(&mut conn, &input, &mut out), Flow::Close);
    assert_eq!(codes(&out), [413]);
    assert_eq!(conn.held(), 0);
    assert_eq!(s.buffered(), 0);
    s.close(conn);
}

#[test]
fn the_limits_fit_the_heap() {
    // config/default: 8 MiB, 1,000 connections; the defaults fit.
    let fitted = Limits::default().fit(8 << 20, 1000).expect("room");
    assert_eq!(fitted.max_body, Limits::default().max_body);
    assert_eq!(fitted.max_head, Limits::default().max_head);
    for heap in [1 << 20, 2 << 20, 3 << 20, 8 << 20, 64 << 20] {
        for conns in [1, 10, 100, 1000, 10_000] {
            let Some(l) = Limits::default().fit(heap, conns) else {
                assert!(
                    conns * CONNECTION_COST + 2 * (8 * 1024 + 16 * 1024) > heap,
                    "{heap} bytes, {conns} connections: room, yet refused"
                );
                continue;
            };
            // The connections and what they may buffer take half the
            // heap at most beyond their own cost...
            assert!(conns * CONNECTION_COST + 2 * l.max_buffered <= heap);
            // ... and one request of the largest size fits in it.
            assert!(l.max_head + l.max_body < l.max_buffered);
            assert!(l.max_body <= Limits::default().max_body);
        }
    }
    assert!(Limits::default().fit(2 << 20, 1000).expect("room").max_body < 1 << 20);
    assert_eq!(Limits::default().fit(usize::MAX, usize::MAX), None);
}
