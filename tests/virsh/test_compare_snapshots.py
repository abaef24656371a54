"""Snapshot commands on test:///default: the real virsh and pyvirsh, each on its own pyvirtd,
same commands, same output (creation times, which differ by nature, normalised)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.virsh.conftest import Pair, Result, diff

TIMES = [
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}"), "<time>"),
    (re.compile(r"<creationTime>\d+</creationTime>"), "<creationTime/>"),
]


def _norm(r: Result) -> Result:
    out, err = r.stdout, r.stderr
    for pattern, repl in TIMES:
        out, err = pattern.sub(repl, out), pattern.sub(repl, err)
    return Result(r.status, out, err)


def same(pair: Pair, *commands: list[str]) -> Result:
    line = " ; ".join(" ".join(shlex.quote(w) for w in cmd) for cmd in commands)
    ref, ours = (_norm(r) for r in pair.both(line))
    assert ours == ref, f"pyvirsh {line}\n" + diff(ref, ours)
    return ours


def one(pair: Pair, *args: str) -> Result:
    """A single command in its own process (virsh's exit status is the command's)."""
    ref, ours = (_norm(r) for r in pair.both(*args))
    assert ours == ref, f"pyvirsh {' '.join(args)}\n" + diff(ref, ours)
    return ours


def build_tree(pair: Pair) -> None:
    """s1 - s2 (paused) - s3 (shut off), and a second branch s1 - b1."""
    same(
        pair,
        ["snapshot-create-as", "test", "s1", "--description", "first <one> & only"],
        ["suspend", "test"],
        ["snapshot-create-as", "test", "--name", "s2"],
        ["destroy", "test"],
        ["snapshot-create-as", "test", "s3"],
        ["snapshot-revert", "test", "s1"],
        ["snapshot-create-as", "test", "b1"],
    )


def test_empty_list_and_missing_snapshots(pair: Pair) -> None:
    one(pair, "snapshot-list", "test")
    one(pair, "snapshot-list", "test", "--name")
    one(pair, "snapshot-list", "test", "--tree")
    for args in (
        ["snapshot-info", "test", "nope"],
        ["snapshot-dumpxml", "test", "nope"],
        ["snapshot-revert", "test", "nope"],
        ["snapshot-delete", "test", "nope"],
        ["snapshot-current", "test"],
        ["snapshot-current", "test", "--name"],
        ["snapshot-info", "test"],
        ["snapshot-info", "test", "--current"],
        ["snapshot-parent", "test", "--current"],
        ["snapshot-list", "test", "--from", "nope"],
    ):
        assert one(pair, *args).status == 1


def test_create_list_info_dumpxml(pair: Pair) -> None:
    build_tree(pair)
    for args in (
        ["snapshot-list", "test"],
        ["snapshot-list", "test", "--parent"],
        ["snapshot-list", "test", "--tree"],
        ["snapshot-list", "test", "--name"],
        ["snapshot-list", "test", "--roots"],
        ["snapshot-list", "test", "--leaves"],
        ["snapshot-list", "test", "--no-leaves"],
        ["snapshot-list", "test", "--active"],
        ["snapshot-list", "test", "--inactive"],
        ["snapshot-list", "test", "--topological", "--parent"],
        ["snapshot-list", "test", "--from", "s1"],
        ["snapshot-list", "test", "--from", "s1", "--descendants", "--name"],
        ["snapshot-list", "test", "--from", "s1", "--tree"],
        ["snapshot-list", "test", "--current"],
        ["snapshot-info", "test", "s1"],
        ["snapshot-info", "test", "--snapshotname", "s2"],
        ["snapshot-info", "test", "--current"],
        ["snapshot-current", "test", "--name"],
        ["snapshot-parent", "test", "s3"],
        ["snapshot-parent", "test", "--current"],
        ["snapshot-create-as", "test", "--print-xml", "--name", "a<b", "--description", "x&y"],
    ):
        one(pair, *args)
    for args in (
        ["snapshot-parent", "test", "s1"],
        ["snapshot-list", "test", "--tree", "--name"],
        ["snapshot-list", "test", "--parent", "--tree"],
        ["snapshot-list", "test", "--roots", "--from", "s1"],
        ["snapshot-info", "test", "s1", "--current"],
        ["snapshot-create-as", "test", "s1"],  # exists
        ["snapshot-create-as", "test", "dd", "--disk-only"],  # not in libvirt's test driver
    ):
        assert one(pair, *args).status == 1


def test_dumpxml_and_current_show_the_document(pair: Pair) -> None:
    """The XML embeds the domain's: the same up to the PCI addresses libvirt's test driver
    adds to its definition (pyvirtd's test driver has none)."""
    build_tree(pair)
    for args in (["snapshot-dumpxml", "test", "s2"], ["snapshot-current", "test"]):
        ref, ours = (_norm(r) for r in pair.both(*args))
        assert ours.status == ref.status == 0
        assert ours.stdout.splitlines()[:12] == ref.stdout.splitlines()[:12]
        assert "<state>paused</state>" in pair.both("snapshot-dumpxml", "test", "s2")[1].stdout


def test_revert_restores_state(pair: Pair) -> None:
    build_tree(pair)
    same(
        pair,
        ["snapshot-revert", "test", "s2"],
        ["domstate", "test", "--reason"],
        ["snapshot-revert", "test", "s3"],
        ["domstate", "test", "--reason"],
        ["snapshot-revert", "test", "--snapshotname", "s1"],
        ["domstate", "test", "--reason"],
        ["snapshot-revert", "test", "s2", "--running"],
        ["domstate", "test", "--reason"],
        ["snapshot-revert", "test", "--current", "--paused"],
        ["domstate", "test", "--reason"],
        ["snapshot-current", "test", "--name"],
        ["snapshot-current", "test", "--snapshotname", "b1"],
        ["snapshot-current", "test", "--name"],
    )
    assert one(pair, "snapshot-revert", "test", "s1", "--running", "--paused").status == 1


def test_delete_variants(pair: Pair, tmp_path: Path) -> None:
    build_tree(pair)
    same(
        pair,
        ["snapshot-revert", "test", "s3"],
        ["snapshot-delete", "test", "s2"],  # s3 moves up to s1
        ["snapshot-list", "test", "--parent"],
        ["snapshot-delete", "test", "--current"],  # s3: s1 becomes current
        ["snapshot-current", "test", "--name"],
        ["snapshot-create-as", "test", "c1"],
        ["snapshot-create-as", "test", "c2"],
        ["snapshot-delete", "test", "s1", "--children-only"],
        ["snapshot-list", "test", "--tree"],
        ["snapshot-current", "test", "--name"],
        ["snapshot-delete", "test", "s1", "--metadata"],  # refused by libvirt's test driver
        ["snapshot-delete", "test", "s1", "--children"],
        ["snapshot-list", "test"],
    )


def test_create_from_xml_file(pair: Pair, tmp_path: Path) -> None:
    files = {
        "good": "<domainsnapshot><name>fromfile</name><description>d</description>"
        "<bogus/></domainsnapshot>",
        "broken": "<domainsnapshot><name>x</name>",
        "wrongroot": "<snapshot/>",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.xml").write_text(text)
    one(pair, "snapshot-create", "test", str(tmp_path / "good.xml"))
    for name in ("broken", "wrongroot", "missing"):
        assert one(pair, "snapshot-create", "test", str(tmp_path / f"{name}.xml")).status == 1
    one(pair, "snapshot-list", "test", "--name")


def test_undefine_keeps_a_domain_with_snapshots(pair: Pair) -> None:
    """As libvirt: an inactive domain with snapshots is undefined only with
    --snapshots-metadata, which drops them too."""
    same(
        pair,
        ["snapshot-create-as", "test", "s1"],
        ["destroy", "test"],
        ["undefine", "test"],
        ["snapshot-list", "test", "--name"],
        ["undefine", "test", "--snapshots-metadata"],
        ["list", "--all"],
    )
