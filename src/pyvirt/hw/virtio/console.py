"""virtio-console (virtio 1.2 section 5.3) with a single console port: the guest's hvc0.

Without the MULTIPORT feature the device has exactly one port, which Linux
makes a console. Bytes from the chardev wait in a bounded host queue until
the guest gives receive buffers; output goes to the chardev as it comes.
"""

from __future__ import annotations

import struct
from collections import deque
from collections.abc import Callable

from pyvirt.memory import GuestMemory

from .device import ID_CONSOLE, VirtioDevice

RECEIVEQ, TRANSMITQ = 0, 1
QUEUE_SIZE = 128
HOST_QUEUE_LIMIT = 1 << 20


class VirtioConsole(VirtioDevice):
    device_id = ID_CONSOLE
    name = "virtio-console"

    def __init__(self, mem: GuestMemory, output: Callable[[bytes], None]) -> None:
        super().__init__(mem, [QUEUE_SIZE, QUEUE_SIZE], 0)
        self.output = output
        self.pending: deque[bytes] = deque()
        self.pending_bytes = 0
        self.config = bytearray(struct.pack("<HHII", 80, 25, 1, 0))  # cols, rows, ports, emerg

    def receive(self, data: bytes) -> None:
        """Input for the guest from the chardev (main loop)."""
        with self.lock:
            room = HOST_QUEUE_LIMIT - self.pending_bytes
            if room <= 0 or not data:
                return
            self.pending.append(data[:room])
            self.pending_bytes += min(len(data), room)
            if self.running and self.queues[RECEIVEQ].ready:
                self._fill_receive()

    def _fill_receive(self) -> None:
        queue = self.queues[RECEIVEQ]
        while self.pending and (chain := queue.pop()) is not None:
            written = 0
            while self.pending and written < chain.writable_len:
                data = self.pending.popleft()
                n = chain.write(data, written)
                written += n
                if n < len(data):
                    self.pending.appendleft(data[n:])
                self.pending_bytes -= n
            queue.push(chain, written)
            self.used(RECEIVEQ)

    def queue_notify(self, index: int) -> None:
        if index == RECEIVEQ:
            self._fill_receive()
            return
        queue = self.queues[TRANSMITQ]
        while (chain := queue.pop()) is not None:
            data = chain.read_all()
            queue.push(chain, 0)
            self.used(TRANSMITQ)
            if data:
                self.output(data)

    def activate(self) -> None:
        if self.queues[RECEIVEQ].ready:
            self._fill_receive()

    def on_reset(self) -> None:
        pass  # host input waiting for the guest stays queued for the next driver
