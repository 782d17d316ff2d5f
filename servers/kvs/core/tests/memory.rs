//! `maxmemory`, the eviction policies and the memory ceiling, measured as
//! the kvs component measures them: by the allocator. This test binary's
//! global allocator counts the bytes each thread has allocated, and the
//! store's gauge reads the count of the thread running the test, so tests
//! running side by side do not see each other.
//!
//! Every test checks the invariant eviction promises after each command
//! it runs: a command that is not refused starts with the memory in use
//! at most `maxmemory`, unless the policy has nothing left to evict.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use kvs_core::memory::OOM;
use kvs_core::{Reply, Session, Store};

struct Counting;

thread_local! {
    static USED: Cell<i64> = const { Cell::new(0) };
}

fn add(n: i64) {
    // A thread being torn down has no counter left; its frees count nowhere.
    let _ = USED.try_with(|u| u.set(u.get() + n));
}

// SAFETY: forwards to the system allocator, only counting sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as i64);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as i64));
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as i64 - layout.size() as i64);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn used() -> u64 {
    USED.with(|u| u.get().max(0) as u64)
}

/// A store measured by this thread's allocations, its clock, and a
/// session.
struct T {
    store: Store,
    s: Session,
    now: u64,
}

const MIB: u64 = 1 << 20;
/// What the test's own allocations may add to the count.
const SLACK: u64 = 16 << 10;

impl T {
    /// A store whose data may grow by `room` past what is allocated now,
    /// and at most to `ceiling` more than that.
    fn new(policy: &str, room: u64, ceiling: u64) -> T {
        let mut store = Store::with_seed(7);
        let base = used();
        store.set_memory(used, base + ceiling);
        store.configure("maxmemory-policy", policy).unwrap();
        store
            .configure("maxmemory", &(base + room).to_string())
            .unwrap();
        T {
            store,
            s: Session::new(),
            now: 1_700_000_000_000,
        }
    }

    fn argv(&mut self, args: &[&[u8]]) -> Reply {
        let max = self.store.limits().maxmemory;
        let reply = self.store.execute(&mut self.s, args, self.now);
        // Eviction ran before the command: unless it was refused, memory
        // was under the limit when it started. Check what the next
        // command will see with a command that never grows anything.
        let mut probe = Session::new();
        let after = self.store.execute(&mut probe, &[b"PING"], self.now);
        assert_eq!(after, Reply::simple("PONG"));
        // What the test itself holds (its arguments, this reply) moves the
        // count by a few KiB either way.
        let over = max > 0 && used() > max + SLACK;
        if over {
            assert!(
                self.nothing_to_evict(),
                "{} used, {max} allowed, and keys the policy may pick remain",
                used()
            );
        }
        reply
    }

    /// Sets `maxmemory` well below what is in use, so that the store is
    /// out of memory whatever the test allocates meanwhile.
    fn squeeze(&mut self) {
        let max = used() - 256 * 1024;
        self.store.configure("maxmemory", &max.to_string()).unwrap();
    }

    fn run(&mut self, line: &str) -> Reply {
        let args: Vec<&[u8]> = line.split_whitespace().map(str::as_bytes).collect();
        self.argv(&args)
    }

    /// Whether the policy has no key left to pick.
    fn nothing_to_evict(&mut self) -> bool {
        let policy = self.store.limits().policy;
        let volatile = policy.name().starts_with("volatile");
        let noeviction = policy.name() == "noeviction";
        let mut s = Session::new();
        let mut keys = 0;
        for db in 0..16 {
            self.store
                .execute(&mut s, &[b"SELECT", db.to_string().as_bytes()], self.now);
            keys += match self.store.execute(&mut s, &[b"KEYS", b"*"], self.now) {
                Reply::Array(Some(items)) if volatile => items
                    .iter()
                    .filter(|k| {
                        let Reply::Bulk(Some(k)) = k else {
                            return false;
                        };
                        self.store.execute(&mut s, &[b"TTL", k], self.now) != Reply::Integer(-1)
                    })
                    .count(),
                Reply::Array(Some(items)) => items.len(),
                other => panic!("KEYS: {other:?}"),
            };
        }
        noeviction || keys == 0
    }

