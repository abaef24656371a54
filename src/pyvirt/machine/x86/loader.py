"""What every x86 boot protocol needs: the inputs, errors, and placement helpers."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyvirt.memory import GuestMemory

from . import layout as L
from .e820 import E820Entry, E820Type
from .elf import ElfImage, Segment

PAGE = 0x1000


class BootError(ValueError):
    """The kernel, initrd or command line cannot be booted; the message says why."""


@dataclass
class BootInput:
    """Everything a loader needs, read from -kernel, -initrd and -append."""

    mem: GuestMemory
    kernel_path: str
    kernel: bytes
    cmdline: str = ""
    initrd_path: str | None = None
    initrd: bytes | None = None
    e820: list[E820Entry] = field(default_factory=list)
    rsdp_addr: int | None = None


def align_up(value: int, align: int = PAGE) -> int:
    return (value + align - 1) & ~(align - 1)


def low_ram_end(inp: BootInput) -> int:
    """End of the RAM region that starts at 1 MiB."""
    for e in inp.e820:
        if e.type == E820Type.RAM and e.addr <= L.HIMEM_START < e.end:
            return e.end
    raise BootError("guest has no RAM above 1 MiB: increase -m")


def check_fits(inp: BootInput, what: str, addr: int, size: int) -> None:
    if not inp.mem.contains(addr, size) or (addr < L.HIMEM_START and addr + size > L.EBDA_START):
        raise BootError(
            f"{what} ({size} bytes at {addr:#x}) does not fit in guest RAM: increase -m"
        )


def place_high(inp: BootInput, size: int, limit: int, what: str, floor: int) -> int:
    """Page-aligned address for `size` bytes as high as possible below `limit`, above `floor`."""
    top = min(low_ram_end(inp), limit + 1)
    addr = (top - size) & ~(PAGE - 1)
    if addr < align_up(floor):
        raise BootError(f"{what} ({size} bytes) does not fit in guest RAM: increase -m")
    return addr


def write_cmdline(inp: BootInput, text: str, limit: int | None = None) -> int:
    data = text.encode() + b"\0"
    if len(data) > (limit if limit is not None else L.CMDLINE_MAX):
        raise BootError(
            f"kernel command line is too long ({len(data) - 1} bytes, at most "
            f"{(limit if limit is not None else L.CMDLINE_MAX) - 1})"
        )
    inp.mem.write(L.CMDLINE_ADDR, data)
    return L.CMDLINE_ADDR


def load_elf_segments(inp: BootInput, elf: ElfImage) -> tuple[int, int]:
    """Copy PT_LOAD segments to their physical addresses; returns (lowest, highest end)."""
    loads = elf.loads()
    if not loads:
        raise BootError(f"{inp.kernel_path}: ELF file has no loadable segments")
    for seg in loads:
        _load_segment(inp, elf, seg)
    return min(s.paddr for s in loads), max(s.paddr + s.memsz for s in loads)


def _load_segment(inp: BootInput, elf: ElfImage, seg: Segment) -> None:
    check_fits(inp, f"{inp.kernel_path}: segment at {seg.paddr:#x}", seg.paddr, seg.memsz)
    inp.mem.write(seg.paddr, elf.segment_bytes(seg))
    if seg.memsz > seg.filesz:
        inp.mem.fill(seg.paddr + seg.filesz, seg.memsz - seg.filesz)


def elf_entry_physical(elf: ElfImage) -> int:
    """The entry point as a physical address (translating a virtual e_entry if needed)."""
    for seg in elf.loads():
        if seg.paddr <= elf.entry < seg.paddr + seg.memsz:
            return elf.entry
    for seg in elf.loads():
        if seg.vaddr <= elf.entry < seg.vaddr + seg.memsz:
            return elf.entry - seg.vaddr + seg.paddr
    return elf.entry
