//! The checks that span files: the component list, channels,
//! notifications, regions, devices, memory, limits and call cycles; and the
//! manifest the checked tree describes.

use super::diag::{At, Loc, Report};
use super::parse::{ComponentFile, SystemFile};
use super::size::show;
use basalt_abi::boot_info::MAX_MODULES;
use basalt_abi::start_info::{ARGS_BYTES, MAX_CAPS};
use manifest::{
    Channel, Component, Device, Heap, Manifest, NotificationDecl, PciId, PciInterrupt, Region,
};
use std::collections::{BTreeMap, BTreeSet};

/// Memory each component costs besides its heap and stack: its kernel
/// objects (TCB, CNodes (init keeps a 4096-slot one per component for
/// the capabilities of its frames and tables), VSpace and page tables),
/// start-info page, IPC buffer and loaded program image.
pub const COMPONENT_OVERHEAD: u64 = 512 << 10;
/// Bytes of the frames a shared heap comes in.
const LARGE_FRAME: u128 = 2 << 20;

/// Where `where_` is first declared, as `file:line` for messages.
fn place(report: &Report, loc: &Loc) -> String {
    let (line, _) = report.line_col(loc);
    let path = &report.sources[loc.file].path;
    let file = path.file_name().map_or_else(
        || path.display().to_string(),
        |f| f.to_string_lossy().into_owned(),
    );
    format!("{file}:{line}")
}

/// A channel or notification as the component files declare it.
#[derive(Default)]
struct Decl {
    /// Components that serve the channel (own the notification).
    owners: Vec<(usize, Loc)>,
    /// Components that use the channel (signal the notification).
    users: Vec<(usize, Loc)>,
}

/// Collects `owners`/`users` per name, in order of first appearance.
fn collect(
    components: &[ComponentFile],
    owned: impl Fn(&ComponentFile) -> &[At<String>],
    used: impl Fn(&ComponentFile) -> &[At<String>],
) -> Vec<(String, Decl)> {
    fn entry<'o>(out: &'o mut Vec<(String, Decl)>, name: &str) -> &'o mut Decl {
        let i = match out.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                out.push((name.to_string(), Decl::default()));
                out.len() - 1
            }
        };
        &mut out[i].1
    }
    let mut out: Vec<(String, Decl)> = Vec::new();
    for (i, c) in components.iter().enumerate() {
        for n in owned(c) {
            entry(&mut out, &n.value).owners.push((i, n.loc.clone()));
        }
        for n in used(c) {
            entry(&mut out, &n.value).users.push((i, n.loc.clone()));
        }
    }
    out
}

/// Memory: the fixed-size parts must fit `memory`, and the shares of
/// what is left must add up to at most all of it, each at least one
/// large frame on a machine of `memory`.
fn check_memory(report: &mut Report, sys: &SystemFile, components: &[ComponentFile]) {
    let heaps: u128 = components
        .iter()
        .map(|c| u128::from(c.heap.value.fixed_bytes()))
        .sum();
    let stacks: u128 = components.iter().map(|c| u128::from(c.stack)).sum();
    let regions: u128 = sys.regions.iter().map(|r| u128::from(r.size)).sum();
    let overhead = u128::from(COMPONENT_OVERHEAD) * components.len() as u128;
    let total = heaps + stacks + regions + overhead;
    let Some(At {
        value: budget,
        loc: memory_loc,
    }) = &sys.memory
    else {
        // An unreadable `memory` is reported already.
        return;
    };
    let budget = *budget;
    let show = |n: u128| show(u64::try_from(n).unwrap_or(u64::MAX));
    if total > u128::from(budget) {
        report.error(
            memory_loc,
            format!(
                "the system needs {} (heaps {}, stacks {}, regions {}, {} component{} x {} overhead) but `memory` is {}",
                show(total),
                show(heaps),
                show(stacks),
                show(regions),
                components.len(),
                if components.len() == 1 { "" } else { "s" },
                show(u128::from(COMPONENT_OVERHEAD)),
                show(u128::from(budget)),
            ),
        );
    }
    let shares: Vec<(&ComponentFile, u8)> = components
        .iter()
        .filter_map(|c| match c.heap.value {
            Heap::Share { percent } => Some((c, percent)),
            Heap::Bytes(_) => None,
        })
        .collect();
    let shared: u32 = shares.iter().map(|(_, p)| u32::from(*p)).sum();
    if shared > 100
        && let Some((last, _)) = shares.last()
    {
        let each: Vec<String> = shares
            .iter()
            .map(|(c, p)| format!("{} {p}%", c.name))
            .collect();
        report.error(
            &last.heap.loc,
            format!(
                "heap shares add up to {shared}% ({}); together they can have at most 100% of what the fixed-size parts leave",
                each.join(", ")
            ),
        );
    }
    let left = u128::from(budget).saturating_sub(total);
    for (c, percent) in &shares {
        let heap = left * u128::from(*percent) / 100 / LARGE_FRAME * LARGE_FRAME;
        if heap == 0 && total <= u128::from(budget) {
            report.error(
                &c.heap.loc,
                format!(
                    "`{}`'s heap, {percent}% of the {} that `memory` ({}) leaves after the fixed-size parts, is less than one 2 MiB frame",
                    c.name,
                    show(left),
                    show(u128::from(budget)),
                ),
            );
        }
    }
}

