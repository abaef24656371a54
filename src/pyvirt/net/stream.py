"""-netdev stream / socket: Ethernet frames over a TCP or unix stream, QEMU's framing.

Each frame travels as a 4-byte big-endian length and the frame itself, as
QEMU's socket and stream netdevs send them, so a pyvirt VM and a QEMU VM can
share one link. A server takes one peer at a time and listens again when it
leaves; a client connects when the backend is opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
from collections.abc import Sequence
from typing import Any

from pyvirt import sockets
from pyvirt.net.backend import MAX_FRAME, Buffer, NetBackend, OutputQueue
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import StreamNetdev

log = logging.getLogger(__name__)

_LEN = struct.Struct(">I")
READ_SIZE = 256 * 1024


class StreamBackend(NetBackend):
    def __init__(self, spec: StreamNetdev) -> None:
        super().__init__(spec.id)
        self.spec = spec
        self.kind = spec.kind
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.output: OutputQueue | None = None
        self.inbuf = bytearray()
        self.reading = False
        try:
            if spec.server:
                self.listener = sockets.listen(spec.path, spec.host, spec.port)
            else:
                self._connected(sockets.connect(spec.path, spec.host, spec.port))
        except OSError as e:
            raise VmmError(
                f"-netdev {spec.kind},id={spec.id}: {spec.address_text}: {e.strerror or e}"
            ) from None

    # --- addresses -----------------------------------------------------------------------

    @property
    def address(self) -> Any:
        """The listening address (with the port the kernel chose for port 0)."""
        sock = self.listener or self.conn
        assert sock is not None
        return sock.getsockname()

    # --- connection life cycle ------------------------------------------------------------

    def _connected(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        if conn.family in (socket.AF_INET, socket.AF_INET6):
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conn = conn
        self.inbuf.clear()
        self.output = OutputQueue(self, conn.fileno(), conn.sendmsg, self._lost)
        if self.loop is not None:
            self._set_reading(not self.paused)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        if self.listener is not None and self.conn is None:
            loop.add_reader(self.listener.fileno(), self._accept)

    def _accept(self) -> None:
        assert self.listener is not None and self.loop is not None
        try:
            conn, peer = self.listener.accept()
        except BlockingIOError:
            return
        except OSError as e:
            log.warning("netdev %s: accept failed: %s", self.id, e)
            return
        log.info("netdev %s: connection from %s", self.id, peer or "a unix socket")
        self.loop.remove_reader(self.listener.fileno())  # one peer at a time, as QEMU
        self._connected(conn)

    def _lost(self, error: OSError | None = None) -> None:
        """The peer left (or broke the framing): drop the connection, listen again."""
        conn = self.conn
        if conn is None:
            return
        log.info("netdev %s: peer disconnected%s", self.id, f" ({error})" if error else "")
        self._set_reading(False)
        self.conn = None
        if self.output is not None:
            output, self.output = self.output, None
            output.clear()
        conn.close()
        self.inbuf.clear()
        if self.listener is not None and self.loop is not None and not self.closed:
            self.loop.add_reader(self.listener.fileno(), self._accept)

    def close(self) -> None:
        super().close()
        if self.conn is not None:
            self._lost()
        if self.listener is not None:
            if self.loop is not None:
                self.loop.remove_reader(self.listener.fileno())
            self.listener.close()
            self.listener = None
            if self.spec.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.spec.path)

    # --- frames ---------------------------------------------------------------------------

    def send(self, parts: Sequence[Buffer]) -> bool:
        if self.output is None:
            self.stats.tx_drop += 1  # nobody on the other end of the cable
            return True
        length = sum(len(p) for p in parts)
        return self.output.send([_LEN.pack(length), *parts])

    def _set_reading(self, on: bool) -> None:
        if self.conn is None or self.loop is None:
            return
        if on:
            self._parse()  # frames already read come first
            on = not self.paused and self.conn is not None
        if on != self.reading and self.conn is not None:
            if on:
                self.loop.add_reader(self.conn.fileno(), self._readable)
            else:
                self.loop.remove_reader(self.conn.fileno())
            self.reading = on
        if self.conn is None:
            self.reading = False

    def _readable(self) -> None:
        assert self.conn is not None
        try:
            data = self.conn.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            self._lost(e)
            return
        if not data:
            self._lost()
            return
        self.inbuf += data
        self._parse()

    def _parse(self) -> None:
        buf = self.inbuf
        offset = 0
        while not self.paused and len(buf) - offset >= 4:
            (length,) = _LEN.unpack_from(buf, offset)
            if length > MAX_FRAME:
                del buf[:]
                self._lost(OSError(f"frame length {length} is larger than {MAX_FRAME}"))
                return
            if len(buf) - offset - 4 < length:
                break
            frame = bytes(buf[offset + 4 : offset + 4 + length])
            offset += 4 + length
            if frame:
                self.deliver(frame)
        del buf[:offset]
