//! CPU feature detection and the control-register hardening switches.

use core::arch::x86_64::{__cpuid_count, CpuidResult};
use x86_64::registers::control::{Cr4, Cr4Flags};

/// The CPUID bits the kernel acts on.
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub smep: bool,
    pub smap: bool,
    pub pcid: bool,
    pub global_pages: bool,
    pub x2apic: bool,
    pub tsc_deadline: bool,
    pub invariant_tsc: bool,
    pub huge_pages_1g: bool,
}

const NO_LEAF: CpuidResult = CpuidResult {
    eax: 0,
    ebx: 0,
    ecx: 0,
    edx: 0,
};

fn cpuid(leaf: u32, subleaf: u32) -> CpuidResult {
    // CPUID exists on every x86_64 CPU and has no side effects.
    __cpuid_count(leaf, subleaf)
}

impl Features {
    pub fn detect() -> Self {
        let max_leaf = cpuid(0, 0).eax;
        let max_ext = cpuid(0x8000_0000, 0).eax;
        let l1 = cpuid(1, 0);
        let l7 = if max_leaf >= 7 { cpuid(7, 0) } else { NO_LEAF };
        let e1 = if max_ext >= 0x8000_0001 {
            cpuid(0x8000_0001, 0)
        } else {
            NO_LEAF
        };
        let e7 = if max_ext >= 0x8000_0007 {
            cpuid(0x8000_0007, 0)
        } else {
            NO_LEAF
        };
        let bit = |reg: u32, n: u32| reg & (1 << n) != 0;
        Self {
            smep: bit(l7.ebx, 7),
            smap: bit(l7.ebx, 20),
            pcid: bit(l1.ecx, 17),
            global_pages: bit(l1.edx, 13),
            x2apic: bit(l1.ecx, 21),
            tsc_deadline: bit(l1.ecx, 24),
            invariant_tsc: bit(e7.edx, 8),
            huge_pages_1g: bit(e1.edx, 26),
        }
    }

    /// Turns on SMEP, SMAP, global pages and PCID where present. Must run
    /// on the kernel's own page tables (no user mappings, PCID 0 in CR3).
    pub fn enable_protections(&self) {
        let mut wanted = Cr4Flags::empty();
        wanted.set(Cr4Flags::SUPERVISOR_MODE_EXECUTION_PROTECTION, self.smep);
        wanted.set(Cr4Flags::SUPERVISOR_MODE_ACCESS_PREVENTION, self.smap);
        wanted.set(Cr4Flags::PAGE_GLOBAL, self.global_pages);
        wanted.set(Cr4Flags::PCID, self.pcid);
        // SAFETY: the kernel maps nothing user-accessible yet, so SMEP/SMAP
        // cannot trip; CR3 carries PCID 0, which enabling PCID requires.
        unsafe { Cr4::update(|flags| flags.insert(wanted)) };
    }
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is left clear.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Stops this CPU for good: interrupts off, halt forever.
pub fn halt_forever() -> ! {
    x86_64::instructions::interrupts::disable();
    loop {
        x86_64::instructions::hlt();
    }
}
