"""virtio devices seen from the Linux guest: disk, network, console, entropy, the PCI bus.

Every test boots guests/linux's kernel under the `vmm` fixture with QEMU's own
device options, so pyvirt and QEMU 7.2 get the same command line. QEMU's pc
machine has no virtio-mmio bus: the virtio-mmio tests are pyvirt's alone.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from qemu.qmp.legacy import QEMUMonitorProtocol

from .guest import Guest, LinuxGuest, free_port, is_pyvirt

pytestmark = pytest.mark.linux

MiB = 1 << 20
DISK_SIZE = 64 * MiB
MAC = "52:54:00:12:34:56"
VIRTIO_VENDOR = 0x1AF4
# Modern virtio-pci device ids: 0x1040 + the virtio device type.
VIRTIO_PCI_IDS = {"net": 0x1041, "blk": 0x1042, "console": 0x1043, "rng": 0x1044}
MMIO_ONLY = pytest.mark.parametrize(
    "vmm",
    [
        "pyvirt",
        pytest.param("qemu", marks=pytest.mark.skip(reason="QEMU's pc machine has no virtio-mmio")),
    ],
    indirect=True,
)


# --- disk helpers -------------------------------------------------------------


def disk_pattern(size: int) -> bytes:
    """Every 512-byte sector names itself, so a misplaced sector shows."""
    sectors = (f"pyvirt sector {i:08d}\n".encode() * 22 for i in range(size // 512))
    return b"".join(s + b"." * (512 - len(s)) for s in sectors)


def yes_data(word: str, length: int) -> bytes:
    """WORD and a newline, over and over, cut at `length` bytes (what `yes WORD` prints)."""
    line = (word + "\n").encode()
    return (line * (length // len(line) + 1))[:length]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def guest_sha(guest: Guest, offset: int, length: int, bs: int = 4096) -> str:
    """sha256 of a range of /dev/vda, read with O_DIRECT."""
    assert offset % bs == 0 and length % bs == 0
    out = guest.run(
        f"dd if=/dev/vda bs={bs} skip={offset // bs} count={length // bs} iflag=direct "
        "2>/dev/null | sha256sum"
    )
    return out.split()[0]


def first_difference(a: bytes, b: bytes) -> str:
    if len(a) != len(b):
        return f"sizes differ: {len(a)} and {len(b)}"
    for i in range(0, len(a), 4096):
        if a[i : i + 4096] != b[i : i + 4096]:
            j = next(k for k in range(i, i + 4096) if a[k] != b[k])
            return f"first difference at byte {j}: {a[j : j + 32]!r} != {b[j : j + 32]!r}"
    return "identical"


def qmp_query(path: Path, command: str) -> Any:
    """One command on a VMM's QMP socket."""
    qmp = QEMUMonitorProtocol(str(path))
    qmp.connect()
    try:
        return qmp.cmd(command)
    finally:
        qmp.close()


def qmp_socket(tmp_path: Path) -> tuple[Path, list[str]]:
    path = tmp_path / "qmp.sock"
    return path, ["-qmp", f"unix:{path},server=on,wait=off"]


def assert_image(path: Path, expected: bytes | bytearray) -> None:
    data = path.read_bytes()
    assert data == expected, f"{path}: {first_difference(data, bytes(expected))}"


@pytest.fixture
def disk(tmp_path: Path) -> tuple[Path, bytearray]:
    """A 64 MiB raw image with a known pattern, and a copy of what it should hold."""
    pattern = disk_pattern(DISK_SIZE)
    path = tmp_path / "disk.raw"
    path.write_bytes(pattern)
    return path, bytearray(pattern)


# Writes done by the guest: (description, dd options, offset, length, word).
# Offsets are in bytes; dd's seek= is in blocks of bs.
DISK_WRITES = [
    ("O_DIRECT, 4 KiB at 0", "bs=4096 oflag=direct", 0, 4096, "pyvirt-w1"),
    ("O_DIRECT, 1 MiB at 8 MiB", "bs=1048576 oflag=direct", 8 * MiB, MiB, "pyvirt-w2"),
    ("buffered, 3 sectors at 1 MiB + 512", "bs=512 conv=fsync", MiB + 512, 1536, "pyvirt-w3"),
    ("O_DIRECT, 64 KiB at the end", "bs=65536 oflag=direct", DISK_SIZE - 65536, 65536, "pw4"),
]


