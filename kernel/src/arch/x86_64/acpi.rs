//! The static ACPI tables the kernel needs at boot: the MADT (local APICs,
//! IOAPICs, interrupt source overrides) and the MCFG (PCI Express ECAM,
//! whose segment-0 window the boot-info page passes on to the root task).
//! The AML tables (the DSDT and the SSDTs) are only found here:
//! the kernel copies them for the root task, which evaluates what it
//! needs of them (PCI interrupt routing) in user space.
//! Read through the `acpi` crate;
//! tables are reached through the direct map, so "mapping" is arithmetic.

use super::boot_info::AcpiRoot;
use super::layout::phys_to_virt;
use acpi::address::{AddressSpace, GenericAddress};
use acpi::sdt::madt::{Madt, MadtEntry};
use acpi::sdt::mcfg::Mcfg;
use acpi::sdt::spcr::{Spcr, SpcrInterfaceType};
use acpi::{AcpiError, AcpiTables, Handler, PciAddress, PhysicalMapping, RawPhysicalMapping};
use core::ptr::NonNull;
use x86_64::instructions::port::Port;

/// Fixed capacities: the kernel has no heap.
const MAX_CPUS: usize = 64;
const MAX_IOAPICS: usize = 8;
const MAX_OVERRIDES: usize = 24;
const MAX_ECAM: usize = 4;
/// The DSDT and up to 63 SSDTs.
const MAX_AML_TABLES: usize = 64;

/// A table the root task is given a copy of: where it is and how long.
#[derive(Clone, Copy, Debug, Default)]
pub struct TableRange {
    pub physical: u64,
    pub length: u32,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct IoApic {
    pub id: u8,
    pub address: u64,
    pub gsi_base: u32,
}

/// An ISA IRQ that is wired to a different GSI or with a different polarity
/// or trigger mode than the ISA default (edge, active high).
#[derive(Clone, Copy, Debug, Default)]
pub struct InterruptOverride {
    pub isa_irq: u8,
    pub gsi: u32,
    pub active_low: bool,
    pub level_triggered: bool,
}

/// One PCI Express configuration space window.
#[derive(Clone, Copy, Debug, Default)]
pub struct EcamRegion {
    pub base: u64,
    pub segment: u16,
    pub first_bus: u8,
    pub last_bus: u8,
}

/// A bounded list (the kernel has no heap); entries past the capacity are
/// counted in `dropped` and reported.
#[derive(Clone, Copy, Debug)]
pub struct List<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
    pub dropped: usize,
}

impl<T: Copy + Default, const N: usize> List<T, N> {
    fn new() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, item: T) {
        match self.items.get_mut(self.len) {
            Some(slot) => {
                *slot = item;
                self.len += 1;
            }
            None => self.dropped += 1,
        }
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }
}

/// What the firmware says about the interrupt hardware and PCI.
pub struct Platform {
    pub revision: u8,
    pub local_apic_address: u64,
    /// APIC ids of the usable CPUs.
    pub cpus: List<u32, MAX_CPUS>,
    pub ioapics: List<IoApic, MAX_IOAPICS>,
    pub overrides: List<InterruptOverride, MAX_OVERRIDES>,
    pub ecam: List<EcamRegion, MAX_ECAM>,
    /// The board also has the two legacy 8259 PICs (to be masked).
    pub has_legacy_pics: bool,
    /// The serial console the firmware's SPCR table names.
    pub spcr: Option<SpcrUart>,
    /// The DSDT and the SSDTs, in that order: the tables the root task
    /// gets copies of.
    pub aml_tables: List<TableRange, MAX_AML_TABLES>,
}

/// The UART an SPCR table describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpcrUart {
    /// A 16550-compatible UART at an I/O port, at this baud rate (0:
    /// 115200, GRUB's).
    Port { port: u16, baud: u32 },
    /// A memory-mapped 16550-compatible UART: a register every `stride`
    /// bytes from `address`, accessed as bytes or (`dword`) 32-bit words.
    Mmio {
        address: u64,
        stride: u8,
        dword: bool,
        baud: u32,
    },
    /// One the kernel does not drive (not a 16550, or registers it cannot
    /// reach): what the table says, for the log.
    Other { interface: u8, address: u64 },
}

