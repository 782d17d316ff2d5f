//! `cargo xtask graph`: a checked system's components and what connects
//! them, as text or as a Graphviz graph.

use super::size::show;
use manifest::{Device, Exhausted, Heap, Manifest, PciInterrupt, Restart};
use std::fmt::Write;

fn restart(r: Restart) -> String {
    match r {
        Restart::Never => "never".into(),
        Restart::OnFailure { budget } => format!(
            "on-failure ({} in {} s, then {})",
            budget.limit,
            budget.window_s,
            match budget.exhausted {
                Exhausted::BackOff => "back-off",
                Exhausted::Stop => "stop",
            }
        ),
        Restart::Always => "always".into(),
    }
}

fn device(d: &Device) -> String {
    match d {
        Device::Irq { name, irq } => format!("{name}: IRQ {irq}"),
        Device::IoPorts { name, first, last } => format!("{name}: ports {first:#x}-{last:#x}"),
        Device::Pci {
            name,
            ids,
            interrupt,
        } => format!(
            "{name}: PCI {}{}",
            ids.iter()
                .map(|id| id.to_string())
                .collect::<Vec<_>>()
                .join(" or "),
            match interrupt {
                PciInterrupt::None => "",
                PciInterrupt::Msi => ", MSI",
                PciInterrupt::Any => ", MSI or INTx",
            }
        ),
    }
}

fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// The system as text: components in start order, then channels
/// (`client -> server`), notifications (`signaller ~> owner`) and regions.
pub fn text(m: &Manifest) -> String {
    let name = |i: &u32| m.components[*i as usize].name.as_str();
    let names = |list: &[u32]| list.iter().map(name).collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    let _ = writeln!(
        out,
        "system {}: {}, {}, {}, {}",
        m.system,
        plural(m.components.len(), "component"),
        plural(m.channels.len(), "channel"),
        plural(m.notifications.len(), "notification"),
        plural(m.regions.len(), "region"),
    );
    let _ = writeln!(out, "\ncomponents, in start order:");
    for i in m.start_sequence() {
        let c = &m.components[i as usize];
        let _ = writeln!(
            out,
            "  {}  {}, priority {}, heap {}, stack {}, restart {}",
            c.name,
            c.module_name(),
            c.priority,
            match c.heap {
                Heap::Bytes(b) => show(b),
                Heap::Share { percent } => format!("{percent}% of what is left"),
            },
            show(c.stack_bytes),
            restart(c.restart)
        );
        for (k, v) in &c.args {
            let _ = writeln!(out, "    arg {k} = {v:?}");
        }
        for d in &c.devices {
            let _ = writeln!(out, "    device {}", device(d));
        }
    }
    if !m.channels.is_empty() {
        let _ = writeln!(out, "\nchannels (clients -> server):");
        for ch in &m.channels {
            let clients = if ch.clients.is_empty() {
                "(no clients)".to_string()
            } else {
                names(&ch.clients)
            };
            let _ = writeln!(out, "  {}: {clients} -> {}", ch.name, name(&ch.server));
        }
    }
    if !m.notifications.is_empty() {
        let _ = writeln!(out, "\nnotifications (signallers ~> owner):");
        for n in &m.notifications {
            let signallers = if n.signallers.is_empty() {
                "(no signallers)".to_string()
            } else {
                names(&n.signallers)
            };
            let _ = writeln!(out, "  {}: {signallers} ~> {}", n.name, name(&n.owner));
        }
    }
    if !m.regions.is_empty() {
        let _ = writeln!(out, "\nregions:");
        for r in &m.regions {
            let users: Vec<String> = r
                .users
                .iter()
                .map(|(c, w)| format!("{} {}", name(c), if *w { "rw" } else { "ro" }))
                .collect();
            let _ = writeln!(out, "  {} ({}): {}", r.name, show(r.size), users.join(", "));
        }
    }
    out
}

/// The system as a Graphviz digraph: components are boxes, regions
/// ellipses; a solid edge is a channel (client to server), a dashed one a
/// notification (signaller to owner), a dotted one a region mapping
/// (both ways when writable).
pub fn dot(m: &Manifest) -> String {
    // Every name is checked to be lowercase letters, digits, `-` and `_`,
    // so quoting needs no escapes.
    let name = |i: &u32| m.components[*i as usize].name.as_str();
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=LR;\n  node [shape=box];\n",
        m.system
    );
    for c in &m.components {
        let mut label = format!("{}\\npriority {}", c.name, c.priority);
        for d in &c.devices {
            label += &format!("\\n{}", device(d));
        }
        let _ = writeln!(out, "  \"{}\" [label=\"{label}\"];", c.name);
    }
    for ch in &m.channels {
        for client in &ch.clients {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\"];",
                name(client),
                name(&ch.server),
                ch.name
            );
        }
    }
    for n in &m.notifications {
        for s in &n.signallers {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"{}\" [label=\"{}\", style=dashed];",
                name(s),
                name(&n.owner),
                n.name
            );
        }
    }
    for r in &m.regions {
        let _ = writeln!(
            out,
            "  \"region:{}\" [label=\"{}\\n{}\", shape=ellipse];",
            r.name,
            r.name,
            show(r.size)
        );
        for (c, writable) in &r.users {
            let _ = writeln!(
                out,
                "  \"{}\" -> \"region:{}\" [style=dotted{}];",
                name(c),
                r.name,
                if *writable { ", dir=both" } else { "" }
            );
        }
    }
    out += "}\n";
    out
}
