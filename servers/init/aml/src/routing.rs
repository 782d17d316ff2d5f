//! A PCI function's INTx pin to the interrupt input it drives, as the
//! firmware says: `\_PIC(1)` (the APIC model), then the `_PRT` of the
//! bridge the function sits behind. A bridge the tables give no `_PRT`
//! swizzles the pin (PCI-to-PCI bridge specification: pin + device
//! number, modulo 4) and the lookup goes on at the bus above, up to the
//! host bridge. A `_PRT` entry names either a GSI directly or a link
//! device whose `_CRS` holds the interrupt.

use crate::interp::Interpreter;
use crate::name::{NameString, Path};
use crate::resource::{self, Interrupt};
use crate::value::Value;
use crate::{Error, Host};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// A PCI function's address on segment 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

impl fmt::Display for Function {
    /// `00:1f.2`, as `lspci` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.bus, self.device, self.function)
    }
}

/// Why a pin has no route.
#[derive(Debug)]
pub enum RouteError {
    /// The pin is not INTA … INTD (1-4).
    NoPin(u8),
    /// No PCI host bridge (`PNP0A03`/`PNP0A08`) for bus 0 in `\_SB`.
    NoHostBridge,
    /// No bridge on the way from bus 0 reaches the function's bus.
    NoBridgeTo(u8),
    /// Neither the function's bus nor any above it has a `_PRT`.
    NoTable(Function),
    /// The `_PRT` at `table` has no entry for the device and pin.
    NoEntry { table: String, device: u8, pin: u8 },
    /// An entry or a link device's `_CRS` is not what ACPI defines.
    Malformed(String),
    /// Evaluating the AML failed.
    Aml(Error),
}

impl From<Error> for RouteError {
    fn from(e: Error) -> Self {
        Self::Aml(e)
    }
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoPin(p) => write!(f, "interrupt pin {p} is not INTA-INTD"),
            Self::NoHostBridge => {
                f.write_str("the ACPI tables describe no PCI host bridge for bus 0")
            }
            Self::NoBridgeTo(bus) => write!(f, "no PCI bridge leads to bus {bus}"),
            Self::NoTable(func) => {
                write!(f, "no _PRT covers {func} or any bus above it")
            }
            Self::NoEntry { table, device, pin } => write!(
                f,
                "{table} has no entry for device {device:#x} INT{}",
                char::from(b'A' + pin)
            ),
            Self::Malformed(what) => f.write_str(what),
            Self::Aml(e) => write!(f, "the firmware's AML: {e}"),
        }
    }
}

/// EISA IDs of PCI and PCI Express host bridges, as `EisaId` encodes
/// them.
const PNP0A03: u64 = 0x030a_d041;
const PNP0A08: u64 = 0x080a_d041;

/// Routes INTx pins with the firmware's tables.
pub struct Router<H: Host> {
    aml: Interpreter<H>,
    host_bridge: Path,
}

impl<H: Host> Router<H> {
    /// Tells the firmware the interrupt model is the APIC's (`\_PIC(1)`)
    /// and finds the host bridge of bus 0.
    pub fn new(mut aml: Interpreter<H>) -> Result<Self, RouteError> {
        let pic = Path::root().child(*b"_PIC");
        if aml.exists(&pic) {
            aml.evaluate(&pic, vec![Value::Integer(1)])?;
        }
        let host_bridge = Self::find_host_bridge(&mut aml)?;
        Ok(Self { aml, host_bridge })
    }

    /// The host bridge's path (`\_SB_.PCI0` on most machines).
    pub fn host_bridge(&self) -> &Path {
        &self.host_bridge
    }

    fn find_host_bridge(aml: &mut Interpreter<H>) -> Result<Path, RouteError> {
        for device in aml.devices_under(&Path::root().child(*b"_SB_")) {
            let mut bridge = false;
            for id in [*b"_HID", *b"_CID"] {
                bridge |= match aml.evaluate_if_present(&device.child(id))? {
                    Some(Value::Integer(i)) => i == PNP0A03 || i == PNP0A08,
                    Some(Value::String(s)) => s == "PNP0A03" || s == "PNP0A08",
                    _ => false,
                };
            }
            let zero = |v: Option<Value>| matches!(v, None | Some(Value::Integer(0)));
            if bridge
                && zero(aml.evaluate_if_present(&device.child(*b"_BBN"))?)
                && zero(aml.evaluate_if_present(&device.child(*b"_SEG"))?)
            {
                return Ok(device);
            }
        }
        Err(RouteError::NoHostBridge)
    }

    /// The interrupt input pin `pin` (1-4: INTA-INTD, as the function's
    /// Interrupt Pin register says) of `function` drives.
    pub fn route(&mut self, function: Function, pin: u8) -> Result<Interrupt, RouteError> {
        if !(1..=4).contains(&pin) {
            return Err(RouteError::NoPin(pin));
        }
        let bridges = self.bridges_to(function.bus)?;
        // The ACPI device of each bus on the way: the host bridge's for
        // bus 0, then each bridge's (by _ADR under the one above), while
        // the tables describe them.
        let mut nodes = vec![Some(self.host_bridge.clone())];
        for b in &bridges {
            let above = nodes.last().cloned().flatten();
            let node = match above {
                Some(above) => self.child_at(&above, b)?,
                None => None,
            };
            nodes.push(node);
        }
        let (mut device, mut pin) = (function.device, pin - 1);
        for level in (0..nodes.len()).rev() {
            if let Some(node) = &nodes[level] {
                let prt = node.child(*b"_PRT");
                if self.aml.exists(&prt) {
                    return self.lookup(&prt, device, pin);
                }
            }
            let Some(bridge) = level.checked_sub(1).map(|l| bridges[l]) else {
                break;
            };
            pin = (pin + device) % 4;
            device = bridge.device;
        }
        Err(RouteError::NoTable(function))
    }

