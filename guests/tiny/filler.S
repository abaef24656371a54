/*
 * filler: writes a non-zero pattern over 32 MiB of RAM from 16 MiB (the guest
 * needs at least 48 MiB), prints "filler: ready", then halts with interrupts
 * off.  A snapshot of it has 32 MiB to write, where one of counter has a few
 * pages: the save tests watch its progress.
 */
#include "tiny.h"

#define FILL_START      (16 << 20)
#define FILL_SIZE       (32 << 20)

        .code64
        .text
        .globl main
main:
        mov $FILL_START, %rdi
        mov $(FILL_SIZE / 8), %rcx
        mov $0x5a5a5a5a5a5a5a5a, %rax
        rep stosq
        PRINT("filler: ready\n")
        cli
1:      hlt
        jmp 1b
