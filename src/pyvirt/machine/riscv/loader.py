"""Firmware, kernel and initrd placement in RAM, as QEMU's virt board does it.

`-bios default` is OpenSBI's fw_dynamic at the start of RAM; the kernel goes
at the next 2 MiB boundary after the firmware (0x80200000, where OpenSBI
jumps), or at the start of RAM with `-bios none`; an ELF goes where its
program headers say. The initrd sits min(RAM/2, 128 MiB) after the kernel's
entry and the device tree 2 MiB-aligned near the top of (the first 3 GiB
of) RAM.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyvirt.machine.x86.elf import EM_RISCV, ElfError, is_elf, parse
from pyvirt.machine.x86.loader import BootError
from pyvirt.memory import GuestMemory

from . import layout as L

DEFAULT_BIOS = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
MiB = 1 << 20
LOWMEM_END = 3 << 30  # QEMU keeps the device tree below 3 GiB


@dataclass(frozen=True)
class BootPlan:
    entry: int  # where the reset vector jumps: the firmware, or the kernel with -bios none
    kernel_entry: int  # the firmware's next stage (0: none)
    initrd: tuple[int, int] | None  # start, end
    fdt: int  # where the device tree goes


def read_file(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BootError(f"could not load {what} '{path}': {e.strerror}") from None


def align_up(value: int, align: int) -> int:
    return (value + align - 1) & ~(align - 1)


class _Placer:
    """Writes images into RAM, refusing any that fall outside it or overlap another."""

    def __init__(self, mem: GuestMemory) -> None:
        self.mem = mem
        self.used: list[tuple[int, int, str]] = []

    def reserve(self, start: int, length: int, what: str) -> None:
        if not self.mem.contains(start, length) or start < L.RAM:
            raise BootError(f"{what} ({length} bytes at {start:#x}) does not fit in RAM")
        for s, e, other in self.used:
            if start < e and s < start + length:
                raise BootError(f"{what} at {start:#x} overlaps the {other} at {s:#x}")
        self.used.append((start, start + length, what))

    def put(self, start: int, data: bytes, what: str) -> None:
        self.reserve(start, len(data), what)
        self.mem.write(start, data)

    def image(self, data: bytes, default_start: int, what: str) -> tuple[int, int]:
        """Load an ELF by its program headers or a flat image at `default_start`;
        returns (entry, end)."""
        if not is_elf(data):
            self.put(default_start, data, what)
            return default_start, default_start + len(data)
        try:
            elf = parse(data, what, machines=(EM_RISCV,), arch="a RISC-V")
        except ElfError as e:
            raise BootError(str(e)) from None
        loads = elf.loads()
        if not loads:
            raise BootError(f"{what} has no loadable segments")
        entry = elf.entry
        for seg in loads:
            self.reserve(seg.paddr, seg.memsz, what)
            self.mem.fill(seg.paddr, seg.memsz)
            self.mem.write(seg.paddr, elf.segment_bytes(seg))
            if seg.vaddr <= elf.entry < seg.vaddr + seg.memsz:
                entry = elf.entry - seg.vaddr + seg.paddr  # a virtual entry, made physical
        return entry, max(seg.paddr + seg.memsz for seg in loads)


def load(
    mem: GuestMemory,
    ram_size: int,
    *,
    bios: str | None,
    kernel: str | None,
    initrd: str | None,
    fdt_size: int,
) -> BootPlan:
    """Place the firmware (None: the default), the kernel and the initrd in RAM."""
    placer = _Placer(mem)
    entry = kernel_entry = 0
    firmware_end = L.RAM
    if bios != "none":
        path = DEFAULT_BIOS if bios in (None, "default") else bios
        entry, firmware_end = placer.image(read_file(path, "firmware"), L.RAM, "firmware")
    if kernel is not None:
        start = align_up(firmware_end, L.KERNEL_ALIGN_64)
        kernel_entry, _ = placer.image(read_file(kernel, "kernel"), start, "kernel")
        if bios == "none":
            entry = kernel_entry
    elif bios == "none":
        raise BootError("-bios none needs -kernel: there is nothing to run")
    initrd_range = None
    if initrd is not None:
        if kernel is None:
            raise BootError("-initrd needs -kernel")
        data = read_file(initrd, "initrd")
        start = kernel_entry + min(ram_size // 2, 128 * MiB)
        placer.put(start, data, "initrd")
        initrd_range = (start, start + len(data))
    top = min(L.RAM + ram_size, LOWMEM_END)
    fdt = (top - fdt_size) & ~(L.FDT_ALIGN - 1)
    placer.reserve(fdt, fdt_size, "device tree")
    return BootPlan(entry, kernel_entry, initrd_range, fdt)