    fn int(&mut self, line: &str) -> i64 {
        match self.run(line) {
            Reply::Integer(n) => n,
            other => panic!("{line}: {other:?}"),
        }
    }
}

fn oom() -> Reply {
    Reply::error(OOM)
}

/// A 1 KiB value numbered `i`.
fn value(i: usize) -> String {
    format!("{i:01024}")
}

#[test]
fn noeviction_refuses_growth_but_not_reads_or_deletes() {
    let mut t = T::new("noeviction", MIB, 64 * MIB);
    let mut stored = 0;
    while stored < 10_000 {
        let v = value(stored);
        match t.argv(&[b"SET", format!("k{stored}").as_bytes(), v.as_bytes()]) {
            r if r == Reply::ok() => stored += 1,
            r => {
                assert_eq!(r, oom());
                break;
            }
        }
    }
    assert!(
        (500..2000).contains(&stored),
        "1 MiB holds {stored} keys of 1 KiB"
    );
    t.squeeze();
    assert_eq!(
        t.run("GET k0"),
        Reply::bulk(value(0).as_bytes()),
        "reads run"
    );
    for grow in [
        "INCR n",
        "RPUSH l x",
        "SADD s x",
        "APPEND k0 x",
        "SETRANGE k0 0 y",
        "SETBIT k0 0 1",
        "BITFIELD k0 SET u8 0 1",
        "BITOP NOT n k0",
        "COPY k0 n",
    ] {
        assert_eq!(t.run(grow), oom(), "{grow}");
    }
    for read in [
        "GETBIT k0 0",
        "BITCOUNT k0",
        "BITPOS k0 1",
        "BITFIELD_RO k0 GET u8 0",
    ] {
        assert!(
            matches!(t.run(read), Reply::Integer(_) | Reply::Array(_)),
            "{read}"
        );
    }
    assert_eq!(t.int("TOUCH k0"), 1);
    let last = format!("MOVE k{} 1", stored - 1);
    assert_eq!(t.int(&last), 1, "moving is not growth");
    assert_eq!(t.int("EXPIRE k1 100"), 1, "expiry is not growth");
    assert_eq!(t.int("EXISTS k0"), 1);
    // Inside MULTI everything queued is refused, and EXEC then aborts.
    assert_eq!(t.run("MULTI"), Reply::ok());
    assert_eq!(t.run("GET k0"), oom());
    assert_eq!(
        t.run("EXEC"),
        Reply::error("EXECABORT Transaction discarded because of previous errors.")
    );
    // Deleting makes room again.
    t.store
        .configure("maxmemory", &(used() + 64 * 1024).to_string())
        .unwrap();
    let doomed: Vec<String> = (0..stored / 2).map(|i| format!("k{i}")).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(doomed.iter().map(|k| k.as_bytes()));
    assert_eq!(t.argv(&del), Reply::Integer(stored as i64 / 2));
    assert_eq!(t.run("SET again 1"), Reply::ok());
    assert_eq!(t.store.evicted_keys(), 0);
}

#[test]
fn exec_is_refused_when_memory_ran_out_after_queueing() {
    let mut t = T::new("noeviction", MIB, 64 * MIB);
    assert_eq!(t.run("MULTI"), Reply::ok());
    assert_eq!(t.run("SET a 1"), Reply::simple("QUEUED"));
    // Another client fills the memory meanwhile.
    let mut other = Session::new();
    for i in 0.. {
        let v = value(i);
        let r = t.store.execute(
            &mut other,
            &[b"SET", i.to_string().as_bytes(), v.as_bytes()],
            t.now,
        );
        if r != Reply::ok() {
            break;
        }
    }
    t.squeeze();
    assert_eq!(
        t.run("EXEC"),
        Reply::error(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'."
        )
    );
    assert!(!t.s.in_multi());
    // A transaction of reads and deletions still runs.
    assert_eq!(t.run("MULTI"), Reply::ok());
    assert_eq!(t.run("MULTI"), oom(), "queued or not, refused");
    assert_eq!(t.run("DISCARD"), Reply::ok(), "DISCARD is never refused");
}

