"""virtio-blk (virtio 1.2 section 5.2): a disk backed by a block driver.

Requests are parsed and checked on the main loop; the I/O itself
(preadv/pwritev straight into guest memory, fdatasync, fallocate) runs on a
worker thread, and completes back on the main loop, so neither vCPU threads
nor the loop ever wait for the disk.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import struct
import time
from dataclasses import dataclass, field

from pyvirt.block import accounting
from pyvirt.block.accounting import BlockAccounting
from pyvirt.block.driver import BlockDriver
from pyvirt.memory import GuestMemory

from .device import ID_BLOCK, VirtioDevice
from .queue import DescriptorChain, split_views

log = logging.getLogger(__name__)

F_SEG_MAX = 1 << 2
F_RO = 1 << 5
F_BLK_SIZE = 1 << 6
F_FLUSH = 1 << 9
F_DISCARD = 1 << 13
F_WRITE_ZEROES = 1 << 14

T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES = 0, 1, 4, 8, 11, 13
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2

SECTOR = 512
HEADER = struct.Struct("<IIQ")
SEGMENT = struct.Struct("<QII")  # discard / write-zeroes: sector, num_sectors, flags
SEGMENT_UNMAP = 1
ID_BYTES = 20
QUEUE_SIZE = 256
MAX_DISCARD_SECTORS = (1 << 22) - 1  # 2 GiB per segment
MAX_SEGMENTS = 32
# what each request type counts as in the drive's statistics (QEMU counts write-zeroes as writes)
ACCOUNTED = {T_IN: accounting.READ, T_OUT: accounting.WRITE, T_FLUSH: accounting.FLUSH,
             T_DISCARD: accounting.UNMAP, T_WRITE_ZEROES: accounting.WRITE}  # fmt: skip


class BadRequest(Exception):
    """A request the device answers with an error status (not a broken ring)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.kind: str | None = None  # the statistics' kind of the refused request


@dataclass
class Request:
    chain: DescriptorChain
    type: int
    sector: int
    data: list[memoryview] = field(default_factory=list)
    status: memoryview | None = None
    started_ns: int = 0
    segments: list[tuple[int, int, bool]] = field(default_factory=list)  # discard/write-zeroes

    @property
    def length(self) -> int:
        return sum(len(b) for b in self.data)


