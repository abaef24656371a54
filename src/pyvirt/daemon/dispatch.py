"""What each remote procedure does: decoded arguments in, driver call, return struct out."""

from __future__ import annotations

import uuid as uuidlib
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from pyvirt.drivers import registry
from pyvirt.drivers.base import Console, DomainRef, Driver, JobInfo, JobOperation, JobType
from pyvirt.rpc import remote
from pyvirt.rpc.protocol import Header
from pyvirt.rpc.remote import Proc
from pyvirt.rpc.wire import (
    dom_from_wire,
    dom_to_wire,
    pool_from_wire,
    pool_to_wire,
    vol_from_wire,
    vol_to_wire,
)
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

CONNECT_RO = 1  # virConnectFlags
LIB_VERSION = 9_000_000  # the libvirt API level we speak: 9.0.0, Debian 12's

Args = dict[str, Any]
Ret = dict[str, Any] | None


class Session(Protocol):
    """The per-client state the handlers use (pyvirt.daemon.server.ClientConnection)."""

    driver: Driver | None
    readonly: bool
    default_uri: str
    state_dir: Path

    def register_event(self, event_id: int, dom: DomainRef | None) -> int: ...
    def deregister_event(self, callback_id: int) -> None: ...
    def attach_stream(self, header: Header, console: Console) -> None: ...


Handler = Callable[[Session, Header, Args], Awaitable[Ret]]
HANDLERS: dict[int, Handler] = {}

# Procedures that work before connect-open.
BEFORE_OPEN = {Proc.CONNECT_OPEN, Proc.AUTH_LIST, Proc.CONNECT_SUPPORTS_FEATURE}


def handles(*procs: Proc) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for proc in procs:
            HANDLERS[proc] = fn
        return fn

    return register


def api_name(proc: Proc) -> str:
    """virDomainDestroyFlags for DOMAIN_DESTROY_FLAGS: the name libvirt's messages use."""
    return "vir" + "".join(word.capitalize() for word in proc.name.split("_"))


def driver_of(session: Session) -> Driver:
    if session.driver is None:
        raise VirtError(ErrorCode.INTERNAL_ERROR, "internal error: connection not open")
    return session.driver


# --- the connection


@handles(Proc.CONNECT_OPEN)
async def _open(s: Session, h: Header, a: Args) -> Ret:
    if s.driver is not None:
        raise VirtError(ErrorCode.INTERNAL_ERROR, "internal error: connection already open")
    uri = a["name"] or s.default_uri
    if a["flags"] & CONNECT_RO:
        s.readonly = True
    s.driver = await registry.open_driver(uri, state_dir=s.state_dir, readonly=s.readonly)
    return None


@handles(Proc.CONNECT_CLOSE, Proc.CONNECT_REGISTER_CLOSE_CALLBACK)
@handles(Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK)
async def _nothing(s: Session, h: Header, a: Args) -> Ret:
    return None


@handles(Proc.AUTH_LIST)
async def _auth_list(s: Session, h: Header, a: Args) -> Ret:
    return {"types": [0]}  # REMOTE_AUTH_NONE


SUPPORTED_FEATURES = {
    remote.FEATURE_REMOTE,
    remote.FEATURE_TYPED_PARAM_STRING,
    remote.FEATURE_PROGRAM_KEEPALIVE,
    remote.FEATURE_REMOTE_EVENT_CALLBACK,
    remote.FEATURE_REMOTE_CLOSE_CALLBACK,
}


@handles(Proc.CONNECT_SUPPORTS_FEATURE)
async def _supports(s: Session, h: Header, a: Args) -> Ret:
    return {"supported": int(a["feature"] in SUPPORTED_FEATURES)}


@handles(Proc.CONNECT_GET_TYPE)
async def _type(s: Session, h: Header, a: Args) -> Ret:
    return {"type": driver_of(s).type}


@handles(Proc.CONNECT_GET_VERSION)
async def _version(s: Session, h: Header, a: Args) -> Ret:
    return {"hv_ver": await driver_of(s).version()}


@handles(Proc.CONNECT_GET_LIB_VERSION)
async def _lib_version(s: Session, h: Header, a: Args) -> Ret:
    return {"lib_ver": LIB_VERSION}


