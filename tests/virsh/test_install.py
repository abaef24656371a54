"""pyvirt-install: its XML validates against libvirt's schema, and the VMs it creates run."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from pyvirt.vmm import options as vmm_options
from tests.conftest import kvm_usable
from tests.daemon.daemons import Daemon, start_pyvirtd
from tests.linux.conftest import LinuxGuest, linux_guest
from tests.support import TinyGuests
from tests.virsh.conftest import PYVIRSH, Pair, run
from tests.virsh.test_interactive import spawn

__all__ = ["linux_guest"]
INSTALL = [sys.executable, "-m", "pyvirt.install"]


def install(uri: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*INSTALL, "--connect", uri, *args], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip


def test_print_xml_validates(pair: Pair, tmp_path: Path) -> None:
    if shutil.which("virt-xml-validate") is None:
        pytest.skip("virt-xml-validate is not installed (apt-get install libvirt-clients)")
    image = tmp_path / "disk.img"
    image.write_bytes(b"\0" * 4096)
    variants = [
        ["--import", "--disk", f"path={image},bus=virtio", "--network", "user,model=virtio"],
        ["--import", "--disk", "pool=default-pool,size=1", "--disk", f"{image},bus=sata",
         "--network", "network=default", "--network", "bridge=br0", "--vcpus", "2,maxvcpus=4"],
        ["--boot", 'kernel=/k,initrd=/i,kernel_args="console=ttyS0,115200 quiet"',
         "--network", "none", "--graphics", "none", "--console", "pty",
         "--memory", "128,maxmemory=256"],
    ]  # fmt: skip
    for variant in variants:
        result = install(pair.ours.uri(), "--name", "demo", "--memory", "64", *variant,
                         "--print-xml")  # fmt: skip
        assert result.returncode == 0, result.stderr
        xml = tmp_path / "demo.xml"
        xml.write_text(result.stdout)
        check = subprocess.run(["virt-xml-validate", str(xml), "domain"], capture_output=True,
                               text=True)  # fmt: skip
        assert check.returncode == 0, check.stderr + result.stdout
    assert "<cmdline>console=ttyS0,115200 quiet</cmdline>" in result.stdout
    assert "demo" not in run([*PYVIRSH, "-c", pair.ours.uri(), "list", "--all"]).stdout


def test_creates_defines_and_starts(pair: Pair) -> None:
    uri = pair.ours.uri()
    result = install(uri, "--name", "demo", "--memory", "64", "--import", "--disk",
                     "pool=default-pool,size=1", "--autostart", "--noautoconsole")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Domain creation completed." in result.stdout
    info = run([*PYVIRSH, "-c", uri, "dominfo", "demo"]).stdout
    assert "State:          running" in info and "Autostart:      enable" in info
    assert "Max memory:     65536 KiB" in info
    vols = run([*PYVIRSH, "-c", uri, "vol-list", "default-pool"]).stdout
    assert "demo.qcow2   /default-pool/demo.qcow2" in vols
    transient = install(uri, "--name", "flash", "--memory", "32", "--import", "--transient",
                        "--noautoconsole")  # fmt: skip
    assert transient.returncode == 0, transient.stderr
    assert "Persistent:     no" in run([*PYVIRSH, "-c", uri, "dominfo", "flash"]).stdout


def test_errors(pair: Pair) -> None:
    uri = pair.ours.uri()
    for args, message in [
        (["--memory", "64", "--import"], "--name is required"),
        (["--name", "x", "--memory", "64"], "An install method must be specified"),
        (["--name", "x", "--memory", "64", "--import", "--graphics", "vnc"], "no display"),
        (["--name", "x", "--memory", "64", "--import", "--disk", "path=/nope/x.img"],
         "Size must be specified"),
        (["--name", "x", "--memory", "64", "--import", "--disk", "pool=nope,size=1"],
         "Storage pool not found"),
        (["--name", "x", "--memory", "64", "--import", "--network", "user,colour=red"],
         "Unknown --network options: ['colour']"),
    ]:  # fmt: skip
        result = install(uri, *args)
        assert result.returncode == 1, args
        assert result.stderr.startswith("ERROR    ") and message in result.stderr, result.stderr


@pytest.fixture
def session() -> Iterator[Daemon]:
    """pyvirtd on pyvirt:///session in a short directory (unix socket paths are short)."""
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    if "qmp" not in vmm_options.OPTIONS:
        pytest.skip("pyvirt-qemu has no QMP server")
    with tempfile.TemporaryDirectory(prefix="pvi-") as tmp:
        daemon = start_pyvirtd(Path(tmp), "pyvirt:///session")
        yield daemon
        for name in ("spin", "linux"):
            run([*PYVIRSH, "-c", daemon.uri("pyvirt", "/session"), "destroy", name])
        daemon.stop()


