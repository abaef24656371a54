/*
 * portscan: a nosy guest.  Reads every I/O port with inb and every
 * dword-aligned port with inl, then reads unbacked physical addresses in
 * the PCI hole with 1-, 2- and 4-byte loads.  A VMM must answer all of it
 * (all-ones where nothing decodes) without falling over.
 */
#include "tiny.h"

#define HOLE            0xd0000000      /* no RAM, no device */
#define HOLE_PROBES     256

        .code32
        .text
        .globl main
main:
        PRINT("portscan: reading ports 0-0xffff\n")
        xor %ecx, %ecx                  /* %ecx: port, %edi: ports that read 0xff */
        xor %edi, %edi
1:      mov %cx, %dx
        inb %dx, %al
        cmp $0xff, %al
        jne 2f
        inc %edi
2:      test $3, %cl
        jnz 3f
        inl %dx, %eax
3:      inc %ecx
        cmp $0x10000, %ecx
        jb 1b
        PRINT("portscan: ports reading 0xff: ")
        mov %edi, %eax
        call serial_putdec
        PRINT("\nportscan: reading unbacked memory\n")

        mov $HOLE, %esi
        mov $HOLE_PROBES, %ecx
4:      movb (%esi), %al
        movw 2(%esi), %ax
        movl 4(%esi), %eax
        add $0x1000, %esi
        loop 4b
        PRINT("portscan: unbacked memory read as ")
        call serial_puthex32
        PRINT("\n")
        mov $EXIT_PASS, %al
        ret
