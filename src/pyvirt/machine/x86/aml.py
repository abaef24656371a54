"""A small ACPI Machine Language encoder: the few constructs our DSDT needs.

Each function returns the encoded bytes of one AML term, so terms compose by
passing them to their parents (`scope`, `device`, `package`). Encodings follow
ACPI 6.3 chapter 20 ("ACPI Machine Language Specification"). A DSDT is the
standard table header followed by a term list; the header is the table
builder's business, not this module's.
"""

from __future__ import annotations

import re
import uuid

ZERO_OP = 0x00
ONE_OP = 0x01
ONES_OP = 0xFF
NAME_OP = 0x08
BYTE_PREFIX = 0x0A
WORD_PREFIX = 0x0B
DWORD_PREFIX = 0x0C
STRING_PREFIX = 0x0D
QWORD_PREFIX = 0x0E
SCOPE_OP = 0x10
BUFFER_OP = 0x11
PACKAGE_OP = 0x12
METHOD_OP = 0x14
EXT_OP_PREFIX = 0x5B
DEVICE_OP = 0x82  # after EXT_OP_PREFIX
LOCAL0_OP = 0x60
ARG0_OP = 0x68
OR_OP = 0x7D
CREATE_DWORD_FIELD_OP = 0x8A
LNOT_OP = 0x92
LEQUAL_OP = 0x93
IF_OP = 0xA0
ELSE_OP = 0xA1
RETURN_OP = 0xA4
ROOT_CHAR = ord("\\")
PARENT_PREFIX = ord("^")
DUAL_NAME_PREFIX = 0x2E
MULTI_NAME_PREFIX = 0x2F
NULL_NAME = 0x00

_NAME_SEG = re.compile(r"[A-Z_][A-Z0-9_]{0,3}")

# Small resource descriptor tags (ACPI 6.3, 6.4.2): (item name << 3) | length.
_IRQ_NO_FLAGS = 0x22
_IO_PORT = 0x47
_END_TAG = 0x79
_IO_DECODE16 = 0x01
# Large resource descriptor tags (6.4.3).
_MEMORY32_FIXED = 0x86
_EXTENDED_INTERRUPT = 0x89  # large item 0x09
_DWORD_ADDRESS = 0x87
_WORD_ADDRESS = 0x88
_QWORD_ADDRESS = 0x8A
# Address space descriptors: resource types, and the general flags of a bridge's
# windows: ResourceProducer (bit 0 clear), PosDecode, MinFixed (bit 2), MaxFixed (bit 3).
_SPACE_MEMORY, _SPACE_IO, _SPACE_BUS = 0, 1, 2
_PRODUCER_FIXED = 0b1100
MEM_READ_WRITE = 1 << 0
MEM_NON_CACHEABLE = 0 << 1
MEM_CACHEABLE = 1 << 1
MEM_PREFETCHABLE = 3 << 1
IO_ENTIRE_RANGE = 0b11

DataObject = int | str | bytes


def pkg_length(payload_len: int) -> bytes:
    """PkgLength encoding of a package whose contents after the PkgLength are `payload_len` bytes.

    The encoded value counts the PkgLength bytes themselves: one byte holds up
    to 63, otherwise the lead byte carries the count of following bytes in bits
    7-6 and the low nibble, the following bytes the rest (up to 2**28 - 1).
    """
    if payload_len + 1 < 0x40:
        return bytes([payload_len + 1])
    for extra in (1, 2, 3):
        total = payload_len + 1 + extra
        if total < 1 << (4 + 8 * extra):
            return bytes([extra << 6 | (total & 0xF)]) + (total >> 4).to_bytes(extra, "little")
    raise ValueError(f"AML package too long: {payload_len} bytes")


def name_seg(seg: str) -> bytes:
    """One 4-character NameSeg, padded with '_' as ASL does ("_SB" -> "_SB_")."""
    if not _NAME_SEG.fullmatch(seg):
        raise ValueError(f"invalid AML name segment {seg!r}")
    return seg.ljust(4, "_").encode("ascii")


def name_string(path: str) -> bytes:
    r"""A NameString from ASL-style path syntax: "\_SB.COM1", "^PCI0", "_HID"."""
    prefix = bytearray()
    rest = path
    if rest.startswith("\\"):
        prefix.append(ROOT_CHAR)
        rest = rest[1:]
    else:
        while rest.startswith("^"):
            prefix.append(PARENT_PREFIX)
            rest = rest[1:]
    segs = [name_seg(s) for s in rest.split(".")] if rest else []
    if not segs:
        return bytes(prefix) + bytes([NULL_NAME])
    if len(segs) == 1:
        return bytes(prefix) + segs[0]
    if len(segs) == 2:
        return bytes(prefix) + bytes([DUAL_NAME_PREFIX]) + b"".join(segs)
    if len(segs) > 255:
        raise ValueError("AML name path too deep")
    return bytes(prefix) + bytes([MULTI_NAME_PREFIX, len(segs)]) + b"".join(segs)


