"""Instruction decoder: 32-bit and compressed encodings into one `Insn` form.

Compressed instructions are expanded to their 32-bit equivalent (same `op`,
`size` 2), so the translator only knows the base instruction set.
"""

from __future__ import annotations

from typing import NamedTuple


class Insn(NamedTuple):
    op: str
    rd: int = 0
    rs1: int = 0
    rs2: int = 0
    imm: int = 0  # sign-extended immediate, CSR number, or shift amount
    size: int = 4
    raw: int = 0


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value & (sign - 1)) - (value & sign)


def _field(raw: int, layout: tuple[tuple[int, int, int], ...]) -> int:
    """Gather scattered immediate bits: each (hi, lo, to) moves raw[hi:lo] to bit `to`."""
    value = 0
    for hi, lo, to in layout:
        value |= ((raw >> lo) & ((1 << (hi - lo + 1)) - 1)) << to
    return value


# 32-bit encodings, keyed by what identifies them.
BRANCHES = {0: "beq", 1: "bne", 4: "blt", 5: "bge", 6: "bltu", 7: "bgeu"}
LOADS = {0: "lb", 1: "lh", 2: "lw", 3: "ld", 4: "lbu", 5: "lhu", 6: "lwu"}
STORES = {0: "sb", 1: "sh", 2: "sw", 3: "sd"}
OP_IMM = {0: "addi", 2: "slti", 3: "sltiu", 4: "xori", 6: "ori", 7: "andi"}
OP = {  # (funct7, funct3)
    (0x00, 0): "add", (0x20, 0): "sub", (0x00, 1): "sll", (0x00, 2): "slt",
    (0x00, 3): "sltu", (0x00, 4): "xor", (0x00, 5): "srl", (0x20, 5): "sra",
    (0x00, 6): "or", (0x00, 7): "and",
    (0x01, 0): "mul", (0x01, 1): "mulh", (0x01, 2): "mulhsu", (0x01, 3): "mulhu",
    (0x01, 4): "div", (0x01, 5): "divu", (0x01, 6): "rem", (0x01, 7): "remu",
}  # fmt: skip
OP_32 = {
    (0x00, 0): "addw", (0x20, 0): "subw", (0x00, 1): "sllw", (0x00, 5): "srlw",
    (0x20, 5): "sraw", (0x01, 0): "mulw", (0x01, 4): "divw", (0x01, 5): "divuw",
    (0x01, 6): "remw", (0x01, 7): "remuw",
}  # fmt: skip
AMO = {
    0x02: "lr", 0x03: "sc", 0x01: "amoswap", 0x00: "amoadd", 0x04: "amoxor",
    0x0C: "amoand", 0x08: "amoor", 0x10: "amomin", 0x14: "amomax", 0x18: "amominu",
    0x1C: "amomaxu",
}  # fmt: skip
CSR_OPS = {1: "csrrw", 2: "csrrs", 3: "csrrc", 5: "csrrwi", 6: "csrrsi", 7: "csrrci"}
SYSTEM = {
    0x00000073: "ecall", 0x00100073: "ebreak", 0x10200073: "sret",
    0x30200073: "mret", 0x10500073: "wfi",
}  # fmt: skip

I_IMM = ((31, 20, 0),)
S_IMM = ((31, 25, 5), (11, 7, 0))
B_IMM = ((31, 31, 12), (7, 7, 11), (30, 25, 5), (11, 8, 1))
J_IMM = ((31, 31, 20), (19, 12, 12), (20, 20, 11), (30, 21, 1))


def decode32(raw: int) -> Insn | None:
    """Decode a 32-bit instruction; None if it is illegal or unimplemented."""
    opcode = raw & 0x7F
    rd, f3, rs1, rs2 = (raw >> 7) & 31, (raw >> 12) & 7, (raw >> 15) & 31, (raw >> 20) & 31
    f7 = raw >> 25
    imm_i = _sext(raw >> 20, 12)
    if opcode == 0x37:
        return Insn("lui", rd, imm=_sext(raw & 0xFFFFF000, 32), raw=raw)
    if opcode == 0x17:
        return Insn("auipc", rd, imm=_sext(raw & 0xFFFFF000, 32), raw=raw)
    if opcode == 0x6F:
        return Insn("jal", rd, imm=_sext(_field(raw, J_IMM), 21), raw=raw)
    if opcode == 0x67 and f3 == 0:
        return Insn("jalr", rd, rs1, imm=imm_i, raw=raw)
    if opcode == 0x63 and f3 in BRANCHES:
        return Insn(BRANCHES[f3], 0, rs1, rs2, _sext(_field(raw, B_IMM), 13), raw=raw)
    if opcode == 0x03 and f3 in LOADS:
        return Insn(LOADS[f3], rd, rs1, imm=imm_i, raw=raw)
    if opcode == 0x23 and f3 in STORES:
        return Insn(STORES[f3], 0, rs1, rs2, _sext(_field(raw, S_IMM), 12), raw=raw)
    if opcode == 0x13:
        if f3 in OP_IMM:
            return Insn(OP_IMM[f3], rd, rs1, imm=imm_i, raw=raw)
        shift = {(1, 0x00): "slli", (5, 0x00): "srli", (5, 0x10): "srai"}.get((f3, raw >> 26))
        return shift and Insn(shift, rd, rs1, imm=(raw >> 20) & 63, raw=raw)
    if opcode == 0x1B:
        if f3 == 0:
            return Insn("addiw", rd, rs1, imm=imm_i, raw=raw)
        shift = {(1, 0x00): "slliw", (5, 0x00): "srliw", (5, 0x20): "sraiw"}.get((f3, f7))
        return shift and Insn(shift, rd, rs1, imm=rs2, raw=raw)
    if opcode in (0x33, 0x3B):
        name = (OP if opcode == 0x33 else OP_32).get((f7, f3))
        return name and Insn(name, rd, rs1, rs2, raw=raw)
    if opcode == 0x0F and f3 in (0, 1):
        return Insn("fence" if f3 == 0 else "fence.i", raw=raw)
    if opcode == 0x2F and f3 in (2, 3):
        name = AMO.get(raw >> 27)
        if name is None or (name == "lr" and rs2):
            return None
        return Insn(f"{name}.{'w' if f3 == 2 else 'd'}", rd, rs1, rs2, raw=raw)
    if opcode == 0x73:
        if f3 in CSR_OPS:
            return Insn(CSR_OPS[f3], rd, rs1, imm=raw >> 20, raw=raw)
        if raw in SYSTEM:
            return Insn(SYSTEM[raw], raw=raw)
        if f3 == 0 and f7 == 0x09 and rd == 0:
            return Insn("sfence.vma", 0, rs1, rs2, raw=raw)
    return None


