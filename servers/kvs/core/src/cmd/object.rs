//! What a key's value is like inside: OBJECT (ENCODING, REFCOUNT, FREQ,
//! IDLETIME, HELP) and MEMORY (USAGE, HELP). None of them is an access.

use alloc::vec::Vec;

use crate::cmd::{int_arg, is, server};
use crate::command::{COMMANDS, Spec, find};
use crate::db::{Entry, Value, tri};
use crate::encoding::Encoding;
use crate::memory::{Policy, Tracking};
use crate::rdb::listpack;
use crate::reply::{Reply, SYNTAX};
use crate::store::Ctx;

/// Redis's words for OBJECT FREQ and IDLETIME under the other family of
/// policies.
const NOT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const NOT_LRU: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// The row of the subcommand `a[1]` of `container` (lower case), with
/// its arity checked as Redis checks a subcommand's before running it.
pub(crate) fn subcommand(container: &str, a: &[&[u8]]) -> Result<&'static Spec, Reply> {
    let upper = container.to_ascii_uppercase();
    let sub = find(COMMANDS, container.as_bytes())
        .and_then(|c| c.subcommand(a[1]))
        .ok_or_else(|| server::unknown_subcommand(a[1], &upper))?;
    if sub.arity_ok(a.len()) {
        Ok(sub)
    } else {
        Err(Reply::arity(sub.name))
    }
}

/// A HELP reply: Redis's first line, the subcommands' lines, and HELP's.
pub(crate) fn help(command: &str, lines: &[&str]) -> Reply {
    let head = alloc::format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
    let mut out = Vec::with_capacity(lines.len() + 3);
    out.push(Reply::Simple(head.into()));
    out.extend(lines.iter().map(|l| Reply::simple(l)));
    out.push(Reply::simple("HELP"));
    out.push(Reply::simple("    Print this help."));
    Reply::array(out)
}

/// OBJECT ENCODING|REFCOUNT|FREQ|IDLETIME key | OBJECT HELP
pub(crate) fn object(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = tri!(subcommand("object", a));
    if sub.name == "object|help" {
        return help(
            "OBJECT",
            &[
                "ENCODING <key>",
                "    Return the internal representation Redis 7.0 would use for the value",
                "    of <key> (int, embstr, raw, quicklist, intset, listpack, hashtable,",
                "    skiplist).",
                "FREQ <key>",
                "    Return the access frequency index of the <key>: the logarithm of how",
                "    often it was used lately (LFU policies only).",
                "IDLETIME <key>",
                "    Return the seconds since the <key> was last used (LRU and other",
                "    policies).",
                "REFCOUNT <key>",
                "    Return how many references the value of <key> has.",
            ],
        );
    }
    let now = cx.now;
    let lfu = cx.memory.limits.policy.is_lfu();
    let tracking = cx.memory.limits.tracking();
    let Some(entry) = cx.db().entry(a[2], now) else {
        return Reply::nil();
    };
    match (sub.name, lfu) {
        ("object|encoding", _) => Reply::bulk(entry.enc.name().as_bytes()),
        ("object|refcount", _) => Reply::Integer(entry.enc.refcount()),
        ("object|freq", true) => Reply::Integer(i64::from(tracking.frequency(entry.access, now))),
        ("object|freq", false) => Reply::error(NOT_LFU),
        ("object|idletime", false) => {
            Reply::Integer(i64::from(Tracking::idle_seconds(entry.access, now)))
        }
        _ => Reply::error(NOT_LRU),
    }
}

