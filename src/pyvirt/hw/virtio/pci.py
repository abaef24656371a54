"""The modern virtio-pci transport (virtio 1.2, section 4.1): virtio 1.x only, no legacy
I/O BAR, laid out as QEMU lays out its non-transitional devices.

PCI identity: vendor 0x1AF4, device 0x1040 + the virtio device ID, revision 1,
subsystem 0x1AF4:0x1100, a class code per device type, INTA.

BAR4 (64-bit, prefetchable, 16 KiB) holds four 4 KiB regions that vendor
capabilities point at: common configuration at 0x0, ISR at 0x1000, the
device's own configuration at 0x2000 and queue notifications at 0x3000 (one
2-byte slot per queue, notify_off_multiplier 4). BAR1 holds the MSI-X table
and PBA: one vector for configuration changes and one per queue. A fifth
capability (VIRTIO_PCI_CAP_PCI_CFG) reaches any BAR through config space.

Notifications: every queue's notify address has a KVM ioeventfd whose
eventfd the main loop reads before calling `device.kick(i)`; a notify write
that still exits to us (no ioeventfd support, an odd access size) is posted
to the main loop the same way. Interrupts go out as the MSI-X vector the
driver chose (an irqfd), or, with MSI-X off, as ISR bits and INTA.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Mapping
from typing import Any

from pyvirt.hw.pci import registers as R
from pyvirt.hw.pci.bar import Bar, BarKind
from pyvirt.hw.pci.device import INTX_PIN_A, PciDevice
from pyvirt.hw.pci.msix import Msix
from pyvirt.hw.state import State, StateError, get, load_child, load_registers, save_registers
from pyvirt.kvm.eventfd import EventFd

from .device import FEATURES_OK, ID_BLOCK, ID_CONSOLE, ID_NET, ID_RNG, VirtioDevice
from .queue import VirtQueueError

log = logging.getLogger(__name__)

VENDOR_ID = 0x1AF4
DEVICE_ID_BASE = 0x1040
SUBSYSTEM_ID = 0x1100  # QEMU's; non-transitional devices use 0x40 or above
REVISION = 1
CLASS_CODES = {
    ID_NET: 0x020000,  # network controller, Ethernet
    ID_BLOCK: 0x010000,  # mass storage, SCSI
    ID_CONSOLE: 0x078000,  # communication controller, other
    ID_RNG: 0x00FF00,
}
CLASS_OTHER = 0xFF0000

# virtio_pci_cap.cfg_type (4.1.4)
CAP_COMMON_CFG = 1
CAP_NOTIFY_CFG = 2
CAP_ISR_CFG = 3
CAP_DEVICE_CFG = 4
CAP_PCI_CFG = 5
CAP_LEN = 16
NOTIFY_CAP_LEN = 20
PCI_CFG_CAP_LEN = 20

MSIX_BAR = 1
REGIONS_BAR = 4
REGION_SIZE = 0x1000
COMMON_OFFSET = 0x0000
ISR_OFFSET = 0x1000
DEVICE_OFFSET = 0x2000
NOTIFY_OFFSET = 0x3000
REGIONS_BAR_SIZE = 0x4000
NOTIFY_OFF_MULTIPLIER = 4
MAX_QUEUES = REGION_SIZE // NOTIFY_OFF_MULTIPLIER

NO_VECTOR = 0xFFFF
ISR_QUEUE = 1
ISR_CONFIG = 2

# struct virtio_pci_common_cfg (4.1.4.3)
DEVICE_FEATURE_SELECT = 0x00
DEVICE_FEATURE = 0x04
DRIVER_FEATURE_SELECT = 0x08
DRIVER_FEATURE = 0x0C
CONFIG_MSIX_VECTOR = 0x10
NUM_QUEUES = 0x12
DEVICE_STATUS = 0x14
CONFIG_GENERATION = 0x15
QUEUE_SELECT = 0x16
QUEUE_SIZE = 0x18
QUEUE_MSIX_VECTOR = 0x1A
QUEUE_ENABLE = 0x1C
QUEUE_NOTIFY_OFF = 0x1E
QUEUE_DESC = 0x20
QUEUE_DRIVER = 0x28
QUEUE_DEVICE = 0x30
COMMON_CFG_LEN = 0x38
_COMMON = struct.Struct("<IIIIHHBBHHHHHQQQ")
assert _COMMON.size == COMMON_CFG_LEN
_REGISTERS = {"device_feature_select": 32, "driver_feature_select": 32, "driver_features": 64,
              "config_vector": 16, "queue_select": 16, "isr": 8}  # fmt: skip
_QUEUE_ADDRESSES = {QUEUE_DESC: "desc_addr", QUEUE_DRIVER: "avail_addr", QUEUE_DEVICE: "used_addr"}


def _vendor_cap(cfg_type: int, bar: int, offset: int, length: int, cap_len: int = CAP_LEN) -> bytes:
    """virtio_pci_cap after ID and next pointer: cap_len, cfg_type, bar, id, offset, length."""
    return struct.pack("<BBBB2xII", cap_len, cfg_type, bar, 0, offset, length)


class VirtioPciTransport(PciDevice):
    """A virtio device behind a PCI function; also the region decoding BAR4."""

    def __init__(self, device: VirtioDevice, loop: asyncio.AbstractEventLoop) -> None:
        queues = len(device.queues)
        if not 0 < queues <= MAX_QUEUES:
            raise ValueError(f"virtio-pci carries 1 to {MAX_QUEUES} queues, not {queues}")
        super().__init__(
            vendor_id=VENDOR_ID,
            device_id=DEVICE_ID_BASE + device.device_id,
            class_code=CLASS_CODES.get(device.device_id, CLASS_OTHER),
            revision=REVISION,
            subsystem_vendor_id=VENDOR_ID,
            subsystem_id=SUBSYSTEM_ID,
            interrupt_pin=INTX_PIN_A,
            name=f"virtio-{device.name}-pci",
        )
        self.device = device
        self.loop = loop
        device.transport = self
        self.msix = Msix(self, queues + 1, MSIX_BAR)
        self.regions = self.add_bar(
            REGIONS_BAR, REGIONS_BAR_SIZE, self, BarKind.MEM64, prefetchable=True
        )
        self.config_len = len(device.config)
        self._add_vendor_cap(CAP_COMMON_CFG, COMMON_OFFSET, REGION_SIZE)
        self._add_vendor_cap(CAP_ISR_CFG, ISR_OFFSET, REGION_SIZE)
        if self.config_len:  # as in QEMU: no device cap for a device without configuration
            self._add_vendor_cap(CAP_DEVICE_CFG, DEVICE_OFFSET, self.config_len)
        multiplier = struct.pack("<I", NOTIFY_OFF_MULTIPLIER)
        self._add_vendor_cap(CAP_NOTIFY_CFG, NOTIFY_OFFSET, REGION_SIZE, multiplier)
        self._add_pci_cfg_cap()

        # Transport registers (the device owns status, features and the queues).
        self.device_feature_select = 0
        self.driver_feature_select = 0
        self.driver_features = 0  # as the driver wrote them
        self.config_vector = NO_VECTOR
        self.queue_vectors = [NO_VECTOR] * queues
        self.queue_select = 0
        self.isr = 0

        self._eventfds = [EventFd() for _ in range(queues)]
        self._ioeventfds: list[tuple[int, int]] = []  # (fd, address) registered with KVM
        for index, eventfd in enumerate(self._eventfds):
            loop.add_reader(eventfd.fd, self._ioeventfd_ready, index)

    def _add_vendor_cap(self, cfg_type: int, offset: int, length: int, extra: bytes = b"") -> None:
        cap_len = CAP_LEN + len(extra)
        body = _vendor_cap(cfg_type, REGIONS_BAR, offset, length, cap_len) + extra
        self.add_capability(R.CAP_ID_VENDOR, body)

    # --- notifications in --------------------------------------------------------------------

    def _ioeventfd_ready(self, index: int) -> None:
        if self._eventfds[index].drain():
            self.device.kick(index)

    def _post_kick(self, index: int) -> None:
        """A notify write that exited to us: the kick runs on the main loop, not this vCPU."""
        with contextlib.suppress(RuntimeError):  # the loop is closing with the machine
            self.loop.call_soon_threadsafe(self.device.kick, index)

    def bar_moved(self, bar: Bar, old: int | None) -> None:
        if bar is not self.regions:
            return
        self._remove_ioeventfds()
        ioeventfds = self.bus.ioeventfds if self.bus is not None else None
        if ioeventfds is None or bar.address is None:
            return
        for index, eventfd in enumerate(self._eventfds):
            address = bar.address + NOTIFY_OFFSET + index * NOTIFY_OFF_MULTIPLIER
            try:
                ioeventfds.add_mmio_ioeventfd(eventfd.fd, address)
            except OSError as e:  # still served, through MMIO exits
                log.warning("%s: no ioeventfd at %#x: %s", self.name, address, e)
                continue
            self._ioeventfds.append((eventfd.fd, address))

    def _remove_ioeventfds(self) -> None:
        ioeventfds = self.bus.ioeventfds if self.bus is not None else None
        for fd, address in self._ioeventfds:
            try:
                if ioeventfds is not None:
                    ioeventfds.remove_mmio_ioeventfd(fd, address)
            except OSError as e:
                log.warning("%s: removing the ioeventfd at %#x: %s", self.name, address, e)
        self._ioeventfds.clear()

    # --- interrupts out (VirtioTransport) ---------------------------------------------------------

    def notify_queue(self, index: int) -> None:
        with self.device.lock:
            vector = self.queue_vectors[index] if 0 <= index < len(self.queue_vectors) else None
            self._interrupt(ISR_QUEUE, vector)

    def notify_config(self) -> None:
        with self.device.lock:
            self._interrupt(ISR_CONFIG, self.config_vector)

    def _interrupt(self, isr_bit: int, vector: int | None) -> None:
        self.isr |= isr_bit
        if self.msix.enabled:
            if vector is not None and vector != NO_VECTOR:
                self.msix.notify(vector)
        else:
            self.set_intx(True)

    # --- BAR4 ---------------------------------------------------------------------------------

    def read(self, offset: int, size: int) -> int:
        with self.device.lock:
            if offset < ISR_OFFSET:
                data = self._common_cfg()[offset : offset + size]
                return int.from_bytes(data.ljust(size, b"\0"), "little")
            if offset < DEVICE_OFFSET:
                return self._read_isr() if offset == ISR_OFFSET else 0
            if offset < NOTIFY_OFFSET:
                start = offset - DEVICE_OFFSET
                if start + size <= self.config_len:
                    return self.device.config_read(start, size)
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset >= NOTIFY_OFFSET:
            start = offset - NOTIFY_OFFSET
            index, misaligned = divmod(start, NOTIFY_OFF_MULTIPLIER)
            if not misaligned and index < len(self._eventfds):
                self._post_kick(index)
            return
        with self.device.lock:
            if offset < ISR_OFFSET:
                self._write_common(offset, size, value)
            elif offset >= DEVICE_OFFSET and offset - DEVICE_OFFSET + size <= self.config_len:
                self.device.config_write(offset - DEVICE_OFFSET, size, value)

    def _read_isr(self) -> int:
        """Reading the ISR clears it and lowers INTA (4.1.4.5)."""
        value, self.isr = self.isr, 0
        self.set_intx(False)
        return value

    # --- common configuration -----------------------------------------------------------------

    def _selected(self) -> int | None:
        return self.queue_select if self.queue_select < len(self.device.queues) else None

    def _common_cfg(self) -> bytes:
        dev = self.device
        select = self.device_feature_select
        features = (dev.device_features >> (32 * select)) & 0xFFFFFFFF if select < 2 else 0
        select = self.driver_feature_select
        driver = (self.driver_features >> (32 * select)) & 0xFFFFFFFF if select < 2 else 0
        index = self._selected()
        if index is None:
            queue = (0, 0, 0, 0, 0, 0, 0)  # out of range: queue_size 0 says "no such queue"
        else:
            q = dev.queues[index]
            queue = (q.size, self.queue_vectors[index], int(q.ready), index,
                     q.desc_addr, q.avail_addr, q.used_addr)  # fmt: skip
        return _COMMON.pack(
            self.device_feature_select, features, self.driver_feature_select, driver,
            self.config_vector, len(dev.queues), dev.status, dev.config_generation,
            self.queue_select, *queue,
        )  # fmt: skip

    def _vector(self, value: int) -> int:
        """A vector the driver asked for; NO_VECTOR (its read-back says "failed") if none such."""
        return value if value < self.msix.vectors else NO_VECTOR

    def _write_common(self, offset: int, size: int, value: int) -> None:
        dev = self.device
        index = self._selected()
        queue = dev.queues[index] if index is not None else None
        if offset in _QUEUE_ADDRESSES or offset - 4 in _QUEUE_ADDRESSES:
            self._write_queue_address(offset, size, value)
        elif (offset, size) == (DEVICE_FEATURE_SELECT, 4):
            self.device_feature_select = value
        elif (offset, size) == (DRIVER_FEATURE_SELECT, 4):
            self.driver_feature_select = value
        elif (offset, size) == (DRIVER_FEATURE, 4):
            select = self.driver_feature_select
            if select < 2 and not dev.status & FEATURES_OK:  # fixed once FEATURES_OK is set
                shift = 32 * select
                self.driver_features &= ~(0xFFFFFFFF << shift)
                self.driver_features |= value << shift
                dev.set_driver_features(self.driver_features)
        elif (offset, size) == (CONFIG_MSIX_VECTOR, 2):
            self.config_vector = self._vector(value)
        elif (offset, size) == (DEVICE_STATUS, 1):
            if value == 0:
                self._reset()
            else:
                dev.set_status(value)
        elif (offset, size) == (QUEUE_SELECT, 2):
            self.queue_select = value
        elif queue is None or index is None:
            log.debug("%s: common cfg write %#x/%d ignored", self.name, offset, size)
        elif (offset, size) == (QUEUE_SIZE, 2):
            if not queue.ready:
                try:
                    queue.set_size(value)
                except VirtQueueError as e:
                    log.info("%s: queue %d: %s", self.name, index, e)
        elif (offset, size) == (QUEUE_MSIX_VECTOR, 2):
            self.queue_vectors[index] = self._vector(value)
        elif (offset, size) == (QUEUE_ENABLE, 2):
            if value == 1 and not queue.ready:
                dev.enable_queue(index)
        else:
            log.debug("%s: common cfg write %#x/%d ignored", self.name, offset, size)

    def _write_queue_address(self, offset: int, size: int, value: int) -> None:
        """queue_desc/driver/device: 64 bits, written whole or as two 32-bit halves."""
        index = self._selected()
        high = offset - 4 in _QUEUE_ADDRESSES
        field = _QUEUE_ADDRESSES[offset - 4 if high else offset]
        if index is None or size not in (4, 8) or (high and size != 4):
            return
        queue = self.device.queues[index]
        if queue.ready:  # fixed while the queue is enabled
            return
        current = getattr(queue, field)
        if size == 8:
            current = value
        elif high:
            current = (current & 0xFFFFFFFF) | (value << 32)
        else:
            current = (current & ~0xFFFFFFFF) | value
        setattr(queue, field, current)

    def _reset(self) -> None:
        """device_status 0: the device and the transport registers start over (MSI-X stays)."""
        self.device.reset()
        self.device_feature_select = self.driver_feature_select = 0
        self.driver_features = 0
        self.config_vector = NO_VECTOR
        self.queue_vectors = [NO_VECTOR] * len(self.queue_vectors)
        self.queue_select = 0
        self.isr = 0
        self.set_intx(False)

    # --- snapshots -------------------------------------------------------------------------------

    def save_state(self) -> State:
        with self.device.lock:
            return {
                "device": self.device.save_state(), "pci": super().save_state(),
                "msix": self.msix.save_state(), "queue_vectors": list(self.queue_vectors),
                **save_registers(self, _REGISTERS),
            }  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        vectors = get(state, "queue_vectors", list)
        if len(vectors) != len(self.queue_vectors) or not all(
            isinstance(v, int) and 0 <= v <= NO_VECTOR for v in vectors
        ):
            raise StateError(f"'queue_vectors' is not {len(self.queue_vectors)} vectors")
        load_child("device", self.device, state)
        with self.device.lock:
            load_registers(self, state, _REGISTERS)
            self.queue_vectors = list(vectors)
        try:
            PciDevice.load_state(self, get(state, "pci", dict))
        except StateError as e:
            raise StateError(f"pci: {e}") from None
        load_child("msix", self.msix, state)

    # --- VIRTIO_PCI_CAP_PCI_CFG: BAR access through configuration space ---------------------------

    def _add_pci_cfg_cap(self) -> None:
        body = _vendor_cap(CAP_PCI_CFG, 0, 0, 0, PCI_CFG_CAP_LEN) + bytes(4)
        writable = bytearray(len(body))
        writable[2] = 0xFF  # bar
        writable[6:18] = b"\xff" * 12  # offset, length, pci_cfg_data
        self._pci_cfg = self.add_capability(R.CAP_ID_VENDOR, body, bytes(writable))
        data = self._pci_cfg + 16
        self.add_config_hook(data, 4, on_read=self._pci_cfg_read, on_write=self._pci_cfg_write)

    def _pci_cfg_target(self) -> tuple[Bar, int, int] | None:
        """(BAR, offset, length) the capability selects, if it is a valid access."""
        cap = self._pci_cfg
        bar_index = self.config[cap + 4]
        offset, length = struct.unpack_from("<II", self.config, cap + 8)
        bar = self.bars[bar_index] if bar_index < R.BAR_COUNT else None
        if bar is None or length not in (1, 2, 4) or offset % length or offset + length > bar.size:
            return None
        return bar, offset, length

    def _pci_cfg_read(self, offset: int, size: int) -> None:
        target = self._pci_cfg_target()
        if target is not None:
            bar, bar_offset, length = target
            value = bar.read(bar_offset, length)
            data = self._pci_cfg + 16
            self.config[data : data + length] = value.to_bytes(length, "little")

    def _pci_cfg_write(self, offset: int, size: int) -> None:
        target = self._pci_cfg_target()
        if target is not None:
            bar, bar_offset, length = target
            data = self._pci_cfg + 16
            bar.write(
                bar_offset, length, int.from_bytes(self.config[data : data + length], "little")
            )

    # --- life cycle ------------------------------------------------------------------------------

    def close(self) -> None:
        with self.config_lock:
            self._remove_ioeventfds()
        super().close()
        for eventfd in self._eventfds:
            if eventfd.fd >= 0:
                with contextlib.suppress(RuntimeError):  # a loop already closed dropped them
                    self.loop.remove_reader(eventfd.fd)
                eventfd.close()
