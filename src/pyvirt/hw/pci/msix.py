"""MSI-X (PCI 3.0, 6.8.2): the capability, the vector table and pending bits in a BAR,
and delivery through the accelerator's MSI routes and irqfds.

Each table entry holds a message (address, data) and a mask bit; Message
Control holds the enable and function-mask bits. A vector is *live* while
MSI-X is enabled and neither it nor the function is masked. The first time
a vector goes live it gets a GSI routed to its message and an eventfd bound
to that GSI (an irqfd), so firing it is one eventfd write that the kernel
turns into the interrupt; later message changes update the route. Firing a
masked vector sets its pending bit instead, and the message goes out when it
is unmasked. Routes are released when the guest disables MSI-X.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from pyvirt.hw.state import State, StateError, blob, get, unblob
from pyvirt.kvm.eventfd import EventFd

from . import registers as R
from .bar import BarKind
from .device import PciDevice

log = logging.getLogger(__name__)

ENTRY_SIZE = 16
MAX_VECTORS = 2048
CONTROL_ENABLE = 1 << 15
CONTROL_FUNCTION_MASK = 1 << 14
ENTRY_CTRL_MASKED = 1
# Writable bits of an entry: address low (dword aligned), address high, data, the mask bit.
_ENTRY_WMASK = struct.pack("<IIII", 0xFFFFFFFC, 0xFFFFFFFF, 0xFFFFFFFF, ENTRY_CTRL_MASKED)
_ENTRY = struct.Struct("<QII")  # address, data, vector control


class MsiRouter(Protocol):
    """What MSI-X delivery needs from the accelerator (a GsiRouter on KVM)."""

    def add_msi_route(self, address: int, data: int) -> int: ...

    def update_msi_route(self, gsi: int, address: int, data: int) -> None: ...

    def remove_msi_route(self, gsi: int) -> None: ...

    def assign_irqfd(self, gsi: int, fd: int) -> None: ...

    def deassign_irqfd(self, gsi: int, fd: int) -> None: ...


@dataclass
class _Route:
    gsi: int
    eventfd: EventFd
    message: tuple[int, int]  # (address, data) the route carries now


def bar_layout(vectors: int) -> tuple[int, int, int]:
    """(BAR size, table offset, PBA offset) of an MSI-X BAR of its own, laid out as QEMU's:
    the table at 0, the PBA in the second half of a 4 KiB page unless the table needs more."""
    table_size = vectors * ENTRY_SIZE
    pba_size = (vectors + 63) // 64 * 8
    pba_offset = max(0x800, table_size)
    size = max(0x1000, pba_offset + pba_size)
    return 1 << (size - 1).bit_length(), 0, pba_offset


class Msix:
    """The MSI-X capability of `device`, with its table and PBA in BAR `bar_index`."""

    def __init__(self, device: PciDevice, vectors: int, bar_index: int) -> None:
        if not 1 <= vectors <= MAX_VECTORS:
            raise ValueError(f"MSI-X has 1 to {MAX_VECTORS} vectors, not {vectors}")
        self.device = device
        self.vectors = vectors
        self.lock = threading.Lock()
        self.bar_size, self.table_offset, self.pba_offset = bar_layout(vectors)
        self.table = bytearray(ENTRY_SIZE * vectors)
        for vector in range(vectors):
            self.table[ENTRY_SIZE * vector + 12] = ENTRY_CTRL_MASKED
        self.pending = [False] * vectors
        self._routes: dict[int, _Route] = {}
        self.bar = device.add_bar(
            bar_index, self.bar_size, self, BarKind.MEM32, name=f"{device.name}.msix"
        )
        body = struct.pack(
            "<HII", vectors - 1, self.table_offset | bar_index, self.pba_offset | bar_index
        )
        writable = struct.pack("<HII", CONTROL_ENABLE | CONTROL_FUNCTION_MASK, 0, 0)
        self.cap_offset = device.add_capability(R.CAP_ID_MSIX, body, writable)
        device.add_config_hook(self.cap_offset + 2, 2, on_write=self._control_written)
        device.on_close(self.close)
        self.enabled = False
        self.function_masked = False

    # --- snapshots (after the device's configuration space is restored) ----------------------

    def save_state(self) -> State:
        with self.lock:
            return {"table": blob(self.table), "pending": list(self.pending)}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """The table and pending bits; routes and irqfds follow from Message Control."""
        table = unblob(state, "table", len(self.table))
        pending = get(state, "pending", list)
        if len(pending) != self.vectors or not all(isinstance(p, bool) for p in pending):
            raise StateError(f"'pending' is not {self.vectors} booleans")
        with self.lock:
            self.table[:] = table
            self.pending = list(pending)
        self._control_written(self.cap_offset + 2, 2)

    # --- state ---------------------------------------------------------------------------

    def _entry(self, vector: int) -> tuple[int, int, int]:
        return _ENTRY.unpack_from(self.table, ENTRY_SIZE * vector)

    def masked(self, vector: int) -> bool:
        return bool(self._entry(vector)[2] & ENTRY_CTRL_MASKED)

    def message(self, vector: int) -> tuple[int, int]:
        address, data, _ = self._entry(vector)
        return address, data

    def _live(self, vector: int) -> bool:
        return self.enabled and not self.function_masked and not self.masked(vector)

    def _control_written(self, offset: int, size: int) -> None:
        control = self.device.config_read(self.cap_offset + 2, 2)
        with self.lock:
            was_enabled = self.enabled
            self.enabled = bool(control & CONTROL_ENABLE)
            self.function_masked = bool(control & CONTROL_FUNCTION_MASK)
            if was_enabled and not self.enabled:
                self._release_all()
            if self.enabled:  # a function with MSI-X on does not use INTx (6.8.2)
                self.device.set_intx(False)
            for vector in range(self.vectors):
                self._refresh(vector)

    def _refresh(self, vector: int) -> None:
        """Bring a vector's route up to date and deliver what it has pending (lock held)."""
        if not self._live(vector):
            return
        route = self._routes.get(vector)
        message = self.message(vector)
        if route is None:
            route = self._route(vector, message)
            if route is None:
                return
        elif route.message != message:
            router = self._router()
            try:
                if router is not None:
                    router.update_msi_route(route.gsi, *message)
                route.message = message
            except OSError as e:
                log.warning("%s: MSI-X vector %d: route update refused: %s",
                            self.device.name, vector, e)  # fmt: skip
        if self.pending[vector]:
            self.pending[vector] = False
            route.eventfd.signal()

    def _router(self) -> MsiRouter | None:
        bus = self.device.bus
        return bus.msi if bus is not None else None

    def _route(self, vector: int, message: tuple[int, int]) -> _Route | None:
        router = self._router()
        if router is None:
            return None
        try:
            gsi = router.add_msi_route(*message)
        except (OSError, RuntimeError) as e:
            log.warning("%s: MSI-X vector %d gets no route: %s", self.device.name, vector, e)
            return None
        eventfd = EventFd()
        try:
            router.assign_irqfd(gsi, eventfd.fd)
        except OSError as e:
            log.warning("%s: MSI-X vector %d gets no irqfd: %s", self.device.name, vector, e)
            eventfd.close()
            router.remove_msi_route(gsi)
            return None
        route = _Route(gsi, eventfd, message)
        self._routes[vector] = route
        return route

    def _release_all(self) -> None:
        router = self._router()
        for route in self._routes.values():
            if router is not None:
                try:
                    router.deassign_irqfd(route.gsi, route.eventfd.fd)
                    router.remove_msi_route(route.gsi)
                except OSError as e:
                    log.warning("%s: releasing GSI %d: %s", self.device.name, route.gsi, e)
            route.eventfd.close()
        self._routes.clear()

    @property
    def routes(self) -> dict[int, int]:
        """vector -> GSI of the vectors that have a route."""
        with self.lock:
            return {vector: route.gsi for vector, route in self._routes.items()}

    # --- the device's side -------------------------------------------------------------------

    def notify(self, vector: int) -> None:
        """Send vector `vector` (pending if masked). Only meaningful while `enabled`."""
        with self.lock:
            if not self.enabled or not 0 <= vector < self.vectors:
                return
            if self.function_masked or self.masked(vector):
                self.pending[vector] = True
                return
            route = self._routes.get(vector)
            if route is not None:
                route.eventfd.signal()

    def close(self) -> None:
        with self.lock:
            self._release_all()

    # --- the BAR: table and PBA -------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        with self.lock:
            table_end = self.table_offset + len(self.table)
            if self.table_offset <= offset and offset + size <= table_end:
                start = offset - self.table_offset
                return int.from_bytes(self.table[start : start + size], "little")
            pba_end = self.pba_offset + (self.vectors + 63) // 64 * 8
            if self.pba_offset <= offset and offset + size <= pba_end:
                bits = sum(1 << v for v, pending in enumerate(self.pending) if pending)
                return (bits >> (8 * (offset - self.pba_offset))) & ((1 << (8 * size)) - 1)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        """Table writes (the PBA is read-only); any size, within the table."""
        start = offset - self.table_offset
        if start < 0 or start + size > len(self.table):
            return
        with self.lock:
            touched = set()
            for i in range(size):
                pos = start + i
                mask = _ENTRY_WMASK[pos % ENTRY_SIZE]
                byte = (value >> (8 * i)) & 0xFF
                self.table[pos] = (self.table[pos] & ~mask) | (byte & mask)
                touched.add(pos // ENTRY_SIZE)
            for vector in sorted(touched):
                self._refresh(vector)
