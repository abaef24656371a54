"""MC146818 CMOS real-time clock and its 128 bytes of CMOS memory (ports 0x70/0x71).

The clock shows the host's UTC time plus whatever offset the guest set by
writing the time registers; BCD/binary and 12/24-hour modes follow status
register B as on the real chip. Periodic/alarm interrupts are not modelled.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable

SECONDS, MINUTES, HOURS, WEEKDAY, DAY, MONTH, YEAR = 0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09
STATUS_A, STATUS_B, STATUS_C, STATUS_D = 0x0A, 0x0B, 0x0C, 0x0D
CENTURY = 0x32

B_SET = 0x80
B_DM_BINARY = 0x04
B_24H = 0x02
D_VRT = 0x80
PM_BIT = 0x80

_TIME_REGS = (SECONDS, MINUTES, HOURS, WEEKDAY, DAY, MONTH, YEAR, CENTURY)


def to_bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def from_bcd(value: int) -> int:
    return (value >> 4) * 10 + (value & 0x0F)


class CmosRtc:
    """Registered at port 0x70 with length 2: offset 0 selects, offset 1 is data."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self.cmos = bytearray(128)
        self.cmos[STATUS_A] = 0x26  # 32.768 kHz time base, 1024 Hz rate
        self.cmos[STATUS_B] = B_24H
        self.cmos[STATUS_D] = D_VRT
        self.index = 0
        self.offset = 0.0  # guest time minus host time, in seconds
        self.frozen: dt.datetime | None = None  # time while the SET bit is on

    def set_memory_size(self, below_4g: int, above_4g: int) -> None:
        """The CMOS memory-size bytes that BIOSes and some boot code read."""
        ext_kb = min(max(below_4g - (1 << 20), 0) >> 10, 0xFFFF)
        self.cmos[0x15], self.cmos[0x16] = 640 & 0xFF, 640 >> 8
        self.cmos[0x17], self.cmos[0x18] = ext_kb & 0xFF, ext_kb >> 8
        self.cmos[0x30], self.cmos[0x31] = ext_kb & 0xFF, ext_kb >> 8
        above_16m = min(max(below_4g - (16 << 20), 0) >> 16, 0xFFFF)
        self.cmos[0x34], self.cmos[0x35] = above_16m & 0xFF, above_16m >> 8
        high = above_4g >> 16
        self.cmos[0x5B], self.cmos[0x5C], self.cmos[0x5D] = (
            high & 0xFF, (high >> 8) & 0xFF, (high >> 16) & 0xFF,
        )  # fmt: skip

    def now(self) -> dt.datetime:
        if self.frozen is not None:
            return self.frozen
        return dt.datetime.fromtimestamp(self.clock() + self.offset, dt.UTC)

    def read(self, offset: int, size: int) -> int:
        if offset == 0:
            return 0xFF
        with self._lock:
            reg = self.index
            if reg in _TIME_REGS:
                return self._encode_time(reg)
            if reg == STATUS_C:
                value, self.cmos[STATUS_C] = self.cmos[STATUS_C], 0
                return value
            return self.cmos[reg]

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFF
        with self._lock:
            if offset == 0:
                self.index = value & 0x7F  # bit 7 is the NMI mask
                return
            reg = self.index
            if reg in _TIME_REGS:
                self._decode_time(reg, value)
            elif reg == STATUS_B:
                self._write_status_b(value)
            elif reg == STATUS_A:
                self.cmos[STATUS_A] = value & 0x7F  # UIP is read-only
            elif reg not in (STATUS_C, STATUS_D):
                self.cmos[reg] = value

    def _write_status_b(self, value: int) -> None:
        was_set = self.cmos[STATUS_B] & B_SET
        if value & B_SET and not was_set:
            self.frozen = self.now()
        elif was_set and not value & B_SET and self.frozen is not None:
            self.offset = self.frozen.timestamp() - self.clock()
            self.frozen = None
        self.cmos[STATUS_B] = value

    def _encode(self, value: int) -> int:
        return value if self.cmos[STATUS_B] & B_DM_BINARY else to_bcd(value)

    def _decode(self, value: int) -> int:
        return value if self.cmos[STATUS_B] & B_DM_BINARY else from_bcd(value)

    def _encode_time(self, reg: int) -> int:
        t = self.now()
        if reg == HOURS:
            if self.cmos[STATUS_B] & B_24H:
                return self._encode(t.hour)
            hour12 = t.hour % 12 or 12
            return self._encode(hour12) | (PM_BIT if t.hour >= 12 else 0)
        fields = {
            SECONDS: t.second,
            MINUTES: t.minute,
            WEEKDAY: t.isoweekday() % 7 + 1,  # 1 = Sunday
            DAY: t.day,
            MONTH: t.month,
            YEAR: t.year % 100,
            CENTURY: t.year // 100,
        }
        return self._encode(fields[reg])

    def _decode_time(self, reg: int, value: int) -> None:
        t = self.now()
        if reg == HOURS:
            if self.cmos[STATUS_B] & B_24H:
                hour = self._decode(value & 0x3F)
            else:
                hour = self._decode(value & 0x7F) % 12 + (12 if value & PM_BIT else 0)
            new = _replace(t, hour=hour)
        elif reg == WEEKDAY:
            return  # derived from the date
        else:
            number = self._decode(value)
            name = {SECONDS: "second", MINUTES: "minute", DAY: "day", MONTH: "month"}.get(reg)
            if name is not None:
                new = _replace(t, **{name: number})
            elif reg == YEAR:
                new = _replace(t, year=(t.year // 100) * 100 + number)
            else:
                new = _replace(t, year=number * 100 + t.year % 100)
        if new is None:
            return  # an impossible date: ignore the write
        if self.frozen is not None:
            self.frozen = new
        else:
            self.offset = new.timestamp() - self.clock()


def _replace(t: dt.datetime, **fields: int) -> dt.datetime | None:
    try:
        return t.replace(**fields)
    except ValueError:
        return None
