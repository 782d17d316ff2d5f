//! The wire: framing, pipelining, splitting, protocol errors and limits,
//! against the kvs server. Expected bytes are what redis-server 7.0.15
//! answers to the same input.

mod common;

use common::*;
use resp::{Flow, OUTPUT_HIGH_WATER, ROUND_COMMANDS_PER_CONNECTION};

#[test]
fn ten_thousand_pipelined_commands_in_one_buffer() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    let mut input = Vec::new();
    for i in 0..10_000u32 {
        match i % 4 {
            0 => input.extend(cmd(&[b"INCR", b"n"])),
            1 => input.extend(cmd(&[b"SET", format!("k{i}").as_bytes(), b"v"])),
            2 => input.extend(cmd(&[b"GET", format!("k{}", i - 1).as_bytes()])),
            _ => input.extend_from_slice(b"PING\r\n"),
        }
    }
    let (out, flow) = drive(&mut conn, &mut fe, &input);
    assert_eq!(flow, Flow::Continue);
    let replies = read_all(&out);
    assert_eq!(replies.len(), 10_000);
    for (i, r) in replies.iter().enumerate() {
        let expect = match i % 4 {
            0 => Value::Int(i as i64 / 4 + 1),
            1 => Value::Simple("OK".into()),
            2 => Value::bulk("v"),
            _ => Value::Simple("PONG".into()),
        };
        assert_eq!(*r, expect, "reply {i}");
    }
    assert_eq!(fe.stats().commands_processed, 10_000);
    assert_eq!(fe.stats().net_input_bytes, input.len() as u64);
    assert_eq!(fe.stats().net_output_bytes, out.len() as u64);
}

/// A script that exercises every kind of framing.
fn script() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend(cmd(&[b"SET", b"k", b"v1"]));
    s.extend_from_slice(b"GET k\r\n");
    s.extend_from_slice(b"SET \"a b\" 'c d'\r\nGET \"a b\"\n");
    s.extend_from_slice(b"*0\r\n*-1\r\n\r\n   \r\n");
    s.extend(cmd(&[b"SET", b"bin", b"\r\n\x00\xff"]));
    s.extend(cmd(&[b"GET", b"bin"]));
    s.extend(cmd(&[b"SET", b"big", &vec![b'x'; 70_000]]));
    s.extend(cmd(&[b"STRLEN", b"big"]));
    s.extend_from_slice(b"*1\r\n$4\r\nPINGxx");
    s.extend(cmd(&[b"ECHO", b""]));
    s.extend(cmd(&[b"RPUSH", b"l", b"1", b"2", b"3"]));
    s.extend_from_slice(b"LRANGE l 0 -1\r\n");
    s.extend(cmd(&[b"MULTI"]));
    s.extend(cmd(&[b"INCR", b"c"]));
    s.extend_from_slice(b"PING\r\n");
    s.extend(cmd(&[b"EXEC"]));
    s.extend_from_slice(b"QUIT\r\nGET k\r\n");
    s
}

#[test]
fn any_split_gives_the_same_replies() {
    let script = script();
    let whole = {
        let (mut fe, _) = frontend();
        let mut conn = connect(&mut fe);
        drive(&mut conn, &mut fe, &script)
    };
    assert_eq!(whole.1, Flow::Close, "QUIT at the end");
    let replies = read_all(&whole.0);
    assert_eq!(replies.len(), 17, "{replies:?}");
    assert_eq!(replies[3], Value::bulk("c d"));
    assert_eq!(replies[5], Value::Bulk(Some(b"\r\n\x00\xff".to_vec())));
    assert_eq!(replies[7], Value::Int(70_000));
    assert_eq!(replies[8], Value::Simple("PONG".into()));
    assert_eq!(replies[9], Value::bulk(""));
    assert_eq!(
        replies[11],
        Value::Array(Some(vec![
            Value::bulk("1"),
            Value::bulk("2"),
            Value::bulk("3")
        ]))
    );
    assert_eq!(replies[14], Value::Simple("QUEUED".into()));
    assert_eq!(
        replies[15],
        Value::Array(Some(vec![Value::Int(1), Value::Simple("PONG".into())])),
        "PING inside MULTI is queued"
    );
    assert_eq!(
        replies[16],
        Value::Simple("OK".into()),
        "QUIT; the GET after it never runs"
    );

    // One byte at a time, and in chunks of a few odd sizes.
    for chunk in [1usize, 2, 3, 7, 1460, 4096] {
        let (mut fe, _) = frontend();
        let mut conn = connect(&mut fe);
        let mut out = Vec::new();
        let mut flow = Flow::Continue;
        for piece in script.chunks(chunk) {
            let (o, f) = drive(&mut conn, &mut fe, piece);
            out.extend(o);
            flow = f;
        }
        assert_eq!(flow, Flow::Close, "chunk {chunk}");
        assert_eq!(out, whole.0, "chunk {chunk}");
    }
}