@handles(Proc.CONNECT_GET_HOSTNAME)
async def _hostname(s: Session, h: Header, a: Args) -> Ret:
    return {"hostname": await driver_of(s).hostname()}


@handles(Proc.CONNECT_GET_URI)
async def _uri(s: Session, h: Header, a: Args) -> Ret:
    return {"uri": driver_of(s).uri}


@handles(Proc.CONNECT_GET_CAPABILITIES)
async def _caps(s: Session, h: Header, a: Args) -> Ret:
    return {"capabilities": await driver_of(s).capabilities()}


@handles(Proc.CONNECT_IS_SECURE)
async def _secure(s: Session, h: Header, a: Args) -> Ret:
    return {"secure": 1}  # a local unix socket


@handles(Proc.NODE_GET_INFO)
async def _node_info(s: Session, h: Header, a: Args) -> Ret:
    n = await driver_of(s).node_info()
    return {
        "model": n.model,
        "memory": n.memory_kib,
        "cpus": n.cpus,
        "mhz": n.mhz,
        "nodes": n.nodes,
        "sockets": n.sockets,
        "cores": n.cores,
        "threads": n.threads,
    }


@handles(Proc.NODE_GET_SECURITY_MODEL)
async def _secmodel(s: Session, h: Header, a: Args) -> Ret:
    driver_of(s)
    return {"model": "", "doi": ""}  # no security driver


@handles(Proc.DOMAIN_GET_SECURITY_LABEL)
async def _seclabel(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).is_active(dom_from_wire(a["dom"]))
    return {"label": "", "enforcing": 0}


# --- domains


@handles(Proc.CONNECT_LIST_ALL_DOMAINS)
async def _list_domains(s: Session, h: Header, a: Args) -> Ret:
    refs = await driver_of(s).list_domains(a["flags"])
    doms = [dom_to_wire(r) for r in refs] if a["need_results"] else []
    return {"domains": doms, "ret": len(refs)}


@handles(Proc.DOMAIN_LOOKUP_BY_NAME)
async def _by_name(s: Session, h: Header, a: Args) -> Ret:
    return {"dom": dom_to_wire(await driver_of(s).lookup_by_name(a["name"]))}


@handles(Proc.DOMAIN_LOOKUP_BY_UUID)
async def _by_uuid(s: Session, h: Header, a: Args) -> Ret:
    return {"dom": dom_to_wire(await driver_of(s).lookup_by_uuid(a["uuid"]))}


@handles(Proc.DOMAIN_LOOKUP_BY_ID)
async def _by_id(s: Session, h: Header, a: Args) -> Ret:
    return {"dom": dom_to_wire(await driver_of(s).lookup_by_id(a["id"]))}


@handles(Proc.DOMAIN_DEFINE_XML, Proc.DOMAIN_DEFINE_XML_FLAGS)
async def _define(s: Session, h: Header, a: Args) -> Ret:
    return {"dom": dom_to_wire(await driver_of(s).define_xml(a["xml"], a.get("flags", 0)))}


@handles(Proc.DOMAIN_CREATE_XML)
async def _create_xml(s: Session, h: Header, a: Args) -> Ret:
    return {"dom": dom_to_wire(await driver_of(s).create_xml(a["xml_desc"], a["flags"]))}


@handles(Proc.DOMAIN_CREATE, Proc.DOMAIN_CREATE_WITH_FLAGS)
async def _create(s: Session, h: Header, a: Args) -> Ret:
    ref = await driver_of(s).create(dom_from_wire(a["dom"]), a.get("flags", 0))
    return {"dom": dom_to_wire(ref)} if h.procedure == Proc.DOMAIN_CREATE_WITH_FLAGS else None


def _dom_flags_call(method: str) -> Handler:
    """A handler for `(dom[, flags]) -> void` procedures: driver.<method>(dom, flags)."""

    async def call(s: Session, h: Header, a: Args) -> Ret:
        await getattr(driver_of(s), method)(dom_from_wire(a["dom"]), a.get("flags", 0))
        return None

    return call


