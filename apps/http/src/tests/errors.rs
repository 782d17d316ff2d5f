//! Every error status, the limits, and input that must never make the
//! server panic or hold more than its limits.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::{Method, Reject, Status};

/// The one response to `input` (fed in one piece), which must close the
/// connection; its code and JSON message.
fn rejected(server: &mut Server, input: &[u8]) -> (u16, String) {
    let (out, flow) = exchange(server, input);
    assert_eq!(flow, Flow::Close, "{}", String::from_utf8_lossy(input));
    let r = parse(&out);
    assert_eq!(r.len(), 1, "{}", String::from_utf8_lossy(&out));
    assert_eq!(r[0].field("Connection"), Some("close"));
    assert_eq!(r[0].field("Content-Type"), Some("application/json"));
    let body = r[0].body_str();
    let message = body
        .strip_prefix("{\"error\":\"")
        .and_then(|b| b.strip_suffix("\"}"))
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    (r[0].code, message.into())
}

fn expect(input: &[u8], reject: Reject) {
    let mut s = server();
    let (code, message) = rejected(&mut s, input);
    assert_eq!(
        (code, message.as_str()),
        (reject.status().code(), reject.message()),
        "{}",
        String::from_utf8_lossy(input)
    );
}

#[test]
fn malformed_request_lines_are_400() {
    for input in [
        &b"GET /\r\n\r\n"[..],
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
        b"GET / http/1.1\r\nHost: h\r\n\r\n",
        b"GET / HTTP/1\r\nHost: h\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
        b" GET / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"\x00\x01\x02\r\n\r\n",
        b"GET / HTTP/1.1\rHost: h\r\n\r\n",
    ] {
        expect(input, Reject::RequestLine);
    }
}

#[test]
fn malformed_targets_are_400() {
    for input in [
        &b"GET kv/k HTTP/1.1\r\nHost: h\r\n\r\n"[..],
        b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET ftp://h/kv/k HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /kv/a\x7fb HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /kv/a\tb HTTP/1.1\r\nHost: h\r\n\r\n",
    ] {
        expect(input, Reject::Target);
    }
}

#[test]
fn malformed_header_fields_are_400() {
    for input in [
        &b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: h\r\nName : v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\x01b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nX\xff: v\r\n\r\n",
    ] {
        expect(input, Reject::HeaderLine);
    }
    expect(
        b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n",
        Reject::Folded,
    );
}

#[test]
fn host_is_required_once_in_http_1_1() {
    expect(b"GET /health HTTP/1.1\r\n\r\n", Reject::Host);
    expect(
        b"GET /health HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
        Reject::Host,
    );
    expect(
        b"GET /health HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n",
        Reject::Host,
    );
}

#[test]
fn bad_content_lengths_are_400() {
    for value in [
        "abc", "-1", "+1", "1.0", "0x10", "", " ", "1 2", "1, 2", ",",
    ] {
        let input =
            std::format!("PUT /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: {value}\r\n\r\n");
        expect(input.as_bytes(), Reject::ContentLength);
    }
    expect(
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        Reject::ContentLength,
    );
    // The same length repeated is one length.
    let mut s = server();
    let (out, flow) = exchange(
        &mut s,
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n\r\nab",
    );
    assert_eq!((codes(&out), flow), (vec![201], Flow::Read));
}

#[test]
fn transfer_codings_other_than_chunked_are_refused() {
    expect(
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        Reject::LengthAndEncoding,
    );
    for coding in ["gzip", "chunked, gzip", "chunked, chunked"] {
        let input =
            std::format!("PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {coding}\r\n\r\n");
        expect(input.as_bytes(), Reject::TransferEncoding);
    }
    expect(
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        Reject::UnsupportedCoding,
    );
    expect(
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
        Reject::UnsupportedCoding,
    );
    expect(
        b"PUT /kv/k HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        Reject::TransferEncoding,
    );
}

