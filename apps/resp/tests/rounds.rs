//! Rounds: the store commands of many connections run in one call of the
//! real kvs client (`kvs::Connection`, the component's store), in order
//! per connection, with the front end's own commands and transactions
//! waiting behind them.

mod common;

use common::*;
use kvs::{Kvs as _, KvsClient, KvsServer, ManualClock, SharedBuf};
use libcap::rpc::Local;
use resp::{Command, Flow, Frontend, Round, Store, StoreError};

type Server = KvsServer<ManualClock>;
type Client = kvs::Connection<&'static Local<Server>>;

/// The component's store, counting its rounds.
struct Counting {
    kvs: Client,
    rounds: usize,
    server: &'static Local<Server>,
}

impl Store for Counting {
    fn exec(
        &mut self,
        session: u64,
        cmd: Command<'_>,
        reply: &mut Vec<u8>,
    ) -> Result<(), StoreError> {
        self.kvs.exec(session, cmd, reply)
    }

    fn close(&mut self, session: u64) {
        self.kvs.close(session);
    }

    fn exec_round(
        &mut self,
        round: &Round,
        replies: &mut Vec<u8>,
        ends: &mut Vec<usize>,
    ) -> Result<(), StoreError> {
        self.rounds += 1;
        self.kvs.exec_round(round, replies, ends)
    }
}

fn store(region: usize) -> Counting {
    let mem: &'static mut [u8] = Box::leak(vec![0u8; region].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so mapped for ever; each side copies in and out only
    // while the other does not (the calls are synchronous).
    let (server_side, client_side) = unsafe {
        (
            SharedBuf::new(base, region).expect("not null"),
            SharedBuf::new(base, region).expect("not null"),
        )
    };
    let server = Box::leak(Box::new(Local::new(
        KvsServer::new(
            ManualClock(1_700_000_000_000),
            vec![("r".into(), server_side)],
        ),
        Server::rpc_dispatch,
    )));
    let server: &'static Local<Server> = server;
    let kvs = kvs::Connection::open(KvsClient::new(server), Some(("r", client_side))).unwrap();
    Counting {
        kvs,
        rounds: 0,
        server,
    }
}

#[test]
fn many_connections_share_one_round_and_keep_their_order() {
    let mut fe = Frontend::new(store(4096), || 0u64);
    let mut conns: Vec<_> = (0..20).map(|_| connect(&mut fe)).collect();
    for (i, c) in conns.iter_mut().enumerate() {
        // SELECT runs at once; the rest waits for the round, PING and
        // the protocol error behind the store commands.
        let input = format!(
            "SELECT {db}\r\nSET k{i} v{i}\r\nINCR n\r\nGET k{i}\r\nPING\r\nRPUSH l {i}\r\n*x\r\n",
            db = i % 2
        );
        assert_eq!(c.feed(&mut fe, input.as_bytes()), Flow::Wait);
        assert_eq!(c.output(), b"+OK\r\n");
        c.consume(5);
    }
    // As the component does: run the round, feed every connection that
    // waited, again while any waits.
    let mut flows = vec![Flow::Wait; conns.len()];
    let mut rounds = 0;
    while flows.contains(&Flow::Wait) {
        fe.flush();
        rounds += 1;
        assert_eq!(fe.store().rounds, rounds);
        for (c, flow) in conns.iter_mut().zip(&mut flows) {
            if *flow == Flow::Wait {
                *flow = c.feed(&mut fe, &[]);
            }
        }
    }
    assert_eq!(rounds, 2, "SET INCR GET, then PING and RPUSH");
    let mut counters = Vec::new();
    for (i, (c, flow)) in conns.iter_mut().zip(flows).enumerate() {
        assert_eq!(flow, Flow::Close, "the protocol error closes");
        let replies = read_all(c.output());
        assert_eq!(replies.len(), 6, "{replies:?}");
        assert_eq!(replies[0], Value::Simple("OK".into()));
        let Value::Int(n) = replies[1] else {
            panic!("{replies:?}")
        };
        counters.push((i % 2, n));
        assert_eq!(replies[2], Value::bulk(&format!("v{i}")));
        assert_eq!(replies[3], Value::Simple("PONG".into()));
        assert!(matches!(replies[4], Value::Int(_)));
        assert_eq!(
            replies[5],
            Value::Error("ERR Protocol error: invalid multibulk length".into())
        );
    }
    // Each database's counter went up once per connection, in order.
    for db in 0..2 {
        let seen: Vec<i64> = counters.iter().filter(|c| c.0 == db).map(|c| c.1).collect();
        assert_eq!(seen, (1..=10).collect::<Vec<_>>());
    }
    for c in conns {
        fe.disconnect(c);
    }
}

#[test]
fn a_connection_gone_before_its_round_ends_its_session_after_it() {
    let mut fe = Frontend::new(store(4096), || 0u64);
    let mut c = connect(&mut fe);
    let mut other = connect(&mut fe);
    assert_eq!(run(&mut other, &mut fe, "SET x 1\r\n"), "+OK\r\n");
    assert_eq!(c.feed(&mut fe, b"INCR x\r\n"), Flow::Wait);
    fe.disconnect(c);
    fe.flush();
    // The INCR ran in its session, which ended after it: only the other
    // connection's session is left.
    assert_eq!(fe.store().server.state().sessions(), 1);
    assert_eq!(run(&mut other, &mut fe, "GET x\r\n"), "$1\r\n2\r\n");
}
