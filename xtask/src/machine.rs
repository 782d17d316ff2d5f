//! What a system needs of the QEMU machine `cargo xtask run` boots: a
//! virtio disk when a component is granted one, a virtio NIC with the
//! front ends' ports forwarded from the host's loopback when one is granted
//! a NIC, and a check that tells the user when the services answer.

use crate::{Result, fail};
use manifest::{Device, Heap, Manifest, PciId};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// The virtio vendor ID.
const VIRTIO: u16 = 0x1af4;

/// The disks Basalt drives, by the PCI function the guest sees: which
/// `--storage` names it, and QEMU's device for it (`drive=disk0` is
/// added).
const DISKS: [(PciId, StorageModel, &str); 4] = [
    (
        pci_id(VIRTIO, 0x1001),
        StorageModel::Virtio,
        "virtio-blk-pci",
    ),
    (
        pci_id(VIRTIO, 0x1042),
        StorageModel::Virtio,
        "virtio-blk-pci,disable-legacy=on",
    ),
    (
        pci_id(0x1b36, 0x0010),
        StorageModel::Nvme,
        "nvme,serial=basalt0",
    ),
    // q35's own SATA controller: the disk goes on its first port.
    (
        pci_id(0x8086, 0x2922),
        StorageModel::Ahci,
        "ide-hd,bus=ide.0",
    ),
];

/// A disk `cargo xtask run --storage` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StorageModel {
    /// virtio-blk (the default where the config lists it first).
    Virtio,
    /// An NVMe controller.
    Nvme,
    /// A SATA disk on q35's AHCI controller.
    Ahci,
}

/// The network cards Basalt drives, by the PCI function the guest sees:
/// which `--nic` names it, and QEMU's device for it.
const NICS: [(PciId, NicModel, &str); 4] = [
    (pci_id(VIRTIO, 0x1000), NicModel::Virtio, "virtio-net-pci"),
    (
        pci_id(VIRTIO, 0x1041),
        NicModel::Virtio,
        "virtio-net-pci,disable-legacy=on",
    ),
    (pci_id(0x8086, 0x100e), NicModel::E1000, "e1000"),
    (pci_id(0x8086, 0x10d3), NicModel::E1000e, "e1000e"),
];

const fn pci_id(vendor: u16, device: u16) -> PciId {
    PciId { vendor, device }
}

/// A network card `cargo xtask run --nic` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum NicModel {
    /// virtio-net (the default where the config lists it first).
    Virtio,
    /// Intel 82540EM.
    E1000,
    /// Intel 82574L.
    E1000e,
}

/// The least disk image `run` creates when there is none, and the one the
/// boot tests give config/default: kvs's log takes half of it at a time,
/// and must hold the data set (the store's `maxmemory`) and its growth
/// until a compaction.
pub const DISK_BYTES: u64 = 256 << 20;

/// The disk image for a guest of `memory_mib`: four times its RAM (the
/// data set is at most most of it; the log's half must hold it and its
/// growth), at least [`DISK_BYTES`]. The file is sparse: the host stores
/// only what the guest writes.
pub fn disk_bytes(memory_mib: u64) -> u64 {
    (memory_mib << 22).max(DISK_BYTES)
}

/// A front end whose TCP port `run` forwards: the component's binary, its
/// port unless its argument `port` sets another, and how to see it answer.
struct FrontEnd {
    binary: &'static str,
    default_port: u16,
    probe: Probe,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    /// `PING` answered with `+PONG`.
    Redis,
    /// `GET /health` answered with status 200.
    Http,
    /// `version` answered with `VERSION …`.
    Memcached,
}

const FRONT_ENDS: [FrontEnd; 3] = [
    FrontEnd {
        binary: "resp",
        default_port: 6379,
        probe: Probe::Redis,
    },
    FrontEnd {
        binary: "http",
        default_port: 8080,
        probe: Probe::Http,
    },
    FrontEnd {
        binary: "memcached",
        default_port: 11211,
        probe: Probe::Memcached,
    },
];

