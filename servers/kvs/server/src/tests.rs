extern crate std;

use super::*;
use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::Cell;
use libcap::rpc::{Caller, Local, RpcError, Settle};

type Server = KvsServer<Box<dyn FnMut() -> u64>>;

/// Leaked host memory standing in for a region: the server's and the
/// client's view of the same bytes.
fn region(len: usize) -> (SharedBuf, SharedBuf) {
    let mem: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so mapped for ever; each side copies in and out only
    // while the other does not (the calls are synchronous).
    unsafe {
        (
            SharedBuf::new(base, len).expect("not null"),
            SharedBuf::new(base, len).expect("not null"),
        )
    }
}

fn server(regions: Vec<(String, SharedBuf)>) -> (Local<Server>, Rc<Cell<u64>>) {
    let now = Rc::new(Cell::new(1_000_000));
    let clock = now.clone();
    let s = KvsServer::new(
        Box::new(move || clock.get()) as Box<dyn FnMut() -> u64>,
        regions,
    );
    (Local::new(s, Server::rpc_dispatch), now)
}

#[test]
fn commands_round_trip_inline() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    assert_eq!(c.command(&[b"SET", b"k", b"v"]).unwrap(), b"+OK\r\n");
    assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), b"$1\r\nv\r\n");
    assert_eq!(c.command(&[b"GET", b"nope"]).unwrap(), b"$-1\r\n");
    assert_eq!(
        c.command(&[b"NOPE"]).unwrap()[..21],
        b"-ERR unknown command "[..]
    );
}

#[test]
fn the_inline_limits_are_what_fits_in_a_message() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    // The largest command that travels inline (tagged: INLINE_COMMAND).
    let n = (0..INLINE_COMMAND)
        .rev()
        .find(|&n| proto::encoded_len(&[b"SET", b"k", &vec![b'x'; n]]) <= INLINE_COMMAND)
        .unwrap();
    let value = vec![b'x'; n];
    assert_eq!(proto::encoded_len(&[b"SET", b"k", &value]), INLINE_COMMAND);
    assert_eq!(c.command(&[b"SET", b"k", &value]).unwrap(), b"+OK\r\n");
    // One byte more needs a region.
    let more = vec![b'x'; value.len() + 1];
    assert_eq!(c.command(&[b"SET", b"k", &more]), Err(Error::TooLarge));
    // The largest reply that travels inline: $<len>\r\n<bytes>\r\n.
    let half = vec![b'y'; (INLINE_REPLY - 8) / 2];
    c.command(&[b"SET", b"r", &half]).unwrap();
    c.command(&[b"APPEND", b"r", &half]).unwrap();
    assert_eq!(c.command(&[b"GET", b"r"]).unwrap().len(), INLINE_REPLY);
    c.command(&[b"APPEND", b"r", b"y"]).unwrap();
    assert_eq!(
        c.command(&[b"GET", b"r"]),
        Err(Error::Rpc(RpcError::Remote(NOT_ATTACHED)))
    );
}

#[test]
fn large_values_go_through_the_region() {
    let (server_side, client_side) = region(128 * 1024);
    let (s, _) = server(vec![("kvs-smoke-buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("kvs-smoke-buf", client_side))).unwrap();
    let big: Vec<u8> = (0..65536u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.command(&[b"SET", b"big", &big]).unwrap(), b"+OK\r\n");
    let reply = c.command(&[b"GET", b"big"]).unwrap();
    assert_eq!(&reply[..9], b"$65536\r\n\x00");
    assert_eq!(&reply[8..8 + big.len()], &big[..]);
    assert_eq!(c.command(&[b"STRLEN", b"big"]).unwrap(), b":65536\r\n");
    // Past the region: refused on the client side.
    let huge = vec![0u8; 128 * 1024];
    assert_eq!(c.command(&[b"SET", b"h", &huge]), Err(Error::TooLarge));
    // A reply past the region: the command ran, the reply is lost.
    c.command(&[b"SET", b"a", &big]).unwrap();
    c.command(&[b"APPEND", b"a", &big]).unwrap();
    assert_eq!(
        c.command(&[b"GET", b"a"]),
        Err(Error::Rpc(RpcError::Remote(REPLY_TOO_LARGE)))
    );
}

#[test]
fn a_region_belongs_to_one_client_at_a_time() {
    let (server_side, _) = region(8192);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let c = KvsClient::new(&s);
    s.set_badge(1);
    // The region less its control words.
    let room = (8192 - kvs_api::CONTROL_BYTES) as u64;
    assert_eq!(c.attach("buf"), Ok(room));
    assert_eq!(c.attach("buf"), Ok(room), "again by the same client");
    assert_eq!(c.attach("other"), Err(RpcError::Remote(NO_SUCH_REGION)));
    s.set_badge(2);
    assert_eq!(c.attach("buf"), Err(RpcError::Remote(REGION_TAKEN)));
    assert_eq!(c.exec_shared(4), Err(RpcError::Remote(NOT_ATTACHED)));
    s.set_badge(1);
    c.reset().unwrap();
    s.set_badge(2);
    assert_eq!(c.attach("buf"), Ok(room), "free after the owner's reset");
    assert_eq!(c.exec_shared(9000), Err(RpcError::Remote(BAD_REQUEST)));
    assert_eq!(c.exec(b"*1\r\n"), Err(RpcError::Remote(BAD_REQUEST)));
}

#[test]
fn each_badge_has_its_own_session() {
    let (s, _) = server(Vec::new());
    let c = KvsClient::new(&s);
    let run = |badge: u64, args: &[&[u8]]| {
        s.set_badge(badge);
        let mut request = Vec::new();
        proto::encode_command(args, &mut request);
        match c.exec(&request).unwrap() {
            Answer::Inline(bytes) => bytes.to_vec(),
            Answer::Shared(_) => panic!("a short reply in the region"),
        }
    };
    assert_eq!(run(1, &[b"SELECT", b"1"]), b"+OK\r\n");
    assert_eq!(run(1, &[b"SET", b"k", b"one"]), b"+OK\r\n");
    assert_eq!(run(2, &[b"GET", b"k"]), b"$-1\r\n", "client 2 is on db 0");
    assert_eq!(run(2, &[b"MULTI"]), b"+OK\r\n");
    assert_eq!(run(1, &[b"GET", b"k"]), b"$3\r\none\r\n", "not queued");
    assert_eq!(run(2, &[b"GET", b"k"]), b"+QUEUED\r\n");
    assert_eq!(s.state().sessions(), 2);
    // A reset drops client 2's transaction.
    s.set_badge(2);
    c.reset().unwrap();
    assert_eq!(s.state().sessions(), 1);
    assert_eq!(run(2, &[b"EXEC"]), b"-ERR EXEC without MULTI\r\n");
}

#[test]
fn keys_expire_with_the_clock_and_actively() {
    let (s, now) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    for i in 0..10u8 {
        c.command(&[b"SET", &[b'k', i], b"v", b"PX", b"50"])
            .unwrap();
    }
    assert_eq!(c.command(&[b"PTTL", b"k\x00"]).unwrap(), b":50\r\n");
    now.set(now.get() + EXPIRE_INTERVAL_MS);
    // The next request runs active expiry before the command.
    assert_eq!(c.command(&[b"DBSIZE"]).unwrap(), b":0\r\n");
    assert_eq!(s.state().store().dbsize(0), 0);
}

#[test]
fn a_restart_is_reported_once_and_the_connection_sets_up_again() {
    let (server_side, client_side) = region(8192);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    c.command(&[b"SET", b"k", b"v"]).unwrap();
    let (again, _) = region(8192);
    let mut restarted = KvsServer::new(
        Box::new(|| 0u64) as Box<dyn FnMut() -> u64>,
        vec![("buf".into(), again)],
    );
    restarted.set_lineage(2, None);
    s.restart(restarted);
    // The server the command was meant for is gone: it does not run in
    // the new one (its session is not there), and says so.
    assert_eq!(
        c.command(&[b"SET", b"k", b"new"]),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        })
    );
    assert_eq!(c.generation(), 2);
    assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), b"$-1\r\n");
    assert_eq!(s.state().sessions(), 1, "attached again");
}

#[test]
fn requests_parse_strictly() {
    use proto::parse_command;
    for bad in [
        &b""[..],
        b"*",
        b"*1\r\n",
        b"*1\r\n$1\r\nab\r\n",
        b"*1\r\n$2\r\nab",
        b"*1\r\n$-1\r\n",
        b"*2\r\n$1\r\na\r\n",
        b"*1\n$1\r\na\r\n",
        b"*99999999999999999999\r\n",
        b"*1\r\n$+1\r\na\r\n",
        b"PING\r\n",
    ] {
        assert_eq!(parse_command(bad), None, "{bad:?}");
    }
    let mut wire = Vec::new();
    let args: [&[u8]; 3] = [b"SET", b"", b"a\r\nb"];
    proto::encode_command(&args, &mut wire);
    assert_eq!(wire.len(), proto::encoded_len(&args));
    assert_eq!(parse_command(&wire).unwrap(), args);
}

