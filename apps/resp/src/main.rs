//! `resp`: the Basalt component that speaks the Redis protocol
//! (`docs/resp.md`) on a TCP port through the net server, running commands
//! on the kvs server, one kvs session per connection. It logs:
//!
//! ```text
//! resp: port 6379, 1000 clients at most, bulk strings up to 8176 KiB, 22528 KiB for the clients' buffers
//! resp: listening on port 6379
//! ```
//!
//! Arguments (declared in its Cargo.toml; docs/resp.md): `region` (the
//! region shared with the net server), `net-event` (the notification the
//! net server signals for it), `net-wake` (the one it signals the net
//! server with), `kvs` (the store's channel), `kvs-region` (the region
//! shared with the kvs server for large requests and replies), `port`
//! (default 6379), `backlog` (default 128), `max-connections` (default
//! 1000: `maxclients`), `appendonly` (what `CONFIG GET appendonly` says:
//! `yes` when the kvs server keeps a log, default `no`).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "resp is a Basalt component that init starts; \
         see docs/resp.md (cargo xtask run boots it in config/default)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
libcap::component!(run);

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

/// Why the component could not start.
#[cfg(target_os = "none")]
#[derive(Debug)]
#[allow(dead_code)] // the fields are read only by `Debug`
enum Failure {
    /// An argument that is not valid.
    Args(libcap::bind::ArgError),
    /// A setting the front end's config table refused (`maxclients`
    /// from `max-connections`, say).
    Setting(&'static str),
    /// The kvs server did not take the client.
    Kvs(kvs_api::Error),
    /// The net server's region is unusable.
    Net(net_api::proto::AttachError),
}

/// Bytes of a request that are not the bulk string itself (the command
/// name, the key, the framing): what the kvs region must hold besides.
#[cfg(target_os = "none")]
const REQUEST_OVERHEAD: usize = 16 * 1024;

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    use alloc::format;
    use libcap::bind::fit;
    use net_api::serve::StreamServer;

    let args = args::Args::bind(start).map_err(Failure::Args)?;
    let port = args.port.unwrap_or(6379);
    let backlog = fit("backlog", args.backlog.unwrap_or(128)).map_err(Failure::Args)?;
    let max_connections: usize =
        fit("max-connections", args.max_connections.unwrap_or(1000)).map_err(Failure::Args)?;
    let store =
        kvs_api::Connection::attach(args.kvs.cap, Some(args.kvs_region)).map_err(Failure::Kvs)?;
    // A bulk string must travel to the store in one request.
    let region = store.request_limit() as u64;
    let carried = region.saturating_sub(REQUEST_OVERHEAD as u64);
    let clock = clock(start);
    let mut front = resp::Frontend::new(store, clock);
    let config = front.config_mut();
    let settings = [
        ("port", format!("{port}")),
        ("maxclients", format!("{max_connections}")),
        (
            "appendonly",
            args.appendonly.map_or("no".into(), |a| format!("{a}")),
        ),
    ];
    for (name, value) in &settings {
        config
            .set(name, value)
            .map_err(|_| Failure::Setting(name))?;
    }
    // The heap holds the connections' buffers and, besides them, a round
    // of commands on its way to the store and the replies that came back.
    let clients = net_api::budget::share_of_heap(start.heap().1, region);
    let limits = [
        ("proto-max-bulk-len", carried),
        ("client-query-buffer-limit", clients),
    ];
    for (name, greatest) in limits {
        config
            .limit(name, greatest)
            .map_err(|_| Failure::Setting(name))?;
    }
    front.set_client_memory(clients);
    libcap::log::info!(
        "port {port}, {max_connections} clients at most, bulk strings up to {} KiB, {} KiB for the clients' buffers",
        carried / 1024,
        clients / 1024
    );
    // The server takes one more connection than `maxclients`, so that the
    // front end refuses the extra one with Redis's words.
    let mut server = StreamServer::new(front, port, backlog, max_connections + 1);
    let mut net =
        net_api::client::Sockets::attach(args.region.cap, args.net_event.cap, args.net_wake.cap)
            .map_err(Failure::Net)?;
    server.serve(&mut net, start.tsc_hz())
}

/// Microseconds since the Unix epoch: the kernel's RTC reading plus the
/// TSC since (without them, the TSC since start, as if it were 1970).
#[cfg(target_os = "none")]
fn clock(start: &'static libcap::Start) -> impl FnMut() -> u64 {
    let tsc_hz = start.tsc_hz().unwrap_or(2_000_000_000).max(1);
    let base_us = start.unix_time_ms().unwrap_or(0) * 1000;
    let tsc0 = libcap::time::rdtsc();
    move || {
        let ticks = libcap::time::rdtsc().wrapping_sub(tsc0);
        base_us + (u128::from(ticks) * 1_000_000 / u128::from(tsc_hz)) as u64
    }
}
