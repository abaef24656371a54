"""The real virsh (Debian's libvirt-clients) against pyvirtd's test:///default."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.daemon.conftest import VIRSH, VirshConsole, virsh
from tests.daemon.daemons import Daemon

DOMAIN_XML = """<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
"""


def ok(daemon: Daemon, *args: str) -> str:
    result = virsh(daemon.uri(), *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_list_shows_the_default_domain(pyvirtd: Daemon) -> None:
    assert ok(pyvirtd, "list", "--all").splitlines()[:3] == [
        " Id   Name   State",
        "----------------------",
        " 1    test   running",
    ]
    assert ok(pyvirtd, "dumpxml", "test").startswith(
        "<domain type='test' id='1'>\n  <name>test</name>\n"
        "  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>\n"
        "  <memory unit='KiB'>8388608</memory>\n"
    )


def test_domain_life_cycle(pyvirtd: Daemon, tmp_path: Path) -> None:
    xml = tmp_path / "demo.xml"
    xml.write_text(DOMAIN_XML)
    assert f"Domain 'demo' defined from {xml}" in ok(pyvirtd, "define", str(xml))
    assert ok(pyvirtd, "domstate", "demo").strip() == "shut off"
    assert "Domain 'demo' started" in ok(pyvirtd, "start", "demo")
    info = ok(pyvirtd, "dominfo", "demo")
    assert "Name:           demo" in info
    assert "State:          running" in info
    assert "Max memory:     65536 KiB" in info
    assert "Persistent:     yes" in info
    assert ok(pyvirtd, "domstate", "--reason", "demo").strip() == "running (booted)"
    dumped = ok(pyvirtd, "dumpxml", "demo")
    assert "<name>demo</name>" in dumped and "id=" in dumped
    assert "Domain 'demo' is being shutdown" in ok(pyvirtd, "shutdown", "demo")
    assert ok(pyvirtd, "domstate", "--reason", "demo").strip() == "shut off (shutdown)"
    ok(pyvirtd, "start", "demo")
    assert "Domain 'demo' destroyed" in ok(pyvirtd, "destroy", "demo")
    assert ok(pyvirtd, "domstate", "--reason", "demo").strip() == "shut off (destroyed)"
    assert "Domain 'demo' has been undefined" in ok(pyvirtd, "undefine", "demo")
    assert "demo" not in ok(pyvirtd, "list", "--all")


def test_errors_are_libvirts(pyvirtd: Daemon, tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_text("<domain type='test'><name>x</name>")
    result = virsh(pyvirtd.uri(), "define", str(bad))
    assert result.returncode == 1
    assert "XML error" in result.stderr
    result = virsh(pyvirtd.uri(), "destroy", "test")
    assert result.returncode == 0
    result = virsh(pyvirtd.uri(), "destroy", "test")
    assert result.returncode == 1
    assert "Requested operation is not valid: domain is not running" in result.stderr


def test_event_loop_reports_lifecycle(pyvirtd: Daemon) -> None:
    assert VIRSH is not None
    watcher = subprocess.Popen(
        [VIRSH, "-c", pyvirtd.uri(), "event", "--loop", "--timeout", "3", "--event", "lifecycle"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    time.sleep(1)
    ok(pyvirtd, "destroy", "test")
    ok(pyvirtd, "start", "test")
    out = watcher.communicate(timeout=20)[0]
    assert watcher.returncode == 0, out
    assert "event 'lifecycle' for domain 'test': Stopped Destroyed" in out
    assert "event 'lifecycle' for domain 'test': Started Booted" in out
    assert "events received: 2" in out


def test_console_echoes(pyvirtd: Daemon) -> None:
    console = VirshConsole(pyvirtd.uri(), "test")
    console.read_until(b"Connected to the test console of test")
    console.type(b"hello pyvirt\r")
    console.read_until(b"hello pyvirt\r")
    assert console.quit() == 0


def test_pools_and_volumes(pyvirtd: Daemon, tmp_path: Path) -> None:
    listing = ok(pyvirtd, "pool-list", "--all", "--details")
    assert "default-pool   running   no          yes          100.00 GiB" in listing
    pool = tmp_path / "pool.xml"
    pool.write_text(
        "<pool type='dir'><name>extra</name><target><path>/extra</path></target></pool>"
    )
    assert "Pool extra defined" in ok(pyvirtd, "pool-define", str(pool))
    assert "Pool extra started" in ok(pyvirtd, "pool-start", "extra")
    assert "Pool extra marked as autostarted" in ok(pyvirtd, "pool-autostart", "extra")
    info = ok(pyvirtd, "pool-info", "extra")
    assert "State:          running" in info and "Autostart:      yes" in info
    vol = tmp_path / "vol.xml"
    vol.write_text(
        "<volume><name>disk.img</name><capacity unit='MiB'>10</capacity>"
        "<target><format type='raw'/></target></volume>"
    )
    assert "Vol disk.img created" in ok(pyvirtd, "vol-create", "extra", str(vol))
    vols = ok(pyvirtd, "vol-list", "extra", "--details")
    assert "disk.img   /extra/disk.img   file   10.00 MiB   10.00 MiB" in vols
    assert ok(pyvirtd, "vol-path", "disk.img", "--pool", "extra").strip() == "/extra/disk.img"
    assert "Capacity:       10.00 MiB" in ok(pyvirtd, "vol-info", "disk.img", "--pool", "extra")
    assert "<key>/extra/disk.img</key>" in ok(pyvirtd, "vol-dumpxml", "disk.img", "--pool", "extra")
    assert "Vol disk.img deleted" in ok(pyvirtd, "vol-delete", "disk.img", "--pool", "extra")
    assert "<path>/extra</path>" in ok(pyvirtd, "pool-dumpxml", "extra")
    assert "Pool extra destroyed" in ok(pyvirtd, "pool-destroy", "extra")
    assert "Pool extra has been undefined" in ok(pyvirtd, "pool-undefine", "extra")


def test_read_only_socket_refuses_destroy(pyvirtd: Daemon) -> None:
    result = virsh(pyvirtd.uri(readonly=True), "destroy", "test")
    assert result.returncode == 1
    assert "operation forbidden: read only access prevents virDomainDestroy" in result.stderr
    listing = virsh(pyvirtd.uri(readonly=True), "list")
    assert "test   running" in listing.stdout