def guest_write(options: str, offset: int, length: int, word: str) -> str:
    """A shell command: dd writes `yes_data(word, length)` at `offset` of /dev/vda.

    The data is built in a shell variable and written to /tmp with one write:
    `yes | head -c` moves it through a pipe a line at a time, and every system
    call is emulated kernel code here (1 MiB took minutes).
    """
    bs = int(re.search(r"bs=(\d+)", options).group(1))  # type: ignore[union-attr]
    assert offset % bs == 0 and length % bs == 0
    return (
        f"w=$'{word}\\n'; while [ ${{#w}} -lt {length} ]; do w=$w$w; done; "
        'echo -n "$w" > /tmp/w && '
        f"dd if=/tmp/w of=/dev/vda {options} seek={offset // bs} count={length // bs} "
        "2>/dev/null"
    )


# --- disk tests -----------------------------------------------------------------


def test_disk(
    vmm: list[str], linux_guest: LinuxGuest, disk: tuple[Path, bytearray], tmp_path: Path
) -> None:
    """virtio-blk-pci on a raw image: reads, writes (O_DIRECT and buffered), flush,
    discard, write-zeroes and the serial number; the host checks the file byte for byte,
    and query-blockstats has counted the guest's I/O."""
    path, expected = disk
    qmp, qmp_options = qmp_socket(tmp_path)
    options = [
        "-drive", f"file={path},if=none,format=raw,id=d0,discard=unmap",
        "-device", "virtio-blk-pci,drive=d0,serial=pyvirt-disk0", *qmp_options,
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        assert g.run("cat /sys/block/vda/serial").strip() == "pyvirt-disk0"
        size = int(g.run("pvblk size /dev/vda").split("bytes=")[1])
        assert size == DISK_SIZE
        # The device offers a write-back cache (flush), discard and write-zeroes.
        assert g.run("cat /sys/block/vda/queue/write_cache").strip() == "write back"
        assert int(g.run("cat /sys/block/vda/queue/discard_max_bytes")) > 0
        assert int(g.run("cat /sys/block/vda/queue/write_zeroes_max_bytes")) > 0

        # What the host wrote is there.
        for offset in (0, 5 * MiB, DISK_SIZE - MiB):
            assert guest_sha(g, offset, MiB) == sha256(expected[offset : offset + MiB])

        for _, dd_options, offset, length, word in DISK_WRITES:
            g.run(guest_write(dd_options, offset, length, word))
            expected[offset : offset + length] = yes_data(word, length)
        g.run("sync && pvblk flush /dev/vda")
        for what, _, offset, length, _ in DISK_WRITES:
            start, end = offset // 4096 * 4096, -(-(offset + length) // 4096) * 4096
            assert guest_sha(g, start, end - start) == sha256(expected[start:end]), what

        # Write-zeroes: zeros, guaranteed. Discard: a raw file's hole reads as zeros.
        g.run(f"pvblk zeroout /dev/vda {16 * MiB} {MiB}")
        expected[16 * MiB : 17 * MiB] = bytes(MiB)
        g.run(f"blkdiscard -o {20 * MiB} -l {2 * MiB} /dev/vda")
        expected[20 * MiB : 22 * MiB] = bytes(2 * MiB)
        assert guest_sha(g, 16 * MiB, MiB) == sha256(bytes(MiB))

        (entry,) = qmp_query(qmp, "query-blockstats")
        stats = entry["stats"]
        assert entry["device"] == "d0"
        assert stats["rd_operations"] > 0 and stats["rd_bytes"] >= 3 * MiB  # the sha256 checks
        written = sum(length for _, _, _, length, _ in DISK_WRITES)
        assert stats["wr_operations"] >= len(DISK_WRITES) and stats["wr_bytes"] >= written
        assert stats["flush_operations"] > 0
        if is_pyvirt(vmm):  # QEMU 7.2's virtio-blk does not account discards (later ones do)
            assert stats["unmap_operations"] > 0
        assert stats["wr_highest_offset"] == DISK_SIZE  # the last write ends the disk
        g.poweroff()
    assert_image(path, expected)


def test_disk_cache_none(
    vmm: list[str], linux_guest: LinuxGuest, disk: tuple[Path, bytearray]
) -> None:
    """cache=none (O_DIRECT on the host): the guest's writes, sector-sized or not
    page-aligned in its buffers, reach the file byte for byte."""
    path, expected = disk
    with Guest(vmm, linux_guest, "-drive", f"file={path},if=virtio,format=raw,cache=none") as g:
        g.wait_ready()
        for _, dd_options, offset, length, word in DISK_WRITES:
            g.run(guest_write(dd_options, offset, length, word))
            expected[offset : offset + length] = yes_data(word, length)
        g.run("sync && pvblk flush /dev/vda")
        assert guest_sha(g, 5 * MiB, MiB) == sha256(expected[5 * MiB : 6 * MiB])
        g.poweroff()
    assert_image(path, expected)


def test_disk_readonly(
    vmm: list[str], linux_guest: LinuxGuest, disk: tuple[Path, bytearray]
) -> None:
    """`-drive if=virtio,readonly=on`: the guest reads, its writes fail, the file is unchanged."""
    path, expected = disk
    with Guest(vmm, linux_guest, "-drive", f"file={path},if=virtio,format=raw,readonly=on") as g:
        g.wait_ready()
        assert g.run("cat /sys/block/vda/ro").strip() == "1"
        assert guest_sha(g, 3 * MiB, MiB) == sha256(expected[3 * MiB : 4 * MiB])
        for _, dd_options, offset, length, word in DISK_WRITES[:3]:
            status, out = g.run_status(guest_write(dd_options, offset, length, word)
                                       .replace("2>/dev/null", ""))  # fmt: skip
            assert status != 0, f"a write to the read-only disk succeeded:\n{out}"
            assert re.search(r"Operation not permitted|Read-only file system", out), out
        assert g.run_status(f"pvblk zeroout /dev/vda 0 {MiB}")[0] != 0
        assert g.run_status(f"blkdiscard -o 0 -l {MiB} /dev/vda")[0] != 0
        g.poweroff()
    assert_image(path, expected)


# --- network ------------------------------------------------------------------


class Receiver(threading.Thread):
    """A host TCP server that takes one connection and counts (and hashes) what it reads."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(120)
        self.port = self.sock.getsockname()[1]
        self.received = 0
        self.digest = hashlib.sha256()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(120)
                while chunk := conn.recv(1 << 16):
                    self.received += len(chunk)
                    self.digest.update(chunk)
        except OSError as err:
            self.error = err
        finally:
            self.sock.close()


def pvnet_data(size: int) -> bytes:
    """What `pvnet send` sends: the alphabet, over and over."""
    alphabet = bytes(range(ord("a"), ord("z") + 1))
    return (alphabet * (size // 26 + 1))[:size]


def http_get(url: str, timeout: float = 60) -> bytes:
    """GET with retries: the forwarded port may accept before the guest's server listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as resp:
                return bytes(resp.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_net_user(vmm: list[str], linux_guest: LinuxGuest, tmp_path: Path) -> None:
    """User-mode networking: DHCP gives 10.0.2.15, the host reaches a guest HTTP
    server through hostfwd, the guest reaches a host TCP server through the NAT;
    pyvirt's x-query-netstats counted the traffic."""
    port = free_port()
    qmp, qmp_options = qmp_socket(tmp_path)
    options = [
        "-netdev", f"user,id=n0,hostfwd=tcp::{port}-:8080",
        "-device", f"virtio-net-pci,netdev=n0,mac={MAC}", *qmp_options,
    ]  # fmt: skip
    receiver = Receiver()
    receiver.start()
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        assert g.run("cat /sys/class/net/eth0/address").strip() == MAC
        g.run("ip link set lo up && udhcpc -i eth0 -q -n -t 5 -T 3")
        assert "inet 10.0.2.15/24" in g.run("ip -4 addr show dev eth0")
        assert "default via 10.0.2.2 dev eth0" in g.run("ip route")
        assert "nameserver 10.0.2.3" in g.run("cat /etc/resolv.conf")
        # libslirp answers pings to its gateway address itself.
        g.run("ping -c 2 -W 10 10.0.2.2")

        g.run("mkdir -p /tmp/www && echo pyvirt-hostfwd-$((6*7)) > /tmp/www/hello.txt")
        g.run("httpd -p 8080 -h /tmp/www")
        assert http_get(f"http://127.0.0.1:{port}/hello.txt") == b"pyvirt-hostfwd-42\n"

        size = 4 * MiB
        out = g.run(f"pvnet send 10.0.2.2 {receiver.port} {size}", timeout=180)
        receiver.join(60)
        assert receiver.error is None, receiver.error
        assert receiver.received == size, out
        assert receiver.digest.hexdigest() == sha256(pvnet_data(size))
        print(out.strip())
        if is_pyvirt(vmm):  # QEMU has no QMP command for a netdev's counters
            (stats,) = qmp_query(qmp, "x-query-netstats")
            assert stats["netdev"] == "n0" and stats["tx_bytes"] > size
            assert stats["rx_packets"] > 0 and stats["tx_packets"] > size // 1514
        g.poweroff()


def configure_static(guest: Guest, address: str) -> None:
    guest.run(f"ip addr add {address} dev eth0 && ip link set eth0 up")


def test_net_socket(vmm: list[str], linux_guest: LinuxGuest) -> None:
    """Two guests on `-netdev socket` (listen/connect): ping both ways, and a TCP transfer."""
    port = free_port()
    a_options = [
        "-netdev", f"socket,id=n0,listen=127.0.0.1:{port}",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:76:01",
    ]  # fmt: skip
    b_options = [
        "-netdev", f"socket,id=n0,connect=127.0.0.1:{port}",
        "-device", "virtio-net-pci,netdev=n0,mac=52:54:00:00:76:02",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *a_options, name="listener") as a:
        wait_for_listener(port, a)
        with Guest(vmm, linux_guest, *b_options, name="connector") as b:
            a.wait_ready()
            b.wait_ready()
            configure_static(a, "192.168.76.1/24")
            configure_static(b, "192.168.76.2/24")
            b.run("ping -c 3 -W 10 192.168.76.1")
            a.run("ping -c 3 -W 10 192.168.76.2")
            a.run("pvnet recv 5001 > /tmp/recv 2>&1 &")
            a.run("while ! grep -q listening /tmp/recv; do sleep 0.1; done", timeout=30)
            size = 2 * MiB
            print(b.run(f"pvnet send 192.168.76.1 5001 {size}", timeout=180).strip())
            out = a.run("while ! grep -q op=recv /tmp/recv; do sleep 0.2; done; cat /tmp/recv")
            assert f"bytes={size} " in out, out
            b.poweroff()
        a.poweroff()


def wait_for_listener(port: int, guest: Guest, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert guest.serial.proc.poll() is None, f"the listening VMM exited{guest}"
        try:
            # QEMU takes this probe as its peer and drops it when it closes.
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                pass
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}{guest}")


def icmp_checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def host_ping(address: str, timeout: float = 30) -> None:
    """One ICMP echo from the host (raw socket: root), retried until a reply comes."""
    ident = os.getpid() & 0xFFFF
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        s.settimeout(1)
        seq = 0
        while time.monotonic() < deadline:
            seq += 1
            payload = b"pyvirt-tap-ping"
            header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
            packet = struct.pack("!BBHHH", 8, 0, icmp_checksum(header + payload), ident, seq)
            s.sendto(packet + payload, (address, 0))
            try:
                while True:
                    reply, (source, _) = s.recvfrom(2048)
                    ihl = (reply[0] & 0xF) * 4
                    kind, _, _, rid, rseq = struct.unpack("!BBHHH", reply[ihl : ihl + 8])
                    if source == address and kind == 0 and rid == ident and rseq == seq:
                        return
            except TimeoutError:
                continue
    raise AssertionError(f"no ICMP echo reply from {address} in {timeout:.0f} s")


@pytest.fixture
def tap() -> Iterator[str]:
    """A host tap device with 10.213.79.1/24, removed afterwards (needs root)."""
    if os.geteuid() != 0:
        pytest.skip("the tap backend test needs root")
    if not os.path.exists("/dev/net/tun") or shutil.which("ip") is None:
        pytest.skip("needs /dev/net/tun and iproute2's ip")
    name = f"pvtap{os.getpid() % 100000}"
    subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.213.79.1/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def test_net_tap(vmm: list[str], linux_guest: LinuxGuest, tap: str) -> None:
    """The tap backend: the guest pings the host's end of the tap, and the host pings it."""
    options = [
        "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=n0,mac={MAC}",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        configure_static(g, "10.213.79.2/24")
        g.run("ping -c 3 -W 10 10.213.79.1")
        host_ping("10.213.79.2")
        g.poweroff()


# --- console and entropy --------------------------------------------------------


def connect_unix(path: Path, guest: Guest, timeout: float = 30) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        assert guest.serial.proc.poll() is None, f"the VMM exited{guest}"
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(str(path))
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def read_until(sock: socket.socket, marker: bytes, timeout: float = 60) -> bytes:
    data = b""
    sock.settimeout(timeout)
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_console(vmm: list[str], linux_guest: LinuxGuest, tmp_path: Path) -> None:
    """virtio-serial-pci with a virtconsole port on a unix socket chardev: hvc0 both ways."""
    path = tmp_path / "hvc.sock"
    options = [
        "-device", "virtio-serial-pci",
        "-chardev", f"socket,id=c1,path={path},server=on,wait=off",
        "-device", "virtconsole,chardev=c1",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        with connect_unix(path, g) as host_end:
            g.wait_ready()
            g.run("echo pyvirt-hvc-out-$((6*7)) > /dev/hvc0")
            out = read_until(host_end, b"pyvirt-hvc-out-42")
            assert b"pyvirt-hvc-out-42" in out, out
            # Host to guest: a reader on hvc0 (canonical mode) gets the line.
            g.run("stty -F /dev/hvc0 -echo && (head -n 1 /dev/hvc0 > /tmp/hvc-in &)")
            time.sleep(1)
            host_end.sendall(b"pyvirt-hvc-in\n")
            got = g.run("for i in $(seq 60); do [ -s /tmp/hvc-in ] && break; sleep 0.5; done; "
                        "cat /tmp/hvc-in")  # fmt: skip
            assert got.strip() == "pyvirt-hvc-in"
        g.poweroff()


def guest_random(guest: Guest, device: str = "/dev/hwrng", count: int = 64) -> bytes:
    out = guest.run(
        f"dd if={device} bs={count} count=1 iflag=fullblock 2>/dev/null | od -An -v -tx1"
    )
    return bytes.fromhex("".join(out.split()))


def assert_random(a: bytes, b: bytes, count: int = 64) -> None:
    assert len(a) == len(b) == count, (a, b)
    assert a != b
    assert len(set(a)) > 16, a  # 64 random bytes have ~50 distinct values


def test_rng(vmm: list[str], linux_guest: LinuxGuest) -> None:
    """virtio-rng-pci: the kernel's hw_random picks it, /dev/hwrng gives random bytes."""
    with Guest(vmm, linux_guest, "-device", "virtio-rng-pci") as g:
        g.wait_ready()
        assert g.run("cat /sys/class/misc/hw_random/rng_current").strip().startswith("virtio_rng")
        assert_random(guest_random(g), guest_random(g))
        g.poweroff()


# --- the PCI bus ----------------------------------------------------------------

# Kernel log lines (`dmesg -r`, "<level>text") that fail the PCI test: errors
# and worse anywhere, warnings on the PCI/ACPI/virtio path.
LOG_ERROR = re.compile(r"^<[0-3]>")
LOG_WARNING = re.compile(r"^<4>.*(pci|acpi|virtio|mmconfig|msi|irq)", re.IGNORECASE)
LOG_ALLOWED = [
    # Linux sets the SCI's trigger mode in the PIC's ELCR itself when firmware
    # did not: a note, whatever the VMM.
    re.compile(r"ACPI: setting ELCR to"),
]
LOG_ALLOWED_QEMU = [
    # QEMU's pc machine (i440fx) has no ECAM, so no MCFG table.
    re.compile(r"fail to add MMCONFIG information"),
]


def log_problems(log: str, allowed: list[re.Pattern[str]]) -> list[str]:
    return [
        line
        for line in log.splitlines()
        if (LOG_ERROR.search(line) or LOG_WARNING.search(line))
        and not any(a.search(line) for a in allowed)
    ]


def test_pci(vmm: list[str], linux_guest: LinuxGuest, disk: tuple[Path, bytearray]) -> None:
    """All four virtio-pci devices (modern, disable-legacy=on): ids, drivers, MSI-X, a clean log."""
    path, _ = disk
    options = [
        "-drive", f"file={path},if=none,format=raw,id=d0",
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on",
        "-netdev", "user,id=n0",
        "-device", f"virtio-net-pci,netdev=n0,mac={MAC},disable-legacy=on",
        "-device", "virtio-serial-pci,disable-legacy=on",
        "-chardev", "null,id=c1",
        "-device", "virtconsole,chardev=c1",
        "-device", "virtio-rng-pci,disable-legacy=on",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        listing = g.run(
            "cd /sys/bus/pci/devices && for d in *; do "
            "echo $d $(cat $d/vendor $d/device $d/class) "
            "$(basename $(readlink $d/driver) 2>/dev/null || echo none) "
            "$(ls $d/msi_irqs 2>/dev/null | wc -l); done"
        )
        log = g.run("dmesg -r")
        has_mcfg = g.run_status("test -e /sys/firmware/acpi/tables/MCFG")[0] == 0
        g.poweroff()

    devices = {}
    for line in listing.splitlines():
        slot, vendor, device, cls, driver, msi = line.split()
        devices[slot] = (int(vendor, 16), int(device, 16), int(cls, 16), driver, int(msi))
    print(listing)
    found = {}
    for slot, (vendor, device, _, driver, msi) in devices.items():
        if vendor == VIRTIO_VENDOR:
            assert driver == "virtio-pci", f"{slot}: driver {driver}"
            assert msi > 0, f"{slot}: no MSI-X vectors in use"
            found[device] = slot
    assert set(found) == set(VIRTIO_PCI_IDS.values()), listing
    allowed = LOG_ALLOWED + ([] if is_pyvirt(vmm) else LOG_ALLOWED_QEMU)
    bad = log_problems(log, allowed)
    assert not bad, "errors and warnings in the guest's log:\n" + "\n".join(bad)
    if is_pyvirt(vmm):
        # pyvirt describes PCIe ECAM in an MCFG table (QEMU's pc machine has none).
        assert has_mcfg
        assert re.search(r"PCI: MMCONFIG at \[mem 0x[0-9a-f]+-0x[0-9a-f]+\] reserved", log), log


# --- virtio-mmio (pyvirt) -------------------------------------------------------


@MMIO_ONLY
def test_mmio(vmm: list[str], linux_guest: LinuxGuest, disk: tuple[Path, bytearray],
              tmp_path: Path) -> None:  # fmt: skip
    """The four devices over virtio-mmio, found in the DSDT (_HID LNRO0005)."""
    path, expected = disk
    console = tmp_path / "hvc.out"
    options = [
        "-drive", f"file={path},if=none,format=raw,id=d0",
        "-device", "virtio-blk-device,drive=d0",
        "-netdev", "user,id=n0",
        "-device", f"virtio-net-device,netdev=n0,mac={MAC}",
        "-device", "virtio-serial-device",
        "-chardev", f"file,id=c1,path={console}",
        "-device", "virtconsole,chardev=c1",
        "-device", "virtio-rng-device",
    ]  # fmt: skip
    with Guest(vmm, linux_guest, *options) as g:
        g.wait_ready()
        listing = g.run(
            "cd /sys/bus/virtio/devices && for d in *; do "
            "echo $d $(cat $d/device) $(readlink -f $d); done"
        )
        ids = set()
        for line in listing.splitlines():
            _, device, where = line.split()
            assert "LNRO0005" in where, listing
            ids.add(int(device, 16))
        assert ids == {1, 2, 3, 4}, listing
        assert guest_sha(g, 2 * MiB, MiB) == sha256(expected[2 * MiB : 3 * MiB])
        _, dd_options, offset, length, word = DISK_WRITES[1]
        g.run(guest_write(dd_options, offset, length, word))
        expected[offset : offset + length] = yes_data(word, length)
        g.run("udhcpc -i eth0 -q -n -t 5 -T 3")
        assert "inet 10.0.2.15/24" in g.run("ip -4 addr show dev eth0")
        g.run("echo pyvirt-mmio-hvc > /dev/hvc0")
        assert_random(guest_random(g), guest_random(g))
        g.poweroff()
    assert_image(path, expected)
    assert "pyvirt-mmio-hvc" in console.read_text()