/// MEMORY USAGE key [SAMPLES count] | MEMORY HELP
///
/// USAGE estimates what Redis 7.0 would allocate for the key, its entry
/// and its value in the encoding it would have ([`usage`]); kvs-core's
/// own forms take other amounts. As in Redis, the key is looked up
/// without expiring it. SAMPLES is checked and then not needed: every
/// element is counted.
pub(crate) fn memory(cx: &mut Ctx<'_>, a: &[&[u8]]) -> Reply {
    let sub = tri!(subcommand("memory", a));
    match sub.name {
        "memory|help" => {
            return help(
                "MEMORY",
                &[
                    "DOCTOR",
                    "    Report in words how the store uses its memory.",
                    "MALLOC-STATS",
                    "    Say what the allocator reports.",
                    "PURGE",
                    "    Ask the allocator to give memory back (nothing to do here).",
                    "STATS",
                    "    Describe the memory in use, the peak, the keys' overhead and the allocator's share.",
                    "USAGE <key> [SAMPLES <count>]",
                    "    Return an estimate of the bytes <key> and its value take. Every element",
                    "    is counted; <count> is accepted for compatibility.",
                ],
            );
        }
        "memory|doctor" => return Reply::Verbatim(*b"txt", doctor(cx).into_bytes()),
        "memory|malloc-stats" => {
            return Reply::Verbatim(
                *b"txt",
                b"The store's allocator keeps no statistics of its own; INFO memory \
                  gives the memory in use (used_memory) and how much more the \
                  allocator holds for it (mem_fragmentation_ratio).\n"
                    .to_vec(),
            );
        }
        // The component's heap is mapped whole when it starts: there are
        // no pages to hand back.
        "memory|purge" => return Reply::ok(),
        // The kvs server answers it (it knows the allocator): what
        // reaches the store was queued in MULTI.
        "memory|stats" => return server::log_command(cx, a),
        _ => {}
    }
    let mut j = 3;
    while j < a.len() {
        if is(a[j], "samples") && j + 1 < a.len() {
            if tri!(int_arg(a[j + 1])) < 0 {
                return Reply::error(SYNTAX);
            }
            j += 2;
        } else {
            return Reply::error(SYNTAX);
        }
    }
    let key = a[2];
    match cx.db().raw_entry(key) {
        Some(entry) => Reply::Integer(usage(key, entry) as i64),
        None => Reply::nil(),
    }
}

/// MEMORY DOCTOR's report, in Basalt's words: the memory in use against
/// `maxmemory`, and what stands out (the limit near, or reached with a
/// policy that cannot evict).
fn doctor(cx: &mut Ctx<'_>) -> alloc::string::String {
    use core::fmt::Write;
    let mut out = alloc::string::String::new();
    let keys: usize = cx.dbs.iter().map(|d| d.len()).sum();
    let Some(used) = cx.room.used() else {
        let _ = writeln!(
            out,
            "The store runs without a memory gauge: it holds {keys} keys and cannot tell their bytes."
        );
        return out;
    };
    let limits = cx.memory.limits;
    let _ = write!(out, "The store holds {keys} keys in {used} bytes");
    if limits.maxmemory == 0 {
        let _ = writeln!(out, ", with no maxmemory set (the heap is the limit).");
        return out;
    }
    let share = used.saturating_mul(100) / limits.maxmemory.max(1);
    let _ = writeln!(
        out,
        ", {share}% of maxmemory ({} bytes, policy {}).",
        limits.maxmemory,
        limits.policy.name()
    );
    if share >= 90 {
        let _ = writeln!(
            out,
            "* It is near maxmemory: {}",
            if limits.policy == Policy::NoEviction {
                "writes that need memory will be refused with -OOM; raise maxmemory or choose an eviction policy."
            } else {
                "keys are evicted to make room for writes."
            }
        );
    } else {
        let _ = writeln!(out, "Nothing stands out.");
    }
    out
}

/// Bytes jemalloc hands out for a request of `n`: its size classes (8
/// and 16 bytes apart up to 128, then four classes per doubling).
fn allocation(n: usize) -> usize {
    if n <= 8 {
        return 8;
    }
    if n <= 128 {
        return n.div_ceil(16) * 16;
    }
    let step = (n.next_power_of_two() / 8).max(16);
    n.div_ceil(step) * step
}

/// An sds string of `len` bytes: header, bytes, terminator.
fn sds(len: usize) -> usize {
    let header = match len {
        0..=255 => 3,
        256..=65535 => 5,
        _ => 9,
    };
    allocation(header + len + 1)
}

/// A hash table's bucket array for `n` entries.
fn buckets(n: usize) -> usize {
    allocation(8 * n.next_power_of_two().max(4))
}

