//! Forged interrupts: a driver programs its device's MSI message itself,
//! so without an IOMMU's interrupt remapping it can make the device raise
//! any vector, exception vectors included, or deliver an NMI. QEMU's
//! `edu` device (added as `-device edu,addr=0x10` by the root-task boot
//! test) raises its MSI when its register 0x60 is written; these cases
//! point that message at exception vectors and at an NMI, raise it, and
//! check that the kernel survives, that the root thread is not blamed
//! for an exception it did not cause, and that the kernel counted each
//! one as dropped (`DebugCheck`'s fourth word). The kernel logs the
//! dropped ones; the boot test looks for that line too.

use crate::harness::{CNODE, PAGE, Suite, VSPACE};
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights};
use libcap::{Error, invoke, syscall};

/// Where the boot test puts the device: bus 0, device 16, function 0.
const EDU_DEVICE: u8 = 0x10;
/// `edu`'s PCI identity.
const EDU_ID: u32 = 0x11e8_1234;
/// Its registers: raise an interrupt (write), acknowledge it (write).
const EDU_RAISE: usize = 0x60;
const EDU_ACK: usize = 0x64;
/// Configuration space: command (memory space, bus master), status
/// (capability list), capabilities pointer; the MSI capability's ID.
const COMMAND: usize = 0x04;
const COMMAND_MEMORY: u32 = 1 << 1;
const COMMAND_BUS_MASTER: u32 = 1 << 2;
const CAPABILITIES: usize = 0x34;
const MSI_ID: u32 = 0x05;
/// MSI delivery mode NMI, in the message data.
const DELIVERY_NMI: u32 = 4 << 8;

/// Device memory, carved in address order (as `init` does): the pages
/// before a wanted page in its block are split off as device untyped.
struct DeviceMemory {
    /// Per device untyped block: its slot, base, size (bits), and how far
    /// it is carved.
    blocks: [(u64, u64, u8, u64); 64],
    count: usize,
}

impl DeviceMemory {
    fn new(t: &Suite) -> Self {
        let bi = t.boot;
        let mut blocks = [(0, 0, 0, 0); 64];
        let mut count = 0;
        for (i, u) in bi.untyped[..bi.untyped_count as usize].iter().enumerate() {
            if u.is_device != 0 && count < blocks.len() {
                blocks[count] = (
                    slot::FIRST_UNTYPED + i as u64,
                    u.physical_address,
                    u.size_bits,
                    0,
                );
                count += 1;
            }
        }
        Self { blocks, count }
    }

    /// A frame capability for the device page at `address`.
    fn page(&mut self, t: &mut Suite, address: u64) -> Result<u64, Error> {
        let b = self.blocks[..self.count]
            .iter_mut()
            .find(|b| b.1 <= address && address < b.1 + (1 << b.2))
            .ok_or(Error::RangeError)?;
        let offset = address - b.1;
        if offset < b.3 {
            return Err(Error::AlreadyMapped);
        }
        while b.3 < offset {
            let align = b.3.trailing_zeros().min(63);
            let fit = 63 - (offset - b.3).leading_zeros();
            let bits = u64::from(align.min(fit));
            invoke::untyped_retype(b.0, ObjectType::Untyped, bits, 1, CNODE, t.slot())?;
            b.3 += 1 << bits;
        }
        let frame = t.slot();
        invoke::untyped_retype(b.0, ObjectType::Frame4K, 0, 1, CNODE, frame)?;
        b.3 += PAGE;
        Ok(frame)
    }
}

/// A mapped page of device registers or configuration space.
struct Regs(u64);

