//! Page tables and frames in the root VSpace: where a mapping may go, with
//! which rights, what a mapping shows, and what unmap and revoke undo.

use crate::harness::{CNODE, PAGE, Suite, VSPACE, WINDOW, page_is_zero, peek, poke};
use crate::retype::CHILD_UNTYPED_BITS;
use crate::thread::PAGING_LEVELS;
use libcap::abi::{MessageInfo, ObjectType, Rights, Syscall, label};
use libcap::{Error, invoke, syscall};

/// Three page tables past the window: a 2 MiB frame maps there.
const LARGE: u64 = WINDOW + 3 * 512 * PAGE;
/// A region of the root VSpace that never gets a page table.
const NO_TABLES: u64 = 0x0000_2000_0000_0000;
/// The window's neighbour: a page table is mapped and unmapped there.
const SECOND_TABLE: u64 = WINDOW + 512 * PAGE;
/// Two page tables past the window: the last level stays missing.
const NO_LAST_TABLE: u64 = WINDOW + 2 * 512 * PAGE;
/// The first address past the canonical lower half.
const NON_CANONICAL: u64 = 0x0000_8000_0000_0000;
/// An address in the kernel's image.
const KERNEL_ADDRESS: u64 = 0xffff_ffff_8000_0000;
/// An empty 512 GiB-aligned region of the root VSpace, for the aliasing
/// cases.
const ALIAS: u64 = 0x0000_3000_0000_0000;
/// A value to write and read back.
const PATTERN: u64 = 0x5a5a_0123_4567_89ab;

const RW: Rights = Rights::READ.union(Rights::WRITE);

/// Every group of root-VSpace cases but the untyped revoke.
pub fn cases(t: &mut Suite) {
    window(t);
    if !t.window_ready {
        return;
    }
    aliasing(t);
    map_errors(t);
    map_and_unmap(t);
    rights(t);
    delete_unmaps(t);
    page_table_unmap(t);
    large_frame(t);
}

/// Maps the window's paging structures, one level at a time.
fn window(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let mut tables = [0u64; 4];
    for (slot, ty) in tables
        .iter_mut()
        .zip(PAGING_LEVELS.into_iter().chain([ObjectType::PageTable]))
    {
        let Some(made) = t.object(ty, 0) else {
            return;
        };
        *slot = made;
    }
    let [pdpt, pd, pt, spare] = tables;
    missing(
        t,
        "frame map: no table at any level; the reply names a PDPT",
        invoke_words(frame, label::FRAME_MAP, &[VSPACE, WINDOW, RW.bits().into()]),
        ObjectType::Pdpt,
    );
    missing(
        t,
        "page table map: a page table above its page directory; the reply names a PDPT",
        invoke_words(pt, label::PAGE_TABLE_MAP, &[VSPACE, WINDOW]),
        ObjectType::Pdpt,
    );
    let ok = t
        .expect_ok(
            "page table map: a PDPT where the PML4 has none",
            invoke::page_table_map(pdpt, VSPACE, WINDOW),
        )
        .is_some();
    missing(
        t,
        "frame map: a page directory and a page table missing; the reply names the page directory",
        invoke_words(frame, label::FRAME_MAP, &[VSPACE, WINDOW, RW.bits().into()]),
        ObjectType::PageDirectory,
    );
    let ok = ok
        && t.expect_ok(
            "page table map: a page directory below it",
            invoke::page_table_map(pd, VSPACE, WINDOW),
        )
        .is_some();
    missing(
        t,
        "frame map: the page table missing; the reply names it",
        invoke_words(frame, label::FRAME_MAP, &[VSPACE, WINDOW, RW.bits().into()]),
        ObjectType::PageTable,
    );
    t.window_ready = ok
        && t.expect_ok(
            "page table map: the page table, for 4 KiB pages",
            invoke::page_table_map(pt, VSPACE, WINDOW),
        )
        .is_some();
    t.expect_err(
        "page table map: a second page table where one is",
        Error::AlreadyMapped,
        invoke::page_table_map(spare, VSPACE, WINDOW),
    );
    t.expect_err(
        "page table map: a table that is mapped already",
        Error::AlreadyMapped,
        invoke::page_table_map(pdpt, VSPACE, NO_TABLES),
    );
    t.expect_err(
        "page table map: at a kernel address",
        Error::InvalidUserAddress,
        invoke::page_table_map(spare, VSPACE, KERNEL_ADDRESS),
    );
    t.expect_err(
        "page table map: the VSpace is a CNode",
        Error::WrongType,
        invoke::page_table_map(spare, CNODE, NO_TABLES),
    );
    t.expect_err(
        "page table map: on a frame is unknown",
        Error::UnknownInvocation,
        invoke::page_table_map(frame, VSPACE, NO_TABLES),
    );
}

