"""The daemon connections the manager holds (one pyvirt.open() per URI) and their events.

Client calls block, so they run on worker threads. Lifecycle events arrive on
the client's event thread; each one makes the loop read the domain afresh and
push its summary to the pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from typing import Any, TypeVar

from pyvirt import uri as urimod
from pyvirt.client import VIR_DOMAIN_EVENT_ID_LIFECYCLE, virConnect, virDomain
from pyvirt.client import open as open_connection
from pyvirt.virterror import ErrorCode, VirtError

from .errors import ApiError
from .events import Hub
from .saved import SavedConnections

T = TypeVar("T")

STATE_NAMES = {
    0: "no state",
    1: "running",
    2: "idle",
    3: "paused",
    4: "in shutdown",
    5: "shut off",
    6: "crashed",
    7: "pmsuspended",
}
INACTIVE_STATES = {0, 5, 6}


def domain_summary(dom: virDomain) -> dict[str, Any]:
    """What the VM list shows of a domain (blocking: three calls to the daemon)."""
    state, max_kib, kib, vcpus, _ = dom.info()
    return {
        "name": dom.name(),
        "uuid": dom.UUIDString(),
        "state": STATE_NAMES.get(state, "unknown"),
        "active": state not in INACTIVE_STATES,
        "vcpus": vcpus,
        "memory_kib": kib,
        "max_memory_kib": max_kib,
        "persistent": bool(dom.isPersistent()),
    }


class Connection:
    def __init__(self, cid: str, uri: str, hub: Hub) -> None:
        self.id = cid
        self.uri = uri
        self.hub = hub
        self.virt: virConnect | None = None
        self.error = ""
        self._refresh_lock = asyncio.Lock()  # refreshes publish in the order events came
        self._tasks: set[asyncio.Task[None]] = set()

    def summary(self) -> dict[str, Any]:
        state = "connected" if self.virt is not None else "disconnected"
        return {"id": self.id, "uri": self.uri, "state": state, "error": self.error}

    def _publish_state(self) -> None:
        self.hub.publish({"type": "connection", "connection": self.summary()})

    async def open(self) -> None:
        await self.close()
        loop = asyncio.get_running_loop()
        try:
            self.virt = await asyncio.to_thread(self._open, loop)
            self.error = ""
        except VirtError as e:
            self.error = e.message
        self._publish_state()

    def _open(self, loop: asyncio.AbstractEventLoop) -> virConnect:
        virt = open_connection(self.uri)
        try:
            virt.domainEventRegisterAny(
                None, VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, loop
            )
        except VirtError:
            virt.close()
            raise
        return virt

    def _on_lifecycle(
        self, virt: virConnect, dom: virDomain, event: int, detail: int, loop: Any
    ) -> None:
        loop.call_soon_threadsafe(self._spawn_refresh, dom.name())

    def _spawn_refresh(self, name: str) -> None:
        task = asyncio.ensure_future(self.refresh(name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def refresh(self, name: str) -> None:
        """Push the domain's current summary, or its removal."""
        async with self._refresh_lock:
            try:
                summary = await self.run(lambda v: domain_summary(v.lookupByName(name)))
            except VirtError as e:
                if e.code == ErrorCode.NO_DOMAIN:
                    self.hub.publish({"type": "domain-removed", "conn": self.id, "name": name})
                return
            except ApiError:
                return  # disconnected, and already said so
            self.hub.publish({"type": "domain", "conn": self.id, "domain": summary})

    async def run(self, call: Callable[[virConnect], T]) -> T:
        """call(virConnect) on a worker thread; ApiError 409 while disconnected."""
        virt = self.virt
        if virt is None or not virt.isAlive():
            self.lost()
            raise ApiError(409, f"not connected to {self.uri}: {self.error}")
        return await asyncio.to_thread(call, virt)

    def lost(self) -> None:
        if self.virt is not None:
            self.virt = None
            self.error = "the connection to the daemon was lost"
            self._publish_state()

    async def close(self) -> None:
        virt, self.virt = self.virt, None
        if virt is not None:
            with contextlib.suppress(VirtError):  # the daemon may have dropped it already
                await asyncio.to_thread(virt.close)


class Connections:
    def __init__(self, hub: Hub, saved: SavedConnections | None = None) -> None:
        self.hub = hub
        self.saved = saved or SavedConnections(None)
        self.by_id: dict[str, Connection] = {}
        self._ids = (str(n) for n in itertools.count())

    def uris(self) -> list[str]:
        return [c.uri for c in self.by_id.values()]

    async def add(self, uri: str) -> Connection:
        urimod.parse(uri)  # a malformed URI is the daemon-independent error libvirt gives
        if any(c.uri == uri for c in self.by_id.values()):
            raise ApiError(409, f"{uri} is already in the list", field="uri")
        conn = Connection(next(self._ids), uri, self.hub)
        self.by_id[conn.id] = conn
        self.saved.save(self.uris())
        await conn.open()
        return conn

    def get(self, cid: str) -> Connection:
        try:
            return self.by_id[cid]
        except KeyError:
            raise ApiError(404, f"no connection {cid}") from None

    async def remove(self, cid: str) -> None:
        await self.get(cid).close()
        del self.by_id[cid]
        self.saved.save(self.uris())

    async def close(self) -> None:
        for conn in self.by_id.values():
            await conn.close()
