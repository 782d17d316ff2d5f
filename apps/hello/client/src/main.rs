//! `hello-client`: a Basalt component that calls the hello server through
//! the channel its config calls `greeter`, and checks what it gets back.
//! `init` starts it (see `config/hello` and `docs/writing-a-server.md`).
//! It prints (the generation numbers assume a fresh boot):
//!
//! ```text
//! hello-client: hello("world") = "Hello, world!"
//! hello-client: add(40, 2) = 42
//! hello-client: add(u64::MAX, 1) failed with OVERFLOW, as it should
//! hello-client: a call through slot 200 (not granted) failed with Kernel(InvalidCapability), as it should
//! hello-client: server generation 1; asking it to crash
//! hello-client: crash() was aborted: the server died
//! hello-client: server restarted (generation 2)
//! hello-client: hello("again") = "Hello, again!"
//! hello-client: the new instance answered 2 calls before this one
//! hello-client: all calls succeeded
//! ```
//!
//! With the argument `crashes = N` it asks the server to crash N times in
//! a row (default 1), checking each time that it comes back as the next
//! generation (init's restart budget may make it wait: see `restart-window`
//! in docs/config.md).
//!
//! With the argument `exit = "on-success"` it then ends the QEMU self-test
//! run through `DebugExit` (success); if a step fails, it prints the step
//! and ends the run as a failure instead. Otherwise (no such argument, or
//! not a self-test run) it exits: status 0 when every step passed, else 1
//! after `hello-client: main failed: <step>`, which `init` reports.

#![cfg_attr(target_os = "none", no_std, no_main)]
// The scenario is portable so that its tests run on the host; there only
// the tests use it.
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

use hello_server::{GreeterClient, OVERFLOW};
use libcap::Error;
use libcap::log::info;
use libcap::rpc::{RpcError, Transport};

/// A slot no config grants: components get at most
/// `start_info::MAX_CAPS` capabilities, from slot 8 up.
const NOT_GRANTED: u64 = 200;

const _: () = assert!(
    NOT_GRANTED
        >= libcap::abi::start_info::slot::FIRST_GRANTED + libcap::abi::start_info::MAX_CAPS as u64
);