/// Invokes `cap` with `label` and `args` (all in registers) and returns the
/// error and reply word 0, which some errors fill in.
fn invoke_words(cap: u64, label: u64, args: &[u64]) -> (Result<(), Error>, u64) {
    let mut words = [0; 4];
    words[..args.len()].copy_from_slice(args);
    let r = syscall::raw(
        Syscall::Call as u64,
        cap,
        MessageInfo::new(label, args.len()),
        words,
    );
    (syscall::decode_error(r.error), r.words[0])
}

/// Passes if `got` is `MissingPageTable` with reply word 0 naming `ty`.
fn missing(t: &mut Suite, name: &str, got: (Result<(), Error>, u64), ty: ObjectType) {
    t.check(
        name,
        got == (Err(Error::MissingPageTable), ty as u64),
        format_args!("Err(MissingPageTable), word 0 = {ty:?} ({})", ty as u64),
        format_args!("{:?}, word 0 = {}", got.0, got.1),
    );
}

/// Page-table aliasing, as a code review found it: a table mapped twice
/// (through a copy of its capability) at a 512 GiB-aligned address became
/// its own PDPT, page directory and page table, which mapped the table
/// itself, and then any physical page, into user space. Paging structures
/// are typed per level now; a table maps once (copies of its capability
/// share the one mapping, and an unmapped table's capability cannot be
/// copied); unmapping needs the last capability and clears the table.
fn aliasing(t: &mut Suite) {
    let mut made = [0u64; 5];
    for (slot, ty) in made.iter_mut().zip([
        ObjectType::Pdpt,
        ObjectType::PageDirectory,
        ObjectType::PageTable,
        ObjectType::Frame4K,
        ObjectType::Frame4K,
    ]) {
        let Some(object) = t.object(ty, 0) else {
            return;
        };
        *slot = object;
    }
    let [pdpt, pd, pt, first, second] = made;
    let copy = t.slot();
    t.expect_err(
        "aliasing: an unmapped table's capability cannot be copied",
        Error::IllegalOperation,
        invoke::cnode_copy(CNODE, copy, CNODE, pdpt, Rights::all()),
    );
    missing(
        t,
        "aliasing: a page table cannot stand in for a PDPT",
        invoke_words(pt, label::PAGE_TABLE_MAP, &[VSPACE, ALIAS]),
        ObjectType::Pdpt,
    );
    if t.expect_ok(
        "aliasing: a PDPT at an empty 512 GiB-aligned address",
        invoke::page_table_map(pdpt, VSPACE, ALIAS),
    )
    .is_none()
    {
        return;
    }
    if t.expect_ok(
        "aliasing: a mapped table's capability can be copied",
        invoke::cnode_copy(CNODE, copy, CNODE, pdpt, Rights::all()),
    )
    .is_none()
    {
        return;
    }
    t.expect_err(
        "aliasing: the copy maps the table nowhere else (the mapping is the table's)",
        Error::AlreadyMapped,
        invoke::page_table_map(copy, VSPACE, ALIAS),
    );
    t.expect_err(
        "aliasing: nor at the next 512 GiB",
        Error::AlreadyMapped,
        invoke::page_table_map(copy, VSPACE, ALIAS + (512 << 30)),
    );
    t.expect_err(
        "aliasing: unmapping needs the table's last capability",
        Error::RevokeFirst,
        invoke::page_table_unmap(pdpt),
    );
    t.expect_ok(
        "aliasing: delete the copy",
        invoke::cnode_delete(CNODE, copy),
    );
    // Unmapping clears: a page mapped through the tables is gone with them.
    let rw = RW;
    let path = invoke::page_table_map(pd, VSPACE, ALIAS)
        .and(invoke::page_table_map(pt, VSPACE, ALIAS))
        .and(invoke::frame_map(first, VSPACE, ALIAS, rw));
    if t.setup(
        "a page directory, a page table and a page at the address",
        path,
    )
    .is_none()
    {
        return;
    }
    t.expect_ok(
        "aliasing: unmap the page table with a page mapped through it",
        invoke::page_table_unmap(pt),
    );
    t.expect_ok(
        "aliasing: map it again 2 MiB further on",
        invoke::page_table_map(pt, VSPACE, ALIAS + (2 << 20)),
    );
    t.expect_ok(
        "aliasing: its first entry is empty again (the unmap cleared it)",
        invoke::frame_map(second, VSPACE, ALIAS + (2 << 20), rw),
    );
}

