//! A component's `[args]` against what its binary declares
//! ([`declare`](super::declare)): every key taken, every value of its
//! kind, every wiring argument naming something the config grants the
//! component.

use super::declare::{ArgDecl, Binary, Declarations, Key, Kind, Wiring};
use super::diag::Report;
use super::parse::{Arg, ArgType, ComponentFile, RegionDecl, suggest};
use super::size;
use manifest::{Device, PciInterrupt};

/// BARs a PCI function has at most (`<name>.bar0` to `<name>.bar5`).
const PCI_BARS: usize = 6;

/// What the config grants one component, by wiring kind: the names a
/// wiring argument may take.
struct Grants {
    /// `None` when `system.toml` could not be read (nothing is checked
    /// against regions then).
    regions: Option<Vec<String>>,
    /// The regions it has alone (its only writer, no readers).
    own_regions: Option<Vec<String>>,
    notifications: Vec<String>,
    signals: Vec<String>,
    channels: Vec<String>,
    irqs: Vec<String>,
    io_ports: Vec<String>,
    /// Device names, then the PCI devices' grants.
    devices: Vec<String>,
}

impl Grants {
    fn of(c: &ComponentFile, regions: Option<&[RegionDecl]>) -> Self {
        let names = |list: &[super::diag::At<String>]| -> Vec<String> {
            list.iter().map(|n| n.value.clone()).collect()
        };
        let mut irqs = Vec::new();
        let mut io_ports = Vec::new();
        let mut devices: Vec<String> = c.devices.iter().map(|d| d.value.name().into()).collect();
        for d in &c.devices {
            match &d.value {
                Device::Irq { name, .. } => irqs.push(name.clone()),
                Device::IoPorts { name, .. } => io_ports.push(name.clone()),
                Device::Pci {
                    name, interrupt, ..
                } => {
                    devices.extend((0..PCI_BARS).map(|n| format!("{name}.bar{n}")));
                    devices.push(format!("{name}.config"));
                    let lines: &[&str] = match interrupt {
                        PciInterrupt::None => &[],
                        PciInterrupt::Msi => &["msi"],
                        // Init grants one of them, as the function has MSI
                        // or not.
                        PciInterrupt::Any => &["msi", "intx"],
                    };
                    for line in lines {
                        irqs.push(format!("{name}.{line}"));
                        devices.push(format!("{name}.{line}"));
                    }
                }
            }
        }
        Self {
            own_regions: regions.map(|rs| {
                rs.iter()
                    .filter(|r| {
                        r.readers.is_empty()
                            && r.writers.len() == 1
                            && r.writers.iter().all(|w| w.value == c.name)
                    })
                    .filter_map(|r| r.name.as_ref().map(|n| n.value.clone()))
                    .collect()
            }),
            regions: regions.map(|rs| {
                rs.iter()
                    .filter(|r| {
                        r.writers
                            .iter()
                            .chain(&r.readers)
                            .any(|u| u.value == c.name)
                    })
                    .filter_map(|r| r.name.as_ref().map(|n| n.value.clone()))
                    .collect()
            }),
            notifications: names(&c.notifications),
            signals: names(&c.signals),
            channels: names(&c.serves).into_iter().chain(names(&c.uses)).collect(),
            irqs,
            io_ports,
            devices,
        }
    }

    /// The names of kind `w`, if known.
    fn of_kind(&self, w: Wiring) -> Option<&[String]> {
        Some(match w {
            Wiring::Region => self.regions.as_deref()?,
            Wiring::Dma => self.own_regions.as_deref()?,
            Wiring::Notification => &self.notifications,
            Wiring::Signal => &self.signals,
            Wiring::Channel => &self.channels,
            Wiring::Irq => &self.irqs,
            Wiring::IoPorts => &self.io_ports,
            Wiring::Device => &self.devices,
        })
    }
}

