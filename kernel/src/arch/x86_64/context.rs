//! A thread's machine state as its TCB keeps it: the user registers saved
//! on kernel entry and the x87/SSE registers, and the system-call ABI's
//! view of the registers for the portable kernel ([`UserRegisters`]).

use crate::object::registers::UserRegisters;
use basalt_abi::{MessageInfo, REGISTER_WORDS};

/// RFLAGS of a new thread: interrupts enabled (bit 1 is always set).
pub const INITIAL_RFLAGS: u64 = 0x202;

/// The registers of a user thread, saved on kernel entry. The entry and
/// exit code (`user.rs`) depends on this order.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct UserContext {
    pub(in crate::arch) r15: u64,
    pub(in crate::arch) r14: u64,
    pub(in crate::arch) r13: u64,
    pub(in crate::arch) r12: u64,
    pub(in crate::arch) r11: u64,
    pub(in crate::arch) r10: u64,
    pub(in crate::arch) r9: u64,
    pub(in crate::arch) r8: u64,
    pub(in crate::arch) rbp: u64,
    pub(in crate::arch) rdi: u64,
    pub(in crate::arch) rsi: u64,
    pub(in crate::arch) rdx: u64,
    pub(in crate::arch) rcx: u64,
    pub(in crate::arch) rbx: u64,
    pub(in crate::arch) rax: u64,
    pub(in crate::arch) rip: u64,
    pub(in crate::arch) rsp: u64,
    pub(in crate::arch) rflags: u64,
}

impl UserContext {
    /// A new thread's registers: all zero but the flags.
    pub const NEW: Self = Self {
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        r11: 0,
        r10: 0,
        r9: 0,
        r8: 0,
        rbp: 0,
        rdi: 0,
        rsi: 0,
        rdx: 0,
        rcx: 0,
        rbx: 0,
        rax: 0,
        rip: 0,
        rsp: 0,
        rflags: INITIAL_RFLAGS,
    };
}

/// Message words 0-3 travel in `rdx`, `r10`, `r8`, `r9`; the result in
/// `rax` (status), `rdi` (badge) and `rsi` (message info).
impl UserRegisters for UserContext {
    fn message(&self) -> [u64; REGISTER_WORDS] {
        [self.rdx, self.r10, self.r8, self.r9]
    }

    fn set_result(
        &mut self,
        status: u64,
        badge: u64,
        info: MessageInfo,
        words: [u64; REGISTER_WORDS],
    ) {
        self.rax = status;
        self.rdi = badge;
        self.rsi = info.0;
        [self.rdx, self.r10, self.r8, self.r9] = words;
    }

    fn restart_at(&mut self, pc: u64, sp: u64) {
        (self.rip, self.rsp, self.rflags) = (pc, sp, INITIAL_RFLAGS);
    }

    fn set_arguments(&mut self, [a0, a1]: [u64; 2]) {
        (self.rdi, self.rsi) = (a0, a1);
    }

    fn report(&self) -> [u64; REGISTER_WORDS] {
        [self.rip, self.rsp, self.rflags, self.rax]
    }

    #[cfg(test)]
    fn result(&self) -> (u64, u64, MessageInfo, [u64; REGISTER_WORDS]) {
        (self.rax, self.rdi, MessageInfo(self.rsi), self.message())
    }

    #[cfg(test)]
    fn set_message(&mut self, words: [u64; REGISTER_WORDS]) {
        [self.rdx, self.r10, self.r8, self.r9] = words;
    }
}

/// A thread's x87 and SSE registers, in the layout `fxsave` writes.
#[derive(Clone, Copy)]
#[repr(C, align(16))]
pub struct FpuState {
    pub bytes: [u8; 512],
}

impl FpuState {
    /// Where MXCSR lives in the image.
    const MXCSR: usize = 24;
    /// MXCSR after reset: every SIMD exception masked, round to nearest.
    const MXCSR_DEFAULT: u32 = 0x1f80;
    /// The x87 control word after `fninit`: every exception masked,
    /// 64-bit precision, round to nearest.
    const FCW_DEFAULT: u16 = 0x037f;

    /// The state of a thread that has not used the FPU yet.
    pub const fn clean() -> Self {
        let mut bytes = [0u8; 512];
        let fcw = Self::FCW_DEFAULT.to_le_bytes();
        bytes[0] = fcw[0];
        bytes[1] = fcw[1];
        let mxcsr = Self::MXCSR_DEFAULT.to_le_bytes();
        let mut i = 0;
        while i < 4 {
            bytes[Self::MXCSR + i] = mxcsr[i];
            i += 1;
        }
        Self { bytes }
    }
}
