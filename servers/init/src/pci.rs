//! PCI: init finds the functions the config names (by vendor and device
//! ID) through the legacy configuration ports and hands their memory BARs
//! and their page of ECAM configuration space to the component that drives
//! them, as frames carved from the device untyped memory the kernel gave
//! it. The ports stay init's: they reach every function.

use crate::space::{CNODE, IO_PORT_CONTROL, Space};
use alloc::vec::Vec;
use basalt_abi::ObjectType;
use basalt_abi::boot_info::{BootInfo, slot};
use libcap::{Error, IoPorts, Untyped};

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
const PAGE: u64 = 4096;

/// A PCI function's address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub bus: u8,
    pub device: u8,
    pub function: u8,
}

/// A memory BAR: where it is and how big (rounded up to whole pages).
#[derive(Clone, Copy, Debug)]
pub struct Bar {
    pub index: u8,
    pub address: u64,
    pub size: u64,
}

/// The configuration-space ports, issued to init itself.
pub struct Config {
    ports: IoPorts,
}

impl Config {
    pub fn new(space: &mut Space) -> Result<Self, Error> {
        let slot = space.slot()?;
        let ports = IO_PORT_CONTROL.issue(
            u64::from(CONFIG_ADDRESS),
            u64::from(CONFIG_DATA) + 3,
            CNODE,
            slot,
        )?;
        Ok(Self { ports })
    }

    fn select(&self, f: Function, offset: u8) -> Result<(), Error> {
        let address = 0x8000_0000
            | u32::from(f.bus) << 16
            | u32::from(f.device) << 11
            | u32::from(f.function) << 8
            | u32::from(offset & 0xfc);
        self.ports.write_u32(CONFIG_ADDRESS, address)
    }

    fn read(&self, f: Function, offset: u8) -> Result<u32, Error> {
        self.select(f, offset)?;
        self.ports.read_u32(CONFIG_DATA)
    }

    /// One byte of `f`'s configuration space.
    pub fn read_byte(&self, f: Function, offset: u8) -> Result<u8, Error> {
        Ok((self.read(f, offset)? >> (8 * (offset & 3))) as u8)
    }

    /// Whether `f` lists an MSI or MSI-X capability.
    pub fn has_msi(&self, f: Function) -> Result<bool, Error> {
        const CAPABILITIES: u32 = 1 << 20;
        if self.read(f, 0x04)? & CAPABILITIES == 0 {
            return Ok(false);
        }
        let mut next = self.read_byte(f, 0x34)? & 0xfc;
        // At most 48 capabilities fit in the 192 bytes after the header:
        // a list that loops ends there.
        for _ in 0..48 {
            if next == 0 {
                break;
            }
            let header = self.read(f, next)?;
            if matches!(header & 0xff, 0x05 | 0x11) {
                return Ok(true);
            }
            next = (header >> 8) as u8 & 0xfc;
        }
        Ok(false)
    }

    fn write(&self, f: Function, offset: u8, value: u32) -> Result<(), Error> {
        self.select(f, offset)?;
        self.ports.write_u32(CONFIG_DATA, value)
    }

    /// The first function with these IDs.
    pub fn find(&self, vendor: u16, device: u16) -> Result<Option<Function>, Error> {
        for bus in 0..=255u8 {
            for dev in 0..32u8 {
                let f0 = Function {
                    bus,
                    device: dev,
                    function: 0,
                };
                let id = self.read(f0, 0)?;
                if id & 0xffff == 0xffff {
                    continue;
                }
                let multi = self.read(f0, 0x0c)? >> 16 & 0x80 != 0;
                for function in 0..if multi { 8 } else { 1 } {
                    let f = Function {
                        bus,
                        device: dev,
                        function,
                    };
                    let id = self.read(f, 0)?;
                    if id & 0xffff == u32::from(vendor) && id >> 16 == u32::from(device) {
                        return Ok(Some(f));
                    }
                }
            }
        }
        Ok(None)
    }