#[test]
fn malformed_chunks_are_400() {
    let head = "PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    for body in [
        "x\r\n",
        "\r\n",
        "-1\r\n",
        "3x\r\n",
        "3\r\nabcXY",
        "3\r\nabc\rX\r\n",
    ] {
        expect(std::format!("{head}{body}").as_bytes(), Reject::Chunk);
    }
    // A chunk-size line longer than the head limit.
    let long = std::format!("{head}1;{}", "e".repeat(9000));
    expect(long.as_bytes(), Reject::Chunk);
}

#[test]
fn other_versions_are_505() {
    for version in ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"] {
        let input = std::format!("GET /health {version}\r\nHost: h\r\n\r\n");
        expect(input.as_bytes(), Reject::Version);
    }
    // What a client with HTTP/2 prior knowledge opens with.
    expect(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Reject::Version);
}

#[test]
fn expectations_other_than_100_continue_are_417() {
    expect(
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nExpect: the-unexpected\r\nContent-Length: 1\r\n\r\nv",
        Reject::Expectation,
    );
}

#[test]
fn a_request_line_over_the_head_limit_is_414() {
    let limits = Limits {
        max_head: 64,
        ..Limits::default()
    };
    let mut s = server_with(limits);
    let mut line = b"GET /kv/".to_vec();
    line.extend(vec![b'k'; 100]);
    // Fed in pieces: answered as soon as the limit is passed.
    let mut conn = s.open();
    let (out, flow) = feed_in_steps(&mut s, &mut conn, &line, 7);
    assert_eq!(flow, Flow::Close);
    assert_eq!(codes(&out), [414]);
    assert_eq!(conn.buffered(), 0);
    assert_eq!(s.metrics().requests(Method::Get, Status::UriTooLong), 1);
}

#[test]
fn heads_over_their_limits_are_431() {
    let limits = Limits {
        max_head: 200,
        max_fields: 4,
        ..Limits::default()
    };
    let mut s = server_with(limits);
    let mut big = b"GET /health HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    big.extend(vec![b'v'; 300]);
    let (code, message) = rejected(&mut s, &big);
    assert_eq!(
        (code, message.as_str()),
        (431, Reject::HeadTooLarge.message())
    );
    // Exactly at the limit is accepted.
    let mut exact = b"GET /health HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
    exact.extend(vec![b'v'; 200 - exact.len() - 4]);
    exact.extend(b"\r\n\r\n");
    assert_eq!(exact.len(), 200);
    let (out, _) = exchange(&mut s, &exact);
    assert_eq!(codes(&out), [200]);
    exact.insert(30, b'v');
    assert_eq!(rejected(&mut s, &exact).0, 431);
    // Four fields pass, five do not.
    let four = b"GET /health HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_eq!(codes(&exchange(&mut s, four).0), [200]);
    let five = b"GET /health HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    let (code, message) = rejected(&mut s, five);
    assert_eq!(
        (code, message.as_str()),
        (431, Reject::TooManyFields.message())
    );
    // A chunked body's trailer section has the head's limit.
    let mut trailer =
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\n"
            .to_vec();
    for _ in 0..20 {
        trailer.extend(b"Trailer-Field: 0123456789\r\n");
    }
    assert_eq!(rejected(&mut s, &trailer).0, 431);
}

#[test]
fn bodies_over_the_limit_are_413_before_they_arrive() {
    let limits = Limits {
        max_body: 10,
        ..Limits::default()
    };
    let mut s = server_with(limits);
    // Announced too long: refused on the head alone, without 100 Continue.
    let head =
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n";
    let (code, message) = rejected(&mut s, head);
    assert_eq!(
        (code, message.as_str()),
        (413, Reject::BodyTooLarge.message())
    );
    let huge =
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999999\r\n\r\n";
    assert_eq!(rejected(&mut s, huge).0, 413);
    // Chunked: refused at the chunk that passes the limit.
    let chunked =
        b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n";
    assert_eq!(rejected(&mut s, chunked).0, 413);
    let overflow = b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n";
    assert_eq!(rejected(&mut s, overflow).0, 413);
    // Exactly the limit is accepted, both ways.
    let mut exact = request("PUT", "/kv/k", Some(b"0123456789"));
    exact.extend(b"PUT /kv/k HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n");
    assert_eq!(codes(&exchange(&mut s, &exact).0), [201, 204]);
    assert_eq!(s.store_mut().map[&b"k"[..]], b"0123456789");
}

