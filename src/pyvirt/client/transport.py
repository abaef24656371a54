"""A synchronous libvirt RPC client: one unix socket, a reader thread, events on their own thread.

Calls from many threads are fine: each waits for the reply with its serial.
Event callbacks run on a separate thread so they may call back into the
connection without deadlocking the reader.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import socket
import threading
import traceback
from collections.abc import Callable
from typing import Any

from pyvirt.rpc import protocol, remote
from pyvirt.rpc.protocol import Header, KeepaliveProc, MessageType, Status
from pyvirt.rpc.wire import error_from_wire, error_to_wire
from pyvirt.rpc.xdr import XdrError
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError


def _closed_error() -> VirtError:
    return VirtError(ErrorCode.RPC, "internal error: client socket is closed", ErrorDomain.RPC)


class _Pending:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.header: Header | None = None
        self.body = b""


class StreamChannel:
    """The packets of one stream (a call's serial): data until EOF (None)."""

    def __init__(self, transport: Transport, proc: int, serial: int) -> None:
        self.transport = transport
        self.proc = proc
        self.serial = serial
        self.incoming: queue.Queue[bytes | VirtError | None] = queue.Queue()
        self.closed = _Pending()

    def header(self, status: Status) -> Header:
        return Header(
            protocol.REMOTE_PROGRAM,
            protocol.REMOTE_VERSION,
            self.proc,
            MessageType.STREAM,
            self.serial,
            status,
        )


class Transport:
    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(path)
        except OSError as e:
            self.sock.close()
            raise VirtError(
                ErrorCode.SYSTEM_ERROR,
                f"Failed to connect socket to '{path}': {e.strerror}",
                ErrorDomain.RPC,
            ) from None
        self._serials = itertools.count(1)
        self._send_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending: dict[int, _Pending] = {}
        self._streams: dict[int, StreamChannel] = {}
        self._closed = False
        self.on_message: Callable[[Header, bytes], None] = lambda h, b: None
        self._events: queue.Queue[tuple[Header, bytes] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read_loop, name="pyvirt-rpc", daemon=True)
        self._reader.start()
        self._event_thread = threading.Thread(
            target=self._event_loop, name="pyvirt-events", daemon=True
        )
        self._event_thread.start()

    @property
    def alive(self) -> bool:
        return not self._closed

    # --- sending
    def _send(self, header: Header, body: bytes = b"") -> None:
        packet = protocol.encode(header, body)
        with self._send_lock:
            if self._closed:
                raise _closed_error()
            try:
                self.sock.sendall(packet)
            except OSError:
                raise _closed_error() from None

    def call(self, proc: remote.Proc, args: Any = None, *, stream: bool = False) -> Any:
        """Run one procedure; with stream=True return (result, StreamChannel)."""
        spec = remote.PROCEDURES[proc]
        serial = next(self._serials)
        pending = _Pending()
        channel = StreamChannel(self, proc, serial) if stream else None
        with self._lock:
            if self._closed:
                raise _closed_error()
            self._pending[serial] = pending
            if channel is not None:
                self._streams[serial] = channel
        header = Header(
            protocol.REMOTE_PROGRAM,
            protocol.REMOTE_VERSION,
            proc,
            MessageType.CALL,
            serial,
            Status.OK,
        )
        try:
            self._send(header, spec.args.encode(args))
            pending.done.wait()
        finally:
            with self._lock:
                self._pending.pop(serial, None)
        result = self._result(pending, spec.ret)
        return (result, channel) if stream else result

    def _result(self, pending: _Pending, ret: Any) -> Any:
        if pending.header is None:
            raise _closed_error()
        if pending.header.status == Status.ERROR:
            raise error_from_wire(remote.Error.decode(pending.body))
        return ret.decode(pending.body)

    def stream_send(self, channel: StreamChannel, data: bytes) -> None:
        for i in range(0, len(data), protocol.STREAM_CHUNK):
            self._send(channel.header(Status.CONTINUE), data[i : i + protocol.STREAM_CHUNK])

    def stream_close(self, channel: StreamChannel, abort: bool) -> None:
        """Finish (or abort) and wait for the daemon's acknowledgement."""
        status = Status.ERROR if abort else Status.OK
        body = b""
        if abort:
            aborted = VirtError(ErrorCode.RPC, "stream aborted", ErrorDomain.STREAMS)
            body = remote.Error.encode(error_to_wire(aborted))
        try:
            self._send(channel.header(status), body)
        except VirtError:
            return
        channel.closed.done.wait(timeout=10)
        with self._lock:
            self._streams.pop(channel.serial, None)

    # --- receiving
    def _recv_exact(self, n: int) -> bytes:
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("connection closed")
            buf += chunk
        return bytes(buf)

    def _read_loop(self) -> None:
        try:
            while True:
                length = protocol.frame_length(self._recv_exact(protocol.LEN_SIZE))
                header, body = protocol.decode(self._recv_exact(length))
                self._dispatch(header, bytes(body))
        except (OSError, ConnectionError, XdrError):
            pass
        finally:
            self._shutdown()

    def _dispatch(self, header: Header, body: bytes) -> None:
        if header.program == protocol.KEEPALIVE_PROGRAM:
            if header.procedure == KeepaliveProc.PING:
                pong = Header(
                    protocol.KEEPALIVE_PROGRAM,
                    protocol.KEEPALIVE_VERSION,
                    KeepaliveProc.PONG,
                    MessageType.MESSAGE,
                    0,
                    Status.OK,
                )
                self._send(pong)
            return
        if header.type == MessageType.REPLY:
            with self._lock:
                pending = self._pending.get(header.serial)
            if pending is not None:
                pending.header, pending.body = header, body
                pending.done.set()
        elif header.type == MessageType.MESSAGE:
            self._events.put((header, body))
        elif header.type == MessageType.STREAM:
            self._stream_packet(header, body)

    def _stream_packet(self, header: Header, body: bytes) -> None:
        with self._lock:
            channel = self._streams.get(header.serial)
        if channel is None:
            return
        if header.status == Status.CONTINUE:
            channel.incoming.put(body)
            return
        if header.status == Status.ERROR:
            try:
                channel.incoming.put(error_from_wire(remote.Error.decode(body)))
            except XdrError:
                channel.incoming.put(_closed_error())
        else:
            channel.incoming.put(None)
        channel.closed.done.set()

    def _event_loop(self) -> None:
        while (item := self._events.get()) is not None:
            try:
                self.on_message(*item)
            except Exception:  # a callback's failure must not stop later events
                traceback.print_exc()

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            pending = list(self._pending.values())
            streams = list(self._streams.values())
        for p in pending:
            p.done.set()
        for s in streams:
            s.incoming.put(_closed_error())
            s.closed.done.set()
        self._events.put(None)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if threading.current_thread() is not self._reader:
            self._reader.join(timeout=5)
