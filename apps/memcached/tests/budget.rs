//! The connections' shared budget (`Frontend::client_memory`): data
//! blocks refused before they are read when the others leave no room
//! (text and binary, as memcached refuses an item it cannot allocate),
//! the room given back once a block is stored, replies that outgrow the
//! budget closing their connection, and many small connections fitting
//! where a few large ones would not.

mod common;

use common::{T0, clock};
use kvs_api::mc::Local;
use memcached::{Connection, Flow, Frontend, Limits};

/// One front end and its store, with any number of connections, each
/// with its output buffer (as the stream server keeps one per
/// connection, emptied once sent).
struct Front {
    cache: Local<fn() -> u64>,
    front: Frontend,
    conns: Vec<(Connection, Vec<u8>)>,
}

impl Front {
    fn new(budget: u64, connections: usize) -> Front {
        let mut front = Frontend::new(11211, T0 / 1000);
        front.client_memory = budget;
        Front {
            cache: Local {
                store: kvs_core::Store::new(),
                clock,
            },
            front,
            conns: (0..connections)
                .map(|_| (Connection::new(Limits::default()), Vec::new()))
                .collect(),
        }
    }

    /// Connection `c` receives `bytes`: its replies (then sent, so its
    /// output is empty again), and whether it stays.
    fn send(&mut self, c: usize, bytes: &[u8]) -> (Vec<u8>, Flow) {
        let (conn, out) = &mut self.conns[c];
        let flow = conn.receive(bytes, &mut self.cache, &mut self.front, T0 / 1000, out);
        let replies = out.clone();
        out.clear();
        (replies, flow)
    }

    fn say(&mut self, c: usize, text: &str) -> String {
        String::from_utf8(self.send(c, text.as_bytes()).0).unwrap()
    }

    /// The whole `stats` line `name`'s value.
    fn stat(&mut self, c: usize, name: &str) -> u64 {
        let stats = self.say(c, "stats\r\n");
        let prefix = format!("STAT {name} ");
        stats
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("no {name} in {stats}"))
            .parse()
            .unwrap()
    }
}

const KIB: usize = 1024;

#[test]
fn a_block_past_the_budget_is_refused_swallowed_and_the_old_item_dropped() {
    let mut f = Front::new(100 * KIB as u64, 1);
    assert_eq!(f.say(0, "set k 0 0 2\r\nhi\r\n"), "STORED\r\n");
    let block = vec![b'x'; 200 * KIB];
    assert_eq!(
        f.say(0, &format!("set k 0 0 {}\r\n", block.len())),
        "SERVER_ERROR out of memory storing object\r\n"
    );
    // The block, sent in pieces, is thrown away as it comes; the next
    // command is answered.
    for piece in block.chunks(7 * KIB) {
        assert_eq!(f.send(0, piece), (Vec::new(), Flow::Open));
    }
    assert_eq!(f.say(0, "\r\nget k\r\n"), "END\r\n");
    assert_eq!(f.stat(0, "store_no_memory"), 1);
    // noreply keeps the error back, as memcached does.
    let line = format!("add q 0 0 {} noreply\r\n", block.len());
    assert_eq!(f.say(0, &line), "");
    f.send(0, &block);
    assert_eq!(f.say(0, "\r\nmn\r\n"), "MN\r\n");
    // A block that fits is stored, and its room given back after.
    let fits = vec![b'y'; 60 * KIB];
    assert_eq!(f.say(0, &format!("set k 0 0 {}\r\n", fits.len())), "");
    f.send(0, &fits);
    assert_eq!(f.say(0, "\r\n"), "STORED\r\n");
    assert!(
        f.front.clients_held() < 20 * KIB as u64,
        "{}",
        f.front.clients_held()
    );
}

#[test]
fn one_connections_block_leaves_the_others_what_remains() {
    let mut f = Front::new(100 * KIB as u64, 2);
    // Connection 0 is part way through a 70 KiB block: its room is held.
    assert_eq!(f.say(0, "set a 0 0 71680\r\n"), "");
    f.send(0, &[b'a'; 1000]);
    assert_eq!(
        f.say(1, "set b 0 0 40960\r\n"),
        "SERVER_ERROR out of memory storing object\r\n"
    );
    f.send(1, &[b'b'; 40960]);
    assert_eq!(f.say(1, "\r\n"), "");
    // Small items still go through.
    assert_eq!(f.say(1, "set s 0 0 1\r\n1\r\n"), "STORED\r\n");
    // Once 0's block is in, the room is the others' again.
    f.send(0, &vec![b'a'; 71680 - 1000]);
    assert_eq!(f.say(0, "\r\n"), "STORED\r\n");
    assert_eq!(f.say(1, "set b 0 0 40960\r\n"), "");
    f.send(1, &[b'b'; 40960]);
    assert_eq!(f.say(1, "\r\n"), "STORED\r\n");
    // A connection gone gives back all it held.
    let (mut conn, _) = f.conns.remove(0);
    f.say(0, "set c 0 0 51200\r\n");
    assert!(f.front.clients_held() > 50 * KIB as u64);
    conn.release(&mut f.front);
    let (mut conn, _) = f.conns.remove(0);
    conn.release(&mut f.front);
    assert_eq!(f.front.clients_held(), 0);
}

