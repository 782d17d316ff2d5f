//! The local APIC timer: calibrated against the PIT, then run one-shot,
//! in TSC-deadline mode where the CPU has it, else counting down. It fires
//! only when something is due (see [`arm`]): the end of a running thread's
//! time slice, or the earliest deadline of a timed wait. An idle CPU with
//! no timed waits takes no timer interrupts at all (tickless).

use super::apic::{self, LVT_MASKED, reg};
use super::trap::vector;
use super::{cpu, pit};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use x86_64::registers::model_specific::Msr;

const IA32_TSC_DEADLINE: u32 = 0x6e0;
const LVT_ONE_SHOT: u32 = 0;
const LVT_TSC_DEADLINE: u32 = 2 << 17;
/// APIC timer divide configuration value for "divide by 16".
const DIVIDE_BY_16: u32 = 0b0011;

/// A time slice: how long a thread runs before one of its priority gets
/// the CPU.
pub const SLICE_US: u64 = 10_000;
const CALIBRATION_US: u64 = 10_000;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum TimerMode {
    TscDeadline,
    /// One-shot count-down of the APIC timer's own clock.
    OneShot,
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
static APIC_HZ: AtomicU64 = AtomicU64::new(0);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
/// Whether the TSC-deadline mode is in use.
static TSC_DEADLINE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// The TSC time the timer is set for (0: not set), so that setting it
/// again for the same time costs nothing.
static ARMED: AtomicU64 = AtomicU64::new(0);
/// [`ARMED`] was set by [`arm_slice`], so it is no later than one slice
/// after the moment it was set, and so than one slice from now.
static SLICE_ARMED: AtomicBool = AtomicBool::new(false);

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

/// Calibrates the timer and sets it up, one-shot and not yet set: the
/// scheduler sets it ([`arm`]) before it first runs a thread.
pub fn start(features: &cpu::Features) -> Timer {
    let (tsc_hz, apic_hz) = calibrate();
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    APIC_HZ.store(apic_hz, Ordering::Relaxed);
    BOOT_TSC.store(cpu::rdtsc(), Ordering::Relaxed);
    let vector = u32::from(vector::TIMER);
    let mode = if features.tsc_deadline && tsc_hz > 0 {
        TSC_DEADLINE.store(true, Ordering::Relaxed);
        apic::write(reg::LVT_TIMER, LVT_TSC_DEADLINE | vector);
        TimerMode::TscDeadline
    } else {
        apic::write(reg::TIMER_DIVIDE, DIVIDE_BY_16);
        apic::write(reg::LVT_TIMER, LVT_ONE_SHOT | vector);
        TimerMode::OneShot
    };
    Timer {
        mode,
        tsc_hz,
        apic_hz,
    }
}

/// Sets the timer to interrupt at TSC time `at` (at once if that has
/// passed), or not at all (`None`). One time at a: setting it replaces the
/// time set before.
pub fn arm(at: Option<u64>) {
    SLICE_ARMED.store(false, Ordering::Relaxed);
    let at = at.map(|t| t.max(1));
    if ARMED.swap(at.unwrap_or(0), Ordering::Relaxed) == at.unwrap_or(0) {
        return;
    }
    if TSC_DEADLINE.load(Ordering::Relaxed) {
        // SAFETY: IA32_TSC_DEADLINE exists (CPUID said so before this mode
        // was chosen); writing it only schedules (0: cancels) the next
        // timer interrupt.
        unsafe { Msr::new(IA32_TSC_DEADLINE).write(at.unwrap_or(0)) };
        return;
    }
    let count = at.map_or(0, |t| {
        let cycles = t.saturating_sub(cpu::rdtsc());
        let hz = TSC_HZ.load(Ordering::Relaxed).max(1);
        let ticks =
            u128::from(cycles) * u128::from(APIC_HZ.load(Ordering::Relaxed)) / u128::from(hz);
        // A time further than the counter reaches interrupts early, and
        // the scheduler sets it again then.
        ticks.clamp(1, u128::from(u32::MAX)) as u32
    });
    apic::write(reg::TIMER_INITIAL, count);
}

/// Sets the timer for the running thread: the end of its slice, or
/// `deadline` (the earliest timed wait's) if that comes first; a time set
/// sooner already stays. A slice's end set since the last interrupt is
/// sooner than a slice from now, so then nothing is read or computed
/// unless `deadline` comes before it: the common case on every IPC
/// switch.
pub fn arm_slice(deadline: Option<u64>) {
    let armed = ARMED.load(Ordering::Relaxed);
    if armed != 0 && SLICE_ARMED.load(Ordering::Relaxed) && deadline.is_none_or(|d| d >= armed) {
        return;
    }
    let end = slice_end();
    arm_by(deadline.map_or(end, |d| d.min(end)));
    // Whatever is set now is no later than `end`.
    SLICE_ARMED.store(true, Ordering::Relaxed);
}

/// Whether the timer is set for the end of the running slice or sooner
/// (what [`arm_slice`] would leave as it is, whatever the deadline).
pub fn slice_armed() -> bool {
    ARMED.load(Ordering::Relaxed) != 0 && SLICE_ARMED.load(Ordering::Relaxed)
}

/// Sets the timer for `at` unless it is set for sooner already.
fn arm_by(at: u64) {
    let armed = ARMED.load(Ordering::Relaxed);
    if armed == 0 || armed > at {
        arm(Some(at));
    }
}

/// The TSC time one time slice from now.
pub fn slice_end() -> u64 {
    cpu::rdtsc() + TSC_HZ.load(Ordering::Relaxed) * SLICE_US / 1_000_000
}

/// Called from the timer interrupt: the time set has come, nothing is set
/// now.
pub fn tick() {
    TICKS.fetch_add(1, Ordering::Relaxed);
    ARMED.store(0, Ordering::Relaxed);
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
