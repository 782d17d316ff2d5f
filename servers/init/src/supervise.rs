//! Init's main line: read the manifest, make the shared objects, start the
//! components in order, then wait for faults and apply restart policies.

use crate::component::{self, BuildError, DeviceGrant, PciLine, Shared, SharedRegion, Started};
use crate::restart::{Decision, History};
use crate::space::{CNODE, Memory, Space};
use crate::{heap, plan};
use crate::{intx, pci};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use basalt_abi::boot_info::{BootInfo, ModuleDesc};
use basalt_abi::start_info::LAST_EXIT_BYTES;
use basalt_abi::{ObjectType, fault};
use elf::ElfBytes;
use elf::abi::PT_LOAD;
use elf::endian::LittleEndian;
use libcap::ipc::Message;
use libcap::{invoke, ipc, println};
use manifest::{Device, Heap, Manifest, PciInterrupt, Restart};

/// Name of the boot module holding the manifest.
const MANIFEST_MODULE: &str = "manifest";

/// Stops init for good with a message (nothing can be supervised).
fn give_up(what: core::fmt::Arguments<'_>) -> ! {
    println!("init: {what}; stopping");
    libcap::syscall::debug_exit(false)
}

fn module(boot: &'static BootInfo, name: &str) -> Option<&'static [u8]> {
    let count = (boot.module_count as usize).min(boot.modules.len());
    boot.modules[..count]
        .iter()
        .find(|m: &&ModuleDesc| m.name() == name)
        .map(|m| {
            // SAFETY: the kernel mapped the module read-only at this address
            // for the root task's lifetime.
            unsafe { core::slice::from_raw_parts(m.address as *const u8, m.size as usize) }
        })
}

/// What init tracks for each component.
struct Component {
    binary: &'static [u8],
    memory: component::Own,
    started: Option<Started>,
    generation: u64,
    restarts: u32,
    /// Its restarts, against its budget.
    history: History,
    /// When it starts again, after a back-off (TSC).
    restart_at: Option<u64>,
    /// How its last generation ended (what its next one is told).
    last_exit: [u8; LAST_EXIT_BYTES],
}

fn fault_name(label: u64) -> &'static str {
    match label {
        fault::PAGE_FAULT => "page fault",
        fault::GENERAL_PROTECTION => "general protection fault",
        fault::INVALID_OPCODE => "invalid opcode",
        fault::DIVIDE_ERROR => "divide error",
        fault::BREAKPOINT => "breakpoint",
        fault::UNKNOWN_SYSCALL => "unknown system call",
        _ => "exception",
    }
}

fn start(
    space: &mut Space,
    manifest: &Manifest,
    shared: &Shared,
    index: usize,
    c: &mut Component,
) -> Result<(), BuildError> {
    let began = libcap::time::rdtsc();
    let started = component::start(
        space,
        manifest,
        index,
        c.binary,
        &mut c.memory,
        shared,
        c.generation,
        &c.last_exit,
    )?;
    c.started = Some(started);
    let m = &manifest.components[index];
    // How long building it took: where a boot's time goes (the bench
    // prints these), most of it the kernel zeroing the frames made.
    let ms = libcap::time::rdtsc().wrapping_sub(began) / (shared.tsc_hz / 1000).max(1);
    println!(
        "init: started {} (generation {}, priority {}) in {ms} ms",
        m.name, c.generation, m.priority
    );
    Ok(())
}

/// Tears component `c` down: everything made from its memory goes.
fn stop(space: &mut Space, c: &mut Component) {
    for slot in c.memory.objects.slots().chain(c.memory.heap.slots()) {
        let _ = CNODE.revoke(slot);
    }
    c.memory.objects.reset();
    c.memory.heap.reset();
    if let Some(s) = c.started.take() {
        for slot in s.root_slots() {
            space.release_slot(slot);
        }
    }
}

