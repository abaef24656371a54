"""A small, strict ELF reader for kernels: program headers and notes, 32- and 64-bit."""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB = 1
EM_386, EM_X86_64, EM_RISCV = 3, 62, 243
PT_LOAD, PT_NOTE = 1, 4


class ElfError(ValueError):
    """The file is not a usable ELF image; the message says why."""


@dataclass(frozen=True)
class Segment:
    type: int
    offset: int
    vaddr: int
    paddr: int
    filesz: int
    memsz: int


@dataclass(frozen=True)
class Note:
    name: bytes
    type: int
    desc: bytes


@dataclass
class ElfImage:
    data: bytes
    is64: bool
    machine: int
    entry: int
    segments: list[Segment]

    def loads(self) -> list[Segment]:
        return [s for s in self.segments if s.type == PT_LOAD and s.memsz]

    def segment_bytes(self, seg: Segment) -> bytes:
        return self.data[seg.offset : seg.offset + seg.filesz]

    def notes(self) -> list[Note]:
        found = []
        for seg in self.segments:
            if seg.type == PT_NOTE:
                found.extend(_parse_notes(self.data[seg.offset : seg.offset + seg.filesz]))
        return found


def is_elf(data: bytes) -> bool:
    return data[:4] == ELF_MAGIC


def parse(
    data: bytes,
    what: str = "kernel",
    *,
    machines: tuple[int, ...] = (EM_386, EM_X86_64),
    arch: str = "an x86",
) -> ElfImage:
    if len(data) < 52 or not is_elf(data):
        raise ElfError(f"{what} is not an ELF file")
    cls, order = data[4], data[5]
    if order != ELFDATA2LSB:
        raise ElfError(f"{what} is a big-endian ELF file")
    if cls == ELFCLASS64:
        if len(data) < 64:
            raise ElfError(f"{what}: truncated ELF header")
        (machine, entry, phoff) = struct.unpack_from("<18xH4xQQ", data, 0)
        phentsize, phnum = struct.unpack_from("<HH", data, 54)
        fmt, size = "<IIQQQQQQ", 56
    elif cls == ELFCLASS32:
        (machine, entry, phoff) = struct.unpack_from("<18xH4xII", data, 0)
        phentsize, phnum = struct.unpack_from("<HH", data, 42)
        fmt, size = "<IIIIIIII", 32
    else:
        raise ElfError(f"{what}: unknown ELF class {cls}")
    if machine not in machines:
        raise ElfError(f"{what} is not {arch} ELF file (e_machine={machine})")
    if phnum and phentsize < size:
        raise ElfError(f"{what}: program header entries too small ({phentsize} bytes)")
    if phoff + phnum * phentsize > len(data):
        raise ElfError(f"{what}: program headers lie beyond the end of the file")
    segments = []
    for i in range(phnum):
        fields = struct.unpack_from(fmt, data, phoff + i * phentsize)
        if cls == ELFCLASS64:
            p_type, _flags, off, vaddr, paddr, filesz, memsz, _align = fields
        else:
            p_type, off, vaddr, paddr, filesz, memsz, _flags, _align = fields
        if p_type in (PT_LOAD, PT_NOTE) and off + filesz > len(data):
            raise ElfError(f"{what}: segment {i} lies beyond the end of the file")
        if p_type == PT_LOAD and filesz > memsz:
            raise ElfError(f"{what}: segment {i} has filesz > memsz")
        segments.append(Segment(p_type, off, vaddr, paddr, filesz, memsz))
    return ElfImage(data, cls == ELFCLASS64, machine, entry, segments)


def _align4(n: int) -> int:
    return (n + 3) & ~3


def _parse_notes(blob: bytes) -> list[Note]:
    notes, pos = [], 0
    while pos + 12 <= len(blob):
        namesz, descsz, ntype = struct.unpack_from("<III", blob, pos)
        pos += 12
        name_end = pos + namesz
        desc_start = pos + _align4(namesz)
        desc_end = desc_start + descsz
        if desc_end > len(blob):
            break  # truncated note: ignore the rest
        notes.append(Note(blob[pos:name_end].rstrip(b"\0"), ntype, blob[desc_start:desc_end]))
        pos = desc_start + _align4(descsz)
    return notes
