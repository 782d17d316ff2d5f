//! `block-smoke`: a Basalt component that checks the block server
//! (channel `block`) through the shared region named by argument `region`
//! (default `block-io`): the disk's size, a pattern written to sectors
//! 4-7 and read back, sector 0 (the test disk starts `BASALT-BLOCKTEST`),
//! requests the server must refuse, and a flush. It prints one line per
//! check and a summary:
//!
//! ```text
//! block-smoke: ok info
//! block-smoke: FAIL read back sectors 4-7: Mismatch { offset: 3, wrote: 99, read: 0 }
//! block-smoke: 7 passed, 1 failed
//! ```
//!
//! With the argument `exit = "on-success"` it then ends the QEMU self-test
//! run through `DebugExit` (success when nothing failed); otherwise it
//! exits, with status 0 when nothing failed.
//!
//! **It overwrites sectors 4-7** of the disk.

#![cfg_attr(target_os = "none", no_std, no_main)]
// The script is portable so that its tests run on the host; there only
// the tests use it.
#![cfg_attr(not(any(target_os = "none", test)), allow(dead_code))]

use block::{BlockClient, Geometry, MISALIGNED, OUT_OF_RANGE, TOO_LARGE};
use libcap::rpc::{RpcError, Transport};
use libcap::start::SharedRegion;

/// The region argument's default.
#[cfg(target_os = "none")]
const DEFAULT_REGION: &str = "block-io";
/// What the test disk holds at the start of sector 0.
const MAGIC: &[u8; 16] = b"BASALT-BLOCKTEST";
/// The sectors the pattern goes to: 4 to 7.
const FIRST: u64 = 4;
const COUNT: u64 = 4;
const SECTOR: usize = 512;
/// Region offsets: the pattern is written from `OUT`, read back into `IN`.
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
    /// A call that should have failed with the code did not.
    Expected(u64, Result<(), RpcError>),
    /// The server's answer is not what it should be.
    Wrong(&'static str),
    /// The region lacks room for the check.
    RegionTooSmall(usize),
    /// A byte read back differs from the one written.
    Mismatch { offset: usize, wrote: u8, read: u8 },
}

impl From<RpcError> for Problem {
    fn from(e: RpcError) -> Self {
        Problem::Rpc(e)
    }
}

