"""A PCI function with a type-0 configuration header: IDs, command/status, BARs,
capabilities and the INTx pin.

Configuration space is 256 bytes with a writable-bits mask and a
write-one-to-clear mask per byte, so any access size or alignment a guest
uses lands on the same bytes. Registers with side effects (command, BARs,
capabilities) have hooks that run after the bytes changed.

BAR regions appear on the machine's MMIO or port bus at their programmed
address only while the command register enables that kind of decoding; a
guest that points a BAR at RAM or at another device's range gets a BAR that
decodes nowhere (and a log line), never a broken bus.

Locking: `config_lock` serializes configuration accesses (vCPU threads). It
may be held while taking a device's own locks, never the other way round;
`set_intx` takes only its own lock so devices can call it from anywhere.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyvirt.hw.bus import Bus, BusDevice
from pyvirt.hw.state import State, blob, get, unblob

from . import registers as R
from .bar import Bar, BarKind

if TYPE_CHECKING:
    from .bus import PciBus

log = logging.getLogger(__name__)

ReadHook = Callable[[int, int], None]  # (offset, size) before the bytes are read
WriteHook = Callable[[int, int], None]  # (offset, size) after the bytes were written

INTX_PIN_NONE = 0
INTX_PIN_A = 1


@dataclass(frozen=True)
class _Hook:
    start: int
    end: int
    on_read: ReadHook | None
    on_write: WriteHook | None


class PciDevice:
    """Base class of every function on our PCI bus (function 0 of its slot)."""

    def __init__(
        self,
        *,
        vendor_id: int,
        device_id: int,
        class_code: int,
        revision: int = 0,
        subsystem_vendor_id: int = 0,
        subsystem_id: int = 0,
        interrupt_pin: int = INTX_PIN_NONE,
        name: str = "pci-device",
    ) -> None:
        if not 0 <= interrupt_pin <= 4:
            raise ValueError("interrupt pin is 0 (none) or 1-4 (INTA-INTD)")
        self.name = name
        self.config = bytearray(R.CONFIG_SPACE_SIZE)
        self.wmask = bytearray(R.CONFIG_SPACE_SIZE)
        self.w1cmask = bytearray(R.CONFIG_SPACE_SIZE)
        self.config_lock = threading.RLock()
        self.bars: list[Bar | None] = [None] * R.BAR_COUNT
        self.bus: PciBus | None = None
        self.slot: int | None = None
        self._hooks: list[_Hook] = []
        self._next_cap = R.CAPABILITIES_START
        self._last_cap: int | None = None
        self._intx_lock = threading.Lock()
        self._intx_level = False  # what the device asks for
        self._intx_out = False  # what the pin shows (INTX_DISABLE applied)
        self._intx_disabled = False
        self._intx_line: Callable[[bool], None] | None = None
        self._closers: list[Callable[[], None]] = []

        self._set(R.VENDOR_ID, 2, vendor_id)
        self._set(R.DEVICE_ID, 2, device_id)
        self._set(R.REVISION_ID, 1, revision)
        self._set(R.CLASS_PROG, 3, class_code)
        self._set(R.HEADER_TYPE, 1, R.HEADER_TYPE_NORMAL)
        self._set(R.SUBSYSTEM_VENDOR_ID, 2, subsystem_vendor_id)
        self._set(R.SUBSYSTEM_ID, 2, subsystem_id)
        self._set(R.INTERRUPT_PIN, 1, interrupt_pin)
        command = R.COMMAND_IO | R.COMMAND_MEMORY | R.COMMAND_MASTER | R.COMMAND_PARITY
        command |= R.COMMAND_SERR | R.COMMAND_INTX_DISABLE
        self._set(R.COMMAND, 2, command, self.wmask)
        self._set(R.STATUS, 2, R.STATUS_W1C, self.w1cmask)
        self.wmask[R.CACHE_LINE_SIZE] = 0xFF
        self.wmask[R.INTERRUPT_LINE] = 0xFF
        self.add_config_hook(R.COMMAND, 2, on_write=self._command_written)
        self.add_config_hook(R.STATUS, 2, on_read=self._refresh_status)

    # --- raw configuration bytes ---------------------------------------------------

    def _set(self, offset: int, size: int, value: int, table: bytearray | None = None) -> None:
        target = self.config if table is None else table
        target[offset : offset + size] = value.to_bytes(size, "little")

    def _get(self, offset: int, size: int) -> int:
        return int.from_bytes(self.config[offset : offset + size], "little")

    @property
    def vendor_id(self) -> int:
        return self._get(R.VENDOR_ID, 2)

    @property
    def device_id(self) -> int:
        return self._get(R.DEVICE_ID, 2)

    @property
    def class_code(self) -> int:
        return self._get(R.CLASS_PROG, 3)

    @property
    def command(self) -> int:
        return self._get(R.COMMAND, 2)

    @property
    def interrupt_pin(self) -> int:
        return self.config[R.INTERRUPT_PIN]

    def add_config_hook(
        self,
        offset: int,
        length: int,
        *,
        on_read: ReadHook | None = None,
        on_write: WriteHook | None = None,
    ) -> None:
        """Call `on_read` before reads and `on_write` after writes touching [offset, +length)."""
        self._hooks.append(_Hook(offset, offset + length, on_read, on_write))

    # --- configuration access (the host bridge calls these) -------------------------

    def config_read(self, offset: int, size: int) -> int:
        """Read `size` bytes at `offset`; bytes beyond the 256 of conventional PCI read as 0xFF."""
        if offset < 0 or size <= 0:
            return (1 << (8 * max(size, 0))) - 1
        end = min(offset + size, R.CONFIG_SPACE_SIZE)
        with self.config_lock:
            for hook in self._hooks:
                if hook.on_read is not None and offset < hook.end and hook.start < end:
                    hook.on_read(offset, size)
            data = bytes(self.config[offset:end]) if offset < end else b""
        return int.from_bytes(data.ljust(size, b"\xff"), "little")

    def config_write(self, offset: int, size: int, value: int) -> None:
        """Write through the writable-bits and write-one-to-clear masks, then run the hooks."""
        if offset < 0 or size <= 0 or offset >= R.CONFIG_SPACE_SIZE:
            return
        end = min(offset + size, R.CONFIG_SPACE_SIZE)
        with self.config_lock:
            cfg, wmask, w1c = self.config, self.wmask, self.w1cmask
            for i, pos in enumerate(range(offset, end)):
                byte = (value >> (8 * i)) & 0xFF
                new = (cfg[pos] & ~wmask[pos]) | (byte & wmask[pos])
                cfg[pos] = new & ~(byte & w1c[pos]) & 0xFF
            for hook in self._hooks:
                if hook.on_write is not None and offset < hook.end and hook.start < end:
                    hook.on_write(offset, end - offset)

    # --- capabilities -------------------------------------------------------------------

    def add_capability(self, cap_id: int, body: bytes, writable: bytes | None = None) -> int:
        """Append a capability (ID, next pointer, then `body`); returns its offset.

        `writable` is the writable-bits mask of `body`, byte for byte (default: read-only).
        """
        length = 2 + len(body)
        offset = self._next_cap
        if offset + length > R.CONFIG_SPACE_SIZE:
            raise ValueError(f"{self.name}: no room for capability {cap_id:#x}")
        if writable is not None and len(writable) != len(body):
            raise ValueError("the writable mask must cover the capability body")
        self.config[offset] = cap_id
        self.config[offset + 1] = 0
        self.config[offset + 2 : offset + length] = body
        if writable is not None:
            self.wmask[offset + 2 : offset + length] = writable
        if self._last_cap is None:
            self.config[R.CAPABILITY_LIST] = offset
            self._set(R.STATUS, 2, self._get(R.STATUS, 2) | R.STATUS_CAP_LIST)
        else:
            self.config[self._last_cap + 1] = offset
        self._last_cap = offset
        self._next_cap = (offset + length + 3) & ~3
        return offset

    def capabilities(self) -> list[tuple[int, int]]:
        """(offset, ID) of each capability, walking the list as a driver does."""
        found: list[tuple[int, int]] = []
        pos = self.config[R.CAPABILITY_LIST] if self._last_cap is not None else 0
        while pos and len(found) < 48:
            found.append((pos, self.config[pos]))
            pos = self.config[pos + 1]
        return found

    # --- BARs -------------------------------------------------------------------------

    def add_bar(
        self,
        index: int,
        size: int,
        region: BusDevice,
        kind: BarKind = BarKind.MEM32,
        *,
        prefetchable: bool = False,
        name: str = "",
    ) -> Bar:
        """Declare BAR `index`; it decodes once the VMM (or the guest) gives it an address."""
        bar = Bar(index, kind, size, region, prefetchable, name or f"{self.name}.bar{index}")
        taken: set[int] = set()
        for other in self.bars:
            if other is not None:
                taken.update(range(other.index, other.index + other.registers))
        if taken & set(range(index, index + bar.registers)):
            raise ValueError(f"{self.name}: BAR register {index} is taken")
        self.bars[index] = bar
        offset = R.bar_offset(index)
        width = 4 * bar.registers
        self._set(offset, width, bar.flags)
        self._set(offset, width, bar.writable_mask, self.wmask)
        self.add_config_hook(offset, width, on_write=lambda _o, _s, bar=bar: self._remap(bar))
        return bar

    def bar_value(self, bar: Bar) -> int:
        return self._get(R.bar_offset(bar.index), 4 * bar.registers)

    def _decoding(self, bar: Bar) -> bool:
        return bool(self.command & (R.COMMAND_IO if bar.is_io else R.COMMAND_MEMORY))

    def _remap(self, bar: Bar) -> None:
        """Put the BAR where its register and the command register say (config_lock held)."""
        target = bar.decoded_address(self.bar_value(bar)) if self._decoding(bar) else None
        if target == bar.address or self.bus is None:
            return
        old = bar.address
        io_bus = self._bus_for(bar)
        if old is not None:
            io_bus.unregister(bar)
            bar.address = None
        if target is not None:
            try:
                io_bus.register(target, bar.size, bar, bar.name)
                bar.address = target
            except ValueError as e:
                log.info("%s: BAR%d does not decode: %s", self.name, bar.index, e)
        if bar.address != old:
            self.bar_moved(bar, old)

    def _bus_for(self, bar: Bar) -> Bus:
        assert self.bus is not None
        return self.bus.pio if bar.is_io else self.bus.mmio

    def _remap_all(self) -> None:
        for bar in self.bars:
            if bar is not None:
                self._remap(bar)

    def bar_moved(self, bar: Bar, old: int | None) -> None:
        """Hook: `bar` now decodes at `bar.address` (None: nowhere) instead of `old`.

        Runs with config_lock held; devices move their ioeventfds here.
        """

    # --- snapshots ------------------------------------------------------------------------

    def save_state(self) -> State:
        with self.config_lock:
            return {"config": blob(self.config), "intx": self._intx_level}

    def load_state(self, state: Mapping[str, Any]) -> None:
        """The configuration space as saved; BARs move where it says (the device is plugged)."""
        config = unblob(state, "config", R.CONFIG_SPACE_SIZE)
        intx = get(state, "intx", bool)
        with self.config_lock:
            self.config[:] = config
            with self._intx_lock:
                self._intx_level = intx
                self._intx_disabled = bool(self.command & R.COMMAND_INTX_DISABLE)
                self._update_intx()
            self._remap_all()

    # --- command and status -------------------------------------------------------------

    def _command_written(self, offset: int, size: int) -> None:
        with self._intx_lock:
            self._intx_disabled = bool(self.command & R.COMMAND_INTX_DISABLE)
            self._update_intx()
        self._remap_all()

    def _refresh_status(self, offset: int, size: int) -> None:
        status = self._get(R.STATUS, 2) & ~R.STATUS_INTERRUPT
        if self._intx_level:
            status |= R.STATUS_INTERRUPT
        self._set(R.STATUS, 2, status)

    # --- INTx ---------------------------------------------------------------------------

    def set_intx(self, level: bool) -> None:
        """Assert or deassert the device's interrupt pin (level-triggered, shared)."""
        with self._intx_lock:
            self._intx_level = level
            self._update_intx()

    def _update_intx(self) -> None:
        out = self._intx_level and not self._intx_disabled
        if out != self._intx_out:
            self._intx_out = out
            if self._intx_line is not None:
                self._intx_line(out)

    # --- life cycle ----------------------------------------------------------------------

    def plug(self, bus: PciBus, slot: int, intx_line: Callable[[bool], None] | None) -> None:
        """The bus took us into `slot`; `intx_line` drives our pin's interrupt line."""
        self.bus = bus
        self.slot = slot
        self._intx_line = intx_line
        with self.config_lock:
            self._remap_all()

    def unplug(self) -> None:
        """Stop decoding and drop the interrupt line (the machine is going away)."""
        with self.config_lock:
            for bar in self.bars:
                if bar is not None and bar.address is not None and self.bus is not None:
                    self._bus_for(bar).unregister(bar)
                    old, bar.address = bar.address, None
                    self.bar_moved(bar, old)
        with self._intx_lock:  # the interrupt controller may already be gone: no last word
            self._intx_line = None
            self._intx_level = self._intx_out = False
        self.bus = None
        self.slot = None

    def on_close(self, release: Callable[[], None]) -> None:
        """Have `close` call `release` (capabilities holding host resources use this)."""
        self._closers.append(release)

    def close(self) -> None:
        """Release host resources (eventfds, MSI routes) while still plugged in."""
        for release in self._closers:
            release()
