/*
 * tiny.h: definitions shared by every tiny test guest (assembler sources
 * preprocessed by cpp).
 *
 * BITS (16, 32 or 64, given by build.py with -DBITS=) is the CPU mode the
 * shared library code (lib/serial.S, pic.S, fwcfg.S) is assembled for in this
 * guest: the same source then runs in real, protected or long mode.  Most of
 * it uses 32-bit registers, which work in all three modes; only push/pop need
 * the native width, hence the N* register names below, and LIB_CODE is the
 * matching .code16/.code32/.code64 directive.
 *
 * Why the guests that take interrupts run in long mode rather than 32-bit
 * protected mode: on the PVM-based KVM this project is developed on, guest
 * kernel code is run by KVM's instruction emulator, whose IRET handles real
 * mode only (em_iret: "iret from protected mode unimplemented yet"); a 32-bit
 * IRET stops the VM with "KVM internal error. Suberror: 1, emulation failure".
 * IRETQ in long mode does work there, as Linux needs it.
 */
#ifndef TINY_H
#define TINY_H

#if BITS == 64
# define LIB_CODE .code64
# define NAX %rax
# define NBX %rbx
# define NCX %rcx
# define NDX %rdx
# define NSI %rsi
# define NDI %rdi
#elif BITS == 32 || BITS == 16
# if BITS == 32
#  define LIB_CODE .code32
# else
#  define LIB_CODE .code16
# endif
/* In real mode push %eax pushes 4 bytes: fine for save/restore pairs. */
# define NAX %eax
# define NBX %ebx
# define NCX %ecx
# define NDX %edx
# define NSI %esi
# define NDI %edi
#else
# error "BITS must be 16, 32 or 64"
#endif

/* Ports. */
#define COM1            0x3f8   /* 16550 UART: RBR/THR, IER, IIR/FCR, LCR, MCR, LSR */
#define UART_RBR        (COM1 + 0)
#define UART_THR        (COM1 + 0)
#define UART_DLL        (COM1 + 0)
#define UART_IER        (COM1 + 1)
#define UART_DLM        (COM1 + 1)
#define UART_IIR        (COM1 + 2)
#define UART_FCR        (COM1 + 2)
#define UART_LCR        (COM1 + 3)
#define UART_MCR        (COM1 + 4)
#define UART_LSR        (COM1 + 5)
#define LSR_DR          0x01    /* receive data ready */
#define LSR_THRE        0x20    /* transmit holding register empty */
#define LSR_TEMT        0x40    /* transmitter completely idle */

#define DEBUG_EXIT_PORT 0xf4    /* -device isa-debug-exit,iobase=0xf4,iosize=0x04 */
#define FW_CFG_SEL      0x510   /* QEMU fw_cfg selector (16-bit) */
#define FW_CFG_DATA     0x511   /* and data port (8-bit) */

/*
 * Exit statuses written to isa-debug-exit; the VMM then exits with
 * (status << 1) | 1, so PASS is exit code 33 and FAIL 35.  Neither can be
 * confused with a VMM that failed on its own (exit code 1) or a guest
 * reset/triple fault under -no-reboot (exit code 0).
 */
#define EXIT_PASS       0x10
#define EXIT_FAIL       0x11

/* Local APIC and IOAPIC (physical addresses, identity-mapped). */
#define LAPIC_BASE      0xfee00000
#define LAPIC_ID        0x020
#define LAPIC_EOI       0x0b0
#define LAPIC_SVR       0x0f0
#define LAPIC_ICR_LO    0x300
#define LAPIC_ICR_HI    0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_TIMER_ICR 0x380
#define LAPIC_TIMER_DCR 0x3e0
#define IOAPIC_BASE     0xfec00000

/* Interrupt vectors used by the guests (the PIC is remapped here). */
#define VEC_PIC_BASE    0x20    /* 8259 IRQ 0-15 -> 0x20-0x2f (all masked) */
#define VEC_IOAPIC_BASE 0x30    /* IOAPIC pin n -> 0x30 + n */
#define VEC_TIMER       0x40    /* local APIC timer */
#define VEC_SPURIOUS    0xff    /* local APIC spurious vector */

/* Write an immediate byte to a port (clobbers %al, %dx). */
#define OUTB(port, val) mov $(port), %dx ; mov $(val), %al ; outb %al, %dx

/*
 * PRINT("text\n"): print a string literal on COM1.  Preserves registers
 * (not flags).  The string goes to .rodata; in the 16-bit BIOS, DS must be
 * the segment the image is linked in.
 */
#define PRINT(s) \
        .pushsection .rodata ; 9999: .asciz s ; .popsection ; \
        push NSI ; mov $9999b, %esi ; call serial_puts ; pop NSI

/* EXIT(status): flush the UART and write status to isa-debug-exit. */
#define EXIT(status) mov $(status), %al ; jmp exit

#endif /* TINY_H */
