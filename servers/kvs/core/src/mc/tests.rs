//! The item semantics: outcomes, expiry, CAS, flush delays, incr/decr
//! edges and eviction under a small budget.

use alloc::vec;
use alloc::vec::Vec;

use super::*;
use crate::Store;

/// 2026-01-01 in ms: a clock well past 30 days, so absolute times work.
const T0: u64 = 1_767_225_600_000;

fn set(
    store: &mut Store,
    now: u64,
    mode: Mode,
    key: &[u8],
    value: &[u8],
    cas: u64,
) -> StoreOutcome {
    store.memcached(now).store(&StoreRequest {
        mode,
        key,
        value,
        flags: 7,
        exptime: 0,
        cas,
        invalidate: false,
    })
}

fn get(store: &mut Store, now: u64, key: &[u8]) -> Option<Value> {
    store
        .memcached(now)
        .get(&[key], None)
        .unwrap()
        .pop()
        .unwrap()
}

fn data(store: &mut Store, now: u64, key: &[u8]) -> Option<Vec<u8>> {
    get(store, now, key).map(|v| v.data)
}

#[test]
fn storage_outcomes() {
    let mut s = Store::new();
    assert_eq!(
        set(&mut s, T0, Mode::Replace, b"k", b"v", 0),
        StoreOutcome::NotStored
    );
    assert_eq!(
        set(&mut s, T0, Mode::Append, b"k", b"v", 0),
        StoreOutcome::NotStored
    );
    assert_eq!(
        set(&mut s, T0, Mode::Cas, b"k", b"v", 1),
        StoreOutcome::NotFound
    );
    assert!(matches!(
        set(&mut s, T0, Mode::Add, b"k", b"v", 0),
        StoreOutcome::Stored(_)
    ));
    assert_eq!(
        set(&mut s, T0, Mode::Add, b"k", b"w", 0),
        StoreOutcome::NotStored
    );
    assert!(matches!(
        set(&mut s, T0, Mode::Append, b"k", b"2", 0),
        StoreOutcome::Stored(_)
    ));
    assert!(matches!(
        set(&mut s, T0, Mode::Prepend, b"k", b"0", 0),
        StoreOutcome::Stored(_)
    ));
    let v = get(&mut s, T0, b"k").unwrap();
    assert_eq!((v.data.as_slice(), v.flags), (&b"0v2"[..], 7));
    assert_eq!(
        set(&mut s, T0, Mode::Cas, b"k", b"x", v.cas + 1),
        StoreOutcome::Exists
    );
    assert_eq!(
        set(&mut s, T0, Mode::Cas, b"k", b"x", 0),
        StoreOutcome::Exists
    );
    assert_eq!(
        set(&mut s, T0, Mode::Append, b"k", b"x", v.cas + 1),
        StoreOutcome::Exists
    );
    let StoreOutcome::Stored(cas) = set(&mut s, T0, Mode::Cas, b"k", b"x", v.cas) else {
        panic!("cas with the right unique stores");
    };
    assert!(cas > v.cas);
    assert_eq!(data(&mut s, T0, b"k").unwrap(), b"x");
    let st = s.memcached(T0).stats();
    assert_eq!(st.curr_items, 1);
    assert_eq!(st.bytes, item_size(1, 7, 1) as u64);
    assert_eq!(st.counters.cas_hits, 1);
    assert_eq!(st.counters.cas_badval, 2);
    assert_eq!(st.counters.cas_misses, 1);
}

#[test]
fn namespace_is_apart_from_redis() {
    let mut s = Store::new();
    let mut session = crate::Session::new();
    set(&mut s, T0, Mode::Set, b"k", b"mc", 0);
    assert_eq!(
        s.execute(&mut session, &[b"GET", b"k"], T0),
        crate::Reply::nil()
    );
    s.execute(&mut session, &[b"SET", b"k", b"redis"], T0);
    s.execute(&mut session, &[b"FLUSHALL"], T0);
    assert_eq!(data(&mut s, T0, b"k").unwrap(), b"mc");
    assert_eq!(s.dbsize(0), 0);
}

