"""Character devices: the host ends of the guest's serial lines.

Backends open their files, sockets and terminals when created, so a bad path is
reported before the VM starts. Input is read on the main loop and handed to
the receiver (the UART); output may come from any vCPU thread and never blocks
on a peer that stopped reading: socket and pty output queues up to a limit and
is dropped while no peer is connected, as QEMU does.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import select
import socket
import sys
import threading
import tty
from collections.abc import Callable

from pyvirt import sockets
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.options import ChardevSpec
from pyvirt.vmm.terminal import RawTerminal

log = logging.getLogger(__name__)

Receiver = Callable[[bytes], None]
PENDING_LIMIT = 1 << 20
READ_SIZE = 4096


class Chardev:
    """Base class: a receiver for input, a thread-safe write for output."""

    def __init__(self, spec: ChardevSpec) -> None:
        self.spec = spec
        self.id = spec.id
        self.receiver: Receiver | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._unclaimed = bytearray()

    def set_receiver(self, receiver: Receiver | None) -> None:
        self.receiver = receiver
        if receiver is not None and self._unclaimed:
            data, self._unclaimed = bytes(self._unclaimed), bytearray()
            receiver(data)

    def deliver(self, data: bytes) -> None:
        """Input for the guest; kept (up to a limit) while no device is attached yet, e.g.
        while a snapshot is being restored or the machine reboots."""
        if not data:
            return
        if self.receiver is not None:
            self.receiver(data)
            return
        room = PENDING_LIMIT - len(self._unclaimed)
        self._unclaimed += data[: max(room, 0)]

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass

    @property
    def filename(self) -> str:
        """The backend description QEMU reports in query-chardev."""
        return self.spec.backend


class NullChardev(Chardev):
    def write(self, data: bytes) -> None:
        pass


def _write_all(fd: int, data: bytes) -> None:
    """Blocking write of everything, even to a non-blocking fd."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            select.select([], [fd], [])
            continue
        view = view[written:]


class FileChardev(Chardev):
    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        assert spec.path is not None
        try:
            self.fd = os.open(
                spec.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644
            )
        except OSError as e:
            raise VmmError(
                f"chardev '{spec.id}': could not open '{spec.path}': {e.strerror}"
            ) from None

    def write(self, data: bytes) -> None:
        with self._lock:
            _write_all(self.fd, data)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def filename(self) -> str:
        return "file"  # QEMU 7.2 names no path for file chardevs


