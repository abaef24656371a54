/*
 * serial.S: COM1 output and the isa-debug-exit status, for every guest.
 *
 * Assembled for the guest's CPU mode (BITS = 16, 32 or 64, see tiny.h).
 * Calling convention: arguments in registers, everything but flags
 * preserved.  In 16-bit mode strings are addressed through DS.
 */
#include "tiny.h"

        LIB_CODE
        .text

/* serial_init: 115200 baud (divisor 1), 8N1, FIFOs on, UART interrupts off. */
        .globl serial_init
serial_init:
        push NAX
        push NDX
        OUTB(UART_IER, 0x00)
        OUTB(UART_LCR, 0x80)            /* DLAB=1: ports 0/1 are the divisor latch */
        OUTB(UART_DLL, 0x01)
        OUTB(UART_DLM, 0x00)
        OUTB(UART_LCR, 0x03)            /* DLAB=0, 8 data bits, no parity, 1 stop bit */
        OUTB(UART_FCR, 0xc7)            /* enable and clear FIFOs, RX trigger at 14 */
        OUTB(UART_MCR, 0x0b)            /* DTR, RTS, OUT2 (gates the IRQ line on a PC) */
        pop NDX
        pop NAX
        ret

/* serial_putc: send %al once the transmit holding register is empty. */
        .globl serial_putc
serial_putc:
        push NAX
        push NDX
        mov %al, %ah
        mov $UART_LSR, %dx
1:      inb %dx, %al
        test $LSR_THRE, %al
        jz 1b
        mov %ah, %al
        mov $UART_THR, %dx
        outb %al, %dx
        pop NDX
        pop NAX
        ret

/* serial_puts: send the NUL-terminated string at %esi. */
        .globl serial_puts
serial_puts:
        push NAX
        push NSI
1:      movb (NSI), %al
        test %al, %al
        jz 2f
        call serial_putc
        inc NSI
        jmp 1b
2:      pop NSI
        pop NAX
        ret

/* serial_write: send %ecx bytes from %esi. */
        .globl serial_write
serial_write:
        push NAX
        push NCX
        push NSI
        test %ecx, %ecx
        jz 2f
1:      movb (NSI), %al
        call serial_putc
        inc NSI
        dec %ecx
        jnz 1b
2:      pop NSI
        pop NCX
        pop NAX
        ret

/* serial_putdec: %eax as an unsigned decimal number. */
        .globl serial_putdec
serial_putdec:
        push NAX
        push NBX
        push NCX
        push NDX
        mov $10, %ebx
        xor %ecx, %ecx
1:      xor %edx, %edx                  /* push digits, least significant first */
        div %ebx
        push NDX
        inc %ecx
        test %eax, %eax
        jnz 1b
2:      pop NAX
        add $'0', %al
        call serial_putc
        dec %ecx
        jnz 2b
        pop NDX
        pop NCX
        pop NBX
        pop NAX
        ret

/* serial_puthex: the low %cl nibbles of %eax (1..8) as hex digits, no prefix. */
        .globl serial_puthex
serial_puthex:
        push NAX
        push NCX
        push NDX
        mov %eax, %edx
        and $0xf, %ecx
        shl $2, %ecx                    /* bits still to print */
1:      sub $4, %ecx
        mov %edx, %eax
        shr %cl, %eax
        and $0xf, %al
        add $'0', %al
        cmp $'9', %al
        jbe 2f
        add $('a' - '9' - 1), %al
2:      call serial_putc
        test %ecx, %ecx
        jnz 1b
        pop NDX
        pop NCX
        pop NAX
        ret

/* serial_puthex32: %eax as 0x followed by 8 hex digits. */
        .globl serial_puthex32
serial_puthex32:
        PRINT("0x")
        push NCX
        mov $8, %ecx
        call serial_puthex
        pop NCX
        ret

/* serial_puthex64_at: the little-endian 64-bit value at %esi as 0x + 16 digits. */
        .globl serial_puthex64_at
serial_puthex64_at:
        PRINT("0x")
        push NAX
        push NCX
        mov $8, %ecx
        mov 4(NSI), %eax
        call serial_puthex
        mov (NSI), %eax
        call serial_puthex
        pop NCX
        pop NAX
        ret

/*
 * exit: wait until the UART has sent everything, then write %al to
 * isa-debug-exit.  Does not return: without the device the CPU halts.
 */
        .globl exit
exit:
        mov %al, %ah
        mov $UART_LSR, %dx
1:      inb %dx, %al
        test $LSR_TEMT, %al
        jz 1b
        mov %ah, %al
        outb %al, $DEBUG_EXIT_PORT
        PRINT("exit: isa-debug-exit did not stop the VM\n")
2:      cli
        hlt
        jmp 2b
