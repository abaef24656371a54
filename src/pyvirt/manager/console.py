"""The serial console over a websocket, bridged to the daemon's console stream.

Binary frames to the page carry the guest's output; text frames from the page
are keystrokes. JSON text frames to the page report why the console closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

from aiohttp import WSMsgType, web

from pyvirt.client import virConnect, virStream
from pyvirt.virterror import VirtError

from .appkeys import connection
from .errors import ApiError

CHUNK = 65536


def _pump(stream: virStream, loop: asyncio.AbstractEventLoop, out: asyncio.Queue[bytes]) -> None:
    """Guest output to the loop until the stream ends (b"" tells the loop so)."""
    with contextlib.suppress(VirtError):
        while data := stream.recv(CHUNK):
            loop.call_soon_threadsafe(out.put_nowait, data)
    with contextlib.suppress(RuntimeError):  # the loop is gone: the server is stopping
        loop.call_soon_threadsafe(out.put_nowait, b"")


async def console(request: web.Request) -> web.WebSocketResponse:
    conn, name = connection(request), request.match_info["name"]
    ws = web.WebSocketResponse(heartbeat=30)
    await ws.prepare(request)

    def open_stream(v: virConnect) -> virStream:
        stream = v.newStream(0)
        v.lookupByName(name).openConsole(None, stream, 0)
        return stream

    try:
        stream = await conn.run(open_stream)
    except (VirtError, ApiError) as e:
        await ws.send_json({"type": "error", "message": e.message})
        await ws.close()
        return ws
    output: asyncio.Queue[bytes] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    threading.Thread(target=_pump, args=(stream, loop, output), daemon=True).start()

    async def forward_output() -> None:
        while data := await output.get():
            await ws.send_bytes(data)
        await ws.send_json({"type": "closed", "message": "the console closed"})
        await ws.close()

    sender = asyncio.create_task(forward_output())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await asyncio.to_thread(stream.send, msg.data.encode())
            elif msg.type == WSMsgType.BINARY:
                await asyncio.to_thread(stream.send, msg.data)
    except VirtError:
        pass  # the stream ended under the keystroke; forward_output says so
    finally:
        sender.cancel()
        await asyncio.to_thread(stream.abort)
    return ws