class StdioChardev(Chardev):
    """The VMM's own stdin/stdout; stdin is put in raw mode when it is a terminal."""

    def __init__(self, spec: ChardevSpec, escape: EscapeHandler | None) -> None:
        super().__init__(spec)
        self.escape = escape
        self.terminal = RawTerminal(sys.stdin.fileno(), signals=spec.signal)
        self.in_fd = sys.stdin.fileno()
        self.out_fd = sys.stdout.fileno()
        self.reading = False

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        self.terminal.enter()
        try:
            loop.add_reader(self.in_fd, self._readable)
            self.reading = True
        except (ValueError, OSError, PermissionError):
            log.debug("stdin cannot be polled; no input for %s", self.id)

    def _readable(self) -> None:
        try:
            data = os.read(self.in_fd, READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # EOF: stop reading, keep the guest running
            self._stop_reading()
            return
        if self.escape is not None:
            data = self.escape.filter(data)
        self.deliver(data)

    def _stop_reading(self) -> None:
        if self.reading and self.loop is not None:
            self.loop.remove_reader(self.in_fd)
            self.reading = False

    def write(self, data: bytes) -> None:
        with self._lock, contextlib.suppress(BrokenPipeError):
            _write_all(self.out_fd, data)

    def close(self) -> None:
        self._stop_reading()
        self.terminal.restore()


class _QueuedWriter:
    """Non-blocking output to a socket or pty master, queued while the peer is slow."""

    def __init__(self, owner: Chardev) -> None:
        self.owner = owner
        self.fd = -1
        self.pending = bytearray()
        self.dropped = 0
        self.waiting = False

    def attach(self, fd: int) -> None:
        self.fd = fd
        self.pending.clear()

    def detach(self) -> None:
        self.fd = -1
        self.pending.clear()
        self.waiting = False

    def write(self, data: bytes) -> None:
        """Called with the owner's lock held."""
        if self.fd < 0:
            return  # nobody connected: output is lost, as on an unplugged serial line
        if not self.pending:
            try:
                written = os.write(self.fd, data)
            except BlockingIOError:
                written = 0
            except OSError:
                return
            data = data[written:]
            if not data:
                return
        room = PENDING_LIMIT - len(self.pending)
        if room < len(data):
            self.dropped += len(data) - room
        self.pending += data[:room]
        if not self.waiting and self.owner.loop is not None:
            self.waiting = True
            self.owner.loop.call_soon_threadsafe(self._watch)

    def _watch(self) -> None:
        if self.fd >= 0 and self.owner.loop is not None:
            self.owner.loop.add_writer(self.fd, self._flush)

    def _flush(self) -> None:
        with self.owner._lock:
            try:
                written = os.write(self.fd, self.pending) if self.fd >= 0 else len(self.pending)
            except BlockingIOError:
                return
            except OSError:
                written = len(self.pending)
            del self.pending[:written]
            if not self.pending:
                self.waiting = False
                if self.owner.loop is not None and self.fd >= 0:
                    self.owner.loop.remove_writer(self.fd)


class PtyChardev(Chardev):
    """A pseudo-terminal whose slave side (/dev/pts/N) the user opens."""

    POLL_INTERVAL = 0.5

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.master, slave = os.openpty()
        self.path = os.ttyname(slave)
        tty.setraw(slave)
        os.close(slave)  # a closed slave tells us nobody is connected (EIO on read)
        os.set_blocking(self.master, False)
        self.writer = _QueuedWriter(self)
        self.connected = False
        print(f"char device redirected to {self.path} (label {spec.id})", flush=True)

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        self._poll()

    def _poll(self) -> None:
        """Reconnect when someone opens the slave (POLLHUP clears)."""
        if self.master < 0 or self.loop is None:
            return
        poller = select.poll()
        poller.register(self.master, select.POLLIN)
        hangup = any(ev & select.POLLHUP for _, ev in poller.poll(0))
        if hangup:
            self.loop.call_later(self.POLL_INTERVAL, self._poll)
            return
        with self._lock:
            self.connected = True
            self.writer.attach(self.master)
        self.loop.add_reader(self.master, self._readable)

    def _readable(self) -> None:
        try:
            data = os.read(self.master, READ_SIZE)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:
                raise
            data = b""
        if data:
            self.deliver(data)
            return
        assert self.loop is not None
        self.loop.remove_reader(self.master)
        with self._lock:
            self.connected = False
            self.writer.detach()
        self.loop.call_later(self.POLL_INTERVAL, self._poll)

    def write(self, data: bytes) -> None:
        with self._lock:
            self.writer.write(data)

    def close(self) -> None:
        if self.master >= 0:
            if self.loop is not None:
                self.loop.remove_reader(self.master)
                self.loop.remove_writer(self.master)
            os.close(self.master)
            self.master = -1

    @property
    def filename(self) -> str:
        return f"pty:{self.path}"


class SocketChardev(Chardev):
    """A unix or TCP stream socket, listening (server=on) or connecting; one peer at a time."""

    def __init__(self, spec: ChardevSpec) -> None:
        super().__init__(spec)
        self.listener: socket.socket | None = None
        self.conn: socket.socket | None = None
        self.writer = _QueuedWriter(self)
        try:
            if spec.server:
                self.listener = sockets.listen(spec.path, spec.host or "0.0.0.0", spec.port)
            else:
                self._set_conn(sockets.connect(spec.path, spec.host, spec.port))
        except OSError as e:
            raise VmmError(
                f"chardev '{spec.id}': {self.address_text()}: {e.strerror or e}"
            ) from None

    def address_text(self) -> str:
        if self.spec.path is not None:
            return f"unix:{self.spec.path}"
        return f"tcp:{self.spec.host}:{self.spec.port}"

    def wait_for_client(self) -> None:
        """server=on,wait=on: block until the first peer connects, as QEMU does."""
        if self.listener is None or self.conn is not None:
            return
        print(
            f"pyvirt-qemu: waiting for connection on: disconnected:{self.address_text()},server=on",
            file=sys.stderr,
        )
        self.listener.setblocking(True)
        conn, _ = self.listener.accept()
        self.listener.setblocking(False)
        self._set_conn(conn)

    def _set_conn(self, conn: socket.socket) -> None:
        conn.setblocking(False)
        with self._lock:
            self.conn = conn
            self.writer.attach(conn.fileno())

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        super().start(loop)
        if self.conn is not None:
            loop.add_reader(self.conn.fileno(), self._readable)
        elif self.listener is not None:
            loop.add_reader(self.listener.fileno(), self._accept)

    def _accept(self) -> None:
        assert self.listener is not None and self.loop is not None
        try:
            conn, _ = self.listener.accept()
        except BlockingIOError:
            return
        self.loop.remove_reader(self.listener.fileno())  # one peer at a time
        self._set_conn(conn)
        self.loop.add_reader(conn.fileno(), self._readable)

    def _readable(self) -> None:
        assert self.conn is not None and self.loop is not None
        try:
            data = self.conn.recv(READ_SIZE)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self.deliver(data)
            return
        self._disconnect()

    def _disconnect(self) -> None:
        assert self.loop is not None
        conn = self.conn
        if conn is None:
            return
        self.loop.remove_reader(conn.fileno())
        self.loop.remove_writer(conn.fileno())
        with self._lock:
            self.conn = None
            self.writer.detach()
        conn.close()
        if self.listener is not None:
            self.loop.add_reader(self.listener.fileno(), self._accept)

    def write(self, data: bytes) -> None:
        with self._lock:
            self.writer.write(data)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            if self.spec.path is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.spec.path)

    @property
    def filename(self) -> str:
        state = "" if self.conn is not None or self.listener is None else "disconnected:"
        return f"{state}{self.address_text()}{',server=on' if self.spec.server else ''}"


