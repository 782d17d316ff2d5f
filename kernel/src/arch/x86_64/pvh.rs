//! What QEMU's direct boot (`-kernel`, `-initrd`, `-append`) tells the
//! kernel: the PVH start info of the x86 HVM direct boot ABI (Xen's
//! `hvm_start_info`, version 1), whose physical address is in EBX when
//! the loader enters the kernel through its PVH note (`entry.rs`).
//!
//! The boot modules come as the one module PVH passes: a module archive
//! ([`basalt_abi::module_archive`]). The command line and the memory map
//! are copied here at load, and the ACPI root read, so that nothing the
//! loader wrote outside the archive needs to be kept; the archive is
//! reserved for good (the module names point into it, and init takes
//! the modules' frames).

use super::boot_info::{AcpiRoot, Module};
use super::layout::PHYS_OFFSET;
use crate::memory::{PhysRange, Region, RegionKind};
use basalt_abi::module_archive::{self, ArchiveError, Entries};
use spin::Once;

/// The start info's magic. The PVH ABI defines no register but EBX at
/// entry; `_start_pvh` puts this in EAX, so that the common entry tells
/// the two loaders apart by EAX as Multiboot2 defines it.
pub const MAGIC: u32 = 0x336e_c578;

/// Bytes of the start info (version 1) and of its list entries.
const START_INFO: usize = 56;
const MODLIST_ENTRY: usize = 32;
const MEMMAP_ENTRY: usize = 24;
/// Most command-line bytes kept.
const COMMAND_LINE_MAX: usize = 1024;
/// Most memory-map entries kept: as many as QEMU's PVH option ROM
/// collects from the BIOS (it passes a handful).
const MAX_REGIONS: usize = 128;
/// Where a BIOS keeps the RSDP when the loader names none: the ACPI
/// specification's read-only BIOS area, searched on 16-byte boundaries.
const BIOS_AREA: (u64, usize) = (0xe_0000, 0x2_0000);

/// Why the start info is unusable.
#[derive(Clone, Copy, Debug)]
pub enum PvhError {
    /// A structure the start info points to is not in the first 4 GiB,
    /// where the entry code maps memory: its physical address.
    Unreachable(u64),
    /// The start info's own magic is wrong.
    BadMagic(u32),
    /// Version 0: no memory map.
    NoMemoryMap,
    /// More memory-map entries than the kernel keeps.
    TooManyRegions(u32),
    /// Not one module (the archive) nor none.
    Modules(u32),
    /// The archive does not start on a page boundary.
    ArchiveMisaligned(u64),
    /// The archive is malformed.
    Archive(ArchiveError),
    /// The command line has no NUL within [`COMMAND_LINE_MAX`] bytes, or
    /// is not UTF-8.
    CommandLine,
}

/// Reads `len` bytes of physical memory at `phys`, if they are mapped.
type Read<'a> = &'a dyn Fn(u64, usize) -> Option<&'static [u8]>;

/// The PVH boot information, copied out of the loader's structures.
pub struct Pvh {
    command_line: [u8; COMMAND_LINE_MAX],
    command_line_len: usize,
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    acpi: Option<AcpiRoot>,
    /// The archive's physical range and its checked entries.
    archive: Option<(PhysRange, Entries<'static>)>,
}

impl Pvh {
    /// Reads the start info at physical address `phys`, into a static
    /// (4 KiB with the copies: kept off the boot stack for the boot's
    /// whole length).
    ///
    /// # Safety
    /// `phys` must be the address the loader passed in EBX, and the first
    /// 4 GiB of physical memory must be mapped at the direct map (the
    /// entry code's tables map them).
    pub unsafe fn load(phys: u64) -> Result<&'static Self, PvhError> {
        static LOADED: Once<Pvh> = Once::new();
        let read = |at: u64, len: usize| {
            let end = at.checked_add(len as u64)?;
            // SAFETY: below 4 GiB, which the caller guarantees is mapped
            // at the direct map; the loader's structures and the archive
            // are not written again.
            (end <= 1 << 32).then(|| unsafe {
                core::slice::from_raw_parts((PHYS_OFFSET + at) as *const u8, len)
            })
        };
        Self::parse(phys, &read).map(|pvh| LOADED.call_once(|| pvh))
    }