#[test]
fn a_reserved_region_can_only_be_attached_by_its_peer() {
    let (server_side, _) = region(8192);
    let now = Rc::new(Cell::new(1_000_000u64));
    let clock = now.clone();
    let mut kvs = KvsServer::new(
        Box::new(move || clock.get()) as Box<dyn FnMut() -> u64>,
        vec![("buf".into(), server_side)],
    );
    kvs.reserve("buf", 2);
    let s = Local::new(kvs, Server::rpc_dispatch);
    let c = KvsClient::new(&s);
    s.set_badge(1);
    assert_eq!(
        c.attach("buf"),
        Err(RpcError::Remote(REGION_TAKEN)),
        "not its region"
    );
    s.set_badge(2);
    let room = (8192 - kvs_api::CONTROL_BYTES) as u64;
    assert_eq!(c.attach("buf"), Ok(room), "the peer init named");
}

#[test]
fn one_client_keeps_many_sessions() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    // Each session has its own database and transaction.
    assert_eq!(c.command_in(1, &[b"SELECT", b"3"]).unwrap(), b"+OK\r\n");
    assert_eq!(
        c.command_in(1, &[b"SET", b"k", b"one"]).unwrap(),
        b"+OK\r\n"
    );
    assert_eq!(c.command_in(2, &[b"GET", b"k"]).unwrap(), b"$-1\r\n");
    assert_eq!(c.command_in(2, &[b"MULTI"]).unwrap(), b"+OK\r\n");
    assert_eq!(
        c.command_in(2, &[b"SET", b"k", b"two"]).unwrap(),
        b"+QUEUED\r\n"
    );
    assert_eq!(
        c.command_in(3, &[b"SET", b"k", b"three"]).unwrap(),
        b"+OK\r\n"
    );
    assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), b"$5\r\nthree\r\n");
    assert_eq!(s.state().sessions(), 4);
    // Ending a session drops its transaction and its database choice.
    c.end(2).unwrap();
    assert_eq!(
        c.command_in(2, &[b"EXEC"]).unwrap(),
        b"-ERR EXEC without MULTI\r\n"
    );
    c.end(1).unwrap();
    assert_eq!(
        c.command_in(1, &[b"GET", b"k"]).unwrap(),
        b"$5\r\nthree\r\n"
    );
    c.end(99).unwrap();
}

#[test]
fn sessions_per_client_are_bounded() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    for i in 0..MAX_SESSIONS as u64 {
        c.command_in(i, &[b"PING"]).unwrap();
    }
    assert_eq!(
        c.command_in(MAX_SESSIONS as u64, &[b"PING"]),
        Err(Error::Rpc(RpcError::Remote(TOO_MANY_SESSIONS)))
    );
    c.end(5).unwrap();
    assert_eq!(
        c.command_in(MAX_SESSIONS as u64, &[b"PING"]).unwrap(),
        b"+PONG\r\n"
    );
}

/// A server with persistence on a RAM disk, `fsync = always`.
fn persistent() -> (Local<Server>, Rc<Cell<u64>>) {
    use crate::persist::{Fsync, Log, Persistence, SectorDevice, ramdisk::RamDisk};
    let (s, now) = server(Vec::new());
    let mut store = kvs_core::Store::new();
    let device: Box<dyn SectorDevice> = Box::new(RamDisk::new(200));
    let (log, _) = Log::open(device, &mut store, 1).unwrap();
    s.state_mut().persist(Persistence::new(log, Fsync::Always));
    (s, now)
}

#[test]
fn save_and_bgsave_compact_the_log() {
    let (s, now) = persistent();
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    // Before any compaction, LASTSAVE is the server's start (1,000 s).
    assert_eq!(c.command(&[b"LASTSAVE"]).unwrap(), b":1000\r\n");
    for i in 0..50u32 {
        c.command(&[b"SET", b"k", alloc::format!("{i}").as_bytes()])
            .unwrap();
    }
    let size = |c: &mut Connection<&Local<Server>>| -> u64 {
        // What serve_held does before it answers: the log written.
        assert_eq!(libcap::rpc::Settle::settle(&mut *s.state_mut()), Ok(()));
        let info = String::from_utf8(c.command(&[b"INFO", b"persistence"]).unwrap()).unwrap();
        let field = info.split("aof_current_size:").nth(1).unwrap();
        field.split('\r').next().unwrap().parse().unwrap()
    };
    let before = size(&mut c);
    now.set(2_000_000);
    assert_eq!(c.command(&[b"SAVE"]).unwrap(), b"+OK\r\n");
    let after = size(&mut c);
    assert!(
        after < before,
        "the 50 SETs are one now: {before} then {after}"
    );
    assert_eq!(c.command(&[b"LASTSAVE"]).unwrap(), b":2000\r\n");
    assert_eq!(
        c.command(&[b"BGSAVE"]).unwrap(),
        b"+Background saving started\r\n"
    );
    assert_eq!(
        c.command(&[b"BGREWRITEAOF"]).unwrap(),
        b"-ERR Background append only file rewriting already in progress\r\n"
    );
    assert_eq!(
        c.command(&[b"BGSAVE", b"SCHEDULE"]).unwrap(),
        b"+Background saving scheduled\r\n"
    );
    assert_eq!(
        c.command(&[b"BGSAVE", b"x"]).unwrap(),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(
        c.command(&[b"SAVE", b"x"]).unwrap(),
        b"-ERR wrong number of arguments for 'save' command\r\n"
    );
    // Changes carry the background compaction to its end.
    now.set(3_000_000);
    for _ in 0..20 {
        c.command(&[b"SET", b"k", b"v"]).unwrap();
    }
    assert_eq!(c.command(&[b"LASTSAVE"]).unwrap(), b":3000\r\n");
    // Inside MULTI they are queued, but EXEC cannot run them.
    c.command(&[b"MULTI"]).unwrap();
    assert_eq!(c.command(&[b"LASTSAVE"]).unwrap(), b"+QUEUED\r\n");
    assert!(
        c.command(&[b"EXEC"])
            .unwrap()
            .starts_with(b"*1\r\n-ERR LASTSAVE runs outside MULTI only")
    );
    // SAVE is refused there, as in Redis.
    c.command(&[b"MULTI"]).unwrap();
    assert_eq!(
        c.command(&[b"SAVE"]).unwrap(),
        b"-ERR Command not allowed inside a transaction\r\n"
    );
    assert!(c.command(&[b"EXEC"]).unwrap().starts_with(b"-EXECABORT"));
    // Without a disk there is nothing to save to.
    let (plain, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&plain), None).unwrap();
    assert!(
        c.command(&[b"BGSAVE"])
            .unwrap()
            .starts_with(b"-ERR the store keeps no log")
    );
    assert_eq!(c.command(&[b"LASTSAVE"]).unwrap(), b":1000\r\n");
}

#[test]
fn under_always_replies_are_held_until_the_flush() {
    use libcap::rpc::Settle;
    let (s, _) = persistent();
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    assert!(!s.state_mut().hold(), "reset changes nothing");
    c.command(&[b"GET", b"k"]).unwrap();
    assert!(
        !s.state_mut().hold(),
        "a read with nothing pending goes out"
    );
    c.command(&[b"SET", b"k", b"v"]).unwrap();
    assert!(s.state_mut().hold());
    c.command_in(7, &[b"GET", b"k"]).unwrap();
    assert!(
        s.state_mut().hold(),
        "a read that may have seen it waits too"
    );
    assert_eq!(s.state_mut().settle(), Ok(()));
    assert!(!s.state_mut().hold());
}