    /// The function's memory BARs, sized the standard way (write all ones,
    /// read back the mask) with memory decoding off meanwhile.
    pub fn memory_bars(&self, f: Function) -> Result<Vec<Bar>, Error> {
        let command = self.read(f, 0x04)?;
        self.write(f, 0x04, command & !0x2)?;
        let mut bars = Vec::new();
        let mut i = 0u8;
        while i < 6 {
            let offset = 0x10 + 4 * i;
            let low = self.read(f, offset)?;
            if low & 1 != 0 {
                i += 1; // an I/O BAR
                continue;
            }
            let wide = (low >> 1) & 3 == 2;
            self.write(f, offset, u32::MAX)?;
            let mask_low = self.read(f, offset)? & !0xf;
            self.write(f, offset, low)?;
            let (high, mask_high) = if wide {
                let high = self.read(f, offset + 4)?;
                self.write(f, offset + 4, u32::MAX)?;
                let mask = self.read(f, offset + 4)?;
                self.write(f, offset + 4, high)?;
                (high, mask)
            } else {
                (0, u32::MAX)
            };
            let mask = u64::from(mask_high) << 32 | u64::from(mask_low);
            if mask_low != 0 {
                let size = (!mask).wrapping_add(1);
                let address = u64::from(high) << 32 | u64::from(low & !0xf);
                bars.push(Bar {
                    index: i,
                    address,
                    size: size.div_ceil(PAGE) * PAGE,
                });
            }
            i += if wide { 2 } else { 1 };
        }
        self.write(f, 0x04, command | 0x2)?;
        Ok(bars)
    }
}

/// One device untyped block and how far init has carved it.
#[derive(Clone, Copy)]
struct Block {
    slot: u64,
    base: u64,
    bits: u8,
    used: u64,
}

/// The device memory the kernel gave init, carved in address order.
pub struct DeviceMemory {
    blocks: Vec<Block>,
}

impl DeviceMemory {
    pub fn new(boot: &BootInfo) -> Self {
        let count = (boot.untyped_count as usize).min(boot.untyped.len());
        let blocks = boot.untyped[..count]
            .iter()
            .enumerate()
            .filter(|(_, u)| u.is_device != 0)
            .map(|(i, u)| Block {
                slot: slot::FIRST_UNTYPED + i as u64,
                base: u.physical_address,
                bits: u.size_bits,
                used: 0,
            })
            .collect();
        Self { blocks }
    }

    /// Frame capabilities (root slots) covering `[address, address + size)`.
    /// The memory before it in its block is split off as device untyped
    /// that init keeps, so the frames land at exactly these addresses.
    /// Ranges must be asked for in increasing address order per block.
    pub fn frames(
        &mut self,
        space: &mut Space,
        address: u64,
        size: u64,
    ) -> Result<Vec<u64>, Error> {
        // Small BARs need not start on a page: take the pages around them.
        let (address, size) = (
            address & !(PAGE - 1),
            (address + size).next_multiple_of(PAGE) - (address & !(PAGE - 1)),
        );
        let b = self
            .blocks
            .iter_mut()
            .find(|b| b.base <= address && address + size <= b.base + (1 << b.bits))
            .ok_or(Error::RangeError)?;
        let offset = address - b.base;
        if offset < b.used {
            return Err(Error::AlreadyMapped);
        }
        // Skip [used, offset) with naturally aligned device-untyped pieces.
        while b.used < offset {
            let align = b.used.trailing_zeros().min(63);
            let fit = 63 - (offset - b.used).leading_zeros();
            let bits = align.min(fit) as u8;
            let s = space.slot()?;
            Untyped::from_raw(b.slot).retype(ObjectType::Untyped, u64::from(bits), 1, CNODE, s)?;
            b.used += 1 << bits;
        }
        let mut frames = Vec::new();
        for _ in 0..size / PAGE {
            let s = space.slot()?;
            Untyped::from_raw(b.slot).retype(ObjectType::Frame4K, 0, 1, CNODE, s)?;
            b.used += PAGE;
            frames.push(s);
        }
        Ok(frames)
    }
}