for _procs, _method in (
    ((Proc.DOMAIN_UNDEFINE, Proc.DOMAIN_UNDEFINE_FLAGS), "undefine"),
    ((Proc.DOMAIN_DESTROY, Proc.DOMAIN_DESTROY_FLAGS), "destroy"),
    ((Proc.DOMAIN_SHUTDOWN, Proc.DOMAIN_SHUTDOWN_FLAGS), "shutdown"),
    ((Proc.DOMAIN_REBOOT,), "reboot"),
    ((Proc.DOMAIN_RESET,), "reset"),
):
    handles(*_procs)(_dom_flags_call(_method))


@handles(Proc.DOMAIN_SUSPEND)
async def _suspend(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).suspend(dom_from_wire(a["dom"]))
    return None


@handles(Proc.DOMAIN_RESUME)
async def _resume(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).resume(dom_from_wire(a["dom"]))
    return None


@handles(Proc.DOMAIN_GET_XML_DESC)
async def _dom_xml(s: Session, h: Header, a: Args) -> Ret:
    return {"xml": await driver_of(s).xml_desc(dom_from_wire(a["dom"]), a["flags"])}


@handles(Proc.DOMAIN_GET_INFO)
async def _dom_info(s: Session, h: Header, a: Args) -> Ret:
    i = await driver_of(s).info(dom_from_wire(a["dom"]))
    return {
        "state": int(i.state),
        "maxMem": i.max_mem_kib,
        "memory": i.memory_kib,
        "nrVirtCpu": i.nr_virt_cpu,
        "cpuTime": i.cpu_time_ns,
    }


_PARTS = ("total", "processed", "remaining")


def _job_bytes(job: JobInfo) -> tuple[list[int], list[int]]:
    """(data, memory) as (total, processed, remaining): memory only when the data is RAM."""
    data = [job.data_total, job.data_processed, job.data_remaining]
    return data, data if job.operation == JobOperation.SAVE else [0, 0, 0]


@handles(Proc.DOMAIN_GET_JOB_INFO)
async def _job_info(s: Session, h: Header, a: Args) -> Ret:
    job = await driver_of(s).job_info(dom_from_wire(a["dom"]))
    data, memory = _job_bytes(job)
    ret = {"type": int(job.type), "timeElapsed": job.elapsed_ms, "timeRemaining": 0}
    for kind, values in (("data", data), ("mem", memory), ("file", [0, 0, 0])):
        ret |= {f"{kind}{part.title()}": v for part, v in zip(_PARTS, values, strict=True)}
    return ret


JOB_STATS_COMPLETED = 1  # virDomainGetJobStatsFlags: the last completed job (none is kept)
_INT, _ULLONG = 1, 4  # virTypedParameterType


@handles(Proc.DOMAIN_GET_JOB_STATS)
async def _job_stats(s: Session, h: Header, a: Args) -> Ret:
    job = await driver_of(s).job_info(dom_from_wire(a["dom"]))
    if job.type == JobType.NONE or a["flags"] & JOB_STATS_COMPLETED:
        return {"type": int(JobType.NONE), "params": []}
    fields: list[tuple[str, int, int]] = [("time_elapsed", _ULLONG, job.elapsed_ms)]
    if job.operation is not None:
        fields.insert(0, ("operation", _INT, int(job.operation)))
    data, memory = _job_bytes(job)
    fields += [(f"data_{part}", _ULLONG, v) for part, v in zip(_PARTS, data, strict=True)]
    if job.operation == JobOperation.SAVE:
        fields += [(f"memory_{part}", _ULLONG, v) for part, v in zip(_PARTS, memory, strict=True)]
    params = [{"field": name, "value": (kind, v)} for name, kind, v in fields]
    return {"type": int(job.type), "params": params}


_LLONG = 3  # virTypedParameterType
# virDomainBlockStatsFlags' fields, in the order libvirt's QEMU driver returns them
_BLOCK_STATS_PARAMS = (
    ("wr_bytes", "wr_bytes"), ("wr_operations", "wr_req"), ("rd_bytes", "rd_bytes"),
    ("rd_operations", "rd_req"), ("flush_operations", "flush_req"),
    ("wr_total_times", "wr_total_ns"), ("rd_total_times", "rd_total_ns"),
    ("flush_total_times", "flush_total_ns"), ("errs", "errs"),
)  # fmt: skip


