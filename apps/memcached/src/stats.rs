//! The `stats` replies: the store's counters with the front end's, in
//! memcached 1.6's names and order (the fields clients read).

use alloc::format;
use alloc::vec::Vec;

use kvs_core::mc::{Stats, slab_class};

use crate::{Frontend, parse::StatsGroup};

/// Takes each statistic's name and value, to write them in a protocol's
/// form.
pub type Sink<'a> = dyn FnMut(&str, &dyn core::fmt::Display) + 'a;

fn stat(out: &mut Sink<'_>, name: &str, value: impl core::fmt::Display) {
    out(name, &value);
}

/// Writes the reply to `stats <group>` (not `reset`/`detail`).
pub fn write(group: StatsGroup, front: &Frontend, items: &Stats, now: u64, out: &mut Vec<u8>) {
    each(group, front, items, now, &mut |name, value| {
        out.extend_from_slice(format!("STAT {name} {value}\r\n").as_bytes());
    });
    out.extend_from_slice(b"END\r\n");
}

/// Hands each statistic of `stats <group>` (not `reset`/`detail`) to
/// `out`, in memcached's order.
pub fn each(group: StatsGroup, front: &Frontend, items: &Stats, now: u64, out: &mut Sink<'_>) {
    let c = &items.counters;
    match group {
        StatsGroup::General => {
            stat(out, "pid", 1);
            stat(out, "uptime", now.saturating_sub(front.started));
            stat(out, "time", now);
            stat(out, "version", front.version);
            stat(out, "pointer_size", 64);
            stat(out, "rusage_user", "0.000000");
            stat(out, "rusage_system", "0.000000");
            stat(out, "max_connections", front.max_connections);
            stat(out, "curr_connections", front.counters.curr_connections);
            stat(out, "total_connections", front.counters.total_connections);
            stat(
                out,
                "rejected_connections",
                front.counters.rejected_connections,
            );
            stat(
                out,
                "connection_structures",
                front.counters.curr_connections,
            );
            stat(out, "response_obj_oom", front.counters.response_obj_oom);
            stat(out, "read_buf_oom", front.counters.read_buf_oom);
            for (name, value) in [
                ("cmd_get", c.cmd_get),
                ("cmd_set", c.cmd_set),
                ("cmd_flush", c.cmd_flush),
                ("cmd_touch", c.cmd_touch),
                ("cmd_meta", c.cmd_meta),
                ("get_hits", c.get_hits),
                ("get_misses", c.get_misses),
                ("get_expired", c.get_expired),
                ("get_flushed", c.get_flushed),
                ("delete_misses", c.delete_misses),
                ("delete_hits", c.delete_hits),
                ("incr_misses", c.incr_misses),
                ("incr_hits", c.incr_hits),
                ("decr_misses", c.decr_misses),
                ("decr_hits", c.decr_hits),
                ("cas_misses", c.cas_misses),
                ("cas_hits", c.cas_hits),
                ("cas_badval", c.cas_badval),
                ("touch_hits", c.touch_hits),
                ("touch_misses", c.touch_misses),
                ("store_too_large", front.counters.store_too_large),
                (
                    "store_no_memory",
                    c.store_no_memory + front.counters.store_no_memory,
                ),
                ("auth_cmds", 0),
                ("auth_errors", 0),
                ("bytes_read", front.counters.bytes_read),
                ("bytes_written", front.counters.bytes_written),
                ("limit_maxbytes", items.limit_maxbytes),
                ("accepting_conns", 1),
                ("threads", 1),
                ("conn_yields", 0),
                ("bytes", items.bytes),
                ("curr_items", items.curr_items),
                ("total_items", c.total_items),
                ("evictions", c.evictions),
                ("reclaimed", c.reclaimed),
            ] {
                stat(out, name, value);
            }
        }
        StatsGroup::Settings => {
            stat(out, "maxbytes", items.limit_maxbytes);
            stat(out, "maxconns", front.max_connections);
            stat(out, "tcpport", front.port);
            stat(out, "udpport", 0);
            stat(out, "verbosity", front.verbosity);
            stat(out, "evictions", "on");
            stat(out, "growth_factor", "1.25");
            stat(out, "chunk_size", 48);
            stat(out, "num_threads", 1);
            stat(out, "cas_enabled", "yes");
            stat(out, "item_size_max", front.item_size_max);
            stat(out, "slab_chunk_max", 524_288);
            stat(out, "flush_enabled", "yes");
        }
        StatsGroup::Items => {
            for &(class, number, bytes) in &items.classes {
                stat(out, &format!("items:{class}:number"), number);
                stat(out, &format!("items:{class}:mem_requested"), bytes);
                stat(out, &format!("items:{class}:age"), 0);
                stat(out, &format!("items:{class}:evicted"), 0);
                stat(out, &format!("items:{class}:outofmemory"), 0);
            }
        }
        StatsGroup::Slabs => {
            for &(class, number, _) in &items.classes {
                let chunk = class_chunk(class);
                stat(out, &format!("{class}:chunk_size"), chunk);
                stat(
                    out,
                    &format!("{class}:chunks_per_page"),
                    (1 << 20) / chunk.max(1),
                );
                stat(out, &format!("{class}:used_chunks"), number);
            }
            stat(out, "active_slabs", items.classes.len());
            stat(out, "total_malloced", items.bytes);
        }
        StatsGroup::Sizes => stat(out, "sizes_status", "disabled"),
        StatsGroup::Reset | StatsGroup::Detail | StatsGroup::DetailDump => {}
    }
}

/// The chunk size of slab class `class`.
fn class_chunk(class: u32) -> usize {
    // Classes grow with the item size: find the first size in it.
    let mut size = 1;
    while size <= 1 << 20 {
        let (c, chunk) = slab_class(size);
        if c == class {
            return chunk;
        }
        size = chunk + 1;
    }
    0
}
