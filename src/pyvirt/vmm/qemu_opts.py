"""QEMU's option syntax: `key=value,key=value`, ",," for a literal comma, an implied first key."""

from __future__ import annotations

import re

from pyvirt.vmm.errors import OptionError

_SIZE_SUFFIXES = {"b": 0, "k": 10, "m": 20, "g": 30, "t": 40, "p": 50, "e": 60}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([bkmgtpeBKMGTPE]?)\s*$")
_TRUE = {"on", "yes", "true", "y"}
_FALSE = {"off", "no", "false", "n"}


def split_commas(text: str) -> list[str]:
    """Split at single commas; ",," stands for a literal comma."""
    items, current, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == ",":
            if text[i + 1 : i + 2] == ",":
                current.append(",")
                i += 2
                continue
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    items.append("".join(current))
    return items


def parse_opts(
    option: str,
    text: str,
    implied: str | None,
    *,
    flags: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Parse "[implied=]value,key=value,flag,noflag" into a dict.

    `flags` are boolean keys that may appear bare ("server") or negated with a
    "no" prefix ("nowait"), as QEMU's legacy syntax allows.
    """
    out: dict[str, str] = {}
    # As QEMU does, the first item is the implied key's value when a comma (even one of
    # an escaped ",,") or the end comes before any "=": "a,,b=c" is the value "a,b=c".
    first_key = implied if "=" not in text.split(",", 1)[0] else None
    for index, item in enumerate(split_commas(text)):
        if item == "" and index:
            continue
        if index == 0 and first_key is not None:
            key, value = first_key, item
        elif "=" in item:
            key, value = item.split("=", 1)
        elif item in flags:
            key, value = item, "on"
        elif item.startswith("no") and item[2:] in flags:
            key, value = item[2:], "off"
        else:
            raise OptionError(option, f"invalid parameter '{item}' in '{text}'")
        if key in out:
            raise OptionError(option, f"parameter '{key}' given twice")
        out[key] = value
    return out


def check_keys(option: str, opts: dict[str, str], allowed: set[str] | frozenset[str]) -> None:
    for key in opts:
        if key not in allowed:
            raise OptionError(option, f"unsupported parameter '{key}'")


def parse_bool(option: str, key: str, value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise OptionError(option, f"parameter '{key}' expects 'on' or 'off', not '{value}'")


def parse_size(option: str, text: str, default_suffix: str = "b") -> int:
    """A size with QEMU's suffixes (k, M, G, T, P, E; powers of 1024)."""
    m = _SIZE_RE.match(text)
    if not m:
        raise OptionError(option, f"invalid size '{text}'")
    number, suffix = m.group(1), (m.group(2) or default_suffix).lower()
    value = float(number) * (1 << _SIZE_SUFFIXES[suffix])
    if "." in number and suffix == "b":
        raise OptionError(option, f"invalid size '{text}': fractional bytes")
    if value >= 1 << 64:
        raise OptionError(option, f"size '{text}' is too large")
    return int(value)


def parse_int(option: str, key: str, text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise OptionError(option, f"parameter '{key}' expects a number, not '{text}'") from None
