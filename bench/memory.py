"""Resident memory of the VMM process beyond guest RAM.

Both VMMs run the same idle guest with the same -m; once it is idle we sum the
resident set of every mapping in /proc/PID/smaps except the guest RAM mapping
(the anonymous mapping at least as large as -m).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from bench.harness import Row, Vmm

RAM_MIB = 256
_MiB = 1 << 20


def overhead_mib(pid: int, ram_bytes: int) -> tuple[float, float]:
    """(RSS beyond guest RAM, total RSS) in MiB, from /proc/PID/smaps."""
    beyond = total = 0
    size = 0
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        field, _, rest = line.partition(":")
        if field == "Size":
            size = int(rest.split()[0]) * 1024
        elif field == "Rss":
            rss = int(rest.split()[0]) * 1024
            total += rss
            if size < ram_bytes:
                beyond += rss
    return beyond / _MiB, total / _MiB


def _idle_rss(vmm: Vmm, guest: Path, timeout: float = 60) -> tuple[float, float]:
    argv = [*vmm.argv, "-m", f"{RAM_MIB}M", "-serial", "stdio", "-kernel", str(guest),
            "-append", "idle=1"]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        seen = b""
        while b"bench: idle" not in seen:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"{vmm.name}: the idle guest did not come up: {seen!r}")
            seen += proc.stdout.read1(4096)
        time.sleep(0.5)  # let start-up garbage settle
        return overhead_mib(proc.pid, RAM_MIB * _MiB)
    finally:
        proc.kill()
        proc.wait()


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    beyond: dict[str, float] = {}
    total: dict[str, float] = {}
    for vmm in vmms:
        samples = [_idle_rss(vmm, guests["bench"]) for _ in range(max(1, repeat // 2))]
        beyond[vmm.name] = min(s[0] for s in samples)
        total[vmm.name] = min(s[1] for s in samples)
    return [
        Row(f"memory: RSS beyond guest RAM (-m {RAM_MIB}M)", "MiB", beyond),
        Row("memory: total RSS, idle tiny guest", "MiB", total),
    ]
