//! `kvs`: the Basalt component that serves the key-value store
//! ([`kvs::Kvs`]) on the channel its config calls `kvs`. `init` starts it
//! (see `config/kvs-test` and `docs/kvs.md`); it prints
//!
//! ```text
//! kvs: serving kvs (generation 1, 1 region, TSC 2000 MHz)
//! ```
//!
//! Arguments: `tsc-mhz` (the TSC's frequency; default: the kernel's
//! calibration from the start-info page, else 2000) and `epoch-ms`
//! (the Unix time in milliseconds it takes the start to be, default
//! 1700000000000), from which it counts time (see [`kvs::TscClock`]). Every
//! shared region the config gives it is a buffer clients may attach.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "kvs is a Basalt component that init starts; \
         see docs/kvs.md (cargo xtask run --config config/kvs-test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
extern crate alloc;

#[cfg(target_os = "none")]
libcap::component!(run);

/// The TSC frequency assumed when neither the kernel nor the config gives one.
#[cfg(target_os = "none")]
const DEFAULT_TSC_MHZ: u64 = 2000;
/// The default of argument `epoch-ms`: 2023-11-14 22:13:20 UTC.
#[cfg(target_os = "none")]
const DEFAULT_EPOCH_MS: u64 = 1_700_000_000_000;

/// Serves `kvs` forever.
#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> ! {
    use alloc::string::String;
    use alloc::vec::Vec;
    use kvs::{Kvs, KvsServer, SharedBuf, TscClock};
    use libcap::abi::start_info::CapKind;

    let endpoint = start
        .served("kvs")
        .expect("the config gives kvs no channel `kvs` to serve");
    let number = |key: &str, default: u64| {
        start
            .arg(key)
            .map(|v| v.parse().expect("a numeric argument"))
            .unwrap_or(default)
    };
    // The kernel's calibration, unless the config overrides it.
    let measured = start.tsc_hz().map_or(DEFAULT_TSC_MHZ, |hz| hz / 1_000_000);
    let tsc_mhz = number("tsc-mhz", measured);
    let epoch_ms = number("epoch-ms", DEFAULT_EPOCH_MS);
    let names: Vec<&'static str> = start
        .grants()
        .filter(|g| g.kind == Some(CapKind::Region))
        .map(|g| g.name)
        .collect();
    let regions: Vec<(String, SharedBuf)> = names
        .iter()
        .filter_map(|&name| {
            let region = start.shared_region(name)?;
            Some((String::from(name), SharedBuf::from_region(region)))
        })
        .collect();
    libcap::log::info!(
        "serving kvs (generation {}, {} region{}, TSC {tsc_mhz} MHz)",
        start.generation(),
        regions.len(),
        if regions.len() == 1 { "" } else { "s" }
    );
    let seed = kvs_core::DEFAULT_SEED ^ tsc_seed();
    let store = kvs_core::Store::with_seed(seed);
    let mut server = KvsServer::with_store(store, TscClock::new(tsc_mhz, epoch_ms), regions);
    for g in start
        .grants()
        .filter(|g| g.kind == Some(CapKind::Region) && g.peer_badge != 0)
    {
        server.reserve(g.name, g.peer_badge);
    }
    server.serve(endpoint)
}

/// Some bits that differ from boot to boot, for the hash tables' seed.
#[cfg(target_os = "none")]
fn tsc_seed() -> u64 {
    // SAFETY: RDTSC only reads a counter.
    let t = unsafe { core::arch::x86_64::_rdtsc() };
    t.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