/// Checks the tree as a whole and returns its manifest, or `None` if
/// anything was wrong (all of it reported).
pub fn system(
    report: &mut Report,
    sys: &SystemFile,
    components: &[ComponentFile],
) -> Option<Manifest> {
    let errors_before = report.diagnostics.len();
    let index: BTreeMap<&str, usize> = components
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    let channels = collect(components, |c| &c.serves, |c| &c.uses);
    check_owners(report, components, &channels, &CHANNEL);
    let notifications = collect(components, |c| &c.notifications, |c| &c.signals);
    check_owners(report, components, &notifications, &NOTIFICATION);
    let region_names = check_regions(report, sys, &index);
    let seen = check_name_space(report, &channels, &notifications, &region_names);
    check_devices(report, components, &seen);
    check_start_info(report, sys, components);
    check_modules(report, components);
    check_memory(report, sys, components);
    let calls = check_calls(report, components, &channels);
    if report.diagnostics.len() > errors_before {
        return None;
    }
    manifest_of(sys, components, &index, &channels, &notifications, &calls)
}

/// How messages name the two kinds of owned names.
struct Kind {
    /// `channel`, `notification`.
    name: &'static str,
    /// What having none is: "is used but no component serves it".
    unowned: &'static str,
    /// What having two is: "is served by both", "is waited on by both".
    twice: &'static str,
    /// Why one: "a channel has one server".
    rule: &'static str,
}

const CHANNEL: Kind = Kind {
    name: "channel",
    unowned: "is used but no component serves it",
    twice: "is served by both",
    rule: "a channel has one server",
};

const NOTIFICATION: Kind = Kind {
    name: "notification",
    unowned: "is signalled but no component lists it in `notifications`",
    twice: "is waited on by both",
    rule: "a notification has one owner",
};

/// Channels and notifications: one owner each (a server, a waiter), and
/// an owner for every one used.
fn check_owners(
    report: &mut Report,
    components: &[ComponentFile],
    decls: &[(String, Decl)],
    kind: &Kind,
) {
    for (name, d) in decls {
        match d.owners.as_slice() {
            [] => {
                let (_, at) = &d.users[0];
                report.error(at, format!("{} `{name}` {}", kind.name, kind.unowned));
            }
            [(first, first_at), rest @ ..] => {
                for (other, at) in rest {
                    let msg = format!(
                        "{} `{name}` {} `{}` ({}) and `{}`: {}",
                        kind.name,
                        kind.twice,
                        components[*first].name,
                        place(report, first_at),
                        components[*other].name,
                        kind.rule
                    );
                    report.error(at, msg);
                }
            }
        }
    }
}

/// Regions: unique names, known users. The names and where each was
/// declared first.
fn check_regions<'s>(
    report: &mut Report,
    sys: &'s SystemFile,
    index: &BTreeMap<&str, usize>,
) -> Vec<(&'s str, &'s Loc)> {
    let mut region_names: Vec<(&str, &Loc)> = Vec::new();
    for r in &sys.regions {
        let Some(name) = &r.name else { continue };
        if let Some((_, first)) = region_names.iter().find(|(n, _)| *n == name.value) {
            let msg = format!(
                "region `{}` is declared twice (first at {})",
                name.value,
                place(report, first)
            );
            report.error(&name.loc, msg);
        } else {
            region_names.push((&name.value, &name.loc));
        }
        for user in r.writers.iter().chain(&r.readers) {
            if !index.contains_key(user.value.as_str()) {
                report.error(
                    &user.loc,
                    format!(
                        "region user `{}` is not a component of this system",
                        user.value
                    ),
                );
            }
        }
    }

    region_names
}

