"""Two virtio-net devices, each driven by a fake driver in its own fake guest RAM, linked
by real stream backends over a unix socket: what one transmits the other receives, and a
receiver without buffers holds the sender back instead of losing frames."""

from __future__ import annotations

from pathlib import Path

from pyvirt.hw.virtio.net import RX, TX
from pyvirt.net.stream import StreamBackend
from pyvirt.vmm.netdev_options import StreamNetdev
from tests.unit.test_virtio_net import Driver

from .conftest import Loop


def frame(i: int) -> bytes:
    return bytes([0x52, 0x54, 0, 0, 0, 2]) + bytes([0x52, 0x54, 0, 0, 0, 1]) + b"\x08\x00" + (
        bytes([i & 0xFF]) * (46 + i % 1400))  # fmt: skip


def test_frames_cross_the_link_in_order(tmp_path: Path, loop: Loop) -> None:
    path = str(tmp_path / "link.sock")
    a = Driver(backend=StreamBackend(StreamNetdev("a", server=True, path=path)))
    b = Driver(backend=StreamBackend(StreamNetdev("b", server=False, path=path)))
    for d in (a, b):
        d.backend.start(loop.loop)
        loop.backends.append(d.backend)
    loop.run_until(lambda: a.backend.conn is not None)  # type: ignore[attr-defined]
    sent = [frame(i) for i in range(40)]
    rx_addrs = b.add_rx(*[800] * 8)  # fewer buffers than frames, mergeable
    received: list[bytes] = []
    used: list[tuple[int, int]] = []

    pending = list(sent)
    tx_done = [0]

    def collect() -> bool:
        tx_done[0] += len(a.used(TX))
        if pending and tx_done[0] == len(sent) - len(pending):  # the last batch went out
            for f in pending[:8]:
                a.add_tx(f)
            del pending[:8]
            a.dev.kick(TX)
        used.extend(b.used(RX))
        if len(used) == len(rx_addrs):  # the guest takes its frames, gives new buffers
            rx_addrs.extend(b.add_rx(*[800] * 8))
            b.dev.kick(RX)
        return b.dev.stats.rx_packets == len(sent)

    loop.run_until(collect)
    used.extend(b.used(RX))
    # reassemble frames from the used buffers: a header's num_buffers says how many follow
    i = 0
    while i < len(used):
        count = int.from_bytes(b.mem.read(rx_addrs[i] + 10, 2), "little")
        data = b"".join(b.mem.read(rx_addrs[i + k], used[i + k][1]) for k in range(count))
        received.append(data[12:])
        i += count
    assert received == sent
    assert b.backend.stats.rx_drop == 0 and a.dev.stats.tx_packets == len(sent)
