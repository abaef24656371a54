"""A domain's disks and interfaces, and their statistics: domblklist, domiflist,
domblkstat, domifstat."""

from __future__ import annotations

from typing import Any

from lxml import etree

from pyvirt.virsh.commands import Kind, Opt, command, domain_opt, flag
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.domain import MONITOR
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virsh.output import table
from pyvirt.virterror import ErrorCode, VirtError

XML_INACTIVE = 2

# virsh's domblkstat table: typed parameter, legacy name (None: the parameter's), --human text
_BLKSTAT = [
    ("rd_operations", "rd_req", "number of read operations:"),
    ("rd_bytes", "rd_bytes", "number of bytes read:"),
    ("wr_operations", "wr_req", "number of write operations:"),
    ("wr_bytes", "wr_bytes", "number of bytes written:"),
    ("errs", "errs", "error count:"),
    ("flush_operations", None, "number of flush operations:"),
    ("rd_total_times", None, "total duration of reads (ns):"),
    ("wr_total_times", None, "total duration of writes (ns):"),
    ("flush_total_times", None, "total duration of flushes (ns):"),
]
_IFSTAT = ["rx_bytes", "rx_packets", "rx_errs", "rx_drop",
           "tx_bytes", "tx_packets", "tx_errs", "tx_drop"]  # fmt: skip


def _devices(ctl: Ctl, o: dict[str, Any], kind: str) -> list[etree._Element]:
    dom = ctl.domain(o["domain"])
    xml = call(lambda: dom.XMLDesc(XML_INACTIVE if o["inactive"] else 0))
    return etree.fromstring(xml.encode()).findall(f"devices/{kind}")


def _source(elem: etree._Element) -> str:
    source = elem.find("source")
    if source is None:
        return "-"
    for attr in ("file", "dev", "dir", "name", "network", "bridge", "volume"):
        if source.get(attr):
            return source.get(attr, "-")
    return "-"


@command(
    "domblklist",
    MONITOR,
    "list all domain blocks",
    "Get the summary of block devices for a domain.",
    domain_opt(),
    flag("inactive", "get inactive rather than running configuration"),
    flag("details", "additionally display the type and device value"),
)
def cmd_domblklist(ctl: Ctl, o: dict[str, Any]) -> None:
    rows = []
    for disk in _devices(ctl, o, "disk"):
        target = disk.find("target")
        row = [target.get("dev", "-") if target is not None else "-", _source(disk)]
        if o["details"]:
            row = [disk.get("type", "-"), disk.get("device", "disk"), *row]
        rows.append(row)
    headers = ["Type", "Device", "Target", "Source"] if o["details"] else ["Target", "Source"]
    ctl.print(table(headers, rows))


@command(
    "domiflist",
    MONITOR,
    "list all domain virtual interfaces",
    "Get the summary of virtual interfaces for a domain.",
    domain_opt(),
    flag("inactive", "get inactive rather than running configuration"),
)
def cmd_domiflist(ctl: Ctl, o: dict[str, Any]) -> None:
    rows = []
    for iface in _devices(ctl, o, "interface"):
        target, model, mac = iface.find("target"), iface.find("model"), iface.find("mac")
        rows.append([
            target.get("dev", "-") if target is not None else "-",
            iface.get("type", "-"),
            _source(iface),
            model.get("type", "-") if model is not None else "-",
            mac.get("address", "-") if mac is not None else "-",
        ])  # fmt: skip
    ctl.print(table(["Interface", "Type", "Source", "Model", "MAC"], rows))


@command(
    "domblkstat",
    MONITOR,
    "get device block stats for a domain",
    "Get device block stats for a running domain. See man page or use --human for "
    "explanation of fields",
    domain_opt(),
    Opt("device", Kind.STRING, "block device"),
    flag("human", "print a more human readable output"),
)
def cmd_domblkstat(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    device, human = o["device"] or "", o["human"]
    try:
        params = dom.blockStatsFlags(device)
    except VirtError as e:
        if e.get_error_code() != ErrorCode.NO_SUPPORT:
            raise VirshError(e.get_error_message()) from e
        with failing(f"Failed to get block stats {dom.name()} {device}"):
            legacy = dom.blockStats(device)
        params = {field: v for (field, _, _), v in zip(_BLKSTAT, legacy, strict=False) if v >= 0}
    if human:
        ctl.out.write(f"Device: {device}\n")
        device = ""
    width = 31 if human else 0
    for field, legacy_name, human_name in _BLKSTAT:
        if field in params:
            name = human_name if human else legacy_name or field
            ctl.out.write(f"{device} {name:<{width}} {params.pop(field)}\n")
    for field, value in params.items():  # any the table does not know
        ctl.out.write(f"{device} {field} {value}\n")


@command(
    "domifstat",
    MONITOR,
    "get network interface stats for a domain",
    "Get network interface stats for a running domain.",
    domain_opt(),
    Opt("interface", Kind.DATA, "interface device specified by name or MAC Address", True),
)
def cmd_domifstat(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    device = o["interface"]
    with failing(f"Failed to get interface stats {dom.name()} {device}"):
        stats = dom.interfaceStats(device)
    for name, value in zip(_IFSTAT, stats, strict=True):
        if value >= 0:
            ctl.out.write(f"{device} {name} {value}\n")
