"""The snapshot stream without a VM: RAM round trip, zero and untouched pages skipped,
a hostile or damaged stream refused with the reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyvirt.memory import GuestMemory
from pyvirt.vmm.snapshot.stream import CHUNK, Reader, SnapshotError, Writer

MiB = 1 << 20


def memory() -> GuestMemory:
    mem = GuestMemory()
    mem.add_ram(0, 4 * MiB)
    mem.add_ram(8 * MiB, 4 * MiB)
    return mem


def write(path: Path, mem: GuestMemory, state: dict) -> Writer:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        writer = Writer(fd)
        writer.header({"machine": "test"}, state)
        writer.memory(mem)
        writer.finish()
    finally:
        os.close(fd)
    return writer


def read(path: Path, mem: GuestMemory) -> dict:
    fd = os.open(path, os.O_RDONLY)
    try:
        reader = Reader(fd)
        machine, state = reader.header()
        assert machine == {"machine": "test"}
        reader.memory(mem)
        return state
    finally:
        os.close(fd)


def test_round_trip_writes_only_what_is_not_zero(tmp_path: Path) -> None:
    source = memory()
    source.write(0x1234, b"hello")
    source.write(9 * MiB + 7, os.urandom(3 * CHUNK))
    source.fill(2 * MiB, CHUNK)  # touched, but zero: not written
    path = tmp_path / "snap"
    writer = write(path, source, {"cpu": [1, 2]})
    assert writer.normal_chunks == 1 + 4 and writer.zero_chunks >= 1
    assert path.stat().st_size < 6 * CHUNK
    target = memory()
    assert read(path, target) == {"cpu": [1, 2]}
    for region in source.regions:
        assert source.read(region.gpa, region.size) == target.read(region.gpa, region.size)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d[:8] + b"X" + d[9:], "snapshot format version"),
        (lambda d: b"NOTASNAP" + d[8:], "not a pyvirt snapshot"),
        (lambda d: d[: len(d) // 2], "ends too early"),
        (lambda d: d[:-40] + bytes([d[-40] ^ 1]) + d[-39:], "checksum mismatch"),
        (lambda d: d[:-4] + b"\0\0\0\0", "checksum mismatch"),
    ],
)
def test_damaged_streams_are_refused(tmp_path: Path, damage, message: str) -> None:
    source = memory()
    source.write(0x5000, b"data")
    path = tmp_path / "snap"
    write(path, source, {})
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(SnapshotError, match=message):
        read(path, memory())


def test_a_record_outside_ram_is_refused(tmp_path: Path) -> None:
    big = GuestMemory()
    big.add_ram(0, 16 * MiB)
    big.write(13 * MiB, b"beyond the smaller machine's RAM")
    path = tmp_path / "snap"
    write(path, big, {})
    with pytest.raises(SnapshotError, match="is not guest RAM"):
        read(path, memory())
