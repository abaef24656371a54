"""virtio-blk throughput and the VMM's CPU cost per request, same guest and image for both VMMs.

Each VMM boots the Linux guest (guests/linux/build.sh) with one virtio-blk-pci
disk on the same raw image, and the guest's `pvblk` tool runs O_DIRECT
sequential 1 MiB reads and writes and 4 KiB random reads on /dev/vda. Around
each measured loop the host reads the VMM process's CPU counters: `pvblk -w`
prints a line, then sleeps before its loop, so the first sample is taken
while the guest idles; the second is taken when the result line arrives.

Figures, all "lower is better":
- guest time per request: what the guest's pvblk measures (throughput is
  1 MiB over it; IOPS its inverse). Here the guest kernel is emulated at ~1
  MIPS (DESIGN.md), so this is mostly the guest's own cost, the same for both.
- VMM CPU per request / per GiB: the VMM process's CPU time (utime + stime,
  every thread, from /proc/PID/task/*/stat and schedstat) minus what its vCPU
  threads spent in the kernel (KVM_RUN, which here includes emulating the
  guest kernel) and in guest mode. What is left is the VMM's own work:
  virtqueue processing, the file I/O, interrupts, exits handled in
  userspace. A vCPU thread is one found blocked in ioctl(KVM_RUN) while the
  guest idles. System calls the VMM makes on a vCPU thread are counted with
  KVM_RUN, so a VMM that does its I/O there looks cheaper than it is.
- VMM process CPU per GiB: utime + stime of the whole process, emulation
  included (the figure /proc/PID/stat gives), for reference.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Vmm, format_value, print_table, vmms
from bench.linux_boot import linux_guest
from bench.vmm_cpu import Cost, cost, sample, vcpu_threads
from tests.linux.guest import Guest, LinuxGuest

MiB = 1 << 20
GiB = 1 << 30
IMAGE_SIZE = 256 * MiB
SEQ_REQUESTS = 256  # 1 MiB each: the whole image, ~10 s here
RAND_REQUESTS = 2000  # 4 KiB each
WAIT_MS = 300  # pvblk's idle pause before each measured loop
TIMEOUT = 600.0


@dataclass
class Phase:
    op: str  # pvblk's operation
    requests: int
    bs: int
    guest_ns: float
    cost: Cost

    @property
    def bytes(self) -> int:
        return self.requests * self.bs


def run_phase(guest: Guest, vcpus: set[int], op: str, requests: int) -> Phase:
    pid = guest.serial.proc.pid
    tag = guest.start(f"pvblk -w {WAIT_MS} {op} /dev/vda {requests}")
    guest.expect("pvblk: start", TIMEOUT)
    before = sample(pid)
    line = guest.expect("pvblk op=", TIMEOUT)
    after = sample(pid)
    status, out = guest.finish(tag, TIMEOUT)
    if status != 0:
        raise RuntimeError(f"pvblk {op} failed:\n{out}")
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    return Phase(op, int(fields["requests"]), int(fields["bs"]), int(fields["ns"]),
                 cost(before, after, vcpus))  # fmt: skip


def measure_vmm(vmm: Vmm, guest: LinuxGuest, image: Path, repeat: int) -> dict[str, list[Phase]]:
    options = [
        "-drive", f"file={image},if=none,format=raw,id=d0",
        "-device", "virtio-blk-pci,drive=d0",
    ]  # fmt: skip
    phases: dict[str, list[Phase]] = {"read": [], "write": [], "randread": []}
    # Guest adds QEMU_APPEND to QEMU's kernel command line (see tests/linux/guest.py).
    with Guest(vmm.argv, guest, *options, name=vmm.name) as g:
        g.wait_ready()
        vcpus = vcpu_threads(g.serial.proc.pid)
        g.run("pvblk read /dev/vda 16 && pvblk randread /dev/vda 100", timeout=TIMEOUT)  # warm up
        for _ in range(repeat):
            phases["read"].append(run_phase(g, vcpus, "read", SEQ_REQUESTS))
            phases["write"].append(run_phase(g, vcpus, "write", SEQ_REQUESTS))
            phases["randread"].append(run_phase(g, vcpus, "randread", RAND_REQUESTS))
        g.poweroff()
    return phases


def median(values: list[float]) -> float:
    return statistics.median(values)


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    guest = LinuxGuest.from_dir(linux_guest())
    runs = max(1, repeat // 3)
    results: dict[str, dict[str, list[Phase]]] = {}
    with tempfile.TemporaryDirectory(prefix="pyvirt-blk-") as tmp:
        image = Path(tmp) / "disk.raw"
        with image.open("wb") as f:
            for _ in range(IMAGE_SIZE // MiB):
                f.write(os.urandom(MiB))
        for vmm in vmms:
            results[vmm.name] = measure_vmm(vmm, guest, image, runs)

    for name, phases in results.items():
        read, write, rand = (phases[k] for k in ("read", "write", "randread"))
        print(
            f"bench: blk {name}: seq read "
            f"{median([p.bytes / p.guest_ns * 1e3 for p in read]):.1f} MB/s, seq write "
            f"{median([p.bytes / p.guest_ns * 1e3 for p in write]):.1f} MB/s, 4 KiB random read "
            f"{median([p.requests / p.guest_ns * 1e9 for p in rand]):.0f} IOPS",
            file=sys.stderr,
        )

    def row(label: str, unit: str, op: str, value: Callable[[Phase], float]) -> Row:
        return Row(label, unit, {n: median([value(p) for p in r[op]]) for n, r in results.items()})

    rows = []
    for op, what in (("read", "seq read 1 MiB"), ("write", "seq write 1 MiB")):
        rows += [
            row(f"virtio-blk {what}: guest time per request", "s", op,
                lambda p: p.guest_ns / p.requests / 1e9),
            row(f"virtio-blk {what}: VMM CPU per request", "us", op,
                lambda p: p.cost.own_s / p.requests * 1e6),
            row(f"virtio-blk {what}: VMM CPU per GiB", "s", op,
                lambda p: p.cost.own_s / (p.bytes / GiB)),
            row(f"virtio-blk {what}: VMM process CPU per GiB (incl. vCPU)", "s", op,
                lambda p: p.cost.process_s / (p.bytes / GiB)),
        ]  # fmt: skip
    rows += [
        row("virtio-blk rand read 4 KiB: guest time per request", "s", "randread",
            lambda p: p.guest_ns / p.requests / 1e9),
        row("virtio-blk rand read 4 KiB: VMM CPU per request", "us", "randread",
            lambda p: p.cost.own_s / p.requests * 1e6),
    ]  # fmt: skip
    return rows


def main() -> int:
    """Run this benchmark alone, optionally against one VMM (pyvirt without virtio yet, say)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vmm", choices=["pyvirt", "qemu"], action="append",
                        help="measure only this VMM (repeatable; default: both)")  # fmt: skip
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="as bench.run's: each phase runs max(1, REPEAT // 3) times",
    )
    args = parser.parse_args()
    chosen = [v for v in vmms() if not args.vmm or v.name in args.vmm]
    rows = measure(chosen, {}, args.repeat)
    if len(chosen) == 2:
        print_table(rows)
    else:
        width = max(len(r.label) for r in rows) + 2
        for r in rows:
            print(f"{r.label:<{width}}{format_value(r.values[chosen[0].name], r.unit):>12}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
