//! TCBs: a second thread in a second address space.
//!
//! The thread runs a few bytes of machine code (the blob below, assembled
//! into roottest's read-only data and copied into the new address space's
//! code frame), laid out in that space as:
//!
//! | address | page |
//! | --- | --- |
//! | [`CODE`] | the blob, read + execute |
//! | [`STACK_TOP`] − 4 KiB | the stack, read-write |
//! | [`SHARED`] | a frame also mapped in the root task's window |
//! | [`IPC_BUFFER`] | the thread's IPC buffer |
//!
//! The blob stores `rdi`, `rsi` and `rsp` as it finds them into the shared
//! page's words 1–3, writes a greeting with DebugWrite, stores [`MARKER`]
//! into word 0, then forever increments word 4 and yields. It reaches the
//! shared page `rip`-relatively, so it depends only on [`SHARED`] − [`CODE`].
//!
//! [`address_space`] builds such an address space for any code blob; the
//! IPC cases (`crate::ipc`) use it for their threads.

use crate::harness::{CNODE, PAGE, Suite, VSPACE, peek};
use core::arch::global_asm;
use libcap::abi::boot_info::slot;
use libcap::abi::{ObjectType, Rights, Syscall};
use libcap::{Error, invoke, syscall};

/// The priority the root thread and the second thread both get, so that
/// each Yield hands the processor to the other.
pub const PRIORITY: u64 = 100;

/// Where the second address space has its code.
pub const CODE: u64 = 0x40_0000;
/// The top of its stack (one page below is mapped; a guard page below that
/// and one above are not).
pub const STACK_TOP: u64 = CODE + 3 * PAGE;
/// Its page shared with the root task.
pub const SHARED: u64 = CODE + 4 * PAGE;
/// Its IPC buffer.
pub const IPC_BUFFER: u64 = CODE + 5 * PAGE;
/// Radix of the CNode made for the thread (16 slots).
pub const CSPACE_RADIX: u64 = 4;
/// What the blob stores in word 0 of the shared page once it has run.
const MARKER: u64 = 0x1234;
/// The argument words given to the thread.
const ARG0: u64 = 0x1111_2222_3333_4444;
const ARG1: u64 = 0x5555_6666_7777_8888;
/// Yields the root task makes while waiting for the thread.
const PATIENCE: u32 = 1000;

global_asm!(
    ".pushsection .rodata.roottest_child, \"a\", @progbits",
    ".balign 16",
    ".global roottest_child_start",
    ".global roottest_child_end",
    "roottest_child_start:",
    "    movq %rdi, roottest_child_start + {shared} + 8(%rip)",
    "    movq %rsi, roottest_child_start + {shared} + 16(%rip)",
    "    movq %rsp, roottest_child_start + {shared} + 24(%rip)",
    "    movl ${debug_write}, %eax",
    "    movl ${console}, %edi",
    "    leaq .Lroottest_child_msg(%rip), %rdx",
    "    movl $(.Lroottest_child_msg_end - .Lroottest_child_msg), %r10d",
    "    syscall",
    "    movq ${marker}, roottest_child_start + {shared}(%rip)",
    ".Lroottest_child_loop:",
    "    incq roottest_child_start + {shared} + 32(%rip)",
    "    movl ${yield_}, %eax",
    "    syscall",
    "    jmp .Lroottest_child_loop",
    ".Lroottest_child_msg:",
    "    .ascii \"roottest: hello from a second address space\\n\"",
    ".Lroottest_child_msg_end:",
    "roottest_child_end:",
    ".popsection",
    shared = const SHARED - CODE,
    marker = const MARKER,
    debug_write = const Syscall::DebugWrite as u64,
    console = const libcap::abi::boot_info::slot::CONSOLE,
    yield_ = const Syscall::Yield as u64,
    options(att_syntax),
);

unsafe extern "C" {
    static roottest_child_start: u8;
    static roottest_child_end: u8;
}

