"""pyvirtd's sockets and clients: framing, concurrent calls, events and console streams.

Each client gets its own reader loop. A call runs as its own task (at most
MAX_CALLS at once per client; beyond that the loop stops reading, so a flood
only slows its sender). A packet that cannot be framed closes that client alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path

from pyvirt.daemon import dispatch
from pyvirt.drivers import registry
from pyvirt.drivers.base import Console, DomainRef, Driver, LifecycleEvent
from pyvirt.rpc import protocol, remote
from pyvirt.rpc.protocol import Header, KeepaliveProc, MessageType, Status
from pyvirt.rpc.wire import dom_to_wire, error_to_wire
from pyvirt.rpc.xdr import XdrError
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

log = logging.getLogger("pyvirtd")

MAX_CALLS = 16  # outstanding calls per client
MAX_OUTPUT = 64 * 1024 * 1024  # unread replies and events before a client is dropped
MAX_EVENT_CALLBACKS = 256


class ProtocolError(Exception):
    """The client broke the framing rules: its connection is closed."""


class _Stream:
    """A console bridged to a virStream: STREAM packets under the opening call's serial."""

    def __init__(self, client: ClientConnection, header: Header, console: Console) -> None:
        self.client = client
        self.header = header
        self.console = console
        self.pump = asyncio.get_running_loop().create_task(self._pump())

    async def _pump(self) -> None:
        try:
            while data := await self.console.reader.read(protocol.STREAM_CHUNK):
                self.client.send(self.header.reply(Status.CONTINUE, MessageType.STREAM), data)
                await self.client.drain()
        except (ConnectionError, OSError):
            pass
        self.client.send(self.header.reply(Status.OK, MessageType.STREAM))

    async def write(self, data: bytes) -> None:
        try:
            self.console.writer.write(data)
            await self.console.writer.drain()
        except (ConnectionError, OSError):
            pass

    def close(self) -> None:
        self.pump.cancel()
        self.console.writer.close()