def integer(value: int) -> bytes:
    """The shortest ComputationalData encoding of a 64-bit unsigned integer."""
    if not 0 <= value < 1 << 64:
        raise ValueError(f"AML integer out of range: {value}")
    if value == 0:
        return bytes([ZERO_OP])
    if value == 1:
        return bytes([ONE_OP])
    if value == (1 << 64) - 1:
        return bytes([ONES_OP])
    for prefix, width in ((BYTE_PREFIX, 1), (WORD_PREFIX, 2), (DWORD_PREFIX, 4)):
        if value < 1 << (8 * width):
            return bytes([prefix]) + value.to_bytes(width, "little")
    return bytes([QWORD_PREFIX]) + value.to_bytes(8, "little")


def string(text: str) -> bytes:
    """A null-terminated ASCII String constant."""
    raw = text.encode("ascii")
    if 0 in raw:
        raise ValueError("AML strings cannot contain NUL")
    return bytes([STRING_PREFIX]) + raw + b"\x00"


def data_object(value: DataObject) -> bytes:
    """Python int/str as Integer/String; bytes pass through as an already encoded term."""
    if isinstance(value, bool):
        raise TypeError("use an int, not a bool, for AML integers")
    if isinstance(value, int):
        return integer(value)
    if isinstance(value, str):
        return string(value)
    return bytes(value)


def eisa_id(pnp_id: str) -> bytes:
    """EisaId("PNP0501"): 3 letters (5 bits each) and 4 hex digits, as a byte-swapped dword."""
    if not re.fullmatch(r"[A-Z]{3}[0-9A-F]{4}", pnp_id):
        raise ValueError(f"invalid EISA id {pnp_id!r}")
    letters = [ord(c) - 0x40 for c in pnp_id[:3]]
    value = letters[0] << 26 | letters[1] << 21 | letters[2] << 16 | int(pnp_id[3:], 16)
    return bytes([DWORD_PREFIX]) + value.to_bytes(4, "big")


def name(path: str, value: DataObject) -> bytes:
    """Name (path, value)."""
    return bytes([NAME_OP]) + name_string(path) + data_object(value)


def package(*elements: DataObject) -> bytes:
    """Package () { elements } with NumElements equal to the elements given."""
    if len(elements) > 255:
        raise ValueError("AML Package has at most 255 elements; VarPackage is not supported")
    body = bytes([len(elements)]) + b"".join(data_object(e) for e in elements)
    return bytes([PACKAGE_OP]) + pkg_length(len(body)) + body


def buffer(data: bytes) -> bytes:
    """Buffer () { data } with a constant BufferSize."""
    body = integer(len(data)) + data
    return bytes([BUFFER_OP]) + pkg_length(len(body)) + body


def scope(path: str, *terms: bytes) -> bytes:
    """Scope (path) { terms }."""
    body = name_string(path) + b"".join(terms)
    return bytes([SCOPE_OP]) + pkg_length(len(body)) + body


def device(path: str, *terms: bytes) -> bytes:
    """Device (path) { terms }."""
    body = name_string(path) + b"".join(terms)
    return bytes([EXT_OP_PREFIX, DEVICE_OP]) + pkg_length(len(body)) + body


def io_port(base: int, length: int, alignment: int = 1) -> bytes:
    """IO (Decode16, base, base, alignment, length): a fixed range of I/O ports."""
    if not (0 <= base <= 0xFFFF and 0 < length <= 0xFF and 0 <= alignment <= 0xFF):
        raise ValueError("IO descriptor out of range")
    return bytes([_IO_PORT, _IO_DECODE16]) + bytes(
        [base & 0xFF, base >> 8, base & 0xFF, base >> 8, alignment, length]
    )


def irq_no_flags(*irqs: int) -> bytes:
    """IRQNoFlags () { irqs }: ISA IRQs, edge triggered, active high, exclusive."""
    mask = 0
    for irq in irqs:
        if not 0 <= irq < 16:
            raise ValueError(f"ISA IRQ {irq} out of range")
        mask |= 1 << irq
    return bytes([_IRQ_NO_FLAGS]) + mask.to_bytes(2, "little")


def resource_template(*descriptors: bytes) -> bytes:
    """ResourceTemplate () { descriptors }: a Buffer closed by an End Tag (checksum 0 = none)."""
    return buffer(b"".join(descriptors) + bytes([_END_TAG, 0]))


def extended_interrupt(*gsis: int, level: bool = True, active_low: bool = False) -> bytes:
    """Interrupt (ResourceConsumer, Level|Edge, ActiveHigh|ActiveLow, Exclusive) { gsis }."""
    if not gsis or any(not 0 <= g < 1 << 32 for g in gsis):
        raise ValueError("Interrupt needs one or more 32-bit interrupt numbers")
    flags = 0x01 | (0 if level else 0x02) | (0x04 if active_low else 0)  # bit 0: consumer
    body = bytes([flags, len(gsis)]) + b"".join(g.to_bytes(4, "little") for g in gsis)
    return bytes([_EXTENDED_INTERRUPT]) + len(body).to_bytes(2, "little") + body


