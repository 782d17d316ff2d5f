//! The kernel's panic handler: report, then stop like a fault does.

use super::serial::write_fmt_emergency;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    x86_64::instructions::interrupts::disable();
    match info.location() {
        Some(l) => write_fmt_emergency(format_args!(
            "\nKERNEL PANIC at {}:{}:{}: {}\n",
            l.file(),
            l.line(),
            l.column(),
            info.message()
        )),
        None => write_fmt_emergency(format_args!("\nKERNEL PANIC: {}\n", info.message())),
    }
    super::boot::stop(false)
}