/// The UART an SPCR table's interface type, base address and baud rate
/// (0: not given) describe. A 16550 (or 16450, or one "with parameters in
/// the GAS", or Intel's LPSS UART, a 16550 with 32-bit registers) at an
/// I/O port or in memory is driven; a memory-mapped one's register width
/// (8 or 32 bits) is its stride, and its access size (byte or dword; 0:
/// the register width) how it is read and written.
pub fn spcr_uart(interface: SpcrInterfaceType, base: GenericAddress, baud: u32) -> SpcrUart {
    let other = SpcrUart::Other {
        interface: interface_id(interface),
        address: base.address,
    };
    let lpss = matches!(interface, SpcrInterfaceType::IntelLPSS);
    if !lpss
        && !matches!(
            interface,
            SpcrInterfaceType::Full16550
                | SpcrInterfaceType::Full16450
                | SpcrInterfaceType::Generic16550
        )
    {
        return other;
    }
    match base.address_space {
        AddressSpace::SystemIo => u16::try_from(base.address)
            .ok()
            .filter(|&p| p != 0 && p <= 0xfff8)
            .map_or(other, |port| SpcrUart::Port { port, baud }),
        AddressSpace::SystemMemory if base.address != 0 => {
            let stride = match (base.bit_width, lpss) {
                (32, _) | (0, true) => 4,
                (8, false) | (0, false) => 1,
                _ => return other,
            };
            let dword = match base.access_size {
                3 => true,
                1 => false,
                0 => stride == 4,
                _ => return other,
            };
            SpcrUart::Mmio {
                address: base.address,
                stride,
                dword: dword || lpss,
                baud,
            }
        }
        _ => other,
    }
}

#[derive(Clone, Debug)]
pub enum PlatformError {
    Acpi(AcpiError),
    NoMadt,
}

impl Platform {
    /// Reads the tables under `root`.
    ///
    /// # Safety
    /// `root` must come from a valid RSDP, and every table must lie in
    /// memory the direct map covers.
    pub unsafe fn read(root: AcpiRoot) -> Result<Self, PlatformError> {
        // SAFETY: upheld by the caller.
        let tables =
            unsafe { AcpiTables::from_rsdt(DirectMap, root.table as usize, root.entry_size) }
                .map_err(PlatformError::Acpi)?;
        let madt: PhysicalMapping<_, Madt> = tables.find_table().ok_or(PlatformError::NoMadt)?;
        let mut platform = Self {
            revision: root.revision,
            local_apic_address: u64::from(madt.get().local_apic_address),
            cpus: List::new(),
            ioapics: List::new(),
            overrides: List::new(),
            ecam: List::new(),
            has_legacy_pics: madt.get().supports_8259(),
            spcr: None,
            aml_tables: List::new(),
        };
        for entry in madt.get().entries() {
            match entry {
                // Bit 0: enabled; bit 1: can be brought online.
                MadtEntry::LocalApic(e) if e.flags & 3 != 0 => {
                    platform.cpus.push(u32::from(e.apic_id))
                }
                MadtEntry::LocalX2Apic(e) if e.flags & 3 != 0 => platform.cpus.push(e.x2apic_id),
                MadtEntry::IoApic(e) => platform.ioapics.push(IoApic {
                    id: e.io_apic_id,
                    address: u64::from(e.io_apic_address),
                    gsi_base: e.global_system_interrupt_base,
                }),
                MadtEntry::InterruptSourceOverride(e) => {
                    let flags = e.flags;
                    // MPS INTI flags: polarity in bits 0-1 (3 = active low),
                    // trigger mode in bits 2-3 (3 = level); 0 means "as the
                    // bus says", which for ISA is edge, active high.
                    platform.overrides.push(InterruptOverride {
                        isa_irq: e.irq,
                        gsi: e.global_system_interrupt,
                        active_low: flags & 3 == 3,
                        level_triggered: (flags >> 2) & 3 == 3,
                    })
                }
                MadtEntry::LocalApicAddressOverride(e) => {
                    platform.local_apic_address = e.local_apic_address
                }
                _ => {}
            }
        }
        if let Some(spcr) = tables.find_table::<Spcr>() {
            let spcr = spcr.get();
            // Console redirection off, or an address the crate refused:
            // no UART.
            if let Some(Ok(base)) = spcr.base_address() {
                let baud = spcr.baud_rate().map_or(0, |b| b.get());
                platform.spcr = Some(spcr_uart(spcr.interface_type(), base, baud));
            }
        }
        if let Some(mcfg) = tables.find_table::<Mcfg>() {
            for e in mcfg.get().entries() {
                platform.ecam.push(EcamRegion {
                    base: e.base_address,
                    segment: e.pci_segment_group,
                    first_bus: e.bus_number_start,
                    last_bus: e.bus_number_end,
                });
            }
        }
        // A firmware without a DSDT has no AML to give.
        if let Ok(dsdt) = tables.dsdt() {
            platform.aml_tables.push(TableRange {
                physical: dsdt.phys_address as u64,
                length: dsdt.length,
            });
            for ssdt in tables.ssdts() {
                platform.aml_tables.push(TableRange {
                    physical: ssdt.phys_address as u64,
                    length: ssdt.length,
                });
            }
        }
        Ok(platform)
    }

    /// The first ECAM window of PCI segment 0, as the boot-info page
    /// carries it (base 0: the firmware lists none).
    pub fn segment0_ecam(&self) -> basalt_abi::boot_info::Ecam {
        self.ecam
            .as_slice()
            .iter()
            .find(|e| e.segment == 0)
            .map_or_else(Default::default, |e| basalt_abi::boot_info::Ecam {
                base: e.base,
                first_bus: e.first_bus,
                last_bus: e.last_bus,
                _reserved: [0; 6],
            })
    }
}

/// The `acpi` crate's window onto the machine. Only table mapping is
/// needed for the static tables; the AML-facing hooks are implemented
/// directly because they are simple on x86.
#[derive(Clone, Copy)]
struct DirectMap;

fn mmio<T>(address: usize) -> *mut T {
    phys_to_virt(address as u64) as *mut T
}

fn pci_config_address(address: PciAddress, offset: u16) -> u32 {
    0x8000_0000
        | (u32::from(address.bus()) << 16)
        | (u32::from(address.device()) << 11)
        | (u32::from(address.function()) << 8)
        | u32::from(offset & 0xfc)
}

impl Handler for DirectMap {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> RawPhysicalMapping<T> {
        let virt = NonNull::new(mmio::<T>(physical_address)).expect("the direct map is never at 0");
        // SAFETY: the direct map covers the region for the kernel's lifetime.
        unsafe { RawPhysicalMapping::new(physical_address, virt, size, size) }
    }

    unsafe fn unmap_physical_region<T>(&self, _region: RawPhysicalMapping<T>) {}

    fn read_u8(&self, address: usize) -> u8 {
        // SAFETY: the crate passes addresses of firmware-described registers.
        unsafe { mmio::<u8>(address).read_volatile() }
    }
    fn read_u16(&self, address: usize) -> u16 {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u16>(address).read_volatile() }
    }
    fn read_u32(&self, address: usize) -> u32 {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u32>(address).read_volatile() }
    }
    fn read_u64(&self, address: usize) -> u64 {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u64>(address).read_volatile() }
    }
    fn write_u8(&self, address: usize, value: u8) {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u8>(address).write_volatile(value) }
    }
    fn write_u16(&self, address: usize, value: u16) {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u16>(address).write_volatile(value) }
    }
    fn write_u32(&self, address: usize, value: u32) {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u32>(address).write_volatile(value) }
    }
    fn write_u64(&self, address: usize, value: u64) {
        // SAFETY: as in `read_u8`.
        unsafe { mmio::<u64>(address).write_volatile(value) }
    }
    fn read_io_u8(&self, port: u16) -> u8 {
        // SAFETY: firmware-described I/O register.
        unsafe { Port::new(port).read() }
    }
    fn read_io_u16(&self, port: u16) -> u16 {
        // SAFETY: as in `read_io_u8`.
        unsafe { Port::new(port).read() }
    }
    fn read_io_u32(&self, port: u16) -> u32 {
        // SAFETY: as in `read_io_u8`.
        unsafe { Port::new(port).read() }
    }
    fn write_io_u8(&self, port: u16, value: u8) {
        // SAFETY: as in `read_io_u8`.
        unsafe { Port::new(port).write(value) }
    }
    fn write_io_u16(&self, port: u16, value: u16) {
        // SAFETY: as in `read_io_u8`.
        unsafe { Port::new(port).write(value) }
    }
    fn write_io_u32(&self, port: u16, value: u32) {
        // SAFETY: as in `read_io_u8`.
        unsafe { Port::new(port).write(value) }
    }
    fn read_pci_u8(&self, address: PciAddress, offset: u16) -> u8 {
        (self.read_pci_u32(address, offset) >> ((offset & 3) * 8)) as u8
    }
    fn read_pci_u16(&self, address: PciAddress, offset: u16) -> u16 {
        (self.read_pci_u32(address, offset) >> ((offset & 2) * 8)) as u16
    }
    fn read_pci_u32(&self, address: PciAddress, offset: u16) -> u32 {
        // SAFETY: the legacy configuration mechanism's two ports.
        unsafe {
            Port::new(0xcf8).write(pci_config_address(address, offset));
            Port::new(0xcfc).read()
        }
    }
    fn write_pci_u8(&self, address: PciAddress, offset: u16, value: u8) {
        // SAFETY: as in `read_pci_u32`.
        unsafe {
            Port::new(0xcf8).write(pci_config_address(address, offset));
            Port::new(0xcfc + (offset & 3)).write(value);
        }
    }
    fn write_pci_u16(&self, address: PciAddress, offset: u16, value: u16) {
        // SAFETY: as in `read_pci_u32`.
        unsafe {
            Port::new(0xcf8).write(pci_config_address(address, offset));
            Port::new(0xcfc + (offset & 2)).write(value);
        }
    }
    fn write_pci_u32(&self, address: PciAddress, offset: u16, value: u32) {
        // SAFETY: as in `read_pci_u32`.
        unsafe {
            Port::new(0xcf8).write(pci_config_address(address, offset));
            Port::new(0xcfc).write(value);
        }
    }
    fn nanos_since_boot(&self) -> u64 {
        super::timer::nanos_since_boot()
    }
    fn stall(&self, microseconds: u64) {
        super::timer::busy_wait_us(microseconds);
    }
    fn sleep(&self, milliseconds: u64) {
        super::timer::busy_wait_us(milliseconds * 1000);
    }
}