fn map_errors(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let page = t.page();
    t.expect_err(
        "frame map: an unaligned address",
        Error::AlignmentError,
        invoke::frame_map(frame, VSPACE, page + 0x123, RW),
    );
    t.expect_err(
        "frame map: the first non-canonical address",
        Error::InvalidUserAddress,
        invoke::frame_map(frame, VSPACE, NON_CANONICAL, RW),
    );
    t.expect_err(
        "frame map: a kernel address",
        Error::InvalidUserAddress,
        invoke::frame_map(frame, VSPACE, KERNEL_ADDRESS, RW),
    );
    t.expect_err(
        "frame map: the last page of the user half (a syscall at its end would return to a non-canonical address)",
        Error::InvalidUserAddress,
        invoke::frame_map(frame, VSPACE, NON_CANONICAL - PAGE, RW),
    );
    t.expect_err(
        "frame map: writable and executable",
        Error::InvalidArgument,
        invoke::frame_map(frame, VSPACE, page, RW | Rights::EXECUTE),
    );
    t.expect_err(
        "frame map: without READ",
        Error::InvalidArgument,
        invoke::frame_map(frame, VSPACE, page, Rights::WRITE),
    );
    t.expect_err(
        "frame map: the VSpace is a CNode",
        Error::WrongType,
        invoke::frame_map(frame, CNODE, page, RW),
    );
    t.expect_err(
        "frame map: a region without page tables",
        Error::MissingPageTable,
        invoke::frame_map(frame, VSPACE, NO_TABLES, RW),
    );
    t.expect_err(
        "frame map: only the last-level table is missing",
        Error::MissingPageTable,
        invoke::frame_map(frame, VSPACE, NO_LAST_TABLE, RW),
    );
    t.expect_ok(
        "frame map: after all those refusals, at the page",
        invoke::frame_map(frame, VSPACE, page, RW),
    );
    device_debug_write(t);
}

/// The kernel reads a DebugWrite buffer through its direct map of RAM,
/// which device memory is not in: a buffer in a device mapping is refused,
/// not read (a kernel that read it would fault).
fn device_debug_write(t: &mut Suite) {
    let Some(device) = t.device_frame() else {
        return;
    };
    let page = t.page();
    if t.expect_ok(
        "frame map: device memory, read-only",
        invoke::frame_map(device, VSPACE, page, Rights::READ),
    )
    .is_none()
    {
        return;
    }
    let words = [page, 16, 0, 0];
    let r = syscall::raw(
        Syscall::DebugWrite as u64,
        syscall::console(),
        MessageInfo(0),
        words,
    );
    t.expect_err(
        "debug write: a buffer in device memory is refused",
        Error::InvalidUserAddress,
        syscall::decode_error(r.error),
    );
    t.expect_ok("frame unmap: the device frame", invoke::frame_unmap(device));
}