    /// The start info at `phys`, read through `read`.
    fn parse(phys: u64, read: Read<'_>) -> Result<Self, PvhError> {
        let bytes = |at: u64, len: usize| read(at, len).ok_or(PvhError::Unreachable(at));
        let info = bytes(phys, START_INFO)?;
        let magic = u32_at(info, 0);
        if magic != MAGIC {
            return Err(PvhError::BadMagic(magic));
        }
        let (version, modules) = (u32_at(info, 4), u32_at(info, 12));
        let (modlist, command_line, rsdp) = (u64_at(info, 16), u64_at(info, 24), u64_at(info, 32));
        let (memmap, entries) = (u64_at(info, 40), u32_at(info, 48));
        if version < 1 || entries == 0 {
            return Err(PvhError::NoMemoryMap);
        }
        if entries as usize > MAX_REGIONS {
            return Err(PvhError::TooManyRegions(entries));
        }

        let mut pvh = Pvh {
            command_line: [0; COMMAND_LINE_MAX],
            command_line_len: 0,
            regions: [Region::new(0, 0, RegionKind::Reserved); MAX_REGIONS],
            region_count: entries as usize,
            acpi: None,
            archive: None,
        };
        let map = bytes(memmap, entries as usize * MEMMAP_ENTRY)?;
        for (region, entry) in pvh.regions.iter_mut().zip(map.chunks_exact(MEMMAP_ENTRY)) {
            let kind = RegionKind::from_e820(u32_at(entry, 16));
            *region = Region::new(u64_at(entry, 0), u64_at(entry, 8), kind);
        }

        if command_line != 0 {
            let text = bytes(command_line, COMMAND_LINE_MAX)?;
            let len = text
                .iter()
                .position(|&b| b == 0)
                .ok_or(PvhError::CommandLine)?;
            core::str::from_utf8(&text[..len]).map_err(|_| PvhError::CommandLine)?;
            pvh.command_line[..len].copy_from_slice(&text[..len]);
            pvh.command_line_len = len;
        }

        pvh.acpi = match rsdp {
            0 => read(BIOS_AREA.0, BIOS_AREA.1).and_then(|area| {
                area.chunks(16)
                    .enumerate()
                    .filter(|(_, c)| c.starts_with(b"RSD PTR "))
                    .find_map(|(i, _)| acpi_root(&area[i * 16..]))
            }),
            at => read(at, 36).or_else(|| read(at, 20)).and_then(acpi_root),
        };

        pvh.archive = match modules {
            0 => None,
            1 => {
                let entry = bytes(modlist, MODLIST_ENTRY)?;
                let (start, len) = (u64_at(entry, 0), u64_at(entry, 8));
                if start % module_archive::PAGE != 0 {
                    return Err(PvhError::ArchiveMisaligned(start));
                }
                let archive = bytes(start, len as usize)?;
                let entries = module_archive::entries(archive).map_err(PvhError::Archive)?;
                Some((PhysRange::new(start, start + len), entries))
            }
            n => return Err(PvhError::Modules(n)),
        };
        Ok(pvh)
    }

    /// The archive, which the kernel keeps (see the module comment).
    pub fn own_range(&self) -> PhysRange {
        self.archive
            .as_ref()
            .map_or(PhysRange::new(0, 0), |(range, _)| *range)
    }

    pub fn command_line(&self) -> &str {
        core::str::from_utf8(&self.command_line[..self.command_line_len]).expect("checked at load")
    }

    pub fn memory_map(&self) -> impl Iterator<Item = Region> + Clone + '_ {
        self.regions[..self.region_count].iter().copied()
    }

    pub fn modules(&self) -> impl Iterator<Item = Module> + '_ {
        self.archive.iter().flat_map(|(range, entries)| {
            entries.clone().map(|e| Module {
                name: e.name,
                range: PhysRange::new(range.start + e.offset, range.start + e.offset + e.len),
            })
        })
    }

    pub fn acpi_root(&self) -> Option<AcpiRoot> {
        self.acpi
    }
}

