//! CLIENT PAUSE as the component sees it: held connections show in INFO
//! and CLIENT LIST, the front end says when it is due to wake, a pause's
//! end wakes the held connections, and a held connection that goes is
//! forgotten. (What a pause holds is checked against Redis in
//! `pause_diff.rs`.)

mod common;

use common::*;

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} in {info}"))
        .to_string()
}

#[test]
fn held_connections_show_and_wake_when_the_pause_ends() {
    let (mut fe, hand) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(fe.due_us(), None);
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT PAUSE 250 WRITE\r\n"),
        "+OK\r\n"
    );
    // Nobody is held yet: nothing is due.
    assert_eq!(fe.due_us(), None);
    assert_eq!(run(&mut b, &mut fe, "SET k v\r\nGET k\r\n"), "");
    assert_eq!(fe.due_us(), Some(hand.get() / 1000 * 1000 + 250_000));
    let info = run(&mut a, &mut fe, "INFO clients\r\n");
    assert_eq!(field(&info, "blocked_clients"), "1");
    let list = run(&mut a, &mut fe, "CLIENT LIST\r\n");
    let line = list
        .lines()
        .find(|l| l.contains(&format!("id={} ", b.id())))
        .unwrap();
    assert!(
        line.contains(" flags=b ") && line.contains(" cmd=set "),
        "{line}"
    );
    // Not yet.
    hand.set(hand.get() + 200_000);
    assert_eq!(fe.woken().count(), 0);
    hand.set(hand.get() + 60_000);
    assert_eq!(fe.woken().collect::<Vec<_>>(), [b.id()]);
    assert_eq!(run(&mut b, &mut fe, ""), "+OK\r\n$1\r\nv\r\n");
    assert_eq!(fe.due_us(), None);
    let info = run(&mut a, &mut fe, "INFO clients\r\n");
    assert_eq!(field(&info, "blocked_clients"), "0");
}

#[test]
fn a_held_connection_that_goes_is_forgotten() {
    let (mut fe, _) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT PAUSE 10000 WRITE\r\n"),
        "+OK\r\n"
    );
    assert_eq!(run(&mut b, &mut fe, "DEL k\r\n"), "");
    fe.disconnect(b);
    let info = run(&mut a, &mut fe, "INFO clients\r\n");
    assert_eq!(field(&info, "blocked_clients"), "0");
    assert_eq!(fe.due_us(), None);
    assert_eq!(run(&mut a, &mut fe, "CLIENT UNPAUSE\r\n"), "+OK\r\n");
    assert_eq!(fe.woken().count(), 0);
}

/// CLIENT UNBLOCK does not end a pause's hold (Redis 7.0.15 crashes on
/// it; later versions refuse it too).
#[test]
fn unblock_leaves_a_held_connection_held() {
    let (mut fe, _) = frontend();
    let mut a = connect(&mut fe);
    let mut b = connect(&mut fe);
    assert_eq!(
        run(&mut a, &mut fe, "CLIENT PAUSE 10000 WRITE\r\n"),
        "+OK\r\n"
    );
    assert_eq!(run(&mut b, &mut fe, "SET k v\r\n"), "");
    let unblock = format!("CLIENT UNBLOCK {} ERROR\r\n", b.id());
    assert_eq!(run(&mut a, &mut fe, &unblock), ":0\r\n");
    assert_eq!(run(&mut b, &mut fe, ""), "");
    assert_eq!(run(&mut a, &mut fe, "CLIENT UNPAUSE\r\n"), "+OK\r\n");
    assert_eq!(fe.woken().collect::<Vec<_>>(), [b.id()]);
    assert_eq!(run(&mut b, &mut fe, ""), "+OK\r\n");
}
