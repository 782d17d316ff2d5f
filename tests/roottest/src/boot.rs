//! The boot-info page, capability lookup, and the system calls that are not
//! invocations.

use crate::harness::{CNODE, PAGE, SLOTS, Suite, VSPACE, probe};
use libcap::abi::boot_info::{ACPI_TABLES_ADDR, MAGIC, MAX_UNTYPED, VERSION, slot};
use libcap::abi::{MessageInfo, ObjectType, Rights, Syscall};
use libcap::{Error, invoke, println, syscall};

/// A syscall number the ABI does not assign.
const UNKNOWN_SYSCALL: u64 = 77;
/// The first kernel (non-canonical or higher-half) address.
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;

/// A raw DebugWrite of `len` bytes at `address`.
fn debug_write_raw(address: u64, len: u64) -> Result<(), Error> {
    let r = syscall::raw(
        Syscall::DebugWrite as u64,
        slot::CONSOLE,
        MessageInfo(0),
        [address, len, 0, 0],
    );
    syscall::decode_error(r.error)
}

/// Checks the boot-info page and picks the untyped memory the other cases
/// retype from. Returns false when the suite cannot go on.
pub fn boot_info(t: &mut Suite) -> bool {
    let bi = t.boot;
    if !t.expect_eq("boot info: magic", MAGIC, bi.magic) {
        return false;
    }
    t.expect_eq("boot info: version", VERSION, bi.version);
    let count = bi.untyped_count;
    if !t.check(
        "boot info: untyped count",
        (1..=MAX_UNTYPED as u64).contains(&count),
        format_args!("1..={MAX_UNTYPED}"),
        format_args!("{count}"),
    ) {
        return false;
    }
    let first_free = bi.first_free_slot;
    if !t.check(
        "boot info: first free slot follows the untyped",
        first_free >= slot::FIRST_UNTYPED + count && first_free < SLOTS,
        format_args!("{}..{SLOTS}", slot::FIRST_UNTYPED + count),
        format_args!("{first_free}"),
    ) {
        return false;
    }
    let untyped = &bi.untyped[..count as usize];
    let largest = untyped
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_device == 0)
        .max_by_key(|(_, u)| u.size_bits);
    let Some((i, u)) = largest else {
        t.fail(
            "boot info: some untyped memory is not device memory",
            format_args!("a non-device untyped"),
            format_args!("{count} device untyped"),
        );
        return false;
    };
    t.memory = slot::FIRST_UNTYPED + i as u64;
    let total: u64 = untyped
        .iter()
        .filter(|u| u.is_device == 0)
        .map(|u| 1u64 << u.size_bits.min(63))
        .sum();
    println!(
        "roottest: {count} untyped ({} KiB of RAM), largest 2^{} bytes at {:#x} in slot {}",
        total / 1024,
        u.size_bits,
        u.physical_address,
        t.memory
    );
    t.check(
        "boot info: untyped memory is page aligned",
        untyped
            .iter()
            .all(|u| u.size_bits >= 12 && u.physical_address % PAGE == 0),
        format_args!("size_bits >= 12 and 4 KiB-aligned addresses"),
        format_args!("an untyped smaller or unaligned"),
    );
    acpi_copy(t);
    true
}

/// The kernel's copy of the firmware's AML tables: where the page says,
/// readable, and tables laid end to end, the DSDT first (QEMU's firmware
/// always has one).
fn acpi_copy(t: &mut Suite) {
    let copy = t.boot.acpi;
    if !t.check(
        "boot info: the AML tables are copied",
        copy.address == ACPI_TABLES_ADDR && copy.size >= 36,
        format_args!("at {ACPI_TABLES_ADDR:#x}, at least a header"),
        format_args!("at {:#x}, {} bytes", copy.address, copy.size),
    ) {
        return;
    }
    // SAFETY: the kernel maps `size` bytes read-only at `address` for the
    // root task's lifetime (checked above to be where the ABI says).
    let bytes =
        unsafe { core::slice::from_raw_parts(copy.address as *const u8, copy.size as usize) };
    let (mut at, mut tables, mut signatures_ok) = (0usize, 0, true);
    while at + 36 <= bytes.len() {
        let signature = &bytes[at..at + 4];
        signatures_ok &= if tables == 0 {
            signature == b"DSDT"
        } else {
            signature == b"SSDT"
        };
        let length =
            u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        if length < 36 {
            break;
        }
        at += length as usize;
        tables += 1;
    }
    t.check(
        "boot info: the copy is the DSDT, then SSDTs, end to end",
        signatures_ok && at == bytes.len(),
        format_args!("tables whose lengths add up to {} bytes", bytes.len()),
        format_args!("{tables} tables ending at byte {at}, signatures in order: {signatures_ok}"),
    );
}