class EscapeHandler:
    """QEMU's Ctrl-a escapes on a muxed stdio (-nographic): x quits, h helps, b breaks."""

    ESCAPE = 0x01

    HELP = (
        "C-a h    print this help\r\n"
        "C-a x    exit emulator\r\n"
        "C-a b    send break (magic sysrq)\r\n"
        "C-a C-a  sends C-a\r\n"
    )

    def __init__(
        self,
        quit_: Callable[[], None],
        send_break: Callable[[], None],
        echo: Callable[[bytes], None],
    ) -> None:
        self.quit = quit_
        self.send_break = send_break
        self.echo = echo
        self.pending_escape = False

    def filter(self, data: bytes) -> bytes:
        out = bytearray()
        for byte in data:
            if self.pending_escape:
                self.pending_escape = False
                self._command(byte, out)
            elif byte == self.ESCAPE:
                self.pending_escape = True
            else:
                out.append(byte)
        return bytes(out)

    def _command(self, byte: int, out: bytearray) -> None:
        key = chr(byte)
        if byte == self.ESCAPE:
            out.append(byte)
        elif key == "x":
            self.echo(b"pyvirt-qemu: terminated\r\n")
            self.quit()
        elif key == "h" or key == "?":
            self.echo(self.HELP.encode())
        elif key == "b":
            self.send_break()


def create(spec: ChardevSpec, escape: EscapeHandler | None = None) -> Chardev:
    if spec.backend == "null":
        return NullChardev(spec)
    if spec.backend == "file":
        return FileChardev(spec)
    if spec.backend == "stdio":
        return StdioChardev(spec, escape if spec.mux else None)
    if spec.backend == "pty":
        return PtyChardev(spec)
    if spec.backend == "socket":
        return SocketChardev(spec)
    raise VmmError(f"chardev '{spec.id}': unsupported backend '{spec.backend}'")