/// Redis's estimate of the memory of `key` and its entry: the key's sds,
/// its dict entry, the value's object and what the value's encoding
/// holds (jemalloc's size classes applied to each allocation).
fn usage(key: &[u8], entry: &Entry) -> usize {
    const OBJECT: usize = 16;
    const DICT_ENTRY: usize = 24;
    let listpack = |items: &mut dyn Iterator<Item = &[u8]>| {
        allocation(listpack::EMPTY_SIZE + items.map(listpack::entry_size).sum::<usize>())
    };
    let value = match (&entry.value, entry.enc) {
        (_, Encoding::Int { .. }) => OBJECT,
        // Listpacks in a radix tree: about the entries' bytes.
        (Value::Stream(s), _) => OBJECT + 96 + s.footprint(),
        (Value::Str(s), Encoding::Embstr) => allocation(OBJECT + 3 + s.len() + 1),
        (Value::Str(s), _) => OBJECT + sds(s.len()),
        (Value::List(l), _) => {
            // Listpack nodes of at most 8 KiB, and the quicklist.
            let bytes: usize = l.iter().map(|e| listpack::entry_size(e)).sum();
            let nodes = bytes.div_ceil(8192).max(1);
            OBJECT + 48 + nodes * (32 + allocation(listpack::EMPTY_SIZE + bytes / nodes))
        }
        (Value::Set(s), Encoding::Intset { width }) => {
            OBJECT + allocation(8 + usize::from(width) * s.len())
        }
        (Value::Set(s), _) => {
            OBJECT
                + 96
                + buckets(s.len())
                + s.iter().map(|m| DICT_ENTRY + sds(m.len())).sum::<usize>()
        }
        (Value::Hash(h), Encoding::Listpack) => {
            OBJECT + listpack(&mut h.iter().flat_map(|(f, v)| [f.as_slice(), v.as_slice()]))
        }
        (Value::Hash(h), _) => {
            OBJECT
                + 96
                + buckets(h.len())
                + h.iter()
                    .map(|(f, v)| DICT_ENTRY + sds(f.len()) + sds(v.len()))
                    .sum::<usize>()
        }
        (Value::ZSet(z), Encoding::Listpack) => {
            // A score takes about as much as a short member.
            OBJECT + listpack(&mut z.iter().flat_map(|(m, _)| [m, &b"1.5"[..]]))
        }
        (Value::ZSet(z), _) => {
            // A skiplist node (score, member, back link, levels) and a
            // dict entry per member.
            OBJECT
                + 96
                + buckets(z.len())
                + z.iter()
                    .map(|(m, _)| DICT_ENTRY + sds(m.len()) + allocation(48))
                    .sum::<usize>()
        }
    };
    sds(key.len()) + DICT_ENTRY + value
}

#[cfg(test)]
mod tests {
    use crate::cmd::testutil::*;
    use crate::reply::*;

    /// OBJECT ENCODING of `key`.
    fn enc(t: &mut T, key: &str) -> Reply {
        t.run(&alloc::format!("OBJECT ENCODING {key}"))
    }

    #[test]
    fn memory_doctor_malloc_stats_purge() {
        let mut t = T::new();
        assert_eq!(t.run("MEMORY PURGE"), ok());
        // The harness reads replies as RESP2: text is a bulk string.
        let Reply::Bulk(Some(text)) = t.run("MEMORY MALLOC-STATS") else {
            panic!("text")
        };
        assert!(text.ends_with(b"\n"));
        t.run("SET a 1");
        let Reply::Bulk(Some(text)) = t.run("MEMORY DOCTOR") else {
            panic!("text")
        };
        let text = alloc::string::String::from_utf8(text).unwrap();
        assert!(text.contains("1 keys"), "{text}");
        assert_eq!(
            t.run("MEMORY DOCTOR x"),
            err("ERR wrong number of arguments for 'memory|doctor' command")
        );
        let Reply::Array(Some(help)) = t.run("MEMORY HELP") else {
            panic!("help")
        };
        assert_eq!(
            help.len(),
            14,
            "a line for MEMORY, 11 for the subcommands, 2 for HELP"
        );
    }

