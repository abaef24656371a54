"""The snapshot commands, with virsh 9.0's options, output and messages: snapshot-create-as,
snapshot-create, snapshot-list, snapshot-info, snapshot-dumpxml, snapshot-current,
snapshot-parent, snapshot-revert, snapshot-delete."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from typing import Any
from xml.sax.saxutils import escape

from pyvirt.client import virDomain, virDomainSnapshot
from pyvirt.virsh.commands import Kind, Opt, command, domain_opt, flag, group
from pyvirt.virsh.context import Ctl
from pyvirt.virsh.domain import read_file
from pyvirt.virsh.errors import VirshError, call, failing

SNAPSHOT = group("snapshot", "Snapshot")

# virDomainSnapshotCreateFlags, by virsh option
CREATE_FLAGS = {"redefine": 1, "current": 2, "no-metadata": 4, "halt": 8, "disk-only": 16,
                "reuse-external": 32, "quiesce": 64, "atomic": 128, "live": 256,
                "validate": 512}  # fmt: skip
CREATE_OPTS = (
    flag("no-metadata", "take snapshot but create no metadata"),
    flag("halt", "halt domain after snapshot is created"),
    flag("disk-only", "capture disk state but not vm state"),
    flag("reuse-external", "reuse any existing external files"),
    flag("quiesce", "quiesce guest's file systems"),
    flag("atomic", "require atomic operation"),
    flag("live", "take a live snapshot"),
    flag("validate", "validate the XML against the schema"),
)
# virDomainSnapshotListFlags, by snapshot-list option
LIST_FLAGS = {"roots": 1, "metadata": 2, "leaves": 4, "no-leaves": 8, "no-metadata": 16,
              "inactive": 32, "active": 64, "disk-only": 128, "internal": 256,
              "external": 512, "topological": 1024}  # fmt: skip
LIST_DESCENDANTS = 1
REDEFINE_CURRENT = CREATE_FLAGS["redefine"] | CREATE_FLAGS["current"]
DELETE_FLAGS = {"children": 1, "metadata": 2, "children-only": 4}
REVERT_FLAGS = {"running": 1, "paused": 2, "force": 4, "reset-nvram": 8}


def exclusive(o: dict[str, Any], *pairs: tuple[str, str]) -> None:
    for a, b in pairs:
        if o[a] and o[b]:
            raise VirshError(f"Options --{a} and --{b} are mutually exclusive")


def flags_of(o: dict[str, Any], table: dict[str, int]) -> int:
    return sum(bit for name, bit in table.items() if o.get(name))


def extra(ctl: Ctl, text: str) -> None:
    """vshPrintExtra without a newline: virsh's own end-of-command newline ends the line."""
    if not ctl.quiet:
        ctl.out.write(text)


def _create(ctl: Ctl, dom: virDomain, xml: str, flags: int, source: str | None) -> None:
    snap = call(lambda: dom.snapshotCreateXML(xml, flags))
    name = snap.getName()
    verb = "defined" if flags & CREATE_FLAGS["redefine"] else "created"
    extra(ctl, f"Domain snapshot {name} {verb}" + (f" from '{source}'" if source else ""))


