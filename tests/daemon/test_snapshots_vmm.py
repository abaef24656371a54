"""Snapshots on pyvirt:///session through pyvirtd: internal qcow2 snapshots of a shut-off
domain, driven by the real virsh and libvirt-python, checked with the real qemu-img and
qemu-io, kept across a daemon restart; refusals change nothing."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyvirt.vmm import options as vmm_options
from tests.conftest import kvm_usable
from tests.daemon.conftest import virsh
from tests.daemon.daemons import Daemon, start_pyvirtd
from tests.support import TinyGuests
from tests.virsh.conftest import PYVIRSH, run

libvirt = pytest.importorskip("libvirt")
QEMU_IMG, QEMU_IO = shutil.which("qemu-img"), shutil.which("qemu-io")

DOMAIN = """<domain type='kvm'><name>{name}</name><memory unit='MiB'>32</memory>
<os><type>hvm</type></os><devices>
<disk type='file' device='disk'><driver name='qemu' type='{fmt}'/>
<source file='{path}'/><target dev='vda' bus='virtio'/></disk>
<disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
</devices></domain>"""


@pytest.fixture
def session() -> Iterator[tuple[Path, Daemon]]:
    """A short temp dir (unix socket paths) with a qcow2 domain `vm` and a raw one `rawvm`,
    both defined and shut off, on a pyvirtd serving pyvirt:///session."""
    if QEMU_IMG is None or QEMU_IO is None:
        pytest.skip("qemu-img / qemu-io are not installed (apt-get install qemu-utils)")
    with tempfile.TemporaryDirectory(prefix="pvs-") as tmp:
        top = Path(tmp)
        subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", top / "vm.qcow2", "16M"],
                       check=True)  # fmt: skip
        subprocess.run([QEMU_IMG, "create", "-q", "-f", "raw", top / "raw.img", "1M"], check=True)
        for name, fmt, path in (("vm", "qcow2", "vm.qcow2"), ("rawvm", "raw", "raw.img")):
            (top / f"{name}.xml").write_text(DOMAIN.format(name=name, fmt=fmt, path=top / path))
        daemon = start_pyvirtd(top, "pyvirt:///session")
        try:
            for name in ("vm", "rawvm"):
                ok(daemon, "define", str(top / f"{name}.xml"))
            yield top, daemon
        finally:
            daemon.stop()


def uri(daemon: Daemon) -> str:
    return daemon.uri("pyvirt", "/session")