/// The step that went wrong, reported through `Debug` (the runtime prints
/// `hello-client: main failed: <failure:?>`).
#[derive(Debug)]
#[allow(dead_code)] // the fields are read only by `Debug`, and on Basalt
enum Failure {
    /// An argument does not bind to the grants.
    #[cfg(target_os = "none")]
    Args(libcap::bind::ArgError),
    /// A call failed.
    Call(&'static str, RpcError),
    /// A call returned something else than it should.
    Unexpected(&'static str),
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hello-client is a Basalt component that init starts; \
         see docs/writing-a-server.md (cargo xtask run --config config/hello)"
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

/// Reads a register of a virtio PCI device's common configuration (the
/// device memory `name` init granted): shows that a BAR reaches the
/// component mapped and usable. Offset 0x12 is `num_queues`.
#[cfg(target_os = "none")]
fn report_virtio_device(start: &'static libcap::Start, name: &str) {
    match start.device_memory(name) {
        Some(bar) if bar.len() >= 0x14 => {
            // SAFETY: init maps the BAR read-write (uncached) at this
            // address for the component's lifetime; the register is a
            // 16-bit field inside it.
            let queues = unsafe { bar.as_ptr().add(0x12).cast::<u16>().read_volatile() };
            let physical = bar.physical();
            info!(
                "device {name}: {} KiB mapped, physical {physical:#x}, virtio num_queues = {queues}",
                bar.len() >> 10
            );
        }
        _ => libcap::log::error!("device memory `{name}` was not granted"),
    }
}

/// Runs the scenario; ends the self-test run if the arguments ask for it.
#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failure> {
    let args = args::Args::bind(start);
    let exit_when_done = matches!(&args, Ok(a) if a.exit == Some(args::Exit::OnSuccess));
    let result = args.map_err(Failure::Args).and_then(|args| {
        if let Some(name) = args.virtio_device {
            report_virtio_device(start, name);
        }
        let greeter = GreeterClient::from(args.greeter.cap);
        let stray = GreeterClient::new(libcap::Endpoint::from_raw(NOT_GRANTED));
        let crashes =
            libcap::bind::fit("crashes", args.crashes.unwrap_or(1)).map_err(Failure::Args)?;
        scenario(&greeter, &stray, crashes)
    });
    match result {
        Ok(_) => {
            info!("all calls succeeded");
            if exit_when_done {
                // Returns only outside self-test mode; then exit normally.
                libcap::syscall::try_debug_exit(true);
            }
            Ok(())
        }
        Err(failure) => {
            if exit_when_done {
                libcap::log::error!("{failure:?}");
                libcap::syscall::try_debug_exit(false);
            }
            Err(failure)
        }
    }
}

/// Calls `greeter` and checks each answer, including `crashes` crashes
/// and restarts of the server; `stray` calls a capability address that
/// holds nothing. Returns the server's generation after the last restart.
fn scenario<T: Transport, S: Transport>(
    greeter: &GreeterClient<T>,
    stray: &GreeterClient<S>,
    crashes: u32,
) -> Result<u64, Failure> {
    let greeting = greeter
        .hello("world")
        .map_err(|e| Failure::Call("hello(\"world\")", e))?;
    if greeting != "Hello, world!" {
        return Err(Failure::Unexpected("hello(\"world\")"));
    }
    info!("hello(\"world\") = {greeting:?}");

    match greeter.add(40, 2) {
        Ok(42) => info!("add(40, 2) = 42"),
        Ok(_) => return Err(Failure::Unexpected("add(40, 2)")),
        Err(e) => return Err(Failure::Call("add(40, 2)", e)),
    }

    match greeter.add(u64::MAX, 1) {
        Err(RpcError::Remote(OVERFLOW)) => {
            info!("add(u64::MAX, 1) failed with OVERFLOW, as it should")
        }
        _ => return Err(Failure::Unexpected("add(u64::MAX, 1)")),
    }

    match stray.add(1, 2) {
        Err(e @ RpcError::Kernel(Error::InvalidCapability)) => {
            info!("a call through slot {NOT_GRANTED} (not granted) failed with {e:?}, as it should")
        }
        _ => return Err(Failure::Unexpected("a call through a slot not granted")),
    }

    let mut generation = greeter.generation();
    for _ in 0..crashes.max(1) {
        let before = generation;
        info!("server generation {before}; asking it to crash");
        match greeter.crash() {
            Err(RpcError::Unavailable) => info!("crash() was aborted: the server died"),
            Err(e) => return Err(Failure::Call("crash()", e)),
            Ok(()) => return Err(Failure::Unexpected("crash() returned")),
        }
        // The next call waits until init has restarted the server, and is
        // the first to see its new generation.
        generation = match greeter.hello("again") {
            Err(RpcError::Restarted { generation }) if generation == before + 1 => generation,
            Err(e) => return Err(Failure::Call("hello(\"again\") after the crash", e)),
            Ok(_) => return Err(Failure::Unexpected("no restart seen after crash()")),
        };
        info!("server restarted (generation {generation})");
    }

    let greeting = greeter
        .hello("again")
        .map_err(|e| Failure::Call("hello(\"again\")", e))?;
    info!("hello(\"again\") = {greeting:?}");

    // A fresh instance: it answered the two hello("again") calls only.
    match greeter.calls() {
        Ok(2) => info!("the new instance answered 2 calls before this one"),
        Ok(_) => return Err(Failure::Unexpected("calls() after the restart")),
        Err(e) => return Err(Failure::Call("calls()", e)),
    }
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::cell::Cell;
    use hello_server::{Greeter, Hello};
    use libcap::rpc::{Encoder, Local};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// The hello server under a stand-in for init: a call during which the
    /// server panics is aborted, and the server is restarted (with a new
    /// generation) before the next call, unless `restarts` is off.
    struct Supervised {
        server: Local<Hello>,
        restart_pending: Cell<bool>,
        restarts: bool,
    }

    impl Supervised {
        fn new(restarts: bool) -> Self {
            Self {
                server: Local::new(Hello::new(), Hello::rpc_dispatch),
                restart_pending: Cell::new(false),
                restarts,
            }
        }
    }

    impl Transport for Supervised {
        fn call(&self, label: u64, words: &mut Encoder) -> Result<u64, Error> {
            if self.restart_pending.replace(false) && self.restarts {
                self.server.restart(Hello::new());
            }
            match catch_unwind(AssertUnwindSafe(|| self.server.call(label, words))) {
                Ok(reply) => reply,
                Err(_) => {
                    self.restart_pending.set(true);
                    Err(Error::Aborted)
                }
            }
        }
    }

    /// A capability address that holds nothing.
    struct Empty;

    impl Transport for Empty {
        fn call(&self, _: u64, _: &mut Encoder) -> Result<u64, Error> {
            Err(Error::InvalidCapability)
        }
    }

    #[test]
    fn the_scenario_passes_against_a_restarting_server() {
        let server = Supervised::new(true);
        let greeter = GreeterClient::new(&server);
        let generation = scenario(&greeter, &GreeterClient::new(Empty), 1).expect("scenario");
        assert_eq!(generation, 2);
        assert_eq!(server.server.generation(), 2);
        // Ten in a row: each restart is the next generation.
        let server = Supervised::new(true);
        let greeter = GreeterClient::new(&server);
        let generation = scenario(&greeter, &GreeterClient::new(Empty), 10).expect("scenario");
        assert_eq!(generation, 11);
    }

    #[test]
    fn the_scenario_fails_if_the_server_is_not_restarted() {
        // Without a restart the aborted call is followed by replies of the
        // same generation (as if init resumed the old instance).
        let server = Supervised::new(false);
        let greeter = GreeterClient::new(&server);
        let failure = scenario(&greeter, &GreeterClient::new(Empty), 1).unwrap_err();
        assert!(
            matches!(
                failure,
                Failure::Unexpected("no restart seen after crash()")
            ),
            "{failure:?}"
        );
    }

    #[test]
    fn the_scenario_fails_if_the_stray_slot_answers() {
        let server = Supervised::new(true);
        let other = Supervised::new(true);
        let failure =
            scenario(&GreeterClient::new(&server), &GreeterClient::new(&other), 1).unwrap_err();
        assert!(
            matches!(
                failure,
                Failure::Unexpected("a call through a slot not granted")
            ),
            "{failure:?}"
        );
    }
}