/// Frames for a shared region, physically contiguous (carved in order from
/// one untyped block of their own), so that a driver can give a device DMA
/// addresses inside the region.
fn contiguous_frames(space: &mut Space, size: u64) -> Result<SharedRegion, libcap::Error> {
    let pages = size.div_ceil(plan::PAGE).max(1);
    let bits = (64 - (pages * plan::PAGE - 1).leading_zeros()).max(12) as u8;
    let slot = space.global_object(ObjectType::Untyped, u64::from(bits))?;
    let mut memory = Memory::<1>::new(slot, bits);
    let frames: Vec<u64> = (0..pages)
        .map(|_| space.object_from(&mut memory, ObjectType::Frame4K, 0))
        .collect::<Result<_, _>>()?;
    let physical = invoke::frame_get_address(frames[0])?;
    Ok(SharedRegion { frames, physical })
}

/// What init grants of a PCI function as device memory.
#[derive(Clone, Copy)]
enum Piece {
    /// A memory BAR: `<device>.bar<N>`.
    Bar(pci::Bar),
    /// The function's 4 KiB of ECAM configuration space: `<device>.config`.
    Config(u64),
}

impl Piece {
    fn address(&self) -> u64 {
        match self {
            Self::Bar(b) => b.address,
            Self::Config(address) => *address,
        }
    }

    fn size(&self) -> u64 {
        match self {
            Self::Bar(b) => b.size,
            Self::Config(_) => plan::PAGE,
        }
    }
}

/// Finds the PCI functions the config names and carves frames for their
/// memory BARs and their configuration space (a device that is missing or
/// cannot be mapped is reported and left out); for a device with
/// `interrupt = "any"`, finds whether it has MSI or which line its INTx
/// pin drives.
fn pci_devices(
    space: &mut Space,
    boot: &'static BootInfo,
    manifest: &Manifest,
) -> (Vec<Vec<DeviceGrant>>, Vec<Vec<PciLine>>) {
    let mut grants: Vec<Vec<DeviceGrant>> =
        manifest.components.iter().map(|_| Vec::new()).collect();
    let mut lines: Vec<Vec<PciLine>> = manifest.components.iter().map(|_| Vec::new()).collect();
    let wanted: Vec<(usize, &str, &[manifest::PciId], PciInterrupt)> = manifest
        .components
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.devices.iter().filter_map(move |d| match d {
                Device::Pci {
                    name,
                    ids,
                    interrupt,
                } => Some((i, name.as_str(), ids.as_slice(), *interrupt)),
                _ => None,
            })
        })
        .collect();
    if wanted.is_empty() {
        return (grants, lines);
    }
    let config = match pci::Config::new(space) {
        Ok(c) => c,
        Err(e) => {
            println!("init: no access to PCI configuration space: {e:?}");
            return (grants, lines);
        }
    };
    let mut routing = intx::Routing::new(&config, boot);
    let mut pieces = Vec::new();
    for (component, name, ids, interrupt) in wanted {
        // The first of the functions it lists that the machine has.
        let found = ids
            .iter()
            .find_map(|id| match config.find(id.vendor, id.device) {
                Ok(Some(f)) => Some(Ok((f, id))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            });
        let f = match found {
            Some(Ok((f, id))) => {
                if ids.len() > 1 {
                    println!("init: {name}: PCI device {id}");
                }
                f
            }
            None => {
                let listed: Vec<String> = ids.iter().map(|id| id.to_string()).collect();
                println!("init: {name}: no PCI device {}", listed.join(" or "));
                continue;
            }
            Some(Err(e)) => {
                println!("init: {name}: PCI scan failed: {e:?}");
                continue;
            }
        };
        if interrupt == PciInterrupt::Any {
            let bdf = format!("{:02x}:{:02x}.{}", f.bus, f.device, f.function);
            let who = &manifest.components[component].name;
            match routing.find(f) {
                Ok(intx::Found::Msi) => lines[component].push(PciLine::Msi(name.into())),
                Ok(intx::Found::Line { line, pin, route }) => {
                    println!(
                        "init: {who}: {name} ({bdf}) has no MSI: INT{}# goes to GSI {} ({}, active {}) as the firmware routes it: line {line} as {name}.intx",
                        intx::pin_name(pin),
                        route.gsi,
                        if route.level { "level" } else { "edge" },
                        if route.active_low { "low" } else { "high" },
                    );
                    lines[component].push(PciLine::Intx(name.into(), line));
                }
                Err(why) => println!("init: {who}: {name} ({bdf}): no interrupt: {why}"),
            }
        }
        match config.memory_bars(f) {
            Ok(found) => pieces.extend(
                found
                    .into_iter()
                    .map(|b| (component, name, f, Piece::Bar(b))),
            ),
            Err(e) => println!("init: {name}: cannot read the BARs of {f:?}: {e:?}"),
        }
        // The driver reaches its function's configuration space only
        // through this page: never the ports, which reach every function.
        match boot.pci_ecam.function_page(f.bus, f.device, f.function) {
            Some(page) => pieces.push((component, name, f, Piece::Config(page))),
            None => println!(
                "init: {name}: no ECAM window covers bus {}: no configuration space granted",
                f.bus
            ),
        }
    }
    // Device memory is carved in address order.
    pieces.sort_by_key(|(_, _, _, p)| p.address());
    let mut memory = pci::DeviceMemory::new(boot);
    for (component, name, f, piece) in pieces {
        let (address, size) = (piece.address(), piece.size());
        let bdf = format!("{:02x}:{:02x}.{}", f.bus, f.device, f.function);
        let (what, grant) = match piece {
            Piece::Bar(b) => (
                format!("{name} ({bdf}) BAR{}", b.index),
                format!("{name}.bar{}", b.index),
            ),
            Piece::Config(_) => (
                format!("{name}.config: the configuration space of {bdf}"),
                format!("{name}.config"),
            ),
        };
        match memory.frames(space, address, size) {
            Ok(frames) => {
                println!(
                    "init: {}: {what} at {address:#x}, {} KiB",
                    manifest.components[component].name,
                    size >> 10
                );
                grants[component].push(DeviceGrant {
                    name: grant,
                    size,
                    physical: address & !(plan::PAGE - 1),
                    frames,
                });
            }
            Err(e) => println!("init: {what} at {address:#x} cannot be granted: {e:?}"),
        }
    }
    (grants, lines)
}

