"""pyvirt-img map [-f FMT] [--output=human|json] [--start-offset=N] [--max-length=N] FILE"""

from __future__ import annotations

import sys
from dataclasses import dataclass, replace

from . import cmdline
from .errors import ImgError
from .images import chain, close_chain, extents, open_img
from .sizes import parse_size


@dataclass(frozen=True)
class MapEntry:
    start: int
    length: int
    depth: int
    present: bool
    zero: bool
    data: bool
    offset: int | None
    filename: str | None

    def mergeable(self, nxt: MapEntry) -> bool:
        """qemu-img's entry_mergeable(): same attributes and, with offsets, contiguous."""
        same = (self.zero, self.data, self.depth, self.present, self.filename) == (
            nxt.zero,
            nxt.data,
            nxt.depth,
            nxt.present,
            nxt.filename,
        )
        if not same or (self.offset is None) != (nxt.offset is None):
            return False
        return self.offset is None or self.offset + self.length == nxt.offset


def run(argv: list[str]) -> int:
    opts, operands = cmdline.parse(
        argv,
        ":f:hU",
        {"format:": "f", "output:": None, "start-offset:": "s", "max-length:": "l",
         "force-share": "U"},
    )  # fmt: skip
    fmt, output, start, max_length, force_share = None, "human", 0, None, False
    for key, value in opts:
        if key == "f":
            fmt = value
        elif key == "--output":
            output = cmdline.output_format(value)
        elif key == "s":
            start = parse_size(value, "start offset")
        elif key == "l":
            max_length = parse_size(value, "max length")
        elif key == "U":
            force_share = True
    filename = cmdline.one_file(operands)
    image = open_img(filename, fmt, force_share=force_share)
    try:
        length = image.length - start
        if max_length is not None:
            length = min(length, max_length)
        entries = list(entries_of(image, start, max(length, 0), human=output == "human"))
    finally:
        close_chain(image)
    if output == "json":
        sys.stdout.write(json_map(entries))
    else:
        human_map(entries)
    return 0


def entries_of(image, start: int, length: int, *, human: bool):
    """Map entries, merged as qemu-img merges them.

    The human format does not tell zero from unallocated, so there every
    entry without plain data counts as zero (qemu-img's dump_map_entry()).
    """
    paths = [layer.path for layer in chain(image)]
    current: MapEntry | None = None
    for e in extents(image, start, length):
        entry = MapEntry(
            e.start,
            e.length,
            e.depth,
            e.present,
            e.zero,
            e.data,
            e.offset,
            paths[e.depth] if e.offset is not None else None,
        )
        if human and (not entry.data or entry.zero):
            entry = replace(entry, data=False, zero=True)
        if current is not None and current.mergeable(entry):
            current = replace(current, length=current.length + entry.length)
            continue
        if current is not None:
            yield current
        current = entry
    if current is not None:
        yield current


def json_map(entries: list[MapEntry]) -> str:
    lines = []
    for e in entries:
        line = (
            f'{{ "start": {e.start}, "length": {e.length}, "depth": {e.depth},'
            f' "present": {_bool(e.present)}, "zero": {_bool(e.zero)}, "data": {_bool(e.data)}'
        )
        if e.offset is not None:
            line += f', "offset": {e.offset}'
        lines.append(line + "}")
    return "[" + ",\n".join(lines) + "]\n"


def human_map(entries: list[MapEntry]) -> None:
    print(f"{'Offset':<16}{'Length':<16}{'Mapped to':<16}File")
    for e in entries:
        if e.data and e.offset is None:
            sys.stdout.flush()
            raise ImgError("File contains external, encrypted or compressed clusters.")
        if e.data and not e.zero:
            print(f"{_hex(e.start):<16}{_hex(e.length):<16}{_hex(e.offset or 0):<16}{e.filename}")


def _hex(n: int) -> str:
    return f"{n:#x}" if n else "0"


def _bool(b: bool) -> str:
    return "true" if b else "false"
