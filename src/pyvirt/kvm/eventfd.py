"""eventfd(2) counters: how KVM and the VMM's main loop signal each other without exits."""

from __future__ import annotations

import os


class EventFd:
    """A non-blocking, close-on-exec eventfd.

    KVM signals it for an ioeventfd (a guest write) and reads it for an irqfd (an
    interrupt to inject); the main loop waits on it with `loop.add_reader`.
    """

    def __init__(self) -> None:
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def fileno(self) -> int:
        return self.fd

    def signal(self, count: int = 1) -> None:
        os.eventfd_write(self.fd, count)

    def drain(self) -> int:
        """Read and reset the counter: how many signals arrived since the last drain."""
        try:
            return os.eventfd_read(self.fd)
        except BlockingIOError:
            return 0

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> EventFd:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