@handles(Proc.DOMAIN_BLOCK_STATS)
async def _block_stats(s: Session, h: Header, a: Args) -> Ret:
    stats = await driver_of(s).block_stats(dom_from_wire(a["dom"]), a["path"])
    return {f: -1 if (v := getattr(stats, f)) is None else v for f in remote.BLOCK_STATS_FIELDS}


@handles(Proc.DOMAIN_BLOCK_STATS_FLAGS)
async def _block_stats_flags(s: Session, h: Header, a: Args) -> Ret:
    """Typed parameters; nparams 0 asks how many there are."""
    driver = driver_of(s)
    if not driver.detailed_block_stats:
        raise not_supported(Proc.DOMAIN_BLOCK_STATS_FLAGS)
    if not 0 <= a["nparams"] <= remote.DOMAIN_BLOCK_STATS_PARAMETERS_MAX:
        raise VirtError(ErrorCode.RPC, "nparams too large")
    stats = await driver.block_stats(dom_from_wire(a["dom"]), a["path"])
    params = [
        {"field": name, "value": (_LLONG, value)}
        for name, attr in _BLOCK_STATS_PARAMS
        if (value := getattr(stats, attr)) is not None
    ]
    if a["nparams"] == 0:
        return {"params": [], "nparams": len(params)}
    return {"params": params[: a["nparams"]], "nparams": min(len(params), a["nparams"])}


@handles(Proc.DOMAIN_INTERFACE_STATS)
async def _interface_stats(s: Session, h: Header, a: Args) -> Ret:
    stats = await driver_of(s).interface_stats(dom_from_wire(a["dom"]), a["path"])
    return {f: getattr(stats, f) for f in remote.INTERFACE_STATS_FIELDS}


@handles(Proc.DOMAIN_GET_MAX_MEMORY)
async def _max_memory(s: Session, h: Header, a: Args) -> Ret:
    return {"memory": (await driver_of(s).info(dom_from_wire(a["dom"]))).max_mem_kib}


@handles(Proc.DOMAIN_GET_STATE)
async def _dom_state(s: Session, h: Header, a: Args) -> Ret:
    state, reason = await driver_of(s).state(dom_from_wire(a["dom"]))
    return {"state": int(state), "reason": reason}


@handles(Proc.DOMAIN_GET_OS_TYPE)
async def _os_type(s: Session, h: Header, a: Args) -> Ret:
    xml = await driver_of(s).xml_desc(dom_from_wire(a["dom"]), 0)
    return {"type": (ET.fromstring(xml).findtext("os/type") or "hvm").strip()}


@handles(Proc.DOMAIN_GET_AUTOSTART)
async def _dom_autostart(s: Session, h: Header, a: Args) -> Ret:
    return {"autostart": int(await driver_of(s).get_autostart(dom_from_wire(a["dom"])))}


@handles(Proc.DOMAIN_SET_AUTOSTART)
async def _dom_set_autostart(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).set_autostart(dom_from_wire(a["dom"]), bool(a["autostart"]))
    return None


@handles(Proc.DOMAIN_IS_ACTIVE)
async def _is_active(s: Session, h: Header, a: Args) -> Ret:
    return {"active": int(await driver_of(s).is_active(dom_from_wire(a["dom"])))}


@handles(Proc.DOMAIN_IS_PERSISTENT)
async def _is_persistent(s: Session, h: Header, a: Args) -> Ret:
    return {"persistent": int(await driver_of(s).is_persistent(dom_from_wire(a["dom"])))}


@handles(Proc.DOMAIN_IS_UPDATED)
async def _is_updated(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).is_active(dom_from_wire(a["dom"]))
    return {"updated": 0}


@handles(Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE)
async def _managed_save(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).is_active(dom_from_wire(a["dom"]))  # checks the domain exists
    return {"result": 0}


@handles(Proc.DOMAIN_OPEN_CONSOLE)
async def _console(s: Session, h: Header, a: Args) -> Ret:
    dom = dom_from_wire(a["dom"])
    s.attach_stream(h, await driver_of(s).open_console(dom, a["dev_name"], a["flags"]))
    return None


