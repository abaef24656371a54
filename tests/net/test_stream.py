"""Two stream backends (unix and TCP, server and client) carry frames both ways,
with QEMU's framing, flow control, reconnection and a hostile peer."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import pytest

from pyvirt.net.backend import MAX_FRAME
from pyvirt.net.stream import StreamBackend
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import StreamNetdev, parse_netdev

from .conftest import Loop


def frames(count: int, size: int = 1514) -> list[bytes]:
    return [bytes([i & 0xFF]) * (size - i % 50) for i in range(count)]


def pair(kind: str, tmp_path: Path) -> tuple[StreamBackend, StreamBackend]:
    if kind == "unix":
        path = tmp_path / "net.sock"
        server = StreamBackend(parse_netdev(
            f"stream,id=s,server=on,addr.type=unix,addr.path={path}"))  # fmt: skip
        client = StreamBackend(parse_netdev(
            f"stream,id=c,server=off,addr.type=unix,addr.path={path}"))  # fmt: skip
    elif kind == "inet":
        server = StreamBackend(parse_netdev(
            "stream,id=s,server=on,addr.type=inet,addr.host=127.0.0.1,addr.port=0"))  # fmt: skip
        port = server.address[1]
        client = StreamBackend(parse_netdev(
            f"stream,id=c,addr.type=inet,addr.host=127.0.0.1,addr.port={port}"))  # fmt: skip
    else:  # QEMU 7.2's -netdev socket syntax
        server = StreamBackend(parse_netdev("socket,id=s,listen=127.0.0.1:0"))
        client = StreamBackend(parse_netdev(f"socket,id=c,connect=127.0.0.1:{server.address[1]}"))
    return server, client


@pytest.mark.parametrize("kind", ["unix", "inet", "socket"])
def test_frames_both_ways(kind: str, tmp_path: Path, loop: Loop) -> None:
    server, client = pair(kind, tmp_path)
    server_peer, client_peer = loop.start(server), loop.start(client)
    loop.run_until(lambda: server.conn is not None)
    sent = frames(200)
    for frame in sent:
        client.send([frame[:14], memoryview(frame)[14:]])
        server.send([frame])
    loop.run_until(lambda: len(server_peer.frames) == len(sent) == len(client_peer.frames))
    assert server_peer.frames == sent and client_peer.frames == sent


def test_paused_receiver_keeps_frames_in_order(tmp_path: Path, loop: Loop) -> None:
    server, client = pair("unix", tmp_path)
    server_peer, _ = loop.start(server), loop.start(client)
    loop.run_until(lambda: server.conn is not None)
    server_peer.full = True  # the guest has no receive buffers
    sent = frames(3000, size=200)
    for frame in sent:
        client.send([frame])
    loop.run_until(lambda: server.paused)
    loop.run_until(lambda: server.paused)
    for _ in range(20):
        loop.run_until(lambda: True)
    # one frame waits in the backend, the rest in the socket and the sender's queue
    assert len(server.rx_queue) == 1 and server.stats.rx_drop == 0 and not server.reading
    server_peer.full = False
    server.resume()
    loop.run_until(lambda: len(server_peer.frames) == len(sent))
    assert server_peer.frames == sent and server.stats.rx_drop == 0


def test_backpressure_reaches_the_sender(tmp_path: Path, loop: Loop) -> None:
    server, client = pair("unix", tmp_path)
    server_peer, client_peer = loop.start(server), loop.start(client)
    loop.run_until(lambda: server.conn is not None)
    server_peer.full = True
    big = bytes(60000)
    count = 0
    while client.send([big]):
        count += 1
        assert count < 10000, "the sender never filled up"
    assert client_peer.tx_ready_calls == 0
    server_peer.full = False
    server.resume()
    loop.run_until(lambda: client_peer.tx_ready_calls == 1)
    loop.run_until(lambda: len(server_peer.frames) == count + 1)


def test_server_listens_again_after_the_peer_leaves(tmp_path: Path, loop: Loop) -> None:
    server, client = pair("unix", tmp_path)
    server_peer, _ = loop.start(server), loop.start(client)
    loop.run_until(lambda: server.conn is not None)
    client.close()
    loop.run_until(lambda: server.conn is None)
    assert server.send([b"x" * 60])  # nobody there: dropped, not queued
    again = StreamBackend(StreamNetdev("c2", server=False, path=str(tmp_path / "net.sock")))
    loop.start(again)
    again.send([b"hello, again"])
    loop.run_until(lambda: server_peer.frames == [b"hello, again"])


def test_oversized_length_drops_the_connection(tmp_path: Path, loop: Loop) -> None:
    server = StreamBackend(StreamNetdev("s", server=True, host="127.0.0.1", port=0))
    peer = loop.start(server)
    raw = socket.create_connection(server.address)
    raw.sendall(struct.pack(">I", 4) + b"abcd" + struct.pack(">I", MAX_FRAME + 1) + b"x" * 100)
    loop.run_until(lambda: server.conn is None and peer.frames == [b"abcd"])
    assert raw.recv(10) == b""  # the server hung up
    raw.close()


def test_connect_refused_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(VmmError, match=r"-netdev stream,id=c: unix:.*nothing"):
        StreamBackend(StreamNetdev("c", server=False, path=str(tmp_path / "nothing")))
