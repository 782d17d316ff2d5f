//! Text connections served in rounds (`Connection::receive_round`): the
//! calls of many connections gathered in a `Batch` and run together, the
//! replies the same as when each call is made at once, in order, for any
//! input in any pieces; calls past a round's answer limit waiting for the
//! next; a store that cannot be reached answered with memcached's error.

mod common;

use common::{Client, T0, clock, in_pieces, request};
use kvs_api::mc::Local;
use memcached::round::{Batch, Rounds};
use memcached::{Connection, Flow, Frontend, Limits};
use proptest::prelude::*;

/// A front end serving its connections in rounds, as the stream server
/// drives it: feed what arrives, then run the batch and feed each
/// waiting connection again, until none waits.
struct Front<R> {
    cache: R,
    front: Frontend,
    batch: Batch,
    /// Each connection, what it was sent and its last flow.
    conns: Vec<(Connection, Vec<u8>, Flow)>,
    /// The answer limit of each run of the batch.
    limit: usize,
}

fn local() -> Local<fn() -> u64> {
    Local {
        store: kvs_core::Store::new(),
        clock,
    }
}

impl<R: Rounds> Front<R> {
    fn new(cache: R, connections: usize) -> Self {
        Front {
            cache,
            front: Frontend::new(11211, T0 / 1000),
            batch: Batch::default(),
            conns: (0..connections)
                .map(|_| (Connection::new(Limits::default()), Vec::new(), Flow::Open))
                .collect(),
            limit: usize::MAX,
        }
    }

    /// Connection `c` receives `bytes`: whether it waits for the batch.
    fn feed(&mut self, c: usize, bytes: &[u8]) -> Flow {
        let (conn, out, last) = &mut self.conns[c];
        *last = conn.receive_round(bytes, &mut self.batch, &mut self.front, T0 / 1000, out);
        *last
    }

    /// Runs the batch and feeds the waiting connections, until none
    /// waits; how many runs it took.
    fn settle(&mut self) -> usize {
        let mut runs = 0;
        while self.conns.iter().any(|c| c.2 == Flow::Wait) {
            self.batch.run(&mut self.cache, self.limit);
            runs += 1;
            for c in 0..self.conns.len() {
                if self.conns[c].2 == Flow::Wait {
                    self.feed(c, &[]);
                }
            }
        }
        runs
    }

    /// What connection `c` was sent, taken.
    fn sent(&mut self, c: usize) -> Vec<u8> {
        core::mem::take(&mut self.conns[c].1)
    }

    fn output(&mut self, c: usize) -> String {
        String::from_utf8_lossy(&self.sent(c)).into_owned()
    }
}

#[test]
fn the_calls_of_many_connections_run_in_one_round() {
    let mut f = Front::new(local(), 5);
    for c in 0..5 {
        assert_eq!(f.feed(c, b"incr n 1\r\n"), Flow::Wait);
        assert_eq!(f.output(c), "", "no reply before the round ran");
    }
    assert_eq!(f.batch.len(), 5);
    // incr of a missing item: NOT_FOUND for all, in one run.
    assert_eq!(f.settle(), 1);
    for c in 0..5 {
        assert_eq!(f.output(c), "NOT_FOUND\r\n");
    }
    assert_eq!(f.feed(0, b"set n 0 0 1\r\n0\r\n"), Flow::Wait);
    f.settle();
    assert_eq!(f.output(0), "STORED\r\n");
    for c in 0..5 {
        f.feed(c, b"incr n 1\r\n");
    }
    assert_eq!(f.settle(), 1);
    // Each got its own value, in the order the calls joined the batch.
    for c in 0..5 {
        assert_eq!(f.output(c), format!("{}\r\n", c + 1));
    }
}

#[test]
fn a_pipeline_waits_at_each_call_and_keeps_its_order() {
    let mut f = Front::new(local(), 1);
    let flow = f.feed(
        0,
        b"version\r\nset a 0 0 2\r\nhi\r\nmn\r\nget a b\r\nverbosity 1\r\n",
    );
    assert_eq!(flow, Flow::Wait);
    // What needs no call before the first one is answered at once.
    assert!(f.output(0).starts_with("VERSION "));
    // Bytes that come while it waits are kept, not run.
    assert_eq!(f.feed(0, b"delete a\r\n"), Flow::Wait);
    assert_eq!(f.output(0), "");
    assert_eq!(f.settle(), 3);
    assert_eq!(
        f.output(0),
        "STORED\r\nMN\r\nVALUE a 0 2\r\nhi\r\nEND\r\nOK\r\nDELETED\r\n"
    );
}

#[test]
fn calls_past_a_rounds_answer_limit_wait_for_the_next() {
    let mut f = Front::new(local(), 8);
    f.feed(0, b"set v 0 0 100\r\n");
    f.feed(0, &[b'x'; 100]);
    f.feed(0, b"\r\n");
    f.settle();
    f.output(0);
    f.limit = 250;
    for c in 0..8 {
        f.feed(c, b"get v\r\n");
    }
    // About two answers of 100 bytes a run: four runs or more.
    assert!(f.settle() >= 4);
    for c in 0..8 {
        assert!(f.output(c).starts_with("VALUE v 0 100\r\nxxx"), "{c}");
    }
}

