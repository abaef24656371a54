"""libvirt-python's classes over pyvirt's RPC client: virConnect, virDomain, virNetwork,
virStoragePool, virStorageVol, virStream, with the same method names and return shapes."""

from __future__ import annotations

import queue
import threading
import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from pyvirt.client.snapshot import DomainSnapshots
from pyvirt.client.transport import StreamChannel, Transport
from pyvirt.rpc import remote
from pyvirt.rpc.protocol import Header
from pyvirt.rpc.remote import Proc
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

libvirtError = VirtError  # libvirt-python's name; VirtError has get_error_code() & co.

VIR_CONNECT_RO = 1
VIR_DOMAIN_EVENT_ID_LIFECYCLE = remote.EVENT_ID_LIFECYCLE

LifecycleCallback = Callable[["virConnect", "virDomain", int, int, Any], Any]


class virConnect:
    def __init__(self, transport: Transport, uri: str, readonly: bool) -> None:
        self._t = transport
        self._uri = uri
        self._readonly = readonly
        self._callbacks: dict[int, tuple[LifecycleCallback, Any]] = {}
        self._cb_lock = threading.Lock()
        transport.on_message = self._on_message

    def _call(self, proc: Proc, args: Any = None) -> Any:
        return self._t.call(proc, args)

    def _dom(self, wire: dict[str, Any]) -> virDomain:
        return virDomain(self, wire)

    # --- the connection
    def close(self) -> int:
        if self._t.alive:
            try:
                self._call(Proc.CONNECT_CLOSE)
            finally:
                self._t.close()
        return 0

    def isAlive(self) -> int:
        return int(self._t.alive)

    def isReadOnly(self) -> int:
        return int(self._readonly)

    def getType(self) -> str:
        return self._call(Proc.CONNECT_GET_TYPE)["type"]

    def getVersion(self) -> int:
        return self._call(Proc.CONNECT_GET_VERSION)["hv_ver"]

    def getLibVersion(self) -> int:
        return self._call(Proc.CONNECT_GET_LIB_VERSION)["lib_ver"]

    def getHostname(self) -> str:
        return self._call(Proc.CONNECT_GET_HOSTNAME)["hostname"]

    def getURI(self) -> str:
        """The URI as opened, like libvirt's remote driver (the daemon's is getDaemonURI)."""
        return self._uri

    def getDaemonURI(self) -> str:
        return self._call(Proc.CONNECT_GET_URI)["uri"]

    def getCapabilities(self) -> str:
        return self._call(Proc.CONNECT_GET_CAPABILITIES)["capabilities"]

    def getInfo(self) -> list[Any]:
        """[model, memory MiB, cpus, MHz, NUMA nodes, sockets, cores, threads]."""
        n = self._call(Proc.NODE_GET_INFO)
        return [
            n["model"],
            n["memory"] >> 10,
            n["cpus"],
            n["mhz"],
            n["nodes"],
            n["sockets"],
            n["cores"],
            n["threads"],
        ]

    def getSecurityModel(self) -> list[str]:
        """[model, DOI]; empty strings when the host has no security driver."""
        ret = self._call(Proc.NODE_GET_SECURITY_MODEL)
        return [ret["model"], ret["doi"]]

    def nodeInfo(self) -> dict[str, Any]:
        """virNodeInfo with memory in KiB, as virsh's nodeinfo prints it (getInfo rounds to MiB)."""
        return dict(self._call(Proc.NODE_GET_INFO))

    # --- domains
    def listAllDomains(self, flags: int = 0) -> list[virDomain]:
        ret = self._call(Proc.CONNECT_LIST_ALL_DOMAINS, {"need_results": 1, "flags": flags})
        return [self._dom(d) for d in ret["domains"]]

    def lookupByName(self, name: str) -> virDomain:
        return self._dom(self._call(Proc.DOMAIN_LOOKUP_BY_NAME, {"name": name})["dom"])

    def lookupByUUID(self, uuid: bytes) -> virDomain:
        return self._dom(self._call(Proc.DOMAIN_LOOKUP_BY_UUID, {"uuid": bytes(uuid)})["dom"])

    def lookupByUUIDString(self, uuid: str) -> virDomain:
        try:
            raw = uuidlib.UUID(uuid).bytes
        except ValueError:
            raise VirtError.of(ErrorCode.INVALID_ARG, f"uuid '{uuid}'") from None
        return self.lookupByUUID(raw)

    def lookupByID(self, id: int) -> virDomain:
        return self._dom(self._call(Proc.DOMAIN_LOOKUP_BY_ID, {"id": id})["dom"])

    def defineXML(self, xml: str) -> virDomain:
        return self._dom(self._call(Proc.DOMAIN_DEFINE_XML, {"xml": xml})["dom"])

    def defineXMLFlags(self, xml: str, flags: int = 0) -> virDomain:
        args = {"xml": xml, "flags": flags}
        return self._dom(self._call(Proc.DOMAIN_DEFINE_XML_FLAGS, args)["dom"])

    def createXML(self, xmlDesc: str, flags: int = 0) -> virDomain:
        args = {"xml_desc": xmlDesc, "flags": flags}
        return self._dom(self._call(Proc.DOMAIN_CREATE_XML, args)["dom"])

    def restore(self, frm: str) -> int:
        self._call(Proc.DOMAIN_RESTORE, {"from": frm})
        return 0

    # --- networks
    def listAllNetworks(self, flags: int = 0) -> list[virNetwork]:
        ret = self._call(Proc.CONNECT_LIST_ALL_NETWORKS, {"need_results": 1, "flags": flags})
        return [virNetwork(self, n) for n in ret["nets"]]

    # --- events
    def domainEventRegisterAny(
        self, dom: virDomain | None, eventID: int, cb: LifecycleCallback, opaque: Any = None
    ) -> int:
        args = {"eventID": eventID, "dom": dom._wire if dom is not None else None}
        callback_id = self._call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, args)
        with self._cb_lock:
            self._callbacks[callback_id["callbackID"]] = (cb, opaque)
        return callback_id["callbackID"]

    def domainEventDeregisterAny(self, callbackID: int) -> int:
        self._call(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, {"callbackID": callbackID})
        with self._cb_lock:
            self._callbacks.pop(callbackID, None)
        return 0

    def _on_message(self, header: Header, body: bytes) -> None:
        if header.procedure != Proc.DOMAIN_EVENT_CALLBACK_LIFECYCLE:
            return
        msg = remote.LifecycleMsg.decode(body)
        with self._cb_lock:
            entry = self._callbacks.get(msg["callbackID"])
        if entry is not None:
            cb, opaque = entry
            event = msg["msg"]
            cb(self, self._dom(event["dom"]), event["event"], event["detail"], opaque)

    # --- storage
    def listAllStoragePools(self, flags: int = 0) -> list[virStoragePool]:
        ret = self._call(Proc.CONNECT_LIST_ALL_STORAGE_POOLS, {"need_results": 1, "flags": flags})
        return [virStoragePool(self, p) for p in ret["pools"]]

    def storagePoolLookupByName(self, name: str) -> virStoragePool:
        ret = self._call(Proc.STORAGE_POOL_LOOKUP_BY_NAME, {"name": name})
        return virStoragePool(self, ret["pool"])

    def storagePoolLookupByUUIDString(self, uuid: str) -> virStoragePool:
        ret = self._call(Proc.STORAGE_POOL_LOOKUP_BY_UUID, {"uuid": uuidlib.UUID(uuid).bytes})
        return virStoragePool(self, ret["pool"])

    def storagePoolDefineXML(self, xml: str, flags: int = 0) -> virStoragePool:
        ret = self._call(Proc.STORAGE_POOL_DEFINE_XML, {"xml": xml, "flags": flags})
        return virStoragePool(self, ret["pool"])

    def storageVolLookupByPath(self, path: str) -> virStorageVol:
        return virStorageVol(
            self, self._call(Proc.STORAGE_VOL_LOOKUP_BY_PATH, {"path": path})["vol"]
        )

    def storageVolLookupByKey(self, key: str) -> virStorageVol:
        return virStorageVol(self, self._call(Proc.STORAGE_VOL_LOOKUP_BY_KEY, {"key": key})["vol"])

    def newStream(self, flags: int = 0) -> virStream:
        return virStream(self)


