# Sv39 from S-mode: gigapage identity maps, 4 KiB pages with each permission,
# hardware A/D updates, page faults and their causes, SUM, MXR, MPRV, sfence.vma.
    .equ V, 1
    .equ R, 2
    .equ W, 4
    .equ X, 8
    .equ U, 16
    .equ A, 64
    .equ D, 128
    .equ WINDOW, 0x40000000      # VA of the 4 KiB test pages

    .macro pte table, index, target, flags
    la t0, \target
    srli t0, t0, 12
    slli t0, t0, 10
    ori t0, t0, \flags
    la t1, \table
    sd t0, \index*8(t1)
    .endm

    .text
    .globl main
main:
    addi sp, sp, -16
    sd ra, 0(sp)
    # root: 0-1 GiB (devices) and 2-3 GiB (RAM) identity gigapages, 1-2 GiB -> l1
    li t0, (0 << 10) | V | R | W | A | D
    la t1, root
    sd t0, 0(t1)
    li t0, (0x80000 << 10) | V | R | W | X | A | D
    sd t0, 16(t1)
    pte root, 1, l1, V
    pte l1, 0, l0, V
    li t0, (0x80001 << 10) | V | R | A  # l1[1]: misaligned megapage
    la t1, l1
    sd t0, 8(t1)
    pte l0, 0, data, V | R | W                  # A/D clear
    pte l0, 1, data, V | R | A | D              # read-only
    pte l0, 2, data, V | R | W | U | A | D      # user page
    pte l0, 3, data, V | X | A                  # execute-only
    pte l0, 5, data, V | W | A | D              # W without R: reserved
    pte l0, 6, code, V | R | X | A              # code
    la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    # S-mode: traps come back to M and return after the faulting instruction
    li t0, 0x1800
    csrc mstatus, t0
    li t0, 1 << 11
    csrs mstatus, t0
    la t0, smode
    csrw mepc, t0
    mret
smode:
    li s0, WINDOW
    ld a0, 0(s0)                 # sets A
    call puthex
    la t0, l0
    ld a0, 0(t0)
    call puthex
    sd a0, 8(s0)                 # sets D
    la t0, l0
    ld a0, 0(t0)
    call puthex
    li t0, 0x77
    li s1, 0x1000
    add s1, s0, s1
    sd t0, 0(s1)                 # read-only: store page fault
    li s1, 0x2000
    add s1, s0, s1
    ld a0, 0(s1)                 # U page without SUM: load page fault
    li t0, 1 << 18
    csrs sstatus, t0
    ld a0, 0(s1)                 # with SUM
    call puthex
    li t0, 1 << 18
    csrc sstatus, t0
    li s1, 0x3000
    add s1, s0, s1
    ld a0, 0(s1)                 # execute-only without MXR
    li t0, 1 << 19
    csrs sstatus, t0
    ld a0, 0(s1)                 # with MXR
    call puthex
    li t0, 1 << 19
    csrc sstatus, t0
    li s1, 0x4000
    add s1, s0, s1
    ld a0, 0(s1)                 # invalid PTE
    sw a0, 0(s1)
    li s1, 0x5000
    add s1, s0, s1
    ld a0, 0(s1)                 # W without R
    li s1, 0x200000
    add s1, s0, s1
    ld a0, 0(s1)                 # misaligned megapage
    li s1, 0x4000000000
    ld a0, 0(s1)                 # non-canonical
    li s1, 0x6000
    add s1, s0, s1
    jalr s1                      # code page: returns 0x5a
    call puthex
    li s1, 0x4000
    add s1, s0, s1
    la ra, 1f
    jr s1                        # fetch from an invalid page: the hook returns to ra
1:  la t0, l0                    # remap the read-only page onto the code page
    pte l0, 1, code, V | R | A
    sfence.vma
    li s1, 0x1000
    add s1, s0, s1
    lw a0, 0(s1)
    call puthex
    ecall                        # back to M
    .globl back_in_m
back_in_m:
    # MPRV: M-mode loads translated as S
    li t0, (1 << 17) | (1 << 11)
    csrs mstatus, t0
    li t1, WINDOW
    ld a0, 8(t1)
    li t0, 1 << 17
    csrc mstatus, t0
    call puthex
    csrw satp, zero
    li a0, 0
    ld ra, 0(sp)
    addi sp, sp, 16
    ret

    .globl trap_hook
trap_hook:                       # ecall: back to M; fetch faults: return to ra
    li t0, 9
    beq a0, t0, 2f
    li t0, 12
    beq a0, t0, 3f
    lhu t0, 0(a1)
    andi t0, t0, 3
    li t1, 3
    addi a0, a1, 2
    bne t0, t1, 1f
    addi a0, a1, 4
1:  ret
2:  li t0, 0x1800
    csrs mstatus, t0
    la a0, back_in_m
    ret
3:  ld a0, 8(a3)
    ret

    .data
    .align 12
root: .space 4096
l1: .space 4096
l0: .space 4096
data:
    .dword 0x1122334455667788, 0
    .space 4096 - 16
code:
    li a0, 0x5a
    ret
    .align 12
