"""ACPI fixed-hardware power management: PM1a event/control blocks and the PM timer.

The register blocks that the FADT points at (ACPI 6.3, 4.8.3). The device is
bus-agnostic: the VMM's port bus registers `ports.ranges()` and forwards
every access inside them as `io_read(port, size)` / `io_write(port, size,
value)`, with the absolute port number and size 1, 2 or 4. An access may
start anywhere and straddle registers (each byte goes to the register that
holds it); bytes belonging to no register read as 0xFF and ignore writes.

Registers (offsets from the block bases in `AcpiPmPorts`):
  PM1a_EVT+0  PM1_STS (16 bit), write 1 to clear
  PM1a_EVT+2  PM1_EN  (16 bit), read/write
  PM1a_CNT+0  PM1_CNT (16 bit): SCI_EN, SLP_TYP, SLP_EN (write-only)
  PM_TMR+0    PM_TMR  (32 bit, read-only) at 3.579545 MHz

SCI: the level is SCI_EN && (PM1_STS & PM1_EN) over the fixed events, and
`set_irq(level)` is called, under the device lock so calls stay in order,
whenever that level changes. `set_irq` must not call back into the device.

Poweroff: a PM1_CNT write with SLP_EN set and SLP_TYP == SLP_TYP_S5 calls
`on_poweroff()` after the lock is released, on the writing vCPU's thread (so
it must not wait for that vCPU to stop). Other sleep types are ignored: the
DSDT only offers \\_S5, so an OS never asks for them.

TMR_STS (the timer's bit 31 changed) is computed when the device is accessed,
not by a host timer: no OS we know enables TMR_EN (Linux reads the timer as a
clocksource only), so the overflow SCI is raised at the next access at worst.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from .state import State, get_uint

PM_TIMER_HZ = 3_579_545
PM_TIMER_BITS = 32  # the FADT's TMR_VAL_EXT flag must say so
PM1_EVT_LEN = 4
PM1_CNT_LEN = 2
PM_TMR_LEN = 4

# PM1_STS / PM1_EN bits (ACPI 6.3 tables 4-16 and 4-17): an enable bit sits at its status bit.
TMR_STS = 1 << 0
BM_STS = 1 << 4
GBL_STS = 1 << 5
PWRBTN_STS = 1 << 8
SLPBTN_STS = 1 << 9
RTC_STS = 1 << 10
WAK_STS = 1 << 15
TMR_EN = TMR_STS
GBL_EN = GBL_STS
PWRBTN_EN = PWRBTN_STS
SLPBTN_EN = SLPBTN_STS
RTC_EN = RTC_STS
SCI_EVENTS = TMR_STS | GBL_STS | PWRBTN_STS | SLPBTN_STS | RTC_STS

# PM1_CNT bits (table 4-18).
SCI_EN = 1 << 0
BM_RLD = 1 << 1
GBL_RLS = 1 << 2
SLP_TYP_SHIFT = 10
SLP_TYP_MASK = 0b111 << SLP_TYP_SHIFT
SLP_EN = 1 << 13
PM1_CNT_STORED = SCI_EN | BM_RLD | SLP_TYP_MASK  # GBL_RLS and SLP_EN are write-only

SLP_TYP_S5 = 5  # our own choice of encoding; the DSDT's \_S5 package carries it to the OS


@dataclass(frozen=True)
class AcpiPmPorts:
    """I/O port bases of the PM register blocks (the FADT describes the same)."""

    pm1a_evt: int = 0x600
    pm1a_cnt: int = 0x604
    pm_tmr: int = 0x608

    def __post_init__(self) -> None:
        spans = sorted(self.ranges())
        for base, length in spans:
            if base <= 0 or base + length > 0x10000:
                raise ValueError(f"PM block at port {base:#x} outside the I/O space")
        for (base, length), (next_base, _) in itertools.pairwise(spans):
            if base + length > next_base:
                raise ValueError("PM register blocks overlap")

    def ranges(self) -> tuple[tuple[int, int], ...]:
        """(first port, length) of each block, for registration on the port bus."""
        return (
            (self.pm1a_evt, PM1_EVT_LEN),
            (self.pm1a_cnt, PM1_CNT_LEN),
            (self.pm_tmr, PM_TMR_LEN),
        )


@dataclass(frozen=True)
class _Register:
    port: int
    width: int
    read: Callable[[], int]
    write: Callable[[int, int], None]  # (value, mask of the bits written)


def _nothing(*_args: object) -> None:
    return None


class AcpiPm:
    """The PM1a event/control blocks and PM timer of an ACPI (non hardware-reduced) PC."""

    def __init__(
        self,
        ports: AcpiPmPorts = AcpiPmPorts(),
        *,
        on_poweroff: Callable[[], None] = _nothing,
        set_irq: Callable[[bool], None] = _nothing,
        clock_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.ports = ports
        self._on_poweroff = on_poweroff
        self._set_irq = set_irq
        self._clock_ns = clock_ns
        self._lock = threading.Lock()
        self._epoch_ns = clock_ns()
        self._timer_msb_flips = 0
        self._sts = 0
        self._en = 0
        self._cnt = SCI_EN
        self._sci = False
        self._poweroff_requested = False
        self._registers = (
            _Register(ports.pm1a_evt, 2, lambda: self._sts, self._write_sts),
            _Register(ports.pm1a_evt + 2, 2, lambda: self._en, self._write_en),
            _Register(ports.pm1a_cnt, 2, lambda: self._cnt, self._write_cnt),
            _Register(ports.pm_tmr, 4, self._timer_value, _nothing),
        )

    # -- the port bus interface -------------------------------------------------------------

    def io_read(self, port: int, size: int) -> int:
        _check_size(size)
        value = (1 << (8 * size)) - 1
        with self._lock:
            self._update_timer_status()
            for reg, shift, reg_shift, mask in self._overlaps(port, size):
                value &= ~(mask << shift)
                value |= ((reg.read() >> reg_shift) & mask) << shift
            self._update_sci()
        return value

    def io_write(self, port: int, size: int, value: int) -> None:
        _check_size(size)
        with self._lock:
            self._update_timer_status()
            for reg, shift, reg_shift, mask in self._overlaps(port, size):
                reg.write(((value >> shift) & mask) << reg_shift, mask << reg_shift)
            self._update_sci()
            poweroff, self._poweroff_requested = self._poweroff_requested, False
        if poweroff:
            self._on_poweroff()

    # -- events from the VMM ----------------------------------------------------------------

    def press_power_button(self) -> None:
        """A power button press: PWRBTN_STS, and the SCI if the OS enabled PWRBTN_EN."""
        with self._lock:
            self._sts |= PWRBTN_STS
            self._update_sci()

    def reset(self) -> None:
        """System reset: events cleared and disabled, SCI lowered. The timer runs on."""
        with self._lock:
            self._sts = 0
            self._en = 0
            self._cnt = SCI_EN
            self._update_sci()

    def save_state(self) -> State:
        with self._lock:
            return {"sts": self._sts, "en": self._en, "cnt": self._cnt, "ticks": self._ticks()}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """The PM timer continues from the saved count."""
        with self._lock:
            self._sts = get_uint(state, "sts", 16)
            self._en = get_uint(state, "en", 16)
            self._cnt = get_uint(state, "cnt", 16) & PM1_CNT_STORED
            ticks = get_uint(state, "ticks", 64)
            self._epoch_ns = self._clock_ns() - ticks * 1_000_000_000 // PM_TIMER_HZ
            self._timer_msb_flips = ticks >> (PM_TIMER_BITS - 1)
            self._sci = False
            self._update_sci()

    @property
    def sci_level(self) -> bool:
        with self._lock:
            return self._sci

    # -- registers --------------------------------------------------------------------------

    def _overlaps(self, port: int, size: int) -> Iterator[tuple[_Register, int, int, int]]:
        """(register, shift in the access, shift in the register, byte mask) per register hit."""
        for reg in self._registers:
            lo = max(port, reg.port)
            hi = min(port + size, reg.port + reg.width)
            if lo < hi:
                yield reg, 8 * (lo - port), 8 * (lo - reg.port), (1 << (8 * (hi - lo))) - 1

    def _write_sts(self, value: int, mask: int) -> None:
        self._sts &= ~(value & mask)

    def _write_en(self, value: int, mask: int) -> None:
        self._en = (self._en & ~mask) | (value & mask)

    def _write_cnt(self, value: int, mask: int) -> None:
        written = (self._cnt & ~mask) | (value & mask)
        self._cnt = written & PM1_CNT_STORED
        sleep_type = (written & SLP_TYP_MASK) >> SLP_TYP_SHIFT
        if value & mask & SLP_EN and sleep_type == SLP_TYP_S5:
            self._poweroff_requested = True

    def _ticks(self) -> int:
        return (self._clock_ns() - self._epoch_ns) * PM_TIMER_HZ // 1_000_000_000

    def _timer_value(self) -> int:
        return self._ticks() & ((1 << PM_TIMER_BITS) - 1)

    def _update_timer_status(self) -> None:
        flips = self._ticks() >> (PM_TIMER_BITS - 1)
        if flips != self._timer_msb_flips:
            self._timer_msb_flips = flips
            self._sts |= TMR_STS

    def _update_sci(self) -> None:
        level = bool(self._cnt & SCI_EN) and bool(self._sts & self._en & SCI_EVENTS)
        if level != self._sci:
            self._sci = level
            self._set_irq(level)


def _check_size(size: int) -> None:
    if size not in (1, 2, 4):
        raise ValueError(f"I/O access size {size} is not 1, 2 or 4")
