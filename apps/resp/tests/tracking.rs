//! Client-side caching through the front end and the real kvs client,
//! where the differential test does not go: flushes (which it leaves out,
//! the server being shared), the client list's flags and the table's
//! limit. The flushes' bytes are what Redis 7.0.15 sends for the same
//! steps; past the limit, Redis invalidates keys it picks at random, the
//! store the oldest.

mod common;

use common::served::{Fe, setup};
use common::{connect, run};

/// The connections the front end wakes now.
fn wake(fe: &mut Fe) {
    let _: Vec<u64> = fe.woken().collect();
}

#[test]
fn a_flush_invalidates_everything_for_every_tracking_connection() {
    let (mut fe, _, _) = setup();
    let mut resp3 = connect(&mut fe);
    let mut target = connect(&mut fe);
    let mut resp2 = connect(&mut fe);
    let mut writer = connect(&mut fe);
    run(&mut resp3, &mut fe, "HELLO 3\r\n");
    let target_id = target.id();
    assert_eq!(
        run(&mut target, &mut fe, "SUBSCRIBE __redis__:invalidate\r\n"),
        "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n"
    );
    let on = format!("CLIENT TRACKING on REDIRECT {target_id}\r\n");
    assert_eq!(run(&mut resp2, &mut fe, &on), "+OK\r\n");
    assert_eq!(
        run(
            &mut resp3,
            &mut fe,
            "CLIENT TRACKING on BCAST PREFIX nomatch\r\n"
        ),
        "+OK\r\n"
    );
    run(&mut resp2, &mut fe, "GET k\r\n");
    assert_eq!(run(&mut writer, &mut fe, "FLUSHALL\r\n"), "+OK\r\n");
    wake(&mut fe);
    assert_eq!(
        run(&mut resp3, &mut fe, "PING\r\n"),
        ">2\r\n$10\r\ninvalidate\r\n_\r\n+PONG\r\n",
        "BCAST whatever its prefixes: everything, as a null"
    );
    assert_eq!(
        run(&mut target, &mut fe, "PING\r\n"),
        "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n",
        "RESP2's redirection: a message with a nil"
    );
    assert_eq!(run(&mut resp2, &mut fe, "PING\r\n"), "+PONG\r\n");
    // What was read before the flush is forgotten.
    run(&mut writer, &mut fe, "SET k v\r\n");
    wake(&mut fe);
    assert_eq!(
        run(&mut target, &mut fe, "PING\r\n"),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
}

#[test]
fn the_client_list_shows_tracking() {
    let (mut fe, _, _) = setup();
    let mut a = connect(&mut fe);
    let b = connect(&mut fe);
    let on = format!("CLIENT TRACKING on BCAST REDIRECT {}\r\n", b.id());
    assert_eq!(run(&mut a, &mut fe, &on), "+OK\r\n");
    let line = run(&mut a, &mut fe, "CLIENT INFO\r\n");
    assert!(line.contains(" flags=tB "), "{line}");
    assert!(line.contains(&format!(" redir={} ", b.id())), "{line}");
    fe.disconnect(b);
    run(&mut a, &mut fe, "SET k v\r\n");
    wake(&mut fe);
    let line = run(&mut a, &mut fe, "CLIENT INFO\r\n");
    assert!(
        line.contains(" flags=tRB "),
        "the redirection is broken: {line}"
    );
    assert_eq!(run(&mut a, &mut fe, "CLIENT TRACKING off\r\n"), "+OK\r\n");
    let line = run(&mut a, &mut fe, "CLIENT INFO\r\n");
    assert!(
        line.contains(" flags=N ") && line.contains(" redir=-1 "),
        "{line}"
    );
}

#[test]
fn the_table_keeps_tracking_table_max_keys() {
    let (mut fe, _, _) = setup();
    let mut a = connect(&mut fe);
    let mut writer = connect(&mut fe);
    run(&mut a, &mut fe, "HELLO 3\r\n");
    assert_eq!(
        run(
            &mut writer,
            &mut fe,
            "CONFIG SET tracking-table-max-keys 2\r\n"
        ),
        "+OK\r\n"
    );
    run(&mut a, &mut fe, "CLIENT TRACKING on\r\n");
    run(&mut a, &mut fe, "MGET k1 k2\r\n");
    // A third key pushes the oldest out, which is invalidated at once.
    run(&mut a, &mut fe, "GET k3\r\n");
    wake(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "PING\r\n"),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk1\r\n+PONG\r\n"
    );
    run(&mut writer, &mut fe, "MSET k1 x k2 y k3 z\r\n");
    wake(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "PING\r\n"),
        ">2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk2\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$2\r\nk3\r\n+PONG\r\n"
    );
}
