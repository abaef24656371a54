"""`pyvirt-img convert` against `qemu-img convert`: wall time of the whole command.

The source is a 256 MiB image with every other MiB written (half full, the
rest never allocated), made by qemu-io; it is converted qcow2 -> raw and raw
-> qcow2 by each tool into a file removed before each run. The time includes
process start-up (Python's is ~50 ms here).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.harness import Row, median_of

MiB = 1 << 20
IMAGE_SIZE = 256 * MiB
TOOLS = {"pyvirt": [sys.executable, "-m", "pyvirt.img"], "qemu": ["qemu-img"]}


def _half_full(path: Path, fmt: str) -> None:
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(path), str(IMAGE_SIZE)], check=True)
    writes = []
    for mib in range(0, IMAGE_SIZE // MiB, 2):
        writes += ["-c", f"write -P {mib % 251 + 1} {mib * MiB} {MiB}"]
    subprocess.run(["qemu-io", "-f", fmt, *writes, str(path)], check=True, capture_output=True)


def _convert(tool: list[str], src: Path, src_fmt: str, dst: Path, dst_fmt: str) -> float:
    dst.unlink(missing_ok=True)
    argv = [*tool, "convert", "-f", src_fmt, "-O", dst_fmt, str(src), str(dst)]
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def measure(_vmms: object, _guests: object, repeat: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        for src_fmt, dst_fmt in (("qcow2", "raw"), ("raw", "qcow2")):
            src, dst = Path(tmp) / f"src.{src_fmt}", Path(tmp) / f"dst.{dst_fmt}"
            _half_full(src, src_fmt)
            values = {
                who: median_of(repeat, partial(_convert, tool, src, src_fmt, dst, dst_fmt))
                for who, tool in TOOLS.items()
            }
            rows.append(Row(f"convert {src_fmt} -> {dst_fmt}, 256 MiB half full", "s", values))
    return rows