#[test]
fn inline_commands() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(run(&mut conn, &mut fe, "PING\r\n"), "+PONG\r\n");
    assert_eq!(run(&mut conn, &mut fe, "ping hello\n"), "$5\r\nhello\r\n");
    assert_eq!(
        run(
            &mut conn,
            &mut fe,
            "SET greeting \"hello\\tworld\\x21\"\r\n"
        ),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "GET greeting\r\n"),
        "$12\r\nhello\tworld!\r\n"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "ECHO 'it\\'s'\r\n"),
        "$4\r\nit's\r\n"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "ECHO \"a\"  b\r\n"),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(run(&mut conn, &mut fe, "PING\rx\r\n"), "$1\r\nx\r\n");
    assert_eq!(
        run(&mut conn, &mut fe, "\r\n\r\nPING\r\n"),
        "+PONG\r\n",
        "blank lines are nothing"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "PING\nPING\n"),
        "+PONG\r\n+PONG\r\n"
    );
}

/// Runs `input` on a fresh connection; returns the output and the flow,
/// and checks that input after the error is ignored.
fn broken(input: &[u8]) -> (String, Flow) {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    let (out, flow) = drive(&mut conn, &mut fe, input);
    if flow == Flow::Close {
        assert_eq!(conn.feed(&mut fe, b"PING\r\n"), Flow::Close);
        assert!(conn.output().is_empty(), "nothing runs after the close");
        assert!(!conn.wants_input());
        assert_eq!(fe.stats().protocol_errors, 1);
    }
    fe.disconnect(conn);
    (String::from_utf8_lossy(&out).into_owned(), flow)
}

#[test]
fn protocol_errors_in_redis_words_then_close() {
    for (input, reply) in [
        (
            &b"*x\r\n"[..],
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*01\r\n$4\r\nPING\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*-0\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*2147483648\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\n$4\r\nPING\r\n",
            "-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\n$x\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$04\r\nPING\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n$536870913\r\n",
            "-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*1\r\n+x\r\n",
            "-ERR Protocol error: expected '$', got '+'\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n:1\r\n",
            "-ERR Protocol error: expected '$', got ':'\r\n",
        ),
        (
            b"*1\r\r\n$4\r\nPING\r\n",
            "-ERR Protocol error: expected '$', got ' '\r\n",
        ),
        (
            b"PING \"a\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"PING 'a\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"PING \"a\"b\r\n",
            "-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"*1\r\n$4\r\nPING\r\n*1\r\n$x\r\n",
            "+PONG\r\n-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"PING\r\n*x\r\n",
            "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
        ),
    ] {
        let (out, flow) = broken(input);
        assert_eq!(out, reply, "{:?}", String::from_utf8_lossy(input));
        assert_eq!(flow, Flow::Close, "{:?}", String::from_utf8_lossy(input));
    }
    let long = vec![b'x'; 70_000];
    assert_eq!(
        broken(&long),
        (
            "-ERR Protocol error: too big inline request\r\n".into(),
            Flow::Close
        )
    );
    let mut count = b"*".to_vec();
    count.extend(vec![b'1'; 70_000]);
    assert_eq!(
        broken(&count),
        (
            "-ERR Protocol error: too big mbulk count string\r\n".into(),
            Flow::Close
        )
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 70_000]);
    assert_eq!(
        broken(&bulk),
        (
            "-ERR Protocol error: too big bulk count string\r\n".into(),
            Flow::Close
        )
    );
}

#[test]
fn incomplete_and_empty_input_is_not_an_error() {
    for input in [
        &b"*1\r\nx"[..],
        b"*2147483647\r\n",
        b"*1\r\n$536870912\r\n",
        b"*-2\r\n",
        b"*0\r\n",
        b"PIN",
    ] {
        let (out, flow) = broken(input);
        assert_eq!((out.as_str(), flow), ("", Flow::Continue), "{input:?}");
    }
}

#[test]
fn errors_after_a_protocol_error_close_the_store_session() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(run(&mut conn, &mut fe, "MULTI\r\n"), "+OK\r\n");
    assert_eq!(fe.store().sessions(), 1);
    assert_eq!(conn.feed(&mut fe, b"*x\r\n"), Flow::Close);
    fe.disconnect(conn);
    assert_eq!(
        fe.store().sessions(),
        0,
        "the session and its MULTI are gone"
    );
    assert_eq!(fe.stats().connected, 0);
}

#[test]
fn bulk_strings_up_to_proto_max_bulk_len() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(
        run(&mut conn, &mut fe, "CONFIG SET proto-max-bulk-len 1mb\r\n"),
        "+OK\r\n"
    );
    assert_eq!(fe.config().proto_max_bulk_len(), 1 << 20);
    // Exactly the limit parses; this store's region (128 KiB) cannot
    // carry it, so the store refuses it and the connection stays open.
    let value = vec![b'v'; 1 << 20];
    let (out, flow) = drive(&mut conn, &mut fe, &cmd(&[b"SET", b"k", &value]));
    assert_eq!(flow, Flow::Continue);
    assert!(
        String::from_utf8_lossy(&out).starts_with("-ERR the command or its reply is too large")
    );
    // A value that fits the region goes through.
    let fits = vec![b'w'; 100_000];
    assert_eq!(
        drive(&mut conn, &mut fe, &cmd(&[b"SET", b"k", &fits])).0,
        b"+OK\r\n"
    );
    // One byte past the limit is Redis's protocol error.
    let header = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n", (1 << 20) + 1);
    assert_eq!(
        drive(&mut conn, &mut fe, header.as_bytes()),
        (
            b"-ERR Protocol error: invalid bulk length\r\n".to_vec(),
            Flow::Close
        )
    );
}

#[test]
fn a_command_outgrowing_the_query_buffer_limit_closes_silently() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(
        run(
            &mut conn,
            &mut fe,
            "CONFIG SET client-query-buffer-limit 1mb\r\n"
        ),
        "+OK\r\n"
    );
    assert_eq!(
        conn.feed(&mut fe, b"*2\r\n$4\r\nECHO\r\n$2000000\r\n"),
        Flow::Continue
    );
    let chunk = vec![b'x'; 64 * 1024];
    let mut flow = Flow::Continue;
    let mut fed = 0;
    while flow == Flow::Continue && fed < 2_000_000 {
        flow = conn.feed(&mut fe, &chunk);
        fed += chunk.len();
    }
    assert_eq!(flow, Flow::Close);
    assert!(
        fed <= (1 << 20) + chunk.len(),
        "closed once past the limit ({fed} bytes fed)"
    );
    assert!(conn.output().is_empty(), "no reply, as in Redis");
    assert_eq!(fe.stats().query_buffer_overflows, 1);
}

#[test]
fn full_output_holds_commands_back() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    let value = vec![b'x'; 50_000];
    assert_eq!(
        drive(&mut conn, &mut fe, &cmd(&[b"SET", b"big", &value])).0,
        b"+OK\r\n"
    );
    let mut input = Vec::new();
    for _ in 0..100 {
        input.extend(cmd(&[b"GET", b"big"]));
    }
    // The commands wait in the front end's round, a connection's share
    // of it at most.
    assert_eq!(conn.feed(&mut fe, &input), Flow::Wait);
    fe.flush();
    assert_eq!(conn.feed(&mut fe, &[]), Flow::Continue);
    // The commands stop once the output passes the high-water mark: it
    // holds at most one round's replies more.
    let reply = 50_000 + 10;
    assert!(conn.output().len() >= OUTPUT_HIGH_WATER);
    assert!(conn.output().len() <= ROUND_COMMANDS_PER_CONNECTION * reply);
    assert!(!conn.wants_input());
    let held = fe.stats().commands_processed as usize;
    assert_eq!(held, 1 + ROUND_COMMANDS_PER_CONNECTION);
    // Sending part of the output is not enough ...
    let mut sent = conn.output()[..1000].to_vec();
    conn.consume(1000);
    assert!(!conn.wants_input());
    // ... sending it all lets the rest run.
    loop {
        let pending = conn.output().len();
        if pending == 0 {
            break;
        }
        sent.extend_from_slice(conn.output());
        conn.consume(pending);
        assert!(conn.wants_input());
        while conn.feed(&mut fe, &[]) == Flow::Wait {
            fe.flush();
        }
    }
    let replies = read_all(&sent);
    assert_eq!(replies.len(), 100);
    assert!(
        replies
            .iter()
            .all(|r| *r == Value::Bulk(Some(value.clone())))
    );
    assert_eq!(fe.stats().commands_processed, 101);
}