#[test]
fn a_batch_runs_in_order_in_one_call() {
    let (server_side, client_side) = region(64 * 1024);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    let mut batch = Vec::new();
    for args in [
        &[&b"SET"[..], b"k", b"1"][..],
        &[b"INCR", b"k"],
        &[b"MULTI"],
        &[b"INCR", b"k"],
        &[b"EXEC"],
        &[b"GET", b"k"],
    ] {
        proto::encode_command(args, &mut batch);
    }
    assert_eq!(
        c.batch_in(4, &batch).unwrap(),
        b"+OK\r\n:2\r\n+OK\r\n+QUEUED\r\n*1\r\n:3\r\n$1\r\n3\r\n"
    );
    // Through the region, with replies past the message words.
    let mut big = Vec::new();
    for i in 0..300 {
        proto::encode_command(
            &[b"SET", format!("key{i}").as_bytes(), &[b'x'; 40]],
            &mut big,
        );
        proto::encode_command(&[b"GET", format!("key{i}").as_bytes()], &mut big);
    }
    let replies = c.batch_in(4, &big).unwrap();
    assert_eq!(replies.len(), 300 * (5 + 5 + 40 + 2));
    // A malformed batch runs nothing.
    let mut bad = Vec::new();
    proto::encode_command(&[b"SET", b"k", b"new"], &mut bad);
    bad.extend_from_slice(b"*1\r\n$3\r\nGE");
    assert_eq!(
        c.batch_in(4, &bad),
        Err(Error::Rpc(RpcError::Remote(BAD_REQUEST)))
    );
    assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), b"$1\r\n3\r\n");
    // Two commands are not one.
    let mut two = Vec::new();
    proto::encode_command(&[b"PING"], &mut two);
    proto::encode_command(&[b"PING"], &mut two);
    assert_eq!(
        c.request(&two),
        Err(Error::Rpc(RpcError::Remote(BAD_REQUEST)))
    );
}

/// A round's request: `(session, args)` entries.
fn round_of(entries: &[(u64, &[&[u8]])]) -> Vec<u8> {
    let mut round = Vec::new();
    for (session, args) in entries {
        let mut cmd = Vec::new();
        proto::encode_command(args, &mut cmd);
        proto::push_round_entry(*session, &cmd, &mut round);
    }
    round
}

/// `replies` split into single replies.
fn split_replies(mut replies: &[u8]) -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    while !replies.is_empty() {
        let n = proto::reply_len(replies).expect("whole replies");
        all.push(replies[..n].to_vec());
        replies = &replies[n..];
    }
    all
}

#[test]
fn a_round_runs_commands_of_many_sessions_in_order() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    let round = round_of(&[
        (1, &[b"SET", b"k", b"1"]),
        (2, &[b"MULTI"]),
        (3, &[b"SELECT", b"1"]),
        (2, &[b"INCR", b"k"]),
        (3, &[b"GET", b"k"]),
        (1, &[b"INCR", b"k"]),
        (2, &[b"EXEC"]),
        (1, &[b"GET", b"k"]),
    ]);
    let mut replies = Vec::new();
    c.round(&round, &mut replies).unwrap();
    let want: [&[u8]; 8] = [
        b"+OK\r\n",
        b"+OK\r\n",
        b"+OK\r\n",
        b"+QUEUED\r\n",
        b"$-1\r\n",
        b":2\r\n",
        b"*1\r\n:3\r\n",
        b"$1\r\n3\r\n",
    ];
    assert_eq!(split_replies(&replies), want.map(<[u8]>::to_vec));
    // The sessions live on: 3 is still in database 1.
    assert_eq!(c.command_in(3, &[b"GET", b"k"]).unwrap(), b"$-1\r\n");
    // A malformed round runs nothing.
    let mut bad = round_of(&[(1, &[b"SET", b"k", b"new"])]);
    bad.extend_from_slice(&[1, 0, 0]);
    assert_eq!(c.round(&bad, &mut replies), Err(Error::BadRound));
    assert_eq!(
        c.client().exec_round(&bad),
        Err(RpcError::Remote(BAD_REQUEST))
    );
    assert_eq!(c.command_in(1, &[b"GET", b"k"]).unwrap(), b"$1\r\n3\r\n");
}

#[test]
fn replies_that_outgrow_the_region_come_in_later_calls_each_once() {
    let (server_side, client_side) = region(1024);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    let value = [b'v'; 300];
    let set_big: [&[u8]; 3] = [b"SET", b"big", &value];
    let mut entries: Vec<(u64, &[&[u8]])> = vec![(9, &set_big)];
    // Ten 307-byte replies, each with a counter that shows it ran once.
    for session in 0..10u64 {
        entries.push((session, &[b"INCR", b"n"]));
        entries.push((session, &[b"GET", b"big"]));
    }
    // A reply larger than the region: an error stands for it.
    entries.push((4, &[b"SETRANGE", b"huge", b"1999", b"h"]));
    entries.push((4, &[b"GET", b"huge"]));
    // A command larger than the region: it does not run.
    let huge = [b'h'; 2000];
    let set_huge: [&[u8]; 3] = [b"SET", b"other", &huge];
    entries.push((4, &set_huge));
    entries.push((4, &[b"INCR", b"n"]));
    entries.push((4, &[b"EXISTS", b"other"]));
    let round = round_of(&entries);
    let mut replies = Vec::new();
    c.round(&round, &mut replies).unwrap();
    let replies = split_replies(&replies);
    assert_eq!(replies.len(), entries.len());
    assert_eq!(replies[0], b"+OK\r\n");
    let mut big = b"$300\r\n".to_vec();
    big.extend_from_slice(&value);
    big.extend_from_slice(b"\r\n");
    for i in 0..10 {
        assert_eq!(replies[1 + 2 * i], format!(":{}\r\n", i + 1).into_bytes());
        assert_eq!(replies[2 + 2 * i], big);
    }
    assert_eq!(replies[21], b":2000\r\n");
    assert!(replies[22].starts_with(b"-ERR the reply is larger than the client's shared region"));
    assert!(replies[23].starts_with(b"-ERR the command is larger than the client's shared region"));
    assert_eq!(replies[24], b":11\r\n");
    assert_eq!(replies[25], b":0\r\n");
}

/// The responses of a round of memcached calls' answer (`None`: too
/// large).
fn mc_answers(answers: &[u8]) -> Vec<Option<kvs_api::mc::Response>> {
    kvs_api::mc_round::answers(answers)
        .expect("an answer")
        .into_iter()
        .map(|a| a.map(|bytes| kvs_api::mc::Response::decode(bytes).expect("a response")))
        .collect()
}

#[test]
fn a_round_of_memcached_calls_runs_in_order_across_calls() {
    use kvs_api::mc::{Arith, Mode, Request, Response, StoreOutcome, StoreRequest};
    use kvs_api::mc_round::push_entry;
    let (server_side, client_side) = region(1024);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    let store = |key: &'static [u8], value: &'static [u8]| {
        Request::Store(StoreRequest {
            mode: Mode::Set,
            key,
            value,
            flags: 7,
            exptime: 0,
            cas: 0,
            invalidate: false,
        })
    };
    let incr = Request::Arith(
        b"n",
        Arith {
            incr: true,
            delta: 1,
            cas: 0,
            vivify: None,
            touch: None,
            vivify_after_touch: false,
        },
    );
    static VALUE: [u8; 300] = [b'v'; 300];
    static HUGE: [u8; 2000] = [b'h'; 2000];
    let mut request = Vec::new();
    push_entry(&mut request, &store(b"n", b"0"));
    push_entry(&mut request, &store(b"big", &VALUE));
    // Ten responses of 300 bytes and more: more than the region holds,
    // so the round goes on in later calls, each call run once.
    for _ in 0..10 {
        push_entry(&mut request, &incr);
        push_entry(
            &mut request,
            &Request::Get {
                keys: vec![b"big"],
                touch: None,
            },
        );
    }
    // A call too large to travel does not run; a response larger than
    // the region is answered too large.
    push_entry(&mut request, &store(b"huge", &HUGE));
    push_entry(
        &mut request,
        &Request::Get {
            keys: vec![b"big", b"big", b"big", b"big"],
            touch: None,
        },
    );
    push_entry(&mut request, &incr);
    push_entry(
        &mut request,
        &Request::Get {
            keys: vec![b"huge"],
            touch: None,
        },
    );
    let mut answers = Vec::new();
    assert_eq!(c.mc_round(&request, &mut answers, usize::MAX).unwrap(), 26);
    let got = mc_answers(&answers);
    assert_eq!(got.len(), 26);
    assert!(matches!(
        got[0],
        Some(Response::Stored(StoreOutcome::Stored(_)))
    ));
    for i in 0..10 {
        let Some(Response::Arith(kvs_api::mc::ArithOutcome::Value { value, .. })) = got[2 + 2 * i]
        else {
            panic!("{:?}", got[2 + 2 * i]);
        };
        assert_eq!(value, i as u64 + 1);
        let Some(Response::Values(Some(values))) = &got[3 + 2 * i] else {
            panic!("{:?}", got[3 + 2 * i]);
        };
        assert_eq!(values[0].as_ref().unwrap().data, VALUE);
    }
    assert_eq!(got[22], None);
    assert_eq!(got[23], None);
    let Some(Response::Arith(kvs_api::mc::ArithOutcome::Value { value: 11, .. })) = got[24] else {
        panic!("{:?}", got[24]);
    };
    assert_eq!(got[25], Some(Response::Values(Some(vec![None]))));
    // A round that is not one runs nothing.
    let mut bad = Vec::new();
    push_entry(&mut bad, &incr);
    bad.extend_from_slice(&[9, 0, 0, 0, 1]);
    assert_eq!(
        c.mc_round(&bad, &mut Vec::new(), usize::MAX),
        Err(Error::BadRound)
    );
    // … and neither does one with a call the server cannot decode.
    let mut bad = Vec::new();
    push_entry(&mut bad, &incr);
    bad.extend_from_slice(&[1, 0, 0, 0, 0xff]);
    assert_eq!(
        c.mc_round(&bad, &mut Vec::new(), usize::MAX),
        Err(Error::Rpc(RpcError::Remote(kvs_api::BAD_REQUEST)))
    );
    let mut one = Vec::new();
    push_entry(&mut one, &incr);
    let mut answers = Vec::new();
    c.mc_round(&one, &mut answers, usize::MAX).unwrap();
    let Some(Response::Arith(kvs_api::mc::ArithOutcome::Value { value: 12, .. })) =
        mc_answers(&answers)[0]
    else {
        panic!();
    };
}

