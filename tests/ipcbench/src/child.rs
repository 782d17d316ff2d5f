//! The partner threads in a second address space, and the objects they need.
//!
//! Both threads run position-independent machine code (the blob below,
//! assembled into ipcbench's read-only data and copied to the start of the
//! code frame of the new address space):
//!
//! - the **server** waits on the endpoint with `Recv`, then answers every
//!   call with `ReplyRecv`, echoing the message it received: the same
//!   message info in `rsi`, the same words in `rdx, r10, r8, r9`, and (for
//!   longer messages) the words the kernel put in its IPC buffer, which the
//!   kernel copies back to the caller. Nothing else runs between two calls.
//! - the **waiter** waits on the notification with `Recv`; each time it
//!   wakes it reads the time-stamp counter, stores it in the shared page
//!   and counts the wake-up there, then waits again.
//!
//! A thread whose system call fails stores the error code in the shared
//! page and suspends itself (through a capability to its own TCB), so a
//! kernel without IPC makes the benchmark report an error instead of
//! spinning.
//!
//! Layout of the second address space:
//!
//! | address | page |
//! | --- | --- |
//! | [`CODE`] | the blob, read + execute |
//! | `CODE + 0x2000` | the server's stack |
//! | `CODE + 0x4000` | the waiter's stack |
//! | [`SHARED`] (`CODE + 0x6000`) | the page shared with the root task |
//! | [`WAITER_IPC_BUFFER`] | the waiter's IPC buffer |
//! | [`IPC_BUFFER_ADDR`] | the server's IPC buffer, where libcap expects it |
//!
//! The pages between them (`CODE + 0x1000`, `+ 0x3000`, `+ 0x5000`) stay
//! unmapped, as guards.
//!
//! Its CSpace is a 16-slot CNode with no guard: capability address `k << 60`
//! names slot `k`.

use core::arch::global_asm;
use libcap::abi::boot_info::{IPC_BUFFER_ADDR, slot};
use libcap::abi::{MessageInfo, ObjectType, Rights, Syscall, label};
use libcap::{BootInfo, Error, invoke};

/// Bytes in a page.
pub const PAGE: u64 = 4096;

/// Where the second address space has its code.
const CODE: u64 = 0x40_0000;
const SERVER_STACK_TOP: u64 = CODE + 3 * PAGE;
const WAITER_STACK_TOP: u64 = CODE + 5 * PAGE;
/// The page shared with the root task.
const SHARED: u64 = CODE + 6 * PAGE;
const WAITER_IPC_BUFFER: u64 = CODE + 7 * PAGE;

/// Radix of the second CSpace's CNode.
const CHILD_CNODE_BITS: u64 = 4;
/// Slots of the second CSpace.
const CHILD_ENDPOINT: u64 = 1;
const CHILD_NOTIFICATION: u64 = 2;
const CHILD_SERVER_TCB: u64 = 3;
const CHILD_WAITER_TCB: u64 = 4;

/// The capability address of slot `index` of the second CSpace.
const fn child_cap(index: u64) -> u64 {
    index << (64 - CHILD_CNODE_BITS)
}

/// Words of the shared page.
pub mod shared {
    /// The error code that stopped the server (0 while it serves).
    pub const SERVER_ERROR: usize = 0;
    /// The error code that stopped the waiter (0 while it waits).
    pub const WAITER_ERROR: usize = 1;
    /// How often the waiter has woken.
    pub const WAKE_COUNT: usize = 2;
    /// The time-stamp counter when the waiter last woke.
    pub const WAKE_TSC: usize = 3;
}

/// Priorities: the server shares the root task's (so a call and its reply
/// switch between equals); the waiter is above both, so a signal makes it
/// run at once.
pub const ROOT_PRIORITY: u64 = 100;
const SERVER_PRIORITY: u64 = ROOT_PRIORITY;
const WAITER_PRIORITY: u64 = 200;

