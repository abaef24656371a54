"""The user backend on the real libslirp: a fake guest gets QEMU's DHCP lease, pings the
gateway, and takes a host TCP connection through hostfwd. All traffic stays on this host:
the gateway answers pings itself and the forwarded port listens on 127.0.0.1."""

from __future__ import annotations

import contextlib
import socket
from ipaddress import IPv4Address

import pytest

from pyvirt.net import libslirp
from pyvirt.net.user import UserBackend
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.netdev_options import parse_netdev

from . import packets as p
from .conftest import Loop, Peer

try:
    libslirp.load()
except libslirp.LibslirpMissing as e:
    pytest.skip(str(e), allow_module_level=True)

GUEST = IPv4Address("10.0.2.15")
GATEWAY = IPv4Address("10.0.2.2")


def parsed(peer: Peer) -> list[p.Frame]:
    return [p.Frame.parse(f) for f in peer.frames]


def dhcp_replies(peer: Peer) -> list[tuple[int, IPv4Address]]:
    return [r for f in parsed(peer) if (r := f.dhcp_reply()) is not None]


def lease(loop: Loop, backend: UserBackend, peer: Peer) -> p.Frame:
    """DISCOVER, OFFER, REQUEST, ACK; returns the ACK frame."""
    backend.send([p.dhcp(1, 0x1234, p.GUEST_MAC)])
    loop.run_until(lambda: dhcp_replies(peer))
    assert dhcp_replies(peer) == [(2, GUEST)]  # OFFER of 10.0.2.15
    backend.send([p.dhcp(3, 0x1234, p.GUEST_MAC, requested=GUEST, server=GATEWAY)])
    loop.run_until(lambda: len(dhcp_replies(peer)) == 2)
    assert dhcp_replies(peer)[1] == (5, GUEST)  # ACK
    return [f for f in parsed(peer) if f.dhcp_reply()][1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dhcp_lease_is_qemus(loop: Loop) -> None:
    backend = UserBackend(parse_netdev("user,id=u0"))
    peer = loop.start(backend)
    ack = lease(loop, backend, peer)
    assert ack.ip_src == GATEWAY and ack.src == bytes.fromhex("52550a000202")  # QEMU's


def test_other_network(loop: Loop) -> None:
    backend = UserBackend(parse_netdev("user,id=u0,net=192.168.76.0/24,dhcpstart=192.168.76.9"))
    peer = loop.start(backend)
    backend.send([p.dhcp(1, 7, p.GUEST_MAC)])
    loop.run_until(lambda: dhcp_replies(peer))
    assert dhcp_replies(peer) == [(2, IPv4Address("192.168.76.9"))]


def test_gateway_answers_ping(loop: Loop) -> None:
    backend = UserBackend(parse_netdev("user,id=u0"))
    peer = loop.start(backend)
    ack = lease(loop, backend, peer)
    echo = p.icmp_echo(0x4242, 1, b"pyvirt ping")
    backend.send([p.ethernet(ack.src, p.GUEST_MAC, p.ETH_IP,
                             p.ipv4(GUEST, GATEWAY, p.PROTO_ICMP, echo))])  # fmt: skip
    loop.run_until(lambda: any(f.proto == p.PROTO_ICMP for f in parsed(peer)))
    reply = next(f for f in parsed(peer) if f.proto == p.PROTO_ICMP)
    assert (reply.ip_src, reply.ip_dst) == (GATEWAY, GUEST)
    assert reply.l4[0] == 0 and reply.l4[4:] == echo[4:]  # echo reply, same id, seq and data


def test_hostfwd_reaches_a_guest_tcp_service(loop: Loop) -> None:
    port = free_port()
    backend = UserBackend(parse_netdev(f"user,id=u0,hostfwd=tcp:127.0.0.1:{port}-:8080"))
    peer = loop.start(backend)
    ack = lease(loop, backend, peer)
    gw_mac = ack.src
    client = socket.socket()
    client.setblocking(False)
    client.connect_ex(("127.0.0.1", port))

    def segments() -> list[p.Frame]:
        return [f for f in parsed(peer) if f.proto == p.PROTO_TCP and f.ip_dst == GUEST]

    loop.run_until(lambda: segments())
    syn = segments()[0]
    sport, dport = syn.ports
    seq, _, flags, _, _ = syn.tcp_fields()
    assert dport == 8080 and flags & p.TCP_SYN

    def to_host(seq_: int, ack_: int, flags_: int, data: bytes = b"") -> None:
        segment = p.tcp(GUEST, 8080, syn.ip_src, sport, seq_, ack_, flags_, data)
        backend.send([p.ethernet(gw_mac, p.GUEST_MAC, p.ETH_IP,
                                 p.ipv4(GUEST, syn.ip_src, p.PROTO_TCP, segment))])  # fmt: skip

    my_seq = 1000
    to_host(my_seq, seq + 1, p.TCP_SYN | p.TCP_ACK)
    my_seq += 1
    loop.run_until(lambda: client.connect_ex(("127.0.0.1", port)) in (0, 106))  # EISCONN
    client.sendall(b"hello guest")
    loop.run_until(lambda: any(f.tcp_fields()[4] for f in segments()))
    data_seg = next(f for f in segments() if f.tcp_fields()[4])
    dseq, _, _, _, data = data_seg.tcp_fields()
    assert data == b"hello guest"
    to_host(my_seq, dseq + len(data), p.TCP_ACK | p.TCP_PSH, b"hello host")
    got = bytearray()

    def received() -> bool:
        with contextlib.suppress(BlockingIOError):
            got.extend(client.recv(100))
        return got == b"hello host"

    loop.run_until(received)
    client.close()


def test_hostfwd_on_a_busy_port_is_an_error() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(VmmError, match=f"host forwarding rule 'tcp:127.0.0.1:{port}-:22'"):
            UserBackend(parse_netdev(f"user,id=u0,hostfwd=tcp:127.0.0.1:{port}-:22"))


def test_frames_wait_while_the_guest_has_no_buffers(loop: Loop) -> None:
    backend = UserBackend(parse_netdev("user,id=u0,restrict=on,hostname=pyvirt"))
    peer = loop.start(backend)
    peer.full = True
    backend.send([p.dhcp(1, 9, p.GUEST_MAC)])
    loop.run_until(lambda: backend.paused and backend.rx_queue)
    assert peer.frames == []
    peer.full = False
    backend.resume()
    assert dhcp_replies(peer) == [(2, GUEST)] and not backend.paused