class ClientConnection:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        readonly: bool,
        default_uri: str,
        state_dir: Path,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.readonly = readonly
        self.default_uri = default_uri
        self.state_dir = state_dir
        self.driver: Driver | None = None
        self._callbacks: dict[int, object] = {}  # callbackID -> the driver's unsubscribe
        self._next_callback = 1
        self._streams: dict[int, _Stream] = {}
        self._calls: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(MAX_CALLS)

    # --- output
    def send(self, header: Header, body: bytes = b"") -> None:
        if self.writer.is_closing():
            return
        self.writer.write(protocol.encode(header, body))
        if self.writer.transport.get_write_buffer_size() > MAX_OUTPUT:
            log.warning("client does not read its replies: dropping it")
            self.writer.transport.abort()

    async def drain(self) -> None:
        with contextlib.suppress(ConnectionError):
            await self.writer.drain()

    def send_error(self, header: Header, err: VirtError, type: MessageType) -> None:
        self.send(header.reply(Status.ERROR, type), remote.Error.encode(error_to_wire(err)))

    # --- the Session interface for dispatch
    def register_event(self, event_id: int, dom: DomainRef | None) -> int:
        assert self.driver is not None
        if len(self._callbacks) >= MAX_EVENT_CALLBACKS:
            raise VirtError.of(ErrorCode.OPERATION_FAILED, "too many event callbacks")
        callback_id = self._next_callback
        self._next_callback += 1

        def deliver(ref: DomainRef, event: LifecycleEvent, detail: int) -> None:
            if dom is not None and ref.uuid != dom.uuid:
                return
            msg = {
                "callbackID": callback_id,
                "msg": {"dom": dom_to_wire(ref), "event": int(event), "detail": detail},
            }
            header = Header(
                protocol.REMOTE_PROGRAM,
                protocol.REMOTE_VERSION,
                remote.Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE,
                MessageType.MESSAGE,
                0,
                Status.OK,
            )
            self.send(header, remote.LifecycleMsg.encode(msg))

        # Only lifecycle events are produced; other ids register and stay quiet.
        self._callbacks[callback_id] = (
            self.driver.subscribe(deliver) if event_id == remote.EVENT_ID_LIFECYCLE else None
        )
        return callback_id

    def deregister_event(self, callback_id: int) -> None:
        if callback_id not in self._callbacks:
            raise VirtError.of(
                ErrorCode.INVALID_ARG,
                f"could not find event callback {callback_id} for deletion",
            )
        unsubscribe = self._callbacks.pop(callback_id)
        if callable(unsubscribe):
            unsubscribe()

    def attach_stream(self, header: Header, console: Console) -> None:
        self._streams[header.serial] = _Stream(self, header, console)

    # --- input
    async def serve(self) -> None:
        try:
            while True:
                await self._slots.acquire()
                try:
                    prefix = await self.reader.readexactly(protocol.LEN_SIZE)
                    packet = await self.reader.readexactly(protocol.frame_length(prefix))
                except BaseException:
                    self._slots.release()
                    raise
                header, body = protocol.decode(packet)
                self._handle(header, bytes(body))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except (XdrError, ProtocolError) as e:
            log.info("closing a client after a malformed packet: %s", e)
        finally:
            await self._cleanup()

    def _handle(self, header: Header, body: bytes) -> None:
        if header.program == protocol.KEEPALIVE_PROGRAM:
            self._slots.release()
            if header.procedure == KeepaliveProc.PING:
                self.send(
                    Header(
                        protocol.KEEPALIVE_PROGRAM,
                        protocol.KEEPALIVE_VERSION,
                        KeepaliveProc.PONG,
                        MessageType.MESSAGE,
                        0,
                        Status.OK,
                    )
                )
            return
        if header.program != protocol.REMOTE_PROGRAM or header.version != protocol.REMOTE_VERSION:
            raise ProtocolError(f"unknown program {header.program:#x} version {header.version}")
        if header.type == MessageType.CALL:
            task = asyncio.get_running_loop().create_task(self._call(header, body))
            self._calls.add(task)
            task.add_done_callback(self._calls.discard)
        elif header.type == MessageType.STREAM:
            self._stream_packet(header, body)
        else:
            raise ProtocolError(f"unexpected message type {header.type}")

    async def _call(self, header: Header, body: bytes) -> None:
        try:
            proc = remote.PROCEDURES.get(header.procedure)
            if proc is None:
                raise VirtError(
                    ErrorCode.RPC, f"unknown procedure: {header.procedure}", ErrorDomain.RPC
                )
            try:
                args = proc.args.decode(body)
            except XdrError as e:
                raise VirtError(
                    ErrorCode.RPC, f"Unable to decode message payload: {e}", ErrorDomain.RPC
                ) from None
            ret = await dispatch.dispatch(self, header, args)
            self.send(header.reply(), proc.ret.encode(ret))
        except VirtError as e:
            self.send_error(header, e, MessageType.REPLY)
        except Exception as e:  # a driver bug must not take the daemon down
            log.exception("procedure %d failed", header.procedure)
            self.send_error(
                header,
                VirtError(ErrorCode.INTERNAL_ERROR, f"internal error: {e}"),
                MessageType.REPLY,
            )
        finally:
            self._slots.release()
        await self.drain()

    def _stream_packet(self, header: Header, body: bytes) -> None:
        stream = self._streams.get(header.serial)
        if stream is None:  # already closed on our side: nothing to do
            self._slots.release()
            return
        if header.status == Status.CONTINUE:
            task = asyncio.get_running_loop().create_task(stream.write(body))
            task.add_done_callback(lambda _: self._slots.release())
            return
        self._slots.release()
        del self._streams[header.serial]
        stream.close()
        if header.status == Status.OK:  # finish
            self.send(header.reply(Status.OK, MessageType.STREAM))
        else:  # abort
            err = VirtError(ErrorCode.RPC, "stream aborted at client request", ErrorDomain.STREAMS)
            self.send_error(header, err, MessageType.STREAM)

    async def _cleanup(self) -> None:
        for task in list(self._calls):
            task.cancel()
        for stream in self._streams.values():
            stream.close()
        self._streams.clear()
        for unsubscribe in self._callbacks.values():
            if callable(unsubscribe):
                unsubscribe()
        self._callbacks.clear()
        self.writer.close()


class Server:
    """The read-write and read-only sockets of one daemon."""

    def __init__(self, run_dir: Path, state_dir: Path, default_uri: str) -> None:
        self.run_dir = run_dir
        self.state_dir = state_dir
        self.default_uri = default_uri
        self._servers: list[asyncio.Server] = []
        self._clients: set[asyncio.Task[None]] = set()

    @property
    def socket_path(self) -> Path:
        return self.run_dir / "libvirt-sock"

    @property
    def readonly_socket_path(self) -> Path:
        return self.run_dir / "libvirt-sock-ro"

    async def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for path, readonly, mode in (
            (self.socket_path, False, 0o600),
            (self.readonly_socket_path, True, 0o666),
        ):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            old = os.umask(0o777 & ~mode)
            try:
                server = await asyncio.start_unix_server(
                    lambda r, w, ro=readonly: self._accept(r, w, ro), path=str(path), limit=2**16
                )
            finally:
                os.umask(old)
            os.chmod(path, mode)
            self._servers.append(server)
        try:  # the default driver comes up with the daemon: its autostart domains start now
            await registry.open_driver(self.default_uri, state_dir=self.state_dir, readonly=False)
        except VirtError as e:
            log.error("the default connection %s is not available: %s", self.default_uri, e)

    async def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, readonly: bool
    ) -> None:
        client = ClientConnection(
            reader,
            writer,
            readonly=readonly,
            default_uri=self.default_uri,
            state_dir=self.state_dir,
        )
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            await client.serve()
        finally:
            self._clients.discard(task)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for task in list(self._clients):
            task.cancel()
        for path in (self.socket_path, self.readonly_socket_path):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        await registry.close_all()
