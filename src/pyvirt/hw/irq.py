"""Interrupt lines shared by several devices (e.g. COM1 and COM3 on IRQ 4)."""

from __future__ import annotations

import threading
from collections.abc import Callable


class SharedIrq:
    """The wired-OR of its sources drives `set_level`; it changes only on transitions."""

    def __init__(self, set_level: Callable[[bool], None]) -> None:
        self._set_level = set_level
        self._asserted: set[int] = set()
        self._lock = threading.Lock()
        self._next = 0

    def source(self) -> Callable[[bool], None]:
        with self._lock:
            key, self._next = self._next, self._next + 1

        def set_source(level: bool) -> None:
            with self._lock:
                before = bool(self._asserted)
                if level:
                    self._asserted.add(key)
                else:
                    self._asserted.discard(key)
                after = bool(self._asserted)
                if before != after:
                    self._set_level(after)

        return set_source