def memory32_fixed(base: int, length: int, writable: bool = True) -> bytes:
    """Memory32Fixed (ReadWrite, base, length): a fixed memory range a device consumes."""
    if not (0 <= base < 1 << 32 and length > 0 and base + length <= 1 << 32):
        raise ValueError("Memory32Fixed range outside the 32-bit address space")
    body = bytes([int(writable)]) + base.to_bytes(4, "little") + length.to_bytes(4, "little")
    return bytes([_MEMORY32_FIXED]) + len(body).to_bytes(2, "little") + body


def _address_space(
    tag: int, width: int, space: int, type_flags: int, minimum: int, maximum: int
) -> bytes:
    """A Word/DWord/QWord Address Space descriptor of a bridge window [minimum, maximum]."""
    if not 0 <= minimum <= maximum < 1 << (8 * width) or maximum - minimum + 1 >= 1 << (8 * width):
        raise ValueError(f"address range {minimum:#x}-{maximum:#x} does not fit {width} bytes")
    values = (0, minimum, maximum, 0, maximum - minimum + 1)  # granularity .. length
    body = bytes([space, _PRODUCER_FIXED, type_flags]) + b"".join(
        v.to_bytes(width, "little") for v in values
    )
    return bytes([tag]) + len(body).to_bytes(2, "little") + body


def word_bus_number(minimum: int, maximum: int) -> bytes:
    """WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, ...): a bus range."""
    return _address_space(_WORD_ADDRESS, 2, _SPACE_BUS, 0, minimum, maximum)


def word_io(minimum: int, maximum: int) -> bytes:
    """WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, ...)."""
    return _address_space(_WORD_ADDRESS, 2, _SPACE_IO, IO_ENTIRE_RANGE, minimum, maximum)


def dword_memory(minimum: int, maximum: int, caching: int = MEM_NON_CACHEABLE) -> bytes:
    """DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, caching, ReadWrite, ...)."""
    flags = caching | MEM_READ_WRITE
    return _address_space(_DWORD_ADDRESS, 4, _SPACE_MEMORY, flags, minimum, maximum)


def qword_memory(minimum: int, maximum: int, caching: int = MEM_CACHEABLE) -> bytes:
    """QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, caching, ReadWrite, ...)."""
    flags = caching | MEM_READ_WRITE
    return _address_space(_QWORD_ADDRESS, 8, _SPACE_MEMORY, flags, minimum, maximum)


# --- control methods: the few terms an _OSC needs -------------------------------------------


def method(path: str, arg_count: int, *terms: bytes, serialized: bool = False) -> bytes:
    """Method (path, arg_count, NotSerialized|Serialized) { terms }, sync level 0."""
    if not 0 <= arg_count <= 7:
        raise ValueError("a method takes 0 to 7 arguments")
    flags = arg_count | (0x08 if serialized else 0)
    body = name_string(path) + bytes([flags]) + b"".join(terms)
    return bytes([METHOD_OP]) + pkg_length(len(body)) + body


def arg(n: int) -> bytes:
    """ArgN, a method argument."""
    if not 0 <= n <= 6:
        raise ValueError("Arg0 to Arg6")
    return bytes([ARG0_OP + n])


def local(n: int) -> bytes:
    """LocalN, a method local variable."""
    if not 0 <= n <= 7:
        raise ValueError("Local0 to Local7")
    return bytes([LOCAL0_OP + n])


def create_dword_field(source: bytes, byte_index: int, field: str) -> bytes:
    """CreateDWordField (source, byte_index, field)."""
    return bytes([CREATE_DWORD_FIELD_OP]) + source + integer(byte_index) + name_string(field)


def if_(predicate: bytes, *terms: bytes) -> bytes:
    """If (predicate) { terms }."""
    body = predicate + b"".join(terms)
    return bytes([IF_OP]) + pkg_length(len(body)) + body


def else_(*terms: bytes) -> bytes:
    """Else { terms }: follows an if_() directly."""
    body = b"".join(terms)
    return bytes([ELSE_OP]) + pkg_length(len(body)) + body


def lequal(left: bytes, right: bytes) -> bytes:
    """LEqual (left, right); operands are encoded terms (use data_object for constants)."""
    return bytes([LEQUAL_OP]) + left + right


def lnot(operand: bytes) -> bytes:
    return bytes([LNOT_OP]) + operand


def or_(left: bytes, right: bytes, target: str) -> bytes:
    """Or (left, right, target): target = left | right."""
    return bytes([OR_OP]) + left + right + name_string(target)


def return_(value: bytes) -> bytes:
    return bytes([RETURN_OP]) + value


def to_uuid(text: str) -> bytes:
    """ToUUID ("...") as ASL compiles it: a 16-byte Buffer, the first three fields little-endian."""
    return buffer(uuid.UUID(text).bytes_le)