@handles(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY)
async def _event_register(s: Session, h: Header, a: Args) -> Ret:
    driver_of(s)
    dom = dom_from_wire(a["dom"]) if a["dom"] is not None else None
    return {"callbackID": s.register_event(a["eventID"], dom)}


@handles(Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY)
async def _event_deregister(s: Session, h: Header, a: Args) -> Ret:
    s.deregister_event(a["callbackID"])
    return None


XML_INACTIVE = 2  # virDomainXMLFlags
AFFECT_LIVE, AFFECT_CONFIG = 1, 2  # virDomainModificationImpact
VCPU_MAXIMUM = 4


def not_supported(proc: Proc) -> VirtError:
    return VirtError(
        ErrorCode.NO_SUPPORT,
        f"this function is not supported by the connection driver: {api_name(proc)}",
    )


async def edit_config(s: Session, h: Header, a: Args, edit: Callable[[ET.Element], None]) -> None:
    """Apply `edit` to the persistent definition (--config); live changes are not supported."""
    driver, dom = driver_of(s), dom_from_wire(a["dom"])
    live = a["flags"] & AFFECT_LIVE or (
        not a["flags"] & AFFECT_CONFIG and await driver.is_active(dom)
    )
    if live:
        raise not_supported(Proc(h.procedure))
    doc = ET.fromstring(await driver.xml_desc(dom, XML_INACTIVE))
    edit(doc)
    await driver.define_xml(ET.tostring(doc, encoding="unicode"), 0)


def child(doc: ET.Element, tag: str) -> ET.Element:
    found = doc.find(tag)
    return found if found is not None else ET.SubElement(doc, tag)


@handles(Proc.DOMAIN_SET_MEMORY_FLAGS)
async def _set_memory(s: Session, h: Header, a: Args) -> Ret:
    def edit(doc: ET.Element) -> None:
        maximum = doc.find("memory")
        limit = int(maximum.text or 0) if maximum is not None else 0
        if maximum is not None and maximum.get("unit", "KiB") == "KiB" and a["memory"] > limit:
            raise VirtError.of(ErrorCode.INVALID_ARG, "cannot set memory higher than max memory")
        current = child(doc, "currentMemory")
        current.text, current.attrib = str(a["memory"]), {"unit": "KiB"}

    await edit_config(s, h, a, edit)
    return None


@handles(Proc.DOMAIN_SET_VCPUS_FLAGS)
async def _set_vcpus(s: Session, h: Header, a: Args) -> Ret:
    if a["nvcpus"] < 1:
        raise VirtError.of(ErrorCode.INVALID_ARG, "argument unsupported: 0")

    def edit(doc: ET.Element) -> None:
        vcpu = child(doc, "vcpu")
        if a["flags"] & VCPU_MAXIMUM:
            vcpu.text = str(a["nvcpus"])
        else:
            if a["nvcpus"] > int(vcpu.text or 1):
                raise VirtError.of(
                    ErrorCode.INVALID_ARG,
                    f"requested vcpus is greater than max allowable vcpus "
                    f"for the persistent domain: {a['nvcpus']} > {vcpu.text}",
                )
            vcpu.set("current", str(a["nvcpus"]))
            if a["nvcpus"] == int(vcpu.text or 1):
                del vcpu.attrib["current"]

    await edit_config(s, h, a, edit)
    return None


@handles(Proc.DOMAIN_SAVE)
async def _save(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).save(dom_from_wire(a["dom"]), a["to"])
    return None


@handles(Proc.DOMAIN_RESTORE)
async def _restore(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).restore(a["from"])
    return None


@handles(Proc.CONNECT_LIST_ALL_NETWORKS)
async def _list_networks(s: Session, h: Header, a: Args) -> Ret:
    driver_of(s)
    return {"nets": [], "ret": 0}  # no driver manages networks yet