#[test]
fn a_rejected_head_request_gets_no_body() {
    let mut s = server();
    let (out, flow) = exchange(
        &mut s,
        b"HEAD /kv/k HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n",
    );
    assert_eq!(flow, Flow::Close);
    assert_eq!(
        out,
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: 34\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(s.metrics().requests(Method::Head, Status::BadRequest), 1);
}

#[test]
fn answers_before_a_rejection_are_kept() {
    let mut s = server();
    let mut input = request("PUT", "/kv/k", Some(b"v"));
    input.extend(request("GET", "/kv/k", None));
    input.extend(b"BROKEN\r\n\r\n");
    input.extend(request("DELETE", "/kv/k", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Close);
    assert_eq!(codes(&out), [201, 200, 400]);
    assert!(
        s.store_mut().map.contains_key(&b"k"[..]),
        "the DELETE after it is not run"
    );
}

#[test]
fn endless_empty_lines_are_consumed_not_kept() {
    let mut s = server();
    let mut conn = s.open();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        assert_eq!(s.feed(&mut conn, b"\r\n\r\n\n", &mut out), Flow::Read);
        assert_eq!(conn.buffered(), 0);
    }
    s.feed(&mut conn, &request("GET", "/health", None), &mut out);
    assert_eq!(codes(&out), [200]);
}

#[test]
fn garbage_never_panics_and_stays_within_the_limits() {
    let limits = Limits {
        max_head: 256,
        max_fields: 8,
        max_body: 512,
        output_pause: 4096,
        max_buffered: 4096,
    };
    // Pieces to splice: valid fragments make the random streams get far.
    let pieces: [&[u8]; 16] = [
        b"GET /kv/k HTTP/1.1\r\n",
        b"PUT /kv/",
        b"Host: h\r\n",
        b"Content-Length: 5\r\n",
        b"Transfer-Encoding: chunked\r\n",
        b"\r\n",
        b"\n",
        b"3\r\nabc\r\n",
        b"0\r\n\r\n",
        b"%4",
        b"Expect: 100-continue\r\n",
        b"HTTP/1.0",
        b" ",
        b"\x00\xff",
        b"Connection: keep-alive\r\n",
        b"ffff\r\n",
    ];
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut closed = 0;
    for _ in 0..2000 {
        let mut s = server_with(limits);
        let mut conn = s.open();
        let mut out = Vec::new();
        for _ in 0..40 {
            let mut chunk = Vec::new();
            for _ in 0..next() % 6 {
                let r = next();
                if r % 4 == 0 {
                    chunk.push((r >> 8) as u8);
                } else {
                    chunk.extend_from_slice(pieces[(r >> 8) as usize % pieces.len()]);
                }
            }
            let flow = s.feed(&mut conn, &chunk, &mut out);
            // What waits is at most a head and a body, plus the chunk,
            // and its memory stays within the budget.
            assert!(conn.buffered() <= 256 + 512 + chunk.len());
            assert!(s.buffered() <= limits.max_buffered);
            if flow == Flow::Close {
                closed += 1;
                break;
            }
            out.clear();
        }
        s.close(conn);
        assert_eq!(s.metrics().open_connections(), 0);
        assert_eq!(s.buffered(), 0);
    }
    assert!(closed > 100, "the streams reach errors ({closed})");
}
