//! The interrupt descriptor table: every one of the 256 vectors points at
//! its stub in `trap.rs`; the exceptions that must survive a broken stack
//! run on their own IST stacks.

use super::gdt::{IST_DOUBLE_FAULT, IST_MACHINE_CHECK, IST_NMI};
use super::trap::{self, vector};
use core::cell::UnsafeCell;
use x86_64::VirtAddr;
use x86_64::instructions::tables::lidt;
use x86_64::structures::DescriptorTablePointer;
use x86_64::structures::gdt::SegmentSelector;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, DPL 0, 64-bit interrupt gate (interrupts off on entry).
const INTERRUPT_GATE: u8 = 0x8E;
/// The same, callable from user mode with `int3`: a breakpoint becomes a
/// breakpoint fault for the thread's handler, not a protection fault.
const USER_INTERRUPT_GATE: u8 = 0xEE;

impl Gate {
    fn new(handler: u64, code: SegmentSelector, ist: u8, attributes: u8) -> Self {
        Self {
            offset_low: handler as u16,
            selector: code.0,
            ist,
            attributes,
            offset_mid: (handler >> 16) as u16,
            offset_high: (handler >> 32) as u32,
            reserved: 0,
        }
    }
}

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 256]>);

// SAFETY: written once by `init` on the boot CPU before interrupts are
// enabled, read only by the CPU afterwards.
unsafe impl Sync for Idt {}

static IDT: Idt = Idt(UnsafeCell::new(
    [Gate {
        offset_low: 0,
        selector: 0,
        ist: 0,
        attributes: 0,
        offset_mid: 0,
        offset_high: 0,
        reserved: 0,
    }; 256],
));

/// Fills and loads the IDT.
pub fn init(code: SegmentSelector) {
    // SAFETY: single-threaded boot, interrupts off: nothing else reads or
    // writes the table while it is filled.
    let gates = unsafe { &mut *IDT.0.get() };
    for (v, gate) in gates.iter_mut().enumerate() {
        let ist = match v as u8 {
            vector::DOUBLE_FAULT => IST_DOUBLE_FAULT,
            vector::NMI => IST_NMI,
            vector::MACHINE_CHECK => IST_MACHINE_CHECK,
            _ => 0,
        };
        let attributes = if v as u8 == vector::BREAKPOINT {
            USER_INTERRUPT_GATE
        } else {
            INTERRUPT_GATE
        };
        *gate = Gate::new(trap::stub_address(v as u8), code, ist, attributes);
    }
    let pointer = DescriptorTablePointer {
        limit: (size_of::<[Gate; 256]>() - 1) as u16,
        base: VirtAddr::from_ptr(IDT.0.get()),
    };
    // SAFETY: the table is static, fully initialised, and every gate points
    // at a valid stub with a valid code selector.
    unsafe { lidt(&pointer) };
}
