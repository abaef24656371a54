"""Snapshots for `test:///default`, as libvirt's test driver takes them: metadata only, in
memory, recording the domain's state and definition; reverting restores both."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from pyvirt.virterror import ErrorDomain

from .base import DomainRef, DomainState, LifecycleEvent
from .reasons import SNAPSHOT_EVENT, SNAPSHOT_REASON
from .snapshots import (
    CREATE_ATOMIC,
    CREATE_CURRENT,
    CREATE_HALT,
    CREATE_LIVE,
    CREATE_REDEFINE,
    CREATE_VALIDATE,
    DELETE_CHILDREN,
    DELETE_CHILDREN_ONLY,
    REVERT_FORCE,
    REVERT_PAUSED,
    REVERT_RUNNING,
    Snapshot,
    SnapshotTree,
    check_flags,
    check_revert_flags,
    parse_request,
)
from .test_xml import parse_domain

if TYPE_CHECKING:
    from .test import TestDriver, _Domain

_STATE_NAMES = {DomainState.RUNNING: "running", DomainState.PAUSED: "paused"}


class TestSnapshots:
    """The snapshot half of TestDriver (mixed in; trees by domain UUID)."""

    __test__ = False

    _snapshot_trees: dict[bytes, SnapshotTree]  # set by TestDriver.__init__

    def _tree(self: TestDriver, dom: _Domain) -> SnapshotTree:
        trees = self._snapshot_trees
        return trees.setdefault(dom.definition.uuid, SnapshotTree(ErrorDomain.TEST))

    async def snapshot_tree(self: TestDriver, ref: DomainRef) -> SnapshotTree:
        return self._tree(self._find(ref))

    async def snapshot_create_xml(self: TestDriver, ref: DomainRef, xml: str, flags: int) -> str:
        dom = self._find(ref)
        allowed = CREATE_REDEFINE | CREATE_CURRENT | CREATE_HALT | CREATE_ATOMIC | CREATE_LIVE
        check_flags(
            flags, allowed | CREATE_VALIDATE, "testDomainSnapshotCreateXML", ErrorDomain.TEST
        )
        request = parse_request(xml)
        tree = self._tree(dom)
        if flags & CREATE_REDEFINE:
            return tree.redefine(request, flags)
        tree.check_new(request.name)
        state = _STATE_NAMES.get(dom.state, "shutoff")
        active = dom.active
        targets = dom.definition.root.findall("devices/disk/target")
        tree.add(
            Snapshot(
                name=request.name,
                state=state,
                creation_time=int(time.time()),
                domain_xml=dom.definition.to_xml(),
                description=request.description,
                memory="internal" if active else "no",
                # libvirt's test driver lists no disks for a shut-off domain's snapshot
                disks=[(t.get("dev", ""), "internal") for t in targets] if active else [],
            )
        )
        if flags & CREATE_HALT and active:
            self._stop(dom, SNAPSHOT_REASON[DomainState.SHUTOFF], SNAPSHOT_EVENT["stopped"])
        return request.name

    async def snapshot_revert(self: TestDriver, ref: DomainRef, name: str, flags: int) -> None:
        dom = self._find(ref)
        check_revert_flags(flags)
        allowed = REVERT_RUNNING | REVERT_PAUSED | REVERT_FORCE
        check_flags(flags, allowed, "testDomainRevertToSnapshot", ErrorDomain.TEST)
        tree = self._tree(dom)
        snap = tree.get(name)
        dom.definition = parse_domain(snap.domain_xml)
        if not snap.active:
            if dom.active:
                self._stop(dom, SNAPSHOT_REASON[DomainState.SHUTOFF], SNAPSHOT_EVENT["stopped"])
        else:
            paused = bool(flags & REVERT_PAUSED) or (
                snap.state == "paused" and not flags & REVERT_RUNNING
            )
            _enter(self, dom, DomainState.PAUSED if paused else DomainState.RUNNING)
        tree.current = name

    async def snapshot_delete(self: TestDriver, ref: DomainRef, name: str, flags: int) -> None:
        dom = self._find(ref)
        allowed = DELETE_CHILDREN | DELETE_CHILDREN_ONLY
        check_flags(flags, allowed, "testDomainSnapshotDelete", ErrorDomain.TEST)
        self._tree(dom).remove(name, flags)


def _enter(driver: TestDriver, dom: _Domain, state: DomainState) -> None:
    """Bring an active snapshot's domain to `state`, announcing each step as from a snapshot."""
    was = dom.state if dom.active else None
    if was is None:
        driver._start(dom, SNAPSHOT_REASON[DomainState.RUNNING], SNAPSHOT_EVENT["started"])
    dom.state, dom.reason = state, SNAPSHOT_REASON[state]
    if state == DomainState.PAUSED and was != DomainState.PAUSED:
        driver._emit(dom, LifecycleEvent.SUSPENDED, SNAPSHOT_EVENT["suspended"])
    elif state == DomainState.RUNNING and was == DomainState.PAUSED:
        driver._emit(dom, LifecycleEvent.RESUMED, SNAPSHOT_EVENT["resumed"])
