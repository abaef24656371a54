"""pyvirtd on pyvirt:///session: real VMM processes (pyvirt-qemu with the tiny counter guest)
driven by the real virsh, across a daemon restart and a VMM's death."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from pyvirt.vmm import options as vmm_options
from tests.conftest import kvm_usable
from tests.daemon.conftest import VIRSH, VirshConsole, virsh
from tests.daemon.daemons import Daemon, start_pyvirtd
from tests.support import TinyGuests
from tests.virsh.conftest import PYVIRSH
from tests.virsh.test_interactive import spawn

pytestmark = pytest.mark.kvm
libvirt = pytest.importorskip("libvirt")


@pytest.fixture
def session(tiny_guests: TinyGuests) -> Iterator[tuple[Path, str]]:
    """(a temp dir, the counter domain's XML), skipping where pyvirt-qemu cannot run.

    The directory is short: QMP sockets live in the state directory and a unix
    socket's path has at most 107 bytes.
    """
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    if "qmp" not in vmm_options.OPTIONS:
        pytest.skip("pyvirt-qemu has no QMP server")
    xml = (
        "<domain type='kvm'><name>spin</name><memory unit='MiB'>32</memory>"
        f"<os><type>hvm</type><kernel>{tiny_guests['counter']}</kernel></os>"
        "<features><acpi/></features><devices><console type='pty'/></devices></domain>"
    )
    with tempfile.TemporaryDirectory(prefix="pyvirtd-") as tmp:
        yield Path(tmp), xml


def ok(daemon: Daemon, *args: str) -> str:
    result = virsh(daemon.uri("pyvirt", "/session"), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def until(predicate, timeout: float = 20) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)


def test_restart_keeps_domains_and_running_vmms(session: tuple[Path, str]) -> None:
    tmp, xml = session
    (tmp / "spin.xml").write_text(xml)
    daemon = start_pyvirtd(tmp, "pyvirt:///session")
    try:
        ok(daemon, "define", str(tmp / "spin.xml"))
        ok(daemon, "start", "spin")
        assert ok(daemon, "domstate", "spin").strip() == "running"
        pid = json.loads(next((tmp / "state").rglob("spin.json")).read_text())["pid"]
        daemon.stop()
        os.kill(pid, 0)  # the VMM outlives its daemon
        daemon = start_pyvirtd(tmp, "pyvirt:///session")
        assert " spin   running" in ok(daemon, "list", "--all")
        console = VirshConsole(daemon.uri("pyvirt", "/session"), "spin")
        console.read_until(b"count ")  # the guest's own output, through the daemon
        assert console.quit() == 0
        assert VIRSH is not None
        events = ["event", "--loop", "--timeout", "10", "--event", "lifecycle"]
        watcher = subprocess.Popen(
            [VIRSH, "-c", daemon.uri("pyvirt", "/session"), *events],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        time.sleep(1)
        os.kill(pid, signal.SIGKILL)  # the VMM dies: the daemon notices and tells
        until(lambda: ok(daemon, "domstate", "spin").strip() == "shut off")
        watcher.terminate()
        out = watcher.communicate(timeout=10)[0]
        assert "event 'lifecycle' for domain 'spin': Stopped Failed" in out
        assert "spin" in ok(daemon, "list", "--all")
        ok(daemon, "undefine", "spin")
    finally:
        daemon.stop()


PROGRESS = re.compile(r"Save: \[([ \d]{2}\d) %\]")  # virshPrintJobProgress's format


def run_argv(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """A client's run; text mode turns the progress lines' \\r into \\n."""
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


class SlowDisk:
    """A FIFO that takes a save at ~20 MB/s into `copy`: 32 MiB then take over a second,
    more than virsh's half a second between polls."""

    def __init__(self, fifo: Path, copy: Path) -> None:
        self.fifo = fifo
        os.mkfifo(fifo)
        self.fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)  # a reader from the start
        self.copy = copy.open("wb")
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._drain)
        self.thread.start()

    def _read(self, size: int) -> bool:
        try:
            chunk = os.read(self.fd, size)
        except BlockingIOError:
            return False
        self.copy.write(chunk)
        return True

    def _drain(self) -> None:
        while not self.done.wait(0.01):
            self._read(200_000)

    def close(self) -> None:
        """Once the save returned: the rest is in the pipe already."""
        self.done.set()
        self.thread.join()
        while self._read(1 << 16):
            pass
        os.close(self.fd)
        self.copy.close()


