"""Samples of each running domain's CPU and memory, kept for the graphs and pushed live.

CPU use is the growth of the domain's CPU time (virDomainGetInfo) over the wall
time between two samples, per vCPU, in percent, as virt-manager computes it.
The client API has no block or interface statistics yet, so disk and network
graphs are not drawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from typing import Any

from pyvirt.client import virConnect
from pyvirt.virterror import VirtError

from .connections import Connections
from .errors import ApiError
from .events import Hub

INTERVAL = 1.0  # seconds between samples
HISTORY = 120  # samples kept per domain (two minutes)
LIST_ACTIVE = 1  # VIR_CONNECT_LIST_DOMAINS_ACTIVE


def _active_infos(virt: virConnect) -> dict[str, list[int]]:
    infos = {}
    for dom in virt.listAllDomains(LIST_ACTIVE):
        with contextlib.suppress(VirtError):  # it may have gone away since the listing
            infos[dom.name()] = dom.info()
    return infos


def cpu_percent(cpu_ns: int, last_cpu_ns: int, seconds: float, vcpus: int) -> float:
    if seconds <= 0 or vcpus <= 0:
        return 0.0
    used = (cpu_ns - last_cpu_ns) / (seconds * 1e9 * vcpus) * 100
    return round(min(100.0, max(0.0, used)), 1)


class Sampler:
    def __init__(self, connections: Connections, hub: Hub) -> None:
        self.connections = connections
        self.hub = hub
        self._history: dict[tuple[str, str], deque[dict[str, Any]]] = {}
        self._last: dict[tuple[str, str], tuple[float, int]] = {}  # (monotonic s, CPU ns)

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
            try:
                infos = await conn.run(_active_infos)
            except (VirtError, ApiError):
                continue
            now = time.monotonic()
            samples = {}
            for name, (_, _, memory_kib, vcpus, cpu_ns) in infos.items():
                key = (conn.id, name)
                last = self._last.get(key)
                self._last[key] = (now, cpu_ns)
                if last is None:
                    continue
                cpu = cpu_percent(cpu_ns, last[1], now - last[0], vcpus)
                sample = {"t": time.time(), "cpu": cpu, "memory_kib": memory_kib}
                self._history.setdefault(key, deque(maxlen=HISTORY)).append(sample)
                samples[name] = sample
            for key in [k for k in self._last if k[0] == conn.id and k[1] not in infos]:
                del self._last[key]  # stopped: its next run starts a new CPU time count
            if samples:
                self.hub.publish({"type": "stats", "conn": conn.id, "samples": samples})
