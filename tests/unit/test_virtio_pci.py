"""The modern virtio-pci transport against a small fake device and fake guest memory:
identity and capabilities, every common configuration register, ISR and INTx, MSI-X
vectors, notifications (ioeventfds and MMIO exits, both ending on the main loop) and
the PCI configuration access capability."""

from __future__ import annotations

import asyncio
import struct
import threading
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.hw.pci import registers as R
from pyvirt.hw.pci.msix import CONTROL_ENABLE
from pyvirt.hw.virtio import pci as V
from pyvirt.hw.virtio.device import (
    ACKNOWLEDGE,
    DRIVER,
    DRIVER_OK,
    F_VERSION_1,
    FEATURES_OK,
    ID_BLOCK,
    NEEDS_RESET,
    VirtioDevice,
)
from pyvirt.memory import GuestMemory

from .pci_fakes import Platform

RAM = 1 << 20
DEVICE_FEATURES = 1 << 5 | 1 << 40
CONFIG = bytes(range(1, 13))


class FakeBlock(VirtioDevice):
    """Two queues (16 and 8 entries), 12 bytes of configuration; records what happens."""

    device_id = ID_BLOCK
    name = "blk"

    def __init__(self, mem: GuestMemory) -> None:
        super().__init__(mem, [16, 8], DEVICE_FEATURES)
        self.config = bytearray(CONFIG)
        self.kicks: list[tuple[int, str]] = []  # (queue, thread name)
        self.config_writes: list[tuple[int, int, int]] = []
        self.resets = 0

    def queue_notify(self, index: int) -> None:
        self.kicks.append((index, threading.current_thread().name))

    def config_write(self, offset: int, size: int, value: int) -> None:
        self.config_writes.append((offset, size, value))

    def on_reset(self) -> None:
        self.resets += 1


class Guest:
    """The driver's view: config space through the bus, BAR4 and BAR1 through MMIO."""

    def __init__(self, platform: Platform, transport: V.VirtioPciTransport) -> None:
        self.platform = platform
        self.t = transport
        assert transport.regions.address is not None
        self.bar4 = transport.regions.address

    def cfg(self, offset: int, size: int) -> int:
        return self.platform.cfg_read(self.t, offset, size)

    def set_cfg(self, offset: int, size: int, value: int) -> None:
        self.platform.cfg_write(self.t, offset, size, value)

    def read(self, offset: int, size: int) -> int:
        return self.platform.mmio.read(self.bar4 + offset, size)

    def write(self, offset: int, size: int, value: int) -> None:
        self.platform.mmio.write(self.bar4 + offset, size, value)

    def vendor_caps(self) -> dict[int, tuple[int, ...]]:
        """cfg_type -> (offset in config space, bar, offset, length, cap_len)."""
        caps = {}
        for pos, cap_id in self.t.capabilities():
            if cap_id == R.CAP_ID_VENDOR:
                cap_len, cfg_type, bar = (
                    self.cfg(pos + 2, 1),
                    self.cfg(pos + 3, 1),
                    self.cfg(pos + 4, 1),
                )
                caps[cfg_type] = (pos, bar, self.cfg(pos + 8, 4), self.cfg(pos + 12, 4), cap_len)
        return caps

    def select(self, queue: int) -> None:
        self.write(V.QUEUE_SELECT, 2, queue)

    def setup_queue(self, queue: int, base: int) -> None:
        """Rings at base (descriptors), base + 0x1000 (available), base + 0x2000 (used)."""
        self.select(queue)
        for offset, addr in ((V.QUEUE_DESC, base), (V.QUEUE_DRIVER, base + 0x1000),
                             (V.QUEUE_DEVICE, base + 0x2000)):  # fmt: skip
            self.write(offset, 4, addr & 0xFFFFFFFF)
            self.write(offset + 4, 4, addr >> 32)

    def negotiate(self) -> None:
        self.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER)
        self.write(V.DRIVER_FEATURE_SELECT, 4, 1)
        self.write(V.DRIVER_FEATURE, 4, F_VERSION_1 >> 32)
        self.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK)


def run_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Let the main loop serve what is ready (posted kicks, readable eventfds)."""
    loop.run_until_complete(asyncio.sleep(0.01))


@pytest.fixture
def mem() -> Iterator[GuestMemory]:
    memory = GuestMemory()
    memory.add_ram(0, RAM)
    yield memory
    memory.close()


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def device(mem: GuestMemory) -> FakeBlock:
    return FakeBlock(mem)


@pytest.fixture
def transport(
    platform: Platform, device: FakeBlock, loop: asyncio.AbstractEventLoop
) -> Iterator[V.VirtioPciTransport]:
    t = V.VirtioPciTransport(device, loop)
    platform.pci.add(t, slot=4)
    yield t
    platform.pci.close()


@pytest.fixture
def guest(platform: Platform, transport: V.VirtioPciTransport) -> Guest:
    return Guest(platform, transport)


# --- identity, BARs and capabilities -----------------------------------------------------------


def test_pci_identity(guest: Guest) -> None:
    assert guest.cfg(R.VENDOR_ID, 2) == 0x1AF4
    assert guest.cfg(R.DEVICE_ID, 2) == 0x1040 + ID_BLOCK
    assert guest.cfg(R.REVISION_ID, 1) == 1
    assert guest.cfg(R.CLASS_PROG, 3) == 0x010000
    assert guest.cfg(R.SUBSYSTEM_VENDOR_ID, 2) == 0x1AF4
    assert guest.cfg(R.SUBSYSTEM_ID, 2) == 0x1100
    assert guest.cfg(R.INTERRUPT_PIN, 1) == 1


CLASSES = [(1, 0x020000), (2, 0x010000), (3, 0x078000), (4, 0x00FF00), (9, 0xFF0000)]


@pytest.mark.parametrize(("device_id", "class_code"), CLASSES)
def test_class_code_per_device_type(
    mem: GuestMemory, loop: asyncio.AbstractEventLoop, device_id: int, class_code: int
) -> None:
    dev = FakeBlock(mem)
    dev.device_id = device_id
    t = V.VirtioPciTransport(dev, loop)
    assert t.class_code == class_code
    assert t.device_id == 0x1040 + device_id
    t.close()


def test_bars(guest: Guest) -> None:
    guest.set_cfg(R.COMMAND, 2, 0)  # a driver sizes with decoding off
    for index in range(6):
        guest.set_cfg(R.bar_offset(index), 4, 0xFFFFFFFF)
    sizes = [guest.cfg(R.bar_offset(i), 4) for i in range(6)]
    assert sizes[1] == 0xFFFFF000  # MSI-X: 4 KiB, 32-bit memory
    assert sizes[4] == 0xFFFFC00C and sizes[5] == 0xFFFFFFFF  # 16 KiB, 64-bit, prefetchable
    assert sizes[0] == sizes[2] == sizes[3] == 0


def test_vendor_capabilities_point_at_bar4(guest: Guest) -> None:
    caps = guest.vendor_caps()
    assert set(caps) == {V.CAP_COMMON_CFG, V.CAP_ISR_CFG, V.CAP_DEVICE_CFG, V.CAP_NOTIFY_CFG,
                         V.CAP_PCI_CFG}  # fmt: skip
    assert caps[V.CAP_COMMON_CFG][1:] == (4, 0x0000, 0x1000, 16)
    assert caps[V.CAP_ISR_CFG][1:] == (4, 0x1000, 0x1000, 16)
    assert caps[V.CAP_DEVICE_CFG][1:] == (4, 0x2000, len(CONFIG), 16)
    assert caps[V.CAP_NOTIFY_CFG][1:] == (4, 0x3000, 0x1000, 20)
    assert guest.cfg(caps[V.CAP_NOTIFY_CFG][0] + 16, 4) == 4  # notify_off_multiplier
    assert caps[V.CAP_PCI_CFG][4] == 20
    msix = [pos for pos, cap_id in guest.t.capabilities() if cap_id == R.CAP_ID_MSIX]
    assert len(msix) == 1
    assert guest.cfg(msix[0] + 2, 2) & 0x7FF == 2  # num_queues + 1 vectors


def test_a_device_without_configuration_has_no_device_cap(
    mem: GuestMemory, loop: asyncio.AbstractEventLoop
) -> None:
    dev = FakeBlock(mem)
    dev.config = bytearray()
    t = V.VirtioPciTransport(dev, loop)
    platform = Platform()
    platform.pci.add(t)
    assert V.CAP_DEVICE_CFG not in Guest(platform, t).vendor_caps()
    platform.pci.close()


# --- common configuration ------------------------------------------------------------------------


def test_feature_words(guest: Guest, device: FakeBlock) -> None:
    offered = device.device_features
    for select in (0, 1, 2, 0xFFFFFFFF):
        guest.write(V.DEVICE_FEATURE_SELECT, 4, select)
        assert guest.read(V.DEVICE_FEATURE_SELECT, 4) == select
        expected = (offered >> (32 * select)) & 0xFFFFFFFF if select < 2 else 0
        assert guest.read(V.DEVICE_FEATURE, 4) == expected
    assert guest.read(V.DEVICE_FEATURE, 4) == 0
    guest.write(V.DEVICE_FEATURE, 4, 0xFFFFFFFF)  # read-only
    guest.write(V.DEVICE_FEATURE_SELECT, 4, 1)
    assert guest.read(V.DEVICE_FEATURE, 4) == offered >> 32


def test_driver_features_and_features_ok(guest: Guest, device: FakeBlock) -> None:
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER)
    guest.write(V.DRIVER_FEATURE_SELECT, 4, 0)
    guest.write(V.DRIVER_FEATURE, 4, 1 << 5 | 1 << 6)  # bit 6 is not offered
    guest.write(V.DRIVER_FEATURE_SELECT, 4, 1)
    guest.write(V.DRIVER_FEATURE, 4, (F_VERSION_1 | 1 << 40) >> 32)
    assert guest.read(V.DRIVER_FEATURE, 4) == (F_VERSION_1 | 1 << 40) >> 32
    assert device.driver_features == 1 << 5 | F_VERSION_1 | 1 << 40
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK)
    assert guest.read(V.DEVICE_STATUS, 1) & FEATURES_OK
    guest.write(V.DRIVER_FEATURE, 4, 0)  # too late: features are fixed
    assert device.driver_features & F_VERSION_1


def test_features_ok_without_version_1_is_refused(guest: Guest) -> None:
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER)
    guest.write(V.DRIVER_FEATURE, 4, 1 << 5)
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK)
    assert not guest.read(V.DEVICE_STATUS, 1) & FEATURES_OK


def test_queue_registers(guest: Guest, device: FakeBlock) -> None:
    assert guest.read(V.NUM_QUEUES, 2) == 2
    guest.select(1)
    assert guest.read(V.QUEUE_SELECT, 2) == 1
    assert guest.read(V.QUEUE_SIZE, 2) == 8
    assert guest.read(V.QUEUE_NOTIFY_OFF, 2) == 1
    guest.write(V.QUEUE_SIZE, 2, 4)
    assert device.queues[1].size == 4
    guest.write(V.QUEUE_SIZE, 2, 64)  # above the maximum: ignored
    assert guest.read(V.QUEUE_SIZE, 2) == 4
    guest.write(V.QUEUE_DESC, 8, 0x12345000)  # one 64-bit access
    guest.write(V.QUEUE_DRIVER, 4, 0x6000)  # or two halves
    guest.write(V.QUEUE_DRIVER + 4, 4, 0x1)
    assert guest.read(V.QUEUE_DESC, 8) == 0x12345000
    assert guest.read(V.QUEUE_DRIVER, 4) == 0x6000
    assert guest.read(V.QUEUE_DRIVER + 4, 4) == 1
    assert device.queues[1].avail_addr == 0x1_0000_6000
    assert device.queues[0].desc_addr == 0


def test_a_queue_select_out_of_range(guest: Guest, device: FakeBlock) -> None:
    guest.select(2)
    assert guest.read(V.QUEUE_SELECT, 2) == 2
    assert guest.read(V.QUEUE_SIZE, 2) == 0  # "no such queue"
    assert guest.read(V.QUEUE_ENABLE, 2) == 0
    assert guest.read(V.QUEUE_DESC, 8) == 0
    for offset, size in ((V.QUEUE_SIZE, 2), (V.QUEUE_ENABLE, 2), (V.QUEUE_MSIX_VECTOR, 2),
                         (V.QUEUE_DESC, 8), (V.QUEUE_DEVICE + 4, 4)):  # fmt: skip
        guest.write(offset, size, 1)
    assert [q.size for q in device.queues] == [16, 8]
    assert not any(q.ready or q.desc_addr or q.used_addr for q in device.queues)


def test_queue_enable_checks_the_rings(guest: Guest, device: FakeBlock) -> None:
    guest.negotiate()
    guest.setup_queue(0, 0x10000)
    guest.write(V.QUEUE_ENABLE, 2, 1)
    assert guest.read(V.QUEUE_ENABLE, 2) == 1
    assert device.queues[0].ready
    # An enabled queue's registers are fixed.
    guest.write(V.QUEUE_DESC, 4, 0x20000)
    guest.write(V.QUEUE_SIZE, 2, 2)
    assert device.queues[0].desc_addr == 0x10000 and device.queues[0].size == 16
    guest.write(V.QUEUE_ENABLE, 2, 0)  # only a reset disables a queue
    assert device.queues[0].ready
    # Rings outside RAM: the device needs a reset, nothing else happens.
    guest.setup_queue(1, RAM - 0x1000)
    guest.write(V.QUEUE_ENABLE, 2, 1)
    assert guest.read(V.QUEUE_ENABLE, 2) == 0
    assert guest.read(V.DEVICE_STATUS, 1) & NEEDS_RESET


def test_status_zero_resets_device_and_transport(guest: Guest, device: FakeBlock) -> None:
    guest.set_cfg(guest.t.msix.cap_offset + 2, 2, CONTROL_ENABLE)
    guest.negotiate()
    guest.write(V.CONFIG_MSIX_VECTOR, 2, 0)
    guest.setup_queue(0, 0x10000)
    guest.write(V.QUEUE_MSIX_VECTOR, 2, 1)
    guest.write(V.QUEUE_ENABLE, 2, 1)
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
    guest.write(V.DEVICE_FEATURE_SELECT, 4, 1)
    guest.write(V.DEVICE_STATUS, 1, 0)
    assert device.resets == 1
    assert guest.read(V.DEVICE_STATUS, 1) == 0
    assert guest.read(V.QUEUE_SELECT, 2) == 0 and guest.read(V.DEVICE_FEATURE_SELECT, 4) == 0
    assert guest.read(V.CONFIG_MSIX_VECTOR, 2) == V.NO_VECTOR
    assert guest.read(V.QUEUE_MSIX_VECTOR, 2) == V.NO_VECTOR
    assert guest.read(V.QUEUE_ENABLE, 2) == 0 and guest.read(V.QUEUE_DESC, 8) == 0
    assert device.driver_features == 0
    assert guest.t.msix.enabled  # MSI-X is PCI state, not virtio state


def test_msix_vector_registers(guest: Guest) -> None:
    for offset in (V.CONFIG_MSIX_VECTOR, V.QUEUE_MSIX_VECTOR):
        assert guest.read(offset, 2) == V.NO_VECTOR
        guest.write(offset, 2, 2)
        assert guest.read(offset, 2) == 2
        guest.write(offset, 2, 3)  # there are 3 vectors (0-2): the read-back says "failed"
        assert guest.read(offset, 2) == V.NO_VECTOR
        guest.write(offset, 2, 1)
        guest.write(offset, 2, V.NO_VECTOR)
        assert guest.read(offset, 2) == V.NO_VECTOR


def test_config_generation_and_device_config(guest: Guest, device: FakeBlock) -> None:
    assert guest.read(V.CONFIG_GENERATION, 1) == 0
    device.config_changed()
    assert guest.read(V.CONFIG_GENERATION, 1) == 1
    guest.write(V.CONFIG_GENERATION, 1, 7)  # read-only
    assert guest.read(V.CONFIG_GENERATION, 1) == 1
    assert guest.read(V.DEVICE_OFFSET, 4) == int.from_bytes(CONFIG[:4], "little")
    assert guest.read(V.DEVICE_OFFSET + 8, 4) == int.from_bytes(CONFIG[8:12], "little")
    assert guest.read(V.DEVICE_OFFSET + 10, 4) == 0  # crosses the end
    guest.write(V.DEVICE_OFFSET + 2, 2, 0xBEEF)
    guest.write(V.DEVICE_OFFSET + 12, 1, 1)  # beyond the configuration
    assert device.config_writes == [(2, 2, 0xBEEF)]


def test_odd_access_sizes_are_ignored(guest: Guest, device: FakeBlock) -> None:
    guest.write(V.DEVICE_STATUS, 4, 0x0101_0101)  # status is a byte register
    guest.write(V.QUEUE_SELECT, 4, 1)
    guest.write(V.QUEUE_DESC + 4, 8, 1)  # the high half of an address, 8 bytes wide
    assert device.status == 0 and guest.read(V.QUEUE_SELECT, 2) == 0
    assert device.queues[0].desc_addr == 0
    assert guest.read(V.COMMON_CFG_LEN, 4) == 0  # past the structure
    assert guest.read(V.COMMON_OFFSET + 0xFFC, 4) == 0


# --- interrupts ------------------------------------------------------------------------------


def test_isr_and_intx_without_msix(platform: Platform, guest: Guest, device: FakeBlock) -> None:
    gsi = 16 + (4 + 0) % 8
    guest.t.notify_queue(0)
    assert platform.lines.levels[gsi] is True
    device.config_changed()  # not DRIVER_OK yet: no interrupt for it
    guest.t.notify_config()
    assert guest.read(V.ISR_OFFSET, 1) == V.ISR_QUEUE | V.ISR_CONFIG
    assert platform.lines.levels[gsi] is False
    assert guest.read(V.ISR_OFFSET, 1) == 0  # read-to-clear
    assert guest.read(V.ISR_OFFSET + 1, 1) == 0


def test_msix_vectors(platform: Platform, guest: Guest) -> None:
    t = guest.t
    cap = t.msix.cap_offset
    guest.set_cfg(cap + 2, 2, CONTROL_ENABLE)
    bar1 = t.bars[1]
    assert bar1 is not None and bar1.address is not None
    for vector in range(3):  # program and unmask the three entries
        entry = bar1.address + 16 * vector
        platform.mmio.write(entry, 4, 0xFEE00000)
        platform.mmio.write(entry + 8, 4, 0x40 + vector)
        platform.mmio.write(entry + 12, 4, 0)
    guest.write(V.CONFIG_MSIX_VECTOR, 2, 0)
    guest.select(1)
    guest.write(V.QUEUE_MSIX_VECTOR, 2, 2)
    router, routes = platform.router, t.msix.routes
    t.notify_queue(1)
    t.notify_config()
    assert router.fired(routes[2]) == 1
    assert router.fired(routes[0]) == 1
    t.notify_queue(0)  # queue 0 has NO_VECTOR: no interrupt at all
    assert [router.fired(gsi) for gsi in routes.values()] == [0, 0, 0]
    assert platform.lines.levels.get(16 + 4, False) is False  # and no INTx either


# --- notifications -------------------------------------------------------------------------


def test_notify_writes_kick_on_the_main_loop(
    guest: Guest, device: FakeBlock, loop: asyncio.AbstractEventLoop
) -> None:
    guest.negotiate()
    for queue in (0, 1):
        guest.setup_queue(queue, 0x10000 * (queue + 1))
        guest.write(V.QUEUE_ENABLE, 2, 1)
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
    guest.write(V.NOTIFY_OFFSET + 4, 2, 1)  # queue 1's slot
    guest.write(V.NOTIFY_OFFSET + 2, 2, 0)  # not a slot
    guest.write(V.NOTIFY_OFFSET + 8, 2, 2)  # no queue 2
    assert device.kicks == []  # nothing on the vCPU's (this) thread
    vcpu = threading.Thread(target=guest.write, args=(V.NOTIFY_OFFSET, 2, 0), name="CPU 0/KVM")
    vcpu.start()
    vcpu.join()
    run_loop(loop)
    main = threading.current_thread().name
    assert sorted(device.kicks) == [(0, main), (1, main)]


def test_ioeventfds_follow_the_notify_bar(
    platform: Platform, guest: Guest, device: FakeBlock, loop: asyncio.AbstractEventLoop
) -> None:
    t = guest.t
    fds = [e.fd for e in t._eventfds]
    expected = {(fds[q], guest.bar4 + 0x3000 + 4 * q) for q in (0, 1)}
    assert platform.ioeventfds.registered == expected
    # A guest write the kernel matched signals the eventfd; the main loop kicks.
    guest.negotiate()
    guest.setup_queue(1, 0x40000)
    guest.write(V.QUEUE_ENABLE, 2, 1)
    guest.write(V.DEVICE_STATUS, 1, ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK)
    t._eventfds[1].signal()
    run_loop(loop)
    assert [q for q, _ in device.kicks] == [1]
    # Memory decoding off: no ioeventfds; on again: back; the BAR moves: they move.
    command = guest.cfg(R.COMMAND, 2)
    guest.set_cfg(R.COMMAND, 2, command & ~R.COMMAND_MEMORY)
    assert platform.ioeventfds.registered == set()
    guest.set_cfg(R.COMMAND, 2, command)
    assert platform.ioeventfds.registered == expected
    new = 0x2_0000_0000
    guest.set_cfg(R.bar_offset(4), 4, 0)
    guest.set_cfg(R.bar_offset(5), 4, new >> 32)
    assert platform.ioeventfds.registered == {(fds[q], new + 0x3000 + 4 * q) for q in (0, 1)}
    platform.pci.close()
    assert platform.ioeventfds.registered == set()


def test_kicks_before_driver_ok_are_dropped(
    guest: Guest, device: FakeBlock, loop: asyncio.AbstractEventLoop
) -> None:
    guest.write(V.NOTIFY_OFFSET, 2, 0)
    run_loop(loop)
    assert device.kicks == []


# --- VIRTIO_PCI_CAP_PCI_CFG ---------------------------------------------------------------------


def test_pci_cfg_capability_reaches_bar4(guest: Guest, device: FakeBlock) -> None:
    cap = guest.vendor_caps()[V.CAP_PCI_CFG][0]

    def select(bar: int, offset: int, length: int) -> None:
        guest.set_cfg(cap + 4, 1, bar)
        guest.set_cfg(cap + 8, 4, offset)
        guest.set_cfg(cap + 12, 4, length)

    select(4, V.NUM_QUEUES, 2)
    assert guest.cfg(cap + 16, 2) == 2
    select(4, V.DEVICE_OFFSET + 4, 4)
    assert guest.cfg(cap + 16, 4) == int.from_bytes(CONFIG[4:8], "little")
    select(4, V.DEVICE_STATUS, 1)
    guest.set_cfg(cap + 16, 1, ACKNOWLEDGE)
    assert device.status == ACKNOWLEDGE
    select(4, V.DEVICE_STATUS, 3)  # not 1, 2 or 4 bytes: nothing happens
    guest.set_cfg(cap + 16, 4, 0)
    assert device.status == ACKNOWLEDGE
    select(2, 0, 4)  # no BAR2
    guest.set_cfg(cap + 16, 4, 0)
    select(4, 0x4000, 4)  # past the end of BAR4
    guest.set_cfg(cap + 16, 4, 0)
    select(4, V.DEVICE_STATUS + 1, 2)  # misaligned
    guest.set_cfg(cap + 16, 2, 0)
    assert device.status == ACKNOWLEDGE


# --- a hostile driver ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["cfg", "bar4", "bar1", "notify"]),
            st.integers(0, 0x4000),
            st.sampled_from([1, 2, 4, 8]),
            st.integers(0, (1 << 64) - 1),
        ),
        max_size=80,
    )
)
def test_hostile_register_traffic_never_raises(ops: list[tuple[str, int, int, int]]) -> None:
    memory = GuestMemory()
    memory.add_ram(0, RAM)
    loop = asyncio.new_event_loop()
    platform = Platform()
    t = V.VirtioPciTransport(FakeBlock(memory), loop)
    platform.pci.add(t)
    try:
        for space, offset, size, value in ops:
            bar4, bar1 = t.regions.address, t.bars[1]
            if space == "cfg":
                t.config_write(offset & 0xFF, size, value)
                t.config_read((offset >> 8) & 0xFF, size)
            elif space == "bar4" and bar4 is not None:
                platform.mmio.write(bar4 + offset % 0x3000, size, value)
                platform.mmio.read(bar4 + (offset * 7) % 0x4000, size)
            elif space == "bar1" and bar1 is not None and bar1.address is not None:
                platform.mmio.write(bar1.address + offset % 0x1000, size, value)
            else:
                t.write(V.NOTIFY_OFFSET + offset % 0x1000, size, value)
            t.notify_queue(offset % 3)
            t.notify_config()
        run_loop(loop)
    finally:
        platform.pci.close()
        loop.close()
        memory.close()


def test_queue_count_limits(mem: GuestMemory, loop: asyncio.AbstractEventLoop) -> None:
    dev = FakeBlock(mem)
    dev.queues = []
    with pytest.raises(ValueError, match="1 to 1024 queues"):
        V.VirtioPciTransport(dev, loop)


def test_common_cfg_layout_matches_the_spec() -> None:
    # struct virtio_pci_common_cfg, field by field (virtio 1.2, 4.1.4.3).
    offsets = [V.DEVICE_FEATURE_SELECT, V.DEVICE_FEATURE, V.DRIVER_FEATURE_SELECT,
               V.DRIVER_FEATURE, V.CONFIG_MSIX_VECTOR, V.NUM_QUEUES, V.DEVICE_STATUS,
               V.CONFIG_GENERATION, V.QUEUE_SELECT, V.QUEUE_SIZE, V.QUEUE_MSIX_VECTOR,
               V.QUEUE_ENABLE, V.QUEUE_NOTIFY_OFF, V.QUEUE_DESC, V.QUEUE_DRIVER,
               V.QUEUE_DEVICE]  # fmt: skip
    sizes = [struct.calcsize(c) for c in "IIIIHHBBHHHHHQQQ"]
    assert offsets == [sum(sizes[:i]) for i in range(len(sizes))]
    assert sum(sizes) == V.COMMON_CFG_LEN == 0x38
