"""Snapshot to a file and restore from it, time and the VMM's peak memory (VmHWM).

Both VMMs run the tiny counter guest with 256 MiB and 1 GiB of RAM; the snapshot is
`migrate "exec:cat > FILE"` (the VMM streams into a pipe) and the restore a new VMM
started with `-incoming "exec:cat FILE"`, timed from its launch until query-migrate
says "completed". The guest touches little of its RAM, so this measures what each
VMM pays per GiB of mostly untouched memory plus its fixed costs.
"""

from __future__ import annotations

import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from qemu.qmp import ConnectError
from qemu.qmp.legacy import QEMUMonitorProtocol

from bench.harness import Row, Vmm
from guests.tiny import build as tiny_build

SIZES_MIB = (256, 1024)
TIMEOUT = 60.0
_MiB = 1 << 20
_ROWS = (  # (result key, label, unit)
    ("save", "snapshot", "s"),
    ("save_rss", "snapshot peak RSS", "MiB"),
    ("restore", "restore", "s"),
    ("restore_rss", "restore peak RSS", "MiB"),
    ("size", "snapshot file", "MiB"),
)


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


class _Vm:
    """A VMM with a QMP socket in `workdir`."""

    def __init__(self, argv: list[str], workdir: Path, *options: str) -> None:
        self.socket = workdir / "qmp.sock"
        self.socket.unlink(missing_ok=True)
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [*argv, "-qmp", f"unix:{self.socket},server=on,wait=off", "-serial", "null",
             *options],
            stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.qmp = QEMUMonitorProtocol(str(self.socket))
                self.qmp.connect()
                return
            except (OSError, ConnectError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]}: no QMP socket") from None
                time.sleep(0.01)

    def migration_done(self) -> float:
        """Poll query-migrate until completed; returns seconds since the VMM started."""
        deadline = time.monotonic() + TIMEOUT
        while (status := self.qmp.cmd("query-migrate").get("status")) != "completed":
            if status == "failed" or time.monotonic() > deadline:
                raise RuntimeError(f"migration {status}")
            time.sleep(0.005)
        return time.perf_counter() - self.started

    def close(self) -> None:
        self.qmp.close()
        self.proc.kill()
        self.proc.wait()
        assert self.proc.stderr is not None
        self.proc.stderr.close()


def _round_trip(vmm: Vmm, guest: Path, ram_mib: int, workdir: Path) -> dict[str, float]:
    image = workdir / "snapshot"
    options = ["-m", f"{ram_mib}M", "-kernel", str(guest)]
    source = _Vm(vmm.argv, workdir, *options)
    try:
        time.sleep(0.5)  # let the guest boot and count
        start = time.perf_counter()
        source.qmp.cmd("migrate", uri=f"exec:cat > {image}")
        source.started = start
        save = source.migration_done()
        save_rss = _peak_rss_mib(source.proc.pid)
    finally:
        source.close()
    target = _Vm(vmm.argv, workdir, *options, "-incoming", f"exec:cat {image}")
    try:
        restore = target.migration_done()
        restore_rss = _peak_rss_mib(target.proc.pid)
    finally:
        target.close()
    return {"save": save, "save_rss": save_rss, "restore": restore, "restore_rss": restore_rss,
            "size": image.stat().st_size / _MiB}  # fmt: skip


def measure(vmms: list[Vmm], guests: Mapping[str, Path], repeat: int) -> list[Row]:
    guest = tiny_build.build(["counter"])["counter"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyvirt-bench-") as tmp:
        for ram_mib in SIZES_MIB:
            results: dict[str, dict[str, float]] = {}
            for vmm in vmms:
                runs = [_round_trip(vmm, guest, ram_mib, Path(tmp)) for _ in range(repeat)]
                results[vmm.name] = {key: statistics.median(r[key] for r in runs)
                                     for key in runs[0]}  # fmt: skip
            for key, what, unit in _ROWS:
                values = {name: r[key] for name, r in results.items()}
                rows.append(Row(f"{what}, {ram_mib} MiB", unit, values))
    return rows
