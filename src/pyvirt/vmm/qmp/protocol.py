"""One QMP client's session: the greeting, capabilities negotiation, request checking and
replies, all with QEMU's wording. Transport-free: the server feeds it decoded JSON values.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from .errors import COMMAND_NOT_FOUND, QmpError
from .schema import Param, check_arguments

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, object]], Awaitable[object]]
Reply = dict[str, object]

CAPABILITIES = ("oob",)
_REQUEST_KEYS = ("execute", "exec-oob", "arguments", "id")


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    params: tuple[Param, ...] = ()
    allow_oob: bool = False


def greeting(version: Mapping[str, object]) -> Reply:
    return {"QMP": {"version": dict(version), "capabilities": list(CAPABILITIES)}}


def event(name: str, data: Mapping[str, object] | None = None) -> Reply:
    """An event message stamped with the wall-clock time, as QEMU stamps them."""
    now = time.time_ns() // 1000
    message: Reply = {
        "timestamp": {"seconds": now // 1_000_000, "microseconds": now % 1_000_000},
        "event": name,
    }
    if data is not None:
        message["data"] = dict(data)
    return message


def parse_error(desc: str) -> Reply:
    return QmpError(f"JSON parse error, {desc}").reply()


class Session:
    """Capabilities negotiation mode until qmp_capabilities, then command mode."""

    def __init__(self, commands: Mapping[str, Command]) -> None:
        self.commands = commands
        self.negotiated = False
        self.oob = False

    async def handle(self, request: object) -> Reply:
        """The reply to one request (never raises for a bad request: the reply says why)."""
        request_id = request.get("id") if isinstance(request, dict) else None
        try:
            reply: Reply = {"return": await self._dispatch(request)}
        except QmpError as e:
            reply = e.reply()
        except Exception as e:  # a VMM bug: the client hears of it, the monitor lives on
            log.exception("QMP command failed")
            reply = QmpError(f"internal error: {e}").reply()
        if isinstance(request, dict) and "id" in request:
            reply = {"id": request_id, **reply} if "error" in reply else {**reply, "id": request_id}
        return reply

    async def _dispatch(self, request: object) -> object:
        name, args, oob = _parse_request(request)
        if oob and not self.oob:
            raise QmpError("QMP input member 'exec-oob' is unexpected")
        if name == "qmp_capabilities":
            return self._negotiate(args)
        if not self.negotiated:
            raise QmpError(
                "Expecting capabilities negotiation with 'qmp_capabilities'", COMMAND_NOT_FOUND
            )
        command = self.commands.get(name)
        if command is None:
            raise QmpError(f"The command {name} has not been found", COMMAND_NOT_FOUND)
        if oob and not command.allow_oob:
            raise QmpError(f"The command {name} does not support OOB")
        return await command.handler(check_arguments(command.params, args))

    def _negotiate(self, args: dict[str, object]) -> object:
        if self.negotiated:
            raise QmpError(
                "Capabilities negotiation is already complete, command ignored", COMMAND_NOT_FOUND
            )
        params = (Param("enable", "array", required=False, enum=CAPABILITIES),)
        checked = check_arguments(params, args)
        self.oob = "oob" in checked.get("enable", [])  # type: ignore[operator]
        self.negotiated = True
        return {}


def _parse_request(request: object) -> tuple[str, dict[str, object], bool]:
    """(command name, arguments, out-of-band) of a request, checked as QEMU checks it."""
    if not isinstance(request, dict):
        raise QmpError("QMP input must be a JSON object")
    for key in request:
        if key not in _REQUEST_KEYS:
            raise QmpError(f"QMP input member '{key}' is unexpected")
    if "execute" in request and "exec-oob" in request:
        raise QmpError("QMP input must not have both 'execute' and 'exec-oob'")
    key = "exec-oob" if "exec-oob" in request else "execute"
    if key not in request:
        raise QmpError("QMP input lacks member 'execute'")
    name = request[key]
    if not isinstance(name, str):
        raise QmpError(f"QMP input member '{key}' must be a string")
    args = request.get("arguments", {})
    if not isinstance(args, dict):
        raise QmpError("QMP input member 'arguments' must be an object")
    return name, args, key == "exec-oob"
