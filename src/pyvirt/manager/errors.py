"""Failures as the page sees them: JSON with the message (libvirt's verbatim), never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from pyvirt.virterror import ErrorCode, VirtError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS = {
    ErrorCode.NO_DOMAIN: 404,
    ErrorCode.NO_STORAGE_POOL: 404,
    ErrorCode.NO_STORAGE_VOL: 404,
    ErrorCode.NO_DOMAIN_SNAPSHOT: 404,
    ErrorCode.OPERATION_DENIED: 403,
    ErrorCode.RPC: 502,
    ErrorCode.SYSTEM_ERROR: 502,
}


class ApiError(Exception):
    """A refusal by the manager itself; `field` names the form field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def error_response(status: int, message: str, field: str | None = None) -> web.Response:
    body: dict[str, str] = {"error": message}
    if field is not None:
        body["field"] = field
    return web.json_response(body, status=status)


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as e:
        return error_response(e.status, e.message, e.field)
    except VirtError as e:
        return error_response(_STATUS.get(e.code, 400), e.message)
    except web.HTTPException:
        raise
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return error_response(500, "internal error in pyvirt-manager (see its log)")
