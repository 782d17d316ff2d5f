//! `MEMORY STATS`: Redis 7.0's fields, from what the kvs server knows of
//! its heap: the memory in use (the store's gauge), what the allocator
//! holds for it (the `held` gauge), the most in use since the gauge came
//! and what it was then, the log's buffers, and the keys. The fields for
//! what Basalt does not have in this component are 0: replication,
//! cluster links, Lua and functions (none), and the clients' buffers
//! (the front ends hold them, in their own heaps). The heap is mapped
//! whole when the component starts, so there is no resident size apart
//! from what the allocator holds: the `rss` ratios are 1. The server
//! answers it before the store sees it, outside MULTI.

use alloc::vec::Vec;
use kvs_core::{DATABASES, Reply, Store};

/// The memory in use when the gauge came, and the most since.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Footprint {
    pub(crate) startup: u64,
    pub(crate) peak: u64,
}

/// Whether `args` is `MEMORY STATS` (of the right arity; anything else
/// goes to the store, which has Redis's errors).
pub(crate) fn is_stats(args: &[&[u8]]) -> bool {
    args.len() == 2
        && args[0].eq_ignore_ascii_case(b"MEMORY")
        && args[1].eq_ignore_ascii_case(b"STATS")
}

/// The bytes Redis's dict would spend on `n` entries of `per` bytes
/// each: the entries and a table of pointers a power of two long.
fn dict_bytes(n: u64, per: u64) -> u64 {
    let slots = if n == 0 {
        0
    } else {
        n.next_power_of_two().max(4)
    };
    n * per + slots * 8
}

/// The reply to `MEMORY STATS` at `now_ms`: `held` is what the allocator
/// holds, `log` the log's buffered bytes.
pub(crate) fn stats(
    store: &Store,
    footprint: Footprint,
    held: Option<u64>,
    log: u64,
    now_ms: u64,
) -> Reply {
    let used = store.used_memory().unwrap_or(0);
    let held = held.unwrap_or(used).max(used);
    let int = |n: u64| Reply::Integer(i64::try_from(n).unwrap_or(i64::MAX));
    // Redis computes the ratios in `float`.
    let ratio = |a: u64, b: u64| {
        let r = if b == 0 { 0.0 } else { a as f32 / b as f32 };
        Reply::Double(kvs_core::num::fmt_double(f64::from(r)))
    };
    let key = |s: &str| Reply::bulk(s.as_bytes());
    let mut fields: Vec<(Reply, Reply)> = [
        ("peak.allocated", footprint.peak.max(used)),
        ("total.allocated", used),
        ("startup.allocated", footprint.startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", 0),
        ("cluster.links", 0),
        ("aof.buffer", log),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ]
    .into_iter()
    .map(|(k, v)| (key(k), int(v)))
    .collect();
    let mut overhead = footprint.startup;
    let mut keys = 0u64;
    for db in 0..DATABASES {
        let (n, volatile, _) = store.keyspace(db, now_ms);
        if n == 0 {
            continue;
        }
        keys += n as u64;
        // What Redis's dicts would take for these keys: an entry and an
        // object per key, an entry per expiry.
        let main = dict_bytes(n as u64, 24 + 16);
        let expires = dict_bytes(volatile as u64, 24);
        overhead += main + expires;
        fields.push((
            key(&alloc::format!("db.{db}")),
            Reply::Map(alloc::vec![
                (key("overhead.hashtable.main"), int(main)),
                (key("overhead.hashtable.expires"), int(expires)),
                (key("overhead.hashtable.slot-to-keys"), int(0)),
            ]),
        ));
    }
    let dataset = used.saturating_sub(overhead);
    let beyond_startup = used.saturating_sub(footprint.startup);
    let per_key = beyond_startup.checked_div(keys).unwrap_or(0);
    let peak = footprint.peak.max(used);
    fields.extend([
        (key("overhead.total"), int(overhead)),
        (key("keys.count"), int(keys)),
        (key("keys.bytes-per-key"), int(per_key)),
        (key("dataset.bytes"), int(dataset)),
        (
            key("dataset.percentage"),
            ratio(dataset.saturating_mul(100), beyond_startup),
        ),
        (
            key("peak.percentage"),
            ratio(used.saturating_mul(100), peak),
        ),
        (key("allocator.allocated"), int(used)),
        (key("allocator.active"), int(held)),
        (key("allocator.resident"), int(held)),
        (key("allocator-fragmentation.ratio"), ratio(held, used)),
        (key("allocator-fragmentation.bytes"), int(held - used)),
        (key("allocator-rss.ratio"), ratio(1, 1)),
        (key("allocator-rss.bytes"), int(0)),
        (key("rss-overhead.ratio"), ratio(1, 1)),
        (key("rss-overhead.bytes"), int(0)),
        (key("fragmentation"), ratio(held, used)),
        (key("fragmentation.bytes"), int(held - used)),
    ]);
    Reply::Map(fields)
}
