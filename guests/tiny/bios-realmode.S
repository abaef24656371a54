/*
 * bios-realmode: a 64 KiB firmware image for -bios.
 *
 * The CPU starts at F000:FFF0 (linear 0xFFFFFFF0, the top of the image);
 * the far jump there reloads CS as a real-mode segment, running the image
 * through its alias below 1 MiB (0xF0000).  Everything then happens in real
 * mode, as in a PC BIOS: IVT, 8259 PIC, 8254 PIT, timer interrupts with
 * sti; hlt.  The image is ROM, so variables live in low RAM.
 */
#include "tiny.h"

#define BIOS_SEG        0xf000
#define TICKS           0x500           /* tick counter (0000:0500, the BIOS data area) */
#define STACK_TOP       0x7000          /* 0000:7000 */
#define PIT_HZ          100
#define PIT_DIVISOR     (1193182 / PIT_HZ)
#define WANT_TICKS      5

        .code16
        .text
        .globl bios_start
bios_start:
        cli
        cld
        xor %ax, %ax
        mov %ax, %ss
        mov $STACK_TOP, %sp
        mov %ax, %es                    /* ES: low RAM (IVT, counter) */
        mov %cs, %ax
        mov %ax, %ds                    /* DS: this image, for strings */
        call serial_init
        PRINT("bios: reset vector reached\n")

        smsw %ax                        /* CR0.PE must be clear */
        test $1, %al
        jz 1f
        PRINT("bios: not in real mode!\n")
        EXIT(EXIT_FAIL)
1:      PRINT("bios: real mode, CS=")
        mov %cs, %ax
        movzwl %ax, %eax
        call serial_puthex32
        PRINT("\n")

        /* IVT: every vector to unexpected_isr, then IRQ 0 (vector 0x20) to timer_isr. */
        xor %di, %di
        mov $256, %cx
2:      movw $unexpected_isr, %es:(%di)
        movw $BIOS_SEG, %es:2(%di)
        add $4, %di
        loop 2b
        movw $timer_isr, %es:(VEC_PIC_BASE * 4)
        movl $0, %es:TICKS
        PRINT("bios: IVT ready\n")

        /*
         * At reset the local APIC is enabled in IA32_APIC_BASE but its LINT0
         * (where the 8259 is wired) is masked, so PIC interrupts go nowhere.
         * A BIOS either programs LINT0 as ExtINT (virtual wire mode, an MMIO
         * write out of real mode's reach) or, as here, disables the local APIC
         * globally so the 8259 drives the CPU's INTR pin directly.
         */
        mov $0x1b, %ecx                 /* IA32_APIC_BASE */
        rdmsr
        and $~0x800, %eax               /* clear the global enable bit */
        wrmsr
        PRINT("bios: local APIC disabled, 8259 drives INTR\n")

        mov $VEC_PIC_BASE, %al          /* IRQ 0-15 -> vectors 0x20-0x2f */
        call pic_init
        OUTB(0x21, 0xfe)                /* unmask IRQ 0 only */
        PRINT("bios: 8259 PIC remapped to 0x20/0x28\n")

        OUTB(0x43, 0x34)                /* PIT channel 0, lobyte/hibyte, mode 2 (rate generator) */
        OUTB(0x40, PIT_DIVISOR & 0xff)
        OUTB(0x40, PIT_DIVISOR >> 8)
        PRINT("bios: PIT channel 0 at 100 Hz\n")

        /* Sleep until each tick; print the count as it grows. */
        xor %ebx, %ebx                  /* last count printed */
3:      cli                             /* check, then sti; hlt: no wake-up is lost */
        mov %es:TICKS, %eax
        cmp %ebx, %eax
        jne 4f
        sti
        hlt
        jmp 3b
4:      mov %eax, %ebx
        PRINT("bios: tick ")
        call serial_putdec
        PRINT("\n")
        cmp $WANT_TICKS, %ebx
        jb 3b

        OUTB(0x21, 0xff)                /* quiet again */
        PRINT("bios: timer interrupts work, bye\n")
        EXIT(EXIT_PASS)

/* IRQ 0: count and acknowledge. */
timer_isr:
        incl %ss:TICKS
        push %ax
        mov $0x20, %al                  /* non-specific EOI */
        outb %al, $0x20
        pop %ax
        iret

/* Anything else (an exception, a stray IRQ) fails the test. */
unexpected_isr:
        mov %cs, %ax
        mov %ax, %ds
        PRINT("bios: unexpected interrupt\n")
        EXIT(EXIT_FAIL)

/* The reset vector: 16 bytes at the very top of the image. */
        .section .reset, "ax"
        ljmp $BIOS_SEG, $bios_start
