//! Pub/Sub through the front end: messages reach subscribers that send
//! nothing (the glue feeds the connections `Frontend::woken` names),
//! subscribed mode's rules, RESET, and a slow subscriber cut off by
//! `client-output-buffer-limit`'s `pubsub` class.

mod common;

use common::*;
use resp::Flow;

#[test]
fn a_message_reaches_a_subscriber_that_sends_nothing() {
    let (mut fe, _) = frontend();
    let mut sub = connect(&mut fe);
    let mut publisher = connect(&mut fe);
    assert_eq!(
        run(&mut sub, &mut fe, "SUBSCRIBE news\r\n"),
        "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n"
    );
    assert_eq!(fe.woken().count(), 0);
    assert_eq!(
        run(&mut publisher, &mut fe, "PUBLISH news hi\r\n"),
        ":1\r\n"
    );
    assert_eq!(fe.woken().collect::<Vec<_>>(), [sub.id()]);
    // Fed nothing, it takes its mail.
    assert_eq!(
        run(&mut sub, &mut fe, ""),
        "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$2\r\nhi\r\n"
    );
    assert_eq!(fe.woken().count(), 0);
    assert_eq!(
        run(&mut publisher, &mut fe, "PUBLISH other x\r\n"),
        ":0\r\n"
    );
    assert_eq!(
        run(&mut publisher, &mut fe, "PUBSUB NUMSUB news other\r\n"),
        "*4\r\n$4\r\nnews\r\n:1\r\n$5\r\nother\r\n:0\r\n"
    );
    let list = run(&mut publisher, &mut fe, "CLIENT LIST\r\n");
    assert!(list.contains("flags=P db=0 sub=1 psub=0 ssub=0"), "{list}");
    // Gone: its subscription with it.
    fe.disconnect(sub);
    assert_eq!(
        run(&mut publisher, &mut fe, "PUBLISH news hi\r\n"),
        ":0\r\n"
    );
    assert_eq!(fe.woken().count(), 0);
}

#[test]
fn subscribed_mode_allows_only_its_commands_until_reset() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    run(&mut c, &mut fe, "PSUBSCRIBE n*\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "GET k\r\n"),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "GET\r\n"),
        "-ERR wrong number of arguments for 'get' command\r\n",
        "the arity error comes first"
    );
    assert_eq!(
        run(&mut c, &mut fe, "CLIENT LIST\r\n"),
        "-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "PING\r\n"),
        "*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    );
    assert_eq!(run(&mut c, &mut fe, "RESET\r\n"), "+RESET\r\n");
    assert_eq!(run(&mut c, &mut fe, "PING\r\n"), "+PONG\r\n");
    assert_eq!(run(&mut c, &mut fe, "SET k v\r\n"), "+OK\r\n");
    assert_eq!(run(&mut c, &mut fe, "PUBSUB NUMPAT\r\n"), ":0\r\n");
}

#[test]
fn reset_ends_the_transaction_and_the_name() {
    let (mut fe, _) = frontend();
    let mut c = connect(&mut fe);
    run(
        &mut c,
        &mut fe,
        "CLIENT SETNAME me\r\nSELECT 2\r\nSET k in2\r\nMULTI\r\nSET k x\r\n",
    );
    assert_eq!(run(&mut c, &mut fe, "RESET\r\n"), "+RESET\r\n");
    assert_eq!(run(&mut c, &mut fe, "CLIENT GETNAME\r\n"), "$-1\r\n");
    assert_eq!(
        run(&mut c, &mut fe, "EXEC\r\n"),
        "-ERR EXEC without MULTI\r\n"
    );
    assert_eq!(
        run(&mut c, &mut fe, "GET k\r\n"),
        "$-1\r\n",
        "database 0 again"
    );
    assert_eq!(
        run(&mut c, &mut fe, "SELECT 2\r\nGET k\r\n"),
        "+OK\r\n$3\r\nin2\r\n"
    );
}

#[test]
fn a_slow_subscriber_is_cut_off() {
    let (mut fe, _) = frontend();
    let mut publisher = connect(&mut fe);
    assert_eq!(
        run(
            &mut publisher,
            &mut fe,
            "CONFIG SET client-output-buffer-limit \"pubsub 1000 0 0\"\r\n"
        ),
        "+OK\r\n"
    );
    let mut slow = connect(&mut fe);
    run(&mut slow, &mut fe, "SUBSCRIBE c\r\n");
    let big = "x".repeat(600);
    let publish = format!(
        "*3\r\n$7\r\nPUBLISH\r\n$1\r\nc\r\n${}\r\n{big}\r\n",
        big.len()
    );
    assert_eq!(run(&mut publisher, &mut fe, &publish), ":1\r\n");
    assert_eq!(run(&mut publisher, &mut fe, &publish), ":1\r\n");
    // Nothing of it arrives: the connection closes.
    let (out, flow) = drive(&mut slow, &mut fe, b"");
    assert_eq!((out.len(), flow), (0, Flow::Close));
    let info = run(&mut publisher, &mut fe, "INFO clients\r\n");
    assert!(!info.is_empty());
}
