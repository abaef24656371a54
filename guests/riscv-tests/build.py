#!/usr/bin/env python3
"""Build the RISC-V instruction tests with the riscv64 cross toolchain.

Each `<name>.S` here (and `bench/<name>.S`, the benchmarks) becomes
`<name>.elf`, linked at 0x80000000 with lib/runtime.S, in
``${PYVIRT_CACHE:-$HOME/.cache/pyvirt}/riscv-tests/<hash>/``, where <hash>
covers every source and this file.

As a module: ``build()`` returns {name: Path}. As a script: prints ``NAME PATH``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SRC_DIR = Path(__file__).resolve().parent
CC = "riscv64-linux-gnu-gcc"
CFLAGS = [
    "-march=rv64imac_zicsr_zifencei", "-mabi=lp64", "-nostdlib", "-nostartfiles",
    "-static", "-fno-pic", "-no-pie", "-mcmodel=medany",
    "-Wl,--no-relax,--build-id=none,--no-warn-rwx-segments",
    f"-T{SRC_DIR / 'lib/link.ld'}",
]  # fmt: skip


def names() -> list[str]:
    return sorted(path.stem for path in SRC_DIR.glob("*.S"))


def _cache_dir() -> Path:
    digest = hashlib.sha256()
    sources = sorted([*SRC_DIR.glob("*.S"), *SRC_DIR.glob("*/*")])
    for path in [*sources, Path(__file__)]:
        digest.update(path.name.encode() + path.read_bytes())
    root = Path(os.environ.get("PYVIRT_CACHE", Path.home() / ".cache/pyvirt"))
    return root / "riscv-tests" / digest.hexdigest()[:16]


def build(wanted: list[str] | None = None) -> dict[str, Path]:
    """Build (or find in the cache) the named tests (all by default; "bench/cpu" for one)."""
    out = _cache_dir()
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in wanted or names():
        target = out / f"{name.replace('/', '-')}.elf"
        if not target.exists():
            with tempfile.NamedTemporaryFile(dir=out, suffix=".tmp", delete=False) as tmp:
                pass
            sources = [str(SRC_DIR / f"{name}.S"), str(SRC_DIR / "lib/runtime.S")]
            proc = subprocess.run(
                [CC, *CFLAGS, "-o", tmp.name, *sources], capture_output=True, text=True
            )
            if proc.returncode:
                Path(tmp.name).unlink(missing_ok=True)
                raise RuntimeError(f"building {name} failed:\n{proc.stderr}")
            os.replace(tmp.name, target)
        paths[name] = target
    return paths


if __name__ == "__main__":
    for name, path in build(sys.argv[1:] or None).items():
        print(name, path)
