/*
 * interrupts: device interrupts through the IOAPIC, timer interrupts from
 * the local APIC.
 *
 * COM1's IRQ 4 is routed through IOAPIC pin 4 (ISA IRQs 1-15 are identity
 * mapped on a PC, IRQ 0 aside) to this CPU, and the UART's receive-data
 * interrupt is enabled.  After printing "ready" (again every half second
 * until a byte arrives, for a client that connects late), the handler echoes
 * every byte received until a newline; the main loop sleeps in hlt, then
 * prints the line back as "got: <line>" once it has also seen a few ticks of
 * the local APIC timer.
 */
#include "tiny.h"

#define UART_IRQ        4
#define IOAPIC_REDTBL   0x10            /* pin n: registers 0x10 + 2n (low), + 1 (high) */
#define IER_RDA         0x01            /* received data available */
#define MIN_TICKS       5
#define TIMEOUT_TICKS   2000            /* 20 s without a line: fail */
#define LINE_MAX        64
#define READY_EVERY     50              /* ticks between "ready" reminders */

        .code64
        .text
        .globl main
main:
        call lapic_init
        PRINT("interrupts: IOAPIC version ")
        mov $1, %eax
        call ioapic_read
        push %rax
        and $0xff, %eax
        call serial_puthex32
        PRINT(", pins ")
        pop %rax
        shr $16, %eax                   /* highest redirection entry */
        and $0xff, %eax
        inc %eax
        call serial_putdec
        PRINT("\n")

        mov $(VEC_IOAPIC_BASE + UART_IRQ), %eax
        mov $uart_isr, %edx
        call idt_set_gate
        call lapic_id                   /* destination: this CPU, physical mode */
        shl $24, %eax
        mov %eax, %edx
        mov $(IOAPIC_REDTBL + 2 * UART_IRQ + 1), %eax
        call ioapic_write
        /* low half last: it unmasks.  Fixed delivery, edge, active high. */
        mov $(VEC_IOAPIC_BASE + UART_IRQ), %edx
        mov $(IOAPIC_REDTBL + 2 * UART_IRQ), %eax
        call ioapic_write
        PRINT("interrupts: IRQ 4 -> IOAPIC pin 4 -> vector 0x34\n")

        call lapic_timer_start
        OUTB(UART_IER, IER_RDA)
        PRINT("ready\n")

1:      cli                             /* sleep until the line and the ticks are in */
        cmpl $TIMEOUT_TICKS, ticks(%rip)
        jae timeout
        cmpl $0, uart_irqs(%rip)        /* nothing received yet: remind */
        jne 4f
        mov ticks(%rip), %eax
        cmp next_ready(%rip), %eax
        jb 4f
        addl $READY_EVERY, next_ready(%rip)
        PRINT("ready\n")
4:        cmpl $0, line_done(%rip)
        je 2f
        cmpl $MIN_TICKS, ticks(%rip)
        jae 3f
2:      sti
        hlt
        jmp 1b

3:      OUTB(UART_IER, 0)
        PRINT("got: ")
        mov $line, %esi
        mov line_len(%rip), %ecx
        call serial_write
        PRINT("\nuart interrupts: ")
        mov uart_irqs(%rip), %eax
        call serial_putdec
        PRINT("\ntimer ticks: ")
        mov ticks(%rip), %eax
        call serial_putdec
        PRINT("\n")
        mov $EXIT_PASS, %al
        ret

timeout:
        PRINT("\ninterrupts: timed out waiting for a line (ticks: ")
        mov ticks(%rip), %eax
        call serial_putdec
        PRINT(")\n")
        mov $EXIT_FAIL, %al
        ret

/* COM1 receive interrupt: drain the FIFO, echo, collect the line. */
uart_isr:
        push %rax
        push %rcx
        push %rdx
        incl uart_irqs(%rip)
        mov $UART_IIR, %dx              /* identify the interrupt */
        inb %dx, %al
1:      mov $UART_LSR, %dx
        inb %dx, %al
        test $LSR_DR, %al
        jz 3f
        mov $UART_RBR, %dx
        inb %dx, %al
        call serial_putc
        cmp $'\n', %al
        je 2f
        cmp $'\r', %al
        je 2f
        cmpl $0, line_done(%rip)        /* keep the first line only */
        jne 1b
        mov line_len(%rip), %ecx
        cmp $LINE_MAX, %ecx
        jae 1b
        mov $line, %edx
        mov %al, (%rdx, %rcx)
        incl line_len(%rip)
        jmp 1b
2:      movl $1, line_done(%rip)
        jmp 1b
3:      call lapic_eoi
        pop %rdx
        pop %rcx
        pop %rax
        iretq

/* ioapic_read: register %eax -> %eax.  ioapic_write: register %eax <- %edx. */
ioapic_read:
        push %rcx
        mov $IOAPIC_BASE, %ecx
        mov %eax, (%rcx)                /* IOREGSEL */
        mov 0x10(%rcx), %eax            /* IOWIN */
        pop %rcx
        ret

ioapic_write:
        push %rcx
        mov $IOAPIC_BASE, %ecx
        mov %eax, (%rcx)
        mov %edx, 0x10(%rcx)
        pop %rcx
        ret

        .data
line_done:      .long 0
line_len:       .long 0
uart_irqs:      .long 0
next_ready:     .long READY_EVERY

        .bss
line:           .skip LINE_MAX