/// The blob's bytes.
fn blob() -> &'static [u8] {
    let start = &raw const roottest_child_start;
    let end = &raw const roottest_child_end;
    let len = end as usize - start as usize;
    // SAFETY: the two symbols delimit the blob, which the `global_asm!`
    // above puts in read-only data; nothing writes it.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// A thread's objects in a second address space (see the module
/// documentation for the layout).
pub struct Child {
    /// Its TCB.
    pub tcb: u64,
    /// A 16-slot CNode (radix [`CSPACE_RADIX`], no guard).
    pub cspace: u64,
    /// Its address space.
    pub vspace: u64,
    /// The IPC buffer frame (mapped at [`IPC_BUFFER`]).
    pub ipc_buffer: u64,
    /// The shared frame's capability (mapped at [`SHARED`] in the new
    /// address space).
    pub shared_frame: u64,
    /// The shared page's address in the root task's window.
    pub shared: u64,
}

/// Every TCB case.
pub fn cases(t: &mut Suite) {
    let Some(tcb) = t.object(ObjectType::Tcb, 0) else {
        return;
    };
    t.expect_err(
        "tcb: priority 256 is out of range",
        Error::RangeError,
        invoke::tcb_set_priority(tcb, 256),
    );
    t.expect_err(
        "tcb: priority 2^63 is out of range",
        Error::RangeError,
        invoke::tcb_set_priority(tcb, 1 << 63),
    );
    t.expect_err(
        "tcb: resume a thread with no CSpace or VSpace",
        Error::IllegalOperation,
        invoke::tcb_resume(tcb),
    );
    t.expect_err(
        "tcb: write registers with a kernel rip",
        Error::InvalidUserAddress,
        invoke::tcb_write_registers(tcb, 0xffff_ffff_8000_0000, STACK_TOP, 0, 0),
    );
    t.expect_err(
        "tcb: configure with an unaligned IPC buffer address",
        Error::AlignmentError,
        invoke::tcb_configure(tcb, CNODE, VSPACE, slot::IPC_BUFFER_FRAME, IPC_BUFFER + 8),
    );
    t.expect_err(
        "tcb: TCB_RESUME on a CNode is unknown",
        Error::UnknownInvocation,
        invoke::tcb_resume(CNODE),
    );
    if !t.window_ready {
        return;
    }
    let memory = t.memory;
    let Some(child) = address_space(t, tcb, memory, blob(), true) else {
        return;
    };
    run(t, &child);
}

/// A step of [`address_space`]: a case of its own when `report` is set,
/// else a setup step.
fn step<T: core::fmt::Debug>(
    t: &mut Suite,
    report: bool,
    name: &str,
    got: Result<T, Error>,
) -> Option<T> {
    if report {
        t.expect_ok(name, got)
    } else {
        t.setup(name, got)
    }
}

/// Builds a second address space with `code` at [`CODE`] and returns the
/// objects of a thread (`tcb`, not yet configured) that will run in it.
/// The objects come from the untyped at `untyped`; the shared frame is also
/// mapped in the root task's window. With `report`, the steps that the TCB
/// cases check count as cases of their own; otherwise all are setup steps.
///
/// # Panics
///
/// If `code` is larger than a page.
/// The paging structures from the PML4 down to 4 KiB pages, in the order
/// they map.
pub const PAGING_LEVELS: [ObjectType; 3] = [
    ObjectType::Pdpt,
    ObjectType::PageDirectory,
    ObjectType::PageTable,
];