/// One forwarded port: 127.0.0.1:`host` on the host to `guest` in Basalt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Forward {
    pub host: u16,
    pub guest: u16,
    probe: Probe,
}

/// The guest's RAM when a heap is a share of the machine: what `cargo
/// xtask run` gives the default system unless `--memory` says otherwise.
pub const SHARE_MEMORY_MIB: u64 = 1024;

/// The least RAM in MiB a guest of system `m` boots with: at least 256,
/// and three times what the fixed-size components and regions take,
/// rounded up to a power of two (`init` gives each component a
/// power-of-two block at least twice what its objects need, its heap's
/// 2 MiB frames come from blocks the physical memory's layout breaks up,
/// and the boot modules take room too).
pub fn least_memory_mib(m: &Manifest) -> u64 {
    let components: u64 = m
        .components
        .iter()
        .map(|c| c.heap.fixed_bytes() + c.stack_bytes + (512 << 10))
        .sum();
    let regions: u64 = m.regions.iter().map(|r| r.size).sum();
    ((components + regions).div_ceil(1 << 20) * 3)
        .next_power_of_two()
        .max(256)
}

/// The devices a system needs, and its memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Machine {
    /// The guest's RAM in MiB: [`least_memory_mib`], raised to
    /// [`SHARE_MEMORY_MIB`] where a heap is a share of the machine.
    pub memory_mib: u64,
    /// The disk: the PCI function the guest sees (one of [`DISKS`]).
    pub disk: Option<PciId>,
    /// The network card: the PCI function the guest sees (one of
    /// [`NICS`]).
    pub nic: Option<PciId>,
    pub forwards: Vec<Forward>,
    /// The NIC on this tap device with this MAC address instead of QEMU's
    /// user networking (then nothing is forwarded).
    pub tap: Option<(String, String)>,
}

/// Host ports the user asked for instead of the guest's (`--redis-port`,
/// `--http-port`).
#[derive(Clone, Copy, Debug, Default)]
pub struct HostPorts {
    pub redis: Option<u16>,
    pub http: Option<u16>,
    pub memcached: Option<u16>,
}

impl Machine {
    /// The devices the components of `m` are granted, and the ports of its
    /// front ends (their argument `port`, else 6379 for `resp` and 8080
    /// for `http`) forwarded from the same host ports unless `ports` says
    /// otherwise.
    pub fn for_system(m: &Manifest, ports: HostPorts) -> Result<Machine> {
        let shares = m
            .components
            .iter()
            .any(|c| matches!(c.heap, Heap::Share { .. }));
        let least = if shares { SHARE_MEMORY_MIB } else { 0 };
        let mut machine = Machine {
            memory_mib: least_memory_mib(m).max(least),
            ..Machine::default()
        };
        // Each device as init finds it: the first of its functions that
        // the machine has, so the first one QEMU can give.
        for ids in pci_devices(m) {
            let disk = ids.iter().find(|id| DISKS.iter().any(|(d, _, _)| d == *id));
            let nic = ids.iter().find(|id| NICS.iter().any(|(n, _, _)| n == *id));
            machine.disk = machine.disk.or(disk.copied());
            machine.nic = machine.nic.or(nic.copied());
        }
        if machine.nic.is_none() {
            return Ok(machine);
        }
        for c in &m.components {
            let Some(front) = FRONT_ENDS.iter().find(|f| f.binary == c.binary) else {
                continue;
            };
            let guest = match c.args.iter().find(|(k, _)| k == "port") {
                Some((_, v)) => v.parse().map_err(|_| {
                    fail!(
                        "component `{}`: argument port = {v:?} is not a TCP port",
                        c.name
                    )
                })?,
                None => front.default_port,
            };
            let host = match front.probe {
                Probe::Redis => ports.redis,
                Probe::Http => ports.http,
                Probe::Memcached => ports.memcached,
            }
            .unwrap_or(guest);
            machine.forwards.push(Forward {
                host,
                guest,
                probe: front.probe,
            });
        }
        Ok(machine)
    }

