"""Snapshots for the VMM drivers, as libvirt's qemu driver takes them of a shut-off domain:
an internal snapshot in every qcow2 disk (qemu-img snapshot -c / -a / -d), and the metadata
in <state_dir>/snapshots/NAME.json, rewritten atomically on every change so a restarted
daemon lists them again. Running domains (which would need savevm) are refused."""

from __future__ import annotations

import asyncio
import errno
import json
import time
from typing import TYPE_CHECKING

from pyvirt.block.driver import BlockError
from pyvirt.block.locking import Permissions
from pyvirt.block.open import open_image
from pyvirt.domain import DomainDef, parse_domain
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

from .base import DomainRef, DomainState, LifecycleEvent
from .files import remove, write_atomically, write_json
from .reasons import SNAPSHOT_REASON
from .snapshots import (
    CREATE_ATOMIC,
    CREATE_CURRENT,
    CREATE_REDEFINE,
    CREATE_VALIDATE,
    DELETE_CHILDREN,
    DELETE_CHILDREN_ONLY,
    DELETE_METADATA_ONLY,
    REVERT_FORCE,
    REVERT_PAUSED,
    REVERT_RUNNING,
    Snapshot,
    SnapshotTree,
    check_flags,
    check_revert_flags,
    parse_request,
)

if TYPE_CHECKING:
    from .vmm import VmmDriver, _Domain


DEFINED_FROM_SNAPSHOT = 3  # virDomainEventDefinedDetailType


def _unsupported(detail: str) -> VirtError:
    return VirtError.of(ErrorCode.OPERATION_UNSUPPORTED, detail, ErrorDomain.QEMU)


def _disks(config: DomainDef) -> list[tuple[str, str, str | None]]:
    """(target, 'internal' or 'no', image path) for each disk, as libvirt's offline snapshots:
    writable disks with a medium go in, read-only ones and empty drives stay out."""
    out: list[tuple[str, str, str | None]] = []
    for disk in config.devices.disks:
        if disk.source is None or disk.readonly or disk.device == "cdrom":
            out.append((disk.target, "no", None))
        else:
            if disk.format != "qcow2":
                raise VirtError(
                    ErrorCode.CONFIG_UNSUPPORTED,
                    f"unsupported configuration: internal snapshot for disk {disk.target} "
                    f"unsupported for storage type {disk.format}",
                    ErrorDomain.QEMU,
                )
            out.append((disk.target, "internal", disk.source))
    if not any(kind == "internal" for _, kind, _ in out):
        raise VirtError(
            ErrorCode.CONFIG_UNSUPPORTED,
            "unsupported configuration: nothing selected for snapshot",
            ErrorDomain.QEMU,
        )
    return out


def _qcow2(path: str, method: str, name: str) -> None:
    """One qemu-img snapshot action on one image, with its write lock held (a VMM using the
    image makes this fail, as qemu-img would)."""
    image = open_image(path, format="qcow2", backing=False, lock=Permissions.tool(read_only=False))
    try:
        getattr(image, method)(name)
        image.flush()
    finally:
        image.close()


def _failed(action: str, name: str, path: str, err: BlockError) -> VirtError:
    return VirtError.of(
        ErrorCode.OPERATION_FAILED,
        f"cannot {action} snapshot '{name}' of '{path}': {err.strerror or err}",
        ErrorDomain.QEMU,
    )


