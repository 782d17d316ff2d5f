//! `block-smoke`: a Basalt component that checks the block server
//! (channel `block`) through the rings in the region named by argument
//! `region` (default `block-io`): the disk's size; a pattern written to
//! sectors 4-7 by four requests in flight at once and read back the same
//! way; sector 0 (the test disk starts `BASALT-BLOCKTEST`); requests the
//! server must refuse, in one batch with a good one; a flush; and
//! [`block_api::disk::Disk`] writing, flushing and reading back 100 sectors
//! from sector 16 on (several batches of several requests). It prints one
//! line per check and a summary:
//!
//! ```text
//! block-smoke: ok info
//! block-smoke: FAIL read back sectors 4-7: Mismatch { offset: 3, wrote: 99, read: 0 }
//! block-smoke: 11 passed, 1 failed
//! ```
//!
//! With the argument `exit = "on-success"` it then ends the QEMU self-test
//! run through `DebugExit` (success when nothing failed); otherwise it
//! exits, with status 0 when nothing failed.
//!
//! **It overwrites sectors 4-7 and 16-115** of the disk, with
//! `block_api::pattern`.

#![cfg_attr(target_os = "none", no_std, no_main)]
// The script is portable so that its tests run on the host; there only
// the tests use it.
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

extern crate alloc;

use alloc::vec;
use alloc::vec::Vec;
use block_api::client::Rings;
use block_api::disk::{Disk, DiskError};
use block_api::{BAD_OP, Geometry, MISALIGNED, OK, OUT_OF_RANGE, Request, TOO_LARGE};
use libcap::rpc::{RpcError, Transport};

/// What the test disk holds at the start of sector 0.
const MAGIC: &[u8; 16] = b"BASALT-BLOCKTEST";
/// The sectors the pattern goes to: 4 to 7, one request each.
const FIRST: u64 = 4;
const COUNT: u64 = 4;
/// The sectors [`Disk`] writes: 16 to 115.
const DISK_FIRST: u64 = 16;
const DISK_COUNT: usize = 100;
const SECTOR: usize = 512;
/// Data-area offsets: the pattern is written from `OUT`, read back into `IN`.
const OUT: usize = 0;
const IN: usize = COUNT as usize * SECTOR;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "block-smoke is a Basalt component that init starts; \
         see docs/block.md (cargo xtask run --config config/block-test)"
    );
    std::process::exit(2);
}

#[cfg(target_os = "none")]
libcap::component!(run);

/// Checks that failed.
#[derive(Debug)]
#[allow(dead_code)] // read only by `Debug`
struct Failed(u32);

