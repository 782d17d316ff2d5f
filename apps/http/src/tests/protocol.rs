//! Routes, keep-alive, pipelining, splitting, HEAD, Expect, chunked bodies.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::{Method, Status};

#[test]
fn put_get_delete_round_trip() {
    let mut s = server();
    let mut input = request("PUT", "/kv/k", Some(b"v1"));
    input.extend(request("GET", "/kv/k", None));
    input.extend(request("PUT", "/kv/k", Some(b"v2")));
    input.extend(request("GET", "/kv/k", None));
    input.extend(request("DELETE", "/kv/k", None));
    input.extend(request("GET", "/kv/k", None));
    input.extend(request("DELETE", "/kv/k", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read);
    let r = parse(&out);
    assert_eq!(
        r.iter().map(|r| r.code).collect::<Vec<_>>(),
        [201, 200, 204, 200, 204, 404, 404]
    );
    // 201: an empty body, its length said; no Content-Type.
    assert_eq!(r[0].reason, "Created");
    assert_eq!(r[0].field("Content-Length"), Some("0"));
    assert_eq!(r[0].field("Content-Type"), None);
    assert_eq!(r[1].body, b"v1");
    assert_eq!(r[1].field("Content-Type"), Some("application/octet-stream"));
    // 204: no Content-Length at all.
    assert_eq!(r[2].reason, "No Content");
    assert_eq!(r[2].field("Content-Length"), None);
    assert_eq!(r[3].body, b"v2");
    assert_eq!(r[4].field("Content-Length"), None);
    assert_eq!(r[5].field("Content-Type"), Some("application/json"));
    assert_eq!(r[5].body_str(), r#"{"error":"no such key"}"#);
    assert_eq!(r[6].body_str(), r#"{"error":"no such key"}"#);
    // Keep-alive: nothing says close.
    assert!(r.iter().all(|r| r.field("Connection").is_none()));
    assert!(s.store_mut().map.is_empty());
}

#[test]
fn health_answers_json_and_503_when_the_store_fails() {
    let mut s = server();
    let (out, _) = exchange(&mut s, &request("GET", "/health", None));
    let r = &parse(&out)[0];
    assert_eq!(r.code, 200);
    assert_eq!(r.field("Content-Type"), Some("application/json"));
    assert_eq!(r.body_str(), r#"{"status":"ok"}"#);
    s.store_mut().fail = Some(StoreError::Unavailable);
    let (out, _) = exchange(&mut s, &request("GET", "/health?verbose=1", None));
    let r = &parse(&out)[0];
    assert_eq!(r.code, 503);
    assert_eq!(r.body_str(), r#"{"error":"the store is unavailable"}"#);
}

#[test]
fn metrics_count_requests_connections_and_keys() {
    let mut s = server();
    let _idle = s.open();
    let mut input = request("PUT", "/kv/a", Some(b"1"));
    input.extend(request("PUT", "/kv/a", Some(b"2")));
    input.extend(request("GET", "/kv/a", None));
    input.extend(request("GET", "/kv/nope", None));
    input.extend(request("POST", "/kv/a", None));
    exchange(&mut s, &input);
    let (out, _) = exchange(&mut s, &request("GET", "/metrics", None));
    let r = &parse(&out)[0];
    assert_eq!(r.code, 200);
    assert_eq!(
        r.field("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = r.body_str();
    for line in [
        "# TYPE basalt_http_requests_total counter",
        "basalt_http_requests_total{method=\"GET\",code=\"200\"} 1",
        "basalt_http_requests_total{method=\"GET\",code=\"404\"} 1",
        "basalt_http_requests_total{method=\"PUT\",code=\"201\"} 1",
        "basalt_http_requests_total{method=\"PUT\",code=\"204\"} 1",
        "basalt_http_requests_total{method=\"other\",code=\"405\"} 1",
        // The idle one and the one asking.
        "basalt_http_connections_open 2",
        "basalt_http_connections_opened_total 3",
        "basalt_http_connections_refused_total 0",
        "basalt_kvs_up 1",
        "basalt_kvs_keys 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
    // What the store does not report is left out, not shown as 0.
    assert!(!text.contains("basalt_kvs_used_memory_bytes"));
    assert!(!text.contains("basalt_kvs_aof"));
    // Every sample line is `name{labels} value` and its family is typed.
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.rsplit_once(' ').unwrap();
        value.parse::<u64>().unwrap();
        let family = name.split('{').next().unwrap();
        assert!(text.contains(&std::format!("# TYPE {family} ")), "{line}");
    }
    assert_eq!(s.metrics().requests(Method::Put, Status::Created), 1);
    assert_eq!(s.metrics().open_connections(), 1);
    let (received, sent) = s.metrics().bytes();
    assert_eq!(
        received as usize,
        input.len() + request("GET", "/metrics", None).len()
    );
    assert!(sent as usize > out.len());
}

#[test]
fn metrics_show_what_the_store_reports() {
    struct Reporting(MemStore);
    impl Store for Reporting {
        fn get(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.get(key)
        }
        fn set(&mut self, key: &[u8], value: &[u8]) -> Result<SetOutcome, StoreError> {
            self.0.set(key, value)
        }
        fn delete(&mut self, key: &[u8]) -> Result<bool, StoreError> {
            self.0.delete(key)
        }
        fn ping(&mut self) -> Result<(), StoreError> {
            Ok(())
        }
        fn stats(&mut self) -> StoreStats {
            StoreStats {
                up: true,
                keys: Some(7),
                used_memory: Some(1 << 20),
                aof_enabled: Some(true),
                aof_size: Some(4096),
                aof_last_write_ok: Some(false),
                maxmemory: Some(1 << 30),
                evicted_keys: Some(3),
                restarts: Some(1),
                last_exit: Some("page fault \"at\" 0x0\\".into()),
            }
        }
    }
    let mut s = crate::Server::new(Reporting(MemStore::default()), Limits::default());
    let (out, _) = exchange(&mut s, &request("GET", "/metrics", None));
    let text = std::string::String::from_utf8(parse(&out).remove(0).body).unwrap();
    for line in [
        "basalt_kvs_keys 7",
        "basalt_kvs_used_memory_bytes 1048576",
        "basalt_kvs_aof_enabled 1",
        "basalt_kvs_aof_size_bytes 4096",
        "basalt_kvs_aof_last_write_ok 0",
        "basalt_kvs_maxmemory_bytes 1073741824",
        "basalt_kvs_evicted_keys_total 3",
        "basalt_kvs_restarts_total 1",
        "basalt_kvs_last_exit_info{reason=\"page fault \\\"at\\\" 0x0\\\\\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in\n{text}");
    }
}

/// A mix of everything a keep-alive connection carries.
fn pipeline() -> Vec<u8> {
    let mut input = Vec::new();
    input.extend(request("PUT", "/kv/a", Some(b"alpha")));
    input.extend(b"\r\n"); // an empty line between requests is ignored
    input.extend(b"PUT /kv/b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    input.extend(b"3;ext=1\r\nbet\r\n1\r\na\r\n0\r\nTrailer: x\r\n\r\n");
    input.extend(b"GET /kv/b HTTP/1.1\nHost: t\n\n"); // bare LF line ends
    input.extend(request("HEAD", "/kv/a", None));
    input.extend(request("GET", "/kv/%61", None));
    input.extend(request("DELETE", "/kv/a", None));
    input.extend(request("GET", "/kv/%zz", None));
    input.extend(request("GET", "/health", None));
    input.extend(
        b"PUT /kv/c HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    input.extend(b"cc");
    input.extend(request("GET", "/kv/c", None));
    input
}

/// What `pipeline()` gets when fed in one piece.
fn pipeline_answer() -> Vec<u8> {
    let mut s = server();
    let (out, flow) = exchange(&mut s, &pipeline());
    assert_eq!(flow, Flow::Read);
    out
}

#[test]
fn a_pipeline_in_one_chunk_is_answered_in_order() {
    let out = pipeline_answer();
    // HEAD's response has a length but no body: cut it out by hand.
    let head_response =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n";
    let at = out
        .windows(head_response.len())
        .position(|w| w == head_response)
        .unwrap();
    let mut rest = out[..at].to_vec();
    let after_head = &out[at + head_response.len()..];
    let r = parse(&rest);
    assert_eq!(codes(&rest), [201, 201, 200]);
    assert_eq!(r[2].body, b"beta");
    let r = parse(after_head);
    assert_eq!(
        r.iter().map(|r| r.code).collect::<Vec<_>>(),
        [200, 204, 400, 200, 201, 200]
    );
    assert_eq!(r[0].body, b"alpha");
    assert_eq!(
        r[2].body_str(),
        r#"{"error":"invalid percent-escape in the key"}"#
    );
    assert_eq!(r[5].body, b"cc");
    // The body came with its head: no 100 Continue.
    rest.extend_from_slice(after_head);
    assert!(!rest.windows(8).any(|w| w == b"Continue"));
}

/// `out` without its `100 Continue`, and whether it had one.
fn without_continue(out: &[u8]) -> (Vec<u8>, bool) {
    let cont = b"HTTP/1.1 100 Continue\r\n\r\n";
    match out.windows(cont.len()).position(|w| w == cont) {
        Some(at) => ([&out[..at], &out[at + cont.len()..]].concat(), true),
        None => (out.to_vec(), false),
    }
}

#[test]
fn any_split_gives_the_same_answer() {
    let input = pipeline();
    let whole = pipeline_answer();
    let expect_head = b"Content-Length: 2\r\n\r\n";
    let expect_head_end = input
        .windows(expect_head.len())
        .position(|w| w == expect_head)
        .unwrap()
        + expect_head.len();
    for at in 0..=input.len() {
        let mut s = server();
        let mut conn = s.open();
        let mut out = Vec::new();
        assert_eq!(s.feed(&mut conn, &input[..at], &mut out), Flow::Read);
        assert_eq!(s.feed(&mut conn, &input[at..], &mut out), Flow::Read);
        // Only a split between the Expect head and its body gets the
        // interim response.
        let (out, continued) = without_continue(&out);
        assert_eq!(continued, at == expect_head_end, "split at {at}");
        assert_eq!(out, whole, "split at {at}");
        assert_eq!(conn.buffered(), 0);
    }
}

#[test]
fn byte_by_byte_gives_the_same_answer_but_for_100_continue() {
    let input = pipeline();
    let mut s = server();
    let mut conn = s.open();
    let (out, flow) = feed_in_steps(&mut s, &mut conn, &input, 1);
    assert_eq!(flow, Flow::Read);
    // Fed alone, the head with Expect: 100-continue gets its interim
    // response before the 201.
    assert_eq!(without_continue(&out), (pipeline_answer(), true));
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let mut s = server();
    let mut conn = s.open();
    let mut out = Vec::new();
    let head = b"PUT /kv/big HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\nContent-Length: 4\r\nContent-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n\r\n";
    assert_eq!(s.feed(&mut conn, head, &mut out), Flow::Read);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    out.clear();
    assert_eq!(s.feed(&mut conn, b"data", &mut out), Flow::Read);
    assert_eq!(codes(&out), [201]);
    assert_eq!(s.store_mut().map[&b"big"[..]], b"data");
    // HTTP/1.0 clients do not get one (RFC 9110 §10.1.1).
    out.clear();
    s.feed(
        &mut conn,
        b"PUT /kv/old HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\nConnection: keep-alive\r\n\r\n",
        &mut out,
    );
    assert!(out.is_empty());
    s.feed(&mut conn, b"x", &mut out);
    assert_eq!(codes(&out), [201]);
    // Nor a request without a body.
    out.clear();
    s.feed(
        &mut conn,
        b"GET /kv/old HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
        &mut out,
    );
    assert_eq!(codes(&out), [200]);
}

#[test]
fn what_curl_sends() {
    let mut s = server();
    let mut conn = s.open();
    let mut out = Vec::new();
    // `curl -X PUT -d v localhost:8080/kv/k`
    let put = b"PUT /kv/k HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\nContent-Length: 1\r\nContent-Type: application/x-www-form-urlencoded\r\n\r\nv";
    assert_eq!(s.feed(&mut conn, put, &mut out), Flow::Read);
    // Nothing in the body: the shell prints nothing for the PUT.
    assert_eq!(out, b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
    out.clear();
    // `curl localhost:8080/kv/k`
    let get = b"GET /kv/k HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n";
    s.feed(&mut conn, get, &mut out);
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1\r\n\r\nv"
    );
    // `curl -T - localhost:8080/kv/t` from a pipe: chunked.
    out.clear();
    let chunked = b"PUT /kv/t HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n";
    s.feed(&mut conn, chunked, &mut out);
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    out.clear();
    s.feed(&mut conn, b"6\r\nhello\n\r\n0\r\n\r\n", &mut out);
    assert_eq!(codes(&out), [201]);
    assert_eq!(s.store_mut().map[&b"t"[..]], b"hello\n");
    // `curl -X DELETE localhost:8080/kv/k`
    out.clear();
    s.feed(
        &mut conn,
        b"DELETE /kv/k HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.14.1\r\nAccept: */*\r\n\r\n",
        &mut out,
    );
    assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");
}

#[test]
fn connection_close_closes_after_the_response() {
    let mut s = server();
    let mut conn = s.open();
    let mut out = Vec::new();
    let mut input = request("PUT", "/kv/k", Some(b"v"));
    input.extend(b"GET /kv/k HTTP/1.1\r\nHost: h\r\nConnection: Close\r\n\r\n");
    input.extend(request("GET", "/kv/k", None));
    assert_eq!(s.feed(&mut conn, &input, &mut out), Flow::Close);
    let r = parse(&out);
    assert_eq!(r.len(), 2, "nothing after the close");
    assert_eq!(r[1].field("Connection"), Some("close"));
    assert_eq!(r[1].body, b"v");
    assert!(conn.is_closed());
    assert_eq!(conn.buffered(), 0);
    let len = out.len();
    assert_eq!(
        s.feed(&mut conn, &request("GET", "/kv/k", None), &mut out),
        Flow::Close
    );
    assert_eq!(out.len(), len);
}

#[test]
fn http_1_0_closes_unless_asked_to_keep_alive() {
    let mut s = server();
    let (out, flow) = exchange(&mut s, b"GET /health HTTP/1.0\r\n\r\n");
    assert_eq!(flow, Flow::Close);
    let r = &parse(&out)[0];
    assert_eq!(r.code, 200);
    assert_eq!(r.field("Connection"), Some("close"));
    let mut input = b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n".to_vec();
    input.extend(b"GET /health HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read);
    let r = parse(&out);
    assert_eq!(r.len(), 2);
    assert!(
        r.iter()
            .all(|r| r.field("Connection") == Some("keep-alive"))
    );
}

#[test]
fn head_sends_the_length_but_no_body() {
    let mut s = server();
    s.store_mut().map.insert(b"k".to_vec(), b"12345".to_vec());
    let mut input = request("HEAD", "/kv/k", None);
    input.extend(request("HEAD", "/kv/missing", None));
    input.extend(request("HEAD", "/health", None));
    input.extend(request("GET", "/kv/k", None));
    let (out, _) = exchange(&mut s, &input);
    let mut expect =
        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n"
            .to_vec();
    expect.extend(
        b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n",
    );
    expect
        .extend(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n");
    expect.extend(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n12345");
    assert_eq!(
        std::string::String::from_utf8_lossy(&out),
        std::string::String::from_utf8_lossy(&expect)
    );
    assert_eq!(s.metrics().requests(Method::Head, Status::Ok), 2);
    assert_eq!(s.metrics().requests(Method::Head, Status::NotFound), 1);
}

#[test]
fn binary_keys_and_values_round_trip() {
    let mut s = server();
    let value: Vec<u8> = (0..=255u8).chain(*b"\r\n\r\nHTTP/1.1 200 OK\r\n").collect();
    let key = "/kv/%00%FF%0d%0A%20a%2Fb/c+d%25";
    let mut input = request("PUT", key, Some(&value));
    input.extend(request("GET", key, None));
    let (out, _) = exchange(&mut s, &input);
    let r = parse(&out);
    assert_eq!(r[0].code, 201);
    assert_eq!(r[1].body, value);
    let stored: Vec<u8> = b"\x00\xff\r\n a/b/c+d%".to_vec();
    assert_eq!(s.store_mut().map.keys().collect::<Vec<_>>(), [&stored]);
    // An empty value is a value.
    let (out, _) = exchange(&mut s, &request("PUT", "/kv/empty", Some(b"")));
    assert_eq!(codes(&out), [201]);
    let (out, _) = exchange(&mut s, &request("GET", "/kv/empty", None));
    let r = &parse(&out)[0];
    assert_eq!((r.code, r.body.len()), (200, 0));
}

#[test]
fn targets_in_absolute_form_and_with_queries() {
    let mut s = server();
    let mut input = request("PUT", "http://localhost:8080/kv/k?ignored=1", Some(b"v"));
    input.extend(request("GET", "HTTP://h/kv/k", None));
    input.extend(request("GET", "http://h?x", None));
    input.extend(request("GET", "/kv", None));
    input.extend(request("GET", "/kv/", None));
    input.extend(request("GET", "/", None));
    input.extend(request("GET", "/healthz", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read);
    let r = parse(&out);
    assert_eq!(
        r.iter().map(|r| r.code).collect::<Vec<_>>(),
        [201, 200, 404, 404, 400, 404, 404]
    );
    assert_eq!(r[1].body, b"v");
    assert_eq!(r[4].body_str(), r#"{"error":"the key is empty"}"#);
    assert_eq!(r[5].body_str(), r#"{"error":"no such resource"}"#);
}

#[test]
fn method_not_allowed_lists_what_is() {
    let mut s = server();
    let mut input = request("POST", "/kv/k", Some(b"x"));
    input.extend(request("PUT", "/health", None));
    input.extend(request("DELETE", "/metrics", None));
    input.extend(request("get", "/kv/k", None)); // methods are case-sensitive
    input.extend(request("OPTIONS", "/kv/k", None));
    let (out, flow) = exchange(&mut s, &input);
    assert_eq!(flow, Flow::Read, "405 keeps the connection");
    let r = parse(&out);
    assert_eq!(r.len(), 5);
    for (r, allow) in r.iter().zip([
        "GET, HEAD, PUT, DELETE",
        "GET, HEAD",
        "GET, HEAD",
        "GET, HEAD, PUT, DELETE",
        "GET, HEAD, PUT, DELETE",
    ]) {
        assert_eq!(r.code, 405);
        assert_eq!(r.field("Allow"), Some(allow));
        assert_eq!(r.body_str(), r#"{"error":"method not allowed"}"#);
    }
}

#[test]
fn store_errors_become_statuses_and_keep_the_connection() {
    let cases = [
        (StoreError::WrongType, "GET", 409),
        (StoreError::TooLarge, "PUT", 413),
        (StoreError::TooLarge, "GET", 500),
        (StoreError::Unavailable, "DELETE", 503),
        (StoreError::BadReply, "GET", 500),
        (StoreError::Refused("MISCONF \"disk\"\n".into()), "PUT", 503),
    ];
    for (error, method, code) in cases {
        let mut s = server();
        let message = String::from(error.message());
        s.store_mut().fail = Some(error);
        let body: &[u8] = b"v";
        let mut input = request(method, "/kv/k", (method == "PUT").then_some(body));
        input.extend(request("GET", "/health", None));
        let (out, flow) = exchange(&mut s, &input);
        assert_eq!(flow, Flow::Read);
        let r = parse(&out);
        assert_eq!((r[0].code, r[1].code), (code, 200), "{message}");
        let expect = std::format!(
            "{{\"error\":\"{}\"}}",
            message.replace('"', "\\\"").replace('\n', "\\n")
        );
        assert_eq!(r[0].body_str(), expect);
    }
}

#[test]
fn output_over_the_pause_mark_waits_for_draining() {
    let limits = Limits {
        output_pause: 1000,
        ..Limits::default()
    };
    let mut s = server_with(limits);
    s.store_mut().map.insert(b"big".to_vec(), vec![b'x'; 600]);
    let mut input = Vec::new();
    for _ in 0..5 {
        input.extend(request("GET", "/kv/big", None));
    }
    let mut conn = s.open();
    let mut out = Vec::new();
    // Two responses pass the mark; the other three wait.
    assert_eq!(s.feed(&mut conn, &input, &mut out), Flow::Drain);
    assert_eq!(codes(&out), [200, 200]);
    assert!(conn.buffered() > 0);
    let mut all = core::mem::take(&mut out);
    assert_eq!(s.feed(&mut conn, &[], &mut out), Flow::Drain);
    assert_eq!(codes(&out), [200, 200]);
    all.append(&mut out);
    assert_eq!(s.feed(&mut conn, &[], &mut out), Flow::Read);
    assert_eq!(codes(&out), [200]);
    all.append(&mut out);
    assert_eq!(
        parse(&all).iter().filter(|r| r.body.len() == 600).count(),
        5
    );
    assert_eq!(conn.buffered(), 0);
    // Unsent output counts too.
    out.resize(1000, 0);
    assert_eq!(
        s.feed(&mut conn, &request("GET", "/health", None), &mut out),
        Flow::Drain
    );
    assert_eq!(out.len(), 1000);
}
