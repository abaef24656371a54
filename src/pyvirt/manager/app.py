"""The aiohttp application: middlewares, routes, the page, and the background sampler."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from pyvirt.virterror import VirtError

from . import console, domains, snapshots, storage
from .appkeys import AUTH, CONNECTIONS, HUB, SAMPLER, json_body
from .auth import SESSION, Auth
from .connections import Connections
from .csrf import csrf_middleware
from .errors import ApiError, errors_middleware
from .events import Hub
from .saved import SavedConnections
from .stats import Sampler

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
STATIC = HERE / "static"
NODE_MODULES = HERE / "web" / "node_modules"
VENDOR = {  # URL name -> file installed by `npm ci` (dev.sh setup)
    "xterm.js": NODE_MODULES / "@xterm/xterm/lib/xterm.js",
    "xterm.css": NODE_MODULES / "@xterm/xterm/css/xterm.css",
    "addon-fit.js": NODE_MODULES / "@xterm/addon-fit/lib/addon-fit.js",
}
SECURITY_HEADERS = {
    # xterm.js styles its rows with a <style> element, hence style-src's 'unsafe-inline'.
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


async def index(request: web.Request) -> web.Response:
    page = (STATIC / "index.html").read_text()
    csrf = html.escape(request[SESSION].csrf)
    return web.Response(text=page.replace("{{csrf}}", csrf), content_type="text/html")


async def login(request: web.Request) -> web.StreamResponse:
    return await request.app[AUTH].login(request)


async def vendor(request: web.Request) -> web.FileResponse:
    path = VENDOR.get(request.match_info["file"])
    if path is None or not path.exists():
        raise web.HTTPNotFound(text="not installed: run ./dev.sh setup (npm ci)")
    return web.FileResponse(path)


async def list_connections(request: web.Request) -> web.Response:
    conns = request.app[CONNECTIONS].by_id.values()
    return web.json_response([c.summary() for c in conns])


async def add_connection(request: web.Request) -> web.Response:
    uri = (await json_body(request)).get("uri")
    if not isinstance(uri, str) or not uri.strip():
        raise ApiError(400, "URI is required", field="uri")
    conn = await request.app[CONNECTIONS].add(uri.strip())
    return web.json_response(conn.summary(), status=201)


async def reconnect(request: web.Request) -> web.Response:
    conn = request.app[CONNECTIONS].get(request.match_info["cid"])
    await conn.open()
    return web.json_response(conn.summary())


async def remove_connection(request: web.Request) -> web.Response:
    await request.app[CONNECTIONS].remove(request.match_info["cid"])
    return web.json_response({})


async def events(request: web.Request) -> web.StreamResponse:
    return await request.app[HUB].stream(request)


async def on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def routes() -> list[web.RouteDef]:
    c = "/api/c/{cid}"
    d = c + "/domains/{name}"
    p = c + "/pools/{pool}"
    return [
        web.get("/", index),
        web.get("/login", login),
        web.post("/login", login),
        web.get("/vendor/{file}", vendor),
        web.static("/static", STATIC),
        web.get("/api/events", events),
        web.get("/api/connections", list_connections),
        web.post("/api/connections", add_connection),
        web.post(c + "/connect", reconnect),
        web.delete(c, remove_connection),
        web.get(c + "/domains", domains.list_domains),
        web.post(c + "/domains", domains.create_domain),
        web.get(d, domains.domain_details),
        web.delete(d, domains.delete_domain),
        web.put(d + "/xml", domains.update_xml),
        web.post(d + "/actions/{action}", domains.domain_action),
        web.get(d + "/console", console.console),
        *snapshots.routes(d),
        web.get(c + "/pools", storage.list_pools),
        web.post(c + "/pools", storage.create_pool),
        web.delete(p, storage.delete_pool),
        web.post(p + "/actions/{action:start|stop}", storage.pool_action),
        web.post(p + "/volumes", storage.create_volume),
        web.delete(p + "/volumes/{vol}", storage.delete_volume),
    ]


def make_app(
    auth: Auth, uris: list[str], saved: SavedConnections | None = None, default_uri: str = ""
) -> web.Application:
    """At start, the connections `saved` by earlier runs and `uris` are opened; with
    neither, `default_uri`."""
    app = web.Application(middlewares=[errors_middleware, auth.middleware, csrf_middleware])
    hub = Hub()
    connections = Connections(hub, saved)
    app[AUTH] = auth
    app[HUB] = hub
    app[CONNECTIONS] = connections
    app[SAMPLER] = Sampler(connections, hub)
    app.add_routes(routes())
    app.on_response_prepare.append(on_prepare)

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        earlier = connections.saved.load()
        wanted = earlier + [u for u in uris if u not in earlier]
        for uri in wanted or ([default_uri] if default_uri else []):
            try:
                conn = await connections.add(uri)
            except (VirtError, ApiError) as e:  # a saved URI that is malformed or repeated
                log.warning("ignoring connection %s: %s", uri, e)
                continue
            if conn.error:
                log.warning("cannot connect to %s: %s", uri, conn.error)
        sampler = asyncio.create_task(app[SAMPLER].run())
        yield
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        await connections.close()

    app.cleanup_ctx.append(lifetime)
    return app