#[test]
fn expiry_rules() {
    let mut s = Store::new();
    let now_s = (T0 / 1000) as i64;
    let cases: [(i32, u64, bool); 6] = [
        (0, 10_000_000, true),
        (10, 9_999, true),
        (10, 10_000, false),
        (-1, 0, false),
        ((now_s + 100) as i32, 99_000, true),
        ((now_s - 100) as i32, 0, false),
    ];
    for (exptime, later_ms, alive) in cases {
        s.memcached(T0).store(&StoreRequest {
            mode: Mode::Set,
            key: b"e",
            value: b"v",
            flags: 0,
            exptime,
            cas: 0,
            invalidate: false,
        });
        assert_eq!(
            get(&mut s, T0 + later_ms, b"e").is_some(),
            alive,
            "{exptime} after {later_ms} ms"
        );
    }
    // touch and gat move the expiry.
    set(&mut s, T0, Mode::Set, b"t", b"v", 0);
    assert!(s.memcached(T0).touch(b"t", 5));
    assert!(get(&mut s, T0 + 5_000, b"t").is_none());
    set(&mut s, T0, Mode::Set, b"t", b"v", 0);
    s.memcached(T0).get(&[b"t"], Some(2)).unwrap();
    assert!(get(&mut s, T0 + 1_999, b"t").is_some());
    assert!(get(&mut s, T0 + 2_000, b"t").is_none());
    assert!(!s.memcached(T0).touch(b"nope", 5));
}

#[test]
fn flush_now_and_later() {
    let mut s = Store::new();
    set(&mut s, T0, Mode::Set, b"a", b"1", 0);
    s.memcached(T0).flush_all(0);
    assert!(get(&mut s, T0, b"a").is_none());
    // Stored after the flush, in the same second: still there.
    set(&mut s, T0, Mode::Set, b"b", b"1", 0);
    assert!(get(&mut s, T0, b"b").is_some());
    // A delayed flush invalidates what was stored before its time.
    s.memcached(T0).flush_all(10);
    set(&mut s, T0 + 5_000, Mode::Set, b"c", b"1", 0);
    assert!(get(&mut s, T0 + 8_000, b"b").is_some());
    assert!(get(&mut s, T0 + 9_000, b"b").is_none());
    assert!(get(&mut s, T0 + 9_000, b"c").is_none());
    set(&mut s, T0 + 11_000, Mode::Set, b"d", b"1", 0);
    assert!(get(&mut s, T0 + 11_000, b"d").is_some());
    assert_eq!(s.memcached(T0).stats().counters.get_flushed, 3);
}

#[test]
fn incr_decr_rules() {
    let mut s = Store::new();
    let arith = |incr, delta| Arith {
        incr,
        delta,
        cas: 0,
        vivify: None,
        touch: None,
        vivify_after_touch: false,
    };
    assert_eq!(
        s.memcached(T0).arith(b"n", &arith(true, 1)),
        ArithOutcome::NotFound
    );
    set(&mut s, T0, Mode::Set, b"n", b"100", 0);
    let v = |o: ArithOutcome| match o {
        ArithOutcome::Value { value, .. } => value,
        other => panic!("{other:?}"),
    };
    assert_eq!(v(s.memcached(T0).arith(b"n", &arith(false, 1))), 99);
    assert_eq!(data(&mut s, T0, b"n").unwrap(), b"99 ", "padded in place");
    assert_eq!(
        v(s.memcached(T0).arith(b"n", &arith(false, 1000))),
        0,
        "decr floors at 0"
    );
    set(&mut s, T0, Mode::Set, b"n", b"18446744073709551615", 0);
    assert_eq!(
        v(s.memcached(T0).arith(b"n", &arith(true, 2))),
        1,
        "incr wraps"
    );
    set(&mut s, T0, Mode::Set, b"n", b"9", 0);
    assert_eq!(v(s.memcached(T0).arith(b"n", &arith(true, 1))), 10);
    assert_eq!(data(&mut s, T0, b"n").unwrap(), b"10", "grows");
    for bad in [&b"x"[..], b"", b"-1", b"18446744073709551616", b"1a"] {
        set(&mut s, T0, Mode::Set, b"n", bad, 0);
        assert_eq!(
            s.memcached(T0).arith(b"n", &arith(true, 1)),
            ArithOutcome::NonNumeric,
            "{bad:?}"
        );
    }
    let mut viv = arith(true, 5);
    viv.vivify = Some((0, 42));
    assert!(matches!(
        s.memcached(T0).arith(b"m", &viv),
        ArithOutcome::Value { value: 42, .. }
    ));
    assert_eq!(v(s.memcached(T0).arith(b"m", &viv)), 47);
}

