"""One VMM process seen from the management side: spawned or re-attached, watched, driven over QMP.

Its death is noticed at once through a pidfd (for our children and for VMMs a
previous daemon started alike); the QMP events it sent before dying are all
delivered before the exit is reported, so the owner knows whether the guest shut
down or the VMM died.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qemu.qmp import EventListener, QMPClient
from qemu.qmp.error import QMPError

from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

START_TIMEOUT = 30.0
DRAIN_TIMEOUT = 2.0
PTY_PREFIX = "pty:"
SERIAL_LABEL = "charserial"

EventHandler = Callable[[str, dict[str, Any]], None]
ExitHandler = Callable[[int | None], None]  # exit status when known (our child), else None


@dataclass
class RunRecord:
    """What a daemon needs to find a running VMM again (run/NAME.json)."""

    pid: int
    start_time: int  # /proc/PID/stat starttime: a reused pid has another
    qmp: str
    id: int
    xml: str  # the definition the VMM runs, which may differ from the saved one
    ptys: dict[int, str] = field(default_factory=dict)  # serial port -> pty

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        data = dict(data)
        data["ptys"] = {int(k): v for k, v in data.get("ptys", {}).items()}
        return cls(**data)


def proc_start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[19])


class VmmProcess:
    def __init__(self, pid: int, popen: subprocess.Popen[bytes] | None, name: str) -> None:
        self.pid = pid
        self._popen = popen
        self._qmp = QMPClient(name)
        self._listener = EventListener()
        self._qmp.register_listener(self._listener)
        self._pidfd = os.pidfd_open(pid)
        self._events: asyncio.Task[None] | None = None
        self._ending: asyncio.Task[None] | None = None
        self.exited = False

    @classmethod
    async def spawn(
        cls, argv: Sequence[str], qmp_path: str, log_path: Path, name: str
    ) -> VmmProcess:
        """Start the VMM (in its own session, so it outlives the daemon) and connect to it."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "ab") as log:
            log.write(f"{time.strftime('%F %T')}: starting up\n{' '.join(argv)}\n".encode())
            log.flush()
            popen = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        vmm = cls(popen.pid, popen, name)
        try:
            await vmm._connect(qmp_path, log_path)
        except BaseException:
            vmm.kill(signal.SIGKILL)
            popen.wait()
            vmm._close_pidfd()
            raise
        return vmm

    @classmethod
    async def attach(cls, record: RunRecord, name: str) -> VmmProcess | None:
        """The VMM of `record` if it still runs (same pid, same start time), connected."""
        if proc_start_time(record.pid) != record.start_time:
            return None
        try:
            vmm = cls(record.pid, None, name)
        except ProcessLookupError:
            return None
        try:
            await vmm._qmp.connect(record.qmp)
        except (QMPError, OSError):
            vmm._close_pidfd()
            return None
        return vmm

    async def _connect(self, qmp_path: str, log_path: Path) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self._popen is not None and self._popen.poll() is not None:
                raise VirtError(
                    ErrorCode.INTERNAL_ERROR,
                    "internal error: process exited while connecting to monitor: "
                    + _log_tail(log_path),
                    ErrorDomain.QEMU,
                )
            if os.path.exists(qmp_path):
                with contextlib.suppress(QMPError, OSError):
                    await self._qmp.connect(qmp_path)
                    return
            if time.monotonic() > deadline:
                raise VirtError(
                    ErrorCode.INTERNAL_ERROR,
                    f"internal error: the VMM's monitor {qmp_path} did not come up",
                    ErrorDomain.QEMU,
                )
            await asyncio.sleep(0.02)

    def watch(self, on_event: EventHandler, on_exit: ExitHandler) -> None:
        """Report QMP events and, once, the process's end (after its last events)."""

        async def events() -> None:
            async for event in self._listener:
                on_event(event["event"], event.get("data", {}))

        async def ended() -> None:
            await self._disconnect()
            if self._events is not None:
                self._events.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._events
            while not self._listener.empty():
                event = await self._listener.get()
                on_event(event["event"], event.get("data", {}))
            status = None if self._popen is None else self._popen.wait()
            on_exit(status)

        def readable() -> None:
            loop.remove_reader(self._pidfd)
            self._close_pidfd()
            self.exited = True
            self._ending = loop.create_task(ended())

        loop = asyncio.get_running_loop()
        self._events = loop.create_task(events())
        loop.add_reader(self._pidfd, readable)

    async def execute(self, command: str, arguments: dict[str, Any] | None = None) -> Any:
        try:
            return await self._qmp.execute(command, arguments)
        except (QMPError, OSError, EOFError) as err:
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"{command}: {err}",
                ErrorDomain.QEMU,
            ) from None

    async def ptys(self) -> dict[int, str]:
        """Serial port -> pty path, from the chardevs qemu_argv named charserialN."""
        found = {}
        for chardev in await self.execute("query-chardev"):
            label, filename = chardev["label"], chardev["filename"]
            if label.startswith(SERIAL_LABEL) and filename.startswith(PTY_PREFIX):
                found[int(label[len(SERIAL_LABEL) :])] = filename[len(PTY_PREFIX) :]
        return found

    def kill(self, sig: int) -> None:
        if not self.exited:
            with contextlib.suppress(ProcessLookupError):
                signal.pidfd_send_signal(self._pidfd, sig)

    async def detach(self) -> None:
        """Stop watching and hang up, leaving the VMM running (a daemon restart)."""
        if not self.exited:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            self._close_pidfd()
        if self._events is not None:
            self._events.cancel()
        await self._disconnect()

    async def _disconnect(self) -> None:
        with contextlib.suppress(QMPError, OSError, EOFError):
            await self._qmp.disconnect()

    def _close_pidfd(self) -> None:
        if self._pidfd >= 0:
            os.close(self._pidfd)
            self._pidfd = -1


def _log_tail(path: Path, lines: int = 5) -> str:
    try:
        return " ".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