/// Why a check failed.
#[derive(Debug, PartialEq, Eq)]
#[allow(dead_code)] // the fields are read only by `Debug`
enum Problem {
    /// A call failed.
    Rpc(RpcError),
    /// A request completed with this status instead of the one expected.
    Status { expected: u64, got: u64 },
    /// Fewer requests than pushed were in flight after `submit`.
    InFlight(u64),
    /// The server's answer is not what it should be.
    Wrong(&'static str),
    /// The data area lacks room for the check.
    RegionTooSmall(usize),
    /// A byte read back differs from the one written.
    Mismatch { offset: usize, wrote: u8, read: u8 },
    /// A `Disk` operation failed.
    Disk(DiskError),
}

impl From<RpcError> for Problem {
    fn from(e: RpcError) -> Self {
        Problem::Rpc(e)
    }
}

/// The arguments, bound to the grants (generated from Cargo.toml).
#[cfg(target_os = "none")]
mod args {
    libcap::include_args!();
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failed> {
    use block_api::BlockClient;
    use libcap::log::info;

    let args = args::Args::bind(start);
    let exit_when_done = matches!(&args, Ok(a) if a.exit == Some(args::Exit::OnSuccess));
    let mut report = |what: &str, result: &Result<(), Problem>| match result {
        Ok(()) => info!("ok {what}"),
        Err(e) => info!("FAIL {what}: {e:?}"),
    };
    let (passed, failed) = match args {
        Ok(args) => match Rings::new(BlockClient::from(args.block.cap), args.region.cap) {
            Some(rings) => script(rings, &mut report),
            None => {
                report("connect", &Err(Problem::Wrong("region too small")));
                (0, 1)
            }
        },
        Err(e) => {
            info!("FAIL arguments: {e}");
            (0, 1)
        }
    };
    info!("{passed} passed, {failed} failed");
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

/// Runs every check through `rings`, passing each outcome to `report`;
/// returns how many passed and failed.
fn script<T: Transport>(
    mut rings: Rings<T>,
    report: &mut dyn FnMut(&str, &Result<(), Problem>),
) -> (u32, u32) {
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |what: &str, result: Result<(), Problem>| {
        report(what, &result);
        if result.is_ok() {
            passed += 1;
        } else {
            failed += 1;
        }
    };
    let geometry = rings.block().info();
    let Geometry {
        sector_count,
        max_sectors,
        ..
    } = geometry.unwrap_or(Geometry {
        sector_count: 0,
        sector_size: 0,
        max_sectors: 0,
    });
    tally(
        "info",
        match geometry {
            Err(e) => Err(e.into()),
            Ok(g) if g.sector_size != SECTOR as u64 => Err(Problem::Wrong("sector size not 512")),
            Ok(g) if g.sector_count < DISK_FIRST + DISK_COUNT as u64 => {
                Err(Problem::Wrong("disk too small"))
            }
            Ok(g) if g.max_sectors < COUNT => Err(Problem::Wrong("requests too small")),
            Ok(_) => Ok(()),
        },
    );
    tally(
        "write sectors 4-7, four requests in flight",
        write_pattern(&mut rings),
    );
    tally("read back sectors 4-7", read_back(&mut rings));
    tally("sector 0 holds BASALT-BLOCKTEST", sector0(&mut rings));
    let data_end = rings.data_len() as u64;
    let refusals = [
        (
            "read past the end refused",
            Request::read(0, sector_count, 1, 0),
            OUT_OF_RANGE,
        ),
        (
            "misaligned offset refused",
            Request::read(0, 0, 1, 1),
            MISALIGNED,
        ),
        (
            "oversized read refused",
            Request::read(0, 0, max_sectors as u32 + 1, 0),
            TOO_LARGE,
        ),
        (
            "offset past the data area refused",
            Request::write(0, 0, 1, data_end),
            TOO_LARGE,
        ),
        (
            "unknown operation refused",
            Request {
                op: 7,
                ..Request::read(0, 0, 1, 0)
            },
            BAD_OP,
        ),
        (
            "a good request beside them succeeds",
            Request::read(0, 0, 1, 0),
            OK,
        ),
    ];
    let requests: Vec<Request> = refusals
        .iter()
        .enumerate()
        .map(|(i, (_, r, _))| Request {
            id: 100 + i as u64,
            ..*r
        })
        .collect();
    match complete(&mut rings, &requests) {
        Ok(statuses) => {
            for ((what, _, expected), got) in refusals.iter().zip(statuses) {
                let result = if got == *expected {
                    Ok(())
                } else {
                    Err(Problem::Status {
                        expected: *expected,
                        got,
                    })
                };
                tally(what, result);
            }
        }
        Err(e) => tally("refusals", Err(e)),
    }
    tally(
        "flush",
        complete(&mut rings, &[Request::flush(200)]).and_then(|s| expect_ok(&s)),
    );
    tally(
        "disk: sectors 16-115 written, flushed and read back",
        through_disk(rings),
    );
    (passed, failed)
}

/// Pushes `requests`, rings the doorbell and waits until each has
/// completed; their statuses in order.
fn complete<T: Transport>(rings: &mut Rings<T>, requests: &[Request]) -> Result<Vec<u64>, Problem> {
    for r in requests {
        rings
            .push(*r)
            .map_err(|_| Problem::Wrong("submission ring full"))?;
    }
    collect(rings, requests)
}

/// Waits until each of `requests` (pushed already) has completed; their
/// statuses in order.
fn collect<T: Transport>(rings: &mut Rings<T>, requests: &[Request]) -> Result<Vec<u64>, Problem> {
    let mut statuses: Vec<Option<u64>> = vec![None; requests.len()];
    let mut take = |rings: &mut Rings<T>| {
        while let Some(c) = rings.pop() {
            if let Some(i) = requests.iter().position(|r| r.id == c.id) {
                statuses[i] = Some(c.status);
            }
        }
        statuses.iter().all(Option::is_some)
    };
    while !take(rings) {
        let quiet = rings.wait()? == 0 && rings.all_taken();
        if !take(rings) && quiet {
            return Err(Problem::Wrong("a completion is missing"));
        }
    }
    Ok(statuses.into_iter().flatten().collect())
}

fn expect_ok(statuses: &[u64]) -> Result<(), Problem> {
    match statuses.iter().find(|&&s| s != OK) {
        Some(&got) => Err(Problem::Status { expected: OK, got }),
        None => Ok(()),
    }
}

/// The four sectors 4-7 in four requests, submitted together.
fn write_pattern<T: Transport>(rings: &mut Rings<T>) -> Result<(), Problem> {
    let mut sector = [0u8; SECTOR];
    let mut requests = Vec::new();
    for s in 0..COUNT {
        for (i, b) in sector.iter_mut().enumerate() {
            *b = block_api::pattern(FIRST + s, i);
        }
        let at = OUT + s as usize * SECTOR;
        if !rings.data().write_at(at, &sector) {
            return Err(Problem::RegionTooSmall(rings.data_len()));
        }
        let r = Request::write(10 + s, FIRST + s, 1, at as u64);
        rings
            .push(r)
            .map_err(|_| Problem::Wrong("submission ring full"))?;
        requests.push(r);
    }
    let in_flight = rings.submit()?;
    if in_flight < COUNT {
        return Err(Problem::InFlight(in_flight));
    }
    expect_ok(&collect(rings, &requests)?)
}

fn read_back<T: Transport>(rings: &mut Rings<T>) -> Result<(), Problem> {
    let mut sector = [0u8; SECTOR];
    let mut requests = Vec::new();
    for s in 0..COUNT {
        let at = IN + s as usize * SECTOR;
        if !rings.data().write_at(at, &sector) {
            return Err(Problem::RegionTooSmall(rings.data_len()));
        }
        requests.push(Request::read(20 + s, FIRST + s, 1, at as u64));
    }
    expect_ok(&complete(rings, &requests)?)?;
    for s in 0..COUNT {
        rings.data().read_at(IN + s as usize * SECTOR, &mut sector);
        for (i, &read) in sector.iter().enumerate() {
            let wrote = block_api::pattern(FIRST + s, i);
            if read != wrote {
                return Err(Problem::Mismatch {
                    offset: s as usize * SECTOR + i,
                    wrote,
                    read,
                });
            }
        }
    }
    Ok(())
}

fn sector0<T: Transport>(rings: &mut Rings<T>) -> Result<(), Problem> {
    let mut first = [0u8; 16];
    if !rings.data().write_at(IN, &first) {
        return Err(Problem::RegionTooSmall(rings.data_len()));
    }
    expect_ok(&complete(rings, &[Request::read(30, 0, 1, IN as u64)])?)?;
    rings.data().read_at(IN, &mut first);
    if &first == MAGIC {
        Ok(())
    } else {
        Err(Problem::Wrong("sector 0 does not start BASALT-BLOCKTEST"))
    }
}

/// What the kvs log does: `Disk` over the same rings.
fn through_disk<T: Transport>(rings: Rings<T>) -> Result<(), Problem> {
    let mut disk = Disk::from_rings(rings).map_err(Problem::Disk)?;
    let pattern = |i: usize| block_api::pattern(DISK_FIRST + (i / SECTOR) as u64, i % SECTOR);
    let data: Vec<u8> = (0..DISK_COUNT * SECTOR).map(pattern).collect();
    disk.write_and_flush(DISK_FIRST, &data)
        .map_err(Problem::Disk)?;
    let mut back = vec![0u8; data.len()];
    disk.read(DISK_FIRST, &mut back).map_err(Problem::Disk)?;
    match (0..data.len()).find(|&i| back[i] != data[i]) {
        Some(offset) => Err(Problem::Mismatch {
            offset,
            wrote: data[offset],
            read: back[offset],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use block::BlockClient;
    use block::testutil::server;

    fn run_script(magic: bool) -> (u32, u32, Vec<String>) {
        let (local, region, ram) = server();
        if magic {
            ram.borrow_mut().disk[..16].copy_from_slice(MAGIC);
        }
        let rings = Rings::new(BlockClient::new(&local), region).unwrap();
        let mut lines = Vec::new();
        let (passed, failed) = script(rings, &mut |w, r| lines.push(format!("{w}: {r:?}")));
        let ram = ram.borrow();
        for sector in (FIRST..FIRST + COUNT).chain(DISK_FIRST..DISK_FIRST + DISK_COUNT as u64) {
            for i in 0..SECTOR {
                assert_eq!(
                    ram.durable[sector as usize * SECTOR + i],
                    block::check::pattern(sector, i),
                    "sector {sector}"
                );
            }
        }
        assert!(ram.max_in_flight >= COUNT as usize);
        (passed, failed, lines)
    }

    #[test]
    fn the_script_passes_against_a_ram_disk() {
        let (passed, failed, lines) = run_script(true);
        assert_eq!((passed, failed), (12, 0), "{lines:#?}");
    }

    #[test]
    fn a_wrong_sector_0_fails_one_check() {
        let (passed, failed, lines) = run_script(false);
        assert_eq!((passed, failed), (11, 1), "{lines:#?}");
    }
}
