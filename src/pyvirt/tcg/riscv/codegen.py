"""Python source for one instruction, as a statement list inside a translated block.

Registers live in locals `r1`..`r31` (x0 reads as the literal 0, writes to it go
to `_`); values are unsigned 64-bit ints. Memory goes through the data TLB
dicts `RT`/`WT` (virtual page -> memoryview of a RAM page) with struct
packers, else through the hart's slow path `h.load`/`h.store`. The masks are
literals so that CPython folds constant expressions at compile time.
"""

from __future__ import annotations

from typing import NamedTuple

from pyvirt.tcg.riscv.decode import Insn

M = 0xFFFFFFFFFFFFFFFF
S = 1 << 63
MASK = "0xFFFFFFFFFFFFFFFF"
SIGN = "0x8000000000000000"

# Three-operand ALU: {a} is rs1, {b} rs2 or the immediate.
ALU = {
    "add": f"({{a}} + {{b}}) & {MASK}",
    "sub": f"({{a}} - {{b}}) & {MASK}",
    "sll": f"({{a}} << ({{b}} & 63)) & {MASK}",
    "slt": f"int(({{a}} ^ {SIGN}) < ({{b}} ^ {SIGN}))",
    "sltu": "int({a} < {b})",
    "xor": "{a} ^ {b}",
    "srl": "{a} >> ({b} & 63)",
    "sra": f"(({{a}} ^ {SIGN}) - {SIGN} >> ({{b}} & 63)) & {MASK}",
    "or": "{a} | {b}",
    "and": "{a} & {b}",
    "mul": f"({{a}} * {{b}}) & {MASK}",
    "mulh": f"(({{a}} ^ {SIGN}) - {SIGN}) * (({{b}} ^ {SIGN}) - {SIGN}) >> 64 & {MASK}",
    "mulhsu": f"(({{a}} ^ {SIGN}) - {SIGN}) * {{b}} >> 64 & {MASK}",
    "mulhu": "{a} * {b} >> 64",
    "div": "DIV({a}, {b})",
    "divu": "DIVU({a}, {b})",
    "rem": "REM({a}, {b})",
    "remu": "REMU({a}, {b})",
}
SX32 = f"(({{}}) & 0xFFFFFFFF ^ 0x80000000) - 0x80000000 & {MASK}"
ALU32 = {
    "addw": "{a} + {b}",
    "subw": "{a} - {b}",
    "sllw": "{a} << ({b} & 31)",
    "srlw": "({a} & 0xFFFFFFFF) >> ({b} & 31)",
    "sraw": "(({a} & 0xFFFFFFFF ^ 0x80000000) - 0x80000000) >> ({b} & 31)",
    "mulw": "{a} * {b}",
    "divw": "DIVW({a}, {b})",
    "divuw": "DIVU({a} & 0xFFFFFFFF, {b} & 0xFFFFFFFF)",
    "remw": "REMW({a}, {b})",
    "remuw": "REMU({a} & 0xFFFFFFFF, {b} & 0xFFFFFFFF)",
}
IMMEDIATE = {  # I-type ALU ops: the register-register template with {b} = imm
    "addi": "add", "slti": "slt", "sltiu": "sltu", "xori": "xor", "ori": "or",
    "andi": "and", "slli": "sll", "srli": "srl", "srai": "sra",
    "addiw": "addw", "slliw": "sllw", "srliw": "srlw", "sraiw": "sraw",
}  # fmt: skip
BRANCH = {
    "beq": "{a} == {b}",
    "bne": "{a} != {b}",
    "blt": f"({{a}} ^ {SIGN}) < ({{b}} ^ {SIGN})",
    "bge": f"({{a}} ^ {SIGN}) >= ({{b}} ^ {SIGN})",
    "bltu": "{a} < {b}",
    "bgeu": "{a} >= {b}",
}
LOAD = {  # op: (size, sign bit or 0)
    "lb": (1, 0x80), "lh": (2, 0x8000), "lw": (4, 0x80000000), "ld": (8, 0),
    "lbu": (1, 0), "lhu": (2, 0), "lwu": (4, 0),
}  # fmt: skip
STORE = {"sb": 1, "sh": 2, "sw": 4, "sd": 8}
CSR_KIND = {"csrrw": 0, "csrrs": 1, "csrrc": 2, "csrrwi": 0, "csrrsi": 1, "csrrci": 2}
SYSTEM = ("ecall", "ebreak", "mret", "sret", "wfi", "sfence.vma", "fence.i")


class Code(NamedTuple):
    """An instruction's statements and how control leaves it."""

    lines: list[str]
    writes: int  # destination register (0: none)
    ends_block: bool  # the statements set `nx`, the next pc
    taken: int | None = None  # direct target of a branch or jal (for loop detection)
    cond: str | None = None  # a branch's condition (taken when true)
    system: bool = False  # may change privilege, CSRs or mappings: dispatch must re-read them


def reg(n: int) -> str:
    return f"r{n}" if n else "0"


def dest(n: int) -> str:
    return f"r{n}" if n else "_"