/// The ACPI root the RSDP at the start of `bytes` names, if its checksums
/// hold: the XSDT from revision 2 on where its extended checksum holds
/// and it is set, else the RSDT.
fn acpi_root(bytes: &[u8]) -> Option<AcpiRoot> {
    let sums_to_zero = |b: &[u8]| b.iter().fold(0u8, |s, &x| s.wrapping_add(x)) == 0;
    let v1 = bytes.get(..20)?;
    if !v1.starts_with(b"RSD PTR ") || !sums_to_zero(v1) {
        return None;
    }
    let revision = v1[15];
    if revision >= 2
        && let Some(v2) = bytes.get(..36).filter(|b| sums_to_zero(b))
        && u64_at(v2, 24) != 0
    {
        return Some(AcpiRoot {
            table: u64_at(v2, 24),
            entry_size: 8,
            revision,
        });
    }
    Some(AcpiRoot {
        table: u64::from(u32_at(v1, 16)),
        entry_size: 4,
        revision,
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Physical memory for a test: 2 MiB from address 0.
    struct Memory(&'static mut [u8]);

    impl Memory {
        fn new() -> Self {
            Memory(Box::leak(vec![0u8; 2 << 20].into_boxed_slice()))
        }

        fn put(&mut self, at: u64, bytes: &[u8]) {
            self.0[at as usize..at as usize + bytes.len()].copy_from_slice(bytes);
        }

        fn parse(self, phys: u64) -> Result<Pvh, PvhError> {
            let memory: &'static [u8] = self.0;
            Pvh::parse(phys, &|at, len| {
                memory.get(at as usize..(at as usize).checked_add(len)?)
            })
        }
    }

    const INFO: u64 = 0x1000;
    const MODLIST: u64 = 0x2000;
    const COMMAND_LINE: u64 = 0x3000;
    const MEMMAP: u64 = 0x4000;
    const RSDP: u64 = 0x5000;
    const ARCHIVE: u64 = 0x10_0000;

    /// An RSDP of `revision` naming RSDT 0x1234 and XSDT 0x5678.
    fn rsdp(revision: u8) -> [u8; 36] {
        let mut r = [0u8; 36];
        r[..8].copy_from_slice(b"RSD PTR ");
        r[15] = revision;
        r[16..20].copy_from_slice(&0x1234u32.to_le_bytes());
        r[20..24].copy_from_slice(&36u32.to_le_bytes());
        r[24..32].copy_from_slice(&0x5678u64.to_le_bytes());
        let sum = |b: &[u8]| b.iter().fold(0u8, |s, &x| s.wrapping_add(x));
        r[8] = 0u8.wrapping_sub(sum(&r[..20]));
        r[32] = 0u8.wrapping_sub(sum(&r));
        r
    }

    /// Memory holding what QEMU's PVH option ROM passes: the start info,
    /// two memory-map entries, a command line, an RSDP and one archive
    /// of two modules.
    fn booted() -> Memory {
        let mut m = Memory::new();
        let mut info = [0u8; START_INFO];
        info[..4].copy_from_slice(&MAGIC.to_le_bytes());
        info[4..8].copy_from_slice(&1u32.to_le_bytes());
        info[12..16].copy_from_slice(&1u32.to_le_bytes());
        for (at, value) in [(16, MODLIST), (24, COMMAND_LINE), (32, RSDP), (40, MEMMAP)] {
            info[at..at + 8].copy_from_slice(&value.to_le_bytes());
        }
        info[48..52].copy_from_slice(&2u32.to_le_bytes());
        m.put(INFO, &info);
        let mut map = [0u8; 2 * MEMMAP_ENTRY];
        for (i, (start, len, ty)) in [(0u64, 0x9fc00u64, 1u32), (0x10_0000, 0x10_0000, 1)]
            .into_iter()
            .enumerate()
        {
            let e = &mut map[i * MEMMAP_ENTRY..];
            e[..8].copy_from_slice(&start.to_le_bytes());
            e[8..16].copy_from_slice(&len.to_le_bytes());
            e[16..20].copy_from_slice(&ty.to_le_bytes());
        }
        m.put(MEMMAP, &map);
        m.put(COMMAND_LINE, b"test=boot log=debug\0");
        m.put(RSDP, &rsdp(2));
        let mut header = [0u8; module_archive::PAGE as usize];
        module_archive::header(&[("roottask", 5), ("bin/net", 3)], &mut header).unwrap();
        m.put(ARCHIVE, &header);
        m.put(ARCHIVE + 0x1000, b"init!");
        m.put(ARCHIVE + 0x2000, b"net");
        let mut entry = [0u8; MODLIST_ENTRY];
        entry[..8].copy_from_slice(&ARCHIVE.to_le_bytes());
        entry[8..16].copy_from_slice(&0x2003u64.to_le_bytes());
        m.put(MODLIST, &entry);
        m
    }

    #[test]
    fn the_start_info_is_read_whole() {
        let pvh = booted().parse(INFO).unwrap();
        assert_eq!(pvh.command_line(), "test=boot log=debug");
        let map: Vec<_> = pvh.memory_map().map(|r| (r.start, r.len, r.kind)).collect();
        assert_eq!(
            map,
            [
                (0, 0x9fc00, RegionKind::Usable),
                (0x10_0000, 0x10_0000, RegionKind::Usable)
            ]
        );
        let modules: Vec<_> = pvh.modules().map(|m| (m.name, m.range)).collect();
        assert_eq!(
            modules,
            [
                (
                    "roottask",
                    PhysRange::new(ARCHIVE + 0x1000, ARCHIVE + 0x1005)
                ),
                (
                    "bin/net",
                    PhysRange::new(ARCHIVE + 0x2000, ARCHIVE + 0x2003)
                ),
            ]
        );
        assert_eq!(pvh.own_range(), PhysRange::new(ARCHIVE, ARCHIVE + 0x2003));
        let acpi = pvh.acpi_root().unwrap();
        assert_eq!((acpi.table, acpi.entry_size, acpi.revision), (0x5678, 8, 2));
    }

    #[test]
    fn the_rsdp_is_checked_and_found_without_an_address() {
        // Revision 0: the RSDT, whatever follows the first 20 bytes.
        let root = acpi_root(&rsdp(0)).unwrap();
        assert_eq!((root.table, root.entry_size), (0x1234, 4));
        // A bad extended checksum: the RSDT.
        let mut r = rsdp(2);
        r[33] = 1;
        assert_eq!(acpi_root(&r).unwrap().table, 0x1234);
        // A bad checksum: none.
        r[9] ^= 1;
        assert!(acpi_root(&r).is_none());

        let mut m = booted();
        m.put(INFO + 32, &0u64.to_le_bytes());
        m.put(RSDP, &[0; 36]);
        m.put(BIOS_AREA.0 + 0x30, b"RSD PTR not one");
        m.put(BIOS_AREA.0 + 0x40, &rsdp(2));
        assert_eq!(m.parse(INFO).unwrap().acpi_root().unwrap().table, 0x5678);
        let mut none = booted();
        none.put(INFO + 32, &0u64.to_le_bytes());
        assert!(none.parse(INFO).unwrap().acpi_root().is_none());
    }

    #[test]
    fn unusable_start_infos_are_refused_with_the_reason() {
        let with = |at: u64, bytes: &[u8]| {
            let mut m = booted();
            m.put(at, bytes);
            m.parse(INFO).err()
        };
        assert!(matches!(with(INFO, &[0; 4]), Some(PvhError::BadMagic(0))));
        assert!(matches!(
            with(INFO + 4, &[0; 4]),
            Some(PvhError::NoMemoryMap)
        ));
        assert!(matches!(
            with(INFO + 48, &129u32.to_le_bytes()),
            Some(PvhError::TooManyRegions(129))
        ));
        assert!(matches!(
            with(INFO + 40, &(3u64 << 20).to_le_bytes()),
            Some(PvhError::Unreachable(_))
        ));
        assert!(matches!(
            with(INFO + 12, &2u32.to_le_bytes()),
            Some(PvhError::Modules(2))
        ));
        assert!(matches!(
            with(MODLIST, &(ARCHIVE + 8).to_le_bytes()),
            Some(PvhError::ArchiveMisaligned(_))
        ));
        assert!(matches!(
            with(ARCHIVE, b"BSLTMODX"),
            Some(PvhError::Archive(ArchiveError::BadMagic))
        ));
        assert!(matches!(
            with(COMMAND_LINE, &[b'x'; COMMAND_LINE_MAX]),
            Some(PvhError::CommandLine)
        ));
        assert!(matches!(
            with(COMMAND_LINE, &[0xff, 0]),
            Some(PvhError::CommandLine)
        ));
        // No modules and no command line: a kernel alone.
        let mut m = booted();
        m.put(INFO + 12, &0u32.to_le_bytes());
        m.put(INFO + 24, &0u64.to_le_bytes());
        let pvh = m.parse(INFO).unwrap();
        assert_eq!((pvh.modules().count(), pvh.command_line()), (0, ""));
    }
}
