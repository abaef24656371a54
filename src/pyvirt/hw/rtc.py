"""MC146818 CMOS real-time clock and its 128 bytes of CMOS memory (ports 0x70/0x71).

The clock shows the host's UTC time plus whatever offset the guest set by
writing the time registers; BCD/binary and 12/24-hour modes follow status
register B as on the real chip. Periodic/alarm interrupts are not modelled.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from .state import State, StateError, blob, get_uint, unblob

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
        # While the SET bit is on: the time registers as written, applied together when
        # SET is cleared (a date may be invalid between two writes, e.g. Feb 31st).
        self.frozen: dict[str, int] | None = None

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

    def save_state(self) -> State:
        """The CMOS bytes and the guest's offset from the host's clock (kept across a restore,
        so the guest's RTC shows the host time plus that offset, as QEMU's base=utc does)."""
        with self._lock:
            return {"cmos": blob(self.cmos), "index": self.index, "offset": self.offset,
                    "frozen": dict(self.frozen) if self.frozen is not None else None}  # fmt: skip

    def load_state(self, state: Mapping[str, Any]) -> None:
        frozen = state.get("frozen")
        if frozen is not None and not (
            isinstance(frozen, dict) and set(frozen) == set(_fields(self.now()))
            and all(isinstance(v, int) for v in frozen.values())
        ):  # fmt: skip
            raise StateError("'frozen' is not a set of time fields")
        offset = state.get("offset")
        if not isinstance(offset, int | float) or isinstance(offset, bool):
            raise StateError("'offset' is not a number")
        with self._lock:
            self.cmos[:] = unblob(state, "cmos", len(self.cmos))
            self.index = get_uint(state, "index", 7)
            self.offset = float(offset)
            self.frozen = frozen

    def now(self) -> dt.datetime:
        if self.frozen is not None:
            return _normalize(self.frozen)
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
            self.frozen = _fields(self.now())
        elif was_set and not value & B_SET and self.frozen is not None:
            self.offset = _normalize(self.frozen).timestamp() - self.clock()
            self.frozen = None
        self.cmos[STATUS_B] = value

    def _encode(self, value: int) -> int:
        return value if self.cmos[STATUS_B] & B_DM_BINARY else to_bcd(value)

    def _decode(self, value: int) -> int:
        return value if self.cmos[STATUS_B] & B_DM_BINARY else from_bcd(value)

    def _encode_time(self, reg: int) -> int:
        f = self.frozen if self.frozen is not None else _fields(self.now())
        if reg == HOURS:
            hour = f["hour"]
            if self.cmos[STATUS_B] & B_24H:
                return self._encode(hour)
            return self._encode(hour % 12 or 12) | (PM_BIT if hour >= 12 else 0)
        if reg == WEEKDAY:
            return self._encode(self.now().isoweekday() % 7 + 1)  # 1 = Sunday
        if reg == YEAR:
            return self._encode(f["year"] % 100)
        if reg == CENTURY:
            return self._encode(f["year"] // 100)
        return self._encode(f[_FIELD_NAMES[reg]])

    def _decode_time(self, reg: int, value: int) -> None:
        if reg == WEEKDAY:
            return  # derived from the date
        now = self.now()
        f = self.frozen if self.frozen is not None else _fields(now)
        if reg == HOURS:
            if self.cmos[STATUS_B] & B_24H:
                f["hour"] = self._decode(value & 0x3F)
            else:
                f["hour"] = self._decode(value & 0x7F) % 12 + (12 if value & PM_BIT else 0)
        elif reg == YEAR:
            f["year"] = (f["year"] // 100) * 100 + self._decode(value)
        elif reg == CENTURY:
            f["year"] = self._decode(value) * 100 + f["year"] % 100
        else:
            f[_FIELD_NAMES[reg]] = self._decode(value)
        if self.frozen is not None:
            return  # applied when SET is cleared
        try:
            new = dt.datetime(microsecond=now.microsecond, tzinfo=dt.UTC, **f)
        except ValueError:
            return  # an impossible date: ignore the write
        self.offset = new.timestamp() - self.clock()


_FIELD_NAMES = {SECONDS: "second", MINUTES: "minute", HOURS: "hour", DAY: "day", MONTH: "month"}


def _fields(t: dt.datetime) -> dict[str, int]:
    return {
        "year": t.year, "month": t.month, "day": t.day,
        "hour": t.hour, "minute": t.minute, "second": t.second,
    }  # fmt: skip


def _normalize(f: dict[str, int]) -> dt.datetime:
    """The time the registers describe, carrying out-of-range fields over as mktime() does."""
    months = f["year"] * 12 + f["month"] - 1
    year = min(max(months // 12, dt.MINYEAR), dt.MAXYEAR)
    start = dt.datetime(year, months % 12 + 1, 1, tzinfo=dt.UTC)
    delta = dt.timedelta(
        days=f["day"] - 1, hours=f["hour"], minutes=f["minute"], seconds=f["second"]
    )
    try:
        return start + delta
    except OverflowError:
        return start
