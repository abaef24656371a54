# Runtime of the instruction tests: start-up, output over the UART, exit through
# the test device, and an M-mode trap handler that prints "trap" with mcause,
# mepc and mtval, then asks trap_hook(cause, epc, tval, frame) for the new mepc
# (the default skips the trapping instruction). frame holds x0..x31 (8 bytes each).

    .equ UART, 0x10000000
    .equ TEST_DEVICE, 0x100000

    .section .text.init
    .globl _start
_start:
    la sp, stack_top
    la t0, trap_entry
    csrw mtvec, t0
    la t0, trap_frame
    csrw mscratch, t0
    li t0, -1              # PMP: everything accessible to S and U (QEMU needs a rule)
    csrw pmpaddr0, t0
    li t0, 0x1f
    csrw pmpcfg0, t0
    call main
    j exit

    .text
    .globl puts            # puts(a0: nul-terminated string)
puts:
    li t0, UART
1:  lbu t1, 0(a0)
    beqz t1, 2f
    sb t1, 0(t0)
    addi a0, a0, 1
    j 1b
2:  ret

    .globl puthex          # puthex(a0): 16 hex digits and a newline
puthex:
    li t0, UART
    li t1, 60
    li t4, 10
1:  srl t2, a0, t1
    andi t2, t2, 15
    addi t3, t2, '0'
    blt t2, t4, 2f
    addi t3, t2, 'a' - 10
2:  sb t3, 0(t0)
    addi t1, t1, -4
    bgez t1, 1b
    li t3, '\n'
    sb t3, 0(t0)
    ret

    .globl exit            # exit(a0): 0 passes
exit:
    li t0, TEST_DEVICE
    li t1, 0x5555
    beqz a0, 1f
    slli a0, a0, 16
    li t1, 0x3333
    or t1, t1, a0
1:  sw t1, 0(t0)
2:  j 2b

    .align 2
    .globl trap_entry
trap_entry:
    csrrw sp, mscratch, sp
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    sd x\n, \n*8(sp)
    .endr
    csrr t0, mscratch
    sd t0, 16(sp)
    mv s0, sp
    la sp, trap_stack_top
    la a0, trap_message
    call puts
    csrr a0, mcause
    call puthex
    csrr a0, mepc
    call puthex
    csrr a0, mtval
    call puthex
    csrr a0, mcause
    csrr a1, mepc
    csrr a2, mtval
    mv a3, s0
    call trap_hook
    csrw mepc, a0
    mv sp, s0
    csrw mscratch, sp
    .irp n, 1,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    ld x\n, \n*8(sp)
    .endr
    ld sp, 16(sp)
    mret

    .weak trap_hook
trap_hook:                 # interrupts: mask them all; exceptions: skip the instruction
    bltz a0, 2f
    lhu t0, 0(a1)
    andi t0, t0, 3
    li t1, 3
    addi a0, a1, 2
    bne t0, t1, 1f
    addi a0, a1, 4
1:  ret
2:  csrw mie, zero
    mv a0, a1
    ret

    .section .rodata
trap_message:
    .string "trap\n"

    .bss
    .align 4
    .globl trap_frame
trap_frame:
    .space 256
    .space 4096
trap_stack_top:
    .space 8192
stack_top:
