"""The ELF reader: 32/64-bit program headers and notes; broken files give clear errors."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyvirt.machine.x86.elf import ElfError, is_elf, parse
from tests.unit.x86_images import (
    EM_386,
    EM_X86_64,
    PT_LOAD,
    PT_NOTE,
    Note,
    Seg,
    build_elf,
    note_bytes,
)

NOTES = [Note(b"Xen", 18, struct.pack("<Q", 0x1000000)), Note(b"GNU", 3, b"\x01\x02\x03"),
         Note(b"Linux", 0x101, b"")]  # fmt: skip


@pytest.mark.parametrize("is64", [True, False])
def test_program_headers_and_entry(is64: bool) -> None:
    data = build_elf(
        [Seg(0x100000, b"text" * 100, vaddr=0xFFFFFFFF81000000 if is64 else 0xC0100000),
         Seg(0x200000, b"data", memsz=0x3000), Seg(0x300000, b"", memsz=0)],
        entry=0x100010, is64=is64, notes=NOTES,
    )  # fmt: skip
    elf = parse(data)
    assert elf.is64 is is64
    assert elf.machine == (EM_X86_64 if is64 else EM_386)
    assert elf.entry == 0x100010
    assert [s.type for s in elf.segments] == [PT_LOAD, PT_LOAD, PT_LOAD, PT_NOTE]
    loads = elf.loads()  # the empty segment loads nothing
    assert [(s.paddr, s.filesz, s.memsz) for s in loads] == [
        (0x100000, 400, 400),
        (0x200000, 4, 0x3000),
    ]
    assert loads[0].vaddr == (0xFFFFFFFF81000000 if is64 else 0xC0100000)
    assert elf.segment_bytes(loads[0]) == b"text" * 100
    assert elf.segment_bytes(loads[1]) == b"data"


@pytest.mark.parametrize("is64", [True, False])
def test_notes(is64: bool) -> None:
    elf = parse(build_elf([Seg(0x100000, b"x")], entry=0x100000, is64=is64, notes=NOTES))
    assert [(n.name, n.type, n.desc) for n in elf.notes()] == [
        (b"Xen", 18, struct.pack("<Q", 0x1000000)),
        (b"GNU", 3, b"\x01\x02\x03"),
        (b"Linux", 0x101, b""),
    ]


def test_notes_in_several_segments() -> None:
    extra = Seg(0, note_bytes([Note(b"Xen", 1, b"abcd")]), memsz=0, type=PT_NOTE)
    elf = parse(build_elf([Seg(0x100000, b"x"), extra], entry=0x100000, notes=NOTES[:1]))
    assert [(n.name, n.type) for n in elf.notes()] == [(b"Xen", 1), (b"Xen", 18)]


def test_a_truncated_note_is_ignored() -> None:
    blob = note_bytes(NOTES[:1]) + struct.pack("<III", 4, 100, 7) + b"Xen\0"
    elf = parse(build_elf([Seg(0x100000, b"x"), Seg(0, blob, 0, type=PT_NOTE)], entry=0x100000))
    assert [n.type for n in elf.notes()] == [18]


def test_is_elf() -> None:
    assert is_elf(b"\x7fELF\x02")
    assert not is_elf(b"MZ\x90\x00")
    assert not is_elf(b"")


GOOD64 = build_elf([Seg(0x100000, b"kernel")], entry=0x100000)
GOOD32 = build_elf([Seg(0x100000, b"kernel")], entry=0x100000, is64=False)


def patched(data: bytes, offset: int, fmt: str, value: int) -> bytes:
    out = bytearray(data)
    struct.pack_into(fmt, out, offset, value)
    return bytes(out)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "vmlinux is not an ELF file"),
        (b"MZ" + bytes(100), "vmlinux is not an ELF file"),
        (GOOD64[:40], "vmlinux is not an ELF file"),  # shorter than any ELF header
        (GOOD64[:60], "vmlinux: truncated ELF header"),
        (patched(GOOD64, 5, "B", 2), "vmlinux is a big-endian ELF file"),
        (patched(GOOD64, 4, "B", 3), "vmlinux: unknown ELF class 3"),
        (patched(GOOD64, 18, "<H", 40), "vmlinux is not an x86 ELF file (e_machine=40)"),
        (patched(GOOD64, 54, "<H", 32), "vmlinux: program header entries too small (32 bytes)"),
        (patched(GOOD32, 42, "<H", 16), "vmlinux: program header entries too small (16 bytes)"),
        (patched(GOOD64, 32, "<Q", 1 << 40), "program headers lie beyond the end of the file"),
        (patched(GOOD64, 56, "<H", 1000), "program headers lie beyond the end of the file"),
        (GOOD64[:-1], "vmlinux: segment 0 lies beyond the end of the file"),
        (GOOD32[:-3], "vmlinux: segment 0 lies beyond the end of the file"),
        (patched(GOOD64, 64 + 40, "<Q", 1), "vmlinux: segment 0 has filesz > memsz"),
        (patched(GOOD32, 52 + 20, "<I", 1), "vmlinux: segment 0 has filesz > memsz"),
    ],
)
def test_malformed_files_are_rejected_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(ElfError) as info:
        parse(data, "vmlinux")
    assert message in str(info.value)


def _check_parse(data: bytes) -> None:
    try:
        elf = parse(data)
    except ElfError:
        return
    for seg in elf.loads():
        assert len(elf.segment_bytes(seg)) == seg.filesz
    elf.notes()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_crash_the_parser(data: bytes) -> None:
    _check_parse(b"\x7fELF" + data)
    _check_parse(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([GOOD64, GOOD32, build_elf([Seg(0x1000, b"ab")], entry=0, notes=NOTES)]),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8),
)
def test_corrupted_elf_files_never_crash_the_parser(base: bytes, edits: list) -> None:
    data = bytearray(base)
    for offset, value in edits:
        if offset < len(data):
            data[offset] = value
    _check_parse(bytes(data))