/// Fills `t` with 1 KiB keys (`prefix` and a number, TTL when `ttl`) while
/// `hot` keys are read between writes; returns how many were written.
fn churn(t: &mut T, keys: usize, ttl: bool, hot: &[&str]) -> usize {
    for i in 0..keys {
        let v = value(i);
        let key = format!("cold{i}");
        let mut args: Vec<&[u8]> = vec![b"SET", key.as_bytes(), v.as_bytes()];
        if ttl {
            args.extend([&b"EX"[..], b"100000"]);
        }
        assert_eq!(t.argv(&args), Reply::ok(), "write {i}");
        for h in hot {
            assert!(matches!(t.run(&format!("GET {h}")), Reply::Bulk(_)));
        }
        t.now += 1000;
    }
    keys
}

fn exists(t: &mut T, keys: &[&str]) -> usize {
    keys.iter()
        .filter(|k| t.int(&format!("EXISTS {k}")) == 1)
        .count()
}

#[test]
fn allkeys_lru_keeps_what_is_read() {
    let mut t = T::new("allkeys-lru", 2 * MIB, 64 * MIB);
    let hot = ["hot1", "hot2", "hot3", "hot4"];
    for h in hot {
        t.run(&format!("SET {h} {}", value(1)));
    }
    churn(&mut t, 6000, false, &hot);
    let evicted = t.store.evicted_keys();
    assert!(evicted > 3000, "{evicted} evicted");
    assert_eq!(exists(&mut t, &hot), hot.len(), "recently read keys stay");
    // Keys written first (and never read) went first.
    let early: Vec<String> = (0..100).map(|i| format!("cold{i}")).collect();
    let early: Vec<&str> = early.iter().map(String::as_str).collect();
    assert!(exists(&mut t, &early) < 10);
}

#[test]
fn allkeys_lfu_keeps_what_is_read_often() {
    let mut t = T::new("allkeys-lfu", 2 * MIB, 64 * MIB);
    let hot = ["hot1", "hot2"];
    for h in hot {
        t.run(&format!("SET {h} {}", value(1)));
        for _ in 0..200 {
            t.run(&format!("GET {h}"));
        }
    }
    assert!(t.int("OBJECT FREQ hot1") > 5, "reads raise the counter");
    // Counters decay by one a minute (the clock moves a second a write),
    // so the hot keys stay hot only while they are read.
    churn(&mut t, 6000, false, &hot);
    assert!(t.store.evicted_keys() > 3000);
    assert_eq!(exists(&mut t, &hot), 2, "frequently read keys stay");
}

#[test]
fn volatile_policies_evict_only_keys_with_an_expiry() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let mut t = T::new(policy, 2 * MIB, 64 * MIB);
        let keep: Vec<String> = (0..300).map(|i| format!("keep{i}")).collect();
        for k in &keep {
            assert_eq!(t.run(&format!("SET {k} {}", value(2))), Reply::ok());
        }
        churn(&mut t, 3000, true, &[]);
        assert!(t.store.evicted_keys() > 1000, "{policy}");
        let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
        assert_eq!(
            exists(&mut t, &keep),
            300,
            "{policy} kept every persistent key"
        );
        // With no key with an expiry left, it is out of memory.
        let mut refused = false;
        for i in 0..4000 {
            let r = t.run(&format!("SET more{i} {}", value(i)));
            if r == oom() {
                refused = true;
                break;
            }
        }
        assert!(refused, "{policy}");
        assert_eq!(exists(&mut t, &keep), 300, "{policy}");
    }
}