/// How a message names a grant of kind `w`, and what of the config
/// grants them.
fn what(w: Wiring) -> (&'static str, &'static str) {
    match w {
        Wiring::Region => ("region", "the regions system.toml shares with it"),
        Wiring::Dma => (
            "region of its own",
            "the regions system.toml gives it alone: `writers = [\"<it>\"]`, no readers",
        ),
        Wiring::Notification => ("notification", "its `notifications`"),
        Wiring::Signal => ("notification", "its `signals`"),
        Wiring::Channel => ("channel", "its `serves` and `uses`"),
        Wiring::Irq => (
            "IRQ",
            "its `kind = \"irq\"` devices, and `<name>.msi` of its PCI devices with `interrupt = \"msi\"`",
        ),
        Wiring::IoPorts => ("I/O-port range", "its `kind = \"io-ports\"` devices"),
        Wiring::Device => (
            "device",
            "its `[[device]]` names, with a PCI device's `<name>.bar<N>`, `<name>.config` and `<name>.msi`",
        ),
    }
}

/// Why `name` is not a grant of kind `w` to component `c`, if it is not.
fn not_granted(grants: &Grants, w: Wiring, name: &str, c: &str) -> Option<String> {
    let known = grants.of_kind(w)?;
    if known.iter().any(|k| k == name) {
        return None;
    }
    let (noun, source) = what(w);
    let to = match w {
        Wiring::Notification => " to wait on",
        Wiring::Signal => " to signal",
        _ => "",
    };
    let candidates: Vec<&str> = known.iter().map(String::as_str).collect();
    let hint = match suggest(name, &candidates) {
        Some(s) => format!("; did you mean `{s}`?"),
        None => {
            // A PCI device's BARs would crowd the list: name the devices.
            let shown: Vec<&str> = candidates
                .iter()
                .copied()
                .filter(|n| w != Wiring::Device || !n.contains('.'))
                .collect();
            if shown.is_empty() {
                format!(" ({source}: none)")
            } else {
                format!(" ({source}: {})", list(&shown))
            }
        }
    };
    Some(format!("no {noun} `{name}` is granted to `{c}`{to}{hint}"))
}

