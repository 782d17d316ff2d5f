//! What a Multiboot2 loader (GRUB) tells the kernel: memory map,
//! modules, command line, ACPI root pointer, framebuffer.

use super::boot_info::{AcpiRoot, BootInfoError, Firmware, Framebuffer, Module};
use super::layout::PHYS_OFFSET;
use crate::memory::{PhysRange, Region, RegionKind};
use multiboot2::{BootInformation, BootInformationHeader};

/// EAX at entry when a Multiboot2 loader started us.
pub const BOOTLOADER_MAGIC: u32 = 0x36d7_6289;

/// The Multiboot2 boot information.
pub struct Multiboot2 {
    info: BootInformation<'static>,
}

impl Multiboot2 {
    /// Reads the boot information at physical address `phys`.
    ///
    /// # Safety
    /// `phys` must be the address a Multiboot2 loader passed in EBX, and
    /// the memory there must be mapped at the direct map.
    pub unsafe fn load(phys: u64) -> Result<Self, BootInfoError> {
        let header = (PHYS_OFFSET + phys) as *const BootInformationHeader;
        // SAFETY: the loader's contract, upheld by the caller.
        let info =
            unsafe { BootInformation::load(header) }.map_err(|_| BootInfoError::Malformed)?;
        Ok(Self { info })
    }

    /// The physical range the boot information itself occupies.
    pub fn own_range(&self) -> PhysRange {
        let start = self.info.start_address() as u64 - PHYS_OFFSET;
        PhysRange::new(start, start + self.info.total_size() as u64)
    }

    pub fn firmware(&self) -> Firmware {
        if self.info.efi_sdt64_tag().is_some() || self.info.efi_memory_map_tag().is_some() {
            Firmware::Uefi
        } else {
            Firmware::Bios
        }
    }

    pub fn loader_name(&self) -> &str {
        self.info
            .boot_loader_name_tag()
            .and_then(|t| t.name().ok())
            .unwrap_or("unknown loader")
    }

    pub fn command_line(&self) -> &str {
        self.info
            .command_line_tag()
            .and_then(|t| t.cmdline().ok())
            .unwrap_or("")
    }

    /// The memory map: the EFI one when the loader passed it (more detail),
    /// else the E820-style one.
    pub fn memory_map(&self) -> Result<impl Iterator<Item = Region> + Clone + '_, BootInfoError> {
        let efi = self.info.efi_memory_map_tag().map(|tag| {
            tag.memory_areas().map(|d| {
                Region::new(
                    d.phys_start,
                    d.page_count * 4096,
                    RegionKind::from_efi(d.ty.0),
                )
            })
        });
        let e820 = self.info.memory_map_tag().map(|tag| {
            tag.memory_areas().iter().map(|a| {
                Region::new(
                    a.start_address(),
                    a.size(),
                    RegionKind::from_e820(a.typ().into()),
                )
            })
        });
        if efi.is_none() && e820.is_none() {
            return Err(BootInfoError::NoMemoryMap);
        }
        let e820 = if efi.is_some() { None } else { e820 };
        Ok(efi.into_iter().flatten().chain(e820.into_iter().flatten()))
    }

    pub fn modules(&self) -> impl Iterator<Item = Module> + '_ {
        self.info.module_tags().map(|m| Module {
            name: self.leak_str(m.cmdline().unwrap_or("")),
            range: PhysRange::new(m.start_address().into(), m.end_address().into()),
        })
    }

    /// The framebuffer the loader described, for the boot summary:
    /// its kind, address, width and height (characters for text, pixels
    /// otherwise) and bits per pixel.
    pub fn framebuffer(&self) -> Option<(&'static str, u64, u32, u32, u8)> {
        let tag = self.info.framebuffer_tag()?.ok()?;
        let kind = match tag.buffer_type() {
            Ok(multiboot2::FramebufferType::Text) => "EGA text",
            Ok(multiboot2::FramebufferType::RGB { .. }) => "RGB",
            Ok(multiboot2::FramebufferType::Indexed { .. }) => "indexed",
            Err(_) => "unknown",
        };
        Some((kind, tag.address(), tag.width(), tag.height(), tag.bpp()))
    }

    /// The framebuffer the console may write to, if the loader described
    /// one: the tag's EGA text buffer or RGB pixels (`Some(None)`: a tag
    /// the console cannot use; `None`: no tag).
    pub fn console_framebuffer(&self) -> Option<Option<Framebuffer>> {
        let tag = match self.info.framebuffer_tag()? {
            Ok(tag) => tag,
            Err(_) => return Some(None),
        };
        Some(match tag.buffer_type() {
            Ok(multiboot2::FramebufferType::Text) => Some(Framebuffer::Text {
                phys: tag.address(),
                cols: tag.width() as usize,
                rows: tag.height() as usize,
            }),
            Ok(multiboot2::FramebufferType::RGB { red, green, blue }) => {
                Some(Framebuffer::Pixels {
                    phys: tag.address(),
                    width: tag.width() as usize,
                    height: tag.height() as usize,
                    format: crate::pixel_screen::Format {
                        bytes_per_pixel: usize::from(tag.bpp()).div_ceil(8),
                        pitch: tag.pitch() as usize,
                        red: (red.position, red.size),
                        green: (green.position, green.size),
                        blue: (blue.position, blue.size),
                    },
                })
            }
            _ => None,
        })
    }

    /// The ACPI root from the RSDP copy the loader passed (v2 preferred).
    pub fn acpi_root(&self) -> Option<AcpiRoot> {
        if let Some(v2) = self.info.rsdp_v2_tag().filter(|t| t.checksum_is_valid())
            && v2.xsdt_address() != 0
        {
            return Some(AcpiRoot {
                table: v2.xsdt_address() as u64,
                entry_size: 8,
                revision: v2.revision(),
            });
        }
        let v1 = self.info.rsdp_v1_tag().filter(|t| t.checksum_is_valid())?;
        Some(AcpiRoot {
            table: v1.rsdt_address() as u64,
            entry_size: 4,
            revision: v1.revision(),
        })
    }

    /// Strings in the boot information live as long as the kernel does: the
    /// memory is reserved from the frame allocator forever.
    fn leak_str(&self, s: &str) -> &'static str {
        // SAFETY: `s` points into the boot information, which stays mapped
        // and unmodified for the kernel's lifetime (see `own_range`).
        unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(s.as_ptr(), s.len())) }
    }
}
