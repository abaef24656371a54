"""The management daemon: pyvirtd against Debian's libvirtd, same client, same run.

The same client (libvirt-python) defines and starts 20 small domains, lists
them with their states, then destroys and undefines them. Two settings:
- the test driver on both sides (test:///default): the daemon's own overhead;
- real VMMs: pyvirtd's pyvirt:///session starting pyvirt-qemu, against
  libvirtd's qemu:///session starting qemu-system-x86_64, each domain a 32 MiB
  KVM guest running the tiny `counter` kernel with a pty serial console.
Each daemon runs in a directory of its own (libvirtd as `nobody`, see
tests/daemon/daemons.py), and starts one domain before the measurement (libvirtd
probes the emulator's capabilities on first use). Daemon memory is its resident set with the 20
domains running.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.harness import Row
from tests.daemon.daemons import Daemon, start_libvirtd, start_pyvirtd

DOMAINS = 20
TEST_XML = (
    "<domain type='test'><name>bench{i}</name><memory unit='MiB'>32</memory>"
    "<vcpu>1</vcpu><os><type>hvm</type></os></domain>"
)
KVM_XML = (
    "<domain type='kvm'><name>bench{i}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
    "<os><type>hvm</type><kernel>{kernel}</kernel></os><features><acpi/></features>"
    "<devices><serial type='pty'/><console type='pty'/></devices></domain>"
)


@dataclass(frozen=True)
class Setting:
    label: str
    uri: dict[str, tuple[str, str]]  # VMM name -> (driver, path) of the client URI
    xml: str
    runs: Callable[[int], int]  # measured runs for bench.run's --repeat


SETTINGS = [
    Setting("test driver", {"pyvirt": ("test", "/default"), "qemu": ("test", "/default")},
            TEST_XML, lambda repeat: repeat),
    Setting("real VMMs", {"pyvirt": ("pyvirt", "/session"), "qemu": ("qemu", "/session")},
            KVM_XML, lambda repeat: 1),
]  # fmt: skip


@dataclass
class Result:
    start_s: float
    list_s: float
    rss_mib: float


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _measure(daemon: Daemon, uri: str, xml: str, runs: int) -> Result:
    import libvirt

    conn = libvirt.open(uri)
    baseline = len(conn.listAllDomains())
    # Warm up: libvirtd probes the emulator's capabilities on first use (cached after).
    warm = conn.defineXML(xml.format(i="-warm-up"))
    warm.create()
    warm.destroy()
    warm.undefine()

    def listing() -> float:
        start = time.perf_counter()
        doms = conn.listAllDomains()
        states = [(d.name(), d.state()) for d in doms]
        elapsed = time.perf_counter() - start
        assert len(states) == DOMAINS + baseline, states
        return elapsed

    starts, lists = [], []
    rss = 0.0
    try:
        for _ in range(runs):
            start = time.perf_counter()
            for i in range(DOMAINS):
                conn.defineXML(xml.format(i=i)).create()
            starts.append(time.perf_counter() - start)
            lists.append(statistics.median(listing() for _ in range(5)))
            rss = _rss_mib(daemon.proc.pid)
            for i in range(DOMAINS):
                dom = conn.lookupByName(f"bench{i}")
                dom.destroy()
                dom.undefine()
    finally:
        conn.close()
    return Result(statistics.median(starts), statistics.median(lists), rss)


def _run(setting: Setting, name: str, top: Path, kernel: Path, repeat: int) -> Result:
    driver, path = setting.uri[name]
    top.mkdir()
    if name == "pyvirt":
        daemon = start_pyvirtd(top, uri=f"{driver}://{path}")
    else:
        daemon = start_libvirtd(top, kvm=driver == "qemu")
    try:
        xml = setting.xml.replace("{kernel}", str(kernel))
        return _measure(daemon, daemon.uri(driver, path), xml, setting.runs(repeat))
    finally:
        daemon.stop()


def measure(_vmms: object, guests: dict[str, Path], repeat: int) -> list[Row]:
    from guests.tiny import build as tiny_build

    counter = tiny_build.build(["counter"])["counter"]
    rows = []
    for setting in SETTINGS:
        results = {}
        for name in ("pyvirt", "qemu"):
            # Short paths: the daemons' sockets must fit in sun_path (108 bytes).
            with tempfile.TemporaryDirectory(prefix=f"bd-{name[0]}-", dir="/tmp") as tmp:
                Path(tmp).chmod(0o755)  # libvirtd runs as nobody
                kernel = Path(tmp) / "counter.elf"
                shutil.copy(counter, kernel)
                kernel.chmod(0o644)
                results[name] = _run(setting, name, Path(tmp) / "d", kernel, repeat)
        label = f"daemon, {setting.label} (peer: libvirtd)"
        rows += [
            Row(f"{label}: define+start {DOMAINS} domains", "s",
                {k: r.start_s for k, r in results.items()}),
            Row(f"{label}: list them with states", "s",
                {k: r.list_s for k, r in results.items()}),
            Row(f"{label}: daemon RSS", "MiB", {k: r.rss_mib for k, r in results.items()}),
        ]  # fmt: skip
    return rows