global_asm!(
    ".pushsection .rodata.ipcbench_child, \"a\", @progbits",
    ".balign 16",
    ".global ipcbench_child_start",
    ".global ipcbench_server",
    ".global ipcbench_waiter",
    ".global ipcbench_child_end",
    "ipcbench_child_start:",
    // The server: Recv once, then ReplyRecv forever, echoing.
    "ipcbench_server:",
    "    mov rdi, {endpoint}",
    "    mov eax, {recv}",
    "    syscall",
    "    test rax, rax",
    "    jnz 3f",
    "2:",
    "    mov rdi, {endpoint}",
    "    mov eax, {reply_recv}",
    "    syscall",
    "    test rax, rax",
    "    jz 2b",
    "3:",
    "    mov qword ptr [rip + ipcbench_child_start + {shared} + 8 * {server_error}], rax",
    "    mov rdi, {server_tcb}",
    "    jmp 6f",
    // The waiter: Recv on the notification; on each wake, stamp and count.
    "ipcbench_waiter:",
    "4:",
    "    mov rdi, {notification}",
    "    mov eax, {recv}",
    "    syscall",
    "    mov rcx, rax",
    "    lfence",
    "    rdtsc",
    "    shl rdx, 32",
    "    or rax, rdx",
    "    test rcx, rcx",
    "    jnz 5f",
    "    mov qword ptr [rip + ipcbench_child_start + {shared} + 8 * {wake_tsc}], rax",
    "    inc qword ptr [rip + ipcbench_child_start + {shared} + 8 * {wake_count}]",
    "    jmp 4b",
    "5:",
    "    mov qword ptr [rip + ipcbench_child_start + {shared} + 8 * {waiter_error}], rcx",
    "    mov rdi, {waiter_tcb}",
    // Either thread after an error: suspend itself (rdi = its own TCB).
    "6:",
    "    mov eax, {call}",
    "    mov rsi, {suspend}",
    "    syscall",
    "    ud2",
    "ipcbench_child_end:",
    ".popsection",
    endpoint = const child_cap(CHILD_ENDPOINT),
    notification = const child_cap(CHILD_NOTIFICATION),
    server_tcb = const child_cap(CHILD_SERVER_TCB),
    waiter_tcb = const child_cap(CHILD_WAITER_TCB),
    shared = const SHARED - CODE,
    server_error = const shared::SERVER_ERROR,
    waiter_error = const shared::WAITER_ERROR,
    wake_count = const shared::WAKE_COUNT,
    wake_tsc = const shared::WAKE_TSC,
    recv = const Syscall::Recv as u64,
    reply_recv = const Syscall::ReplyRecv as u64,
    call = const Syscall::Call as u64,
    suspend = const MessageInfo::new(label::TCB_SUSPEND, 0).0,
);

unsafe extern "C" {
    static ipcbench_child_start: u8;
    static ipcbench_server: u8;
    static ipcbench_waiter: u8;
    static ipcbench_child_end: u8;
}

/// The blob's bytes.
fn blob() -> &'static [u8] {
    let start = &raw const ipcbench_child_start;
    let end = &raw const ipcbench_child_end;
    let len = end as usize - start as usize;
    // SAFETY: the two symbols delimit the blob, which the `global_asm!`
    // above puts in read-only data; nothing writes it.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Where `symbol` (inside the blob) runs in the second address space.
fn entry(symbol: *const u8) -> u64 {
    CODE + (symbol as u64 - (&raw const ipcbench_child_start) as u64)
}

/// A root-task region where nothing is mapped at boot: its page tables are
/// mapped here, then the code frame (while the blob is copied in) and the
/// shared page.
const WINDOW: u64 = 0x0000_1000_0000_0000;

/// A setup step that failed: what, and the kernel's answer.
#[derive(Debug)]
pub struct SetupError {
    pub what: &'static str,
    pub error: Error,
}

trait Step<T> {
    fn step(self, what: &'static str) -> Result<T, SetupError>;
}

impl<T> Step<T> for Result<T, Error> {
    fn step(self, what: &'static str) -> Result<T, SetupError> {
        self.map_err(|error| SetupError { what, error })
    }
}

/// The root CNode's free slots, handed out in order.
struct Slots {
    next: u64,
}

/// Objects from one untyped into fresh root-CNode slots.
struct Alloc {
    slots: Slots,
    memory: u64,
}

impl Alloc {
    fn object(&mut self, ty: ObjectType, size_bits: u64) -> Result<u64, SetupError> {
        let dest = self.slots.next;
        self.slots.next += 1;
        invoke::untyped_retype(self.memory, ty, size_bits, 1, slot::CNODE, dest)
            .step("retype an object")?;
        Ok(dest)
    }

    /// A copy of `src` with all of its rights, in a fresh slot.
    fn copy(&mut self, src: u64) -> Result<u64, SetupError> {
        let dest = self.slots.next;
        self.slots.next += 1;
        invoke::cnode_copy(slot::CNODE, dest, slot::CNODE, src, Rights::all())
            .step("copy a capability")?;
        Ok(dest)
    }

