/*
 * longmode.S: from 32-bit protected mode (paging off) to 64-bit long mode,
 * for every guest a loader enters in 32-bit mode (PVH, bzImage's 32-bit
 * entry, Multiboot) and for the SMP guest's application processors.
 *
 * The low 4 GiB (RAM, boot information, local APIC, IOAPIC) are
 * identity-mapped with 2 MiB pages; the tables are laid out by the assembler,
 * so building them costs no emulated instructions at run time.  The GDT
 * follows Linux's boot protocol: 0x10 is 64-bit code, 0x18 flat data.
 */
#include "tiny.h"

#define SEL_CODE32      0x08
#define SEL_CODE64      0x10
#define SEL_DATA        0x18
#define MSR_EFER        0xc0000080
#define EFER_LME        (1 << 8)
#define CR4_PAE         (1 << 5)
#define CR0_PE_PG       0x80000001
#define PTE_P_W         0x003           /* present, writable */
#define PTE_PS          0x080           /* 2 MiB page */

        .code32
        .text
/*
 * enter_long_mode: jump (do not call) here with the 64-bit entry point in
 * %edi.  Preserves %ebx, %esi, %ebp and %esp (zero-extended); clobbers %eax,
 * %ecx, %edx.  Interrupts must be off.  Several CPUs may pass at once.
 */
        .globl enter_long_mode
enter_long_mode:
        lgdt gdt64_ptr
        mov %cr4, %eax
        or $CR4_PAE, %eax
        mov %eax, %cr4
        mov $pml4, %eax
        mov %eax, %cr3
        mov $MSR_EFER, %ecx
        rdmsr
        or $EFER_LME, %eax
        wrmsr
        mov %cr0, %eax
        or $CR0_PE_PG, %eax             /* paging on: long mode is now active */
        mov %eax, %cr0
        ljmp $SEL_CODE64, $1f

        .code64
1:      mov $SEL_DATA, %eax
        mov %eax, %ds
        mov %eax, %es
        mov %eax, %ss
        mov %eax, %fs
        mov %eax, %gs
        mov %esp, %esp                  /* zero-extend into %rsp */
        mov %edi, %edi
        jmp *%rdi

        .data
        .balign 8
gdt64:  .quad 0
        .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code */
        .quad 0x00af9a000000ffff        /* 0x10: 64-bit code */
        .quad 0x00cf92000000ffff        /* 0x18: data */
gdt64_end:
        .globl gdt64, gdt64_limit       /* for the SMP trampoline */
        .set gdt64_limit, gdt64_end - gdt64 - 1
        .word 0
gdt64_ptr:
        .word gdt64_limit
        .long gdt64, 0

/*
 * Symbolic 64-bit entries are written as two .longs so that this file also
 * assembles into the ELF32 objects of the Multiboot guests.
 */
        .balign 4096
pml4:   .long pdpt + PTE_P_W, 0
        .fill 511, 8, 0
pdpt:   .long pd + PTE_P_W, 0, pd + 0x1000 + PTE_P_W, 0
        .long pd + 0x2000 + PTE_P_W, 0, pd + 0x3000 + PTE_P_W, 0
        .fill 508, 8, 0
pd:     .set addr, 0                    /* 4 page directories, 2048 entries */
        .rept 2048
        .quad addr + PTE_PS + PTE_P_W
        .set addr, addr + 0x200000
        .endr
