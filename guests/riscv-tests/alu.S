# Every register-register and register-immediate ALU instruction of RV64IM on
# a table of edge values: one result per line.
    .macro rr op
    la s0, values
    li s1, VALUES
100: ld s2, 0(s0)
    la s3, values
    li s4, VALUES
101: ld s5, 0(s3)
    \op a0, s2, s5
    call puthex
    addi s3, s3, 8
    addi s4, s4, -1
    bnez s4, 101b
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 100b
    .endm

    .macro ri op, imm
    la s0, values
    li s1, VALUES
100: ld s2, 0(s0)
    \op a0, s2, \imm
    call puthex
    addi s0, s0, 8
    addi s1, s1, -1
    bnez s1, 100b
    .endm

    .equ VALUES, 9
    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    .irp op, add,sub,sll,slt,sltu,xor,srl,sra,or,and,mul,mulh,mulhsu,mulhu,div,divu,rem,remu
    rr \op
    .endr
    .irp op, addw,subw,sllw,srlw,sraw,mulw,divw,divuw,remw,remuw
    rr \op
    .endr
    .irp op, addi,slti,sltiu,xori,ori,andi
    .irp imm, 0,1,-1,2047,-2048,0x555
    ri \op, \imm
    .endr
    .endr
    .irp op, slli,srli,srai
    .irp imm, 0,1,31,32,63
    ri \op, \imm
    .endr
    .endr
    .irp op, slliw,srliw,sraiw
    .irp imm, 0,1,17,31
    ri \op, \imm
    .endr
    .endr
    .irp imm, 0,1,-1,2047,-2048
    ri addiw, \imm
    .endr
    lui a0, 0x80000
    call puthex
    lui a0, 0x7ffff
    call puthex
1:  auipc a0, 0
    la a1, 1b
    sub a0, a0, a1
    call puthex
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .section .rodata
    .align 3
values:
    .dword 0, 1, -1, 0x7fffffffffffffff, 0x8000000000000000, 0x123456789abcdef0
    .dword 0xffffffff80000000, 0x7fffffff, 0xfedcba9876543210
