"""What a hypervisor driver says about the host: node info, hostname, capabilities."""

from __future__ import annotations

import os
import platform
import re
import socket
from pathlib import Path

from pyvirt.domain.xmlout import E

from .base import NodeInfo


def hostname() -> str:
    return socket.getfqdn() or socket.gethostname()


def node_info() -> NodeInfo:
    meminfo = Path("/proc/meminfo").read_text()
    mem_kib = int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1))  # type: ignore[union-attr]
    cpuinfo = Path("/proc/cpuinfo").read_text()
    mhz = re.search(r"cpu MHz\s*:\s*([\d.]+)", cpuinfo)
    cpus = os.cpu_count() or 1
    return NodeInfo(
        model=platform.machine(),
        memory_kib=mem_kib,
        cpus=cpus,
        mhz=int(float(mhz.group(1))) if mhz else 0,
        nodes=1,
        sockets=1,
        cores=cpus,
        threads=1,
    )


def capabilities(emulator: str) -> str:
    """A capabilities document naming what this driver runs: x86_64 hvm guests under KVM."""
    return E(
        "capabilities",
        E("host", E("cpu", E("arch", text=platform.machine()))),
        E(
            "guest",
            E("os_type", text="hvm"),
            E(
                "arch",
                E("wordsize", text="64"),
                E("emulator", text=emulator),
                E("machine", text="pc"),
                E("domain", type_="kvm"),
                name="x86_64",
            ),
        ),
    ).to_string()
