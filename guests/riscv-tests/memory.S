# Loads, stores (aligned and misaligned), LR/SC and every AMO, fence and fence.i.
    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    # every load at every offset of a known pattern
    .irp op, lb,lh,lw,ld,lbu,lhu,lwu
    la s0, pattern
    li s1, 9
100: \op a0, 0(s0)
    call puthex
    addi s0, s0, 1
    addi s1, s1, -1
    bnez s1, 100b
    .endr
    # every store at every offset, then the buffer
    .irp op, sb,sh,sw,sd
    la s0, buffer
    li s1, 0
101: li t0, 0x1122334455667788
    add t1, s0, s1
    \op t0, 0(t1)
    addi s1, s1, 3
    li t2, 12
    blt s1, t2, 101b
    ld a0, 0(s0)
    call puthex
    ld a0, 8(s0)
    call puthex
    .endr
    # negative offsets
    la s0, pattern + 16
    ld a0, -16(s0)
    call puthex
    lw a0, -12(s0)
    call puthex
    # AMOs: old value, then memory
    .irp op, amoswap,amoadd,amoxor,amoand,amoor,amomin,amomax,amominu,amomaxu
    la s0, buffer
    li t0, 0x8000000000000005
    sd t0, 0(s0)
    li t1, -7
    \op\().d a0, t1, (s0)
    call puthex
    ld a0, 0(s0)
    call puthex
    li t0, 0x80000005
    sw t0, 0(s0)
    li t1, 0x7ffffff9
    \op\().w a0, t1, (s0)
    call puthex
    lwu a0, 0(s0)
    call puthex
    .endr
    # LR/SC: success, failure without a reservation
    la s0, buffer
    lr.d a0, (s0)
    li t0, 42
    sc.d a0, t0, (s0)
    call puthex
    ld a0, 0(s0)
    call puthex
    sc.d a0, t0, (s0)
    call puthex
    lr.w.aq a0, (s0)
    sc.w.rl a0, t0, (s0)
    call puthex
    # a misaligned LR traps (QEMU 7.2 reports misaligned AMOs as loads, cause 4,
    # where the spec and this hart say store/AMO, cause 6: not compared)
    addi t1, s0, 1
    lr.w a0, (t1)
    fence
    fence.i
    # self-modifying code: patch an addi immediate, fence.i, run it
    la s0, patched
    li s1, 3
102: call patched
    call puthex
    lw t0, 0(s0)
    li t1, 1 << 20
    add t0, t0, t1
    sw t0, 0(s0)
    fence.i
    addi s1, s1, -1
    bnez s1, 102b
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .data
    .align 3
pattern:
    .byte 0x81, 0x02, 0xf3, 0x74, 0x85, 0x96, 0x27, 0xf8, 0x09, 0x8a, 0x7b, 0xfc, 0x0d, 0x0e, 0x0f, 0x90
    .dword 0
buffer:
    .dword 0, 0, 0
    .align 2
patched:
    .option push
    .option norvc
    addi a0, zero, 1
    ret
    .option pop
