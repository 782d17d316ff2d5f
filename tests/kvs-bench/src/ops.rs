//! The benchmarks, portable so that their tests run on the host: which
//! commands, the three ways of running them, the timed loop, and the
//! `bench:` lines.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use kvs::Connection;
use kvs_core::{Session, Store};
use libcap::bench::{self, Summary};
use libcap::rpc::Transport;

/// How many distinct keys the commands cycle through (as
/// `redis-benchmark -r 10000` does, in order rather than at random).
pub const KEYS: usize = 10_000;
/// Bytes of a key: `key:` and 12 decimal digits, redis-benchmark's
/// `key:__rand_int__` filled in.
pub const KEY_LEN: usize = 16;
/// The longest value a case uses.
const MAX_VALUE: usize = 100;

/// A command the benchmark times.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// `SET <key> <value>`, answered `+OK`.
    Set,
    /// `GET <key>` of a key the preceding [`Op::Set`] case wrote, answered
    /// with the value.
    Get,
}

impl Op {
    /// The command's name.
    pub fn name(self) -> &'static str {
        match self {
            Op::Set => "SET",
            Op::Get => "GET",
        }
    }
}

/// One benchmark's command: the operation and the value's length.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Case {
    /// The command.
    pub op: Op,
    /// Bytes of the value (all `x`).
    pub value_len: usize,
}

/// The cases, in the order they run on each path: each GET reads what the
/// SET before it wrote. 3-byte values are redis-benchmark's default.
pub const CASES: [Case; 4] = [
    Case {
        op: Op::Set,
        value_len: 3,
    },
    Case {
        op: Op::Get,
        value_len: 3,
    },
    Case {
        op: Op::Set,
        value_len: MAX_VALUE,
    },
    Case {
        op: Op::Get,
        value_len: MAX_VALUE,
    },
];

/// How a command reaches the store.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Path {
    /// [`Connection`] over the `kvs` channel: the kernel carries the call
    /// to the kvs component and its reply back.
    Ipc,
    /// The same [`Connection`] and [`kvs::KvsServer`] code in this
    /// component, joined by `libcap::rpc::Local`: the request encoding,
    /// the RPC marshalling, the server's parsing and the store, without the
    /// kernel. The same work as [`Path::Ipc`] minus the IPC.
    Local,
    /// [`Store::execute`] on the split arguments and
    /// [`Reply::encode_resp2`](kvs_core::Reply::encode_resp2) of its reply:
    /// the store's own work, with no request encoding and no server.
    Store,
}

impl Path {
    /// The name in the benchmark's name.
    pub fn name(self) -> &'static str {
        match self {
            Path::Ipc => "ipc",
            Path::Local => "local",
            Path::Store => "store",
        }
    }
}

/// The benchmark's name on its `bench:` line: `kvs_<op>_<len>b_<path>`,
/// e.g. `kvs_get_3b_ipc` (what `cargo xtask bench kvs-ipc` looks for).
pub fn name(case: Case, path: Path) -> String {
    format!(
        "kvs_{}_{}b_{}",
        case.op.name().to_ascii_lowercase(),
        case.value_len,
        path.name()
    )
}

/// Runs one command and gives back its reply's RESP2 bytes.
pub trait Target {
    /// Runs the command `args`.
    fn run(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, kvs::Error>;
}

impl<T: Transport> Target for Connection<T> {
    fn run(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, kvs::Error> {
        self.command(args)
    }
}

/// [`Path::Store`]: a store, one session, and a fixed time.
#[derive(Debug)]
pub struct Direct {
    store: Store,
    session: Session,
    now_ms: u64,
}

impl Direct {
    /// `store`, used by one session at `now_ms`.
    pub fn new(store: Store, now_ms: u64) -> Self {
        Self {
            store,
            session: Session::new(),
            now_ms,
        }
    }
}

impl<T: Target + ?Sized> Target for &mut T {
    fn run(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, kvs::Error> {
        (**self).run(args)
    }
}

impl Target for Direct {
    fn run(&mut self, args: &[&[u8]]) -> Result<Vec<u8>, kvs::Error> {
        let mut out = Vec::new();
        self.store
            .execute(&mut self.session, args, self.now_ms)
            .encode_resp2(&mut out);
        Ok(out)
    }
}

/// Why a benchmark stopped.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Failure {
    /// The arguments do not bind (no channel `kvs`, say).
    Args(libcap::bind::ArgError),
    /// Opening the connection (`reset`) failed.
    Connect(kvs::Error),
    /// A command got no reply.
    Kvs(Op, kvs::Error),
    /// A command's reply was not the one expected (`got`, escaped).
    WrongReply {
        /// The command.
        op: Op,
        /// Its key.
        key: [u8; KEY_LEN],
        /// The reply.
        got: String,
    },
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Args(e) => write!(f, "error=Args ({e})"),
            Failure::Connect(e) => write!(f, "error={e:?} (opening the connection failed)"),
            Failure::Kvs(op, e) => write!(f, "error={e:?} ({} failed)", op.name()),
            Failure::WrongReply { op, key, got } => write!(
                f,
                "error=WrongReply ({} {} answered \"{got}\")",
                op.name(),
                key.escape_ascii()
            ),
        }
    }
}