#[test]
fn volatile_ttl_evicts_the_nearest_expiry_first() {
    let mut t = T::new("volatile-ttl", MIB, 64 * MIB);
    // Expiries far apart: key i expires at i hours.
    let mut i = 0;
    while t.store.evicted_keys() == 0 {
        let ttl = 3600 * (i + 1);
        assert_eq!(
            t.run(&format!("SET t{i} {} EX {ttl}", value(i))),
            Reply::ok()
        );
        i += 1;
    }
    let evicted = t.store.evicted_keys() as usize;
    for j in 0..evicted {
        assert_eq!(t.int(&format!("EXISTS t{j}")), 0, "t{j} expired soonest");
    }
    assert_eq!(t.int(&format!("EXISTS t{}", i - 1)), 1);
}

#[test]
fn allkeys_random_evicts_across_databases() {
    let mut t = T::new("allkeys-random", 2 * MIB, 64 * MIB);
    for db in 0..4 {
        t.run(&format!("SELECT {db}"));
        for i in 0..1500 {
            assert_eq!(t.run(&format!("SET k{i} {}", value(i))), Reply::ok());
        }
    }
    let evicted = t.store.evicted_keys() as usize;
    let mut left = 0;
    for db in 0..4 {
        left += t.store.dbsize(db);
    }
    assert_eq!(left + evicted, 6000, "every key is stored or was evicted");
    assert!(evicted > 3000);
}

#[test]
fn growth_past_the_ceiling_is_refused_without_allocating() {
    // No maxmemory: only the ceiling stands between a client and the
    // allocator's failure.
    let mut t = T::new("noeviction", 0, 16 * MIB);
    t.store.configure("maxmemory", "0").unwrap();
    let chunk = vec![b'x'; 4 << 20];
    let mut appended = 0;
    for _ in 0..16 {
        match t.argv(&[b"APPEND", b"big", &chunk]) {
            Reply::Integer(n) => appended = n,
            r => {
                assert_eq!(r, oom());
                break;
            }
        }
    }
    assert!(appended >= 4 << 20, "the first appends fit");
    assert!(appended < 16 << 20, "the ceiling stopped it at {appended}");
    assert_eq!(
        t.int("STRLEN big"),
        appended,
        "a refused append changed nothing"
    );
    assert!(used() < t.store.limits().maxmemory.max(1) + 17 * MIB);
    for huge in ["SETRANGE new 400000000 x", "SETRANGE big 400000000 x"] {
        assert_eq!(t.run(huge), oom(), "{huge}");
    }
    assert_eq!(t.int("EXISTS new"), 0);
}

#[test]
fn bitmaps_and_copies_past_the_ceiling_are_refused_without_allocating() {
    let mut t = T::new("noeviction", 0, 16 * MIB);
    t.store.configure("maxmemory", "0").unwrap();
    let ten_mib = (10 << 20).to_string();
    assert_eq!(t.int(&format!("SETRANGE big {ten_mib} x")), (10 << 20) + 1);
    let before = used();
    for huge in [
        // Bits far out: 400 MB of string.
        "SETBIT far 3200000000 1",
        "SETBIT big 3200000000 1",
        "BITFIELD far SET u8 #400000000 1",
        "BITFIELD big INCRBY i64 3200000000 1",
        "BITFIELD far OVERFLOW FAIL SET u8 3200000000 1000",
        // Results and copies of 10 MiB, with 6 MiB of room.
        "BITOP NOT d big",
        "BITOP AND d big nope",
        "BITOP OR big big big",
        "COPY big copy",
    ] {
        assert_eq!(t.run(huge), oom(), "{huge}");
    }
    assert!(used() < before + MIB, "nothing was allocated");
    for gone in ["far", "d", "copy"] {
        assert_eq!(t.int(&format!("EXISTS {gone}")), 0, "{gone}");
    }
    assert_eq!(t.int("STRLEN big"), (10 << 20) + 1, "big unchanged");
    assert_eq!(t.int("GETBIT big 3200000000"), 0);
    assert_eq!(t.int("BITCOUNT big"), 4, "the x");
    // What fits still runs.
    assert_eq!(t.int("SETBIT big 7 1"), 0);
    assert_eq!(t.int("SETBIT small 800000 1"), 0);
    assert_eq!(t.int("BITOP NOT d small"), 100_001);
    assert_eq!(t.int("COPY small copy"), 1);
    assert_eq!(t.int("MOVE big 1"), 1, "moving allocates no value");
}