@command(
    "snapshot-create-as",
    SNAPSHOT,
    "Create a snapshot from a set of args",
    "Create a snapshot (disk and RAM) from arguments",
    domain_opt(),
    Opt("name", Kind.STRING, "name of snapshot"),
    Opt("description", Kind.STRING, "description of snapshot"),
    flag("print-xml", "print XML document rather than create"),
    *CREATE_OPTS,
    Opt("memspec", Kind.STRING, "memory attributes: [file=]name[,snapshot=type]"),
    Opt(
        "diskspec",
        Kind.DATA,
        "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]",
    ),
)
def cmd_snapshot_create_as(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    if o["memspec"] is not None or o["diskspec"] is not None:
        raise VirshError("--memspec and --diskspec are not supported by pyvirsh")
    xml = "<domainsnapshot>\n"
    if o["name"] is not None:
        xml += f"  <name>{escape(o['name'])}</name>\n"
    if o["description"] is not None:
        xml += f"  <description>{escape(o['description'])}</description>\n"
    xml += "</domainsnapshot>\n"
    if o["print-xml"]:
        ctl.print(xml)
        return
    _create(ctl, dom, xml, flags_of(o, CREATE_FLAGS), None)


@command(
    "snapshot-create",
    SNAPSHOT,
    "Create a snapshot from XML",
    "Create a snapshot (disk and RAM) from XML",
    domain_opt(),
    Opt("xmlfile", Kind.STRING, "domain snapshot XML"),
    flag("redefine", "redefine metadata for existing snapshot"),
    flag("current", "with redefine, set current snapshot"),
    *CREATE_OPTS,
)
def cmd_snapshot_create(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    xml = "<domainsnapshot/>" if o["xmlfile"] is None else read_file(o["xmlfile"])
    _create(ctl, dom, xml, flags_of(o, CREATE_FLAGS), o["xmlfile"])


NAME_OPT = Opt("snapshotname", Kind.STRING, "snapshot name", completer="snapshot")


def _named(ctl: Ctl, dom: virDomain, o: dict[str, Any]) -> virDomainSnapshot:
    """--snapshotname NAME or --current, as virshLookupSnapshot."""
    name, current = o["snapshotname"], o["current"]
    if name is not None and current:
        raise VirshError("--snapshotname and --current are mutually exclusive")
    if name is not None:
        return call(lambda: dom.snapshotLookupByName(name))
    if current:
        return call(dom.snapshotCurrent)
    raise VirshError("--snapshotname or --current is required")


def _doc(snap: virDomainSnapshot) -> ET.Element:
    return ET.fromstring(call(snap.getXMLDesc))


def _parent(doc: ET.Element) -> str | None:
    return doc.findtext("parent/name")


@command(
    "snapshot-info",
    SNAPSHOT,
    "snapshot information",
    "Returns basic information about a snapshot.",
    domain_opt(),
    NAME_OPT,
    flag("current", "info on current snapshot"),
)
def cmd_snapshot_info(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    snap = _named(ctl, dom, o)
    doc = _doc(snap)
    state = doc.findtext("state") or ""
    memory = doc.find("memory")
    external = state == "disk-snapshot" or (
        memory is not None and memory.get("snapshot") == "external"
    )
    rows = [
        ("Name", snap.getName()),
        ("Domain", dom.name()),
        ("Current", "yes" if call(snap.isCurrent) else "no"),
        ("State", state),
        ("Location", "external" if external else "internal"),
        ("Parent", _parent(doc) or "-"),
        ("Children", str(call(snap.numChildren))),
        ("Descendants", str(call(lambda: snap.numChildren(LIST_DESCENDANTS)))),
        ("Metadata", "yes" if call(snap.hasMetadata) else "no"),
    ]
    for key, value in rows:
        ctl.print(f"{key + ':':<15} {value}")


@command(
    "snapshot-dumpxml",
    SNAPSHOT,
    "Dump XML for a domain snapshot",
    "Snapshot Dump XML",
    domain_opt(),
    Opt("snapshotname", Kind.DATA, "snapshot name", required=True, completer="snapshot"),
    flag("security-info", "include security sensitive information in XML dump"),
    Opt("xpath", Kind.STRING, "xpath expression to filter the XML document"),
    flag("wrap", "wrap xpath results in an common root element"),
)
def cmd_snapshot_dumpxml(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    if o["xpath"] is not None:
        raise VirshError("--xpath is not supported by pyvirsh")
    snap = call(lambda: dom.snapshotLookupByName(o["snapshotname"]))
    ctl.out.write(call(lambda: snap.getXMLDesc(1 if o["security-info"] else 0)))


@command(
    "snapshot-current",
    SNAPSHOT,
    "Get or set the current snapshot",
    "Get or set the current snapshot",
    domain_opt(),
    flag("name", "list the name, rather than the full xml"),
    flag("security-info", "include security sensitive information in XML dump"),
    Opt("snapshotname", Kind.STRING, "name of existing snapshot to make current"),
)
def cmd_snapshot_current(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    if o["snapshotname"] is not None:
        exclusive(o, ("name", "snapshotname"), ("security-info", "snapshotname"))
        snap = call(lambda: dom.snapshotLookupByName(o["snapshotname"]))
        xml = call(lambda: snap.getXMLDesc(1))
        call(lambda: dom.snapshotCreateXML(xml, REDEFINE_CURRENT))
        extra(ctl, f"Snapshot {o['snapshotname']} set as current")
        return
    if not call(dom.hasCurrentSnapshot):
        raise VirshError(f"domain '{dom.name()}' has no current snapshot")
    snap = call(dom.snapshotCurrent)
    if o["name"]:
        ctl.out.write(snap.getName())
    else:
        ctl.out.write(call(lambda: snap.getXMLDesc(1 if o["security-info"] else 0)))


@command(
    "snapshot-parent",
    SNAPSHOT,
    "Get the name of the parent of a snapshot",
    "Extract the snapshot's parent, if any",
    domain_opt(),
    Opt("snapshotname", Kind.STRING, "find parent of snapshot name", completer="snapshot"),
    flag("current", "find parent of current snapshot"),
)
def cmd_snapshot_parent(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    snap = _named(ctl, dom, o)
    parent = _parent(_doc(snap))
    if parent is None:
        raise VirshError(f"snapshot '{snap.getName()}' has no parent")
    ctl.out.write(parent)


@command(
    "snapshot-revert",
    SNAPSHOT,
    "Revert a domain to a snapshot",
    "Revert domain to snapshot",
    domain_opt(),
    Opt("snapshotname", Kind.STRING, "snapshot name", completer="snapshot"),
    flag("current", "revert to current snapshot"),
    flag("running", "after reverting, change state to running"),
    flag("paused", "after reverting, change state to paused"),
    flag("force", "try harder on risky reverts"),
    flag("reset-nvram", "re-initialize NVRAM from its pristine template"),
)
def cmd_snapshot_revert(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    snap = _named(ctl, dom, o)
    with failing(f"Failed to revert snapshot {snap.getName()}"):
        dom.revertToSnapshot(snap, flags_of(o, REVERT_FLAGS))
    extra(ctl, f"Domain snapshot {snap.getName()} reverted\n")


@command(
    "snapshot-delete",
    SNAPSHOT,
    "Delete a domain snapshot",
    "Snapshot Delete",
    domain_opt(),
    Opt("snapshotname", Kind.STRING, "snapshot name", completer="snapshot"),
    flag("current", "delete current snapshot"),
    flag("children", "delete snapshot and all children"),
    flag("children-only", "delete children but not snapshot"),
    flag("metadata", "delete only libvirt metadata, leaving snapshot contents behind"),
)
def cmd_snapshot_delete(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    snap = _named(ctl, dom, o)
    name = snap.getName()
    with failing(f"Failed to delete snapshot {name}"):
        snap.delete(flags_of(o, DELETE_FLAGS))
    what = "children deleted" if o["children-only"] else "deleted"
    extra(ctl, f"Domain snapshot {name} {what}\n")


LIST_OPTS = (
    flag("parent", "add a column showing parent snapshot"),
    flag("roots", "list only snapshots without parents"),
    flag("leaves", "list only snapshots without children"),
    flag("no-leaves", "list only snapshots that are not leaves (with children)"),
    flag("metadata", "list only snapshots that have metadata that would prevent undefine"),
    flag("no-metadata", "list only snapshots that have no metadata managed by libvirt"),
    flag("inactive", "filter by snapshots taken while inactive"),
    flag("active", "filter by snapshots taken while active (full system snapshots)"),
    flag("disk-only", "filter by disk-only snapshots"),
    flag("internal", "filter by internal snapshots"),
    flag("external", "filter by external snapshots"),
    flag("tree", "list snapshots in a tree"),
    Opt("from", Kind.STRING, "limit list to children of given snapshot", completer="snapshot"),
    flag("current", "limit list to children of current snapshot"),
    flag("descendants", "with --from, list all descendants"),
    flag("name", "list snapshot names only"),
    flag("topological", "sort list topologically rather than by name"),
)


@command(
    "snapshot-list",
    SNAPSHOT,
    "List snapshots for a domain",
    "Snapshot List",
    domain_opt(),
    *LIST_OPTS,
)
def cmd_snapshot_list(ctl: Ctl, o: dict[str, Any]) -> None:
    dom = ctl.domain(o["domain"])
    exclusive(o, ("tree", "name"), ("parent", "roots"), ("parent", "tree"), ("roots", "tree"),
              ("roots", "from"), ("roots", "current"))  # fmt: skip
    snaps = _collect(ctl, dom, o)
    docs = {s.getName(): _doc(s) for s in snaps}
    names = list(docs) if o["topological"] else sorted(docs, key=str.casefold)
    if o["name"]:
        for name in names:
            ctl.print(name)
    elif o["tree"]:
        parents = {n: _parent(d) for n, d in docs.items()}
        ctl.out.write(tree_text(names, lambda n: parents[n] if parents[n] in docs else None))
    else:
        headers = ["Name", "Creation Time", "State", *(["Parent"] if o["parent"] else [])]
        rows = [_row(name, docs[name], o["parent"]) for name in names]
        ctl.table(headers, rows)


def _collect(ctl: Ctl, dom: virDomain, o: dict[str, Any]) -> list[virDomainSnapshot]:
    """The snapshots to show: all of the domain's, or those under --from / --current."""
    flags = flags_of(o, LIST_FLAGS)
    start: virDomainSnapshot | None = None
    if o["from"] is not None:
        start = call(lambda: dom.snapshotLookupByName(o["from"]))
    elif o["current"]:
        if not call(dom.hasCurrentSnapshot):
            raise VirshError(f"domain '{dom.name()}' has no current snapshot")
        start = call(dom.snapshotCurrent)
    if start is None:
        return call(lambda: dom.listAllSnapshots(flags))
    if o["descendants"]:
        flags |= LIST_DESCENDANTS
    found = call(lambda: start.listAllChildren(flags))
    return [start, *found] if o["tree"] else found


def _row(name: str, doc: ET.Element, parent: bool) -> list[str]:
    created = time.strftime(
        "%Y-%m-%d %H:%M:%S %z", time.localtime(int(doc.findtext("creationTime") or 0))
    )
    row = [name, created, doc.findtext("state") or ""]
    return [*row, _parent(doc) or ""] if parent else row


def tree_text(names: Sequence[str], parent_of: Callable[[str], str | None]) -> str:
    """vshTreePrint: each root, then its children under `  |` and `+- `, a blank line closing
    every last leaf."""
    lines: list[str] = []

    def walk(name: str, indent: str, last: str, root: bool) -> None:
        lines.append(f"{indent}{'' if root else '+- '}{name}")
        if not root:
            indent += (" " if name == last else "|") + " "
        children = [n for n in names if parent_of(n) == name]
        if children:
            lines.append(f"{indent}  |")
        for child in children:
            walk(child, indent + "  ", children[-1], False)
        if not children and name == last:
            lines.append(indent)

    for name in names:
        if parent_of(name) is None:
            walk(name, "", name, True)
    return "".join(f"{line}\n" for line in lines)
