"""The snapshot procedures: queries read the driver's SnapshotTree, changes call the driver."""

from __future__ import annotations

from typing import Any

from pyvirt.daemon.dispatch import Args, Ret, Session, driver_of, handles
from pyvirt.drivers.base import DomainRef
from pyvirt.drivers.snapshots import SnapshotTree, check_flags
from pyvirt.rpc.protocol import Header
from pyvirt.rpc.remote import Proc
from pyvirt.rpc.wire import dom_from_wire, dom_to_wire
from pyvirt.virterror import ErrorDomain

XML_SECURE = 1  # virDomainSnapshotXMLFlags: nothing secret in pyvirt's snapshots


def snap_to_wire(dom: DomainRef, name: str) -> dict[str, Any]:
    return {"name": name, "dom": dom_to_wire(dom)}


async def _tree(s: Session, dom: dict[str, Any]) -> tuple[DomainRef, SnapshotTree]:
    ref = dom_from_wire(dom)
    return ref, await driver_of(s).snapshot_tree(ref)


async def _snap(s: Session, a: Args) -> tuple[DomainRef, SnapshotTree, str]:
    """The snapshot argument, checked to exist."""
    ref, tree = await _tree(s, a["snap"]["dom"])
    name = a["snap"]["name"]
    tree.get(name)
    return ref, tree, name


def _names(names: list[str], maxnames: int) -> Ret:
    return {"names": names[: max(maxnames, 0)]}


def _snaps(ref: DomainRef, names: list[str], need_results: int) -> Ret:
    listed = [snap_to_wire(ref, n) for n in names] if need_results else []
    return {"snapshots": listed, "ret": len(names)}


@handles(Proc.DOMAIN_SNAPSHOT_CREATE_XML)
async def _create(s: Session, h: Header, a: Args) -> Ret:
    ref = dom_from_wire(a["dom"])
    name = await driver_of(s).snapshot_create_xml(ref, a["xml_desc"], a["flags"])
    return {"snap": snap_to_wire(ref, name)}


@handles(Proc.DOMAIN_SNAPSHOT_GET_XML_DESC)
async def _xml(s: Session, h: Header, a: Args) -> Ret:
    _, tree, name = await _snap(s, a)
    check_flags(a["flags"], XML_SECURE, "virDomainSnapshotGetXMLDesc", ErrorDomain.DOMAIN_SNAPSHOT)
    return {"xml": tree.get(name).to_xml()}


@handles(Proc.DOMAIN_SNAPSHOT_NUM)
async def _num(s: Session, h: Header, a: Args) -> Ret:
    _, tree = await _tree(s, a["dom"])
    return {"num": len(tree.select(a["flags"]))}


@handles(Proc.DOMAIN_SNAPSHOT_LIST_NAMES)
async def _list_names(s: Session, h: Header, a: Args) -> Ret:
    _, tree = await _tree(s, a["dom"])
    return _names(tree.select(a["flags"]), a["maxnames"])


@handles(Proc.DOMAIN_LIST_ALL_SNAPSHOTS)
async def _list_all(s: Session, h: Header, a: Args) -> Ret:
    ref, tree = await _tree(s, a["dom"])
    return _snaps(ref, tree.select(a["flags"]), a["need_results"])


@handles(Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME)
async def _lookup(s: Session, h: Header, a: Args) -> Ret:
    ref, tree = await _tree(s, a["dom"])
    return {"snap": snap_to_wire(ref, tree.get(a["name"]).name)}


@handles(Proc.DOMAIN_HAS_CURRENT_SNAPSHOT)
async def _has_current(s: Session, h: Header, a: Args) -> Ret:
    _, tree = await _tree(s, a["dom"])
    return {"result": int(tree.current is not None)}


@handles(Proc.DOMAIN_SNAPSHOT_CURRENT)
async def _current(s: Session, h: Header, a: Args) -> Ret:
    ref, tree = await _tree(s, a["dom"])
    return {"snap": snap_to_wire(ref, tree.current_snapshot().name)}


@handles(Proc.DOMAIN_SNAPSHOT_GET_PARENT)
async def _parent(s: Session, h: Header, a: Args) -> Ret:
    ref, tree, name = await _snap(s, a)
    return {"snap": snap_to_wire(ref, tree.parent_of(name).name)}


@handles(Proc.DOMAIN_SNAPSHOT_IS_CURRENT)
async def _is_current(s: Session, h: Header, a: Args) -> Ret:
    _, tree, name = await _snap(s, a)
    return {"current": int(tree.current == name)}


@handles(Proc.DOMAIN_SNAPSHOT_HAS_METADATA)
async def _has_metadata(s: Session, h: Header, a: Args) -> Ret:
    await _snap(s, a)
    return {"metadata": 1}  # pyvirt never takes a snapshot without its metadata


@handles(Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN)
async def _num_children(s: Session, h: Header, a: Args) -> Ret:
    _, tree, name = await _snap(s, a)
    return {"num": len(tree.select(a["flags"], of=name))}


@handles(Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES)
async def _children_names(s: Session, h: Header, a: Args) -> Ret:
    _, tree, name = await _snap(s, a)
    return _names(tree.select(a["flags"], of=name), a["maxnames"])


@handles(Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN)
async def _all_children(s: Session, h: Header, a: Args) -> Ret:
    ref, tree = await _tree(s, a["snapshot"]["dom"])
    names = tree.select(a["flags"], of=a["snapshot"]["name"])
    return _snaps(ref, names, a["need_results"])


@handles(Proc.DOMAIN_REVERT_TO_SNAPSHOT)
async def _revert(s: Session, h: Header, a: Args) -> Ret:
    ref = dom_from_wire(a["snap"]["dom"])
    await driver_of(s).snapshot_revert(ref, a["snap"]["name"], a["flags"])
    return None


@handles(Proc.DOMAIN_SNAPSHOT_DELETE)
async def _delete(s: Session, h: Header, a: Args) -> Ret:
    ref = dom_from_wire(a["snap"]["dom"])
    await driver_of(s).snapshot_delete(ref, a["snap"]["name"], a["flags"])
    return None
