//! PCI configuration space through the legacy configuration ports: the
//! address goes to 0xcf8, the 32-bit register is read or written at 0xcfc
//! (configuration mechanism #1). The component is granted the ports as a
//! device (`kind = "io-ports"`, `first = 0xcf8`, `last = 0xcff`).

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

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
