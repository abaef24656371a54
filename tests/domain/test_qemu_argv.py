"""The QEMU command line of a domain: its shape, and both VMMs starting from it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import subprocess
import sys
from pathlib import Path

import pytest
from qemu.qmp import QMPClient

from pyvirt.block.raw import create_raw
from pyvirt.domain import parse_domain
from pyvirt.domain.qemu_argv import RuntimePaths, qemu_argv
from pyvirt.vmm import options as vmm_options
from tests.conftest import QEMU, kvm_usable
from tests.support import TinyGuests

XML_DIR = Path(__file__).parent / "xml"
PATHS = RuntimePaths("/run/q,1.sock", "/run/q.pid", {1: "vnet3"})


def argv_of(sample: str, paths: RuntimePaths = PATHS) -> list[str]:
    return qemu_argv(parse_domain((XML_DIR / sample).read_text()), ["EMU"], paths)


def pairs(argv: list[str]) -> list[tuple[str, str]]:
    """(option, value) for every option that takes one."""
    return [(a, b) for a, b in itertools.pairwise(argv) if a.startswith("-")]


def test_linux_guest_command_line() -> None:
    argv = argv_of("linux-guest.xml")
    assert argv[0] == "EMU"
    got = pairs(argv)
    for expected in [
        ("-name", "guest=linux,debug-threads=on"),
        ("-uuid", "c7a5fdbd-cdaf-9455-926a-d65c16db1809"),
        ("-machine", "pc,accel=kvm"),
        ("-cpu", "host,-xsave"),
        ("-m", "size=262144k"),
        ("-smp", "1"),
        ("-qmp", "unix:/run/q,,1.sock,server=on,wait=off"),
        ("-pidfile", "/run/q.pid"),
        ("-kernel", "/var/lib/pyvirt/boot/vmlinux"),
        ("-append", "console=ttyS0 noxsave"),
        ("-drive", "file=/var/lib/pyvirt/images/linux.qcow2,format=qcow2,if=none,"
                   "id=drive-virtio-disk0"),
        ("-device", "virtio-blk-pci,drive=drive-virtio-disk0,id=virtio-disk0"),
        ("-drive", "file=/var/lib/pyvirt/images/data.img,format=raw,if=none,"
                   "id=drive-virtio-disk1,readonly=on"),
        ("-netdev", "user,id=hostnet0"),
        ("-device", "virtio-net-pci,netdev=hostnet0,id=net0,mac=52:54:00:12:34:56"),
        ("-chardev", "pty,id=charserial0"),
        ("-serial", "chardev:charserial0"),
        ("-device", "virtio-rng-pci,id=rng0"),
    ]:  # fmt: skip
        assert expected in got
    for flag in ("-S", "-nodefaults"):
        assert flag in argv
    assert "-no-reboot" not in argv and "-boot" not in argv


def test_installer_command_line() -> None:
    got = pairs(argv_of("installer.xml", RuntimePaths("/q", "/p", {0: "vnet0", 1: "vnet1"})))
    for expected in [
        ("-boot", "order=dc"),
        ("-rtc", "base=localtime"),
        ("-device", "ahci,id=sata0"),
        ("-device", "ide-hd,bus=sata0.0,drive=drive-sata0-0-0,id=sata0-0-0"),
        ("-device", "ide-cd,bus=ide.1,unit=0,drive=drive-ide0-1-0,id=ide0-1-0"),
        ("-netdev", "tap,id=hostnet1,ifname=vnet1,script=no,downscript=no"),
        ("-chardev", "pty,id=charserial1"),
        ("-device", "virtio-rng-pci,id=rng0,max-bytes=1024,period=2000"),
        ("-device", "virtio-balloon-pci,id=balloon0"),
    ]:
        assert expected in got
    assert "-no-reboot" in argv_of("installer.xml", RuntimePaths("/q", "/p", {0: "a", 1: "b"}))


def test_a_tap_interface_without_its_tap_is_refused() -> None:
    with pytest.raises(Exception, match="interface 0 of type 'network' has no host tap"):
        argv_of("installer.xml", RuntimePaths("/q", "/p"))


def test_serial_gaps_are_filled_with_none() -> None:
    dom = parse_domain(
        "<domain type='kvm'><name>t</name><memory>65536</memory><os><type>hvm</type></os>"
        "<devices><serial type='pty'><target port='2'/></serial></devices></domain>"
    )
    argv = qemu_argv(dom, [], PATHS)
    serials = [v for o, v in pairs(argv) if o == "-serial"]
    assert serials == ["none", "none", "chardev:charserial2"]
    assert ("-machine", "pc,accel=kvm,acpi=off") in pairs(argv)


EMULATORS = {"qemu": [QEMU or "qemu-system-x86_64"], "pyvirt": [sys.executable, "-m", "pyvirt.vmm"]}


def emulator(kind: str) -> list[str]:
    if not kvm_usable():
        pytest.skip("/dev/kvm is not usable")
    if kind == "qemu" and QEMU is None:
        pytest.skip("qemu-system-x86_64 is not installed")
    if kind == "pyvirt" and "qmp" not in vmm_options.OPTIONS:
        pytest.skip("pyvirt-qemu has no QMP server yet (branch qmp)")
    return EMULATORS[kind]


@pytest.mark.kvm
@pytest.mark.parametrize("kind", ["qemu", "pyvirt"])
def test_both_vmms_start_paused_from_it_and_quit_over_qmp(
    kind: str, tmp_path: Path, tiny_guests: TinyGuests
) -> None:
    argv_prefix = emulator(kind)
    disk, data = tmp_path / "disk.img", tmp_path / "data.img"
    create_raw(str(disk), 1 << 20)
    create_raw(str(data), 1 << 20)
    xml = f"""<domain type='kvm'><name>argv,test</name><memory unit='MiB'>64</memory>
      <vcpu>2</vcpu>
      <os><type>hvm</type><kernel>{tiny_guests["pvh64"]}</kernel><cmdline>x</cmdline></os>
      <features><acpi/><apic/></features><cpu mode='host-passthrough'/>
      <devices>
        <disk type='file' device='disk'><source file='{disk}'/><target dev='vda'/></disk>
        <disk type='file' device='disk'><source file='{data}'/><target dev='vdb'/><readonly/>
        </disk>
        <interface type='user'/><console type='pty'/><rng model='virtio'>
        <backend model='random'>/dev/urandom</backend></rng>
      </devices></domain>"""
    paths = RuntimePaths(str(tmp_path / "qmp.sock"), str(tmp_path / "vmm.pid"))
    argv = qemu_argv(parse_domain(xml), argv_prefix, paths)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    try:
        status = asyncio.run(_status_then_quit(paths.qmp_socket, proc))
        assert (status["status"], status["running"]) == ("prelaunch", False)
        assert proc.wait(timeout=30) == 0, proc.stderr.read() if proc.stderr else ""
        assert not Path(paths.pidfile).exists()  # removed on exit, as QEMU does
    finally:
        proc.kill()
        proc.wait()


async def _status_then_quit(socket: str, proc: subprocess.Popen[str]) -> dict[str, object]:
    for _ in range(300):  # the VMM creates its socket within a few seconds
        if Path(socket).exists() or proc.poll() is not None:
            break
        await asyncio.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    qmp = QMPClient("argv-test")
    await qmp.connect(socket)
    status = await qmp.execute("query-status")
    assert isinstance(status, dict)
    await qmp.execute("quit")
    with contextlib.suppress(EOFError):  # the VMM hung up first, as QEMU does on quit
        await qmp.disconnect()
    return status
