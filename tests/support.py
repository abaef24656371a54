"""Helpers shared by the tests that run VMM processes: tiny guest builds, running a VMM."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

from guests.tiny import build as tiny_build

TIMEOUT = 30.0


class TinyGuests(Mapping[str, Path]):
    """Guest name -> image path; each guest is built (or found in the cache) on first use.

    A guest that fails to build fails the test that asked for it, with the tool's output.
    """

    def __init__(self) -> None:
        self._paths: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._paths:
            try:
                self._paths[name] = tiny_build.build([name])[name]
            except tiny_build.BuildError as err:
                pytest.fail(f"building tiny guest {name} failed:\n{err}", pytrace=False)
        return self._paths[name]

    def __iter__(self) -> Iterator[str]:
        return iter(tiny_build.GUESTS)

    def __len__(self) -> int:
        return len(tiny_build.GUESTS)


@dataclass
class Run:
    argv: list[str]
    returncode: int | None  # None: killed after the timeout
    out: str
    err: str
    seconds: float

    def __str__(self) -> str:
        status = "timed out" if self.returncode is None else f"exit code {self.returncode}"
        return (
            f"\n$ {' '.join(self.argv)}\n{status} after {self.seconds:.2f} s\n"
            f"--- serial output ---\n{self.out}\n--- stderr ---\n{self.err}"
        )


class _Reader(threading.Thread):
    """Collects a pipe's bytes and lets another thread wait for a marker in them."""

    def __init__(self, pipe: IO[bytes]) -> None:
        super().__init__(daemon=True)
        self.fd = pipe.fileno()
        self.data = bytearray()
        self.cond = threading.Condition()

    def run(self) -> None:
        while chunk := os.read(self.fd, 4096):
            with self.cond:
                self.data += chunk
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def wait_for(self, marker: bytes, deadline: float) -> bool:
        with self.cond:
            while marker not in self.data:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.is_alive():
                    return False
                self.cond.wait(remaining)
            return True


def run_vmm(
    argv: list[str],
    *,
    send: bytes | None = None,
    after: bytes = b"ready\n",
    timeout: float = TIMEOUT,
) -> Run:
    """Run a VMM to completion; with `send`, write it to the serial line once `after` is seen."""
    start = time.monotonic()
    deadline = start + timeout
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if send else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out, err = _Reader(proc.stdout), _Reader(proc.stderr)
    out.start()
    err.start()
    try:
        if send is not None and proc.stdin is not None and out.wait_for(after, deadline):
            proc.stdin.write(send)
            proc.stdin.flush()
        returncode: int | None = proc.wait(max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        returncode = None
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
    out.join(5)
    err.join(5)
    return Run(
        argv,
        returncode,
        out.data.decode(errors="replace"),
        err.data.decode(errors="replace"),
        time.monotonic() - start,
    )
