"""virtio-net throughput, guest to host, and the VMM's host CPU per GiB moved.

The Linux guest (with virtio-net) pipes N MiB of zeros from dd into busybox nc,
connected through the user-mode backend (slirp) to a listener on the host's
loopback. Reported: the transfer time per GiB (first byte to EOF), the VMM
process's CPU seconds per GiB (utime + stime of all its threads), and the same
without its vCPU threads, which on this host also carry the emulated guest
kernel (DESIGN.md); vCPU threads are found as those seen in ioctl(KVM_RUN).

Standalone: .venv/bin/python -m bench.net_throughput [--mib N] [--vmm qemu|pyvirt] [--guest DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import Row, Vmm, vmms
from bench.linux_boot import linux_guest

KVM_RUN = 0xAE80
VCPU_NAME = re.compile(r"CPU \d+/KVM")
SYS_IOCTL = 16
CLK_TCK = os.sysconf("SC_CLK_TCK")
GiB = 1 << 30
DEFAULT_MIB = 4  # the guest kernel is emulated here: ~0.1 MiB/s
BOOT_TIMEOUT = 300.0


@dataclass
class Transfer:
    """A host listener that counts the bytes of one connection."""

    sock: socket.socket = field(default_factory=socket.socket)
    received: int = 0
    first: float = 0.0
    last: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def port(self) -> int:
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            while chunk := conn.recv(1 << 20):
                if not self.received:
                    self.first = time.perf_counter()
                self.received += len(chunk)
        self.last = time.perf_counter()
        self.done.set()


class Console:
    """The guest's serial line on the VMM's stdio."""

    def __init__(self, argv: list[str]) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        self.data = b""

    def expect(self, marker: bytes, timeout: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while marker not in self.data:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"no {marker!r} from the guest:\n"
                                   f"{self.data[-2000:].decode(errors='replace')}")  # fmt: skip
            self.data += self.proc.stdout.read1(4096)

    def type(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of each thread of `pid`."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    return out


def vcpu_threads(pid: int) -> set[int]:
    """Threads of `pid` named "CPU n/KVM" (-name debug-threads=on) or now in ioctl(KVM_RUN).

    A vCPU busy running guest code shows as "running" rather than in its ioctl,
    hence the names too."""
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text()
            words = (task / "syscall").read_text().split()
        except OSError:
            continue
        in_kvm_run = len(words) > 2 and words[0] == str(SYS_IOCTL) and int(words[2], 16) == KVM_RUN
        if in_kvm_run or VCPU_NAME.match(comm):
            found.add(int(task.name))
    return found


@dataclass
class Result:
    mib_per_s: float
    seconds_per_gib: float
    cpu_per_gib: float
    cpu_per_gib_no_vcpu: float


def run_once(vmm: Vmm, guest: Path, mib: int) -> Result:
    transfer = Transfer()
    console = Console([
        *vmm.argv, "-m", "256M", "-smp", "1", "-cpu", "host,-xsave", "-serial", "stdio",
        "-no-reboot", "-name", "bench,debug-threads=on", "-kernel", str(guest / "vmlinux"),
        "-initrd", str(guest / "initramfs.cpio"),
        "-append", (guest / "cmdline").read_text().strip(),
        "-netdev", "user,id=n0", "-device", "virtio-net-pci,netdev=n0",
    ])  # fmt: skip
    try:
        console.expect(b"PYVIRT_GUEST_READY", BOOT_TIMEOUT)
        console.type("ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && echo NET-UP")
        console.expect(b"NET-UP\r\n", 60)
        pid = console.proc.pid
        before = thread_cpu(pid)
        console.type(f"dd if=/dev/zero bs=64k count={mib * 16} 2>/dev/null | "
                     f"nc 10.0.2.2 {transfer.port}")  # fmt: skip
        vcpus: set[int] = set()
        while not transfer.done.wait(0.05):
            vcpus |= vcpu_threads(pid)
            if console.proc.poll() is not None:
                raise RuntimeError(f"{vmm.name} exited during the transfer")
        after = thread_cpu(pid)
    finally:
        console.close()
        transfer.sock.close()
    if transfer.received != mib << 20:
        raise RuntimeError(f"{vmm.name}: received {transfer.received} bytes, not {mib} MiB")
    gib = transfer.received / GiB
    elapsed = transfer.last - transfer.first
    cpu = {tid: after.get(tid, 0.0) - before.get(tid, 0.0) for tid in after}
    total = sum(cpu.values())
    no_vcpu = sum(t for tid, t in cpu.items() if tid not in vcpus)
    return Result(mib / elapsed, elapsed / gib, total / gib, no_vcpu / gib)


def measure(vmm_list: list[Vmm], guests: dict[str, Path], repeat: int,
            mib: int = DEFAULT_MIB) -> list[Row]:  # fmt: skip
    guest = linux_guest()
    if "CONFIG_VIRTIO_NET=y" not in (guest / "config").read_text():
        raise RuntimeError(f"the Linux guest in {guest} has no virtio-net driver")
    results = {v.name: [run_once(v, guest, mib) for _ in range(max(1, repeat // 3))]
               for v in vmm_list}  # fmt: skip
    best = {name: min(rs, key=lambda r: r.seconds_per_gib) for name, rs in results.items()}
    return [
        Row("net: guest->host TCP (user), time per GiB", "s",
            {n: r.seconds_per_gib for n, r in best.items()}),
        Row("net: VMM CPU per GiB, all threads", "s",
            {n: r.cpu_per_gib for n, r in best.items()}),
        Row("net: VMM CPU per GiB, without vCPU threads", "s",
            {n: r.cpu_per_gib_no_vcpu for n, r in best.items()}),
    ]  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=DEFAULT_MIB, help="MiB the guest sends")
    parser.add_argument("--vmm", choices=["qemu", "pyvirt"], action="append",
                        help="VMMs to measure (default: both)")  # fmt: skip
    parser.add_argument("--guest", type=Path, help="a built guest directory (default: build.sh's)")
    args = parser.parse_args()
    guest = args.guest or linux_guest()
    for vmm in vmms():
        if args.vmm and vmm.name not in args.vmm:
            continue
        r = run_once(vmm, guest, args.mib)
        print(f"{vmm.name}: {r.mib_per_s:.2f} MiB/s, {r.seconds_per_gib:.1f} s/GiB; VMM CPU "
              f"{r.cpu_per_gib:.1f} s/GiB, {r.cpu_per_gib_no_vcpu:.1f} s/GiB without vCPU "
              "threads")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