#[test]
fn idle_time_and_frequency_follow_the_clock() {
    let mut t = T::new("allkeys-lru", 64 * MIB, 64 * MIB);
    t.run("SET k v");
    t.now += 10_500;
    assert_eq!(t.int("OBJECT IDLETIME k"), 10);
    assert_eq!(t.int("OBJECT IDLETIME k"), 10, "OBJECT is not an access");
    assert_eq!(t.int("TTL k"), -1);
    assert_eq!(t.int("OBJECT IDLETIME k"), 10, "nor is TTL");
    t.run("GET k");
    assert_eq!(t.int("OBJECT IDLETIME k"), 0);
    assert_eq!(t.run("OBJECT IDLETIME nope"), Reply::nil());
    assert!(
        matches!(t.run("OBJECT FREQ k"), Reply::Error(e) if e.contains("LFU maxmemory policy is not selected"))
    );
    t.run("CONFIG SET maxmemory-policy allkeys-lfu");
    t.run("SET f v");
    assert_eq!(t.int("OBJECT FREQ f"), 5, "new keys start at 5");
    for _ in 0..100 {
        t.run("GET f");
    }
    let hot = t.int("OBJECT FREQ f");
    assert!(hot > 5, "{hot}");
    // One minute per step of decay (lfu-decay-time 1).
    t.now += 3 * 60_000;
    assert_eq!(t.int("OBJECT FREQ f"), hot - 3);
    assert!(
        matches!(t.run("OBJECT IDLETIME f"), Reply::Error(e) if e.contains("LFU maxmemory policy is selected"))
    );
}

#[test]
fn config_for_the_store_parameters() {
    let mut t = T::new("noeviction", 0, 64 * MIB);
    assert_eq!(
        t.run("CONFIG SET maxmemory 10mb maxmemory-policy ALLKEYS-LRU"),
        Reply::ok()
    );
    assert_eq!(
        t.run("CONFIG GET maxmemory*"),
        Reply::bulks([
            &b"maxmemory"[..],
            b"10485760",
            b"maxmemory-policy",
            b"allkeys-lru",
            b"maxmemory-samples",
            b"5"
        ])
    );
    assert_eq!(t.store.limits().maxmemory, 10 << 20);
    assert_eq!(
        t.run("CONFIG SET maxmemory-samples 0"),
        Reply::error(
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive"
        )
    );
    assert_eq!(
        t.run("CONFIG FOO"),
        Reply::error("ERR unknown subcommand 'FOO'. Try CONFIG HELP.")
    );
    assert_eq!(
        t.run("CONFIG GET"),
        Reply::error("ERR wrong number of arguments for 'config|get' command")
    );
}

