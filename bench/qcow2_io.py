"""qcow2 I/O throughput: pyvirt's qcow2 driver against `qemu-img bench`, same file and pattern.

Both sides issue COUNT requests of one size at queue depth 1, the request at
index i going to offset (i * STEP) mod the image size, which is how
`qemu-img bench -S STEP` walks an image. Sequential: 1 MiB requests, STEP =
1 MiB. Random: 4 KiB requests with a STEP of 7919 blocks (a prime), which
scatters consecutive requests across the image and, wrapping around, visits
each 4 KiB block of a 256 MiB image once. Reads go to a fully written image,
writes to a freshly created one (so they include cluster allocation). Both
use the page cache (qemu-img bench's default cache mode, writeback).
qemu-img's figure is the "Run completed in" time it prints; ours is the
loop's wall time, image open excluded for both. Figures are per request.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from functools import partial
from pathlib import Path

from bench.harness import Row, median_of

MiB = 1 << 20
IMAGE_SIZE = 256 * MiB
PATTERNS = {  # name -> (request size, step, requests)
    "sequential": (MiB, MiB, 512),
    "random": (4096, 4096 * 7919, 8192),
}


def _qemu_img(*args: str) -> str:
    return subprocess.run(["qemu-img", *args], check=True, capture_output=True, text=True).stdout


def _fresh(path: Path) -> None:
    _qemu_img("create", "-q", "-f", "qcow2", str(path), str(IMAGE_SIZE))


def _qemu_bench(path: Path, size: int, step: int, count: int, write: bool) -> float:
    args = ["bench", "-f", "qcow2", "-d", "1", "-c", str(count), "-s", str(size), "-S", str(step)]
    out = _qemu_img(*args, *(["-w"] if write else []), str(path))
    return float(re.search(r"Run completed in ([0-9.]+) seconds", out).group(1)) / count


def _our_bench(path: Path, size: int, step: int, count: int, write: bool) -> float:
    from pyvirt.block.open import open_image

    image = open_image(str(path), format="qcow2", read_only=not write)
    try:
        buf = memoryview(bytearray(b"\xa5" * size))
        io = image.writev if write else image.readv
        start = time.perf_counter()
        for i in range(count):
            io(i * step % IMAGE_SIZE, [buf])
        elapsed = time.perf_counter() - start
        image.flush()
    finally:
        image.close()
    return elapsed / count


def _run(bench, image: Path, size: int, step: int, count: int, write: bool) -> float:
    """One measurement in microseconds per request, on a fresh (writes) or full (reads) image."""
    if write or not image.exists():
        _fresh(image)
        if not write:  # reads: every cluster written first
            _qemu_bench(image, MiB, MiB, IMAGE_SIZE // MiB, True)
    return bench(image, size, step, count, write) * 1e6


def measure(_vmms: object, _guests: object, repeat: int) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        image = Path(tmp) / "bench.qcow2"
        for write in (False, True):
            for name, (size, step, count) in PATTERNS.items():
                values = {
                    who: median_of(repeat, partial(_run, bench, image, size, step, count, write))
                    for who, bench in (("pyvirt", _our_bench), ("qemu", _qemu_bench))
                }
                kind = "write" if write else "read"
                rows.append(Row(f"qcow2 {name} {kind}, {size // 1024} KiB requests", "us", values))
    return rows
