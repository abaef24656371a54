"""The guest's serial line on every chardev backend, under pyvirt and QEMU alike.

The `interrupts` tiny guest prints "ready" (every half second until input arrives),
echoes what arrives on COM1 from its interrupt handler until a newline, prints
"got: <line>" and exits with status 33.
"""

from __future__ import annotations

import os
import re
import select
import socket
import subprocess
import termios
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import vmm_argv

pytestmark = pytest.mark.kvm

EXIT_PASS = 33
DEBUG_EXIT = ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]
TIMEOUT = 30.0

Reader = Callable[[], bytes | None]  # returns None when nothing came in a short while


def guest(tiny: Mapping[str, Path], name: str, *append: str) -> list[str]:
    args = ["-m", "64M", *DEBUG_EXIT, "-no-reboot", "-kernel", str(tiny[name])]
    return [*args, "-append", " ".join(append)] if append else args


def read_until(read: Reader, marker: bytes, timeout: float = TIMEOUT) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while marker not in data:
        assert time.monotonic() < deadline, f"{marker!r} not seen in {data!r}"
        chunk = read()
        if chunk is None:
            continue
        assert chunk, f"EOF before {marker!r}: {data!r}"
        data += chunk
    return data


def sock_reader(sock: socket.socket) -> Reader:
    def read() -> bytes | None:
        ready, _, _ = select.select([sock], [], [], 0.2)
        return sock.recv(4096) if ready else None

    return read


def fd_reader(fd: int) -> Reader:
    def read() -> bytes | None:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            return None
        try:
            return os.read(fd, 4096)
        except OSError:
            return b""

    return read


def connect_unix(path: Path, timeout: float = TIMEOUT) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            assert time.monotonic() < deadline, f"nobody listens on {path}"
            time.sleep(0.05)


def finish(proc: subprocess.Popen[bytes]) -> int:
    try:
        return proc.wait(TIMEOUT)
    finally:
        proc.kill()


def test_serial_file(vmm: list[str], tiny_guests: Mapping[str, Path], tmp_path: Path) -> None:
    log = tmp_path / "com1.log"
    result = subprocess.run(
        [*vmm, "-serial", f"file:{log}", *guest(tiny_guests, "multiboot32")],
        timeout=TIMEOUT,
        capture_output=True,
    )
    assert result.returncode == EXIT_PASS, result.stderr
    assert "multiboot32: magic 0x2badb002 ok" in log.read_text()


@pytest.mark.parametrize(
    "serial",
    [
        "unix:{path},server,nowait",
        "unix:{path},server=on,wait=off",
        "chardev:c0",
    ],
)
def test_unix_socket_server_nowait(
    vmm: list[str], tiny_guests: Mapping[str, Path], tmp_path: Path, serial: str
) -> None:
    path = tmp_path / "com1.sock"
    chardev = ["-chardev", f"socket,id=c0,path={path},server=on,wait=off"]
    argv = [
        *vmm,
        *(chardev if serial.startswith("chardev") else []),
        "-serial",
        serial.format(path=path),
        *guest(tiny_guests, "interrupts"),
    ]
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE)
    with connect_unix(path) as sock:
        read_until(sock_reader(sock), b"ready")
        sock.sendall(b"ping\n")
        read_until(sock_reader(sock), b"got: ping")
    assert finish(proc) == EXIT_PASS


def test_unix_socket_server_waits_for_a_client(
    vmm: list[str], tiny_guests: Mapping[str, Path], tmp_path: Path
) -> None:
    path = tmp_path / "com1.sock"
    proc = subprocess.Popen(
        [*vmm, "-serial", f"unix:{path},server", *guest(tiny_guests, "interrupts")],
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    assert proc.poll() is None
    with connect_unix(path) as sock:
        read_until(sock_reader(sock), b"ready")  # nothing was lost: the guest waited for us
        sock.sendall(b"ping\n")
        read_until(sock_reader(sock), b"got: ping")
    assert finish(proc) == EXIT_PASS


def test_tcp_server(vmm: list[str], tiny_guests: Mapping[str, Path]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [*vmm, "-serial", f"tcp:127.0.0.1:{port},server,nowait", *guest(tiny_guests, "interrupts")],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port))
            break
        except ConnectionRefusedError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with sock:
        read_until(sock_reader(sock), b"ready")
        sock.sendall(b"ping\n")
        read_until(sock_reader(sock), b"got: ping")
    assert finish(proc) == EXIT_PASS


def test_pty(vmm: list[str], tiny_guests: Mapping[str, Path]) -> None:
    proc = subprocess.Popen(
        [*vmm, "-serial", "pty", *guest(tiny_guests, "interrupts")], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    match = re.search(r"char device redirected to (/dev/pts/\d+) \(label serial0\)", line)
    assert match, line
    fd = os.open(match.group(1), os.O_RDWR | os.O_NOCTTY)
    try:
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        read_until(fd_reader(fd), b"ready")
        os.write(fd, b"ping\n")
        read_until(fd_reader(fd), b"got: ping")
    finally:
        os.close(fd)
    assert finish(proc) == EXIT_PASS


@pytest.fixture(params=["pyvirt", "qemu"])
def nographic_vmm(request: pytest.FixtureRequest) -> list[str]:
    """A VMM with -nographic (QEMU refuses it together with -display none)."""
    no_nic = ["-net", "none"] if request.param == "qemu" else []  # QEMU's default NIC
    return vmm_argv(request.param, "-nographic", *no_nic)


@pytest.fixture
def terminal() -> Iterator[tuple[int, int]]:
    """A pseudo-terminal (master, slave) in its default cooked mode."""
    master, slave = os.openpty()
    yield master, slave
    os.close(master)
    os.close(slave)


def spawn_on(terminal: tuple[int, int], argv: list[str]) -> subprocess.Popen[bytes]:
    _, slave = terminal
    return subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave)


def test_nographic_console(
    nographic_vmm: list[str], tiny_guests: Mapping[str, Path], terminal: tuple[int, int]
) -> None:
    master, _ = terminal
    proc = spawn_on(terminal, [*nographic_vmm, *guest(tiny_guests, "interrupts")])
    read_until(fd_reader(master), b"ready")
    os.write(master, b"ping\n")  # raw mode: the newline reaches the guest as typed
    read_until(fd_reader(master), b"got: ping")
    assert finish(proc) == EXIT_PASS


def test_nographic_ctrl_a_x_quits_and_restores_the_terminal(
    nographic_vmm: list[str], tiny_guests: Mapping[str, Path], terminal: tuple[int, int]
) -> None:
    master, slave = terminal
    before = termios.tcgetattr(slave)
    proc = spawn_on(terminal, [*nographic_vmm, *guest(tiny_guests, "bench", "idle=1")])
    read_until(fd_reader(master), b"bench: idle")
    assert termios.tcgetattr(slave)[3] & termios.ICANON == 0, "raw mode while running"
    os.write(master, b"\x01h")
    read_until(fd_reader(master), b"C-a x")
    os.write(master, b"\x01x")
    assert finish(proc) == 0
    assert termios.tcgetattr(slave) == before
