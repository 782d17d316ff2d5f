//! The kernel binary. Its entry point (`_start`, reached from the Multiboot2
//! loader) lives in the library's x86_64 boot code; this file only makes the
//! linker produce the ELF image.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
use kernel as _;

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "basalt-kernel runs on bare metal (x86_64-unknown-none); \
         use `cargo xtask run` to build and boot it in QEMU"
    );
    std::process::exit(2);
}
