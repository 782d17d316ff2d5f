//! The local APIC, in x2APIC mode (MSRs) where the CPU has it, else in
//! xAPIC mode (MMIO).

use super::trap::vector;
use spin::Once;
use x86_64::registers::model_specific::Msr;

const IA32_APIC_BASE: u32 = 0x1b;
const APIC_GLOBAL_ENABLE: u64 = 1 << 11;
const APIC_X2_ENABLE: u64 = 1 << 10;

/// Register offsets in the xAPIC MMIO page; x2APIC MSR = 0x800 + offset/16.
pub mod reg {
    pub const ID: u32 = 0x20;
    pub const TASK_PRIORITY: u32 = 0x80;
    pub const EOI: u32 = 0xb0;
    pub const SPURIOUS: u32 = 0xf0;
    pub const IN_SERVICE: u32 = 0x100;
    pub const LVT_TIMER: u32 = 0x320;
    pub const LVT_LINT0: u32 = 0x350;
    pub const LVT_ERROR: u32 = 0x370;
    pub const TIMER_INITIAL: u32 = 0x380;
    pub const TIMER_CURRENT: u32 = 0x390;
    pub const TIMER_DIVIDE: u32 = 0x3e0;
}

/// LVT mask bit.
pub const LVT_MASKED: u32 = 1 << 16;

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    X2Apic,
    /// xAPIC registers mapped at this virtual address.
    XApic(u64),
}

static MODE: Once<Mode> = Once::new();

pub fn mode() -> Option<Mode> {
    MODE.get().copied()
}

pub fn read(offset: u32) -> u32 {
    match MODE.get() {
        // SAFETY: x2APIC mode is enabled, so the APIC MSR range exists.
        Some(Mode::X2Apic) => unsafe { Msr::new(0x800 + (offset >> 4)).read() as u32 },
        // SAFETY: the page at `base` maps the local APIC registers uncached.
        Some(Mode::XApic(base)) => unsafe {
            ((base + u64::from(offset)) as *const u32).read_volatile()
        },
        None => 0,
    }
}

pub fn write(offset: u32, value: u32) {
    match MODE.get() {
        // SAFETY: as in `read`; writes to these registers only configure the
        // APIC the kernel owns.
        Some(Mode::X2Apic) => unsafe { Msr::new(0x800 + (offset >> 4)).write(u64::from(value)) },
        // SAFETY: as in `read`.
        Some(Mode::XApic(base)) => unsafe {
            ((base + u64::from(offset)) as *mut u32).write_volatile(value)
        },
        None => {}
    }
}

/// Enables the local APIC in `mode`: spurious vector set, all priorities
/// accepted, LINT0 (the PICs' ExtINT line) masked.
pub fn init(mode: Mode) {
    let mut base = Msr::new(IA32_APIC_BASE);
    // SAFETY: setting the global-enable (and, where supported, x2APIC) bits
    // of IA32_APIC_BASE keeps the base address the firmware chose.
    unsafe {
        let mut value = base.read() | APIC_GLOBAL_ENABLE;
        if matches!(mode, Mode::X2Apic) {
            value |= APIC_X2_ENABLE;
        }
        base.write(value);
    }
    MODE.call_once(|| mode);
    write(reg::TASK_PRIORITY, 0);
    write(reg::LVT_LINT0, LVT_MASKED);
    write(reg::LVT_ERROR, LVT_MASKED);
    write(reg::SPURIOUS, 0x100 | u32::from(vector::SPURIOUS));
}

/// This CPU's APIC id.
pub fn id() -> u32 {
    match MODE.get() {
        Some(Mode::X2Apic) => read(reg::ID),
        _ => read(reg::ID) >> 24,
    }
}

/// Whether the APIC has `vector` in service: the CPU is handling it as an
/// interrupt the APIC delivered (the in-service register, ISR, holds 256
/// bits in eight 32-bit registers 0x10 apart).
pub fn in_service(vector: u8) -> bool {
    let word = read(reg::IN_SERVICE + 0x10 * u32::from(vector / 32));
    word & (1 << (vector % 32)) != 0
}

pub fn end_of_interrupt() {
    write(reg::EOI, 0);
}
