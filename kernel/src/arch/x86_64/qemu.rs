//! QEMU's `isa-debug-exit` device, through which self-tests report their
//! result. QEMU exits with status `(code << 1) | 1`.

use x86_64::instructions::port::Port;

const DEBUG_EXIT_PORT: u16 = 0xf4;

/// How a self-test ended.
#[derive(Clone, Copy, Debug)]
#[repr(u32)]
pub enum ExitCode {
    /// QEMU exits with status 33.
    Success = 0x10,
    /// QEMU exits with status 35.
    Failure = 0x11,
}

/// Ends the QEMU run. Only called in self-test mode, which the test runner
/// starts with the device present; should the write not stop the machine,
/// the CPU halts.
pub fn exit(code: ExitCode) -> ! {
    // SAFETY: port 0xf4 is the debug-exit device the test runner attaches;
    // in self-test mode nothing else lives there.
    unsafe { Port::<u32>::new(DEBUG_EXIT_PORT).write(code as u32) };
    super::cpu::halt_forever()
}
