"""--disk: existing images, new volumes in a named pool (`pool=..,size=..`), and new images at a
path (`path=..,size=..`) created in the pool that holds that directory, as virt-install does
(defining a pool for the directory when none holds it)."""

from __future__ import annotations

import os
from pathlib import Path

from lxml import etree

from pyvirt.client import virConnect, virStoragePool
from pyvirt.install.domain_xml import DiskSpec
from pyvirt.install.errors import InstallError
from pyvirt.install.suboptions import number, parse
from pyvirt.virsh.progress import Progress
from pyvirt.virterror import VirtError

KEYS = {"path", "pool", "size", "format", "bus", "device"}
BUSES = {"virtio", "sata", "scsi", "ide", "usb"}
GIB = 1024**3


def pool_target(pool: virStoragePool) -> str:
    return etree.fromstring(pool.XMLDesc(0).encode()).findtext("target/path") or ""


def pool_for_dir(conn: virConnect, directory: str) -> virStoragePool:
    """The pool whose target is `directory`, or a new dir pool for it."""
    for pool in conn.listAllStoragePools(0):
        if os.path.normpath(pool_target(pool)) == os.path.normpath(directory):
            return pool
    taken = {p.name() for p in conn.listAllStoragePools(0)}
    base = Path(directory).name or "root"
    name = next(n for n in [base, *(f"{base}-{i}" for i in range(1, 100))] if n not in taken)
    pool = conn.storagePoolDefineXML(
        f"<pool type='dir'><name>{name}</name><target><path>{directory}</path></target></pool>"
    )
    pool.create(0)
    pool.setAutostart(1)
    return pool


def detect_format(path: str) -> str:
    try:
        with open(path, "rb") as f:
            return "qcow2" if f.read(4) == b"QFI\xfb" else "raw"
    except OSError:
        return "raw"


def create_volume(pool: virStoragePool, name: str, size_gib: float, fmt: str) -> str:
    capacity = int(size_gib * GIB)
    xml = (
        f"<volume><name>{name}</name><capacity>{capacity}</capacity>"
        f"<target><format type='{fmt}'/></target></volume>"
    )
    print(f"Allocating '{name}'")
    vol = Progress.run(f"Allocating '{name}'", False, lambda: pool.createXML(xml, 0))
    return vol.path()


def resolve(conn: virConnect, text: str, vm_name: str, index: int, dry_run: bool) -> DiskSpec:
    opts = parse("disk", text, "path", KEYS)
    bus = opts.get("bus", "virtio")
    if bus not in BUSES:
        raise InstallError(f"Unknown disk bus '{bus}'")
    device = opts.get("device", "disk")
    if device not in ("disk", "cdrom"):
        raise InstallError(f"--disk device={device} is not supported (disk, cdrom)")
    size = number("disk", "size", opts["size"]) if "size" in opts else None
    try:
        if "pool" in opts:
            fmt = opts.get("format", "qcow2")
            if size is None:
                raise InstallError("Size must be specified for non existent volumes")
            pool = conn.storagePoolLookupByName(opts["pool"])
            name = f"{vm_name}{'' if index == 0 else f'-{index}'}.{fmt}"
            path = (
                os.path.join(pool_target(pool), name)
                if dry_run
                else create_volume(pool, name, size, fmt)
            )
            return DiskSpec(path, fmt, bus, device)
        if "path" not in opts:
            raise InstallError("--disk needs path= or pool=")
        path = os.path.abspath(opts["path"])
        if os.path.exists(path) or size is None:
            if not os.path.exists(path) and device == "disk":
                raise InstallError(f"Size must be specified for non existent volume '{path}'")
            return DiskSpec(path, opts.get("format") or detect_format(path), bus, device)
        fmt = opts.get("format", "qcow2")
        if not dry_run:
            pool = pool_for_dir(conn, os.path.dirname(path))
            path = create_volume(pool, os.path.basename(path), size, fmt)
        return DiskSpec(path, fmt, bus, device)
    except VirtError as e:
        raise InstallError(e.get_error_message()) from e
