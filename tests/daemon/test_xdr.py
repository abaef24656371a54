"""The XDR codec and the RPC framing, without a daemon."""

from __future__ import annotations

import struct

import pytest

from pyvirt.rpc import protocol, remote
from pyvirt.rpc.protocol import Header, MessageType, Status
from pyvirt.rpc.remote import Proc
from pyvirt.rpc.xdr import Array, CharString, Int, Opaque, Optional, String, XdrError


def test_strings_and_opaque_are_padded_to_four_bytes() -> None:
    assert String(10).encode("abc") == b"\0\0\0\x03abc\0"
    assert Opaque(10).encode(b"abcd") == b"\0\0\0\x04abcd"
    assert String(10).decode(b"\0\0\0\x05hello\0\0\0") == "hello"


def test_optional_and_array() -> None:
    opt = Optional(Int)
    assert opt.encode(None) == b"\0\0\0\0"
    assert opt.decode(opt.encode(7)) == 7
    arr = Array(Int, 3)
    assert arr.decode(arr.encode([1, -2, 3])) == [1, -2, 3]


def test_char_arrays_take_four_bytes_per_character() -> None:
    """rpcgen's `char model[32]` (virNodeInfo) and `char model<>` (security model)."""
    fixed = CharString(32, fixed=True)
    assert len(fixed.encode("i686")) == 128
    assert fixed.decode(fixed.encode("i686")) == "i686"
    assert CharString(8).encode("ab") == struct.pack(">Iii", 2, ord("a"), ord("b"))


@pytest.mark.parametrize(
    ("xdr", "data"),
    [
        (String(4), b"\0\0\0\x05hello\0\0\0"),  # over its limit
        (String(100), b"\0\0\0\x09abc"),  # truncated
        (String(100), b"\0\0\0\x02\xff\xfe\0\0"),  # not UTF-8
        (Array(Int, 10), b"\xff\xff\xff\xff"),  # absurd count
        (Optional(Int), b"\0\0\0\x02\0\0\0\0"),  # bad boolean
        (Int, b"\0\0\0\0\0"),  # trailing bytes
    ],
)
def test_bad_input_raises_xdr_error(xdr: object, data: bytes) -> None:
    with pytest.raises(XdrError):
        xdr.decode(data)  # type: ignore[attr-defined]


def test_domain_round_trip() -> None:
    dom = {"name": "test", "uuid": bytes(range(16)), "id": -1}
    args = remote.PROCEDURES[Proc.DOMAIN_GET_XML_DESC].args
    assert args.decode(args.encode({"dom": dom, "flags": 0})) == {"dom": dom, "flags": 0}


def test_framing() -> None:
    header = Header(protocol.REMOTE_PROGRAM, 1, 273, MessageType.CALL, 9, Status.OK)
    packet = protocol.encode(header, b"\0\0\0\x01")
    assert struct.unpack(">I", packet[:4])[0] == len(packet) == 32
    assert protocol.frame_length(packet[:4]) == 28
    decoded, body = protocol.decode(packet[4:])
    assert decoded == header and bytes(body) == b"\0\0\0\x01"
    with pytest.raises(XdrError, match="exceeds"):
        protocol.frame_length(struct.pack(">I", protocol.MESSAGE_MAX + 1))
    with pytest.raises(XdrError, match="shorter"):
        protocol.frame_length(struct.pack(">I", 8))


def test_every_procedure_has_a_handler() -> None:
    from pyvirt.daemon import dispatch

    assert dispatch.missing_handlers() == []
    assert dispatch.api_name(Proc.DOMAIN_DESTROY_FLAGS) == "virDomainDestroyFlags"
