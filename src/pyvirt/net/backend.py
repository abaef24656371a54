"""The interface between a guest NIC and the host end of its network.

A backend carries Ethernet frames between the guest-facing device (its peer)
and the host: a tap device, a user-mode network stack, a stream socket. Both
directions run on the VMM's asyncio loop.

Receive (host to guest), with flow control as QEMU does it: the backend hands
each frame to `peer.receive(frame)`; False means the guest has no buffers, so
the backend keeps that frame (and any that follow) in a bounded queue and stops
reading its host side until the device calls `resume()`. Nothing is dropped
silently: a backend that cannot stop its producer (user-mode networking) counts
what overflows the queue.

Transmit (guest to host): `send(parts)` takes the frame as buffers (views of
guest memory, valid only during the call); False means the backend's own
output queue is full: it kept this frame, and the device should stop
transmitting until `peer.tx_ready()` is called.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Protocol

log = logging.getLogger(__name__)

Buffer = bytes | bytearray | memoryview
MAX_FRAME = 65536 + 4096  # QEMU's NET_BUFSIZE: no frame is longer
RX_QUEUE_FRAMES = 256  # frames held while the guest has no buffers
TX_QUEUE_BYTES = 256 * 1024  # guest frames held while the host side is slow


class NetPeer(Protocol):
    """The guest-facing end: a NIC model."""

    def receive(self, frame: bytes) -> bool:
        """Take one frame for the guest; False if there is no room (the backend keeps it)."""

    def tx_ready(self) -> None:
        """The backend has room again after `send` returned False."""


@dataclass
class NetStats:
    """A netdev's traffic as its guest sees it (virDomainInterfaceStats' counters: rx is
    towards the guest). The NIC and the backend count; the netdev outlives guest reboots."""

    rx_bytes: int = 0
    rx_packets: int = 0
    rx_errs: int = 0
    rx_drop: int = 0  # for the guest, lost: no room in its buffers or in the backend's queue
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errs: int = 0
    tx_drop: int = 0  # from the guest, lost: malformed, or the host side refused it

    def to_qmp(self) -> dict[str, int]:
        return asdict(self)


class NetBackend:
    """Base class: frame queueing and pause/resume; subclasses do the host I/O."""

    kind = "none"

    def __init__(self, netdev_id: str) -> None:
        self.id = netdev_id
        self.loop: asyncio.AbstractEventLoop | None = None
        self.peer: NetPeer | None = None
        self.paused = False
        self.rx_queue: deque[bytes] = deque()
        self.stats = NetStats()
        self.closed = False

    # --- what the VMM calls ------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Begin host I/O on `loop` (once, before the guest runs)."""
        self.loop = loop
        self._set_reading(True)

    def attach(self, peer: NetPeer | None) -> None:
        """Connect the NIC (None disconnects it, e.g. while the machine is rebuilt)."""
        self.peer = peer
        if peer is None:
            self.rx_queue.clear()
            self.resume()

    def close(self) -> None:
        self.closed = True
        self.peer = None
        self.rx_queue.clear()

    # --- what the NIC calls ------------------------------------------------------------

    def send(self, parts: Sequence[Buffer]) -> bool:
        """Transmit one frame from the guest; False: stop until `peer.tx_ready()`."""
        raise NotImplementedError

    def pause(self) -> None:
        """Stop receiving from the host side."""
        if not self.paused:
            self.paused = True
            self._set_reading(False)

    def resume(self) -> None:
        """The guest has buffers again: deliver what waited, then read the host side again."""
        if not self.paused or self.closed:
            return
        self.paused = False
        while self.rx_queue and not self.paused:
            frame = self.rx_queue.popleft()
            if not self._offer(frame):
                self.rx_queue.appendleft(frame)
                self.paused = True
        if not self.paused:
            self._set_reading(True)

    # --- what subclasses call and implement --------------------------------------------

    def deliver(self, frame: bytes) -> None:
        """A frame from the host side for the guest."""
        if self.paused or self.rx_queue:
            self._hold(frame)
        elif not self._offer(frame):
            self.rx_queue.append(frame)
            self.pause()

    def _offer(self, frame: bytes) -> bool:
        if self.peer is None:
            return True  # no NIC: the frame goes nowhere, as on an unplugged cable
        return self.peer.receive(frame)

    def _hold(self, frame: bytes) -> None:
        if len(self.rx_queue) >= RX_QUEUE_FRAMES:
            self.stats.rx_drop += 1
            if self.stats.rx_drop == 1 or self.stats.rx_drop % 1000 == 0:
                log.info("netdev %s: guest not receiving, %d frame(s) dropped so far",
                         self.id, self.stats.rx_drop)  # fmt: skip
            return
        self.rx_queue.append(frame)

    def _tx_ready(self) -> None:
        if self.peer is not None:
            self.peer.tx_ready()

    def _set_reading(self, on: bool) -> None:
        """Start or stop reading the host side (the loop's reader on the backend's fd)."""


class OutputQueue:
    """Guest frames for a non-blocking fd, queued (bounded) while it is not writable.

    `write(parts)` writes what it can and returns the byte count (or raises
    BlockingIOError); a stream socket may write part of a frame, the rest waits.
    """

    def __init__(
        self,
        backend: NetBackend,
        fd: int,
        write: Callable[[Sequence[Buffer]], int],
        on_error: Callable[[OSError], None],
    ) -> None:
        self.backend = backend
        self.fd = fd
        self.write = write
        self.on_error = on_error
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.blocked = False  # send() said "full": tell the peer when there is room
        self.watching = False

    def send(self, parts: Sequence[Buffer]) -> bool:
        if not self.pending:
            try:
                written = self.write(parts)
            except BlockingIOError:
                written = 0
            except OSError as e:
                self.on_error(e)
                return True
            total = sum(len(p) for p in parts)
            if written >= total:
                return True
            frame = b"".join(parts)[written:]
        else:
            frame = b"".join(parts)
        self.pending.append(frame)
        self.pending_bytes += len(frame)
        self._watch()
        if self.pending_bytes >= TX_QUEUE_BYTES:
            self.blocked = True
            return False
        return True

    def _watch(self) -> None:
        loop = self.backend.loop
        if not self.watching and loop is not None:
            loop.add_writer(self.fd, self._flush)
            self.watching = True

    def _flush(self) -> None:
        while self.pending:
            head = self.pending[0]
            try:
                written = self.write([head])
            except BlockingIOError:
                return
            except OSError as e:
                self.on_error(e)
                return
            self.pending_bytes -= written
            if written < len(head):
                self.pending[0] = head[written:]
                return
            self.pending.popleft()
        self.clear()

    def clear(self) -> None:
        """Forget what waits (the connection is gone) and stop watching the fd."""
        self.pending.clear()
        self.pending_bytes = 0
        if self.watching and self.backend.loop is not None:
            self.backend.loop.remove_writer(self.fd)
        self.watching = False
        if self.blocked:
            self.blocked = False
            self.backend._tx_ready()
