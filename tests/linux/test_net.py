"""virtio-net across VMMs: a pyvirt guest and a QEMU guest on one `-netdev socket` link.

test_devices.py checks each backend with each VMM on its own; this proves our
socket framing is QEMU's, in both roles (listener and connector).
"""

from __future__ import annotations

import pytest

from tests.conftest import vmm_argv

from .guest import Guest, LinuxGuest, free_port

pytestmark = pytest.mark.linux


@pytest.mark.parametrize(("listener", "connector"), [("pyvirt", "qemu"), ("qemu", "pyvirt")])
def test_socket_link_between_pyvirt_and_qemu(
    listener: str, connector: str, linux_guest: LinuxGuest
) -> None:
    port = free_port()
    sides = []
    for kind, mode, mac in ((listener, "listen", 1), (connector, "connect", 2)):
        options = [
            "-netdev", f"socket,id=n0,{mode}=127.0.0.1:{port}",
            "-device", f"virtio-net-pci,netdev=n0,mac=52:54:00:00:77:0{mac}",
        ]  # fmt: skip
        sides.append((vmm_argv(kind, "-display", "none", "-nodefaults"), options, kind))
    (a_vmm, a_options, a_name), (b_vmm, b_options, b_name) = sides
    with Guest(a_vmm, linux_guest, *a_options, name=a_name) as a:
        a.wait_ready()  # listening before the connector starts
        with Guest(b_vmm, linux_guest, *b_options, name=b_name) as b:
            b.wait_ready()
            a.run("ip addr add 192.168.77.1/24 dev eth0 && ip link set eth0 up")
            b.run("ip addr add 192.168.77.2/24 dev eth0 && ip link set eth0 up")
            b.run("ping -c 2 -W 10 192.168.77.1", timeout=90)
            a.run("ping -c 2 -W 10 192.168.77.2", timeout=90)
            b.poweroff()
        a.poweroff()
