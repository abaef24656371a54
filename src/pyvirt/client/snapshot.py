"""libvirt-python's snapshot API: virDomain's snapshot methods and virDomainSnapshot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyvirt.rpc import remote
from pyvirt.rpc.remote import Proc

if TYPE_CHECKING:
    from pyvirt.client.objects import virConnect, virDomain


class DomainSnapshots:
    """virDomain's snapshot methods (mixed into virDomain)."""

    def _snapshot(self: virDomain, wire: dict[str, Any]) -> virDomainSnapshot:
        return virDomainSnapshot(self, wire["name"])

    def snapshotCreateXML(self: virDomain, xmlDesc: str, flags: int = 0) -> virDomainSnapshot:
        ret = self._call(Proc.DOMAIN_SNAPSHOT_CREATE_XML, xml_desc=xmlDesc, flags=flags)
        return self._snapshot(ret["snap"])

    def snapshotLookupByName(self: virDomain, name: str, flags: int = 0) -> virDomainSnapshot:
        ret = self._call(Proc.DOMAIN_SNAPSHOT_LOOKUP_BY_NAME, name=name, flags=flags)
        return self._snapshot(ret["snap"])

    def snapshotCurrent(self: virDomain, flags: int = 0) -> virDomainSnapshot:
        return self._snapshot(self._call(Proc.DOMAIN_SNAPSHOT_CURRENT, flags=flags)["snap"])

    def hasCurrentSnapshot(self: virDomain, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_HAS_CURRENT_SNAPSHOT, flags=flags)["result"]

    def snapshotNum(self: virDomain, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_SNAPSHOT_NUM, flags=flags)["num"]

    def snapshotListNames(self: virDomain, flags: int = 0) -> list[str]:
        ret = self._call(Proc.DOMAIN_SNAPSHOT_LIST_NAMES, maxnames=remote.LIST_MAX, flags=flags)
        return ret["names"]

    def listAllSnapshots(self: virDomain, flags: int = 0) -> list[virDomainSnapshot]:
        ret = self._call(Proc.DOMAIN_LIST_ALL_SNAPSHOTS, need_results=1, flags=flags)
        return [self._snapshot(s) for s in ret["snapshots"]]

    def revertToSnapshot(self: virDomain, snap: virDomainSnapshot, flags: int = 0) -> int:
        snap._call(Proc.DOMAIN_REVERT_TO_SNAPSHOT, flags=flags)
        return 0


class virDomainSnapshot:
    def __init__(self, dom: virDomain, name: str) -> None:
        self._dom = dom
        self._name = name

    def _call(self, proc: Proc, **args: Any) -> Any:
        wire = {"name": self._name, "dom": self._dom._wire}
        key = "snapshot" if proc == Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN else "snap"
        return self._dom.connect()._call(proc, {key: wire, **args})

    def _sibling(self, wire: dict[str, Any]) -> virDomainSnapshot:
        return virDomainSnapshot(self._dom, wire["name"])

    def getName(self) -> str:
        return self._name

    def getDomain(self) -> virDomain:
        return self._dom

    domain = getDomain

    def getConnect(self) -> virConnect:
        return self._dom.connect()

    connect = getConnect

    def getXMLDesc(self, flags: int = 0) -> str:
        return self._call(Proc.DOMAIN_SNAPSHOT_GET_XML_DESC, flags=flags)["xml"]

    def delete(self, flags: int = 0) -> int:
        self._call(Proc.DOMAIN_SNAPSHOT_DELETE, flags=flags)
        return 0

    def getParent(self, flags: int = 0) -> virDomainSnapshot:
        return self._sibling(self._call(Proc.DOMAIN_SNAPSHOT_GET_PARENT, flags=flags)["snap"])

    def isCurrent(self, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_SNAPSHOT_IS_CURRENT, flags=flags)["current"]

    def hasMetadata(self, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_SNAPSHOT_HAS_METADATA, flags=flags)["metadata"]

    def numChildren(self, flags: int = 0) -> int:
        return self._call(Proc.DOMAIN_SNAPSHOT_NUM_CHILDREN, flags=flags)["num"]

    def listChildrenNames(self, flags: int = 0) -> list[str]:
        proc = Proc.DOMAIN_SNAPSHOT_LIST_CHILDREN_NAMES
        return self._call(proc, maxnames=remote.LIST_MAX, flags=flags)["names"]

    def listAllChildren(self, flags: int = 0) -> list[virDomainSnapshot]:
        ret = self._call(Proc.DOMAIN_SNAPSHOT_LIST_ALL_CHILDREN, need_results=1, flags=flags)
        return [self._sibling(s) for s in ret["snapshots"]]