#[test]
fn a_client_that_does_not_read_is_slowed_down_not_answered_into_memory() {
    let mut f = Front::new(local(), 1);
    f.feed(0, b"set big 0 0 40000\r\n");
    f.feed(0, &[b'x'; 40000]);
    f.feed(0, b"\r\n");
    f.settle();
    assert_eq!(f.output(0), "STORED\r\n");
    let one = 40_000 + b"VALUE big 0 40000\r\n\r\nEND\r\n".len();
    // Ten gets, none of whose replies is sent: once 64 KiB wait, the
    // connection stops (the stream server sends, then feeds it again).
    f.feed(0, &b"get big\r\n".repeat(10));
    f.settle();
    assert_eq!(f.conns[0].1.len(), 2 * one);
    assert!(f.conns[0].0.stalled() && f.batch.is_empty());
    let mut replies = 2;
    while f.conns[0].0.stalled() || f.conns[0].2 == Flow::Wait {
        f.sent(0);
        f.feed(0, &[]);
        f.settle();
        let n = f.conns[0].1.len() / one;
        assert!((1..=2).contains(&n));
        replies += n;
    }
    assert_eq!(replies, 10);
}

#[test]
fn values_waiting_in_the_batch_count_against_the_budget() {
    let mut f = Front::new(local(), 6);
    f.front.client_memory = 3 << 20;
    let value = vec![b'v'; 900 << 10];
    // Six connections send a 900 KiB set each before the batch runs: each
    // value waits in the batch, counted for its connection, so only
    // some fit in 3 MiB; the others are refused as memcached refuses.
    for c in 0..6 {
        f.feed(c, format!("set k{c} 0 0 {}\r\n", value.len()).as_bytes());
        f.feed(c, &value);
        f.feed(c, b"\r\n");
    }
    assert!(
        f.front.clients_held() <= 3 << 20,
        "{}",
        f.front.clients_held()
    );
    // Those refused were answered at once; the others wait.
    let refused: Vec<usize> = (0..6)
        .filter(|&c| f.output(c) == "SERVER_ERROR out of memory storing object\r\n")
        .collect();
    assert!((1..6).contains(&refused.len()), "{refused:?}");
    f.settle();
    for c in (0..6).filter(|c| !refused.contains(c)) {
        assert_eq!(f.output(c), "STORED\r\n", "{c}");
    }
    // Once stored, the room is given back.
    assert!(
        f.front.clients_held() < 64 * 1024,
        "{}",
        f.front.clients_held()
    );
}

/// A store that cannot be reached.
struct Unreachable;

impl Rounds for Unreachable {
    type Error = ();

    fn run_round(&mut self, _: &[u8], _: &mut Vec<u8>, _: usize) -> Result<usize, ()> {
        Err(())
    }
}

#[test]
fn an_unreachable_store_answers_each_call_with_memcacheds_error() {
    let mut f = Front::new(Unreachable, 2);
    f.feed(0, b"get a\r\nmn\r\n");
    f.feed(1, b"set a 0 0 1\r\n1\r\n");
    f.settle();
    assert_eq!(f.output(0), "SERVER_ERROR store unavailable\r\nMN\r\n");
    assert_eq!(f.output(1), "SERVER_ERROR store unavailable\r\n");
}

/// `stream` to one connection served in rounds, in pieces of the sizes
/// `cuts` cycles through, the batch run after each.
fn in_rounds(stream: &[u8], cuts: &[usize]) -> (Vec<u8>, bool) {
    let mut f = Front::new(local(), 1);
    in_pieces(stream, cuts, |piece| {
        let flow = f.feed(0, piece);
        f.settle();
        let flow = if f.conns[0].2 == Flow::Close {
            Flow::Close
        } else {
            flow
        };
        (f.sent(0), flow)
    })
}

/// … and with each call made at once.
fn at_once(stream: &[u8], cuts: &[usize]) -> (Vec<u8>, bool) {
    let mut c = Client::new();
    in_pieces(stream, cuts, |piece| c.send(piece))
}

proptest! {
    /// Any input, in any pieces: served in rounds, a connection sends
    /// what it sends when each call is made at once, and closes when it
    /// closes.
    #[test]
    fn rounds_answer_as_calls_at_once(reqs in prop::collection::vec(request(), 1..20), cuts in prop::collection::vec(1usize..50, 1..10)) {
        let stream: Vec<u8> = reqs.concat();
        let (rounds, closed) = in_rounds(&stream, &cuts);
        let (now, closed_now) = at_once(&stream, &cuts);
        prop_assert_eq!(String::from_utf8_lossy(&rounds), String::from_utf8_lossy(&now));
        prop_assert_eq!(closed, closed_now);
    }
}