def ok(daemon: Daemon, *args: str) -> str:
    result = virsh(uri(daemon), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def fails(daemon: Daemon, *args: str) -> str:
    result = virsh(uri(daemon), *args)
    assert result.returncode == 1, result.stdout
    return result.stderr


def qemu_io(image: Path, command: str) -> str:
    assert QEMU_IO is not None
    done = subprocess.run([QEMU_IO, "-f", "qcow2", "-c", command, str(image)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return done.stdout


def image_snapshots(image: Path) -> list[str]:
    assert QEMU_IMG is not None
    out = subprocess.run([QEMU_IMG, "snapshot", "-l", str(image)],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return [line.split()[1] for line in out.splitlines()[2:]]


def image_clean(image: Path) -> bool:
    assert QEMU_IMG is not None
    return subprocess.run([QEMU_IMG, "check", "-q", str(image)]).returncode == 0


def test_internal_snapshots_of_a_shut_off_domain(session: tuple[Path, Daemon]) -> None:
    top, daemon = session
    image = top / "vm.qcow2"
    qemu_io(image, "write -P 0x41 0 64k")
    assert ok(daemon, "snapshot-create-as", "vm", "s1", "--description", "As") == (
        "Domain snapshot s1 created\n"
    )
    qemu_io(image, "write -P 0x42 0 64k")
    ok(daemon, "snapshot-create-as", "vm", "s2")
    assert image_snapshots(image) == ["s1", "s2"] and image_clean(image)
    assert "s2     " in ok(daemon, "snapshot-list", "vm", "--parent")

    xml = ok(daemon, "snapshot-dumpxml", "vm", "s2")
    assert "<state>shutoff</state>" in xml and "<name>s1</name>" in xml  # the parent
    assert "<disk name='vda' snapshot='internal'/>" in xml
    assert "<disk name='hdc' snapshot='no'/>" in xml

    ok(daemon, "snapshot-revert", "vm", "s1")
    assert "Pattern verification failed" not in qemu_io(image, "read -P 0x41 0 64k")
    assert ok(daemon, "snapshot-current", "vm", "--name").strip() == "s1"
    assert ok(daemon, "domstate", "vm", "--reason").strip() == "shut off (from snapshot)"

    ok(daemon, "snapshot-delete", "vm", "s2")
    assert image_snapshots(image) == ["s1"] and image_clean(image)

    daemon.stop()  # the metadata outlives the daemon
    daemon = start_pyvirtd(top, "pyvirt:///session")
    try:
        conn = libvirt.open(uri(daemon))
        dom = conn.lookupByName("vm")
        assert [s.getName() for s in dom.listAllSnapshots()] == ["s1"]
        snap = dom.snapshotCurrent()
        assert snap.getName() == "s1" and snap.isCurrent() and snap.hasMetadata()
        assert "<description>As</description>" in snap.getXMLDesc()
        snap.delete()
        assert dom.snapshotNum() == 0 and not dom.hasCurrentSnapshot()
        assert image_snapshots(image) == [] and image_clean(image)
        conn.close()
    finally:
        daemon.stop()


def test_unreadable_metadata_is_reported_and_kept(session: tuple[Path, Daemon]) -> None:
    """A damaged metadata file is named in the error and never overwritten."""
    top, daemon = session
    ok(daemon, "snapshot-create-as", "vm", "s1")
    daemon.stop()
    (metadata,) = top.glob("**/snapshots/vm.json")
    metadata.write_text("{damaged")
    daemon = start_pyvirtd(top, "pyvirt:///session")
    try:
        for args in (["snapshot-list", "vm"], ["snapshot-create-as", "vm", "s2"]):
            assert f"cannot read snapshot metadata {metadata}" in fails(daemon, *args)
        assert metadata.read_text() == "{damaged"
        assert image_snapshots(top / "vm.qcow2") == ["s1"]
    finally:
        daemon.stop()


def test_pyvirsh_prints_what_virsh_prints(session: tuple[Path, Daemon]) -> None:
    _, daemon = session
    ok(daemon, "snapshot-create-as", "vm", "one")
    ok(daemon, "snapshot-create-as", "vm", "two", "--description", "second")
    for args in (
        ["snapshot-list", "vm"],
        ["snapshot-list", "vm", "--tree"],
        ["snapshot-info", "vm", "two"],
        ["snapshot-dumpxml", "vm", "one"],
        ["snapshot-create-as", "rawvm", "x"],
        ["snapshot-revert", "vm", "nope"],
    ):
        ref = virsh(uri(daemon), *args)
        ours = run([*PYVIRSH, "-c", uri(daemon), *args])
        assert (ours.status, ours.stdout, ours.stderr) == (
            ref.returncode,
            ref.stdout,
            ref.stderr,
        ), args


def test_refusals_change_nothing(session: tuple[Path, Daemon]) -> None:
    top, daemon = session
    ok(daemon, "snapshot-create-as", "vm", "keep")
    before = (image_snapshots(top / "vm.qcow2"), ok(daemon, "snapshot-list", "vm", "--name"))
    raw = (top / "raw.img").read_bytes()

    assert fails(daemon, "snapshot-create-as", "rawvm", "x") == (
        "error: unsupported configuration: internal snapshot for disk vda unsupported for "
        "storage type raw\n"
    )
    assert fails(daemon, "snapshot-create-as", "vm", "keep") == (
        "error: operation failed: domain moment keep already exists\n"
    )
    assert "no domain snapshot with matching name 'nope'" in fails(
        daemon, "snapshot-revert", "vm", "nope"
    )
    (top / "bad.xml").write_text("<domainsnapshot><name>x</name>")
    assert fails(daemon, "snapshot-create", "vm", str(top / "bad.xml")).startswith(
        "error: (domain_snapshot):1: Premature end of data in tag domainsnapshot"
    )
    assert "unsupported flags (0x10) in function qemuDomainSnapshotCreateXML" in fails(
        daemon, "snapshot-create-as", "vm", "d", "--disk-only"
    )

    assert (image_snapshots(top / "vm.qcow2"), ok(daemon, "snapshot-list", "vm", "--name")) == (
        before
    )
    assert (top / "raw.img").read_bytes() == raw
    assert ok(daemon, "snapshot-list", "rawvm", "--name").strip() == ""

    # Undefining keeps the domain while it has snapshots; --snapshots-metadata drops their
    # metadata (the image keeps its internal snapshots, as with libvirt).
    assert fails(daemon, "undefine", "vm") == (
        "error: Failed to undefine domain 'vm'\n"
        "error: Requested operation is not valid: cannot delete inactive domain with 1 "
        "snapshots\n"
    )
    metadata = list(top.glob("**/snapshots/vm.json"))
    assert len(metadata) == 1
    ok(daemon, "undefine", "vm", "--snapshots-metadata")
    assert not metadata[0].exists()
    assert image_snapshots(top / "vm.qcow2") == before[0]
    ok(daemon, "define", str(top / "vm.xml"))  # a new domain of the same name: no snapshots
    assert ok(daemon, "snapshot-list", "vm", "--name").strip() == ""


@pytest.mark.kvm
def test_running_domain_is_refused(tiny_guests: TinyGuests) -> None:
    """A running domain would need savevm: refused, the image untouched; shut off, it works."""
    if not kvm_usable() or "qmp" not in vmm_options.OPTIONS:
        pytest.skip("/dev/kvm is not usable or pyvirt-qemu has no QMP server")
    if QEMU_IMG is None:
        pytest.skip("qemu-img is not installed")
    with tempfile.TemporaryDirectory(prefix="pvs-") as tmp:
        top = Path(tmp)
        image = top / "spin.qcow2"
        subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", image, "16M"], check=True)
        (top / "spin.xml").write_text(
            "<domain type='kvm'><name>spin</name><memory unit='MiB'>32</memory>"
            f"<os><type>hvm</type><kernel>{tiny_guests['counter']}</kernel></os>"
            "<features><acpi/></features>"
            "<devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
            f"<source file='{image}'/><target dev='vda' bus='virtio'/></disk>"
            "<console type='pty'/></devices></domain>"
        )
        daemon = start_pyvirtd(top, "pyvirt:///session")
        try:
            ok(daemon, "define", str(top / "spin.xml"))
            ok(daemon, "start", "spin")
            assert fails(daemon, "snapshot-create-as", "spin", "live") == (
                "error: Operation not supported: internal snapshots of a running domain are "
                "not supported\n"
            )
            assert ok(daemon, "snapshot-list", "spin", "--name").strip() == ""
            ok(daemon, "destroy", "spin")
            assert image_snapshots(image) == []
            ok(daemon, "snapshot-create-as", "spin", "off")
            ok(daemon, "start", "spin")
            ok(daemon, "snapshot-revert", "spin", "off")  # stops the VMM first, as libvirt
            assert ok(daemon, "domstate", "spin").strip() == "shut off"
            ok(daemon, "snapshot-revert", "spin", "off", "--running")
            assert ok(daemon, "domstate", "spin").strip() == "running"
            ok(daemon, "destroy", "spin")
            assert image_snapshots(image) == ["off"] and image_clean(image)
        finally:
            daemon.stop()
