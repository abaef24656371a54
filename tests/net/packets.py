"""Just enough of Ethernet, ARP, IPv4, ICMP, UDP, TCP and DHCP for a fake guest."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from ipaddress import IPv4Address

BROADCAST = b"\xff" * 6
GUEST_MAC = bytes.fromhex("525400123456")
ETH_IP, ETH_ARP = 0x0800, 0x0806
PROTO_ICMP, PROTO_TCP, PROTO_UDP = 1, 6, 17
TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 1, 2, 4, 8, 16
ZERO = IPv4Address("0.0.0.0")
DHCP_COOKIE = b"\x63\x82\x53\x63"


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ethernet(dst: bytes, src: bytes, ethertype: int, payload: bytes) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def arp_request(src_mac: bytes, src_ip: IPv4Address, target_ip: IPv4Address) -> bytes:
    body = struct.pack("!HHBBH", 1, ETH_IP, 6, 4, 1) + src_mac + src_ip.packed
    body += b"\0" * 6 + target_ip.packed
    return ethernet(BROADCAST, src_mac, ETH_ARP, body)


def arp_reply(src_mac: bytes, src_ip: IPv4Address, dst_mac: bytes, dst_ip: IPv4Address) -> bytes:
    body = struct.pack("!HHBBH", 1, ETH_IP, 6, 4, 2) + src_mac + src_ip.packed
    body += dst_mac + dst_ip.packed
    return ethernet(dst_mac, src_mac, ETH_ARP, body)


def ipv4(src: IPv4Address, dst: IPv4Address, proto: int, payload: bytes, ident: int = 1) -> bytes:
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto,
                         0, src.packed, dst.packed)  # fmt: skip
    header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
    return header + payload


def icmp_echo(ident: int, seq: int, data: bytes) -> bytes:
    body = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return body[:2] + struct.pack("!H", checksum(body)) + body[4:]


def _pseudo(src: IPv4Address, dst: IPv4Address, proto: int, length: int) -> bytes:
    return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)


def udp(src: IPv4Address, sport: int, dst: IPv4Address, dport: int, data: bytes) -> bytes:
    body = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    csum = checksum(_pseudo(src, dst, PROTO_UDP, len(body)) + body) or 0xFFFF
    return body[:6] + struct.pack("!H", csum) + body[8:]


def tcp(src: IPv4Address, sport: int, dst: IPv4Address, dport: int, seq: int, ack: int,
        flags: int, data: bytes = b"", window: int = 65535) -> bytes:  # fmt: skip
    body = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, window, 0, 0) + data
    csum = checksum(_pseudo(src, dst, PROTO_TCP, len(body)) + body)
    return body[:16] + struct.pack("!H", csum) + body[18:]


def dhcp(msg_type: int, xid: int, mac: bytes, requested: IPv4Address | None = None,
         server: IPv4Address | None = None) -> bytes:  # fmt: skip
    """A BOOTP request with the DHCP message type (1 DISCOVER, 3 REQUEST)."""
    bootp = struct.pack("!BBBBIHH4s4s4s4s16s64s128s", 1, 1, 6, 0, xid, 0, 0x8000, ZERO.packed,
                        ZERO.packed, ZERO.packed, ZERO.packed, mac, b"", b"")  # fmt: skip
    options = DHCP_COOKIE + bytes([53, 1, msg_type])
    if requested is not None:
        options += bytes([50, 4]) + requested.packed
    if server is not None:
        options += bytes([54, 4]) + server.packed
    options += bytes([55, 3, 1, 3, 6, 255])
    payload = udp(ZERO, 68, IPv4Address("255.255.255.255"), 67, bootp + options)
    packet = ipv4(ZERO, IPv4Address("255.255.255.255"), PROTO_UDP, payload)
    return ethernet(BROADCAST, mac, ETH_IP, packet)


@dataclass
class Frame:
    """A parsed frame: Ethernet fields, and the IPv4/transport fields when present."""

    dst: bytes
    src: bytes
    ethertype: int
    payload: bytes
    ip_src: IPv4Address | None = None
    ip_dst: IPv4Address | None = None
    proto: int | None = None
    l4: bytes = b""

    @classmethod
    def parse(cls, data: bytes) -> Frame:
        frame = cls(data[:6], data[6:12], struct.unpack("!H", data[12:14])[0], data[14:])
        if frame.ethertype == ETH_IP and len(frame.payload) >= 20:
            ihl = (frame.payload[0] & 0xF) * 4
            total = struct.unpack("!H", frame.payload[2:4])[0]
            frame.proto = frame.payload[9]
            frame.ip_src = IPv4Address(frame.payload[12:16])
            frame.ip_dst = IPv4Address(frame.payload[16:20])
            frame.l4 = frame.payload[ihl:total]
        return frame

    @property
    def ports(self) -> tuple[int, int]:
        return struct.unpack("!HH", self.l4[:4])

    def dhcp_reply(self) -> tuple[int, IPv4Address] | None:
        """(DHCP message type, your-IP) of a DHCP reply to port 68."""
        if self.proto != PROTO_UDP or self.ports[1] != 68:
            return None
        bootp = self.l4[8:]
        yiaddr = IPv4Address(bootp[16:20])
        options = bootp[240:]
        i = 0
        while i < len(options) and options[i] != 255:
            if options[i] == 0:
                i += 1
                continue
            code, length = options[i], options[i + 1]
            if code == 53:
                return options[i + 2], yiaddr
            i += 2 + length
        return None

    def tcp_fields(self) -> tuple[int, int, int, int, bytes]:
        """(seq, ack, flags, window, data) of a TCP segment."""
        seq, ack, offset, flags, window = struct.unpack("!IIBBH", self.l4[4:16])
        return seq, ack, flags, window, self.l4[(offset >> 4) * 4 :]
