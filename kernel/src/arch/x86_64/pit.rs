//! The 8254 PIT, used only as a known time base to calibrate the TSC and
//! the local APIC timer (channel 2, whose output can be polled).

use x86_64::instructions::port::Port;

/// The PIT's input clock.
pub const FREQUENCY_HZ: u64 = 1_193_182;

/// Counts down `micros` microseconds on the PIT, calling `before` right
/// after the countdown starts and `after` right after it ends.
pub fn measure(micros: u64, before: impl FnOnce(), after: impl FnOnce()) {
    let count = (FREQUENCY_HZ * micros / 1_000_000).clamp(1, 0xffff) as u16;
    let mut gate = Port::<u8>::new(0x61);
    let mut command = Port::<u8>::new(0x43);
    let mut channel2 = Port::<u8>::new(0x42);
    // SAFETY: the PIT and the port-0x61 gate belong to the kernel; channel
    // 2 drives only the (gated off) speaker.
    unsafe {
        let g = gate.read() & !0x03;
        gate.write(g);
        command.write(0b1011_0000); // channel 2, low then high byte, mode 0
        channel2.write(count as u8);
        channel2.write((count >> 8) as u8);
        gate.write(g | 0x01);
        before();
        while gate.read() & 0x20 == 0 {
            core::hint::spin_loop();
        }
        after();
        gate.write(g);
    }
}
