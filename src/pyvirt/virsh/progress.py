"""A spinner with elapsed time for calls that can take a while (save, restore, volume
creation). The daemon reports no progress for them, so this is all a terminal can show."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_FRAMES = "|/-\\"


class Spinner:
    @staticmethod
    def run(label: str, verbose: bool, fn: Callable[[], T]) -> T:
        """fn(), with `label: | 1.2s` redrawn on stderr while it runs, if stderr is a terminal
        (or --verbose asked for it)."""
        if not (verbose or sys.stderr.isatty()):
            return fn()
        done = threading.Event()

        def draw() -> None:
            start, frame = time.monotonic(), 0
            while not done.wait(0.1):
                elapsed = time.monotonic() - start
                sys.stderr.write(f"\r{label}: {_FRAMES[frame % 4]} {elapsed:.1f}s")
                sys.stderr.flush()
                frame += 1

        thread = threading.Thread(target=draw, daemon=True)
        thread.start()
        try:
            return fn()
        finally:
            done.set()
            thread.join()
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