fn map_and_unmap(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let Some(other) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let Some(never_mapped) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let (p, q) = (t.page(), t.page());
    if t.expect_ok(
        "frame map: read-write",
        invoke::frame_map(frame, VSPACE, p, RW),
    )
    .is_none()
    {
        return;
    }
    // SAFETY: `frame` is mapped read-write at `p` (until the unmap below),
    // and nothing else refers to that page.
    let zero = unsafe { page_is_zero(p) };
    t.check(
        "frame: a fresh frame reads as zeros",
        zero,
        format_args!("4096 zero bytes"),
        format_args!("nonzero bytes"),
    );
    // SAFETY: as above.
    let (first, last) = unsafe {
        poke(p, 0, PATTERN);
        poke(p, 511, !PATTERN);
        (peek(p, 0), peek(p, 511))
    };
    t.check(
        "frame: writes read back",
        first == PATTERN && last == !PATTERN,
        format_args!("{PATTERN:#x} and {:#x}", !PATTERN),
        format_args!("{first:#x} and {last:#x}"),
    );
    t.expect_err(
        "frame map: the same capability twice",
        Error::AlreadyMapped,
        invoke::frame_map(frame, VSPACE, q, RW),
    );
    t.expect_err(
        "frame map: over an existing mapping",
        Error::AlreadyMapped,
        invoke::frame_map(other, VSPACE, p, RW),
    );
    if let Some(copy) = t.copy(frame)
        && t.expect_ok(
            "frame map: a copy of a mapped frame's capability",
            invoke::frame_map(copy, VSPACE, q, Rights::READ),
        )
        .is_some()
    {
        // SAFETY: `copy` maps the same frame readable at `q`; `p` is still
        // mapped read-write.
        let (seen, through) = unsafe {
            let seen = peek(q, 0);
            poke(p, 1, 77);
            (seen, peek(q, 1))
        };
        t.expect_eq(
            "frame: the copy's mapping shows the same memory",
            PATTERN,
            seen,
        );
        t.expect_eq(
            "frame: a write through one mapping shows through the other",
            77,
            through,
        );
        t.expect_ok("frame unmap: the copy", invoke::frame_unmap(copy));
    }
    t.expect_ok("frame unmap: a mapped frame", invoke::frame_unmap(frame));
    // `p` and `q` are unmapped now: not touched again until remapped.
    t.expect_ok(
        "frame unmap: the same frame again does nothing",
        invoke::frame_unmap(frame),
    );
    t.expect_ok(
        "frame unmap: a frame never mapped does nothing",
        invoke::frame_unmap(never_mapped),
    );
    if t.expect_ok(
        "frame map: another frame where one was unmapped",
        invoke::frame_map(other, VSPACE, p, RW),
    )
    .is_some()
    {
        // SAFETY: `other` is mapped read-write at `p`.
        let zero = unsafe { page_is_zero(p) };
        t.check(
            "frame: the new mapping shows the new frame, not a stale one",
            zero,
            format_args!("4096 zero bytes"),
            format_args!("old contents (a stale TLB entry?)"),
        );
    }
    let r = t.page();
    t.expect_ok(
        "frame map: an unmapped capability maps again",
        invoke::frame_map(frame, VSPACE, r, Rights::READ),
    );
    if let Some(address) = t.expect_ok(
        "frame: FRAME_GET_ADDRESS of a mapped frame",
        invoke::frame_get_address(frame),
    ) {
        t.check(
            "frame: its address is page aligned and not 0",
            address != 0 && address % PAGE == 0,
            format_args!("a nonzero multiple of 4096"),
            format_args!("{address:#x}"),
        );
    }
}

