//! Kernel stacks. Each sits directly above a guard page that the kernel's
//! page tables leave unmapped, so an overflow faults instead of corrupting
//! whatever lies below.

use core::cell::UnsafeCell;

const PAGE: usize = 4096;

/// The stack the kernel boots and runs on.
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;
/// Each interrupt-stack-table stack (double fault, NMI, machine check).
pub const IST_STACK_SIZE: usize = 16 * 1024;

#[repr(C, align(4096))]
pub struct GuardedStack<const N: usize> {
    guard: UnsafeCell<[u8; PAGE]>,
    stack: UnsafeCell<[u8; N]>,
}

// SAFETY: the bytes are only ever touched by the CPU as a stack (one user
// each: the boot thread or one IST slot) and never through Rust references.
unsafe impl<const N: usize> Sync for GuardedStack<N> {}

impl<const N: usize> GuardedStack<N> {
    const fn new() -> Self {
        Self {
            guard: UnsafeCell::new([0; PAGE]),
            stack: UnsafeCell::new([0; N]),
        }
    }

    /// Virtual address of the unmapped page below the stack.
    pub fn guard_page(&self) -> u64 {
        self.guard.get() as u64
    }

    /// The initial stack pointer (stacks grow down).
    pub fn top(&self) -> u64 {
        self.stack.get() as u64 + N as u64
    }

    /// Whether `addr` lies in the usable part of the stack.
    pub fn contains(&self, addr: u64) -> bool {
        (self.stack.get() as u64..self.top()).contains(&addr)
    }
}

pub static BOOT_STACK: GuardedStack<KERNEL_STACK_SIZE> = GuardedStack::new();
/// Offset of the boot stack's top from `BOOT_STACK`, for the entry code.
pub const BOOT_STACK_TOP: usize = size_of::<GuardedStack<KERNEL_STACK_SIZE>>();

pub static DOUBLE_FAULT_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
pub static NMI_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();
pub static MACHINE_CHECK_STACK: GuardedStack<IST_STACK_SIZE> = GuardedStack::new();

/// Every guard page, for the page-table builder to leave out.
pub fn guard_pages() -> [u64; 4] {
    [
        BOOT_STACK.guard_page(),
        DOUBLE_FAULT_STACK.guard_page(),
        NMI_STACK.guard_page(),
        MACHINE_CHECK_STACK.guard_page(),
    ]
}

/// Whether `addr` is on any kernel stack (bounds the backtrace walker).
pub fn on_kernel_stack(addr: u64) -> bool {
    BOOT_STACK.contains(addr)
        || DOUBLE_FAULT_STACK.contains(addr)
        || NMI_STACK.contains(addr)
        || MACHINE_CHECK_STACK.contains(addr)
}
