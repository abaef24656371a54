"""A host thread that calls back at a monotonic deadline, re-armable from any thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

MAX_WAIT = 3600.0  # seconds per wait; a later deadline is waited for in steps


class DeadlineTimer:
    def __init__(self, callback: Callable[[], None], name: str = "timer") -> None:
        self._callback = callback
        self._deadline: float | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def arm(self, deadline: float) -> None:
        """Call back once at `deadline` (time.monotonic()), replacing any earlier arming."""
        with self._cond:
            self._deadline = deadline
            self._cond.notify()

    def cancel(self) -> None:
        with self._cond:
            self._deadline = None
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                delay = self._deadline - time.monotonic()
                if delay > 0:
                    # Bounded: a guest may program a deadline centuries away (mtimecmp
                    # near 2**64), beyond what a timed wait accepts.
                    self._cond.wait(min(delay, MAX_WAIT))
                    continue
                self._deadline = None
                self._cond.release()
                try:
                    self._callback()
                finally:
                    self._cond.acquire()