    /// Maps the three paging structures that `vaddr` needs in `vspace`: a
    /// PDPT, a page directory and a page table.
    fn page_tables(&mut self, vspace: u64, vaddr: u64) -> Result<(), SetupError> {
        for ty in [
            ObjectType::Pdpt,
            ObjectType::PageDirectory,
            ObjectType::PageTable,
        ] {
            let table = self.object(ty, 0)?;
            invoke::page_table_map(table, vspace, vaddr).step("map a page table")?;
        }
        Ok(())
    }
}

/// The capabilities the benchmarks use, in the root CSpace.
pub struct Child {
    /// The endpoint the server receives on.
    pub endpoint: u64,
    /// The notification the waiter waits on.
    pub notification: u64,
    /// The shared page, in the root task's address space.
    shared: u64,
}

impl Child {
    /// Word `index` of the shared page.
    pub fn shared(&self, index: usize) -> u64 {
        // SAFETY: `build` mapped the shared frame read-write at
        // `self.shared` in the root VSpace for the rest of the run; the
        // index is one of `shared::*`. Volatile: the other threads write it.
        unsafe { (self.shared as *const u64).add(index).read_volatile() }
    }
}

/// Builds the second address space and its two threads, lowers the root
/// task to [`ROOT_PRIORITY`] and starts them.
pub fn build(boot_info: &BootInfo) -> Result<Child, SetupError> {
    let count = boot_info.untyped_count as usize;
    let memory = boot_info.untyped[..count.min(boot_info.untyped.len())]
        .iter()
        .enumerate()
        .filter(|(_, u)| u.is_device == 0)
        .max_by_key(|(_, u)| u.size_bits)
        .map(|(i, _)| slot::FIRST_UNTYPED + i as u64)
        .ok_or(SetupError {
            what: "find untyped memory",
            error: Error::NotEnoughMemory,
        })?;
    let mut a = Alloc {
        slots: Slots {
            next: boot_info.first_free_slot,
        },
        memory,
    };
    let rw = Rights::READ | Rights::WRITE;

    a.page_tables(slot::VSPACE, WINDOW)?;
    let vspace = a.object(ObjectType::VSpace, 0)?;
    let cnode = a.object(ObjectType::CNode, CHILD_CNODE_BITS)?;
    a.page_tables(vspace, CODE)?;
    a.page_tables(vspace, IPC_BUFFER_ADDR)?;

    // The code goes in through a temporary mapping in the root VSpace.
    let code = a.object(ObjectType::Frame4K, 0)?;
    let bytes = blob();
    assert!(
        bytes.len() <= PAGE as usize,
        "the child blob exceeds a page"
    );
    invoke::frame_map(code, slot::VSPACE, WINDOW, rw).step("map the code frame here")?;
    // SAFETY: `code` is mapped read-write at `WINDOW`, a whole page no Rust
    // reference points into, and the blob fits in it (asserted above).
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), WINDOW as *mut u8, bytes.len()) };
    invoke::frame_unmap(code).step("unmap the code frame here")?;
    invoke::frame_map(code, vspace, CODE, Rights::READ | Rights::EXECUTE)
        .step("map the code frame there")?;

    let frames = [
        (SERVER_STACK_TOP - PAGE, "map the server's stack"),
        (WAITER_STACK_TOP - PAGE, "map the waiter's stack"),
        (SHARED, "map the shared page there"),
        (WAITER_IPC_BUFFER, "map the waiter's IPC buffer"),
        (IPC_BUFFER_ADDR, "map the server's IPC buffer"),
    ];
    let mut caps = [0; 5];
    for ((vaddr, what), cap) in frames.into_iter().zip(&mut caps) {
        *cap = a.object(ObjectType::Frame4K, 0)?;
        invoke::frame_map(*cap, vspace, vaddr, rw).step(what)?;
    }
    let [_, _, shared_frame, waiter_ipc, server_ipc] = caps;
    let shared_here = a.copy(shared_frame)?;
    let shared_page = WINDOW + PAGE;
    invoke::frame_map(shared_here, slot::VSPACE, shared_page, rw)
        .step("map the shared page here")?;

    let endpoint = a.object(ObjectType::Endpoint, 0)?;
    let notification = a.object(ObjectType::Notification, 0)?;
    let server = a.object(ObjectType::Tcb, 0)?;
    let waiter = a.object(ObjectType::Tcb, 0)?;
    for (index, src) in [
        (CHILD_ENDPOINT, endpoint),
        (CHILD_NOTIFICATION, notification),
        (CHILD_SERVER_TCB, server),
        (CHILD_WAITER_TCB, waiter),
    ] {
        invoke::cnode_copy(cnode, index, slot::CNODE, src, Rights::all())
            .step("copy a capability into the second CSpace")?;
    }

    invoke::tcb_configure(server, cnode, vspace, server_ipc, IPC_BUFFER_ADDR)
        .step("configure the server")?;
    invoke::tcb_configure(waiter, cnode, vspace, waiter_ipc, WAITER_IPC_BUFFER)
        .step("configure the waiter")?;
    // Raise the others before lowering the root task, in case the kernel
    // lets no thread give a priority above its own.
    invoke::tcb_set_priority(waiter, WAITER_PRIORITY).step("set the waiter's priority")?;
    invoke::tcb_set_priority(server, SERVER_PRIORITY).step("set the server's priority")?;
    invoke::tcb_set_priority(slot::TCB, ROOT_PRIORITY).step("set the root task's priority")?;
    let server_entry = entry(&raw const ipcbench_server);
    let waiter_entry = entry(&raw const ipcbench_waiter);
    invoke::tcb_write_registers(server, server_entry, SERVER_STACK_TOP, 0, 0)
        .step("set the server's registers")?;
    invoke::tcb_write_registers(waiter, waiter_entry, WAITER_STACK_TOP, 0, 0)
        .step("set the waiter's registers")?;
    invoke::tcb_resume(server).step("resume the server")?;
    invoke::tcb_resume(waiter).step("resume the waiter")?;
    Ok(Child {
        endpoint,
        notification,
        shared: shared_page,
    })
}