fn rights(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame4K, 0) else {
        return;
    };
    let page = t.page();
    let read_only = t.slot();
    if t.expect_ok(
        "copy: with READ only",
        invoke::cnode_copy(CNODE, read_only, CNODE, frame, Rights::READ),
    )
    .is_none()
    {
        return;
    }
    t.expect_err(
        "frame map: writable through a read-only copy",
        Error::MissingRight,
        invoke::frame_map(read_only, VSPACE, page, RW),
    );
    t.expect_err(
        "frame map: executable through a read-only copy",
        Error::MissingRight,
        invoke::frame_map(read_only, VSPACE, page, Rights::READ | Rights::EXECUTE),
    );
    let minted = t.slot();
    if t.expect_ok(
        "mint: READ|WRITE from a read-only copy",
        invoke::cnode_mint(CNODE, minted, CNODE, read_only, RW, 0),
    )
    .is_some()
    {
        t.expect_err(
            "mint: does not add rights the source lacks",
            Error::MissingRight,
            invoke::frame_map(minted, VSPACE, page, RW),
        );
    }
    let copied = t.slot();
    if t.expect_ok(
        "copy: READ|WRITE from a read-only copy",
        invoke::cnode_copy(CNODE, copied, CNODE, read_only, RW),
    )
    .is_some()
    {
        t.expect_err(
            "copy: does not add rights the source lacks",
            Error::MissingRight,
            invoke::frame_map(copied, VSPACE, page, RW),
        );
    }
    t.expect_ok(
        "frame map: read-only through the read-only copy",
        invoke::frame_map(read_only, VSPACE, page, Rights::READ),
    );
}

/// Deleting a frame capability removes the mapping it made, whether or not
/// it was the frame's last capability.
fn delete_unmaps(t: &mut Suite) {
    let (Some(frame), Some(other)) = (
        t.object(ObjectType::Frame4K, 0),
        t.object(ObjectType::Frame4K, 0),
    ) else {
        return;
    };
    let Some(copy) = t.copy(frame) else {
        return;
    };
    let (p, q) = (t.page(), t.page());
    if t.setup("map a frame", invoke::frame_map(frame, VSPACE, p, RW))
        .is_none()
        || t.setup("map its copy", invoke::frame_map(copy, VSPACE, q, RW))
            .is_none()
    {
        return;
    }
    // SAFETY: `frame` is mapped read-write at `p`.
    unsafe { poke(p, 0, PATTERN) };
    t.expect_ok(
        "delete: a mapped frame capability that has a copy",
        invoke::cnode_delete(CNODE, frame),
    );
    // `p` is unmapped now: not touched again until remapped.
    if t.expect_ok(
        "delete: the deleted capability's mapping goes with it",
        invoke::frame_map(other, VSPACE, p, RW),
    )
    .is_some()
    {
        // SAFETY: `other` is mapped read-write at `p`.
        let zero = unsafe { page_is_zero(p) };
        t.check(
            "delete: the page then shows the new frame",
            zero,
            format_args!("4096 zero bytes"),
            format_args!("the deleted mapping's contents"),
        );
    }
    // SAFETY: `copy` still maps the frame read-write at `q`.
    let seen = unsafe { peek(q, 0) };
    t.expect_eq("delete: the copy's mapping stays", PATTERN, seen);
    t.expect_ok(
        "delete: the frame's last capability, while mapped",
        invoke::cnode_delete(CNODE, copy),
    );
    // `q` is unmapped now.
    t.expect_ok(
        "delete: the last capability's mapping goes with it",
        invoke::frame_unmap(other).and(invoke::frame_map(other, VSPACE, q, RW)),
    );
}

fn page_table_unmap(t: &mut Suite) {
    let (Some(pt), Some(frame)) = (
        t.object(ObjectType::PageTable, 0),
        t.object(ObjectType::Frame4K, 0),
    ) else {
        return;
    };
    if t.expect_ok(
        "page table map: a last-level table next to the window's",
        invoke::page_table_map(pt, VSPACE, SECOND_TABLE),
    )
    .is_none()
    {
        return;
    }
    t.expect_ok(
        "frame map: through that table",
        invoke::frame_map(frame, VSPACE, SECOND_TABLE, RW),
    );
    t.expect_ok(
        "frame unmap: before its table goes",
        invoke::frame_unmap(frame),
    );
    if t.expect_ok("page table unmap", invoke::page_table_unmap(pt))
        .is_none()
    {
        return;
    }
    t.expect_err(
        "frame map: after its page table was unmapped",
        Error::MissingPageTable,
        invoke::frame_map(frame, VSPACE, SECOND_TABLE, RW),
    );
    t.expect_ok(
        "page table map: an unmapped table maps again",
        invoke::page_table_map(pt, VSPACE, SECOND_TABLE),
    );
    t.expect_ok(
        "frame map: through the table mapped again",
        invoke::frame_map(frame, VSPACE, SECOND_TABLE, RW),
    );
}