#[test]
fn reply_lengths_cover_every_resp2_kind() {
    for (bytes, len) in [
        (&b"+OK\r\n"[..], Some(5)),
        (b"-ERR x\r\n", Some(8)),
        (b":-12\r\n", Some(6)),
        (b"$-1\r\n", Some(5)),
        (b"$0\r\n\r\n", Some(6)),
        (b"*-1\r\n", Some(5)),
        (b"*0\r\n", Some(4)),
        (b"*2\r\n*1\r\n:1\r\n$2\r\nab\r\n+rest", Some(20)),
        (b"$2\r\nabc\r\n", None),
        (b"*2\r\n:1\r\n", None),
        (b"$99999999999999999999\r\n", None),
        (b"*99999999999\r\n", None),
        (b"?\r\n", None),
        (b"", None),
    ] {
        assert_eq!(
            proto::reply_len(bytes),
            len,
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn info_reports_memory_and_the_log() {
    let (s, _) = persistent();
    // The store's third start: commands run only on the generation the
    // RPC layer reports.
    for _ in 0..2 {
        let blank = KvsServer::new(Box::new(|| 0u64) as Box<dyn FnMut() -> u64>, Vec::new());
        let state = core::mem::replace(&mut *s.state_mut(), blank);
        s.restart(state);
    }
    s.state_mut().set_memory(|| 4096, || 5000, 1 << 20);
    s.state_mut()
        .set_lineage(3, Some("page fault at 0x4000, address 0x0, code 0x4"));
    s.state_mut().configure("maxmemory", "1mb").unwrap();
    s.state_mut()
        .configure("maxmemory-policy", "allkeys-lru")
        .unwrap();
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    c.command(&[b"SET", b"k", b"v"]).unwrap();
    // What serve_held does before it answers.
    assert_eq!(libcap::rpc::Settle::settle(&mut *s.state_mut()), Ok(()));
    let text = |reply: Vec<u8>| String::from_utf8(reply).unwrap();
    let all = text(c.command(&[b"INFO"]).unwrap());
    assert!(all.starts_with('$'), "{all}");
    for field in [
        "# Server\r\nbasalt_generation:3\r\nbasalt_restarts:2\r\n\
         basalt_last_exit:page fault at 0x4000, address 0x0, code 0x4\r\n",
        "# Memory\r\nused_memory:4096\r\nmem_fragmentation_ratio:1.22\r\n\
         maxmemory:1048576\r\nmaxmemory_policy:allkeys-lru\r\n",
        "# Persistence\r\naof_enabled:1\r\naof_rewrite_in_progress:0\r\n",
        "aof_last_write_status:ok\r\naof_fsync:always\r\n",
        "# Stats\r\nevicted_keys:0\r\n",
    ] {
        assert!(all.contains(field), "{field:?} in {all}");
    }
    let size: u64 = all
        .split("aof_current_size:")
        .nth(1)
        .and_then(|r| r.split('\r').next())
        .and_then(|n| n.parse().ok())
        .expect("aof_current_size");
    assert!(size > 0, "the SET is in the log");
    let memory = text(c.command(&[b"info", b"MEMORY"]).unwrap());
    assert!(
        memory.contains("used_memory:4096") && !memory.contains("aof_"),
        "{memory}"
    );
    assert_eq!(c.command(&[b"INFO", b"nosuch"]).unwrap(), b"$0\r\n\r\n");
    // Without a disk or a gauge.
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    let bare = text(c.command(&[b"INFO"]).unwrap());
    assert!(
        bare.contains(
            "# Memory\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\n\r\n# Persistence"
        ),
        "{bare}"
    );
    assert!(bare.contains("aof_enabled:0"), "{bare}");
}

/// A clock whose TSC counts a thousand ticks a millisecond.
struct TickingClock(Rc<Cell<u64>>);

impl Clock for TickingClock {
    fn now_ms(&mut self) -> u64 {
        self.0.get()
    }

    fn tsc_at_ms(&self, ms: u64) -> Option<u64> {
        ms.checked_mul(1000)
    }
}

#[test]
fn an_idle_server_wakes_to_expire_keys() {
    let now = Rc::new(Cell::new(1_000_000));
    let mut s = KvsServer::new(TickingClock(now.clone()), Vec::new());
    let caller = Caller { badge: 1 };
    let run = |s: &mut KvsServer<TickingClock>, args: &[&[u8]]| {
        let mut wire = Vec::new();
        proto::encode_command(args, &mut wire);
        s.exec(caller, &wire).unwrap()
    };
    assert_eq!(Settle::wake_at(&s), None, "nothing to wait for");
    run(&mut s, &[b"SET", b"soon", b"v", b"PX", b"100"]);
    run(&mut s, &[b"SET", b"later", b"v", b"PX", b"5000"]);
    run(&mut s, &[b"SET", b"never", b"v"]);
    assert_eq!(
        Settle::wake_at(&s),
        Some((1_000_000 + 100 + 1) * 1000),
        "just after the first expiry"
    );
    now.set(1_000_101);
    Settle::woken(&mut s);
    assert_eq!(s.store().dbsize(0), 2, "gone with no request");
    assert_eq!(Settle::wake_at(&s), Some((1_000_000 + 5000 + 1) * 1000));
    now.set(1_005_001);
    Settle::woken(&mut s);
    assert_eq!(s.store().dbsize(0), 1);
    assert_eq!(Settle::wake_at(&s), None);
}

#[test]
fn debug_segfault_only_when_enabled() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    let refused = format!("-{}\r\n", crate::DEBUG_NOT_ALLOWED).into_bytes();
    assert_eq!(c.command(&[b"DEBUG", b"SEGFAULT"]).unwrap(), refused);
    assert_eq!(c.command(&[b"debug", b"help"]).unwrap(), refused);
    s.state_mut().enable_debug(|| panic!("faulted on purpose"));
    assert!(
        c.command(&[b"DEBUG", b"HELP"])
            .unwrap()
            .starts_with(b"*5\r\n+DEBUG <subcommand>")
    );
    assert_eq!(
        c.command(&[b"DEBUG", b"nope"]).unwrap(),
        b"-ERR unknown subcommand 'nope'. Try DEBUG HELP.\r\n"
    );
    assert_eq!(
        c.command(&[b"DEBUG"]).unwrap(),
        b"-ERR wrong number of arguments for 'debug' command\r\n"
    );
    let crashed = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| {
        c.command(&[b"DEBUG", b"SEGFAULT"])
    }));
    assert!(crashed.is_err(), "DEBUG SEGFAULT runs the crash");
}

/// A RAM disk the test and the server instances on it share: a crash of
/// the server leaves what it wrote (a crash, not a power cut).
#[derive(Clone, Debug)]
struct SharedDisk(Rc<core::cell::RefCell<crate::persist::ramdisk::RamDisk>>);

impl SharedDisk {
    /// An all-zero disk of `sectors`.
    fn new(sectors: u64) -> Self {
        SharedDisk(Rc::new(core::cell::RefCell::new(
            crate::persist::ramdisk::RamDisk::new(sectors),
        )))
    }
}

impl crate::persist::SectorDevice for SharedDisk {
    fn sectors(&self) -> u64 {
        self.0.borrow().sectors()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), crate::persist::DeviceError> {
        self.0.borrow_mut().read(sector, buf)
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), crate::persist::DeviceError> {
        self.0.borrow_mut().write(sector, data)
    }
    fn flush(&mut self) -> Result<(), crate::persist::DeviceError> {
        self.0.borrow_mut().flush()
    }
}

/// How `DEBUG SEGFAULT` "faults" a server on the host: a panic, which
/// [`Crashing`] turns into a crash.
fn panic_on_purpose() -> ! {
    panic!("DEBUG SEGFAULT")
}