/// Gives each component whose heap is a share of the machine its share
/// of the large frames left now that every fixed-size part is placed.
fn share_heaps(space: &mut Space, manifest: &Manifest, components: &mut [Component]) {
    let left = space.room_for(plan::LARGE_PAGE_BITS);
    let left_mib = left * (plan::LARGE_PAGE >> 20);
    for (c, own) in manifest.components.iter().zip(components) {
        let Heap::Share { percent } = c.heap else {
            continue;
        };
        let want = plan::share_of(left, percent);
        let memory = &mut own.memory;
        let got = match space.blocks_up_to(plan::LARGE_PAGE_BITS, want, &mut memory.heap) {
            Ok(got) if got > 0 => got,
            Ok(_) => give_up(format_args!(
                "{}: no memory left for its heap ({percent}% of {left_mib} MiB)",
                c.name,
            )),
            Err(e) => give_up(format_args!("{}: cannot make its heap: {e:?}", c.name)),
        };
        memory.heap_bytes = got * plan::LARGE_PAGE;
        println!(
            "init: {} gets a heap of {} MiB ({percent}% of the {left_mib} MiB left)",
            c.name,
            memory.heap_bytes >> 20,
        );
    }
}

/// The root task's entry point.
pub fn run(boot: &'static BootInfo) -> ! {
    let mut space = Space::new(boot);
    if let Err(e) = heap::init(&mut space) {
        give_up(format_args!("cannot make a heap: {e:?}"));
    }
    let Some(bytes) = module(boot, MANIFEST_MODULE) else {
        give_up(format_args!(
            "no boot module named `{MANIFEST_MODULE}`; compose the image with `cargo xtask compose`"
        ));
    };
    let manifest = match Manifest::decode(bytes) {
        Ok(m) => m,
        Err(e) => give_up(format_args!("the manifest is unusable: {e:?}")),
    };
    println!(
        "init: system `{}`: {} components",
        manifest.system,
        manifest.components.len()
    );

    let make = |space: &mut Space, ty| match space.global_object(ty, 0) {
        Ok(s) => s,
        Err(e) => give_up(format_args!("out of memory for shared objects: {e:?}")),
    };
    let fault_endpoint = make(&mut space, ObjectType::Endpoint);
    let channels = manifest
        .channels
        .iter()
        .map(|_| make(&mut space, ObjectType::Endpoint))
        .collect();
    let notifications = manifest
        .notifications
        .iter()
        .map(|_| make(&mut space, ObjectType::Notification))
        .collect();
    let regions = manifest
        .regions
        .iter()
        .map(|r| match contiguous_frames(&mut space, r.size) {
            Ok(region) => region,
            Err(e) => give_up(format_args!(
                "region `{}`: no room for {} KiB: {e:?}",
                r.name,
                r.size >> 10
            )),
        })
        .collect();
    let (devices, lines) = pci_devices(&mut space, boot, &manifest);
    let shared = Shared {
        channels,
        notifications,
        regions,
        fault_endpoint,
        tsc_hz: boot.tsc_hz,
        wall_clock: boot.wall_clock,
        devices,
        lines,
    };

    // A heap that is a share of the machine is no larger than all the
    // large frames there are: its page directories are counted for that.
    let most_heap = space.room_for(plan::LARGE_PAGE_BITS) * plan::LARGE_PAGE;
    let mut components: Vec<Component> = Vec::new();
    for c in &manifest.components {
        let Some(binary) = module(boot, &c.module_name()) else {
            give_up(format_args!(
                "{}: no boot module `{}` holds its binary",
                c.name,
                c.module_name()
            ));
        };
        let pages = ElfBytes::<LittleEndian>::minimal_parse(binary)
            .ok()
            .and_then(|f| f.segments())
            .map(|segs| {
                plan::image_pages(
                    segs.iter()
                        .filter(|p| p.p_type == PT_LOAD)
                        .map(|p| (p.p_vaddr, p.p_vaddr + p.p_memsz)),
                )
            })
            .unwrap_or(0);
        let heap_bound = match c.heap {
            Heap::Bytes(bytes) => bytes,
            Heap::Share { .. } => most_heap,
        };
        let bits = plan::untyped_bits(plan::component_bytes(
            pages,
            c.stack_bytes,
            heap_bound,
            basalt_abi::start_info::COMPONENT_CNODE_BITS,
        ));
        let slot = match space.global_object(ObjectType::Untyped, u64::from(bits)) {
            Ok(s) => s,
            Err(e) => give_up(format_args!(
                "{}: no room for {} KiB: {e:?}",
                c.name,
                (1u64 << bits) >> 10
            )),
        };
        let mut memory = component::Own {
            objects: Memory::new(slot, bits),
            heap: Memory::empty(),
            heap_bytes: c.heap.fixed_bytes(),
        };
        let (large, _) = plan::heap_split(memory.heap_bytes);
        if let Err(e) = space.blocks_for(plan::LARGE_PAGE_BITS, large, &mut memory.heap) {
            give_up(format_args!(
                "{}: no room for a heap of {} MiB: {e:?}",
                c.name,
                memory.heap_bytes >> 20
            ));
        }
        components.push(Component {
            binary,
            memory,
            started: None,
            generation: 1,
            restarts: 0,
            history: History::default(),
            restart_at: None,
            last_exit: [0; LAST_EXIT_BYTES],
        });
    }

    share_heaps(&mut space, &manifest, &mut components);

    let mut order: Vec<usize> = (0..components.len()).collect();
    order.sort_by_key(|&i| manifest.components[i].start_order);
    for i in order {
        if let Err(e) = start(&mut space, &manifest, &shared, i, &mut components[i]) {
            println!("init: cannot start {}: {e}", manifest.components[i].name);
            stop(&mut space, &mut components[i]);
        }
    }

    // The TSC's ticks per millisecond, for restarts that wait.
    let per_ms = (shared.tsc_hz / 1000).max(1);
    loop {
        // Wait for a fault, or until a restart that backs off is due.
        let due = components.iter().filter_map(|c| c.restart_at).min();
        let received = match due {
            Some(deadline) => ipc::recv_until(shared.fault_endpoint, deadline),
            None => ipc::recv(shared.fault_endpoint),
        };
        let msg = match received {
            Ok(m) => m,
            Err(libcap::Error::TimedOut) => {
                let now = libcap::time::rdtsc();
                for (index, c) in components.iter_mut().enumerate() {
                    if c.restart_at.is_some_and(|t| t <= now) {
                        c.restart_at = None;
                        restart(&mut space, &manifest, &shared, index, c);
                    }
                }
                continue;
            }
            Err(e) => give_up(format_args!("waiting for faults failed: {e:?}")),
        };
        let Some(index) = (msg.badge as usize)
            .checked_sub(1)
            .filter(|&i| i < components.len())
        else {
            println!("init: a fault message with unknown badge {}", msg.badge);
            continue;
        };
        let m = &manifest.components[index];
        let c = &mut components[index];
        let w = msg.words();
        let word = |i: usize| w.get(i).copied().unwrap_or(0);
        if msg.info.label() == fault::PAGE_FAULT
            && let Some(started) = c.started.as_mut()
            && let Some(mapped) = started.fault_in_heap(&mut space, &mut c.memory, word(2), word(3))
        {
            match mapped.and_then(|()| ipc::reply(&Message::new(fault::RESUME, &[]))) {
                Ok(()) => continue,
                Err(e) => println!(
                    "init: {}: cannot map its heap at {:#x}: {e:?}",
                    m.name,
                    word(2)
                ),
            }
        }
        let (failed, how) = if msg.info.label() == fault::EXITED {
            (word(2) != 0, format!("exited with status {}", word(2)))
        } else {
            let how = format!(
                "{} at {:#x}, address {:#x}, code {:#x}",
                fault_name(msg.info.label()),
                word(0),
                word(2),
                word(3)
            );
            (true, how)
        };
        let verb = if msg.info.label() == fault::EXITED {
            ""
        } else {
            "faulted: "
        };
        println!("init: {} (generation {}) {verb}{how}", m.name, c.generation);
        c.last_exit = [0; LAST_EXIT_BYTES];
        let cut = how.len().min(LAST_EXIT_BYTES);
        c.last_exit[..cut].copy_from_slice(&how.as_bytes()[..cut]);
        stop(&mut space, c);
        let now = libcap::time::rdtsc();
        let decision = match m.restart {
            Restart::Never => None,
            Restart::Always => Some(Decision::Now),
            Restart::OnFailure { budget } if failed => Some(c.history.failed(budget, now / per_ms)),
            Restart::OnFailure { .. } => None,
        };
        match decision {
            Some(Decision::Now) => restart(&mut space, &manifest, &shared, index, c),
            Some(Decision::After(ms)) => {
                println!(
                    "init: {} failed past its restart budget; starting it again in {ms} ms (back-off)",
                    m.name
                );
                c.restart_at = Some(now.saturating_add(ms.saturating_mul(per_ms)));
            }
            Some(Decision::Stop) | None => {
                if failed {
                    println!(
                        "init: {} stays stopped (restart policy, {} restarts so far)",
                        m.name, c.restarts
                    );
                }
            }
        }
    }
}

/// Starts component `index` again, as its next generation.
fn restart(
    space: &mut Space,
    manifest: &Manifest,
    shared: &Shared,
    index: usize,
    c: &mut Component,
) {
    c.restarts += 1;
    c.generation += 1;
    if let Err(e) = start(space, manifest, shared, index, c) {
        println!(
            "init: cannot restart {}: {e}",
            manifest.components[index].name
        );
        stop(space, c);
    }
}
