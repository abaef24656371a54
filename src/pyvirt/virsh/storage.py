"""Storage pools and volumes: pool-* and vol-*."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from pyvirt.client import virStoragePool, virStorageVol
from pyvirt.virsh.commands import Kind, Opt, command, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.errors import VirshError, call, failing
from pyvirt.virsh.output import fields, pretty_capacity, scaled_int
from pyvirt.virsh.progress import Progress
from pyvirt.virsh.states import pool_state_name, vol_type_name

POOL = group("pool", "Storage Pool")
VOLUME = group("volume", "Storage Volume")

POOLS_INACTIVE, POOLS_ACTIVE, POOLS_PERSISTENT, POOLS_TRANSIENT = 1, 2, 4, 8
POOLS_AUTOSTART, POOLS_NO_AUTOSTART = 16, 32
POOL_RUNNING = 2


def pool_opt(help: str = "pool name or uuid") -> Opt:
    return Opt("pool", Kind.DATA, help, required=True, completer="pool")


def yes_no(value: int) -> str:
    return "yes" if value else "no"


@command(
    "pool-list",
    POOL,
    "list pools",
    "Returns list of pools.",
    flag("inactive", "list inactive pools"),
    flag("all", "list inactive & active pools"),
    flag("transient", "list transient pools"),
    flag("persistent", "list persistent pools"),
    flag("autostart", "list pools with autostart enabled"),
    flag("no-autostart", "list pools with autostart disabled"),
    Opt("type", Kind.STRING, "only list pool of specified type(s) (if supported)"),
    flag("details", "display extended details for pools"),
    flag("uuid", "list UUID of active pools only"),
    flag("name", "list name of active pools only"),
    json=True,
)
def cmd_pool_list(ctl: Ctl, o: dict[str, Any]) -> None:
    if o["type"] is not None:
        raise VirshError("pool-list --type is not supported by pyvirsh")
    flags = POOLS_INACTIVE | POOLS_ACTIVE if o["all"] else 0
    flags |= POOLS_INACTIVE if o["inactive"] and not o["all"] else 0
    flags |= POOLS_ACTIVE if not (o["all"] or o["inactive"]) else 0
    for name, bit in [
        ("transient", POOLS_TRANSIENT),
        ("persistent", POOLS_PERSISTENT),
        ("autostart", POOLS_AUTOSTART),
        ("no-autostart", POOLS_NO_AUTOSTART),
    ]:
        flags |= bit if o[name] else 0
    with failing("Failed to list pools"):
        pools = sorted(ctl.conn.listAllStoragePools(flags), key=lambda p: p.name())
        infos = [p.info() for p in pools]
    if o["json"]:
        ctl.print_json([pool_json(p, i) for p, i in zip(pools, infos, strict=True)])
        return
    if o["name"] or o["uuid"]:
        for pool in pools:
            parts = [f"{pool.UUIDString():<36}"] if o["uuid"] else []
            parts += [f"{pool.name():<20}"] if o["name"] else []
            ctl.print(" ".join(parts))
        return
    if not o["details"]:
        rows = [
            [p.name(), "active" if i[0] == POOL_RUNNING else "inactive", yes_no(p.autostart())]
            for p, i in zip(pools, infos, strict=True)
        ]
        ctl.table(["Name", "State", "Autostart"], rows)
        return
    rows = []
    for pool, (state, capacity, allocation, available) in zip(pools, infos, strict=True):
        active = state == POOL_RUNNING
        sizes = [pretty_capacity(v) if active else "-" for v in (capacity, allocation, available)]
        rows.append(
            [
                pool.name(),
                pool_state_name(state),
                yes_no(pool.autostart()),
                yes_no(pool.isPersistent()),
                *sizes,
            ]
        )
    headers = ["Name", "State", "Autostart", "Persistent", "Capacity", "Allocation", "Available"]
    ctl.table(headers, rows)


def pool_json(pool: virStoragePool, info: list[int]) -> dict[str, Any]:
    state, capacity, allocation, available = info
    return {
        "name": pool.name(),
        "uuid": pool.UUIDString(),
        "state": pool_state_name(state),
        "autostart": bool(pool.autostart()),
        "persistent": bool(pool.isPersistent()),
        "capacity": capacity,
        "allocation": allocation,
        "available": available,
    }


@command(
    "pool-info",
    POOL,
    "storage pool information",
    "Returns basic information about the storage pool.",
    pool_opt(),
    flag("bytes", "Return pool info in bytes"),
    json=True,
)
def cmd_pool_info(ctl: Ctl, o: dict[str, Any]) -> None:
    pool = ctl.pool(o["pool"])
    info = call(pool.info)
    if o["json"]:
        ctl.print_json(pool_json(pool, info))
        return
    state, capacity, allocation, available = info
    rows: list[tuple[str, object]] = [
        ("Name", pool.name()),
        ("UUID", pool.UUIDString()),
        ("State", pool_state_name(state)),
        ("Persistent", yes_no(pool.isPersistent())),
        ("Autostart", yes_no(pool.autostart())),
    ]
    if state == POOL_RUNNING:
        size = str if o["bytes"] else pretty_capacity
        rows += [
            ("Capacity", size(capacity)),
            ("Allocation", size(allocation)),
            ("Available", size(available)),
        ]
    ctl.print(fields(rows))


@command(
    "pool-define-as",
    POOL,
    "define a pool from a set of args",
    "Define a pool.",
    Opt("name", Kind.DATA, "name of the pool", required=True),
    Opt("type", Kind.DATA, "type of the pool", required=True),
    flag("print-xml", "print XML document, but don't define the pool"),
    Opt("source-host", Kind.STRING, "source-host for underlying storage"),
    Opt("source-path", Kind.STRING, "source path for underlying storage"),
    Opt("source-dev", Kind.STRING, "source device for underlying storage"),
    Opt("source-name", Kind.STRING, "source name for underlying storage"),
    Opt("target", Kind.STRING, "target for underlying storage"),
)
def cmd_pool_define_as(ctl: Ctl, o: dict[str, Any]) -> None:
    source = ""
    if o["source-host"]:
        source += f"    <host name='{escape(o['source-host'])}'/>\n"
    if o["source-path"]:
        source += f"    <dir path='{escape(o['source-path'])}'/>\n"
    if o["source-dev"]:
        source += f"    <device path='{escape(o['source-dev'])}'/>\n"
    if o["source-name"]:
        source += f"    <name>{escape(o['source-name'])}</name>\n"
    xml = f"<pool type='{escape(o['type'])}'>\n  <name>{escape(o['name'])}</name>\n"
    if source:
        xml += f"  <source>\n{source}  </source>\n"
    if o["target"]:
        xml += f"  <target>\n    <path>{escape(o['target'])}</path>\n  </target>\n"
    xml += "</pool>\n"
    if o["print-xml"]:
        ctl.out.write(xml)
        return
    with failing(f"Failed to define pool {o['name']}"):
        pool = ctl.conn.storagePoolDefineXML(xml, 0)
    ctl.info(f"Pool {pool.name()} defined")


def pool_action(name: str, summary: str, done: str, failed: str, method: str) -> None:
    """A command that does one thing to a pool: `Pool x <done>`."""

    def handler(ctl: Ctl, o: dict[str, Any]) -> None:
        pool = ctl.pool(o["pool"])
        with failing(f"Failed to {failed} pool {pool.name()}"):
            getattr(pool, method)()
        ctl.info(f"Pool {pool.name()} {done}")

    command(name, POOL, summary, summary + ".", pool_opt())(handler)


pool_action(
    "pool-start", "start a (previously defined) inactive pool", "started", "start", "create"
)
pool_action("pool-destroy", "destroy (stop) a pool", "destroyed", "destroy", "destroy")
pool_action(
    "pool-undefine", "undefine an inactive pool", "has been undefined", "undefine", "undefine"
)


@command(
    "pool-autostart",
    POOL,
    "autostart a pool",
    "Configure a pool to be automatically started at boot.",
    pool_opt(),
    flag("disable", "disable autostarting"),
)
def cmd_pool_autostart(ctl: Ctl, o: dict[str, Any]) -> None:
    pool = ctl.pool(o["pool"])
    verb = "unmark" if o["disable"] else "mark"
    with failing(f"failed to {verb} pool {pool.name()} as autostarted"):
        pool.setAutostart(0 if o["disable"] else 1)
    ctl.info(f"Pool {pool.name()} {verb}ed as autostarted")


@command(
    "pool-dumpxml",
    POOL,
    "pool information in XML",
    "Output the pool information as an XML dump to stdout.",
    pool_opt(),
    flag("inactive", "show inactive defined XML"),
)
def cmd_pool_dumpxml(ctl: Ctl, o: dict[str, Any]) -> None:
    pool = ctl.pool(o["pool"])
    ctl.out.write(call(lambda: pool.XMLDesc(1 if o["inactive"] else 0)))


# --- volumes


def vol_opt() -> Opt:
    return Opt("vol", Kind.DATA, "vol name, key or path", required=True)


_POOL_NAMED = Opt("pool", Kind.STRING, "pool name or uuid", completer="pool")


@command(
    "vol-list",
    VOLUME,
    "list vols",
    "Returns list of vols by pool.",
    pool_opt(),
    flag("details", "display extended details for volumes"),
    json=True,
)
def cmd_vol_list(ctl: Ctl, o: dict[str, Any]) -> None:
    pool = ctl.pool(o["pool"])
    with failing("Failed to list volumes"):
        vols = sorted(pool.listAllVolumes(0), key=lambda v: v.name())
        details = [(v.path(), v.info()) for v in vols]
    if o["json"]:
        ctl.print_json([vol_json(v, p, i) for v, (p, i) in zip(vols, details, strict=True)])
        return
    if not o["details"]:
        rows = [[v.name(), path] for v, (path, _) in zip(vols, details, strict=True)]
        ctl.table(["Name", "Path"], rows)
        return
    rows = [
        [v.name(), path, vol_type_name(kind), pretty_capacity(cap), pretty_capacity(alloc)]
        for v, (path, (kind, cap, alloc)) in zip(vols, details, strict=True)
    ]
    ctl.table(["Name", "Path", "Type", "Capacity", "Allocation"], rows)


def vol_json(vol: virStorageVol, path: str, info: list[int]) -> dict[str, Any]:
    kind, capacity, allocation = info
    return {
        "name": vol.name(),
        "path": path,
        "type": vol_type_name(kind),
        "capacity": capacity,
        "allocation": allocation,
    }


def size_arg(text: str) -> int:
    try:
        return scaled_int(text, "b")
    except ValueError as e:
        raise VirshError(f"Malformed size {text}", *filter(None, [str(e)])) from None


@command(
    "vol-create-as",
    VOLUME,
    "create a volume from a set of args",
    "Create a vol.",
    pool_opt("pool name"),
    Opt("name", Kind.DATA, "name of the volume", required=True),
    Opt("capacity", Kind.DATA, "size of the vol, as scaled integer (default bytes)", required=True),
    Opt("allocation", Kind.STRING, "initial allocation size, as scaled integer (default bytes)"),
    Opt("format", Kind.STRING, "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
    flag("print-xml", "print XML document, but don't define/create"),
)
def cmd_vol_create_as(ctl: Ctl, o: dict[str, Any]) -> None:
    pool = ctl.pool(o["pool"])
    xml = f"<volume>\n  <name>{escape(o['name'])}</name>\n"
    xml += f"  <capacity>{size_arg(o['capacity'])}</capacity>\n"
    if o["allocation"] is not None:
        xml += f"  <allocation>{size_arg(o['allocation'])}</allocation>\n"
    if o["format"]:
        xml += f"  <target>\n    <format type='{escape(o['format'])}'/>\n  </target>\n"
    xml += "</volume>\n"
    if o["print-xml"]:
        ctl.out.write(xml)
        return
    with failing(f"Failed to create vol {o['name']}"):
        Progress.run("Creating", False, lambda: pool.createXML(xml, 0))
    ctl.info(f"Vol {o['name']} created")


@command(
    "vol-delete",
    VOLUME,
    "delete a vol",
    "Delete a given vol.",
    vol_opt(),
    _POOL_NAMED,
)
def cmd_vol_delete(ctl: Ctl, o: dict[str, Any]) -> None:
    vol = ctl.volume(o["vol"], o["pool"])
    with failing(f"Failed to delete vol {o['vol']}"):
        vol.delete(0)
    ctl.info(f"Vol {o['vol']} deleted")


@command(
    "vol-info",
    VOLUME,
    "storage vol information",
    "Returns basic information about the storage vol.",
    vol_opt(),
    _POOL_NAMED,
    flag("bytes", "sizes are represented in bytes rather than pretty units"),
    json=True,
)
def cmd_vol_info(ctl: Ctl, o: dict[str, Any]) -> None:
    vol = ctl.volume(o["vol"], o["pool"])
    info = call(vol.info)
    if o["json"]:
        ctl.print_json(vol_json(vol, vol.path(), info))
        return
    kind, capacity, allocation = info
    size = str if o["bytes"] else pretty_capacity
    ctl.print(
        fields(
            [
                ("Name", vol.name()),
                ("Type", vol_type_name(kind)),
                ("Capacity", size(capacity)),
                ("Allocation", size(allocation)),
            ]
        )
    )


@command(
    "vol-path",
    VOLUME,
    "returns the volume path for a given volume name or key",
    "",
    Opt("vol", Kind.DATA, "volume name or key", required=True),
    _POOL_NAMED,
)
def cmd_vol_path(ctl: Ctl, o: dict[str, Any]) -> None:
    vol = ctl.volume(o["vol"], o["pool"])
    ctl.print(call(vol.path))
