"""Port and MMIO buses: address decoding, unclaimed accesses, shared interrupt lines."""

from __future__ import annotations

import logging

import pytest

from pyvirt.hw.bus import Bus, PortWindow, Sink
from pyvirt.hw.irq import SharedIrq

from .pci_fakes import Region as Recorder


@pytest.fixture
def bus() -> Bus:
    return Bus("ioport")


def test_dispatch_with_offsets(bus: Bus) -> None:
    com1, rtc = Recorder(0x12), Recorder(0x34)
    bus.register(0x3F8, 8, com1, "serial0")
    bus.register(0x70, 2, rtc, "rtc")
    assert bus.read(0x3FD, 1) == 0x12
    bus.write(0x3F8, 1, 0x41)
    bus.write(0x71, 1, 0x99)
    assert com1.reads == [(5, 1)]
    assert com1.writes == [(0, 1, 0x41)]
    assert rtc.writes == [(1, 1, 0x99)]


def test_range_boundaries(bus: Bus) -> None:
    dev = Recorder(0)
    bus.register(0x100, 0x10, dev, "dev")
    assert bus.find(0xFF) is None
    assert bus.find(0x100) is not None
    assert bus.find(0x10F) is not None
    assert bus.find(0x110) is None


@pytest.mark.parametrize(("size", "ones"), [(1, 0xFF), (2, 0xFFFF), (4, 0xFFFFFFFF),
                                            (8, 0xFFFFFFFFFFFFFFFF)])  # fmt: skip
def test_unclaimed_reads_are_all_ones_and_counted(bus: Bus, size: int, ones: int) -> None:
    assert bus.read(0x1234, size) == ones
    assert bus.read(0x1234, size) == ones
    assert bus.unclaimed[("read", 0x1234)] == 2


def test_unclaimed_writes_are_dropped_and_counted(bus: Bus) -> None:
    bus.write(0x80, 1, 0x55)
    assert bus.unclaimed[("write", 0x80)] == 1
    assert bus.unclaimed[("read", 0x80)] == 0


def test_unclaimed_access_logged_once_at_debug(bus: Bus, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="pyvirt.hw.bus"):
        for _ in range(3):
            bus.write(0x2F8, 1, 0x41)
    assert len(caplog.records) == 1
    assert caplog.records[0].levelno == logging.DEBUG
    assert "unclaimed write at 0x2f8 size 1 value=0x41" in caplog.text


def test_values_are_cut_to_the_access_size(bus: Bus) -> None:
    dev = Recorder(0x12345678)
    bus.register(0x10, 4, dev, "dev")
    assert bus.read(0x10, 1) == 0x78
    assert bus.read(0x10, 2) == 0x5678
    bus.write(0x10, 1, 0x1FF)
    assert dev.writes == [(0, 1, 0xFF)]


@pytest.mark.parametrize(
    ("base", "length"),
    [(0x3F8, 8), (0x3F0, 9), (0x3FF, 1), (0x3FA, 1), (0x3F0, 0x20)],
)
def test_overlapping_registrations_are_rejected(bus: Bus, base: int, length: int) -> None:
    bus.register(0x3F8, 8, Recorder(0), "serial0")
    with pytest.raises(ValueError, match="overlaps serial0"):
        bus.register(base, length, Recorder(0), "other")


def test_adjacent_ranges_are_fine(bus: Bus) -> None:
    a, b, c = Recorder(1), Recorder(2), Recorder(3)
    bus.register(0x3F8, 8, b, "b")
    bus.register(0x400, 1, c, "c")
    bus.register(0x3F0, 8, a, "a")
    assert [bus.read(p, 1) for p in (0x3F7, 0x3F8, 0x3FF, 0x400)] == [1, 2, 2, 3]
    assert bus.describe() == ["0x03f0-0x03f7 a", "0x03f8-0x03ff b", "0x0400-0x0400 c"]


def test_empty_range_is_rejected(bus: Bus) -> None:
    with pytest.raises(ValueError, match="empty range"):
        bus.register(0x10, 0, Recorder(0), "nothing")


def test_unregister(bus: Bus) -> None:
    dev = Recorder(7)
    bus.register(0x10, 2, dev, "dev")
    bus.unregister(dev)
    assert bus.read(0x10, 1) == 0xFF
    bus.register(0x10, 2, Recorder(0), "again")  # the range is free again


def test_port_window_presents_absolute_ports(bus: Bus) -> None:
    class Absolute:
        def __init__(self) -> None:
            self.log: list[tuple] = []

        def io_read(self, port: int, size: int) -> int:
            self.log.append(("r", port, size))
            return port & 0xFF

        def io_write(self, port: int, size: int, value: int) -> None:
            self.log.append(("w", port, size, value))

    dev = Absolute()
    bus.register(0x600, 4, PortWindow(dev, 0x600), "pm-evt")
    bus.register(0x608, 4, PortWindow(dev, 0x608), "pm-tmr")
    assert bus.read(0x602, 2) == 0x02
    bus.write(0x609, 1, 5)
    assert dev.log == [("r", 0x602, 2), ("w", 0x609, 1, 5)]


def test_sink_swallows_writes(bus: Bus) -> None:
    bus.register(0x80, 1, Sink(), "post")
    bus.write(0x80, 1, 0x12)
    assert bus.read(0x80, 1) == 0xFF
    assert not bus.unclaimed


# --- shared interrupt lines ---------------------------------------------------------------


def test_wired_or() -> None:
    levels: list[bool] = []
    irq = SharedIrq(levels.append)
    com1, com3 = irq.source(), irq.source()
    com1(True)
    com3(True)
    com1(False)
    assert levels == [True]  # COM3 still holds the line
    com3(False)
    assert levels == [True, False]


def test_shared_irq_only_signals_transitions() -> None:
    levels: list[bool] = []
    irq = SharedIrq(levels.append)
    src = irq.source()
    src(False)
    src(True)
    src(True)
    src(False)
    src(False)
    assert levels == [True, False]


def test_independent_lines() -> None:
    a_levels: list[bool] = []
    b_levels: list[bool] = []
    a, b = SharedIrq(a_levels.append).source(), SharedIrq(b_levels.append).source()
    a(True)
    assert (a_levels, b_levels) == ([True], [])
    b(True)
    assert b_levels == [True]


def test_moving_a_mapping_forgets_cached_lookups(bus: Bus) -> None:
    """A PCI BAR moves: lookups cached before the move must not reach the old place."""
    bar = Recorder(0x5A)
    bus.register(0x1000, 0x10, bar, "bar")
    assert bus.read(0x1004, 1) == 0x5A  # now cached
    bus.unregister(bar)
    bus.register(0x2000, 0x10, bar, "bar")
    assert bus.read(0x1004, 1) == 0xFF
    assert bus.read(0x2004, 1) == 0x5A
    assert bar.reads == [(4, 1), (4, 1)]


def test_a_refused_overlap_leaves_the_bus_as_it_was(bus: Bus) -> None:
    a, b = Recorder(1), Recorder(2)
    bus.register(0x100, 0x10, a, "a")
    with pytest.raises(ValueError, match="overlaps a"):
        bus.register(0x108, 0x10, b, "b")
    assert bus.describe() == ["0x0100-0x010f a"]
    assert bus.read(0x110, 1) == 0xFF
