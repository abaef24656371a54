"""The tap backend (root): a tap in a network namespace made for the test, given an address
with iproute2; ARP and ping from a fake guest through the backend are answered by the
namespace's kernel. Nothing leaves the namespace."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pyvirt.net.tap import TapBackend
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import TapNetdev, parse_netdev

from . import packets as p
from .conftest import Loop

CLONE_NEWNET = 0x40000000
HOST = IPv4Address("192.0.2.1")  # TEST-NET-1, inside the test's own namespace only
GUEST = IPv4Address("192.0.2.2")

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the tap backend needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 is not installed"),
    pytest.mark.skipif(not os.path.exists("/dev/net/tun"), reason="no /dev/net/tun"),
]


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"pyvirt-tap-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def ip(netns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", netns, *args], check=True, capture_output=True)


def in_netns(netns: str, body: Callable[[], None]) -> None:
    """Run `body` on a thread that has joined the namespace (setns is per thread)."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), "setns")
            finally:
                os.close(fd)
            body()
        except BaseException as e:
            errors.append(e)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]


def frames_of(peer_frames: list[bytes], ethertype: int) -> list[p.Frame]:
    return [f for f in map(p.Frame.parse, peer_frames) if f.ethertype == ethertype]


def test_arp_and_ping_through_a_tap(netns: str) -> None:
    def body() -> None:
        backend = TapBackend(parse_netdev("tap,id=t0,ifname=pvtap0,script=no,downscript=no"))
        assert backend.ifname == "pvtap0"
        ip(netns, "addr", "add", f"{HOST}/24", "dev", "pvtap0")
        ip(netns, "link", "set", "pvtap0", "up")
        loop = Loop()
        try:
            peer = loop.start(backend)
            backend.send([p.arp_request(p.GUEST_MAC, GUEST, HOST)])
            loop.run_until(lambda: frames_of(peer.frames, p.ETH_ARP))
            arp = frames_of(peer.frames, p.ETH_ARP)[0]
            assert arp.payload[7] == 2 and IPv4Address(arp.payload[14:18]) == HOST  # a reply
            host_mac = arp.src
            echo = p.icmp_echo(7, 1, b"through the tap")
            backend.send([p.ethernet(host_mac, p.GUEST_MAC, p.ETH_IP,
                                     p.ipv4(GUEST, HOST, p.PROTO_ICMP, echo))])  # fmt: skip
            loop.run_until(lambda: any(f.proto == p.PROTO_ICMP
                                       for f in frames_of(peer.frames, p.ETH_IP)))  # fmt: skip
            reply = next(f for f in frames_of(peer.frames, p.ETH_IP) if f.proto == p.PROTO_ICMP)
            assert (reply.ip_src, reply.ip_dst, reply.l4[0]) == (HOST, GUEST, 0)
            assert reply.l4[8:] == b"through the tap"
        finally:
            loop.close()

    in_netns(netns, body)


def test_scripts_get_the_interface_name(netns: str, tmp_path: Path) -> None:
    up, down = tmp_path / "ifup", tmp_path / "ifdown"
    for script, mark in ((up, "up"), (down, "down")):
        script.write_text(f'#!/bin/sh\necho "$1" > {tmp_path}/{mark}\n')
        script.chmod(0o755)

    def body() -> None:
        backend = TapBackend(TapNetdev("t0", None, script=str(up), downscript=str(down)))
        assert (tmp_path / "up").read_text().strip() == backend.ifname
        assert backend.ifname.startswith("tap")
        backend.close()
        assert (tmp_path / "down").read_text().strip() == backend.ifname

    in_netns(netns, body)


def test_attach_to_an_existing_tap_and_failing_script(netns: str, tmp_path: Path) -> None:
    ip(netns, "tuntap", "add", "dev", "pvtap1", "mode", "tap")
    fail = tmp_path / "fail"
    fail.write_text("#!/bin/sh\nexit 3\n")
    fail.chmod(0o755)

    def body() -> None:
        backend = TapBackend(TapNetdev("t1", "pvtap1", script=None, downscript=None))
        assert backend.ifname == "pvtap1"
        backend.close()
        with pytest.raises(VmmError, match="failed with status 3"):
            TapBackend(TapNetdev("t1", "pvtap1", script=str(fail), downscript=None))

    in_netns(netns, body)


def test_without_root_the_error_says_so() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child drops root, tries, and reports the error text
        message = "no error"
        try:
            os.setgid(65534)
            os.setuid(65534)
            TapBackend(TapNetdev("t0", script=None, downscript=None))
        except BaseException as e:
            message = str(e)
        os.write(write_end, message.encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        message = f.read().decode()
    os.waitpid(pid, 0)
    assert "needs root or CAP_NET_ADMIN" in message, message
