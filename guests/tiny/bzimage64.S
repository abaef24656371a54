/*
 * bzimage64: a minimal x86-64 Linux kernel image (boot protocol 2.12) that
 * reports how it was booted.  A loader may enter it three ways:
 *
 *   16: the real-mode setup (setup segment + 0x20 : 0), as QEMU's loader
 *       does; the setup gets the memory map from the BIOS (int 0x15, e820),
 *       builds boot_params, switches to 32-bit protected mode and jumps to
 *       code32_start, as Linux's setup does;
 *   32: startup_32, offset 0 of the protected-mode part, ESI = boot_params;
 *   64: startup_64, offset 0x200, in long mode with identity paging,
 *       RSI = boot_params (XLF_KERNEL_64).
 *
 * Whatever the entry, main64 prints it, the command line, the e820 entries
 * and the initrd from boot_params, then exits.
 */
#include "tiny.h"

/* struct boot_params offsets */
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_SCRATCH      0x1e4           /* the kernel's own scratch field */
#define BP_E820_ENTRIES 0x1e8
#define BP_HDR          0x1f1           /* struct setup_header, as in the image */
#define BP_TYPE_OF_LOADER 0x210
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE   0x2d0           /* { u64 addr, size; u32 type } */
#define E820_ENTRY      20
#define E820_MAX        128

#define SETUP_MAGIC     0x36315345      /* "ES16" in the scratch field: came via setup */
#define BOOT_PARAMS     0x8000          /* setup's boot_params, in its segment's heap */
#define SETUP_STACK     0xf000
#define SMAP            0x534d4150      /* "SMAP" */
#define SEL_CODE32      0x10            /* the boot protocol's __BOOT_CS and __BOOT_DS */
#define SEL_DATA        0x18
#define MAX_INITRD_SHOWN 256

/* ---- real-mode part: boot sector, setup header, setup code ---- */
        .section .setup, "ax"
        .code16
bootsect:                               /* never executed: loaders skip it */
        .fill BP_HDR, 1, 0
hdr:
        .byte SETUP_SECTS               /* setup_sects (from the linker script) */
        .word 0                         /* root_flags */
        .long SYSSIZE                   /* syssize: protected-mode part / 16 */
        .word 0                         /* ram_size */
        .word 0xffff                    /* vid_mode: normal */
        .word 0                         /* root_dev */
        .word 0xaa55                    /* boot_flag */
        .byte 0xeb, setup_start - 1f    /* 0x200: jmp setup_start */
1:      .ascii "HdrS"
        .word 0x020c                    /* boot protocol 2.12 */
        .long 0                         /* realmode_swtch */
        .word 0x1000                    /* start_sys_seg */
        .word version - 0x200           /* kernel_version */
        .byte 0                         /* type_of_loader (the loader's) */
        .byte 0x01                      /* loadflags: LOADED_HIGH */
        .word 0                         /* setup_move_size */
code32_start:
        .long 0x100000                  /* code32_start */
        .long 0, 0                      /* ramdisk_image, ramdisk_size */
        .long 0                         /* bootsect_kludge */
        .word 0                         /* heap_end_ptr */
        .byte 0, 0                      /* ext_loader_ver, ext_loader_type */
        .long 0                         /* cmd_line_ptr */
        .long 0x7fffffff                /* initrd_addr_max */
        .long 0x200000                  /* kernel_alignment */
        .byte 0                         /* relocatable_kernel: no, load at 1 MiB */
        .byte 21                        /* min_alignment (log2) */
        .word 0x0001                    /* xloadflags: XLF_KERNEL_64 */
        .long 2047                      /* cmdline_size */
        .long 0                         /* hardware_subarch: PC */
        .quad 0                         /* hardware_subarch_data */
        .long 0, 0                      /* payload_offset, payload_length */
        .quad 0                         /* setup_data */
        .quad 0x100000                  /* pref_address */
        .long INIT_SIZE                 /* init_size */
        .long 0                         /* handover_offset: no EFI */
hdr_end:
        .if code32_start - bootsect != 0x214 || hdr_end - bootsect != 0x268
        .error "setup header fields are misplaced"
        .endif
version:
        .asciz "pyvirt tiny bzimage64"

setup_start:
        cli
        cld
        pushw %ds                       /* CS = segment + 0x20: make it DS, */
        pushw $1f                       /* our link base */
        lretw
1:      mov %ds, %ax
        mov %ax, %es
        mov %ax, %ss
        mov $SETUP_STACK, %sp

        /* boot_params: zeroes and a copy of the setup header. */
        mov $BOOT_PARAMS, %di
        xor %eax, %eax
        mov $1024, %cx
        rep stosl
        mov $hdr, %si
        mov $(BOOT_PARAMS + BP_HDR), %di
        mov $(hdr_end - hdr), %cx
        rep movsb

        /* The memory map, from the BIOS, as Linux's setup gets it. */
        xor %ebx, %ebx
        mov $(BOOT_PARAMS + BP_E820_TABLE), %di
