"""Hostile and busy clients: malformed packets, oversize messages, floods, many clients."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import pyvirt
from pyvirt.client import libvirtError
from pyvirt.rpc import protocol
from pyvirt.rpc.protocol import Header, MessageType, Status
from pyvirt.rpc.remote import Proc
from pyvirt.virterror import ErrorCode
from tests.daemon.daemons import Daemon


def raw(daemon: Daemon) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(str(daemon.socket))
    sock.settimeout(5)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """True once the daemon has closed the connection (replies before that are drained)."""
    try:
        while sock.recv(65536):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def call(proc: int, body: bytes = b"", serial: int = 1) -> bytes:
    header = Header(protocol.REMOTE_PROGRAM, 1, proc, MessageType.CALL, serial, Status.OK)
    return protocol.encode(header, body)


def test_oversize_length_closes_the_connection(pyvirtd: Daemon) -> None:
    sock = raw(pyvirtd)
    sock.sendall(struct.pack(">I", protocol.MESSAGE_MAX + 1) + b"\0" * 64)
    assert closed_by_peer(sock)


def test_bad_program_closes_the_connection(pyvirtd: Daemon) -> None:
    sock = raw(pyvirtd)
    sock.sendall(struct.pack(">IIIiiIi", 28, 0x12345678, 1, 1, 0, 1, 0))
    assert closed_by_peer(sock)


def test_bad_arguments_get_an_rpc_error(pyvirtd: Daemon) -> None:
    sock = raw(pyvirtd)
    sock.sendall(call(Proc.DOMAIN_LOOKUP_BY_NAME, b"\xff\xff\xff\xff"))
    length = protocol.frame_length(sock.recv(4))
    header, body = protocol.decode(sock.recv(length))
    assert header.status == Status.ERROR and header.serial == 1
    assert struct.unpack(">i", bytes(body[:4]))[0] == ErrorCode.RPC
    sock.sendall(call(99999, serial=2))  # an unknown procedure: an error reply too
    length = protocol.frame_length(sock.recv(4))
    header, _ = protocol.decode(sock.recv(length))
    assert header.status == Status.ERROR and header.serial == 2


def test_fuzzer_does_not_disturb_other_clients(pyvirtd: Daemon) -> None:
    """Random and mutated packets on many connections while a client keeps working."""
    rng = random.Random(1234)
    valid = [call(p, b"\0" * rng.choice([0, 4, 8, 24])) for p in (1, 3, 23, 66, 273, 316)]
    stop = threading.Event()
    failures: list[BaseException] = []

    def worker() -> None:
        conn = pyvirt.open(pyvirtd.uri())
        try:
            while not stop.is_set():
                assert [d.name() for d in conn.listAllDomains()] == ["test"]
                assert conn.lookupByName("test").state()[0] == 1
        except BaseException as e:
            failures.append(e)
        finally:
            conn.close()

    thread = threading.Thread(target=worker)
    thread.start()
    deadline = time.monotonic() + 4
    sent = 0
    while time.monotonic() < deadline:
        sock = raw(pyvirtd)
        try:
            for _ in range(rng.randint(1, 5)):
                packet = bytearray(rng.choice(valid))
                for _ in range(rng.randint(0, 6)):
                    packet[rng.randrange(len(packet))] = rng.randrange(256)
                if rng.random() < 0.3:
                    packet = bytearray(rng.randbytes(rng.randint(1, 64)))
                sock.sendall(packet)
                sent += 1
        except OSError:
            pass  # the daemon closed this one: as it should
        sock.close()
    stop.set()
    thread.join(timeout=10)
    assert not failures, failures
    assert sent > 100
    assert pyvirtd.proc.poll() is None
    conn = pyvirt.open(pyvirtd.uri())
    assert conn.lookupByName("test").isActive() == 1
    conn.close()


def test_many_clients_call_concurrently(pyvirtd: Daemon) -> None:
    def session(i: int) -> int:
        conn = pyvirt.open(pyvirtd.uri())
        try:
            xml = (
                f"<domain type='test'><name>c{i}</name><memory>1024</memory>"
                "<os><type>hvm</type></os></domain>"
            )
            dom = conn.defineXML(xml)
            dom.create()
            with ThreadPoolExecutor(4) as pool:  # calls in flight on one connection
                states = list(pool.map(lambda _: dom.state()[0], range(20)))
            dom.destroy()
            dom.undefine()
            return sum(states)
        finally:
            conn.close()

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(session, range(8))) == [20] * 8


def test_calls_before_open_are_refused(pyvirtd: Daemon) -> None:
    sock = raw(pyvirtd)
    sock.sendall(call(Proc.CONNECT_GET_HOSTNAME))
    length = protocol.frame_length(sock.recv(4))
    header, _ = protocol.decode(sock.recv(length))
    assert header.status == Status.ERROR


def test_unknown_driver_uri(pyvirtd: Daemon) -> None:
    with pytest.raises(libvirtError) as err:
        pyvirt.open(f"nope+unix:///x?socket={pyvirtd.socket}")
    assert err.value.get_error_code() == ErrorCode.NO_CONNECT


def test_keepalive_ping_gets_a_pong(pyvirtd: Daemon) -> None:
    sock = raw(pyvirtd)
    ping = Header(protocol.KEEPALIVE_PROGRAM, 1, 1, MessageType.MESSAGE, 0, Status.OK)
    sock.sendall(protocol.encode(ping))
    length = protocol.frame_length(sock.recv(4))
    header, _ = protocol.decode(sock.recv(length))
    assert (header.program, header.procedure) == (protocol.KEEPALIVE_PROGRAM, 2)
