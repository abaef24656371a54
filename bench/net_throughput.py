"""virtio-net throughput, guest to host, and the VMM's own CPU per GiB moved.

Each VMM boots the Linux guest with one virtio-net-pci device on the user-mode
backend (libslirp for both), and the guest's `pvnet send` streams N MiB over
TCP to a listener on the host's loopback. Reported, all "lower is better":
- guest time per GiB: what pvnet measures (connect to close). The guest
  kernel is emulated here (DESIGN.md), so this is mostly the guest's own cost.
- VMM CPU per GiB: the VMM's own work (bench/vmm_cpu.py: everything but its
  vCPU threads' time in KVM_RUN), which does not depend on the guest's speed.
- VMM process CPU per GiB, emulation included, for reference.

Standalone: .venv/bin/python -m bench.net_throughput [--mib N] [--vmm qemu|pyvirt]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import threading
from collections.abc import Callable
from dataclasses import dataclass

from bench.harness import Row, Vmm, format_value, print_table, vmms
from bench.linux_boot import linux_guest
from bench.vmm_cpu import Cost, cost, sample, vcpu_threads
from tests.linux.guest import Guest, LinuxGuest

GiB = 1 << 30
DEFAULT_MIB = 8  # the guest kernel is emulated here: a few MiB/s
TIMEOUT = 600.0


class Sink(threading.Thread):
    """A host TCP server that takes one connection and counts what it reads."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(TIMEOUT)
        self.port = self.sock.getsockname()[1]
        self.received = 0

    def run(self) -> None:
        with self.sock, self.sock.accept()[0] as conn:
            while chunk := conn.recv(1 << 20):
                self.received += len(chunk)


@dataclass
class Transfer:
    size: int
    guest_ns: int
    cost: Cost


def transfer(guest: Guest, vcpus: set[int], size: int) -> Transfer:
    sink = Sink()
    sink.start()
    pid = guest.serial.proc.pid
    before = sample(pid)
    line = guest.run(f"pvnet send 10.0.2.2 {sink.port} {size}", timeout=TIMEOUT)
    after = sample(pid)
    sink.join(60)
    if sink.received != size:
        raise RuntimeError(f"the host received {sink.received} bytes, not {size}:\n{line}")
    fields = dict(kv.split("=", 1) for kv in line.split()[1:])
    return Transfer(size, int(fields["ns"]), cost(before, after, vcpus))


def measure_vmm(vmm: Vmm, guest: LinuxGuest, size: int, runs: int) -> list[Transfer]:
    options = ["-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0"]
    with Guest(vmm.argv, guest, *options, name=vmm.name) as g:
        g.wait_ready()
        vcpus = vcpu_threads(g.serial.proc.pid)
        g.run("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up")
        transfer(g, vcpus, size // 8)  # warm up: ARP, slirp's first connection
        results = [transfer(g, vcpus, size) for _ in range(runs)]
        g.poweroff()
    return results


def measure(vmm_list: list[Vmm], guests: object, repeat: int, mib: int = DEFAULT_MIB) -> list[Row]:
    guest = LinuxGuest.from_dir(linux_guest())
    if "CONFIG_VIRTIO_NET=y" not in (guest.dir / "config").read_text():
        raise RuntimeError(f"the Linux guest in {guest.dir} has no virtio-net driver")
    runs = max(1, repeat // 3)
    results = {v.name: measure_vmm(v, guest, mib << 20, runs) for v in vmm_list}

    def row(label: str, value: Callable[[Transfer], float]) -> Row:
        return Row(label, "s", {n: statistics.median(map(value, ts)) for n, ts in results.items()})

    return [
        row("virtio-net guest->host TCP (user): guest time per GiB",
            lambda t: t.guest_ns / 1e9 / (t.size / GiB)),
        row("virtio-net guest->host TCP (user): VMM CPU per GiB",
            lambda t: t.cost.own_s / (t.size / GiB)),
        row("virtio-net guest->host TCP (user): VMM process CPU per GiB (incl. vCPU)",
            lambda t: t.cost.process_s / (t.size / GiB)),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=DEFAULT_MIB, help="MiB the guest sends")
    parser.add_argument("--vmm", choices=["pyvirt", "qemu"], action="append",
                        help="measure only this VMM (repeatable; default: both)")  # fmt: skip
    args = parser.parse_args()
    chosen = [v for v in vmms() if not args.vmm or v.name in args.vmm]
    rows = measure(chosen, None, 3, args.mib)
    if len(chosen) == 2:
        print_table(rows)
    else:
        for r in rows:
            print(f"{r.label}: {format_value(r.values[chosen[0].name], r.unit)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
