"""libvirt's scaled integers: `<memory unit='MiB'>512</memory>` and friends (virScaleInteger)."""

from __future__ import annotations

from pyvirt.virterror import ErrorDomain

from .errors import xml_error

_POWERS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
ULONG_MAX = (1 << 64) - 1


def unit_scale(unit: str, domain: ErrorDomain = ErrorDomain.DOMAIN) -> int:
    """Bytes per `unit`: b/bytes; k, KiB (1024); KB (1000); and so on up to E/EiB/EB."""
    low = unit.lower()
    if low in ("b", "byte", "bytes"):
        return 1
    if low[:1] in _POWERS:
        if low[1:] in ("", "ib"):
            return 1024 ** _POWERS[low[0]]
        if low[1:] == "b":
            return 1000 ** _POWERS[low[0]]
    raise xml_error(f"unknown suffix '{unit}'", domain)


def scaled_bytes(
    text: str, unit: str | None, default_unit: str, what: str, domain: ErrorDomain
) -> int:
    """`text` (a non-negative integer) times the scale of `unit`, in bytes."""
    value = text.strip()
    if not value.isdigit():
        raise xml_error(f"invalid value '{text}' for {what}", domain)
    result = int(value) * unit_scale(unit or default_unit, domain)
    if result > ULONG_MAX:
        raise xml_error(f"value '{text}' for {what} is too large", domain)
    return result


def memory_kib(text: str, unit: str | None, what: str) -> int:
    """A domain memory size in KiB, rounded up as libvirt does (virDomainParseMemory)."""
    return -(-scaled_bytes(text, unit, "KiB", what, ErrorDomain.DOMAIN) // 1024)
