# Branches on edge values, jal/jalr links, and the compressed instructions.
    .macro branch op
    la s0, values
    li s1, 5
100: ld s2, 0(s0)
    la s3, values
    li s4, 5
    li s6, 0
101: ld s5, 0(s3)
    slli s6, s6, 1
    \op s2, s5, 102f
    j 103f
102: ori s6, s6, 1
103: addi s3, s3, 8
    addi s4, s4, -1
    bnez s4, 101b
    mv a0, s6
    call puthex
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 100b
    .endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    .irp op, beq,bne,blt,bge,bltu,bgeu
    branch \op
    .endr
    # jal and jalr: links relative to their labels; jalr clears bit 0
    jal t0, 1f
1:  la t1, 1b
    sub a0, t0, t1
    call puthex
    la t1, 2f + 1
    jalr t0, 0(t1)
2:  la t1, 2b
    sub a0, t0, t1
    call puthex
    la t1, 3f - 4
    jalr t1, 4(t1)
3:  la t2, 3b
    sub a0, t1, t2
    call puthex
    # compressed forms
    .option push
    .option rvc
    li s0, 0x123456789
    li s1, -3
    c.addi s0, -7
    mv a0, s0
    call puthex
    c.addiw s0, 5
    mv a0, s0
    call puthex
    c.li a0, -17
    call puthex
    c.lui a0, 0xfffe1
    call puthex
    mv s0, sp
    c.addi16sp sp, -64
    sub a0, s0, sp
    c.addi4spn a1, sp, 32
    sub a0, s0, a1
    c.addi16sp sp, 64
    call puthex
    li a0, -1024
    c.srli a0, 3
    call puthex
    li a0, -1024
    c.srai a0, 3
    call puthex
    li a0, -1
    c.andi a0, 0x15
    call puthex
    c.slli s1, 40
    mv a0, s1
    call puthex
    .irp op, c.sub,c.xor,c.or,c.and,c.subw,c.addw
    li a0, 0x7ffffff0
    li a1, -0x80000010
    \op a0, a1
    call puthex
    .endr
    li a1, 99
    c.mv a0, a1
    c.add a0, a1
    call puthex
    addi sp, sp, -32
    li a0, 0x1111222233334444
    c.sdsp a0, 8(sp)
    c.swsp a0, 4(sp)
    c.ldsp a0, 8(sp)
    call puthex
    c.lwsp a0, 4(sp)
    call puthex
    mv s0, sp
    li a1, -5
    c.sd a1, 16(s0)
    c.sw a1, 24(s0)
    c.ld a0, 16(s0)
    call puthex
    c.lw a0, 24(s0)
    call puthex
    addi sp, sp, 32
    li a0, 0
    c.beqz a0, 4f
    li a0, 1
4:  c.bnez a0, 5f
    li a0, 2
5:  call puthex
    la t0, 6f
    c.jr t0
    li a0, 3
6:  la a1, 7f
    c.jalr a1
    j 8f
7:  la a0, 7b
    sub a0, ra, a0
    jr ra
8:  call puthex
    c.j 9f
    li a0, 4
9:  c.nop
    c.ebreak
    .option pop
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .section .rodata
    .align 3
values:
    .dword 0, 1, -1, 0x7fffffffffffffff, 0x8000000000000000
