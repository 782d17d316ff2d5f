//! Blocking commands through the front end and the real kvs client: a
//! connection whose BLPOP waits sends nothing more, gets its reply when
//! another connection pushes (the front end learns of it from the
//! store's mail: `Frontend::woken`), when its timeout passes, or on
//! CLIENT UNBLOCK; what it pipelined behind runs after.

mod common;

use common::served::{Fe, setup};
use common::{connect, drive, run};
use kvs::{KvsServer, SharedBuf};
use libcap::rpc::Settle;
use resp::Flow;

/// The connections the front end wakes now, by id.
fn woken(fe: &mut Fe) -> Vec<u64> {
    fe.woken().collect()
}

#[test]
fn a_push_from_another_connection_serves_the_one_that_waits() {
    let (mut fe, _, _) = setup();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    let (out, flow) = drive(&mut a, &mut fe, b"BLPOP q 0\r\nPING\r\n");
    assert_eq!(
        (out.as_slice(), flow),
        (&b""[..], Flow::Continue),
        "it waits"
    );
    assert_eq!(woken(&mut fe), Vec::<u64>::new());
    assert!(run(&mut b, &mut fe, "INFO clients\r\n").contains("blocked_clients:1"));
    assert!(run(&mut b, &mut fe, "CLIENT LIST\r\n").contains(" flags=b "));
    assert_eq!(run(&mut b, &mut fe, "RPUSH q x y\r\n"), ":2\r\n");
    assert_eq!(woken(&mut fe), [a.id()]);
    assert_eq!(
        run(&mut a, &mut fe, ""),
        "*2\r\n$1\r\nq\r\n$1\r\nx\r\n+PONG\r\n",
        "its reply, then what it pipelined"
    );
    assert_eq!(woken(&mut fe), Vec::<u64>::new());
    assert!(run(&mut b, &mut fe, "INFO clients\r\n").contains("blocked_clients:0"));
    assert_eq!(
        run(&mut b, &mut fe, "LRANGE q 0 -1\r\n"),
        "*1\r\n$1\r\ny\r\n"
    );
}

#[test]
fn timeouts_and_client_unblock_answer_it() {
    let (mut fe, server, now) = setup();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(run(&mut a, &mut fe, "BZPOPMIN z 1.5\r\n"), "");
    // The server wakes on its own when the timeout passes.
    now.set(now.get() + 1500);
    Settle::woken(&mut *server.state_mut());
    assert_eq!(woken(&mut fe), [a.id()]);
    assert_eq!(run(&mut a, &mut fe, ""), "*-1\r\n");

    assert_eq!(run(&mut a, &mut fe, "BLMOVE s d LEFT LEFT 0\r\n"), "");
    let unblock = format!("CLIENT UNBLOCK {}\r\n", a.id());
    assert_eq!(run(&mut b, &mut fe, &unblock), ":1\r\n");
    assert_eq!(run(&mut b, &mut fe, &unblock), ":0\r\n", "answered already");
    assert_eq!(woken(&mut fe), [a.id()]);
    assert_eq!(run(&mut a, &mut fe, ""), "*-1\r\n", "BLMOVE's timeout too");

    assert_eq!(run(&mut a, &mut fe, "BRPOP l 0\r\n"), "");
    let unblock = format!("CLIENT UNBLOCK {} error\r\n", a.id());
    assert_eq!(run(&mut b, &mut fe, &unblock), ":1\r\n");
    assert_eq!(woken(&mut fe), [a.id()]);
    assert_eq!(
        run(&mut a, &mut fe, ""),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n"
    );
    for (line, reply) in [
        (
            "CLIENT UNBLOCK x\r\n",
            "-ERR value is not an integer or out of range\r\n",
        ),
        (
            "CLIENT UNBLOCK 1 later\r\n",
            "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n",
        ),
        ("CLIENT UNBLOCK 99\r\n", ":0\r\n"),
    ] {
        assert_eq!(run(&mut b, &mut fe, line), reply, "{line}");
    }
}

#[test]
fn inside_multi_it_does_not_wait_and_a_closed_connection_takes_nothing() {
    let (mut fe, _, _) = setup();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "MULTI\r\nBLPOP q 0\r\nEXEC\r\n"),
        "+OK\r\n+QUEUED\r\n*1\r\n*-1\r\n"
    );
    assert_eq!(run(&mut a, &mut fe, "BLPOP q 0\r\n"), "");
    fe.disconnect(a);
    fe.flush();
    assert_eq!(run(&mut b, &mut fe, "RPUSH q x\r\n"), ":1\r\n");
    assert_eq!(woken(&mut fe), Vec::<u64>::new());
    assert_eq!(run(&mut b, &mut fe, "LLEN q\r\n"), ":1\r\n");
}

#[test]
fn consumers_are_served_in_order_none_twice() {
    let (mut fe, _, _) = setup();
    let mut consumers: Vec<_> = (0..20).map(|_| connect(&mut fe)).collect();
    let mut producer = connect(&mut fe);
    for c in &mut consumers {
        assert_eq!(run(c, &mut fe, "BRPOP jobs 0\r\n"), "");
    }
    let mut push = String::from("LPUSH jobs");
    for i in 0..20 {
        push.push_str(&format!(" j{i}"));
    }
    push.push_str("\r\n");
    assert_eq!(run(&mut producer, &mut fe, &push), ":20\r\n");
    let ids: Vec<u64> = consumers.iter().map(|c| c.id()).collect();
    assert_eq!(woken(&mut fe), ids);
    for (i, c) in consumers.iter_mut().enumerate() {
        let job = format!("j{i}");
        assert_eq!(
            run(c, &mut fe, ""),
            format!("*2\r\n$4\r\njobs\r\n${}\r\n{job}\r\n", job.len()),
            "the first to wait gets the first pushed"
        );
    }
    assert_eq!(run(&mut producer, &mut fe, "EXISTS jobs\r\n"), ":0\r\n");
}

#[test]
fn a_store_restart_answers_the_waiting_connections_and_closes_them() {
    let (mut fe, server, _) = setup();
    let mut a = connect(&mut fe);
    assert_eq!(run(&mut a, &mut fe, "BLPOP q 0\r\n"), "");
    let (side, _) = {
        let mem: &'static mut [u8] = Box::leak(vec![0u8; 4096].into_boxed_slice());
        let base = mem.as_mut_ptr();
        // SAFETY: leaked, so mapped for ever; only the server uses it.
        unsafe { (SharedBuf::new(base, 4096).unwrap(), ()) }
    };
    server.restart(KvsServer::new(
        Box::new(|| 1_700_000_000_000u64) as Box<dyn FnMut() -> u64>,
        vec![("fe".into(), side)],
    ));
    assert_eq!(woken(&mut fe), [a.id()]);
    let (out, flow) = drive(&mut a, &mut fe, b"");
    assert_eq!(
        (String::from_utf8(out).unwrap().as_str(), flow),
        (
            "-ERR the key-value store restarted or cannot be reached; this connection's state is lost\r\n",
            Flow::Close
        )
    );
}
