//! The time-stamp counter, the clock components count time with (the
//! start-info page gives its frequency, [`Start::tsc_hz`], and a wall-clock
//! reading to start from, [`Start::unix_time_ms`]).
//!
//! [`Start::tsc_hz`]: crate::Start::tsc_hz
//! [`Start::unix_time_ms`]: crate::Start::unix_time_ms

/// The time-stamp counter (user mode may read it: the kernel leaves
/// CR4.TSD clear); 0 on other architectures (host tests elsewhere).
///
/// ```
/// let a = libcap::time::rdtsc();
/// assert!(libcap::time::rdtsc() >= a);
/// ```
pub fn rdtsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC only reads a counter.
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    0
}
