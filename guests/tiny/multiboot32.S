/*
 * multiboot32: what a Multiboot v1 loader hands over.  Prints the memory
 * sizes, the command line, the first module (-initrd) and the memory map,
 * then exits with the status given as exit=N on the command line.
 */
#include "tiny.h"

/* struct multiboot_info offsets and flag bits */
#define MBI_FLAGS       0
#define MBI_MEM_LOWER   4
#define MBI_MEM_UPPER   8
#define MBI_CMDLINE     16
#define MBI_MODS_COUNT  20
#define MBI_MODS_ADDR   24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR   48
#define MBF_MEM         (1 << 0)
#define MBF_CMDLINE     (1 << 2)
#define MBF_MODS        (1 << 3)
#define MBF_MMAP        (1 << 6)
#define MAX_MODULE_SHOWN 256

        .code32
        .text
        .globl main
main:
        cmpl $0x2badb002, mb_magic
        je 1f
        PRINT("multiboot32: bad magic ")
        mov mb_magic, %eax
        call serial_puthex32
        PRINT("\n")
        mov $EXIT_FAIL, %al
        ret
1:      PRINT("multiboot32: magic 0x2badb002 ok\n")
        mov mb_info, %ebx
        PRINT("flags: ")
        mov MBI_FLAGS(%ebx), %eax
        call serial_puthex32
        PRINT("\n")

        testl $MBF_MEM, MBI_FLAGS(%ebx)
        jz 2f
        PRINT("mem_lower: ")
        mov MBI_MEM_LOWER(%ebx), %eax
        call serial_putdec
        PRINT(" KiB\nmem_upper: ")
        mov MBI_MEM_UPPER(%ebx), %eax
        call serial_putdec
        PRINT(" KiB\n")

2:      testl $MBF_CMDLINE, MBI_FLAGS(%ebx)
        jz 3f
        PRINT("cmdline: ")
        mov MBI_CMDLINE(%ebx), %esi
        call serial_puts
        PRINT("\n")

3:      testl $MBF_MODS, MBI_FLAGS(%ebx)
        jz 4f
        call show_modules
4:      testl $MBF_MMAP, MBI_FLAGS(%ebx)
        jz 5f
        call show_mmap

5:      mov $EXIT_PASS, %al             /* no exit=N: plain success */
        testl $MBF_CMDLINE, MBI_FLAGS(%ebx)
        jz 6f
        mov MBI_CMDLINE(%ebx), %esi
        mov $exit_key, %edi
        call cmdline_number             /* exit=N overrides the status */
6:      PRINT("exit status: ")
        push %eax
        movzbl %al, %eax
        call serial_putdec
        pop %eax
        PRINT("\n")
        ret

/* show_modules: count, then the first module's string and contents. */
show_modules:
        PRINT("modules: ")
        mov MBI_MODS_COUNT(%ebx), %eax
        call serial_putdec
        PRINT("\n")
        test %eax, %eax
        jz 1f
        mov MBI_MODS_ADDR(%ebx), %edi   /* struct { start, end, string, reserved } */
        PRINT("module 0: ")
        mov (%edi), %eax
        call serial_puthex32
        PRINT("-")
        mov 4(%edi), %eax
        call serial_puthex32
        PRINT(" string: ")
        mov 8(%edi), %esi
        call serial_puts
        PRINT("\nmodule 0 contents: ")
        mov (%edi), %esi
        mov 4(%edi), %ecx
        sub %esi, %ecx
        cmp $MAX_MODULE_SHOWN, %ecx
        jbe 2f
        mov $MAX_MODULE_SHOWN, %ecx
2:      call serial_write
        PRINT("\n")
1:      ret

/* show_mmap: one line per entry { size, base_addr, length, type }. */
show_mmap:
        mov MBI_MMAP_ADDR(%ebx), %esi
        mov MBI_MMAP_LENGTH(%ebx), %edi
        add %esi, %edi                  /* end of the map */
        xor %ecx, %ecx
1:      cmp %edi, %esi
        jae 2f
        PRINT("mmap: base ")
        add $4, %esi
        call serial_puthex64_at
        PRINT(" length ")
        add $8, %esi
        call serial_puthex64_at
        PRINT(" type ")
        mov 8(%esi), %eax
        call serial_putdec
        PRINT("\n")
        mov -12(%esi), %eax             /* size field: bytes after itself */
        lea -8(%esi, %eax), %esi
        inc %ecx
        jmp 1b
2:      PRINT("mmap entries: ")
        mov %ecx, %eax
        call serial_putdec
        PRINT("\n")
        ret

        .section .rodata
exit_key:       .asciz "exit="