class _Object:
    """A named object the daemon identifies by its wire struct."""

    def __init__(self, conn: virConnect, wire: dict[str, Any]) -> None:
        self._conn = conn
        self._wire = wire

    def connect(self) -> virConnect:
        return self._conn

    def name(self) -> str:
        return self._wire["name"]

    def _call(self, proc: Proc, **args: Any) -> Any:
        return self._conn._call(proc, {self._key: self._wire, **args})

    _key = ""


class _UUIDObject(_Object):
    def UUID(self) -> bytes:
        return self._wire["uuid"]

    def UUIDString(self) -> str:
        return str(uuidlib.UUID(bytes=self._wire["uuid"]))


class virDomain(DomainSnapshots, _UUIDObject):
    _key = "dom"

    def ID(self) -> int:
        return self._wire["id"]

    def create(self) -> int:
        return self.createWithFlags(0)

    def createWithFlags(self, flags: int = 0) -> int:
        self._wire = self._call(Proc.DOMAIN_CREATE_WITH_FLAGS, flags=flags)["dom"]
        return 0

    def destroy(self) -> int:
        """virDomainDestroy (not ...Flags), so errors name the API the caller used."""
        self._call(Proc.DOMAIN_DESTROY)
        self._wire = {**self._wire, "id": -1}
        return 0

    def destroyFlags(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_DESTROY_FLAGS, flags=flags)
        self._wire = {**self._wire, "id": -1}
        return 0

    def shutdown(self) -> int:
        self._call(Proc.DOMAIN_SHUTDOWN)
        return 0

    def shutdownFlags(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_SHUTDOWN_FLAGS, flags=flags)
        return 0

    def reboot(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_REBOOT, flags=flags)
        return 0

    def reset(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_RESET, flags=flags)
        return 0

    def suspend(self) -> int:
        self._call(Proc.DOMAIN_SUSPEND)
        return 0

    def resume(self) -> int:
        self._call(Proc.DOMAIN_RESUME)
        return 0

    def undefine(self) -> int:
        self._call(Proc.DOMAIN_UNDEFINE)
        return 0

    def undefineFlags(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_UNDEFINE_FLAGS, flags=flags)
        return 0

    def XMLDesc(self, flags: int = 0) -> str:
        return self._call(Proc.DOMAIN_GET_XML_DESC, flags=flags)["xml"]

    def info(self) -> list[int]:
        """[state, max memory KiB, memory KiB, vCPUs, CPU time ns]."""
        i = self._call(Proc.DOMAIN_GET_INFO)
        return [i["state"], i["maxMem"], i["memory"], i["nrVirtCpu"], i["cpuTime"]]

    def state(self, flags: int = 0) -> list[int]:
        s = self._call(Proc.DOMAIN_GET_STATE, flags=flags)
        return [s["state"], s["reason"]]

    def maxMemory(self) -> int:
        return self._call(Proc.DOMAIN_GET_MAX_MEMORY)["memory"]

    def OSType(self) -> str:
        return self._call(Proc.DOMAIN_GET_OS_TYPE)["type"]

    def blockStats(self, path: str) -> tuple[int, ...]:
        """(read requests, bytes read, write requests, bytes written, errors); -1: unknown.
        `path`: the disk's target or source, "" for all disks."""
        return tuple(self._call(Proc.DOMAIN_BLOCK_STATS, path=path).values())

    def blockStatsFlags(self, path: str, flags: int = 0) -> dict[str, int]:
        ret = self._call(Proc.DOMAIN_BLOCK_STATS_FLAGS, path=path, nparams=0, flags=flags)
        count = ret["nparams"]
        ret = self._call(Proc.DOMAIN_BLOCK_STATS_FLAGS, path=path, nparams=count, flags=flags)
        return {p["field"]: p["value"][1] for p in ret["params"]}

    def interfaceStats(self, path: str) -> tuple[int, ...]:
        """rx bytes, packets, errors, drops, then tx's; `path`: target device or MAC."""
        return tuple(self._call(Proc.DOMAIN_INTERFACE_STATS, path=path).values())

    def isActive(self) -> int:
        return self._call(Proc.DOMAIN_IS_ACTIVE)["active"]

    def isPersistent(self) -> int:
        return self._call(Proc.DOMAIN_IS_PERSISTENT)["persistent"]

    def hasManagedSaveImage(self, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE, flags=flags)["result"]

    def autostart(self) -> int:
        return self._call(Proc.DOMAIN_GET_AUTOSTART)["autostart"]

    def securityLabel(self) -> list[Any]:
        """[label, enforcing]."""
        ret = self._call(Proc.DOMAIN_GET_SECURITY_LABEL)
        return [ret["label"], ret["enforcing"]]

    def setAutostart(self, autostart: int) -> int:
        self._call(Proc.DOMAIN_SET_AUTOSTART, autostart=int(bool(autostart)))
        return 0

    def setMemoryFlags(self, memory: int, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_SET_MEMORY_FLAGS, memory=memory, flags=flags)
        return 0

    def setVcpusFlags(self, nvcpus: int, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_SET_VCPUS_FLAGS, nvcpus=nvcpus, flags=flags)
        return 0

    def save(self, to: str) -> int:
        self._call(Proc.DOMAIN_SAVE, to=to)
        return 0

    def jobInfo(self) -> list[int]:
        """libvirt-python's list: [type, time elapsed, time remaining, then total, processed
        and remaining for data, memory and file]."""
        return list(self._call(Proc.DOMAIN_GET_JOB_INFO).values())

    def jobStats(self, flags: int = 0) -> dict[str, Any]:
        """{"type": virDomainJobType, and each typed parameter by its name}."""
        ret = self._call(Proc.DOMAIN_GET_JOB_STATS, flags=flags)
        return {"type": ret["type"]} | {p["field"]: p["value"][1] for p in ret["params"]}

    def openConsole(self, dev_name: str | None, st: virStream, flags: int = 0) -> int:
        args = {"dom": self._wire, "dev_name": dev_name, "flags": flags}
        _, st._channel = self._conn._t.call(Proc.DOMAIN_OPEN_CONSOLE, args, stream=True)
        return 0