class VirtioBlk(VirtioDevice):
    device_id = ID_BLOCK
    name = "virtio-blk"

    def __init__(
        self,
        mem: GuestMemory,
        image: BlockDriver,
        *,
        loop: asyncio.AbstractEventLoop,
        executor: concurrent.futures.Executor,
        serial: str = "",
        discard: bool = True,
        write_zeroes: bool = True,
        stats: BlockAccounting | None = None,
    ) -> None:
        features = F_SEG_MAX | F_BLK_SIZE | F_FLUSH
        features |= F_RO if image.read_only else 0
        features |= F_DISCARD if discard and not image.read_only else 0
        features |= F_WRITE_ZEROES if write_zeroes and not image.read_only else 0
        super().__init__(mem, [QUEUE_SIZE], features)
        self.image = image
        self.loop = loop
        self.executor = executor
        self.serial = serial.encode()[:ID_BYTES]
        self.stats = stats if stats is not None else BlockAccounting()
        self.capacity = image.length // SECTOR
        self.inflight: set[concurrent.futures.Future[None]] = set()
        self.generation = 0  # bumped by reset: completions of older requests are dropped
        self.config = bytearray(60)
        struct.pack_into("<QII", self.config, 0, self.capacity, 0, QUEUE_SIZE - 2)
        struct.pack_into("<I", self.config, 20, SECTOR)
        struct.pack_into("<III", self.config, 36, MAX_DISCARD_SECTORS, MAX_SEGMENTS, 1)
        struct.pack_into("<IIB", self.config, 48, MAX_DISCARD_SECTORS, MAX_SEGMENTS, 1)

    # --- the request queue ----------------------------------------------------------

    def queue_notify(self, index: int) -> None:
        queue = self.queues[0]
        while (chain := queue.pop()) is not None:
            try:
                request = self._parse(chain)
            except BadRequest as e:
                log.debug("%s: %s", self.name, e)
                if e.kind is not None:
                    self.stats.refused(e.kind)
                self._finish(chain, e.status, 0)
                continue
            self._submit(request)

    def _parse(self, chain: DescriptorChain) -> Request:
        head, rest = split_views(chain.readable, HEADER.size)
        if sum(len(b) for b in head) < HEADER.size or not chain.writable:
            raise BadRequest(S_IOERR, "request without a header or a status byte")
        rtype, _, sector = HEADER.unpack(b"".join(bytes(b) for b in head))
        try:
            return self._parse_body(chain, rtype, sector, rest)
        except BadRequest as e:
            e.kind = ACCOUNTED.get(rtype)
            raise

    def _parse_body(
        self, chain: DescriptorChain, rtype: int, sector: int, rest: list[memoryview]
    ) -> Request:
        data_out, status = split_views(chain.writable, chain.writable_len - 1)
        request = Request(chain, rtype, sector, status=status[0], started_ns=time.monotonic_ns())
        if rtype == T_IN:
            request.data = data_out
            self._check_range(request)
        elif rtype == T_OUT:
            request.data = rest
            self._check_writable()
            self._check_range(request)
        elif rtype in (T_DISCARD, T_WRITE_ZEROES):
            request.data = rest
            self._check_writable()
            request.segments = self._segments(request)  # validated now, executed later
        elif rtype == T_GET_ID:
            request.data = data_out
        elif rtype != T_FLUSH:
            raise BadRequest(S_UNSUPP, f"unsupported request type {rtype}")
        return request

    def _check_writable(self) -> None:
        if self.image.read_only:
            raise BadRequest(S_IOERR, "write to a read-only disk")

    def _check_range(self, request: Request) -> None:
        length = request.length
        if length % SECTOR:
            raise BadRequest(S_IOERR, f"transfer of {length} bytes is not whole sectors")
        if request.sector > self.capacity or request.sector + length // SECTOR > self.capacity:
            raise BadRequest(S_IOERR, f"sector {request.sector}+{length // SECTOR} beyond the disk")

    def _segments(self, request: Request) -> list[tuple[int, int, bool]]:
        blob = b"".join(bytes(b) for b in request.data)
        if not blob or len(blob) % SEGMENT.size or len(blob) // SEGMENT.size > MAX_SEGMENTS:
            raise BadRequest(S_IOERR, f"bad discard/write-zeroes payload of {len(blob)} bytes")
        out = []
        for sector, count, flags in SEGMENT.iter_unpack(blob):
            if count > MAX_DISCARD_SECTORS or sector + count > self.capacity:
                raise BadRequest(S_IOERR, f"segment {sector}+{count} beyond the disk")
            out.append((sector * SECTOR, count * SECTOR, bool(flags & SEGMENT_UNMAP)))
        return out

    # --- doing the I/O (worker thread) ------------------------------------------------

    def _submit(self, request: Request) -> None:
        generation = self.generation
        future = self.executor.submit(self._execute, request)
        self.inflight.add(future)
        future.add_done_callback(
            lambda f: self.loop.call_soon_threadsafe(self._completed, request, f, generation)
        )

    def _execute(self, request: Request) -> int:
        """Runs on a worker thread; returns the number of bytes written to the guest."""
        image, offset = self.image, request.sector * SECTOR
        if request.type == T_IN:
            return image.readv(offset, request.data)
        if request.type == T_OUT:
            image.writev(offset, request.data)
        elif request.type == T_FLUSH:
            image.flush()
        elif request.type == T_GET_ID:
            chain_copy(request.data, self.serial.ljust(ID_BYTES, b"\0"))
            return min(request.length, ID_BYTES)
        else:
            for start, length, unmap in request.segments:
                if request.type == T_DISCARD:
                    image.discard(start, length)
                else:
                    image.write_zeroes(start, length, unmap=unmap)
        return 0

    def _completed(
        self, request: Request, future: concurrent.futures.Future[int], generation: int
    ) -> None:
        with self.lock:
            self.inflight.discard(future)  # type: ignore[arg-type]
            if generation != self.generation:
                return  # the driver reset the device meanwhile
            try:
                written = future.result()
                status = S_OK
            except OSError as e:
                log.warning("%s: %s: I/O error: %s", self.name, self.image.path, e.strerror)
                written, status = 0, S_IOERR
            self._account(request, ok=status == S_OK)
            self._finish(request.chain, status, written, request.status)

    def _account(self, request: Request, ok: bool) -> None:
        kind = ACCOUNTED.get(request.type)
        if kind is None:
            return
        if request.type in (T_DISCARD, T_WRITE_ZEROES):
            nbytes = sum(length for _, length, _ in request.segments)
            end = max(start + length for start, length, _ in request.segments)
        else:
            nbytes = request.length if request.type != T_FLUSH else 0
            end = request.sector * SECTOR + nbytes
        self.stats.done(kind, request.started_ns, nbytes=nbytes, end=end, ok=ok)

    def _finish(
        self, chain: DescriptorChain, status: int, written: int, slot: memoryview | None = None
    ) -> None:
        if slot is None and chain.writable:
            slot = chain.writable[-1][-1:]
        if slot is not None:
            slot[0] = status
        self.queues[0].push(chain, written + 1)
        self.used(0)

    # --- life cycle ---------------------------------------------------------------------

    def busy(self) -> bool:
        return bool(self.inflight)

    def on_reset(self) -> None:
        """Wait for the I/O in flight (its buffers belong to the old driver) and forget it."""
        concurrent.futures.wait(list(self.inflight))
        self.inflight.clear()
        self.generation += 1


def chain_copy(buffers: list[memoryview], data: bytes) -> None:
    view = memoryview(data)
    for buf in buffers:
        n = min(len(buf), len(view))
        buf[:n] = view[:n]
        view = view[n:]
        if not view:
            return
