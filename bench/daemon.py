"""The management daemon: pyvirtd against Debian's libvirtd, both on the test driver.

The same client (libvirt-python) defines and starts 20 small domains, lists
them, then destroys and undefines them; each daemon runs in a directory of its
own (libvirtd as `nobody`, see tests/daemon/daemons.py). Daemon memory is the
resident set after the 20 domains ran.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.harness import Row, median_of
from tests.daemon.daemons import Daemon, start_libvirtd, start_pyvirtd

DOMAINS = 20
XML = (
    "<domain type='test'><name>bench{i}</name><memory unit='MiB'>32</memory>"
    "<vcpu>1</vcpu><os><type>hvm</type></os></domain>"
)


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _measure(daemon: Daemon, repeat: int) -> tuple[float, float, float]:
    """(define+start 20 s, list s, RSS MiB)."""
    import libvirt

    conn = libvirt.open(daemon.uri())

    def define_and_start() -> float:
        start = time.perf_counter()
        for i in range(DOMAINS):
            conn.defineXML(XML.format(i=i)).create()
        return time.perf_counter() - start

    def listing() -> float:
        start = time.perf_counter()
        doms = conn.listAllDomains()
        names = [d.name() for d in doms]
        states = [d.state() for d in doms]
        elapsed = time.perf_counter() - start
        assert len(names) == len(states) == DOMAINS + 1
        return elapsed

    def cleanup() -> None:
        for i in range(DOMAINS):
            dom = conn.lookupByName(f"bench{i}")
            dom.destroy()
            dom.undefine()

    starts, lists = [], []
    for _ in range(repeat):
        starts.append(define_and_start())
        lists.append(median_of(5, listing))
        rss = _rss_mib(daemon.proc.pid)
        cleanup()
    conn.close()
    return sorted(starts)[len(starts) // 2], sorted(lists)[len(lists) // 2], rss


def measure(_vmms: object, _guests: object, repeat: int) -> list[Row]:
    results = {}
    for name, launch in (("pyvirt", start_pyvirtd), ("qemu", start_libvirtd)):
        with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
            daemon = launch(Path(tmp))
            try:
                results[name] = _measure(daemon, repeat)
            finally:
                daemon.stop()
    label = "daemon (peer: libvirtd, test driver)"
    return [
        Row(f"{label}: define+start {DOMAINS} domains", "s", {k: v[0] for k, v in results.items()}),
        Row(f"{label}: list {DOMAINS + 1} with states", "s", {k: v[1] for k, v in results.items()}),
        Row(f"{label}: RSS", "MiB", {k: v[2] for k, v in results.items()}),
    ]
