"""The virtio-mmio transport, version 2 (virtio 1.2 section 4.2).

A 512-byte register window on the MMIO bus and one level-triggered interrupt
line. Queue notifications are writes of the queue index to QueueNotify; the
machine turns them into ioeventfds (`notify_points()`), so they reach the
device on the main loop without a trip through the vCPU thread. A write that
does exit to the VMM is handed to the loop the same way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from pyvirt.hw.state import State, load_child, load_registers, save_registers

from .device import FEATURES_OK, VirtioDevice
from .queue import VirtQueueError

log = logging.getLogger(__name__)

WINDOW = 0x200
MAGIC = 0x74726976  # "virt"
VERSION = 2
VENDOR = 0x554D4551  # "QEMU", as QEMU's virtio-mmio devices report

MAGIC_VALUE, VERSION_REG, DEVICE_ID, VENDOR_ID = 0x000, 0x004, 0x008, 0x00C
DEVICE_FEATURES, DEVICE_FEATURES_SEL = 0x010, 0x014
DRIVER_FEATURES, DRIVER_FEATURES_SEL = 0x020, 0x024
QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY = 0x030, 0x034, 0x038, 0x044
QUEUE_NOTIFY = 0x050
INTERRUPT_STATUS, INTERRUPT_ACK = 0x060, 0x064
STATUS = 0x070
QUEUE_DESC_LOW, QUEUE_DESC_HIGH = 0x080, 0x084
QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH = 0x090, 0x094
QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH = 0x0A0, 0x0A4
SHM_SEL, SHM_LEN_LOW, SHM_LEN_HIGH = 0x0AC, 0x0B0, 0x0B4
QUEUE_RESET = 0x0C0
CONFIG_GENERATION = 0x0FC
CONFIG = 0x100

INT_USED_BUFFER = 1
INT_CONFIG = 2

_QUEUE_ADDRESSES = {
    QUEUE_DESC_LOW: ("desc_addr", 0),
    QUEUE_DESC_HIGH: ("desc_addr", 32),
    QUEUE_DRIVER_LOW: ("avail_addr", 0),
    QUEUE_DRIVER_HIGH: ("avail_addr", 32),
    QUEUE_DEVICE_LOW: ("used_addr", 0),
    QUEUE_DEVICE_HIGH: ("used_addr", 32),
}


class VirtioMmio:
    """One virtio-mmio window at `base`; `set_irq(level)` drives its interrupt line."""

    def __init__(
        self,
        device: VirtioDevice,
        base: int,
        set_irq: Callable[[bool], None],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self.device = device
        self.base = base
        self.set_irq = set_irq
        self.loop = loop
        self.interrupt_status = 0
        self.features_sel = 0
        self.driver_features_sel = 0
        self.queue_sel = 0
        self._driver_features = 0
        device.transport = self

    _REGISTERS = {"interrupt_status": 32, "features_sel": 32, "driver_features_sel": 32,
                  "queue_sel": 32, "_driver_features": 64}  # fmt: skip

    def save_state(self) -> State:
        with self.device.lock:
            return {"device": self.device.save_state(), **save_registers(self, self._REGISTERS)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        load_child("device", self.device, state)
        with self.device.lock:
            load_registers(self, state, self._REGISTERS)
            self.set_irq(bool(self.interrupt_status))

    def notify_points(self) -> list[tuple[int, int, int, int]]:
        """(guest address, length, datamatch, queue index) for one ioeventfd per queue."""
        return [(self.base + QUEUE_NOTIFY, 4, i, i) for i in range(len(self.device.queues))]

    # --- VirtioTransport ------------------------------------------------------------

    def notify_queue(self, index: int) -> None:
        self._interrupt(INT_USED_BUFFER)

    def notify_config(self) -> None:
        self._interrupt(INT_CONFIG)

    def _interrupt(self, bits: int) -> None:
        with self.device.lock:
            self.interrupt_status |= bits
            self.set_irq(True)

    # --- registers (vCPU threads) --------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        dev = self.device
        if offset >= CONFIG:
            return dev.config_read(offset - CONFIG, size)
        if size != 4 or offset % 4:
            return 0  # registers are 32-bit; the spec leaves other accesses undefined
        with dev.lock:
            return self._read_register(offset)

    def _read_register(self, offset: int) -> int:
        dev = self.device
        queue = dev.queues[self.queue_sel] if self.queue_sel < len(dev.queues) else None
        if offset == MAGIC_VALUE:
            return MAGIC
        if offset == VERSION_REG:
            return VERSION
        if offset == DEVICE_ID:
            return dev.device_id
        if offset == VENDOR_ID:
            return VENDOR
        if offset == DEVICE_FEATURES:
            return (dev.device_features >> (32 * self.features_sel)) & 0xFFFFFFFF
        if offset == QUEUE_NUM_MAX:
            return queue.max_size if queue is not None else 0
        if offset == QUEUE_READY:
            return int(queue is not None and queue.ready)
        if offset == INTERRUPT_STATUS:
            return self.interrupt_status
        if offset == STATUS:
            return dev.status
        if offset == CONFIG_GENERATION:
            return dev.config_generation
        if offset in (SHM_LEN_LOW, SHM_LEN_HIGH):
            return 0xFFFFFFFF  # no shared memory regions
        if offset in _QUEUE_ADDRESSES and queue is not None:
            name, shift = _QUEUE_ADDRESSES[offset]
            return (getattr(queue, name) >> shift) & 0xFFFFFFFF
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        dev = self.device
        if offset >= CONFIG:
            with dev.lock:
                dev.config_write(offset - CONFIG, size, value)
            return
        if size != 4 or offset % 4:
            return
        if offset == QUEUE_NOTIFY:
            self.loop.call_soon_threadsafe(dev.kick, value)
            return
        with dev.lock:
            self._write_register(offset, value)

    def _write_register(self, offset: int, value: int) -> None:
        dev = self.device
        if offset == DEVICE_FEATURES_SEL:
            self.features_sel = value
        elif offset == DRIVER_FEATURES_SEL:
            self.driver_features_sel = value
        elif offset == DRIVER_FEATURES:
            if self.driver_features_sel < 2 and not dev.status & FEATURES_OK:
                shift = 32 * self.driver_features_sel
                self._driver_features &= ~(0xFFFFFFFF << shift)
                self._driver_features |= value << shift
                dev.set_driver_features(self._driver_features)
        elif offset == QUEUE_SEL:
            self.queue_sel = value
        elif offset == INTERRUPT_ACK:
            self.interrupt_status &= ~value
            if not self.interrupt_status:
                self.set_irq(False)
        elif offset == STATUS:
            self._write_status(value)
        elif offset in (QUEUE_NUM, QUEUE_READY, QUEUE_RESET) or offset in _QUEUE_ADDRESSES:
            self._write_queue(offset, value)

    def _write_status(self, value: int) -> None:
        dev = self.device
        if value == 0:
            dev.reset()
            self._driver_features = 0
            self.interrupt_status = 0
            self.set_irq(False)
            return
        dev.set_status(value)

    def _write_queue(self, offset: int, value: int) -> None:
        dev = self.device
        if self.queue_sel >= len(dev.queues):
            return
        queue = dev.queues[self.queue_sel]
        if offset == QUEUE_RESET:
            if value == 1:
                queue.reset()
            return
        if queue.ready and offset != QUEUE_READY:
            return  # a live queue's layout cannot change under the device
        if offset == QUEUE_NUM:
            try:
                queue.set_size(value)
            except VirtQueueError as e:
                dev.fail(f"queue {self.queue_sel}: {e}")
        elif offset == QUEUE_READY:
            if value & 1 and not queue.ready:
                dev.enable_queue(self.queue_sel)
            elif not value & 1:
                queue.ready = False
        else:
            name, shift = _QUEUE_ADDRESSES[offset]
            old = getattr(queue, name)
            setattr(queue, name, (old & ~(0xFFFFFFFF << shift)) | (value << shift))