@handles(Proc.NETWORK_IS_ACTIVE, Proc.NETWORK_IS_PERSISTENT, Proc.NETWORK_GET_AUTOSTART)
async def _network(s: Session, h: Header, a: Args) -> Ret:
    driver_of(s)
    uuid = uuidlib.UUID(bytes=bytes(a["net"]["uuid"]))
    raise VirtError(
        ErrorCode.NO_NETWORK,
        f"Network not found: no network with matching uuid '{uuid}' ({a['net']['name']})",
        ErrorDomain.NETWORK,
    )


# --- storage


@handles(Proc.CONNECT_LIST_ALL_STORAGE_POOLS)
async def _list_pools(s: Session, h: Header, a: Args) -> Ret:
    refs = await driver_of(s).list_pools(a["flags"])
    return {"pools": [pool_to_wire(r) for r in refs] if a["need_results"] else [], "ret": len(refs)}


@handles(Proc.STORAGE_POOL_LOOKUP_BY_NAME)
async def _pool_by_name(s: Session, h: Header, a: Args) -> Ret:
    return {"pool": pool_to_wire(await driver_of(s).pool_lookup_by_name(a["name"]))}


@handles(Proc.STORAGE_POOL_LOOKUP_BY_UUID)
async def _pool_by_uuid(s: Session, h: Header, a: Args) -> Ret:
    return {"pool": pool_to_wire(await driver_of(s).pool_lookup_by_uuid(a["uuid"]))}


@handles(Proc.STORAGE_POOL_LOOKUP_BY_VOLUME)
async def _pool_by_vol(s: Session, h: Header, a: Args) -> Ret:
    driver = driver_of(s)
    vol = await driver.vol_lookup_by_path(vol_from_wire(a["vol"]).key)
    return {"pool": pool_to_wire(await driver.pool_lookup_by_name(vol.pool))}


@handles(Proc.STORAGE_POOL_DEFINE_XML)
async def _pool_define(s: Session, h: Header, a: Args) -> Ret:
    return {"pool": pool_to_wire(await driver_of(s).pool_define_xml(a["xml"], a["flags"]))}


