"""The VMM process's own CPU time, told apart from what its vCPU threads spend in KVM_RUN.

On this host the guest kernel is emulated inside KVM_RUN (DESIGN.md), so a
VMM's whole-process CPU time mostly measures the guest. `cost()` keeps what
the VMM itself does: userspace time of vCPU threads (exit handling) and all
the time of its other threads (I/O workers, event loops). System calls the
VMM makes on a vCPU thread count with KVM_RUN, so a VMM doing its I/O there
looks cheaper than it is.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
KVM_RUN = 0xAE80
SYS_IOCTL = "16"  # x86-64


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
            if len(call) > 2 and call[0] == SYS_IOCTL and int(call[2], 16) == KVM_RUN:
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
