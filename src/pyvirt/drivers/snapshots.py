"""Domain snapshot metadata as libvirt keeps it: a tree of named snapshots per domain, one of
them current, each remembering the domain's state and definition when it was taken.

Drivers share this model: the test driver keeps trees in memory, the VMM driver persists
them (`to_document` / `from_document`). Flags and error wording are libvirt's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from lxml import etree

from pyvirt.domain.xmlout import E
from pyvirt.virterror import ErrorCode, ErrorDomain, VirtError

# virDomainSnapshotCreateFlags
CREATE_REDEFINE, CREATE_CURRENT, CREATE_NO_METADATA, CREATE_HALT = 1, 2, 4, 8
CREATE_DISK_ONLY, CREATE_REUSE_EXT, CREATE_QUIESCE, CREATE_ATOMIC = 16, 32, 64, 128
CREATE_LIVE, CREATE_VALIDATE = 256, 512
# virDomainSnapshotListFlags (ROOTS and DESCENDANTS share a bit: roots for a domain's
# list, all descendants for a snapshot's children)
LIST_ROOTS = LIST_DESCENDANTS = 1
LIST_METADATA, LIST_LEAVES, LIST_NO_LEAVES, LIST_NO_METADATA = 2, 4, 8, 16
LIST_INACTIVE, LIST_ACTIVE, LIST_DISK_ONLY = 32, 64, 128
LIST_INTERNAL, LIST_EXTERNAL, LIST_TOPOLOGICAL = 256, 512, 1024
# virDomainSnapshotDeleteFlags
DELETE_CHILDREN, DELETE_METADATA_ONLY, DELETE_CHILDREN_ONLY = 1, 2, 4
# virDomainSnapshotRevertFlags
REVERT_RUNNING, REVERT_PAUSED, REVERT_FORCE = 1, 2, 4
UNDEFINE_SNAPSHOTS_METADATA = 2  # virDomainUndefineFlagsValues

ACTIVE_STATES = ("running", "paused")


def unsupported_flags(flags: int, function: str, domain: ErrorDomain) -> VirtError:
    """libvirt's virCheckFlags failure."""
    return VirtError(
        ErrorCode.INVALID_ARG, f"unsupported flags (0x{flags:x}) in function {function}", domain
    )


def check_flags(flags: int, allowed: int, function: str, domain: ErrorDomain) -> None:
    if flags & ~allowed:
        raise unsupported_flags(flags & ~allowed, function, domain)


def check_revert_flags(flags: int) -> None:
    """The check libvirt's client library makes before the call reaches a driver."""
    if flags & REVERT_RUNNING and flags & REVERT_PAUSED:
        raise VirtError(
            ErrorCode.INVALID_ARG,
            "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED'"
            " are mutually exclusive",
            ErrorDomain.DOMAIN_SNAPSHOT,
        )


@dataclass
class Snapshot:
    name: str
    state: str  # the domain's when taken: running, paused, shutoff (libvirt's words)
    creation_time: int  # seconds since the epoch
    domain_xml: str  # the domain's definition when taken
    description: str | None = None
    parent: str | None = None
    memory: str = "no"  # 'internal' when the snapshot holds the guest's RAM
    disks: list[tuple[str, str]] = field(default_factory=list)  # (target, 'internal'|'no')

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    def to_xml(self) -> str:
        """virDomainSnapshotGetXMLDesc's document (libvirt prints an empty <disks> open)."""
        head = [
            E("name", text=self.name),
            E("description", text=self.description) if self.description is not None else None,
            E("state", text=self.state),
            E("parent", E("name", text=self.parent)) if self.parent is not None else None,
            E("creationTime", text=str(self.creation_time)),
            E("memory", snapshot=self.memory),
        ]
        lines = ["<domainsnapshot>\n"]
        lines += ["".join(e._lines(1)) for e in head if e is not None]
        lines.append("  <disks>\n")
        lines += [f"    <disk name='{n}' snapshot='{kind}'/>\n" for n, kind in self.disks]
        lines.append("  </disks>\n")
        lines += [f"  {line}\n" for line in self.domain_xml.rstrip("\n").split("\n")]
        lines.append("</domainsnapshot>\n")
        return "".join(lines)


