"""SIGKILL a writer at random points: flushed data survives and qemu-img check -r all repairs."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyvirt.block.qcow2 import create_qcow2

from .conftest import qemu_check, qemu_img, qemu_raw
from .crash_writer import SIZE, operations

ROOT = Path(__file__).resolve().parents[2]


def expected_after(seed: int, flushed: int) -> tuple[bytearray, bytearray]:
    """Contents after operation `flushed`, and a mask of bytes later operations may have changed."""
    data, loose = bytearray(SIZE), bytearray(SIZE)
    for index, (kind, offset, length, byte) in enumerate(operations(seed)):
        if kind == "flush":
            if index > flushed:
                break  # killed before this flush returned: nothing later ran
            continue
        if index > flushed:
            loose[offset : offset + length] = b"\1" * length
        elif kind == "write":
            data[offset : offset + length] = bytes([byte]) * length
        elif kind == "zero":
            data[offset : offset + length] = bytes(length)
        else:  # discard: whole 4 KiB clusters read zeroes afterwards
            first, last = -(-offset // 4096) * 4096, (offset + length) // 4096 * 4096
            if offset + length == SIZE:
                last = SIZE
            if last > first:
                data[first:last] = bytes(last - first)
    return data, loose


@pytest.mark.parametrize("lazy", [False, True], ids=["ordered", "lazy-refcounts"])
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_kill_writer(tmp_path: Path, seed: int, lazy: bool) -> None:
    path = tmp_path / "crash.qcow2"
    create_qcow2(str(path), SIZE, cluster_size=4096, lazy_refcounts=lazy)
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.block.crash_writer", str(path), str(seed)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}"},
    )  # fmt: skip
    assert writer.stdout is not None
    first = writer.stdout.readline()  # it runs: kill it a little later
    assert first, "the writer died before its first flush"
    time.sleep(random.Random(seed).uniform(0.02, 0.3))
    writer.send_signal(signal.SIGKILL)
    lines = [first, *writer.stdout.read().split()]
    writer.wait()
    flushed = int(lines[-1])
    print(f"killed after {len(lines)} flushes, the last after operation {flushed}")
    data, loose = expected_after(seed, flushed)

    repaired = qemu_img("check", "-r", "all", path, check=False)
    assert repaired.returncode in (0, 3) or "repaired" in repaired.stdout, repaired
    qemu_check(path)
    contents = qemu_raw(path, tmp_path)
    bad = [
        i
        for i in range(0, SIZE, 512)
        if not loose[i] and contents[i : i + 512] != data[i : i + 512]
    ]
    assert not bad, f"flushed data lost at {len(bad)} sectors, first at {bad[0]}"