/// Revoking untyped memory while a frame made from it is mapped: the frame
/// capability and its mapping go, and the memory can be retyped again.
pub fn revoke_mapped_untyped(t: &mut Suite) {
    if !t.window_ready {
        return;
    }
    let Some(untyped) = t.object(ObjectType::Untyped, CHILD_UNTYPED_BITS) else {
        return;
    };
    let frames = 1u64 << (CHILD_UNTYPED_BITS - 12);
    let first = t.slots(frames);
    if t.setup(
        "retype a frame from a child untyped",
        invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, 1, CNODE, first),
    )
    .is_none()
    {
        return;
    }
    let page = t.page();
    if t.expect_ok(
        "revoke untyped: map one of its frames",
        invoke::frame_map(first, VSPACE, page, RW),
    )
    .is_none()
    {
        return;
    }
    // SAFETY: `first` is mapped read-write at `page`.
    unsafe { poke(page, 0, PATTERN) };
    if t.expect_ok(
        "revoke untyped: while one of its frames is mapped",
        invoke::cnode_revoke(CNODE, untyped),
    )
    .is_none()
    {
        return;
    }
    // The page is unmapped now: not touched again until remapped.
    t.expect_empty("revoke untyped: the frame capability is gone", first);
    if t.expect_ok(
        "revoke untyped: the untyped retypes again",
        invoke::untyped_retype(untyped, ObjectType::Frame4K, 0, 1, CNODE, first),
    )
    .is_some()
    {
        if t.expect_ok(
            "revoke untyped: the frame's old address maps again",
            invoke::frame_map(first, VSPACE, page, RW),
        )
        .is_some()
        {
            // SAFETY: the new frame is mapped read-write at `page`.
            let zero = unsafe { page_is_zero(page) };
            t.check(
                "revoke untyped: the new frame reads as zeros",
                zero,
                format_args!("4096 zero bytes"),
                format_args!("old contents"),
            );
        }
        t.expect_ok(
            "revoke untyped: all of its memory is free again",
            invoke::untyped_retype(
                untyped,
                ObjectType::Frame4K,
                0,
                frames - 1,
                CNODE,
                first + 1,
            ),
        );
    }
}

/// A 2 MiB frame maps straight into a page directory.
fn large_frame(t: &mut Suite) {
    let Some(frame) = t.object(ObjectType::Frame2M, 0) else {
        return;
    };
    t.expect_err(
        "frame map: a 2 MiB frame at a 4 KiB boundary",
        Error::AlignmentError,
        invoke::frame_map(frame, VSPACE, LARGE + PAGE, RW),
    );
    if t.expect_ok(
        "frame map: a 2 MiB frame where the page directory has room",
        invoke::frame_map(frame, VSPACE, LARGE, RW),
    )
    .is_none()
    {
        return;
    }
    let last = LARGE + 511 * PAGE;
    // SAFETY: the 2 MiB frame is mapped read-write at `LARGE`, so its first
    // and last 4 KiB pages are too.
    let (zero, first, end) = unsafe {
        let zero = page_is_zero(LARGE) && page_is_zero(last);
        poke(LARGE, 0, PATTERN);
        poke(last, 511, !PATTERN);
        (zero, peek(LARGE, 0), peek(last, 511))
    };
    t.check(
        "frame: a fresh 2 MiB frame reads as zeros at both ends",
        zero,
        format_args!("zero pages"),
        format_args!("nonzero bytes"),
    );
    t.check(
        "frame: writes to both ends of a 2 MiB frame read back",
        first == PATTERN && end == !PATTERN,
        format_args!("{PATTERN:#x} and {:#x}", !PATTERN),
        format_args!("{first:#x} and {end:#x}"),
    );
    t.expect_ok("frame unmap: a 2 MiB frame", invoke::frame_unmap(frame));
}
