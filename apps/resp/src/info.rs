//! The `INFO` reply.

use crate::frontend::{Frontend, REDIS_VERSION};
use crate::{Clock, Store, reply};
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// The sections, in the order INFO prints them.
const SECTIONS: [&str; 12] = [
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "cluster",
    "keyspace",
];

/// The sections `default` (and no name) leaves out, as Redis does.
const NOT_DEFAULT: [&str; 1] = ["commandstats"];

/// Appends `INFO [section …]`: the named sections (case-insensitive;
/// `all` and `everything` mean every one, `default` and no name at all
/// every one but commandstats; unknown names add nothing) as one bulk
/// string (verbatim text in RESP3).
pub(crate) fn write<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    names: &[&[u8]],
    out: &mut Vec<u8>,
    resp3: bool,
) {
    let default = SECTIONS.map(|s| !NOT_DEFAULT.contains(&s));
    let mut wanted = match names.is_empty() {
        true => default,
        false => [false; SECTIONS.len()],
    };
    for name in names {
        if [&b"all"[..], b"everything"]
            .iter()
            .any(|all| name.eq_ignore_ascii_case(all))
        {
            wanted = [true; SECTIONS.len()];
        } else if name.eq_ignore_ascii_case(b"default") {
            for (w, d) in wanted.iter_mut().zip(default) {
                *w |= d;
            }
        } else if let Some(i) = SECTIONS
            .iter()
            .position(|s| name.eq_ignore_ascii_case(s.as_bytes()))
        {
            wanted[i] = true;
        }
    }
    let now = fe.clock.now_us();
    // The store's own INFO (its memory, its log, its evictions), when a
    // section wants it.
    let store = if wanted.iter().zip(SECTIONS).any(|(&w, name)| {
        w && ["server", "memory", "persistence", "stats", "keyspace"].contains(&name)
    }) {
        fe.store.info().unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut text = String::new();
    for (i, section) in SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        // Writing to a String cannot fail.
        let _ = match *section {
            "server" => server(fe, now, &store, &mut text),
            "clients" => clients(fe, &mut text),
            "memory" => memory(fe, &store, &mut text),
            "persistence" => persistence(fe, &store, &mut text),
            "stats" => stats(fe, &store, &mut text),
            "replication" => replication(fe, &mut text),
            "cpu" => text.write_str(
                "# CPU\r\nused_cpu_sys:0.000000\r\nused_cpu_user:0.000000\r\n\
                 used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n\
                 used_cpu_sys_main_thread:0.000000\r\nused_cpu_user_main_thread:0.000000\r\n",
            ),
            "modules" => text.write_str("# Modules\r\n"),
            "commandstats" => commandstats(fe, &mut text),
            "errorstats" => errorstats(fe, &mut text),
            "cluster" => text.write_str("# Cluster\r\ncluster_enabled:0\r\n"),
            _ => keyspace(fe, &store, &mut text),
        };
    }
    reply::verbatim(out, text.as_bytes(), resp3);
}

fn server<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    now: u64,
    store: &[u8],
    t: &mut String,
) -> core::fmt::Result {
    let uptime = now.saturating_sub(fe.started_us) / 1_000_000;
    write!(
        t,
        "# Server\r\n\
         redis_version:{REDIS_VERSION}\r\n\
         basalt_version:{}\r\n\
         redis_mode:standalone\r\n\
         os:Basalt\r\n\
         arch_bits:64\r\n\
         tcp_port:{}\r\n\
         server_time_usec:{now}\r\n\
         uptime_in_seconds:{uptime}\r\n\
         uptime_in_days:{}\r\n\
         config_file:\r\n",
        env!("CARGO_PKG_VERSION"),
        fe.config.get("port").unwrap_or("0"),
        uptime / 86_400,
    )?;
    // Basalt's own: how often the store was restarted, and why its last
    // start ended.
    for (name, field_name) in [
        ("basalt_store_restarts", "basalt_restarts"),
        ("basalt_store_last_exit", "basalt_last_exit"),
    ] {
        if let Some(value) = field(store, field_name) {
            write!(t, "{name}:{value}\r\n")?;
        }
    }
    Ok(())
}

