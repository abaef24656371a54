"""VMM start-up: from the process's execve to its first KVM_RUN, and to the guest's exit.

The first figure comes from strace's timestamps (with --seccomp-bpf only the
traced calls stop the process, so the cost of tracing stays small); the second
is plain wall-clock time for a guest that exits as soon as it runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.harness import DEBUG_EXIT, EXIT_PASS, Row, Vmm, median_of, run_checked

_LINE = re.compile(r"^\d+\s+(\d+\.\d+)\s+(execve|ioctl)\((.*)")


def first_kvm_run(argv: list[str]) -> float:
    """Seconds from execve to the first KVM_RUN ioctl, as strace saw them."""
    if shutil.which("strace") is None:
        raise SystemExit("bench: strace is not installed (apt-get install strace)")
    with tempfile.TemporaryDirectory() as tmp:
        trace = Path(tmp) / "trace"
        subprocess.run(["strace", "-f", "--seccomp-bpf", "-ttt", "-e", "trace=execve,ioctl",
                        "-e", "signal=none", "-o", str(trace), *argv],
                       capture_output=True, timeout=120, check=False)  # fmt: skip
        start = None
        for line in trace.read_text().splitlines():
            m = _LINE.match(line)
            if not m:
                continue
            stamp, call, rest = float(m.group(1)), m.group(2), m.group(3)
            if call == "execve" and start is None:
                start = stamp
            elif call == "ioctl" and "KVM_RUN" in rest and start is not None:
                return stamp - start
    raise RuntimeError(f"no KVM_RUN seen running {' '.join(argv)}")


def measure(vmms: list[Vmm], guests: dict[str, Path], repeat: int) -> list[Row]:
    run_args = ["-m", "64M", *DEBUG_EXIT, "-kernel", str(guests["bench"])]
    first_run = {v.name: median_of(repeat, lambda v=v: first_kvm_run([*v.argv, *run_args]))
                 for v in vmms}  # fmt: skip
    to_exit = {v.name: median_of(repeat, lambda v=v: run_checked([*v.argv, *run_args],
                                                                   expect=EXIT_PASS))
               for v in vmms}  # fmt: skip
    return [
        Row("start-up: execve to first KVM_RUN", "s", first_run),
        Row("start-up: execve to guest exit (tiny guest)", "s", to_exit),
    ]
