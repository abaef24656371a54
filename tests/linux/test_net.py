"""virtio-net with the Linux guest: user networking (DHCP, ping, hostfwd), two guests on a
socket link, and a tap to a host namespace. Addresses other than the loopback's exist only
on the guests' virtual links or in a network namespace the test makes."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import vmm_argv

from .conftest import LinuxGuest
from .serial import Serial

READY = "PYVIRT_GUEST_READY"
PAIRS = [("qemu", "qemu"), ("pyvirt", "qemu"), ("qemu", "pyvirt"), ("pyvirt", "pyvirt")]
BOOT_TIMEOUT = 180.0
# udhcpc's hook: configure the interface from the lease (the guest may ship its own).
DHCP_SCRIPT = (
    'printf \'#!/bin/sh\\n[ "$1" = bound ] && ip addr add $ip/${mask:-24} dev $interface '
    "&& ip link set $interface up && ip route add default via ${router%% *}\\nexit 0\\n' "
    "> /tmp/dhcp.sh && chmod +x /tmp/dhcp.sh"
)


def pyvirt_has_netdev() -> bool:
    from pyvirt.vmm.options import OPTIONS

    return "netdev" in OPTIONS


def vmm_for(kind: str) -> list[str]:
    if kind == "pyvirt" and not pyvirt_has_netdev():
        pytest.skip("pyvirt-qemu does not take -netdev yet (wired in when PCI is merged)")
    return vmm_argv(kind, "-display", "none", "-nodefaults")


@pytest.fixture
def net_guest(request: pytest.FixtureRequest) -> LinuxGuest:
    """The Linux guest, or a prebuilt one from $PYVIRT_NET_GUEST; skips without virtio-net."""
    prebuilt = os.environ.get("PYVIRT_NET_GUEST")
    if prebuilt:
        out = Path(prebuilt)
        guest = LinuxGuest(out, out / "vmlinux", out / "bzImage", out / "initramfs.cpio",
                           (out / "cmdline").read_text().strip())  # fmt: skip
    else:
        guest = request.getfixturevalue("linux_guest")
    config = (guest.dir / "config").read_text()
    if "CONFIG_VIRTIO_NET=y" not in config or "CONFIG_VIRTIO_PCI=y" not in config:
        pytest.skip("the Linux guest's kernel has no virtio-net over PCI")
    return guest


class Guest:
    """A booted guest at its shell prompt."""

    def __init__(self, vmm: list[str], guest: LinuxGuest, *net: str) -> None:
        self.serial = Serial([
            *vmm, "-m", "256M", "-smp", "1", "-kernel", str(guest.vmlinux),
            "-initrd", str(guest.initramfs), "-append", guest.cmdline,
            "-serial", "stdio", "-no-reboot", *net,
        ])  # fmt: skip
        self.pos = 0
        self.count = 0

    def boot(self) -> None:
        self.pos = self.serial.expect(READY + "\r\n", BOOT_TIMEOUT)
        self.pos = self.serial.expect("# ", 60, after=self.pos)

    def run(self, command: str, timeout: float = 60, expect: str | None = None) -> str:
        """Run a shell command; it must exit 0. Returns its output (and `expect` must be in it)."""
        self.count += 1
        marker = f"@@{self.count}-"
        self.serial.type(f"{command}; echo {marker}$?")
        end = self.serial.expect(f"{marker}0\r\n", timeout, after=self.pos)
        out = self.serial.output[self.pos : end]
        self.pos = end
        if expect is not None:
            assert expect in out, f"{expect!r} not in the output of {command!r}{self.serial}"
        return out

    def start(self, command: str) -> None:
        """A background command."""
        self.serial.type(f"{command} &")

    def poweroff(self) -> None:
        self.serial.type("poweroff -f")
        assert self.serial.wait(60) == 0, f"VMM exit status is not 0{self.serial}"
        assert "Kernel panic" not in self.serial.output, self.serial

    def close(self) -> None:
        self.serial.close()


@contextlib.contextmanager
def guests(*specs: tuple[list[str], LinuxGuest, list[str]]) -> Iterator[list[Guest]]:
    """Boot guests side by side (their boots overlap); close them whatever happens."""
    started: list[Guest] = []
    try:
        for vmm, guest, net in specs:
            started.append(Guest(vmm, guest, *net))
        for g in started:
            g.boot()
        yield started
    finally:
        for g in started:
            g.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_line(port: int, send: bytes, timeout: float = 30) -> bytes:
    """Connect to the forwarded port (retrying until the guest listens); send, read a line."""
    deadline = time.monotonic() + timeout
    while True:
        data = b""
        with (
            contextlib.suppress(ConnectionError, TimeoutError),
            socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn,
        ):
            conn.sendall(send)
            while b"\n" not in data and (chunk := conn.recv(100)):
                data += chunk
        if data or time.monotonic() > deadline:
            return data
        time.sleep(0.5)  # slirp accepted, but nothing listened in the guest yet: reset


@pytest.mark.linux
@pytest.mark.parametrize("kind", ["pyvirt", "qemu"])
def test_user_network_dhcp_ping_hostfwd(kind: str, net_guest: LinuxGuest) -> None:
    port = free_port()
    net = ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:8080",
           "-device", "virtio-net-pci,netdev=n0"]  # fmt: skip
    with guests((vmm_for(kind), net_guest, net)) as (g,):
        g.run(DHCP_SCRIPT)
        g.run("ip link set eth0 up && udhcpc -i eth0 -n -q -t 5 -s /tmp/dhcp.sh", timeout=90)
        g.run("ip -4 addr show eth0", expect="inet 10.0.2.15/24")
        g.run("ping -c 1 10.0.2.2", timeout=60, expect="1 packets received")
        g.start("echo hello-from-guest | nc -l -p 8080")
        assert read_line(port, b"hello-from-host\n") == b"hello-from-guest\n"
        g.serial.expect("hello-from-host", 30, after=g.pos)
        g.poweroff()


@pytest.mark.linux
@pytest.mark.parametrize(("server", "client"), PAIRS)
def test_two_guests_on_a_socket_link(server: str, client: str, net_guest: LinuxGuest) -> None:
    port = free_port()
    server_net = ["-netdev", f"socket,id=n0,listen=127.0.0.1:{port}",
                  "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:01"]  # fmt: skip
    client_net = ["-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
                  "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:00:02"]  # fmt: skip
    server_vmm, client_vmm = vmm_for(server), vmm_for(client)
    with guests((server_vmm, net_guest, server_net)) as (a,):
        with guests((client_vmm, net_guest, client_net)) as (b,):
            for g, addr in ((a, "192.0.2.1"), (b, "192.0.2.2")):
                g.run(f"ip addr add {addr}/24 dev eth0 && ip link set eth0 up")
            b.run("ping -c 1 192.0.2.1", timeout=90, expect="1 packets received")
            a.run("ping -c 1 192.0.2.2", timeout=90, expect="1 packets received")
            b.poweroff()
        a.poweroff()


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("the tap test needs root and iproute2")
    name = f"pyvirt-net-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


@pytest.mark.linux
@pytest.mark.parametrize("kind", ["pyvirt", "qemu"])
def test_tap_ping(kind: str, net_guest: LinuxGuest, netns: str) -> None:
    """The VMM runs in a namespace of its own, where it creates the tap the test configures;
    the host kernel there answers the guest's ARP and pings."""
    ifname = "pvtap-guest"
    net = ["-netdev", f"tap,id=n0,ifname={ifname},script=no,downscript=no",
           "-device", "virtio-net-pci,netdev=n0"]  # fmt: skip
    vmm = ["ip", "netns", "exec", netns, *vmm_for(kind)]
    with guests((vmm, net_guest, net)) as (g,):
        for args in (["addr", "add", "192.0.2.1/24", "dev", ifname],
                     ["link", "set", ifname, "up"]):  # fmt: skip
            subprocess.run(["ip", "-n", netns, *args], check=True)
        g.run("ip addr add 192.0.2.2/24 dev eth0 && ip link set eth0 up")
        g.run("ping -c 1 192.0.2.1", timeout=90, expect="1 packets received")
        g.poweroff()