    /// Gives the guest a disk of `model` instead of the one the config
    /// lists first: the first function of that model a device of system
    /// `m` lists (an error names what it lists when none is).
    pub fn choose_storage(&mut self, m: &Manifest, model: StorageModel) -> Result<()> {
        self.disk = Some(choose(m, &DISKS, model, "--storage", "disk")?);
        Ok(())
    }

    /// The same for the network card.
    pub fn choose_nic(&mut self, m: &Manifest, model: NicModel) -> Result<()> {
        self.nic = Some(choose(m, &NICS, model, "--nic", "network card")?);
        Ok(())
    }

    /// A machine of `memory_mib` with a NIC alone (transitional
    /// virtio-net, as `config/default` drives), 127.0.0.1:`redis`
    /// forwarded to the guest's RESP port 6379 and 127.0.0.1:`memcached`
    /// to its memcached port 11211: how `cargo xtask bench kvs|memcached`
    /// boots the Linux baseline.
    pub fn linux_baseline(redis: u16, memcached: u16, memory_mib: u64) -> Machine {
        let forward = |host, front: &FrontEnd| Forward {
            host,
            guest: front.default_port,
            probe: front.probe,
        };
        Machine {
            memory_mib,
            disk: None,
            nic: Some(pci_id(VIRTIO, 0x1000)),
            forwards: vec![
                forward(redis, &FRONT_ENDS[0]),
                forward(memcached, &FRONT_ENDS[2]),
            ],
            tap: None,
        }
    }

    /// QEMU's arguments for these devices, the disk being `disk`.
    pub fn qemu_args(&self, disk: &Path) -> Vec<String> {
        let mut args = Vec::new();
        let disk_model = self
            .disk
            .and_then(|id| DISKS.iter().find(|(d, _, _)| *d == id))
            .map(|(_, _, model)| *model);
        if let Some(model) = disk_model {
            args.push("-drive".into());
            // Writeback caching passes the guest's flushes on to the file.
            args.push(format!(
                "if=none,id=disk0,format=raw,cache=writeback,file={}",
                disk.display()
            ));
            args.push("-device".into());
            args.push(with_option(model, "drive=disk0"));
        }
        let model = self
            .nic
            .and_then(|id| NICS.iter().find(|(n, _, _)| *n == id))
            .map(|(_, _, model)| *model);
        if let Some(model) = model {
            args.push("-netdev".into());
            match &self.tap {
                None => {
                    let forwards: String = self
                        .forwards
                        .iter()
                        .map(|f| format!(",hostfwd=tcp:127.0.0.1:{}-:{}", f.host, f.guest))
                        .collect();
                    args.push(format!("user,id=net0{forwards}"));
                    args.push("-device".into());
                    args.push(with_option(model, "netdev=net0"));
                }
                Some((tap, mac)) => {
                    args.push(format!("tap,id=net0,ifname={tap},script=no,downscript=no"));
                    args.push("-device".into());
                    args.push(with_option(model, &format!("netdev=net0,mac={mac}")));
                }
            }
        }
        args
    }
}