#[test]
fn meta_get_recache_and_stale() {
    let mut s = Store::new();
    let miss = s.memcached(T0).meta_get(
        b"k",
        &MetaGet {
            vivify: Some(30),
            ..Default::default()
        },
    );
    let hit = miss.expect("vivified");
    assert!(hit.won && hit.size == 0 && hit.ttl_before == -1 && hit.ttl_vivified == 30);
    let again = s.memcached(T0).meta_get(b"k", &MetaGet::default()).unwrap();
    assert!(again.token_sent && !again.won);
    // md I marks stale; the next fetch wins, the one after sees Z.
    set(&mut s, T0, Mode::Set, b"s", b"v", 0);
    let del = Delete {
        invalidate: true,
        ..Default::default()
    };
    assert_eq!(s.memcached(T0).delete(b"s", &del), DeleteOutcome::Deleted);
    let first = s.memcached(T0).meta_get(b"s", &MetaGet::default()).unwrap();
    assert!(first.stale && first.won && !first.token_sent);
    let second = s.memcached(T0).meta_get(b"s", &MetaGet::default()).unwrap();
    assert!(second.stale && !second.won && second.token_sent);
    // R wins when the item expires sooner than the token says.
    s.memcached(T0).store(&StoreRequest {
        mode: Mode::Set,
        key: b"r",
        value: b"v",
        flags: 0,
        exptime: 10,
        cas: 0,
        invalidate: false,
    });
    let r = MetaGet {
        recache: Some(30),
        ..Default::default()
    };
    assert!(s.memcached(T0).meta_get(b"r", &r).unwrap().won);
    assert!(!s.memcached(T0).meta_get(b"r", &r).unwrap().won);
}

#[test]
fn evicts_least_recently_used() {
    let mut s = Store::new();
    let one = item_size(2, 7, 100) as u64;
    s.memcached_items().set_limit(one * 3);
    let value = vec![b'x'; 100];
    for key in [b"k1", b"k2", b"k3"] {
        assert!(matches!(
            set(&mut s, T0, Mode::Set, key, &value, 0),
            StoreOutcome::Stored(_)
        ));
    }
    // k1 is used, so k2 is the oldest.
    assert!(get(&mut s, T0, b"k1").is_some());
    assert!(matches!(
        set(&mut s, T0, Mode::Set, b"k4", &value, 0),
        StoreOutcome::Stored(_)
    ));
    assert!(get(&mut s, T0, b"k2").is_none());
    assert!(get(&mut s, T0, b"k1").is_some());
    let st = s.memcached(T0).stats();
    assert_eq!((st.curr_items, st.counters.evictions), (3, 1));
    assert!(st.bytes <= one * 3);
    // Nothing fits an item larger than the whole budget.
    let huge = vec![b'y'; 500];
    assert_eq!(
        set(&mut s, T0, Mode::Set, b"k5", &huge, 0),
        StoreOutcome::OutOfMemory
    );
    assert_eq!(s.memcached(T0).stats().counters.store_no_memory, 1);
}

#[test]
fn the_items_take_at_most_half_of_maxmemory() {
    let mut s = Store::new();
    s.configure("maxmemory", "2000000").unwrap();
    let value = vec![b'x'; 100_000];
    let keys: Vec<Vec<u8>> = (0..30)
        .map(|i| alloc::format!("k{i}").into_bytes())
        .collect();
    for key in &keys {
        assert!(matches!(
            set(&mut s, T0, Mode::Set, key, &value, 0),
            StoreOutcome::Stored(_)
        ));
    }
    let st = s.memcached(T0).stats();
    assert!(st.bytes <= 1_000_000, "{} bytes of items", st.bytes);
    assert!(st.counters.evictions > 0);
    // The newest are there, the oldest went.
    assert!(get(&mut s, T0, &keys[29]).is_some());
    assert!(get(&mut s, T0, &keys[0]).is_none());
}

#[test]
fn delete_and_debug() {
    let mut s = Store::new();
    assert_eq!(
        s.memcached(T0).delete(b"k", &Delete::default()),
        DeleteOutcome::NotFound
    );
    let StoreOutcome::Stored(cas) = set(&mut s, T0, Mode::Set, b"k", b"v", 0) else {
        panic!()
    };
    let info = s.memcached(T0 + 3_000).debug(b"k").unwrap();
    assert_eq!(
        (info.exp, info.last_access, info.cas, info.fetched),
        (-1, 3, cas, false)
    );
    assert_eq!((info.class, info.size), (1, 65), "flags 7 take 4 bytes");
    let wrong = Delete {
        cas: cas + 1,
        ..Default::default()
    };
    assert_eq!(s.memcached(T0).delete(b"k", &wrong), DeleteOutcome::Exists);
    assert_eq!(
        s.memcached(T0).delete(b"k", &Delete::default()),
        DeleteOutcome::Deleted
    );
    assert!(s.memcached(T0).debug(b"k").is_none());
}