/// Writes key number `i` into `key`: `key:` and `i` in 12 zero-padded
/// digits.
pub fn write_key(key: &mut [u8; KEY_LEN], mut i: usize) {
    key[..4].copy_from_slice(b"key:");
    for digit in key[4..].iter_mut().rev() {
        *digit = b'0' + (i % 10) as u8;
        i /= 10;
    }
}

/// Runs `case` on `target`: `warmup` untimed commands, then one timed
/// command per sample, keys cycling through [`KEYS`] from key 0. One
/// sample is the time-stamp counter ticks from before the call to after it
/// returns with the reply's bytes; each reply is then checked. A GET case
/// must follow a SET case of the same length with the same counts (or
/// counts that cover every key), so that every key it reads holds the
/// value.
pub fn run_case(
    target: &mut impl Target,
    case: Case,
    samples: &mut [u32],
    warmup: usize,
) -> Result<Summary, Failure> {
    let value = &[b'x'; MAX_VALUE][..case.value_len.min(MAX_VALUE)];
    let mut expected = Vec::new();
    match case.op {
        Op::Set => expected.extend_from_slice(b"+OK\r\n"),
        Op::Get => kvs_core::Reply::bulk(value).encode_resp2(&mut expected),
    }
    let mut key = [0u8; KEY_LEN];
    let mut next = 0;
    bench::measure(samples, warmup, |_| {
        write_key(&mut key, next);
        next = (next + 1) % KEYS;
        let set: [&[u8]; 3] = [b"SET", &key, value];
        let get: [&[u8]; 2] = [b"GET", &key];
        let args: &[&[u8]] = match case.op {
            Op::Set => &set,
            Op::Get => &get,
        };
        let start = bench::tsc();
        let reply = target.run(args);
        let end = bench::tsc();
        let reply = reply.map_err(|e| Failure::Kvs(case.op, e))?;
        if reply != expected {
            return Err(Failure::WrongReply {
                op: case.op,
                key,
                got: reply
                    .iter()
                    .take(60)
                    .flat_map(|b| b.escape_ascii())
                    .map(char::from)
                    .collect(),
            });
        }
        Ok(end.wrapping_sub(start))
    })
}

/// Runs every case of [`CASES`] on `target` (which reaches the store by
/// `path`) and passes each benchmark's `bench:` line to `line`; returns
/// whether every case produced figures. A case that fails is reported and
/// the rest still run; without a target, each case reports why.
pub fn run_path<T: Target>(
    mut target: Result<T, Failure>,
    path: Path,
    samples: &mut [u32],
    warmup: usize,
    line: &mut dyn FnMut(&str),
) -> bool {
    let mut ok = true;
    for case in CASES {
        let result = match &mut target {
            Ok(target) => run_case(target, case, samples, warmup),
            Err(failure) => Err(failure.clone()),
        };
        ok &= result.is_ok();
        line(&bench_line(&name(case, path), &result));
    }
    ok
}

