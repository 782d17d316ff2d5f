//! `kvs`: the Basalt component that serves the key-value store
//! ([`kvs::Kvs`]) on the channel its config calls `kvs`. `init` starts it
//! (see `config/kvs-test` and `docs/kvs.md`); it prints
//!
//! ```text
//! kvs: serving kvs (generation 1, 1 region, TSC 2000 MHz, clock 1795804249 s)
//! ```
//!
//! Arguments (declared in its Cargo.toml): `kvs` (the channel it
//! serves), `tsc-mhz` (the TSC's frequency; default: the kernel's
//! calibration from the start-info page, else 2000) and `epoch-ms` (the
//! Unix time in milliseconds it takes the start to be; default: the
//! real-time clock the kernel read at boot, else 1700000000000), from
//! which it counts time (see [`kvs::TscClock`]); `maxmemory` (default:
//! the heap less what the server needs besides the data, see
//! `docs/kvs.md`) and `maxmemory-policy` (default `noeviction`), as
//! Redis's `CONFIG SET` takes them.
//!
//! With a channel `block` (the block server) it keeps its data set in an
//! append-only log on that disk ([`kvs::persist`]), replayed at start:
//! `disk-region` names the region it shares with the block server,
//! `fsync` is `always`, `everysec` (the default) or `no`. It logs what
//! it found:
//!
//! ```text
//! kvs: log: 1523 records (48 KiB) replayed, fsync always, area 0 of 2 x 1023 KiB
//! ```
//!
//! Every other shared region the config gives it is a buffer its clients
//! may attach, each client the one it shares with (a client names it; the
//! server checks whose it is). With `enable-debug-command = "yes"`,
//! `DEBUG SEGFAULT` faults it on purpose (for tests of its supervision).

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

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

/// The machine stack a script's calls may use: the configs give the kvs
/// thread 1 MiB (`stack` in config/*/kvs.toml); the rest is the server's
/// own frames around the store, the group commit's held replies among
/// them.
#[cfg(target_os = "none")]
const SCRIPT_STACK: usize = 640 << 10;

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
    use libcap::log::{error, info};

    let args = match args::Args::bind(start) {
        Ok(args) => args,
        Err(e) => {
            error!("{e}");
            libcap::syscall::exit(1)
        }
    };
    let endpoint = args.kvs.cap;
    // The kernel's calibration, unless the config overrides it.
    let measured = start.tsc_hz().map_or(DEFAULT_TSC_MHZ, |hz| hz / 1_000_000);
    let tsc_mhz = args.tsc_mhz.unwrap_or(measured);
    // The config's time, else the kernel's reading of the real-time clock.
    let epoch_ms = args
        .epoch_ms
        .unwrap_or(start.unix_time_ms().unwrap_or(DEFAULT_EPOCH_MS));
    let disk_region = args.disk_region.as_ref().map(|r| r.name);
    let seed = kvs_core::DEFAULT_SEED ^ tsc_seed();
    let mut store = kvs_core::Store::with_seed(seed);
    store.set_script_stack(SCRIPT_STACK);
    store.set_script_clock(libcap::time::rdtsc, tsc_mhz.max(1) * 1000);
    let fsync = match args.fsync {
        None | Some(args::Fsync::Everysec) => kvs::persist::Fsync::EverySec,
        Some(args::Fsync::Always) => kvs::persist::Fsync::Always,
        Some(args::Fsync::No) => kvs::persist::Fsync::No,
    };
    let persistence = args.block.map(|block| {
        let client = block_api::BlockClient::from(block.cap);
        match open_log(client, args.disk_region, fsync, &mut store, seed) {
            Ok(p) => p,
            Err(e) => {
                error!("{e}");
                libcap::syscall::exit(1)
            }
        }
    });
    // Time never runs backwards past what the log recorded.
    let last_logged = persistence.as_ref().map_or(0, |(_, last)| *last + 1);
    let names: Vec<&'static str> = start
        .grants()
        .filter(|g| g.kind == Some(CapKind::Region) && Some(g.name) != disk_region)
        .map(|g| g.name)
        .collect();
    let regions: Vec<(String, SharedBuf)> = names
        .iter()
        .filter_map(|&name| {
            let region = start.shared_region(name)?;
            Some((String::from(name), SharedBuf::from_region(region)))
        })
        .collect();
    let clock_start = epoch_ms.max(last_logged);
    let clock = TscClock::new(tsc_mhz, clock_start);
    let largest_region = regions.iter().map(|(_, r)| r.len() as u64).max();
    let mut server = KvsServer::with_store(store, clock, regions);
    // Limits apply once the log is replayed: loading never evicts.
    server.set_lineage(start.generation(), start.last_exit());
    if args.enable_debug_command == Some(args::EnableDebugCommand::Yes) {
        server.enable_debug(fault_on_purpose);
    }
    let ceiling = memory_budget(start.heap().1, largest_region.unwrap_or(0));
    server.set_reply_limit(largest_region.unwrap_or(0).max(kvs::INLINE_REPLY as u64));
    server.set_memory(
        || libcap::runtime::heap_used().unwrap_or(0) as u64,
        || libcap::runtime::heap_held().unwrap_or(0) as u64,
        ceiling,
    );
    let maxmemory = args
        .maxmemory
        .map_or(alloc::format!("{ceiling}"), String::from);
    let policy = args.maxmemory_policy.map(|p| alloc::format!("{p}"));
    for (name, value) in [
        ("maxmemory", Some(maxmemory.as_str())),
        ("maxmemory-policy", policy.as_deref()),
    ] {
        let Some(value) = value else {
            continue;
        };
        if let Err(e) = server.configure(name, value) {
            error!("argument {name} = \"{value}\": {e:?}");
            libcap::syscall::exit(1)
        }
    }
    if let Some((p, _)) = persistence {
        server.persist(p);
    }
    for g in start
        .grants()
        .filter(|g| g.kind == Some(CapKind::Region) && g.peer_badge != 0)
    {
        server.reserve(g.name, g.peer_badge);
    }
    // The front ends it wakes when their blocked clients are answered.
    for (region, wake) in args.wake {
        let notification = wake.cap;
        server.wake_with(
            region,
            kvs::Waker(alloc::boxed::Box::new(move || {
                // A front end that is gone has nothing to wake.
                let _ = notification.signal();
            })),
        );
    }
    // A front end whose round ran on in a previous instance asks now.
    if start.generation() > 1 {
        server.wake_all();
    }
    // A round whose script passes busy-reply-threshold is answered now
    // and runs on: its front end answers -BUSY meanwhile (kvs_api::busy).
    server.answer_early_with(alloc::boxed::Box::new(|| {
        // A caller that went away needs no answer.
        let _ = libcap::rpc::answer_early(kvs::RUNNING);
    }));
    info!(
        "serving kvs (generation {}, {} region{}, TSC {tsc_mhz} MHz, clock {} s)",
        start.generation(),
        names.len(),
        if names.len() == 1 { "" } else { "s" },
        clock_start / 1000
    );
    // Replies that wait for a flush are held in these slots; without a
    // disk none waits, and the loop still wakes for blocked clients'
    // timeouts and keys' expiry.
    let pool =
        libcap::rpc::ReplyPool::<HELD_REPLIES>::at(libcap::abi::start_info::slot::FIRST_FREE);
    server.serve_held(endpoint, pool)
}

