"""libvirt's RPC framing (virnetprotocol.x): a 4-byte length that counts itself, a
24-byte header, then the XDR body (raw bytes for stream data)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, replace
from enum import IntEnum

from pyvirt.rpc.xdr import XdrError

REMOTE_PROGRAM = 0x20008086
REMOTE_VERSION = 1
KEEPALIVE_PROGRAM = 0x6B656570
KEEPALIVE_VERSION = 1

MESSAGE_MAX = 16 * 1024 * 1024  # the whole packet, length word included
LEN_SIZE = 4
HEADER = struct.Struct(">IIiiIi")  # program, version, procedure, type, serial, status
STREAM_CHUNK = 256 * 1024  # payload per STREAM packet, as libvirt sends


class MessageType(IntEnum):
    CALL = 0
    REPLY = 1
    MESSAGE = 2
    STREAM = 3
    CALL_WITH_FDS = 4
    REPLY_WITH_FDS = 5
    STREAM_HOLE = 6


class Status(IntEnum):
    OK = 0
    ERROR = 1
    CONTINUE = 2


class KeepaliveProc(IntEnum):
    PING = 1
    PONG = 2


@dataclass(frozen=True)
class Header:
    program: int
    version: int
    procedure: int
    type: int
    serial: int
    status: int

    def reply(self, status: Status = Status.OK, type: MessageType = MessageType.REPLY) -> Header:
        return replace(self, type=type, status=status)


def encode(header: Header, body: bytes = b"") -> bytes:
    size = LEN_SIZE + HEADER.size + len(body)
    if size > MESSAGE_MAX:
        raise XdrError(f"message of {size} bytes exceeds the {MESSAGE_MAX} byte limit")
    return struct.pack(">I", size) + HEADER.pack(*_header_fields(header)) + body


def _header_fields(h: Header) -> tuple[int, ...]:
    return (h.program, h.version, h.procedure, h.type, h.serial, h.status)


def frame_length(prefix: bytes) -> int:
    """Bytes that follow the length word, after checking the length is sane."""
    (size,) = struct.unpack(">I", prefix)
    if size < LEN_SIZE + HEADER.size:
        raise XdrError(f"packet length {size} is shorter than a header")
    if size > MESSAGE_MAX:
        raise XdrError(f"packet length {size} exceeds the {MESSAGE_MAX} byte limit")
    return size - LEN_SIZE


def decode(packet: bytes) -> tuple[Header, memoryview]:
    """Split a packet (without its length word) into header and body."""
    if len(packet) < HEADER.size:
        raise XdrError("packet shorter than a header")
    header = Header(*HEADER.unpack_from(packet))
    try:
        MessageType(header.type)
        Status(header.status)
    except ValueError as e:
        raise XdrError(f"bad header: {e}") from None
    return header, memoryview(packet)[HEADER.size :]