/// The `bench:` line of a benchmark: its figures in ticks, or why it has
/// none.
pub fn bench_line(name: &str, result: &Result<Summary, Failure>) -> String {
    match result {
        Ok(summary) => format!("bench: {name} {summary} unit=cycles"),
        Err(failure) => format!("bench: {name} {failure}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use kvs::{Kvs, KvsClient, KvsServer, ManualClock};
    use libcap::rpc::Local;

    type Server = KvsServer<ManualClock>;

    fn local() -> Local<Server> {
        Local::new(
            Server::new(ManualClock(0), Vec::new()),
            Server::rpc_dispatch,
        )
    }

    #[test]
    fn keys_are_sixteen_bytes_and_distinct() {
        let mut key = [0u8; KEY_LEN];
        write_key(&mut key, 42);
        assert_eq!(&key, b"key:000000000042");
        write_key(&mut key, KEYS - 1);
        assert_eq!(&key, b"key:000000009999");
    }

    #[test]
    fn names_say_operation_length_and_path() {
        assert_eq!(name(CASES[1], Path::Ipc), "kvs_get_3b_ipc");
        assert_eq!(name(CASES[2], Path::Store), "kvs_set_100b_store");
    }

    /// Every case runs through `Local` and directly on a store, with the
    /// counts given, and each line has its figures.
    fn all_cases(samples: usize, warmup: usize) {
        let server = local();
        let conn = Connection::open(KvsClient::new(&server), None).unwrap();
        let mut direct = Direct::new(Store::new(), 0);
        let mut buf = vec![0u32; samples];
        let mut lines = Vec::new();
        let mut line = |l: &str| lines.push(String::from(l));
        assert!(run_path(Ok(conn), Path::Local, &mut buf, warmup, &mut line));
        assert!(run_path(
            Ok(&mut direct),
            Path::Store,
            &mut buf,
            warmup,
            &mut line
        ));
        assert_eq!(lines.len(), 2 * CASES.len());
        assert!(lines[1].starts_with("bench: kvs_get_3b_local median="));
        assert!(lines[6].starts_with("bench: kvs_set_100b_store median="));
        for l in &lines {
            assert!(
                l.contains(&format!(" n={samples} ")) && l.ends_with(" unit=cycles"),
                "{l}"
            );
        }
        // The commands reached the stores: every key written once.
        let written = (samples + warmup).min(KEYS);
        assert_eq!(server.state().store().dbsize(0), written);
        assert_eq!(direct.store.dbsize(0), written);
    }

    #[test]
    fn every_case_runs_against_the_server_and_the_store() {
        all_cases(200, 20);
    }

    #[test]
    fn gets_find_every_key_once_the_keyspace_wraps() {
        all_cases(KEYS + 100, KEYS / 2);
    }

    #[test]
    fn a_get_of_an_unwritten_key_is_a_wrong_reply() {
        let mut direct = Direct::new(Store::new(), 0);
        let e = run_case(&mut direct, CASES[1], &mut [0; 4], 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "error=WrongReply (GET key:000000000000 answered \"$-1\\r\\n\")"
        );
        assert!(
            bench_line("kvs_get_3b_store", &Err(e)).starts_with("bench: kvs_get_3b_store error=")
        );
    }

    #[test]
    fn a_server_that_is_down_fails_the_case_and_the_rest_still_run() {
        let server = local();
        let conn = Connection::open(KvsClient::new(&server), None).unwrap();
        server.crash();
        let mut lines = Vec::new();
        let ok = run_path(Ok(conn), Path::Ipc, &mut [0; 8], 2, &mut |l| {
            lines.push(String::from(l))
        });
        assert!(!ok);
        assert_eq!(lines.len(), CASES.len());
        assert_eq!(
            lines[0],
            "bench: kvs_set_3b_ipc error=Rpc(Unavailable) (SET failed)"
        );
    }

    #[test]
    fn a_connection_that_cannot_open_is_reported() {
        let server = local();
        server.crash();
        let conn = Connection::open(KvsClient::new(&server), None).map_err(Failure::Connect);
        let mut lines = Vec::new();
        assert!(!run_path(conn, Path::Ipc, &mut [0; 8], 2, &mut |l| {
            lines.push(String::from(l))
        }));
        assert_eq!(
            lines[1],
            "bench: kvs_get_3b_ipc error=Rpc(Unavailable) (opening the connection failed)"
        );
    }

    #[test]
    fn without_a_connection_every_case_says_why() {
        let mut lines = Vec::new();
        let ok = run_path(
            Err::<Direct, _>(Failure::Args(libcap::bind::ArgError::NotGranted {
                key: "kvs",
                name: "kvs",
                kind: "channel",
            })),
            Path::Ipc,
            &mut [0; 8],
            2,
            &mut |l| lines.push(String::from(l)),
        );
        assert!(!ok);
        assert_eq!(lines.len(), CASES.len());
        assert_eq!(
            lines[3],
            "bench: kvs_get_100b_ipc error=Args (argument kvs: no channel `kvs` is granted)"
        );
    }
}
