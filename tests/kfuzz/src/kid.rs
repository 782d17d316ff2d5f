//! The fuzzed threads ("kids"). Each runs in an address space of its own
//! with the sandbox CNode as its whole CSpace, so every capability address
//! it can name is a sandbox slot. A kid waits on its own notification (in
//! sandbox slot [`go_slot`]), marking [`word::WAITING`] while it does; to
//! make a call, the fuzzer writes it into the kid's shared page and
//! signals that notification. The kid copies the IPC-buffer words into
//! place, loads the call's RFLAGS and registers, makes the system call,
//! stores what came back, counts it done and waits again. A call that
//! blocks leaves the kid blocked, perhaps until another kid's call wakes
//! it; one that took the kid's notification away makes it exit. Such a
//! kid is started again at [`entry`]. A kid that received a call keeps
//! owing the reply while it waits, so a later `Reply` can answer it.
//!
//! Address space of a kid (all from the fuzzer's own memory):
//!
//! | address | what |
//! | --- | --- |
//! | [`CODE`] | the code below, read + execute |
//! | [`STACK_TOP`] − 4 KiB | the stack |
//! | [`SHARED`] | the call and its results ([`word`]), also mapped in the fuzzer |
//! | [`IPC_BUFFER`] | the IPC buffer |

use crate::calls::Call;
use core::arch::global_asm;
use libcap::abi::Syscall;
use libcap::abi::ipc_buffer::{RECV_CNODE, RECV_INDEX, SEND_CAP};

pub const PAGE: u64 = 4096;
pub const CODE: u64 = 0x40_0000;
pub const STACK_TOP: u64 = CODE + 3 * PAGE;
pub const SHARED: u64 = CODE + 4 * PAGE;
pub const IPC_BUFFER: u64 = CODE + 5 * PAGE;

/// Words of the shared page.
pub mod word {
    /// Calls completed (the kid adds 1 after each).
    pub const DONE: usize = 0;
    /// The call: number, capability, info, words 0-3, RFLAGS.
    pub const NUMBER: usize = 1;
    pub const CAP: usize = 2;
    pub const INFO: usize = 3;
    pub const WORDS: usize = 4;
    pub const RFLAGS: usize = 8;
    /// IPC-buffer words 4-8, then 120-122.
    pub const EXTRA: usize = 9;
    pub const SEND_CAP: usize = 14;
    pub const RECV_CNODE: usize = 15;
    pub const RECV_INDEX: usize = 16;
    /// What came back: rax (the error), rdi, rsi, rdx, r10, r8, r9.
    pub const RESULT: usize = 20;
    /// 1 while the kid waits for its next call.
    pub const WAITING: usize = 30;
    /// The call's number in the fuzzer's sequence: a kid woken with no new
    /// call (its notification signalled by some call, its own included)
    /// waits again instead of repeating the last one, which could
    /// otherwise signal itself forever and starve the fuzzer.
    pub const SEQUENCE: usize = 31;
}

/// The sandbox slot of kid `k`'s notification.
pub const fn go_slot(k: usize) -> u64 {
    60 + k as u64
}

