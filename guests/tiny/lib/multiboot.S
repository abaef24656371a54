/*
 * multiboot.S: Multiboot v1 header and entry point.
 *
 * The loader enters _start in 32-bit protected mode, paging off,
 * interrupts off, EAX = 0x2BADB002, EBX = the multiboot information.  With
 * BITS == 32 the guest's main runs right there; with BITS == 64 we first go
 * to long mode and install the 64-bit runtime (rt64.S).  main returns an
 * exit status in %al.
 */
#include "tiny.h"

#define MB_MAGIC        0x1badb002
#define MB_FLAGS        0x00000003      /* page-align modules, want memory info */

        .section .multiboot, "a"
        .balign 4
        .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

        .text
        .code32
        .globl _start
_start:
        cli
        cld
        mov $boot_stack_top, %esp
        mov %eax, mb_magic
        mov %ebx, mb_info
#if BITS == 64
        mov $1f, %edi
        jmp enter_long_mode
        .code64
1:      call rt64_init
#endif
        call serial_init
        call main
        jmp exit

        .data
        .globl mb_magic, mb_info
mb_magic:       .long 0
mb_info:        .long 0

        .bss
        .balign 16
        .skip 8192
boot_stack_top:
