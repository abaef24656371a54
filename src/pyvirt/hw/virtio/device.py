"""What every virtio device shares, whatever its transport (PCI or MMIO).

The transport owns the registers the driver programs (feature selection,
queue addresses, status); it calls into the device for the device's own part:
features offered, configuration space, reset, activation and queue kicks.
The device calls back through `VirtioTransport` to interrupt the driver.

Threading: register accesses arrive on vCPU threads, queue work runs on the
VMM's main loop; `lock` serializes the two. A device never blocks in a kick:
slow work (disk I/O) goes to a worker and completes back on the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any, Protocol

from pyvirt.hw.state import State, StateError, blob, get, get_uint, unblob
from pyvirt.memory import GuestMemory

from .queue import VirtQueue, VirtQueueError

log = logging.getLogger(__name__)

# Device status bits (2.1)
ACKNOWLEDGE = 1
DRIVER = 2
DRIVER_OK = 4
FEATURES_OK = 8
NEEDS_RESET = 0x40
FAILED = 0x80

# Reserved feature bits (6)
F_INDIRECT_DESC = 1 << 28
F_EVENT_IDX = 1 << 29
F_VERSION_1 = 1 << 32
F_ACCESS_PLATFORM = 1 << 33

COMMON_FEATURES = F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1

# Device IDs (5)
ID_NET = 1
ID_BLOCK = 2
ID_CONSOLE = 3
ID_RNG = 4


class VirtioTransport(Protocol):
    """What a device asks of its transport."""

    def notify_queue(self, index: int) -> None:
        """Interrupt the driver: queue `index` has new used buffers."""

    def notify_config(self) -> None:
        """Interrupt the driver: the configuration (or status) changed."""


class _NoTransport:
    def notify_queue(self, index: int) -> None:
        pass

    def notify_config(self) -> None:
        pass


class VirtioDevice:
    """Base class: subclasses set `device_id`, `queue_sizes`, `features` and `config`."""

    device_id = 0
    name = "virtio"

    def __init__(self, mem: GuestMemory, queue_sizes: list[int], features: int) -> None:
        self.mem = mem
        self.lock = threading.RLock()
        self.device_features = features | COMMON_FEATURES
        self.queues = [VirtQueue(mem, size) for size in queue_sizes]
        self.transport: VirtioTransport = _NoTransport()
        self.config = bytearray()
        self.config_generation = 0
        self.driver_features = 0
        self.status = 0
        self.broken: str | None = None
        self.suspended = False  # the VM is paused: queues are left alone until resume()

    # --- features and status ---------------------------------------------------

    def has_feature(self, bit_mask: int) -> bool:
        return bool(self.driver_features & bit_mask)

    def set_driver_features(self, features: int) -> None:
        self.driver_features = features & self.device_features

    def features_ok(self) -> bool:
        """Can the device work with what the driver accepted? (VERSION_1 is required.)"""
        return bool(self.driver_features & F_VERSION_1)

    def set_status(self, status: int) -> None:
        """A driver write of the status register (0 resets)."""
        if status == 0:
            self.reset()
            return
        if status & FEATURES_OK and not self.status & FEATURES_OK and not self.features_ok():
            status &= ~FEATURES_OK  # the driver reads it back and gives up
        newly_ok = status & DRIVER_OK and not self.status & DRIVER_OK
        self.status = status | (self.status & NEEDS_RESET)
        if newly_ok:
            event_idx = self.has_feature(F_EVENT_IDX)
            for queue in self.queues:
                queue.event_idx = event_idx
            self.activate()

    def reset(self) -> None:
        self.status = 0
        self.driver_features = 0
        self.broken = None
        for queue in self.queues:
            queue.reset()
        self.on_reset()

    @property
    def running(self) -> bool:
        return bool(self.status & DRIVER_OK) and self.broken is None and not self.suspended

    # --- pause and snapshots (main loop) ------------------------------------------------

    def suspend(self) -> None:
        """Stop touching guest memory: kicks and host input wait for resume()."""
        with self.lock:
            self.suspended = True

    def busy(self) -> bool:
        """Requests still in flight (they complete, even while suspended)."""
        return False

    def resume(self) -> None:
        """Serve again, and look at every queue: kicks that came meanwhile were not served."""
        with self.lock:
            self.suspended = False
            for index, queue in enumerate(self.queues):
                if queue.ready:
                    self.kick(index)

    def save_state(self) -> State:
        with self.lock:
            return {
                "status": self.status, "driver_features": self.driver_features,
                "config_generation": self.config_generation, "config": blob(self.config),
                "broken": self.broken, "queues": [q.save_state() for q in self.queues],
            }  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        """Restore a suspended device; resume() starts it."""
        queues = get(state, "queues", list)
        if len(queues) != len(self.queues):
            raise StateError(f"{len(queues)} queues saved, the device has {len(self.queues)}")
        broken = state.get("broken")
        with self.lock:
            self.suspended = True
            self.status = get_uint(state, "status", 8)
            self.driver_features = get_uint(state, "driver_features", 64) & self.device_features
            self.config_generation = get_uint(state, "config_generation", 8)
            self.config = bytearray(unblob(state, "config", len(self.config)))
            self.broken = broken if isinstance(broken, str) else None
            for index, (queue, saved) in enumerate(zip(self.queues, queues, strict=True)):
                try:
                    queue.load_state(saved)
                except StateError as e:
                    raise StateError(f"queue {index}: {e}") from None
            if self.status & DRIVER_OK and self.broken is None:
                self.activate()

    # --- queues -------------------------------------------------------------------

    def enable_queue(self, index: int) -> None:
        """The driver set queue_enable: check the rings before any use."""
        try:
            self.queues[index].activate()
        except VirtQueueError as e:
            self.fail(f"queue {index}: {e}")

    def kick(self, index: int) -> None:
        """The driver notified queue `index` (from an ioeventfd or an MMIO write)."""
        with self.lock:
            if not self.running or index >= len(self.queues) or not self.queues[index].ready:
                return
            try:
                self.queue_notify(index)
            except VirtQueueError as e:
                self.fail(f"queue {index}: {e}")

    def used(self, index: int) -> None:
        """After pushing used buffers on queue `index`: interrupt if the driver wants it."""
        if self.queues[index].should_notify():
            self.transport.notify_queue(index)

    def fail(self, reason: str) -> None:
        """The driver broke the rules: stop the device until it resets it (NEEDS_RESET)."""
        log.warning("%s: %s; device needs reset", self.name, reason)
        self.broken = reason
        self.status |= NEEDS_RESET
        self.transport.notify_config()

    # --- configuration space ----------------------------------------------------

    def config_read(self, offset: int, size: int) -> int:
        with self.lock:
            data = self.config[offset : offset + size]
        return int.from_bytes(data.ljust(size, b"\0"), "little")

    def config_write(self, offset: int, size: int, value: int) -> None:
        """Most device configuration is read-only; devices override what is writable."""

    def config_changed(self) -> None:
        self.config_generation = (self.config_generation + 1) & 0xFF
        if self.status & DRIVER_OK:
            self.transport.notify_config()

    # --- device hooks ---------------------------------------------------------------

    def activate(self) -> None:
        """DRIVER_OK: the queues are set up; start serving them."""

    def on_reset(self) -> None:
        """Forget in-flight state; the driver reset the device."""

    def queue_notify(self, index: int) -> None:
        """Process queue `index` (called with `lock` held, on the main loop)."""
        raise NotImplementedError
