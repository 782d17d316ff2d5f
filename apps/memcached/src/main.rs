//! `memcached`: the Basalt component that speaks memcached's text and
//! meta protocols (`docs/memcached.md`) on a TCP port through the net
//! server, keeping the items in the kvs server's memcached namespace. It
//! logs:
//!
//! ```text
//! memcached: port 11211, 1000 connections at most, items up to 1024 KiB, 11264 KiB for the connections' buffers
//! memcached: listening on port 11211
//! ```
//!
//! Arguments (declared in its Cargo.toml): `region` (the region shared
//! with the net server), `net-event` (the notification the net server
//! signals for it), `net-wake` (the one it signals the net server with),
//! `kvs` (the store's channel), `kvs-region` (the region for values too
//! large for a message), `port` (default 11211), `backlog` (default
//! 128), `max-connections` (default 1000).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "memcached is a Basalt component that init starts; \
         see docs/memcached.md (cargo xtask run boots it in config/default)"
    );
    std::process::exit(2);
}

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
    /// The kvs server did not take the client.
    Kvs(kvs_api::Error),
    /// The net server's region is unusable.
    Net(net_api::proto::AttachError),
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    use libcap::bind::fit;
    use net_api::serve::StreamServer;

    let args = args::Args::bind(start).map_err(Failure::Args)?;
    let port = args.port.unwrap_or(11211);
    let backlog = fit("backlog", args.backlog.unwrap_or(128)).map_err(Failure::Args)?;
    let max_connections: usize =
        fit("max-connections", args.max_connections.unwrap_or(1000)).map_err(Failure::Args)?;
    let cache =
        kvs_api::Connection::attach(args.kvs.cap, Some(args.kvs_region)).map_err(Failure::Kvs)?;
    let mut clock = clock(start);
    let mut front = memcached::Frontend::new(port, clock());
    front.max_connections = max_connections as u64;
    // The heap holds the connections' buffers and, besides them, a call
    // on its way to the store and the answer that came back.
    let region = cache.request_limit() as u64;
    front.client_memory = net_api::budget::share_of_heap(start.heap().1, region);
    libcap::log::info!(
        "port {port}, {max_connections} connections at most, items up to {} KiB, {} KiB for the connections' buffers",
        front.item_size_max / 1024,
        front.client_memory / 1024
    );
    let server = memcached::serve::Server::new(cache, front, clock);
    // The stream server takes one more connection than `max-connections`,
    // so that the front end refuses the extra one in memcached's words.
    let mut front = StreamServer::new(server, port, backlog, max_connections + 1);
    let mut net =
        net_api::client::Sockets::attach(args.region.cap, args.net_event.cap, args.net_wake.cap)
            .map_err(Failure::Net)?;
    front.serve(&mut net, start.tsc_hz())
}

/// Unix seconds: the kernel's RTC reading plus the TSC since (without
/// them, the TSC since start, as if it were 1970).
#[cfg(target_os = "none")]
fn clock(start: &'static libcap::Start) -> impl FnMut() -> u64 + Copy {
    let tsc_hz = start.tsc_hz().unwrap_or(2_000_000_000).max(1);
    let base_s = start.unix_time_ms().unwrap_or(0) / 1000;
    let tsc0 = libcap::time::rdtsc();
    move || base_s + libcap::time::rdtsc().wrapping_sub(tsc0) / tsc_hz
}
