"""libvirt storage pool XML (dir pools) and volume XML (file volumes, raw or qcow2)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pyvirt.domain import ids
from pyvirt.domain.reader import Node, parse_root
from pyvirt.domain.units import scaled_bytes
from pyvirt.domain.xmlout import E
from pyvirt.virterror import ErrorDomain

POOL_TYPES = ("dir", "fs", "netfs", "logical", "disk", "iscsi", "iscsi-direct", "scsi",
              "mpath", "rbd", "sheepdog", "gluster", "zfs", "vstorage")  # fmt: skip
VOL_FORMATS = ("raw", "qcow2", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat",
               "vhd", "ploop", "cow", "qcow", "qed", "vmdk")  # fmt: skip
STORAGE = ErrorDomain.STORAGE


@dataclass
class PoolDef:
    name: str
    uuid: uuid.UUID
    path: str


@dataclass
class PoolSizes:
    capacity: int
    allocation: int
    available: int


def parse_pool(xml: str) -> PoolDef:
    reader = parse_root(xml, "pool", STORAGE)
    root = reader.root
    root.choice("type", ["dir"], POOL_TYPES)
    name = root.child_text("name")
    if not name or "/" in name:
        raise root.error(f"invalid pool name '{name or ''}'")
    uuid_text = root.child_text("uuid")
    for runtime in ("capacity", "allocation", "available"):
        node = root.child(runtime)
        if node is not None:
            node.attr("unit")  # what a previous dump reported, not configuration
    root.child("source")  # empty for a dir pool: reader.finish() refuses anything inside
    target = root.child("target")
    path = None if target is None else target.child_text("path")
    if not path or not path.startswith("/"):
        raise root.error("a dir pool needs an absolute <target><path>")
    reader.finish()
    pool_uuid = ids.new_uuid() if uuid_text is None else ids.parse_uuid(uuid_text, STORAGE)
    return PoolDef(name=name, uuid=pool_uuid, path=path.rstrip("/") or "/")


def pool_xml(pool: PoolDef, sizes: PoolSizes) -> str:
    return E(
        "pool",
        E("name", text=pool.name),
        E("uuid", text=str(pool.uuid)),
        E("capacity", text=str(sizes.capacity), unit="bytes"),
        E("allocation", text=str(sizes.allocation), unit="bytes"),
        E("available", text=str(sizes.available), unit="bytes"),
        E("source"),
        E("target", E("path", text=pool.path)),
        type_="dir",
    ).to_string()


@dataclass
class VolumeDef:
    name: str
    capacity: int  # bytes; 0 with a backing store: the backing file's size
    format: str = "raw"
    backing_path: str | None = None
    backing_format: str | None = None


def parse_volume(xml: str) -> VolumeDef:
    reader = parse_root(xml, "volume", STORAGE)
    root = reader.root
    root.choice("type", ["file"], ["file", "block", "dir", "network", "netdir", "ploop"], "file")
    name = root.child_text("name")
    if not name or "/" in name or name.startswith("."):
        raise root.error(f"invalid volume name '{name or ''}'")
    root.child_text("key")  # a volume's key is its path, computed
    capacity = _size(root.child("capacity"))
    allocation = root.child("allocation")
    if allocation is not None:
        _size(allocation)  # sparse files: allocation grows as the guest writes
    fmt = "raw"
    target = root.child("target")
    if target is not None:
        target.child_text("path")  # computed from the pool
        fmt = _format(target.child("format"), "raw")
    vol = VolumeDef(name=name, capacity=capacity or 0, format=fmt)
    backing = root.child("backingStore")
    if backing is not None:
        vol.backing_path = backing.child_text("path")
        if not vol.backing_path:
            raise backing.error("missing backingStore <path>")
        vol.backing_format = _format(backing.child("format"), "raw")
        if fmt != "qcow2":
            raise backing.unsupported("a backing store needs a qcow2 volume")
    elif capacity is None:
        raise root.error("missing capacity for volume")
    reader.finish()
    return vol


def _size(node: Node | None) -> int | None:
    if node is None:
        return None
    return scaled_bytes(node.text(), node.attr("unit"), "bytes", f"<{node.tag}>", STORAGE)


def _format(node: Node | None, default: str) -> str:
    return default if node is None else node.choice("type", ["raw", "qcow2"], VOL_FORMATS)


def volume_xml(vol: VolumeDef, path: str, capacity: int, allocation: int) -> str:
    backing = None
    if vol.backing_path is not None:
        backing = E(
            "backingStore",
            E("path", text=vol.backing_path),
            E("format", type_=vol.backing_format),
        )
    return E(
        "volume",
        E("name", text=vol.name),
        E("key", text=path),
        E("capacity", text=str(capacity), unit="bytes"),
        E("allocation", text=str(allocation), unit="bytes"),
        E("target", E("path", text=path), E("format", type_=vol.format)),
        backing,
        type_="file",
    ).to_string()
