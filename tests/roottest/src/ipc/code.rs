//! The kids' machine code: one blob, assembled into roottest's read-only
//! data and copied into each kid's code page at [`CODE`], holding every
//! routine a kid can be started at ([`Routine`]).
//!
//! Conventions: a routine gets its arguments in `rdi` and `rsi`, keeps
//! `r15` = its shared page ([`SHARED`], words per [`sw`]) and `r12` = its
//! IPC buffer, and uses no stack before a fault it means to cause, so a
//! fault message shows `rsp` = [`STACK_TOP`](crate::thread::STACK_TOP). `record` stores the result
//! registers of the last system call in [`sw::BADGE`]…[`sw::IPC4`] and then
//! increments [`sw::DONE`]. A routine ends by **parking**: it suspends its
//! own thread through [`cs::SELF`], so the root thread sees a finished kid
//! as suspended, and restarts it with new registers for the next case.
//!
//! | routine | arguments | does |
//! | --- | --- | --- |
//! | [`Routine::Echo`] | endpoint, mode | a server: `Recv`, then forever record, add 1 to every word (registers and IPC buffer), reply with the same label and length: `ReplyRecv` in mode 0, `Reply` (result in [`sw::AUX`]) then `Recv` otherwise; parks on an error |
//! | [`Routine::RecvOnce`] | endpoint or notification, receive slot | sets the receive slot to (its CNode, the index), or to none for index 0; `Recv`; record; park |
//! | [`Routine::SendOnce`] | capability, system-call number | that system call with label [`SEND_LABEL`] and words [`SEND_WORDS`]; record; park |
//! | [`Routine::Caller`] | endpoint | forever: `Call` with label [`CALLER_LABEL`] and words `[i, 0xc1, 0xc2, 0xc3]` for i = 0, 1, …; record; log reply word 0 at [`sw::LOG`] + i; parks on an error |
//! | [`Routine::Faulter`] | fault kind ([`FaultKind`]) | [`sw::AUX`] = 1, then the fault. Resumed after it: page fault → stores back what it wrote to [`FAULT_PAGE`] in [`sw::W0`]; done; park |
//! | [`Routine::Recover`] | — | the address a fault handler resumes a faulter at: [`sw::AUX`] = [`RECOVERED`], [`sw::AUX2`] = `rsp`; done; park |
//! | [`Routine::Spin`] | — | increments [`sw::COUNTER`] forever, never entering the kernel |
//! | [`Routine::Hostile`] | flags, TSC cycles | loads RFLAGS XOR the flags with `popfq`, then: `Null` (the `sysretq` way back), flags after it in [`sw::AUX`]; `Yield` (through the scheduler), flags in [`sw::AUX2`]; spins for the given cycles with [`sw::COUNTER`] counting, so timer interrupts arrive with those flags, flags in [`sw::W0`] + 1; `Null`'s error in [`sw::W0`]; all flags cleared; done; park |
//! | [`Routine::Fpu`] | value, rounds | loads the value into `xmm0` and the x87 stack, and MXCSR with a rounding mode chosen by the value's bit 0 ([`sw::AUX2`]); then `rounds` times: `Yield`, and check that `xmm0`, the x87 top and MXCSR still hold its values (mismatches counted in [`sw::AUX`]); done; park |
//! | [`Routine::Sleep`] | capability, deadline | `RecvTimed` on the capability until the TSC deadline; record; park |
//! | [`Routine::Driver`] | wake-ups before signalling, what to log | the RTC's driver: forever `Recv` on [`cs::A`] (a notification), log the [`sw::COUNTER`] of the page at [`OTHER`] (or, when the second argument is not 0, the TSC) at [`sw::LOG`] + i, read RTC register C through the port capability [`cs::B`] (value in [`sw::AUX2`]), `IRQ_HANDLER_ACK` on [`cs::C`], [`sw::DONE`] = wake-ups; after the given number, signal [`cs::D`] once. Errors are ORed into [`sw::AUX`] |

use super::{cs, sw};
use crate::harness::PAGE;
use crate::thread::{CODE, IPC_BUFFER, SHARED};
use core::arch::global_asm;
use libcap::abi::ipc_buffer::{RECV_CNODE, RECV_INDEX};
use libcap::abi::{Syscall, label};

