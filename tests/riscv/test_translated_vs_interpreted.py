"""Random instruction sequences give the same state translated in blocks and one at a time."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.tcg.riscv.baremetal import RAM_BASE, BareMetalBoard
from pyvirt.tcg.riscv.decode import BRANCHES, LOADS, OP, OP_32, OP_IMM, STORES
from pyvirt.tcg.riscv.hart import Hart

BUFFER = RAM_BASE + 0x10000  # x31 points into it; loads and stores stay inside
SEEDS = [0, 1, 2**64 - 1, 2**63, 0x7FFFFFFF, 0x123456789ABCDEF0]
reg = st.integers(1, 30)  # x31 is the buffer pointer


def r_type(table: dict[tuple[int, int], str], opcode: int) -> st.SearchStrategy[int]:
    keys = st.sampled_from(sorted(table))
    return st.builds(
        lambda k, rd, a, b: k[0] << 25 | b << 20 | a << 15 | k[1] << 12 | rd << 7 | opcode,
        keys, reg, reg, reg,
    )  # fmt: skip


imm12 = st.integers(-2048, 2047)
i_type = st.builds(
    lambda f3, rd, a, imm: (imm & 0xFFF) << 20 | a << 15 | f3 << 12 | rd << 7 | 0x13,
    st.sampled_from(sorted(OP_IMM)), reg, reg, imm12,
)  # fmt: skip
load = st.builds(
    lambda f3, rd, imm: (imm & 0xFFF) << 20 | 31 << 15 | f3 << 12 | rd << 7 | 0x03,
    st.sampled_from(sorted(LOADS)), reg, imm12,
)  # fmt: skip
store = st.builds(
    lambda f3, b, imm: (imm >> 5 & 0x7F) << 25 | b << 20 | 31 << 15 | f3 << 12 | (imm & 31) << 7
    | 0x23,
    st.sampled_from(sorted(STORES)), reg, imm12,
)  # fmt: skip
skip_next = st.builds(  # a branch over the next instruction: ends a block
    lambda f3, a, b: b << 20 | a << 15 | f3 << 12 | 8 << 7 | 0x63,
    st.sampled_from(sorted(BRANCHES)), reg, reg,
)  # fmt: skip
instruction = st.one_of(r_type(OP, 0x33), r_type(OP_32, 0x3B), i_type, load, store, skip_next)


def run(words: list[int], seeds: list[int], max_block: int) -> tuple[list[int], bytes]:
    board = BareMetalBoard(ram_size=1 << 20)
    hart = Hart(0, board, mtime=lambda: 0, max_block=max_block)
    board.hart = hart
    tail = [0x00000013, 0x0000006F]  # nop (a branch may skip it), then j .
    code = b"".join(w.to_bytes(4, "little") for w in [*words, *tail])
    board.ram[: len(code)] = code
    hart.reset(RAM_BASE)
    hart.x[1:31] = seeds
    hart.x[31] = BUFFER + 2048
    end = RAM_BASE + 4 * len(words) + 4
    for _ in range(10 * len(words) + 10):
        if hart.pc == end:
            break
        hart.run_slice(1)
    assert hart.pc == end
    return hart.x, bytes(board.ram[0x10000:0x11000])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(instruction, min_size=1, max_size=40),
    st.lists(st.sampled_from(SEEDS), min_size=30, max_size=30),
)
def test_blocks_match_single_steps(words: list[int], seeds: list[int]) -> None:
    assert run(words, seeds, 64) == run(words, seeds, 1)