/// One name space for channels, notifications and regions: a component
/// finds each capability by name. The kind and first place of each name.
fn check_name_space<'a>(
    report: &mut Report,
    channels: &'a [(String, Decl)],
    notifications: &'a [(String, Decl)],
    region_names: &[(&'a str, &'a Loc)],
) -> BTreeMap<&'a str, (&'static str, Loc)> {
    let first_loc = |d: &Decl| {
        d.owners
            .iter()
            .chain(&d.users)
            .map(|(_, l)| l)
            .min_by_key(|l| (l.file, l.span.start))
            .expect("a declared name has a place")
            .clone()
    };
    let named = channels
        .iter()
        .map(|(n, d)| ("channel", n.as_str(), first_loc(d)))
        .chain(
            notifications
                .iter()
                .map(|(n, d)| ("notification", n.as_str(), first_loc(d))),
        )
        .chain(
            region_names
                .iter()
                .map(|(n, l)| ("region", *n, (*l).clone())),
        );
    let mut seen: BTreeMap<&'a str, (&'static str, Loc)> = BTreeMap::new();
    for (kind, name, loc) in named {
        match seen.get(name) {
            Some((other, first)) => {
                let msg = format!(
                    "`{name}` names both a {other} ({}) and a {kind}: channels, notifications and regions need distinct names",
                    place(report, first)
                );
                report.error(&loc, msg);
            }
            None => {
                seen.insert(name, (kind, loc));
            }
        }
    }
    seen
}

