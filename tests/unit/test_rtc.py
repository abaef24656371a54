"""The MC146818 CMOS RTC at ports 0x70/0x71, against the Motorola MC146818A datasheet
and the CMOS layout PC BIOSes (and QEMU's pc_cmos_init) use."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyvirt.hw.rtc import CmosRtc

SEC, MIN, HOUR, WDAY, MDAY, MONTH, YEAR = 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09
REG_A, REG_B, REG_C, REG_D, CENTURY = 0x0A, 0x0B, 0x0C, 0x0D, 0x32
B_SET, B_BINARY, B_24H = 0x80, 0x04, 0x02


class FakeClock:
    def __init__(self, when: dt.datetime) -> None:
        self.t = when.timestamp()

    def __call__(self) -> float:
        return self.t


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)  # type: ignore[misc]


class Rtc:
    def __init__(self, when: dt.datetime) -> None:
        self.clock = FakeClock(when)
        self.dev = CmosRtc(clock=self.clock)

    def rd(self, index: int) -> int:
        self.dev.write(0, 1, index)
        return self.dev.read(1, 1)

    def wr(self, index: int, value: int) -> None:
        self.dev.write(0, 1, index)
        self.dev.write(1, 1, value)

    def read_time(self) -> tuple[int, ...]:
        return tuple(self.rd(r) for r in (CENTURY, YEAR, MONTH, MDAY, HOUR, MIN, SEC))


@pytest.fixture
def rtc() -> Rtc:
    return Rtc(utc(2024, 2, 29, 23, 59, 58))  # a Thursday


def test_bcd_24h_by_default(rtc: Rtc) -> None:
    assert rtc.rd(REG_B) & (B_BINARY | B_24H) == B_24H
    assert rtc.read_time() == (0x20, 0x24, 0x02, 0x29, 0x23, 0x59, 0x58)
    assert rtc.rd(WDAY) == 5  # 1 = Sunday


def test_time_follows_the_host_clock(rtc: Rtc) -> None:
    rtc.clock.t += 3
    assert rtc.read_time() == (0x20, 0x24, 0x03, 0x01, 0x00, 0x00, 0x01)
    assert rtc.rd(WDAY) == 6


def test_binary_mode(rtc: Rtc) -> None:
    rtc.wr(REG_B, B_24H | B_BINARY)
    assert rtc.read_time() == (20, 24, 2, 29, 23, 59, 58)


@pytest.mark.parametrize(
    ("hour", "bcd", "binary"),
    [(0, 0x12, 12), (1, 0x01, 1), (11, 0x11, 11), (12, 0x92, 0x80 | 12), (13, 0x81, 0x81),
     (23, 0x91, 0x80 | 11)],
)  # fmt: skip
def test_12_hour_mode(hour: int, bcd: int, binary: int) -> None:
    rtc = Rtc(utc(2024, 6, 1, hour, 30, 0))
    rtc.wr(REG_B, 0)
    assert rtc.rd(HOUR) == bcd
    rtc.wr(REG_B, B_BINARY)
    assert rtc.rd(HOUR) == binary


@pytest.mark.parametrize(("written", "hour"), [(0x12, 0), (0x92, 12), (0x81, 13), (0x07, 7)])
def test_setting_the_hour_in_12_hour_mode(rtc: Rtc, written: int, hour: int) -> None:
    rtc.wr(REG_B, 0)
    rtc.wr(HOUR, written)
    assert rtc.rd(HOUR) == written
    rtc.wr(REG_B, B_24H)
    assert rtc.rd(HOUR) == int(f"{hour:02d}", 16)


def test_setting_the_time_changes_the_offset_and_reads_back(rtc: Rtc) -> None:
    rtc.wr(MIN, 0x15)
    assert rtc.rd(MIN) == 0x15
    assert rtc.dev.offset == pytest.approx(-44 * 60)
    rtc.clock.t += 60
    assert rtc.rd(MIN) == 0x16  # the clock keeps running from the new time


def test_binary_writes() -> None:
    rtc = Rtc(utc(2024, 6, 1, 12, 0, 0))
    rtc.wr(REG_B, B_24H | B_BINARY)
    rtc.wr(YEAR, 99)
    rtc.wr(CENTURY, 19)
    assert rtc.read_time()[:2] == (19, 99)
    rtc.wr(REG_B, B_24H)
    assert rtc.read_time()[:2] == (0x19, 0x99)


def test_century_register(rtc: Rtc) -> None:
    rtc.wr(CENTURY, 0x21)
    assert rtc.read_time()[:2] == (0x21, 0x24)
    assert rtc.dev.now().year == 2124


def test_impossible_single_field_write_is_ignored(rtc: Rtc) -> None:
    rtc.wr(MDAY, 0x31)  # February 31st
    assert rtc.rd(MDAY) == 0x29


def test_set_bit_freezes_the_clock(rtc: Rtc) -> None:
    rtc.wr(REG_B, B_24H | B_SET)
    before = rtc.read_time()
    rtc.clock.t += 3600
    assert rtc.read_time() == before
    rtc.wr(REG_B, B_24H)
    assert rtc.read_time() == before  # it resumes from where it stopped
    rtc.clock.t += 1
    assert rtc.rd(SEC) == 0x59


def test_linux_style_set_time_across_month_lengths() -> None:
    # Linux's mc146818_set_time: SET, then year, month, day, hours, minutes, seconds.
    rtc = Rtc(utc(2023, 1, 31, 8, 0, 0))
    rtc.wr(REG_B, B_24H | B_SET)
    for reg, value in ((YEAR, 0x23), (MONTH, 0x02), (MDAY, 0x15), (HOUR, 0x10), (MIN, 0x20),
                       (SEC, 0x30)):  # fmt: skip
        rtc.wr(reg, value)
    rtc.wr(REG_B, B_24H)
    assert rtc.read_time() == (0x20, 0x23, 0x02, 0x15, 0x10, 0x20, 0x30)
    assert rtc.dev.now() == utc(2023, 2, 15, 10, 20, 30)


def test_set_time_to_the_31st_from_a_short_month() -> None:
    rtc = Rtc(utc(2023, 4, 30, 8, 0, 0))
    rtc.wr(REG_B, B_24H | B_SET)
    rtc.wr(MDAY, 0x31)  # April 31st does not exist ... yet
    rtc.wr(MONTH, 0x05)
    rtc.wr(REG_B, B_24H)
    assert rtc.read_time()[2:4] == (0x05, 0x31)


def test_registers_read_back_while_set(rtc: Rtc) -> None:
    rtc.wr(REG_B, B_24H | B_SET)
    rtc.wr(MIN, 0x42)
    assert rtc.rd(MIN) == 0x42
    assert rtc.rd(REG_B) & B_SET


def test_status_c_is_read_to_clear(rtc: Rtc) -> None:
    rtc.dev.cmos[REG_C] = 0xC0  # as if IRQF and PF had latched
    assert rtc.rd(REG_C) == 0xC0
    assert rtc.rd(REG_C) == 0x00


def test_status_c_and_d_are_read_only(rtc: Rtc) -> None:
    rtc.wr(REG_C, 0xFF)
    assert rtc.rd(REG_C) == 0
    rtc.wr(REG_D, 0x00)
    assert rtc.rd(REG_D) == 0x80  # VRT: the battery is fine


def test_status_a_update_in_progress_is_read_only(rtc: Rtc) -> None:
    assert rtc.rd(REG_A) == 0x26
    rtc.wr(REG_A, 0xA6)
    assert rtc.rd(REG_A) == 0x26


def test_nmi_mask_bit_of_the_index_is_ignored(rtc: Rtc) -> None:
    rtc.wr(0x80 | 0x40, 0x5A)
    assert rtc.rd(0x40) == 0x5A
    assert rtc.rd(0x80 | SEC) == 0x58


def test_index_port_reads_all_ones(rtc: Rtc) -> None:
    assert rtc.dev.read(0, 1) == 0xFF


def test_plain_cmos_bytes(rtc: Rtc) -> None:
    for index in (0x0E, 0x40, 0x7F):
        rtc.wr(index, index ^ 0xA5)
    assert [rtc.rd(i) for i in (0x0E, 0x40, 0x7F)] == [i ^ 0xA5 for i in (0x0E, 0x40, 0x7F)]


def _word(rtc: Rtc, low: int) -> int:
    return rtc.rd(low) | rtc.rd(low + 1) << 8


MiB, GiB = 1 << 20, 1 << 30


@pytest.mark.parametrize(
    ("below", "above", "ext_kb", "above_16m", "above_4g"),
    [
        (32 * MiB, 0, 31 * 1024, 16 * MiB >> 16, 0),
        (64 * MiB, 0, 63 * 1024, 48 * MiB >> 16, 0),
        (128 * MiB, 0, 0xFFFF, 112 * MiB >> 16, 0),  # the extended-memory word saturates
        (3 * GiB, 1 * GiB, 0xFFFF, (3 * GiB - 16 * MiB) >> 16, 1 * GiB >> 16),
        (8 * MiB, 0, 7 * 1024, 0, 0),
    ],
)
def test_cmos_memory_size_bytes(
    below: int, above: int, ext_kb: int, above_16m: int, above_4g: int
) -> None:
    rtc = Rtc(utc(2024, 1, 1))
    rtc.dev.set_memory_size(below, above)
    assert _word(rtc, 0x15) == 640  # base memory, KiB
    assert _word(rtc, 0x17) == ext_kb  # KiB above 1 MiB
    assert _word(rtc, 0x30) == ext_kb  # the same, where POST leaves it
    assert _word(rtc, 0x34) == above_16m  # 64 KiB blocks between 16 MiB and 4 GiB
    assert _word(rtc, 0x5B) | rtc.rd(0x5D) << 16 == above_4g  # 64 KiB blocks above 4 GiB


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 0xFF), st.integers(0, 0xFF)), max_size=40))
def test_any_access_sequence_is_harmless(ops: list[tuple[bool, int, int]]) -> None:
    rtc = Rtc(utc(2024, 2, 29, 23, 59, 58))
    for is_write, index, value in ops:
        if is_write:
            rtc.wr(index, value)
        else:
            assert 0 <= rtc.rd(index) <= 0xFF
    rtc.wr(REG_B, B_24H)  # leave SET mode: whatever was written becomes a valid time
    assert isinstance(rtc.dev.now(), dt.datetime)
