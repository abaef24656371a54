"""Run the benchmarks against qemu-system-x86_64 and print pyvirt's figures as ratios.

Usage, from the repository root: .venv/bin/python -m bench.run [NAME ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import sys

from bench import (
    blk_throughput,
    daemon,
    img_convert,
    linux_boot,
    memory,
    net_throughput,
    pio_exit,
    qcow2_io,
    riscv_boot,
    riscv_cpu,
    snapshot,
    startup,
)
from bench.harness import Row, print_table, vmms
from guests.tiny import build as tiny_build

BENCHMARKS = {
    "startup": startup.measure,
    "memory": memory.measure,
    "pio": pio_exit.measure,
    "linux": linux_boot.measure,
    "blk": blk_throughput.measure,
    "net": net_throughput.measure,
    "qcow2": qcow2_io.measure,
    "convert": img_convert.measure,
    "snapshot": snapshot.measure,
    "daemon": daemon.measure,
    "riscv-cpu": riscv_cpu.measure,
    "riscv-linux": riscv_boot.measure,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement")
    args = parser.parse_args()
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    guests = tiny_build.build(["bench"])
    rows: list[Row] = []
    for name in args.names or BENCHMARKS:
        print(f"bench: running {name}...", file=sys.stderr, flush=True)
        rows += BENCHMARKS[name](vmms(), guests, args.repeat)
    print_table(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