#[cfg(target_os = "none")]
fn run(start: &'static libcap::Start) -> Result<(), Failed> {
    use libcap::log::info;

    let exit_when_done = start.arg("exit") == Some("on-success");
    let region_name = start.arg("region").unwrap_or(DEFAULT_REGION);
    let mut report = |what: &str, result: &Result<(), Problem>| match result {
        Ok(()) => info!("ok {what}"),
        Err(e) => info!("FAIL {what}: {e:?}"),
    };
    let client = start.channel_client::<BlockClient>("block");
    let region = start.shared_region(region_name);
    let (passed, failed) = match (client, region) {
        (Some(client), Some(mut region)) => script(&client, &mut region, &mut report),
        (None, _) => {
            report("connect", &Err(Problem::Wrong("no channel `block`")));
            (0, 1)
        }
        (_, None) => {
            report("connect", &Err(Problem::Wrong("no data region")));
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

/// Expects `result` to be the error `code`.
fn refused(result: Result<(), RpcError>, code: u64) -> Result<(), Problem> {
    match result {
        Err(RpcError::Remote(c)) if c == code => Ok(()),
        other => Err(Problem::Expected(code, other)),
    }
}

/// Runs every check against `block` with `region` as the data region,
/// passing each outcome to `report`; returns how many passed and failed.
fn script<T: Transport>(
    block: &BlockClient<T>,
    region: &mut SharedRegion,
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
    let geometry = block.info();
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
            Ok(g) if g.sector_count < FIRST + COUNT => Err(Problem::Wrong("disk too small")),
            Ok(g) if g.max_sectors < COUNT => Err(Problem::Wrong("transfers too small")),
            Ok(_) => Ok(()),
        },
    );
    tally("write sectors 4-7", write_pattern(block, region));
    tally("read back sectors 4-7", read_back(block, region));
    tally("sector 0 holds BASALT-BLOCKTEST", sector0(block, region));
    tally(
        "read past the end refused",
        refused(block.read(sector_count, 1, 0), OUT_OF_RANGE),
    );
    tally(
        "misaligned offset refused",
        refused(block.read(0, 1, 1), MISALIGNED),
    );
    tally(
        "oversized read refused",
        refused(block.read(0, max_sectors + 1, 0), TOO_LARGE),
    );
    tally("flush", block.flush().map_err(Problem::from));
    (passed, failed)
}

fn write_pattern<T: Transport>(
    block: &BlockClient<T>,
    region: &mut SharedRegion,
) -> Result<(), Problem> {
    let mut sector = [0u8; SECTOR];
    for s in 0..COUNT {
        for (i, b) in sector.iter_mut().enumerate() {
            *b = block::check::pattern(FIRST + s, i);
        }
        if !region.write_at(OUT + s as usize * SECTOR, &sector) {
            return Err(Problem::RegionTooSmall(region.len()));
        }
    }
    Ok(block.write(FIRST, COUNT, OUT as u64)?)
}

fn read_back<T: Transport>(
    block: &BlockClient<T>,
    region: &mut SharedRegion,
) -> Result<(), Problem> {
    let mut sector = [0u8; SECTOR];
    for s in 0..COUNT as usize {
        if !region.write_at(IN + s * SECTOR, &sector) {
            return Err(Problem::RegionTooSmall(region.len()));
        }
    }
    block.read(FIRST, COUNT, IN as u64)?;
    for s in 0..COUNT {
        region.read_at(IN + s as usize * SECTOR, &mut sector);
        for (i, &read) in sector.iter().enumerate() {
            let wrote = block::check::pattern(FIRST + s, i);
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

fn sector0<T: Transport>(block: &BlockClient<T>, region: &mut SharedRegion) -> Result<(), Problem> {
    let mut first = [0u8; 16];
    if !region.write_at(IN, &first) {
        return Err(Problem::RegionTooSmall(region.len()));
    }
    block.read(0, 1, IN as u64)?;
    region.read_at(IN, &mut first);
    if &first == MAGIC {
        Ok(())
    } else {
        Err(Problem::Wrong("sector 0 does not start BASALT-BLOCKTEST"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use block::Block;
    use block::check::Disk;
    use block::server::BlockServer;
    use libcap::rpc::Local;

    struct Ram(Vec<u8>);

    impl Disk for Ram {
        type Error = ();
        fn capacity(&self) -> u64 {
            (self.0.len() / SECTOR) as u64
        }
        fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), ()> {
            let at = sector as usize * SECTOR;
            buf.copy_from_slice(&self.0[at..at + buf.len()]);
            Ok(())
        }
        fn write(&mut self, sector: u64, buf: &[u8]) -> Result<(), ()> {
            let at = sector as usize * SECTOR;
            self.0[at..at + buf.len()].copy_from_slice(buf);
            Ok(())
        }
    }

    fn run_script(disk: Ram) -> (u32, u32, Vec<String>) {
        let memory: &'static mut [u8] = Vec::leak(vec![0; 16 * SECTOR]);
        let bounce: &'static mut [u8] = Vec::leak(vec![0; 8 * SECTOR]);
        // SAFETY: leaked memory, which the server (during calls) and the
        // script (between them) take turns to use, as on Basalt.
        let (server_side, mut client_side) = unsafe {
            (
                SharedRegion::new(memory.as_mut_ptr(), memory.len()).expect("not null"),
                SharedRegion::new(memory.as_mut_ptr(), memory.len()).expect("not null"),
            )
        };
        let local = Local::new(
            BlockServer::new(disk, bounce, Some(server_side)),
            BlockServer::rpc_dispatch,
        );
        let mut lines = Vec::new();
        let (passed, failed) = script(&BlockClient::new(&local), &mut client_side, &mut |w, r| {
            lines.push(format!("{w}: {r:?}"))
        });
        (passed, failed, lines)
    }

    fn test_disk() -> Ram {
        let mut disk = Ram(vec![0; 64 * SECTOR]);
        disk.0[..16].copy_from_slice(MAGIC);
        disk
    }

    #[test]
    fn the_script_passes_against_a_ram_disk() {
        let (passed, failed, lines) = run_script(test_disk());
        assert_eq!((passed, failed), (8, 0), "{lines:#?}");
    }

    #[test]
    fn a_wrong_sector_0_fails_one_check() {
        let (passed, failed, lines) = run_script(Ram(vec![0; 64 * SECTOR]));
        assert_eq!((passed, failed), (7, 1), "{lines:#?}");
    }
}
