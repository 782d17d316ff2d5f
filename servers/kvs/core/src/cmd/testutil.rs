//! Helpers for the per-family tests: a store, a session and a clock.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{Reply, Session, Store};

/// A store and one session, with a settable clock.
pub(crate) struct T {
    pub(crate) store: Store,
    pub(crate) s: Session,
    pub(crate) now: u64,
}

impl T {
    pub(crate) fn new() -> T {
        T {
            store: Store::with_seed(42),
            s: Session::new(),
            now: 1_000_000,
        }
    }

    /// Runs a command given as space-separated words; its reply as RESP2
    /// types it (the diff tests check the RESP3 types).
    pub(crate) fn run(&mut self, line: &str) -> Reply {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.argv(&args)
    }

    /// Runs a command given as separate arguments (binary or with spaces).
    pub(crate) fn argv(&mut self, args: &[&[u8]]) -> Reply {
        self.store.execute(&mut self.s, args, self.now).into_resp2()
    }
}

pub(crate) fn ok() -> Reply {
    Reply::ok()
}
pub(crate) fn int(n: i64) -> Reply {
    Reply::Integer(n)
}
pub(crate) fn bulk(s: &str) -> Reply {
    Reply::bulk(s.as_bytes())
}
pub(crate) fn nil() -> Reply {
    Reply::nil()
}
pub(crate) fn err(s: &str) -> Reply {
    Reply::Error(String::from(s))
}
pub(crate) fn arr(items: &[&str]) -> Reply {
    Reply::bulks(items.iter().map(|s| s.as_bytes()))
}
pub(crate) fn simple(s: &str) -> Reply {
    Reply::simple(s)
}

/// The bulk strings of an array reply, sorted (for unordered replies).
pub(crate) fn sorted(r: Reply) -> Vec<String> {
    let mut v = strings(r);
    v.sort();
    v
}

/// The bulk strings of an array reply, in order.
pub(crate) fn strings(r: Reply) -> Vec<String> {
    match r {
        Reply::Array(Some(items)) => items
            .into_iter()
            .map(|i| match i {
                Reply::Bulk(Some(b)) => String::from_utf8(b).expect("utf8"),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    }
}