/// A page in the kids' address spaces where another kid's shared page may
/// be mapped (for [`Routine::Driver`]).
pub const OTHER: u64 = CODE + 6 * PAGE;
/// An address with no page (but with page tables) in every kid's address
/// space: the page-fault routine writes there.
pub const FAULT_PAGE: u64 = CODE + 8 * PAGE;
/// What the page-fault routine writes to [`FAULT_PAGE`].
pub const FAULT_VALUE: u64 = 0x5eed_f00d;
/// What [`Routine::Recover`] stores in [`sw::AUX`].
pub const RECOVERED: u64 = 0x600d;
/// [`Routine::SendOnce`]'s label and words.
pub const SEND_LABEL: u64 = 0x5e;
pub const SEND_WORDS: [u64; 4] = [0x51, 0x52, 0x53, 0x54];
/// [`Routine::Caller`]'s label.
pub const CALLER_LABEL: u64 = 0xca;
/// The system-call number [`FaultKind::UnknownSyscall`] uses.
pub const UNKNOWN_SYSCALL: u64 = 77;

/// What [`Routine::Faulter`] does wrong.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u64)]
pub enum FaultKind {
    /// Writes [`FAULT_VALUE`] to [`FAULT_PAGE`].
    PageFault = 0,
    /// `ud2`.
    InvalidOpcode = 1,
    /// `int3`.
    Breakpoint = 2,
    /// Divides by zero.
    DivideError = 3,
    /// `hlt`, privileged: a general-protection fault.
    GeneralProtection = 4,
    /// System call [`UNKNOWN_SYSCALL`].
    UnknownSyscall = 5,
}

const OFF_BADGE: usize = 8 * sw::BADGE;
const OFF_INFO: usize = 8 * sw::INFO;
const OFF_ERROR: usize = 8 * sw::ERROR;
const OFF_W0: usize = 8 * sw::W0;
const OFF_IPC4: usize = 8 * sw::IPC4;
const OFF_AUX: usize = 8 * sw::AUX;
const OFF_AUX2: usize = 8 * sw::AUX2;
const OFF_COUNTER: usize = 8 * sw::COUNTER;
const OFF_STARTED: usize = 8 * sw::STARTED;
const OFF_LOG: usize = 8 * sw::LOG;

const fn info(label: u64, length: u64) -> u64 {
    label << 12 | length
}

