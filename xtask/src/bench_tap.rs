//! `cargo xtask bench kvs|memcached --net tap`: both guests on a tap
//! device in a network namespace the bench creates and removes, so that
//! the load generator's packets reach the guest's NIC without QEMU's
//! user-mode network stack (slirp) in the way, which docs/perf.md found
//! saturated at `-P 16`.
//!
//! The bench makes namespace `basalt-bench-<pid>` with tap device
//! [`TAP`] (the host's side [`HOST`]/24, a permanent neighbour entry for
//! the guest's [`GUEST`] and [`MAC`], so no ARP delays a boot's first
//! answer), runs the same command again inside it (`ip netns exec`,
//! [`NETNS_ENV`] set: QEMU, the readiness probes and the load generator
//! then all live there), and deletes the namespace when that ends, as
//! it ended. Needs root and iproute2, as `../shared/bench/linux-guest/run.sh
//! tap` does.

use crate::{Result, fail};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::Command;

/// Set in the bench that runs inside the namespace: its name.
pub const NETNS_ENV: &str = "BASALT_BENCH_NETNS";
/// The tap device inside the namespace.
pub const TAP: &str = "bbtap0";
/// The host's address on it, and the guests' gateway.
pub const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
/// The guests' address (Basalt's static `address`, Linux's `lg.ip`).
pub const GUEST: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
/// The guests' MAC address (QEMU's NIC is given it).
pub const MAC: &str = "52:54:00:12:34:56";

/// Whether this process runs inside the bench's namespace.
pub fn inside() -> bool {
    std::env::var_os(NETNS_ENV).is_some()
}

/// The guest's `port`.
pub fn guest(port: u16) -> SocketAddr {
    SocketAddr::from((GUEST, port))
}

/// Runs `ip args`; an error names the command and what it said.
fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| fail!("cannot run ip ({e}): --net tap needs iproute2"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(fail!(
        "`ip {}` failed: {} (--net tap needs root: network namespaces and tap devices)",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    ))
}

/// The namespace, deleted when this is dropped (however the bench ended).
struct Namespace(String);

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.0]);
    }
}

/// Makes the namespace and its tap device, runs this command again inside
/// it, and removes it.
pub fn run_inside() -> Result<()> {
    let name = format!("basalt-bench-{}", std::process::id());
    ip(&["netns", "add", &name])?;
    let ns = Namespace(name);
    let host = format!("{HOST}/24");
    let guest = GUEST.to_string();
    for args in [
        &["-n", &ns.0, "link", "set", "lo", "up"][..],
        &["-n", &ns.0, "tuntap", "add", "dev", TAP, "mode", "tap"],
        &["-n", &ns.0, "addr", "add", &host, "dev", TAP],
        &["-n", &ns.0, "link", "set", TAP, "up"],
        &[
            "-n",
            &ns.0,
            "neigh",
            "replace",
            &guest,
            "lladdr",
            MAC,
            "dev",
            TAP,
            "nud",
            "permanent",
        ],
    ] {
        ip(args)?;
    }
    let exe = std::env::current_exe()?;
    println!(
        "== network namespace {} with tap {TAP}: host {HOST}, guest {GUEST}",
        ns.0
    );
    let status = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(exe)
        .args(std::env::args_os().skip(1))
        .env(NETNS_ENV, &ns.0)
        .status()
        .map_err(|e| fail!("cannot run the bench inside {}: {e}", ns.0))?;
    if status.success() {
        Ok(())
    } else {
        Err(fail!(
            "the bench inside network namespace {} failed ({status})",
            ns.0
        ))
    }
}
