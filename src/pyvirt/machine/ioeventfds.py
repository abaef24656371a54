"""Guest writes that KVM turns into eventfd signals, handled on the VMM's main loop.

A virtqueue notification registered this way costs the guest no exit to the
VMM: KVM signals the eventfd, the main loop wakes and calls back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from pyvirt.kvm import Vm
from pyvirt.kvm.eventfd import EventFd

log = logging.getLogger(__name__)


class IoEventFds:
    """MMIO ioeventfds with a callback each; `close()` removes them all."""

    def __init__(self, vm: Vm, loop: asyncio.AbstractEventLoop) -> None:
        self.vm = vm
        self.loop = loop
        self._entries: list[tuple[EventFd, int, int, int | None]] = []

    def add(self, addr: int, length: int, datamatch: int | None,
            callback: Callable[[], None]) -> bool:  # fmt: skip
        """Watch writes of `length` bytes (of value `datamatch`) at `addr`; False if KVM refuses
        (the write then exits to the VMM as an ordinary MMIO access)."""
        eventfd = EventFd()
        try:
            self.vm.ioeventfd(eventfd.fd, addr, length, datamatch=datamatch)
        except OSError as e:
            log.warning("no ioeventfd at %#x: %s", addr, e.strerror)
            eventfd.close()
            return False

        def ready() -> None:
            if eventfd.drain():
                callback()

        self.loop.add_reader(eventfd.fd, ready)
        self._entries.append((eventfd, addr, length, datamatch))
        return True

    def close(self) -> None:
        for eventfd, addr, length, datamatch in self._entries:
            self.loop.remove_reader(eventfd.fd)
            with contextlib.suppress(OSError):
                self.vm.ioeventfd(eventfd.fd, addr, length, datamatch=datamatch, deassign=True)
            eventfd.close()
        self._entries.clear()
