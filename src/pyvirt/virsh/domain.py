"""Domain management: list, dominfo, domstate, the id/name/uuid lookups, XML, define, undefine,
autostart, setmem, setvcpus."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import etree

from pyvirt.client import virDomain
from pyvirt.drivers import list_flags as lf
from pyvirt.virsh.commands import Kind, Opt, command, domain_opt, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virsh.output import fields, scaled_int
from pyvirt.virsh.states import reason_name, state_name
from pyvirt.virterror import VirtError

DOMAIN = group("domain", "Domain Management")
MONITOR = group("monitor", "Domain Monitoring")

XML_SECURE, XML_INACTIVE, XML_UPDATE_CPU, XML_MIGRATABLE = 1, 2, 4, 8
AFFECT_LIVE, AFFECT_CONFIG = 1, 2
VCPU_MAXIMUM = 4

_LIST_FILTERS = [
    ("transient", lf.TRANSIENT),
    ("persistent", lf.PERSISTENT),
    ("with-snapshot", lf.HAS_SNAPSHOT),
    ("without-snapshot", lf.NO_SNAPSHOT),
    ("with-checkpoint", lf.HAS_CHECKPOINT),
    ("without-checkpoint", lf.NO_CHECKPOINT),
    ("state-running", lf.RUNNING),
    ("state-paused", lf.PAUSED),
    ("state-shutoff", lf.SHUTOFF),
    ("state-other", lf.OTHER),
    ("autostart", lf.AUTOSTART),
    ("no-autostart", lf.NO_AUTOSTART),
    ("with-managed-save", lf.MANAGEDSAVE),
    ("without-managed-save", lf.NO_MANAGEDSAVE),
]


def read_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise VirshError(f"Failed to open file '{path}': {e.strerror}") from e


def domain_id(dom: virDomain) -> str:
    return "-" if dom.ID() < 0 else str(dom.ID())


def sorted_domains(doms: list[virDomain]) -> list[virDomain]:
    """virsh's order: running domains by id, then the inactive ones by name."""
    return sorted(doms, key=lambda d: (d.ID() < 0, d.ID(), d.name()))


@command(
    "list",
    DOMAIN,
    "list domains",
    "Returns list of domains.",
    flag("inactive", "list inactive domains"),
    flag("all", "list inactive & active domains"),
    *(
        flag(name, text)
        for name, text in [
            ("transient", "list transient domains"),
            ("persistent", "list persistent domains"),
            ("with-snapshot", "list domains with existing snapshot"),
            ("without-snapshot", "list domains without a snapshot"),
            ("with-checkpoint", "list domains with existing checkpoint"),
            ("without-checkpoint", "list domains without a checkpoint"),
            ("state-running", "list domains in running state"),
            ("state-paused", "list domains in paused state"),
            ("state-shutoff", "list domains in shutoff state"),
            ("state-other", "list domains in other states"),
            ("autostart", "list domains with autostart enabled"),
            ("no-autostart", "list domains with autostart disabled"),
            ("with-managed-save", "list domains with managed save state"),
            ("without-managed-save", "list domains without managed save"),
            ("uuid", "list uuid's only"),
            ("name", "list domain names only"),
            ("id", "list domain IDs only"),
            ("table", "list table (default)"),
            ("managed-save", "mark inactive domains with managed save state"),
            ("title", "show domain title"),
        ]
    ),
    json=True,
)
def cmd_list(ctl: Ctl, o: dict[str, Any]) -> None:
    flags = 0
    if o["all"]:
        flags |= lf.ACTIVE | lf.INACTIVE
    elif o["inactive"]:
        flags |= lf.INACTIVE
    else:
        flags |= lf.ACTIVE
    for name, bit in _LIST_FILTERS:
        if o[name]:
            flags |= bit
    for layout in ("table", "json"):
        if o[layout] and (o["name"] or o["uuid"] or o["id"]):
            raise VirshError(f"Options --{layout} and --name/--uuid/--id are mutually exclusive")
    with failing("Failed to list domains"):
        doms = sorted_domains(ctl.conn.listAllDomains(flags))
        states = [dom.state()[0] for dom in doms]
    if o["json"]:
        ctl.print_json(
            [
                {
                    "id": d.ID() if d.ID() >= 0 else None,
                    "name": d.name(),
                    "uuid": d.UUIDString(),
                    "state": state_name(s),
                }
                for d, s in zip(doms, states, strict=True)
            ]
        )
        return
    if o["name"] or o["uuid"] or o["id"]:
        for dom in doms:
            if o["id"] and not (o["name"] or o["uuid"]) and dom.ID() < 0:
                continue
            parts = [dom.UUIDString()] if o["uuid"] else []
            parts += [domain_id(dom)] if o["id"] else []
            parts += [dom.name()] if o["name"] else []
            ctl.print(" ".join(parts))
        return
    headers = ["Id", "Name", "State"] + (["Title"] if o["title"] else [])
    rows = []
    for dom, state in zip(doms, states, strict=True):
        row = [domain_id(dom), dom.name(), state_name(state)]
        if o["title"]:
            row.append(etree.fromstring(dom.XMLDesc(0).encode()).findtext("title") or "")
        rows.append(row)
    ctl.table(headers, rows)