/// Devices: names distinct within a component and from the shared names
/// (`seen`); no IRQ, port or PCI function granted twice.
fn check_devices(
    report: &mut Report,
    components: &[ComponentFile],
    seen: &BTreeMap<&str, (&'static str, Loc)>,
) {
    let mut irqs: Vec<(u8, usize, &Loc)> = Vec::new();
    let mut ports: Vec<(u16, u16, usize, &Loc)> = Vec::new();
    let mut pcis: Vec<(PciId, usize, &Loc)> = Vec::new();
    for (ci, c) in components.iter().enumerate() {
        let mut names: Vec<(&str, &Loc)> = Vec::new();
        for d in &c.devices {
            let name = d.value.name();
            if let Some((_, first)) = names.iter().find(|(n, _)| *n == name) {
                let msg = format!(
                    "device name `{name}` is used twice in this component (first at {})",
                    place(report, first)
                );
                report.error(&d.loc, msg);
            } else {
                names.push((name, &d.loc));
            }
            if let Some((kind, _)) = seen.get(name) {
                report.error(
                    &d.loc,
                    format!("device name `{name}` is also the name of a {kind}"),
                );
            }
            let owner =
                |i: usize, at: &Loc| format!("`{}` ({})", components[i].name, place(report, at));
            match &d.value {
                &Device::Irq { irq, .. } => {
                    if let Some((_, other, at)) = irqs.iter().find(|(n, _, _)| *n == irq) {
                        let msg = format!("IRQ {irq} is already granted to {}", owner(*other, at));
                        report.error(&d.loc, msg);
                    }
                    irqs.push((irq, ci, &d.loc));
                }
                &Device::IoPorts { first, last, .. } => {
                    if let Some((lo, hi, other, at)) = ports
                        .iter()
                        .find(|(lo, hi, _, _)| first <= *hi && *lo <= last)
                    {
                        let msg = format!(
                            "I/O ports {first:#x}-{last:#x} overlap {lo:#x}-{hi:#x}, already granted to {}",
                            owner(*other, at)
                        );
                        report.error(&d.loc, msg);
                    }
                    ports.push((first, last, ci, &d.loc));
                }
                Device::Pci { ids, .. } => {
                    let taken: Vec<String> = ids
                        .iter()
                        .filter_map(|id| {
                            let (_, other, at) = pcis.iter().find(|(i, _, _)| i == id)?;
                            Some(format!(
                                "PCI device {id} is already granted to {}",
                                owner(*other, at)
                            ))
                        })
                        .collect();
                    for msg in taken {
                        report.error(&d.loc, msg);
                    }
                    pcis.extend(ids.iter().map(|&id| (id, ci, &d.loc)));
                }
            }
        }
    }
}

/// What each component's start-info page can hold: its capabilities and
/// its arguments.
fn check_start_info(report: &mut Report, sys: &SystemFile, components: &[ComponentFile]) {
    for c in components {
        let regions = sys
            .regions
            .iter()
            .filter(|r| {
                r.writers
                    .iter()
                    .chain(&r.readers)
                    .any(|u| u.value == c.name)
            })
            .count();
        // A PCI device is granted its configuration page besides its BARs
        // (which the device's own count stands for), and with an interrupt
        // its IRQ handler too.
        let pci_extras: usize = c
            .devices
            .iter()
            .map(|d| match d.value {
                Device::Pci {
                    interrupt: PciInterrupt::Msi | PciInterrupt::Any,
                    ..
                } => 2,
                Device::Pci { .. } => 1,
                _ => 0,
            })
            .sum();
        let caps = c.serves.len()
            + c.uses.len()
            + c.notifications.len()
            + c.signals.len()
            + c.devices.len()
            + pci_extras
            + regions;
        if caps > MAX_CAPS {
            report.error(
                &Loc::start_of(c.file),
                format!(
                    "`{}` is given {caps} capabilities (channels, notifications, regions, devices); a component can hold at most {MAX_CAPS}",
                    c.name
                ),
            );
        }
        let args: usize = c
            .args
            .iter()
            .map(|a| a.key.value.len() + a.value.value.len() + 2)
            .sum();
        if args > ARGS_BYTES
            && let Some(at) = &c.args_loc
        {
            report.error(
                at,
                format!(
                    "the arguments take {args} bytes as `key=value` lines; at most {ARGS_BYTES} fit"
                ),
            );
        }
    }
}

/// Boot modules: the manifest and one per distinct binary.
fn check_modules(report: &mut Report, components: &[ComponentFile]) {
    let mut binaries: Vec<&At<String>> = Vec::new();
    for c in components {
        if let Some(b) = &c.binary
            && !binaries.iter().any(|x| x.value == b.value)
        {
            binaries.push(b);
        }
    }
    if binaries.len() + 1 > MAX_MODULES {
        report.error(
            &binaries[MAX_MODULES - 1].loc,
            format!(
                "{} distinct binaries and the manifest make {} boot modules; the kernel passes at most {MAX_MODULES}",
                binaries.len(),
                binaries.len() + 1
            ),
        );
    }
}

/// Synchronous calls must not form a cycle: who calls whom (component ->
/// the servers of the channels it uses, with the `uses` entry), checked.
fn check_calls<'c>(
    report: &mut Report,
    components: &'c [ComponentFile],
    channels: &[(String, Decl)],
) -> Vec<Vec<(usize, &'c At<String>)>> {
    let server_of: BTreeMap<&str, usize> = channels
        .iter()
        .filter_map(|(n, d)| d.owners.first().map(|(s, _)| (n.as_str(), *s)))
        .collect();
    let calls: Vec<Vec<(usize, &At<String>)>> = components
        .iter()
        .map(|c| {
            c.uses
                .iter()
                .filter_map(|u| server_of.get(u.value.as_str()).map(|s| (*s, u)))
                .collect()
        })
        .collect();
    for cycle in call_cycles(&calls) {
        let mut path = components[cycle[0].0].name.clone();
        for (from, edge) in &cycle {
            let (to, via) = calls[*from][*edge];
            path += &format!(" -> {} (`{}`)", components[to].name, via.value);
        }
        let (from, edge) = cycle[0];
        report.error(
            &calls[from][edge].1.loc,
            format!(
                "synchronous calls form a cycle: {path}; a server must not call, directly or through others, a component that calls it"
            ),
        );
    }
    calls
}