#[test]
fn partial_sends() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    conn.feed(&mut fe, b"ECHO hello\r\nECHO world\r\n");
    let mut sent = Vec::new();
    while !conn.output().is_empty() {
        sent.push(conn.output()[0]);
        conn.consume(1);
    }
    assert_eq!(sent, b"$5\r\nhello\r\n$5\r\nworld\r\n");
    conn.consume(10);
    assert!(conn.output().is_empty());
}

/// The header of a `SET k` command whose last bulk string is `len`
/// bytes long: the bytes that follow are held until it is complete.
fn set_header(len: usize) -> Vec<u8> {
    format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${len}\r\n").into_bytes()
}

#[test]
fn the_connection_whose_input_would_pass_the_clients_memory_is_closed() {
    let (mut fe, _) = frontend();
    fe.set_client_memory(4 << 20);
    let mut first = connect(&mut fe);
    let mut second = connect(&mut fe);
    let mb = vec![b'x'; 1_000_000];
    let mut echo = b"*2\r\n$4\r\nECHO\r\n$1500000\r\n".to_vec();
    echo.extend_from_slice(&mb);
    assert_eq!(first.feed(&mut fe, &echo), Flow::Continue);
    assert_eq!(second.feed(&mut fe, &set_header(3_000_000)), Flow::Continue);
    assert_eq!(second.feed(&mut fe, &mb), Flow::Continue);
    // 1 MB and 2 MB held (the second's buffer doubled): under 4 MiB.
    assert_eq!(second.feed(&mut fe, &mb), Flow::Continue);
    let held = fe.clients_held();
    assert!((3_000_000..3_100_000).contains(&held), "{held}");
    // Its buffer would double again, to 4 MB: past what is left.
    assert_eq!(second.feed(&mut fe, &mb[..500_000]), Flow::Close);
    assert!(second.output().is_empty(), "closed without a reply");
    assert_eq!(fe.stats().evicted_clients, 1);
    fe.disconnect(second);
    // The other one finishes its command and gets the whole reply.
    let mut rest = mb[..500_000].to_vec();
    rest.extend_from_slice(b"\r\n");
    let (out, flow) = drive(&mut first, &mut fe, &rest);
    assert_eq!(flow, Flow::Continue);
    assert_eq!(read_all(&out), [Value::Bulk(Some(vec![b'x'; 1_500_000]))]);
    let info = run(&mut first, &mut fe, "INFO stats\r\n");
    assert!(info.contains("evicted_clients:1\r\n"), "{info}");
}

#[test]
fn maxmemory_clients_lowers_the_clients_memory() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(
        run(&mut conn, &mut fe, "CONFIG SET maxmemory-clients 1mb\r\n"),
        "+OK\r\n"
    );
    assert_eq!(fe.client_memory_limit(), 1 << 20);
    assert_eq!(conn.feed(&mut fe, &set_header(2_000_000)), Flow::Continue);
    assert_eq!(conn.feed(&mut fe, &vec![b'x'; 600_000]), Flow::Continue);
    assert_eq!(conn.feed(&mut fe, &vec![b'x'; 600_000]), Flow::Close);
    assert_eq!(fe.stats().evicted_clients, 1);
    assert_eq!(fe.stats().query_buffer_overflows, 0);
    fe.disconnect(conn);
    assert_eq!(fe.clients_held(), 0, "what it held is given back");
    // The component's own limit stays the lower one.
    fe.set_client_memory(512 << 10);
    assert_eq!(fe.client_memory_limit(), 512 << 10);
}

#[test]
fn a_reply_that_would_pass_the_clients_memory_closes_its_connection() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    let value = vec![b'v'; 100_000];
    assert_eq!(
        drive(&mut conn, &mut fe, &cmd(&[b"SET", b"k", &value])).0,
        b"+OK\r\n"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "CONFIG SET maxmemory-clients 1mb\r\n"),
        "+OK\r\n"
    );
    // Another connection holds most of it.
    let mut hog = connect(&mut fe);
    let mut partial = set_header(1_500_000);
    partial.extend_from_slice(&vec![b'x'; 980_000]);
    assert_eq!(hog.feed(&mut fe, &partial), Flow::Continue);
    let mut flow = conn.feed(&mut fe, b"GET k\r\n");
    while flow == Flow::Wait {
        fe.flush();
        flow = conn.feed(&mut fe, &[]);
    }
    assert_eq!(flow, Flow::Close);
    assert!(conn.output().is_empty(), "the reply is dropped");
    assert_eq!(fe.stats().evicted_clients, 1);
}

