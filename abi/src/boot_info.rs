//! The boot-info page the kernel gives the root task, and the root task's
//! well-known capability slots.

/// Root CNode slots the kernel fills before the root task starts.
pub mod slot {
    /// Always empty: capability address 0 is "no capability".
    pub const NULL: u64 = 0;
    pub const TCB: u64 = 1;
    /// The root CNode itself.
    pub const CNODE: u64 = 2;
    pub const VSPACE: u64 = 3;
    pub const IRQ_CONTROL: u64 = 4;
    pub const IO_PORT_CONTROL: u64 = 5;
    pub const BOOT_INFO_FRAME: u64 = 6;
    pub const IPC_BUFFER_FRAME: u64 = 7;
    /// The kernel console: the capability `DebugWrite` writes through.
    pub const CONSOLE: u64 = 8;
    /// The first untyped capability; see [`BootInfo::untyped`](super::BootInfo::untyped).
    pub const FIRST_UNTYPED: u64 = 9;
}

/// Radix of the root CNode: `2^ROOT_CNODE_BITS` slots.
pub const ROOT_CNODE_BITS: u8 = 12;

/// Where the root task finds the boot-info page.
pub const BOOT_INFO_ADDR: u64 = 0x7fff_f000_0000;
/// Where the root task's IPC buffer is mapped.
pub const IPC_BUFFER_ADDR: u64 = 0x7fff_f000_1000;
/// The top of the root task's initial stack (it grows down).
pub const ROOT_STACK_TOP: u64 = 0x7fff_e000_0000;
/// Pages of initial stack the kernel maps for the root task.
pub const ROOT_STACK_PAGES: u64 = 64;

/// Value of [`BootInfo::magic`].
pub const MAGIC: u64 = 0x4f46_4e49_544c_5342; // "BSLTINFO"
/// Layout version of the boot-info page.
pub const VERSION: u64 = 3;

/// Most untyped capabilities the page can list.
pub const MAX_UNTYPED: usize = 180;

/// Where the kernel maps the boot modules (other than the root task's own
/// ELF) read-only into the root task, one after the other, page aligned.
pub const MODULES_ADDR: u64 = 0x5000_0000_0000;
/// Most boot modules the page lists.
pub const MAX_MODULES: usize = 16;
/// Bytes of a module name (its GRUB command line; UTF-8, zero-padded).
pub const MODULE_NAME_BYTES: usize = 40;

/// Where the kernel maps its copy of the firmware's AML tables into the
/// root task, read-only ([`BootInfo::acpi`]).
pub const ACPI_TABLES_ADDR: u64 = 0x5100_0000_0000;
/// Most bytes of AML tables the kernel copies; tables past it are left
/// out (and the kernel says so).
pub const MAX_ACPI_BYTES: u64 = 4 << 20;

/// A boot module mapped into the root task.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct ModuleDesc {
    pub name: [u8; MODULE_NAME_BYTES],
    /// Where it is mapped in the root task.
    pub address: u64,
    /// Its size in bytes.
    pub size: u64,
}

impl ModuleDesc {
    /// The module's name.
    pub fn name(&self) -> &str {
        let len = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(MODULE_NAME_BYTES);
        core::str::from_utf8(&self.name[..len]).unwrap_or("")
    }
}

/// One untyped capability handed to the root task.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct UntypedDesc {
    pub physical_address: u64,
    pub size_bits: u8,
    /// Device memory (MMIO): can only become frames, never zeroed.
    pub is_device: u8,
    pub _reserved: [u8; 6],
}

/// The boot-info page, mapped read-only at [`BOOT_INFO_ADDR`].
#[derive(Clone, Copy)]
#[repr(C)]
pub struct BootInfo {
    pub magic: u64,
    pub version: u64,
    /// The first empty slot of the root CNode.
    pub first_free_slot: u64,
    /// Untyped capabilities occupy slots `FIRST_UNTYPED..FIRST_UNTYPED + untyped_count`.
    pub untyped_count: u64,
    pub untyped: [UntypedDesc; MAX_UNTYPED],
    /// Boot modules mapped at [`MODULES_ADDR`] and up.
    pub module_count: u64,
    pub modules: [ModuleDesc; MAX_MODULES],
    /// The time-stamp counter's frequency in Hz, as the kernel calibrated
    /// it against the PIT (0 if it could not).
    pub tsc_hz: u64,
    /// The wall-clock time at boot, from the real-time clock.
    pub wall_clock: WallClock,
    /// The PCI Express configuration window of PCI segment 0, from the
    /// ACPI MCFG table (`base` 0: none).
    pub pci_ecam: Ecam,
    /// The firmware's DSDT and SSDTs, copied one after the other (each
    /// whole, header first, in that order) and mapped read-only at
    /// [`ACPI_TABLES_ADDR`]: what the root task needs to evaluate the
    /// firmware's AML, such as a PCI function's interrupt routing
    /// (`size` 0: the firmware has none).
    pub acpi: AcpiTables,
}

/// The copy of the firmware's AML tables ([`BootInfo::acpi`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct AcpiTables {
    /// Where the copy is mapped in the root task.
    pub address: u64,
    /// Its length in bytes: the tables' lengths added up.
    pub size: u64,
}

/// A wall-clock reading: the Unix time at one moment and the time-stamp
/// counter at that moment, so that `unix_ms + (rdtsc − tsc) / tsc_hz`
/// (in ms) is the time later.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct WallClock {
    /// Milliseconds since 1970-01-01 00:00 UTC (0: no clock was read).
    pub unix_ms: u64,
    /// The time-stamp counter when it was read.
    pub tsc: u64,
}

/// A PCI Express enhanced configuration window (ECAM): 4 KiB of
/// configuration space per function, memory-mapped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct Ecam {
    /// The physical address bus 0 would have: as in ACPI's MCFG, the
    /// window itself starts at bus `first_bus` (0: no window).
    pub base: u64,
    /// The first bus the window decodes.
    pub first_bus: u8,
    /// The last bus the window decodes.
    pub last_bus: u8,
    pub _reserved: [u8; 6],
}

impl Ecam {
    /// The physical address of the 4 KiB configuration space of function
    /// `function` of device `device` on bus `bus`, if the window covers
    /// that bus.
    ///
    /// ```
    /// use basalt_abi::boot_info::Ecam;
    /// let ecam = Ecam { base: 0xb000_0000, first_bus: 0, last_bus: 255, ..Ecam::default() };
    /// assert_eq!(ecam.function_page(1, 3, 2), Some(0xb011_a000));
    /// assert_eq!(Ecam::default().function_page(0, 0, 0), None);
    /// ```
    pub fn function_page(&self, bus: u8, device: u8, function: u8) -> Option<u64> {
        if self.base == 0 || device >= 32 || function >= 8 {
            return None;
        }
        (self.first_bus..=self.last_bus).contains(&bus).then(|| {
            self.base + (u64::from(bus) << 20 | u64::from(device) << 15 | u64::from(function) << 12)
        })
    }
}

const _: () = assert!(size_of::<BootInfo>() <= 4096);
// docs/abi.md gives the offsets.
const _: () = assert!(core::mem::offset_of!(BootInfo, pci_ecam) == 3840);
const _: () = assert!(core::mem::offset_of!(BootInfo, acpi) == 3856);