impl Regs {
    fn read(&self, offset: usize) -> u32 {
        // SAFETY: the page is mapped read-write at `self.0`; `offset` is
        // inside it and 4-byte aligned (callers use register offsets).
        unsafe { ((self.0 + offset as u64) as *const u32).read_volatile() }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`.
        unsafe { ((self.0 + offset as u64) as *mut u32).write_volatile(value) }
    }
}

/// Maps the device page at `address` read-write in the window.
fn map(t: &mut Suite, memory: &mut DeviceMemory, address: u64) -> Option<Regs> {
    let frame = memory.page(t, address);
    let frame = t.setup("a device page", frame)?;
    let page = t.page();
    t.setup(
        "map a device page",
        invoke::frame_map(frame, VSPACE, page, Rights::READ | Rights::WRITE),
    )?;
    Some(Regs(page))
}

/// The MSI capability's offset in `config`.
fn msi_capability(config: &Regs) -> Option<usize> {
    let mut at = (config.read(CAPABILITIES) & 0xfc) as usize;
    for _ in 0..48 {
        if at == 0 {
            return None;
        }
        let header = config.read(at);
        if header & 0xff == MSI_ID {
            return Some(at);
        }
        at = ((header >> 8) & 0xfc) as usize;
    }
    None
}

/// Interrupts the kernel dropped so far.
fn dropped() -> u64 {
    syscall::debug_check(0, 0).map_or(0, |r| r.forged_interrupts)
}

pub fn cases(t: &mut Suite) {
    if !t.window_ready {
        return;
    }
    let Some(address) = t.boot.pci_ecam.function_page(0, EDU_DEVICE, 0) else {
        t.check(
            "forged: the boot info names a PCI configuration window",
            false,
            format_args!("an ECAM window"),
            format_args!("none"),
        );
        return;
    };
    let mut memory = DeviceMemory::new(t);
    let Some(config) = map(t, &mut memory, address) else {
        return;
    };
    if !t.expect_eq(
        "forged: the edu device is at 00:10.0",
        EDU_ID,
        config.read(0),
    ) {
        return;
    }
    let bar0 = u64::from(config.read(0x10) & !0xf);
    let Some(msi) = msi_capability(&config) else {
        t.check(
            "forged: edu has an MSI capability",
            false,
            format_args!("one"),
            format_args!("none"),
        );
        return;
    };
    let Some(regs) = map(t, &mut memory, bar0) else {
        return;
    };
    config.write(
        COMMAND,
        config.read(COMMAND) | COMMAND_MEMORY | COMMAND_BUS_MASTER,
    );
    // The address the kernel gives its own message-signalled lines: the
    // boot CPU's local APIC.
    let handler = t.slot();
    let Some((apic_address, _)) = t.setup(
        "an MSI line, for the APIC's message address",
        invoke::irq_control_get_msi(slot::IRQ_CONTROL, CNODE, handler)
            .and_then(|_| invoke::irq_handler_msi_message(handler)),
    ) else {
        return;
    };
    let control = config.read(msi);
    let wide = control & (1 << 23) != 0;
    let data_at = msi + if wide { 12 } else { 8 };
    config.write(msi + 4, apic_address as u32);
    if wide {
        config.write(msi + 8, 0);
    }
    config.write(msi, control | (1 << 16));
    for (name, data) in [
        (
            "vector 17 (alignment check, an exception with an error code)",
            17,
        ),
        ("vector 14 (page fault)", 14),
        ("vector 8 (double fault)", 8),
        ("vector 6 (invalid opcode)", 6),
        ("vector 18 (machine check)", 18),
        ("vector 30", 30),
        ("an NMI", DELIVERY_NMI | 2),
    ] {
        config.write(data_at, data);
        let before = dropped();
        regs.write(EDU_RAISE, 1);
        // The message arrives while this thread runs in user mode.
        let mut spins = 0u64;
        while dropped() == before && spins < 2000 {
            spins += 1;
            core::hint::spin_loop();
        }
        regs.write(EDU_ACK, 1);
        let after = dropped();
        let mut what = [0u8; 96];
        let what = crate::harness::describe(
            &mut what,
            format_args!(
                "forged: {name} from a device is dropped; the kernel and this thread go on"
            ),
        );
        // The APIC itself may refuse vectors below 16 (as real ones do):
        // then nothing arrives, which is as good.
        let refused = data < 16 && after == before;
        t.check(
            what,
            syscall::null_syscall().is_ok() && (after > before || refused),
            format_args!("counted as dropped"),
            format_args!("{before} dropped before, {after} after"),
        );
    }
    config.write(msi, control & !(1 << 16));
    t.setup("delete the MSI line", invoke::cnode_delete(CNODE, handler));
}
