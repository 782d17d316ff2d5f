//! `http`: the Basalt component that serves the REST interface
//! (`docs/http.md`) on a TCP port through the net server, answering from
//! the kvs server. It logs:
//!
//! ```text
//! http: port 8080, 1000 connections at most, bodies up to 1024 KiB, 3596 KiB of requests in all
//! http: listening on port 8080
//! ```
//!
//! Arguments (declared in its Cargo.toml; docs/http.md): `region` (the
//! region shared with the net server), `net-event` (the notification the
//! net server signals for it), `net-wake` (the one it signals the net
//! server with), `kvs` (the store's channel), `port` (default 8080),
//! `backlog` (default 64), `max-connections` (default 1000), `kvs-region`
//! (optional: the region shared with the kvs server for large values;
//! without it a value must fit in a message), `max-body` (bytes; default
//! 1 MiB, at most what the kvs region carries and what the heap allows),
//! `max-head` (bytes, default 8192). The heap and `max-connections`
//! decide how many received bytes all connections may hold together
//! (`http::Limits::fit`).

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "http is a Basalt component that init starts; \
         see docs/http.md (cargo xtask run boots it in config/default)"
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
    /// The kvs server did not take the client.
    Kvs(kvs_api::Error),
    /// The net server's region is unusable.
    Net(net_api::proto::AttachError),
    /// The heap (bytes) cannot hold `max-connections` connections and a
    /// request's head.
    HeapTooSmall(usize),
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    use libcap::bind::fit;
    use net_api::serve::StreamServer;

    let args = args::Args::bind(start).map_err(Failure::Args)?;
    let port = args.port.unwrap_or(8080);
    let backlog = fit("backlog", args.backlog.unwrap_or(64)).map_err(Failure::Args)?;
    let max_connections =
        fit("max-connections", args.max_connections.unwrap_or(1000)).map_err(Failure::Args)?;
    let store = kvs_api::Connection::attach(args.kvs.cap, args.kvs_region).map_err(Failure::Kvs)?;
    let mut limits = http::Limits {
        max_head: fit("max-head", args.max_head.unwrap_or(8192)).map_err(Failure::Args)?,
        ..http::Limits::default()
    };
    // A body must fit in one SET through the region (or the message).
    let carried = store.request_limit().saturating_sub(limits.max_head + 128);
    let max_body = args
        .max_body
        .map_or(Ok(limits.max_body), |b| fit("max-body", b));
    limits.max_body = max_body.map_err(Failure::Args)?.min(carried);
    let heap = start.heap().1 as usize;
    let limits = limits
        .fit(heap, max_connections)
        .ok_or(Failure::HeapTooSmall(heap))?;
    let server = http::Server::new(store, limits);
    let mut front = StreamServer::new(server, port, backlog, max_connections);
    let mut net =
        net_api::client::Sockets::attach(args.region.cap, args.net_event.cap, args.net_wake.cap)
            .map_err(Failure::Net)?;
    libcap::log::info!(
        "port {port}, {max_connections} connections at most, bodies up to {} KiB, {} KiB of requests in all",
        limits.max_body / 1024,
        limits.max_buffered / 1024
    );
    front.serve(&mut net, start.tsc_hz())
}
