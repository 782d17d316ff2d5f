//! The firmware's memory map, reduced to what the kernel needs: how much RAM
//! the machine has and which page-aligned ranges are free to hand out.
//!
//! Firmware maps are untidy: entries overlap, are unaligned, and mix usable
//! RAM with holes. Where a usable entry and any other entry overlap, the other
//! one wins, so a page is free only if nothing claims it.

use super::{PhysRange, RangeSet, RangeSetFull, page_ceil, page_floor};

/// What a memory-map entry says about its range.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RegionKind {
    /// RAM the kernel may use.
    Usable,
    /// RAM holding ACPI tables; reusable once they have been read.
    AcpiReclaimable,
    /// RAM the firmware keeps across sleep states.
    AcpiNvs,
    /// Anything else the firmware keeps: its own code and data, MMIO, holes.
    Reserved,
    /// RAM reported as faulty.
    Defective,
}

impl RegionKind {
    /// Classifies a Multiboot2 (E820-style) memory-map entry type.
    pub const fn from_e820(typ: u32) -> Self {
        match typ {
            1 => Self::Usable,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Defective,
            _ => Self::Reserved,
        }
    }

    /// Classifies a UEFI memory descriptor type. Boot-services and loader
    /// memory is free once the loader has exited boot services; the parts of
    /// it that still matter (the boot information, the modules, the kernel)
    /// are reserved separately by the caller.
    pub const fn from_efi(typ: u32) -> Self {
        match typ {
            // LoaderCode, LoaderData, BootServicesCode, BootServicesData,
            // ConventionalMemory.
            1 | 2 | 3 | 4 | 7 => Self::Usable,
            8 => Self::Defective,
            9 => Self::AcpiReclaimable,
            10 => Self::AcpiNvs,
            _ => Self::Reserved,
        }
    }

    /// Whether the range is backed by RAM (counted in the machine's total).
    pub const fn is_ram(self) -> bool {
        matches!(self, Self::Usable | Self::AcpiReclaimable | Self::AcpiNvs)
    }
}

/// One memory-map entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub kind: RegionKind,
}

impl Region {
    pub const fn new(start: u64, len: u64, kind: RegionKind) -> Self {
        Self { start, len, kind }
    }

    const fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    /// The whole pages inside the entry.
    const fn inner_pages(&self) -> PhysRange {
        PhysRange::new(page_ceil(self.start), page_floor(self.end()))
    }

    /// Every page the entry touches.
    const fn outer_pages(&self) -> PhysRange {
        PhysRange::new(page_floor(self.start), page_ceil(self.end()))
    }
}

/// The memory map was too fragmented for the fixed-size tables.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum MemoryMapError {
    TooFragmented,
}

impl From<RangeSetFull> for MemoryMapError {
    fn from(_: RangeSetFull) -> Self {
        Self::TooFragmented
    }
}

/// RAM and free memory computed from a memory map.
pub struct FreeMemory<const N: usize> {
    /// Every byte of RAM, usable or not (for the boot summary).
    pub ram: RangeSet<N>,
    /// Page-aligned ranges nobody claims.
    pub free: RangeSet<N>,
}

impl<const N: usize> FreeMemory<N> {
    /// Computes free memory from the map's `regions`, minus `reserved`
    /// (the kernel image, boot modules, boot information, low memory).
    pub fn from_map<I>(regions: I, reserved: &[PhysRange]) -> Result<Self, MemoryMapError>
    where
        I: Iterator<Item = Region> + Clone,
    {
        let mut ram = RangeSet::new();
        let mut free = RangeSet::new();
        for region in regions.clone() {
            if region.kind.is_ram() {
                ram.insert(PhysRange::new(region.start, region.end()))?;
            }
            if region.kind == RegionKind::Usable {
                free.insert(region.inner_pages())?;
            }
        }
        for region in regions.filter(|r| r.kind != RegionKind::Usable) {
            free.remove(region.outer_pages())?;
        }
        for r in reserved {
            free.remove(PhysRange::new(page_floor(r.start), page_ceil(r.end)))?;
        }
        Ok(Self { ram, free })
    }
}

#[cfg(test)]
mod tests {
    use super::RegionKind::*;
    use super::*;

    const MIB: u64 = 1 << 20;

    fn free(regions: &[Region], reserved: &[PhysRange]) -> Vec<(u64, u64)> {
        let m = FreeMemory::<16>::from_map(regions.iter().copied(), reserved).unwrap();
        m.free.as_slice().iter().map(|r| (r.start, r.end)).collect()
    }

