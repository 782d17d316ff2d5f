//! IOAPICs: found through the MADT, mapped uncached, every input masked at
//! boot. Routing a line to a vector (honouring the MADT's interrupt source
//! overrides) arrives with interrupt handlers.

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_VERSION: u32 = 0x01;
const REDIRECTION_BASE: u32 = 0x10;
const MASKED: u32 = 1 << 16;

pub struct IoApic {
    base: u64,
}

impl IoApic {
    /// # Safety
    /// `base` must map an IOAPIC's registers, uncached, for the kernel's
    /// lifetime, and nothing else may drive this IOAPIC.
    pub unsafe fn new(base: u64) -> Self {
        Self { base }
    }

    fn read(&self, reg: u32) -> u32 {
        // SAFETY: `new`'s contract: the registers are mapped and ours.
        unsafe {
            ((self.base + IOREGSEL) as *mut u32).write_volatile(reg);
            ((self.base + IOWIN) as *const u32).read_volatile()
        }
    }

    fn write(&self, reg: u32, value: u32) {
        // SAFETY: as in `read`.
        unsafe {
            ((self.base + IOREGSEL) as *mut u32).write_volatile(reg);
            ((self.base + IOWIN) as *mut u32).write_volatile(value);
        }
    }

    /// Number of interrupt inputs.
    pub fn inputs(&self) -> u32 {
        ((self.read(REG_VERSION) >> 16) & 0xff) + 1
    }

    pub fn mask_all(&self) {
        for input in 0..self.inputs() {
            self.write(REDIRECTION_BASE + 2 * input, MASKED);
            self.write(REDIRECTION_BASE + 2 * input + 1, 0);
        }
    }
}
