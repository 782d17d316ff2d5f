//! The legacy 8259 PICs: moved off the exception vectors and masked, since
//! the kernel uses the local APIC and IOAPICs.

use super::trap::vector::LEGACY_PIC_BASE;
use x86_64::instructions::port::Port;

pub fn disable() {
    let mut master_cmd = Port::<u8>::new(0x20);
    let mut master_data = Port::<u8>::new(0x21);
    let mut slave_cmd = Port::<u8>::new(0xa0);
    let mut slave_data = Port::<u8>::new(0xa1);
    // SAFETY: the PIC ports belong to the kernel. The initialisation words
    // move IRQs 0-15 to vectors 0xF0-0xFF (which the kernel ignores), then
    // every line is masked.
    unsafe {
        master_cmd.write(0x11);
        slave_cmd.write(0x11);
        master_data.write(LEGACY_PIC_BASE);
        slave_data.write(LEGACY_PIC_BASE + 8);
        master_data.write(4);
        slave_data.write(2);
        master_data.write(1);
        slave_data.write(1);
        master_data.write(0xff);
        slave_data.write(0xff);
    }
}
