"""Conversions between the driver's dataclasses / VirtError and the wire's dicts."""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from pyvirt.drivers.base import DomainRef, PoolRef, VolRef
from pyvirt.virterror import ErrorCode, ErrorDomain, ErrorLevel, VirtError


def dom_to_wire(ref: DomainRef) -> dict[str, Any]:
    return {"name": ref.name, "uuid": ref.uuid, "id": ref.id}


def dom_from_wire(d: dict[str, Any]) -> DomainRef:
    return DomainRef(d["name"], d["uuid"], d["id"])


def pool_to_wire(ref: PoolRef) -> dict[str, Any]:
    return {"name": ref.name, "uuid": ref.uuid}


def pool_from_wire(d: dict[str, Any]) -> PoolRef:
    return PoolRef(d["name"], d["uuid"])


def vol_to_wire(ref: VolRef) -> dict[str, Any]:
    return {"pool": ref.pool, "name": ref.name, "key": ref.key}


def vol_from_wire(d: dict[str, Any]) -> VolRef:
    return VolRef(d["pool"], d["name"], d["key"])


def error_to_wire(err: VirtError) -> dict[str, Any]:
    return {
        "code": int(err.code),
        "domain": int(err.domain),
        "message": err.message,
        "level": int(err.level),
        "dom": None,
        "str1": None,
        "str2": None,
        "str3": None,
        "int1": 0,
        "int2": 0,
        "net": None,
    }


def _known(enum: type[IntEnum], value: int) -> Any:
    return enum(value) if value in enum._value2member_map_ else value


def error_from_wire(d: dict[str, Any]) -> VirtError:
    """A remote_error as VirtError; codes this side has no name for keep their number."""
    err = VirtError(
        _known(ErrorCode, d["code"]),
        d["message"] or "unknown error",
        _known(ErrorDomain, d["domain"]),
    )
    err.level = _known(ErrorLevel, d["level"])
    return err
