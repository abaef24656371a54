# CPU-bound benchmark: a sieve of Eratosthenes and a multiply-xor checksum over
# memory, repeated; prints the result. Loads, stores, branches, ALU and mul.
    .equ SIZE, 8192
#ifndef ROUNDS
#define ROUNDS 40
#endif
    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    li s3, ROUNDS
    li s4, 0                     # checksum
round:
    la s0, sieve
    li t0, 0
    li t1, SIZE
1:  add t2, s0, t0               # clear
    sb zero, 0(t2)
    addi t0, t0, 1
    blt t0, t1, 1b
    li t0, 2
2:  add t2, s0, t0               # sieve
    lbu t3, 0(t2)
    bnez t3, 4f
    mul t4, t0, t0
    bge t4, t1, 5f
3:  add t2, s0, t4
    li t5, 1
    sb t5, 0(t2)
    add t4, t4, t0
    blt t4, t1, 3b
4:  addi t0, t0, 1
    blt t0, t1, 2b
5:  li t0, 0                     # checksum of the primes
    li t6, 0x9e3779b97f4a7c15
6:  add t2, s0, t0
    lbu t3, 0(t2)
    bnez t3, 7f
    xor s4, s4, t0
    mul s4, s4, t6
    srli t5, s4, 29
    xor s4, s4, t5
7:  addi t0, t0, 1
    blt t0, t1, 6b
    addi s3, s3, -1
    bnez s3, round
    mv a0, s4
    call puthex
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .bss
    .align 12              # its own page: stores to pages holding code take the slow path
sieve:
    .space SIZE