pub fn address_space(
    t: &mut Suite,
    tcb: u64,
    untyped: u64,
    code: &[u8],
    report: bool,
) -> Option<Child> {
    let vspace = t.object_in(untyped, ObjectType::VSpace, 0)?;
    let cspace = t.object_in(untyped, ObjectType::CNode, CSPACE_RADIX)?;
    let mut mapped = Ok(());
    for ty in PAGING_LEVELS {
        let table = t.object_in(untyped, ty, 0)?;
        let r = invoke::page_table_map(table, vspace, CODE);
        mapped = mapped.and(r);
    }
    if report {
        t.check(
            "page table map: a PDPT, a page directory and a page table into a new VSpace",
            mapped.is_ok(),
            format_args!("Ok three times"),
            format_args!("{mapped:?}"),
        );
    } else {
        t.setup("map the page tables of a new VSpace", mapped)?;
    }
    let code_frame = t.object_in(untyped, ObjectType::Frame4K, 0)?;
    let stack = t.object_in(untyped, ObjectType::Frame4K, 0)?;
    let shared = t.object_in(untyped, ObjectType::Frame4K, 0)?;
    let ipc_buffer = t.object_in(untyped, ObjectType::Frame4K, 0)?;

    // The code goes in through a temporary mapping in the root VSpace.
    assert!(code.len() <= PAGE as usize, "a child's code exceeds a page");
    let tmp = t.scratch_page();
    t.setup(
        "map the code frame in the root VSpace",
        invoke::frame_map(code_frame, VSPACE, tmp, Rights::READ | Rights::WRITE),
    )?;
    // SAFETY: `code_frame` is mapped read-write at `tmp`, a whole page no
    // Rust reference points into, and the code fits in it (asserted above).
    unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), tmp as *mut u8, code.len()) };
    t.setup(
        "unmap the code frame from the root VSpace",
        invoke::frame_unmap(code_frame),
    )?;
    // `tmp` is unmapped now and not touched again until it is remapped.

    step(
        t,
        report,
        "frame map: code, read and execute, into the new VSpace",
        invoke::frame_map(code_frame, vspace, CODE, Rights::READ | Rights::EXECUTE),
    )?;
    let rw = Rights::READ | Rights::WRITE;
    t.setup(
        "map the stack",
        invoke::frame_map(stack, vspace, STACK_TOP - PAGE, rw),
    )?;
    t.setup(
        "map the shared frame",
        invoke::frame_map(shared, vspace, SHARED, rw),
    )?;
    t.setup(
        "map the IPC buffer",
        invoke::frame_map(ipc_buffer, vspace, IPC_BUFFER, rw),
    )?;
    let shared_copy = t.copy(shared)?;
    let shared_page = t.page();
    t.setup(
        "map the shared frame in the root VSpace",
        invoke::frame_map(shared_copy, VSPACE, shared_page, rw),
    )?;
    Some(Child {
        tcb,
        cspace,
        vspace,
        ipc_buffer,
        shared_frame: shared,
        shared: shared_page,
    })
}

/// Word `i` of the shared page.
fn shared(child: &Child, i: usize) -> u64 {
    // SAFETY: a copy of the shared frame's capability maps it read-write at
    // `child.shared` in the root VSpace for the rest of the run.
    unsafe { peek(child.shared, i) }
}

/// Yields `n` times and returns how far the thread's counter moved.
fn counter_moves(child: &Child, n: u32) -> u64 {
    let before = shared(child, 4);
    for _ in 0..n {
        syscall::yield_now();
    }
    shared(child, 4).wrapping_sub(before)
}

