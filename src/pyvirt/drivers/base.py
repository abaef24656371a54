"""The interface between the daemon and a hypervisor driver.

The daemon (pyvirt.daemon) turns libvirt RPC calls into these coroutines; a
driver (test, pyvirt VMM, QEMU) implements them. Numbers (states, reasons,
event types, flags) are libvirt's, so they go on the wire unchanged.
Failures raise pyvirt.virterror.VirtError with libvirt's codes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from .snapshots import SnapshotTree


class DomainState(IntEnum):
    """virDomainState."""

    NOSTATE = 0
    RUNNING = 1
    BLOCKED = 2
    PAUSED = 3
    SHUTDOWN = 4
    SHUTOFF = 5
    CRASHED = 6
    PMSUSPENDED = 7


class LifecycleEvent(IntEnum):
    """virDomainEventType (details are the per-type virDomainEvent*DetailType numbers)."""

    DEFINED = 0
    UNDEFINED = 1
    STARTED = 2
    SUSPENDED = 3
    RESUMED = 4
    STOPPED = 5
    SHUTDOWN = 6
    PMSUSPENDED = 7
    CRASHED = 8


@dataclass(frozen=True)
class DomainRef:
    """What identifies a domain on the wire (remote_nonnull_domain): id is -1 when inactive."""

    name: str
    uuid: bytes  # 16 bytes
    id: int


@dataclass(frozen=True)
class DomainInfo:
    """virDomainInfo."""

    state: DomainState
    max_mem_kib: int
    memory_kib: int
    nr_virt_cpu: int
    cpu_time_ns: int


class JobType(IntEnum):
    """virDomainJobType."""

    NONE = 0
    BOUNDED = 1
    UNBOUNDED = 2


class JobOperation(IntEnum):
    """virDomainJobOperation: what a job does (VIR_DOMAIN_JOB_OPERATION in job stats)."""

    SAVE = 2
    RESTORE = 3


@dataclass(frozen=True)
class JobInfo:
    """A domain's running job (virDomainJobInfo's fields that pyvirt fills; bytes, ms)."""

    type: JobType = JobType.NONE
    operation: JobOperation | None = None
    elapsed_ms: int = 0
    data_total: int = 0
    data_processed: int = 0
    data_remaining: int = 0


NO_JOB = JobInfo()


@dataclass(frozen=True)
class NodeInfo:
    """virNodeInfo."""

    model: str
    memory_kib: int
    cpus: int
    mhz: int
    nodes: int
    sockets: int
    cores: int
    threads: int


@dataclass(frozen=True)
class PoolRef:
    name: str
    uuid: bytes


@dataclass(frozen=True)
class PoolInfo:
    """virStoragePoolInfo: state (virStoragePoolState), sizes in bytes."""

    state: int
    capacity: int
    allocation: int
    available: int


@dataclass(frozen=True)
class VolRef:
    """remote_nonnull_storage_vol: pool name, volume name, key (its path for dir pools)."""

    pool: str
    name: str
    key: str


@dataclass(frozen=True)
class VolInfo:
    """virStorageVolInfo: type (virStorageVolType), sizes in bytes."""

    type: int
    capacity: int
    allocation: int


@dataclass(frozen=True)
class BlockStats:
    """A disk's I/O counters: virDomainBlockStatsStruct and the virDomainBlockStatsFlags
    fields (requests, bytes, nanoseconds); None where the hypervisor does not count."""

    rd_req: int
    rd_bytes: int
    wr_req: int
    wr_bytes: int
    errs: int | None = None
    flush_req: int | None = None
    rd_total_ns: int | None = None
    wr_total_ns: int | None = None
    flush_total_ns: int | None = None


@dataclass(frozen=True)
class InterfaceStats:
    """virDomainInterfaceStatsStruct: a NIC's traffic as the guest sees it."""

    rx_bytes: int
    rx_packets: int
    rx_errs: int
    rx_drop: int
    tx_bytes: int
    tx_packets: int
    tx_errs: int
    tx_drop: int


# (domain, event type, detail) for every lifecycle change.
EventCallback = Callable[[DomainRef, LifecycleEvent, int], None]


