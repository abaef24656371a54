"""MSI-X: the capability, table and PBA as a driver sees them, and delivery through the
routes and irqfds a (fake) KVM is given."""

from __future__ import annotations

import struct

import pytest

from pyvirt.hw.pci import INTX_PIN_A, Msix, PciDevice
from pyvirt.hw.pci import registers as R
from pyvirt.hw.pci.msix import CONTROL_ENABLE, CONTROL_FUNCTION_MASK, bar_layout

from .pci_fakes import Platform

VECTORS = 5
APIC = 0xFEE00000


class MsixDevice(PciDevice):
    def __init__(self, vectors: int = VECTORS) -> None:
        super().__init__(vendor_id=0x1AF4, device_id=0x1044, class_code=0, interrupt_pin=INTX_PIN_A)
        self.msix = Msix(self, vectors, bar_index=1)


class Driver:
    """What a guest driver does to a function's MSI-X, through config space and the BAR."""

    def __init__(self, platform: Platform, dev: MsixDevice) -> None:
        self.platform = platform
        self.dev = dev
        self.cap = dev.msix.cap_offset
        bar = dev.bars[1]
        assert bar is not None and bar.address is not None
        self.base = bar.address

    def control(self, value: int) -> None:
        self.platform.cfg_write(self.dev, self.cap + 2, 2, value)

    def program(self, vector: int, address: int, data: int, masked: bool) -> None:
        entry = self.base + 16 * vector
        mmio = self.platform.mmio
        mmio.write(entry, 4, address & 0xFFFFFFFF)
        mmio.write(entry + 4, 4, address >> 32)
        mmio.write(entry + 8, 4, data)
        mmio.write(entry + 12, 4, int(masked))

    def mask(self, vector: int, masked: bool) -> None:
        self.platform.mmio.write(self.base + 16 * vector + 12, 4, int(masked))

    def pba(self) -> int:
        return self.platform.mmio.read(self.base + self.dev.msix.pba_offset, 8)


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def dev(platform: Platform) -> MsixDevice:
    device = MsixDevice()
    platform.pci.add(device, slot=2)
    return device


@pytest.fixture
def driver(platform: Platform, dev: MsixDevice) -> Driver:
    return Driver(platform, dev)


def gsi_of(dev: MsixDevice, vector: int) -> int:
    return dev.msix.routes[vector]


def test_capability_layout(platform: Platform, dev: MsixDevice) -> None:
    cap = dev.msix.cap_offset
    assert (cap, R.CAP_ID_MSIX) in dev.capabilities()
    control, table, pba = struct.unpack("<HII", dev.config[cap + 2 : cap + 12])
    assert control == VECTORS - 1  # table size - 1, disabled, not masked
    assert table == 0 | 1  # offset 0 in BAR1
    assert pba == 0x800 | 1
    platform.cfg_write(dev, cap + 2, 2, 0xFFFF)
    assert platform.cfg_read(dev, cap + 2, 2) == 0xC000 | (VECTORS - 1)
    platform.cfg_write(dev, cap + 4, 4, 0x12345678)  # table offset: read-only
    assert platform.cfg_read(dev, cap + 4, 4) == 1


@pytest.mark.parametrize(
    ("vectors", "layout"),
    [(1, (0x1000, 0, 0x800)), (128, (0x1000, 0, 0x800)), (129, (0x1000, 0, 0x810)),
     (255, (0x2000, 0, 0xFF0)), (2048, (0x10000, 0, 0x8000))],
)  # fmt: skip
def test_bar_layout_follows_qemu(vectors: int, layout: tuple[int, int, int]) -> None:
    assert bar_layout(vectors) == layout


def test_table_starts_masked_and_keeps_reserved_bits_zero(driver: Driver) -> None:
    mmio = driver.platform.mmio
    for vector in range(VECTORS):
        assert mmio.read(driver.base + 16 * vector + 12, 4) == 1
    mmio.write(driver.base, 4, 0xFEE0_1003)  # address bits 1:0 are reserved
    mmio.write(driver.base + 12, 4, 0xFFFF_FFFE)  # only bit 0 of vector control is writable
    assert mmio.read(driver.base, 4) == 0xFEE0_1000
    assert mmio.read(driver.base + 12, 4) == 0
    mmio.write(driver.base, 8, 0x1_FEE0_2000)  # a qword access covers address low and high
    assert mmio.read(driver.base, 8) == 0x1_FEE0_2000
    assert mmio.read(driver.base + 16 * VECTORS, 4) == 0  # between table and PBA
    mmio.write(driver.base + driver.dev.msix.pba_offset, 8, 0xFF)  # the PBA is read-only
    assert driver.pba() == 0


def test_unmasked_vectors_get_a_route_and_fire_through_their_irqfd(
    platform: Platform, dev: MsixDevice, driver: Driver
) -> None:
    driver.control(CONTROL_ENABLE)
    assert dev.msix.routes == {}  # every entry still masked
    driver.program(0, APIC, 0x4021, masked=False)
    driver.program(3, APIC | 0x1000, 0x4022, masked=False)
    router = platform.router
    assert router.routes[gsi_of(dev, 0)] == (APIC, 0x4021)
    assert router.routes[gsi_of(dev, 3)] == (APIC | 0x1000, 0x4022)
    assert set(router.irqfds) == {gsi_of(dev, 0), gsi_of(dev, 3)}
    dev.msix.notify(3)
    dev.msix.notify(3)
    assert router.fired(gsi_of(dev, 3)) == 2
    assert router.fired(gsi_of(dev, 0)) == 0
    dev.msix.notify(VECTORS)  # no such vector: nothing, no error
    dev.msix.notify(-1)


