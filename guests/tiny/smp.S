/*
 * smp: bring up the application processors the way an OS does.
 *
 * The BSP reads the CPU count from fw_cfg, copies a real-mode trampoline
 * below 1 MiB and sends INIT, SIPI, SIPI to all other CPUs through its local
 * APIC.  Each AP goes from real mode through 32-bit protected mode to long
 * mode (the trampoline and longmode.S), gets a stack, takes a spinlock,
 * prints its APIC ID, counts itself and halts.  The BSP sleeps on its APIC
 * timer until every AP has checked in, or 2 s have passed.
 */
#include "tiny.h"

#define FW_CFG_NB_CPUS  0x05
#define TRAMPOLINE      0x8000          /* 4 KiB aligned, below 1 MiB: SIPI vector 0x08 */
#define AP_STACK_SIZE   1024
#define MAX_APS         63
#define WAIT_TICKS      200             /* 2 s */
#define ICR_INIT        0x000c4500      /* all excluding self, level assert, INIT */
#define ICR_SIPI        (0x000c4600 | (TRAMPOLINE >> 12))
#define ICR_PENDING     0x1000
#define SEL_CODE32      0x08            /* longmode.S's GDT */
#define SEL_DATA        0x18

        .code64
        .text
        .globl main
main:
        call lapic_init
        call lapic_timer_start
        PRINT("smp: BSP APIC ID ")
        call lapic_id
        call serial_putdec
        PRINT("\n")

        call fw_cfg_check
        je 1f
        PRINT("smp: no fw_cfg signature\n")
        mov $EXIT_FAIL, %al
        ret
1:      mov $FW_CFG_NB_CPUS, %ax
        call fw_cfg_select
        mov $2, %ecx
        call fw_cfg_read
        mov %eax, ncpus(%rip)
        PRINT("smp: fw_cfg reports ")
        call serial_putdec
        PRINT(" CPUs\n")
        cmpl $1, ncpus(%rip)
        jbe report
        cmpl $MAX_APS + 1, ncpus(%rip)
        jbe 2f
        PRINT("smp: too many CPUs for this guest\n")
        mov $EXIT_FAIL, %al
        ret

2:      mov $trampoline, %esi           /* copy the trampoline below 1 MiB */
        mov $TRAMPOLINE, %edi
        mov $(trampoline_end - trampoline), %ecx
        rep movsb

        PRINT("smp: INIT-SIPI-SIPI\n")
        mov $ICR_INIT, %eax
        call send_ipi
        mov $2, %eax                    /* >= 10 ms */
        call wait_ticks
        mov $ICR_SIPI, %eax
        call send_ipi
        mov $1, %eax
        call wait_ticks
        mov $ICR_SIPI, %eax             /* the second SIPI, as the MP spec says */
        call send_ipi

        mov ticks(%rip), %ebx           /* sleep until all APs are counted */
        add $WAIT_TICKS, %ebx
3:      cli
        mov ncpus(%rip), %eax
        dec %eax
        cmp %eax, ap_count(%rip)
        jae report
        cmp %ebx, ticks(%rip)
        jae report
        sti
        hlt
        jmp 3b

report:
        call lock                       /* late APs may still print */
        PRINT("smp: ")
        mov ap_count(%rip), %eax
        inc %eax
        call serial_putdec
        PRINT(" of ")
        mov ncpus(%rip), %eax
        call serial_putdec
        PRINT(" CPUs up\n")
        mov ap_count(%rip), %eax
        inc %eax
        cmp ncpus(%rip), %eax
        mov $EXIT_PASS, %al
        je 1f
        mov $EXIT_FAIL, %al
1:      ret                             /* exit with the lock held */

/* send_ipi: ICR low = %eax (ICR high: 0, unused with a shorthand), wait for delivery. */
send_ipi:
        push %rcx
        push %rdx
        mov $LAPIC_BASE, %edx
        movl $0, LAPIC_ICR_HI(%rdx)
        mov %eax, LAPIC_ICR_LO(%rdx)
        mov $1000, %ecx                 /* bounded: KVM delivers at once */
1:      testl $ICR_PENDING, LAPIC_ICR_LO(%rdx)
        loopnz 1b
        pop %rdx
        pop %rcx
        ret

/* lock/unlock: the spinlock that serialises COM1 and ap_count. */
lock:
        push %rax
1:      mov $1, %eax
        xchg %eax, print_lock(%rip)     /* xchg with memory is always locked */
        test %eax, %eax
        jz 3f
2:      pause
        cmpl $0, print_lock(%rip)
        jne 2b
        jmp 1b
3:      pop %rax
        ret

unlock:
        movl $0, print_lock(%rip)
        ret

/* Each AP, from the trampoline: 32-bit protected mode, then long mode. */
        .code32
ap_entry32:
        mov $SEL_DATA, %ax
        mov %ax, %ds
        mov %ax, %es
        mov %ax, %ss
        mov $ap_entry64, %edi
        jmp enter_long_mode

        .code64
ap_entry64:
        mov $1, %eax                    /* a stack of its own */
        lock xadd %eax, ap_next(%rip)
        cmp $MAX_APS, %eax
        jae 9f
        inc %eax
        imul $AP_STACK_SIZE, %eax
        add $ap_stacks, %eax
        mov %eax, %esp
        lidt idt_ptr(%rip)              /* interrupts stay off; exceptions get reported */

        call lock
        PRINT("smp: AP up, APIC ID ")
        call lapic_id
        call serial_putdec
        PRINT("\n")
        incl ap_count(%rip)
        call unlock
9:      cli
        hlt
        jmp 9b

/*
 * The trampoline, copied to TRAMPOLINE, where each AP starts in real mode
 * at CS:IP = 0800:0000.  Addresses inside it are relative to its start.
 */
        .code16
trampoline:
        cli
        mov %cs, %ax
        mov %ax, %ds
        lgdtl tramp_gdt_ptr - trampoline
        mov %cr0, %eax
        or $1, %eax                     /* protected mode */
        mov %eax, %cr0
        ljmpl $SEL_CODE32, $ap_entry32
        .balign 4
        .word 0
tramp_gdt_ptr:
        .word gdt64_limit
        .long gdt64
trampoline_end:

        .data
ncpus:          .long 1
ap_count:       .long 0
ap_next:        .long 0
print_lock:     .long 0

        .bss
        .balign 16
ap_stacks:      .skip AP_STACK_SIZE * MAX_APS