class VmmSnapshots:
    """The snapshot half of VmmDriver (mixed in)."""

    _snapshot_trees: dict[str, SnapshotTree]  # by domain name; set by VmmDriver.__init__

    def _tree(self: VmmDriver, dom: _Domain) -> SnapshotTree:
        trees = self._snapshot_trees
        if dom.name not in trees:
            path = self._path("snapshots", dom.name, ".json")
            tree = SnapshotTree(ErrorDomain.QEMU)
            try:
                tree = SnapshotTree.from_json(json.loads(path.read_text()), ErrorDomain.QEMU)
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError) as err:
                # Not replaced by an empty list: the next change would overwrite the file.
                raise VirtError(
                    ErrorCode.INTERNAL_ERROR,
                    f"internal error: cannot read snapshot metadata {path}: {err}",
                    ErrorDomain.QEMU,
                ) from None
            trees[dom.name] = tree
        return trees[dom.name]

    def _drop_snapshots(self: VmmDriver, dom: _Domain) -> None:
        self._snapshot_trees.pop(dom.name, None)
        remove(self._path("snapshots", dom.name, ".json"))

    def _save_tree(self: VmmDriver, dom: _Domain, tree: SnapshotTree) -> None:
        path = self._path("snapshots", dom.name, ".json")
        if len(tree):
            write_json(path, tree.to_json())
        else:
            remove(path)

    async def snapshot_tree(self: VmmDriver, ref: DomainRef) -> SnapshotTree:
        return self._tree(await self._find(ref))

    async def snapshot_create_xml(self: VmmDriver, ref: DomainRef, xml: str, flags: int) -> str:
        dom = await self._find(ref)
        allowed = CREATE_REDEFINE | CREATE_CURRENT | CREATE_ATOMIC | CREATE_VALIDATE
        check_flags(flags, allowed, "qemuDomainSnapshotCreateXML", ErrorDomain.QEMU)
        request = parse_request(xml)
        tree = self._tree(dom)
        if flags & CREATE_REDEFINE:
            name = tree.redefine(request, flags)
            self._save_tree(dom, tree)
            return name
        tree.check_new(request.name)
        if dom.vmm is not None:
            raise _unsupported("internal snapshots of a running domain are not supported")
        disks = _disks(dom.config)
        taken: list[str] = []
        try:
            for _, kind, path in disks:
                if kind == "internal" and path is not None:
                    await asyncio.to_thread(_qcow2, path, "snapshot_create", request.name)
                    taken.append(path)
        except BlockError as err:
            for path in taken:  # all disks or none, as libvirt's atomic snapshots
                await asyncio.to_thread(_qcow2, path, "snapshot_delete", request.name)
            raise _failed("create", request.name, err.filename or "", err) from None
        snap = Snapshot(
            name=request.name,
            state="shutoff",
            creation_time=int(time.time()),
            domain_xml=dom.config.to_xml(),
            description=request.description,
            memory="no",
            disks=[(target, kind) for target, kind, _ in disks],
        )
        tree.add(snap)
        self._save_tree(dom, tree)
        return snap.name

    async def snapshot_revert(self: VmmDriver, ref: DomainRef, name: str, flags: int) -> None:
        """Stop the domain if it runs, put every disk back, restore the definition; start it
        again when asked (--running / --paused)."""
        dom = await self._find(ref)
        check_revert_flags(flags)
        allowed = REVERT_RUNNING | REVERT_PAUSED | REVERT_FORCE
        check_flags(flags, allowed, "qemuDomainRevertToSnapshot", ErrorDomain.QEMU)
        tree = self._tree(dom)
        snap = tree.get(name)
        config = self._fill(parse_domain(snap.domain_xml))
        if dom.vmm is not None:
            dom.destroying = True
            await self._terminate(dom, dom.vmm)
        kinds = dict(snap.disks)
        for disk in config.devices.disks:
            if kinds.get(disk.target) == "internal" and disk.source is not None:
                try:
                    await asyncio.to_thread(_qcow2, disk.source, "snapshot_apply", name)
                except BlockError as err:
                    raise _failed("revert to", name, disk.source, err) from None
        if dom.persistent:
            write_atomically(self._path("domains", dom.name, ".xml"), config.to_xml())
        dom.config = config
        tree.current = name
        self._save_tree(dom, tree)
        self._set_state(dom, DomainState.SHUTOFF, SNAPSHOT_REASON[DomainState.SHUTOFF])
        self._emit(dom, LifecycleEvent.DEFINED, DEFINED_FROM_SNAPSHOT)
        if flags & (REVERT_RUNNING | REVERT_PAUSED):
            await self._start(dom)
            if flags & REVERT_PAUSED:
                await self.suspend(dom.ref())

    async def snapshot_delete(self: VmmDriver, ref: DomainRef, name: str, flags: int) -> None:
        dom = await self._find(ref)
        allowed = DELETE_CHILDREN | DELETE_CHILDREN_ONLY | DELETE_METADATA_ONLY
        check_flags(flags, allowed, "qemuDomainSnapshotDelete", ErrorDomain.QEMU)
        tree = self._tree(dom)
        doomed = [tree.get(n) for n in tree.doomed(name, flags)]
        if not flags & DELETE_METADATA_ONLY:
            if dom.vmm is not None:
                raise _unsupported("deleting internal snapshots of a running domain")
            for snap in doomed:
                await _delete_from_disks(snap)
        tree.remove(name, flags)
        self._save_tree(dom, tree)


async def _delete_from_disks(snap: Snapshot) -> None:
    """qemu-img snapshot -d on each of the snapshot's disks; one already gone is no error."""
    config = parse_domain(snap.domain_xml)
    kinds = dict(snap.disks)
    for disk in config.devices.disks:
        if kinds.get(disk.target) != "internal" or disk.source is None:
            continue
        try:
            await asyncio.to_thread(_qcow2, disk.source, "snapshot_delete", snap.name)
        except BlockError as err:
            if err.errno != errno.ENOENT:
                raise _failed("delete", snap.name, disk.source, err) from None