# Compressed immediates: (hi, lo, to) layouts from the RVC chapter.
CI = ((12, 12, 5), (6, 2, 0))
CJ = ((12, 12, 11), (11, 11, 4), (10, 9, 8), (8, 8, 10), (7, 7, 6), (6, 6, 7), (5, 3, 1), (2, 2, 5))
CB = ((12, 12, 8), (11, 10, 3), (6, 5, 6), (4, 3, 1), (2, 2, 5))
ADDI4SPN = ((12, 11, 4), (10, 7, 6), (6, 6, 2), (5, 5, 3))
ADDI16SP = ((12, 12, 9), (6, 6, 4), (5, 5, 6), (4, 3, 7), (2, 2, 5))
CL_W = ((12, 10, 3), (6, 6, 2), (5, 5, 6))
CL_D = ((12, 10, 3), (6, 5, 6))
LWSP = ((12, 12, 5), (6, 4, 2), (3, 2, 6))
LDSP = ((12, 12, 5), (6, 5, 3), (4, 2, 6))
SWSP = ((12, 9, 2), (8, 7, 6))
SDSP = ((12, 10, 3), (9, 7, 6))
C_ARITH = {0: "sub", 1: "xor", 2: "or", 3: "and", 4: "subw", 5: "addw"}


def decode16(raw: int) -> Insn | None:
    """Expand a compressed instruction; None if it is illegal (or F/D, unimplemented)."""
    quadrant, f3 = raw & 3, raw >> 13
    rd, rs2 = (raw >> 7) & 31, (raw >> 2) & 31
    rdp, rs2p = ((raw >> 7) & 7) + 8, ((raw >> 2) & 7) + 8
    ci = _sext(_field(raw, CI), 6)

    def c(op: str, rd: int = 0, rs1: int = 0, rs2: int = 0, imm: int = 0) -> Insn:
        return Insn(op, rd, rs1, rs2, imm, 2, raw)

    if quadrant == 0:
        if f3 == 0:
            imm = _field(raw, ADDI4SPN)
            return c("addi", rs2p, 2, imm=imm) if imm else None
        kind = {2: ("lw", CL_W), 3: ("ld", CL_D), 6: ("sw", CL_W), 7: ("sd", CL_D)}.get(f3)
        if kind is None:
            return None
        op, layout = kind
        if f3 < 4:
            return c(op, rs2p, rdp, imm=_field(raw, layout))
        return c(op, 0, rdp, rs2p, _field(raw, layout))
    if quadrant == 1:
        if f3 == 0:
            return c("addi", rd, rd, imm=ci)
        if f3 == 1:
            return c("addiw", rd, rd, imm=ci) if rd else None
        if f3 == 2:
            return c("addi", rd, 0, imm=ci)
        if f3 == 3:
            if rd == 2:
                imm = _sext(_field(raw, ADDI16SP), 10)
                return c("addi", 2, 2, imm=imm) if imm else None
            return c("lui", rd, imm=ci << 12) if ci else None
        if f3 == 4:
            kind = (raw >> 10) & 3
            shamt = _field(raw, ((12, 12, 5), (6, 2, 0)))
            if kind < 2:
                return c(("srli", "srai")[kind], rdp, rdp, imm=shamt)
            if kind == 2:
                return c("andi", rdp, rdp, imm=ci)
            op = C_ARITH.get(((raw >> 10) & 4) | ((raw >> 5) & 3))
            return op and c(op, rdp, rdp, rs2p)
        if f3 == 5:
            return c("jal", 0, imm=_sext(_field(raw, CJ), 12))
        return c(("beq", "bne")[f3 - 6], 0, rdp, 0, _sext(_field(raw, CB), 9))
    if f3 == 0:
        return c("slli", rd, rd, imm=_field(raw, ((12, 12, 5), (6, 2, 0))))
    if f3 in (2, 3):
        return c(("lw", "ld")[f3 - 2], rd, 2, imm=_field(raw, (LWSP, LDSP)[f3 - 2])) if rd else None
    if f3 in (6, 7):
        return c(("sw", "sd")[f3 - 6], 0, 2, rs2, _field(raw, (SWSP, SDSP)[f3 - 6]))
    if f3 == 4:
        if not raw & 0x1000:
            if rs2:
                return c("add", rd, 0, rs2)
            return c("jalr", 0, rd) if rd else None
        if rs2:
            return c("add", rd, rd, rs2)
        return c("jalr", 1, rd) if rd else c("ebreak")
    return None


def decode(raw: int) -> Insn | None:
    """Decode the instruction whose low bits are in `raw` (32 bits are enough)."""
    if raw & 3 == 3:
        return decode32(raw & 0xFFFFFFFF)
    return decode16(raw & 0xFFFF)
