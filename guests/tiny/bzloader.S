/*
 * bzloader: a Multiboot kernel that boots a bzImage given as its first module
 * through the bzImage's 32-bit or 64-bit entry point, the two entries QEMU's
 * own loader never uses (it runs the real-mode setup).  With it, bzimage64's
 * startup_32 and startup_64 are verified under QEMU too.
 *
 * Command line: "<loader path> entry=32|entry=64 <rest>"; the bzImage gets
 * everything after the loader path.  Like any 32/64-bit boot loader, we build
 * boot_params (setup header copied from the image, e820 map converted from
 * the Multiboot memory map, command line), copy the protected-mode part to
 * code32_start and jump.  The loader runs at 8 MiB, out of the kernel's way.
 */
#include "tiny.h"

#define MBI_FLAGS       0
#define MBI_CMDLINE     16
#define MBI_MODS_COUNT  20
#define MBI_MODS_ADDR   24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR   48
#define MBF_CMDLINE     (1 << 2)
#define MBF_MODS        (1 << 3)
#define MBF_MMAP        (1 << 6)

#define HDR             0x1f1           /* setup header offset, in image and boot_params */
#define HDR_SETUP_SECTS 0x1f1
#define HDR_SYSSIZE     0x1f4
#define HDR_MAGIC       0x202           /* "HdrS" */
#define HDR_VERSION     0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_CODE32_START 0x214
#define HDR_CMD_LINE_PTR 0x228
#define HDR_XLOADFLAGS  0x236
#define XLF_KERNEL_64   0x0001
#define BP_E820_ENTRIES 0x1e8
#define BP_E820_TABLE   0x2d0
#define E820_MAX        128

        .code32
        .text
        .globl main
main:
        mov mb_info, %ebx
        mov $(MBF_CMDLINE | MBF_MODS | MBF_MMAP), %eax
        and MBI_FLAGS(%ebx), %eax
        cmp $(MBF_CMDLINE | MBF_MODS | MBF_MMAP), %eax
        jne no_info
        cmpl $1, MBI_MODS_COUNT(%ebx)
        jb no_info

        mov MBI_CMDLINE(%ebx), %esi     /* the kernel's command line: after our path */
1:      lodsb
        test %al, %al
        jz 2f
        cmp $' ', %al
        jne 1b
        jmp 3f
2:      dec %esi                        /* no arguments: an empty line */
3:      mov %esi, kernel_cmdline
        mov $64, %eax                   /* the entry: 64 unless the line says entry=32 */
        cmpl $0x72746e65, (%esi)        /* "entr" */
        jne 4f
        cmpl $0x32333d79, 4(%esi)       /* "y=32" */
        jne 4f
        mov $32, %eax
4:      mov %eax, entry

        mov MBI_MODS_ADDR(%ebx), %eax   /* the bzImage */
        mov (%eax), %edi
        cmpl $0x53726448, HDR_MAGIC(%edi)       /* "HdrS" */
        jne not_bzimage
        cmpw $0x020c, HDR_VERSION(%edi)
        jb not_bzimage
        testw $XLF_KERNEL_64, HDR_XLOADFLAGS(%edi)
        jz not_bzimage

        /* boot_params: zeroes, then the image's setup header. */
        push %edi
        mov $boot_params, %edi
        mov $1024, %ecx
        xor %eax, %eax
        rep stosl
        pop %esi
        push %esi
        movzbl HDR + 1(%esi), %ecx      /* header length: 0x202 + the jump's offset byte */
        add $(0x202 - HDR), %ecx
        add $HDR, %esi
        mov $(boot_params + HDR), %edi
        rep movsb
        pop %esi
        movb $0xff, boot_params + HDR_TYPE_OF_LOADER    /* "undefined" loader */
        mov kernel_cmdline, %eax
        mov %eax, boot_params + HDR_CMD_LINE_PTR

        /* e820: a Multiboot mmap entry is { size, u64 base, u64 length, u32 type }. */
        push %esi
        mov MBI_MMAP_ADDR(%ebx), %esi
        mov MBI_MMAP_LENGTH(%ebx), %edx
        add %esi, %edx
        mov $(boot_params + BP_E820_TABLE), %edi
5:      cmp %edx, %esi
        jae 6f
        cmpb $E820_MAX, boot_params + BP_E820_ENTRIES
        jae 6f
        mov (%esi), %eax                /* next entry: size field + 4 */
        lea 4(%esi, %eax), %eax
        add $4, %esi
        mov $20, %ecx
        rep movsb
        incb boot_params + BP_E820_ENTRIES
        mov %eax, %esi
        jmp 5b
6:      pop %esi

        /* The protected-mode part: after the boot sector and setup sectors. */
        movzbl HDR_SETUP_SECTS(%esi), %eax
        inc %eax
        shl $9, %eax
        mov HDR_SYSSIZE(%esi), %ecx
        shl $2, %ecx                    /* paragraphs -> dwords */
        mov HDR_CODE32_START(%esi), %edi
        mov %edi, code32_start
        add %eax, %esi
        rep movsl

        PRINT("bzloader: jumping to the ")
        mov entry, %eax
        call serial_putdec
        PRINT("-bit entry\n")
        mov $boot_params, %esi
        cmpl $32, entry
        je 7f
        mov $8f, %edi                   /* longmode.S's GDT: 0x10 is 64-bit code */
        jmp enter_long_mode
7:      lgdt gdt32_ptr                  /* __BOOT_CS and __BOOT_DS of a 32-bit entry */
        mov $0x18, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        xor %ebx, %ebx                  /* the protocol wants these zero */
        xor %edi, %edi
        xor %ebp, %ebp
        ljmp *code32_jump

        .code64
8:      mov code32_start(%rip), %eax    /* startup_64: code32_start + 0x200 */
        add $0x200, %eax
        jmp *%rax

        .code32
no_info:
        PRINT("bzloader: need a command line, a module and a memory map\n")
        mov $EXIT_FAIL, %al
        ret
not_bzimage:
        PRINT("bzloader: module 0 is no 64-bit bzImage (boot protocol >= 2.12)\n")
        mov $EXIT_FAIL, %al
        ret

        .data
        .balign 4
entry:          .long 0
kernel_cmdline: .long 0
code32_jump:                            /* far pointer: code32_start, __BOOT_CS */
code32_start:   .long 0
                .word 0x10
        .balign 8
gdt32:  .quad 0, 0
        .quad 0x00cf9a000000ffff        /* 0x10: 32-bit code, flat */
        .quad 0x00cf92000000ffff        /* 0x18: data, flat */
gdt32_end:
        .word 0
gdt32_ptr:
        .word gdt32_end - gdt32 - 1
        .long gdt32

        .bss
        .balign 4096
boot_params:    .skip 4096