/// `a`, `a and b`, `a, b and c`, each in backquotes.
fn list(items: &[&str]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("`{i}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// Why `arg`'s value is not of `kind`, if it is not (wiring kinds are
/// checked against the grants elsewhere).
fn wrong_value(kind: &Kind, arg: &Arg) -> Option<String> {
    let key = &arg.key.value;
    let text = &arg.value.value;
    let shown = match arg.toml {
        ArgType::String => format!("\"{text}\""),
        _ => text.clone(),
    };
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match kind {
        Kind::Text | Kind::Wiring(_) => None,
        Kind::Count => (arg.toml == ArgType::Boolean || !digits || text.parse::<u64>().is_err())
            .then(|| format!("`{key}` = {shown} is not a count: write a whole number, 0 or more")),
        Kind::Port => match text.parse::<u32>() {
            Ok(1..=65535) if digits && arg.toml != ArgType::Boolean => None,
            _ => Some(format!(
                "`{key}` = {shown} is not a port: ports are 1-65535"
            )),
        },
        Kind::Size => match arg.toml {
            ArgType::String => size::parse(text).err().map(|e| format!("`{key}`: {e}")),
            ArgType::Integer if digits => None,
            _ => Some(format!(
                "`{key}` = {shown} is not a size: write a number of bytes, or KiB, MiB or GiB, e.g. \"8 KiB\""
            )),
        },
        Kind::Words(words) => {
            if words.iter().any(|w| w == text) {
                return None;
            }
            let choices: Vec<String> = words.iter().map(|w| format!("\"{w}\"")).collect();
            let choices = match choices.as_slice() {
                [one] => one.clone(),
                [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
                [] => String::new(),
            };
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            let hint = suggest(text, &refs)
                .map(|s| format!(" (did you mean \"{s}\"?)"))
                .unwrap_or_default();
            Some(format!("`{key}` = {shown}: use {choices}{hint}"))
        }
    }
}

/// The declaration of `key` among `decls`: an exact one, else the first
/// family it belongs to, with the hole's text.
fn find<'d, 'k>(decls: &[&'d ArgDecl], key: &'k str) -> Option<(&'d ArgDecl, Option<&'k str>)> {
    decls
        .iter()
        .find(|d| d.key == Key::Exact(key.to_string()))
        .map(|d| (*d, None))
        .or_else(|| {
            decls
                .iter()
                .find_map(|d| d.key.hole(key).map(|hole| (*d, Some(hole))))
        })
}

/// Checks component `c`'s `[args]` against the declaration of its binary
/// (`decls`); `regions` are system.toml's (`None` when it could not be
/// read).
pub fn check(
    report: &mut Report,
    c: &ComponentFile,
    regions: Option<&[RegionDecl]>,
    decls: &Declarations,
) {
    let Some(binary) = &c.binary else {
        return;
    };
    let bin = &binary.value;
    let declared = match (decls.binaries.get(bin), c.args.first()) {
        (
            Some(Binary {
                args: Some(args),
                source,
            }),
            _,
        ) => (args, source),
        // Nothing given, nothing taken.
        (_, None) => return,
        (Some(Binary { args: None, source }), Some(first)) => {
            report.error(
                &first.key.loc,
                format!(
                    "binary `{bin}` declares no arguments: list those it reads under \
                     [package.metadata.basalt.args] in {source} (docs/config.md)"
                ),
            );
            return;
        }
        (None, Some(first)) => {
            report.error(
                &first.key.loc,
                format!(
                    "no crate of the workspace builds binary `{bin}`, so nothing declares the arguments \
                     it takes: declare them under [package.metadata.basalt.args] in its crate's \
                     Cargo.toml (docs/config.md)"
                ),
            );
            return;
        }
    };
    let (args, source) = declared;
    let all: Vec<&ArgDecl> = args.iter().chain(&decls.common).collect();
    let grants = Grants::of(c, regions);
    // A wiring argument `[args]` is silent on binds the grant of its own
    // name, which must be there.
    for decl in args {
        let (Some(w), Key::Exact(key)) = (decl.required_wiring(), &decl.key) else {
            continue;
        };
        if c.args.iter().any(|a| a.key.value == *key) {
            continue;
        }
        if let Some(why) = not_granted(&grants, w, key, &c.name) {
            report.error(
                &binary.loc,
                format!(
                    "binary `{bin}` takes {} argument `{key}` ({source}): name one in [args] \
                     (`{key} = \"...\"`), or grant one named `{key}`: {why}",
                    w.name()
                ),
            );
        }
    }
    for arg in &c.args {
        let key = arg.key.value.as_str();
        let Some((decl, hole)) = find(&all, key) else {
            // Candidates: the exact keys, and each family filled in with
            // what the component is granted.
            let mut candidates: Vec<String> = Vec::new();
            for d in &all {
                match &d.key {
                    Key::Exact(k) => candidates.push(k.clone()),
                    Key::Family {
                        prefix,
                        hole: Some(w),
                        suffix,
                    } => {
                        for n in grants.of_kind(*w).unwrap_or_default() {
                            candidates.push(format!("{prefix}{n}{suffix}"));
                        }
                    }
                    Key::Family { .. } => {}
                }
            }
            let refs: Vec<&str> = candidates.iter().map(String::as_str).collect();
            let hint = suggest(key, &refs)
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            let quoted = |ds: &[ArgDecl]| -> String {
                let keys: Vec<String> = ds.iter().map(|d| format!("`{}`", d.key.show())).collect();
                keys.join(", ")
            };
            let every = quoted(&decls.common);
            let takes = if args.is_empty() {
                format!("binary `{bin}` declares none ({source}); every component takes {every}")
            } else {
                format!(
                    "binary `{bin}` takes {} ({source}) and {every} (every component)",
                    quoted(args)
                )
            };
            report.error(
                &arg.key.loc,
                format!("unknown argument `{key}`: {takes}{hint}"),
            );
            continue;
        };
        if let (Some(hole), Key::Family { hole: Some(w), .. }) = (hole, &decl.key)
            && let Some(why) = not_granted(&grants, *w, hole, &c.name)
        {
            report.error(
                &arg.key.loc,
                format!("argument `{key}` ({}): {why}", decl.key.show()),
            );
        }
        match &decl.kind {
            Kind::Wiring(w) => {
                if let Some(why) = not_granted(&grants, *w, &arg.value.value, &c.name) {
                    report.error(&arg.value.loc, why);
                }
            }
            kind => {
                if let Some(why) = wrong_value(kind, arg) {
                    report.error(&arg.value.loc, why);
                }
            }
        }
    }
}
