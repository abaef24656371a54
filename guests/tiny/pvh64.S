/*
 * pvh64: a PVH kernel (the Xen/x86 direct boot ABI that QEMU and Firecracker
 * use for vmlinux).  The loader finds the 32-bit entry point in an ELF note
 * and enters it in 32-bit protected mode, paging off, with EBX pointing to
 * struct hvm_start_info.  We go to long mode and print what start_info says.
 */
#include "tiny.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578
/* struct hvm_start_info offsets */
#define SI_MAGIC        0
#define SI_VERSION      4
#define SI_NR_MODULES   12
#define SI_MODLIST      16
#define SI_CMDLINE      24
#define SI_MEMMAP       40
#define SI_MEMMAP_COUNT 48
#define MEMMAP_ENTRY    24              /* { u64 addr, size; u32 type, reserved } */
#define MODLIST_ENTRY   32              /* { u64 paddr, size, cmdline_paddr, reserved } */
#define MAX_MODULE_SHOWN 256

/* The ELF note naming the entry point (a pointer-sized value, as in Linux). */
        .section .note.Xen, "a", @note
        .balign 4
        .long 2f - 1f                   /* name size */
        .long 4f - 3f                   /* descriptor size */
        .long XEN_ELFNOTE_PHYS32_ENTRY
1:      .asciz "Xen"
2:      .balign 4
3:      .quad pvh_start32
4:      .balign 4

        .text
        .code32
        .globl pvh_start32
pvh_start32:
        cli
        cld
        mov $boot_stack_top, %esp
        mov $pvh_main, %edi             /* %ebx (start_info) survives */
        jmp enter_long_mode

        .code64
pvh_main:
        call serial_init
        mov $0xc0000080, %ecx           /* EFER.LMA: long mode is active */
        rdmsr
        test $(1 << 10), %eax
        jnz 1f
        PRINT("pvh64: EFER.LMA clear\n")
        EXIT(EXIT_FAIL)
1:      PRINT("pvh64: long mode\n")
        mov %ebx, %ebx                  /* start_info, zero-extended */
        cmpl $HVM_START_MAGIC, SI_MAGIC(%rbx)
        je 2f
        PRINT("pvh64: bad start_info magic ")
        mov SI_MAGIC(%rbx), %eax
        call serial_puthex32
        PRINT("\n")
        EXIT(EXIT_FAIL)
2:      PRINT("start_info: magic 0x336ec578 ok, version ")
        mov SI_VERSION(%rbx), %eax
        call serial_putdec
        PRINT("\ncmdline: ")
        mov SI_CMDLINE(%rbx), %rsi
        test %rsi, %rsi
        jz 3f
        call serial_puts
3:      PRINT("\n")
        call show_modules
        cmpl $1, SI_VERSION(%rbx)       /* the memory map came with version 1 */
        jb 4f
        call show_memmap
4:      EXIT(EXIT_PASS)

show_modules:
        PRINT("modules: ")
        mov SI_NR_MODULES(%rbx), %eax
        call serial_putdec
        PRINT("\n")
        test %eax, %eax
        jz 1f
        mov SI_MODLIST(%rbx), %rdi
        PRINT("module 0 contents: ")
        mov 0(%rdi), %rsi
        mov 8(%rdi), %rcx
        cmp $MAX_MODULE_SHOWN, %rcx
        jbe 2f
        mov $MAX_MODULE_SHOWN, %ecx
2:      call serial_write
        PRINT("\n")
1:      ret

show_memmap:
        mov SI_MEMMAP(%rbx), %rsi
        mov SI_MEMMAP_COUNT(%rbx), %ecx
        mov $MEMMAP_ENTRY, %edx
        mov $memmap_label, %edi
        jmp show_memory_map

        .bss
        .balign 16
        .skip 8192
boot_stack_top:

        .section .rodata
memmap_label: .asciz "memmap"