def test_save_verbose_shows_progress(session: tuple[Path, str], tiny_guests: TinyGuests) -> None:
    """virsh polls virDomainGetJobStats while the save runs and prints the percentage."""
    tmp, xml = session
    xml = xml.replace("<name>spin", "<name>big").replace(">32<", ">256<")
    xml = xml.replace(str(tiny_guests["counter"]), str(tiny_guests["filler"]))
    (tmp / "big.xml").write_text(xml)
    daemon = start_pyvirtd(tmp, "pyvirt:///session")
    uri = daemon.uri("pyvirt", "/session")
    try:
        ok(daemon, "create", str(tmp / "big.xml"))
        console = VirshConsole(uri, "big")
        console.read_until(b"filler: ready")
        assert console.quit() == 0
        conn = libvirt.open(uri)
        assert conn.lookupByName("big").jobInfo()[0] == libvirt.VIR_DOMAIN_JOB_NONE
        outputs = {}
        for name, argv in (("virsh", [VIRSH]), ("pyvirsh", PYVIRSH)):
            disk = SlowDisk(tmp / f"{name}.fifo", tmp / f"{name}.save")
            try:
                result = run_argv([*argv, "-c", uri, "save", "--verbose", "big", str(disk.fifo)])
            finally:
                disk.close()
            assert result.returncode == 0, result.stderr
            steps = [int(p) for p in PROGRESS.findall(result.stderr)]
            assert len(steps) >= 2 and steps[-1] == 100 and steps == sorted(steps), result.stderr
            assert result.stderr == "".join(f"\nSave: [{p:3d} %]" for p in steps)
            outputs[name] = result.stdout.replace(str(disk.fifo), "FILE")
            verbose = ["--verbose"] if name == "pyvirsh" else []  # virsh 9.0's restore has none
            restore = run_argv([*argv, "-c", uri, "restore", *verbose, str(tmp / f"{name}.save")])
            assert restore.returncode == 0, restore.stderr
        assert outputs["virsh"] == outputs["pyvirsh"]
        assert restore.stderr.endswith("Restore: [100 %]")
        disk = SlowDisk(tmp / "tty.fifo", tmp / "tty.save")
        try:  # on a terminal: a bar, with or without --verbose
            child = spawn([*PYVIRSH, "-c", uri, "save", "big", str(disk.fifo)])
            child.expect(r"Save: \[#*\.*\] +\d+ % [\d.]+s")
            child.expect("Domain 'big' saved to")
            child.expect(pexpect.EOF)
        finally:
            disk.close()
        conn.close()
    finally:
        daemon.stop()


def test_disk_and_interface_statistics(session: tuple[Path, str]) -> None:
    """virDomainBlockStats(Flags) and virDomainInterfaceStats through pyvirtd from the
    VMM's counters (the counter guest touches neither device: all zero), by target,
    source or MAC; the real virsh and pyvirsh print the same; bad names are refused."""
    tmp, xml = session
    disk = tmp / "disk.raw"
    disk.write_bytes(bytes(1 << 20))
    devices = (
        f"<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        f"<source file='{disk}'/><target dev='vda' bus='virtio'/></disk>"
        "<interface type='user'><mac address='52:54:00:ab:cd:ef'/><model type='virtio'/>"
        "</interface><console type='pty'/>"
    )
    (tmp / "spin.xml").write_text(xml.replace("<console type='pty'/>", devices))
    daemon = start_pyvirtd(tmp, "pyvirt:///session")
    uri = daemon.uri("pyvirt", "/session")
    try:
        ok(daemon, "define", str(tmp / "spin.xml"))
        conn = libvirt.open(uri)
        dom = conn.lookupByName("spin")
        with pytest.raises(libvirt.libvirtError, match="domain is not running"):
            dom.blockStats("vda")
        dom.create()
        assert dom.blockStats("vda") == (0, 0, 0, 0, -1)  # QEMU counts no errors: -1
        assert dom.blockStats(str(disk)) == dom.blockStats("") == (0, 0, 0, 0, -1)
        flags = dom.blockStatsFlags("vda")
        assert set(flags) == {"rd_operations", "rd_bytes", "rd_total_times", "wr_operations",
                              "wr_bytes", "wr_total_times", "flush_operations",
                              "flush_total_times"}  # fmt: skip
        assert dom.interfaceStats("52:54:00:AB:CD:EF") == (0,) * 8
        with pytest.raises(libvirt.libvirtError, match="invalid path: vdb"):
            dom.blockStats("vdb")
        with pytest.raises(libvirt.libvirtError, match="'vnet9' is not a known interface"):
            dom.interfaceStats("vnet9")
        conn.close()
        for args in (["domblkstat", "spin", "vda"], ["domblkstat", "spin", "--human"],
                     ["domifstat", "spin", "52:54:00:ab:cd:ef"], ["domblklist", "spin"],
                     ["domiflist", "spin"], ["domblkstat", "spin", "vdb"]):  # fmt: skip
            ref, ours = run_argv([VIRSH, "-c", uri, *args]), run_argv([*PYVIRSH, "-c", uri, *args])
            assert (ours.returncode, ours.stdout, ours.stderr) == (
                ref.returncode, ref.stdout, ref.stderr,
            ), args  # fmt: skip
        ok(daemon, "destroy", "spin")
    finally:
        daemon.stop()