    /// The map SeaBIOS gives a 128 MiB q35 guest.
    fn seabios_128m() -> [Region; 5] {
        [
            Region::new(0, 0x9fc00, Usable),
            Region::new(0x9fc00, 0x400, Reserved),
            Region::new(0xf0000, 0x10000, Reserved),
            Region::new(MIB, 0x7fe_0000 - MIB, Usable),
            Region::new(0x7fe_0000, 0x2_0000, Reserved),
        ]
    }

    #[test]
    fn holes_stay_out_and_edges_round_inwards() {
        let got = free(&seabios_128m(), &[]);
        assert_eq!(got, [(0, 0x9f000), (MIB, 0x7fe_0000)]);
    }

    #[test]
    fn reserved_ranges_are_cut_out() {
        let kernel = PhysRange::new(2 * MIB, 2 * MIB + 0x5123);
        let module = PhysRange::new(0x30_0800, 0x30_0900);
        let low = PhysRange::new(0, MIB);
        let got = free(&seabios_128m(), &[low, kernel, module]);
        assert_eq!(
            got,
            [
                (MIB, 2 * MIB),
                (2 * MIB + 0x6000, 0x30_0000),
                (0x30_1000, 0x7fe_0000)
            ]
        );
    }

    #[test]
    fn overlapping_entries_resolve_to_the_reserved_one() {
        let map = [
            Region::new(0, 64 * MIB, Usable),
            Region::new(10 * MIB + 5, 3, AcpiNvs),
            Region::new(60 * MIB, 8 * MIB, Reserved),
            Region::new(20 * MIB, MIB, Defective),
        ];
        let got = free(&map, &[]);
        assert_eq!(
            got,
            [
                (0, 10 * MIB),
                (10 * MIB + 4096, 20 * MIB),
                (21 * MIB, 60 * MIB)
            ]
        );
    }

    #[test]
    fn duplicate_usable_entries_are_counted_once() {
        let map = [
            Region::new(MIB, 4 * MIB, Usable),
            Region::new(2 * MIB, 4 * MIB, Usable),
        ];
        let m = FreeMemory::<4>::from_map(map.iter().copied(), &[]).unwrap();
        assert_eq!(m.ram.total(), 5 * MIB);
        assert_eq!(m.free.total(), 5 * MIB);
    }

    #[test]
    fn ram_total_counts_acpi_memory_but_not_holes() {
        let map = seabios_128m();
        let m = FreeMemory::<16>::from_map(map.iter().copied(), &[]).unwrap();
        assert_eq!(m.ram.total(), 0x9fc00 + 0x7fe_0000 - MIB);
        let map = [
            Region::new(0, MIB, Usable),
            Region::new(MIB, MIB, AcpiReclaimable),
        ];
        let m = FreeMemory::<16>::from_map(map.iter().copied(), &[]).unwrap();
        assert_eq!(m.ram.total(), 2 * MIB);
        assert_eq!(m.free.total(), MIB);
    }

    #[test]
    fn entries_that_wrap_the_address_space_are_clipped() {
        let map = [Region::new(u64::MAX - 0x1fff, 0x10000, Usable)];
        let got = free(&map, &[]);
        assert_eq!(got, [(u64::MAX - 0x1fff, u64::MAX - 0xfff)]);
    }

    #[test]
    fn a_map_too_fragmented_for_the_table_is_an_error() {
        let map: Vec<Region> = (0..8)
            .map(|i| Region::new(i * 2 * MIB, MIB, Usable))
            .collect();
        let r = FreeMemory::<4>::from_map(map.iter().copied(), &[]);
        assert_eq!(r.err(), Some(MemoryMapError::TooFragmented));
    }

    #[test]
    fn efi_types_classify_like_the_spec() {
        let kinds: Vec<RegionKind> = (0..16).map(RegionKind::from_efi).collect();
        assert_eq!(kinds[7], Usable);
        assert_eq!(kinds[3], Usable);
        assert_eq!(kinds[4], Usable);
        assert_eq!(kinds[5], Reserved, "runtime services code must survive");
        assert_eq!(kinds[6], Reserved, "runtime services data must survive");
        assert_eq!(kinds[9], AcpiReclaimable);
        assert_eq!(kinds[10], AcpiNvs);
        assert_eq!(kinds[11], Reserved, "MMIO is not RAM");
        assert_eq!(kinds[8], Defective);
        assert_eq!(RegionKind::from_e820(1), Usable);
        assert_eq!(RegionKind::from_e820(2), Reserved);
        assert_eq!(
            RegionKind::from_e820(12),
            Reserved,
            "unknown types are reserved"
        );
    }
}
