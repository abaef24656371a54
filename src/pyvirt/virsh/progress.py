"""Progress for calls that can take a while: save and restore show the daemon's job
progress (virDomainGetJobStats, polled while the call runs, as virsh does); volume creation,
for which libvirt has no job API, a spinner with the elapsed time."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from pyvirt.virterror import VirtError

T = TypeVar("T")

# (bytes remaining, bytes in all) of the running job, or None while there is none to show
Poll = Callable[[], tuple[int, int] | None]

_FRAMES = "|/-\\"
_BAR = 30  # characters between the brackets of the terminal's bar
VIRSH_INTERVAL = 0.5  # seconds between virsh's job polls


def percent(remaining: int, total: int) -> int:
    """virshPrintJobProgress's figure: 100 only once nothing remains."""
    if remaining == 0:
        return 100
    return min(int(100.0 - remaining * 100.0 / total), 99)


def virsh_line(label: str, remaining: int, total: int) -> str:
    return f"\r{label}: [{percent(remaining, total):3d} %]"


def _bar(label: str, progress: tuple[int, int] | None, elapsed: float, frame: int) -> str:
    if progress is None:
        return f"\r{label}: {_FRAMES[frame % 4]} {elapsed:.1f}s\x1b[K"
    done = percent(*progress)
    filled = done * _BAR // 100
    return f"\r{label}: [{'#' * filled}{'.' * (_BAR - filled)}] {done:3d} % {elapsed:.1f}s\x1b[K"


class Progress:
    @staticmethod
    def run(label: str, verbose: bool, fn: Callable[[], T], poll: Poll | None = None) -> T:
        """fn(), with its progress on stderr while it runs: on a terminal a redrawn bar (a
        spinner when there is no progress to show), elsewhere with --verbose virsh's
        `Save: [ 45 %]` lines every half second and `[100 %]` at the end."""
        tty = sys.stderr.isatty()
        if not (tty or verbose):
            return fn()
        done = threading.Event()
        last: list[tuple[int, int] | None] = [None]

        def draw() -> None:
            start, frame = time.monotonic(), 0
            while not done.wait(0.1 if tty else VIRSH_INTERVAL):
                progress = _poll(poll)
                last[0] = progress or last[0]
                if tty:
                    sys.stderr.write(_bar(label, last[0], time.monotonic() - start, frame))
                elif progress is not None:
                    sys.stderr.write(virsh_line(label, *progress))
                sys.stderr.flush()
                frame += 1

        thread = threading.Thread(target=draw, daemon=True)
        thread.start()
        ok = False
        try:
            result = fn()
            ok = True
            return result
        finally:
            done.set()
            thread.join()
            if tty:
                sys.stderr.write("\r\x1b[K")
            elif ok:
                sys.stderr.write(virsh_line(label, 0, 1))
            sys.stderr.flush()


def _poll(poll: Poll | None) -> tuple[int, int] | None:
    """The job's figures; None when there is no poll, no job or no answer (the job may
    have just ended, the domain may not exist yet)."""
    if poll is None:
        return None
    try:
        figures = poll()
    except VirtError:
        return None
    if figures is None or figures[1] <= 0:
        return None
    return figures
