"""The cost of one port-I/O exit round trip: guest `out`, VMM handler, back into the guest.

The bench guest writes N times to port 0x80 (a no-op device in both VMMs). The
time per exit is the difference between a run with N writes and one with none,
divided by N, so start-up and teardown cancel out. On this machine's PVM-based
KVM the guest's own loop is emulated too, which adds the same few microseconds
per iteration to both VMMs.
"""

from __future__ import annotations

from pathlib import Path

from bench.harness import DEBUG_EXIT, Row, Vmm, median_of, run_checked

EXITS = 50_000


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    per_exit: dict[str, float] = {}
    for vmm in vmms:
        base = [*vmm.argv, "-m", "64M", *DEBUG_EXIT, "-kernel", str(guests["bench"]), "-append"]
        empty = median_of(repeat, lambda base=base: run_checked([*base, "pio=0"]))
        loaded = median_of(repeat, lambda base=base: run_checked([*base, f"pio={EXITS}"]))
        per_exit[vmm.name] = max(loaded - empty, 0.0) / EXITS * 1e6
    return [Row("port I/O exit round trip", "us", per_exit)]
