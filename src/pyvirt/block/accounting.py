"""I/O accounting of one drive, as QEMU's query-blockstats reports it.

A drive's counters outlive guest reboots (the device model is rebuilt, the
drive is not), so they live beside the open image, not in the device.
Requests are counted when they complete, failed ones apart, with the time
from submission to completion.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

# request kinds, as QEMU's stats name them
READ, WRITE, FLUSH, UNMAP = "rd", "wr", "flush", "unmap"
_KINDS = (READ, WRITE, FLUSH, UNMAP)


@dataclass
class BlockAccounting:
    operations: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    total_ns: dict[str, int] = field(default_factory=lambda: dict.fromkeys(_KINDS, 0))
    wr_highest_offset: int = 0  # the end of the furthest write
    last_ns: int | None = None  # monotonic time of the last completion
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def done(
        self, kind: str, started_ns: int, *, nbytes: int = 0, end: int = 0, ok: bool = True
    ) -> None:
        """A request of `kind` for `nbytes` ending at offset `end`, submitted at
        `started_ns`, completed."""
        now = time.monotonic_ns()
        with self.lock:
            if ok:
                self.operations[kind] += 1
                self.bytes[kind] += nbytes
                self.total_ns[kind] += now - started_ns
                if kind == WRITE:
                    self.wr_highest_offset = max(self.wr_highest_offset, end)
            else:
                self.failed[kind] += 1
            self.last_ns = now

    def refused(self, kind: str) -> None:
        """A request rejected before any I/O (bad range, read-only disk)."""
        with self.lock:
            self.invalid[kind] += 1

    def to_qmp(self) -> dict[str, object]:
        """The "stats" object of one query-blockstats entry (QEMU 7.2's BlockDeviceStats)."""
        with self.lock:
            stats: dict[str, object] = {}
            for kind in _KINDS:
                if kind != FLUSH:
                    stats[f"{kind}_bytes"] = self.bytes[kind]
                stats[f"{kind}_operations"] = self.operations[kind]
                stats[f"{kind}_total_time_ns"] = self.total_ns[kind]
                stats[f"failed_{kind}_operations"] = self.failed[kind]
                stats[f"invalid_{kind}_operations"] = self.invalid[kind]
            for kind in (READ, WRITE, UNMAP):
                stats[f"{kind}_merged"] = 0
            stats["wr_highest_offset"] = self.wr_highest_offset
            if self.last_ns is not None:
                stats["idle_time_ns"] = time.monotonic_ns() - self.last_ns
            stats |= {"account_invalid": True, "account_failed": True, "timed_stats": []}
            return stats
