"""Sizes as QEMU reads and prints them: "1.5G", "512", "0x1000"; "1.5 GiB"."""

from __future__ import annotations

import math
import re
import sys

from .errors import PROGRAM, ImgError

INT64_MAX = (1 << 63) - 1
SUFFIXES = "BKMGTPE"  # powers of 1024, case-insensitive
_NUMBER = re.compile(r"\s*\+?(?:(0[xX][0-9a-fA-F]+)|([0-9]+)(\.[0-9]*)?)(.?)\Z", re.DOTALL)


def parse_size(text: str, what: str = "image size") -> int:
    """qemu-img's cvtnum(): a byte count with an optional k/M/G/T/P/E (or b) suffix."""
    value = strtosz(text)
    if value is None:
        raise ImgError(
            f"Invalid {what} specified. You may use k, M, G, T, P or E suffixes for\n"
            f"{PROGRAM}: kilobytes, megabytes, gigabytes, terabytes, petabytes and exabytes."
        )
    if value > INT64_MAX:
        raise ImgError(f"Invalid {what} specified. Must be between 0 and {INT64_MAX}.")
    return value


def strtosz(text: str) -> int | None:
    """qemu_strtosz(): the byte count `text` stands for, or None when it is not a size."""
    m = _NUMBER.match(text)
    if m is None:
        return None
    hex_digits, whole, fraction, suffix = m.groups()
    if suffix and suffix.upper() not in SUFFIXES:
        return None
    mul = 1024 ** SUFFIXES.index(suffix.upper()) if suffix else 1
    if hex_digits is not None:
        if suffix:
            warning = "Using a multiplier suffix on hex numbers is deprecated"
            print(f"{PROGRAM}: warning: {warning}: {text}", file=sys.stderr)
        return int(hex_digits, 16) * mul
    frac = float("0" + fraction) if fraction and fraction != "." else 0.0
    if frac and mul == 1:  # a fraction of a byte
        return None
    return int(whole) * mul + int(frac * mul)


def size_to_str(value: int) -> str:
    """QEMU's size_to_str(): three significant digits and a binary unit ("1.27 MiB")."""
    _, exponent = math.frexp(value / (1000.0 / 1024.0))
    index = int((exponent - 1) / 10)  # C division truncates toward zero
    unit = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][index]
    return f"{value / (1 << (index * 10)):.3g} {unit}B"