@handles(Proc.STORAGE_POOL_CREATE)
async def _pool_create(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_create(pool_from_wire(a["pool"]), a["flags"])
    return None


@handles(Proc.STORAGE_POOL_REFRESH)
async def _pool_refresh(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_refresh(pool_from_wire(a["pool"]), a["flags"])
    return None


@handles(Proc.STORAGE_POOL_DESTROY)
async def _pool_destroy(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_destroy(pool_from_wire(a["pool"]))
    return None


@handles(Proc.STORAGE_POOL_UNDEFINE)
async def _pool_undefine(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_undefine(pool_from_wire(a["pool"]))
    return None


@handles(Proc.STORAGE_POOL_GET_INFO)
async def _pool_info(s: Session, h: Header, a: Args) -> Ret:
    i = await driver_of(s).pool_info(pool_from_wire(a["pool"]))
    return {
        "state": i.state,
        "capacity": i.capacity,
        "allocation": i.allocation,
        "available": i.available,
    }


@handles(Proc.STORAGE_POOL_GET_XML_DESC)
async def _pool_xml(s: Session, h: Header, a: Args) -> Ret:
    return {"xml": await driver_of(s).pool_xml_desc(pool_from_wire(a["pool"]), a["flags"])}


@handles(Proc.STORAGE_POOL_GET_AUTOSTART)
async def _pool_autostart(s: Session, h: Header, a: Args) -> Ret:
    return {"autostart": int(await driver_of(s).pool_get_autostart(pool_from_wire(a["pool"])))}


@handles(Proc.STORAGE_POOL_SET_AUTOSTART)
async def _pool_set_autostart(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_set_autostart(pool_from_wire(a["pool"]), bool(a["autostart"]))
    return None


@handles(Proc.STORAGE_POOL_IS_ACTIVE)
async def _pool_active(s: Session, h: Header, a: Args) -> Ret:
    info = await driver_of(s).pool_info(pool_from_wire(a["pool"]))
    return {"active": int(info.state != 0)}


@handles(Proc.STORAGE_POOL_IS_PERSISTENT)
async def _pool_persistent(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).pool_info(pool_from_wire(a["pool"]))
    return {"persistent": 1}  # pools are only ever defined, never created transient


@handles(Proc.STORAGE_POOL_NUM_OF_VOLUMES)
async def _num_vols(s: Session, h: Header, a: Args) -> Ret:
    return {"num": len(await driver_of(s).list_volumes(pool_from_wire(a["pool"])))}


@handles(Proc.STORAGE_POOL_LIST_VOLUMES)
async def _list_vol_names(s: Session, h: Header, a: Args) -> Ret:
    vols = await driver_of(s).list_volumes(pool_from_wire(a["pool"]))
    return {"names": [v.name for v in vols][: max(a["maxnames"], 0)]}


@handles(Proc.STORAGE_POOL_LIST_ALL_VOLUMES)
async def _list_vols(s: Session, h: Header, a: Args) -> Ret:
    vols = await driver_of(s).list_volumes(pool_from_wire(a["pool"]))
    return {"vols": [vol_to_wire(v) for v in vols] if a["need_results"] else [], "ret": len(vols)}


@handles(Proc.STORAGE_VOL_LOOKUP_BY_NAME)
async def _vol_by_name(s: Session, h: Header, a: Args) -> Ret:
    ref = await driver_of(s).vol_lookup_by_name(pool_from_wire(a["pool"]), a["name"])
    return {"vol": vol_to_wire(ref)}


@handles(Proc.STORAGE_VOL_LOOKUP_BY_KEY)
async def _vol_by_key(s: Session, h: Header, a: Args) -> Ret:
    return {"vol": vol_to_wire(await driver_of(s).vol_lookup_by_path(a["key"]))}


@handles(Proc.STORAGE_VOL_LOOKUP_BY_PATH)
async def _vol_by_path(s: Session, h: Header, a: Args) -> Ret:
    return {"vol": vol_to_wire(await driver_of(s).vol_lookup_by_path(a["path"]))}


@handles(Proc.STORAGE_VOL_CREATE_XML)
async def _vol_create(s: Session, h: Header, a: Args) -> Ret:
    ref = await driver_of(s).vol_create_xml(pool_from_wire(a["pool"]), a["xml"], a["flags"])
    return {"vol": vol_to_wire(ref)}


@handles(Proc.STORAGE_VOL_DELETE)
async def _vol_delete(s: Session, h: Header, a: Args) -> Ret:
    await driver_of(s).vol_delete(vol_from_wire(a["vol"]), a["flags"])
    return None


@handles(Proc.STORAGE_VOL_GET_INFO, Proc.STORAGE_VOL_GET_INFO_FLAGS)
async def _vol_info(s: Session, h: Header, a: Args) -> Ret:
    i = await driver_of(s).vol_info(vol_from_wire(a["vol"]))
    return {"type": i.type, "capacity": i.capacity, "allocation": i.allocation}


@handles(Proc.STORAGE_VOL_GET_XML_DESC)
async def _vol_xml(s: Session, h: Header, a: Args) -> Ret:
    return {"xml": await driver_of(s).vol_xml_desc(vol_from_wire(a["vol"]), a["flags"])}


@handles(Proc.STORAGE_VOL_GET_PATH)
async def _vol_path(s: Session, h: Header, a: Args) -> Ret:
    return {"name": await driver_of(s).vol_path(vol_from_wire(a["vol"]))}


async def dispatch(session: Session, header: Header, args: Args) -> Ret:
    proc = remote.PROCEDURES[header.procedure]
    if session.driver is None and proc.proc not in BEFORE_OPEN:
        raise VirtError(ErrorCode.INTERNAL_ERROR, "internal error: connection not open")
    if session.readonly and not proc.readonly:
        raise VirtError(
            ErrorCode.OPERATION_DENIED,
            f"operation forbidden: read only access prevents {api_name(proc.proc)}",
        )
    return await HANDLERS[proc.proc](session, header, args)


def missing_handlers() -> list[Proc]:
    """Procedures in the wire table without a handler (the tests keep this empty)."""
    return [p for p in remote.PROCEDURES if p not in HANDLERS]


# The snapshot procedures live in their own module; importing it registers them.
from pyvirt.daemon import snapshot_dispatch  # noqa: E402, F401