global_asm!(
    ".pushsection .rodata.roottest_ipc, \"a\", @progbits",
    ".balign 16",
    ".global roottest_ipc_start",
    "roottest_ipc_start:",
    // ---- park: suspend this thread (through its own TCB capability).
    ".global roottest_ipc_park",
    "roottest_ipc_park:",
    "    mov eax, {call}",
    "    mov edi, {c_self}",
    "    mov esi, {suspend_info}",
    "    syscall",
    "    ud2",
    // ---- record the result registers of the last system call; done += 1.
    ".Lroottest_ipc_record:",
    "    mov [r15 + {off_error}], rax",
    "    mov [r15 + {off_badge}], rdi",
    "    mov [r15 + {off_info}], rsi",
    "    mov [r15 + {off_w0}], rdx",
    "    mov [r15 + {off_w0} + 8], r10",
    "    mov [r15 + {off_w0} + 16], r8",
    "    mov [r15 + {off_w0} + 24], r9",
    "    mov r11, [r12 + 32]",
    "    mov [r15 + {off_ipc4}], r11",
    "    inc qword ptr [r15]",
    "    ret",
    // ---- echo(endpoint, mode)
    ".global roottest_ipc_echo",
    "roottest_ipc_echo:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rbx, rdi",
    "    mov r14, rsi",
    "    mov eax, {recv}",
    "    syscall",
    ".Lroottest_ipc_echo_got:",
    "    call .Lroottest_ipc_record",
    "    test rax, rax",
    "    jnz roottest_ipc_park",
    "    add rdx, 1",
    "    add r10, 1",
    "    add r8, 1",
    "    add r9, 1",
    "    mov rcx, rsi",
    "    and ecx, 0x7f",
    "    mov r11d, 4",
    ".Lroottest_ipc_echo_word:",
    "    cmp r11, rcx",
    "    jae .Lroottest_ipc_echo_reply",
    "    add qword ptr [r12 + 8 * r11], 1",
    "    inc r11",
    "    jmp .Lroottest_ipc_echo_word",
    ".Lroottest_ipc_echo_reply:",
    "    and rsi, -0x81",
    "    test r14, r14",
    "    jnz .Lroottest_ipc_echo_split",
    "    mov eax, {reply_recv}",
    "    mov rdi, rbx",
    "    syscall",
    "    jmp .Lroottest_ipc_echo_got",
    ".Lroottest_ipc_echo_split:",
    "    mov eax, {reply}",
    "    syscall",
    "    mov [r15 + {off_aux}], rax",
    "    mov eax, {recv}",
    "    mov rdi, rbx",
    "    syscall",
    "    jmp .Lroottest_ipc_echo_got",
    // ---- recv_once(capability, receive index)
    ".global roottest_ipc_recv_once",
    "roottest_ipc_recv_once:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    xor eax, eax",
    "    test rsi, rsi",
    "    jz .Lroottest_ipc_recv_none",
    "    mov eax, {c_cnode}",
    ".Lroottest_ipc_recv_none:",
    "    mov [r12 + {off_recv_cnode}], rax",
    "    mov [r12 + {off_recv_index}], rsi",
    "    mov eax, {recv}",
    "    syscall",
    "    call .Lroottest_ipc_record",
    "    jmp roottest_ipc_park",
    // ---- sleep(capability, deadline)
    ".global roottest_ipc_sleep",
    "roottest_ipc_sleep:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rdx, rsi",
    "    mov eax, {recv_timed}",
    "    syscall",
    "    call .Lroottest_ipc_record",
    "    jmp roottest_ipc_park",
    // ---- send_once(capability, system-call number)
    ".global roottest_ipc_send_once",
    "roottest_ipc_send_once:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rax, rsi",
    "    mov esi, {send_info}",
    "    mov edx, {send_w0}",
    "    mov r10d, {send_w1}",
    "    mov r8d, {send_w2}",
    "    mov r9d, {send_w3}",
    "    syscall",
    "    call .Lroottest_ipc_record",
    "    jmp roottest_ipc_park",
    // ---- caller(endpoint)
    ".global roottest_ipc_caller",
    "roottest_ipc_caller:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rbx, rdi",
    "    xor r13d, r13d",
    ".Lroottest_ipc_caller_loop:",
    "    mov eax, {call}",
    "    mov rdi, rbx",
    "    mov esi, {caller_info}",
    "    mov rdx, r13",
    "    mov r10d, 0xc1",
    "    mov r8d, 0xc2",
    "    mov r9d, 0xc3",
    "    syscall",
    "    call .Lroottest_ipc_record",
    "    test rax, rax",
    "    jnz roottest_ipc_park",
    "    cmp r13, {log_len}",
    "    jae .Lroottest_ipc_caller_next",
    "    mov [r15 + 8 * r13 + {off_log}], rdx",
    ".Lroottest_ipc_caller_next:",
    "    inc r13",
    "    jmp .Lroottest_ipc_caller_loop",
    // ---- faulter(kind)
    ".global roottest_ipc_faulter",
    "roottest_ipc_faulter:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov qword ptr [r15 + {off_aux}], 1",
    "    cmp rdi, 1",
    "    je roottest_ipc_fault_ud",
    "    cmp rdi, 2",
    "    je roottest_ipc_fault_bp",
    "    cmp rdi, 3",
    "    je .Lroottest_ipc_fault_de",
    "    cmp rdi, 4",
    "    je roottest_ipc_fault_gp",
    "    cmp rdi, 5",
    "    je .Lroottest_ipc_fault_sys",
    "    mov r13d, {fault_page}",
    "    mov r14d, {fault_value}",
    ".global roottest_ipc_fault_pf",
    "roottest_ipc_fault_pf:",
    "    mov [r13], r14",
    "    mov rax, [r13]",
    "    mov [r15 + {off_w0}], rax",
    "    jmp .Lroottest_ipc_fault_done",
    ".global roottest_ipc_fault_ud",
    "roottest_ipc_fault_ud:",
    "    ud2",
    "    jmp .Lroottest_ipc_fault_done",
    ".global roottest_ipc_fault_bp",
    "roottest_ipc_fault_bp:",
    "    int3",
    "    jmp .Lroottest_ipc_fault_done",
    ".Lroottest_ipc_fault_de:",
    "    xor ecx, ecx",
    "    xor edx, edx",
    "    mov eax, 1",
    ".global roottest_ipc_fault_de",
    "roottest_ipc_fault_de:",
    "    div rcx",
    "    jmp .Lroottest_ipc_fault_done",
    ".global roottest_ipc_fault_gp",
    "roottest_ipc_fault_gp:",
    "    hlt",
    "    jmp .Lroottest_ipc_fault_done",
    ".Lroottest_ipc_fault_sys:",
    "    mov eax, {unknown_syscall}",
    ".global roottest_ipc_fault_sys",
    "roottest_ipc_fault_sys:",
    "    syscall",
    "    mov [r15 + {off_error}], rax",
    "    jmp .Lroottest_ipc_fault_done",
    ".global roottest_ipc_recover",
    "roottest_ipc_recover:",
    "    mov r15d, {shared}",
    "    mov qword ptr [r15 + {off_aux}], {recovered}",
    "    mov [r15 + {off_aux2}], rsp",
    ".Lroottest_ipc_fault_done:",
    "    inc qword ptr [r15]",
    "    jmp roottest_ipc_park",
    // ---- hostile(flags, cycles)
    ".global roottest_ipc_hostile",
    "roottest_ipc_hostile:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rbx, rdi",
    "    mov r14, rsi",
    "    pushfq",
    "    xor [rsp], rbx",
    "    popfq",
    "    mov eax, {null}",
    "    syscall",
    "    mov [r15 + {off_w0}], rax",
    "    pushfq",
    "    pop rax",
    "    mov [r15 + {off_aux}], rax",
    "    mov eax, {yield_}",
    "    syscall",
    "    pushfq",
    "    pop rax",
    "    mov [r15 + {off_aux2}], rax",
    "    rdtsc",
    "    shl rdx, 32",
    "    or rax, rdx",
    "    lea r13, [rax + r14]",
    ".Lroottest_ipc_hostile_spin:",
    "    inc qword ptr [r15 + {off_counter}]",
    "    rdtsc",
    "    shl rdx, 32",
    "    or rax, rdx",
    "    cmp rax, r13",
    "    jb .Lroottest_ipc_hostile_spin",
    "    pushfq",
    "    pop rax",
    "    mov [r15 + {off_w0} + 8], rax",
    "    push 0x202",
    "    popfq",
    "    inc qword ptr [r15]",
    "    jmp roottest_ipc_park",
    // ---- fpu(value, rounds)
    ".global roottest_ipc_fpu",
    "roottest_ipc_fpu:",
    "    mov r15d, {shared}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov rbx, rdi",
    "    mov r14, rsi",
    "    xor r13d, r13d",
    "    movq xmm0, rbx",
    "    mov [r15 + {off_w0}], rbx",
    "    fild qword ptr [r15 + {off_w0}]",
    "    mov eax, 0x1f80",
    "    test bl, 1",
    "    jz .Lroottest_ipc_fpu_mxcsr",
    "    or eax, 0x6000",
    ".Lroottest_ipc_fpu_mxcsr:",
    "    mov [r15 + {off_aux2}], rax",
    "    ldmxcsr [r15 + {off_aux2}]",
    ".Lroottest_ipc_fpu_round:",
    "    mov eax, {yield_}",
    "    syscall",
    "    movq rax, xmm0",
    "    cmp rax, rbx",
    "    je .Lroottest_ipc_fpu_x87",
    "    inc r13",
    ".Lroottest_ipc_fpu_x87:",
    "    fld st(0)",
    "    fistp qword ptr [r15 + {off_w0} + 8]",
    "    cmp [r15 + {off_w0} + 8], rbx",
    "    je .Lroottest_ipc_fpu_csr",
    "    inc r13",
    ".Lroottest_ipc_fpu_csr:",
    "    stmxcsr [r15 + {off_w0} + 16]",
    "    mov eax, [r15 + {off_w0} + 16]",
    "    cmp eax, [r15 + {off_aux2}]",
    "    je .Lroottest_ipc_fpu_next",
    "    inc r13",
    ".Lroottest_ipc_fpu_next:",
    "    dec r14",
    "    jnz .Lroottest_ipc_fpu_round",
    "    mov [r15 + {off_aux}], r13",
    "    inc qword ptr [r15]",
    "    jmp roottest_ipc_park",
    // ---- spin()
    ".global roottest_ipc_spin",
    "roottest_ipc_spin:",
    "    mov r15d, {shared}",
    "    inc qword ptr [r15 + {off_started}]",
    ".Lroottest_ipc_spin_loop:",
    "    inc qword ptr [r15 + {off_counter}]",
    "    jmp .Lroottest_ipc_spin_loop",
    // ---- driver(wake-ups before signalling)
    ".global roottest_ipc_driver",
    "roottest_ipc_driver:",
    "    mov r15d, {shared}",
    "    mov r12d, {ipc_buffer}",
    "    inc qword ptr [r15 + {off_started}]",
    "    mov r14d, {other}",
    "    mov rbx, rdi",
    "    mov rbp, rsi",
    "    xor r13d, r13d",
    ".Lroottest_ipc_driver_wait:",
    "    mov eax, {recv}",
    "    mov edi, {c_a}",
    "    syscall",
    "    mov [r15 + {off_error}], rax",
    "    test rax, rax",
    "    jnz roottest_ipc_park",
    "    mov [r15 + {off_badge}], rdi",
    "    mov rax, [r14 + {off_counter}]",
    "    test rbp, rbp",
    "    jz .Lroottest_ipc_driver_log",
    "    rdtsc",
    "    shl rdx, 32",
    "    or rax, rdx",
    ".Lroottest_ipc_driver_log:",
    "    cmp r13, {log_len}",
    "    jae .Lroottest_ipc_driver_io",
    "    mov [r15 + 8 * r13 + {off_log}], rax",
    ".Lroottest_ipc_driver_io:",
    "    mov eax, {call}",
    "    mov edi, {c_b}",
    "    mov esi, {port_out_info}",
    "    mov edx, 0x70",
    "    mov r10d, 1",
    "    mov r8d, 0x0c",
    "    syscall",
    "    or [r15 + {off_aux}], rax",
    "    mov eax, {call}",
    "    mov edi, {c_b}",
    "    mov esi, {port_in_info}",
    "    mov edx, 0x71",
    "    mov r10d, 1",
    "    syscall",
    "    or [r15 + {off_aux}], rax",
    "    mov [r15 + {off_aux2}], rdx",
    "    mov eax, {call}",
    "    mov edi, {c_c}",
    "    mov esi, {ack_info}",
    "    syscall",
    "    or [r15 + {off_aux}], rax",
    "    inc r13",
    "    mov [r15], r13",
    "    cmp r13, rbx",
    "    jne .Lroottest_ipc_driver_wait",
    "    mov eax, {send}",
    "    mov edi, {c_d}",
    "    xor esi, esi",
    "    syscall",
    "    or [r15 + {off_aux}], rax",
    "    jmp .Lroottest_ipc_driver_wait",
    ".global roottest_ipc_end",
    "roottest_ipc_end:",
    ".popsection",
    call = const Syscall::Call as u64,
    null = const Syscall::Null as u64,
    recv_timed = const Syscall::RecvTimed as u64,
    yield_ = const Syscall::Yield as u64,

    send = const Syscall::Send as u64,
    recv = const Syscall::Recv as u64,
    reply = const Syscall::Reply as u64,
    reply_recv = const Syscall::ReplyRecv as u64,
    c_self = const cs::SELF,
    c_cnode = const cs::CNODE,
    c_a = const cs::A,
    c_b = const cs::B,
    c_c = const cs::C,
    c_d = const cs::D,
    suspend_info = const info(label::TCB_SUSPEND, 0),
    port_out_info = const info(label::IO_PORT_OUT, 3),
    port_in_info = const info(label::IO_PORT_IN, 2),
    ack_info = const info(label::IRQ_HANDLER_ACK, 0),
    send_info = const info(SEND_LABEL, 4),
    caller_info = const info(CALLER_LABEL, 4),
    send_w0 = const SEND_WORDS[0],
    send_w1 = const SEND_WORDS[1],
    send_w2 = const SEND_WORDS[2],
    send_w3 = const SEND_WORDS[3],
    shared = const SHARED,
    ipc_buffer = const IPC_BUFFER,
    other = const OTHER,
    fault_page = const FAULT_PAGE,
    fault_value = const FAULT_VALUE,
    recovered = const RECOVERED,
    unknown_syscall = const UNKNOWN_SYSCALL,
    log_len = const sw::LOG_LEN,
    off_badge = const OFF_BADGE,
    off_info = const OFF_INFO,
    off_error = const OFF_ERROR,
    off_w0 = const OFF_W0,
    off_ipc4 = const OFF_IPC4,
    off_aux = const OFF_AUX,
    off_aux2 = const OFF_AUX2,
    off_counter = const OFF_COUNTER,
    off_started = const OFF_STARTED,
    off_log = const OFF_LOG,
    off_recv_cnode = const 8 * RECV_CNODE,
    off_recv_index = const 8 * RECV_INDEX,
);