/// The first function of `model` (a row of `table`) that a device of `m`
/// lists; else an error for `option` naming what it lists.
fn choose<K: Copy + PartialEq + std::fmt::Debug>(
    m: &Manifest,
    table: &[(PciId, K, &str)],
    model: K,
    option: &str,
    what: &str,
) -> Result<PciId> {
    let known = |id: &PciId, kind: Option<K>| {
        table
            .iter()
            .any(|(t, k, _)| t == id && kind.is_none_or(|want| *k == want))
    };
    let listed: Vec<PciId> = pci_devices(m)
        .flatten()
        .filter(|id| known(id, None))
        .copied()
        .collect();
    match listed.iter().find(|id| known(id, Some(model))) {
        Some(&id) => Ok(id),
        None if listed.is_empty() => Err(fail!("{option}: system `{}` has no {what}", m.system)),
        None => Err(fail!(
            "{option} {}: system `{}` drives no such {what} (its device lists {})",
            format!("{model:?}").to_lowercase(),
            m.system,
            listed
                .iter()
                .map(PciId::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// QEMU's `-device` value `model` (a device and maybe options) with
/// `option` right after the device's name.
fn with_option(model: &str, option: &str) -> String {
    match model.split_once(',') {
        Some((device, rest)) => format!("{device},{option},{rest}"),
        None => format!("{model},{option}"),
    }
}

/// The functions each PCI device of `m` lists, in order.
fn pci_devices(m: &Manifest) -> impl Iterator<Item = &[PciId]> {
    m.components
        .iter()
        .flat_map(|c| &c.devices)
        .filter_map(|d| match d {
            Device::Pci { ids, .. } => Some(ids.as_slice()),
            _ => None,
        })
}

/// The disk image `run` uses: `path`, or `target/basalt-disk.img`, made
/// (all zeros, `bytes`) if it does not exist. A new disk is what the kvs
/// server formats; an existing one keeps its data (and its size) across
/// runs.
pub fn disk_image(path: Option<&Path>, bytes: u64) -> Result<PathBuf> {
    let path = path.map_or_else(
        || crate::build::target_dir().join("basalt-disk.img"),
        Path::to_path_buf,
    );
    if !path.exists() {
        let file = std::fs::File::create(&path)
            .map_err(|e| fail!("cannot create the disk image {}: {e}", path.display()))?;
        file.set_len(bytes)
            .map_err(|e| fail!("cannot size the disk image {}: {e}", path.display()))?;
        println!(
            "disk: created {} ({} MiB, empty)",
            path.display(),
            bytes >> 20
        );
    }
    Ok(path)
}

/// A free TCP port of 127.0.0.1 now (another program could take it before
/// QEMU does: forwarding it then fails, not silently).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Waits (on its own thread) until every forwarded service answers, then
/// tells the user how to reach them; says so if they never do within
/// `patience`.
pub fn announce_when_ready(forwards: Vec<Forward>, patience: Duration) {
    if forwards.is_empty() {
        return;
    }
    std::thread::spawn(move || {
        let deadline = Instant::now() + patience;
        let mut waiting = forwards.clone();
        while !waiting.is_empty() && Instant::now() < deadline {
            waiting.retain(|f| !answers(*f));
            std::thread::sleep(Duration::from_millis(500));
        }
        let mut lines = Vec::new();
        for f in &forwards {
            let how = match f.probe {
                Probe::Redis => format!("redis-cli -p {}", f.host),
                Probe::Http => format!("curl localhost:{}/kv/<key>", f.host),
                Probe::Memcached => format!("memcached on localhost:{}", f.host),
            };
            let state = if waiting.contains(f) {
                "not answering"
            } else {
                "ready"
            };
            lines.push(format!("{how} ({state})"));
        }
        eprintln!("\r\nxtask: {}\r", lines.join("; "));
    });
}

/// 127.0.0.1:`port`, where QEMU's user networking forwards a guest port.
pub fn local(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Whether a RESP server at `address` answers PING.
pub fn answers_redis(address: SocketAddr) -> bool {
    answers_at(address, Probe::Redis)
}

/// How often a [`Prober`] opens a fresh probe.
const PROBE_INTERVAL: Duration = Duration::from_millis(10);

/// Probes a service with a fresh connection every [`PROBE_INTERVAL`],
/// each on its own thread, and notes when the first answer came: the
/// boot time `cargo xtask bench` reports. One probe at a time rounds that
/// time up by as much as a probe's wait: QEMU's user networking accepts a
/// connection before the guest listens and then leaves it unanswered, so
/// a probe opened just before the guest listens waits out its timeout
/// while the guest could already answer a new one.
pub struct Prober {
    answered: Arc<OnceLock<Instant>>,
    stop: Arc<AtomicBool>,
}

impl Prober {
    /// Starts probing `address` with `probe`.
    pub fn start(address: SocketAddr, probe: Probe) -> Prober {
        let answered = Arc::new(OnceLock::new());
        let stop = Arc::new(AtomicBool::new(false));
        let (first, stopped) = (answered.clone(), stop.clone());
        std::thread::spawn(move || {
            while first.get().is_none() && !stopped.load(Ordering::Relaxed) {
                let first = first.clone();
                std::thread::spawn(move || {
                    if answers_at(address, probe) {
                        let _ = first.set(Instant::now());
                    }
                });
                std::thread::sleep(PROBE_INTERVAL);
            }
        });
        Prober { answered, stop }
    }

    /// When the first answer came, if one has.
    pub fn answered(&self) -> Option<Instant> {
        self.answered.get().copied()
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The clock of the RESP server at `address`: its answer to `TIME`, as
/// time since the Unix epoch.
pub fn redis_time(address: SocketAddr) -> Result<Duration> {
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"TIME\r\n")?;
    let mut reply = Vec::new();
    let mut buf = [0; 256];
    loop {
        if let Some(t) = parse_time(&reply) {
            return Ok(t);
        }
        let n = stream.read(&mut buf)?;
        if n == 0 || reply.len() > 1024 {
            return Err(fail!(
                "TIME at {address} answered {:?}",
                String::from_utf8_lossy(&reply)
            ));
        }
        reply.extend_from_slice(&buf[..n]);
    }
}

/// A whole RESP2 reply to `TIME` (an array of two bulk strings, seconds
/// and microseconds), or `None` while it is incomplete or is not one.
fn parse_time(reply: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(reply).ok()?;
    let rest = text.strip_prefix("*2\r\n")?;
    let mut numbers = [0u64; 2];
    let mut rest = rest;
    for number in &mut numbers {
        let (len, after) = rest.strip_prefix('$')?.split_once("\r\n")?;
        let len: usize = len.parse().ok()?;
        let digits = after.get(..len)?;
        rest = after.get(len..)?.strip_prefix("\r\n")?;
        *number = digits.parse().ok()?;
    }
    let [seconds, micros] = numbers;
    (micros < 1_000_000).then(|| Duration::from_secs(seconds) + Duration::from_micros(micros))
}

/// Whether the service behind `f` answers its probe now.
fn answers(f: Forward) -> bool {
    answers_at(local(f.host), f.probe)
}

/// Whether the service at `address` answers `probe` now. QEMU accepts a
/// forwarded connection before the guest does, so only an answer counts.
fn answers_at(address: SocketAddr, probe: Probe) -> bool {
    // On a tap device nothing answers a guest that is not up yet: the
    // connection times out, and this wait too rounds a boot's time up.
    let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(250)) else {
        return false;
    };
    // QEMU's user networking accepts the connection whether or not the
    // guest listens yet, and then says nothing: a short wait for the
    // reply, asked again by the caller, keeps a boot's measured time from
    // rounding up to this wait (it used to be 2 s, and every boot to
    // first PONG measured about 4.2 s).
    let _ = stream.set_read_timeout(Some(Duration::from_millis(250)));
    let (request, wanted): (&[u8], &[u8]) = match probe {
        Probe::Redis => (b"PING\r\n", b"+PONG"),
        Probe::Http => (
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            b"HTTP/1.1 200",
        ),
        Probe::Memcached => (b"version\r\n", b"VERSION "),
    };
    if stream.write_all(request).is_err() {
        return false;
    }
    let mut reply = vec![0; wanted.len()];
    stream.read_exact(&mut reply).is_ok() && reply == wanted
}

#[cfg(test)]
mod tests {
    use super::*;
    use manifest::{Component, Heap, Restart};

    fn component(
        name: &str,
        binary: &str,
        args: &[(&str, &str)],
        devices: Vec<Device>,
    ) -> Component {
        Component {
            name: name.into(),
            binary: binary.into(),
            priority: 100,
            heap: Heap::Bytes(1 << 20),
            stack_bytes: 1 << 16,
            restart: Restart::Never,
            args: args
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            devices,
            start_order: 0,
        }
    }

    fn pci(device: u16) -> Device {
        Device::Pci {
            name: "dev".into(),
            ids: vec![pci_id(VIRTIO, device)],
            interrupt: manifest::PciInterrupt::None,
        }
    }

    fn system(components: Vec<Component>) -> Manifest {
        Manifest {
            system: "t".into(),
            components,
            ..Manifest::default()
        }
    }

    #[test]
    fn a_system_without_devices_needs_none() {
        let m = system(vec![component("hello", "hello-server", &[], vec![])]);
        let machine = Machine::for_system(&m, HostPorts::default()).unwrap();
        assert_eq!(
            machine,
            Machine {
                memory_mib: 256,
                ..Machine::default()
            }
        );
        assert!(machine.qemu_args(Path::new("d.img")).is_empty());
    }

    #[test]
    fn disk_nic_and_front_ends() {
        let m = system(vec![
            component("block", "block", &[], vec![pci(0x1042)]),
            component("net", "net", &[], vec![pci(0x1000)]),
            component("resp", "resp", &[], vec![]),
            component("http", "http", &[("port", "8081")], vec![]),
        ]);
        let ports = HostPorts {
            redis: Some(16379),
            http: None,
            memcached: None,
        };
        let machine = Machine::for_system(&m, ports).unwrap();
        assert_eq!(machine.memory_mib, 256);
        assert_eq!(machine.disk, Some(pci_id(VIRTIO, 0x1042)));
        assert_eq!(machine.nic, Some(pci_id(VIRTIO, 0x1000)));
        let args = machine.qemu_args(Path::new("/tmp/d.img"));
        assert_eq!(
            args,
            [
                "-drive",
                "if=none,id=disk0,format=raw,cache=writeback,file=/tmp/d.img",
                "-device",
                "virtio-blk-pci,drive=disk0,disable-legacy=on",
                "-netdev",
                "user,id=net0,hostfwd=tcp:127.0.0.1:16379-:6379,hostfwd=tcp:127.0.0.1:8081-:8081",
                "-device",
                "virtio-net-pci,netdev=net0",
            ]
        );
        // On a tap device (the bench's `--net tap`): nothing forwarded,
        // the MAC the namespace's neighbour entry names.
        let tapped = Machine {
            tap: Some(("bbtap0".into(), "52:54:00:12:34:56".into())),
            ..machine
        };
        let args = tapped.qemu_args(Path::new("/tmp/d.img"));
        assert_eq!(
            args[4..],
            [
                "-netdev",
                "tap,id=net0,ifname=bbtap0,script=no,downscript=no",
                "-device",
                "virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56",
            ]
        );
    }

    #[test]
    fn the_nic_is_the_first_card_listed_unless_asked_for() {
        let nic = Device::Pci {
            name: "nic".into(),
            ids: vec![
                pci_id(VIRTIO, 0x1000),
                pci_id(0x8086, 0x100e),
                pci_id(0x8086, 0x10d3),
            ],
            interrupt: manifest::PciInterrupt::Msi,
        };
        let m = system(vec![
            component("net", "net", &[], vec![nic]),
            component("resp", "resp", &[], vec![]),
        ]);
        let mut machine = Machine::for_system(&m, HostPorts::default()).unwrap();
        assert_eq!(machine.nic, Some(pci_id(VIRTIO, 0x1000)));
        let device = |machine: &Machine| machine.qemu_args(Path::new("d"))[3].clone();
        assert_eq!(device(&machine), "virtio-net-pci,netdev=net0");
        machine.choose_nic(&m, NicModel::E1000).unwrap();
        assert_eq!(device(&machine), "e1000,netdev=net0");
        machine.choose_nic(&m, NicModel::E1000e).unwrap();
        assert_eq!(device(&machine), "e1000e,netdev=net0");
        // A card the config does not list, and a system without one.
        let only = system(vec![component("net", "net", &[], vec![pci(0x1041)])]);
        let mut m2 = Machine::for_system(&only, HostPorts::default()).unwrap();
        assert_eq!(device(&m2), "virtio-net-pci,netdev=net0,disable-legacy=on");
        let e = m2.choose_nic(&only, NicModel::E1000).unwrap_err().0;
        assert_eq!(
            e,
            "--nic e1000: system `t` drives no such network card (its device lists 1af4:1041)"
        );
        let none = system(vec![component("hello", "hello-server", &[], vec![])]);
        let e = Machine::default()
            .choose_nic(&none, NicModel::Virtio)
            .unwrap_err()
            .0;
        assert_eq!(e, "--nic: system `t` has no network card");
    }

    #[test]
    fn memory_follows_what_the_system_takes() {
        let mut big = component("kvs", "kvs", &[], vec![]);
        big.heap = Heap::Bytes(100 << 20);
        let machine = Machine::for_system(&system(vec![big]), HostPorts::default()).unwrap();
        // 100.6 MiB, three times, to a power of two.
        assert_eq!(machine.memory_mib, 512);
    }

    #[test]
    fn a_share_of_the_machine_gets_a_gibibyte_by_default() {
        let mut big = component("kvs", "kvs", &[], vec![]);
        big.heap = Heap::Share { percent: 90 };
        let m = system(vec![big]);
        // Only the fixed parts count towards the least machine.
        assert_eq!(least_memory_mib(&m), 256);
        let machine = Machine::for_system(&m, HostPorts::default()).unwrap();
        assert_eq!(machine.memory_mib, SHARE_MEMORY_MIB);
        assert_eq!(disk_bytes(machine.memory_mib), 4 << 30);
        assert_eq!(disk_bytes(16), DISK_BYTES);
    }

    #[test]
    fn a_bad_port_argument_is_named() {
        let m = system(vec![
            component("net", "net", &[], vec![pci(0x1041)]),
            component("front", "resp", &[("port", "70000")], vec![]),
        ]);
        let e = Machine::for_system(&m, HostPorts::default()).unwrap_err();
        assert!(
            e.0.contains("component `front`: argument port = \"70000\""),
            "{}",
            e.0
        );
    }

    #[test]
    fn nothing_listening_is_not_an_answer() {
        // A port nobody listens on (bound, then released).
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        for probe in [Probe::Redis, Probe::Http] {
            assert!(!answers(Forward {
                host: port,
                guest: port,
                probe
            }));
        }
    }

    #[test]
    fn a_time_reply_is_read_whole() {
        let whole = b"*2\r\n$10\r\n1700000000\r\n$6\r\n123456\r\n";
        assert_eq!(
            parse_time(whole),
            Some(Duration::new(1_700_000_000, 123_456_000))
        );
        for cut in 0..whole.len() {
            assert_eq!(parse_time(&whole[..cut]), None, "cut at {cut}");
        }
        for bad in [
            &b"-ERR unknown command 'TIME'\r\n"[..],
            b"*2\r\n$2\r\n17\r\n$7\r\n1000000\r\n",
            b"*2\r\n$3\r\n17\r\n$1\r\n1\r\n",
            b"*2\r\n$2\r\nab\r\n$1\r\n1\r\n",
        ] {
            assert_eq!(parse_time(bad), None);
        }
    }

    #[test]
    fn the_linux_baseline_machine_has_a_nic_alone() {
        let m = Machine::linux_baseline(16379, 21211, 512);
        assert_eq!(m.memory_mib, 512);
        assert_eq!(
            m.qemu_args(Path::new("unused")),
            [
                "-netdev",
                "user,id=net0,hostfwd=tcp:127.0.0.1:16379-:6379,hostfwd=tcp:127.0.0.1:21211-:11211",
                "-device",
                "virtio-net-pci,netdev=net0",
            ]
        );
    }

    #[test]
    fn a_redis_answer_is_recognised() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0; 6];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"PING\r\n");
            s.write_all(b"+PONG\r\n").unwrap();
        });
        assert!(answers(Forward {
            host: port,
            guest: port,
            probe: Probe::Redis
        }));
        server.join().unwrap();
    }
}
