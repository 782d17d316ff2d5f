//! Device interrupts for user-space drivers. An IRQ handler capability is
//! bound to a notification; each interrupt signals the notification.
//!
//! Lines `0 .. IOAPIC_LINES` are the IOAPIC's: ISA IRQ `n` arrives on
//! vector `IRQ_BASE + n`, routed through the IOAPIC with the MADT's
//! interrupt source overrides (GSI, polarity, trigger); each interrupt
//! masks its line and the driver's acknowledgement unmasks it again.
//!
//! Lines `IOAPIC_LINES .. IRQ_LINES` are message-signalled (MSI, MSI-X):
//! a device writes [`msi_message`]'s data to its address, which raises
//! vector `IRQ_BASE + line` on the boot CPU. Such an interrupt is an
//! edge, so nothing is masked; the device masks its own messages if it
//! must.

use super::acpi::InterruptOverride;
use super::apic;
use super::ioapic::IoApic;
use crate::object::objref::NotificationRef;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;

/// Vector of ISA IRQ 0.
pub const IRQ_BASE: u8 = 0x30;
/// Lines routed through the IOAPIC.
pub const IOAPIC_LINES: usize = 24;
/// Message-signalled lines, after the IOAPIC's.
pub const MSI_LINES: usize = 16;
/// IRQ lines user space can have handlers for: vectors `IRQ_BASE ..
/// IRQ_BASE + IRQ_LINES` (0x30 … 0x57).
pub const IRQ_LINES: usize = IOAPIC_LINES + MSI_LINES;

/// Where a message-signalled interrupt is written: the local APICs'
/// window (destination APIC id in bits 12-19, physical mode, fixed).
const MSI_ADDRESS: u64 = 0xfee0_0000;

/// Whether `line` is message-signalled.
pub fn is_msi(line: u8) -> bool {
    (IOAPIC_LINES..IRQ_LINES).contains(&usize::from(line))
}

/// The address and data a device writes to raise message-signalled
/// `line` on the boot CPU (edge-triggered, fixed delivery); `None` for an
/// IOAPIC line, or when the boot CPU's APIC id does not fit the address
/// (above 255, which needs interrupt remapping).
pub fn msi_message(line: u8) -> Option<(u64, u64)> {
    let id = apic::id();
    if !is_msi(line) || id > 0xff {
        return None;
    }
    Some((
        MSI_ADDRESS | u64::from(id) << 12,
        u64::from(IRQ_BASE + line),
    ))
}

/// Where a line's interrupts go.
#[derive(Clone, Copy)]
struct Line {
    notification: Option<NotificationRef>,
    badge: u64,
}

impl Line {
    const UNBOUND: Line = Line {
        notification: None,
        badge: 0,
    };
}

struct Controller {
    ioapic: IoApic,
    gsi_base: u32,
    inputs: u32,
    overrides: [Option<InterruptOverride>; 16],
    apic_id: u32,
}

static CONTROLLER: Once<Controller> = Once::new();

/// Takes over the (first) IOAPIC for device interrupts.
pub fn init(ioapic: IoApic, gsi_base: u32, overrides: &[InterruptOverride], apic_id: u32) {
    let inputs = ioapic.inputs();
    let mut table = [None; 16];
    for o in overrides {
        if let Some(slot) = table.get_mut(usize::from(o.isa_irq)) {
            *slot = Some(*o);
        }
    }
    CONTROLLER.call_once(|| Controller {
        ioapic,
        gsi_base,
        inputs,
        overrides: table,
        apic_id,
    });
}

/// The IOAPIC input, polarity and trigger mode of ISA IRQ `irq` (`None`
/// for a message-signalled line).
fn wiring(c: &Controller, irq: u8) -> Option<(u32, bool, bool)> {
    if usize::from(irq) >= IOAPIC_LINES {
        return None;
    }
    let (gsi, low, level) = match c.overrides.get(usize::from(irq)).copied().flatten() {
        Some(o) => (o.gsi, o.active_low, o.level_triggered),
        None if irq < 16 => (u32::from(irq), false, false),
        // Lines above the ISA range are PCI: level-triggered, active low.
        None => (u32::from(irq), true, true),
    };
    let input = gsi.checked_sub(c.gsi_base).filter(|&i| i < c.inputs)?;
    Some((input, low, level))
}

/// The lines as the kernel state ([`super::state::Kernel`]) holds them:
/// where each one's interrupts go, and which have a handler capability.
pub struct Lines {
    lines: [Line; IRQ_LINES],
    /// Bit per line: a handler capability was issued for it.
    issued: u64,
}

