"""The QMP server: listening sockets on the VMM's main loop, any number of clients.

Each client has its own session and is served in order, one request at a time;
clients do not wait for each other. A client that sends garbage gets errors, one
that stops reading is dropped once its unread output passes a limit, and one
that disconnects only ends its own session. Events go to every client that has
finished capabilities negotiation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Mapping

from .json_stream import JsonStream, ParseError
from .protocol import Command, Reply, Session, event, greeting, parse_error

log = logging.getLogger(__name__)

READ_SIZE = 65536
OUTPUT_LIMIT = 16 << 20  # unread bytes a client may leave queued before it is dropped
CLOSE_TIMEOUT = 2.0


class _Client:
    def __init__(self, writer: asyncio.StreamWriter, commands: Mapping[str, Command]) -> None:
        self.writer = writer
        self.session = Session(commands)

    def send(self, message: Reply) -> None:
        if self.writer.is_closing():
            return
        self.writer.write(json.dumps(message).encode() + b"\r\n")
        if self.writer.transport.get_write_buffer_size() > OUTPUT_LIMIT:
            log.warning("QMP client not reading its replies: disconnected")
            self.writer.close()


class QmpServer:
    def __init__(self, commands: Mapping[str, Command], version: Mapping[str, object]) -> None:
        self.commands = commands
        self.version = version
        self.loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._clients: set[_Client] = set()
        self._first_client = asyncio.Event()

    async def serve(self, listeners: list[socket.socket]) -> None:
        """Start accepting on `listeners` (bound, listening sockets) on the running loop."""
        self.loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        for sock in listeners:
            start = (
                asyncio.start_unix_server if sock.family == socket.AF_UNIX else asyncio.start_server
            )
            self._servers.append(await start(self._serve_client, sock=sock))

    async def wait_for_client(self) -> None:
        """wait=on: the VM starts once a first client has connected."""
        await self._first_client.wait()

    def emit(self, name: str, data: Mapping[str, object] | None = None) -> None:
        """Send an event to every negotiated client; safe from any thread."""
        message = event(name, data)
        if self.loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._broadcast(message)
        else:
            with contextlib.suppress(RuntimeError):  # the loop is closing
                self.loop.call_soon_threadsafe(self._broadcast, message)

    def _broadcast(self, message: Reply) -> None:
        for client in list(self._clients):
            if client.session.negotiated:
                client.send(message)

    async def _serve_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        client = _Client(writer, self.commands)
        self._clients.add(client)
        self._first_client.set()
        stream = JsonStream()
        try:
            client.send(greeting(self.version))
            while not writer.is_closing() and (data := await reader.read(READ_SIZE)):
                for value in stream.feed(data):
                    if isinstance(value, ParseError):
                        client.send(parse_error(value.desc))
                    else:
                        client.send(await client.session.handle(value))
        except (ConnectionError, OSError) as e:
            log.debug("QMP client gone: %s", e)
        except asyncio.CancelledError:
            pass  # the VMM is exiting
        except Exception:  # a VMM bug in a command must not take the monitor down
            log.exception("QMP client session failed")
        finally:
            self._clients.discard(client)
            writer.close()

    async def close(self) -> None:
        """Flush what the clients have been sent (the last events), then close everything."""
        for server in self._servers:
            server.close()
        for client in list(self._clients):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.writer.drain(), CLOSE_TIMEOUT)
            client.writer.close()
        self._clients.clear()
