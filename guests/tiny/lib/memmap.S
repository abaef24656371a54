/*
 * memmap.S: print an e820-style memory map (64-bit).
 *
 * show_memory_map: %rsi = first entry { u64 addr, u64 size, u32 type, ... },
 * %ecx = number of entries, %edx = bytes per entry, %rdi = NUL-terminated
 * label.  Prints "<label>: addr A size S type T" per entry, then
 * "<label> entries: N".  Preserves %rbx.
 */
#include "tiny.h"

        .code64
        .text
        .globl show_memory_map
show_memory_map:
        push %rcx                       /* the count, for the summary line */
        test %ecx, %ecx
        jz 2f
1:      push %rsi
        mov %rdi, %rsi
        call serial_puts
        pop %rsi
        PRINT(": addr ")
        call serial_puthex64_at
        PRINT(" size ")
        add $8, %rsi
        call serial_puthex64_at
        PRINT(" type ")
        mov 8(%rsi), %eax
        call serial_putdec
        PRINT("\n")
        lea -8(%rsi, %rdx), %rsi
        dec %ecx
        jnz 1b
2:      mov %rdi, %rsi
        call serial_puts
        PRINT(" entries: ")
        pop %rax
        call serial_putdec
        PRINT("\n")
        ret
