//! What the loader tells the kernel, whichever loader it was: memory
//! map, modules, command line, ACPI root, framebuffer. GRUB starts the
//! kernel by Multiboot2 ([`super::multiboot`]); QEMU's direct boot
//! (`-kernel`) through its PVH note ([`super::pvh`]).

use super::layout::phys_to_virt;
use super::multiboot::Multiboot2;
use super::pvh::{self, Pvh, PvhError};
use crate::memory::{PhysRange, Region};

/// The loader's information, read once at boot.
pub enum BootInfo {
    Multiboot2(Multiboot2),
    Pvh(&'static Pvh),
}

/// Why the boot information cannot be used.
#[derive(Clone, Copy, Debug)]
pub enum BootInfoError {
    /// Started neither by a Multiboot2 loader nor through the PVH note
    /// (EAX held this instead).
    UnknownLoader(u32),
    /// The Multiboot2 structure at the address the loader gave is
    /// malformed.
    Malformed,
    /// Neither a memory map nor an EFI memory map tag is present.
    NoMemoryMap,
    /// The PVH start info is unusable.
    Pvh(PvhError),
}

/// Where the root system description pointer says the ACPI tables are.
#[derive(Clone, Copy, Debug)]
pub struct AcpiRoot {
    /// Physical address of the RSDT or XSDT.
    pub table: u64,
    /// 8 for the XSDT, 4 for the RSDT.
    pub entry_size: usize,
    pub revision: u8,
}

/// A boot module: its loader command line and where it was loaded.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    pub name: &'static str,
    pub range: PhysRange,
}

impl Module {
    /// The module's contents, through the direct map.
    pub fn bytes(&self) -> &'static [u8] {
        // SAFETY: the loader put the module at this physical range, which
        // the frame allocator never hands out and the direct map covers.
        unsafe {
            core::slice::from_raw_parts(
                phys_to_virt(self.range.start) as *const u8,
                self.range.len() as usize,
            )
        }
    }
}

/// A framebuffer the console can write to.
#[derive(Clone, Copy, Debug)]
pub enum Framebuffer {
    /// EGA text: 16-bit cells.
    Text { phys: u64, cols: usize, rows: usize },
    /// Direct-colour pixels.
    Pixels {
        phys: u64,
        width: usize,
        height: usize,
        format: crate::pixel_screen::Format,
    },
}

impl Framebuffer {
    /// Where it is and how many bytes it takes.
    pub fn range(&self) -> (u64, u64) {
        match *self {
            Framebuffer::Text { phys, cols, rows } => (phys, (cols * rows * 2) as u64),
            Framebuffer::Pixels {
                phys,
                height,
                format,
                ..
            } => (phys, (format.pitch * height) as u64),
        }
    }
}

/// Which firmware interface booted the machine.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Firmware {
    Bios,
    Uefi,
}

impl BootInfo {
    /// Reads the boot information at physical address `phys`, as the
    /// loader that `magic` names passed it.
    ///
    /// # Safety
    /// `magic` and `phys` must be the values the entry code was given in
    /// EAX/EBX, and the memory there must be mapped at the direct map.
    pub unsafe fn load(magic: u32, phys: u64) -> Result<Self, BootInfoError> {
        match magic {
            // SAFETY: the caller's contract.
            super::multiboot::BOOTLOADER_MAGIC => {
                unsafe { Multiboot2::load(phys) }.map(BootInfo::Multiboot2)
            }
            // SAFETY: the caller's contract.
            pvh::MAGIC => unsafe { Pvh::load(phys) }
                .map(BootInfo::Pvh)
                .map_err(BootInfoError::Pvh),
            other => Err(BootInfoError::UnknownLoader(other)),
        }
    }

    /// The physical range the kernel must keep of what the loader passed
    /// besides the modules (the Multiboot2 structure; nothing under PVH,
    /// whose structures are copied at load).
    pub fn own_range(&self) -> PhysRange {
        match self {
            BootInfo::Multiboot2(m) => m.own_range(),
            BootInfo::Pvh(p) => p.own_range(),
        }
    }

    pub fn firmware(&self) -> Firmware {
        match self {
            BootInfo::Multiboot2(m) => m.firmware(),
            // QEMU's direct boot runs under SeaBIOS.
            BootInfo::Pvh(_) => Firmware::Bios,
        }
    }

    pub fn loader_name(&self) -> &str {
        match self {
            BootInfo::Multiboot2(m) => m.loader_name(),
            BootInfo::Pvh(_) => "QEMU's direct boot (PVH)",
        }
    }

    pub fn command_line(&self) -> &str {
        match self {
            BootInfo::Multiboot2(m) => m.command_line(),
            BootInfo::Pvh(p) => p.command_line(),
        }
    }

    /// The firmware's memory map.
    pub fn memory_map(&self) -> Result<impl Iterator<Item = Region> + Clone + '_, BootInfoError> {
        Ok(match self {
            BootInfo::Multiboot2(m) => Either::A(m.memory_map()?),
            BootInfo::Pvh(p) => Either::B(p.memory_map()),
        })
    }

    pub fn modules(&self) -> impl Iterator<Item = Module> + '_ {
        match self {
            BootInfo::Multiboot2(m) => Either::A(m.modules()),
            BootInfo::Pvh(p) => Either::B(p.modules()),
        }
    }

    /// The framebuffer the loader described, for the boot summary:
    /// its kind, address, width and height (characters for text, pixels
    /// otherwise) and bits per pixel.
    pub fn framebuffer(&self) -> Option<(&'static str, u64, u32, u32, u8)> {
        match self {
            BootInfo::Multiboot2(m) => m.framebuffer(),
            BootInfo::Pvh(_) => None,
        }
    }

    /// The framebuffer the console may write to where there is no serial
    /// port: the one the loader described, or under a BIOS without one
    /// the legacy VGA text buffer.
    pub fn console_framebuffer(&self) -> Option<Framebuffer> {
        let described = match self {
            BootInfo::Multiboot2(m) => m.console_framebuffer(),
            BootInfo::Pvh(_) => None,
        };
        match described {
            Some(described) => described,
            None if self.firmware() == Firmware::Bios => Some(Framebuffer::Text {
                phys: super::screen::VGA_TEXT,
                cols: 80,
                rows: 25,
            }),
            None => None,
        }
    }

    /// Where the ACPI tables are, from the RSDP the loader passed or found.
    pub fn acpi_root(&self) -> Option<AcpiRoot> {
        match self {
            BootInfo::Multiboot2(m) => m.acpi_root(),
            BootInfo::Pvh(p) => p.acpi_root(),
        }
    }
}

/// One of two iterators: what [`BootInfo`] returns for either loader.
#[derive(Clone)]
enum Either<A, B> {
    A(A),
    B(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Either::A(a) => a.next(),
            Either::B(b) => b.next(),
        }
    }
}
