"""Choose the boot protocol from the file given to -kernel, as QEMU does.

Order: a bzImage setup header, then a multiboot header, then an ELF with a
PVH note.
"""

from __future__ import annotations

from pathlib import Path

from . import bzimage, multiboot, pvh
from .elf import ElfError, is_elf, parse
from .entry import EntryState
from .loader import BootError, BootInput


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise BootError(f"could not open {what} '{path}': {e.strerror}") from None


def load_kernel(inp: BootInput, initrd_spec: str | None) -> EntryState:
    """Load `inp.kernel` (already read) and return the boot CPU's entry state."""
    data = inp.kernel
    if bzimage.is_bzimage(data):
        _read_initrd(inp, initrd_spec)
        return bzimage.load(inp)
    header = multiboot.find_header(data)
    if header is not None:
        modules = multiboot.read_modules(initrd_spec) if initrd_spec else []
        return multiboot.load(inp, header, modules)
    if is_elf(data):
        try:
            elf = parse(data, inp.kernel_path)
        except ElfError as e:
            raise BootError(str(e)) from None
        if pvh.pvh_entry(elf) is None:
            raise BootError(
                f"{inp.kernel_path}: ELF kernel has neither a PVH entry note "
                "(XEN_ELFNOTE_PHYS32_ENTRY) nor a multiboot header"
            )
        _read_initrd(inp, initrd_spec)
        return pvh.load(inp, elf)
    raise BootError(f"{inp.kernel_path}: not a Linux bzImage, multiboot or PVH ELF kernel")


def _read_initrd(inp: BootInput, spec: str | None) -> None:
    if spec:
        inp.initrd_path = spec
        inp.initrd = _read(spec, "initial ram disk")


def read_kernel(path: str) -> bytes:
    return _read(path, "kernel file")