unsafe extern "C" {
    static roottest_ipc_start: u8;
    static roottest_ipc_end: u8;
    static roottest_ipc_echo: u8;
    static roottest_ipc_recv_once: u8;
    static roottest_ipc_send_once: u8;
    static roottest_ipc_caller: u8;
    static roottest_ipc_faulter: u8;
    static roottest_ipc_recover: u8;
    static roottest_ipc_spin: u8;
    static roottest_ipc_hostile: u8;
    static roottest_ipc_fpu: u8;
    static roottest_ipc_sleep: u8;
    static roottest_ipc_driver: u8;
    static roottest_ipc_fault_pf: u8;
    static roottest_ipc_fault_ud: u8;
    static roottest_ipc_fault_bp: u8;
    static roottest_ipc_fault_de: u8;
    static roottest_ipc_fault_gp: u8;
    static roottest_ipc_fault_sys: u8;
}

/// The blob's bytes.
pub fn blob() -> &'static [u8] {
    let start = &raw const roottest_ipc_start;
    let end = &raw const roottest_ipc_end;
    let len = end as usize - start as usize;
    // SAFETY: the two symbols delimit the blob, which the `global_asm!`
    // above puts in read-only data; nothing writes it.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Where `symbol` (inside the blob) is in a kid's address space.