#[test]
fn replies_larger_than_the_limit_are_refused_before_they_are_built() {
    let mut t = T::new("noeviction", 0, 256 * MIB);
    t.store.configure("maxmemory", "0").unwrap();
    t.store.set_reply_limit(64 << 10);
    let too_large = Reply::error(kvs_core::memory::REPLY_TOO_LARGE);
    for i in 0..200 {
        let v = value(i);
        t.argv(&[b"RPUSH", b"l", v.as_bytes()]);
        t.argv(&[b"SADD", b"s", v.as_bytes()]);
        t.argv(&[b"HSET", b"h", i.to_string().as_bytes(), v.as_bytes()]);
        t.argv(&[b"ZADD", b"z", i.to_string().as_bytes(), v.as_bytes()]);
        t.argv(&[b"SET", format!("k{i}").as_bytes(), v.as_bytes()]);
    }
    let big = vec![b'x'; 100 << 10];
    t.argv(&[b"SET", b"big", &big]);
    for line in [
        "LRANGE l 0 -1",
        "LPOP l 100",
        "SMEMBERS s",
        "SUNION s s",
        "SRANDMEMBER s -100000000",
        "SPOP s 150",
        "HGETALL h",
        "HVALS h",
        "ZRANGE z 0 -1",
        "ZPOPMIN z 100",
        "SSCAN s 0 COUNT 1000",
        "GET big",
        "GETRANGE big 0 -1",
    ] {
        assert_eq!(t.run(line), too_large, "{line}");
    }
    assert_eq!(t.int("LLEN l"), 200, "a refused pop pops nothing");
    assert!(matches!(t.run("KEYS *"), Reply::Array(Some(v)) if v.len() == 205));
    for i in 0..1500 {
        t.run(&format!("SET many{i} 1"));
    }
    assert_eq!(t.run("KEYS *"), too_large, "1705 names and their framing");
    assert!(matches!(t.run("KEYS many1?"), Reply::Array(Some(v)) if v.len() == 10));
    assert_eq!(t.int("SCARD s"), 200);
    assert_eq!(t.int("ZCARD z"), 200);
    assert!(matches!(t.run("LRANGE l 0 9"), Reply::Array(Some(v)) if v.len() == 10));
    assert!(matches!(t.run("GETRANGE big 0 9"), Reply::Bulk(Some(v)) if v.len() == 10));
    // A transaction's replies share the limit.
    t.run("MULTI");
    for i in 0..100 {
        t.run(&format!("GET k{i}"));
    }
    let Reply::Array(Some(replies)) = t.run("EXEC") else {
        panic!("EXEC")
    };
    assert!(matches!(&replies[0], Reply::Bulk(Some(_))));
    assert_eq!(replies[99], too_large);
    // The stored results of set operations are data, not replies.
    assert_eq!(t.int("SUNIONSTORE u s s"), 200);
}

#[test]
fn evictions_are_in_the_log() {
    let mut t = T::new("allkeys-random", MIB, 64 * MIB);
    let mut writer = kvs_core::AofWriter::new();
    for i in 0..3000 {
        let v = value(i);
        // The log in memory is not data.
        t.store.set_uncounted(writer.buffered() as u64);
        let reply = writer.execute(
            &mut t.store,
            &mut t.s,
            &[b"SET", format!("k{i}").as_bytes(), v.as_bytes()],
            t.now,
            None,
        );
        assert_eq!(reply, Reply::ok());
    }
    let evicted = t.store.evicted_keys() as usize;
    assert!(evicted > 1000, "{evicted}");
    // Replayed without a limit, the log holds what the store holds.
    let mut replayed = Store::with_seed(1);
    let report = kvs_core::replay(writer.bytes(), &mut replayed, writer.salt());
    assert!(report.records >= 3000, "{report:?}");
    assert_eq!(replayed.dbsize(0), t.store.dbsize(0));
    assert_eq!(replayed.dbsize(0), 3000 - evicted);
    // No more evictions while the two are compared.
    t.store.configure("maxmemory", "0").unwrap();
    let mut s = Session::new();
    for i in 0..3000 {
        let key = format!("k{i}");
        let live = t
            .store
            .execute(&mut t.s, &[b"EXISTS", key.as_bytes()], t.now);
        let again = replayed.execute(&mut s, &[b"EXISTS", key.as_bytes()], t.now);
        assert_eq!(live, again, "{key}");
    }
}
