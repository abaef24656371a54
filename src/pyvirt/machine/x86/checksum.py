"""The 8-bit "sum of all bytes is zero" checksum used by ACPI and MP tables."""

from __future__ import annotations


def checksum_byte(data: bytes | bytearray | memoryview) -> int:
    """The byte that, added to `data`, makes all bytes sum to 0 modulo 256."""
    return -sum(data) & 0xFF


def fix_checksum(buf: bytearray, field: int, start: int = 0, end: int | None = None) -> None:
    """Set `buf[field]` so that `buf[start:end]` sums to zero (the field lies inside the span)."""
    end = len(buf) if end is None else end
    if not start <= field < end:
        raise ValueError("checksum field outside the summed span")
    buf[field] = 0
    buf[field] = checksum_byte(buf[start:end])
