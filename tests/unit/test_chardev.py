"""Character device backends on a real asyncio event loop: files, unix sockets (server
and client), pseudo-terminals, stdio with QEMU's Ctrl-a escapes."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from pyvirt.vmm import chardev
from pyvirt.vmm.chardev import EscapeHandler, FileChardev, PtyChardev, SocketChardev
from pyvirt.vmm.errors import VmmError
from pyvirt.vmm.options import ChardevSpec

TIMEOUT = 5.0


def run(coro: Coroutine[Any, Any, None]) -> None:
    asyncio.run(asyncio.wait_for(coro, TIMEOUT))


async def until(condition: Callable[[], bool]) -> None:
    while not condition():
        await asyncio.sleep(0.002)


class Received:
    def __init__(self) -> None:
        self.data = bytearray()

    def __call__(self, data: bytes) -> None:
        self.data += data


# --- file and null ---------------------------------------------------------------------------


def test_file_chardev_writes_and_truncates(tmp_path: Path) -> None:
    path = tmp_path / "com1.log"
    path.write_bytes(b"old contents")
    dev = chardev.create(ChardevSpec("f", "file", path=str(path)))
    assert isinstance(dev, FileChardev)
    dev.write(b"hello ")
    dev.write(b"world\n")
    dev.close()
    assert path.read_bytes() == b"hello world\n"
    assert dev.filename == "file"


def test_file_chardev_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "out"
    dev = FileChardev(ChardevSpec("f", "file", path=str(path)))
    threads = [threading.Thread(target=lambda c=c: [dev.write(bytes([c]) * 10) for _ in
                                                    range(100)]) for c in b"abcd"]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dev.close()
    data = path.read_bytes()
    assert len(data) == 4000
    assert all(data[i : i + 10] == bytes([data[i]]) * 10 for i in range(0, 4000, 10))


def test_file_chardev_bad_path(tmp_path: Path) -> None:
    with pytest.raises(VmmError) as info:
        FileChardev(ChardevSpec("serial0", "file", path=str(tmp_path / "no" / "such")))
    assert str(info.value) == (
        f"chardev 'serial0': could not open '{tmp_path}/no/such': No such file or directory"
    )


def test_null_chardev() -> None:
    dev = chardev.create(ChardevSpec("n", "null"))
    dev.write(b"into the void")
    assert dev.filename == "null"


# --- unix sockets ------------------------------------------------------------------------------


def server_spec(path: Path, *, wait: bool = False) -> ChardevSpec:
    return ChardevSpec("serial0", "socket", path=str(path), server=True, wait=wait)


def test_socket_server_session(tmp_path: Path) -> None:
    path = tmp_path / "console.sock"

    async def scenario() -> None:
        dev = chardev.create(server_spec(path))
        assert isinstance(dev, SocketChardev)
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        assert dev.filename == f"disconnected:unix:{path},server=on"
        dev.write(b"before anyone listens ")  # nobody connected: dropped

        reader, writer = await asyncio.open_unix_connection(str(path))
        await until(lambda: dev.conn is not None)
        assert dev.filename == f"unix:{path},server=on"
        dev.write(b"guest says hi\r\n")
        assert await reader.readexactly(15) == b"guest says hi\r\n"
        writer.write(b"ls\r")
        await writer.drain()
        await until(lambda: got.data == b"ls\r")

        # output from a vCPU thread
        t = threading.Thread(target=dev.write, args=(b"from a thread",))
        t.start()
        t.join()
        assert await reader.readexactly(13) == b"from a thread"

        writer.close()
        await writer.wait_closed()
        await until(lambda: dev.conn is None)
        dev.write(b"while disconnected ")  # dropped

        reader2, writer2 = await asyncio.open_unix_connection(str(path))
        await until(lambda: dev.conn is not None)
        dev.write(b"welcome back")
        assert await reader2.readexactly(12) == b"welcome back"
        writer2.write(b"x")
        await writer2.drain()
        await until(lambda: got.data == b"ls\rx")
        writer2.close()
        await writer2.wait_closed()
        dev.close()
        assert not path.exists()

    run(scenario())


def test_socket_output_queues_while_the_client_is_slow(tmp_path: Path) -> None:
    path = tmp_path / "s"
    blob = bytes(range(256)) * 2048  # 512 KiB: more than the socket buffers hold

    async def scenario() -> None:
        dev = SocketChardev(server_spec(path))
        dev.start(asyncio.get_running_loop())
        reader, writer = await asyncio.open_unix_connection(str(path))
        await until(lambda: dev.conn is not None)
        for i in range(0, len(blob), 4096):
            dev.write(blob[i : i + 4096])  # never blocks
        assert await reader.readexactly(len(blob)) == blob
        assert dev.writer.dropped == 0
        writer.close()
        await writer.wait_closed()
        dev.close()

    run(scenario())


def test_second_client_waits_for_the_first(tmp_path: Path) -> None:
    path = tmp_path / "s"

    async def scenario() -> None:
        dev = SocketChardev(server_spec(path))
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        _, w1 = await asyncio.open_unix_connection(str(path))
        await until(lambda: dev.conn is not None)
        r2, w2 = await asyncio.open_unix_connection(str(path))  # queued in the backlog
        w2.write(b"second")
        await w2.drain()
        w1.write(b"first")
        await w1.drain()
        await until(lambda: got.data == b"first")
        await asyncio.sleep(0.05)
        assert got.data == b"first"  # the second peer is not served yet
        w1.close()
        await w1.wait_closed()
        await until(lambda: got.data == b"firstsecond")
        dev.write(b"to second")
        assert await r2.readexactly(9) == b"to second"
        w2.close()
        await w2.wait_closed()
        dev.close()

    run(scenario())


def test_server_wait_blocks_until_the_first_client(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "s"

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        dev = SocketChardev(server_spec(path, wait=True))
        waiting = loop.run_in_executor(None, dev.wait_for_client)
        await asyncio.sleep(0.02)
        assert not waiting.done()
        reader, writer = await asyncio.open_unix_connection(str(path))
        await waiting
        dev.start(loop)
        dev.write(b"ready")
        assert await reader.readexactly(5) == b"ready"
        writer.close()
        await writer.wait_closed()
        dev.close()

    run(scenario())
    assert (
        f"waiting for connection on: disconnected:unix:{path},server=on" in capsys.readouterr().err
    )


def test_socket_client(tmp_path: Path) -> None:
    path = tmp_path / "peer.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)

    async def scenario() -> None:
        dev = SocketChardev(ChardevSpec("c", "socket", path=str(path)))
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        peer, _ = listener.accept()
        dev.write(b"out")
        assert peer.recv(3) == b"out"
        peer.sendall(b"in")
        await until(lambda: got.data == b"in")
        peer.close()
        await until(lambda: dev.conn is None)
        dev.write(b"gone")  # the peer left: dropped, no error
        dev.close()
        assert path.exists()  # a client does not remove the server's socket

    try:
        run(scenario())
    finally:
        listener.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_socket_client_cannot_connect(tmp_path: Path) -> None:
    before = open_fds()
    with pytest.raises(VmmError) as info:
        SocketChardev(ChardevSpec("serial0", "socket", path=str(tmp_path / "nobody")))
    assert str(info.value) == (
        f"chardev 'serial0': unix:{tmp_path}/nobody: No such file or directory"
    )
    assert open_fds() == before  # the socket is closed, not left to the garbage collector


def test_socket_server_cannot_listen(tmp_path: Path) -> None:
    before = open_fds()
    with pytest.raises(VmmError) as info:
        SocketChardev(server_spec(tmp_path / "no" / "dir" / "s"))
    assert "No such file or directory" in str(info.value)
    assert open_fds() == before


def test_socket_server_replaces_a_stale_socket_file(tmp_path: Path) -> None:
    path = tmp_path / "s"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    dev = SocketChardev(server_spec(path))
    dev.close()


def test_tcp_server_on_an_ephemeral_port() -> None:
    async def scenario() -> None:
        dev = SocketChardev(ChardevSpec("t", "socket", host="127.0.0.1", port=0, server=True,
                                        wait=False))  # fmt: skip
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        assert dev.listener is not None
        port = dev.listener.getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await until(lambda: dev.conn is not None)
        dev.write(b"tcp")
        assert await reader.readexactly(3) == b"tcp"
        writer.write(b"k")
        await writer.drain()
        await until(lambda: got.data == b"k")
        writer.close()
        await writer.wait_closed()
        dev.close()

    run(scenario())


# --- pseudo-terminals ---------------------------------------------------------------------------


def test_pty(capsys: pytest.CaptureFixture[str]) -> None:
    async def scenario() -> None:
        dev = chardev.create(ChardevSpec("serial0", "pty"))
        assert isinstance(dev, PtyChardev)
        dev.POLL_INTERVAL = 0.01
        match = re.fullmatch(r"char device redirected to (/dev/pts/\d+) \(label serial0\)\n",
                             capsys.readouterr().out)  # fmt: skip
        assert match is not None
        path = match.group(1)
        assert dev.filename == f"pty:{path}"
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        dev.write(b"nobody reads this")  # no one has the slave open: dropped

        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            await until(lambda: dev.connected)
            dev.write(b"login: ")
            assert await asyncio.to_thread(os.read, fd, 100) == b"login: "
            os.write(fd, b"root\n")  # raw mode: no echo, no line discipline
            await until(lambda: got.data == b"root\n")
        finally:
            os.close(fd)
        await until(lambda: not dev.connected)
        dev.write(b"lost")

        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)  # someone else attaches later
        try:
            await until(lambda: dev.connected)
            dev.write(b"again")
            assert await asyncio.to_thread(os.read, fd, 100) == b"again"
        finally:
            os.close(fd)
        dev.close()

    run(scenario())


# --- escapes ------------------------------------------------------------------------------


class Escapes:
    def __init__(self) -> None:
        self.quits = 0
        self.breaks = 0
        self.echoed = bytearray()
        self.handler = EscapeHandler(self._quit, self._break, self.echoed.extend)

    def _quit(self) -> None:
        self.quits += 1

    def _break(self) -> None:
        self.breaks += 1


def test_plain_bytes_pass_through() -> None:
    e = Escapes()
    data = bytes(b for b in range(256) if b != 0x01)
    assert e.handler.filter(data) == data
    assert (e.quits, e.breaks, e.echoed) == (0, 0, b"")


def test_ctrl_a_x_quits() -> None:
    e = Escapes()
    assert e.handler.filter(b"ab\x01x") == b"ab"
    assert e.quits == 1
    assert b"terminated" in e.echoed


def test_ctrl_a_ctrl_a_sends_ctrl_a() -> None:
    e = Escapes()
    assert e.handler.filter(b"\x01\x01") == b"\x01"
    assert e.handler.filter(b"\x01\x01\x01\x01z") == b"\x01\x01z"
    assert e.quits == 0


@pytest.mark.parametrize("key", [b"h", b"?"])
def test_ctrl_a_h_prints_help(key: bytes) -> None:
    e = Escapes()
    assert e.handler.filter(b"\x01" + key + b"q") == b"q"
    help_text = bytes(e.echoed)
    assert b"C-a x" in help_text and b"C-a h" in help_text and b"C-a C-a" in help_text
    assert help_text.endswith(b"\r\n")  # raw terminal: explicit carriage returns


def test_ctrl_a_b_sends_break() -> None:
    e = Escapes()
    assert e.handler.filter(b"\x01b") == b""
    assert e.breaks == 1


def test_unknown_escapes_are_swallowed() -> None:
    e = Escapes()
    assert e.handler.filter(b"1\x01c2\x01t3") == b"123"
    assert (e.quits, e.breaks, e.echoed) == (0, 0, b"")


def test_escape_split_across_reads() -> None:
    e = Escapes()
    assert e.handler.filter(b"abc\x01") == b"abc"
    assert e.handler.filter(b"\x01def") == b"\x01def"
    assert e.handler.filter(b"\x01") == b""
    assert e.handler.filter(b"x") == b""
    assert e.quits == 1


def test_muxed_stdio_filters_input_through_the_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    in_read, in_write = os.pipe()
    out_read, out_write = os.pipe()
    stdin = os.fdopen(in_read, "rb", buffering=0)
    stdout = os.fdopen(out_write, "wb", buffering=0)
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    e = Escapes()

    async def scenario() -> None:
        dev = chardev.create(ChardevSpec("serial0", "stdio", signal=False, mux=True), e.handler)
        got = Received()
        dev.set_receiver(got)
        dev.start(asyncio.get_running_loop())
        os.write(in_write, b"echo \x01\x01ok\n\x01x")
        await until(lambda: e.quits == 1)
        assert got.data == b"echo \x01ok\n"
        dev.write(b"guest output")
        assert os.read(out_read, 100) == b"guest output"
        os.close(in_write)  # EOF on stdin: stop reading, keep going
        await until(lambda: not dev.reading)
        dev.close()

    try:
        run(scenario())
    finally:
        monkeypatch.undo()
        for f in (stdin, stdout):
            f.close()
        os.close(out_read)


def test_plain_stdio_has_no_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    with os.fdopen(r, "rb", buffering=0) as stdin:
        monkeypatch.setattr(sys, "stdin", stdin)
        dev = chardev.create(ChardevSpec("serial0", "stdio"), Escapes().handler)
        assert dev.escape is None
        monkeypatch.undo()
    os.close(w)
