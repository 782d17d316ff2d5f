//! The Multiboot2 header and the 32-bit entry point.
//!
//! GRUB enters `_start` in 32-bit protected mode with paging off, EAX holding
//! the Multiboot2 magic and EBX the physical address of the boot information;
//! QEMU's direct boot enters `_start_pvh` (named by the PVH note) the same
//! way with EBX alone, and it joins `_start`.
//! The code here, which runs from the identity-mapped `.boot` section, builds
//! temporary page tables that map the first 4 GiB three times (identity, the
//! direct map at `PHYS_OFFSET`, and the kernel image in the top 2 GiB), enters
//! long mode and jumps to the higher-half kernel. [`super::boot::kernel_main`]
//! replaces these tables with the real ones at once.

use super::stacks::{BOOT_STACK, BOOT_STACK_TOP};

core::arch::global_asm!(
    r#"
    .section .multiboot_header, "a"
    .balign 8
mb2_header:
    .long 0xe85250d6                                  /* magic */
    .long 0                                           /* i386 protected mode */
    .long mb2_header_end - mb2_header
    .long 0x100000000 - (0xe85250d6 + (mb2_header_end - mb2_header))
    .balign 8
    .short 0, 0                                       /* end tag */
    .long 8
mb2_header_end:

    /* The PVH note (Xen's ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY):
       where QEMU's direct boot (`-kernel`) enters the kernel, in 32-bit
       protected mode with paging off and EBX pointing at its start info. */
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                                           /* name size */
    .long 4                                           /* descriptor size */
    .long 18                                          /* type */
    .asciz "Xen"
    .balign 4
    .long _start_pvh

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:      .skip 4096
boot_pdpt_low:  .skip 4096
boot_pdpt_high: .skip 4096
boot_pd:        .skip 4 * 4096                         /* 4 GiB in 2 MiB pages */

    .section .boot.text, "ax"
    .code32
    /* The PVH ABI defines no register but EBX: EAX gets the start info's
       magic, which `BootInfo::load` tells from Multiboot2's. */
    .global _start_pvh
_start_pvh:
    mov ${pvh_magic}, %eax
    jmp _start

    .global _start
_start:
    cli
    cld
    mov %eax, %edi
    mov %ebx, %esi

    /* Long mode needs CPUID leaf 0x80000001 and its LM bit. */
    mov $0x80000000, %eax
    cpuid
    cmp $0x80000001, %eax
    jb no_long_mode
    mov $0x80000001, %eax
    cpuid
    test $(1 << 29), %edx                             /* long mode */
    jz no_long_mode
    test $(1 << 20), %edx                             /* NX */
    jz no_long_mode

    /* 2048 large pages covering 0..4 GiB. */
    mov $boot_pd, %ebx
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax                                    /* present, writable, 2 MiB */
    mov %eax, (%ebx, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax                                     /* bits 32+ of the address */
    mov %eax, 4(%ebx, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 1b

    /* boot_pdpt_low[0..4] -> the four page directories. */
    mov $boot_pdpt_low, %ebx
    mov $boot_pd + 3, %eax
    mov %eax, 0(%ebx)
    add $4096, %eax
    mov %eax, 8(%ebx)
    add $4096, %eax
    mov %eax, 16(%ebx)
    add $4096, %eax
    mov %eax, 24(%ebx)

    /* boot_pdpt_high[510] -> the first GiB, i.e. -2 GiB maps physical 0. */
    mov $boot_pd + 3, %eax
    mov %eax, boot_pdpt_high + 510 * 8

    mov $boot_pdpt_low + 3, %eax
    mov %eax, boot_pml4                               /* identity */
    mov %eax, boot_pml4 + 256 * 8                     /* direct map */
    mov $boot_pdpt_high + 3, %eax
    mov %eax, boot_pml4 + 511 * 8                     /* kernel image */

    mov %cr4, %eax
    or $(1 << 5), %eax                                /* PAE */
    mov %eax, %cr4
    mov $boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx                             /* EFER */
    rdmsr
    or $((1 << 8) | (1 << 11)), %eax                  /* LME, NXE */
    wrmsr
    mov %cr0, %eax
    or $((1 << 31) | (1 << 16) | 1), %eax             /* PG, WP, PE */
    mov %eax, %cr0

    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode_entry

no_long_mode:
    mov $no_long_mode_message, %esi
    mov $0x3f8, %dx
2:  lodsb
    test %al, %al
    jz 3f
    out %al, %dx
    jmp 2b
3:  hlt
    jmp 3b

    .code64
long_mode_entry:
    xor %eax, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov %edi, %edi                                    /* upper halves are undefined */
    mov %esi, %esi
    movabs $higher_half_entry, %rax
    jmp *%rax

    .section .boot.rodata, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00209A0000000000                          /* 64-bit code */
boot_gdt_pointer:
    .short boot_gdt_pointer - boot_gdt - 1
    .long boot_gdt
no_long_mode_message:
    .asciz "Basalt: this CPU lacks 64-bit long mode or NX; cannot boot.\r\n"

    .text
higher_half_entry:
    lea {stack}+{stack_top}(%rip), %rsp
    xor %ebp, %ebp
    call {main}
4:  hlt
    jmp 4b
"#,
    stack = sym BOOT_STACK,
    stack_top = const BOOT_STACK_TOP,
    main = sym super::boot::kernel_main,
    pvh_magic = const super::pvh::MAGIC,
    options(att_syntax)
);
