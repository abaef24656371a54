"""Cross-site request forgery: state changes need the session's token and a same-origin request.

The page reads its token from a <meta> tag and sends it as X-CSRF-Token (the
console websocket, which cannot set headers, as ?csrf=). A browser also sends
Origin on such requests; one from another site is refused outright.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from .auth import SESSION
from .errors import Handler, error_response

HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    return origin is None or origin == f"{request.scheme}://{request.host}"


def _is_websocket(request: web.Request) -> bool:
    return request.headers.get("Upgrade", "").lower() == "websocket"


@web.middleware
async def csrf_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    changes_state = request.method not in SAFE_METHODS or _is_websocket(request)
    if not changes_state:
        return await handler(request)
    if not _same_origin(request):
        return error_response(403, "cross-site request refused")
    session = request.get(SESSION)
    if session is not None:  # else the login form, which has no session yet
        sent = request.headers.get(HEADER) or request.query.get("csrf", "")
        if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            return error_response(403, "missing or wrong CSRF token: reload the page")
    return await handler(request)
