"""Drive a VMM whose stdio is the guest's serial line."""

from __future__ import annotations

import os
import subprocess
import threading
import time


class Serial:
    """A VMM process whose stdio is the guest's serial line: wait for output, type input."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.start = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        self._data = bytearray()
        self._eof = False  # the VMM closed its output (it exited)
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while chunk := os.read(fd, 4096):
            with self._cond:
                self._data += chunk
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    @property
    def output(self) -> str:
        with self._cond:
            return self._data.decode(errors="replace")

    def expect(self, marker: str, timeout: float, after: int = 0) -> int:
        """Wait for `marker` at or beyond offset `after`; returns the offset just past it."""
        needle = marker.encode()
        deadline = time.monotonic() + timeout
        with self._cond:
            while (pos := self._data.find(needle, after)) < 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._eof:
                    raise AssertionError(f"{marker!r} not seen after {timeout:.0f} s{self}")
                self._cond.wait(remaining)
            return pos + len(needle)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"VMM still running {timeout:.0f} s later{self}") from None

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self._reader.join(5)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def __str__(self) -> str:
        return f"\n$ {' '.join(self.argv)}\nafter {self.elapsed:.1f} s, output:\n{self.output}"
