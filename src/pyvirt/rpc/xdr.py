"""XDR (RFC 4506) as libvirt's rpcgen uses it, described by small type objects.

A type packs a Python value into a Packer and reads one back from an Unpacker;
structs are built from (name, type) tables and come and go as dicts. Every read
is bounds-checked, so a hostile packet raises XdrError and nothing else.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any


class XdrError(ValueError):
    """The bytes do not decode as the expected XDR type."""


class Packer:
    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def add(self, data: bytes) -> None:
        self._parts.append(data)

    def bytes(self) -> bytes:
        return b"".join(self._parts)


class Unpacker:
    def __init__(self, data: bytes | memoryview, offset: int = 0) -> None:
        self.data = memoryview(data)
        self.pos = offset

    def take(self, n: int) -> memoryview:
        if n < 0 or self.pos + n > len(self.data):
            raise XdrError(f"truncated data: need {n} bytes at offset {self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def rest(self) -> bytes:
        return bytes(self.take(len(self.data) - self.pos))

    def done(self) -> None:
        if self.pos != len(self.data):
            raise XdrError(f"{len(self.data) - self.pos} unexpected trailing bytes")


class XdrType:
    def pack(self, p: Packer, value: Any) -> None:
        raise NotImplementedError

    def unpack(self, u: Unpacker) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> bytes:
        p = Packer()
        self.pack(p, value)
        return p.bytes()

    def decode(self, data: bytes | memoryview) -> Any:
        u = Unpacker(data)
        value = self.unpack(u)
        u.done()
        return value


class _Number(XdrType):
    def __init__(self, fmt: str) -> None:
        self._struct = struct.Struct(fmt)

    def pack(self, p: Packer, value: int) -> None:
        try:
            p.add(self._struct.pack(value))
        except struct.error as e:
            raise XdrError(f"{value!r} does not fit: {e}") from None

    def unpack(self, u: Unpacker) -> int:
        return self._struct.unpack(u.take(self._struct.size))[0]


Int = _Number(">i")
UInt = _Number(">I")
Hyper = _Number(">q")
UHyper = _Number(">Q")
Double = _Number(">d")


class _Bool(XdrType):
    def pack(self, p: Packer, value: bool) -> None:
        Int.pack(p, 1 if value else 0)

    def unpack(self, u: Unpacker) -> bool:
        v = Int.unpack(u)
        if v not in (0, 1):
            raise XdrError(f"bad boolean {v}")
        return bool(v)


Bool = _Bool()


def _pad(n: int) -> bytes:
    return b"\0" * (-n % 4)


class FixedOpaque(XdrType):
    def __init__(self, size: int) -> None:
        self.size = size

    def pack(self, p: Packer, value: bytes) -> None:
        if len(value) != self.size:
            raise XdrError(f"opaque needs {self.size} bytes, got {len(value)}")
        p.add(bytes(value) + _pad(self.size))

    def unpack(self, u: Unpacker) -> bytes:
        data = bytes(u.take(self.size))
        u.take(-self.size % 4)
        return data


class Opaque(XdrType):
    """Variable-length opaque<max>."""

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len

    def pack(self, p: Packer, value: bytes) -> None:
        if len(value) > self.max_len:
            raise XdrError(f"opaque of {len(value)} bytes exceeds {self.max_len}")
        UInt.pack(p, len(value))
        p.add(bytes(value) + _pad(len(value)))

    def unpack(self, u: Unpacker) -> bytes:
        n = UInt.unpack(u)
        if n > self.max_len:
            raise XdrError(f"opaque of {n} bytes exceeds {self.max_len}")
        data = bytes(u.take(n))
        u.take(-n % 4)
        return data


class String(Opaque):
    """string<max>, UTF-8 on the Python side."""

    def pack(self, p: Packer, value: str) -> None:
        super().pack(p, value.encode())

    def unpack(self, u: Unpacker) -> str:
        try:
            return super().unpack(u).decode()
        except UnicodeDecodeError as e:
            raise XdrError(f"string is not UTF-8: {e}") from None


class Optional(XdrType):
    """A pointer (`T *`): absent is None."""

    def __init__(self, inner: XdrType) -> None:
        self.inner = inner

    def pack(self, p: Packer, value: Any) -> None:
        Bool.pack(p, value is not None)
        if value is not None:
            self.inner.pack(p, value)

    def unpack(self, u: Unpacker) -> Any:
        return self.inner.unpack(u) if Bool.unpack(u) else None


class Array(XdrType):
    """Variable-length T<max>."""

    def __init__(self, inner: XdrType, max_len: int) -> None:
        self.inner = inner
        self.max_len = max_len

    def pack(self, p: Packer, value: Sequence[Any]) -> None:
        if len(value) > self.max_len:
            raise XdrError(f"array of {len(value)} exceeds {self.max_len}")
        UInt.pack(p, len(value))
        for item in value:
            self.inner.pack(p, item)

    def unpack(self, u: Unpacker) -> list[Any]:
        n = UInt.unpack(u)
        if n > self.max_len:
            raise XdrError(f"array of {n} exceeds {self.max_len}")
        return [self.inner.unpack(u) for _ in range(n)]


class FixedArray(XdrType):
    def __init__(self, inner: XdrType, size: int) -> None:
        self.inner = inner
        self.size = size

    def pack(self, p: Packer, value: Sequence[Any]) -> None:
        if len(value) != self.size:
            raise XdrError(f"array needs {self.size} items, got {len(value)}")
        for item in value:
            self.inner.pack(p, item)

    def unpack(self, u: Unpacker) -> list[Any]:
        return [self.inner.unpack(u) for _ in range(self.size)]


class CharString(XdrType):
    """rpcgen's `char x<max>` / `char x[n]`: one 4-byte int per character, NUL padded
    when fixed. Python side: str (fixed arrays are cut at the first NUL)."""

    def __init__(self, max_len: int, fixed: bool = False) -> None:
        self.max_len = max_len
        self.fixed = fixed

    def pack(self, p: Packer, value: str) -> None:
        data = value.encode()
        if self.fixed:
            data = data[: self.max_len - 1].ljust(self.max_len, b"\0")
        elif len(data) > self.max_len:
            raise XdrError(f"char array of {len(data)} exceeds {self.max_len}")
        else:
            UInt.pack(p, len(data))
        p.add(struct.pack(f">{len(data)}i", *(b if b < 128 else b - 256 for b in data)))

    def unpack(self, u: Unpacker) -> str:
        n = self.max_len if self.fixed else UInt.unpack(u)
        if n > self.max_len:
            raise XdrError(f"char array of {n} exceeds {self.max_len}")
        chars = struct.unpack(f">{n}i", u.take(4 * n))
        raw = bytes(c & 0xFF for c in chars)
        return raw.split(b"\0", 1)[0].decode(errors="replace")


class Struct(XdrType):
    """A struct: fields packed in order, values are dicts keyed by field name."""

    def __init__(self, name: str, *fields: tuple[str, XdrType]) -> None:
        self.name = name
        self.fields = fields

    def pack(self, p: Packer, value: dict[str, Any]) -> None:
        for fname, ftype in self.fields:
            try:
                ftype.pack(p, value[fname])
            except KeyError:
                raise XdrError(f"{self.name}: missing field {fname!r}") from None

    def unpack(self, u: Unpacker) -> dict[str, Any]:
        return {fname: ftype.unpack(u) for fname, ftype in self.fields}


class Union(XdrType):
    """A discriminated union on an int: values are (discriminant, arm value) pairs."""

    def __init__(self, name: str, arms: dict[int, XdrType]) -> None:
        self.name = name
        self.arms = arms

    def _arm(self, disc: int) -> XdrType:
        try:
            return self.arms[disc]
        except KeyError:
            raise XdrError(f"{self.name}: bad discriminant {disc}") from None

    def pack(self, p: Packer, value: tuple[int, Any]) -> None:
        disc, inner = value
        Int.pack(p, disc)
        self._arm(disc).pack(p, inner)

    def unpack(self, u: Unpacker) -> tuple[int, Any]:
        disc = Int.unpack(u)
        return disc, self._arm(disc).unpack(u)


class _Void(XdrType):
    def pack(self, p: Packer, value: None) -> None:
        pass

    def unpack(self, u: Unpacker) -> None:
        return None


Void = _Void()