    /// The bridges from bus 0 down to `bus`, found through configuration
    /// space (secondary and subordinate bus numbers).
    fn bridges_to(&self, bus: u8) -> Result<Vec<Function>, RouteError> {
        let mut chain = Vec::new();
        let mut current = 0u8;
        while current != bus {
            let next = self
                .bridges_on(current)
                .into_iter()
                .find(|&(_, secondary, subordinate)| {
                    secondary > current && (secondary..=subordinate).contains(&bus)
                })
                .ok_or(RouteError::NoBridgeTo(bus))?;
            chain.push(next.0);
            current = next.1;
        }
        Ok(chain)
    }

    /// The PCI-to-PCI bridges on `bus`: each with its secondary and
    /// subordinate bus numbers.
    fn bridges_on(&self, bus: u8) -> Vec<(Function, u8, u8)> {
        let host = self.aml.host();
        let mut found = Vec::new();
        for device in 0..32u8 {
            let functions = if host.pci_read(bus, device, 0, 0x0e) & 0x80 != 0 {
                8
            } else {
                1
            };
            for function in 0..functions {
                let vendor = u16::from(host.pci_read(bus, device, function, 0))
                    | u16::from(host.pci_read(bus, device, function, 1)) << 8;
                if vendor == 0xffff || host.pci_read(bus, device, function, 0x0e) & 0x7f != 1 {
                    continue;
                }
                let f = Function {
                    bus,
                    device,
                    function,
                };
                found.push((
                    f,
                    host.pci_read(bus, device, function, 0x19),
                    host.pci_read(bus, device, function, 0x1a),
                ));
            }
        }
        found
    }

    /// The device under `scope` whose `_ADR` is `f`'s device and function.
    fn child_at(&mut self, scope: &Path, f: &Function) -> Result<Option<Path>, RouteError> {
        let want = u64::from(f.device) << 16 | u64::from(f.function);
        for child in self.aml.devices_under(scope) {
            if let Some(Value::Integer(adr)) =
                self.aml.evaluate_if_present(&child.child(*b"_ADR"))?
                && adr == want
            {
                return Ok(Some(child));
            }
        }
        Ok(None)
    }

    /// `device`'s pin `pin` (0-3) in the table `prt`.
    fn lookup(&mut self, prt: &Path, device: u8, pin: u8) -> Result<Interrupt, RouteError> {
        let table = self.aml.evaluate(prt, Vec::new())?;
        let Value::Package(entries) = table else {
            return Err(RouteError::Malformed(format!("{prt} is not a package")));
        };
        let entries = entries.borrow().clone();
        for entry in entries {
            let Value::Package(fields) = entry else {
                return Err(RouteError::Malformed(format!(
                    "{prt} holds an entry that is not a package"
                )));
            };
            let fields = fields.borrow().clone();
            let [address, entry_pin, source, index] = fields.as_slice() else {
                return Err(RouteError::Malformed(format!(
                    "{prt} holds an entry of {} fields, not 4",
                    fields.len()
                )));
            };
            let (Value::Integer(address), Value::Integer(entry_pin)) = (address, entry_pin) else {
                return Err(RouteError::Malformed(format!(
                    "{prt} holds an entry whose address or pin is not an integer"
                )));
            };
            if *address >> 16 != u64::from(device) || *entry_pin != u64::from(pin) {
                continue;
            }
            return match source {
                Value::Integer(0) => {
                    let Value::Integer(gsi) = index else {
                        return Err(RouteError::Malformed(format!(
                            "{prt}: a GSI entry's source index is not an integer"
                        )));
                    };
                    // A hard-wired input: level-triggered, active low, as
                    // PCI interrupts are.
                    Ok(Interrupt {
                        gsi: *gsi as u32,
                        level: true,
                        active_low: true,
                    })
                }
                Value::Name { name, scope } => self.link(name, scope, prt),
                Value::String(s) => {
                    let mut r = crate::stream::Reader::new(s.as_bytes());
                    let name = r.name()?;
                    self.link(&name, &prt.parent(), prt)
                }
                _ => Err(RouteError::Malformed(format!(
                    "{prt}: an entry's source is neither 0 nor a name"
                ))),
            };
        }
        Err(RouteError::NoEntry {
            table: format!("{prt}"),
            device,
            pin,
        })
    }

    /// The interrupt a link device's `_CRS` holds.
    fn link(
        &mut self,
        name: &NameString,
        scope: &Path,
        prt: &Path,
    ) -> Result<Interrupt, RouteError> {
        let link = self.aml.lookup(name, scope).ok_or_else(|| {
            RouteError::Malformed(format!(
                "{prt} names a link device {} that does not exist",
                name.resolve(scope)
            ))
        })?;
        let crs = link.child(*b"_CRS");
        match self.aml.evaluate(&crs, Vec::new())? {
            Value::Buffer(b) => resource::first_interrupt(&b.borrow())
                .ok_or_else(|| RouteError::Malformed(format!("{crs} holds no interrupt"))),
            _ => Err(RouteError::Malformed(format!("{crs} is not a buffer"))),
        }
    }
}
