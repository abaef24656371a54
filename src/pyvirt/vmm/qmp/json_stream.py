"""Split a byte stream into JSON texts the way QEMU's JSON streamer does: a value ends
where its outermost brace or bracket closes, whatever the line breaks.

Malformed input never stalls the stream: a stray closer, a control character inside
a string, or a value beyond the size or nesting limits is reported as one error
and parsing starts over with the next byte.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

MAX_VALUE_BYTES = 1 << 20
MAX_NESTING = 1024


@dataclass(frozen=True)
class ParseError:
    """What QEMU would say in the GenericError reply: "JSON parse error, <desc>"."""

    desc: str


class JsonStream:
    def __init__(self) -> None:
        self._buf = bytearray()
        self._depth = 0
        self._in_string = False
        self._escape = False

    def feed(self, data: bytes) -> Iterator[object | ParseError]:
        """Yield each complete value (decoded) or ParseError found in `data`."""
        for byte in data:
            result = self._byte(byte)
            if result is not None:
                yield result

    def _reset(self) -> None:
        self._buf.clear()
        self._depth = 0
        self._in_string = self._escape = False

    def _byte(self, byte: int) -> object | ParseError | None:
        if self._depth == 0 and not self._in_string:
            if byte in b" \t\r\n":
                return None
            if byte in b"}]":
                return ParseError("expecting value")
            if byte not in b"{[":
                return self._scalar(byte)
        self._buf.append(byte)
        if len(self._buf) > MAX_VALUE_BYTES:
            self._reset()
            return ParseError("token too large")
        if self._in_string:
            if self._escape:
                self._escape = False
            elif byte == 0x5C:  # backslash
                self._escape = True
            elif byte == 0x22:  # closing quote
                self._in_string = False
                if self._depth == 0:
                    return self._complete()
            elif byte < 0x20:
                stray = self._buf[self._buf.rfind(b'"') :].decode(errors="replace")
                self._reset()
                return ParseError(f"stray '{stray}'")
            return None
        if byte == 0x22:
            self._in_string = True
        elif byte in b"{[":
            self._depth += 1
            if self._depth > MAX_NESTING:
                self._reset()
                return ParseError("nesting too deep")
        elif byte in b"}]":
            self._depth -= 1
            if self._depth == 0:
                return self._complete()
        return None

    def _scalar(self, byte: int) -> object | ParseError | None:
        """A top-level string starts like any value; bare words and numbers are single values."""
        if byte == 0x22:
            self._buf.append(byte)
            self._in_string = True
            return None
        return ParseError(f"invalid keyword '{chr(byte)}'" if chr(byte).isalpha() else
                          "expecting value")  # fmt: skip

    def _complete(self) -> object | ParseError:
        text = bytes(self._buf)
        self._reset()
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as e:
            return ParseError(getattr(e, "msg", "invalid JSON").lower())