class virNetwork(_UUIDObject):
    _key = "net"

    def isActive(self) -> int:
        return self._call(Proc.NETWORK_IS_ACTIVE)["active"]

    def isPersistent(self) -> int:
        return self._call(Proc.NETWORK_IS_PERSISTENT)["persistent"]

    def autostart(self) -> int:
        return self._call(Proc.NETWORK_GET_AUTOSTART)["autostart"]


class virStoragePool(_UUIDObject):
    _key = "pool"

    def create(self, flags: int = 0) -> int:
        self._call(Proc.STORAGE_POOL_CREATE, flags=flags)
        return 0

    def destroy(self) -> int:
        self._call(Proc.STORAGE_POOL_DESTROY)
        return 0

    def undefine(self) -> int:
        self._call(Proc.STORAGE_POOL_UNDEFINE)
        return 0

    def refresh(self, flags: int = 0) -> int:
        self._call(Proc.STORAGE_POOL_REFRESH, flags=flags)
        return 0

    def info(self) -> list[int]:
        """[state, capacity, allocation, available] in bytes."""
        i = self._call(Proc.STORAGE_POOL_GET_INFO)
        return [i["state"], i["capacity"], i["allocation"], i["available"]]

    def XMLDesc(self, flags: int = 0) -> str:
        return self._call(Proc.STORAGE_POOL_GET_XML_DESC, flags=flags)["xml"]

    def autostart(self) -> int:
        return self._call(Proc.STORAGE_POOL_GET_AUTOSTART)["autostart"]

    def setAutostart(self, autostart: int) -> int:
        self._call(Proc.STORAGE_POOL_SET_AUTOSTART, autostart=int(bool(autostart)))
        return 0

    def isActive(self) -> int:
        return self._call(Proc.STORAGE_POOL_IS_ACTIVE)["active"]

    def isPersistent(self) -> int:
        return self._call(Proc.STORAGE_POOL_IS_PERSISTENT)["persistent"]

    def numOfVolumes(self) -> int:
        return self._call(Proc.STORAGE_POOL_NUM_OF_VOLUMES)["num"]

    def listVolumes(self) -> list[str]:
        return self._call(Proc.STORAGE_POOL_LIST_VOLUMES, maxnames=remote.LIST_MAX)["names"]

    def listAllVolumes(self, flags: int = 0) -> list[virStorageVol]:
        ret = self._call(Proc.STORAGE_POOL_LIST_ALL_VOLUMES, need_results=1, flags=flags)
        return [virStorageVol(self._conn, v) for v in ret["vols"]]

    def storageVolLookupByName(self, name: str) -> virStorageVol:
        ret = self._call(Proc.STORAGE_VOL_LOOKUP_BY_NAME, name=name)
        return virStorageVol(self._conn, ret["vol"])

    def createXML(self, xmlDesc: str, flags: int = 0) -> virStorageVol:
        ret = self._call(Proc.STORAGE_VOL_CREATE_XML, xml=xmlDesc, flags=flags)
        return virStorageVol(self._conn, ret["vol"])


