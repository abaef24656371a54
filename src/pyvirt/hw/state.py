"""The device state interface for snapshots: `save_state() -> dict` and `load_state(dict)`.

A state is a JSON object: ints, bools, strings, lists and nested objects; bytes
are stored as base64 text (`blob`/`unblob`). A snapshot file comes from outside,
so `load_state` treats it as hostile: every field is fetched through `get`,
which checks its presence and type and names the field when it is wrong.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Protocol, TypeVar

State = dict[str, Any]
T = TypeVar("T")


class StateError(ValueError):
    """A saved state that does not fit the device; the message names the field."""


class Stateful(Protocol):
    def save_state(self) -> State: ...

    def load_state(self, state: Mapping[str, Any]) -> None: ...


def get(state: Mapping[str, Any], key: str, kind: type[T]) -> T:
    """state[key], which must be a `kind` (bool is not an int here)."""
    if not isinstance(state, Mapping):
        raise StateError(f"expected an object holding '{key}'")
    if key not in state:
        raise StateError(f"'{key}' is missing")
    value = state[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise StateError(f"'{key}' is not {kind.__name__}")
    return value


def get_uint(state: Mapping[str, Any], key: str, bits: int) -> int:
    value = get(state, key, int)
    if not 0 <= value < 1 << bits:
        raise StateError(f"'{key}' = {value} does not fit in {bits} bits")
    return value


def blob(data: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(data).decode()


def unblob(state: Mapping[str, Any], key: str, size: int | None = None) -> bytes:
    """The bytes stored at `key`; exactly `size` of them if given."""
    try:
        data = base64.b64decode(get(state, key, str), validate=True)
    except binascii.Error:
        raise StateError(f"'{key}' is not base64") from None
    if size is not None and len(data) != size:
        raise StateError(f"'{key}' holds {len(data)} bytes, not {size}")
    return data


def save_registers(obj: object, widths: Mapping[str, int]) -> State:
    """The integer attributes named in `widths` (name -> bits)."""
    return {name: getattr(obj, name) for name in widths}


def load_registers(obj: object, state: Mapping[str, Any], widths: Mapping[str, int]) -> None:
    """Set the integer attributes named in `widths`, each checked against its width."""
    values = {name: get_uint(state, name, bits) for name, bits in widths.items()}
    for name, value in values.items():
        setattr(obj, name, value)


def load_child(name: str, device: Stateful, state: Mapping[str, Any]) -> None:
    """Load a part's state, prefixing any error with the part's name."""
    try:
        device.load_state(get(state, name, dict))
    except StateError as e:
        raise StateError(f"{name}: {e}") from None
