"""Stream sockets on a unix path or a TCP host:port, as QEMU's socket options name them."""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any


def _inet(host: str | None, port: int | None, passive: bool) -> tuple[int, Any]:
    flags = socket.AI_PASSIVE if passive else 0
    infos = socket.getaddrinfo(host or None, port or 0, type=socket.SOCK_STREAM, flags=flags)
    family, _, _, _, address = infos[0]
    return family, address


def listen(path: str | None, host: str | None = None, port: int | None = None) -> socket.socket:
    """A non-blocking listening socket; a stale unix socket file is replaced, as QEMU does."""
    if path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = path
        with contextlib.suppress(FileNotFoundError):
            if not os.path.isdir(path):
                os.unlink(path)
    else:
        family, address = _inet(host, port, passive=True)
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(1)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def connect(path: str | None, host: str | None = None, port: int | None = None) -> socket.socket:
    """A connected (blocking) socket to a unix path or TCP host:port."""
    if path is not None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        address: Any = path
    else:
        family, address = _inet(host or "localhost", port, passive=False)
        sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock
