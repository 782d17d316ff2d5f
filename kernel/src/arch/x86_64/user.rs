//! Entering and leaving user mode: the `syscall` entry point and the return
//! path through `iretq`.
//!
//! The kernel has one stack (per CPU) and keeps no state on it between
//! entries, as in seL4: every entry saves the user registers into the
//! current thread's TCB (a system call pushes them there directly; an
//! interrupt or exception goes through the trap stubs and a copy), and
//! every exit restores some thread's registers from its TCB and starts
//! over at the top of the stack.

use super::context::UserContext;
use super::stacks::{BOOT_STACK, KERNEL_STACK_SIZE};
use core::sync::atomic::AtomicU64;
use x86_64::VirtAddr;
use x86_64::registers::model_specific::{Efer, EferFlags, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;
use x86_64::structures::gdt::SegmentSelector;

/// User segment selectors (GDT entries 3 and 4, RPL 3).
pub const USER_DATA: u16 = 0x18 | 3;
pub const USER_CODE: u16 = 0x20 | 3;

/// RFLAGS bits the kernel runs with cleared, whatever user code left in
/// them: `syscall` clears these through the flag mask (SFMASK), and every
/// interrupt or exception entry clears all flags (see `trap.rs`). User code
/// can set TF, DF, AC and NT with `popfq`; IOPL it cannot (at CPL 3
/// `popfq` leaves it alone), but it is masked too so that no future path
/// can carry it into the kernel.
///
/// - IF: the kernel runs with interrupts off (one CPU, no kernel locks
///   held across an interrupt).
/// - TF: no single-step traps inside the kernel.
/// - DF: string instructions (`rep movsb` in memcpy) run forwards.
/// - AC: with AC set, SMAP would not stop the kernel touching user memory.
/// - NT: `iretq` with NT set raises #GP in ring 0 (a task return, which
///   long mode does not have): the kernel's way back to user mode would
///   fault.
/// - IOPL: port access in ring 3.
pub const KERNEL_CLEARED_FLAGS: RFlags = RFlags::INTERRUPT_FLAG
    .union(RFlags::TRAP_FLAG)
    .union(RFlags::DIRECTION_FLAG)
    .union(RFlags::ALIGNMENT_CHECK)
    .union(RFlags::NESTED_TASK)
    .union(RFlags::IOPL_LOW)
    .union(RFlags::IOPL_HIGH);

/// Debug builds check on every kernel entry that the entry code cleared
/// [`KERNEL_CLEARED_FLAGS`], so a hostile-flags test fails on a kernel
/// that forgot one even where the flag would do no visible harm yet.
#[inline]
pub fn debug_check_entry_flags() {
    if cfg!(debug_assertions) {
        let left = x86_64::registers::rflags::read() & KERNEL_CLEARED_FLAGS;
        assert!(left.is_empty(), "kernel entered with flags {left:?} set");
    }
}

/// The user stack pointer between `syscall` and the switch to the kernel
/// stack (one CPU, interrupts off).
static USER_RSP: AtomicU64 = AtomicU64::new(0);

/// The end of the running thread's saved-register area in its TCB: the
/// `syscall` entry pushes the user registers straight into it, as seL4
/// does, instead of onto the kernel stack and then copying them.
static CURRENT_CONTEXT_TOP: AtomicU64 = AtomicU64::new(0);

/// Offset of the kernel stack's top from `BOOT_STACK`: the boot stack
/// becomes the kernel stack once the first thread runs.
const STACK_TOP: usize = size_of::<super::stacks::GuardedStack<KERNEL_STACK_SIZE>>();

core::arch::global_asm!(
    r#"
    .text
    .global syscall_entry
syscall_entry:
    mov %rsp, {user_rsp}(%rip)
    mov {context_top}(%rip), %rsp
    push %r11
    push {user_rsp}(%rip)
    push %rcx
    push %rax
    push %rbx
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %rbp
    push %r8
    push %r9
    push %r10
    push %r11
    push %r12
    push %r13
    push %r14
    push %r15
    // No `cld`: `syscall` cleared DF already (SFMASK holds
    // KERNEL_CLEARED_FLAGS).
    lea {stack}+{top}(%rip), %rsp
    call {handler}
    ud2

    .global return_from_syscall
return_from_syscall:
    mov 0*8(%rdi), %r15
    mov 1*8(%rdi), %r14
    mov 2*8(%rdi), %r13
    mov 3*8(%rdi), %r12
    mov 5*8(%rdi), %r10
    mov 6*8(%rdi), %r9
    mov 7*8(%rdi), %r8
    mov 8*8(%rdi), %rbp
    mov 10*8(%rdi), %rsi
    mov 11*8(%rdi), %rdx
    mov 13*8(%rdi), %rbx
    mov 14*8(%rdi), %rax
    mov 15*8(%rdi), %rcx
    mov 17*8(%rdi), %r11
    mov 16*8(%rdi), %rsp
    mov 9*8(%rdi), %rdi
    sysretq

    .global resume_user
resume_user:
    lea {stack}+{top}(%rip), %rsp
    push ${user_ss}
    push 16*8(%rdi)
    push 17*8(%rdi)
    push ${user_cs}
    push 15*8(%rdi)
    mov 0*8(%rdi), %r15
    mov 1*8(%rdi), %r14
    mov 2*8(%rdi), %r13
    mov 3*8(%rdi), %r12
    mov 4*8(%rdi), %r11
    mov 5*8(%rdi), %r10
    mov 6*8(%rdi), %r9
    mov 7*8(%rdi), %r8
    mov 8*8(%rdi), %rbp
    mov 10*8(%rdi), %rsi
    mov 11*8(%rdi), %rdx
    mov 12*8(%rdi), %rcx
    mov 13*8(%rdi), %rbx
    mov 14*8(%rdi), %rax
    mov 9*8(%rdi), %rdi
    iretq
"#,
    user_rsp = sym USER_RSP,
    stack = sym BOOT_STACK,
    top = const STACK_TOP,
    user_ss = const USER_DATA,
    user_cs = const USER_CODE,
    context_top = sym CURRENT_CONTEXT_TOP,
    handler = sym super::thread::handle_syscall,
    options(att_syntax)
);

unsafe extern "C" {
    fn syscall_entry();
    fn resume_user(context: *const UserContext) -> !;
    fn return_from_syscall(context: *const UserContext) -> !;
}

/// Enables `syscall` with the kernel's entry point and segment layout.
pub fn init() {
    // SAFETY: the GDT holds kernel code/data at 0x08/0x10 and user data/code
    // at 0x18/0x20, the layout STAR describes; the entry point switches to
    // the kernel stack before touching memory through RSP.
    unsafe {
        Star::write(
            SegmentSelector(USER_CODE),
            SegmentSelector(USER_DATA),
            SegmentSelector(0x08),
            SegmentSelector(0x10),
        )
        .expect("the GDT layout matches what SYSCALL/SYSRET require");
        LStar::write(VirtAddr::new(syscall_entry as *const () as u64));
        SFMask::write(KERNEL_CLEARED_FLAGS);
        Efer::update(|f| f.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
    }
}

/// The top of the kernel stack (TSS RSP0: where interrupts from user mode land).
pub fn kernel_stack_top() -> u64 {
    BOOT_STACK.top()
}

/// Returns from a system call to the thread that made it (the one whose
/// registers the entry saved into `context`), with `sysretq`: the quick
/// way out when the scheduler has nothing to change.
#[inline(always)]
pub fn return_to_caller(context: &UserContext) -> ! {
    // SAFETY: `context` is the current thread's, saved on this system
    // call's entry (so CURRENT_CONTEXT_TOP already points at it); its RIP
    // is a canonical user address (written by `syscall` or checked when set)
    // as SYSRET requires; RCX and R11 are clobbered by the ABI anyway.
    unsafe { return_from_syscall(context) }
}

/// Returns to another thread than the one that made this system call,
/// with `sysretq`: one that itself waits in a system call (an IPC fast
/// path's handoff). The next system call saves the registers back into
/// `context`.
///
/// # Safety
///
/// The thread of `context` entered the kernel last through a system call
/// it still waits in (its RCX and R11 hold nothing it needs), and its
/// RIP is a canonical user address.
#[inline(always)]
pub unsafe fn return_to_syscaller(context: &UserContext) -> ! {
    let top = context as *const UserContext as u64 + size_of::<UserContext>() as u64;
    CURRENT_CONTEXT_TOP.store(top, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the caller's contract, and SYSRET's needs as in
    // `return_to_caller`; the next entry saves into `context`.
    unsafe { return_from_syscall(context) }
}

/// Leaves the kernel for user mode with `context`'s registers; the next
/// system call saves the registers back into `context`.
pub fn resume(context: &UserContext) -> ! {
    let top = context as *const UserContext as u64 + size_of::<UserContext>() as u64;
    CURRENT_CONTEXT_TOP.store(top, core::sync::atomic::Ordering::Relaxed);
    // SAFETY: the context's RIP and RSP were checked to be user addresses
    // when they were written; its RFLAGS is what the CPU saved on entry
    // from user mode (which user code can set only as far as `popfq` at
    // CPL 3 allows) or a new thread's; the kernel itself runs with NT clear
    // (KERNEL_CLEARED_FLAGS), so `iretq` takes the 64-bit return path; the
    // kernel keeps nothing on its stack across the return.
    unsafe { resume_user(context) }
}