    #[test]
    fn strings() {
        let mut t = T::new();
        t.run("SET a 123");
        assert_eq!(enc(&mut t, "a"), bulk("int"));
        assert_eq!(t.run("OBJECT REFCOUNT a"), int(2147483647));
        t.run("SET a 10000");
        assert_eq!(t.run("OBJECT REFCOUNT a"), int(1));
        t.run("SET a 0123");
        assert_eq!(enc(&mut t, "a"), bulk("embstr"));
        t.run(&alloc::format!("SET a {}", "x".repeat(45)));
        assert_eq!(enc(&mut t, "a"), bulk("raw"));
        t.run("SET a x");
        t.run("APPEND a y");
        assert_eq!(enc(&mut t, "a"), bulk("raw"));
        t.run("APPEND n 5");
        assert_eq!(enc(&mut t, "n"), bulk("int"), "APPEND to nothing is a SET");
        t.run("INCRBYFLOAT f 1");
        assert_eq!(enc(&mut t, "f"), bulk("embstr"));
        t.run("INCR f");
        assert_eq!(enc(&mut t, "f"), bulk("int"));
        t.run("SETRANGE r 0 5");
        assert_eq!(enc(&mut t, "r"), bulk("raw"));
        t.run("SET b 5");
        t.run("COPY b c");
        assert_eq!(
            t.run("OBJECT REFCOUNT c"),
            int(1),
            "a copy is its own object"
        );
        t.run("SETBIT b 0 0");
        assert_eq!(enc(&mut t, "b"), bulk("raw"));
        assert_eq!(enc(&mut t, "nope"), nil());
    }

    #[test]
    fn collections_convert_one_way() {
        let mut t = T::new();
        t.run("CONFIG SET set-max-intset-entries 2 hash-max-listpack-entries 2 zset-max-listpack-entries 2");
        t.run("RPUSH l a");
        assert_eq!(enc(&mut t, "l"), bulk("quicklist"));
        t.run("SADD s 1 2");
        assert_eq!(enc(&mut t, "s"), bulk("intset"));
        t.run("SADD s 3");
        assert_eq!(enc(&mut t, "s"), bulk("hashtable"));
        t.run("SREM s 3 2");
        assert_eq!(enc(&mut t, "s"), bulk("hashtable"), "never back");
        t.run("SADD t 1 x");
        assert_eq!(enc(&mut t, "t"), bulk("hashtable"));
        t.run("HSET h a 1 b 2");
        assert_eq!(enc(&mut t, "h"), bulk("listpack"));
        t.run("HSET h c 3");
        assert_eq!(enc(&mut t, "h"), bulk("hashtable"));
        t.run(&alloc::format!("HSET g a {}", "v".repeat(65)));
        assert_eq!(enc(&mut t, "g"), bulk("hashtable"));
        t.run("ZADD z 1 a 2 b");
        assert_eq!(enc(&mut t, "z"), bulk("listpack"));
        t.run("ZADD z 3 c");
        assert_eq!(enc(&mut t, "z"), bulk("skiplist"));
        t.run("ZREM z c");
        t.run("ZUNIONSTORE u 1 z");
        assert_eq!(
            enc(&mut t, "u"),
            bulk("listpack"),
            "a store command's result fits"
        );
        assert_eq!(enc(&mut t, "z"), bulk("skiplist"));
        t.run("COPY z z2");
        assert_eq!(
            enc(&mut t, "z2"),
            bulk("skiplist"),
            "a copy keeps the encoding"
        );
    }

    #[test]
    fn errors_and_help() {
        let mut t = T::new();
        t.run("SET a 1");
        assert_eq!(
            t.run("OBJECT ENCODING"),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            t.run("OBJECT HELP x"),
            err("ERR wrong number of arguments for 'object|help' command")
        );
        assert_eq!(
            t.run("OBJECT NOPE a"),
            err("ERR unknown subcommand 'NOPE'. Try OBJECT HELP.")
        );
        assert!(matches!(t.run("OBJECT help"), Reply::Array(Some(_))));
        assert!(matches!(t.run("MEMORY HELP"), Reply::Array(Some(_))));
        assert!(matches!(t.run("MEMORY USAGE a"), Reply::Integer(n) if n > 0));
        assert!(matches!(
            t.run("MEMORY USAGE a SAMPLES 0"),
            Reply::Integer(_)
        ));
        assert_eq!(t.run("MEMORY USAGE nope"), nil());
        assert_eq!(t.run("MEMORY USAGE a SAMPLES"), err(SYNTAX));
        assert_eq!(t.run("MEMORY USAGE a SAMPLES -1"), err(SYNTAX));
        assert_eq!(t.run("MEMORY USAGE a SAMPLES x"), err(NOT_INTEGER));
        // The kvs server answers MEMORY STATS; the store only sees one
        // queued in MULTI.
        assert!(t.run("MEMORY STATS").is_error());
        assert_eq!(
            t.run("MEMORY NOPE"),
            err("ERR unknown subcommand 'NOPE'. Try MEMORY HELP.")
        );
    }
}