/// Resolving capability addresses; a label meant for another object type.
pub fn lookups(t: &mut Suite) {
    t.expect_err(
        "lookup: the null slot is empty",
        Error::InvalidCapability,
        probe(slot::NULL),
    );
    let empty = t.slot();
    t.expect_err(
        "lookup: a free slot is empty",
        Error::InvalidCapability,
        probe(empty),
    );
    t.expect_err(
        "lookup: an address past the root CNode resolves to nothing",
        Error::InvalidCapability,
        probe(SLOTS),
    );
    let well_known = [
        slot::TCB,
        slot::CNODE,
        slot::VSPACE,
        slot::IRQ_CONTROL,
        slot::IO_PORT_CONTROL,
        slot::BOOT_INFO_FRAME,
        slot::IPC_BUFFER_FRAME,
        t.memory,
    ];
    let missing = well_known.iter().copied().find(|&s| probe(s).is_err());
    t.check(
        "lookup: the well-known slots and the untyped hold capabilities",
        missing.is_none(),
        format_args!("a capability in each"),
        format_args!("slot {missing:?} answers otherwise"),
    );
    t.expect_err(
        "invocation: an unassigned label is unknown",
        Error::UnknownInvocation,
        invoke::raw(t.memory, crate::harness::PROBE_LABEL, &[1, 2, 3, 4, 5]),
    );
    let dest = t.slot();
    t.expect_err(
        "invocation: UNTYPED_RETYPE on a TCB is unknown",
        Error::UnknownInvocation,
        invoke::untyped_retype(slot::TCB, ObjectType::Endpoint, 0, 1, CNODE, dest),
    );
    t.expect_err(
        "invocation: FRAME_MAP on a CNode is unknown",
        Error::UnknownInvocation,
        invoke::frame_map(slot::CNODE, VSPACE, crate::harness::WINDOW, Rights::READ),
    );
    t.expect_err(
        "invocation: CNODE_COPY on a VSpace is unknown",
        Error::UnknownInvocation,
        invoke::cnode_copy(slot::VSPACE, dest, CNODE, slot::TCB, Rights::all()),
    );
    if let Some(address) = t.expect_ok(
        "frame: FRAME_GET_ADDRESS of the boot-info frame",
        invoke::frame_get_address(slot::BOOT_INFO_FRAME),
    ) {
        t.check(
            "frame: the boot-info frame's address is page aligned and not 0",
            address != 0 && address % PAGE == 0,
            format_args!("a nonzero multiple of 4096"),
            format_args!("{address:#x}"),
        );
    }
}

/// System calls other than Call.
pub fn syscalls(t: &mut Suite) {
    let r = syscall::raw(UNKNOWN_SYSCALL, 0, MessageInfo(0), [0; 4]);
    t.expect_eq(
        "syscall: an unknown number answers UnknownSyscall",
        Error::UnknownSyscall as u64,
        r.error,
    );
    let text = b"roottest: DebugWrite of program memory\n";
    t.expect_ok(
        "syscall: DebugWrite of program memory",
        debug_write_raw(text.as_ptr() as u64, text.len() as u64),
    );
    let text = b"x";
    let console_case = |cap: u64| {
        let r = syscall::raw(
            Syscall::DebugWrite as u64,
            cap,
            MessageInfo(0),
            [text.as_ptr() as u64, 1, 0, 0],
        );
        syscall::decode_error(r.error)
    };
    t.expect_eq(
        "syscall: DebugWrite without a capability",
        Err(Error::InvalidCapability),
        console_case(slot::NULL),
    );
    t.expect_eq(
        "syscall: DebugWrite through a capability that is not the console",
        Err(Error::WrongType),
        console_case(slot::TCB),
    );
    t.expect_ok(
        "syscall: DebugWrite of nothing",
        debug_write_raw(text.as_ptr() as u64, 0),
    );
    t.expect_err(
        "syscall: DebugWrite of more than 4096 bytes",
        Error::RangeError,
        debug_write_raw(text.as_ptr() as u64, 4097),
    );
    t.expect_err(
        "syscall: DebugWrite of a kernel address",
        Error::InvalidUserAddress,
        debug_write_raw(KERNEL_ADDRESS, 8),
    );
    t.expect_err(
        "syscall: DebugWrite of the kernel's upper half",
        Error::InvalidUserAddress,
        debug_write_raw(0xffff_ffff_8000_0000, 8),
    );
    let r = syscall::raw(Syscall::Yield as u64, 0, MessageInfo(0), [0; 4]);
    t.expect_eq(
        "syscall: Yield with nothing else to run returns",
        0,
        r.error,
    );
}

/// Cases a kernel that validates badly answers with a kernel fault (which
/// ends the run), so they run last.
pub fn risky(t: &mut Suite) {
    t.expect_err(
        "syscall: DebugWrite of an unmapped user page",
        Error::InvalidUserAddress,
        debug_write_raw(0x1000, 16),
    );
    t.expect_err(
        "syscall: DebugWrite running off the end of user space",
        Error::InvalidUserAddress,
        debug_write_raw(0x0000_7fff_ffff_fff0, 0x20),
    );
}