def _parse(xml: str) -> etree._Element:
    """The <domainsnapshot> root; malformed XML is reported as libvirt's XML parser does."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)
    try:
        root = etree.fromstring(xml.encode(), parser)
    except etree.XMLSyntaxError as err:
        raise _syntax_error(xml, err) from None
    if root.tag != "domainsnapshot":
        raise VirtError(
            ErrorCode.XML_ERROR,
            f"XML error: expecting root element of 'domainsnapshot', not '{root.tag}'",
            ErrorDomain.XML,
        )
    return root


def _syntax_error(xml: str, err: etree.XMLSyntaxError) -> VirtError:
    """VIR_ERR_XML_DETAIL: `(domain_snapshot):LINE: MESSAGE`, the line, a caret under the spot."""
    entry = err.error_log[0] if len(err.error_log) else None
    line, column = (entry.line, entry.column) if entry is not None else (1, 1)
    message = entry.message if entry is not None else str(err)
    lines = xml.split("\n")
    context = lines[line - 1] if 0 < line <= len(lines) else ""
    caret = "-" * max(column - 1, 0) + "^"
    return VirtError(
        ErrorCode.XML_DETAIL,
        f"(domain_snapshot):{line}: {message}\n{context[:80]}\n{caret}",
        ErrorDomain.DOMAIN_SNAPSHOT,
    )


@dataclass(frozen=True)
class Request:
    """What virDomainSnapshotCreateXML asks for (the rest of the document is libvirt's to fill)."""

    name: str
    description: str | None


def parse_request(xml: str) -> Request:
    root = _parse(xml)
    name = (root.findtext("name") or "").strip() or str(int(time.time()))
    description = root.findtext("description")
    return Request(name, description)


class SnapshotTree:
    """One domain's snapshots, in creation order, and which one is current."""

    def __init__(self, error_domain: ErrorDomain) -> None:
        self.snapshots: dict[str, Snapshot] = {}
        self.current: str | None = None
        self._error_domain = error_domain

    def __len__(self) -> int:
        return len(self.snapshots)

    def check_undefine(self, active: bool, flags: int) -> None:
        """libvirt keeps an inactive domain that has snapshots unless told to drop them."""
        if self.snapshots and not active and not flags & UNDEFINE_SNAPSHOTS_METADATA:
            raise VirtError.of(
                ErrorCode.OPERATION_INVALID,
                f"cannot delete inactive domain with {len(self)} snapshots",
                self._error_domain,
            )

    def _not_found(self, detail: str) -> VirtError:
        return VirtError(
            ErrorCode.NO_DOMAIN_SNAPSHOT, f"Domain snapshot not found: {detail}", self._error_domain
        )

    def get(self, name: str) -> Snapshot:
        snap = self.snapshots.get(name)
        if snap is None:
            raise self._not_found(f"no domain snapshot with matching name '{name}'")
        return snap

    def current_snapshot(self) -> Snapshot:
        if self.current is None:
            raise self._not_found("the domain does not have a current snapshot")
        return self.snapshots[self.current]

    def parent_of(self, name: str) -> Snapshot:
        snap = self.get(name)
        if snap.parent is None:
            raise self._not_found(f"snapshot '{name}' does not have a parent")
        return self.snapshots[snap.parent]

    def check_new(self, name: str) -> None:
        if name in self.snapshots:
            raise VirtError.of(
                ErrorCode.OPERATION_FAILED,
                f"domain moment {name} already exists",
                ErrorDomain.DOMAIN,
            )

    def add(self, snap: Snapshot) -> None:
        """A new snapshot, child of the current one, becomes current."""
        self.check_new(snap.name)
        snap.parent = self.current
        self.snapshots[snap.name] = snap
        self.current = snap.name

    def redefine(self, request: Request, flags: int) -> str:
        """CREATE_REDEFINE of a snapshot this tree has (virsh snapshot-current --snapshotname):
        its description may change, and with CREATE_CURRENT it becomes current. Importing a
        snapshot taken elsewhere is not supported."""
        snap = self.snapshots.get(request.name)
        if snap is None:
            raise VirtError(
                ErrorCode.CONFIG_UNSUPPORTED,
                f"unsupported configuration: redefining snapshot '{request.name}', which this "
                "driver did not take, is not supported",
                self._error_domain,
            )
        snap.description = request.description
        if flags & CREATE_CURRENT:
            self.current = snap.name
        return snap.name

    def children(self, name: str | None) -> list[str]:
        return [s.name for s in self.snapshots.values() if s.parent == name]

    def descendants(self, name: str) -> list[str]:
        """Depth first, each before its own children."""
        out: list[str] = []
        for child in self.children(name):
            out += [child, *self.descendants(child)]
        return out

    def select(self, flags: int, of: str | None = None) -> list[str]:
        """virDomainListAllSnapshots (of=None) or virDomainSnapshotListAllChildren's names."""
        if of is None:
            names = self.children(None) if flags & LIST_ROOTS else list(self.snapshots)
        else:
            self.get(of)
            names = self.descendants(of) if flags & LIST_DESCENDANTS else self.children(of)
        if flags & LIST_TOPOLOGICAL and of is None and not flags & LIST_ROOTS:
            names = [n for root in self.children(None) for n in (root, *self.descendants(root))]
        return [n for n in names if self._matches(self.snapshots[n], flags)]

    def _matches(self, snap: Snapshot, flags: int) -> bool:
        leaf = not self.children(snap.name)
        groups = [
            (LIST_LEAVES | LIST_NO_LEAVES, LIST_LEAVES if leaf else LIST_NO_LEAVES),
            (LIST_METADATA | LIST_NO_METADATA, LIST_METADATA),
            (
                LIST_INACTIVE | LIST_ACTIVE | LIST_DISK_ONLY,
                LIST_DISK_ONLY
                if snap.state == "disk-snapshot"
                else LIST_ACTIVE
                if snap.active
                else LIST_INACTIVE,
            ),
            (LIST_INTERNAL | LIST_EXTERNAL, LIST_INTERNAL),  # pyvirt takes internal ones only
        ]
        return all(not flags & mask or flags & bit for mask, bit in groups)

    def doomed(self, name: str, flags: int) -> list[str]:
        """The snapshots a delete with `flags` removes, children before their parents."""
        self.get(name)
        below = self.descendants(name) if flags & (DELETE_CHILDREN | DELETE_CHILDREN_ONLY) else []
        below.reverse()
        return below if flags & DELETE_CHILDREN_ONLY else [*below, name]

    def remove(self, name: str, flags: int) -> None:
        """Drop the metadata a delete removes, as libvirt: children of a lone deleted snapshot
        move up to its parent, and a deleted current snapshot hands over to its parent (or,
        with children-only, to the snapshot whose children went)."""
        snap = self.get(name)
        doomed = self.doomed(name, flags)
        current_goes = self.current in doomed
        for gone in doomed:
            del self.snapshots[gone]
        if not flags & (DELETE_CHILDREN | DELETE_CHILDREN_ONLY):
            for child in self.snapshots.values():
                if child.parent == name:
                    child.parent = snap.parent
        if current_goes:
            self.current = name if flags & DELETE_CHILDREN_ONLY else snap.parent

    # --- persistence (one document per domain, so a change is one atomic write)

    def to_json(self) -> dict[str, Any]:
        return {"current": self.current, "snapshots": [asdict(s) for s in self]}

    @classmethod
    def from_json(cls, data: dict[str, Any], error_domain: ErrorDomain) -> SnapshotTree:
        tree = cls(error_domain)
        for item in data["snapshots"]:
            snap = Snapshot(**{**item, "disks": [tuple(d) for d in item["disks"]]})
            tree.snapshots[snap.name] = snap
        tree.current = data["current"] if data["current"] in tree.snapshots else None
        return tree

    def __iter__(self) -> Iterator[Snapshot]:
        return iter(self.snapshots.values())
