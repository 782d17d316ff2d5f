//! The local APIC timer: calibrated against the PIT, then run in
//! TSC-deadline mode where the CPU has it, else in periodic mode. It is the
//! kernel's tick (preemption arrives with the scheduler).

use super::apic::{self, LVT_MASKED, reg};
use super::trap::vector;
use super::{cpu, pit};
use core::sync::atomic::{AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_TSC_DEADLINE: u32 = 0x6e0;
const LVT_PERIODIC: u32 = 1 << 17;
const LVT_TSC_DEADLINE: u32 = 2 << 17;
/// APIC timer divide configuration value for "divide by 16".
const DIVIDE_BY_16: u32 = 0b0011;

/// The tick period.
pub const TICK_US: u64 = 10_000;
const CALIBRATION_US: u64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerMode {
    TscDeadline,
    Periodic,
}

/// The calibration result.
#[derive(Clone, Copy, Debug)]
pub struct Timer {
    pub mode: TimerMode,
    pub tsc_hz: u64,
    /// APIC timer input after the divider.
    pub apic_hz: u64,
}

static TICKS: AtomicU64 = AtomicU64::new(0);
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// TSC cycles per tick in TSC-deadline mode; 0 in periodic mode.
static DEADLINE_STEP: AtomicU64 = AtomicU64::new(0);

/// Measures the TSC and APIC timer rates against the PIT.
fn calibrate() -> (u64, u64) {
    apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_16);
    apic::write(reg::LVT_TIMER, LVT_MASKED);
    let (mut tsc0, mut tsc1, mut apic1) = (0, 0, 0);
    pit::measure(
        CALIBRATION_US,
        || {
            apic::write(reg::TIMER_INITIAL, u32::MAX);
            tsc0 = cpu::rdtsc();
        },
        || {
            apic1 = apic::read(reg::TIMER_CURRENT);
            tsc1 = cpu::rdtsc();
        },
    );
    apic::write(reg::TIMER_INITIAL, 0);
    let per_second = 1_000_000 / CALIBRATION_US;
    (
        (tsc1 - tsc0) * per_second,
        u64::from(u32::MAX - apic1) * per_second,
    )
}

/// Calibrates and starts the tick. Interrupts are still off; the first
/// tick arrives once the caller enables them.
pub fn start(features: &cpu::Features) -> Timer {
    let (tsc_hz, apic_hz) = calibrate();
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    BOOT_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
    let vector = u32::from(vector::TIMER);
    let mode = if features.tsc_deadline && tsc_hz > 0 {
        let step = tsc_hz * TICK_US / 1_000_000;
        DEADLINE_STEP.store(step, Ordering::Relaxed);
        apic::write(reg::LVT_TIMER, LVT_TSC_DEADLINE | vector);
        arm_deadline(step);
        TimerMode::TscDeadline
    } else {
        apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_16);
        apic::write(reg::LVT_TIMER, LVT_PERIODIC | vector);
        let count = (apic_hz * TICK_US / 1_000_000).clamp(1, u64::from(u32::MAX));
        apic::write(reg::TIMER_INITIAL, count as u32);
        TimerMode::Periodic
    };
    Timer {
        mode,
        tsc_hz,
        apic_hz,
    }
}

fn arm_deadline(step: u64) {
    // SAFETY: IA32_TSC_DEADLINE exists (CPUID said so before this mode was
    // chosen); writing it only schedules the next timer interrupt.
    unsafe { Msr::new(IA32_TSC_DEADLINE).write(cpu::rdtsc() + step) };
}

/// Called from the timer interrupt.
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    let step = DEADLINE_STEP.load(Ordering::Relaxed);
    if step != 0 {
        arm_deadline(step);
    }
}

/// The calibrated TSC frequency in Hz (0 before `start`).
pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Timer interrupts taken since `start`.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Nanoseconds since `start` (0 before it).
pub fn nanos_since_boot() -> u64 {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        return 0;
    }
    let cycles = cpu::rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed));
    (u128::from(cycles) * 1_000_000_000 / u128::from(hz)) as u64
}

/// Spins for `micros` microseconds.
pub fn busy_wait_us(micros: u64) {
    let hz = TSC_HZ.load(Ordering::Relaxed);
    if hz == 0 {
        pit::measure(micros, || {}, || {});
        return;
    }
    let end = cpu::rdtsc() + hz * micros / 1_000_000;
    while cpu::rdtsc() < end {
        core::hint::spin_loop();
    }
}

/// The wall-clock time from the RTC, with the TSC at the moment it was read
/// (all zero if the RTC holds no valid time).
pub fn wall_clock() -> basalt_abi::boot_info::WallClock {
    let tsc = cpu::rdtsc();
    super::rtc::unix_time().map_or_else(Default::default, |seconds| {
        basalt_abi::boot_info::WallClock {
            unix_ms: seconds * 1000,
            tsc,
        }
    })
}
