//! The counters behind `GET /metrics`, and their Prometheus text format.

use alloc::vec::Vec;

use crate::status::{Method, Status};
use crate::store::StoreStats;

/// The server's counters. [`Server`](crate::Server) counts requests and
/// bytes, and connections through [`Server::open`](crate::Server::open)
/// and [`Server::close`](crate::Server::close); the glue that owns the
/// sockets may count more through [`Metrics::connection_refused`].
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    requests: [[u64; Status::FINAL.len()]; Method::ALL.len()],
    opened: u64,
    closed: u64,
    refused: u64,
    received: u64,
    sent: u64,
}

impl Metrics {
    /// Counts a connection accepted.
    pub fn connection_opened(&mut self) {
        self.opened += 1;
    }

    /// Counts a connection closed (by either side).
    pub fn connection_closed(&mut self) {
        self.closed += 1;
    }

    /// Counts a connection refused before it got a [`Connection`](crate::Connection)
    /// (for example over the glue's connection limit).
    pub fn connection_refused(&mut self) {
        self.refused += 1;
    }

    /// Connections open now.
    pub fn open_connections(&self) -> u64 {
        self.opened.saturating_sub(self.closed)
    }

    /// Responses with status `status` to requests with method `method`.
    pub fn requests(&self, method: Method, status: Status) -> u64 {
        status
            .final_index()
            .map_or(0, |s| self.requests[method.index()][s])
    }

    /// Bytes received, and bytes of responses produced.
    pub fn bytes(&self) -> (u64, u64) {
        (self.received, self.sent)
    }

    pub(crate) fn count_request(&mut self, method: Method, status: Status) {
        if let Some(s) = status.final_index() {
            self.requests[method.index()][s] += 1;
        }
    }

    pub(crate) fn count_bytes(&mut self, received: usize, sent: usize) {
        self.received += received as u64;
        self.sent += sent as u64;
    }

    /// Appends the metrics, and the store's `stats`, in the Prometheus text
    /// exposition format (version 0.0.4).
    pub fn render(&self, stats: &StoreStats, out: &mut Vec<u8>) {
        let mut w = Writer(out);
        w.family(
            "basalt_http_requests_total",
            "counter",
            "Requests answered, by method and status code.",
        );
        for method in Method::ALL {
            for status in Status::FINAL {
                let n = self.requests(method, status);
                if n > 0 {
                    w.text("basalt_http_requests_total{method=\"");
                    w.text(method.label());
                    w.text("\",code=\"");
                    w.number(u64::from(status.code()));
                    w.text("\"} ");
                    w.number(n);
                    w.text("\n");
                }
            }
        }
        w.single(
            "basalt_http_connections_open",
            "gauge",
            "Connections open now.",
            Some(self.open_connections()),
        );
        w.single(
            "basalt_http_connections_opened_total",
            "counter",
            "Connections accepted.",
            Some(self.opened),
        );
        w.single(
            "basalt_http_connections_refused_total",
            "counter",
            "Connections refused (over the connection limit).",
            Some(self.refused),
        );
        w.single(
            "basalt_http_received_bytes_total",
            "counter",
            "Bytes received from clients.",
            Some(self.received),
        );
        w.single(
            "basalt_http_sent_bytes_total",
            "counter",
            "Bytes of responses produced.",
            Some(self.sent),
        );
        w.single(
            "basalt_kvs_up",
            "gauge",
            "1 if the store answered this scrape.",
            Some(u64::from(stats.up)),
        );
        w.single("basalt_kvs_keys", "gauge", "Keys in the store.", stats.keys);
        w.single(
            "basalt_kvs_used_memory_bytes",
            "gauge",
            "Memory the store uses.",
            stats.used_memory,
        );
        w.single(
            "basalt_kvs_aof_enabled",
            "gauge",
            "1 if the store keeps an append-only log on disk.",
            stats.aof_enabled.map(u64::from),
        );
        w.single(
            "basalt_kvs_aof_size_bytes",
            "gauge",
            "Size of the store's log.",
            stats.aof_size,
        );
        w.single(
            "basalt_kvs_aof_last_write_ok",
            "gauge",
            "1 if the store's last write to its log succeeded.",
            stats.aof_last_write_ok.map(u64::from),
        );
        w.single(
            "basalt_kvs_maxmemory_bytes",
            "gauge",
            "The store's maxmemory.",
            stats.maxmemory,
        );
        w.single(
            "basalt_kvs_evicted_keys_total",
            "counter",
            "Keys the store evicted for memory.",
            stats.evicted_keys,
        );
        w.single(
            "basalt_kvs_restarts_total",
            "counter",
            "How often init restarted the store.",
            stats.restarts,
        );
        if let Some(reason) = stats.last_exit.as_deref().filter(|r| !r.is_empty()) {
            w.family(
                "basalt_kvs_last_exit_info",
                "gauge",
                "How the store's previous start ended (init's words), as a label.",
            );
            w.text("basalt_kvs_last_exit_info{reason=\"");
            w.label_value(reason);
            w.text("\"} 1\n");
        }
    }
}

/// Appends text to the body being rendered.
struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn text(&mut self, s: &str) {
        self.0.extend_from_slice(s.as_bytes());
    }

    /// `value` as a label value: backslash, double quote and newline
    /// escaped, as the text format wants.
    fn label_value(&mut self, value: &str) {
        for c in value.chars() {
            match c {
                '\\' => self.text("\\\\"),
                '"' => self.text("\\\""),
                '\n' => self.text("\\n"),
                c => {
                    let mut utf8 = [0u8; 4];
                    self.text(c.encode_utf8(&mut utf8));
                }
            }
        }
    }

    fn number(&mut self, n: u64) {
        kvs_core::num::push_u64(self.0, n);
    }

    fn family(&mut self, name: &str, kind: &str, help: &str) {
        self.text("# HELP ");
        self.text(name);
        self.text(" ");
        self.text(help);
        self.text("\n# TYPE ");
        self.text(name);
        self.text(" ");
        self.text(kind);
        self.text("\n");
    }

    /// A metric without labels; nothing at all when `value` is unknown.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: Option<u64>) {
        if let Some(value) = value {
            self.family(name, kind, help);
            self.text(name);
            self.text(" ");
            self.number(value);
            self.text("\n");
        }
    }
}
