//! IOAPICs: found through the MADT, mapped uncached, every input masked at
//! boot; `irq.rs` routes lines to vectors as IRQ handlers are bound.

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

    /// Routes `input` to `vector` on the CPU with APIC id `apic_id`,
    /// masked or not.
    pub fn route(
        &self,
        input: u32,
        vector: u8,
        apic_id: u32,
        active_low: bool,
        level: bool,
        masked: bool,
    ) {
        let mut low = u32::from(vector);
        if active_low {
            low |= 1 << 13;
        }
        if level {
            low |= 1 << 15;
        }
        if masked {
            low |= MASKED;
        }
        self.write(REDIRECTION_BASE + 2 * input + 1, apic_id << 24);
        self.write(REDIRECTION_BASE + 2 * input, low);
    }

    /// Masks or unmasks `input`, keeping its routing.
    pub fn set_masked(&self, input: u32, masked: bool) {
        let low = self.read(REDIRECTION_BASE + 2 * input);
        let low = if masked { low | MASKED } else { low & !MASKED };
        self.write(REDIRECTION_BASE + 2 * input, low);
    }

    pub fn mask_all(&self) {
        for input in 0..self.inputs() {
            self.write(REDIRECTION_BASE + 2 * input, MASKED);
            self.write(REDIRECTION_BASE + 2 * input + 1, 0);
        }
    }
}
