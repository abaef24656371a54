/*
 * counter: prints "count N" on COM1 every 100 ms of guest time (10 ticks of the
 * local APIC timer), N = 1, 2, 3, ... for as long as it runs.  The count lives
 * in guest memory and the timer in the local APIC, so a VMM that pauses the
 * guest stops the count, and one that snapshots and restores it (registers,
 * APIC timer, RAM) makes it continue from where it was.
 */
#include "tiny.h"

#define TICKS_PER_COUNT 10

        .code64
        .text
        .globl main
main:
        call lapic_init
        call lapic_timer_start
        PRINT("counter: ready\n")
1:      mov $TICKS_PER_COUNT, %eax
        call wait_ticks
        incl count(%rip)
        PRINT("count ")
        mov count(%rip), %eax
        call serial_putdec
        PRINT("\n")
        jmp 1b

        .data
count:  .long 0