class virStorageVol(_Object):
    _key = "vol"

    def key(self) -> str:
        return self._wire["key"]

    def path(self) -> str:
        return self._call(Proc.STORAGE_VOL_GET_PATH)["name"]

    def info(self) -> list[int]:
        """[type, capacity, allocation] in bytes."""
        i = self._call(Proc.STORAGE_VOL_GET_INFO)
        return [i["type"], i["capacity"], i["allocation"]]

    def XMLDesc(self, flags: int = 0) -> str:
        return self._call(Proc.STORAGE_VOL_GET_XML_DESC, flags=flags)["xml"]

    def delete(self, flags: int = 0) -> int:
        self._call(Proc.STORAGE_VOL_DELETE, flags=flags)
        return 0

    def storagePoolLookupByVolume(self) -> virStoragePool:
        return virStoragePool(self._conn, self._call(Proc.STORAGE_POOL_LOOKUP_BY_VOLUME)["pool"])


class virStream:
    """A blocking stream (a domain console); recv returns b"" at end of stream."""

    def __init__(self, conn: virConnect) -> None:
        self._conn = conn
        self._channel: StreamChannel | None = None
        self._buffer = b""

    def _open_channel(self) -> StreamChannel:
        if self._channel is None:
            raise VirtError.of(
                ErrorCode.OPERATION_INVALID,
                "stream is not open",
                ErrorDomain.STREAMS,
            )
        return self._channel

    def send(self, data: bytes) -> int:
        self._conn._t.stream_send(self._open_channel(), bytes(data))
        return len(data)

    def recv(self, nbytes: int, timeout: float | None = None) -> bytes:
        channel = self._open_channel()
        if not self._buffer:
            try:
                item = channel.incoming.get(timeout=timeout)
            except queue.Empty:
                return b""
            if isinstance(item, VirtError):
                raise item
            if item is None:
                channel.incoming.put(None)  # stay at end of stream
                return b""
            self._buffer = item
        data, self._buffer = self._buffer[:nbytes], self._buffer[nbytes:]
        return data

    def finish(self) -> int:
        self._conn._t.stream_close(self._open_channel(), abort=False)
        return 0

    def abort(self) -> int:
        self._conn._t.stream_close(self._open_channel(), abort=True)
        return 0
