"""The ACPI PM device: W1C status, enables, SCI level, sleep control, the PM timer."""

from __future__ import annotations

import itertools
import threading

import pytest

from pyvirt.hw.acpi_pm import (
    PM_TIMER_HZ,
    PWRBTN_EN,
    PWRBTN_STS,
    SCI_EN,
    SLP_EN,
    SLP_TYP_S5,
    SLP_TYP_SHIFT,
    TMR_EN,
    TMR_STS,
    AcpiPm,
    AcpiPmPorts,
)

STS, EN, CNT, TMR = 0x600, 0x602, 0x604, 0x608


class FakeClock:
    def __init__(self) -> None:
        self.ns = 1_000_000_000

    def __call__(self) -> int:
        return self.ns

    def advance_ticks(self, ticks: int) -> None:
        # Round up so that the device's floor() lands on exactly `ticks` more.
        self.ns += -(-ticks * 1_000_000_000 // PM_TIMER_HZ)


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.irq_calls: list[bool] = []
        self.poweroffs = 0
        self.pm = AcpiPm(
            on_poweroff=self._poweroff, set_irq=self.irq_calls.append, clock_ns=self.clock
        )

    def _poweroff(self) -> None:
        self.poweroffs += 1


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_ports_default_to_the_fadt_layout() -> None:
    assert AcpiPmPorts().ranges() == ((0x600, 4), (0x604, 2), (0x608, 4))
    with pytest.raises(ValueError):
        AcpiPmPorts(pm1a_evt=0x600, pm1a_cnt=0x602)


def test_reset_state(h: Harness) -> None:
    assert h.pm.io_read(STS, 2) == 0
    assert h.pm.io_read(EN, 2) == 0
    assert h.pm.io_read(CNT, 2) == SCI_EN  # no SMI_CMD: the machine is always in ACPI mode
    assert not h.pm.sci_level


def test_unknown_ports_read_ones_and_ignore_writes(h: Harness) -> None:
    assert h.pm.io_read(0x606, 2) == 0xFFFF
    assert h.pm.io_read(0x5FF, 1) == 0xFF
    h.pm.io_write(0x606, 2, 0)
    assert h.pm.io_read(0x606, 2) == 0xFFFF
    # A dword read straddling the end of PM1_CNT: two control bytes, then two unbacked ones.
    assert h.pm.io_read(0x604, 4) == 0xFFFF0000 | SCI_EN


def test_enable_is_read_write_at_any_width(h: Harness) -> None:
    h.pm.io_write(EN, 2, 0x0521)
    assert h.pm.io_read(EN, 2) == 0x0521
    assert h.pm.io_read(EN + 1, 1) == 0x05
    h.pm.io_write(EN + 1, 1, 0x01)
    assert h.pm.io_read(EN, 2) == 0x0121
    # A dword at the block base writes STS (W1C, nothing set) and EN together.
    h.pm.io_write(STS, 4, 0x0100_0000)
    assert h.pm.io_read(STS, 4) == 0x0100_0000


def test_status_is_write_one_to_clear(h: Harness) -> None:
    h.pm.press_power_button()
    assert h.pm.io_read(STS, 2) == PWRBTN_STS
    h.pm.io_write(STS, 2, 0)  # writing 0 changes nothing
    assert h.pm.io_read(STS, 2) == PWRBTN_STS
    h.pm.io_write(STS, 2, 0xFFFF & ~PWRBTN_STS)
    assert h.pm.io_read(STS, 2) == PWRBTN_STS
    h.pm.io_write(STS + 1, 1, PWRBTN_STS >> 8)
    assert h.pm.io_read(STS, 2) == 0


def test_power_button_raises_sci_only_when_enabled(h: Harness) -> None:
    h.pm.press_power_button()
    assert not h.pm.sci_level
    assert h.irq_calls == []
    h.pm.io_write(EN, 2, PWRBTN_EN)  # enabling with the status already set raises it
    assert h.pm.sci_level
    assert h.irq_calls == [True]
    h.pm.io_write(STS, 2, PWRBTN_STS)  # the OS acknowledges: the level drops
    assert not h.pm.sci_level
    assert h.irq_calls == [True, False]
    h.pm.press_power_button()
    h.pm.press_power_button()  # still asserted: no second call
    assert h.irq_calls == [True, False, True]
    h.pm.io_write(EN, 2, 0)
    assert h.irq_calls == [True, False, True, False]


def test_sci_en_gates_the_sci(h: Harness) -> None:
    h.pm.io_write(EN, 2, PWRBTN_EN)
    h.pm.io_write(CNT, 2, 0)
    h.pm.press_power_button()
    assert not h.pm.sci_level
    h.pm.io_write(CNT, 2, SCI_EN)
    assert h.pm.sci_level


def test_reset_clears_events_and_lowers_sci(h: Harness) -> None:
    h.pm.io_write(EN, 2, PWRBTN_EN)
    h.pm.press_power_button()
    h.pm.reset()
    assert h.irq_calls == [True, False]
    assert h.pm.io_read(STS, 2) == 0
    assert h.pm.io_read(EN, 2) == 0


def slp(typ: int) -> int:
    return SCI_EN | typ << SLP_TYP_SHIFT


def test_slp_en_with_s5_powers_off(h: Harness) -> None:
    # What ACPICA does: write SLP_TYP first, then SLP_TYP | SLP_EN.
    h.pm.io_write(CNT, 2, slp(SLP_TYP_S5))
    assert h.poweroffs == 0
    h.pm.io_write(CNT, 2, slp(SLP_TYP_S5) | SLP_EN)
    assert h.poweroffs == 1
    assert h.pm.io_read(CNT, 2) & SLP_EN == 0  # write-only


def test_slp_en_as_a_byte_write_of_the_high_half(h: Harness) -> None:
    h.pm.io_write(CNT + 1, 1, (SLP_TYP_S5 << SLP_TYP_SHIFT | SLP_EN) >> 8)
    assert h.poweroffs == 1


@pytest.mark.parametrize("typ", [t for t in range(8) if t != SLP_TYP_S5])
def test_other_sleep_types_do_not_power_off(h: Harness, typ: int) -> None:
    h.pm.io_write(CNT, 2, slp(typ) | SLP_EN)
    assert h.poweroffs == 0
    assert h.pm.io_read(CNT, 2) == slp(typ)


def test_s5_without_slp_en_does_not_power_off(h: Harness) -> None:
    h.pm.io_write(CNT, 2, slp(SLP_TYP_S5))
    h.pm.io_write(CNT, 1, SCI_EN)  # low byte only: SLP_EN is in the other byte
    assert h.poweroffs == 0


def test_poweroff_callback_runs_outside_the_lock() -> None:
    pm: AcpiPm
    seen: list[int] = []

    def poweroff() -> None:
        seen.append(pm.io_read(CNT, 2))  # would deadlock if called under the lock

    pm = AcpiPm(on_poweroff=poweroff)
    pm.io_write(CNT, 2, slp(SLP_TYP_S5) | SLP_EN)
    assert seen == [slp(SLP_TYP_S5)]


def test_timer_advances_at_3_579545_mhz(h: Harness) -> None:
    start = h.pm.io_read(TMR, 4)
    h.clock.ns += 1_000_000_000
    assert h.pm.io_read(TMR, 4) - start == PM_TIMER_HZ
    h.clock.advance_ticks(1)
    assert h.pm.io_read(TMR, 4) - start == PM_TIMER_HZ + 1
    assert h.pm.io_read(TMR, 2) == (PM_TIMER_HZ + 1) & 0xFFFF


def test_timer_is_read_only(h: Harness) -> None:
    h.clock.advance_ticks(1234)
    h.pm.io_write(TMR, 4, 0)
    assert h.pm.io_read(TMR, 4) == 1234


def test_timer_wraps_at_32_bits_and_flags_msb_changes(h: Harness) -> None:
    h.clock.advance_ticks((1 << 31) - 2)
    assert h.pm.io_read(STS, 2) & TMR_STS == 0
    h.clock.advance_ticks(4)
    assert h.pm.io_read(TMR, 4) == (1 << 31) + 2
    assert h.pm.io_read(STS, 2) & TMR_STS
    h.pm.io_write(STS, 2, TMR_STS)
    assert h.pm.io_read(STS, 2) & TMR_STS == 0
    h.clock.advance_ticks(1 << 31)  # bit 31 falls as the counter wraps
    assert h.pm.io_read(TMR, 4) == 2
    assert h.pm.io_read(STS, 2) & TMR_STS


def test_timer_overflow_raises_sci_when_enabled(h: Harness) -> None:
    h.pm.io_write(EN, 2, TMR_EN)
    h.clock.advance_ticks(1 << 31)
    h.pm.io_read(TMR, 4)
    assert h.pm.sci_level


def test_access_sizes_are_checked(h: Harness) -> None:
    with pytest.raises(ValueError):
        h.pm.io_read(TMR, 3)
    with pytest.raises(ValueError):
        h.pm.io_write(CNT, 8, 0)


def test_concurrent_vcpus_and_button_keep_sci_consistent() -> None:
    levels: list[bool] = []
    pm = AcpiPm(set_irq=levels.append)
    pm.io_write(EN, 2, PWRBTN_EN)

    def vcpu() -> None:
        for _ in range(2000):
            pm.io_read(TMR, 4)
            pm.io_write(STS, 2, PWRBTN_STS)

    def button() -> None:
        for _ in range(2000):
            pm.press_power_button()

    threads = [threading.Thread(target=vcpu) for _ in range(3)] + [threading.Thread(target=button)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # set_irq is only called on changes, and in order: the calls alternate True/False.
    assert all(a != b for a, b in itertools.pairwise(levels))
    assert levels[0] is True
    assert pm.sci_level == (levels[-1] if levels else False)
    assert pm.sci_level == bool(pm.io_read(STS, 2) & PWRBTN_STS)