/// The manifest of a checked tree; `None` without a system name (already
/// reported).
fn manifest_of(
    sys: &SystemFile,
    components: &[ComponentFile],
    index: &BTreeMap<&str, usize>,
    channels: &[(String, Decl)],
    notifications: &[(String, Decl)],
    calls: &[Vec<(usize, &At<String>)>],
) -> Option<Manifest> {
    let name = sys.name.as_ref()?.value.clone();
    let comp = |n: &str| index[n] as u32;
    let mut manifest = Manifest {
        system: name,
        components: components
            .iter()
            .map(|c| Component {
                name: c.name.clone(),
                binary: c
                    .binary
                    .as_ref()
                    .map(|b| b.value.clone())
                    .unwrap_or_default(),
                priority: c.priority,
                heap: c.heap.value,
                stack_bytes: c.stack,
                restart: c.restart,
                args: c
                    .args
                    .iter()
                    .map(|a| (a.key.value.clone(), a.value.value.clone()))
                    .collect(),
                devices: c.devices.iter().map(|d| d.value.clone()).collect(),
                start_order: 0,
            })
            .collect(),
        channels: channels
            .iter()
            .map(|(n, d)| Channel {
                name: n.clone(),
                server: d.owners[0].0 as u32,
                clients: sorted(d.users.iter().map(|(c, _)| *c as u32)),
            })
            .collect(),
        notifications: notifications
            .iter()
            .map(|(n, d)| NotificationDecl {
                name: n.clone(),
                owner: d.owners[0].0 as u32,
                signallers: sorted(d.users.iter().map(|(c, _)| *c as u32)),
            })
            .collect(),
        regions: sys
            .regions
            .iter()
            .map(|r| {
                let mut users: Vec<(u32, bool)> = r
                    .writers
                    .iter()
                    .map(|w| (comp(&w.value), true))
                    .chain(r.readers.iter().map(|x| (comp(&x.value), false)))
                    .collect();
                users.sort();
                Region {
                    name: r.name.as_ref().map(|n| n.value.clone()).unwrap_or_default(),
                    size: r.size,
                    users,
                }
            })
            .collect(),
    };
    for (order, i) in start_order(calls).into_iter().enumerate() {
        manifest.components[i].start_order = order as u32;
    }
    Some(manifest)
}

fn sorted(it: impl Iterator<Item = u32>) -> Vec<u32> {
    let set: BTreeSet<u32> = it.collect();
    set.into_iter().collect()
}

/// One cycle per strongly connected part of the call graph that has one,
/// as `(component, edge index)` steps starting from its lowest component.
fn call_cycles<T>(calls: &[Vec<(usize, T)>]) -> Vec<Vec<(usize, usize)>> {
    let n = calls.len();
    // reach[a][b]: b can be reached from a in one or more calls.
    let mut reach = vec![vec![false; n]; n];
    for (a, edges) in calls.iter().enumerate() {
        for (b, _) in edges {
            reach[a][*b] = true;
        }
    }
    for k in 0..n {
        let via = reach[k].clone();
        for row in reach.iter_mut() {
            if row[k] {
                for (to, reachable) in row.iter_mut().zip(&via) {
                    *to |= *reachable;
                }
            }
        }
    }
    let mut done = vec![false; n];
    let mut cycles = Vec::new();
    for start in 0..n {
        if done[start] || !reach[start][start] {
            continue;
        }
        // Everything on a cycle through `start` belongs to its part.
        for (other, d) in done.iter_mut().enumerate() {
            if reach[start][other] && reach[other][start] {
                *d = true;
            }
        }
        // Shortest path back to `start`, by breadth-first search.
        let mut came_from: Vec<Option<(usize, usize)>> = vec![None; n];
        let mut queue = std::collections::VecDeque::from([start]);
        let mut seen = vec![false; n];
        'search: while let Some(a) = queue.pop_front() {
            for (e, (b, _)) in calls[a].iter().enumerate() {
                if *b == start {
                    let mut path = vec![(a, e)];
                    let mut at = a;
                    while let Some((prev, pe)) = came_from[at] {
                        path.push((prev, pe));
                        at = prev;
                    }
                    path.reverse();
                    cycles.push(path);
                    break 'search;
                }
                if !seen[*b] {
                    seen[*b] = true;
                    came_from[*b] = Some((a, e));
                    queue.push_back(*b);
                }
            }
        }
    }
    cycles
}

/// Components in start order: every server before the components that
/// call it, otherwise in the listed order. The call graph has no cycle.
fn start_order<T>(calls: &[Vec<(usize, T)>]) -> Vec<usize> {
    let n = calls.len();
    let mut started = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n)
            .find(|&c| !started[c] && calls[c].iter().all(|(s, _)| started[*s]))
            .expect("the call graph has no cycle");
        started[next] = true;
        order.push(next);
    }
    order
}
