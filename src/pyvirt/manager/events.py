"""The push channel: every page holds one server-sent-events stream of JSON messages.

Messages: {"type": "domain", "conn", "domain": summary}, {"type": "domain-removed",
"conn", "name"}, {"type": "stats", "conn", "t", "samples": {name: sample}} and
{"type": "connection", "connection": summary}.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

HEARTBEAT = 15.0  # seconds: keeps proxies from closing an idle stream
QUEUE_LIMIT = 1000  # messages a slow page may fall behind before it is dropped


class Hub:
    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()

    def publish(self, message: dict[str, Any]) -> None:
        for q in list(self._queues):
            try:
                q.put_nowait(message)
            except asyncio.QueueFull:
                self._queues.discard(q)
                q.get_nowait()
                q.put_nowait(None)  # ends that stream; the page reconnects and reloads

    async def stream(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store"}
        )
        await response.prepare(request)
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(QUEUE_LIMIT)
        self._queues.add(q)
        try:
            await response.write(b": hello\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(q.get(), HEARTBEAT)
                except TimeoutError:
                    await response.write(b": heartbeat\n\n")
                    continue
                if message is None:
                    break
                await response.write(f"data: {json.dumps(message)}\n\n".encode())
            await response.write_eof()
        except ConnectionResetError:
            pass  # the page went away
        finally:
            self._queues.discard(q)
        return response
