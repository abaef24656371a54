"""Block chaining: direct exits continue into linked successors, which invalidation cuts."""

from __future__ import annotations

import pytest

from pyvirt.tcg.riscv.baremetal import RAM_BASE, BareMetalBoard
from pyvirt.tcg.riscv.hart import CHAIN_LIMIT, Hart

NOP, FENCE_I, WFI = 0x00000013, 0x0000100F, 0x10500073


def addi(rd: int, rs1: int, imm: int) -> int:
    return (imm & 0xFFF) << 20 | rs1 << 15 | rd << 7 | 0x13


def jal(offset: int) -> int:  # rd = x0
    o = offset & 0x1FFFFF
    return (
        (o >> 20 & 1) << 31
        | (o >> 1 & 0x3FF) << 21
        | (o >> 11 & 1) << 20
        | (o >> 12 & 0xFF) << 12
        | 0x6F
    )


def bne(rs1: int, rs2: int, offset: int) -> int:
    o = offset & 0x1FFF
    return ((o >> 12 & 1) << 31 | (o >> 5 & 0x3F) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12
            | (o >> 1 & 0xF) << 8 | (o >> 11 & 1) << 7 | 0x63)  # fmt: skip


def sw(rs2: int, rs1: int) -> int:  # offset 0
    return rs2 << 20 | rs1 << 15 | 2 << 12 | 0x23


class CountingMap(dict[int, object]):
    """A jump map that counts the dispatch loop's lookups."""

    gets = 0

    def get(self, key: int, default: object = None) -> object:
        self.gets += 1
        return super().get(key, default)


def machine(words: list[int]) -> tuple[Hart, CountingMap]:
    board = BareMetalBoard(ram_size=1 << 20)
    hart = Hart(0, board, mtime=lambda: 0)
    board.hart = hart
    board.ram[: 4 * len(words)] = b"".join(w.to_bytes(4, "little") for w in words)
    hart.reset(RAM_BASE)
    counting = CountingMap()
    hart.translator.jump_maps[3] = counting  # type: ignore[assignment]
    return hart, counting


def run_to_wfi(hart: Hart) -> None:
    for _ in range(1000):
        if hart.waiting:
            return
        hart.run_slice()
    raise AssertionError("the guest did not reach wfi")


def test_loop_of_three_blocks_runs_chained() -> None:
    rounds = 300
    hart, dispatches = machine([
        addi(5, 0, rounds),
        addi(6, 6, 1), jal(8), NOP,  # loop: block A
        addi(7, 7, 2), jal(8), NOP,  # block B
        addi(5, 5, -1), bne(5, 0, -0x1C),  # block C, back to A
        WFI,
    ])  # fmt: skip
    run_to_wfi(hart)
    assert (hart.x[5], hart.x[6], hart.x[7]) == (0, rounds, 2 * rounds)
    assert hart.instret == 1 + 6 * rounds + 1
    # unchained: a lookup per block, 3 * rounds; chained: one per CHAIN_LIMIT + 1 blocks
    assert CHAIN_LIMIT >= 3
    assert dispatches.gets <= 3 * rounds // (CHAIN_LIMIT + 1) + 10


@pytest.mark.parametrize("fence", [NOP, FENCE_I], ids=["store", "store+fence.i"])
def test_rewritten_successor_is_not_entered(fence: int) -> None:
    """Pass 1 links A to B; pass 2's store rewrites B, so A must reach the new B."""
    old, new = addi(6, 6, 1), addi(6, 6, 100)
    hart, _ = machine([
        sw(8, 9), fence, jal(8), NOP,  # A: store x8 over B's first instruction
        old, jal(8), NOP,  # B at +0x10
        addi(8, 10, 0), addi(5, 5, -1), bne(5, 0, -0x24),  # x8 = new word; back to A
        WFI,
    ])  # fmt: skip
    hart.x[5], hart.x[8], hart.x[9], hart.x[10] = 2, old, RAM_BASE + 0x10, new
    run_to_wfi(hart)
    assert hart.x[6] == 1 + 100


def test_trap_in_a_chained_block_is_precise() -> None:
    hart, _ = machine([
        addi(5, 0, 1), jal(8), NOP,  # A, chains to B
        addi(7, 0, 2), 0x00003403, NOP,  # B: ld x8, 0(x0) faults (nothing at 0)
    ])  # fmt: skip
    hart.run_slice()
    assert (hart.csrs[0x342], hart.csrs[0x341]) == (5, RAM_BASE + 0x10)  # load access fault
    assert (hart.instret, hart.x[5], hart.x[7]) == (3, 1, 2)
