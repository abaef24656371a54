"""The stream backend against real QEMU's socket and stream netdevs.

QEMU (no guest: -M none) joins its socket or stream netdev and its own
user-mode network on a hub (hubport netdevs), so a DHCP DISCOVER our
backend sends over the link is answered by QEMU's slirp: both directions of
QEMU's framing are exercised, with QEMU listening and with QEMU connecting.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import IPv4Address
from pathlib import Path

import pytest

from pyvirt.net.stream import StreamBackend
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import parse_netdev

from . import packets as p
from .conftest import Loop, Peer

QEMU = shutil.which("qemu-system-x86_64")
pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(QEMU is None, reason="qemu-system-x86_64 is not installed"),
]


@contextmanager
def qemu_link(netdev: str) -> Iterator[subprocess.Popen[bytes]]:
    assert QEMU is not None
    argv = [QEMU, "-M", "none", "-nodefaults", "-display", "none",
            "-netdev", f"{netdev},id=link", "-netdev", "user,id=slirp",
            "-netdev", "hubport,id=p0,hubid=0,netdev=link",
            "-netdev", "hubport,id=p1,hubid=0,netdev=slirp"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def connect_with_retry(netdev: str, proc: subprocess.Popen[bytes]) -> StreamBackend:
    deadline = time.monotonic() + 10
    while True:
        try:
            return StreamBackend(parse_netdev(netdev))
        except VmmError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def offers(peer: Peer) -> list[tuple[int, IPv4Address]]:
    return [r for f in peer.frames if (r := p.Frame.parse(f).dhcp_reply()) is not None]


def dhcp_through(loop: Loop, backend: StreamBackend) -> None:
    peer = loop.start(backend)
    loop.run_until(lambda: backend.conn is not None, timeout=10)
    backend.send([p.dhcp(1, 0xABCD, p.GUEST_MAC)])
    loop.run_until(lambda: offers(peer), timeout=10)
    assert offers(peer) == [(2, IPv4Address("10.0.2.15"))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_qemu_socket_listens_we_connect(loop: Loop) -> None:
    port = free_port()
    with qemu_link(f"socket,listen=127.0.0.1:{port}") as proc:
        dhcp_through(loop, connect_with_retry(f"socket,id=c,connect=127.0.0.1:{port}", proc))


def test_we_listen_qemu_socket_connects(loop: Loop) -> None:
    backend = StreamBackend(parse_netdev("socket,id=s,listen=127.0.0.1:0"))
    with qemu_link(f"socket,connect=127.0.0.1:{backend.address[1]}"):
        dhcp_through(loop, backend)


def test_qemu_stream_unix_server(loop: Loop, tmp_path: Path) -> None:
    path = tmp_path / "link.sock"
    with qemu_link(f"stream,server=on,addr.type=unix,addr.path={path}") as proc:
        client = f"stream,id=c,server=off,addr.type=unix,addr.path={path}"
        dhcp_through(loop, connect_with_retry(client, proc))


def test_we_listen_qemu_stream_connects(loop: Loop) -> None:
    backend = StreamBackend(parse_netdev(
        "stream,id=s,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=0"))  # fmt: skip
    port = backend.address[1]
    with qemu_link(f"stream,server=off,addr.type=inet,addr.host=127.0.0.1,addr.port={port}"):
        dhcp_through(loop, backend)
