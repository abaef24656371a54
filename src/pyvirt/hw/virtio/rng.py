"""virtio-rng (virtio 1.2 section 5.4): the host's entropy, read straight into guest buffers."""

from __future__ import annotations

import os
import time

from pyvirt.memory import GuestMemory

from .device import ID_RNG, VirtioDevice

QUEUE_SIZE = 64
MAX_REQUEST = 64 << 10  # bytes filled per request at most


class VirtioRng(VirtioDevice):
    """Entropy from /dev/urandom; `max_bytes` per `period_ms` limits the rate, as in QEMU."""

    device_id = ID_RNG
    name = "virtio-rng"

    def __init__(
        self, mem: GuestMemory, *, max_bytes: int | None = None, period_ms: int = 1000
    ) -> None:
        super().__init__(mem, [QUEUE_SIZE], 0)
        self.source = os.open("/dev/urandom", os.O_RDONLY | os.O_CLOEXEC)
        self.max_bytes = max_bytes
        self.period = period_ms / 1000
        self.window_start = time.monotonic()
        self.window_used = 0

    def _budget(self) -> int:
        if self.max_bytes is None:
            return MAX_REQUEST
        now = time.monotonic()
        if now - self.window_start >= self.period:
            self.window_start, self.window_used = now, 0
        return min(MAX_REQUEST, self.max_bytes - self.window_used)

    def queue_notify(self, index: int) -> None:
        queue = self.queues[0]
        while (budget := self._budget()) > 0 and (chain := queue.pop()) is not None:
            buffers, left = [], budget
            for buf in chain.writable:
                if left <= 0:
                    break
                buffers.append(buf[:left])
                left -= len(buffers[-1])
            filled = os.readv(self.source, buffers) if buffers else 0
            self.window_used += filled
            queue.push(chain, filled)
            self.used(0)

    def close(self) -> None:
        if self.source >= 0:
            os.close(self.source)
            self.source = -1