def last_count(uri: str) -> int:
    """The counter guest's latest `count N`, read on its console."""
    console = spawn([*PYVIRSH, "-c", uri, "console", "spin"])
    console.expect(r"count (\d+)\r?\n")
    console.expect(r"count (\d+)\r?\n")
    count = int(console.match.group(1))
    console.send("\x1d")
    console.expect(pexpect.EOF)
    console.close()
    return count


@pytest.mark.kvm
def test_boots_a_tiny_guest_saves_and_restores_it(session: Daemon, tiny_guests: TinyGuests) -> None:
    uri = session.uri("pyvirt", "/session")
    kernel = f"kernel={tiny_guests['counter']}"
    result = install(uri, "--name", "spin", "--memory", "32", "--boot", kernel,
                     "--network", "none", "--noautoconsole")  # fmt: skip
    assert result.returncode == 0, result.stderr
    console = spawn([*PYVIRSH, "-c", uri, "console", "spin"])
    console.expect_exact("count ")  # the guest's own output
    console.send("\x1d")
    console.expect(pexpect.EOF)
    console.close()
    assert console.exitstatus == 0
    time.sleep(1)  # about ten counts: a guest that started over would not be past them
    before = last_count(uri)
    saved = Path(session.socket).parent / "spin.save"
    assert run([*PYVIRSH, "-c", uri, "save", "spin", str(saved)]).status == 0
    assert run([*PYVIRSH, "-c", uri, "domstate", "--reason", "spin"]).stdout == (
        "shut off (saved)\n\n"
    )
    assert run([*PYVIRSH, "-c", uri, "restore", str(saved)]).status == 0
    assert last_count(uri) > before  # the guest's memory came back: it counts on
    console = spawn([*PYVIRSH, "-c", uri, "console", "spin"])
    console.expect_exact("count ")
    run([*PYVIRSH, "-c", uri, "destroy", "spin"])
    console.expect(pexpect.EOF)  # the guest is gone: the console ends by itself
    console.close()
    assert "shut off" in run([*PYVIRSH, "-c", uri, "domstate", "spin"]).stdout


@pytest.mark.kvm
@pytest.mark.linux
def test_linux_guest_answers_on_the_console(session: Daemon, linux_guest: LinuxGuest) -> None:
    """pyvirt-install attaches the console as virt-install does; we type into the guest's shell."""
    uri = session.uri("pyvirt", "/session")
    boot = (f"kernel={linux_guest.vmlinux},initrd={linux_guest.initramfs},"
            f'kernel_args="{linux_guest.cmdline}"')  # fmt: skip
    child = spawn([*INSTALL, "--connect", uri, "--name", "linux", "--memory", "256", "--boot",
                   boot, "--network", "none"])  # fmt: skip
    child.expect_exact("Running text console command")
    child.expect_exact("PYVIRT_GUEST_READY", timeout=180)
    child.send("echo $((6 * 7))\r")
    child.expect_exact("42", timeout=60)
    child.send("\x1d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