def test_a_masked_vector_is_pending_and_fires_on_unmask(
    platform: Platform, dev: MsixDevice, driver: Driver
) -> None:
    driver.control(CONTROL_ENABLE)
    driver.program(2, APIC, 0x4030, masked=False)
    gsi = gsi_of(dev, 2)
    driver.mask(2, True)
    dev.msix.notify(2)
    assert platform.router.fired(gsi) == 0
    assert driver.pba() == 1 << 2
    driver.mask(2, False)
    assert platform.router.fired(gsi) == 1
    assert driver.pba() == 0


def test_function_mask_holds_every_vector(
    platform: Platform, dev: MsixDevice, driver: Driver
) -> None:
    driver.control(CONTROL_ENABLE | CONTROL_FUNCTION_MASK)
    driver.program(1, APIC, 0x4041, masked=False)
    driver.program(4, APIC, 0x4044, masked=False)
    dev.msix.notify(1)
    dev.msix.notify(4)
    assert driver.pba() == 1 << 1 | 1 << 4
    assert dev.msix.routes == {}  # routes are made when a vector can fire
    driver.control(CONTROL_ENABLE)
    assert platform.router.fired(gsi_of(dev, 1)) == 1
    assert platform.router.fired(gsi_of(dev, 4)) == 1
    assert driver.pba() == 0


def test_message_changes_update_the_route(
    platform: Platform, dev: MsixDevice, driver: Driver
) -> None:
    driver.control(CONTROL_ENABLE)
    driver.program(0, APIC, 0x4050, masked=False)
    gsi = gsi_of(dev, 0)
    # Linux's way: mask, rewrite, unmask. The GSI stays; the route follows the entry.
    driver.mask(0, True)
    commits = platform.router.commits
    driver.program(0, APIC | 0x2000, 0x4051, masked=True)
    assert platform.router.commits == commits  # nothing to tell KVM while masked
    driver.mask(0, False)
    assert gsi_of(dev, 0) == gsi
    assert platform.router.routes[gsi] == (APIC | 0x2000, 0x4051)
    # A driver that rewrites a live entry gets its route updated at once.
    platform.mmio.write(driver.base + 8, 4, 0x4052)
    assert platform.router.routes[gsi] == (APIC | 0x2000, 0x4052)


def test_disabling_msix_releases_routes_and_irqfds(
    platform: Platform, dev: MsixDevice, driver: Driver
) -> None:
    driver.control(CONTROL_ENABLE)
    for vector in range(VECTORS):
        driver.program(vector, APIC, 0x4060 + vector, masked=False)
    assert len(platform.router.routes) == VECTORS == len(platform.router.irqfds)
    driver.control(0)
    assert platform.router.routes == {} and platform.router.irqfds == {}
    dev.msix.notify(0)  # disabled: the device would use INTx; nothing pends here
    assert driver.pba() == 0
    driver.control(CONTROL_ENABLE)  # back on: entries kept their messages
    assert sorted(platform.router.routes.values()) == [(APIC, 0x4060 + v) for v in range(VECTORS)]


def test_enabling_msix_deasserts_intx(platform: Platform, dev: MsixDevice, driver: Driver) -> None:
    dev.set_intx(True)
    gsi = 16 + 2
    assert platform.lines.levels[gsi] is True
    driver.control(CONTROL_ENABLE)
    assert platform.lines.levels[gsi] is False


def test_a_refused_route_is_survived(platform: Platform, dev: MsixDevice, driver: Driver) -> None:
    driver.control(CONTROL_ENABLE)
    platform.router.fail = True
    driver.program(0, APIC, 0x4070, masked=False)
    assert dev.msix.routes == {}
    dev.msix.notify(0)  # no route: lost, but no exception
    driver.mask(0, True)
    driver.mask(0, False)  # the next unmask tries again
    assert 0 in dev.msix.routes
    platform.router.fail = True
    platform.mmio.write(driver.base + 8, 4, 0x4071)  # update refused: the old route stays
    assert platform.router.routes[gsi_of(dev, 0)] == (APIC, 0x4070)


def test_without_a_router_nothing_is_delivered() -> None:
    platform = Platform()
    platform.pci.msi = None
    dev = MsixDevice()
    platform.pci.add(dev)
    driver = Driver(platform, dev)
    driver.control(CONTROL_ENABLE)
    driver.program(0, APIC, 0x4080, masked=False)
    dev.msix.notify(0)
    assert dev.msix.routes == {}


def test_close_releases_everything(platform: Platform, dev: MsixDevice, driver: Driver) -> None:
    driver.control(CONTROL_ENABLE)
    driver.program(0, APIC, 0x4090, masked=False)
    platform.pci.close()
    assert platform.router.routes == {} and platform.router.irqfds == {}


def test_vector_count_is_checked() -> None:
    with pytest.raises(ValueError, match="1 to 2048"):
        MsixDevice(vectors=0)
    with pytest.raises(ValueError, match="1 to 2048"):
        MsixDevice(vectors=2049)
