//! The hello server's interface, [`Greeter`], and its implementation,
//! [`Hello`]. The component (`src/main.rs`) serves it on the channel the
//! config calls `greeter`; clients depend on this library for
//! [`GreeterClient`]:
//!
//! ```no_run
//! # fn run(channel: libcap::Endpoint) {
//! use hello_server::GreeterClient;
//! // The channel as the client's argument `greeter` binds it.
//! let greeter = GreeterClient::from(channel);
//! let greeting = greeter.hello("world").expect("hello");
//! assert_eq!(greeting, "Hello, world!");
//! # }
//! ```
//!
//! The library is portable: its tests run on the host, calling [`Hello`]
//! through [`libcap::rpc::Local`] instead of an endpoint.

#![no_std]

use core::fmt::Write;
use libcap::rpc::{Caller, Text};

/// Bytes a greeting can have.
pub const GREETING_BYTES: usize = 64;

/// Error code of [`Greeter::add`]: the sum does not fit in 64 bits.
pub const OVERFLOW: u64 = 1;
/// Error code of [`Greeter::hello`]: the greeting would pass
/// [`GREETING_BYTES`].
pub const NAME_TOO_LONG: u64 = 2;

libcap::rpc_interface! {
    /// What the hello server serves. Method ids are the wire labels: keep
    /// them, and give a new method a new id.
    pub interface Greeter {
        /// The client side of [`Greeter`]; make one from the endpoint of
        /// channel `greeter` (`GreeterClient::from`).
        client GreeterClient;
        /// `"Hello, <name>!"`; fails with [`NAME_TOO_LONG`].
        fn hello(name: &str) -> Text<GREETING_BYTES> = 1;
        /// `a + b`; fails with [`OVERFLOW`].
        fn add(a: u64, b: u64) -> u64 = 2;
        /// How many calls this instance answered before this one (a
        /// restarted server starts again from 0).
        fn calls() -> u64 = 3;
        /// Makes the server panic, for the restart test: `init` restarts
        /// it, and this call returns `RpcError::Unavailable`.
        fn crash() = 4;
    }
}

/// The hello server: stateless but for a call counter, which a restart
/// resets.
///
/// ```
/// use hello_server::{Greeter, GreeterClient, Hello};
/// use libcap::rpc::Local;
///
/// let server = Local::new(Hello::new(), Hello::rpc_dispatch);
/// let greeter = GreeterClient::new(&server);
/// assert_eq!(greeter.add(2, 40), Ok(42));
/// ```
#[derive(Debug, Default)]
pub struct Hello {
    calls: u64,
}

impl Hello {
    /// A server that has answered no call.
    pub const fn new() -> Self {
        Self { calls: 0 }
    }
}

impl Greeter for Hello {
    fn hello(&mut self, _caller: Caller, name: &str) -> Result<Text<GREETING_BYTES>, u64> {
        self.calls += 1;
        let mut greeting = Text::new();
        write!(greeting, "Hello, {name}!").map_err(|_| NAME_TOO_LONG)?;
        Ok(greeting)
    }

    fn add(&mut self, _caller: Caller, a: u64, b: u64) -> Result<u64, u64> {
        self.calls += 1;
        a.checked_add(b).ok_or(OVERFLOW)
    }

    fn calls(&mut self, _caller: Caller) -> Result<u64, u64> {
        let before = self.calls;
        self.calls += 1;
        Ok(before)
    }

    fn crash(&mut self, caller: Caller) -> Result<(), u64> {
        // The component's panic handler prints `PANIC in hello-server: …`
        // and faults, so that init restarts the server.
        panic!("crash requested by the client with badge {}", caller.badge)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use libcap::rpc::{Local, RpcError};

    fn server() -> Local<Hello> {
        Local::new(Hello::new(), Hello::rpc_dispatch)
    }

    #[test]
    fn greets_adds_and_counts() {
        let s = server();
        let g = GreeterClient::new(&s);
        assert_eq!(g.hello("world").unwrap(), "Hello, world!");
        assert_eq!(g.add(40, 2), Ok(42));
        assert_eq!(g.calls(), Ok(2));
        assert_eq!(g.calls(), Ok(3));
    }

    #[test]
    fn reports_overflow_and_long_names_as_error_codes() {
        let s = server();
        let g = GreeterClient::new(&s);
        assert_eq!(g.add(u64::MAX, 1), Err(RpcError::Remote(OVERFLOW)));
        let long = "n".repeat(GREETING_BYTES);
        assert_eq!(g.hello(&long), Err(RpcError::Remote(NAME_TOO_LONG)));
        // The longest name that fits: "Hello, " + name + "!".
        let fits = "n".repeat(GREETING_BYTES - 8);
        assert_eq!(g.hello(&fits).unwrap().len(), GREETING_BYTES);
    }

    #[test]
    #[should_panic(expected = "crash requested by the client with badge 7")]
    fn crash_panics() {
        let s = server();
        s.set_badge(7);
        let _ = GreeterClient::new(&s).crash();
    }
}
