"""What every benchmark shares: the two VMMs, repeated measurements, the ratio table."""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QEMU = shutil.which("qemu-system-x86_64")
PYVIRT = [sys.executable, "-m", "pyvirt.vmm"]
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
EXIT_PASS = 33


@dataclass(frozen=True)
class Vmm:
    name: str
    argv: list[str]  # up to and including the options every run shares


def vmms() -> list[Vmm]:
    common = ["-accel", "kvm", "-display", "none", "-nodefaults"]
    if QEMU is None:
        raise SystemExit(
            "bench: qemu-system-x86_64 is not installed (apt-get install "
            "qemu-system-x86); the benchmarks measure pyvirt against it"
        )
    return [Vmm("pyvirt", [*PYVIRT, *common]), Vmm("qemu", [QEMU, *common, "-cpu", "host"])]


@dataclass
class Row:
    """One benchmark line: a value per VMM, lower is better."""

    label: str
    unit: str
    values: dict[str, float]

    def ratio(self) -> float:
        return self.values["pyvirt"] / self.values["qemu"]


def median_of(repeat: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(repeat))


def run_checked(argv: list[str], timeout: float = 120, expect: int = EXIT_PASS) -> float:
    """Run a VMM to completion; returns its wall-clock seconds."""
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if proc.returncode != expect:
        raise RuntimeError(
            f"{' '.join(argv)} exited with {proc.returncode}, expected {expect}:\n"
            f"{proc.stderr.decode(errors='replace')}"
        )
    return elapsed


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
    if unit in ("us", "ns"):
        return f"{value:.2f} {unit}"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:g} {unit}"


def print_table(rows: list[Row]) -> None:
    width = max(len(r.label) for r in rows) + 2
    print(f"{'benchmark':<{width}}{'pyvirt':>12}{'qemu':>12}{'pyvirt/qemu':>14}")
    for r in rows:
        print(
            f"{r.label:<{width}}{format_value(r.values['pyvirt'], r.unit):>12}"
            f"{format_value(r.values['qemu'], r.unit):>12}{r.ratio():>13.2f}x"
        )