2:      mov $0xe820, %eax
        mov $E820_ENTRY, %ecx
        mov $SMAP, %edx
        int $0x15
        jc 3f
        cmp $SMAP, %eax
        jne 3f
        add $E820_ENTRY, %di
        incb BOOT_PARAMS + BP_E820_ENTRIES
        cmpb $E820_MAX, BOOT_PARAMS + BP_E820_ENTRIES
        jae 3f
        test %ebx, %ebx
        jnz 2b
3:      movl $SETUP_MAGIC, BOOT_PARAMS + BP_SCRATCH

        /* To 32-bit protected mode, then code32_start (pm.c, pmjump.S in Linux). */
        xor %eax, %eax
        mov %ds, %ax
        shl $4, %eax                    /* linear address of this segment */
        lea BOOT_PARAMS(%eax), %esi
        add %eax, setup_gdt_ptr + 2
        lgdtl setup_gdt_ptr
        lidtl null_idt_ptr              /* an NMI now shuts down rather than misbehaves */
        mov BOOT_PARAMS + BP_HDR + (code32_start - hdr), %eax
        mov %eax, pm_jump + 2           /* patch the far jump's offset */
        mov %cr0, %eax
        or $1, %eax
        mov %eax, %cr0                  /* serialising: the patch is seen */
        mov $SEL_DATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %fs
        mov %ax, %gs
        mov %ax, %ss
        xor %ebx, %ebx                  /* the protocol wants these zero */
        xor %edi, %edi
        xor %ebp, %ebp
pm_jump:
        .byte 0x66, 0xea                /* ljmpl $SEL_CODE32, $code32_start */
        .long 0
        .word SEL_CODE32

        .balign 8
setup_gdt:
        .quad 0, 0
        .quad 0x00cf9a000000ffff        /* 0x10: 32-bit code, flat */
        .quad 0x00cf92000000ffff        /* 0x18: data, flat */
setup_gdt_end:
        .word 0
setup_gdt_ptr:
        .word setup_gdt_end - setup_gdt - 1
        .long setup_gdt                 /* plus the segment base, at run time */
        .word 0
null_idt_ptr:
        .word 0
        .long 0

/* ---- protected-mode part, loaded at 1 MiB ---- */
        .section .text.head, "ax"
        .code32
        .globl startup_32
startup_32:                             /* offset 0x000 */
        cli
        cld
        mov $32, %eax
        cmpl $SETUP_MAGIC, BP_SCRATCH(%esi)
        jne 1f
        mov $16, %eax
1:      mov %eax, entry_kind
        mov %esi, boot_params_ptr
        mov $boot_stack_top, %esp
        mov $main64, %edi
        jmp enter_long_mode

        .org 0x200
        .code64
        .globl startup_64
startup_64:                             /* offset 0x200 */
        cli
        cld
        movl $64, entry_kind(%rip)
        mov %rsi, boot_params_ptr(%rip)
main64:
        lea boot_stack_top(%rip), %rsp
        call serial_init
        PRINT("bzimage64: entry ")
        mov entry_kind(%rip), %eax
        call serial_putdec
        cmp $16, %eax
        jne 1f
        PRINT(" (real-mode setup, then code32_start)")
1:      PRINT("\n")
        mov boot_params_ptr(%rip), %rbx

        PRINT("boot_params: loader type ")
        movzbl BP_TYPE_OF_LOADER(%rbx), %eax
        call serial_puthex32
        PRINT("\ncmdline: ")
        mov BP_CMD_LINE_PTR(%rbx), %esi
        mov BP_EXT_CMD_LINE_PTR(%rbx), %eax
        shl $32, %rax
        or %rax, %rsi
        jz 2f
        call serial_puts
2:      PRINT("\n")
        call show_initrd
        call show_e820
        EXIT(EXIT_PASS)

show_initrd:
        mov BP_RAMDISK_IMAGE(%rbx), %esi
        mov BP_EXT_RAMDISK_IMAGE(%rbx), %eax
        shl $32, %rax
        or %rax, %rsi
        jz 1f
        mov BP_RAMDISK_SIZE(%rbx), %ecx
        cmp $MAX_INITRD_SHOWN, %ecx
        jbe 2f
        mov $MAX_INITRD_SHOWN, %ecx
2:      PRINT("initrd contents: ")
        call serial_write
        PRINT("\n")
1:      ret

show_e820:
        lea BP_E820_TABLE(%rbx), %rsi
        movzbl BP_E820_ENTRIES(%rbx), %ecx
        mov $E820_ENTRY, %edx
        mov $e820_label, %edi
        jmp show_memory_map

        .data
entry_kind:     .long 0
boot_params_ptr: .quad 0

        .bss
        .balign 16
        .skip 8192
boot_stack_top:

        .section .rodata
e820_label: .asciz "e820"
