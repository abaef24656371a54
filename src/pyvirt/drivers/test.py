"""`test:///default`: libvirt's test driver in memory, with its default domain and pool.

Answers as libvirt's own test driver does (domain "test" running as id 1, 8 GiB,
2 vCPUs, pool "default-pool" of 100 GiB), so tests can run the real virsh and
libvirt-python against pyvirtd without a hypervisor. The console is an echo.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field

from pyvirt.drivers.base import (
    NO_JOB,
    BlockStats,
    Console,
    DomainInfo,
    DomainRef,
    DomainState,
    EventCallback,
    InterfaceStats,
    JobInfo,
    LifecycleEvent,
    NodeInfo,
    PoolInfo,
    PoolRef,
    VolInfo,
    VolRef,
)
from pyvirt.drivers.save_image import read_header, write_header
from pyvirt.drivers.test_snapshots import TestSnapshots
from pyvirt.drivers.test_xml import DomainDef, parse_domain
from pyvirt.storage.xml import (
    PoolDef,
    PoolSizes,
    VolumeDef,
    parse_pool,
    parse_volume,
    pool_xml,
    volume_xml,
)
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

# virDomain*Reason and virDomainEvent*DetailType numbers the driver uses.
RUNNING_BOOTED, RUNNING_RESTORED, RUNNING_UNPAUSED = 1, 3, 5
PAUSED_USER = 2
SHUTOFF_SHUTDOWN, SHUTOFF_DESTROYED, SHUTOFF_SAVED = 1, 2, 5
DEFINED_ADDED, DEFINED_UPDATED = 0, 1
STARTED_BOOTED, STARTED_RESTORED = 0, 2
STOPPED_SHUTDOWN, STOPPED_DESTROYED, STOPPED_SAVED = 0, 1, 4

# virConnectListAllDomains flags
LIST_ACTIVE, LIST_INACTIVE, LIST_PERSISTENT, LIST_TRANSIENT = 1, 2, 4, 8
LIST_AUTOSTART, LIST_NO_AUTOSTART = 1 << 10, 1 << 11
# virStoragePoolState
POOL_INACTIVE, POOL_RUNNING = 0, 2

_DEFAULT_DOMAIN = """<domain type='test'>
  <name>test</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8388608</memory>
  <currentMemory unit='KiB'>2097152</currentMemory>
  <vcpu placement='static'>2</vcpu>
  <os><type arch='i686'>hvm</type><boot dev='hd'/></os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <source file='/guest/diskimage1'/><target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='aa:bb:cc:dd:ee:ff'/><source network='default'/><target dev='testnet0'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>"""
_DEFAULT_POOL = """<pool type='dir'><name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid><target><path>/default-pool</path></target>
</pool>"""
_POOL_CAPACITY = 100 * 1024**3
_CAPABILITIES = """<capabilities>
  <host>
    <cpu><arch>i686</arch></cpu>
    <secmodel><model>none</model><doi>0</doi></secmodel>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'><wordsize>32</wordsize><emulator>/usr/bin/test-hv</emulator>
      <domain type='test'/></arch>
  </guest>
</capabilities>
"""


@dataclass
class _Domain:
    definition: DomainDef
    persistent: bool
    state: DomainState = DomainState.SHUTOFF
    reason: int = 0
    id: int = -1
    autostart: bool = False

    @property
    def ref(self) -> DomainRef:
        return DomainRef(self.definition.name, self.definition.uuid, self.id)

    @property
    def active(self) -> bool:
        return self.id != -1


@dataclass
class _Pool:
    definition: PoolDef
    active: bool = False
    autostart: bool = False
    volumes: dict[str, VolumeDef] = field(default_factory=dict)

    @property
    def ref(self) -> PoolRef:
        return PoolRef(self.definition.name, self.definition.uuid.bytes)

    def vol_ref(self, vol: VolumeDef) -> VolRef:
        path = f"{self.definition.path}/{vol.name}"
        return VolRef(self.definition.name, vol.name, path)

    @property
    def allocation(self) -> int:
        return sum(v.capacity for v in self.volumes.values())  # fully allocated, as libvirt's


def _clock() -> tuple[int, int]:
    """(microseconds, seconds) since the epoch: the test driver's statistics grow with them."""
    us = time.time_ns() // 1000
    return us, us // 1_000_000


def _no_domain(what: str) -> VirtError:
    return VirtError.of(ErrorCode.NO_DOMAIN, f"no domain with matching {what}", ErrorDomain.TEST)


