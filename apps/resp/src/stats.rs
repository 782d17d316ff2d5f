//! The counters `INFO` reports.

/// Counters of the front end, reported by `INFO` (sections clients,
/// memory and stats) and readable by the component for its own metrics.
/// [`Frontend`](crate::Frontend) and [`Connection`](crate::Connection)
/// keep them up to date; [`used_memory`](Stats::used_memory) is the
/// component's to set. `CONFIG RESETSTAT` zeroes the cumulative ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections accepted since the start (`total_connections_received`),
    /// rejected ones included.
    pub connections_received: u64,
    /// Connections open now (`connected_clients`).
    pub connected: u64,
    /// Connections refused because `maxclients` were open
    /// (`rejected_connections`).
    pub rejected_connections: u64,
    /// Commands run (`total_commands_processed`), forwarded ones included.
    pub commands_processed: u64,
    /// Bytes received from clients (`total_net_input_bytes`).
    pub net_input_bytes: u64,
    /// Bytes of replies produced for clients (`total_net_output_bytes`).
    pub net_output_bytes: u64,
    /// Error replies sent, the store's included (`total_error_replies`).
    pub error_replies: u64,
    /// Connections closed for a protocol error.
    pub protocol_errors: u64,
    /// Connections closed because a command in progress outgrew
    /// `client-query-buffer-limit`.
    pub query_buffer_overflows: u64,
    /// Connections closed because their replies passed
    /// `client-output-buffer-limit`.
    pub output_buffer_overflows: u64,
    /// Connections closed because their input or output would have passed
    /// what all clients may hold together (`evicted_clients`).
    pub evicted_clients: u64,
    /// Memory in use, in bytes (`used_memory`), as the component measures
    /// it; 0 when it does not.
    pub used_memory: u64,
}

impl Stats {
    /// Zeroes the cumulative counters (`CONFIG RESETSTAT`), keeping the
    /// gauges (`connected`, `used_memory`).
    pub fn reset(&mut self) {
        *self = Self {
            connected: self.connected,
            used_memory: self.used_memory,
            ..Self::default()
        };
    }
}