class Console(Protocol):
    """A domain's character device as a byte stream (the daemon bridges it to a virStream)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter


class Driver(Protocol):
    """One open connection's hypervisor. Flags are libvirt's bit masks, passed through."""

    uri: str
    type: str  # virConnectGetType: "QEMU", "Test"
    detailed_block_stats: bool  # BlockStats has flush and time counters (virDomainBlockStatsFlags)

    async def close(self) -> None: ...

    # --- the host
    async def version(
        self,
    ) -> int: ...  # hypervisor version, major * 1_000_000 + minor * 1000 + micro
    async def hostname(self) -> str: ...
    async def capabilities(self) -> str: ...  # capabilities XML
    async def node_info(self) -> NodeInfo: ...

    # --- domains
    async def list_domains(self, flags: int) -> list[DomainRef]: ...  # virConnectListAllDomains
    async def lookup_by_name(self, name: str) -> DomainRef: ...
    async def lookup_by_uuid(self, uuid: bytes) -> DomainRef: ...
    async def lookup_by_id(self, id: int) -> DomainRef: ...
    async def define_xml(self, xml: str, flags: int) -> DomainRef: ...
    async def undefine(self, dom: DomainRef, flags: int) -> None: ...
    async def create(self, dom: DomainRef, flags: int) -> DomainRef: ...  # start a defined one
    async def create_xml(self, xml: str, flags: int) -> DomainRef: ...  # transient
    async def destroy(self, dom: DomainRef, flags: int) -> None: ...
    async def shutdown(self, dom: DomainRef, flags: int) -> None: ...
    async def reboot(self, dom: DomainRef, flags: int) -> None: ...
    async def reset(self, dom: DomainRef, flags: int) -> None: ...
    async def save(self, dom: DomainRef, path: str) -> None: ...  # state to path, then stop
    async def restore(self, path: str) -> DomainRef: ...  # start from what save() wrote
    async def job_info(self, dom: DomainRef) -> JobInfo: ...  # NO_JOB when none runs
    async def suspend(self, dom: DomainRef) -> None: ...
    async def resume(self, dom: DomainRef) -> None: ...
    async def xml_desc(self, dom: DomainRef, flags: int) -> str: ...
    async def info(self, dom: DomainRef) -> DomainInfo: ...
    async def state(self, dom: DomainRef) -> tuple[DomainState, int]: ...  # (state, reason)
    async def get_autostart(self, dom: DomainRef) -> bool: ...
    async def set_autostart(self, dom: DomainRef, autostart: bool) -> None: ...
    async def is_active(self, dom: DomainRef) -> bool: ...
    async def is_persistent(self, dom: DomainRef) -> bool: ...
    async def open_console(self, dom: DomainRef, dev_name: str | None, flags: int) -> Console: ...
    # disk: target ("vda") or source path, "" for all disks; interface: target dev or MAC
    async def block_stats(self, dom: DomainRef, disk: str) -> BlockStats: ...
    async def interface_stats(self, dom: DomainRef, device: str) -> InterfaceStats: ...
    def subscribe(self, callback: EventCallback) -> Callable[[], None]: ...  # returns unsubscribe

    # --- storage
    async def list_pools(self, flags: int) -> list[PoolRef]: ...
    async def pool_lookup_by_name(self, name: str) -> PoolRef: ...
    async def pool_lookup_by_uuid(self, uuid: bytes) -> PoolRef: ...
    async def pool_define_xml(self, xml: str, flags: int) -> PoolRef: ...
    async def pool_create(self, pool: PoolRef, flags: int) -> None: ...  # start
    async def pool_destroy(self, pool: PoolRef) -> None: ...
    async def pool_undefine(self, pool: PoolRef) -> None: ...
    async def pool_info(self, pool: PoolRef) -> PoolInfo: ...
    async def pool_xml_desc(self, pool: PoolRef, flags: int) -> str: ...
    async def pool_get_autostart(self, pool: PoolRef) -> bool: ...
    async def pool_set_autostart(self, pool: PoolRef, autostart: bool) -> None: ...
    async def pool_refresh(self, pool: PoolRef, flags: int) -> None: ...
    async def list_volumes(self, pool: PoolRef) -> list[VolRef]: ...
    async def vol_lookup_by_name(self, pool: PoolRef, name: str) -> VolRef: ...
    async def vol_lookup_by_path(self, path: str) -> VolRef: ...
    async def vol_create_xml(self, pool: PoolRef, xml: str, flags: int) -> VolRef: ...
    async def vol_delete(self, vol: VolRef, flags: int) -> None: ...
    async def vol_info(self, vol: VolRef) -> VolInfo: ...
    async def vol_xml_desc(self, vol: VolRef, flags: int) -> str: ...
    async def vol_path(self, vol: VolRef) -> str: ...

    # --- snapshots: the tree answers the queries, these three change things
    async def snapshot_tree(self, dom: DomainRef) -> SnapshotTree: ...
    async def snapshot_create_xml(self, dom: DomainRef, xml: str, flags: int) -> str: ...  # name
    async def snapshot_revert(self, dom: DomainRef, name: str, flags: int) -> None: ...
    async def snapshot_delete(self, dom: DomainRef, name: str, flags: int) -> None: ...
