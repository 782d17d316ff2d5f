//! A device's registers in a memory BAR, for drivers that program them
//! directly (the Intel NICs, NVMe): [`Registers`] is what a driver uses,
//! [`Mmio`] the mapped BAR on Basalt, a simulated device in tests.

/// A device's 32-bit registers.
pub trait Registers {
    /// Reads the register at `offset`.
    fn read(&self, offset: u32) -> u32;
    /// Writes the register at `offset`.
    fn write(&mut self, offset: u32, value: u32);
}

/// The registers in a mapped BAR: volatile 32-bit accesses, each checked
/// to lie inside it (an access outside reads all ones and writes
/// nothing, as a PCI read of nothing does).
#[derive(Debug)]
pub struct Mmio {
    base: usize,
    len: usize,
}

impl Mmio {
    /// The registers at `base`, a mapping of `len` bytes; `None` if it is
    /// not 4-byte aligned or shorter than `least` (the registers the
    /// driver uses).
    ///
    /// # Safety
    ///
    /// `base..base + len` is the device's BAR, mapped uncached for the
    /// rest of the program, and only this driver reaches it.
    pub unsafe fn new(base: usize, len: usize, least: usize) -> Option<Self> {
        (base != 0 && base.is_multiple_of(4) && len >= least).then_some(Self { base, len })
    }

    /// The register's address, if it lies inside the BAR.
    fn at(&self, offset: u32) -> Option<usize> {
        let offset = offset as usize;
        (offset.is_multiple_of(4) && offset + 4 <= self.len).then(|| self.base + offset)
    }
}

impl Registers for Mmio {
    fn read(&self, offset: u32) -> u32 {
        match self.at(offset) {
            // SAFETY: inside the mapped BAR and aligned (`new`, `at`).
            Some(a) => unsafe { core::ptr::read_volatile(a as *const u32) },
            None => u32::MAX,
        }
    }

    fn write(&mut self, offset: u32, value: u32) {
        if let Some(a) = self.at(offset) {
            // SAFETY: as in `read`; only this driver writes the device.
            unsafe { core::ptr::write_volatile(a as *mut u32, value) }
        }
    }
}