fn run(t: &mut Suite, c: &Child) {
    t.expect_err(
        "tcb: configure with a frame as the CSpace root",
        Error::WrongType,
        invoke::tcb_configure(c.tcb, c.ipc_buffer, c.vspace, c.ipc_buffer, IPC_BUFFER),
    );
    t.expect_err(
        "tcb: configure with a CNode as the VSpace",
        Error::WrongType,
        invoke::tcb_configure(c.tcb, c.cspace, c.cspace, c.ipc_buffer, IPC_BUFFER),
    );
    // The kernel writes replies into the IPC buffer: a frame its holder
    // may only read, or device memory, will not do.
    if let Some(read_only) = t.slot_copy(c.ipc_buffer, Rights::READ) {
        t.expect_err(
            "tcb: configure with a read-only frame as the IPC buffer",
            Error::MissingRight,
            invoke::tcb_configure(c.tcb, c.cspace, c.vspace, read_only, IPC_BUFFER),
        );
    }
    if let Some(device) = t.device_frame() {
        t.expect_err(
            "tcb: configure with a device frame as the IPC buffer",
            Error::InvalidArgument,
            invoke::tcb_configure(c.tcb, c.cspace, c.vspace, device, IPC_BUFFER),
        );
    }
    let configured = t.expect_ok(
        "tcb: configure",
        invoke::tcb_configure(c.tcb, c.cspace, c.vspace, c.ipc_buffer, IPC_BUFFER),
    );
    let prioritised = t
        .expect_ok(
            "tcb: set the root thread's priority",
            invoke::tcb_set_priority(slot::TCB, PRIORITY),
        )
        .and(t.expect_ok(
            "tcb: set the new thread's priority",
            invoke::tcb_set_priority(c.tcb, PRIORITY),
        ));
    let written = t.expect_ok(
        "tcb: write registers",
        invoke::tcb_write_registers(c.tcb, CODE, STACK_TOP, ARG0, ARG1),
    );
    if let Some(regs) = t.expect_ok("tcb: read registers", invoke::tcb_read_registers(c.tcb)) {
        t.check(
            "tcb: read back rip and rsp as written",
            regs[0] == CODE && regs[1] == STACK_TOP,
            format_args!("rip {CODE:#x} rsp {STACK_TOP:#x}"),
            format_args!("rip {:#x} rsp {:#x}", regs[0], regs[1]),
        );
    }
    if configured.is_none() || prioritised.is_none() || written.is_none() {
        return;
    }
    if t.expect_ok("tcb: resume", invoke::tcb_resume(c.tcb))
        .is_none()
    {
        return;
    }
    let mut yields = 0;
    while shared(c, 0) != MARKER && yields < PATIENCE {
        syscall::yield_now();
        yields += 1;
    }
    let marker = shared(c, 0);
    if !t.check(
        "tcb: the new thread runs in its own address space",
        marker == MARKER,
        format_args!("marker {MARKER:#x} in the shared page"),
        format_args!("{marker:#x} after {yields} yields"),
    ) {
        // Leave it suspended, whatever it is doing.
        let _ = invoke::tcb_suspend(c.tcb);
        return;
    }
    let (rdi, rsi, rsp) = (shared(c, 1), shared(c, 2), shared(c, 3));
    t.check(
        "tcb: arg0 and arg1 arrive in rdi and rsi",
        rdi == ARG0 && rsi == ARG1,
        format_args!("rdi {ARG0:#x} rsi {ARG1:#x}"),
        format_args!("rdi {rdi:#x} rsi {rsi:#x}"),
    );
    t.expect_eq(
        "tcb: the new thread starts on the stack it was given",
        STACK_TOP,
        rsp,
    );
    let moved = counter_moves(c, 20);
    t.check(
        "tcb: the new thread runs whenever the root thread yields",
        moved >= 10,
        format_args!("its counter up by about 20"),
        format_args!("up by {moved}"),
    );
    if t.expect_ok("tcb: suspend", invoke::tcb_suspend(c.tcb))
        .is_none()
    {
        return;
    }
    let moved = counter_moves(c, 20);
    t.expect_eq("tcb: a suspended thread does not run", 0, moved);
    if let Some(regs) = t.expect_ok(
        "tcb: read registers of the suspended thread",
        invoke::tcb_read_registers(c.tcb),
    ) {
        let end = CODE + blob().len() as u64;
        t.check(
            "tcb: the suspended thread is inside its code, on its stack",
            (CODE..end).contains(&regs[0]) && regs[1] == STACK_TOP,
            format_args!("rip in {CODE:#x}..{end:#x}, rsp {STACK_TOP:#x}"),
            format_args!("rip {:#x} rsp {:#x}", regs[0], regs[1]),
        );
    }
}
