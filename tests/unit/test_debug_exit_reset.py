"""isa-debug-exit and the reset control register 0xCF9."""

from __future__ import annotations

import pytest

from pyvirt.hw.debug_exit import DebugExit
from pyvirt.hw.reset_control import ResetControl


@pytest.mark.parametrize(("value", "status"), [(0, 1), (1, 3), (0x10, 0x21), (0x7F, 0xFF)])
def test_debug_exit_status(value: int, status: int) -> None:
    codes: list[int] = []
    DebugExit(codes.append).write(0, 1, value)
    assert codes == [status]  # QEMU: exit((value << 1) | 1)


def test_debug_exit_wide_write_keeps_what_an_exit_status_can_hold() -> None:
    codes: list[int] = []
    dev = DebugExit(codes.append)
    dev.write(0, 4, 0x31)
    dev.write(0, 2, 0x180)  # (0x180 << 1) | 1 = 0x301: the process status is its low byte
    assert codes == [0x63, 0x01]


def test_debug_exit_reads_all_ones() -> None:
    assert DebugExit(lambda status: None).read(0, 1) & 0xFF == 0xFF


class Resets:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def test_reset_control_linux_sequence() -> None:
    # Linux's reboot=pci: outb(2, 0xcf9) (hard reset type), then outb(6, 0xcf9).
    resets = Resets()
    rc = ResetControl(resets)
    rc.write(0, 1, 0x02)
    assert resets.count == 0
    assert rc.read(0, 1) == 0x02
    rc.write(0, 1, 0x06)
    assert resets.count == 1


@pytest.mark.parametrize("value", [0x04, 0x0E, 0xFC])
def test_reset_cpu_bit_resets(value: int) -> None:
    resets = Resets()
    ResetControl(resets).write(0, 1, value)
    assert resets.count == 1


def test_reset_control_other_bits_do_not_reset() -> None:
    resets = Resets()
    rc = ResetControl(resets)
    for value in (0x00, 0x01, 0x02, 0x08, 0xF3):
        rc.write(0, 1, value)
    assert resets.count == 0