@command(
    "dominfo",
    DOMAIN,
    "domain information",
    "Returns basic information about the domain.",
    domain_opt(),
    json=True,
)
def cmd_dominfo(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    state, max_mem, mem, vcpus, cpu_time = call(dom.info)
    os_type = call(dom.OSType)
    persistent, autostart = dom.isPersistent(), dom.autostart()
    managed = dom.hasManagedSaveImage(0)
    if o["json"]:
        ctl.print_json(
            {
                "id": dom.ID() if dom.ID() >= 0 else None,
                "name": dom.name(),
                "uuid": dom.UUIDString(),
                "os_type": os_type,
                "state": state_name(state),
                "vcpus": vcpus,
                "cpu_time_ns": cpu_time,
                "max_memory_kib": max_mem,
                "memory_kib": mem,
                "persistent": bool(persistent),
                "autostart": bool(autostart),
                "managed_save": bool(managed),
            }
        )
        return
    rows: list[tuple[str, object]] = [
        ("Id", domain_id(dom)),
        ("Name", dom.name()),
        ("UUID", dom.UUIDString()),
        ("OS Type", os_type),
        ("State", state_name(state)),
        ("CPU(s)", vcpus),
    ]
    if cpu_time:
        rows.append(("CPU time", f"{cpu_time / 1e9:.1f}s"))
    rows += [
        ("Max memory", f"{max_mem} KiB" if max_mem != 0xFFFFFFFF else "no limit"),
        ("Used memory", f"{mem} KiB"),
        ("Persistent", "yes" if persistent else "no"),
        ("Autostart", "enable" if autostart else "disable"),
        ("Managed save", "yes" if managed else "no"),
    ]
    model, doi = call(ctl.conn.getSecurityModel)
    if model:
        rows += [("Security model", model), ("Security DOI", doi)]
        label, enforcing = call(dom.securityLabel)
        if label:
            rows.append(
                ("Security label", f"{label} ({'enforcing' if enforcing else 'permissive'})")
            )
    ctl.print(fields(rows))


@command(
    "domstate",
    DOMAIN,
    "domain state",
    "Returns state about a domain.",
    domain_opt(),
    flag("reason", "also print reason for the state"),
    json=True,
)
def cmd_domstate(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    state, reason = call(lambda: dom.state(0))
    if o["json"]:
        ctl.print_json({"state": state_name(state), "reason": reason_name(state, reason)})
    elif o["reason"]:
        ctl.print(f"{state_name(state)} ({reason_name(state, reason)})")
    else:
        ctl.print(state_name(state))


@command(
    "domid",
    DOMAIN,
    "convert a domain name or UUID to domain id",
    "",
    domain_opt("domain name or uuid"),
)
def cmd_domid(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.print(domain_id(ctl.domain(o["domain"])))


@command(
    "domname",
    DOMAIN,
    "convert a domain id or UUID to domain name",
    "",
    domain_opt("domain id or uuid"),
)
def cmd_domname(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.print(ctl.domain(o["domain"]).name())


@command(
    "domuuid",
    DOMAIN,
    "convert a domain name or id to domain UUID",
    "",
    domain_opt("domain id or name"),
)
def cmd_domuuid(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.print(ctl.domain(o["domain"]).UUIDString())


@command(
    "dumpxml",
    DOMAIN,
    "domain information in XML",
    "Output the domain information as an XML dump to stdout.",
    domain_opt(),
    flag("inactive", "show inactive defined XML"),
    flag("security-info", "include security sensitive information in XML dump"),
    flag("update-cpu", "update guest CPU according to host CPU"),
    flag("migratable", "provide XML suitable for migrations"),
)
def cmd_dumpxml(ctl: Ctl, o: dict[str, Any]) -> None:
    flags = (
        (XML_INACTIVE if o["inactive"] else 0)
        | (XML_SECURE if o["security-info"] else 0)
        | (XML_UPDATE_CPU if o["update-cpu"] else 0)
        | (XML_MIGRATABLE if o["migratable"] else 0)
    )
    dom = ctl.domain(o["domain"])
    ctl.out.write(call(lambda: dom.XMLDesc(flags)))


FILE_OPT = Opt("file", Kind.DATA, "file containing an XML domain description", required=True)


@command(
    "define",
    DOMAIN,
    "define (but don't start) a domain from an XML file",
    "Define a domain.",
    FILE_OPT,
    flag("validate", "validate the XML against the schema"),
)
def cmd_define(ctl: Ctl, o: dict[str, Any]) -> None:
    xml = read_file(o["file"])
    with failing(f"Failed to define domain from {o['file']}"):
        dom = ctl.conn.defineXMLFlags(xml, 1 if o["validate"] else 0)
    ctl.info(f"Domain '{dom.name()}' defined from {o['file']}")


def storage_paths(dom: virDomain) -> list[tuple[str, str]]:
    """(target dev, source path) of a domain's file and volume disks."""
    doc = etree.fromstring(dom.XMLDesc(XML_INACTIVE).encode())
    disks = []
    for disk in doc.iterfind("devices/disk"):
        source = disk.find("source")
        target = disk.find("target")
        if source is not None and source.get("file") and disk.get("device", "disk") == "disk":
            disks.append((target.get("dev", "") if target is not None else "", source.get("file")))
    return disks


@command(
    "undefine",
    DOMAIN,
    "undefine a domain",
    "Undefine an inactive domain, or convert persistent to transient.",
    domain_opt(),
    flag("managed-save", "remove domain managed state file"),
    Opt(
        "storage",
        Kind.STRING,
        "remove associated storage volumes (comma separated list of "
        "targets or source paths) (see domblklist)",
    ),
    flag("remove-all-storage", "remove all associated storage volumes (use with caution)"),
    flag("snapshots-metadata", "remove all domain snapshot metadata, if inactive"),
    flag("nvram", "remove nvram file"),
    flag("keep-nvram", "keep nvram file"),
)
def cmd_undefine(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    name = dom.name()
    wanted = set((o["storage"] or "").split(",")) - {""}
    disks = [
        (target, path)
        for target, path in (storage_paths(dom) if o["remove-all-storage"] or wanted else [])
        if o["remove-all-storage"] or target in wanted or path in wanted
    ]
    flags = (
        (1 if o["managed-save"] else 0)
        | (2 if o["snapshots-metadata"] else 0)
        | (4 if o["nvram"] else 0)
        | (8 if o["keep-nvram"] else 0)
    )
    with failing(f"Failed to undefine domain '{name}'"):
        dom.undefineFlags(flags) if flags else dom.undefine()
    ctl.info(f"Domain '{name}' has been undefined")
    for target, path in disks:
        try:
            ctl.conn.storageVolLookupByPath(path).delete(0)
        except VirtError as e:
            ctl.log(2, e.get_error_message())
            raise VirshError(
                f"Storage volume '{target}'({path}) is not managed by libvirt. Remove it manually."
            ) from e
        ctl.info(f"Volume '{target}'({path}) removed.")


@command(
    "autostart",
    DOMAIN,
    "autostart a domain",
    "Configure a domain to be automatically started at boot.",
    domain_opt(),
    flag("disable", "disable autostarting"),
)
def cmd_autostart(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    name = dom.name()
    if o["disable"]:
        with failing(f"Failed to unmark domain '{name}' as autostarted"):
            dom.setAutostart(0)
        ctl.info(f"Domain '{name}' unmarked as autostarted")
    else:
        with failing(f"Failed to mark domain '{name}' as autostarted"):
            dom.setAutostart(1)
        ctl.info(f"Domain '{name}' marked as autostarted")


_AFFECT = (
    flag("config", "affect next boot"),
    flag("live", "affect running domain"),
    flag("current", "affect current domain"),
)


def affect_flags(o: dict[str, Any]) -> int:
    if o["current"] and (o["live"] or o["config"]):
        raise VirshError("Options --current and --live are mutually exclusive")
    return (AFFECT_CONFIG if o["config"] else 0) | (AFFECT_LIVE if o["live"] else 0)


@command(
    "setmem",
    DOMAIN,
    "change memory allocation",
    "Change the current memory allocation in the guest domain.",
    domain_opt(),
    Opt("size", Kind.SCALED, "new memory size, as scaled integer (default KiB)", required=True),
    *_AFFECT,
)
def cmd_setmem(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    try:
        kib = scaled_int(o["size"], "KiB") // 1024
    except ValueError:
        raise VirshError("Invalid value of {} for memory size".format(o["size"])) from None
    flags = affect_flags(o)
    call(lambda: dom.setMemoryFlags(kib, flags))


@command(
    "setvcpus",
    DOMAIN,
    "change number of virtual CPUs",
    "Change the number of virtual CPUs in the guest domain.",
    domain_opt(),
    Opt("count", Kind.INT, "number of virtual CPUs", required=True),
    flag("maximum", "set maximum limit on next boot"),
    *_AFFECT,
    flag("guest", "modify cpu state in the guest"),
    flag("hotpluggable", "make added vcpus hot(un)pluggable"),
)
def cmd_setvcpus(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    flags = affect_flags(o) | (VCPU_MAXIMUM if o["maximum"] else 0)
    call(lambda: dom.setVcpusFlags(o["count"], flags))