global_asm!(
    ".pushsection .rodata.kfuzz_kid, \"a\", @progbits",
    ".balign 16",
    ".global kfuzz_kid_start",
    "kfuzz_kid_start:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    mov r13, rsi",
    "    xor r14d, r14d",
    ".Lkfuzz_kid_wait:",
    "    mov qword ptr [r15 + 8 * {waiting}], 1",
    "    mov eax, {recv}",
    "    mov rdi, r13",
    "    syscall",
    "    mov qword ptr [r15 + 8 * {waiting}], 0",
    "    test rax, rax",
    "    jnz .Lkfuzz_kid_exit",
    "    mov rax, [r15 + 8 * {sequence}]",
    "    cmp rax, r14",
    "    je .Lkfuzz_kid_wait",
    "    mov r14, rax",
    "    mov rax, [r15 + 8 * {extra}]",
    "    mov [r12 + 8 * 4], rax",
    "    mov rax, [r15 + 8 * {extra} + 8]",
    "    mov [r12 + 8 * 5], rax",
    "    mov rax, [r15 + 8 * {extra} + 16]",
    "    mov [r12 + 8 * 6], rax",
    "    mov rax, [r15 + 8 * {extra} + 24]",
    "    mov [r12 + 8 * 7], rax",
    "    mov rax, [r15 + 8 * {extra} + 32]",
    "    mov [r12 + 8 * 8], rax",
    "    mov rax, [r15 + 8 * {w_send}]",
    "    mov [r12 + 8 * {b_send}], rax",
    "    mov rax, [r15 + 8 * {w_recv_cnode}]",
    "    mov [r12 + 8 * {b_recv_cnode}], rax",
    "    mov rax, [r15 + 8 * {w_recv_index}]",
    "    mov [r12 + 8 * {b_recv_index}], rax",
    "    push qword ptr [r15 + 8 * {rflags}]",
    "    popfq",
    "    mov rax, [r15 + 8 * {number}]",
    "    mov rdi, [r15 + 8 * {cap}]",
    "    mov rsi, [r15 + 8 * {info}]",
    "    mov rdx, [r15 + 8 * {words}]",
    "    mov r10, [r15 + 8 * {words} + 8]",
    "    mov r8, [r15 + 8 * {words} + 16]",
    "    mov r9, [r15 + 8 * {words} + 24]",
    "    syscall",
    "    mov [r15 + 8 * {result}], rax",
    "    mov [r15 + 8 * {result} + 8], rdi",
    "    mov [r15 + 8 * {result} + 16], rsi",
    "    mov [r15 + 8 * {result} + 24], rdx",
    "    mov [r15 + 8 * {result} + 32], r10",
    "    mov [r15 + 8 * {result} + 40], r8",
    "    mov [r15 + 8 * {result} + 48], r9",
    "    push 0x202",
    "    popfq",
    "    inc qword ptr [r15]",
    "    jmp .Lkfuzz_kid_wait",
    ".Lkfuzz_kid_exit:",
    "    mov eax, {exit}",
    "    xor edx, edx",
    "    syscall",
    "    ud2",
    ".global kfuzz_kid_end",
    "kfuzz_kid_end:",
    ".popsection",
    shared = const SHARED,
    ipc_buffer = const IPC_BUFFER,
    extra = const word::EXTRA,
    w_send = const word::SEND_CAP,
    w_recv_cnode = const word::RECV_CNODE,
    w_recv_index = const word::RECV_INDEX,
    b_send = const SEND_CAP,
    b_recv_cnode = const RECV_CNODE,
    b_recv_index = const RECV_INDEX,
    rflags = const word::RFLAGS,
    number = const word::NUMBER,
    cap = const word::CAP,
    info = const word::INFO,
    words = const word::WORDS,
    result = const word::RESULT,
    exit = const Syscall::Exit as u64,
    recv = const Syscall::Recv as u64,
    waiting = const word::WAITING,
    sequence = const word::SEQUENCE,
);

unsafe extern "C" {
    static kfuzz_kid_start: u8;
    static kfuzz_kid_end: u8;
}

/// The kid's code.
pub fn code() -> &'static [u8] {
    let start = &raw const kfuzz_kid_start;
    let end = &raw const kfuzz_kid_end;
    // SAFETY: the two symbols delimit the code above, in read-only data.
    unsafe { core::slice::from_raw_parts(start, end as usize - start as usize) }
}

/// Where a kid starts (with the slot of its notification in `rsi`): the
/// first byte of its code.
pub fn entry() -> u64 {
    CODE
}

/// Writes `call`, number `sequence` (never 0) in the fuzzer's order, into
/// a kid's shared page, mapped at `page` here.
pub fn write_call(page: u64, call: &Call, sequence: u64) {
    let put = |i: usize, v: u64| {
        // SAFETY: `page` maps the kid's shared frame read-write in the
        // fuzzer, 512 words, none referenced by Rust.
        unsafe { (page as *mut u64).add(i).write_volatile(v) }
    };
    put(word::NUMBER, call.number);
    put(word::CAP, call.cap);
    put(word::INFO, call.info);
    for (i, w) in call.words.iter().enumerate() {
        put(word::WORDS + i, *w);
    }
    put(word::RFLAGS, call.rflags);
    for (i, w) in call.extra.iter().enumerate() {
        put(word::EXTRA + i, *w);
    }
    put(word::SEND_CAP, call.send_cap);
    put(word::RECV_CNODE, call.recv_cnode);
    put(word::RECV_INDEX, call.recv_index);
    put(word::SEQUENCE, sequence);
}

/// Word `i` of the shared page mapped at `page`.
pub fn read(page: u64, i: usize) -> u64 {
    // SAFETY: as in `write_call`; volatile, as the kid writes it.
    unsafe { (page as *const u64).add(i).read_volatile() }
}
