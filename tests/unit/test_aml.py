"""The AML encoder against encodings spelled out in ACPI 6.3 chapter 20 and known ASL output."""

from __future__ import annotations

import pytest

from pyvirt.machine.x86 import aml


def decode_pkg_length(data: bytes) -> tuple[int, int]:
    """(encoded length, bytes used), decoded as the spec's PkgLength grammar reads."""
    lead = data[0]
    follow = lead >> 6
    if follow == 0:
        return lead & 0x3F, 1
    value = lead & 0x0F
    for i in range(follow):
        value |= data[1 + i] << (4 + 8 * i)
    return value, 1 + follow


@pytest.mark.parametrize("payload", [0, 1, 62, 63, 64, 200, 4000, 4093, 4094, 70_000, 2_000_000])
def test_pkg_length_counts_itself(payload: int) -> None:
    encoded = aml.pkg_length(payload)
    value, used = decode_pkg_length(encoded)
    assert used == len(encoded)
    assert value == payload + len(encoded)
    if len(encoded) > 1:
        assert encoded[0] & 0x30 == 0  # bits 5-4 of a multi-byte lead are reserved


def test_pkg_length_boundaries() -> None:
    assert aml.pkg_length(0) == b"\x01"
    assert aml.pkg_length(62) == b"\x3f"
    assert aml.pkg_length(63) == bytes([0x40 | 1, 0x04])  # 65 = 0x41
    with pytest.raises(ValueError):
        aml.pkg_length(1 << 28)


def test_name_strings() -> None:
    assert aml.name_string("_S5") == b"_S5_"
    assert aml.name_string("\\_S5") == b"\\_S5_"
    assert aml.name_string("\\_SB.COM1") == b"\\\x2e_SB_COM1"
    assert aml.name_string("\\_SB.PCI0.ISA") == b"\\\x2f\x03_SB_PCI0ISA_"
    assert aml.name_string("^^FOO") == b"^^FOO_"
    assert aml.name_string("\\") == b"\\\x00"
    for bad in ("1ABC", "TOOLONG", "a", "\\_SB..X"):
        with pytest.raises(ValueError):
            aml.name_string(bad)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, b"\x00"),
        (1, b"\x01"),
        (5, b"\x0a\x05"),
        (0xFF, b"\x0a\xff"),
        (0x100, b"\x0b\x00\x01"),
        (0x10000, b"\x0c\x00\x00\x01\x00"),
        (1 << 32, b"\x0e\x00\x00\x00\x00\x01\x00\x00\x00"),
        ((1 << 64) - 1, b"\xff"),
    ],
)
def test_integers(value: int, encoded: bytes) -> None:
    assert aml.integer(value) == encoded


def test_strings_and_names() -> None:
    assert aml.string("ACPI0007") == b"\x0dACPI0007\x00"
    assert aml.name("_UID", 1) == b"\x08_UID\x01"
    with pytest.raises(TypeError):
        aml.data_object(True)


def test_eisa_id_matches_asl() -> None:
    # iasl compiles EisaId ("PNP0501") to the dword 0x0105D041, PNP0B00 to 0x000BD041.
    assert aml.eisa_id("PNP0501") == b"\x0c" + (0x0105D041).to_bytes(4, "little")
    assert aml.eisa_id("PNP0B00") == b"\x0c" + (0x000BD041).to_bytes(4, "little")
    with pytest.raises(ValueError):
        aml.eisa_id("pnp0501")


def test_package() -> None:
    # Package (4) { 5, 5, 0, 0 }: PackageOp, PkgLength, NumElements, elements.
    assert aml.package(5, 5, 0, 0) == b"\x12\x08\x04\x0a\x05\x0a\x05\x00\x00"


def test_resource_template() -> None:
    # ResourceTemplate () { IO (Decode16, 0x3F8, 0x3F8, 1, 8) IRQNoFlags () {4} }
    crs = aml.resource_template(aml.io_port(0x3F8, 8), aml.irq_no_flags(4))
    descriptors = b"\x47\x01\xf8\x03\xf8\x03\x01\x08" + b"\x22\x10\x00" + b"\x79\x00"
    assert crs == b"\x11" + bytes([1 + 2 + len(descriptors), 0x0A, len(descriptors)]) + descriptors