def _invalid(message: str) -> VirtError:
    return VirtError.of(ErrorCode.OPERATION_INVALID, message, ErrorDomain.TEST)


def _no_pool(what: str) -> VirtError:
    return VirtError.of(
        ErrorCode.NO_STORAGE_POOL, f"no storage pool with matching {what}", ErrorDomain.STORAGE
    )


def _no_vol(what: str) -> VirtError:
    return VirtError.of(
        ErrorCode.NO_STORAGE_VOL, f"no storage vol with matching {what}", ErrorDomain.STORAGE
    )


class _EchoConsole:
    """A console that repeats what it is sent, after a banner naming the domain."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer


async def _echo(sock: socket.socket, banner: bytes) -> None:
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    try:
        writer.write(banner)
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


class TestDriver(TestSnapshots):
    """One shared in-memory hypervisor per URI, as libvirt's test:///default."""

    __test__ = False  # not a pytest class
    type = "TEST"  # virConnectGetType, as libvirt's test driver
    detailed_block_stats = False  # libvirt's test driver lacks virDomainBlockStatsFlags

    def __init__(self, uri: str = "test:///default") -> None:
        self.uri = uri
        self._domains: dict[str, _Domain] = {}
        self._pools: dict[str, _Pool] = {}
        self._next_id = 1
        self._subscribers: list[EventCallback] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._snapshot_trees = {}
        test = self._add_domain(parse_domain(_DEFAULT_DOMAIN), persistent=True)
        self._start(test)
        pool = _Pool(parse_pool(_DEFAULT_POOL), active=True)
        self._pools[pool.definition.name] = pool

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    # --- events
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def _emit(self, dom: _Domain, event: LifecycleEvent, detail: int) -> None:
        for callback in list(self._subscribers):
            callback(dom.ref, event, detail)

    # --- the host
    async def version(self) -> int:
        return 2  # libvirt's test driver reports hypervisor version 0.0.2

    async def hostname(self) -> str:
        return socket.gethostname()

    async def capabilities(self) -> str:
        return _CAPABILITIES

    async def node_info(self) -> NodeInfo:
        return NodeInfo("i686", 3145728, 16, 1400, 2, 2, 2, 2)

    # --- domains
    def _add_domain(self, definition: DomainDef, persistent: bool) -> _Domain:
        dom = _Domain(definition, persistent)
        self._domains[definition.name] = dom
        return dom

    def _find(self, ref: DomainRef) -> _Domain:
        dom = self._domains.get(ref.name)
        if dom is None or dom.definition.uuid != ref.uuid:
            raise _no_domain(f"uuid '{uuidlib.UUID(bytes=ref.uuid)}' (name '{ref.name}')")
        return dom

    def _find_active(self, ref: DomainRef) -> _Domain:
        dom = self._find(ref)
        if not dom.active:
            raise _invalid("domain is not running")
        return dom

    def _start(
        self, dom: _Domain, reason: int = RUNNING_BOOTED, detail: int = STARTED_BOOTED
    ) -> None:
        dom.id = self._next_id
        self._next_id += 1
        dom.state, dom.reason = DomainState.RUNNING, reason
        self._emit(dom, LifecycleEvent.STARTED, detail)

    def _stop(self, dom: _Domain, reason: int, event_detail: int) -> None:
        dom.state, dom.reason = DomainState.SHUTOFF, reason
        self._emit(dom, LifecycleEvent.STOPPED, event_detail)
        dom.id = -1
        if not dom.persistent:
            del self._domains[dom.definition.name]

    def _check_new(self, definition: DomainDef) -> _Domain | None:
        """The existing domain `definition` replaces, or None; refuses conflicts as libvirt."""
        existing = self._domains.get(definition.name)
        by_uuid = next(
            (d for d in self._domains.values() if d.definition.uuid == definition.uuid), None
        )
        if by_uuid is not None and by_uuid is not existing:
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"domain '{by_uuid.definition.name}' already exists with uuid "
                f"{uuidlib.UUID(bytes=definition.uuid)}",
                ErrorDomain.TEST,
            )
        if existing is not None and existing.definition.uuid != definition.uuid:
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"domain '{definition.name}' already exists with uuid "
                f"{uuidlib.UUID(bytes=existing.definition.uuid)}",
                ErrorDomain.TEST,
            )
        return existing

    async def list_domains(self, flags: int) -> list[DomainRef]:
        def wanted(d: _Domain) -> bool:
            checks = (
                (LIST_ACTIVE | LIST_INACTIVE, LIST_ACTIVE, d.active),
                (LIST_PERSISTENT | LIST_TRANSIENT, LIST_PERSISTENT, d.persistent),
                (LIST_AUTOSTART | LIST_NO_AUTOSTART, LIST_AUTOSTART, d.autostart),
            )
            return all(
                not (flags & both) or (flags & both) == both or bool(flags & yes) == value
                for both, yes, value in checks
            )

        return [d.ref for d in self._domains.values() if wanted(d)]

    async def lookup_by_name(self, name: str) -> DomainRef:
        dom = self._domains.get(name)
        if dom is None:
            raise _no_domain(f"name '{name}'")
        return dom.ref

    async def lookup_by_uuid(self, uuid: bytes) -> DomainRef:
        for dom in self._domains.values():
            if dom.definition.uuid == uuid:
                return dom.ref
        raise _no_domain(f"uuid '{uuidlib.UUID(bytes=uuid)}'")

    async def lookup_by_id(self, id: int) -> DomainRef:
        for dom in self._domains.values():
            if dom.active and dom.id == id:
                return dom.ref
        raise _no_domain(f"id {id}")

    async def define_xml(self, xml: str, flags: int) -> DomainRef:
        definition = parse_domain(xml)
        existing = self._check_new(definition)
        if existing is None:
            dom = self._add_domain(definition, persistent=True)
            self._emit(dom, LifecycleEvent.DEFINED, DEFINED_ADDED)
        else:
            existing.definition, existing.persistent = definition, True
            dom = existing
            self._emit(dom, LifecycleEvent.DEFINED, DEFINED_UPDATED)
        return dom.ref

    async def undefine(self, dom: DomainRef, flags: int) -> None:
        d = self._find(dom)
        if not d.persistent:
            raise _invalid("cannot undefine transient domain")
        self._tree(d).check_undefine(d.active, flags)
        self._emit(d, LifecycleEvent.UNDEFINED, 0)
        if d.active:
            d.persistent = False
        else:
            del self._domains[d.definition.name]
            self._snapshot_trees.pop(d.definition.uuid, None)

    async def create(self, dom: DomainRef, flags: int) -> DomainRef:
        d = self._find(dom)
        if d.active:
            raise _invalid("domain is already running")
        self._start(d)
        return d.ref

    async def create_xml(self, xml: str, flags: int) -> DomainRef:
        definition = parse_domain(xml)
        existing = self._check_new(definition)
        if existing is not None and existing.active:
            raise _invalid(f"domain '{definition.name}' is already active")
        d = existing or self._add_domain(definition, persistent=False)
        self._start(d)
        return d.ref

    async def save(self, dom: DomainRef, path: str) -> None:
        """As libvirt's test driver: the file holds the XML only (there is no VM state)."""
        d = self._find_active(dom)
        write_header(path, await self.xml_desc(dom, 0))
        self._stop(d, SHUTOFF_SAVED, STOPPED_SAVED)

    async def restore(self, path: str) -> DomainRef:
        xml, _ = read_header(path)
        definition = parse_domain(xml)
        existing = self._check_new(definition)
        if existing is not None and existing.active:
            raise _invalid(f"domain '{definition.name}' is already active")
        d = existing or self._add_domain(definition, persistent=False)
        self._start(d, RUNNING_RESTORED, STARTED_RESTORED)
        return d.ref

    async def job_info(self, dom: DomainRef) -> JobInfo:
        """As libvirt's test driver: an active domain, and never a job."""
        self._find_active(dom)
        return NO_JOB

    async def destroy(self, dom: DomainRef, flags: int) -> None:
        self._stop(self._find_active(dom), SHUTOFF_DESTROYED, STOPPED_DESTROYED)

    async def shutdown(self, dom: DomainRef, flags: int) -> None:
        d = self._find_active(dom)
        self._emit(d, LifecycleEvent.SHUTDOWN, 0)
        self._stop(d, SHUTOFF_SHUTDOWN, STOPPED_SHUTDOWN)

    async def reboot(self, dom: DomainRef, flags: int) -> None:
        self._find_active(dom)

    async def reset(self, dom: DomainRef, flags: int) -> None:
        self._find_active(dom)

    async def suspend(self, dom: DomainRef) -> None:
        d = self._find_active(dom)
        if d.state == DomainState.PAUSED:
            raise _invalid("domain is already paused")
        d.state, d.reason = DomainState.PAUSED, PAUSED_USER
        self._emit(d, LifecycleEvent.SUSPENDED, 0)

    async def resume(self, dom: DomainRef) -> None:
        d = self._find_active(dom)
        if d.state != DomainState.PAUSED:
            raise _invalid("domain is not paused")
        d.state, d.reason = DomainState.RUNNING, RUNNING_UNPAUSED
        self._emit(d, LifecycleEvent.RESUMED, 0)

    async def xml_desc(self, dom: DomainRef, flags: int) -> str:
        d = self._find(dom)
        return d.definition.to_xml(d.id if d.active else None)

    async def info(self, dom: DomainRef) -> DomainInfo:
        d = self._find(dom)
        defn = d.definition
        cpu_time = 1_795_572_331_400_000_000 if d.active else 0
        return DomainInfo(d.state, defn.memory_kib, defn.current_memory_kib, defn.vcpus, cpu_time)

    async def state(self, dom: DomainRef) -> tuple[DomainState, int]:
        d = self._find(dom)
        return d.state, d.reason

    async def get_autostart(self, dom: DomainRef) -> bool:
        return self._find(dom).autostart

    async def set_autostart(self, dom: DomainRef, autostart: bool) -> None:
        d = self._find(dom)
        if not d.persistent:
            raise _invalid("cannot set autostart for transient domain")
        d.autostart = autostart

    async def is_active(self, dom: DomainRef) -> bool:
        return self._find(dom).active

    async def is_persistent(self, dom: DomainRef) -> bool:
        return self._find(dom).persistent

    async def open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> Console:
        d = self._find_active(dom)
        ours, theirs = socket.socketpair()
        banner = f"Connected to the test console of {d.definition.name}\r\n".encode()
        task = asyncio.get_running_loop().create_task(_echo(theirs, banner))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return _EchoConsole(reader, writer)

    # --- statistics: numbers that only grow, from the clock, as libvirt's test driver
    async def block_stats(self, dom: DomainRef, disk: str) -> BlockStats:
        if not disk:
            raise VirtError.of(
                ErrorCode.OPERATION_UNSUPPORTED,
                "summary statistics are not supported yet",
                ErrorDomain.TEST,
            )
        d = self._find_active(dom)
        root = d.definition.root
        known = {t.get("dev") for t in root.iterfind("devices/disk/target")}
        known |= {s.get("file") for s in root.iterfind("devices/disk/source")}
        if disk not in known:
            raise VirtError.of(ErrorCode.INVALID_ARG, f"invalid path: {disk}", ErrorDomain.TEST)
        base, seconds = _clock()
        return BlockStats(base // 10, base // 20, base // 30, base // 40, errs=seconds // 2)

    async def interface_stats(self, dom: DomainRef, device: str) -> InterfaceStats:
        d = self._find_active(dom)
        root = d.definition.root
        macs = {m.get("address", "").lower() for m in root.iterfind("devices/interface/mac")}
        targets = {t.get("dev") for t in root.iterfind("devices/interface/target")}
        if device.lower() not in macs and device not in targets:
            raise VirtError.of(
                ErrorCode.INVALID_ARG, f"'{device}' is not a known interface", ErrorDomain.TEST
            )
        base, s = _clock()
        return InterfaceStats(base // 10, base // 100, s, s // 2, base // 20, base // 110, s // 3,
                              s // 4)  # fmt: skip

    # --- storage
    def _pool(self, ref: PoolRef) -> _Pool:
        pool = self._pools.get(ref.name)
        if pool is None or pool.definition.uuid.bytes != ref.uuid:
            raise _no_pool(f"name '{ref.name}'")
        return pool

    def _active_pool(self, ref: PoolRef) -> _Pool:
        pool = self._pool(ref)
        if not pool.active:
            raise _invalid(f"storage pool '{ref.name}' is not active")
        return pool

    async def list_pools(self, flags: int) -> list[PoolRef]:
        active, inactive = flags & 2, flags & 1  # VIR_CONNECT_LIST_STORAGE_POOLS_(IN)ACTIVE
        return [
            p.ref
            for p in self._pools.values()
            if not (active or inactive) or (p.active and active) or (not p.active and inactive)
        ]

    async def pool_lookup_by_name(self, name: str) -> PoolRef:
        pool = self._pools.get(name)
        if pool is None:
            raise _no_pool(f"name '{name}'")
        return pool.ref

    async def pool_lookup_by_uuid(self, uuid: bytes) -> PoolRef:
        for pool in self._pools.values():
            if pool.definition.uuid.bytes == uuid:
                return pool.ref
        raise _no_pool(f"uuid '{uuidlib.UUID(bytes=uuid)}'")

    async def pool_define_xml(self, xml: str, flags: int) -> PoolRef:
        definition = parse_pool(xml)
        existing = self._pools.get(definition.name)
        if existing is not None:
            if existing.definition.uuid != definition.uuid:
                raise VirtError.of(
                    ErrorCode.OPERATION_FAILED,
                    f"pool '{definition.name}' already exists with uuid {existing.definition.uuid}",
                    ErrorDomain.STORAGE,
                )
            existing.definition = definition
            return existing.ref
        pool = _Pool(definition)
        self._pools[definition.name] = pool
        return pool.ref

    async def pool_create(self, pool: PoolRef, flags: int) -> None:
        p = self._pool(pool)
        if p.active:
            raise _invalid(f"storage pool '{pool.name}' is already active")
        p.active = True

    async def pool_destroy(self, pool: PoolRef) -> None:
        self._active_pool(pool).active = False

    async def pool_undefine(self, pool: PoolRef) -> None:
        p = self._pool(pool)
        if p.active:
            raise _invalid(f"storage pool '{pool.name}' is active")
        del self._pools[pool.name]

    async def pool_info(self, pool: PoolRef) -> PoolInfo:
        p = self._pool(pool)
        if not p.active:
            return PoolInfo(POOL_INACTIVE, 0, 0, 0)
        return PoolInfo(POOL_RUNNING, _POOL_CAPACITY, p.allocation, _POOL_CAPACITY - p.allocation)

    async def pool_xml_desc(self, pool: PoolRef, flags: int) -> str:
        p = self._pool(pool)
        sizes = PoolSizes(_POOL_CAPACITY, p.allocation, _POOL_CAPACITY - p.allocation)
        return pool_xml(p.definition, sizes)

    async def pool_get_autostart(self, pool: PoolRef) -> bool:
        return self._pool(pool).autostart

    async def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None:
        self._pool(pool).autostart = autostart

    async def pool_refresh(self, pool: PoolRef, flags: int) -> None:
        self._active_pool(pool)

    async def list_volumes(self, pool: PoolRef) -> list[VolRef]:
        p = self._active_pool(pool)
        return [p.vol_ref(v) for v in p.volumes.values()]

    def _vol(self, ref: VolRef) -> tuple[_Pool, VolumeDef]:
        pool = self._pools.get(ref.pool)
        vol = pool.volumes.get(ref.name) if pool is not None and pool.active else None
        if pool is None or vol is None:
            raise _no_vol(f"name '{ref.name}'")
        return pool, vol

    async def vol_lookup_by_name(self, pool: PoolRef, name: str) -> VolRef:
        p = self._active_pool(pool)
        if name not in p.volumes:
            raise _no_vol(f"name '{name}'")
        return p.vol_ref(p.volumes[name])

    async def vol_lookup_by_path(self, path: str) -> VolRef:
        for pool in self._pools.values():
            for vol in pool.volumes.values() if pool.active else ():
                ref = pool.vol_ref(vol)
                if ref.key == path:
                    return ref
        raise _no_vol(f"path '{path}'")

    async def vol_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolRef:
        p = self._active_pool(pool)
        vol = parse_volume(xml)
        if vol.name in p.volumes:
            raise VirtError(
                ErrorCode.STORAGE_VOL_EXIST,
                f"storage volume '{vol.name}' exists already",
                ErrorDomain.STORAGE,
            )
        if p.allocation + vol.capacity > _POOL_CAPACITY:
            raise VirtError(
                ErrorCode.INTERNAL_ERROR,
                f"internal error: Not enough free space in pool for volume '{vol.name}'",
                ErrorDomain.STORAGE,
            )
        p.volumes[vol.name] = vol
        return p.vol_ref(vol)

    async def vol_delete(self, vol: VolRef, flags: int) -> None:
        pool, v = self._vol(vol)
        del pool.volumes[v.name]

    async def vol_info(self, vol: VolRef) -> VolInfo:
        _, v = self._vol(vol)
        return VolInfo(0, v.capacity, v.capacity)  # VIR_STORAGE_VOL_FILE

    async def vol_xml_desc(self, vol: VolRef, flags: int) -> str:
        pool, v = self._vol(vol)
        return volume_xml(v, pool.vol_ref(v).key, v.capacity, v.capacity)

    async def vol_path(self, vol: VolRef) -> str:
        pool, v = self._vol(vol)
        return pool.vol_ref(v).key
