"""The application's shared objects, and reading them (and JSON bodies) from a request."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from .auth import Auth
from .connections import Connection, Connections
from .errors import ApiError
from .events import Hub
from .stats import Sampler

AUTH = web.AppKey("auth", Auth)
HUB = web.AppKey("hub", Hub)
CONNECTIONS = web.AppKey("connections", Connections)
SAMPLER = web.AppKey("sampler", Sampler)


def connection(request: web.Request) -> Connection:
    return request.app[CONNECTIONS].get(request.match_info["cid"])


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the request body is not JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return body
