"""JSON exactly as QEMU prints it (qobject_to_json_pretty).

QEMU's dictionaries are hash tables of 512 buckets iterated in bucket order,
newest entry first within a bucket, so the key order on output is a function
of the key names, not of the order they were added in.
"""

from __future__ import annotations

from typing import Any

BUCKETS = 512


def _bucket(key: str) -> int:
    data = key.encode()
    value = (0x238F13AF * len(data)) & 0xFFFFFFFF
    for i, c in enumerate(data):
        value = (value + (c << (i * 5 % 24))) & 0xFFFFFFFF
    return ((1103515243 * value + 12345) & 0xFFFFFFFF) % BUCKETS


def qdict_items(d: dict[str, Any]) -> list[tuple[str, Any]]:
    """`d`'s items in the order QEMU iterates a QDict built by inserting them in order."""
    items = list(d.items())
    ranked = sorted(enumerate(items), key=lambda p: (_bucket(p[1][0]), -p[0]))
    return [item for _, item in ranked]


def _string(s: str) -> str:
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\b\f\n\r\t":
            out.append({"\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x20 or code >= 0x7F:
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 | (code >> 10):04X}\\u{0xDC00 | (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def dumps(value: Any, indent: int = 0) -> str:
    """Pretty JSON, four spaces per level, as `qemu-img ... --output=json` prints it."""
    pad = "    " * (indent + 1)
    end = "    " * indent
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _string(value)
    if value is None:
        return "null"
    if isinstance(value, dict):
        if not value:
            return "{}"
        body = ",\n".join(
            f"{pad}{_string(k)}: {dumps(v, indent + 1)}" for k, v in qdict_items(value)
        )
        return "{\n" + body + "\n" + end + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        body = ",\n".join(pad + dumps(v, indent + 1) for v in value)
        return "[\n" + body + "\n" + end + "]"
    raise TypeError(f"cannot print {type(value).__name__} as QEMU JSON")