def test_device_and_scope_framing() -> None:
    inner = aml.name("_UID", 0)
    dev = aml.device("COM1", inner)
    assert dev[:2] == b"\x5b\x82"
    length, used = decode_pkg_length(dev[2:])
    assert length == len(dev) - 2
    assert dev[2 + used :] == b"COM1" + inner
    scope = aml.scope("\\_SB", dev)
    assert scope[0] == 0x10
    length, used = decode_pkg_length(scope[1:])
    assert length == len(scope) - 1
    assert scope[1 + used :] == b"\\_SB_" + dev


def test_large_scope_uses_multibyte_pkg_length() -> None:
    devices = [aml.device(f"C{i:03X}", aml.name("_HID", "ACPI0007")) for i in range(40)]
    scope = aml.scope("\\_SB", *devices)
    length, used = decode_pkg_length(scope[1:])
    assert used > 1
    assert length == len(scope) - 1


# --- PCI host bridge resources and _OSC ---------------------------------------------------------


def test_word_bus_number_and_word_io() -> None:
    # WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, 0, 0xFF, 0, 0x100)
    assert aml.word_bus_number(0, 0xFF) == bytes.fromhex(
        "88 0d00 02 0c 00 0000 0000 ff00 0000 0001"
    )
    # WordIO (..., EntireRange, 0, 0xD00, 0xFFFF, 0, 0xF300)
    assert aml.word_io(0xD00, 0xFFFF) == bytes.fromhex("88 0d00 01 0c 03 0000 000d ffff 0000 00f3")
    with pytest.raises(ValueError):
        aml.word_io(0, 0xFFFF)  # its length, 0x10000, does not fit a word


def test_dword_and_qword_memory() -> None:
    dword = aml.dword_memory(0xC0000000, 0xDFFFFFFF)
    assert dword[:6] == bytes.fromhex("87 1700 00 0c 01")  # memory, producer, NonCacheable+RW
    assert dword[6:] == (bytes(4) + bytes.fromhex("000000c0 ffffffdf") + bytes(4)
                         + bytes.fromhex("00000020"))  # fmt: skip
    qword = aml.qword_memory(1 << 36, (1 << 37) - 1)
    assert qword[:6] == bytes.fromhex("8a 2b00 00 0c 03")  # Cacheable+RW
    assert len(qword) == 3 + 0x2B
    assert int.from_bytes(qword[6 + 8 : 6 + 16], "little") == 1 << 36
    assert int.from_bytes(qword[6 + 32 : 6 + 40], "little") == 1 << 36  # the length
    with pytest.raises(ValueError):
        aml.dword_memory(0, 1 << 32)


def test_memory32_fixed() -> None:
    assert aml.memory32_fixed(0xE0000000, 0x10000000) == bytes.fromhex(
        "86 0900 01 000000e0 00000010"
    )
    with pytest.raises(ValueError):
        aml.memory32_fixed(0xF0000000, 0x20000000)


def test_to_uuid_byte_order() -> None:
    # ToUUID ("33DB4D5B-1FF7-401C-9657-7441C03DD766"): the first three fields little-endian
    assert aml.to_uuid(
        "33DB4D5B-1FF7-401C-9657-7441C03DD766"
    ) == b"\x11\x13\x0a\x10" + bytes.fromhex("5b4ddb33 f71f 1c40 9657 7441c03dd766")


def test_method_framing_and_terms() -> None:
    body = aml.return_(aml.arg(3))
    method = aml.method("_OSC", 4, body)
    assert method[0] == 0x14
    length, used = decode_pkg_length(method[1:])
    assert length == len(method) - 1
    assert method[1 + used :] == b"_OSC\x04" + b"\xa4\x6b"
    assert aml.method("FOO", 0, serialized=True)[-1] == 0x08
    assert aml.create_dword_field(aml.arg(3), 4, "CDW2") == b"\x8a\x6b\x0a\x04CDW2"
    assert aml.lequal(aml.arg(1), aml.integer(1)) == b"\x93\x69\x01"
    assert aml.lnot(aml.local(0)) == b"\x92\x60"
    assert aml.or_(aml.name_string("CDW1"), aml.integer(4), "CDW1") == b"\x7dCDW1\x0a\x04CDW1"
    if_ = aml.if_(aml.arg(0), aml.return_(aml.integer(0)))
    assert if_ == b"\xa0\x04\x68\xa4\x00"
    assert aml.else_(aml.return_(aml.integer(1))) == b"\xa1\x03\xa4\x01"
    for bad in (lambda: aml.arg(7), lambda: aml.local(8), lambda: aml.method("X", 8)):
        with pytest.raises(ValueError):
            bad()
