//! The store restarting under the front end: the commands of the round
//! in flight learn whether they took effect (the store's log says), every
//! connection whose session was in the old store is closed at its next
//! command, and new connections see exactly the changes that took effect.
//! The store is the real kvs server with its log on a disk in memory,
//! behind a transport that turns a panic into a crash and starts the
//! next generation on the same disk, as `init` does.

mod common;

use common::*;
use kvs::persist::{DeviceError, Fsync, Log, Persistence, SECTOR, SectorDevice};
use kvs::{Kvs as _, KvsClient, KvsServer, ManualClock};
use libcap::rpc::{Encoder, Local, Transport};
use resp::{Flow, Frontend};
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

type Server = KvsServer<ManualClock>;

/// A disk in memory every generation of the server uses.
#[derive(Clone, Debug)]
struct Disk(Rc<RefCell<Vec<u8>>>);

impl SectorDevice for Disk {
    fn sectors(&self) -> u64 {
        (self.0.borrow().len() / SECTOR) as u64
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), DeviceError> {
        let at = sector as usize * SECTOR;
        buf.copy_from_slice(&self.0.borrow()[at..at + buf.len()]);
        Ok(())
    }
    fn write(&mut self, sector: u64, data: &[u8]) -> Result<(), DeviceError> {
        let at = sector as usize * SECTOR;
        self.0.borrow_mut()[at..at + data.len()].copy_from_slice(data);
        Ok(())
    }
    fn flush(&mut self) -> Result<(), DeviceError> {
        Ok(())
    }
}

fn fault() -> ! {
    panic!("DEBUG SEGFAULT")
}

/// Generation `generation` of the server, its log replayed from `disk`.
fn generation(disk: &Disk, generation: u64) -> Server {
    let mut store = kvs_core::Store::new();
    let (log, _) = Log::open(
        Box::new(disk.clone()) as Box<dyn SectorDevice>,
        &mut store,
        generation,
    )
    .unwrap();
    let mut s = KvsServer::with_store(store, ManualClock(1_700_000_000_000), Vec::new());
    s.set_lineage(generation, None);
    s.enable_debug(fault);
    s.persist(Persistence::new(log, Fsync::Always));
    s
}

struct Crashing {
    local: &'static Local<Server>,
    disk: Disk,
}

impl Transport for Crashing {
    fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, libcap::Error> {
        let local = self.local;
        match catch_unwind(AssertUnwindSafe(|| Transport::call(local, label, words))) {
            Ok(answer) => answer,
            Err(_) => {
                local.restart(generation(&self.disk, local.generation() + 1));
                Err(libcap::Error::Aborted)
            }
        }
    }
}

type Fe = Frontend<kvs::Connection<Crashing>, fn() -> u64>;

fn frontend() -> Fe {
    let disk = Disk(Rc::new(RefCell::new(vec![0; 200 * SECTOR])));
    let local: &'static Local<Server> = Box::leak(Box::new(Local::new(
        generation(&disk, 1),
        Server::rpc_dispatch,
    )));
    let store = kvs::Connection::open(KvsClient::new(Crashing { local, disk }), None).unwrap();
    Frontend::new(store, (|| 0) as fn() -> u64)
}

/// Runs the front end's rounds until no connection waits; each
/// connection's last flow.
fn settle(fe: &mut Fe, conns: &mut [&mut resp::Connection], mut flows: Vec<Flow>) -> Vec<Flow> {
    while flows.contains(&Flow::Wait) {
        fe.flush();
        for (c, flow) in conns.iter_mut().zip(&mut flows) {
            if *flow == Flow::Wait {
                *flow = c.feed(fe, &[]);
            }
        }
    }
    flows
}

const TOOK_EFFECT: &str = "ERR the key-value store restarted after this command took effect; its reply is lost, and so is this connection's state";
const NO_EFFECT: &str = "ERR the key-value store restarted before this command took effect; it had no effect, and this connection's state is lost";

#[test]
fn each_command_of_the_interrupted_round_learns_whether_it_took_effect() {
    let mut fe = frontend();
    let (mut a, mut b, mut idle) = (connect(&mut fe), connect(&mut fe), connect(&mut fe));
    // A connection with state in the store, not in the round.
    assert_eq!(run(&mut idle, &mut fe, "SELECT 1\r\n"), "+OK\r\n");
    assert_eq!(run(&mut idle, &mut fe, "SET x 0\r\n"), "+OK\r\n");
    // And one inside a transaction.
    let mut tx = connect(&mut fe);
    assert_eq!(
        run(&mut tx, &mut fe, "MULTI\r\nINCR n\r\n"),
        "+OK\r\n+QUEUED\r\n"
    );
    // One round: a's INCR and b's RPUSH take effect before b's fault;
    // a's SET after it does not.
    let flows = vec![
        a.feed(&mut fe, b"INCR n\r\n"),
        b.feed(&mut fe, b"RPUSH l x\r\nDEBUG SEGFAULT\r\n"),
    ];
    let flow_a2 = a.feed(&mut fe, b"SET late 1\r\n");
    assert_eq!(flow_a2, Flow::Wait);
    let flows = settle(&mut fe, &mut [&mut a, &mut b], flows);
    assert_eq!(flows, [Flow::Close, Flow::Close]);
    assert_eq!(
        read_all(a.output()),
        [
            Value::Error(TOOK_EFFECT.into()),
            Value::Error(NO_EFFECT.into())
        ]
    );
    assert_eq!(
        read_all(b.output()),
        [
            Value::Error(TOOK_EFFECT.into()),
            Value::Error(NO_EFFECT.into())
        ]
    );
    // The idle connection's SELECT is gone with the old store: its next
    // store command is not run, and it closes.
    assert_eq!(
        drive(&mut idle, &mut fe, b"INCR x\r\n"),
        (format!("-{NO_EFFECT}\r\n").into_bytes(), Flow::Close)
    );
    // The transaction's queue went with the old store: EXEC is not run.
    assert_eq!(
        drive(&mut tx, &mut fe, b"EXEC\r\n"),
        (format!("-{NO_EFFECT}\r\n").into_bytes(), Flow::Close)
    );
    for c in [a, b, idle, tx] {
        fe.disconnect(c);
    }
    // A new connection sees what took effect, and nothing else.
    let mut fresh = connect(&mut fe);
    assert_eq!(
        run(
            &mut fresh,
            &mut fe,
            "MGET n late\r\nLRANGE l 0 -1\r\nSELECT 1\r\nGET x\r\n"
        ),
        "*2\r\n$1\r\n1\r\n$-1\r\n*1\r\n$1\r\nx\r\n+OK\r\n$1\r\n0\r\n"
    );
}