#[test]
fn the_component_caps_the_bulk_length_and_the_query_buffer() {
    let (mut fe, _) = frontend();
    let config = fe.config_mut();
    config.limit("proto-max-bulk-len", 2 << 20).unwrap();
    config.limit("client-query-buffer-limit", 3 << 20).unwrap();
    assert_eq!(config.proto_max_bulk_len(), 2 << 20);
    assert_eq!(config.query_buffer_limit(), 3 << 20);
    let mut conn = connect(&mut fe);
    assert_eq!(
        run(
            &mut conn,
            &mut fe,
            "CONFIG SET proto-max-bulk-len 512mb\r\n"
        ),
        "-ERR CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - \
         argument must be between 1048576 and 2097152 inclusive\r\n"
    );
    assert_eq!(
        run(
            &mut conn,
            &mut fe,
            "CONFIG SET client-query-buffer-limit 1gb\r\n"
        ),
        "-ERR CONFIG SET failed (possibly related to argument 'client-query-buffer-limit') - \
         argument must be between 1048576 and 3145728 inclusive\r\n"
    );
    assert_eq!(
        run(&mut conn, &mut fe, "CONFIG SET proto-max-bulk-len 1mb\r\n"),
        "+OK\r\n"
    );
    // Past the limit, the header alone closes the connection.
    assert_eq!(
        drive(&mut conn, &mut fe, &set_header(2 << 20)),
        (
            b"-ERR Protocol error: invalid bulk length\r\n".to_vec(),
            Flow::Close
        )
    );
    fe.disconnect(conn);
    assert_eq!(fe.clients_held(), 0);
}

/// A connection that stored a 60 kB value at `k` and reads it back
/// without taking the reply: its output waits.
fn waiting_reply(fe: &mut Fe, conn: &mut resp::Connection, limit: &str) -> Flow {
    let value = vec![b'v'; 60_000];
    assert_eq!(drive(conn, fe, &cmd(&[b"SET", b"k", &value])).0, b"+OK\r\n");
    let set = format!("CONFIG SET client-output-buffer-limit \"{limit}\"\r\n");
    assert_eq!(run(conn, fe, &set), "+OK\r\n");
    let mut flow = conn.feed(fe, b"GET k\r\n");
    while flow == Flow::Wait {
        fe.flush();
        flow = conn.feed(fe, &[]);
    }
    flow
}

#[test]
fn a_reply_past_the_hard_output_limit_closes_at_once() {
    let (mut fe, _) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(
        waiting_reply(&mut fe, &mut conn, "normal 50kb 0 0"),
        Flow::Close
    );
    assert!(conn.output().is_empty(), "the reply is dropped");
    assert_eq!(fe.stats().output_buffer_overflows, 1);
    // Under the limit, the same reply goes out.
    let mut other = connect(&mut fe);
    assert_eq!(
        waiting_reply(&mut fe, &mut other, "normal 100kb 0 0"),
        Flow::Continue
    );
    assert_eq!(other.output().len(), 60_000 + 10);
}

#[test]
fn a_reply_past_the_soft_output_limit_closes_once_it_lasts() {
    let (mut fe, hand) = frontend();
    let mut conn = connect(&mut fe);
    assert_eq!(
        waiting_reply(&mut fe, &mut conn, "normal 0 50kb 2"),
        Flow::Continue
    );
    hand.set(hand.get() + 2_000_000);
    assert_eq!(
        conn.feed(&mut fe, &[]),
        Flow::Continue,
        "2 s is not past 2 s"
    );
    hand.set(hand.get() + 1_000_000);
    assert_eq!(conn.feed(&mut fe, &[]), Flow::Close);
    assert_eq!(fe.stats().output_buffer_overflows, 1);
    // Output that drains below the soft limit starts the clock again.
    let mut reader = connect(&mut fe);
    assert_eq!(
        waiting_reply(&mut fe, &mut reader, "normal 0 50kb 2"),
        Flow::Continue
    );
    hand.set(hand.get() + 2_000_000);
    reader.consume(20_000);
    assert_eq!(reader.feed(&mut fe, &[]), Flow::Continue);
    hand.set(hand.get() + 2_000_000);
    assert_eq!(reader.feed(&mut fe, &[]), Flow::Continue);
    assert_eq!(fe.stats().output_buffer_overflows, 1);
}
