/*
 * fwcfg.S: QEMU's firmware configuration device through its legacy I/O
 * interface: write a 16-bit key to the selector port, then read the item's
 * bytes one at a time from the data port.  Mode-neutral (see tiny.h).
 */
#include "tiny.h"

#define FW_CFG_SIGNATURE 0x00

        LIB_CODE
        .text

/* fw_cfg_select: make item %ax current, reading from its first byte. */
        .globl fw_cfg_select
fw_cfg_select:
        push NDX
        mov $FW_CFG_SEL, %dx
        outw %ax, %dx
        pop NDX
        ret

/* fw_cfg_read: the next %ecx (1..4) bytes of the item, little-endian, in %eax. */
        .globl fw_cfg_read
fw_cfg_read:
        push NBX
        push NCX
        push NDX
        mov $FW_CFG_DATA, %dx
        xor %ebx, %ebx
        push NCX
1:      inb %dx, %al                    /* each byte enters at the bottom and */
        mov %al, %bl                    /* rotates up: after 4, byte 0 is lowest */
        ror $8, %ebx
        dec %ecx
        jnz 1b
        pop NCX
        neg %ecx                        /* fewer than 4 bytes: finish the rotation */
        add $4, %ecx
        shl $3, %ecx
        ror %cl, %ebx
        mov %ebx, %eax
        pop NDX
        pop NCX
        pop NBX
        ret

/* fw_cfg_check: ZF set when the signature item reads "QEMU". */
        .globl fw_cfg_check
fw_cfg_check:
        push NAX
        push NCX
        mov $FW_CFG_SIGNATURE, %ax
        call fw_cfg_select
        mov $4, %ecx
        call fw_cfg_read
        cmp $0x554d4551, %eax           /* "QEMU" */
        pop NCX
        pop NAX
        ret
