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
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row, Vmm, format_value, print_table, vmms
from bench.linux_boot import linux_guest
from tests.linux.guest import Guest, LinuxGuest

MiB = 1 << 20
GiB = 1 << 30
IMAGE_SIZE = 256 * MiB
SEQ_REQUESTS = 256  # 1 MiB each: the whole image, ~10 s here
RAND_REQUESTS = 2000  # 4 KiB each
WAIT_MS = 300  # pvblk's idle pause before each measured loop
CLK_TCK = os.sysconf("SC_CLK_TCK")
KVM_RUN = 0xAE80
TIMEOUT = 600.0


@dataclass
class ThreadTimes:
    utime: int  # ticks
    stime: int  # ticks
    guest: int  # ticks
    run_ns: int  # on-CPU time (schedstat), user + system


@dataclass
class Sample:
    process_ticks: int  # utime + stime of the process, dead threads included
    process_guest: int
    threads: dict[int, ThreadTimes]


def stat_fields(path: Path) -> list[str]:
    text = path.read_text()
    return text[text.rindex(")") + 2 :].split()  # fields from 3 (state) on


def sample(pid: int) -> Sample:
    f = stat_fields(Path(f"/proc/{pid}/stat"))
    threads = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        task = Path(f"/proc/{pid}/task/{tid}")
        try:
            t = stat_fields(task / "stat")
            run_ns = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError):
            continue  # the thread ended meanwhile
        threads[int(tid)] = ThreadTimes(int(t[11]), int(t[12]), int(t[40]), run_ns)
    return Sample(int(f[11]) + int(f[12]), int(f[40]), threads)


def vcpu_threads(pid: int, timeout: float = 10.0) -> set[int]:
    """Threads of `pid` seen blocked in ioctl(fd, KVM_RUN) (sampled while the guest idles)."""
    found: set[int] = set()
    deadline = time.monotonic() + timeout
    rounds = 0
    while time.monotonic() < deadline and (not found or rounds < 50):
        rounds += 1
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                call = Path(f"/proc/{pid}/task/{tid}/syscall").read_text().split()
            except OSError:
                continue
            if len(call) > 2 and call[0] == "16" and int(call[2], 16) == KVM_RUN:
                found.add(int(tid))
        time.sleep(0.01)
    if not found:
        raise RuntimeError(f"no thread of VMM process {pid} is in KVM_RUN")
    return found


@dataclass
class Cost:
    process_s: float  # the whole process
    own_s: float  # without the vCPU threads' kernel and guest time


def cost(before: Sample, after: Sample, vcpus: set[int]) -> Cost:
    process_s = (after.process_ticks - before.process_ticks) / CLK_TCK
    own_ns = 0.0
    live_ticks = 0
    for tid, a in after.threads.items():
        b = before.threads.get(tid, ThreadTimes(0, 0, 0, 0))
        live_ticks += a.utime + a.stime - b.utime - b.stime
        if tid in vcpus:
            # Userspace exit handling counts; KVM_RUN and guest mode do not.
            own_ns += max(0, (a.utime - b.utime) - (a.guest - b.guest)) * 1e9 / CLK_TCK
        else:
            own_ns += a.run_ns - b.run_ns
    # Threads that ended during the phase (short-lived I/O workers).
    dead_ticks = max(0, after.process_ticks - before.process_ticks - live_ticks)
    return Cost(process_s, own_ns / 1e9 + dead_ticks / CLK_TCK)


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
