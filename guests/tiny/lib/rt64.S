/*
 * rt64.S: 64-bit runtime for the guests that take interrupts: an IDT whose
 * every vector reports itself and fails the test unless the guest installs a
 * handler, the 8259 PICs remapped and masked, and the local APIC with a
 * periodic timer.  Needs the identity map and GDT of longmode.S.
 */
#include "tiny.h"

#define SEL_CODE64      0x10
#define TIMER_PERIOD_NS 10000000        /* 10 ms */
/* KVM's local APIC timer counts at 1 GHz; divided by 16 as configured below. */
#define TIMER_COUNT     (TIMER_PERIOD_NS / 16)
/* Exceptions that push an error code: 8, 10-14, 17, 21, 29, 30. */
#define ERRCODE_VECTORS 0x60227d00

        .code64
        .text

/*
 * rt64_init: IDT, PICs out of the way.  Clobbers nothing.
 *
 * Memory operands here and in every 64-bit guest are RIP-relative (or use a
 * base register): an absolute 32-bit address would need a relocation that the
 * ELF32 objects of the Multiboot guests cannot represent.
 */
        .globl rt64_init
rt64_init:
        push %rax
        push %rdx
        xor %eax, %eax                  /* every vector -> its stub */
        mov $vector_stubs, %edx
1:      call idt_set_gate
        add $16, %edx
        inc %eax
        cmp $256, %eax
        jb 1b
        mov $VEC_SPURIOUS, %eax         /* spurious APIC interrupts are harmless */
        mov $spurious_isr, %edx
        call idt_set_gate
        lidt idt_ptr(%rip)
        /*
         * The firmware may have left the PIC on vectors 8-15 with IRQ 0
         * unmasked: move it off the exception vectors and mask it.
         */
        mov $VEC_PIC_BASE, %al
        call pic_init
        pop %rdx
        pop %rax
        ret

/* idt_set_gate: vector %eax -> handler %edx (64-bit interrupt gate, DPL 0). */
        .globl idt_set_gate
idt_set_gate:
        push %rcx
        push %rdi
        mov %eax, %edi
        shl $4, %edi
        add $idt, %edi
        mov %edx, %ecx
        and $0xffff, %ecx
        or $(SEL_CODE64 << 16), %ecx
        mov %ecx, (%rdi)
        mov %edx, %ecx
        and $0xffff0000, %ecx
        or $0x8e00, %ecx                /* present, DPL 0, interrupt gate */
        mov %ecx, 4(%rdi)
        movq $0, 8(%rdi)                /* handlers live below 4 GiB */
        pop %rdi
        pop %rcx
        ret

/* lapic_init: software-enable this CPU's local APIC (spurious vector 0xff). */
        .globl lapic_init
lapic_init:
        push %rdx
        mov $LAPIC_BASE, %edx
        movl $0, 0x080(%rdx)            /* TPR: accept every priority */
        movl $(0x100 | VEC_SPURIOUS), LAPIC_SVR(%rdx)
        pop %rdx
        ret

/* lapic_eoi: acknowledge the interrupt being serviced. */
        .globl lapic_eoi
lapic_eoi:
        push %rdx
        mov $LAPIC_BASE, %edx
        movl $0, LAPIC_EOI(%rdx)
        pop %rdx
        ret

/* lapic_id: this CPU's APIC ID in %eax. */
        .globl lapic_id
lapic_id:
        mov $LAPIC_BASE, %eax
        mov LAPIC_ID(%rax), %eax
        shr $24, %eax
        ret

/* lapic_timer_start: periodic local APIC timer adding 1 to `ticks` every 10 ms. */
        .globl lapic_timer_start
lapic_timer_start:
        push %rax
        push %rdx
        mov $VEC_TIMER, %eax
        mov $timer_isr, %edx
        call idt_set_gate
        mov $LAPIC_BASE, %edx
        movl $0x3, LAPIC_TIMER_DCR(%rdx)                /* divide by 16 */
        movl $(0x20000 | VEC_TIMER), LAPIC_LVT_TIMER(%rdx)  /* periodic */
        movl $TIMER_COUNT, LAPIC_TIMER_ICR(%rdx)
        pop %rdx
        pop %rax
        ret

timer_isr:
        incl ticks(%rip)
        call lapic_eoi
        iretq

/*
 * wait_ticks: sleep (sti; hlt) until `ticks` has grown by %eax, i.e. for
 * (%eax - 1) to %eax timer periods.  Returns with interrupts disabled.
 */
        .globl wait_ticks
wait_ticks:
        push %rax
        add ticks(%rip), %eax
1:      cli                             /* check, then sti; hlt: sti's one-instruction */
        cmp ticks(%rip), %eax           /* shadow means no wake-up is lost */
        jbe 2f
        sti
        hlt
        jmp 1b
2:      pop %rax
        ret

spurious_isr:
        iretq

/* One 16-byte stub per vector: push the vector number, report, fail. */
        .balign 16
vector_stubs:
        .set vec, 0
        .rept 256
        .balign 16
        push $vec
        jmp unexpected_vector
        .set vec, vec + 1
        .endr

unexpected_vector:
        cli
        PRINT("\nunexpected interrupt, vector ")
        pop %rax
        call serial_putdec
        cmp $32, %eax
        jae 2f
        mov $ERRCODE_VECTORS, %edx
        bt %eax, %edx
        jnc 1f
        PRINT(" error code ")
        pop %rax
        call serial_puthex32
1:      PRINT(" at rip ")
        mov %rsp, %rsi                  /* the interrupt frame starts with rip */
        call serial_puthex64_at
2:      PRINT("\n")
        EXIT(EXIT_FAIL)

        .data
        .balign 8
        .globl idt_ptr, ticks
        .word 0, 0, 0
idt_ptr:
        .word 256 * 16 - 1
        .long idt, 0
ticks:  .long 0

        .bss
        .balign 16
idt:    .skip 256 * 16