/// SPCR's interface type number (for the log of one the kernel does not
/// drive).
fn interface_id(t: SpcrInterfaceType) -> u8 {
    match t {
        SpcrInterfaceType::Full16550 => 0,
        SpcrInterfaceType::Full16450 => 1,
        SpcrInterfaceType::ArmPL011 => 3,
        _ => 0xff,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gas(space: AddressSpace, bit_width: u8, access_size: u8, address: u64) -> GenericAddress {
        GenericAddress {
            address_space: space,
            bit_width,
            bit_offset: 0,
            access_size,
            address,
        }
    }

    #[test]
    fn spcr_names_port_and_memory_mapped_16550s() {
        use AddressSpace::{SystemIo, SystemMemory};
        use SpcrInterfaceType::*;
        assert_eq!(
            spcr_uart(Full16550, gas(SystemIo, 8, 1, 0x2f8), 115_200),
            SpcrUart::Port {
                port: 0x2f8,
                baud: 115_200
            }
        );
        // 32-bit registers, dword accesses (an "mmio32" UART).
        assert_eq!(
            spcr_uart(Generic16550, gas(SystemMemory, 32, 3, 0xfe03_2000), 0),
            SpcrUart::Mmio {
                address: 0xfe03_2000,
                stride: 4,
                dword: true,
                baud: 0
            }
        );
        // Byte registers; an access size left 0 follows the width.
        assert_eq!(
            spcr_uart(Full16550, gas(SystemMemory, 8, 0, 0xfed0_0000), 9600),
            SpcrUart::Mmio {
                address: 0xfed0_0000,
                stride: 1,
                dword: false,
                baud: 9600
            }
        );
        // Intel's LPSS UART takes 32-bit accesses whatever the GAS says.
        assert_eq!(
            spcr_uart(IntelLPSS, gas(SystemMemory, 0, 1, 0xfe04_0000), 0),
            SpcrUart::Mmio {
                address: 0xfe04_0000,
                stride: 4,
                dword: true,
                baud: 0
            }
        );
    }

    #[test]
    fn spcr_uarts_the_kernel_cannot_drive_are_named_not_used() {
        use AddressSpace::{SystemIo, SystemMemory};
        use SpcrInterfaceType::*;
        let other = |interface, address| SpcrUart::Other { interface, address };
        // An Arm PL011, a 16-bit register layout, a word access size, an
        // I/O port past the 16-bit space, a memory UART at 0.
        for (interface, space, width, access, address, kind) in [
            (ArmPL011, SystemMemory, 32, 3, 0x900_0000, 3),
            (Full16550, SystemMemory, 16, 2, 0x1000, 0),
            (Full16550, SystemMemory, 8, 2, 0x1000, 0),
            (Full16550, SystemIo, 8, 1, 0x1_0000, 0),
            (Full16550, SystemMemory, 8, 1, 0, 0),
        ] {
            assert_eq!(
                spcr_uart(interface, gas(space, width, access, address), 0),
                other(kind, address)
            );
        }
    }
}
