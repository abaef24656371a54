"""One host thread per RISC-V hart, running the software CPU until stopped or held.

`hold` parks the thread between two slices of guest code (the hart's state is
then consistent and may be read or changed by another thread); `release`
resumes it. A Python exception out of the CPU is a bug, not a guest action:
it ends the VM with a report instead of killing the thread silently.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from pyvirt.tcg.riscv.hart import Hart


class HartThread(threading.Thread):
    def __init__(
        self, hart: Hart, *, on_fatal: Callable[[str], None], name: str, held: bool = False
    ) -> None:
        super().__init__(name=name, daemon=True)
        self.hart = hart
        self.on_fatal = on_fatal
        self.stopping = False
        self.parked = False
        self._held = held
        self._cond = threading.Condition()
        self._slice = threading.Event()  # set: leave Hart.run

    def run(self) -> None:
        try:
            self._loop()
        finally:
            with self._cond:
                self.parked = True  # for good
                self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._held and not self.stopping:
                    self.parked = True
                    self._cond.notify_all()
                    self._cond.wait()
                self.parked = False
                if self.stopping:
                    return
                self._slice = threading.Event()
                stop = self._slice
            try:
                self.hart.run(stop)
            except Exception as e:  # a CPU bug: report it, end the VM
                self.on_fatal(f"{self.name}: {type(e).__name__}: {e} (pc={self.hart.pc:#x})")
                return

    def hold(self) -> None:
        with self._cond:
            self._held = True
            self._slice.set()

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self.stopping = True
            self._slice.set()
            self._cond.notify_all()

    def wait_parked(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.parked, timeout)
