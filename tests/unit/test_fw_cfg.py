"""QEMU's fw_cfg device, traditional I/O interface, per QEMU's docs/specs/fw_cfg.rst:
a 16-bit selector at 0x510, the selected item read a byte at a time from 0x511."""

from __future__ import annotations

import struct
import uuid

import pytest

from pyvirt.hw.fw_cfg import FwCfg

SIGNATURE, ID, UUID, RAM_SIZE, NOGRAPHIC, NB_CPUS, MAX_CPUS = 0, 1, 2, 3, 4, 5, 0x0F
FILE_DIR, FILE_FIRST = 0x19, 0x20
ARCH_LOCAL, WRITE_CHANNEL = 0x8000, 0x4000
MiB = 1 << 20


def make(**kw: object) -> FwCfg:
    args: dict = {"cpus": 2, "max_cpus": 4, "ram_size": 256 * MiB, "nographic": True}
    args.update(kw)
    return FwCfg(**args)


def select(dev: FwCfg, key: int) -> None:
    dev.write(0, 2, key)


def read(dev: FwCfg, n: int) -> bytes:
    return bytes(dev.read(1, 1) for _ in range(n))


def item(dev: FwCfg, key: int, n: int) -> bytes:
    select(dev, key)
    return read(dev, n)


def directory(dev: FwCfg) -> list[tuple[int, int, str]]:
    """The file directory as the spec describes it: (size, select, name) entries."""
    select(dev, FILE_DIR)
    (count,) = struct.unpack(">I", read(dev, 4))
    entries = []
    for _ in range(count):
        size, key, reserved, name = struct.unpack(">IHH56s", read(dev, 64))
        assert reserved == 0
        assert name.endswith(b"\0")
        entries.append((size, key, name.rstrip(b"\0").decode()))
    return entries


def test_signature_is_selected_at_reset() -> None:
    assert read(make(), 4) == b"QEMU"


def test_signature() -> None:
    dev = make()
    assert item(dev, SIGNATURE, 4) == b"QEMU"


def test_id_says_traditional_interface_only() -> None:
    (features,) = struct.unpack("<I", item(make(), ID, 4))
    assert features & 1  # traditional interface
    assert not features & 2  # no DMA interface (we do not offer it)


def test_ram_size_cpus_nographic() -> None:
    dev = make()
    assert struct.unpack("<Q", item(dev, RAM_SIZE, 8))[0] == 256 * MiB
    assert struct.unpack("<H", item(dev, NB_CPUS, 2))[0] == 2
    assert struct.unpack("<H", item(dev, MAX_CPUS, 2))[0] == 4
    assert struct.unpack("<H", item(dev, NOGRAPHIC, 2))[0] == 1


def test_uuid() -> None:
    u = uuid.UUID("12345678-9abc-def0-1234-56789abcdef0")
    assert item(make(uuid=u.bytes), UUID, 16) == u.bytes


def test_reading_past_the_end_gives_zeros() -> None:
    dev = make()
    assert item(dev, SIGNATURE, 8) == b"QEMU\0\0\0\0"


def test_selecting_resets_the_offset() -> None:
    dev = make()
    select(dev, SIGNATURE)
    assert read(dev, 2) == b"QE"
    select(dev, SIGNATURE)
    assert read(dev, 4) == b"QEMU"


def test_unknown_item_reads_zeros() -> None:
    assert item(make(), 0x3FFF, 4) == bytes(4)


def test_arch_local_items_are_a_separate_namespace() -> None:
    # Bit 15 selects architecture-specific items (x86: 0x8000 ACPI tables, 0x8003 e820
    # ...): selector 0x8000 is not the signature, 0x8003 is not the RAM size.
    dev = make()
    assert item(dev, ARCH_LOCAL | SIGNATURE, 4) != b"QEMU"
    assert item(dev, ARCH_LOCAL | RAM_SIZE, 8) != struct.pack("<Q", 256 * MiB)


def test_write_channel_bit_is_ignored_for_reads() -> None:
    assert item(make(), WRITE_CHANNEL | SIGNATURE, 4) == b"QEMU"


def test_data_port_writes_are_ignored() -> None:
    dev = make()
    select(dev, SIGNATURE)
    dev.write(1, 1, 0x41)
    assert read(dev, 4) == b"QEMU"


def test_selector_port_reads_zero() -> None:
    assert make().read(0, 2) == 0


def test_wide_reads_return_successive_bytes() -> None:
    dev = make()
    select(dev, SIGNATURE)
    assert dev.read(1, 2) == int.from_bytes(b"QE", "little")
    assert dev.read(1, 2) == int.from_bytes(b"MU", "little")


def test_empty_directory() -> None:
    assert directory(make()) == []


def test_file_directory_format() -> None:
    dev = make()
    e820 = bytes(range(40))
    k1 = dev.add_file("etc/e820", e820)
    k2 = dev.add_file("bootorder", b"/pci@i0cf8/*\0")
    assert {k1, k2} == {FILE_FIRST, FILE_FIRST + 1}
    # sorted by name, as QEMU keeps it
    assert directory(dev) == [(13, k2, "bootorder"), (40, k1, "etc/e820")]
    assert item(dev, k1, 40) == e820
    assert item(dev, k2, 13) == b"/pci@i0cf8/*\0"


def test_longest_file_name() -> None:
    dev = make()
    name = "x" * 55  # 56 bytes with its NUL
    dev.add_file(name, b"1")
    assert directory(dev)[0][2] == name
    with pytest.raises(ValueError, match="too long"):
        dev.add_file("y" * 56, b"1")


def test_duplicate_file_name() -> None:
    dev = make()
    dev.add_file("etc/e820", b"")
    with pytest.raises(ValueError, match="already exists"):
        dev.add_file("etc/e820", b"")
