/*
 * bench: a guest for the VMM benchmarks (bench/).
 *
 *   pio=N    N one-byte writes to port 0x80 (the POST port, a no-op device in
 *            QEMU and pyvirt): each one is a round trip through the VMM
 *   idle     halt with interrupts off, forever (for memory measurements)
 *
 * then exit with EXIT_PASS.  Without arguments it exits at once (start-up).
 */
#include "tiny.h"

#define POST_PORT 0x80

        .code32
        .text
        .globl main
main:
        mov mb_info, %ebx
        testl $(1 << 2), (%ebx)         /* command line present? */
        jz 9f
        mov 16(%ebx), %esi
        mov $idle_key, %edi
        call cmdline_number
        jnc idle
        mov $pio_key, %edi
        call cmdline_number
        jc 9f
        mov %eax, %ecx
        mov $POST_PORT, %dx
        jecxz 9f
1:      outb %al, %dx
        dec %ecx
        jnz 1b
9:      mov $EXIT_PASS, %al
        ret

idle:   PRINT("bench: idle\n")
1:      cli
        hlt
        jmp 1b

        .section .rodata
pio_key:        .asciz "pio="
idle_key:       .asciz "idle="