fn clients<S: Store, C: Clock>(fe: &Frontend<S, C>, t: &mut String) -> core::fmt::Result {
    write!(
        t,
        "# Clients\r\n\
         connected_clients:{}\r\n\
         maxclients:{}\r\n\
         blocked_clients:{}\r\n\
         tracking_clients:{}\r\n",
        fe.stats.connected,
        fe.config.maxclients(),
        fe.blocked.len() + fe.pause.postponed(),
        fe.trackers,
    )
}

/// A master with no replicas, as a lone Redis reports itself; the
/// replication id (40 hex digits) is made of the start time, so that it
/// is new at each start, as Redis's random one is.
fn replication<S: Store, C: Clock>(fe: &Frontend<S, C>, t: &mut String) -> core::fmt::Result {
    let start = fe.started_us;
    let id = alloc::format!("{:016x}{:016x}{:08x}", start, !start, start as u32);
    write!(
        t,
        "# Replication\r\n\
         role:master\r\n\
         connected_slaves:0\r\n\
         master_failover_state:no-failover\r\n\
         master_replid:{id}\r\n\
         master_replid2:0000000000000000000000000000000000000000\r\n\
         master_repl_offset:0\r\n\
         second_repl_offset:-1\r\n\
         repl_backlog_active:0\r\n\
         repl_backlog_size:1048576\r\n\
         repl_backlog_first_byte_offset:0\r\n\
         repl_backlog_histlen:0\r\n"
    )
}

/// `cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…`.
fn commandstats<S: Store, C: Clock>(fe: &Frontend<S, C>, t: &mut String) -> core::fmt::Result {
    t.push_str("# Commandstats\r\n");
    for (name, c) in &fe.calls.commands {
        // Two decimals of usec / calls, rounded as printf's %.2f does.
        let hundredths = match c.calls {
            0 => 0,
            n => (c.usec * 100 + n / 2) / n,
        };
        write!(
            t,
            "cmdstat_{name}:calls={},usec={},usec_per_call={}.{:02},rejected_calls={},failed_calls={}\r\n",
            c.calls,
            c.usec,
            hundredths / 100,
            hundredths % 100,
            c.rejected,
            c.failed
        )?;
    }
    Ok(())
}

/// `errorstat_<word>:count=…`, by the error's first word.
fn errorstats<S: Store, C: Clock>(fe: &Frontend<S, C>, t: &mut String) -> core::fmt::Result {
    t.push_str("# Errorstats\r\n");
    for (word, count) in &fe.calls.errors {
        write!(
            t,
            "errorstat_{}:count={count}\r\n",
            String::from_utf8_lossy(word)
        )?;
    }
    Ok(())
}

/// Field `name` of an `INFO` text.
fn field<'a>(info: &'a [u8], name: &str) -> Option<&'a str> {
    kvs_api::ops::info_fields(info)
        .find(|(field, _)| *field == name.as_bytes())
        .and_then(|(_, value)| core::str::from_utf8(value).ok())
}

fn memory<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    store: &[u8],
    t: &mut String,
) -> core::fmt::Result {
    // The store's memory is the data set's; without it, the component's.
    let used = field(store, "used_memory")
        .and_then(|v| v.parse().ok())
        .unwrap_or(fe.stats.used_memory);
    // The limits are the store's.
    let maxmemory = field(store, "maxmemory")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    write!(
        t,
        "# Memory\r\n\
         used_memory:{}\r\n\
         used_memory_human:{}\r\n\
         maxmemory:{maxmemory}\r\n\
         maxmemory_human:{}\r\n\
         maxmemory_policy:{}\r\n",
        used,
        human(used),
        human(maxmemory),
        field(store, "maxmemory_policy").unwrap_or("noeviction"),
    )?;
    if let Some(ratio) = field(store, "mem_fragmentation_ratio") {
        write!(t, "mem_fragmentation_ratio:{ratio}\r\n")?;
    }
    // The front end's own: what its connections hold.
    write!(t, "mem_clients_normal:{}\r\n", fe.clients_held())
}