/// Server generation `generation` on `disk` (`fsync = always`), its log
/// replayed, `DEBUG SEGFAULT` enabled.
fn on_disk(disk: &SharedDisk, generation: u64) -> Server {
    use crate::persist::{Fsync, Log, Persistence, SectorDevice};
    let mut store = kvs_core::Store::new();
    let device: Box<dyn SectorDevice> = Box::new(disk.clone());
    let (log, _) = Log::open(device, &mut store, generation).unwrap();
    let clock = Box::new(|| 1_000_000u64) as Box<dyn FnMut() -> u64>;
    let mut s = KvsServer::with_store(store, clock, Vec::new());
    s.set_lineage(generation, None);
    s.enable_debug(panic_on_purpose);
    s.persist(Persistence::new(log, Fsync::Always));
    s
}

/// The transport to a server that crashes: a call during which it
/// panics fails as a crash does (the kernel aborts it), and `init` has
/// started the next generation on the same disk.
struct Crashing<'a> {
    local: &'a Local<Server>,
    disk: SharedDisk,
    /// The server crashes after the next call, once its changes are
    /// written, before its reply.
    after: Cell<bool>,
}

impl<'a> Crashing<'a> {
    /// The transport to `local`, whose next generations start on `disk`.
    fn new(local: &'a Local<Server>, disk: &SharedDisk) -> Self {
        Crashing {
            local,
            disk: disk.clone(),
            after: Cell::new(false),
        }
    }

    fn crash(&self) -> Result<u64, libcap::Error> {
        let local = self.local;
        local.restart(on_disk(&self.disk, local.generation() + 1));
        Err(libcap::Error::Aborted)
    }
}

impl libcap::rpc::Transport for Crashing<'_> {
    fn call(&self, label: u64, words: &mut libcap::rpc::Encoder) -> Result<u64, libcap::Error> {
        let local = self.local;
        let call =
            std::panic::AssertUnwindSafe(|| libcap::rpc::Transport::call(local, label, words));
        match std::panic::catch_unwind(call) {
            Ok(_) if self.after.take() => {
                // What the server does before it replies (group commit:
                // `serve_held`), then the crash.
                let _ = libcap::rpc::Settle::settle(&mut *local.state_mut());
                self.crash()
            }
            Ok(answer) => answer,
            Err(_) => self.crash(),
        }
    }
}

#[test]
fn a_crash_during_a_round_tells_which_commands_took_effect() {
    let disk = SharedDisk::new(400);
    let local = Local::new(on_disk(&disk, 1), Server::rpc_dispatch);
    let transport = Crashing::new(&local, &disk);
    let mut c = Connection::open(KvsClient::new(transport), None).unwrap();
    assert_eq!(c.generation(), 1);
    let mut replies = Vec::new();
    c.round(&round_of(&[(1, &[b"SET", b"a", b"1"])]), &mut replies)
        .unwrap();
    assert_eq!(replies, b"+OK\r\n");
    // Two changes and a read take effect before the fault; what follows
    // it never runs.
    let request = round_of(&[
        (1, &[b"INCR", b"n"]),
        (2, &[b"GET", b"a"]),
        (1, &[b"SET", b"b", b"2"]),
        (2, &[b"DEBUG", b"SEGFAULT"]),
        (1, &[b"SET", b"c", b"3"]),
    ]);
    replies.clear();
    assert_eq!(
        c.round(&request, &mut replies),
        Err(Error::Interrupted {
            replied: 0,
            applied: 3
        })
    );
    assert_eq!(c.generation(), 2, "set up with the new server");
    assert_eq!(
        c.command(&[b"MGET", b"a", b"b", b"c", b"n"]).unwrap(),
        b"*4\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$1\r\n1\r\n"
    );
    // A fault before any change: nothing took effect.
    let request = round_of(&[(3, &[b"DEBUG", b"SEGFAULT"]), (3, &[b"SET", b"d", b"4"])]);
    assert_eq!(
        c.round(&request, &mut replies),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        })
    );
    assert_eq!(c.command(&[b"EXISTS", b"d"]).unwrap(), b":0\r\n");
    // A server that restarted while the client was idle runs nothing of
    // the next round: the sessions it would run in are gone.
    local.restart(on_disk(&disk, 4));
    let request = round_of(&[(1, &[b"SET", b"e", b"5"])]);
    assert_eq!(
        c.round(&request, &mut replies),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        })
    );
    assert_eq!(c.generation(), 4);
    assert_eq!(c.command(&[b"EXISTS", b"e"]).unwrap(), b":0\r\n");
    // And the next one runs.
    replies.clear();
    c.round(&request, &mut replies).unwrap();
    assert_eq!(replies, b"+OK\r\n");
}

#[test]
fn a_compaction_keeps_what_the_log_knows_of_calls() {
    use crate::persist::{Fsync, Log, Persistence, SectorDevice};
    use kvs_core::aof::Tag;
    // Log areas of 16 sectors: a few dozen records fill one.
    let disk = SharedDisk::new(34);
    let open = || {
        let mut store = kvs_core::Store::new();
        let device: Box<dyn SectorDevice> = Box::new(disk.clone());
        let (log, _) = Log::open(device, &mut store, 1).unwrap();
        (store, Persistence::new(log, Fsync::Always))
    };
    let (mut store, mut p) = open();
    let mut s = kvs_core::Session::new();
    let tag = Tag {
        client: 3,
        call: 77,
        entry: 1,
    };
    p.execute_tagged(&mut store, &mut s, &[b"SET", b"a", b"1"], 10, Some(tag));
    // Untagged changes until the log is compacted: only the new log's
    // restatement can tell of the tagged one then.
    let first = p.log().superblock().sequence;
    let value = [b'v'; 100];
    let mut writes = 0;
    while p.log().superblock().sequence == first {
        p.execute(&mut store, &mut s, &[b"SET", b"b", &value], 11);
        writes += 1;
        assert!(writes < 1000, "the log never compacted");
    }
    let (replayed, again) = open();
    assert_eq!(again.marks().get(&3), Some(&tag));
    assert_eq!(replayed.dbsize(0), 2);
}

#[test]
fn rounds_of_every_size_travel_without_a_region() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    // One entry of each request size around what a message holds: those
    // that fit go in the message words, a larger one is refused unrun.
    for n in 880..960 {
        let value = vec![b'x'; n];
        let request = round_of(&[(1, &[b"SET", b"k", &value])]);
        let mut replies = Vec::new();
        c.round(&request, &mut replies).unwrap();
        let fits = request.len() <= INLINE_REQUEST - 8;
        if fits {
            assert_eq!(replies, b"+OK\r\n", "{} bytes", request.len());
        } else {
            assert!(
                replies.starts_with(b"-ERR the command is larger"),
                "{} bytes",
                request.len()
            );
        }
    }
    // Many entries take as many calls as they need.
    let entries: Vec<(u64, Vec<Vec<u8>>)> = (0..200)
        .map(|i| (i % 3, vec![b"INCR".to_vec(), b"n".to_vec()]))
        .collect();
    let mut request = Vec::new();
    for (session, args) in &entries {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        let mut encoded = Vec::new();
        proto::encode_command(&args, &mut encoded);
        proto::push_round_entry(*session, &encoded, &mut request);
    }
    let mut replies = Vec::new();
    c.round(&request, &mut replies).unwrap();
    assert_eq!(split_replies(&replies).len(), 200);
    assert_eq!(c.command(&[b"GET", b"n"]).unwrap(), b"$3\r\n200\r\n");
}

#[test]
fn a_single_command_learns_whether_it_took_effect_across_a_crash() {
    let disk = SharedDisk::new(400);
    let local = Local::new(on_disk(&disk, 1), Server::rpc_dispatch);
    let transport = Crashing::new(&local, &disk);
    let mut c = Connection::open(KvsClient::new(&transport), None).unwrap();
    // Crashed after its change was logged, before the reply.
    transport.after.set(true);
    assert_eq!(
        c.command(&[b"INCR", b"n"]),
        Err(Error::Interrupted {
            replied: 0,
            applied: 1
        })
    );
    assert_eq!(c.command(&[b"GET", b"n"]).unwrap(), b"$1\r\n1\r\n");
    // A read then a crash: the last call that changed something was
    // another, so this one had no effect (it had none to have).
    transport.after.set(true);
    assert_eq!(
        c.command(&[b"GET", b"n"]),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        })
    );
    // The fault itself: nothing.
    assert_eq!(
        c.command(&[b"DEBUG", b"SEGFAULT"]),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        })
    );
    assert_eq!(c.command(&[b"INCR", b"n"]).unwrap(), b":2\r\n");
    assert_eq!(c.generation(), 4);
}

