"""A domain's serial console: the host end of its pty as asyncio streams."""

from __future__ import annotations

import asyncio
import os
import tty
from dataclasses import dataclass


@dataclass
class PtyConsole:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


async def open_pty_console(path: str) -> PtyConsole:
    """Open `path` raw (bytes pass unchanged both ways); closing the writer closes the pty."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        tty.setraw(fd)
        write_fd = os.dup(fd)
    except OSError:
        os.close(fd)
        raise
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    transport, protocol = await loop.connect_write_pipe(
        asyncio.streams.FlowControlMixin, os.fdopen(write_fd, "wb", buffering=0)
    )
    return PtyConsole(reader, asyncio.StreamWriter(transport, protocol, reader, loop))