fn persistence<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    store: &[u8],
    t: &mut String,
) -> core::fmt::Result {
    write!(
        t,
        "# Persistence\r\n\
         loading:0\r\n\
         async_loading:0\r\n\
         rdb_bgsave_in_progress:0\r\n\
         rdb_last_bgsave_status:ok\r\n\
         rdb_saves:0\r\n\
         aof_enabled:{}\r\n",
        u8::from(fe.config.appendonly()),
    )?;
    for name in [
        "aof_rewrite_in_progress",
        "aof_current_size",
        "aof_last_write_status",
    ] {
        if let Some(value) = field(store, name) {
            write!(t, "{name}:{value}\r\n")?;
        }
    }
    Ok(())
}

fn stats<S: Store, C: Clock>(
    fe: &Frontend<S, C>,
    store: &[u8],
    t: &mut String,
) -> core::fmt::Result {
    let s = &fe.stats;
    write!(
        t,
        "# Stats\r\n\
         total_connections_received:{}\r\n\
         total_commands_processed:{}\r\n\
         total_net_input_bytes:{}\r\n\
         total_net_output_bytes:{}\r\n\
         rejected_connections:{}\r\n\
         total_error_replies:{}\r\n\
         evicted_keys:{}\r\n\
         evicted_clients:{}\r\n\
         pubsub_channels:{}\r\n\
         pubsub_patterns:{}\r\n\
         pubsubshard_channels:{}\r\n",
        s.connections_received,
        s.commands_processed,
        s.net_input_bytes,
        s.net_output_bytes,
        s.rejected_connections,
        s.error_replies,
        field(store, "evicted_keys").unwrap_or("0"),
        s.evicted_clients,
        fe.pubsub.channel_counts().0,
        fe.pubsub.patterns(),
        fe.pubsub.channel_counts().1,
    )
}

/// One line per non-empty database: the store's own (the kvs server's
/// INFO keyspace counts keys with an expiry and their mean time to live),
/// or, from a store that does not report them, its DBSIZE of each with
/// `expires` 0.
fn keyspace<S: Store, C: Clock>(
    fe: &mut Frontend<S, C>,
    store: &[u8],
    t: &mut String,
) -> core::fmt::Result {
    t.push_str("# Keyspace\r\n");
    let text = String::from_utf8_lossy(store);
    if let Some(at) = text.find("# Keyspace\r\n") {
        let lines = text[at..].lines().skip(1);
        for line in lines.take_while(|l| l.starts_with("db")) {
            write!(t, "{line}\r\n")?;
        }
        return Ok(());
    }
    for db in 0..fe.config.databases() {
        match fe.store.dbsize(db) {
            Ok(Some(0)) => {}
            Ok(Some(keys)) => write!(t, "db{db}:keys={keys},expires=0,avg_ttl=0\r\n")?,
            // No such database, or the store cannot answer: no more lines.
            Ok(None) | Err(_) => break,
        }
    }
    Ok(())
}

/// A byte count as Redis's `bytesToHuman` prints it: `812B`, `1.31M`.
fn human(n: u64) -> String {
    const UNITS: [&str; 6] = ["K", "M", "G", "T", "P", "E"];
    if n < 1024 {
        return alloc::format!("{n}B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    alloc::format!("{value:.2}{}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(1024), "1.00K");
        assert_eq!(human(1_372_904), "1.31M");
        assert_eq!(human(10 << 20), "10.00M");
        assert_eq!(human(3 << 30), "3.00G");
    }
}
