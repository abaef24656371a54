"""Argument checking for QMP commands, with QEMU's error texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .errors import QmpError

# JSON type name as QEMU's error messages spell it -> the Python types that match
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


@dataclass(frozen=True)
class Param:
    name: str
    type: str  # a key of _TYPES
    required: bool = True
    enum: tuple[str, ...] = ()  # array of strings: the allowed items


def check_arguments(params: tuple[Param, ...], args: Mapping[str, object]) -> dict[str, object]:
    """The arguments, checked against `params`; raises QmpError as QEMU words it."""
    known = {p.name: p for p in params}
    for name in args:
        if name not in known:
            raise QmpError(f"Parameter '{name}' is unexpected")
    for param in params:
        if param.name not in args:
            if param.required:
                raise QmpError(f"Parameter '{param.name}' is missing")
            continue
        value = args[param.name]
        kinds = _TYPES[param.type]
        if not isinstance(value, kinds) or (param.type == "integer" and isinstance(value, bool)):
            raise QmpError(f"Invalid parameter type for '{param.name}', expected: {param.type}")
        if param.enum and isinstance(value, list):
            for item in value:
                if item not in param.enum:
                    raise QmpError(f"Parameter 'null' does not accept value '{item}'")
    return dict(args)
