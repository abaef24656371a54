"""The remote program (0x20008086): wire types and the procedures pyvirt speaks.

Names, numbers and layouts follow libvirt's remote_protocol.x; each procedure is
a row: number, argument struct, return struct, and whether a read-only
connection may call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pyvirt.rpc.xdr import (
    Array,
    CharString,
    Double,
    FixedOpaque,
    Hyper,
    Int,
    Optional,
    String,
    Struct,
    UHyper,
    UInt,
    Union,
    Void,
    XdrType,
)

STRING_MAX = 4 * 1024 * 1024
LIST_MAX = 16384
UUID = FixedOpaque(16)
NonnullString = String(STRING_MAX)
OptString = Optional(NonnullString)

Domain = Struct("remote_nonnull_domain", ("name", NonnullString), ("uuid", UUID), ("id", Int))
Network = Struct("remote_nonnull_network", ("name", NonnullString), ("uuid", UUID))
Pool = Struct("remote_nonnull_storage_pool", ("name", NonnullString), ("uuid", UUID))
Vol = Struct(
    "remote_nonnull_storage_vol",
    ("pool", NonnullString),
    ("name", NonnullString),
    ("key", NonnullString),
)

DomainSnapshot = Struct("remote_nonnull_domain_snapshot", ("name", NonnullString), ("dom", Domain))

Error = Struct(
    "remote_error",
    ("code", Int),
    ("domain", Int),
    ("message", OptString),
    ("level", Int),
    ("dom", Optional(Domain)),
    ("str1", OptString),
    ("str2", OptString),
    ("str3", OptString),
    ("int1", Int),
    ("int2", Int),
    ("net", Optional(Network)),
)


# virTypedParameter: a name and a value tagged with its virTypedParameterType.
TypedParam = Struct(
    "remote_typed_param",
    ("field", NonnullString),
    (
        "value",
        Union(
            "remote_typed_param_value",
            {1: Int, 2: UInt, 3: Hyper, 4: UHyper, 5: Double, 6: Int, 7: NonnullString},
        ),
    ),
)
DOMAIN_JOB_STATS_MAX = 64
DOMAIN_BLOCK_STATS_PARAMETERS_MAX = 16
BLOCK_STATS_FIELDS = ("rd_req", "rd_bytes", "wr_req", "wr_bytes", "errs")
INTERFACE_STATS_FIELDS = tuple(
    f"{way}_{what}" for way in ("rx", "tx") for what in ("bytes", "packets", "errs", "drop")
)


def _s(name: str, *fields: tuple[str, XdrType]) -> Struct:
    return Struct(name, *fields)


_dom = ("dom", Domain)
_pool = ("pool", Pool)
_vol = ("vol", Vol)
_flags = ("flags", UInt)
_xml = ("xml", NonnullString)

DomArgs = _s("dom_args", _dom)
DomFlagsArgs = _s("dom_flags_args", _dom, _flags)
DomRet = _s("dom_ret", _dom)
NetArgs = _s("net_args", ("net", Network))
PoolArgs = _s("pool_args", _pool)
PoolFlagsArgs = _s("pool_flags_args", _pool, _flags)
PoolRet = _s("pool_ret", _pool)
VolArgs = _s("vol_args", _vol)
VolFlagsArgs = _s("vol_flags_args", _vol, _flags)
VolRet = _s("vol_ret", _vol)
XmlRet = _s("xml_ret", _xml)
FlagsArgs = _s("flags_args", _flags)
NameArgs = _s("name_args", ("name", NonnullString))
UUIDArgs = _s("uuid_args", ("uuid", UUID))
XmlFlagsArgs = _s("xml_flags_args", _xml, _flags)


def _int_ret(field: str) -> Struct:
    return _s(f"{field}_ret", (field, Int))


# snapshots (remote_domain_snapshot_*): the snapshot, lists of names or of snapshots
_snap = ("snap", DomainSnapshot)
SnapFlagsArgs = _s("snap_flags_args", _snap, _flags)
SnapRet = _s("snap_ret", _snap)
NamesRet = _s("snapshot_names_ret", ("names", Array(NonnullString, LIST_MAX)))
SnapsRet = _s("snapshots_ret", ("snapshots", Array(DomainSnapshot, LIST_MAX)), ("ret", Int))


def _names_args(name: str, owner: tuple[str, XdrType]) -> Struct:
    return _s(f"{name}_args", owner, ("maxnames", Int), _flags)


def _need_args(name: str, owner: tuple[str, XdrType]) -> Struct:
    return _s(f"{name}_args", owner, ("need_results", Int), _flags)


class Proc(IntEnum):
    CONNECT_OPEN = 1
    CONNECT_CLOSE = 2
    CONNECT_GET_TYPE = 3
    CONNECT_GET_VERSION = 4
    NODE_GET_INFO = 6
    CONNECT_GET_CAPABILITIES = 7
    DOMAIN_CREATE = 9
    DOMAIN_CREATE_XML = 10
    DOMAIN_DEFINE_XML = 11
    DOMAIN_DESTROY = 12
    DOMAIN_GET_XML_DESC = 14
    DOMAIN_GET_AUTOSTART = 15
    DOMAIN_GET_INFO = 16
    DOMAIN_GET_MAX_MEMORY = 17
    DOMAIN_GET_OS_TYPE = 19
    DOMAIN_LOOKUP_BY_ID = 22
    DOMAIN_LOOKUP_BY_NAME = 23
    DOMAIN_LOOKUP_BY_UUID = 24
    DOMAIN_REBOOT = 27
    DOMAIN_RESUME = 28
    DOMAIN_SET_AUTOSTART = 29
    DOMAIN_SHUTDOWN = 33
    DOMAIN_SUSPEND = 34
    DOMAIN_UNDEFINE = 35
    DOMAIN_BLOCK_STATS = 64
    DOMAIN_INTERFACE_STATS = 65
    NETWORK_GET_AUTOSTART = 44
    DOMAIN_RESTORE = 54
    DOMAIN_SAVE = 55
    CONNECT_GET_HOSTNAME = 59
    CONNECT_SUPPORTS_FEATURE = 60
    AUTH_LIST = 66
    STORAGE_POOL_DEFINE_XML = 77
    STORAGE_POOL_CREATE = 78
    STORAGE_POOL_DESTROY = 80
    STORAGE_POOL_UNDEFINE = 82
    STORAGE_POOL_REFRESH = 83
    STORAGE_POOL_LOOKUP_BY_NAME = 84
    STORAGE_POOL_LOOKUP_BY_UUID = 85
    STORAGE_POOL_LOOKUP_BY_VOLUME = 86
    STORAGE_POOL_GET_INFO = 87
    STORAGE_POOL_GET_XML_DESC = 88
    STORAGE_POOL_GET_AUTOSTART = 89
    STORAGE_POOL_SET_AUTOSTART = 90
    STORAGE_POOL_NUM_OF_VOLUMES = 91
    STORAGE_POOL_LIST_VOLUMES = 92
    STORAGE_VOL_CREATE_XML = 93
    STORAGE_VOL_DELETE = 94
    STORAGE_VOL_LOOKUP_BY_NAME = 95
    STORAGE_VOL_LOOKUP_BY_KEY = 96
    STORAGE_VOL_LOOKUP_BY_PATH = 97
    STORAGE_VOL_GET_INFO = 98
    STORAGE_VOL_GET_XML_DESC = 99
    STORAGE_VOL_GET_PATH = 100
    CONNECT_GET_URI = 110
    DOMAIN_GET_SECURITY_LABEL = 121
    NODE_GET_SECURITY_MODEL = 122
    CONNECT_IS_SECURE = 149
    DOMAIN_IS_ACTIVE = 150
    DOMAIN_IS_PERSISTENT = 151
    NETWORK_IS_ACTIVE = 152
    NETWORK_IS_PERSISTENT = 153
    STORAGE_POOL_IS_ACTIVE = 154
    STORAGE_POOL_IS_PERSISTENT = 155
    CONNECT_GET_LIB_VERSION = 157
    DOMAIN_GET_JOB_INFO = 163
    DOMAIN_HAS_MANAGED_SAVE_IMAGE = 183
    DOMAIN_SNAPSHOT_CREATE_XML = 185
    DOMAIN_SNAPSHOT_NUM = 187
    DOMAIN_SNAPSHOT_LIST_NAMES = 188
    DOMAIN_CREATE_WITH_FLAGS = 196
    DOMAIN_SET_VCPUS_FLAGS = 199
    DOMAIN_OPEN_CONSOLE = 201
    DOMAIN_SET_MEMORY_FLAGS = 204
    DOMAIN_IS_UPDATED = 202
    DOMAIN_GET_STATE = 212
    DOMAIN_UNDEFINE_FLAGS = 231
    DOMAIN_DESTROY_FLAGS = 234
    DOMAIN_BLOCK_STATS_FLAGS = 243
    DOMAIN_RESET = 245
    DOMAIN_SHUTDOWN_FLAGS = 258
    CONNECT_LIST_ALL_DOMAINS = 273
    CONNECT_LIST_ALL_STORAGE_POOLS = 281
    STORAGE_POOL_LIST_ALL_VOLUMES = 282
    CONNECT_LIST_ALL_NETWORKS = 283
    DOMAIN_GET_JOB_STATS = 298
    CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY = 316
    CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY = 317
    DOMAIN_EVENT_CALLBACK_LIFECYCLE = 318
    DOMAIN_DEFINE_XML_FLAGS = 350
    CONNECT_REGISTER_CLOSE_CALLBACK = 360
    CONNECT_UNREGISTER_CLOSE_CALLBACK = 361
    STORAGE_VOL_GET_INFO_FLAGS = 378
    # --- snapshots (the first three sit above, in number order)
    DOMAIN_SNAPSHOT_GET_XML_DESC = 186
    DOMAIN_SNAPSHOT_LOOKUP_BY_NAME = 189
    DOMAIN_HAS_CURRENT_SNAPSHOT = 190
    DOMAIN_SNAPSHOT_CURRENT = 191
    DOMAIN_REVERT_TO_SNAPSHOT = 192
    DOMAIN_SNAPSHOT_DELETE = 193
    DOMAIN_SNAPSHOT_GET_PARENT = 244
    DOMAIN_SNAPSHOT_NUM_CHILDREN = 246
    DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES = 247
    DOMAIN_SNAPSHOT_IS_CURRENT = 271
    DOMAIN_SNAPSHOT_HAS_METADATA = 272
    DOMAIN_LIST_ALL_SNAPSHOTS = 274
    DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN = 275


@dataclass(frozen=True)
class Procedure:
    proc: Proc
    args: XdrType
    ret: XdrType
    readonly: bool  # allowed on a read-only connection


_VolInfoRet = _s("vol_info_ret", ("type", Int), ("capacity", UHyper), ("allocation", UHyper))
_RW, _RO = False, True

_TABLE: list[tuple[Proc, XdrType, XdrType, bool]] = [
    (Proc.CONNECT_OPEN, _s("open_args", ("name", OptString), _flags), Void, _RO),
    (Proc.CONNECT_CLOSE, Void, Void, _RO),
    (Proc.CONNECT_GET_TYPE, Void, _s("type_ret", ("type", NonnullString)), _RO),
    (Proc.CONNECT_GET_VERSION, Void, _s("version_ret", ("hv_ver", UHyper)), _RO),
    (Proc.CONNECT_GET_LIB_VERSION, Void, _s("lib_version_ret", ("lib_ver", UHyper)), _RO),
    (Proc.CONNECT_GET_HOSTNAME, Void, _s("hostname_ret", ("hostname", NonnullString)), _RO),
    (Proc.CONNECT_GET_URI, Void, _s("uri_ret", ("uri", NonnullString)), _RO),
    (Proc.CONNECT_GET_CAPABILITIES, Void, _s("caps_ret", ("capabilities", NonnullString)), _RO),
    (Proc.CONNECT_IS_SECURE, Void, _int_ret("secure"), _RO),
    (
        Proc.NODE_GET_INFO,
        Void,
        _s(
            "node_info_ret",
            ("model", CharString(32, fixed=True)),
            ("memory", UHyper),
            ("cpus", Int),
            ("mhz", Int),
            ("nodes", Int),
            ("sockets", Int),
            ("cores", Int),
            ("threads", Int),
        ),
        _RO,
    ),
    (
        Proc.CONNECT_SUPPORTS_FEATURE,
        _s("feature_args", ("feature", Int)),
        _int_ret("supported"),
        _RO,
    ),
    (Proc.AUTH_LIST, Void, _s("auth_list_ret", ("types", Array(Int, 20))), _RO),
    (
        Proc.NODE_GET_SECURITY_MODEL,
        Void,
        _s("secmodel_ret", ("model", CharString(256)), ("doi", CharString(256))),
        _RO,
    ),
    (Proc.CONNECT_REGISTER_CLOSE_CALLBACK, Void, Void, _RO),
    (Proc.CONNECT_UNREGISTER_CLOSE_CALLBACK, Void, Void, _RO),
    # --- domains
    (
        Proc.CONNECT_LIST_ALL_DOMAINS,
        _s("list_all_domains_args", ("need_results", Int), _flags),
        _s("list_all_domains_ret", ("domains", Array(Domain, LIST_MAX)), ("ret", UInt)),
        _RO,
    ),
    (Proc.DOMAIN_LOOKUP_BY_ID, _s("id_args", ("id", Int)), DomRet, _RO),
    (Proc.DOMAIN_LOOKUP_BY_NAME, NameArgs, DomRet, _RO),
    (Proc.DOMAIN_LOOKUP_BY_UUID, UUIDArgs, DomRet, _RO),
    (Proc.DOMAIN_DEFINE_XML, _s("define_args", _xml), DomRet, _RW),
    (Proc.DOMAIN_DEFINE_XML_FLAGS, XmlFlagsArgs, DomRet, _RW),
    (Proc.DOMAIN_UNDEFINE, DomArgs, Void, _RW),
    (Proc.DOMAIN_UNDEFINE_FLAGS, DomFlagsArgs, Void, _RW),
    (Proc.DOMAIN_CREATE, DomArgs, Void, _RW),
    (Proc.DOMAIN_CREATE_WITH_FLAGS, DomFlagsArgs, DomRet, _RW),
    (
        Proc.DOMAIN_CREATE_XML,
        _s("create_xml_args", ("xml_desc", NonnullString), _flags),
        DomRet,
        _RW,
    ),
    (Proc.DOMAIN_DESTROY, DomArgs, Void, _RW),
    (Proc.DOMAIN_DESTROY_FLAGS, DomFlagsArgs, Void, _RW),
    (Proc.DOMAIN_SHUTDOWN, DomArgs, Void, _RW),
    (Proc.DOMAIN_SHUTDOWN_FLAGS, DomFlagsArgs, Void, _RW),
    (Proc.DOMAIN_REBOOT, DomFlagsArgs, Void, _RW),
    (Proc.DOMAIN_RESET, DomFlagsArgs, Void, _RW),
    (Proc.DOMAIN_SUSPEND, DomArgs, Void, _RW),
    (Proc.DOMAIN_RESUME, DomArgs, Void, _RW),
    (Proc.DOMAIN_GET_XML_DESC, DomFlagsArgs, XmlRet, _RO),
    (
        Proc.DOMAIN_GET_INFO,
        DomArgs,
        _s(
            "dom_info_ret",
            ("state", UInt),
            ("maxMem", UHyper),
            ("memory", UHyper),
            ("nrVirtCpu", UInt),
            ("cpuTime", UHyper),
        ),
        _RO,
    ),
    (Proc.DOMAIN_GET_STATE, DomFlagsArgs, _s("state_ret", ("state", Int), ("reason", Int)), _RO),
    (Proc.DOMAIN_GET_MAX_MEMORY, DomArgs, _s("max_mem_ret", ("memory", UHyper)), _RO),
    (Proc.DOMAIN_GET_OS_TYPE, DomArgs, _s("os_type_ret", ("type", NonnullString)), _RO),
    (Proc.DOMAIN_GET_AUTOSTART, DomArgs, _int_ret("autostart"), _RO),
    (Proc.DOMAIN_SET_AUTOSTART, _s("dom_autostart_args", _dom, ("autostart", Int)), Void, _RW),
    (Proc.DOMAIN_IS_ACTIVE, DomArgs, _int_ret("active"), _RO),
    (Proc.DOMAIN_IS_PERSISTENT, DomArgs, _int_ret("persistent"), _RO),
    (Proc.DOMAIN_IS_UPDATED, DomArgs, _int_ret("updated"), _RO),
    (Proc.DOMAIN_HAS_MANAGED_SAVE_IMAGE, DomFlagsArgs, _int_ret("result"), _RO),
    (
        Proc.DOMAIN_GET_SECURITY_LABEL,
        DomArgs,
        _s("seclabel_ret", ("label", CharString(4096)), ("enforcing", Int)),
        _RO,
    ),
    (
        Proc.DOMAIN_OPEN_CONSOLE,
        _s("open_console_args", _dom, ("dev_name", OptString), _flags),
        Void,
        _RW,
    ),
    (
        Proc.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY,
        _s("event_register_args", ("eventID", Int), ("dom", Optional(Domain))),
        _int_ret("callbackID"),
        _RO,
    ),
    (
        Proc.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY,
        _s("event_deregister_args", ("callbackID", Int)),
        Void,
        _RO,
    ),
    (
        Proc.DOMAIN_SET_MEMORY_FLAGS,
        _s("set_memory_flags_args", _dom, ("memory", UHyper), _flags),
        Void,
        _RW,
    ),
    (
        Proc.DOMAIN_SET_VCPUS_FLAGS,
        _s("set_vcpus_flags_args", _dom, ("nvcpus", UInt), _flags),
        Void,
        _RW,
    ),
    (Proc.DOMAIN_SAVE, _s("save_args", _dom, ("to", NonnullString)), Void, _RW),
    (Proc.DOMAIN_RESTORE, _s("restore_args", ("from", NonnullString)), Void, _RW),
    (
        Proc.DOMAIN_GET_JOB_INFO,
        DomArgs,
        _s(
            "job_info_ret",
            ("type", Int),
            *((name, UHyper) for name in ("timeElapsed", "timeRemaining")),
            *(
                (f"{kind}{part}", UHyper)
                for kind in ("data", "mem", "file")
                for part in ("Total", "Processed", "Remaining")
            ),
        ),
        _RO,
    ),
    (
        Proc.DOMAIN_GET_JOB_STATS,
        DomFlagsArgs,
        _s("job_stats_ret", ("type", Int), ("params", Array(TypedParam, DOMAIN_JOB_STATS_MAX))),
        _RO,
    ),
    # --- snapshots
    (
        Proc.DOMAIN_BLOCK_STATS,
        _s("block_stats_args", _dom, ("path", NonnullString)),
        _s("block_stats_ret", *((f, Hyper) for f in BLOCK_STATS_FIELDS)),
        _RO,
    ),
    (
        Proc.DOMAIN_BLOCK_STATS_FLAGS,
        _s("block_stats_flags_args", _dom, ("path", NonnullString), ("nparams", Int), _flags),
        _s(
            "block_stats_flags_ret",
            ("params", Array(TypedParam, DOMAIN_BLOCK_STATS_PARAMETERS_MAX)),
            ("nparams", Int),
        ),
        _RO,
    ),
    (
        Proc.DOMAIN_INTERFACE_STATS,
        _s("interface_stats_args", _dom, ("path", NonnullString)),
        _s("interface_stats_ret", *((f, Hyper) for f in INTERFACE_STATS_FIELDS)),
        _RO,
    ),
    (
        Proc.DOMAIN_SNAPSHOT_CREATE_XML,
        _s("snapshot_create_xml_args", _dom, ("xml_desc", NonnullString), _flags),
        SnapRet,
        _RW,
    ),
    (Proc.DOMAIN_SNAPSHOT_GET_XML_DESC, SnapFlagsArgs, XmlRet, _RO),
    (Proc.DOMAIN_SNAPSHOT_NUM, DomFlagsArgs, _int_ret("num"), _RO),
    (Proc.DOMAIN_SNAPSHOT_LIST_NAMES, _names_args("snapshot_list_names", _dom), NamesRet, _RO),
    (Proc.DOMAIN_LIST_ALL_SNAPSHOTS, _need_args("list_all_snapshots", _dom), SnapsRet, _RO),
    (
        Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME,
        _s("snapshot_lookup_by_name_args", _dom, ("name", NonnullString), _flags),
        SnapRet,
        _RO,
    ),
    (Proc.DOMAIN_HAS_CURRENT_SNAPSHOT, DomFlagsArgs, _int_ret("result"), _RO),
    (Proc.DOMAIN_SNAPSHOT_CURRENT, DomFlagsArgs, SnapRet, _RO),
    (Proc.DOMAIN_SNAPSHOT_GET_PARENT, SnapFlagsArgs, SnapRet, _RO),
    (Proc.DOMAIN_SNAPSHOT_IS_CURRENT, SnapFlagsArgs, _int_ret("current"), _RO),
    (Proc.DOMAIN_SNAPSHOT_HAS_METADATA, SnapFlagsArgs, _int_ret("metadata"), _RO),
    (Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN, SnapFlagsArgs, _int_ret("num"), _RO),
    (
        Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES,
        _names_args("snapshot_list_children_names", _snap),
        NamesRet,
        _RO,
    ),
    (
        Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN,
        _need_args("snapshot_list_all_children", ("snapshot", DomainSnapshot)),
        SnapsRet,
        _RO,
    ),
    (Proc.DOMAIN_REVERT_TO_SNAPSHOT, SnapFlagsArgs, Void, _RW),
    (Proc.DOMAIN_SNAPSHOT_DELETE, SnapFlagsArgs, Void, _RW),
    # --- networks (pyvirtd has none yet; the client lists a real libvirtd's)
    (
        Proc.CONNECT_LIST_ALL_NETWORKS,
        _s("list_all_networks_args", ("need_results", Int), _flags),
        _s("list_all_networks_ret", ("nets", Array(Network, LIST_MAX)), ("ret", UInt)),
        _RO,
    ),
    (Proc.NETWORK_IS_ACTIVE, NetArgs, _int_ret("active"), _RO),
    (Proc.NETWORK_IS_PERSISTENT, NetArgs, _int_ret("persistent"), _RO),
    (Proc.NETWORK_GET_AUTOSTART, NetArgs, _int_ret("autostart"), _RO),
    # --- storage
    (
        Proc.CONNECT_LIST_ALL_STORAGE_POOLS,
        _s("list_all_pools_args", ("need_results", Int), _flags),
        _s("list_all_pools_ret", ("pools", Array(Pool, 4096)), ("ret", UInt)),
        _RO,
    ),
    (Proc.STORAGE_POOL_LOOKUP_BY_NAME, NameArgs, PoolRet, _RO),
    (Proc.STORAGE_POOL_LOOKUP_BY_UUID, UUIDArgs, PoolRet, _RO),
    (Proc.STORAGE_POOL_LOOKUP_BY_VOLUME, VolArgs, PoolRet, _RO),
    (Proc.STORAGE_POOL_DEFINE_XML, XmlFlagsArgs, PoolRet, _RW),
    (Proc.STORAGE_POOL_CREATE, PoolFlagsArgs, Void, _RW),
    (Proc.STORAGE_POOL_DESTROY, PoolArgs, Void, _RW),
    (Proc.STORAGE_POOL_UNDEFINE, PoolArgs, Void, _RW),
    (Proc.STORAGE_POOL_REFRESH, PoolFlagsArgs, Void, _RW),
    (
        Proc.STORAGE_POOL_GET_INFO,
        PoolArgs,
        _s(
            "pool_info_ret",
            ("state", UInt),
            ("capacity", UHyper),
            ("allocation", UHyper),
            ("available", UHyper),
        ),
        _RO,
    ),
    (Proc.STORAGE_POOL_GET_XML_DESC, PoolFlagsArgs, XmlRet, _RO),
    (Proc.STORAGE_POOL_GET_AUTOSTART, PoolArgs, _int_ret("autostart"), _RO),
    (
        Proc.STORAGE_POOL_SET_AUTOSTART,
        _s("pool_autostart_args", _pool, ("autostart", Int)),
        Void,
        _RW,
    ),
    (Proc.STORAGE_POOL_IS_ACTIVE, PoolArgs, _int_ret("active"), _RO),
    (Proc.STORAGE_POOL_IS_PERSISTENT, PoolArgs, _int_ret("persistent"), _RO),
    (Proc.STORAGE_POOL_NUM_OF_VOLUMES, PoolArgs, _int_ret("num"), _RO),
    (
        Proc.STORAGE_POOL_LIST_VOLUMES,
        _s("list_volumes_args", _pool, ("maxnames", Int)),
        _s("list_volumes_ret", ("names", Array(NonnullString, LIST_MAX))),
        _RO,
    ),
    (
        Proc.STORAGE_POOL_LIST_ALL_VOLUMES,
        _s("list_all_volumes_args", _pool, ("need_results", Int), _flags),
        _s("list_all_volumes_ret", ("vols", Array(Vol, LIST_MAX)), ("ret", UInt)),
        _RO,
    ),
    (
        Proc.STORAGE_VOL_LOOKUP_BY_NAME,
        _s("vol_by_name_args", _pool, ("name", NonnullString)),
        VolRet,
        _RO,
    ),
    (Proc.STORAGE_VOL_LOOKUP_BY_KEY, _s("vol_by_key_args", ("key", NonnullString)), VolRet, _RO),
    (Proc.STORAGE_VOL_LOOKUP_BY_PATH, _s("vol_by_path_args", ("path", NonnullString)), VolRet, _RO),
    (Proc.STORAGE_VOL_CREATE_XML, _s("vol_create_args", _pool, _xml, _flags), VolRet, _RW),
    (Proc.STORAGE_VOL_DELETE, VolFlagsArgs, Void, _RW),
    (Proc.STORAGE_VOL_GET_INFO, VolArgs, _VolInfoRet, _RO),
    (Proc.STORAGE_VOL_GET_INFO_FLAGS, VolFlagsArgs, _VolInfoRet, _RO),
    (Proc.STORAGE_VOL_GET_XML_DESC, VolFlagsArgs, XmlRet, _RO),
    (Proc.STORAGE_VOL_GET_PATH, VolArgs, _s("vol_path_ret", ("name", NonnullString)), _RO),
]

PROCEDURES: dict[int, Procedure] = {p: Procedure(p, a, r, ro) for p, a, r, ro in _TABLE}

# Messages the daemon pushes (type MESSAGE).
LifecycleMsg = _s(
    "domain_event_callback_lifecycle_msg",
    ("callbackID", Int),
    ("msg", _s("domain_event_lifecycle_msg", _dom, ("event", Int), ("detail", Int))),
)

# virConnectSupportsFeature's private VIR_DRV_FEATURE_* numbers the remote client asks about.
FEATURE_REMOTE = 2
FEATURE_TYPED_PARAM_STRING = 9
FEATURE_PROGRAM_KEEPALIVE = 10
FEATURE_REMOTE_EVENT_CALLBACK = 14
FEATURE_REMOTE_CLOSE_CALLBACK = 15

EVENT_ID_LIFECYCLE = 0
