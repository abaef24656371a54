/*
 * cmdline.S: find "KEY=N" words on a NUL-terminated command line (32-bit).
 *
 * cmdline_number: %esi = command line, %edi = NUL-terminated "KEY=".
 * Returns CF clear and the decimal N in %eax when a word starts with KEY=,
 * CF set (and %eax unchanged) otherwise.  Preserves other registers.
 */
#include "tiny.h"

        .code32
        .text
        .globl cmdline_number
cmdline_number:
        push %ebx
        push %ecx
        push %edx
        push %esi
        mov %esi, %edx                  /* start of the line */
1:      cmpb $0, (%esi)
        je 8f
        cmp %edx, %esi                  /* a word starts at the line start or after ' ' */
        je 2f
        cmpb $' ', -1(%esi)
        jne 7f
2:      xor %ecx, %ecx                  /* compare KEY= */
3:      movb (%edi, %ecx), %bl
        test %bl, %bl
        jz 4f
        cmpb %bl, (%esi, %ecx)
        jne 7f
        inc %ecx
        jmp 3b
4:      add %ecx, %esi                  /* parse the digits */
        xor %eax, %eax
5:      movzbl (%esi), %ecx
        sub $'0', %ecx
        cmp $9, %ecx
        ja 6f
        imul $10, %eax
        add %ecx, %eax
        inc %esi
        jmp 5b
6:      clc
        jmp 9f
7:      inc %esi
        jmp 1b
8:      stc
9:      pop %esi
        pop %edx
        pop %ecx
        pop %ebx
        ret
