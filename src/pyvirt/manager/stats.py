"""Samples of each running domain's CPU, memory, disk and network use, kept for the
graphs and pushed live.

CPU use is the growth of the domain's CPU time (virDomainGetInfo) over the wall
time between two samples, per vCPU, in percent, as virt-manager computes it.
Disk and network rates, in bytes per second, are the growth of the counters of
all its disks (virDomainBlockStats by target) and interfaces
(virDomainInterfaceStats by MAC); None where the connection has no such
counters (no disks, or QEMU's user-mode networking).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import xml.etree.ElementTree as ET
from collections import deque
from dataclasses import dataclass
from typing import Any

from pyvirt.client import virConnect, virDomain
from pyvirt.virterror import VirtError

from .connections import Connections
from .errors import ApiError
from .events import Hub

INTERVAL = 1.0  # seconds between samples
HISTORY = 120  # samples kept per domain (two minutes)
LIST_ACTIVE = 1  # VIR_CONNECT_LIST_DOMAINS_ACTIVE


@dataclass(frozen=True)
class Devices:
    """A running domain's disk targets and NIC MACs, read from its XML once per run (id)."""

    dom_id: int
    disks: list[str]
    macs: list[str]


@dataclass(frozen=True)
class Reading:
    """One domain's counters at one moment."""

    t: float  # monotonic seconds
    memory_kib: int
    vcpus: int
    cpu_ns: int
    io: dict[str, int | None]  # IO_KEYS: bytes so far
    devices: Devices


IO_KEYS = ("disk_rd", "disk_wr", "net_rx", "net_tx")


def _sum(stats: list[tuple[int, ...]], *fields: int) -> list[int | None]:
    if not stats:
        return [None] * len(fields)
    return [sum(s[f] for s in stats) for f in fields]


def _devices(dom: virDomain, known: Devices | None) -> Devices:
    if known is not None and known.dom_id == dom.ID():
        return known
    root = ET.fromstring(dom.XMLDesc(0))
    disks = [t.get("dev", "") for t in root.iterfind("devices/disk/target")]
    macs = [m.get("address", "") for m in root.iterfind("devices/interface/mac")]
    return Devices(dom.ID(), disks, macs)


def _io_counters(dom: virDomain, devices: Devices) -> dict[str, int | None]:
    try:
        rd, wr = _sum([dom.blockStats(d) for d in devices.disks], 1, 3)
    except VirtError:
        rd = wr = None
    try:
        rx, tx = _sum([dom.interfaceStats(m) for m in devices.macs], 0, 4)
    except VirtError:
        rx = tx = None
    return dict(zip(IO_KEYS, (rd, wr, rx, tx), strict=True))


def _read_active(virt: virConnect, known: dict[str, Devices]) -> dict[str, Reading]:
    """Every running domain's counters; `known` holds the devices of the last readings."""
    readings = {}
    for dom in virt.listAllDomains(LIST_ACTIVE):
        with contextlib.suppress(VirtError):  # it may have gone away since the listing
            _, _, memory_kib, vcpus, cpu_ns = dom.info()
            devices = _devices(dom, known.get(dom.name()))
            io = _io_counters(dom, devices)
            readings[dom.name()] = Reading(time.monotonic(), memory_kib, vcpus, cpu_ns, io, devices)
    return readings


def cpu_percent(cpu_ns: int, last_cpu_ns: int, seconds: float, vcpus: int) -> float:
    if seconds <= 0 or vcpus <= 0:
        return 0.0
    used = (cpu_ns - last_cpu_ns) / (seconds * 1e9 * vcpus) * 100
    return round(min(100.0, max(0.0, used)), 1)


def rate(now: int | None, last: int | None, seconds: float) -> int | None:
    """Bytes per second between two counter readings; None if either is unknown."""
    if now is None or last is None or seconds <= 0:
        return None
    return max(0, round((now - last) / seconds))


def sample(now: Reading, last: Reading) -> dict[str, Any]:
    """What the graphs get: CPU %, memory, and each I/O rate."""
    seconds = now.t - last.t
    out: dict[str, Any] = {
        "t": time.time(),
        "cpu": cpu_percent(now.cpu_ns, last.cpu_ns, seconds, now.vcpus),
        "memory_kib": now.memory_kib,
    }
    for key in IO_KEYS:
        out[key] = rate(now.io[key], last.io[key], seconds)
    return out


class Sampler:
    def __init__(self, connections: Connections, hub: Hub) -> None:
        self.connections = connections
        self.hub = hub
        self._history: dict[tuple[str, str], deque[dict[str, Any]]] = {}
        self._last: dict[tuple[str, str], Reading] = {}

    def history(self, cid: str, name: str) -> list[dict[str, Any]]:
        return list(self._history.get((cid, name), ()))

    async def run(self) -> None:
        while True:
            await self.sample_all()
            await asyncio.sleep(INTERVAL)

    async def sample_all(self) -> None:
        for conn in list(self.connections.by_id.values()):
            if conn.virt is None:
                continue
            known = {k[1]: r.devices for k, r in self._last.items() if k[0] == conn.id}
            try:
                readings = await conn.run(lambda v, known=known: _read_active(v, known))
            except (VirtError, ApiError):
                continue
            samples = {}
            for name, reading in readings.items():
                key = (conn.id, name)
                last = self._last.get(key)
                self._last[key] = reading
                if last is None:
                    continue
                samples[name] = sample(reading, last)
                self._history.setdefault(key, deque(maxlen=HISTORY)).append(samples[name])
            for key in [k for k in self._last if k[0] == conn.id and k[1] not in readings]:
                del self._last[key]  # stopped: its next run starts a new CPU time count
            if samples:
                self.hub.publish({"type": "stats", "conn": conn.id, "samples": samples})