def generate(insn: Insn, pc: int) -> Code | None:
    """Statements for `insn` at virtual address `pc`; None for the illegal-instruction path."""
    op, a, b, d = insn.op, reg(insn.rs1), reg(insn.rs2), dest(insn.rd)
    npc = (pc + insn.size) & M
    imm = insn.imm & M
    if op in ALU:
        return Code([f"{d} = {ALU[op].format(a=a, b=b)}"], insn.rd, False)
    if op in ALU32:
        return Code([f"{d} = {SX32.format(ALU32[op].format(a=a, b=b))}"], insn.rd, False)
    if op in IMMEDIATE:
        base = IMMEDIATE[op]
        template = ALU[base] if base in ALU else SX32.format(ALU32[base])
        return Code([f"{d} = {template.format(a=a, b=hex(imm))}"], insn.rd, False)
    if op == "lui":
        return Code([f"{d} = {hex(imm)}"], insn.rd, False)
    if op == "auipc":
        return Code([f"{d} = {hex((pc + imm) & M)}"], insn.rd, False)
    if op == "jal":
        target = (pc + imm) & M
        return Code([f"{d} = {hex(npc)}", f"nx = {hex(target)}"], insn.rd, True, target, "True")
    if op == "jalr":
        lines = [f"nx = ({a} + {hex(imm)}) & 0xFFFFFFFFFFFFFFFE", f"{d} = {hex(npc)}"]
        return Code(lines, insn.rd, True)
    if op in BRANCH:
        target = (pc + imm) & M
        cond = BRANCH[op].format(a=a, b=b)
        lines = [f"c = {cond}", f"nx = {hex(target)} if c else {hex(npc)}"]
        return Code(lines, 0, True, target, "c")
    if op in LOAD:
        return Code(_load(insn, a, d, imm), insn.rd, False)
    if op in STORE:
        return Code(_store(STORE[op], a, b, imm), 0, False)
    if op[:2] in ("lr", "sc") or op.startswith("amo"):
        name, width = op.split(".")
        size = 4 if width == "w" else 8
        return Code([f"{d} = h.atomic({name!r}, {a}, {size}, {b})"], insn.rd, False)
    if op == "fence":
        return Code([], 0, False)
    if op in CSR_KIND:
        source = str(insn.rs1) if op.endswith("i") else a
        writes = bool(insn.rs1) or CSR_KIND[op] == 0
        call = f"h.csr_access({insn.imm}, {CSR_KIND[op]}, {source}, {writes}, {insn.raw})"
        return Code([f"{d} = {call}", f"nx = {hex(npc)}"], insn.rd, True, system=True)
    if op in SYSTEM:
        method = op.replace(".", "_")
        return Code([f"nx = h.{method}({hex(pc)}, {a}, {b}, {insn.raw})"], 0, True, system=True)
    return None


def _load(insn: Insn, a: str, d: str, imm: int) -> list[str]:
    size, sign = LOAD[insn.op]
    aligned = f" and not ad & {size - 1}" if size > 1 else ""
    lines = [
        f"ad = ({a} + {hex(imm)}) & {MASK}",
        "e = RT.get(ad >> 12)",
        f"t = U{size}(e, ad & 4095)[0] if e is not None{aligned} else h.load(ad, {size})",
    ]
    value = f"((t ^ {hex(sign)}) - {hex(sign)}) & {MASK}" if sign else "t"
    return [*lines, f"{d} = {value}"]


def _store(size: int, a: str, b: str, imm: int) -> list[str]:
    aligned = f" and not ad & {size - 1}" if size > 1 else ""
    value = b if size == 8 else f"{b} & {hex((1 << (8 * size)) - 1)}"
    return [
        f"ad = ({a} + {hex(imm)}) & {MASK}",
        "e = WT.get(ad >> 12)",
        f"if e is not None{aligned}: P{size}(e, ad & 4095, {value})",
        f"else: h.store(ad, {size}, {b})",
    ]


def _sext(value: int, bits: int) -> int:
    sign = 1 << (bits - 1)
    return (value ^ sign) - sign


def _div(a: int, b: int, bits: int) -> int:
    """Signed division truncating toward zero, with RISC-V's results for /0 and overflow."""
    mask = (1 << bits) - 1
    a, b = _sext(a & mask, bits), _sext(b & mask, bits)
    if b == 0:
        return M
    q = abs(a) // abs(b)
    return (-q if (a < 0) != (b < 0) else q) & M


def _rem(a: int, b: int, bits: int) -> int:
    mask = (1 << bits) - 1
    a, b = _sext(a & mask, bits), _sext(b & mask, bits)
    if b == 0:
        return a & M
    r = abs(a) % abs(b)
    return (-r if a < 0 else r) & M


def _divu(a: int, b: int) -> int:
    return a // b if b else M


def _remu(a: int, b: int) -> int:
    return a % b if b else a


HELPERS = {
    "DIV": lambda a, b: _div(a, b, 64),
    "REM": lambda a, b: _rem(a, b, 64),
    "DIVW": lambda a, b: _div(a, b, 32),
    "REMW": lambda a, b: _rem(a, b, 32),
    "DIVU": _divu,
    "REMU": _remu,
}