#[test]
fn replies_that_outgrow_the_budget_close_their_connection() {
    let mut f = Front::new(200 * KIB as u64, 2);
    let value = vec![b'v'; 80 * KIB];
    assert_eq!(f.say(0, &format!("set big 0 0 {}\r\n", value.len())), "");
    f.send(0, &value);
    assert_eq!(f.say(0, "\r\n"), "STORED\r\n");
    // One copy fits.
    let (reply, flow) = f.send(1, b"get big\r\n");
    assert_eq!((reply.len() > 80 * KIB, flow), (true, Flow::Open));
    // Three copies in one reply do not: the connection closes (its
    // replies so far are still sent).
    let (reply, flow) = f.send(1, b"get big big big\r\n");
    assert_eq!(flow, Flow::Close);
    assert!(reply.len() > 160 * KIB);
    assert_eq!(f.front.counters.response_obj_oom, 1);
    // Once its replies are sent the stream server closes it, and what it
    // held is the others' again: the other connection goes on.
    let (mut gone, _) = f.conns.remove(1);
    gone.release(&mut f.front);
    assert_eq!(f.say(0, "mn\r\n"), "MN\r\n");
}

/// A binary SET of `key` with `value`.
fn binary_set(key: &[u8], value: &[u8]) -> Vec<u8> {
    let body = 8 + key.len() + value.len();
    let mut p = vec![0x80, 0x01];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.extend_from_slice(&[8, 0, 0, 0]);
    p.extend_from_slice(&(body as u32).to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(&[0; 8]);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// The status of a binary response.
fn status(reply: &[u8]) -> u16 {
    assert_eq!(reply[0], 0x81, "{reply:?}");
    u16::from_be_bytes([reply[6], reply[7]])
}

#[test]
fn a_binary_value_past_the_budget_is_refused_with_out_of_memory() {
    let mut f = Front::new(100 * KIB as u64, 1);
    let big = binary_set(b"k", &vec![b'x'; 150 * KIB]);
    // The head alone: refused before the value comes.
    let (reply, flow) = f.send(0, &big[..24 + 8 + 1]);
    assert_eq!((status(&reply), flow), (0x82, Flow::Open));
    // The value is thrown away; the next request is answered.
    let (reply, _) = f.send(0, &big[24 + 8 + 1..]);
    assert!(reply.is_empty());
    let (reply, _) = f.send(0, &binary_set(b"k", b"small"));
    assert_eq!(status(&reply), 0);
    assert_eq!(f.front.counters.store_no_memory, 1);
}

#[test]
fn many_small_connections_fit_where_few_large_ones_would() {
    // 200 connections, each storing and reading a small item, under a
    // budget 2 MiB: they hold a few KiB each, not an item's worst case.
    let mut f = Front::new(2 << 20, 200);
    for c in 0..200 {
        let line = format!("set k{c} 0 0 5\r\nhello\r\nget k{c}\r\n");
        assert_eq!(
            f.say(c, &line),
            format!("STORED\r\nVALUE k{c} 0 5\r\nhello\r\nEND\r\n")
        );
    }
    assert!(
        f.front.clients_held() < 200 * 4 * KIB as u64,
        "{}",
        f.front.clients_held()
    );
}

#[test]
fn a_command_line_that_outgrows_the_budget_closes_its_connection() {
    // A `get` line may reach 256 KiB, but not past what the budget has.
    let mut f = Front::new(64 * KIB as u64, 2);
    let mut flow = Flow::Open;
    let piece = format!("get {}", "k ".repeat(2000));
    for _ in 0..40 {
        flow = f.send(0, piece.as_bytes()).1;
        if flow == Flow::Close {
            break;
        }
    }
    assert_eq!(flow, Flow::Close);
    assert_eq!(f.stat(1, "read_buf_oom"), 1);
    assert_eq!(f.stat(1, "response_obj_oom"), 0);
}