#[test]
fn memcached_items_travel_over_ipc_inline_and_through_the_region() {
    use kvs_api::mc::{Cache, Mode, StoreOutcome, StoreRequest};
    let (server_side, client_side) = region(256 * 1024);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    let big = vec![b'v'; 100_000];
    for (key, value) in [(&b"small"[..], &b"12"[..]), (b"big", &big[..])] {
        let set = StoreRequest {
            mode: Mode::Set,
            key,
            value,
            flags: 7,
            exptime: 0,
            cas: 0,
            invalidate: false,
        };
        assert!(matches!(
            Cache::store(&mut c, &set).unwrap(),
            StoreOutcome::Stored(_)
        ));
    }
    // (`Connection::get` is the Redis GET of `kvs_api::ops`.)
    let got = Cache::get(&mut c, &[b"small", b"big", b"none"], None)
        .unwrap()
        .unwrap();
    assert_eq!(
        got[0].as_ref().map(|v| (&v.data[..], v.flags)),
        Some((&b"12"[..], 7))
    );
    assert_eq!(got[1].as_ref().map(|v| v.data.len()), Some(100_000));
    assert!(got[2].is_none());
    // The items are not Redis keys, nor the other way round.
    assert_eq!(c.command(&[b"EXISTS", b"small"]).unwrap(), b":0\r\n");
    assert_eq!(c.command(&[b"SET", b"k", b"v"]).unwrap(), b"+OK\r\n");
    assert!(Cache::get(&mut c, &[b"k"], None).unwrap().unwrap()[0].is_none());
    // A request that does not decode runs nothing.
    assert_eq!(
        KvsClient::new(&s).mc(&[99]),
        Err(RpcError::Remote(BAD_REQUEST))
    );
}

/// Rounds of `(session, command)` entries run by `client`; the replies.
fn run_round(s: &mut KvsServer<TickingClock>, client: u64, entries: &[(u64, &str)]) -> Vec<u8> {
    let mut request = Vec::new();
    for (session, line) in entries {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        let mut wire = Vec::new();
        proto::encode_command(&args, &mut wire);
        proto::push_round_entry(*session, &wire, &mut request);
    }
    match Kvs::exec_round(s, Caller { badge: client }, &request).unwrap() {
        RoundAnswer {
            replies: Answer::Inline(bytes),
            ..
        } => bytes.to_vec(),
        other => panic!("{other:?}"),
    }
}

/// Client `client`'s mail, as (session, reply) letters.
fn mail(s: &mut KvsServer<TickingClock>, client: u64) -> Vec<(u64, Vec<u8>)> {
    let Answer::Inline(bytes) = Kvs::mail(s, Caller { badge: client }).unwrap() else {
        panic!("inline");
    };
    proto::parse_mail(&bytes)
        .unwrap()
        .into_iter()
        .map(|letter| match letter {
            proto::Letter::Reply { session, reply } => (session, reply.to_vec()),
            other => panic!("not a reply: {other:?}"),
        })
        .collect()
}

#[test]
fn blocked_sessions_get_their_replies_by_mail_and_wake_their_client() {
    let now = Rc::new(Cell::new(1_000_000));
    let (front, _) = region(4096);
    let mut s = KvsServer::new(TickingClock(now.clone()), vec![(String::from("fe"), front)]);
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    s.wake_with("fe", Waker(Box::new(move || w.set(w.get() + 1))));
    let fe = Caller { badge: 1 };
    Kvs::attach(&mut s, fe, "fe").unwrap();
    // Client 1 (a front end): sessions 10 and 11 block, 12 does not.
    assert_eq!(
        run_round(
            &mut s,
            1,
            &[(10, "BLPOP q 0"), (11, "BRPOP q 5"), (12, "RPUSH other x")]
        ),
        [proto::BLOCKED, proto::BLOCKED, b":1\r\n"].concat()
    );
    assert_eq!(s.store().blocked_sessions(), 2);
    assert_eq!(
        run_round(&mut s, 1, &[(10, "PING")]),
        b"-ERR the session waits in a blocking command: it runs nothing until that is answered\r\n",
        "a blocked session runs nothing"
    );
    assert!(mail(&mut s, 1).is_empty());
    // Another client's push serves session 10, and wakes client 1 once.
    assert_eq!(run_round(&mut s, 2, &[(1, "LPUSH q a")]), b":1\r\n");
    assert_eq!(woken.get(), 1);
    assert_eq!(
        mail(&mut s, 1),
        [(10, b"*2\r\n$1\r\nq\r\n$1\r\na\r\n".to_vec())]
    );
    // Session 11 times out when the server wakes for it.
    assert_eq!(Settle::wake_at(&s), Some((1_000_000 + 5000) * 1000));
    now.set(1_005_000);
    Settle::woken(&mut s);
    assert_eq!(woken.get(), 2);
    assert_eq!(mail(&mut s, 1), [(11, b"*-1\r\n".to_vec())]);
    // CLIENT UNBLOCK, and a session ended while blocked.
    run_round(&mut s, 1, &[(10, "BZPOPMIN z 0"), (11, "BLPOP q 0")]);
    assert!(Kvs::unblock(&mut s, fe, 10, true).unwrap());
    assert!(!Kvs::unblock(&mut s, fe, 12, false).unwrap(), "not blocked");
    assert_eq!(
        mail(&mut s, 1),
        [(
            10,
            b"-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n".to_vec()
        )]
    );
    Kvs::end(&mut s, fe, 11).unwrap();
    run_round(&mut s, 2, &[(1, "LPUSH q b")]);
    assert!(mail(&mut s, 1).is_empty(), "nobody waits");
    assert_eq!(s.store().blocked_sessions(), 0);
    assert_eq!(run_round(&mut s, 2, &[(1, "LLEN q")]), b":1\r\n");
}

#[test]
fn tracking_sessions_get_invalidations_by_mail() {
    let now = Rc::new(Cell::new(1_000_000));
    let (front, _) = region(4096);
    let mut s = KvsServer::new(TickingClock(now.clone()), vec![(String::from("fe"), front)]);
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    s.wake_with("fe", Waker(Box::new(move || w.set(w.get() + 1))));
    let fe = Caller { badge: 1 };
    Kvs::attach(&mut s, fe, "fe").unwrap();
    let mut prefixes = Vec::new();
    proto::push_parts(&[b"user:"], &mut prefixes);
    Kvs::track(&mut s, fe, 10, kvs_api::tracking::ON, &[]).unwrap();
    let bcast = kvs_api::tracking::ON | kvs_api::tracking::BCAST | kvs_api::tracking::NOLOOP;
    Kvs::track(&mut s, fe, 11, bcast, &prefixes).unwrap();
    assert_eq!(
        Kvs::track(&mut s, fe, 12, kvs_api::tracking::ON, b"\x05"),
        Err(BAD_REQUEST)
    );
    run_round(&mut s, 1, &[(10, "MGET k user:1"), (11, "SET user:2 own")]);
    run_round(&mut s, 2, &[(1, "MSET k 1 user:1 2 user:3 3")]);
    assert_eq!(woken.get(), 1);
    let Answer::Inline(mail) = Kvs::mail(&mut s, fe).unwrap() else {
        panic!("inline");
    };
    let letters = proto::parse_mail(&mail).unwrap();
    let keys = |l: &proto::Letter<'_>| match *l {
        proto::Letter::Invalidate { session, keys } => {
            (session, keys.map(|k| proto::parts(k).unwrap().concat()))
        }
        ref other => panic!("not an invalidation: {other:?}"),
    };
    let got: Vec<_> = letters.iter().map(keys).collect();
    assert_eq!(
        got,
        [
            (10, Some(b"k".to_vec())),
            (10, Some(b"user:1".to_vec())),
            (11, Some(b"user:1user:3".to_vec())),
        ],
        "the default mode's per key, BCAST's gathered (NOLOOP left out its own user:2)"
    );
    // A flush: everything, to each; an ended session hears nothing more.
    run_round(&mut s, 2, &[(1, "FLUSHALL")]);
    Kvs::end(&mut s, fe, 11).unwrap();
    let Answer::Inline(mail) = Kvs::mail(&mut s, fe).unwrap() else {
        panic!("inline");
    };
    let got: Vec<_> = proto::parse_mail(&mail).unwrap().iter().map(keys).collect();
    assert_eq!(got, [(10, None)]);
}

