#!/usr/bin/env python3
"""Build the tiny x86 test guests with gcc (as the cpp + as driver) and ld.

Outputs go to ``${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/tiny/<hash>/``, where
<hash> covers every source, header, linker script and this file: a guest is
rebuilt only when they change.  Each output is written under a temporary name
and renamed into place, so concurrent builds (pytest-xdist, two checkouts) never
see a half-written file.

As a module (``from guests.tiny import build``, see tests/support.py)::

    paths = build(["multiboot32"])      # {"multiboot32": Path(...)}

As a script::

    python3 guests/tiny/build.py [--cache DIR] [--list] [NAME ...]

prints ``NAME PATH`` per guest (all guests when no NAME is given); --cache
replaces ``${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/tiny``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent
TOOLS = ("gcc", "ld", "objcopy")
# Files whose content decides the cache key.
SOURCE_SUFFIXES = {".S", ".c", ".h", ".ld", ".py"}


class BuildError(Exception):
    """A compiler or linker command failed; the message holds its output."""


@dataclass(frozen=True)
class Layout:
    """How one kind of guest is assembled and linked."""

    bits: int  # CPU mode the shared library is assembled for (BITS in tiny.h)
    elf: int  # ELF class of the objects and of the linked image: 32 or 64
    ldscript: str
    suffix: str  # of the output file
    flat: bool  # objcopy -O binary after linking (firmware, bzImage)
    lib: tuple[str, ...]  # shared sources linked in after the guest's own
    ldflags: tuple[str, ...] = ()


LONG_MODE = ("lib/longmode.S", "lib/serial.S")
MULTIBOOT = "lib/multiboot.S"
LAYOUTS: dict[str, Layout] = {
    "firmware": Layout(16, 32, "ld/bios.ld", ".bin", True, ("lib/serial.S", "lib/pic.S")),
    # Multiboot kernels are ELF32: these run in 32-bit protected mode...
    "multiboot32": Layout(32, 32, "ld/multiboot.ld", ".elf", False, (MULTIBOOT, "lib/serial.S")),
    # ...these switch to long mode (tiny.h says why).
    "multiboot64": Layout(64, 32, "ld/multiboot.ld", ".elf", False,
                          (MULTIBOOT, "lib/rt64.S", "lib/pic.S", *LONG_MODE)),
    "pvh": Layout(64, 64, "ld/pvh.ld", ".elf", False, LONG_MODE),
    "bzimage": Layout(64, 64, "ld/bzimage.ld", ".bzImage", True, LONG_MODE),
    # A 32-bit Multiboot kernel that can also enter long mode, linked at 8 MiB.
    "loader": Layout(32, 32, "ld/multiboot.ld", ".elf", False, (MULTIBOOT, *LONG_MODE),
                     ("--defsym=IMAGE_BASE=0x800000",)),
}  # fmt: skip


@dataclass(frozen=True)
class Guest:
    name: str
    layout: str  # key of LAYOUTS
    sources: tuple[str, ...]  # its own sources, relative to SRC_DIR

    @property
    def output(self) -> str:
        return self.name + LAYOUTS[self.layout].suffix


GUESTS: dict[str, Guest] = {
    g.name: g
    for g in (
        Guest("bios-realmode", "firmware", ("bios-realmode.S",)),
        Guest("multiboot32", "multiboot32", ("multiboot32.S", "lib/cmdline.S")),
        Guest("bench", "multiboot32", ("bench.S", "lib/cmdline.S")),
        Guest("triple-fault", "multiboot32", ("triple-fault.S",)),
        Guest("portscan", "multiboot32", ("portscan.S",)),
        Guest("pvh64", "pvh", ("pvh64.S", "lib/memmap.S")),
        Guest("bzimage64", "bzimage", ("bzimage64.S", "lib/memmap.S")),
        Guest("bzloader", "loader", ("bzloader.S",)),
        Guest("smp", "multiboot64", ("smp.S", "lib/fwcfg.S")),
        Guest("interrupts", "multiboot64", ("interrupts.S",)),
        Guest("platform", "multiboot64", ("platform.S", "lib/fwcfg.S")),
        Guest("counter", "multiboot64", ("counter.S",)),
        Guest("filler", "multiboot64", ("filler.S",)),
    )
}


def cache_root() -> Path:
    base = os.environ.get("PYVIRT_CACHE") or os.path.join(Path.home(), ".cache", "pyvirt")
    return Path(base) / "tiny"


def source_hash() -> str:
    """Hash of every file that can change a build output."""
    h = hashlib.sha256()
    for path in sorted(SRC_DIR.rglob("*")):
        if path.is_file() and path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(SRC_DIR)).encode() + b"\0")
            h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def missing_tools() -> list[str]:
    """Build tools not found on PATH (empty when the guests can be built)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _run(argv: list[str]) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(
            f"command failed ({proc.returncode}): {' '.join(argv)}\n{proc.stdout}{proc.stderr}"
        )


def _build_one(guest: Guest, out: Path) -> None:
    layout = LAYOUTS[guest.layout]
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{guest.name}-") as tmp:
        objs = []
        for i, src in enumerate(guest.sources + layout.lib):
            obj = os.path.join(tmp, f"{i}-{Path(src).stem}.o")
            _run(["gcc", f"-m{layout.elf}", f"-DBITS={layout.bits}", "-nostdinc",
                  "-I", str(SRC_DIR / "include"), "-Wa,--fatal-warnings",
                  "-c", "-o", obj, str(SRC_DIR / src)])  # fmt: skip
            objs.append(obj)
        elf = os.path.join(tmp, "image.elf")
        _run(["ld", "-m", "elf_i386" if layout.elf == 32 else "elf_x86_64",
              "-nostdlib", "-static", "-z", "max-page-size=0x1000", "-z", "noexecstack",
              "--no-warn-rwx-segments", "--fatal-warnings",
              *layout.ldflags, "-T", str(SRC_DIR / layout.ldscript),
              "-o", elf, *objs])  # fmt: skip
        result = elf
        if layout.flat:
            result = os.path.join(tmp, "image.bin")
            _run(["objcopy", "-O", "binary", elf, result])
        os.chmod(result, 0o644)
        os.replace(result, out)  # atomic: readers see the old file or the whole new one


def build(names: Iterable[str] | None = None, cache_dir: Path | None = None) -> dict[str, Path]:
    """Build the named guests (all by default) if needed; return their output paths."""
    wanted = list(GUESTS) if names is None else list(names)
    unknown = [n for n in wanted if n not in GUESTS]
    if unknown:
        raise KeyError(f"unknown guest(s): {', '.join(unknown)}; known: {', '.join(GUESTS)}")
    outdir = (cache_dir or cache_root()) / source_hash()
    outdir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in wanted:
        guest = GUESTS[name]
        out = outdir / guest.output
        if not out.exists():
            _build_one(guest, out)
        paths[name] = out
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="guests to build (default: all)")
    parser.add_argument(
        "--cache", type=Path, help="cache directory (default: %(default)s)", default=cache_root()
    )
    parser.add_argument("--list", action="store_true", help="list the guests and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, guest in GUESTS.items():
            print(name, guest.layout, " ".join(guest.sources))
        return 0
    missing = missing_tools()
    if missing:
        print(
            f"build.py: missing tools: {', '.join(missing)} (apt-get install gcc binutils)",
            file=sys.stderr,
        )
        return 2
    try:
        paths = build(args.names or None, args.cache)
    except (BuildError, KeyError) as err:
        print(f"build.py: {err}", file=sys.stderr)
        return 1
    for name, path in paths.items():
        print(name, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
