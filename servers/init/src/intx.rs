//! A PCI function's legacy interrupt (INTx), for a driver whose device
//! has neither MSI nor MSI-X (`interrupt = "any"`): the function's
//! Interrupt Pin, routed by the firmware's AML (`basalt-aml`, on the
//! kernel's copy of the DSDT and SSDTs) to a GSI, which is the kernel's
//! IRQ line of that number.
//!
//! The kernel numbers lines as the first IOAPIC's inputs: 0-15 are ISA
//! IRQs (the MADT's interrupt source overrides set their GSI, trigger
//! and polarity), 16-23 are PCI's GSIs, level-triggered and active low.
//! A GSI past 23 (a second IOAPIC) has no line.

use crate::pci::{Config, Function};
use alloc::format;
use alloc::string::String;
use aml::resource::Interrupt;
use aml::routing::{self, Router};
use aml::{Host, Tables};
use basalt_abi::boot_info::BootInfo;
use libcap::println;

/// Kernel IRQ lines the IOAPIC's first inputs give.
const LINES: u32 = 24;

/// Init's configuration ports, as the AML interpreter's window on PCI.
pub struct Ports<'a>(&'a Config);

impl Host for Ports<'_> {
    fn pci_read(&self, bus: u8, device: u8, function: u8, offset: u16) -> u8 {
        let f = Function {
            bus,
            device,
            function,
        };
        match u8::try_from(offset) {
            Ok(offset) => self.0.read_byte(f, offset).unwrap_or(0xff),
            // Past the legacy 256 bytes, which the ports reach.
            Err(_) => 0xff,
        }
    }
}

/// The routing the firmware's tables describe, made on first use.
pub struct Routing<'a> {
    config: &'a Config,
    boot: &'static BootInfo,
    router: Option<Result<Router<Ports<'a>>, String>>,
}

/// The interrupt a function was found to have.
pub enum Found {
    /// It has an MSI or MSI-X capability.
    Msi,
    /// Its pin's line: kernel line `line`, as the firmware routes it.
    Line { line: u8, pin: u8, route: Interrupt },
}

impl<'a> Routing<'a> {
    pub fn new(config: &'a Config, boot: &'static BootInfo) -> Self {
        Self {
            config,
            boot,
            router: None,
        }
    }

    /// What `f` interrupts through, or why it cannot.
    pub fn find(&mut self, f: Function) -> Result<Found, String> {
        let read = |offset| {
            self.config
                .read_byte(f, offset)
                .map_err(|e| format!("its configuration space cannot be read: {e:?}"))
        };
        if self.config.has_msi(f).unwrap_or(false) {
            return Ok(Found::Msi);
        }
        let pin = read(0x3d)?;
        if pin == 0 {
            return Err(String::from("it has neither MSI nor an interrupt pin"));
        }
        let router = self.router()?;
        let route = router
            .route(
                routing::Function {
                    bus: f.bus,
                    device: f.device,
                    function: f.function,
                },
                pin,
            )
            .map_err(|e| format!("the firmware does not route its INT{}: {e}", pin_name(pin)))?;
        if route.gsi >= LINES {
            return Err(format!(
                "its INT{} goes to GSI {}, past the first IOAPIC's {LINES} inputs",
                pin_name(pin),
                route.gsi
            ));
        }
        Ok(Found::Line {
            line: route.gsi as u8,
            pin,
            route,
        })
    }

    fn router(&mut self) -> Result<&mut Router<Ports<'a>>, String> {
        let (config, boot) = (self.config, self.boot);
        self.router
            .get_or_insert_with(|| make_router(config, boot))
            .as_mut()
            .map_err(|e| e.clone())
    }
}

/// Loads the kernel's copy of the tables and asks for the APIC model.
fn make_router<'a>(
    config: &'a Config,
    boot: &'static BootInfo,
) -> Result<Router<Ports<'a>>, String> {
    let copy = boot.acpi;
    if copy.size == 0 {
        return Err(String::from("the firmware has no DSDT"));
    }
    // SAFETY: the kernel maps its copy of the tables read-only at
    // `address`, `size` bytes, for init's lifetime, and nothing writes it.
    let bytes =
        unsafe { core::slice::from_raw_parts(copy.address as *const u8, copy.size as usize) };
    let tables = Tables::split(bytes).map_err(|e| format!("the ACPI tables: {e}"))?;
    let loaded = tables
        .load(Ports(config))
        .map_err(|e| format!("the DSDT: {e}"))?;
    for (i, e) in &loaded.failed {
        println!("init: ACPI table {i} (an SSDT) left out: {e}");
    }
    Router::new(loaded.aml).map_err(|e| format!("{e}"))
}

/// `A` … `D` for pins 1-4.
pub fn pin_name(pin: u8) -> char {
    char::from(b'A' + pin.saturating_sub(1).min(25))
}
