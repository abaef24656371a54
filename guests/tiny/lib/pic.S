/*
 * pic.S: initialise the two cascaded 8259 PICs (same code in real and
 * protected or long mode, see tiny.h).
 */
#include "tiny.h"

        LIB_CODE
        .text

/*
 * pic_init: master vectors from %al (IRQ 0-7), slave from %al + 8 (IRQ 8-15),
 * slave on master IRQ 2, 8086 mode; leaves every IRQ masked.
 */
        .globl pic_init
pic_init:
        push NAX
        mov %al, %ah
        mov $0x11, %al                  /* ICW1: edge triggered, cascade, ICW4 follows */
        outb %al, $0x20
        outb %al, $0xa0
        mov %ah, %al                    /* ICW2: vector base */
        outb %al, $0x21
        add $8, %al
        outb %al, $0xa1
        mov $0x04, %al                  /* ICW3: master has a slave on IRQ 2 */
        outb %al, $0x21
        mov $0x02, %al                  /*       slave's cascade identity is 2 */
        outb %al, $0xa1
        mov $0x01, %al                  /* ICW4: 8086 mode, normal EOI */
        outb %al, $0x21
        outb %al, $0xa1
        mov $0xff, %al                  /* OCW1: mask everything */
        outb %al, $0x21
        outb %al, $0xa1
        pop NAX
        ret
