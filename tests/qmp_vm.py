"""A VMM process (pyvirt-qemu or QEMU) with a QMP socket, its COM1 in a file, and a
qemu.qmp client driving it."""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from pathlib import Path

from qemu.qmp import QMPClient

START_TIMEOUT = 20.0
_COUNT = re.compile(rb"count (\d+)\n")


class QmpVm:
    def __init__(self, argv: list[str], workdir: Path, *options: str, name: str = "vm") -> None:
        self.socket = workdir / f"{name}.qmp"
        self.serial = workdir / f"{name}.serial"
        self.argv = [*argv, "-qmp", f"unix:{self.socket},server=on,wait=off",
                     "-serial", f"file:{self.serial}", *options]  # fmt: skip
        self.proc = subprocess.Popen(self.argv, stderr=subprocess.PIPE)
        self.qmp = QMPClient(name)

    async def connect(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                await self.qmp.connect(str(self.socket))
                return
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise AssertionError(f"no QMP socket: {self.stderr()}") from None
                await asyncio.sleep(0.05)

    def output(self) -> bytes:
        return self.serial.read_bytes() if self.serial.exists() else b""

    def counts(self) -> list[int]:
        return [int(n) for n in _COUNT.findall(self.output())]

    async def wait_for_count(self, at_least: int, timeout: float = START_TIMEOUT) -> int:
        deadline = time.monotonic() + timeout
        while not (counts := self.counts()) or counts[-1] < at_least:
            assert time.monotonic() < deadline, f"the count stalled at {counts[-1:]}"
            assert self.proc.poll() is None, self.stderr()
            await asyncio.sleep(0.05)
        return counts[-1]

    async def event(self, name: str, timeout: float = 10.0) -> dict:
        """The next event called `name` (others are skipped)."""

        async def wait() -> dict:
            while True:
                event = await self.qmp.events.get()
                if event["event"] == name:
                    return dict(event)

        return await asyncio.wait_for(wait(), timeout)

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    async def close(self) -> None:
        with contextlib.suppress(EOFError):  # the VMM quit: the stream ended under the client
            await self.qmp.disconnect()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stderr is not None:
            self.proc.stderr.close()
