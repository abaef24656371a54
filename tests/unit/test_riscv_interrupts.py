"""CLINT and PLIC register behaviour, against a recording hart."""

from __future__ import annotations

import threading
import time

import pytest

from pyvirt.machine.riscv.clint import MTIME, MTIMECMP_BASE, NEVER, Clint
from pyvirt.machine.riscv.deadline import DeadlineTimer
from pyvirt.machine.riscv.plic import CONTEXT_BASE, ENABLE_BASE, PENDING_BASE, Plic
from pyvirt.tcg.riscv.hart import MIP_MEIP, MIP_MSIP, MIP_MTIP, MIP_SEIP


class Lines:
    def __init__(self) -> None:
        self.level: dict[int, bool] = {}

    def set_pending(self, bit: int, level: bool) -> None:
        self.level[bit] = level

    def up(self, bit: int) -> bool:
        return self.level.get(bit, False)


@pytest.fixture
def clint() -> tuple[Clint, Lines]:
    hart = Lines()
    c = Clint(1)
    c.connect([hart])
    yield c, hart
    c.close()


def test_mtime_counts_at_10_mhz(clint: tuple[Clint, Lines]) -> None:
    c, _ = clint
    a = c.read(MTIME, 8)
    time.sleep(0.05)
    ticks = c.read(MTIME, 8) - a
    assert 400_000 <= ticks <= 1_500_000
    assert c.read(MTIME + 4, 4) == c.mtime() >> 32


def test_msip_raises_and_lowers_the_software_interrupt(clint: tuple[Clint, Lines]) -> None:
    c, hart = clint
    c.write(0, 4, 1)
    assert hart.up(MIP_MSIP) and c.read(0, 4) == 1
    c.write(0, 4, 0)
    assert not hart.up(MIP_MSIP)


def test_mtimecmp_in_the_past_raises_mtip_at_once(clint: tuple[Clint, Lines]) -> None:
    c, hart = clint
    c.write(MTIMECMP_BASE, 8, 0)
    assert hart.up(MIP_MTIP)
    c.write(MTIMECMP_BASE, 8, NEVER)
    assert not hart.up(MIP_MTIP)


def test_host_timer_raises_mtip_at_the_deadline(clint: tuple[Clint, Lines]) -> None:
    c, hart = clint
    c.write(MTIMECMP_BASE, 8, c.mtime() + 200_000)  # 20 ms
    assert not hart.up(MIP_MTIP)
    deadline = time.monotonic() + 2
    while not hart.up(MIP_MTIP) and time.monotonic() < deadline:
        time.sleep(0.005)
    assert hart.up(MIP_MTIP)


def test_mtimecmp_halves_as_32_bit_writes(clint: tuple[Clint, Lines]) -> None:
    c, _ = clint
    c.write(MTIMECMP_BASE + 4, 4, 0x12345678)
    c.write(MTIMECMP_BASE, 4, 0x9ABCDEF0)
    assert c.read(MTIMECMP_BASE, 8) == 0x123456789ABCDEF0


def test_freeze_stops_time(clint: tuple[Clint, Lines]) -> None:
    c, _ = clint
    c.freeze()
    before = c.mtime()
    time.sleep(0.02)
    assert c.mtime() == before
    c.thaw()
    assert c.mtime() - before < 100_000  # resumed where it stopped


def test_bad_offsets_are_ignored(clint: tuple[Clint, Lines]) -> None:
    c, _ = clint
    c.write(0x8000, 8, 1)
    c.write(4, 4, 1)  # msip of a hart that does not exist
    assert c.read(0x8000, 8) == 0 and c.read(4, 4) == 0


def plic() -> tuple[Plic, Lines]:
    hart = Lines()
    return Plic([hart], 96), hart


def enable(p: Plic, context: int, source: int, priority: int = 1) -> None:
    p.write(4 * source, 4, priority)
    word = ENABLE_BASE + 0x80 * context + 4 * (source // 32)
    p.write(word, 4, p.read(word, 4) | 1 << (source % 32))


def claim(p: Plic, context: int) -> int:
    return p.read(CONTEXT_BASE + 0x1000 * context + 4, 4)


def complete(p: Plic, context: int, source: int) -> None:
    p.write(CONTEXT_BASE + 0x1000 * context + 4, 4, source)


def test_plic_routes_a_source_to_the_enabled_context() -> None:
    p, hart = plic()
    enable(p, 1, 10)  # S-mode context of hart 0
    p.line(10)(True)
    assert hart.up(MIP_SEIP) and not hart.up(MIP_MEIP)
    assert p.read(PENDING_BASE, 4) == 1 << 10
    assert claim(p, 1) == 10
    assert not hart.up(MIP_SEIP) and claim(p, 1) == 0
    p.line(10)(False)
    complete(p, 1, 10)
    assert not hart.up(MIP_SEIP)


def test_plic_level_still_high_at_completion_pends_again() -> None:
    p, hart = plic()
    enable(p, 0, 3)
    p.line(3)(True)
    assert claim(p, 0) == 3
    complete(p, 0, 3)
    assert hart.up(MIP_MEIP) and claim(p, 0) == 3


def test_plic_priority_threshold_and_order() -> None:
    p, hart = plic()
    enable(p, 0, 5, priority=2)
    enable(p, 0, 7, priority=5)
    enable(p, 0, 9, priority=5)
    for source in (5, 7, 9):
        p.line(source)(True)
    p.write(CONTEXT_BASE, 4, 5)  # threshold: only priorities above 5
    assert not hart.up(MIP_MEIP) and claim(p, 0) == 0
    p.write(CONTEXT_BASE, 4, 1)
    assert [claim(p, 0) for _ in range(4)] == [7, 9, 5, 0]  # ties: the lowest ID


def test_plic_disabled_source_and_hostile_accesses() -> None:
    p, hart = plic()
    p.write(4 * 4, 4, 1)
    p.line(4)(True)
    assert not hart.up(MIP_MEIP)
    enable(p, 0, 0)  # source 0 cannot be enabled
    assert p.read(ENABLE_BASE, 4) & 1 == 0
    for offset in (0x1FFFFC, CONTEXT_BASE + 0x1000 * 50, ENABLE_BASE + 0x80 * 9, 3):
        p.write(offset, 4, 0xFFFFFFFF)
        p.read(offset, 4)
    complete(p, 0, 12345)
    with pytest.raises(ValueError):
        p.line(97)


def test_a_deadline_centuries_away_keeps_the_timer_thread_alive() -> None:
    fired = threading.Event()
    timer = DeadlineTimer(fired.set, name="far")
    try:
        timer.arm(time.monotonic() + 2.0**62)  # a guest's mtimecmp near 2**64 ticks
        time.sleep(0.05)
        timer.arm(time.monotonic())
        assert fired.wait(5), "the timer thread died on a far deadline"
    finally:
        timer.close()
