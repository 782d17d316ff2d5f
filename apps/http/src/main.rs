//! `http`: the Basalt component that serves the REST interface
//! (`docs/http.md`) on a TCP port through the net server, answering from
//! the kvs server. It logs:
//!
//! ```text
//! http: port 8080, 1000 connections at most, bodies up to 1024 KiB, 3596 KiB of requests in all
//! http: listening on port 8080
//! ```
//!
//! Arguments: `region` (the region shared with the net server, default
//! `http-net`; the component waits on notification `<region>-ev`), `port`
//! (default 8080), `backlog` (default 64), `max-connections` (default
//! 1000), `kvs-region` (the region shared with the kvs server for large
//! values, default `http-kvs`; without it a value must fit in a message),
//! `max-body` (bytes; default 1 MiB, at most what the kvs region carries
//! and what the heap allows), `max-head` (bytes, default 8192). The heap
//! and `max-connections` decide how many received bytes all connections
//! may hold together (`http::Limits::fit`).

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

/// Why the component could not start.
#[cfg(target_os = "none")]
#[derive(Debug)]
#[allow(dead_code)] // the fields are read only by `Debug`
enum Failure {
    /// An argument that is not valid.
    BadArgument(libcap::start::BadArgument),
    /// No channel `kvs`, or the kvs server did not take the client.
    Kvs(kvs_api::Error),
    /// The net server's region or notifications are missing.
    Net(net_api::client::ClientError),
    /// The heap (bytes) cannot hold `max-connections` connections and a
    /// request's head.
    HeapTooSmall(usize),
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    use net_api::serve::StreamServer;

    let number = |key: &'static str, default: usize| {
        start.parsed_arg(key, default).map_err(Failure::BadArgument)
    };
    let port = start
        .parsed_arg("port", 8080u16)
        .map_err(Failure::BadArgument)?;
    let backlog = start
        .parsed_arg("backlog", 64u16)
        .map_err(Failure::BadArgument)?;
    let max_connections = number("max-connections", 1000)?;
    let store = kvs_api::Connection::attach(start, start.arg("kvs-region").unwrap_or("http-kvs"))
        .map_err(Failure::Kvs)?;
    let mut limits = http::Limits {
        max_head: number("max-head", 8192)?,
        ..http::Limits::default()
    };
    // A body must fit in one SET through the region (or the message).
    let carried = store.request_limit().saturating_sub(limits.max_head + 128);
    limits.max_body = number("max-body", limits.max_body)?.min(carried);
    let heap = start.heap().1 as usize;
    let limits = limits
        .fit(heap, max_connections)
        .ok_or(Failure::HeapTooSmall(heap))?;
    let server = http::Server::new(store, limits);
    let mut front = StreamServer::new(server, port, backlog, max_connections);
    let mut net =
        net_api::client::Sockets::attach(start, start.arg("region").unwrap_or("http-net"))
            .map_err(Failure::Net)?;
    libcap::log::info!(
        "port {port}, {max_connections} connections at most, bodies up to {} KiB, {} KiB of requests in all",
        limits.max_body / 1024,
        limits.max_buffered / 1024
    );
    front.serve(&mut net)
}
