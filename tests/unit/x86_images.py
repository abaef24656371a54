"""Builders for synthetic kernel images, written from the formats' specifications
(ELF gABI, Linux boot protocol, Multiboot 0.6.96), independently of the loaders."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from pyvirt.machine.x86 import e820
from pyvirt.machine.x86.loader import BootInput
from pyvirt.memory import GuestMemory

PT_LOAD, PT_NOTE = 1, 4
EM_386, EM_X86_64 = 3, 62


@dataclass
class Seg:
    paddr: int
    data: bytes
    memsz: int | None = None  # defaults to len(data)
    vaddr: int | None = None  # defaults to paddr
    type: int = PT_LOAD


@dataclass
class Note:
    name: bytes
    type: int
    desc: bytes


def note_bytes(notes: list[Note]) -> bytes:
    """ELF note entries: namesz, descsz, type, then name and desc, each padded to 4."""
    out = bytearray()
    for n in notes:
        name = n.name + b"\0"
        out += struct.pack("<III", len(name), len(n.desc), n.type)
        out += name + bytes(-len(name) % 4)
        out += n.desc + bytes(-len(n.desc) % 4)
    return bytes(out)


def build_elf(
    segments: list[Seg],
    *,
    entry: int,
    is64: bool = True,
    machine: int | None = None,
    notes: list[Note] | None = None,
) -> bytes:
    """An executable ELF: header, program headers, then each segment's bytes."""
    segs = list(segments)
    if notes:
        segs.append(Seg(0, note_bytes(notes), memsz=0, type=PT_NOTE))
    machine = machine if machine is not None else (EM_X86_64 if is64 else EM_386)
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    data_off = ehsize + phentsize * len(segs)
    phdrs, blobs = bytearray(), bytearray()
    for s in segs:
        offset = data_off + len(blobs)
        memsz = len(s.data) if s.memsz is None else s.memsz
        vaddr = s.paddr if s.vaddr is None else s.vaddr
        if is64:
            phdrs += struct.pack("<IIQQQQQQ", s.type, 7, offset, vaddr, s.paddr, len(s.data),
                                 memsz, 0x1000)  # fmt: skip
        else:
            phdrs += struct.pack("<IIIIIIII", s.type, offset, vaddr, s.paddr, len(s.data),
                                 memsz, 7, 0x1000)  # fmt: skip
        blobs += s.data
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + bytes(9)
    if is64:
        header = struct.pack("<16sHHIQQQIHHHHHH", ident, 2, machine, 1, entry, ehsize, 0, 0,
                             ehsize, phentsize, len(segs), 64, 0, 0)  # fmt: skip
    else:
        header = struct.pack("<16sHHIIIIIHHHHHH", ident, 2, machine, 1, entry, ehsize, 0, 0,
                             ehsize, phentsize, len(segs), 40, 0, 0)  # fmt: skip
    return header + bytes(phdrs) + bytes(blobs)


# --- Linux boot protocol -------------------------------------------------------------------


@dataclass
class SetupHeader:
    """The fields of a bzImage's setup header we care about (boot.rst offsets)."""

    version: int = 0x020F
    setup_sects: int = 4
    loadflags: int = 0x01  # LOADED_HIGH
    initrd_addr_max: int = 0x7FFFFFFF
    xloadflags: int = 0x01  # XLF_KERNEL_64
    cmdline_size: int = 2047
    pref_address: int = 0x1000000
    init_size: int = 0
    relocatable: int = 1
    extra: dict[int, bytes] = field(default_factory=dict)


def build_bzimage(payload: bytes, h: SetupHeader | None = None) -> bytes:
    h = h or SetupHeader()
    setup = bytearray((h.setup_sects + 1) * 512)
    setup[0x1F1] = h.setup_sects
    struct.pack_into("<H", setup, 0x1FE, 0xAA55)
    setup[0x200], setup[0x201] = 0xEB, 0x6A  # jmp: the header ends at 0x202 + 0x6A = 0x26C
    setup[0x202:0x206] = b"HdrS"
    struct.pack_into("<H", setup, 0x206, h.version)
    setup[0x211] = h.loadflags
    struct.pack_into("<I", setup, 0x214, 0x100000)  # code32_start
    struct.pack_into("<I", setup, 0x22C, h.initrd_addr_max)
    struct.pack_into("<I", setup, 0x230, 0x200000)  # kernel_alignment
    setup[0x234] = h.relocatable
    struct.pack_into("<H", setup, 0x236, h.xloadflags)
    struct.pack_into("<I", setup, 0x238, h.cmdline_size)
    struct.pack_into("<Q", setup, 0x258, h.pref_address)
    struct.pack_into("<I", setup, 0x260, h.init_size)
    for offset, value in h.extra.items():
        setup[offset : offset + len(value)] = value
    return bytes(setup) + payload


# --- guest RAM -------------------------------------------------------------------------------

MiB = 1 << 20


def boot_input(
    kernel: bytes,
    *,
    ram: int = 64 * MiB,
    cmdline: str = "",
    initrd: bytes | None = None,
    rsdp: int | None = 0xE0000,
    path: str = "/boot/kernel",
) -> BootInput:
    mem = GuestMemory()
    for gpa, size in e820.ram_layout(ram):
        mem.add_ram(gpa, size)
    return BootInput(
        mem,
        path,
        kernel,
        cmdline,
        initrd_path="/boot/initrd" if initrd is not None else None,
        initrd=initrd,
        e820=e820.build(ram),
        rsdp_addr=rsdp,
    )


def c_string(mem: GuestMemory, addr: int, limit: int = 4096) -> bytes:
    data = mem.read(addr, limit)
    assert b"\0" in data, "unterminated string"
    return data[: data.index(b"\0")]
