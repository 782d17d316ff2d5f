//! PCI configuration space through the legacy configuration ports: the
//! address goes to 0xcf8, the 32-bit register is read or written at 0xcfc
//! (configuration mechanism #1). The component is granted the ports as a
//! device (`kind = "io-ports"`, `first = 0xcf8`, `last = 0xcff`).
//!
//! And the MSI-X capability ([`Msix`]): where a function's table of
//! interrupt messages lies, how to fill an entry and turn MSI-X on.

use core::ptr::NonNull;
use libcap::MsiMessage;
use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction, PciRoot};

/// The configuration-address port.
pub const CONFIG_ADDRESS: u16 = 0xcf8;
/// The configuration-data port.
pub const CONFIG_DATA: u16 = 0xcfc;

/// The value written to [`CONFIG_ADDRESS`] to select a register: the
/// enable bit, bus, device, function and the dword-aligned offset.
///
/// ```
/// use virtio_pci::pci::config_address;
/// use virtio_drivers::transport::pci::bus::DeviceFunction;
/// let f = DeviceFunction { bus: 0, device: 3, function: 0 };
/// assert_eq!(config_address(f, 0x10), 0x8000_1810);
/// ```
pub fn config_address(f: DeviceFunction, offset: u8) -> u32 {
    0x8000_0000
        | u32::from(f.bus) << 16
        | u32::from(f.device & 0x1f) << 11
        | u32::from(f.function & 0x7) << 8
        | u32::from(offset & 0xfc)
}

/// 32-bit port accesses: [`libcap::IoPorts`] on Basalt, a fake in tests.
pub trait Ports {
    /// Reads 32 bits from `port` (all ones when the access fails, as for
    /// an absent function).
    fn read_u32(&self, port: u16) -> u32;
    /// Writes 32 bits to `port`.
    fn write_u32(&self, port: u16, value: u32);
}

impl Ports for libcap::IoPorts {
    fn read_u32(&self, port: u16) -> u32 {
        libcap::IoPorts::read_u32(*self, port).unwrap_or(u32::MAX)
    }

    fn write_u32(&self, port: u16, value: u32) {
        if let Err(e) = libcap::IoPorts::write_u32(*self, port, value) {
            log::error!("out {port:#x}: {e:?}");
        }
    }
}

/// Configuration space over the legacy ports, for
/// [`virtio_drivers::transport::pci::bus::PciRoot`].
#[derive(Clone, Copy, Debug)]
pub struct PortCam<P> {
    ports: P,
}

impl<P: Ports> PortCam<P> {
    /// Configuration access through `ports` (which must cover 0xcf8-0xcff).
    pub const fn new(ports: P) -> Self {
        Self { ports }
    }
}

impl<P: Ports + Copy> ConfigurationAccess for PortCam<P> {
    fn read_word(&self, f: DeviceFunction, offset: u8) -> u32 {
        self.ports
            .write_u32(CONFIG_ADDRESS, config_address(f, offset));
        self.ports.read_u32(CONFIG_DATA)
    }

    fn write_word(&mut self, f: DeviceFunction, offset: u8, data: u32) {
        self.ports
            .write_u32(CONFIG_ADDRESS, config_address(f, offset));
        self.ports.write_u32(CONFIG_DATA, data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        *self
    }
}

/// The MSI-X capability's ID.
const CAP_MSIX: u8 = 0x11;
/// Message control: MSI-X enable, function mask.
const MSIX_ENABLE: u32 = 1 << 15;
const MSIX_FUNCTION_MASK: u32 = 1 << 14;
/// Bytes of an MSI-X table entry.
pub const MSIX_ENTRY_BYTES: usize = 16;

/// A function's MSI-X capability.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Msix {
    /// Where the capability is in configuration space.
    offset: u8,
    /// The BAR that holds the table.
    pub table_bar: u8,
    /// The table's offset in that BAR.
    pub table_offset: u32,
    /// Entries in the table.
    pub entries: u16,
}

impl Msix {
    /// The MSI-X capability of `f`, if it has one; `cam` reads what the
    /// capability list does not carry.
    pub fn find<C: ConfigurationAccess>(
        root: &PciRoot<C>,
        cam: &C,
        f: DeviceFunction,
    ) -> Option<Self> {
        let cap = root.capabilities(f).find(|c| c.id == CAP_MSIX)?;
        let table = cam.read_word(f, cap.offset + 4);
        Some(Self {
            offset: cap.offset,
            table_bar: (table & 7) as u8,
            table_offset: table & !7,
            entries: (cap.private_header & 0x7ff) + 1,
        })
    }

    /// Turns MSI-X on for `f` (and with it INTx off), no longer masking
    /// the whole function: entries that are unmasked may fire.
    pub fn enable<C: ConfigurationAccess>(&self, cam: &mut C, f: DeviceFunction) {
        let header = cam.read_word(f, self.offset);
        let control = (header >> 16 | MSIX_ENABLE) & !MSIX_FUNCTION_MASK;
        cam.write_word(f, self.offset, (header & 0xffff) | control << 16);
    }
}

