//! A front end over the kvs server through the component's own store,
//! `kvs::Connection` (rounds, the store's mail): what blocking commands
//! and keyspace events need.

use kvs::{Kvs as _, KvsClient, KvsServer, SharedBuf};
use libcap::rpc::Local;
use resp::Frontend;
use std::cell::Cell;
use std::rc::Rc;

pub type Server = KvsServer<Box<dyn FnMut() -> u64>>;
pub type Fe = Frontend<kvs::Connection<&'static Local<Server>>, Box<dyn FnMut() -> u64>>;

/// A front end over a kvs server, the server, and the server's clock
/// (milliseconds).
pub fn setup() -> (Fe, &'static Local<Server>, Rc<Cell<u64>>) {
    const REGION: usize = 64 * 1024;
    let mem: &'static mut [u8] = Box::leak(vec![0u8; REGION].into_boxed_slice());
    let base = mem.as_mut_ptr();
    // SAFETY: leaked, so mapped for ever; each side copies in and out only
    // while the other does not (the calls are synchronous).
    let (server_side, client_side) = unsafe {
        (
            SharedBuf::new(base, REGION).expect("not null"),
            SharedBuf::new(base, REGION).expect("not null"),
        )
    };
    let now = Rc::new(Cell::new(1_700_000_000_000));
    let hand = now.clone();
    let server: &'static Local<Server> = Box::leak(Box::new(Local::new(
        KvsServer::new(
            Box::new(move || hand.get()) as Box<dyn FnMut() -> u64>,
            vec![("fe".into(), server_side)],
        ),
        Server::rpc_dispatch,
    )));
    server.set_badge(1);
    let kvs = kvs::Connection::open(KvsClient::new(server), Some(("fe", client_side))).unwrap();
    let fe = Frontend::new(
        kvs,
        Box::new(|| 1_700_000_000_000_000u64) as Box<dyn FnMut() -> u64>,
    );
    (fe, server, now)
}
