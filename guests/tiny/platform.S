/*
 * platform: cheap checks of PC platform devices a VMM must get right.
 *   - fw_cfg: the "QEMU" signature and the RAM size (FW_CFG_RAM_SIZE)
 *   - CMOS RTC: the date and time (the test compares them with the host's)
 *   - i8042: pulsing the reset line (0xfe to port 0x64) resets the machine;
 *     under -no-reboot the VMM then exits with status 0.
 */
#include "tiny.h"

#define FW_CFG_RAM_SIZE 0x03
#define CMOS_INDEX      0x70
#define CMOS_DATA       0x71
#define RTC_STATUS_A    0x0a            /* bit 7: update in progress */
#define RTC_STATUS_B    0x0b            /* bit 2: binary (not BCD) */
#define I8042_STATUS    0x64
#define I8042_COMMAND   0x64

        .code64
        .text
        .globl main
main:
        call fw_cfg_check
        je 1f
        PRINT("platform: no fw_cfg signature\n")
        mov $EXIT_FAIL, %al
        ret
1:      mov $FW_CFG_RAM_SIZE, %ax       /* 64-bit byte count */
        call fw_cfg_select
        mov $4, %ecx
        call fw_cfg_read
        mov %eax, %ebx
        call fw_cfg_read
        shrd $20, %eax, %ebx            /* bytes -> MiB */
        PRINT("fw_cfg: ram_size ")
        mov %ebx, %eax
        call serial_putdec
        PRINT(" MiB\n")

        call show_rtc

        PRINT("i8042: pulsing the reset line\n")
        mov $1000, %ecx                 /* wait (bounded) for an empty input buffer */
2:      inb $I8042_STATUS, %al
        test $0x02, %al
        loopnz 2b
        mov $0xfe, %al
        outb %al, $I8042_COMMAND
        call lapic_init                 /* give the reset 100 ms to happen */
        call lapic_timer_start
        mov $10, %eax
        call wait_ticks
        PRINT("i8042: still running after the reset pulse\n")
        mov $EXIT_FAIL, %al
        ret

/* show_rtc: print the RTC as "rtc: YYYY-MM-DD hh:mm:ss". */
show_rtc:
        mov $10000, %ecx                /* an update lasts < 2 ms: wait it out */
1:      mov $RTC_STATUS_A, %al
        call cmos_read
        test $0x80, %al
        loopnz 1b
        PRINT("rtc: ")
        mov $0x32, %al                  /* century */
        call rtc_print
        mov $0x09, %al                  /* year */
        call rtc_print
        PRINT("-")
        mov $0x08, %al                  /* month */
        call rtc_print
        PRINT("-")
        mov $0x07, %al                  /* day of month */
        call rtc_print
        PRINT(" ")
        mov $0x04, %al                  /* hours (24-hour mode, the VMM default) */
        call rtc_print
        PRINT(":")
        mov $0x02, %al                  /* minutes */
        call rtc_print
        PRINT(":")
        mov $0x00, %al                  /* seconds */
        call rtc_print
        PRINT("\n")
        ret

/* rtc_print: RTC register %al as two decimal digits, whatever its encoding. */
rtc_print:
        push %rax
        push %rdx
        call cmos_read
        movzbl %al, %edx
        mov $RTC_STATUS_B, %al
        call cmos_read
        test $0x04, %al
        jnz 1f
        mov %edx, %eax                  /* BCD -> binary */
        shr $4, %eax
        imul $10, %eax
        and $0x0f, %edx
        add %eax, %edx
1:      mov %edx, %eax
        cmp $10, %eax
        jae 2f
        PRINT("0")
2:      call serial_putdec
        pop %rdx
        pop %rax
        ret

/* cmos_read: CMOS register %al -> %al (NMIs stay enabled). */
cmos_read:
        outb %al, $CMOS_INDEX
        inb $CMOS_DATA, %al
        ret