/// Fills entry `entry` of the MSI-X table at `table` with `message` and
/// unmasks it.
///
/// # Safety
///
/// `table` maps the function's MSI-X table (uncached) with at least
/// `entry + 1` entries, and nothing else writes that entry.
///
/// ```
/// let mut table = [0u32, 0, 0, 1, 0, 0, 0, 1]; // two masked entries
/// let message = libcap::MsiMessage { address: 0xfee0_0000, data: 0x48 };
/// let at = core::ptr::NonNull::new(table.as_mut_ptr()).unwrap();
/// // SAFETY: a table of two entries in this program's memory.
/// unsafe { virtio_pci::pci::write_msix_entry(at, 1, message) };
/// assert_eq!(table, [0, 0, 0, 1, 0xfee0_0000, 0, 0x48, 0]);
/// ```
pub unsafe fn write_msix_entry(table: NonNull<u32>, entry: usize, message: MsiMessage) {
    // SAFETY: the caller's contract: the entry's four words are mapped and
    // ours. The entry is masked (its reset state, or cleared by the
    // writes before) until the last write unmasks it.
    unsafe {
        let words = table.as_ptr().add(entry * MSIX_ENTRY_BYTES / 4);
        words.add(3).write_volatile(1);
        words.write_volatile(message.address as u32);
        words.add(1).write_volatile((message.address >> 32) as u32);
        words.add(2).write_volatile(message.data);
        words.add(3).write_volatile(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use virtio_drivers::transport::pci::bus::PciRoot;

    /// A bus with one function: registers by (address with offset).
    #[derive(Default)]
    struct Bus {
        selected: Cell<u32>,
        registers: RefCell<HashMap<u32, u32>>,
    }

    #[derive(Clone, Copy)]
    struct Fake(&'static Bus);

    impl Ports for Fake {
        fn read_u32(&self, port: u16) -> u32 {
            assert_eq!(port, CONFIG_DATA);
            let a = self.0.selected.get();
            *self.0.registers.borrow().get(&a).unwrap_or(&u32::MAX)
        }
        fn write_u32(&self, port: u16, value: u32) {
            if port == CONFIG_ADDRESS {
                self.0.selected.set(value);
            } else {
                assert_eq!(port, CONFIG_DATA);
                let a = self.0.selected.get();
                self.0.registers.borrow_mut().insert(a, value);
            }
        }
    }

    #[test]
    fn enumeration_finds_the_function_through_the_ports() {
        let bus: &'static Bus = Box::leak(Box::default());
        let f = DeviceFunction {
            bus: 0,
            device: 4,
            function: 0,
        };
        let base = config_address(f, 0);
        bus.registers.borrow_mut().insert(base, 0x1001_1af4);
        bus.registers.borrow_mut().insert(base + 8, 0x0100_0000);
        bus.registers.borrow_mut().insert(base + 0xc, 0);
        let root = PciRoot::new(PortCam::new(Fake(bus)));
        let found: Vec<_> = root.enumerate_bus(0).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].0, f);
        assert_eq!(
            (found[0].1.vendor_id, found[0].1.device_id),
            (0x1af4, 0x1001)
        );
    }

    #[test]
    fn the_msix_capability_is_found_and_enabled() {
        let bus: &'static Bus = Box::leak(Box::default());
        let f = DeviceFunction {
            bus: 0,
            device: 3,
            function: 0,
        };
        let base = config_address(f, 0);
        let mut regs = bus.registers.borrow_mut();
        regs.insert(base, 0x1042_1af4);
        // Status: a capability list, starting at 0x98.
        regs.insert(base + 4, 0x0010_0000);
        regs.insert(base + 0x34, 0x98);
        // A vendor capability, then MSI-X with 2 entries (control 1),
        // function masked, table at BAR1 offset 0.
        regs.insert(base + 0x98, 0x0010_8409);
        regs.insert(base + 0x84, 0x4001_0011);
        regs.insert(base + 0x88, 0x0000_0001);
        drop(regs);
        let mut cam = PortCam::new(Fake(bus));
        let root = PciRoot::new(cam);
        let msix = Msix::find(&root, &cam, f).unwrap();
        assert_eq!((msix.table_bar, msix.table_offset, msix.entries), (1, 0, 2));
        msix.enable(&mut cam, f);
        assert_eq!(bus.registers.borrow()[&(base + 0x84)], 0x8001_0011);
        let none = DeviceFunction {
            bus: 0,
            device: 4,
            function: 0,
        };
        bus.registers
            .borrow_mut()
            .insert(config_address(none, 4), 0);
        assert_eq!(Msix::find(&root, &cam, none), None);
    }

    #[test]
    fn writes_select_then_store() {
        let bus: &'static Bus = Box::leak(Box::default());
        let f = DeviceFunction {
            bus: 1,
            device: 2,
            function: 3,
        };
        let mut cam = PortCam::new(Fake(bus));
        cam.write_word(f, 0x13, 0xdead_beef);
        assert_eq!(cam.read_word(f, 0x10), 0xdead_beef);
        assert_eq!(bus.selected.get(), 0x8001_1310);
    }
}
