"""virsh's output shapes: tables, `Key:    value` blocks, sizes as vshPrettyCapacity prints them,
and colour (only on a terminal)."""

from __future__ import annotations

import os
import re
import sys
import unicodedata
from collections.abc import Sequence
from typing import TextIO


def width(text: str) -> int:
    """Display width: East Asian wide characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], quiet: bool = False) -> str:
    """vshTable: one space before each cell, columns two spaces apart, a dashed rule.

    With -q the header and the rule are left out.
    """
    all_rows = ([] if quiet else [list(headers)]) + [list(r) for r in rows]
    if not all_rows:
        return ""
    widths = [max(width(r[i]) for r in all_rows) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(all_rows):
        cells = []
        for i, cell in enumerate(row):
            pad = "" if i == len(row) - 1 else " " * (widths[i] - width(cell) + 2)
            cells.append(f" {cell}{pad}")
        lines.append("".join(cells))
        if n == 0 and not quiet:
            lines.append("-" * (sum(widths) + 3 * len(widths)))
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, object]], key_width: int = 15) -> str:
    """`Name:           test`: virsh's `%-15s %s` blocks (dominfo, pool-info, ...)."""
    return "\n".join(f"{key + ':':<{key_width}} {value}" for key, value in pairs)


_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]


def pretty_capacity(size: int) -> str:
    """vshPrettyCapacity: `100.00 GiB`, `0.00 B`."""
    value = float(size)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    return f"{value:.2f} {_UNITS[unit]}"


_SCALED = re.compile(r"^(\d+)([a-zA-Z]*)$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}


def scaled_int(text: str, default_unit: str) -> int:
    """virsh's scaled integers: `10M`, `1GiB` (powers of 1024), `512KB` (of 1000), `b` bytes;
    a bare number is in `default_unit` ("b", "KiB")."""
    match = _SCALED.match(text.strip())
    if match is None:
        raise ValueError("")  # not a number: virsh says only "Malformed size"
    suffix = (match.group(2) or default_unit).lower()
    if suffix in ("b", "byte", "bytes"):
        return int(match.group(1))
    power = _POWERS.get(suffix[0]) if suffix else None
    rest = suffix[1:]
    if power is None or rest not in ("", "ib", "b"):
        raise ValueError(f"invalid argument: unknown suffix '{match.group(2)}'")
    return int(match.group(1)) * (1000 if rest == "b" else 1024) ** power


def colour_enabled(stream: TextIO) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


_STATE_COLOURS = {"running": "32", "paused": "33", "shut off": "2", "crashed": "31"}


def state_text(state: str, stream: TextIO = sys.stdout) -> str:
    """A domain state, coloured when printed to a terminal (pyvirsh only)."""
    code = _STATE_COLOURS.get(state)
    if code is None or not colour_enabled(stream):
        return state
    return f"\x1b[{code}m{state}\x1b[0m"