#[test]
fn a_session_said_hello_3_gets_resp3_replies_and_mail() {
    let now = Rc::new(Cell::new(1_000_000));
    let (front, _) = region(4096);
    let mut s = KvsServer::new(TickingClock(now.clone()), vec![(String::from("fe"), front)]);
    let fe = Caller { badge: 1 };
    Kvs::attach(&mut s, fe, "fe").unwrap();
    Kvs::protocol(&mut s, fe, 10, true).unwrap();
    assert_eq!(
        run_round(
            &mut s,
            1,
            &[
                (10, "ZADD z 1.5 m"),
                (10, "ZSCORE z m"),
                (10, "HGET h f"),
                (11, "ZSCORE z m"),
                (10, "BZPOPMIN empty 0"),
            ]
        ),
        [&b":1\r\n,1.5\r\n_\r\n$3\r\n1.5\r\n"[..], proto::BLOCKED].concat()
    );
    run_round(&mut s, 1, &[(11, "ZADD empty 2 x")]);
    assert_eq!(
        mail(&mut s, 1),
        [(10, b"*3\r\n$5\r\nempty\r\n$1\r\nx\r\n,2\r\n".to_vec())]
    );
    // Back to RESP2 (RESET).
    Kvs::protocol(&mut s, fe, 10, false).unwrap();
    assert_eq!(run_round(&mut s, 1, &[(10, "HGET h f")]), b"$-1\r\n");
}

#[test]
fn blocking_commands_do_not_block_outside_rounds() {
    let (s, _) = server(Vec::new());
    let mut c = Connection::open(KvsClient::new(&s), None).unwrap();
    assert_eq!(c.command(&[b"BLPOP", b"q", b"0"]).unwrap(), b"*-1\r\n");
    assert_eq!(
        c.command(&[b"BLMOVE", b"q", b"d", b"LEFT", b"LEFT", b"0"])
            .unwrap(),
        b"$-1\r\n"
    );
}

#[test]
fn mail_too_large_for_the_answer_waits_for_the_next_call() {
    let now = Rc::new(Cell::new(1_000_000));
    let mut s = KvsServer::new(TickingClock(now), Vec::new());
    let big = "x".repeat(600);
    run_round(&mut s, 1, &[(1, "BLPOP q 0"), (2, "BLPOP q 0")]);
    run_round(&mut s, 2, &[(1, &format!("RPUSH q {big} {big}"))]);
    // Two letters of 600 bytes: one per inline answer.
    let first = mail(&mut s, 1);
    let second = mail(&mut s, 1);
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!((first[0].0, second[0].0), (1, 2));
    assert!(mail(&mut s, 1).is_empty());
}

#[test]
fn memory_stats_come_from_the_gauges() {
    use core::sync::atomic::{AtomicU64, Ordering::Relaxed};
    static USED: AtomicU64 = AtomicU64::new(1000);
    // The reply is longer than an inline one: it goes through a region.
    let (server_side, client_side) = region(64 * 1024);
    let (s, _) = server(vec![("buf".into(), server_side)]);
    s.state_mut()
        .set_memory(|| USED.load(Relaxed), || 4500, 1 << 20);
    let mut c = Connection::open(KvsClient::new(&s), Some(("buf", client_side))).unwrap();
    USED.store(9000, Relaxed);
    c.command(&[b"SET", b"k", b"v"]).unwrap();
    USED.store(3000, Relaxed);
    c.command(&[b"SET", b"e", b"v", b"EX", b"100"]).unwrap();
    let reply = c.command(&[b"MEMORY", b"STATS"]).unwrap();
    let text = String::from_utf8(reply).unwrap();
    let lines: Vec<&str> = text.split("\r\n").collect();
    // A flat array in RESP2: each field's name, then its value.
    let field = |name: &str| {
        let at = lines
            .iter()
            .position(|l| *l == name)
            .unwrap_or_else(|| panic!("{name} in {text}"));
        lines[at + 1]
    };
    assert_eq!(
        field("peak.allocated"),
        ":9000",
        "the most since the gauge came"
    );
    assert_eq!(field("total.allocated"), ":3000");
    assert_eq!(field("startup.allocated"), ":1000");
    assert_eq!(field("keys.count"), ":2");
    assert_eq!(field("keys.bytes-per-key"), ":1000");
    assert_eq!(field("allocator.active"), ":4500");
    assert_eq!(field("fragmentation.bytes"), ":1500");
    assert_eq!(field("fragmentation"), "$3");
    assert_eq!(field("$3"), "1.5");
    assert!(
        text.contains("db.0\r\n*6\r\n"),
        "db.0 and its three fields: {text}"
    );
    assert!(!text.contains("db.1\r\n"));
    // Queued in MULTI, it is the store's: an error EXEC gives back.
    c.command(&[b"MULTI"]).unwrap();
    c.command(&[b"MEMORY", b"STATS"]).unwrap();
    let exec = c.command(&[b"EXEC"]).unwrap();
    assert!(exec.starts_with(b"*1\r\n-ERR MEMORY runs outside MULTI only"));
}

/// A command's RESP encoding.
fn encoded(args: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    proto::encode_command(args, &mut out);
    out
}

/// A server whose scripts pass `busy-reply-threshold` (20 ms) after a few
/// thousand steps, with region `fe` (client badge 1, woken through the
/// counter) and `quiet` (badge 2, nobody to wake); the client's view of
/// `fe`; and what its early answers saw of the control words (asking a
/// kill when `kill` is set).
struct Overtime {
    s: Local<Server>,
    fe: std::sync::Arc<std::sync::Mutex<SharedBuf>>,
    woken: Rc<Cell<u64>>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<kvs_api::busy::State>>>,
    kill: std::sync::Arc<core::sync::atomic::AtomicBool>,
}

impl Overtime {
    fn new() -> Overtime {
        use core::sync::atomic::{AtomicU64, Ordering};
        static TICKS: AtomicU64 = AtomicU64::new(0);
        fn tick() -> u64 {
            TICKS.fetch_add(1, Ordering::Relaxed)
        }
        let (server_side, client_side) = region(1 << 16);
        let (quiet, _) = region(1 << 16);
        let mut store = kvs_core::Store::new();
        // A tick a millisecond: the threshold passes after 20 reads.
        store.set_script_clock(tick, 1);
        let clock = Box::new(|| 1_000_000u64) as Box<dyn FnMut() -> u64>;
        let regions = vec![("fe".into(), server_side), ("quiet".into(), quiet)];
        let mut server = KvsServer::with_store(store, clock, regions);
        let woken = Rc::new(Cell::new(0));
        let w = woken.clone();
        server.wake_with("fe", Waker(Box::new(move || w.set(w.get() + 1))));
        let fe = std::sync::Arc::new(std::sync::Mutex::new(client_side));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kill = std::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
        let (view, log, asked) = (fe.clone(), seen.clone(), kill.clone());
        server.answer_early_with(Box::new(move || {
            let mut view = view.lock().unwrap();
            let control = view.control().expect("control words");
            log.lock().unwrap().push(control.state());
            if asked.load(core::sync::atomic::Ordering::Relaxed) {
                control.kill();
            }
        }));
        let s = Local::new(server, Server::rpc_dispatch);
        s.set_badge(2);
        KvsClient::new(&s).attach("quiet").unwrap();
        s.set_badge(1);
        let c = KvsClient::new(&s);
        c.attach("fe").unwrap();
        c.exec(&encoded(&[
            b"CONFIG",
            b"SET",
            b"busy-reply-threshold",
            b"20",
        ]))
        .unwrap();
        Overtime {
            s,
            fe,
            woken,
            seen,
            kill,
        }
    }

    /// A round of `commands`, each in its own session; its answer's
    /// replies as text, and the answer.
    fn round(&self, commands: &[&[&[u8]]]) -> (String, RoundAnswer) {
        let mut request = Vec::new();
        for (i, args) in commands.iter().enumerate() {
            proto::push_round_entry(i as u64 + 1, &encoded(args), &mut request);
        }
        let answer = KvsClient::new(&self.s).exec_round(&request).unwrap();
        (self.replies(&answer), answer)
    }

    fn replies(&self, answer: &RoundAnswer) -> String {
        let bytes = match &answer.replies {
            Answer::Inline(b) => b.to_vec(),
            Answer::Shared(len) => {
                let mut out = Vec::new();
                assert!(self.fe.lock().unwrap().read(*len as usize, &mut out));
                out
            }
        };
        String::from_utf8(bytes).unwrap()
    }

    fn state(&self) -> kvs_api::busy::State {
        self.fe.lock().unwrap().control().unwrap().state()
    }
}

#[test]
fn a_round_whose_script_runs_on_is_answered_early_and_finished_later() {
    use kvs_api::busy::State;
    let t = Overtime::new();
    let spin = b"local n = 0 while n < 100000 do n = n + 1 end return n";
    let (text, answer) = t.round(&[&[b"EVAL", spin, b"0"], &[b"GET", b"k"]]);
    assert_eq!(text, ":100000\r\n$-1\r\n");
    // Answered early once, the state said first.
    let seen = t.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        matches!(seen[0], State::Running(r) if !r.function && !r.wrote && r.elapsed_ms >= 20),
        "{seen:?}"
    );
    // Then done, the client woken, the answer kept for it.
    assert_eq!(t.state(), State::Done);
    assert_eq!(t.woken.get(), 1);
    let c = KvsClient::new(&t.s);
    assert_eq!(c.finished(), Ok(answer));
    assert_eq!(t.state(), State::Idle, "taken");
    assert_eq!(c.finished(), Err(RpcError::Remote(NOT_RUNNING)));
    // A quick script is answered as usual.
    let (text, _) = t.round(&[&[b"EVAL", b"return 1", b"0"]]);
    assert_eq!(text, ":1\r\n");
    assert_eq!(t.seen.lock().unwrap().len(), 1);
    assert_eq!(c.finished(), Err(RpcError::Remote(NOT_RUNNING)));
}