const _: () = assert!(IRQ_LINES <= 64);

impl Default for Lines {
    fn default() -> Self {
        Self::new()
    }
}

impl Lines {
    /// No line bound, none issued.
    pub const fn new() -> Self {
        Self {
            lines: [Line::UNBOUND; IRQ_LINES],
            issued: 0,
        }
    }

    /// Delivers `irq` as a signal of `badge` on `notification`, and
    /// unmasks it. False if the line does not exist here.
    pub fn bind(&mut self, irq: u8, notification: NotificationRef, badge: u64) -> bool {
        let line = Line {
            notification: Some(notification),
            badge,
        };
        if is_msi(irq) {
            self.lines[usize::from(irq)] = line;
            return true;
        }
        let Some(c) = CONTROLLER.get() else {
            return false;
        };
        let Some((input, low, level)) = wiring(c, irq) else {
            return false;
        };
        self.lines[usize::from(irq)] = line;
        c.ioapic
            .route(input, IRQ_BASE + irq, c.apic_id, low, level, false);
        true
    }

    /// The driver handled the interrupt: unmask the line, if it is bound
    /// to a notification (an unbound line stays masked). A
    /// message-signalled line is never masked.
    pub fn ack(&self, irq: u8) {
        let bound = self
            .lines
            .get(usize::from(irq))
            .is_some_and(|l| l.notification.is_some());
        if !is_msi(irq) && bound {
            set_masked(irq, false);
        }
    }

    /// Stops delivering `irq`: masked, notification forgotten.
    pub fn unbind(&mut self, irq: u8) {
        set_masked(irq, true);
        if let Some(line) = self.lines.get_mut(usize::from(irq)) {
            *line = Line::UNBOUND;
        }
    }

    /// Claims `line` for a new handler capability: false if it has one
    /// already (there is one handler capability per line).
    pub fn claim(&mut self, line: u8) -> bool {
        let bit = 1u64 << line;
        let free = self.issued & bit == 0;
        self.issued |= bit;
        free
    }

    /// Claims the first message-signalled line without a handler
    /// capability.
    pub fn claim_msi(&mut self) -> Option<u8> {
        (IOAPIC_LINES as u8..IRQ_LINES as u8).find(|&line| self.claim(line))
    }

    /// The line's handler capability is gone: the line stops and can be
    /// issued again.
    pub fn release(&mut self, line: u8) {
        self.unbind(line);
        self.issued &= !(1u64 << line);
    }

    /// A notification is going away: lines that signal it stop.
    pub fn forget_notification(&mut self, notification: NotificationRef) {
        for irq in 0..IRQ_LINES as u8 {
            if self.lines[usize::from(irq)].notification == Some(notification) {
                self.unbind(irq);
            }
        }
    }

    /// The signals the lines that interrupted since the last call owe:
    /// (notification, badge) of each bound one.
    pub fn take_arrived(&self) -> impl Iterator<Item = (NotificationRef, u64)> + '_ {
        let arrived = ARRIVED.swap(0, Ordering::Acquire);
        (0..IRQ_LINES)
            .filter(move |&i| arrived & (1 << i) != 0)
            .filter_map(|i| self.lines[i].notification.map(|n| (n, self.lines[i].badge)))
    }
}

/// Masks or unmasks `irq`.
fn set_masked(irq: u8, masked: bool) {
    if let Some(c) = CONTROLLER.get()
        && let Some((input, ..)) = wiring(c, irq)
    {
        c.ioapic.set_masked(input, masked);
    }
}

/// Lines that interrupted and whose signals are not delivered yet (bit
/// per line): how an interrupt hands its line to the holder of the kernel
/// state without touching the state.
static ARRIVED: AtomicU64 = AtomicU64::new(0);

/// An interrupt on `vector` (an IRQ vector): mask an IOAPIC line until
/// the driver acknowledges it, record the line for delivery
/// ([`Lines::take_arrived`]), end the interrupt.
pub fn arrived(vector: u8) {
    let irq = vector - IRQ_BASE;
    if !is_msi(irq) {
        set_masked(irq, true);
    }
    ARRIVED.fetch_or(1 << irq, Ordering::Release);
    apic::end_of_interrupt();
}

/// Whether `vector` is a device interrupt vector.
pub fn is_irq_vector(vector: u64) -> bool {
    (u64::from(IRQ_BASE)..u64::from(IRQ_BASE) + IRQ_LINES as u64).contains(&vector)
}