/// How much of a heap of `heap` bytes the data may take, the ceiling
/// (see `Store::set_memory`), which is also the default `maxmemory`: the
/// heap less what the server needs besides the data — a request copied
/// out of a region, a reply built and then encoded, and the growth of the
/// command that passes the check last, each up to the largest region of
/// `region` bytes, and 3 MiB for sessions, working memory and the log's
/// buffers.
#[cfg(target_os = "none")]
fn memory_budget(heap: u64, region: u64) -> u64 {
    const MIB: u64 = 1 << 20;
    heap.saturating_sub(4 * region + 3 * MIB).max(1)
}

/// `DEBUG SEGFAULT`: a write to address 0, which no component maps: the
/// kernel reports the page fault to init, which restarts the store by
/// its policy.
#[cfg(target_os = "none")]
fn fault_on_purpose() -> ! {
    // SAFETY: the write faults (page 0 is never mapped), so nothing after
    // it runs and no memory of this program changes; `ud2` stops it should
    // the write ever complete.
    unsafe { core::arch::asm!("mov byte ptr [0], 0", "ud2", options(noreturn, nostack)) }
}

/// The most replies held for one flush (group commit); each costs a
/// message (about 1 KiB of stack).
#[cfg(target_os = "none")]
const HELD_REPLIES: usize = 16;

/// Why persistence could not start.
#[cfg(target_os = "none")]
enum OpenError {
    NoRegion,
    Disk(block_api::disk::DiskError),
    Log(kvs::persist::LogError),
}

#[cfg(target_os = "none")]
impl core::fmt::Display for OpenError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            OpenError::NoRegion => f.write_str(
                "a channel `block` but no region shared with the block server: set disk-region",
            ),
            OpenError::Disk(e) => write!(f, "the disk: {e}"),
            OpenError::Log(e) => write!(f, "the log: {e}"),
        }
    }
}

/// Opens the log on the block server's disk and replays it into `store`:
/// the persistence and the time of the last record.
#[cfg(target_os = "none")]
fn open_log(
    client: block_api::BlockClient,
    region: Option<libcap::bind::Named<libcap::start::SharedRegion>>,
    fsync: kvs::persist::Fsync,
    store: &mut kvs_core::Store,
    seed: u64,
) -> Result<
    (
        kvs::persist::Persistence<alloc::boxed::Box<dyn kvs::persist::SectorDevice>>,
        u64,
    ),
    OpenError,
> {
    use kvs::persist::{Log, Persistence};

    let shared = region.ok_or(OpenError::NoRegion)?.cap;
    let disk = block_api::disk::Disk::open(client, shared).map_err(OpenError::Disk)?;
    let device: alloc::boxed::Box<dyn kvs::persist::SectorDevice> = alloc::boxed::Box::new(disk);
    let (log, report) = Log::open(device, store, seed).map_err(OpenError::Log)?;
    let sb = log.superblock();
    if report.formatted {
        libcap::log::info!("log: formatted an empty disk");
    }
    if report.torn_tail {
        libcap::log::warn!(
            "log: a torn or corrupt tail after byte {} was dropped (a write cut short); the log was rewritten",
            report.bytes
        );
    }
    libcap::log::info!(
        "log: {} records ({} KiB) replayed, fsync {}, area {} of 2 x {} KiB",
        report.records,
        report.bytes / 1024,
        fsync.name(),
        sb.area,
        sb.area_sectors / 2
    );
    Ok((Persistence::new(log, fsync), report.last_time_ms))
}

/// Some bits that differ from boot to boot, for the hash tables' seed.
#[cfg(target_os = "none")]
fn tsc_seed() -> u64 {
    let t = libcap::time::rdtsc();
    t.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}