#[test]
fn a_kill_ends_a_script_that_has_not_written_and_the_round_goes_on() {
    use kvs_api::busy::State;
    let t = Overtime::new();
    t.kill.store(true, core::sync::atomic::Ordering::Relaxed);
    let lib = b"#!lua name=spin\nredis.register_function('spin', function() while true do end end)";
    let (text, _) = t.round(&[
        &[b"EVAL", b"while true do end", b"0"],
        &[b"FUNCTION", b"LOAD", lib],
        &[b"FCALL", b"spin", b"0"],
        &[b"SET", b"k", b"v"],
    ]);
    assert!(
        text.starts_with("-ERR Script killed by user with SCRIPT KILL... script: "),
        "{text}"
    );
    assert!(
        text.ends_with(
            "$4\r\nspin\r\n-ERR Script killed by user with SCRIPT KILL... script: spin, on @user_function:2.\r\n+OK\r\n"
        ),
        "{text}"
    );
    assert_eq!(t.seen.lock().unwrap().len(), 1, "one early answer a round");
    assert_eq!(t.state(), State::Done);
    assert!(KvsClient::new(&t.s).finished().is_ok());
    // A script that wrote runs to its end.
    let wrote =
        b"redis.call('set', 'w', '1') local n = 0 while n < 100000 do n = n + 1 end return n";
    let (text, _) = t.round(&[&[b"EVAL", wrote, b"0"]]);
    assert_eq!(text, ":100000\r\n");
    assert!(matches!(t.state(), State::Done));
    let seen = t.seen.lock().unwrap().clone();
    assert!(matches!(seen[1], State::Running(r) if r.wrote), "{seen:?}");
}

#[test]
fn a_script_whose_caller_cannot_be_told_is_stopped() {
    let t = Overtime::new();
    let stopped = "-ERR Script stopped: it ran past busy-reply-threshold";
    // One command outside a round.
    let c = KvsClient::new(&t.s);
    let answer = c
        .exec_in(9, &encoded(&[b"EVAL", b"while true do end", b"0"]))
        .unwrap();
    let Answer::Inline(bytes) = answer else {
        panic!("inline")
    };
    assert!(bytes.starts_with(stopped.as_bytes()));
    // A round of a client the server cannot wake.
    t.s.set_badge(2);
    let (text, _) = t.round(&[&[b"EVAL", b"while true do end", b"0"]]);
    assert!(text.starts_with(stopped), "{text}");
    assert!(
        t.seen.lock().unwrap().is_empty(),
        "nobody was answered early"
    );
}

/// The kvs server through [`Local`], except that a call the server
/// answered early (its script ran on) returns that early answer,
/// `RUNNING`, as on Basalt; the call's work is done by then (a local
/// call runs to its end), so the control words say done.
struct Early<'a> {
    local: &'a Local<Server>,
    answered: std::sync::Arc<core::sync::atomic::AtomicBool>,
}

impl libcap::rpc::Transport for Early<'_> {
    fn call(&self, label: u64, words: &mut libcap::rpc::Encoder) -> Result<u64, libcap::Error> {
        use libcap::rpc::{Status, reply_label, split_reply_label};
        let reply = libcap::rpc::Transport::call(self.local, label, words)?;
        if !self
            .answered
            .swap(false, core::sync::atomic::Ordering::Relaxed)
        {
            return Ok(reply);
        }
        words.clear();
        words.push(RUNNING).unwrap();
        Ok(reply_label(Status::Remote, split_reply_label(reply).1))
    }
}

#[test]
fn the_client_resumes_a_round_that_ran_on() {
    use core::sync::atomic::{AtomicU64, Ordering};
    use kvs_api::busy::{Running, State};
    static TICKS: AtomicU64 = AtomicU64::new(0);
    fn tick() -> u64 {
        TICKS.fetch_add(1, Ordering::Relaxed)
    }
    let len = 1 << 16;
    let mem: &'static mut [u8] = Box::leak(vec![0u8; len].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so mapped for ever; the views copy in and out only
    // while the others do not (the calls are synchronous).
    let [server_side, client_side, mut peek, restarted] =
        [(); 4].map(|()| unsafe { SharedBuf::new(base, len) }.expect("not null"));
    let mut store = kvs_core::Store::new();
    store.set_script_clock(tick, 1);
    let clock = Box::new(|| 1_000_000u64) as Box<dyn FnMut() -> u64>;
    let mut server = KvsServer::with_store(store, clock, vec![("fe".into(), server_side)]);
    server.wake_with("fe", Waker(Box::new(|| {})));
    let answered = std::sync::Arc::new(core::sync::atomic::AtomicBool::new(false));
    let flag = answered.clone();
    server.answer_early_with(Box::new(move || flag.store(true, Ordering::Relaxed)));
    let local = Local::new(server, Server::rpc_dispatch);
    let transport = Early {
        local: &local,
        answered,
    };
    let mut c = Connection::open(KvsClient::new(transport), Some(("fe", client_side))).unwrap();
    c.command(&[b"CONFIG", b"SET", b"busy-reply-threshold", b"20"])
        .unwrap();
    let mut request = Vec::new();
    let spin = b"local n = 0 while n < 100000 do n = n + 1 end return n";
    proto::push_round_entry(1, &encoded(&[b"SET", b"k", b"v"]), &mut request);
    proto::push_round_entry(2, &encoded(&[b"EVAL", spin, b"0"]), &mut request);
    proto::push_round_entry(3, &encoded(&[b"GET", b"k"]), &mut request);
    let mut replies = Vec::new();
    assert_eq!(c.round(&request, &mut replies), Err(Error::Running));
    assert!(replies.is_empty(), "one call: nothing answered yet");
    // While the control words say it runs, nothing is called.
    let running = Running {
        function: false,
        wrote: false,
        elapsed_ms: 21,
    };
    let control = peek.control().unwrap();
    assert_eq!(control.state(), State::Done, "a local call ran to its end");
    control.publish(&running);
    assert_eq!(c.running(), Some(running));
    assert_eq!(c.resume(&mut replies), Ok(Resumed::Running(running)));
    c.kill();
    assert!(
        peek.control().unwrap().kill_asked(),
        "the kill is in the words"
    );
    // Done: the rest of the replies come, and the words are cleared.
    peek.control().unwrap().done();
    assert_eq!(c.resume(&mut replies), Ok(Resumed::Done));
    assert_eq!(
        String::from_utf8(replies).unwrap(),
        "+OK\r\n:100000\r\n$1\r\nv\r\n"
    );
    assert_eq!(peek.control().unwrap().state(), State::Idle);
    assert_eq!(c.running(), None);
    let mut replies = Vec::new();
    assert_eq!(c.resume(&mut replies), Ok(Resumed::Done), "none runs on");
    assert!(replies.is_empty());
    // The round before the script ran; the next round is as usual.
    assert_eq!(c.command(&[b"GET", b"k"]).unwrap(), b"$1\r\nv\r\n");
    // A server that lost the round (it restarted): the words are idle,
    // and `finished` fails; the client learns what took effect.
    let mut replies = Vec::new();
    assert_eq!(c.round(&request, &mut replies), Err(Error::Running));
    let clock = Box::new(|| 1_000_000u64) as Box<dyn FnMut() -> u64>;
    // A new instance (the second: init says so) clears the words.
    let mut again = KvsServer::new(clock, vec![("fe".into(), restarted)]);
    again.set_lineage(2, Some("killed"));
    let woken = Rc::new(Cell::new(0));
    let w = woken.clone();
    again.wake_with("fe", Waker(Box::new(move || w.set(w.get() + 1))));
    again.wake_all();
    assert_eq!(woken.get(), 1, "its clients are told to look");
    local.restart(again);
    assert_eq!(peek.control().unwrap().state(), State::Idle);
    assert_eq!(
        c.resume(&mut replies),
        Err(Error::Interrupted {
            replied: 0,
            applied: 0
        }),
        "the new instance's log has none of it"
    );
    assert_eq!(
        c.command(&[b"GET", b"k"]).unwrap(),
        b"$-1\r\n",
        "set up again"
    );
}
