//! Keyspace notifications through the front end and the real kvs client:
//! the store raises the events of every client's commands (and of
//! expiry), the front end takes them from its mail while some connection
//! listens, and publishes them to its subscribers.

mod common;

use common::served::{Fe, setup};
use common::{connect, run};
use libcap::rpc::Settle;

fn woken(fe: &mut Fe) -> Vec<u64> {
    fe.woken().collect()
}

#[test]
fn subscribers_hear_the_events_of_commands_and_expiry() {
    let (mut fe, server, now) = setup();
    let mut sub = connect(&mut fe);
    let mut c = connect(&mut fe);
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG SET notify-keyspace-events KEA\r\n"),
        "+OK\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CONFIG GET notify-keyspace-events\r\n"),
        "*2\r\n$22\r\nnotify-keyspace-events\r\n$3\r\nAKE\r\n"
    );
    assert_eq!(
        run(&mut sub, &mut fe, "PSUBSCRIBE __key*__:*\r\n"),
        "*3\r\n$10\r\npsubscribe\r\n$10\r\n__key*__:*\r\n:1\r\n"
    );
    assert!(woken(&mut fe).is_empty(), "asks for events, none yet");
    assert_eq!(run(&mut c, &mut fe, "SET k v PX 100\r\n"), "+OK\r\n");
    assert_eq!(woken(&mut fe), [sub.id()]);
    let heard = run(&mut sub, &mut fe, "");
    let messages: Vec<(&str, &str)> = [
        ("__keyspace@0__:k", "set"),
        ("__keyevent@0__:set", "k"),
        ("__keyspace@0__:k", "expire"),
        ("__keyevent@0__:expire", "k"),
    ]
    .to_vec();
    let mut wanted = String::new();
    for (channel, message) in &messages {
        wanted.push_str(&format!(
            "*4\r\n$8\r\npmessage\r\n$10\r\n__key*__:*\r\n${}\r\n{channel}\r\n${}\r\n{message}\r\n",
            channel.len(),
            message.len()
        ));
    }
    assert_eq!(heard, wanted);
    // Expiry with nobody asking: the server's own wake-up.
    now.set(now.get() + 101);
    Settle::woken(&mut *server.state_mut());
    assert_eq!(woken(&mut fe), [sub.id()]);
    let heard = run(&mut sub, &mut fe, "");
    assert!(
        heard.contains("__keyevent@0__:expired\r\n$1\r\nk\r\n"),
        "{heard}"
    );
    // Nobody listens: no more events are asked for.
    run(&mut sub, &mut fe, "PUNSUBSCRIBE\r\n");
    assert!(woken(&mut fe).is_empty());
    assert_eq!(run(&mut c, &mut fe, "SET k v\r\n"), "+OK\r\n");
    run(&mut sub, &mut fe, "SUBSCRIBE __keyevent@0__:del\r\n");
    assert!(woken(&mut fe).is_empty(), "the SET before is not heard");
    assert_eq!(run(&mut c, &mut fe, "DEL k\r\n"), ":1\r\n");
    assert_eq!(woken(&mut fe), [sub.id()]);
    assert_eq!(
        run(&mut sub, &mut fe, ""),
        "*3\r\n$7\r\nmessage\r\n$18\r\n__keyevent@0__:del\r\n$1\r\nk\r\n"
    );
}
