# CSRs, illegal instructions, M/S/U transitions, delegation and interrupts.
# The M-mode hook sends ecalls back to M-mode: "ecall" in S or U code returns to
# the caller in M-mode at the next instruction.
    .equ CLINT, 0x2000000
    .equ MTIMECMP, CLINT + 0x4000
    .text
    .globl trap_hook
trap_hook:
    li t0, 8
    beq a0, t0, 1f
    li t0, 9
    beq a0, t0, 1f
    bltz a0, 2f
    lhu t0, 0(a1)
    andi t0, t0, 3
    li t1, 3
    addi a0, a1, 2
    bne t0, t1, 3f
    addi a0, a1, 4
3:  ret
1:  li t0, 0x1800          # MPP = M
    csrs mstatus, t0
    addi a0, a1, 4
    ret
2:  csrw mie, zero
    li t0, CLINT
    sw zero, 0(t0)
    mv a0, a1
    ret

    .macro show csr
    csrr a0, \csr
    call puthex
    .endm

    .macro enter mode, label   # mret to \label in \mode (0: U, 1: S)
    li t0, 0x1800
    csrc mstatus, t0
    li t0, \mode << 11
    csrs mstatus, t0
    la t0, \label
    csrw mepc, t0
    mret
    .endm

    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    # plain CSRs and the six access instructions
    li t0, -1
    csrw sscratch, t0
    show sscratch
    csrrc a0, sscratch, t0
    call puthex
    li t0, 0x5a
    csrrs a0, sscratch, t0
    call puthex
    csrrwi a0, sscratch, 7
    call puthex
    csrrsi a0, sscratch, 0x18
    call puthex
    csrrci a0, sscratch, 3
    call puthex
    show sscratch
    li t0, 0x80001006
    csrw mepc, t0
    show mepc
    csrw sepc, t0
    show sepc
    csrw mtvec, t0
    show mtvec
    la t0, trap_entry
    csrw mtvec, t0
    li t0, 0xaaa           # (QEMU 7.2 also keeps H and LCOFI bits in mie)
    csrw mie, t0
    show mie
    csrw sie, zero
    show mie
    csrw mie, zero
    show mhartid
    show mstatus
    li t0, 0x000C0122
    csrs sstatus, t0
    show sstatus
    csrc sstatus, t0
    csrw satp, zero
    show satp
    # illegal: unknown CSR, write to a read-only CSR, all-zero and all-one words
    csrr a0, 0x7c0
    csrw mhartid, zero
    .word 0
    .word 0xffffffff
    .word 0x0000000b
    ecall
    # S-mode: M CSRs are illegal, ecall returns to M
    enter 1, 1f
1:  csrr a0, mstatus
    csrr a0, sstatus
    mret
    ecall
    # U-mode: S CSRs, sret, wfi and sfence.vma are illegal
    enter 0, 2f
2:  csrr a0, sstatus
    sret
    wfi
    sfence.vma
    rdcycle a0
    ecall
    # counters need mcounteren (and scounteren in U)
    li t0, 7
    csrw mcounteren, t0
    enter 1, 3f
3:  rdcycle a0
    rdinstret a0
    ecall
    csrw mcounteren, zero
    enter 1, 4f
4:  rdcycle a0
    ecall
    # TVM, TW, TSR
    li t0, (1 << 20) | (1 << 21) | (1 << 22)
    csrs mstatus, t0
    enter 1, 5f
5:  csrr a0, satp
    sfence.vma
    wfi
    sret
    ecall
    li t0, (1 << 20) | (1 << 21) | (1 << 22)
    csrc mstatus, t0
    # delegation: an ecall from U goes to the S handler
    li t0, 1 << 8
    csrw medeleg, t0
    la t0, s_handler
    csrw stvec, t0
    la t0, 6f
    csrw sepc, t0
    li t0, 1 << 8         # SPP = U
    csrc sstatus, t0
    la t0, after_delegation
    la t1, s_return
    sd t0, 0(t1)
    enter 1, s_to_u
6:  ecall
after_delegation:
    csrw medeleg, zero
    # a delegated supervisor software interrupt, taken as soon as S-mode runs
    li t0, 2
    csrw mideleg, t0
    csrw mie, t0
    csrs mip, t0
    li t0, 2              # SIE
    csrs mstatus, t0
    la t0, 7f
    la t1, s_return
    sd t0, 0(t1)
    enter 1, 7f
7:  nop
    csrw mideleg, zero
    li t0, 2
    csrc mstatus, t0
    # machine software interrupt from the CLINT
    csrci mstatus, 8
    li t0, 8
    csrw mie, t0
    li t1, CLINT
    li t2, 1
    sw t2, 0(t1)
    csrs mstatus, t0      # taken right after this instruction
    nop
    # machine timer interrupt: mtimecmp in the past
    li t1, MTIMECMP
    sd zero, 0(t1)
    li t0, 1 << 7
    csrw mie, t0
    csrsi mstatus, 8
    nop
    csrci mstatus, 8
    # wfi wakes on a pending (even globally disabled) interrupt
    li t0, 1 << 7
    csrw mie, t0
    li t1, MTIMECMP
    li t0, CLINT + 0xbff8
    ld t0, 0(t0)
    addi t0, t0, 1000
    sd t0, 0(t1)
    wfi
    csrw mie, zero
    li t0, -1
    sd t0, 0(t1)
    la a0, done
    call puts
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

s_to_u:
    sret
    .align 2
s_handler:
    csrr a0, scause
    call puthex
    csrr a0, sepc
    call puthex
    csrr a0, sstatus
    call puthex
    csrci sip, 2
    csrw medeleg, zero    # illegal: an M-mode CSR
    ecall
    la t0, s_return
    ld t0, 0(t0)
    jr t0

    .data
    .align 3
s_return:
    .dword 0

    .section .rodata
done:
    .string "done\n"
