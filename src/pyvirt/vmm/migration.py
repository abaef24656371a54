"""Snapshots of a paused VM to a migration URI, and restores from one, with QEMU's
query-migrate statuses (setup, active, completed, failed) and MIGRATION events.

The blocking parts (the channel, the memory stream) run on a worker thread; the
machine's own state is captured and restored on the main loop, where its devices live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyvirt.hw.state import StateError
from pyvirt.machine.x86 import pc_snapshot
from pyvirt.machine.x86.pc import PcMachine

from .snapshot.channel import Channel, open_channel
from .snapshot.stream import Reader, SnapshotError, Writer

ACTIVE = ("setup", "active")
PAGE_SIZE = 4096


@dataclass
class MigrationJob:
    """One migration's progress, as query-migrate reports it."""

    on_status: Callable[[str], None] = field(default=lambda status: None, repr=False)
    status: str = "none"
    error: str | None = None
    started: float = field(default_factory=time.monotonic)
    setup_ms: int = 0
    downtime_ms: int = 0
    total_ms: int = 0
    ram_total: int = 0
    stream: Writer | Reader | None = None

    def set(self, status: str) -> None:
        self.status = status
        now_ms = int((time.monotonic() - self.started) * 1000)
        if status == "active":
            self.setup_ms = now_ms
        elif status in ("completed", "failed"):
            self.total_ms = now_ms
        self.on_status(status)

    def fail(self, error: str) -> None:
        self.error = error
        self.set("failed")

    def info(self) -> dict[str, Any]:
        """The query-migrate reply (empty before any migration, as QEMU's)."""
        if self.status == "none":
            return {}
        out: dict[str, Any] = {"status": self.status}
        if self.status == "failed" and self.error:
            out["error-desc"] = self.error
        if self.status in ("active", "completed"):
            done = self.stream.transferred if self.stream is not None else 0
            out["setup-time"] = self.setup_ms
            out["ram"] = self._ram(done)
        if self.status == "completed":
            out["total-time"] = self.total_ms
            out["downtime"] = self.downtime_ms
        else:
            out["expected-downtime"] = 300
        return out

    def _ram(self, transferred: int) -> dict[str, int]:
        writer = self.stream if isinstance(self.stream, Writer) else None
        scanned = writer.ram_scanned if writer else 0  # an incoming stream has no such count
        seconds = max(self.total_ms or (time.monotonic() - self.started) * 1000, 1) / 1000
        return {
            "transferred": transferred,
            "total": self.ram_total,
            "remaining": 0 if self.status == "completed" else self.ram_total - scanned,
            "duplicate": writer.zero_chunks if writer else 0,
            "normal": writer.normal_chunks if writer else 0,
            "normal-bytes": transferred,
            "page-size": PAGE_SIZE,
            "mbps": transferred * 8 / 1e6 / seconds,
        }


def open_outgoing(uri: str) -> Channel:
    return open_channel(uri, outgoing=True)


def write_snapshot(channel: Channel, machine: PcMachine, state: dict[str, Any],
                   job: MigrationJob) -> None:  # fmt: skip
    """Stream the captured state and the machine's RAM (worker thread; the VM is paused)."""
    writer = Writer(channel.fd)
    job.stream = writer
    try:
        writer.header(pc_snapshot.signature(machine), state)
        writer.memory(machine.mem)
        writer.finish()
    finally:
        channel.close()


def read_snapshot(uri: str, machine: PcMachine, job: MigrationJob) -> dict[str, Any]:
    """Check the snapshot fits `machine` and fill its RAM (worker thread); returns the state
    to load with `pc_snapshot.load` on the main loop."""
    channel = open_channel(uri, outgoing=False)
    try:
        reader = Reader(channel.fd)
        job.stream = reader
        signature, state = reader.header()
        pc_snapshot.check_signature(machine, signature)
        job.set("active")
        reader.memory(machine.mem)
    finally:
        channel.close()
    return state


ERRORS = (SnapshotError, StateError, OSError)