fn kid_address(symbol: *const u8) -> u64 {
    CODE + (symbol as u64 - (&raw const roottest_ipc_start) as u64)
}

/// A kid's entry points.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Routine {
    Echo,
    RecvOnce,
    SendOnce,
    Caller,
    Faulter,
    Recover,
    Spin,
    Driver,
    Hostile,
    Fpu,
    Sleep,
}

impl Routine {
    /// Its address in a kid's address space.
    pub fn entry(self) -> u64 {
        kid_address(match self {
            Self::Echo => &raw const roottest_ipc_echo,
            Self::RecvOnce => &raw const roottest_ipc_recv_once,
            Self::SendOnce => &raw const roottest_ipc_send_once,
            Self::Caller => &raw const roottest_ipc_caller,
            Self::Faulter => &raw const roottest_ipc_faulter,
            Self::Recover => &raw const roottest_ipc_recover,
            Self::Spin => &raw const roottest_ipc_spin,
            Self::Driver => &raw const roottest_ipc_driver,
            Self::Hostile => &raw const roottest_ipc_hostile,
            Self::Fpu => &raw const roottest_ipc_fpu,
            Self::Sleep => &raw const roottest_ipc_sleep,
        })
    }
}

impl FaultKind {
    /// The address of the faulting instruction in a kid's address space.
    pub fn rip(self) -> u64 {
        kid_address(match self {
            Self::PageFault => &raw const roottest_ipc_fault_pf,
            Self::InvalidOpcode => &raw const roottest_ipc_fault_ud,
            Self::Breakpoint => &raw const roottest_ipc_fault_bp,
            Self::DivideError => &raw const roottest_ipc_fault_de,
            Self::GeneralProtection => &raw const roottest_ipc_fault_gp,
            Self::UnknownSyscall => &raw const roottest_ipc_fault_sys,
        })
    }
}
