"""Guest blocks -> Python functions: translation, the code cache, invalidation.

A block runs from a virtual pc to the first jump, branch or system instruction,
the end of its page, or `max_block` instructions. It is compiled into::

    def block(x, RT, WT, h, d):   # registers list, data TLBs, hart, chain budget
        r5 = x[5]; ...            # the guest registers it uses, as locals
        try:
            ...                   # one statement group per instruction
        except BaseException:     # a Trap: registers as of the faulting instruction
            x[5] = r5; ...
            raise
        x[5] = r5; ...
        h.instret += N
        return nx                 # next pc (| SYSTEM_EXIT after a system instruction)

A block with direct exits (fall-through, jal, branch targets) on its own page
ends instead with a call of its successor, found in its links `S` or linked
on first use like QEMU's goto_tb (one line: translation dominates boots)::

        return (S.get(nx) or LINK(B, nx))(x, RT, WT, h, d - 1) if d else nx

A block whose branch or jump goes back to its own start loops inside the
function (up to LOOP_LIMIT times, so interrupts stay timely): registers stay
local. The line that raised a Trap maps back to the instruction's pc.

Blocks are cached per physical page (keyed by virtual and physical pc, as the
code bakes in virtual addresses) and found through `jump_maps`, one dict per
privilege level from virtual pc to function, cleared whenever mappings change.
Links only go to blocks on the same page, so they hold under any mapping and
privilege that reaches the block; a page invalidation cuts them. Chained calls
nest, at most `d` deep per dispatch.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from types import CodeType, FunctionType
from typing import TYPE_CHECKING

from pyvirt.tcg.riscv.codegen import HELPERS, Code, generate
from pyvirt.tcg.riscv.decode import decode
from pyvirt.tcg.riscv.trap import Trap

if TYPE_CHECKING:
    from pyvirt.tcg.riscv.hart import Hart

SYSTEM_EXIT = 1 << 64
LOOP_LIMIT = 64
M64 = (1 << 64) - 1
NAMESPACE = {
    **HELPERS,
    **{
        f"U{n}": struct.Struct(f).unpack_from
        for n, f in ((1, "B"), (2, "<H"), (4, "<I"), (8, "<Q"))
    },
    **{f"P{n}": struct.Struct(f).pack_into for n, f in ((1, "B"), (2, "<H"), (4, "<I"), (8, "<Q"))},
}


@dataclass(eq=False)
class Block:
    pcs: list[int]  # virtual pc of each instruction
    first_lines: list[int]  # line of each instruction's first statement
    pages: tuple[int, ...]  # physical pages its code came from
    spans: tuple[tuple[int, int], ...]  # physical [start, end) of its code bytes
    fn: FunctionType | None = None
    source: str = field(default="", repr=False)
    exits: tuple[int, ...] = ()  # chainable targets: direct, on the block's first page
    links: dict[int, Callable[..., int]] = field(default_factory=dict, repr=False)  # `S`

    def index_of_line(self, line: int) -> int:
        return max(0, bisect.bisect_right(self.first_lines, line) - 1)


class Translator:
    def __init__(self, hart: Hart, max_block: int = 64) -> None:
        self.hart = hart
        self.max_block = max_block
        self.jump_maps: dict[int, dict[int, FunctionType]] = {0: {}, 1: {}, 3: {}}
        self.by_page: dict[int, dict[tuple[int, int], Block]] = {}
        self.by_code: dict[CodeType, Block] = {}

    # -- lookup and invalidation

    def lookup(self, vpc: int) -> FunctionType:
        """The function for the block at `vpc` (translated now if needed); Trap on fetch faults."""
        hart = self.hart
        if vpc & 1:
            raise Trap(0, vpc)
        first, ppn = hart.mmu.fetch16(vpc)
        key = (vpc, (ppn << 12) | (vpc & 4095))
        block = self.by_page.get(ppn, {}).get(key)
        if block is None:
            block = self.translate(vpc, first, ppn)
            for page in block.pages:
                self.by_page.setdefault(page, {})[key] = block
                if page not in hart.mmu.code_pages:
                    hart.mmu.code_pages.add(page)
                    for tlb in hart.mmu.write_tlb.values():
                        tlb.clear()
        assert block.fn is not None
        self.jump_maps[hart.priv][vpc] = block.fn
        return block.fn

    def link(self, block: Block, target: int) -> Callable[..., int]:
        """Link `block`'s exit to `target` (goto_tb): its successor's function, if it may.

        Only a successor wholly on the block's own first page is linked: any mapping
        that reaches the block reaches it too, and invalidating that page drops (and
        unlinks) both, so links survive `unmap` and need cutting only in
        `invalidate_page`. Otherwise the link is a stub handing `target` back to the
        dispatch loop.
        """
        fn: Callable[..., int] = _exit_to(target)
        if target in block.exits:
            try:
                fn = self.lookup(target)
            except Trap:
                return fn  # the dispatch loop raises it again, precisely
            if self.by_code[fn.__code__].pages != block.pages[:1]:
                fn = _exit_to(target)
        block.links[target] = fn
        return fn

    def block_of(self, trap: BaseException) -> tuple[Block, int] | None:
        """(block, instruction index) where `trap` was raised, if inside translated code.

        Chained blocks nest, so the innermost block frame is the one that raised.
        """
        found = None
        tb = trap.__traceback__
        while tb is not None:
            block = self.by_code.get(tb.tb_frame.f_code)
            if block is not None:
                found = block, block.index_of_line(tb.tb_lineno)
            tb = tb.tb_next
        return found

    def code_written(self, paddr: int, size: int) -> None:
        """A store to a code page: drop the page's blocks if it hit translated bytes."""
        ppn = paddr >> 12
        for block in self.by_page.get(ppn, {}).values():
            if any(start < paddr + size and paddr < end for start, end in block.spans):
                self.invalidate_page(ppn)
                return

    def unmap(self) -> None:
        """Virtual-to-physical mappings changed: forget the jump maps (blocks stay cached)."""
        for jump_map in self.jump_maps.values():
            jump_map.clear()

    def invalidate_page(self, ppn: int) -> None:
        """Code on page `ppn` was overwritten: drop its blocks."""
        blocks = self.by_page.pop(ppn, None)
        self.hart.mmu.code_pages.discard(ppn)
        if blocks:
            for block in blocks.values():
                block.links.clear()
                if block.fn is not None:
                    self.by_code.pop(block.fn.__code__, None)
                for page in block.pages:
                    if page != ppn and page in self.by_page:
                        self.by_page[page] = {
                            k: b for k, b in self.by_page[page].items() if b is not block
                        }
            self.unmap()

    def invalidate_all(self) -> None:
        """fence.i: forget every translation."""
        for ppn in list(self.by_page):
            self.invalidate_page(ppn)
        self.unmap()

    # -- translation

    def translate(self, vpc: int, first: int, ppn: int) -> Block:
        codes: list[tuple[int, Code]] = []
        registers: set[int] = set()
        pages = [ppn]
        start = (ppn << 12) | (vpc & 4095)
        spans = [(start, start)]
        pc, halfword = vpc, first
        while True:
            raw = halfword
            if raw & 3 == 3:
                try:
                    upper, upper_page = self.hart.mmu.fetch16((pc + 2) & M64)
                except Trap:
                    if not codes:
                        raise
                    break  # fetched when this instruction runs on its own
                raw |= upper << 16
                if upper_page != ppn:
                    pages.append(upper_page)
                    spans.append((upper_page << 12, (upper_page << 12) + 2))
            insn = decode(raw)
            code = generate(insn, pc) if insn is not None else None
            if code is None:
                tval = raw if raw & 3 == 3 else raw & 0xFFFF
                code = Code([f"h.illegal({tval:#x})"], 0, True)
            codes.append((pc, code))
            if insn is not None:
                registers |= {insn.rd, insn.rs1, insn.rs2}
            pc = (pc + (insn.size if insn else 2 if raw & 3 != 3 else 4)) & M64
            spans[0] = (start, min(start + ((pc - vpc) & M64), (ppn + 1) << 12))
            if code.ends_block or len(codes) >= self.max_block or not pc & 4095:
                break
            try:
                halfword, _ = self.hart.mmu.fetch16(pc)
            except Trap:
                break
        used = sorted(registers - {0})
        return self._compile(vpc, codes, pc, used, tuple(pages), tuple(spans))

    def _compile(
        self,
        vpc: int,
        codes: list[tuple[int, Code]],
        end: int,
        used: list[int],
        pages: tuple[int, ...],
        spans: tuple[tuple[int, int], ...],
    ) -> Block:
        last = codes[-1][1]
        loops = self.max_block > 1 and last.taken == vpc and last.cond is not None
        written = sorted({c.writes for _, c in codes} - {0})
        lines = ["def block(x, RT, WT, h, d):"]
        lines += [f"    r{n} = x[{n}]" for n in used]
        if loops:
            lines.append("    it = 0")
        lines.append("    try:")
        indent = "            " if loops else "        "
        if loops:
            lines.append("        while True:")
        first_lines = []
        for _, code in codes:
            first_lines.append(len(lines) + 1)
            lines += [indent + line for line in code.lines] or [indent + "pass"]
        if not last.ends_block:
            lines.append(f"{indent}nx = {end:#x}")
        n = len(codes)
        if loops:
            lines.append(f"{indent}if {last.cond} and it < {LOOP_LIMIT}:")
            lines.append(f"{indent}    it += 1")
            lines.append(f"{indent}    continue")
            lines.append(f"{indent}break")
        writeback = [f"        x[{n}] = r{n}" for n in written]
        lines.append("    except BaseException:")
        lines += writeback
        if loops:
            lines.append(f"        h.instret += it * {n}")
        lines.append("        raise")
        lines += [line[4:] for line in writeback]
        lines.append(f"    h.instret += {f'(it + 1) * {n}' if loops else n}")
        exits = self._exits(vpc, last, end, loops)
        if exits:
            lines.append("    return (S.get(nx) or LINK(B, nx))(x, RT, WT, h, d - 1) if d else nx")
        else:
            lines.append(f"    return nx{' | SYSTEM_EXIT' if last.system else ''}")
        source = "\n".join(lines) + "\n"
        links: dict[int, Callable[..., int]] = {}
        namespace = dict(NAMESPACE, SYSTEM_EXIT=SYSTEM_EXIT, LINK=self.link, S=links)
        exec(compile(source, f"<rv block {vpc:#x}>", "exec"), namespace)
        pcs = [pc for pc, _ in codes]
        block = Block(pcs, first_lines, pages, spans, namespace["block"], source, exits, links)
        namespace["B"] = block
        assert block.fn is not None
        self.by_code[block.fn.__code__] = block
        return block

    @staticmethod
    def _exits(vpc: int, last: Code, end: int, loops: bool) -> tuple[int, ...]:
        """The direct successors a block may chain to: fall-through, jal and branch targets
        on its own page. Not after a system instruction (the dispatch loop must look
        again), nor a loop's own start (it already ran LOOP_LIMIT times)."""
        if last.system:
            return ()
        if not last.ends_block:
            targets = [end]
        elif last.cond == "True":
            targets = [last.taken]
        elif last.cond == "c":
            targets = [last.taken, end]
        else:
            return ()  # jalr, illegal instruction
        own_page = (t for t in targets if t is not None and t >> 12 == vpc >> 12)
        return tuple(dict.fromkeys(t for t in own_page if not (loops and t == vpc)))


def _exit_to(target: int) -> Callable[..., int]:
    """A link that is no shortcut: it returns `target` to the dispatch loop."""

    def exit_to(x: list[int], rt: object, wt: object, h: Hart, d: int) -> int:
        return target

    return exit_to
