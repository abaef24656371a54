"""The host and the connection: nodeinfo, capabilities, version, uri, hostname, connect,
net-list."""

from __future__ import annotations

from typing import Any

from pyvirt.virsh.commands import Kind, Opt, command, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virsh.output import fields

HOST = group("host", "Host and Hypervisor")
NETWORK = group("network", "Networking")


@command(
    "nodeinfo",
    HOST,
    "node information",
    "Returns basic information about the node.",
    json=True,
)
def cmd_nodeinfo(ctl: Ctl, o: dict[str, Any]) -> None:
    with failing("failed to get node information"):
        n = ctl.conn.nodeInfo()
    if o["json"]:
        ctl.print_json({**n, "memory_kib": n.pop("memory")})
        return
    rows: list[tuple[str, object]] = [
        ("CPU model", n["model"]),
        ("CPU(s)", n["cpus"]),
        ("CPU frequency", f"{n['mhz']} MHz"),
        ("CPU socket(s)", n["sockets"]),
        ("Core(s) per socket", n["cores"]),
        ("Thread(s) per core", n["threads"]),
        ("NUMA cell(s)", n["nodes"]),
        ("Memory size", f"{n['memory']} KiB"),
    ]
    ctl.print(fields(rows, key_width=20))


@command(
    "capabilities",
    HOST,
    "capabilities",
    "Returns capabilities of hypervisor/driver.",
    flag("xpath", "extract data using the given XPath query (unsupported)"),
)
def cmd_capabilities(ctl: Ctl, o: dict[str, Any]) -> None:
    if o["xpath"]:
        raise VirshError("capabilities --xpath is not supported by pyvirsh")
    with failing("failed to get capabilities"):
        ctl.print(ctl.conn.getCapabilities())


def version_text(v: int) -> str:
    return f"{v // 1_000_000}.{v // 1000 % 1000}.{v % 1000}"


@command(
    "version",
    HOST,
    "show version",
    "Display the system version information.",
    flag("daemon", "report daemon version too"),
    json=True,
)
def cmd_version(ctl: Ctl, o: dict[str, Any]) -> None:
    conn = ctl.conn
    lib = version_text(call(conn.getLibVersion))
    kind = call(conn.getType)
    hv = version_text(call(conn.getVersion))
    if o["json"]:
        ctl.print_json({"library": lib, "api": kind, "hypervisor": hv})
        return
    ctl.print(f"Compiled against library: libvirt {lib}")
    ctl.print(f"Using library: libvirt {lib}")
    ctl.print(f"Using API: {kind} {lib}")
    ctl.print(f"Running hypervisor: {kind} {hv}")
    if o["daemon"]:
        ctl.print(f"Running against daemon: {lib}")


@command("uri", HOST, "print the hypervisor canonical URI", "")
def cmd_uri(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.print(call(ctl.conn.getURI))


@command("hostname", HOST, "print the hypervisor hostname", "")
def cmd_hostname(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.print(call(ctl.conn.getHostname))


@command(
    "connect",
    HOST,
    "(re)connect to hypervisor",
    "Connect to local hypervisor. This is built-in command after shell start up.",
    Opt("name", Kind.DATA, "hypervisor connection URI"),
    flag("readonly", "read-only connection"),
)
def cmd_connect(ctl: Ctl, o: dict[str, Any]) -> None:
    ctl.connect(o["name"] or ctl.uri, o["readonly"])


NETS_INACTIVE, NETS_ACTIVE, NETS_PERSISTENT, NETS_TRANSIENT = 1, 2, 4, 8
NETS_AUTOSTART, NETS_NO_AUTOSTART = 16, 32
NET_FILTERS = [("persistent", NETS_PERSISTENT), ("transient", NETS_TRANSIENT),
               ("autostart", NETS_AUTOSTART), ("no-autostart", NETS_NO_AUTOSTART)]  # fmt: skip


@command(
    "net-list",
    NETWORK,
    "list networks",
    "Returns list of networks.",
    flag("inactive", "list inactive networks"),
    flag("all", "list inactive & active networks"),
    flag("persistent", "list persistent networks"),
    flag("transient", "list transient networks"),
    flag("autostart", "list networks with autostart enabled"),
    flag("no-autostart", "list networks with autostart disabled"),
    flag("uuid", "list uuid's only"),
    flag("name", "list network names only"),
    flag("table", "list table (default)"),
)
def cmd_net_list(ctl: Ctl, o: dict[str, Any]) -> None:
    if o["table"] + o["name"] + o["uuid"] > 1:
        raise VirshError("Only one argument from --table, --name and --uuid may be specified.")
    flags = NETS_INACTIVE | NETS_ACTIVE if o["all"] else 0
    flags |= NETS_INACTIVE if o["inactive"] and not o["all"] else 0
    flags |= NETS_ACTIVE if not (o["all"] or o["inactive"]) else 0
    for name, bit in NET_FILTERS:
        flags |= bit if o[name] else 0
    with failing("Failed to list networks"):
        nets = sorted(ctl.conn.listAllNetworks(flags), key=lambda n: n.name())
        if o["name"] or o["uuid"]:
            for net in nets:
                ctl.print(net.name() if o["name"] else net.UUIDString())
            return
        rows = [
            [net.name(), "active" if net.isActive() else "inactive",
             "yes" if net.autostart() else "no", "yes" if net.isPersistent() else "no"]
            for net in nets
        ]  # fmt: skip
    ctl.table(["Name", "State", "Autostart", "Persistent"], rows)
