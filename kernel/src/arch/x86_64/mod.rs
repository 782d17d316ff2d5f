//! x86_64 (PC) support: boot, CPU tables, paging, interrupt controllers,
//! timer and console.

pub mod acpi;
pub mod apic;
pub mod boot;
pub mod boot_info;
pub mod context;
pub mod cpu;
#[cfg(target_os = "none")]
mod entry;
pub mod exception;
pub mod fpu;
pub mod gdt;
pub mod idt;
pub mod invoke;
pub mod ioapic;
pub mod irq;
pub mod layout;
pub mod multiboot;
pub mod paging;
#[cfg(target_os = "none")]
mod panic;
pub mod pic;
pub mod pit;
pub mod pvh;
pub mod qemu;
pub mod roottask;
pub mod rtc;
pub mod screen;
pub mod serial;
pub mod stacks;
pub mod state;
pub mod thread;
pub mod timer;
pub mod trap;
pub mod user;
pub mod vspace;
