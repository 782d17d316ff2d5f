//! `INFO`: what the kvs server says about itself in Redis's words (the
//! sections `server` (Basalt's own fields: its generation, restarts and
//! how the last start ended), `memory`, `persistence`, `stats` and
//! `keyspace`), for
//! the front ends' `INFO` and metrics. `kvs-core` does not know the heap or the disk; the server
//! answers it before the store sees it.

use crate::persist::{Persistence, SectorDevice};
use crate::server::Lineage;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use kvs_core::Store;

/// Whether `args` is an `INFO` command.
pub(crate) fn is_info(args: &[&[u8]]) -> bool {
    args.first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"INFO"))
}

/// Appends the reply to `INFO [section ...]`: a bulk string with the
/// sections asked for (all, `default` or `everything` by name too), empty
/// for sections the server does not have. `held` is what the allocator
/// holds for the live allocations.
pub(crate) fn reply(
    args: &[&[u8]],
    store: &Store,
    held: Option<u64>,
    lineage: Lineage,
    persistence: Option<&Persistence<Box<dyn SectorDevice>>>,
    now_ms: u64,
    reply: &mut Vec<u8>,
) {
    let wants = |section: &[u8]| {
        args.len() == 1
            || args[1..].iter().any(|a| {
                a.eq_ignore_ascii_case(section)
                    || a.eq_ignore_ascii_case(b"all")
                    || a.eq_ignore_ascii_case(b"default")
                    || a.eq_ignore_ascii_case(b"everything")
            })
    };
    let mut text = String::new();
    let section = |name: &str, text: &mut String| {
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        let _ = write!(text, "# {name}\r\n");
    };
    if wants(b"server") {
        section("Server", &mut text);
        // Basalt's own: which start of the component answers, and why
        // the one before it ended.
        let _ = write!(
            text,
            "basalt_generation:{}\r\nbasalt_restarts:{}\r\nbasalt_last_exit:{}\r\n",
            lineage.generation,
            lineage.generation.saturating_sub(1),
            lineage.last_exit.unwrap_or("")
        );
    }
    if wants(b"memory") {
        section("Memory", &mut text);
        let limits = store.limits();
        if let Some(used) = store.used_memory() {
            let _ = write!(text, "used_memory:{used}\r\n");
            // The heap is mapped whole when the component starts, so
            // there is no resident size to compare with: the ratio is
            // what the allocator holds for the live allocations (their
            // sizes rounded up, and its bookkeeping) over what they
            // asked for.
            if let Some(held) = held.filter(|_| used > 0) {
                let _ = write!(
                    text,
                    "mem_fragmentation_ratio:{:.2}\r\n",
                    held as f64 / used as f64
                );
            }
        }
        let _ = write!(
            text,
            "maxmemory:{}\r\nmaxmemory_policy:{}\r\n",
            limits.maxmemory,
            limits.policy.name()
        );
    }
    if wants(b"persistence") {
        section("Persistence", &mut text);
        match persistence {
            Some(p) => {
                let log = p.log();
                let _ = write!(
                    text,
                    "aof_enabled:1\r\n\
                     aof_rewrite_in_progress:{}\r\n\
                     aof_current_size:{}\r\n\
                     aof_last_write_status:{}\r\n\
                     aof_fsync:{}\r\n",
                    u8::from(log.compacting()),
                    log.len(),
                    if p.last_write_ok() { "ok" } else { "err" },
                    p.fsync().name(),
                );
            }
            None => text.push_str("aof_enabled:0\r\n"),
        }
    }
    if wants(b"stats") {
        section("Stats", &mut text);
        let _ = write!(text, "evicted_keys:{}\r\n", store.evicted_keys());
    }
    if wants(b"keyspace") {
        section("Keyspace", &mut text);
        for db in 0..kvs_core::DATABASES {
            let (keys, expires, avg_ttl) = store.keyspace(db, now_ms);
            if keys > 0 {
                let _ = write!(
                    text,
                    "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
                );
            }
        }
    }
    kvs_core::Reply::Bulk(Some(text.into_bytes())).encode_resp2(reply);
}
