//! `kvs-bench`: a Basalt component that times GET and SET three ways:
//! over IPC to the kvs server (channel `kvs`), through the same client and
//! server code in this component without the kernel, and on a bare
//! `kvs_core::Store`. `cargo xtask bench kvs-ipc` boots it with the kvs
//! server (`config/kvs-bench`) and reads its lines:
//!
//! ```text
//! bench: kvs_<op>_<len>b_<path> median=<c> p99=<c> min=<c> max=<c> n=<ops> mean=<c> unit=cycles
//! bench: kvs_<op>_<len>b_<path> error=<Error> (<what failed>)
//! bench: done
//! ```
//!
//! `<op>` is `set` or `get`, `<len>` the value's bytes (3 or 100), `<path>`
//! `ipc`, `local` or `store` (see [`ops::Path`]). Each benchmark runs
//! [`WARMUP`] untimed commands, then [`ITERATIONS`] timed ones; keys are 16
//! bytes, cycling through [`ops::KEYS`]. A sample is the time-stamp counter
//! ticks of one command (guest instructions under QEMU `-icount shift=0`).
//! `docs/perf.md` explains the figures.
//!
//! With the argument `exit = "on-success"` it then ends the QEMU run
//! through `DebugExit` (success when every benchmark produced figures);
//! otherwise it exits, with status 0 when they did.

#![cfg_attr(target_os = "none", no_std, no_main)]
// The benchmarks are portable so that their tests run on the host; there
// only the tests use them.
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

extern crate alloc;

mod ops;

/// Timed commands per benchmark.
pub const ITERATIONS: usize = 50_000;
/// Untimed commands before them: every key is written, the hash tables
/// have grown, and (under QEMU) the code is translated when timing starts.
pub const WARMUP: usize = ops::KEYS;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kvs-bench is a Basalt component that init starts; \
         use cargo xtask bench kvs-ipc (see docs/perf.md)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(run);

/// Benchmarks that produced no figures.
#[derive(Debug)]
#[allow(dead_code)] // read only by `Debug`
struct Failed(u32);

/// The TSC frequency assumed when the kernel reports none (the kvs
/// server's default too); it only scales the in-process server's clock.
#[cfg(target_os = "none")]
const DEFAULT_TSC_MHZ: u64 = 2000;

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failed> {
    use alloc::vec;
    use alloc::vec::Vec;
    use kvs::{Connection, Kvs, KvsClient, KvsServer, TscClock};
    use libcap::rpc::Local;
    use ops::{Direct, Failure, Path};

    let args = args::Args::bind(start);
    let exit_when_done = matches!(&args, Ok(a) if a.exit == Some(args::Exit::OnSuccess));
    libcap::log::info!(
        "{ITERATIONS} timed commands per benchmark after {WARMUP} untimed; \
         {} keys of {} bytes; unit: time-stamp counter ticks \
         (guest instructions under QEMU -icount shift=0)",
        ops::KEYS,
        ops::KEY_LEN
    );
    let mut samples = vec![0u32; ITERATIONS];
    let mut print = |line: &str| libcap::println!("{line}");

    // The store alone, and the server in-process: built as the kvs
    // component builds its own (a seeded store, the TSC clock).
    let seed = kvs_core::DEFAULT_SEED ^ libcap::bench::tsc();
    let tsc_mhz = start.tsc_hz().map_or(DEFAULT_TSC_MHZ, |hz| hz / 1_000_000);
    let clock = TscClock::new(tsc_mhz, 0);
    let mut failed = 0;
    let mut tally = |ok: bool| failed += u32::from(!ok);
    tally(ops::run_path(
        Ok(Direct::new(kvs_core::Store::with_seed(seed), 0)),
        Path::Store,
        &mut samples,
        WARMUP,
        &mut print,
    ));
    let server = KvsServer::with_store(kvs_core::Store::with_seed(seed), clock, Vec::new());
    let local = Local::new(server, KvsServer::rpc_dispatch);
    tally(ops::run_path(
        Connection::open(KvsClient::new(&local), None).map_err(Failure::Connect),
        Path::Local,
        &mut samples,
        WARMUP,
        &mut print,
    ));
    drop(local);
    let ipc = args.map_err(Failure::Args).and_then(|args| {
        Connection::open(KvsClient::from(args.kvs.cap), None).map_err(Failure::Connect)
    });
    tally(ops::run_path(
        ipc,
        Path::Ipc,
        &mut samples,
        WARMUP,
        &mut print,
    ));
    libcap::println!("bench: done");
    if exit_when_done {
        // Returns only outside self-test mode; then exit normally.
        libcap::syscall::try_debug_exit(failed == 0);
    }
    if failed == 0 {
        Ok(())
    } else {
        Err(Failed(failed))
    }
}
